#include "core/log/frame_codec.h"

#include <xxhash.h>

#include "core/format/codec.h"

namespace rill::log {
namespace {

template <typename T>
std::byte* put(std::byte* at, T v) noexcept {
  std::memcpy(at, &v, sizeof v);  // host is little-endian, as the format
  return at + sizeof v;
}
template <typename T>
T get(const std::byte* at) noexcept {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}
std::byte* put_bytes(std::byte* at, std::string_view s) noexcept {
  if (!s.empty()) std::memcpy(at, s.data(), s.size());
  return at + s.size();
}
// Offsets and timestamps come from shared memory: they advance modulo 2^64,
// never by a signed overflow (undefined behaviour).
std::int64_t plus(std::int64_t a, std::uint64_t b) noexcept {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + b);
}

// The records of a batch, parsed in order; every length checked against `end`.
struct BatchCursor {
  const std::byte* at;
  const std::byte* end;

  // Parses the next record into the out-parameters; false if it does not fit.
  bool next(std::int64_t* delta, std::int32_t* key_length, const std::byte** body, std::uint32_t* value_length,
            std::uint32_t* headers_length) noexcept {
    std::uint64_t ts = 0, key = 0, value = 0, headers = 0;
    if (!detail::read_varint(&at, end, &ts, 10) || !detail::read_varint(&at, end, &key, 5) ||
        !detail::read_varint(&at, end, &value, 5) || !detail::read_varint(&at, end, &headers, 5))
      return false;
    const std::uint64_t key_bytes = key == 0 ? 0 : key - 1;
    if (key_bytes + value + headers > static_cast<std::uint64_t>(end - at)) return false;
    *delta = unzigzag(ts);
    *key_length = key == 0 ? -1 : static_cast<std::int32_t>(key_bytes);
    *body = at;
    *value_length = static_cast<std::uint32_t>(value);
    *headers_length = static_cast<std::uint32_t>(headers);
    at += key_bytes + value + headers;
    return true;
  }
};

// A batch header's numbers, checked against the frame's length.
bool batch_header_fits(const std::byte* frame, std::uint32_t length, std::uint32_t* count) noexcept {
  if (length < kBatchHeaderSize) return false;
  *count = get<std::uint32_t>(frame + kBatchRecordCount);
  const auto codec = static_cast<Compression>(get<std::uint16_t>(frame + kBatchAttributes) & kCompressionMask);
  const std::uint32_t records_bytes = get<std::uint32_t>(frame + kBatchRecordsBytes);
  // Every record takes at least kMinRecordBytes.
  if (*count == 0 || std::uint64_t{*count} * kMinRecordBytes > records_bytes) return false;
  if (codec == Compression::kNone) return records_bytes == length - kBatchHeaderSize;
  // Compressed: records_bytes is their size uncompressed, which would have
  // fitted a frame (a reader allocates that much); codecs 5-7 do not exist.
  return format::is_codec(codec) && records_bytes <= kMaxFrameBytes - kBatchHeaderSize && length > kBatchHeaderSize;
}

}  // namespace

std::size_t header_block_size(std::span<const Header> headers) noexcept {
  if (headers.empty()) return 0;
  std::size_t n = varint_size(headers.size());
  for (const Header& h : headers)
    n += varint_size(h.key.size()) + h.key.size() + varint_size(h.value ? h.value->size() + 1 : 0) +
         (h.value ? h.value->size() : 0);
  return n;
}

std::byte* encode_header_block(std::byte* at, std::span<const Header> headers) noexcept {
  if (headers.empty()) return at;
  at = put_varint(at, headers.size());
  for (const Header& h : headers) {
    at = put_bytes(put_varint(at, h.key.size()), h.key);
    at = put_varint(at, h.value ? h.value->size() + 1 : 0);
    if (h.value) at = put_bytes(at, *h.value);
  }
  return at;
}

std::byte* encode_record_fields(std::byte* frame, std::int64_t timestamp_ns, const std::optional<std::string_view>& key,
                                std::size_t value_size, std::span<const Header> headers, std::size_t headers_size,
                                std::uint32_t* info) noexcept {
  put(frame + kTimestampOffset, timestamp_ns);
  std::byte* at = frame + kRecordHeaderSize;
  std::uint32_t flags = 0;
  if (key) {
    at = put_varint(at, key->size());
    flags |= kHasKey;
  }
  if (headers_size > 0) {
    at = put_varint(at, headers_size);
    flags |= kHasHeaders;
  }
  if (key) at = put_bytes(at, *key);
  std::byte* value = at;
  if (headers_size > 0) encode_header_block(value + value_size, headers);
  const auto length = static_cast<std::uint32_t>(value + value_size + headers_size - frame);
  *info = make_info(kKindRecord, length, flags);
  return value;
}

std::uint32_t encode_batch_header(std::byte* frame, std::uint32_t length, std::int64_t base_offset,
                                  std::int64_t base_timestamp, std::int64_t max_timestamp, std::uint32_t records,
                                  Compression codec, std::uint32_t records_bytes) noexcept {
  put(frame + kBatchBaseOffset, base_offset);
  put(frame + kBatchBaseTimestamp, base_timestamp);
  put(frame + kBatchMaxTimestamp, max_timestamp);
  put(frame + kBatchProducerId, std::int64_t{0});
  put(frame + kBatchBaseSequence, std::int32_t{0});
  put(frame + kBatchProducerEpoch, std::int16_t{0});
  put(frame + kBatchAttributes, static_cast<std::uint16_t>(static_cast<std::uint16_t>(codec) & kCompressionMask));
  put(frame + kBatchRecordCount, records);
  put(frame + kBatchRecordsBytes,
      codec == Compression::kNone ? static_cast<std::uint32_t>(length - kBatchHeaderSize) : records_bytes);
  return make_info(kKindBatch, length);
}

std::uint64_t encode_abandoned(std::byte* frame, std::uint32_t length, std::int64_t first_offset,
                               std::uint32_t offsets) noexcept {
  put(frame + kAbandonedOffsets, offsets);
  put(frame + kAbandonedOffsets + 4, std::uint32_t{0});
  return commit_word_of(frame, make_info(kKindAbandoned, length), first_offset);
}

std::uint32_t frame_checksum(const std::byte* frame, std::uint32_t info, std::int64_t first_offset) noexcept {
  // An abandoned frame covers whatever its dead producer left in the claim:
  // only its own header is hashed.
  const std::uint32_t length = info & kLengthMask;
  const std::size_t n = ((info >> kKindShift) & 3) == kKindAbandoned ? kAbandonedHeaderSize - 8
                        : length > 8                                 ? length - 8
                                                                     : 0;
  const auto offset = static_cast<std::uint64_t>(first_offset);
  const std::uint64_t h = XXH3_64bits_withSeed(frame + 8, n, info ^ ((offset << 32) | (offset >> 32)));
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

Decoded decode_frame(const std::byte* frame, std::uint64_t word, std::uint64_t room, std::int32_t partition,
                     std::int64_t next_offset, std::uint32_t inner, RecordView* out, std::size_t max,
                     bool verify) noexcept {
  Decoded d;
  const std::uint32_t info = commit_info(word);
  const std::uint32_t length = commit_length(word);
  const std::uint32_t kind = commit_kind(word);
  d.check = FrameCheck::kMalformed;
  if (length < kFrameHeaderSize || length > room || (inner != 0 && kind != kKindBatch)) return d;
  // A batch names its first offset; the others start at the reader's.
  const std::int64_t first = kind == kKindBatch && length >= kBatchHeaderSize ? get<std::int64_t>(frame + kBatchBaseOffset)
                                                                               : next_offset;
  if ((verify || kind == kKindAbandoned) && frame_checksum(frame, info, first) != commit_checksum(word)) {
    d.check = FrameCheck::kChecksum;
    return d;
  }
  const std::byte* end = frame + length;
  switch (kind) {
    case kKindRecord: {
      const std::byte* at = frame + kRecordHeaderSize;
      std::uint64_t key = 0, headers = 0;
      if ((info & kHasKey) && !detail::read_varint(&at, end, &key, 5)) return d;
      if ((info & kHasHeaders) && (!detail::read_varint(&at, end, &headers, 5) || headers == 0)) return d;
      if (key + headers > static_cast<std::uint64_t>(end - at)) return d;
      if (max > 0) {
        out[0] = RecordView(frame, length, partition, next_offset, get<std::int64_t>(frame + kTimestampOffset), at,
                            (info & kHasKey) ? static_cast<std::int32_t>(key) : -1,
                            static_cast<std::uint32_t>(end - at - key - headers), static_cast<std::uint32_t>(headers), 0);
        d.views = 1;
      }
      d.offsets = 1;
      break;
    }
    case kKindBatch: {
      std::uint32_t count = 0;
      if ((info & (kHasKey | kHasHeaders)) != 0 || !batch_header_fits(frame, length, &count)) return d;
      const std::int64_t base = get<std::int64_t>(frame + kBatchBaseOffset);
      // The records the reader took already: the batch must start that many before its offset.
      if (inner >= count || plus(base, inner) != next_offset) return d;
      const auto attributes = get<std::uint16_t>(frame + kBatchAttributes);
      if ((attributes & kCompressionMask) != 0) {
        // Its records are parsed once decompressed: a view stands for the batch.
        if (max > 0)
          out[0] = RecordView(frame, length, partition, next_offset, get<std::int64_t>(frame + kBatchBaseTimestamp),
                              frame + kBatchHeaderSize, -1, length - static_cast<std::uint32_t>(kBatchHeaderSize), 0,
                              attributes);
        d.compressed = true;
        d.offsets = count - inner;
        break;
      }
      return decode_batch_records(frame, length,
                                  std::span<const std::byte>(frame + kBatchHeaderSize, end), partition, inner, out,
                                  max);
    }
    case kKindAbandoned: {
      if (length < kAbandonedHeaderSize || (info & (kHasKey | kHasHeaders)) != 0) return d;
      const auto covered = get<std::uint32_t>(frame + kAbandonedOffsets);
      if (covered == 0 || get<std::uint32_t>(frame + kAbandonedOffsets + 4) != 0) return d;
      d.offsets = covered;
      d.abandoned = covered;
      break;
    }
    default:
      return d;
  }
  d.check = FrameCheck::kOk;
  return d;
}

Decoded decode_batch_records(const std::byte* frame, std::uint32_t length, std::span<const std::byte> records,
                             std::int32_t partition, std::uint32_t inner, RecordView* out, std::size_t max) noexcept {
  Decoded d;
  d.check = FrameCheck::kMalformed;
  const auto count = get<std::uint32_t>(frame + kBatchRecordCount);
  if (inner >= count) return d;
  const std::int64_t base = get<std::int64_t>(frame + kBatchBaseOffset);
  const std::int64_t base_ts = get<std::int64_t>(frame + kBatchBaseTimestamp);
  const auto attributes = get<std::uint16_t>(frame + kBatchAttributes);
  BatchCursor c{records.data(), records.data() + records.size()};
  std::uint32_t views = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::int64_t delta;
    std::int32_t key;
    const std::byte* body;
    std::uint32_t value, headers;
    if (!c.next(&delta, &key, &body, &value, &headers)) return d;
    if (i >= inner && views < max)
      out[views++] = RecordView(frame, length, partition, plus(base, i), plus(base_ts, static_cast<std::uint64_t>(delta)),
                                body, key, value, headers, attributes);
  }
  if (c.at != c.end) return d;  // bytes after the last record: the count or a length is wrong
  d.check = FrameCheck::kOk;
  d.views = views;
  d.offsets = count - inner;
  return d;
}

CompressedBatch compressed_batch(const RecordView& view) noexcept {
  const std::byte* frame = view.frame();
  CompressedBatch b;
  b.codec = static_cast<Compression>(get<std::uint16_t>(frame + kBatchAttributes) & kCompressionMask);
  b.count = get<std::uint32_t>(frame + kBatchRecordCount);
  b.records_bytes = get<std::uint32_t>(frame + kBatchRecordsBytes);
  b.max_timestamp = get<std::int64_t>(frame + kBatchMaxTimestamp);
  b.stored = std::span<const std::byte>(frame + kBatchHeaderSize, view.frame_size() - kBatchHeaderSize);
  return b;
}

std::uint64_t frame_offsets(const std::byte* frame, std::uint64_t word, std::uint64_t room,
                            std::int64_t first_offset) noexcept {
  const Decoded d = decode_frame(frame, word, room, -1, first_offset, 0, nullptr, 0, false);
  return d.check == FrameCheck::kOk ? d.offsets : 0;
}

}  // namespace rill::log

namespace rill {
bool RecordView::verify_checksum() const noexcept {
  if (frame_ == nullptr || frame_length_ < log::kFrameHeaderSize) return false;
  std::uint32_t info;
  std::memcpy(&info, frame_, sizeof info);
  // The frame's first offset: a batch's is in its header, a record's is its own.
  const std::int64_t first = ((info >> log::kKindShift) & 3) == log::kKindBatch ? log::batch_base_offset(frame_) : offset_;
  return (info & log::kLengthMask) == frame_length_ && log::frame_checksum(frame_, info, first) == checksum();
}
}  // namespace rill
