// rill bench's durations, counts, rates and core lists.
#include "tools/rill/bench_args.h"

#include <gtest/gtest.h>

namespace rill::cli {
namespace {

TEST(ParseDuration, UnitsAndFractions) {
  EXPECT_EQ(parse_duration("5s").value(), 5'000'000'000);
  EXPECT_EQ(parse_duration("500ms").value(), 500'000'000);
  EXPECT_EQ(parse_duration("50us").value(), 50'000);
  EXPECT_EQ(parse_duration("50µs").value(), 50'000);
  EXPECT_EQ(parse_duration("100ns").value(), 100);
  EXPECT_EQ(parse_duration("1.5s").value(), 1'500'000'000);
  EXPECT_EQ(parse_duration("2m").value(), 120'000'000'000);
  EXPECT_EQ(parse_duration("0s").value(), 0);
}

TEST(ParseDuration, RefusesWhatIsNotADuration) {
  for (const char* text : {"", "5", "s", "-5s", "5 s", "5sec", "1e3s", "5s5", "..s", "99999999999999m"}) {
    auto r = parse_duration(text);
    ASSERT_FALSE(r.is_ok()) << text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(std::string("'") + text + "'"), std::string::npos) << r.status().message();
  }
}

TEST(ParseCount, SuffixesAreDecimal) {
  EXPECT_EQ(parse_count("1000").value(), 1000u);
  EXPECT_EQ(parse_count("100k").value(), 100'000u);
  EXPECT_EQ(parse_count("2M").value(), 2'000'000u);
  EXPECT_EQ(parse_count("1.5M").value(), 1'500'000u);
  EXPECT_EQ(parse_count("1G").value(), 1'000'000'000u);
  for (const char* text : {"", "k", "1.5", "10x", "-1", "1 k"}) EXPECT_FALSE(parse_count(text).is_ok()) << text;
}

TEST(ParseRate, CountOrMax) {
  EXPECT_FALSE(parse_rate("max").value().has_value());
  EXPECT_EQ(*parse_rate("100k").value(), 100'000.0);
  EXPECT_FALSE(parse_rate("0").is_ok());
  EXPECT_NE(parse_rate("fast").status().message().find("or max"), std::string::npos);
}

TEST(ParseCpus, ListsAndRanges) {
  EXPECT_EQ(parse_cpus("0,1").value(), (std::vector<int>{0, 1}));
  EXPECT_EQ(parse_cpus("2-4,0").value(), (std::vector<int>{2, 3, 4, 0}));
  EXPECT_EQ(parse_cpus("1,1").value(), (std::vector<int>{1, 1}));
  for (const char* text : {"", "a", "1,", ",1", "3-1", "1-", "-1", "0-99999"}) EXPECT_FALSE(parse_cpus(text).is_ok()) << text;
}

}  // namespace
}  // namespace rill::cli
