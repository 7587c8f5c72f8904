#include "bench/suite/clock.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace rill::bench {

bool tsc_is_invariant() {
#if defined(__x86_64__)
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    bool constant = false, nonstop = false;
    for (std::string w; words >> w;) {
      constant |= w == "constant_tsc";
      nonstop |= w == "nonstop_tsc";
    }
    return constant && nonstop;
  }
#endif
  return false;
}

Result<BenchClock> BenchClock::make(std::string_view kind) {
  BenchClock clock;
  if (kind == "monotonic") return clock;
  if (kind != "tsc" && kind != "auto")
    return Status(Code::kInvalidArgument, "unknown clock '" + std::string(kind) + "' (expected tsc, monotonic or auto)");
  if (!tsc_is_invariant()) {
    if (kind == "auto") return clock;
    return Status(Code::kInvalidArgument,
                  "this CPU does not report an invariant time-stamp counter (constant_tsc, nonstop_tsc); "
                  "use --clock monotonic");
  }
  clock.tsc_ = true;
  clock.calibrate(20'000'000);
  return clock;
}

void BenchClock::calibrate(std::int64_t ns) {
  if (!tsc_) return;
  const std::int64_t ns0 = monotonic_ns();
  const std::uint64_t t0 = now();
  std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
  const std::int64_t ns1 = monotonic_ns();
  const std::uint64_t t1 = now();
  if (t1 > t0 && ns1 > ns0) ns_per_tick_ = static_cast<double>(ns1 - ns0) / static_cast<double>(t1 - t0);
}

}  // namespace rill::bench
