// rill --data-dir: durable namespaces through the CLI. Records produced at
// every durability level are consumed back after a reboot (the namespace's
// shared memory removed) with the defaults a user gets; topic describe shows
// the folder and the log's ends; wrong folders, bad flags and a damaged
// catalog are one-line errors that change nothing stored.
#include <unistd.h>

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

// `rill topic delete` while another `rill produce --durability written` still
// writes the topic: that producer's next sends fail with one error line
// saying the topic was deleted, and the topic made again under the same
// name holds only its own records.
TEST_F(DurableCmd, DeletingATopicWhileAProducerWritesItFailsThatProducerNotTheNewTopic) {
  rill::testing::TempDir dir;
  const std::string data = dir / "data";
  ASSERT_EQ(rill({"--data-dir", data, "topic", "create", "t"}).exit_code, 0);
  int feed[2];
  ASSERT_EQ(::pipe(feed), 0);
  RillProcess producer(with_ns({"produce", "t", "--durability", "written"}), {}, feed[0]);
  ::close(feed[0]);
  const std::string first = numbers(0, 10);
  ASSERT_EQ(::write(feed[1], first.data(), first.size()), static_cast<ssize_t>(first.size()));
  // Until its records are in the files (it holds the flush lease).
  for (int tries = 0; tries < 500; ++tries) {
    if (contains(rill({"topic", "describe", "t"}).out, "10               10")) break;
    ::usleep(10'000);
  }
  ASSERT_TRUE(contains(rill({"topic", "describe", "t"}).out, "10               10"))
      << rill({"topic", "describe", "t"}).out;
  ASSERT_EQ(rill({"topic", "delete", "t"}).exit_code, 0);
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  ASSERT_EQ(rill({"produce", "t", "--durability", "written"}, "new-0\nnew-1\n").exit_code, 0);
  const std::string more = numbers(10, 20);
  (void)!::write(feed[1], more.data(), more.size());
  ::close(feed[1]);
  CliResult stale = producer.finish();
  expect_one_error_line(stale, "the topic was deleted");
  auto consumed = rill({"consume", "t", "-o", "beginning", "-e"});
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  EXPECT_EQ(consumed.out, "new-0\nnew-1\n");
}

}  // namespace
}  // namespace rill::cli::testing
