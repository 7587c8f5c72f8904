// PartitionRing's side of durable partitions: the flush lease, the progress
// words producers wait on, the runs of committed frames the flusher copies
// to the files, and the roll's wait for them (doc/log_format.md, "Durable
// partitions"). The files themselves are core/log/disk_log's.
#include <algorithm>
#include <cstdint>

#include "core/log/partition_ring.h"
#include "core/log/ring_words.h"

namespace rill::log {

namespace {

// Raises `word` to at least `value`.
void store_max(std::atomic<std::int64_t>& word, std::int64_t value) noexcept {
  // Relaxed load: the CAS below is what orders; acq_rel: as every RMW of these words.
  std::int64_t seen = word.load(std::memory_order_relaxed);
  while (seen < value && !word.compare_exchange_weak(seen, value, std::memory_order_acq_rel, std::memory_order_relaxed)) {
  }
}

}  // namespace

bool PartitionRing::take_flush_lease(const ipc::ProcessId& owner, std::int32_t* holder) noexcept {
  const std::uint64_t me = owner.packed();
  // Pairs with the acq_rel CASes below (a taker's stores of progress happen after its CAS).
  std::uint64_t seen = header_->flusher.load(std::memory_order_acquire);
  for (;;) {
    if (seen == me) return true;
    if (seen != 0 && ipc::liveness_packed(seen) == ipc::Liveness::kAlive) {
      if (holder != nullptr) *holder = ipc::ProcessId::unpacked(seen).pid;
      return false;
    }
    // Free, or a dead holder's: acq_rel, so that the taker sees the progress
    // the last holder published, and its own comes after.
    if (header_->flusher.compare_exchange_strong(seen, me, std::memory_order_acq_rel, std::memory_order_acquire))
      return true;
  }
}

void PartitionRing::release_flush_lease(const ipc::ProcessId& owner) noexcept {
  std::uint64_t mine = owner.packed();
  // Release: the holder's progress stores come before the lease is free.
  (void)header_->flusher.compare_exchange_strong(mine, 0, std::memory_order_release, std::memory_order_relaxed);
  ring_doorbell_fenced(header_->flush_bell);  // a waiting producer may take it over
}

std::int32_t PartitionRing::flush_lease_holder() noexcept {
  // Pairs with the CASes in take_flush_lease().
  std::uint64_t seen = header_->flusher.load(std::memory_order_acquire);
  if (seen == 0) return 0;
  if (ipc::liveness_packed(seen) == ipc::Liveness::kAlive) return ipc::ProcessId::unpacked(seen).pid;
  // acq_rel: as take_flush_lease()'s CAS.
  (void)header_->flusher.compare_exchange_strong(seen, 0, std::memory_order_acq_rel, std::memory_order_relaxed);
  return 0;
}

void PartitionRing::publish_flushed(std::int64_t written, std::int64_t durable) noexcept {
  // Release (inside store_max's CAS): pairs with written_offset()'s and
  // durable_offset()'s acquire loads; a producer that sees its offset there
  // may acknowledge its record.
  store_max(header_->written_offset, written);
  store_max(header_->durable_offset, durable);
  ring_doorbell_fenced(header_->flush_bell);
}

bool PartitionRing::holds_flush_lease(const ipc::ProcessId& owner) const noexcept {
  return header_->flusher.load(std::memory_order_acquire) == owner.packed();  // pairs with take_flush_lease()'s CAS
}

void PartitionRing::request_flush(std::int64_t offset, bool sync) noexcept {
  store_max(header_->write_requested, offset);
  if (sync) store_max(header_->sync_requested, offset);
}

void PartitionRing::wake_flusher() noexcept { ring_doorbell_fenced(header_->flush_wanted); }

std::pair<std::int64_t, std::int64_t> PartitionRing::flush_requests() const noexcept {
  // Acquire: pairs with request_flush()'s CASes.
  return {header_->write_requested.load(std::memory_order_acquire),
          header_->sync_requested.load(std::memory_order_acquire)};
}

PartitionRing::FrameRun PartitionRing::frame_run(ReadCursor& cursor, std::uint32_t max_bytes) const noexcept {
  const std::uint64_t capacity = data_capacity_;
  FrameRun run;
  for (;;) {
    ReadCursor c = cursor;
    const std::byte* d = data(c.generation);
    const SegmentHeader* h = segment_header(c.generation);
    run.first_offset = run.end_offset = c.next_offset;
    run.bytes = d + c.position;
    bool segment_end = false;
    std::uint64_t at = c.position;
    // Relaxed base offset: as in read() (published by the releases the
    // cursor's generation was reached through).
    if (c.inner != 0 || (c.position == 0 && static_cast<std::int64_t>(h->base_offset.load(std::memory_order_relaxed)) !=
                                                 c.next_offset)) {
      run.status = ReadStatus::kCorrupt;
      return run;
    }
    while (at - c.position < max_bytes || at == c.position) {
      if (at + kFrameAlignment > capacity) {
        // Pairs with roll()'s release store of `sealed`.
        segment_end = h->sealed.load(std::memory_order_acquire) != 0;
        break;
      }
      const std::uint64_t word = load_commit(d + at);  // acquire: pairs with commit()'s release store
      if (!committed(word)) break;
      if (is_end_of_segment(word)) {
        segment_end = true;
        break;
      }
      const std::uint64_t n = frame_offsets(d + at, word, capacity - at, run.end_offset);
      const std::uint64_t aligned = align_frame(commit_length(word));
      if (n == 0 || aligned > capacity - at) {
        run.status = ReadStatus::kCorrupt;
        break;
      }
      at += aligned;
      run.end_offset = advance(run.end_offset, n);
    }
    // Seqlock-style check: pairs with the release fence in roll() after retiring a segment.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (h->generation.load(std::memory_order_relaxed) != c.generation) {  // relaxed: ordered by the fence
      run = FrameRun{};
      run.status = ReadStatus::kOutOfRange;
      return run;
    }
    run.size = static_cast<std::uint32_t>(at - c.position);
    cursor.position = static_cast<std::uint32_t>(at);
    cursor.next_offset = run.end_offset;
    if (!segment_end || run.status != ReadStatus::kOk) return run;
    // The segment ends here: the cursor moves to the next one (whose base
    // offset the seal's count must give), so that it never waits on a
    // segment the ring may retire once these bytes are written.
    const std::uint64_t sealed = h->sealed.load(std::memory_order_relaxed);  // acquired above
    if (sealed == 0 || (sealed & 0xFFFFFFFFu) != at) {
      run.status = ReadStatus::kCorrupt;
      return run;
    }
    cursor = segment_start(c.generation + 1);
    if (cursor.next_offset != run.end_offset) {
      run.status = ReadStatus::kCorrupt;
      return run;
    }
    if (run.size > 0) return run;
  }
}

bool PartitionRing::await_flush(std::uint64_t generation, std::int64_t deadline_ns, std::int32_t* stalled_by) noexcept {
  const std::uint64_t n = segment_count_;
  if (generation + 3 < n) return true;  // the roll retires no generation yet
  // As await_readers(): the roll out of `generation` hands generation+3-N's
  // bytes on; the files must hold every offset before the next one's base.
  // Relaxed: stored by the roll into that generation before its release of
  // current_generation, which this producer acquired.
  const auto boundary =
      static_cast<std::int64_t>(segment_header(generation + 4 - n)->base_offset.load(std::memory_order_relaxed));
  // A deleted topic's files take nothing more: its ring rolls on in memory.
  while (written_offset() < boundary && !deleted()) {
    request_flush(boundary, false);
    // This process writes the files if it may (it holds or takes the lease);
    // otherwise the holder's flusher does, woken by the request.
    const bool wrote = flush_hook_ != nullptr && flush_hook_->flush_now(*this);
    if (!wrote) wake_flusher();
    if (written_offset() >= boundary) break;
    if (monotonic_ns() > deadline_ns) {
      *stalled_by = flush_lease_holder();
      return false;
    }
    if (!wrote)
      (void)wait_flush(std::min(deadline_ns, monotonic_ns() + 1'000'000), [&] { return written_offset() >= boundary; });
  }
  return true;
}

}  // namespace rill::log
