#include "core/client/topic_rings.h"
#include "rill/producer.h"

#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <new>

#include "core/format/codec.h"
#include "core/log/frame_codec.h"
#include "core/log/partition_ring.h"
#include "ipc/clock.h"
#include "ipc/liveness.h"

namespace rill {

std::int64_t now_ns() noexcept { return ipc::epoch_ns(); }

// A batch's records encoded off the ring and compressed, before its claim.
// The buffers grow to the largest batch seen (warm-up), then stay.
struct Producer::BatchScratch {
  format::Compressor compressor;
  std::unique_ptr<std::byte[]> records;  // encoded
  std::size_t records_capacity = 0;
  std::unique_ptr<std::byte[]> packed;   // compressed
  std::size_t packed_capacity = 0;

  // Room for `n` bytes in `buffer`; false if memory is short.
  static bool reserve(std::unique_ptr<std::byte[]>& buffer, std::size_t& capacity, std::size_t n) noexcept {
    if (capacity >= n) return true;
    const std::size_t grown = std::max(n, 2 * capacity);
    buffer.reset(new (std::nothrow) std::byte[grown]);
    capacity = buffer ? grown : 0;
    return buffer != nullptr;
  }
};

Producer::Producer(std::shared_ptr<Topic> topic, const ProducerOptions& options)
    : topic_(std::move(topic)),
      partitions_(topic_->partition_count()),
      // Per partition: one slot for send()/send_batch(), one for reserve().
      slots_(new log::ClaimSlot*[2 * static_cast<std::size_t>(partitions_)]()),
      max_block_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::clamp(options.max_block, std::chrono::milliseconds(0), std::chrono::milliseconds(86'400'000)))
                        .count()),
      rings_(new log::PartitionRing*[static_cast<std::size_t>(partitions_)]),
      leases_(options.exclusive ? new log::ClaimMode[static_cast<std::size_t>(partitions_)]() : nullptr),
      compression_(options.compression),
      durability_(options.durability),
      scratch_(format::is_codec(options.compression) ? std::make_unique<BatchScratch>() : nullptr) {
  for (std::int32_t p = 0; p < partitions_; ++p) rings_[static_cast<std::size_t>(p)] = &client::ring_of(*topic_, p);
  (void)ipc::epoch_ns();  // the clock's one-off calibration (~100 us) here, not on the first send
}

Producer::~Producer() { release_slots(); }

Producer::Producer(Producer&& other) noexcept
    : topic_(std::move(other.topic_)),
      partitions_(other.partitions_),
      round_robin_(other.round_robin_),
      slots_(std::move(other.slots_)),
      max_block_ns_(other.max_block_ns_),
      rings_(std::move(other.rings_)),
      leases_(std::move(other.leases_)),
      compression_(other.compression_),
      durability_(other.durability_),
      scratch_(std::move(other.scratch_)) {}

Producer& Producer::operator=(Producer&& other) noexcept {
  if (this != &other) {
    release_slots();
    topic_ = std::move(other.topic_);
    partitions_ = other.partitions_;
    round_robin_ = other.round_robin_;
    slots_ = std::move(other.slots_);
    max_block_ns_ = other.max_block_ns_;
    rings_ = std::move(other.rings_);
    leases_ = std::move(other.leases_);
    compression_ = other.compression_;
    durability_ = other.durability_;
    scratch_ = std::move(other.scratch_);
  }
  return *this;
}

void Producer::release_slots() noexcept {
  if (leases_) {
    // After the last claim: a send commits before it returns (a reservation
    // not yet published stays announced in its slot, as for any producer).
    for (std::int32_t p = 0; p < partitions_; ++p)
      if (claim_mode(p) != log::ClaimMode::kShared) rings_[static_cast<std::size_t>(p)]->release_lease(ipc::self());
    leases_.reset();
  }
  if (!slots_) return;
  // A reservation still pending (its REQUIRES broken) keeps its slot: the
  // slot goes on announcing the claim until the reservation ends, and no
  // other producer takes a slot with a claim in it. Relaxed: the slots are
  // this producer's own, idled by its commits (or by commits the caller
  // synchronised with before destroying it).
  for (std::size_t i = 0; i < 2 * static_cast<std::size_t>(partitions_); ++i)
    if (slots_[i] != nullptr && slots_[i]->state.load(std::memory_order_relaxed) == log::kSlotIdle)
      log::PartitionRing::release_slot(slots_[i]);
  slots_.reset();
}

log::ClaimMode Producer::claim_mode(std::int32_t p) const noexcept {
  return leases_ ? leases_[static_cast<std::size_t>(p)] : log::ClaimMode::kShared;
}

void Producer::claimed(std::int32_t p, log::ClaimMode mode) noexcept {
  if (mode == log::ClaimMode::kLeaseFirst) [[unlikely]]
    leases_[static_cast<std::size_t>(p)] = log::ClaimMode::kExclusive;
}

Status Producer::blocked(std::int32_t p) const {
  const log::PartitionRing& ring = *rings_[static_cast<std::size_t>(p)];
  const auto [position, pid] = ring.slowest_reader();
  const std::string who = pid != 0 ? "reader process " + std::to_string(pid) + " at offset " + std::to_string(position)
                                   : "a reader";
  return Status(Code::kTimedOut, "topic '" + topic_->name() + "' partition " + std::to_string(p) +
                                     " is full (overflow=block) and " + who + " has not read on for " +
                                     std::to_string(ring.block_timeout_ms()) +
                                     " ms; speed up or stop that consumer, or use overflow=retain");
}

Status Producer::claim_failed(log::ClaimStatus status, std::uint64_t bytes, std::int32_t partition,
                              const log::Claim& claim) const {
  switch (status) {
    case log::ClaimStatus::kBlocked: return blocked(partition);
    case log::ClaimStatus::kStalled: {
      const std::string who = claim.stalled_by > 0 ? "producer process " + std::to_string(claim.stalled_by)
                                                   : "a live producer";
      return Status(Code::kTimedOut,
                    "topic '" + topic_->name() + "' partition " + std::to_string(partition) + " must roll to a new " +
                        "segment, and " + who + " has held a claim the roll waits for, for over " +
                        std::to_string(max_block_ns_ / 1'000'000) +
                        " ms (stopped or hung? a live process is never skipped); nothing was written. Its record "
                        "lands when it resumes, or is skipped once it dies: see `rill topic describe`");
    }
    case log::ClaimStatus::kLeased: return leased(partition, claim.stalled_by);
    case log::ClaimStatus::kFlushBehind: {
      const std::string who = claim.stalled_by > 0 ? "process " + std::to_string(claim.stalled_by) + ", which writes them,"
                                                   : "no process";
      return Status(Code::kTimedOut,
                    "topic '" + topic_->name() + "' partition " + std::to_string(partition) + " must roll to a new " +
                        "segment, and its files do not yet hold the records the roll would overwrite in memory: " +
                        who + " has not written them for " + std::to_string(max_block_ns_ / 1'000'000) +
                        " ms (disk slow or full? see `rill topic describe`); nothing was written");
    }
    case log::ClaimStatus::kCorrupt:
      // Which word is damaged, if the ring's checks can tell; else the one
      // damage claim() finds by itself: a roll nobody announces.
      if (Status s = client::ring_of(*topic_, partition).check(); !s)
        return Status(Code::kCorrupt, "topic '" + topic_->name() + "': " + s.message() +
                                          "; nothing was written. Delete and recreate the topic");
      return Status(Code::kCorrupt, "topic '" + topic_->name() + "' partition " + std::to_string(partition) +
                                        " is stuck mid-roll with no process to finish it (damaged shared memory); "
                                        "nothing was written. Delete and recreate the topic");
    default: return too_large(bytes, partition);
  }
}

Status Producer::bad_compression() const {
  return Status(Code::kInvalidArgument, "ProducerOptions::compression " +
                                            std::to_string(static_cast<unsigned>(compression_)) +
                                            " is not none, gzip, snappy, lz4 or zstd; nothing was sent");
}

Status Producer::pending_reservation(std::int32_t partition) const {
  return Status(Code::kInvalidArgument,
                "topic '" + topic_->name() + "' partition " + std::to_string(partition) +
                    ": this producer's last reservation there is still pending; commit() or abort() it first "
                    "(a producer holds one reservation per partition at a time)");
}

Status Producer::leased(std::int32_t partition, std::int32_t holder) const {
  const std::string where = "topic '" + topic_->name() + "' partition " + std::to_string(partition);
  if (holder <= 0)  // this producer's own lease, cleared under it (damaged shared memory)
    return Status(Code::kLeased, where + ": this exclusive producer's lease was taken from it; nothing was written. "
                                         "Destroy the producer and create a new one");
  const bool here = holder == ipc::self().pid;
  return Status(Code::kLeased, where + " is leased to an exclusive producer (ProducerOptions::exclusive) in " +
                                   (here ? "this process" : "process " + std::to_string(holder)) +
                                   "; nothing was written. Its lease ends when that producer is destroyed or its "
                                   "process dies");
}

Status Producer::take_slot(std::size_t index) noexcept {
  const auto p = static_cast<std::int32_t>(index % static_cast<std::size_t>(partitions_));
  if (claim_mode(p) == log::ClaimMode::kShared && leases_) {
    // The lease before the slot: a producer that cannot have the partition takes nothing there.
    std::int32_t holder = 0;
    if (rings_[static_cast<std::size_t>(p)]->take_lease(ipc::self(), &holder) != log::ClaimStatus::kOk)
      return leased(p, holder);
    leases_[static_cast<std::size_t>(p)] = log::ClaimMode::kLeaseFirst;
  }
  auto slot = rings_[static_cast<std::size_t>(p)]->acquire_slot(ipc::self());
  if (!slot) {
    // A lease taken for this slot goes back if the partition's other slot
    // (send or reserve) is not taken either: a producer that cannot claim
    // there must not hold the partition from everyone else.
    const std::size_t n = static_cast<std::size_t>(partitions_);
    const std::size_t other = index < n ? index + n : index - n;
    if (claim_mode(p) == log::ClaimMode::kLeaseFirst && slots_[other] == nullptr) {
      rings_[static_cast<std::size_t>(p)]->release_lease(ipc::self());
      leases_[static_cast<std::size_t>(p)] = log::ClaimMode::kShared;
    }
    return slot.status().with_context("topic '" + topic_->name() + "'");
  }
  slots_[index] = *slot;
  return Status::ok();
}

std::int32_t Producer::partition_for(std::string_view key) const noexcept {
  return static_cast<std::int32_t>(XXH3_64bits(key.data(), key.size()) % static_cast<std::uint64_t>(partitions_));
}

std::int32_t Producer::choose(const std::optional<std::string_view>& key, std::int32_t explicit_partition) noexcept {
  if (explicit_partition >= 0) return explicit_partition;
  if (partitions_ == 1) return 0;  // and no write to round_robin_ on the hot path
  if (key) return partition_for(*key);
  return next_round_robin();
}

std::int32_t Producer::next_round_robin() noexcept {
  // A compare instead of `% partitions_`: an integer division costs more than
  // the rest of choosing a partition.
  const std::int32_t p = round_robin_;
  round_robin_ = p + 1 == partitions_ ? 0 : p + 1;
  return p;
}

Status Producer::too_large(std::uint64_t bytes, std::int32_t partition) const {
  return Status(Code::kRecordTooLarge,
                "record of " + std::to_string(bytes) + " bytes (with its frame header) does not fit a segment of topic '" +
                    topic_->name() + "' (at most " + std::to_string(client::ring_of(*topic_, partition).max_frame_bytes()) +
                    " bytes); create the topic with a larger --segment-size");
}

namespace {
Status bad_partition(std::int32_t p, std::int32_t n) {
  return Status(Code::kInvalidArgument,
                "partition " + std::to_string(p) + " does not exist (the topic has " + std::to_string(n) + ")");
}
// -1 means "choose"; any other negative number is as wrong as one past the end.
bool valid_partition_choice(std::int32_t p, std::int32_t n) { return p >= -1 && p < n; }

// Records carry at most 65535 headers (RecordView::header_count()), header
// keys of at most 65535 bytes and values of at most 2^31 - 1: refuse more
// rather than encode what a reader reports differently.
Status check_headers(std::span<const Header> headers) {
  if (headers.size() > 0xFFFF)
    return Status(Code::kInvalidArgument,
                  "a record carries at most 65535 headers, got " + std::to_string(headers.size()));
  for (const Header& h : headers) {
    if (h.key.size() > 0xFFFF)
      return Status(Code::kInvalidArgument,
                    "header key of " + std::to_string(h.key.size()) + " bytes; header keys are at most 65535 bytes");
    if (h.value && h.value->size() > 0x7FFFFFFF)
      return Status(Code::kInvalidArgument, "header value of " + std::to_string(h.value->size()) +
                                                " bytes; header values are at most 2^31 - 1 bytes");
  }
  return Status::ok();
}

// Frames up to this size are built off the ring (encode_record_frame()).
constexpr std::size_t kStagedFrameBytes = 256;

// Writes a record frame into `claim` and returns the commit word to publish
// it with. A small frame is encoded and hashed in a buffer on the stack and
// then copied in: hashed in the ring, its bytes would be read back from lines
// that a spinning reader shares (it polls this very frame's commit word), and
// each load would wait for the store before it to take the line back from
// that reader's core - about 40 % of a send across cores, against a copy of
// at most 256 bytes within L1.
[[gnu::always_inline]] inline std::uint64_t encode_record_frame(const log::Claim& claim, std::int64_t timestamp_ns,
                                                                const std::optional<std::string_view>& key,
                                                                std::string_view value, std::span<const Header> headers,
                                                                std::size_t headers_size) noexcept {
  std::uint32_t info = 0;
  if (claim.bytes > kStagedFrameBytes) [[unlikely]] {
    std::byte* at = log::encode_record_fields(claim.data, timestamp_ns, key, value.size(), headers, headers_size, &info);
    if (!value.empty()) std::memcpy(at, value.data(), value.size());
    return log::commit_word_of(claim.data, info, claim.first_offset);
  }
  alignas(64) std::byte stage[kStagedFrameBytes];
  std::byte* at = log::encode_record_fields(stage, timestamp_ns, key, value.size(), headers, headers_size, &info);
  if (!value.empty()) std::memcpy(at, value.data(), value.size());
  // The commit word (the first 8 bytes) is commit()'s to write.
  const std::size_t length = info & log::kLengthMask;
  std::memcpy(claim.data + log::kTimestampOffset, stage + log::kTimestampOffset, length - log::kTimestampOffset);
  return log::commit_word_of(stage, info, claim.first_offset);
}
}  // namespace

// Inlined into send() and reserve(): out of line, the call and its
// out-parameters cost ~50 instructions per record (callgrind).
[[gnu::always_inline]] inline Status Producer::claim_one(const std::optional<std::string_view>& key, std::size_t value_size,
                           const SendOptions& options, bool reservation, std::int32_t* partition,
                           std::size_t* headers_size, log::Claim* claim) noexcept {
  if (!valid_partition_choice(options.partition, partitions_)) return bad_partition(options.partition, partitions_);
  *headers_size = 0;
  if (!options.headers.empty()) {
    if (Status s = check_headers(options.headers); !s) return s;
    *headers_size = log::header_block_size(options.headers);
  }
  *partition = choose(key, options.partition);
  log::PartitionRing& ring = *rings_[static_cast<std::size_t>(*partition)];
  const std::uint64_t length = log::record_frame_size(key, value_size, *headers_size);
  const std::size_t index = slot_index(*partition, reservation);
  log::ClaimSlot* slot = slots_[index];
  if (slot == nullptr) [[unlikely]] {
    if (Status st = take_slot(index); !st) return st;
    slot = slots_[index];
  } else if (reservation && slot->state.load(std::memory_order_relaxed) != log::kSlotIdle) [[unlikely]] {
    // A claim slot announces one claim: a second reservation here would
    // hide the first from the rollers that must wait for it. Relaxed: the
    // slot is this producer's own, and the commit or abort that idled it
    // happened before this call (in this thread, or handed over by the caller).
    return pending_reservation(*partition);
  }
  if (length > ring.max_frame_bytes()) return too_large(length, *partition);
  const log::ClaimMode mode = claim_mode(*partition);
  const log::ClaimStatus status =
      ring.claim(static_cast<std::uint32_t>(log::align_frame(length)), 1, slot, claim, max_block_ns_, mode);
  if (status != log::ClaimStatus::kOk) [[unlikely]]
    return claim_failed(status, length, *partition, *claim);
  claimed(*partition, mode);
  return Status::ok();
}

Result<RecordMetadata> Producer::send(std::optional<std::string_view> key, std::string_view value,
                                      const SendOptions& options) noexcept {
  std::int32_t p = 0;
  std::size_t headers_size = 0;
  log::Claim claim;
  if (Status s = claim_one(key, value.size(), options, false, &p, &headers_size, &claim); !s) return s;
  const std::uint64_t word = encode_record_frame(claim, options.timestamp_ns >= 0 ? options.timestamp_ns : now_ns(), key,
                                                 value, options.headers, headers_size);
  log::PartitionRing& ring = *rings_[static_cast<std::size_t>(p)];
  ring.commit(claim, word);
  ring.notify();
  if (durability_ != Durability::kMemory) [[unlikely]]
    if (Status s = await_durability(p, claim.first_offset + 1); !s) return s;
  return RecordMetadata{p, claim.first_offset};
}

std::string_view durability_name(Durability d) noexcept {
  switch (d) {
    case Durability::kMemory: return "memory";
    case Durability::kWritten: return "written";
    case Durability::kFsync: return "fsync";
  }
  return "?";
}

bool parse_durability(std::string_view text, Durability* out) noexcept {
  for (const Durability d : {Durability::kMemory, Durability::kWritten, Durability::kFsync})
    if (text == durability_name(d)) {
      *out = d;
      return true;
    }
  return false;
}

Status Producer::await_durability(std::int32_t p, std::int64_t end) noexcept {
  log::PartitionRing& ring = *rings_[static_cast<std::size_t>(p)];
  log::Flusher* flusher = client::flusher_of(*topic_, p);
  if (durability_ == Durability::kMemory || flusher == nullptr) return Status::ok();
  const bool sync = durability_ == Durability::kFsync;
  const auto reached = [&] { return (sync ? ring.durable_offset() : ring.written_offset()) >= end; };
  ring.request_flush(end, sync);
  const std::int64_t deadline = log::monotonic_ns() + max_block_ns_;
  while (!reached()) {
    // The leader: this process writes (and syncs, for every waiter) if it
    // holds or can take the partition's flush lease.
    // (A thread of this process already flushing - kBusy - wakes this one
    // when done; whoever comes next then writes and syncs for all.)
    const std::uint64_t flushes = flusher->flushes();
    const log::Flusher::Outcome flushed = flusher->try_flush();
    if (flushed == log::Flusher::Outcome::kDone) {
      if (reached()) break;
      if (Status s = flusher->status(); !s)
        return s.with_context("topic '" + topic_->name() + "' partition " + std::to_string(p) + ": offset " +
                              std::to_string(end - 1) + " is in memory but not " +
                              (sync ? "synced to" : "written to") + " its files");
    } else if (flushed == log::Flusher::Outcome::kNotHolder) {
      ring.wake_flusher();  // another process holds the lease: its flusher thread writes
    }
    const std::int64_t now = log::monotonic_ns();
    if (now > deadline) {
      const std::int32_t holder = ring.flush_lease_holder();
      return Status(Code::kTimedOut, "topic '" + topic_->name() + "' partition " + std::to_string(p) + ": offset " +
                                         std::to_string(end - 1) + " was not " + (sync ? "synced" : "written") +
                                         " to its files within " + std::to_string(max_block_ns_ / 1'000'000) +
                                         " ms" + (holder > 0 ? " by process " + std::to_string(holder) +
                                                                   ", which writes them (disk slow or full?)"
                                                             : std::string()) +
                                         "; it is in memory");
    }
    // Until the records are there, or (kBusy) the flush that held the lock
    // ended without them: then this send flushes, for every waiter.
    (void)ring.wait_flush(std::min(deadline, now + 1'000'000), [&] {
      return reached() || (flushed == log::Flusher::Outcome::kBusy && flusher->flushes() != flushes);
    });
  }
  return Status::ok();
}

Result<std::size_t> Producer::send_batch(std::span<const Message> messages, std::int32_t partition) noexcept {
  if (!valid_partition_choice(partition, partitions_)) return bad_partition(partition, partitions_);
  if (compression_ != Compression::kNone && !scratch_) [[unlikely]]
    return bad_compression();
  // Null keys in one batch stick to one partition.
  const std::int32_t sticky = partition >= 0 ? partition
                                             : next_round_robin();
  // One clock read per call: every record without a timestamp of its own gets it.
  const std::int64_t now = now_ns();
  const auto stamp = [now](const Message& m) { return m.timestamp_ns >= 0 ? m.timestamp_ns : now; };
  // A record's timestamp as stored in a batch: its delta from the base,
  // modulo 2^64 (producer-set timestamps may be anywhere).
  const auto delta_of = [](std::int64_t ts, std::int64_t base) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(base));
  };
  std::size_t done = 0;
  while (done < messages.size()) {
    const Message& first = messages[done];
    const std::int32_t p = partition >= 0 ? partition : first.key ? partition_for(*first.key) : sticky;
    log::PartitionRing& ring = *rings_[static_cast<std::size_t>(p)];
    // A run is one frame: at most a quarter segment, so that a batch never
    // leaves most of a segment empty, and at most a frame's largest size.
    const std::uint64_t limit = std::min<std::uint64_t>(ring.data_capacity() / 4, ring.max_frame_bytes());
    const std::int64_t base_ts = stamp(first);
    // The run: consecutive messages for p, in one batch frame (or, alone, a record frame).
    std::uint64_t bytes = log::kBatchHeaderSize;
    std::uint64_t single = 0;  // the first message's record frame
    std::size_t end = done;
    // Whether an unkeyed message without a timestamp of its own belongs to
    // this run at delta 0: it goes to `sticky`, stamped `now`.
    const bool plain_fits = (partition >= 0 || p == sticky) && base_ts == now;
    while (end < messages.size() && end - done < 1024) {
      const Message& m = messages[end];
      if (plain_fits && end > done && !m.key && m.headers.empty() && m.timestamp_ns < 0 && m.value.size() < 0x80)
          [[likely]] {
        // The common shape, sized at once: partition p, no headers, delta 0,
        // four one-byte varints (what batch_record_size() gives it).
        const std::uint64_t size = 4 + m.value.size();
        if (bytes + size > limit) break;
        bytes += size;
        ++end;
        continue;
      }
      const std::int32_t mp = partition >= 0 ? partition : m.key ? partition_for(*m.key) : sticky;
      if (mp != p) break;
      std::size_t headers_size = 0;
      if (!m.headers.empty()) {
        if (Status s = check_headers(m.headers); !s) {
          if (end > done) break;  // send the messages before it first
          if (done > 0) return done;  // the next call reports the error
          return s;
        }
        headers_size = log::header_block_size(m.headers);
      }
      const std::uint64_t size =
          log::batch_record_size(delta_of(stamp(m), base_ts), m.key, m.value.size(), headers_size);
      if (end == done) {
        single = log::record_frame_size(m.key, m.value.size(), headers_size);
        if (single > ring.max_frame_bytes()) {
          if (done > 0) return done;
          return too_large(single, p);
        }
      } else if (bytes + size > limit) {
        break;
      }
      bytes += size;
      ++end;
    }
    const std::size_t index = slot_index(p, false);
    if (slots_[index] == nullptr)
      if (Status st = take_slot(index); !st) return st;
    // One message alone goes in a record frame (a first message over the
    // limit is always alone: the loop takes no second one after it).
    const bool alone = end - done == 1;
    std::uint64_t length = alone ? single : bytes;
    // Writes the run's records at `at`; returns the largest timestamp.
    const auto encode_records = [&](std::byte* at) {
      std::int64_t max_ts = base_ts;
      for (std::size_t i = done; i < end; ++i) {
        const Message& m = messages[i];
        const std::int64_t ts = stamp(m);
        max_ts = std::max(max_ts, ts);
        at = log::encode_batch_record(at, delta_of(ts, base_ts), m.key, m.value, m.headers,
                                      m.headers.empty() ? 0 : log::header_block_size(m.headers));
      }
      return max_ts;
    };
    // Compressed: encoded and compressed off the ring first, so that the
    // claim is the compressed size. `staged` records are in scratch_.
    bool staged = false;
    std::int64_t staged_max_ts = base_ts;
    Compression codec = Compression::kNone;
    const std::size_t records_bytes = static_cast<std::size_t>(bytes - log::kBatchHeaderSize);
    std::size_t packed_bytes = 0;
    if (scratch_ && !alone) {
      BatchScratch& x = *scratch_;
      // Short of memory (warm-up only), the batch goes uncompressed.
      if (BatchScratch::reserve(x.records, x.records_capacity, records_bytes) &&
          BatchScratch::reserve(x.packed, x.packed_capacity, format::max_compressed_bytes(compression_, records_bytes))) {
        staged_max_ts = encode_records(x.records.get());
        staged = true;
        auto packed = x.compressor.compress(compression_, std::span<const std::byte>(x.records.get(), records_bytes),
                                            std::span<std::byte>(x.packed.get(), x.packed_capacity));
        // A claim takes at least kMinRecordBytes a record (the ring's
        // invariant): a shorter stream is followed by zero padding, which
        // readers accept (doc/log_format.md). Kept only if it then takes
        // fewer bytes in the ring: else readers would decompress for
        // nothing. (A compressor error - no memory for its context - also
        // leaves the batch uncompressed.)
        const std::uint64_t stored =
            packed ? std::max<std::uint64_t>(log::kBatchHeaderSize + *packed, (end - done) * log::kMinRecordBytes) : 0;
        if (packed && log::align_frame(stored) < log::align_frame(bytes)) {
          codec = compression_;
          packed_bytes = *packed;
          length = stored;
        }
      }
    }
    log::Claim claim;
    const log::ClaimMode mode = claim_mode(p);
    const log::ClaimStatus status =
        ring.claim(static_cast<std::uint32_t>(log::align_frame(length)), static_cast<std::uint32_t>(end - done),
                   slots_[index], &claim, max_block_ns_, mode);
    if (status != log::ClaimStatus::kOk) {
      if (done > 0) return done;  // the messages before were sent; the next call reports the error
      return claim_failed(status, length, p, claim);
    }
    claimed(p, mode);
    std::uint64_t word = 0;
    if (alone) {
      word = encode_record_frame(claim, base_ts, first.key, first.value, first.headers,
                                 log::header_block_size(first.headers));
    } else {
      std::byte* payload = claim.data + log::kBatchHeaderSize;
      std::int64_t max_ts = staged_max_ts;
      if (codec != Compression::kNone) {
        std::memcpy(payload, scratch_->packed.get(), packed_bytes);
        std::memset(payload + packed_bytes, 0, length - log::kBatchHeaderSize - packed_bytes);
      } else if (staged) {
        std::memcpy(payload, scratch_->records.get(), records_bytes);
      } else {
        max_ts = encode_records(payload);
      }
      const std::uint32_t info = log::encode_batch_header(
          claim.data, static_cast<std::uint32_t>(length), claim.first_offset, base_ts, max_ts,
          static_cast<std::uint32_t>(end - done), codec, static_cast<std::uint32_t>(records_bytes));
      word = log::commit_word_of(claim.data, info, claim.first_offset);
    }
    ring.commit(claim, word);
    ring.notify();
    if (durability_ != Durability::kMemory) [[unlikely]]
      if (Status s = await_durability(p, claim.first_offset + static_cast<std::int64_t>(end - done)); !s) return s;
    done = end;
  }
  return done;
}

Result<Reservation> Producer::reserve(std::optional<std::string_view> key, std::size_t value_size,
                                      const SendOptions& options) noexcept {
  std::int32_t p = 0;
  std::size_t headers_size = 0;
  log::Claim claim;
  if (Status s = claim_one(key, value_size, options, true, &p, &headers_size, &claim); !s) return s;
  Reservation r;
  std::byte* value = log::encode_record_fields(claim.data, options.timestamp_ns >= 0 ? options.timestamp_ns : now_ns(),
                                               key, value_size, options.headers, headers_size, &r.info_);
  r.value_ = std::span<std::byte>(value, value_size);
  r.frame_ = claim.data;
  r.ring_ = rings_[static_cast<std::size_t>(p)];
  r.slot_ = claim.slot;
  r.generation_ = claim.generation;
  r.position_ = claim.position;
  r.partition_ = p;
  r.offset_ = claim.first_offset;
  return r;
}

// Inlined into commit() and abort(), as publish() was one function.
[[gnu::always_inline]] inline log::Claim Reservation::claim() const noexcept {
  log::Claim claim;
  claim.slot = slot_;
  claim.data = frame_;
  claim.first_offset = offset_;
  claim.generation = generation_;
  claim.position = position_;
  claim.bytes = static_cast<std::uint32_t>(log::align_frame(info_ & log::kLengthMask));
  claim.records = 1;
  return claim;
}

[[gnu::always_inline]] inline void Reservation::end(std::uint64_t word) noexcept {
  ring_->commit(claim(), word);
  ring_->notify();
  ring_ = nullptr;
  value_ = {};
}

void Reservation::commit() noexcept {
  if (!pending()) return;
  end(log::commit_word_of(frame_, info_, offset_));
}

void Reservation::abort() noexcept {
  if (!pending()) return;
  // The frame keeps its claimed size and covers its one offset, as the
  // abandoned frame of a dead producer's claim does (PartitionRing::abandon()).
  const log::Claim c = claim();
  end(log::encode_abandoned(frame_, c.bytes, offset_, 1));
}

}  // namespace rill
