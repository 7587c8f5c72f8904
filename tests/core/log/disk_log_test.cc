// core/log/disk_log: a durable partition's segment files. Records appended
// are read back in order with their checksums, across file rolls and
// reopenings; a torn tail is cut at reopening; a power loss keeps every
// record synced; damage below a sync mark is reported with file and byte.
#include "core/log/disk_log.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/log/disk_format.h"
#include "support/faulty_file_system.h"
#include "support/frames.h"
#include "support/temp_dir.h"

namespace rill::log {
namespace {

using testing::FaultyFileSystem;
using testing::TempDir;

std::string value_of(std::int64_t offset) { return "value-" + std::to_string(offset) + std::string(offset % 37, 'x'); }

// Frames of records from `first` on, the ring's way: single records, batches
// and, now and then, an abandoned claim.
struct Frames {
  std::vector<std::byte> bytes;
  std::int64_t next = 0;
  std::vector<std::int64_t> abandoned;  // offsets no record holds

  void record(std::int64_t offset) {
    const std::string v = value_of(offset);
    const std::string key = "k" + std::to_string(offset % 5);
    const std::size_t at = grow(test::record_size(v.size(), key));
    const std::uint64_t word = test::encode_record(bytes.data() + at, offset, 1000 * offset, key, v);
    std::memcpy(bytes.data() + at, &word, 8);
  }
  void add(std::mt19937_64& rng, int records) {
    for (int i = 0; i < records;) {
      const int kind = static_cast<int>(rng() % 10);
      if (kind < 6) {
        record(next++);
        ++i;
      } else if (kind < 9) {
        const int n = 1 + static_cast<int>(rng() % 20);
        std::vector<std::string> values;
        for (int k = 0; k < n; ++k) values.push_back(value_of(next + k));
        const std::size_t at = grow(test::batch_size(values));
        const std::uint64_t word = test::encode_batch(bytes.data() + at, next, 1000 * next, values);
        std::memcpy(bytes.data() + at, &word, 8);
        next += n;
        i += n;
      } else {
        const std::uint32_t covered = 1 + static_cast<std::uint32_t>(rng() % 3);
        const std::size_t at = grow(64);
        const std::uint64_t word = encode_abandoned(bytes.data() + at, 64, next, covered);
        std::memcpy(bytes.data() + at, &word, 8);
        for (std::uint32_t k = 0; k < covered; ++k) abandoned.push_back(next + k);
        next += covered;
      }
    }
  }
  std::vector<std::byte> take() { return std::exchange(bytes, {}); }

 private:
  std::size_t grow(std::size_t n) {
    const std::size_t at = bytes.size();
    bytes.resize(at + ((n + 7) & ~std::size_t{7}));
    return at;
  }
};

struct Read {
  std::vector<std::int64_t> offsets;
  std::int64_t abandoned = 0;
  Status status;
};

// Everything from `from` to the log's end, record by record, checksums verified.
Read read_all(const DiskLog& log, std::int64_t from) {
  Read r;
  std::int64_t next = from;
  std::uint32_t inner = 0;
  RecordView views[7];
  while (next < log.end_offset()) {
    auto chunk = log.locate(next);
    if (!chunk) {
      r.status = chunk.status();
      return r;
    }
    // A batch found by locate() starts before `next`: take what is before it.
    // A frame found by locate() may start before `next`: a batch is taken from
    // `next` on (inner records in); an abandoned claim is passed whole.
    if (chunk->first_offset < next) {
      std::uint64_t word;
      std::memcpy(&word, chunk->file->bytes().data() + chunk->position, 8);
      if (commit_kind(word) == kKindBatch)
        inner = static_cast<std::uint32_t>(next - chunk->first_offset);
      else
        next = chunk->first_offset;
    }
    while (chunk->position < chunk->end) {
      auto got = read_chunk(*chunk, 0, &next, &inner, views, 7, true);
      if (!got) {
        r.status = got.status();
        return r;
      }
      r.abandoned += static_cast<std::int64_t>(got->abandoned);
      for (std::size_t i = 0; i < got->views; ++i) {
        const RecordView& v = views[i];
        EXPECT_EQ(v.value(), value_of(v.offset())) << "offset " << v.offset();
        EXPECT_TRUE(v.verify_checksum()) << "offset " << v.offset();
        r.offsets.push_back(v.offset());
      }
      if (got->views == 0 && got->abandoned == 0) break;
    }
  }
  return r;
}

// The offsets from..to-1 that hold records.
std::vector<std::int64_t> expected(const Frames& f, std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> v;
  for (std::int64_t o = from; o < to; ++o)
    if (std::find(f.abandoned.begin(), f.abandoned.end(), o) == f.abandoned.end()) v.push_back(o);
  return v;
}

const DiskLogConfig kSmallFiles{.partition = 0, .file_bytes = 16384, .index_interval = 256, .permissions = 0600};

TEST(DiskLog, AppendsAndReadsBackAcrossFilesAndReopenings) {
  TempDir dir;
  std::mt19937_64 rng(1);
  Frames frames;
  frames.next = 1000;  // a log may start anywhere
  {
    auto log = DiskLog::open(io::file_system(), dir / "t-0", kSmallFiles, 1000);
    ASSERT_TRUE(log.is_ok()) << log.status().to_string();
    for (int round = 0; round < 40; ++round) {
      frames.add(rng, 1 + static_cast<int>(rng() % 40));
      Status s = (*log)->append(frames.take(), round % 3 == 0);
      ASSERT_TRUE(s.is_ok()) << s.to_string();
    }
    EXPECT_EQ((*log)->end_offset(), frames.next);
    EXPECT_EQ((*log)->start_offset(), 1000);
    Read all = read_all(**log, 1000);
    ASSERT_TRUE(all.status.is_ok()) << all.status.to_string();
    EXPECT_EQ(all.offsets, expected(frames, 1000, frames.next));
    EXPECT_EQ(all.abandoned, static_cast<std::int64_t>(frames.abandoned.size()));
  }
  auto names = io::file_system().list(dir / "t-0").value();
  EXPECT_GT(names.size(), 6u) << "several files of 16 KiB";
  EXPECT_EQ(names.front(), "00000000000000001000.index");
  EXPECT_EQ(names[1], "00000000000000001000.log");

  auto log = DiskLog::open(io::file_system(), dir / "t-0", kSmallFiles, 0);
  ASSERT_TRUE(log.is_ok()) << log.status().to_string();
  EXPECT_EQ((*log)->recovery().bytes_truncated, 0u);
  EXPECT_EQ((*log)->end_offset(), frames.next);
  // From every offset, a reader finds the same records from there on.
  for (std::int64_t from = 1000; from < frames.next; from += 1 + static_cast<std::int64_t>(rng() % 50)) {
    Read part = read_all(**log, from);
    ASSERT_TRUE(part.status.is_ok()) << part.status.to_string();
    EXPECT_EQ(part.offsets, expected(frames, from, frames.next)) << "from " << from;
  }
  // Appends go on where the log ended.
  frames.add(rng, 30);
  ASSERT_TRUE((*log)->append(frames.take(), true).is_ok());
  EXPECT_EQ(read_all(**log, 1000).offsets, expected(frames, 1000, frames.next));
  EXPECT_EQ((*log)->locate(999).status().code(), Code::kOffsetOutOfRange);
  EXPECT_EQ((*log)->locate(frames.next).status().code(), Code::kOffsetOutOfRange);
}

TEST(DiskLog, FramesThatDoNotContinueTheLogAreRefusedAndNothingIsWritten) {
  TempDir dir;
  auto log = DiskLog::open(io::file_system(), dir / "p", kSmallFiles, 0);
  ASSERT_TRUE(log.is_ok());
  std::mt19937_64 rng(2);
  Frames frames;
  frames.add(rng, 10);
  ASSERT_TRUE((*log)->append(frames.take(), true).is_ok());
  const std::uint64_t size = (*log)->size_bytes();
  Frames wrong;
  wrong.next = frames.next + 5;  // a batch naming the wrong base offset
  std::vector<std::string> values{"a", "b"};
  wrong.bytes.resize(align_frame(test::batch_size(values)));
  const std::uint64_t word = test::encode_batch(wrong.bytes.data(), wrong.next, 0, values);
  std::memcpy(wrong.bytes.data(), &word, 8);
  EXPECT_EQ((*log)->append(wrong.bytes, true).code(), Code::kCorrupt);
  std::vector<std::byte> zeros(64);
  EXPECT_EQ((*log)->append(zeros, true).code(), Code::kCorrupt);
  EXPECT_EQ((*log)->size_bytes(), size);
  EXPECT_EQ((*log)->end_offset(), frames.next);
}

TEST(DiskLog, ATornTailIsCutAtReopening) {
  for (const int how : {0, 1, 2}) {
    SCOPED_TRACE(how);
    TempDir dir;
    std::mt19937_64 rng(3);
    Frames frames;
    std::int64_t synced = 0;
    std::string last_file;
    frames.add(rng, 50);
    const std::vector<std::byte> first = frames.take();
    synced = frames.next;
    frames.add(rng, 50);
    frames.record(frames.next++);  // the last frame is a record's, checksummed to its last byte
    const std::vector<std::byte> second = frames.take();
    // A process that dies after its appends, without closing the log.
    const pid_t child = ::fork();
    if (child == 0) {
      auto log = DiskLog::open(io::file_system(), dir / "p", kSmallFiles, 0);
      const bool ok = log.is_ok() && (*log)->append(first, true).is_ok() && (*log)->append(second, false).is_ok();
      ::_exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    auto names = io::file_system().list(dir / "p").value();
    for (const auto& n : names) {
      if (n.ends_with(".log")) last_file = dir / ("p/" + n);
    }
    auto file = io::file_system().open(last_file, io::OpenMode::kWrite).value();
    const std::uint64_t size = file->size().value();
    if (how == 0) {  // the last frame cut short
      ASSERT_TRUE(file->truncate(size - 5).is_ok());
    }
    if (how == 1) {                                                // garbage after the last frame
      std::vector<std::byte> junk(100, std::byte{0x5A});
      ASSERT_TRUE(file->write(size, junk, false).is_ok());
    }
    if (how == 2) {  // a byte of the last frame flipped (padding is at most 7 bytes)
      std::byte b[1];
      ASSERT_EQ(file->read(size - 8, b).value(), 1u);
      b[0] ^= std::byte{0x40};
      ASSERT_TRUE(file->write(size - 8, b, false).is_ok());
    }
    file.reset();
    auto log = DiskLog::open(io::file_system(), dir / "p", kSmallFiles, 0);
    ASSERT_TRUE(log.is_ok()) << log.status().to_string();
    EXPECT_GT((*log)->recovery().bytes_truncated, 0u);
    EXPECT_NE((*log)->recovery().truncated_at.find(last_file + " byte "), std::string::npos)
        << (*log)->recovery().truncated_at;
    EXPECT_GE((*log)->end_offset(), synced);
    if (how == 1) {
      EXPECT_EQ((*log)->end_offset(), frames.next) << "only the garbage after the last frame is cut";
    } else {
      EXPECT_LT((*log)->end_offset(), frames.next) << "the damaged frame is gone";
    }
    Read all = read_all(**log, 0);
    ASSERT_TRUE(all.status.is_ok()) << all.status.to_string();
    EXPECT_EQ(all.offsets, expected(frames, 0, (*log)->end_offset()));
    // And the log takes appends at its new end.
    Frames more;
    more.next = (*log)->end_offset();
    more.add(rng, 5);
    ASSERT_TRUE((*log)->append(more.take(), true).is_ok());
    EXPECT_EQ((*log)->end_offset(), more.next);
  }
}

TEST(DiskLog, APowerLossKeepsEverySyncedRecord) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(seed);
    TempDir dir;
    FaultyFileSystem fs;
    std::mt19937_64 rng(seed);
    Frames frames;
    std::int64_t synced = 0;
    {
      auto log = DiskLog::open(fs, dir / "p", kSmallFiles, 0);
      ASSERT_TRUE(log.is_ok());
      const int rounds = 5 + static_cast<int>(rng() % 30);
      for (int r = 0; r < rounds; ++r) {
        frames.add(rng, 1 + static_cast<int>(rng() % 30));
        ASSERT_TRUE((*log)->append(frames.take(), rng() % 4 == 0).is_ok());
      }
      synced = (*log)->synced_offset();
    }
    fs.lose_power(seed % 2 == 0 ? seed : 0);
    auto log = DiskLog::open(io::file_system(), dir / "p", kSmallFiles, 0);
    ASSERT_TRUE(log.is_ok()) << log.status().to_string();
    EXPECT_GE((*log)->end_offset(), synced) << "a synced record was lost";
    Read all = read_all(**log, 0);
    ASSERT_TRUE(all.status.is_ok()) << all.status.to_string();
    EXPECT_EQ(all.offsets, expected(frames, 0, (*log)->end_offset()));
  }
}

TEST(DiskLog, AFailedSyncIsNeverTakenForASuccess) {
  TempDir dir;
  FaultyFileSystem fs;
  std::mt19937_64 rng(5);
  Frames frames;
  auto log = DiskLog::open(fs, dir / "p", kSmallFiles, 0);
  ASSERT_TRUE(log.is_ok());
  frames.add(rng, 10);
  ASSERT_TRUE((*log)->append(frames.take(), true).is_ok());
  const std::int64_t synced = (*log)->synced_offset();
  fs.fail_next_sync(".log");
  frames.add(rng, 10);
  Status s = (*log)->append(frames.take(), true);
  EXPECT_EQ(s.code(), Code::kIoError);
  EXPECT_EQ((*log)->synced_offset(), synced);
  Status again = (*log)->sync();
  EXPECT_FALSE(again.is_ok()) << "a later sync must not pass for the failed one";
  EXPECT_NE(again.message().find("acknowledges no more syncs"), std::string::npos) << again.message();
  frames.add(rng, 10);
  EXPECT_TRUE((*log)->append(frames.take(), false).is_ok()) << "written-level appends go on";
  EXPECT_EQ((*log)->end_offset(), frames.next);
}

TEST(DiskLog, AFullDiskFailsTheAppendAndAppendsResumeWhenSpaceReturns) {
  TempDir dir;
  FaultyFileSystem fs;
  std::mt19937_64 rng(6);
  Frames frames;
  auto log = DiskLog::open(fs, dir / "p", kSmallFiles, 0);
  ASSERT_TRUE(log.is_ok());
  frames.add(rng, 10);
  ASSERT_TRUE((*log)->append(frames.take(), true).is_ok());
  const std::int64_t before = (*log)->end_offset();
  fs.set_space(100);
  Frames more;
  more.next = before;
  more.add(rng, 40);
  const std::vector<std::byte> pending = more.take();
  Status s = (*log)->append(pending, true);
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.to_string();
  EXPECT_EQ((*log)->end_offset(), before);
  fs.set_space(UINT64_MAX);
  ASSERT_TRUE((*log)->append(pending, true).is_ok());
  frames.next = more.next;
  frames.abandoned.insert(frames.abandoned.end(), more.abandoned.begin(), more.abandoned.end());
  Read all = read_all(**log, 0);
  ASSERT_TRUE(all.status.is_ok()) << all.status.to_string();
  EXPECT_EQ(all.offsets, expected(frames, 0, frames.next));
}

TEST(DiskLog, DamageBelowTheSyncMarkIsReportedWithFileAndByte) {
  TempDir dir;
  std::mt19937_64 rng(7);
  Frames frames;
  {
    auto log = DiskLog::open(io::file_system(), dir / "p", kSmallFiles, 0);
    ASSERT_TRUE(log.is_ok());
    for (int i = 0; i < 30; ++i) frames.record(frames.next++);
    ASSERT_TRUE((*log)->append(frames.take(), true).is_ok());
  }
  const std::string path = dir / "p/00000000000000000000.log";
  {
    // The first byte of record 5's value (records only: every byte but padding is checksummed).
    auto log = DiskLog::open(io::file_system(), dir / "p", kSmallFiles, 0);
    ASSERT_TRUE(log.is_ok());
    const std::uint64_t at = (*log)->locate(5).value().position + 20;
    auto file = io::file_system().open(path, io::OpenMode::kWrite).value();
    std::byte b[1];
    ASSERT_EQ(file->read(at, b).value(), 1u);
    b[0] ^= std::byte{0x01};
    ASSERT_TRUE(file->write(at, b, false).is_ok());
  }
  // The reader: records before the damage, then the file and the byte.
  auto log = DiskLog::open(io::file_system(), dir / "p", kSmallFiles, 0);
  ASSERT_TRUE(log.is_ok()) << log.status().to_string();
  EXPECT_EQ((*log)->recovery().bytes_truncated, 0u) << "synced bytes are never cut";
  Read all = read_all(**log, 0);
  if ((*log)->damage().is_ok()) {
    // Not in the stretch recovery scans (it starts at the last index entry
    // before the mark): the reader finds it.
    EXPECT_EQ(all.status.code(), Code::kCorrupt);
    EXPECT_NE(all.status.message().find(path + " byte "), std::string::npos) << all.status.message();
  } else {
    EXPECT_EQ((*log)->damage().code(), Code::kCorrupt);
    EXPECT_NE((*log)->damage().message().find(path + " byte "), std::string::npos) << (*log)->damage().message();
    EXPECT_NE((*log)->damage().message().find("damaged, not torn"), std::string::npos) << (*log)->damage().message();
    Frames more;
    more.next = (*log)->end_offset();
    more.add(rng, 3);
    EXPECT_EQ((*log)->append(more.take(), true).code(), Code::kCorrupt) << "no appends after damage";
  }
  EXPECT_EQ(all.offsets, expected(frames, 0, 5)) << "the records before the damage are read, none skipped";
}

// Retention deletes whole old files, never the current one: by size, and by
// the largest timestamp a file holds (its last time-index entry, which the
// roll that closed it wrote), also across reopening.
TEST(DiskLog, RetentionDeletesWholeOldFilesBySizeAndByTime) {
  TempDir dir;
  std::mt19937_64 rng(8);
  Frames frames;  // record i has timestamp 1000 * i
  {
    auto log = DiskLog::open(io::file_system(), dir / "p", kSmallFiles, 0);
    ASSERT_TRUE(log.is_ok());
    for (int round = 0; round < 60; ++round) {
      for (int i = 0; i < 40; ++i) frames.record(frames.next++);
      ASSERT_TRUE((*log)->append(frames.take(), false).is_ok());
    }
    EXPECT_GT(io::file_system().list(dir / "p").value().size(), 9u);
    const std::uint64_t before = (*log)->size_bytes();
    auto removed = (*log)->apply_retention(before / 2, INT64_MIN);
    ASSERT_TRUE(removed.is_ok()) << removed.status().to_string();
    EXPECT_GT(*removed, 0u);
    EXPECT_LE((*log)->size_bytes(), before / 2);
    EXPECT_GT((*log)->start_offset(), 0);
    // What is left reads from the new start, and below it is out of range.
    const std::int64_t start = (*log)->start_offset();
    EXPECT_EQ((*log)->locate(start - 1).status().code(), Code::kOffsetOutOfRange);
    Read rest = read_all(**log, start);
    ASSERT_TRUE(rest.status.is_ok()) << rest.status.to_string();
    EXPECT_EQ(rest.offsets, expected(frames, start, frames.next));
  }
  auto log = DiskLog::open(io::file_system(), dir / "p", kSmallFiles, 0);
  ASSERT_TRUE(log.is_ok());
  const std::int64_t start = (*log)->start_offset();
  // By time: every record below offset `limit` is older than 1000 * limit ns.
  const std::int64_t limit = start + (frames.next - start) / 2;
  auto removed = (*log)->apply_retention(0, 1000 * limit);
  ASSERT_TRUE(removed.is_ok());
  EXPECT_GT(*removed, 0u);
  EXPECT_GT((*log)->start_offset(), start);
  EXPECT_LE((*log)->start_offset(), limit) << "a file holding a record at or after the limit stays";
  // The current file is never deleted, however old.
  (void)(*log)->apply_retention(1, INT64_MAX);
  EXPECT_EQ(io::file_system().list(dir / "p").value().size(), 3u) << "one .log, .index and .timeindex left";
  EXPECT_EQ((*log)->end_offset(), frames.next);
}

}  // namespace
}  // namespace rill::log
