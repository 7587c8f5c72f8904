// rill topic describe / consume -e / produce over a partition whose header
// words were damaged in /dev/shm (issue 11, part 3): each says so in one
// `rill: error: ... corrupt ...` line naming the partition and the word, exits
// non-zero, never hangs, and nothing stored changes - the damaged word put
// back, every record reads as produced.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/client/object_names.h"
#include "core/log/partition_ring.h"
#include "tests/tools/cli_harness.h"

namespace rill::cli::testing {
namespace {

constexpr std::size_t kTailAt = offsetof(log::PartitionHeader, tail);
constexpr std::size_t kCurrentGenerationAt = offsetof(log::PartitionHeader, current_generation);
constexpr std::uint64_t kCountMask = ((1ull << 20) - 1) << 28;  // the tail word's record count
constexpr std::uint64_t kSegmentBytes = 16384;
constexpr int kRecords = 1000;

std::string numbered_lines(int n) {
  std::string s;
  // Padded so that kRecords of them span several 16 KiB segments.
  for (int i = 0; i < n; ++i) s += "v" + std::to_string(i) + std::string(40, '.') + "\n";
  return s;
}

// A partition's shared-memory object, mapped as a hostile process would.
class MappedPartition {
 public:
  explicit MappedPartition(const std::string& object) {
    const int fd = ::shm_open(("/" + object).c_str(), O_RDWR, 0);
    EXPECT_GE(fd, 0) << object;
    if (fd < 0) return;
    struct stat st {};
    ::fstat(fd, &st);
    void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    EXPECT_NE(p, MAP_FAILED);
    if (p != MAP_FAILED) bytes_ = {static_cast<std::byte*>(p), static_cast<std::size_t>(st.st_size)};
  }
  ~MappedPartition() {
    if (!bytes_.empty()) ::munmap(bytes_.data(), bytes_.size());
  }
  MappedPartition(const MappedPartition&) = delete;
  MappedPartition& operator=(const MappedPartition&) = delete;

  std::uint64_t word(std::size_t at) const {
    std::uint64_t v;
    std::memcpy(&v, bytes_.data() + at, sizeof v);
    return v;
  }
  void set_word(std::size_t at, std::uint64_t v) { std::memcpy(bytes_.data() + at, &v, sizeof v); }
  // Where segment slot `slot`'s header is.
  static std::size_t segment(std::uint64_t slot) { return log::kPartitionHeaderBytes + slot * kSegmentBytes; }
  // What no command may change: the tail, current_generation and every
  // segment (headers, index, records) - not the slots, where commands
  // register, nor the doorbell.
  std::vector<std::byte> stored() const {
    std::vector<std::byte> out(bytes_.begin() + log::kPartitionHeaderBytes, bytes_.end());
    for (std::size_t at : {kTailAt, kCurrentGenerationAt}) {
      const std::uint64_t w = word(at);
      const auto* b = reinterpret_cast<const std::byte*>(&w);
      out.insert(out.end(), b, b + sizeof w);
    }
    return out;
  }

 private:
  std::span<std::byte> bytes_;
};

class DamageCmd : public CliTest {
 protected:
  // Topic t: 1000 records over generations 0-3 or more of 8 segments of 16 KiB
  // (nothing retired yet, so every record is there to lose).
  void SetUp() override {
    ASSERT_EQ(rill({"topic", "create", "t", "--segment-size", "16KiB", "--segments", "8"}).exit_code, 0);
    const CliResult produced = rill({"produce", "t"}, numbered_lines(kRecords));
    ASSERT_EQ(produced.exit_code, 0) << produced.err;
    partition_ = std::make_unique<MappedPartition>(client::partition_object_name(ns(), "t", 0));
    ASSERT_GE(partition_->word(kCurrentGenerationAt), 3u) << "the records span four segments or more";
    ASSERT_LE(partition_->word(kCurrentGenerationAt), 5u) << "and none is retired (8 segments keep 5 past ones)";
  }

  MappedPartition& partition() { return *partition_; }

  // Applies `damage` (which names the word it changes), then runs describe,
  // consume -e from the beginning and from 5 before the end, and produce:
  // each fails in one line naming `mentions`, none hangs or writes, and
  // once `mend` puts the word back every record reads as produced.
  void expect_refused(const std::function<void()>& damage, const std::function<void()>& mend,
                      const std::string& mentions) {
    damage();
    const std::vector<std::byte> before = partition().stored();
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"topic", "describe", "t"}, {"consume", "t", "-e", "-o", "beginning"},
          {"consume", "t", "-e", "-o", "-5"}, {"produce", "t"}}) {
      std::string joined;
      for (const std::string& a : args) joined += a + " ";
      SCOPED_TRACE(joined);
      const CliResult r = rill(args, args[0] == "produce" ? "written over a damaged partition\n" : "");
      EXPECT_FALSE(r.timed_out);
      expect_one_error_line(r, "corrupt");
      EXPECT_NE(r.err.find("partition 0"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(mentions), std::string::npos) << r.err;
      EXPECT_EQ(r.out, "") << "nothing read from a damaged partition";
    }
    EXPECT_TRUE(before == partition().stored()) << "a command changed the damaged partition";
    mend();
    const CliResult all = rill({"consume", "t", "-e", "-o", "beginning"});
    EXPECT_EQ(all.exit_code, 0) << all.err;
    EXPECT_EQ(all.out, numbered_lines(kRecords));
  }

  // Changes the word at `at` with `change`, and puts it back.
  void expect_word_refused(std::size_t at, const std::function<std::uint64_t(std::uint64_t)>& change,
                           const std::string& mentions) {
    const std::uint64_t sound = partition().word(at);
    expect_refused([&] { partition().set_word(at, change(sound)); }, [&] { partition().set_word(at, sound); },
                   mentions);
  }

 private:
  std::unique_ptr<MappedPartition> partition_;
};

TEST_F(DamageCmd, CurrentGenerationFarAhead) {
  // Was: consume -e spun at 100 % CPU forever.
  expect_word_refused(kCurrentGenerationAt, [](std::uint64_t) { return 1ull << 40; },
                      "current_generation 1099511627776");
}

TEST_F(DamageCmd, TailCountAtItsMaximum) {
  // Was: consume -e slept forever, waiting for records nobody would write.
  expect_word_refused(kTailAt, [](std::uint64_t t) { return t | kCountMask; }, "counts 1048575 records");
}

TEST_F(DamageCmd, TailOneRecordPastEveryClaim) {
  // Was: consume -e slept forever at the last record.
  expect_word_refused(kTailAt, [](std::uint64_t t) { return t + (1ull << 28); }, "the tail word");
}

TEST_F(DamageCmd, TailZeroed) {
  // Was: describe showed 0 records and produce overwrote offset 0, exit 0.
  expect_word_refused(kTailAt, [](std::uint64_t) { return 0; }, "the tail word 0");
}

TEST_F(DamageCmd, TailCountZeroed) {
  // Was: an offset read as one record from -o beginning and as another from -o -5.
  expect_word_refused(kTailAt, [](std::uint64_t t) { return t & ~kCountMask; }, "the tail word");
}

TEST_F(DamageCmd, SegmentGenerationOverwritten) {
  // Was: the records of generation 0 skipped without a warning.
  expect_word_refused(MappedPartition::segment(0), [](std::uint64_t g) { return g + 8; },
                      "segment slot 0 holds generation 8");
}

TEST_F(DamageCmd, BaseOffsetAtTheInt64Limit) {
  // Was: "records retained -9223372036854774807", and produce returned 0
  // with records nobody could read.
  expect_word_refused(MappedPartition::segment(3) + offsetof(log::SegmentHeader, base_offset),
                      [](std::uint64_t) { return static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()); },
                      "base_offset 9223372036854775807");
}

TEST_F(DamageCmd, TailZeroedInTheFirstGeneration) {
  // The tag of generation 0 still matches: the record committed where the
  // tail points gives it away. (The default 4 MiB segments: all in one.)
  ASSERT_EQ(rill({"topic", "create", "one"}).exit_code, 0);
  ASSERT_EQ(rill({"produce", "one"}, numbered_lines(10)).exit_code, 0);
  MappedPartition one(client::partition_object_name(ns(), "one", 0));
  const std::uint64_t sound = one.word(kTailAt);
  one.set_word(kTailAt, 0);
  const std::vector<std::byte> before = one.stored();
  const CliResult produced = rill({"produce", "one"}, "over offset 0\n");
  expect_one_error_line(produced, "points at a committed record");
  EXPECT_TRUE(before == one.stored());
  one.set_word(kTailAt, sound);
  EXPECT_EQ(rill({"consume", "one", "-e", "-o", "beginning"}).out, numbered_lines(10));
}

}  // namespace
}  // namespace rill::cli::testing
