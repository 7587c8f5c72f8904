// Files, behind one small interface in the spirit of LevelDB's Env: every
// byte rill stores on disk, and every directory it makes, lists or removes,
// goes through a FileSystem. The process has one (file_system()): the real
// one, which writes with io_uring where the kernel allows it (io/uring.h)
// and with pwrite + fdatasync where it does not; tests install another
// (ScopedFileSystem) that injects faults - short writes, ENOSPC, EIO, a
// failed fsync, a power loss that keeps only synced bytes - without root or
// real hardware failure.
//
// Thread safety: a FileSystem may be used from any thread. A File may be
// used from several threads as pwrite(2) may (writes to distinct ranges);
// callers serialise what must be ordered. A MappedFile is immutable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rill/status.h"

namespace rill::io {

// An open file. Owned by whoever opened it; closing is destruction.
class File {
 public:
  virtual ~File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Writes all of `bytes` at `position` (a short write from the kernel is
  // continued); with `sync`, then makes this file's data durable as sync()
  // does, in the same submission where the backend can. On failure some
  // prefix of `bytes` may have reached the file: the caller treats the range
  // as unwritten and writes it again (or truncates it away).
  // REQUIRES: opened writable.
  virtual Status write(std::uint64_t position, std::span<const std::byte> bytes, bool sync) = 0;

  // fdatasync(2): every byte written to this file so far is on stable
  // storage when this returns OK. After a failure, the bytes written since
  // the last successful sync must not be assumed durable, now or later (a
  // later sync may return OK after the kernel dropped them): callers stop
  // acknowledging durability for this file.
  virtual Status sync() = 0;

  // Reads up to into.size() bytes at `position`; returns how many were read
  // (fewer only at the end of the file).
  virtual Result<std::size_t> read(std::uint64_t position, std::span<std::byte> into) = 0;

  virtual Result<std::uint64_t> size() = 0;

  // Cuts the file to `size` bytes (or extends it with zeros).
  // REQUIRES: opened writable.
  virtual Status truncate(std::uint64_t size) = 0;

  const std::string& path() const noexcept { return path_; }

 protected:
  explicit File(std::string path) : path_(std::move(path)) {}

 private:
  std::string path_;
};

// A file mapped read-only: zero-copy reads of what it held when mapped (up
// to `length`). The mapping outlives the file's unlinking, so a reader keeps
// its bytes while retention deletes the file.
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual std::span<const std::byte> bytes() const noexcept = 0;
};

enum class OpenMode : std::uint8_t {
  kRead,           // an existing file, read only
  kWrite,          // an existing file, read and write
  kCreate,         // a new file (fails with kAlreadyExists if it exists), read and write
  kCreateOrWrite,  // a new or existing file, read and write
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Files are created with mode 0600 (rill's default for what it stores),
  // directories 0700, unless `mode` says otherwise (a namespace shared with a
  // group passes 0660 / 0770).
  virtual Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode, unsigned permissions = 0600) = 0;
  // Maps the first `length` bytes of an existing file (its whole size if
  // `length` is SIZE_MAX). REQUIRES: length <= the file's size.
  virtual Result<std::unique_ptr<MappedFile>> map(const std::string& path, std::size_t length = SIZE_MAX) = 0;
  virtual Status remove(const std::string& path) = 0;
  // rename(2): replaces `to` atomically.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // mkdir -p; OK if it exists.
  virtual Status make_dirs(const std::string& path, unsigned permissions = 0700) = 0;
  // Removes an empty directory.
  virtual Status remove_dir(const std::string& path) = 0;
  // fsync(2) of a directory: the names created, renamed or removed in it
  // are durable.
  virtual Status sync_dir(const std::string& path) = 0;
  // The names in `dir` (no "." or ".."), sorted.
  virtual Result<std::vector<std::string>> list(const std::string& dir) = 0;
  // Whether `path` exists (any type).
  virtual Result<bool> exists(const std::string& path) = 0;
  // `path` made absolute, with symbolic links and "." / ".." resolved
  // (realpath(3)). REQUIRES: it exists.
  virtual Result<std::string> real_path(const std::string& path) = 0;
};

// The process's file system: the real one unless a test installed another.
FileSystem& file_system() noexcept;

// The real one (what tests wrap).
FileSystem& real_file_system() noexcept;

// For tests: makes `fs` the process's file system until destroyed, then
// restores the previous one. REQUIRES: no other thread uses file_system()
// while it is installed or removed.
class ScopedFileSystem {
 public:
  explicit ScopedFileSystem(FileSystem& fs) noexcept;
  ~ScopedFileSystem();
  ScopedFileSystem(const ScopedFileSystem&) = delete;
  ScopedFileSystem& operator=(const ScopedFileSystem&) = delete;

 private:
  FileSystem* previous_;
};

// Writes `bytes` to `path` so that after a crash at any instant the file
// holds either its old contents or all of `bytes`: a temporary file beside
// it, written and synced, renamed over it, and the directory synced.
Status write_file_atomically(FileSystem& fs, const std::string& path, std::span<const std::byte> bytes,
                             unsigned permissions = 0600);

// The whole of a small file (a checkpoint, a catalog): at most `limit`
// bytes, else kCorrupt naming the file (a hostile file must not make rill
// allocate without bound).
Result<std::vector<std::byte>> read_small_file(FileSystem& fs, const std::string& path, std::size_t limit);

}  // namespace rill::io
