// rill_bench_disk: durable topics' disk paths, each against a raw baseline
// measured in the same process run on the same files.
//
//   BM_Recovery        opening a partition whose last segment file was never
//                      marked synced (a crash right after it was written): the
//                      recovery scan checks every frame's checksum. Counters:
//                      GiB/s scanned and seconds per GiB.
//   BM_RawRead         the baseline: reading the same file sequentially
//                      (pread, 1 MiB at a time) and hashing it with XXH3.
//   BM_CatchUp         a Consumer reading a durable topic from its first
//                      offset, far below its ring: records and bytes per
//                      second from the files (zero-copy views).
//   BM_RawReadLogs     the baseline: reading that topic's segment files.
//   BM_ProduceWritten  one producer, no consumer, sending batches of 1024
//                      records (value size: the argument) to a durable
//                      topic at durability written: what the write path
//                      costs, with nothing else on the cores. Counter
//                      file_bytes/s: the segment files' growth per second.
//   BM_RawWrite        the baseline: the same bytes written to a file in
//                      writes of one batch frame each (io::file_system()).
//
// The files are in $TMPDIR (or /tmp) and in the page cache (written just
// before): these measure rill's CPU cost over the bytes, not the disk.
// Ratios: BM_Recovery / BM_RawRead and BM_CatchUp / BM_RawReadLogs
// bytes_per_second. Run: rill_bench_disk --benchmark_counters_tabular=true
#include <xxhash.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/log/disk_format.h"
#include "core/log/disk_log.h"
#include "core/log/frame_codec.h"
#include "io/file_system.h"
#include "rill/rill.h"

namespace rill {
namespace {

std::string temp_dir(const char* what) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/rill-bench-" + what + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

struct RemoveOnExit {
  std::string dir;
  ~RemoveOnExit() {
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
};

const log::DiskLogConfig kOneFile{.partition = 0, .file_bytes = std::uint64_t{1} << 31, .index_interval = 4096,
                                      .permissions = 0600};

// A partition folder with one segment file of about `bytes` of 200-byte
// records, whose sync mark says nothing was synced: opening it scans it all.
std::string unsynced_log(const std::string& dir, std::uint64_t bytes) {
  const std::string p = dir + "/p";
  {
    auto log = log::DiskLog::open(io::file_system(), p, kOneFile, 0);
    if (!log) return {};
    const std::string value(184, 'x');
    const std::size_t frame = log::align_frame(log::record_frame_size(std::nullopt, value.size(), 0));
    std::vector<std::byte> chunk;
    std::int64_t offset = 0;
    for (std::uint64_t written = 0; written < bytes;) {
      chunk.assign(frame * 4096, std::byte{0});
      for (std::size_t k = 0; k < 4096; ++k, ++offset) {
        std::byte* f = chunk.data() + k * frame;
        std::uint32_t info = 0;
        std::byte* v = log::encode_record_fields(f, 1'700'000'000'000'000'000 + offset, std::nullopt, value.size(), {},
                                                 0, &info);
        std::memcpy(v, value.data(), value.size());
        const std::uint64_t word = log::commit_word_of(f, info, offset);
        std::memcpy(f, &word, 8);
      }
      if (!(*log)->append(chunk, false)) return {};
      written += chunk.size();
    }
  }
  // The mark back to "nothing synced", as a crash right after the writes leaves it.
  const std::string path = p + "/00000000000000000000.log";
  auto file = io::file_system().open(path, io::OpenMode::kWrite);
  if (!file) return {};
  std::byte mark[log::disk::kMarkBytes] = {};
  (void)(*file)->write(log::disk::kSyncedEndAt, mark, true);
  return path;
}

constexpr std::uint64_t kRecoveryBytes = 256ull << 20;

// The raw baseline: reads `path` sequentially, 1 MiB at a time, hashing it
// with XXH3 into *hash. Returns the bytes read.
std::uint64_t read_and_hash(const std::string& path, std::vector<std::byte>& buffer, std::uint64_t* hash) {
  auto f = io::file_system().open(path, io::OpenMode::kRead);
  if (!f) return 0;
  std::uint64_t at = 0;
  for (;;) {
    auto n = (*f)->read(at, buffer);
    if (!n || *n == 0) break;
    *hash ^= XXH3_64bits(buffer.data(), *n);
    at += *n;
  }
  return at;
}

void BM_Recovery(benchmark::State& state) {
  const std::string dir = temp_dir("recovery");
  RemoveOnExit cleanup{dir};
  const std::string path = unsynced_log(dir, kRecoveryBytes);
  if (path.empty()) return state.SkipWithError("cannot write the log");
  std::vector<std::byte> pristine;  // the header, to put the mark back after each open
  {
    auto f = io::file_system().open(path, io::OpenMode::kRead).value();
    pristine.resize(log::disk::kLogHeaderBytes);
    (void)f->read(0, pristine);
  }
  std::uint64_t scanned = 0;
  for (auto _ : state) {
    auto log = log::DiskLog::open(io::file_system(), dir + "/p", kOneFile, 0);
    if (!log || (*log)->recovery().bytes_truncated != 0) return state.SkipWithError("recovery failed");
    scanned += (*log)->recovery().bytes_scanned;
    state.PauseTiming();
    // Closing marks the file synced: unmark it for the next round.
    log->reset();
    auto f = io::file_system().open(path, io::OpenMode::kWrite).value();
    (void)f->write(0, pristine, false);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(scanned));
  state.counters["s_per_GiB"] = benchmark::Counter(static_cast<double>(scanned) / double(1ull << 30),
                                                   benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Recovery)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_RawRead(benchmark::State& state) {
  const std::string dir = temp_dir("raw");
  RemoveOnExit cleanup{dir};
  const std::string path = unsynced_log(dir, kRecoveryBytes);
  if (path.empty()) return state.SkipWithError("cannot write the log");
  std::vector<std::byte> buffer(1 << 20);
  std::uint64_t total = 0, hash = 0;
  for (auto _ : state) total += read_and_hash(path, buffer, &hash);
  benchmark::DoNotOptimize(hash);
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
}
BENCHMARK(BM_RawRead)->Unit(benchmark::kMillisecond)->Iterations(5);

// A durable topic of `records` records of 100 bytes, almost all below its ring.
struct CatchUpTopic {
  std::string dir;
  std::shared_ptr<Namespace> ns;
  std::shared_ptr<Topic> topic;
  std::string ns_name;
  ~CatchUpTopic() {
    topic.reset();
    ns.reset();
    (void)Namespace::remove_shared(ns_name);
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
};

// A durable topic "t" in a namespace of its own, in a temporary folder
// named after `what`; null if it cannot be made.
std::unique_ptr<CatchUpTopic> durable_topic(const char* what, const TopicConfig& config) {
  auto t = std::make_unique<CatchUpTopic>();
  t->dir = temp_dir(what);
  t->ns_name = std::string("bench-disk-") + what + "-" + std::to_string(::getpid());
  SharedOptions o;
  o.data_dir = t->dir;
  o.private_to_process = true;
  auto ns = Namespace::open_shared(t->ns_name, o);
  if (!ns) return nullptr;
  t->ns = *ns;
  if (!t->ns->create_topic("t", config)) return nullptr;
  auto topic = t->ns->open_topic("t");
  if (!topic) return nullptr;
  t->topic = *topic;
  return t;
}

std::unique_ptr<CatchUpTopic> catch_up_topic(std::int64_t records) {
  auto t = durable_topic("catchup", {.partitions = 1, .segment_bytes = 1 << 20, .segment_count = 4});
  if (!t) return nullptr;
  ProducerOptions po;
  po.durability = Durability::kWritten;
  Producer producer(t->topic, po);
  const std::string value(100, 'v');
  std::vector<Message> batch(64, Message{.key = std::nullopt, .value = value, .timestamp_ns = -1, .headers = {}});
  for (std::int64_t sent = 0; sent < records; sent += 64)
    if (!producer.send_batch(batch)) return nullptr;
  return t;
}

constexpr std::int64_t kCatchUpRecords = 2'000'000;

void BM_CatchUp(benchmark::State& state) {
  auto t = catch_up_topic(kCatchUpRecords);
  if (!t) return state.SkipWithError("cannot make the topic");
  std::int64_t records = 0, bytes = 0;
  for (auto _ : state) {
    Consumer consumer(t->topic, {.max_poll_records = 4096, .start_at_earliest = true});
    if (!consumer.assign_all()) return state.SkipWithError("assign");
    for (std::int64_t got = 0; got < kCatchUpRecords;) {
      PollResult r = consumer.poll(std::chrono::milliseconds(100));
      if (!r.status.is_ok() || r.records.empty()) return state.SkipWithError("poll");
      for (const RecordView& v : r.records) bytes += static_cast<std::int64_t>(v.value().size());
      got += static_cast<std::int64_t>(r.records.size());
    }
    records += kCatchUpRecords;
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
  state.counters["disk_bytes"] = static_cast<double>(t->ns->describe_topic("t").value().partitions[0].disk_bytes);
}
BENCHMARK(BM_CatchUp)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_RawReadLogs(benchmark::State& state) {
  auto t = catch_up_topic(kCatchUpRecords);
  if (!t) return state.SkipWithError("cannot make the topic");
  std::vector<std::byte> buffer(1 << 20);
  std::uint64_t total = 0, hash = 0;
  const std::string p = t->dir + "/t-0";
  auto listed = log::list_segment_files(io::file_system(), p);
  if (!listed) return state.SkipWithError("cannot list the files");
  const std::vector<std::int64_t> bases = *listed;
  for (auto _ : state) {
    for (const std::int64_t base : bases) {
      char name[32];
      std::snprintf(name, sizeof name, "/%020lld.log", static_cast<long long>(base));
      total += read_and_hash(p + name, buffer, &hash);
    }
  }
  benchmark::DoNotOptimize(hash);
  state.SetBytesProcessed(static_cast<std::int64_t>(total));
}
BENCHMARK(BM_RawReadLogs)->Unit(benchmark::kMillisecond)->Iterations(3);

// The frame bytes of one batch of 1024 records of `value_bytes` (as
// BM_ProduceWritten sends them), measured from a durable topic's files.
constexpr int kBatchRecords = 1024;
constexpr std::int64_t kWriteBatches = 2048;

void BM_ProduceWritten(benchmark::State& state) {
  const auto value_bytes = static_cast<std::size_t>(state.range(0));
  double file_bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto t = durable_topic("written", {.partitions = 1});
    if (!t) return state.SkipWithError("cannot make the topic");
    ProducerOptions po;
    po.durability = Durability::kWritten;
    auto producer = std::make_unique<Producer>(t->topic, po);
    const std::string value(value_bytes, 'v');
    std::vector<Message> batch(kBatchRecords, Message{.key = std::nullopt, .value = value, .timestamp_ns = -1, .headers = {}});
    state.ResumeTiming();
    for (std::int64_t b = 0; b < kWriteBatches; ++b)
      if (!producer->send_batch(batch)) return state.SkipWithError("send_batch");
    state.PauseTiming();
    file_bytes += static_cast<double>(t->ns->describe_topic("t").value().partitions[0].disk_bytes);
    producer.reset();
    t.reset();  // syncs and removes the files, off the clock
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kWriteBatches * kBatchRecords);
  state.counters["file_bytes/s"] = benchmark::Counter(file_bytes, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ProduceWritten)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

void BM_RawWrite(benchmark::State& state) {
  // A batch frame of 1024 records: its header, then per record a few bytes
  // of varints and the value (doc/frame_format.md); near enough in size.
  const auto value_bytes = static_cast<std::size_t>(state.range(0));
  const std::size_t frame = 64 + kBatchRecords * (value_bytes + (value_bytes < 128 ? 4 : 6));
  std::vector<std::byte> bytes(frame, std::byte{0x5a});
  double written = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = temp_dir("rawwrite");
    RemoveOnExit cleanup{dir};
    auto f = io::file_system().open(dir + "/raw.log", io::OpenMode::kCreate, 0600);
    if (!f) return state.SkipWithError("cannot create the file");
    state.ResumeTiming();
    for (std::int64_t b = 0; b < kWriteBatches; ++b)
      if (!(*f)->write(static_cast<std::uint64_t>(b) * frame, bytes, false)) return state.SkipWithError("write");
    written += static_cast<double>(frame) * kWriteBatches;
    state.PauseTiming();
    f->reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kWriteBatches * kBatchRecords);
  state.counters["file_bytes/s"] = benchmark::Counter(written, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RawWrite)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace
}  // namespace rill

BENCHMARK_MAIN();
