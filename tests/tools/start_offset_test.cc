#include "tools/rill/start_offset.h"

#include <gtest/gtest.h>

namespace rill::cli {
namespace {

using Kind = StartOffset::Kind;

TEST(CliStartOffset, NamedPositions) {
  EXPECT_EQ(parse_start_offset("beginning")->kind, Kind::kBeginning);
  EXPECT_EQ(parse_start_offset("earliest")->kind, Kind::kBeginning);
  EXPECT_EQ(parse_start_offset("end")->kind, Kind::kEnd);
  EXPECT_EQ(parse_start_offset("latest")->kind, Kind::kEnd);
}

TEST(CliStartOffset, AbsoluteRelativeAndTimestamp) {
  auto a = parse_start_offset("42");
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a->kind, Kind::kAbsolute);
  EXPECT_EQ(a->value, 42);
  EXPECT_EQ(parse_start_offset("0")->value, 0);
  auto r = parse_start_offset("-10");
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->kind, Kind::kFromEnd);
  EXPECT_EQ(r->value, 10);
  auto t = parse_start_offset("s@1700000000123");
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->kind, Kind::kTimestamp);
  EXPECT_EQ(t->value, 1700000000123);
}

TEST(CliStartOffset, RejectsGarbage) {
  for (const char* bad : {"", "begin", "x", "1x", "-0", "--1", "+5", "s@", "s@-1", "s@abc", "e@5",
                          "99999999999999999999", "s@99999999999999999"}) {
    auto r = parse_start_offset(bad);
    EXPECT_FALSE(r.is_ok()) << bad;
    if (!r.is_ok()) {
      EXPECT_NE(r.status().message().find("beginning, end"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace rill::cli
