#include "core/log/partition_ring.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "ipc/liveness.h"
#include "ipc/region.h"
#include "support/frames.h"

namespace rill::log {
namespace {

// The ring's segment lookup: the remainder by multiplication equals n % d
// for every divisor a ring can have and for numerators across 32 bits.
TEST(RemainderByMagic, MatchesDivisionForAllSegmentCounts) {
  std::uint64_t state = 0x9E3779B97F4A7C15u;
  auto next = [&state] {  // splitmix64: a spread of numerators, reproducible
    std::uint64_t z = (state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
  };
  for (std::uint32_t d : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 100u, 1000u, 65535u, 65536u, 0x7FFFFFFFu, 0xFFFFFFFFu}) {
    const std::uint64_t magic = remainder_magic(d);
    for (std::uint64_t n : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{d} - 1, std::uint64_t{d},
                            std::uint64_t{d} + 1, std::uint64_t{0xFFFFFFFEu}, std::uint64_t{0xFFFFFFFFu}})
      ASSERT_EQ(remainder_by_magic(n, d, magic), n % d) << n << " % " << d;
    for (int i = 0; i < 20000; ++i) {
      const std::uint64_t n = next() & 0xFFFFFFFFu;
      ASSERT_EQ(remainder_by_magic(n, d, magic), n % d) << n << " % " << d;
    }
  }
}

using test::batch_size;
using test::encode_batch;
using test::encode_record;
using test::record_size;

struct Ring {
  std::unique_ptr<ipc::Region> region;
  PartitionRing ring;
  ClaimSlot* slot = nullptr;  // this test's producer slot

  ClaimStatus claim(std::uint32_t bytes, std::uint32_t records, Claim* c) { return ring.claim(bytes, records, slot, c); }

  const PartitionHeader& header() const { return *reinterpret_cast<const PartitionHeader*>(region->bytes().data()); }
};

Ring make_ring(PartitionGeometry g) {
  auto region = ipc::create_anonymous_region(g.region_bytes());
  EXPECT_TRUE(region.is_ok());
  auto ring = PartitionRing::create((*region)->bytes(), g, 0, nullptr);
  EXPECT_TRUE(ring.is_ok()) << ring.status().to_string();
  auto slot = ring->acquire_slot(ipc::self());
  EXPECT_TRUE(slot.is_ok());
  return Ring{std::move(*region), *ring, *slot};
}

Claim append_claim(Ring& r, std::string_view value, std::int64_t ts = 1) {
  PartitionRing& ring = r.ring;
  const std::uint32_t len = record_size(value.size());
  Claim c;
  EXPECT_EQ(r.claim(static_cast<std::uint32_t>(align_frame(len)), 1, &c), ClaimStatus::kOk);
  ring.commit(c, encode_record(c.data, c.first_offset, ts, std::nullopt, value));
  ring.notify();
  return c;
}

std::int64_t append(Ring& r, std::string_view value, std::int64_t ts = 1) {
  return append_claim(r, value, ts).first_offset;
}

// Value bytes that make a record frame of exactly `frame_bytes` (>= 16, multiple of 8).
std::string value_for_frame(std::uint32_t frame_bytes) {
  return std::string(frame_bytes - kRecordHeaderSize, 'v');
}

// Reads every record from `cursor` on; returns their offsets.
std::vector<std::int64_t> drain(const PartitionRing& ring, ReadCursor& cursor) {
  std::vector<std::int64_t> offsets;
  RecordView views[64];
  for (;;) {
    ReadBatch b = ring.read(cursor, views, 64);
    EXPECT_EQ(b.status, ReadStatus::kOk);
    if (b.status != ReadStatus::kOk || b.count == 0) return offsets;
    for (std::size_t i = 0; i < b.count; ++i) offsets.push_back(views[i].offset());
  }
}

void store_commit_word(std::byte* frame, std::uint64_t word) {
  std::memcpy(frame, &word, sizeof word);
}

// ---------------------------------------------------------------- geometry and layout

TEST(PartitionGeometry, RejectsBadNumbersNamingTheField) {
  struct Case {
    PartitionGeometry g;
    const char* mention;
  };
  const Case cases[] = {
      {{16384, 3, 256}, "segment count"},     {{16384, 0, 256}, "segment count"},
      {{16384, 65537, 256}, "segment count"}, {{16384, 4, 32}, "index interval"},
      {{16384, 4, 0}, "index interval"},      {{16384, 4, 100}, "index interval"},
      {{0, 4, 256}, "segment size"},          {{4095, 4, 256}, "segment size"},
      {{5000, 4, 256}, "segment size"},       {{2ull << 30, 4, 4096}, "at most 1 GiB"},
  };
  for (const Case& c : cases) {
    Status s = c.g.validate();
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << c.mention;
    EXPECT_NE(s.message().find(c.mention), std::string::npos) << s.message();
  }
  EXPECT_TRUE(PartitionGeometry({4096, 4, 64}).validate().is_ok());
  EXPECT_TRUE(PartitionGeometry({1ull << 30, 65536, 1u << 20}).validate().is_ok());
}

TEST(PartitionGeometry, LayoutLeavesRoomForHeaderAndIndex) {
  for (PartitionGeometry g : {PartitionGeometry{4096, 4, 64}, PartitionGeometry{16384, 4, 256},
                              PartitionGeometry{1 << 20, 8, 4096}, PartitionGeometry{65536, 5, 65536}}) {
    ASSERT_TRUE(g.validate().is_ok());
    EXPECT_EQ(g.region_bytes(), kPartitionHeaderBytes + std::uint64_t{g.segment_count} * g.segment_bytes);
    Ring r = make_ring(g);
    const PartitionHeader& h = r.header();
    EXPECT_EQ(h.data_capacity, g.data_capacity());
    EXPECT_EQ(h.data_capacity % kFrameAlignment, 0u);
    EXPECT_EQ(h.data_start % 64, 0u);
    // The index covers every data byte: entry k names the record covering byte k * interval.
    EXPECT_GE(std::uint64_t{h.index_entries} * g.index_interval, h.data_capacity);
    EXPECT_GE(h.data_start, sizeof(SegmentHeader) + std::uint64_t{h.index_entries} * sizeof(IndexEntry));
    EXPECT_LE(h.data_start + h.data_capacity, g.segment_bytes);
    EXPECT_EQ(r.ring.max_frame_bytes(), std::min<std::uint64_t>(h.data_capacity, kMaxFrameBytes));
    EXPECT_EQ(r.ring.earliest_offset(), 0);
    EXPECT_EQ(r.ring.latest_offset(), 0);
  }
}

TEST(PartitionRing, CreateRefusesBadGeometryAndSmallRegion) {
  auto region = ipc::create_anonymous_region(1 << 20);
  ASSERT_TRUE(region.is_ok());
  auto bad = PartitionRing::create((*region)->bytes(), {16384, 2, 256}, 0, nullptr);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  PartitionGeometry g{16384, 4, 256};
  auto small = PartitionRing::create((*region)->bytes().first(g.region_bytes() - 1), g, 0, nullptr);
  EXPECT_EQ(small.status().code(), Code::kInvalidArgument);
  EXPECT_NE(small.status().message().find("smaller"), std::string::npos) << small.status().message();
}

TEST(PartitionRing, AttachChecksTheHeader) {
  PartitionGeometry g{16384, 4, 256};
  auto zero = ipc::create_anonymous_region(g.region_bytes());
  ASSERT_TRUE(zero.is_ok());
  EXPECT_EQ(PartitionRing::attach((*zero)->bytes(), 0, nullptr).status().code(), Code::kCorrupt);
  EXPECT_EQ(PartitionRing::attach((*zero)->bytes().first(100), 0, nullptr).status().code(), Code::kCorrupt);

  Ring r = make_ring(g);
  for (int i = 0; i < 10; ++i) append(r, "record-" + std::to_string(i));
  std::span<std::byte> bytes = r.region->bytes();
  auto attached = PartitionRing::attach(bytes, 0, nullptr);
  ASSERT_TRUE(attached.is_ok()) << attached.status().to_string();
  ReadCursor c = attached->earliest();
  EXPECT_EQ(drain(*attached, c).size(), 10u);

  // The region handed to attach is shorter than the header says.
  EXPECT_EQ(PartitionRing::attach(bytes.first(bytes.size() - 4096), 0, nullptr).status().code(), Code::kCorrupt);

  auto* h = reinterpret_cast<PartitionHeader*>(bytes.data());
  h->version = 99;
  auto wrong_version = PartitionRing::attach(bytes, 0, nullptr);
  EXPECT_EQ(wrong_version.status().code(), Code::kCorrupt);
  EXPECT_NE(wrong_version.status().message().find("version"), std::string::npos);
  h->version = kPartitionVersion;
  const std::uint64_t capacity = h->data_capacity;
  h->data_capacity = capacity + 4096;  // would let readers run past the segment
  EXPECT_EQ(PartitionRing::attach(bytes, 0, nullptr).status().code(), Code::kCorrupt);
  h->data_capacity = capacity;
  h->segment_count = 3;
  EXPECT_EQ(PartitionRing::attach(bytes, 0, nullptr).status().code(), Code::kCorrupt);
  h->segment_count = 4;
  EXPECT_TRUE(PartitionRing::attach(bytes, 0, nullptr).is_ok());
}

// ---------------------------------------------------------------- exclusive lease

// A damaged or hostile exclusive_owner word: one naming no live process is
// cleared by the next shared claim, which goes through; one naming a live
// process (here the test's parent) refuses claims with kLeased and that pid,
// at once and with nothing written; a holder whose word was replaced stops.
TEST(PartitionRing, AHostileLeaseWordNeverHangsAClaimAndWritesNothingWhileItHolds) {
  Ring r = make_ring({16384, 4, 256});
  auto& lease = const_cast<PartitionHeader&>(r.header()).exclusive_owner;
  const ipc::ProcessId me = ipc::self();
  const auto bytes = static_cast<std::uint32_t>(align_frame(record_size(2)));  // a 2-byte value
  const std::uint64_t dead_words[] = {
      0xFFFFFFFFull,                                   // pid -1
      0x7FFFFFF0ull | (std::uint64_t{1234} << 32),     // no such pid
      static_cast<std::uint32_t>(me.pid) | ((me.start_time + 1) << 32),  // this pid, another start time
  };
  for (std::uint64_t word : dead_words) {
    lease.store(word);
    Claim c;
    ASSERT_EQ(r.claim(bytes, 1, &c), ClaimStatus::kOk) << std::hex << word;
    r.ring.commit(c, encode_record(c.data, c.first_offset, 1, std::nullopt, "ok"));
    EXPECT_EQ(lease.load(), 0u) << "a dead holder's word stayed";
  }
  const ipc::ProcessId parent = ipc::identify(::getppid());
  ASSERT_FALSE(parent.empty());
  lease.store(parent.packed());
  const std::uint64_t tail = r.header().tail.load();
  Claim c;
  ASSERT_EQ(r.claim(bytes, 1, &c), ClaimStatus::kLeased);
  EXPECT_EQ(c.stalled_by, parent.pid);
  EXPECT_EQ(r.header().tail.load(), tail) << "a refused claim moved the tail";
  std::int32_t holder = 0;
  EXPECT_EQ(r.ring.take_lease(me, &holder), ClaimStatus::kLeased);
  EXPECT_EQ(holder, parent.pid);
  EXPECT_EQ(r.ring.lease_holder(), parent.pid);
  EXPECT_EQ(r.ring.claim(bytes, 1, r.slot, &c, kDefaultStallPatienceNs, ClaimMode::kExclusive), ClaimStatus::kLeased)
      << "claimed with plain stores under another process's lease";
  EXPECT_EQ(r.header().tail.load(), tail);
  lease.store(0);
  ASSERT_EQ(r.ring.take_lease(me, &holder), ClaimStatus::kOk);
  ASSERT_EQ(r.ring.claim(bytes, 1, r.slot, &c, kDefaultStallPatienceNs, ClaimMode::kLeaseFirst), ClaimStatus::kOk);
  r.ring.commit(c, encode_record(c.data, c.first_offset, 1, std::nullopt, "x1"));
  ASSERT_EQ(r.ring.claim(bytes, 1, r.slot, &c, kDefaultStallPatienceNs, ClaimMode::kExclusive), ClaimStatus::kOk);
  r.ring.commit(c, encode_record(c.data, c.first_offset, 1, std::nullopt, "x2"));
  EXPECT_EQ(c.first_offset, 4);
  r.ring.release_lease(me);
  EXPECT_EQ(lease.load(), 0u);
}

// ---------------------------------------------------------------- appending

TEST(PartitionRing, AppendsAndReadsInOrderAcrossSegments) {
  Ring r = make_ring({16384, 4, 256});
  ReadCursor cur = r.ring.earliest();
  RecordView views[64];
  std::int64_t expected = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string v = "value-" + std::to_string(i);
    ASSERT_EQ(append(r, v), i);
    ReadBatch b = r.ring.read(cur, views, 64);
    ASSERT_EQ(b.status, ReadStatus::kOk);
    for (std::size_t k = 0; k < b.count; ++k) {
      EXPECT_EQ(views[k].offset(), expected);
      EXPECT_EQ(views[k].value(), "value-" + std::to_string(expected));
      EXPECT_TRUE(views[k].verify_checksum());
      ++expected;
    }
  }
  EXPECT_EQ(expected, 2000);
  EXPECT_EQ(r.ring.latest_offset(), 2000);
  EXPECT_GT(r.ring.earliest_offset(), 0);
}

TEST(PartitionRing, RefusesOversizeClaimsAndStoresNothing) {
  Ring r = make_ring({16384, 4, 256});
  const auto capacity = static_cast<std::uint32_t>(r.ring.data_capacity());
  ASSERT_EQ(append(r, "first"), 0);
  const ReadCursor before = r.ring.latest();
  Claim c;
  EXPECT_EQ(r.claim(capacity + 8, 1, &c), ClaimStatus::kTooLarge);
  EXPECT_EQ(r.claim(0xFFFFFFF8u, 1, &c), ClaimStatus::kTooLarge);
  EXPECT_EQ(r.claim(0, 1, &c), ClaimStatus::kTooLarge);
  EXPECT_EQ(r.claim(64, 0, &c), ClaimStatus::kTooLarge);
  EXPECT_EQ(r.claim(64, kMaxRecordsPerSegment + 1, &c), ClaimStatus::kTooLarge);
  // Every frame has a 16-byte header and every record takes 4 bytes or
  // more: fewer bytes cannot hold them (and would let a tail count more
  // records than its bytes hold).
  EXPECT_EQ(r.claim(8, 1, &c), ClaimStatus::kTooLarge);
  EXPECT_EQ(r.claim(88, 23, &c), ClaimStatus::kTooLarge);
  const ReadCursor after = r.ring.latest();
  EXPECT_EQ(after.generation, before.generation);
  EXPECT_EQ(after.position, before.position);
  EXPECT_EQ(after.next_offset, 1);
  EXPECT_EQ(append(r, "second"), 1);
  ReadCursor cur = r.ring.earliest();
  EXPECT_EQ(drain(r.ring, cur), (std::vector<std::int64_t>{0, 1}));
}

TEST(PartitionRing, RecordFillingAWholeSegment) {
  Ring r = make_ring({16384, 5, 256});  // retains the two segments before the current one
  const auto capacity = static_cast<std::uint32_t>(r.ring.data_capacity());
  ASSERT_EQ(append(r, "small"), 0);
  const std::string big = value_for_frame(capacity);
  Claim whole = append_claim(r, big, 2);
  EXPECT_EQ(whole.first_offset, 1);
  EXPECT_EQ(whole.generation, 1u);  // did not fit after "small": the segment rolled
  EXPECT_EQ(whole.position, 0u);
  Claim next = append_claim(r, "after", 3);
  EXPECT_EQ(next.generation, 2u);
  EXPECT_EQ(next.first_offset, 2);
  ReadCursor cur = r.ring.earliest();
  RecordView v[4];
  ReadBatch b = r.ring.read(cur, v, 4);
  ASSERT_EQ(b.count, 1u);
  EXPECT_EQ(v[0].value(), "small");
  b = r.ring.read(cur, v, 4);
  ASSERT_EQ(b.count, 1u);
  EXPECT_EQ(v[0].value().size(), big.size());
  EXPECT_TRUE(v[0].verify_checksum());
  b = r.ring.read(cur, v, 4);
  ASSERT_EQ(b.count, 1u);
  EXPECT_EQ(v[0].value(), "after");
}

TEST(PartitionRing, RecordsPerSegmentLimitRollsTheSegment) {
  // Claims only (nothing committed): the record count, not the bytes, fills
  // the segment (its data holds more than 2^20 - 1 frame headers).
  Ring r = make_ring({52ull << 20, 4, 1u << 16});
  Claim c;
  ASSERT_EQ(r.claim(kMaxRecordsPerSegment * kFrameHeaderSize, kMaxRecordsPerSegment, &c), ClaimStatus::kOk);
  EXPECT_EQ(c.generation, 0u);
  EXPECT_EQ(c.first_offset, 0);
  ASSERT_EQ(r.claim(64, 1, &c), ClaimStatus::kOk);
  EXPECT_EQ(c.generation, 1u);
  EXPECT_EQ(c.position, 0u);
  EXPECT_EQ(c.first_offset, std::int64_t{kMaxRecordsPerSegment});
  EXPECT_EQ(r.ring.latest_offset(), std::int64_t{kMaxRecordsPerSegment} + 1);
}

TEST(PartitionRing, RecordsPerSegmentLimitWithCommittedRecords) {
  // Segments large enough that 2^20 - 1 empty records (4 bytes each in a
  // batch) fit with room to spare, so the count limit is what rolls them.
  const std::uint64_t segment = 8ull << 20;
  Ring r = make_ring({segment, 4, 1u << 16});
  constexpr std::uint32_t kBatch = 1023;  // 1023 * 1025 == kMaxRecordsPerSegment
  static_assert(std::uint64_t{kBatch} * 1025 == kMaxRecordsPerSegment);
  const std::vector<std::string> empties(kBatch);
  const std::uint32_t bytes = static_cast<std::uint32_t>(align_frame(batch_size(empties)));
  ASSERT_EQ(batch_size(empties), kBatchHeaderSize + kBatch * kMinRecordBytes);
  ASSERT_GT(r.ring.data_capacity(), std::uint64_t{bytes} * 1025 + 4096);
  std::int64_t offset = 0;
  for (int round = 0; round < 1026; ++round) {
    Claim c;
    ASSERT_EQ(r.claim(bytes, kBatch, &c), ClaimStatus::kOk);
    ASSERT_EQ(c.first_offset, offset);
    ASSERT_EQ(c.generation, round < 1025 ? 0u : 1u) << "round " << round;
    r.ring.commit(c, encode_batch(c.data, offset, offset, empties));
    offset += kBatch;
  }
  ReadCursor cur = r.ring.earliest();
  std::vector<RecordView> views(4096);
  std::int64_t expected = 0;
  std::uint64_t last_generation = 0;
  for (;;) {
    ReadBatch b = r.ring.read(cur, views.data(), views.size());
    ASSERT_EQ(b.status, ReadStatus::kOk);
    if (b.count == 0) break;
    for (std::size_t i = 0; i < b.count; ++i) ASSERT_EQ(views[i].offset(), expected++);
    // One read never spans two segments.
    if (views[0].offset() < std::int64_t{kMaxRecordsPerSegment}) {
      EXPECT_EQ(b.generation, 0u);
      EXPECT_LE(views[b.count - 1].offset(), std::int64_t{kMaxRecordsPerSegment} - 1);
    }
    last_generation = b.generation;
  }
  EXPECT_EQ(expected, offset);
  EXPECT_EQ(last_generation, 1u);
}

TEST(PartitionRing, BatchFrameIsVisibleWholeAtItsOneCommit) {
  Ring r = make_ring({16384, 4, 256});
  append(r, "a");
  append(r, "b");
  ReadCursor cur = r.ring.earliest();
  ASSERT_EQ(drain(r.ring, cur).size(), 2u);

  const std::vector<std::string> values = {"x", std::string(13, 'y'), std::string(100, 'z')};
  Claim c;
  ASSERT_EQ(r.claim(static_cast<std::uint32_t>(align_frame(batch_size(values))), 3, &c), ClaimStatus::kOk);
  EXPECT_EQ(c.first_offset, 2);
  EXPECT_EQ(c.records, 3u);
  EXPECT_EQ(r.ring.latest_offset(), 5);
  const std::uint64_t word = encode_batch(c.data, c.first_offset, 7, values);
  // Another producer claims and commits after the batch meanwhile.
  Claim later = append_claim(r, "later");
  EXPECT_EQ(later.first_offset, 5);

  RecordView v[8];
  EXPECT_EQ(r.ring.read(cur, v, 8).count, 0u) << "a reader must not pass an uncommitted batch";
  EXPECT_FALSE(r.ring.readable(cur));
  r.ring.commit(c, word);
  EXPECT_TRUE(r.ring.readable(cur));
  // A reader that takes fewer than the batch holds stays on its frame.
  ReadBatch b = r.ring.read(cur, v, 1);
  ASSERT_EQ(b.count, 1u);
  EXPECT_EQ(v[0].offset(), 2);
  EXPECT_EQ(v[0].value(), "x");
  EXPECT_EQ(v[0].timestamp_ns(), 7);
  EXPECT_EQ(cur.next_offset, 3);
  EXPECT_EQ(cur.position, c.position);
  b = r.ring.read(cur, v, 8);
  ASSERT_EQ(b.count, 3u);
  EXPECT_EQ(v[0].offset(), 3);
  EXPECT_EQ(v[0].value(), values[1]);
  EXPECT_EQ(v[1].offset(), 4);
  EXPECT_EQ(v[1].value(), values[2]);
  EXPECT_EQ(v[2].offset(), 5);
  EXPECT_EQ(v[2].value(), "later");
  EXPECT_EQ(v[0].frame(), v[1].frame()) << "a batch's records share its frame";
  EXPECT_TRUE(v[1].verify_checksum());
}

// ---------------------------------------------------------------- segment ends

TEST(PartitionRing, ExactlyFullSegmentIsSealedAndReadersMoveOn) {
  Ring r = make_ring({16384, 4, 256});
  const std::uint64_t capacity = r.ring.data_capacity();
  std::uint32_t frame = 64;
  while (capacity % frame != 0) frame += 8;
  const std::string value = value_for_frame(frame);
  const std::int64_t n = static_cast<std::int64_t>(capacity / frame);
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(append_claim(r, value).generation, 0u);
  EXPECT_EQ(r.ring.latest().generation, 0u);
  EXPECT_EQ(r.ring.latest().position, capacity);
  ReadCursor cur = r.ring.earliest();
  EXPECT_EQ(drain(r.ring, cur).size(), static_cast<std::size_t>(n));
  EXPECT_EQ(cur.position, capacity);
  EXPECT_FALSE(r.ring.readable(cur)) << "nothing after the last record yet";

  Claim next = append_claim(r, "next");
  EXPECT_EQ(next.generation, 1u);
  EXPECT_EQ(next.position, 0u);
  EXPECT_EQ(next.first_offset, n);
  EXPECT_TRUE(r.ring.readable(cur));
  RecordView v[4];
  ReadBatch b = r.ring.read(cur, v, 4);
  ASSERT_EQ(b.status, ReadStatus::kOk);
  ASSERT_EQ(b.count, 1u);
  EXPECT_EQ(b.generation, 1u);
  EXPECT_EQ(v[0].offset(), n);
  EXPECT_EQ(v[0].value(), "next");
}

TEST(PartitionRing, PartlyFullSegmentEndsWithAnEndWord) {
  Ring r = make_ring({16384, 4, 256});
  const std::uint64_t capacity = r.ring.data_capacity();
  std::uint32_t frame = 72;
  while (capacity % frame < kFrameAlignment) frame += 8;  // leaves a gap an END word fits in
  const std::string value = value_for_frame(frame);
  const std::int64_t n = static_cast<std::int64_t>(capacity / frame);
  for (std::int64_t i = 0; i < n; ++i) append(r, value);
  ReadCursor cur = r.ring.earliest();
  RecordView v[512];
  ReadBatch b = r.ring.read(cur, v, 512);
  ASSERT_EQ(b.count, static_cast<std::size_t>(n));
  EXPECT_FALSE(r.ring.readable(cur));

  Claim next = append_claim(r, value);  // does not fit the gap
  EXPECT_EQ(next.generation, 1u);
  EXPECT_EQ(next.first_offset, n);
  EXPECT_TRUE(r.ring.readable(cur));
  b = r.ring.read(cur, v, 512);
  ASSERT_EQ(b.status, ReadStatus::kOk);
  ASSERT_EQ(b.count, 1u);
  EXPECT_EQ(v[0].offset(), n);
  EXPECT_EQ(b.generation, 1u);
}

// ---------------------------------------------------------------- seeking

// Appends records of varying sizes with timestamps `ts(i)` until the ring has
// dropped its first segments; returns the values by offset.
template <typename Ts>
std::vector<std::string> fill_past_a_lap(Ring& r, Ts ts) {
  PartitionRing& ring = r.ring;
  std::vector<std::string> values;
  const std::uint64_t target = ring.data_capacity() * (ring.segment_count() + 2);
  std::uint64_t bytes = 0;
  for (std::int64_t i = 0; bytes < target; ++i) {
    std::string v = "v";
    v += std::to_string(i);
    v.append(static_cast<std::size_t>(i * 37 % 211), '.');
    EXPECT_EQ(append(r, v, ts(i)), i);
    bytes += align_frame(record_size(v.size()));
    values.push_back(std::move(v));
  }
  return values;
}

TEST(PartitionRing, SeekToEveryRetainedOffsetAcrossSegments) {
  Ring r = make_ring({16384, 8, 256});
  std::vector<std::string> values = fill_past_a_lap(r, [](std::int64_t i) { return 1000 + 10 * i; });
  const std::int64_t earliest = r.ring.earliest_offset();
  const std::int64_t latest = r.ring.latest_offset();
  ASSERT_GT(earliest, 0);
  ASSERT_EQ(latest, static_cast<std::int64_t>(values.size()));
  ASSERT_GE(r.ring.latest().generation - r.ring.earliest().generation, 4u);
  RecordView v[1];
  for (std::int64_t off = earliest; off < latest; ++off) {
    auto c = r.ring.seek(off);
    ASSERT_TRUE(c.is_ok()) << off << ": " << c.status().to_string();
    EXPECT_EQ(c->next_offset, off);
    ReadBatch b = r.ring.read(*c, v, 1);
    ASSERT_EQ(b.count, 1u) << off;
    EXPECT_EQ(v[0].offset(), off);
    EXPECT_EQ(v[0].value(), values[static_cast<std::size_t>(off)]);
  }
  auto end = r.ring.seek(latest);
  ASSERT_TRUE(end.is_ok());
  EXPECT_EQ(end->next_offset, latest);
  EXPECT_EQ(r.ring.read(*end, v, 1).count, 0u);
  for (std::int64_t bad :
       {earliest - 1, std::int64_t{0}, latest + 1, std::int64_t{-1}, std::numeric_limits<std::int64_t>::max()}) {
    auto c = r.ring.seek(bad);
    EXPECT_EQ(c.status().code(), Code::kOffsetOutOfRange) << bad;
    EXPECT_NE(c.status().message().find("retained range"), std::string::npos) << c.status().message();
  }
}

TEST(PartitionRing, SeekTimeAcrossSegments) {
  Ring r = make_ring({16384, 8, 256});
  auto ts = [](std::int64_t i) { return 1000 + 10 * i; };
  std::vector<std::string> values = fill_past_a_lap(r, ts);
  const std::int64_t earliest = r.ring.earliest_offset();
  const std::int64_t latest = r.ring.latest_offset();
  RecordView v[1];
  auto expect_at = [&](std::int64_t t, std::int64_t offset) {
    auto c = r.ring.seek_time(t);
    ASSERT_TRUE(c.is_ok()) << t << ": " << c.status().to_string();
    EXPECT_EQ(c->next_offset, offset) << "time " << t;
    ReadBatch b = r.ring.read(*c, v, 1);
    if (offset == latest) {
      EXPECT_EQ(b.count, 0u);
    } else {
      ASSERT_EQ(b.count, 1u);
      EXPECT_EQ(v[0].offset(), offset);
    }
  };
  for (std::int64_t i = earliest; i < latest; ++i) {
    expect_at(ts(i), i);
    expect_at(ts(i) - 9, i);
    expect_at(ts(i) + 1, i + 1);
  }
  // Before everything retained: the earliest record. After everything: the end.
  expect_at(ts(earliest) - 1, earliest);
  expect_at(0, earliest);
  expect_at(std::numeric_limits<std::int64_t>::min(), earliest);
  expect_at(ts(latest - 1) + 1, latest);
  expect_at(std::numeric_limits<std::int64_t>::max(), latest);
}

TEST(PartitionRing, SeekTimeWithEqualTimestampsFindsTheFirstOfThem) {
  Ring r = make_ring({16384, 8, 256});
  constexpr std::int64_t kGroup = 37;  // groups of equal timestamps straddle segment ends
  auto ts = [](std::int64_t i) { return 1000 + 10 * (i / kGroup); };
  fill_past_a_lap(r, ts);
  const std::int64_t earliest = r.ring.earliest_offset();
  const std::int64_t latest = r.ring.latest_offset();
  for (std::int64_t first = 0; first < latest; first += kGroup) {
    const std::int64_t expected = std::max(first, earliest);
    if (expected >= latest) break;
    for (std::int64_t t : {ts(first), ts(first) - 1}) {
      auto c = r.ring.seek_time(t);
      ASSERT_TRUE(c.is_ok()) << c.status().to_string();
      EXPECT_EQ(c->next_offset, expected) << "group at " << first << " time " << t;
    }
  }
}

TEST(PartitionRing, SeekTimeWhenEveryTimestampIsEqual) {
  Ring r = make_ring({16384, 8, 256});
  fill_past_a_lap(r, [](std::int64_t) { return 5000; });
  const std::int64_t earliest = r.ring.earliest_offset();
  const std::int64_t latest = r.ring.latest_offset();
  ASSERT_GT(earliest, 0);
  EXPECT_EQ(r.ring.seek_time(5000)->next_offset, earliest);
  EXPECT_EQ(r.ring.seek_time(4999)->next_offset, earliest);
  EXPECT_EQ(r.ring.seek_time(5001)->next_offset, latest);
}

TEST(PartitionRing, SeekOnAnEmptyRing) {
  Ring r = make_ring({16384, 4, 256});
  EXPECT_EQ(r.ring.seek(0)->next_offset, 0);
  EXPECT_EQ(r.ring.seek(1).status().code(), Code::kOffsetOutOfRange);
  EXPECT_EQ(r.ring.seek_time(0)->next_offset, 0);
  EXPECT_EQ(r.ring.seek_time(std::numeric_limits<std::int64_t>::max())->next_offset, 0);
}

TEST(PartitionRing, CorruptIndexEntriesDoNotMisleadSeek) {
  Ring r = make_ring({16384, 4, 256});
  std::vector<std::string> values;
  for (int i = 0; i < 150; ++i) {
    values.push_back("value-" + std::to_string(i) + std::string(40, '.'));
    append(r, values.back(), 1000 + i);
  }
  ASSERT_EQ(r.ring.latest().generation, 0u);
  // Entries carrying the live tag but naming bad positions: misaligned,
  // past the data area, and inside a frame.
  const PartitionHeader& h = r.header();
  auto* index = reinterpret_cast<IndexEntry*>(r.region->bytes().data() + kPartitionHeaderBytes + sizeof(SegmentHeader));
  const std::uint64_t tag = std::uint64_t{generation_tag(0)} << 32;
  index[2].tag_position.store(tag | 3);
  index[3].tag_position.store(tag | static_cast<std::uint32_t>(h.data_capacity + 64));
  index[4].tag_position.store(tag | 0xFFFFFFF8u);
  index[5].tag_position.store(tag | 24);
  for (std::int64_t off = 0; off < 150; ++off) {
    auto c = r.ring.seek(off);
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    RecordView v[1];
    ASSERT_EQ(r.ring.read(*c, v, 1).count, 1u);
    EXPECT_EQ(v[0].offset(), off);
    EXPECT_EQ(v[0].value(), values[static_cast<std::size_t>(off)]);
    auto t = r.ring.seek_time(1000 + off);
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    EXPECT_EQ(t->next_offset, off);
  }
}

// ---------------------------------------------------------------- overrun

TEST(PartitionRing, OverrunReaderGetsOutOfRange) {
  Ring r = make_ring({16384, 4, 256});
  ReadCursor cur = r.ring.earliest();
  for (int i = 0; i < 5000; ++i) append(r, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  RecordView views[8];
  ReadBatch b = r.ring.read(cur, views, 8);
  EXPECT_EQ(b.status, ReadStatus::kOutOfRange);
  EXPECT_EQ(b.count, 0u);
  EXPECT_EQ(cur.next_offset, 0) << "the cursor stays where it was";
  ReadCursor e = r.ring.earliest();
  b = r.ring.read(e, views, 8);
  ASSERT_EQ(b.status, ReadStatus::kOk);
  ASSERT_GT(b.count, 0u);
  EXPECT_EQ(views[0].offset(), r.ring.earliest_offset());
}

TEST(PartitionRing, ReaderInTheMiddleOfAReusedSegmentGetsOutOfRange) {
  Ring r = make_ring({16384, 4, 256});
  for (int i = 0; i < 50; ++i) append(r, "early");
  ReadCursor cur = r.ring.latest();  // mid-segment, nothing committed here yet
  ASSERT_EQ(cur.generation, 0u);
  EXPECT_FALSE(r.ring.readable(cur));
  const std::string value(200, 'n');
  while (r.ring.latest().generation < 5) append(r, value);
  EXPECT_TRUE(r.ring.readable(cur)) << "a waiting reader must wake up to learn it was overrun";
  RecordView v[8];
  ReadBatch b = r.ring.read(cur, v, 8);
  EXPECT_EQ(b.status, ReadStatus::kOutOfRange);
  EXPECT_EQ(b.count, 0u);
}

TEST(PartitionRing, ReaderAtTheEndOfAReusedFullSegmentIsWokenAndGetsOutOfRange) {
  // A reader that read a segment filled to the last byte waits at its end
  // (no END word fits there). If the ring then reuses that segment, the
  // reader must be told (readable() true, read() kOutOfRange), even though
  // the new generation in that slot has not been sealed yet.
  Ring r = make_ring({16384, 4, 256});
  const std::uint64_t capacity = r.ring.data_capacity();
  std::uint32_t frame = 64;
  while (capacity % frame != 0) frame += 8;
  const std::string value = value_for_frame(frame);
  const std::int64_t per_segment = static_cast<std::int64_t>(capacity / frame);
  for (std::int64_t i = 0; i < per_segment; ++i) append(r, value);
  ReadCursor cur = r.ring.earliest();
  ASSERT_EQ(drain(r.ring, cur).size(), static_cast<std::size_t>(per_segment));
  ASSERT_EQ(cur.position, capacity);
  // Roll into generation 2: generation 0's slot is retired for generation 4.
  for (std::int64_t i = 0; i < per_segment + 1; ++i) append(r, value);
  ASSERT_EQ(r.ring.latest().generation, 2u);
  EXPECT_FALSE(r.ring.generation_live(0));
  EXPECT_TRUE(r.ring.readable(cur));
  RecordView v[4];
  EXPECT_EQ(r.ring.read(cur, v, 4).status, ReadStatus::kOutOfRange);
}

TEST(PartitionRing, GenerationLiveTurnsFalseWhenTheRingWrapsDuringARead) {
  // Views are read, then the ring laps while the reader still holds them:
  // generation_live() must say so from the roll that retires their segment on.
  Ring r = make_ring({16384, 4, 256});
  for (int i = 0; i < 20; ++i) append(r, "held-" + std::to_string(i));
  ReadCursor cur = r.ring.earliest();
  RecordView held[20];
  ReadBatch b = r.ring.read(cur, held, 20);
  ASSERT_EQ(b.count, 20u);
  ASSERT_EQ(b.generation, 0u);
  const std::string filler(100, 'f');
  // With 4 segments, generation 0 stays retained while generation 1 takes appends.
  while (r.ring.latest().generation < 1) append(r, filler);
  EXPECT_TRUE(r.ring.generation_live(b.generation));
  EXPECT_EQ(r.ring.earliest_offset(), 0);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(held[i].value(), "held-" + std::to_string(i));
  while (r.ring.latest().generation < 2) append(r, filler);
  EXPECT_FALSE(r.ring.generation_live(b.generation));
  EXPECT_GT(r.ring.earliest_offset(), 19);
  ReadCursor old{0, 0, 0};
  EXPECT_EQ(r.ring.read(old, held, 20).status, ReadStatus::kOutOfRange);
}

// ---------------------------------------------------------------- corrupt bytes

// A ring with three good records and a fourth frame claimed (256 bytes),
// which a hostile or broken writer fills and commits.
struct CorruptFixture {
  static constexpr std::uint32_t kBadBytes = 256;
  Ring r = make_ring({16384, 4, 256});
  Claim bad;
  void build(const std::function<void(std::byte* frame)>& corrupt) {
    for (int i = 0; i < 3; ++i) append(r, "good-" + std::to_string(i));
    ASSERT_EQ(r.claim(kBadBytes, 1, &bad), ClaimStatus::kOk);
    corrupt(bad.data);
  }
  // Reads from the start: the good records come first, then `status` at offset 3.
  void expect_corrupt_after_good_records(ReadStatus status = ReadStatus::kCorrupt, bool verify = false) {
    ReadCursor cur = r.ring.earliest();
    RecordView v[16];
    ReadBatch b = r.ring.read(cur, v, 16, verify);
    ASSERT_EQ(b.status, ReadStatus::kOk);
    ASSERT_EQ(b.count, 3u) << "the records before the corrupt one are delivered";
    EXPECT_EQ(v[2].value(), "good-2");
    EXPECT_EQ(cur.next_offset, 3);
    b = r.ring.read(cur, v, 16, verify);
    EXPECT_EQ(b.status, status);
    EXPECT_EQ(b.count, 0u);
    EXPECT_EQ(cur.next_offset, 3) << "the cursor stays at the corrupt record";
    EXPECT_TRUE(r.ring.readable(cur));
  }
};

// A sound frame's commit word with its length, kind or flags replaced, and a
// checksum that matches the new info where the frame's bytes can be hashed
// (damage that a checksum cannot catch).
std::uint64_t rewritten(std::byte* frame, std::uint32_t info) {
  return (info & kLengthMask) <= CorruptFixture::kBadBytes ? commit_word_of(frame, info, 3) : make_commit_word(info, 0);
}

TEST(PartitionRing, HostileCommitLengthsAndKindsAreCorruptNotACrash) {
  std::vector<std::uint32_t> infos;
  for (std::uint32_t length : {1u, 8u, 15u, 16384u, kLengthMask})
    for (std::uint32_t kind : {kKindRecord, kKindBatch, kKindAbandoned}) infos.push_back(make_info(kind, length));
  infos.push_back(make_info(0, 32));  // no kind
  infos.push_back(make_info(kKindBatch, 32, kHasKey));
  infos.push_back(make_info(kKindAbandoned, 32, kHasHeaders));
  for (std::uint32_t info : infos) {
    SCOPED_TRACE(::testing::Message() << "info " << std::hex << info);
    CorruptFixture f;
    f.build([&](std::byte* frame) {
      encode_record(frame, 3, 1, std::nullopt, std::string(16, 'b'));
      store_commit_word(frame, rewritten(frame, info));
    });
    f.expect_corrupt_after_good_records();
  }
  // A length reaching exactly one byte past the data area.
  CorruptFixture f;
  f.build([&](std::byte* frame) {
    const auto left = static_cast<std::uint32_t>(f.r.ring.data_capacity() - f.bad.position);
    store_commit_word(frame, rewritten(frame, make_info(kKindRecord, left + 1)));
  });
  f.expect_corrupt_after_good_records();
}

TEST(PartitionRing, BatchWithTheWrongBaseOffsetIsCorrupt) {
  for (std::int64_t wrong : {std::int64_t{2}, std::int64_t{4}, std::int64_t{12345}, std::int64_t{-1},
                             std::numeric_limits<std::int64_t>::min()}) {
    SCOPED_TRACE(wrong);
    CorruptFixture f;
    f.build([&](std::byte* frame) { store_commit_word(frame, encode_batch(frame, wrong, 1, {"x", "y"})); });
    f.expect_corrupt_after_good_records();
  }
}

// Writes a batch of two records at offset 3 with `attributes` and, if not
// 0, `records_bytes` in its header, and commits it with a sound checksum.
void plant_batch_attributes(std::byte* frame, std::uint16_t attributes, std::uint32_t records_bytes = 0) {
  encode_batch(frame, 3, 1, {"x", "y"});
  std::memcpy(frame + kBatchAttributes, &attributes, 2);
  if (records_bytes != 0) std::memcpy(frame + kBatchRecordsBytes, &records_bytes, 4);
  store_commit_word(frame, commit_word_of(frame, make_info(kKindBatch, batch_size({"x", "y"})), 3));
}

TEST(PartitionRing, LengthsDisagreeingWithTheFrameAreCorrupt) {
  // The commit word and checksum are sound but the lengths inside the frame
  // are not: a reader that trusted them would hand out views past the frame.
  const auto planted = [](std::vector<std::uint8_t> body, std::uint32_t flags) {
    return [body, flags](std::byte* frame) {
      std::byte* at = frame + kRecordHeaderSize;
      for (std::uint8_t b : body) *at++ = static_cast<std::byte>(b);
      store_commit_word(frame, commit_word_of(frame, make_info(kKindRecord, static_cast<std::uint32_t>(at - frame), flags), 3));
    };
  };
  const std::function<void(std::byte*)> cases[] = {
      planted({5, 'k'}, kHasKey),                         // key of 5 bytes, 1 there
      planted({0x80, 0x80, 0x80, 0x80, 0x80, 1}, kHasKey),  // a varint longer than 5 bytes
      planted({0x80}, kHasKey),                           // a varint cut off by the frame's end
      planted({0, 9, 'v'}, kHasKey | kHasHeaders),        // header block of 9 bytes, 1 there
      planted({0, 0}, kHasKey | kHasHeaders),             // a header block flagged, but empty
      // A batch whose records do not add up to its frame.
      [](std::byte* frame) {
        encode_batch(frame, 3, 1, {"x", "y"});
        const std::uint32_t count = 3;
        std::memcpy(frame + kBatchRecordCount, &count, 4);
        store_commit_word(frame, commit_word_of(frame, make_info(kKindBatch, batch_size({"x", "y"})), 3));
      },
      [](std::byte* frame) {
        encode_batch(frame, 3, 1, {"x", "y"});
        frame[kBatchHeaderSize + 2] = std::byte{200};  // the first value's length
        store_commit_word(frame, commit_word_of(frame, make_info(kKindBatch, batch_size({"x", "y"})), 3));
      },
      [](std::byte* frame) {  // bytes after the last record
        encode_batch(frame, 3, 1, {"x", "y"});
        const std::uint32_t more = batch_size({"x", "y"}) - kBatchHeaderSize + 3;
        std::memcpy(frame + kBatchRecordsBytes, &more, 4);
        store_commit_word(frame, commit_word_of(frame, make_info(kKindBatch, batch_size({"x", "y"}) + 3), 3));
      },
      // Compression codecs that do not exist (1-4 do: read() hands those on
      // to its caller to decompress, see CompressedBatchesStopTheRead).
      [](std::byte* frame) { plant_batch_attributes(frame, 5); },
      [](std::byte* frame) { plant_batch_attributes(frame, 6); },
      [](std::byte* frame) { plant_batch_attributes(frame, 7 | kAttrTransactional); },
      // A compressed batch that declares fewer bytes of records than its
      // records take at least (4 each), or more than any frame holds.
      [](std::byte* frame) { plant_batch_attributes(frame, 3, 7); },
      [](std::byte* frame) { plant_batch_attributes(frame, 4, kMaxFrameBytes); },
  };
  int n = 0;
  for (const auto& corrupt : cases) {
    SCOPED_TRACE(n++);
    CorruptFixture f;
    f.build(corrupt);
    f.expect_corrupt_after_good_records();
  }
}

// read() does not decompress: it stops on a compressed batch, cursor on it,
// and hands on a view that stands for the batch, last; its caller (the
// Consumer) decompresses. Seeks look inside, and the ring's checks count
// the batch's offsets.
TEST(PartitionRing, CompressedBatchesStopTheRead) {
  Ring r = make_ring({16384, 4, 256});
  append(r, "a");
  append(r, "b");
  std::vector<std::string> values;
  for (int i = 0; i < 5; ++i) values.push_back("compressed record " + std::to_string(i) + std::string(40, 'z'));
  std::uint64_t word = 0;
  const std::vector<std::byte> frame = test::compressed_batch(2, 1000, values, Compression::kZstd, &word);
  ASSERT_FALSE(frame.empty());
  Claim c;
  ASSERT_EQ(r.claim(static_cast<std::uint32_t>(align_frame(frame.size())), 5, &c), ClaimStatus::kOk);
  std::memcpy(c.data + 8, frame.data() + 8, frame.size() - 8);
  r.ring.commit(c, word);
  append(r, "c");
  EXPECT_EQ(frame_offsets(c.data, word, frame.size(), 2), 5u);
  EXPECT_TRUE(r.ring.check().is_ok()) << r.ring.check().to_string();

  ReadCursor cur = r.ring.earliest();
  RecordView v[16];
  ReadBatch b = r.ring.read(cur, v, 16);
  ASSERT_EQ(b.status, ReadStatus::kOk);
  ASSERT_EQ(b.count, 3u) << "a, b, and the view that stands for the batch";
  EXPECT_EQ(v[1].value(), "b");
  EXPECT_FALSE(is_compressed_batch(v[1]));
  ASSERT_TRUE(is_compressed_batch(v[2]));
  EXPECT_EQ(v[2].offset(), 2);
  EXPECT_EQ(v[2].frame(), c.data);
  EXPECT_EQ(v[2].attributes() & kCompressionMask, 4);
  EXPECT_EQ(cur.next_offset, 2) << "the cursor stays on the batch";
  EXPECT_EQ(cur.position, c.position);
  EXPECT_EQ(cur.inner, 0u);
  // Again, with verification: the same, the checksum over the stored bytes.
  b = r.ring.read(cur, v, 16, true);
  ASSERT_EQ(b.count, 1u);
  ASSERT_TRUE(is_compressed_batch(v[0]));

  // What the consumer does: decompress, decode, move the cursor.
  const CompressedBatch packed = compressed_batch(v[0]);
  EXPECT_EQ(packed.codec, Compression::kZstd);
  EXPECT_EQ(packed.count, 5u);
  std::vector<std::byte> records(packed.records_bytes);
  format::Decompressor d;
  ASSERT_TRUE(d.decompress(packed.codec, packed.stored, records).is_ok());
  RecordView unpacked[5];
  const Decoded part = decode_batch_records(v[0].frame(), v[0].frame_size(), records, 0, 2, unpacked, 5);
  ASSERT_EQ(part.check, FrameCheck::kOk);
  ASSERT_EQ(part.views, 3u);
  EXPECT_EQ(part.offsets, 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(unpacked[i].offset(), 4 + i);
    EXPECT_EQ(unpacked[i].value(), values[2 + static_cast<std::size_t>(i)]);
    EXPECT_EQ(unpacked[i].timestamp_ns(), 1000 + 10 * (2 + i));
    EXPECT_EQ(unpacked[i].frame(), c.data) << "the stored frame";
    EXPECT_TRUE(unpacked[i].verify_checksum());
    EXPECT_FALSE(is_compressed_batch(unpacked[i]));
  }
  cur.position += static_cast<std::uint32_t>(align_frame(frame.size()));
  cur.next_offset = 7;
  b = r.ring.read(cur, v, 16);
  ASSERT_EQ(b.count, 1u);
  EXPECT_EQ(v[0].value(), "c");
  EXPECT_EQ(v[0].offset(), 7);

  // A seek into the batch lands on its record: the batch's frame, that many records in.
  auto at = r.ring.seek(4);
  ASSERT_TRUE(at.is_ok()) << at.status().to_string();
  EXPECT_EQ(at->position, c.position);
  EXPECT_EQ(at->inner, 2u);
  EXPECT_EQ(at->next_offset, 4);
  auto by_time = r.ring.seek_time(1025);
  ASSERT_TRUE(by_time.is_ok());
  EXPECT_EQ(by_time->next_offset, 5);
  EXPECT_EQ(by_time->inner, 3u);
  auto after = r.ring.seek(7);
  ASSERT_TRUE(after.is_ok());
  EXPECT_EQ(after->inner, 0u);
  EXPECT_EQ(after->position, c.position + align_frame(frame.size()));
  // read() from inside the batch: the stand-in again, at that offset.
  ReadCursor inside = *at;
  b = r.ring.read(inside, v, 16);
  ASSERT_EQ(b.count, 1u);
  ASSERT_TRUE(is_compressed_batch(v[0]));
  EXPECT_EQ(v[0].offset(), 4);

  // A seek across a batch whose bytes do not decompress (its zstd magic
  // number damaged) is kCorrupt, naming it.
  c.data[kBatchHeaderSize] ^= std::byte{0xFF};
  auto damaged = r.ring.seek(5);
  ASSERT_FALSE(damaged.is_ok());
  EXPECT_EQ(damaged.status().code(), Code::kCorrupt) << damaged.status().to_string();
  EXPECT_NE(damaged.status().message().find("zstd-compressed batch at offset 2"), std::string::npos)
      << damaged.status().message();
}

TEST(PartitionRing, FlippedValueByteFailsTheChecksum) {
  Ring r = make_ring({16384, 4, 256});
  Claim c = append_claim(r, "checksummed value");
  ReadCursor cur = r.ring.earliest();
  RecordView v[1];
  ASSERT_EQ(r.ring.read(cur, v, 1).count, 1u);
  EXPECT_TRUE(v[0].verify_checksum());
  c.data[kRecordHeaderSize + 3] ^= std::byte{0x20};
  EXPECT_FALSE(v[0].verify_checksum());
  c.data[kRecordHeaderSize + 3] ^= std::byte{0x20};
  EXPECT_TRUE(v[0].verify_checksum());
  c.data[kTimestampOffset] ^= std::byte{1};  // header fields are covered too
  EXPECT_FALSE(v[0].verify_checksum());
  c.data[kTimestampOffset] ^= std::byte{1};
  c.data[0] ^= std::byte{0x40};  // and the commit word's length and flags (the hash's seed)
  EXPECT_FALSE(v[0].verify_checksum());
}

TEST(PartitionRing, VerifyingReaderStopsAtAFrameFailingItsChecksum) {
  CorruptFixture f;
  f.build([](std::byte* frame) {
    const std::uint64_t word = encode_batch(frame, 3, 1, {"x", "y"});
    frame[kBatchHeaderSize + 4] ^= std::byte{1};  // the first value, after the checksum
    store_commit_word(frame, word);
  });
  f.expect_corrupt_after_good_records(ReadStatus::kChecksum, true);
  // Without verification the damage is not seen: the lengths all fit.
  ReadCursor cur = f.r.ring.earliest();
  EXPECT_EQ(drain(f.r.ring, cur).size(), 5u);
}

// ---------------------------------------------------------------- stalled rolls

// A process that has exited: its claims and rolls are abandoned, not waited for.
ipc::ProcessId exited_process() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return ipc::ProcessId{child, 0, 12345};
}

TEST(PartitionRing, ARollHeldBackByALiveClaimIsUndoneAtTheDeadline) {
  // A live producer's claim (this process: never taken for dead) is not
  // committed. Others fill the ring until the roll that would retire its
  // segment: that roll waits for it, then gives up at the claimer's
  // deadline, handing the tail back - nothing written, nothing left rolling.
  Ring r = make_ring({4096, 4, 64});
  Claim held;
  ASSERT_EQ(r.claim(64, 1, &held), ClaimStatus::kOk);
  ClaimSlot* other = r.ring.acquire_slot(ipc::self()).value();
  const std::string value = value_for_frame(512);
  std::int64_t sent = 0;
  Claim c;
  ClaimStatus st = ClaimStatus::kOk;
  for (; sent < 1000; ++sent) {
    st = r.ring.claim(512, 1, other, &c, 50'000'000);
    if (st != ClaimStatus::kOk) break;
        r.ring.commit(c, encode_record(c.data, c.first_offset, 1, std::nullopt, value));
  }
  ASSERT_EQ(st, ClaimStatus::kStalled);
  EXPECT_EQ(c.stalled_by, ::getpid());
  const std::uint64_t tail = r.header().tail.load();
  EXPECT_NE(tail & 0x0FFFFFFF, 0x0FFFFFFFu) << "the tail is not left rolling";
  EXPECT_EQ(r.ring.latest().next_offset, sent + 1) << "nothing was written";
  EXPECT_EQ(other->state.load(), kSlotIdle);

  // The same roll begun by a roller that then died: a reader finishing it
  // meets the same live claim, and undoes it too after its patience.
  ClaimSlot* dead = r.ring.acquire_slot(exited_process()).value();
  dead->tail.store(tail);
  dead->state.store(kSlotRolling);
  auto& header_tail = const_cast<PartitionHeader&>(r.header()).tail;
  header_tail.store(tail | 0x0FFFFFFF);
  EXPECT_EQ(r.ring.latest().next_offset, sent + 1);
  EXPECT_EQ(header_tail.load(), tail) << "the dead roller's roll is undone";
  EXPECT_EQ(dead->state.load(), kSlotIdle);

  // Committed at last, the claim lets the roll through; every offset is there once.
    r.ring.commit(held, encode_record(held.data, held.first_offset, 1, std::nullopt, value_for_frame(64)));
  ASSERT_EQ(r.ring.claim(512, 1, other, &c, 50'000'000), ClaimStatus::kOk);
  EXPECT_EQ(c.first_offset, sent + 1);
    r.ring.commit(c, encode_record(c.data, c.first_offset, 1, std::nullopt, value));
  ReadCursor cursor = r.ring.earliest();
  std::vector<std::int64_t> want(static_cast<std::size_t>(sent + 2));
  for (std::size_t i = 0; i < want.size(); ++i) want[i] = static_cast<std::int64_t>(i);
  // The roll retired generation 0 (the held record): what is retained is the tail of that sequence.
  const std::vector<std::int64_t> got = drain(r.ring, cursor);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got, std::vector<std::int64_t>(want.end() - static_cast<std::ptrdiff_t>(got.size()), want.end()));
  EXPECT_EQ(got.back(), sent + 1);
}

// An exclusive holder that died between its plain-stored claim and its
// commit: the next shared claim clears the lease and claims after it, the
// dead claim becomes an abandoned frame, and every offset is read or skipped
// exactly once.
TEST(PartitionRing, ADeadExclusiveHoldersClaimIsAbandonedAndThePartitionTakenOver) {
  Ring r = make_ring({16384, 4, 256});
  const ipc::ProcessId dead = exited_process();
  ClaimSlot* slot = r.ring.acquire_slot(dead).value();
  std::int32_t holder = 0;
  ASSERT_EQ(r.ring.take_lease(dead, &holder), ClaimStatus::kOk);
  const auto bytes = static_cast<std::uint32_t>(align_frame(record_size(2)));
  Claim c;
  ASSERT_EQ(r.ring.claim(bytes, 1, slot, &c, kDefaultStallPatienceNs, ClaimMode::kLeaseFirst), ClaimStatus::kOk);
  r.ring.commit(c, encode_record(c.data, c.first_offset, 1, std::nullopt, "d0"));
  ASSERT_EQ(r.ring.claim(bytes, 1, slot, &c, kDefaultStallPatienceNs, ClaimMode::kExclusive), ClaimStatus::kOk);
  r.ring.commit(c, encode_record(c.data, c.first_offset, 1, std::nullopt, "d1"));
  ASSERT_EQ(r.ring.claim(bytes, 1, slot, &c, kDefaultStallPatienceNs, ClaimMode::kExclusive), ClaimStatus::kOk);
  EXPECT_EQ(c.first_offset, 2);  // the holder "dies" here: claimed with a plain store, never committed

  Claim after;
  ASSERT_EQ(r.claim(bytes, 1, &after), ClaimStatus::kOk) << "a dead holder's lease held the partition";
  EXPECT_EQ(after.first_offset, 3);
  r.ring.commit(after, encode_record(after.data, after.first_offset, 1, std::nullopt, "a3"));
  EXPECT_EQ(r.header().exclusive_owner.load(), 0u);

  ReadCursor cursor = r.ring.earliest();
  EXPECT_EQ(drain(r.ring, cursor), (std::vector<std::int64_t>{0, 1})) << "read past an uncommitted claim";
  EXPECT_TRUE(r.ring.blocked(cursor));
  EXPECT_EQ(r.ring.recover_abandoned(cursor.generation), 1u);
  RecordView views[8];
  ReadBatch b = r.ring.read(cursor, views, 8);
  ASSERT_EQ(b.status, ReadStatus::kOk);
  EXPECT_EQ(b.abandoned, 1u);
  ASSERT_EQ(b.count, 1u);
  EXPECT_EQ(views[0].offset(), 3);
  EXPECT_EQ(views[0].value(), "a3");
}

TEST(RecordView, AccessorsStayInsideTheFrameWhenItsBytesAreReused) {
  // A consumer may read a view after the ring reused its bytes (it learns so
  // from still_valid() afterwards). Whatever those bytes now say, no accessor
  // may reach past the frame that was checked: the frame sits alone in a heap
  // buffer of exactly its size, so ASan reports any byte read beyond it.
  const Header headers[] = {{"hk", std::string_view("hv")}};
  const std::uint32_t len = record_size(20, std::string_view("key"), headers);
  std::vector<std::byte> frame(len);
  const std::uint64_t word = encode_record(frame.data(), 7, 99, std::string_view("key"), std::string(20, 'v'), headers);
  RecordView v;
  ASSERT_EQ(decode_frame(frame.data(), word, len, 0, 7, 0, &v, 1, true).check, FrameCheck::kOk);
  store_commit_word(frame.data(), word);
  ASSERT_TRUE(v.verify_checksum());
  ASSERT_EQ(v.value(), std::string(20, 'v'));
  ASSERT_EQ(v.key(), "key");
  ASSERT_EQ(v.offset(), 7);
  // The bytes are reused: a new commit word (END, or someone else's length)
  // and lengths from whatever frame now overlaps.
  for (std::uint8_t hostile : {0x7Fu, 0xFFu, 0x00u, 0x80u}) {
    SCOPED_TRACE(hostile);
    std::memset(frame.data(), hostile, frame.size());
    EXPECT_EQ(v.frame_size(), len);
    EXPECT_FALSE(v.verify_checksum());
    const std::string_view key = v.key(), value = v.value(), block = v.header_block();
    EXPECT_LE(key.size() + value.size() + block.size(), len - kRecordHeaderSize);
    std::size_t sum = 0;
    for (char c : key) sum += static_cast<unsigned char>(c);
    for (char c : value) sum += static_cast<unsigned char>(c);
    for (char c : block) sum += static_cast<unsigned char>(c);
    EXPECT_GE(sum, 0u);
    v.for_each_header([&](const HeaderView& h) { sum += h.key.size(); });
    sum += v.header_count();
  }
}

TEST(PartitionRing, MalformedHeaderBlockIsReportedByForEachHeader) {
  Ring r = make_ring({16384, 4, 256});
  const Header headers[] = {{"k1", std::string_view("v1")}, {"k2", std::nullopt}};
  const std::uint32_t len = record_size(5, std::nullopt, headers);
  Claim c;
  ASSERT_EQ(r.claim(static_cast<std::uint32_t>(align_frame(len)), 1, &c), ClaimStatus::kOk);
  r.ring.commit(c, encode_record(c.data, c.first_offset, 1, std::nullopt, "value", headers));
  ReadCursor cur = r.ring.earliest();
  RecordView v[1];
  ASSERT_EQ(r.ring.read(cur, v, 1).count, 1u);
  int seen = 0;
  EXPECT_TRUE(v[0].for_each_header([&](const HeaderView& h) {
    EXPECT_EQ(h.key, seen == 0 ? "k1" : "k2");
    EXPECT_EQ(h.value.has_value(), seen == 0);
    ++seen;
  }));
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(v[0].header_count(), 2);
  // The block: [count][len k1][k1][len+1 v1][v1][len k2][k2][0]. A header
  // count larger than the block holds, then a key length past it.
  std::byte* block = const_cast<std::byte*>(reinterpret_cast<const std::byte*>(v[0].header_block().data()));
  block[0] = std::byte{9};
  EXPECT_FALSE(v[0].for_each_header([](const HeaderView&) {}));
  block[0] = std::byte{2};
  block[1] = std::byte{100};
  EXPECT_FALSE(v[0].for_each_header([](const HeaderView&) {}));
  block[1] = std::byte{2};
  block[4] = std::byte{100};  // a value length past the block
  EXPECT_FALSE(v[0].for_each_header([](const HeaderView&) {}));
  block[4] = std::byte{3};
  EXPECT_TRUE(v[0].for_each_header([](const HeaderView&) {}));
}

// ---------------------------------------------------------------- damaged header words
//
// Every word of the header and of the segment headers is checked against the
// others (doc/log_format.md, "Invariants"): damage is kCorrupt naming the
// field - on attach, in check(), in a claim - and changes nothing stored.

class DamagedHeader : public ::testing::Test {
 protected:
  static constexpr PartitionGeometry kGeometry{16384, 5, 256};
  static constexpr int kRecords = 200;  // about 70 frames of 200 bytes a segment: generations 0, 1 and 2

  void SetUp() override {
    r_ = make_ring(kGeometry);
    for (int i = 0; i < kRecords; ++i) ASSERT_EQ(append(r_, value_for_frame(200), i), i);
    ASSERT_EQ(current(), 2u);
    end_ = r_.ring.latest();
    Status sound = r_.ring.check();
    ASSERT_TRUE(sound.is_ok()) << sound.to_string();
    ASSERT_TRUE(r_.ring.check(end_).is_ok());
  }

  std::span<std::byte> bytes() { return r_.region->bytes(); }
  PartitionHeader& header() { return *reinterpret_cast<PartitionHeader*>(bytes().data()); }
  SegmentHeader& segment(std::uint64_t generation) {
    return *reinterpret_cast<SegmentHeader*>(bytes().data() + kPartitionHeaderBytes +
                                             generation % kGeometry.segment_count * kGeometry.segment_bytes);
  }
  std::uint64_t current() { return header().current_generation.load(); }
  std::uint64_t tail() { return header().tail.load(); }
  Status attach() {
    auto ring = PartitionRing::attach(bytes(), 0, nullptr);
    return ring ? Status::ok() : ring.status();
  }
  // What producers must not change on a damaged ring: the tail, the current
  // generation, and every segment (headers, index, records).
  std::vector<std::byte> stored() {
    std::vector<std::byte> out(bytes().begin() + kPartitionHeaderBytes, bytes().end());
    for (std::uint64_t w : {tail(), current()}) {
      const auto* b = reinterpret_cast<const std::byte*>(&w);
      out.insert(out.end(), b, b + sizeof w);
    }
    return out;
  }
  // A producer's claim of one 200-byte record: kCorrupt, and nothing stored changed.
  void expect_claim_refused() {
    const std::vector<std::byte> before = stored();
    Claim c;
    EXPECT_EQ(r_.claim(200, 1, &c), ClaimStatus::kCorrupt);
    EXPECT_TRUE(before == stored()) << "a claim on a damaged ring changed what is stored";
    EXPECT_EQ(r_.slot->state.load(), kSlotIdle);
  }

  Ring r_;
  ReadCursor end_;  // a reader that has read every record
};

void expect_corrupt(const Status& s, std::string_view mentions) {
  EXPECT_EQ(s.code(), Code::kCorrupt) << s.to_string();
  EXPECT_NE(s.message().find("partition 0"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(mentions), std::string::npos) << s.message();
}

TEST_F(DamagedHeader, CurrentGenerationFarAheadIsCorrupt) {
  // Readers computed every generation from it: none was live, and `rill
  // consume -e` spun on an overrun that reset to where it was, forever.
  header().current_generation.store(1ull << 40);
  expect_corrupt(attach(), "current_generation 1099511627776");
  expect_corrupt(r_.ring.check(), "current_generation");
  expect_corrupt(r_.ring.check(end_), "current_generation");
  expect_corrupt(r_.ring.seek(100).status(), "current_generation");
  expect_claim_refused();
  for (const std::uint64_t near : {current() - 1, current() + 1, current() + 5, std::uint64_t{0}}) {
    SCOPED_TRACE(near);
    header().current_generation.store(near);
    expect_corrupt(attach(), "current_generation");
  }
  header().current_generation.store(2);
  EXPECT_TRUE(attach().is_ok());
}

TEST_F(DamagedHeader, TailCountAtItsMaximumIsCorrupt) {
  // The reader at the end waited for 2^20 - 49 records nobody would write.
  header().tail.store(tail() | (std::uint64_t{kMaxRecordsPerSegment} << 28));
  expect_corrupt(attach(), "counts 1048575 records");
  EXPECT_TRUE(r_.ring.blocked(end_));
  expect_corrupt(r_.ring.check(end_), "the tail word");
  expect_claim_refused();  // a roll would have sealed the count into the next base offset
}

TEST_F(DamagedHeader, TailOneRecordPastEveryClaimIsCorrupt) {
  const std::uint64_t sound = tail();
  // The count alone moved on: the reader at the end waits for an offset no
  // byte will hold.
  header().tail.store(sound + (1ull << 28));
  EXPECT_TRUE(r_.ring.blocked(end_));
  const std::string at = std::to_string(end_.position);
  expect_corrupt(attach(), "puts the next offset at 201, but the records before position " + at + " end at offset 200");
  expect_corrupt(r_.ring.check(end_), "the tail word");
  // Count and bytes moved on, as a claim would - but no producer announces one.
  header().tail.store(sound + (1ull << 28) + 200 / 8);
  EXPECT_TRUE(r_.ring.blocked(end_));
  expect_corrupt(attach(), "covers position " + at + " (offset 200), where no record is committed and no producer "
                           "announces a claim");
  expect_corrupt(r_.ring.check(end_), "no producer announces a claim");
  // The same tail with a live producer's claim announced for those bytes:
  // a record being written, not damage.
  r_.slot->size.store(200 | (1ull << 32));
  r_.slot->tail.store(sound);
  r_.slot->state.store(kSlotWriting);
  EXPECT_TRUE(attach().is_ok()) << attach().to_string();
  EXPECT_TRUE(r_.ring.check(end_).is_ok());
  r_.slot->state.store(kSlotIdle);
}

TEST_F(DamagedHeader, TailZeroedIsCorruptAndNothingIsOverwritten) {
  // `topic describe` showed 0 records and the next produce overwrote offset 0.
  header().tail.store(0);
  expect_corrupt(attach(), "the tail word 0");
  expect_claim_refused();
  // In the first generation the tag still matches: the record committed
  // where the tail points gives it away.
  Ring first = make_ring(kGeometry);
  for (int i = 0; i < 20; ++i) append(first, value_for_frame(200), i);
  const ReadCursor end = first.ring.latest();
  auto& h = *reinterpret_cast<PartitionHeader*>(first.region->bytes().data());
  h.tail.store(0);
  const auto attached = PartitionRing::attach(first.region->bytes(), 0, nullptr);
  expect_corrupt(attached.status(), "points at a committed record");
  expect_corrupt(first.ring.check(end), "points at a committed record");
  const std::vector<std::byte> before(first.region->bytes().begin(), first.region->bytes().end());
  Claim c;
  EXPECT_EQ(first.claim(200, 1, &c), ClaimStatus::kCorrupt);
  EXPECT_TRUE(std::equal(before.begin() + kPartitionHeaderBytes, before.end(),
                         first.region->bytes().begin() + kPartitionHeaderBytes))
      << "the records are untouched";
  EXPECT_EQ(h.tail.load(), 0u) << "the claim was handed back";
  ReadCursor from = first.ring.earliest();
  EXPECT_EQ(drain(first.ring, from).size(), 20u);
}

TEST_F(DamagedHeader, TailPointingIntoARecordIsCorrupt) {
  // Back by one frame and a half: the next claim would overwrite half a record.
  header().tail.store(tail() - (1ull << 28) - 100 / 8);
  expect_corrupt(attach(), "the tail word");
}

TEST_F(DamagedHeader, TailCountZeroedIsCorrupt) {
  // An offset read as one record from the beginning and as another after a seek.
  header().tail.store(tail() & ~(((1ull << 20) - 1) << 28));
  expect_corrupt(attach(), "end at offset 200");
  expect_corrupt(r_.ring.seek(190).status(), "end at offset 200");
  expect_corrupt(r_.ring.check(end_), "the tail word");
}

TEST_F(DamagedHeader, SegmentGenerationOverwrittenIsCorrupt) {
  // Readers skipped the segment (its records) as overwritten, without a word.
  for (const std::uint64_t g : {std::uint64_t{5}, std::uint64_t{1}, kUnusedGeneration, std::uint64_t{1} << 40}) {
    SCOPED_TRACE(g);
    segment(0).generation.store(g);
    expect_corrupt(attach(), "segment slot 0 holds generation");
    expect_corrupt(r_.ring.seek(10).status(), "segment slot 0");
  }
  segment(0).generation.store(0);
  segment(4).generation.store(kUnusedGeneration);  // prepared for generation 4
  expect_corrupt(attach(), "segment slot 4 holds generation 'never used'");
  segment(4).generation.store(4);
  EXPECT_TRUE(attach().is_ok());
}

TEST_F(DamagedHeader, BaseOffsetsOutOfOrderOrRangeAreCorruptAndNothingIsWritten) {
  // INT64_MAX: "records retained -9223372036854774807", and records produced
  // with offsets nobody could read.
  const std::uint64_t base = segment(2).base_offset.load();
  segment(2).base_offset.store(std::numeric_limits<std::int64_t>::max());
  expect_corrupt(attach(), "base_offset 9223372036854775807");
  expect_claim_refused();
  // Out of order: the claim path does not look at the segment before (a
  // line it does not touch), but a new producer and the next roll do.
  segment(2).base_offset.store(base + 5);
  expect_corrupt(attach(), "must be " + std::to_string(base));
  expect_corrupt(r_.ring.acquire_slot(ipc::self()).status(), "must be " + std::to_string(base));
  segment(2).base_offset.store(base);
  segment(0).base_offset.store(7);
  expect_corrupt(attach(), "the first generation starts at offset 0");
  segment(0).base_offset.store(0);
  EXPECT_TRUE(attach().is_ok());
}

TEST_F(DamagedHeader, SealsThatDisagreeAreCorrupt) {
  const std::uint64_t sealed = segment(0).sealed.load();
  segment(0).sealed.store(sealed - (1ull << 32));  // one record fewer than generation 1's base says
  expect_corrupt(attach(), "base_offset");
  segment(0).sealed.store(0);  // an old generation not sealed
  expect_corrupt(attach(), "behind current_generation");
  segment(0).sealed.store(sealed);
  segment(2).sealed.store(sealed);  // the current one sealed with no roll under way
  expect_corrupt(attach(), "no roll is under way");
  segment(2).sealed.store(0);
  segment(1).sealed.store((1ull << 32) | (kGeometry.data_capacity() + 8));
  expect_corrupt(attach(), "do not fit");
}

TEST_F(DamagedHeader, AProducerTakingASlotOnADamagedRingIsRefused) {
  header().tail.store(0);
  expect_corrupt(r_.ring.acquire_slot(ipc::self()).status(), "the tail word");
}

TEST(PartitionRingIntegrity, ASoundRingIsNeverJudgedCorruptWhileProducersRollIt) {
  // The checks read words producers change as they go: a verdict must stand
  // on a state the ring really had. Two producers roll a small ring
  // hundreds of times while a reader checks wherever it waits and another
  // thread attaches, checks and seeks throughout.
  Ring r = make_ring({4096, 4, 64});
  std::atomic<int> producing{2};
  std::atomic<bool> failed{false};
  auto produce = [&](int seed) {
    ClaimSlot* slot = r.ring.acquire_slot(ipc::self()).value();
    for (int i = 0; i < 100000 && !failed; ++i) {
      const std::uint32_t records = 1 + static_cast<std::uint32_t>((i * 7 + seed) % 3);
      const std::uint32_t frame = 48 + 8 * static_cast<std::uint32_t>((i + seed) % 9);
      // One record alone, or a batch of 2 or 3.
      const std::vector<std::string> values(records, std::string((i + seed) % 37, 'v'));
      const std::uint32_t bytes =
          static_cast<std::uint32_t>(records == 1 ? frame : align_frame(batch_size(values)));
      Claim c;
      const ClaimStatus st = r.ring.claim(bytes, records, slot, &c);
      if (st != ClaimStatus::kOk) {
        ADD_FAILURE() << "claim " << static_cast<int>(st);
        failed = true;
        break;
      }
      r.ring.commit(c, records == 1 ? encode_record(c.data, c.first_offset, i, std::nullopt, value_for_frame(frame))
                                    : encode_batch(c.data, c.first_offset, i, values));
      r.ring.notify();
    }
    --producing;
  };
  std::thread p1(produce, 1), p2(produce, 2);
  std::thread watcher([&] {
    while (producing > 0 && !failed) {
      for (const Status& s : {r.ring.check(), PartitionRing::attach(r.region->bytes(), 0, nullptr).status(),
                              r.ring.seek(r.ring.latest_offset()).status()}) {
        if (s.code() == Code::kCorrupt) {
          ADD_FAILURE() << s.to_string();
          failed = true;
        }
      }
    }
  });
  ReadCursor cursor = r.ring.earliest();
  RecordView views[64];
  std::uint64_t records = 0, checks = 0;
  while (!failed) {
    const bool done = producing == 0;
    const ReadBatch b = r.ring.read(cursor, views, 64);
    if (b.status == ReadStatus::kOutOfRange) {
      cursor = r.ring.earliest();
      continue;
    }
    ASSERT_EQ(b.status, ReadStatus::kOk);
    records += b.count;
    if (b.count > 0 || b.abandoned > 0) continue;
    if (done) break;
    ++checks;
    if (const Status s = r.ring.check(cursor); !s) {
      ADD_FAILURE() << s.to_string();
      failed = true;
    }
  }
  p1.join();
  p2.join();
  watcher.join();
  EXPECT_GT(records, 0u);
  EXPECT_GT(checks, 0u);
  EXPECT_TRUE(r.ring.check(cursor).is_ok());
  EXPECT_EQ(cursor.next_offset, r.ring.latest_offset());
}

}  // namespace
}  // namespace rill::log
