// The epoch clock (ipc/clock.h): never decreasing within a thread, also
// across recalibrations forced while other threads read; within the
// documented bound of CLOCK_REALTIME (asserted as a bound on sandwiched
// samples, never as a timing); no read mixes two published lines; RILL_CLOCK
// and the realtime fallback.
#include "ipc/clock.h"

#include <gtest/gtest.h>

#include "support/child_process.h"
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "support/test_scale.h"

namespace rill::ipc {

// Publishes lines of the test's choosing, as a recalibration would.
class EpochClockTestPeer {
 public:
  // Makes current the line through (tsc, ns) at `ns_per_tick`: a step, so
  // that the line is that one wherever its switch tick falls.
  static void publish_line(EpochClock& clock, std::uint64_t tsc, std::int64_t ns, double ns_per_tick) {
    while (!clock.try_lock()) std::this_thread::yield();
    clock.publish(TscSample{tsc, ns, 0}, /*step=*/true, ns_per_tick, ns_per_tick, ~std::uint64_t{0});
    clock.unlock();
  }
};

namespace {

using rill::testing::scaled;

std::int64_t realtime_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// rt1 <= t <= rt2 widened by the bound: the clock read between two
// CLOCK_REALTIME reads is within kEpochClockErrorBoundNs of some instant
// between them.
::testing::AssertionResult within_bound(std::int64_t rt1, std::int64_t value, std::int64_t rt2, std::int64_t bound) {
  if (value >= rt1 - bound && value <= rt2 + bound) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "clock " << value << " outside [" << rt1 << " - " << bound << ", " << rt2
                                       << " + " << bound << "]: off by " << (value < rt1 ? value - rt1 : value - rt2)
                                       << " ns";
}

#define REQUIRE_TSC()                                                                 \
  do {                                                                                \
    if (!tsc_is_invariant()) GTEST_SKIP() << "this CPU reports no invariant TSC"; \
  } while (0)

TEST(ClockRequest, ParsesRillClock) {
  EXPECT_EQ(parse_clock_request(nullptr), ClockRequest::kAuto);
  EXPECT_EQ(parse_clock_request(""), ClockRequest::kAuto);
  EXPECT_EQ(parse_clock_request("auto"), ClockRequest::kAuto);
  EXPECT_EQ(parse_clock_request("tsc"), ClockRequest::kTsc);
  EXPECT_EQ(parse_clock_request("realtime"), ClockRequest::kRealtime);
  EXPECT_EQ(parse_clock_request("hpet"), ClockRequest::kAuto);  // with a line on stderr
}

TEST(ClockRequest, RealtimeWhereTheTscIsNotInvariantOrNotWanted) {
  EXPECT_EQ(choose_clock_source(ClockRequest::kAuto, true), ClockSource::kTsc);
  EXPECT_EQ(choose_clock_source(ClockRequest::kTsc, true), ClockSource::kTsc);
  EXPECT_EQ(choose_clock_source(ClockRequest::kRealtime, true), ClockSource::kRealtime);
  EXPECT_EQ(choose_clock_source(ClockRequest::kAuto, false), ClockSource::kRealtime);
  EXPECT_EQ(choose_clock_source(ClockRequest::kTsc, false), ClockSource::kRealtime);
  EXPECT_EQ(choose_clock_source(ClockRequest::kRealtime, false), ClockSource::kRealtime);
  EXPECT_EQ(clock_source_name(ClockSource::kTsc), "tsc");
  EXPECT_EQ(clock_source_name(ClockSource::kRealtime), "realtime");
}

TEST(ClockRequest, ReadsTheEnvironment) {
  const char* saved = std::getenv("RILL_CLOCK");
  const std::string saved_value = saved ? saved : "";
  ::setenv("RILL_CLOCK", "realtime", 1);
  EXPECT_EQ(clock_request_from_env(), ClockRequest::kRealtime);
  EpochClock clock(clock_request_from_env());
  EXPECT_EQ(clock.source(), ClockSource::kRealtime);
  ::setenv("RILL_CLOCK", "tsc", 1);
  EXPECT_EQ(clock_request_from_env(), ClockRequest::kTsc);
  ::unsetenv("RILL_CLOCK");
  EXPECT_EQ(clock_request_from_env(), ClockRequest::kAuto);
  if (saved) ::setenv("RILL_CLOCK", saved_value.c_str(), 1);
}

// The fallback is CLOCK_REALTIME itself: no bound to allow for.
TEST(EpochClock, RealtimeFallbackReadsTheSystemClock) {
  EpochClock clock(ClockRequest::kRealtime);
  EXPECT_EQ(clock.source(), ClockSource::kRealtime);
  EXPECT_EQ(clock.ns_per_tick(), 0);
  clock.recalibrate_now();  // a no-op
  for (int i = 0; i < 1000; ++i) {
    const std::int64_t rt1 = realtime_ns();
    const std::int64_t value = clock.now_ns();
    const std::int64_t rt2 = realtime_ns();
    ASSERT_TRUE(within_bound(rt1, value, rt2, 0));
  }
}

TEST(EpochClock, TscWhereInvariant) {
  REQUIRE_TSC();
  EpochClock clock(ClockRequest::kTsc);
  EXPECT_EQ(clock.source(), ClockSource::kTsc);
  EXPECT_GT(clock.ns_per_tick(), 0);
  EXPECT_GE(clock.generation(), 1u);
  EpochClock automatic(ClockRequest::kAuto);
  EXPECT_EQ(automatic.source(), ClockSource::kTsc);
}

// Samples spread over about a quarter of a second cross the recalibrations
// of the first periods (1, 2, 4 ... ms) and at least one of 100 ms.
TEST(EpochClock, WithinTheBoundOfRealtimeAcrossRecalibrations) {
  REQUIRE_TSC();
  EpochClock clock(ClockRequest::kTsc);
  const std::uint64_t first_generation = clock.generation();
  std::int64_t worst = 0;
  for (int i = 0; i < 2500; ++i) {
    const std::int64_t rt1 = realtime_ns();
    const std::int64_t value = clock.now_ns();
    const std::int64_t rt2 = realtime_ns();
    ASSERT_TRUE(within_bound(rt1, value, rt2, kEpochClockErrorBoundNs)) << "sample " << i;
    worst = std::max(worst, value < rt1 ? rt1 - value : value > rt2 ? value - rt2 : 0);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  EXPECT_GT(clock.generation(), first_generation + 5);  // it did recalibrate
  std::printf("worst |error| outside the sandwich: %lld ns over 2500 samples\n", static_cast<long long>(worst));
}

TEST(EpochClock, ProcessClockWithinTheBound) {
  const std::int64_t rt1 = realtime_ns();
  const std::int64_t value = epoch_ns();
  const std::int64_t rt2 = realtime_ns();
  EXPECT_TRUE(within_bound(rt1, value, rt2, kEpochClockErrorBoundNs));
  EXPECT_TRUE(clock_source() == "tsc" || clock_source() == "realtime");
}

TEST(EpochClock, MonotonicWithinAThreadAcrossForcedRecalibrations) {
  REQUIRE_TSC();
  EpochClock clock(ClockRequest::kTsc);
  const std::int64_t reads = scaled(2'000'000, 10'000);
  std::int64_t last = clock.now_ns();
  const std::uint64_t first_generation = clock.generation();
  for (std::int64_t i = 0; i < reads; ++i) {
    if (i % 1000 == 0) clock.recalibrate_now();
    const std::int64_t now = clock.now_ns();
    ASSERT_GE(now, last) << "read " << i << " went back by " << last - now << " ns";
    last = now;
  }
  EXPECT_GE(clock.generation(), first_generation + static_cast<std::uint64_t>(reads / 1000));
  const std::int64_t rt1 = realtime_ns();
  const std::int64_t value = clock.now_ns();
  const std::int64_t rt2 = realtime_ns();
  EXPECT_TRUE(within_bound(rt1, value, rt2, kEpochClockErrorBoundNs));
}

// Readers on every core while another thread recalibrates as fast as it
// can: each reader's values never decrease and stay within the bound.
TEST(EpochClock, ReadersSeeNoStepWhileAnotherThreadRecalibrates) {
  REQUIRE_TSC();
  EpochClock clock(ClockRequest::kTsc);
  const std::int64_t reads = scaled(1'000'000, 10'000);
  std::atomic<int> readers_left{2};
  std::atomic<std::int64_t> recalibrations{0};
  std::thread recalibrator([&] {
    // Pairs with each reader's release decrement: stop once all are done.
    while (readers_left.load(std::memory_order_acquire) > 0) {
      clock.recalibrate_now();
      recalibrations.fetch_add(1, std::memory_order_relaxed);
    }
  });
  struct Outcome {
    std::int64_t backward = 0;  // the largest step back seen
    std::int64_t out_of_bound = 0;
  };
  std::vector<Outcome> outcomes(2);
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      Outcome& out = outcomes[r];
      std::int64_t last = clock.now_ns();
      for (std::int64_t i = 0; i < reads; ++i) {
        std::int64_t now;
        if (i % 64 == 0) {
          const std::int64_t rt1 = realtime_ns();
          now = clock.now_ns();
          const std::int64_t rt2 = realtime_ns();
          if (!within_bound(rt1, now, rt2, kEpochClockErrorBoundNs)) ++out.out_of_bound;
        } else {
          now = clock.now_ns();
        }
        out.backward = std::max(out.backward, last - now);
        last = now;
      }
      // Pairs with the recalibrator's acquire load.
      readers_left.fetch_sub(1, std::memory_order_release);
    });
  }
  for (auto& t : readers) t.join();
  recalibrator.join();
  for (int r = 0; r < 2; ++r) {
    EXPECT_LE(outcomes[r].backward, 0) << "reader " << r << " saw the clock go back";
    EXPECT_EQ(outcomes[r].out_of_bound, 0) << "reader " << r;
  }
  EXPECT_GT(recalibrations.load(), 0);
}

// The publication protocol: a writer alternates between two lines 10^15 ns
// apart, as fast as it can, while this thread reads (one reader: with the
// writer, one per core). Every value must lie on one of the two lines at a
// tick the read was between. A read that mixed the fields of two
// publications would be off both: by about 10^15 ns, or, with the base tick
// of one publication and the base nanoseconds of the one before, by the
// time between them. A stress test, not a proof: the fast line's words
// share a cache line, so on x86 a torn read needs the line to move between
// two of the reader's loads, which is rare even without the sequence
// re-read; a field left stale or published out of order fails it at once.
TEST(EpochClock, ReadsNeverMixTwoPublishedLines) {
  REQUIRE_TSC();
  EpochClock clock(ClockRequest::kTsc);
  const double rate = clock.ns_per_tick();
  ASSERT_GT(rate, 0);
  const std::uint64_t origin = read_tsc();
  constexpr std::int64_t kApart = 1'000'000'000'000'000;
  const std::int64_t near = realtime_ns();
  // Line k's value at `tsc`: the test's own model of the lines it publishes.
  auto on_line = [&](int k, std::uint64_t tsc) {
    return near + k * kApart + std::llround(static_cast<double>(static_cast<std::int64_t>(tsc - origin)) * rate);
  };
  EpochClockTestPeer::publish_line(clock, origin, near, rate);
  std::atomic<bool> done{false};
  std::atomic<std::int64_t> publications{0};
  std::thread writer([&] {
    // Pairs with the reader's release store: stop once it is done.
    for (int k = 1; !done.load(std::memory_order_acquire); k ^= 1) {
      EpochClockTestPeer::publish_line(clock, origin, near + k * kApart, rate);
      publications.fetch_add(1, std::memory_order_relaxed);
    }
  });
  // Rounding: the line's base is truncated to the nanosecond and its rate
  // to 2^-32 ns per tick.
  constexpr std::int64_t kSlackNs = 8;
  const std::int64_t reads = scaled(1'000'000, 10'000);
  std::int64_t off_both = 0, on_second = 0, worst = 0;
  for (std::int64_t i = 0; i < reads; ++i) {
    const std::uint64_t before = read_tsc();
    const std::int64_t value = clock.now_ns();
    const std::uint64_t after = read_tsc();
    bool on_a_line = false;
    for (int k = 0; k < 2 && !on_a_line; ++k) {
      if (value >= on_line(k, before) - kSlackNs && value <= on_line(k, after) + kSlackNs) {
        on_a_line = true;
        on_second += k;
      }
    }
    if (!on_a_line) {
      ++off_both;
      worst = std::max<std::int64_t>(
          worst, std::min(std::abs(value - on_line(0, after)), std::abs(value - on_line(1, after))));
    }
  }
  // Pairs with the writer's acquire load.
  done.store(true, std::memory_order_release);
  writer.join();
  EXPECT_EQ(off_both, 0) << off_both << " of " << reads << " values on neither line, the worst " << worst << " ns off";
  EXPECT_GT(on_second, 0) << "the second line was never read";
  EXPECT_GT(publications.load(), 100);
  std::printf("%lld reads, %lld publications\n", static_cast<long long>(reads),
              static_cast<long long>(publications.load()));
}

// The process's clock takes its source from RILL_CLOCK at its first read:
// a child process of this binary, started with RILL_CLOCK set, reports it.
std::string run_child(const std::string& rill_clock) {
  return testing::run_this_binary("RILL_CLOCK=" + rill_clock + " RILL_CLOCK_TEST_CHILD=1",
                                  "ProcessClock.ChildReportsItsSource");
}

TEST(ProcessClock, ChildReportsItsSource) {
  if (std::getenv("RILL_CLOCK_TEST_CHILD") == nullptr) GTEST_SKIP() << "run by the tests below, in a child";
  const std::int64_t rt1 = realtime_ns();
  const std::int64_t value = epoch_ns();
  const std::int64_t rt2 = realtime_ns();
  std::printf("source=%s within_bound=%d\n", std::string(clock_source()).c_str(),
              static_cast<int>(within_bound(rt1, value, rt2, kEpochClockErrorBoundNs)));
}

TEST(ProcessClock, RillClockRealtimeForcesTheFallback) {
  const std::string output = run_child("realtime");
  EXPECT_NE(output.find("source=realtime within_bound=1"), std::string::npos) << output;
}

TEST(ProcessClock, RillClockTscUsesTheTscWhereInvariant) {
  const std::string output = run_child("tsc");
  const std::string expected = tsc_is_invariant() ? "source=tsc within_bound=1" : "source=realtime within_bound=1";
  EXPECT_NE(output.find(expected), std::string::npos) << output;
  if (!tsc_is_invariant()) {
    EXPECT_NE(output.find("no invariant TSC"), std::string::npos) << output;
  }
}

}  // namespace
}  // namespace rill::ipc
