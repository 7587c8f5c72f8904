// PartitionRing: one partition's log, laid out in a Region as a ring of
// fixed-size segments. See doc/log_format.md for the bytes.
//
// Thread safety / invariants
//   - Any number of producers (threads or processes) append concurrently
//     without a lock: claim (one CAS on the tail word) -> write in place ->
//     commit (one release store of the record's commit word).
//   - Any number of readers read concurrently, each with its own ReadCursor;
//     readers never write to the ring except to sleep on its doorbell.
//   - Offsets are dense: the claim word carries (segment tag, record count,
//     byte position), so one CAS reserves both the bytes and the offsets.
//   - Segment generations only grow. A segment's generation is stored before
//     any byte of that generation is written, so a reader that finds the
//     generation changed after reading knows the bytes it read were reused.
//   - While generation g takes appends, segment g+1 is already zero and
//     segment g+2 is being zeroed by g's producers (range by range, as they
//     write), so a stale word is never mistaken for a commit. A ring of N
//     segments therefore retains N-3 full segments besides the current one.
//   - Every claim is announced in its producer's ClaimSlot before the CAS
//     that makes it (state pending, with the tail word it CASes from),
//     marked writing once its cleaning of g+2 is done, and retired after its
//     last frame is committed (idle). The roll out of generation g+1 waits
//     until no claim of g is still pending (cleaning), so that g+2 opens
//     clean; the roll that retires a segment waits until no claim of the
//     generation leaving it is outstanding at all, so that no frame lands in
//     reused bytes. A claim whose owner process is dead (pid + start time,
//     see ipc/liveness.h) is turned into an abandoned frame covering its
//     offsets - by such a roller, or by a reader stuck behind it
//     (recover_abandoned()) - instead of being waited for; a live owner, even
//     a stopped one, is always waited for.
//
// The ring does not own its memory; the Region it views must outlive it.
//
// The implementation, one concern a file: ring_claim.cc (the lease, claim,
// roll, commit), ring_read.cc (read, positions, seek), ring_recovery.cc (dead
// producers' claims and rolls), ring_slots.cc (claim and reader slots),
// ring_setup.cc (geometry, create, attach), ring_check.cc (integrity), and
// the private ring_words.h (word encodings and layout, inline).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/log/doorbell.h"
#include "core/log/frame_codec.h"
#include "core/log/record_format.h"
#include "ipc/liveness.h"
#include "rill/record.h"
#include "rill/status.h"
#include "rill/wait.h"

namespace rill::log {

inline constexpr std::uint64_t kPartitionMagic = 0x315452415050'4c52ull;  // "RLPPART1" in memory order
// 2: SegmentHeader::written; 3: claim slots (abandoned claims), `written` retired;
// 4: compact record and batch frames (record_format.h), index entries with offsets;
// 5: durable partitions (start offset, the flush lease and progress words);
// 6: the flush_wanted doorbell and the deleted word.
inline constexpr std::uint32_t kPartitionVersion = 6;
inline constexpr std::uint32_t kMinSegmentCount = 4;
inline constexpr std::uint64_t kMaxSegmentDataBytes = 1ull << 30;
inline constexpr std::uint32_t kMaxRecordsPerSegment = (1u << 20) - 1;
inline constexpr std::uint64_t kUnusedGeneration = ~0ull;
inline constexpr std::uint32_t kClaimSlots = 1024;
inline constexpr std::uint32_t kReaderSlots = 256;
// Bounds no sound ring reaches (2^62 records, or 2^56 rolls: two millennia at
// a roll per microsecond): a base offset or current_generation beyond them is
// damage, and sums of them with counts cannot overflow.
inline constexpr std::uint64_t kMaxOffset = 1ull << 62;
inline constexpr std::uint64_t kMaxGeneration = 1ull << 56;
// How long a producer waits on a rolling tail that no process announces
// (wedged()) before claim() gives up with kCorrupt. A live roll is always
// announced, so this is damage, not a slow roller.
inline constexpr std::int64_t kWedgedPatienceNs = 1'000'000'000;
// How long claim() waits, by default, for a roll that a live process's claim
// holds back (a stopped or hung producer: it is never taken for dead) before
// giving up with kStalled. Producers pass their own (ProducerOptions::max_block).
inline constexpr std::int64_t kDefaultStallPatienceNs = 10'000'000'000;
// How long a reader or the reaper finishing a dead roller's roll waits for
// the claims it needs before undoing the roll (the next producer redoes it).
inline constexpr std::int64_t kRescuePatienceNs = 100'000'000;
// How long seek() waits on a claimed, uncommitted record before it looks at
// the claiming process (abandoning the claim if that process is dead), and
// between looks. Consumers have their own (ConsumerOptions).
inline constexpr std::int64_t kSeekAbandonPatienceNs = 10'000'000;
// The header page, then the claim slots (64 KiB), then the reader slots (16 KiB).
inline constexpr std::size_t kClaimSlotsOffset = 4096;
inline constexpr std::size_t kReaderSlotsOffset = kClaimSlotsOffset + std::size_t{kClaimSlots} * 64;
inline constexpr std::size_t kPartitionHeaderBytes = kReaderSlotsOffset + std::size_t{kReaderSlots} * 64;

struct alignas(64) PartitionHeader {
  // Immutable after init; `magic` is stored last (release) and acquired by attach().
  std::atomic<std::uint64_t> magic;
  std::uint32_t version;
  std::uint32_t segment_count;
  std::uint64_t segment_bytes;   // whole segment: header, index, data
  std::uint64_t data_start;      // where data begins inside a segment
  std::uint64_t data_capacity;   // data bytes per segment (multiple of 8)
  std::uint32_t index_interval;  // data bytes per index entry
  std::uint32_t index_entries;   // index entries per segment
  std::uint64_t region_bytes;
  std::uint32_t block_on_readers;  // 1: overflow=block
  std::uint32_t block_timeout_ms;
  // Producers' claim word: [63..48] segment tag, [47..28] records, [27..0] position/8.
  alignas(64) std::atomic<std::uint64_t> tail;
  // 0, or the process (ipc::ProcessId::packed()) of the producer holding the
  // partition's exclusive lease (ProducerOptions::exclusive); on the tail's
  // line, which every claim reads anyway.
  std::atomic<std::uint64_t> exclusive_owner;
  // Full generation of the segment taking appends; stored by the roller before the tail.
  alignas(64) std::atomic<std::uint64_t> current_generation;
  alignas(64) Doorbell own_doorbell;  // used when no topic doorbell is given
  // How many claim slots have ever been taken: scans stop there. Only grows
  // (fetch_max-like CAS by a producer taking a slot).
  alignas(64) std::atomic<std::uint32_t> claim_slots_used;
  // ---- durable partitions (doc/log_format.md, "Durable partitions")
  // Immutable after init, like the geometry above.
  alignas(64) std::int64_t start_offset;  // generation 0's base offset (a ring rebuilt from files starts at their end)
  std::uint32_t durable;                  // 1: the records go to files, and rolls wait for them to be written
  // Not immutable: 0, then 1 once the topic is deleted (set before its files
  // are removed): a flusher of a process that still maps the partition
  // writes nothing more, and its rolls no longer wait for the files.
  std::atomic<std::uint32_t> deleted;
  // The flush lease: 0, or ipc::ProcessId::packed() of the process that
  // writes this partition's files (one at a time; a dead holder's lease is
  // taken over).
  alignas(64) std::atomic<std::uint64_t> flusher;
  // Every offset below `written_offset` is in the files (handed to the
  // kernel), below `durable_offset` on stable storage. Only the lease holder
  // stores them, and they only grow.
  std::atomic<std::int64_t> written_offset;
  std::atomic<std::int64_t> durable_offset;
  // The highest offset a producer waits to see written (fetch-max), and to
  // see durable: the flusher's work list.
  std::atomic<std::int64_t> write_requested;
  std::atomic<std::int64_t> sync_requested;
  // Producers sleep here for the flusher's progress.
  alignas(64) Doorbell flush_bell;
  // The lease holder's flusher thread sleeps here for requests (a producer or
  // roll in another process that may not write the files itself calls it).
  alignas(64) Doorbell flush_wanted;
};
static_assert(offsetof(PartitionHeader, tail) == 64);
static_assert(offsetof(PartitionHeader, start_offset) == 320);
static_assert(offsetof(PartitionHeader, flusher) == 384);
static_assert(offsetof(PartitionHeader, flush_bell) == 448);
static_assert(offsetof(PartitionHeader, flush_wanted) == 512);
static_assert(offsetof(PartitionHeader, exclusive_owner) == 72);
static_assert(offsetof(PartitionHeader, current_generation) == 128);
static_assert(sizeof(PartitionHeader) <= kPartitionHeaderBytes);

struct alignas(64) SegmentHeader {
  std::atomic<std::uint64_t> generation;   // which generation these bytes hold (or will hold)
  std::atomic<std::uint64_t> base_offset;  // offset of the first record; valid once generation is open
  std::atomic<std::uint64_t> sealed;       // (records << 32 | end position) once full; 0 while open
  std::uint8_t pad0[104];  // zero: the header fills two cache lines
};
static_assert(sizeof(SegmentHeader) == 128);

// The states of a ClaimSlot (its `state` word: [7..0] state, [63..32] the
// pid of the process abandoning the claim, in kSlotAbandoning). The word has
// room for a pid only, not a start time: that pid is judged by
// ipc::pid_exists(), the pid-only check (ipc/liveness.h says why it will do).
inline constexpr std::uint64_t kSlotIdle = 0;        // no claim outstanding
inline constexpr std::uint64_t kSlotPending = 1;     // about to CAS the tail from `tail` (or did; cleaning g+2)
inline constexpr std::uint64_t kSlotWriting = 2;     // CASed from `tail` and cleaned g+2; frames being written
inline constexpr std::uint64_t kSlotAbandoning = 3;  // its owner is dead; a process is abandoning the claim
inline constexpr std::uint64_t kSlotRolling = 4;     // not a claim: rolling the segment whose tail was `tail`
                                                     // (bits 32-63: the pid finishing a dead roller's roll)

// One producer's announcement of its claim on one partition. A line each:
// only its owner writes it on the hot path.
struct alignas(64) ClaimSlot {
  std::atomic<std::uint64_t> owner;  // 0: free; else ipc::ProcessId::packed() of the producer's process
  std::atomic<std::uint64_t> state;
  std::atomic<std::uint64_t> tail;   // the tail word the claim CASes (or CASed) from
  std::atomic<std::uint64_t> size;   // bytes | records << 32
  std::uint8_t pad[32];
};
static_assert(sizeof(ClaimSlot) == 64);

// A registered reader (every Consumer, per assigned partition): who it is and
// how far it has read, for overflow=block and for `rill topic describe`.
struct alignas(64) ReaderSlot {
  std::atomic<std::uint64_t> owner;       // 0: free; else ipc::ProcessId::packed()
  std::atomic<std::int64_t> position;     // the reader is done with every offset before this one
  std::atomic<std::int64_t> registered_ns;  // CLOCK_REALTIME when it registered
  std::uint8_t pad[40];
};
static_assert(sizeof(ReaderSlot) == 64);

// Sparse index: entry k names the frame that covers data byte k*interval.
// Record frames do not store their offset, so seek trusts the entry's: the
// check word (index_check()) makes a damaged entry one seek ignores.
struct IndexEntry {
  std::atomic<std::uint64_t> tag_position;  // [63..32] generation tag, [31..0] position; stored last
  std::atomic<std::int64_t> offset;         // the frame's first offset
  std::atomic<std::int64_t> timestamp_ns;   // the frame's first record's timestamp
  std::atomic<std::uint64_t> check;         // index_check() of the three words above
};
static_assert(sizeof(IndexEntry) == 32);

// A 64-bit mix of an index entry's words (not a cryptographic hash: it
// catches damage, as the frames' checksums do).
inline constexpr std::uint64_t index_check(std::uint64_t tag_position, std::int64_t offset, std::int64_t timestamp) {
  std::uint64_t h = tag_position * 0x9E3779B97F4A7C15ull;
  h ^= static_cast<std::uint64_t>(offset) + 0xC2B2AE3D27D4EB4Full + (h << 6) + (h >> 2);
  h ^= static_cast<std::uint64_t>(timestamp) + 0x165667B19E3779F9ull + (h << 6) + (h >> 2);
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  return h ^ (h >> 33);
}

struct PartitionGeometry {
  std::uint64_t segment_bytes = 4ull << 20;  // per segment, including header and index
  std::uint32_t segment_count = 8;
  std::uint32_t index_interval = 4096;
  // Overflow::kBlock (see rill/topic.h): before a roll that would reuse bytes a
  // live registered reader has not read, producers wait up to this long.
  bool block_on_readers = false;
  std::uint32_t block_timeout_ms = 5000;
  // Durable partitions: records go to files, written by the flush-lease
  // holder; a roll waits until the bytes it would reuse are written.
  bool durable = false;
  // The first offset (generation 0's base): 0 for a new partition, the end
  // of its files for one rebuilt from them.
  std::int64_t start_offset = 0;

  // Checks the numbers; kInvalidArgument with the reason otherwise.
  Status validate() const;
  // Bytes of the region a partition of this geometry needs.
  std::uint64_t region_bytes() const;
  // Data bytes per segment.
  std::uint64_t data_capacity() const;
};

// Where a producer may write: `records` consecutive offsets from first_offset,
// occupying [position, position + bytes) of one segment, as one frame (a
// record frame, or a batch frame for several records).
struct Claim {
  ClaimSlot* slot = nullptr;  // the producer's slot, retired by the claim's last commit
  std::byte* data = nullptr;  // first frame
  std::int64_t first_offset = 0;
  std::uint64_t generation = 0;
  std::uint32_t position = 0;
  std::uint32_t bytes = 0;
  std::uint32_t records = 0;
  std::int32_t stalled_by = 0;  // kStalled: the pid of a live claim the roll waits for (0: unknown);
                                // kLeased: the pid holding the exclusive lease
};

// How a claim moves the tail (ProducerOptions::exclusive).
enum class ClaimMode : std::uint8_t {
  kShared,      // a CAS; refused (kLeased) while a live producer holds the partition's exclusive lease
  kLeaseFirst,  // the lease holder's first claim: still a CAS, so that the tail moves past every value a
                // shared producer may have loaded before the lease was taken (its CAS then fails, and its
                // retry sees the lease)
  kExclusive,   // the lease holder's later claims: a plain store, no read-modify-write
};

enum class ClaimStatus : std::uint8_t {
  kOk,
  kTooLarge,
  kBlocked,  // overflow=block: a live reader kept the ring from rolling for block_timeout_ms
  kCorrupt,  // the ring's words contradict each other (damaged region): the tail stays rolling and no
             // process announces the roll (wedged()), or the claim or roll failed a check (check()
             // names which); nothing was written
  kStalled,  // the ring must roll, and a live process's claim held the roll back for the patience given
  kLeased,   // another live producer holds the partition's exclusive lease (or, kExclusive: this
             // producer no longer does); nothing was written
  kFlushBehind,  // durable: the ring must roll, and the files did not take the bytes it would reuse
                 // within the patience given (stalled_by: the flusher's pid, 0 if none); nothing written
};

// Where a reader is: the next record it will read, `next_offset`, in the
// frame at `position`. A reader that took only some of a batch's records
// stays on its frame, `inner` records into it.
// 24 bytes without padding: read() copies it in and out on every call.
struct ReadCursor {
  std::uint64_t generation = 0;
  std::int64_t next_offset = 0;
  std::uint32_t position = 0;
  std::uint32_t inner = 0;
};

enum class ReadStatus : std::uint8_t {
  kOk,           // `count` records (possibly 0: nothing new)
  kOutOfRange,   // the ring has reused the cursor's bytes; seek again
  kCorrupt,      // a length or offset failed its bounds check
  kChecksum,     // a frame failed its checksum (read() with verify only)
};

struct ReadBatch {
  std::size_t count = 0;
  std::uint64_t abandoned = 0;  // offsets skipped: abandoned claims between the records read
  ReadStatus status = ReadStatus::kOk;
  std::uint64_t generation = 0;  // of the segment the records came from
};

// n % d without a division, for n < 2^32 and d > 0 (Lemire, Kaser and Kurz,
// "Faster remainder by direct computation", 2019): with M = ceil(2^64 / d)
// taken mod 2^64, n % d = ((M * n mod 2^64) * d) >> 64. d = 1 wraps M to 0,
// which gives 0, as it should.
constexpr std::uint64_t remainder_magic(std::uint32_t d) { return ~std::uint64_t{0} / d + 1; }
constexpr std::uint64_t remainder_by_magic(std::uint64_t n, std::uint32_t d, std::uint64_t magic) {
  __extension__ using U128 = unsigned __int128;
  return static_cast<std::uint64_t>((static_cast<U128>(magic * n) * d) >> 64);
}

class PartitionRing {
 public:
  // Lays out a fresh partition in `region` (all zero) and publishes it.
  // REQUIRES: region.size() >= geometry.region_bytes(); no other user yet.
  static Result<PartitionRing> create(std::span<std::byte> region, const PartitionGeometry& geometry,
                                      std::int32_t partition_id, Doorbell* doorbell);
  // Views a partition someone else created, checking its header.
  static Result<PartitionRing> attach(std::span<std::byte> region, std::int32_t partition_id,
                                      Doorbell* doorbell);

  PartitionRing() = default;

  std::int32_t id() const noexcept { return id_; }
  std::uint64_t data_capacity() const noexcept { return data_capacity_; }
  std::uint32_t segment_count() const noexcept { return segment_count_; }
  std::uint64_t segment_bytes() const noexcept { return segment_bytes_; }
  bool blocks_on_readers() const noexcept { return header_->block_on_readers != 0; }
  std::uint32_t block_timeout_ms() const noexcept { return header_->block_timeout_ms; }
  // Largest frame (header + key + value + headers) one record may have.
  std::uint32_t max_frame_bytes() const noexcept;

  // ---- producer side: no allocation, lock, exception or syscall unless a reader sleeps.

  // Takes a claim slot for a producer of process `owner` (cold path): a free
  // one, or one whose owner is dead and holds no claim. kResourceExhausted
  // when all kClaimSlots are in use by live producers; kCorrupt (check())
  // when the ring is damaged, taking none.
  Result<ClaimSlot*> acquire_slot(const ipc::ProcessId& owner) noexcept;
  // Gives a slot back. REQUIRES: it holds no claim (state idle).
  static void release_slot(ClaimSlot* slot) noexcept;

  // Reserves `records` consecutive offsets and `bytes` (the aligned size of
  // the one frame that will hold them) in one atomic step, rolling to the next segment if needed,
  // announced in `slot` (see the class comment).
  // kTooLarge when `bytes` exceeds a segment or kMaxFrameBytes, or `records`
  // the record limit, or when `bytes` is less than a frame header or than
  // kMinRecordBytes per record;
  // kCorrupt, writing nothing, when the tail has been wedged() for
  // kWedgedPatienceNs, when the words the claim steers by contradict each
  // other (the segment the tail names is not the current one, its base
  // offset is out of range, a record is already committed where the tail
  // points: it went back), or when the segment about to be sealed by a roll
  // fails check()'s invariants; kStalled
  // when the ring must roll and, for about `patience_ns`, a live process's
  // outstanding claim held the roll back (out->stalled_by names it): the
  // roll is undone, nothing is written, and a later claim tries again.
  // Also zeroes the same byte range two segments ahead (cleaning ahead).
  // REQUIRES: slot came from acquire_slot() and holds no claim.
  // `mode`: kLeaseFirst and kExclusive only while this process holds the
  // lease (take_lease()) and only from the one producer that took it.
  [[nodiscard]] ClaimStatus claim(std::uint32_t bytes, std::uint32_t records, ClaimSlot* slot, Claim* out,
                                  std::int64_t patience_ns = kDefaultStallPatienceNs,
                                  ClaimMode mode = ClaimMode::kShared) noexcept;
  // The exclusive lease (ProducerOptions::exclusive): one producer of the
  // partition claims with plain stores while every other producer's claims
  // are refused (kLeased). Taking it: kOk, or kLeased with the holder's pid
  // in *holder while a live process holds it (this one included: one lease
  // per partition, not per process). A dead holder's lease is taken over;
  // its last claim is abandoned like any dead producer's.
  [[nodiscard]] ClaimStatus take_lease(const ipc::ProcessId& owner, std::int32_t* holder) noexcept;
  // Gives the lease back if `owner` holds it.
  void release_lease(const ipc::ProcessId& owner) noexcept;
  // The pid of the live holder of the lease, 0 if none. Not a pure read: a
  // dead holder's word is cleared on the way, as a shared claim would.
  std::int32_t lease_holder() noexcept;
  // Publishes the claim's frame, fully written at claim.data: indexes it if
  // it crosses an index boundary, release-stores its commit word `word`
  // (commit_word_of()), and retires the claim from its slot. One store makes
  // a whole batch visible.
  void commit(const Claim& claim, std::uint64_t word) noexcept;
  // Wakes sleeping readers, if any. Call after the last commit of a send.
  void notify() noexcept { ring_doorbell(*bell_); }

  // ---- reader side

  // Reads up to `max` committed records at the cursor into `out`, advancing it.
  // Stops at a segment boundary so that one generation check covers the batch.
  // `verify`: check each frame's checksum first (once per frame: a batch's
  // records share one); a frame that fails is kChecksum, like kCorrupt.
  [[nodiscard]] ReadBatch read(ReadCursor& cursor, RecordView* out, std::size_t max, bool verify = false) const noexcept;
  // True if a committed record (or segment end) waits at the cursor.
  bool readable(const ReadCursor& cursor) const noexcept;
  // True if a claim covers the cursor (latest() is beyond it) though nothing
  // is readable there: a reader waits on an uncommitted record.
  bool blocked(const ReadCursor& cursor) const noexcept;
  // Turns the claims of generation `generation` whose owner processes are
  // dead into abandoned frames (cold path: reads /proc). Returns how many
  // offsets they covered. A reader calls it after it was blocked() for a
  // while; rollers do the same on their own.
  std::uint64_t recover_abandoned(std::uint64_t generation) noexcept;

  // Registers a reader of process `owner` at `position` (cold path).
  // kResourceExhausted when kReaderSlots live readers are registered.
  Result<ReaderSlot*> register_reader(const ipc::ProcessId& owner, std::int64_t position) noexcept;
  static void unregister_reader(ReaderSlot* slot) noexcept;
  // The reader is done with every offset before `position`. Cheap: one store.
  static void publish_position(ReaderSlot* slot, std::int64_t position) noexcept {
    // Pairs with the acquire load in a blocked producer's check.
    slot->position.store(position, std::memory_order_release);
  }

  // Producers and readers registered here, for `rill topic describe` (cold path).
  struct ProducerInfo {
    ipc::ProcessId owner;  // start time: its low 32 bits only
    std::uint64_t state = kSlotIdle;
    bool alive = false;
  };
  struct ReaderInfo {
    ipc::ProcessId owner;
    std::int64_t position = 0;
    std::int64_t registered_ns = 0;
    bool alive = false;
  };
  std::vector<ProducerInfo> producers() const;
  std::vector<ReaderInfo> readers() const;
  // Frees the producer slots (without a claim) and reader slots of dead
  // processes. Returns how many it freed.
  std::uint32_t reap_dead() noexcept;
  // True if the tail is rolling and no slot announces that roll: nobody can
  // finish it (a damaged region). Producers would wait on it; latest()
  // answers with the end of the segment after a while.
  bool wedged() const noexcept;
  // The slowest live registered reader: its position and pid (pid 0: none).
  std::pair<std::int64_t, std::int32_t> slowest_reader() const;
  // True while the bytes of generation `generation` have not been reused.
  bool generation_live(std::uint64_t generation) const noexcept;
  // Waits until readable(cursor) or the deadline (ns, CLOCK_MONOTONIC; < 0 none).
  // Returns readable(cursor).
  bool wait(const ReadCursor& cursor, WaitStrategy strategy, std::int64_t deadline_ns) const noexcept {
    return wait_on(*bell_, strategy, deadline_ns, [&] { return readable(cursor); });
  }
  // The doorbell this partition rings (shared by a topic's partitions).
  Doorbell& doorbell() const noexcept { return *bell_; }

  // Cursor at the oldest record still retained.
  ReadCursor earliest() const noexcept;
  // Cursor after the last claimed record: the next offset to be produced.
  ReadCursor latest() const noexcept;
  // Cursor at `offset`. kOffsetOutOfRange if it is not retained (or beyond
  // latest); kTimedOut if an earlier record stays uncommitted for a second.
  Result<ReadCursor> seek(std::int64_t offset) const;
  // Cursor at the first record whose timestamp >= timestamp_ns (latest() if
  // none). Exact when timestamps grow with offsets; otherwise approximate.
  Result<ReadCursor> seek_time(std::int64_t timestamp_ns) const;

  std::int64_t earliest_offset() const noexcept { return earliest().next_offset; }
  std::int64_t latest_offset() const noexcept { return latest().next_offset; }

  // ---- durable partitions (ring_flush.cc; doc/log_format.md, "Durable partitions")

  bool durable() const noexcept { return header_->durable != 0; }
  // The topic was deleted (mark_deleted()): its files are gone, or going.
  bool deleted() const noexcept {
    return header_->deleted.load(std::memory_order_acquire) != 0;  // pairs with mark_deleted()'s release
  }
  // By delete_topic(), before it removes the files (cold path).
  void mark_deleted() noexcept { header_->deleted.store(1, std::memory_order_release); }
  std::int64_t start_offset() const noexcept { return header_->start_offset; }

  // The flush lease: the one process that writes this partition's files.
  // True if `owner` holds it now (it was free, its holder was dead, or
  // `owner` held it already); otherwise *holder gets the live holder's pid.
  bool take_flush_lease(const ipc::ProcessId& owner, std::int32_t* holder) noexcept;
  // Gives the lease back if `owner` holds it.
  void release_flush_lease(const ipc::ProcessId& owner) noexcept;
  // The live holder's pid, 0 if none (a dead holder's word is cleared).
  std::int32_t flush_lease_holder() noexcept;

  // Offsets below these are in the files / on stable storage.
  std::int64_t written_offset() const noexcept {
    return header_->written_offset.load(std::memory_order_acquire);  // pairs with publish_flushed()
  }
  std::int64_t durable_offset() const noexcept {
    return header_->durable_offset.load(std::memory_order_acquire);  // pairs with publish_flushed()
  }
  // By the lease holder: the files now hold every offset below `written`,
  // synced below `durable`. Wakes producers waiting for either.
  void publish_flushed(std::int64_t written, std::int64_t durable) noexcept;
  // True if `owner` holds the lease now.
  bool holds_flush_lease(const ipc::ProcessId& owner) const noexcept;
  // By a producer: it waits until `offset` is written (and, with `sync`,
  // durable). Wakes no one: a producer that cannot write the files itself
  // (another process holds the lease) then calls wake_flusher().
  void request_flush(std::int64_t offset, bool sync) noexcept;
  // Wakes the lease holder's flusher thread if it sleeps in
  // wait_flush_request(); costs a full fence and a load when it does not.
  void wake_flusher() noexcept;
  // Wakes producers waiting for progress (wait_flush()) to look again.
  void wake_flush_waiters() noexcept { ring_doorbell_fenced(header_->flush_bell); }
  // What producers wait for: {written up to, durable up to}.
  std::pair<std::int64_t, std::int64_t> flush_requests() const noexcept;
  // True if a producer waits for more than the files hold.
  bool flush_pending() const noexcept {
    const auto [write, sync] = flush_requests();
    return write > written_offset() || sync > durable_offset();
  }
  // By the lease holder's flusher thread: sleeps until flush_pending(),
  // stop(), or the deadline (monotonic ns), without spinning or a fence of
  // every core (sleep_on(): it sleeps every millisecond).
  template <typename Stop>
  bool wait_flush_request(std::int64_t deadline_ns, Stop stop) const noexcept {
    return sleep_on(header_->flush_wanted, deadline_ns, [&] { return stop() || flush_pending(); });
  }
  // Sleeps on the flush doorbell until ready() or the deadline (monotonic ns).
  template <typename Ready>
  bool wait_flush(std::int64_t deadline_ns, Ready ready) const noexcept {
    // No spinning and no fence of every core: the flusher's progress comes
    // a write or an fdatasync later, and many producers may wait at once.
    return sleep_on(header_->flush_bell, deadline_ns, ready);
  }

  // A run of whole committed frames of one generation from `cursor`, for the
  // flusher: bytes it may copy to the files as they are. Advances the
  // cursor past them (into the next generation at a segment's end).
  struct FrameRun {
    const std::byte* bytes = nullptr;
    std::uint32_t size = 0;
    std::int64_t first_offset = 0;  // of the run
    std::int64_t end_offset = 0;    // after the run
    ReadStatus status = ReadStatus::kOk;
  };
  // At most `max_bytes` (but at least one frame if one is committed).
  // kOutOfRange: the cursor's bytes were reused (the files missed them);
  // kCorrupt: a frame does not decode.
  FrameRun frame_run(ReadCursor& cursor, std::uint32_t max_bytes) const noexcept;

  // Something a roll of a durable partition asks to write the files when it
  // must wait for them: the process's flusher (process-local, not shared).
  class FlushHook {
   public:
    virtual ~FlushHook() = default;
    // Writes what it can of this partition now, if this process may (it
    // holds or takes the flush lease); false if it may not.
    virtual bool flush_now(PartitionRing& ring) noexcept = 0;
  };
  void set_flush_hook(FlushHook* hook) noexcept { flush_hook_ = hook; }

  // ---- integrity (cold path: reads only, no lock; O(segment_count) plus at
  // most one index interval of frames and the claim slots)

  // Checks the words producers and readers steer by against the invariants
  // that tie them together (doc/log_format.md, "Invariants"): the tail word
  // and current_generation, each segment's generation, base offset and seal,
  // and the records of the current segment up to the tail. kCorrupt naming
  // the partition, the field and its value if one fails; OK otherwise, also
  // if producers rolled the ring throughout the check (nothing to judge on).
  // attach(), seek() and seek_time() call it.
  Status check() const;
  // check(), and that a reader at `cursor` that finds nothing to read waits
  // for something: a claim some producer announces, or the next record to
  // be claimed at the tail. A reader that waits for nothing (the tail counts
  // records, or covers bytes, that nobody committed or claims) would sleep
  // forever: kCorrupt instead. A cursor in a generation the ring has reused
  // is not judged (read() reports kOutOfRange there).
  Status check(const ReadCursor& cursor) const;

 private:
  // The geometry is read once, here, after create()/attach() validated it:
  // shared memory damaged later cannot make the ring divide by zero or index
  // outside its region.
  PartitionRing(PartitionHeader* header, std::int32_t id, Doorbell* bell)
      : header_(header),
        id_(id),
        bell_(bell),
        segment_count_(header->segment_count),
        segment_magic_(remainder_magic(segment_count_)),
        index_interval_(header->index_interval),
        index_entries_(header->index_entries),
        segment_bytes_(header->segment_bytes),
        data_start_(header->data_start),
        data_capacity_(header->data_capacity) {
    // Before this process rings a doorbell: its producers' fences are light
    // only once sleeping readers' membarriers reach it (log/doorbell.h).
    ipc::enable_light_fences();
  }
  // Where generation `generation`'s segment, index and data lie, and the
  // slots: defined inline in ring_words.h, since the per-record paths in
  // ring_claim.cc and ring_read.cc use them.
  inline std::byte* segment(std::uint64_t generation) const noexcept;
  inline SegmentHeader* segment_header(std::uint64_t generation) const noexcept;
  inline IndexEntry* index(std::uint64_t generation) const noexcept;
  inline std::byte* data(std::uint64_t generation) const noexcept;
  inline std::uint64_t generation_of_tag(std::uint16_t tag) const noexcept;
  // generation % segment_count_, without a 64-bit division for generations
  // below 2^32 (a div costs 40-90 cycles on the Xeons here, and claim and
  // read each needed two).
  inline std::uint64_t segment_index(std::uint64_t generation) const noexcept;
  // Whether the generation before `generation` is sealed (true if its bytes
  // were reused, or there is none): `generation` has opened, by the segment
  // headers' account, which damage to current_generation does not change.
  bool sealed_before(std::uint64_t generation) const noexcept;
  // Rolls from `tail` (its rolling form is in the header). False, with the
  // tail set back to `tail` and nothing changed, if a live claim the roll
  // must wait for is still outstanding at `deadline_ns` (monotonic); then
  // *stalled_by names its owner. `redo`: finishing a dead roller's roll,
  // which goes straight on if that one had got past its waits.
  bool roll(std::uint64_t tail, std::int64_t deadline_ns, std::int32_t* stalled_by, bool redo = false) noexcept;
  inline ClaimSlot* slot(std::uint32_t i) const noexcept;
  inline std::uint32_t slots_used() const noexcept;
  inline ReaderSlot* reader_slot(std::uint32_t i) const noexcept;
  // overflow=block: waits until no live reader still needs the generation
  // the roll out of `generation` would retire. False after the timeout.
  bool await_readers(std::uint64_t generation) noexcept;
  // Durable partitions: waits until the files hold every offset of the
  // generation the roll out of `generation` would retire, flushing through
  // the hook where this process may. False at `deadline_ns` (*stalled_by:
  // the flusher's pid, 0 if none).
  bool await_flush(std::uint64_t generation, std::int64_t deadline_ns, std::int32_t* stalled_by) noexcept;
  // Which claims a roller waits for: those still cleaning ahead, or all.
  enum class Outstanding : std::uint8_t { kCleaning, kAll };
  // Waits until no claim of `generation` is outstanding in that sense,
  // abandoning those of dead owners. Called by the roller. False if one is
  // still outstanding at `deadline_ns` (*stalled_by: its owner's pid).
  bool await_claims(std::uint64_t generation, Outstanding which, std::int64_t deadline_ns,
                    std::int32_t* stalled_by) noexcept;
  // One pass over the slots for claims of `generation`: abandons those of
  // dead owners when check_owners (else counts every claim as live).
  // Returns the number of live claims outstanding; adds abandoned offsets to
  // *abandoned; *live_owner (if not null) gets the pid of one of them.
  std::uint32_t settle_claims(std::uint64_t generation, Outstanding which, bool check_owners,
                              std::uint64_t* abandoned, std::int32_t* live_owner = nullptr) noexcept;
  // A roll whose roller died (the tail stays rolling, announced by a dead
  // owner's kSlotRolling slot) is finished by the caller, or undone if a
  // live claim holds it back past `deadline_ns` (see roll()). Returns true
  // if it took the dead roller's roll over. Called by whoever waits on a
  // rolling tail for long.
  bool rescue_roll(std::uint64_t rolling_tail, std::int64_t deadline_ns) noexcept;
  // The pid of a live claim a roll from `rolling_tail` waits for (0: none seen).
  std::int32_t stalled_by(std::uint64_t rolling_tail) noexcept;
  // Abandons the claim announced in `s` (observed in state `seen`); returns
  // the offsets its abandoned frame covers (0 if another process does it).
  std::uint64_t abandon(ClaimSlot& s, std::uint64_t seen, std::uint64_t tail, std::uint64_t size) noexcept;
  // Index entries for a frame [position, end) of `generation` whose first
  // offset is `offset`.
  void index_frame(std::uint64_t generation, std::uint32_t position, std::uint32_t end, std::int64_t offset,
                   std::int64_t timestamp_ns) noexcept;
  // Walks committed records from `cursor` until stop(view) is true or the
  // log ends. Returns the cursor at the stopping record.
  template <typename Stop>
  Result<ReadCursor> scan(ReadCursor cursor, Stop stop) const;
  ReadCursor segment_start(std::uint64_t generation) const noexcept;
  // check()'s parts, judged on one reading of current_generation and the
  // tail (`current`, `tail`); each returns kCorrupt or OK.
  // Which segments check_segments() looks at: all, or those a roll touches.
  enum class Scope : std::uint8_t { kAll, kRoll };
  Status check_ring(const ReadCursor* cursor) const;
  Status check_segments(std::uint64_t current, std::uint64_t tail, Scope scope) const;
  // The records of the current segment up to the tail's position. `gaps`:
  // also judge an uncommitted record before the tail (false while a roll
  // starts: claims are still being written then).
  Status check_tail_records(std::uint64_t current, std::uint64_t tail, bool gaps) const;
  Status check_cursor(const ReadCursor& cursor, std::uint64_t current, std::uint64_t tail) const;
  // True if a claim slot announces a claim covering `position` of `generation`.
  bool announced(std::uint64_t generation, std::uint64_t position) const noexcept;
  Status damaged(const std::string& what) const;
  ReadCursor index_start(std::uint64_t generation, bool by_time, std::int64_t key) const noexcept;

  PartitionHeader* header_ = nullptr;
  std::int32_t id_ = -1;
  Doorbell* bell_ = nullptr;
  std::uint32_t segment_count_ = 0;
  std::uint64_t segment_magic_ = 0;  // ceil(2^64 / segment_count_), mod 2^64: segment_index()'s multiplier
  std::uint32_t index_interval_ = 0;
  std::uint32_t index_entries_ = 0;
  std::uint64_t segment_bytes_ = 0;
  std::uint64_t data_start_ = 0;
  std::uint64_t data_capacity_ = 0;
  FlushHook* flush_hook_ = nullptr;
};

}  // namespace rill::log
