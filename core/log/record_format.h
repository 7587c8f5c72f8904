// Byte layout of a record frame inside a partition segment.
// The prose specification is doc/log_format.md; keep the two in step.
//
// All integers are little-endian. A frame starts 8-byte aligned:
//
//   0  u64 commit     low 32 bits: frame length in bytes (unaligned);
//                     high 32 bits: the segment generation tag.
//                     Written last, with a release store. 0 = not committed.
//   8  u64 checksum   XXH3-64 of bytes [16, frame length)
//  16  i64 offset     dense offset in the partition
//  24  i64 timestamp  nanoseconds since the Unix epoch
//  32  i32 key_len    -1 = null key
//  36  u32 value_len
//  40  u32 headers_len  bytes of the header block
//  44  u16 attributes
//  46  u16 header_count
//  48  key bytes, value bytes, header block; zero padding to 8 bytes.
//
// Header block entry: u16 key_len, key bytes, i32 value_len (-1 = null), value bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rill::log {

inline constexpr std::size_t kFrameAlignment = 8;
inline constexpr std::size_t kFrameHeaderSize = 48;

inline constexpr std::size_t kCommitOffset = 0;
inline constexpr std::size_t kChecksumOffset = 8;
inline constexpr std::size_t kOffsetOffset = 16;
inline constexpr std::size_t kTimestampOffset = 24;
inline constexpr std::size_t kKeyLengthOffset = 32;
inline constexpr std::size_t kValueLengthOffset = 36;
inline constexpr std::size_t kHeadersLengthOffset = 40;
inline constexpr std::size_t kAttributesOffset = 44;
inline constexpr std::size_t kHeaderCountOffset = 46;
inline constexpr std::size_t kChecksummedFrom = 16;

// Commit word length values with a special meaning.
inline constexpr std::uint32_t kEndOfSegment = 0xFFFFFFFFu;  // nothing follows in this segment

// attributes bits
inline constexpr std::uint16_t kAttrLogAppendTime = 1u << 0;  // timestamp set by the log
inline constexpr std::uint16_t kAttrAbandoned = 1u << 1;      // claimed, never committed (issue 4)

inline constexpr std::size_t align_frame(std::size_t n) {
  return (n + kFrameAlignment - 1) & ~(kFrameAlignment - 1);
}

inline constexpr std::uint64_t make_commit_word(std::uint32_t gen_tag, std::uint32_t length) {
  return (std::uint64_t{gen_tag} << 32) | length;
}
inline constexpr std::uint32_t commit_length(std::uint64_t word) {
  return static_cast<std::uint32_t>(word);
}
inline constexpr std::uint32_t commit_tag(std::uint64_t word) {
  return static_cast<std::uint32_t>(word >> 32);
}
// The tag stored in commit words of segment generation `gen`; never 0, so a
// zeroed word never looks committed.
inline constexpr std::uint32_t generation_tag(std::uint64_t gen) {
  return static_cast<std::uint32_t>(gen) + 1u == 0 ? 1u : static_cast<std::uint32_t>(gen) + 1u;
}

}  // namespace rill::log
