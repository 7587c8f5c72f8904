// rill demo: the README's multi-process run. The parent creates a topic in a
// private namespace (demo-<pid>), forks producer and consumer processes that
// open it by name, watches them, prints throughput, latency percentiles and
// the exactly-once verdict, and removes every shared-memory object it made —
// on success, on failure and on SIGINT/SIGTERM.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "bench/suite/team.h"
#include "rill/topic.h"
#include "rill/wait.h"
#include "tools/rill/command.h"
#include "tools/rill/demo_board.h"
#include "tools/rill/diagnostics.h"
#include "tools/rill/signals.h"
#include "tools/rill/sizes.h"

namespace rill::cli {
namespace {

// The parent gives up when no child made progress for this long.
constexpr std::int64_t kStallNs = 30'000'000'000;
// The latency phase runs this long by default (at --rate), and the rate is
// low enough that two producers and two consumers on two cores measure rill,
// not the wait for a CPU (at 100k/s each, a 2-core VM is saturated).
constexpr std::uint64_t kLatencyPhaseSeconds = 2;
constexpr std::uint64_t kDefaultRate = 10'000;
constexpr std::uint64_t kFullSpeedLatencyRecords = 200'000;

struct DemoOptions {
  int producers = 2;
  int consumers = 2;
  int partitions = 2;
  std::uint64_t records = 1'000'000;
  std::int64_t latency_records = -1;  // -1: kLatencyPhaseSeconds at `rate`, at most `records`
  std::uint64_t rate = kDefaultRate;
  std::uint32_t value_size = 64;
  std::string segment_size = "4MiB";
  std::uint32_t segments = 8;
  std::string wait = "block";
};

// A producer or consumer process of the demo.
struct Child {
  bool producer = false;
  int id = 0;

  std::string name() const { return std::string(producer ? "producer " : "consumer ") + std::to_string(id); }
};

std::string format_ns(std::int64_t ns) {
  char buf[32];
  if (ns < 1'000)
    std::snprintf(buf, sizeof buf, "%lld ns", static_cast<long long>(ns));
  else if (ns < 1'000'000)
    std::snprintf(buf, sizeof buf, "%.2f us", static_cast<double>(ns) / 1e3);
  else if (ns < 1'000'000'000)
    std::snprintf(buf, sizeof buf, "%.2f ms", static_cast<double>(ns) / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.2f s", static_cast<double>(ns) / 1e9);
  return buf;
}

std::string format_rate(double per_second) {
  char buf[32];
  if (per_second >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2f M records/s", per_second / 1e6);
  else if (per_second >= 1e3)
    std::snprintf(buf, sizeof buf, "%.1f k records/s", per_second / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f records/s", per_second);
  return buf;
}

std::string format_seconds(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(ns) / 1e9);
  return buf;
}

void print_percentiles(const bench::Histogram& h) {
  std::printf("              p50 %s   p90 %s   p99 %s   p99.9 %s   max %s\n", format_ns(h.value_at(0.50)).c_str(),
              format_ns(h.value_at(0.90)).c_str(), format_ns(h.value_at(0.99)).c_str(),
              format_ns(h.value_at(0.999)).c_str(), format_ns(h.max()).c_str());
}

// One run: owns the namespace, the topic, the board and the children, and
// undoes all of it in its destructor, whatever happened.
class DemoRun {
 public:
  explicit DemoRun(DemoConfig config) : config_(std::move(config)) {}
  DemoRun(const DemoRun&) = delete;
  DemoRun& operator=(const DemoRun&) = delete;

  ~DemoRun() {
    kill_children();
    if (ns_) (void)ns_->delete_topic(config_.topic);
    ns_.reset();
    if (created_ns_) (void)Namespace::remove_shared(config_.ns);
  }

  Status set_up(const DemoOptions& o) {
    auto ns = Namespace::open_shared(config_.ns, SharedOptions{.group = {}, .create = true, .private_to_process = true});
    created_ns_ = true;  // a failed open may still have created the registry object
    if (!ns) return ns.status().with_context("opening namespace '" + config_.ns + "'");
    ns_ = *ns;
    auto segment_bytes = parse_size(o.segment_size);
    if (!segment_bytes) return segment_bytes.status().with_context("--segment-size");
    TopicConfig topic;
    topic.partitions = config_.partitions;
    topic.segment_bytes = *segment_bytes;
    topic.segment_count = o.segments;
    // Our pid is ours alone, so a topic already there was left by a dead run that had it.
    (void)ns_->delete_topic(config_.topic);
    if (Status s = ns_->create_topic(config_.topic, topic); !s) return s;
    auto info = ns_->describe_topic(config_.topic);
    if (!info) return info.status();
    const std::uint64_t frame = (48 + std::uint64_t{config_.value_size} + 7) & ~std::uint64_t{7};
    if (frame > info->max_record_bytes)
      return Status(Code::kInvalidArgument, "--value-size " + std::to_string(config_.value_size) +
                                                " does not fit a segment of " + o.segment_size +
                                                "; use a larger --segment-size");
    const std::uint64_t per_segment = info->max_record_bytes / frame;
    config_.window = std::max<std::int64_t>(1, static_cast<std::int64_t>((o.segments - 3) * per_segment / 2));

    auto block = bench::SharedBlock::map(sizeof(DemoBoard));
    if (!block) return block.status().with_context("the demo's shared board");
    board_block_ = std::move(*block);
    board_ = new (board_block_.data()) DemoBoard();  // value-initialised: zero, as the children expect
    return Status::ok();
  }

  // Forks every child (bench::Team: each dies with this process); the
  // reason if a fork failed.
  Status start_children() {
    std::fflush(nullptr);  // nothing buffered may be written twice by a child
    for (int i = 0; i < config_.producers + config_.consumers; ++i) {
      Child c;
      c.producer = i < config_.producers;
      c.id = c.producer ? i : i - config_.producers;
      if (Status s = team_.start(-1, [this, c] { run_child(c); }, c.name()); !s) return s.with_context(c.name());
      children_.push_back(c);
    }
    return Status::ok();
  }

  // Starts the run once every child is ready and waits for all of them.
  // Returns OK, or why the run failed; stop_requested() after a failure means interrupted.
  Status supervise() {
    const std::uint32_t total = static_cast<std::uint32_t>(children_.size());
    std::int64_t last_progress_ns = monotonic_ns();
    std::uint64_t last_progress = 0;
    for (;;) {
      if (stop_requested()) return Status(Code::kInternal, "interrupted");
      if (Status s = team_.check_children(); !s) {
        const std::string why = child_errors();
        return Status(s.code(), s.message() + (why.empty() ? "" : " (" + why + ")"));
      }
      if (team_.running() == 0) return Status::ok();
      // ready pairs with the children's release increments; go is relaxed, as
      // only this thread stores it.
      if (!board_->go.load(std::memory_order_relaxed) && board_->ready.load(std::memory_order_acquire) == total) {
        board_->go_ns = monotonic_ns();
        board_->go.store(1, std::memory_order_release);  // pairs with the children's acquire
      }
      const std::uint64_t progress = this->progress();
      const std::int64_t now = monotonic_ns();
      if (progress != last_progress) {
        last_progress = progress;
        last_progress_ns = now;
      } else if (now - last_progress_ns > kStallNs) {
        return Status(Code::kTimedOut, "no process made progress for " + std::to_string(kStallNs / 1'000'000'000) +
                                           " s (records sent or received)");
      }
      ::usleep(5'000);
    }
  }

  // Prints the report; returns true if every consumer got every record exactly once, in order.
  bool report() const {
    const DemoConfig& c = config_;
    const DemoBoard& b = *board_;
    std::printf("rill demo: %d producer and %d consumer processes share topic '%s' in namespace '%s'\n", c.producers,
                c.consumers, c.topic.c_str(), c.ns.c_str());
    std::printf("           %d partitions; %u-byte values; consumers wait by %s; %ld CPUs online\n\n", c.partitions,
                c.value_size, std::string(wait_strategy_name(c.wait)).c_str(), ::sysconf(_SC_NPROCESSORS_ONLN));

    std::int64_t end0 = 0;
    std::uint64_t paced = 0;
    for (int i = 0; i < c.producers; ++i) {
      end0 = std::max(end0, b.producers[i].phase_end_ns[0]);
      paced += b.producers[i].paced_waits;
    }
    const std::uint64_t produced0 = c.records * static_cast<std::uint64_t>(c.producers);
    std::printf("throughput phase: %llu records per producer, as fast as the slowest consumer keeps up\n",
                static_cast<unsigned long long>(c.records));
    print_rate_line("produced", produced0, end0 - b.go_ns, "all producers");
    auto saturated_histogram = std::make_unique<bench::Histogram>();
    bench::Histogram& saturated = *saturated_histogram;
    for (int i = 0; i < c.consumers; ++i) {
      const DemoConsumerSlot& s = b.consumers[i];
      print_rate_line("consumer " + std::to_string(i), s.phase_received[0], s.phase_last_ns[0] - b.go_ns, "");
      saturated.merge(s.latency[0]);
    }
    std::printf("  one-way latency at saturation (includes queueing behind earlier records; %llu samples):\n",
                static_cast<unsigned long long>(saturated.count()));
    print_percentiles(saturated);
    std::printf("  producers waited %llu times for the slowest consumer (allowed lead: %lld records per partition)\n",
                static_cast<unsigned long long>(paced), static_cast<long long>(c.window));

    if (c.latency_records > 0) {
      double achieved = 0;
      for (int i = 0; i < c.producers; ++i) {
        const std::int64_t took = b.producers[i].phase_end_ns[1] - b.producers[i].phase_start_ns[1];
        achieved += took > 0 ? static_cast<double>(c.latency_records) * 1e9 / static_cast<double>(took) : 0;
      }
      achieved /= c.producers;
      std::printf("\nlatency phase: %llu records per producer at %s each (achieved %s each)\n",
                  static_cast<unsigned long long>(c.latency_records),
                  c.rate ? format_rate(static_cast<double>(c.rate)).c_str() : "full speed",
                  format_rate(achieved).c_str());
      auto paced_histogram = std::make_unique<bench::Histogram>();
      bench::Histogram& paced_latency = *paced_histogram;
      for (int i = 0; i < c.consumers; ++i) paced_latency.merge(b.consumers[i].latency[1]);
      std::printf("  one-way latency, publish -> poll() returns it (%llu samples over %d consumers):\n",
                  static_cast<unsigned long long>(paced_latency.count()), c.consumers);
      print_percentiles(paced_latency);
      const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
      if (c.producers + c.consumers > cpus)
        std::printf("  (%d processes share %ld CPUs: latency includes waiting for a CPU%s)\n",
                    c.producers + c.consumers, cpus,
                    c.wait == WaitStrategy::kBlock ? "" : ", more so as consumers spin");
    }
    std::printf("  (percentiles are upper bounds of log-linear buckets, at most 0.8%% high; min/max exact)\n\n");

    const std::uint64_t expected = (c.records + c.latency_records) * static_cast<std::uint64_t>(c.producers);
    bool exact = true;
    std::string problems;
    for (int i = 0; i < c.consumers; ++i) {
      const DemoConsumerSlot& s = b.consumers[i];
      const std::uint64_t got = s.phase_received[0] + s.phase_received[1];
      if (got == expected && !s.lost && !s.out_of_order && !s.misrouted && !s.malformed && !s.corrupt && !s.skipped)
        continue;
      exact = false;
      problems += "; consumer " + std::to_string(i) + ": " + std::to_string(got) + " received in order, " +
                  std::to_string(s.lost) + " lost, " + std::to_string(s.out_of_order) + " duplicated or reordered, " +
                  std::to_string(s.misrouted) + " in the wrong partition, " + std::to_string(s.malformed) +
                  " malformed, " + std::to_string(s.corrupt) + " checksum failures, " + std::to_string(s.skipped) +
                  " overwritten before read";
    }
    if (exact)
      std::printf(
          "exactly once, in order: yes (each of %d consumers received all %llu records once, in each "
          "producer's order, checksums verified)\n",
          c.consumers, static_cast<unsigned long long>(expected));
    else
      std::printf("exactly once, in order: NO (expected %llu records per consumer%s)\n",
                  static_cast<unsigned long long>(expected), problems.c_str());
    std::fflush(stdout);
    return exact;
  }

  // The first error a child left on the board, if any.
  std::string child_errors() const {
    for (const Child& c : children_) {
      const char* e = c.producer ? board_->producers[c.id].error : board_->consumers[c.id].error;
      if (e[0]) return c.name() + ": " + e;
    }
    return "";
  }

 private:
  [[noreturn]] void run_child(const Child& c) {
    int rc = 1;
    try {
      rc = c.producer ? run_demo_producer(config_, *board_, c.id) : run_demo_consumer(config_, *board_, c.id);
    } catch (const std::exception& e) {
      DemoConsumerSlot* slot = c.producer ? nullptr : &board_->consumers[c.id];
      set_demo_error(slot ? slot->error : board_->producers[c.id].error, std::string("exception: ") + e.what());
    }
    ::_exit(rc);  // no destructors or atexit handlers of the parent's objects
  }

  // Relaxed: progress for the stall watchdog only; the report reads the slots
  // after waitpid().
  std::uint64_t progress() const {
    std::uint64_t sum = board_->ready.load(std::memory_order_relaxed);
    for (int i = 0; i < config_.producers; ++i) sum += board_->producers[i].sent.load(std::memory_order_relaxed);
    for (int i = 0; i < config_.consumers; ++i) sum += board_->consumers[i].received.load(std::memory_order_relaxed);
    return sum;
  }

  // Asks the children to stop, gives them a moment, then kills the rest.
  void kill_children() {
    if (team_.running() == 0) return;
    if (board_) board_->abort.store(1, std::memory_order_relaxed);  // relaxed: a hint to stop
    team_.stop(std::chrono::seconds(1));
  }

  void print_rate_line(const std::string& who, std::uint64_t records, std::int64_t ns, const char* note) const {
    if (records == 0 || ns <= 0) {
      std::printf("  %-11s %10llu records\n", who.c_str(), static_cast<unsigned long long>(records));
      return;
    }
    const double rate = static_cast<double>(records) * 1e9 / static_cast<double>(ns);
    std::printf("  %-11s %10llu records in %9s  %s%s%s%s\n", who.c_str(), static_cast<unsigned long long>(records),
                format_seconds(ns).c_str(), format_rate(rate).c_str(), *note ? " (" : "", note, *note ? ")" : "");
  }

  DemoConfig config_;
  std::shared_ptr<Namespace> ns_;
  bool created_ns_ = false;
  bench::SharedBlock board_block_;
  DemoBoard* board_ = nullptr;  // in board_block_
  bench::Team team_{bench::Team::Mode::kProcesses};
  std::vector<Child> children_;
};

int run_demo(const DemoOptions& o) {
  DemoConfig config;
  config.ns = "demo-" + std::to_string(::getpid());
  config.topic = "demo";
  config.producers = o.producers;
  config.consumers = o.consumers;
  config.partitions = o.partitions;
  config.records = o.records;
  const std::uint64_t default_latency_records = o.rate ? o.rate * kLatencyPhaseSeconds : kFullSpeedLatencyRecords;
  config.latency_records = o.latency_records >= 0 ? static_cast<std::uint64_t>(o.latency_records)
                                                  : std::min(o.records, default_latency_records);
  config.rate = o.rate;
  config.value_size = o.value_size;
  if (!parse_wait_strategy(o.wait, &config.wait))
    return report_error("--wait: '" + o.wait + "' is not spin, yield or block");

  install_stop_handlers();
  DemoRun run(config);
  if (Status s = run.set_up(o); !s) return report_error(s);
  Status started = run.start_children();
  Status finished = started ? run.supervise() : started;
  if (stop_requested()) {
    report_error("interrupted by " + std::string(strsignal(stop_signal())) +
                 "; stopped the children and removed the "
                 "demo's topic and namespace");
    return kExitInterrupted;
  }
  if (!finished) return report_error(finished.message() + "; the other processes were stopped and the demo's topic removed");
  return run.report() ? kExitOk : report_error("some records were not received exactly once, in order (see above)");
}

}  // namespace

void add_demo_command(CLI::App& root, const GlobalOptions& /*global: the demo uses a private namespace*/,
                      CommandTable& table) {
  auto o = std::make_shared<DemoOptions>();
  CLI::App* c = root.add_subcommand(
      "demo",
      "Multi-process demo: creates topic 'demo' in a private namespace demo-<pid> (--ns is not used), forks\n"
      "producer and consumer processes that share it, and reports records/s, one-way latency percentiles and\n"
      "whether every consumer received every record exactly once, in each producer's order. Two phases:\n"
      "throughput (producers at full speed, paced only so that no consumer is overtaken by the ring) and\n"
      "latency (producers at --rate). Everything it created is removed at the end, also on failure or Ctrl-C.");
  c->fallthrough();
  c->add_option("--producers", o->producers, "Producer processes")
      ->check(CLI::Range(1, kMaxDemoProducers))
      ->capture_default_str();
  c->add_option("--consumers", o->consumers, "Consumer processes; each reads every record")
      ->check(CLI::Range(1, kMaxDemoConsumers))
      ->capture_default_str();
  c->add_option("--partitions", o->partitions, "Partitions of the demo topic")
      ->check(CLI::Range(1, kMaxDemoPartitions))
      ->capture_default_str();
  c->add_option("--records", o->records, "Records per producer in the throughput phase")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40))
      ->capture_default_str();
  c->add_option("--latency-records", o->latency_records,
                "Records per producer in the latency phase (default: 2 seconds' worth at --rate, at most --records; "
                "0 skips the phase)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 40));
  c->add_option("--rate", o->rate, "Records per second per producer in the latency phase (0 = full speed)")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1'000'000'000}))
      ->capture_default_str();
  c->add_option("--value-size", o->value_size,
                "Bytes per record value (>= 24: producer id, sequence number, send time, then filler)")
      ->check(CLI::Range(static_cast<std::uint32_t>(DemoValue::kMinSize), std::uint32_t{1} << 30))
      ->capture_default_str();
  c->add_option("--segment-size", o->segment_size, "Segment size of the demo topic (as rill topic create)")
      ->capture_default_str();
  c->add_option("--segments", o->segments, "Segments per partition of the demo topic (>= 4)")->capture_default_str();
  c->add_option("--wait", o->wait,
                "How consumers wait: block (futex, no CPU burned; right for 2 cores), yield or spin (a core each)")
      ->check(CLI::IsMember({"spin", "yield", "block"}))
      ->capture_default_str();
  table.add(c, [o] { return run_demo(*o); });
}

}  // namespace rill::cli
