#include "ipc/robust_mutex.h"

#include <linux/futex.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

#include "ipc/clock.h"
#include "ipc/faults.h"
#include "ipc/futex.h"
#include "ipc/shm_region.h"

namespace rill::ipc {
namespace {

std::uint32_t* lock_word(pthread_mutex_t* m) noexcept { return reinterpret_cast<std::uint32_t*>(&m->__data.__lock); }

bool thread_exists(pid_t tid) noexcept { return !(::kill(tid, 0) != 0 && errno == ESRCH); }

// The process thread `tid` belongs to (the "Tgid:" of /proc/<tid>/status,
// which any user may read); nullopt if there is no such thread.
std::optional<pid_t> thread_group(pid_t tid) {
  const std::string path = "/proc/" + std::to_string(tid) + "/status";
  std::FILE* status = refused(OsCall::kProcRead, path) ? nullptr : std::fopen(path.c_str(), "re");
  if (status == nullptr) return std::nullopt;
  std::optional<pid_t> tgid;
  char line[256];
  while (!tgid && std::fgets(line, sizeof line, status) != nullptr) {
    int value = 0;
    if (std::sscanf(line, "Tgid: %d", &value) == 1 && value > 0) tgid = value;
  }
  std::fclose(status);
  return tgid;
}

struct MapsEntry {
  std::uintptr_t start = 0, end = 0;
  unsigned dev_major = 0, dev_minor = 0;
  unsigned long long inode = 0;
};

// Whether a line of /proc/<tid>/maps satisfies `match` (stored in *out).
// *unreadable (if given): the file could not be read through.
template <typename Match>
bool find_mapping(pid_t tid, const Match& match, MapsEntry* out, bool* unreadable = nullptr) {
  const std::string path = "/proc/" + std::to_string(tid) + "/maps";
  std::FILE* maps = refused(OsCall::kProcRead, path) ? nullptr : std::fopen(path.c_str(), "re");
  if (maps == nullptr) {
    if (unreadable != nullptr) *unreadable = true;
    return false;
  }
  bool found = false;
  char line[4096];
  while (!found && std::fgets(line, sizeof line, maps) != nullptr) {
    // "start-end perms offset major:minor inode [path]"
    MapsEntry e;
    unsigned long start = 0, end = 0;
    if (std::sscanf(line, "%lx-%lx %*s %*x %x:%x %llu", &start, &end, &e.dev_major, &e.dev_minor, &e.inode) != 5)
      continue;
    e.start = start;
    e.end = end;
    if (match(e)) {
      found = true;
      if (out != nullptr) *out = e;
    }
  }
  if (unreadable != nullptr && std::ferror(maps)) *unreadable = true;
  std::fclose(maps);
  return found;
}

}  // namespace

int RobustMutex::init(pthread_mutex_t* m) noexcept {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  const int rc = pthread_mutex_init(m, &attr);
  pthread_mutexattr_destroy(&attr);
  return rc;
}

bool RobustMutex::kind_sound() const noexcept {
  static const int expected = [] {
    pthread_mutex_t probe;
    (void)init(&probe);
    const int kind = probe.__data.__kind;
    pthread_mutex_destroy(&probe);
    return kind;
  }();
  // Relaxed: __kind is written once, at init, before the registry is
  // published (its magic's release); this load only compares it.
  return std::atomic_ref<int>(m_->__data.__kind).load(std::memory_order_relaxed) == expected;
}

int RobustMutex::lock_for_a_second() noexcept {
  timespec until{};
  ::clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 1;
  const int rc = pthread_mutex_timedlock(m_, &until);
#if defined(__SANITIZE_THREAD__)
  if (rc == EOWNERDEAD) {
    // ThreadSanitizer's timedlock records a lock only when it returns 0;
    // EOWNERDEAD also hands this thread the mutex.
    __tsan_mutex_pre_lock(m_, __tsan_mutex_try_lock);
    __tsan_mutex_post_lock(m_, __tsan_mutex_try_lock, 0);
  }
#endif
  return rc;
}

void RobustMutex::make_consistent() noexcept { pthread_mutex_consistent(m_); }

void RobustMutex::unlock() noexcept { pthread_mutex_unlock(m_); }

std::uint32_t RobustMutex::word() const noexcept {
  return std::atomic_ref<std::uint32_t>(*lock_word(m_)).load(std::memory_order_relaxed);
}

pid_t RobustMutex::holder(std::uint32_t word) noexcept { return static_cast<pid_t>(word & FUTEX_TID_MASK); }

void RobustMutex::mark_owner_dead(std::uint32_t seen) noexcept {
  std::uint32_t expected = seen;
  // acq_rel: pairs with glibc's own atomic operations on the word (its lock
  // CAS and unlock exchange), so that the waker and the woken agree on it.
  if (std::atomic_ref<std::uint32_t>(*lock_word(m_))
          .compare_exchange_strong(expected, (seen & FUTEX_WAITERS) | FUTEX_OWNER_DIED, std::memory_order_acq_rel))
    futex_wake_all(reinterpret_cast<std::atomic<std::uint32_t>*>(lock_word(m_)));
}

Holder check_holder(pid_t tid, const void* lock_address) {
  if (tid == 0 || !thread_exists(tid)) return Holder::kCannotHold;
  const auto here = reinterpret_cast<std::uintptr_t>(lock_address);
  MapsEntry mine;
  if (!find_mapping(::getpid(), [&](const MapsEntry& e) { return e.start <= here && here < e.end; }, &mine))
    return Holder::kUnverifiable;
  bool unreadable = false;
  const auto same_object = [&](const MapsEntry& e) {
    return e.inode == mine.inode && e.dev_major == mine.dev_major && e.dev_minor == mine.dev_minor;
  };
  if (find_mapping(tid, same_object, nullptr, &unreadable)) return Holder::kMapsLock;
  if (!unreadable) return Holder::kCannotHold;
  const std::optional<pid_t> process = thread_group(tid);
  if (!process)  // gone meanwhile, or hidden from this user (/proc mounted hidepid=)
    return thread_exists(tid) ? Holder::kUnverifiable : Holder::kCannotHold;
  auto announced = announces_mapping(*process, {mine.dev_major, mine.dev_minor, mine.inode});
  if (!announced) return Holder::kUnverifiable;
  return *announced ? Holder::kMapsLock : Holder::kCannotHold;
}

int lock_shared_raw(RobustMutex mutex, const void* lock_address, std::int64_t patience_ns, const std::string& what,
                    const std::string& advice, Status* error) {
  if (!mutex.kind_sound()) {
    *error = Status(Code::kCorrupt, "the lock of " + what + " is damaged (its mutex type changed); " + advice);
    return -1;
  }
  std::uint32_t last = mutex.word();
  std::int64_t held_since = monotonic_ns();
  for (;;) {
    const int rc = mutex.lock_for_a_second();
    if (rc == 0 || rc == EOWNERDEAD) return rc;
    if (rc != ETIMEDOUT) {
      *error = Status(Code::kCorrupt, "the lock of " + what + " is damaged (" + std::strerror(rc) + "); " + advice);
      return -1;
    }
    const std::uint32_t seen = mutex.word();
    const std::int64_t now = monotonic_ns();
    if (seen != last) {  // it changed hands: a new holder, a new wait
      last = seen;
      held_since = now;
      continue;
    }
    const pid_t holder = RobustMutex::holder(seen);
    const Holder who = check_holder(holder, lock_address);
    if (who == Holder::kCannotHold) {
      // Unchanged for a round and held by no thread that could hold it: do
      // what the kernel does when a robust futex's owner dies. The next
      // locker then gets EOWNERDEAD and repairs.
      mutex.mark_owner_dead(seen);
      continue;
    }
    if (now - held_since >= patience_ns) {
      const std::string held = "the lock of " + what + " has been held by thread " + std::to_string(holder) + " for " +
                               std::to_string((now - held_since) / 1'000'000'000) + " s; ";
      // Killing is advised only for a process known to map the lock.
      if (who == Holder::kMapsLock)
        *error = Status(Code::kTimedOut, held + "if that process is stuck, stop it (`kill " + std::to_string(holder) +
                                             "`) and try again");
      else
        *error = Status(Code::kTimedOut, held + "this user cannot tell whether its process uses it (neither its "
                                               "memory map nor /proc/locks can be read); try again later");
      return -1;
    }
  }
}

}  // namespace rill::ipc
