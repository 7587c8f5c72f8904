// Producer: appends records to a topic's partitions.
//
// Thread safety: a Producer is used by one thread at a time (it keeps a
// round-robin counter). Any number of Producers, in any number of threads
// and processes, may append to the same partitions at once, lock-free.
//
// Hot path: send(), send_batch(), reserve() and Reservation::commit() and
// abort() allocate nothing, take no lock, throw nothing and log nothing. A
// syscall happens only to wake a consumer that sleeps on the topic's futex.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "rill/compression.h"
#include "rill/record.h"
#include "rill/status.h"
#include "rill/topic.h"

namespace rill {

namespace log {
class PartitionRing;
struct Claim;
struct ClaimSlot;
enum class ClaimStatus : std::uint8_t;
enum class ClaimMode : std::uint8_t;
}

struct SendOptions {
  std::int32_t partition = -1;      // -1: choose by key (xxHash % partitions), or round-robin
  std::int64_t timestamp_ns = -1;   // -1: now (CLOCK_REALTIME)
  std::span<const Header> headers{};  // copied into the record
};

// A record for send_batch().
struct Message {
  std::optional<std::string_view> key;  // nullopt = null key
  std::string_view value;
  std::int64_t timestamp_ns = -1;
  std::span<const Header> headers;
};

struct RecordMetadata {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
};

// Space for one record, claimed but not yet visible to consumers: a
// zero-copy send, like Aeron's BufferClaim. Producer::reserve() returns one
// with the key, headers and timestamp written; fill value() in place, then
// commit() it - or abort() it to publish nothing.
//
// Ownership: move-only RAII. The first of commit() and abort() takes effect
// and ends the reservation (pending() turns false); later calls of either
// do nothing. The destructor aborts a reservation still pending, so one
// dropped on an early return or an error path never holds readers back. A
// moved-from or default-constructed reservation holds nothing: commit(),
// abort() and the destructor do nothing.
//
// While pending, readers of its partition wait at its offset (records
// committed after it included), and once producers have filled the rest of
// the ring (segment_count - 3 segments) they wait too: its bytes are not
// reused before it ends. So end it promptly. If the process dies first,
// readers skip its offset once they see the process gone (PollResult::abandoned).
//
// Thread safety: one thread at a time; it may be moved to another thread
// and ended there (hand it over with the usual synchronisation, as for any
// object). No lock, allocation, exception or log line in commit() or abort().
//
// REQUIRES: it ends (commit, abort or destruction) before its Producer is
// destroyed and while its topic is open: it writes through the producer's
// claim slot and into the topic's memory. Moving the Producer is fine.
class Reservation {
 public:
  Reservation() noexcept = default;
  Reservation(Reservation&& other) noexcept { take(other); }
  // Aborts this reservation if it is pending, then takes `other`'s.
  Reservation& operator=(Reservation&& other) noexcept {
    if (this != &other) {
      if (pending()) abort();
      take(other);
    }
    return *this;
  }
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;
  ~Reservation() {
    if (pending()) abort();
  }

  // The bytes of the value, to fill before commit(); empty once the
  // reservation has ended (or for a value of 0 bytes).
  std::span<std::byte> value() const noexcept { return value_; }
  // Where the record goes; both stay readable after commit() and abort().
  // -1 for a reservation that never held a claim.
  std::int32_t partition() const noexcept { return partition_; }
  std::int64_t offset() const noexcept { return offset_; }
  // True from reserve() until commit(), abort() or a move away.
  bool pending() const noexcept { return ring_ != nullptr; }

  // Checksums the frame (the value as filled) and makes the record visible
  // at offset(), waking readers that sleep on the topic. Does nothing unless
  // pending().
  void commit() noexcept;
  // Publishes no record: the claim becomes an abandoned frame, which readers
  // step over at once - no wait - counting its offset in
  // PollResult::abandoned, as for a dead producer's claim. Offsets stay
  // dense: offset() is used up, and the partition's next record gets the
  // offset after it. Does nothing unless pending().
  void abort() noexcept;

 private:
  friend class Producer;
  // Moves `other`'s claim here and leaves `other` holding nothing.
  void take(Reservation& other) noexcept {
    value_ = other.value_;
    frame_ = other.frame_;
    ring_ = other.ring_;
    slot_ = other.slot_;
    generation_ = other.generation_;
    offset_ = other.offset_;
    position_ = other.position_;
    info_ = other.info_;
    partition_ = other.partition_;
    other.value_ = {};
    other.ring_ = nullptr;
  }
  // The claim it holds, as the ring's commit() takes it.
  log::Claim claim() const noexcept;
  // Retires the claim with `word` in its commit word and ends the reservation.
  void end(std::uint64_t word) noexcept;

  std::span<std::byte> value_;
  std::byte* frame_ = nullptr;
  log::PartitionRing* ring_ = nullptr;  // null: holds nothing (not pending)
  log::ClaimSlot* slot_ = nullptr;      // the producer's reservation slot for the partition
  std::uint64_t generation_ = 0;
  std::int64_t offset_ = -1;
  std::uint32_t position_ = 0;  // of the frame in its segment
  std::uint32_t info_ = 0;      // the frame's commit info (core/log/record_format.h)
  std::int32_t partition_ = -1;
};

// When a send of a durable topic returns (ProducerOptions::durability).
enum class Durability : std::uint8_t {
  kMemory,   // the record is committed in the ring (every topic)
  kWritten,  // ... and in the partition's files: handed to the kernel, which
             // keeps it through a crash of every process (not of the machine)
  kFsync,    // ... and on stable storage (fdatasync): it survives a power loss
};
std::string_view durability_name(Durability d) noexcept;  // "memory", "written", "fsync"
// Parses "memory", "written" or "fsync"; false for anything else.
bool parse_durability(std::string_view text, Durability* out) noexcept;

struct ProducerOptions {
  // How long send(), send_batch() and reserve() wait for the ring to roll
  // past the claim of a live producer that is stopped or hung (a process is
  // never taken for dead while it exists) before failing with kTimedOut,
  // naming its pid; nothing is written then, and a later call tries again.
  // Kafka's max.block.ms. Only a full segment that must roll waits for it.
  std::chrono::milliseconds max_block{10'000};
  // Take each partition's exclusive lease on the first send there, and
  // claim with plain stores instead of a compare-and-swap: a claim costs no
  // locked instruction, which waits for every earlier store to leave the
  // core (across cores, for the lines a spinning reader shares). While the
  // lease holds, every other producer's send there fails with kLeased,
  // naming this process - in this process too: one producer per partition,
  // not one per process. Destroying the producer gives the leases back; a
  // dead process's are taken over by the next producer that finds them.
  // Liveness is judged by pid and start time: a process whose main thread
  // has exited (pthread_exit) while others run counts as dead, so such a
  // process must not hold a lease.
  bool exclusive = false;
  // How send_batch() stores a batch of records (rill/compression.h): the
  // records of each batch frame are encoded and compressed off the ring,
  // then the frame claims the compressed size and names the codec. If the
  // compressed form does not take fewer bytes in the ring (8-byte aligned),
  // the batch is stored uncompressed (codec none) instead: readers would
  // pay for decompressing and gain nothing. Records sent alone (send(),
  // reserve(), a send_batch() of one record) are never compressed. Consumers
  // decompress transparently. A value that is not one of the enum's makes
  // every send_batch() fail with kInvalidArgument.
  Compression compression = Compression::kNone;
  // For topics of a durable namespace (SharedOptions::data_dir): send() and
  // send_batch() return once their records are
  // written (kWritten) or synced (kFsync); see Durability. Many waiting
  // sends share one write and one fdatasync (group commit): the first one
  // of this process to need it writes everything committed so far for all
  // of them, as does the process holding the partition's flush lease for
  // other processes' producers. A send that waits longer than max_block
  // fails with kTimedOut; one whose files cannot be written (disk full, a
  // failed fdatasync) fails with that error: its record is in the ring
  // (offsets stay dense) but not acknowledged at this level. Topics in
  // memory only acknowledge at kMemory whatever is asked. A Reservation's
  // commit() acknowledges at kMemory: it returns nothing to fail with.
  Durability durability = Durability::kMemory;
};

// Cache-line aligned: a send with a null key writes round_robin_, which must
// not share a line with another thread's hot data (say, a Consumer).
//
// Crashes: each claim is announced in a claim slot of its partition that
// this producer takes on its first send there (and gives back when
// destroyed), with the identity of this process. If the process dies between
// a claim and its commit, readers skip the claim's offsets once they see the
// process gone (ConsumerOptions::abandoned_claim_timeout) and count them in
// PollResult::abandoned; a process that is only stopped is waited for, and
// a send that needs the ring to roll past its claim fails after max_block.
//
// Thread safety: one thread at a time. Move-only (its claim slots are its own).
// A forked child creates its own producers: its parent's slots and leases
// name the parent.
class alignas(64) Producer {
 public:
  // REQUIRES: topic is not null.
  explicit Producer(std::shared_ptr<Topic> topic, const ProducerOptions& options = {});
  ~Producer();
  Producer(Producer&& other) noexcept;
  Producer& operator=(Producer&& other) noexcept;
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Appends one record and makes it visible. Returns where it went, or
  // kRecordTooLarge (it cannot fit a segment), kInvalidArgument (bad partition),
  // kLeased (another live producer holds the partition's exclusive lease),
  // kResourceExhausted (the partition's claim slots are all taken), kTimedOut
  // (overflow=block: a registered reader kept the ring full too long; or a
  // stopped or hung producer's claim held the ring's roll for max_block).
  Result<RecordMetadata> send(std::optional<std::string_view> key, std::string_view value,
                              const SendOptions& options = {}) noexcept;

  // Appends messages in order. Consecutive messages bound for one partition
  // are claimed in one atomic step (null keys stick to one partition per
  // batch), so their offsets are consecutive. Returns how many were sent: all
  // of them, or fewer when a later run failed (call again with the rest to
  // get its error); an error only when the first run failed. With
  // ProducerOptions::compression, each run of two or more is compressed
  // first (see there); after warm-up that allocates nothing, except in
  // snappy's compressor, which allocates its table on every call.
  Result<std::size_t> send_batch(std::span<const Message> messages, std::int32_t partition = -1) noexcept;

  // Zero-copy: claims room for a record whose value is `value_size` bytes,
  // writes everything but the value and returns the pending Reservation
  // (see there): fill its value(), then commit() or abort() it. Errors as
  // send(), and kInvalidArgument while a reservation of this producer on
  // the same partition is still pending (one at a time per partition).
  Result<Reservation> reserve(std::optional<std::string_view> key, std::size_t value_size,
                              const SendOptions& options = {}) noexcept;
  // reservation.commit(), by its earlier name.
  void publish(Reservation& reservation) noexcept { reservation.commit(); }

  // The partition a key maps to: xxHash3-64(key) % partitions.
  std::int32_t partition_for(std::string_view key) const noexcept;

  const std::shared_ptr<Topic>& topic() const noexcept { return topic_; }

 private:
  std::int32_t choose(const std::optional<std::string_view>& key, std::int32_t explicit_partition) noexcept;
  std::int32_t next_round_robin() noexcept;
  Status too_large(std::uint64_t bytes, std::int32_t partition) const;
  Status blocked(std::int32_t partition) const;  // overflow=block timed out
  Status leased(std::int32_t partition, std::int32_t holder) const;  // another producer's exclusive lease
  Status pending_reservation(std::int32_t partition) const;  // reserve() while the last one there is pending
  // The error for a claim of `bytes` on `partition` that returned `status` (not kOk).
  Status claim_failed(log::ClaimStatus status, std::uint64_t bytes, std::int32_t partition,
                      const log::Claim& claim) const;
  // Index in slots_ of the claim slot for `partition`: send() and
  // send_batch() share one, reserve() has its own.
  std::size_t slot_index(std::int32_t partition, bool reservation) const noexcept {
    return static_cast<std::size_t>(partition) + (reservation ? static_cast<std::size_t>(partitions_) : 0);
  }
  // Checks the options, picks the partition and claims one record frame for
  // a value of `value_size` bytes (shared by send() and reserve());
  // *headers_size gets the size of the encoded header block.
  // `reservation`: for reserve(), whose claim has a slot of its own.
  Status claim_one(const std::optional<std::string_view>& key, std::size_t value_size, const SendOptions& options,
                   bool reservation, std::int32_t* partition, std::size_t* headers_size, log::Claim* claim) noexcept;
  // Takes claim slot `index` (see slot_index()) on its first use.
  Status take_slot(std::size_t index) noexcept;
  void release_slots() noexcept;
  // How this producer claims on partition p (ProducerOptions::exclusive).
  log::ClaimMode claim_mode(std::int32_t p) const noexcept;
  // After a claim on p succeeded in `mode`: the lease holder's first CAS is done.
  void claimed(std::int32_t p, log::ClaimMode mode) noexcept;
  Status bad_compression() const;  // ProducerOptions::compression is not a codec
  // ProducerOptions::durability: waits until partition p's files hold (or
  // have synced) every offset before `end`, writing them itself where this
  // process may. OK at once for kMemory or a topic in memory only.
  Status await_durability(std::int32_t p, std::int64_t end) noexcept;

  std::shared_ptr<Topic> topic_;
  std::int32_t partitions_;
  std::int32_t round_robin_ = 0;  // next partition for a null key, in [0, partitions_)
  std::unique_ptr<log::ClaimSlot*[]> slots_;  // 2 per partition (send, reserve); null until first used
  std::int64_t max_block_ns_;                  // ProducerOptions::max_block
  // The topic's rings (it keeps them for its lifetime), one per partition:
  // a send reaches its ring without a virtual call.
  std::unique_ptr<log::PartitionRing*[]> rings_;
  // ProducerOptions::exclusive: how it claims on each partition, kShared
  // (0) until its lease is taken; null for a shared producer.
  std::unique_ptr<log::ClaimMode[]> leases_;
  // ProducerOptions::compression, and what compressing needs (a codec's
  // contexts, the encoded and the compressed records): null for kNone.
  Compression compression_;
  Durability durability_;
  struct BatchScratch;
  std::unique_ptr<BatchScratch> scratch_;
};

// Nanoseconds since the Unix epoch: the default timestamp. Read from the
// invariant TSC calibrated against CLOCK_REALTIME where the CPU has one
// (ipc/clock.h, doc/clock.md), else from CLOCK_REALTIME; RILL_CLOCK=realtime
// forces the latter.
std::int64_t now_ns() noexcept;

}  // namespace rill
