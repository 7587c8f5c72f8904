#include "ipc/liveness.h"

#include "ipc/faults.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace rill::ipc {
namespace {

// Reads /proc/<pid>/stat: the state letter and the start time. The command
// name (field 2) may hold spaces and parentheses, so parsing starts after
// the last ')'. Allocation-free and async-signal-safe enough for a reaper.
bool read_stat(pid_t pid, char* state, std::uint64_t* start_time) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = refused(OsCall::kProcRead, path) ? -1 : ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] != ' ') return false;
  p += 2;
  *state = *p;
  // Fields after the name: 3 state ... 22 starttime; skip 19 separators.
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (p == nullptr) return false;
    ++p;
  }
  char* end = nullptr;
  *start_time = std::strtoull(p, &end, 10);
  return end != p;
}

}  // namespace

ProcessId identify(pid_t pid) noexcept {
  char state = 0;
  std::uint64_t start = 0;
  if (pid <= 0 || !read_stat(pid, &state, &start)) return {};
  return ProcessId{static_cast<std::int32_t>(pid), 0, start};
}

pid_t current_pid() noexcept { return ::getpid(); }

void at_fork(void (*prepare)(), void (*parent)(), void (*child)()) noexcept {
  (void)::pthread_atfork(prepare, parent, child);
}

bool pid_exists(pid_t pid) noexcept { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }
pid_t current_tid() noexcept { return ::gettid(); }

ProcessId self() noexcept {
  static thread_local ProcessId cached;
  const pid_t pid = ::getpid();
  if (cached.pid != pid) cached = identify(pid);
  return cached;
}

namespace {

Liveness probe(const ProcessId& id, std::uint64_t start_mask) noexcept {
  // pid <= 0 names no process (kill() would read it as a process group): a
  // damaged word, never a live owner.
  if (id.pid <= 0) return Liveness::kDead;
  char state = 0;
  std::uint64_t start = 0;
  if (!read_stat(id.pid, &state, &start)) {
    // No /proc entry we can read (hidepid, no /proc): trust only the pid, and
    // on the side of caution (a live process's claim is never abandoned).
    return pid_exists(id.pid) ? Liveness::kAlive : Liveness::kDead;
  }
  if ((start & start_mask) != id.start_time) return Liveness::kDead;  // the pid was reused
  if (state == 'Z' || state == 'X') return Liveness::kDead;
  return Liveness::kAlive;
}

}  // namespace

Liveness liveness(const ProcessId& id) noexcept { return probe(id, ~std::uint64_t{0}); }

Liveness liveness_packed(std::uint64_t word) noexcept {
  return probe(ProcessId::unpacked(word), 0xFFFFFFFFull);
}

}  // namespace rill::ipc
