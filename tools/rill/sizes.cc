#include "tools/rill/sizes.h"

#include <array>
#include <cctype>
#include <limits>
#include <utility>

namespace rill::cli {
namespace {

struct Unit {
  std::string_view name;  // lower case
  std::uint64_t factor;
};

constexpr std::uint64_t kKi = 1024;
constexpr std::array<Unit, 13> kUnits{{
    {"", 1},
    {"b", 1},
    {"k", kKi},
    {"kib", kKi},
    {"kb", 1000},
    {"m", kKi* kKi},
    {"mib", kKi* kKi},
    {"mb", 1000 * 1000},
    {"g", kKi* kKi* kKi},
    {"gib", kKi* kKi* kKi},
    {"gb", 1000 * 1000 * 1000},
    {"tib", kKi* kKi* kKi* kKi},
    {"tb", 1000ull * 1000 * 1000 * 1000},
}};

Status bad_size(std::string_view text, std::string_view why) {
  // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string here.
  std::string message;
  message.append("'").append(text).append("' is not a size (").append(why);
  message.append(
      "); write bytes, optionally with a unit: KiB, MiB, GiB (1024-based) or KB, MB, GB (1000-based), "
      "e.g. 4MiB");
  return Status(Code::kInvalidArgument, std::move(message));
}

}  // namespace

Result<std::uint64_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return bad_size(text, text.empty() ? "it is empty" : "it does not start with a digit");
  std::uint64_t number = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const std::uint64_t d = static_cast<std::uint64_t>(text[i] - '0');
    if (number > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return bad_size(text, "too large");
    number = number * 10 + d;
  }
  std::size_t unit_at = digits;
  if (unit_at < text.size() && text[unit_at] == ' ') ++unit_at;  // "4 MiB", as format_size() writes it
  std::string unit;
  for (char c : text.substr(unit_at)) unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (unit == "t") unit = "tib";
  if (unit_at != digits && unit.empty()) return bad_size(text, "a space but no unit");
  for (const Unit& u : kUnits) {
    if (u.name != unit) continue;
    if (number > std::numeric_limits<std::uint64_t>::max() / u.factor) return bad_size(text, "too large");
    return number * u.factor;
  }
  return bad_size(text, "unknown unit '" + std::string(text.substr(digits)) + "'");
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<std::string_view, 4> kNames{"KiB", "MiB", "GiB", "TiB"};
  std::string_view best;
  std::uint64_t value = bytes;
  std::uint64_t factor = 1;
  for (std::string_view name : kNames) {
    factor *= kKi;
    if (bytes == 0 || bytes % factor != 0) break;
    value = bytes / factor;
    best = name;
  }
  if (best.empty()) return std::to_string(bytes) + " B";
  return std::to_string(value) + " " + std::string(best);
}

}  // namespace rill::cli
