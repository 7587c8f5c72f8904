// rill ns list | gc, topic create --overflow, and topic describe's producers
// and readers: housekeeping after processes die.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "rill/rill.h"
#include "tests/tools/cli_harness.h"

namespace rill::cli::testing {
namespace {

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// A shared-memory object as a crash would leave it, last written `age_s` ago.
void make_object(const std::string& name, int age_s) {
  const int fd = ::shm_open(name.c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 4096), 0);
  const timespec times[2] = {{::time(nullptr) - age_s, 0}, {::time(nullptr) - age_s, 0}};
  ASSERT_EQ(::futimens(fd, times), 0);
  ::close(fd);
}

// Runs `body` in a child that then dies by SIGKILL, cleaning up nothing.
template <typename Body>
pid_t die_after(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    ::raise(SIGKILL);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

class NsCmd : public CliTest {};

TEST_F(NsCmd, ListShowsTheNamespaceAndItsTopics) {
  ASSERT_EQ(rill({"topic", "create", "a"}).exit_code, 0);
  ASSERT_EQ(rill({"topic", "create", "b", "--partitions", "2"}).exit_code, 0);
  auto r = run_rill({"ns", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  bool found = false;
  for (const std::string& line : r.out_lines()) {
    if (line.rfind(ns() + " ", 0) != 0) continue;
    found = true;
    EXPECT_TRUE(contains(line, " 2 ")) << line;  // topics
    EXPECT_TRUE(contains(line, " 4 ")) << line;  // objects: registry + 3 partitions
  }
  EXPECT_TRUE(found) << r.out;
}

TEST_F(NsCmd, GcFreesTheSlotsOfDeadProducersAndReaders) {
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  const std::string name = ns();
  const pid_t dead = die_after([&] {
    auto topic = Namespace::open_shared(name).value()->open_topic("t").value();
    Producer producer(topic);
    (void)producer.send(std::nullopt, "x");
    Consumer consumer(topic);
    (void)consumer.assign_all();
    ::raise(SIGKILL);
  });
  auto before = rill({"topic", "describe", "t"});
  EXPECT_TRUE(contains(before.out, std::to_string(dead) + "  NO (dead)")) << before.out;
  auto gc = run_rill({"ns", "gc", ns()});
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_TRUE(contains(gc.out, ns() + ": freed 2 slots of dead processes")) << gc.out;
  auto after = rill({"topic", "describe", "t"});
  EXPECT_FALSE(contains(after.out, std::to_string(dead))) << after.out;
  EXPECT_EQ(rill({"consume", "t", "-o", "beginning", "-e"}).out, "x\n");
}

TEST_F(NsCmd, GcRemovesOldLeftoversButNotTopicsOrFreshObjects) {
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  make_object("rill." + ns() + ".ghost.0", 3600);  // a partition no registry entry owns, an hour old
  make_object("rill." + ns() + ".young.0", 0);     // maybe a topic being created right now
  auto gc = run_rill({"ns", "gc", ns()});
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_TRUE(contains(gc.out, "removed /dev/shm/rill." + ns() + ".ghost.0")) << gc.out;
  auto objects = shm_objects(ns());
  std::sort(objects.begin(), objects.end());
  EXPECT_EQ(objects, (std::vector<std::string>{"rill." + ns() + ".registry", "rill." + ns() + ".t.0",
                                                          "rill." + ns() + ".young.0"}));
}

TEST_F(NsCmd, GcRemovesThePrivateNamespaceOfADeadBenchRun) {
  // A `rill bench` killed with -9 leaves bench-<pid>.
  const pid_t dead = die_after([] {});
  const std::string bench_ns = "bench-" + std::to_string(dead);
  {
    auto ns = Namespace::open_shared(bench_ns).value();
    ASSERT_TRUE(ns->create_topic("bench", {.segment_bytes = 16384, .segment_count = 4}).is_ok());
  }
  ASSERT_EQ(shm_objects(bench_ns).size(), 2u);
  auto gc = run_rill({"ns", "gc"});
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_TRUE(shm_objects(bench_ns).empty()) << gc.out;
  remove_shm_objects(bench_ns);
}

TEST_F(NsCmd, CreateWithOverflowBlockIsDescribed) {
  ASSERT_EQ(rill({"topic", "create", "b", "--overflow", "block", "--overflow-timeout", "250ms"}).exit_code, 0);
  EXPECT_TRUE(contains(rill({"topic", "describe", "b"}).out, "overflow         block (producers wait up to 250 ms"));
  expect_one_error_line(rill({"topic", "create", "c", "--overflow", "sometimes"}), "--overflow");
  expect_one_error_line(rill({"topic", "create", "c", "--overflow", "block", "--overflow-timeout", "2h"}),
                        "--overflow-timeout");
  EXPECT_FALSE(contains(rill({"topic", "list"}).out, "c\n"));
}

}  // namespace
}  // namespace rill::cli::testing
