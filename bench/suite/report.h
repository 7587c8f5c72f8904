// What a `rill bench` run found, and the ways to show it: a terminal table,
// JSON (doc/bench_json.md), a diff of two JSON files, and an SVG
// percentile-distribution plot.
//
// Everything here is plain data and pure functions of it; nothing measures.
// Thread safety: none needed (used by the CLI's main thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/suite/histogram.h"
#include "rill/status.h"

namespace rill::bench {

// Real-time classes (doc/design.md, "Real-time classes").
enum class RtClass : std::uint8_t {
  kHard,  // met when no record misses the deadline
  kSoft,  // met when the miss rate is at most max_miss_rate
  kNear,  // met when p99.9 latency (staleness) is within the deadline
};
std::string_view rt_class_name(RtClass c) noexcept;  // "hard", "soft", "near"
Result<RtClass> parse_rt_class(std::string_view text);

struct DeadlineSpec {
  std::int64_t deadline_ns = 0;
  RtClass rt_class = RtClass::kSoft;
  double max_miss_rate = 0.001;  // kSoft only
};

// Per-consumer miss bookkeeping, kept while records arrive (no allocation;
// trivially copyable so that a forked consumer can keep it in shared memory).
struct DeadlineCounts {
  std::uint64_t samples = 0;
  std::uint64_t misses = 0;
  std::uint64_t streak = 0;          // misses in a row, ending at the last sample (merge: the larger)
  std::uint64_t longest_streak = 0;  // the longest such run so far

  void record(std::int64_t latency_ns, std::int64_t deadline_ns) noexcept {
    ++samples;
    if (latency_ns > deadline_ns) {
      ++misses;
      if (++streak > longest_streak) longest_streak = streak;
    } else {
      streak = 0;
    }
  }
  // Adds another consumer's counts: misses add up, the longest streak is the
  // longest of either (streaks of different consumers do not join).
  void merge(const DeadlineCounts& other) noexcept;
};

struct DeadlineResult {
  DeadlineSpec spec;
  std::uint64_t samples = 0;
  std::uint64_t misses = 0;
  double miss_rate = 0;  // misses / samples; 0 without samples
  std::uint64_t longest_streak = 0;
  std::int64_t p999_ns = 0;  // the corrected p99.9, which kNear is judged on
  bool met = false;
};
// The verdict for `counts` and the corrected-latency histogram `h` they
// came from. With no samples the verdict is "not met" (nothing was shown).
DeadlineResult judge_deadline(const DeadlineSpec& spec, const DeadlineCounts& counts, const Histogram& h);

// True for rill's own transports ("rill-inproc", "rill-ipc", and their
// in-memory references "rill-inproc@memory", "rill-ipc@memory").
bool is_rill(std::string_view transport);
// True for "rill-inproc@memory" and "rill-ipc@memory": rill's transport on a
// topic kept in memory only, sends acknowledged in memory, whatever the
// scenario's durability - the reference a durable run's figures are divided
// by (persistence on / off). A denominator of ratios, not a numerator.
bool is_memory_reference(std::string_view transport);
// The rill transport a memory reference stands for ("rill-inproc" for
// "rill-inproc@memory"); `transport` itself otherwise.
std::string_view without_reference(std::string_view transport);
// True for the disk baselines ("raw-write", "raw-fdatasync"): files written
// through rill's io layer, against which durable rill runs are compared.
bool is_disk_baseline(std::string_view transport);
// The median (the mean of the middle two for an even count); 0 when empty.
double median_of(std::vector<double> values);
// "850 ns", "3.81 µs", "1.20 ms", "2.00 s": three significant digits.
std::string format_ns(std::int64_t ns, bool trim_zeros = false);

// Percentiles of one histogram, in nanoseconds.
struct LatencyFigures {
  std::uint64_t count = 0;
  std::int64_t min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0;
  double mean = 0, stddev = 0;
};
LatencyFigures figures_of(const Histogram& h);

// The scenario as given on the command line (after defaults), echoed in
// the report so that two runs can be compared.
struct Scenario {
  std::vector<std::string> transports = {"rill-inproc", "rill-ipc"};  // rill's own, run first
  bool compare = false;              // also run the baselines that match them
  int producers = 1;
  int consumers = 1;
  int partitions = 1;
  bool split = false;                // consumers split the partitions (a group); default: each reads all
  std::size_t record_bytes = 64;     // value bytes per record (baselines move exactly these bytes)
  std::size_t batch = 1;             // records per send call in the throughput phase
  std::optional<double> rate_rps;    // latency phase rate, all producers together; empty: one in flight
  std::int64_t duration_ns = 5'000'000'000;  // per phase, after warm-up (ignored when count > 0)
  std::uint64_t count = 0;           // records per phase, all producers together (0: use duration)
  std::int64_t warmup_ns = 1'000'000'000;
  std::string wait = "block";        // spin | yield | block: how consumers wait
  std::vector<int> cpus;             // producers then consumers, round robin; empty: no pinning
  std::string clock = "tsc";         // tsc (calibrated against CLOCK_MONOTONIC) | monotonic
  // memory | written | fsync: when rill's sends return (ProducerOptions::durability).
  // written and fsync make rill's topics durable, in a temporary data folder.
  std::string durability = "memory";
  std::string acks = "none";
  std::optional<DeadlineSpec> deadline;
  int repeat = 1;                    // whole runs, interleaved; ratios are medians over them
  bool pingpong = false;             // latency phase: ping-pong over two topics (or channels), round trip / 2
  bool verify_checksums = false;     // rill's consumers verify each record's checksum (baselines have none)
  bool exclusive = false;            // rill's producers hold exclusive leases (ProducerOptions::exclusive)
  // Where the run's temporary data folder goes (durable topics, the disk
  // baselines): as given, or after the run the folder used ($TMPDIR, else
  // /tmp); empty when the run writes no files.
  std::string data_dir;
};

struct Machine {
  std::string cpu_model;
  int cores = 0;
  std::string kernel;  // uname -sr
  std::string hostname;
  double tsc_ghz = 0;  // measured ticks per ns; 0 with clock=monotonic
  // Runs that write files: the file system the data folder is on ("ext4",
  // "xfs", "tmpfs", ...: on tmpfs an fdatasync costs nothing) and how rill's
  // io layer writes ("io_uring", "pwrite"). Empty when no file was written.
  std::string data_fs;
  std::string io_backend;
};
// The machine this process runs on.
Machine describe_machine();

// One transport's figures. A phase that was not run (or that does not
// apply, e.g. throughput of the ping-pong floor) is empty.
struct TransportResult {
  std::string transport;  // "rill-inproc" | "rill-ipc" | "boost-spsc" | "uds" | "pipe" | "iceoryx" | "zmq-ipc" | "zmq-inproc" | "pingpong-floor" | "raw-write" | "raw-fdatasync"
  std::string topology;   // as run: "1x1, 1 partition", "2x3, 4 partitions, split", "1x2, 2 channels", "1x1 ping-pong"
  std::uint64_t records = 0;  // throughput phase: records produced and checked
  std::optional<double> throughput_rps;
  std::uint64_t latency_records = 0;           // latency phase: records produced and checked
  std::optional<LatencyFigures> latency;       // from each record's intended send time
  std::optional<LatencyFigures> latency_raw;   // from its actual send time
  // Durable rill runs: from each record's intended send time to the return
  // of its send, acknowledged at the scenario's durability (written to or
  // synced in the files); empty elsewhere.
  std::optional<LatencyFigures> latency_ack;
  // Throughput phase: bytes written to files per second - a durable rill
  // topic's segment files (frames and file headers), or what a disk
  // baseline wrote; empty for transports that write no file. And value
  // bytes per second (throughput_rps x record_bytes), for every throughput.
  std::optional<double> file_bytes_per_s;
  std::optional<double> payload_bytes_per_s;
  std::vector<Histogram::Point> distribution;  // of `latency`, for plots
  std::optional<DeadlineResult> deadline;
  // Latency phase, by duration: records the schedule put before the end that
  // the producers had not sent when it came (the rate was more than the
  // transport carries).
  std::uint64_t unsent = 0;
  std::vector<std::string> notes;  // caveats a reader of the figures must know
  std::string error;  // empty when every record arrived exactly once, in order; else what went wrong
};

// rill's figure over a baseline's, median [min–max] over the runs.
struct Ratio {
  std::string numerator;    // a rill transport
  std::string denominator;  // a baseline
  // "throughput", "bytes/s" (rill / baseline: higher is better) | "p50", "p99", "p99.9", "ack p50", "ack p99",
  // "ack p99.9" (lower is better)
  std::string metric;
  double median = 0, min = 0, max = 0;
  int runs = 0;
};

struct Report {
  Scenario scenario;
  Machine machine;
  std::vector<TransportResult> results;  // one per transport, runs merged (see runner.h)
  std::vector<Ratio> ratios;
};

// Per-run ratios → medians. `runs[k]` is run k's results; a ratio is taken
// within one run only, for a rill-* numerator and a non-rill denominator
// both present with the metric in that run, like with like: boost-spsc and
// zmq-inproc are compared with rill-inproc, uds, pipe, iceoryx and zmq-ipc
// with rill-ipc, when the run has that counterpart (else with every rill transport); pingpong-floor,
// the disk baselines and other names with every rill transport. Metrics:
// throughput and bytes/s (file bytes) wherever both have them; against a
// disk baseline, rill's ack latency ("ack p50", ...) over the baseline's
// latency (one write + fdatasync), elsewhere latency over latency ("p50", ...).
std::vector<Ratio> compute_ratios(const std::vector<std::vector<TransportResult>>& runs);

// The terminal table: one row per transport (records/s, min, p50 … max,
// count, and the deadline verdict when one was asked), then the ratios.
std::string format_table(const Report& report);

// JSON, stable shape (doc/bench_json.md):
// {"scenario": {...}, "machine": {...}, "results": [...], "ratios": [...]}.
std::string to_json(const Report& report);
// Parses what to_json wrote (unknown keys ignored). A file that is not
// JSON, or lacks scenario/machine/results, is kInvalidArgument naming the
// first thing wrong.
Result<Report> report_from_json(std::string_view json);

// `rill bench diff A B`: per transport present in both, throughput and each
// percentile of A and B with the change in percent; transports in one only
// are listed as such.
std::string format_diff(const Report& a, const Report& b);

// A self-contained SVG (no scripts, no external fonts): latency (log axis)
// against percentile on a "nines" axis (0, 90, 99, 99.9, ... %), one line
// per transport that has a distribution, with a legend and the scenario in
// the title.
std::string plot_svg(const Report& report);

}  // namespace rill::bench
