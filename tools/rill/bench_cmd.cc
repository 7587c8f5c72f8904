// rill bench: the latency benchmarking suite (bench/suite). Runs a scenario
// over rill and, with --compare, over the usual alternatives in the same
// process run; prints a table, and optionally writes JSON and an SVG plot.
//   rill bench diff A.json B.json   change per percentile between two runs
//   rill bench plot A.json -o F.svg the plot of a saved run
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/suite/report.h"
#include "bench/suite/runner.h"
#include "tools/rill/bench_args.h"
#include "tools/rill/command.h"
#include "tools/rill/diagnostics.h"
#include "tools/rill/signals.h"
#include "tools/rill/sizes.h"

namespace rill::cli {
namespace {

using bench::Scenario;

// The command line as typed; parsed into a Scenario when the command runs,
// so that every bad value gets one clear message.
struct BenchOptions {
  std::vector<std::string> transports{"rill-inproc", "rill-ipc"};
  bool compare = false;
  int producers = 1, consumers = 1, partitions = 1;
  bool split = false;
  std::string size = "64";
  std::size_t batch = 1;
  std::string rate = "100k";
  bool rate_given = false;
  bool pingpong = false;
  bool verify_checksums = false;
  bool exclusive = false;
  std::string duration = "5s";
  std::string count;
  std::string warmup = "1s";
  std::string wait = "block";
  std::string cpus = "auto";
  std::string clock = "auto";
  std::string durability = "memory";
  std::string data_dir;
  std::string acks = "none";
  std::string deadline;
  std::string rt_class;
  double max_miss_rate = 0.001;
  bool max_miss_rate_given = false;
  int repeat = 1;
  std::string json, plot;
  bool quiet = false;
};

Result<Scenario> scenario_of(const BenchOptions& o) {
  Scenario s;
  s.transports = o.transports;
  s.compare = o.compare;
  s.producers = o.producers;
  s.consumers = o.consumers;
  s.partitions = o.partitions;
  s.split = o.split;
  auto size = parse_size(o.size);
  if (!size) return size.status().with_context("--size");
  s.record_bytes = static_cast<std::size_t>(*size);
  s.batch = o.batch;
  auto rate = parse_rate(o.rate);
  if (!rate) return rate.status().with_context("--rate");
  s.rate_rps = *rate;
  s.pingpong = o.pingpong;
  s.verify_checksums = o.verify_checksums;
  s.exclusive = o.exclusive;
  if (o.pingpong && !o.rate_given) s.rate_rps.reset();  // a ping-pong is one in flight
  auto duration = parse_duration(o.duration);
  if (!duration) return duration.status().with_context("--duration");
  s.duration_ns = *duration;
  if (!o.count.empty()) {
    auto count = parse_count(o.count);
    if (!count || *count == 0) return Status(Code::kInvalidArgument, "--count: '" + o.count + "' is not a positive count");
    s.count = *count;
  }
  auto warmup = parse_duration(o.warmup);
  if (!warmup) return warmup.status().with_context("--warmup");
  s.warmup_ns = *warmup;
  s.wait = o.wait;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  if (o.cpus == "auto") {
    // One core each when there are enough; otherwise let the scheduler place them.
    if (o.producers + o.consumers <= cores)
      for (int c = 0; c < o.producers + o.consumers; ++c) s.cpus.push_back(c);
  } else if (o.cpus != "none") {
    auto cpus = parse_cpus(o.cpus);
    if (!cpus) return cpus.status().with_context("--cpus");
    s.cpus = *cpus;
  }
  s.clock = o.clock;
  s.durability = o.durability;
  s.data_dir = o.data_dir;
  s.acks = o.acks;
  if (!o.deadline.empty()) {
    auto d = parse_duration(o.deadline);
    if (!d) return d.status().with_context("--deadline");
    bench::DeadlineSpec spec{.deadline_ns = *d, .rt_class = bench::RtClass::kSoft, .max_miss_rate = o.max_miss_rate};
    if (!o.rt_class.empty()) {
      auto c = bench::parse_rt_class(o.rt_class);
      if (!c) return c.status().with_context("--class");
      spec.rt_class = *c;
    }
    s.deadline = spec;
  } else if (!o.rt_class.empty()) {
    return Status(Code::kInvalidArgument, "--class needs --deadline (e.g. --deadline 50us --class hard)");
  } else if (o.max_miss_rate_given) {
    return Status(Code::kInvalidArgument, "--max-miss-rate needs --deadline (e.g. --deadline 50us --class soft)");
  }
  s.repeat = o.repeat;
  if (Status v = bench::validate_scenario(s); !v) return v;
  return s;
}

// Writes `text` to a temporary file next to `path`, then renames it over
// `path`: a reader never sees half a file, and a failure leaves `path` as it was.
Status write_file(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return Status(Code::kIoError, "cannot open '" + temp + "' for writing: " + std::strerror(errno));
    out << text;
    out.close();
    if (!out) {
      std::remove(temp.c_str());
      return Status(Code::kIoError, "cannot write '" + temp + "'");
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(temp.c_str());
    return Status(Code::kIoError, "cannot rename '" + temp + "' to '" + path + "': " + std::strerror(err));
  }
  return Status::ok();
}

// Before a run that may take minutes: can `path` be written at all?
Status check_writable(const std::string& path, const char* flag) {
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return Status(Code::kIoError, std::string(flag) + ": cannot write in '" + dir + "': " + std::strerror(errno));
  if (::access(path.c_str(), F_OK) == 0 && ::access(path.c_str(), W_OK) != 0)
    return Status(Code::kIoError, std::string(flag) + ": cannot overwrite '" + path + "': " + std::strerror(errno));
  return Status::ok();
}

// A saved run is a few hundred KiB; anything past this is not one.
constexpr std::int64_t kMaxReportBytes = 64ll << 20;

Result<bench::Report> read_report(const std::string& path) {
  // Non-blocking and checked before reading: a FIFO or a device (/dev/zero)
  // named as a report must not hang the command or fill its memory.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Status(Code::kNotFound, "cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  std::string text;
  Status bad;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    bad = Status(Code::kInvalidArgument, "'" + path + "' is not a regular file (a report written by rill bench --json)");
  else if (st.st_size > kMaxReportBytes)
    bad = Status(Code::kInvalidArgument, "'" + path + "' is " + std::to_string(st.st_size) +
                                             " bytes, larger than any report rill bench --json writes (at most " +
                                             std::to_string(kMaxReportBytes >> 20) + " MiB read)");
  else {
    text.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    text.resize(got);  // a file that shrank meanwhile: parse what is there
  }
  ::close(fd);
  if (!bad) return bad;
  auto report = bench::report_from_json(text);
  if (!report) return report.status().with_context(path);
  return report;
}

int run_bench_command(const BenchOptions& o, const GlobalOptions& global) {
  auto scenario = scenario_of(o);
  if (!scenario) {
    // Every flag value is checked before anything runs: a bad one is a usage error.
    report_error(scenario.status());
    return kExitUsage;
  }
  if (!o.json.empty())
    if (Status s = check_writable(o.json, "--json"); !s) return report_error(s);
  if (!o.plot.empty())
    if (Status s = check_writable(o.plot, "--plot"); !s) return report_error(s);
  if (!o.cpus.empty() && o.cpus == "auto" && scenario->cpus.empty())
    report_warning("more producers and consumers than cores: not pinned (see --cpus)");
  install_stop_handlers();
  const bool live = !o.quiet && ::isatty(STDOUT_FILENO);
  bool printed = false;
  auto progress = [&](const bench::Progress& p) {
    if (live) {
      std::printf("\r\033[K[run %d/%d] %-15s %-10s %9.2f M sent  %5.1f s", p.run, scenario->repeat,
                  std::string(p.transport).c_str(), std::string(p.phase).c_str(), static_cast<double>(p.records) / 1e6,
                  p.elapsed_s);
      if (p.p99_ns > 0) std::printf("  p99 %s", bench::format_ns(p.p99_ns).c_str());
      std::fflush(stdout);
      printed = true;
    }
    return !stop_requested();
  };
  auto report = bench::run_bench(*scenario, progress);
  if (printed) std::printf("\r\033[K");
  std::fflush(stdout);
  if (!report && stop_requested()) {
    report_error("interrupted; the benchmark's processes and shared memory were removed");
    return kExitInterrupted;
  }
  if (!report) return report_error(report.status());

  std::fputs(bench::format_table(*report).c_str(), stdout);
  std::fflush(stdout);
  if (!o.json.empty()) {
    if (Status s = write_file(o.json, bench::to_json(*report)); !s) return report_error(s.with_context("--json"));
    if (global.verbose) std::fprintf(stderr, "rill: wrote %s\n", printable(o.json).c_str());
  }
  if (!o.plot.empty()) {
    if (Status s = write_file(o.plot, bench::plot_svg(*report)); !s) return report_error(s.with_context("--plot"));
    if (global.verbose) std::fprintf(stderr, "rill: wrote %s\n", printable(o.plot).c_str());
  }
  for (const bench::TransportResult& r : report->results)
    if (!r.error.empty()) return report_error(r.transport + ": " + r.error);
  for (const bench::TransportResult& r : report->results)
    if (r.deadline && !r.deadline->met && bench::is_rill(r.transport)) return kExitDeadlineMissed;
  return kExitOk;
}

}  // namespace

void add_bench_command(CLI::App& root, const GlobalOptions& global, CommandTable& table) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* b = root.add_subcommand(
      "bench",
      "Latency benchmark: one-way latency percentiles and throughput of rill for a scenario, and with --compare\n"
      "of the usual alternatives in the same run (Boost.Lockfree spsc_queue and ZeroMQ inproc in-process;\n"
      "iceoryx, ZeroMQ ipc, a Unix socket and a pipe across processes; a cache line ping-pong, the floor). Each transport runs a throughput phase (as fast as\n"
      "it goes) and then a latency phase (at --rate, measured from each record's intended send time, so that a\n"
      "stall shows in the tail; raw figures too). With --durability written or fsync rill's topics are durable, in a\n"
      "temporary data folder, and --compare adds rill's transports in memory (rill-inproc@memory: persistence off)\n"
      "and the disk baselines raw-write and raw-fdatasync (and raw-group-commit with -P > 1 at fsync).\n"
      "Subcommands: diff, plot.");
  b->fallthrough();
  b->require_subcommand(0, 1);
  b->add_option("--transport", o->transports,
                "Transports to run, comma-separated: rill-inproc, rill-ipc, boost-spsc, uds, pipe, iceoryx, zmq-ipc, "
                "zmq-inproc, pingpong-floor, raw-write, raw-fdatasync, raw-group-commit, rill-inproc@memory, rill-ipc@memory (rill on a "
                "topic kept in memory, sends acknowledged in memory, whatever --durability says)")
      ->delimiter(',')
      ->capture_default_str();
  b->add_flag("--compare", o->compare,
              "Also run the baselines that match the rill transports (boost-spsc and zmq-inproc; iceoryx, "
              "zmq-ipc, uds and pipe) and pingpong-floor; with --durability written or fsync also rill's transports "
              "in memory (rill-inproc@memory, rill-ipc@memory), raw-write and raw-fdatasync, and with -P > 1 at "
              "--durability fsync raw-group-commit (-P threads sharing fdatasyncs by hand)");
  b->add_option("-P,--producers", o->producers, "Producers (threads or processes)")->capture_default_str();
  b->add_option("-C,--consumers", o->consumers, "Consumers; each reads every partition unless --split")->capture_default_str();
  b->add_option("--partitions", o->partitions, "Partitions of rill's topic; producers send to them in turn")->capture_default_str();
  b->add_flag("--split", o->split, "Consumers split the partitions (a consumer group) instead of each reading all");
  b->add_option("-s,--size", o->size, "Value bytes per record, 8 B .. 1 MiB (e.g. 8, 64, 1KiB; under 32 B a compact stamp, bench/README.md)")->capture_default_str();
  b->add_option("--batch", o->batch, "Records per send in the throughput phase (rill send_batch; one push/write)")
      ->capture_default_str();
  b->add_option("--rate", o->rate,
                "Latency phase rate, all producers together (records/s, e.g. 100k), or max: one record in flight per "
                "producer")
      ->capture_default_str()
      ->each([o](const std::string&) { o->rate_given = true; });
  b->add_flag("--pingpong", o->pingpong,
              "Latency phase as a ping-pong: each record goes out on one topic (channel) and is echoed back on a "
              "second; latency = round trip / 2 (1x1, one partition)");
  b->add_flag("--verify-checksums", o->verify_checksums,
              "rill's consumers verify every record's checksum (ConsumerOptions::verify_checksums); baselines "
              "have none to verify");
  b->add_flag("--exclusive", o->exclusive,
              "rill's producer takes each partition's exclusive lease and claims without a compare-and-swap "
              "(ProducerOptions::exclusive; one producer)");
  b->add_option("-d,--duration", o->duration, "Length of each phase after warm-up (e.g. 5s, 500ms)")->capture_default_str();
  b->add_option("-n,--count", o->count, "Records per phase instead of --duration (e.g. 1M)");
  b->add_option("--warmup", o->warmup, "Warm-up before each phase, not counted (e.g. 1s, 0s)")->capture_default_str();
  b->add_option("--wait", o->wait, "How consumers wait: spin (a core each), yield, or block (futex; poll(2) for uds/pipe)")
      ->capture_default_str();
  b->add_option("--cpus", o->cpus,
                "Cores for producers then consumers, round robin (e.g. 0,1 or 0-3); auto: one core each when there are "
                "enough; none")
      ->capture_default_str();
  b->add_option("--clock", o->clock, "Timestamp clock: tsc (invariant TSC, calibrated), monotonic, or auto")
      ->capture_default_str();
  b->add_option("--durability", o->durability,
                "When rill's sends return: memory (committed in the ring), written (in the topic's files: pwrite or "
                "io_uring) or fsync (fdatasync'd). written and fsync make rill's topics durable, in a temporary data "
                "folder removed at the end; other transports than rill's and the disk baselines refuse them")
      ->capture_default_str();
  // rill bench's own --data-dir: it shadows the global one (the folder of a
  // durable namespace of the user's), which a benchmark never writes in.
  b->add_option("--data-dir", o->data_dir,
                "Where the run's temporary data folder goes (durable topics, raw-write, raw-fdatasync, raw-group-commit): a folder on "
                "the disk to measure (default: $TMPDIR, else /tmp; the report names its file system - on tmpfs an "
                "fdatasync costs nothing)")
      ->type_name("DIR");
  b->add_option("--acks", o->acks, "none (replication does not exist yet)")->capture_default_str();
  b->add_option("--deadline", o->deadline,
                "Latency deadline per record (e.g. 50us): report misses and a verdict; the exit status is 3 when a "
                "rill transport misses it");
  b->add_option("--class", o->rt_class,
                "Real-time class judged against --deadline: hard (no miss), soft (miss rate <= --max-miss-rate, the "
                "default), near (p99.9 within the deadline)");
  b->add_option("--max-miss-rate", o->max_miss_rate, "Misses allowed for --class soft, as a fraction")
      ->capture_default_str()
      ->each([o](const std::string&) { o->max_miss_rate_given = true; });
  b->add_option("--repeat", o->repeat, "Runs of every transport, interleaved; ratios are medians over runs")
      ->capture_default_str();
  b->add_option("--json", o->json, "Write every figure, the scenario and the machine as JSON (doc/bench_json.md)");
  b->add_option("--plot", o->plot, "Write a percentile-distribution plot (SVG)");
  b->add_flag("-q,--quiet", o->quiet, "No live progress line");
  table.add(b, [o, &global] { return run_bench_command(*o, global); });

  auto files = std::make_shared<std::vector<std::string>>();
  CLI::App* d = b->add_subcommand("diff", "Change per percentile and in throughput from run A to run B (JSON files)");
  d->add_option("A", (*files), "Two files written by rill bench --json")->expected(2)->required();
  table.add(d, [files] {
    auto a = read_report((*files)[0]);
    if (!a) return report_error(a.status());
    auto b2 = read_report((*files)[1]);
    if (!b2) return report_error(b2.status());
    std::fputs(bench::format_diff(*a, *b2).c_str(), stdout);
    return kExitOk;
  });

  auto plot_in = std::make_shared<std::string>();
  auto plot_out = std::make_shared<std::string>();
  CLI::App* p = b->add_subcommand("plot", "Draw the percentile-distribution plot (SVG) of a saved run");
  p->add_option("FILE", *plot_in, "A file written by rill bench --json")->required();
  p->add_option("-o,--output", *plot_out, "The SVG to write")->required();
  table.add(p, [plot_in, plot_out] {
    auto r = read_report(*plot_in);
    if (!r) return report_error(r.status());
    if (Status s = write_file(*plot_out, bench::plot_svg(*r)); !s) return report_error(s);
    return kExitOk;
  });
}

}  // namespace rill::cli
