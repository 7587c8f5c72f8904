// How consumers wait: every wait strategy wakes on a commit, and a blocked
// consumer burns (almost) no CPU while its topic is idle.
#include <gtest/gtest.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/client/topic_rings.h"
#include "core/log/partition_ring.h"
#include "ipc/membarrier.h"
#include "rill/rill.h"

namespace rill {
namespace {

using namespace std::chrono_literals;

// CPU time consumed by the calling thread.
std::chrono::nanoseconds thread_cpu_time() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// What a waiting consumer thread saw.
struct Waited {
  std::vector<std::string> values;
  std::vector<std::int32_t> partitions;
  Status status;
  std::chrono::nanoseconds cpu{0};
  std::chrono::steady_clock::duration wall{0};
};

class WaitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = Namespace::in_process().value();
    ASSERT_TRUE(ns_->create_topic("t", {.partitions = 4, .segment_bytes = 65536, .segment_count = 4}).is_ok());
    topic_ = ns_->open_topic("t").value();
  }

  // Starts a thread that assigns `partitions` and polls once with `timeout`;
  // `polling` turns true just before it calls poll().
  std::future<Waited> wait_in_thread(ConsumerOptions options, std::vector<std::int32_t> partitions,
                                     std::chrono::nanoseconds timeout, std::atomic<bool>* polling) {
    return std::async(std::launch::async, [=, this] {
      Consumer consumer(topic_, options);
      Waited w;
      w.status = consumer.assign(partitions);
      if (!w.status.is_ok()) return w;
      const auto cpu0 = thread_cpu_time();
      const auto t0 = std::chrono::steady_clock::now();
      polling->store(true);
      PollResult r = consumer.poll(timeout);
      w.wall = std::chrono::steady_clock::now() - t0;
      w.cpu = thread_cpu_time() - cpu0;
      w.status = r.status;
      for (const RecordView& v : r.records) {
        w.values.emplace_back(v.value());
        w.partitions.push_back(v.partition());
      }
      return w;
    });
  }

  static void wait_until(const std::atomic<bool>& flag) {
    while (!flag.load()) std::this_thread::sleep_for(1ms);
  }

  std::shared_ptr<Namespace> ns_;
  std::shared_ptr<Topic> topic_;
};

class EveryStrategy : public WaitTest, public ::testing::WithParamInterface<WaitStrategy> {};

INSTANTIATE_TEST_SUITE_P(Strategies, EveryStrategy,
                         ::testing::Values(WaitStrategy::kBusySpin, WaitStrategy::kSpinThenYield, WaitStrategy::kBlock),
                         [](const auto& info) { return std::string(wait_strategy_name(info.param)); });

TEST_P(EveryStrategy, WaitingReaderWakesOnCommitAndGetsTheRecord) {
  std::atomic<bool> polling{false};
  auto waited = wait_in_thread({.wait = GetParam()}, {0, 1, 2, 3}, 60s, &polling);
  wait_until(polling);
  std::this_thread::sleep_for(100ms);  // let it settle into its wait (a futex sleep for kBlock)
  Producer producer(topic_);
  ASSERT_TRUE(producer.send("key", "wake up").is_ok());
  ASSERT_EQ(waited.wait_for(30s), std::future_status::ready) << "the reader never woke";
  Waited w = waited.get();
  ASSERT_TRUE(w.status.is_ok()) << w.status.to_string();
  ASSERT_EQ(w.values.size(), 1u);
  EXPECT_EQ(w.values[0], "wake up");
  EXPECT_EQ(w.partitions[0], producer.partition_for("key"));
}

TEST_P(EveryStrategy, TimeoutOnAnIdleTopicReturnsNothing) {
  std::atomic<bool> polling{false};
  Waited w = wait_in_thread({.wait = GetParam()}, {0, 1, 2, 3}, 50ms, &polling).get();
  EXPECT_TRUE(w.status.is_ok());
  EXPECT_TRUE(w.values.empty());
  EXPECT_GE(w.wall, 50ms) << "returned before its timeout";
}

TEST_F(WaitTest, BlockedReaderOnAnIdleTopicBurnsNoCpu) {
  // Behaviour, not speed: over a second of waiting, a futex sleeper uses a
  // few milliseconds of CPU at most; a spinner would use the whole second.
  std::atomic<bool> polling{false};
  Waited w = wait_in_thread({.wait = WaitStrategy::kBlock}, {0, 1, 2, 3}, 1s, &polling).get();
  EXPECT_TRUE(w.status.is_ok());
  EXPECT_TRUE(w.values.empty());
  EXPECT_GE(w.wall, 1s);
  EXPECT_LT(w.cpu, 50ms) << "a blocked consumer burned CPU while idle";
}

TEST_F(WaitTest, BlockedReaderSleepsThenWakesForALateCommit) {
  std::atomic<bool> polling{false};
  auto waited = wait_in_thread({.wait = WaitStrategy::kBlock}, {2}, 120s, &polling);
  wait_until(polling);
  std::this_thread::sleep_for(1s);
  Producer producer(topic_);
  ASSERT_TRUE(producer.send(std::nullopt, "late", {.partition = 2}).is_ok());
  ASSERT_EQ(waited.wait_for(60s), std::future_status::ready) << "the reader never woke";
  Waited w = waited.get();
  ASSERT_EQ(w.values, std::vector<std::string>{"late"});
  EXPECT_LT(w.cpu, 50ms) << "a blocked consumer burned CPU while idle";
  EXPECT_LT(w.wall, 60s) << "woken by the commit, not by its timeout";
}

// Producers ring with a compiler barrier only where the sleeping reader's
// membarrier(2) covers them; here (the default machine) they do.
TEST_F(WaitTest, ProducersRingWithLightFencesWhereMembarrierWorks) {
  if (std::getenv("RILL_MEMBARRIER") != nullptr) GTEST_SKIP() << "RILL_MEMBARRIER is set";
  if (!ipc::enable_light_fences()) GTEST_SKIP() << "membarrier is refused here (kernel < 4.16 or seccomp)";
  EXPECT_TRUE(ipc::light_fences());
  std::atomic<bool> polling{false};
  auto waited = wait_in_thread({.wait = WaitStrategy::kBlock}, {1}, 120s, &polling);
  wait_until(polling);
  std::this_thread::sleep_for(300ms);  // asleep on the futex
  Producer producer(topic_);
  ASSERT_TRUE(producer.send(std::nullopt, "light", {.partition = 1}).is_ok());
  ASSERT_EQ(waited.wait_for(60s), std::future_status::ready) << "the reader never woke";
  EXPECT_EQ(waited.get().values, std::vector<std::string>{"light"});
  EXPECT_EQ(client::ring_of(*topic_, 1).doorbell().fences_required_since.load(), 0) << "a reader asked for full fences";
}

// Many sleeps, each ended by a send that comes either once the reader is
// asleep or at a random moment around its way into the futex (the Dekker
// window): every record wakes its reader, and no sleep runs to the cap with
// a record waiting and no ring (log::g_late_wakeups, a count of protocol
// events, not a timing).
TEST_F(WaitTest, NoWakeUpIsLostAcrossManySleeps) {
  constexpr int kRounds = 400;
  const std::uint64_t late_before = log::g_late_wakeups.load();
  std::atomic<int> got{0};
  std::atomic<bool> failed{false};
  std::thread reader([&] {
    Consumer consumer(topic_, {.wait = WaitStrategy::kBlock});
    const std::vector<std::int32_t> partitions = {0};
    if (!consumer.assign(partitions).is_ok()) {
      failed = true;
      return;
    }
    while (got.load() < kRounds) {
      PollResult r = consumer.poll(60s);
      if (!r.status.is_ok() || r.records.empty()) {  // nothing in 60 s: a wake-up was lost for good
        failed = true;
        return;
      }
      for (const RecordView& v : r.records) {
        if (v.value() != std::to_string(got.load())) failed = true;
        got.fetch_add(1);
      }
    }
  });
  Producer producer(topic_);
  std::minstd_rand random(12345);
  const log::Doorbell& bell = client::ring_of(*topic_, 0).doorbell();
  for (int i = 0; i < kRounds && !failed; ++i) {
    while (got.load() < i && !failed) std::this_thread::yield();
    if (i % 2 == 0) {
      while (bell.sleepers.load() == 0 && !failed) std::this_thread::yield();  // asleep (or on its way)
    } else {
      // The reader spins ~1024 pauses before it sleeps: land around then.
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(random() % 200);
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    if (!producer.send(std::nullopt, std::to_string(i), {.partition = 0}).is_ok()) failed = true;
  }
  if (failed) got = kRounds;  // let the reader go (it stops at its next record or in 60 s)
  reader.join();
  EXPECT_FALSE(failed.load());
  EXPECT_EQ(got.load(), kRounds);
  EXPECT_EQ(log::g_late_wakeups.load() - late_before, 0u) << "sleeps ran to their cap with a record waiting";
}

// A reader whose membarrier is refused (an old kernel, a seccomp filter)
// cannot make a producer's compiler barrier a full fence: it asks every
// producer of the doorbell for full fences, and still wakes for each commit.
TEST_F(WaitTest, AReaderWithoutMembarrierMakesProducersFenceAndStillWakes) {
  struct Refuse {
    Refuse() { ipc::refuse_heavy_fences_for_testing(true); }
    ~Refuse() { ipc::refuse_heavy_fences_for_testing(false); }
  } refuse;
  Producer producer(topic_);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    std::atomic<bool> polling{false};
    auto waited = wait_in_thread({.wait = WaitStrategy::kBlock}, {3}, 120s, &polling);
    wait_until(polling);
    std::this_thread::sleep_for(300ms);
    const std::string value = "fenced " + std::to_string(round);
    ASSERT_TRUE(producer.send(std::nullopt, value, {.partition = 3}).is_ok());
    ASSERT_EQ(waited.wait_for(60s), std::future_status::ready) << "the reader never woke";
    EXPECT_EQ(waited.get().values, std::vector<std::string>{value});
    EXPECT_NE(client::ring_of(*topic_, 3).doorbell().fences_required_since.load(), 0) << "producers were not asked to fence";
  }
}

TEST_F(WaitTest, ReadersOfOnePartitionSleepThroughCommitsToOthers) {
  // The partitions of a topic share one doorbell: commits elsewhere wake the
  // reader, which must go back to sleep and still get its own record.
  std::atomic<bool> polling{false};
  auto waited = wait_in_thread({.wait = WaitStrategy::kBlock}, {3}, 120s, &polling);
  wait_until(polling);
  std::this_thread::sleep_for(50ms);
  Producer producer(topic_);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(producer.send(std::nullopt, "other", {.partition = i % 3}).is_ok());
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_NE(waited.wait_for(0s), std::future_status::ready) << "woke without a record of its own";
  ASSERT_TRUE(producer.send(std::nullopt, "mine", {.partition = 3}).is_ok());
  ASSERT_EQ(waited.wait_for(60s), std::future_status::ready);
  Waited w = waited.get();
  EXPECT_EQ(w.values, std::vector<std::string>{"mine"});
  EXPECT_EQ(w.partitions, std::vector<std::int32_t>{3});
}

TEST_F(WaitTest, OneCommitWakesEveryBlockedReader) {
  constexpr int kReaders = 4;
  std::atomic<bool> polling[kReaders] = {};
  std::vector<std::future<Waited>> waits;
  for (int i = 0; i < kReaders; ++i)
    waits.push_back(wait_in_thread({.wait = WaitStrategy::kBlock}, {1}, 120s, &polling[i]));
  for (auto& p : polling) wait_until(p);
  std::this_thread::sleep_for(100ms);
  Producer producer(topic_);
  ASSERT_TRUE(producer.send(std::nullopt, "broadcast", {.partition = 1}).is_ok());
  for (auto& f : waits) {
    ASSERT_EQ(f.wait_for(60s), std::future_status::ready);
    EXPECT_EQ(f.get().values, std::vector<std::string>{"broadcast"});
  }
}

TEST_F(WaitTest, BatchesAndReservationsWakeReadersToo) {
  Producer producer(topic_);
  {
    std::atomic<bool> polling{false};
    auto waited = wait_in_thread({.wait = WaitStrategy::kBlock}, {0}, 120s, &polling);
    wait_until(polling);
    std::this_thread::sleep_for(100ms);
    const Message batch[] = {{.key = std::nullopt, .value = "b1"}, {.key = std::nullopt, .value = "b2"}};
    ASSERT_EQ(producer.send_batch(batch, 0).value(), 2u);
    ASSERT_EQ(waited.wait_for(60s), std::future_status::ready);
    EXPECT_EQ(waited.get().values, (std::vector<std::string>{"b1", "b2"}));
  }
  {
    Consumer at_end(topic_);
    const std::int32_t parts[] = {0};
    ASSERT_TRUE(at_end.assign(parts).is_ok());
    std::atomic<bool> polling{false};
    auto waited = wait_in_thread({.wait = WaitStrategy::kBlock}, {0}, 120s, &polling);
    wait_until(polling);
    auto r = producer.reserve(std::nullopt, 3, {.partition = 0});
    ASSERT_TRUE(r.is_ok());
    std::memcpy(r->value().data(), "res", 3);
    std::this_thread::sleep_for(100ms);
    EXPECT_NE(waited.wait_for(0s), std::future_status::ready) << "a reservation is not visible before publish()";
    producer.publish(*r);
    ASSERT_EQ(waited.wait_for(60s), std::future_status::ready);
    EXPECT_EQ(waited.get().values, std::vector<std::string>{"res"});
  }
}

TEST_F(WaitTest, SeekWaitsBrieflyForAnUnpublishedRecordBeforeIt) {
  Producer producer(topic_);
  auto r = producer.reserve(std::nullopt, 1, {.partition = 0});
  ASSERT_TRUE(r.is_ok());
  ASSERT_TRUE(producer.send(std::nullopt, "after", {.partition = 0}).is_ok());
  Consumer c(topic_);
  const std::int32_t parts[] = {0};
  ASSERT_TRUE(c.assign(parts).is_ok());
  // Offset 0 stays unpublished: seeking past it times out after about a second.
  Status timed_out = c.seek(0, 1);
  EXPECT_EQ(timed_out.code(), Code::kTimedOut);
  EXPECT_NE(timed_out.message().find("uncommitted"), std::string::npos) << timed_out.message();
  // Published meanwhile: the seek succeeds.
  std::thread publisher([&] {
    std::this_thread::sleep_for(200ms);
    r->value()[0] = std::byte{'r'};
    producer.publish(*r);
  });
  Status s = c.seek(0, 1);
  publisher.join();
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  PollResult got = c.poll(0ns);
  ASSERT_EQ(got.records.size(), 1u);
  EXPECT_EQ(got.records[0].value(), "after");
}

TEST_F(WaitTest, AnUnpublishedReservationDoesNotHoldRollsUntilItsSegmentWouldBeReused) {
  // A reservation's cleaning ahead is done when reserve() returns, so the
  // ring rolls on past it; only reusing its segment would have to wait (8
  // segments here: generation 3 reuses nothing). The record lands intact.
  ASSERT_TRUE(ns_->create_topic("held", {.partitions = 1, .segment_bytes = 16384, .segment_count = 8}).is_ok());
  auto topic = ns_->open_topic("held").value();
  Producer producer(topic);
  auto r = producer.reserve(std::nullopt, 8, {.partition = 0});
  ASSERT_TRUE(r.is_ok());
  const std::string value(200, 'x');
  int sent = 0;
  while (client::ring_of(*topic, 0).latest().generation < 3) {
    ASSERT_TRUE(producer.send(std::nullopt, value).is_ok());
    ++sent;
  }
  std::memcpy(r->value().data(), "reserved", 8);
  producer.publish(*r);
  Consumer c(topic, {.start_at_earliest = true, .verify_checksums = true});
  ASSERT_TRUE(c.assign_all().is_ok());
  int read = 0;
  for (;;) {
    PollResult p = c.poll(0ns);
    ASSERT_TRUE(p.status.is_ok()) << p.status.to_string();
    if (p.records.empty()) break;
    for (const RecordView& v : p.records) {
      EXPECT_EQ(v.offset(), read);
      EXPECT_EQ(v.value(), read == 0 ? std::string("reserved") : value);
      ++read;
    }
  }
  EXPECT_EQ(read, sent + 1);
}

TEST_F(WaitTest, AnUnpublishedReservationHoldsTheRollThatWouldReuseItsSegment) {
  // Another thread fills the ring past the reservation's segment: the roll
  // that would hand its bytes to a new generation waits until it is
  // published, so the publish never lands in reused bytes.
  ASSERT_TRUE(ns_->create_topic("lap", {.partitions = 1, .segment_bytes = 16384, .segment_count = 4}).is_ok());
  auto topic = ns_->open_topic("lap").value();
  Producer holder(topic);
  auto r = holder.reserve(std::nullopt, 8, {.partition = 0});
  ASSERT_TRUE(r.is_ok());
  std::atomic<bool> done{false};
  std::thread filler([&] {
    Producer producer(topic);
    const std::string value(200, 'x');
    while (client::ring_of(*topic, 0).latest().generation < 6) ASSERT_TRUE(producer.send(std::nullopt, value).is_ok());
    done = true;
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(done.load()) << "the ring reused the reservation's segment";
  std::memcpy(r->value().data(), "reserved", 8);
  holder.publish(*r);
  filler.join();
  EXPECT_TRUE(done.load());
}

}  // namespace
}  // namespace rill
