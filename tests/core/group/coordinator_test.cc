// The group protocol over a plain GroupState: generations, hand-over of
// partitions only once released, eager vs cooperative revocation, expiry
// of dead and hung members, and fencing of commits.
#include "core/group/coordinator.h"

#include <gtest/gtest.h>

namespace rill::group {
namespace {

const std::map<std::string, std::int32_t> kFour = {{"t", 4}};

JoinRequest request(std::int32_t pid, Strategy s = Strategy::kRange) {
  return JoinRequest{.host = "h", .pid = pid, .start_time = 1, .topics = {"t"}, .strategy = s};
}

std::vector<TopicPartition> tps(std::initializer_list<std::int32_t> ps) {
  std::vector<TopicPartition> out;
  for (std::int32_t p : ps) out.push_back({"t", p});
  return out;
}

// Syncs `member`, releases what it is told to revoke (as the client does
// after its revoked callback), and syncs again; returns what it reads.
std::vector<TopicPartition> settle(GroupCoordinator& c, const std::string& member) {
  auto r = c.sync(member);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  if (!r.value().revoke.empty()) {
    EXPECT_TRUE(c.release(member, r.value().revoke).is_ok());
    r = c.sync(member);
  }
  return r.value().owned;
}

TEST(GroupCoordinator, AJoinBumpsTheGenerationAndAPartitionMovesOnlyOnceReleased) {
  GroupState s{.name = "g"};
  GroupCoordinator c(s);
  EXPECT_EQ(c.phase(), GroupPhase::kEmpty);
  auto a = c.join(request(1), kFour);
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(s.generation, 1);
  EXPECT_EQ(settle(c, *a), tps({0, 1, 2, 3}));
  EXPECT_EQ(c.phase(), GroupPhase::kStable);

  auto b = c.join(request(2), kFour);
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(s.generation, 2);
  EXPECT_EQ(c.phase(), GroupPhase::kRebalancing);
  // b gets nothing while a still reads everything.
  auto early = c.sync(*b);
  ASSERT_TRUE(early.is_ok());
  EXPECT_TRUE(early->owned.empty());
  // Eager (range): a must give up everything, then takes its share back.
  auto revoke = c.sync(*a);
  EXPECT_EQ(revoke->revoke, tps({0, 1, 2, 3}));
  EXPECT_TRUE(revoke->assigned.empty());
  ASSERT_TRUE(c.release(*a, revoke->revoke).is_ok());
  const std::vector<TopicPartition> mine = c.sync(*a)->owned;
  const std::vector<TopicPartition> theirs = c.sync(*b)->owned;
  EXPECT_EQ(mine.size() + theirs.size(), 4u);
  EXPECT_EQ(mine.size(), 2u);
  for (const TopicPartition& tp : theirs) EXPECT_EQ(std::find(mine.begin(), mine.end(), tp), mine.end());
  EXPECT_EQ(c.phase(), GroupPhase::kStable);
}

TEST(GroupCoordinator, StickyRevokesOnlyWhatMovesAndTheRestIsReadThroughout) {
  GroupState s{.name = "g"};
  GroupCoordinator c(s);
  auto a = c.join(request(1, Strategy::kSticky), kFour);
  EXPECT_EQ(settle(c, *a), tps({0, 1, 2, 3}));
  auto b = c.join(request(2, Strategy::kSticky), kFour);
  auto r = c.sync(*a);
  EXPECT_EQ(r->revoke.size(), 2u);  // only the two that move
  EXPECT_EQ(r->owned.size(), 4u);   // still read until released
  ASSERT_TRUE(c.release(*a, r->revoke).is_ok());
  EXPECT_EQ(c.sync(*a)->owned.size(), 2u);
  EXPECT_EQ(c.sync(*b)->owned, r->revoke);
  EXPECT_EQ(c.phase(), GroupPhase::kStable);
}

TEST(GroupCoordinator, ALeavingOrDeadMembersPartitionsAreFreeAtOnce) {
  GroupState s{.name = "g"};
  GroupCoordinator c(s);
  auto a = c.join(request(1, Strategy::kSticky), kFour);
  auto b = c.join(request(2, Strategy::kSticky), kFour);
  settle(c, *a);
  settle(c, *b);
  settle(c, *a);
  ASSERT_EQ(c.sync(*a)->owned.size(), 2u);
  const std::int32_t before = s.generation;
  const auto removed = c.expire([&](const MemberInfo& m) { return m.pid == 2 ? Verdict::kDead : Verdict::kKeep; });
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].first, *b);
  EXPECT_EQ(removed[0].second, Verdict::kDead);
  EXPECT_EQ(s.generation, before + 1);
  EXPECT_EQ(c.sync(*a)->owned, tps({0, 1, 2, 3}));  // no release to wait for
  // The dead member is fenced from everything.
  EXPECT_EQ(c.sync(*b).status().code(), Code::kFenced);
  EXPECT_EQ(c.release(*b, {}).code(), Code::kFenced);
  EXPECT_EQ(c.leave(*b).code(), Code::kFenced);
  ASSERT_TRUE(c.leave(*a).is_ok());
  EXPECT_EQ(c.phase(), GroupPhase::kEmpty);
  EXPECT_TRUE(s.partitions.empty());
}

TEST(GroupCoordinator, CommitsAreFencedUnlessFromTheCurrentGenerationsReader) {
  GroupState s{.name = "g"};
  GroupCoordinator c(s);
  auto a = c.join(request(1, Strategy::kSticky), kFour);
  settle(c, *a);
  const std::int32_t gen = s.generation;
  const std::map<TopicPartition, CommittedOffset> at10 = {{{"t", 0}, {10, "meta", 0, 5}}};
  ASSERT_TRUE(c.commit(*a, gen, at10).is_ok());
  EXPECT_EQ(s.offsets.at({"t", 0}), (CommittedOffset{10, "meta", gen, 5}));
  // A new member joins: the old generation's commits are refused...
  auto b = c.join(request(2, Strategy::kSticky), kFour);
  const Status stale = c.commit(*a, gen, {{{"t", 0}, {20, "", 0, 6}}});
  EXPECT_EQ(stale.code(), Code::kFenced);
  EXPECT_NE(stale.message().find("generation " + std::to_string(gen) + " of group 'g' is over"), std::string::npos)
      << stale.message();
  EXPECT_EQ(s.offsets.at({"t", 0}).offset, 10);
  // ... and the new generation's too, for a partition the member does not read.
  auto r = c.sync(*a);
  ASSERT_TRUE(c.release(*a, r->revoke).is_ok());
  settle(c, *b);
  const TopicPartition moved = r->revoke.front();
  EXPECT_EQ(c.commit(*a, s.generation, {{moved, {30, "", 0, 7}}}).code(), Code::kFenced);
  EXPECT_TRUE(c.commit(*b, s.generation, {{moved, {30, "", 0, 7}}}).is_ok());
  // A removed member (a zombie after a hang) is fenced whatever it sends.
  (void)c.expire([&](const MemberInfo& m) { return m.pid == 1 ? Verdict::kSessionTimedOut : Verdict::kKeep; });
  EXPECT_EQ(c.commit(*a, s.generation, {{{"t", 0}, {99, "", 0, 8}}}).code(), Code::kFenced);
  EXPECT_EQ(s.offsets.at({"t", 0}).offset, 10);
  // Bad values are refused as such, and change nothing.
  settle(c, *b);
  EXPECT_EQ(c.commit(*b, s.generation, {{{"t", 0}, {-1, "", 0, 9}}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(c.commit(*b, s.generation, {{{"t", 0}, {5, std::string(kMaxMetadataBytes + 1, 'x'), 0, 9}}}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(s.offsets.at({"t", 0}).offset, 10);
}

TEST(GroupCoordinator, ResetIsRefusedWhileTheGroupHasMembers) {
  GroupState s{.name = "g"};
  GroupCoordinator c(s);
  auto a = c.join(request(7), kFour);
  const Status refused = c.reset({{{"t", 0}, 3}}, 100);
  EXPECT_EQ(refused.code(), Code::kInvalidArgument);
  EXPECT_NE(refused.message().find("pid 7"), std::string::npos) << refused.message();
  EXPECT_TRUE(s.offsets.empty());
  ASSERT_TRUE(c.leave(*a).is_ok());
  ASSERT_TRUE(c.reset({{{"t", 0}, 3}, {{"t", 1}, 0}}, 100).is_ok());
  EXPECT_EQ(s.offsets.at({"t", 0}), (CommittedOffset{3, "", -1, 100}));
  EXPECT_EQ(s.offsets.at({"t", 1}).offset, 0);
}

TEST(GroupCoordinator, JoinRefusesAnotherStrategyAndBadSubscriptions) {
  GroupState s{.name = "g"};
  GroupCoordinator c(s);
  ASSERT_TRUE(c.join(request(1, Strategy::kRange), kFour).is_ok());
  const auto other = c.join(request(2, Strategy::kSticky), kFour);
  EXPECT_EQ(other.status().code(), Code::kInvalidArgument);
  EXPECT_NE(other.status().message().find("assigns with range"), std::string::npos);
  JoinRequest unknown = request(3);
  unknown.topics = {"nope"};
  EXPECT_EQ(c.join(unknown, kFour).status().code(), Code::kInvalidArgument);
  JoinRequest none = request(4);
  none.topics = {};
  EXPECT_EQ(c.join(none, kFour).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(s.members.size(), 1u);
  EXPECT_EQ(s.generation, 1);
  EXPECT_EQ(c.join(request(5), {{"t", static_cast<std::int32_t>(kMaxGroupPartitions + 1)}}).status().code(),
            Code::kResourceExhausted);
}

}  // namespace
}  // namespace rill::group
