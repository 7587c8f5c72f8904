// Asymmetric fences with membarrier(2): the frequent side of a Dekker pair
// (a producer ringing a doorbell on every send) orders its store before its
// load with a compiler barrier alone, and the rare side (a reader about to
// sleep) pays for both with one membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED),
// which runs a full barrier on every CPU that is running a thread of a
// process registered for it. A thread that is not running has passed one
// anyway (a context switch is a full barrier).
//
// Where the kernel (< 4.16) or a seccomp filter refuses membarrier, or
// RILL_MEMBARRIER=off is set, the light side stays a full fence and the
// heavy side reports that it could not run (see log/doorbell.h).
#pragma once

#include <atomic>

namespace rill::ipc {

namespace detail {
inline std::atomic<bool> g_light_fences{false};
}  // namespace detail

// Registers this process for the heavy side's barriers, once; later calls
// return the first one's answer. True when this process's light fences may
// be compiler barriers.
bool enable_light_fences() noexcept;

// Whether enable_light_fences() succeeded in this process (a relaxed load of
// a flag that never changes after it is set).
inline bool light_fences() noexcept { return detail::g_light_fences.load(std::memory_order_relaxed); }

// The light side: a compiler barrier where light fences are enabled, a full
// fence otherwise.
inline void light_fence() noexcept {
  if (light_fences()) [[likely]] {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

// The heavy side: a full fence here and on every CPU running a registered
// process's thread. False when membarrier was refused (the caller then has
// only its own full fence, which this also issues).
bool heavy_fence() noexcept;

// Tests: makes heavy_fence() in this process report a refusal, as on a
// kernel without membarrier, while light fences stay as they are.
void refuse_heavy_fences_for_testing(bool refuse) noexcept;

}  // namespace rill::ipc
