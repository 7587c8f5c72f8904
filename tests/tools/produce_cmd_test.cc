// rill produce, checked by reading back with rill consume.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "rill/producer.h"
#include "rill/topic.h"
#include "tests/tools/cli_harness.h"

namespace rill::cli::testing {
namespace {

// One line of `-f '%p %o %K %k %s\n'`.
struct Line {
  int partition;
  long long offset;
  long long key_size;
  std::string key;
  std::string value;
};

std::vector<Line> parse(const std::vector<std::string>& lines) {
  std::vector<Line> out;
  for (const std::string& text : lines) {
    std::istringstream in(text);
    Line l;
    in >> l.partition >> l.offset >> l.key_size;
    in.get();
    std::string rest;
    std::getline(in, rest);
    if (l.key_size >= 0) {
      l.key = rest.substr(0, static_cast<std::size_t>(l.key_size));
      l.value = rest.substr(static_cast<std::size_t>(l.key_size) + 1);
    } else {
      l.value = rest.substr(1);  // "%k" printed nothing, then the space
    }
    out.push_back(l);
  }
  return out;
}

class ProduceCmd : public CliTest {
 protected:
  std::vector<Line> read_back(const std::string& topic) {
    auto r = rill({"consume", topic, "-o", "beginning", "-e", "-f", "%p %o %K %k %s\\n"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return parse(r.out_lines());
  }
  // The partition a key maps to, computed by the library, not by the CLI.
  static int partition_for(const std::string& key, int partitions) {
    auto ns = Namespace::in_process().value();
    TopicConfig config;
    config.partitions = partitions;
    config.segment_bytes = 4096;
    config.segment_count = 4;
    EXPECT_TRUE(ns->create_topic("p", config).is_ok());
    return Producer(ns->open_topic("p").value()).partition_for(key);
  }
};

TEST_F(ProduceCmd, KeyedLinesLandInTheirKeysPartitionInOrderWithDenseOffsets) {
  constexpr int kPartitions = 4;
  constexpr int kRecords = 2000;
  ASSERT_EQ(rill({"topic", "create", "t", "--partitions", std::to_string(kPartitions)}).exit_code, 0);
  std::string input;
  for (int i = 0; i < kRecords; ++i) input += "key" + std::to_string(i % 37) + ":value " + std::to_string(i) + "\n";
  auto produced = rill({"produce", "t", "-K", ":"}, input);
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  EXPECT_EQ(produced.out, "");
  EXPECT_EQ(produced.err, "");

  std::map<std::string, int> partition_of_key;
  for (int k = 0; k < 37; ++k)
    partition_of_key["key" + std::to_string(k)] = partition_for("key" + std::to_string(k), kPartitions);

  auto lines = read_back("t");
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kRecords));
  std::vector<long long> next_offset(kPartitions, 0);
  std::vector<int> last_index(kPartitions, -1);
  std::vector<bool> seen(kRecords, false);
  for (const Line& l : lines) {
    ASSERT_GE(l.partition, 0);
    ASSERT_LT(l.partition, kPartitions);
    EXPECT_EQ(l.offset, next_offset[l.partition]++) << "offsets are dense per partition";
    EXPECT_EQ(l.partition, partition_of_key.at(l.key)) << l.key;
    ASSERT_EQ(l.value.rfind("value ", 0), 0u) << l.value;
    const int i = std::stoi(l.value.substr(6));
    EXPECT_EQ(l.key, "key" + std::to_string(i % 37));
    EXPECT_GT(i, last_index[l.partition]) << "in order within the partition";
    last_index[l.partition] = i;
    EXPECT_FALSE(seen[i]) << "duplicate " << i;
    seen[i] = true;
  }
  for (int i = 0; i < kRecords; ++i) EXPECT_TRUE(seen[i]) << "missing " << i;
}

TEST_F(ProduceCmd, KeyDelimiterSplitsAtTheFirstAndLinesWithoutItHaveANullKey) {
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  ASSERT_EQ(rill({"produce", "t", "-K", ":"}, "a:1\nb:x:y\nno delimiter\n:empty key\nc:\n\nlast:no newline").exit_code,
            0);
  auto lines = read_back("t");
  ASSERT_EQ(lines.size(), 7u);
  const std::vector<std::pair<long long, std::string>> keys{{1, "a"}, {1, "b"}, {-1, ""},   {0, ""},
                                                            {1, "c"}, {-1, ""}, {4, "last"}};
  const std::vector<std::string> values{"1", "x:y", "no delimiter", "empty key", "", "", "no newline"};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].key_size, keys[i].first) << i;
    EXPECT_EQ(lines[i].key, keys[i].second) << i;
    EXPECT_EQ(lines[i].value, values[i]) << i;
  }
}

TEST_F(ProduceCmd, MultiCharacterDelimiter) {
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  ASSERT_EQ(rill({"produce", "t", "-K", "=>"}, "k1=>v1\nk2=v2\n").exit_code, 0);
  auto lines = read_back("t");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].key, "k1");
  EXPECT_EQ(lines[0].value, "v1");
  EXPECT_EQ(lines[1].key_size, -1);
  EXPECT_EQ(lines[1].value, "k2=v2");
}

TEST_F(ProduceCmd, WithoutKeysRecordsGoRoundRobin) {
  ASSERT_EQ(rill({"topic", "create", "t", "--partitions", "3"}).exit_code, 0);
  ASSERT_EQ(rill({"produce", "t"}, "a\nb\nc\nd\ne\nf\n").exit_code, 0);
  std::vector<int> per_partition(3, 0);
  for (const Line& l : read_back("t")) {
    EXPECT_EQ(l.key_size, -1);
    ++per_partition[l.partition];
  }
  EXPECT_EQ(per_partition, (std::vector<int>{2, 2, 2}));
}

TEST_F(ProduceCmd, ExplicitPartition) {
  ASSERT_EQ(rill({"topic", "create", "t", "--partitions", "3"}).exit_code, 0);
  ASSERT_EQ(rill({"produce", "t", "-p", "2", "-K", ":"}, "a:1\nb:2\nc:3\n").exit_code, 0);
  auto lines = read_back("t");
  ASSERT_EQ(lines.size(), 3u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].partition, 2);
    EXPECT_EQ(lines[i].offset, static_cast<long long>(i));
  }
  expect_one_error_line(rill({"produce", "t", "-p", "3"}, "x\n"), "partitions 0 to 2");
  EXPECT_EQ(read_back("t").size(), 3u);
}

TEST_F(ProduceCmd, EmptyInputSendsNothing) {
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  auto r = rill({"produce", "t"}, "");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(read_back("t").empty());
}

TEST_F(ProduceCmd, OversizeRecordIsRejectedNamingItsLineAndEarlierLinesStaySent) {
  ASSERT_EQ(rill({"topic", "create", "t", "--segment-size", "4KiB", "--segments", "4"}).exit_code, 0);
  const std::string input = "first\nsecond\n" + std::string(5000, 'x') + "\nnever\n";
  auto r = rill({"produce", "t"}, input);
  expect_one_error_line(r, "line 3");
  EXPECT_NE(r.err.find("--segment-size"), std::string::npos) << "the error says what to do: " << r.err;
  auto lines = read_back("t");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].value, "first");
  EXPECT_EQ(lines[1].value, "second");
}

TEST_F(ProduceCmd, AcksAcceptsKafkasValuesOnly) {
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  for (const char* acks : {"0", "1", "all"})
    EXPECT_EQ(rill({"produce", "t", "--acks", acks}, "x\n").exit_code, 0) << acks;
  EXPECT_EQ(read_back("t").size(), 3u);
  expect_one_error_line(rill({"produce", "t", "--acks", "2"}, "y\n"), "--acks");
  expect_one_error_line(rill({"produce", "t", "-K", ""}, "y\n"), "delimiter");
  EXPECT_EQ(read_back("t").size(), 3u);
}

TEST_F(ProduceCmd, VerboseSummaryGoesToStderrOnly) {
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  auto r = rill({"-v", "produce", "t"}, "a\nb\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("sent 2 records"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace rill::cli::testing
