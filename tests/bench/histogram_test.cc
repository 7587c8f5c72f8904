// Histogram accuracy against exact sorted percentiles, merging, clamping,
// and the bucket layout.
#include "bench/suite/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace rill::bench {
namespace {

constexpr double kQuantiles[] = {0.0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1.0};
constexpr double kMaxRelativeError = 1.0 / 128;

// Nearest rank: the smallest sample with at least q of all samples at or below it.
std::int64_t exact_at(const std::vector<std::int64_t>& sorted, double q) {
  if (q <= 0) return sorted.front();
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// Every quantile is at or above the exact one and within 1/128 of it; min,
// max, count and mean are exact.
void expect_accurate(const Histogram& h, std::vector<std::int64_t> values) {
  std::sort(values.begin(), values.end());
  ASSERT_EQ(h.count(), values.size());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  long double sum = 0;
  for (auto v : values) sum += static_cast<long double>(v);
  EXPECT_NEAR(h.mean(), static_cast<double>(sum / values.size()), 1e-6 * h.mean() + 1e-9);
  for (double q : kQuantiles) {
    const std::int64_t exact = exact_at(values, q);
    const std::int64_t got = h.value_at(q);
    EXPECT_GE(got, exact) << "q=" << q;
    EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1 + kMaxRelativeError)) << "q=" << q;
  }
}

std::unique_ptr<Histogram> histogram_of(const std::vector<std::int64_t>& values) {
  auto h = std::make_unique<Histogram>();
  for (auto v : values) h->record(v);
  return h;
}

TEST(Histogram, EmptyReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.value_at(0.5), 0);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stddev(), 0.0);
  EXPECT_TRUE(h.cumulative().empty());
}

TEST(Histogram, SmallValuesAreExact) {
  std::vector<std::int64_t> values;
  for (int v = 0; v < 256; ++v) values.push_back(v);
  auto h = histogram_of(values);
  for (int v = 1; v <= 256; ++v) EXPECT_EQ(h->value_at(v / 256.0), v - 1);
}

TEST(Histogram, BucketsTileTheRangeWithoutGapsAndWithinTheErrorBound) {
  std::uint64_t next = 0;
  for (std::size_t b = 0; b < Histogram::kBuckets; ++b) {
    ASSERT_EQ(Histogram::bucket_lowest(b), next) << b;
    const std::uint64_t lo = Histogram::bucket_lowest(b), hi = Histogram::bucket_highest(b);
    ASSERT_EQ(Histogram::bucket_of(lo), b);
    ASSERT_EQ(Histogram::bucket_of(hi), b);
    if (lo > 0) {
      ASSERT_LE(static_cast<double>(hi - lo), static_cast<double>(lo) * kMaxRelativeError) << b;
    }
    next = hi + 1;
  }
  EXPECT_GT(next, static_cast<std::uint64_t>(Histogram::kHighest));
}

TEST(Histogram, UniformRandomMatchesExactPercentiles) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::int64_t> dist(1, 10'000'000);
  std::vector<std::int64_t> values(200'000);
  for (auto& v : values) v = dist(rng);
  expect_accurate(*histogram_of(values), values);
}

TEST(Histogram, BimodalMatchesExactPercentiles) {
  // 99% around 200 ns, 1% around 2 ms: the tail a mean would hide.
  std::mt19937_64 rng(7);
  std::normal_distribution<double> fast(200, 20), slow(2'000'000, 100'000);
  std::bernoulli_distribution is_slow(0.01);
  std::vector<std::int64_t> values(300'000);
  for (auto& v : values) v = std::max<std::int64_t>(1, std::llround(is_slow(rng) ? slow(rng) : fast(rng)));
  auto h = histogram_of(values);
  expect_accurate(*h, values);
  EXPECT_LT(h->value_at(0.98), 1000);
  EXPECT_GT(h->value_at(0.995), 1'000'000);
}

TEST(Histogram, HeavyTailMatchesExactPercentiles) {
  // Pareto (alpha 1.1) from 100 ns: values spread over eight decades.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::int64_t> values(300'000);
  for (auto& v : values) v = std::min<std::int64_t>(Histogram::kHighest, std::llround(100.0 / std::pow(1.0 - u(rng), 1.0 / 1.1)));
  expect_accurate(*histogram_of(values), values);
}

TEST(Histogram, AdversarialBucketEdgesMatchExactPercentiles) {
  // Values at the top and bottom of buckets, where rounding would show.
  std::vector<std::int64_t> values;
  for (std::size_t b = 200; Histogram::bucket_highest(b) <= Histogram::kHighest; b += 37) {
    values.push_back(static_cast<std::int64_t>(Histogram::bucket_lowest(b)));
    values.push_back(static_cast<std::int64_t>(Histogram::bucket_highest(b)));
  }
  expect_accurate(*histogram_of(values), values);
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> dist(8.0, 2.0);
  std::vector<std::int64_t> all;
  auto a = std::make_unique<Histogram>(), b = std::make_unique<Histogram>(), empty = std::make_unique<Histogram>();
  for (int i = 0; i < 100'000; ++i) {
    const auto v = std::min<std::int64_t>(Histogram::kHighest, std::llround(dist(rng)));
    all.push_back(v);
    (i % 3 == 0 ? *a : *b).record(v);
  }
  a->merge(*b);
  a->merge(*empty);
  expect_accurate(*a, all);
  auto one = histogram_of(all);
  for (double q : kQuantiles) EXPECT_EQ(a->value_at(q), one->value_at(q));
  EXPECT_DOUBLE_EQ(a->stddev(), one->stddev());

  empty->merge(*one);
  EXPECT_EQ(empty->min(), one->min());
  EXPECT_EQ(empty->max(), one->max());
}

TEST(Histogram, OutOfRangeValuesAreClampedAndCounted) {
  Histogram h;
  h.record(-5);
  h.record(Histogram::kHighest + 1);
  h.record(100);
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.clamped_low(), 1u);
  EXPECT_EQ(h.clamped_high(), 1u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), Histogram::kHighest);
}

TEST(Histogram, StddevIsCloseToTheExactOne) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> dist(50'000, 5'000);
  std::vector<std::int64_t> values(100'000);
  double sum = 0, squares = 0;
  for (auto& v : values) sum += static_cast<double>(v = std::llround(dist(rng)));
  const double mean = sum / static_cast<double>(values.size());
  for (auto v : values) squares += (static_cast<double>(v) - mean) * (static_cast<double>(v) - mean);
  const double exact = std::sqrt(squares / static_cast<double>(values.size()));
  EXPECT_NEAR(histogram_of(values)->stddev(), exact, exact * 0.01);
}

TEST(Histogram, CumulativeIsIncreasingAndEndsAtMax) {
  auto h = histogram_of({5, 5, 300, 7000, 7000, 7000, 1'000'000});
  const auto points = h->cumulative();
  ASSERT_EQ(points.size(), 4u);
  EXPECT_EQ(points[0].value_ns, 5);
  EXPECT_DOUBLE_EQ(points[0].fraction, 2.0 / 7);
  EXPECT_DOUBLE_EQ(points[2].fraction, 6.0 / 7);
  EXPECT_EQ(points.back().value_ns, 1'000'000);
  EXPECT_DOUBLE_EQ(points.back().fraction, 1.0);
  for (std::size_t i = 1; i < points.size(); ++i) EXPECT_GT(points[i].value_ns, points[i - 1].value_ns);
}

}  // namespace
}  // namespace rill::bench
