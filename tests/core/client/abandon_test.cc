// A claim whose producer died before committing it is passed by consumers
// with the defaults a user gets (ConsumerOptions{}), whatever timeout they
// poll with (0, 1 ms, 100 ms, 1 s) and whatever their wait strategy: the
// patience adds up across poll() calls. In one process (the claim is made
// under the identity of a process that has exited) and across processes (a
// child reserves a record, then SIGKILLs itself). Seeking over such a claim
// abandons it too. A stopped producer, which is alive, is never abandoned.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "core/client/topic_rings.h"
#include "core/log/partition_ring.h"
#include "ipc/faults.h"
#include "ipc/liveness.h"
#include "rill/rill.h"
#include "support/child_process.h"
#include "support/shm_guard.h"

namespace rill {
namespace {

using namespace std::chrono_literals;
using testing::Children;
using testing::ShmGuard;

constexpr int kAfter = 20;  // records produced after the dead claim

std::string value_of(int i) { return "after-" + std::to_string(i); }

// The identity of a process that has exited and been reaped.
ipc::ProcessId dead_process() {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    const ipc::ProcessId me = ipc::self();
    (void)!::write(fds[1], &me, sizeof me);
    ::_exit(0);
  }
  ipc::ProcessId id;
  if (::read(fds[0], &id, sizeof id) != sizeof id) id = {};
  ::close(fds[0]);
  ::close(fds[1]);
  ::waitpid(pid, nullptr, 0);
  return id;
}

// Reads until offset 0 ("before"), the dead claim at 1 and kAfter records
// after it have all been passed, polling with `timeout`. Checks every record:
// its offset, value and checksum, exactly once, in order.
void expect_claim_passed(Consumer& consumer, std::chrono::nanoseconds timeout) {
  std::vector<std::pair<std::int64_t, std::string>> got;
  std::int64_t abandoned = 0;
  // A guard against a hang, not a timing requirement.
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (got.size() < kAfter + 1 && std::chrono::steady_clock::now() < give_up) {
    PollResult r = consumer.poll(timeout);
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    abandoned += r.abandoned;
    for (const RecordView& v : r.records) {
      EXPECT_TRUE(v.verify_checksum()) << "offset " << v.offset();
      got.emplace_back(v.offset(), std::string(v.value()));
    }
  }
  ASSERT_EQ(got.size(), kAfter + 1u) << "the consumer is still waiting at the dead producer's claim";
  EXPECT_EQ(abandoned, 1);
  EXPECT_EQ(got[0], (std::pair<std::int64_t, std::string>{0, "before"}));
  for (int i = 0; i < kAfter; ++i) EXPECT_EQ(got[i + 1], (std::pair<std::int64_t, std::string>{i + 2, value_of(i)}));
  EXPECT_EQ(consumer.poll(0ns).records.size(), 0u) << "nothing twice";
}

void produce_after(const std::shared_ptr<Topic>& topic) {
  Producer producer(topic);
  for (int i = 0; i < kAfter; ++i) ASSERT_TRUE(producer.send(std::nullopt, value_of(i)).is_ok());
}

std::string mode_name(WaitStrategy w) {
  switch (w) {
    case WaitStrategy::kBusySpin: return "Spin";
    case WaitStrategy::kSpinThenYield: return "Yield";
    default: return "Block";
  }
}

using Case = std::tuple<WaitStrategy, std::chrono::nanoseconds>;

class DeadClaim : public ::testing::TestWithParam<Case> {
 protected:
  ConsumerOptions options() const {
    ConsumerOptions o;  // the defaults, abandoned_claim_timeout included
    o.start_at_earliest = true;
    o.wait = std::get<0>(GetParam());
    return o;
  }
  std::chrono::nanoseconds timeout() const { return std::get<1>(GetParam()); }
};

TEST_P(DeadClaim, InOneProcessIsPassedWithTheDefaults) {
  auto ns = Namespace::in_process().value();
  ASSERT_TRUE(ns->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 8}).is_ok());
  auto topic = ns->open_topic("t").value();
  {
    Producer producer(topic);
    ASSERT_TRUE(producer.send(std::nullopt, "before").is_ok());
  }
  // A claim of offset 1 announced by a process that no longer exists.
  const ipc::ProcessId dead = dead_process();
  ASSERT_FALSE(dead.empty());
  log::PartitionRing& ring = client::ring_of(*topic, 0);
  auto slot = ring.acquire_slot(dead);
  ASSERT_TRUE(slot.is_ok()) << slot.status().to_string();
  log::Claim claim;
  ASSERT_EQ(ring.claim(64, 1, *slot, &claim), log::ClaimStatus::kOk);
  ASSERT_EQ(claim.first_offset, 1);
  produce_after(topic);
  Consumer consumer(topic, options());
  ASSERT_TRUE(consumer.assign_all().is_ok());
  expect_claim_passed(consumer, timeout());
}

TEST_P(DeadClaim, AcrossProcessesIsPassedWithTheDefaults) {
  ShmGuard guard;
  {
    auto ns = Namespace::open_shared(guard.ns());
    ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
    ASSERT_TRUE((*ns)->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 8}).is_ok());
  }
  const std::string name = guard.ns();
  Children children;
  const pid_t dying = children.spawn("reserves then SIGKILLs itself", [&](std::string& report) {
    auto ns = Namespace::open_shared(name);
    if (!ns) {
      report = ns.status().to_string();
      return 2;
    }
    auto topic = (*ns)->open_topic("t");
    if (!topic) return 2;
    Producer producer(*topic);
    if (!producer.send(std::nullopt, "before").is_ok()) return 1;
    auto r = producer.reserve(std::nullopt, 16);  // claimed, never published
    if (!r) return 1;
    ::raise(SIGKILL);
    return 3;
  });
  const testing::ChildResult died = children.wait_one(dying, 30s);
  ASSERT_EQ(died.signal, SIGKILL) << died.describe();
  auto ns = Namespace::open_shared(name).value();
  auto topic = ns->open_topic("t").value();
  Consumer consumer(topic, options());
  ASSERT_TRUE(consumer.assign_all().is_ok());
  produce_after(topic);
  expect_claim_passed(consumer, timeout());
}

// The consumer already waits at the offset when the producer dies: the
// patience counts from then, across its polls.
TEST_P(DeadClaim, ConsumerWaitingWhenTheProducerDiesPassesIt) {
  ShmGuard guard;
  {
    auto ns = Namespace::open_shared(guard.ns());
    ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
    ASSERT_TRUE((*ns)->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 8}).is_ok());
  }
  const std::string name = guard.ns();
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  Children children;
  const pid_t dying = children.spawn("reserves, waits, then SIGKILLs itself", [&](std::string&) {
    auto topic = Namespace::open_shared(name).value()->open_topic("t").value();
    Producer producer(topic);
    if (!producer.send(std::nullopt, "before").is_ok()) return 1;
    auto r = producer.reserve(std::nullopt, 16);
    if (!r) return 1;
    char byte = 0;
    (void)!::read(go[0], &byte, 1);  // until the parent's consumer has polled
    ::raise(SIGKILL);
    return 3;
  });
  ::close(go[0]);
  auto ns = Namespace::open_shared(name).value();
  auto topic = ns->open_topic("t").value();
  Consumer consumer(topic, options());
  ASSERT_TRUE(consumer.assign_all().is_ok());
  // Wait for "before": then the child holds its claim.
  std::vector<std::string> first;
  for (auto give_up = std::chrono::steady_clock::now() + 30s; first.empty() && std::chrono::steady_clock::now() < give_up;)
    for (const RecordView& v : consumer.poll(10ms).records) first.emplace_back(v.value());
  ASSERT_EQ(first, std::vector<std::string>{"before"});
  for (int i = 0; i < 3; ++i) {
    PollResult r = consumer.poll(timeout() < 20ms ? timeout() : 20ms);
    EXPECT_TRUE(r.records.empty());
    EXPECT_EQ(r.abandoned, 0) << "the producer is alive";
  }
  const char byte = 1;
  ASSERT_EQ(::write(go[1], &byte, 1), 1);
  ::close(go[1]);
  ASSERT_EQ(children.wait_one(dying, 30s).signal, SIGKILL);
  produce_after(topic);
  std::vector<std::pair<std::int64_t, std::string>> got;
  std::int64_t abandoned = 0;
  for (auto give_up = std::chrono::steady_clock::now() + 30s;
       got.size() < kAfter && std::chrono::steady_clock::now() < give_up;) {
    PollResult r = consumer.poll(timeout());
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    abandoned += r.abandoned;
    for (const RecordView& v : r.records) got.emplace_back(v.offset(), std::string(v.value()));
  }
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kAfter)) << "the consumer is still waiting at the dead claim";
  EXPECT_EQ(abandoned, 1);
  for (int i = 0; i < kAfter; ++i) EXPECT_EQ(got[i], (std::pair<std::int64_t, std::string>{i + 2, value_of(i)}));
}

INSTANTIATE_TEST_SUITE_P(
    EveryWaitAndTimeout, DeadClaim,
    ::testing::Combine(::testing::Values(WaitStrategy::kBlock, WaitStrategy::kBusySpin, WaitStrategy::kSpinThenYield),
                       ::testing::Values(std::chrono::nanoseconds(0), std::chrono::nanoseconds(1ms),
                                         std::chrono::nanoseconds(100ms), std::chrono::nanoseconds(1s))),
    [](const ::testing::TestParamInfo<Case>& info) {
      return mode_name(std::get<0>(info.param)) + "_" +
             std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(std::get<1>(info.param)).count()) +
             "us";
    });

// `rill consume -o -2` found "record at offset 15 stayed uncommitted for a
// second while seeking": a seek over a dead claim abandons it instead.
TEST(DeadClaimSeek, SeekingOverADeadClaimAbandonsIt) {
  auto ns = Namespace::in_process().value();
  ASSERT_TRUE(ns->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 8}).is_ok());
  auto topic = ns->open_topic("t").value();
  {
    Producer producer(topic);
    ASSERT_TRUE(producer.send(std::nullopt, "before").is_ok());
  }
  log::PartitionRing& ring = client::ring_of(*topic, 0);
  auto slot = ring.acquire_slot(dead_process());
  ASSERT_TRUE(slot.is_ok());
  log::Claim claim;
  ASSERT_EQ(ring.claim(64, 1, *slot, &claim), log::ClaimStatus::kOk);
  produce_after(topic);
  Consumer consumer(topic);
  ASSERT_TRUE(consumer.assign_all().is_ok());
  const Status s = consumer.seek(0, kAfter);  // the seek scans across offset 1
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  PollResult r = consumer.poll(1s);
  ASSERT_TRUE(r.status.is_ok());
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].offset(), kAfter);
  EXPECT_EQ(r.records[0].value(), value_of(kAfter - 2));
  EXPECT_EQ(r.records[1].offset(), kAfter + 1);
}

// A stopped producer is alive: its claim is waited for, never abandoned,
// however many polls of any timeout look at it.
TEST(DeadClaimSeek, AStoppedProducersClaimIsNeverAbandoned) {
  auto ns = Namespace::in_process().value();
  ASSERT_TRUE(ns->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 8}).is_ok());
  auto topic = ns->open_topic("t").value();
  Producer producer(topic);
  auto r = producer.reserve(std::nullopt, 5);  // this process: alive
  ASSERT_TRUE(r.is_ok());
  ASSERT_TRUE(producer.send(std::nullopt, "next").is_ok());
  Consumer consumer(topic, {.start_at_earliest = true, .abandoned_claim_timeout = 0ms});
  ASSERT_TRUE(consumer.assign_all().is_ok());
  for (auto t : {0ms, 1ms, 0ms, 5ms, 0ms, 20ms}) {
    PollResult p = consumer.poll(t);
    EXPECT_TRUE(p.records.empty());
    EXPECT_EQ(p.abandoned, 0);
  }
  std::memcpy(r->value().data(), "first", 5);
  producer.publish(*r);
  PollResult p = consumer.poll(1s);
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.records[0].value(), "first");
  EXPECT_EQ(p.records[1].value(), "next");
}

// /proc mounted hidepid=: the claim owner's start time cannot be read, so its
// liveness rests on its pid alone. While the owner lives its claim is waited
// for; once it is gone the claim is passed, with the defaults' patience.
TEST(DeadClaimHiddenProc, TheOwnerIsJudgedByItsPid) {
  const pid_t owner_pid = ::fork();
  if (owner_pid == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(owner_pid, 0);
  struct Cleanup {
    pid_t pid;
    ~Cleanup() {
      ipc::clear_faults();
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } cleanup{owner_pid};
  const ipc::ProcessId owner = ipc::identify(owner_pid);
  ASSERT_FALSE(owner.empty());
  ipc::inject_fault(ipc::OsCall::kProcRead, "/proc/" + std::to_string(owner_pid) + "/", EACCES, 1'000'000);

  auto ns = Namespace::in_process().value();
  ASSERT_TRUE(ns->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 8}).is_ok());
  auto topic = ns->open_topic("t").value();
  {
    Producer producer(topic);
    ASSERT_TRUE(producer.send(std::nullopt, "before").is_ok());
  }
  log::PartitionRing& ring = client::ring_of(*topic, 0);
  auto slot = ring.acquire_slot(owner);
  ASSERT_TRUE(slot.is_ok()) << slot.status().to_string();
  log::Claim claim;
  ASSERT_EQ(ring.claim(64, 1, *slot, &claim), log::ClaimStatus::kOk);
  produce_after(topic);

  Consumer consumer(topic, {.start_at_earliest = true, .abandoned_claim_timeout = 0ms});
  ASSERT_TRUE(consumer.assign_all().is_ok());
  PollResult first = consumer.poll(1s);
  ASSERT_TRUE(first.status.is_ok()) << first.status.to_string();
  ASSERT_EQ(first.records.size(), 1u);
  EXPECT_EQ(first.records[0].value(), "before");
  for (auto t : {0ms, 1ms, 20ms}) {
    PollResult p = consumer.poll(t);
    EXPECT_TRUE(p.records.empty()) << "a live owner's claim is waited for";
    EXPECT_EQ(p.abandoned, 0);
  }
  EXPECT_GT(ipc::refusals(ipc::OsCall::kProcRead), 0) << "the owner's /proc entry was asked for";

  ::kill(owner_pid, SIGKILL);
  ::waitpid(owner_pid, nullptr, 0);
  cleanup.pid = 0;
  std::vector<std::pair<std::int64_t, std::string>> got;
  std::int64_t abandoned = 0;
  for (auto give_up = std::chrono::steady_clock::now() + 30s;
       got.size() < kAfter && std::chrono::steady_clock::now() < give_up;) {
    PollResult r = consumer.poll(100ms);
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    abandoned += r.abandoned;
    for (const RecordView& v : r.records) {
      EXPECT_TRUE(v.verify_checksum()) << "offset " << v.offset();
      got.emplace_back(v.offset(), std::string(v.value()));
    }
  }
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kAfter)) << "the dead owner's claim was not passed";
  EXPECT_EQ(abandoned, 1);
  for (int i = 0; i < kAfter; ++i) EXPECT_EQ(got[i], (std::pair<std::int64_t, std::string>{i + 2, value_of(i)}));
}

}  // namespace
}  // namespace rill
