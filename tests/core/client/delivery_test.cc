// Delivery semantics of a consume-process-produce pipeline whose worker
// processes are SIGKILLed at seeded random points: for every input record,
// how many times its output exists. At most once (offsets committed before
// processing): never more than once. At least once (committed after): never
// zero. (Exactly once needs transactions: not built yet.)
//
// Short here (100,000 records); the stress form runs 20x as many.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rill/group.h"
#include "rill/producer.h"
#include "support/shm_guard.h"
#include "support/test_scale.h"

namespace rill {
namespace {

using namespace std::chrono_literals;

enum class Semantics { kAtMostOnce, kAtLeastOnce };

volatile sig_atomic_t g_stop = 0;

constexpr std::int32_t kPartitions = 4;
const TopicConfig kTopic{.partitions = kPartitions};

// A worker: reads "in" as a member of group "pipe", writes each record's
// value to "out", and commits before (at most once) or after (at least
// once) writing. Runs until SIGTERM; returns its exit code.
int worker(const std::string& ns_name, Semantics semantics) {
  ::signal(SIGTERM, [](int) { g_stop = 1; });
  auto ns = Namespace::open_shared(ns_name);
  if (!ns) return 2;
  ConsumerOptions o;
  o.group_id = "pipe";
  o.start_at_earliest = true;
  o.enable_auto_commit = false;
  o.assignment_strategy = AssignmentStrategy::kSticky;
  o.max_poll_records = 64;
  auto member = GroupConsumer::join(*ns, {"in"}, o);
  if (!member) return 3;
  Producer out((*ns)->open_topic("out").value());
  while (!g_stop) {
    GroupPollResult r = (*member)->poll(10ms);
    if (!r.status) return 4;
    if (r.records.empty()) continue;
    // The work a record takes: long enough that the kills land mid-stream.
    std::this_thread::sleep_for(500us);
    std::map<TopicPartition, OffsetAndMetadata> next;
    for (const RecordView& v : r.records) next[{"in", v.partition()}] = {v.offset() + 1, ""};
    // Copies: the views die with the next poll, and a commit may sync.
    std::vector<std::string> values;
    for (const RecordView& v : r.records) values.emplace_back(v.value());
    if (semantics == Semantics::kAtMostOnce) {
      // Committed first; a batch whose commit is refused (its partitions
      // moved) is not processed: another member has it from the last commit.
      if (!(*member)->commit_sync(next)) continue;
      for (const std::string& v : values) (void)out.send(std::nullopt, v);
    } else {
      for (const std::string& v : values)
        if (!out.send(std::nullopt, v)) return 5;
      (void)(*member)->commit_sync(next);  // refused: the records come again, to someone
    }
  }
  (void)(*member)->close();
  return 0;
}

struct Counts {
  std::int64_t zero = 0, once = 0, more = 0;
};

Counts run_pipeline(Semantics semantics, std::uint64_t seed, int* kills_out) {
  const testing::ShmGuard guard;
  const std::int64_t records = testing::scaled(100'000, 4'000);
  {
    auto ns = Namespace::open_shared(guard.ns()).value();
    EXPECT_TRUE(ns->create_topic("in", kTopic).is_ok());
    EXPECT_TRUE(ns->create_topic("out", kTopic).is_ok());
    Producer in(ns->open_topic("in").value());
    for (std::int64_t i = 0; i < records; ++i)
      EXPECT_TRUE(in.send(std::nullopt, std::to_string(i), {.partition = static_cast<std::int32_t>(i % kPartitions)}));
  }
  std::mt19937_64 rng(seed);
  std::vector<pid_t> workers;
  const auto spawn = [&] {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(worker(guard.ns(), semantics));
    workers.push_back(pid);
  };
  for (int i = 0; i < 3; ++i) spawn();
  // Kill a random worker every 5-40 ms (and start another) until the group
  // has committed the end of every partition.
  auto ns = Namespace::open_shared(guard.ns()).value();
  int kills = 0;
  const auto deadline = std::chrono::steady_clock::now() + 300s;
  const auto done = [&] {
    auto d = describe_group(*ns, "pipe");
    if (!d) return false;
    std::int64_t committed = 0;
    for (const GroupPartitionDescription& p : d->partitions)
      if (p.committed >= 0) committed += p.committed;
    return committed == records;
  };
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 36));
    if (kills < 500) {
      const std::size_t victim = rng() % workers.size();
      ::kill(workers[victim], SIGKILL);
      ::waitpid(workers[victim], nullptr, 0);
      workers.erase(workers.begin() + static_cast<std::ptrdiff_t>(victim));
      ++kills;
      spawn();
    }
  }
  EXPECT_TRUE(done()) << "the pipeline never committed all " << records << " records";
  for (pid_t w : workers) ::kill(w, SIGTERM);
  for (pid_t w : workers) {
    int status = 0;
    ::waitpid(w, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "worker " << w << " status " << status;
  }
  // Count each input's outputs.
  std::vector<int> seen(static_cast<std::size_t>(records), 0);
  Consumer out(ns->open_topic("out").value(), {.max_poll_records = 4096, .start_at_earliest = true,
                                               .verify_checksums = true});
  EXPECT_TRUE(out.assign_all().is_ok());
  std::int64_t bad = 0;
  // To the end of every partition: a killed worker's unfinished claim in
  // "out" is passed as abandoned after a wait (a poll returns nothing meanwhile).
  const auto at_end = [&] {
    for (std::int32_t p = 0; p < kPartitions; ++p)
      if (out.position(p) < out.latest_offset(p).value()) return false;
    return true;
  };
  while (!at_end()) {
    PollResult r = out.poll(100ms);
    EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
    EXPECT_EQ(r.skipped, 0);
    for (const RecordView& v : r.records) {
      const std::int64_t i = std::stoll(std::string(v.value()));
      if (i < 0 || i >= records) ++bad;
      else ++seen[static_cast<std::size_t>(i)];
    }
  }
  EXPECT_EQ(bad, 0);
  Counts c;
  for (int n : seen) (n == 0 ? c.zero : n == 1 ? c.once : c.more) += 1;
  *kills_out = kills;
  std::printf("%s, %lld records, %d workers SIGKILLed: %lld output never, %lld once, %lld more than once\n",
              semantics == Semantics::kAtMostOnce ? "at most once" : "at least once", static_cast<long long>(records),
              kills, static_cast<long long>(c.zero), static_cast<long long>(c.once), static_cast<long long>(c.more));
  return c;
}

TEST(Delivery, AtMostOnceNeverDuplicatesThroughKills) {
  int kills = 0;
  const Counts c = run_pipeline(Semantics::kAtMostOnce, 11, &kills);
  EXPECT_EQ(c.more, 0);
  EXPECT_GT(kills, 0);
}

TEST(Delivery, AtLeastOnceNeverLosesThroughKills) {
  int kills = 0;
  const Counts c = run_pipeline(Semantics::kAtLeastOnce, 12, &kills);
  EXPECT_EQ(c.zero, 0);
  EXPECT_GT(kills, 0);
}

}  // namespace
}  // namespace rill
