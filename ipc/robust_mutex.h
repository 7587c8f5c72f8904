// A robust, process-shared pthread mutex living in shared memory that other
// processes can write, and the checks that keep a damaged or forged one from
// hanging its lockers: the registry lock of a shared namespace.
//
// glibc already hands the next locker EOWNERDEAD when a holder dies (the
// kernel walks the dead thread's robust list). What it cannot notice is a lock
// word that names a thread which never held it - bytes damaged or written by
// a hostile process. For that, holder() reads the word, check_holder() judges
// the thread it names, and mark_owner_dead() does what the kernel would have
// done had that thread died holding the lock.
//
// The bytes are glibc's pthread_mutex_t (its ABI, bits/struct_mutex.h): the
// futex word `__lock` holds the owner's thread id and the robust-futex bits
// (futex(2)), and `__kind` the type set at init, never changed after.
// Thread safety: a RobustMutex is a view; the mutex itself is what threads
// and processes share.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "rill/status.h"

namespace rill::ipc {

class RobustMutex {
 public:
  // The bytes of the mutex, as shared-memory layouts hold them.
  using Storage = pthread_mutex_t;

  explicit RobustMutex(Storage* m) noexcept : m_(m) {}

  // Makes *m a robust, process-shared mutex. Returns 0 or an errno value.
  static int init(Storage* m) noexcept;

  // True if the mutex still has the type init() gives it. Damage there would
  // make glibc treat the lock word by another protocol (a plain mutex's
  // 0/1/2), where no owner death is ever noticed.
  bool kind_sound() const noexcept;

  // Waits up to one second (CLOCK_REALTIME: ThreadSanitizer knows only
  // pthread_mutex_timedlock; a clock step lengthens or shortens one round).
  // 0: locked. EOWNERDEAD: locked, the previous holder died holding it - repair
  // what it guarded, then make_consistent(). ETIMEDOUT: still held. Anything
  // else: the mutex is unusable (damaged).
  int lock_for_a_second() noexcept;
  void make_consistent() noexcept;
  void unlock() noexcept;

  // The lock word as it is now (relaxed: only compared with a later load of
  // the same word and with mark_owner_dead()'s CAS).
  std::uint32_t word() const noexcept;
  // The thread id a lock word names (0: none).
  static pid_t holder(std::uint32_t word) noexcept;
  // If the word still reads `seen`: keeps its waiters bit, sets
  // FUTEX_OWNER_DIED and wakes every waiter, so that the next locker gets
  // EOWNERDEAD. A CAS: of several processes doing this only one succeeds.
  void mark_owner_dead(std::uint32_t seen) noexcept;

 private:
  Storage* m_;
};

// Who the thread id in a lock word names.
enum class Holder {
  kCannotHold,    // no thread, or a thread of a process that does not map the lock
  kMapsLock,      // a live thread of a process that maps the lock: a real holder
  kUnverifiable,  // a live thread this user cannot check (neither test could be made)
};

// Judges `tid` as the holder of a lock at `lock_address`, which this process
// maps from a shared-memory object. A holder must be a live thread of a
// process that maps the same object. Two tests, for another process's
// mappings are its owner's secret: its /proc/<tid>/maps (readable for this
// user's processes, or by root), else /proc/locks (readable by all), where
// every process that opens or creates a shared region may hold a shared
// flock on it (ShmExpected::announce) under a pid the kernel writes, so a
// forged word cannot pass it. The object is matched by device and inode of
// this process's own mapping, not by path: a namespace's creator maps it
// under a draft name since deleted, and the name may by now be another's.
Holder check_holder(pid_t tid, const void* lock_address);

// Locks a RobustMutex that lives in shared memory other processes can
// write (so its bytes are not trusted to be sound), for the registry of a
// namespace and a consumer group's state alike:
//   - a mutex glibc refuses (EINVAL, ENOTRECOVERABLE, ...), or whose type
//     changed, is kCorrupt ("the lock of <what> is damaged (...); <advice>");
//   - a holder that is gone although the kernel never marked it dead (its
//     thread id names no thread, or one of a process that does not map the
//     lock: damage, or a forged word; check_holder()) is handled as the
//     kernel handles a dead robust-futex owner;
//   - a live holder that keeps the lock for `patience_ns` is kTimedOut, with
//     advice to kill it only if it is known to map the lock.
// OK: locked; `repair` ran first if the previous holder died holding it
// (the mutex is made consistent after it). `what` names the thing locked
// ("namespace 'x'").
template <typename Repair>
Status lock_shared(RobustMutex mutex, const void* lock_address, std::int64_t patience_ns, const std::string& what,
                   const std::string& advice, Repair repair);
// The loop of lock_shared(), repair aside: 0 (locked), EOWNERDEAD (locked,
// repair then make consistent) or -1 with *error set.
int lock_shared_raw(RobustMutex mutex, const void* lock_address, std::int64_t patience_ns, const std::string& what,
                    const std::string& advice, Status* error);

template <typename Repair>
Status lock_shared(RobustMutex mutex, const void* lock_address, std::int64_t patience_ns, const std::string& what,
                   const std::string& advice, Repair repair) {
  Status error;
  const int rc = lock_shared_raw(mutex, lock_address, patience_ns, what, advice, &error);
  if (rc < 0) return error;
  if (rc == EOWNERDEAD) {
    repair();
    mutex.make_consistent();
  }
  return Status::ok();
}

}  // namespace rill::ipc
