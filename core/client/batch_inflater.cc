#include "core/client/batch_inflater.h"

#include <algorithm>
#include <new>
#include <span>
#include <string>

#include "core/log/frame_codec.h"

namespace rill::client {

void BatchInflater::begin_poll() noexcept {
  for (Buffer& b : buffers_) b.in_use = false;
  spent_ = 0;
}

void BatchInflater::keep(const Hold& hold) noexcept {
  if (hold.buffer >= 0 && static_cast<std::size_t>(hold.buffer) < buffers_.size())
    buffers_[static_cast<std::size_t>(hold.buffer)].in_use = true;
}

std::int32_t BatchInflater::take(std::size_t bytes) noexcept {
  // The smallest free buffer that fits; else the largest free one, grown; else a new one.
  std::int32_t fits = -1, largest = -1;
  for (std::size_t i = 0; i < buffers_.size(); ++i) {
    const Buffer& b = buffers_[i];
    if (b.in_use) continue;
    if (b.capacity >= bytes && (fits < 0 || b.capacity < buffers_[static_cast<std::size_t>(fits)].capacity))
      fits = static_cast<std::int32_t>(i);
    if (largest < 0 || b.capacity > buffers_[static_cast<std::size_t>(largest)].capacity)
      largest = static_cast<std::int32_t>(i);
  }
  std::int32_t chosen = fits;
  if (chosen < 0) {
    // Warm-up: whole pages, and no less than 64 KiB, so that batches of
    // similar sizes soon find a buffer that fits.
    const std::size_t capacity = std::max<std::size_t>(64 << 10, (bytes + 4095) & ~std::size_t{4095});
    std::unique_ptr<std::byte[]> bytes_of(new (std::nothrow) std::byte[capacity]);
    if (!bytes_of) return -1;
    if (largest < 0) {
      buffers_.push_back(Buffer{});
      largest = static_cast<std::int32_t>(buffers_.size() - 1);
    }
    Buffer& b = buffers_[static_cast<std::size_t>(largest)];
    b.bytes = std::move(bytes_of);
    b.capacity = capacity;
    chosen = largest;
  }
  buffers_[static_cast<std::size_t>(chosen)].in_use = true;
  return chosen;
}

BatchInflater::Inflated BatchInflater::inflate(const RecordView& batch, const log::ReadCursor& at,
                                               std::uint32_t max_frame_bytes, bool have_records, Hold* hold,
                                               RecordView* out, std::size_t max) noexcept {
  Inflated r;
  const log::CompressedBatch b = log::compressed_batch(batch);
  const auto where = [&] {
    return std::string(compression_name(b.codec)) + "-compressed batch at offset " + std::to_string(at.next_offset);
  };
  const bool held = hold->buffer >= 0 && hold->generation == at.generation && hold->position == at.position &&
                    hold->frame_length == batch.frame_size() && hold->checksum == batch.checksum();
  if (!held) {
    // The batch held before (a seek moved the cursor away) has no view in
    // this poll: its buffer is free.
    if (hold->buffer >= 0) buffers_[static_cast<std::size_t>(hold->buffer)].in_use = false;
    hold->buffer = -1;
    if (b.records_bytes > max_frame_bytes - log::kBatchHeaderSize) {
      r.status = Status(Code::kCorrupt, where() + " declares " + std::to_string(b.records_bytes) +
                                            " bytes of records, more than a frame of the partition holds (" +
                                            std::to_string(max_frame_bytes) + " bytes)");
      return r;
    }
    if (have_records && spent_ + b.records_bytes > kPollBudgetBytes) {
      r.deferred = true;
      return r;
    }
    const std::int32_t buffer = take(b.records_bytes);
    if (buffer < 0) {
      r.status = Status(Code::kResourceExhausted, where() + ": no memory for its " + std::to_string(b.records_bytes) +
                                                      " bytes of records, decompressed");
      return r;
    }
    Buffer& into = buffers_[static_cast<std::size_t>(buffer)];
    if (Status s = decompressor_.decompress(b.codec, b.stored, std::span<std::byte>(into.bytes.get(), b.records_bytes));
        !s) {
      into.in_use = false;
      r.status = s.with_context(where());
      return r;
    }
    spent_ += b.records_bytes;
    *hold = Hold{.buffer = buffer,
                 .generation = at.generation,
                 .position = at.position,
                 .frame_length = batch.frame_size(),
                 .checksum = batch.checksum(),
                 .records_bytes = b.records_bytes};
  }
  // The size decompressed, as held: the header in the ring may have changed
  // since (reused bytes, which the caller's generation check reports).
  const std::span<const std::byte> records(buffers_[static_cast<std::size_t>(hold->buffer)].bytes.get(),
                                           hold->records_bytes);
  const log::Decoded d =
      log::decode_batch_records(batch.frame(), batch.frame_size(), records, batch.partition(), at.inner, out, max);
  if (d.check != log::FrameCheck::kOk) {
    buffers_[static_cast<std::size_t>(hold->buffer)].in_use = false;
    hold->buffer = -1;
    r.status = Status(Code::kCorrupt, where() + ": its " + std::to_string(records.size()) +
                                          " bytes of records, decompressed, do not parse as its " +
                                          std::to_string(b.count) + " records");
    return r;
  }
  r.views = d.views;
  r.finished = d.views == d.offsets;
  // A finished batch's buffer stays in use (this poll's views point into
  // it) until the next begin_poll().
  if (r.finished) hold->buffer = -1;
  return r;
}

}  // namespace rill::client
