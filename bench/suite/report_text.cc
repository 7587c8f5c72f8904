// The words and numbers that the table, the diff and the plot share
// (report_text.h): units, alignment, and one-line summaries of a scenario,
// a machine and a deadline.
#include "bench/suite/report_text.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <span>
#include <string>

namespace rill::bench {

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
constexpr std::array<Unit, 4> kByteRateUnits = {{{1, "B/s"}, {1e3, "kB/s"}, {1e6, "MB/s"}, {1e9, "GB/s"}}};

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

std::string format_rate(double per_second) {
  return in_units(per_second, kRateUnits);
}

std::string format_byte_rate(double bytes_per_second) {
  return in_units(bytes_per_second, kByteRateUnits);
}

std::string format_percent(double fraction) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g%%", fraction * 100.0);
  return buf;
}

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

std::string shape_of(const Scenario& s) {
  return std::to_string(s.producers) + "x" + std::to_string(s.consumers);
}

std::string topology_of(const Scenario& s) {
  return shape_of(s) + ", " + plural(static_cast<std::uint64_t>(s.partitions), "partition", "partitions") +
         (s.split ? ", split" : "");
}

std::string deadline_summary(const DeadlineSpec& d) {
  std::string text = "deadline " + format_ns(d.deadline_ns) + " " + std::string(rt_class_name(d.rt_class));
  if (d.rt_class == RtClass::kSoft) text += " (max miss rate " + format_percent(d.max_miss_rate) + ")";
  return text;
}

std::string scenario_summary(const Scenario& s) {
  std::string text = topology_of(s);
  text += ", " + std::to_string(s.record_bytes) + " B records";
  if (s.batch != 1) text += ", batch " + std::to_string(s.batch);
  text += s.pingpong   ? std::string(", ping-pong")
          : s.rate_rps ? ", rate " + format_rate(*s.rate_rps)
                       : std::string(", one in flight");
  text += ", wait " + s.wait + ", clock " + s.clock;
  if (s.verify_checksums) text += ", rill verifies checksums";
  if (s.exclusive) text += ", rill producers exclusive";
  if (s.durability != "memory") text += ", durability " + s.durability;
  if (!s.data_dir.empty()) text += ", files in " + s.data_dir;
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
  if (!m.data_fs.empty()) text += ", files on " + m.data_fs;
  if (!m.io_backend.empty()) text += " via " + m.io_backend;
  return text;
}

}  // namespace rill::bench
