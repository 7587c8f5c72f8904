#include "tools/rill/diagnostics.h"

#include <cstdio>
#include <string>

namespace rill::cli {
namespace {

void print_line(std::string_view prefix, std::string_view message) {
  std::string line(prefix);
  line.reserve(prefix.size() + message.size() + 1);
  for (char c : message) line.push_back(c == '\n' || c == '\r' ? ' ' : c);
  while (!line.empty() && line.back() == ' ') line.pop_back();
  line.push_back('\n');
  // stderr is unbuffered: one fwrite keeps the line whole among other writers.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

int report_error(std::string_view message) {
  print_line("rill: error: ", message);
  return kExitFailure;
}

int report_error(const Status& status) {
  // Core messages already say what went wrong ("topic 'x' does not exist ...");
  // only the internal and corruption codes gain from their name in front.
  if (status.code() == Code::kInternal || status.code() == Code::kCorrupt) return report_error(status.to_string());
  return report_error(status.message());
}

void report_warning(std::string_view message) {
  print_line("rill: warning: ", message);
}

}  // namespace rill::cli
