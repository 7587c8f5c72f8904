// printable(): what the CLI's error and warning lines show of user input.
#include "tools/rill/diagnostics.h"

#include <gtest/gtest.h>

#include <string>

namespace rill::cli {
namespace {

TEST(CliPrintable, PrintableAsciiPassesUnchanged) {
  const std::string all_printable = [] {
    std::string s;
    for (char c = 0x20; c < 0x7F; ++c) s.push_back(c);
    return s;
  }();
  EXPECT_EQ(printable(all_printable), all_printable);
  EXPECT_EQ(printable(""), "");
}

TEST(CliPrintable, ControlCharactersAreEscaped) {
  EXPECT_EQ(printable("a\x1b[31mb"), "a\\x1b[31mb");
  EXPECT_EQ(printable("one\ntwo\rthree\tfour"), "one\\ntwo\\rthree\\tfour");
  EXPECT_EQ(printable(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(printable("\x7f\x01\x1f"), "\\x7f\\x01\\x1f");
}

TEST(CliPrintable, ValidUtf8PassesButC1ControlsAndInvalidBytesAreEscaped) {
  EXPECT_EQ(printable("50\xc2\xb5s"), "50\xc2\xb5s");                    // "µs"
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");                    // "é"
  EXPECT_EQ(printable("\xe2\x82\xac"), "\xe2\x82\xac");                  // "€"
  EXPECT_EQ(printable("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");          // an emoji, 4 bytes
  EXPECT_EQ(printable(std::string("\xc2\x9b") + "2J"), "\\xc2\\x9b2J");  // U+009B, CSI
  EXPECT_EQ(printable(std::string("\x9b") + "2J"), "\\x9b2J");           // a lone 8-bit CSI
  EXPECT_EQ(printable("\xc0\x80"), "\\xc0\\x80");                        // overlong NUL
  EXPECT_EQ(printable("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");               // overlong '/'
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");               // a UTF-16 surrogate
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");      // past U+10FFFF
  EXPECT_EQ(printable("\xe2\x82"), "\\xe2\\x82");                        // cut short
  EXPECT_EQ(printable(std::string("\xc3") + "A"), "\\xc3A");             // not a continuation byte
}

}  // namespace
}  // namespace rill::cli
