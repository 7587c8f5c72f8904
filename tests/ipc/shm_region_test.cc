// open_shared_region() trusts nothing it finds under a name in /dev/shm: a
// planted or damaged object of another size, type or owner is refused before
// a byte of it is mapped, and opening never blocks or follows a link.
#include "ipc/shm_region.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "support/child_process.h"
#include "support/shm_guard.h"

namespace rill::ipc {
namespace {

using rill::testing::ShmGuard;

constexpr std::uint64_t kTiB = std::uint64_t{1} << 40;
constexpr std::size_t kExpected = 397312;  // a registry's size; any fixed size would do

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Plants a sparse object of `size` bytes under `name`, as any local user can.
void plant(const std::string& name, std::uint64_t size, mode_t mode = 0600) {
  const int fd = ::open(shared_region_path(name).c_str(), O_CREAT | O_EXCL | O_RDWR, mode);
  ASSERT_GE(fd, 0) << name;
  ASSERT_EQ(::fchmod(fd, mode), 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  ::close(fd);
}

// Bytes of /dev/shm the object really uses (st_blocks).
std::uint64_t allocated(const std::string& name) {
  struct stat st {};
  if (::lstat(shared_region_path(name).c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

// This process's resident set, from /proc/self/statm.
std::uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long long pages = 0, resident = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%llu %llu", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

TEST(OpenSharedRegion, AnObjectOfAnotherSizeIsRefusedBeforeItIsMapped) {
  // A sparse 1 TiB object was mapped whole and pre-faulted for writing: 20 GB
  // of RSS in seconds, and /dev/shm filled with pages that outlived the process.
  ShmGuard guard;
  const std::string name = "rill." + guard.ns() + ".registry";
  for (const std::uint64_t size : {kTiB, std::uint64_t{10'000'000}, std::uint64_t{kExpected - 1}}) {
    SCOPED_TRACE(size);
    plant(name, size);
    const std::uint64_t rss_before = resident_bytes();
    auto region = open_shared_region(name, {.size = kExpected, .kind = "a registry"});
    ASSERT_FALSE(region.is_ok());
    EXPECT_EQ(region.status().code(), Code::kCorrupt);
    EXPECT_EQ(region.status().message(), "/dev/shm/" + name + " is " + std::to_string(size) +
                                             " bytes, a registry is exactly 397312 bytes");
    EXPECT_EQ(allocated(name), 0u) << "no page of it was allocated";
    EXPECT_LT(resident_bytes(), rss_before + (64u << 20)) << "nothing of it was mapped";
    ASSERT_TRUE(remove_shared_region(name).is_ok());
  }
  plant(name, 0);
  auto empty = open_shared_region(name, {.size = kExpected});
  EXPECT_EQ(empty.status().code(), Code::kCorrupt);
  EXPECT_EQ(empty.status().message(), "/dev/shm/" + name + " is empty (its creator may have died)");
}

TEST(OpenSharedRegion, ExactlyTheExpectedSizeIsMappedAndNoMore) {
  ShmGuard guard;
  const std::string name = "rill." + guard.ns() + ".registry";
  plant(name, kExpected);
  ShmObjectInfo info;
  auto region = open_shared_region(name, {.size = kExpected}, &info);
  ASSERT_TRUE(region.is_ok()) << region.status().to_string();
  EXPECT_EQ((*region)->bytes().size(), kExpected);
  EXPECT_EQ(info.size, kExpected);
  EXPECT_EQ(info.type, static_cast<unsigned>(S_IFREG));
  EXPECT_EQ(info.owner, ::geteuid());
}

// Runs `body` in a child and waits at most `limit` for it: an open that
// blocks fails the test (the child is killed) instead of hanging it.
template <typename Body>
rill::testing::ChildResult within(std::chrono::seconds limit, Body body) {
  rill::testing::Children children;
  const pid_t pid = children.spawn("opener", [&](std::string& report) { return body(report); });
  return children.wait_one(pid, limit);
}

TEST(OpenSharedRegion, AFifoIsRefusedWithoutBlocking) {
  // open(2) of a FIFO waits for its other end: every command hung, root's too.
  ShmGuard guard;
  const std::string name = "rill." + guard.ns() + ".registry";
  ASSERT_EQ(::mkfifo(shared_region_path(name).c_str(), 0666), 0);
  EXPECT_TRUE(shared_region_exists(name));
  const auto r = within(std::chrono::seconds(20), [&](std::string& report) {
    auto region = open_shared_region(name, {.size = kExpected});
    report = region ? std::string("opened") : region.status().to_string();
    return !region && region.status().code() == Code::kCorrupt &&
                   region.status().message() == "/dev/shm/" + name + " is a FIFO, not a regular file"
               ? 0
               : 1;
  });
  EXPECT_TRUE(r.ok()) << r.describe();
  auto info = stat_shared_region(name);
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->type_name(), "a FIFO");
  EXPECT_TRUE(remove_shared_region(name).is_ok()) << "a FIFO is removed like any object";
  EXPECT_FALSE(shared_region_exists(name));
}

TEST(OpenSharedRegion, ASymbolicLinkIsNeverFollowed) {
  ShmGuard guard;
  const std::string target = "rill." + guard.ns() + ".target";
  const std::string name = "rill." + guard.ns() + ".registry";
  plant(target, kExpected);
  ASSERT_EQ(::symlink(shared_region_path(target).c_str(), shared_region_path(name).c_str()), 0);
  auto region = open_shared_region(name, {.size = kExpected});
  ASSERT_FALSE(region.is_ok());
  EXPECT_EQ(region.status().code(), Code::kCorrupt);
  EXPECT_EQ(region.status().message(), "/dev/shm/" + name + " is a symbolic link, not a regular file");
  // Nor by creating over it, nor by removing it.
  EXPECT_EQ(create_shared_region(name, kExpected).status().code(), Code::kAlreadyExists);
  EXPECT_TRUE(remove_shared_region(name).is_ok());
  EXPECT_FALSE(shared_region_exists(name));
  EXPECT_EQ(allocated(target), 0u) << "the target was not written";
  EXPECT_TRUE(shared_region_exists(target)) << "the target was not removed";
}

TEST(OpenSharedRegion, AnotherUsersObjectIsUsedOnlyIfSharedWithTheRightGroup) {
  // An object this user could open (mode 0666, or 0660 of one of its groups)
  // was used whoever had planted it.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: makes objects of another user and opens them as a third";
  ShmGuard guard;
  const std::string name = "rill." + guard.ns() + ".registry";
  constexpr uid_t kOther = 4242;     // the object's owner: neither root nor the opener
  constexpr uid_t kOpener = 65534;   // nobody
  constexpr gid_t kShared = 65534;   // the opener's only group
  constexpr gid_t kElsewhere = 4243;
  struct Case {
    mode_t mode;
    gid_t group;
    ShmExpected::Sharing sharing;
    gid_t expected_group;
    bool allowed;
  };
  using S = ShmExpected::Sharing;
  const Case cases[] = {
      {0666, kElsewhere, S::kAnyGroupOfMine, 0, false},  // open to all: planted
      {0666, kShared, S::kOwnerOnly, 0, false},          // a private namespace's objects are its owner's
      {0660, kShared, S::kAnyGroupOfMine, 0, true},      // a group namespace's registry
      {0660, kShared, S::kGroup, kShared, true},         // a group namespace's partition
      {0660, kShared, S::kGroup, kElsewhere, false},     // shared, but with another group than the namespace's
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.mode) + " " + std::to_string(c.group) + " " + std::to_string(int(c.sharing)));
    plant(name, kExpected, c.mode);
    ASSERT_EQ(::chown(shared_region_path(name).c_str(), kOther, c.group), 0);
    ASSERT_EQ(::chmod(shared_region_path(name).c_str(), c.mode), 0);
    const auto r = within(std::chrono::seconds(20), [&](std::string& report) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(kShared) != 0 || ::setuid(kOpener) != 0) {
        report = "cannot become nobody";
        return 2;
      }
      auto region = open_shared_region(name, {.size = kExpected, .sharing = c.sharing, .group = c.expected_group});
      report = region ? std::string("opened") : region.status().to_string();
      if (c.allowed) return region ? 0 : 1;
      return !region && region.status().code() == Code::kPermissionDenied &&
                     contains(region.status().message(), "/dev/shm/" + name + " belongs to user 4242") &&
                     contains(region.status().message(), ", not to user nobody")
                 ? 0
                 : 1;
    });
    EXPECT_TRUE(r.ok()) << r.describe();
    ASSERT_TRUE(remove_shared_region(name).is_ok());
  }
}

long faults_so_far() {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt + u.ru_majflt;
}

long faults_writing_every_page(std::span<std::byte> bytes) {
  auto* b = reinterpret_cast<volatile std::byte*>(bytes.data());
  const long before = faults_so_far();
  for (std::size_t at = 0; at < bytes.size(); at += static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)))
    b[at] = std::byte{1};
  return faults_so_far() - before;
}

// Both mappings are populated when made: a process writing a ring as it
// advances takes no page fault per 4 KiB (a stall of microseconds each in
// the cross-process ping-pong), whatever the kernel and C library offer.
TEST(SharedRegion, CreatorAndOpenerTakeNoPageFaultOnTheirFirstPass) {
  ShmGuard guard;
  const std::string name = "rill." + guard.ns() + ".bench.0";
  constexpr std::size_t kSize = 4u << 20;
  auto created = create_shared_region(name, kSize);
  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  auto opened = open_shared_region(name, {.size = kSize});
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  EXPECT_EQ(faults_writing_every_page((*created)->bytes()), 0);
  EXPECT_EQ(faults_writing_every_page((*opened)->bytes()), 0);
  EXPECT_EQ((*opened)->bytes()[0], std::byte{1});
  EXPECT_EQ((*opened)->bytes()[1], std::byte{0});
}

TEST(AnnouncesMapping, AProcessAnnouncesWhatItMapsWithAnnounceOnly) {
  // /proc/locks, which any user may read, shows who maps an announced region
  // under a pid the kernel writes: how a lock holder is checked across users.
  ShmGuard guard;
  const std::string announced = "rill." + guard.ns() + ".registry";
  const std::string quiet = "rill." + guard.ns() + ".t.0";
  auto a = create_shared_region(announced, kExpected, {}, /*announce=*/true);
  auto q = create_shared_region(quiet, kExpected);
  ASSERT_TRUE(a.is_ok() && q.is_ok());
  const auto id_of = [](const std::string& name) {
    struct stat st {};
    EXPECT_EQ(::lstat(shared_region_path(name).c_str(), &st), 0);
    return ShmFileId{major(st.st_dev), minor(st.st_dev), static_cast<unsigned long long>(st.st_ino)};
  };
  EXPECT_EQ(announces_mapping(::getpid(), id_of(announced)).value(), true);
  EXPECT_EQ(announces_mapping(::getpid(), id_of(quiet)).value(), false);
  EXPECT_EQ(announces_mapping(1, id_of(announced)).value(), false) << "nobody else's pid";
  // Opened with announce, by another process: that process's pid.
  const auto r = within(std::chrono::seconds(20), [&](std::string& report) {
    auto opened = open_shared_region(quiet, {.size = kExpected, .announce = true});
    if (!opened) {
      report = opened.status().to_string();
      return 1;
    }
    auto mine = announces_mapping(::getpid(), id_of(quiet));
    return mine && *mine ? 0 : 1;
  });
  EXPECT_TRUE(r.ok()) << r.describe();
  const auto id = id_of(announced);
  a->reset();
  EXPECT_EQ(announces_mapping(::getpid(), id).value(), false) << "unmapping ends the announcement";
}

}  // namespace
}  // namespace rill::ipc
