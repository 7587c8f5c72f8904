#include "bench/suite/histogram.h"

#include <algorithm>
#include <cmath>

namespace rill::bench {

void Histogram::clear() noexcept {
  counts_.fill(0);
  count_ = sum_ = max_ = clamped_low_ = clamped_high_ = 0;
  min_ = ~std::uint64_t{0};
}

void Histogram::merge(const Histogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) add(counts_[i], load(other.counts_[i]));
  add(count_, other.count());
  add(sum_, load(other.sum_));
  add(clamped_low_, other.clamped_low());
  add(clamped_high_, other.clamped_high());
  if (other.count() != 0) {
    store(min_, std::min(load(min_), load(other.min_)));
    store(max_, std::max(load(max_), load(other.max_)));
  }
}

std::uint64_t Histogram::bucket_lowest(std::size_t bucket) noexcept {
  if (bucket < kLinearLimit) return bucket;
  const std::uint64_t shift = (bucket - kLinearLimit) / kSubBuckets + 1;
  const std::uint64_t sub = (bucket - kLinearLimit) % kSubBuckets + kSubBuckets;
  return sub << shift;
}

std::uint64_t Histogram::bucket_highest(std::size_t bucket) noexcept {
  if (bucket < kLinearLimit) return bucket;
  const std::uint64_t shift = (bucket - kLinearLimit) / kSubBuckets + 1;
  return bucket_lowest(bucket) + (std::uint64_t{1} << shift) - 1;
}

double Histogram::mean() const noexcept {
  const std::uint64_t n = count();
  return n ? static_cast<double>(load(sum_)) / static_cast<double>(n) : 0.0;
}

double Histogram::stddev() const noexcept {
  const std::uint64_t n = count();
  if (n == 0) return 0.0;
  const double m = mean();
  double squares = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    const std::uint64_t c = load(counts_[i]);
    if (c == 0) continue;
    const double mid = (static_cast<double>(bucket_lowest(i)) + static_cast<double>(bucket_highest(i))) / 2.0;
    squares += static_cast<double>(c) * (mid - m) * (mid - m);
  }
  return std::sqrt(squares / static_cast<double>(n));
}

std::int64_t Histogram::value_at(double q) const noexcept {
  const std::uint64_t n = count();
  if (n == 0) return 0;
  if (!(q > 0.0)) return min();
  if (q >= 1.0) return max();
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n)));
  rank = std::clamp<std::uint64_t>(rank, 1, n);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += load(counts_[i]);
    if (seen >= rank) {
      const auto v = static_cast<std::int64_t>(bucket_highest(i));
      return std::clamp(v, min(), max());
    }
  }
  return max();  // a live snapshot whose buckets lag its count
}

std::vector<Histogram::Point> Histogram::cumulative() const {
  std::vector<Point> points;
  const std::uint64_t n = count();
  if (n == 0) return points;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    const std::uint64_t c = load(counts_[i]);
    if (c == 0) continue;
    seen += c;
    const auto v = std::clamp(static_cast<std::int64_t>(bucket_highest(i)), min(), max());
    points.push_back({v, static_cast<double>(seen) / static_cast<double>(n)});
  }
  if (!points.empty()) points.back() = {max(), 1.0};
  return points;
}

}  // namespace rill::bench
