// Injected faults, for tests, in the spirit of LevelDB's fault-injection Env:
// the OS calls the library makes through ipc/ can be made to fail as if the
// kernel had refused them, so that the paths handling a full /dev/shm, a
// refused mmap, a descriptor limit, a refused unlink, a /proc hidden from
// this user (hidepid=) or a futex that keeps returning early run for real,
// through the library's own code. Off unless a test arms one; when off, a
// call costs one relaxed atomic load.
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rill::ipc {

enum class OsCall : std::uint8_t {
  kShmCreate,   // open(O_CREAT) in create_shared_region; subject: the object's name
  kShmReserve,  // posix_fallocate in create_shared_region; subject: the object's name
  kShmMap,      // mmap in create_shared_region and open_shared_region; subject: the name
  kShmOpen,     // open in open_shared_region; subject: the object's name
  kShmRemove,   // unlink in remove_shared_region; subject: the object's name
  kProcRead,    // opening a file under /proc; subject: its path ("/proc/42/stat")
  kFutexWait,   // futex_wait returns at once, as if interrupted; subject: ""
};

// The next `times` calls of `call` whose subject contains `subject_part` fail
// with errno `err`. Process-wide.
void inject_fault(OsCall call, std::string subject_part, int err, int times = 1);
// Disarms every fault not yet triggered, and zeroes the counts below.
void clear_faults();
// How many calls of `call` an injected fault refused since the last clear_faults():
// for a test to prove its faults were met.
int refusals(OsCall call);

// For ipc/'s own calls: true, with errno set, if an armed fault refuses this
// call on `subject` (and counts it).
bool refused(OsCall call, std::string_view subject) noexcept;

}  // namespace rill::ipc
