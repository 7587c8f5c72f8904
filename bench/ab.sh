#!/usr/bin/env bash
# A/B comparison of two rill binaries on one scenario, interleaved
# (A B A B ...) so that both see the same machine noise, as MEASURING.md asks.
# Prints `rill bench diff` of each adjacent pair: the change per percentile.
#
#   bench/ab.sh OLD_RILL NEW_RILL [PAIRS] -- [rill bench arguments]
#   bench/ab.sh build/rill-old build/release/tools/rill 5 -- --transport rill-ipc --compare --wait spin --rate max -d 2s
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 OLD_RILL NEW_RILL [PAIRS] -- [rill bench arguments]" >&2
  exit 2
fi
old=$1 new=$2
shift 2
pairs=5
if [ "${1:-}" != "--" ]; then pairs=$1; shift; fi
[ "${1:-}" = "--" ] && shift
out=$(mktemp -d /tmp/rill-ab.XXXXXX)
for i in $(seq 1 "$pairs"); do
  "$old" bench -q --json "$out/a$i.json" "$@" > /dev/null
  "$new" bench -q --json "$out/b$i.json" "$@" > /dev/null
  echo "== pair $i (A = $old, B = $new)"
  "$new" bench diff "$out/a$i.json" "$out/b$i.json"
done
echo "JSON files: $out"
