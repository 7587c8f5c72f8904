#!/usr/bin/env bash
# The README's second command, and all that CI runs (.ci/run calls it):
# installs dependencies, builds Release and runs every test except the long
# "stress" label, then builds with ThreadSanitizer and with
# AddressSanitizer+UBSan and runs the concurrency tests (short form) under
# each, and the shared-memory fuzzing (label fuzz) under the latter.
#   RILL_SKIP_SANITIZERS=1  skip the two sanitizer passes (local quick run)
#   RILL_STRESS=1           also run the long "stress" label
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
bash tools/setup.sh

echo "== Release build and tests"
cmake --preset release -DRILL_WERROR=ON  # warnings are errors in CI builds
cmake --build --preset release -j "$jobs"
if [ "${RILL_STRESS:-0}" = 1 ]; then
  ctest --preset release -j "$jobs" --timeout 1800
else
  ctest --preset release -j "$jobs" --timeout 600 -LE stress
fi

if [ "${RILL_SKIP_SANITIZERS:-0}" != 1 ]; then
  for preset in tsan asan; do
    labels=concurrency
    [ "$preset" = asan ] && labels='concurrency|fuzz'
    echo "== $preset build, tests labelled $labels"
    # The Google Benchmark programs run no test: not built under the sanitizers.
    cmake --preset "$preset" -DRILL_WERROR=ON -DRILL_BUILD_BENCH=OFF
    cmake --build --preset "$preset" -j "$jobs"
    ctest --preset "$preset" -j "$jobs" --timeout 900 -L "$labels" -LE stress
  done
fi
echo "== all tests passed"
