#include "tools/rill/diagnostics.h"

#include <cstdint>
#include <cstdio>
#include <string>

namespace rill::cli {
namespace {

// Length of the valid UTF-8 sequence of two or more bytes at the start of
// `text` that encodes a character from U+00A0 up (C1 controls excluded),
// or 0 if there is none.
std::size_t utf8_sequence(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    if (lead == 0xC2) low = 0xA0;  // C2 80 to C2 9F are the C1 controls
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  return length;
}

void print_line(std::string_view prefix, std::string_view message) {
  std::string line(prefix);
  line += printable(message);
  while (!line.empty() && line.back() == ' ') line.pop_back();
  line.push_back('\n');
  // stderr is unbuffered: one fwrite keeps the line whole among other writers.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const std::size_t n = utf8_sequence(text.substr(i)); n > 0) {
        out.append(text.substr(i, n));
        i += n;
        continue;
      }
    }
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\x";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
    ++i;
  }
  return out;
}

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
