#include "tools/rill/start_offset.h"

#include <charconv>
#include <limits>
#include <string>

namespace rill::cli {
namespace {

Status bad_offset(std::string_view text, std::string_view why) {
  return Status(Code::kInvalidArgument, "-o '" + std::string(text) + "': " + std::string(why) +
                                            "; use beginning, end, an offset N, -N (N before the end) or "
                                            "s@MILLISECONDS (a timestamp)");
}

// A whole number >= 0 that fits int64, with nothing around it.
bool parse_count(std::string_view text, std::int64_t* out) {
  if (text.empty() || text.front() == '+' || text.front() == '-') return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<StartOffset> parse_start_offset(std::string_view text) {
  using Kind = StartOffset::Kind;
  if (text == "beginning" || text == "earliest") return StartOffset{Kind::kBeginning, 0};
  if (text == "end" || text == "latest") return StartOffset{Kind::kEnd, 0};
  std::int64_t n = 0;
  if (text.substr(0, 2) == "s@") {
    if (!parse_count(text.substr(2), &n)) return bad_offset(text, "the timestamp is not a whole number of ms");
    if (n > std::numeric_limits<std::int64_t>::max() / 1'000'000) return bad_offset(text, "the timestamp is too large");
    return StartOffset{Kind::kTimestamp, n};
  }
  if (!text.empty() && text.front() == '-') {
    if (!parse_count(text.substr(1), &n) || n == 0) return bad_offset(text, "not a count of records before the end");
    return StartOffset{Kind::kFromEnd, n};
  }
  if (!parse_count(text, &n)) return bad_offset(text, "not a valid start position");
  return StartOffset{Kind::kAbsolute, n};
}

}  // namespace rill::cli
