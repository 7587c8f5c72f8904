#include "bench/suite/runner.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <new>
#include <optional>
#include <thread>

#include "bench/suite/clock.h"
#include "bench/suite/data_folder.h"
#include "bench/suite/phase.h"
#include "bench/suite/team.h"
#include "bench/suite/transports.h"
#include "bench/suite/transports_disk.h"
#include "bench/suite/transports_iceoryx.h"
#include "bench/suite/transports_zmq.h"
#include "core/log/disk_format.h"
#include "core/log/frame_codec.h"
#include "core/log/record_format.h"
#include "io/uring.h"

namespace rill::bench {

namespace {

constexpr std::int64_t kStallNs = 15'000'000'000;  // no progress this long: the phase is abandoned

Team::Mode mode_of(std::string_view t) {
  const bool processes = t == "rill-ipc" || t == "rill-ipc@memory" || t == "uds" || t == "pipe" || t == "iceoryx" ||
                         t == "zmq-ipc";
  return processes ? Team::Mode::kProcesses : Team::Mode::kThreads;
}

std::string topology_of(const Scenario& s, std::string_view t) {
  if (t == "raw-write") return "1x0, files";
  if (t == "raw-fdatasync") return "1x0, a file, fdatasync each";
  if (t == "raw-group-commit") return std::to_string(s.producers) + "x0, a file, group commit";
  if (t == "pingpong-floor" || s.pingpong) {
    if (t == "pingpong-floor") return "1x1 ping-pong";
    // The throughput phase runs the scenario's topology; the latency phase echoes.
    return std::string(is_rill(t) ? "1x1, 1 partition" : "1x1, 1 channel") + " + ping-pong";
  }
  std::string text = std::to_string(s.producers) + "x" + std::to_string(s.consumers);
  if (is_rill(t)) text += ", " + std::to_string(s.partitions) + (s.partitions == 1 ? " partition" : " partitions");
  else text += ", " + std::to_string(s.producers * s.consumers) + (s.producers * s.consumers == 1 ? " channel" : " channels");
  if (s.split) text += ", split";
  return text;
}

int core_for(const Scenario& s, int index) {
  return s.cpus.empty() ? -1 : s.cpus[static_cast<std::size_t>(index) % s.cpus.size()];
}

// The board in memory every participant shares (threads or processes).
struct BoardMemory {
  SharedBlock block;
  PhaseBoard* board = nullptr;
  static Result<BoardMemory> make() {
    auto block = SharedBlock::map(sizeof(PhaseBoard));
    if (!block.is_ok()) return block.status();
    BoardMemory m{std::move(block.value()), nullptr};
    m.board = new (m.block.data()) PhaseBoard();
    return m;
  }
};

// What one phase of one transport found.
struct PhaseOutcome {
  std::uint64_t records = 0;
  std::uint64_t unsent = 0;  // latency phase: scheduled before the end, not sent (behind the rate)
  std::optional<double> throughput_rps;
  std::unique_ptr<Histogram> corrected = std::make_unique<Histogram>();
  std::unique_ptr<Histogram> raw = std::make_unique<Histogram>();
  std::unique_ptr<Histogram> acked = std::make_unique<Histogram>();  // PhasePlan::ack_latency
  DeadlineCounts deadline;
  // Durable rill topics: the segment files' bytes over the records sent
  // (warm-up included, each acknowledged as written): bytes per record.
  std::optional<double> file_bytes_per_record;
  std::string error;
  bool interrupted = false;
};

class PhaseRunner {
 public:
  PhaseRunner(const Scenario& s, const ProgressFn& progress, int run) : scenario_(s), progress_(progress), run_(run) {}

  template <typename T>
  PhaseOutcome run(std::string_view name, T& transport, const PhasePlan& plan, PhaseBoard& board) {
    PhaseOutcome out;
    Team team(mode_of(name));
    for (int p = 0; p < plan.producers; ++p) {
      Status s = team.start(core_for(scenario_, p), [&transport, &plan, &board, p] {
        if (plan.pingpong && plan.kind == PhaseKind::kLatency) run_pinger(transport, plan, board, p);
        else run_producer(transport, plan, board, p);
      });
      if (!s.is_ok()) {
        fail(out, board, s.to_string());
        return out;
      }
    }
    for (int c = 0; c < plan.consumers; ++c) {
      Status s = team.start(core_for(scenario_, plan.producers + c),
                            [&transport, &plan, &board, c] { run_consumer(transport, plan, board, c); });
      if (!s.is_ok()) {
        fail(out, board, s.to_string());
        break;
      }
    }
    if constexpr (requires { transport.close_parent_ends(); }) transport.close_parent_ends();
    if (out.error.empty()) supervise(name, plan, board, team);
    if (child_error_.is_ok()) child_error_ = team.check_children();
    if (!child_error_.is_ok() && out.error.empty()) out.error = child_error_.to_string();
    if (Status s = team.join(); !s.is_ok() && out.error.empty()) out.error = s.to_string();
    collect(plan, board, out);
    if constexpr (requires { transport.file_bytes(); }) {
      if (out.error.empty() && plan.durability != Durability::kMemory) check_files(transport.file_bytes(), plan, board, out);
    }
    return out;
  }

 private:
  static void fail(PhaseOutcome& out, PhaseBoard& board, std::string error) {
    board.abort.store(1, std::memory_order_relaxed);  // relaxed: a hint to stop
    out.error = std::move(error);
  }

  // Starts the phase once everyone is attached, reports progress, and
  // abandons a phase that makes no progress.
  // Once aborted (interrupt, stall, a participant that died), the others
  // get a second to notice; then processes are killed, since one may be
  // blocked in a system call.
  void wind_down(const PhasePlan& plan, PhaseBoard& board, Team& team) {
    board.abort.store(1, std::memory_order_relaxed);  // relaxed: a hint to stop; the results are read after join
    const std::int64_t until = monotonic_ns() + 1'000'000'000;
    while (monotonic_ns() < until) {
      bool all_done = true;
      // Pair with each participant's release store of done.
      for (int p = 0; p < plan.producers; ++p) all_done = all_done && board.producers[p].done.load(std::memory_order_acquire);
      for (int c = 0; c < plan.consumers; ++c) all_done = all_done && board.consumers[c].done.load(std::memory_order_acquire);
      if (all_done) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    team.kill();
  }

  void supervise(std::string_view name, const PhasePlan& plan, PhaseBoard& board, Team& team) {
    const auto participants = static_cast<std::uint32_t>(plan.producers + plan.consumers);
    const std::int64_t attach_deadline = monotonic_ns() + 30'000'000'000;
    while (board.ready.load(std::memory_order_acquire) < participants) {  // pairs with each participant's release
      if (Status s = team.check_children(); !s.is_ok()) child_error_ = s;
      if (!child_error_.is_ok() || monotonic_ns() > attach_deadline) {
        wind_down(plan, board, team);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    constexpr std::int64_t kLeadNs = 2'000'000;
    const std::int64_t now_ns = monotonic_ns();
    const std::uint64_t now_tick = plan.clock.now();
    board.start_ns = now_ns + kLeadNs;
    board.start_tick = now_tick + plan.clock.ticks_in(static_cast<double>(kLeadNs));
    board.measure_ns = board.start_ns + plan.warmup_ns;
    board.end_ns = plan.count > 0 ? INT64_MAX : board.measure_ns + plan.duration_ns;
    board.go.store(1, std::memory_order_release);  // publishes start_* (await_go's acquire)

    const std::string_view phase = plan.kind == PhaseKind::kThroughput ? "throughput" : "latency";
    auto live = std::make_unique<Histogram>();
    std::uint64_t last_seen = 0;
    std::int64_t last_change = monotonic_ns(), last_progress = last_change;
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      bool all_done = true;
      std::uint64_t seen = 0, received = 0;  // sent by all producers; received by all consumers
      // done pairs with each participant's release store of it; sent and
      // received are relaxed: progress for the watchdog and display only.
      for (int p = 0; p < plan.producers; ++p) {
        all_done = all_done && board.producers[p].done.load(std::memory_order_acquire) != 0;
        seen += board.producers[p].sent.load(std::memory_order_relaxed);  // relaxed: progress only
      }
      for (int c = 0; c < plan.consumers; ++c) {
        all_done = all_done && board.consumers[c].done.load(std::memory_order_acquire) != 0;
        received += board.consumers[c].received.load(std::memory_order_relaxed);
      }
      if (all_done) break;
      // A participant process that died will never say done.
      if (Status s = team.check_children(); !s.is_ok()) {
        child_error_ = s;
        wind_down(plan, board, team);
        return;
      }
      const std::int64_t t = monotonic_ns();
      if (seen + received != last_seen) {
        last_seen = seen + received;
        last_change = t;
      } else if (t - last_change > kStallNs) {
        stalled_ = true;
        wind_down(plan, board, team);
        return;
      }
      if (progress_ && !interrupted_ && t - last_progress >= 200'000'000) {
        last_progress = t;
        live->clear();
        if (plan.kind == PhaseKind::kLatency)
          for (int c = 0; c < plan.consumers; ++c) live->merge(board.consumers[c].corrected);
        interrupted_ = !progress_(Progress{name, phase, run_, seen,
                           static_cast<double>(std::max<std::int64_t>(0, t - board.start_ns)) / 1e9,
                           live->value_at(0.99)});
        if (interrupted_) {
          wind_down(plan, board, team);
          return;
        }
      }
    }
  }

  // A durable topic's files must hold every record sent (each send returned
  // once its record was written): exactly their frames when each was sent
  // alone (a record frame each), at least their values in batches.
  static void check_files(const Result<RillTransport::FileBytes>& files, const PhasePlan& plan,
                          const PhaseBoard& board, PhaseOutcome& out) {
    if (!files.is_ok()) {
      out.error = files.status().to_string();
      return;
    }
    std::uint64_t sent = 0;
    for (int p = 0; p < plan.producers; ++p) sent += board.producers[p].sent.load(std::memory_order_relaxed);  // joined
    const std::uint64_t frames = files.value().bytes - files.value().files * log::disk::kLogHeaderBytes;
    const std::uint64_t frame = log::align_frame(log::record_frame_size(std::nullopt, plan.record_bytes, 0));
    const bool short_of = plan.batch == 1 ? frames != sent * frame : frames < sent * plan.record_bytes;
    if (short_of || sent == 0) {
      out.error = "the topic's segment files hold " + std::to_string(frames) + " bytes of frames in " +
                  std::to_string(files.value().files) + " files; the " + std::to_string(sent) +
                  " records sent and acknowledged as written take " +
                  (plan.batch == 1 ? std::to_string(sent * frame) : "at least " + std::to_string(sent * plan.record_bytes));
      return;
    }
    out.file_bytes_per_record = static_cast<double>(files.value().bytes) / static_cast<double>(sent);
  }

  void collect(const PhasePlan& plan, PhaseBoard& board, PhaseOutcome& out) {
    std::int64_t first_ns = INT64_MAX, last_ns = 0;
    for (int p = 0; p < plan.producers; ++p) {
      out.records += board.producers[p].measured;
      out.unsent += board.producers[p].unsent;
      out.acked->merge(board.producers[p].acked);
      if (board.producers[p].failure.failed && out.error.empty()) out.error = board.producers[p].failure.text;
    }
    for (int c = 0; c < plan.consumers; ++c) {
      const ConsumerSlot& slot = board.consumers[c];
      if (slot.failure.failed && out.error.empty()) out.error = slot.failure.text;
      last_ns = std::max(last_ns, slot.last_ns);
      if (slot.first_ns > 0) first_ns = std::min(first_ns, slot.first_ns);
      out.corrected->merge(slot.corrected);
      out.raw->merge(slot.raw);
      out.deadline.merge(slot.deadline);
    }
    out.interrupted = interrupted_;
    if (interrupted_) out.error = "interrupted";
    if (stalled_ && out.error.empty()) out.error = "no progress for 15 s; abandoned";
    // Relaxed: the participants were joined, which orders their stores before this load.
    if (out.error.empty() && board.abort.load(std::memory_order_relaxed) != 0) out.error = "aborted";
    if (out.error.empty() && out.records == 0)
      out.error = out.unsent > 0 ? "no measured record: the producers fell behind the rate before the warm-up's end (" +
                                       std::to_string(out.unsent) + " scheduled records not sent; lower --rate)"
                                 : "no measured record (is the warm-up longer than the run?)";
    if (plan.kind == PhaseKind::kThroughput && out.error.empty()) {
      // From the start of the poll that got a consumer its first measured
      // record (warm-up records still queued at the end of the warm-up are
      // not counted, so their draining must not be timed either) to the last.
      if (first_ns == INT64_MAX || last_ns <= first_ns) {
        out.error = "the consumers received too few records after the warm-up to time";
      } else {
        out.throughput_rps = static_cast<double>(out.records) * 1e9 / static_cast<double>(last_ns - first_ns);
      }
    }
  }

  const Scenario& scenario_;
  const ProgressFn& progress_;
  int run_;
  bool stalled_ = false;
  Status child_error_;

 public:
  bool interrupted_ = false;
};

// `folder`: the run's data folder (empty when it writes no files).
PhasePlan plan_of(const Scenario& s, std::string_view name, PhaseKind kind, const BenchClock& clock, WaitKind wait,
                  const std::string& folder) {
  PhasePlan plan;
  plan.kind = kind;
  plan.producers = s.producers;
  plan.consumers = s.consumers;
  plan.partitions = s.partitions;
  plan.split = s.split;
  plan.record_bytes = s.record_bytes;
  plan.batch = kind == PhaseKind::kThroughput ? s.batch : 1;
  plan.rate_rps = kind == PhaseKind::kLatency && s.rate_rps ? *s.rate_rps : 0;
  plan.warmup_ns = s.warmup_ns;
  plan.duration_ns = s.duration_ns;
  plan.count = s.count;
  plan.wait = wait;
  plan.clock = clock;
  plan.deadline = kind == PhaseKind::kLatency ? s.deadline : std::nullopt;
  plan.pingpong = kind == PhaseKind::kLatency && s.pingpong;
  plan.verify_checksums = s.verify_checksums;
  plan.exclusive = s.exclusive;
  (void)parse_durability(s.durability, &plan.durability);  // validated
  if (is_memory_reference(name)) plan.durability = Durability::kMemory;
  plan.data_dir = folder;
  plan.ack_latency = is_rill(name) && plan.durability != Durability::kMemory;
  return plan;
}

// Makes the transport `name` for `plan` and runs one phase over it.
PhaseOutcome run_phase(std::string_view name, const PhasePlan& plan, const Scenario& s, const ProgressFn& progress,
                       int run) {
  PhaseOutcome failed;
  auto memory = BoardMemory::make();
  if (!memory.is_ok()) {
    failed.error = memory.status().to_string();
    return failed;
  }
  PhaseBoard& board = *memory.value().board;
  PhaseRunner runner(s, progress, run);
  auto go = [&](auto made) -> PhaseOutcome {
    if (!made.is_ok()) {
      failed.error = made.status().to_string();
      return std::move(failed);
    }
    return runner.run(name, *made.value(), plan, board);
  };
  // A durable topic needs a shared namespace (one with a data folder), also for threads.
  const std::string shared = "bench-" + std::to_string(::getpid());
  if (name == "rill-inproc")
    return go(RillTransport::create(plan, plan.durability != Durability::kMemory ? shared : "", false));
  if (name == "rill-ipc") return go(RillTransport::create(plan, shared, true));
  // The references for persistence on / off: the same shared memory as a
  // durable topic's, without a data folder.
  if (name == "rill-inproc@memory") return go(RillTransport::create(plan, shared, false));
  if (name == "rill-ipc@memory") return go(RillTransport::create(plan, shared, true));
  if (name == "uds") return go(FdTransport::create(plan, FdTransport::Kind::kUnixSocket));
  if (name == "pipe") return go(FdTransport::create(plan, FdTransport::Kind::kPipe));
  if (name == "iceoryx") return go(IceoryxTransport::create(plan));
  if (name == "zmq-ipc" || name == "zmq-inproc") {
    auto made = ZmqTransport::create(plan, name == "zmq-ipc" ? ZmqTransport::Kind::kIpc : ZmqTransport::Kind::kInproc);
    if (made.is_ok()) made.value()->attach(board);
    return go(std::move(made));
  }
  if (name == "boost-spsc") {
    auto made = QueueTransport::create(plan);
    if (made.is_ok()) made.value()->attach(board);
    return go(std::move(made));
  }
  failed.error = "unknown transport";
  return failed;
}

// Pins the calling (main) thread to `core` (-1: leaves it) until destroyed,
// then gives it back the cores it had.
class PinnedHere {
 public:
  explicit PinnedHere(int core)
      : restore_(core >= 0 && ::pthread_getaffinity_np(::pthread_self(), sizeof before_, &before_) == 0) {
    if (core >= 0) (void)pin_to_core(core);
  }
  ~PinnedHere() {
    if (restore_) ::pthread_setaffinity_np(::pthread_self(), sizeof before_, &before_);
  }
  PinnedHere(const PinnedHere&) = delete;
  PinnedHere& operator=(const PinnedHere&) = delete;

 private:
  cpu_set_t before_{};  // declared first: restore_'s initialiser fills it
  bool restore_;
};

// The floor: one cache line each way between two cores, busy-spinning,
// one-way = round trip / 2.
PhaseOutcome run_floor(const PhasePlan& plan, const Scenario& s, const ProgressFn& progress, int run) {
  PhaseOutcome out;
  struct alignas(64) Lines {
    alignas(64) std::atomic<std::uint64_t> ping{0};
    alignas(64) std::atomic<std::uint64_t> pong{0};
  };
  auto lines = std::make_unique<Lines>();
  constexpr std::uint64_t kStop = ~std::uint64_t{0};
  std::thread echo([&lines, core = core_for(s, s.producers)] {
    if (core >= 0) (void)pin_to_core(core);
    for (std::uint64_t seen = 0;;) {
      std::uint64_t v;
      // Pairs with the ping side's release store.
      while ((v = lines->ping.load(std::memory_order_acquire)) == seen) log::cpu_relax();
      if (v == kStop) return;
      seen = v;
      lines->pong.store(v, std::memory_order_release);  // pairs with the ping side's acquire
    }
  });
  const PinnedHere pinned(core_for(s, 0));
  const std::int64_t start = monotonic_ns();
  const std::int64_t measure = start + plan.warmup_ns;
  const std::int64_t end = measure + plan.duration_ns;
  std::int64_t now = start, last_progress = start;
  for (std::uint64_t i = 1;; ++i) {
    const std::uint64_t t0 = plan.clock.now();
    lines->ping.store(i, std::memory_order_release);  // pairs with the echo's acquire
    while (lines->pong.load(std::memory_order_acquire) != i) log::cpu_relax();  // pairs with the echo's release
    const std::uint64_t t1 = plan.clock.now();
    // The time only now and then: a clock read costs about as much as a trip.
    if ((i & 63) == 0) now = monotonic_ns();
    if (now >= measure) {
      const std::int64_t one_way = plan.clock.to_ns(static_cast<std::int64_t>(t1 - t0)) / 2;
      out.corrected->record(one_way);
      out.raw->record(one_way);
      if (plan.deadline) out.deadline.record(one_way, plan.deadline->deadline_ns);
      ++out.records;
    }
    if (plan.count > 0 ? out.records >= plan.count : now >= end) break;
    if ((i & 63) == 0 && progress && now - last_progress >= 200'000'000) {
      last_progress = now;
      if (!progress(Progress{"pingpong-floor", "latency", run, i, static_cast<double>(now - start) / 1e9,
                             out.corrected->value_at(0.99)})) {
        out.interrupted = true;
        out.error = "interrupted";
        break;
      }
    }
  }
  lines->ping.store(kStop, std::memory_order_release);  // pairs with the echo's acquire
  echo.join();
  return out;
}

// One run of one transport: both phases.
struct TransportRun {
  TransportResult result;
  std::unique_ptr<Histogram> corrected = std::make_unique<Histogram>();
  std::unique_ptr<Histogram> raw = std::make_unique<Histogram>();
  std::unique_ptr<Histogram> acked = std::make_unique<Histogram>();
  DeadlineCounts deadline;
  bool interrupted = false;
};

// A disk baseline (transports_disk.h): one phase on a thread of its own,
// pinned where producer 0 would be before it does any I/O, as a producer
// is: a thread's io_uring is made on its first write, and the kernel
// threads that carry out its buffered writes (io-wq) take the thread's cores
// then - 80-byte writes ran 5x slower from this (unpinned) thread's ring.
// raw-fdatasync's writes are its latency figures.
TransportRun run_disk(std::string_view name, const Scenario& s, const BenchClock& clock, WaitKind wait,
                      const std::string& folder, const ProgressFn& progress, int run) {
  TransportRun tr;
  tr.result.transport = std::string(name);
  tr.result.topology = topology_of(s, name);
  const bool sync = name != "raw-write";
  const PhasePlan plan = plan_of(s, name, sync ? PhaseKind::kLatency : PhaseKind::kThroughput, clock, wait, folder);
  const std::string_view phase = sync ? "latency" : "throughput";
  Histogram& latency = *tr.corrected;  // live-readable while the writer records
  settle_file_system(folder);
  DiskOutcome d;
  // Relaxed: progress for the display, and a request to stop; join orders the rest.
  std::atomic<std::uint64_t> done{0};
  std::atomic<bool> stop{false}, finished{false};
  std::thread writer([&, core = core_for(s, 0)] {
    const std::string path = folder + "/" + std::string(name) + "-" + std::to_string(run) + ".log";
    const auto on_progress = [&](std::uint64_t records, double) {
      done.store(records, std::memory_order_relaxed);
      return !stop.load(std::memory_order_relaxed);
    };
    if (name == "raw-group-commit") {
      std::vector<int> cores;
      for (int p = 0; p < s.producers; ++p) cores.push_back(core_for(s, p));
      d = run_group_commit_baseline(plan, s.producers, cores, path, latency, on_progress);
    } else {
      if (core >= 0) (void)pin_to_core(core);
      d = run_disk_baseline(sync ? DiskBaseline::kFdatasync : DiskBaseline::kWrite, plan, path, latency,
                            on_progress);
    }
    finished.store(true, std::memory_order_release);  // pairs with the loop's acquire below
  });
  const std::int64_t start = monotonic_ns();
  std::int64_t last_progress = start;
  while (!finished.load(std::memory_order_acquire)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::int64_t now = monotonic_ns();
    if (!progress || stop.load(std::memory_order_relaxed) || now - last_progress < 200'000'000) continue;
    last_progress = now;
    if (!progress(Progress{name, phase, run, done.load(std::memory_order_relaxed),
                           static_cast<double>(now - start) / 1e9, sync ? latency.value_at(0.99) : 0}))
      stop.store(true, std::memory_order_relaxed);
  }
  writer.join();
  tr.interrupted = d.interrupted;
  if (!d.error.empty()) {
    tr.result.error = std::string(phase) + " phase: " + d.error;
    return tr;
  }
  const double seconds = static_cast<double>(d.elapsed_ns) / 1e9;
  tr.result.records = d.records;
  tr.result.throughput_rps = static_cast<double>(d.records) / seconds;
  tr.result.file_bytes_per_s = static_cast<double>(d.bytes) / seconds;
  tr.result.payload_bytes_per_s = *tr.result.throughput_rps * static_cast<double>(s.record_bytes);
  if (sync) {
    tr.result.latency_records = d.records;
    tr.result.latency = figures_of(latency);
  }
  return tr;
}

TransportRun run_transport(std::string_view name, const Scenario& s, const BenchClock& clock, WaitKind wait,
                           const std::string& folder, const ProgressFn& progress, int run) {
  if (is_disk_baseline(name)) return run_disk(name, s, clock, wait, folder, progress, run);
  TransportRun tr;
  tr.result.transport = std::string(name);
  tr.result.topology = topology_of(s, name);
  const bool durable = is_rill(name) && !is_memory_reference(name) && s.durability != "memory";
  if (durable) settle_file_system(folder);
  if (name != "pingpong-floor") {
    PhaseOutcome t = run_phase(name, plan_of(s, name, PhaseKind::kThroughput, clock, wait, folder), s, progress, run);
    tr.result.records = t.records;
    tr.result.throughput_rps = t.throughput_rps;
    if (t.throughput_rps) {
      tr.result.payload_bytes_per_s = *t.throughput_rps * static_cast<double>(s.record_bytes);
      if (t.file_bytes_per_record) tr.result.file_bytes_per_s = *t.throughput_rps * *t.file_bytes_per_record;
    }
    if (!t.error.empty()) tr.result.error = "throughput phase: " + t.error;
    if (t.interrupted) {
      tr.interrupted = true;
      tr.corrected = std::move(t.corrected);
      tr.raw = std::move(t.raw);
      return tr;
    }
  }
  const PhasePlan plan = plan_of(s, name, PhaseKind::kLatency, clock, wait, folder);
  if (durable) settle_file_system(folder);
  PhaseOutcome l = name == "pingpong-floor" ? run_floor(plan, s, progress, run) : run_phase(name, plan, s, progress, run);
  if (!l.error.empty() && tr.result.error.empty()) tr.result.error = "latency phase: " + l.error;
  tr.result.latency_records = l.records;
  tr.result.unsent = l.unsent;
  if (l.unsent > 0)
    tr.result.notes.push_back("fell behind the rate: " + std::to_string(l.unsent) +
                              " scheduled records were not sent before the end (the transport cannot carry this rate)");
  if (s.rate_rps && tr.result.throughput_rps && *s.rate_rps > 0.5 * *tr.result.throughput_rps)
    tr.result.notes.push_back("the latency phase's rate is more than half of this transport's throughput: its "
                              "latencies include queueing (lower --rate)");
  if (l.corrected->count() > 0) {
    tr.result.latency = figures_of(*l.corrected);
    // Records too small to carry their send time have no raw figures at a fixed rate.
    if (l.raw->count() > 0) tr.result.latency_raw = figures_of(*l.raw);
  }
  if (l.acked->count() > 0) tr.result.latency_ack = figures_of(*l.acked);
  if (s.deadline) tr.result.deadline = judge_deadline(*s.deadline, l.deadline, *l.corrected);
  tr.corrected = std::move(l.corrected);
  tr.raw = std::move(l.raw);
  tr.acked = std::move(l.acked);
  tr.deadline = l.deadline;
  tr.interrupted = l.interrupted;
  return tr;
}

}  // namespace


Result<Report> run_bench(const Scenario& scenario, const ProgressFn& progress) {
  if (Status s = validate_scenario(scenario); !s.is_ok()) return s;
  const bool files = writes_files(scenario);
  const std::string data_parent = scenario.data_dir.empty() ? default_data_parent() : scenario.data_dir;
  if (files) (void)remove_leftovers_of_dead_runs({"/tmp", ipc::kShmDir, data_parent});
  else (void)remove_leftovers_of_dead_runs();
  auto clock = BenchClock::make(scenario.clock);
  if (!clock.is_ok()) return clock.status();
  const WaitKind wait = parse_wait_kind(scenario.wait).value();

  Report report;
  report.scenario = scenario;
  report.scenario.clock = std::string(clock.value().name());
  report.machine = describe_machine();
  if (clock.value().name() == "tsc") report.machine.tsc_ghz = clock.value().ticks_per_ns();
  // Removed on every way out of this function: the end, an error, an interrupt.
  ScratchFolder folder;
  if (files) {
    auto made = ScratchFolder::make(data_parent);
    if (!made.is_ok()) return made.status().with_context(scenario.data_dir.empty() ? "$TMPDIR or /tmp" : "--data-dir");
    folder = std::move(made.value());
    report.scenario.data_dir = data_parent;
    report.machine.data_fs = file_system_type(folder.path());
    report.machine.io_backend = std::string(io::write_backend_name(io::write_backend()));
  }

  const std::vector<std::string> names = transports_to_run(scenario);
  struct Merged {
    std::unique_ptr<Histogram> corrected = std::make_unique<Histogram>();
    std::unique_ptr<Histogram> raw = std::make_unique<Histogram>();
    std::unique_ptr<Histogram> acked = std::make_unique<Histogram>();
    DeadlineCounts deadline;
    std::vector<double> throughputs, file_rates;
    TransportResult result;
  };
  std::vector<Merged> merged(names.size());
  std::vector<std::vector<TransportResult>> runs;
  for (int r = 1; r <= scenario.repeat; ++r) {
    std::vector<TransportResult>& this_run = runs.emplace_back();
    for (std::size_t i = 0; i < names.size(); ++i) {
      TransportRun tr = run_transport(names[i], report.scenario, clock.value(), wait, folder.path(), progress, r);
      if (tr.interrupted) return Status(Code::kInternal, "interrupted");
      Merged& m = merged[i];
      m.corrected->merge(*tr.corrected);
      m.raw->merge(*tr.raw);
      m.acked->merge(*tr.acked);
      m.deadline.merge(tr.deadline);
      if (tr.result.throughput_rps) m.throughputs.push_back(*tr.result.throughput_rps);
      if (tr.result.file_bytes_per_s) m.file_rates.push_back(*tr.result.file_bytes_per_s);
      if (r == 1) m.result = tr.result;
      else {
        m.result.records += tr.result.records;
        m.result.latency_records += tr.result.latency_records;
        if (m.result.error.empty() && !tr.result.error.empty()) m.result.error = "run " + std::to_string(r) + ": " + tr.result.error;
      }
      this_run.push_back(std::move(tr.result));
    }
  }
  for (Merged& m : merged) {
    TransportResult& res = m.result;
    res.throughput_rps = m.throughputs.empty() ? std::nullopt : std::optional<double>(median_of(m.throughputs));
    res.payload_bytes_per_s.reset();
    if (res.throughput_rps) res.payload_bytes_per_s = *res.throughput_rps * static_cast<double>(scenario.record_bytes);
    res.file_bytes_per_s = m.file_rates.empty() ? std::nullopt : std::optional<double>(median_of(m.file_rates));
    res.latency_ack.reset();
    if (m.acked->count() > 0) res.latency_ack = figures_of(*m.acked);
    if (m.corrected->count() > 0) {
      res.latency = figures_of(*m.corrected);
      if (m.raw->count() > 0) res.latency_raw = figures_of(*m.raw);
      res.distribution = m.corrected->cumulative();
    }
    if (scenario.deadline) res.deadline = judge_deadline(*scenario.deadline, m.deadline, *m.corrected);
    report.results.push_back(std::move(res));
  }
  report.ratios = compute_ratios(runs);
  return report;
}

}  // namespace rill::bench
