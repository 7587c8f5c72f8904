// Consumer groups end to end: members dividing partitions (threads of one
// process and processes), every record read once, committed positions,
// rebalance callbacks, a SIGKILLed member's partitions moving at once, a
// hung member removed after its session timeout and its commits fenced,
// the administration calls, and damaged group memory refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "core/client/object_names.h"
#include "rill/group.h"
#include "rill/producer.h"
#include "support/child_process.h"
#include "support/faulty_file_system.h"
#include "support/shm_guard.h"
#include "support/temp_dir.h"

namespace rill {
namespace {

using namespace std::chrono_literals;

struct Read {
  std::string topic;
  std::int32_t partition;
  std::int64_t offset;
  std::string value;
};

// "t" with 4 partitions, `n` records each, values "<p>-<i>".
void produce(const std::shared_ptr<Namespace>& ns, const std::string& topic, int n, int first = 0) {
  auto t = ns->open_topic(topic);
  ASSERT_TRUE(t.is_ok());
  Producer producer(*t);
  for (std::int32_t p = 0; p < (*t)->partition_count(); ++p)
    for (int i = first; i < first + n; ++i)
      ASSERT_TRUE(producer.send(std::nullopt, std::to_string(p) + "-" + std::to_string(i), {.partition = p}).is_ok());
}

// Polls (no wait) until nothing comes; appends what it read.
void drain(GroupConsumer& c, std::vector<Read>* out) {
  for (;;) {
    GroupPollResult r = c.poll(0ns);
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    if (r.records.empty()) return;
    for (const RecordView& v : r.records)
      out->push_back({std::string(r.topic), v.partition(), v.offset(), std::string(v.value())});
  }
}

// Every record of every partition read exactly once, in order, with its value.
void expect_each_once(const std::vector<Read>& reads, std::int32_t partitions, int per_partition, int first = 0) {
  std::map<std::int32_t, std::vector<Read>> by_partition;
  for (const Read& r : reads) by_partition[r.partition].push_back(r);
  for (std::int32_t p = 0; p < partitions; ++p) {
    const std::vector<Read>& got = by_partition[p];
    ASSERT_EQ(got.size(), static_cast<std::size_t>(per_partition)) << "partition " << p;
    for (int i = 0; i < per_partition; ++i) {
      EXPECT_EQ(got[static_cast<std::size_t>(i)].offset, first + i) << "partition " << p;
      EXPECT_EQ(got[static_cast<std::size_t>(i)].value, std::to_string(p) + "-" + std::to_string(first + i));
    }
  }
}

ConsumerOptions options(const std::string& group, AssignmentStrategy s = AssignmentStrategy::kRange) {
  ConsumerOptions o;
  o.group_id = group;
  o.assignment_strategy = s;
  o.start_at_earliest = true;
  o.verify_checksums = true;
  o.enable_auto_commit = false;
  return o;
}

std::shared_ptr<Namespace> memory_namespace() {
  auto ns = Namespace::in_process();
  EXPECT_TRUE(ns.is_ok());
  EXPECT_TRUE((*ns)->create_topic("t", {.partitions = 4}).is_ok());
  return *ns;
}

class Recorder : public RebalanceListener {
 public:
  void on_partitions_revoked(std::span<const TopicPartition> p) override { revoked.insert(revoked.end(), p.begin(), p.end()); }
  void on_partitions_assigned(std::span<const TopicPartition> p) override { assigned.insert(assigned.end(), p.begin(), p.end()); }
  void on_partitions_lost(std::span<const TopicPartition> p) override { lost.insert(lost.end(), p.begin(), p.end()); }
  std::vector<TopicPartition> revoked, assigned, lost;
};

TEST(Group, TwoMembersSplitThePartitionsAndEveryRecordIsReadOnceInOrder) {
  auto ns = memory_namespace();
  produce(ns, "t", 500);
  auto a = GroupConsumer::join(ns, {"t"}, options("g"));
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  auto b = GroupConsumer::join(ns, {"t"}, options("g"));
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  std::vector<Read> reads;
  for (int round = 0; round < 50; ++round) {
    drain(**a, &reads);
    drain(**b, &reads);
  }
  const auto mine = (*a)->assignment(), theirs = (*b)->assignment();
  EXPECT_EQ(mine.size(), 2u);
  EXPECT_EQ(theirs.size(), 2u);
  for (const TopicPartition& tp : mine) EXPECT_EQ(std::count(theirs.begin(), theirs.end(), tp), 0);
  EXPECT_EQ((*a)->generation(), (*b)->generation());
  expect_each_once(reads, 4, 500);
}

TEST(Group, ACommittedPositionIsWhereTheNextMemberStarts) {
  auto ns = memory_namespace();
  produce(ns, "t", 100);
  {
    auto a = GroupConsumer::join(ns, {"t"}, options("g"));
    ASSERT_TRUE(a.is_ok());
    std::vector<Read> reads;
    drain(**a, &reads);
    ASSERT_EQ(reads.size(), 400u);
    // Partition 0 handled up to 60 (with metadata), the others wholly.
    ASSERT_TRUE((*a)->commit_sync().is_ok());
    ASSERT_TRUE((*a)->commit_sync({{{"t", 0}, {60, "upto-60"}}}).is_ok());
    auto c = (*a)->committed({"t", 0});
    ASSERT_TRUE(c.is_ok());
    EXPECT_EQ(c->offset, 60);
    EXPECT_EQ(c->metadata, "upto-60");
    EXPECT_EQ((*a)->committed({"t", 1})->offset, 100);
  }
  produce(ns, "t", 10, 100);
  auto b = GroupConsumer::join(ns, {"t"}, options("g"));
  ASSERT_TRUE(b.is_ok());
  std::vector<Read> reads;
  drain(**b, &reads);
  std::map<std::int32_t, std::vector<std::int64_t>> offsets;
  for (const Read& r : reads) offsets[r.partition].push_back(r.offset);
  ASSERT_EQ(offsets[0].size(), 50u);  // 60..109
  EXPECT_EQ(offsets[0].front(), 60);
  EXPECT_EQ(offsets[0].back(), 109);
  for (std::int32_t p = 1; p < 4; ++p) {
    ASSERT_EQ(offsets[p].size(), 10u) << p;  // 100..109
    EXPECT_EQ(offsets[p].front(), 100);
  }
}

TEST(Group, AutoCommitCommitsWhatEarlierPollsReturnedAndCloseCommitsTheRest) {
  auto ns = memory_namespace();
  produce(ns, "t", 20);
  ConsumerOptions o = options("g");
  o.enable_auto_commit = true;
  o.auto_commit_interval = 1ms;
  {
    auto a = GroupConsumer::join(ns, {"t"}, o);
    ASSERT_TRUE(a.is_ok());
    std::vector<Read> reads;
    drain(**a, &reads);
    EXPECT_EQ(reads.size(), 80u);
  }  // the destructor closes: commits the positions
  for (std::int32_t p = 0; p < 4; ++p) {
    auto d = describe_group(*ns, "g");
    ASSERT_TRUE(d.is_ok());
    EXPECT_EQ(d->partitions[static_cast<std::size_t>(p)].committed, 20) << p;
    EXPECT_EQ(d->partitions[static_cast<std::size_t>(p)].lag, 0) << p;
  }
}

TEST(Group, StickyMovesOnlyWhatBalanceNeedsAndTheCallbacksSayWhat) {
  auto ns = memory_namespace();
  Recorder ra, rb;
  ConsumerOptions oa = options("g", AssignmentStrategy::kSticky);
  oa.rebalance_listener = &ra;
  auto a = GroupConsumer::join(ns, {"t"}, oa);
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(ra.assigned.size(), 4u);
  ConsumerOptions ob = options("g", AssignmentStrategy::kSticky);
  ob.rebalance_listener = &rb;
  auto b = GroupConsumer::join(ns, {"t"}, ob);
  ASSERT_TRUE(b.is_ok());
  EXPECT_TRUE(rb.assigned.empty());  // a still reads them all
  (void)(*a)->poll(0ns);             // a revokes two
  EXPECT_EQ(ra.revoked.size(), 2u);
  EXPECT_EQ((*a)->assignment().size(), 2u);
  (void)(*b)->poll(0ns);
  EXPECT_EQ(rb.assigned, ra.revoked);
  EXPECT_TRUE(ra.lost.empty());
  // b leaves: a gets them back, nothing revoked from it.
  ASSERT_TRUE((*b)->close().is_ok());
  EXPECT_EQ(rb.revoked.size(), 2u);
  (void)(*a)->poll(0ns);
  EXPECT_EQ(ra.revoked.size(), 2u);
  EXPECT_EQ((*a)->assignment().size(), 4u);
  EXPECT_EQ(ra.assigned.size(), 6u);
}

// An application that commits in its revoked callback, as Kafka's do: each
// callback runs once, its commits are accepted (at a rebalance and at close).
class CommitOnRevoke : public RebalanceListener {
 public:
  GroupConsumer* consumer = nullptr;
  int revoked_calls = 0;
  std::vector<Status> commits;
  void on_partitions_revoked(std::span<const TopicPartition> p) override {
    ++revoked_calls;
    std::map<TopicPartition, OffsetAndMetadata> offsets;
    for (const TopicPartition& tp : p) offsets[tp] = {consumer->position(tp), "on-revoke"};
    commits.push_back(consumer->commit_sync());
    commits.push_back(consumer->commit_sync(offsets));
  }
};

TEST(Group, CommitsInTheRevokedCallbackAreAcceptedAndTheCallbackRunsOnce) {
  auto ns = memory_namespace();
  produce(ns, "t", 10);
  CommitOnRevoke listener;
  ConsumerOptions oa = options("g", AssignmentStrategy::kSticky);
  oa.enable_auto_commit = true;
  oa.rebalance_listener = &listener;
  auto a = GroupConsumer::join(ns, {"t"}, oa);
  ASSERT_TRUE(a.is_ok());
  listener.consumer = a->get();
  std::vector<Read> reads;
  drain(**a, &reads);
  ASSERT_EQ(reads.size(), 40u);
  auto b = GroupConsumer::join(ns, {"t"}, options("g", AssignmentStrategy::kSticky));
  ASSERT_TRUE(b.is_ok());
  (void)(*a)->poll(0ns);
  EXPECT_EQ(listener.revoked_calls, 1);
  ASSERT_EQ((*a)->assignment().size(), 2u);
  ASSERT_TRUE((*a)->close().is_ok());
  EXPECT_EQ(listener.revoked_calls, 2);
  for (const Status& s : listener.commits) EXPECT_TRUE(s.is_ok()) << s.to_string();
  auto d = describe_group(*ns, "g");
  for (const GroupPartitionDescription& p : d->partitions) {
    EXPECT_EQ(p.committed, 10) << p.partition.partition;
    EXPECT_EQ(p.metadata, "on-revoke");
  }
}

TEST(Group, EagerStrategiesRevokeEverythingAtARebalance) {
  auto ns = memory_namespace();
  Recorder ra;
  ConsumerOptions oa = options("g", AssignmentStrategy::kRoundRobin);
  oa.rebalance_listener = &ra;
  auto a = GroupConsumer::join(ns, {"t"}, oa);
  ASSERT_TRUE(a.is_ok());
  auto b = GroupConsumer::join(ns, {"t"}, options("g", AssignmentStrategy::kRoundRobin));
  ASSERT_TRUE(b.is_ok());
  (void)(*a)->poll(0ns);
  EXPECT_EQ(ra.revoked.size(), 4u);
  EXPECT_EQ((*a)->assignment(), (std::vector<TopicPartition>{{"t", 0}, {"t", 2}}));
  // A member asking for another strategy is refused, naming both.
  auto c = GroupConsumer::join(ns, {"t"}, options("g", AssignmentStrategy::kSticky));
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("assigns with round-robin"), std::string::npos) << c.status().message();
}

TEST(Group, MembersOfSeveralTopicsReadEachTopicsRecords) {
  auto ns = memory_namespace();
  ASSERT_TRUE(ns->create_topic("u", {.partitions = 2}).is_ok());
  produce(ns, "t", 30);
  produce(ns, "u", 40);
  auto a = GroupConsumer::join(ns, {"t", "u"}, options("g"));
  ASSERT_TRUE(a.is_ok());
  std::vector<Read> reads;
  for (int i = 0; i < 5; ++i) drain(**a, &reads);
  std::vector<Read> t, u;
  for (const Read& r : reads) (r.topic == "t" ? t : u).push_back(r);
  expect_each_once(t, 4, 30);
  expect_each_once(u, 2, 40);
}

TEST(Group, AdministrationListsDescribesResetsAndDeletes) {
  auto ns = memory_namespace();
  produce(ns, "t", 10);
  auto a = GroupConsumer::join(ns, {"t"}, options("billing"));
  ASSERT_TRUE(a.is_ok());
  ASSERT_TRUE((*a)->commit_sync({{{"t", 1}, {4, "m"}}}).is_ok());
  auto names = list_groups(*ns);
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(*names, std::vector<std::string>{"billing"});
  auto d = describe_group(*ns, "billing");
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->state, "stable");
  EXPECT_EQ(d->strategy, "range");
  EXPECT_EQ(d->generation, (*a)->generation());
  ASSERT_EQ(d->members.size(), 1u);
  EXPECT_EQ(d->members[0].pid, ::getpid());
  EXPECT_EQ(d->members[0].member_id, (*a)->member_id());
  EXPECT_EQ(d->members[0].assignment.size(), 4u);
  ASSERT_EQ(d->partitions.size(), 4u);
  EXPECT_EQ(d->partitions[1].committed, 4);
  EXPECT_EQ(d->partitions[1].metadata, "m");
  EXPECT_EQ(d->partitions[1].log_end, 10);
  EXPECT_EQ(d->partitions[1].lag, 6);
  EXPECT_EQ(d->partitions[0].committed, -1);
  EXPECT_EQ(d->partitions[0].member_id, (*a)->member_id());
  // Reset and delete are refused while it has members; nothing changes.
  Status refused = reset_group_offsets(*ns, "billing", "t", {{1, 0}});
  EXPECT_EQ(refused.code(), Code::kInvalidArgument);
  EXPECT_NE(refused.message().find("pid " + std::to_string(::getpid())), std::string::npos) << refused.message();
  EXPECT_EQ(delete_group(*ns, "billing").code(), Code::kInvalidArgument);
  EXPECT_EQ(describe_group(*ns, "billing")->partitions[1].committed, 4);
  ASSERT_TRUE((*a)->close().is_ok());
  EXPECT_EQ(describe_group(*ns, "billing")->state, "empty");
  ASSERT_TRUE(reset_group_offsets(*ns, "billing", "t", {{0, 2}, {1, 9}}).is_ok());
  d = describe_group(*ns, "billing");
  EXPECT_EQ(d->partitions[0].committed, 2);
  EXPECT_EQ(d->partitions[1].committed, 9);
  EXPECT_EQ(reset_group_offsets(*ns, "billing", "t", {{4, 0}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(reset_group_offsets(*ns, "billing", "nope", {{0, 0}}).code(), Code::kNotFound);
  // The next member starts where the reset says.
  {
    auto b = GroupConsumer::join(ns, {"t"}, options("billing"));
    ASSERT_TRUE(b.is_ok());
    std::vector<Read> reads;
    drain(**b, &reads);
    EXPECT_EQ(reads.size(), 8u + 1u + 10u + 10u);
  }
  ASSERT_TRUE(delete_group(*ns, "billing").is_ok());
  EXPECT_TRUE(list_groups(*ns)->empty());
  EXPECT_EQ(describe_group(*ns, "billing").status().code(), Code::kNotFound);
}

// A live member that stops polling for max.poll.interval is removed (its
// heartbeats go on): the others take its partitions; when it polls again
// it has lost them (on_partitions_lost), rejoins and gets a share back.
TEST(Group, AMemberThatStopsPollingIsRemovedAndRejoinsHavingLostItsPartitions) {
  auto ns = memory_namespace();
  Recorder ra;
  ConsumerOptions oa = options("g", AssignmentStrategy::kSticky);
  oa.rebalance_listener = &ra;
  oa.max_poll_interval = 200ms;
  oa.heartbeat_interval = 20ms;
  auto a = GroupConsumer::join(ns, {"t"}, oa);
  ASSERT_TRUE(a.is_ok());
  ConsumerOptions ob = options("g", AssignmentStrategy::kSticky);
  ob.heartbeat_interval = 20ms;
  auto b = GroupConsumer::join(ns, {"t"}, ob);
  ASSERT_TRUE(b.is_ok());
  (void)(*a)->poll(0ns);
  (void)(*b)->poll(0ns);
  const std::vector<TopicPartition> before = (*a)->assignment();
  ASSERT_EQ(before.size(), 2u);
  // a stops polling; b goes on, and takes everything once a is removed.
  const auto until = std::chrono::steady_clock::now() + 30s;
  while ((*b)->assignment().size() != 4 && std::chrono::steady_clock::now() < until) (void)(*b)->poll(10ms);
  ASSERT_EQ((*b)->assignment().size(), 4u);
  EXPECT_EQ(describe_group(*ns, "g")->members.size(), 1u);
  // a comes back: lost, rejoined under a new member id.
  const std::string old_id = (*a)->member_id();
  (void)(*a)->poll(0ns);
  EXPECT_EQ(ra.lost, before);
  EXPECT_NE((*a)->member_id(), old_id);
  for (int i = 0; i < 20 && ((*a)->assignment().size() != 2 || (*b)->assignment().size() != 2); ++i) {
    (void)(*b)->poll(0ns);
    (void)(*a)->poll(0ns);
  }
  EXPECT_EQ((*a)->assignment().size(), 2u);
  EXPECT_EQ((*b)->assignment().size(), 2u);
}

TEST(Group, AGroupWithALongNameIsListedWhole) {
  auto ns = memory_namespace();
  const std::string name(240, 'n');
  {
    auto a = GroupConsumer::join(ns, {"t"}, options(name));
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  }
  EXPECT_EQ(*list_groups(*ns), std::vector<std::string>{name});
  EXPECT_EQ(describe_group(*ns, name)->group, name);
  ASSERT_TRUE(delete_group(*ns, name).is_ok());
  EXPECT_TRUE(list_groups(*ns)->empty());
}

TEST(Group, BadOptionsAreRefusedAndJoinNothing) {
  auto ns = memory_namespace();
  EXPECT_EQ(GroupConsumer::join(ns, {"t"}, options("")).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(GroupConsumer::join(ns, {"t"}, options("a/b")).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(GroupConsumer::join(ns, {"t"}, options(std::string(248, 'g'))).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(GroupConsumer::join(ns, {}, options("g")).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(GroupConsumer::join(ns, {"nope"}, options("g")).status().code(), Code::kNotFound);
  ConsumerOptions o = options("g");
  o.heartbeat_interval = o.session_timeout;
  EXPECT_EQ(GroupConsumer::join(ns, {"t"}, o).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(list_groups(*ns)->empty());
}

// ---- across processes

class SharedGroup : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ns = Namespace::open_shared(guard_.ns());
    ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
    ns_ = *ns;
    ASSERT_TRUE(ns_->create_topic("t", {.partitions = 4}).is_ok());
  }
  std::shared_ptr<Namespace> open() { return Namespace::open_shared(guard_.ns()).value(); }

  testing::ShmGuard guard_;
  std::shared_ptr<Namespace> ns_;
};

// Reads one byte from `fd` within `timeout`; false if none came.
bool read_byte(int fd, std::chrono::milliseconds timeout, char* c) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 && ::read(fd, c, 1) == 1;
}

TEST_F(SharedGroup, ASigkilledMembersPartitionsGoToTheSurvivorAtOnceFromItsCommits) {
  produce(ns_, "t", 100);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  testing::Children children;
  // The child reads everything, commits 50 of each partition, says so and waits.
  const pid_t child = children.spawn("member", [&](std::string& report) {
    ::close(ready[0]);
    auto ns = open();
    ConsumerOptions o = options("g", AssignmentStrategy::kSticky);
    o.session_timeout = 120s;  // only its death can move its partitions in time
    auto c = GroupConsumer::join(ns, {"t"}, o);
    if (!c) {
      report = c.status().to_string();
      return 1;
    }
    std::map<TopicPartition, OffsetAndMetadata> half;
    for (std::int32_t p = 0; p < 4; ++p) half[{"t", p}] = {50, ""};
    if (Status s = (*c)->commit_sync(half); !s) {
      report = s.to_string();
      return 1;
    }
    (void)!::write(ready[1], "r", 1);
    for (;;) (void)(*c)->poll(100ms);
  });
  ::close(ready[1]);
  char c = 0;
  ASSERT_TRUE(read_byte(ready[0], 30s, &c)) << "the child member never got ready";
  ::close(ready[0]);
  ConsumerOptions o = options("g", AssignmentStrategy::kSticky);
  o.session_timeout = 120s;
  auto survivor = GroupConsumer::join(ns_, {"t"}, o);
  ASSERT_TRUE(survivor.is_ok()) << survivor.status().to_string();
  // The two share the partitions once the child has revoked two.
  std::vector<Read> reads;
  const auto until = std::chrono::steady_clock::now() + 30s;
  while ((*survivor)->assignment().size() != 2 && std::chrono::steady_clock::now() < until) {
    GroupPollResult r = (*survivor)->poll(10ms);
    for (const RecordView& v : r.records) reads.push_back({"t", v.partition(), v.offset(), std::string(v.value())});
  }
  ASSERT_EQ((*survivor)->assignment().size(), 2u);
  children.signal(child, SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  while ((*survivor)->assignment().size() != 4 && std::chrono::steady_clock::now() < killed + 60s) {
    GroupPollResult r = (*survivor)->poll(10ms);
    for (const RecordView& v : r.records) reads.push_back({"t", v.partition(), v.offset(), std::string(v.value())});
  }
  ASSERT_EQ((*survivor)->assignment().size(), 4u) << "the dead member's partitions never moved";
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  std::printf("partitions of the SIGKILLed member taken over after %.1f ms\n", seconds * 1000);
  for (int i = 0; i < 5; ++i) drain(**survivor, &reads);
  // Every partition from the child's commit (50) to the end, once each, in order.
  expect_each_once(reads, 4, 50, 50);
  EXPECT_EQ(describe_group(*ns_, "g")->members.size(), 1u);
}

TEST_F(SharedGroup, AHungMemberIsRemovedAfterItsSessionTimeoutAndItsCommitsAreFenced) {
  produce(ns_, "t", 10);
  int ready[2], go[2], result[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(go), 0);
  ASSERT_EQ(::pipe(result), 0);
  testing::Children children;
  const pid_t child = children.spawn("member", [&](std::string& report) {
    ::close(ready[0]);
    ::close(go[1]);
    ::close(result[0]);
    auto ns = open();
    ConsumerOptions o = options("g");
    o.session_timeout = 1500ms;
    o.heartbeat_interval = 200ms;
    auto c = GroupConsumer::join(ns, {"t"}, o);
    if (!c) {
      report = c.status().to_string();
      return 1;
    }
    (void)!::write(ready[1], "r", 1);
    char b;
    if (::read(go[0], &b, 1) != 1) return 1;  // the parent stopped and resumed this process meanwhile
    // A zombie now: its commit is refused, whatever generation it sends.
    const Status s = (*c)->commit_sync({{{"t", 0}, {999, "zombie"}}});
    const char code = static_cast<char>(s.code());
    (void)!::write(result[1], &code, 1);
    return 0;
  });
  ::close(ready[1]);
  ::close(go[0]);
  ::close(result[1]);
  char b = 0;
  ASSERT_TRUE(read_byte(ready[0], 30s, &b));
  ConsumerOptions o = options("g");
  o.session_timeout = 1500ms;
  o.heartbeat_interval = 200ms;
  auto live = GroupConsumer::join(ns_, {"t"}, o);
  ASSERT_TRUE(live.is_ok());
  children.signal(child, SIGSTOP);
  const auto until = std::chrono::steady_clock::now() + 60s;
  while ((*live)->assignment().size() != 4 && std::chrono::steady_clock::now() < until) (void)(*live)->poll(20ms);
  ASSERT_EQ((*live)->assignment().size(), 4u) << "the hung member was never removed";
  ASSERT_TRUE((*live)->commit_sync({{{"t", 0}, {7, "live"}}}).is_ok());
  children.signal(child, SIGCONT);
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  char code = 0;
  ASSERT_TRUE(read_byte(result[0], 30s, &code));
  EXPECT_EQ(static_cast<Code>(code), Code::kFenced);
  EXPECT_EQ((*live)->committed({"t", 0})->offset, 7);
  EXPECT_EQ((*live)->committed({"t", 0})->metadata, "live");
  for (int fd : {ready[0], go[1], result[0]}) ::close(fd);
  const std::vector<testing::ChildResult> results = children.wait_all(30s);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].ok()) << results[0].describe();
}

// Damaged group memory: refused with kCorrupt naming the object, never a hang
// or a crash, and nothing is stored over it.
TEST_F(SharedGroup, ADamagedGroupStateIsRefused) {
  {
    auto a = GroupConsumer::join(ns_, {"t"}, options("g"));
    ASSERT_TRUE(a.is_ok());
  }
  const std::string path = "/dev/shm/" + client::group_object_name(guard_.ns(), "g");
  FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  // Flip bytes in both state buffers (offset 20480 onward, 2 MiB each).
  for (long at : {20480L + 40, 20480L + (2L << 20) + 40}) {
    std::fseek(f, at, SEEK_SET);
    const unsigned char junk[4] = {0xde, 0xad, 0xbe, 0xef};
    std::fwrite(junk, 1, 4, f);
  }
  std::fclose(f);
  auto b = GroupConsumer::join(ns_, {"t"}, options("g"));
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Code::kCorrupt);
  EXPECT_NE(b.status().message().find("rill group delete g"), std::string::npos) << b.status().message();
  EXPECT_EQ(describe_group(*ns_, "g").status().code(), Code::kCorrupt);
  // Its header damaged too: refused when opened.
  f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fwrite("XXXX", 1, 4, f);
  std::fclose(f);
  EXPECT_EQ(GroupConsumer::join(ns_, {"t"}, options("g")).status().code(), Code::kCorrupt);
  // What the message advises works: delete it, and the group starts anew.
  ASSERT_TRUE(delete_group(*ns_, "g").is_ok());
  auto fresh = GroupConsumer::join(ns_, {"t"}, options("g"));
  ASSERT_TRUE(fresh.is_ok()) << fresh.status().to_string();
  EXPECT_EQ((*fresh)->assignment().size(), 4u);
}

// ---- durable namespaces: commits on disk

class DurableGroup : public ::testing::Test {
 protected:
  std::shared_ptr<Namespace> open() {
    auto ns = Namespace::open_shared(guard_.ns(), {.data_dir = dir_ / "data"});
    EXPECT_TRUE(ns.is_ok()) << ns.status().to_string();
    return *ns;
  }
  // Shared memory gone, files kept.
  void reboot() { ASSERT_TRUE(Namespace::remove_shared(guard_.ns()).is_ok()); }
  std::string log_path() const { return dir_ / "data/groups/g.commits"; }

  testing::ShmGuard guard_;
  testing::TempDir dir_;
};

TEST_F(DurableGroup, CommittedOffsetsSurviveAReboot) {
  {
    auto ns = open();
    ASSERT_TRUE(ns->create_topic("t", {.partitions = 4}).is_ok());
    produce(ns, "t", 30);
    auto a = GroupConsumer::join(ns, {"t"}, options("g"));
    ASSERT_TRUE(a.is_ok());
    for (int round = 1; round <= 20; ++round)  // many commits: the last of each partition counts
      ASSERT_TRUE((*a)->commit_sync({{{"t", 0}, {round, "r" + std::to_string(round)}}, {{"t", 2}, {round / 2, ""}}}).is_ok());
  }
  reboot();
  auto ns = open();
  EXPECT_EQ(*list_groups(*ns), std::vector<std::string>{"g"});
  auto d = describe_group(*ns, "g");
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->state, "empty");
  // No member subscribes now: the partitions shown are those with commits.
  ASSERT_EQ(d->partitions.size(), 2u);
  EXPECT_EQ(d->partitions[0].partition, (TopicPartition{"t", 0}));
  EXPECT_EQ(d->partitions[0].committed, 20);
  EXPECT_EQ(d->partitions[0].metadata, "r20");
  EXPECT_EQ(d->partitions[0].log_end, 30);
  EXPECT_EQ(d->partitions[1].partition, (TopicPartition{"t", 2}));
  EXPECT_EQ(d->partitions[1].committed, 10);
  // A member after the reboot starts at the commits: 10 + 30 + 20 + 30 records.
  auto b = GroupConsumer::join(ns, {"t"}, options("g"));
  ASSERT_TRUE(b.is_ok());
  std::vector<Read> reads;
  drain(**b, &reads);
  EXPECT_EQ(reads.size(), 90u);
  ASSERT_TRUE((*b)->close().is_ok());
  ASSERT_TRUE(delete_group(*ns, "g").is_ok());
  reboot();
  EXPECT_TRUE(list_groups(*open())->empty());
  EXPECT_FALSE(std::filesystem::exists(log_path()));
}

// A commit the disk refuses (full, then an I/O error at the sync) is an
// error of that commit and stored nowhere; the log stays whole, and commits
// go on once the disk takes them.
TEST_F(DurableGroup, ACommitTheDiskRefusesIsStoredNowhere) {
  testing::FaultyFileSystem faulty;
  io::ScopedFileSystem installed(faulty);
  auto ns = open();
  ASSERT_TRUE(ns->create_topic("t", {.partitions = 1}).is_ok());
  {
    auto a = GroupConsumer::join(ns, {"t"}, options("g"));
    ASSERT_TRUE(a.is_ok());
    ASSERT_TRUE((*a)->commit_sync({{{"t", 0}, {3, ""}}}).is_ok());
    faulty.fail_next_write("g.commits", ENOSPC, 7);  // 7 bytes of the record reach the file
    const Status full = (*a)->commit_sync({{{"t", 0}, {4, ""}}});
    EXPECT_FALSE(full.is_ok());
    EXPECT_NE(full.message().find("nothing was committed"), std::string::npos) << full.to_string();
    EXPECT_EQ((*a)->committed({"t", 0})->offset, 3);
    faulty.fail_next_sync("g.commits", EIO);
    EXPECT_FALSE((*a)->commit_sync({{{"t", 0}, {5, ""}}}).is_ok());
    EXPECT_EQ((*a)->committed({"t", 0})->offset, 3);
    ASSERT_TRUE((*a)->commit_sync({{{"t", 0}, {6, "after"}}}).is_ok());
  }
  ns.reset();
  reboot();
  auto d = describe_group(*open(), "g");
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->partitions[0].committed, 6);
  EXPECT_EQ(d->partitions[0].metadata, "after");
}

TEST_F(DurableGroup, ATornLastCommitIsDroppedAndADamagedOneRefused) {
  {
    auto ns = open();
    ASSERT_TRUE(ns->create_topic("t", {.partitions = 1}).is_ok());
    auto a = GroupConsumer::join(ns, {"t"}, options("g"));
    ASSERT_TRUE(a.is_ok());
    ASSERT_TRUE((*a)->commit_sync({{{"t", 0}, {5, ""}}}).is_ok());
    ASSERT_TRUE((*a)->commit_sync({{{"t", 0}, {9, ""}}}).is_ok());
  }
  reboot();
  // A crash mid-append: the last record cut short.
  const auto size = std::filesystem::file_size(log_path());
  std::filesystem::resize_file(log_path(), size - 3);
  {
    auto ns = open();
    auto d = describe_group(*ns, "g");
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
    EXPECT_EQ(d->partitions[0].committed, 5);
    auto a = GroupConsumer::join(ns, {"t"}, options("g"));
    ASSERT_TRUE(a.is_ok());
    ASSERT_TRUE((*a)->commit_sync({{{"t", 0}, {7, ""}}}).is_ok());  // appended where the intact records end
  }
  reboot();
  {
    auto d = describe_group(*open(), "g");
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
    EXPECT_EQ(d->partitions[0].committed, 7);
  }
  reboot();
  // A whole record with a flipped byte, and one after it: damage, refused,
  // naming file and byte.
  FILE* f = std::fopen(log_path().c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 16 + 12 + 3, SEEK_SET);  // inside the first record's body
  std::fputc('X', f);
  std::fclose(f);
  auto ns = open();
  auto d = describe_group(*ns, "g");
  ASSERT_FALSE(d.is_ok());
  EXPECT_EQ(d.status().code(), Code::kCorrupt);
  EXPECT_NE(d.status().message().find(log_path() + " byte 16"), std::string::npos) << d.status().message();
  EXPECT_EQ(GroupConsumer::join(ns, {"t"}, options("g")).status().code(), Code::kCorrupt);
}

}  // namespace
}  // namespace rill
