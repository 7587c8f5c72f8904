// rill consume: start positions, -c, -e, formats, overruns, signals, checksums.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "core/log/partition_ring.h"
#include "rill/rill.h"
#include "tests/tools/cli_harness.h"

namespace rill::cli::testing {
namespace {

using namespace std::chrono_literals;

std::string numbered_lines(int from, int to, const std::string& prefix = "v") {
  std::string s;
  for (int i = from; i < to; ++i) s += prefix + std::to_string(i) + "\n";
  return s;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::size_t count_lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

class ConsumeCmd : public CliTest {
 protected:
  void create(const std::string& topic, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"topic", "create", topic};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = rill(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void produce(const std::string& topic, const std::string& input, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"produce", topic};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = rill(args, input);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
};

TEST_F(ConsumeCmd, DefaultFormatIsTheValue) {
  create("t");
  produce("t", "hello\nworld\n");
  auto r = rill({"consume", "t", "-o", "beginning", "-e"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\nworld\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(ConsumeCmd, CountStopsAfterNRecords) {
  create("t");
  produce("t", numbered_lines(0, 100));
  auto r = rill({"consume", "t", "-o", "beginning", "-c", "10"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, numbered_lines(0, 10));
  EXPECT_EQ(rill({"consume", "t", "-o", "beginning", "-c", "0"}).out, "");
}

TEST_F(ConsumeCmd, CountWaitsForRecordsProducedLater) {
  create("t", {"--partitions", "2"});
  RillProcess consumer(with_ns({"consume", "t", "-o", "beginning", "-c", "3", "-f", "%s\\n"}));
  std::this_thread::sleep_for(100ms);  // the consumer is now blocked in poll (or still starting: -o beginning copes)
  produce("t", "a\nb\n");
  EXPECT_TRUE(consumer.read_until([](const std::string& out) { return count_lines(out) == 2; }, 5s)) << consumer.out();
  produce("t", "c\nd\n");
  auto r = consumer.finish({}, 10s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 3u) << r.out;
}

TEST_F(ConsumeCmd, ExitAtEndOfAnEmptyTopicAndFromEnd) {
  create("t", {"--partitions", "3"});
  auto empty = rill({"consume", "t", "-o", "beginning", "-e"});
  EXPECT_EQ(empty.exit_code, 0);
  EXPECT_EQ(empty.out, "");
  produce("t", "a\nb\n");
  auto from_end = rill({"consume", "t", "-e"});  // default -o end: nothing new
  EXPECT_EQ(from_end.exit_code, 0);
  EXPECT_EQ(from_end.out, "");
}

TEST_F(ConsumeCmd, AbsoluteOffsetPerPartition) {
  create("t", {"--partitions", "2"});
  produce("t", numbered_lines(0, 10, "p0-"), {"-p", "0"});
  produce("t", numbered_lines(0, 4, "p1-"), {"-p", "1"});
  auto one = rill({"consume", "t", "-p", "0", "-o", "7", "-e", "-f", "%p %o %s\\n"});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, "0 7 p0-7\n0 8 p0-8\n0 9 p0-9\n");
  EXPECT_EQ(one.err, "");

  // Applied to every partition; partition 1 has only 4 records: it starts at its end, with a warning.
  auto all = rill({"consume", "t", "-o", "3", "-e", "-f", "%p %o\\n"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  auto lines = all.out_lines();
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"0 3", "0 4", "0 5", "0 6", "0 7", "0 8", "0 9", "1 3"}));
  EXPECT_EQ(all.err, "");
  auto past = rill({"consume", "t", "-p", "1", "-o", "6", "-e"});
  EXPECT_EQ(past.exit_code, 0);
  EXPECT_EQ(past.out, "");
  ASSERT_EQ(past.err_lines().size(), 1u);
  EXPECT_EQ(past.err.rfind("rill: warning: partition 1: offset 6 is past the end", 0), 0u) << past.err;
  expect_one_error_line(rill({"consume", "t", "-p", "1", "-o", "6", "-e", "--strict"}), "past the end");
}

TEST_F(ConsumeCmd, RelativeOffsetFromTheEnd) {
  create("t", {"--partitions", "2"});
  produce("t", numbered_lines(0, 10, "p0-"), {"-p", "0"});
  produce("t", numbered_lines(0, 2, "p1-"), {"-p", "1"});
  auto r = rill({"consume", "t", "-o", "-3", "-e", "-f", "%p %o\\n"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto lines = r.out_lines();
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"0 7", "0 8", "0 9", "1 0", "1 1"}));
  EXPECT_EQ(r.err, "");
}

TEST_F(ConsumeCmd, SeekByTimestamp) {
  create("t", {"--partitions", "2"});
  produce("t", numbered_lines(0, 20, "old"));
  std::this_thread::sleep_for(20ms);
  const std::int64_t cut = now_ms();
  std::this_thread::sleep_for(20ms);
  produce("t", numbered_lines(0, 20, "new"));
  auto r = rill({"consume", "t", "-o", "s@" + std::to_string(cut), "-e", "-f", "%s %T\\n"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto lines = r.out_lines();
  ASSERT_EQ(lines.size(), 20u) << r.out;
  for (const std::string& l : lines) {
    EXPECT_EQ(l.rfind("new", 0), 0u) << l;
    EXPECT_GE(std::stoll(l.substr(l.find(' ') + 1)), cut) << l;
  }
  EXPECT_EQ(count_lines(rill({"consume", "t", "-o", "s@0", "-e"}).out), 40u);
  EXPECT_EQ(rill({"consume", "t", "-o", "s@" + std::to_string(now_ms() + 60'000), "-e"}).out, "");
}

TEST_F(ConsumeCmd, FormatTokensAndKeyDelimiter) {
  create("orders");
  produce("orders", "alice:hello\nnull key\n", {"-K", ":"});
  auto r = rill({"consume", "orders", "-o", "beginning", "-e", "-f", "%t|%p|%o|%k|%s|%K|%S|%%\\t.\\n"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "orders|0|0|alice|hello|5|5|%\t.\norders|0|1||null key|-1|8|%\t.\n");
  auto k = rill({"consume", "orders", "-o", "beginning", "-e", "-K", " => "});
  EXPECT_EQ(k.out, "alice => hello\n => null key\n");
  auto t = rill({"consume", "orders", "-o", "beginning", "-e", "-c", "1", "-f", "%T\\n"});
  const std::int64_t ts = std::stoll(t.out);
  EXPECT_LE(ts, now_ms());
  EXPECT_GT(ts, now_ms() - 60'000);
}

TEST_F(ConsumeCmd, BadArgumentsAreOneErrorLine) {
  create("t", {"--partitions", "2"});
  produce("t", "x\n");
  expect_one_error_line(rill({"consume", "t", "-e", "-f", "%q"}), "%q");
  expect_one_error_line(rill({"consume", "t", "-e", "-o", "yesterday"}), "yesterday");
  expect_one_error_line(rill({"consume", "t", "-e", "-o", "s@x"}), "s@x");
  expect_one_error_line(rill({"consume", "t", "-e", "-p", "2"}), "partition 2");
  expect_one_error_line(rill({"consume", "t", "-e", "--wait", "sleep"}), "--wait");
  expect_one_error_line(rill({"consume", "t", "-e", "-f", "%s", "-K", ":"}), "");
  expect_one_error_line(rill({"consume", "t", "-e", "-c", "-1"}), "--count");
  expect_one_error_line(rill({"consume", "t", "-e", "--bogus"}), "--bogus");
  expect_one_error_line(rill({"consume", "bad/name", "-e"}), "bad/name");
  expect_one_error_line(rill({"consume", "t", "-e", "--abandon-after", "2h"}), "--abandon-after");
  expect_one_error_line(rill({"consume", "t", "-e", "--abandon-after", "200"}), "--abandon-after");
}

TEST_F(ConsumeCmd, AbandonAfterDefaultsToTheLibrarysAndAcceptsZero) {
  const std::string library_default = std::to_string(ConsumerOptions{}.abandoned_claim_timeout.count()) + "ms";
  auto help = run_rill({"consume", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  const std::size_t flag = help.out.find("--abandon-after");
  ASSERT_NE(flag, std::string::npos) << help.out;
  const std::string flag_line = help.out.substr(flag, help.out.find('\n', flag) - flag);
  EXPECT_NE(flag_line.find("=" + library_default + " "), std::string::npos) << flag_line;  // CLI11: "TEXT=10ms"

  create("t");
  produce("t", "x\n");
  auto r = rill({"consume", "t", "-o", "beginning", "-e", "--abandon-after", "0ms"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "x\n");
}

TEST_F(ConsumeCmd, SkipsTheClaimOfAProducerThatDiedAndSaysSo) {
  create("t");
  produce("t", "before\n");
  const std::string name = ns();
  const pid_t child = ::fork();
  if (child == 0) {  // claims offset 1 and dies before writing it
    auto topic = Namespace::open_shared(name).value()->open_topic("t").value();
    Producer producer(topic);
    auto r = producer.reserve(std::nullopt, 5);
    ::raise(r.is_ok() ? SIGKILL : SIGABRT);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the child could not claim";
  produce("t", "after\n");
  // 0ms: looks at once. The first consumer abandons the claim; the second reads past what it left.
  for (const char* patience : {"0ms", "5ms"}) {
    auto r = rill({"consume", "t", "-o", "beginning", "-e", "--abandon-after", patience, "-f", "%o %s\n"});
    EXPECT_EQ(r.exit_code, 0) << patience << ": " << r.err;
    EXPECT_EQ(r.out, "0 before\n2 after\n") << patience;
    if (std::string(patience) == "0ms") {
      EXPECT_NE(r.err.find("1 offset skipped: claimed by a producer that died"), std::string::npos) << r.err;
    }
  }
}

// Every reader slot of partition 0 taken by a live consumer: 256 Consumers of
// this test process, which stay registered while they exist.
class ConsumeWithReaderSlotsFull : public ConsumeCmd {
 protected:
  void fill_reader_slots(const std::string& topic) {
    space_ = Namespace::open_shared(ns()).value();
    auto t = space_->open_topic(topic).value();
    for (;;) {
      Consumer c(t);
      // Full: overflow=retain reads unregistered, overflow=block refuses.
      if (!c.assign_all().is_ok() || !c.unregistered().empty()) break;
      fillers_.push_back(std::move(c));
      ASSERT_LE(fillers_.size(), 4096u) << "reader slots never ran out";
    }
    ASSERT_EQ(fillers_.size(), log::kReaderSlots);
  }
  void TearDown() override {
    fillers_.clear();
    space_.reset();
    ConsumeCmd::TearDown();
  }
  std::shared_ptr<Namespace> space_;
  std::vector<Consumer> fillers_;
};

TEST_F(ConsumeWithReaderSlotsFull, OnARetainTopicAConsumerPastTheLastSlotReadsAndSaysItIsUnregistered) {
  create("t");
  produce("t", "a\nb\n");
  ASSERT_NO_FATAL_FAILURE(fill_reader_slots("t"));
  auto r = rill({"consume", "t", "-o", "beginning", "-e"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "a\nb\n");
  const auto lines = r.err_lines();
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("rill: warning: topic 't' partition 0: every reader slot is taken", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("unregistered: `rill topic describe` and `rill ns list` do not show it"), std::string::npos) << lines[0];
}

TEST_F(ConsumeWithReaderSlotsFull, OnABlockTopicAConsumerPastTheLastSlotIsRefusedWithoutBlamingP) {
  create("t", {"--overflow", "block"});
  produce("t", "a\n");
  ASSERT_NO_FATAL_FAILURE(fill_reader_slots("t"));
  auto r = rill({"consume", "t", "-o", "beginning", "-e"});
  expect_one_error_line(r, "topic 't' partition 0");
  EXPECT_EQ(r.err.find("-p"), std::string::npos) << "no -p was given: " << r.err;
  EXPECT_EQ(r.out, "");
  // With -p, the error says which -p.
  auto with_p = rill({"consume", "t", "-p", "0", "-e"});
  expect_one_error_line(with_p, "-p 0: topic 't' partition 0");
}

TEST_F(ConsumeCmd, EveryWaitStrategyReadsEverything) {
  create("t", {"--partitions", "2"});
  produce("t", numbered_lines(0, 50));
  for (const char* wait : {"spin", "yield", "block"}) {
    auto r = rill({"consume", "t", "-o", "beginning", "-e", "--wait", wait});
    EXPECT_EQ(r.exit_code, 0) << wait << ": " << r.err;
    EXPECT_EQ(count_lines(r.out), 50u) << wait;
  }
}

// Tiny segments: 4 KiB x 4 keeps one full segment besides the current one,
// so a thousand records overwrite the first ones.
class ConsumeOverrun : public ConsumeCmd {
 protected:
  void SetUp() override {
    create("t", {"--segment-size", "4KiB", "--segments", "4"});
    produce("t", numbered_lines(0, 1000));
    auto d = rill({"topic", "describe", "t"});
    const auto lines = d.out_lines();
    std::istringstream last(lines.back());
    long long partition;
    last >> partition >> earliest_;
    ASSERT_GT(earliest_, 0) << d.out;
  }
  long long earliest_ = 0;
};

TEST_F(ConsumeOverrun, OffsetNoLongerRetainedWarnsAndStartsAtTheEarliest) {
  auto r = rill({"consume", "t", "-o", "0", "-e", "-f", "%o\\n"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("rill: warning: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(std::to_string(earliest_) + " records skipped"), std::string::npos) << r.err;
  const auto lines = r.out_lines();
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(1000 - earliest_));
  EXPECT_EQ(lines.front(), std::to_string(earliest_));
  EXPECT_EQ(lines.back(), "999");
}

TEST_F(ConsumeOverrun, StrictRefusesAnOffsetNoLongerRetained) {
  auto r = rill({"consume", "t", "-o", "0", "-e", "--strict"});
  expect_one_error_line(r, "no longer retained");
  EXPECT_EQ(r.out, "");
}

// A consumer overtaken while it runs: stopped (SIGSTOP) while the ring wraps.
class ConsumeOvertaken : public ConsumeCmd {
 protected:
  // Starts a consumer at offset 0, waits until it printed `before` records, stops it,
  // produces `more`, and lets it continue.
  std::unique_ptr<RillProcess> overtake(std::vector<std::string> extra) {
    create("t", {"--segment-size", "4KiB", "--segments", "4"});
    produce("t", numbered_lines(0, 10));
    std::vector<std::string> args{"consume", "t", "-o", "beginning", "-f", "%o\\n"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto consumer = std::make_unique<RillProcess>(with_ns(args));
    EXPECT_TRUE(consumer->read_until([](const std::string& out) { return count_lines(out) == 10; }, 5s));
    std::this_thread::sleep_for(50ms);  // into its blocking wait
    consumer->signal(SIGSTOP);
    produce("t", numbered_lines(10, 1010));
    consumer->signal(SIGCONT);
    return consumer;
  }
};

TEST_F(ConsumeOvertaken, WarnsWithTheSkippedCountAndContinuesFromTheEarliest) {
  auto consumer = overtake({});
  ASSERT_TRUE(consumer->read_until([](const std::string& out) { return out.ends_with("\n1009\n"); }, 10s))
      << consumer->out() << consumer->err();
  consumer->signal(SIGTERM);
  auto r = consumer->finish({}, 10s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto lines = r.out_lines();
  ASSERT_GT(lines.size(), 11u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(lines[static_cast<std::size_t>(i)], std::to_string(i));
  const long long resumed = std::stoll(lines[10]);
  for (std::size_t i = 10; i < lines.size(); ++i)
    EXPECT_EQ(std::stoll(lines[i]), resumed + static_cast<long long>(i - 10)) << "dense after the jump";
  ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("rill: warning: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(std::to_string(resumed - 10) + " records skipped"), std::string::npos) << r.err;
}

TEST_F(ConsumeOvertaken, StrictExitsWithAnError) {
  auto consumer = overtake({"--strict"});
  auto r = consumer->finish({}, 10s);
  expect_one_error_line(r, "--strict");
  EXPECT_NE(r.err.find("overwritten"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, numbered_lines(0, 10, ""));
}

TEST_F(ConsumeCmd, SigintAndSigtermStopCleanlyWithOutputFlushed) {
  create("t");
  for (int sig : {SIGINT, SIGTERM}) {
    RillProcess consumer(with_ns({"consume", "t", "-o", "beginning"}));
    produce("t", "one\n");
    ASSERT_TRUE(consumer.read_until([](const std::string& out) { return out.ends_with("one\n"); }, 5s));
    consumer.signal(sig);
    auto r = consumer.finish({}, 5s);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0) << sig << ": " << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_TRUE(r.out.starts_with("one\n"));
  }
}

TEST_F(ConsumeCmd, ClosedStdoutEndsQuietly) {
  create("t", {"--segment-size", "16MiB"});
  produce("t", numbered_lines(0, 200000));  // ~1.4 MB: far more than a pipe holds, so rill must see EPIPE
  const std::string cmd = std::string("bash -c '") + RILL_CLI_PATH + " --ns " + ns() +
                          " consume t -o beginning | head -n 2; echo status=${PIPESTATUS[0]}' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  ::pclose(p);
  EXPECT_EQ(out, "v0\nv1\nstatus=0\n");
}

TEST_F(ConsumeCmd, ChecksumsAreVerified) {
  create("t", {"--segment-size", "64KiB"});
  produce("t", "good\nCORRUPTME\nafter\n");
  // Flip one byte of the second record's value in the partition's shared memory.
  const std::string path = "/dev/shm/rill." + ns() + ".t.0";
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  auto* bytes = static_cast<char*>(
      ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(bytes, MAP_FAILED);
  const std::string_view all(bytes, static_cast<std::size_t>(st.st_size));
  const std::size_t at = all.find("CORRUPTME");
  ASSERT_NE(at, std::string_view::npos);
  bytes[at] = 'X';
  ::munmap(bytes, static_cast<std::size_t>(st.st_size));
  ::close(fd);

  auto r = rill({"consume", "t", "-o", "beginning", "-e"});
  expect_one_error_line(r, "checksum");
  EXPECT_NE(r.err.find("offset 1"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "good\n");
}

}  // namespace
}  // namespace rill::cli::testing
