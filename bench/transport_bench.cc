// rill_bench_transport: rill against Boost.Lockfree's spsc_queue and against
// the physical floor (a cache line bouncing between two cores), 64-byte
// values, one producer on core 0 and one consumer on core 1, in one process
// run so that the ratios between them mean something on a noisy machine
// (see doc: /work/shared/MEASURING.md and bench/README.md).
//
//   tput/*  throughput: items/s over a fixed count, after a warm-up that the
//           consumer has drained. The consumer checks every record (offset
//           and sequence number, in order, none missing) and reads a byte of
//           its value; a run that does not deliver exactly what was sent is
//           reported as an error, never as a number.
//   lat/*   one-way latency by ping-pong: round trip / 2, percentiles over
//           every round trip after the warm-up.
//
// Each benchmark runs once (Iterations(1), manual time); compare.sh runs the
// binary several times and takes the median of each ratio.
#include <boost/lockfree/spsc_queue.hpp>

#include <array>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/harness.h"
#include "core/log/partition_ring.h"
#include "rill/rill.h"

namespace rill::bench {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kValueBytes = 64;
constexpr std::size_t kBatch = 64;
// Boost's queue holds this many items; a rill producer is held to the same
// lead over its consumer (FlowControl), so both transports buffer alike.
constexpr std::size_t kQueueCapacity = 65536;
// 8 MiB segments x 8: about 74,000 records of 64 bytes per segment, so a
// measured run rolls tens of times (reported as the segment_rolls counter).
const TopicConfig kTopicConfig{.partitions = 1, .segment_bytes = 8ull << 20, .segment_count = 8};
constexpr auto kPollTimeout = std::chrono::milliseconds(100);
constexpr std::int64_t kGiveUpNs = 30'000'000'000;  // a run that stalls this long fails
constexpr std::uint8_t kFill = 0x5A;                // every value byte but the sequence number
constexpr std::size_t kTouched = kValueBytes - 1;   // the byte a consumer adds up

constexpr const char* kThroughputTopic = "tput";
constexpr const char* kPingTopic = "ping";
constexpr const char* kPongTopic = "pong";

// Record and round-trip counts at scale 1 (bench/README.md: a full run
// takes well under a minute).
struct Plan {
  std::uint64_t warmup;
  std::uint64_t measured;
};
Plan boost_throughput_plan() { return {scaled(1'000'000), scaled(30'000'000)}; }
// The warm-up goes round the whole ring (8 x 74k records) so that every
// segment has been written and rolled through once before timing.
Plan rill_throughput_plan() { return {scaled(640'000), scaled(8'000'000)}; }
Plan latency_plan() { return {scaled(20'000), scaled(200'000)}; }

struct Item64 {
  std::uint64_t seq;
  std::uint8_t payload[kValueBytes - sizeof(std::uint64_t)];
};
static_assert(sizeof(Item64) == kValueBytes);

Item64 make_item(std::uint64_t seq) {
  Item64 it;
  it.seq = seq;
  std::memset(it.payload, kFill, sizeof it.payload);
  return it;
}

using Queue = boost::lockfree::spsc_queue<Item64>;

// A 64-byte value whose first 8 bytes carry the sequence number.
class Value64 {
 public:
  Value64() { bytes_.fill(static_cast<char>(kFill)); }
  std::string_view with_seq(std::uint64_t seq) noexcept {
    std::memcpy(bytes_.data(), &seq, sizeof seq);
    return std::string_view(bytes_.data(), bytes_.size());
  }

 private:
  alignas(64) std::array<char, kValueBytes> bytes_;
};

std::uint64_t seq_of(std::string_view value) noexcept {
  std::uint64_t seq;
  std::memcpy(&seq, value.data(), sizeof seq);
  return seq;
}

std::uint64_t expected_sum(std::uint64_t records) { return records * kFill; }

// Keeps a producer at most `window` records ahead of its consumer, as a
// bounded queue's capacity does. rill's ring never blocks a producer: a
// consumer that falls further behind than the ring retains is overrun, which
// the consumer reports as an error. The consumer's count is re-read only when
// the cached one says the window is full (Aeron's cached consumer position).
class FlowControl {
 public:
  FlowControl(const Control& control, std::uint64_t window) : control_(control), window_(window) {}
  // Returns false if the consumer made no room before the deadline.
  bool wait_room(std::uint64_t next, std::uint64_t n, std::int64_t deadline_ns) noexcept {
    if (next + n - cached_ <= window_) return true;
    return spin_until(
        [&] {
          // Pairs with the consumer's release store of `consumed`.
          cached_ = control_.consumed.load(std::memory_order_acquire);
          return next + n - cached_ <= window_;
        },
        deadline_ns, control_);
  }

 private:
  const Control& control_;
  const std::uint64_t window_;
  std::uint64_t cached_ = 0;
};

// Removes a topic when the benchmark ends, whatever happened.
class TopicGuard {
 public:
  TopicGuard(std::shared_ptr<Namespace> ns, std::string name) : ns_(std::move(ns)), name_(std::move(name)) {}
  ~TopicGuard() {
    if (ns_) (void)ns_->delete_topic(name_);
  }
  TopicGuard(const TopicGuard&) = delete;
  TopicGuard& operator=(const TopicGuard&) = delete;

 private:
  std::shared_ptr<Namespace> ns_;
  std::string name_;
};

const char* mode_name(PeerMode mode) { return mode == PeerMode::kThread ? "in-process" : "shared"; }

Result<std::shared_ptr<Namespace>> open_namespace(PeerMode mode) {
  return mode == PeerMode::kThread ? Namespace::in_process() : Namespace::open_shared(bench_namespace());
}

// The namespace as the peer sees it: the same object for a thread, the
// shared namespace opened afresh (its own mappings) for a forked process.
Result<std::shared_ptr<Namespace>> peer_namespace(PeerMode mode, const std::shared_ptr<Namespace>& ns) {
  if (mode == PeerMode::kThread) return ns;
  return Namespace::open_shared(ns->name());
}

Result<std::shared_ptr<Topic>> create_and_open(Namespace& ns, const char* name) {
  if (Status s = ns.create_topic(name, kTopicConfig); !s) return s;
  return ns.open_topic(name);
}

bool pin_main(benchmark::State& state) {
  if (pin_to_core(kProducerCore)) return true;
  state.SkipWithError("cannot pin the producer to core 0 (this benchmark needs two cores)");
  return false;
}

// How a rill producer stamps records: send()'s default (clock_gettime for
// each send) or a timestamp the caller passes in, which shows the clock's share.
enum class Stamp : std::uint8_t { kClock, kCaller };

SendOptions send_options(Stamp stamp) {
  SendOptions o;
  if (stamp == Stamp::kCaller) o.timestamp_ns = 1'700'000'000'000'000'000;
  return o;
}

ConsumerOptions spinning_consumer() {
  ConsumerOptions o;
  o.wait = WaitStrategy::kBusySpin;
  o.start_at_earliest = true;
  return o;
}

// ================================================================ throughput

// Runs one throughput measurement: waits for the consumer, sends the warm-up,
// waits until the consumer has drained it, then times from the first
// measured send to the consumer's check of the last record.
// send(from, to, report) sends sequence numbers [from, to) and returns false
// after recording an error in `report`.
template <typename Send>
void run_throughput(benchmark::State& state, Control& control, Peer& peer, Plan plan, Send send) {
  for (auto _ : state) {
    const std::int64_t deadline = clock_ns() + kGiveUpNs;
    PeerReport mine;
    std::int64_t start = 0;
    // Pairs with the consumer's release store of peer_ready.
    if (!spin_until([&] { return control.peer_ready.load(std::memory_order_acquire) != 0; }, deadline, control)) {
      mine.fail("the consumer never became ready");
    } else if (send(0, plan.warmup, mine)) {
      // Pairs with the consumer's release store of `consumed`.
      if (!spin_until([&] { return control.consumed.load(std::memory_order_acquire) >= plan.warmup; }, deadline,
                      control))
        mine.fail("the consumer did not drain the warm-up");
      start = clock_ns();
      if (mine.errors == 0) (void)send(plan.warmup, plan.warmup + plan.measured, mine);
    }
    // Relaxed: the peer only needs to notice eventually.
    if (mine.errors != 0) control.abort.store(1, std::memory_order_relaxed);
    const PeerReport theirs = peer.join();
    const std::uint64_t total = plan.warmup + plan.measured;
    if (mine.errors != 0) {
      state.SkipWithError(mine.message);
    } else if (theirs.errors != 0) {
      state.SkipWithError(theirs.message);
    } else if (theirs.received != total || theirs.sum != expected_sum(total)) {
      char msg[200];
      std::snprintf(msg, sizeof msg, "consumer got %" PRIu64 " of %" PRIu64 " records (byte sum %" PRIu64 ", expected %" PRIu64 ")",
                    theirs.received, total, theirs.sum, expected_sum(total));
      state.SkipWithError(msg);
    } else {
      state.SetIterationTime(static_cast<double>(theirs.end_ns - start) * 1e-9);
      state.SetItemsProcessed(static_cast<std::int64_t>(plan.measured));
      state.counters["records"] = static_cast<double>(plan.measured);
    }
  }
}

// ---- Boost.Lockfree spsc_queue

PeerReport consume_boost(Queue& queue, Control& control, std::uint64_t total) {
  PeerReport report;
  std::uint64_t expected = 0;
  // Pairs with run_throughput()'s acquire load.
  control.peer_ready.store(1, std::memory_order_release);
  const std::int64_t deadline = clock_ns() + kGiveUpNs;
  std::uint32_t idle = 0;
  while (expected < total && report.errors == 0) {
    const std::size_t n = queue.consume_all([&](const Item64& item) {
      if (item.seq != expected && report.errors == 0)
        report.fail("boost consumer: item %" PRIu64 " carries sequence %" PRIu64, expected, item.seq);
      report.sum += item.payload[kTouched - sizeof item.seq];
      ++expected;
    });
    if (n != 0) {
      // Pairs with FlowControl's and run_throughput()'s acquire loads.
      control.consumed.store(expected, std::memory_order_release);
    } else if ((++idle & 4095) == 0 &&
               (clock_ns() > deadline || control.abort.load(std::memory_order_relaxed) != 0)) {
      report.fail("boost consumer: stalled after %" PRIu64 " items", expected);
    } else {
      cpu_relax();
    }
  }
  report.end_ns = clock_ns();
  report.received = expected;
  return report;
}

void bm_boost_throughput(benchmark::State& state, std::size_t batch) {
  if (!pin_main(state)) return;
  const Plan plan = boost_throughput_plan();
  auto queue = std::make_unique<Queue>(kQueueCapacity);
  SharedObject<Control> control;
  Peer peer(PeerMode::kThread, kConsumerCore,
            [&] { return consume_boost(*queue, *control, plan.warmup + plan.measured); });
  run_throughput(state, *control, peer, plan, [&](std::uint64_t from, std::uint64_t to, PeerReport& report) {
    const std::int64_t deadline = clock_ns() + kGiveUpNs;
    if (batch == 1) {
      Item64 item = make_item(0);
      for (std::uint64_t seq = from; seq < to; ++seq) {
        item.seq = seq;
        if (!queue->push(item) &&
            !spin_until([&] { return queue->push(item); }, deadline, *control)) {
          report.fail("boost producer: queue stayed full at item %" PRIu64, seq);
          return false;
        }
      }
      return true;
    }
    std::array<Item64, kBatch> items;
    items.fill(make_item(0));
    for (std::uint64_t seq = from; seq < to;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(batch, to - seq));
      for (std::size_t i = 0; i < n; ++i) items[i].seq = seq + i;
      std::size_t pushed = queue->push(items.data(), n);
      if (pushed < n && !spin_until([&] { return (pushed += queue->push(items.data() + pushed, n - pushed)) == n; },
                                    deadline, *control)) {
        report.fail("boost producer: queue stayed full at item %" PRIu64, seq + pushed);
        return false;
      }
      seq += n;
    }
    return true;
  });
}

// ---- rill

PeerReport consume_rill(Result<std::shared_ptr<Namespace>> ns, Control& control, std::uint64_t total) {
  PeerReport report;
  if (!ns) {
    report.fail("consumer: %s", ns.status().to_string().c_str());
    return report;
  }
  auto topic = (*ns)->open_topic(kThroughputTopic);
  if (!topic) {
    report.fail("consumer: %s", topic.status().to_string().c_str());
    return report;
  }
  Consumer consumer(*topic, spinning_consumer());
  if (Status s = consumer.assign_all(); !s) {
    report.fail("consumer: %s", s.to_string().c_str());
    return report;
  }
  // Pairs with run_throughput()'s acquire load.
  control.peer_ready.store(1, std::memory_order_release);
  const std::int64_t deadline = clock_ns() + kGiveUpNs;
  std::uint64_t expected = 0;
  while (expected < total && report.errors == 0) {
    PollResult r = consumer.poll(kPollTimeout);
    if (!r.status.is_ok()) {
      report.fail("consumer: poll: %s", r.status.to_string().c_str());
      break;
    }
    if (r.skipped != 0) {
      report.fail("consumer: overrun by the ring at record %" PRIu64 ": %" PRId64 " records skipped", expected,
                  r.skipped);
      break;
    }
    for (const RecordView& v : r.records) {
      const std::string_view value = v.value();
      if (v.offset() != static_cast<std::int64_t>(expected) || value.size() != kValueBytes ||
          seq_of(value) != expected) {
        report.fail("consumer: record %" PRIu64 " has offset %" PRId64 ", %zu bytes, sequence %" PRIu64, expected,
                    v.offset(), value.size(), value.size() >= 8 ? seq_of(value) : 0);
        break;
      }
      report.sum += static_cast<std::uint8_t>(value[kTouched]);
      ++expected;
    }
    if (!r.records.empty()) {
      // Pairs with FlowControl's and run_throughput()'s acquire loads.
      control.consumed.store(expected, std::memory_order_release);
    } else if (clock_ns() > deadline || control.abort.load(std::memory_order_relaxed) != 0) {
      report.fail("consumer: stalled after %" PRIu64 " records", expected);
    }
  }
  report.end_ns = clock_ns();
  report.received = expected;
  return report;
}

void bm_rill_throughput(benchmark::State& state, PeerMode mode, std::size_t batch, Stamp stamp = Stamp::kClock) {
  if (!pin_main(state)) return;
  const Plan plan = rill_throughput_plan();
  auto ns = open_namespace(mode);
  if (!ns) return state.SkipWithError(ns.status().to_string().c_str());
  TopicGuard guard(*ns, kThroughputTopic);
  auto topic = create_and_open(**ns, kThroughputTopic);
  if (!topic) return state.SkipWithError(topic.status().to_string().c_str());
  SharedObject<Control> control;
  Producer producer(*topic);
  const SendOptions options = send_options(stamp);
  FlowControl flow(*control, kQueueCapacity);
  {
    Peer peer(mode, kConsumerCore, [&] {
      return consume_rill(peer_namespace(mode, *ns), *control, plan.warmup + plan.measured);
    });
    run_throughput(state, *control, peer, plan, [&](std::uint64_t from, std::uint64_t to, PeerReport& report) {
      const std::int64_t deadline = clock_ns() + kGiveUpNs;
      if (batch == 1) {
        Value64 value;
        for (std::uint64_t seq = from; seq < to; ++seq) {
          if (!flow.wait_room(seq, 1, deadline)) {
            report.fail("producer: the consumer stalled at record %" PRIu64, seq);
            return false;
          }
          auto sent = producer.send(std::nullopt, value.with_seq(seq), options);
          if (!sent) {
            report.fail("producer: send: %s", sent.status().to_string().c_str());
            return false;
          }
        }
        return true;
      }
      std::vector<Value64> values(batch);
      std::vector<Message> messages(batch);
      for (std::uint64_t seq = from; seq < to;) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(batch, to - seq));
        if (!flow.wait_room(seq, n, deadline)) {
          report.fail("producer: the consumer stalled at record %" PRIu64, seq);
          return false;
        }
        for (std::size_t i = 0; i < n; ++i) {
          messages[i].value = values[i].with_seq(seq + i);
          messages[i].timestamp_ns = options.timestamp_ns;
        }
        auto sent = producer.send_batch(std::span<const Message>(messages.data(), n));
        if (!sent || *sent != n) {
          report.fail("producer: send_batch: %s", sent ? "short batch" : sent.status().to_string().c_str());
          return false;
        }
        seq += n;
      }
      return true;
    });
  }
  state.counters["segment_rolls"] = static_cast<double>((*topic)->ring(0).latest().generation);
  state.SetLabel(mode_name(mode));
}

// ================================================================ latency

// Runs `round_trip(i)` for the warm-up and the measured rounds, timing each
// measured one with ticks(), then reports one-way percentiles. round_trip
// returns false after recording an error.
template <typename RoundTrip>
void run_latency(benchmark::State& state, Control& control, Peer& peer, Plan plan, RoundTrip round_trip) {
  for (auto _ : state) {
    const std::int64_t deadline = clock_ns() + kGiveUpNs;
    PeerReport mine;
    std::vector<std::uint64_t> samples;
    samples.reserve(plan.measured);
    TickRate rate;
    // Pairs with the peer's release store of peer_ready.
    if (!spin_until([&] { return control.peer_ready.load(std::memory_order_acquire) != 0; }, deadline, control)) {
      mine.fail("the peer never became ready");
    } else {
      for (std::uint64_t i = 0; i < plan.warmup + plan.measured; ++i) {
        if (i == plan.warmup) rate.start();
        const std::uint64_t t0 = ticks();
        if (!round_trip(i, deadline, mine)) break;
        const std::uint64_t t1 = ticks();
        if (i >= plan.warmup) samples.push_back(t1 - t0);
      }
      rate.stop();
    }
    // Relaxed: the peer only needs to notice eventually.
    if (mine.errors != 0) control.abort.store(1, std::memory_order_relaxed);
    const PeerReport theirs = peer.join();
    if (mine.errors != 0) {
      state.SkipWithError(mine.message);
    } else if (theirs.errors != 0) {
      state.SkipWithError(theirs.message);
    } else if (theirs.received != plan.warmup + plan.measured) {
      state.SkipWithError("the peer did not echo every round");
    } else {
      const LatencySummary summary = summarize_one_way(samples, rate.ns_per_tick());
      state.SetIterationTime(summary.mean_ns * 2e-9 * static_cast<double>(summary.samples));
      state.SetItemsProcessed(static_cast<std::int64_t>(plan.measured));  // round trips
      report_latency(state, summary);
    }
  }
}

// ---- raw cache line: the floor

// One line each way (`lines` == 1): the flag alone. Two lines: the flag and a
// 64-byte payload line, as a record whose header and value sit on two lines.
PeerReport echo_raw(Control& control, std::uint64_t total, int lines) {
  PeerReport report;
  control.peer_ready.store(1, std::memory_order_release);  // pairs with run_latency()'s acquire load
  const std::int64_t deadline = clock_ns() + kGiveUpNs;
  for (std::uint64_t i = 1; i <= total; ++i) {
    // Pairs with the release store of `ping` in bm_raw_latency().
    if (!spin_until([&] { return control.ping.load(std::memory_order_acquire) == i; }, deadline, control)) {
      report.fail("raw echo: no ping %" PRIu64, i);
      break;
    }
    if (lines == 2) {
      if (control.ping_payload[0] != i) {
        report.fail("raw echo: payload %" PRIu64 " carries %" PRIu64, i, control.ping_payload[0]);
        break;
      }
      std::memcpy(control.pong_payload, control.ping_payload, sizeof control.pong_payload);
    }
    control.pong.store(i, std::memory_order_release);  // pairs with the acquire load in bm_raw_latency()
    report.received = i;
  }
  return report;
}

void bm_raw_latency(benchmark::State& state, PeerMode mode, int lines) {
  if (!pin_main(state)) return;
  const Plan plan = latency_plan();
  SharedObject<Control> control;
  Peer peer(mode, kConsumerCore, [&] { return echo_raw(*control, plan.warmup + plan.measured, lines); });
  run_latency(state, *control, peer, plan, [&](std::uint64_t i, std::int64_t deadline, PeerReport& report) {
    const std::uint64_t seq = i + 1;
    if (lines == 2) {
      for (std::uint64_t& word : control->ping_payload) word = seq;
    }
    control->ping.store(seq, std::memory_order_release);  // pairs with echo_raw()'s acquire load
    // Pairs with echo_raw()'s release store of `pong`.
    if (!spin_until([&] { return control->pong.load(std::memory_order_acquire) == seq; }, deadline, *control)) {
      report.fail("raw ping: no pong %" PRIu64, seq);
      return false;
    }
    if (lines == 2 && control->pong_payload[7] != seq) {
      report.fail("raw ping: pong payload %" PRIu64 " carries %" PRIu64, seq, control->pong_payload[7]);
      return false;
    }
    return true;
  });
  state.SetLabel(mode_name(mode));
}

// ---- Boost.Lockfree: two queues

PeerReport echo_boost(Queue& ping, Queue& pong, Control& control, std::uint64_t total) {
  PeerReport report;
  control.peer_ready.store(1, std::memory_order_release);  // pairs with run_latency()'s acquire load
  const std::int64_t deadline = clock_ns() + kGiveUpNs;
  Item64 item;
  for (std::uint64_t i = 0; i < total; ++i) {
    if (!spin_until([&] { return ping.pop(item); }, deadline, control)) {
      report.fail("boost echo: no ping %" PRIu64, i);
      break;
    }
    if (item.seq != i) {
      report.fail("boost echo: ping %" PRIu64 " carries %" PRIu64, i, item.seq);
      break;
    }
    if (!pong.push(item) && !spin_until([&] { return pong.push(item); }, deadline, control)) {
      report.fail("boost echo: pong queue full");
      break;
    }
    report.received = i + 1;
  }
  return report;
}

void bm_boost_latency(benchmark::State& state) {
  if (!pin_main(state)) return;
  const Plan plan = latency_plan();
  auto ping = std::make_unique<Queue>(1024);
  auto pong = std::make_unique<Queue>(1024);
  SharedObject<Control> control;
  Peer peer(PeerMode::kThread, kConsumerCore,
            [&] { return echo_boost(*ping, *pong, *control, plan.warmup + plan.measured); });
  Item64 out = make_item(0), in;
  run_latency(state, *control, peer, plan, [&](std::uint64_t i, std::int64_t deadline, PeerReport& report) {
    out.seq = i;
    if (!ping->push(out)) {
      report.fail("boost ping: queue full");
      return false;
    }
    if (!spin_until([&] { return pong->pop(in); }, deadline, *control)) {
      report.fail("boost ping: no pong %" PRIu64, i);
      return false;
    }
    if (in.seq != i) {
      report.fail("boost ping: pong %" PRIu64 " carries %" PRIu64, i, in.seq);
      return false;
    }
    return true;
  });
}

// ---- rill: two topics

PeerReport echo_rill(Result<std::shared_ptr<Namespace>> ns, Control& control, std::uint64_t total, Stamp stamp) {
  PeerReport report;
  if (!ns) {
    report.fail("echo: %s", ns.status().to_string().c_str());
    return report;
  }
  auto ping = (*ns)->open_topic(kPingTopic);
  auto pong = (*ns)->open_topic(kPongTopic);
  if (!ping || !pong) {
    report.fail("echo: %s", (!ping ? ping.status() : pong.status()).to_string().c_str());
    return report;
  }
  Consumer consumer(*ping, spinning_consumer());
  if (Status s = consumer.assign_all(); !s) {
    report.fail("echo: %s", s.to_string().c_str());
    return report;
  }
  Producer producer(*pong);
  const SendOptions options = send_options(stamp);
  control.peer_ready.store(1, std::memory_order_release);  // pairs with run_latency()'s acquire load
  const std::int64_t deadline = clock_ns() + kGiveUpNs;
  std::uint64_t expected = 0;
  while (expected < total && report.errors == 0) {
    PollResult r = consumer.poll(kPollTimeout);
    if (!r.status.is_ok() || r.skipped != 0) {
      report.fail("echo: poll: %s, %" PRId64 " skipped", r.status.to_string().c_str(), r.skipped);
      break;
    }
    for (const RecordView& v : r.records) {
      if (v.offset() != static_cast<std::int64_t>(expected) || v.value().size() != kValueBytes ||
          seq_of(v.value()) != expected) {
        report.fail("echo: ping %" PRIu64 " is wrong (offset %" PRId64 ")", expected, v.offset());
        break;
      }
      if (auto sent = producer.send(std::nullopt, v.value(), options); !sent) {
        report.fail("echo: send: %s", sent.status().to_string().c_str());
        break;
      }
      ++expected;
    }
    if (r.records.empty() && (clock_ns() > deadline || control.abort.load(std::memory_order_relaxed) != 0))
      report.fail("echo: stalled after %" PRIu64 " pings", expected);
  }
  report.received = expected;
  return report;
}

void bm_rill_latency(benchmark::State& state, PeerMode mode, Stamp stamp = Stamp::kClock) {
  if (!pin_main(state)) return;
  const Plan plan = latency_plan();
  auto ns = open_namespace(mode);
  if (!ns) return state.SkipWithError(ns.status().to_string().c_str());
  TopicGuard ping_guard(*ns, kPingTopic), pong_guard(*ns, kPongTopic);
  auto ping = create_and_open(**ns, kPingTopic);
  auto pong = create_and_open(**ns, kPongTopic);
  if (!ping || !pong) return state.SkipWithError((!ping ? ping.status() : pong.status()).to_string().c_str());
  Producer producer(*ping);
  Consumer consumer(*pong, spinning_consumer());
  if (Status s = consumer.assign_all(); !s) return state.SkipWithError(s.to_string().c_str());
  SharedObject<Control> control;
  Value64 value;
  const SendOptions options = send_options(stamp);
  {
    Peer peer(mode, kConsumerCore,
              [&] { return echo_rill(peer_namespace(mode, *ns), *control, plan.warmup + plan.measured, stamp); });
    run_latency(state, *control, peer, plan, [&](std::uint64_t i, std::int64_t deadline, PeerReport& report) {
      if (auto sent = producer.send(std::nullopt, value.with_seq(i), options); !sent) {
        report.fail("ping: send: %s", sent.status().to_string().c_str());
        return false;
      }
      for (;;) {
        PollResult r = consumer.poll(kPollTimeout);
        if (!r.status.is_ok() || r.skipped != 0) {
          report.fail("ping: poll: %s, %" PRId64 " skipped", r.status.to_string().c_str(), r.skipped);
          return false;
        }
        if (r.records.size() == 1 && r.records[0].offset() == static_cast<std::int64_t>(i) &&
            seq_of(r.records[0].value()) == i)
          return true;
        if (!r.records.empty()) {
          report.fail("ping: round %" PRIu64 " got %zu records, first at offset %" PRId64, i, r.records.size(),
                      r.records[0].offset());
          return false;
        }
        if (clock_ns() > deadline) {
          report.fail("ping: no pong %" PRIu64, i);
          return false;
        }
      }
    });
  }
  state.counters["segment_rolls"] = static_cast<double>((*ping)->ring(0).latest().generation);
  state.SetLabel(mode_name(mode));
}

// ---- the partition ring directly (no Producer/Consumer): claim, encode,
// commit; readable() spin, read(). Shows what the client layer adds.

bool ring_append(log::PartitionRing& ring, std::string_view value) {
  const std::uint32_t length = log::frame_size(0, value.size(), 0);
  log::Claim claim;
  if (ring.claim(static_cast<std::uint32_t>(log::align_frame(length)), 1, &claim) != log::ClaimStatus::kOk)
    return false;
  log::encode_frame(claim.data, claim.first_offset, 1, std::nullopt, value, {}, 0);
  ring.commit(claim, claim.data, length);
  ring.notify();
  return true;
}

// Waits for the record at `cursor` and reads it. Returns its value, or an
// empty view if none came before the deadline or it is not the expected one.
std::string_view ring_take(log::PartitionRing& ring, log::ReadCursor& cursor, std::uint64_t expected,
                           std::int64_t deadline, const Control& control) {
  RecordView view;
  if (!spin_until([&] { return ring.readable(cursor); }, deadline, control)) return {};
  for (;;) {
    const log::ReadBatch b = ring.read(cursor, &view, 1);
    if (b.status != log::ReadStatus::kOk) return {};
    if (b.count == 1) break;  // count 0: a segment end was crossed; read again
  }
  if (view.offset() != static_cast<std::int64_t>(expected) || view.value().size() != kValueBytes ||
      seq_of(view.value()) != expected)
    return {};
  return view.value();
}

PeerReport echo_ring(Topic& ping, Topic& pong, Control& control, std::uint64_t total) {
  PeerReport report;
  log::PartitionRing& in = ping.ring(0);
  log::PartitionRing& out = pong.ring(0);
  log::ReadCursor cursor = in.earliest();
  control.peer_ready.store(1, std::memory_order_release);  // pairs with run_latency()'s acquire load
  const std::int64_t deadline = clock_ns() + kGiveUpNs;
  for (std::uint64_t i = 0; i < total; ++i) {
    const std::string_view value = ring_take(in, cursor, i, deadline, control);
    if (value.empty()) {
      report.fail("ring echo: ping %" PRIu64 " missing or wrong", i);
      break;
    }
    if (!ring_append(out, value)) {
      report.fail("ring echo: claim failed");
      break;
    }
    report.received = i + 1;
  }
  return report;
}

void bm_ring_latency(benchmark::State& state) {
  if (!pin_main(state)) return;
  const Plan plan = latency_plan();
  auto ns = Namespace::in_process();
  if (!ns) return state.SkipWithError(ns.status().to_string().c_str());
  auto ping = create_and_open(**ns, kPingTopic);
  auto pong = create_and_open(**ns, kPongTopic);
  if (!ping || !pong) return state.SkipWithError((!ping ? ping.status() : pong.status()).to_string().c_str());
  SharedObject<Control> control;
  log::PartitionRing& out = (*ping)->ring(0);
  log::PartitionRing& in = (*pong)->ring(0);
  log::ReadCursor cursor = in.earliest();
  Value64 value;
  Peer peer(PeerMode::kThread, kConsumerCore,
            [&] { return echo_ring(**ping, **pong, *control, plan.warmup + plan.measured); });
  run_latency(state, *control, peer, plan, [&](std::uint64_t i, std::int64_t deadline, PeerReport& report) {
    if (!ring_append(out, value.with_seq(i))) {
      report.fail("ring ping: claim failed");
      return false;
    }
    if (!ring_take(in, cursor, i, deadline, *control).empty()) return true;
    report.fail("ring ping: pong %" PRIu64 " missing or wrong", i);
    return false;
  });
}

// ================================================================ registration

// Names are what compare.sh looks up. "info" variants are not targets of
// the issue; they explain the targeted figures (see README.md).
void register_all() {
  auto once = [](benchmark::internal::Benchmark* b) {
    b->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
  };
  using benchmark::RegisterBenchmark;
  using benchmark::State;
  constexpr auto kThread = PeerMode::kThread;
  constexpr auto kProcess = PeerMode::kProcess;
  // Throughput: the baseline first, then rill in-process, then across processes.
  once(RegisterBenchmark("tput/boost_spsc", [](State& s) { bm_boost_throughput(s, 1); }));
  once(RegisterBenchmark("tput/rill_send", [](State& s) { bm_rill_throughput(s, kThread, 1); }));
  once(RegisterBenchmark("tput/rill_send_batch64", [](State& s) { bm_rill_throughput(s, kThread, kBatch); }));
  once(RegisterBenchmark("tput/rill_ipc_send", [](State& s) { bm_rill_throughput(s, kProcess, 1); }));
  once(RegisterBenchmark("tput/rill_ipc_send_batch64", [](State& s) { bm_rill_throughput(s, kProcess, kBatch); }));
  // info: Boost with batched pushes; rill with caller-set timestamps (no clock per send).
  once(RegisterBenchmark("tput/info_boost_spsc_push64", [](State& s) { bm_boost_throughput(s, kBatch); }));
  once(RegisterBenchmark("tput/info_rill_send_caller_ts",
                         [](State& s) { bm_rill_throughput(s, kThread, 1, Stamp::kCaller); }));
  // Latency: the floor first.
  once(RegisterBenchmark("lat/raw_cacheline", [](State& s) { bm_raw_latency(s, kThread, 1); }));
  once(RegisterBenchmark("lat/boost_spsc", [](State& s) { bm_boost_latency(s); }));
  once(RegisterBenchmark("lat/rill", [](State& s) { bm_rill_latency(s, kThread); }));
  once(RegisterBenchmark("lat/rill_ipc", [](State& s) { bm_rill_latency(s, kProcess); }));
  // info: the floor across processes and for a two-line message; rill without a clock per send.
  once(RegisterBenchmark("lat/info_raw_cacheline_ipc", [](State& s) { bm_raw_latency(s, kProcess, 1); }));
  once(RegisterBenchmark("lat/info_raw_2lines", [](State& s) { bm_raw_latency(s, kThread, 2); }));
  once(RegisterBenchmark("lat/info_rill_caller_ts", [](State& s) { bm_rill_latency(s, kThread, Stamp::kCaller); }));
  once(RegisterBenchmark("lat/info_ring", [](State& s) { bm_ring_latency(s); }));
}

}  // namespace
}  // namespace rill::bench

int main(int argc, char** argv) {
  using namespace rill::bench;
  benchmark::Initialize(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.rfind("--rill_scale=", 0) == 0) {
      set_scale(std::atof(argv[i] + 13));
    } else {
      std::fprintf(stderr,
                   "unknown argument '%s'\n"
                   "usage: %s [google benchmark flags] [--rill_scale=X]  (X multiplies every record count)\n",
                   argv[i], argv[0]);
      return 2;
    }
  }
  install_shm_cleanup({kThroughputTopic, kPingTopic, kPongTopic});
  benchmark::AddCustomContext("pinning", "producer/ping on core 0, consumer/echo on core 1");
  benchmark::AddCustomContext("rill_scale", std::to_string(scale()));
  benchmark::AddCustomContext("value_bytes", std::to_string(kValueBytes));
  benchmark::AddCustomContext("shm_namespace", bench_namespace());
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  remove_bench_shm();
  return 0;
}
