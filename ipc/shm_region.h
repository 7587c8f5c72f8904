// Named shared-memory regions (POSIX shm objects under /dev/shm): creating,
// opening and removing them, who may use them, and how much room is left.
//
// Access: objects are created mode 0600 (owner only) unless a group is asked
// for; then they are 0660 and owned by that group. The mode is exact whatever
// the umask, and a group object is never open to anyone else on its way there
// (it is created 0600, given to the group, then opened to it).
//
// Space: the creator allocates every byte up front (posix_fallocate), so a
// full /dev/shm fails here with a clear error instead of a SIGBUS later. A
// memory cgroup limit is another matter: the kernel OOM-kills the allocating
// process rather than fail posix_fallocate (seen on Linux 6.x, cgroup v1).
// So shm_space() says how much a new object may still use, and a caller
// about to create objects (a topic's partitions) refuses up front what does
// not fit.
//
// Opening: every byte of an object is hostile input until checked - any local
// user can plant a file at a free name in /dev/shm. An opener states what it
// expects (ShmExpected): the object is opened without following a symbolic
// link and without blocking (a FIFO would block open(2) forever), and is
// refused unless fstat(2) calls it a regular file, of exactly the expected
// size, owned by this user or legitimately shared with a group of the
// namespace. Only then is it mapped - the expected size, never the size the
// file claims.
//
// Page faults: creator and opener alike enter every page of the mapping in
// their page tables before returning (without writing a byte), so that
// neither takes a page fault on the hot path as a ring first passes over a
// page. A forked child does not inherit them: it opens the object itself.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/region.h"

namespace rill::ipc {

// Where shm_open puts its objects on Linux.
inline constexpr const char* kShmDir = "/dev/shm";

// ---------------------------------------------------------------- objects

// Who may use a new object.
struct ShmAccess {
  unsigned mode = 0600;  // 0600, or 0660 with a group
  // The group the object is given to (fchown). REQUIRES: the process is root
  // or a member of it (check_group_member).
  std::optional<gid_t> group;
  // The user the object is given to (fchown). REQUIRES: the process is root.
  std::optional<uid_t> owner;

  static ShmAccess owner_only() { return {}; }
  static ShmAccess for_group(gid_t gid) { return {0660, gid, std::nullopt}; }
};

// Creates object `name` (no leading slash) of `size` bytes, zero-filled.
// kAlreadyExists if it exists (whatever it is: a symbolic link is never
// followed); kResourceExhausted (saying how much is free) if /dev/shm cannot
// hold it (see above for the memory limit); kPermissionDenied if
// `access.group` is a group this process may not give objects to. A failed
// create leaves no object behind. `announce`: as ShmExpected::announce.
Result<std::unique_ptr<Region>> create_shared_region(const std::string& name, std::size_t size,
                                                     const ShmAccess& access = {}, bool announce = false);

// Owner, group, mode, type and size of an existing object.
struct ShmObjectInfo {
  uid_t owner = 0;
  gid_t group = 0;
  unsigned mode = 0;  // permission bits only
  unsigned type = 0;  // S_IFMT bits: S_IFREG for a regular file
  std::uint64_t size = 0;
  // "owner alice, group traders, mode 0660"
  std::string describe() const;
  // "a regular file", "a FIFO", "a symbolic link", "a directory", ...
  std::string type_name() const;
  bool regular() const;
};

// What an opener requires of an existing object before it maps a byte of it.
struct ShmExpected {
  // Its exact size: what its format gives it (a registry's fixed size, a
  // partition's from its topic's geometry), never what the file says.
  std::size_t size = 0;
  // What it should be, for messages: "a registry", "a partition of this topic".
  std::string kind = "an object";
  // Besides this user's own objects (and any object, for root), whose may be
  // used: none (kOwnerOnly); objects mode 0660 of group `group` (kGroup, the
  // partitions of a group namespace); or of any group this user is a member
  // of (kAnyGroupOfMine: a registry, whose group is recorded inside it, to be
  // checked against ShmObjectInfo::group once read).
  enum class Sharing { kOwnerOnly, kGroup, kAnyGroupOfMine };
  Sharing sharing = Sharing::kOwnerOnly;
  gid_t group = 0;
  // Keep a shared flock(2) on the object for as long as it is mapped, so that
  // any process, of any user, can tell from /proc/locks that this one maps it
  // (announces_mapping()). Costs an open descriptor per region.
  bool announce = false;
};

// Opens existing object `name` as `expected` says (see the top of this file)
// and maps `expected.size` bytes of it. Errors, each naming the object's path:
//   kNotFound if it is absent;
//   kPermissionDenied, naming its owner, group and mode, if this user may not
//     read and write it, or if it belongs to another user and is not shared
//     as `expected.sharing` allows;
//   kCorrupt if it is not a regular file (a FIFO, a symbolic link, ...), or
//     its size is not `expected.size` ("is empty" when it is 0: a creator may
//     still be sizing it).
// Never blocks, never follows a symbolic link, never maps more than
// `expected.size`. `info` (if given) receives what fstat said of the object.
Result<std::unique_ptr<Region>> open_shared_region(const std::string& name, const ShmExpected& expected,
                                                   ShmObjectInfo* info = nullptr);

// Gives object `draft`, made and filled by this process, the name `name` in
// one step (a hard link in /dev/shm), then removes the draft's name: another
// process opening `name` finds it complete or absent, never half made, even
// if this one dies at any point. kAlreadyExists (and the draft removed) if
// `name` exists.
Status publish_shared_region(const std::string& draft, const std::string& name);

// Removes the name; existing mappings stay valid until unmapped. Removing a
// missing name is not an error. /dev/shm is sticky: only an object's owner
// (or root) may remove it; otherwise kPermissionDenied saying so.
Status remove_shared_region(const std::string& name);

// True if something exists under the name (also when this user may not open
// it, and whatever it is). Never opens it.
bool shared_region_exists(const std::string& name);

// What is under the name, without following a symbolic link or opening it.
// kNotFound if `name` does not exist.
Result<ShmObjectInfo> stat_shared_region(const std::string& name);

// An object as a listing of /dev/shm shows it: nothing is opened or
// followed (a name may hold a FIFO or a symbolic link anyone planted).
struct ShmListing {
  std::string name;            // without "/dev/shm/"
  std::uint64_t bytes = 0;     // memory it holds (allocated blocks)
  std::int64_t modified_s = 0; // last modification, seconds since the Unix epoch
};
// The objects whose names begin with `prefix`, sorted by name; none if
// /dev/shm cannot be read.
std::vector<ShmListing> list_shared_regions(std::string_view prefix);

// "/dev/shm/<name>": the path messages name an object by.
std::string shared_region_path(const std::string& name);

// Identity of an object's file, as /proc/<pid>/maps and /proc/locks print it.
struct ShmFileId {
  unsigned dev_major = 0, dev_minor = 0;
  unsigned long long inode = 0;
};
// Whether process `pid` holds the shared flock(2) of a region opened or
// created with `announce` on file `id` (from /proc/locks, which any user may
// read and in which the kernel, not the process, writes the pid). kIoError
// if /proc/locks cannot be read.
Result<bool> announces_mapping(pid_t pid, const ShmFileId& id);

// ---------------------------------------------------------------- users and groups

// The gid of group `name`, given as a name or, as chgrp accepts, a number.
// kInvalidArgument if there is no such group.
Result<gid_t> find_group(const std::string& name);
// "traders"; the number if the gid has no name.
std::string group_name(gid_t gid);
// "alice"; the number if the uid has no name.
std::string user_name(uid_t uid);
// This process's effective uid: the owner of the objects it creates.
uid_t effective_uid() noexcept;
// OK if this process may give objects to group `gid` (it is root, or the group
// is its effective or a supplementary group); otherwise kPermissionDenied
// saying how to become a member.
Status check_group_member(gid_t gid);

// ---------------------------------------------------------------- space

// The OS facts shm_space() reads, behind an interface so that tests can fake
// a full /dev/shm or a memory cgroup.
class SpaceProbe {
 public:
  virtual ~SpaceProbe() = default;
  // Bytes an unprivileged user may still allocate in the file system holding
  // `dir` (statvfs: f_bavail * f_frsize).
  virtual Result<std::uint64_t> free_bytes(const std::string& dir) const = 0;
  // The whole of a small text file (/proc/self/cgroup, memory.max, ...).
  virtual Result<std::string> read_file(const std::string& path) const = 0;
};
// The real machine.
const SpaceProbe& system_space_probe();

// How much shared memory a new object may use. tmpfs pages are charged to the
// memory cgroup of the process that allocates them, so both /dev/shm and the
// tightest memory limit on this process (cgroup v2 memory.max or v1
// memory.limit_in_bytes, of its cgroup or any ancestor) bound it.
struct ShmSpace {
  std::uint64_t shm_free = 0;  // free in /dev/shm
  // What the tightest memory limit leaves: the limit minus the usage, plus the
  // page cache the kernel would reclaim first (an estimate). None if unlimited.
  std::optional<std::uint64_t> cgroup_free;
  std::uint64_t cgroup_limit = 0;
  std::string cgroup_limit_file;  // "/sys/fs/cgroup/app.slice/memory.max"

  // The smaller of the two.
  std::uint64_t free() const { return cgroup_free && *cgroup_free < shm_free ? *cgroup_free : shm_free; }
  // Which bound is the tighter and what it leaves, for messages:
  // "/dev/shm has 12 MiB free", or "the memory limit of this process
  // (256 MiB in /sys/fs/cgroup/app.slice/memory.max) leaves 12 MiB".
  std::string describe() const;
  // Where to look: "see `df -h /dev/shm`", or "tmpfs pages count against it;
  // see /sys/fs/cgroup/app.slice/memory.max".
  std::string hint() const;
};
// kIoError if /dev/shm cannot be measured. Unreadable or missing cgroup files
// mean no limit.
Result<ShmSpace> shm_space(const SpaceProbe& probe = system_space_probe());

// Byte counts for people: "96 MiB", "32.1 MiB", "388 KiB", "512 B". An amount
// that is not a whole number of its unit gets one decimal, rounded as asked:
// up for what is needed, down for what is free, so that a message never
// claims "needs 12.0 MiB, has 12.0 MiB free".
enum class Rounding { kDown, kUp };
std::string format_bytes(std::uint64_t bytes, Rounding rounding = Rounding::kDown);

}  // namespace rill::ipc
