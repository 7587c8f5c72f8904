#include "tools/rill/sizes.h"

#include <gtest/gtest.h>

namespace rill::cli {
namespace {

TEST(CliSizes, PlainBytesAndBinaryUnits) {
  EXPECT_EQ(parse_size("0").value(), 0u);
  EXPECT_EQ(parse_size("4096").value(), 4096u);
  EXPECT_EQ(parse_size("4096B").value(), 4096u);
  EXPECT_EQ(parse_size("64KiB").value(), 64u * 1024);
  EXPECT_EQ(parse_size("64k").value(), 64u * 1024);
  EXPECT_EQ(parse_size("4MiB").value(), 4u << 20);
  EXPECT_EQ(parse_size("4mib").value(), 4u << 20);
  EXPECT_EQ(parse_size("4M").value(), 4u << 20);
  EXPECT_EQ(parse_size("1GiB").value(), 1ull << 30);
  EXPECT_EQ(parse_size("2TiB").value(), 2ull << 40);
  EXPECT_EQ(parse_size("4 MiB").value(), 4u << 20);
}

TEST(CliSizes, DecimalUnitsAreThousands) {
  EXPECT_EQ(parse_size("64KB").value(), 64000u);
  EXPECT_EQ(parse_size("4MB").value(), 4000000u);
  EXPECT_EQ(parse_size("1GB").value(), 1000000000u);
  EXPECT_EQ(parse_size("1TB").value(), 1000000000000u);
}

TEST(CliSizes, RejectsGarbageWithTheTextInTheMessage) {
  for (const char* bad : {"", "abc", "-1", "+4", "4XB", "4.5MiB", "4  MiB", " 4", "4 ", "MiB", "4MiBs", "0x10"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"), std::string::npos) << r.status().message();
  }
}

TEST(CliSizes, RejectsOverflow) {
  EXPECT_EQ(parse_size("18446744073709551615").value(), 18446744073709551615ull);
  EXPECT_FALSE(parse_size("18446744073709551616").is_ok());
  EXPECT_FALSE(parse_size("17179869184GiB").is_ok());  // 2^34 GiB = 2^64
  EXPECT_FALSE(parse_size("99999999999999999999999").is_ok());
}

TEST(CliSizes, FormatRoundTrips) {
  EXPECT_EQ(format_size(4u << 20), "4 MiB");
  EXPECT_EQ(format_size(64u << 10), "64 KiB");
  EXPECT_EQ(format_size(1ull << 30), "1 GiB");
  EXPECT_EQ(format_size(4097), "4097 B");
  EXPECT_EQ(format_size(0), "0 B");
  for (std::uint64_t v : {0ull, 1ull, 4096ull, 4097ull, 1ull << 20, 3ull << 30, 5ull << 40, 12345678ull})
    EXPECT_EQ(parse_size(format_size(v)).value(), v) << format_size(v);
}

}  // namespace
}  // namespace rill::cli
