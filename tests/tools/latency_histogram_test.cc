#include "tools/rill/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

namespace rill::cli {
namespace {

std::unique_ptr<LatencyHistogram> empty_histogram() {
  auto h = std::make_unique<LatencyHistogram>();
  h->clear();
  return h;
}

TEST(CliLatencyHistogram, BucketsCoverEveryValueWithinTheirBound) {
  std::uint64_t previous_bound = 0;
  for (std::size_t b = 0; b < LatencyHistogram::kBuckets; ++b) {
    const std::uint64_t bound = LatencyHistogram::bucket_upper_bound(b);
    ASSERT_EQ(LatencyHistogram::bucket_of(bound), b);
    if (b > 0) {
      ASSERT_GT(bound, previous_bound) << b;
      ASSERT_EQ(LatencyHistogram::bucket_of(previous_bound + 1), b);
    }
    previous_bound = bound;
  }
  EXPECT_EQ(previous_bound, ~0ull);
}

TEST(CliLatencyHistogram, PercentilesAreCloseUpperBounds) {
  auto h = empty_histogram();
  std::vector<std::int64_t> values;
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(9.0, 1.5);  // ~8 us median, long tail
  for (int i = 0; i < 100000; ++i) {
    const auto v = static_cast<std::int64_t>(dist(rng));
    values.push_back(v);
    h->record(v);
  }
  std::sort(values.begin(), values.end());
  EXPECT_EQ(h->count, values.size());
  EXPECT_EQ(h->min, values.front());
  EXPECT_EQ(h->max, values.back());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const std::int64_t exact = values[static_cast<std::size_t>(q * static_cast<double>(values.size())) - 1];
    const std::int64_t got = h->percentile(q);
    EXPECT_GE(got, exact) << q;
    EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1.0 + 1.0 / 32) + 1) << q;
  }
  EXPECT_EQ(h->percentile(1.0), values.back());
}

TEST(CliLatencyHistogram, SmallValuesAreExactAndNegativesCountAsZero) {
  auto h = empty_histogram();
  for (std::int64_t v : {-5, 0, 1, 2, 3, 31}) h->record(v);
  EXPECT_EQ(h->min, 0);
  EXPECT_EQ(h->percentile(0.0), 0);
  EXPECT_EQ(h->percentile(0.5), 1);
  EXPECT_EQ(h->percentile(1.0), 31);
}

TEST(CliLatencyHistogram, MergeAddsCounts) {
  auto a = empty_histogram();
  auto b = empty_histogram();
  for (int i = 0; i < 100; ++i) a->record(1000);
  for (int i = 0; i < 100; ++i) b->record(100000);
  a->merge(*b);
  EXPECT_EQ(a->count, 200u);
  EXPECT_EQ(a->min, 1000);
  EXPECT_EQ(a->max, 100000);
  EXPECT_LE(a->percentile(0.5), 1000 + 1000 / 32);
  EXPECT_GE(a->percentile(0.51), 100000);
  auto empty = empty_histogram();
  EXPECT_EQ(empty->percentile(0.5), 0);
  empty->merge(*a);
  EXPECT_EQ(empty->count, 200u);
  EXPECT_EQ(empty->min, 1000);
}

}  // namespace
}  // namespace rill::cli
