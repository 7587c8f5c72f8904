// P producer threads x C consumer threads over the partitions of one topic in
// an in-process namespace. Every consumer sees every record and checks it
// (see workload.h): checksum, key -> partition, per-producer order within a
// partition, dense offsets, no loss, no duplicate.
//
// Sizes scale with RILL_TEST_SCALE (label "stress" runs a larger scale) and
// shrink under the sanitizers (support/test_scale.h).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/client/topic_rings.h"
#include "core/log/partition_ring.h"
#include "rill/rill.h"
#include "stress/workload.h"
#include "support/test_scale.h"

namespace rill {
namespace {

using testing::ConsumeReport;
using testing::ConsumeSpec;
using testing::SendMode;

struct Workload {
  std::int32_t partitions = 4;
  std::uint32_t producers = 4;
  std::uint32_t consumers = 3;
  std::int64_t per_producer = 50000;                // before scaling
  std::vector<SendMode> modes = {SendMode::kSend};  // producer i uses modes[i % size]
  bool keyed = true;
  std::uint64_t segment_bytes = 1 << 20;
  std::vector<WaitStrategy> waits = {WaitStrategy::kBlock, WaitStrategy::kSpinThenYield, WaitStrategy::kBlock};
};

void run(const Workload& w) {
  const auto per_producer = static_cast<std::uint64_t>(testing::scaled(w.per_producer, 100));
  const TopicConfig config =
      testing::config_holding_everything(w.partitions, w.segment_bytes, w.producers, per_producer, w.keyed);
  auto ns = Namespace::in_process().value();
  ASSERT_TRUE(ns->create_topic("stress", config).is_ok());
  auto topic = ns->open_topic("stress").value();

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120) +
                        std::chrono::seconds(static_cast<int>(30 * testing::test_scale()));
  std::vector<ConsumeReport> reports(w.consumers);
  std::vector<std::optional<std::string>> producer_errors(w.producers);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (std::uint32_t c = 0; c < w.consumers; ++c)
    threads.emplace_back([&, c] {
      ConsumeSpec spec{.producers = w.producers,
                       .per_producer = per_producer,
                       .keyed = w.keyed,
                       .options = {.wait = w.waits[c % w.waits.size()], .start_at_earliest = true},
                       .deadline = deadline};
      reports[c] = testing::run_consumer(topic, spec);
    });
  for (std::uint32_t id = 0; id < w.producers; ++id)
    threads.emplace_back([&, id] {
      Producer producer(topic);
      while (!go.load()) std::this_thread::yield();
      producer_errors[id] = testing::run_producer(producer, id, per_producer, w.modes[id % w.modes.size()], w.keyed);
    });
  go.store(true);
  for (std::thread& t : threads) t.join();

  for (std::uint32_t id = 0; id < w.producers; ++id)
    EXPECT_FALSE(producer_errors[id].has_value()) << *producer_errors[id];
  std::int64_t total = 0;
  for (std::int32_t p = 0; p < w.partitions; ++p) {
    total += client::ring_of(*topic, p).latest_offset();
    EXPECT_EQ(client::ring_of(*topic, p).earliest_offset(), 0) << "the ring was sized to hold the whole run";
  }
  EXPECT_EQ(total, static_cast<std::int64_t>(per_producer * w.producers));
  for (std::uint32_t c = 0; c < w.consumers; ++c) {
    const ConsumeReport& r = reports[c];
    EXPECT_EQ(r.error_count, 0u) << "consumer " << c << ": " << r.summary();
    EXPECT_EQ(r.received, per_producer * w.producers) << "consumer " << c;
    EXPECT_EQ(r.skipped, 0u);
  }
}

TEST(Concurrency, KeyedSends) {
  run({});
}

TEST(Concurrency, KeyedBatches) {
  run({.modes = {SendMode::kBatch}});
}

TEST(Concurrency, KeyedReservations) {
  run({.modes = {SendMode::kReserve}});
}

TEST(Concurrency, NullKeysWithEverySendMode) {
  run({.producers = 3, .modes = {SendMode::kSend, SendMode::kBatch, SendMode::kReserve}, .keyed = false});
}

TEST(Concurrency, OneHotPartitionWithTinySegments) {
  // Every producer on one ring whose segments hold ~15 records: claims race
  // and segments roll constantly.
  run({.partitions = 1,
       .producers = 4,
       .consumers = 2,
       .per_producer = 20000,
       .modes = {SendMode::kSend, SendMode::kBatch, SendMode::kReserve, SendMode::kSend},
       .segment_bytes = 4096});
}

TEST(Concurrency, ManyPartitionsFewRecordsEach) {
  run({.partitions = 64,
       .producers = 3,
       .consumers = 2,
       .per_producer = 10000,
       .modes = {SendMode::kBatch, SendMode::kSend},
       .segment_bytes = 65536});
}

TEST(Concurrency, BusySpinningConsumers) {
  run({.partitions = 2, .producers = 2, .consumers = 2, .per_producer = 10000, .waits = {WaitStrategy::kBusySpin}});
}

// Returns whether the slow consumer was overrun.
bool overrun_round();

// A ring far too small for the run, and a slow consumer: it is overrun, and
// what it loses must be reported exactly (PollResult::skipped) or detected
// (still_valid()); it must never accept reused bytes as records.
TEST(Concurrency, OverrunIsReportedExactly) {
  if (testing::kUnderTsan)
    GTEST_SKIP() << "An overrun reader reads bytes the ring is overwriting and only afterwards learns "
                    "(generation check) that they were reused: a by-design race that TSan reports. "
                    "Run in the Release and ASan builds.";
  const int rounds = static_cast<int>(testing::scaled(4));
  int overrun = 0;
  for (int round = 0; round < rounds && !HasFailure(); ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    overrun += overrun_round() ? 1 : 0;
  }
  // Per round it depends on scheduling (a consumer thread started after the
  // producers finished is never overrun); over the rounds it must happen,
  // or the test checks nothing.
  EXPECT_GT(overrun, 0) << "the slow consumer was never overrun in " << rounds << " rounds";
}

bool overrun_round() {
  const std::uint32_t producers = 2;
  // The scale adds rounds, not records per round.
  const auto per_producer = static_cast<std::uint64_t>(50000 / testing::kSanitizerDivisor);
  auto ns = Namespace::in_process().value();
  const bool created = ns->create_topic("small", {.partitions = 2, .segment_bytes = 16384, .segment_count = 4}).is_ok();
  EXPECT_TRUE(created);
  if (!created) return false;
  auto topic = ns->open_topic("small").value();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120) +
                        std::chrono::seconds(static_cast<int>(30 * testing::test_scale()));
  std::atomic<bool> done{false};
  struct Reader {
    ConsumerOptions options;
    std::chrono::microseconds pause;
  };
  const Reader readers[] = {
      {{.max_poll_records = 64, .start_at_earliest = true, .verify_checksums = true}, std::chrono::microseconds(300)},
      {{.max_poll_records = 512, .start_at_earliest = true, .verify_checksums = true}, std::chrono::microseconds(0)},
      {{.wait = WaitStrategy::kSpinThenYield, .start_at_earliest = true}, std::chrono::microseconds(50)},
  };
  std::vector<ConsumeReport> reports(std::size(readers));
  std::vector<std::optional<std::string>> producer_errors(producers);
  std::vector<std::thread> consumer_threads, producer_threads;
  for (std::size_t c = 0; c < std::size(readers); ++c)
    consumer_threads.emplace_back([&, c] {
      ConsumeSpec spec{.producers = producers,
                       .per_producer = per_producer,
                       .keyed = true,
                       .options = readers[c].options,
                       .allow_overrun = true,
                       .producers_done = &done,
                       .deadline = deadline,
                       .pause = readers[c].pause};
      reports[c] = testing::run_consumer(topic, spec);
    });
  for (std::uint32_t id = 0; id < producers; ++id)
    producer_threads.emplace_back([&, id] {
      Producer producer(topic);
      producer_errors[id] =
          testing::run_producer(producer, id, per_producer, id == 0 ? SendMode::kSend : SendMode::kBatch, true);
    });
  for (std::thread& t : producer_threads) t.join();
  done.store(true, std::memory_order_release);
  for (std::thread& t : consumer_threads) t.join();

  for (auto& e : producer_errors) EXPECT_FALSE(e.has_value()) << *e;
  const std::uint64_t total = per_producer * producers;
  EXPECT_EQ(static_cast<std::uint64_t>(client::ring_of(*topic, 0).latest_offset() + client::ring_of(*topic, 1).latest_offset()), total);
  for (std::size_t c = 0; c < reports.size(); ++c) {
    const ConsumeReport& r = reports[c];
    EXPECT_EQ(r.error_count, 0u) << "consumer " << c << ": " << r.summary();
    EXPECT_EQ(r.end_offsets, total) << "consumer " << c << " reached the end";
    EXPECT_EQ(r.start_offsets + r.received + r.skipped + r.invalidated, total)
        << "consumer " << c << ": " << r.summary();
  }
  for (std::size_t c = 0; c < reports.size(); ++c) std::printf("consumer %zu: %s\n", c, reports[c].summary().c_str());
  return reports[0].skipped > 0;
}

}  // namespace
}  // namespace rill
