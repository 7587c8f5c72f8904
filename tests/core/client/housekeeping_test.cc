// The library's housekeeping of shared namespaces, without the CLI:
// Namespace::list_shared(), gc(), remove_shared(), TopicInfo's producers and
// readers, and namespaces private to a process.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <string>

#include <gtest/gtest.h>

#include "rill/consumer.h"
#include "rill/producer.h"
#include "rill/topic.h"
#include "support/child_process.h"
#include "support/shm_guard.h"

namespace rill {
namespace {

using testing::die_after;
using testing::ShmGuard;

const SharedNamespaceInfo* find(const std::vector<SharedNamespaceInfo>& all, const std::string& name) {
  auto it = std::find_if(all.begin(), all.end(), [&](const SharedNamespaceInfo& i) { return i.name == name; });
  return it == all.end() ? nullptr : &*it;
}

constexpr TopicConfig kSmall{.partitions = 2, .segment_bytes = 16384, .segment_count = 4};

TEST(Housekeeping, ListSharedCountsTopicsObjectsAndLiveProcesses) {
  ShmGuard guard;
  auto ns = Namespace::open_shared(guard.ns()).value();
  ASSERT_TRUE(ns->create_topic("a", kSmall).is_ok());
  ASSERT_TRUE(ns->create_topic("b", kSmall).is_ok());
  auto topic = ns->open_topic("a").value();
  Producer producer(topic);
  ASSERT_TRUE(producer.send(std::nullopt, "x").is_ok());
  Consumer consumer(topic);
  ASSERT_TRUE(consumer.assign_all().is_ok());

  auto listed = Namespace::list_shared();
  ASSERT_TRUE(listed.is_ok()) << listed.status().message();
  const SharedNamespaceInfo* info = find(*listed, guard.ns());
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->status.is_ok()) << info->status.message();
  EXPECT_EQ(info->topics, 2u);
  EXPECT_EQ(info->objects, 5u);  // the registry and 2 x 2 partitions
  EXPECT_GT(info->bytes, 0u);
  EXPECT_EQ(info->producer_processes, 1u);
  EXPECT_EQ(info->reader_processes, 1u);
  EXPECT_TRUE(std::is_sorted(listed->begin(), listed->end(),
                             [](const auto& x, const auto& y) { return x.name < y.name; }));
  // The cheap listing names the same namespaces (others' may come and go meanwhile).
  const std::vector<std::string> names = Namespace::shared_names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::count(names.begin(), names.end(), guard.ns()), 1);
}

TEST(Housekeeping, TopicInfoNamesProducersAndReadersWithPositionAndLag) {
  ShmGuard guard;
  auto ns = Namespace::open_shared(guard.ns()).value();
  ASSERT_TRUE(ns->create_topic("t", {.partitions = 1, .segment_bytes = 16384, .segment_count = 4}).is_ok());
  auto topic = ns->open_topic("t").value();
  Producer producer(topic);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(producer.send(std::nullopt, "v" + std::to_string(i)).is_ok());
  Consumer consumer(topic, ConsumerOptions{.max_poll_records = 2, .start_at_earliest = true});
  ASSERT_TRUE(consumer.assign_all().is_ok());
  // A reader's position is what it is done with: a poll ends the views of the
  // one before. Two polls of two: done with offsets 0 and 1.
  for (int round = 0; round < 2; ++round) {
    PollResult batch = consumer.poll(std::chrono::seconds(10));
    ASSERT_TRUE(batch.status.is_ok()) << batch.status.message();
    ASSERT_EQ(batch.records.size(), 2u);
    EXPECT_EQ(batch.records[0].offset(), 2 * round);
  }
  auto info = ns->describe_topic("t");
  ASSERT_TRUE(info.is_ok()) << info.status().message();
  ASSERT_EQ(info->producers.size(), 1u);
  EXPECT_EQ(info->producers[0].pid, ::getpid());
  EXPECT_TRUE(info->producers[0].alive);
  EXPECT_EQ(info->producers[0].state, ClaimState::kIdle);
  ASSERT_EQ(info->readers.size(), 1u);
  const ReaderInfo& r = info->readers[0];
  EXPECT_EQ(r.pid, ::getpid());
  EXPECT_TRUE(r.alive);
  EXPECT_EQ(r.partition, 0);
  EXPECT_EQ(r.position, 2);
  EXPECT_EQ(r.lag, 3u);
  EXPECT_GT(r.registered_ns, 0);
}

TEST(Housekeeping, GcFreesTheSlotsOfADeadProcessAndReportsThem) {
  ShmGuard guard;
  {
    auto ns = Namespace::open_shared(guard.ns()).value();
    ASSERT_TRUE(ns->create_topic("t", {.partitions = 1, .segment_bytes = 16384, .segment_count = 4}).is_ok());
  }
  const pid_t dead = die_after([&] {
    auto topic = Namespace::open_shared(guard.ns()).value()->open_topic("t").value();
    Producer producer(topic);
    (void)producer.send(std::nullopt, "from the dead");
    Consumer consumer(topic);
    (void)consumer.assign_all();
    ::raise(SIGKILL);
  });
  auto ns = Namespace::open_shared(guard.ns()).value();
  auto before = ns->describe_topic("t").value();
  ASSERT_EQ(before.producers.size(), 1u);
  EXPECT_EQ(before.producers[0].pid, dead);
  EXPECT_FALSE(before.producers[0].alive);
  ASSERT_EQ(before.readers.size(), 1u);
  EXPECT_FALSE(before.readers[0].alive);

  auto gc = Namespace::gc(guard.ns());
  ASSERT_TRUE(gc.is_ok()) << gc.status().message();
  EXPECT_EQ(gc->name, guard.ns());
  EXPECT_EQ(gc->slots_freed, 2u);
  EXPECT_TRUE(gc->removed.empty());
  EXPECT_TRUE(gc->warnings.empty());
  auto after = ns->describe_topic("t").value();
  EXPECT_TRUE(after.producers.empty());
  EXPECT_TRUE(after.readers.empty());

  // The record the dead process sent is still there, once.
  Consumer consumer(ns->open_topic("t").value(), ConsumerOptions{.start_at_earliest = true});
  ASSERT_TRUE(consumer.assign_all().is_ok());
  PollResult batch = consumer.poll(std::chrono::seconds(10));
  ASSERT_TRUE(batch.status.is_ok()) << batch.status.message();
  ASSERT_EQ(batch.records.size(), 1u);
  EXPECT_EQ(batch.records[0].value(), "from the dead");

  auto again = Namespace::gc(guard.ns());
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->empty()) << "a second gc finds nothing to do";
  EXPECT_EQ(guard.objects().size(), 2u);  // nothing of the topic was removed
}

TEST(Housekeeping, GcRemovesOrphanObjectsOnlyOnceTheyAreAMinuteOld) {
  ShmGuard guard;
  {
    auto ns = Namespace::open_shared(guard.ns()).value();
    ASSERT_TRUE(ns->create_topic("t", kSmall).is_ok());
  }
  // Objects no topic owns: an old one (a crash long ago) and a fresh one (a
  // topic being created right now, whose registry entry does not list it yet).
  const std::string old_orphan = "rill." + guard.ns() + ".gone.0";
  const std::string new_orphan = "rill." + guard.ns() + ".coming.0";
  for (const std::string& name : {old_orphan, new_orphan}) {
    const int fd = ::shm_open(("/" + name).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    ASSERT_GE(fd, 0) << name;
    if (name == old_orphan) {
      timespec times[2];
      ::clock_gettime(CLOCK_REALTIME, &times[0]);
      times[0].tv_sec -= 120;
      times[1] = times[0];
      ASSERT_EQ(::futimens(fd, times), 0);
    }
    ::close(fd);
  }
  auto gc = Namespace::gc(guard.ns());
  ASSERT_TRUE(gc.is_ok()) << gc.status().message();
  EXPECT_EQ(gc->removed, std::vector<std::string>{old_orphan});
  const auto left = guard.objects();
  EXPECT_EQ(std::count(left.begin(), left.end(), new_orphan), 1);
  EXPECT_EQ(left.size(), 4u);  // registry, two partitions, the fresh orphan
}

TEST(Housekeeping, APrivateNamespaceIsRemovedOnceItsProcessIsGoneAndNotBefore) {
  ShmGuard mine;
  SharedOptions scratch;
  scratch.private_to_process = true;
  {
    auto ns = Namespace::open_shared(mine.ns(), scratch).value();
    ASSERT_TRUE(ns->create_topic("t", kSmall).is_ok());
  }
  auto kept = Namespace::gc(mine.ns());
  ASSERT_TRUE(kept.is_ok()) << kept.status().message();
  EXPECT_TRUE(kept->removed.empty()) << "its process (this one) is alive";
  EXPECT_EQ(mine.objects().size(), 3u);

  // Another process's scratch namespace, left behind by a kill -9.
  ShmGuard theirs;
  die_after([&] {
    auto ns = Namespace::open_shared(theirs.ns(), scratch);
    if (!ns || !(*ns)->create_topic("t", kSmall)) ::_exit(1);
  });
  ASSERT_EQ(theirs.objects().size(), 3u);
  auto gc = Namespace::gc(theirs.ns());
  ASSERT_TRUE(gc.is_ok()) << gc.status().message();
  EXPECT_EQ(gc->removed.size(), 3u);
  EXPECT_TRUE(theirs.objects().empty());
  auto listed = Namespace::list_shared().value();
  EXPECT_EQ(find(listed, theirs.ns()), nullptr);
  EXPECT_NE(find(listed, mine.ns()), nullptr);

  // The option has no effect on a namespace that exists: opening someone's
  // shared namespace never makes it private.
  ShmGuard shared;
  ASSERT_TRUE(Namespace::open_shared(shared.ns()).value()->create_topic("t", kSmall).is_ok());
  die_after([&] { (void)Namespace::open_shared(shared.ns(), scratch); });
  auto untouched = Namespace::gc(shared.ns());
  ASSERT_TRUE(untouched.is_ok());
  EXPECT_TRUE(untouched->removed.empty());
  EXPECT_EQ(shared.objects().size(), 3u);
}

TEST(Housekeeping, RemoveSharedRemovesEveryObjectAndOpenWithoutCreateFindsNothing) {
  ShmGuard guard;
  auto ns = Namespace::open_shared(guard.ns()).value();
  ASSERT_TRUE(ns->create_topic("t", kSmall).is_ok());
  auto topic = ns->open_topic("t").value();
  ASSERT_TRUE(Namespace::remove_shared(guard.ns()).is_ok());
  EXPECT_TRUE(guard.objects().empty());
  // What is open stays usable: the mappings live until closed.
  Producer producer(topic);
  EXPECT_TRUE(producer.send(std::nullopt, "still mapped").is_ok());
  auto reopened = Namespace::open_shared(guard.ns(), {.group = {}, .create = false});
  ASSERT_FALSE(reopened.is_ok());
  EXPECT_EQ(reopened.status().code(), Code::kNotFound);
  EXPECT_EQ(Namespace::remove_shared(guard.ns()).code(), Code::kNotFound);
}

TEST(Housekeeping, BadNamesAndMissingNamespacesAreClearErrors) {
  ShmGuard guard;
  EXPECT_EQ(Namespace::gc(guard.ns()).status().code(), Code::kNotFound);
  EXPECT_EQ(Namespace::gc("../etc").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Namespace::gc("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Namespace::remove_shared("a.b").code(), Code::kInvalidArgument);
  EXPECT_TRUE(guard.objects().empty()) << "nothing was created";
}

}  // namespace
}  // namespace rill
