// Flusher: copies one durable partition's committed frames from its ring to
// its files (DiskLog), in this process, while this process holds the
// partition's flush lease (PartitionRing::take_flush_lease()).
//
// No daemon: every process that opens a durable partition has a Flusher
// for it. At most one holds the lease and writes; when it dies (pid + start
// time, as for claims) the next flush_now() of another process takes the
// lease over, reopens the files (recovery cuts what the dead one left torn),
// and goes on from the end of the files, which the ring still holds: a roll
// never reuses bytes the files lack (PartitionRing::await_flush()).
//
// flush_now() is what a producer waiting at `written` or `fsync`, a roll
// waiting for the files, and the namespace's flusher thread call: whoever
// comes first writes everything committed so far (and syncs once for every
// waiter: group commit), the others find it done.
//
// Thread safety: every method may be called from any thread of the process;
// one flush runs at a time (a mutex, off the produce and consume paths).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/log/disk_log.h"
#include "core/log/partition_ring.h"

namespace rill::log {

class Flusher final : public PartitionRing::FlushHook {
 public:
  // `ring` views memory that `keep_alive` (if given) keeps mapped, or that
  // outlives the Flusher; `dir` is the partition's folder.
  Flusher(const PartitionRing& ring, std::string dir, const DiskLogConfig& config,
          std::shared_ptr<const void> keep_alive = nullptr);
  ~Flusher() override;
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  // Writes every committed frame to the files, and syncs them if asked
  // (`sync`) or if a producer waits for it; publishes the progress. False
  // (nothing done) if another live process holds the lease; true otherwise,
  // also after an error, which status() then names.
  bool flush(bool sync) noexcept;
  // For a producer waiting for the files: flush(false), unless another
  // thread of this process is flushing now (kBusy: its flush publishes
  // progress and then wakes the waiters, who look again - so the sends that
  // committed while one write and fdatasync ran share the next one, rather
  // than queueing on the lock for one each); kNotHolder if another live
  // process holds the lease.
  enum class Outcome : std::uint8_t { kDone, kBusy, kNotHolder };
  Outcome try_flush() noexcept;
  // How many flushes of this process have ended; read before try_flush(),
  // a change after kBusy means the lock is free again (the flush that ended
  // also rang the partition's flush doorbell).
  std::uint64_t flushes() const noexcept {
    return flushes_.load(std::memory_order_acquire);  // pairs with the increments after each flush
  }
  // FlushHook: flush(false), for a roll that waits for the files.
  bool flush_now(PartitionRing& ring) noexcept override;
  // For the process's flusher thread (one thread): flush(false), but a free
  // lease is taken only when there is retention to apply or something to
  // write that was already there at the previous call (offsets claimed then
  // that the files still lack: no producer is writing them); false when
  // nothing was done.
  bool flush_if_needed() noexcept;
  // True while this process holds the partition's flush lease.
  bool holds_lease() const noexcept;
  // Sleeps until a producer waits for more than the files hold, stop()
  // returns true, or the deadline (monotonic ns); for the lease holder's thread.
  template <typename Stop>
  void wait_for_request(std::int64_t deadline_ns, Stop stop) const noexcept {
    (void)ring_.wait_flush_request(deadline_ns, stop);
  }
  // True if a producer waits for more than the files hold.
  bool request_pending() const noexcept { return ring_.flush_pending(); }

  // Gives the lease back after a last flush and sync (a clean close).
  void close() noexcept;

  // OK, or the error that stopped the last flush (disk full, I/O error, a
  // failed sync, damaged files): producers waiting for the files report it.
  Status status() const;
  // The files, once this process has opened them (while it held the lease).
  const DiskLog* disk() const noexcept { return disk_.get(); }
  // The partition's folder.
  const std::string& dir() const noexcept { return dir_; }

 private:
  void flush_locked(bool sync) noexcept;  // under mu_, holding the lease
  Status open_files();
  Status write_committed();

  std::shared_ptr<const void> keep_alive_;
  PartitionRing ring_;
  std::string dir_;
  DiskLogConfig config_;
  mutable std::mutex mu_;
  std::unique_ptr<DiskLog> disk_;  // while this process holds the lease
  std::atomic<std::uint64_t> flushes_{0};  // flushes ended, off mu_ (flushes())
  ReadCursor cursor_;              // the ring at the files' end
  Status status_;
  std::int64_t blocked_since_ = 0;  // monotonic ns: when the flusher first waited at an uncommitted claim
  std::int64_t next_retention_ = 0;  // monotonic ns: when retention is next applied
  std::int64_t unwritten_seen_ = 0;  // flush_if_needed(): the ring's end at its last look
};

}  // namespace rill::log
