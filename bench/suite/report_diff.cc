// `rill bench diff A B` (format_diff): how each figure of each transport in
// both reports changed, with a warning when the scenarios or machines differ.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "bench/suite/report.h"
#include "bench/suite/report_text.h"

namespace rill::bench {

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
  if (a.data_fs != b.data_fs && !a.data_fs.empty() && !b.data_fs.empty())
    d.push_back("files on " + a.data_fs + " vs " + b.data_fs);
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

  enum class Unit { kRecords, kBytes, kTime };
  auto row = [&](const std::string& name, std::string_view figure, std::optional<double> x, std::optional<double> y,
                 Unit unit) {
    auto show = [&](std::optional<double> v) {
      if (!v) return std::string("-");
      return unit == Unit::kRecords ? format_rate(*v)
             : unit == Unit::kBytes ? format_byte_rate(*v)
                                    : format_ns(static_cast<std::int64_t>(*v));
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
    if (any_figure) out += row(ra->transport, "records/s", ra->throughput_rps, rb.throughput_rps, Unit::kRecords);
    if (ra->file_bytes_per_s || rb.file_bytes_per_s)
      out += row("", "file B/s", ra->file_bytes_per_s, rb.file_bytes_per_s, Unit::kBytes);
    for (const LatencyColumn& c : kLatencyColumns) {
      if (!any_figure) break;
      if (c.label == "min") continue;
      auto figure = [&](const TransportResult& r) -> std::optional<double> {
        if (!r.latency) return std::nullopt;
        return static_cast<double>((*r.latency).*c.field);
      };
      out += row("", c.label, figure(*ra), figure(rb), Unit::kTime);
    }
    // Durable runs: how long a send waited for its acknowledgement.
    for (const LatencyColumn& c : kLatencyColumns) {
      if (!ra->latency_ack && !rb.latency_ack) break;
      if (c.label != "p50" && c.label != "p99") continue;
      auto figure = [&](const TransportResult& r) -> std::optional<double> {
        if (!r.latency_ack) return std::nullopt;
        return static_cast<double>((*r.latency_ack).*c.field);
      };
      out += row("", "ack " + std::string(c.label), figure(*ra), figure(rb), Unit::kTime);
    }
    if (!ra->error.empty()) out += align_left("", name_width) + "  A: ERROR: " + ra->error + "\n";
    if (!rb.error.empty()) out += align_left("", name_width) + "  B: ERROR: " + rb.error + "\n";
  }
  if (!only_a.empty()) out += "only in A: " + join(only_a, ", ") + "\n";
  if (!only_b.empty()) out += "only in B: " + join(only_b, ", ") + "\n";
  if (shared.empty() && only_a.empty() && only_b.empty()) out += "(no results in either)\n";
  return out;
}

}  // namespace rill::bench
