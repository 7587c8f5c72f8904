// Kill tests of durable topics: three producer processes, one per durability
// level (memory, written, fsync), write one partition under heavy load -
// whichever holds the flush lease writes the files for all - and are
// SIGKILLed at a seeded random moment. Afterwards every acknowledged record
// is found exactly once, in order, checked record by record:
//   - with shared memory kept (the processes died, the machine did not): the
//     next process that opens the topic writes what the dead left in the
//     ring, so every record acknowledged at any level is in the files;
//   - after a reboot (shared memory removed; the kernel's page cache, and so
//     every write handed to it, survives a process crash): every record
//     acknowledged at written or fsync is.
// Short form in the default run (label concurrency: 20 kills); RILL_TEST_SCALE=20
// (label stress) runs 1,000 kills.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "rill/rill.h"
#include "support/child_process.h"
#include "support/shm_guard.h"
#include "support/temp_dir.h"
#include "support/test_scale.h"

namespace rill {
namespace {

using testing::ShmGuard;
using testing::TempDir;

constexpr Durability kLevels[] = {Durability::kMemory, Durability::kWritten, Durability::kFsync};

// A record's value: which producer, and its sequence number there.
std::string value_of(int producer, std::int64_t seq) {
  return "p" + std::to_string(producer) + "-" + std::to_string(seq) + std::string(static_cast<std::size_t>(seq % 40), '.');
}

struct Acked {
  std::vector<std::int64_t> offsets;  // of seq 0, 1, 2, ... as acknowledged
};

// One kill: returns, per producer, what it acknowledged.
std::vector<Acked> run_and_kill(const std::string& ns, const std::string& dir, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  int pipes[3][2];
  pid_t pids[3];
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(::pipe(pipes[k]), 0);
    pids[k] = ::fork();
    if (pids[k] == 0) {
      for (int j = 0; j <= k; ++j) ::close(pipes[j][0]);
      SharedOptions o;
      o.data_dir = dir;
      auto opened = Namespace::open_shared(ns, o);
      if (!opened) ::_exit(2);
      auto topic = (*opened)->open_topic("t");
      if (!topic) ::_exit(3);
      Producer producer(*topic, {.durability = kLevels[k]});
      for (std::int64_t seq = 0;; ++seq) {
        auto m = producer.send(std::nullopt, value_of(k, seq));
        if (!m) ::_exit(4);
        // Acknowledged: tell the parent before the next send.
        if (::write(pipes[k][1], &m->offset, sizeof m->offset) != sizeof m->offset) ::_exit(5);
      }
    }
    ::close(pipes[k][1]);
  }
  std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 30000));
  // Killed one by one at random gaps: the flusher may die before or after the others.
  std::vector<int> order{0, 1, 2};
  std::shuffle(order.begin(), order.end(), rng);
  for (int k : order) {
    ::kill(pids[k], SIGKILL);
    if (rng() % 2) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
  }
  std::vector<Acked> acked(3);
  for (int k = 0; k < 3; ++k) {
    int status = 0;
    ::waitpid(pids[k], &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "producer " << k << " status " << status;
    std::int64_t offset;
    while (::read(pipes[k][0], &offset, sizeof offset) == sizeof offset) acked[k].offsets.push_back(offset);
    ::close(pipes[k][0]);
  }
  return acked;
}

// Every record in partition 0, from the start, checked: per producer, its
// records are seq 0, 1, 2, ... each once, and the acknowledged ones (all
// but, after a reboot, memory's) are there at their acknowledged offsets.
// Returns what is wrong, or "" if nothing.
std::string check_read_back(const std::shared_ptr<Topic>& topic, const std::vector<Acked>& acked, bool reboot) {
  std::map<int, std::vector<std::pair<std::int64_t, std::int64_t>>> got;
  Consumer consumer(topic, {.start_at_earliest = true, .verify_checksums = true});
  if (!consumer.assign_all().is_ok()) return "assign failed";
  for (int empty = 0; empty < 3;) {
    PollResult r = consumer.poll(std::chrono::milliseconds(30));
    if (!r.status.is_ok()) return "poll: " + r.status.to_string();
    if (r.skipped != 0) return "skipped " + std::to_string(r.skipped) + " records";
    if (r.records.empty()) ++empty;
    for (const RecordView& v : r.records) {
      if (!v.verify_checksum()) return "checksum of offset " + std::to_string(v.offset());
      const std::string value(v.value());
      const std::size_t dash = value.find('-');
      const int producer = std::stoi(value.substr(1, dash - 1));
      const std::int64_t seq = std::stoll(value.substr(dash + 1));
      if (value != value_of(producer, seq)) return "offset " + std::to_string(v.offset()) + " holds '" + value + "'";
      got[producer].emplace_back(v.offset(), seq);
    }
  }
  for (int k = 0; k < 3; ++k) {
    const auto& records = got[k];
    for (std::size_t i = 0; i < records.size(); ++i)
      if (records[i].second != static_cast<std::int64_t>(i))
        return "producer " + std::to_string(k) + ": seq " + std::to_string(records[i].second) + " where " +
               std::to_string(i) + " was due (a record twice, out of order or missing before others)";
    if (reboot && kLevels[k] == Durability::kMemory) continue;  // memory-acknowledged: may be lost with the memory
    if (records.size() < acked[k].offsets.size())
      return "producer " + std::to_string(k) + " (" + std::string(durability_name(kLevels[k])) + ") acknowledged " +
             std::to_string(acked[k].offsets.size()) + " records, " + std::to_string(records.size()) + " were found";
    for (std::size_t i = 0; i < acked[k].offsets.size(); ++i)
      if (records[i].first != acked[k].offsets[i])
        return "producer " + std::to_string(k) + " seq " + std::to_string(i) + " at offset " +
               std::to_string(records[i].first) + ", acknowledged at " + std::to_string(acked[k].offsets[i]);
  }
  return "";
}

void kill_rounds(bool reboot) {
  // 10 in the default run (fewer under a sanitizer); the long form
  // (RILL_TEST_SCALE=20) 500 a test: 1,000 kills over both.
  const std::int64_t rounds = testing::test_scale() > 1 ? testing::scaled(25, 2) : testing::scaled(10, 2);
  for (std::int64_t round = 0; round < rounds; ++round) {
    const std::uint64_t seed = 0x5eed0000 + static_cast<std::uint64_t>(round) * 7919 + (reboot ? 1 : 0);
    SCOPED_TRACE("seed " + std::to_string(seed));
    ShmGuard guard;
    TempDir dir;
    {
      SharedOptions o;
      o.data_dir = dir.path();
      auto ns = Namespace::open_shared(guard.ns(), o);
      ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
      // A small ring: rolls wait for the files all the time.
      ASSERT_TRUE((*ns)->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 4}).is_ok());
    }
    const std::vector<Acked> acked = run_and_kill(guard.ns(), dir.path(), seed);
    if (reboot) {
      ASSERT_TRUE(Namespace::remove_shared(guard.ns()).is_ok());
    }
    // Checked in a child: opening a durable topic starts this process's
    // flusher thread, and the next round forks (a process that forks should
    // have no threads; ThreadSanitizer refuses it).
    testing::Children verifier;
    const std::string ns_name = guard.ns(), data = dir.path();
    const pid_t pid = verifier.spawn("verifier", [&](std::string& report) {
      SharedOptions o;
      o.data_dir = data;
      auto ns = Namespace::open_shared(ns_name, o);
      if (!ns) {
        report = ns.status().to_string();
        return 1;
      }
      auto topic = (*ns)->open_topic("t");
      if (!topic) {
        report = topic.status().to_string();
        return 1;
      }
      report = check_read_back(*topic, acked, reboot);
      return report.empty() ? 0 : 1;
    });
    const testing::ChildResult result = verifier.wait_one(pid, std::chrono::seconds(120));
    ASSERT_TRUE(result.ok()) << result.describe();
  }
}

TEST(DurableKill, ProcessesKilledAtRandomLoseNoAcknowledgedRecord) { kill_rounds(false); }

TEST(DurableKill, AfterARebootNoWrittenOrSyncedRecordIsLost) { kill_rounds(true); }

}  // namespace
}  // namespace rill
