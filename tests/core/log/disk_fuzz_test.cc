// Hostile files: a durable partition's segment, index and time-index files
// and a namespace's catalog, damaged at random (bytes flipped or set, files
// cut or extended with garbage, index entries pointing anywhere). Opening
// and reading them never crashes, hangs or reads out of bounds (label fuzz:
// AddressSanitizer runs it), and what is read is either a record that
// passes its checksum at its offset, in order, or a clear kCorrupt.
#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/client/catalog.h"
#include "core/log/disk_format.h"
#include "core/log/disk_log.h"
#include "support/frames.h"
#include "support/temp_dir.h"
#include "support/test_scale.h"

namespace rill::log {
namespace {

using testing::TempDir;

const DiskLogConfig kFiles{.partition = 0, .file_bytes = 8192, .index_interval = 128, .permissions = 0600};

std::string value_of(std::int64_t i) { return "v" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 23), 'z'); }

// A sound log of `n` records (singles and batches) in `dir`.
void write_log(const std::string& dir, std::int64_t n) {
  auto log = DiskLog::open(io::file_system(), dir, kFiles, 0);
  ASSERT_TRUE(log.is_ok());
  std::vector<std::byte> bytes;
  for (std::int64_t i = 0; i < n;) {
    const std::size_t at = bytes.size();
    if (i % 5 == 3 && i + 3 <= n) {
      std::vector<std::string> values{value_of(i), value_of(i + 1), value_of(i + 2)};
      bytes.resize(at + align_frame(test::batch_size(values)));
      const std::uint64_t word = test::encode_batch(bytes.data() + at, i, 10 * i, values);
      std::memcpy(bytes.data() + at, &word, 8);
      i += 3;
    } else {
      const std::string v = value_of(i);
      bytes.resize(at + align_frame(test::record_size(v.size())));
      const std::uint64_t word = test::encode_record(bytes.data() + at, i, 10 * i, std::nullopt, v);
      std::memcpy(bytes.data() + at, &word, 8);
      ++i;
    }
  }
  ASSERT_TRUE((*log)->append(bytes, true).is_ok());
}

void damage(const std::string& path, std::mt19937_64& rng) {
  auto file = io::file_system().open(path, io::OpenMode::kWrite);
  if (!file) return;
  const std::uint64_t size = (*file)->size().value();
  switch (rng() % 5) {
    case 0:  // flip bits
    case 1:
      for (int k = 0, n = 1 + static_cast<int>(rng() % 8); k < n && size > 0; ++k) {
        std::byte b[1];
        const std::uint64_t at = rng() % size;
        if ((*file)->read(at, b).value() != 1) continue;
        b[0] ^= static_cast<std::byte>(1u << (rng() % 8));
        (void)(*file)->write(at, b, false);
      }
      break;
    case 2: {  // a word set to something large or small
      if (size < 8) break;
      const std::uint64_t at = (rng() % (size / 8)) * 8;
      const std::uint64_t values[] = {0, ~0ull, 0x0FFFFFFFull, rng(), 1ull << 31, 64};
      const std::uint64_t v = values[rng() % 6];
      (void)(*file)->write(at, std::as_bytes(std::span(&v, 1)), false);
      break;
    }
    case 3:  // cut
      (void)(*file)->truncate(size == 0 ? 0 : rng() % size);
      break;
    default: {  // garbage appended
      std::vector<std::byte> junk(1 + rng() % 300);
      for (auto& b : junk) b = static_cast<std::byte>(rng());
      (void)(*file)->write(size, junk, false);
    }
  }
}

// Reads everything from `from`: records must be sound and in order.
void read_all_checked(const DiskLog& log, std::int64_t from) {
  std::int64_t next = from;
  std::uint32_t inner = 0;
  RecordView views[8];
  for (int guard = 0; guard < 100000 && next < log.end_offset(); ++guard) {
    auto chunk = log.locate(next);
    if (!chunk) {
      EXPECT_TRUE(chunk.status().code() == Code::kCorrupt || chunk.status().code() == Code::kOffsetOutOfRange)
          << chunk.status().to_string();
      return;
    }
    if (chunk->first_offset < next) return;  // inside a batch: enough for this round
    std::int64_t before = next;
    auto got = read_chunk(*chunk, 0, &next, &inner, views, 8, true);
    if (!got) {
      EXPECT_EQ(got.status().code(), Code::kCorrupt) << got.status().to_string();
      EXPECT_NE(got.status().message().find(" byte "), std::string::npos) << got.status().message();
      return;
    }
    for (std::size_t k = 0; k < got->views; ++k) {
      EXPECT_TRUE(views[k].verify_checksum());
      EXPECT_GE(views[k].offset(), before);
      EXPECT_EQ(views[k].value(), value_of(views[k].offset()));
      before = views[k].offset() + 1;
    }
    if (got->views == 0 && got->abandoned == 0) return;
  }
}

TEST(DiskFuzz, DamagedFilesNeverCrashAndNeverReadAsRecords) {
  const std::int64_t rounds = testing::scaled(80, 10);
  for (std::int64_t round = 0; round < rounds; ++round) {
    std::mt19937_64 rng(0xd15c + static_cast<std::uint64_t>(round));
    TempDir dir;
    const std::string p = dir / "p";
    write_log(p, 200 + static_cast<std::int64_t>(rng() % 300));
    auto names = io::file_system().list(p).value();
    for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) damage(p + "/" + names[rng() % names.size()], rng);
    auto log = DiskLog::open(io::file_system(), p, kFiles, 0);
    if (!log) {
      EXPECT_TRUE(log.status().code() == Code::kCorrupt || log.status().code() == Code::kIoError)
          << "round " << round << ": " << log.status().to_string();
      continue;
    }
    read_all_checked(**log, (*log)->start_offset());
    for (int k = 0; k < 5 && (*log)->end_offset() > (*log)->start_offset(); ++k)
      read_all_checked(**log, (*log)->start_offset() +
                                  static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(
                                                                        (*log)->end_offset() - (*log)->start_offset())));
    // A reader that does not write the files sees the same.
    auto chunk = locate_on_disk(io::file_system(), p, (*log)->start_offset(), (*log)->end_offset());
    if (!chunk) {
      EXPECT_TRUE(chunk.status().code() == Code::kCorrupt || chunk.status().code() == Code::kOffsetOutOfRange)
          << chunk.status().to_string();
    }
  }
}

TEST(DiskFuzz, DamagedCatalogsAreCorruptNeverCrash) {
  TempDir dir;
  std::vector<client::CatalogTopic> topics;
  for (int i = 0; i < 5; ++i) topics.push_back({"topic" + std::to_string(i), TopicConfig{.partitions = 1 + i}});
  ASSERT_TRUE(client::write_catalog(io::file_system(), dir.path(), topics, 0600).is_ok());
  auto sound = client::read_catalog(io::file_system(), dir.path());
  ASSERT_TRUE(sound.is_ok()) << sound.status().to_string();
  ASSERT_EQ(sound->size(), 5u);
  EXPECT_EQ((*sound)[4].config.partitions, 5);
  const std::string path = dir / client::kCatalogFile;
  const auto original = io::read_small_file(io::file_system(), path, 1 << 20).value();
  for (int round = 0; round < 300; ++round) {
    std::mt19937_64 rng(0xca7a + static_cast<std::uint64_t>(round));
    ASSERT_TRUE(io::write_file_atomically(io::file_system(), path, original).is_ok());
    damage(path, rng);
    auto read = client::read_catalog(io::file_system(), dir.path());
    if (read) {
      // Only a damage that changed nothing (or garbage after the end line
      // that the check does not cover) reads as the catalog.
      EXPECT_EQ(read->size(), 5u) << "round " << round;
    } else {
      EXPECT_EQ(read.status().code(), Code::kCorrupt) << read.status().to_string();
      EXPECT_NE(read.status().message().find(path), std::string::npos) << read.status().message();
    }
  }
}

}  // namespace
}  // namespace rill::log
