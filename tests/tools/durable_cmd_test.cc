// rill --data-dir: durable namespaces through the CLI. Records produced at
// every durability level are consumed back after a reboot (the namespace's
// shared memory removed) with the defaults a user gets; topic describe shows
// the folder and the log's ends; wrong folders, bad flags and a damaged
// catalog are one-line errors that change nothing stored.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "io/file_system.h"
#include "tests/support/temp_dir.h"
#include "tests/tools/cli_harness.h"

namespace rill::cli::testing {
namespace {

using DurableCmd = CliTest;

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

std::string numbers(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += std::to_string(i) + "\n";
  return s;
}

TEST_F(DurableCmd, EveryLevelSurvivesARebootAndReadsBackInOrder) {
  rill::testing::TempDir dir;
  const std::string data = dir / "data";
  auto created = rill({"--data-dir", data, "topic", "create", "t", "--segment-size", "64KiB", "--segments", "4"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  ASSERT_EQ(rill({"produce", "t", "--durability", "memory"}, numbers(0, 3000)).exit_code, 0);
  ASSERT_EQ(rill({"produce", "t", "--durability", "written"}, numbers(3000, 6000)).exit_code, 0);
  auto synced = rill({"produce", "t", "--durability", "fsync"}, numbers(6000, 6200));
  ASSERT_EQ(synced.exit_code, 0) << synced.err;

  auto describe = rill({"topic", "describe", "t"});
  ASSERT_EQ(describe.exit_code, 0) << describe.err;
  EXPECT_TRUE(contains(describe.out, "durable          yes: files in " + data)) << describe.out;
  EXPECT_TRUE(contains(describe.out, "log start          log end      written end      durable end  bytes on disk"))
      << describe.out;

  remove_shm_objects(ns());  // a reboot
  auto consumed = rill({"--data-dir", data, "consume", "t", "-o", "beginning", "-e"});
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  EXPECT_EQ(consumed.out, numbers(0, 6200)) << "every record, once, in order";
  auto again = rill({"consume", "t", "-o", "beginning", "-e", "-f", "%o:%s\\n", "-c", "2"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "0:0\n1:1\n") << "without --data-dir: the recorded folder";
}

TEST_F(DurableCmd, WrongFoldersAndBadFlagsAreOneLineErrorsThatStoreNothing) {
  rill::testing::TempDir dir;
  ASSERT_EQ(rill({"--data-dir", dir / "a", "topic", "create", "t"}).exit_code, 0);
  auto other = rill({"--data-dir", dir / "b", "topic", "list"});
  expect_one_error_line(other, "keeps its files in " + dir / "a" + ", not in " + dir / "b");
  EXPECT_FALSE(io::file_system().exists(dir / "b/catalog").value());

  auto bad = rill({"produce", "t", "--durability", "sometimes"}, "x\n");
  EXPECT_EQ(bad.exit_code, 2);
  expect_one_error_line(bad, "'sometimes' is not memory, written or fsync");
  auto size = rill({"--data-dir", dir / "a", "topic", "create", "u", "--file-segment-size", "1KiB"});
  expect_one_error_line(size, "file segment size must be 64 KiB to 2 GiB");
  auto retention = rill({"--data-dir", dir / "a", "topic", "create", "u", "--retention-ms", "-5"});
  expect_one_error_line(retention, "--retention-ms");
  EXPECT_EQ(rill({"topic", "list"}).out, "t\n") << "nothing created";
  EXPECT_EQ(io::file_system().list(dir / "a").value(), (std::vector<std::string>{"catalog", "t-0"}));

  // A memory-only namespace is not made durable by naming a folder.
  ASSERT_EQ(rill({"--ns", ns() + "-mem", "topic", "create", "m"}).exit_code, 0);
  auto late = rill({"--ns", ns() + "-mem", "--data-dir", dir / "c", "topic", "list"});
  expect_one_error_line(late, "exists in memory only");
  remove_shm_objects(ns() + "-mem");
}

TEST_F(DurableCmd, ADamagedCatalogIsReportedAndTheFilesAreLeftAlone) {
  rill::testing::TempDir dir;
  ASSERT_EQ(rill({"--data-dir", dir.path(), "topic", "create", "t"}).exit_code, 0);
  ASSERT_EQ(rill({"produce", "t", "--durability", "written"}, numbers(0, 10)).exit_code, 0);
  remove_shm_objects(ns());
  {
    std::ofstream catalog(dir / "catalog", std::ios::app);
    catalog << "topic planted partitions=1\n";
  }
  auto list = rill({"--data-dir", dir.path(), "topic", "list"});
  expect_one_error_line(list, dir / "catalog" + " line");
  EXPECT_TRUE(io::file_system().exists(dir / "t-0/00000000000000000000.log").value()) << "the records are left";
}

}  // namespace
}  // namespace rill::cli::testing
