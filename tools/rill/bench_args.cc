#include "tools/rill/bench_args.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace rill::cli {
namespace {

Status bad(std::string_view text, std::string_view expected) {
  return Status(Code::kInvalidArgument, "'" + std::string(text) + "' is not " + std::string(expected));
}

// Splits "12.5ms" into 12.5 and "ms"; false if there is no number first.
bool split_number(std::string_view text, double& number, std::string_view& unit) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + i, number);
  if (ec != std::errc() || end != text.data() + i || !std::isfinite(number)) return false;
  unit = text.substr(i);
  return true;
}

}  // namespace

Result<std::int64_t> parse_duration(std::string_view text) {
  constexpr std::string_view kExpected = "a duration (e.g. 5s, 500ms, 50us, 100ns, 2m)";
  double number = 0;
  std::string_view unit;
  if (!split_number(text, number, unit)) return bad(text, kExpected);
  double scale;
  if (unit == "ns") scale = 1;
  else if (unit == "us" || unit == "µs") scale = 1e3;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "s") scale = 1e9;
  else if (unit == "m" || unit == "min") scale = 60e9;
  else return bad(text, kExpected);
  const double ns = number * scale;
  if (ns > 9e18) return bad(text, "a duration under 290 years");
  return static_cast<std::int64_t>(std::llround(ns));
}

Result<std::uint64_t> parse_count(std::string_view text) {
  constexpr std::string_view kExpected = "a whole count (e.g. 1000, 100k, 2M, 1G)";
  double number = 0;
  std::string_view unit;
  if (!split_number(text, number, unit)) return bad(text, kExpected);
  double scale;
  if (unit.empty()) scale = 1;
  else if (unit == "k" || unit == "K") scale = 1e3;
  else if (unit == "M") scale = 1e6;
  else if (unit == "G") scale = 1e9;
  else return bad(text, kExpected);
  const double v = number * scale;
  if (v != std::floor(v) || v > 1e18) return bad(text, kExpected);
  return static_cast<std::uint64_t>(v);
}

Result<std::optional<double>> parse_rate(std::string_view text) {
  if (text == "max") return std::optional<double>();
  auto n = parse_count(text);
  if (!n.is_ok() || n.value() == 0) return bad(text, "a rate in records/s (e.g. 10000, 100k, 1M) or max");
  return std::optional<double>(static_cast<double>(n.value()));
}

Result<std::vector<int>> parse_cpus(std::string_view text) {
  constexpr std::string_view kExpected = "a list of cores (e.g. 0,1 or 0-3)";
  std::vector<int> cores;
  if (text.empty()) return bad(text, kExpected);
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (comma != std::string_view::npos && text.empty()) return bad(item, kExpected);
    int first = 0, last = 0;
    const char* end = item.data() + item.size();
    auto [p, ec] = std::from_chars(item.data(), end, first);
    if (ec != std::errc() || first < 0) return bad(item, kExpected);
    last = first;
    if (p != end) {
      if (*p != '-') return bad(item, kExpected);
      auto [q, ec2] = std::from_chars(p + 1, end, last);
      if (ec2 != std::errc() || q != end || last < first) return bad(item, kExpected);
    }
    if (last - first > 4096) return bad(item, kExpected);
    for (int c = first; c <= last; ++c) cores.push_back(c);
  }
  return cores;
}

}  // namespace rill::cli
