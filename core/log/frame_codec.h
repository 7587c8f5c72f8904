// Encoding and decoding of the v4 frames (record_format.h has the layout,
// doc/log_format.md the prose). Writers encode into bytes they claimed;
// readers decode committed frames into RecordViews, checking every length
// against the frame first: the bytes are shared memory, or a file, that
// anyone may have damaged.
//
// Thread safety: free functions over caller-owned bytes; no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "core/log/record_format.h"
#include "rill/compression.h"
#include "rill/record.h"

namespace rill::log {

// ---- sizes (unpadded; may exceed kMaxFrameBytes, which callers check)

// Bytes of an encoded header block: 0 for no headers.
std::size_t header_block_size(std::span<const Header> headers) noexcept;
// Bytes of a record frame.
inline std::uint64_t record_frame_size(const std::optional<std::string_view>& key, std::size_t value_size,
                                       std::size_t headers_size) noexcept {
  std::uint64_t n = kRecordHeaderSize + std::uint64_t{value_size};
  if (key) n += varint_size(key->size()) + key->size();
  if (headers_size > 0) n += varint_size(headers_size) + headers_size;
  return n;
}
// Bytes one record takes inside a batch, at `timestamp_delta` from its base.
inline std::uint64_t batch_record_size(std::int64_t timestamp_delta, const std::optional<std::string_view>& key,
                                       std::size_t value_size, std::size_t headers_size) noexcept {
  return varint_size(zigzag(timestamp_delta)) + varint_size(key ? key->size() + 1 : 0) + (key ? key->size() : 0) +
         varint_size(value_size) + value_size + varint_size(headers_size) + headers_size;
}

// ---- writing

// Writes a header block (header_block_size(headers) bytes) at `at`; returns its end.
std::byte* encode_header_block(std::byte* at, std::span<const Header> headers) noexcept;
// Writes a record frame's timestamp, key and header block, leaving
// `value_size` bytes for the value, whose address it returns; *info gets the
// frame's commit info (kind, length, flags). The checksum and the commit
// word come later (commit_word_of()). REQUIRES: the frame's
// record_frame_size() bytes were claimed.
std::byte* encode_record_fields(std::byte* frame, std::int64_t timestamp_ns, const std::optional<std::string_view>& key,
                                std::size_t value_size, std::span<const Header> headers, std::size_t headers_size,
                                std::uint32_t* info) noexcept;
// Writes one record of a batch at `at`; returns its end. Inline: a batch
// writes one per record, and most records' four varints are one byte each.
inline std::byte* encode_batch_record(std::byte* at, std::int64_t timestamp_delta,
                                      const std::optional<std::string_view>& key, std::string_view value,
                                      std::span<const Header> headers, std::size_t headers_size) noexcept {
  const std::uint64_t delta = zigzag(timestamp_delta);
  const std::uint64_t key_field = key ? key->size() + 1 : 0;
  if ((delta | key_field | value.size() | headers_size) < 0x80) [[likely]] {
    at[0] = static_cast<std::byte>(delta);
    at[1] = static_cast<std::byte>(key_field);
    at[2] = static_cast<std::byte>(value.size());
    at[3] = static_cast<std::byte>(headers_size);
    at += 4;
  } else {
    at = put_varint(put_varint(put_varint(put_varint(at, delta), key_field), value.size()), headers_size);
  }
  if (key && !key->empty()) {
    std::memcpy(at, key->data(), key->size());
    at += key->size();
  }
  if (!value.empty()) std::memcpy(at, value.data(), value.size());
  at += value.size();
  return headers_size > 0 ? encode_header_block(at, headers) : at;
}
// Writes a batch frame's header (the records follow it, already written, up
// to frame + length); returns its commit info. `codec` kNone: the records are
// stored as they are (records_bytes is length - 56, the argument unused);
// otherwise they are stored compressed with `codec` and `records_bytes` is
// their size uncompressed.
std::uint32_t encode_batch_header(std::byte* frame, std::uint32_t length, std::int64_t base_offset,
                                  std::int64_t base_timestamp, std::int64_t max_timestamp, std::uint32_t records,
                                  Compression codec = Compression::kNone, std::uint32_t records_bytes = 0) noexcept;
// Writes an abandoned frame's header covering `offsets` offsets in `length`
// bytes; returns its commit word.
std::uint64_t encode_abandoned(std::byte* frame, std::uint32_t length, std::int64_t first_offset,
                               std::uint32_t offsets) noexcept;

// The 32-bit checksum of a fully written frame whose commit info is `info`
// and whose first offset is `first_offset`. Both seed the hash: record
// frames do not store their offset, so a reader that counts a wrong one (a
// cursor built on damaged words) fails the checksum.
std::uint32_t frame_checksum(const std::byte* frame, std::uint32_t info, std::int64_t first_offset) noexcept;
// The commit word to publish a fully written frame with.
inline std::uint64_t commit_word_of(const std::byte* frame, std::uint32_t info, std::int64_t first_offset) noexcept {
  return make_commit_word(info, frame_checksum(frame, info, first_offset));
}

// ---- reading

enum class FrameCheck : std::uint8_t {
  kOk,
  kMalformed,  // a length, count or varint that does not fit the frame, or an unknown kind
  kChecksum,   // the bytes do not match the checksum
};

// What decode_frame() found.
struct Decoded {
  FrameCheck check = FrameCheck::kOk;
  std::uint32_t views = 0;     // records written to `out`
  std::uint64_t offsets = 0;   // offsets the frame covers from `next_offset` on (0 if malformed)
  std::uint64_t abandoned = 0; // of those, offsets of an abandoned claim (no records)
  bool compressed = false;     // a compressed batch: `out[0]` stands for it, no record (see below)
};

// Decodes the frame at `frame`, committed with `word`, with `room` bytes to
// the end of its segment, for a reader whose next offset is `next_offset`,
// `inner` records into the frame: writes views of its records from there on
// (at most `max`) to `out`. A record or abandoned frame starts at
// `next_offset` (inner 0); a batch starts `inner` records before it (its base
// offset + inner == next_offset, inner < its count). Every
// length is checked against the frame (a batch is parsed to its end even when
// fewer than its records are wanted), and the checksum when `verify` (always
// for an abandoned frame, whose kind damage could have set).
//
// A compressed batch (codec 1-4; 5-7 are malformed) is checked as far as its
// header goes - a record count, a size of its records uncompressed
// (records_bytes: at least 4 bytes a record, at most a frame's largest
// size), the offsets - and its checksum when `verify`, but its records
// cannot be parsed where they lie. So no record is decoded: if max > 0,
// out[0] gets a view that stands for the batch (is_compressed_batch(); its
// offset() is `next_offset`, its value() the compressed bytes) and the
// result says `compressed`, views 0. PartitionRing::read() passes that view
// on, last, leaving its cursor on the batch; the reader decompresses the
// records (format::Decompressor) into memory of its own, decodes them with
// decode_batch_records() and moves the cursor itself.
Decoded decode_frame(const std::byte* frame, std::uint64_t word, std::uint64_t room, std::int32_t partition,
                     std::int64_t next_offset, std::uint32_t inner, RecordView* out, std::size_t max,
                     bool verify) noexcept;
// decode_frame()'s common case, inline: a record frame with no key and no
// headers, unverified, read from its start. Writes its view to *out and
// returns true; false (nothing written) for any other frame, which
// decode_frame() then decodes or rejects. Saves the reader a call and the
// Decoded round trip per record (the shape of a single send()).
inline bool decode_plain_record(const std::byte* frame, std::uint64_t word, std::uint64_t room, std::int32_t partition,
                                std::int64_t offset, RecordView* out) noexcept {
  const std::uint32_t length = commit_length(word);
  if ((commit_info(word) & ((3u << kKindShift) | kHasKey | kHasHeaders)) != (kKindRecord << kKindShift) ||
      length < kRecordHeaderSize || length > room)
    return false;
  std::int64_t timestamp;
  std::memcpy(&timestamp, frame + kTimestampOffset, sizeof timestamp);
  *out = RecordView(frame, length, partition, offset, timestamp, frame + kRecordHeaderSize, -1, length - kRecordHeaderSize,
                    0, 0);
  return true;
}
// True if `view` stands for a compressed batch (decode_frame() wrote it)
// rather than being a record: its codec bits are set and its value is the
// stored frame's payload. (A record decoded from a compressed batch also has
// the codec bits, but its value lies outside the stored frame.)
inline bool is_compressed_batch(const RecordView& view) noexcept {
  return (view.attributes() & kCompressionMask) != 0 &&
         reinterpret_cast<const std::byte*>(view.value().data()) == view.frame() + kBatchHeaderSize;
}
// What a view that stands for a compressed batch says of it, read from the
// stored frame's header.
struct CompressedBatch {
  Compression codec = Compression::kNone;
  std::uint32_t count = 0;          // records in the batch
  std::uint32_t records_bytes = 0;  // their size uncompressed
  std::int64_t max_timestamp = 0;   // the largest of their timestamps
  std::span<const std::byte> stored;  // their compressed bytes (the frame's payload)
};
// REQUIRES: is_compressed_batch(view).
CompressedBatch compressed_batch(const RecordView& view) noexcept;
// The records of the batch frame at `frame` (`length` bytes as stored),
// whose encoded records are `records`: its payload, or that payload
// decompressed. Writes views of them from the `inner`-th on (at most `max`)
// to `out`, as decode_frame() does, the views' bodies pointing into
// `records`; kMalformed unless exactly the header's record count of records
// fills `records` and inner < that count. `offsets` is count - inner.
Decoded decode_batch_records(const std::byte* frame, std::uint32_t length, std::span<const std::byte> records,
                             std::int32_t partition, std::uint32_t inner, RecordView* out, std::size_t max) noexcept;

// How many offsets the frame at `frame`, at `first_offset`, covers in all (1
// for a record, its count for a batch, the covered offsets for an abandoned
// frame), checked as decode_frame() checks it, without its checksum; 0 if
// malformed.
std::uint64_t frame_offsets(const std::byte* frame, std::uint64_t word, std::uint64_t room,
                            std::int64_t first_offset) noexcept;
// The first offset of a batch frame (its header's base offset).
inline std::int64_t batch_base_offset(const std::byte* frame) noexcept {
  std::int64_t v;
  std::memcpy(&v, frame + kBatchBaseOffset, sizeof v);
  return v;
}
// The timestamp of the first record of a committed record or batch frame
// whose commit word is `word`.
inline std::int64_t frame_timestamp(const std::byte* frame, std::uint64_t word) noexcept {
  std::int64_t v;
  std::memcpy(&v, frame + (commit_kind(word) == kKindBatch ? kBatchBaseTimestamp : kTimestampOffset), sizeof v);
  return v;
}

}  // namespace rill::log
