// rill_bench_micro: the hot paths alone, on one thread, so that a change's
// cost shows by itself (in ns here, or in instructions under callgrind; see
// bench/README.md). Every benchmark reports items/s per record.
//
// Records are 64-byte values with no key and no headers: 80-byte frames (v4).
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/suite/clock.h"
#include "bench/suite/histogram.h"
#include "core/log/partition_ring.h"
#include "ipc/clock.h"
#include "ipc/region.h"
#include "rill/rill.h"

namespace rill::bench {
namespace {

constexpr std::size_t kValueBytes = 64;
constexpr std::uint32_t kFrameBytes = log::kRecordHeaderSize + kValueBytes;
// As the transport benchmarks: 8 MiB segments x 8.
constexpr log::PartitionGeometry kGeometry{8ull << 20, 8, 4096};
const TopicConfig kTopicConfig{.partitions = 1, .segment_bytes = 8ull << 20, .segment_count = 8};
// Records pre-filled for the read benchmarks: within the ring's retention
// (5 full segments of ~74,000 records), so that nothing is overrun.
constexpr std::int64_t kFilled = 262'144;

std::string value64() { return std::string(kValueBytes, 'v'); }

// A ring over anonymous memory, as the log layer sees it.
struct Ring {
  std::unique_ptr<ipc::Region> region;
  log::PartitionRing ring;
  log::ClaimSlot* slot;  // this thread's claim slot, as a Producer holds one
};

std::optional<Ring> make_ring(benchmark::State& state) {
  auto region = ipc::create_anonymous_region(kGeometry.region_bytes());
  if (!region) {
    state.SkipWithError(region.status().to_string().c_str());
    return std::nullopt;
  }
  auto ring = log::PartitionRing::create((*region)->bytes(), kGeometry, 0, nullptr);
  if (!ring) {
    state.SkipWithError(ring.status().to_string().c_str());
    return std::nullopt;
  }
  auto slot = ring->acquire_slot(ipc::self());
  if (!slot) {
    state.SkipWithError(slot.status().to_string().c_str());
    return std::nullopt;
  }
  return Ring{std::move(*region), *ring, *slot};
}

std::shared_ptr<Topic> make_topic(benchmark::State& state, const TopicConfig& config = kTopicConfig) {
  auto ns = Namespace::in_process();
  if (!ns) {
    state.SkipWithError(ns.status().to_string().c_str());
    return nullptr;
  }
  if (Status s = (*ns)->create_topic("micro", config); !s) {
    state.SkipWithError(s.to_string().c_str());
    return nullptr;
  }
  auto topic = (*ns)->open_topic("micro");
  if (!topic) {
    state.SkipWithError(topic.status().to_string().c_str());
    return nullptr;
  }
  return *topic;  // keeps its regions alive without the namespace
}

// A v4 record frame of `value` and no key at `frame`; returns its commit word.
std::uint64_t encode(std::byte* frame, std::string_view value, std::int64_t ts) {
  std::uint32_t info = 0;
  std::byte* at = log::encode_record_fields(frame, ts, std::nullopt, value.size(), {}, 0, &info);
  std::memcpy(at, value.data(), value.size());
  return log::commit_word_of(frame, info, 0);
}

bool append(Ring& r, std::string_view value, std::int64_t ts) {
  log::PartitionRing& ring = r.ring;
  log::Claim claim;
  if (ring.claim(static_cast<std::uint32_t>(log::align_frame(kFrameBytes)), 1, r.slot, &claim) != log::ClaimStatus::kOk)
    return false;
  ring.commit(claim, encode(claim.data, value, ts));
  return true;
}

// ---------------------------------------------------------------- produce

// The log layer's append: claim (CAS + cleaning two segments ahead), encode
// (fields, value copy, XXH3), commit (release store). Fixed timestamp: no clock.
void BM_RingClaimEncodeCommit(benchmark::State& state) {
  auto r = make_ring(state);
  if (!r) return;
  const std::string value = value64();
  for (auto _ : state) {
    if (!append(*r, value, 1)) {
      state.SkipWithError("claim failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RingClaimEncodeCommit);

// As above plus notify(): what Producer::send adds on top of the ring (a seq_cst
// fence and a load of the doorbell's sleeper count).
void BM_RingClaimEncodeCommitNotify(benchmark::State& state) {
  auto r = make_ring(state);
  if (!r) return;
  const std::string value = value64();
  for (auto _ : state) {
    if (!append(*r, value, 1)) {
      state.SkipWithError("claim failed");
      break;
    }
    r->ring.notify();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RingClaimEncodeCommitNotify);

// claim + commit of an unwritten frame: the ring's bookkeeping alone.
void BM_RingClaimCommit(benchmark::State& state) {
  auto r = make_ring(state);
  if (!r) return;
  for (auto _ : state) {
    log::Claim claim;
    if (r->ring.claim(static_cast<std::uint32_t>(log::align_frame(kFrameBytes)), 1, r->slot, &claim) != log::ClaimStatus::kOk) {
      state.SkipWithError("claim failed");
      break;
    }
    r->ring.commit(claim, log::make_commit_word(log::make_info(log::kKindRecord, kFrameBytes), 0));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RingClaimCommit);

// A record frame encoded into one scratch frame (fields, value copy, checksum): no ring.
void BM_EncodeFrame(benchmark::State& state) {
  alignas(64) std::array<std::byte, 128> frame{};
  const std::string value = value64();
  std::int64_t ts = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(encode(frame.data(), value, ts++));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeFrame);

// The record checksum: XXH3-64 over bytes [8, 80) of the 80-byte frame of a
// 64-byte value, folded to 32 bits.
void BM_FrameChecksum(benchmark::State& state) {
  alignas(64) std::array<std::byte, 128> frame{};
  const std::uint32_t info = log::commit_info(encode(frame.data(), value64(), 1));
  for (auto _ : state) {
    benchmark::DoNotOptimize(frame.data());
    benchmark::DoNotOptimize(log::frame_checksum(frame.data(), info, 0));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FrameChecksum);

// XXH3-64 of the 72 bytes a record frame checksums, straight from xxhash.h.
void BM_Xxh3_72(benchmark::State& state) {
  alignas(64) std::array<std::byte, 72> bytes{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(bytes.data());
    benchmark::DoNotOptimize(XXH3_64bits(bytes.data(), bytes.size()));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Xxh3_72);

// The default timestamp of a send: clock_gettime(CLOCK_REALTIME).
void BM_NowNs(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(now_ns());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NowNs);

// Producer::send(nullopt, value64): the public hot path, one record per call.
void BM_ProducerSend(benchmark::State& state) {
  auto topic = make_topic(state);
  if (!topic) return;
  Producer producer(topic);
  const std::string value = value64();
  for (auto _ : state) {
    auto r = producer.send(std::nullopt, value);
    if (!r) {
      state.SkipWithError(r.status().to_string().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProducerSend);

// As above with a caller-set timestamp: shows the clock's share of send().
void BM_ProducerSendTimestamped(benchmark::State& state) {
  auto topic = make_topic(state);
  if (!topic) return;
  Producer producer(topic);
  const std::string value = value64();
  SendOptions options;
  options.timestamp_ns = 1;
  for (auto _ : state) {
    auto r = producer.send(std::nullopt, value, options);
    if (!r) {
      state.SkipWithError(r.status().to_string().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProducerSendTimestamped);

// Producer::send_batch of 64 messages; items/s counts records.
void BM_ProducerSendBatch64(benchmark::State& state) {
  auto topic = make_topic(state);
  if (!topic) return;
  Producer producer(topic);
  const std::string value = value64();
  std::vector<Message> messages(64);
  for (Message& m : messages) m.value = value;
  for (auto _ : state) {
    auto r = producer.send_batch(messages);
    if (!r || *r != messages.size()) {
      state.SkipWithError("send_batch failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(messages.size()));
}
BENCHMARK(BM_ProducerSendBatch64);

// ---------------------------------------------------------------- consume

// PartitionRing::read of committed records, `range(0)` per call, touching a
// value byte of each; the cursor goes back to the start when it reaches the end.
void BM_RingRead(benchmark::State& state) {
  auto r = make_ring(state);
  if (!r) return;
  const std::string value = value64();
  for (std::int64_t i = 0; i < kFilled; ++i) (void)append(*r, value, 1);
  const auto max = static_cast<std::size_t>(state.range(0));
  std::vector<RecordView> views(max);
  const log::ReadCursor start = r->ring.earliest();
  log::ReadCursor cursor = start;
  std::int64_t records = 0;
  std::uint64_t sum = 0;
  for (auto _ : state) {
    log::ReadBatch b = r->ring.read(cursor, views.data(), max);
    if (b.status != log::ReadStatus::kOk) {
      state.SkipWithError("read failed");
      break;
    }
    for (std::size_t i = 0; i < b.count; ++i) sum += static_cast<std::uint8_t>(views[i].value()[63]);
    records += static_cast<std::int64_t>(b.count);
    if (b.count == 0) cursor = start;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(records);
}
BENCHMARK(BM_RingRead)->Arg(1)->Arg(64)->Arg(512);

// Consumer::poll over a pre-filled topic, max_poll_records = range(0),
// touching a value byte of each record; seeks back to the start at the end.
void BM_ConsumerPoll(benchmark::State& state) {
  auto topic = make_topic(state);
  if (!topic) return;
  {
    Producer producer(topic);
    const std::string value = value64();
    for (std::int64_t i = 0; i < kFilled; ++i) (void)producer.send(std::nullopt, value);
  }
  ConsumerOptions options;
  options.wait = WaitStrategy::kBusySpin;
  options.start_at_earliest = true;
  options.max_poll_records = static_cast<std::size_t>(state.range(0));
  Consumer consumer(topic, options);
  if (Status s = consumer.assign_all(); !s) return state.SkipWithError(s.to_string().c_str());
  std::int64_t records = 0;
  std::uint64_t sum = 0;
  for (auto _ : state) {
    PollResult r = consumer.poll(std::chrono::nanoseconds(0));
    for (const RecordView& v : r.records) sum += static_cast<std::uint8_t>(v.value()[63]);
    records += static_cast<std::int64_t>(r.records.size());
    if (r.records.empty()) (void)consumer.seek_to_beginning();
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(records);
}
BENCHMARK(BM_ConsumerPoll)->Arg(1)->Arg(64)->Arg(512);

// ---------------------------------------------------------------- partitioner

// Producer::partition_for: XXH3-64 of a 16-byte key modulo 8 partitions.
void BM_PartitionFor(benchmark::State& state) {
  TopicConfig config = kTopicConfig;
  config.partitions = 8;
  config.segment_bytes = 64 * 1024;
  config.segment_count = 4;
  auto topic = make_topic(state, config);
  if (!topic) return;
  Producer producer(topic);
  std::vector<std::string> keys;
  for (int i = 0; i < 1024; ++i) {
    char key[17];
    std::snprintf(key, sizeof key, "user-%011d", i * 7919);
    keys.emplace_back(key);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(producer.partition_for(keys[i]));
    i = (i + 1) & 1023;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PartitionFor);

// ---------------------------------------------------------------- bench suite

// What `rill bench` adds per record on the consumer side: a histogram record
// (values spread over four decades, so that buckets vary) and a clock read.
void BM_HistogramRecord(benchmark::State& state) {
  auto h = std::make_unique<Histogram>();
  std::array<std::int64_t, 1024> values;
  std::uint64_t x = 88172645463325252ull;
  for (auto& v : values) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    v = static_cast<std::int64_t>(100 + x % 1'000'000);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    h->record(values[i]);
    i = (i + 1) & 1023;
  }
  benchmark::DoNotOptimize(h->count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecord);

void BM_BenchClockTsc(benchmark::State& state) {
  auto clock = BenchClock::make("auto");
  if (!clock.is_ok() || clock.value().name() != "tsc") {
    state.SkipWithError("no invariant TSC on this machine");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(clock.value().now());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BenchClockTsc);

void BM_BenchClockMonotonic(benchmark::State& state) {
  const BenchClock clock = BenchClock::make("monotonic").value();
  for (auto _ : state) benchmark::DoNotOptimize(clock.now());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BenchClockMonotonic);

}  // namespace
}  // namespace rill::bench

// ---------------------------------------------------------------------------
// The epoch clock records are stamped with (ipc/clock.h, doc/clock.md): what a
// read costs against clock_gettime(CLOCK_REALTIME) and a bare rdtsc, and how
// far it is from CLOCK_REALTIME. `--benchmark_filter=Clock_` runs this part.
namespace rill::bench {
namespace {

void BM_Clock_Gettime_Realtime(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ipc::realtime_ns());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Clock_Gettime_Realtime);

// rdtsc alone: the floor under any TSC clock.
void BM_Clock_Rdtsc(benchmark::State& state) {
#if defined(__x86_64__)
  for (auto _ : state) benchmark::DoNotOptimize(__builtin_ia32_rdtsc());
  state.SetItemsProcessed(state.iterations());
#else
  state.SkipWithError("no rdtsc off x86-64");
#endif
}
BENCHMARK(BM_Clock_Rdtsc);

// lfence; rdtsc: what BenchClock::now() and the epoch clock read.
void BM_Clock_ReadTsc(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ipc::read_tsc());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Clock_ReadTsc);

void BM_Clock_EpochNs(benchmark::State& state) {
  state.SetLabel(std::string(ipc::clock_source()));
  for (auto _ : state) benchmark::DoNotOptimize(ipc::epoch_ns());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Clock_EpochNs);

void BM_Clock_EpochNs_RealtimeFallback(benchmark::State& state) {
  static ipc::EpochClock fallback(ipc::ClockRequest::kRealtime);
  for (auto _ : state) benchmark::DoNotOptimize(fallback.now_ns());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Clock_EpochNs_RealtimeFallback);

// Nanoseconds per call of `read` over `calls` calls.
template <typename Read>
double ns_per_call(Read read, int calls) {
  const std::int64_t start = monotonic_ns();
  for (int i = 0; i < calls; ++i) benchmark::DoNotOptimize(read());
  return static_cast<double>(monotonic_ns() - start) / calls;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The cost ratios, measured within one run as MEASURING.md asks: blocks of
// 10,000 calls of each, interleaved (gettime, epoch_ns, rdtsc, gettime, ...),
// 21 rounds; counters are the median ratio over the rounds and its deciles.
void BM_Clock_CostRatio(benchmark::State& state) {
  constexpr int kCalls = 10'000, kRounds = 21;
  state.SetLabel(std::string(ipc::clock_source()));
  std::vector<double> epoch_ratio, rdtsc_ratio;
  for (auto _ : state) {
    for (int r = 0; r < kRounds; ++r) {
      const double gettime = ns_per_call([] { return ipc::realtime_ns(); }, kCalls);
      const double epoch = ns_per_call([] { return ipc::epoch_ns(); }, kCalls);
#if defined(__x86_64__)
      const double rdtsc = ns_per_call([] { return __builtin_ia32_rdtsc(); }, kCalls);
      rdtsc_ratio.push_back(rdtsc / gettime);
#endif
      epoch_ratio.push_back(epoch / gettime);
    }
  }
  std::sort(epoch_ratio.begin(), epoch_ratio.end());
  state.counters["epoch_vs_gettime"] = median_of(epoch_ratio);
  // Deciles rather than min and max: a round interrupted mid-block is an outlier of either sign.
  state.counters["epoch_vs_gettime_p10"] = epoch_ratio[epoch_ratio.size() / 10];
  state.counters["epoch_vs_gettime_p90"] = epoch_ratio[epoch_ratio.size() * 9 / 10];
  if (!rdtsc_ratio.empty()) state.counters["rdtsc_vs_gettime"] = median_of(rdtsc_ratio);
}
BENCHMARK(BM_Clock_CostRatio)->Iterations(1)->Unit(benchmark::kMillisecond);

// epoch_ns() against CLOCK_REALTIME: 10,000 samples each read between two
// clock_gettime calls, about 20 us apart (so that they span recalibrations).
// error = epoch_ns - the sandwich's midpoint; the median and max of |error|
// are over samples whose sandwich is no wider than twice the median (the
// others were interrupted); outside_max is the largest distance by which a
// sample fell outside its sandwich, over all of them - the quantity
// kEpochClockErrorBoundNs bounds.
void BM_Clock_EpochNs_Error(benchmark::State& state) {
  constexpr int kSamples = 10'000;
  state.SetLabel(std::string(ipc::clock_source()));
  std::vector<double> errors, widths;
  std::int64_t outside_max = 0;
  for (auto _ : state) {
    std::vector<std::int64_t> error(kSamples), width(kSamples);
    for (int i = 0; i < kSamples; ++i) {
      const std::int64_t until = ipc::realtime_ns() + 20'000;
      while (ipc::realtime_ns() < until) {
      }
      const std::int64_t rt1 = ipc::realtime_ns();
      const std::int64_t value = ipc::epoch_ns();
      const std::int64_t rt2 = ipc::realtime_ns();
      error[i] = value - (rt1 + (rt2 - rt1) / 2);
      width[i] = rt2 - rt1;
      outside_max = std::max({outside_max, rt1 - value, value - rt2});
    }
    std::vector<double> w(width.begin(), width.end());
    const double narrow = 2 * median_of(w);
    for (int i = 0; i < kSamples; ++i) {
      widths.push_back(static_cast<double>(width[i]));
      if (static_cast<double>(width[i]) <= narrow) errors.push_back(static_cast<double>(std::abs(error[i])));
    }
  }
  std::sort(errors.begin(), errors.end());
  state.counters["err_median_ns"] = median_of(errors);
  state.counters["err_p99_ns"] = errors.empty() ? 0 : errors[errors.size() * 99 / 100];
  state.counters["err_max_ns"] = errors.empty() ? 0 : errors.back();
  state.counters["outside_max_ns"] = static_cast<double>(outside_max);
  state.counters["sandwich_median_ns"] = median_of(widths);
  state.counters["samples"] = static_cast<double>(errors.size());
}
BENCHMARK(BM_Clock_EpochNs_Error)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rill::bench

BENCHMARK_MAIN();
