// Test support for permission tests: the access of a /dev/shm object, a
// topic read back whole, and (as root) a throw-away user and groups and a
// fixture that runs code as that user in a child process.
#pragma once

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "rill/rill.h"
#include "child_process.h"
#include "shm_guard.h"

namespace rill::testing {

// Every value of the topic, partition by partition, from the earliest offset.
inline std::vector<std::string> read_all(const std::shared_ptr<Topic>& topic) {
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
inline Access access_of(const std::string& object) {
  struct stat st {};
  if (::stat(("/dev/shm/" + object).c_str(), &st) != 0) return {static_cast<uid_t>(-1), static_cast<gid_t>(-1), 0};
  return {st.st_uid, st.st_gid, static_cast<unsigned>(st.st_mode & 07777)};
}

inline std::string registry_of(const std::string& ns) { return "rill." + ns + ".registry"; }

// Runs a shell command quietly; true if it exited 0.
inline bool run(const std::string& command) { return std::system(("{ " + command + "; } >/dev/null 2>&1").c_str()) == 0; }

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
  ChildResult as_user(const std::function<int(ChildChecks&)>& body) {
    Children children;
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
    if (pid < 0) return ChildResult{};
    return children.wait_one(pid, std::chrono::seconds(60));
  }

  std::unique_ptr<TestAccount> account_;
  ShmGuard guard_;  // destroyed before account_: the objects go, then the user
};

}  // namespace rill::testing
