// rill_bench_recovery: how long a consumer waits behind the claim of a
// producer process that was SIGKILLed between claim and commit, from the
// kill to the consumer holding the next record - with the defaults a user
// gets (ConsumerOptions{}), polling as `rill consume` does (100 ms timeout)
// or with poll(0).
//
// Baseline, same process run, same harness: a child that commits its record
// normally and then exits; the time from its commit to the consumer holding
// the parent's next record. The dead-claim figure minus the baseline is the
// price of the death; the configured patience (abandoned_claim_timeout) is
// reported beside it.
//
// Each round forks a producer process into a shared namespace: it sends
// nothing else, reserves one record (or sends it, for the baseline), writes
// CLOCK_MONOTONIC to a pipe and raises SIGKILL (or exits). The parent then
// sends one record and polls until it has it. p50/p99/max over the rounds
// are counters (ms); `--benchmark_counters_tabular=true` lines them up.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/log/doorbell.h"
#include "rill/rill.h"

namespace rill::bench {
namespace {

using namespace std::chrono_literals;

constexpr int kRounds = 100;

struct Shm {
  std::string ns = "bench-recovery-" + std::to_string(::getpid());
  ~Shm() {
    ::shm_unlink(("rill." + ns + ".registry").c_str());
    ::shm_unlink(("rill." + ns + ".t.0").c_str());
  }
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// range(0): 1 = the producer dies mid-record, 0 = it commits (baseline).
// range(1): poll timeout in ms. range(2): wait strategy.
void BM_KillToUnblock(benchmark::State& state) {
  const bool dies = state.range(0) == 1;
  const auto timeout = std::chrono::milliseconds(state.range(1));
  const auto wait = static_cast<WaitStrategy>(state.range(2));
  Shm shm;
  auto ns = Namespace::open_shared(shm.ns);
  if (!ns) {
    state.SkipWithError(ns.status().to_string().c_str());
    return;
  }
  if (Status s = (*ns)->create_topic("t", {.partitions = 1, .segment_bytes = 1 << 20, .segment_count = 8}); !s) {
    state.SkipWithError(s.to_string().c_str());
    return;
  }
  auto topic = (*ns)->open_topic("t").value();
  Producer producer(topic);
  ConsumerOptions options;
  options.wait = wait;
  Consumer consumer(topic, options);
  (void)consumer.assign_all();
  std::vector<double> ms;
  std::int64_t abandoned = 0;
  for (auto _ : state) {
    for (int round = 0; round < kRounds; ++round) {
      int fds[2];
      if (::pipe(fds) != 0) {
        state.SkipWithError("pipe");
        return;
      }
      const pid_t pid = ::fork();
      if (pid == 0) {
        Producer mine(topic);
        std::int64_t t = 0;
        if (dies) {
          auto r = mine.reserve(std::nullopt, 64);
          t = log::monotonic_ns();
          (void)!::write(fds[1], &t, sizeof t);
          if (r) ::raise(SIGKILL);
        } else {
          (void)mine.send(std::nullopt, std::string(64, 'c'));
          t = log::monotonic_ns();
          (void)!::write(fds[1], &t, sizeof t);
        }
        ::_exit(0);
      }
      std::int64_t started = 0;
      const bool got_time = ::read(fds[0], &started, sizeof started) == sizeof started;
      ::close(fds[0]);
      ::close(fds[1]);
      // Not reaped before the record is through: a zombie is dead already.
      const std::string marker = "next-" + std::to_string(round);
      (void)producer.send(std::nullopt, marker);
      bool through = false;
      const std::int64_t give_up = log::monotonic_ns() + 30'000'000'000;
      while (!through && log::monotonic_ns() < give_up) {
        PollResult r = consumer.poll(timeout);
        abandoned += r.abandoned;
        for (const RecordView& v : r.records) through |= v.value() == marker;
      }
      const std::int64_t done = log::monotonic_ns();
      ::waitpid(pid, nullptr, 0);
      if (!got_time || !through) {
        state.SkipWithError("a round did not get through in 30 s");
        return;
      }
      ms.push_back(static_cast<double>(done - started) / 1e6);
    }
  }
  state.counters["p50_ms"] = percentile(ms, 0.50);
  state.counters["p99_ms"] = percentile(ms, 0.99);
  state.counters["max_ms"] = percentile(ms, 1.0);
  state.counters["rounds"] = static_cast<double>(ms.size());
  state.counters["abandoned"] = static_cast<double>(abandoned);
  state.counters["patience_ms"] = static_cast<double>(options.abandoned_claim_timeout.count());
}

// {dies, poll timeout ms, wait strategy}: baseline then the death, per setting.
BENCHMARK(BM_KillToUnblock)
    ->ArgNames({"dies", "poll_ms", "wait"})
    ->Args({0, 100, static_cast<int>(WaitStrategy::kBlock)})
    ->Args({1, 100, static_cast<int>(WaitStrategy::kBlock)})
    ->Args({0, 0, static_cast<int>(WaitStrategy::kBlock)})
    ->Args({1, 0, static_cast<int>(WaitStrategy::kBlock)})
    ->Args({0, 100, static_cast<int>(WaitStrategy::kSpinThenYield)})
    ->Args({1, 100, static_cast<int>(WaitStrategy::kSpinThenYield)})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rill::bench

BENCHMARK_MAIN();
