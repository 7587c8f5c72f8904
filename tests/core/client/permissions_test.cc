// Who may use a shared namespace: its objects are 0600 (owner only) unless it
// is opened to a Unix group, then 0660 and owned by that group whoever of it
// creates them. Another user gets a clear "permission denied" and can neither
// read nor write; a member of the namespace's group can produce and consume.
//
// GroupNamespace runs as any user, with the process's own group. OtherUser
// runs as root: it creates a user and groups (useradd; removed again in
// teardown, also when a test fails) and forks children that become that user.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/client/registry_format.h"
#include "ipc/shm_region.h"
#include "rill/rill.h"
#include "support/child_process.h"
#include "support/shm_guard.h"
#include "support/other_user.h"

namespace rill {
namespace {

using testing::Access;
using testing::access_of;
using testing::ChildChecks;
using testing::OtherUser;
using testing::read_all;
using testing::registry_of;
using testing::ShmGuard;
using testing::TestAccount;

constexpr TopicConfig kSmall{.partitions = 1, .segment_bytes = 16384, .segment_count = 4, .index_interval = 256};

TopicConfig small(std::int32_t partitions) {
  TopicConfig c = kSmall;
  c.partitions = partitions;
  return c;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---------------------------------------------------------------- as any user, with its own group

TEST(GroupNamespace, ObjectsAreGroupOwned0660WhateverTheUmask) {
  ShmGuard guard;
  const std::string group = ipc::group_name(::getegid());
  for (mode_t mask : {mode_t{077}, mode_t{0}}) {
    SCOPED_TRACE(mask);
    const mode_t saved = ::umask(mask);
    auto ns = Namespace::open_shared(guard.ns(), {.group = group});
    ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
    ASSERT_TRUE((*ns)->create_topic("orders", small(2)).is_ok());
    // Opened without a group, the namespace still makes its objects for the group.
    auto plain = Namespace::open_shared(guard.ns());
    ASSERT_TRUE(plain.is_ok()) << plain.status().to_string();
    ASSERT_TRUE((*plain)->create_topic("audit", small(1)).is_ok());
    ::umask(saved);
    const std::vector<std::string> expected = {"rill." + guard.ns() + ".audit.0", "rill." + guard.ns() + ".orders.0",
                                               "rill." + guard.ns() + ".orders.1", registry_of(guard.ns())};
    ASSERT_EQ(guard.objects(), expected);
    for (const std::string& object : expected) {
      const Access a = access_of(object);
      EXPECT_EQ(a.mode, 0660u) << object;
      EXPECT_EQ(a.group, ::getegid()) << object;
      EXPECT_EQ(a.owner, ::geteuid()) << object;
    }
    Producer producer((*plain)->open_topic("orders").value());
    ASSERT_TRUE(producer.send(std::nullopt, "grouped", {.partition = 1}).is_ok());
    EXPECT_EQ(read_all((*ns)->open_topic("orders").value()), std::vector<std::string>{"grouped"});
    ns->reset();
    plain->reset();
    testing::remove_shm_objects(guard.ns());
  }
}

TEST(GroupNamespace, APrivateNamespaceIsNotOpenedToAGroupLater) {
  ShmGuard guard;
  ASSERT_TRUE(Namespace::open_shared(guard.ns()).is_ok());
  const std::string group = ipc::group_name(::getegid());
  auto ns = Namespace::open_shared(guard.ns(), {.group = group});
  ASSERT_EQ(ns.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ns.status().message(), "namespace '" + guard.ns() +
                                       "' was created private to its owner (without --group), not for group '" +
                                       group + "'; open it without --group, or remove it (`rm /dev/shm/rill." +
                                       guard.ns() + ".*`) and create it again with --group " + group);
  EXPECT_EQ(access_of(registry_of(guard.ns())).mode, 0600u) << "unchanged";
}

TEST(GroupNamespace, AnotherGroupThanTheRecordedOneIsRefused) {
  ShmGuard guard;
  const std::string group = ipc::group_name(::getegid());
  // A second group this process may use: any gid for root, else a supplementary one.
  std::string other;
  if (::geteuid() == 0) {
    other = std::to_string(::getegid() + 4242);
  } else {
    gid_t groups[256];
    const int n = ::getgroups(256, groups);
    for (int i = 0; i < n && other.empty(); ++i)
      if (groups[i] != ::getegid()) other = ipc::group_name(groups[i]);
  }
  if (other.empty()) GTEST_SKIP() << "this user is in one group only";
  ASSERT_TRUE(Namespace::open_shared(guard.ns(), {.group = group}).is_ok());
  auto ns = Namespace::open_shared(guard.ns(), {.group = other});
  ASSERT_EQ(ns.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ns.status().message(), "namespace '" + guard.ns() + "' was created for group '" + group + "', not '" +
                                       other + "'; open it with --group " + group + " or without --group");
  // The number of the recorded group is the same group.
  EXPECT_TRUE(Namespace::open_shared(guard.ns(), {.group = std::to_string(::getegid())}).is_ok());
}

TEST(GroupNamespace, AnUnknownGroupIsRefusedAndCreatesNothing) {
  ShmGuard guard;
  auto ns = Namespace::open_shared(guard.ns(), {.group = "no-such-group-rill"});
  ASSERT_EQ(ns.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(contains(ns.status().message(), "group 'no-such-group-rill' does not exist")) << ns.status().message();
  EXPECT_TRUE(guard.objects().empty());
}

TEST(GroupNamespace, AGroupThisUserIsNotInIsRefused) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may use any group (OtherUser tests this as another user)";
  ShmGuard guard;
  gid_t groups[256];
  const int n = ::getgroups(256, groups);
  gid_t outside = 0;  // root's group, unless this user is in it
  for (int i = 0; i < n; ++i)
    if (groups[i] == outside || ::getegid() == outside) GTEST_SKIP() << "this user is in group 0";
  auto ns = Namespace::open_shared(guard.ns(), {.group = ipc::group_name(outside)});
  ASSERT_EQ(ns.status().code(), Code::kPermissionDenied);
  EXPECT_TRUE(contains(ns.status().message(), "is not a member of group")) << ns.status().message();
  EXPECT_TRUE(guard.objects().empty());
}

TEST(GroupNamespace, AVersion1RegistryReadsAsPrivate) {
  ShmGuard guard;
  const std::string object = registry_of(guard.ns());
  ASSERT_TRUE(Namespace::open_shared(guard.ns(), {.group = ipc::group_name(::getegid())}).is_ok());
  auto region = ipc::open_shared_region(object, {.size = registry::kRegionBytes});
  ASSERT_TRUE(region.is_ok()) << region.status().to_string();
  auto* header = reinterpret_cast<registry::Header*>((*region)->bytes().data());
  EXPECT_EQ(header->version, 3u);
  EXPECT_EQ(header->object_mode, 0660u);
  EXPECT_EQ(header->group_id, static_cast<std::uint32_t>(::getegid()));

  // Version 1 had no access fields: whatever those bytes hold, it is private.
  header->version = 1;
  auto v1 = Namespace::open_shared(guard.ns());
  ASSERT_TRUE(v1.is_ok()) << v1.status().to_string();
  ASSERT_TRUE((*v1)->create_topic("t", small(1)).is_ok());
  EXPECT_EQ(access_of("rill." + guard.ns() + ".t.0").mode, 0600u);

  header->version = 4;
  auto v4 = Namespace::open_shared(guard.ns());
  ASSERT_EQ(v4.status().code(), Code::kCorrupt);
  EXPECT_TRUE(contains(v4.status().message(), "has registry version 4, this build reads versions 1 to 3"))
      << v4.status().message();

  header->version = 3;
  header->object_mode = 0666;
  auto odd = Namespace::open_shared(guard.ns());
  ASSERT_EQ(odd.status().code(), Code::kCorrupt);
  EXPECT_TRUE(contains(odd.status().message(), "records object mode 0666; only 0600 and 0660 are valid"))
      << odd.status().message();
}

// ---------------------------------------------------------------- another user (root only)

TEST_F(OtherUser, APrivateNamespaceIsClosedToOtherUsers) {
  const std::string ns_name = guard_.ns();
  auto ns = Namespace::open_shared(ns_name);
  ASSERT_TRUE(ns.is_ok());
  ASSERT_TRUE((*ns)->create_topic("t", small(2)).is_ok());
  {
    Producer producer((*ns)->open_topic("t").value());
    ASSERT_TRUE(producer.send(std::nullopt, "secret-0", {.partition = 0}).is_ok());
    ASSERT_TRUE(producer.send(std::nullopt, "secret-1", {.partition = 1}).is_ok());
  }
  const std::vector<std::string> objects = guard_.objects();
  ASSERT_EQ(objects.size(), 3u);
  const std::string user = account_->user;

  const testing::ChildResult r = as_user([&](ChildChecks& check) {
    auto opened = Namespace::open_shared(ns_name);
    check.expect(opened.status().code() == Code::kPermissionDenied,
                 "open_shared: " + (opened ? std::string("opened") : opened.status().to_string()));
    const std::string m = opened ? std::string() : opened.status().message();
    check.expect(m == "namespace '" + ns_name + "' is not open to user " + user + ": cannot open shm:/" +
                          registry_of(ns_name) +
                          ": Permission denied (owner root, group root, mode 0600); ask its owner (root) to create "
                          "it with --group GROUP for a group you are in",
                 "message: " + m);
    for (const std::string& object : objects) {
      // Neither read nor write, by any way in.
      for (int flags : {O_RDONLY, O_RDWR}) {
        const int fd = ::shm_open(object.c_str(), flags, 0);
        check.expect(fd < 0 && errno == EACCES, "shm_open(" + object + ", " + std::to_string(flags) + ") was allowed");
        if (fd >= 0) ::close(fd);
      }
      // Whatever size it is expected to be: the OS refuses first.
      auto region = ipc::open_shared_region(object, {.size = registry::kRegionBytes});
      check.expect(region.status().code() == Code::kPermissionDenied &&
                       contains(region.status().message(), "(owner root, group root, mode 0600)"),
                   "open_shared_region(" + object + "): " + region.status().to_string());
      // Nor remove: /dev/shm is sticky.
      Status removed = ipc::remove_shared_region(object);
      check.expect(removed.code() == Code::kPermissionDenied && contains(removed.message(), "only the owner or root"),
                   "remove " + object + ": " + removed.to_string());
    }
    return check.exit_code();
  });
  EXPECT_TRUE(r.ok()) << r.describe();

  // Everything is as it was.
  EXPECT_EQ(guard_.objects(), objects);
  for (const std::string& object : objects) EXPECT_EQ(access_of(object).mode, 0600u) << object;
  EXPECT_EQ((*ns)->list_topics().value(), std::vector<std::string>{"t"});
  EXPECT_EQ(read_all((*ns)->open_topic("t").value()), (std::vector<std::string>{"secret-0", "secret-1"}));
}

TEST_F(OtherUser, AnotherUsersObjectThisUserCouldOpenIsRefused) {
  // An object of another user that the OS lets this one open (mode 0666:
  // planted, or damaged) was used as a registry or a partition.
  const std::string planted_ns = guard_.ns();
  ASSERT_TRUE(Namespace::open_shared(planted_ns).is_ok());
  ASSERT_EQ(::chmod(("/dev/shm/" + registry_of(planted_ns)).c_str(), 0666), 0);
  // The user's own namespace, one of whose partitions root replaces with an
  // object of its own of the right size, open to all.
  ShmGuard users;
  const std::string own_ns = users.ns();
  const std::string partition = "rill." + own_ns + ".t.0";
  testing::ChildResult r = as_user([&](ChildChecks& check) {
    auto ns = Namespace::open_shared(own_ns);
    check.expect(ns.is_ok() && (*ns)->create_topic("t", small(1)).is_ok(), "create the user's topic");
    return check.exit_code();
  });
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_EQ(::unlink(("/dev/shm/" + partition).c_str()), 0);
  {
    const int fd = ::open(("/dev/shm/" + partition).c_str(), O_CREAT | O_EXCL | O_RDWR, 0666);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::fchmod(fd, 0666), 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(small(1).partition_bytes())), 0);
    ::close(fd);
  }
  const std::string user = account_->user;
  r = as_user([&](ChildChecks& check) {
    auto planted = Namespace::open_shared(planted_ns);
    check.expect(planted.status().code() == Code::kPermissionDenied, "planted registry: " + planted.status().to_string());
    check.expect(planted.status().message() ==
                     "namespace '" + planted_ns + "' is not open to user " + user + ": /dev/shm/" +
                         registry_of(planted_ns) + " belongs to user root (owner root, group root, mode 0666), not to "
                         "user " + user + ", and is not shared with a group of user " + user +
                         "; if it is not meant to be shared with you, ask root to remove it (`rill ns gc " +
                         planted_ns + "`)",
                 "message: " + planted.status().message());
    auto own = Namespace::open_shared(own_ns);
    if (!check.expect(own.is_ok(), "own namespace: " + own.status().to_string())) return 1;
    auto topic = (*own)->open_topic("t");
    check.expect(topic.status().code() == Code::kPermissionDenied &&
                     contains(topic.status().message(), "/dev/shm/" + partition + " belongs to user root") &&
                     contains(topic.status().message(), "the namespace is private to its owner"),
                 "planted partition: " + topic.status().to_string());
    return check.exit_code();
  });
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(access_of(registry_of(planted_ns)).mode, 0666u) << "unchanged";
}

TEST_F(OtherUser, AGroupNamespaceIsSharedWithItsMembers) {
  const std::string ns_name = guard_.ns();
  const TestAccount& a = *account_;
  auto ns = Namespace::open_shared(ns_name, {.group = a.group});
  ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
  ASSERT_TRUE((*ns)->create_topic("t", small(1)).is_ok());
  {
    Producer producer((*ns)->open_topic("t").value());
    ASSERT_TRUE(producer.send(std::nullopt, "from root").is_ok());
  }
  for (const std::string& object : guard_.objects()) {
    const Access access = access_of(object);
    EXPECT_EQ(access.owner, 0u) << object;
    EXPECT_EQ(access.group, a.group_gid) << object;
    EXPECT_EQ(access.mode, 0660u) << object;
  }

  // Not yet a member: denied, and told which group to join.
  testing::ChildResult r = as_user([&](ChildChecks& check) {
    auto opened = Namespace::open_shared(ns_name);
    check.expect(opened.status().code() == Code::kPermissionDenied, "open_shared: " + opened.status().to_string());
    const std::string m = opened ? std::string() : opened.status().message();
    check.expect(contains(m, "(owner root, group " + a.group + ", mode 0660); it is open to group '" + a.group +
                                 "': ask an administrator to add user " + a.user + " to it (`usermod -aG " + a.group +
                                 " " + a.user + "`, then log in again)"),
                 "message: " + m);
    const int fd = ::shm_open(("rill." + ns_name + ".t.0").c_str(), O_RDONLY, 0);
    check.expect(fd < 0 && errno == EACCES, "a non-member could open a partition read-only");
    return check.exit_code();
  });
  EXPECT_TRUE(r.ok()) << r.describe();

  ASSERT_TRUE(account_->join_group());
  r = as_user([&](ChildChecks& check) {
    auto opened = Namespace::open_shared(ns_name);
    if (!check.expect(opened.is_ok(), "member: open_shared: " + opened.status().to_string())) return 1;
    check.expect(Namespace::open_shared(ns_name, {.group = a.group}).is_ok(), "member: open_shared with its group");
    auto wrong = Namespace::open_shared(ns_name, {.group = a.primary});
    check.expect(wrong.status().code() == Code::kInvalidArgument &&
                     contains(wrong.status().message(), "was created for group '" + a.group + "', not '" + a.primary),
                 "member: another group: " + wrong.status().to_string());
    // Reads what root wrote, writes what root will read.
    auto t = (*opened)->open_topic("t");
    if (!check.expect(t.is_ok(), "open_topic: " + t.status().to_string())) return 1;
    check.expect(read_all(*t) == std::vector<std::string>{"from root"}, "member did not read root's record");
    Producer producer(*t);
    check.expect(producer.send(std::nullopt, "from member").is_ok(), "member cannot produce");
    // Makes a topic of its own: the same mode and group as root's.
    Status created = (*opened)->create_topic("u", small(1));
    if (!check.expect(created.is_ok(), "member: create_topic: " + created.to_string())) return 1;
    Producer mine((*opened)->open_topic("u").value());
    check.expect(mine.send("k", "made by member").is_ok(), "member cannot produce to its topic");
    // /dev/shm is sticky: root's topic is not the member's to delete, and
    // refusing leaves it whole (not unlisted with its objects leaked).
    Status deleted = (*opened)->delete_topic("t");
    check.expect(deleted.code() == Code::kPermissionDenied && contains(deleted.message(), "only that user (or root)"),
                 "member deleting root's topic: " + deleted.to_string());
    check.expect((*opened)->open_topic("t").is_ok(), "root's topic is gone after a refused delete");
    return check.exit_code();
  });
  EXPECT_TRUE(r.ok()) << r.describe();

  const Access made = access_of("rill." + ns_name + ".u.0");
  EXPECT_EQ(made.owner, a.uid);
  EXPECT_EQ(made.group, a.group_gid);
  EXPECT_EQ(made.mode, 0660u);
  EXPECT_EQ(read_all((*ns)->open_topic("t").value()), (std::vector<std::string>{"from root", "from member"}));
  EXPECT_EQ(read_all((*ns)->open_topic("u").value()), std::vector<std::string>{"made by member"});
}

TEST_F(OtherUser, OnlyMembersMayCreateANamespaceForAGroup) {
  const std::string ns_name = guard_.ns();
  const TestAccount& a = *account_;
  const testing::ChildResult r = as_user([&](ChildChecks& check) {
    auto opened = Namespace::open_shared(ns_name, {.group = a.group});
    check.expect(opened.status().code() == Code::kPermissionDenied, "open_shared: " + opened.status().to_string());
    check.expect(opened.status().message() ==
                     "namespace '" + ns_name + "': user " + a.user + " is not a member of group '" + a.group +
                         "', so it cannot open shared memory to it (an administrator can add it with `usermod -aG " +
                         a.group + " " + a.user + "`; then log in again)",
                 "message: " + opened.status().message());
    // Its own group works.
    auto own = Namespace::open_shared(ns_name, {.group = a.primary});
    check.expect(own.is_ok(), "with its own group: " + own.status().to_string());
    return check.exit_code();
  });
  EXPECT_TRUE(r.ok()) << r.describe();
  ASSERT_EQ(guard_.objects(), std::vector<std::string>{registry_of(ns_name)});
  const Access access = access_of(registry_of(ns_name));
  EXPECT_EQ(access.owner, a.uid);
  EXPECT_EQ(access.group, a.primary_gid);
  EXPECT_EQ(access.mode, 0660u);
}

TEST_F(OtherUser, RootWorkingInAUsersNamespaceLeavesItTheUsers) {
  const std::string ns_name = guard_.ns();
  const TestAccount& a = *account_;
  testing::ChildResult r = as_user([&](ChildChecks& check) {
    auto ns = Namespace::open_shared(ns_name);
    if (!check.expect(ns.is_ok(), "open_shared: " + ns.status().to_string())) return 1;
    check.expect((*ns)->create_topic("mine", small(1)).is_ok(), "create mine");
    Producer producer((*ns)->open_topic("mine").value());
    check.expect(producer.send(std::nullopt, "by user").is_ok(), "produce to mine");
    return check.exit_code();
  });
  ASSERT_TRUE(r.ok()) << r.describe();

  // Root (say, `sudo rill topic create`) adds a topic and writes to the user's.
  auto ns = Namespace::open_shared(ns_name);
  ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
  EXPECT_EQ((*ns)->owner_uid(), a.uid) << "whose root's objects become";
  ASSERT_TRUE((*ns)->create_topic("by-root", small(1)).is_ok());
  const Access made = access_of("rill." + ns_name + ".by-root.0");
  EXPECT_EQ(made.owner, a.uid) << "the namespace's owner, not root";
  EXPECT_EQ(made.mode, 0600u);
  {
    Producer producer((*ns)->open_topic("mine").value());
    ASSERT_TRUE(producer.send(std::nullopt, "by root").is_ok());
  }

  r = as_user([&](ChildChecks& check) {
    auto ns = Namespace::open_shared(ns_name);
    if (!check.expect(ns.is_ok(), "open_shared: " + ns.status().to_string())) return 1;
    check.expect(read_all((*ns)->open_topic("mine").value()) == std::vector<std::string>{"by user", "by root"},
                 "the user does not read root's record");
    auto theirs = (*ns)->open_topic("by-root");
    if (!check.expect(theirs.is_ok(), "open by-root: " + theirs.status().to_string())) return 1;
    Producer producer(*theirs);
    check.expect(producer.send(std::nullopt, "into root's topic").is_ok(), "produce to by-root");
    check.expect(read_all(*theirs) == std::vector<std::string>{"into root's topic"}, "read by-root");
    Status deleted = (*ns)->delete_topic("by-root");
    check.expect(deleted.is_ok(), "the user cannot delete the topic root made: " + deleted.to_string());
    return check.exit_code();
  });
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(guard_.objects(), (std::vector<std::string>{"rill." + ns_name + ".mine.0", registry_of(ns_name)}));
}

}  // namespace
}  // namespace rill
