// Harness for rill's transport benchmarks: core pinning, a peer that runs in
// a thread or in a forked process, memory shared with that peer, latency
// percentiles, and clean-up of the shared-memory objects a run creates.
//
// Thread safety: everything here is used by the benchmark's main thread only,
// except Control, which is the one structure both sides touch (through its
// atomics).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <thread>

#include "core/log/doorbell.h"
#include <vector>

#include <benchmark/benchmark.h>

namespace rill::bench {

// Producer (and ping side) on core 0, consumer (and echo side) on core 1.
inline constexpr int kProducerCore = 0;
inline constexpr int kConsumerCore = 1;

// Pins the calling thread to `core`. Returns false (and leaves the thread
// where it was) if the machine has no such core or the call fails.
bool pin_to_core(int core) noexcept;

// CLOCK_MONOTONIC in nanoseconds: comparable between the threads and the
// processes of one host, so a consumer's end time can be set against a
// producer's start time.
inline std::int64_t clock_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A fine-grained timestamp for latency samples: the time-stamp counter
// (about 11 ns here against about 29 ns for clock_gettime, whose readings
// step by 10 ns on these VMs), with an lfence so that it is not taken before
// the instructions ahead of it. Convert with a TickRate measured over the
// same run. Elsewhere than x86, it is clock_ns().
inline std::uint64_t ticks() noexcept {
#if defined(__x86_64__)
  __builtin_ia32_lfence();
  return __builtin_ia32_rdtsc();
#else
  return static_cast<std::uint64_t>(clock_ns());
#endif
}

// Nanoseconds per tick, from a clock_ns()/ticks() pair at start() and at stop().
class TickRate {
 public:
  void start() noexcept { ns0_ = clock_ns(), t0_ = ticks(); }
  void stop() noexcept { ns1_ = clock_ns(), t1_ = ticks(); }
  double ns_per_tick() const noexcept {
    return t1_ > t0_ ? static_cast<double>(ns1_ - ns0_) / static_cast<double>(t1_ - t0_) : 1.0;
  }

 private:
  std::int64_t ns0_ = 0, ns1_ = 0;
  std::uint64_t t0_ = 0, t1_ = 0;
};

// The same pause rill's own spin loops use.
using log::cpu_relax;

// What both sides of a transport benchmark share. Lives in a MAP_SHARED
// anonymous mapping made before the peer starts, so that a forked peer sees
// the same bytes as a thread would. Each contended word has its own line.
struct alignas(64) Control {
  // Records the consumer has checked so far; stored (release) after each poll
  // batch, loaded (acquire) by the producer for flow control and warm-up.
  alignas(64) std::atomic<std::uint64_t> consumed{0};
  // 1 once the peer is attached and ready to receive; pairs release/acquire.
  alignas(64) std::atomic<std::uint32_t> peer_ready{0};
  // Set by the main side when it gives up, so that a peer never spins forever.
  std::atomic<std::uint32_t> abort{0};
  // The raw cache-line ping-pong: the main side writes `ping`, the peer `pong`.
  alignas(64) std::atomic<std::uint64_t> ping{0};
  alignas(64) std::atomic<std::uint64_t> pong{0};
  // The two-line variant also moves a 64-byte payload line each way, written
  // before the flag's release store and read after its acquire load.
  alignas(64) std::uint64_t ping_payload[8] = {};
  alignas(64) std::uint64_t pong_payload[8] = {};
};
static_assert(sizeof(Control) == 384);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

// Owns one T in a MAP_SHARED | MAP_ANONYMOUS mapping (inherited by fork()).
// Move-only; unmaps on destruction.
template <typename T>
class SharedObject {
 public:
  SharedObject();
  ~SharedObject();
  SharedObject(const SharedObject&) = delete;
  SharedObject& operator=(const SharedObject&) = delete;
  T& operator*() const noexcept { return *object_; }
  T* operator->() const noexcept { return object_; }

 private:
  T* object_ = nullptr;
};

void* map_shared_anonymous(std::size_t bytes);
void unmap_shared_anonymous(void* p, std::size_t bytes) noexcept;

template <typename T>
SharedObject<T>::SharedObject() : object_(new (map_shared_anonymous(sizeof(T))) T()) {}
template <typename T>
SharedObject<T>::~SharedObject() {
  object_->~T();
  unmap_shared_anonymous(object_, sizeof(T));
}

// What a peer reports when it is done. Trivially copyable: a forked peer
// writes it to a pipe as bytes.
struct PeerReport {
  std::uint64_t received = 0;  // records (or round trips) handled
  std::uint64_t errors = 0;    // 0 on success
  std::int64_t end_ns = 0;     // clock_ns() when the last record was checked
  std::uint64_t sum = 0;       // of a byte of every value: proves the bytes were read
  char message[240] = {};      // the first error, for SkipWithError

  // Records an error; the first message wins.
  void fail(const char* format, ...) noexcept __attribute__((format(printf, 2, 3)));
};

enum class PeerMode : std::uint8_t { kThread, kProcess };

// Runs `body` on `core`, in a std::thread or in a forked child process. The
// child ends with _exit() (no atexit handlers, no static destructors), dies
// with its parent (PR_SET_PDEATHSIG) and sends its PeerReport up a pipe.
// REQUIRES (kProcess): the calling process has no other running thread.
class Peer {
 public:
  Peer(PeerMode mode, int core, std::function<PeerReport()> body);
  ~Peer();  // joins (a child that does not finish is killed)
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // Waits for the peer and returns its report. A child that died without
  // reporting yields a report with an error that says how it died.
  PeerReport join();

 private:
  PeerMode mode_;
  std::thread thread_;
  PeerReport thread_report_;
  pid_t child_ = -1;
  int pipe_read_ = -1;
  bool joined_ = false;
};

// Spins with pause until ready() is true, the deadline passes (clock_ns) or
// control.abort is set. Returns ready().
template <typename Ready>
bool spin_until(Ready ready, std::int64_t deadline_ns, const Control& control) noexcept {
  for (std::uint32_t i = 1;; ++i) {
    if (ready()) return true;
    // Relaxed: abort is a hint to stop; nothing is read on its strength.
    if ((i & 4095) == 0 && (clock_ns() > deadline_ns || control.abort.load(std::memory_order_relaxed) != 0))
      return ready();
    cpu_relax();
  }
}

// One-way latency from round-trip samples: each sample is halved.
struct LatencySummary {
  std::size_t samples = 0;
  double p50_ns = 0, p90_ns = 0, p99_ns = 0, p999_ns = 0, p9999_ns = 0, max_ns = 0, mean_ns = 0;
};
// Round trips in ticks (see ticks()) to one-way nanoseconds. Sorts
// `round_trips` in place. Percentiles are nearest-rank.
LatencySummary summarize_one_way(std::vector<std::uint64_t>& round_trips, double ns_per_tick);
// Adds the summary as counters (p50_ns ... max_ns, mean_ns, samples).
void report_latency(benchmark::State& state, const LatencySummary& s);

// Scale factor for every record and round-trip count (--rill_scale=X or
// $RILL_BENCH_SCALE; default 1). Lets a quick check run in a fraction of the time.
double scale() noexcept;
void set_scale(double s) noexcept;
std::uint64_t scaled(std::uint64_t n) noexcept;

// The shared namespace this process uses for its IPC benchmarks:
// "bench-<pid>". Its objects are /dev/shm/rill.bench-<pid>.*.
const std::string& bench_namespace();
// Removes every /dev/shm/rill.bench-<pid>.* object of this process. Safe to
// call more than once. install_shm_cleanup() also calls it at exit and on
// SIGINT, SIGTERM, SIGABRT, SIGSEGV and SIGBUS (from a handler, it unlinks
// the names precomputed from `topics`).
void remove_bench_shm() noexcept;
void install_shm_cleanup(const std::vector<std::string>& topics);
// In a forked child: restores default signal handlers so that the child never
// removes its parent's objects.
void forget_shm_cleanup_in_child() noexcept;

}  // namespace rill::bench
