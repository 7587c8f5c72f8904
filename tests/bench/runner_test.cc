// run_bench end to end on every transport, with small counts: every record
// produced is received and checked, the figures are filled in, and nothing
// is left in /dev/shm.
#include "bench/suite/runner.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/test_scale.h"

#include "tests/support/shm_guard.h"

namespace rill::bench {
namespace {

Scenario small(std::vector<std::string> transports) {
  Scenario s;
  s.transports = std::move(transports);
  s.count = 20'000;
  s.warmup_ns = 0;
  s.rate_rps = 200'000;
  s.wait = "yield";
  s.clock = "auto";
  return s;
}

class RunBench : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_TRUE(testing::shm_objects(bench_ns_).empty()) << "the run left objects in /dev/shm";
    testing::remove_shm_objects(bench_ns_);
  }
  void expect_complete(const Report& report, std::uint64_t count) {
    for (const TransportResult& r : report.results) {
      SCOPED_TRACE(r.transport);
      EXPECT_EQ(r.error, "");
      if (r.transport != "pingpong-floor") {
        EXPECT_EQ(r.records, count);
        ASSERT_TRUE(r.throughput_rps.has_value());
        EXPECT_GT(*r.throughput_rps, 0);
      }
      EXPECT_EQ(r.latency_records, count);
      ASSERT_TRUE(r.latency.has_value());
      EXPECT_EQ(r.latency->count, count * static_cast<std::uint64_t>(r.transport == "pingpong-floor" ? 1 : report.scenario.split ? 1 : report.scenario.consumers));
      EXPECT_LE(r.latency->min, r.latency->p50);
      EXPECT_LE(r.latency->p50, r.latency->p99);
      EXPECT_LE(r.latency->p99, r.latency->max);
      EXPECT_FALSE(r.distribution.empty());
    }
  }
  std::string bench_ns_ = "bench-" + std::to_string(::getpid());
};

TEST_F(RunBench, CompareRunsEveryBaselineAndComputesRatios) {
  Scenario s = small({"rill-inproc", "rill-ipc"});
  s.compare = true;
  auto report = run_bench(s, {});
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  std::vector<std::string> names;
  for (const auto& r : report.value().results) names.push_back(r.transport);
  EXPECT_EQ(names, (std::vector<std::string>{"rill-inproc", "rill-ipc", "boost-spsc", "zmq-inproc", "iceoryx",
                                             "zmq-ipc", "uds", "pipe", "pingpong-floor"}));
  expect_complete(report.value(), 20'000);
  EXPECT_FALSE(report.value().ratios.empty());
}

// --exclusive: rill's producer holds its partitions' leases, in process and
// across processes, the ping-pong's echo included; every record still checks.
TEST_F(RunBench, ExclusiveProducersCarryEveryRecord) {
  Scenario s = small({"rill-inproc", "rill-ipc"});
  s.exclusive = true;
  s.partitions = 2;
  auto report = run_bench(s, {});
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  expect_complete(report.value(), 20'000);
  s.partitions = 1;
  s.pingpong = true;
  s.rate_rps.reset();
  report = run_bench(s, {});
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  expect_complete(report.value(), 20'000);
}

TEST_F(RunBench, ManyProducersAndConsumersFanOut) {
  Scenario s = small({"rill-inproc", "rill-ipc", "boost-spsc", "uds"});
  s.producers = 2;
  s.consumers = 2;
  s.partitions = 3;
  s.batch = 16;
  auto report = run_bench(s, {});
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  expect_complete(report.value(), 20'000);
}

TEST_F(RunBench, ConsumersSplitThePartitions) {
  Scenario s = small({"rill-inproc", "rill-ipc", "pipe"});
  s.producers = 2;
  s.consumers = 2;
  s.partitions = 4;
  s.split = true;
  auto report = run_bench(s, {});
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  expect_complete(report.value(), 20'000);
}

TEST_F(RunBench, OneInFlightWithADeadlineAndRepeats) {
  Scenario s = small({"rill-inproc", "boost-spsc"});
  s.rate_rps.reset();
  s.count = 5'000;
  s.repeat = 2;
  s.deadline = DeadlineSpec{.deadline_ns = 1'000'000'000, .rt_class = RtClass::kHard, .max_miss_rate = 0};
  auto report = run_bench(s, {});
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  for (const auto& r : report.value().results) {
    SCOPED_TRACE(r.transport);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.records, 10'000u);  // two runs merged
    EXPECT_EQ(r.latency_records, 10'000u);
    ASSERT_TRUE(r.deadline.has_value());
    EXPECT_EQ(r.deadline->samples, 10'000u);
  }
  ASSERT_FALSE(report.value().ratios.empty());
  EXPECT_EQ(report.value().ratios[0].runs, 2);
}

// A folder of the test's own to give as Scenario::data_dir: what a run
// leaves in it shows.
class ParentFolder {
 public:
  ParentFolder() {
    char made[] = "/tmp/rill-bench-runner-test-XXXXXX";
    EXPECT_NE(::mkdtemp(made), nullptr);
    path_ = made;
  }
  ~ParentFolder() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
    return names;
  }

 private:
  std::string path_;
};

// Durable topics in and across processes, at both levels: every record
// checked by its consumer, the files found holding every record sent (run
// inside run_bench), each send's acknowledgement timed, bytes/s reported,
// and the data folder gone at the end.
TEST_F(RunBench, DurableTopicsCarryEveryRecordAndLeaveNoFiles) {
  // rill-ipc forks its participants after rill-inproc ran a durable topic in
  // this process, whose flusher thread then runs: ThreadSanitizer refuses
  // new threads in a child forked from a multi-threaded process. The
  // release run covers it.
  if (rill::testing::kUnderTsan) GTEST_SKIP() << "forks a multi-threaded process (ThreadSanitizer refuses)";
  const ParentFolder parent;
  for (const char* durability : {"written", "fsync"}) {
    SCOPED_TRACE(durability);
    const std::uint64_t count = std::string_view(durability) == "fsync" ? 300 : 5'000;
    Scenario s = small({"rill-inproc", "rill-ipc"});
    s.durability = durability;
    s.data_dir = parent.path();
    s.count = count;
    s.partitions = 2;
    s.batch = 8;  // the throughput phase's sends are batches; the latency phase's single records
    s.rate_rps.reset();
    auto report = run_bench(s, {});
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    expect_complete(report.value(), count);
    EXPECT_EQ(report.value().scenario.data_dir, parent.path());
    EXPECT_NE(report.value().machine.data_fs, "");
    EXPECT_NE(report.value().machine.io_backend, "");
    for (const TransportResult& r : report.value().results) {
      SCOPED_TRACE(r.transport);
      ASSERT_TRUE(r.latency_ack.has_value());
      EXPECT_EQ(r.latency_ack->count, count);
      ASSERT_TRUE(r.file_bytes_per_s.has_value());
      ASSERT_TRUE(r.payload_bytes_per_s.has_value());
      EXPECT_DOUBLE_EQ(*r.payload_bytes_per_s, *r.throughput_rps * 64);
      EXPECT_GT(*r.file_bytes_per_s, *r.payload_bytes_per_s);  // frames and file headers besides the values
    }
    EXPECT_TRUE(parent.entries().empty()) << ::testing::PrintToString(parent.entries());
  }
}

TEST_F(RunBench, DiskBaselinesReportBytesAndSyncLatency) {
  const ParentFolder parent;
  Scenario s = small({"raw-write", "raw-fdatasync"});
  s.count = 200;
  s.data_dir = parent.path();
  auto report = run_bench(s, {});
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  ASSERT_EQ(report.value().results.size(), 2u);
  for (const TransportResult& r : report.value().results) {
    SCOPED_TRACE(r.transport);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.records, 200u);
    ASSERT_TRUE(r.throughput_rps.has_value());
    ASSERT_TRUE(r.file_bytes_per_s.has_value());
    // Each record is one 80-byte frame: a 16-byte header and the 64-byte value.
    EXPECT_NEAR(*r.file_bytes_per_s / *r.throughput_rps, 80.0, 1e-6);
    EXPECT_FALSE(r.latency_ack.has_value());
  }
  const TransportResult& write = report.value().results[0];
  const TransportResult& sync = report.value().results[1];
  EXPECT_FALSE(write.latency.has_value());  // bandwidth only
  ASSERT_TRUE(sync.latency.has_value());
  EXPECT_EQ(sync.latency->count, 200u);  // one write + fdatasync each
  EXPECT_EQ(sync.latency_records, 200u);
  EXPECT_TRUE(parent.entries().empty()) << ::testing::PrintToString(parent.entries());
}

// raw-group-commit: every writer's every frame is acknowledged once, each
// timed; the count is shared out among the writers.
TEST_F(RunBench, GroupCommitBaselineTimesEveryWriteOfEveryWriter) {
  const ParentFolder parent;
  Scenario s = small({"raw-group-commit"});
  s.producers = 3;
  s.count = 300;
  s.data_dir = parent.path();
  auto report = run_bench(s, {});
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  ASSERT_EQ(report.value().results.size(), 1u);
  const TransportResult& r = report.value().results[0];
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.topology, "3x0, a file, group commit");
  EXPECT_EQ(r.records, 300u);
  ASSERT_TRUE(r.latency.has_value());
  EXPECT_EQ(r.latency->count, 300u);
  EXPECT_EQ(r.latency_records, 300u);
  EXPECT_GT(r.latency->min, 0);
  ASSERT_TRUE(r.throughput_rps.has_value());
  ASSERT_TRUE(r.file_bytes_per_s.has_value());
  EXPECT_NEAR(*r.file_bytes_per_s / *r.throughput_rps, 80.0, 1e-6);  // one 80-byte frame a record
  EXPECT_TRUE(parent.entries().empty()) << ::testing::PrintToString(parent.entries());
}

TEST_F(RunBench, ProgressIsReportedAndCanStopTheRun) {
  Scenario s = small({"rill-inproc"});
  s.count = 0;
  s.duration_ns = 30'000'000'000;
  int calls = 0;
  auto report = run_bench(s, [&](const Progress& p) {
    EXPECT_EQ(p.transport, "rill-inproc");
    return ++calls < 3;
  });
  ASSERT_FALSE(report.is_ok());
  EXPECT_EQ(report.status().message(), "interrupted");
  EXPECT_EQ(calls, 3);
}

TEST(ValidateScenario, RefusesWhatCannotBeRun) {
  auto refused = [](auto edit, std::string_view words) {
    Scenario s;
    edit(s);
    Status st = validate_scenario(s);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << words;
    EXPECT_NE(st.message().find(words), std::string::npos) << st.message();
  };
  refused([](Scenario& s) { s.transports = {"kafka"}; }, "unknown transport 'kafka'");
  refused([](Scenario& s) { s.producers = 0; }, "--producers");
  refused([](Scenario& s) { s.consumers = 17; }, "--consumers");
  refused([](Scenario& s) { s.split = true, s.consumers = 2; }, "--split");
  refused([](Scenario& s) { s.record_bytes = 7; }, "--size");
  refused([](Scenario& s) { s.exclusive = true, s.producers = 2; }, "--exclusive");
  refused([](Scenario& s) { s.pingpong = true, s.producers = 2; }, "--pingpong runs one producer");
  refused([](Scenario& s) { s.pingpong = true, s.rate_rps = 1000; }, "--pingpong is one record in flight");
  refused([](Scenario& s) { s.batch = 0; }, "--batch");
  refused([](Scenario& s) { s.rate_rps = -1; }, "--rate");
  refused([](Scenario& s) { s.wait = "nap"; }, "wait strategy");
  refused([](Scenario& s) { s.cpus = {9999}; }, "--cpus");
  refused([](Scenario& s) { s.durability = "sometimes"; }, "--durability: 'sometimes' is not memory, written or fsync");
  refused([](Scenario& s) { s.durability = "fsync", s.transports = {"rill-inproc", "uds"}; },
          "--durability fsync: uds keeps records in memory only");
  refused([](Scenario& s) { s.durability = "written", s.transports = {"pingpong-floor"}; }, "pingpong-floor");
  refused([](Scenario& s) { s.data_dir = "/tmp"; }, "--data-dir: this run writes no files");
  refused([](Scenario& s) { s.acks = "all"; }, "no replication yet");
  refused([](Scenario& s) { s.deadline = DeadlineSpec{.deadline_ns = 0}; }, "--deadline");
  refused([](Scenario& s) { s.repeat = 0; }, "--repeat");
  EXPECT_TRUE(validate_scenario(Scenario{}).is_ok());
  Scenario durable;
  durable.durability = "fsync";
  durable.transports = {"rill-inproc", "rill-ipc", "raw-write", "raw-fdatasync"};
  durable.compare = true;  // adds in-memory baselines: they run beside, at their own terms
  durable.data_dir = "/tmp";
  EXPECT_TRUE(validate_scenario(durable).is_ok());
  Scenario disk_only;
  disk_only.transports = {"raw-write"};
  disk_only.data_dir = "/tmp";
  EXPECT_TRUE(validate_scenario(disk_only).is_ok());
}

TEST(TransportsToRun, CompareAddsTheMatchingBaselinesOnce) {
  Scenario s;
  s.transports = {"rill-ipc"};
  s.compare = true;
  EXPECT_EQ(transports_to_run(s),
            (std::vector<std::string>{"rill-ipc", "iceoryx", "zmq-ipc", "uds", "pipe", "pingpong-floor"}));
  s.transports = {"rill-inproc", "uds"};
  EXPECT_EQ(transports_to_run(s),
            (std::vector<std::string>{"rill-inproc", "uds", "boost-spsc", "zmq-inproc", "pingpong-floor"}));
  s.compare = false;
  EXPECT_EQ(transports_to_run(s), (std::vector<std::string>{"rill-inproc", "uds"}));
  EXPECT_FALSE(writes_files(s));
  // Durable runs add the disk baselines.
  s.transports = {"rill-inproc"};
  s.durability = "written";
  s.compare = true;
  EXPECT_EQ(transports_to_run(s),
            (std::vector<std::string>{"rill-inproc", "rill-inproc@memory", "boost-spsc", "zmq-inproc",
                                      "pingpong-floor", "raw-write", "raw-fdatasync"}));
  EXPECT_TRUE(writes_files(s));
  // A memory reference named on its own brings its transport's baselines.
  s.durability = "memory";
  s.transports = {"rill-ipc@memory"};
  EXPECT_EQ(transports_to_run(s), (std::vector<std::string>{"rill-ipc@memory", "iceoryx", "zmq-ipc", "uds", "pipe",
                                                            "pingpong-floor"}));
  // Many producers at fsync: also the group commit done by hand.
  s.durability = "fsync";
  s.transports = {"rill-inproc"};
  s.producers = 4;
  EXPECT_EQ(transports_to_run(s),
            (std::vector<std::string>{"rill-inproc", "rill-inproc@memory", "boost-spsc", "zmq-inproc",
                                      "pingpong-floor", "raw-write", "raw-fdatasync", "raw-group-commit"}));
  s.producers = 1;
  EXPECT_EQ(transports_to_run(s).back(), "raw-fdatasync");
  s.durability = "memory";
  s.compare = false;
  s.transports = {"raw-fdatasync"};
  EXPECT_TRUE(writes_files(s));
}

// A pid that no process has: a child's, once it has been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(RemoveLeftoversOfDeadRuns, RemovesOnlyWhatDeadRunsLeft) {
  namespace fs = std::filesystem;
  char made[] = "/tmp/rill-leftovers-test-XXXXXX";
  ASSERT_NE(::mkdtemp(made), nullptr);
  const fs::path dir = made;
  const std::string dead = "rill-bench-" + std::to_string(dead_pid()) + "-";
  const std::string live = "rill-bench-" + std::to_string(::getpid()) + "-";
  auto touch = [](const fs::path& p) { std::ofstream(p) << "x"; };
  fs::create_directory(dir / (dead + "zmq-abc"));
  touch(dir / (dead + "zmq-abc") / "ping-0-0");
  touch(dir / (dead + "p0"));
  touch(dir / (dead + "p0.lock"));
  touch(dir / "outside");
  fs::create_symlink(dir / "outside", dir / (dead + "link"));
  touch(dir / (live + "c0"));                         // a live run's
  touch(dir / "rill-bench-iox-abc");                 // no pid in the name
  touch(dir / ("rill-bench-test-" + dead + "x"));    // a test's file, not a run's
  touch(dir / "rill-bench-1234567890-x");            // too long for a pid

  EXPECT_EQ(remove_leftovers_of_dead_runs({dir.string()}), 4);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  std::vector<std::string> expected = {live + "c0", "outside", "rill-bench-1234567890-x", "rill-bench-iox-abc",
                                       "rill-bench-test-" + dead + "x"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(left, expected);  // the link went, not what it pointed to
  EXPECT_EQ(remove_leftovers_of_dead_runs({dir.string(), "/nonexistent-dir"}), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rill::bench
