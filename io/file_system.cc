#include "io/file_system.h"

#include <unistd.h>

namespace rill::io {

Status write_file_atomically(FileSystem& fs, const std::string& path, std::span<const std::byte> bytes,
                             unsigned permissions) {
  const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  {
    auto file = fs.open(temporary, OpenMode::kCreateOrWrite, permissions);
    if (!file) return file.status();
    Status s = (*file)->truncate(0);
    if (s) s = (*file)->write(0, bytes, true);
    if (!s) {
      (void)fs.remove(temporary);
      return s;
    }
  }
  if (Status s = fs.rename(temporary, path); !s) {
    (void)fs.remove(temporary);
    return s;
  }
  return fs.sync_dir(dir);
}

Result<std::vector<std::byte>> read_small_file(FileSystem& fs, const std::string& path, std::size_t limit) {
  auto file = fs.open(path, OpenMode::kRead);
  if (!file) return file.status();
  auto size = (*file)->size();
  if (!size) return size.status();
  if (*size > limit)
    return Status(Code::kCorrupt, path + " holds " + std::to_string(*size) + " bytes, more than the " +
                                      std::to_string(limit) + " such a file may hold");
  std::vector<std::byte> bytes(static_cast<std::size_t>(*size));
  auto got = (*file)->read(0, bytes);
  if (!got) return got.status();
  bytes.resize(*got);
  return bytes;
}

}  // namespace rill::io
