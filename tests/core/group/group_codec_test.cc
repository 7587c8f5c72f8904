// The group state's encoding: a round trip keeps everything; every damaged
// or truncated block, and hostile counts, are refused (kCorrupt) without
// reading past the bytes or allocating what a count claims.
#include "core/group/group_codec.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <random>

#include "core/group/group_format.h"

namespace rill::group {
namespace {

GroupState sample() {
  GroupState s{.name = "orders"};
  GroupCoordinator c(s);
  auto a = c.join({.host = "box", .pid = 10, .start_time = 77, .slot = 3, .topics = {"t", "u"},
                   .strategy = Strategy::kSticky},
                  {{"t", 3}, {"u", 2}});
  auto b = c.join({.host = "box", .pid = 11, .start_time = 78, .slot = 4, .topics = {"t"},
                   .strategy = Strategy::kSticky},
                  {{"t", 3}});
  EXPECT_TRUE(a.is_ok() && b.is_ok());
  (void)c.sync(*a);
  (void)c.sync(*b);
  EXPECT_TRUE(c.commit(*a, s.generation, {{c.sync(*a)->owned.front(), {42, "m\0x", 0, 1234}}}).is_ok());
  s.offsets[{"gone", 0}] = {5, "", -1, 9};  // a topic no member reads any more
  return s;
}

void expect_same(const GroupState& a, const GroupState& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.strategy, b.strategy);
  EXPECT_EQ(a.generation, b.generation);
  EXPECT_EQ(a.next_member, b.next_member);
  EXPECT_EQ(a.partitions, b.partitions);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.offsets, b.offsets);
  ASSERT_EQ(a.members.size(), b.members.size());
  for (std::size_t i = 0; i < a.members.size(); ++i) {
    const MemberInfo &x = a.members[i], &y = b.members[i];
    EXPECT_EQ(x.member_id, y.member_id);
    EXPECT_EQ(x.seq, y.seq);
    EXPECT_EQ(x.host, y.host);
    EXPECT_EQ(x.pid, y.pid);
    EXPECT_EQ(x.start_time, y.start_time);
    EXPECT_EQ(x.slot, y.slot);
    EXPECT_EQ(x.topics, y.topics);
    EXPECT_EQ(x.generation, y.generation);
    EXPECT_EQ(x.owned, y.owned);
    EXPECT_EQ(x.revoke_all, y.revoke_all);
    EXPECT_EQ(x.session_timeout_ms, y.session_timeout_ms);
    EXPECT_EQ(x.max_poll_interval_ms, y.max_poll_interval_ms);
  }
}

TEST(GroupCodec, RoundTripKeepsEveryField) {
  const GroupState s = sample();
  const std::vector<std::byte> bytes = encode_group(s);
  auto back = decode_group(bytes);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  expect_same(s, *back);
  EXPECT_EQ(encode_group(*back), bytes);
  auto empty = decode_group(encode_group(GroupState{}));
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->members.empty());
}

TEST(GroupCodec, EveryTruncationAndEveryFlippedByteIsRefused) {
  const std::vector<std::byte> bytes = encode_group(sample());
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_EQ(decode_group(std::span(bytes).first(n)).status().code(), Code::kCorrupt) << n;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::vector<std::byte> bad = bytes;
    bad[i] ^= std::byte{0x5a};
    EXPECT_EQ(decode_group(bad).status().code(), Code::kCorrupt) << i;
  }
}

// A body with a valid checksum but hostile content (as a process that can
// write the shared memory could make): refused, never trusted.
TEST(GroupCodec, HostileBodiesWithValidChecksumsAreRefused) {
  const std::vector<std::byte> good = encode_group(sample());
  std::mt19937_64 rng(7);
  int refused = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<std::byte> bad = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f)
      bad[kGroupHeaderBytes + rng() % (bad.size() - kGroupHeaderBytes)] = static_cast<std::byte>(rng());
    const std::uint64_t sum = XXH3_64bits(bad.data() + kGroupHeaderBytes, bad.size() - kGroupHeaderBytes);
    for (int i = 0; i < 8; ++i) bad[16 + i] = static_cast<std::byte>(sum >> (8 * i));
    auto r = decode_group(bad);
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), Code::kCorrupt);
      ++refused;
    } else {
      // Whatever decodes is consistent enough to encode again identically.
      EXPECT_EQ(encode_group(*r), bad);
    }
  }
  EXPECT_GT(refused, 10000);
  // A count that claims more items than the bytes could hold allocates nothing.
  std::vector<std::byte> huge = encode_group(GroupState{});
  const std::size_t topics_at = kGroupHeaderBytes + 2 + 1 + 4 + 8;
  for (int i = 0; i < 4; ++i) huge[topics_at + static_cast<std::size_t>(i)] = std::byte{0xff};
  const std::uint64_t sum = XXH3_64bits(huge.data() + kGroupHeaderBytes, huge.size() - kGroupHeaderBytes);
  for (int i = 0; i < 8; ++i) huge[16 + static_cast<std::size_t>(i)] = static_cast<std::byte>(sum >> (8 * i));
  EXPECT_EQ(decode_group(huge).status().code(), Code::kCorrupt);
}

}  // namespace
}  // namespace rill::group
