// Private to the report (bench/suite/report*.cc): the words and numbers
// that the terminal table, the diff and the SVG plot share, so that a figure
// or a scenario reads the same in all three. Not part of the suite's
// interface (report.h is); nothing outside bench/suite/report*.cc includes it.
//
// Every function is pure and allocates only its result.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bench/suite/report.h"

namespace rill::bench {

// Records per second in the largest unit that keeps three significant
// digits at or above 1: "8.62 M/s", "100 k/s"; "-" when not finite.
std::string format_rate(double per_second);

// Bytes per second, decimal units, three significant digits: "312 MB/s",
// "1.25 GB/s"; "-" when not finite.
std::string format_byte_rate(double bytes_per_second);

// A fraction as a percentage with up to three significant digits: "0.0012%".
std::string format_percent(double fraction);

// Columns hold UTF-8 ("µs", "–"): the width of `s` in code points, not bytes.
std::size_t display_width(std::string_view s);
// `s` padded with spaces to `width` code points (never cut).
std::string align_right(const std::string& s, std::size_t width);
std::string align_left(const std::string& s, std::size_t width);

// "1 run", "3 runs".
std::string plural(std::uint64_t n, std::string_view one, std::string_view many);

// "2x3": producers x consumers, as TransportResult::topology begins.
std::string shape_of(const Scenario& s);
// "1x1, 1 partition", "2x3, 4 partitions, split", in the runner's words.
std::string topology_of(const Scenario& s);

// "deadline 50.0 µs soft (max miss rate 0.1%)".
std::string deadline_summary(const DeadlineSpec& d);
// One line: what was run, so that a reader can tell two reports apart (the
// deadline, when one was asked, has a line of its own).
std::string scenario_summary(const Scenario& s);
// One line: CPU, cores, kernel, host and TSC rate, those that are known, and
// for a run that wrote files their file system and io backend.
std::string machine_summary(const Machine& m);

// The latency figures the table and the diff show, in column order.
struct LatencyColumn {
  std::string_view label;
  std::int64_t LatencyFigures::*field;
};
inline constexpr std::array<LatencyColumn, 7> kLatencyColumns = {{{"min", &LatencyFigures::min},
                                                                  {"p50", &LatencyFigures::p50},
                                                                  {"p90", &LatencyFigures::p90},
                                                                  {"p99", &LatencyFigures::p99},
                                                                  {"p99.9", &LatencyFigures::p999},
                                                                  {"p99.99", &LatencyFigures::p9999},
                                                                  {"max", &LatencyFigures::max}}};

}  // namespace rill::bench
