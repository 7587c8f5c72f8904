// The three strategies: who gets which partition, balance, and how many
// partitions sticky moves when members come and go.
#include "core/group/assignor.h"

#include <gtest/gtest.h>

#include <set>

namespace rill::group {
namespace {

std::vector<TopicPartition> tps(const std::string& topic, std::initializer_list<std::int32_t> ps) {
  std::vector<TopicPartition> out;
  for (std::int32_t p : ps) out.push_back({topic, p});
  return out;
}

// Every subscribed partition goes to exactly one member that subscribes to its topic.
void expect_complete(const Assignment& a, const std::vector<MemberSubscription>& members,
                     const std::map<std::string, std::int32_t>& partitions) {
  std::set<TopicPartition> seen;
  for (const auto& [member, list] : a) {
    const auto it = std::find_if(members.begin(), members.end(),
                                 [&](const MemberSubscription& m) { return m.member_id == member; });
    ASSERT_NE(it, members.end()) << member;
    for (const TopicPartition& tp : list) {
      EXPECT_TRUE(seen.insert(tp).second) << to_string(tp) << " twice";
      EXPECT_NE(std::find(it->topics.begin(), it->topics.end(), tp.topic), it->topics.end())
          << member << " got " << to_string(tp) << " without subscribing";
    }
  }
  for (const auto& [topic, n] : partitions) {
    const bool wanted = std::any_of(members.begin(), members.end(), [&](const MemberSubscription& m) {
      return std::find(m.topics.begin(), m.topics.end(), topic) != m.topics.end();
    });
    for (std::int32_t p = 0; p < n; ++p) EXPECT_EQ(seen.contains({topic, p}), wanted) << topic << "/" << p;
  }
}

TEST(Assignor, RangeGivesEachMemberARunPerTopicTheFirstOnesOneMore) {
  const std::vector<MemberSubscription> members = {{"c", {"t", "u"}, {}}, {"a", {"t", "u"}, {}}, {"b", {"t"}, {}}};
  const std::map<std::string, std::int32_t> partitions = {{"t", 7}, {"u", 2}};
  const Assignment a = assign(Strategy::kRange, members, partitions);
  EXPECT_EQ(a.at("a"), (std::vector<TopicPartition>{{"t", 0}, {"t", 1}, {"t", 2}, {"u", 0}}));
  EXPECT_EQ(a.at("b"), tps("t", {3, 4}));
  EXPECT_EQ(a.at("c"), (std::vector<TopicPartition>{{"t", 5}, {"t", 6}, {"u", 1}}));
  expect_complete(a, members, partitions);
}

TEST(Assignor, RoundRobinDealsPartitionsInTurnSkippingMembersNotSubscribed) {
  const std::vector<MemberSubscription> members = {{"a", {"t"}, {}}, {"b", {"t", "u"}, {}}};
  const std::map<std::string, std::int32_t> partitions = {{"t", 3}, {"u", 3}};
  const Assignment a = assign(Strategy::kRoundRobin, members, partitions);
  EXPECT_EQ(a.at("a"), tps("t", {0, 2}));
  EXPECT_EQ(a.at("b"), (std::vector<TopicPartition>{{"t", 1}, {"u", 0}, {"u", 1}, {"u", 2}}));
  expect_complete(a, members, partitions);
}

TEST(Assignor, EveryStrategyLeavesUnsubscribedTopicsAloneAndGivesEveryMemberAnEntry) {
  for (const Strategy s : {Strategy::kRange, Strategy::kRoundRobin, Strategy::kSticky}) {
    SCOPED_TRACE(strategy_name(s));
    const std::vector<MemberSubscription> members = {{"a", {"t"}, {}}, {"b", {"t"}, {}}, {"c", {"t"}, {}}};
    const std::map<std::string, std::int32_t> partitions = {{"t", 2}, {"other", 4}};
    const Assignment a = assign(s, members, partitions);
    ASSERT_EQ(a.size(), 3u);
    std::size_t total = 0;
    for (const auto& [m, list] : a) total += list.size();
    EXPECT_EQ(total, 2u);
    expect_complete(a, members, partitions);
  }
}

TEST(Assignor, StrategyNamesRoundTrip) {
  for (const Strategy s : {Strategy::kRange, Strategy::kRoundRobin, Strategy::kSticky}) {
    Strategy back = Strategy::kRange;
    ASSERT_TRUE(parse_strategy(strategy_name(s), &back));
    EXPECT_EQ(back, s);
  }
  Strategy out;
  EXPECT_FALSE(parse_strategy("cooperative", &out));
}

// Sticky: balanced (loads differ by at most one) and only what balance
// needs moves, as members join and leave one by one.
TEST(Assignor, StickyKeepsOwnedPartitionsAndMovesOnlyWhatBalanceNeeds) {
  const std::map<std::string, std::int32_t> partitions = {{"t", 12}};
  std::vector<MemberSubscription> members = {{"m1", {"t"}, {}}};
  auto step = [&](std::size_t expect_moved) {
    std::map<TopicPartition, std::string> before;
    for (const MemberSubscription& m : members)
      for (const TopicPartition& tp : m.owned) before[tp] = m.member_id;
    const Assignment a = assign(Strategy::kSticky, members, partitions);
    expect_complete(a, members, partitions);
    std::size_t moved = 0, lo = SIZE_MAX, hi = 0;
    for (const auto& [m, list] : a) {
      lo = std::min(lo, list.size());
      hi = std::max(hi, list.size());
      for (const TopicPartition& tp : list)
        if (before.contains(tp) && before[tp] != m) ++moved;
    }
    EXPECT_LE(hi - lo, 1u);
    EXPECT_EQ(moved, expect_moved);
    for (MemberSubscription& m : members) m.owned = a.at(m.member_id);
  };
  step(0);                             // m1: all 12
  members.push_back({"m2", {"t"}, {}});
  step(6);                             // 6 + 6
  members.push_back({"m3", {"t"}, {}});
  step(4);                             // 4 + 4 + 4: two from each
  members.push_back({"m0", {"t"}, {}});
  step(3);                             // 3 x 4: one from each
  members.erase(members.begin() + 1);  // m2 leaves: its 3 spread, nobody else moves
  step(0);
  for (const MemberSubscription& m : members) EXPECT_EQ(m.owned.size(), 4u) << m.member_id;
}

TEST(Assignor, StickyGivesAPartitionClaimedTwiceToOneMemberAndDropsWhatNoLongerExists) {
  const std::vector<MemberSubscription> members = {{"a", {"t"}, tps("t", {0, 1, 9})}, {"b", {"t"}, tps("t", {1, 2})}};
  const std::map<std::string, std::int32_t> partitions = {{"t", 4}};
  const Assignment a = assign(Strategy::kSticky, members, partitions);
  expect_complete(a, members, partitions);
  EXPECT_EQ(a.at("a"), tps("t", {0, 1}));
  EXPECT_EQ(a.at("b"), tps("t", {2, 3}));
}

TEST(Assignor, StickyBalancesMembersWithDifferentSubscriptions) {
  const std::vector<MemberSubscription> members = {{"a", {"t", "u"}, {}}, {"b", {"u"}, {}}, {"c", {"t"}, {}}};
  const std::map<std::string, std::int32_t> partitions = {{"t", 4}, {"u", 4}};
  const Assignment a = assign(Strategy::kSticky, members, partitions);
  expect_complete(a, members, partitions);
  std::size_t lo = SIZE_MAX, hi = 0;
  for (const auto& [m, list] : a) {
    lo = std::min(lo, list.size());
    hi = std::max(hi, list.size());
  }
  EXPECT_LE(hi - lo, 1u);
}

}  // namespace
}  // namespace rill::group
