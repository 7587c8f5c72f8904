// The epoch clock (ipc/clock.h): never decreasing within a thread, also
// across recalibrations forced while other threads read; within the
// documented bound of CLOCK_REALTIME (asserted as a bound on sandwiched
// samples, never as a timing); RILL_CLOCK and the realtime fallback.
#include "ipc/clock.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "support/test_scale.h"

namespace rill::ipc {
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

// The process's clock takes its source from RILL_CLOCK at its first read:
// a child process of this binary, started with RILL_CLOCK set, reports it.
std::string run_child(const std::string& rill_clock) {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "no /proc/self/exe";
  self[n] = '\0';
  const std::string command = "RILL_CLOCK=" + rill_clock + " RILL_CLOCK_TEST_CHILD=1 '" + std::string(self) +
                              "' --gtest_filter=ProcessClock.ChildReportsItsSource 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
  ::pclose(pipe);
  return output;
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
