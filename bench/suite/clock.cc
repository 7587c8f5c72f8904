#include "bench/suite/clock.h"

namespace rill::bench {

Result<BenchClock> BenchClock::make(std::string_view kind) {
  BenchClock clock;
  if (kind == "monotonic") return clock;
  if (kind != "tsc" && kind != "auto")
    return Status(Code::kInvalidArgument, "unknown clock '" + std::string(kind) + "' (expected tsc, monotonic or auto)");
  if (kind == "auto" && ipc::clock_request_from_env() == ipc::ClockRequest::kRealtime) return clock;
  if (!tsc_is_invariant()) {
    if (kind == "auto") return clock;
    return Status(Code::kInvalidArgument,
                  "this CPU does not report an invariant time-stamp counter (CPUID 0x80000007 EDX bit 8); "
                  "use --clock monotonic");
  }
  clock.tsc_ = true;
  clock.calibrate(20'000'000);
  return clock;
}

void BenchClock::calibrate(std::int64_t ns) {
  if (!tsc_) return;
  const double ns_per_tick = ipc::measure_tsc_ns_per_tick(CLOCK_MONOTONIC, ns);
  if (ns_per_tick > 0) ns_per_tick_ = ns_per_tick;
}

}  // namespace rill::bench
