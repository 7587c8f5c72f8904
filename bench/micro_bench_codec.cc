// rill_bench_micro, compression part (a second source file of the same
// binary): the batch codecs on a batch of 64 JSON-like records of ~200 bytes
// (bench/json_records.h), encoded as send_batch() encodes them, against a
// memcpy of the same bytes; and send_batch + poll with each codec against
// none. `--benchmark_filter=Codec` runs this part.
//
// Per MEASURING.md the figures to quote are the ratios the *_Ratio cases
// measure within one run: blocks of each case interleaved, 21 rounds, the
// median ratio and its 10th and 90th percentiles as counters. The other
// cases give bytes/s and the compression ratio (uncompressed / compressed).
#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/json_records.h"
#include "core/format/codec.h"
#include "core/log/frame_codec.h"
#include "ipc/clock.h"
#include "rill/rill.h"

namespace rill::bench {
namespace {

constexpr std::size_t kBatchRecords = 64;
constexpr Compression kCodecs[] = {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd};

// The records of one batch frame, encoded (no keys, no headers, delta 0).
std::vector<std::byte> encoded_batch() {
  const std::vector<std::string> values = JsonRecords().take(kBatchRecords);
  std::vector<std::byte> out;
  for (const std::string& v : values) {
    const std::size_t at = out.size();
    out.resize(at + log::batch_record_size(0, std::nullopt, v.size(), 0));
    log::encode_batch_record(out.data() + at, 0, std::nullopt, v, {}, 0);
  }
  return out;
}

// A codec's case, or the memcpy baseline: one call on the batch.
struct CodecCase {
  std::vector<std::byte> in = encoded_batch();
  std::vector<std::byte> packed;  // `in`, compressed
  std::vector<std::byte> out;
  format::Compressor compressor;
  format::Decompressor decompressor;
  Compression codec;

  explicit CodecCase(Compression c) : codec(c) {
    packed.resize(format::max_compressed_bytes(c, in.size()));
    out.resize(std::max(packed.size(), in.size()));
    if (c != Compression::kNone) packed.resize(compressor.compress(c, in, packed).value());
  }
  double ratio() const { return static_cast<double>(in.size()) / static_cast<double>(packed.size()); }
  void copy() {
    std::memcpy(out.data(), in.data(), in.size());
    benchmark::ClobberMemory();
  }
  bool compress() {
    auto n = compressor.compress(codec, in, out);
    benchmark::DoNotOptimize(out.data());
    return n.is_ok();
  }
  bool decompress() {
    const bool ok = decompressor.decompress(codec, packed, std::span<std::byte>(out.data(), in.size())).is_ok();
    benchmark::DoNotOptimize(out.data());
    return ok;
  }
};

void BM_Codec_Memcpy(benchmark::State& state) {
  CodecCase c(Compression::kNone);
  for (auto _ : state) c.copy();
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(c.in.size()));
  state.counters["batch_bytes"] = static_cast<double>(c.in.size());
}
BENCHMARK(BM_Codec_Memcpy);

// Bytes/s of records in (compress) or out (decompress); `ratio` =
// uncompressed / compressed.
void BM_Codec_Compress(benchmark::State& state) {
  CodecCase c(static_cast<Compression>(state.range(0)));
  state.SetLabel(std::string(compression_name(c.codec)));
  for (auto _ : state)
    if (!c.compress()) return state.SkipWithError("compress failed");
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(c.in.size()));
  state.counters["ratio"] = c.ratio();
}
BENCHMARK(BM_Codec_Compress)->DenseRange(1, 4);

void BM_Codec_Decompress(benchmark::State& state) {
  CodecCase c(static_cast<Compression>(state.range(0)));
  state.SetLabel(std::string(compression_name(c.codec)));
  for (auto _ : state)
    if (!c.decompress()) return state.SkipWithError("decompress failed");
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(c.in.size()));
  state.counters["ratio"] = c.ratio();
}
BENCHMARK(BM_Codec_Decompress)->DenseRange(1, 4);

// Nanoseconds per call of `call` over `calls` calls.
template <typename Call>
double ns_per_call(Call call, int calls) {
  const std::int64_t start = ipc::monotonic_ns();
  for (int i = 0; i < calls; ++i) call();
  return static_cast<double>(ipc::monotonic_ns() - start) / calls;
}

// The median of `v` and its 10th and 90th percentiles as counters `name`,
// `name`_p10 and `name`_p90.
void ratio_counters(benchmark::State& state, const std::string& name, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  state.counters[name] = v[v.size() / 2];
  // Deciles rather than min and max: a round interrupted mid-block is an outlier of either sign.
  state.counters[name + "_p10"] = v[v.size() / 10];
  state.counters[name + "_p90"] = v[v.size() * 9 / 10];
}

// Time of each codec's compress and decompress over a memcpy of the same
// bytes: blocks of 200 calls each, interleaved (memcpy, gzip compress,
// gzip decompress, memcpy, snappy ...), 21 rounds.
void BM_Codec_Ratio(benchmark::State& state) {
  constexpr int kCalls = 200, kRounds = 21;
  std::vector<std::unique_ptr<CodecCase>> cases;
  for (Compression c : kCodecs) cases.push_back(std::make_unique<CodecCase>(c));
  std::vector<std::vector<double>> compress(cases.size()), decompress(cases.size());
  for (auto _ : state) {
    for (int round = 0; round < kRounds; ++round) {
      for (std::size_t i = 0; i < cases.size(); ++i) {
        CodecCase& c = *cases[i];
        const double copy = ns_per_call([&] { c.copy(); }, kCalls);
        compress[i].push_back(ns_per_call([&] { (void)c.compress(); }, kCalls) / copy);
        decompress[i].push_back(ns_per_call([&] { (void)c.decompress(); }, kCalls) / copy);
      }
    }
  }
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string name(compression_name(cases[i]->codec));
    ratio_counters(state, name + "_compress_vs_memcpy", compress[i]);
    ratio_counters(state, name + "_decompress_vs_memcpy", decompress[i]);
    state.counters[name + "_size_ratio"] = cases[i]->ratio();
  }
}
BENCHMARK(BM_Codec_Ratio)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------- send_batch + poll

// A topic, a producer with a codec and a consumer of it: one round sends a
// batch of the 64 records and polls them all back, touching a byte of each.
struct Pipe {
  std::shared_ptr<Topic> topic;
  std::unique_ptr<Producer> producer;
  std::unique_ptr<Consumer> consumer;
  std::vector<std::string> values = JsonRecords().take(kBatchRecords);
  std::vector<Message> messages;
  std::uint64_t sum = 0;

  static std::unique_ptr<Pipe> make(Compression codec, std::string* error) {
    auto ns = Namespace::in_process();
    if (!ns) return *error = ns.status().to_string(), nullptr;
    const TopicConfig config{.partitions = 1, .segment_bytes = 8ull << 20, .segment_count = 8};
    if (Status s = (*ns)->create_topic("codec", config); !s) return *error = s.to_string(), nullptr;
    auto p = std::make_unique<Pipe>();
    p->topic = (*ns)->open_topic("codec").value();
    p->producer = std::make_unique<Producer>(p->topic, ProducerOptions{.compression = codec});
    ConsumerOptions options;
    options.wait = WaitStrategy::kBusySpin;
    options.max_poll_records = kBatchRecords;
    p->consumer = std::make_unique<Consumer>(p->topic, options);
    if (Status s = p->consumer->assign_all(); !s) return *error = s.to_string(), nullptr;
    for (const std::string& v : p->values) p->messages.push_back(Message{std::nullopt, v, -1, {}});
    return p;
  }
  bool round() {
    auto n = producer->send_batch(messages);
    if (!n || *n != messages.size()) return false;
    for (std::size_t got = 0; got < messages.size();) {
      PollResult r = consumer->poll(std::chrono::nanoseconds(0));
      if (!r.status.is_ok() || r.records.empty()) return false;
      for (const RecordView& v : r.records) sum += static_cast<std::uint8_t>(v.value()[v.value().size() / 2]);
      got += r.records.size();
    }
    return true;
  }
};

// send_batch of the 64 records and a poll of them, per codec (range(0);
// 0 = none); items/s counts records.
void BM_Codec_SendBatchPoll(benchmark::State& state) {
  const auto codec = static_cast<Compression>(state.range(0));
  state.SetLabel(std::string(compression_name(codec)));
  std::string error;
  auto pipe = Pipe::make(codec, &error);
  if (!pipe) return state.SkipWithError(error.c_str());
  for (auto _ : state)
    if (!pipe->round()) return state.SkipWithError("send_batch or poll failed");
  benchmark::DoNotOptimize(pipe->sum);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kBatchRecords));
}
BENCHMARK(BM_Codec_SendBatchPoll)->DenseRange(0, 4);

// The time of a send_batch + poll round with each codec over one without:
// blocks of 100 rounds, interleaved (none, gzip, none, snappy ...), 21 times.
void BM_Codec_SendBatchPoll_Ratio(benchmark::State& state) {
  constexpr int kCalls = 100, kRounds = 21;
  std::string error;
  auto none = Pipe::make(Compression::kNone, &error);
  if (!none) return state.SkipWithError(error.c_str());
  std::vector<std::unique_ptr<Pipe>> pipes;
  for (Compression c : kCodecs) {
    pipes.push_back(Pipe::make(c, &error));
    if (!pipes.back()) return state.SkipWithError(error.c_str());
  }
  std::vector<std::vector<double>> ratios(pipes.size());
  bool ok = true;
  for (auto _ : state) {
    for (int round = 0; round < kRounds; ++round) {
      for (std::size_t i = 0; i < pipes.size(); ++i) {
        const double base = ns_per_call([&] { ok &= none->round(); }, kCalls);
        ratios[i].push_back(ns_per_call([&] { ok &= pipes[i]->round(); }, kCalls) / base);
      }
    }
  }
  if (!ok) return state.SkipWithError("send_batch or poll failed");
  for (std::size_t i = 0; i < pipes.size(); ++i)
    ratio_counters(state, std::string(compression_name(kCodecs[i])) + "_vs_none", ratios[i]);
}
BENCHMARK(BM_Codec_SendBatchPoll_Ratio)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rill::bench
