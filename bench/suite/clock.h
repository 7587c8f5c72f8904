// The clock one-way latencies are measured on. A producer stamps a record
// with now(); the consumer that reads it takes now() again; both run on one
// host, in threads or processes, so both read the same clock.
//
//   tsc        the x86 time-stamp counter (about 11 ns a read on these VMs
//              against about 28 ns for clock_gettime), calibrated against
//              CLOCK_MONOTONIC; only where the CPU says the counter is
//              invariant (CPUID), so that all cores and processes share one
//              rate and one origin. Detection, the counter read and the
//              calibration are the project's clock's (ipc/clock.h): the
//              ticks here are those epoch_ns() converts.
//   monotonic  CLOCK_MONOTONIC.
//
// Thread safety: a BenchClock is immutable once calibrated; copy it freely
// (also into a forked process).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <time.h>

#include "ipc/clock.h"
#include "rill/status.h"

namespace rill::bench {

using ipc::monotonic_ns;  // the project's one CLOCK_MONOTONIC reader

class BenchClock {
 public:
  // "tsc", "monotonic", or "auto" (tsc where it is invariant and
  // RILL_CLOCK is not "realtime", else monotonic). Asking for tsc where it is
  // not invariant is kInvalidArgument.
  // A tsc clock is calibrated here (about 20 ms).
  static Result<BenchClock> make(std::string_view kind);

  // "tsc" or "monotonic".
  std::string_view name() const noexcept { return tsc_ ? "tsc" : "monotonic"; }
  // Ticks per nanosecond (1 for monotonic).
  double ticks_per_ns() const noexcept { return 1.0 / ns_per_tick_; }

  std::uint64_t now() const noexcept {
    // The read waits for the loads ahead of it (the record the consumer just
    // read) to complete.
    if (tsc_) return ipc::read_tsc();
    return static_cast<std::uint64_t>(monotonic_ns());
  }
  std::int64_t to_ns(std::int64_t ticks) const noexcept {
    return std::llround(static_cast<double>(ticks) * ns_per_tick_);
  }
  std::uint64_t ticks_in(double ns) const noexcept { return static_cast<std::uint64_t>(ns / ns_per_tick_); }

  // Re-measures the rate over `ns` nanoseconds of CLOCK_MONOTONIC.
  void calibrate(std::int64_t ns);

 private:
  bool tsc_ = false;
  double ns_per_tick_ = 1.0;
};

// True when the CPU reports an invariant TSC (ipc::tsc_is_invariant()).
inline bool tsc_is_invariant() { return ipc::tsc_is_invariant(); }

}  // namespace rill::bench
