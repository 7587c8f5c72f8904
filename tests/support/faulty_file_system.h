// A FileSystem for tests that wraps another (the real one) and injects the
// faults a disk and a kernel give: a write that stops part way and fails
// (ENOSPC, EIO), a failed fsync, a disk that fills up, and a power loss that
// keeps only what was synced - optionally with a torn prefix of the rest, as
// a disk that had begun writing it leaves. In the spirit of LevelDB's
// FaultInjectionTestEnv.
//
// Power-loss model: a file's durable size is its size at its last
// successful sync (files rill writes are appended to; bytes rewritten below
// that size are the same bytes). A sync that fails poisons the file: what
// was written since the last good sync is lost at the power loss even if a
// later sync succeeds (Linux marks the pages clean after reporting the error
// once). A file created since the last sync_dir() of its folder disappears.
// Renames are taken as durable at once.
//
// Thread safety: every call may be made from any thread.
#pragma once

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "io/file_system.h"
#include "io/os_error.h"

namespace rill::testing {

class FaultyFileSystem final : public io::FileSystem {
 public:
  explicit FaultyFileSystem(io::FileSystem& base = io::real_file_system()) : base_(base) {}

  // The next write to a file whose path contains `path_part` writes only its
  // first `keep` bytes, then fails with `err`.
  void fail_next_write(std::string path_part, int err, std::size_t keep = 0) {
    std::lock_guard lock(mu_);
    write_faults_.push_back({std::move(path_part), err, keep});
  }
  // The next sync of a file whose path contains `path_part` fails with `err`.
  void fail_next_sync(std::string path_part, int err = EIO) {
    std::lock_guard lock(mu_);
    sync_faults_.push_back({std::move(path_part), err, 0});
  }
  // From now on at most `bytes` more bytes may be written (in all files);
  // a write that would pass the limit writes what fits, then fails ENOSPC.
  // SIZE_MAX: no limit.
  void set_space(std::uint64_t bytes) {
    std::lock_guard lock(mu_);
    space_ = bytes;
  }
  std::uint64_t writes() const {
    std::lock_guard lock(mu_);
    return writes_;
  }
  std::uint64_t syncs() const {
    std::lock_guard lock(mu_);
    return syncs_;
  }

  // The power goes out: every file written through this object is cut to
  // its durable size, plus, with `torn_seed` != 0, a random prefix of the
  // bytes written after it (some of them, at random, overwritten with
  // garbage); files created since their folder's last sync are removed.
  // Writes and syncs through this object fail with EIO from then on (the
  // power is off), so threads still writing cannot undo the loss.
  void lose_power(std::uint64_t torn_seed = 0) {
    std::lock_guard lock(mu_);
    powered_off_ = true;
    std::mt19937_64 rng(torn_seed);
    for (auto& [path, f] : files_) {
      if (unsynced_new_.count(path) != 0) {
        (void)base_.remove(path);
        continue;
      }
      auto file = base_.open(path, io::OpenMode::kWrite);
      if (!file) continue;
      auto sized = (*file)->size();
      const std::uint64_t size = sized ? *sized : 0;
      const std::uint64_t durable = std::min(f.durable, f.poisoned_from);
      std::uint64_t keep = std::min(durable, size);
      if (torn_seed != 0 && size > keep) {
        const std::uint64_t extra = rng() % (size - keep + 1);
        if (extra > 0 && rng() % 2 == 0) {
          std::vector<std::byte> garbage(std::min<std::uint64_t>(extra, 64));
          for (auto& b : garbage) b = static_cast<std::byte>(rng());
          (void)(*file)->write(keep + extra - garbage.size(), garbage, false);
        }
        keep += extra;
      }
      (void)(*file)->truncate(keep);
      f = FileState{keep, keep, UINT64_MAX};
    }
    unsynced_new_.clear();
  }

  Result<std::unique_ptr<io::File>> open(const std::string& path, io::OpenMode mode, unsigned permissions = 0600) override {
    bool existed = true;
    if (mode == io::OpenMode::kCreate || mode == io::OpenMode::kCreateOrWrite) {
      auto there = base_.exists(path);
      existed = !there || *there;
    }
    auto file = base_.open(path, mode, permissions);
    if (!file) return file.status();
    std::lock_guard lock(mu_);
    FileState& state = files_[path];
    if (!existed) {
      state = FileState{};
      unsynced_new_.insert(path);
    } else if (state.durable == UINT64_MAX) {
      auto sized = (*file)->size();
      const std::uint64_t size = sized ? *sized : 0;
      state = FileState{size, size, UINT64_MAX};
    }
    return std::unique_ptr<io::File>(new Wrapped(*this, std::move(*file)));
  }
  Result<std::unique_ptr<io::MappedFile>> map(const std::string& path, std::size_t length = SIZE_MAX) override {
    return base_.map(path, length);
  }
  Status remove(const std::string& path) override {
    Status s = base_.remove(path);
    std::lock_guard lock(mu_);
    if (s) {
      files_.erase(path);
      unsynced_new_.erase(path);
    }
    return s;
  }
  Status rename(const std::string& from, const std::string& to) override {
    Status s = base_.rename(from, to);
    std::lock_guard lock(mu_);
    if (s) {
      auto it = files_.find(from);
      if (it != files_.end()) {
        FileState moved = it->second;
        files_.erase(it);
        // Durable as renamed: the caller synced the file before renaming.
        moved.durable = std::max(moved.durable == UINT64_MAX ? 0 : moved.durable, moved.size);
        files_[to] = moved;
      }
      unsynced_new_.erase(from);
      unsynced_new_.erase(to);
    }
    return s;
  }
  Status make_dirs(const std::string& path, unsigned permissions = 0700) override { return base_.make_dirs(path, permissions); }
  Status remove_dir(const std::string& path) override { return base_.remove_dir(path); }
  Status sync_dir(const std::string& path) override {
    Status s = base_.sync_dir(path);
    std::lock_guard lock(mu_);
    if (s) {
      for (auto it = unsynced_new_.begin(); it != unsynced_new_.end();) {
        const std::size_t slash = it->rfind('/');
        if (it->substr(0, slash == std::string::npos ? 0 : slash) == path)
          it = unsynced_new_.erase(it);
        else
          ++it;
      }
    }
    return s;
  }
  Result<std::vector<std::string>> list(const std::string& dir) override { return base_.list(dir); }
  Result<bool> exists(const std::string& path) override { return base_.exists(path); }
  Result<std::string> real_path(const std::string& path) override { return base_.real_path(path); }

 private:
  struct Fault {
    std::string path_part;
    int err;
    std::size_t keep;
  };
  struct FileState {
    std::uint64_t size = 0;                 // bytes as far as this object knows
    std::uint64_t durable = UINT64_MAX;     // size at the last good sync (MAX: unknown yet)
    std::uint64_t poisoned_from = UINT64_MAX;  // durable size when a sync first failed
  };

  class Wrapped final : public io::File {
   public:
    Wrapped(FaultyFileSystem& fs, std::unique_ptr<io::File> inner) : File(inner->path()), fs_(fs), inner_(std::move(inner)) {}
    Status write(std::uint64_t position, std::span<const std::byte> bytes, bool sync) override {
      std::size_t keep = bytes.size();
      int err = 0;
      // The whole write under the lock: a power loss falls before or after it.
      std::unique_lock lock(fs_.mu_);
      if (fs_.powered_off_) return io::os_error(EIO, "cannot write " + path() + " (the power is off)");
      {
        ++fs_.writes_;
        if (take(fs_.write_faults_, path(), &err, &keep)) keep = std::min(keep, bytes.size());
        if (fs_.space_ != UINT64_MAX) {
          if (bytes.size() > fs_.space_ && err == 0) {
            err = ENOSPC;
            keep = static_cast<std::size_t>(fs_.space_);
          }
          fs_.space_ -= std::min<std::uint64_t>(fs_.space_, keep);
        }
      }
      if (err != 0) {
        if (keep > 0) (void)inner_->write(position, bytes.first(keep), false);
        note_size_locked(position + keep);
        return io::os_error(err, "cannot write " + std::to_string(bytes.size()) + " bytes at byte " +
                                     std::to_string(position) + " of " + path() + " (injected)");
      }
      Status s = inner_->write(position, bytes, false);
      note_size_locked(position + bytes.size());
      lock.unlock();
      if (!s || !sync) return s;
      return this->sync();
    }
    Status sync() override {
      int err = 0;
      std::size_t unused = 0;
      std::lock_guard lock(fs_.mu_);
      if (fs_.powered_off_) return io::os_error(EIO, "cannot fdatasync " + path() + " (the power is off)");
      {
        ++fs_.syncs_;
        FileState& st = fs_.files_[path()];
        if (take(fs_.sync_faults_, path(), &err, &unused)) {
          if (st.poisoned_from == UINT64_MAX) st.poisoned_from = st.durable == UINT64_MAX ? 0 : st.durable;
          return io::os_error(err, "cannot fdatasync " + path() + " (injected)");
        }
      }
      Status s = inner_->sync();
      if (s) {
        FileState& st = fs_.files_[path()];
        st.durable = st.size;
      }
      return s;
    }
    Result<std::size_t> read(std::uint64_t position, std::span<std::byte> into) override {
      return inner_->read(position, into);
    }
    Result<std::uint64_t> size() override { return inner_->size(); }
    Status truncate(std::uint64_t size) override {
      Status s = inner_->truncate(size);
      if (s) {
        std::lock_guard lock(fs_.mu_);
        FileState& st = fs_.files_[path()];
        st.size = size;
        if (st.durable != UINT64_MAX) st.durable = std::min(st.durable, size);
      }
      return s;
    }

   private:
    static bool take(std::vector<Fault>& faults, const std::string& path, int* err, std::size_t* keep) {
      for (auto it = faults.begin(); it != faults.end(); ++it) {
        if (path.find(it->path_part) == std::string::npos) continue;
        *err = it->err;
        *keep = it->keep;
        faults.erase(it);
        return true;
      }
      return false;
    }
    void note_size_locked(std::uint64_t end) {
      FileState& st = fs_.files_[path()];
      st.size = std::max(st.size, end);
    }

    FaultyFileSystem& fs_;
    std::unique_ptr<io::File> inner_;
  };

  io::FileSystem& base_;
  mutable std::mutex mu_;
  std::map<std::string, FileState> files_;
  std::set<std::string> unsynced_new_;
  std::vector<Fault> write_faults_, sync_faults_;
  std::uint64_t space_ = UINT64_MAX;
  bool powered_off_ = false;
  std::uint64_t writes_ = 0, syncs_ = 0;
};

}  // namespace rill::testing
