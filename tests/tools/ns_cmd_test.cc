// rill ns list | gc, topic create --overflow, and topic describe's producers
// and readers: housekeeping after processes die.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>
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
  // Named: a bare `ns list` also locks the registries of tests running beside this one.
  auto r = run_rill({"ns", "list", ns()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out_lines().size(), 2u) << "the header and this namespace:\n" << r.out;
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

TEST_F(NsCmd, DescribeShowsEachReadersPositionAndLag) {
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  auto topic = Namespace::open_shared(ns()).value()->open_topic("t").value();
  Producer producer(topic);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(producer.send(std::nullopt, "v" + std::to_string(i)).is_ok());
  Consumer consumer(topic, {.max_poll_records = 3, .start_at_earliest = true});
  ASSERT_TRUE(consumer.assign_all().is_ok());
  const PollResult r = consumer.poll(std::chrono::milliseconds(0));
  ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
  ASSERT_EQ(r.records.size(), 3u);
  // The next poll ends the first one's views: it publishes offset 3, while its own views (3..5) are held.
  ASSERT_EQ(consumer.poll(std::chrono::milliseconds(0)).records.size(), 3u);
  const std::string me = std::to_string(::getpid());
  auto d = rill({"topic", "describe", "t"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  bool reader = false, writer = false;
  for (const std::string& line : d.out_lines()) {
    std::istringstream in(line);
    std::string partition, pid, alive;
    in >> partition >> pid >> alive;
    if (pid != me) continue;
    std::string rest;
    std::getline(in, rest);
    if (contains(rest, "idle")) writer = true;
    long long position = -1, lag = -1;
    if (std::istringstream(rest) >> position >> lag) {
      reader = true;
      EXPECT_EQ(partition, "0") << line;
      EXPECT_EQ(alive, "yes") << line;
      EXPECT_EQ(position, 3) << line;
      EXPECT_EQ(lag, 7) << line;
    }
  }
  EXPECT_TRUE(writer) << "this process is listed as an idle producer:\n" << d.out;
  EXPECT_TRUE(reader) << "this process is listed as a reader:\n" << d.out;
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

TEST_F(NsCmd, GcRemovesTheRegistryDraftOfACreatorThatDied) {
  // A process killed while creating a namespace leaves its unpublished
  // draft; a live creator's draft, however old, is left alone.
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  const pid_t dead = die_after([] {});
  const std::string dead_draft = "rill." + ns() + ".registry.draft-" + std::to_string(dead) + "-" + std::to_string(dead);
  const std::string live_draft =
      "rill." + ns() + ".registry.draft-" + std::to_string(::getpid()) + "-" + std::to_string(::getpid());
  make_object(dead_draft, 0);
  make_object(live_draft, 3600);  // older than the orphan age: still its live maker's
  auto gc = run_rill({"ns", "gc", ns()});
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_TRUE(contains(gc.out, "removed /dev/shm/" + dead_draft)) << gc.out;
  auto objects = shm_objects(ns());
  std::sort(objects.begin(), objects.end());
  EXPECT_EQ(objects, (std::vector<std::string>{"rill." + ns() + ".registry", live_draft, "rill." + ns() + ".t.0"}));
}

TEST_F(NsCmd, GcRemovesThePrivateNamespaceOfADeadBenchRun) {
  // A `rill bench` killed with -9 leaves bench-<pid>.
  const pid_t dead = die_after([] {});
  const std::string bench_ns = "bench-" + std::to_string(dead);
  struct Remover {
    std::string ns;
    ~Remover() { remove_shm_objects(ns); }  // even if an assertion fails
  } remover{bench_ns};
  {
    auto ns = Namespace::open_shared(bench_ns).value();
    ASSERT_TRUE(ns->create_topic("bench", {.segment_bytes = 16384, .segment_count = 4}).is_ok());
  }
  ASSERT_EQ(shm_objects(bench_ns).size(), 2u);
  // Named, so that the gc leaves alone the namespaces of tests running beside this one.
  auto gc = run_rill({"ns", "gc", bench_ns});
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_TRUE(shm_objects(bench_ns).empty()) << gc.out;
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
