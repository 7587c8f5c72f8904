// Quantities as people type them (rill bench, rill topic create --overflow-timeout):
// durations, rates, counts and core lists. Each parser names the text it refused and what it expects.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "rill/status.h"

namespace rill::cli {

// "5s", "500ms", "50us" (or "50µs"), "100ns", "2m", "1.5s": a number (a
// fraction is allowed) and a unit; a bare number is refused (the unit is
// what a reader gets wrong). Result in nanoseconds, >= 0.
Result<std::int64_t> parse_duration(std::string_view text);

// A whole count with an optional decimal suffix: "1000", "100k", "2M", "1G".
Result<std::uint64_t> parse_count(std::string_view text);

// Records per second: a count as above, or "max" (empty result).
Result<std::optional<double>> parse_rate(std::string_view text);

// "0,1", "0-3", "2,4-5": core numbers, in the order given (duplicates
// allowed: they share a core).
Result<std::vector<int>> parse_cpus(std::string_view text);

}  // namespace rill::cli
