// Processes killed with SIGKILL at random moments (seeded) while they produce
// and consume, then restarted, many times. Afterwards:
//   - every record committed by a producer incarnation is present exactly
//     once, in order: its sequence numbers are dense from 0, and reach at
//     least the last one whose send returned before it died (at most one
//     more: committed, but killed before it could say so); a claim it died
//     holding is skipped as abandoned;
//   - the final incarnations, which run to completion, are there in full;
//   - no reader is stuck: a checker registered from the start reads to the
//     end of every partition;
//   - after `rill ns gc`, no slot of a dead process is left, and /dev/shm
//     holds exactly the registry and the topic's partitions;
//   - in the long form, claims were abandoned (the kills did land between
//     claim and commit).
// The topic is overflow=block, so the checker (never killed) is never
// overrun: it sees every committed record. Killed consumers are registered
// readers too: once dead, they must not hold the producers back.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/client/topic_rings.h"
#include "core/log/partition_ring.h"
#include "rill/rill.h"
#include "support/child_process.h"
#include "support/shm_guard.h"
#include "support/test_scale.h"

namespace rill {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 3;
constexpr int kProducers = 3;   // running at once; producer slot i writes partition i % kPartitions
constexpr int kConsumers = 2;   // killable consumers, besides the checker
constexpr int kMaxIncarnations = 4096;
constexpr std::int64_t kFinalRecords = 2000;

// Written by the parent before the children that read it start; read after.
struct Plan {
  std::atomic<std::uint32_t> done{0};  // 1: no more incarnations will start
  std::atomic<std::uint32_t> incarnations{0};
  std::int32_t partition[kMaxIncarnations];
  std::int64_t final_records[kMaxIncarnations];  // -1: killed (unknown), else how many it sent
  // Written by the producers: how many sends (or publishes) have returned.
  std::atomic<std::int64_t> returned[kMaxIncarnations];
  std::atomic<std::int64_t> checker_abandoned{-1};  // written by the checker at the end
};

std::shared_ptr<Topic> open_in_child(const std::string& ns_name, const std::string& topic, std::string& report) {
  auto ns = Namespace::open_shared(ns_name);
  if (!ns) {
    report = "open_shared: " + ns.status().to_string();
    return nullptr;
  }
  auto t = (*ns)->open_topic(topic);
  if (!t) {
    report = "open_topic: " + t.status().to_string();
    return nullptr;
  }
  return *t;
}

std::string value_of(std::uint32_t incarnation, std::int64_t seq) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%u:%lld:", incarnation, static_cast<long long>(seq));
  std::string v = buf;
  v.append(static_cast<std::size_t>(seq % 97), static_cast<char>('a' + incarnation % 26));
  return v;
}

bool parse(std::string_view v, std::uint32_t& incarnation, std::int64_t& seq) {
  return std::sscanf(std::string(v).c_str(), "%u:%lld:", &incarnation, reinterpret_cast<long long*>(&seq)) == 2;
}

// Reads until told to stop; checks each incarnation's records are dense and
// in order. Returns a report of the first problem (empty if none).
std::string check_stream(Consumer& consumer, const Plan* plan, bool until_end, std::int64_t* abandoned_out,
                         std::int64_t* records_out, std::map<std::uint32_t, std::int64_t>* next_out,
                         const std::shared_ptr<Topic>& topic) {
  std::map<std::uint32_t, std::int64_t> next;
  std::int64_t abandoned = 0, records = 0;
  for (;;) {
    PollResult r = consumer.poll(50ms);
    if (!r.status) return "poll: " + r.status.to_string();
    if (r.skipped != 0) return "overrun: " + std::to_string(r.skipped) + " records skipped on an overflow=block topic";
    abandoned += r.abandoned;
    for (const RecordView& v : r.records) {
      std::uint32_t inc = 0;
      std::int64_t seq = 0;
      if (!parse(v.value(), inc, seq) || inc >= kMaxIncarnations || v.value() != value_of(inc, seq))
        return "bad value at offset " + std::to_string(v.offset()) + ": " + std::string(v.value().substr(0, 40));
      if (v.partition() != plan->partition[inc]) return "incarnation " + std::to_string(inc) + " in the wrong partition";
      std::int64_t& want = next[inc];
      if (seq != want)
        return "incarnation " + std::to_string(inc) + ": seq " + std::to_string(seq) + " where " +
               std::to_string(want) + " was expected (lost, duplicated or reordered)";
      ++want;
      ++records;
    }
    if (!until_end || r.records.size() + static_cast<std::size_t>(r.abandoned) > 0) continue;
    // The end: every incarnation started, the last ones finished, and the
    // reader is at the end of every partition.
    if (plan->done.load(std::memory_order_acquire) == 0) continue;
    bool at_end = true;
    for (std::int32_t p = 0; p < kPartitions; ++p) at_end = at_end && consumer.position(p) == client::ring_of(*topic, p).latest_offset();
    if (!at_end) continue;
    break;
  }
  *abandoned_out = abandoned;
  *records_out = records;
  *next_out = next;
  return "";
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plan_ = static_cast<Plan*>(::mmap(nullptr, sizeof(Plan), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(plan_, MAP_FAILED);
    new (plan_) Plan();
    auto ns = Namespace::open_shared(guard_.ns());
    ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
    ASSERT_TRUE((*ns)->create_topic("crash", {.partitions = kPartitions,
                                              .segment_bytes = 16384,
                                              .segment_count = 8,
                                              .index_interval = 1024,
                                              .overflow = Overflow::kBlock,
                                              .overflow_timeout_ms = 60'000})
                    .is_ok());
  }
  void TearDown() override { ::munmap(plan_, sizeof(Plan)); }

  std::uint32_t new_incarnation(int slot) {
    const std::uint32_t inc = plan_->incarnations.load(std::memory_order_relaxed);
    plan_->partition[inc] = slot % kPartitions;
    plan_->final_records[inc] = -1;
    plan_->returned[inc].store(0, std::memory_order_relaxed);
    plan_->incarnations.store(inc + 1, std::memory_order_release);
    return inc;
  }

  pid_t spawn_producer(testing::Children& children, std::uint32_t inc, std::int64_t records) {
    const std::string name = guard_.ns();
    const std::int32_t partition = plan_->partition[inc];
    std::atomic<std::int64_t>* returned = &plan_->returned[inc];
    return children.spawn("producer " + std::to_string(inc), [=](std::string& report) {
      auto topic = open_in_child(name, "crash", report);
      if (!topic) return 2;
      Producer producer(topic);
      for (std::int64_t seq = 0; seq < records; ++seq) {
        const std::string value = value_of(inc, seq);
        if (inc % 2 == 0) {
          auto r = producer.send(std::nullopt, value, {.partition = partition});
          if (!r) {
            report = r.status().to_string();
            return 1;
          }
          returned->store(seq + 1, std::memory_order_release);
          continue;
        }
        // Odd incarnations write in place, byte by byte: a long window
        // between claim and commit for a kill to land in.
        auto r = producer.reserve(std::nullopt, value.size(), {.partition = partition});
        if (!r) {
          report = r.status().to_string();
          return 1;
        }
        for (std::size_t i = 0; i < value.size(); ++i) {
          r->value()[i] = static_cast<std::byte>(value[i]);
          std::atomic_signal_fence(std::memory_order_seq_cst);  // keep the loop a loop
        }
        producer.publish(*r);
        returned->store(seq + 1, std::memory_order_release);
      }
      return 0;
    });
  }

  // A consumer that reads from the latest offset until it is killed: it is a
  // registered reader of an overflow=block topic, so once dead it must not
  // hold the producers back.
  pid_t spawn_consumer(testing::Children& children, int id) {
    const std::string name = guard_.ns();
    return children.spawn("consumer " + std::to_string(id), [=](std::string& report) {
      auto topic = open_in_child(name, "crash", report);
      if (!topic) return 2;
      Consumer consumer(topic, {.abandoned_claim_timeout = 20ms});
      if (!consumer.assign_all()) return 3;
      for (;;) {
        PollResult r = consumer.poll(50ms);
        if (!r.status) {
          report = r.status.to_string();
          return 1;
        }
      }
    });
  }

  testing::ShmGuard guard_;
  Plan* plan_ = nullptr;
};

TEST_F(CrashTest, RandomSigkillsLoseOrDuplicateNothingCommittedAndLeakNothing) {
  testing::Children children;
  const std::string name = guard_.ns();
  const Plan* plan = plan_;

  // The checker: registered at offset 0 before anything is produced, never killed.
  const pid_t checker = children.spawn("checker", [name, plan](std::string& report) {
    auto topic = open_in_child(name, "crash", report);
    if (!topic) return 2;
    Consumer consumer(topic, {.start_at_earliest = true, .abandoned_claim_timeout = 20ms});
    if (!consumer.assign_all()) return 3;
    std::int64_t abandoned = 0, records = 0;
    std::map<std::uint32_t, std::int64_t> next;
    report = check_stream(consumer, plan, true, &abandoned, &records, &next, topic);
    if (!report.empty()) return 1;
    for (std::uint32_t inc = 0; inc < plan->incarnations.load(); ++inc) {
      if (plan->final_records[inc] >= 0 && next[inc] != plan->final_records[inc]) {
        report = "incarnation " + std::to_string(inc) + " finished with " + std::to_string(plan->final_records[inc]) +
                 " records, the checker saw " + std::to_string(next[inc]);
        return 1;
      }
      // Every incarnation has exited: what it said it sent is final.
      const std::int64_t sent = plan->returned[inc].load(std::memory_order_acquire);
      if (next[inc] < sent || next[inc] > sent + 1) {
        report = "incarnation " + std::to_string(inc) + ": " + std::to_string(sent) +
                 " sends returned before it died, the checker saw " + std::to_string(next[inc]) + " records" +
                 (next[inc] < sent ? " (committed records lost)" : " (more than one unacknowledged)");
        return 1;
      }
    }
    const_cast<Plan*>(plan)->checker_abandoned.store(abandoned, std::memory_order_release);
    report = "records " + std::to_string(records) + " abandoned " + std::to_string(abandoned);
    return 0;
  });
  // Wait until the checker is registered (it then holds the ring for itself).
  {
    auto ns = Namespace::open_shared(name).value();
    auto topic = ns->open_topic("crash").value();
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (client::ring_of(*topic, 0).readers().empty() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
    ASSERT_FALSE(client::ring_of(*topic, 0).readers().empty()) << "the checker never registered";
  }

  std::mt19937_64 rng(0xC0FFEE ^ static_cast<std::uint64_t>(testing::test_scale() * 1000));
  std::vector<pid_t> producers(kProducers), consumers(kConsumers);
  for (int i = 0; i < kProducers; ++i) producers[i] = spawn_producer(children, new_incarnation(i), INT64_MAX);
  for (int i = 0; i < kConsumers; ++i) consumers[i] = spawn_consumer(children, i);

  const int kills = static_cast<int>(testing::scaled(40, 10));
  int producer_kills = 0, consumer_kills = 0;
  for (int k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(500, 20'000)(rng)));
    const int victim = std::uniform_int_distribution<int>(0, kProducers + kConsumers - 1)(rng);
    if (victim < kProducers) {
      children.signal(producers[victim], SIGKILL);
      (void)children.wait_one(producers[victim], 30s);
      producers[victim] = spawn_producer(children, new_incarnation(victim), INT64_MAX);
      ++producer_kills;
    } else {
      const int c = victim - kProducers;
      children.signal(consumers[c], SIGKILL);
      (void)children.wait_one(consumers[c], 30s);
      consumers[c] = spawn_consumer(children, c);
      ++consumer_kills;
    }
  }
  // The last producer incarnations die too; then final ones run to completion.
  for (int i = 0; i < kProducers; ++i) {
    children.signal(producers[i], SIGKILL);
    (void)children.wait_one(producers[i], 30s);
  }
  for (int i = 0; i < kConsumers; ++i) {
    children.signal(consumers[i], SIGKILL);
    (void)children.wait_one(consumers[i], 30s);
  }
  std::vector<std::uint32_t> finals;
  for (int i = 0; i < kProducers; ++i) {
    const std::uint32_t inc = new_incarnation(i);
    plan_->final_records[inc] = kFinalRecords;
    finals.push_back(inc);
    producers[i] = spawn_producer(children, inc, kFinalRecords);
  }
  for (int i = 0; i < kProducers; ++i) {
    auto r = children.wait_one(producers[i], 30s);
    EXPECT_TRUE(r.ok()) << r.describe();
  }
  plan_->done.store(1, std::memory_order_release);
  auto checked = children.wait_one(checker, 30s);
  EXPECT_TRUE(checked.ok()) << checked.describe();
  std::printf("[ crash    ] %d producer and %d consumer kills; checker: %s\n", producer_kills, consumer_kills,
              checked.report.c_str());

  if (testing::test_scale() >= 10) {
    EXPECT_GT(plan_->checker_abandoned.load(), 0) << "no kill landed between a claim and its commit";
  }

  // Housekeeping: Namespace::gc() reaps the slots of every dead process; nothing else is in /dev/shm.
  const auto gc = Namespace::gc(name);
  ASSERT_TRUE(gc.is_ok()) << gc.status().message();
  EXPECT_TRUE(gc->warnings.empty());
  auto ns = Namespace::open_shared(name).value();
  auto info = ns->describe_topic("crash");
  ASSERT_TRUE(info.is_ok()) << info.status().message();
  for (const auto& s : info->producers) EXPECT_TRUE(s.alive) << "partition " << s.partition << " pid " << s.pid;
  for (const auto& r : info->readers) EXPECT_TRUE(r.alive) << "partition " << r.partition << " pid " << r.pid;
  std::vector<std::string> expected{"rill." + name + ".crash.0", "rill." + name + ".crash.1", "rill." + name + ".crash.2",
                                    "rill." + name + ".registry"};
  EXPECT_EQ(guard_.objects(), expected);
}

}  // namespace
}  // namespace rill
