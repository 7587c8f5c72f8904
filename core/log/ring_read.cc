// PartitionRing's reader side (the scanner): read() and readable(), the
// per-record path, which take committed frames from a cursor and check the
// generation after reading; and positions: earliest(), latest(), and seek by
// offset or by time through each segment's sparse index.
//
// A compressed batch: read() does not decompress (it keeps no buffer): it
// stops there and passes on, as its last view, one that stands for the batch
// (frame_codec.h, is_compressed_batch()), with the cursor left on the batch.
// Its caller decompresses the records into memory of its own and moves the
// cursor: the Consumer, into its buffers (core/client/batch_inflater.h);
// scan() below, for a seek, into a scratch vector.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/format/codec.h"
#include "core/log/partition_ring.h"
#include "core/log/ring_words.h"

namespace rill::log {

ReadBatch PartitionRing::read(ReadCursor& cursor, RecordView* out, std::size_t max, bool verify) const noexcept {
  const std::uint64_t capacity = data_capacity_;
  ReadCursor c = cursor;
  ReadBatch batch;
  for (;;) {
    const std::byte* d = data(c.generation);
    const SegmentHeader* h = segment_header(c.generation);
    bool segment_end = false;
    // Record frames do not store their offsets: the reader counts them. So
    // the count is checked where the segment headers say what it must be,
    // at each segment's start and end (a cursor derived from a damaged word
    // would otherwise label records with wrong offsets).
    // No ring reaches offset 2^62 (kMaxOffset): a cursor there, or one
    // before 0, was built on a damaged base offset. (position | inner): as
    // two tests GCC merged them into one 8-byte load of two 4-byte stores
    // just made, a store-forwarding stall that cost half of read().
    // base_offset relaxed: roll() stores it before its release of the
    // previous segment's `sealed` and of current_generation, one of which
    // the reader acquired to reach this generation (read() at the segment
    // end; earliest(), latest() and seek() through current_generation); it
    // changes again only when the segment is retired, which the generation
    // check below reports.
    if (static_cast<std::uint64_t>(c.next_offset) >= kMaxOffset ||
        ((c.position | c.inner) == 0 &&
         static_cast<std::int64_t>(h->base_offset.load(std::memory_order_relaxed)) != c.next_offset))
      batch.status = ReadStatus::kCorrupt;
    while (batch.count < max && batch.status == ReadStatus::kOk) {
      if (c.position + kFrameAlignment > capacity) {
        // Pairs with roll()'s release store of `sealed`.
        segment_end = h->sealed.load(std::memory_order_acquire) != 0;
        break;
      }
      const std::uint64_t word = load_commit(d + c.position);
      if (!committed(word)) break;  // not committed yet (or reused: checked below)
      if (is_end_of_segment(word)) {
        segment_end = true;
        break;
      }
      if (!verify && c.inner == 0 &&
          decode_plain_record(d + c.position, word, capacity - c.position, id_, c.next_offset, out + batch.count)) {
        ++batch.count;
        c.position += static_cast<std::uint32_t>(align_frame(commit_length(word)));
        c.next_offset = advance(c.next_offset, 1);
        continue;
      }
      const Decoded f = decode_frame(d + c.position, word, capacity - c.position, id_, c.next_offset, c.inner,
                                     out + batch.count, max - batch.count, verify);
      if (f.check != FrameCheck::kOk) [[unlikely]] {
        batch.status = f.check == FrameCheck::kChecksum ? ReadStatus::kChecksum : ReadStatus::kCorrupt;
        break;
      }
      if (f.compressed) [[unlikely]] {
        // out[count] stands for the batch (the loop left room for it); the
        // caller decompresses it and moves the cursor past what it takes.
        ++batch.count;
        break;
      }
      batch.count += f.views;
      batch.abandoned += f.abandoned;
      if (f.abandoned == 0 && f.views < f.offsets) {
        // Part of a batch: the cursor stays on its frame.
        c.next_offset = advance(c.next_offset, f.views);
        c.inner += f.views;
        break;
      }
      c.position += static_cast<std::uint32_t>(align_frame(commit_length(word)));
      c.next_offset = advance(c.next_offset, f.offsets);
      c.inner = 0;
    }
    // Seqlock-style check: pairs with the release fence in roll() after retiring a segment.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (h->generation.load(std::memory_order_relaxed) != c.generation) {  // relaxed: ordered by the fence
      return ReadBatch{0, 0, ReadStatus::kOutOfRange, c.generation};
    }
    if (batch.status != ReadStatus::kOk) {
      // The records before the bad frame passed every check: deliver them and
      // leave the cursor on the bad frame, so that the next read reports it
      // there (and the caller's error names its offset, not an earlier one).
      if (batch.count == 0 && batch.abandoned == 0) return batch;
      batch.status = ReadStatus::kOk;
    }
    batch.generation = c.generation;
    if (segment_end && batch.count == 0) {
      // Pairs with roll()'s release store of `sealed` (before the END word),
      // which publishes the base offset (relaxed) too.
      const std::uint64_t sealed = h->sealed.load(std::memory_order_acquire);
      if (static_cast<std::uint64_t>(c.next_offset) != h->base_offset.load(std::memory_order_relaxed) + (sealed >> 32) ||
          c.position != static_cast<std::uint32_t>(sealed)) {
        // Not where the seal says the records end. Unless the segment was
        // reused meanwhile (the seal cleared), the cursor or the headers are damaged.
        // The fence pairs with roll()'s release fence, as above.
        std::atomic_thread_fence(std::memory_order_acquire);
        const bool reused = h->generation.load(std::memory_order_relaxed) != c.generation;
        return ReadBatch{0, 0, reused ? ReadStatus::kOutOfRange : ReadStatus::kCorrupt, c.generation};
      }
      c = ReadCursor{.generation = c.generation + 1, .next_offset = c.next_offset};
      continue;  // the next segment was opened before the end was published
    }
    cursor = c;
    return batch;
  }
}

bool PartitionRing::readable(const ReadCursor& cursor) const noexcept {
  if (cursor.position + kFrameAlignment > data_capacity_) {
    // At the very end of a full segment. Sealed: the next segment is open.
    // Not sealed: still open, or already retired (retiring clears `sealed`),
    // so fall through to the generation check rather than report nothing
    // until the slot's next generation is sealed. Pairs with roll()'s release
    // store of `sealed`.
    if (segment_header(cursor.generation)->sealed.load(std::memory_order_acquire) != 0) return true;
  } else {
    if (committed(load_commit(data(cursor.generation) + cursor.position))) return true;
  }
  // Pairs with roll()'s release fence after retiring a segment; the relaxed
  // load of the generation after it sees the retirement.
  std::atomic_thread_fence(std::memory_order_acquire);
  return segment_header(cursor.generation)->generation.load(std::memory_order_relaxed) != cursor.generation;
}

bool PartitionRing::blocked(const ReadCursor& cursor) const noexcept {
  return !readable(cursor) && latest().next_offset > cursor.next_offset;
}

bool PartitionRing::generation_live(std::uint64_t generation) const noexcept {
  // Pairs with roll()'s release fence: a caller that read reused bytes sees the new generation.
  std::atomic_thread_fence(std::memory_order_acquire);
  return segment_header(generation)->generation.load(std::memory_order_relaxed) == generation;
}

// ---------------------------------------------------------------- positions

ReadCursor PartitionRing::segment_start(std::uint64_t generation) const noexcept {
  // Relaxed: roll() stores a base offset before its releases of the previous
  // segment's `sealed` and of current_generation, one of which every caller
  // acquired to reach `generation`.
  return ReadCursor{
      .generation = generation,
      .next_offset = static_cast<std::int64_t>(segment_header(generation)->base_offset.load(std::memory_order_relaxed))};
}

ReadCursor PartitionRing::earliest() const noexcept {
  const std::uint64_t retained_past = segment_count_ - 3;
  for (;;) {
    // Pairs with roll()'s release store of current_generation.
    const std::uint64_t current = header_->current_generation.load(std::memory_order_acquire);
    const std::uint64_t oldest = current > retained_past ? current - retained_past : 0;
    // The roll into current+1 retires `oldest` before it advances
    // current_generation: then the next generation is the oldest retained.
    for (std::uint64_t g = oldest, left = current - oldest + 1; left > 0; ++g, --left) {
      ReadCursor c = segment_start(g);
      if (generation_live(g)) return c;
    }
    // None is live: the ring moved on meanwhile (look again) or, if it has
    // not, its headers contradict each other (damaged shared memory) and the
    // cursor reads as out of range rather than this loop spinning forever.
    // Acquire, as above.
    if (header_->current_generation.load(std::memory_order_acquire) == current) return segment_start(current);
  }
}

ReadCursor PartitionRing::latest() const noexcept {
  for (std::uint32_t spins = 0;;) {
    // Pairs with the release store of the tail in roll().
    const std::uint64_t t = header_->tail.load(std::memory_order_acquire);
    const std::uint64_t gen = generation_of_tag(tail_tag(t));
    ReadCursor c = segment_start(gen);
    c.next_offset = advance(c.next_offset, tail_count(t));
    if ((t & kPositionMask) != kRolling) {
      c.position = static_cast<std::uint32_t>(tail_position(t));
      return c;
    }
    if (++spins < 1024 || spins % 256 != 0) {
      if (spins < 1024) cpu_relax();
      else std::this_thread::yield();
      continue;
    }
    // A roll that takes this long may have lost its roller: finish it. If
    // its roller lives (even stopped), or no slot announces the roll (damaged
    // shared memory), answer without it rather than wait without end: the
    // rolling tail keeps its tag and count, and a reader at the end of the
    // segment moves on once the segment is sealed.
    if (const_cast<PartitionRing*>(this)->rescue_roll(t, monotonic_ns() + kRescuePatienceNs)) continue;
    c.position = static_cast<std::uint32_t>(data_capacity_);
    return c;
  }
}

ReadCursor PartitionRing::index_start(std::uint64_t generation, bool by_time, std::int64_t key) const noexcept {
  // Finds the last index entry whose record is committed and sorts before `key`.
  // An entry not yet usable counts as "not before": the scan then starts
  // earlier, which is slower but still correct.
  const IndexEntry* entries = index(generation);
  const std::uint32_t tag = generation_tag(generation);
  const std::byte* d = data(generation);
  auto before = [&](std::uint32_t k, ReadCursor* at) {
    // Pairs with the release store in index_frame() (commit(), abandon()).
    const std::uint64_t tp = entries[k].tag_position.load(std::memory_order_acquire);
    if (static_cast<std::uint32_t>(tp >> 32) != tag) return false;
    const std::uint32_t position = static_cast<std::uint32_t>(tp);
    // Frames start 8-aligned inside the data area; an entry naming anything
    // else is damaged (and a misaligned commit word cannot be loaded atomically).
    if (position % kFrameAlignment != 0 || position + kFrameHeaderSize > data_capacity_) return false;
    const std::uint64_t word = load_commit(d + position);
    if (!committed(word) || is_end_of_segment(word)) return false;
    // Relaxed: index_frame() stores them before its release of tag_position,
    // acquired above.
    const std::int64_t offset = entries[k].offset.load(std::memory_order_relaxed);
    const std::int64_t timestamp = entries[k].timestamp_ns.load(std::memory_order_relaxed);
    // A damaged entry (or one being rewritten for a newer generation) fails
    // its check; an offset before the segment's start is damage too. The
    // scan then starts earlier.
    if (entries[k].check.load(std::memory_order_relaxed) != index_check(tp, offset, timestamp) ||
        offset < segment_start(generation).next_offset)
      return false;
    // An abandoned frame has no timestamp (its entry's is a placeholder): for
    // a search by time it counts as "not before", and the scan starts earlier.
    if (by_time && commit_kind(word) == kKindAbandoned) return false;
    const std::int64_t value = by_time ? timestamp : offset;
    if (value >= key) return false;
    *at = ReadCursor{.generation = generation, .next_offset = offset, .position = position};
    return true;
  };
  ReadCursor best = segment_start(generation);
  std::uint32_t lo = 1, hi = index_entries_;  // entry 0 is the segment start
  while (lo < hi) {
    const std::uint32_t mid = lo + (hi - lo) / 2;
    ReadCursor at;
    if (before(mid, &at)) {
      best = at;
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return best;
}

namespace {

// The records of the compressed batch `batch` stands for, from the
// `inner`-th on, decompressed into *records (scan()'s scratch, a cold path:
// it allocates). kCorrupt if they do not decompress or parse; `what` names
// the batch for the message.
Status inflate_for_scan(const RecordView& batch, std::uint32_t inner, std::uint32_t max_frame_bytes,
                        std::unique_ptr<format::Decompressor>& decompressor, std::vector<std::byte>* records,
                        std::vector<RecordView>* views) {
  const CompressedBatch b = compressed_batch(batch);
  const std::string what = std::string(compression_name(b.codec)) + "-compressed batch at offset " +
                           std::to_string(batch.offset());
  if (b.records_bytes > max_frame_bytes - kBatchHeaderSize)
    return Status(Code::kCorrupt, what + " declares " + std::to_string(b.records_bytes) +
                                      " bytes of records, more than a frame of the partition holds");
  if (!decompressor) decompressor = std::make_unique<format::Decompressor>();
  records->resize(b.records_bytes);
  if (Status s = decompressor->decompress(b.codec, b.stored, *records); !s) return s.with_context(what);
  views->resize(b.count);
  const Decoded d = decode_batch_records(batch.frame(), batch.frame_size(), *records, batch.partition(), inner,
                                         views->data(), views->size());
  if (d.check != FrameCheck::kOk)
    return Status(Code::kCorrupt, what + ": its records, decompressed, do not parse");
  views->resize(d.views);
  return Status::ok();
}

}  // namespace

template <typename Stop>
Result<ReadCursor> PartitionRing::scan(ReadCursor cursor, Stop stop) const {
  constexpr std::size_t kBatch = 64;
  RecordView views[kBatch];
  // A compressed batch's records, decompressed (made on the first).
  std::unique_ptr<format::Decompressor> decompressor;
  std::vector<std::byte> records;
  std::vector<RecordView> unpacked;
  const std::int64_t started = monotonic_ns();
  const std::int64_t deadline = started + 1'000'000'000;
  std::int64_t next_look = started + kSeekAbandonPatienceNs;
  for (;;) {
    ReadCursor before = cursor;
    ReadBatch b = read(cursor, views, kBatch);
    if (b.status == ReadStatus::kOutOfRange)
      return Status(Code::kOffsetOutOfRange, "the ring reused the segment while seeking; earliest offset is now " +
                                                 std::to_string(earliest_offset()));
    if (b.status == ReadStatus::kCorrupt)
      return Status(Code::kCorrupt, "bad record length or offset at position " + std::to_string(cursor.position));
    // read() stops on a compressed batch, cursor on it, with a view that
    // stands for it last: the records before it first, then those inside.
    const bool packed = b.count > 0 && is_compressed_batch(views[b.count - 1]);
    if (packed) --b.count;
    for (std::size_t i = 0; i < b.count; ++i) {
      if (stop(views[i])) {
        // Where the record is: its frame, and how far into it (a batch's records share one).
        const std::byte* frame = views[i].frame();
        const std::uint64_t word = load_commit(frame);
        const std::uint32_t inner =
            commit_kind(word) == kKindBatch
                ? static_cast<std::uint32_t>(static_cast<std::uint64_t>(views[i].offset()) -
                                             static_cast<std::uint64_t>(batch_base_offset(frame)))
                : 0;
        return ReadCursor{.generation = b.generation,
                          .next_offset = views[i].offset(),
                          .position = static_cast<std::uint32_t>(frame - data(b.generation)),
                          .inner = inner};
      }
    }
    if (packed) {
      const RecordView& batch = views[b.count];
      // Its last offset and largest timestamp are in its header: a batch
      // that cannot hold the record sought is passed without decompressing
      // (so a seek past a damaged batch still lands).
      const CompressedBatch header = compressed_batch(batch);
      const std::uint32_t left = header.count > cursor.inner ? header.count - cursor.inner : 0;
      const RecordView last(batch.frame(), batch.frame_size(), batch.partition(),
                            advance(cursor.next_offset, left) - 1, header.max_timestamp, batch.frame(), -1, 0, 0, 0);
      Status s;
      auto found = unpacked.end();
      if (stop(last)) {
        s = inflate_for_scan(batch, cursor.inner, max_frame_bytes(), decompressor, &records, &unpacked);
        found = s ? std::find_if(unpacked.begin(), unpacked.end(), stop) : unpacked.end();
      }
      // Pairs with roll()'s release fence, as in read(): a header read or a
      // batch decompressed from reused bytes is an overrun, not damage.
      if (!generation_live(cursor.generation))
        return Status(Code::kOffsetOutOfRange, "the ring reused the segment while seeking; earliest offset is now " +
                                                   std::to_string(earliest_offset()));
      if (!s) return s;
      if (found != unpacked.end()) {
        cursor.inner += static_cast<std::uint32_t>(found->offset() - cursor.next_offset);
        cursor.next_offset = found->offset();
        return cursor;
      }
      cursor.next_offset = advance(cursor.next_offset, left);
      cursor.position += static_cast<std::uint32_t>(align_frame(batch.frame_size()));
      cursor.inner = 0;
      continue;
    }
    if (b.count > 0 || b.abandoned > 0) continue;
    ReadCursor end = latest();
    if (before.next_offset >= end.next_offset) return end;
    const std::int64_t now = monotonic_ns();
    if (now >= next_look) {
      // A claim the scan cannot pass: if its producer died, abandon it (as a
      // blocked consumer would) and read on; a live one is waited for.
      next_look = now + kSeekAbandonPatienceNs;
      if (const_cast<PartitionRing*>(this)->recover_abandoned(cursor.generation) > 0) continue;
    }
    if (now > deadline)
      return Status(Code::kTimedOut, "record at offset " + std::to_string(cursor.next_offset) +
                                         " stayed uncommitted for a second while seeking (its producer is alive "
                                         "but has not committed it: stopped or hung? see `rill topic describe`)");
    wait(cursor, WaitStrategy::kSpinThenYield, std::min(deadline, next_look));
  }
}

Result<ReadCursor> PartitionRing::seek(std::int64_t offset) const {
  // The search below trusts the base offsets and the tail's count.
  if (Status s = check(); !s) return s;
  const ReadCursor end = latest();
  if (offset == end.next_offset) return end;
  const ReadCursor first = earliest();
  if (offset < first.next_offset || offset > end.next_offset)
    return Status(Code::kOffsetOutOfRange, "offset " + std::to_string(offset) + " is outside the retained range [" +
                                               std::to_string(first.next_offset) + ", " +
                                               std::to_string(end.next_offset) + "]");
  std::uint64_t gen = end.generation;
  // Relaxed: each stored before the release of current_generation that
  // latest() acquired.
  while (gen > first.generation &&
         static_cast<std::int64_t>(segment_header(gen)->base_offset.load(std::memory_order_relaxed)) > offset)
    --gen;
  return scan(index_start(gen, false, offset), [offset](const RecordView& v) { return v.offset() >= offset; });
}

Result<ReadCursor> PartitionRing::seek_time(std::int64_t timestamp_ns) const {
  if (Status s = check(); !s) return s;
  const ReadCursor first = earliest();
  const ReadCursor end = latest();
  std::uint64_t gen = first.generation;
  // Last segment whose first record is older than the target.
  for (std::uint64_t g = first.generation + 1; g <= end.generation; ++g) {
    const std::uint64_t word = load_commit(data(g));
    if (!committed(word) || is_end_of_segment(word) || commit_length(word) < kFrameHeaderSize) break;
    // An abandoned frame has no timestamp: its segment is taken as older.
    if (commit_kind(word) != kKindAbandoned && frame_timestamp(data(g), word) >= timestamp_ns) break;
    gen = g;
  }
  return scan(index_start(gen, true, timestamp_ns),
              [timestamp_ns](const RecordView& v) { return v.timestamp_ns() >= timestamp_ns; });
}

}  // namespace rill::log
