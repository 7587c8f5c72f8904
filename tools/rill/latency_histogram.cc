#include "tools/rill/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace rill::cli {

void LatencyHistogram::clear() {
  std::memset(this, 0, sizeof *this);
}

std::size_t LatencyHistogram::bucket_of(std::uint64_t ns) noexcept {
  if (ns < kSubBuckets) return static_cast<std::size_t>(ns);
  const int top = 63 - std::countl_zero(ns);  // >= kSubBucketBits
  const int shift = top - kSubBucketBits;
  const std::size_t sub = static_cast<std::size_t>((ns >> shift) & (kSubBuckets - 1));
  return kSubBuckets + static_cast<std::size_t>(shift) * kSubBuckets + sub;
}

std::uint64_t LatencyHistogram::bucket_upper_bound(std::size_t bucket) noexcept {
  if (bucket < kSubBuckets) return bucket;
  const std::size_t shift = (bucket - kSubBuckets) / kSubBuckets;
  const std::uint64_t sub = (bucket - kSubBuckets) % kSubBuckets;
  const std::uint64_t low = (kSubBuckets + sub) << shift;
  return low + ((std::uint64_t{1} << shift) - 1);
}

void LatencyHistogram::record(std::int64_t ns) noexcept {
  if (ns < 0) ns = 0;
  ++counts[bucket_of(static_cast<std::uint64_t>(ns))];
  if (count == 0 || ns < min) min = ns;
  if (count == 0 || ns > max) max = ns;
  ++count;
  sum += static_cast<double>(ns);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count == 0) return;
  for (std::size_t i = 0; i < kBuckets; ++i) counts[i] += other.counts[i];
  min = count == 0 ? other.min : std::min(min, other.min);
  max = count == 0 ? other.max : std::max(max, other.max);
  count += other.count;
  sum += other.sum;
}

std::int64_t LatencyHistogram::percentile(double q) const {
  if (count == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Rank of the value at q: the smallest value with at least q of the samples at or below it.
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts[i];
    if (seen >= rank) return std::clamp(static_cast<std::int64_t>(bucket_upper_bound(i)), min, max);
  }
  return max;
}

}  // namespace rill::cli
