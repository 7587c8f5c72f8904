#!/usr/bin/env bash
# The README's first command: installs every dependency (Debian packages),
# builds rill (Release) and runs the demo: several producer and consumer
# processes sharing one topic, printing records/s and latency percentiles.
# Extra arguments go to `rill demo` (see `rill demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake --preset release
cmake --build --preset release
exec build/release/tools/rill demo "$@"
