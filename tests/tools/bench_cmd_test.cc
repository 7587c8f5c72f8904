// rill bench: runs, JSON, plot, diff, and one-line errors for bad flags.
#include <dirent.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <csignal>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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
      {{"bench", "--durability", "fsync", "--transport", "uds"}, "uds keeps records in memory only"},
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

// A folder for --data-dir or $TMPDIR: what a run leaves there shows.
class DataParent {
 public:
  DataParent() {
    char made[] = "/tmp/rill-bench-cli-test-XXXXXX";
    EXPECT_NE(::mkdtemp(made), nullptr);
    path_ = made;
  }
  ~DataParent() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
    return names;
  }

 private:
  std::string path_;
};

// --durability written and fsync: every record checked by its consumer and
// found in the topic's files, each send's acknowledgement timed, bytes/s
// reported; no data folder and no shared memory left, whether the folder
// went under --data-dir or under $TMPDIR.
TEST_F(CliBench, DurableRunsCheckEveryRecordAndLeaveNoDataFolderOrSharedMemory) {
  const DataParent parent;
  for (const char* durability : {"written", "fsync"}) {
    for (const bool flag : {true, false}) {
      SCOPED_TRACE(std::string(durability) + (flag ? " --data-dir" : " $TMPDIR"));
      const std::string count = std::string(durability) == "fsync" ? "300" : "3000";
      const std::string json = temp(std::string(durability) + ".json");
      std::vector<std::string> args = {"bench", "--transport", "rill-inproc", "--durability", durability, "-n", count,
                                       "--warmup", "0s", "--rate", "max", "-q", "--json", json};
      if (flag) args.insert(args.end(), {"--data-dir", parent.path()});
      RillProcess bench(args, flag ? std::vector<std::string>{} : std::vector<std::string>{"TMPDIR=" + parent.path()});
      const std::string ns = "bench-" + std::to_string(bench.pid());
      auto r = bench.finish({}, 120s);
      EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
      EXPECT_NE(r.out.find("durability " + std::string(durability) + ", files in " + parent.path()), std::string::npos)
          << r.out;
      EXPECT_NE(r.out.find(" " + count + "\n  ack "), std::string::npos) << r.out;  // every record, then its acks
      EXPECT_NE(r.out.find("  bytes: "), std::string::npos) << r.out;
      const std::string j = read_file(json);
      for (const char* key : {"\"latency_ack_ns\": {", "\"file_bytes_per_s\": ", "\"data_fs\": \""})
        EXPECT_NE(j.find(key), std::string::npos) << key;
      EXPECT_EQ(j.find("\"error\""), std::string::npos);
      EXPECT_TRUE(parent.entries().empty()) << ::testing::PrintToString(parent.entries());
      EXPECT_TRUE(shm_objects(ns).empty());
      remove_shm_objects(ns);
    }
  }
}

// Usage errors, before anything runs: exit 2 and one line.
TEST_F(CliBench, ADurabilityATransportCannotHonourIsAUsageError) {
  const DataParent parent;
  const std::vector<std::string> cases[] = {
      {"bench", "--durability", "sometimes"},
      {"bench", "--durability", "fsync", "--transport", "rill-inproc,uds"},
      {"bench", "--durability", "written", "--transport", "pingpong-floor"},
      {"bench", "--data-dir", parent.path()},  // a memory run writes no files
  };
  const char* words[] = {"--durability: 'sometimes' is not memory, written or fsync",
                         "--durability fsync: uds keeps records in memory only",
                         "--durability written: pingpong-floor keeps records in memory only",
                         "--data-dir: this run writes no files"};
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    SCOPED_TRACE(words[i]);
    auto r = run_rill(cases[i]);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, "");
    ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("rill: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(words[i]), std::string::npos) << r.err;
  }
  EXPECT_TRUE(parent.entries().empty());
}

TEST_F(CliBench, DiskBaselinesRunAndReport) {
  const DataParent parent;
  const std::string json = temp("disk.json");
  auto r = run_rill({"bench", "--transport", "raw-write,raw-fdatasync,raw-group-commit", "-P", "2", "-n", "200",
                     "--warmup", "0s", "-q", "--data-dir", parent.path(), "--json", json});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* text : {"raw-write (1x0, files)", "raw-fdatasync (1x0, a file, fdatasync each)", "  bytes: ",
                           "files on ", "records/s = syncs/s", "raw-group-commit (2x0, a file, group commit)",
                           "raw-group-commit: each of -P threads"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  EXPECT_NE(r.out.find(" 200\n"), std::string::npos) << r.out;  // raw-fdatasync: a latency sample per sync
  const std::string j = read_file(json);
  EXPECT_NE(j.find("\"transport\": \"raw-write\""), std::string::npos);
  EXPECT_NE(j.find("\"transport\": \"raw-fdatasync\""), std::string::npos);
  EXPECT_NE(j.find("\"transport\": \"raw-group-commit\""), std::string::npos);
  EXPECT_EQ(j.find("\"error\""), std::string::npos) << j;
  EXPECT_TRUE(parent.entries().empty()) << ::testing::PrintToString(parent.entries());
}

// Ctrl-C in a durable run, in and across processes: the data folder and the
// shared memory go too.
TEST_F(CliBench, AnInterruptedDurableRunRemovesItsDataFolder) {
  const DataParent parent;
  for (const char* transport : {"rill-inproc", "rill-ipc"}) {
    SCOPED_TRACE(transport);
    RillProcess bench({"bench", "--transport", transport, "--durability", "written", "-d", "60s", "--warmup", "0s",
                       "-q", "--data-dir", parent.path()});
    const std::string ns = "bench-" + std::to_string(bench.pid());
    for (int waited = 0; parent.entries().empty() && waited < 30'000; waited += 10) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(parent.entries().size(), 1u);  // else this test proves nothing
    EXPECT_EQ(parent.entries()[0].rfind("rill-bench-" + std::to_string(bench.pid()) + "-data-", 0), 0u)
        << parent.entries()[0];
    std::this_thread::sleep_for(1500ms);  // mid-phase
    bench.signal(SIGINT);
    auto r = bench.finish({}, 30s);
    EXPECT_EQ(r.exit_code, 130) << r.err;
    EXPECT_TRUE(parent.entries().empty()) << ::testing::PrintToString(parent.entries());
    EXPECT_TRUE(shm_objects(ns).empty());
    remove_shm_objects(ns);
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

// What run `pid` named after itself in /tmp and /dev/shm (rill-bench-<pid>-...:
// the ZeroMQ endpoints' directory, iceoryx participants' sockets and locks).
std::vector<std::string> run_files(pid_t pid) {
  const std::string prefix = "rill-bench-" + std::to_string(pid) + "-";
  std::vector<std::string> found;
  for (const char* dir : {"/tmp", "/dev/shm"}) {
    DIR* d = ::opendir(dir);
    if (d == nullptr) continue;
    while (const dirent* e = ::readdir(d))
      if (std::string(e->d_name).rfind(prefix, 0) == 0) found.push_back(std::string(dir) + "/" + e->d_name);
    ::closedir(d);
  }
  return found;
}

// The child of `parent` running `name`, or 0.
pid_t child_named(pid_t parent, const std::string& name) {
  std::string command = "pgrep -P " + std::to_string(parent) + " -x " + name;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return 0;
  long pid = 0;
  if (std::fscanf(p, "%ld", &pid) != 1) pid = 0;
  ::pclose(p);
  return static_cast<pid_t>(pid);
}

// The directory of the config RouDi `pid` was started with ("-c DIR/roudi.toml"), or "".
std::string config_dir_of(pid_t pid) {
  std::istringstream args(read_file("/proc/" + std::to_string(pid) + "/cmdline"));
  for (std::string arg; std::getline(args, arg, '\0');) {
    const std::filesystem::path p = arg;
    if (p.filename() == "roudi.toml" && p.parent_path().string().rfind("/tmp/rill-bench-", 0) == 0)
      return p.parent_path().string();
  }
  return {};
}

// SIGKILL leaves no chance to clean up: the next `rill bench` removes what
// the killed run left, and nothing of a live run.
TEST_F(CliBench, TheNextRunRemovesWhatAKilledRunLeft) {
  std::vector<std::string> transports = {"zmq-ipc"};
  if (roudi_can_run() && iceoryx_leftovers().empty()) transports.push_back("iceoryx");
  pid_t roudi = 0;        // the killed iceoryx run's
  std::string roudi_dir;  // and the directory of its config
  for (const std::string& t : transports) {
    SCOPED_TRACE(t);
    RillProcess killed({"bench", "--transport", t, "-d", "60s", "--warmup", "0s", "-q"});
    const pid_t pid = killed.pid();
    // iceoryx: RouDi, then a runtime socket per participant.
    const std::size_t made = t == "iceoryx" ? 4 : 1;
    for (int waited = 0; run_files(pid).size() < made && waited < 30'000; waited += 10)
      std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(500ms);  // mid-phase
    RillProcess live({"bench", "--transport", "zmq-ipc", "-d", "60s", "--warmup", "0s", "-q"});
    for (int waited = 0; run_files(live.pid()).empty() && waited < 30'000; waited += 10)
      std::this_thread::sleep_for(10ms);
    if (t == "iceoryx") {
      roudi = child_named(pid, "iox-roudi");
      roudi_dir = config_dir_of(roudi);
    }
    killed.signal(SIGKILL);
    killed.finish({}, 30s);
    const std::vector<std::string> left = run_files(pid);
    EXPECT_GE(left.size(), made) << ::testing::PrintToString(left);  // else this test proves nothing

    // Its RouDi gets SIGKILL as the bench dies (its parent-death signal), a
    // moment later: until then it holds the host's one RouDi lock. It must
    // not outlive the bench, or every later iceoryx run here is refused.
    for (int waited = 0; roudi > 0 && ::kill(roudi, 0) == 0 && waited < 10'000; waited += 10)
      std::this_thread::sleep_for(10ms);
    if (roudi > 0) {
      EXPECT_NE(::kill(roudi, 0), 0) << "the killed run's iox-roudi " << roudi << " outlived it";
    }
    // After iceoryx, an iceoryx run: the killed RouDi (SIGKILLed with its
    // bench) left its own objects, which only an iceoryx run's start removes.
    auto next = run_rill({"bench", "--transport", t == "iceoryx" ? "iceoryx" : "pipe", "-n", "100", "--warmup", "0s", "-q"});
    EXPECT_EQ(next.exit_code, 0) << next.out << next.err;
    EXPECT_TRUE(run_files(pid).empty()) << ::testing::PrintToString(run_files(pid));
    EXPECT_FALSE(run_files(live.pid()).empty()) << "a live run's files were removed";
    live.signal(SIGINT);
    EXPECT_EQ(live.finish({}, 30s).exit_code, 130);
    EXPECT_TRUE(run_files(live.pid()).empty()) << ::testing::PrintToString(run_files(live.pid()));
  }
  if (roudi <= 0) return;
  if (::kill(roudi, 0) == 0) {  // outlived it (failed above): ended here, so that later tests can run
    ::kill(roudi, SIGKILL);
    for (int waited = 0; ::kill(roudi, 0) == 0 && waited < 10'000; waited += 10) std::this_thread::sleep_for(10ms);
    for (const char* f : {"/dev/shm/iceoryx_mgmt", "/tmp/roudi", "/tmp/roudi.lock", "/tmp/iox-unique-roudi.lock"})
      ::unlink(f);
    if (const group* g = ::getgrgid(::getegid())) ::unlink((std::string("/dev/shm/") + g->gr_name).c_str());
  }
  // Its config and log: named with the killed run's pid, so the next run removed them.
  EXPECT_TRUE(roudi_dir.empty() || !std::filesystem::exists(roudi_dir)) << roudi_dir;
  // Checked only when no other RouDi runs: outside ctest's lock, someone
  // else's run may have started one.
  if (std::system("pgrep -x iox-roudi >/dev/null 2>&1") != 0) {
    EXPECT_TRUE(iceoryx_leftovers().empty()) << ::testing::PrintToString(iceoryx_leftovers());
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
