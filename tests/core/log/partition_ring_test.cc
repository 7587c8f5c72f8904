#include "core/log/partition_ring.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ipc/region.h"

namespace rill::log {
namespace {

struct Ring {
  std::unique_ptr<ipc::Region> region;
  PartitionRing ring;
};

Ring make_ring(PartitionGeometry g) {
  auto region = ipc::create_anonymous_region(g.region_bytes());
  EXPECT_TRUE(region.is_ok());
  auto ring = PartitionRing::create((*region)->bytes(), g, 0, nullptr);
  EXPECT_TRUE(ring.is_ok()) << ring.status().to_string();
  return Ring{std::move(*region), *ring};
}

std::int64_t append(PartitionRing& ring, std::string_view value, std::int64_t ts = 1) {
  const std::uint32_t len = frame_size(0, value.size(), 0);
  Claim c;
  EXPECT_EQ(ring.claim(static_cast<std::uint32_t>(align_frame(len)), 1, &c), ClaimStatus::kOk);
  encode_frame(c.data, c.first_offset, ts, std::nullopt, value, {}, 0);
  ring.commit(c, c.data, len);
  ring.notify();
  return c.first_offset;
}

TEST(PartitionRing, AppendsAndReadsInOrderAcrossSegments) {
  Ring r = make_ring({16384, 4, 256});
  ReadCursor cur = r.ring.earliest();
  RecordView views[64];
  std::int64_t expected = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string v = "value-" + std::to_string(i);
    ASSERT_EQ(append(r.ring, v), i);
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

TEST(PartitionRing, OverrunReaderGetsOutOfRange) {
  Ring r = make_ring({16384, 4, 256});
  ReadCursor cur = r.ring.earliest();
  for (int i = 0; i < 5000; ++i) append(r.ring, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  RecordView views[8];
  ReadBatch b = r.ring.read(cur, views, 8);
  EXPECT_EQ(b.status, ReadStatus::kOutOfRange);
  EXPECT_EQ(b.count, 0u);
  ReadCursor e = r.ring.earliest();
  b = r.ring.read(e, views, 8);
  ASSERT_EQ(b.status, ReadStatus::kOk);
  ASSERT_GT(b.count, 0u);
  EXPECT_EQ(views[0].offset(), r.ring.earliest_offset());
}

TEST(PartitionRing, SeekOffsetAndTime) {
  Ring r = make_ring({16384, 8, 256});
  for (int i = 0; i < 600; ++i) append(r.ring, "record-" + std::to_string(i), 1000 + i * 10);
  RecordView views[1];
  for (std::int64_t off : {r.ring.earliest_offset(), std::int64_t{400}, std::int64_t{599}}) {
    auto c = r.ring.seek(off);
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    ReadBatch b = r.ring.read(*c, views, 1);
    ASSERT_EQ(b.count, 1u);
    EXPECT_EQ(views[0].offset(), off);
  }
  auto c = r.ring.seek_time(1000 + 450 * 10 - 5);
  ASSERT_TRUE(c.is_ok());
  ASSERT_EQ(r.ring.read(*c, views, 1).count, 1u);
  EXPECT_EQ(views[0].offset(), 450);
  EXPECT_EQ(r.ring.seek(601).status().code(), Code::kOffsetOutOfRange);
}

}  // namespace
}  // namespace rill::log
