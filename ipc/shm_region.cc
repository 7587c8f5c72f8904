#include "ipc/shm_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstring>

namespace rill::ipc {
namespace bip = boost::interprocess;

namespace {

class SharedRegion final : public Region {
 public:
  SharedRegion(std::string name, void* base, std::size_t size) : name_(std::move(name)) {
    bytes_ = std::span<std::byte>(static_cast<std::byte*>(base), size);
  }
  ~SharedRegion() override { ::munmap(bytes_.data(), bytes_.size()); }
  std::string describe() const override { return "shm:/" + name_; }

 private:
  std::string name_;
};

Code code_for(bip::error_code_t ec) {
  switch (ec) {
    case bip::already_exists_error: return Code::kAlreadyExists;
    case bip::not_found_error: return Code::kNotFound;
    case bip::security_error: return Code::kPermissionDenied;
    case bip::out_of_space_error:
    case bip::out_of_memory_error: return Code::kResourceExhausted;
    default: return Code::kIoError;
  }
}

Status os_error(int err, const std::string& what) {
  Code code = err == EACCES || err == EPERM  ? Code::kPermissionDenied
              : err == ENOSPC || err == ENOMEM ? Code::kResourceExhausted
              : err == ENOENT                  ? Code::kNotFound
                                               : Code::kIoError;
  return Status(code, what + ": " + std::strerror(err));
}

Result<void*> map_shared(int fd, std::size_t size, const std::string& name) {
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return os_error(errno, "mmap of shm:/" + name);
  return base;
}

}  // namespace

Result<std::unique_ptr<Region>> create_shared_region(const std::string& name, std::size_t size,
                                                     unsigned mode) {
  if (size == 0) return Status(Code::kInvalidArgument, "region size must be positive");
  try {
    bip::permissions perm(mode);
    bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write, perm);
    // shm_open honours the umask; make the mode exactly what was asked.
    int fd = shm.get_mapping_handle().handle;
    ::fchmod(fd, mode);
    if (int err = ::posix_fallocate(fd, 0, static_cast<off_t>(size)); err != 0) {
      bip::shared_memory_object::remove(name.c_str());
      return os_error(err, "cannot reserve " + std::to_string(size) + " bytes for shm:/" + name +
                               " (is /dev/shm large enough? see `df -h /dev/shm`)");
    }
    auto base = map_shared(fd, size, name);
    if (!base) {
      bip::shared_memory_object::remove(name.c_str());
      return base.status();
    }
    // Fresh tmpfs pages are zero: one write per page maps them for this process.
    auto* bytes = static_cast<volatile std::byte*>(*base);
    for (std::size_t at = 0; at < size; at += page_size()) bytes[at] = std::byte{0};
    return std::unique_ptr<Region>(new SharedRegion(name, *base, size));
  } catch (const bip::interprocess_exception& e) {
    return Status(code_for(e.get_error_code()), "cannot create shm:/" + name + ": " + e.what());
  }
}

Result<std::unique_ptr<Region>> open_shared_region(const std::string& name) {
  try {
    bip::shared_memory_object shm(bip::open_only, name.c_str(), bip::read_write);
    bip::offset_t size = 0;
    if (!shm.get_size(size) || size <= 0)
      return Status(Code::kCorrupt, "shm:/" + name + " is empty (its creator may have died)");
    auto base = map_shared(shm.get_mapping_handle().handle, static_cast<std::size_t>(size), name);
    if (!base) return base.status();
#ifdef MADV_POPULATE_WRITE
    // Pre-fault this process's page tables without touching the (live) bytes.
    ::madvise(*base, static_cast<std::size_t>(size), MADV_POPULATE_WRITE);
#endif
    return std::unique_ptr<Region>(new SharedRegion(name, *base, static_cast<std::size_t>(size)));
  } catch (const bip::interprocess_exception& e) {
    return Status(code_for(e.get_error_code()), "cannot open shm:/" + name + ": " + e.what());
  }
}

Status remove_shared_region(const std::string& name) {
  if (::shm_unlink(name.c_str()) != 0 && errno != ENOENT)
    return os_error(errno, "cannot remove shm:/" + name);
  return Status::ok();
}

bool shared_region_exists(const std::string& name) {
  int fd = ::shm_open(name.c_str(), O_RDONLY, 0);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  return errno != ENOENT;
}

}  // namespace rill::ipc
