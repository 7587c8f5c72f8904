// Recovery from dead processes (the unblocker): which announced claims are
// real (settle_claims()), turning a dead producer's claim into an abandoned
// frame that covers its offsets, finishing or undoing a dead roller's roll,
// and freeing dead processes' slots. A live process, even a stopped one, is
// always waited for. Cold: runs only once a roll or a reader has waited a
// while, or when asked (recover_abandoned(), reap_dead()).
#include <atomic>
#include <cstdint>

#include "core/log/partition_ring.h"
#include "core/log/ring_words.h"
#include "ipc/clock.h"
#include "ipc/liveness.h"

namespace rill::log {

namespace {

enum class Announcement : std::uint8_t {
  kVoid,     // no claim behind it (its CAS failed or never happened)
  kClaim,    // a claim of its owner
  kUnsure,   // maybe (another pending announcement names the same tail): wait
};

}  // namespace

std::uint32_t PartitionRing::settle_claims(std::uint64_t generation, Outstanding which, bool check_owners,
                                           std::uint64_t* abandoned, std::int32_t* live_owner) noexcept {
  // Acquire: every announcement made before a claim in the tail's history is
  // visible below (the claim CAS releases it).
  const std::uint64_t tail_now = header_->tail.load(std::memory_order_acquire);
  const std::uint16_t tag = static_cast<std::uint16_t>(generation);
  const std::uint64_t capacity = data_capacity_;
  const std::uint32_t n = slots_used();
  // What a pending announcement stands for. A pending slot either claimed
  // (its CAS succeeded; it has not marked itself claimed yet, or died first)
  // or failed its CAS and will announce again (or died). Its tail word was
  // consumed by exactly one party: the roller (the segment ends there), a
  // claimant that has committed a frame there, another announcer, or it.
  auto classify = [&](std::uint32_t i, std::uint64_t x) {
    if (tail_now == x || tail_now == (x | kRolling)) return Announcement::kVoid;
    const std::uint64_t position = tail_position(x);
    // Pairs with roll()'s release store of `sealed`.
    const std::uint64_t sealed = segment_header(generation)->sealed.load(std::memory_order_acquire);
    if (sealed != 0 && position >= static_cast<std::uint32_t>(sealed)) return Announcement::kVoid;
    if (position + kFrameAlignment > capacity) return Announcement::kVoid;
    if (committed(load_commit(data(generation) + position))) return Announcement::kVoid;
    for (std::uint32_t j = 0; j < n; ++j) {
      if (j == i) continue;
      ClaimSlot& other = *slot(j);
      // As below: the state pairs with its owner's release stores; the tail
      // (relaxed) was published with it.
      const std::uint64_t st = other.state.load(std::memory_order_acquire) & 0xFF;
      if (st == kSlotIdle || st == kSlotRolling || other.tail.load(std::memory_order_relaxed) != x) continue;
      if (st == kSlotPending) {
        // Two announcements of one tail: one of them claimed it. While either
        // owner lives it may still say which; if both are dead, the lower
        // slot stands for the claim, so that it is abandoned exactly once.
        // Owners relaxed: a slot's owner changes only while it is idle.
        if (!check_owners || ipc::liveness_packed(other.owner.load(std::memory_order_relaxed)) != ipc::Liveness::kDead ||
            ipc::liveness_packed(slot(i)->owner.load(std::memory_order_relaxed)) != ipc::Liveness::kDead)
          return Announcement::kUnsure;
        if (j < i) return Announcement::kVoid;
        continue;
      }
      return Announcement::kVoid;  // the other one claimed it
    }
    return Announcement::kClaim;
  };
  std::uint32_t live = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    ClaimSlot& s = *slot(i);
    // Owner loads relaxed: a slot's owner changes only while the slot is idle.
    const auto still_out = [&] {
      ++live;
      if (live_owner != nullptr)
        *live_owner = ipc::ProcessId::unpacked(s.owner.load(std::memory_order_relaxed)).pid;
    };
    // Pairs with the owner's release stores of its state (claim()'s writing,
    // commit()'s idle) and an abandoner's; a pending announcement was
    // released by the claim CAS (tail_now's acquire above).
    const std::uint64_t st = s.state.load(std::memory_order_acquire);
    if ((st & 0xFF) == kSlotIdle || (st & 0xFF) == kSlotRolling) continue;  // a roll is not a claim
    // Relaxed, tail and size: published with the state.
    const std::uint64_t x = s.tail.load(std::memory_order_relaxed);
    if (tail_tag(x) != tag) continue;
    if ((st & 0xFF) == kSlotWriting && which == Outstanding::kCleaning) continue;
    if ((st & 0xFF) == kSlotPending) {
      const Announcement a = classify(i, x);
      if (a == Announcement::kVoid) {
        // No claim behind it; if its owner is dead, nobody will clear it.
        // acq_rel: as every CAS of a slot's state and owner (abandon(),
        // acquire_slot()).
        std::uint64_t seen = st;
        const std::uint64_t owner = s.owner.load(std::memory_order_relaxed);
        if (check_owners && ipc::liveness_packed(owner) == ipc::Liveness::kDead &&
            s.state.compare_exchange_strong(seen, kSlotIdle, std::memory_order_acq_rel))
          (void)s.owner.compare_exchange_strong(seen = owner, 0, std::memory_order_acq_rel);
        continue;
      }
      if (a == Announcement::kUnsure || !check_owners) {
        still_out();
        continue;
      }
    } else if (!check_owners) {
      still_out();
      continue;
    }
    if ((st & 0xFF) == kSlotAbandoning) {
      // Another process is abandoning it; take over only if that one died.
      const pid_t by = static_cast<pid_t>(st >> 32);
      if (ipc::pid_exists(by)) {
        still_out();
        continue;
      }
    } else if (// Relaxed: owner is stored before the slot's state release that
               // settle_claims() acquired (st above).
               ipc::liveness_packed(s.owner.load(std::memory_order_relaxed)) != ipc::Liveness::kDead) {
      still_out();
      continue;
    }
    *abandoned += abandon(s, st, x, s.size.load(std::memory_order_relaxed));
    if ((s.state.load(std::memory_order_acquire) & 0xFF) != kSlotIdle) still_out();  // pairs with abandon()'s release
  }
  return live;
}

std::uint64_t PartitionRing::abandon(ClaimSlot& s, std::uint64_t seen, std::uint64_t x, std::uint64_t size) noexcept {
  const std::uint64_t mine =
      (static_cast<std::uint64_t>(static_cast<std::uint32_t>(ipc::current_pid())) << 32) | kSlotAbandoning;
  // One process at a time abandons a claim. acq_rel: pairs with the owner's
  // stores (it is dead; nothing more will come) and with a previous abandoner's.
  if (!s.state.compare_exchange_strong(seen, mine, std::memory_order_acq_rel)) return 0;
  const std::uint64_t generation = generation_of_tag(tail_tag(x));
  const std::uint64_t capacity = data_capacity_;
  const std::uint64_t position = tail_position(x);
  const auto bytes = static_cast<std::uint32_t>(size);
  const auto records = static_cast<std::uint32_t>(size >> 32);
  std::uint64_t covered = 0;
  // Every number comes from shared memory: a damaged slot is dropped, never
  // followed. Claims exist only in generations that have opened: a forged
  // one in a segment still being prepared would have this clean ahead into
  // a retained segment. Pairs with roll()'s release store of current_generation.
  const std::uint64_t current = header_->current_generation.load(std::memory_order_acquire);
  if (bytes >= kFrameHeaderSize && bytes <= kMaxFrameBytes && bytes % kFrameAlignment == 0 &&
      position + bytes <= capacity && records > 0 && std::uint64_t{records} * kMinRecordBytes <= bytes &&
      records <= kMaxRecordsPerSegment && generation_live(generation) && generation <= current &&
      sealed_before(generation)) {
    // A pending claim may not have finished its cleaning of generation+2,
    // which cannot have opened (its roller waits for pending claims of
    // `generation`): finish it. A writing claim's cleaning is done, and
    // generation+2 may be taking appends: hands off. Both accounts of
    // whether it opened must agree that it has not.
    if ((seen & 0xFF) == kSlotPending && current < generation + 2 && !sealed_before(generation + 2))
      clean(data(generation + 2) + position, bytes);
    // A frame the owner committed stands (a claim holds one; an older
    // producer's several); the rest becomes one abandoned frame. Base offsets
    // relaxed: stored before the release of current_generation acquired above.
    std::byte* d = data(generation);
    std::uint64_t at = position, done = 0;
    // A committed frame ends the claim or leaves room for at least one more
    // frame header: a damaged length that leaves less is not believed, and
    // the abandoned frame starts at it instead of past the claim's end.
    const std::uint64_t end = position + bytes;
    while (at < end && done < records) {
      const std::uint64_t word = load_commit(d + at);
      if (!committed(word) || is_end_of_segment(word)) break;
      const std::uint64_t offsets =
          frame_offsets(d + at, word, end - at,
                        static_cast<std::int64_t>(segment_header(generation)->base_offset.load(std::memory_order_relaxed) +
                                                  tail_count(x) + done));
      if (offsets == 0 || offsets > records - done) break;
      const std::uint64_t next = at + align_frame(commit_length(word));
      if (next < end && end - next < kFrameHeaderSize) break;
      done += offsets;
      at = next;
    }
    if (at < end && done < records) {
      std::byte* frame = d + at;
      const auto length = static_cast<std::uint32_t>(end - at);
      const std::int64_t offset =
          static_cast<std::int64_t>(segment_header(generation)->base_offset.load(std::memory_order_relaxed) +
                                    tail_count(x) + done);
      const auto skipped = static_cast<std::uint32_t>(records - done);
      const std::uint64_t word = encode_abandoned(frame, length, offset, skipped);
      // An abandoned frame has no timestamp: 0 stands in, as in commit()
      // (index_start() never searches by an abandoned frame's time).
      index_frame(generation, static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(at + length), offset, 0);
      // Publishes the abandoned frame; pairs with read()'s acquire load.
      commit_word(frame).store(word, std::memory_order_release);
      covered = skipped;
    }
  }
  // Pairs with settle_claims()'s acquire: the frames above come first.
  s.state.store(kSlotIdle, std::memory_order_release);
  s.owner.store(0, std::memory_order_release);  // free again; pairs with acquire_slot()'s acquire
  notify();
  return covered;
}

std::uint64_t PartitionRing::recover_abandoned(std::uint64_t generation) noexcept {
  std::uint64_t abandoned = 0;
  (void)settle_claims(generation, Outstanding::kAll, true, &abandoned);
  return abandoned;
}

bool PartitionRing::sealed_before(std::uint64_t generation) const noexcept {
  if (generation == 0 || !generation_live(generation - 1)) return true;
  // Pairs with roll()'s release store of `sealed` (before the generation opens).
  return segment_header(generation - 1)->sealed.load(std::memory_order_acquire) != 0;
}

bool PartitionRing::rescue_roll(std::uint64_t rolling_tail, std::int64_t deadline_ns) noexcept {
  if ((rolling_tail & kPositionMask) != kRolling) return false;
  ClaimSlot* dead = nullptr;
  std::uint64_t seen = 0;
  for (std::uint32_t i = 0, n = slots_used(); i < n; ++i) {
    ClaimSlot& s = *slot(i);
    // Acquire: pairs with the roller's release CAS on the tail (it announced first).
    const std::uint64_t st = s.state.load(std::memory_order_acquire);
    // Tail relaxed: published with the state.
    if ((st & 0xFF) != kSlotRolling || (s.tail.load(std::memory_order_relaxed) | kRolling) != rolling_tail) continue;
    // A live announcer (the roller, or one whose CAS failed and is about to
    // say so), or a live rescuer (its pid in the state's high half), means
    // the roll is not abandoned. (Owner relaxed: it changes only while the
    // slot is idle.)
    const auto rescuer = static_cast<pid_t>(st >> 32);
    if (rescuer != 0 ? ipc::pid_exists(rescuer)
                     : ipc::liveness_packed(s.owner.load(std::memory_order_relaxed)) != ipc::Liveness::kDead)
      return false;
    dead = &s;
    seen = st;
  }
  if (dead == nullptr) return false;
  const std::uint64_t mine =
      (static_cast<std::uint64_t>(static_cast<std::uint32_t>(ipc::current_pid())) << 32) | kSlotRolling;
  // One rescuer at a time. acq_rel: pairs with the dead roller's stores and a
  // previous rescuer's.
  if (!dead->state.compare_exchange_strong(seen, mine, std::memory_order_acq_rel)) return false;
  // Every step of a roll can be done again with the same result, and the
  // tail is still rolling (the last step, which releases it, is a CAS). A
  // dead roller that had got past its waits is followed straight on; one
  // that had not is waited for again, and undone at the deadline (see roll()).
  // The tail: pairs with its releases (claims, rolls); the slot's tail
  // (relaxed) came with the state, acquired by the CAS.
  std::int32_t stalled = 0;
  if (header_->tail.load(std::memory_order_acquire) == rolling_tail)
    (void)roll(dead->tail.load(std::memory_order_relaxed), deadline_ns, &stalled, /*redo=*/true);
  // Release: pairs with the acquire loads of slot states and owners
  // (wedged(), acquire_slot(), reap_dead()): the roll's stores come first.
  dead->state.store(kSlotIdle, std::memory_order_release);
  dead->owner.store(0, std::memory_order_release);
  return true;
}

std::int32_t PartitionRing::stalled_by(std::uint64_t rolling_tail) noexcept {
  // What roll() from this tail waits for, counted without looking up owners.
  const std::uint64_t gen = generation_of_tag(tail_tag(rolling_tail));
  const std::uint64_t leaving = gen + 3 >= segment_count_ ? gen + 3 - segment_count_ : kUnusedGeneration;
  std::int32_t pid = 0;
  std::uint64_t abandoned = 0;
  if (gen > 0 && settle_claims(gen - 1, Outstanding::kCleaning, false, &abandoned, &pid) > 0) return pid;
  if (leaving != kUnusedGeneration) (void)settle_claims(leaving, Outstanding::kAll, false, &abandoned, &pid);
  return pid;
}

bool PartitionRing::wedged() const noexcept {
  // Pairs with the roller's release CAS, which published its announcement.
  const std::uint64_t t = header_->tail.load(std::memory_order_acquire);
  if ((t & kPositionMask) != kRolling) return false;
  for (std::uint32_t i = 0, n = slots_used(); i < n; ++i) {
    const ClaimSlot& s = *slot(i);
    // The state pairs with the slot's release stores; the tail (relaxed) came with it.
    if ((s.state.load(std::memory_order_acquire) & 0xFF) == kSlotRolling &&
        (s.tail.load(std::memory_order_relaxed) | kRolling) == t)
      return false;
  }
  // The announcement precedes the roll's CAS, so a live roll is always
  // announced; look once more in case this one just finished (acquire, as
  // above).
  return header_->tail.load(std::memory_order_acquire) == t;
}

std::uint32_t PartitionRing::reap_dead() noexcept {
  std::uint32_t freed = 0;
  for (std::uint32_t i = 0, n = slots_used(); i < n; ++i) {
    ClaimSlot& s = *slot(i);
    // Acquire, owner and state: pair with their release stores and CASes
    // (acquire_slot(), release_slot(), claim(), commit(), abandon()).
    std::uint64_t o = s.owner.load(std::memory_order_acquire);
    if (o == 0 || ipc::liveness_packed(o) != ipc::Liveness::kDead) continue;
    std::uint64_t st = s.state.load(std::memory_order_acquire);
    if ((st & 0xFF) == kSlotPending || (st & 0xFF) == kSlotWriting) {
      // Abandon its claim (or clear an announcement with no claim behind it).
      std::uint64_t abandoned = 0;
      // Tail relaxed: published with the state.
      (void)settle_claims(generation_of_tag(tail_tag(s.tail.load(std::memory_order_relaxed))), Outstanding::kAll, true,
                          &abandoned);
      if (s.owner.load(std::memory_order_acquire) == 0) {  // pairs with abandon()'s release
        ++freed;
        continue;
      }
    } else if (st == kSlotRolling) {
      // A roll announcement whose roll is over (or never happened). The tail
      // pairs with its releases; the slot's tail (relaxed) came with the
      // state; the CAS is acq_rel as every CAS of a slot's state.
      const std::uint64_t rolling = header_->tail.load(std::memory_order_acquire);
      if ((s.tail.load(std::memory_order_relaxed) | kRolling) == rolling)
        (void)rescue_roll(rolling, monotonic_ns() + kRescuePatienceNs);
      else (void)s.state.compare_exchange_strong(st, kSlotIdle, std::memory_order_acq_rel);
    }
    // Acquire and acq_rel, as above.
    if (s.state.load(std::memory_order_acquire) != kSlotIdle) continue;
    if (s.owner.compare_exchange_strong(o, 0, std::memory_order_acq_rel)) ++freed;
  }
  for (std::uint32_t i = 0; i < kReaderSlots; ++i) {
    ReaderSlot& r = *reader_slot(i);
    // Pair with register_reader()'s CAS and unregister_reader()'s release.
    std::uint64_t o = r.owner.load(std::memory_order_acquire);
    if (o == 0 || ipc::liveness_packed(o) != ipc::Liveness::kDead) continue;
    if (r.owner.compare_exchange_strong(o, 0, std::memory_order_acq_rel)) ++freed;
  }
  return freed;
}

}  // namespace rill::log
