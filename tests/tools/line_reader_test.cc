// LineReader: lines of any input, in memory bounded by the longest accepted line.
#include "tools/rill/line_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace rill::cli {
namespace {

// An unlinked temporary file holding `content`, open at its start.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char path[] = "/tmp/rill-line-reader-test-XXXXXX";
    fd_ = ::mkstemp(path);
    if (fd_ < 0) throw std::runtime_error("mkstemp failed");
    ::unlink(path);
    if (::write(fd_, content.data(), content.size()) != static_cast<ssize_t>(content.size()))
      throw std::runtime_error("write failed");
    ::lseek(fd_, 0, SEEK_SET);
  }
  ~TempFile() { ::close(fd_); }
  int fd() const { return fd_; }
  off_t read_so_far() const { return ::lseek(fd_, 0, SEEK_CUR); }

 private:
  int fd_ = -1;
};

std::vector<std::string> all_lines(LineReader& reader) {
  std::vector<std::string> lines;
  std::string_view line;
  LineReader::Next got;
  while ((got = reader.next(&line)) == LineReader::Next::kLine) lines.emplace_back(line);
  EXPECT_EQ(got, LineReader::Next::kEnd);
  return lines;
}

TEST(CliLineReader, SplitsAtNewlinesAndKeepsALastLineWithoutOne) {
  TempFile f("a\n\nbc\nlast");
  LineReader reader(f.fd(), 100);
  EXPECT_EQ(all_lines(reader), (std::vector<std::string>{"a", "", "bc", "last"}));
  TempFile empty("");
  LineReader none(empty.fd(), 100);
  EXPECT_TRUE(all_lines(none).empty());
  TempFile trailing("x\n");
  LineReader one(trailing.fd(), 100);
  EXPECT_EQ(all_lines(one), (std::vector<std::string>{"x"}));
}

TEST(CliLineReader, LinesAcrossChunksAreWhole) {
  // Lines of lengths around the chunk size straddle chunk boundaries.
  const std::size_t chunk = LineReader::kChunkBytes;
  std::vector<std::string> want;
  std::string input;
  for (std::size_t length : {chunk - 1, chunk, chunk + 1, std::size_t{3}, 3 * chunk + 5}) {
    want.push_back(std::string(length, static_cast<char>('a' + want.size())));
    input += want.back() + "\n";
  }
  TempFile f(input);
  LineReader reader(f.fd(), 4 * chunk);
  EXPECT_EQ(all_lines(reader), want);
}

TEST(CliLineReader, ALineLongerThanTheMaximumIsReportedWithoutReadingTheRestOfIt) {
  const std::size_t max_line = 1000;
  const std::string input = "ok\n" + std::string(max_line, 'x') + "\n" + std::string(4 << 20, 'y') + "\nafter\n";
  TempFile f(input);
  LineReader reader(f.fd(), max_line);
  std::string_view line;
  ASSERT_EQ(reader.next(&line), LineReader::Next::kLine);
  EXPECT_EQ(line, "ok");
  ASSERT_EQ(reader.next(&line), LineReader::Next::kLine);
  EXPECT_EQ(line, std::string(max_line, 'x')) << "a line of exactly the maximum is a line";
  ASSERT_EQ(reader.next(&line), LineReader::Next::kTooLong);
  // It stopped within a chunk of the line's max_line + 1st byte, not at its end 4 MiB on.
  EXPECT_LE(f.read_so_far(), static_cast<off_t>(3 + max_line + 1 + max_line + 1 + LineReader::kChunkBytes));
  // count_rest(): the long line and the one after it.
  auto rest = reader.count_rest();
  ASSERT_TRUE(rest.is_ok());
  EXPECT_EQ(*rest, 2u);
}

TEST(CliLineReader, TheMaximumAppliesToLinesGatheredAcrossChunks) {
  const std::size_t max_line = 2 * LineReader::kChunkBytes + 10;
  TempFile f(std::string(max_line, 'a') + "\n" + std::string(max_line + 1, 'b') + "\n");
  LineReader reader(f.fd(), max_line);
  std::string_view line;
  ASSERT_EQ(reader.next(&line), LineReader::Next::kLine);
  EXPECT_EQ(line.size(), max_line);
  EXPECT_EQ(reader.next(&line), LineReader::Next::kTooLong);
  EXPECT_EQ(*reader.count_rest(), 1u);
}

TEST(CliLineReader, CountRestCountsWhatFollowsTheLastLineReturned) {
  TempFile f("one\ntwo\n\nfour\nfive");
  LineReader reader(f.fd(), 100);
  std::string_view line;
  ASSERT_EQ(reader.next(&line), LineReader::Next::kLine);
  EXPECT_EQ(line, "one");
  auto rest = reader.count_rest();
  ASSERT_TRUE(rest.is_ok());
  EXPECT_EQ(*rest, 4u) << "two, an empty line, four, and five without a newline";

  TempFile done("only\n");
  LineReader at_end(done.fd(), 100);
  ASSERT_EQ(at_end.next(&line), LineReader::Next::kLine);
  EXPECT_EQ(*at_end.count_rest(), 0u);
}

TEST(CliLineReader, ReadyTellsWhetherTheNextLineIsInHandWithoutReading) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_EQ(::write(p[1], "one\ntwo\nthr", 11), 11);
  LineReader reader(p[0], 100);
  EXPECT_FALSE(reader.ready()) << "nothing read yet";
  std::string_view line;
  ASSERT_EQ(reader.next(&line), LineReader::Next::kLine);
  EXPECT_EQ(line, "one");
  EXPECT_TRUE(reader.ready()) << "\"two\" is in the chunk already";
  ASSERT_EQ(reader.next(&line), LineReader::Next::kLine);
  EXPECT_FALSE(reader.ready()) << "\"thr\" has no end yet: next() would wait on the pipe";
  ASSERT_EQ(::write(p[1], "ee\n", 3), 3);
  ::close(p[1]);
  ASSERT_EQ(reader.next(&line), LineReader::Next::kLine);
  EXPECT_EQ(line, "three");
  EXPECT_FALSE(reader.ready()) << "the end of the input is not known until read";
  EXPECT_EQ(reader.next(&line), LineReader::Next::kEnd);
  EXPECT_TRUE(reader.ready());
  ::close(p[0]);
}

TEST(CliLineReader, AReadErrorIsReported) {
  LineReader reader(-1, 100);
  std::string_view line;
  EXPECT_EQ(reader.next(&line), LineReader::Next::kError);
  EXPECT_EQ(reader.error(), EBADF);
}

}  // namespace
}  // namespace rill::cli
