// The disk baselines of `rill bench`: what the disk under the run's data
// folder does when written through rill's own io layer (io::file_system():
// io_uring, or pwrite with RILL_IO=posix; io/uring.h), measured in the same
// run as durable rill topics, so that their ratios compare like with like:
//
//   raw-write       record frames (the size rill's frames take, header and
//                   padding included) written in sequence to files of 1 GiB
//                   (a durable topic's default file size), never synced:
//                   sequential write bandwidth. A write carries as many
//                   frames as one send of the throughput phase (--batch),
//                   like with like, up to kRawWriteBytes (the most one flush
//                   of rill writes at once): the bandwidth a write size gets
//                   varies with it (on the development VMs, through the page
//                   cache and to the disk, about 1.2 GB/s in writes of 16-32
//                   KiB against 0.3-0.4 GB/s in writes of 1-4 MiB). One
//                   "record" is one frame.
//   raw-fdatasync   one record frame appended to a file and fdatasync'd, one
//                   at a time (File::write, then File::sync): what one
//                   durable append costs. One "record" is one write + sync,
//                   timed into the latency histogram.
//   raw-group-commit  -P writer threads, each appending one record frame to
//                   one file and waiting until it is fdatasync'd, with the
//                   textbook group commit (a mutex and a condition
//                   variable: whoever finds no sync running syncs every
//                   frame written so far, for all): what many producers at
//                   durability fsync cost with the simplest sound sharing
//                   of syncs, on this machine's cores. One "record" is one
//                   frame acknowledged, its wait timed into the histogram.
//
// raw-write and raw-fdatasync are each one phase on the calling thread:
// warm-up (written, not counted), then the plan's count or duration. There
// are no consumers: the bytes are not read back (the files are rill's io layer's to get right; its tests
// check them).
//
// Thread safety: call from one thread (raw-group-commit makes its own).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/suite/histogram.h"
#include "bench/suite/phase.h"

namespace rill::bench {

inline constexpr std::size_t kRawWriteBytes = 4u << 20;
inline constexpr std::uint64_t kRawFileBytes = 1ull << 30;

enum class DiskBaseline : std::uint8_t { kWrite, kFdatasync };

// What a disk baseline's measured part did.
struct DiskOutcome {
  std::uint64_t records = 0;    // frames written (kWrite) or writes synced (kFdatasync)
  std::uint64_t bytes = 0;      // bytes written
  std::int64_t elapsed_ns = 0;  // from the start of the first measured write to the end of the last
  std::string error;            // empty unless a write or sync failed
  bool interrupted = false;     // `progress` returned false
};

// Called about every 200 ms with the records done so far (warm-up
// included) and the time since the start; false stops the phase.
using DiskProgressFn = std::function<bool(std::uint64_t records, double elapsed_s)>;

// Runs `kind` for `plan` (its record_bytes, warmup_ns, count or
// duration_ns) with files `path`, `path`.1, ... (removed before it returns).
// kFdatasync records each measured write + sync, in ns, in `latency`.
DiskOutcome run_disk_baseline(DiskBaseline kind, const PhasePlan& plan, const std::string& path, Histogram& latency,
                              const DiskProgressFn& progress);

// raw-group-commit: `writers` threads (writer i pinned to cores[i] when
// that is >= 0) for `plan`, each frame's write-to-acknowledgement time in
// `latency`; the plan's count is shared out among the writers.
DiskOutcome run_group_commit_baseline(const PhasePlan& plan, int writers, const std::vector<int>& cores,
                                      const std::string& path, Histogram& latency, const DiskProgressFn& progress);

}  // namespace rill::bench
