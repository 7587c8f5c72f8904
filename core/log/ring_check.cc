// PartitionRing's integrity checks (check()): the words producers and readers
// steer by, judged against each other before a ring is trusted - by attach(),
// a producer's first claim, each roll, seek() and a consumer that waits long.
// Cold paths; a sound ring allocates nothing here.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/log/partition_ring.h"
#include "core/log/ring_words.h"

namespace rill::log {

// ---------------------------------------------------------------- integrity
//
// Every word below comes from shared memory that another process may have
// damaged. The checks judge them against each other (doc/log_format.md,
// "Invariants"), never alone, and only on a reading the ring's own progress
// cannot explain: claims go on during a check, so each part judges only what
// a claim cannot change, and a roll that begins or ends meanwhile voids the
// verdict (check_ring() looks again).

namespace {

std::string hex(std::uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%#llx", static_cast<unsigned long long>(v));
  return b;
}
std::string str(std::uint64_t v) { return std::to_string(v); }

}  // namespace

Status PartitionRing::damaged(const std::string& what) const {
  return Status(Code::kCorrupt, "partition " + std::to_string(id_) + " is damaged: " + what);
}

Status PartitionRing::check() const { return check_ring(nullptr); }
Status PartitionRing::check(const ReadCursor& cursor) const { return check_ring(&cursor); }

Status PartitionRing::check_ring(const ReadCursor* cursor) const {
  for (int attempt = 0; attempt < 64; ++attempt) {
    // Pairs with roll()'s release stores of current_generation and the tail:
    // every segment header a roll up to `current` wrote is visible below.
    const std::uint64_t current = header_->current_generation.load(std::memory_order_acquire);
    const std::uint64_t tail = header_->tail.load(std::memory_order_acquire);
    Status s = check_segments(current, tail, Scope::kAll);
    if (s && is_rolling(tail) && wedged())
      s = damaged("the tail word " + hex(tail) +
                  " is rolling and no process announces the roll (stuck mid-roll: nobody can finish it)");
    if (s) s = check_tail_records(current, tail, true);
    if (s && cursor != nullptr) s = check_cursor(*cursor, current, tail);
    // No roll began or ended meanwhile: the verdict was reached on one state.
    // Acquire, as the loads above (roll()'s releases).
    const std::uint64_t tail_after = header_->tail.load(std::memory_order_acquire);
    if (header_->current_generation.load(std::memory_order_acquire) == current &&
        tail_tag(tail_after) == tail_tag(tail) && is_rolling(tail_after) == is_rolling(tail))
      return s;
  }
  return Status::ok();  // rolling throughout: nothing stood still long enough to judge
}

Status PartitionRing::check_segments(std::uint64_t current, std::uint64_t tail, Scope scope) const {
  const std::uint64_t n = segment_count_;
  const std::uint64_t capacity = data_capacity_;
  if (current >= kMaxGeneration)
    return damaged("current_generation " + str(current) + " is past any generation a ring reaches (" +
                   str(kMaxGeneration) + ")");
  const bool rolling = is_rolling(tail);
  const std::uint16_t tag = tail_tag(tail);
  // A roll stores current_generation (g+1) before it releases the tail it
  // holds (rolling, tag g); otherwise the tail names the current generation.
  const bool rolling_from_current = rolling && tag == static_cast<std::uint16_t>(current);
  if (tag != static_cast<std::uint16_t>(current) &&
      !(rolling && current > 0 && tag == static_cast<std::uint16_t>(current - 1)))
    return damaged("the tail word " + hex(tail) + " names generation tag " + str(tag) + ", but current_generation " +
                   str(current) + " has tag " + str(static_cast<std::uint16_t>(current)));
  const std::uint32_t count = tail_count(tail);
  if (!rolling) {
    const std::uint64_t position = tail_position(tail);
    if (position > capacity)
      return damaged("the tail word " + hex(tail) + " puts the next record at position " + str(position) +
                     ", past the segment's " + str(capacity) + " data bytes");
    if (std::uint64_t{count} * kMinRecordBytes > position)
      return damaged("the tail word " + hex(tail) + " counts " + str(count) + " records in " + str(position) +
                     " bytes (each takes at least " + str(kMinRecordBytes) + ")");
  } else if (std::uint64_t{count} * kMinRecordBytes > capacity) {
    return damaged("the tail word " + hex(tail) + " counts " + str(count) + " records, more than a segment holds");
  }
  // Generation g lives in slot g mod N. The slots hold [current+3-N,
  // current+2]: N-3 sealed past generations, the current one, and the next
  // two being prepared; a slot whose generation there would be negative was
  // never used. A roll out of `current` retires current+3 (replacing
  // current+3-N) before it advances current_generation.
  // A roll reads and writes only the segments around the current one.
  const auto first = static_cast<std::int64_t>(current) + 3 - static_cast<std::int64_t>(scope == Scope::kAll ? n : 4);
  std::uint64_t prev_base = 0, prev_count = 0;
  bool have_prev = false;
  for (std::int64_t g = first; g <= static_cast<std::int64_t>(current) + 2; ++g) {
    const std::uint64_t slot_of = g >= 0 ? static_cast<std::uint64_t>(g) % n : static_cast<std::uint64_t>(g + static_cast<std::int64_t>(n));
    const SegmentHeader* h = segment_header(slot_of);
    // roll() stores it (relaxed) before its release of current_generation,
    // which check_ring() or claim() acquired; acquire keeps the loads of this
    // segment's words below after it.
    const std::uint64_t gen = h->generation.load(std::memory_order_acquire);
    const std::uint64_t expected = g >= 0 ? static_cast<std::uint64_t>(g) : kUnusedGeneration;
    const bool oldest = g == static_cast<std::int64_t>(current) + 3 - static_cast<std::int64_t>(n);
    const bool retiring = oldest && rolling_from_current;
    if (gen != expected && !(retiring && gen == current + 3))
      return damaged("segment slot " + str(slot_of) + " holds generation " +
                     (gen == kUnusedGeneration ? std::string("'never used'") : str(gen)) +
                     "; with current_generation " + str(current) + " it must hold " +
                     (g >= 0 ? "generation " + str(expected) : std::string("none ('never used')")) +
                     (retiring ? " or " + str(current + 3) : std::string()));
    if (g < 0 || retiring) {
      // The roll under way may be retiring it (its generation and seal are
      // stored one after the other): nothing more to judge there.
      have_prev = false;
      continue;
    }
    const auto ug = static_cast<std::uint64_t>(g);
    // Pairs with roll()'s release store of `sealed`.
    const std::uint64_t sealed = h->sealed.load(std::memory_order_acquire);
    // The messages' subjects are built only when a check fails: a roll runs
    // these checks, and a sound ring allocates nothing.
    const auto seal = [&] {
      return "segment generation " + str(ug) + " (slot " + str(slot_of) + ") has sealed word " + hex(sealed);
    };
    if (ug < current && sealed == 0) return damaged(seal() + ", but it is behind current_generation " + str(current));
    if (ug > current && sealed != 0) return damaged(seal() + ", but it has not opened yet (current_generation " + str(current) + ")");
    if (ug == current && sealed != 0 && !rolling_from_current)
      return damaged(seal() + ", but it is the current generation and no roll is under way");
    const std::uint64_t sealed_count = sealed >> 32, sealed_end = static_cast<std::uint32_t>(sealed);
    if (sealed != 0 && (sealed_count > kMaxRecordsPerSegment || sealed_end > capacity ||
                        sealed_count * kMinRecordBytes > sealed_end))
      return damaged(seal() + ": " + str(sealed_count) + " records ending at position " + str(sealed_end) +
                     " do not fit a segment of " + str(capacity) + " data bytes");
    // Readers leave a sealed segment at its END word and check that they
    // are where the seal says its records end: both accounts must agree. (A
    // roll stores the seal and current_generation before the END word: not
    // judged while the tail is still rolling out of it.)
    if (sealed != 0 && ug < current && !(rolling && ug + 1 == current) && sealed_end + kFrameAlignment <= capacity &&
        load_commit(data(ug) + sealed_end) != kEndOfSegmentWord)
      return damaged(seal() + ", but there is no end-of-segment word at position " + str(sealed_end));
    if (ug > current) continue;  // its base offset is set when it opens
    // Relaxed: stored by the roll into it before that roll's release of
    // current_generation, which check_ring() or claim() acquired.
    const std::uint64_t base = h->base_offset.load(std::memory_order_relaxed);
    const auto where = [&] {
      return "segment generation " + str(ug) + " (slot " + str(slot_of) + ") has base_offset " +
             std::to_string(static_cast<std::int64_t>(base));
    };
    if (base >= kMaxOffset) return damaged(where() + ", outside [0, 2^62)");
    if (ug == 0 && base != static_cast<std::uint64_t>(header_->start_offset))
      return damaged(where() + ", but the first generation starts at offset " + std::to_string(header_->start_offset));
    if (have_prev && base != prev_base + prev_count)
      return damaged(where() + ", but generation " + str(ug - 1) + " starts at offset " + str(prev_base) + " and holds " +
                     str(prev_count) + " records (its seal), so it must be " + str(prev_base + prev_count));
    if (ug == current && !rolling && base + count >= kMaxOffset)
      return damaged(where() + " and the tail counts " + str(count) + " records in it: offsets past 2^62");
    prev_base = base;
    prev_count = sealed_count;
    have_prev = sealed != 0;
  }
  return Status::ok();
}

Status PartitionRing::check_tail_records(std::uint64_t current, std::uint64_t tail, bool gaps) const {
  // Only a tail that takes claims in the current generation says where its
  // records end; check_segments() judged the rest.
  if (is_rolling(tail) || tail_tag(tail) != static_cast<std::uint16_t>(current)) return Status::ok();
  const std::uint64_t capacity = data_capacity_;
  const std::uint64_t end = tail_position(tail), count = tail_count(tail);
  if (end > capacity) return Status::ok();  // check_segments() reports it
  // Relaxed: as in check_segments() (the release of current_generation).
  const std::uint64_t base = segment_header(current)->base_offset.load(std::memory_order_relaxed);
  const std::byte* d = data(current);
  const std::uint32_t tag = generation_tag(current);  // of index entries
  const auto where = [&] {  // built only when a check fails (see check_segments())
    return "the tail word " + hex(tail) + " (generation " + str(current) + ", " + str(count) +
           " records, next at position " + str(end) + ")";
  };
  // Claims only take bytes forward from the tail: a record committed where
  // it points means the tail went back, and the next claim would overwrite
  // it. (A claim made since would have moved the tail on; the tail's load
  // pairs with its releases by claims and rolls.)
  if (end + kFrameAlignment <= capacity && committed(load_commit(d + end)) &&
      header_->tail.load(std::memory_order_acquire) == tail)
    return damaged(where() + " points at a committed record: the tail went back, and producing would overwrite it");
  // Walks the committed frames from `from` (a frame with offset `offset`) to
  // the tail's position with read()'s checks; a frame that fails them is
  // read()'s to report, and leaves the tail unjudged.
  enum class Walk : std::uint8_t { kEnd, kGap, kAcross, kUnjudged };
  struct Reached {
    Walk how;
    std::uint64_t at, next;
  };
  const auto walk = [&](std::uint64_t from, std::uint64_t offset) {
    std::uint64_t at = from, next = offset;
    while (at < end) {
      const std::uint64_t word = load_commit(d + at);
      if (!committed(word)) return Reached{Walk::kGap, at, next};
      if (is_end_of_segment(word)) return Reached{Walk::kUnjudged, at, next};
      const std::uint64_t covered = frame_offsets(d + at, word, capacity - at, static_cast<std::int64_t>(next));
      if (covered == 0 || covered > kMaxRecordsPerSegment) return Reached{Walk::kUnjudged, at, next};
      // A batch names its first offset; record and abandoned frames are where they are.
      if (commit_kind(word) == kKindBatch && static_cast<std::uint64_t>(batch_base_offset(d + at)) != next)
        return Reached{Walk::kUnjudged, at, next};
      at += align_frame(commit_length(word));
      next += covered;
    }
    return Reached{at == end ? Walk::kEnd : Walk::kAcross, at, next};
  };
  // From the last index entry before the tail that names a committed frame
  // of this segment (at most an index interval of frames to walk), checked
  // from the segment's start if what it finds looks wrong: the index may be
  // the damaged part.
  std::uint64_t from = 0, offset = base;
  if (end > 0) {
    const IndexEntry* entries = index(current);
    std::uint64_t k = std::min<std::uint64_t>((end - 1) / index_interval_, index_entries_ - 1);
    for (int tries = 0; k > 0 && tries < 4; --k, ++tries) {
      // Pairs with the release store in index_frame().
      const std::uint64_t tp = entries[k].tag_position.load(std::memory_order_acquire);
      const std::uint32_t position = static_cast<std::uint32_t>(tp);
      if (static_cast<std::uint32_t>(tp >> 32) != tag || position % kFrameAlignment != 0 || position >= end ||
          position + kFrameHeaderSize > capacity)
        continue;
      if (!committed(load_commit(d + position))) continue;
      // Relaxed: index_frame() stores them before its release of tag_position,
      // acquired above; the check word catches an entry being rewritten.
      const std::int64_t o = entries[k].offset.load(std::memory_order_relaxed);
      if (entries[k].check.load(std::memory_order_relaxed) !=
              index_check(tp, o, entries[k].timestamp_ns.load(std::memory_order_relaxed)) ||
          static_cast<std::uint64_t>(o) - base >= count)
        continue;
      from = position;
      offset = static_cast<std::uint64_t>(o);
      break;
    }
  }
  for (;;) {
    const Reached r = walk(from, offset);
    const bool exact = from == 0;
    if (r.how == Walk::kUnjudged) {
      if (exact) return Status::ok();
    } else if (r.how == Walk::kEnd && r.next == base + count) {
      return Status::ok();
    } else if (r.how == Walk::kGap) {
      // A record not committed yet: some producer's claim must cover it.
      if (!gaps || announced(current, r.at)) return Status::ok();
      if (committed(load_commit(d + r.at))) return Status::ok();  // committed meanwhile
      if (exact)
        return damaged(where() + " covers position " + str(r.at) + " (offset " + str(r.next) +
                       "), where no record is committed and no producer announces a claim: readers would wait "
                       "there forever");
    } else if (exact) {
      if (r.how == Walk::kAcross)
        return damaged(where() + " points inside the record that ends at position " + str(r.at) +
                       ": the tail went back, and producing would overwrite it");
      return damaged(where() + " puts the next offset at " + str(base + count) + ", but the records before position " +
                     str(end) + " end at offset " + str(r.next));
    }
    from = 0;  // the index led astray: walk the whole segment
    offset = base;
  }
}

Status PartitionRing::check_cursor(const ReadCursor& cursor, std::uint64_t current, std::uint64_t tail) const {
  // Only a reader that finds nothing, in a generation that is live and
  // whose end is known (a rolling tail is wedged() or about to move on).
  if (readable(cursor) || is_rolling(tail) || cursor.generation > current || !generation_live(cursor.generation))
    return Status::ok();
  const std::uint64_t g = cursor.generation;
  const SegmentHeader* h = segment_header(g);
  // Relaxed: roll() stores it before its release of current_generation,
  // acquired by check_ring().
  const std::uint64_t base = h->base_offset.load(std::memory_order_relaxed);
  const auto next = static_cast<std::uint64_t>(cursor.next_offset);
  const auto reader = [&] {  // built only when a check fails: a waiting consumer runs this
    return "a reader at position " + str(cursor.position) + " of generation " + str(g) + " (offset " +
           std::to_string(cursor.next_offset) + ")";
  };
  if (cursor.position == 0 && next != base)
    return damaged(reader() + " is at its start, but its base_offset is " + std::to_string(static_cast<std::int64_t>(base)));
  std::uint64_t end, last, sealed = 0;
  if (g == current) {
    end = tail_position(tail);
    last = base + tail_count(tail);
  } else {
    // Pairs with roll()'s release store of `sealed`.
    sealed = h->sealed.load(std::memory_order_acquire);
    end = static_cast<std::uint32_t>(sealed);
    last = base + (sealed >> 32);
  }
  const auto by = [&] {
    return g == current ? "the tail word " + hex(tail) : "the seal " + hex(sealed) + " of generation " + str(g);
  };
  if (cursor.position > end)
    return damaged(reader() + " is past the end of the records, position " + str(end) + ", by " + by());
  if (cursor.position == end) {
    // Where the records end the next offset must be the one the tail (or
    // seal) counts to; a sealed segment also ends in an end-of-segment word.
    if (next != last)
      return damaged(reader() + " is where the records end, but " + by() + " counts records up to offset " + str(last) +
                     ": it would wait there forever for records nobody writes");
    if (g != current)
      return damaged(reader() + " is where the sealed records end, but the end-of-segment word is missing there");
    return Status::ok();
  }
  // Before the end: a record not committed yet, which a claim must cover.
  if (announced(g, cursor.position) || readable(cursor)) return Status::ok();
  return damaged(reader() + " waits for a record nobody writes: " + by() +
                 " is past it, nothing is committed there and no producer announces a claim on it");
}

bool PartitionRing::announced(std::uint64_t generation, std::uint64_t position) const noexcept {
  // Every slot, not only claim_slots_used (which may be the damaged word).
  for (std::uint32_t i = 0; i < kClaimSlots; ++i) {
    const ClaimSlot& s = *slot(i);
    // Pairs with the owner's release stores of its state (and the claim CAS
    // that published its announcement).
    const std::uint64_t st = s.state.load(std::memory_order_acquire) & 0xFF;
    if (st != kSlotPending && st != kSlotWriting && st != kSlotAbandoning) continue;
    // Relaxed, tail and size: stored before the state (or claim CAS) released
    // them, acquired above.
    const std::uint64_t x = s.tail.load(std::memory_order_relaxed);
    if (is_rolling(x) || tail_tag(x) != static_cast<std::uint16_t>(generation)) continue;
    const std::uint64_t from = tail_position(x);
    if (from <= position && position < from + static_cast<std::uint32_t>(s.size.load(std::memory_order_relaxed)))
      return true;
  }
  return false;
}

}  // namespace rill::log
