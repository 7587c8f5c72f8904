// A `rill demo` consumer process: reads every record of every partition,
// checks checksums (in poll) and each producer's order, and measures one-way
// latency from the send time in the value to the moment poll() returned it.
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "rill/consumer.h"
#include "rill/topic.h"
#include "tools/rill/demo_board.h"

namespace rill::cli {
namespace {

constexpr std::chrono::milliseconds kPollTimeout{20};

class DemoConsumer {
 public:
  DemoConsumer(const DemoConfig& config, DemoBoard& board, int id, std::shared_ptr<Topic> topic)
      : config_(config),
        board_(board),
        slot_(board.consumers[id]),
        consumer_(std::move(topic), options(config)),
        next_(static_cast<std::size_t>(config.producers) * static_cast<std::size_t>(config.partitions)) {
    // Record seq of any producer lands in partition seq % partitions: the
    // first one expected in partition p is sequence p.
    for (std::size_t i = 0; i < next_.size(); ++i) next_[i] = i % static_cast<std::size_t>(config.partitions);
    for (int phase = 0; phase < kDemoPhases; ++phase) slot_.latency[phase].clear();
  }

  Status assign() { return consumer_.assign_all(); }

  int run() {
    int phase = 0;
    while (phase < kDemoPhases && config_.phase_records(phase) > 0) {
      if (board_.abort.load(std::memory_order_relaxed)) return 1;  // relaxed: a hint to stop
      PollResult r = consumer_.poll(kPollTimeout);
      const std::int64_t now = monotonic_ns();
      slot_.skipped += static_cast<std::uint64_t>(r.skipped);
      for (const RecordView& record : r.records) check(record, now);
      if (!r.status) {
        // poll() stops at a bad record and would report it again: the run has failed.
        if (r.status.code() == Code::kCorrupt) ++slot_.corrupt;
        set_demo_error(slot_.error, r.status.to_string());
        return 1;
      }
      for (std::int32_t p = 0; p < config_.partitions; ++p)
        // Pairs with the producers' acquire loads in make_room().
        slot_.position[p].store(consumer_.position(p), std::memory_order_release);
      slot_.received.store(received_, std::memory_order_relaxed);  // relaxed: progress for the parent's watchdog
      if (phase_complete(phase, r.records.empty())) {
        // Pairs with the producers' acquire load in wait_for_consumers().
        board_.consumers_done[phase].fetch_add(1, std::memory_order_release);
        ++phase;
      }
    }
    return 0;
  }

 private:
  static ConsumerOptions options(const DemoConfig& config) {
    ConsumerOptions o;
    o.wait = config.wait;
    o.start_at_earliest = true;
    o.verify_checksums = true;
    o.max_poll_records = 1024;
    return o;
  }

  void check(const RecordView& record, std::int64_t now) {
    ++received_;
    const std::string_view v = record.value();
    std::uint32_t producer = 0;
    std::uint64_t seq = 0;
    std::int64_t sent = 0;
    if (v.size() < DemoValue::kMinSize) {
      ++slot_.malformed;
      return;
    }
    std::memcpy(&producer, v.data() + DemoValue::kProducerAt, sizeof producer);
    std::memcpy(&seq, v.data() + DemoValue::kSequenceAt, sizeof seq);
    std::memcpy(&sent, v.data() + DemoValue::kSentAt, sizeof sent);
    if (producer >= static_cast<std::uint32_t>(config_.producers)) {
      ++slot_.malformed;
      return;
    }
    const auto partitions = static_cast<std::uint64_t>(config_.partitions);
    if (seq % partitions != static_cast<std::uint64_t>(record.partition())) ++slot_.misrouted;
    std::uint64_t& next = next_[producer * partitions + static_cast<std::uint64_t>(record.partition())];
    if (seq < next) {
      ++slot_.out_of_order;
      return;
    }
    if (seq > next) slot_.lost += (seq - next) / partitions;
    next = seq + partitions;
    const int phase = seq < config_.records ? 0 : 1;
    ++slot_.phase_received[phase];
    slot_.phase_last_ns[phase] = now;
    slot_.latency[phase].record(now - sent);
  }

  // A phase is complete when every producer's sequence in every partition
  // passed its end, or — records were lost — when every producer finished it
  // and nothing is left to read.
  bool phase_complete(int phase, bool idle) {
    const std::uint64_t end = config_.phase_start(phase) + config_.phase_records(phase);
    bool all = true;
    for (std::uint64_t next : next_) all = all && next >= end;
    if (all) return true;
    // Pairs with the producers' release increments.
    if (!idle ||
        board_.producers_done[phase].load(std::memory_order_acquire) < static_cast<std::uint32_t>(config_.producers))
      return false;
    for (std::int32_t p = 0; p < config_.partitions; ++p) {
      const Result<std::int64_t> latest = consumer_.latest_offset(p);
      if (!latest || consumer_.position(p) < *latest) return false;
    }
    // What never came is lost: count it.
    for (std::size_t i = 0; i < next_.size(); ++i) {
      const std::uint64_t partitions = static_cast<std::uint64_t>(config_.partitions);
      const std::uint64_t p = i % partitions;
      // First sequence of partition p at or after `end`.
      const std::uint64_t stop = end + (p + partitions - end % partitions) % partitions;
      if (next_[i] < stop) {
        slot_.lost += (stop - next_[i]) / partitions;
        next_[i] = stop;
      }
    }
    return true;
  }

  const DemoConfig& config_;
  DemoBoard& board_;
  DemoConsumerSlot& slot_;
  Consumer consumer_;
  std::vector<std::uint64_t> next_;  // [producer * partitions + partition]: next sequence expected
  std::uint64_t received_ = 0;
};

}  // namespace

int run_demo_consumer(const DemoConfig& config, DemoBoard& board, int id) {
  DemoConsumerSlot& slot = board.consumers[id];
  std::shared_ptr<Topic> topic = open_demo_topic(config, slot.error);
  if (!topic) return 1;
  DemoConsumer consumer(config, board, id, topic);
  if (Status s = consumer.assign(); !s) {
    set_demo_error(slot.error, s.to_string());
    return 1;
  }
  board.ready.fetch_add(1, std::memory_order_release);  // pairs with the parent's acquire
  return consumer.run();
}

}  // namespace rill::cli
