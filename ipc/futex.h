// Futex wait/wake on a 32-bit word that may live in memory shared between
// processes (no FUTEX_PRIVATE_FLAG).
#pragma once

#include <atomic>
#include <cstdint>

namespace rill::ipc {

// Sleeps while *word == expected, for at most timeout_ns (< 0: no limit).
// Returns on wake, timeout, signal or a changed word; callers re-check.
void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected, std::int64_t timeout_ns) noexcept;

// Wakes every waiter sleeping on `word`.
void futex_wake_all(std::atomic<std::uint32_t>* word) noexcept;

}  // namespace rill::ipc
