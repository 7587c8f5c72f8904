#include "core/log/flusher.h"

#include <span>
#include <utility>

#include "ipc/clock.h"
#include "ipc/liveness.h"

namespace rill::log {

namespace {

// The most one write hands the kernel: large enough to stream, small enough
// that the progress producers wait on moves often.
constexpr std::uint32_t kMaxRunBytes = 4u << 20;
// How long the flusher waits at an uncommitted claim before it looks whether
// its owner died (as a consumer does, ConsumerOptions::abandoned_claim_timeout).
constexpr std::int64_t kAbandonPatienceNs = 10'000'000;

}  // namespace

Flusher::Flusher(const PartitionRing& ring, std::string dir, const DiskLogConfig& config,
                 std::shared_ptr<const void> keep_alive)
    : keep_alive_(std::move(keep_alive)), ring_(ring), dir_(std::move(dir)), config_(config) {}

Flusher::~Flusher() { close(); }

Status Flusher::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

Status Flusher::open_files() {
  DiskLogConfig config = config_;
  config.deleted = [ring = ring_] { return ring.deleted(); };
  auto disk = DiskLog::open(io::file_system(), dir_, config, ring_.start_offset());
  if (!disk) return disk.status().with_context("partition " + std::to_string(ring_.id()));
  if (!(*disk)->damage().is_ok()) return (*disk)->damage();
  // The files end where the last holder left them: at or past what it
  // published (it may have died between writing and publishing), and never
  // before the ring's start.
  const std::int64_t end = (*disk)->end_offset();
  if (end < ring_.written_offset() || end < ring_.start_offset())
    return Status(Code::kCorrupt, dir_ + " ends at offset " + std::to_string(end) + ", before the " +
                                      std::to_string(ring_.written_offset()) +
                                      " the partition recorded as written: records are missing from the files");
  auto cursor = ring_.seek(end);
  if (!cursor)
    return cursor.status().with_context(dir_ + " ends at offset " + std::to_string(end) +
                                        ", which the partition's memory no longer holds");
  cursor_ = *cursor;
  disk_ = std::move(*disk);
  ring_.publish_flushed(end, disk_->synced_offset());
  return Status::ok();
}

Status Flusher::write_committed() {
  for (;;) {
    const ReadCursor before = cursor_;
    PartitionRing::FrameRun run = ring_.frame_run(cursor_, kMaxRunBytes);
    if (run.status == ReadStatus::kOutOfRange) {
      // The cursor's segment was reused. Harmless if the cursor stood at its
      // end with everything before written (the ring rolled on before this
      // flusher saw the segment's end): the offset is then in a newer
      // segment. Otherwise the files missed records: a bug.
      auto again = ring_.seek(cursor_.next_offset);
      if (again) {
        cursor_ = *again;
        continue;
      }
      return Status(Code::kInternal, dir_ + ": the partition reused bytes at offset " +
                                         std::to_string(cursor_.next_offset) +
                                         " before they were written to its files (" + again.status().message() + ")");
    }
    if (run.size > 0) {
      blocked_since_ = 0;
      if (Status s = disk_->append(std::span(run.bytes, run.size), false); !s) {
        cursor_ = before;  // not written: the next flush writes the same frames again
        return s;
      }
      ring_.publish_flushed(disk_->end_offset(), disk_->synced_offset());
    }
    if (run.status == ReadStatus::kCorrupt)
      return Status(Code::kCorrupt, dir_ + ": the frame at offset " + std::to_string(cursor_.next_offset) +
                                        " in memory does not decode; it was not written to the files");
    if (run.size > 0) continue;
    // Nothing committed at the cursor. A claim there whose owner died is
    // abandoned after a while, as a consumer would.
    if (!ring_.blocked(cursor_)) {
      blocked_since_ = 0;
      return Status::ok();
    }
    const std::int64_t now = ipc::monotonic_ns();
    if (blocked_since_ == 0) blocked_since_ = now;
    if (now - blocked_since_ < kAbandonPatienceNs || ring_.recover_abandoned(cursor_.generation) == 0)
      return Status::ok();
  }
}

bool Flusher::flush(bool sync) noexcept {
  std::int32_t holder = 0;
  if (!ring_.take_flush_lease(ipc::self(), &holder)) return false;
  {
    std::lock_guard lock(mu_);
    flush_locked(sync);
  }
  flushes_.fetch_add(1, std::memory_order_release);  // pairs with flushes()' acquire load
  ring_.wake_flush_waiters();  // see try_flush()
  return true;
}

Flusher::Outcome Flusher::try_flush() noexcept {
  std::int32_t holder = 0;
  if (!ring_.take_flush_lease(ipc::self(), &holder)) return Outcome::kNotHolder;
  {
    std::unique_lock lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) return Outcome::kBusy;
    flush_locked(false);
  }
  // Once the lock is free: a waiter that found it taken (kBusy) and whose
  // record this flush did not cover tries again now, rather than at its
  // next timeout (publish_flushed() rang while the lock was still held).
  flushes_.fetch_add(1, std::memory_order_release);  // pairs with flushes()' acquire load
  ring_.wake_flush_waiters();
  return Outcome::kDone;
}

void Flusher::flush_locked(bool sync) noexcept {
  // A deleted topic's files are gone (or going): nothing more is written,
  // and the producers still waiting for them are told why.
  if (ring_.deleted()) {
    status_ = topic_deleted(dir_);
    return;
  }
  // A failure is reported (status()) and tried again by the next flush: a
  // full disk may have room again. The files refuse for good what must not
  // be retried (a failed sync, damage): DiskLog keeps those.
  if (!disk_) {
    if (Status s = open_files(); !s) {
      status_ = s;
      return;
    }
  }
  if (Status s = write_committed(); !s) {
    status_ = s;
    return;
  }
  const auto [write_wanted, sync_wanted] = ring_.flush_requests();
  (void)write_wanted;
  if (sync || sync_wanted > disk_->synced_offset()) {
    if (Status s = disk_->sync(); !s) {
      status_ = s;
      return;
    }
    ring_.publish_flushed(disk_->end_offset(), disk_->synced_offset());
  }
  // Retention, at most once a second (it reads the clock and the file list).
  if ((config_.retention_bytes > 0 || config_.retention_ms > 0) && ipc::monotonic_ns() >= next_retention_) {
    next_retention_ = ipc::monotonic_ns() + 1'000'000'000;
    const std::int64_t min_timestamp =
        config_.retention_ms > 0 ? ipc::realtime_ns() - config_.retention_ms * 1'000'000 : INT64_MIN;
    if (auto removed = disk_->apply_retention(config_.retention_bytes, min_timestamp); !removed) {
      status_ = removed.status();
      return;
    }
  }
  status_ = Status::ok();
}

bool Flusher::flush_now(PartitionRing&) noexcept { return flush(false); }

bool Flusher::holds_lease() const noexcept { return ring_.holds_flush_lease(ipc::self()); }

bool Flusher::flush_if_needed() noexcept {
  const bool retention = config_.retention_bytes > 0 || config_.retention_ms > 0;
  if (!retention && !holds_lease()) {
    // A free lease is taken for records that nobody wrote since the last
    // look (a producer that waits for the files writes its own at once, and
    // should keep the lease: its waits then need no other process).
    const std::int64_t end = ring_.latest_offset();
    const bool stale = unwritten_seen_ > ring_.written_offset();
    unwritten_seen_ = end;
    if (!stale) return false;
  }
  return flush(false);
}

void Flusher::close() noexcept {
  (void)flush(true);
  std::lock_guard lock(mu_);
  if (disk_) {
    disk_.reset();  // a clean close seals the files' sync mark
    ring_.release_flush_lease(ipc::self());
  }
}

}  // namespace rill::log
