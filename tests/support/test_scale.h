// How big a test run is.
//
// Every test that loops, produces or spawns takes its sizes from scaled():
//   RILL_TEST_SCALE   multiplier, default 1 (the fast default run). The
//                     "stress" ctest label runs the same binaries with a
//                     larger value (see tests/CMakeLists.txt).
// Under ThreadSanitizer, which runs this code 5-20x slower, sizes shrink by
// kSanitizerDivisor automatically so that the CI pass stays short; under
// AddressSanitizer they shrink by half.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#if defined(__SANITIZE_THREAD__)
#define RILL_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RILL_TEST_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define RILL_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RILL_TEST_ASAN 1
#endif
#endif

namespace rill::testing {

#ifdef RILL_TEST_TSAN
inline constexpr bool kUnderTsan = true;
inline constexpr double kSanitizerDivisor = 4;
#else
inline constexpr bool kUnderTsan = false;
#ifdef RILL_TEST_ASAN
inline constexpr double kSanitizerDivisor = 2;
#else
inline constexpr double kSanitizerDivisor = 1;
#endif
#endif

// RILL_TEST_SCALE, or 1 when unset or not a positive number.
inline double test_scale() {
  const char* env = std::getenv("RILL_TEST_SCALE");
  if (env == nullptr || *env == '\0') return 1;
  char* end = nullptr;
  const double v = std::strtod(env, &end);
  return (end != env && v > 0) ? v : 1;
}

// `base` times the scale, shrunk under sanitizers; never below `at_least`.
inline std::int64_t scaled(std::int64_t base, std::int64_t at_least = 1) {
  const double v = static_cast<double>(base) * test_scale() / kSanitizerDivisor;
  return std::max<std::int64_t>(at_least, static_cast<std::int64_t>(v));
}

}  // namespace rill::testing
