// A `rill demo` producer process: phase 0 sends its records as fast as the
// slowest consumer allows, phase 1 at a fixed rate. Record `seq` goes to
// partition seq % partitions, so consumers can check order exactly.
#include <sched.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <limits>
#include <string>
#include <vector>

#include "rill/producer.h"
#include "rill/topic.h"
#include "tools/rill/demo_board.h"

namespace rill::cli {
namespace {

// A producer waits at most this long for a consumer to make room.
constexpr std::int64_t kStallNs = 20'000'000'000;

void sleep_until(std::int64_t monotonic_ns) {
  timespec ts{};
  ts.tv_sec = monotonic_ns / 1'000'000'000;
  ts.tv_nsec = monotonic_ns % 1'000'000'000;
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

class DemoProducer {
 public:
  DemoProducer(const DemoConfig& config, DemoBoard& board, int id, std::shared_ptr<Topic> topic)
      : config_(config),
        board_(board),
        slot_(board.producers[id]),
        id_(static_cast<std::uint32_t>(id)),
        producer_(std::move(topic)),
        last_offset_(static_cast<std::size_t>(config.partitions), -1),
        allowed_until_(static_cast<std::size_t>(config.partitions), 0) {}

  int run() {
    // Pairs with the parent's release store of go.
    while (board_.go.load(std::memory_order_acquire) == 0) {
      if (board_.abort.load(std::memory_order_relaxed)) return 1;  // relaxed: a hint to stop
      sleep_until(monotonic_ns() + 100'000);
    }
    for (int phase = 0; phase < kDemoPhases; ++phase) {
      const std::uint64_t n = config_.phase_records(phase);
      if (n == 0) break;
      if (phase > 0 && !wait_for_consumers(phase - 1)) return 1;
      if (!send_phase(phase, n)) return 1;
      board_.producers_done[phase].fetch_add(1, std::memory_order_release);  // pairs with consumers' acquire
    }
    slot_.sent.store(sent_, std::memory_order_relaxed);  // relaxed: progress for the parent's watchdog
    return 0;
  }

 private:
  bool send_phase(int phase, std::uint64_t n) {
    const std::uint64_t first = config_.phase_start(phase);
    const bool paced = phase == 1 && config_.rate > 0;
    const double interval_ns = paced ? 1e9 / static_cast<double>(config_.rate) : 0.0;
    const std::int64_t start = monotonic_ns();
    slot_.phase_start_ns[phase] = start;
    for (std::uint64_t i = 0; i < n; ++i) {
      if (paced) {
        // Send on schedule; a producer that fell behind sends at once (no catch-up limit).
        const std::int64_t due = start + static_cast<std::int64_t>(interval_ns * static_cast<double>(i));
        if (monotonic_ns() < due) sleep_until(due);
      }
      if (!send(first + i)) return false;
    }
    slot_.phase_end_ns[phase] = monotonic_ns();
    return true;
  }

  bool send(std::uint64_t seq) {
    const auto p = static_cast<std::int32_t>(seq % static_cast<std::uint64_t>(config_.partitions));
    if (!make_room(p)) return false;
    SendOptions options;
    options.partition = p;
    auto r = producer_.reserve(std::nullopt, config_.value_size, options);
    if (!r) {
      set_demo_error(slot_.error, r.status().to_string());
      return false;
    }
    std::byte* v = r->value().data();
    std::memset(v + DemoValue::kMinSize, DemoValue::kFiller, config_.value_size - DemoValue::kMinSize);
    std::memcpy(v + DemoValue::kProducerAt, &id_, sizeof id_);
    std::memset(v + DemoValue::kProducerAt + sizeof id_, 0, DemoValue::kSequenceAt - sizeof id_);
    std::memcpy(v + DemoValue::kSequenceAt, &seq, sizeof seq);
    const std::int64_t sent_ns = monotonic_ns();
    std::memcpy(v + DemoValue::kSentAt, &sent_ns, sizeof sent_ns);
    producer_.publish(*r);
    last_offset_[static_cast<std::size_t>(p)] = r->offset();
    if ((++sent_ & 1023) == 0) slot_.sent.store(sent_, std::memory_order_relaxed);  // relaxed: progress only
    return true;
  }

  // Waits until the next record of partition p stays within the window of the
  // slowest consumer. The offset this producer gets next is at least its last
  // one + 1, and every producer checks its own, so the partition's newest
  // record stays within window of the slowest consumer.
  bool make_room(std::int32_t p) {
    const auto i = static_cast<std::size_t>(p);
    const std::int64_t next = last_offset_[i] + 1;
    if (next < allowed_until_[i]) return true;
    const std::int64_t since = monotonic_ns();
    for (int spins = 0;; ++spins) {
      std::int64_t slowest = std::numeric_limits<std::int64_t>::max();
      for (int c = 0; c < config_.consumers; ++c)  // pairs with the consumers' release stores
        slowest = std::min(slowest, board_.consumers[c].position[p].load(std::memory_order_acquire));
      allowed_until_[i] = slowest + config_.window;
      if (next < allowed_until_[i]) return true;
      if (spins == 0) ++slot_.paced_waits;
      if (board_.abort.load(std::memory_order_relaxed)) return false;  // relaxed: a hint to stop
      if (spins < 64) {
        ::sched_yield();
      } else {
        sleep_until(monotonic_ns() + 20'000);
        if (monotonic_ns() - since > kStallNs) {
          set_demo_error(slot_.error, "partition " + std::to_string(p) + ": a consumer read nothing for " +
                                          std::to_string(kStallNs / 1'000'000'000) + " s");
          return false;
        }
      }
    }
  }

  // Phase 1 measures latency without queueing behind phase 0: wait until
  // every consumer drained phase `phase`.
  bool wait_for_consumers(int phase) {
    // Pairs with the consumers' release increments.
    while (board_.consumers_done[phase].load(std::memory_order_acquire) <
           static_cast<std::uint32_t>(config_.consumers)) {
      if (board_.abort.load(std::memory_order_relaxed)) return false;  // relaxed: a hint to stop
      sleep_until(monotonic_ns() + 200'000);
    }
    return true;
  }

  const DemoConfig& config_;
  DemoBoard& board_;
  DemoProducerSlot& slot_;
  std::uint32_t id_;
  Producer producer_;
  std::vector<std::int64_t> last_offset_;
  std::vector<std::int64_t> allowed_until_;
  std::uint64_t sent_ = 0;
};

}  // namespace

int run_demo_producer(const DemoConfig& config, DemoBoard& board, int id) {
  DemoProducerSlot& slot = board.producers[id];
  // Sleeps in phase 1 end on time, not up to 50 us late (the default timer slack).
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  std::shared_ptr<Topic> topic = open_demo_topic(config, slot.error);
  if (!topic) return 1;
  DemoProducer producer(config, board, id, topic);
  board.ready.fetch_add(1, std::memory_order_release);  // pairs with the parent's acquire
  return producer.run();
}

}  // namespace rill::cli
