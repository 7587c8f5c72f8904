// CLI11 validators shared by the commands, with messages a person can act on
// (CLI11's own range checks print their bounds as 300-digit doubles).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace rill::cli {

// A whole number >= 0.
inline CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        long long v = 0;
        std::size_t used = 0;
        try {
          v = std::stoll(text, &used);
        } catch (const std::exception&) {
          return "'" + text + "' is not a whole number";
        }
        if (used != text.size()) return "'" + text + "' is not a whole number";
        if (v < 0) return "must be 0 or more, got " + text;
        return std::string();
      },
      "N>=0");
}

}  // namespace rill::cli
