// JSON-like records for the compression benchmarks (micro_bench_codec.cc)
// and the codec tests: what a typical event stream carries - the same field
// names in every record, a few values drawn from small sets (event types,
// countries, devices, paths), ids and timestamps that differ per record. So
// they compress as real event batches do, neither like zeros nor like noise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace rill::bench {

// A deterministic generator (xorshift64): the same seed gives the same records.
class JsonRecords {
 public:
  explicit JsonRecords(std::uint64_t seed = 0x9E3779B97F4A7C15ull) : x_(seed | 1) {}

  // The next record: about 200 bytes.
  std::string next() {
    static constexpr const char* kEvents[] = {"page_view", "add_to_cart", "checkout", "search", "login"};
    static constexpr const char* kCountries[] = {"DE", "FR", "US", "GB", "NL", "SE", "PL", "ES"};
    static constexpr const char* kDevices[] = {"mobile", "desktop", "tablet"};
    static constexpr const char* kPaths[] = {"/products/", "/cart/", "/search?q=", "/account/", "/checkout/step/"};
    char buffer[320];
    const std::uint64_t user = pick(1'000'000);
    const int n = std::snprintf(
        buffer, sizeof buffer,
        "{\"event\":\"%s\",\"user_id\":%llu,\"session\":\"%016llx\",\"ts\":%llu,\"url\":\"https://shop.example.com%s%llu\","
        "\"country\":\"%s\",\"device\":\"%s\",\"price_cents\":%llu,\"ab_test\":\"variant-%c\"}",
        kEvents[pick(5)], static_cast<unsigned long long>(user), static_cast<unsigned long long>(next_u64()),
        static_cast<unsigned long long>(1'700'000'000'000ull + (ts_ += pick(50))), kPaths[pick(5)],
        static_cast<unsigned long long>(pick(100'000)), kCountries[pick(8)], kDevices[pick(3)],
        static_cast<unsigned long long>(pick(50'000)), static_cast<char>('A' + pick(3)));
    return std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
  }

  // `count` records.
  std::vector<std::string> take(std::size_t count) {
    std::vector<std::string> out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) out.push_back(next());
    return out;
  }

 private:
  std::uint64_t next_u64() {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 7;
    x_ ^= x_ << 17;
    return x_;
  }
  std::uint64_t pick(std::uint64_t n) { return next_u64() % n; }

  std::uint64_t x_;
  std::uint64_t ts_ = 0;
};

}  // namespace rill::bench
