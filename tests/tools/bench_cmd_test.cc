// rill bench: runs, JSON, plot, diff, and one-line errors for bad flags.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <csignal>
#include <string>
#include <thread>

#include "tests/tools/cli_harness.h"

namespace rill::cli::testing {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class CliBench : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const std::string& f : files_) std::remove(f.c_str());
  }
  std::string temp(const std::string& name) {
    files_.push_back("/tmp/rill-bench-test-" + std::to_string(::getpid()) + "-" + name);
    return files_.back();
  }
  std::vector<std::string> files_;
};

TEST_F(CliBench, CompareWritesATableJsonAndAPlot) {
  const std::string json = temp("a.json"), svg = temp("a.svg");
  RillProcess bench({"bench", "--compare", "-n", "20000", "--warmup", "0s", "--rate", "200k", "--wait", "yield",
                     "--deadline", "1s", "--class", "hard", "--json", json, "--plot", svg});
  const std::string ns = "bench-" + std::to_string(bench.pid());
  auto r = bench.finish({}, 180s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* t : {"rill-inproc", "rill-ipc", "boost-spsc", "uds", "pipe", "pingpong-floor", "p99.99", "ratios"})
    EXPECT_NE(r.out.find(t), std::string::npos) << t << "\n" << r.out;
  const std::string j = read_file(json);
  for (const char* key : {"\"scenario\"", "\"machine\"", "\"results\"", "\"throughput_rps\"", "\"latency_ns\"",
                          "\"p9999\"", "\"deadline\"", "\"transport\": \"uds\""})
    EXPECT_NE(j.find(key), std::string::npos) << key;
  const std::string s = read_file(svg);
  EXPECT_EQ(s.rfind("<svg", 0), 0u) << s.substr(0, 100);
  EXPECT_NE(s.find("rill-ipc"), std::string::npos);
  EXPECT_TRUE(shm_objects(ns).empty());
  remove_shm_objects(ns);

  // diff of a run with itself: every change is 0; plot of the saved run.
  auto d = run_rill({"bench", "diff", json, json});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("rill-ipc"), std::string::npos) << d.out;
  const std::string replot = temp("b.svg");
  auto p = run_rill({"bench", "plot", json, "-o", replot});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(read_file(replot), s);
}

TEST_F(CliBench, BadFlagsGiveOneLineErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string words;
  };
  const Case cases[] = {
      {{"bench", "--transport", "kafka"}, "unknown transport 'kafka'"},
      {{"bench", "--duration", "5"}, "--duration: '5' is not a duration"},
      {{"bench", "--rate", "fast"}, "--rate"},
      {{"bench", "--size", "7"}, "--size must be 8 B to 1 MiB"},
      {{"bench", "--pingpong", "-P", "2"}, "--pingpong runs one producer"},
      {{"bench", "--pingpong", "--partitions", "2"}, "--pingpong runs one producer"},
      {{"bench", "--pingpong", "--rate", "10k"}, "--pingpong is one record in flight"},
      {{"bench", "--size", "lots"}, "--size"},
      {{"bench", "--class", "hard"}, "--class needs --deadline"},
      {{"bench", "--deadline", "10us", "--class", "firm"}, "unknown real-time class 'firm'"},
      {{"bench", "--cpus", "0-99999"}, "--cpus"},
      {{"bench", "--durability", "fsync"}, "no persistence yet"},
      {{"bench", "--count", "0"}, "--count"},
      {{"bench", "--split", "-C", "2"}, "--split"},
      {{"bench", "--wait", "nap"}, "wait strategy"},
      {{"bench", "--frobnicate"}, "frobnicate"},
      {{"bench", "diff", "/nonexistent/a.json", "/nonexistent/b.json"}, "cannot open '/nonexistent/a.json'"},
  };
  for (const Case& c : cases) {
    auto r = run_rill(c.args);
    SCOPED_TRACE(c.words);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.out, "");
    ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("rill: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.words), std::string::npos) << r.err;
  }
}

bool roudi_can_run() { return std::system("command -v iox-roudi >/dev/null 2>&1") == 0; }

// What iceoryx would leave behind if the bench did not clean up.
std::vector<std::string> iceoryx_leftovers() {
  std::vector<std::string> found;
  for (const char* f : {"/dev/shm/iceoryx_mgmt", "/tmp/roudi", "/tmp/roudi.lock", "/tmp/iox-unique-roudi.lock"})
    if (::access(f, F_OK) == 0) found.push_back(f);
  if (std::system("pgrep -x iox-roudi >/dev/null 2>&1") == 0) found.push_back("a running iox-roudi");
  return found;
}

// Every transport, ping-pong with a tiny count and 8-byte (compact) records
// for the rill ones: every record checked in order, nothing left behind.
TEST_F(CliBench, PingPongOverEveryTransportChecksEveryRecord) {
  std::vector<std::string> transports = {"rill-ipc", "rill-inproc", "boost-spsc", "uds", "pipe", "zmq-ipc", "zmq-inproc"};
  if (roudi_can_run()) transports.push_back("iceoryx");
  for (const char* size : {"64", "8"}) {
    for (const std::string& t : transports) {
      SCOPED_TRACE(t + " " + size);
      RillProcess bench({"bench", "--transport", t, "--pingpong", "-n", "3000", "--warmup", "0s", "-s", size, "-q",
                         "--verify-checksums", "--wait", "yield"});
      const std::string ns = "bench-" + std::to_string(bench.pid());
      auto r = bench.finish({}, 60s);
      EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
      EXPECT_NE(r.out.find("ping-pong"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find("rill verifies checksums"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find(" 3000\n"), std::string::npos) << r.out;  // every round trip counted
      EXPECT_TRUE(shm_objects(ns).empty());
      remove_shm_objects(ns);
    }
  }
  EXPECT_TRUE(iceoryx_leftovers().empty()) << ::testing::PrintToString(iceoryx_leftovers());
}

TEST_F(CliBench, IceoryxStartsAndStopsRoudiAndLeavesNothingEvenWhenInterrupted) {
  if (!roudi_can_run()) GTEST_SKIP() << "iox-roudi is not installed (tools/setup.sh installs iceoryx)";
  if (!iceoryx_leftovers().empty())
    GTEST_SKIP() << "another RouDi (or its files) is on this host; iceoryx allows one per host";
  auto done = run_rill({"bench", "--transport", "iceoryx", "-n", "2000", "--warmup", "0s", "-q"});
  EXPECT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("iceoryx"), std::string::npos) << done.out;
  EXPECT_TRUE(iceoryx_leftovers().empty()) << ::testing::PrintToString(iceoryx_leftovers());

  RillProcess bench({"bench", "--transport", "iceoryx", "-d", "60s", "--warmup", "0s", "-q"});
  std::this_thread::sleep_for(1500ms);
  bench.signal(SIGINT);
  auto r = bench.finish({}, 30s);
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_TRUE(iceoryx_leftovers().empty()) << ::testing::PrintToString(iceoryx_leftovers());
}

TEST_F(CliBench, AnUnwritableOutputIsRefusedBeforeTheRun) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run_rill({"bench", "-d", "30s", "--plot", "/nonexistent-dir/x.svg"});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "the benchmark ran before the path was checked";
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
  EXPECT_NE(r.err.find("--plot: cannot write in '/nonexistent-dir'"), std::string::npos) << r.err;
}

TEST_F(CliBench, InterruptStopsEveryTransportPromptlyAndLeavesNothing) {
  for (const char* transport : {"rill-ipc", "pipe", "pingpong-floor"}) {
    SCOPED_TRACE(transport);
    RillProcess bench({"bench", "--transport", transport, "-d", "60s", "--warmup", "0s", "-q"});
    const std::string ns = "bench-" + std::to_string(bench.pid());
    std::this_thread::sleep_for(1500ms);
    const auto t0 = std::chrono::steady_clock::now();
    bench.signal(SIGINT);
    auto r = bench.finish({}, 30s);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    EXPECT_EQ(r.exit_code, 130) << r.err;
    EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
    EXPECT_TRUE(shm_objects(ns).empty());
    remove_shm_objects(ns);
  }
}

TEST_F(CliBench, DiffRefusesAFileThatIsNotABenchReport) {
  const std::string bad = temp("bad.json");
  std::ofstream(bad) << "{\"hello\": 1}";
  auto r = run_rill({"bench", "diff", bad, bad});
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
  EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
}

// `rill bench diff /dev/zero /dev/zero` read without end (417 MB in 3 s); a
// FIFO would have blocked it. Both, and a sparse file far larger than any
// report, are refused before a byte is read.
TEST_F(CliBench, DiffRefusesDevicesFifosAndHugeFilesWithoutReadingThem) {
  const std::string fifo = temp("fifo.json");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string huge = temp("huge.json");
  {
    std::ofstream make(huge);
  }
  ASSERT_EQ(::truncate(huge.c_str(), 1ll << 40), 0);  // sparse: costs nothing
  for (const auto& [path, words] : std::vector<std::pair<std::string, std::string>>{
           {"/dev/zero", "is not a regular file"}, {fifo, "is not a regular file"}, {huge, "1099511627776 bytes"}}) {
    SCOPED_TRACE(path);
    auto r = run_rill({"bench", "diff", path, path});
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 1);
    ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
    EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
  }
  ::unlink(fifo.c_str());
  ::unlink(huge.c_str());
}

}  // namespace
}  // namespace rill::cli::testing
