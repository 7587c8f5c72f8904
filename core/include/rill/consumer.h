// Consumer: reads records of one topic's partitions, without copying.
//
// Every Consumer sees every record of the partitions it is assigned
// (broadcast, like independent Kafka consumer groups of one member each).
//
// Zero copy: poll() returns views into the partitions' shared memory. A
// consumer that is overtaken by the ring never gets reused bytes from poll():
// it gets an out-of-range report instead. Views may be read after poll()
// returns; if the ring can have wrapped since (a slow consumer on a busy
// topic), call still_valid() after reading them to know the bytes were not
// reused meanwhile.
//
// Compressed batches (ProducerOptions::compression) are the one copy: the
// consumer decompresses each batch once into a buffer of its own, and the
// views of its records point there (key, value, headers; frame() and the
// checksum are still the stored frame's). Those buffers are reused from the
// next poll on, so the views stay valid until then, whatever the ring does.
// A poll that takes only part of a batch (max_poll_records) keeps the batch
// decompressed for the next poll, which goes on from where it stopped. A
// poll that has records already decompresses no more once it has
// decompressed 8 MiB, however many more max_poll_records would take: its
// memory stays bounded, and the next poll goes on.
//
// Thread safety: one thread at a time per Consumer. Any number of Consumers,
// in any threads and processes, may read the same partitions at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rill/record.h"
#include "rill/status.h"
#include "rill/topic.h"
#include "rill/wait.h"

namespace rill {

namespace log {
enum class ReadStatus : std::uint8_t;
}
namespace client {
class BatchInflater;
class DiskReads;
}

class RebalanceListener;  // rill/group.h

// How a consumer group divides partitions among its members (Kafka's
// partition.assignment.strategy): range and round-robin revoke every
// partition at every rebalance (eager); sticky keeps each member's
// partitions where balance allows and revokes only those that move
// (cooperative, as Kafka's cooperative-sticky).
enum class AssignmentStrategy : std::uint8_t { kRange, kRoundRobin, kSticky };

// What a consumer does when the ring has overwritten its position.
enum class OffsetReset : std::uint8_t {
  kEarliest,  // jump to the earliest retained record and report how many were skipped
  kError,     // poll() returns kOffsetOutOfRange (the --strict CLI flag)
};

struct ConsumerOptions {
  WaitStrategy wait = WaitStrategy::kBlock;
  OffsetReset on_overrun = OffsetReset::kEarliest;
  std::size_t max_poll_records = 512;
  // Where newly assigned partitions start - for a group, those without a
  // committed offset: true = earliest, false = latest (Kafka's
  // auto.offset.reset, default latest).
  bool start_at_earliest = false;
  // Recompute each record's checksum in poll(); a mismatch is kCorrupt.
  // (Each frame's, once: a batch's records share one, over its bytes as
  // stored - compressed, if it is.)
  bool verify_checksums = false;
  // How long the consumer waits on a record that is claimed but not
  // committed before it looks at the claiming process: if that process is
  // dead (pid + start time), the claim's offsets are skipped
  // (PollResult::abandoned); if it is alive - even stopped - the consumer
  // keeps waiting and looks again after as long. Measured from when a poll()
  // first found the offset blocked, across any number of poll() calls of any
  // timeout (poll(0) included), so a dead producer's claim is passed about
  // this long after the records behind it are committed, plus up to as long
  // again for the consumer to notice the block. What the wait spares: a live
  // producer's claim is normally committed within nanoseconds, and looking
  // sooner would read /proc and pull the producers' tail cache line on every
  // empty poll. Looks are at most one per millisecond, so zero looks at
  // almost every empty poll. Only a consumer waiting on a claim wakes to look;
  // an idle one sleeps until records come (their producer rings for them).
  std::chrono::milliseconds abandoned_claim_timeout{10};

  // ---- consumer groups (GroupConsumer, rill/group.h); a Consumer ignores these.
  // Kafka's group.id: 1-247 of [A-Za-z0-9._-] (its commit log's file name fits 255 bytes).
  std::string group_id{};
  AssignmentStrategy assignment_strategy = AssignmentStrategy::kRange;
  std::chrono::milliseconds session_timeout{10'000};
  std::chrono::milliseconds heartbeat_interval{3'000};
  std::chrono::milliseconds max_poll_interval{300'000};
  // Commits the positions of the records returned by earlier polls, in
  // poll() every auto_commit_interval, before a revocation and at close():
  // at least once.
  bool enable_auto_commit = true;
  std::chrono::milliseconds auto_commit_interval{5'000};
  RebalanceListener* rebalance_listener = nullptr;  // not owned; outlives the consumer
};

// The result of one poll(): views valid until the next poll() or seek.
// (The views of a compressed batch's records point into the consumer's
// buffer of the decompressed batch: valid until the next poll().)
struct PollResult {
  std::span<const RecordView> records;
  // Records lost to ring overrun in this poll (OffsetReset::kEarliest).
  std::int64_t skipped = 0;
  // Offsets skipped in this poll because the producer that claimed them
  // died before committing them, or aborted them (Reservation::abort());
  // never records: nothing was published there.
  std::int64_t abandoned = 0;
  // Non-OK on kOffsetOutOfRange (OffsetReset::kError), kCorrupt (a damaged
  // frame, or a compressed batch that does not decompress, naming its
  // partition and offset; the records before it are delivered by the poll
  // before) or kInvalidArgument; kResourceExhausted if memory for a
  // decompressed batch ran out.
  Status status;
  // On kOffsetOutOfRange: the partition overrun and its earliest retained
  // offset, where a seek() resumes (-1 otherwise).
  std::int32_t out_of_range_partition = -1;
  std::int64_t earliest_offset = -1;
};

// Cache-line aligned: poll() writes next_, which must not share a line with
// another thread's hot data (say, a Producer).
//
// Registration: assign() registers the consumer as a reader of each of its
// partitions (process identity and position, published at every poll), so
// that `rill topic describe` lists it with its lag and an overflow=block
// topic's producers wait for it. The destructor (or the next assign())
// unregisters it; the registration of a process that died is reaped by the
// next process that needs the slot, by blocked producers and by `rill ns gc`.
class alignas(64) Consumer {
 public:
  // REQUIRES: topic is not null.
  explicit Consumer(std::shared_ptr<Topic> topic, ConsumerOptions options = {});
  ~Consumer();
  Consumer(Consumer&&) noexcept;
  Consumer& operator=(Consumer&&) noexcept;

  // Replaces the assignment. Each partition starts per start_at_earliest.
  Status assign(std::span<const std::int32_t> partitions);
  Status assign_all();
  std::span<const std::int32_t> assignment() const noexcept { return assigned_; }
  // Assigned partitions on which assign() found every reader slot taken by
  // a live consumer (256 per partition). On an overflow=retain
  // topic the consumer still reads them, but unregistered: `rill topic
  // describe` does not list it and its position holds nobody back. (On an
  // overflow=block topic assign() fails instead.) Empty normally.
  std::span<const std::int32_t> unregistered() const noexcept { return unregistered_; }

  // Returns the records available now on the assigned partitions (fair
  // round-robin between partitions), waiting up to `timeout` (per the wait
  // strategy) for at least one. Empty records on timeout.
  PollResult poll(std::chrono::nanoseconds timeout) noexcept;

  // True if the bytes behind the last poll()'s views have not been reused
  // (for a compressed batch's records: the stored frame; their keys, values
  // and headers are the consumer's own until the next poll).
  bool still_valid() const noexcept;

  // Next offset this consumer will read from partition p (-1 if not assigned).
  std::int64_t position(std::int32_t p) const noexcept;
  Status seek(std::int32_t p, std::int64_t offset);
  // The ends as the rings' words give them; a damaged ring is reported by
  // the next poll() (kCorrupt) rather than here.
  Status seek_to_beginning();
  Status seek_to_end();
  // Every assigned partition to its first record with timestamp >= timestamp_ns.
  Status seek_to_time(std::int64_t timestamp_ns);

  // Offsets of partition p of the topic (assigned or not): the oldest
  // retained, and the next to be produced. kInvalidArgument, naming p and
  // the topic's partition count, unless 0 <= p < partition_count().
  Result<std::int64_t> earliest_offset(std::int32_t p) const;
  Result<std::int64_t> latest_offset(std::int32_t p) const;

  const std::shared_ptr<Topic>& topic() const noexcept { return topic_; }

 private:
  struct Cursor;
  void unregister() noexcept;
  // OK if the topic has partition p; else kInvalidArgument naming p and the count.
  Status check_partition(std::int32_t p) const;

  // poll()'s steps, in its order.
  // This poll ends the last one's views: publishes each registered
  // cursor's position (what overflow=block producers wait for).
  void publish_positions() noexcept;
  // One round over the assigned partitions from next_ (fair round-robin),
  // reading into views_ until it is full, and moves next_ on. Returns how
  // many views it filled; an error stops the round, in result.status.
  std::size_t read_round(PollResult& result) noexcept;
  // Reads cursor i's partition into views_ from `filled` on and returns how
  // many records it read; counts abandoned offsets into result, resets a
  // cursor the ring overtook (reset_after_overrun()), and sets
  // result.status for a damaged frame.
  std::size_t read_partition(std::size_t i, std::size_t filled, PollResult& result) noexcept;
  // read_partition()'s part for compressed batches: views_[filled + got]
  // stands for the batch at cursor i's position (PartitionRing::read()
  // stopped there). Decompresses it (inflater_), decodes records into views_
  // from there, moves the cursor, and reads on while there is room; returns
  // the records read in all (got included).
  std::size_t read_compressed(std::size_t i, std::size_t filled, std::size_t got, PollResult& result) noexcept;
  // read_partition()'s part for a cursor below the ring of a durable topic:
  // reads the partition's files (client::DiskCursor) and moves the cursor
  // onto the ring once it has caught up with it.
  std::size_t read_disk(std::size_t i, std::size_t filled, PollResult& result) noexcept;
  // Durable topics: moves cursor i to `offset` in the partition's files, if
  // they hold it (true).
  bool seek_disk(std::size_t i, std::int64_t offset);
  // The ring has reused cursor i's bytes. Per options_.on_overrun: moves
  // the cursor to the earliest retained record and adds the records lost
  // to result.skipped (true), or sets result.status (false); kCorrupt if
  // the earliest retained offset is before the cursor (damaged headers).
  bool reset_after_overrun(std::size_t i, PollResult& result) noexcept;
  // The kCorrupt error for cursor i, whose read() returned `status`
  // (kCorrupt or kChecksum).
  Status read_failed(std::size_t i, log::ReadStatus status) const;
  // Found nothing to read and no dead claim to pass: kCorrupt if a ring's
  // words contradict each other where a cursor waits (a reader would sleep
  // or spin forever, waiting for a writer that damaged shared memory made up).
  Status check_rings() const;
  // Waits (options_.wait) until a partition has a record to read, until
  // `deadline` (monotonic ns; -1: none), or - while one is due, as
  // claim_blocked_ or `looked` (false: this round skipped it) say - until
  // the next look_for_dead_claims().
  void wait_for_records(std::int64_t deadline, bool looked) noexcept;
  // Abandons the dead producers' claims that have blocked a cursor for the
  // patience (see ConsumerOptions::abandoned_claim_timeout) and sets
  // next_claim_check_. True if one was abandoned (records may follow).
  bool look_for_dead_claims(std::int64_t now_ns) noexcept;
  // The shortest interval between two looks (a zero patience would spin).
  static constexpr std::int64_t kMinClaimCheckIntervalNs = 1'000'000;
  std::shared_ptr<Topic> topic_;
  ConsumerOptions options_;
  std::vector<std::int32_t> assigned_;
  std::vector<Cursor> cursors_;  // parallel to assigned_
  std::vector<std::int32_t> unregistered_;  // see unregistered()
  std::vector<RecordView> views_;
  // Compressed batches, decompressed: made at the first one (null on a
  // consumer that never met one).
  std::unique_ptr<client::BatchInflater> inflater_;
  std::size_t next_ = 0;  // round-robin start
  std::int64_t next_claim_check_ = 0;  // monotonic ns of the next look_for_dead_claims()
  bool claim_blocked_ = false;         // the last look found a cursor waiting on a claim
  // Durable topics: what reads below the ring keep mapped until the next
  // poll (null until a cursor first reads the files).
  std::unique_ptr<client::DiskReads> disk_;
};

}  // namespace rill
