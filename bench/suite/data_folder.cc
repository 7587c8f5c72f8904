#include "bench/suite/data_folder.h"

#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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

}  // namespace

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
