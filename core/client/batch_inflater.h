// BatchInflater: a Consumer's compressed batches, decompressed.
//
// PartitionRing::read() stops at a compressed batch and hands its reader a
// view that stands for it (core/log/frame_codec.h). The consumer passes that
// view here: the batch's records are decompressed once into one of this
// object's buffers and decoded into RecordViews whose keys, values and
// headers point into it, so they stay valid until the consumer's next poll
// (PollResult's contract), even if the ring reuses the stored frame
// meanwhile.
//
// A poll that takes only part of a batch (max_poll_records) leaves its
// cursor inside it; the cursor's Hold keeps that batch's buffer for the next
// poll, which decodes the rest from it without decompressing again.
//
// Memory: a buffer per batch a poll touches (at most the poll's record
// count) plus one per held batch, each of its batch's declared size, which
// the frame checks bound by the partition's largest frame; a poll
// decompresses more than kPollBudgetBytes only for its first batch. Buffers
// are kept and reused: once they have grown to the batches a poll meets, a
// poll allocates nothing.
//
// Thread safety: the consumer's thread only, as the Consumer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/format/codec.h"
#include "core/log/partition_ring.h"
#include "rill/record.h"
#include "rill/status.h"

namespace rill::client {

class BatchInflater {
 public:
  // A cursor's claim on the buffer of the batch a poll took only part of.
  struct Hold {
    std::int32_t buffer = -1;  // -1: none
    std::uint64_t generation = 0;
    std::uint32_t position = 0;      // of the batch's frame in its segment
    std::uint32_t frame_length = 0;  // the stored frame's length and checksum: the same frame
    std::uint32_t checksum = 0;
    std::uint32_t records_bytes = 0;  // the records' size, decompressed, in the buffer
  };

  // What inflate() did.
  struct Inflated {
    Status status;            // kCorrupt (naming the batch) if it does not decompress or parse
    std::size_t views = 0;    // records written to `out`
    bool finished = false;    // the batch's last record is among them (else `hold` holds it)
    bool deferred = false;    // nothing done: the poll's budget is spent; read on at the next poll
  };

  // Beyond this many bytes decompressed in a poll, a poll that has records
  // already leaves the next compressed batch to the next poll.
  static constexpr std::size_t kPollBudgetBytes = 8u << 20;

  // A new poll begins: the last poll's views are dead, so every buffer is
  // free again, but for those the cursors' holds name (pass each to keep()).
  void begin_poll() noexcept;
  void keep(const Hold& hold) noexcept;

  // The records of the compressed batch `batch` stands for
  // (log::is_compressed_batch()), at cursor `at` (on the batch, at.inner
  // records into it), from there on: decompressed into a buffer (or found in
  // the one `hold` keeps, when it names this batch) and decoded into `out`,
  // at most `max` of them. `hold` is updated: it keeps the buffer if records
  // are left, else lets it go (its views stay valid until the next poll).
  // `max_frame_bytes`: the partition's largest frame, which bounds the
  // batch's declared size. `have_records`: the poll has records already (it
  // may then be deferred). Does not move the cursor; does not check the
  // segment's generation (the caller does, after).
  Inflated inflate(const RecordView& batch, const log::ReadCursor& at, std::uint32_t max_frame_bytes,
                   bool have_records, Hold* hold, RecordView* out, std::size_t max) noexcept;

 private:
  struct Buffer {
    std::unique_ptr<std::byte[]> bytes;
    std::size_t capacity = 0;
    bool in_use = false;
  };
  // A free buffer of at least `bytes` bytes (one grown or added: warm-up),
  // marked in use; -1 if memory is short.
  std::int32_t take(std::size_t bytes) noexcept;

  format::Decompressor decompressor_;
  std::vector<Buffer> buffers_;
  std::size_t spent_ = 0;  // bytes decompressed in this poll
};

}  // namespace rill::client
