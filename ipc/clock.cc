#include "ipc/clock.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace rill::ipc {

constinit EpochClock g_epoch_clock;

namespace {

// The first calibration measures the rate over this long (spinning).
constexpr std::int64_t kBootstrapNs = 100'000;
// Recalibration periods: the first, doubling up to the steady one.
constexpr std::int64_t kFirstPeriodNs = 1'000'000;
constexpr std::int64_t kPeriodNs = 100'000'000;
// The largest slope correction: 1000 ppm makes up 100 us per 100 ms period.
constexpr double kMaxSlew = 1e-3;
// An error past this means the system clock was stepped: follow it, also back.
constexpr std::int64_t kStepNs = 100'000'000;
// Rates known less well than this are still used, as if known this well.
constexpr double kMaxUncertainty = 1e-2;
// A recalibration sample whose realtime read sat between TSC reads further
// apart than twice this (the thread was preempted there) pins the line no
// closer than that, which may be past kEpochClockErrorBoundNs: it is taken
// again, up to kSampleRetries times, and the narrowest kept.
constexpr std::int64_t kMaxSampleHalfWidthNs = kEpochClockErrorBoundNs / 4;
constexpr int kSampleRetries = 8;

std::int64_t clock_ns(clockid_t clock) noexcept {
  timespec ts;
  ::clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::uint64_t to_mult(double ns_per_tick, int shift) noexcept {
  return static_cast<std::uint64_t>(std::llround(std::ldexp(ns_per_tick, shift)));
}

}  // namespace

std::string_view clock_source_name(ClockSource source) noexcept {
  return source == ClockSource::kTsc ? "tsc" : "realtime";
}

ClockRequest parse_clock_request(const char* value) noexcept {
  if (value == nullptr || *value == '\0' || std::strcmp(value, "auto") == 0) return ClockRequest::kAuto;
  if (std::strcmp(value, "tsc") == 0) return ClockRequest::kTsc;
  if (std::strcmp(value, "realtime") == 0) return ClockRequest::kRealtime;
  std::fprintf(stderr, "rill: RILL_CLOCK=%s is not tsc, realtime or auto; using auto\n", value);
  return ClockRequest::kAuto;
}

ClockRequest clock_request_from_env() noexcept { return parse_clock_request(std::getenv("RILL_CLOCK")); }

bool tsc_is_invariant() noexcept {
#if defined(__x86_64__)
  static const bool invariant = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx) == 0) return false;
    return (edx & (1u << 8)) != 0;
  }();
  return invariant;
#else
  return false;
#endif
}

ClockSource choose_clock_source(ClockRequest request, bool tsc_invariant) noexcept {
  if (request == ClockRequest::kRealtime || !tsc_invariant) return ClockSource::kRealtime;
  return ClockSource::kTsc;
}

TscSample sample_tsc(clockid_t clock) noexcept {
  TscSample best;
  best.half_width = ~std::uint64_t{0};
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t before = read_tsc();
    const std::int64_t ns = clock_ns(clock);
    const std::uint64_t after = read_tsc();
    if (after < before) continue;  // migrated to a core whose counter is behind
    const std::uint64_t half = (after - before) / 2;
    if (half < best.half_width) best = TscSample{before + half, ns, half};
  }
  if (best.half_width == ~std::uint64_t{0}) best = TscSample{read_tsc(), clock_ns(clock), 0};
  return best;
}

double measure_tsc_ns_per_tick(clockid_t clock, std::int64_t window_ns) noexcept {
  const TscSample first = sample_tsc(clock);
  std::this_thread::sleep_for(std::chrono::nanoseconds(window_ns));
  const TscSample last = sample_tsc(clock);
  if (last.tsc <= first.tsc || last.ns <= first.ns) return 0;
  return static_cast<double>(last.ns - first.ns) / static_cast<double>(last.tsc - first.tsc);
}

// ---------------------------------------------------------------------------

EpochClock::EpochClock(ClockRequest request) noexcept { initialise(request); }

ClockSource EpochClock::source() noexcept {
  // Pairs with the release store at the end of initialise().
  if (mode_.load(std::memory_order_acquire) == kUnset) initialise(clock_request_from_env());
  return mode_.load(std::memory_order_acquire) == kModeTsc ? ClockSource::kTsc : ClockSource::kRealtime;
}

double EpochClock::ns_per_tick() const noexcept {
  // Pairs with publish()'s release increment.
  const std::uint64_t generation = generation_.load(std::memory_order_acquire);
  // Relaxed: a stale mode_ only reads as no rate yet, and the acquire above
  // orders the line's rate_mult after publish()'s stores.
  if (mode_.load(std::memory_order_relaxed) != kModeTsc) return 0;
  return std::ldexp(static_cast<double>(lines_[generation & 1].rate_mult.load(std::memory_order_relaxed)), -kShift);
}

bool EpochClock::try_lock() noexcept {
  // The relaxed load only spares a contended exchange. The exchange's acquire
  // pairs with unlock()'s release: the last writer's calibration_ is visible.
  return updating_.load(std::memory_order_relaxed) == 0 && updating_.exchange(1, std::memory_order_acquire) == 0;
}

void EpochClock::unlock() noexcept {
  // Pairs with try_lock()'s acquire.
  updating_.store(0, std::memory_order_release);
}

// The line's fields are relaxed loads inside a sequence lock. Readers
// (now_slow(), ns_per_tick()) order them by their acquire of generation_,
// which pairs with publish()'s release increment, and now_slow() validates
// them with an acquire fence and a re-read of generation_, which pair with
// publish()'s release fence before it fills a line. The writer reads the
// current line under the lock, whose acquire orders the last writer's stores.
Uint128 EpochClock::fixed_value_on(const Line& line, std::uint64_t tsc) noexcept {
  const std::uint64_t base_tsc = line.base_tsc.load(std::memory_order_relaxed);
  const std::uint64_t base_frac = line.base_frac.load(std::memory_order_relaxed);
  const std::uint64_t mult = line.mult.load(std::memory_order_relaxed);
  const std::uint64_t period = line.period.load(std::memory_order_relaxed);
  const std::uint64_t rate_mult = line.rate_mult.load(std::memory_order_relaxed);
  // A tick before the base (another core's counter a little behind) reads as the base.
  const std::uint64_t ticks = static_cast<std::int64_t>(tsc - base_tsc) < 0 ? 0 : tsc - base_tsc;
  if (ticks <= period) return static_cast<Uint128>(ticks) * mult + base_frac;
  return static_cast<Uint128>(period) * mult + base_frac + static_cast<Uint128>(ticks - period) * rate_mult;
}

// Relaxed, as in fixed_value_on(): the caller's sequence lock orders it.
std::int64_t EpochClock::value_on(const Line& line, std::uint64_t tsc) noexcept {
  return line.base_ns.load(std::memory_order_relaxed) + static_cast<std::int64_t>(fixed_value_on(line, tsc) >> kShift);
}

std::int64_t EpochClock::now_slow() noexcept {
  for (;;) {
    // Pairs with the release store at the end of initialise().
    const std::uint32_t mode = mode_.load(std::memory_order_acquire);
    if (mode == kUnset) {
      initialise(clock_request_from_env());
      continue;
    }
    if (mode == kModeRealtime) return clock_ns(CLOCK_REALTIME);
    // Pairs with publish()'s release increment.
    const std::uint64_t generation = generation_.load(std::memory_order_acquire);
    const Line& line = lines_[generation & 1];
    const std::uint64_t tsc = read_tsc();
    // Relaxed, ordered by the acquire above: a line being refilled at worst
    // misjudges expiry, which the re-checks of generation_ below catch.
    const std::uint64_t since = tsc - line.base_tsc.load(std::memory_order_relaxed);
    const bool expired = static_cast<std::int64_t>(since) > 0 && since > line.period.load(std::memory_order_relaxed);
    if (expired && try_lock()) {
      // Another thread may have recalibrated between our look and the lock.
      // Relaxed: the lock's acquire orders the last writer's store of generation_.
      if (generation_.load(std::memory_order_relaxed) == generation) recalibrate_locked();
      unlock();
      continue;
    }
    const std::int64_t value = value_on(line, tsc);
    // Pairs with publish()'s release fence before it fills `next`, and orders
    // the line's loads before the relaxed re-read of generation_ below.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (generation_.load(std::memory_order_relaxed) == generation) return value;
  }
}

void EpochClock::recalibrate_now() noexcept {
  if (source() != ClockSource::kTsc) return;
  while (!try_lock()) std::this_thread::yield();
  recalibrate_locked();
  unlock();
}

void EpochClock::initialise(ClockRequest request) noexcept {
  while (!try_lock()) {
    // Pairs with the release store below: another thread is calibrating.
    if (mode_.load(std::memory_order_acquire) != kUnset) return;
    std::this_thread::yield();
  }
  if (mode_.load(std::memory_order_relaxed) != kUnset) {  // relaxed: the lock's acquire orders it
    unlock();
    return;
  }
  const ClockSource source = choose_clock_source(request, tsc_is_invariant());
  if (request == ClockRequest::kTsc && source != ClockSource::kTsc)
    std::fprintf(stderr, "rill: RILL_CLOCK=tsc, but this CPU reports no invariant TSC; using realtime\n");
  std::uint32_t mode = kModeRealtime;
  if (source == ClockSource::kTsc) {
    const TscSample first = sample_tsc(CLOCK_REALTIME);
    while (clock_ns(CLOCK_REALTIME) - first.ns < kBootstrapNs) {
    }
    const TscSample second = sample_tsc(CLOCK_REALTIME);
    if (second.tsc > first.tsc && second.ns > first.ns) {
      calibration_.samples[0] = first;
      calibration_.count = 1;
      calibration_.recalibrations = 0;
      const double ns_per_tick =
          static_cast<double>(second.ns - first.ns) / static_cast<double>(second.tsc - first.tsc);
      publish(second, /*step=*/true, ns_per_tick, ns_per_tick,
              static_cast<std::uint64_t>(static_cast<double>(kFirstPeriodNs) / ns_per_tick));
      mode = kModeTsc;
      recalibrate_locked();  // folds the second sample in, with its uncertainty
    }
  }
  // Pairs with the acquire loads of mode_ in now_slow() and source().
  mode_.store(mode, std::memory_order_release);
  unlock();
}

void EpochClock::recalibrate_locked() noexcept {
  Calibration& cal = calibration_;
  // Relaxed: under the lock, whose acquire orders the last writer's stores.
  const Line& line = lines_[generation_.load(std::memory_order_relaxed) & 1];
  const double old_rate = std::ldexp(static_cast<double>(line.rate_mult.load(std::memory_order_relaxed)), -kShift);
  TscSample now = sample_tsc(CLOCK_REALTIME);
  const auto too_wide = [&](const TscSample& s) {
    return old_rate > 0 && static_cast<double>(s.half_width) * old_rate > static_cast<double>(kMaxSampleHalfWidthNs);
  };
  for (int retry = 0; retry < kSampleRetries && too_wide(now); ++retry) {
    const TscSample again = sample_tsc(CLOCK_REALTIME);
    if (again.half_width < now.half_width) now = again;
  }

  // The rate, over the window from the oldest sample kept to this one; how
  // well it is known follows from both samples' widths.
  const TscSample& oldest = cal.samples[0];
  double rate = old_rate, uncertainty = kMaxUncertainty;
  if (cal.count > 0 && now.tsc > oldest.tsc && now.ns > oldest.ns) {
    const double window_ns = static_cast<double>(now.ns - oldest.ns);
    rate = window_ns / static_cast<double>(now.tsc - oldest.tsc);
    uncertainty = std::min(kMaxUncertainty,
                           (static_cast<double>(oldest.half_width + now.half_width) * rate + 1.0) / window_ns);
  }
  // Aim a little slow, by as much as the rate may be off: left alone for
  // long, the clock falls behind, which the next recalibration can step
  // forward, rather than running ahead, which it could only slew back.
  double slow_rate = rate * (1.0 - uncertainty);

  const int k = std::min(cal.recalibrations++, 20);
  const std::int64_t period_ns = std::min(kPeriodNs, kFirstPeriodNs << k);
  const std::uint64_t period = static_cast<std::uint64_t>(static_cast<double>(period_ns) / slow_rate);

  // The error at the sample: realtime minus this clock.
  const std::int64_t error = now.ns - value_on(line, now.tsc);
  double slewed_rate = slow_rate;
  bool step = false;
  if (error > static_cast<std::int64_t>(kMaxSlew * static_cast<double>(period_ns)) || error < -kStepNs) {
    step = true;
  } else {
    const double correction = std::clamp(static_cast<double>(error) / static_cast<double>(period_ns), -kMaxSlew, kMaxSlew);
    slewed_rate = slow_rate * (1.0 + correction);
  }
  if (error > kStepNs || error < -kStepNs) {
    // The system clock was stepped: samples from before say nothing of the rate.
    cal.count = 0;
    slow_rate = old_rate > 0 ? old_rate : rate;
    slewed_rate = slow_rate;
  }
  // Keep the sample if it lengthens the window enough to matter.
  if (cal.count == 0 || now.tsc - cal.samples[cal.count - 1].tsc >= period / 2) {
    if (cal.count == kHistory) {
      std::copy(cal.samples + 1, cal.samples + kHistory, cal.samples);
      --cal.count;
    }
    cal.samples[cal.count++] = now;
  }
  publish(now, step, slewed_rate, slow_rate, period);
}

void EpochClock::publish(const TscSample& sample, bool step, double slewed_ns_per_tick, double ns_per_tick,
                         std::uint64_t period) noexcept {
  // Close the fast path first (only writers store the sequence; it is odd
  // before the first publication). The load is relaxed, as only the lock
  // holder stores it; the full fence below orders the store.
  const std::uint64_t closed = fast_.sequence.load(std::memory_order_relaxed) | 1;
  fast_.sequence.store(closed, std::memory_order_relaxed);
  // Pairs with the acquire fence in now_ns(): a reader that sees any store
  // to fast_ below re-reads the sequence as at least `closed`, and takes the
  // slow path. A full fence: `closed` is visible to every reader before the
  // switch tick is read below, so that a fast read on the old line takes its
  // tick before that switch tick - give or take its own out-of-order rdtsc.
  std::atomic_thread_fence(std::memory_order_seq_cst);

  const std::uint64_t generation = generation_.load(std::memory_order_relaxed);  // only writers store it
  const Line& current = lines_[generation & 1];
  Line& next = lines_[(generation + 1) & 1];
  // Pairs with the acquire fence in now_slow(): a reader still on the
  // generation that last used `next` and seeing any store below re-reads
  // generation_ as at least `generation`, and retries.
  std::atomic_thread_fence(std::memory_order_release);
  // now_ns() computes ticks * mult + base_frac in 64 bits for ticks up to the period.
  const std::uint64_t mult = to_mult(slewed_ns_per_tick, kShift);
  // The stores to `next` are relaxed: the fence above orders them for
  // now_slow()'s re-check, and generation_'s release increment publishes them.
  next.mult.store(mult, std::memory_order_relaxed);
  next.rate_mult.store(to_mult(ns_per_tick, kShift), std::memory_order_relaxed);
  period = std::min(period, (~std::uint64_t{0} - (std::uint64_t{1} << kShift)) / std::max<std::uint64_t>(mult, 1));
  next.period.store(period, std::memory_order_relaxed);
  // The switch tick is read last, just before the new line is published,
  // and the new line starts where the old one is at that tick: a reader on
  // the old line read its tick before this one (give or take the flight of
  // the store below), so the clock is continuous and never goes back.
  const std::uint64_t switch_tsc = read_tsc();
  std::int64_t base_ns;
  std::uint64_t base_frac = 0;
  if (step) {
    base_ns = sample.ns + static_cast<std::int64_t>(static_cast<double>(switch_tsc - sample.tsc) * ns_per_tick);
  } else {
    const Uint128 past = fixed_value_on(current, switch_tsc);
    // Relaxed: only the lock holder stores the lines.
    base_ns = current.base_ns.load(std::memory_order_relaxed) + static_cast<std::int64_t>(past >> kShift);
    base_frac = static_cast<std::uint64_t>(past) & ((std::uint64_t{1} << kShift) - 1);
  }
  // Relaxed, as the stores to `next` above.
  next.base_tsc.store(switch_tsc, std::memory_order_relaxed);
  next.base_ns.store(base_ns, std::memory_order_relaxed);
  next.base_frac.store(base_frac, std::memory_order_relaxed);
  // Pairs with the acquire loads of generation_ in now_slow().
  generation_.store(generation + 1, std::memory_order_release);

  // Open the fast path on the new line. The relaxed stores pair with now_ns()'s
  // loads as a sequence lock's: a reader that sees one before the release
  // store below fails its re-check (the full fence above), one that sees that
  // store sees them all.
  fast_.base_tsc.store(switch_tsc, std::memory_order_relaxed);
  fast_.base_ns.store(base_ns, std::memory_order_relaxed);
  fast_.base_frac.store(base_frac, std::memory_order_relaxed);
  fast_.mult.store(mult, std::memory_order_relaxed);
  fast_.period.store(period, std::memory_order_relaxed);
  // Pairs with the acquire load of the sequence in now_ns().
  fast_.sequence.store(closed + 1, std::memory_order_release);
}

std::string_view clock_source() noexcept { return clock_source_name(g_epoch_clock.source()); }

}  // namespace rill::ipc
