// Histogram: a high-dynamic-range histogram of latencies in nanoseconds,
// written for rill's bench suite (the idea is HdrHistogram's; the code is
// ours).
//
// Buckets are log-linear: every value below 256 ns has a bucket of its own;
// above, each power of two [2^m, 2^(m+1)) is split into 128 equal buckets.
// A bucket's width is therefore at most 1/128 of any value in it, so a
// reported percentile is never below the exact one and at most 0.79% above
// it (the "≤ 1% relative error" the suite promises). The range is 0 ns to
// kHighest (60 s); larger values are counted as kHighest and reported in
// clamped_high(). min, max, count and the sum (hence the mean) are exact;
// the standard deviation is computed from the buckets.
//
// Plain fixed-size data, no pointers: it can live in memory shared with a
// forked process and be merged by the parent.
//
// Thread safety: one thread records; any thread may read a snapshot (each
// counter is read and written through atomic_ref, relaxed) while it does,
// e.g. for a live p99. Results are exact only once the writer has stopped and
// its work is visible to the reader (thread join, or a release/acquire pair).
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace rill::bench {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;  // 128 buckets per power of two
  static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBucketBits;
  static constexpr std::uint64_t kLinearLimit = 2 * kSubBuckets;     // values below have their own bucket
  static constexpr std::int64_t kHighest = 60'000'000'000;           // 60 s
  static constexpr int kTopMagnitude = std::bit_width(std::uint64_t{kHighest}) - 1;  // 35
  static constexpr std::size_t kBuckets = kLinearLimit + (kTopMagnitude - kSubBucketBits) * kSubBuckets;

  // An empty histogram (the state of a zero-filled one, too).
  Histogram() noexcept { clear(); }

  void clear() noexcept;

  // Counts one value. Negative values count as 0 and values above kHighest
  // as kHighest; both are also counted apart. No allocation, no lock.
  void record(std::int64_t ns) noexcept {
    std::uint64_t v;
    if (ns < 0) [[unlikely]] {
      bump(clamped_low_);
      v = 0;
    } else if (ns > kHighest) [[unlikely]] {
      bump(clamped_high_);
      v = kHighest;
    } else {
      v = static_cast<std::uint64_t>(ns);
    }
    bump(counts_[bucket_of(v)]);
    bump(count_);
    add(sum_, v);
    if (v < load(min_)) store(min_, v);
    if (v > load(max_)) store(max_, v);
  }

  // Adds every count of `other` into this one.
  void merge(const Histogram& other) noexcept;

  std::uint64_t count() const noexcept { return load(count_); }
  std::int64_t min() const noexcept { return count() ? static_cast<std::int64_t>(load(min_)) : 0; }
  std::int64_t max() const noexcept { return static_cast<std::int64_t>(load(max_)); }
  double mean() const noexcept;
  double stddev() const noexcept;  // from bucket midpoints (population)
  std::uint64_t clamped_low() const noexcept { return load(clamped_low_); }
  std::uint64_t clamped_high() const noexcept { return load(clamped_high_); }

  // The value at quantile q in [0, 1]: the highest value of the bucket that
  // holds the nearest rank ceil(q * count), capped by max() and at least
  // min(). value_at(0) is min(), value_at(1) is max(); 0 when empty.
  std::int64_t value_at(double q) const noexcept;

  // Values with the fraction of counts at or below them, for plots: one
  // point per non-empty bucket, in increasing order, the last at (max, 1).
  struct Point {
    std::int64_t value_ns;
    double fraction;  // of count(), at or below value_ns
  };
  std::vector<Point> cumulative() const;

  // Bucket of a value (0 <= v <= kHighest), and the bounds of a bucket.
  static std::size_t bucket_of(std::uint64_t v) noexcept {
    if (v < kLinearLimit) return static_cast<std::size_t>(v);
    const int magnitude = std::bit_width(v) - 1;  // >= 8
    const int shift = magnitude - kSubBucketBits;  // >= 1
    return static_cast<std::size_t>(kLinearLimit + (shift - 1) * kSubBuckets + ((v >> shift) - kSubBuckets));
  }
  static std::uint64_t bucket_lowest(std::size_t bucket) noexcept;
  static std::uint64_t bucket_highest(std::size_t bucket) noexcept;

 private:
  static std::uint64_t load(const std::uint64_t& word) noexcept {
    // Relaxed: a live reader wants a recent value, not an ordered one; the
    // final read is ordered by the writer's join or release (see above).
    return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(word)).load(std::memory_order_relaxed);
  }
  static void store(std::uint64_t& word, std::uint64_t v) noexcept {
    std::atomic_ref<std::uint64_t>(word).store(v, std::memory_order_relaxed);  // single writer; see load()
  }
  static void bump(std::uint64_t& word) noexcept { store(word, load(word) + 1); }
  static void add(std::uint64_t& word, std::uint64_t v) noexcept { store(word, load(word) + v); }

  alignas(64) std::array<std::uint64_t, kBuckets> counts_;
  std::uint64_t count_;
  std::uint64_t sum_;
  std::uint64_t min_;
  std::uint64_t max_;
  std::uint64_t clamped_low_;
  std::uint64_t clamped_high_;
};

static_assert(std::is_trivially_copyable_v<Histogram> && std::is_standard_layout_v<Histogram>);
static_assert(Histogram::kBuckets == 3840);

}  // namespace rill::bench
