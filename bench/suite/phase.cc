#include "bench/suite/phase.h"

#include <string>
#include <thread>

namespace rill::bench {

Result<WaitKind> parse_wait_kind(std::string_view w) {
  if (w == "spin") return WaitKind::kSpin;
  if (w == "yield") return WaitKind::kYield;
  if (w == "block") return WaitKind::kBlock;
  return Status(Code::kInvalidArgument, "unknown wait strategy '" + std::string(w) + "' (expected spin, yield or block)");
}

std::uint64_t PhasePlan::routed(int p, std::uint64_t total, int c) const noexcept {
  if (!split) return total;
  const auto n = static_cast<std::uint64_t>(partitions);
  const std::uint64_t full = total / batch, rest = total % batch;
  std::uint64_t records = 0;
  for (int k = 0; k < partitions; ++k) {
    if (!owns(c, k)) continue;
    // Full batches b < full with (p + b) % N == k, i.e. b ≡ k - p (mod N).
    const std::uint64_t first = (static_cast<std::uint64_t>(k) + n - static_cast<std::uint64_t>(p) % n) % n;
    if (first < full) records += ((full - first - 1) / n + 1) * batch;
  }
  if (rest != 0 && owns(c, partition_of(p, full))) records += rest;
  return records;
}

void Failure::fail(const char* format, ...) noexcept {
  if (abort) abort->store(1, std::memory_order_relaxed);  // relaxed: a hint to stop; the text is read after join
  if (failed) return;
  failed = true;
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
}

bool await_go(PhaseBoard& board) noexcept {
  // Pairs with the main thread's release store of go: start_* are visible after.
  while (board.go.load(std::memory_order_acquire) == 0) {
    if (board.abort.load(std::memory_order_relaxed) != 0) return false;  // relaxed: a hint to stop
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return board.abort.load(std::memory_order_relaxed) == 0;  // relaxed: a hint to stop
}

void pace_until(const BenchClock& clock, std::uint64_t tick, const PhaseBoard& board) noexcept {
  constexpr std::int64_t kSpinNs = 60'000;  // sleeping overshoots by tens of µs here; spin the last stretch
  for (;;) {
    const std::uint64_t now = clock.now();
    if (now >= tick) return;
    const std::int64_t ahead_ns = clock.to_ns(static_cast<std::int64_t>(tick - now));
    if (ahead_ns > kSpinNs) {
      const std::int64_t sleep_ns = ahead_ns - kSpinNs;
      timespec ts{static_cast<time_t>(sleep_ns / 1'000'000'000), static_cast<long>(sleep_ns % 1'000'000'000)};
      ::nanosleep(&ts, nullptr);
      if (board.abort.load(std::memory_order_relaxed) != 0) return;  // relaxed: a hint to stop
    } else {
      log::cpu_relax();
    }
  }
}

}  // namespace rill::bench
