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

// pthread_atfork(3): `prepare` runs in the forking thread before fork(),
// `parent` and `child` after it in each process. For process-wide state that
// a forked child must not inherit half-held (a mutex another thread held).
void at_fork(void (*prepare)(), void (*parent)(), void (*child)()) noexcept;

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

// Whether a process with this pid exists now (kill(pid, 0) finds it, or finds
// it but may not signal it: EPERM); false for pid <= 0, which names no process.
// The weak, pid-only check, unsafe in general (see the top of this file): a
// dead process's reused pid reads as alive. Only for a word with room for a
// pid and nothing more - the process abandoning a dead producer's claim, or
// finishing a dead roller's roll, in the upper half of a claim slot's state
// word, beside the state it moves by CAS. There it is acceptable: the pid
// stands in that word only for the length of one such rescue, and a wrong
// "alive" only makes the caller wait for it (a claim gives up at its
// patience, kStalled), never take over a live process's work. Every other
// owner is a ProcessId, judged by liveness().
bool pid_exists(pid_t pid) noexcept;

}  // namespace rill::ipc
