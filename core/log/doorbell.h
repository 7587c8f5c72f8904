// Doorbell: how readers sleep until a producer commits, within one process or
// across processes (the futex word lives in shared memory).
//
// Protocol (Dekker-style, no lost wake-ups):
//   producer: commit (release store); light fence; if sleepers != 0:
//             bump sequence, FUTEX_WAKE.
//   reader:   s = sequence; sleepers++; heavy fence; re-check the log;
//             FUTEX_WAIT(sequence, s); sleepers--.
// Either the producer sees the sleeper, or the reader's re-check sees the
// commit. The fences are asymmetric (ipc/membarrier.h): a producer's is a
// compiler barrier, and the reader's membarrier(2) runs a full barrier on
// every CPU running a producer, so a send pays no fence (a full fence cost a
// send the wait for its frame's lines to leave a spinning reader's cache).
//
// Where the reader's membarrier is refused, it sets fences_required_since in
// the doorbell, and from then on every producer that rings it uses a full
// fence. A producer already past its look at that word may still skip its
// fence once, so for a while after the switch a reader sleeps at most
// kSwitchSleepNs at a time and re-checks.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>

#include "ipc/clock.h"
#include "ipc/futex.h"
#include "ipc/membarrier.h"
#include "rill/wait.h"

namespace rill::log {

struct alignas(64) Doorbell {
  std::atomic<std::uint32_t> sequence;  // bumped by a producer that saw sleepers
  std::atomic<std::uint32_t> sleepers;  // readers inside (or entering) futex_wait
  // CLOCK_MONOTONIC ns when a reader without membarrier asked every producer
  // for full fences; 0 while none has.
  std::atomic<std::int64_t> fences_required_since;
  std::uint8_t pad[48];
};
static_assert(sizeof(Doorbell) == 64);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// The log layer's deadlines and waits: CLOCK_MONOTONIC, from ipc/clock.h.
using ipc::monotonic_ns;

// Sleeps in this process that ran to the full cap (kMaxSleepNs) although a
// commit had come and nobody rang: a lost wake-up (or a producer that died
// between its commit and its ring). Zero unless the protocol is broken; read
// by tests. Not counted while the doorbell is switching to full fences.
inline std::atomic<std::uint64_t> g_late_wakeups{0};

// Producer side: wakes sleepers, if any. Call after the commits of a send.
inline void ring_doorbell(Doorbell& bell) noexcept {
  // Pairs with the heavy fence in wait_on(): either the load of sleepers
  // sees the sleeper, or the sleeper's re-check sees the commit.
  // Relaxed: any change of the word is seen soon enough (wait_on() shortens
  // its sleeps for the switch).
  if (bell.fences_required_since.load(std::memory_order_relaxed) == 0) [[likely]] {
    ipc::light_fence();
  } else {
    // A reader could not use membarrier: a full fence, the Dekker pair of the
    // reader's seq_cst increment of sleepers before its re-check (wait_on()).
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  // Relaxed: ordered after the commits by the fence above, whose pair is
  // wait_on()'s increment of sleepers and heavy fence.
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
      std::this_thread::yield();
    } else {
      cpu_relax();
    }
  }
  // The sleep cap bounds the cost of a producer that died between its commit
  // and its wake-up call; 10 wake-ups a second cost no measurable CPU.
  constexpr std::int64_t kMaxSleepNs = 100'000'000;
  // After a switch to full fences: how long producers that had not seen it
  // yet may be around, and how long a sleep lasts meanwhile.
  constexpr std::int64_t kSwitchWindowNs = 1'000'000'000;
  constexpr std::int64_t kSwitchSleepNs = 1'000'000;
  for (;;) {
    // Pairs with ring_doorbell()'s release increment.
    const std::uint32_t seq = bell.sequence.load(std::memory_order_acquire);
    // seq_cst: ordered before the re-check of the log below; pairs with
    // ring_doorbell()'s fence and load of sleepers (Dekker).
    bell.sleepers.fetch_add(1, std::memory_order_seq_cst);
    std::int64_t sleep = kMaxSleepNs;
    if (!ipc::heavy_fence()) [[unlikely]] {  // pairs with the light fence in ring_doorbell()
      const std::int64_t now = monotonic_ns();
      // Relaxed: only says how long to sleep; the CAS below orders the switch.
      std::int64_t since = bell.fences_required_since.load(std::memory_order_relaxed);
      // seq_cst: ordered with this reader's re-check below, like its fence.
      if (since == 0 && bell.fences_required_since.compare_exchange_strong(since, now, std::memory_order_seq_cst))
        since = now;
      // A word from the future or the distant past (damage) means no recent
      // switch: nothing here overflows, and sleeps are not shortened for good.
      if (since > 0 && since <= now && now - since < kSwitchWindowNs) sleep = kSwitchSleepNs;
    }
    bool stop = ready();
    if (!stop && deadline_ns >= 0) {
      const std::int64_t left = deadline_ns - monotonic_ns();
      if (left <= 0) stop = true;
      else if (left < sleep) sleep = left;
    }
    const std::int64_t slept_from = stop ? 0 : monotonic_ns();
    if (!stop) ipc::futex_wait(&bell.sequence, seq, sleep);
    // Relaxed: a producer that still counts this reader only rings once more.
    bell.sleepers.fetch_sub(1, std::memory_order_relaxed);
    if (stop) return ready();
    if (ready()) {
      // Relaxed: an unchanged sequence means that no producer rang since seq.
      if (sleep == kMaxSleepNs && bell.sequence.load(std::memory_order_relaxed) == seq &&
          monotonic_ns() - slept_from >= kMaxSleepNs)
        g_late_wakeups.fetch_add(1, std::memory_order_relaxed);  // relaxed: a counter tests read after joining
      return true;
    }
  }
}

// A doorbell rung rarely, by a side that can afford a full fence, for a
// sleeper that must cost little each time it sleeps: no spinning, and no
// fence asked of every core (membarrier) - the flush lease holder's thread,
// which sleeps on flush_wanted about every millisecond, is such a sleeper.
// The Dekker pair is two full fences: the ringer's after its request and
// the sleeper's after counting itself in.
inline void ring_doorbell_fenced(Doorbell& bell) noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with sleep_on()'s fence
  // Relaxed: ordered by the fence above.
  if (bell.sleepers.load(std::memory_order_relaxed) != 0) {
    bell.sequence.fetch_add(1, std::memory_order_release);  // pairs with sleep_on()'s acquire load
    ipc::futex_wake_all(&bell.sequence);
  }
}

// Sleeps until ready() or the deadline (CLOCK_MONOTONIC ns; < 0 none),
// woken by ring_doorbell_fenced() only. Returns ready().
template <typename Ready>
bool sleep_on(Doorbell& bell, std::int64_t deadline_ns, Ready ready) noexcept {
  constexpr std::int64_t kMaxSleepNs = 100'000'000;  // as wait_on(): bounds a lost ringer's cost
  for (;;) {
    // Pairs with ring_doorbell_fenced()'s release increment.
    const std::uint32_t seq = bell.sequence.load(std::memory_order_acquire);
    // Relaxed increment, then a full fence before the re-check: either the
    // ringer sees this sleeper, or this re-check sees its request.
    bell.sleepers.fetch_add(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with ring_doorbell_fenced()'s fence
    const bool stop = ready();
    const std::int64_t left = deadline_ns < 0 ? kMaxSleepNs : std::min(deadline_ns - monotonic_ns(), kMaxSleepNs);
    if (!stop && left > 0) ipc::futex_wait(&bell.sequence, seq, left);
    bell.sleepers.fetch_sub(1, std::memory_order_relaxed);  // relaxed: a ringer that still counts it rings once more
    if (stop || ready()) return true;
    if (deadline_ns >= 0 && monotonic_ns() >= deadline_ns) return false;
  }
}

}  // namespace rill::log
