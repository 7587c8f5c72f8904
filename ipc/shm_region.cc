#include "ipc/shm_region.h"

#include "io/os_error.h"
#include "ipc/faults.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace rill::ipc {

namespace {

// Owns one mapping and, for an announced region, the descriptor holding its
// shared flock(2) (closing it is what drops the lock).
class SharedRegion final : public Region {
 public:
  SharedRegion(std::string name, void* base, std::size_t size, int announce_fd)
      : name_(std::move(name)), announce_fd_(announce_fd) {
    bytes_ = std::span<std::byte>(static_cast<std::byte*>(base), size);
  }
  ~SharedRegion() override {
    ::munmap(bytes_.data(), bytes_.size());
    if (announce_fd_ >= 0) ::close(announce_fd_);
  }
  std::string describe() const override { return "shm:/" + name_; }

 private:
  std::string name_;
  int announce_fd_;  // -1: not announced
};

// Closes a descriptor unless released.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

using io::os_error;

// "(owner root, group root, mode 0600)", or "" if the object cannot be stat'ed.
std::string owner_note(const std::string& name) {
  auto info = stat_shared_region(name);
  return info ? " (" + info->describe() + ")" : std::string();
}

// After a failed allocation: what is free now, and where to look.
std::string space_note() {
  auto space = shm_space();
  if (!space) return "; is /dev/shm large enough? see `df -h /dev/shm`";
  return "; " + space->describe() + " (" + space->hint() + ")";
}

ShmObjectInfo info_of(const struct stat& st) {
  return ShmObjectInfo{st.st_uid, st.st_gid, static_cast<unsigned>(st.st_mode & 07777),
                       static_cast<unsigned>(st.st_mode & S_IFMT), static_cast<std::uint64_t>(st.st_size)};
}

// madvise(2) advice that write-faults every page of a range into this
// process's page tables (Linux 5.14). glibc defines it from 2.35 only; the
// number is the kernel's ABI, so a build against older headers still asks.
#ifdef MADV_POPULATE_WRITE
static_assert(MADV_POPULATE_WRITE == 23);
#endif
constexpr int kMadvPopulateWrite = 23;

// Enters every page of a writable shared mapping into this process's page
// tables, so that the ring's first pass over a page takes no page fault.
// Without it a process writing the ring faults once per 4 KiB page as it
// advances (a reader once per 64 KiB: the kernel maps a read fault's
// neighbours too). Measured with `rill bench --transport rill-ipc
// --pingpong --wait spin -n 200k --repeat 3` on a 2-vCPU Intel KVM guest,
// Linux 6.18, the openers' populate switched off: about 4,800 faults per
// writing process per phase, one per ~50 records of 64 B, and a one-way
// p99 of 2.08-2.29 us against 0.91-1.06 us populated (three runs each; the
// read-one-byte-per-page fallback below: 0.98-1.10 us). A forked child does
// not inherit these entries (fork copies no page tables of shared
// mappings); it must map and populate its own.
//
// MADV_POPULATE_WRITE write-faults each page without writing a byte, so it
// is safe on a ring other processes are using. It allocates any page the
// object does not have yet - none for an object from
// create_shared_region(), which posix_fallocate()d every page, and at most
// the object's own size otherwise, which the ring writes anyway. For the
// creator it replaces writing one byte per page: 82 ms against 136 ms for
// 64 MiB (medians of 7). On kernels before 5.14 (EINVAL), a read of one
// byte per page instead: on tmpfs a read fault maps the page writable,
// since shared memory has no dirty tracking to write-protect it for. Other
// failures are left to the ring's first pass (a missing page then fails
// there as it would have without this).
// REQUIRES: `bytes` is mapped PROT_READ | PROT_WRITE. A read-only mapping
// would use MADV_POPULATE_READ (22) instead; rill maps none.
void populate_for_write(std::span<std::byte> bytes) {
  if (::madvise(bytes.data(), bytes.size(), kMadvPopulateWrite) == 0 || errno != EINVAL) return;
  const auto* b = reinterpret_cast<const volatile std::byte*>(bytes.data());
  for (std::size_t at = 0; at < bytes.size(); at += page_size()) (void)b[at];
}

// Maps `size` bytes of `fd`; with `announce`, takes its shared flock and
// keeps the descriptor, else closes it.
Result<std::unique_ptr<Region>> map_shared(Descriptor& fd, std::size_t size, const std::string& name,
                                           bool announce) {
  void* base =
      refused(OsCall::kShmMap, name) ? MAP_FAILED : ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return os_error(errno, "mmap of shm:/" + name);
  int kept = -1;
  if (announce) {
    // Shared locks conflict only with exclusive ones, which nobody takes.
    if (::flock(fd.get(), LOCK_SH | LOCK_NB) != 0) {
      const int err = errno;
      ::munmap(base, size);
      return os_error(err, "cannot announce the mapping of shm:/" + name + " (flock)");
    }
    kept = fd.release();
  }
  return std::unique_ptr<Region>(new SharedRegion(name, base, size, kept));
}

// Removes a half-made object unless dismissed: every failure after the object
// exists takes it away again.
class RemoveUnlessDismissed {
 public:
  explicit RemoveUnlessDismissed(const std::string& name) : name_(name) {}
  ~RemoveUnlessDismissed() {
    if (armed_) ::unlink(shared_region_path(name_).c_str());
  }
  RemoveUnlessDismissed(const RemoveUnlessDismissed&) = delete;
  RemoveUnlessDismissed& operator=(const RemoveUnlessDismissed&) = delete;
  void dismiss() { armed_ = false; }

 private:
  const std::string& name_;
  bool armed_ = true;
};

// Flags of every open of an object: never follow a symbolic link planted at
// the name, never block (open(2) of a FIFO waits for its other end), never
// make a terminal ours.
constexpr int kOpenFlags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

// The check of everything fstat says of an opened object (ShmExpected).
Status check_object(const std::string& name, const ShmObjectInfo& info, const ShmExpected& expected) {
  const std::string path = shared_region_path(name);
  if (info.type != S_IFREG)
    return Status(Code::kCorrupt, path + " is " + info.type_name() + ", not a regular file");
  const uid_t me = ::geteuid();
  if (info.owner != me && me != 0) {
    const bool group_shared = (info.mode & 0060) == 0060;
    bool allowed = false;
    if (group_shared && expected.sharing == ShmExpected::Sharing::kGroup) allowed = info.group == expected.group;
    if (group_shared && expected.sharing == ShmExpected::Sharing::kAnyGroupOfMine)
      allowed = check_group_member(info.group).is_ok();
    if (!allowed) {
      std::string why = "is not shared with a group of user " + user_name(me);
      if (expected.sharing == ShmExpected::Sharing::kOwnerOnly)
        why = "the namespace is private to its owner";
      else if (expected.sharing == ShmExpected::Sharing::kGroup)
        why = "it is not shared with the namespace's group '" + group_name(expected.group) + "'";
      return Status(Code::kPermissionDenied, path + " belongs to user " + user_name(info.owner) + " (" +
                                                 info.describe() + "), not to user " + user_name(me) + ", and " +
                                                 why);
    }
  }
  if (info.size == 0) return Status(Code::kCorrupt, path + " is empty (its creator may have died)");
  if (info.size != expected.size)
    return Status(Code::kCorrupt, path + " is " + std::to_string(info.size) + " bytes, " + expected.kind +
                                      " is exactly " + std::to_string(expected.size) + " bytes");
  return Status::ok();
}

}  // namespace

// ---------------------------------------------------------------- objects

std::string shared_region_path(const std::string& name) { return std::string(kShmDir) + "/" + name; }

Result<std::unique_ptr<Region>> create_shared_region(const std::string& name, std::size_t size,
                                                     const ShmAccess& access, bool announce) {
  if (size == 0) return Status(Code::kInvalidArgument, "region size must be positive");
  if (access.group) {
    if (Status s = check_group_member(*access.group); !s) return s.with_context("cannot create shm:/" + name);
  }
  // Owner-only until it belongs to the right group: no one else can open it
  // early and keep a descriptor. O_EXCL: whatever is at the name, even a
  // symbolic link, makes this fail rather than be followed.
  Descriptor fd(refused(OsCall::kShmCreate, name)
                    ? -1
                    : ::open(shared_region_path(name).c_str(), kOpenFlags | O_CREAT | O_EXCL, 0600));
  if (fd.get() < 0) return os_error(errno, "cannot create shm:/" + name);
  RemoveUnlessDismissed guard(name);
  if ((access.group || access.owner) &&
      ::fchown(fd.get(), access.owner.value_or(static_cast<uid_t>(-1)),
               access.group.value_or(static_cast<gid_t>(-1))) != 0)
    return os_error(errno, "cannot give shm:/" + name + " to " +
                               (access.owner ? "user " + user_name(*access.owner) + " " : std::string()) +
                               (access.group ? "group '" + group_name(*access.group) + "'" : std::string()));
  // open honours the umask, and chown may clear bits: make the mode exactly what was asked.
  if (::fchmod(fd.get(), access.mode) != 0) return os_error(errno, "cannot chmod shm:/" + name);
  if (int err = refused(OsCall::kShmReserve, name) ? errno : ::posix_fallocate(fd.get(), 0, static_cast<off_t>(size));
      err != 0) {
    ::unlink(shared_region_path(name).c_str());  // measure the space with this object's pages freed
    guard.dismiss();                              // and never remove an object someone else makes under the name now
    Status s = os_error(err, "cannot reserve " + format_bytes(size, Rounding::kUp) + " for shm:/" + name);
    return Status(s.code(), s.message() + space_note());
  }
  auto region = map_shared(fd, size, name, announce);
  if (!region) return region.status();
  populate_for_write((*region)->bytes());
  guard.dismiss();
  return region;
}

Result<std::unique_ptr<Region>> open_shared_region(const std::string& name, const ShmExpected& expected,
                                                   ShmObjectInfo* info) {
  if (expected.size == 0) return Status(Code::kInvalidArgument, "expected size of shm:/" + name + " must be positive");
  Descriptor fd(refused(OsCall::kShmOpen, name) ? -1 : ::open(shared_region_path(name).c_str(), kOpenFlags));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == EACCES || err == EPERM)
      return Status(Code::kPermissionDenied, "cannot open shm:/" + name + ": " + std::strerror(err) + owner_note(name));
    // ELOOP (a symbolic link), EISDIR, ENXIO, ...: say what is there.
    if (err != ENOENT) {
      if (auto there = stat_shared_region(name); there && there->type != S_IFREG)
        return Status(Code::kCorrupt, shared_region_path(name) + " is " + there->type_name() + ", not a regular file");
    }
    return os_error(err, "cannot open shm:/" + name);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return os_error(errno, "cannot stat shm:/" + name);
  const ShmObjectInfo found = info_of(st);
  if (info != nullptr) *info = found;
  if (Status s = check_object(name, found, expected); !s) return s;
  auto region = map_shared(fd, expected.size, name, expected.announce);
  if (!region) return region.status();
  populate_for_write((*region)->bytes());  // without writing the (live) bytes
  return region;
}

Status publish_shared_region(const std::string& draft, const std::string& name) {
  // link(2) never follows a symbolic link, and fails if anything is at `name`.
  const int rc = ::link(shared_region_path(draft).c_str(), shared_region_path(name).c_str());
  const int err = errno;
  (void)remove_shared_region(draft);
  if (rc == 0) return Status::ok();
  return os_error(err, "cannot publish shm:/" + draft + " as shm:/" + name);
}

Status remove_shared_region(const std::string& name) {
  // unlink(2) removes whatever the name is (a FIFO, a symbolic link) without opening or following it.
  if ((!refused(OsCall::kShmRemove, name) && ::unlink(shared_region_path(name).c_str()) == 0) || errno == ENOENT)
    return Status::ok();
  const int err = errno;
  Status s = os_error(err, "cannot remove " + shared_region_path(name));
  if (err == EPERM || err == EACCES) {
    auto info = stat_shared_region(name);
    return Status(s.code(), s.message() + " (" + (info ? info->describe() + "; " : std::string()) +
                                std::string(kShmDir) + " is sticky: only the owner or root may remove it)");
  }
  return s;
}

bool shared_region_exists(const std::string& name) {
  struct stat st {};
  return ::lstat(shared_region_path(name).c_str(), &st) == 0 || errno != ENOENT;
}

std::string ShmObjectInfo::describe() const {
  char mode_text[8];
  std::snprintf(mode_text, sizeof mode_text, "%04o", mode);
  return "owner " + user_name(owner) + ", group " + group_name(group) + ", mode " + mode_text;
}

std::string ShmObjectInfo::type_name() const {
  switch (type) {
    case S_IFREG: return "a regular file";
    case S_IFIFO: return "a FIFO";
    case S_IFLNK: return "a symbolic link";
    case S_IFDIR: return "a directory";
    case S_IFSOCK: return "a socket";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    default: return "a file of unknown type";
  }
}

Result<ShmObjectInfo> stat_shared_region(const std::string& name) {
  struct stat st {};
  if (::lstat(shared_region_path(name).c_str(), &st) != 0)
    return os_error(errno, "cannot stat " + shared_region_path(name));
  return info_of(st);
}

bool ShmObjectInfo::regular() const { return type == S_IFREG; }

std::vector<ShmListing> list_shared_regions(std::string_view prefix) {
  std::vector<ShmListing> found;
  DIR* dir = ::opendir(kShmDir);
  if (dir == nullptr) return found;
  while (const dirent* e = ::readdir(dir)) {
    const std::string_view name = e->d_name;
    if (!name.starts_with(prefix)) continue;
    struct stat st {};
    if (::lstat(shared_region_path(std::string(name)).c_str(), &st) != 0) continue;  // removed meanwhile
    found.push_back({std::string(name), static_cast<std::uint64_t>(st.st_blocks) * 512, st.st_mtime});
  }
  ::closedir(dir);
  std::sort(found.begin(), found.end(), [](const ShmListing& a, const ShmListing& b) { return a.name < b.name; });
  return found;
}


Result<bool> announces_mapping(pid_t pid, const ShmFileId& id) {
  std::FILE* locks = refused(OsCall::kProcRead, "/proc/locks") ? nullptr : std::fopen("/proc/locks", "re");
  if (locks == nullptr) return os_error(errno, "cannot read /proc/locks");
  bool found = false;
  char line[512];
  while (!found && std::fgets(line, sizeof line, locks) != nullptr) {
    // "1: FLOCK  ADVISORY  READ 5079 00:1a:2 0 EOF"; a waiter's line has "->" after the number.
    char kind[16] = {}, access[16] = {};
    long holder = 0;
    unsigned major = 0, minor = 0;
    unsigned long long inode = 0;
    const char* fields = std::strchr(line, ':');
    if (fields == nullptr || std::strstr(line, "->") != nullptr) continue;
    if (std::sscanf(fields + 1, "%15s %*s %15s %ld %x:%x:%llu", kind, access, &holder, &major, &minor, &inode) != 6)
      continue;
    found = std::strcmp(kind, "FLOCK") == 0 && std::strcmp(access, "READ") == 0 && holder == pid &&
            major == id.dev_major && minor == id.dev_minor && inode == id.inode;
  }
  const bool failed = std::ferror(locks) != 0;
  std::fclose(locks);
  if (failed) return Status(Code::kIoError, "cannot read /proc/locks");
  return found;
}

// ---------------------------------------------------------------- users and groups

namespace {

// Calls a getXXX_r function with a buffer that grows until the entry fits,
// and returns what `field` takes from the entry while its strings still live
// in that buffer; nullopt if there is no such entry.
template <typename Entry, typename Lookup, typename Field>
auto lookup_entry(Lookup lookup, Field field) -> std::optional<decltype(field(std::declval<const Entry&>()))> {
  std::vector<char> buffer(1024);
  for (;;) {
    Entry entry{};
    Entry* found = nullptr;
    const int rc = lookup(&entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < (1u << 20)) {
      buffer.resize(buffer.size() * 4);
      continue;
    }
    if (rc != 0 || found == nullptr) return std::nullopt;
    return field(entry);
  }
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Result<gid_t> find_group(const std::string& name) {
  const auto by_name = [&](group* e, char* buf, std::size_t len, group** found) {
    return ::getgrnam_r(name.c_str(), e, buf, len, found);
  };
  if (auto gid = lookup_entry<group>(by_name, [](const group& g) { return g.gr_gid; })) return *gid;
  if (all_digits(name)) {
    gid_t gid = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), gid);
    if (ec == std::errc() && end == name.data() + name.size()) return gid;
  }
  return Status(Code::kInvalidArgument,
                "group '" + name + "' does not exist (see `getent group`; create one with `groupadd " + name + "`)");
}

std::string group_name(gid_t gid) {
  const auto by_gid = [&](group* e, char* buf, std::size_t len, group** found) {
    return ::getgrgid_r(gid, e, buf, len, found);
  };
  return lookup_entry<group>(by_gid, [](const group& g) { return std::string(g.gr_name); })
      .value_or(std::to_string(gid));
}

uid_t effective_uid() noexcept { return ::geteuid(); }

std::string user_name(uid_t uid) {
  const auto by_uid = [&](passwd* e, char* buf, std::size_t len, passwd** found) {
    return ::getpwuid_r(uid, e, buf, len, found);
  };
  return lookup_entry<passwd>(by_uid, [](const passwd& p) { return std::string(p.pw_name); })
      .value_or(std::to_string(uid));
}

Status check_group_member(gid_t gid) {
  if (::geteuid() == 0 || ::getegid() == gid) return Status::ok();
  const int n = ::getgroups(0, nullptr);
  if (n > 0) {
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    const int got = ::getgroups(n, groups.data());
    if (got > 0 && std::find(groups.begin(), groups.begin() + got, gid) != groups.begin() + got) return Status::ok();
  }
  const std::string user = user_name(::geteuid());
  const std::string group = group_name(gid);
  return Status(Code::kPermissionDenied, "user " + user + " is not a member of group '" + group +
                                             "', so it cannot open shared memory to it (an administrator can add it "
                                             "with `usermod -aG " + group + " " + user + "`; then log in again)");
}

// ---------------------------------------------------------------- space

namespace {

class SystemSpaceProbe final : public SpaceProbe {
 public:
  Result<std::uint64_t> free_bytes(const std::string& dir) const override {
    struct statvfs st {};
    if (::statvfs(dir.c_str(), &st) != 0) return os_error(errno, "cannot measure " + dir);
    return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
  }
  Result<std::string> read_file(const std::string& path) const override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return os_error(errno, "cannot open " + path);
    std::string text;
    char buf[4096];
    while (text.size() < (4u << 20)) {  // mountinfo of a busy host is the largest
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
  }
};

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const std::size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return text;
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  text = trim(text);
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

bool has_token(std::string_view list, std::string_view token) {
  for (std::string_view t : split(list, ','))
    if (t == token) return true;
  return false;
}

// The files of one memory-cgroup interface.
struct CgroupFiles {
  const char* limit;
  const char* usage;
  const char* stat_prefix;  // of memory.stat's hierarchical counters
};
constexpr CgroupFiles kV2{"memory.max", "memory.current", ""};
constexpr CgroupFiles kV1{"memory.limit_in_bytes", "memory.usage_in_bytes", "total_"};

// Where a memory cgroup hierarchy is mounted: its mount point, and which
// cgroup path (relative to this process's cgroup namespace) it shows there.
struct CgroupMount {
  std::string root;
  std::string mount_point;
  const CgroupFiles* files;
};

// From /proc/self/mountinfo: "id parent dev root mount-point options... - fstype source super-options".
std::vector<CgroupMount> memory_cgroup_mounts(std::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  for (std::string_view line : split(mountinfo, '\n')) {
    const std::size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    const auto before = split(line.substr(0, dash), ' ');
    const auto after = split(line.substr(dash + 3), ' ');
    if (before.size() < 5 || after.size() < 3) continue;
    const CgroupFiles* files = after[0] == "cgroup2"                                   ? &kV2
                               : after[0] == "cgroup" && has_token(after[2], "memory") ? &kV1
                                                                                       : nullptr;
    if (files) mounts.push_back({std::string(before[3]), std::string(before[4]), files});
  }
  return mounts;
}

// What the limit set in `dir` leaves, if `dir` sets one.
struct Limit {
  std::uint64_t limit;
  std::uint64_t free;
  std::string file;
};
std::optional<Limit> limit_in(const SpaceProbe& probe, const std::string& dir, const CgroupFiles& files) {
  auto limit_text = probe.read_file(dir + "/" + files.limit);
  if (!limit_text) return std::nullopt;
  const std::optional<std::uint64_t> limit = parse_u64(*limit_text);  // "max" (v2): none
  // v1 writes "no limit" as the largest page-aligned 63-bit number.
  if (!limit || *limit >= (std::uint64_t{1} << 62)) return std::nullopt;
  auto usage_text = probe.read_file(dir + "/" + files.usage);
  const std::optional<std::uint64_t> usage = usage_text ? parse_u64(*usage_text) : std::nullopt;
  if (!usage) return std::nullopt;
  // Page cache is reclaimed before a charge fails: without counting it, a
  // cgroup that has just read large files would refuse objects that fit.
  // (tmpfs and shm pages sit on the anon lists, not in *_file.)
  std::uint64_t reclaimable = 0;
  if (auto stat = probe.read_file(dir + "/memory.stat")) {
    for (std::string_view line : split(*stat, '\n')) {
      const auto fields = split(line, ' ');
      if (fields.size() != 2) continue;
      for (const char* counter : {"inactive_file", "active_file"})
        if (fields[0] == std::string(files.stat_prefix) + counter) reclaimable += parse_u64(fields[1]).value_or(0);
    }
  }
  const std::uint64_t unused = *usage < *limit ? *limit - *usage : 0;
  return Limit{*limit, std::min(*limit, unused + reclaimable), dir + "/" + files.limit};
}

}  // namespace

const SpaceProbe& system_space_probe() {
  static const SystemSpaceProbe probe;
  return probe;
}

Result<ShmSpace> shm_space(const SpaceProbe& probe) {
  auto shm_free = probe.free_bytes(kShmDir);
  if (!shm_free) return shm_free.status();
  ShmSpace space;
  space.shm_free = *shm_free;

  auto cgroups = probe.read_file("/proc/self/cgroup");
  auto mountinfo = probe.read_file("/proc/self/mountinfo");
  if (!cgroups || !mountinfo) return space;
  const std::vector<CgroupMount> mounts = memory_cgroup_mounts(*mountinfo);
  // "0::/path" is the v2 cgroup; "N:memory,...:/path" the v1 memory one.
  for (std::string_view line : split(*cgroups, '\n')) {
    const std::size_t first = line.find(':');
    const std::size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, first);
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string_view path = line.substr(second + 1);
    const CgroupFiles* files = id == "0" && controllers.empty() ? &kV2
                               : has_token(controllers, "memory") ? &kV1
                                                                  : nullptr;
    if (!files || path.empty() || path.front() != '/') continue;
    for (const CgroupMount& mount : mounts) {
      if (mount.files != files) continue;
      // The part of `path` below the mount's root; a cgroup outside it is not visible there.
      std::string_view below = path;
      if (mount.root != "/") {
        if (path.substr(0, mount.root.size()) != mount.root ||
            (path.size() > mount.root.size() && path[mount.root.size()] != '/'))
          continue;
        below.remove_prefix(mount.root.size());
      }
      // Every ancestor's limit applies too: walk up to the mount point.
      std::string dir = mount.mount_point + std::string(below == "/" ? std::string_view() : below);
      for (;;) {
        if (auto limit = limit_in(probe, dir, *files); limit && (!space.cgroup_free || limit->free < *space.cgroup_free)) {
          space.cgroup_free = limit->free;
          space.cgroup_limit = limit->limit;
          space.cgroup_limit_file = limit->file;
        }
        if (dir.size() <= mount.mount_point.size()) break;
        dir.resize(dir.rfind('/'));
      }
      break;
    }
  }
  return space;
}

namespace {

bool limited_by_cgroup(const ShmSpace& space) { return space.cgroup_free && *space.cgroup_free < space.shm_free; }

}  // namespace

std::string ShmSpace::describe() const {
  if (limited_by_cgroup(*this))
    return "the memory limit of this process (" + format_bytes(cgroup_limit) + " in " + cgroup_limit_file +
           ") leaves " + format_bytes(*cgroup_free);
  return std::string(kShmDir) + " has " + format_bytes(shm_free) + " free";
}

std::string ShmSpace::hint() const {
  if (limited_by_cgroup(*this)) return "tmpfs pages count against it; see " + cgroup_limit_file;
  return std::string("see `df -h ") + kShmDir + "`";
}

std::string format_bytes(std::uint64_t bytes, Rounding rounding) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  std::size_t unit = 0;
  std::uint64_t factor = 1;
  while (unit + 1 < std::size(kUnits) && bytes / factor >= 1024) {
    factor *= 1024;
    ++unit;
  }
  const std::uint64_t whole = bytes / factor;
  const std::uint64_t rest = bytes % factor;
  if (rest == 0) return std::to_string(whole) + " " + kUnits[unit];
  // Tenths of the unit, rounded as asked (rest < factor <= 2^60: rest * 10 fits).
  const std::uint64_t rest10 = rest * 10;
  std::uint64_t tenths = whole * 10 + rest10 / factor;
  if (rounding == Rounding::kUp && rest10 % factor != 0) ++tenths;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " " + kUnits[unit];
}

}  // namespace rill::ipc
