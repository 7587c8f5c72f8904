// Records as producers hand them in and consumers see them.
//
// A RecordView is a zero-copy window onto one committed record inside a
// partition's memory. It is cheap to copy (a pointer and a partition id) and
// stays meaningful only while the ring has not reused the bytes under it:
// a consumer that keeps views past its next poll must call
// Consumer::still_valid() after reading them (see consumer.h).
#pragma once

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

// Thread safety: a RecordView is an immutable value; any thread may read it.
//
// A view remembers the frame length that was checked when it was made, and no
// accessor reaches past it: a view whose bytes the ring has since reused reads
// garbage (which Consumer::still_valid() reports) but never memory outside its
// frame.
class RecordView {
 public:
  RecordView() = default;
  // REQUIRES: `frame` points at a committed frame of `length` bytes that lie
  // inside its segment.
  RecordView(const std::byte* frame, std::int32_t partition, std::uint32_t length) noexcept
      : frame_(frame), partition_(partition), length_(length) {}
  // As above, with the length taken from the frame's commit word.
  RecordView(const std::byte* frame, std::int32_t partition) noexcept
      : RecordView(frame, partition, 0) {
    length_ = static_cast<std::uint32_t>(load<std::uint64_t>(0));
  }

  std::int32_t partition() const noexcept { return partition_; }
  std::int64_t offset() const noexcept { return load<std::int64_t>(16); }
  // Nanoseconds since the Unix epoch (producer-set or log-append time).
  std::int64_t timestamp_ns() const noexcept { return load<std::int64_t>(24); }
  bool has_key() const noexcept { return load<std::int32_t>(32) >= 0; }
  // Empty when the key is null; has_key() tells null from empty.
  std::string_view key() const noexcept {
    return load<std::int32_t>(32) < 0 ? std::string_view() : std::string_view(chars(48), key_bytes());
  }
  std::string_view value() const noexcept { return std::string_view(chars(48 + key_bytes()), value_bytes()); }
  std::uint16_t attributes() const noexcept { return load<std::uint16_t>(44); }
  std::uint16_t header_count() const noexcept { return load<std::uint16_t>(46); }
  // Raw encoded header block (see doc/log_format.md); use for_each_header to decode.
  std::string_view header_block() const noexcept {
    const std::size_t at = key_bytes() + value_bytes();
    return std::string_view(chars(48 + at), clamp(load<std::uint32_t>(40), body_bytes() - at));
  }
  // Calls fn(HeaderView) for each header, in order. Returns false (and stops)
  // if the block is malformed.
  template <typename Fn>
  bool for_each_header(Fn&& fn) const;

  std::uint64_t checksum() const noexcept { return load<std::uint64_t>(8); }
  // Length of the frame in bytes (header, key, value, headers; unpadded), as
  // checked when the view was made.
  std::uint32_t frame_size() const noexcept { return length_; }
  // Recomputes the XXH3-64 over the frame and compares it with the stored one.
  bool verify_checksum() const noexcept;

  const std::byte* frame() const noexcept { return frame_; }

 private:
  template <typename T>
  T load(std::size_t at) const noexcept {
    T v;
    std::memcpy(&v, frame_ + at, sizeof(T));  // the format is little-endian, as is every supported host
    return v;
  }
  const char* chars(std::size_t at) const noexcept { return reinterpret_cast<const char*>(frame_ + at); }
  // Field lengths are clamped to the frame: equal for a sound frame (read()
  // checks that they add up), bounded for bytes reused since.
  static std::size_t clamp(std::size_t n, std::size_t room) noexcept { return n < room ? n : room; }
  std::size_t body_bytes() const noexcept { return length_ > 48 ? length_ - 48 : 0; }
  std::size_t key_bytes() const noexcept {
    std::int32_t n = load<std::int32_t>(32);
    return n < 0 ? 0 : clamp(static_cast<std::size_t>(n), body_bytes());
  }
  std::size_t value_bytes() const noexcept { return clamp(load<std::uint32_t>(36), body_bytes() - key_bytes()); }

  const std::byte* frame_ = nullptr;
  std::int32_t partition_ = -1;
  std::uint32_t length_ = 0;
};

template <typename Fn>
bool RecordView::for_each_header(Fn&& fn) const {
  std::string_view block = header_block();
  std::size_t at = 0;
  for (std::uint16_t i = 0; i < header_count(); ++i) {
    if (block.size() - at < 2) return false;
    std::uint16_t klen;
    std::memcpy(&klen, block.data() + at, 2);
    at += 2;
    if (block.size() - at < std::size_t{klen} + 4) return false;
    std::string_view key = block.substr(at, klen);
    at += klen;
    std::int32_t vlen;
    std::memcpy(&vlen, block.data() + at, 4);
    at += 4;
    std::optional<std::string_view> value;
    if (vlen >= 0) {
      if (block.size() - at < static_cast<std::size_t>(vlen)) return false;
      value = block.substr(at, static_cast<std::size_t>(vlen));
      at += static_cast<std::size_t>(vlen);
    }
    fn(HeaderView{key, value});
  }
  return at == block.size();
}

}  // namespace rill
