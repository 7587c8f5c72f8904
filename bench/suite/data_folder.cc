#include "bench/suite/data_folder.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

namespace rill::bench {

namespace {

struct FsName {
  unsigned long magic;
  const char* name;
};
// Those a benchmark's files are likely to land on. Some are spelled out:
// <linux/magic.h> lacks them on older kernels' headers.
constexpr std::array<FsName, 14> kFileSystems = {{
    {EXT4_SUPER_MAGIC, "ext2/3/4"},
    {XFS_SUPER_MAGIC, "xfs"},
    {BTRFS_SUPER_MAGIC, "btrfs"},
    {TMPFS_MAGIC, "tmpfs"},
    {RAMFS_MAGIC, "ramfs"},
    {OVERLAYFS_SUPER_MAGIC, "overlayfs"},
    {F2FS_SUPER_MAGIC, "f2fs"},
    {NFS_SUPER_MAGIC, "nfs"},
    {0x2FC12FC1, "zfs"},
    {0x65735546, "fuse"},
    {0x5346544E, "ntfs"},
    {MSDOS_SUPER_MAGIC, "vfat"},
    {0x01021997, "9p"},
    {0x62656570, "configfs"},
}};

// The pid in a name "rill-bench-<pid>-...", or 0 when it is not one.
pid_t run_pid_of(std::string_view name) {
  constexpr std::string_view kPrefix = "rill-bench-";
  if (!name.starts_with(kPrefix)) return 0;
  name.remove_prefix(kPrefix.size());
  const std::size_t dash = name.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash > 9) return 0;
  pid_t pid = 0;
  for (char ch : name.substr(0, dash)) {
    if (ch < '0' || ch > '9') return 0;
    pid = pid * 10 + (ch - '0');
  }
  return pid;
}

}  // namespace

int remove_leftovers_of_dead_runs(const std::vector<std::string>& dirs) {
  int removed = 0;
  for (const std::string& dir : dirs) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) continue;
    std::vector<std::string> dead;
    while (const dirent* e = ::readdir(d)) {
      const pid_t pid = run_pid_of(e->d_name);
      // ESRCH only: EPERM is a live process of another user.
      if (pid <= 0 || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
      const std::string path = dir + "/" + e->d_name;
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0 && st.st_uid == ::geteuid()) dead.push_back(path);
    }
    ::closedir(d);
    for (const std::string& path : dead) {
      std::error_code ec;
      if (std::filesystem::remove_all(path, ec) > 0 && !ec) ++removed;
    }
  }
  return removed;
}

std::string default_data_parent() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? std::string(tmp) : std::string("/tmp");
}

std::string file_system_type(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return {};
  const auto magic = static_cast<unsigned long>(st.f_type);
  for (const FsName& fs : kFileSystems)
    if (fs.magic == magic) return fs.name;
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%lx", magic);
  return buf;
}

void settle_file_system(const std::string& folder) noexcept {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::syncfs(fd);
  ::close(fd);
}

Result<ScratchFolder> ScratchFolder::make(const std::string& parent) {
  std::string pattern = parent + "/rill-bench-" + std::to_string(::getpid()) + "-data-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  if (::mkdtemp(name.data()) == nullptr)
    return Status(Code::kIoError, "cannot make the run's data folder in '" + parent + "': " + std::strerror(errno));
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(name.data(), ec);
  return ScratchFolder(ec ? std::string(name.data()) : absolute.lexically_normal().string());
}

ScratchFolder::ScratchFolder(ScratchFolder&& other) noexcept : path_(std::exchange(other.path_, {})) {}

ScratchFolder& ScratchFolder::operator=(ScratchFolder&& other) noexcept {
  if (this != &other) {
    ScratchFolder dropped(std::move(*this));
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

ScratchFolder::~ScratchFolder() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace rill::bench
