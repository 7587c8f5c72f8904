// The bytes every benchmark record carries, whatever the transport: who sent
// it and to which partition, its sequence numbers, when it was meant to be
// sent and when it was, and a check byte at the end that proves the consumer
// read the whole record. Two layouts, chosen by the record size alone (both
// ends know it), so that every consumer checks order and completeness per
// producer and partition at any size from 8 bytes up.
//
// Full (record_bytes >= 32):
//   offset  size  field
//        0     8  seq          per producer, from 0, dense
//        8     8  intended     clock ticks: when the schedule said to send it
//       16     8  sent         clock ticks: when the producer sent it
//       24     4  part_seq     per producer and partition, from 0, dense (mod 2^32):
//                              order holds per partition only, as in Kafka
//       28     1  producer     index of the producer (< 16)
//       29     1  partition    index of the partition (< 256)
//       30     1  flags        bit 0: warm-up (not counted)
//       31   ...  filler       0x5A
//   size-1     1  check        low byte of (seq * 31 + producer + 7)
//
// Compact (8 <= record_bytes < 32): a 7-byte tag, the stamps where there is
// room, the check byte last.
//   offset  size  field
//        0     7  tag          little-endian 56 bits: part_seq (bits 0-39),
//                              partition (40-47), producer (48-51), warm-up (52)
//        7     8  sent         only if record_bytes >= 16
//       15     8  intended     only if record_bytes >= 24
//      ...   ...  filler       0x5A
//   size-1     1  check        low byte of (part_seq * 31 + producer * 17 + partition + 7)
// seq is not carried: the phase derives it from (producer, partition,
// part_seq) where it needs it (PhasePlan::seq_of, one record per send).
// Without `sent` the consumer has no raw (actual send) time; without
// `intended` it takes the intended time from the schedule (PhasePlan), or,
// one in flight, from the producer's board slot.
//
// Host byte order except the tag: both ends run on one host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace rill::bench {

inline constexpr std::size_t kMinRecordBytes = 8;
inline constexpr std::size_t kFullRecordBytes = 32;  // the smallest record of the full layout
inline constexpr std::size_t kMaxRecordBytes = 1 << 20;
inline constexpr std::uint8_t kWarmupFlag = 1;
inline constexpr std::uint8_t kFiller = 0x5A;
inline constexpr std::uint64_t kCompactPartSeqBits = 40;

struct PayloadHeader {
  std::uint64_t seq;
  std::uint64_t intended;
  std::uint64_t sent;
  std::uint32_t part_seq;
  std::uint8_t producer;
  std::uint8_t partition;
  std::uint8_t flags;
};

// What a record of `record_bytes` carries.
struct PayloadLayout {
  bool full;           // seq and both stamps
  bool has_sent;       // the actual send time
  bool has_intended;   // the schedule's send time
};
constexpr PayloadLayout layout_of(std::size_t record_bytes) noexcept {
  if (record_bytes >= kFullRecordBytes) return {true, true, true};
  return {false, record_bytes >= 16, record_bytes >= 24};
}

inline std::uint8_t check_byte(std::uint64_t seq, std::uint8_t producer) noexcept {
  return static_cast<std::uint8_t>(seq * 31 + producer + 7);
}
inline std::uint8_t compact_check_byte(std::uint64_t part_seq, std::uint8_t producer, std::uint8_t partition) noexcept {
  return static_cast<std::uint8_t>(part_seq * 31 + producer * 17u + partition + 7);
}

// Fills `record` (record_bytes long, >= kMinRecordBytes) with the filler
// once; stamp() then rewrites only the fields that change.
inline void prepare_record(std::byte* record, std::size_t record_bytes) noexcept {
  std::memset(record, kFiller, record_bytes);
}

inline void stamp(std::byte* record, std::size_t record_bytes, const PayloadHeader& h) noexcept {
  if (record_bytes >= kFullRecordBytes) [[likely]] {
    std::memcpy(record, &h.seq, 8);
    std::memcpy(record + 8, &h.intended, 8);
    std::memcpy(record + 16, &h.sent, 8);
    std::memcpy(record + 24, &h.part_seq, 4);
    std::memcpy(record + 28, &h.producer, 1);
    std::memcpy(record + 29, &h.partition, 1);
    std::memcpy(record + 30, &h.flags, 1);
    record[record_bytes - 1] = static_cast<std::byte>(check_byte(h.seq, h.producer));
    return;
  }
  const std::uint64_t tag = (std::uint64_t{h.part_seq} & ((std::uint64_t{1} << kCompactPartSeqBits) - 1)) |
                            std::uint64_t{h.partition} << 40 | std::uint64_t{h.producer & 0xFu} << 48 |
                            std::uint64_t{(h.flags & kWarmupFlag) != 0} << 52;
  for (int i = 0; i < 7; ++i) record[i] = static_cast<std::byte>(tag >> (8 * i));
  if (record_bytes >= 16) std::memcpy(record + 7, &h.sent, 8);
  if (record_bytes >= 24) std::memcpy(record + 15, &h.intended, 8);
  record[record_bytes - 1] = static_cast<std::byte>(compact_check_byte(h.part_seq, h.producer, h.partition));
}

// Reads the header of a record; false if its check byte is wrong. A compact
// record leaves seq at 0 and the stamps it lacks at 0.
inline bool read_record(const std::byte* record, std::size_t record_bytes, PayloadHeader& h) noexcept {
  if (record_bytes >= kFullRecordBytes) [[likely]] {
    std::memcpy(&h.seq, record, 8);
    std::memcpy(&h.intended, record + 8, 8);
    std::memcpy(&h.sent, record + 16, 8);
    std::memcpy(&h.part_seq, record + 24, 4);
    std::memcpy(&h.producer, record + 28, 1);
    std::memcpy(&h.partition, record + 29, 1);
    std::memcpy(&h.flags, record + 30, 1);
    return static_cast<std::uint8_t>(record[record_bytes - 1]) == check_byte(h.seq, h.producer);
  }
  std::uint64_t tag = 0;
  for (int i = 0; i < 7; ++i) tag |= std::uint64_t{static_cast<std::uint8_t>(record[i])} << (8 * i);
  h = PayloadHeader{};
  h.part_seq = static_cast<std::uint32_t>(tag & ((std::uint64_t{1} << kCompactPartSeqBits) - 1));
  h.partition = static_cast<std::uint8_t>(tag >> 40);
  h.producer = static_cast<std::uint8_t>((tag >> 48) & 0xFu);
  h.flags = static_cast<std::uint8_t>((tag >> 52) & 1u);
  if ((tag >> 53) != 0) return false;  // spare bits are zero
  if (record_bytes >= 16) std::memcpy(&h.sent, record + 7, 8);
  if (record_bytes >= 24) std::memcpy(&h.intended, record + 15, 8);
  return static_cast<std::uint8_t>(record[record_bytes - 1]) == compact_check_byte(h.part_seq, h.producer, h.partition);
}

}  // namespace rill::bench
