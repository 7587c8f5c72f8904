// The phase engine on a transport made for the test: coordinated-omission
// correction on a synthetic stall, routing and the exactly-once checks.
#include "bench/suite/phase.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace rill::bench {
namespace {

// An in-memory channel per consumer (a mutex and a deque: the test measures
// the engine, not the transport). The sender can stall once, before sending
// record `stall_at` of producer 0, and can drop or duplicate one record.
class TestTransport {
 public:
  struct Options {
    std::uint64_t stall_at = ~std::uint64_t{0};
    std::chrono::milliseconds stall{0};
    std::uint64_t drop = ~std::uint64_t{0};
    std::uint64_t duplicate = ~std::uint64_t{0};
  };
  TestTransport(const PhasePlan& plan, Options options) : plan_(plan), options_(options), channels_(plan.consumers) {}

  struct Channel {
    std::mutex mu;
    std::deque<std::vector<std::byte>> records;
  };

  class Sender {
   public:
    bool send(int partition, const std::byte* records, std::size_t n, Failure&) noexcept {
      for (std::size_t j = 0; j < n; ++j) {
        PayloadHeader h;
        const std::byte* r = records + j * t_->plan_.record_bytes;
        (void)read_record(r, t_->plan_.record_bytes, h);
        if (h.seq == t_->options_.stall_at && h.producer == 0) std::this_thread::sleep_for(t_->options_.stall);
        if (h.seq == t_->options_.drop && h.producer == 0) continue;
        const int copies = h.seq == t_->options_.duplicate && h.producer == 0 ? 2 : 1;
        for (int c = 0; c < t_->plan_.consumers; ++c) {
          if (!t_->plan_.owns(c, partition)) continue;
          std::lock_guard lock(t_->channels_[c].mu);
          for (int k = 0; k < copies; ++k) t_->channels_[c].records.emplace_back(r, r + t_->plan_.record_bytes);
        }
      }
      return true;
    }
    std::uint64_t window() const noexcept { return 0; }
    TestTransport* t_;
  };

  class Receiver {
   public:
    template <typename F>
    long poll(F&& on_record, Failure&) noexcept {
      std::deque<std::vector<std::byte>> batch;
      {
        std::lock_guard lock(t_->channels_[c_].mu);
        batch.swap(t_->channels_[c_].records);
      }
      for (const auto& r : batch) on_record(r.data(), r.size());
      if (batch.empty()) std::this_thread::sleep_for(std::chrono::microseconds(50));
      return static_cast<long>(batch.size());
    }
    TestTransport* t_;
    int c_;
  };

  Result<Sender> sender(int, Lane) { return Sender{this}; }
  Result<Receiver> receiver(int c, Lane) { return Receiver{this, c}; }

 private:
  PhasePlan plan_;
  Options options_;
  std::vector<Channel> channels_;
};

// Runs one phase with threads and returns the board.
std::unique_ptr<PhaseBoard> run(const PhasePlan& plan, TestTransport& t) {
  auto board = std::make_unique<PhaseBoard>();
  std::vector<std::thread> threads;
  for (int p = 0; p < plan.producers; ++p) threads.emplace_back([&, p] { run_producer(t, plan, *board, p); });
  for (int c = 0; c < plan.consumers; ++c) threads.emplace_back([&, c] { run_consumer(t, plan, *board, c); });
  while (board->ready.load() < static_cast<std::uint32_t>(plan.producers + plan.consumers))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  board->start_ns = monotonic_ns();
  board->start_tick = plan.clock.now();
  board->measure_ns = board->start_ns + plan.warmup_ns;
  board->end_ns = plan.count > 0 ? INT64_MAX : board->measure_ns + plan.duration_ns;
  board->go.store(1);
  for (auto& th : threads) th.join();
  return board;
}

PhasePlan latency_plan(double rate, std::uint64_t count) {
  PhasePlan plan;
  plan.kind = PhaseKind::kLatency;
  plan.record_bytes = 64;
  plan.rate_rps = rate;
  plan.count = count;
  plan.wait = WaitKind::kYield;
  plan.clock = BenchClock::make("monotonic").value();
  return plan;
}

TEST(Phase, AStallShowsInTheCorrectedLatencyAndNotInTheRaw) {
  // 10,000 records/s; producer 0 stalls 100 ms before record 1000. Every
  // record scheduled in the first half of the stall (about 500) is sent after
  // it ends, so it is at least 50 ms late by its intended time; measured from
  // its actual send time it is not.
  const PhasePlan plan = latency_plan(10'000, 3000);
  TestTransport t(plan, {.stall_at = 1000, .stall = std::chrono::milliseconds(100)});
  auto board = run(plan, t);
  const ConsumerSlot& c = board->consumers[0];
  ASSERT_FALSE(c.failure.failed) << c.failure.text;
  EXPECT_EQ(c.measured, 3000u);
  EXPECT_EQ(c.corrected.count(), 3000u);
  EXPECT_GE(c.corrected.max(), 100'000'000);
  const double late = 1.0 - static_cast<double>(490) / 3000;
  EXPECT_GE(c.corrected.value_at(late), 50'000'000) << "fewer than 490 records were 50 ms late by schedule";
  // Raw: only the record that stalled inside send() took that long.
  EXPECT_GE(c.raw.max(), 100'000'000);
  EXPECT_LT(c.raw.value_at(1.0 - 2.0 / 3000), 50'000'000) << "more than one record was 50 ms late from its send";
}

TEST(Phase, DeadlineMissesAndTheirLongestStreakFollowTheStall) {
  PhasePlan plan = latency_plan(10'000, 2000);
  plan.deadline = DeadlineSpec{.deadline_ns = 20'000'000, .rt_class = RtClass::kHard, .max_miss_rate = 0};
  TestTransport t(plan, {.stall_at = 500, .stall = std::chrono::milliseconds(100)});
  auto board = run(plan, t);
  const DeadlineCounts& d = board->consumers[0].deadline;
  EXPECT_EQ(d.samples, 2000u);
  // The records scheduled during the stall's first 80 ms at least (800), in a row.
  EXPECT_GE(d.misses, 790u);
  EXPECT_GE(d.longest_streak, 790u);
  EXPECT_FALSE(judge_deadline(*plan.deadline, d, board->consumers[0].corrected).met);
}

TEST(Phase, EveryRecordArrivesOnceInOrderAcrossProducersAndSplitConsumers) {
  PhasePlan plan;
  plan.kind = PhaseKind::kThroughput;
  plan.producers = 3;
  plan.consumers = 2;
  plan.partitions = 4;
  plan.split = true;
  plan.batch = 7;
  plan.count = 10'001;
  plan.record_bytes = 40;
  plan.wait = WaitKind::kYield;
  plan.clock = BenchClock::make("monotonic").value();
  TestTransport t(plan, {});
  auto board = run(plan, t);
  std::uint64_t measured = 0, received = 0;
  for (int p = 0; p < 3; ++p) {
    ASSERT_FALSE(board->producers[p].failure.failed) << board->producers[p].failure.text;
    EXPECT_EQ(board->producers[p].measured, plan.quota(p));
    measured += board->producers[p].measured;
  }
  for (int c = 0; c < 2; ++c) {
    ASSERT_FALSE(board->consumers[c].failure.failed) << board->consumers[c].failure.text;
    received += board->consumers[c].received.load();
  }
  EXPECT_EQ(measured, 10'001u);
  EXPECT_EQ(received, 10'001u);
}

TEST(Phase, RoutedCountsMatchARecordByRecordWalk) {
  PhasePlan plan;
  plan.producers = 3;
  plan.consumers = 3;
  plan.partitions = 5;
  plan.split = true;
  for (std::size_t batch : {1, 4, 7}) {
    plan.batch = batch;
    for (int p = 0; p < 3; ++p) {
      for (std::uint64_t total : {0ull, 1ull, 6ull, 35ull, 36ull, 1001ull}) {
        std::uint64_t walk[3] = {};
        for (std::uint64_t i = 0; i < total; ++i) walk[plan.partition_of(p, i / batch) % 3]++;
        for (int c = 0; c < 3; ++c) EXPECT_EQ(plan.routed(p, total, c), walk[c]) << batch << " " << p << " " << total;
      }
    }
  }
}

TEST(Phase, ALostRecordIsAnErrorNotAFigure) {
  const PhasePlan plan = latency_plan(100'000, 500);
  TestTransport t(plan, {.drop = 100});
  auto board = run(plan, t);
  ASSERT_TRUE(board->consumers[0].failure.failed);
  EXPECT_NE(std::string(board->consumers[0].failure.text).find("record 101 in partition 0 arrived where 100 was expected"), std::string::npos)
      << board->consumers[0].failure.text;
}

TEST(Phase, ADuplicatedRecordIsAnError) {
  const PhasePlan plan = latency_plan(100'000, 500);
  TestTransport t(plan, {.duplicate = 200});
  auto board = run(plan, t);
  ASSERT_TRUE(board->consumers[0].failure.failed);
  EXPECT_NE(std::string(board->consumers[0].failure.text).find("record 200 in partition 0 arrived where 201 was expected"), std::string::npos)
      << board->consumers[0].failure.text;
}

TEST(Phase, OneInFlightWaitsForTheConsumerBeforeTheNextRecord) {
  // rate 0: a producer sends record k+1 only once record k arrived, so with
  // a consumer that takes its time no two records are ever queued together.
  const PhasePlan plan = latency_plan(0, 300);
  TestTransport t(plan, {});
  auto board = run(plan, t);
  ASSERT_FALSE(board->consumers[0].failure.failed) << board->consumers[0].failure.text;
  EXPECT_EQ(board->consumers[0].measured, 300u);
  EXPECT_EQ(board->consumers[0].acks[0].next.load(), 300u);
}

}  // namespace
}  // namespace rill::bench
