// The clock rill stamps records with: epoch nanoseconds (CLOCK_REALTIME's
// scale), read from the x86 time-stamp counter for a few nanoseconds instead
// of a clock_gettime() call. doc/clock.md is the long form.
//
//   tsc       rdtsc and one multiply by parameters calibrated against
//             CLOCK_REALTIME (64 bits within a period, 128 past it). Only where CPUID reports an invariant TSC (leaf
//             0x80000007, EDX bit 8: one rate on every core, in every
//             C-state), on x86-64.
//   realtime  clock_gettime(CLOCK_REALTIME): where the TSC is not invariant,
//             not x86-64, or RILL_CLOCK=realtime.
//
// RILL_CLOCK (read once, at the process's first epoch_ns()): "realtime"
// forces the fallback; "tsc" asks for the TSC and falls back to realtime
// with one line on stderr where it is not usable; "auto" or unset: tsc where
// usable.
//
// Calibration. The first read calibrates (about 100 us, once per process).
// After that a read that finds the current parameters older than a period
// (1 ms, doubling to 100 ms) recalibrates: one thread, chosen by a try-lock,
// samples CLOCK_REALTIME between two TSC reads and publishes new parameters
// that continue the old line at the switch point (no jump) with a slope that
// makes up the error over the next period (slew, at most 1000 ppm). The
// other readers never wait for it. An error larger than the slew can make
// up is stepped: forward at once; backward only past 100 ms (the system
// clock was stepped back) - the one case in which a reader sees time go
// back.
//
// Bound. |epoch_ns() - CLOCK_REALTIME| <= kEpochClockErrorBoundNs while the
// system clock's rate changes by less than 100 ppm within a period (NTP's
// ordinary frequency corrections are well under that) and it is not stepped.
// The rate is measured over about the last second of samples, so the drift
// between recalibrations is far under 1 us per second; the figures measured
// here are in doc/clock.md.
//
// Thread safety: epoch_ns() may be called from any thread, concurrently, at
// any time (also from a forked child: the TSC is one per machine). It never
// allocates, locks or blocks, except that the very first read in a process
// waits for the calibration (threads racing it wait with it).
//
// Invariant: within one thread, successive epoch_ns() values never
// decrease, across recalibrations too, unless the system clock is stepped
// back by more than 100 ms.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>
#include <string_view>

namespace rill::ipc {

// 128-bit products of ticks and the fixed-point rate (__extension__: GCC
// and Clang have the type; -Wpedantic does not know it).
__extension__ typedef unsigned __int128 Uint128;

// The documented bound on |epoch_ns() - CLOCK_REALTIME| (see above).
inline constexpr std::int64_t kEpochClockErrorBoundNs = 10'000;

enum class ClockSource : std::uint8_t { kTsc, kRealtime };
enum class ClockRequest : std::uint8_t { kAuto, kTsc, kRealtime };

// "tsc" or "realtime".
std::string_view clock_source_name(ClockSource source) noexcept;

// RILL_CLOCK's value: "tsc", "realtime", "auto"; null or empty is kAuto.
// Anything else is kAuto with one line on stderr.
ClockRequest parse_clock_request(const char* value) noexcept;
// parse_clock_request(getenv("RILL_CLOCK")).
ClockRequest clock_request_from_env() noexcept;

// True on x86-64 when CPUID leaf 0x80000007 reports an invariant TSC.
// Computed once.
bool tsc_is_invariant() noexcept;

// The source a request gets on a machine whose TSC is (not) invariant: kTsc
// for kAuto and kTsc where it is, kRealtime otherwise.
ClockSource choose_clock_source(ClockRequest request, bool tsc_invariant) noexcept;

// The time-stamp counter, not taken before the loads ahead of it have
// completed (lfence; rdtsc). Ticks at one fixed rate only where
// tsc_is_invariant(). Off x86-64: CLOCK_MONOTONIC nanoseconds.
inline std::uint64_t read_tsc() noexcept {
#if defined(__x86_64__)
  __builtin_ia32_lfence();
  return __builtin_ia32_rdtsc();
#else
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
#endif
}

// One reading of `clock` paired with the TSC: `ns` was read between the
// tick counts tsc - half_width and tsc + half_width. The narrowest of a few
// tries, so that an interrupt inside one does not widen it.
struct TscSample {
  std::uint64_t tsc = 0;
  std::int64_t ns = 0;
  std::uint64_t half_width = 0;  // ticks
};
TscSample sample_tsc(clockid_t clock) noexcept;

// Nanoseconds of `clock` per TSC tick, measured over `window_ns` (sleeping).
// 0 if the counter did not advance.
double measure_tsc_ns_per_tick(clockid_t clock, std::int64_t window_ns) noexcept;

// An epoch-nanosecond clock. The process's clock is epoch_clock(); tests and
// benchmarks build others with an explicit source.
class EpochClock {
 public:
  // A clock that chooses its source at its first read, from RILL_CLOCK.
  constexpr EpochClock() noexcept = default;
  // A clock with the source `request` gets here (choose_clock_source()),
  // calibrated now.
  explicit EpochClock(ClockRequest request) noexcept;
  EpochClock(const EpochClock&) = delete;
  EpochClock& operator=(const EpochClock&) = delete;

  // Nanoseconds since the Unix epoch; never decreasing within a thread
  // (see the invariant above).
  std::int64_t now_ns() noexcept;

  // Chooses the source first if no read did yet.
  ClockSource source() noexcept;

  // Recalibrates now, whatever the period: a test hook. Waits for a
  // recalibration another thread is doing. No-op for realtime.
  void recalibrate_now() noexcept;

  // How many times the parameters were published (calibration included).
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_relaxed); }

  // Nanoseconds per tick of the current parameters, without their slew (0
  // before the first read, and for realtime).
  double ns_per_tick() const noexcept;

 private:
  static constexpr int kShift = 32;  // parameters' mult is ns per tick << kShift

  // c(t) = base_ns + ((t - base_tsc) * mult + base_frac) >> kShift for
  // t - base_tsc <= period, then on at rate_mult: continuous, increasing.
  // base_frac carries the fraction of a nanosecond the previous line had
  // reached at the switch, so that switching often loses nothing.
  struct alignas(64) Line {  // a cache line each: a writer filling one leaves the other alone
    std::atomic<std::uint64_t> base_tsc{0};
    std::atomic<std::int64_t> base_ns{0};
    std::atomic<std::uint64_t> base_frac{0};  // < 2^kShift
    std::atomic<std::uint64_t> mult{0};       // rate + slew
    std::atomic<std::uint64_t> period{0};     // ticks: the slew's end, and when to recalibrate
    std::atomic<std::uint64_t> rate_mult{0};  // rate alone
  };
  // The fast path's copy of the current line, as now_ns() reads it: at a
  // fixed place (no line to pick), one cache line, its sequence doubling as
  // the "no line" flag so that one test sends realtime, not-yet-calibrated
  // and being-republished alike to the slow path, before any rdtsc.
  // sequence: odd while there is no line to read here (initially, always
  // for realtime, and for the length of each publish()); even and new at
  // each publication, so a reader that loads the same even value before and
  // after its loads has read one publication whole.
  struct alignas(64) FastLine {
    std::atomic<std::uint64_t> sequence{1};
    std::atomic<std::uint64_t> base_tsc{0};
    std::atomic<std::int64_t> base_ns{0};
    std::atomic<std::uint64_t> base_frac{0};
    std::atomic<std::uint64_t> mult{0};
    std::atomic<std::uint64_t> period{0};
  };
  static_assert(sizeof(FastLine) == 64 && alignof(FastLine) == 64, "one cache line per read");
  enum : std::uint32_t { kUnset = 0, kModeTsc = 1, kModeRealtime = 2 };

  // Past calibration samples, for the rate: the oldest is about a second old.
  static constexpr int kHistory = 8;
  struct Calibration {
    TscSample samples[kHistory];
    int count = 0;       // valid samples, oldest first
    int recalibrations = 0;
  };

  // Every read the fast path does not finish: out of line, so that now_ns()
  // inlines to the fast path and one call.
  [[gnu::noinline]] std::int64_t now_slow() noexcept;
  void initialise(ClockRequest request) noexcept;
  // REQUIRES: updating_ held.
  void recalibrate_locked() noexcept;
  // Makes a new line current, in lines_ and then in fast_. It starts at the
  // tick read just before it is published: where the current line is then
  // (continuous), or where `sample` says the system clock is then (step).
  // REQUIRES: updating_ held.
  void publish(const TscSample& sample, bool step, double slewed_ns_per_tick, double ns_per_tick,
               std::uint64_t period) noexcept;
  // The line's value at `tsc` in 2^-kShift ns past its base_ns.
  static Uint128 fixed_value_on(const Line& line, std::uint64_t tsc) noexcept;
  static std::int64_t value_on(const Line& line, std::uint64_t tsc) noexcept;
  bool try_lock() noexcept;
  void unlock() noexcept;

  // Two sequence locks over the same parameters. fast_ is what now_ns()
  // reads; it is closed while a writer publishes, and readers then take the
  // slow path, which reads lines_ and never waits for a writer either:
  // lines_[generation_ & 1] is current; a writer fills the other and then
  // increments generation_; a reader that sees it change retries.
  FastLine fast_;
  alignas(64) std::atomic<std::uint64_t> generation_{0};
  Line lines_[2];
  std::atomic<std::uint32_t> mode_{kUnset};
  // Writer side, on its own cache line so that a try-lock does not take the
  // readers' line away from them.
  alignas(64) std::atomic<std::uint32_t> updating_{0};
  Calibration calibration_{};  // guarded by updating_

  friend class EpochClockTestPeer;  // tests/ipc/clock_test.cc: publishes lines of its choosing
};

// The process's clock (source from RILL_CLOCK at its first read).
inline EpochClock& epoch_clock() noexcept;

// Nanoseconds since the Unix epoch from the process's clock.
inline std::int64_t epoch_ns() noexcept;

// "tsc" or "realtime": the process's clock's source.
std::string_view clock_source() noexcept;

// CLOCK_MONOTONIC nanoseconds: deadlines, waits and elapsed time, comparable
// between the processes of one host (a futex sleep's deadline, a claim's
// patience, the registry lock's). Record timestamps use epoch_ns().
inline std::int64_t monotonic_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// CLOCK_REALTIME nanoseconds, read by clock_gettime(): wall-clock stamps on
// cold paths (when a reader registered) that are not worth epoch_ns()'s
// first-read calibration. Within kEpochClockErrorBoundNs of epoch_ns().
inline std::int64_t realtime_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Wall-clock seconds since the Unix epoch: the unit of file times
// (ShmListing::modified_s), for comparing with them.
inline std::int64_t wall_clock_s() noexcept { return realtime_ns() / 1'000'000'000; }

// ---------------------------------------------------------------------------

inline std::int64_t EpochClock::now_ns() noexcept {
#if defined(__x86_64__)
  // Pairs with publish()'s release store of an even sequence: the line
  // stored before it is visible. Odd: no line here (see FastLine).
  const std::uint64_t sequence = fast_.sequence.load(std::memory_order_acquire);
  if ((sequence & 1) == 0) [[likely]] {
    const std::uint64_t base_tsc = fast_.base_tsc.load(std::memory_order_relaxed);
    const std::int64_t base_ns = fast_.base_ns.load(std::memory_order_relaxed);
    const std::uint64_t base_frac = fast_.base_frac.load(std::memory_order_relaxed);
    const std::uint64_t mult = fast_.mult.load(std::memory_order_relaxed);
    const std::uint64_t period = fast_.period.load(std::memory_order_relaxed);
    // A bare rdtsc (an lfence would double the cost): it may be taken a
    // little before the loads above, so a tick under new parameters may be
    // a little before their base - a "negative" difference, which the slow
    // path reads as the base itself.
    const std::uint64_t ticks = __builtin_ia32_rdtsc() - base_tsc;
    // Pairs with publish()'s fence after it made the sequence odd: had a
    // writer begun on this line, the re-read below sees that odd value (or
    // a later one).
    std::atomic_thread_fence(std::memory_order_acquire);
    // Within the period, ticks * mult + base_frac fits 64 bits (publish()
    // bounds the period so); beyond it, or "negative": the slow path.
    if (ticks <= period && fast_.sequence.load(std::memory_order_relaxed) == sequence) [[likely]]
      return base_ns + static_cast<std::int64_t>((ticks * mult + base_frac) >> kShift);
  }
#endif
  return now_slow();
}

extern EpochClock g_epoch_clock;  // constant-initialised; use epoch_clock()

inline EpochClock& epoch_clock() noexcept { return g_epoch_clock; }

inline std::int64_t epoch_ns() noexcept { return g_epoch_clock.now_ns(); }

}  // namespace rill::ipc
