// Byte layout of the frames inside a partition segment, format version 4.
// The prose specification is doc/log_format.md; keep the two in step. The
// same bytes go to disk (durable topics), so the layout is final: fields a
// later feature needs are reserved here and stay zero until used.
//
// All integers are little-endian. Frames start 8-byte aligned and begin with
// the commit word, which the writer stores last, with a release store:
//
//   bits  0..27  frame length in bytes (unpadded), >= 16
//   bits 28..29  kind: 1 record, 2 batch, 3 abandoned claim (0: not committed)
//   bit  30      record frame: a key follows the header
//   bit  31      record frame: a header block follows the header
//   bits 32..63  checksum: XXH3-64 of the checksummed bytes, seeded with the
//                low 32 bits above, folded to 32 bits (hi ^ lo)
//
// A word of 0 is not committed (segments are zeroed before they open); a low
// half of 0xFFFFFFFF marks the end of a segment.
//
// Record frame (one record, `send`/`reserve`): 16 bytes of header.
//   0  u64 commit
//   8  i64 timestamp    nanoseconds since the Unix epoch
//  16  [varint key length]        if bit 30
//      [varint header block size] if bit 31
//      key, value, header block   (the value takes the bytes left)
//
// Batch frame (records claimed together, `send_batch`): 56 bytes of header,
// in the style of Kafka's record batch v2, then the records - compressed as
// one stream, followed by zero padding if any, when the attributes name a
// codec (doc/log_format.md, "Compressed batches") - per record:
//      zigzag varint  timestamp - base_timestamp
//      varint         key length + 1 (0: null key)
//      varint         value length
//      varint         header block size (0: no headers)
//      key, value, header block
//
// Abandoned frame (a dead producer's claim): 16 bytes of header.
//   0  u64 commit       checksum over bytes [8, 16) only
//   8  u32 offsets      how many offsets it covers (>= 1)
//  12  u32 zero
//
// Header block: varint count, then per header varint key length, key,
// varint (value length + 1) (0: null value), value.
//
// Varints are unsigned LEB128 (7 bits a byte, low group first); a zigzag
// varint stores (n << 1) ^ (n >> 63). A 32-bit varint has at most 5 bytes, a
// 64-bit one at most 10.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rill::log {

inline constexpr std::size_t kFrameAlignment = 8;

// ---- commit word
inline constexpr std::uint32_t kLengthMask = (1u << 28) - 1;
inline constexpr int kKindShift = 28;
inline constexpr std::uint32_t kKindRecord = 1;
inline constexpr std::uint32_t kKindBatch = 2;
inline constexpr std::uint32_t kKindAbandoned = 3;
inline constexpr std::uint32_t kHasKey = 1u << 30;
inline constexpr std::uint32_t kHasHeaders = 1u << 31;
// The low half of a commit word with a special meaning.
inline constexpr std::uint32_t kEndOfSegment = 0xFFFFFFFFu;  // nothing follows in this segment

// ---- sizes
// Every frame has at least this many bytes (a commit word and 8 more).
inline constexpr std::size_t kFrameHeaderSize = 16;
inline constexpr std::size_t kRecordHeaderSize = 16;
inline constexpr std::size_t kBatchHeaderSize = 56;
inline constexpr std::size_t kAbandonedHeaderSize = 16;
// The fewest bytes a record takes anywhere: a batch record of four one-byte
// varints. A segment of b bytes thus holds at most b / 4 records.
inline constexpr std::size_t kMinRecordBytes = 4;
// The largest frame: its length must fit 28 bits, and frames are 8-aligned.
inline constexpr std::uint32_t kMaxFrameBytes = kLengthMask & ~std::uint32_t{7};

// ---- record frame fields
inline constexpr std::size_t kCommitOffset = 0;
inline constexpr std::size_t kTimestampOffset = 8;

// ---- batch frame header fields
inline constexpr std::size_t kBatchBaseOffset = 8;       // i64 offset of the first record
inline constexpr std::size_t kBatchBaseTimestamp = 16;   // i64 ns; records store deltas from it
inline constexpr std::size_t kBatchMaxTimestamp = 24;    // i64 ns: the largest timestamp in the batch
inline constexpr std::size_t kBatchProducerId = 32;      // i64, 0 until idempotent producers
inline constexpr std::size_t kBatchBaseSequence = 40;    // i32, 0 until idempotent producers
inline constexpr std::size_t kBatchProducerEpoch = 44;   // i16, 0 until idempotent producers
inline constexpr std::size_t kBatchAttributes = 46;      // u16, below
inline constexpr std::size_t kBatchRecordCount = 48;     // u32 >= 1
inline constexpr std::size_t kBatchRecordsBytes = 52;    // u32 bytes of the records uncompressed

// Batch attributes (Kafka's record batch v2 bits; bit 3, Kafka's log-append
// time, is reserved: rill stamps every record with the producer's clock).
inline constexpr std::uint16_t kCompressionMask = 0x7;  // 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
inline constexpr std::uint16_t kAttrTransactional = 1u << 4;
inline constexpr std::uint16_t kAttrControl = 1u << 5;

// ---- abandoned frame fields
inline constexpr std::size_t kAbandonedOffsets = 8;  // u32

// The same layout as structs, so that the offsets above are proved.
struct RecordFrameHeader {
  std::uint64_t commit;
  std::int64_t timestamp;
};
struct BatchFrameHeader {
  std::uint64_t commit;
  std::int64_t base_offset;
  std::int64_t base_timestamp;
  std::int64_t max_timestamp;
  std::int64_t producer_id;
  std::int32_t base_sequence;
  std::int16_t producer_epoch;
  std::uint16_t attributes;
  std::uint32_t record_count;
  std::uint32_t records_bytes;
};
struct AbandonedFrameHeader {
  std::uint64_t commit;
  std::uint32_t offsets;
  std::uint32_t zero;
};
static_assert(sizeof(RecordFrameHeader) == kRecordHeaderSize);
static_assert(offsetof(RecordFrameHeader, timestamp) == kTimestampOffset);
static_assert(sizeof(BatchFrameHeader) == kBatchHeaderSize);
static_assert(offsetof(BatchFrameHeader, base_offset) == kBatchBaseOffset);
static_assert(offsetof(BatchFrameHeader, base_timestamp) == kBatchBaseTimestamp);
static_assert(offsetof(BatchFrameHeader, max_timestamp) == kBatchMaxTimestamp);
static_assert(offsetof(BatchFrameHeader, producer_id) == kBatchProducerId);
static_assert(offsetof(BatchFrameHeader, base_sequence) == kBatchBaseSequence);
static_assert(offsetof(BatchFrameHeader, producer_epoch) == kBatchProducerEpoch);
static_assert(offsetof(BatchFrameHeader, attributes) == kBatchAttributes);
static_assert(offsetof(BatchFrameHeader, record_count) == kBatchRecordCount);
static_assert(offsetof(BatchFrameHeader, records_bytes) == kBatchRecordsBytes);
static_assert(sizeof(AbandonedFrameHeader) == kAbandonedHeaderSize);
static_assert(offsetof(AbandonedFrameHeader, offsets) == kAbandonedOffsets);
static_assert(kBatchHeaderSize % kFrameAlignment == 0 && kRecordHeaderSize % kFrameAlignment == 0);

inline constexpr std::size_t align_frame(std::size_t n) {
  return (n + kFrameAlignment - 1) & ~(kFrameAlignment - 1);
}

// The promises, proved: a record of a 48-byte value and no key is
// one cache line; one of a 64-byte value takes 80 bytes (v3: 112).
static_assert(align_frame(kRecordHeaderSize + 48) == 64);
static_assert(align_frame(kRecordHeaderSize + 64) == 80);
// A batch record of a small value with no key and no headers costs 4 bytes
// of varints; with the batch header spread over 64 records and at most 7
// bytes of padding, that is under 5 bytes per record.
static_assert(4 + (kBatchHeaderSize + 7) / 64 <= 8);

inline constexpr std::uint32_t commit_info(std::uint64_t word) { return static_cast<std::uint32_t>(word); }
inline constexpr std::uint32_t commit_checksum(std::uint64_t word) { return static_cast<std::uint32_t>(word >> 32); }
inline constexpr std::uint32_t commit_length(std::uint64_t word) { return static_cast<std::uint32_t>(word) & kLengthMask; }
inline constexpr std::uint32_t commit_kind(std::uint64_t word) { return (static_cast<std::uint32_t>(word) >> kKindShift) & 3; }
inline constexpr bool is_end_of_segment(std::uint64_t word) { return commit_info(word) == kEndOfSegment; }
inline constexpr std::uint64_t make_commit_word(std::uint32_t info, std::uint32_t checksum) {
  return (std::uint64_t{checksum} << 32) | info;
}
inline constexpr std::uint32_t make_info(std::uint32_t kind, std::uint32_t length, std::uint32_t flags = 0) {
  return (kind << kKindShift) | (length & kLengthMask) | flags;
}
inline constexpr std::uint64_t kEndOfSegmentWord = kEndOfSegment;

// The tag index entries carry for segment generation `gen`; never 0, so a
// zeroed entry never looks current.
inline constexpr std::uint32_t generation_tag(std::uint64_t gen) {
  return static_cast<std::uint32_t>(gen) + 1u == 0 ? 1u : static_cast<std::uint32_t>(gen) + 1u;
}

// ---- varints

inline constexpr std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
inline constexpr std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline constexpr std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}
inline std::byte* put_varint(std::byte* at, std::uint64_t v) noexcept {
  while (v >= 0x80) {
    *at++ = static_cast<std::byte>(v | 0x80);
    v >>= 7;
  }
  *at++ = static_cast<std::byte>(v);
  return at;
}

}  // namespace rill::log
