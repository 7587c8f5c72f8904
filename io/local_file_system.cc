// The real FileSystem: POSIX calls, and writes through io/uring.h.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "io/file_system.h"
#include "io/os_error.h"
#include "io/uring.h"

namespace rill::io {
namespace {

class LocalFile final : public File {
 public:
  LocalFile(std::string path, int fd) : File(std::move(path)), fd_(fd) {}
  ~LocalFile() override { ::close(fd_); }

  Status write(std::uint64_t position, std::span<const std::byte> bytes, bool sync) override {
    if (const int err = write_fd(fd_, position, bytes, sync); err != 0)
      return os_error(err, "cannot write " + std::to_string(bytes.size()) + " bytes at byte " +
                               std::to_string(position) + " of " + path());
    return Status::ok();
  }

  Status sync() override {
    if (const int err = sync_fd(fd_); err != 0) return os_error(err, "cannot fdatasync " + path());
    return Status::ok();
  }

  Result<std::size_t> read(std::uint64_t position, std::span<std::byte> into) override {
    std::size_t done = 0;
    while (done < into.size()) {
      const ssize_t n = ::pread(fd_, into.data() + done, into.size() - done, static_cast<off_t>(position + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return os_error(errno, "cannot read " + path());
      }
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  }

  Result<std::uint64_t> size() override {
    struct stat st{};
    if (::fstat(fd_, &st) != 0) return os_error(errno, "cannot stat " + path());
    return static_cast<std::uint64_t>(st.st_size);
  }

  Status truncate(std::uint64_t size) override {
    while (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
      if (errno != EINTR) return os_error(errno, "cannot truncate " + path() + " to " + std::to_string(size) + " bytes");
    return Status::ok();
  }

 private:
  int fd_;
};

class LocalMapping final : public MappedFile {
 public:
  LocalMapping(void* base, std::size_t length) : base_(base), length_(length) {}
  ~LocalMapping() override {
    if (length_ > 0) ::munmap(base_, length_);
  }
  std::span<const std::byte> bytes() const noexcept override {
    return {static_cast<const std::byte*>(base_), length_};
  }

 private:
  void* base_;
  std::size_t length_;
};

class LocalFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode, unsigned permissions) override {
    int flags = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;  // O_NONBLOCK: a FIFO planted in the folder must not block the open
    switch (mode) {
      case OpenMode::kRead: flags |= O_RDONLY; break;
      case OpenMode::kWrite: flags |= O_RDWR; break;
      case OpenMode::kCreate: flags |= O_RDWR | O_CREAT | O_EXCL; break;
      case OpenMode::kCreateOrWrite: flags |= O_RDWR | O_CREAT; break;
    }
    int fd;
    do {
      fd = ::open(path.c_str(), flags, permissions);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return os_error(errno, std::string(mode == OpenMode::kRead ? "cannot open " : "cannot open for writing ") + path);
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status(Code::kCorrupt, path + " is not a regular file");
    }
    return std::unique_ptr<File>(new LocalFile(path, fd));
  }

  Result<std::unique_ptr<MappedFile>> map(const std::string& path, std::size_t length) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return os_error(errno, "cannot open " + path);
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status(Code::kCorrupt, path + " is not a regular file");
    }
    const auto file_size = static_cast<std::size_t>(st.st_size);
    if (length == SIZE_MAX) length = file_size;
    if (length > file_size) {
      ::close(fd);
      return Status(Code::kCorrupt, path + " holds " + std::to_string(file_size) + " bytes, fewer than the " +
                                        std::to_string(length) + " expected");
    }
    void* base = nullptr;
    if (length > 0) {
      base = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
      if (base == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        return os_error(err, "cannot map " + path);
      }
    }
    ::close(fd);
    return std::unique_ptr<MappedFile>(new LocalMapping(base, length));
  }

  Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return os_error(errno, "cannot remove " + path);
    return Status::ok();
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return os_error(errno, "cannot rename " + from + " to " + to);
    return Status::ok();
  }

  Status make_dirs(const std::string& path, unsigned permissions) override {
    for (std::size_t at = path.find('/', 1);; at = path.find('/', at + 1)) {
      const std::string prefix = path.substr(0, at);
      if (!prefix.empty() && ::mkdir(prefix.c_str(), permissions) != 0 && errno != EEXIST)
        return os_error(errno, "cannot create the folder " + prefix);
      if (at == std::string::npos) break;
    }
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return os_error(errno, "cannot create the folder " + path);
    if (!S_ISDIR(st.st_mode)) return Status(Code::kInvalidArgument, path + " exists and is not a folder");
    return Status::ok();
  }

  Status remove_dir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return os_error(errno, "cannot remove the folder " + path);
    return Status::ok();
  }

  Status sync_dir(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return os_error(errno, "cannot open the folder " + path);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return os_error(err, "cannot fsync the folder " + path);
    return Status::ok();
  }

  Result<std::vector<std::string>> list(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return os_error(errno, "cannot list the folder " + dir);
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
      const std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return os_error(err, "cannot list the folder " + dir);
    std::sort(names.begin(), names.end());
    return names;
  }

  Result<std::string> real_path(const std::string& path) override {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) return os_error(errno, "cannot resolve " + path);
    return std::string(resolved);
  }

  Result<bool> exists(const std::string& path) override {
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    return os_error(errno, "cannot stat " + path);
  }
};

LocalFileSystem g_local;
std::atomic<FileSystem*> g_current{&g_local};  // relaxed: set only while no other thread uses it (ScopedFileSystem)

}  // namespace

FileSystem& file_system() noexcept { return *g_current.load(std::memory_order_relaxed); }
FileSystem& real_file_system() noexcept { return g_local; }

ScopedFileSystem::ScopedFileSystem(FileSystem& fs) noexcept
    : previous_(g_current.exchange(&fs, std::memory_order_relaxed)) {}
ScopedFileSystem::~ScopedFileSystem() { g_current.store(previous_, std::memory_order_relaxed); }

}  // namespace rill::io
