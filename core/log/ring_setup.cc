// PartitionRing's set-up: the geometry (checked, and what it makes of a
// segment: where its index and its data begin), laying a fresh partition out
// in a region (create()), and viewing one that another process laid out,
// once its header and words have been checked (attach()). Cold paths.
#include <algorithm>
#include <cstdint>
#include <new>
#include <span>
#include <string>

#include "core/log/partition_ring.h"
#include "core/log/ring_words.h"

namespace rill::log {

namespace {

constexpr std::uint64_t align64(std::uint64_t n) { return (n + 63) & ~std::uint64_t{63}; }

struct SegmentLayout {
  std::uint64_t data_start;
  std::uint64_t data_capacity;
  std::uint32_t index_entries;
};

SegmentLayout layout_of(const PartitionGeometry& g) {
  std::uint64_t room = g.segment_bytes > sizeof(SegmentHeader) ? g.segment_bytes - sizeof(SegmentHeader) : 0;
  std::uint64_t entries = room / g.index_interval + 1;
  std::uint64_t start = align64(sizeof(SegmentHeader) + entries * sizeof(IndexEntry));
  std::uint64_t capacity = g.segment_bytes > start ? (g.segment_bytes - start) & ~std::uint64_t{7} : 0;
  return {start, capacity, static_cast<std::uint32_t>(entries)};
}

}  // namespace

// ---------------------------------------------------------------- geometry

Status PartitionGeometry::validate() const {
  if (segment_count < kMinSegmentCount)
    return Status(Code::kInvalidArgument, "segment count must be at least " + std::to_string(kMinSegmentCount) +
                                              " (two segments are always being prepared), got " +
                                              std::to_string(segment_count));
  if (segment_count > 65536)
    return Status(Code::kInvalidArgument, "segment count must be at most 65536, got " + std::to_string(segment_count));
  if (index_interval < 64 || (index_interval & (index_interval - 1)) != 0)
    return Status(Code::kInvalidArgument, "index interval must be a power of two >= 64, got " +
                                              std::to_string(index_interval));
  if (segment_bytes < 4096 || segment_bytes % 4096 != 0)
    return Status(Code::kInvalidArgument, "segment size must be a multiple of 4096 bytes and at least 4 KiB, got " +
                                              std::to_string(segment_bytes));
  if (data_capacity() > kMaxSegmentDataBytes)
    return Status(Code::kInvalidArgument, "segment size must be at most 1 GiB, got " + std::to_string(segment_bytes));
  return Status::ok();
}

std::uint64_t PartitionGeometry::region_bytes() const {
  return kPartitionHeaderBytes + std::uint64_t{segment_count} * segment_bytes;
}

std::uint64_t PartitionGeometry::data_capacity() const { return layout_of(*this).data_capacity; }

// ---------------------------------------------------------------- set-up

Result<PartitionRing> PartitionRing::create(std::span<std::byte> region, const PartitionGeometry& geometry,
                                            std::int32_t partition_id, Doorbell* doorbell) {
  if (Status s = geometry.validate(); !s) return s;
  if (geometry.start_offset < 0 || static_cast<std::uint64_t>(geometry.start_offset) >= kMaxOffset / 2)
    return Status(Code::kInvalidArgument, "a partition cannot start at offset " + std::to_string(geometry.start_offset));
  if (region.size() < geometry.region_bytes())
    return Status(Code::kInvalidArgument, "region of " + std::to_string(region.size()) +
                                              " bytes is smaller than the partition's " +
                                              std::to_string(geometry.region_bytes()));
  auto* h = new (region.data()) PartitionHeader();
  SegmentLayout layout = layout_of(geometry);
  h->version = kPartitionVersion;
  h->segment_count = geometry.segment_count;
  h->segment_bytes = geometry.segment_bytes;
  h->data_start = layout.data_start;
  h->data_capacity = layout.data_capacity;
  h->index_interval = geometry.index_interval;
  h->index_entries = layout.index_entries;
  h->region_bytes = geometry.region_bytes();
  h->block_on_readers = geometry.block_on_readers ? 1 : 0;
  h->block_timeout_ms = geometry.block_timeout_ms;
  h->start_offset = geometry.start_offset;
  h->durable = geometry.durable ? 1 : 0;
  h->written_offset.store(geometry.start_offset, std::memory_order_relaxed);
  h->durable_offset.store(geometry.start_offset, std::memory_order_relaxed);
  h->write_requested.store(geometry.start_offset, std::memory_order_relaxed);
  h->sync_requested.store(geometry.start_offset, std::memory_order_relaxed);
  PartitionRing ring(h, partition_id, doorbell ? doorbell : &h->own_doorbell);
  // Relaxed stores: the release store of magic below publishes them.
  for (std::uint32_t i = 0; i < geometry.segment_count; ++i) {
    auto* sh = new (ring.segment(i)) SegmentHeader();
    // Generation 0 takes appends, 1 is zero and ready, 2 is being zeroed.
    sh->generation.store(i < 3 ? i : kUnusedGeneration, std::memory_order_relaxed);
  }
  ring.segment_header(0)->base_offset.store(static_cast<std::uint64_t>(geometry.start_offset), std::memory_order_relaxed);
  h->tail.store(make_tail(0, 0, 0), std::memory_order_relaxed);
  h->current_generation.store(0, std::memory_order_relaxed);
  // Pairs with the acquire load in attach(): everything above is visible first.
  h->magic.store(kPartitionMagic, std::memory_order_release);
  return ring;
}

Result<PartitionRing> PartitionRing::attach(std::span<std::byte> region, std::int32_t partition_id,
                                            Doorbell* doorbell) {
  if (region.size() < kPartitionHeaderBytes)
    return Status(Code::kCorrupt, "partition region of " + std::to_string(region.size()) + " bytes has no header");
  auto* h = reinterpret_cast<PartitionHeader*>(region.data());
  // Pairs with the release store of magic in create().
  if (h->magic.load(std::memory_order_acquire) != kPartitionMagic)
    return Status(Code::kCorrupt, "partition header has a bad magic number (not a rill partition, or not initialised)");
  if (h->version != kPartitionVersion)
    return Status(Code::kCorrupt, "partition format version " + std::to_string(h->version) + ", this build reads " +
                                      std::to_string(kPartitionVersion));
  PartitionGeometry g{h->segment_bytes, h->segment_count, h->index_interval};
  const auto inconsistent = [] {
    return Status(Code::kCorrupt, "partition header geometry is inconsistent with its region");
  };
  if (!g.validate()) return inconsistent();  // first: layout_of() divides by the index interval
  SegmentLayout layout = layout_of(g);
  if (h->region_bytes != g.region_bytes() || h->region_bytes > region.size() || h->data_start != layout.data_start ||
      h->data_capacity != layout.data_capacity || h->index_entries != layout.index_entries || h->durable > 1 ||
      h->start_offset < 0 || static_cast<std::uint64_t>(h->start_offset) >= kMaxOffset / 2)
    return inconsistent();
  PartitionRing ring(h, partition_id, doorbell ? doorbell : &h->own_doorbell);
  // The words the ring changes as it runs, against each other: a damaged
  // partition is refused here rather than read wrong or written over.
  if (Status s = ring.check(); !s) return s;
  return ring;
}

std::uint32_t PartitionRing::max_frame_bytes() const noexcept {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(data_capacity_, kMaxFrameBytes));
}

}  // namespace rill::log
