// Private to core/log/ring_*.cc: how PartitionRing's shared words are
// encoded (the tail word, a frame's commit word) and where each part of the
// ring lies in its region (a generation's segment, index and data; the claim
// and reader slots). All inline: claim(), commit() and read() live in
// different files and inline these as they did when the ring was one file.
// doc/log_format.md is the spec of the bytes.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/log/frame_codec.h"
#include "core/log/partition_ring.h"
#include "core/log/record_format.h"

namespace rill::log {

// Tail word: [63..48] segment tag, [47..28] records claimed, [27..0] position / 8.
constexpr std::uint64_t kPositionMask = (1ull << 28) - 1;
constexpr std::uint64_t kRolling = kPositionMask;  // a roller owns the tail
constexpr int kCountShift = 28;
constexpr std::uint64_t kCountMask = (1ull << 20) - 1;
constexpr int kTagShift = 48;

constexpr std::uint64_t tail_position(std::uint64_t t) { return (t & kPositionMask) * kFrameAlignment; }
constexpr std::uint32_t tail_count(std::uint64_t t) { return static_cast<std::uint32_t>((t >> kCountShift) & kCountMask); }
constexpr std::uint16_t tail_tag(std::uint64_t t) { return static_cast<std::uint16_t>(t >> kTagShift); }
constexpr std::uint64_t make_tail(std::uint64_t generation, std::uint32_t count, std::uint64_t position) {
  return (static_cast<std::uint64_t>(static_cast<std::uint16_t>(generation)) << kTagShift) |
         (std::uint64_t{count} << kCountShift) | (position / kFrameAlignment);
}
static_assert(kMaxSegmentDataBytes / kFrameAlignment < kRolling);

inline std::atomic_ref<std::uint64_t> commit_word(std::byte* frame) noexcept {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(frame));
}
inline std::uint64_t load_commit(const std::byte* frame) noexcept {
  // Pairs with the release store in PartitionRing::commit() / roll().
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(const_cast<std::byte*>(frame)))
      .load(std::memory_order_acquire);
}

// Segments are zeroed before they open: any other word is committed.
constexpr bool committed(std::uint64_t word) { return word != 0; }

// Zeroes [p, p + bytes) of a segment two ahead (8-aligned, a multiple of 8).
// A reader or checker that loaded an older current_generation may still be
// loading commit words (atomically) there; it finds out from the generation
// it re-checks and discards what it saw. Under ThreadSanitizer each word is
// a relaxed atomic store (relaxed: that reader's generation check, not this
// store, orders what it keeps), so that this stale look is not reported as a race;
// elsewhere a memset (two vector stores for an 80-byte frame, not ten).
inline void clean(std::byte* p, std::uint64_t bytes) noexcept {
#if defined(__SANITIZE_THREAD__)
  for (std::uint64_t i = 0; i + 8 <= bytes; i += 8)
    std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(p + i)).store(0, std::memory_order_relaxed);
#else
  std::memset(p, 0, bytes);
#endif
}

// Offsets derive from shared memory (base offsets, frame fields) and may be
// damaged: they advance modulo 2^64, as the base offsets themselves do, never
// by a signed overflow (undefined behaviour).
constexpr std::int64_t advance(std::int64_t offset, std::uint64_t n) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(offset) + n);
}

constexpr bool is_rolling(std::uint64_t t) { return (t & kPositionMask) == kRolling; }

// ---------------------------------------------------------------- layout

inline std::uint64_t PartitionRing::segment_index(std::uint64_t generation) const noexcept {
  if (generation <= 0xFFFF'FFFFu) [[likely]] return remainder_by_magic(generation, segment_count_, segment_magic_);
  return generation % segment_count_;
}

inline std::byte* PartitionRing::segment(std::uint64_t generation) const noexcept {
  return reinterpret_cast<std::byte*>(header_) + kPartitionHeaderBytes + segment_index(generation) * segment_bytes_;
}
inline SegmentHeader* PartitionRing::segment_header(std::uint64_t generation) const noexcept {
  return reinterpret_cast<SegmentHeader*>(segment(generation));
}
inline IndexEntry* PartitionRing::index(std::uint64_t generation) const noexcept {
  return reinterpret_cast<IndexEntry*>(segment(generation) + sizeof(SegmentHeader));
}
inline std::byte* PartitionRing::data(std::uint64_t generation) const noexcept {
  return segment(generation) + data_start_;
}

inline std::uint64_t PartitionRing::generation_of_tag(std::uint16_t tag) const noexcept {
  // Pairs with the release store of current_generation in roll().
  std::uint64_t current = header_->current_generation.load(std::memory_order_acquire);
  return current - static_cast<std::uint16_t>(static_cast<std::uint16_t>(current) - tag);
}

inline ClaimSlot* PartitionRing::slot(std::uint32_t i) const noexcept {
  return reinterpret_cast<ClaimSlot*>(reinterpret_cast<std::byte*>(header_) + kClaimSlotsOffset) + i;
}

inline ReaderSlot* PartitionRing::reader_slot(std::uint32_t i) const noexcept {
  return reinterpret_cast<ReaderSlot*>(reinterpret_cast<std::byte*>(header_) + kReaderSlotsOffset) + i;
}

inline std::uint32_t PartitionRing::slots_used() const noexcept {
  // Bounded: the word is in shared memory and may have been damaged.
  // Pairs with acquire_slot()'s release CAS.
  return std::min(header_->claim_slots_used.load(std::memory_order_acquire), kClaimSlots);
}

}  // namespace rill::log
