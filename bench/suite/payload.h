// The bytes every benchmark record carries, whatever the transport: who sent
// it and to which partition, its sequence numbers, when it was meant to be
// sent and when it was, and a check byte at the end that proves the consumer
// read the whole record.
//
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
// Host byte order: both ends run on one host. The smallest record is 32 bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace rill::bench {

inline constexpr std::size_t kMinRecordBytes = 32;
inline constexpr std::size_t kMaxRecordBytes = 1 << 20;
inline constexpr std::uint8_t kWarmupFlag = 1;
inline constexpr std::uint8_t kFiller = 0x5A;

struct PayloadHeader {
  std::uint64_t seq;
  std::uint64_t intended;
  std::uint64_t sent;
  std::uint32_t part_seq;
  std::uint8_t producer;
  std::uint8_t partition;
  std::uint8_t flags;
};

inline std::uint8_t check_byte(std::uint64_t seq, std::uint8_t producer) noexcept {
  return static_cast<std::uint8_t>(seq * 31 + producer + 7);
}

// Fills `record` (record_bytes long, >= kMinRecordBytes) with the filler
// once; stamp() then rewrites only the fields that change.
inline void prepare_record(std::byte* record, std::size_t record_bytes) noexcept {
  std::memset(record, kFiller, record_bytes);
}

inline void stamp(std::byte* record, std::size_t record_bytes, const PayloadHeader& h) noexcept {
  std::memcpy(record, &h.seq, 8);
  std::memcpy(record + 8, &h.intended, 8);
  std::memcpy(record + 16, &h.sent, 8);
  std::memcpy(record + 24, &h.part_seq, 4);
  std::memcpy(record + 28, &h.producer, 1);
  std::memcpy(record + 29, &h.partition, 1);
  std::memcpy(record + 30, &h.flags, 1);
  record[record_bytes - 1] = static_cast<std::byte>(check_byte(h.seq, h.producer));
}

// Reads the header of a record; false if its check byte is wrong.
inline bool read_record(const std::byte* record, std::size_t record_bytes, PayloadHeader& h) noexcept {
  std::memcpy(&h.seq, record, 8);
  std::memcpy(&h.intended, record + 8, 8);
  std::memcpy(&h.sent, record + 16, 8);
  std::memcpy(&h.part_seq, record + 24, 4);
  std::memcpy(&h.producer, record + 28, 1);
  std::memcpy(&h.partition, record + 29, 1);
  std::memcpy(&h.flags, record + 30, 1);
  return static_cast<std::uint8_t>(record[record_bytes - 1]) == check_byte(h.seq, h.producer);
}

}  // namespace rill::bench
