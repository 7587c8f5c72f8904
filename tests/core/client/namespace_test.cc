#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <gtest/gtest.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/client/topic_rings.h"
#include "core/client/object_names.h"
#include "core/client/registry_format.h"
#include "core/log/partition_ring.h"
#include "ipc/faults.h"
#include "ipc/shm_region.h"
#include "rill/rill.h"
#include "support/child_process.h"
#include "support/shm_guard.h"

namespace rill {
namespace {

using testing::ShmGuard;

// Small partitions: tests create many of them.
constexpr TopicConfig kSmall{.partitions = 1, .segment_bytes = 16384, .segment_count = 4, .index_interval = 256};

TopicConfig small(std::int32_t partitions) {
  TopicConfig c = kSmall;
  c.partitions = partitions;
  return c;
}

std::vector<std::string> produce_and_read_values(const std::shared_ptr<Topic>& topic) {
  Consumer consumer(topic, {.start_at_earliest = true});
  EXPECT_TRUE(consumer.assign_all().is_ok());
  std::vector<std::string> values;
  for (;;) {
    PollResult r = consumer.poll(std::chrono::nanoseconds(0));
    EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
    if (r.records.empty()) return values;
    for (const RecordView& v : r.records) values.emplace_back(v.value());
  }
}

// ---------------------------------------------------------------- names

TEST(NamespaceNames, TopicNamesFollowKafkaRules) {
  for (std::string ok : {std::string("a"), std::string("orders"), std::string("A-Z_a-z.0-9"), std::string("..."),
                         std::string(".hidden"), std::string("a..b"), std::string(249, 'x')}) {
    EXPECT_TRUE(Namespace::validate_topic_name(ok).is_ok()) << ok;
  }
  for (std::string bad :
       {std::string(""), std::string("."), std::string(".."), std::string(250, 'x'), std::string("a b"),
        std::string("a/b"), std::string("a:b"), std::string("a*"), std::string("caf\xC3\xA9"), std::string("a\0b", 3),
        std::string("tab\t"), std::string("a~b")}) {
    Status s = Namespace::validate_topic_name(bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_FALSE(s.message().empty());
  }
  EXPECT_NE(Namespace::validate_topic_name("..").message().find("'.'"), std::string::npos);
  EXPECT_NE(Namespace::validate_topic_name(std::string(250, 'x')).message().find("249"), std::string::npos);
}

TEST(NamespaceNames, NamespaceNamesAreShorterAndHaveNoDots) {
  for (std::string ok : {std::string("a"), std::string("default"), std::string("test-1_X"), std::string(64, 'n')})
    EXPECT_TRUE(Namespace::validate_namespace_name(ok).is_ok()) << ok;
  for (std::string bad : {std::string(""), std::string(65, 'n'), std::string("a.b"), std::string("."),
                          std::string("a/b"), std::string("a b"), std::string("../x")}) {
    EXPECT_EQ(Namespace::validate_namespace_name(bad).code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(Namespace::open_shared(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(NamespaceNames, DefaultNameComesFromRillNs) {
  const char* saved = std::getenv("RILL_NS");
  std::string saved_value = saved ? saved : "";
  ::unsetenv("RILL_NS");
  EXPECT_EQ(Namespace::default_name(), "default");
  ::setenv("RILL_NS", "", 1);
  EXPECT_EQ(Namespace::default_name(), "default");
  ::setenv("RILL_NS", "market-data", 1);
  EXPECT_EQ(Namespace::default_name(), "market-data");
  if (saved)
    ::setenv("RILL_NS", saved_value.c_str(), 1);
  else
    ::unsetenv("RILL_NS");
}

TEST(NamespaceNames, TopicConfigValidation) {
  EXPECT_TRUE(TopicConfig{}.validate().is_ok());
  EXPECT_EQ(small(0).validate().code(), Code::kInvalidArgument);
  EXPECT_EQ(small(4097).validate().code(), Code::kInvalidArgument);
  EXPECT_TRUE(small(4096).validate().is_ok());
  TopicConfig c = kSmall;
  c.segment_count = 3;
  EXPECT_EQ(c.validate().code(), Code::kInvalidArgument);
  c = kSmall;
  c.segment_bytes = 10000;
  EXPECT_EQ(c.validate().code(), Code::kInvalidArgument);
  c = kSmall;
  c.index_interval = 1000;
  EXPECT_EQ(c.validate().code(), Code::kInvalidArgument);
  // A 4 KiB header page, 64 KiB of claim slots and 16 KiB of reader slots, then the segments.
  EXPECT_EQ(kSmall.partition_bytes(), 4096u + 65536u + 16384u + 4u * 16384u);
}

// ---------------------------------------------------------------- both kinds of namespace

class EveryNamespace : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto ns = GetParam() ? Namespace::open_shared(guard_.ns()) : Namespace::in_process();
    ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
    ns_ = *ns;
  }
  ShmGuard guard_;
  std::shared_ptr<Namespace> ns_;
};

INSTANTIATE_TEST_SUITE_P(Kinds, EveryNamespace, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Shared" : "InProcess"; });

TEST_P(EveryNamespace, CreateListDescribeDelete) {
  EXPECT_EQ(ns_->shared(), GetParam());
  auto empty = ns_->list_topics();
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->empty());

  ASSERT_TRUE(ns_->create_topic("orders", small(3)).is_ok());
  ASSERT_TRUE(ns_->create_topic("audit.log", small(1)).is_ok());
  ASSERT_TRUE(ns_->create_topic("Zeta_9", small(2)).is_ok());
  auto list = ns_->list_topics();
  ASSERT_TRUE(list.is_ok());
  EXPECT_EQ(*list, (std::vector<std::string>{"Zeta_9", "audit.log", "orders"}));

  Status dup = ns_->create_topic("orders", small(1));
  EXPECT_EQ(dup.code(), Code::kAlreadyExists);
  EXPECT_NE(dup.message().find("orders"), std::string::npos);
  EXPECT_EQ(ns_->create_topic("bad name", small(1)).code(), Code::kInvalidArgument);
  EXPECT_EQ(ns_->create_topic("zero", small(0)).code(), Code::kInvalidArgument);
  EXPECT_EQ(ns_->list_topics()->size(), 3u) << "failed creates leave nothing behind";

  auto topic = ns_->open_topic("orders");
  ASSERT_TRUE(topic.is_ok());
  EXPECT_EQ((*topic)->name(), "orders");
  EXPECT_EQ((*topic)->partition_count(), 3);
  Producer producer(*topic);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(producer.send(std::nullopt, "v", {.partition = 1}).is_ok());
  ASSERT_TRUE(producer.send(std::nullopt, "v", {.partition = 2}).is_ok());

  auto info = ns_->describe_topic("orders");
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->name, "orders");
  EXPECT_EQ(info->config.partitions, 3);
  EXPECT_EQ(info->config.segment_bytes, kSmall.segment_bytes);
  EXPECT_EQ(info->config.segment_count, kSmall.segment_count);
  EXPECT_EQ(info->config.index_interval, kSmall.index_interval);
  EXPECT_EQ(info->max_record_bytes, client::ring_of(*(*topic), 0).max_frame_bytes());
  EXPECT_GT(info->max_record_bytes, 14000u);  // 16 KiB segments less their header and index
  ASSERT_EQ(info->partitions.size(), 3u);
  const std::int64_t latest[3] = {0, 7, 1};
  for (std::int32_t p = 0; p < 3; ++p) {
    EXPECT_EQ(info->partitions[p].partition, p);
    EXPECT_EQ(info->partitions[p].earliest_offset, 0);
    EXPECT_EQ(info->partitions[p].latest_offset, latest[p]);
  }

  EXPECT_EQ(ns_->open_topic("missing").status().code(), Code::kNotFound);
  EXPECT_EQ(ns_->describe_topic("missing").status().code(), Code::kNotFound);
  EXPECT_EQ(ns_->delete_topic("missing").code(), Code::kNotFound);

  ASSERT_TRUE(ns_->delete_topic("audit.log").is_ok());
  EXPECT_EQ(ns_->list_topics().value(), (std::vector<std::string>{"Zeta_9", "orders"}));
  EXPECT_EQ(ns_->open_topic("audit.log").status().code(), Code::kNotFound);
  EXPECT_EQ(ns_->delete_topic("audit.log").code(), Code::kNotFound);
}

TEST_P(EveryNamespace, DeleteThenRecreateStartsAfresh) {
  ASSERT_TRUE(ns_->create_topic("t", small(2)).is_ok());
  auto old_topic = ns_->open_topic("t");
  ASSERT_TRUE(old_topic.is_ok());
  Producer old_producer(*old_topic);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(old_producer.send(std::nullopt, "old").is_ok());

  ASSERT_TRUE(ns_->delete_topic("t").is_ok());
  ASSERT_TRUE(ns_->create_topic("t", small(3)).is_ok());
  auto fresh = ns_->open_topic("t");
  ASSERT_TRUE(fresh.is_ok());
  EXPECT_NE(fresh->get(), old_topic->get());
  EXPECT_EQ((*fresh)->partition_count(), 3);
  auto info = ns_->describe_topic("t");
  ASSERT_TRUE(info.is_ok());
  for (const PartitionInfo& p : info->partitions) EXPECT_EQ(p.latest_offset, 0);
  EXPECT_TRUE(produce_and_read_values(*fresh).empty());

  // The old handle keeps its mapping: it still works but is detached.
  auto sent = old_producer.send(std::nullopt, "late", {.partition = 0});
  ASSERT_TRUE(sent.is_ok());
  std::vector<std::string> old_values = produce_and_read_values(*old_topic);
  EXPECT_EQ(old_values.size(), 6u);
  EXPECT_TRUE(produce_and_read_values(*fresh).empty());
  Producer producer(*fresh);
  ASSERT_TRUE(producer.send(std::nullopt, "new", {.partition = 0}).is_ok());
  EXPECT_EQ(produce_and_read_values(*fresh), std::vector<std::string>{"new"});
}

TEST_P(EveryNamespace, OpenTopicTwiceSharesThePartitions) {
  ASSERT_TRUE(ns_->create_topic("t", small(1)).is_ok());
  auto a = ns_->open_topic("t");
  auto b = ns_->open_topic("t");
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  Producer producer(*a);
  ASSERT_TRUE(producer.send("k", "through a").is_ok());
  EXPECT_EQ(produce_and_read_values(*b), std::vector<std::string>{"through a"});
}

TEST_P(EveryNamespace, RegistryHoldsAtMost1024Topics) {
  constexpr TopicConfig kTiny{.partitions = 1, .segment_bytes = 4096, .segment_count = 4, .index_interval = 64};
  for (int i = 0; i < 1024; ++i) ASSERT_TRUE(ns_->create_topic("t" + std::to_string(i), kTiny).is_ok()) << i;
  Status full = ns_->create_topic("one-too-many", kTiny);
  EXPECT_EQ(full.code(), Code::kResourceExhausted);
  EXPECT_NE(full.message().find("1024"), std::string::npos) << full.message();
  ASSERT_TRUE(ns_->delete_topic("t17").is_ok());
  EXPECT_TRUE(ns_->create_topic("one-too-many", kTiny).is_ok()) << "a deleted topic's entry is reused";
  EXPECT_EQ(ns_->list_topics()->size(), 1024u);
}

TEST_P(EveryNamespace, TopicNamesWithDotsNeverCollideWithPartitionNumbers) {
  // "t" partition 1 and "t.1" partition 0 are objects rill.<ns>.t.1 and rill.<ns>.t.1.0.
  ASSERT_TRUE(ns_->create_topic("t", small(12)).is_ok());
  ASSERT_TRUE(ns_->create_topic("t.1", small(1)).is_ok());
  ASSERT_TRUE(ns_->create_topic("t.1.0", small(1)).is_ok());
  Producer p1(ns_->open_topic("t").value());
  Producer p2(ns_->open_topic("t.1").value());
  Producer p3(ns_->open_topic("t.1.0").value());
  ASSERT_TRUE(p1.send(std::nullopt, "t/1", {.partition = 1}).is_ok());
  ASSERT_TRUE(p1.send(std::nullopt, "t/10", {.partition = 10}).is_ok());
  ASSERT_TRUE(p2.send(std::nullopt, "t.1/0").is_ok());
  ASSERT_TRUE(p3.send(std::nullopt, "t.1.0/0").is_ok());
  EXPECT_EQ(produce_and_read_values(ns_->open_topic("t.1").value()), std::vector<std::string>{"t.1/0"});
  EXPECT_EQ(produce_and_read_values(ns_->open_topic("t.1.0").value()), std::vector<std::string>{"t.1.0/0"});
  auto t = produce_and_read_values(ns_->open_topic("t").value());
  EXPECT_EQ(std::multiset<std::string>(t.begin(), t.end()), (std::multiset<std::string>{"t/1", "t/10"}));
}

// ---------------------------------------------------------------- shared namespaces

TEST(SharedNamespace, ALeftoverRegistryDraftDoesNotStopTheNextCreator) {
  // A creator killed before publishing leaves only its draft: the namespace
  // does not exist, and the next creator makes it. A draft under this
  // process's own pid (left by a dead process that had it) is replaced.
  ShmGuard guard;
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  for (const pid_t pid : {dead, ::getpid()}) {
    const std::string draft = "/" + client::registry_draft_name(guard.ns(), pid, pid);
    const int fd = ::shm_open(draft.c_str(), O_CREAT | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 4096), 0);  // half made: no header
    ::close(fd);
  }
  EXPECT_EQ(Namespace::open_shared(guard.ns(), {.group = {}, .create = false}).status().code(), Code::kNotFound)
      << "a draft is not a namespace";
  auto ns = Namespace::open_shared(guard.ns());
  ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
  ASSERT_TRUE((*ns)->create_topic("t", kSmall).is_ok());
  auto again = Namespace::open_shared(guard.ns(), {.group = {}, .create = false});
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(*(*again)->list_topics(), std::vector<std::string>{"t"});
  auto objects = guard.objects();
  std::sort(objects.begin(), objects.end());
  EXPECT_EQ(objects, (std::vector<std::string>{"rill." + guard.ns() + ".registry",
                                               client::registry_draft_name(guard.ns(), dead, dead),
                                               "rill." + guard.ns() + ".t.0"}))
      << "the dead creator's draft is `rill ns gc`'s to remove; this process's own is gone";
}

TEST(SharedNamespace, OpeningWithoutCreateFindsOnlyAnExistingNamespace) {
  ShmGuard guard;
  auto absent = Namespace::open_shared(guard.ns(), {.group = {}, .create = false});
  EXPECT_EQ(absent.status().code(), Code::kNotFound) << absent.status().to_string();
  EXPECT_TRUE(guard.objects().empty()) << "nothing was created";
}

TEST(SharedNamespace, TwoOpensOfOneNameSeeTheSameTopics) {
  ShmGuard guard;
  auto a = Namespace::open_shared(guard.ns());
  auto b = Namespace::open_shared(guard.ns());
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ((*a)->name(), guard.ns());
  ASSERT_TRUE((*a)->create_topic("shared", small(2)).is_ok());
  EXPECT_EQ((*b)->list_topics().value(), std::vector<std::string>{"shared"});
  EXPECT_EQ((*b)->create_topic("shared", small(2)).code(), Code::kAlreadyExists);
  auto ta = (*a)->open_topic("shared");
  auto tb = (*b)->open_topic("shared");
  ASSERT_TRUE(ta.is_ok() && tb.is_ok());
  Producer producer(*ta);
  ASSERT_TRUE(producer.send(std::nullopt, "from a", {.partition = 1}).is_ok());
  EXPECT_EQ(produce_and_read_values(*tb), std::vector<std::string>{"from a"});
  ASSERT_TRUE((*b)->delete_topic("shared").is_ok());
  EXPECT_EQ((*a)->open_topic("shared").status().code(), Code::kNotFound);
  EXPECT_TRUE((*a)->list_topics()->empty());
}

TEST(SharedNamespace, DifferentNamespacesNeverCollide) {
  ShmGuard g1, g2;
  // One namespace name is a prefix of the other.
  ShmGuard g3(g1.ns() + "-1");
  std::shared_ptr<Namespace> spaces[3] = {Namespace::open_shared(g1.ns()).value(),
                                          Namespace::open_shared(g2.ns()).value(),
                                          Namespace::open_shared(g3.ns()).value()};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(spaces[i]->create_topic("orders", small(1)).is_ok());
    Producer producer(spaces[i]->open_topic("orders").value());
    ASSERT_TRUE(producer.send(std::nullopt, "ns" + std::to_string(i)).is_ok());
  }
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(produce_and_read_values(spaces[i]->open_topic("orders").value()),
              std::vector<std::string>{"ns" + std::to_string(i)});
  ASSERT_TRUE(spaces[0]->delete_topic("orders").is_ok());
  EXPECT_TRUE(spaces[1]->open_topic("orders").is_ok());
  EXPECT_TRUE(spaces[2]->open_topic("orders").is_ok());
}

TEST(SharedNamespace, ObjectsAreNamedAfterTheNamespaceAndOwnerOnly) {
  ShmGuard guard;
  // Whatever the umask, objects are created 0600.
  for (mode_t mask : {mode_t{0}, mode_t{077}, mode_t{022}}) {
    SCOPED_TRACE(mask);
    const mode_t saved = ::umask(mask);
    auto ns = Namespace::open_shared(guard.ns());
    ASSERT_TRUE(ns.is_ok());
    ASSERT_TRUE((*ns)->create_topic("orders", small(3)).is_ok());
    ::umask(saved);
    const std::vector<std::string> expected = {"rill." + guard.ns() + ".orders.0", "rill." + guard.ns() + ".orders.1",
                                               "rill." + guard.ns() + ".orders.2", "rill." + guard.ns() + ".registry"};
    EXPECT_EQ(guard.objects(), expected);
    for (const std::string& name : expected) {
      struct stat st {};
      ASSERT_EQ(::stat(("/dev/shm/" + name).c_str(), &st), 0) << name;
      EXPECT_TRUE(S_ISREG(st.st_mode));
      EXPECT_EQ(st.st_mode & 07777, 0600u) << name;
      EXPECT_EQ(st.st_uid, ::geteuid());
    }
    ASSERT_TRUE((*ns)->delete_topic("orders").is_ok());
    EXPECT_EQ(guard.objects(), std::vector<std::string>{"rill." + guard.ns() + ".registry"});
    ns->reset();
    testing::remove_shm_objects(guard.ns());
  }
}

TEST(SharedNamespace, RegistryWhoseCreatorDiedSaysWhichFileToRemove) {
  // A registry object of the right size with no header: damage (a creator
  // killed half way leaves only its draft, see the test above), or a rill
  // from before drafts whose creator died.
  ShmGuard guard;
  const std::string object = "rill." + guard.ns() + ".registry";
  auto region = ipc::create_shared_region(object, registry::kRegionBytes);
  ASSERT_TRUE(region.is_ok()) << region.status().to_string();
  auto ns = Namespace::open_shared(guard.ns());
  ASSERT_EQ(ns.status().code(), Code::kCorrupt);
  EXPECT_NE(ns.status().message().find("rm /dev/shm/" + object + "`"), std::string::npos) << ns.status().message();
  // Following the advice works.
  ASSERT_TRUE(ipc::remove_shared_region(object).is_ok());
  EXPECT_TRUE(Namespace::open_shared(guard.ns()).is_ok());
}

// ---------------------------------------------------------------- the registry lock

// The registry of namespace `ns`, mapped a second time: the bytes other
// processes share, to damage or to lock from a child.
struct RegistryBytes {
  explicit RegistryBytes(const std::string& ns) {
    auto r = ipc::open_shared_region("rill." + ns + ".registry", {.size = registry::kRegionBytes});
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    if (r) region = std::move(*r);
  }
  registry::Header* header() const { return reinterpret_cast<registry::Header*>(region->bytes().data()); }
  registry::TopicEntry* entry(std::uint32_t i) const {
    return reinterpret_cast<registry::TopicEntry*>(region->bytes().data() + registry::kEntriesOffset) + i;
  }
  std::atomic_ref<int> lock_word() const { return std::atomic_ref<int>(header()->lock.__data.__lock); }
  std::unique_ptr<ipc::Region> region;
};

// A pid (and thread id) that names no process any more: a child's, reaped.
pid_t gone_thread_id() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

// Topic "x" with 100 records whose values are their numbers.
void create_x(Namespace& ns) {
  ASSERT_TRUE(ns.create_topic("x", kSmall).is_ok());
  auto topic = ns.open_topic("x");
  ASSERT_TRUE(topic.is_ok());
  Producer producer(*topic);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(producer.send(std::nullopt, std::to_string(i)).is_ok());
}

void expect_x_intact(Namespace& ns) {
  auto topic = ns.open_topic("x");
  ASSERT_TRUE(topic.is_ok()) << topic.status().to_string();
  std::vector<std::string> expected;
  for (int i = 0; i < 100; ++i) expected.push_back(std::to_string(i));
  EXPECT_EQ(produce_and_read_values(*topic), expected);
}

// A namespace with topic "x" (create_x), and its registry mapped a second time.
class RegistryLock : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Namespace::open_shared(guard_.ns());
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    ns_ = *opened;
    create_x(*ns_);
    reg_.emplace(guard_.ns());
    ASSERT_TRUE(reg_->region);
  }

  ShmGuard guard_;
  std::shared_ptr<Namespace> ns_;
  std::optional<RegistryBytes> reg_;
};

// After a lock was taken over from (or waited out of) `old_holder` (0: none):
// neither this thread nor the old holder holds it. Another test's `rill ns
// list` may hold it by now.
void expect_released(RegistryBytes& reg, pid_t old_holder) {
  const int holder = reg.lock_word().load() & FUTEX_TID_MASK;
  EXPECT_NE(holder, static_cast<int>(::gettid())) << "unlocked";
  if (old_holder != 0) {
    EXPECT_NE(holder, old_holder) << "the old holder's lock was taken over";
  }
}

TEST_F(RegistryLock, AHolderThatNoLongerExistsIsTreatedAsDead) {
  // The lock word names a thread that does not exist, and the kernel never
  // marked the lock owner-dead (damage, or a forged word): lockers waited on
  // the futex forever.
  const pid_t gone = gone_thread_id();
  reg_->lock_word().store(gone | static_cast<int>(FUTEX_WAITERS));
  const auto start = std::chrono::steady_clock::now();
  auto names = ns_->list_topics();
  ASSERT_TRUE(names.is_ok()) << names.status().to_string();
  EXPECT_EQ(*names, std::vector<std::string>{"x"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  // The lock works as before: creation, deletion, and records intact.
  ASSERT_TRUE(ns_->create_topic("y", kSmall).is_ok());
  ASSERT_TRUE(ns_->delete_topic("y").is_ok());
  expect_x_intact(*ns_);
  expect_released(*reg_, gone);
}

TEST_F(RegistryLock, AHolderThatDoesNotMapTheRegistryIsTreatedAsDead) {
  // The lock word names a live thread of a process that has no mapping of
  // the registry, so cannot hold its lock: lockers waited 30 s for it and
  // were told to kill it.
  const pid_t stranger = ::fork();  // exec drops the inherited mapping
  if (stranger == 0) {
    ::execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(stranger, 0);
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reaper{stranger};
  // Until its exec is done it still maps the registry.
  for (int i = 0; i < 500; ++i) {
    std::ifstream exe("/proc/" + std::to_string(stranger) + "/comm");
    std::string comm;
    if (std::getline(exe, comm) && comm == "sleep") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  RegistryBytes reg(guard_.ns());
  ASSERT_TRUE(reg_->region);
  reg_->lock_word().store(stranger);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(ns_->create_topic("y", kSmall).is_ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << "not the 30 s patience";
  EXPECT_EQ(::kill(stranger, 0), 0) << "the stranger is left alone";
  ASSERT_TRUE(ns_->delete_topic("y").is_ok());
  expect_x_intact(*ns_);
  expect_released(*reg_, stranger);
}

// In a child, takes the registry lock `lock_of()` finds (in the child) and
// keeps it 3.5 s - three of a locker's rounds; meanwhile this process creates
// topic "y" in namespace `name`. That creation must wait for the child, not
// take the lock from it: the child's unlock, which reports in its exit
// status, succeeds. `on_locked` runs here once the child holds the lock.
void expect_holder_waited_for(const std::string& name, const std::function<pthread_mutex_t*()>& lock_of,
                              const std::function<void(pid_t holder)>& on_locked = {}) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t holder = ::fork();
  if (holder == 0) {
    pthread_mutex_t* lock = lock_of();
    if (lock == nullptr) ::_exit(4);
    if (pthread_mutex_lock(lock) != 0) ::_exit(5);
    (void)!::write(ready[1], "x", 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));
    ::_exit(pthread_mutex_unlock(lock) == 0 ? 0 : 3);
  }
  ASSERT_GT(holder, 0);
  ::close(ready[1]);
  char c = 0;
  const bool locked = ::read(ready[0], &c, 1) == 1;
  ::close(ready[0]);
  if (locked && on_locked) on_locked(holder);
  Status created = Status(Code::kInternal, "not run");
  auto waited = std::chrono::steady_clock::duration::zero();
  if (locked) {
    auto ns = Namespace::open_shared(name);
    const auto start = std::chrono::steady_clock::now();
    created = ns ? (*ns)->create_topic("y", kSmall) : ns.status();
    waited = std::chrono::steady_clock::now() - start;
  }
  int status = 0;
  ASSERT_EQ(::waitpid(holder, &status, 0), holder);
  ASSERT_TRUE(locked) << "the holder could not take the lock: exit " << WEXITSTATUS(status);
  ASSERT_TRUE(created.is_ok()) << created.to_string();
  EXPECT_GE(waited, std::chrono::seconds(3)) << "it waited for the holder";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the holder still held the lock when it unlocked";
}

TEST_F(RegistryLock, ALiveHolderIsWaitedFor) {
  // The checks above must not take a live holder for a dead one.
  expect_holder_waited_for(guard_.ns(), [&] { return &reg_->header()->lock; });
  expect_x_intact(*ns_);
  expect_released(*reg_, 0);
}

TEST_F(RegistryLock, ALiveHolderWhoseProcIsHiddenIsWaitedFor) {
  // /proc mounted hidepid=: the holder's memory map, its status and
  // /proc/locks cannot be read, so nothing shows whether it maps the
  // registry. A live thread that cannot be judged is waited for.
  struct Disarm {
    ~Disarm() { ipc::clear_faults(); }
  } disarm;
  expect_holder_waited_for(
      guard_.ns(), [&] { return &reg_->header()->lock; },
      [](pid_t holder) {
        ipc::inject_fault(ipc::OsCall::kProcRead, "/proc/" + std::to_string(holder) + "/", EACCES, 1000);
        ipc::inject_fault(ipc::OsCall::kProcRead, "/proc/locks", EACCES, 1000);
      });
  EXPECT_GE(ipc::refusals(ipc::OsCall::kProcRead), 3) << "its maps, its status and /proc/locks were asked for";
  expect_x_intact(*ns_);
  expect_released(*reg_, 0);
}

TEST_F(RegistryLock, TheCreatorOfTheNamespaceHoldingTheLockIsWaitedFor) {
  // The creator maps the registry under its draft's (deleted) name: a holder
  // check by path took it for a stranger to the registry, hence dead, and
  // broke into its critical section.
  ShmGuard guard;
  const std::string name = guard.ns();
  expect_holder_waited_for(name, [&]() -> pthread_mutex_t* {
    auto ns = Namespace::open_shared(name);  // creates it, and keeps it mapped until the child exits
    if (!ns) return nullptr;
    static std::shared_ptr<Namespace> kept = *ns;
    // Its own mapping of the registry, found as the lock check finds it.
    std::ifstream maps("/proc/self/maps");
    std::uintptr_t base = 0;
    for (std::string line; std::getline(maps, line);)
      if (line.find("rill." + name + ".registry.draft-") != std::string::npos) base = std::stoull(line, nullptr, 16);
    return base == 0 ? nullptr : &reinterpret_cast<registry::Header*>(base)->lock;
  });
}

TEST_F(RegistryLock, ADamagedMutexIsCorruptAndChangesNothing) {
  // pthread_mutex_lock's errors were ignored: the operation went on without
  // the lock and then unlocked a lock it did not hold.
  pthread_mutex_t& m = reg_->header()->lock;
  const pthread_mutex_t sound = m;
  // Its type: no longer robust (glibc would follow a plain mutex's protocol,
  // where a dead holder is never noticed), or no type at all (EINVAL).
  for (const int kind : {m.__data.__kind ^ 0x10, 12345}) {
    SCOPED_TRACE(kind);
    m.__data.__kind = kind;
    const auto start = std::chrono::steady_clock::now();
    const Status created = ns_->create_topic("y", kSmall);
    EXPECT_EQ(created.code(), Code::kCorrupt) << created.to_string();
    EXPECT_NE(created.message().find("lock of namespace '" + guard_.ns() + "' is damaged"), std::string::npos)
        << created.message();
    EXPECT_NE(created.message().find("rm /dev/shm/rill." + guard_.ns() + ".*"), std::string::npos) << created.message();
    EXPECT_EQ(ns_->delete_topic("x").code(), Code::kCorrupt);
    EXPECT_EQ(ns_->list_topics().status().code(), Code::kCorrupt);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    // Mended: nothing was created or deleted meanwhile.
    std::memcpy(static_cast<void*>(&m), &sound, sizeof m);
    auto names = ns_->list_topics();
    ASSERT_TRUE(names.is_ok()) << names.status().to_string();
    EXPECT_EQ(*names, std::vector<std::string>{"x"});
    expect_x_intact(*ns_);
  }
}

TEST_F(RegistryLock, RepairLeavesTheObjectsOfAReadyTopicOfTheSameName) {
  // The holder of the lock died; the next locker repairs half-done entries,
  // removing their partition objects. A damaged entry "being created" under
  // the name of a ready topic had that topic's objects removed.
  std::uint32_t x = registry::kCapacity;
  for (std::uint32_t i = 0; i < registry::kCapacity; ++i)
    if (reg_->entry(i)->state.load() == registry::kReady) x = i;
  ASSERT_LT(x, registry::kCapacity);
  registry::TopicEntry* forged = reg_->entry(registry::kCapacity - 1);
  std::memcpy(static_cast<void*>(forged), reg_->entry(x), sizeof *forged);
  forged->state.store(registry::kCreating);
  // A child takes the lock and dies holding it: the kernel marks it owner-dead.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(pthread_mutex_lock(&reg_->header()->lock) == 0 ? 0 : 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto names = ns_->list_topics();  // gets EOWNERDEAD and repairs
  ASSERT_TRUE(names.is_ok()) << names.status().to_string();
  EXPECT_EQ(*names, std::vector<std::string>{"x"});
  EXPECT_EQ(forged->state.load(), registry::kFree) << "the damaged entry is freed";
  expect_x_intact(*ns_);
  ns_.reset();
  auto fresh = Namespace::open_shared(guard_.ns());  // the objects themselves, not a cached mapping
  ASSERT_TRUE(fresh.is_ok());
  expect_x_intact(**fresh);
}

// ---------------------------------------------------------------- hostile objects

// Plants a sparse object of `size` bytes, as any local user can at a free name.
void plant(const std::string& object, std::uint64_t size) {
  const int fd = ::open(("/dev/shm/" + object).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0) << object;
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  ::close(fd);
}

// Bytes of /dev/shm an object really uses.
std::uint64_t allocated(const std::string& object) {
  struct stat st {};
  return ::lstat(("/dev/shm/" + object).c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_blocks) * 512 : 0;
}

// Runs `body` in a child, killed if it has not returned within `limit`: a
// regression to blocking or long waits fails the test instead of hanging it.
testing::ChildResult within(std::chrono::seconds limit, const std::function<int(std::string&)>& body) {
  testing::Children children;
  const pid_t pid = children.spawn("child", body);
  return children.wait_one(pid, limit);
}

// In a child: drops root to nobody, who can read neither root's memory maps
// nor /proc/1/maps. Any other user stays who it is. False if that failed.
bool become_unprivileged() {
  if (::geteuid() != 0) return true;
  return ::setgroups(0, nullptr) == 0 && ::setgid(65534) == 0 && ::setuid(65534) == 0;
}

TEST(SharedNamespace, ARegistryOfAnotherSizeIsRefusedBeforeItIsMapped) {
  // A sparse 1 TiB registry was mapped whole and pre-faulted: `rill ns list`
  // grew to 20 GB and filled /dev/shm. A 10 MB one was accepted.
  ShmGuard guard;
  const std::string object = "rill." + guard.ns() + ".registry";
  for (const std::uint64_t size : {std::uint64_t{1} << 40, std::uint64_t{10'000'000}}) {
    SCOPED_TRACE(size);
    plant(object, size);
    for (const bool create : {false, true}) {
      auto ns = Namespace::open_shared(guard.ns(), {.group = {}, .create = create});
      ASSERT_FALSE(ns.is_ok());
      EXPECT_EQ(ns.status().code(), Code::kCorrupt);
      EXPECT_EQ(ns.status().message(), "namespace '" + guard.ns() + "': /dev/shm/" + object + " is " +
                                           std::to_string(size) + " bytes, a registry is exactly 397312 bytes; " +
                                           "if no process uses namespace '" + guard.ns() + "', remove it (`rill ns gc " +
                                           guard.ns() + "`, or `rm /dev/shm/" + object + "`)");
    }
    EXPECT_EQ(allocated(object), 0u) << "not a page of it was touched";
    EXPECT_EQ(guard.objects(), std::vector<std::string>{object}) << "nothing else was made";
    ASSERT_TRUE(ipc::remove_shared_region(object).is_ok());
  }
}

TEST(SharedNamespace, AFifoOrALinkAtTheRegistryNameIsRefusedPromptly) {
  // A FIFO at the name made every opener block in open(2) forever, root too.
  ShmGuard guard;
  ShmGuard other;
  const std::string object = "rill." + guard.ns() + ".registry";
  ASSERT_EQ(::mkfifo(("/dev/shm/" + object).c_str(), 0666), 0);
  const auto fifo = within(std::chrono::seconds(20), [&](std::string& report) {
    for (const bool create : {false, true}) {
      auto ns = Namespace::open_shared(guard.ns(), {.group = {}, .create = create});
      report += (ns ? std::string("opened") : ns.status().to_string()) + "\n";
      if (ns || ns.status().code() != Code::kCorrupt ||
          ns.status().message().find("/dev/shm/" + object + " is a FIFO, not a regular file; if no process") ==
              std::string::npos)
        return 1;
    }
    return 0;
  });
  EXPECT_TRUE(fifo.ok()) << fifo.describe();
  ASSERT_TRUE(ipc::remove_shared_region(object).is_ok());

  // A link to a real registry (another namespace's): never followed.
  ASSERT_TRUE(Namespace::open_shared(other.ns()).is_ok());
  ASSERT_EQ(::symlink(("/dev/shm/rill." + other.ns() + ".registry").c_str(), ("/dev/shm/" + object).c_str()), 0);
  auto linked = Namespace::open_shared(guard.ns());
  ASSERT_FALSE(linked.is_ok());
  EXPECT_EQ(linked.status().code(), Code::kCorrupt);
  EXPECT_NE(linked.status().message().find("/dev/shm/" + object + " is a symbolic link, not a regular file"),
            std::string::npos)
      << linked.status().message();
  EXPECT_TRUE((*Namespace::open_shared(other.ns()))->list_topics().value().empty()) << "the target is untouched";
}

TEST(SharedNamespace, APartitionOfAnotherSizeIsRefusedBeforeItIsMapped) {
  // A partition's size comes from its registry entry, not from the object.
  ShmGuard guard;
  auto ns = Namespace::open_shared(guard.ns());
  ASSERT_TRUE(ns.is_ok());
  ASSERT_TRUE((*ns)->create_topic("t", kSmall).is_ok());
  const std::string object = "rill." + guard.ns() + ".t.0";
  const std::uint64_t used = allocated(object);
  const std::uint64_t expected = kSmall.partition_bytes();
  // Grown (sparse) to 1 TiB by someone; opened afresh, not from the cache.
  ASSERT_EQ(::truncate(("/dev/shm/" + object).c_str(), off_t{1} << 40), 0);
  auto fresh = Namespace::open_shared(guard.ns());
  ASSERT_TRUE(fresh.is_ok());
  auto topic = (*fresh)->open_topic("t");
  ASSERT_FALSE(topic.is_ok());
  EXPECT_EQ(topic.status().code(), Code::kCorrupt);
  EXPECT_EQ(topic.status().message(), "opening topic 't': /dev/shm/" + object + " is 1099511627776 bytes, a partition "
                                      "of topic 't' is exactly " + std::to_string(expected) +
                                      " bytes (damaged, or not rill's; delete the topic with `rill --ns " + guard.ns() +
                                      " topic delete t`)");
  EXPECT_EQ(allocated(object), used) << "not a page more was allocated";
  // Following the advice works: the topic and its object go.
  ASSERT_TRUE((*fresh)->delete_topic("t").is_ok());
  EXPECT_EQ(guard.objects(), std::vector<std::string>{"rill." + guard.ns() + ".registry"});
}

TEST(RegistryLockHolder, AForgedHolderThisUserCannotInspectIsNotWaitedFor) {
  // A lock word naming thread 1 (or any process whose memory map this user
  // may not read) stalled every command 30 s, then advised `kill 1`.
  ShmGuard guard;
  const std::string name = guard.ns();
  const auto r = within(std::chrono::seconds(25), [&](std::string& report) {
    if (!become_unprivileged()) {
      report = "cannot drop to nobody";
      return 2;
    }
    auto ns = Namespace::open_shared(name);
    if (!ns || !(*ns)->create_topic("x", kSmall).is_ok()) {
      report = "setup failed";
      return 2;
    }
    RegistryBytes reg(name);
    if (!reg.region) return 2;
    reg.lock_word().store(1 | static_cast<int>(FUTEX_WAITERS));
    auto names = (*ns)->list_topics();
    report = names ? "listed" : names.status().to_string();
    if (!names || *names != std::vector<std::string>{"x"}) return 1;
    // Taken over, and the lock works on.
    if (!(*ns)->create_topic("y", kSmall).is_ok() || !(*ns)->delete_topic("y").is_ok()) return 1;
    return (reg.lock_word().load() & FUTEX_TID_MASK) == 1 ? 1 : 0;
  });
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.report.find("kill 1"), std::string::npos) << r.report;
}

TEST(RegistryLockHolder, ALiveHolderOfAnotherUserIsWaitedFor) {
  // A holder whose memory map the locker may not read is checked in
  // /proc/locks instead: a real one is waited for, never broken into.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: the locker runs as nobody, the holder as root";
  ShmGuard guard;
  auto ns = Namespace::open_shared(guard.ns(), {.group = "65534"});  // nobody's group may share it
  ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
  const std::string name = guard.ns();
  // The holder: a root process of its own that opens the namespace (so
  // announcing its mapping), takes the lock and keeps it 3.5 s. Its unlock
  // succeeds only if nobody broke in meanwhile.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  testing::Children children;
  const pid_t holder = children.spawn("holder", [&](std::string& report) {
    ::close(ready[0]);
    auto mine = Namespace::open_shared(name);
    RegistryBytes reg(name);
    if (!mine || !reg.region || pthread_mutex_lock(&reg.header()->lock) != 0) {
      report = "could not take the lock";
      return 2;
    }
    (void)!::write(ready[1], "x", 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));
    const int rc = pthread_mutex_unlock(&reg.header()->lock);
    report = rc == 0 ? "held it throughout" : "the lock was taken from it";
    return rc == 0 ? 0 : 1;
  });
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1) << "the holder did not take the lock";
  ::close(ready[0]);
  const auto locker = within(std::chrono::seconds(25), [&](std::string& report) {
    if (!become_unprivileged()) return 2;
    auto opened = Namespace::open_shared(name);
    if (!opened) {
      report = opened.status().to_string();
      return 1;
    }
    const Status created = (*opened)->create_topic("y", kSmall);
    report = created.to_string();
    return created.is_ok() ? 0 : 1;
  });
  const auto held = children.wait_one(holder, std::chrono::seconds(25));
  EXPECT_TRUE(locker.ok()) << locker.describe();
  EXPECT_TRUE(held.ok()) << held.describe();
}

TEST(SharedNamespace, LongestNamesFitTheObjectNameLimit) {
  // A 64-character namespace and 249-character topics: object names are
  // shortened with a hash, stay under NAME_MAX and stay distinct.
  std::string name = testing::unique_namespace();
  name.append(64 - name.size(), 'x');
  ShmGuard guard(name);
  auto ns = Namespace::open_shared(name);
  ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
  const std::string common(240, 'c');  // longer than the 160 characters kept in object names
  const std::string a = common + std::string(9, 'a'), b = common + std::string(9, 'b');
  ASSERT_EQ(a.size(), 249u);
  ASSERT_TRUE((*ns)->create_topic(a, small(11)).is_ok());
  ASSERT_TRUE((*ns)->create_topic(b, small(11)).is_ok());
  const std::vector<std::string> objects = guard.objects();
  EXPECT_EQ(objects.size(), 23u);
  for (const std::string& o : objects) EXPECT_LE(o.size(), 255u) << o;
  EXPECT_EQ((*ns)->list_topics().value(), (std::vector<std::string>{a, b}));
  Producer pa((*ns)->open_topic(a).value());
  Producer pb((*ns)->open_topic(b).value());
  ASSERT_TRUE(pa.send(std::nullopt, "to a", {.partition = 10}).is_ok());
  ASSERT_TRUE(pb.send(std::nullopt, "to b", {.partition = 10}).is_ok());
  EXPECT_EQ(produce_and_read_values((*ns)->open_topic(a).value()), std::vector<std::string>{"to a"});
  EXPECT_EQ(produce_and_read_values((*ns)->open_topic(b).value()), std::vector<std::string>{"to b"});
  ASSERT_TRUE((*ns)->delete_topic(a).is_ok());
  EXPECT_EQ(guard.objects().size(), 12u);
  EXPECT_EQ(produce_and_read_values((*ns)->open_topic(b).value()), std::vector<std::string>{"to b"});
}

TEST(InProcessNamespace, IsPrivateAndLeavesNoSharedMemory) {
  auto a = Namespace::in_process();
  auto b = Namespace::in_process();
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_FALSE((*a)->shared());
  EXPECT_EQ((*a)->name(), "in-process");
  ASSERT_TRUE((*a)->create_topic("t", small(1)).is_ok());
  ASSERT_TRUE((*b)->create_topic("t", small(1)).is_ok()) << "same name, other namespace";
  ASSERT_TRUE((*a)->create_topic("only-a", small(1)).is_ok());
  EXPECT_EQ((*b)->list_topics().value(), std::vector<std::string>{"t"});
  EXPECT_EQ((*b)->open_topic("only-a").status().code(), Code::kNotFound);
  Producer pa((*a)->open_topic("t").value());
  Producer pb((*b)->open_topic("t").value());
  ASSERT_TRUE(pa.send(std::nullopt, "a").is_ok());
  ASSERT_TRUE(pb.send(std::nullopt, "b").is_ok());
  EXPECT_EQ(produce_and_read_values((*a)->open_topic("t").value()), std::vector<std::string>{"a"});
  EXPECT_EQ(produce_and_read_values((*b)->open_topic("t").value()), std::vector<std::string>{"b"});
  EXPECT_TRUE(testing::shm_objects("in-process").empty());
}

TEST(InProcessNamespace, TopicsOutliveTheirNamespace) {
  std::shared_ptr<Topic> topic;
  {
    auto ns = Namespace::in_process();
    ASSERT_TRUE(ns.is_ok());
    ASSERT_TRUE((*ns)->create_topic("t", small(1)).is_ok());
    topic = (*ns)->open_topic("t").value();
  }
  Producer producer(topic);
  ASSERT_TRUE(producer.send(std::nullopt, "still here").is_ok());
  EXPECT_EQ(produce_and_read_values(topic), std::vector<std::string>{"still here"});
}

}  // namespace
}  // namespace rill
