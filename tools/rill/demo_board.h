// What `rill demo`'s processes share besides the topic: the run's settings
// (copied into each child by fork), a start barrier, the consumers' read
// positions (producers pace on them) and each child's report to the parent.
//
// The board lives in one MAP_SHARED | MAP_ANONYMOUS mapping made before the
// forks, zero-filled. Atomics pair as commented; plain report fields are
// written by their child only and read by the parent after waitpid().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "rill/topic.h"
#include "rill/wait.h"
#include "bench/suite/clock.h"
#include "bench/suite/histogram.h"

namespace rill::cli {

inline constexpr int kMaxDemoProducers = 16;
inline constexpr int kMaxDemoConsumers = 16;
inline constexpr int kMaxDemoPartitions = 64;

// The phases of a run: 0 = throughput (producers at full speed),
// 1 = latency (producers at a fixed rate, consumers idle between records).
inline constexpr int kDemoPhases = 2;

struct DemoConfig {
  std::string ns;
  std::string topic;
  int producers = 2;
  int consumers = 2;
  int partitions = 2;
  std::uint64_t records = 1'000'000;       // per producer, phase 0
  std::uint64_t latency_records = 20'000;  // per producer, phase 1 (0: no phase 1)
  std::uint64_t rate = 10'000;             // per producer per second in phase 1; 0 = as fast as possible
  std::uint32_t value_size = 64;
  WaitStrategy wait = WaitStrategy::kBlock;
  // Producers keep at most this many records per partition ahead of the
  // slowest consumer: half of what the ring retains, so no consumer is
  // overtaken (a consumer that still is gets counted as skipped, not hidden).
  std::int64_t window = 0;

  std::uint64_t phase_records(int phase) const { return phase == 0 ? records : latency_records; }
  // First sequence number of a phase (sequences run on across phases).
  std::uint64_t phase_start(int phase) const { return phase == 0 ? 0 : records; }
};

// A record's value: what a consumer needs to check order and measure latency.
// Little-endian, as the log; the rest of the value is filler bytes.
struct DemoValue {
  static constexpr std::size_t kProducerAt = 0;  // u32 producer id
  static constexpr std::size_t kSequenceAt = 8;  // u64 per-producer sequence number
  static constexpr std::size_t kSentAt = 16;     // i64 CLOCK_MONOTONIC ns just before publish
  static constexpr std::size_t kMinSize = 24;
  static constexpr unsigned char kFiller = 0x5a;
};

struct alignas(64) DemoProducerSlot {
  std::atomic<std::uint64_t> sent;  // progress for the parent's stall watchdog (relaxed)
  std::int64_t phase_start_ns[kDemoPhases];
  std::int64_t phase_end_ns[kDemoPhases];
  std::uint64_t paced_waits;  // times it waited for the slowest consumer
  char error[256];
};

struct alignas(64) DemoConsumerSlot {
  // Next offset this consumer will read, per partition. Release-stored by the
  // consumer after it processed a poll; acquire-loaded by producers pacing.
  std::atomic<std::int64_t> position[kMaxDemoPartitions];
  std::atomic<std::uint64_t> received;  // progress for the watchdog (relaxed)
  std::uint64_t phase_received[kDemoPhases];
  std::int64_t phase_last_ns[kDemoPhases];  // monotonic time of the phase's last record
  std::uint64_t lost;                       // sequence gaps: records never seen
  std::uint64_t out_of_order;               // duplicates or records behind one already seen
  std::uint64_t misrouted;                  // a record in a partition its sequence does not map to
  std::uint64_t malformed;                  // a value too short or naming no producer
  std::uint64_t corrupt;                    // checksum failures reported by poll()
  std::uint64_t skipped;                    // records the ring overwrote before this consumer read them
  bench::Histogram latency[kDemoPhases];
  char error[256];
};

struct DemoBoard {
  alignas(64) std::atomic<std::uint32_t> ready;  // children set up; parent waits for all
  // The parent stores go_ns, then go = 1 (release); children acquire go.
  alignas(64) std::atomic<std::uint32_t> go;
  std::int64_t go_ns;
  // Producers that sent every record of a phase; consumers that received
  // (or gave up on) every record of a phase.
  alignas(64) std::atomic<std::uint32_t> producers_done[kDemoPhases];
  alignas(64) std::atomic<std::uint32_t> consumers_done[kDemoPhases];
  // Set by the parent when the run fails: children stop waiting and exit.
  alignas(64) std::atomic<std::uint32_t> abort;
  DemoProducerSlot producers[kMaxDemoProducers];
  DemoConsumerSlot consumers[kMaxDemoConsumers];
};

static_assert(std::atomic<std::int64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "the board is shared between processes: its atomics must not hide a lock");

// Times on the board are CLOCK_MONOTONIC ns (bench::monotonic_ns()):
// comparable between processes of one host, so a send time written by a
// producer can be subtracted from a consumer's now.
using bench::monotonic_ns;

// Copies `message` into a slot's error field (truncated, NUL-terminated).
inline void set_demo_error(char (&field)[256], std::string_view message) {
  const std::size_t n = message.size() < sizeof field - 1 ? message.size() : sizeof field - 1;
  std::memcpy(field, message.data(), n);
  field[n] = '\0';
}

// A child's first step: opens the demo topic by name in the demo namespace.
// On failure, writes the reason to `error` and returns null.
inline std::shared_ptr<Topic> open_demo_topic(const DemoConfig& config, char (&error)[256]) {
  auto ns = Namespace::open_shared(config.ns);
  if (!ns) {
    set_demo_error(error, ns.status().to_string());
    return nullptr;
  }
  auto topic = (*ns)->open_topic(config.topic);
  if (!topic) {
    set_demo_error(error, topic.status().to_string());
    return nullptr;
  }
  return *topic;
}

// The children's bodies; each returns the child's exit code.
int run_demo_producer(const DemoConfig& config, DemoBoard& board, int id);
int run_demo_consumer(const DemoConfig& config, DemoBoard& board, int id);

}  // namespace rill::cli
