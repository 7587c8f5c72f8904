// Records as producers hand them in and consumers see them.
//
// A RecordView is a zero-copy window onto one committed record inside a
// partition's memory. It is cheap to copy (pointers and lengths) and stays
// meaningful only while the ring has not reused the bytes under it: a
// consumer that keeps views past its next poll must call
// Consumer::still_valid() after reading them (see consumer.h). The records
// of a compressed batch are the exception: their key, value and headers are
// in the consumer's buffer of the decompressed batch (valid until its next
// poll), while frame() is still the stored frame in the ring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

namespace rill {

// One record header as a producer supplies it. Keys are text, values bytes.
struct Header {
  std::string_view key;
  std::optional<std::string_view> value;  // nullopt = null value
};

// Read-only view of one header inside a committed record.
struct HeaderView {
  std::string_view key;
  std::optional<std::string_view> value;
};

namespace detail {
// The frame layout this header reads (core/log/record_format.h has it; a
// public header may not include it, so static_asserts in
// core/client/consumer.cc prove these equal to its constants).
// A frame's 32-bit checksum: the high half of its little-endian commit word.
inline constexpr std::size_t kFrameChecksumOffset = 4;
// The longest LEB128 varint of a 32-bit and of a 64-bit value.
inline constexpr unsigned kMaxVarint32Bytes = 5;
inline constexpr unsigned kMaxVarint64Bytes = 10;

// Reads an unsigned LEB128 varint of at most `max_bytes` bytes from [*at, end)
// into *out, advancing *at. False (nothing advanced) if it runs past `end`,
// is longer than max_bytes, or overflows 64 bits. Shared with the frame
// decoder (core/log/frame_codec.h).
inline bool read_varint(const std::byte** at, const std::byte* end, std::uint64_t* out,
                        unsigned max_bytes = kMaxVarint64Bytes) noexcept {
  const std::byte* p = *at;
  if (p < end && static_cast<unsigned char>(*p) < 0x80) [[likely]] {
    *out = static_cast<unsigned char>(*p);
    *at = p + 1;
    return true;
  }
  std::uint64_t v = 0;
  for (unsigned i = 0; i < max_bytes && p < end; ++i, ++p) {
    const auto b = static_cast<unsigned char>(*p);
    if (i == kMaxVarint64Bytes - 1 && b > 1) return false;  // the 10th byte holds bit 63 only
    v |= std::uint64_t{b & 0x7Fu} << (7 * i);
    if (b < 0x80) {
      *out = v;
      *at = p + 1;
      return true;
    }
  }
  return false;
}
}  // namespace detail

// Thread safety: a RecordView is an immutable value; any thread may read it.
//
// A view holds the offsets and lengths its frame's checks established when
// the view was made, and no accessor reaches past the frame: a view whose
// bytes the ring has since reused reads garbage (which
// Consumer::still_valid() reports) but never memory outside its frame.
class RecordView {
 public:
  RecordView() = default;
  // Made by the ring's reader from a checked frame (core/log/frame_codec.h):
  // the record's key starts at `body` (key_length < 0: a null key, none
  // stored), its value follows the key and its header block follows the
  // value. `body` is inside `frame` - the stored frame, `frame_length`
  // bytes, which a batch's records share - except for the records of a
  // compressed batch, whose bodies are in the reader's buffer of its
  // decompressed records.
  RecordView(const std::byte* frame, std::uint32_t frame_length, std::int32_t partition, std::int64_t offset,
             std::int64_t timestamp_ns, const std::byte* body, std::int32_t key_length, std::uint32_t value_length,
             std::uint32_t headers_length, std::uint16_t attributes) noexcept
      : frame_(frame),
        body_(body),
        offset_(offset),
        timestamp_(timestamp_ns),
        partition_(partition),
        frame_length_(frame_length),
        key_length_(key_length),
        value_length_(value_length),
        headers_length_(headers_length),
        attributes_(attributes) {}

  std::int32_t partition() const noexcept { return partition_; }
  std::int64_t offset() const noexcept { return offset_; }
  // Nanoseconds since the Unix epoch: SendOptions::timestamp_ns (or
  // Message::timestamp_ns), else the producer's clock at the send (now_ns()).
  std::int64_t timestamp_ns() const noexcept { return timestamp_; }
  bool has_key() const noexcept { return key_length_ >= 0; }
  // Empty when the key is null; has_key() tells null from empty.
  std::string_view key() const noexcept { return std::string_view(chars(0), key_bytes()); }
  std::string_view value() const noexcept { return std::string_view(chars(key_bytes()), value_length_); }
  // The attributes of the batch the record came in (doc/log_format.md); 0
  // for a record sent alone. Bits 0-2 are the batch's compression codec
  // (rill/compression.h).
  std::uint16_t attributes() const noexcept { return attributes_; }
  // Number of headers (0 without a header block, or if it is malformed).
  std::uint16_t header_count() const noexcept {
    std::string_view block = header_block();
    const auto* at = reinterpret_cast<const std::byte*>(block.data());
    std::uint64_t n = 0;
    if (!detail::read_varint(&at, at + block.size(), &n, detail::kMaxVarint32Bytes) || n > 0xFFFF) return 0;
    return static_cast<std::uint16_t>(n);
  }
  // Raw encoded header block (see doc/log_format.md); use for_each_header to decode.
  std::string_view header_block() const noexcept {
    return std::string_view(chars(key_bytes() + value_length_), headers_length_);
  }
  // Calls fn(HeaderView) for each header, in order. Returns false (and stops)
  // if the block is malformed.
  template <typename Fn>
  bool for_each_header(Fn&& fn) const;

  // The 32-bit checksum of the frame holding the record (a batch's records
  // share one), as stored: for a compressed batch, over its compressed bytes.
  std::uint32_t checksum() const noexcept {
    std::uint32_t c;
    std::memcpy(&c, frame_ + detail::kFrameChecksumOffset, sizeof c);  // little-endian, as is every supported host
    return c;
  }
  // Bytes of the frame holding the record (unpadded), as stored: the
  // record's own frame, or its batch's (compressed, if the batch is).
  std::uint32_t frame_size() const noexcept { return frame_length_; }
  // Recomputes the stored frame's checksum and compares it with the stored
  // one. For a record of a batch that hashes the whole batch (as stored:
  // compressed, if it is): Consumer's verify_checksums checks each frame once
  // instead.
  bool verify_checksum() const noexcept;

  // The frame holding the record, as stored in the ring: its own, or its
  // batch's. (A compressed batch's records are not inside it: their key(),
  // value() and header_block() are in the consumer's buffer.)
  const std::byte* frame() const noexcept { return frame_; }

 private:
  const char* chars(std::size_t at) const noexcept { return reinterpret_cast<const char*>(body_ + at); }
  std::size_t key_bytes() const noexcept { return key_length_ < 0 ? 0 : static_cast<std::size_t>(key_length_); }

  const std::byte* frame_ = nullptr;
  const std::byte* body_ = nullptr;  // key, then value, then header block
  std::int64_t offset_ = 0;
  std::int64_t timestamp_ = 0;
  std::int32_t partition_ = -1;
  std::uint32_t frame_length_ = 0;
  std::int32_t key_length_ = -1;
  std::uint32_t value_length_ = 0;
  std::uint32_t headers_length_ = 0;
  std::uint16_t attributes_ = 0;
};

template <typename Fn>
bool RecordView::for_each_header(Fn&& fn) const {
  const std::string_view block = header_block();
  const auto* at = reinterpret_cast<const std::byte*>(block.data());
  const std::byte* end = at + block.size();
  if (block.empty()) return true;
  std::uint64_t count = 0;
  if (!detail::read_varint(&at, end, &count, detail::kMaxVarint32Bytes)) return false;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t klen = 0, vlen = 0;
    if (!detail::read_varint(&at, end, &klen, detail::kMaxVarint32Bytes) || klen > static_cast<std::uint64_t>(end - at))
      return false;
    const std::string_view key(reinterpret_cast<const char*>(at), klen);
    at += klen;
    if (!detail::read_varint(&at, end, &vlen, detail::kMaxVarint32Bytes) ||
        vlen > static_cast<std::uint64_t>(end - at) + 1)
      return false;
    std::optional<std::string_view> value;
    if (vlen > 0) {
      value = std::string_view(reinterpret_cast<const char*>(at), vlen - 1);
      at += vlen - 1;
    }
    fn(HeaderView{key, value});
  }
  return at == end;
}

}  // namespace rill
