// The terminal table (format_table): one row per transport, its notes and
// deadline verdict, then the ratios.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <utility>

#include "bench/suite/report.h"
#include "bench/suite/report_text.h"

namespace rill::bench {

namespace {

// A ratio: "0.80", "1.23", "12.3", "123".
std::string format_ratio(double r) {
  char buf[64];
  if (!std::isfinite(r)) return "-";
  const double a = std::fabs(r);
  std::snprintf(buf, sizeof buf, "%.*f", a >= 99.95 ? 0 : a >= 9.995 ? 1 : a >= 0.1 ? 2 : 3, r);
  return buf;
}

std::string verdict(const DeadlineResult& d) {
  std::string name(rt_class_name(d.spec.rt_class));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return name + (d.met ? ": met" : ": NOT met");
}

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
  out += align_right("mean", kLatencyWidth) + align_right("stddev", kLatencyWidth) +
         align_right("samples", kCountWidth) + "\n";
  if (report.results.empty()) out += "(no results)\n";

  bool any_raw = false, any_ack = false;
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
    if (r.latency_ack) {
      any_ack = true;
      out +=
          align_left("  ack", name_width) + "  " + std::string(kRateWidth, ' ') + latency_cells(r.latency_ack) + "\n";
    }
    if (r.file_bytes_per_s) {
      out += "  bytes: " + format_byte_rate(*r.file_bytes_per_s) + " to files";
      if (r.payload_bytes_per_s) out += ", " + format_byte_rate(*r.payload_bytes_per_s) + " of values";
      out += "\n";
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
    out +=
        "latency: ping-pong, round trip / 2: each record goes out on one topic (channel) and is echoed back on a "
        "second; one in flight (closed loop)\n";
  } else if (report.scenario.rate_rps) {
    out += any_raw ? "latency: from each record's intended send time (so a stall is not hidden: no coordinated "
                     "omission); raw: from its actual send time\n"
                   : "latency: from each record's intended send time (no coordinated omission)\n";
  } else {
    out +=
        "latency: one record in flight per producer (closed loop: a stall delays the next send, so it shows "
        "only once, not in the records it held back)\n";
  }
  const auto ran = [&](std::string_view name) {
    return std::any_of(report.results.begin(), report.results.end(),
                       [&](const TransportResult& r) { return r.transport == name; });
  };
  if (ran("pingpong-floor"))
    out +=
        "pingpong-floor: a cache line bouncing between two cores, round trip / 2; always one in flight (closed loop)\n";
  if (any_ack)
    out += "ack: from each record's intended send time to the return of its send (durability " +
           report.scenario.durability + ": " +
           (report.scenario.durability == "fsync" ? "synced in" : "written to") + " the topic's files)\n";
  if (ran("raw-write"))
    out += "raw-write: record frames written in sequence to files, as many a write as a send carries (--batch; up "
           "to 4 MiB), no sync; records/s = frames/s\n";
  if (ran("raw-fdatasync"))
    out += "raw-fdatasync: one record frame appended to a file and fdatasync'd at a time; records/s = syncs/s, "
           "latency = one write + fdatasync\n";
  if (ran("raw-group-commit"))
    out += "raw-group-commit: each of -P threads appends a record frame to one file and waits for its fdatasync, "
           "syncs shared (a mutex and a condition variable: whoever finds none running syncs for all); latency = "
           "append to acknowledgement\n";
  if (report.machine.data_fs == "tmpfs")
    out += "note: the data folder is on tmpfs (memory): a write there is a memcpy and an fdatasync costs "
           "nothing; use --data-dir on a disk\n";

  if (!report.ratios.empty()) out += "\n" + ratio_table(report.ratios);
  return out;
}

}  // namespace rill::bench
