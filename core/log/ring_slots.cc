// Who takes part in a partition: producers' claim slots and consumers'
// reader slots - taking one, giving it back, and listing them (with whether
// each owner is alive) for `rill topic describe`. Cold paths; freeing the
// slots of dead processes is recovery's (ring_recovery.cc).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/log/partition_ring.h"
#include "core/log/ring_words.h"
#include "ipc/clock.h"
#include "ipc/liveness.h"

namespace rill::log {

Result<ClaimSlot*> PartitionRing::acquire_slot(const ipc::ProcessId& owner) noexcept {
  // A producer's first claim here would trust the tail and the base offsets:
  // a damaged ring is refused before it writes anything. (After this, its
  // claims check what they can on the lines they touch, and its rolls the
  // segments they seal.)
  if (Status s = check(); !s) return s;
  const std::uint64_t me = owner.packed();
  // First a free slot; failing that, one whose owner died without a claim
  // outstanding (a dead owner with a claim is left to its abandonment).
  for (int pass = 0; pass < 2; ++pass) {
    for (std::uint32_t i = 0; i < kClaimSlots; ++i) {
      ClaimSlot& s = *slot(i);
      // Acquire, owner and state: pair with release_slot()'s and abandon()'s
      // release stores, and the owner's of its state.
      std::uint64_t o = s.owner.load(std::memory_order_acquire);
      if (o != 0 && (pass == 0 || s.state.load(std::memory_order_acquire) != kSlotIdle ||
                     ipc::liveness_packed(o) != ipc::Liveness::kDead))
        continue;
      // acq_rel: pairs with release_slot()'s and abandon()'s release stores.
      if (!s.owner.compare_exchange_strong(o, me, std::memory_order_acq_rel)) continue;
      // Relaxed: the state was idle already (a free slot, or a dead owner's
      // without a claim); later states are published by the claims' CASes.
      s.state.store(kSlotIdle, std::memory_order_relaxed);
      std::uint32_t used = header_->claim_slots_used.load(std::memory_order_relaxed);  // relaxed: the CAS rereads it
      // Release: pairs with slots_used()'s acquire.
      while (used < i + 1 && !header_->claim_slots_used.compare_exchange_weak(used, i + 1, std::memory_order_release)) {
      }
      return &s;
    }
  }
  return Status(Code::kResourceExhausted, "partition " + std::to_string(id_) + " has " + std::to_string(kClaimSlots) +
                                              " producers already (claim slots); close some");
}

void PartitionRing::release_slot(ClaimSlot* slot) noexcept {
  // Pairs with acquire_slot()'s CAS: the next owner starts after us.
  if (slot) slot->owner.store(0, std::memory_order_release);
}

Result<ReaderSlot*> PartitionRing::register_reader(const ipc::ProcessId& owner, std::int64_t position) noexcept {
  const std::uint64_t me = owner.packed();
  for (int pass = 0; pass < 2; ++pass) {
    for (std::uint32_t i = 0; i < kReaderSlots; ++i) {
      ReaderSlot& r = *reader_slot(i);
      // Pairs with unregister_reader()'s release and reap_dead()'s CAS.
      std::uint64_t o = r.owner.load(std::memory_order_acquire);
      if (o != 0 && (pass == 0 || ipc::liveness_packed(o) != ipc::Liveness::kDead)) continue;
      // acq_rel: pairs with unregister_reader()'s release and producers' acquire.
      // Until the position below lands, a producer sees the one the slot was
      // left with (INT64_MIN once unregistered), which holds it back, never
      // the other way round.
      if (r.owner.compare_exchange_strong(o, me, std::memory_order_acq_rel)) {
        r.registered_ns.store(ipc::realtime_ns(), std::memory_order_relaxed);  // relaxed: for display only
        r.position.store(position, std::memory_order_release);  // pairs with await_readers()'s acquire
        return &r;
      }
    }
  }
  return Status(Code::kResourceExhausted, "partition " + std::to_string(id_) + " has " + std::to_string(kReaderSlots) +
                                              " registered readers already; close some consumers");
}

void PartitionRing::unregister_reader(ReaderSlot* slot) noexcept {
  if (!slot) return;
  slot->position.store(INT64_MIN, std::memory_order_relaxed);  // relaxed: the release below publishes it
  slot->owner.store(0, std::memory_order_release);  // pairs with register_reader()'s CAS
}

std::vector<PartitionRing::ProducerInfo> PartitionRing::producers() const {
  std::vector<ProducerInfo> out;
  for (std::uint32_t i = 0, n = slots_used(); i < n; ++i) {
    const ClaimSlot& s = *slot(i);
    // Acquire: pairs with acquire_slot()'s CAS; the state (relaxed) is a
    // snapshot for display.
    const std::uint64_t o = s.owner.load(std::memory_order_acquire);
    if (o == 0) continue;
    out.push_back({ipc::ProcessId::unpacked(o), s.state.load(std::memory_order_relaxed) & 0xFF,
                   ipc::liveness_packed(o) == ipc::Liveness::kAlive});
  }
  return out;
}

std::vector<PartitionRing::ReaderInfo> PartitionRing::readers() const {
  std::vector<ReaderInfo> out;
  for (std::uint32_t i = 0; i < kReaderSlots; ++i) {
    const ReaderSlot& r = *reader_slot(i);
    // Acquire: the owner pairs with register_reader()'s CAS, the position with
    // publish_position()'s release; registered_ns (relaxed) is for display.
    const std::uint64_t o = r.owner.load(std::memory_order_acquire);
    if (o == 0) continue;
    out.push_back({ipc::ProcessId::unpacked(o), r.position.load(std::memory_order_acquire),
                   r.registered_ns.load(std::memory_order_relaxed), ipc::liveness_packed(o) == ipc::Liveness::kAlive});
  }
  return out;
}

std::pair<std::int64_t, std::int32_t> PartitionRing::slowest_reader() const {
  std::pair<std::int64_t, std::int32_t> slowest{0, 0};
  for (const ReaderInfo& r : readers())
    if (r.alive && (slowest.second == 0 || r.position < slowest.first)) slowest = {r.position, r.owner.pid};
  return slowest;
}

}  // namespace rill::log
