// Shared-memory limits: a topic that /dev/shm or the memory limit cannot
// hold fails up front, saying how much it needs and how much is free, and
// creates nothing; a racing allocation fails as clearly; never a SIGBUS.
//
// The free-space estimate is checked against a fake of the files it reads.
// The real thing runs as root in a forked child with a mount namespace of its
// own and a small tmpfs on /dev/shm (and, where the host allows, a memory
// cgroup of its own); without root those tests are skipped.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "ipc/shm_region.h"
#include "rill/rill.h"
#include "support/child_process.h"
#include "support/shm_guard.h"

namespace rill {
namespace {

using testing::ChildChecks;

constexpr std::uint64_t kMiB = 1 << 20;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---------------------------------------------------------------- the estimate, against a fake

class FakeProbe final : public ipc::SpaceProbe {
 public:
  std::uint64_t shm_free = 0;
  bool shm_fails = false;
  std::map<std::string, std::string> files;

  Result<std::uint64_t> free_bytes(const std::string& dir) const override {
    if (shm_fails || dir != ipc::kShmDir) return Status(Code::kIoError, "cannot measure " + dir);
    return shm_free;
  }
  Result<std::string> read_file(const std::string& path) const override {
    auto it = files.find(path);
    if (it == files.end()) return Status(Code::kNotFound, "cannot open " + path + ": No such file or directory");
    return it->second;
  }
};

constexpr const char* kV2Mount = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 "
                                 "cgroup2 rw,nsdelegate,memory_recursiveprot\n";
constexpr const char* kV1Mounts =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

std::string n(std::uint64_t v) { return std::to_string(v) + "\n"; }

TEST(ShmSpace, WithoutAMemoryLimitDevShmDecides) {
  FakeProbe probe;
  probe.shm_free = 12 * kMiB;
  probe.files["/proc/self/cgroup"] = "0::/user.slice/session-1.scope\n";
  probe.files["/proc/self/mountinfo"] = kV2Mount;
  probe.files["/sys/fs/cgroup/user.slice/session-1.scope/memory.max"] = "max\n";
  probe.files["/sys/fs/cgroup/user.slice/session-1.scope/memory.current"] = n(500 * kMiB);
  probe.files["/sys/fs/cgroup/user.slice/memory.max"] = "max\n";
  auto space = ipc::shm_space(probe);
  ASSERT_TRUE(space.is_ok()) << space.status().to_string();
  EXPECT_EQ(space->shm_free, 12 * kMiB);
  EXPECT_FALSE(space->cgroup_free.has_value());
  EXPECT_EQ(space->free(), 12 * kMiB);
  EXPECT_EQ(space->describe(), "/dev/shm has 12 MiB free");
  EXPECT_EQ(space->hint(), "see `df -h /dev/shm`");
}

TEST(ShmSpace, ACgroupV2LimitBelowDevShmDecidesAndCountsReclaimableCache) {
  FakeProbe probe;
  probe.shm_free = 1024 * kMiB;
  probe.files["/proc/self/cgroup"] = "0::/app.slice/rill.service\n";
  probe.files["/proc/self/mountinfo"] = kV2Mount;
  const std::string dir = "/sys/fs/cgroup/app.slice/rill.service";
  probe.files[dir + "/memory.max"] = n(256 * kMiB);
  probe.files[dir + "/memory.current"] = n(250 * kMiB);
  // shmem sits on the anon lists: only *_file is reclaimable page cache.
  probe.files[dir + "/memory.stat"] =
      "anon 100\nfile 9000\nshmem 7000\ninactive_file " + std::to_string(kMiB) + "\nactive_file " +
      std::to_string(kMiB) + "\nfile_mapped 5\n";
  auto space = ipc::shm_space(probe);
  ASSERT_TRUE(space.is_ok());
  ASSERT_TRUE(space->cgroup_free.has_value());
  EXPECT_EQ(*space->cgroup_free, 8 * kMiB);
  EXPECT_EQ(space->cgroup_limit, 256 * kMiB);
  EXPECT_EQ(space->cgroup_limit_file, dir + "/memory.max");
  EXPECT_EQ(space->free(), 8 * kMiB);
  EXPECT_EQ(space->describe(), "the memory limit of this process (256 MiB in " + dir + "/memory.max) leaves 8 MiB");
  EXPECT_EQ(space->hint(), "tmpfs pages count against it; see " + dir + "/memory.max");
}

TEST(ShmSpace, TheTightestAncestorLimitApplies) {
  FakeProbe probe;
  probe.shm_free = 1024 * kMiB;
  probe.files["/proc/self/cgroup"] = "0::/a/b/c\n";
  probe.files["/proc/self/mountinfo"] = kV2Mount;
  probe.files["/sys/fs/cgroup/a/b/c/memory.max"] = n(512 * kMiB);
  probe.files["/sys/fs/cgroup/a/b/c/memory.current"] = n(10 * kMiB);
  probe.files["/sys/fs/cgroup/a/b/memory.max"] = "max\n";
  probe.files["/sys/fs/cgroup/a/memory.max"] = n(100 * kMiB);
  probe.files["/sys/fs/cgroup/a/memory.current"] = n(95 * kMiB);
  auto space = ipc::shm_space(probe);
  ASSERT_TRUE(space.is_ok());
  ASSERT_TRUE(space->cgroup_free.has_value());
  EXPECT_EQ(*space->cgroup_free, 5 * kMiB);
  EXPECT_EQ(space->cgroup_limit_file, "/sys/fs/cgroup/a/memory.max");
}

TEST(ShmSpace, ALimitThatIsLargerThanDevShmDoesNotDecide) {
  FakeProbe probe;
  probe.shm_free = 64 * kMiB;
  probe.files["/proc/self/cgroup"] = "0::/\n";  // a container's own cgroup namespace
  probe.files["/proc/self/mountinfo"] = kV2Mount;
  probe.files["/sys/fs/cgroup/memory.max"] = n(4096 * kMiB);
  probe.files["/sys/fs/cgroup/memory.current"] = n(96 * kMiB);
  auto space = ipc::shm_space(probe);
  ASSERT_TRUE(space.is_ok());
  ASSERT_TRUE(space->cgroup_free.has_value());
  EXPECT_EQ(*space->cgroup_free, 4000 * kMiB);
  EXPECT_EQ(space->free(), 64 * kMiB);
  EXPECT_EQ(space->describe(), "/dev/shm has 64 MiB free");
}

TEST(ShmSpace, CgroupV1MemoryHierarchy) {
  FakeProbe probe;
  probe.shm_free = 1024 * kMiB;
  probe.files["/proc/self/cgroup"] = "9:name=systemd:/\n8:cpu:/\n4:memory:/docker/abc\n0::/\n";
  probe.files["/proc/self/mountinfo"] = kV1Mounts;
  const std::string dir = "/sys/fs/cgroup/memory/docker/abc";
  probe.files[dir + "/memory.limit_in_bytes"] = n(64 * kMiB);
  probe.files[dir + "/memory.usage_in_bytes"] = n(60 * kMiB);
  // v1 has both: the hierarchical total_* counters are the ones that match usage_in_bytes.
  probe.files[dir + "/memory.stat"] = "inactive_file 1\nactive_file 1\ntotal_inactive_file " +
                                      std::to_string(2 * kMiB) + "\ntotal_active_file 0\n";
  // "No limit" in v1 is the largest page-aligned 63-bit number.
  probe.files["/sys/fs/cgroup/memory/docker/memory.limit_in_bytes"] = "9223372036854771712\n";
  probe.files["/sys/fs/cgroup/memory/docker/memory.usage_in_bytes"] = n(60 * kMiB);
  probe.files["/sys/fs/cgroup/memory/memory.limit_in_bytes"] = "9223372036854771712\n";
  auto space = ipc::shm_space(probe);
  ASSERT_TRUE(space.is_ok());
  ASSERT_TRUE(space->cgroup_free.has_value());
  EXPECT_EQ(*space->cgroup_free, 6 * kMiB);
  EXPECT_EQ(space->cgroup_limit_file, dir + "/memory.limit_in_bytes");
}

TEST(ShmSpace, AMountOfACgroupSubtreeIsFollowed) {
  // Without a cgroup namespace, a container sees its cgroup mounted at /sys/fs/cgroup.
  FakeProbe probe;
  probe.shm_free = 1024 * kMiB;
  probe.files["/proc/self/cgroup"] = "0::/docker/abc\n";
  probe.files["/proc/self/mountinfo"] = "30 23 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
  probe.files["/sys/fs/cgroup/memory.max"] = n(32 * kMiB);
  probe.files["/sys/fs/cgroup/memory.current"] = n(30 * kMiB);
  probe.files["/sys/fs/cgroup/docker/abc/memory.max"] = n(1);  // not this process's: never read
  auto space = ipc::shm_space(probe);
  ASSERT_TRUE(space.is_ok());
  ASSERT_TRUE(space->cgroup_free.has_value());
  EXPECT_EQ(*space->cgroup_free, 2 * kMiB);
  EXPECT_EQ(space->cgroup_limit_file, "/sys/fs/cgroup/memory.max");
}

TEST(ShmSpace, UsageOverTheLimitLeavesOnlyReclaimableCache) {
  FakeProbe probe;
  probe.shm_free = 1024 * kMiB;
  probe.files["/proc/self/cgroup"] = "0::/x\n";
  probe.files["/proc/self/mountinfo"] = kV2Mount;
  probe.files["/sys/fs/cgroup/x/memory.max"] = n(16 * kMiB);
  probe.files["/sys/fs/cgroup/x/memory.current"] = n(17 * kMiB);
  auto space = ipc::shm_space(probe);
  ASSERT_TRUE(space.is_ok());
  EXPECT_EQ(space->free(), 0u);
  EXPECT_EQ(space->describe(),
            "the memory limit of this process (16 MiB in /sys/fs/cgroup/x/memory.max) leaves 0 B");
  probe.files["/sys/fs/cgroup/x/memory.stat"] = "inactive_file " + std::to_string(100 * kMiB) + "\n";
  EXPECT_EQ(ipc::shm_space(probe)->free(), 16 * kMiB) << "never more than the limit";
}

TEST(ShmSpace, UnreadableOrOddCgroupFilesMeanNoLimit) {
  FakeProbe probe;
  probe.shm_free = 7 * kMiB;
  auto space = ipc::shm_space(probe);  // no /proc at all
  ASSERT_TRUE(space.is_ok());
  EXPECT_FALSE(space->cgroup_free.has_value());
  EXPECT_EQ(space->free(), 7 * kMiB);

  probe.files["/proc/self/cgroup"] = "garbage\n0::relative\n::\n0::/x\n";
  probe.files["/proc/self/mountinfo"] = std::string("no dash here\n") + kV2Mount;
  probe.files["/sys/fs/cgroup/x/memory.max"] = "lots\n";
  EXPECT_FALSE(ipc::shm_space(probe)->cgroup_free.has_value());
  probe.files["/sys/fs/cgroup/x/memory.max"] = n(kMiB);  // a limit, but no usage to subtract
  EXPECT_FALSE(ipc::shm_space(probe)->cgroup_free.has_value());
  probe.files["/sys/fs/cgroup/x/memory.current"] = "12 MiB\n";
  EXPECT_FALSE(ipc::shm_space(probe)->cgroup_free.has_value());
}

TEST(ShmSpace, DevShmThatCannotBeMeasuredIsAnError) {
  FakeProbe probe;
  probe.shm_fails = true;
  auto space = ipc::shm_space(probe);
  ASSERT_FALSE(space.is_ok());
  EXPECT_TRUE(contains(space.status().message(), "/dev/shm")) << space.status().message();
}

TEST(ShmSpace, TheRealMachine) {
  auto space = ipc::shm_space();
  ASSERT_TRUE(space.is_ok()) << space.status().to_string();
  struct statvfs st {};
  ASSERT_EQ(::statvfs("/dev/shm", &st), 0);
  EXPECT_LE(space->shm_free, static_cast<std::uint64_t>(st.f_blocks) * st.f_frsize);
  EXPECT_LE(space->free(), space->shm_free);
  if (space->cgroup_free) {
    EXPECT_LE(*space->cgroup_free, space->cgroup_limit);
    EXPECT_FALSE(space->cgroup_limit_file.empty());
  }
}

TEST(FormatBytes, RoundsNeedsUpAndFreeDown) {
  using ipc::format_bytes;
  using ipc::Rounding;
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1 KiB");
  EXPECT_EQ(format_bytes(397312), "388 KiB");
  EXPECT_EQ(format_bytes(96 * kMiB), "96 MiB");
  EXPECT_EQ(format_bytes(3ull << 30), "3 GiB");
  // 32 MiB + 68 KiB: a default partition.
  EXPECT_EQ(format_bytes(32 * kMiB + 69632, Rounding::kUp), "32.1 MiB");
  EXPECT_EQ(format_bytes(32 * kMiB + 69632, Rounding::kDown), "32.0 MiB");
  EXPECT_EQ(format_bytes(12 * kMiB + 1, Rounding::kUp), "12.1 MiB");
  EXPECT_EQ(format_bytes(12 * kMiB - 1, Rounding::kDown), "11.9 MiB");
  EXPECT_EQ(format_bytes(1536 * kMiB), "1.5 GiB");
  EXPECT_EQ(format_bytes(~std::uint64_t{0}, Rounding::kDown), "15.9 EiB");
}

// ---------------------------------------------------------------- a real small /dev/shm (root)

constexpr int kSkip = 77;

// In a child: gives it a mount namespace of its own with a tmpfs of `bytes`
// on /dev/shm. "" if that worked, else why not (the test is skipped).
std::string private_dev_shm(std::uint64_t bytes) {
  if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS) failed: ") + std::strerror(errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return std::string("cannot make mounts private: ") + std::strerror(errno);
  const std::string options = "size=" + std::to_string(bytes) + ",mode=1777";
  if (::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
    return std::string("cannot mount a tmpfs on /dev/shm: ") + std::strerror(errno);
  return "";
}

// Runs `body` in a child with its own small /dev/shm; skips without root.
void run_with_small_dev_shm(std::uint64_t bytes, const std::function<int(std::string&)>& body) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: mounts a small tmpfs on /dev/shm in a private mount namespace";
  testing::Children children;
  const pid_t pid = children.spawn("small /dev/shm", [&](std::string& report) {
    if (std::string why = private_dev_shm(bytes); !why.empty()) {
      report = why;
      return kSkip;
    }
    return body(report);
  });
  ASSERT_GT(pid, 0) << "fork failed";
  const testing::ChildResult r = children.wait_one(pid, std::chrono::seconds(60));
  if (r.exited && r.exit_code == kSkip) GTEST_SKIP() << r.report;
  EXPECT_TRUE(r.ok()) << r.describe();
}

// Every name in /dev/shm (the child's private tmpfs), sorted.
std::vector<std::string> all_objects() {
  std::vector<std::string> names;
  if (DIR* dir = ::opendir("/dev/shm")) {
    while (const dirent* e = ::readdir(dir))
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(dir);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : " ") + name;
  return "[" + out + "]";
}

// Produces `value` into partition 0 and reads it back from the beginning.
bool round_trip(const std::shared_ptr<Topic>& topic, const std::string& value) {
  Producer producer(topic);
  if (!producer.send(std::nullopt, value, {.partition = 0}).is_ok()) return false;
  Consumer consumer(topic, {.start_at_earliest = true});
  if (!consumer.assign_all().is_ok()) return false;
  PollResult r = consumer.poll(std::chrono::seconds(1));
  return r.status.is_ok() && r.records.size() == 1 && r.records[0].value() == value;
}

// 2 partitions of 4 x 8 MiB segments: about 64 MiB.
constexpr TopicConfig kBig{.partitions = 2, .segment_bytes = 8 << 20, .segment_count = 4, .index_interval = 4096};
// 2 partitions of 4 x 256 KiB: about 2 MiB.
constexpr TopicConfig kFits{.partitions = 2, .segment_bytes = 256 << 10, .segment_count = 4, .index_interval = 4096};

TEST(SmallDevShm, ATopicThatDoesNotFitFailsUpFrontAndCreatesNothing) {
  run_with_small_dev_shm(8 * kMiB, [](std::string& report) {
    ChildChecks check(report);
    const std::string ns = testing::unique_namespace();
    auto space = ipc::shm_space();
    if (!check.expect(space.is_ok(), "shm_space failed")) return 1;
    check.expect(space->shm_free > 7 * kMiB && space->shm_free <= 8 * kMiB,
                 "the private tmpfs has " + std::to_string(space->shm_free) + " bytes free");
    auto opened = Namespace::open_shared(ns);
    if (!check.expect(opened.is_ok(), "open_shared: " + opened.status().to_string())) return 1;
    const std::shared_ptr<Namespace> space_ns = *opened;
    const std::uint64_t free_now = ipc::shm_space()->free();

    Status s = space_ns->create_topic("big", kBig);
    const std::string& m = s.message();
    check.expect(s.code() == Code::kResourceExhausted, "big topic: " + s.to_string());
    const std::string needed = ipc::format_bytes(kBig.partition_bytes() * 2, ipc::Rounding::kUp);
    const std::string each = ipc::format_bytes(kBig.partition_bytes(), ipc::Rounding::kUp);
    check.expect(contains(m, "topic 'big' needs " + needed + " of shared memory (2 partitions x " + each + ")"),
                 "message does not say what is needed: " + m);
    check.expect(contains(m, "but /dev/shm has " + ipc::format_bytes(free_now) + " free"),
                 "message does not say what is free (" + ipc::format_bytes(free_now) + "): " + m);
    check.expect(contains(m, "df -h /dev/shm") && contains(m, "--segment-size"), "message has no advice: " + m);
    check.expect(!contains(m, "\n"), "message is more than one line: " + m);
    // Nothing was created: only the registry is in the tmpfs, and no entry in it.
    const std::vector<std::string> objects = all_objects();
    check.expect(objects == std::vector<std::string>{"rill." + ns + ".registry"},
                 "objects left in /dev/shm: " + join(objects));
    check.expect(space_ns->list_topics()->empty(), "a registry entry was left");
    check.expect(space_ns->open_topic("big").status().code() == Code::kNotFound, "big can be opened");

    // A topic that fits is created and works.
    Status fits = space_ns->create_topic("fits", kFits);
    if (!check.expect(fits.is_ok(), "fitting topic: " + fits.to_string())) return 1;
    check.expect(round_trip(space_ns->open_topic("fits").value(), "in a small /dev/shm"), "round trip failed");
    check.expect(all_objects().size() == 3, "objects after the fitting topic: " + join(all_objects()));
    // And a second big one still fails, now with less free.
    check.expect(space_ns->create_topic("big", kBig).code() == Code::kResourceExhausted, "second big topic");
    return check.exit_code();
  });
}

TEST(SmallDevShm, AnAllocationThatLosesARaceFailsClearlyAndLeavesNothing) {
  // What create_topic's up-front check cannot see: another process taking the
  // space in between. posix_fallocate refuses; nothing is left half made.
  run_with_small_dev_shm(8 * kMiB, [](std::string& report) {
    ChildChecks check(report);
    const std::string object = "rill." + testing::unique_namespace() + ".raw";
    auto region = ipc::create_shared_region(object, 16 * kMiB);
    check.expect(!region.is_ok() && region.status().code() == Code::kResourceExhausted,
                 "16 MiB in 8: " + (region ? std::string("created") : region.status().to_string()));
    if (!region) {
      const std::string m = region.status().message();
      check.expect(contains(m, "cannot reserve 16 MiB for shm:/" + object), "message: " + m);
      check.expect(contains(m, "No space left on device"), "message has no cause: " + m);
      check.expect(contains(m, "/dev/shm has ") && contains(m, " free (see `df -h /dev/shm`)"),
                   "message does not say what is free: " + m);
    }
    check.expect(!ipc::shared_region_exists(object), "the failed object was left behind");
    check.expect(all_objects().empty(), "objects left: " + join(all_objects()));
    return check.exit_code();
  });
}

TEST(SmallDevShm, ANamespaceOnAFullDevShmSaysSo) {
  run_with_small_dev_shm(4 * kMiB, [](std::string& report) {
    ChildChecks check(report);
    const std::string ns = testing::unique_namespace();
    // Fill the tmpfs to the last page.
    const std::uint64_t free_bytes = ipc::shm_space()->shm_free;
    auto filler = ipc::create_shared_region("filler", free_bytes);
    if (!check.expect(filler.is_ok(), "filler: " + filler.status().to_string())) return 1;
    check.expect(ipc::shm_space()->shm_free == 0, "the tmpfs is not full");

    auto opened = Namespace::open_shared(ns);
    check.expect(!opened.is_ok() && opened.status().code() == Code::kResourceExhausted,
                 "namespace on a full /dev/shm: " + (opened ? std::string("opened") : opened.status().to_string()));
    if (!opened) {
      const std::string m = opened.status().message();
      check.expect(contains(m, "cannot create namespace '" + ns + "'"), "message does not name the namespace: " + m);
      check.expect(contains(m, "shm:/rill." + ns + ".registry"), "message does not name the registry: " + m);
      check.expect(contains(m, "No space left on device") && contains(m, "/dev/shm has 0 B free"),
                   "message does not say /dev/shm is full: " + m);
    }
    check.expect(all_objects() == std::vector<std::string>{"filler"}, "objects left: " + join(all_objects()));

    filler->reset();
    check.expect(ipc::remove_shared_region("filler").is_ok(), "remove filler");
    auto retried = Namespace::open_shared(ns);
    check.expect(retried.is_ok(), "with room again: " + retried.status().to_string());
    return check.exit_code();
  });
}

// ---------------------------------------------------------------- a real memory cgroup (root, where allowed)

// The directory of this process's memory cgroup and the name of its limit
// file, for a cgroup v1 memory hierarchy or a cgroup v2 one whose memory
// controller is enabled for children; empty if neither.
struct OwnCgroup {
  std::string dir;
  std::string limit_file;
};
OwnCgroup own_memory_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t a = line.find(':');
    const std::size_t b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      return {"/sys/fs/cgroup/memory" + (path == "/" ? std::string() : path), "memory.limit_in_bytes"};
    }
    if (line.substr(0, a) == "0" && controllers.empty()) {
      const std::string dir = "/sys/fs/cgroup" + (path == "/" ? std::string() : path);
      std::ifstream subtree(dir + "/cgroup.subtree_control");
      std::string enabled((std::istreambuf_iterator<char>(subtree)), std::istreambuf_iterator<char>());
      if (contains(" " + enabled + " ", "memory")) return {dir, "memory.max"};
    }
  }
  return {};
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

// Removes a cgroup directory when the test ends (after its child has exited).
class CgroupDir {
 public:
  explicit CgroupDir(std::string path) : path_(std::move(path)) {}
  ~CgroupDir() {
    for (int i = 0; i < 100 && ::rmdir(path_.c_str()) != 0 && errno == EBUSY; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CgroupDir(const CgroupDir&) = delete;
  CgroupDir& operator=(const CgroupDir&) = delete;

 private:
  std::string path_;
};

TEST(MemoryCgroup, ATopicOverTheMemoryLimitFailsUpFrontNamingTheLimit) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: makes a memory cgroup";
  const OwnCgroup own = own_memory_cgroup();
  if (own.dir.empty()) GTEST_SKIP() << "no memory cgroup this test can make children in";
  const std::string dir = own.dir + "/rill-limits-" + std::to_string(::getpid());
  if (::mkdir(dir.c_str(), 0755) != 0)
    GTEST_SKIP() << "cannot make a memory cgroup " << dir << ": " << std::strerror(errno);
  CgroupDir remove_dir(dir);
  if (!write_file(dir + "/" + own.limit_file, std::to_string(16 * kMiB)))
    GTEST_SKIP() << "cannot set " << dir << "/" << own.limit_file;

  // A large /dev/shm (64 MiB) but a 16 MiB memory limit: the limit decides.
  run_with_small_dev_shm(64 * kMiB, [&](std::string& report) {
    ChildChecks check(report);
    if (!write_file(dir + "/cgroup.procs", std::to_string(::getpid()))) {
      report = "cannot join " + dir;
      return kSkip;
    }
    auto space = ipc::shm_space();
    if (!check.expect(space.is_ok() && space->cgroup_free.has_value(), "shm_space sees no limit")) return 1;
    check.expect(space->cgroup_limit == 16 * kMiB, "limit " + std::to_string(space->cgroup_limit));
    check.expect(space->cgroup_limit_file == dir + "/" + own.limit_file, "limit file " + space->cgroup_limit_file);
    check.expect(space->free() <= 16 * kMiB, "free " + std::to_string(space->free()));

    auto ns = Namespace::open_shared(testing::unique_namespace());
    if (!check.expect(ns.is_ok(), "open_shared: " + ns.status().to_string())) return 1;
    constexpr TopicConfig k32{.partitions = 1, .segment_bytes = 8 << 20, .segment_count = 4, .index_interval = 4096};
    Status s = (*ns)->create_topic("big", k32);
    check.expect(s.code() == Code::kResourceExhausted, "32 MiB under a 16 MiB limit: " + s.to_string());
    const std::string needed = ipc::format_bytes(k32.partition_bytes(), ipc::Rounding::kUp);
    check.expect(contains(s.message(), "needs " + needed + " of shared memory (1 partition x " + needed + ")"),
                 "message: " + s.message());
    check.expect(contains(s.message(), "the memory limit of this process (16 MiB in " + dir + "/" + own.limit_file +
                                           ") leaves "),
                 "message does not name the limit: " + s.message());
    check.expect(all_objects().size() == 1, "objects left: " + join(all_objects()));
    Status fits = (*ns)->create_topic("fits", kFits);
    check.expect(fits.is_ok(), "2 MiB under a 16 MiB limit: " + fits.to_string());
    return check.exit_code();
  });
}

}  // namespace
}  // namespace rill
