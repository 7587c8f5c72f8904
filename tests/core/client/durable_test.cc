// Durable namespaces (SharedOptions::data_dir), through the public API:
// every record survives a reboot (shared memory gone) at its offset with its
// key, value, headers and timestamp; consumers read below the ring from the
// files; a power loss keeps every fsync-acknowledged record; processes killed
// while producing at every durability level lose no acknowledged record.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "io/file_system.h"
#include "rill/rill.h"
#include "support/child_process.h"
#include "support/faulty_file_system.h"
#include "support/shm_guard.h"
#include "support/temp_dir.h"
#include "support/test_scale.h"

namespace rill {
namespace {

using testing::ShmGuard;
using testing::TempDir;

constexpr TopicConfig kSmallRing{.partitions = 2, .segment_bytes = 65536, .segment_count = 4};

SharedOptions durable(const std::string& dir) {
  SharedOptions o;
  o.data_dir = dir;
  return o;
}

// The record sent as number i: key, value, one header and a timestamp all derived from i.
struct Expected {
  std::string key, value, header;
  std::int64_t timestamp;
};
Expected record(std::int64_t i) {
  return Expected{"k" + std::to_string(i % 7), "value-" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 50), 'x'),
                  "h" + std::to_string(i), 1'700'000'000'000'000'000 + i * 1000};
}

// Sends records first..first+count-1 through `producer`; returns (partition, offset) of each.
std::vector<std::pair<std::int32_t, std::int64_t>> send(Producer& producer, std::int64_t first, std::int64_t count) {
  std::vector<std::pair<std::int32_t, std::int64_t>> where;
  for (std::int64_t i = first; i < first + count; ++i) {
    const Expected e = record(i);
    const Header h{"n", e.header};
    auto m = producer.send(e.key, e.value, {.timestamp_ns = e.timestamp, .headers = std::span(&h, 1)});
    EXPECT_TRUE(m.is_ok()) << m.status().to_string();
    if (!m) break;
    where.emplace_back(m->partition, m->offset);
  }
  return where;
}

// Every record of the topic from the earliest offset, per partition, as the
// record number its value names; checks key, headers, timestamp and checksum.
std::map<std::int32_t, std::vector<std::pair<std::int64_t, std::int64_t>>> read_all(const std::shared_ptr<Topic>& topic) {
  std::map<std::int32_t, std::vector<std::pair<std::int64_t, std::int64_t>>> got;
  Consumer consumer(topic, {.start_at_earliest = true, .verify_checksums = true});
  EXPECT_TRUE(consumer.assign_all().is_ok());
  for (int empty = 0; empty < 3;) {
    PollResult r = consumer.poll(std::chrono::milliseconds(50));
    EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
    if (!r.status.is_ok()) break;
    EXPECT_EQ(r.skipped, 0) << "nothing is lost below the ring";
    if (r.records.empty()) {
      ++empty;
      continue;
    }
    empty = 0;
    for (const RecordView& v : r.records) {
      const std::string value(v.value());
      const std::int64_t i = std::stoll(value.substr(6));
      const Expected e = record(i);
      EXPECT_EQ(value, e.value);
      EXPECT_TRUE(v.has_key());
      EXPECT_EQ(v.key(), e.key);
      EXPECT_EQ(v.timestamp_ns(), e.timestamp);
      EXPECT_TRUE(v.verify_checksum()) << "offset " << v.offset();
      std::vector<std::string> headers;
      v.for_each_header([&](const HeaderView& h) { headers.push_back(std::string(h.key) + "=" + std::string(h.value.value_or("?"))); });
      EXPECT_EQ(headers, std::vector<std::string>{"n=" + e.header}) << "offset " << v.offset();
      got[v.partition()].emplace_back(v.offset(), i);
    }
  }
  return got;
}

// The records sent (partition, offset for record i) read back exactly once, in order.
void expect_exactly(const std::map<std::int32_t, std::vector<std::pair<std::int64_t, std::int64_t>>>& got,
                    const std::vector<std::pair<std::int32_t, std::int64_t>>& sent, std::int64_t first_record) {
  std::map<std::int32_t, std::vector<std::pair<std::int64_t, std::int64_t>>> want;
  for (std::size_t k = 0; k < sent.size(); ++k)
    want[sent[k].first].emplace_back(sent[k].second, first_record + static_cast<std::int64_t>(k));
  EXPECT_EQ(got, want);
}

TEST(Durable, EveryRecordSurvivesAReboot) {
  ShmGuard guard;
  TempDir dir;
  std::vector<std::pair<std::int32_t, std::int64_t>> sent;
  {
    auto ns = Namespace::open_shared(guard.ns(), durable(dir / "data"));
    ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
    EXPECT_EQ((*ns)->data_dir(), dir / "data");
    ASSERT_TRUE((*ns)->create_topic("t", kSmallRing).is_ok());
    Producer producer((*ns)->open_topic("t").value(), {.durability = Durability::kWritten});
    sent = send(producer, 0, 3000);  // 10x what the rings hold
  }
  // A reboot: shared memory is gone; the files are not.
  ASSERT_TRUE(Namespace::remove_shared(guard.ns()).is_ok());
  auto ns = Namespace::open_shared(guard.ns(), durable(dir / "data"));
  ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
  EXPECT_EQ((*ns)->list_topics().value(), std::vector<std::string>{"t"});
  auto topic = (*ns)->open_topic("t").value();
  expect_exactly(read_all(topic), sent, 0);
  // Appends go on after the last offset of each partition.
  Producer producer(topic, {.durability = Durability::kWritten});
  auto more = send(producer, 3000, 100);
  std::vector<std::pair<std::int32_t, std::int64_t>> all = sent;
  all.insert(all.end(), more.begin(), more.end());
  expect_exactly(read_all(topic), all, 0);
  auto info = (*ns)->describe_topic("t").value();
  EXPECT_EQ(info.data_dir, dir / "data");
  for (const PartitionInfo& p : info.partitions) {
    EXPECT_EQ(p.log_start_offset, 0);
    EXPECT_EQ(p.written_offset, p.latest_offset);
    EXPECT_GT(p.disk_bytes, 0u);
  }
}

TEST(Durable, TheFolderIsRecordedAndAnotherIsRefusedNamingBoth) {
  ShmGuard guard;
  TempDir dir;
  auto ns = Namespace::open_shared(guard.ns(), durable(dir / "a"));
  ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
  auto other = Namespace::open_shared(guard.ns(), durable(dir / "b"));
  EXPECT_EQ(other.status().code(), Code::kInvalidArgument);
  EXPECT_NE(other.status().message().find(dir / "a"), std::string::npos) << other.status().message();
  EXPECT_NE(other.status().message().find(dir / "b"), std::string::npos) << other.status().message();
  auto plain = Namespace::open_shared(guard.ns());
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ((*plain)->data_dir(), dir / "a") << "opened without a folder: the recorded one";

  ShmGuard memory;
  ASSERT_TRUE(Namespace::open_shared(memory.ns()).is_ok());
  auto late = Namespace::open_shared(memory.ns(), durable(dir / "c"));
  EXPECT_EQ(late.status().code(), Code::kInvalidArgument);
  EXPECT_NE(late.status().message().find("in memory only"), std::string::npos) << late.status().message();
}

TEST(Durable, MemoryOnlyTopicsAndDeletedTopicsLeaveNothingInTheFolder) {
  ShmGuard guard;
  TempDir dir;
  {
    auto ns = Namespace::open_shared(guard.ns(), durable(dir.path())).value();
    TopicConfig memory = kSmallRing;
    memory.memory_only = true;
    ASSERT_TRUE(ns->create_topic("kept", kSmallRing).is_ok());
    ASSERT_TRUE(ns->create_topic("volatile", memory).is_ok());
    ASSERT_TRUE(ns->create_topic("gone", kSmallRing).is_ok());
    {
      Producer p(ns->open_topic("gone").value(), {.durability = Durability::kWritten});
      send(p, 0, 10);
    }
    EXPECT_TRUE(ns->open_topic("volatile").value()->config().memory_only);
    ASSERT_TRUE(ns->delete_topic("gone").is_ok());
    auto names = io::file_system().list(dir.path()).value();
    EXPECT_EQ(names, (std::vector<std::string>{"catalog", "kept-0", "kept-1"}));
  }
  ASSERT_TRUE(Namespace::remove_shared(guard.ns()).is_ok());
  auto ns = Namespace::open_shared(guard.ns(), durable(dir.path())).value();
  EXPECT_EQ(ns->list_topics().value(), std::vector<std::string>{"kept"});
}

TEST(Durable, AConsumerTheRingOvertakesReadsOnFromTheFiles) {
  ShmGuard guard;
  TempDir dir;
  auto ns = Namespace::open_shared(guard.ns(), durable(dir.path())).value();
  ASSERT_TRUE(ns->create_topic("t", kSmallRing).is_ok());
  auto topic = ns->open_topic("t").value();
  Consumer lagging(topic, {.start_at_earliest = true, .verify_checksums = true});
  ASSERT_TRUE(lagging.assign_all().is_ok());
  ASSERT_TRUE(lagging.poll(std::chrono::milliseconds(0)).status.is_ok());
  Producer producer(topic, {.durability = Durability::kWritten});
  auto sent = send(producer, 0, 2000);
  std::map<std::int32_t, std::vector<std::int64_t>> got;
  std::int64_t skipped = 0;
  for (int empty = 0; empty < 3;) {
    PollResult r = lagging.poll(std::chrono::milliseconds(50));
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    skipped += r.skipped;
    if (r.records.empty()) ++empty;
    for (const RecordView& v : r.records) got[v.partition()].push_back(v.offset());
  }
  EXPECT_EQ(skipped, 0);
  std::map<std::int32_t, std::vector<std::int64_t>> want;
  for (const auto& [p, o] : sent) want[p].push_back(o);
  EXPECT_EQ(got, want);
  // A seek below the ring lands in the files.
  ASSERT_TRUE(lagging.seek(0, 5).is_ok());
  PollResult r = lagging.poll(std::chrono::milliseconds(100));
  ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
  ASSERT_FALSE(r.records.empty());
  EXPECT_EQ(r.records[0].offset(), 5);
  EXPECT_EQ(lagging.earliest_offset(0).value(), 0);
}

// Compressed batches are stored as they are (the ring's bytes): read back
// below the ring, and after a reboot, each codec decompresses from the
// files - every record in order, value and checksum checked.
TEST(Durable, CompressedBatchesAreReadBackFromTheFilesAndAfterAReboot) {
  ShmGuard guard;
  TempDir dir;
  const Compression codecs[] = {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd};
  constexpr int kBatches = 400, kPerBatch = 40;
  // JSON-like values (they compress, but not to nothing: 16 hex digits of a
  // hash each), different in every record.
  const auto value_of = [](int codec, std::int64_t i) {
    char id[17];
    std::snprintf(id, sizeof id, "%016llx",
                  static_cast<unsigned long long>((static_cast<std::uint64_t>(i) + 1) * 0x9E3779B97F4A7C15ull));
    return "{\"codec\":" + std::to_string(codec) + ",\"n\":" + std::to_string(i) + ",\"id\":\"" + id + "\"" +
           ",\"item\":\"widget\",\"price\":" + std::to_string(1000 + i % 97) + ",\"note\":\"" +
           std::string(static_cast<std::size_t>(60 + i % 23), 'a' + static_cast<char>(i % 3)) + "\"}";
  };
  const auto read_back = [&](const std::shared_ptr<Topic>& topic, int codec) {
    Consumer consumer(topic, {.start_at_earliest = true, .verify_checksums = true});
    EXPECT_TRUE(consumer.assign_all().is_ok());
    std::int64_t next = 0;
    for (int empty = 0; empty < 3;) {
      PollResult r = consumer.poll(std::chrono::milliseconds(50));
      EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
      if (!r.status.is_ok()) break;
      EXPECT_EQ(r.skipped, 0);
      if (r.records.empty()) ++empty;
      for (const RecordView& v : r.records) {
        EXPECT_EQ(v.offset(), next);
        EXPECT_EQ(v.value(), value_of(codec, next)) << "codec " << codec << " offset " << next;
        EXPECT_TRUE(v.verify_checksum());
        ++next;
      }
    }
    return next;
  };
  {
    auto ns = Namespace::open_shared(guard.ns(), durable(dir / "data")).value();
    for (int c = 0; c < 4; ++c) {
      const std::string name = std::string("z-") + std::string(compression_name(codecs[c]));
      ASSERT_TRUE(ns->create_topic(name, {.partitions = 1, .segment_bytes = 65536, .segment_count = 4}).is_ok());
      auto topic = ns->open_topic(name).value();
      ProducerOptions po;
      po.durability = Durability::kWritten;
      po.compression = codecs[c];
      Producer producer(topic, po);
      std::vector<std::string> values;
      std::vector<Message> batch;
      for (std::int64_t b = 0; b < kBatches; ++b) {
        values.clear();
        batch.clear();
        for (std::int64_t k = 0; k < kPerBatch; ++k) values.push_back(value_of(c, b * kPerBatch + k));
        for (const std::string& v : values) batch.push_back(Message{.key = std::nullopt, .value = v, .timestamp_ns = -1, .headers = {}});
        auto sent = producer.send_batch(batch, 0);
        ASSERT_TRUE(sent.is_ok()) << sent.status().to_string();
        ASSERT_EQ(*sent, static_cast<std::size_t>(kPerBatch));
      }
      // Compressed: the files hold less than the values. And more than the
      // ring (4 x 64 KiB) can: the first offsets come from the files.
      std::uint64_t value_bytes = 0;
      for (std::int64_t i = 0; i < kBatches * kPerBatch; ++i) value_bytes += value_of(c, i).size();
      const PartitionInfo info = ns->describe_topic(name).value().partitions[0];
      EXPECT_LT(info.disk_bytes, value_bytes) << name;
      EXPECT_GT(info.disk_bytes, 4u * 65536u) << name;
      EXPECT_EQ(info.log_start_offset, 0);
      EXPECT_EQ(read_back(topic, c), kBatches * kPerBatch) << name;
    }
  }
  // A reboot: everything from the files.
  ASSERT_TRUE(Namespace::remove_shared(guard.ns()).is_ok());
  auto ns = Namespace::open_shared(guard.ns(), durable(dir / "data")).value();
  for (int c = 0; c < 4; ++c) {
    const std::string name = std::string("z-") + std::string(compression_name(codecs[c]));
    EXPECT_EQ(read_back(ns->open_topic(name).value(), c), kBatches * kPerBatch) << name;
  }
}

// A process that still has a deleted topic open - holding its flush lease -
// writes nothing more to its files: its sends at `written` fail saying the
// topic was deleted, those at `memory` go on (its rolls no longer wait for
// the files), and a topic made again under the same name gets a folder
// with its own records only.
TEST(Durable, AFlusherOfAnotherProcessWritesNothingAfterItsTopicIsDeleted) {
  ShmGuard guard;
  TempDir dir;
  constexpr TopicConfig kOne{.partitions = 1, .segment_bytes = 65536, .segment_count = 4};
  auto ns = Namespace::open_shared(guard.ns(), durable(dir / "data")).value();
  ASSERT_TRUE(ns->create_topic("t", kOne).is_ok());
  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  // Forked before this process opens a durable topic (no flusher thread yet).
  const pid_t child = ::fork();
  if (child == 0) {
    auto mine = Namespace::open_shared(guard.ns(), durable(dir / "data"));
    if (!mine) ::_exit(10);
    auto topic = (*mine)->open_topic("t");
    if (!topic) ::_exit(11);
    Producer producer(*topic, {.durability = Durability::kWritten});
    for (int i = 0; i < 200; ++i)
      if (!producer.send(std::nullopt, "old-" + std::to_string(i))) ::_exit(12);
    char c = 'A';
    (void)!::write(to_parent[1], &c, 1);
    if (::read(to_child[0], &c, 1) != 1) ::_exit(13);
    // The topic is gone and made again: every send that waits for the files fails.
    for (int i = 0; i < 500; ++i) {
      auto sent = producer.send(std::nullopt, "stale-" + std::to_string(i));
      if (sent) ::_exit(14);
      if (sent.status().code() != Code::kNotFound ||
          sent.status().message().find("the topic was deleted") == std::string::npos)
        ::_exit(15);
    }
    // Sends acknowledged in memory go on, and its ring rolls on without
    // waiting for files that take nothing more (500 KB: many rolls of 64 KiB).
    Producer in_memory(*topic);
    for (int i = 0; i < 5000; ++i)
      if (!in_memory.send(std::nullopt, "memory-" + std::to_string(i) + std::string(90, 'm'))) ::_exit(16);
    ::_exit(0);
  }
  // The child's ends closed here: a child that dies early is an end of file, not a hang.
  ::close(to_parent[1]);
  ::close(to_child[0]);
  char c = 0;
  ASSERT_EQ(::read(to_parent[0], &c, 1), 1) << "the child failed before its first records were written";
  EXPECT_EQ(ns->describe_topic("t").value().partitions[0].written_offset, 200);
  ASSERT_TRUE(ns->delete_topic("t").is_ok());
  ASSERT_TRUE(ns->create_topic("t", kOne).is_ok());
  auto topic = ns->open_topic("t").value();
  std::vector<std::pair<std::int32_t, std::int64_t>> sent;
  {
    Producer producer(topic, {.durability = Durability::kWritten});
    sent = send(producer, 0, 50);
  }
  ASSERT_EQ(::write(to_child[1], &c, 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child exit " << WEXITSTATUS(status);
  ::close(to_parent[0]);
  ::close(to_child[1]);
  expect_exactly(read_all(topic), sent, 0);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "data/t-0"))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"00000000000000000000.index", "00000000000000000000.log",
                                             "00000000000000000000.timeindex"}));
}

// Runs `body` in a child process with the fault-injecting file system in
// place for everything the library writes (in a child, so that no flusher of
// this process outlives it); the child's exit code says which check failed.
int in_child_with_faults(const std::function<int(testing::FaultyFileSystem&)>& body) {
  const pid_t child = ::fork();
  if (child == 0) {
    testing::FaultyFileSystem fs;
    io::ScopedFileSystem scoped(fs);
    ::_exit(body(fs));
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

// A full disk fails the sends that wait for the files, with the disk's
// error; the records stay in memory and reach the files when space returns.
TEST(Durable, AFullDiskFailsTheWaitingSendsAndWritingResumesWithSpace) {
  ShmGuard guard;
  TempDir dir;
  const std::string ns_name = guard.ns();
  const int code = in_child_with_faults([&](testing::FaultyFileSystem& fs) {
    auto ns = Namespace::open_shared(ns_name, durable(dir.path()));
    if (!ns || !(*ns)->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 4}).is_ok())
      return 2;
    auto topic = (*ns)->open_topic("t").value();
    Producer producer(topic, {.durability = Durability::kWritten});
    for (int i = 0; i < 50; ++i)
      if (!producer.send(std::nullopt, "before-" + std::to_string(i))) return 3;
    fs.set_space(0);
    auto full = producer.send(std::nullopt, "while-full");
    if (full.is_ok() || full.status().code() != Code::kResourceExhausted) return 4;
    if (full.status().message().find("in memory but not written") == std::string::npos) return 5;
    fs.set_space(UINT64_MAX);
    for (int i = 0; i < 50; ++i)
      if (!producer.send(std::nullopt, "after-" + std::to_string(i))) return 6;
    // Every record, the one that failed to be acknowledged included, in the files, in order.
    Consumer consumer(topic, {.start_at_earliest = true, .verify_checksums = true});
    if (!consumer.assign_all().is_ok()) return 7;
    std::vector<std::string> got;
    for (int empty = 0; empty < 3;) {
      PollResult r = consumer.poll(std::chrono::milliseconds(30));
      if (!r.status.is_ok()) return 8;
      if (r.records.empty()) ++empty;
      for (const RecordView& v : r.records) got.emplace_back(v.value());
    }
    if (got.size() != 101 || got[50] != "while-full" || got[100] != "after-49") return 9;
    const auto info = (*ns)->describe_topic("t").value();
    if (info.partitions[0].written_offset != 101) return 10;
    return 0;
  });
  EXPECT_EQ(code, 0) << "the check that failed: see the returns in the test";
}

// A failed fdatasync is never taken for a good one: the fsync sends after it
// fail (the kernel may have dropped the pages), written-level sends go on.
TEST(Durable, AFailedFsyncStopsFsyncAcknowledgements) {
  ShmGuard guard;
  TempDir dir;
  const std::string ns_name = guard.ns();
  const int code = in_child_with_faults([&](testing::FaultyFileSystem& fs) {
    auto ns = Namespace::open_shared(ns_name, durable(dir.path()));
    if (!ns || !(*ns)->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 4}).is_ok())
      return 2;
    auto topic = (*ns)->open_topic("t").value();
    Producer synced(topic, {.durability = Durability::kFsync});
    if (!synced.send(std::nullopt, "one")) return 3;
    fs.fail_next_sync(".log");
    auto failed = synced.send(std::nullopt, "two");
    if (failed.is_ok() || failed.status().code() != Code::kIoError) return 4;
    auto again = synced.send(std::nullopt, "three");
    if (again.is_ok() || again.status().message().find("acknowledges no more syncs") == std::string::npos) return 5;
    Producer written(topic, {.durability = Durability::kWritten});
    if (!written.send(std::nullopt, "four")) return 6;
    return 0;
  });
  EXPECT_EQ(code, 0) << "the check that failed: see the returns in the test";
}

// A seek by time finds records the ring no longer holds, in the files.
TEST(Durable, ASeekByTimeFindsRecordsInTheFiles) {
  ShmGuard guard;
  TempDir dir;
  auto ns = Namespace::open_shared(guard.ns(), durable(dir.path())).value();
  ASSERT_TRUE(ns->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 4}).is_ok());
  auto topic = ns->open_topic("t").value();
  Producer producer(topic, {.durability = Durability::kWritten});
  send(producer, 0, 3000);
  Consumer consumer(topic);
  ASSERT_TRUE(consumer.assign_all().is_ok());
  for (const std::int64_t target : {0, 1, 1234, 2000}) {
    ASSERT_TRUE(consumer.seek_to_time(record(target).timestamp).is_ok());
    PollResult r = consumer.poll(std::chrono::milliseconds(100));
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    ASSERT_FALSE(r.records.empty()) << "target " << target;
    EXPECT_EQ(r.records[0].offset(), target);
    EXPECT_EQ(r.records[0].value(), record(target).value);
  }
}

// Retention by size deletes the oldest files; a consumer starting at the
// earliest starts at the new log start, and one that was reading what was
// deleted is told how many records it lost (as when the ring overtakes it).
TEST(Durable, RetentionDeletesOldFilesAndReadersAreToldWhatTheyLost) {
  ShmGuard guard;
  TempDir dir;
  auto ns = Namespace::open_shared(guard.ns(), durable(dir.path())).value();
  TopicConfig config{.partitions = 1, .segment_bytes = 65536, .segment_count = 4};
  config.file_segment_bytes = 65536;
  config.retention_bytes = 200'000;
  ASSERT_TRUE(ns->create_topic("t", config).is_ok());
  auto topic = ns->open_topic("t").value();
  Consumer early(topic, {.start_at_earliest = true});
  ASSERT_TRUE(early.assign_all().is_ok());
  ASSERT_TRUE(early.poll(std::chrono::milliseconds(0)).status.is_ok());
  Producer producer(topic, {.durability = Durability::kWritten});
  send(producer, 0, 8000);
  // The flusher applies retention at most once a second: wait (a bound on
  // a hang, not a timing requirement) until a pass after the last write.
  PartitionInfo part;
  for (int i = 0; i < 100; ++i) {
    part = ns->describe_topic("t").value().partitions[0];
    if (part.log_start_offset > 0 && part.disk_bytes <= 200'000u + 65536u) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::int64_t start = part.log_start_offset;
  ASSERT_GT(start, 0) << "no file was deleted";
  EXPECT_LE(part.disk_bytes, 200'000u + 65536u) << "at most one file over the limit";
  std::int64_t skipped = 0, first = -1, count = 0;
  for (int empty = 0; empty < 3;) {
    PollResult r = early.poll(std::chrono::milliseconds(50));
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    skipped += r.skipped;
    if (r.records.empty()) ++empty;
    for (const RecordView& v : r.records) {
      if (first < 0) first = v.offset();
      EXPECT_EQ(v.offset(), first + count) << "in order, none twice";
      ++count;
    }
  }
  EXPECT_EQ(skipped, first) << "the records deleted before the reader got to them";
  EXPECT_GE(first, start);
  EXPECT_EQ(first + count, 8000);
  Consumer fresh(topic, {.start_at_earliest = true});
  ASSERT_TRUE(fresh.assign_all().is_ok());
  EXPECT_EQ(fresh.earliest_offset(0).value(), ns->describe_topic("t").value().partitions[0].log_start_offset);
}

// A power loss: the fault-injecting file system keeps only what was synced
// (and, with a seed, a torn part of the rest). A child acknowledges records
// at fsync, goes on at memory, loses the power and dies; the namespace is
// rebuilt from the files with no shared memory left.
// One seed a test (a process): the check opens the topic, which starts this
// process's flusher thread, and a process that forks should have none.
class PowerLoss : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(PowerLoss, KeepsEveryFsyncAcknowledgedRecord) {
  const std::uint64_t seed = GetParam();
  {
    ShmGuard guard;
    TempDir dir;
    int acked[2];
    ASSERT_EQ(::pipe(acked), 0);
    const pid_t child = ::fork();
    if (child == 0) {
      testing::FaultyFileSystem fs;
      io::ScopedFileSystem scoped(fs);
      auto ns = Namespace::open_shared(guard.ns(), durable(dir.path()));
      if (!ns || !(*ns)->create_topic("t", kSmallRing).is_ok()) ::_exit(2);
      auto topic = (*ns)->open_topic("t").value();
      Producer synced(topic, {.durability = Durability::kFsync});
      std::int64_t n = 0;
      for (; n < 300; ++n) {
        const Expected e = record(n);
        const Header h{"n", e.header};
        auto m = synced.send(e.key, e.value, {.timestamp_ns = e.timestamp, .headers = std::span(&h, 1)});
        if (!m) ::_exit(3);
        const std::int64_t where[2] = {m->partition, m->offset};
        if (::write(acked[1], where, sizeof where) != sizeof where) ::_exit(4);
      }
      Producer loose(topic);
      for (std::int64_t i = n; i < n + 500; ++i) {
        const Expected e = record(i);
        const Header h{"n", e.header};
        (void)loose.send(e.key, e.value, {.timestamp_ns = e.timestamp, .headers = std::span(&h, 1)});
      }
      fs.lose_power(seed);
      ::_exit(0);  // no destructor runs: nothing more is synced
    }
    ::close(acked[1]);
    std::vector<std::pair<std::int32_t, std::int64_t>> sent;
    std::int64_t where[2];
    while (::read(acked[0], where, sizeof where) == sizeof where) sent.emplace_back(where[0], where[1]);
    ::close(acked[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    ASSERT_EQ(sent.size(), 300u);
    ASSERT_TRUE(Namespace::remove_shared(guard.ns()).is_ok());
    auto ns = Namespace::open_shared(guard.ns(), durable(dir.path()));
    ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
    auto got = read_all((*ns)->open_topic("t").value());
    // Every acknowledged record, at its offset; what follows them, if anything
    // survived, is the unacknowledged records in order (checked in read_all()).
    for (auto& [p, records] : got) {
      std::vector<std::pair<std::int64_t, std::int64_t>> acked_part;
      for (std::size_t k = 0; k < sent.size(); ++k)
        if (sent[k].first == p) acked_part.emplace_back(sent[k].second, static_cast<std::int64_t>(k));
      ASSERT_GE(records.size(), acked_part.size()) << "partition " << p << " lost fsync-acknowledged records";
      records.resize(acked_part.size());
      EXPECT_EQ(records, acked_part) << "partition " << p;
    }
  }
}

// 0: no torn tail; the others keep a random part of what was not synced.
INSTANTIATE_TEST_SUITE_P(Durable, PowerLoss, ::testing::Values(0ull, 7ull, 11ull));

}  // namespace
}  // namespace rill
