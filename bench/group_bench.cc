// rill_bench_group: consumer groups, each figure against its baseline in
// the same process run.
//
//   BM_PlainDrain      a Consumer reading 1M records (64 B values, 4
//                      partitions) from the beginning: records/s.
//   BM_GroupDrain      the same records read by the one member of a group
//                      (GroupConsumer: joining, syncing, and per poll a look
//                      at the group). Ratio: items_per_second of the two.
//   BM_PlainLatency    a producer thread sends 100k records at 100k/s; a
//                      Consumer (waiting in a futex) reads them: p50/p99 of
//                      send-to-read (the records' timestamps), in ns.
//   BM_GroupLatency    the same, read by a group member.
//   BM_TakeoverAfterKill   two members (this process and a child process)
//                      read one partition each; the child is SIGKILLed:
//                      the time from the kill to the first record of its
//                      partition read here (the new owner), p50/p99 over
//                      the iterations, in ms.
//   BM_TakeoverAfterLeave  the same, but the child leaves cleanly (close()
//                      on SIGTERM): from the signal to that first record.
//
// Run: rill_bench_group --benchmark_counters_tabular=true
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/suite/histogram.h"
#include "ipc/clock.h"
#include "rill/group.h"
#include "rill/producer.h"

namespace rill {
namespace {

using namespace std::chrono_literals;

constexpr int kDrainRecords = 1'000'000;
constexpr std::int32_t kPartitions = 4;

std::shared_ptr<Namespace> filled_namespace() {
  static std::shared_ptr<Namespace> ns = [] {
    auto made = Namespace::in_process().value();
    (void)made->create_topic("t", {.partitions = kPartitions, .segment_bytes = 16u << 20, .segment_count = 8});
    Producer producer(made->open_topic("t").value());
    const std::string value(64, 'v');
    for (int i = 0; i < kDrainRecords; ++i) (void)producer.send(std::nullopt, value, {.partition = i % kPartitions});
    return made;
  }();
  return ns;
}

ConsumerOptions group_options(const std::string& group) {
  ConsumerOptions o;
  o.group_id = group;
  o.start_at_earliest = true;
  o.enable_auto_commit = false;
  o.max_poll_records = 1024;
  return o;
}

void BM_PlainDrain(benchmark::State& state) {
  auto ns = filled_namespace();
  for (auto _ : state) {
    Consumer c(ns->open_topic("t").value(), {.max_poll_records = 1024, .start_at_earliest = true});
    (void)c.assign_all();
    std::int64_t n = 0;
    while (n < kDrainRecords) n += static_cast<std::int64_t>(c.poll(0ns).records.size());
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * kDrainRecords);
}
BENCHMARK(BM_PlainDrain)->Unit(benchmark::kMillisecond);

void BM_GroupDrain(benchmark::State& state) {
  auto ns = filled_namespace();
  int round = 0;
  for (auto _ : state) {
    auto c = GroupConsumer::join(ns, {"t"}, group_options("drain-" + std::to_string(round++)));
    if (!c) {
      state.SkipWithError(c.status().to_string().c_str());
      return;
    }
    std::int64_t n = 0;
    while (n < kDrainRecords) n += static_cast<std::int64_t>((*c)->poll(0ns).records.size());
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * kDrainRecords);
}
BENCHMARK(BM_GroupDrain)->Unit(benchmark::kMillisecond);

// A producer thread paced at 100k records/s; `poll` reads until it has them all.
template <typename Poll>
void latency(benchmark::State& state, const std::shared_ptr<Namespace>& ns, Poll poll) {
  constexpr int kRecords = 100'000;
  bench::Histogram h;
  for (auto _ : state) {
    std::thread producer([&] {
      Producer p(ns->open_topic("lat").value());
      const std::int64_t start = ipc::monotonic_ns();
      for (int i = 0; i < kRecords; ++i) {
        while (ipc::monotonic_ns() < start + i * 10'000LL) {
        }
        (void)p.send(std::nullopt, "x", {.partition = i % kPartitions});
      }
    });
    int got = 0;
    while (got < kRecords)
      got += poll([&](const RecordView& r) { h.record(ipc::realtime_ns() - r.timestamp_ns()); });
    producer.join();
  }
  state.counters["p50_ns"] = static_cast<double>(h.value_at(0.50));
  state.counters["p99_ns"] = static_cast<double>(h.value_at(0.99));
}

std::shared_ptr<Namespace> latency_namespace() {
  auto ns = Namespace::in_process().value();
  (void)ns->create_topic("lat", {.partitions = kPartitions});
  return ns;
}

void BM_PlainLatency(benchmark::State& state) {
  auto ns = latency_namespace();
  Consumer c(ns->open_topic("lat").value());
  (void)c.assign_all();
  latency(state, ns, [&](auto&& each) {
    PollResult r = c.poll(100ms);
    for (const RecordView& v : r.records) each(v);
    return static_cast<int>(r.records.size());
  });
}
BENCHMARK(BM_PlainLatency)->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_GroupLatency(benchmark::State& state) {
  auto ns = latency_namespace();
  ConsumerOptions o = group_options("lat");
  o.start_at_earliest = false;
  auto c = GroupConsumer::join(ns, {"lat"}, o).value();
  latency(state, ns, [&](auto&& each) {
    GroupPollResult r = c->poll(100ms);
    for (const RecordView& v : r.records) each(v);
    return static_cast<int>(r.records.size());
  });
}
BENCHMARK(BM_GroupLatency)->Iterations(3)->Unit(benchmark::kMillisecond);

volatile sig_atomic_t g_leave = 0;

// Two members; the child is killed (or told to leave); how long until this
// process reads the first record of the child's partition.
void takeover(benchmark::State& state, bool kill) {
  const std::string ns_name = "bench-group-" + std::to_string(::getpid());
  std::vector<double> ms;
  int round = 0;
  for (auto _ : state) {
    auto ns = Namespace::open_shared(ns_name).value();
    const std::string topic = "t" + std::to_string(round);
    (void)ns->create_topic(topic, {.partitions = 2, .segment_bytes = 1u << 20, .segment_count = 4});
    {
      Producer p(ns->open_topic(topic).value());
      for (std::int32_t part = 0; part < 2; ++part) (void)p.send(std::nullopt, "r", {.partition = part});
    }
    const std::string group = "g" + std::to_string(round++);
    int ready[2];
    if (::pipe(ready) != 0) return;
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(ready[0]);
      ::signal(SIGTERM, [](int) { g_leave = 1; });
      auto mine = Namespace::open_shared(ns_name).value();
      ConsumerOptions o = group_options(group);
      o.assignment_strategy = AssignmentStrategy::kSticky;
      auto c = GroupConsumer::join(mine, {topic}, o).value();
      bool said = false;
      while (!g_leave) {
        (void)c->poll(1ms);
        if (!said && c->assignment().size() == 1) {
          (void)!::write(ready[1], "r", 1);
          said = true;
        }
      }
      (void)c->close();
      ::_exit(0);
    }
    ::close(ready[1]);
    ConsumerOptions o = group_options(group);
    o.assignment_strategy = AssignmentStrategy::kSticky;
    auto c = GroupConsumer::join(ns, {topic}, o).value();
    // Until each reads one partition (this one has read its own record).
    char b;
    while (c->assignment().size() != 1) (void)c->poll(1ms);
    (void)c->poll(0ns);
    if (::read(ready[0], &b, 1) != 1) break;
    ::close(ready[0]);
    const std::int32_t theirs = c->assignment()[0].partition == 0 ? 1 : 0;
    const std::int64_t start = ipc::monotonic_ns();
    ::kill(child, kill ? SIGKILL : SIGTERM);
    bool seen = false;
    while (!seen) {
      GroupPollResult r = c->poll(100ms);
      for (const RecordView& v : r.records) seen = seen || v.partition() == theirs;
    }
    ms.push_back(static_cast<double>(ipc::monotonic_ns() - start) / 1e6);
    ::waitpid(child, nullptr, 0);
    (void)c->close();
  }
  (void)Namespace::remove_shared(ns_name);
  std::sort(ms.begin(), ms.end());
  if (ms.empty()) return;
  state.counters["p50_ms"] = ms[ms.size() / 2];
  state.counters["p99_ms"] = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  state.counters["max_ms"] = ms.back();
}

void BM_TakeoverAfterKill(benchmark::State& state) { takeover(state, true); }
BENCHMARK(BM_TakeoverAfterKill)->Iterations(50)->Unit(benchmark::kMillisecond);

void BM_TakeoverAfterLeave(benchmark::State& state) { takeover(state, false); }
BENCHMARK(BM_TakeoverAfterLeave)->Iterations(50)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rill

BENCHMARK_MAIN();
