// Who may use a shared namespace, through the CLI: --group, and another
// user's refusals as the one-line errors `rill` prints (the library's side is
// tests/core/client/permissions_test.cc). OtherUser runs as root: it creates
// a throw-away user and groups and runs `rill` as that user.
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ipc/shm_region.h"
#include "rill/rill.h"
#include "tests/support/other_user.h"
#include "cli_harness.h"

namespace rill::cli::testing {
namespace {

using rill::testing::access_of;
using rill::testing::ChildChecks;
using rill::testing::OtherUser;
using rill::testing::read_all;
using rill::testing::registry_of;
using rill::testing::ShmGuard;
using rill::testing::TestAccount;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

constexpr TopicConfig kSmall{.partitions = 1, .segment_bytes = 16384, .segment_count = 4, .index_interval = 256};

TEST(GroupNamespaceCmd, TheGroupFlag) {
  ShmGuard guard;
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

using OtherUserCmd = OtherUser;

TEST_F(OtherUserCmd, APrivateNamespaceIsClosedToOtherUsersWithOneLineErrors) {
  const std::string ns_name = guard_.ns();
  auto ns = Namespace::open_shared(ns_name).value();
  ASSERT_TRUE(ns->create_topic("t", kSmall).is_ok());
  {
    Producer producer(ns->open_topic("t").value());
    ASSERT_TRUE(producer.send(std::nullopt, "secret").is_ok());
  }
  const std::vector<std::string> objects = guard_.objects();
  const std::string user = account_->user;
  const auto r = as_user([&](ChildChecks& check) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--ns", ns_name, "topic", "list"},
          std::vector<std::string>{"--ns", ns_name, "consume", "t", "-o", "beginning", "-e"},
          std::vector<std::string>{"--ns", ns_name, "produce", "t"},
          std::vector<std::string>{"--ns", ns_name, "topic", "create", "mine"}}) {
      const CliResult cli = run_rill(args, "x\n");
      check.expect(cli.exit_code == 1 && cli.out.empty() && cli.err_lines().size() == 1 &&
                       contains(cli.err, "rill: error: namespace '" + ns_name + "' is not open to user " + user),
                   "rill " + args[2] + ": exit " + std::to_string(cli.exit_code) + ", out '" + cli.out + "', err '" +
                       cli.err + "'");
    }
    return check.exit_code();
  });
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(guard_.objects(), objects) << "nothing created or removed";
  EXPECT_EQ(read_all(ns->open_topic("t").value()), std::vector<std::string>{"secret"}) << "nothing written";
}

TEST_F(OtherUserCmd, APlantedRegistryIsRefused) {
  const std::string planted_ns = guard_.ns();
  ASSERT_TRUE(Namespace::open_shared(planted_ns).is_ok());
  ASSERT_EQ(::chmod(("/dev/shm/" + registry_of(planted_ns)).c_str(), 0666), 0);
  const auto r = as_user([&](ChildChecks& check) {
    auto cli = run_rill({"--ns", planted_ns, "topic", "create", "t"});
    check.expect(cli.exit_code == 1 && cli.err_lines().size() == 1 && contains(cli.err, "belongs to user root"),
                 "rill topic create: " + cli.err);
    return check.exit_code();
  });
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(guard_.objects(), std::vector<std::string>{registry_of(planted_ns)}) << "no topic was made";
  EXPECT_EQ(access_of(registry_of(planted_ns)).mode, 0666u) << "unchanged";
}

TEST_F(OtherUserCmd, AMemberProducesAndConsumesAndANonMemberCannotCreateForTheGroup) {
  const std::string ns_name = guard_.ns();
  const TestAccount& a = *account_;
  auto refused = as_user([&](ChildChecks& check) {
    auto cli = run_rill({"--ns", ns_name, "--group", a.group, "topic", "create", "t"});
    check.expect(cli.exit_code == 1 && cli.err_lines().size() == 1 && contains(cli.err, "is not a member of group"),
                 "rill topic create: " + cli.err);
    return check.exit_code();
  });
  EXPECT_TRUE(refused.ok()) << refused.describe();
  EXPECT_TRUE(guard_.objects().empty()) << "a refused create makes nothing";

  auto ns = Namespace::open_shared(ns_name, {.group = a.group}).value();
  ASSERT_TRUE(ns->create_topic("t", kSmall).is_ok());
  {
    Producer producer(ns->open_topic("t").value());
    ASSERT_TRUE(producer.send(std::nullopt, "from root").is_ok());
  }
  ASSERT_TRUE(account_->join_group());
  const auto r = as_user([&](ChildChecks& check) {
    auto produced = run_rill({"--ns", ns_name, "--group", a.group, "produce", "t"}, "from cli\n");
    check.expect(produced.exit_code == 0, "rill produce: " + produced.err);
    auto consumed = run_rill({"--ns", ns_name, "consume", "t", "-o", "beginning", "-e", "-f", "%s\n"});
    check.expect(consumed.out == "from root\nfrom cli\n", "rill consume: " + consumed.out + consumed.err);
    return check.exit_code();
  });
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(read_all(ns->open_topic("t").value()), (std::vector<std::string>{"from root", "from cli"}));
}

TEST_F(OtherUserCmd, RootIsWarnedWhoseNamespaceItWritesIn) {
  const std::string ns_name = guard_.ns();
  const TestAccount& a = *account_;
  const auto r = as_user([&](ChildChecks& check) {
    auto ns = Namespace::open_shared(ns_name);
    check.expect(ns.is_ok() && (*ns)->create_topic("mine", kSmall).is_ok(), "create mine");
    return check.exit_code();
  });
  ASSERT_TRUE(r.ok()) << r.describe();
  // Anyone may create a namespace first (`default` too): the CLI tells root
  // whose its records become, on every command, before it writes any.
  const CliResult listed = run_rill({"--ns", ns_name, "topic", "list"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out, "mine\n");
  EXPECT_EQ(listed.err, "rill: warning: namespace '" + ns_name + "' belongs to user " + a.user +
                            ": the topics and records root makes in it are theirs to read (use --ns to pick a "
                            "namespace of root's own)\n");
}

}  // namespace
}  // namespace rill::cli::testing
