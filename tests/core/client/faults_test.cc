// The OS refusing the library's shared-memory calls (ipc::inject_fault):
// a full /dev/shm, a refused mmap, a descriptor limit, a refused unlink. Each
// is a clear error, and what is stored is as it was: no half-made topic, no
// leaked object, records intact.
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "ipc/faults.h"
#include "rill/rill.h"
#include "support/shm_guard.h"

namespace rill {
namespace {

using testing::ShmGuard;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

constexpr TopicConfig kThree{.partitions = 3, .segment_bytes = 16384, .segment_count = 4};

// Disarms whatever a test armed and did not trigger, even when it fails.
class Faults : public ::testing::Test {
 protected:
  void TearDown() override { ipc::clear_faults(); }

  std::string object(const std::string& topic, int p) const {
    return "rill." + guard_.ns() + "." + topic + "." + std::to_string(p);
  }
  std::string registry() const { return "rill." + guard_.ns() + ".registry"; }

  // Sends one record per partition and reads them all back.
  static void expect_usable(const std::shared_ptr<Namespace>& ns, const std::string& name) {
    auto topic = ns->open_topic(name);
    ASSERT_TRUE(topic.is_ok()) << topic.status().message();
    Producer producer(*topic);
    for (std::int32_t p = 0; p < (*topic)->partition_count(); ++p)
      ASSERT_TRUE(producer.send(std::nullopt, "v" + std::to_string(p), {.partition = p}).is_ok());
    Consumer consumer(*topic, {.start_at_earliest = true});
    ASSERT_TRUE(consumer.assign_all().is_ok());
    std::vector<std::string> got;
    for (int round = 0; round < 10 && static_cast<int>(got.size()) < (*topic)->partition_count(); ++round) {
      PollResult r = consumer.poll(std::chrono::seconds(1));
      ASSERT_TRUE(r.status.is_ok()) << r.status.message();
      for (const RecordView& v : r.records) got.emplace_back(v.value());
    }
    EXPECT_EQ(static_cast<int>(got.size()), (*topic)->partition_count());
  }

  ShmGuard guard_;
};

TEST_F(Faults, ATopicWhosePartitionCannotBeReservedIsNotCreatedAtAll) {
  auto ns = Namespace::open_shared(guard_.ns()).value();
  ipc::inject_fault(ipc::OsCall::kShmReserve, object("t", 2), ENOSPC);
  Status s = ns->create_topic("t", kThree);
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.to_string();
  EXPECT_TRUE(contains(s.message(), "creating topic 't' partition 2")) << s.message();
  EXPECT_TRUE(contains(s.message(), "No space left on device")) << s.message();
  EXPECT_EQ(guard_.objects(), std::vector<std::string>{registry()}) << "partitions 0 and 1 were removed again";
  EXPECT_TRUE(ns->list_topics().value().empty());
  // The name is free, and the next try makes a working topic.
  ASSERT_TRUE(ns->create_topic("t", kThree).is_ok());
  expect_usable(ns, "t");
}

TEST_F(Faults, ARefusedMapOfANewPartitionLeavesNothingBehind) {
  auto ns = Namespace::open_shared(guard_.ns()).value();
  ipc::inject_fault(ipc::OsCall::kShmMap, object("t", 1), ENOMEM);
  Status s = ns->create_topic("t", kThree);
  EXPECT_FALSE(s.is_ok());
  EXPECT_TRUE(contains(s.message(), "mmap of shm:/" + object("t", 1))) << s.message();
  EXPECT_EQ(guard_.objects(), std::vector<std::string>{registry()});
  EXPECT_TRUE(ns->list_topics().value().empty());
}

TEST_F(Faults, ADescriptorLimitWhileOpeningATopicIsAnErrorAndChangesNothing) {
  {
    auto ns = Namespace::open_shared(guard_.ns()).value();
    ASSERT_TRUE(ns->create_topic("t", kThree).is_ok());
  }
  const std::vector<std::string> before = guard_.objects();
  {
    auto ns = Namespace::open_shared(guard_.ns()).value();  // a new handle: nothing cached
    ipc::inject_fault(ipc::OsCall::kShmOpen, object("t", 1), EMFILE);
    auto topic = ns->open_topic("t");
    ASSERT_FALSE(topic.is_ok());
    EXPECT_EQ(topic.status().code(), Code::kResourceExhausted) << topic.status().to_string();
    EXPECT_TRUE(contains(topic.status().message(), "Too many open files")) << topic.status().message();
    // The fault was for one call: the next open works.
    expect_usable(ns, "t");
  }
  EXPECT_EQ(guard_.objects(), before);
}

TEST_F(Faults, ANamespaceWhoseRegistryCannotBeCreatedLeavesNothing) {
  ipc::inject_fault(ipc::OsCall::kShmCreate, "rill." + guard_.ns() + ".registry", ENOSPC, 10);
  auto ns = Namespace::open_shared(guard_.ns());
  ASSERT_FALSE(ns.is_ok());
  EXPECT_TRUE(contains(ns.status().message(), "cannot create namespace '" + guard_.ns() + "'"))
      << ns.status().message();
  EXPECT_TRUE(guard_.objects().empty());
  ipc::clear_faults();
  auto again = Namespace::open_shared(guard_.ns());
  ASSERT_TRUE(again.is_ok()) << again.status().message();
}

TEST_F(Faults, ADeleteWhoseUnlinkIsRefusedSaysWhichObjectRemains) {
  auto ns = Namespace::open_shared(guard_.ns()).value();
  ASSERT_TRUE(ns->create_topic("t", kThree).is_ok());
  ipc::inject_fault(ipc::OsCall::kShmRemove, object("t", 1), EBUSY);
  Status s = ns->delete_topic("t");
  EXPECT_FALSE(s.is_ok());
  EXPECT_TRUE(contains(s.message(), "cannot remove /dev/shm/" + object("t", 1))) << s.message();
  // The topic is gone from the registry; the one object left is an orphan
  // that Namespace::gc() removes once it is a minute old.
  EXPECT_TRUE(ns->list_topics().value().empty());
  EXPECT_EQ(guard_.objects(), (std::vector<std::string>{registry(), object("t", 1)}));
}

// Every futex wait returns at once, as a wait interrupted by signals would:
// a blocked consumer neither misses nor repeats a record, and a poll with
// nothing to read still waits out its timeout.
TEST_F(Faults, FutexWaitsThatReturnAtOnceLoseNothing) {
  auto ns = Namespace::open_shared(guard_.ns()).value();
  ASSERT_TRUE(ns->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 4}).is_ok());
  auto topic = ns->open_topic("t").value();
  Consumer consumer(topic, {.wait = WaitStrategy::kBlock, .start_at_earliest = true});
  ASSERT_TRUE(consumer.assign_all().is_ok());
  ipc::inject_fault(ipc::OsCall::kFutexWait, "", EINTR, 1'000'000'000);

  const auto asked = std::chrono::milliseconds(50);
  const auto start = std::chrono::steady_clock::now();
  PollResult empty = consumer.poll(asked);
  EXPECT_TRUE(empty.status.is_ok()) << empty.status.to_string();
  EXPECT_TRUE(empty.records.empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, asked) << "returned before its timeout";

  constexpr int kRecords = 200;
  std::thread producer([&] {
    Producer p(topic);
    for (int i = 0; i < kRecords; ++i) {
      if (!p.send(std::nullopt, "r" + std::to_string(i)).is_ok()) return;
      if (i % 20 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the consumer sleeps meanwhile
    }
  });
  std::vector<std::pair<std::int64_t, std::string>> got;
  for (auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       got.size() < kRecords && std::chrono::steady_clock::now() < give_up;) {
    PollResult r = consumer.poll(std::chrono::milliseconds(100));
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    for (const RecordView& v : r.records) {
      EXPECT_TRUE(v.verify_checksum()) << "offset " << v.offset();
      got.emplace_back(v.offset(), std::string(v.value()));
    }
  }
  producer.join();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i)
    EXPECT_EQ(got[i], (std::pair<std::int64_t, std::string>{i, "r" + std::to_string(i)}));
  EXPECT_TRUE(consumer.poll(std::chrono::milliseconds(0)).records.empty()) << "nothing twice";
  EXPECT_GT(ipc::refusals(ipc::OsCall::kFutexWait), 0) << "the consumer slept on the futex";
}

}  // namespace
}  // namespace rill
