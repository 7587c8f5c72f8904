// LatencyHistogram: a fixed log-linear histogram of nanosecond latencies, for
// `rill demo`. Deliberately simple (the full HDR histogram is a later issue):
//   - values below 32 ns have a bucket each;
//   - above, each power of two is split into 32 equal buckets, so a bucket's
//     upper bound is within 1/32 (3.1%) of any value in it.
// Percentiles are reported as the upper bound of the bucket that holds the
// rank (never below the true value, at most 3.1% above), capped by the exact
// maximum. min, max, count and sum are exact.
//
// Plain standard-layout data of fixed size, so that a child process can
// write it into memory shared with its parent. Thread safety: one writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace rill::cli {

struct LatencyHistogram {
  static constexpr int kSubBucketBits = 5;
  static constexpr std::size_t kSubBuckets = std::size_t{1} << kSubBucketBits;
  static constexpr std::size_t kBuckets = kSubBuckets + (64 - kSubBucketBits) * kSubBuckets;

  std::uint64_t counts[kBuckets];
  std::uint64_t count;
  std::int64_t min;
  std::int64_t max;
  double sum;

  // Empties the histogram (the state of a zero-filled one, too).
  void clear();
  // Adds one value; negative values (clock misuse) count as 0.
  void record(std::int64_t ns) noexcept;
  void merge(const LatencyHistogram& other);
  // The value at quantile q in [0, 1] (see above); 0 when empty.
  std::int64_t percentile(double q) const;
  double mean() const { return count ? sum / static_cast<double>(count) : 0.0; }

  // Bucket of a value, and the largest value a bucket holds.
  static std::size_t bucket_of(std::uint64_t ns) noexcept;
  static std::uint64_t bucket_upper_bound(std::size_t bucket) noexcept;
};

static_assert(std::is_standard_layout_v<LatencyHistogram> && std::is_trivially_copyable_v<LatencyHistogram>);

}  // namespace rill::cli
