// rill ns list | gc, topic create --overflow, and topic describe's producers
// and readers: housekeeping after processes die.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <grp.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "core/client/registry_format.h"
#include "ipc/shm_region.h"
#include "rill/rill.h"
#include "tests/support/child_process.h"
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

using rill::testing::die_after;

class NsCmd : public CliTest {};

// ---------------------------------------------------------------- hostile objects

constexpr std::uint64_t kTiB = std::uint64_t{1} << 40;
constexpr auto kHangGuard = std::chrono::seconds(60);  // returns at all: a regression fails, not hangs

std::string shm_path(const std::string& object) { return "/dev/shm/" + object; }

// A sparse object of `size` bytes under `object`, as any local user can plant one.
void plant(const std::string& object, std::uint64_t size) {
  const int fd = ::open(shm_path(object).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0) << object;
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  ::close(fd);
}

// Bytes of /dev/shm an object really uses.
std::uint64_t allocated(const std::string& object) {
  struct stat st {};
  return ::lstat(shm_path(object).c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_blocks) * 512 : 0;
}

// The largest resident set any rill this test process ran has had.
std::uint64_t children_peak_rss() {
  rusage usage{};
  ::getrusage(RUSAGE_CHILDREN, &usage);
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

// `rill args...` with the defaults a user gets, killed (timed_out) if it has
// not returned within kHangGuard.
CliResult run_guarded(const std::vector<std::string>& args) {
  RillProcess p(args);
  return p.finish({}, kHangGuard);
}

// run_guarded() as an unprivileged user: nobody when the tests run as root
// (who may read every process's memory map and remove every object), else
// the user the tests run as.
CliResult run_unprivileged(const std::vector<std::string>& args) {
  int out[2];
  if (::pipe(out) != 0) return {};
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(out[0]);
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0))
      ::_exit(2);
    const CliResult r = run_guarded(args);
    const std::string report = std::to_string(r.exit_code) + " " + std::to_string(r.timed_out) + " " +
                               std::to_string(r.out.size()) + "\n" + r.out + r.err;
    for (std::size_t at = 0; at < report.size();) {
      const ssize_t n = ::write(out[1], report.data() + at, report.size() - at);
      if (n <= 0) break;
      at += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(out[1]);
  std::string report;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) report.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  ::waitpid(child, nullptr, 0);
  CliResult r;
  std::istringstream head(report.substr(0, report.find('\n')));
  std::size_t out_size = 0;
  head >> r.exit_code >> r.timed_out >> out_size;
  const std::string rest = report.substr(std::min(report.size(), report.find('\n') + 1));
  r.out = rest.substr(0, out_size);
  r.err = rest.substr(std::min(rest.size(), out_size));
  return r;
}

TEST_F(NsCmd, ARegistryOfAnotherSizeIsRefusedQuicklyAndGcRemovesIt) {
  // A sparse 1 TiB registry took `rill ns list` to 20.5 GB RSS and /dev/shm to
  // 89 %, pages that outlived it; a 10 MB one was accepted.
  const std::string registry = "rill." + ns() + ".registry";
  for (const std::uint64_t size : {kTiB, std::uint64_t{10'000'000}}) {
    SCOPED_TRACE(size);
    plant(registry, size);
    const std::string wrong = shm_path(registry) + " is " + std::to_string(size) +
                              " bytes, a registry is exactly 397312 bytes; if no process uses namespace '" + ns() +
                              "', remove it (`rill ns gc " + ns() + "`, or `rm " + shm_path(registry) + "`)";

    const CliResult list = run_guarded({"ns", "list", ns()});
    ASSERT_FALSE(list.timed_out);
    EXPECT_EQ(list.exit_code, 1);
    EXPECT_EQ(list.err, "rill: warning: namespace '" + ns() + "': " + wrong + "\n");
    ASSERT_EQ(list.out_lines().size(), 2u) << list.out;
    EXPECT_EQ(list.out_lines()[1].rfind(ns() + " ", 0), 0u) << list.out;
    EXPECT_TRUE(contains(list.out_lines()[1], " ? ")) << "listed, topics unknown: " << list.out;

    const CliResult create = run_guarded(with_ns({"topic", "create", "t"}));
    ASSERT_FALSE(create.timed_out);
    expect_one_error_line(create, "namespace '" + ns() + "': " + wrong);

    EXPECT_EQ(allocated(registry), 0u) << "not a page of it was allocated";
    EXPECT_LT(children_peak_rss(), std::uint64_t{1} << 30) << "no rill mapped it";
    EXPECT_EQ(shm_objects(ns()), std::vector<std::string>{registry}) << "nothing was made";

    // Following the advice works.
    const CliResult gc = run_guarded({"ns", "gc", ns()});
    ASSERT_FALSE(gc.timed_out);
    EXPECT_EQ(gc.exit_code, 0) << gc.err;
    EXPECT_EQ(gc.err, "rill: warning: " + shm_path(registry) + " is " + std::to_string(size) +
                          " bytes, a registry is exactly 397312 bytes: removed it\n");
    EXPECT_TRUE(contains(gc.out, "removed " + shm_path(registry))) << gc.out;
    EXPECT_TRUE(shm_objects(ns()).empty());
  }
  EXPECT_EQ(rill({"topic", "create", "t"}).exit_code, 0) << "the namespace is usable again";
}

TEST_F(NsCmd, APartitionOfAnotherSizeIsRefusedAndItsTopicCanBeDeleted) {
  ASSERT_EQ(rill({"topic", "create", "t", "--segment-size", "64KiB", "--segments", "4"}).exit_code, 0);
  const std::string partition = "rill." + ns() + ".t.0";
  const std::uint64_t used = allocated(partition);
  ASSERT_EQ(::truncate(shm_path(partition).c_str(), static_cast<off_t>(kTiB)), 0);  // sparse

  const CliResult describe = run_guarded(with_ns({"topic", "describe", "t"}));
  ASSERT_FALSE(describe.timed_out);
  expect_one_error_line(describe, shm_path(partition) + " is 1099511627776 bytes, a partition of topic 't' is exactly ");
  EXPECT_TRUE(contains(describe.err, "delete the topic with `rill --ns " + ns() + " topic delete t`")) << describe.err;
  EXPECT_EQ(allocated(partition), used) << "not a page more";
  EXPECT_LT(children_peak_rss(), std::uint64_t{1} << 30) << "no rill mapped it";

  // gc says what is wrong and leaves the topic's objects to `topic delete`.
  const CliResult gc = run_guarded({"ns", "gc", ns()});
  ASSERT_FALSE(gc.timed_out);
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_TRUE(contains(gc.err, "rill: warning: namespace '" + ns() + "': opening topic 't': " + shm_path(partition) +
                                   " is 1099511627776 bytes"))
      << gc.err;
  EXPECT_EQ(shm_objects(ns()), (std::vector<std::string>{partition, "rill." + ns() + ".registry"}));

  const CliResult deleted = run_guarded(with_ns({"topic", "delete", "t"}));
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(shm_objects(ns()), std::vector<std::string>{"rill." + ns() + ".registry"});
}

TEST_F(NsCmd, AFifoAtTheRegistryNameFailsPromptly) {
  // open(2) of a FIFO blocks until a writer comes: `ns list`, `ns gc` and
  // `topic create` hung for every user, root included.
  const std::string registry = "rill." + ns() + ".registry";
  ASSERT_EQ(::mkfifo(shm_path(registry).c_str(), 0666), 0);
  const std::string fifo = shm_path(registry) + " is a FIFO, not a regular file";

  const CliResult list = run_guarded({"ns", "list", ns()});
  ASSERT_FALSE(list.timed_out) << "hung";
  EXPECT_EQ(list.exit_code, 1);
  EXPECT_TRUE(list.err.starts_with("rill: warning: namespace '" + ns() + "': " + fifo + "; if no process uses"))
      << list.err;

  const CliResult create = run_guarded(with_ns({"topic", "create", "t"}));
  ASSERT_FALSE(create.timed_out) << "hung";
  expect_one_error_line(create, fifo + "; if no process uses namespace '" + ns() + "', remove it (`rill ns gc");

  // Another user may not remove it (/dev/shm is sticky), and is told so.
  if (::geteuid() == 0) {
    const CliResult theirs = run_unprivileged({"ns", "gc", ns()});
    ASSERT_FALSE(theirs.timed_out) << "hung";
    EXPECT_EQ(theirs.exit_code, 1);
    EXPECT_TRUE(contains(theirs.err, "rill: warning: " + fifo + ", and cannot be removed: ")) << theirs.err;
    EXPECT_TRUE(contains(theirs.err, "only the owner or root may remove it")) << theirs.err;
    EXPECT_EQ(shm_objects(ns()), std::vector<std::string>{registry});
  }
  const CliResult gc = run_guarded({"ns", "gc", ns()});
  ASSERT_FALSE(gc.timed_out) << "hung";
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_EQ(gc.err, "rill: warning: " + fifo + ": removed it\n");
  EXPECT_TRUE(shm_objects(ns()).empty());
}

TEST_F(NsCmd, ASymbolicLinkAtTheRegistryNameIsNeverFollowed) {
  // A link to another namespace's registry: that namespace must stay as it is.
  const std::string other = ns() + "-target";
  struct Remover {
    std::string ns;
    ~Remover() { remove_shm_objects(ns); }
  } remover{other};
  ASSERT_EQ(run_rill({"--ns", other, "topic", "create", "kept", "--segment-size", "64KiB"}).exit_code, 0);
  const std::string registry = "rill." + ns() + ".registry";
  ASSERT_EQ(::symlink(shm_path("rill." + other + ".registry").c_str(), shm_path(registry).c_str()), 0);

  const CliResult create = run_guarded(with_ns({"topic", "create", "t"}));
  ASSERT_FALSE(create.timed_out);
  expect_one_error_line(create, shm_path(registry) + " is a symbolic link, not a regular file");
  const CliResult gc = run_guarded({"ns", "gc", ns()});
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_TRUE(shm_objects(ns()).empty()) << "the link is removed";
  EXPECT_EQ(run_rill({"--ns", other, "topic", "list"}).out, "kept\n") << "its target is not";
}

TEST_F(NsCmd, AForgedLockHolderIsNeitherWaitedForNorKilled) {
  // A lock word naming thread 1 stalled every command 30 s for a user who may
  // not read /proc/1/maps, then advised `kill 1`.
  ASSERT_EQ(run_unprivileged(with_ns({"topic", "create", "t", "--segment-size", "64KiB"})).exit_code, 0);
  {
    auto region = ipc::open_shared_region("rill." + ns() + ".registry", {.size = registry::kRegionBytes});
    ASSERT_TRUE(region.is_ok()) << region.status().to_string();
    auto* header = reinterpret_cast<registry::Header*>((*region)->bytes().data());
    std::atomic_ref<int>(header->lock.__data.__lock).store(1 | static_cast<int>(FUTEX_WAITERS));
  }
  const CliResult list = run_unprivileged(with_ns({"topic", "list"}));
  ASSERT_FALSE(list.timed_out) << "hung";
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out, "t\n");
  EXPECT_FALSE(contains(list.err, "kill")) << list.err;
  const CliResult create = run_unprivileged(with_ns({"topic", "create", "u", "--segment-size", "64KiB"}));
  EXPECT_EQ(create.exit_code, 0) << "the lock works on: " << create.err;
}

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
  // A `rill bench` killed with -9 leaves its scratch namespace, private to it.
  const pid_t dead = die_after([] {
    auto ns = Namespace::open_shared("bench-" + std::to_string(::getpid()), SharedOptions{.group = {}, .create = true, .private_to_process = true});
    if (!ns || !(*ns)->create_topic("bench", {.segment_bytes = 16384, .segment_count = 4})) ::_exit(1);
  });
  const std::string bench_ns = "bench-" + std::to_string(dead);
  struct Remover {
    std::string ns;
    ~Remover() { remove_shm_objects(ns); }  // even if an assertion fails
  } remover{bench_ns};
  ASSERT_EQ(shm_objects(bench_ns).size(), 2u);
  // Named, so that the gc leaves alone the namespaces of tests running beside this one.
  auto gc = run_rill({"ns", "gc", bench_ns});
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_TRUE(shm_objects(bench_ns).empty()) << gc.out;
}

TEST_F(NsCmd, ANamedNamespaceThatDoesNotExistIsAnError) {
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  const std::string missing = ns() + "-none";
  for (const char* sub : {"list", "gc"}) {
    auto r = run_rill({"ns", sub, ns(), missing});
    EXPECT_EQ(r.exit_code, 1) << sub;
    EXPECT_EQ(r.err, "rill: error: namespace '" + missing + "' does not exist\n") << sub;
  }
  EXPECT_EQ(shm_objects(missing).size(), 0u) << "nothing made";
  EXPECT_EQ(rill({"topic", "list"}).out, "t\n") << "the namespace that exists is untouched";
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

namespace rill::cli::testing {
namespace {

// Names in /dev/shm are anyone's to choose: `ns list` and `ns gc` printed a
// planted ESC raw on stdout, driving the terminal of whoever ran them.
TEST(NsCmdNames, PlantedControlCharactersArePrintedEscaped) {
  const std::string name = "rill.esc" + std::to_string(::getpid()) + "\x1b[31mred.registry";
  const std::string path = "/dev/shm/" + name;
  struct Remove {
    std::string path;
    ~Remove() { ::unlink(path.c_str()); }
  } remove{path};
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const std::string escaped = "esc" + std::to_string(::getpid()) + "\\x1b[31mred";
  // Bare: a name with an ESC is refused as an argument. (A bare gc is left
  // out: it would collect after the tests running beside this one.)
  const CliResult listed = run_rill({"ns", "list"});
  EXPECT_FALSE(listed.timed_out);
  EXPECT_EQ(listed.out.find('\x1b'), std::string::npos) << "a raw ESC on stdout";
  EXPECT_EQ(listed.err.find('\x1b'), std::string::npos) << "a raw ESC on stderr";
  EXPECT_NE(listed.out.find(escaped), std::string::npos) << "listed, escaped:\n" << listed.out << listed.err;
}

}  // namespace
}  // namespace rill::cli::testing
