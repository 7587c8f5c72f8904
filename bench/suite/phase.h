// One phase of one transport: producers and consumers started together,
// records stamped, routed, checked and timed. The loops are templates over
// the transport, so that its send and poll inline into them exactly as they
// would in a program that used that transport directly.
//
// A transport T provides, called inside the participant that uses them:
//   Result<typename T::Sender>   T::sender(int producer, Lane lane)
//   Result<typename T::Receiver> T::receiver(int consumer, Lane lane)
//   (Lane::kPing: producer p to consumer c, as below; Lane::kPong, ping-pong
//   only, 1x1: consumer 0 back to producer 0 over a second topic or channel,
//   so sender(0, kPong) is the echoing consumer's and receiver(0, kPong) the
//   producer's.)
//   Sender:   bool send(int partition, const std::byte* records, std::size_t n, Failure&) noexcept
//             std::uint64_t window() const noexcept  (records a producer may lead
//                                                     the slowest consumer by; 0: the
//                                                     transport limits it itself)
//   Receiver: template <class F> long poll(F&& on_record, Failure&) noexcept
//             calls on_record(const std::byte*, std::size_t) for each record
//             ready (waiting up to a few ms for one); returns how many, or -1.
//
// Records are routed as a Kafka producer with an explicit partition would
// route them: producer p sends its b-th batch to partition (p + b) % N. A
// consumer reads every partition (fan-out, each consumer sees every record)
// or, split, the partitions k with k % C == its index (a consumer group).
// Every consumer checks every record: its check byte, its sequence per
// producer and partition (dense: order holds per partition, as in Kafka),
// and in the end that it got exactly the records routed to it. Anything else is an error, never a
// figure.
//
// Ping-pong (PhasePlan::pingpong, latency phase, 1x1): producer 0 sends a
// record on the ping lane and waits for consumer 0 to echo it back on the
// pong lane; it checks the echo (the same record) and records round trip / 2
// as the record's one-way latency. The consumer checks what it echoes as
// always.
//
// Thread safety: the PhaseBoard lives in memory shared by all participants;
// each field says who writes it.
#pragma once

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "bench/suite/clock.h"
#include "bench/suite/histogram.h"
#include "bench/suite/payload.h"
#include "bench/suite/report.h"
#include "core/log/doorbell.h"
#include "rill/producer.h"

namespace rill::bench {

inline constexpr int kMaxProducers = 16;
inline constexpr int kMaxConsumers = 16;
inline constexpr int kMaxPartitions = 256;
inline constexpr std::size_t kMaxBatch = 1024;

enum class PhaseKind : std::uint8_t { kThroughput, kLatency };
enum class WaitKind : std::uint8_t { kSpin, kYield, kBlock };
// "spin", "yield" or "block" (--wait); kInvalidArgument naming the text otherwise.
Result<WaitKind> parse_wait_kind(std::string_view text);
enum class Lane : std::uint8_t { kPing, kPong };

struct PhasePlan {
  PhaseKind kind = PhaseKind::kThroughput;
  int producers = 1, consumers = 1, partitions = 1;
  bool split = false;
  std::size_t record_bytes = 64;
  std::size_t batch = 1;     // 1 in the latency phase
  double rate_rps = 0;       // latency phase: all producers together; 0 = one record in flight per producer
  std::int64_t warmup_ns = 0;
  std::int64_t duration_ns = 0;
  std::uint64_t count = 0;   // measured records, all producers together (0: duration)
  WaitKind wait = WaitKind::kBlock;
  BenchClock clock;
  std::optional<DeadlineSpec> deadline;
  bool pingpong = false;          // latency phase: round trips over two lanes (1x1, one partition)
  bool verify_checksums = false;  // rill's consumers verify record checksums
  bool exclusive = false;         // rill's producers take exclusive leases (ProducerOptions::exclusive)
  // rill's producers' ProducerOptions::durability; not kMemory: rill's topics
  // are durable, their namespaces' folders inside data_dir (the run's
  // temporary folder, which the disk baselines write in too).
  Durability durability = Durability::kMemory;
  std::string data_dir;
  // Latency phase: each producer times every measured send from the
  // record's intended send time to the send's return (ProducerSlot::acked).
  bool ack_latency = false;

  bool owns(int consumer, int partition) const noexcept { return !split || partition % consumers == consumer; }
  int partition_of(int producer, std::uint64_t batch_index) const noexcept {
    return static_cast<int>((static_cast<std::uint64_t>(producer) + batch_index) % static_cast<std::uint64_t>(partitions));
  }
  // Measured records producer p sends (count mode).
  std::uint64_t quota(int p) const noexcept {
    return count / static_cast<std::uint64_t>(producers) + (static_cast<std::uint64_t>(p) < count % producers ? 1 : 0);
  }
  // Producer p's seq of its part_seq-th record in `partition`, one record
  // per send (the latency phase): sends go to partitions (p + seq) % N in turn.
  std::uint64_t seq_of(int p, int partition, std::uint64_t part_seq) const noexcept {
    const auto n = static_cast<std::uint64_t>(partitions);
    return (static_cast<std::uint64_t>(partition) + n - static_cast<std::uint64_t>(p) % n) % n + n * part_seq;
  }
  // Records of the first `total` that producer p sent that consumer c is routed.
  std::uint64_t routed(int p, std::uint64_t total, int c) const noexcept;
};

// The first error of a participant, as text; writing it also raises the
// board's abort flag so that the others stop.
struct Failure {
  std::atomic<std::uint32_t>* abort = nullptr;
  bool failed = false;
  char text[200] = {};
  void fail(const char* format, ...) noexcept __attribute__((format(printf, 2, 3)));
};

struct alignas(64) ProducerSlot {
  // Records sent so far, warm-up included. Written by the producer (release,
  // after each send), read by producers for flow control and by the main
  // thread for progress.
  std::atomic<std::uint64_t> sent{0};
  // Written by the producer before it sets done (release).
  std::uint64_t measured = 0;
  // Latency phase, by duration: records the schedule put before the end that
  // the producer had not sent when the end came (it fell behind the rate).
  std::uint64_t unsent = 0;
  std::atomic<std::uint32_t> done{0};
  // One in flight, records too small to carry their send time (payload.h):
  // the tick at which the record in flight was sent. Stored (release) before
  // the send; the consumer loads it (acquire) once the record has arrived,
  // before the producer may send the next.
  std::atomic<std::uint64_t> in_flight_tick{0};
  Failure failure;
  // PhasePlan::ack_latency: from each measured record's intended send time
  // to the return of its send. Written by the producer before it sets done.
  Histogram acked;
};

struct alignas(64) ConsumerSlot {
  // Records received and checked, warm-up included; written by the consumer
  // (release, after each poll).
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint32_t> done{0};
  // Written by the consumer before it sets done.
  std::uint64_t measured = 0;
  std::int64_t first_ns = 0;  // monotonic_ns() before the poll that got its first measured record
  std::int64_t last_ns = 0;   // monotonic_ns() after its last measured record
  Failure failure;
  DeadlineCounts deadline;
  // One record in flight: the next sequence number expected from each
  // producer, stored (release) after each record; the producer loads it
  // (acquire) before sending its next one. A line each: one writer, one reader.
  struct alignas(64) Ack {
    std::atomic<std::uint64_t> next{0};
  };
  std::array<Ack, kMaxProducers> acks;
  // Latency phase: corrected (from intended send time) and raw (from the
  // actual send time). Live-readable (see Histogram). In a ping-pong phase
  // producer 0 writes consumer 0's (it alone sees the round trip).
  Histogram corrected;
  Histogram raw;
};

struct PhaseBoard {
  alignas(64) std::atomic<std::uint32_t> ready{0};  // participants attached; each adds 1 (release)
  std::atomic<std::uint32_t> go{0};                 // set by the main thread (release) after start_* below
  std::atomic<std::uint32_t> abort{0};              // any participant or the main thread; stop at once
  std::int64_t start_ns = 0;                        // monotonic: warm-up starts
  std::int64_t measure_ns = 0;                      // monotonic: measured records start
  std::int64_t end_ns = 0;                          // monotonic: no measured record after this (duration mode)
  std::uint64_t start_tick = 0;                     // clock ticks at start_ns
  std::array<ProducerSlot, kMaxProducers> producers;
  std::array<ConsumerSlot, kMaxConsumers> consumers;
};

// Sleeps for short stretches until the board says go (or abort). Returns
// false on abort.
bool await_go(PhaseBoard& board) noexcept;

// Waits until clock.now() >= tick: sleeps while far away, spins the rest.
void pace_until(const BenchClock& clock, std::uint64_t tick, const PhaseBoard& board) noexcept;

inline void relax(WaitKind wait, std::uint32_t idle_rounds) noexcept {
  if (wait == WaitKind::kSpin || idle_rounds < 64) {
    log::cpu_relax();
  } else {
    ::sched_yield();
  }
}

// ---------------------------------------------------------------- producer

template <typename Transport>
void run_producer(Transport& transport, const PhasePlan& plan, PhaseBoard& board, int p) noexcept {
  ProducerSlot& me = board.producers[p];
  me.failure.abort = &board.abort;
  auto sender_or = transport.sender(p, Lane::kPing);
  if (!sender_or.is_ok()) {
    me.failure.fail("producer %d: %s", p, sender_or.status().to_string().c_str());
    // Both pair with the main thread's acquire loads of ready and done (runner.cc).
    board.ready.fetch_add(1, std::memory_order_release);
    me.done.store(1, std::memory_order_release);
    return;
  }
  auto& sender = sender_or.value();
  const std::size_t size = plan.record_bytes;
  const std::size_t batch = plan.kind == PhaseKind::kThroughput ? plan.batch : 1;
  std::vector<std::byte> buffer(size * batch);
  for (std::size_t j = 0; j < batch; ++j) prepare_record(buffer.data() + j * size, size);
  std::vector<std::uint32_t> part_seq(static_cast<std::size_t>(plan.partitions), 0);

  // Pairs with the main thread's acquire load of ready in supervise()
  // (runner.cc), which sets go only once every participant counted itself.
  board.ready.fetch_add(1, std::memory_order_release);
  if (!await_go(board)) {
    me.done.store(1, std::memory_order_release);  // pairs with the main thread's acquire of done
    return;
  }

  const bool latency = plan.kind == PhaseKind::kLatency;
  const bool acks = latency && plan.ack_latency;
  const bool one_in_flight = latency && plan.rate_rps <= 0;
  const bool by_count = plan.count > 0;
  const std::uint64_t quota = by_count ? plan.quota(p) : 0;
  const double interval_ns = latency && !one_in_flight ? 1e9 / plan.rate_rps : 0;
  const std::uint64_t window = sender.window();
  const PayloadLayout stamps = layout_of(size);

  std::uint64_t seq = 0, measured = 0, batch_index = 0, flow_allowed = window ? window / plan.producers : 0;
  std::int64_t now_ns = monotonic_ns();
  while (board.abort.load(std::memory_order_relaxed) == 0) {  // relaxed: a hint to stop
    std::uint64_t intended = 0;
    if (latency && !one_in_flight) {
      // Producer p owns every P-th slot of the shared schedule.
      const double slot = static_cast<double>(seq * static_cast<std::uint64_t>(plan.producers) + static_cast<std::uint64_t>(p));
      intended = board.start_tick + plan.clock.ticks_in(slot * interval_ns);
      now_ns = board.start_ns + plan.clock.to_ns(static_cast<std::int64_t>(intended - board.start_tick));
      // A duration bounds the phase in real time: a producer that fell behind
      // the schedule stops at the end and counts what it did not send.
      if (!by_count && (seq & 63) == 0 && now_ns < board.end_ns && monotonic_ns() >= board.end_ns) {
        const double own_slots =
            (static_cast<double>(board.end_ns - board.start_ns) / interval_ns - p) / static_cast<double>(plan.producers);
        const auto scheduled = static_cast<std::uint64_t>(std::max(0.0, std::ceil(own_slots)));
        me.unsent = scheduled > seq ? scheduled - seq : 0;
        break;
      }
    } else if ((batch_index & 63) == 0 || latency) {
      now_ns = monotonic_ns();
    }
    const bool warm = now_ns < board.measure_ns;
    if (!warm && (by_count ? measured >= quota : now_ns >= board.end_ns)) break;
    const std::size_t n = by_count && !warm ? static_cast<std::size_t>(std::min<std::uint64_t>(batch, quota - measured)) : batch;
    const int partition = plan.partition_of(p, batch_index);

    if (window != 0 && seq + n > flow_allowed) {
      // Lead over the slowest consumer (fan-out) or over all of them together
      // (split), recomputed only when the cached allowance runs out.
      for (std::uint32_t idle = 0;; ++idle) {
        std::uint64_t total_sent = 0, received = plan.split ? 0 : ~std::uint64_t{0};
        for (int q = 0; q < plan.producers; ++q)
          total_sent += q == p ? seq : board.producers[q].sent.load(std::memory_order_acquire);  // pairs with their release
        for (int c = 0; c < plan.consumers; ++c) {
          const std::uint64_t r = board.consumers[c].received.load(std::memory_order_acquire);  // pairs with the consumer's release
          received = plan.split ? received + r : std::min(received, r);
        }
        const std::uint64_t lead = total_sent > received ? total_sent - received : 0;
        if (lead + n <= window) {
          flow_allowed = seq + std::max<std::uint64_t>(n, (window - lead) / plan.producers);
          break;
        }
        if (board.abort.load(std::memory_order_relaxed) != 0) break;  // relaxed: a hint to stop
        relax(plan.wait, idle);
      }
    }
    if (one_in_flight && seq > 0) {
      // Wait until every consumer routed our previous record has it.
      const int previous = plan.partition_of(p, batch_index - 1);
      for (int c = 0; c < plan.consumers; ++c) {
        if (!plan.owns(c, previous)) continue;
        for (std::uint32_t idle = 0;
             board.consumers[c].acks[p].next.load(std::memory_order_acquire) < seq &&  // pairs with the consumer's release
             board.abort.load(std::memory_order_relaxed) == 0;  // relaxed: a hint to stop
             ++idle)
          relax(plan.wait, idle);
      }
    }
    if (latency) {
      if (one_in_flight) intended = plan.clock.now();
      else pace_until(plan.clock, intended, board);
    }
    const std::uint64_t sent_tick = latency ? plan.clock.now() : 0;
    if (one_in_flight && !stamps.has_sent) me.in_flight_tick.store(sent_tick, std::memory_order_release);  // pairs with the consumer's acquire
    std::uint32_t& next_in_partition = part_seq[static_cast<std::size_t>(partition)];
    for (std::size_t j = 0; j < n; ++j) {
      stamp(buffer.data() + j * size, size,
            PayloadHeader{seq + j, intended, sent_tick, next_in_partition++, static_cast<std::uint8_t>(p),
                          static_cast<std::uint8_t>(partition), static_cast<std::uint8_t>(warm ? kWarmupFlag : 0)});
    }
    if (!sender.send(partition, buffer.data(), n, me.failure)) break;
    if (acks && !warm) me.acked.record(plan.clock.to_ns(static_cast<std::int64_t>(plan.clock.now() - intended)));
    seq += n;
    if (!warm) measured += n;
    ++batch_index;
    me.sent.store(seq, std::memory_order_release);  // pairs with flow control's and the consumers' acquire
  }
  me.measured = measured;
  me.done.store(1, std::memory_order_release);  // publishes sent and measured to consumers and the main thread
}

// ---------------------------------------------------------------- consumer

template <typename Transport>
void run_consumer(Transport& transport, const PhasePlan& plan, PhaseBoard& board, int c) noexcept {
  ConsumerSlot& me = board.consumers[c];
  me.failure.abort = &board.abort;
  auto receiver_or = transport.receiver(c, Lane::kPing);
  if (!receiver_or.is_ok()) {
    me.failure.fail("consumer %d: %s", c, receiver_or.status().to_string().c_str());
    // Both pair with the main thread's acquire loads of ready and done (runner.cc).
    board.ready.fetch_add(1, std::memory_order_release);
    me.done.store(1, std::memory_order_release);
    return;
  }
  auto& receiver = receiver_or.value();
  // Ping-pong: the lane this consumer echoes every record back on.
  const bool echo = plan.pingpong && plan.kind == PhaseKind::kLatency;
  using EchoSender = std::remove_cvref_t<decltype(transport.sender(0, Lane::kPong).value())>;
  std::optional<EchoSender> echo_sender;
  if (echo) {
    auto s = transport.sender(c, Lane::kPong);
    if (!s.is_ok()) {
      me.failure.fail("consumer %d: echo: %s", c, s.status().to_string().c_str());
      // Both pair with the main thread's acquire loads of ready and done (runner.cc).
      board.ready.fetch_add(1, std::memory_order_release);
      me.done.store(1, std::memory_order_release);
      return;
    }
    echo_sender.emplace(std::move(s.value()));
  }
  // The next part_seq expected from each producer in each partition.
  std::vector<std::uint32_t> next(static_cast<std::size_t>(plan.producers * plan.partitions), 0);
  board.ready.fetch_add(1, std::memory_order_release);  // pairs with the main thread's acquire before go
  if (!await_go(board)) {
    me.done.store(1, std::memory_order_release);  // pairs with the main thread's acquire of done
    return;
  }

  const bool latency = plan.kind == PhaseKind::kLatency && !echo;  // a ping-pong's producer times the trips
  const bool acks = plan.kind == PhaseKind::kLatency && plan.rate_rps <= 0;
  const std::size_t size = plan.record_bytes;
  const PayloadLayout stamps = layout_of(size);
  const double interval_ns = plan.rate_rps > 0 ? 1e9 / plan.rate_rps : 0;
  const std::int64_t deadline_ns = plan.deadline ? plan.deadline->deadline_ns : 0;
  std::uint64_t received = 0, measured = 0, expected = ~std::uint64_t{0};
  std::int64_t last_ns = 0, idle_since_ns = 0;

  auto on_record = [&](const std::byte* record, std::size_t length) noexcept {
    PayloadHeader h;
    if (length != size) return me.failure.fail("consumer %d: a record of %zu bytes, expected %zu", c, length, size);
    if (!read_record(record, size, h))
      return me.failure.fail("consumer %d: record %llu of producer %u fails its check byte", c,
                             static_cast<unsigned long long>(h.seq), static_cast<unsigned>(h.producer));
    if (h.producer >= plan.producers || h.partition >= plan.partitions || !plan.owns(c, h.partition))
      return me.failure.fail("consumer %d: a record from producer %u to partition %u, which it does not read", c,
                             static_cast<unsigned>(h.producer), static_cast<unsigned>(h.partition));
    std::uint32_t& want = next[static_cast<std::size_t>(h.producer * plan.partitions + h.partition)];
    if (h.part_seq != want)
      return me.failure.fail(
          "consumer %d: producer %u's record %u in partition %u arrived where %u was expected (lost, duplicated or "
          "reordered)",
          c, static_cast<unsigned>(h.producer), h.part_seq, static_cast<unsigned>(h.partition), want);
    ++want;
    ++received;
    // A compact record carries no seq: one record per send, it follows from
    // the partition's sequence.
    if (!stamps.full && acks) h.seq = plan.seq_of(h.producer, h.partition, h.part_seq);
    if (echo && !echo_sender->send(0, record, 1, me.failure)) return;
    if ((h.flags & kWarmupFlag) == 0) {
      ++measured;
      if (latency) {
        const std::uint64_t now = plan.clock.now();
        if (!stamps.has_sent && acks) {
          // Pairs with the producer's release store before it sent this record.
          h.sent = board.producers[h.producer].in_flight_tick.load(std::memory_order_acquire);
        }
        if (!stamps.has_intended) {
          if (acks) {
            h.intended = h.sent;  // closed loop: sent when the previous one arrived
          } else {
            const std::uint64_t seq = plan.seq_of(h.producer, h.partition, h.part_seq);
            const double slot = static_cast<double>(seq * static_cast<std::uint64_t>(plan.producers) + h.producer);
            h.intended = board.start_tick + plan.clock.ticks_in(slot * interval_ns);
          }
        }
        const std::int64_t corrected = plan.clock.to_ns(static_cast<std::int64_t>(now - h.intended));
        me.corrected.record(corrected);
        if (stamps.has_sent || acks) me.raw.record(plan.clock.to_ns(static_cast<std::int64_t>(now - h.sent)));
        if (deadline_ns > 0) me.deadline.record(corrected, deadline_ns);
      }
    }
    if (acks) me.acks[h.producer].next.store(h.seq + 1, std::memory_order_release);  // pairs with the producer's acquire
  };

  std::uint64_t measured_before = 0;
  for (std::uint32_t idle = 0; board.abort.load(std::memory_order_relaxed) == 0;) {  // relaxed: a hint to stop
    // Until the first measured record, each poll is timed from its start: a
    // transport that hands over a whole run in one poll (a pipe's buffer
    // holds 100 small records) would otherwise end the run where it began.
    const std::int64_t poll_start_ns = measured_before == 0 ? monotonic_ns() : 0;
    const long n = receiver.poll(on_record, me.failure);
    if (n < 0 || me.failure.failed) break;
    if (n > 0) {
      idle = 0;
      idle_since_ns = 0;
      me.received.store(received, std::memory_order_release);  // pairs with flow control's acquire
      if (measured != measured_before) {
        last_ns = monotonic_ns();
        if (measured_before == 0) me.first_ns = poll_start_ns;
        measured_before = measured;
      }
      if (received < expected) continue;
    }
    if (expected == ~std::uint64_t{0}) {
      bool all_done = true;
      for (int p = 0; p < plan.producers; ++p)
        all_done = all_done && board.producers[p].done.load(std::memory_order_acquire) != 0;  // pairs with the producer's release
      if (all_done) {
        expected = 0;
        // Pairs with each producer's release store of sent (its last is also ordered by done).
        for (int p = 0; p < plan.producers; ++p)
          expected += plan.routed(p, board.producers[p].sent.load(std::memory_order_acquire), c);
      }
    }
    if (received == expected) break;
    if (received > expected) {
      me.failure.fail("consumer %d: received %llu records, %llu were sent to it", c,
                      static_cast<unsigned long long>(received), static_cast<unsigned long long>(expected));
      break;
    }
    if (n == 0) {
      const std::int64_t now = monotonic_ns();
      if (idle_since_ns == 0) idle_since_ns = now;
      if (expected != ~std::uint64_t{0} && now - idle_since_ns > 10'000'000'000) {
        me.failure.fail("consumer %d: stalled at %llu of %llu records for 10 s", c,
                        static_cast<unsigned long long>(received), static_cast<unsigned long long>(expected));
        break;
      }
      relax(plan.wait, ++idle);
    }
  }
  me.received.store(received, std::memory_order_release);  // pairs with flow control's acquire
  me.measured = measured;
  me.last_ns = last_ns;
  me.done.store(1, std::memory_order_release);  // publishes measured, last_ns and the histograms
}

// ---------------------------------------------------------------- ping-pong

// Producer 0 of a ping-pong phase: sends each record on the ping lane, waits
// for its echo on the pong lane, checks that it is the same record and
// records round trip / 2 in consumer 0's histograms.
template <typename Transport>
void run_pinger(Transport& transport, const PhasePlan& plan, PhaseBoard& board, int p) noexcept {
  ProducerSlot& me = board.producers[p];
  me.failure.abort = &board.abort;
  auto sender_or = transport.sender(p, Lane::kPing);
  auto receiver_or = transport.receiver(p, Lane::kPong);
  if (!sender_or.is_ok() || !receiver_or.is_ok()) {
    me.failure.fail("producer %d: %s", p,
                    (!sender_or.is_ok() ? sender_or.status() : receiver_or.status()).to_string().c_str());
    // Both pair with the main thread's acquire loads of ready and done (runner.cc).
    board.ready.fetch_add(1, std::memory_order_release);
    me.done.store(1, std::memory_order_release);
    return;
  }
  auto& sender = sender_or.value();
  auto& receiver = receiver_or.value();
  ConsumerSlot& timing = board.consumers[0];
  const std::size_t size = plan.record_bytes;
  std::vector<std::byte> record(size);
  prepare_record(record.data(), size);
  board.ready.fetch_add(1, std::memory_order_release);  // pairs with the main thread's acquire before go
  if (!await_go(board)) {
    me.done.store(1, std::memory_order_release);  // pairs with the main thread's acquire of done
    return;
  }
  const bool by_count = plan.count > 0;
  const std::uint64_t quota = by_count ? plan.quota(p) : 0;
  const std::int64_t deadline_ns = plan.deadline ? plan.deadline->deadline_ns : 0;
  std::uint64_t seq = 0, measured = 0;
  bool echoed = false;
  PayloadHeader sent{};
  auto on_echo = [&](const std::byte* r, std::size_t length) noexcept {
    PayloadHeader h;
    if (length != size || !read_record(r, size, h))
      return me.failure.fail("producer %d: the echo of record %llu is damaged", p, static_cast<unsigned long long>(seq));
    if (echoed || h.part_seq != sent.part_seq || h.producer != sent.producer || h.partition != sent.partition ||
        (layout_of(size).full && h.seq != sent.seq))
      return me.failure.fail("producer %d: record %llu was echoed back as producer %u's %u (lost, duplicated or reordered)",
                             p, static_cast<unsigned long long>(seq), static_cast<unsigned>(h.producer), h.part_seq);
    echoed = true;
  };
  while (board.abort.load(std::memory_order_relaxed) == 0) {  // relaxed: a hint to stop
    const std::int64_t now_ns = monotonic_ns();
    const bool warm = now_ns < board.measure_ns;
    if (!warm && (by_count ? measured >= quota : now_ns >= board.end_ns)) break;
    const std::uint64_t t0 = plan.clock.now();
    sent = PayloadHeader{seq, t0, t0, static_cast<std::uint32_t>(seq), static_cast<std::uint8_t>(p), 0,
                         static_cast<std::uint8_t>(warm ? kWarmupFlag : 0)};
    stamp(record.data(), size, sent);
    if (!sender.send(0, record.data(), 1, me.failure)) break;
    echoed = false;
    // Relaxed: abort is a hint to stop.
    for (std::uint32_t idle = 0; !echoed && !me.failure.failed && board.abort.load(std::memory_order_relaxed) == 0;) {
      const long n = receiver.poll(on_echo, me.failure);
      if (n < 0) break;
      if (n == 0) relax(plan.wait, ++idle);
    }
    if (!echoed) break;
    const std::uint64_t t1 = plan.clock.now();
    if (!warm) {
      const std::int64_t one_way = plan.clock.to_ns(static_cast<std::int64_t>(t1 - t0)) / 2;
      timing.corrected.record(one_way);
      timing.raw.record(one_way);
      if (deadline_ns > 0) timing.deadline.record(one_way, deadline_ns);
      ++measured;
    }
    ++seq;
    me.sent.store(seq, std::memory_order_release);  // pairs with the consumer's acquire once done
  }
  me.measured = measured;
  me.done.store(1, std::memory_order_release);  // publishes sent and measured
}

}  // namespace rill::bench
