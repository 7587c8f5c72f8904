#include "bench/suite/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <concepts>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <thread>
#include <tuple>
#include <utility>

namespace rill::bench {

// ---------------------------------------------------------------------------
// Real-time classes and deadlines

std::string_view rt_class_name(RtClass c) noexcept {
  switch (c) {
    case RtClass::kHard:
      return "hard";
    case RtClass::kSoft:
      return "soft";
    case RtClass::kNear:
      return "near";
  }
  return "unknown";
}

Result<RtClass> parse_rt_class(std::string_view text) {
  for (RtClass c : {RtClass::kHard, RtClass::kSoft, RtClass::kNear}) {
    if (text == rt_class_name(c)) return c;
  }
  return Status(Code::kInvalidArgument,
                "unknown real-time class '" + std::string(text) + "' (expected hard, soft or near)");
}

void DeadlineCounts::merge(const DeadlineCounts& other) noexcept {
  samples += other.samples;
  misses += other.misses;
  // Streaks of different consumers do not join: the merged "current" streak
  // is the longer of the two, never their sum.
  streak = std::max(streak, other.streak);
  longest_streak = std::max(longest_streak, other.longest_streak);
}

DeadlineResult judge_deadline(const DeadlineSpec& spec, const DeadlineCounts& counts, const Histogram& h) {
  DeadlineResult r;
  r.spec = spec;
  r.samples = counts.samples;
  r.misses = counts.misses;
  r.miss_rate = counts.samples ? static_cast<double>(counts.misses) / static_cast<double>(counts.samples) : 0.0;
  r.longest_streak = counts.longest_streak;
  r.p999_ns = h.value_at(0.999);
  if (counts.samples == 0) return r;  // nothing was shown: not met
  switch (spec.rt_class) {
    case RtClass::kHard:
      r.met = counts.misses == 0;
      break;
    case RtClass::kSoft:
      r.met = r.miss_rate <= spec.max_miss_rate;
      break;
    case RtClass::kNear:
      r.met = h.count() != 0 && r.p999_ns <= spec.deadline_ns;
      break;
  }
  return r;
}

LatencyFigures figures_of(const Histogram& h) {
  LatencyFigures f;
  f.count = h.count();
  f.min = h.min();
  f.p50 = h.value_at(0.5);
  f.p90 = h.value_at(0.9);
  f.p99 = h.value_at(0.99);
  f.p999 = h.value_at(0.999);
  f.p9999 = h.value_at(0.9999);
  f.max = h.max();
  f.mean = h.mean();
  f.stddev = h.stddev();
  return f;
}

// ---------------------------------------------------------------------------
// Machine

namespace {

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

// The first "key : value" line of /proc/cpuinfo whose key is one of `keys`
// (x86 says "model name"; some ARM kernels only "Hardware" or "Processor").
std::string cpuinfo_value(std::initializer_list<std::string_view> keys) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(std::string_view(line).substr(0, colon));
    for (std::string_view k : keys) {
      if (key == k) return trim(std::string_view(line).substr(colon + 1));
    }
  }
  return {};
}

}  // namespace

Machine describe_machine() {
  Machine m;
  m.cpu_model = cpuinfo_value({"model name"});
  if (m.cpu_model.empty()) m.cpu_model = cpuinfo_value({"Hardware", "Processor", "cpu model"});
  if (m.cpu_model.empty()) m.cpu_model = "unknown";
  m.cores = static_cast<int>(std::thread::hardware_concurrency());
  if (m.cores == 0) m.cores = static_cast<int>(std::max(0L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  struct utsname u {};
  if (::uname(&u) == 0) {
    m.kernel = std::string(u.sysname) + " " + u.release;
    m.hostname = u.nodename;
  }
  return m;
}

// ---------------------------------------------------------------------------
// Ratios

bool is_rill(std::string_view transport) { return transport.starts_with("rill-"); }

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

namespace {

// The rill transport a baseline stands in for: boost-spsc for threads of one
// process (and zmq-inproc), uds, pipe, iceoryx and zmq-ipc for processes; the floor (and anything else) for both.
std::string_view counterpart(std::string_view baseline) {
  if (baseline == "boost-spsc" || baseline == "zmq-inproc") return "rill-inproc";
  if (baseline == "uds" || baseline == "pipe" || baseline == "iceoryx" || baseline == "zmq-ipc") return "rill-ipc";
  return {};
}

// A baseline is compared with its counterpart when the run has it, else
// with every rill transport of the run.
bool compared(const std::vector<TransportResult>& run, std::string_view rill, std::string_view baseline) {
  const std::string_view mate = counterpart(baseline);
  if (mate.empty() || mate == rill) return true;
  return std::none_of(run.begin(), run.end(), [&](const TransportResult& r) { return r.transport == mate; });
}

}  // namespace

std::vector<Ratio> compute_ratios(const std::vector<std::vector<TransportResult>>& runs) {
  static constexpr std::array<std::string_view, 4> kMetrics = {"throughput", "p50", "p99", "p99.9"};
  std::vector<std::string> numerators, denominators;  // first-seen order
  std::map<std::tuple<std::string, std::string, std::size_t>, std::vector<double>> per_run;
  auto note = [](std::vector<std::string>& seen, const std::string& name) {
    if (std::find(seen.begin(), seen.end(), name) == seen.end()) seen.push_back(name);
  };
  for (const auto& run : runs) {
    for (const TransportResult& r : run) note(is_rill(r.transport) ? numerators : denominators, r.transport);
    for (const TransportResult& num : run) {
      if (!is_rill(num.transport) || !num.error.empty()) continue;
      for (const TransportResult& den : run) {
        if (is_rill(den.transport) || !den.error.empty() || !compared(run, num.transport, den.transport)) continue;
        auto add = [&](std::size_t metric, double n, double d) {
          const double ratio = n / d;
          if (d > 0 && std::isfinite(ratio)) per_run[{num.transport, den.transport, metric}].push_back(ratio);
        };
        if (num.throughput_rps && den.throughput_rps) add(0, *num.throughput_rps, *den.throughput_rps);
        if (num.latency && den.latency) {
          add(1, static_cast<double>(num.latency->p50), static_cast<double>(den.latency->p50));
          add(2, static_cast<double>(num.latency->p99), static_cast<double>(den.latency->p99));
          add(3, static_cast<double>(num.latency->p999), static_cast<double>(den.latency->p999));
        }
      }
    }
  }
  std::vector<Ratio> ratios;
  for (const std::string& num : numerators) {
    for (const std::string& den : denominators) {
      for (std::size_t metric = 0; metric < kMetrics.size(); ++metric) {
        const auto it = per_run.find({num, den, metric});
        if (it == per_run.end()) continue;
        const std::vector<double>& v = it->second;
        Ratio r;
        r.numerator = num;
        r.denominator = den;
        r.metric = std::string(kMetrics[metric]);
        r.median = median_of(v);
        r.min = *std::min_element(v.begin(), v.end());
        r.max = *std::max_element(v.begin(), v.end());
        r.runs = static_cast<int>(v.size());
        ratios.push_back(std::move(r));
      }
    }
  }
  return ratios;
}

// ---------------------------------------------------------------------------
// Humane text, shared by the table, the diff and the plot

namespace {

// x >= 0 with three significant digits ("1.23", "12.3", "123"); "1000" when
// it rounds up to that (the caller then moves to the next unit). `trim` drops
// trailing zeros ("2", "2.5"), for axis labels.
std::string three_digits(double x, bool trim_zeros) {
  const int decimals = x < 9.995 ? 2 : x < 99.95 ? 1 : 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  std::string s = buf;
  if (trim_zeros && s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

struct Unit {
  double scale;
  std::string_view name;
};
constexpr std::array<Unit, 4> kTimeUnits = {{{1, "ns"}, {1e3, "µs"}, {1e6, "ms"}, {1e9, "s"}}};
constexpr std::array<Unit, 4> kRateUnits = {{{1, "/s"}, {1e3, "k/s"}, {1e6, "M/s"}, {1e9, "G/s"}}};

// x in the largest of `units` (ascending; the first of scale 1) that keeps
// it at or above 1, with three significant digits: "8.62 M/s".
std::string in_units(double x, std::span<const Unit> units, bool trim_zeros = false) {
  if (!std::isfinite(x)) return "-";
  const double a = std::fabs(x);
  std::size_t u = 0;
  while (u + 1 < units.size() && a >= units[u + 1].scale) ++u;
  std::string digits = three_digits(a / units[u].scale, trim_zeros);
  if (digits == "1000" && u + 1 < units.size()) digits = three_digits(a / units[++u].scale, trim_zeros);
  return (x < 0 ? "-" : "") + digits + " " + std::string(units[u].name);
}

}  // namespace

// "87 ns", "1.23 µs", "12.3 ms", "60.0 s".
std::string format_ns(std::int64_t ns, bool trim_zeros) {
  if (ns > -1000 && ns < 1000) return std::to_string(ns) + " ns";
  return in_units(static_cast<double>(ns), kTimeUnits, trim_zeros);
}

namespace {

std::string format_rate(double per_second) {
  return in_units(per_second, kRateUnits);
}

// A fraction as a percentage with up to three significant digits: "0.0012%".
std::string format_percent(double fraction) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g%%", fraction * 100.0);
  return buf;
}

// A ratio: "0.80", "1.23", "12.3", "123".
std::string format_ratio(double r) {
  char buf[64];
  if (!std::isfinite(r)) return "-";
  const double a = std::fabs(r);
  std::snprintf(buf, sizeof buf, "%.*f", a >= 99.95 ? 0 : a >= 9.995 ? 1 : a >= 0.1 ? 2 : 3, r);
  return buf;
}

// Columns hold UTF-8 ("µs", "–"): width counts code points, not bytes.
std::size_t display_width(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}
std::string align_right(const std::string& s, std::size_t width) {
  const std::size_t w = display_width(s);
  return w >= width ? s : std::string(width - w, ' ') + s;
}
std::string align_left(const std::string& s, std::size_t width) {
  const std::size_t w = display_width(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// "2x3": producers x consumers, as TransportResult::topology begins.
std::string shape_of(const Scenario& s) {
  return std::to_string(s.producers) + "x" + std::to_string(s.consumers);
}

// "1x1, 1 partition", "2x3, 4 partitions, split", in the runner's words.
std::string topology_of(const Scenario& s) {
  return shape_of(s) + ", " + plural(static_cast<std::uint64_t>(s.partitions), "partition", "partitions") +
         (s.split ? ", split" : "");
}

std::string deadline_summary(const DeadlineSpec& d) {
  std::string text = "deadline " + format_ns(d.deadline_ns) + " " + std::string(rt_class_name(d.rt_class));
  if (d.rt_class == RtClass::kSoft) text += " (max miss rate " + format_percent(d.max_miss_rate) + ")";
  return text;
}

// One line: what was run, so that a reader can tell two reports apart (the
// deadline, when one was asked, has a line of its own).
std::string scenario_summary(const Scenario& s) {
  std::string text = topology_of(s);
  text += ", " + std::to_string(s.record_bytes) + " B records";
  if (s.batch != 1) text += ", batch " + std::to_string(s.batch);
  text += s.pingpong ? std::string(", ping-pong") : s.rate_rps ? ", rate " + format_rate(*s.rate_rps) : std::string(", one in flight");
  text += ", wait " + s.wait + ", clock " + s.clock;
  if (s.verify_checksums) text += ", rill verifies checksums";
  if (s.exclusive) text += ", rill producers exclusive";
  if (s.durability != "memory") text += ", durability " + s.durability;
  if (s.acks != "none") text += ", acks " + s.acks;
  if (!s.cpus.empty()) text += ", pinned";
  text += s.count > 0 ? ", " + std::to_string(s.count) + " records per phase"
                      : ", " + format_ns(s.duration_ns, true) + " per phase";
  if (s.repeat != 1) text += ", repeat " + std::to_string(s.repeat);
  return text;
}

std::string machine_summary(const Machine& m) {
  std::string text = m.cpu_model.empty() ? std::string("unknown CPU") : m.cpu_model;
  text += ", " + plural(static_cast<std::uint64_t>(std::max(m.cores, 0)), "core", "cores");
  if (!m.kernel.empty()) text += ", " + m.kernel;
  if (!m.hostname.empty()) text += ", host " + m.hostname;
  if (m.tsc_ghz > 0) text += ", TSC " + three_digits(m.tsc_ghz, false) + " GHz";
  return text;
}

std::string verdict(const DeadlineResult& d) {
  std::string name(rt_class_name(d.spec.rt_class));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return name + (d.met ? ": met" : ": NOT met");
}

// The figures the table and the diff show, in column order.
struct LatencyColumn {
  std::string_view label;
  std::int64_t LatencyFigures::*field;
};
constexpr std::array<LatencyColumn, 7> kLatencyColumns = {{{"min", &LatencyFigures::min},
                                                           {"p50", &LatencyFigures::p50},
                                                           {"p90", &LatencyFigures::p90},
                                                           {"p99", &LatencyFigures::p99},
                                                           {"p99.9", &LatencyFigures::p999},
                                                           {"p99.99", &LatencyFigures::p9999},
                                                           {"max", &LatencyFigures::max}}};

// The ratios as a table: one row per (rill transport, baseline) pair, one
// column per metric, each cell "median [min–max]".
std::string ratio_table(const std::vector<Ratio>& ratios) {
  std::vector<std::string> pairs, metrics;  // first-seen order
  auto note = [](std::vector<std::string>& seen, const std::string& name) {
    const auto it = std::find(seen.begin(), seen.end(), name);
    if (it != seen.end()) return static_cast<std::size_t>(it - seen.begin());
    seen.push_back(name);
    return seen.size() - 1;
  };
  const int runs = ratios.front().runs;
  const bool same_runs = std::all_of(ratios.begin(), ratios.end(), [&](const Ratio& r) { return r.runs == runs; });
  std::map<std::pair<std::size_t, std::size_t>, std::string> cells;
  std::size_t pair_width = 0, cell_width = 0;
  for (const Ratio& r : ratios) {
    const std::string pair = r.numerator + " / " + r.denominator;
    pair_width = std::max(pair_width, display_width(pair));
    std::string cell = format_ratio(r.median);
    if (r.runs > 1) cell += " [" + format_ratio(r.min) + "–" + format_ratio(r.max) + "]";
    if (!same_runs) cell += " (" + std::to_string(r.runs) + ")";
    cell_width = std::max(cell_width, display_width(cell));
    cells[{note(pairs, pair), note(metrics, r.metric)}] = std::move(cell);
  }
  for (const std::string& m : metrics) cell_width = std::max(cell_width, display_width(m));
  cell_width += 3;

  std::string out = "ratios: rill / baseline, median";
  if (runs > 1 || !same_runs) out += " [min–max]";
  out += same_runs ? " over " + plural(static_cast<std::uint64_t>(runs), "run", "runs") : " over (n) runs";
  out += "; throughput: higher is better, latency: lower is better\n";
  std::string header = "  " + std::string(pair_width, ' ');
  for (const std::string& m : metrics) header += "   " + align_left(m, cell_width - 3);
  while (header.back() == ' ') header.pop_back();
  out += header + "\n";
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    std::string line = "  " + align_left(pairs[p], pair_width);
    for (std::size_t m = 0; m < metrics.size(); ++m) {
      const auto it = cells.find({p, m});
      line += "   " + align_left(it == cells.end() ? "-" : it->second, cell_width - 3);
    }
    while (line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Terminal table

std::string format_table(const Report& report) {
  constexpr std::size_t kRateWidth = 10, kLatencyWidth = 9, kCountWidth = 11;
  const std::string shape = shape_of(report.scenario);
  std::string out = "rill bench: " + scenario_summary(report.scenario) + "\n";
  if (report.scenario.deadline) out += deadline_summary(*report.scenario.deadline) + "\n";
  out += "machine: " + machine_summary(report.machine) + "\n\n";

  // A transport run with other producers x consumers than asked (the
  // ping-pong floor is always 1x1) says so next to its name. The rest of a
  // topology ("1x1, 1 channel") only repeats the scenario.
  std::vector<std::string> names;
  std::size_t name_width = display_width("transport");
  for (const TransportResult& r : report.results) {
    std::string name = r.transport;
    const std::string_view run_as = std::string_view(r.topology).substr(0, r.topology.find_first_of(" ,"));
    if (!run_as.empty() && run_as != shape) name += " (" + r.topology + ")";
    name_width = std::max(name_width, display_width(name));
    names.push_back(std::move(name));
  }

  auto latency_cells = [&](const std::optional<LatencyFigures>& f) {
    std::string cells;
    for (const LatencyColumn& c : kLatencyColumns)
      cells += align_right(f ? format_ns((*f).*c.field) : "-", kLatencyWidth);
    cells += align_right(f ? format_ns(std::llround(f->mean)) : "-", kLatencyWidth);
    cells += align_right(f ? format_ns(std::llround(f->stddev)) : "-", kLatencyWidth);
    cells += align_right(f ? std::to_string(f->count) : "-", kCountWidth);
    return cells;
  };

  out += align_left("transport", name_width) + "  " + align_right("records/s", kRateWidth);
  for (const LatencyColumn& c : kLatencyColumns) out += align_right(std::string(c.label), kLatencyWidth);
  out += align_right("mean", kLatencyWidth) + align_right("stddev", kLatencyWidth) + align_right("samples", kCountWidth) + "\n";
  if (report.results.empty()) out += "(no results)\n";

  bool any_raw = false;
  for (std::size_t i = 0; i < report.results.size(); ++i) {
    const TransportResult& r = report.results[i];
    out += align_left(names[i], name_width) + "  ";
    if (!r.error.empty()) {
      out += "ERROR: " + r.error + "\n";
      continue;
    }
    out += align_right(r.throughput_rps ? format_rate(*r.throughput_rps) : "-", kRateWidth);
    out += latency_cells(r.latency) + "\n";
    if (r.latency_raw) {
      any_raw = true;
      out +=
          align_left("  raw", name_width) + "  " + std::string(kRateWidth, ' ') + latency_cells(r.latency_raw) + "\n";
    }
    for (const std::string& note : r.notes) out += "  note: " + note + "\n";
    if (r.deadline) {
      const DeadlineResult& d = *r.deadline;
      out += "  " + verdict(d) + "  deadline " + format_ns(d.spec.deadline_ns) + ": " + std::to_string(d.misses) +
             " of " + std::to_string(d.samples) + " late (" + format_percent(d.miss_rate) +
             (d.spec.rt_class == RtClass::kSoft ? ", allowed " + format_percent(d.spec.max_miss_rate) : "") +
             "), longest streak " + std::to_string(d.longest_streak) + ", p99.9 " + format_ns(d.p999_ns) + "\n";
    }
  }
  if (report.scenario.pingpong) {
    out += "latency: ping-pong, round trip / 2: each record goes out on one topic (channel) and is echoed back on a "
           "second; one in flight (closed loop)\n";
  } else if (report.scenario.rate_rps) {
    out += any_raw ? "latency: from each record's intended send time (so a stall is not hidden: no coordinated "
                     "omission); raw: from its actual send time\n"
                   : "latency: from each record's intended send time (no coordinated omission)\n";
  } else {
    out += "latency: one record in flight per producer (closed loop: a stall delays the next send, so it shows "
           "only once, not in the records it held back)\n";
  }
  if (std::any_of(report.results.begin(), report.results.end(),
                  [](const TransportResult& r) { return r.transport == "pingpong-floor"; }))
    out += "pingpong-floor: a cache line bouncing between two cores, round trip / 2; always one in flight (closed loop)\n";

  if (!report.ratios.empty()) out += "\n" + ratio_table(report.ratios);
  return out;
}

// ---------------------------------------------------------------------------
// JSON (doc/bench_json.md)

namespace {

// Ordered, so that keys come out in the documented order.
using Json = nlohmann::ordered_json;
constexpr std::string_view kFormat = "rill-bench/1";

Json encode(const DeadlineSpec& d) {
  Json j = Json::object();
  j["deadline_ns"] = d.deadline_ns;
  j["class"] = std::string(rt_class_name(d.rt_class));
  j["max_miss_rate"] = d.max_miss_rate;
  return j;
}

Json encode(const DeadlineResult& d) {
  Json j = encode(d.spec);
  j["samples"] = d.samples;
  j["misses"] = d.misses;
  j["miss_rate"] = d.miss_rate;
  j["longest_streak"] = d.longest_streak;
  j["p999_ns"] = d.p999_ns;
  j["met"] = d.met;
  return j;
}

Json encode(const LatencyFigures& f) {
  Json j = Json::object();
  j["count"] = f.count;
  j["min"] = f.min;
  j["p50"] = f.p50;
  j["p90"] = f.p90;
  j["p99"] = f.p99;
  j["p999"] = f.p999;
  j["p9999"] = f.p9999;
  j["max"] = f.max;
  j["mean"] = f.mean;
  j["stddev"] = f.stddev;
  return j;
}

Json encode(double d) {
  return Json(d);
}

template <typename T>
Json encode_or_null(const std::optional<T>& v) {
  return v ? encode(*v) : Json(nullptr);
}

Json encode(const Scenario& s) {
  Json j = Json::object();
  j["transports"] = s.transports;
  j["compare"] = s.compare;
  j["producers"] = s.producers;
  j["consumers"] = s.consumers;
  j["partitions"] = s.partitions;
  j["split"] = s.split;
  j["record_bytes"] = s.record_bytes;
  j["batch"] = s.batch;
  j["rate_rps"] = encode_or_null(s.rate_rps);
  j["duration_ns"] = s.duration_ns;
  j["count"] = s.count;
  j["warmup_ns"] = s.warmup_ns;
  j["wait"] = s.wait;
  j["cpus"] = s.cpus;
  j["clock"] = s.clock;
  j["durability"] = s.durability;
  j["acks"] = s.acks;
  j["deadline"] = encode_or_null(s.deadline);
  j["repeat"] = s.repeat;
  j["pingpong"] = s.pingpong;
  j["verify_checksums"] = s.verify_checksums;
  j["exclusive"] = s.exclusive;
  return j;
}

Json encode(const Machine& m) {
  Json j = Json::object();
  j["cpu_model"] = m.cpu_model;
  j["cores"] = m.cores;
  j["kernel"] = m.kernel;
  j["hostname"] = m.hostname;
  j["tsc_ghz"] = m.tsc_ghz;
  return j;
}

Json encode(const TransportResult& r) {
  Json j = Json::object();
  j["transport"] = r.transport;
  j["topology"] = r.topology;
  j["records"] = r.records;
  j["throughput_rps"] = encode_or_null(r.throughput_rps);
  j["latency_records"] = r.latency_records;
  j["latency_ns"] = encode_or_null(r.latency);
  j["latency_raw_ns"] = encode_or_null(r.latency_raw);
  Json distribution = Json::array();
  for (const Histogram::Point& p : r.distribution) distribution.push_back(Json::array({p.value_ns, p.fraction}));
  j["distribution"] = std::move(distribution);
  if (r.deadline) j["deadline"] = encode(*r.deadline);
  j["unsent_records"] = r.unsent;
  if (!r.notes.empty()) j["notes"] = r.notes;
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

Json encode(const Ratio& r) {
  Json j = Json::object();
  j["numerator"] = r.numerator;
  j["denominator"] = r.denominator;
  j["metric"] = r.metric;
  j["median"] = r.median;
  j["min"] = r.min;
  j["max"] = r.max;
  j["runs"] = r.runs;
  return j;
}

// Scalars never throw here: bytes that are not UTF-8 (a hostname, an error
// text) are replaced, not refused.
std::string dump_scalar(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Two-space indentation, except that an array of scalars stays on one line,
// so that the distribution is one [value_ns, fraction] pair per line.
void write_pretty(const Json& j, int indent, std::string& out) {
  const auto pad = [&](int n) { out.append(static_cast<std::size_t>(n), ' '); };
  const bool flat_array =
      j.is_array() && std::all_of(j.begin(), j.end(), [](const Json& e) { return e.is_primitive(); });
  if (j.is_object() && !j.empty()) {
    out += "{\n";
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it != j.begin()) out += ",\n";
      pad(indent + 2);
      out += dump_scalar(Json(it.key())) + ": ";
      write_pretty(it.value(), indent + 2, out);
    }
    out += "\n";
    pad(indent);
    out += "}";
  } else if (j.is_array() && !flat_array) {
    out += "[\n";
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it != j.begin()) out += ",\n";
      pad(indent + 2);
      write_pretty(*it, indent + 2, out);
    }
    out += "\n";
    pad(indent);
    out += "]";
  } else {
    out += dump_scalar(j);
  }
}

// --- Reading. Each decode() checks the JSON type and names the path of
// what is wrong ("results[1].latency_ns.p99: expected an integer, got string").

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

Status invalid(const std::string& path, const std::string& what) {
  return Status(Code::kInvalidArgument, path.empty() ? what : path + ": " + what);
}

Status wrong_type(const std::string& path, std::string_view expected, const Json& got) {
  return invalid(path, "expected " + std::string(expected) + ", got " + got.type_name());
}

Status decode(const Json& j, const std::string& path, std::string& out) {
  if (!j.is_string()) return wrong_type(path, "a string", j);
  out = j.get<std::string>();
  return Status::ok();
}

Status decode(const Json& j, const std::string& path, bool& out) {
  if (!j.is_boolean()) return wrong_type(path, "true or false", j);
  out = j.get<bool>();
  return Status::ok();
}

// null is a figure that was not finite (to_json writes NaN and infinities so).
Status decode(const Json& j, const std::string& path, double& out) {
  if (j.is_null()) {
    out = std::numeric_limits<double>::quiet_NaN();
  } else if (j.is_number()) {
    out = j.get<double>();
  } else {
    return wrong_type(path, "a number", j);
  }
  return Status::ok();
}

template <typename I>
requires std::integral<I> &&(!std::same_as<I, bool>)Status decode(const Json& j, const std::string& path, I& out) {
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (std::in_range<I>(v)) {
      out = static_cast<I>(v);
      return Status::ok();
    }
  } else if (j.is_number_integer()) {
    const auto v = j.get<std::int64_t>();
    if (std::in_range<I>(v)) {
      out = static_cast<I>(v);
      return Status::ok();
    }
  } else {
    return wrong_type(path, "an integer", j);
  }
  return invalid(path, dump_scalar(j) + " is out of range");
}

Status decode(const Json& j, const std::string& path, RtClass& out) {
  std::string name;
  if (Status s = decode(j, path, name); !s) return s;
  Result<RtClass> c = parse_rt_class(name);
  if (!c) return c.status().with_context(path);
  out = *c;
  return Status::ok();
}

Status decode(const Json& j, const std::string& path, Histogram::Point& out);
Status decode(const Json& j, const std::string& path, DeadlineSpec& out);
Status decode(const Json& j, const std::string& path, DeadlineResult& out);
Status decode(const Json& j, const std::string& path, LatencyFigures& out);
Status decode(const Json& j, const std::string& path, Scenario& out);
Status decode(const Json& j, const std::string& path, Machine& out);
Status decode(const Json& j, const std::string& path, TransportResult& out);
Status decode(const Json& j, const std::string& path, Ratio& out);

template <typename T>
Status decode(const Json& j, const std::string& path, std::optional<T>& out) {
  if (j.is_null()) {
    out.reset();
    return Status::ok();
  }
  T value{};
  if (Status s = decode(j, path, value); !s) return s;
  out = std::move(value);
  return Status::ok();
}

template <typename T>
Status decode(const Json& j, const std::string& path, std::vector<T>& out) {
  if (!j.is_array()) return wrong_type(path, "an array", j);
  out.clear();
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    T value{};
    if (Status s = decode(j[i], path + "[" + std::to_string(i) + "]", value); !s) return s;
    out.push_back(std::move(value));
  }
  return Status::ok();
}

// Reads the fields of one object, keeping the first error.
class FieldReader {
 public:
  FieldReader(const Json& object, const std::string& path) : object_(object), path_(path) {
    if (!object.is_object()) status_ = wrong_type(path, "an object", object);
  }

  // A key every rill-bench/1 writer writes.
  template <typename T>
  void required(std::string_view key, T& out) {
    if (!status_) return;
    const auto it = object_.find(key);
    if (it == object_.end()) {
      status_ = invalid(path_, "missing \"" + std::string(key) + "\"");
      return;
    }
    status_ = decode(*it, child(path_, key), out);
  }

  // A key that may be left out; `out` keeps its value then.
  template <typename T>
  void optional(std::string_view key, T& out) {
    if (!status_) return;
    const auto it = object_.find(key);
    if (it != object_.end()) status_ = decode(*it, child(path_, key), out);
  }

  const Status& status() const { return status_; }

 private:
  const Json& object_;
  const std::string& path_;
  Status status_;
};

Status decode(const Json& j, const std::string& path, Histogram::Point& out) {
  if (!j.is_array() || j.size() != 2) return wrong_type(path, "[value_ns, fraction]", j);
  if (Status s = decode(j[0], path + "[0]", out.value_ns); !s) return s;
  return decode(j[1], path + "[1]", out.fraction);
}

Status decode(const Json& j, const std::string& path, DeadlineSpec& out) {
  FieldReader r(j, path);
  r.required("deadline_ns", out.deadline_ns);
  r.required("class", out.rt_class);
  r.required("max_miss_rate", out.max_miss_rate);
  return r.status();
}

Status decode(const Json& j, const std::string& path, DeadlineResult& out) {
  if (Status s = decode(j, path, out.spec); !s) return s;
  FieldReader r(j, path);
  r.required("samples", out.samples);
  r.required("misses", out.misses);
  r.required("miss_rate", out.miss_rate);
  r.required("longest_streak", out.longest_streak);
  r.required("p999_ns", out.p999_ns);
  r.required("met", out.met);
  return r.status();
}

Status decode(const Json& j, const std::string& path, LatencyFigures& out) {
  FieldReader r(j, path);
  r.required("count", out.count);
  r.required("min", out.min);
  r.required("p50", out.p50);
  r.required("p90", out.p90);
  r.required("p99", out.p99);
  r.required("p999", out.p999);
  r.required("p9999", out.p9999);
  r.required("max", out.max);
  r.required("mean", out.mean);
  r.required("stddev", out.stddev);
  return r.status();
}

Status decode(const Json& j, const std::string& path, Scenario& out) {
  FieldReader r(j, path);
  r.required("transports", out.transports);
  r.required("compare", out.compare);
  r.required("producers", out.producers);
  r.required("consumers", out.consumers);
  r.required("partitions", out.partitions);
  r.required("split", out.split);
  r.required("record_bytes", out.record_bytes);
  r.required("batch", out.batch);
  r.required("rate_rps", out.rate_rps);
  r.required("duration_ns", out.duration_ns);
  r.required("count", out.count);
  r.required("warmup_ns", out.warmup_ns);
  r.required("wait", out.wait);
  r.required("cpus", out.cpus);
  r.required("clock", out.clock);
  r.required("durability", out.durability);
  r.required("acks", out.acks);
  r.required("deadline", out.deadline);
  r.required("repeat", out.repeat);
  r.optional("pingpong", out.pingpong);                  // absent before ping-pong existed
  r.optional("verify_checksums", out.verify_checksums);  // absent before --verify-checksums existed
  r.optional("exclusive", out.exclusive);                // absent before --exclusive existed
  return r.status();
}

Status decode(const Json& j, const std::string& path, Machine& out) {
  FieldReader r(j, path);
  r.required("cpu_model", out.cpu_model);
  r.required("cores", out.cores);
  r.required("kernel", out.kernel);
  r.required("hostname", out.hostname);
  r.required("tsc_ghz", out.tsc_ghz);
  return r.status();
}

Status decode(const Json& j, const std::string& path, TransportResult& out) {
  FieldReader r(j, path);
  r.required("transport", out.transport);
  r.required("topology", out.topology);
  r.required("records", out.records);
  r.required("throughput_rps", out.throughput_rps);
  r.required("latency_records", out.latency_records);
  r.required("latency_ns", out.latency);
  r.required("latency_raw_ns", out.latency_raw);
  r.required("distribution", out.distribution);
  r.optional("deadline", out.deadline);
  r.optional("unsent_records", out.unsent);
  r.optional("notes", out.notes);
  r.optional("error", out.error);
  return r.status();
}

Status decode(const Json& j, const std::string& path, Ratio& out) {
  FieldReader r(j, path);
  r.required("numerator", out.numerator);
  r.required("denominator", out.denominator);
  r.required("metric", out.metric);
  r.required("median", out.median);
  r.required("min", out.min);
  r.required("max", out.max);
  r.required("runs", out.runs);
  return r.status();
}

// nlohmann's what() without its "[json.exception.parse_error.101] " tag.
std::string without_tag(const char* what) {
  std::string_view text = what;
  if (text.starts_with("[json.exception.")) {
    const auto end = text.find("] ");
    if (end != std::string_view::npos) text.remove_prefix(end + 2);
  }
  return std::string(text);
}

}  // namespace

std::string to_json(const Report& report) {
  Json j = Json::object();
  j["format"] = kFormat;
  j["scenario"] = encode(report.scenario);
  j["machine"] = encode(report.machine);
  Json results = Json::array();
  for (const TransportResult& r : report.results) results.push_back(encode(r));
  j["results"] = std::move(results);
  Json ratios = Json::array();
  for (const Ratio& r : report.ratios) ratios.push_back(encode(r));
  j["ratios"] = std::move(ratios);
  std::string out;
  write_pretty(j, 0, out);
  out += "\n";
  return out;
}

Result<Report> report_from_json(std::string_view text) {
  try {
    Json j;
    try {
      j = Json::parse(text.begin(), text.end());
    } catch (const Json::parse_error& e) {
      return Status(Code::kInvalidArgument, "not JSON: " + without_tag(e.what()));
    }
    if (!j.is_object()) {
      return Status(Code::kInvalidArgument,
                    std::string("expected an object with scenario, machine and results, got ") + j.type_name());
    }
    Report report;
    std::string format(kFormat);
    const std::string top;
    FieldReader r(j, top);
    r.optional("format", format);
    if (!r.status()) return r.status();
    if (format != kFormat) {
      return Status(Code::kInvalidArgument,
                    "format \"" + format + "\" is not \"" + std::string(kFormat) + "\" (written by a newer rill?)");
    }
    r.required("scenario", report.scenario);
    r.required("machine", report.machine);
    r.required("results", report.results);
    r.optional("ratios", report.ratios);
    if (!r.status()) return r.status();
    return report;
  } catch (const Json::exception& e) {
    // Every access above is type-checked first; this is a backstop, so that
    // no exception leaves rill's API.
    return Status(Code::kInvalidArgument, "bad bench JSON: " + without_tag(e.what()));
  }
}

// ---------------------------------------------------------------------------
// Diff

namespace {

// What differs between two scenarios in ways that change the figures
// ("record bytes 64 vs 1024"); empty when they match.
std::vector<std::string> scenario_differences(const Scenario& a, const Scenario& b) {
  std::vector<std::string> d;
  auto compare = [&](std::string_view what, const std::string& x, const std::string& y) {
    if (x != y) d.push_back(std::string(what) + " " + x + " vs " + y);
  };
  compare("topology", topology_of(a), topology_of(b));
  compare("record bytes", std::to_string(a.record_bytes), std::to_string(b.record_bytes));
  compare("batch", std::to_string(a.batch), std::to_string(b.batch));
  compare("rate", a.rate_rps ? format_rate(*a.rate_rps) : "one in flight",
          b.rate_rps ? format_rate(*b.rate_rps) : "one in flight");
  compare("phase", a.count ? std::to_string(a.count) + " records" : format_ns(a.duration_ns, true),
          b.count ? std::to_string(b.count) + " records" : format_ns(b.duration_ns, true));
  compare("wait", a.wait, b.wait);
  compare("clock", a.clock, b.clock);
  compare("durability", a.durability, b.durability);
  compare("acks", a.acks, b.acks);
  compare("pinning", a.cpus.empty() ? "none" : "cpus", b.cpus.empty() ? "none" : "cpus");
  if (a.cpus != b.cpus && !a.cpus.empty() && !b.cpus.empty()) d.push_back("pinned to other cpus");
  return d;
}

std::vector<std::string> machine_differences(const Machine& a, const Machine& b) {
  std::vector<std::string> d;
  if (a.cpu_model != b.cpu_model) d.push_back("cpu '" + a.cpu_model + "' vs '" + b.cpu_model + "'");
  if (a.cores != b.cores) d.push_back("cores " + std::to_string(a.cores) + " vs " + std::to_string(b.cores));
  if (a.kernel != b.kernel) d.push_back("kernel '" + a.kernel + "' vs '" + b.kernel + "'");
  return d;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : std::string(separator)) + p;
  return out;
}

const TransportResult* find_transport(const Report& r, const std::string& transport) {
  for (const TransportResult& t : r.results) {
    if (t.transport == transport) return &t;
  }
  return nullptr;
}

}  // namespace

std::string format_diff(const Report& a, const Report& b) {
  constexpr std::size_t kFigureWidth = 10, kValueWidth = 11, kChangeWidth = 10;
  std::string out = "A: " + scenario_summary(a.scenario) + "\n   " + machine_summary(a.machine) + "\n";
  out += "B: " + scenario_summary(b.scenario) + "\n   " + machine_summary(b.machine) + "\n";
  if (auto d = scenario_differences(a.scenario, b.scenario); !d.empty()) {
    out += "warning: the scenarios differ (" + join(d, ", ") + "); figures may not be comparable\n";
  }
  if (auto d = machine_differences(a.machine, b.machine); !d.empty()) {
    out += "warning: the machines differ (" + join(d, ", ") + ")\n";
  }
  out += "change = (B - A) / A: for records/s positive is faster; for latency negative is faster\n\n";

  std::vector<const TransportResult*> shared;
  std::vector<std::string> only_a, only_b;
  std::size_t name_width = display_width("transport");
  for (const TransportResult& r : a.results) {
    if (find_transport(b, r.transport)) {
      shared.push_back(&r);
      name_width = std::max(name_width, display_width(r.transport));
    } else {
      only_a.push_back(r.transport);
    }
  }
  for (const TransportResult& r : b.results) {
    if (!find_transport(a, r.transport)) only_b.push_back(r.transport);
  }

  auto row = [&](const std::string& name, std::string_view figure, std::optional<double> x, std::optional<double> y,
                 bool is_rate) {
    auto show = [&](std::optional<double> v) {
      if (!v) return std::string("-");
      return is_rate ? format_rate(*v) : format_ns(static_cast<std::int64_t>(*v));
    };
    std::string change = "-";
    if (x && y && *x != 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%+.1f%%", (*y - *x) / *x * 100.0);
      change = buf;
    }
    return align_left(name, name_width) + "  " + align_left(std::string(figure), kFigureWidth) +
           align_right(show(x), kValueWidth) + align_right(show(y), kValueWidth) + align_right(change, kChangeWidth) +
           "\n";
  };

  if (!shared.empty()) {
    out += align_left("transport", name_width) + "  " + align_left("figure", kFigureWidth) +
           align_right("A", kValueWidth) + align_right("B", kValueWidth) + align_right("change", kChangeWidth) + "\n";
  }
  for (const TransportResult* ra : shared) {
    const TransportResult& rb = *find_transport(b, ra->transport);
    const bool any_figure = ra->throughput_rps || rb.throughput_rps || ra->latency || rb.latency;
    if (!any_figure) out += align_left(ra->transport, name_width) + "  no figures\n";
    if (any_figure) out += row(ra->transport, "records/s", ra->throughput_rps, rb.throughput_rps, true);
    for (const LatencyColumn& c : kLatencyColumns) {
      if (!any_figure) break;
      if (c.label == "min") continue;
      auto figure = [&](const TransportResult& r) -> std::optional<double> {
        if (!r.latency) return std::nullopt;
        return static_cast<double>((*r.latency).*c.field);
      };
      out += row("", c.label, figure(*ra), figure(rb), false);
    }
    if (!ra->error.empty()) out += align_left("", name_width) + "  A: ERROR: " + ra->error + "\n";
    if (!rb.error.empty()) out += align_left("", name_width) + "  B: ERROR: " + rb.error + "\n";
  }
  if (!only_a.empty()) out += "only in A: " + join(only_a, ", ") + "\n";
  if (!only_b.empty()) out += "only in B: " + join(only_b, ", ") + "\n";
  if (shared.empty() && only_a.empty() && only_b.empty()) out += "(no results in either)\n";
  return out;
}

// ---------------------------------------------------------------------------
// SVG plot

namespace {

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // Control characters are not allowed in XML 1.0 text.
        out += (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') ? '?' : c;
    }
  }
  return out;
}

std::string fixed1(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// "0%", "90%", "99%", "99.9%", ... for a whole number of nines.
std::string nines_label(int nines) {
  if (nines == 0) return "0%";
  if (nines == 1) return "90%";
  return "99" + (nines > 2 ? "." + std::string(static_cast<std::size_t>(nines - 2), '9') : std::string()) + "%";
}

// The 1-2-5 steps at or below / at or above v (v > 0).
double floor_125(double v) {
  const double decade = std::pow(10.0, std::floor(std::log10(v) + 1e-9));
  const double m = v / decade;
  return (m >= 5 - 1e-9 ? 5 : m >= 2 - 1e-9 ? 2 : 1) * decade;
}
double ceil_125(double v) {
  const double decade = std::pow(10.0, std::floor(std::log10(v) + 1e-9));
  const double m = v / decade;
  return (m <= 1 + 1e-9 ? 1 : m <= 2 + 1e-9 ? 2 : m <= 5 + 1e-9 ? 5 : 10) * decade;
}

// One transport's line: (nines, latency) corners of its step function.
struct Series {
  const TransportResult* result;
  std::vector<std::pair<double, double>> points;
};

// x = log10(1 / (1 - fraction)), so that 90%, 99%, 99.9% are equally spaced.
// A fraction of 1 (the maximum) has no finite x: it is drawn at `cap`, the
// most nines the sample count can show (log10(count)).
Series series_of(const TransportResult& r) {
  double cap = 0;
  if (r.latency && r.latency->count >= 2) {
    cap = std::log10(static_cast<double>(r.latency->count));
  } else {
    for (const Histogram::Point& p : r.distribution) {
      if (p.fraction < 1) cap = std::max(cap, -std::log10(1 - p.fraction));
    }
    cap += 1;
  }
  auto x_of = [&](double fraction) {
    if (!(fraction > 0)) return 0.0;
    if (fraction >= 1) return cap;
    return std::min(cap, -std::log10(1 - fraction));
  };
  // The value at percentile q is that of the first point whose fraction
  // reaches q: a step, flat from the previous point's x to this one's.
  Series s{&r, {}};
  double previous_x = 0;
  for (const Histogram::Point& p : r.distribution) {
    const double v = std::max<double>(1.0, static_cast<double>(p.value_ns));  // a log axis has no 0
    const double x = std::max(previous_x, x_of(p.fraction));
    s.points.emplace_back(previous_x, v);
    s.points.emplace_back(x, v);
    previous_x = x;
  }
  return s;
}

constexpr std::array<std::string_view, 10> kColours = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                                       "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

}  // namespace

std::string plot_svg(const Report& report) {
  constexpr double kWidth = 900, kHeight = 560;
  constexpr double kLeft = 78, kRight = kWidth - 44, kTop = 78, kBottom = kHeight - 62;
  constexpr double kMonoCharWidth = 7.3;  // 12px monospace, for sizing the legend box

  std::vector<Series> series;
  for (const TransportResult& r : report.results) {
    if (!r.distribution.empty()) series.push_back(series_of(r));
  }
  const std::optional<DeadlineSpec>& deadline = report.scenario.deadline;
  // The legend goes under the plot, a row per line, so that it never hides one.
  constexpr double kRowHeight = 18;
  const double legend_top = kHeight + 4;
  const double total_height = series.empty() ? kHeight : legend_top + kRowHeight * static_cast<double>(series.size()) + 16;

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fixed1(kWidth) + "\" height=\"" +
                    fixed1(total_height) + "\" viewBox=\"0 0 " + fixed1(kWidth) + " " + fixed1(total_height) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  // Heading: what, the scenario, the machine. A line longer than the width
  // (estimated from its length) is squeezed to fit rather than cut.
  auto heading = [&](double y, double size, std::string_view attributes, const std::string& text) {
    std::string fit;
    if (static_cast<double>(display_width(text)) * size * 0.56 > kWidth - 2 * 20) {
      fit = " textLength=\"" + fixed1(kWidth - 2 * 20) + "\" lengthAdjust=\"spacingAndGlyphs\"";
    }
    svg += "<text x=\"20\" y=\"" + fixed1(y) + "\" font-size=\"" + fixed1(size) + "\" " + std::string(attributes) +
           fit + ">" + xml_escape(text) + "</text>\n";
  };
  heading(22, 15, "font-weight=\"bold\"",
          report.scenario.rate_rps ? "rill bench: latency by percentile, from each record's intended send time"
                                   : "rill bench: latency by percentile, one record in flight");
  heading(42, 12, "fill=\"#222222\"", scenario_summary(report.scenario));
  heading(60, 11, "fill=\"#666666\"", machine_summary(report.machine));

  if (series.empty()) {
    svg += "<text x=\"" + fixed1(kWidth / 2) + "\" y=\"" + fixed1(kHeight / 2) +
           "\" text-anchor=\"middle\" fill=\"#555555\">no latency distribution in this report</text>\n</svg>\n";
    return svg;
  }

  // Axes: nines from 0 to the most any line reaches; latency from the 1-2-5
  // step below the smallest value to the one above the largest (and the
  // deadline, so that it shows).
  double x_max = 1, y_low = std::numeric_limits<double>::max(), y_high = 0;
  for (const Series& s : series) {
    for (const auto& [x, v] : s.points) {
      x_max = std::max(x_max, x);
      y_low = std::min(y_low, v);
      y_high = std::max(y_high, v);
    }
  }
  if (deadline && deadline->deadline_ns > 0) {
    y_low = std::min(y_low, static_cast<double>(deadline->deadline_ns));
    y_high = std::max(y_high, static_cast<double>(deadline->deadline_ns));
  }
  y_low = floor_125(y_low);
  y_high = ceil_125(y_high);
  while (y_high / y_low < 9.99) y_high = ceil_125(y_high * 1.5);  // at least a decade
  const double log_low = std::log10(y_low), log_span = std::log10(y_high) - log_low;
  auto px = [&](double nines) { return kLeft + nines / x_max * (kRight - kLeft); };
  auto py = [&](double v) { return kBottom - (std::log10(v) - log_low) / log_span * (kBottom - kTop); };

  // Grid: every 1-2-5 step of latency (labelled all when few decades, else
  // only the decades), every whole nine, and 50%.
  svg += "<g stroke-width=\"1\">\n";
  const bool label_all = log_span <= 6.01;
  std::string labels;
  for (int decade = static_cast<int>(std::floor(log_low)); decade <= static_cast<int>(std::ceil(log_low + log_span));
       ++decade) {
    for (int m : {1, 2, 5}) {
      const double v = m * std::pow(10.0, decade);
      if (v < y_low * (1 - 1e-9) || v > y_high * (1 + 1e-9)) continue;
      const std::string y = fixed1(py(v));
      const bool major = m == 1;
      svg += "<line x1=\"" + fixed1(kLeft) + "\" y1=\"" + y + "\" x2=\"" + fixed1(kRight) + "\" y2=\"" + y +
             "\" stroke=\"" + (major ? "#c8c8c8" : "#e6e6e6") + "\"/>\n";
      if (major || label_all) {
        labels += "<text x=\"" + fixed1(kLeft - 6) + "\" y=\"" + fixed1(py(v) + 4) + "\" text-anchor=\"end\">" +
                  xml_escape(format_ns(static_cast<std::int64_t>(std::llround(v)), true)) + "</text>\n";
      }
    }
  }
  std::vector<std::pair<double, std::string>> x_ticks = {{std::log10(2.0), "50%"}};
  for (int n = 0; n <= static_cast<int>(std::floor(x_max + 1e-9)); ++n) x_ticks.emplace_back(n, nines_label(n));
  for (const auto& [nines, label] : x_ticks) {
    const std::string x = fixed1(px(nines));
    svg += "<line x1=\"" + x + "\" y1=\"" + fixed1(kTop) + "\" x2=\"" + x + "\" y2=\"" + fixed1(kBottom) +
           "\" stroke=\"" + (nines == std::floor(nines) ? "#c8c8c8" : "#e6e6e6") + "\"/>\n";
    labels += "<text x=\"" + x + "\" y=\"" + fixed1(kBottom + 18) + "\" text-anchor=\"middle\">" + label + "</text>\n";
  }
  svg += "</g>\n<rect x=\"" + fixed1(kLeft) + "\" y=\"" + fixed1(kTop) + "\" width=\"" + fixed1(kRight - kLeft) +
         "\" height=\"" + fixed1(kBottom - kTop) + "\" fill=\"none\" stroke=\"#888888\"/>\n";
  svg += "<g fill=\"#333333\">\n" + labels + "</g>\n";
  svg += "<text x=\"" + fixed1((kLeft + kRight) / 2) + "\" y=\"" + fixed1(kHeight - 18) +
         "\" text-anchor=\"middle\">percentile</text>\n";
  svg += "<text transform=\"translate(18 " + fixed1((kTop + kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">latency</text>\n";

  if (deadline && deadline->deadline_ns > 0) {
    const std::string y = fixed1(py(static_cast<double>(deadline->deadline_ns)));
    svg += "<line x1=\"" + fixed1(kLeft) + "\" y1=\"" + y + "\" x2=\"" + fixed1(kRight) + "\" y2=\"" + y +
           "\" stroke=\"#cc0000\" stroke-width=\"1.5\" stroke-dasharray=\"2 4\"/>\n";
    svg += "<text x=\"" + fixed1(kRight - 6) + "\" y=\"" + fixed1(py(static_cast<double>(deadline->deadline_ns)) - 5) +
           "\" text-anchor=\"end\" fill=\"#cc0000\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">" +
           xml_escape(deadline_summary(*deadline)) + "</text>\n";
  }

  // Lines: rill's solid, baselines dashed. Points closer than 0.1 px merge,
  // and a corner that continues a straight run is dropped.
  for (std::size_t i = 0; i < series.size(); ++i) {
    std::vector<std::pair<std::string, std::string>> corners;
    for (const auto& [nines, v] : series[i].points) {
      std::pair<std::string, std::string> c{fixed1(px(nines)), fixed1(py(v))};
      if (!corners.empty() && corners.back() == c) continue;
      const std::size_t n = corners.size();
      if (n >= 2 && ((corners[n - 2].first == corners[n - 1].first && corners[n - 1].first == c.first) ||
                     (corners[n - 2].second == corners[n - 1].second && corners[n - 1].second == c.second))) {
        corners.back() = c;
      } else {
        corners.push_back(c);
      }
    }
    std::string points;
    for (const auto& [x, y] : corners) points += (points.empty() ? "" : " ") + x + "," + y;
    svg += "<polyline fill=\"none\" stroke=\"" + std::string(kColours[i % kColours.size()]) +
           "\" stroke-width=\"2\" stroke-linejoin=\"round\"" +
           (is_rill(series[i].result->transport) ? "" : " stroke-dasharray=\"7 3\"") + " points=\"" + points + "\"/>\n";
  }

  // Legend, under the plot.
  std::size_t name_chars = 0;
  for (const Series& s : series) name_chars = std::max(name_chars, display_width(s.result->transport));
  const double name_x = kLeft + 44, p50_x = name_x + static_cast<double>(name_chars + 2) * kMonoCharWidth;
  const double p99_x = p50_x + 14 * kMonoCharWidth, legend_right = p99_x + 14 * kMonoCharWidth;
  const double row_height = kRowHeight;
  svg += "<rect x=\"" + fixed1(kLeft + 10) + "\" y=\"" + fixed1(legend_top) + "\" width=\"" +
         fixed1(legend_right - kLeft - 10) + "\" height=\"" +
         fixed1(row_height * static_cast<double>(series.size()) + 10) +
         "\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#bbbbbb\"/>\n";
  svg += "<g font-family=\"monospace\" font-size=\"12\">\n";
  for (std::size_t i = 0; i < series.size(); ++i) {
    const TransportResult& r = *series[i].result;
    const double y = legend_top + 5 + row_height * (static_cast<double>(i) + 0.5);
    svg += "<line x1=\"" + fixed1(kLeft + 16) + "\" y1=\"" + fixed1(y) + "\" x2=\"" + fixed1(kLeft + 38) + "\" y2=\"" +
           fixed1(y) + "\" stroke=\"" + std::string(kColours[i % kColours.size()]) + "\" stroke-width=\"2\"" +
           (is_rill(r.transport) ? "" : " stroke-dasharray=\"7 3\"") + "/>\n";
    const std::string baseline = fixed1(y + 4);
    svg += "<text x=\"" + fixed1(name_x) + "\" y=\"" + baseline + "\">" + xml_escape(r.transport) + "</text>\n";
    if (r.latency) {
      svg += "<text x=\"" + fixed1(p50_x) + "\" y=\"" + baseline + "\">" +
             xml_escape("p50 " + format_ns(r.latency->p50)) + "</text>\n";
      svg += "<text x=\"" + fixed1(p99_x) + "\" y=\"" + baseline + "\">" +
             xml_escape("p99 " + format_ns(r.latency->p99)) + "</text>\n";
    }
    if (!r.error.empty()) {
      svg += "<text x=\"" + fixed1(legend_right + 6) + "\" y=\"" + baseline + "\" fill=\"#cc0000\">ERROR</text>\n";
    }
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

}  // namespace rill::bench
