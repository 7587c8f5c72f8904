// DiskCursor: a consumer's reader of one durable partition's files, for the
// offsets its ring no longer holds (catch-up reads, Kafka's "read from the
// log"). Records come back as RecordViews into read-only mappings of the
// segment files (zero copy; a compressed batch is decompressed through the
// consumer's BatchInflater); the mappings stay alive, even if retention
// deletes the files meanwhile, while the caller keeps them (until its next
// poll).
//
// It reads no frame at or past the partition's written offset: a flusher
// may still be writing there. Every frame's lengths are checked, and its
// checksum when the consumer verifies; damage is kCorrupt naming the file
// and byte, after the records before it.
//
// Thread safety: one consumer thread, as the Consumer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/client/batch_inflater.h"
#include "core/log/disk_log.h"
#include "rill/record.h"
#include "rill/status.h"

namespace rill::client {

class DiskCursor {
 public:
  DiskCursor(std::string dir, std::int32_t partition) : dir_(std::move(dir)), partition_(partition) {}

  std::int64_t next_offset() const noexcept { return next_; }

  // Positions at `offset` (at the record there; an abandoned claim covering
  // it is passed whole). kOffsetOutOfRange below the files' first offset or
  // at/after `limit`.
  Status seek(std::int64_t offset, std::int64_t limit);

  // What read() returned.
  struct Read {
    std::size_t views = 0;
    std::uint64_t abandoned = 0;
  };
  // Up to `max` records before `limit` into `out`. `keep` gets the mappings
  // the views point into. `inflater`/`hold`: the consumer's, for compressed
  // batches (hold keeps a batch a read took only part of).
  Result<Read> read(RecordView* out, std::size_t max, std::int64_t limit, bool verify, std::uint32_t max_frame_bytes,
                    BatchInflater& inflater, BatchInflater::Hold& hold,
                    std::vector<std::shared_ptr<io::MappedFile>>& keep);

 private:
  std::string dir_;
  std::int32_t partition_;
  std::optional<log::DiskChunk> chunk_;
  std::int64_t next_ = 0;
  std::uint32_t inner_ = 0;
};

// The first offset the segment files in `dir` hold; -1 if there are none.
std::int64_t disk_start_offset(const std::string& dir);
// Bytes of the segment files (.log) in `dir`.
std::uint64_t disk_bytes(const std::string& dir);

}  // namespace rill::client
