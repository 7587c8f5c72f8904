#!/usr/bin/env bash
# Runs rill_bench_transport N times (default 5) with JSON output and prints,
# for each target of the transport issue, the median ratio across runs and
# its min-max (see bench/README.md). Exit status: 0 if every target is met
# and no benchmark failed, 1 otherwise, 2 on a usage error.
#
#   bench/compare.sh [-n RUNS] [-b BINARY] [-o DIR] [-q SECONDS] [-- BENCHMARK ARGS...]
#
#   -n RUNS     runs of the binary (default 5)
#   -b BINARY   default: build/bench/bench/rill_bench_transport under the repository
#   -o DIR      where run-<i>.json are kept (default: a fresh temporary directory)
#   -q SECONDS  before each run, wait up to SECONDS for a quiet machine (both
#               cores >= 90% idle over one second; default 0: do not wait).
#               Another busy process on a 2-core VM ruins a busy-spin run.
#   after --    passed to every run, e.g. --rill_scale=0.5 or --benchmark_filter=lat/
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
runs=5
binary="$root/build/bench/bench/rill_bench_transport"
out=""
quiet=0

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# Percent of CPU time idle over one second, from /proc/stat.
idle_percent() {
  local a b
  read -r -a a < <(grep '^cpu ' /proc/stat)
  sleep 1
  read -r -a b < <(grep '^cpu ' /proc/stat)
  local total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  local idle=$(( (b[4] - a[4]) + (b[5] - a[5]) ))
  echo $(( total > 0 ? 100 * idle / total : 100 ))
}

wait_quiet() {
  local limit=$1 waited=0 idle
  while (( waited < limit )); do
    idle=$(idle_percent)
    (( idle >= 90 )) && return 0
    waited=$((waited + 1))
    (( waited % 30 == 0 )) && echo "compare.sh: machine busy (${idle}% idle), waiting..." >&2
  done
  echo "compare.sh: machine still busy after ${limit}s; running anyway (expect noise)" >&2
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) runs="${2:?}"; shift 2 ;;
    -b) binary="${2:?}"; shift 2 ;;
    -o) out="${2:?}"; shift 2 ;;
    -q) quiet="${2:?}"; shift 2 ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) echo "compare.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: -n needs a positive count, got '$runs'" >&2; exit 2; }
[[ "$quiet" =~ ^[0-9]+$ ]] || { echo "compare.sh: -q needs a number of seconds, got '$quiet'" >&2; exit 2; }
[[ -x "$binary" ]] || {
  echo "compare.sh: no benchmark binary at $binary; build it first:" >&2
  echo "  cmake -S $root -B $root/build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build $root/build/bench -j2" >&2
  exit 2
}
if [[ -z "$out" ]]; then
  out="$(mktemp -d "${TMPDIR:-/tmp}/rill-compare.XXXXXX")"
fi
mkdir -p "$out"

files=()
for ((i = 1; i <= runs; i++)); do
  (( quiet > 0 )) && wait_quiet "$quiet"
  echo "compare.sh: run $i of $runs -> $out/run-$i.json" >&2
  if ! "$binary" --benchmark_format=json "$@" >"$out/run-$i.json" 2>"$out/run-$i.log"; then
    echo "compare.sh: run $i exited with an error; see $out/run-$i.log" >&2
  fi
  files+=("$out/run-$i.json")
done

python3 "$here/ratios.py" "${files[@]}"
