#include "core/client/topic_rings.h"
#include "rill/consumer.h"

#include <algorithm>
#include <limits>

#include "core/client/batch_inflater.h"
#include "core/client/disk_reader.h"
#include "core/log/partition_ring.h"
#include "ipc/liveness.h"

namespace rill {

// rill/record.h reads frames without including the format's header: what it
// names of the layout must be what core/log/record_format.h says, so that a
// format change that forgets record.h fails to build here.
// The checksum is the high half of the commit word, which is little-endian:
// it starts 4 bytes into the word.
static_assert(log::make_commit_word(0, ~std::uint32_t{0}) == ~std::uint64_t{0} << 32 &&
                  log::commit_checksum(~std::uint64_t{0} << 32) == ~std::uint32_t{0} &&
                  detail::kFrameChecksumOffset == log::kCommitOffset + sizeof(std::uint32_t),
              "RecordView::checksum() reads the commit word's checksum half at kFrameChecksumOffset");
static_assert(detail::kFrameChecksumOffset + sizeof(std::uint32_t) <= log::kFrameHeaderSize);
// A poll writes max_poll_records of them: keep them as small as they were
// before compressed batches gave them a body pointer of their own.
static_assert(sizeof(RecordView) == 56);
static_assert(detail::kMaxVarint32Bytes == log::varint_size(~std::uint32_t{0}) &&
                  detail::kMaxVarint64Bytes == log::varint_size(~std::uint64_t{0}),
              "RecordView reads header counts and lengths as 32-bit varints, the frame decoder as 64-bit ones");

// A seek replaces every field but `reader` and `ring`: the registration
// stays the consumer's until it is destroyed or reassigned.
struct Consumer::Cursor {
  log::ReadCursor at;
  std::uint64_t polled_generation = 0;  // segment behind the last poll's views
  bool polled = false;
  // monotonic ns since when the cursor waits on a claimed, uncommitted
  // record at blocked_offset (0: it does not); see
  // ConsumerOptions::abandoned_claim_timeout. Kept across polls.
  std::int64_t blocked_since = 0;
  std::int64_t blocked_offset = -1;
  // The compressed batch a poll took only part of, kept decompressed for
  // the next (BatchInflater). A seek that resets the cursor drops it.
  client::BatchInflater::Hold hold{};
  // This consumer's registration in the partition (null if it has none).
  log::ReaderSlot* reader = nullptr;
  // The partition's ring, which the topic keeps for its lifetime: poll()
  // reads it without a virtual call per partition per poll.
  log::PartitionRing* ring = nullptr;
  // Durable topics: the partition's folder, and while the cursor is below
  // the ring, its reader of the files (`at.next_offset` follows it).
  std::string dir{};
  std::unique_ptr<client::DiskCursor> disk{};
};

// The mappings that reads below the ring handed views into: kept until the
// next poll, as PollResult's contract has it.
class client::DiskReads {
 public:
  std::vector<std::shared_ptr<io::MappedFile>> keep;
};

Consumer::Consumer(std::shared_ptr<Topic> topic, ConsumerOptions options)
    : topic_(std::move(topic)), options_(options) {
  views_.resize(std::max<std::size_t>(1, options_.max_poll_records));
}

Consumer::~Consumer() { unregister(); }

bool Consumer::seek_disk(std::size_t i, std::int64_t offset) {
  Cursor& c = cursors_[i];
  if (c.dir.empty()) return false;
  auto disk = std::make_unique<client::DiskCursor>(c.dir, assigned_[i]);
  if (!disk->seek(offset, c.ring->written_offset())) return false;
  c.at.next_offset = disk->next_offset();
  c.disk = std::move(disk);
  c.polled = false;
  c.hold = {};
  return true;
}
Consumer::Consumer(Consumer&&) noexcept = default;

Consumer& Consumer::operator=(Consumer&& other) noexcept {
  if (this != &other) {
    unregister();
    topic_ = std::move(other.topic_);
    options_ = other.options_;
    assigned_ = std::move(other.assigned_);
    cursors_ = std::move(other.cursors_);
    unregistered_ = std::move(other.unregistered_);
    views_ = std::move(other.views_);
    inflater_ = std::move(other.inflater_);
    disk_ = std::move(other.disk_);
    next_ = other.next_;
    next_claim_check_ = other.next_claim_check_;
    claim_blocked_ = other.claim_blocked_;
    other.cursors_.clear();
  }
  return *this;
}

void Consumer::unregister() noexcept {
  for (Cursor& c : cursors_) {
    log::PartitionRing::unregister_reader(c.reader);
    c.reader = nullptr;
  }
}

Status Consumer::assign(std::span<const std::int32_t> partitions) {
  std::vector<std::int32_t> sorted(partitions.begin(), partitions.end());
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    return Status(Code::kInvalidArgument, "a partition is assigned twice");
  for (std::int32_t p : sorted)
    if (Status s = check_partition(p); !s) return s;
  std::vector<Cursor> cursors;
  std::vector<std::int32_t> unregistered;
  for (std::int32_t p : partitions) {
    log::PartitionRing& ring = client::ring_of(*topic_, p);
    Cursor c{options_.start_at_earliest ? ring.earliest() : ring.latest()};
    c.ring = &ring;
    if (const log::Flusher* f = client::flusher_of(*topic_, p)) c.dir = f->dir();
    // Registered readers are what overflow=block waits for and what
    // `rill topic describe` lists; without a slot a reader of an
    // overflow=retain topic still reads (it only goes unlisted).
    auto reader = ring.register_reader(ipc::self(), c.at.next_offset);
    if (reader) {
      c.reader = *reader;
    } else if (ring.blocks_on_readers()) {
      for (Cursor& done : cursors) log::PartitionRing::unregister_reader(done.reader);
      return Status(reader.status().code(),
                    "topic '" + topic_->name() + "' partition " + std::to_string(p) + " already has " +
                        std::to_string(log::kReaderSlots) +
                        " live registered consumers, the most a partition holds; an overflow=block topic "
                        "must know every reader its producers wait for, so this one cannot join until "
                        "another closes");
    } else {
      unregistered.push_back(p);
    }
    cursors.push_back(std::move(c));
  }
  unregister();
  assigned_.assign(partitions.begin(), partitions.end());
  cursors_ = std::move(cursors);
  // Durable topics start at the files' first record, below the ring.
  if (options_.start_at_earliest)
    for (std::size_t i = 0; i < cursors_.size(); ++i)
      if (const std::int64_t start = cursors_[i].dir.empty() ? -1 : client::disk_start_offset(cursors_[i].dir);
          start >= 0 && start < cursors_[i].at.next_offset)
        (void)seek_disk(i, start);
  unregistered_ = std::move(unregistered);
  next_ = 0;
  return Status::ok();
}

Status Consumer::assign_all() {
  std::vector<std::int32_t> all(static_cast<std::size_t>(topic_->partition_count()));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int32_t>(i);
  return assign(all);
}

// Inlined into poll(), as are read_round() and read_partition(): a poll that
// finds records runs these three and nothing else.
[[gnu::always_inline]] inline void Consumer::publish_positions() noexcept {
  for (Cursor& c : cursors_)
    if (c.reader != nullptr) log::PartitionRing::publish_position(c.reader, c.at.next_offset);
}

[[gnu::always_inline]] inline std::size_t Consumer::read_round(PollResult& result) noexcept {
  const std::size_t n = cursors_.size();
  const std::size_t max = views_.size();
  std::size_t total = 0;
  // still_valid() judges this poll's views only, also for partitions this
  // poll does not get to (max reached): forget what earlier polls read.
  for (Cursor& c : cursors_) c.polled = false;
  // From next_ round to next_ - 1, wrapping without a division (a 64-bit
  // div was a fifth of a one-record poll).
  for (std::size_t k = 0, i = next_; k < n && total < max; ++k, i = i + 1 == n ? 0 : i + 1) {
    total += read_partition(i, total, result);
    if (!result.status.is_ok()) [[unlikely]]
      break;
  }
  next_ = next_ + 1 == n ? 0 : next_ + 1;
  return total;
}

[[gnu::always_inline]] inline std::size_t Consumer::read_partition(std::size_t i, std::size_t filled,
                                                                   PollResult& result) noexcept {
  Cursor& c = cursors_[i];
  if (c.disk) [[unlikely]]
    return read_disk(i, filled, result);
  RecordView* out = views_.data() + filled;
  const std::size_t room = views_.size() - filled;
  log::ReadBatch batch = c.ring->read(c.at, out, room, options_.verify_checksums);
  if (batch.status != log::ReadStatus::kOk) [[unlikely]] {
    if (batch.status == log::ReadStatus::kOutOfRange) {
      if (!reset_after_overrun(i, result)) return 0;
      batch = c.ring->read(c.at, out, room, options_.verify_checksums);
    }
    if (batch.status == log::ReadStatus::kCorrupt || batch.status == log::ReadStatus::kChecksum) {
      result.status = read_failed(i, batch.status);
      return 0;
    }
    if (batch.status != log::ReadStatus::kOk) return 0;  // overtaken again at once: next poll
  }
  c.polled_generation = batch.generation;
  c.polled = batch.count > 0;
  result.abandoned += static_cast<std::int64_t>(batch.abandoned);
  if (batch.count > 0 || batch.abandoned > 0) c.blocked_since = 0;
  // read() ends on a compressed batch with a view that stands for it.
  if (batch.count > 0 && log::is_compressed_batch(out[batch.count - 1])) [[unlikely]]
    return read_compressed(i, filled, batch.count - 1, result);
  return batch.count;
}

std::size_t Consumer::read_compressed(std::size_t i, std::size_t filled, std::size_t got, PollResult& result) noexcept {
  Cursor& c = cursors_[i];
  if (!inflater_) inflater_ = std::make_unique<client::BatchInflater>();
  const std::size_t end = views_.size();
  for (;;) {
    RecordView* at = views_.data() + filled + got;
    const RecordView batch = *at;  // inflate() writes records over it
    const client::BatchInflater::Inflated r =
        inflater_->inflate(batch, c.at, c.ring->max_frame_bytes(), filled + got > 0, &c.hold, at, end - filled - got);
    if (r.deferred) return got;  // this poll has decompressed enough; the batch waits for the next
    // As read() does after reading: bytes decompressed from a reused frame
    // (garbage, or records that are not these offsets') are an overrun, not
    // damage. Pairs with roll()'s release fence.
    if (!c.ring->generation_live(c.at.generation)) {
      c.hold.buffer = -1;
      if (got > 0) return got;  // the next poll's read() reports the overrun
      (void)reset_after_overrun(i, result);
      return 0;
    }
    if (!r.status.is_ok()) {
      // The records before the batch first; the next poll reports it (from
      // the same cursor, so the error names the batch's offset).
      if (got == 0) result.status = r.status.with_context("partition " + std::to_string(assigned_[i]));
      return got;
    }
    c.at.next_offset = static_cast<std::int64_t>(static_cast<std::uint64_t>(c.at.next_offset) + r.views);
    if (r.finished) {
      c.at.position += static_cast<std::uint32_t>(log::align_frame(batch.frame_size()));
      c.at.inner = 0;
    } else {
      c.at.inner += static_cast<std::uint32_t>(r.views);
    }
    got += r.views;
    if (!r.finished || filled + got == end) return got;
    // Room is left: read on past the batch, as read() would have.
    log::ReadBatch more = c.ring->read(c.at, views_.data() + filled + got, end - filled - got, options_.verify_checksums);
    if (more.status != log::ReadStatus::kOk) return got;  // reported by the next poll, after these records
    result.abandoned += static_cast<std::int64_t>(more.abandoned);
    const bool packed = more.count > 0 && log::is_compressed_batch(views_[filled + got + more.count - 1]);
    got += more.count - (packed ? 1 : 0);
    // still_valid() judges the oldest generation of the poll's views
    // (segments are reused oldest first): the first read's, already set.
    if (!packed) return got;
  }
}

std::size_t Consumer::read_disk(std::size_t i, std::size_t filled, PollResult& result) noexcept {
  Cursor& c = cursors_[i];
  if (!inflater_) inflater_ = std::make_unique<client::BatchInflater>();
  if (!disk_) disk_ = std::make_unique<client::DiskReads>();
  auto got = c.disk->read(views_.data() + filled, views_.size() - filled, c.ring->written_offset(),
                          options_.verify_checksums, c.ring->max_frame_bytes(), *inflater_, c.hold, disk_->keep);
  if (!got && got.status().code() == Code::kOffsetOutOfRange) {
    // Retention deleted the files the cursor was in: as an overrun of the ring.
    const std::int64_t start = client::disk_start_offset(c.dir);
    if (start > c.disk->next_offset()) {
      if (options_.on_overrun == OffsetReset::kError) {
        result.status = Status(Code::kOffsetOutOfRange, "partition " + std::to_string(assigned_[i]) + ": offset " +
                                                            std::to_string(c.disk->next_offset()) +
                                                            " was deleted by retention; the log starts at " +
                                                            std::to_string(start));
        result.out_of_range_partition = assigned_[i];
        result.earliest_offset = start;
        return 0;
      }
      result.skipped += start - c.disk->next_offset();
      if (!seek_disk(i, start)) {
        c.at = c.ring->earliest();
        c.disk.reset();
      }
      return 0;
    }
  }
  if (!got) {
    result.status = got.status().with_context("partition " + std::to_string(assigned_[i]));
    return 0;
  }
  c.at.next_offset = c.disk->next_offset();
  c.polled = false;  // views into the files: the ring's reuse does not touch them
  result.abandoned += static_cast<std::int64_t>(got->abandoned);
  // Caught up with the ring: read it from here on.
  if (c.hold.buffer < 0 && c.disk->next_offset() >= c.ring->earliest_offset()) {
    if (auto ring_at = c.ring->seek(c.disk->next_offset()); ring_at) {
      c.at = *ring_at;
      c.disk.reset();
    }
  }
  return got->views;
}

PollResult Consumer::poll(std::chrono::nanoseconds timeout) noexcept {
  PollResult result;
  if (cursors_.empty()) {
    result.status = Status(Code::kInvalidArgument, "poll() before assign(): the consumer has no partitions");
    return result;
  }
  publish_positions();
  if (disk_) [[unlikely]]
    disk_->keep.clear();  // the last poll's views are dead
  if (inflater_) [[unlikely]] {
    // The last poll's views are dead: its buffers are free, but for the
    // batches it took only part of.
    inflater_->begin_poll();
    for (const Cursor& c : cursors_) inflater_->keep(c.hold);
  }
  // The deadline is computed only when there is nothing to return at once:
  // reading the clock costs as much as reading a record.
  constexpr std::int64_t kNotComputed = -2;
  std::int64_t deadline = kNotComputed;  // -1: no deadline
  for (;;) {
    const std::size_t total = read_round(result);
    if (total > 0 || result.skipped > 0 || result.abandoned > 0 || !result.status.is_ok()) {
      result.records = std::span<const RecordView>(views_.data(), total);
      return result;
    }
    const std::int64_t now = log::monotonic_ns();
    if (deadline == kNotComputed) deadline = timeout.count() < 0 ? -1 : now + timeout.count();
    // Claims whose producer died: looked for before this call may return, so
    // that the patience adds up across polls of any timeout, poll(0) too.
    const bool looked = now >= next_claim_check_;
    if (looked) {
      if (look_for_dead_claims(now)) continue;
      // Nothing to read and no dead claim to pass: is a ring damaged? As
      // rarely as the claims are looked at, for the same reasons.
      if (Status s = check_rings(); !s) {
        result.status = std::move(s);
        return result;
      }
    }
    if (deadline >= 0 && now >= deadline) return result;
    wait_for_records(deadline, looked);
  }
}

bool Consumer::reset_after_overrun(std::size_t i, PollResult& result) noexcept {
  Cursor& c = cursors_[i];
  // A durable topic's files hold what the ring reused: nothing is lost.
  if (seek_disk(i, c.at.next_offset)) return true;
  const log::ReadCursor earliest = c.ring->earliest();
  if (earliest.next_offset < c.at.next_offset) {
    // Reused bytes are older than every retained one: segment headers
    // that say otherwise are damaged, and resetting would go back.
    result.status = Status(Code::kCorrupt, "partition " + std::to_string(assigned_[i]) + ": offset " +
                                               std::to_string(c.at.next_offset) +
                                               " reads as overwritten, yet the earliest retained offset " +
                                               std::to_string(earliest.next_offset) +
                                               " is before it (damaged segment headers)");
    return false;
  }
  if (options_.on_overrun == OffsetReset::kError) {
    result.status = Status(Code::kOffsetOutOfRange, "partition " + std::to_string(assigned_[i]) + ": offset " +
                                                        std::to_string(c.at.next_offset) +
                                                        " was overwritten by the ring; the earliest retained offset is " +
                                                        std::to_string(earliest.next_offset));
    result.out_of_range_partition = assigned_[i];
    result.earliest_offset = earliest.next_offset;
    return false;
  }
  // Offsets of damaged segment headers may be far apart: no signed overflow.
  const std::uint64_t lost =
      static_cast<std::uint64_t>(earliest.next_offset) - static_cast<std::uint64_t>(c.at.next_offset);
  const auto room = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() - result.skipped);
  result.skipped += static_cast<std::int64_t>(std::min(lost, room));
  c.at = earliest;
  return true;
}

Status Consumer::read_failed(std::size_t i, log::ReadStatus status) const {
  const std::string where = "partition " + std::to_string(assigned_[i]) + ": ";
  const std::string offset = std::to_string(cursors_[i].at.next_offset);
  // read() checked the bytes' generation after the checksum: a frame
  // reused meanwhile reads as an overrun, so a mismatch is damage.
  if (status == log::ReadStatus::kChecksum)
    return Status(Code::kCorrupt, where + "checksum mismatch at offset " + offset);
  return Status(Code::kCorrupt, where + "bad record length, offset or compression codec at offset " + offset);
}

Status Consumer::check_rings() const {
  for (std::size_t i = 0; i < cursors_.size(); ++i)
    if (!cursors_[i].disk)
      if (Status s = cursors_[i].ring->check(cursors_[i].at); !s) return s.with_context("topic '" + topic_->name() + "'");
  return Status::ok();
}

void Consumer::wait_for_records(std::int64_t deadline, bool looked) noexcept {
  // Woken for the next look only while it is due: a cursor waits on a
  // claim, or this round skipped its look (too soon after the last). A
  // consumer that looked and found no claim sleeps until records come or
  // its deadline: a claim made later matters only once records follow it,
  // and the producer committing those rings the doorbell.
  std::int64_t wake = deadline;
  if (!looked || claim_blocked_) wake = wake < 0 ? next_claim_check_ : std::min(wake, next_claim_check_);
  auto ready = [this] {
    for (const Cursor& c : cursors_)
      if (c.disk ? c.disk->next_offset() < c.ring->written_offset() : c.ring->readable(c.at)) return true;
    return false;
  };
  // Every partition of a topic rings the same doorbell.
  log::wait_on(cursors_[0].ring->doorbell(), options_.wait, wake, ready);
}

bool Consumer::look_for_dead_claims(std::int64_t now) noexcept {
  // A partition whose next record is claimed but not committed: once it has
  // been so for the patience, abandon the claim if its producer is dead (then
  // read on at once); a live producer, even a stopped one, is waited for and
  // looked at again after as long. Only between empty waits, and at most
  // once per patience: the check reads the producers' tail, whose cache line
  // must not be pulled away from them while records flow, and a claim's owner
  // is looked up in /proc.
  const std::int64_t patience = std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::nanoseconds>(options_.abandoned_claim_timeout).count());
  std::int64_t next = now + std::max<std::int64_t>(patience, kMinClaimCheckIntervalNs);
  bool recovered = false, blocked = false;
  for (std::size_t i = 0; i < cursors_.size(); ++i) {
    Cursor& c = cursors_[i];
    log::PartitionRing& ring = client::ring_of(*topic_, assigned_[i]);
    if (c.disk || !ring.blocked(c.at)) {
      c.blocked_since = 0;
      continue;
    }
    if (c.blocked_since == 0 || c.blocked_offset != c.at.next_offset) {
      c.blocked_since = now;
      c.blocked_offset = c.at.next_offset;
    }
    if (now - c.blocked_since >= patience) {
      if (ring.recover_abandoned(c.at.generation) > 0) {
        c.blocked_since = 0;
        recovered = true;
        continue;
      }
      c.blocked_since = now;  // alive: look again after another patience
    }
    blocked = true;
    next = std::min(next, c.blocked_since + std::max<std::int64_t>(patience, kMinClaimCheckIntervalNs));
  }
  next_claim_check_ = next;
  claim_blocked_ = blocked;
  return recovered;
}

bool Consumer::still_valid() const noexcept {
  for (std::size_t i = 0; i < cursors_.size(); ++i)
    if (cursors_[i].polled && !client::ring_of(*topic_, assigned_[i]).generation_live(cursors_[i].polled_generation)) return false;
  return true;
}

std::int64_t Consumer::position(std::int32_t p) const noexcept {
  for (std::size_t i = 0; i < assigned_.size(); ++i)
    if (assigned_[i] == p) return cursors_[i].at.next_offset;
  return -1;
}

Status Consumer::seek(std::int32_t p, std::int64_t offset) {
  for (std::size_t i = 0; i < assigned_.size(); ++i) {
    if (assigned_[i] != p) continue;
    auto c = client::ring_of(*topic_, p).seek(offset);
    if (!c && c.status().code() == Code::kOffsetOutOfRange && offset < cursors_[i].ring->earliest_offset() &&
        seek_disk(i, offset))
      return Status::ok();
    if (!c) return c.status().with_context("partition " + std::to_string(p));
    cursors_[i].at = *c;
    cursors_[i].disk.reset();
    cursors_[i].hold = {};
    cursors_[i].polled = false;
    return Status::ok();
  }
  return Status(Code::kInvalidArgument, "partition " + std::to_string(p) + " is not assigned to this consumer");
}

Status Consumer::seek_to_beginning() {
  for (std::size_t i = 0; i < assigned_.size(); ++i) {
    cursors_[i] = Cursor{.at = cursors_[i].ring->earliest(), .reader = cursors_[i].reader, .ring = cursors_[i].ring,
                         .dir = cursors_[i].dir};
    if (const std::int64_t start = cursors_[i].dir.empty() ? -1 : client::disk_start_offset(cursors_[i].dir);
        start >= 0 && start < cursors_[i].at.next_offset)
      (void)seek_disk(i, start);
  }
  return Status::ok();
}

Status Consumer::seek_to_end() {
  for (std::size_t i = 0; i < assigned_.size(); ++i)
    cursors_[i] = Cursor{.at = cursors_[i].ring->latest(), .reader = cursors_[i].reader, .ring = cursors_[i].ring,
                         .dir = cursors_[i].dir};
  return Status::ok();
}

Status Consumer::seek_to_time(std::int64_t timestamp_ns) {
  for (std::size_t i = 0; i < assigned_.size(); ++i) {
    auto c = client::ring_of(*topic_, assigned_[i]).seek_time(timestamp_ns);
    if (!c) return c.status().with_context("partition " + std::to_string(assigned_[i]));
    cursors_[i] = Cursor{.at = *c, .reader = cursors_[i].reader, .ring = cursors_[i].ring, .dir = cursors_[i].dir};
    // A durable topic: the files may hold older records than the ring's
    // first; the target is among them unless the ring's answer is past its start.
    if (cursors_[i].dir.empty() || c->next_offset > cursors_[i].ring->earliest_offset()) continue;
    const std::int64_t limit = cursors_[i].ring->earliest_offset();
    auto on_disk = log::offset_for_time_on_disk(io::file_system(), cursors_[i].dir, timestamp_ns, limit);
    if (!on_disk) return on_disk.status().with_context("partition " + std::to_string(assigned_[i]));
    if (*on_disk < limit) (void)seek_disk(i, *on_disk);
  }
  return Status::ok();
}

Result<std::int64_t> Consumer::earliest_offset(std::int32_t p) const {
  if (Status s = check_partition(p); !s) return s;
  // A durable topic's earliest is in its files.
  if (const log::Flusher* f = client::flusher_of(*topic_, p))
    if (const std::int64_t start = client::disk_start_offset(f->dir()); start >= 0) return start;
  return client::ring_of(*topic_, p).earliest_offset();
}

Result<std::int64_t> Consumer::latest_offset(std::int32_t p) const {
  if (Status s = check_partition(p); !s) return s;
  return client::ring_of(*topic_, p).latest_offset();
}

Status Consumer::check_partition(std::int32_t p) const {
  if (p >= 0 && p < topic_->partition_count()) return Status::ok();
  return Status(Code::kInvalidArgument, "partition " + std::to_string(p) + " does not exist (topic '" + topic_->name() +
                                            "' has " + std::to_string(topic_->partition_count()) + ")");
}

}  // namespace rill
