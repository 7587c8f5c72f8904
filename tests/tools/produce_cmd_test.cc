// rill produce, checked by reading back with rill consume.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rill/compression.h"
#include "rill/consumer.h"
#include "rill/producer.h"
#include "rill/topic.h"
#include "tests/tools/cli_harness.h"

namespace rill::cli::testing {
namespace {

using namespace std::chrono_literals;

// An unlinked temporary file holding `content`, open at its start: a
// regular-file stdin (`rill produce t < file`).
class InputFile {
 public:
  explicit InputFile(const std::string& content) {
    char path[] = "/tmp/rill-produce-test-XXXXXX";
    fd_ = ::mkstemp(path);
    if (fd_ < 0) throw std::runtime_error("mkstemp failed");
    ::unlink(path);
    for (std::size_t done = 0; done < content.size();) {
      const ssize_t n = ::write(fd_, content.data() + done, content.size() - done);
      if (n <= 0) throw std::runtime_error("writing the input file failed");
      done += static_cast<std::size_t>(n);
    }
    ::lseek(fd_, 0, SEEK_SET);
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// A pipe that a child process fills with `prefix`, then `zeros` zero bytes
// (no newline), then closes: to rill, a line that does not end.
class ZeroStream {
 public:
  ZeroStream(const std::string& prefix, std::size_t zeros) {
    static char chunk[1 << 16];  // zeros; allocated before fork
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    writer_ = ::fork();
    if (writer_ < 0) throw std::runtime_error("fork failed");
    if (writer_ == 0) {
      ::close(p[0]);
      if (::write(p[1], prefix.data(), prefix.size()) != static_cast<ssize_t>(prefix.size())) ::_exit(1);
      for (std::size_t left = zeros; left > 0;) {
        const ssize_t n = ::write(p[1], chunk, std::min(left, sizeof chunk));
        if (n <= 0) ::_exit(0);  // the reader went away (EPIPE)
        left -= static_cast<std::size_t>(n);
      }
      ::_exit(0);
    }
    ::close(p[1]);
    fd_ = p[0];
  }
  ~ZeroStream() {
    ::close(fd_);
    ::kill(writer_, SIGKILL);
    ::waitpid(writer_, nullptr, 0);
  }
  ZeroStream(const ZeroStream&) = delete;
  ZeroStream& operator=(const ZeroStream&) = delete;
  int fd() const { return fd_; }

 private:
  pid_t writer_ = -1;
  int fd_ = -1;
};

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
  CliResult produce_from(int fd, std::vector<std::string> args) {
    RillProcess p(with_ns(std::move(args)), {}, fd);
    return p.finish({}, 120s);  // a guard against a hang, not a measure
  }
  // "max record size  N B" of `rill topic describe`.
  std::uint64_t max_record_bytes(const std::string& topic) {
    auto d = rill({"topic", "describe", topic});
    const std::string label = "max record size  ";
    const std::size_t at = d.out.find(label);
    EXPECT_NE(at, std::string::npos) << d.out;
    return at == std::string::npos ? 0 : std::stoull(d.out.substr(at + label.size()));
  }
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

// --exclusive holds the partitions it sends to: another producer's lines
// are refused (nothing stored) until it exits, then accepted after its own.
TEST_F(ProduceCmd, ExclusiveHoldsThePartitionUntilItExits) {
  ASSERT_EQ(rill({"topic", "create", "t", "--partitions", "2"}).exit_code, 0);
  int in[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);  // the write end stays ours alone: closing it is the holder's EOF
  RillProcess holder(with_ns({"produce", "t", "-p", "0", "--exclusive"}), {}, in[0]);
  ::close(in[0]);
  ASSERT_EQ(::write(in[1], "first\n", 6), 6);
  for (int waited = 0; read_back("t").empty() && waited < 30'000; waited += 20) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(read_back("t").size(), 1u) << "the exclusive producer never sent its first line";

  auto refused = rill({"produce", "t", "-p", "0"}, "second\n");
  EXPECT_NE(refused.exit_code, 0);
  expect_one_error_line(refused, "leased to an exclusive producer");
  EXPECT_NE(refused.err.find("process " + std::to_string(holder.pid())), std::string::npos) << refused.err;
  EXPECT_EQ(rill({"produce", "t", "-p", "1"}, "elsewhere\n").exit_code, 0) << "a partition it never sent to";

  ::close(in[1]);
  EXPECT_EQ(holder.finish({}, 60s).exit_code, 0) << holder.err();
  ASSERT_EQ(rill({"produce", "t", "-p", "0"}, "third\n").exit_code, 0);
  auto lines = read_back("t");
  std::vector<std::string> partition0;
  for (const Line& l : lines)
    if (l.partition == 0) partition0.push_back(std::to_string(l.offset) + " " + l.value);
  EXPECT_EQ(partition0, (std::vector<std::string>{"0 first", "1 third"}));
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
  EXPECT_NE(r.err.find("line 3 was not sent, and the rest of the input was not read"), std::string::npos) << r.err;
  auto lines = read_back("t");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].value, "first");
  EXPECT_EQ(lines[1].value, "second");
}

TEST_F(ProduceCmd, ALineThatNeverEndsIsRefusedAtTheLargestRecordInBoundedMemory) {
  // `rill produce < /dev/zero`: the line has no newline. It must be refused
  // once it is longer than the largest record (a 64 KiB segment here), not
  // after all of it was read into memory.
  constexpr std::size_t kSegment = 64 << 10;
  ASSERT_EQ(rill({"topic", "create", "t", "--segment-size", "64KiB", "--segments", "4"}).exit_code, 0);
  const std::uint64_t max_record = max_record_bytes("t");
  ASSERT_GT(max_record, 0u);
  // The same command on a small input: what rill itself takes.
  RillProcess small(with_ns({"produce", "t", "-p", "0"}));
  const CliResult baseline = small.finish("x\n");
  ASSERT_EQ(baseline.exit_code, 0) << baseline.err;
  ASSERT_GT(baseline.max_rss_kib, 0);

  ZeroStream endless("first\nsecond\n", std::size_t{256} << 20);  // more than any bound below
  const CliResult r = produce_from(endless.fd(), {"produce", "t", "-p", "0"});
  EXPECT_FALSE(r.timed_out);
  expect_one_error_line(r, "line 3");
  EXPECT_NE(r.err.find("longer than " + std::to_string(max_record) + " bytes"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--segment-size"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the rest of the input was not read"), std::string::npos) << r.err;
  // Input is read in bounded chunks: rill held at most a few segments' worth more than on a tiny input.
  EXPECT_LT(r.max_rss_kib, baseline.max_rss_kib + static_cast<long>((4 * kSegment + (32 << 20)) >> 10))
      << "baseline " << baseline.max_rss_kib << " KiB";
  // The records before it stay; nothing of the refused line is stored.
  auto lines = read_back("t");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].value, "x");
  EXPECT_EQ(lines[1].value, "first");
  EXPECT_EQ(lines[2].value, "second");
}

TEST_F(ProduceCmd, FromAFileTheLinesNotSentAreCounted) {
  ASSERT_EQ(rill({"topic", "create", "t", "--segment-size", "4KiB", "--segments", "4"}).exit_code, 0);
  // Too long for the line reader; the rest of it, an empty line and a last line without newline follow.
  InputFile input("first\nsecond\n" + std::string(100'000, 'x') + "\n\nlast");
  auto r = produce_from(input.fd(), {"produce", "t"});
  expect_one_error_line(r, "line 3 (2 records before it were sent)");
  EXPECT_NE(r.err.find("3 lines were not sent: line 3 and the 2 lines after it"), std::string::npos) << r.err;
  auto lines = read_back("t");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].value, "second");
}

TEST_F(ProduceCmd, ALineThatFitsOnlyWithoutTheRecordHeaderIsRefusedBySendAlike) {
  // The reader lets through lines up to the largest frame; the record header
  // makes one of them too large, which send() refuses, writing nothing.
  ASSERT_EQ(rill({"topic", "create", "t", "--segment-size", "4KiB", "--segments", "4"}).exit_code, 0);
  const std::uint64_t max_record = max_record_bytes("t");
  ASSERT_GT(max_record, 64u);
  InputFile input("a\n" + std::string(max_record - 8, 'y') + "\nb\nc\n");
  auto r = produce_from(input.fd(), {"produce", "t"});
  expect_one_error_line(r, "line 2 (1 records before it were sent)");
  EXPECT_NE(r.err.find("--segment-size"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3 lines were not sent: line 2 and the 2 lines after it"), std::string::npos) << r.err;
  ASSERT_EQ(read_back("t").size(), 1u);

  // The largest value that fits (a frame is the value and a 48-byte record header) is sent whole.
  const std::string largest(max_record - 48, 'z');
  ASSERT_EQ(rill({"produce", "t"}, largest + "\n").exit_code, 0);
  auto lines = read_back("t");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].value, largest);
}

TEST_F(ProduceCmd, ASendHeldUpByAStoppedProducerFailsSayingHowManyLinesWereNotSent) {
  // This test process holds a claim and does not publish it (as a stopped
  // producer would): once rill's records fill the ring up to it, a send
  // waits --max-block and fails, writing nothing.
  ASSERT_EQ(rill({"topic", "create", "t", "--segment-size", "4KiB", "--segments", "4"}).exit_code, 0);
  auto space = Namespace::open_shared(ns()).value();
  Producer holder(space->open_topic("t").value());
  auto reservation = holder.reserve(std::nullopt, 4);
  ASSERT_TRUE(reservation.is_ok()) << reservation.status().to_string();
  constexpr int kLines = 3000;  // far more than 4 segments of 4 KiB hold
  std::string text;
  for (int i = 0; i < kLines; ++i) text += "line " + std::to_string(i) + "\n";
  InputFile input(text);
  auto r = produce_from(input.fd(), {"produce", "t", "--max-block", "50ms"});
  expect_one_error_line(r, "held a claim the roll waits for");
  EXPECT_NE(r.err.find("producer process " + std::to_string(::getpid())), std::string::npos) << r.err;
  const std::size_t at = r.err.find("line ");
  ASSERT_NE(at, std::string::npos);
  const long long failed = std::stoll(r.err.substr(at + 5));
  ASSERT_GT(failed, 1);
  ASSERT_LE(failed, kLines);
  EXPECT_NE(r.err.find("(" + std::to_string(failed - 1) + " records before it were sent)"), std::string::npos) << r.err;
  const long long not_sent = kLines - failed + 1;
  EXPECT_NE(r.err.find(std::to_string(not_sent) + " lines were not sent: line " + std::to_string(failed) + " and the " +
                       std::to_string(not_sent - 1) + " lines after it"),
            std::string::npos)
      << r.err;
  // Stored: the held claim's offset and the lines before the failed one, nothing more.
  auto info = space->describe_topic("t");
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->partitions[0].latest_offset, failed);
  holder.publish(*reservation);
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

// --compression: lines go in batches, each compressed in the ring, and
// `rill consume` reads every one back, in order, offsets dense. (Keys change
// every 100 lines: a batch frame holds consecutive lines bound for one
// partition, as send_batch() claims them.)
TEST_F(ProduceCmd, CompressionStoresBatchesCompressedAndConsumeReadsThemBack) {
  constexpr int kRecords = 3000;
  const auto key_of = [](int i) { return "user-" + std::to_string(i / 100 % 7); };
  std::string input;
  for (int i = 0; i < kRecords; ++i)
    input += key_of(i) + ":{\"event\":\"page_view\",\"seq\":" + std::to_string(i) +
             ",\"country\":\"DE\",\"device\":\"mobile\"}\n";
  for (const char* codec : {"gzip", "snappy", "lz4", "zstd"}) {
    SCOPED_TRACE(codec);
    const std::string topic = std::string("t-") + codec;
    ASSERT_EQ(rill({"topic", "create", topic, "--partitions", "2"}).exit_code, 0);
    InputFile file(input);
    auto produced = produce_from(file.fd(), {"-v", "produce", topic, "-K", ":", "--compression", codec});
    ASSERT_EQ(produced.exit_code, 0) << produced.err;
    EXPECT_NE(produced.err.find("sent " + std::to_string(kRecords) + " records"), std::string::npos) << produced.err;

    const std::vector<Line> lines = read_back(topic);
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(kRecords));
    std::vector<long long> next_offset(2, 0);
    std::vector<int> last(2, -1);
    for (const Line& l : lines) {
      EXPECT_EQ(l.offset, next_offset[l.partition]++) << "offsets are dense per partition";
      const int i = std::stoi(l.value.substr(l.value.find("\"seq\":") + 6));
      EXPECT_EQ(l.key, key_of(i));
      EXPECT_GT(i, last[l.partition]) << "in order within the partition";
      last[l.partition] = i;
    }

    // What the ring holds: batches compressed with the codec, far smaller
    // than their records.
    auto space = Namespace::open_shared(ns()).value();
    Consumer c(space->open_topic(topic).value(), {.start_at_earliest = true});
    ASSERT_TRUE(c.assign_all().is_ok());
    Compression named = Compression::kNone;
    ASSERT_TRUE(parse_compression(codec, &named));
    std::size_t compressed = 0, records = 0;
    std::map<const std::byte*, std::pair<std::size_t, std::size_t>> frames;  // frame: its size, its values' bytes
    for (PollResult r = c.poll(0s); !r.records.empty(); r = c.poll(0s)) {
      ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
      for (const RecordView& v : r.records) {
        ++records;
        if ((v.attributes() & 7) == 0) continue;
        EXPECT_EQ(v.attributes() & 7, static_cast<int>(named));
        frames[v.frame()].first = v.frame_size();
        frames[v.frame()].second += v.value().size();
        ++compressed;
      }
    }
    EXPECT_EQ(records, static_cast<std::size_t>(kRecords));
    for (const auto& [frame, sizes] : frames)
      EXPECT_LT(sizes.first, sizes.second / 2) << "a frame of " << sizes.second << " bytes of values";
    EXPECT_GT(compressed, records * 9 / 10) << "all but a record alone at a batch's end arrive compressed";
  }
}

// Batching never holds a line back while produce waits for input: from a
// pipe that has given one line, that line is in the topic before the next
// comes.
TEST_F(ProduceCmd, WithCompressionALineIsSentBeforeProduceWaitsForMore) {
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  RillProcess producer(with_ns({"produce", "t", "--compression", "zstd"}), {}, p[0]);
  ::close(p[0]);
  ASSERT_EQ(::write(p[1], "first\n", 6), 6);
  auto space = Namespace::open_shared(ns()).value();
  Consumer c(space->open_topic("t").value(), {.start_at_earliest = true});
  ASSERT_TRUE(c.assign_all().is_ok());
  PollResult r = c.poll(60s);  // a guard against a hang, not a measure
  ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
  ASSERT_EQ(r.records.size(), 1u) << "the line is sent while produce waits on the pipe";
  EXPECT_EQ(r.records[0].value(), "first");
  ASSERT_EQ(::write(p[1], "second\nthird\n", 13), 13);
  ::close(p[1]);
  EXPECT_EQ(producer.finish({}, 60s).exit_code, 0) << producer.err();
  const std::vector<Line> lines = read_back("t");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2].value, "third");
}

TEST_F(ProduceCmd, ABadCompressionIsAUsageErrorAndStoresNothing) {
  ASSERT_EQ(rill({"topic", "create", "t"}).exit_code, 0);
  for (const char* bad : {"brotli", "ZSTD", "", "lz4hc"}) {
    SCOPED_TRACE(bad);
    auto r = rill({"produce", "t", "--compression", bad}, "x\ny\n");
    EXPECT_EQ(r.exit_code, 2) << "a usage error, as any bad flag";
    expect_one_error_line(r, "--compression");
  }
  EXPECT_TRUE(read_back("t").empty());
  EXPECT_EQ(rill({"produce", "t", "--compression", "none"}, "x\n").exit_code, 0);
  EXPECT_EQ(read_back("t").size(), 1u);
}

// As ASendHeldUpByAStoppedProducerFailsSayingHowManyLinesWereNotSent, with
// batches: the lines of the batch that failed count as not sent, none of
// them is stored, and the lines before it are.
TEST_F(ProduceCmd, WithCompressionAFailedBatchCountsItsLinesAsNotSent) {
  ASSERT_EQ(rill({"topic", "create", "t", "--segment-size", "4KiB", "--segments", "4"}).exit_code, 0);
  auto space = Namespace::open_shared(ns()).value();
  Producer holder(space->open_topic("t").value());
  auto reservation = holder.reserve(std::nullopt, 4);
  ASSERT_TRUE(reservation.is_ok()) << reservation.status().to_string();
  constexpr int kLines = 30000;  // compressed, still far more than 4 segments of 4 KiB hold
  std::string text;
  for (int i = 0; i < kLines; ++i) text += "line " + std::to_string(i) + " " + std::to_string(i * 7919 % 10007) + "\n";
  InputFile input(text);
  auto r = produce_from(input.fd(), {"produce", "t", "--max-block", "50ms", "--compression", "zstd"});
  expect_one_error_line(r, "held a claim the roll waits for");
  const std::size_t at = r.err.find("line ");
  ASSERT_NE(at, std::string::npos);
  const long long failed = std::stoll(r.err.substr(at + 5));
  ASSERT_GT(failed, 1);
  ASSERT_LE(failed, kLines);
  EXPECT_NE(r.err.find("(" + std::to_string(failed - 1) + " records before it were sent)"), std::string::npos) << r.err;
  const long long not_sent = kLines - failed + 1;
  EXPECT_NE(r.err.find(std::to_string(not_sent) + " lines were not sent: line " + std::to_string(failed) + " and the " +
                       std::to_string(not_sent - 1) + " lines after it"),
            std::string::npos)
      << r.err;
  auto info = space->describe_topic("t");
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->partitions[0].latest_offset, failed) << "the held claim and the lines before the failed batch";
  holder.publish(*reservation);
  const std::vector<Line> lines = read_back("t");
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(failed));
  for (long long i = 1; i < failed; ++i)
    EXPECT_EQ(lines[static_cast<std::size_t>(i)].value.rfind("line " + std::to_string(i - 1) + " ", 0), 0u);
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
