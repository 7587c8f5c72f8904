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
#include "tests/tools/cli_harness.h"

namespace rill {
namespace {

using testing::ShmGuard;

constexpr TopicConfig kSmall{.partitions = 1, .segment_bytes = 16384, .segment_count = 4, .index_interval = 256};

TopicConfig small(std::int32_t partitions) {
  TopicConfig c = kSmall;
  c.partitions = partitions;
  return c;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Every value of the topic, partition by partition, from the earliest offset.
std::vector<std::string> read_all(const std::shared_ptr<Topic>& topic) {
  Consumer consumer(topic, {.start_at_earliest = true});
  std::vector<std::string> values;
  if (!consumer.assign_all().is_ok()) return {"<assign failed>"};
  for (;;) {
    PollResult r = consumer.poll(std::chrono::nanoseconds(0));
    if (!r.status.is_ok()) return {"<poll failed: " + r.status.to_string() + ">"};
    if (r.records.empty()) return values;
    for (const RecordView& v : r.records) values.emplace_back(v.value());
  }
}

struct Access {
  uid_t owner;
  gid_t group;
  unsigned mode;
};
Access access_of(const std::string& object) {
  struct stat st {};
  if (::stat(("/dev/shm/" + object).c_str(), &st) != 0) return {static_cast<uid_t>(-1), static_cast<gid_t>(-1), 0};
  return {st.st_uid, st.st_gid, static_cast<unsigned>(st.st_mode & 07777)};
}

std::string registry_of(const std::string& ns) { return "rill." + ns + ".registry"; }

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
  EXPECT_EQ(header->version, 2u);
  EXPECT_EQ(header->object_mode, 0660u);
  EXPECT_EQ(header->group_id, static_cast<std::uint32_t>(::getegid()));

  // Version 1 had no access fields: whatever those bytes hold, it is private.
  header->version = 1;
  auto v1 = Namespace::open_shared(guard.ns());
  ASSERT_TRUE(v1.is_ok()) << v1.status().to_string();
  ASSERT_TRUE((*v1)->create_topic("t", small(1)).is_ok());
  EXPECT_EQ(access_of("rill." + guard.ns() + ".t.0").mode, 0600u);

  header->version = 3;
  auto v3 = Namespace::open_shared(guard.ns());
  ASSERT_EQ(v3.status().code(), Code::kCorrupt);
  EXPECT_TRUE(contains(v3.status().message(), "has registry version 3, this build reads versions 1 to 2"))
      << v3.status().message();

  header->version = 2;
  header->object_mode = 0666;
  auto odd = Namespace::open_shared(guard.ns());
  ASSERT_EQ(odd.status().code(), Code::kCorrupt);
  EXPECT_TRUE(contains(odd.status().message(), "records object mode 0666; only 0600 and 0660 are valid"))
      << odd.status().message();
}

TEST(GroupNamespace, TheCliGroupFlag) {
  ShmGuard guard;
  using cli::testing::run_rill;
  const std::string group = ipc::group_name(::getegid());
  auto created = run_rill({"--ns", guard.ns(), "--group", group, "topic", "create", "t", "--segment-size", "64KiB"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  for (const std::string& object : guard.objects()) {
    EXPECT_EQ(access_of(object).mode, 0660u) << object;
    EXPECT_EQ(access_of(object).group, ::getegid()) << object;
  }
  EXPECT_EQ(run_rill({"--ns", guard.ns(), "produce", "t"}, "one\ntwo\n").exit_code, 0);
  auto consumed = run_rill({"--ns", guard.ns(), "--group", group, "consume", "t", "-o", "beginning", "-e", "-f", "%s\n"});
  EXPECT_EQ(consumed.out, "one\ntwo\n") << consumed.err;

  auto unknown = run_rill({"--ns", guard.ns(), "--group", "no-such-group-rill", "topic", "list"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(unknown.err, "rill: error: namespace '" + guard.ns() +
                             "': group 'no-such-group-rill' does not exist (see `getent group`; create one with "
                             "`groupadd no-such-group-rill`)\n");
}

// ---------------------------------------------------------------- another user (root only)

// Runs a shell command quietly; true if it exited 0.
bool run(const std::string& command) { return std::system(("{ " + command + "; } >/dev/null 2>&1").c_str()) == 0; }

// A user rillu<pid> whose primary group is rillp<pid>, and a group rillg<pid>
// it is not (yet) in. Removed by the destructor.
class TestAccount {
 public:
  static std::unique_ptr<TestAccount> create(std::string* why_not) {
    auto a = std::unique_ptr<TestAccount>(new TestAccount(std::to_string(::getpid())));
    a->remove();  // leftovers of an earlier run with this pid
    if (!run("groupadd " + a->primary) || !run("groupadd " + a->group) ||
        !run("useradd -M -s /usr/sbin/nologin -g " + a->primary + " " + a->user)) {
      *why_not = "could not create user " + a->user + " and groups " + a->primary + ", " + a->group;
      return nullptr;
    }
    struct passwd* pw = ::getpwnam(a->user.c_str());
    struct group* gr = ::getgrnam(a->group.c_str());
    if (pw == nullptr || gr == nullptr) {
      *why_not = "created user " + a->user + " but cannot look it up";
      return nullptr;
    }
    a->uid = pw->pw_uid;
    a->primary_gid = pw->pw_gid;
    a->group_gid = gr->gr_gid;
    return a;
  }
  ~TestAccount() { remove(); }
  TestAccount(const TestAccount&) = delete;
  TestAccount& operator=(const TestAccount&) = delete;

  bool join_group() { return run("usermod -aG " + group + " " + user); }

  const std::string user, group, primary;
  uid_t uid = 0;
  gid_t primary_gid = 0, group_gid = 0;

 private:
  explicit TestAccount(const std::string& id) : user("rillu" + id), group("rillg" + id), primary("rillp" + id) {}
  void remove() {
    run("userdel " + user);
    run("groupdel " + group);
    run("groupdel " + primary);
  }
};

// A child cannot use gtest's assertions: it collects failures in its report.
class ChildChecks {
 public:
  explicit ChildChecks(std::string& report) : report_(report) {}
  bool expect(bool ok, const std::string& what) {
    if (!ok) {
      ++failures_;
      report_ += what + "\n";
    }
    return ok;
  }
  int exit_code() const { return failures_ == 0 ? 0 : 1; }

 private:
  std::string& report_;
  int failures_ = 0;
};

class OtherUser : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates a user (useradd) and runs a process as it";
    if (!run("command -v useradd && command -v groupadd && command -v usermod && command -v userdel"))
      GTEST_SKIP() << "needs useradd, groupadd, usermod and userdel (Debian: apt-get install passwd)";
    std::string why;
    account_ = TestAccount::create(&why);
    ASSERT_NE(account_, nullptr) << why;
  }

  // Runs `body` in a child process of the test user, with the groups
  // /etc/group gives it now. Returns the child's result.
  testing::ChildResult as_user(const std::function<int(ChildChecks&)>& body) {
    testing::Children children;
    const TestAccount& a = *account_;
    const pid_t pid = children.spawn("as " + a.user, [&](std::string& report) {
      if (::initgroups(a.user.c_str(), a.primary_gid) != 0 || ::setgid(a.primary_gid) != 0 || ::setuid(a.uid) != 0) {
        report = std::string("cannot become ") + a.user + ": " + std::strerror(errno);
        return 2;
      }
      if (::geteuid() != a.uid || ::setuid(0) == 0) {
        report = "still root";
        return 2;
      }
      ChildChecks check(report);
      return body(check);
    });
    if (pid < 0) return testing::ChildResult{};
    return children.wait_one(pid, std::chrono::seconds(60));
  }

  std::unique_ptr<TestAccount> account_;
  ShmGuard guard_;  // destroyed before account_: the objects go, then the user
};

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
    // Nor with the CLI, whose error is one line.
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--ns", ns_name, "topic", "list"},
          std::vector<std::string>{"--ns", ns_name, "consume", "t", "-o", "beginning", "-e"},
          std::vector<std::string>{"--ns", ns_name, "topic", "create", "mine"}}) {
      const cli::testing::CliResult cli = cli::testing::run_rill(args, "x\n");
      check.expect(cli.exit_code == 1 && cli.out.empty() && cli.err_lines().size() == 1 &&
                       contains(cli.err, "rill: error: namespace '" + ns_name + "' is not open to user " + user),
                   "rill " + args[2] + ": exit " + std::to_string(cli.exit_code) + ", out '" + cli.out + "', err '" +
                       cli.err + "'");
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
    auto cli = cli::testing::run_rill({"--ns", planted_ns, "topic", "create", "t"});
    check.expect(cli.exit_code == 1 && cli.err_lines().size() == 1 && contains(cli.err, "belongs to user root"),
                 "rill topic create: " + cli.err);
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
    // And through the CLI.
    auto produced = cli::testing::run_rill({"--ns", ns_name, "--group", a.group, "produce", "t"}, "from cli\n");
    check.expect(produced.exit_code == 0, "rill produce: " + produced.err);
    auto consumed =
        cli::testing::run_rill({"--ns", ns_name, "consume", "t", "-o", "beginning", "-e", "-f", "%s\n"});
    check.expect(consumed.out == "from root\nfrom member\nfrom cli\n", "rill consume: " + consumed.out + consumed.err);
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
  EXPECT_EQ(read_all((*ns)->open_topic("t").value()),
            (std::vector<std::string>{"from root", "from member", "from cli"}));
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
    auto cli = cli::testing::run_rill({"--ns", ns_name, "--group", a.group, "topic", "create", "t"});
    check.expect(cli.exit_code == 1 && cli.err_lines().size() == 1 && contains(cli.err, "is not a member of group"),
                 "rill topic create: " + cli.err);
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
  // Anyone may create a namespace first (`default` too): the CLI tells root
  // whose its records become, on every command, before it writes any.
  const cli::testing::CliResult listed = cli::testing::run_rill({"--ns", ns_name, "topic", "list"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.err, "rill: warning: namespace '" + ns_name + "' belongs to user " + a.user +
                            ": the topics and records root makes in it are theirs to read (use --ns to pick a "
                            "namespace of root's own)\n");
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
