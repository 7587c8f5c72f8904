// Who a process is, in a form that survives pid reuse, and whether it is
// still alive. A pid alone is not enough: the kernel reuses pids, so a dead
// producer's pid may name an unrelated process a minute later. A pid with
// the process's start time (clock ticks since boot, /proc/<pid>/stat field
// 22) names one process for the life of the machine.
//
// A stopped process (SIGSTOP, a debugger) is alive; a zombie is dead (it
// will never run again). Where /proc/<pid>/stat cannot be read (no /proc,
// hidepid), a process that kill(pid, 0) finds is taken as alive: rill only
// ever errs towards waiting, never towards abandoning a live process's work.
// Thread safety: pure functions.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace rill::ipc {

struct ProcessId {
  std::int32_t pid = 0;          // 0: nobody
  std::uint32_t reserved = 0;
  std::uint64_t start_time = 0;  // clock ticks after boot

  bool empty() const noexcept { return pid == 0; }
  friend bool operator==(const ProcessId&, const ProcessId&) = default;

  // One 64-bit word for shared memory: pid | (start time mod 2^32) << 32. Two
  // processes with one pid and start times 2^32 ticks (497 days at 100 Hz)
  // apart are the only ones it confuses.
  std::uint64_t packed() const noexcept {
    return static_cast<std::uint32_t>(pid) | (start_time << 32);
  }
  // The inverse; start_time then holds only its low 32 bits.
  static ProcessId unpacked(std::uint64_t word) noexcept {
    return ProcessId{static_cast<std::int32_t>(static_cast<std::uint32_t>(word)), 0, word >> 32};
  }
};
static_assert(sizeof(ProcessId) == 16);

// This process. Computed once and cached (the answer never changes, except
// in a forked child, which gets its own: the cache is keyed by getpid()).
ProcessId self() noexcept;

// getpid() and gettid() of the calling thread.
pid_t current_pid() noexcept;
pid_t current_tid() noexcept;

// The identity of `pid` now; empty if there is no such process.
ProcessId identify(pid_t pid) noexcept;

enum class Liveness : std::uint8_t {
  kAlive,    // the process exists with the same start time (running, sleeping or stopped)
  kDead,     // no such process, a zombie, or the pid now names another process
};
Liveness liveness(const ProcessId& id) noexcept;
// The same for a packed() identity (start times compared mod 2^32).
Liveness liveness_packed(std::uint64_t word) noexcept;
inline bool alive(const ProcessId& id) noexcept { return !id.empty() && liveness(id) == Liveness::kAlive; }

}  // namespace rill::ipc
