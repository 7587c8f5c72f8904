// rill topic create | list | describe | delete, and the CLI's error contract.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "tests/tools/cli_harness.h"

namespace rill::cli::testing {
namespace {

using TopicCmd = CliTest;

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST_F(TopicCmd, CreateListDescribeDelete) {
  auto created = rill({"topic", "create", "orders", "--partitions", "3", "--segment-size", "64KiB", "--segments", "6"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(created.err, "");
  ASSERT_EQ(rill({"topic", "create", "alpha.b-c_d"}).exit_code, 0);

  auto list = rill({"topic", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out, "alpha.b-c_d\norders\n");

  auto objects = shm_objects(ns());
  EXPECT_EQ(objects.size(), 1u + 3 + 1) << "registry + 3 partitions of orders + 1 of alpha";

  rill({"produce", "orders", "-p", "1"}, "a\nb\n");
  auto d = rill({"topic", "describe", "orders"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_TRUE(contains(d.out, "topic            orders\n")) << d.out;
  EXPECT_TRUE(contains(d.out, "partitions       3\n")) << d.out;
  EXPECT_TRUE(contains(d.out, "6 x 64 KiB per partition")) << d.out;
  EXPECT_TRUE(contains(d.out, "max record size")) << d.out;
  const auto lines = split_lines(d.out);
  ASSERT_GE(lines.size(), 4u);
  // The per-partition table: partition, earliest, latest, retained.
  EXPECT_EQ(lines[lines.size() - 3].substr(0, 9), "        0");
  std::istringstream p1(lines[lines.size() - 2]);
  long long partition, earliest, latest, retained;
  p1 >> partition >> earliest >> latest >> retained;
  EXPECT_EQ(partition, 1);
  EXPECT_EQ(earliest, 0);
  EXPECT_EQ(latest, 2);
  EXPECT_EQ(retained, 2);

  auto del = rill({"topic", "delete", "orders"});
  ASSERT_EQ(del.exit_code, 0) << del.err;
  EXPECT_EQ(rill({"topic", "list"}).out, "alpha.b-c_d\n");
  EXPECT_EQ(shm_objects(ns()).size(), 2u);
}

TEST_F(TopicCmd, SizesAcceptUnits) {
  ASSERT_EQ(rill({"topic", "create", "a", "--segment-size", "1MiB"}).exit_code, 0);
  ASSERT_EQ(rill({"topic", "create", "b", "--segment-size", "8192", "--index-interval", "1KiB"}).exit_code, 0);
  // 4096000 = 1000 pages: a multiple of 4096 written in decimal units.
  ASSERT_EQ(rill({"topic", "create", "c", "--segment-size", "4096KB"}).exit_code, 0);
  EXPECT_TRUE(contains(rill({"topic", "describe", "a"}).out, "8 x 1 MiB per partition"));
  EXPECT_TRUE(contains(rill({"topic", "describe", "b"}).out, "8 x 8 KiB per partition"));
  EXPECT_TRUE(contains(rill({"topic", "describe", "b"}).out, "index interval   1 KiB"));
  EXPECT_TRUE(contains(rill({"topic", "describe", "c"}).out, "8 x 4000 KiB per partition"));
}

TEST_F(TopicCmd, ListOfAnUnusedNamespaceIsEmptyAndCreatesNothing) {
  auto list = rill({"topic", "list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_EQ(list.out, "");
  EXPECT_EQ(list.err, "");
  EXPECT_TRUE(shm_objects(ns()).empty());
}

// Every failure: non-zero exit, one "rill: error:" line, and no shared memory left behind.
struct BadCommand {
  const char* name;
  std::vector<std::string> args;
  const char* mentions;
};

class TopicCmdErrors : public CliTest, public ::testing::WithParamInterface<BadCommand> {};

TEST_P(TopicCmdErrors, OneErrorLineAndNothingCreated) {
  const BadCommand& c = GetParam();
  auto r = rill(c.args);
  expect_one_error_line(r, c.mentions);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(shm_objects(ns()).empty()) << shm_objects(ns()).front();
}

INSTANTIATE_TEST_SUITE_P(
    Cli, TopicCmdErrors,
    ::testing::Values(BadCommand{"unknown_flag", {"topic", "create", "t", "--bogus"}, "--bogus"},
                      BadCommand{"unknown_command", {"topics"}, "topics"},
                      BadCommand{"unknown_subcommand", {"topic", "frobnicate"}, "frobnicate"},
                      BadCommand{"missing_name", {"topic", "create"}, "NAME"},
                      BadCommand{"bad_name_space", {"topic", "create", "bad name"}, "bad name"},
                      BadCommand{"bad_name_dotdot", {"topic", "create", ".."}, "'..'"},
                      BadCommand{"bad_name_slash", {"topic", "create", "a/b"}, "a/b"},
                      BadCommand{"name_too_long", {"topic", "create", std::string(250, 'x')}, "249"},
                      BadCommand{"bad_size_unit", {"topic", "create", "t", "--segment-size", "4XB"}, "'4XB'"},
                      BadCommand{"bad_size_text", {"topic", "create", "t", "--segment-size", "big"}, "'big'"},
                      BadCommand{"size_not_pages", {"topic", "create", "t", "--segment-size", "5000"}, "4096"},
                      BadCommand{"bad_interval", {"topic", "create", "t", "--index-interval", "100"}, "power of two"},
                      BadCommand{"interval_past_32_bits",
                                 {"topic", "create", "t", "--index-interval", "4GiB"},
                                 "'4GiB' is too large: the index interval is a power of two from 64 B to 2 GiB"},
                      BadCommand{"interval_not_a_power_of_two",
                                 {"topic", "create", "t", "--index-interval", "3GiB"},
                                 "from 64 B to 2 GiB"},
                      BadCommand{"too_few_segments", {"topic", "create", "t", "--segments", "3"}, "at least 4"},
                      BadCommand{"zero_partitions", {"topic", "create", "t", "--partitions", "0"}, "partitions"},
                      BadCommand{"partitions_not_int", {"topic", "create", "t", "--partitions", "x"}, "--partitions"},
                      BadCommand{"describe_unknown", {"topic", "describe", "nope"}, "'nope' does not exist"},
                      BadCommand{"delete_unknown", {"topic", "delete", "nope"}, "'nope' does not exist"},
                      BadCommand{"produce_unknown", {"produce", "nope"}, "'nope' does not exist"},
                      BadCommand{"consume_unknown", {"consume", "nope", "-e"}, "'nope' does not exist"},
                      BadCommand{"bad_ns", {"--ns", "bad.ns", "topic", "list"}, "namespace name"}),
    [](const ::testing::TestParamInfo<BadCommand>& info) { return std::string(info.param.name); });

TEST_F(TopicCmd, TheLargestIndexIntervalTheMessageNamesIsAccepted) {
  auto r = rill({"topic", "create", "t", "--index-interval", "2GiB", "--segment-size", "64KiB"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(rill({"topic", "describe", "t"}).out, "index interval   2 GiB\n"));
}

TEST_F(TopicCmd, ControlCharactersOfWhatTheUserTypedAreShownEscaped) {
  // A name with an ESC sequence (it would turn the terminal red), a newline and a C1 control (CSI, 0x9b).
  const std::string name = "evil\x1b[31mred\nline\xc2\x9bx";
  auto r = rill({"topic", "create", name});
  expect_one_error_line(r, "'evil\\x1b[31mred\\nline\\xc2\\x9bx'");
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << "raw ESC on the terminal";
  EXPECT_EQ(r.err.find("\xc2\x9b"), std::string::npos) << "raw CSI on the terminal";
  EXPECT_TRUE(shm_objects(ns()).empty());
  // Flag values and CLI11's own messages go through the same printer.
  auto flag = rill({"topic", "create", "t", "--segment-size", "4\x1b]0;title\x07"});
  expect_one_error_line(flag, "4\\x1b]0;title\\x07");
  EXPECT_EQ(flag.err.find('\x1b'), std::string::npos);
  auto parse = rill({"topic", "create", "t", "--partitions", "\x1b[2J"});
  expect_one_error_line(parse, "\\x1b[2J");
  EXPECT_EQ(parse.err.find('\x1b'), std::string::npos);
  auto namespace_name = run_rill({"--ns", "n\x1bs", "topic", "list"});
  expect_one_error_line(namespace_name, "n\\x1bs");
  EXPECT_EQ(namespace_name.err.find('\x1b'), std::string::npos);
}

TEST_F(TopicCmd, CreatingTwiceFailsAndKeepsTheFirst) {
  ASSERT_EQ(rill({"topic", "create", "t", "--partitions", "2"}).exit_code, 0);
  auto again = rill({"topic", "create", "t", "--partitions", "5"});
  expect_one_error_line(again, "already exists");
  EXPECT_TRUE(contains(rill({"topic", "describe", "t"}).out, "partitions       2\n"));
}

TEST_F(TopicCmd, HelpExitsZeroAndDescribesFlags) {
  auto help = run_rill({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* word : {"topic", "produce", "consume", "demo", "--ns"})
    EXPECT_TRUE(contains(help.out, word)) << word;
  auto create = run_rill({"topic", "create", "--help"});
  EXPECT_EQ(create.exit_code, 0);
  for (const char* word : {"--partitions", "--segment-size", "--segments", "--index-interval", "MiB"})
    EXPECT_TRUE(contains(create.out, word)) << word;
  auto consume = run_rill({"consume", "--help"});
  EXPECT_EQ(consume.exit_code, 0);
  for (const char* word : {"-o", "-c", "-e", "-p", "-f", "--strict", "--wait", "%k", "s@"})
    EXPECT_TRUE(contains(consume.out, word)) << word;
  auto produce = run_rill({"produce", "--help"});
  EXPECT_EQ(produce.exit_code, 0);
  for (const char* word : {"-K", "-p", "--acks", "--max-block", "not sent", "not read"})
    EXPECT_TRUE(contains(produce.out, word)) << word;
}

TEST_F(TopicCmd, NamespaceComesFromRillNsWhenNoFlag) {
  auto r = run_rill({"topic", "create", "from-env"}, {}, {"RILL_NS=" + ns()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(rill({"topic", "list"}).out, "from-env\n");
  // --ns wins over RILL_NS, also after the subcommand.
  auto other = run_rill({"topic", "list", "--ns", ns() + "-other"}, {}, {"RILL_NS=" + ns()});
  EXPECT_EQ(other.exit_code, 0);
  EXPECT_EQ(other.out, "");
}

}  // namespace
}  // namespace rill::cli::testing
