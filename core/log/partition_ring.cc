#include "core/log/partition_ring.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>


namespace rill::log {
namespace {

// Tail word: [63..48] segment tag, [47..28] records claimed, [27..0] position / 8.
constexpr std::uint64_t kPositionMask = (1ull << 28) - 1;
constexpr std::uint64_t kRolling = kPositionMask;  // a roller owns the tail
constexpr int kCountShift = 28;
constexpr std::uint64_t kCountMask = (1ull << 20) - 1;
constexpr int kTagShift = 48;

constexpr std::uint64_t tail_position(std::uint64_t t) { return (t & kPositionMask) * kFrameAlignment; }
constexpr std::uint32_t tail_count(std::uint64_t t) { return static_cast<std::uint32_t>((t >> kCountShift) & kCountMask); }
constexpr std::uint16_t tail_tag(std::uint64_t t) { return static_cast<std::uint16_t>(t >> kTagShift); }
constexpr std::uint64_t make_tail(std::uint64_t generation, std::uint32_t count, std::uint64_t position) {
  return (static_cast<std::uint64_t>(static_cast<std::uint16_t>(generation)) << kTagShift) |
         (std::uint64_t{count} << kCountShift) | (position / kFrameAlignment);
}
static_assert(kMaxSegmentDataBytes / kFrameAlignment < kRolling);

std::atomic_ref<std::uint64_t> commit_word(std::byte* frame) noexcept {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(frame));
}
std::uint64_t load_commit(const std::byte* frame) noexcept {
  // Pairs with the release store in PartitionRing::commit() / roll().
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(const_cast<std::byte*>(frame)))
      .load(std::memory_order_acquire);
}

// Segments are zeroed before they open: any other word is committed.
constexpr bool committed(std::uint64_t word) { return word != 0; }

// Zeroes [p, p + bytes) of a segment two ahead (8-aligned, a multiple of 8).
// A reader or checker that loaded an older current_generation may still be
// loading commit words (atomically) there; it finds out from the generation
// it re-checks and discards what it saw. Under ThreadSanitizer each word is
// a relaxed atomic store, so that this stale look is not reported as a race;
// elsewhere a memset (two vector stores for an 80-byte frame, not ten).
void clean(std::byte* p, std::uint64_t bytes) noexcept {
#if defined(__SANITIZE_THREAD__)
  for (std::uint64_t i = 0; i + 8 <= bytes; i += 8)
    std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(p + i)).store(0, std::memory_order_relaxed);
#else
  std::memset(p, 0, bytes);
#endif
}

constexpr std::uint64_t align64(std::uint64_t n) { return (n + 63) & ~std::uint64_t{63}; }

// Offsets derive from shared memory (base offsets, frame fields) and may be
// damaged: they advance modulo 2^64, as the base offsets themselves do, never
// by a signed overflow (undefined behaviour).
constexpr std::int64_t advance(std::int64_t offset, std::uint64_t n) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(offset) + n);
}

struct SegmentLayout {
  std::uint64_t data_start;
  std::uint64_t data_capacity;
  std::uint32_t index_entries;
};

SegmentLayout layout_of(const PartitionGeometry& g) {
  std::uint64_t room = g.segment_bytes > sizeof(SegmentHeader) ? g.segment_bytes - sizeof(SegmentHeader) : 0;
  std::uint64_t entries = room / g.index_interval + 1;
  std::uint64_t start = align64(sizeof(SegmentHeader) + entries * sizeof(IndexEntry));
  std::uint64_t capacity = g.segment_bytes > start ? (g.segment_bytes - start) & ~std::uint64_t{7} : 0;
  return {start, capacity, static_cast<std::uint32_t>(entries)};
}

}  // namespace

// ---------------------------------------------------------------- geometry

Status PartitionGeometry::validate() const {
  if (segment_count < kMinSegmentCount)
    return Status(Code::kInvalidArgument, "segment count must be at least " + std::to_string(kMinSegmentCount) +
                                              " (two segments are always being prepared), got " +
                                              std::to_string(segment_count));
  if (segment_count > 65536)
    return Status(Code::kInvalidArgument, "segment count must be at most 65536, got " + std::to_string(segment_count));
  if (index_interval < 64 || (index_interval & (index_interval - 1)) != 0)
    return Status(Code::kInvalidArgument, "index interval must be a power of two >= 64, got " +
                                              std::to_string(index_interval));
  if (segment_bytes < 4096 || segment_bytes % 4096 != 0)
    return Status(Code::kInvalidArgument, "segment size must be a multiple of 4096 bytes and at least 4 KiB, got " +
                                              std::to_string(segment_bytes));
  if (data_capacity() > kMaxSegmentDataBytes)
    return Status(Code::kInvalidArgument, "segment size must be at most 1 GiB, got " + std::to_string(segment_bytes));
  return Status::ok();
}

std::uint64_t PartitionGeometry::region_bytes() const {
  return kPartitionHeaderBytes + std::uint64_t{segment_count} * segment_bytes;
}

std::uint64_t PartitionGeometry::data_capacity() const { return layout_of(*this).data_capacity; }

// ---------------------------------------------------------------- set-up

Result<PartitionRing> PartitionRing::create(std::span<std::byte> region, const PartitionGeometry& geometry,
                                            std::int32_t partition_id, Doorbell* doorbell) {
  if (Status s = geometry.validate(); !s) return s;
  if (region.size() < geometry.region_bytes())
    return Status(Code::kInvalidArgument, "region of " + std::to_string(region.size()) +
                                              " bytes is smaller than the partition's " +
                                              std::to_string(geometry.region_bytes()));
  auto* h = new (region.data()) PartitionHeader();
  SegmentLayout layout = layout_of(geometry);
  h->version = kPartitionVersion;
  h->segment_count = geometry.segment_count;
  h->segment_bytes = geometry.segment_bytes;
  h->data_start = layout.data_start;
  h->data_capacity = layout.data_capacity;
  h->index_interval = geometry.index_interval;
  h->index_entries = layout.index_entries;
  h->region_bytes = geometry.region_bytes();
  h->block_on_readers = geometry.block_on_readers ? 1 : 0;
  h->block_timeout_ms = geometry.block_timeout_ms;
  PartitionRing ring(h, partition_id, doorbell ? doorbell : &h->own_doorbell);
  for (std::uint32_t i = 0; i < geometry.segment_count; ++i) {
    auto* sh = new (ring.segment(i)) SegmentHeader();
    // Generation 0 takes appends, 1 is zero and ready, 2 is being zeroed.
    sh->generation.store(i < 3 ? i : kUnusedGeneration, std::memory_order_relaxed);
  }
  h->tail.store(make_tail(0, 0, 0), std::memory_order_relaxed);
  h->current_generation.store(0, std::memory_order_relaxed);
  // Pairs with the acquire load in attach(): everything above is visible first.
  h->magic.store(kPartitionMagic, std::memory_order_release);
  return ring;
}

Result<PartitionRing> PartitionRing::attach(std::span<std::byte> region, std::int32_t partition_id,
                                            Doorbell* doorbell) {
  if (region.size() < kPartitionHeaderBytes)
    return Status(Code::kCorrupt, "partition region of " + std::to_string(region.size()) + " bytes has no header");
  auto* h = reinterpret_cast<PartitionHeader*>(region.data());
  // Pairs with the release store of magic in create().
  if (h->magic.load(std::memory_order_acquire) != kPartitionMagic)
    return Status(Code::kCorrupt, "partition header has a bad magic number (not a rill partition, or not initialised)");
  if (h->version != kPartitionVersion)
    return Status(Code::kCorrupt, "partition format version " + std::to_string(h->version) + ", this build reads " +
                                      std::to_string(kPartitionVersion));
  PartitionGeometry g{h->segment_bytes, h->segment_count, h->index_interval};
  const auto inconsistent = [] {
    return Status(Code::kCorrupt, "partition header geometry is inconsistent with its region");
  };
  if (!g.validate()) return inconsistent();  // first: layout_of() divides by the index interval
  SegmentLayout layout = layout_of(g);
  if (h->region_bytes != g.region_bytes() || h->region_bytes > region.size() || h->data_start != layout.data_start ||
      h->data_capacity != layout.data_capacity || h->index_entries != layout.index_entries)
    return inconsistent();
  PartitionRing ring(h, partition_id, doorbell ? doorbell : &h->own_doorbell);
  // The words the ring changes as it runs, against each other: a damaged
  // partition is refused here rather than read wrong or written over.
  if (Status s = ring.check(); !s) return s;
  return ring;
}

std::uint32_t PartitionRing::max_frame_bytes() const noexcept {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(data_capacity_, kMaxFrameBytes));
}

std::uint64_t PartitionRing::segment_index(std::uint64_t generation) const noexcept {
  if (generation <= 0xFFFF'FFFFu) [[likely]] return remainder_by_magic(generation, segment_count_, segment_magic_);
  return generation % segment_count_;
}

std::byte* PartitionRing::segment(std::uint64_t generation) const noexcept {
  return reinterpret_cast<std::byte*>(header_) + kPartitionHeaderBytes + segment_index(generation) * segment_bytes_;
}
SegmentHeader* PartitionRing::segment_header(std::uint64_t generation) const noexcept {
  return reinterpret_cast<SegmentHeader*>(segment(generation));
}
IndexEntry* PartitionRing::index(std::uint64_t generation) const noexcept {
  return reinterpret_cast<IndexEntry*>(segment(generation) + sizeof(SegmentHeader));
}
std::byte* PartitionRing::data(std::uint64_t generation) const noexcept {
  return segment(generation) + data_start_;
}

std::uint64_t PartitionRing::generation_of_tag(std::uint16_t tag) const noexcept {
  // Pairs with the release store of current_generation in roll().
  std::uint64_t current = header_->current_generation.load(std::memory_order_acquire);
  return current - static_cast<std::uint16_t>(static_cast<std::uint16_t>(current) - tag);
}

// ---------------------------------------------------------------- producers

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
          slot->state.store(kSlotIdle, std::memory_order_relaxed);  // a failed CAS may have left it pending
          out->stalled_by = ipc::ProcessId::unpacked(lease).pid;
          return ClaimStatus::kLeased;
        }
        // A dead holder's: cleared; its last claim is abandoned like any dead
        // producer's. acq_rel: acquires the dead holder's tail stores (its
        // releases), and orders this clearing before the CAS below.
        std::uint64_t dead = lease;
        (void)header_->exclusive_owner.compare_exchange_strong(dead, 0, std::memory_order_acq_rel);
        t = header_->tail.load(std::memory_order_acquire);
        continue;
      }
    } else if (lease != slot->owner.load(std::memory_order_relaxed)) [[unlikely]] {
      // The holder's lease was taken from this process (only as if it were
      // dead: damage or a pid clash).
      slot->state.store(kSlotIdle, std::memory_order_relaxed);
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
            slot->state.store(kSlotIdle, std::memory_order_relaxed);  // a failed CAS may have left it pending
            return ClaimStatus::kCorrupt;
          }
          if (now > deadline && wedged_since == 0) {  // a wedged tail is kCorrupt, after its own patience
            slot->state.store(kSlotIdle, std::memory_order_relaxed);
            out->stalled_by = stalled_by(t);
            return ClaimStatus::kStalled;
          }
        }
      }
      if (spins < 1024) cpu_relax();
      else ::sched_yield();
      t = header_->tail.load(std::memory_order_acquire);
      continue;
    }
    const std::uint64_t position = tail_position(t);
    const std::uint32_t count = tail_count(t);
    if (position + bytes <= capacity && count + records <= kMaxRecordsPerSegment) {
      const std::uint64_t next = t + (std::uint64_t{records} << kCountShift) + bytes / kFrameAlignment;
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
        won = header_->tail.compare_exchange_weak(t, next, std::memory_order_acq_rel, std::memory_order_acquire);
      }
      if (won) {
        // Pairs with the release store of current_generation in roll().
        const std::uint64_t current = header_->current_generation.load(std::memory_order_acquire);
        const std::uint64_t gen = current - static_cast<std::uint16_t>(static_cast<std::uint16_t>(current) - tail_tag(t));
        const SegmentHeader* segment = segment_header(gen);
        const std::uint64_t base = segment->base_offset.load(std::memory_order_relaxed);
        std::byte* at = data(gen) + position;
        // The words this claim steers by, checked on lines it touches anyway
        // (the segment header for its base offset, the data it writes). While
        // the claim is pending no roll can take the ring past gen + 1 or
        // reuse gen's bytes, and its bytes were zeroed before gen opened: any
        // of these failing is damage, and writing would overwrite records.
        if (current - gen > 1 || segment->generation.load(std::memory_order_relaxed) != gen ||
            base >= kMaxOffset - count - records ||
            committed(commit_word(at).load(std::memory_order_relaxed))) [[unlikely]] {
          // Hand the bytes back if nobody claimed after us. Release: pairs with claim()'s acquire.
          std::uint64_t claimed = next;
          (void)header_->tail.compare_exchange_strong(claimed, t, std::memory_order_release, std::memory_order_relaxed);
          slot->state.store(kSlotIdle, std::memory_order_relaxed);
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
      slot->state.store(kSlotIdle, std::memory_order_relaxed);
      if (!await_readers(generation_of_tag(tail_tag(t)))) return ClaimStatus::kBlocked;
      readers_checked = tail_tag(t);
      t = header_->tail.load(std::memory_order_acquire);
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
          slot->state.store(kSlotIdle, std::memory_order_relaxed);
          return ClaimStatus::kCorrupt;
        }
        t = now;
        continue;
      }
    }
    // Announced first, so that if this process dies mid-roll another one can
    // see whose roll it was and finish it (rescue_roll()).
    slot->tail.store(t, std::memory_order_relaxed);
    slot->state.store(kSlotRolling, std::memory_order_relaxed);
    // release: publishes the announcement with the rolling tail.
    if (header_->tail.compare_exchange_weak(t, t | kRolling, std::memory_order_acq_rel, std::memory_order_acquire)) {
      if (deadline == 0) deadline = monotonic_ns() + patience_ns;
      const bool rolled = roll(t, deadline, &out->stalled_by);
      slot->state.store(kSlotIdle, std::memory_order_release);
      if (!rolled) return ClaimStatus::kStalled;
      t = header_->tail.load(std::memory_order_acquire);
    } else {
      slot->state.store(kSlotIdle, std::memory_order_relaxed);
    }
  }
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
    else ::sched_yield();  // the writer may need this core
  }
}

ClaimSlot* PartitionRing::slot(std::uint32_t i) const noexcept {
  return reinterpret_cast<ClaimSlot*>(reinterpret_cast<std::byte*>(header_) + kClaimSlotsOffset) + i;
}

ReaderSlot* PartitionRing::reader_slot(std::uint32_t i) const noexcept {
  return reinterpret_cast<ReaderSlot*>(reinterpret_cast<std::byte*>(header_) + kReaderSlotsOffset) + i;
}

Result<ReaderSlot*> PartitionRing::register_reader(const ipc::ProcessId& owner, std::int64_t position) noexcept {
  const std::uint64_t me = owner.packed();
  for (int pass = 0; pass < 2; ++pass) {
    for (std::uint32_t i = 0; i < kReaderSlots; ++i) {
      ReaderSlot& r = *reader_slot(i);
      std::uint64_t o = r.owner.load(std::memory_order_acquire);
      if (o != 0 && (pass == 0 || ipc::liveness_packed(o) != ipc::Liveness::kDead)) continue;
      // acq_rel: pairs with unregister_reader()'s release and producers' acquire.
      // Until the position below lands, a producer sees the one the slot was
      // left with (INT64_MIN once unregistered), which holds it back, never
      // the other way round.
      if (r.owner.compare_exchange_strong(o, me, std::memory_order_acq_rel)) {
        timespec ts{};
        ::clock_gettime(CLOCK_REALTIME, &ts);
        r.registered_ns.store(ts.tv_sec * 1'000'000'000LL + ts.tv_nsec, std::memory_order_relaxed);
        r.position.store(position, std::memory_order_release);
        return &r;
      }
    }
  }
  return Status(Code::kResourceExhausted, "partition " + std::to_string(id_) + " has " + std::to_string(kReaderSlots) +
                                              " registered readers already; close some consumers");
}

void PartitionRing::unregister_reader(ReaderSlot* slot) noexcept {
  if (!slot) return;
  slot->position.store(INT64_MIN, std::memory_order_relaxed);
  slot->owner.store(0, std::memory_order_release);  // pairs with register_reader()'s CAS
}

std::vector<PartitionRing::ProducerInfo> PartitionRing::producers() const {
  std::vector<ProducerInfo> out;
  for (std::uint32_t i = 0, n = slots_used(); i < n; ++i) {
    const ClaimSlot& s = *slot(i);
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
    const std::uint64_t o = r.owner.load(std::memory_order_acquire);
    if (o == 0) continue;
    out.push_back({ipc::ProcessId::unpacked(o), r.position.load(std::memory_order_acquire),
                   r.registered_ns.load(std::memory_order_relaxed), ipc::liveness_packed(o) == ipc::Liveness::kAlive});
  }
  return out;
}

std::uint32_t PartitionRing::reap_dead() noexcept {
  std::uint32_t freed = 0;
  for (std::uint32_t i = 0, n = slots_used(); i < n; ++i) {
    ClaimSlot& s = *slot(i);
    std::uint64_t o = s.owner.load(std::memory_order_acquire);
    if (o == 0 || ipc::liveness_packed(o) != ipc::Liveness::kDead) continue;
    std::uint64_t st = s.state.load(std::memory_order_acquire);
    if ((st & 0xFF) == kSlotPending || (st & 0xFF) == kSlotWriting) {
      // Abandon its claim (or clear an announcement with no claim behind it).
      std::uint64_t abandoned = 0;
      (void)settle_claims(generation_of_tag(tail_tag(s.tail.load(std::memory_order_relaxed))), Outstanding::kAll, true,
                          &abandoned);
      if (s.owner.load(std::memory_order_acquire) == 0) {
        ++freed;
        continue;
      }
    } else if (st == kSlotRolling) {
      // A roll announcement whose roll is over (or never happened).
      const std::uint64_t rolling = header_->tail.load(std::memory_order_acquire);
      if ((s.tail.load(std::memory_order_relaxed) | kRolling) == rolling)
        (void)rescue_roll(rolling, monotonic_ns() + kRescuePatienceNs);
      else (void)s.state.compare_exchange_strong(st, kSlotIdle, std::memory_order_acq_rel);
    }
    if (s.state.load(std::memory_order_acquire) != kSlotIdle) continue;
    if (s.owner.compare_exchange_strong(o, 0, std::memory_order_acq_rel)) ++freed;
  }
  for (std::uint32_t i = 0; i < kReaderSlots; ++i) {
    ReaderSlot& r = *reader_slot(i);
    std::uint64_t o = r.owner.load(std::memory_order_acquire);
    if (o == 0 || ipc::liveness_packed(o) != ipc::Liveness::kDead) continue;
    if (r.owner.compare_exchange_strong(o, 0, std::memory_order_acq_rel)) ++freed;
  }
  return freed;
}

bool PartitionRing::wedged() const noexcept {
  const std::uint64_t t = header_->tail.load(std::memory_order_acquire);
  if ((t & kPositionMask) != kRolling) return false;
  for (std::uint32_t i = 0, n = slots_used(); i < n; ++i) {
    const ClaimSlot& s = *slot(i);
    if ((s.state.load(std::memory_order_acquire) & 0xFF) == kSlotRolling &&
        (s.tail.load(std::memory_order_relaxed) | kRolling) == t)
      return false;
  }
  // The announcement precedes the roll's CAS, so a live roll is always
  // announced; look once more in case this one just finished.
  return header_->tail.load(std::memory_order_acquire) == t;
}

std::pair<std::int64_t, std::int32_t> PartitionRing::slowest_reader() const {
  std::pair<std::int64_t, std::int32_t> slowest{0, 0};
  for (const ReaderInfo& r : readers())
    if (r.alive && (slowest.second == 0 || r.position < slowest.first)) slowest = {r.position, r.owner.pid};
  return slowest;
}

bool PartitionRing::await_readers(std::uint64_t generation) noexcept {
  const std::uint64_t n = segment_count_;
  if (generation + 3 < n) return true;  // the roll retires no generation yet
  // The roll out of `generation` hands generation+3-N's bytes on; a reader
  // still needs them while its position is before the next generation's base.
  const std::int64_t boundary =
      static_cast<std::int64_t>(segment_header(generation + 4 - n)->base_offset.load(std::memory_order_relaxed));
  // Bounded even if the header was damaged.
  const std::int64_t timeout_ns = std::int64_t{std::min<std::uint32_t>(header_->block_timeout_ms, 3'600'000)} * 1'000'000;
  const std::int64_t deadline = monotonic_ns() + timeout_ns;
  for (std::uint32_t i = 0;; ++i) {
    bool clear = true;
    for (std::uint32_t k = 0; k < kReaderSlots; ++k) {
      ReaderSlot& r = *reader_slot(k);
      std::uint64_t o = r.owner.load(std::memory_order_acquire);
      // Pairs with publish_position()'s release store.
      if (o == 0 || r.position.load(std::memory_order_acquire) >= boundary) continue;
      if ((i & 1023) == 0 && ipc::liveness_packed(o) == ipc::Liveness::kDead) {
        (void)r.owner.compare_exchange_strong(o, 0, std::memory_order_acq_rel);  // a dead reader holds nobody back
        continue;
      }
      clear = false;
    }
    if (clear) return true;
    if (monotonic_ns() > deadline) return false;
    if (i < 256) {
      cpu_relax();
    } else if (i < 1024) {
      ::sched_yield();
    } else {
      timespec pause{0, 50'000};
      ::nanosleep(&pause, nullptr);
    }
  }
}

std::uint32_t PartitionRing::slots_used() const noexcept {
  // Bounded: the word is in shared memory and may have been damaged.
  return std::min(header_->claim_slots_used.load(std::memory_order_acquire), kClaimSlots);
}

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
      std::uint64_t o = s.owner.load(std::memory_order_acquire);
      if (o != 0 && (pass == 0 || s.state.load(std::memory_order_acquire) != kSlotIdle ||
                     ipc::liveness_packed(o) != ipc::Liveness::kDead))
        continue;
      // acq_rel: pairs with release_slot()'s and abandon()'s release stores.
      if (!s.owner.compare_exchange_strong(o, me, std::memory_order_acq_rel)) continue;
      s.state.store(kSlotIdle, std::memory_order_relaxed);
      std::uint32_t used = header_->claim_slots_used.load(std::memory_order_relaxed);
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
    const std::uint64_t sealed = segment_header(generation)->sealed.load(std::memory_order_acquire);
    if (sealed != 0 && position >= static_cast<std::uint32_t>(sealed)) return Announcement::kVoid;
    if (position + kFrameAlignment > capacity) return Announcement::kVoid;
    if (committed(load_commit(data(generation) + position))) return Announcement::kVoid;
    for (std::uint32_t j = 0; j < n; ++j) {
      if (j == i) continue;
      ClaimSlot& other = *slot(j);
      const std::uint64_t st = other.state.load(std::memory_order_acquire) & 0xFF;
      if (st == kSlotIdle || st == kSlotRolling || other.tail.load(std::memory_order_relaxed) != x) continue;
      if (st == kSlotPending) {
        // Two announcements of one tail: one of them claimed it. While either
        // owner lives it may still say which; if both are dead, the lower
        // slot stands for the claim, so that it is abandoned exactly once.
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
    const auto still_out = [&] {
      ++live;
      if (live_owner != nullptr)
        *live_owner = ipc::ProcessId::unpacked(s.owner.load(std::memory_order_relaxed)).pid;
    };
    const std::uint64_t st = s.state.load(std::memory_order_acquire);
    if ((st & 0xFF) == kSlotIdle || (st & 0xFF) == kSlotRolling) continue;  // a roll is not a claim
    const std::uint64_t x = s.tail.load(std::memory_order_relaxed);
    if (tail_tag(x) != tag) continue;
    if ((st & 0xFF) == kSlotWriting && which == Outstanding::kCleaning) continue;
    if ((st & 0xFF) == kSlotPending) {
      const Announcement a = classify(i, x);
      if (a == Announcement::kVoid) {
        // No claim behind it; if its owner is dead, nobody will clear it.
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
      if (by > 0 && (::kill(by, 0) == 0 || errno == EPERM)) {
        still_out();
        continue;
      }
    } else if (ipc::liveness_packed(s.owner.load(std::memory_order_relaxed)) != ipc::Liveness::kDead) {
      still_out();
      continue;
    }
    *abandoned += abandon(s, st, x, s.size.load(std::memory_order_relaxed));
    if ((s.state.load(std::memory_order_acquire) & 0xFF) != kSlotIdle) still_out();
  }
  return live;
}

std::uint64_t PartitionRing::abandon(ClaimSlot& s, std::uint64_t seen, std::uint64_t x, std::uint64_t size) noexcept {
  const std::uint64_t mine = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(::getpid())) << 32) | kSlotAbandoning;
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
  // a retained segment.
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
    // producer's several); the rest becomes one abandoned frame.
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
      timespec ts{};
      ::clock_gettime(CLOCK_REALTIME, &ts);
      const std::int64_t now = ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
      const auto skipped = static_cast<std::uint32_t>(records - done);
      const std::uint64_t word = encode_abandoned(frame, length, offset, skipped);
      index_frame(generation, static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(at + length), offset, now);
      // Publishes the abandoned frame; pairs with read()'s acquire load.
      commit_word(frame).store(word, std::memory_order_release);
      covered = skipped;
    }
  }
  // Pairs with settle_claims()'s acquire: the frames above come first.
  s.state.store(kSlotIdle, std::memory_order_release);
  s.owner.store(0, std::memory_order_release);  // the dead owner's slot is free again
  notify();
  return covered;
}

std::uint64_t PartitionRing::recover_abandoned(std::uint64_t generation) noexcept {
  std::uint64_t abandoned = 0;
  (void)settle_claims(generation, Outstanding::kAll, true, &abandoned);
  return abandoned;
}

bool PartitionRing::blocked(const ReadCursor& cursor) const noexcept {
  return !readable(cursor) && latest().next_offset > cursor.next_offset;
}

bool PartitionRing::rescue_roll(std::uint64_t rolling_tail, std::int64_t deadline_ns) noexcept {
  if ((rolling_tail & kPositionMask) != kRolling) return false;
  ClaimSlot* dead = nullptr;
  std::uint64_t seen = 0;
  for (std::uint32_t i = 0, n = slots_used(); i < n; ++i) {
    ClaimSlot& s = *slot(i);
    // Acquire: pairs with the roller's release CAS on the tail (it announced first).
    const std::uint64_t st = s.state.load(std::memory_order_acquire);
    if ((st & 0xFF) != kSlotRolling || (s.tail.load(std::memory_order_relaxed) | kRolling) != rolling_tail) continue;
    // A live announcer (the roller, or one whose CAS failed and is about to
    // say so), or a live rescuer (its pid in the state's high half), means
    // the roll is not abandoned.
    const auto rescuer = static_cast<pid_t>(st >> 32);
    if (rescuer != 0 ? (rescuer > 0 && (::kill(rescuer, 0) == 0 || errno == EPERM))
                     : ipc::liveness_packed(s.owner.load(std::memory_order_relaxed)) != ipc::Liveness::kDead)
      return false;
    dead = &s;
    seen = st;
  }
  if (dead == nullptr) return false;
  const std::uint64_t mine = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(::getpid())) << 32) | kSlotRolling;
  if (!dead->state.compare_exchange_strong(seen, mine, std::memory_order_acq_rel)) return false;
  // Every step of a roll can be done again with the same result, and the
  // tail is still rolling (the last step, which releases it, is a CAS). A
  // dead roller that had got past its waits is followed straight on; one
  // that had not is waited for again, and undone at the deadline (see roll()).
  std::int32_t stalled = 0;
  if (header_->tail.load(std::memory_order_acquire) == rolling_tail)
    (void)roll(dead->tail.load(std::memory_order_relaxed), deadline_ns, &stalled, /*redo=*/true);
  dead->state.store(kSlotIdle, std::memory_order_release);
  dead->owner.store(0, std::memory_order_release);
  return true;
}

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
    // Release: pairs with claim()'s acquire loads of the tail.
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
  opened->base_offset.store(sealed->base_offset.load(std::memory_order_relaxed) + count, std::memory_order_relaxed);
  // gen's producers cleaned [0, end) of gen+2; finish it.
  clean(data(gen + 2) + end, capacity - end);
  // Retire gen+3's segment before gen+1's producers start cleaning it: readers
  // of its old bytes see the new generation (their check after reading).
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
  // finished twice (rescue_roll()) releases the tail once.
  std::uint64_t rolling = t | kRolling;
  (void)header_->tail.compare_exchange_strong(rolling, make_tail(gen + 1, 0, 0), std::memory_order_release,
                                              std::memory_order_relaxed);
  notify();
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

void PartitionRing::index_frame(std::uint64_t generation, std::uint32_t position, std::uint32_t end,
                                std::int64_t offset, std::int64_t timestamp_ns) noexcept {
  const std::uint32_t interval = index_interval_;
  const std::uint32_t boundary = (position + interval - 1) & ~(interval - 1);
  IndexEntry* entries = index(generation);
  for (std::uint32_t at = boundary; at < end; at += interval) {
    IndexEntry& e = entries[at / interval];
    const std::uint64_t tag_position = (std::uint64_t{generation_tag(generation)} << 32) | position;
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
    index_frame(claim.generation, claim.position, end, claim.first_offset, frame_timestamp(claim.data, word));
  // Publishes the frame; pairs with the acquire load in read()/readable().
  commit_word(claim.data).store(word, std::memory_order_release);
  // The claim is written and its cleaning done. Pairs with settle_claims()'s
  // acquire load of the slot state.
  claim.slot->state.store(kSlotIdle, std::memory_order_release);
}

// ---------------------------------------------------------------- readers

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
    if (h->generation.load(std::memory_order_relaxed) != c.generation) {
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
      // Pairs with roll()'s release store of `sealed` (before the END word).
      const std::uint64_t sealed = h->sealed.load(std::memory_order_acquire);
      if (static_cast<std::uint64_t>(c.next_offset) != h->base_offset.load(std::memory_order_relaxed) + (sealed >> 32) ||
          c.position != static_cast<std::uint32_t>(sealed)) {
        // Not where the seal says the records end. Unless the segment was
        // reused meanwhile (the seal cleared), the cursor or the headers are damaged.
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
    // until the slot's next generation is sealed.
    if (segment_header(cursor.generation)->sealed.load(std::memory_order_acquire) != 0) return true;
  } else {
    if (committed(load_commit(data(cursor.generation) + cursor.position))) return true;
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  return segment_header(cursor.generation)->generation.load(std::memory_order_relaxed) != cursor.generation;
}

bool PartitionRing::sealed_before(std::uint64_t generation) const noexcept {
  if (generation == 0 || !generation_live(generation - 1)) return true;
  // Pairs with roll()'s release store of `sealed` (before the generation opens).
  return segment_header(generation - 1)->sealed.load(std::memory_order_acquire) != 0;
}

bool PartitionRing::generation_live(std::uint64_t generation) const noexcept {
  // Pairs with roll()'s release fence: a caller that read reused bytes sees the new generation.
  std::atomic_thread_fence(std::memory_order_acquire);
  return segment_header(generation)->generation.load(std::memory_order_relaxed) == generation;
}

// ---------------------------------------------------------------- positions

ReadCursor PartitionRing::segment_start(std::uint64_t generation) const noexcept {
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
      else ::sched_yield();
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
    // Pairs with the release store in commit().
    const std::uint64_t tp = entries[k].tag_position.load(std::memory_order_acquire);
    if (static_cast<std::uint32_t>(tp >> 32) != tag) return false;
    const std::uint32_t position = static_cast<std::uint32_t>(tp);
    // Frames start 8-aligned inside the data area; an entry naming anything
    // else is damaged (and a misaligned commit word cannot be loaded atomically).
    if (position % kFrameAlignment != 0 || position + kFrameHeaderSize > data_capacity_) return false;
    const std::uint64_t word = load_commit(d + position);
    if (!committed(word) || is_end_of_segment(word)) return false;
    const std::int64_t offset = entries[k].offset.load(std::memory_order_relaxed);
    const std::int64_t timestamp = entries[k].timestamp_ns.load(std::memory_order_relaxed);
    // A damaged entry (or one being rewritten for a newer generation) fails
    // its check; an offset before the segment's start is damage too. The
    // scan then starts earlier.
    if (entries[k].check.load(std::memory_order_relaxed) != index_check(tp, offset, timestamp) ||
        offset < segment_start(generation).next_offset)
      return false;
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

template <typename Stop>
Result<ReadCursor> PartitionRing::scan(ReadCursor cursor, Stop stop) const {
  constexpr std::size_t kBatch = 64;
  RecordView views[kBatch];
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

constexpr bool is_rolling(std::uint64_t t) { return (t & kPositionMask) == kRolling; }

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
    const std::uint64_t base = h->base_offset.load(std::memory_order_relaxed);
    const auto where = [&] {
      return "segment generation " + str(ug) + " (slot " + str(slot_of) + ") has base_offset " +
             std::to_string(static_cast<std::int64_t>(base));
    };
    if (base >= kMaxOffset) return damaged(where() + ", outside [0, 2^62)");
    if (ug == 0 && base != 0) return damaged(where() + ", but the first generation starts at offset 0");
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
  const std::uint64_t base = segment_header(current)->base_offset.load(std::memory_order_relaxed);
  const std::byte* d = data(current);
  const std::uint32_t tag = generation_tag(current);  // of index entries
  const auto where = [&] {  // built only when a check fails (see check_segments())
    return "the tail word " + hex(tail) + " (generation " + str(current) + ", " + str(count) +
           " records, next at position " + str(end) + ")";
  };
  // Claims only take bytes forward from the tail: a record committed where
  // it points means the tail went back, and the next claim would overwrite
  // it. (A claim made since would have moved the tail on.)
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
    const std::uint64_t x = s.tail.load(std::memory_order_relaxed);
    if (is_rolling(x) || tail_tag(x) != static_cast<std::uint16_t>(generation)) continue;
    const std::uint64_t from = tail_position(x);
    if (from <= position && position < from + static_cast<std::uint32_t>(s.size.load(std::memory_order_relaxed)))
      return true;
  }
  return false;
}

}  // namespace rill::log
