// Doorbell: how readers sleep until a producer commits, within one process or
// across processes (the futex word lives in shared memory).
//
// Protocol (Dekker-style, no lost wake-ups):
//   producer: commit (release store); seq_cst fence; if sleepers != 0:
//             bump sequence, FUTEX_WAKE.
//   reader:   s = sequence; sleepers++; seq_cst fence; re-check the log;
//             FUTEX_WAIT(sequence, s); sleepers--.
// Either the producer sees the sleeper, or the reader's re-check sees the commit.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>
#include <ctime>

#include "ipc/futex.h"
#include "rill/wait.h"

namespace rill::log {

struct alignas(64) Doorbell {
  std::atomic<std::uint32_t> sequence;  // bumped by a producer that saw sleepers
  std::atomic<std::uint32_t> sleepers;  // readers inside (or entering) futex_wait
  std::uint8_t pad[56];
};
static_assert(sizeof(Doorbell) == 64);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

inline std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// Producer side: wakes sleepers, if any. Call after the commits of a send.
inline void ring_doorbell(Doorbell& bell) noexcept {
  // Pairs with the seq_cst fence in wait_on(): either this load sees the
  // sleeper, or the sleeper's re-check sees the commit.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (bell.sleepers.load(std::memory_order_relaxed) != 0) {
    bell.sequence.fetch_add(1, std::memory_order_release);  // pairs with wait_on()'s acquire load
    ipc::futex_wake_all(&bell.sequence);
  }
}

// Waits until ready() is true or the deadline (CLOCK_MONOTONIC ns; < 0 none)
// passes, per `strategy`. Returns ready().
template <typename Ready>
bool wait_on(Doorbell& bell, WaitStrategy strategy, std::int64_t deadline_ns, Ready ready) noexcept {
  // About 25 us of pause instructions here: long enough to catch a record
  // that is on its way, short enough that a steady trickle lets us sleep.
  constexpr int kSpinsBeforeSleep = 1024;
  constexpr int kSpinsBeforeYield = 256;
  for (int i = 0; strategy != WaitStrategy::kBlock || i < kSpinsBeforeSleep; ++i) {
    if (ready()) return true;
    if ((i & 255) == 255 && deadline_ns >= 0 && monotonic_ns() >= deadline_ns) return false;
    if (strategy == WaitStrategy::kSpinThenYield && i >= kSpinsBeforeYield) {
      ::sched_yield();
    } else {
      cpu_relax();
    }
  }
  // The sleep cap bounds the cost of a producer that died between its commit
  // and its wake-up call; 10 wake-ups a second cost no measurable CPU.
  constexpr std::int64_t kMaxSleepNs = 100'000'000;
  for (;;) {
    // Pairs with ring_doorbell()'s release increment.
    const std::uint32_t seq = bell.sequence.load(std::memory_order_acquire);
    bell.sleepers.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the fence in ring_doorbell()
    std::int64_t sleep = kMaxSleepNs;
    bool stop = ready();
    if (!stop && deadline_ns >= 0) {
      const std::int64_t left = deadline_ns - monotonic_ns();
      if (left <= 0) stop = true;
      else if (left < sleep) sleep = left;
    }
    if (!stop) ipc::futex_wait(&bell.sequence, seq, sleep);
    bell.sleepers.fetch_sub(1, std::memory_order_relaxed);
    if (stop || ready()) return ready();
  }
}

}  // namespace rill::log
