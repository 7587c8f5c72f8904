// The on-disk log of one durable partition: segment files of the ring's own
// frames in one folder (core/log/disk_format.h, doc/segment_format.md),
// written through io::FileSystem.
//
// open() recovers: the last file is scanned from its sync mark, a torn or
// corrupt tail after the mark is cut away, its indexes are brought in step,
// and the result is synced. append() takes whole frames that continue the
// log (checked: every length and count, so a damaged ring can never put a
// frame on disk whose offsets do not add up) and writes them, with their
// index entries, to the current file, rolling to a new file at a frame
// boundary once it holds `file_bytes`; with `sync`, the write and an
// fdatasync are one submission. A failed fdatasync poisons the log: from
// then on every sync fails, naming the first failure (the kernel may have
// dropped the unsynced pages and would report the next sync as a success),
// while appends without sync go on.
//
// Reading: locate() finds the frame holding an offset - by the file's index,
// whose entry is trusted only if the frame there passes its checksum at the
// indexed offset - and returns a read-only mapping of the file from there;
// decode the frames with decode_frame() as the ring's reader does.
//
// Thread safety: one writer (open/append/sync/remove_before) at a time, and
// the caller serialises it; locate() may be called from any thread beside
// it (it reads the files, and a snapshot of the file list under a mutex).
#pragma once

#include <cstddef>
#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "io/file_system.h"
#include "rill/record.h"
#include "rill/status.h"

namespace rill::log {

struct DiskLogConfig {
  std::int32_t partition = 0;                          // for messages and RecordViews
  std::uint64_t file_bytes = std::uint64_t{1} << 30;   // a .log file rolls once it holds this many bytes
  std::uint32_t index_interval = 4096;                 // bytes of frames between index entries
  unsigned permissions = 0600;                         // of the files it creates
  std::uint64_t retention_bytes = 0;                   // Flusher: apply_retention()'s limits (0: none)
  std::int64_t retention_ms = 0;
  // Asked before and after a new segment file is made (roll): true if the
  // partition was deleted meanwhile - the roll then fails with kNotFound and
  // removes what it made, since the folder may already be another topic's.
  std::function<bool()> deleted = nullptr;
};

// kNotFound naming `dir`: its topic was deleted, so nothing more is written
// there (DiskLogConfig::deleted; the Flusher says the same to producers).
Status topic_deleted(const std::string& dir);

// What open() found and did.
struct DiskRecovery {
  std::uint64_t files = 0;            // .log files found (or 1, created)
  std::uint64_t bytes_scanned = 0;    // bytes of frames checked after the last sync mark
  std::uint64_t bytes_truncated = 0;  // a torn or corrupt tail cut away
  std::string truncated_at;           // "<file> byte <n>" when bytes_truncated > 0
};

// The frames of one file from a located offset on.
struct DiskChunk {
  std::shared_ptr<io::MappedFile> file;  // keeps the bytes mapped
  std::string path;
  std::uint64_t position = 0;            // of the first frame in `file`
  std::uint64_t end = 0;                 // end of the frames in `file` (mapped length)
  std::int64_t first_offset = 0;         // the first offset of the frame at `position`
};

// Records read from a DiskChunk by read_chunk().
struct DiskRead {
  std::size_t views = 0;        // records written to `out`
  std::uint64_t abandoned = 0;  // offsets passed that an abandoned claim covered
  // The read stopped at a compressed batch: out[views] stands for it
  // (is_compressed_batch()), and the chunk's position is still on it.
  bool compressed = false;
};

// Decodes records from `chunk` at its position on, for a reader whose next
// offset is *next_offset, *inner records into the frame there: up to `max`
// views to `out` (pointing into the chunk's mapping), advancing
// chunk.position, *next_offset and *inner. Stops at the chunk's end. Every
// checksum is verified when `verify` (an abandoned frame's always). kCorrupt
// names the file and byte of the first frame that fails, after the records
// before it were delivered by earlier calls.
// Reads no frame at or after offset `limit` (a writer may still be writing it).
Result<DiskRead> read_chunk(DiskChunk& chunk, std::int32_t partition, std::int64_t* next_offset, std::uint32_t* inner,
                            RecordView* out, std::size_t max, bool verify, std::int64_t limit = INT64_MAX);

// The base offsets of the segment files in `dir`, sorted (none if empty).
Result<std::vector<std::int64_t>> list_segment_files(io::FileSystem& fs, const std::string& dir);
// locate() for a reader that does not write the files: the frames from the
// one holding `offset` on, from the folder as it is now. kOffsetOutOfRange
// below the first file or at/after `limit` (the partition's written offset:
// frames after it may be half written).
Result<DiskChunk> locate_on_disk(io::FileSystem& fs, const std::string& dir, std::int64_t offset, std::int64_t limit);
// The offset of the first frame before `limit` holding a record whose
// timestamp is at or after `timestamp_ns` (a batch: its largest), found
// through the time indexes: exact when timestamps grow with offsets, as a
// ring's seek by time; `limit` if there is none.
Result<std::int64_t> offset_for_time_on_disk(io::FileSystem& fs, const std::string& dir, std::int64_t timestamp_ns,
                                             std::int64_t limit);

class DiskLog {
 public:
  // Opens the log in folder `dir` (made if missing), recovering it; a new
  // log's first offset is `first_offset`.
  static Result<std::unique_ptr<DiskLog>> open(io::FileSystem& fs, std::string dir, const DiskLogConfig& config,
                                               std::int64_t first_offset);
  ~DiskLog();
  DiskLog(const DiskLog&) = delete;
  DiskLog& operator=(const DiskLog&) = delete;

  const DiskRecovery& recovery() const noexcept { return recovery_; }
  // OK, or the damage open() found below a sync mark (file and byte): the
  // records before it are readable, appends and syncs fail with it.
  const Status& damage() const noexcept { return damage_; }
  const std::string& dir() const noexcept { return dir_; }

  // The first offset on disk (the oldest file's base), the offset after the
  // last frame written, and after the last frame synced.
  std::int64_t start_offset() const;
  std::int64_t end_offset() const noexcept { return end_offset_; }
  std::int64_t synced_offset() const noexcept { return synced_offset_; }
  // Bytes of all .log files.
  std::uint64_t size_bytes() const;

  // Appends `frames` (whole frames, 8-aligned, continuing at end_offset()).
  // kCorrupt (nothing written) if they do not decode as frames covering
  // offsets from end_offset() on; an I/O error leaves end_offset() where it
  // was (the next append writes the same place again).
  Status append(std::span<const std::byte> frames, bool sync);
  // Makes everything appended durable.
  Status sync();

  // Deletes whole files every offset of which is below `offset` (the
  // current file never). Returns how many files went.
  Result<std::size_t> remove_before(std::int64_t offset);
  // Retention (Kafka's retention.bytes and retention.ms): deletes the oldest
  // whole files, never the current one, while the files hold more than
  // `max_bytes` (0: no limit) or while the oldest's records are all older
  // than `min_timestamp_ns` (INT64_MIN: no limit; a file whose largest
  // timestamp is unknown is kept). Returns how many files went.
  Result<std::size_t> apply_retention(std::uint64_t max_bytes, std::int64_t min_timestamp_ns);

  // The frames from the one holding `offset` on. kOffsetOutOfRange below
  // start_offset() or at/after end_offset().
  Result<DiskChunk> locate(std::int64_t offset) const;

 private:
  struct File;
  DiskLog(io::FileSystem& fs, std::string dir, const DiskLogConfig& config);
  Status create_file(std::int64_t base);
  Status recover_last();
  Status roll();
  Status seal_mark();
  Status write_mark(File& f);
  Status write_run(std::span<const std::byte> frames, std::int64_t offsets, bool sync);

  io::FileSystem& fs_;
  std::string dir_;
  DiskLogConfig config_;
  DiskRecovery recovery_;
  mutable std::mutex files_mu_;           // guards files_ against locate()
  std::vector<std::unique_ptr<File>> files_;  // by base offset; the last takes appends
  std::int64_t end_offset_ = 0;
  std::int64_t synced_offset_ = 0;
  Status poisoned_;                       // the first failed sync
  Status damage_;                         // damage below a sync mark
};

}  // namespace rill::log
