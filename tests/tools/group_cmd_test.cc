// rill consume -G and rill group: members dividing a topic between
// processes, committed positions across runs, a SIGKILLed member's
// partitions taken over, describe/reset/delete, and usage errors.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <thread>
#include <vector>
#include <string>

#include "tests/tools/cli_harness.h"

namespace rill::cli::testing {
namespace {

using namespace std::chrono_literals;

class GroupCmd : public CliTest {
 protected:
  void SetUp() override {
    auto r = rill({"topic", "create", "t", "--partitions", "4"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // 10 records per partition: "<p>-<i>".
  void produce(int first, int n) {
    for (int p = 0; p < 4; ++p) {
      std::string input;
      for (int i = first; i < first + n; ++i) input += std::to_string(p) + "-" + std::to_string(i) + "\n";
      auto r = rill({"produce", "t", "-p", std::to_string(p)}, input);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  static std::multiset<std::string> lines(const std::string& out) {
    std::multiset<std::string> s;
    for (const std::string& l : split_lines(out)) s.insert(l);
    return s;
  }
  // The fields of describe's row for partition p of "t" (empty if none).
  static std::vector<std::string> row(const std::string& out, int p) {
    for (const std::string& l : split_lines(out)) {
      std::vector<std::string> fields;
      std::istringstream in(l);
      for (std::string f; in >> f;) fields.push_back(f);
      if (fields.size() == 6 && fields[0] == "t" && fields[1] == std::to_string(p)) return fields;
    }
    return {};
  }
  static std::multiset<std::string> expected(int first, int n) {
    std::multiset<std::string> s;
    for (int p = 0; p < 4; ++p)
      for (int i = first; i < first + n; ++i) s.insert(std::to_string(p) + "-" + std::to_string(i));
    return s;
  }
};

TEST_F(GroupCmd, AGroupResumesWhereItCommittedAndResetMovesIt) {
  produce(0, 10);
  auto first = rill({"consume", "-G", "g", "t", "-o", "beginning", "-e"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(lines(first.out), expected(0, 10));
  // Committed at exit: the next run of the group reads only what is new.
  produce(10, 5);
  auto second = rill({"consume", "--consumer-group", "g", "t", "-e"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(lines(second.out), expected(10, 5));
  auto d = rill({"group", "describe", "g"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("state            empty"), std::string::npos) << d.out;
  for (int p = 0; p < 4; ++p)  // topic, partition, committed, log end, lag, member
    EXPECT_EQ(row(d.out, p), (std::vector<std::string>{"t", std::to_string(p), "15", "15", "0", "-"})) << d.out;
  auto list = rill({"group", "list"});
  EXPECT_EQ(list.out, "g\n");
  // Back to offset 12 in every partition, then the group reads 12..14.
  auto reset = rill({"group", "reset", "g", "--topic", "t", "--to", "12"});
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  EXPECT_NE(reset.out.find("new offset"), std::string::npos) << reset.out;
  EXPECT_EQ(std::count(reset.out.begin(), reset.out.end(), '\n'), 5) << reset.out;
  auto third = rill({"consume", "-G", "g", "t", "-e"});
  EXPECT_EQ(lines(third.out), expected(12, 3));
  ASSERT_EQ(rill({"group", "reset", "g", "--topic", "t", "--to", "beginning"}).exit_code, 0);
  EXPECT_EQ(lines(rill({"consume", "-G", "g", "t", "-e"}).out), expected(0, 15));
  ASSERT_EQ(rill({"group", "delete", "g"}).exit_code, 0);
  EXPECT_EQ(rill({"group", "list"}).out, "");
}

// The group commits what was written out, not what was polled: records cut
// by -c are read by the next run.
TEST_F(GroupCmd, ACountCutCommitsOnlyThePrintedRecords) {
  produce(0, 10);
  auto first = rill({"consume", "-G", "g", "t", "-o", "beginning", "-c", "5"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(split_lines(first.out).size(), 5u);
  auto rest = rill({"consume", "-G", "g", "t", "-o", "beginning", "-e"});
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  std::multiset<std::string> all = lines(first.out);
  for (const std::string& l : lines(rest.out)) all.insert(l);
  EXPECT_EQ(all, expected(0, 10));  // each once: nothing skipped, nothing twice
}

// Two members share the topic; one is SIGKILLed mid-run: the other takes its
// partitions from its last commit, and between them every record is printed
// at least once (at least once: the dead one's records since its last commit
// may be printed twice).
TEST_F(GroupCmd, ASigkilledMembersPartitionsGoToTheOtherMember) {
  produce(0, 10);
  RillProcess a(with_ns({"consume", "-G", "g", "t", "-o", "beginning", "--strategy", "sticky"}));
  ASSERT_TRUE(a.read_until([](const std::string& out) { return std::count(out.begin(), out.end(), '\n') >= 40; }, 30s))
      << a.out() << a.err();
  RillProcess b(with_ns({"consume", "-G", "g", "t", "-o", "beginning", "--strategy", "sticky"}));
  // Wait until the group is stable with two members.
  bool two = false;
  for (int i = 0; i < 300 && !two; ++i) {
    auto d = rill({"group", "describe", "g"});
    two = d.out.find("members          2") != std::string::npos && d.out.find("state            stable") != std::string::npos;
    if (!two) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(two) << rill({"group", "describe", "g"}).out;
  // Describe, and reset or delete refused while it has members.
  auto refused = rill({"group", "reset", "g", "--topic", "t", "--to", "end"});
  expect_one_error_line(refused, "has members");
  expect_one_error_line(rill({"group", "delete", "g"}), "has members");
  a.signal(SIGKILL);
  produce(10, 10);
  ASSERT_TRUE(b.read_until(
      [](const std::string& out) {
        for (int p = 0; p < 4; ++p)
          if (out.find(std::to_string(p) + "-19\n") == std::string::npos) return false;
        return true;
      },
      30s))
      << "b: " << b.out() << b.err();
  b.signal(SIGTERM);
  const CliResult rb = b.finish();
  EXPECT_EQ(rb.exit_code, 0) << rb.err;
  const CliResult ra = a.finish();
  EXPECT_EQ(ra.term_signal, SIGKILL);
  std::multiset<std::string> seen = lines(ra.out);
  for (const std::string& l : lines(rb.out)) seen.insert(l);
  for (const std::string& want : expected(0, 20)) EXPECT_GE(seen.count(want), 1u) << want;
  // b committed at exit: nobody is left, and nothing is lagging.
  auto d = rill({"group", "describe", "g"});
  EXPECT_NE(d.out.find("members          0"), std::string::npos) << d.out;
  for (int p = 0; p < 4; ++p)
    EXPECT_EQ(row(d.out, p), (std::vector<std::string>{"t", std::to_string(p), "20", "20", "0", "-"})) << d.out;
}

// `rill ns gc` keeps a group's object however old (the namespace still has
// it), and removes a SIGKILLed member from it.
TEST_F(GroupCmd, NsGcKeepsGroupsAndRemovesDeadMembers) {
  produce(0, 1);
  ASSERT_EQ(rill({"consume", "-G", "g", "t", "-o", "beginning", "-e"}).exit_code, 0);
  const std::string object = "/dev/shm/rill." + ns() + ".~group.g";
  const timespec old[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 3600, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, object.c_str(), old, 0), 0);
  RillProcess member(with_ns({"consume", "-G", "g", "t"}));
  bool joined = false;
  for (int i = 0; i < 300 && !joined; ++i) {
    joined = rill({"group", "describe", "g"}).out.find("members          1") != std::string::npos;
    if (!joined) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(joined);
  member.signal(SIGKILL);
  (void)member.finish();
  auto gc = rill({"-v", "ns", "gc"});
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_EQ(rill({"group", "list"}).out, "g\n");
  auto d = rill({"group", "describe", "g"});
  EXPECT_NE(d.out.find("members          0"), std::string::npos) << d.out;
  EXPECT_EQ(row(d.out, 0), (std::vector<std::string>{"t", "0", "1", "1", "0", "-"})) << d.out;
}

TEST_F(GroupCmd, UsageErrorsAreOneLineAndChangeNothing) {
  expect_one_error_line(rill({"consume", "t", "t2"}), "add -G GROUP");
  expect_one_error_line(rill({"consume", "-G", "g", "t", "-o", "5"}), "-o with -G");
  expect_one_error_line(rill({"consume", "-G", "g", "t", "-p", "1"}), "-p with -G");
  expect_one_error_line(rill({"consume", "-G", "g/x", "t"}), "consumer group name");
  expect_one_error_line(rill({"consume", "-G", "g", "nope", "-e"}), "nope");
  expect_one_error_line(rill({"consume", "-G", "g", "t", "--session-timeout", "0s"}), "--session-timeout");
  expect_one_error_line(rill({"group", "describe", "nope"}), "does not exist");
  expect_one_error_line(rill({"group", "reset", "g", "--topic", "t", "--to", "sometime"}), "--to");
  expect_one_error_line(rill({"group", "delete", "nope"}), "does not exist");
  EXPECT_EQ(rill({"group", "list"}).out, "");
}

}  // namespace
}  // namespace rill::cli::testing
