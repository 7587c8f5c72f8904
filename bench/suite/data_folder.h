// What `rill bench` runs leave on disk: the temporary data folder of a run
// that writes files, and the clean-up of what killed runs left.
//
// The temporary data folder of a `rill bench` run that writes files
// (durable topics, the disk baselines): made at the start of the run in a
// parent folder ($TMPDIR, else /tmp, or --data-dir), named
// rill-bench-<pid>-data-XXXXXX so that the next run removes it if this one
// is killed (remove_leftovers_of_dead_runs, runner.h), and removed with
// everything in it when the ScratchFolder goes: at the end of the run, on a
// failure, and on an interrupt (run_bench returns through it).
//
// Thread safety: made and dropped by the main thread.
#pragma once

#include <string>
#include <vector>

#include "ipc/shm_region.h"
#include "rill/status.h"

namespace rill::bench {

// Removes what runs killed without clean-up (SIGKILL, a crash) left behind:
// entries of `dirs` named rill-bench-<pid>-... (the ZeroMQ endpoints'
// directory, iceoryx participants' runtime sockets and locks, the data
// folders of runs that wrote files) whose pid no
// longer runs and that belong to this user. Symbolic links are removed, not
// followed. A live run's entries carry a live pid, so this is safe alongside
// other runs; run_bench calls it before it starts (runner.h). Returns the
// number of entries removed.
int remove_leftovers_of_dead_runs(const std::vector<std::string>& dirs = {"/tmp", ipc::kShmDir});

// $TMPDIR if set and non-empty, else /tmp.
std::string default_data_parent();

// The type of the file system holding `path`, from statfs(2)'s f_type:
// "ext2/3/4" (one magic number for the three), "xfs", "btrfs", "tmpfs", ...,
// or the number ("0x...") for one this list does not know; "" if statfs fails.
std::string file_system_type(const std::string& path);

// syncfs(2) of the file system holding `folder`: writes back every dirty
// page there and waits, so that a phase that writes files starts without
// the writeback of the phase (or transport) before it. Best effort.
void settle_file_system(const std::string& folder) noexcept;

class ScratchFolder {
 public:
  // Makes a new folder in `parent` (mode 0700). kIoError naming `parent`
  // when it cannot.
  static Result<ScratchFolder> make(const std::string& parent);

  ScratchFolder() = default;
  ScratchFolder(ScratchFolder&& other) noexcept;
  ScratchFolder& operator=(ScratchFolder&& other) noexcept;
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;
  ~ScratchFolder();  // removes the folder and everything in it (best effort)

  // Absolute; empty for a default-constructed one.
  const std::string& path() const noexcept { return path_; }

 private:
  explicit ScratchFolder(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace rill::bench
