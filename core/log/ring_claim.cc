// PartitionRing's producer side (the appender): the exclusive lease; claim(),
// which reserves a frame's bytes and offsets in one step on the tail word;
// the roll to the next segment when a claim does not fit, with its waits for
// the claims and readers a roll must not overtake; and commit(), which
// indexes a frame and publishes it. claim() and commit() are the per-record
// path: what they call per record is inline (ring_words.h) or in this file.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "core/log/partition_ring.h"
#include "core/log/ring_words.h"

namespace rill::log {

// ---------------------------------------------------------------- claims

ClaimStatus PartitionRing::take_lease(const ipc::ProcessId& owner, std::int32_t* holder) noexcept {
  const std::uint64_t me = owner.packed();
  // Pairs with release_lease()'s release: the last holder's claims are seen.
  std::uint64_t held = header_->exclusive_owner.load(std::memory_order_acquire);
  for (;;) {
    if (held != 0 && ipc::liveness_packed(held) == ipc::Liveness::kAlive) {
      *holder = ipc::ProcessId::unpacked(held).pid;
      return ClaimStatus::kLeased;
    }
    // From 0 or a dead holder's word. seq_cst: ordered before the holder's
    // first claim (a CAS; ClaimMode::kLeaseFirst).
    if (header_->exclusive_owner.compare_exchange_strong(held, me, std::memory_order_seq_cst)) return ClaimStatus::kOk;
  }
}

void PartitionRing::release_lease(const ipc::ProcessId& owner) noexcept {
  std::uint64_t me = owner.packed();
  // Release: the holder's claims (plain stores of the tail) happen before
  // any claim that sees the lease gone.
  (void)header_->exclusive_owner.compare_exchange_strong(me, 0, std::memory_order_release, std::memory_order_relaxed);
}

std::int32_t PartitionRing::lease_holder() noexcept {
  // Pairs with take_lease()'s CAS and release_lease()'s release.
  std::uint64_t held = header_->exclusive_owner.load(std::memory_order_acquire);
  if (held == 0) return 0;
  if (ipc::liveness_packed(held) == ipc::Liveness::kAlive) return ipc::ProcessId::unpacked(held).pid;
  // A dead holder's word is cleared (acq_rel: as a shared claim clears it).
  (void)header_->exclusive_owner.compare_exchange_strong(held, 0, std::memory_order_acq_rel);
  return 0;
}

ClaimStatus PartitionRing::claim(std::uint32_t bytes, std::uint32_t records, ClaimSlot* slot, Claim* out,
                                 std::int64_t patience_ns, ClaimMode mode) noexcept {
  const std::uint64_t capacity = data_capacity_;
  if (bytes > capacity || bytes > kMaxFrameBytes || records == 0 || records > kMaxRecordsPerSegment ||
      bytes < kFrameHeaderSize || bytes < std::uint64_t{records} * kMinRecordBytes)
    return ClaimStatus::kTooLarge;
  // The announcement: published by the release of the CAS below to whoever
  // acquires the tail after it (a roller, a reader recovering claims).
  slot->size.store(std::uint64_t{bytes} | (std::uint64_t{records} << 32), std::memory_order_relaxed);
  // Pairs with the release store of the tail in roll() (and continues the CAS release sequence).
  std::uint64_t t = header_->tail.load(std::memory_order_acquire);
  std::uint32_t readers_checked = ~0u;  // overflow=block: the segment tag whose roll the readers allow
  std::uint32_t flush_checked = ~0u;    // durable: the segment tag whose roll the files allow
  std::int64_t wedged_since = 0;       // when the rolling tail was first seen unannounced
  std::int64_t deadline = 0;           // monotonic; set when this claim first waits on a roll
  // At most a day: no overflow of now + patience.
  patience_ns = std::clamp<std::int64_t>(patience_ns, 0, 86'400'000'000'000);
  for (std::uint32_t spins = 0;;) {
    // The lease, judged after every load of t (acquire): a shared producer
    // whose t is older than the lease holder's first CAS fails its CAS and
    // comes back here; one whose t is newer sees the lease (that CAS came
    // after the lease's). So no shared CAS succeeds once the holder claims
    // with plain stores.
    const std::uint64_t lease = header_->exclusive_owner.load(std::memory_order_acquire);
    if (mode == ClaimMode::kShared) {
      if (lease != 0) [[unlikely]] {
        if (ipc::liveness_packed(lease) == ipc::Liveness::kAlive) {
          // Relaxed: retracts an announcement no claim stands behind (a failed
          // CAS may have left it pending); it publishes nothing.
          slot->state.store(kSlotIdle, std::memory_order_relaxed);
          out->stalled_by = ipc::ProcessId::unpacked(lease).pid;
          return ClaimStatus::kLeased;
        }
        // A dead holder's: cleared; its last claim is abandoned like any dead
        // producer's. acq_rel: acquires the dead holder's tail stores (its
        // releases), and orders this clearing before the CAS below.
        std::uint64_t dead = lease;
        (void)header_->exclusive_owner.compare_exchange_strong(dead, 0, std::memory_order_acq_rel);
        t = header_->tail.load(std::memory_order_acquire);  // pairs with the tail's releases (claims, rolls)
        continue;
      }
    } else if (lease != slot->owner.load(std::memory_order_relaxed)) [[unlikely]] {
      // The holder's lease was taken from this process (only as if it were
      // dead: damage or a pid clash). Relaxed: the slot's owner is this
      // producer's own word.
      slot->state.store(kSlotIdle, std::memory_order_relaxed);  // relaxed: a retraction; publishes nothing
      out->stalled_by = ipc::ProcessId::unpacked(lease).pid;
      return ClaimStatus::kLeased;
    }
    if ((t & kPositionMask) == kRolling) {
      // Another producer is rolling; if it takes long, it may have died
      // mid-roll (finish its roll), nobody may be rolling at all, or the
      // roll may wait for a live process's claim (give up at the deadline).
      // Once yielding, every 256th round: rounds of sched_yield on a busy
      // machine can take a timeslice each, so the clock is what bounds this.
      if (++spins >= 1024 && spins % 256 == 0) {
        const std::int64_t now = monotonic_ns();
        if (deadline == 0) deadline = now + patience_ns;
        if (!rescue_roll(t, deadline)) {
          if (!wedged()) {
            wedged_since = 0;
          } else if (wedged_since == 0) {
            wedged_since = now;
          } else if (now - wedged_since > kWedgedPatienceNs) {
            // Relaxed: a retraction (a failed CAS may have left it pending).
            slot->state.store(kSlotIdle, std::memory_order_relaxed);
            return ClaimStatus::kCorrupt;
          }
          if (now > deadline && wedged_since == 0) {  // a wedged tail is kCorrupt, after its own patience
            slot->state.store(kSlotIdle, std::memory_order_relaxed);  // relaxed: a retraction; publishes nothing
            out->stalled_by = stalled_by(t);
            return ClaimStatus::kStalled;
          }
        }
      }
      if (spins < 1024) cpu_relax();
      else std::this_thread::yield();
      t = header_->tail.load(std::memory_order_acquire);  // pairs with the tail's releases (claims, rolls)
      continue;
    }
    const std::uint64_t position = tail_position(t);
    const std::uint32_t count = tail_count(t);
    if (position + bytes <= capacity && count + records <= kMaxRecordsPerSegment) {
      const std::uint64_t next = t + (std::uint64_t{records} << kCountShift) + bytes / kFrameAlignment;
      // The announcement. Relaxed: the tail's CAS (or store) below releases it.
      slot->tail.store(t, std::memory_order_relaxed);
      slot->state.store(kSlotPending, std::memory_order_relaxed);
      // acquire on success pairs with roll()'s release of this segment's header
      // fields; release publishes the announcement above with the claim.
      bool won;
      if (mode == ClaimMode::kExclusive) {
        // Nobody else moves the tail while the lease holds (above), and
        // rolls are this producer's own: a release store (publishing the
        // announcement, as the CAS would) does what the CAS does, without
        // a locked instruction that waits for every earlier store.
        header_->tail.store(next, std::memory_order_release);
        won = true;
      } else {
        // On failure, acquire: t is reloaded, as by the load above.
        won = header_->tail.compare_exchange_weak(t, next, std::memory_order_acq_rel, std::memory_order_acquire);
      }
      if (won) {
        // Pairs with the release store of current_generation in roll().
        const std::uint64_t current = header_->current_generation.load(std::memory_order_acquire);
        const std::uint64_t gen = current - static_cast<std::uint16_t>(static_cast<std::uint16_t>(current) - tail_tag(t));
        const SegmentHeader* segment = segment_header(gen);
        // Relaxed: roll() stored gen's base offset before its release of
        // current_generation, acquired above.
        const std::uint64_t base = segment->base_offset.load(std::memory_order_relaxed);
        std::byte* at = data(gen) + position;
        // The words this claim steers by, checked on lines it touches anyway
        // (the segment header for its base offset, the data it writes). While
        // the claim is pending no roll can take the ring past gen + 1 or
        // reuse gen's bytes, and its bytes were zeroed before gen opened: any
        // of these failing is damage, and writing would overwrite records.
        // Relaxed loads: gen's header was stored before the release of
        // current_generation acquired above, and a zero commit word (the
        // sound case) publishes nothing to be ordered after.
        if (current - gen > 1 || segment->generation.load(std::memory_order_relaxed) != gen ||
            base >= kMaxOffset - count - records ||
            committed(commit_word(at).load(std::memory_order_relaxed))) [[unlikely]] {
          // Hand the bytes back if nobody claimed after us. Release: pairs with
          // claim()'s acquire; relaxed on failure: the value found is not used.
          std::uint64_t claimed = next;
          (void)header_->tail.compare_exchange_strong(claimed, t, std::memory_order_release, std::memory_order_relaxed);
          slot->state.store(kSlotIdle, std::memory_order_relaxed);  // relaxed: a retraction; publishes nothing
          return ClaimStatus::kCorrupt;
        }
        out->slot = slot;
        out->generation = gen;
        out->position = static_cast<std::uint32_t>(position);
        out->bytes = bytes;
        out->records = records;
        out->data = at;
        out->first_offset = static_cast<std::int64_t>(base + count);
        // Clean the same bytes two segments ahead (retired at the roll into `gen`),
        // so that segment opens all zero and no stale word looks committed.
        clean(data(gen + 2) + position, bytes);
        // Pairs with settle_claims()'s acquire: the cleaning is done.
        slot->state.store(kSlotWriting, std::memory_order_release);
        return ClaimStatus::kOk;
      }
      continue;
    }
    // Does not fit: whoever swaps in kRolling seals this segment and opens the next.
    if (header_->block_on_readers != 0 && readers_checked != tail_tag(t)) [[unlikely]] {
      // overflow=block: first wait (without holding the tail) for readers
      // that still need the bytes this roll would retire.
      slot->state.store(kSlotIdle, std::memory_order_relaxed);  // relaxed: a retraction; publishes nothing
      if (!await_readers(generation_of_tag(tail_tag(t)))) return ClaimStatus::kBlocked;
      readers_checked = tail_tag(t);
      t = header_->tail.load(std::memory_order_acquire);  // pairs with the tail's releases (claims, rolls)
      continue;
    }
    if (header_->durable != 0 && flush_checked != tail_tag(t)) [[unlikely]] {
      // Durable: the bytes this roll would retire must be in the files
      // first; waited for without holding the tail, as readers are.
      slot->state.store(kSlotIdle, std::memory_order_relaxed);  // relaxed: a retraction; publishes nothing
      if (deadline == 0) deadline = monotonic_ns() + patience_ns;
      if (!await_flush(generation_of_tag(tail_tag(t)), deadline, &out->stalled_by)) return ClaimStatus::kFlushBehind;
      flush_checked = tail_tag(t);
      t = header_->tail.load(std::memory_order_acquire);  // pairs with the tail's releases (claims, rolls)
      continue;
    }
    // Nothing is sealed on the word of a damaged segment (cold: once per
    // roll, O(1) segments and at most an index interval of frames). Judged
    // only if the tail stayed put meanwhile: another producer may have
    // rolled or claimed, and then this one looks again.
    {
      // Pairs with the release store of current_generation in roll().
      const std::uint64_t current = header_->current_generation.load(std::memory_order_acquire);
      Status sound = check_segments(current, t, Scope::kRoll);
      if (sound) sound = check_tail_records(current, t, false);
      if (!sound) [[unlikely]] {
        // Pairs with the release stores of the tail (claims, rolls).
        const std::uint64_t now = header_->tail.load(std::memory_order_acquire);
        if (now == t) {
          slot->state.store(kSlotIdle, std::memory_order_relaxed);  // relaxed: a retraction; publishes nothing
          return ClaimStatus::kCorrupt;
        }
        t = now;
        continue;
      }
    }
    // Announced first, so that if this process dies mid-roll another one can
    // see whose roll it was and finish it (rescue_roll()). Relaxed: the CAS
    // below releases them.
    slot->tail.store(t, std::memory_order_relaxed);
    slot->state.store(kSlotRolling, std::memory_order_relaxed);
    // release: publishes the announcement with the rolling tail.
    if (header_->tail.compare_exchange_weak(t, t | kRolling, std::memory_order_acq_rel, std::memory_order_acquire)) {
      if (deadline == 0) deadline = monotonic_ns() + patience_ns;
      const bool rolled = roll(t, deadline, &out->stalled_by);
      // Release: pairs with the acquire loads of slot states (rescue_roll(),
      // wedged(), reap_dead()): the roll's stores come first.
      slot->state.store(kSlotIdle, std::memory_order_release);
      if (!rolled) return ClaimStatus::kStalled;
      t = header_->tail.load(std::memory_order_acquire);  // pairs with the tail's releases (claims, rolls)
    } else {
      slot->state.store(kSlotIdle, std::memory_order_relaxed);  // relaxed: a retraction; publishes nothing
    }
  }
}

// ---------------------------------------------------------------- rolls

bool PartitionRing::roll(std::uint64_t t, std::int64_t deadline_ns, std::int32_t* stalled_by, bool redo) noexcept {
  // From the tail the roll started from, not current_generation: a roll that
  // finishes another's (rescue_roll()) may find current_generation already
  // advanced; generation_of_tag() gives the same answer either way.
  const std::uint64_t gen = generation_of_tag(tail_tag(t));
  // The generation whose bytes the retiring below hands to gen+3.
  const std::uint64_t leaving = gen + 3 >= segment_count_ ? gen + 3 - segment_count_ : kUnusedGeneration;
  // The waits come before any change that matters: a roll that gives up at
  // the deadline (a stopped or hung producer's claim) undoes itself by
  // handing back the tail it took. A roll redone for a dead roller
  // (rescue_roll()) that had got as far as retiring gen+3 - the first change
  // readers can see - had passed both waits: it goes straight on, since
  // waiting again could meet announcements made since (a stale pending one,
  // a live process abandoning a claim) and undoing would lose what it did.
  // Before that point the dead roller had only set gen+1's base offset and
  // cleaned gen+2's free bytes, which the next roll does again.
  // Only the value matters, not what the dead roller did before it: every
  // step below is redone here. (Its store is relaxed, followed by the release
  // fence readers pair with; a dead process's stores are all made.)
  const bool waits_passed = redo && segment_header(gen + 3)->generation.load(std::memory_order_relaxed) == gen + 3;
  if (!waits_passed &&
      ((gen > 0 && !await_claims(gen - 1, Outstanding::kCleaning, deadline_ns, stalled_by)) ||
       (leaving != kUnusedGeneration && !await_claims(leaving, Outstanding::kAll, deadline_ns, stalled_by)))) {
    std::uint64_t rolling = t | kRolling;
    // Release: pairs with claim()'s acquire loads of the tail; relaxed on
    // failure: the value found is not used.
    (void)header_->tail.compare_exchange_strong(rolling, t, std::memory_order_release, std::memory_order_relaxed);
    notify();
    return false;
  }
  const std::uint64_t capacity = data_capacity_;
  // Bounded: a damaged tail word (or a dead roller's slot) may name a position
  // past the data area, and the cleaning below would run off the segment.
  const std::uint64_t end = std::min(tail_position(t), capacity);
  const std::uint32_t count = tail_count(t);
  SegmentHeader* sealed = segment_header(gen);
  SegmentHeader* opened = segment_header(gen + 1);  // zero since gen-1 filled; generation already gen+1
  // Relaxed: gen's base offset reached this roller with current_generation
  // (acquired by generation_of_tag()); gen+1's is published by the release
  // stores of `sealed` and current_generation below, one of which every
  // reader of gen+1 acquires first.
  opened->base_offset.store(sealed->base_offset.load(std::memory_order_relaxed) + count, std::memory_order_relaxed);
  // gen's producers cleaned [0, end) of gen+2; finish it.
  clean(data(gen + 2) + end, capacity - end);
  // Retire gen+3's segment before gen+1's producers start cleaning it: readers
  // of its old bytes see the new generation (their check after reading).
  // Relaxed: the release fence below orders both before the stores after it.
  SegmentHeader* retired = segment_header(gen + 3);
  retired->generation.store(gen + 3, std::memory_order_relaxed);
  retired->sealed.store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);  // pairs with readers' acquire fence before the generation check
  // Pairs with read()'s acquire load of `sealed` at the segment end.
  sealed->sealed.store((std::uint64_t{count} << 32) | end, std::memory_order_release);
  // Pairs with generation_of_tag()'s acquire load.
  header_->current_generation.store(gen + 1, std::memory_order_release);
  if (end + kFrameAlignment <= capacity)
    // Pairs with read()'s acquire load of the commit word.
    commit_word(data(gen) + end).store(kEndOfSegmentWord, std::memory_order_release);
  // Pairs with claim()'s acquire loads of the tail. A CAS, so that a roll
  // finished twice (rescue_roll()) releases the tail once; relaxed on
  // failure: the value found is not used.
  std::uint64_t rolling = t | kRolling;
  (void)header_->tail.compare_exchange_strong(rolling, make_tail(gen + 1, 0, 0), std::memory_order_release,
                                              std::memory_order_relaxed);
  notify();
  return true;
}

// Producers that claimed in generation g clean segment g+2 and write their
// frames in g after their claim CAS, with nothing holding the ring back: a
// producer preempted in between (for as long as it takes others to fill two
// segments - microseconds on a small ring) would zero, or later overwrite,
// records of a newer generation that readers already consume. So:
//   - before generation g+2 opens (at the roll out of g+1), the roller waits
//     until no claim of g is still cleaning (pending);
//   - before a segment's bytes are retired for reuse (the roll into g+1
//     retires g+3's slot, last used by g+3-N), the roller waits until no
//     claim of that old generation is outstanding at all.
// A claim whose owner process is dead is abandoned (its cleaning finished,
// its offsets covered by an abandoned frame) rather than waited for; a live
// owner, even a stopped one, is waited for: its bytes may still land.
bool PartitionRing::await_claims(std::uint64_t generation, Outstanding which, std::int64_t deadline_ns,
                                 std::int32_t* stalled_by) noexcept {
  for (std::uint32_t i = 1;; ++i) {
    // Owners are looked up (in /proc) only once the claims have had time to
    // finish on their own, and then not on every round; so is the clock.
    const bool check_owners = i >= 1024 && (i & 255) == 0;
    std::uint64_t abandoned = 0;
    if (settle_claims(generation, which, check_owners, &abandoned, stalled_by) == 0) return true;
    if (check_owners && monotonic_ns() > deadline_ns) return false;
    if (i < 256) cpu_relax();
    else std::this_thread::yield();  // the writer may need this core
  }
}

bool PartitionRing::await_readers(std::uint64_t generation) noexcept {
  const std::uint64_t n = segment_count_;
  if (generation + 3 < n) return true;  // the roll retires no generation yet
  // The roll out of `generation` hands generation+3-N's bytes on; a reader
  // still needs them while its position is before the next generation's base.
  // Relaxed: stored by the roll into that generation before its release of
  // current_generation, which this producer acquired (generation_of_tag()).
  const std::int64_t boundary =
      static_cast<std::int64_t>(segment_header(generation + 4 - n)->base_offset.load(std::memory_order_relaxed));
  // Bounded even if the header was damaged.
  const std::int64_t timeout_ns = std::int64_t{std::min<std::uint32_t>(header_->block_timeout_ms, 3'600'000)} * 1'000'000;
  const std::int64_t deadline = monotonic_ns() + timeout_ns;
  for (std::uint32_t i = 0;; ++i) {
    bool clear = true;
    for (std::uint32_t k = 0; k < kReaderSlots; ++k) {
      ReaderSlot& r = *reader_slot(k);
      // Pairs with register_reader()'s CAS and unregister_reader()'s release.
      std::uint64_t o = r.owner.load(std::memory_order_acquire);
      // Pairs with publish_position()'s release store.
      if (o == 0 || r.position.load(std::memory_order_acquire) >= boundary) continue;
      if ((i & 1023) == 0 && ipc::liveness_packed(o) == ipc::Liveness::kDead) {
        // A dead reader holds nobody back. acq_rel: as the other CASes of a
        // reader slot's owner (register_reader(), reap_dead()).
        (void)r.owner.compare_exchange_strong(o, 0, std::memory_order_acq_rel);
        continue;
      }
      clear = false;
    }
    if (clear) return true;
    if (monotonic_ns() > deadline) return false;
    if (i < 256) {
      cpu_relax();
    } else if (i < 1024) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

// ---------------------------------------------------------------- commits

void PartitionRing::index_frame(std::uint64_t generation, std::uint32_t position, std::uint32_t end,
                                std::int64_t offset, std::int64_t timestamp_ns) noexcept {
  const std::uint32_t interval = index_interval_;
  const std::uint32_t boundary = (position + interval - 1) & ~(interval - 1);
  IndexEntry* entries = index(generation);
  for (std::uint32_t at = boundary; at < end; at += interval) {
    IndexEntry& e = entries[at / interval];
    const std::uint64_t tag_position = (std::uint64_t{generation_tag(generation)} << 32) | position;
    // Relaxed: the release store of tag_position below publishes them.
    e.offset.store(offset, std::memory_order_relaxed);
    e.timestamp_ns.store(timestamp_ns, std::memory_order_relaxed);
    e.check.store(index_check(tag_position, offset, timestamp_ns), std::memory_order_relaxed);
    // Pairs with the acquire load in index_start().
    e.tag_position.store(tag_position, std::memory_order_release);
  }
}

void PartitionRing::commit(const Claim& claim, std::uint64_t word) noexcept {
  const std::uint32_t end = claim.position + static_cast<std::uint32_t>(align_frame(commit_length(word)));
  const std::uint32_t interval = index_interval_;
  if (((claim.position + interval - 1) & ~(interval - 1)) < end) [[unlikely]]
    // An aborted reservation's abandoned frame has no timestamp: 0 stands in
    // (index_start() never searches by an abandoned frame's time).
    index_frame(claim.generation, claim.position, end, claim.first_offset,
                commit_kind(word) == kKindAbandoned ? 0 : frame_timestamp(claim.data, word));
  // Publishes the frame; pairs with the acquire load in read()/readable().
  commit_word(claim.data).store(word, std::memory_order_release);
  // The claim is written and its cleaning done. Pairs with settle_claims()'s
  // acquire load of the slot state.
  claim.slot->state.store(kSlotIdle, std::memory_order_release);
}

}  // namespace rill::log
