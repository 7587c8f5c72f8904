#!/usr/bin/env python3
"""Ratios of rill_bench_transport results, per run, then median and min-max.

Usage: ratios.py RUN.json [RUN.json ...]

Each file is one run of rill_bench_transport --benchmark_format=json. Every
ratio is computed inside one run (numerator and denominator measured by the
same process, minutes apart at most), then summarised across runs: on a
noisy machine only ratios from one run mean something (MEASURING.md).
Standard library only.
"""
import json
import statistics
import sys

# (label, numerator, denominator, metric, kind, target)
#   metric: "ips" = items_per_second, or a latency counter such as "p50_ns"
#   kind:   ">=" ratio must be at least target; "<=" at most; None = information
TARGETS = [
    ("rill send / Boost spsc, records/s", "tput/rill_send", "tput/boost_spsc", "ips", ">=", 0.7),
    ("rill send_batch(64) / Boost spsc, records/s", "tput/rill_send_batch64", "tput/boost_spsc", "ips", ">=", 1.0),
    ("rill one-way p50 / raw cache-line one-way p50", "lat/rill", "lat/raw_cacheline", "p50_ns", "<=", 2.0),
    ("IPC slowdown, send: in-process / IPC records/s", "tput/rill_send", "tput/rill_ipc_send", "ips", "<=", 1.2),
    ("IPC slowdown, send_batch(64): in-process / IPC records/s", "tput/rill_send_batch64",
     "tput/rill_ipc_send_batch64", "ips", "<=", 1.2),
    ("IPC slowdown, one-way p50: IPC / in-process", "lat/rill_ipc", "lat/rill", "p50_ns", "<=", 1.2),
]

INFO = [
    ("rill IPC one-way p50 / raw one-way p50", "lat/rill_ipc", "lat/raw_cacheline", "p50_ns"),
    ("rill one-way p99 / raw one-way p99", "lat/rill", "lat/raw_cacheline", "p99_ns"),
    ("IPC slowdown, one-way p99: IPC / in-process", "lat/rill_ipc", "lat/rill", "p99_ns"),
    ("Boost spsc one-way p50 / raw one-way p50", "lat/boost_spsc", "lat/raw_cacheline", "p50_ns"),
    ("rill one-way p50 / Boost spsc one-way p50", "lat/rill", "lat/boost_spsc", "p50_ns"),
    ("rill, caller timestamps: one-way p50 / raw p50", "lat/info_rill_caller_ts", "lat/raw_cacheline", "p50_ns"),
    ("partition ring alone (no client layer): p50 / raw p50", "lat/info_ring", "lat/raw_cacheline", "p50_ns"),
    ("raw two-line message p50 / raw one-line p50", "lat/info_raw_2lines", "lat/raw_cacheline", "p50_ns"),
    ("raw across processes p50 / raw in-process p50", "lat/info_raw_cacheline_ipc", "lat/raw_cacheline", "p50_ns"),
    ("rill send, caller timestamps / Boost spsc, records/s", "tput/info_rill_send_caller_ts", "tput/boost_spsc",
     "ips"),
    ("rill send_batch(64) / Boost push(64 items), records/s", "tput/rill_send_batch64",
     "tput/info_boost_spsc_push64", "ips"),
]


def load(path):
    """Returns {benchmark name: entry} for one run; errors keep their message."""
    with open(path) as f:
        doc = json.load(f)
    runs = {}
    for b in doc.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        name = b["name"].split("/iterations:")[0].split("/repeats:")[0]
        runs.setdefault(name, []).append(b)
    out = {}
    for name, entries in runs.items():
        ok = [e for e in entries if not e.get("error_occurred")]
        if not ok:
            out[name] = {"error": entries[0].get("error_message", "error")}
            continue
        merged = {}
        for key in ("items_per_second", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns", "max_ns", "mean_ns"):
            values = [e[key] for e in ok if key in e]
            if values:
                merged[key] = statistics.median(values)  # repetitions inside one run, if any
        out[name] = merged
    return out


def metric(entry, m):
    if entry is None or "error" in entry:
        return None
    return entry.get("items_per_second" if m == "ips" else m)


def ratio(run, num, den, m):
    a, b = metric(run.get(num), m), metric(run.get(den), m)
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


def summarise(values):
    v = [x for x in values if x is not None]
    if not v:
        return None, None, None, 0
    return statistics.median(v), min(v), max(v), len(v)


def main(paths):
    runs = [load(p) for p in paths]
    n = len(runs)
    print(f"rill_bench_transport: {n} run(s); each ratio is computed within one run, then median [min-max] across runs.\n")
    header = f"{'target':58s} {'goal':>7s} {'median':>7s} {'min-max':>13s} {'runs':>4s}  met?"
    print(header)
    print("-" * len(header))
    all_met = True
    for label, num, den, m, kind, goal in TARGETS:
        med, lo, hi, k = summarise([ratio(r, num, den, m) for r in runs])
        if med is None:
            met = "NO DATA"
            all_met = False
        else:
            ok = med >= goal if kind == ">=" else med <= goal
            met = "yes" if ok else "NO"
            all_met = all_met and ok
            # A target met by the median but not by every run is flagged.
            every = (lo >= goal) if kind == ">=" else (hi <= goal)
            if ok and not every:
                met += " (not in every run)"
        print(f"{label:58s} {kind + ' ' + str(goal):>7s} {fmt(med):>7s} {fmt(lo) + '-' + fmt(hi):>13s} {k:>4d}  {met}")
    print()
    print(f"{'information (no target)':58s} {'':>7s} {'median':>7s} {'min-max':>13s} {'runs':>4s}")
    print("-" * len(header))
    for label, num, den, m in INFO:
        med, lo, hi, k = summarise([ratio(r, num, den, m) for r in runs])
        print(f"{label:58s} {'':>7s} {fmt(med):>7s} {fmt(lo) + '-' + fmt(hi):>13s} {k:>4d}")

    names = sorted({name for r in runs for name in r})
    print("\nraw figures, median [min-max] across runs (absolute values move 2-3x on this machine; quote ratios)")
    print(f"{'throughput':34s} {'M records/s':>22s}")
    for name in (n for n in names if n.startswith("tput/")):
        med, lo, hi, _ = summarise([metric(r.get(name), "ips") for r in runs])
        cell = "-" if med is None else f"{med * 1e-6:.2f} [{lo * 1e-6:.2f}-{hi * 1e-6:.2f}]"
        print(f"{name:34s} {cell:>22s}")
    print(f"{'one-way latency, ns':34s} {'p50':>14s} {'p99':>16s} {'p99.9':>18s} {'mean':>20s}")
    for name in (n for n in names if n.startswith("lat/")):
        cells = []
        for key, width in (("p50_ns", 14), ("p99_ns", 16), ("p999_ns", 18), ("mean_ns", 20)):
            med, lo, hi, _ = summarise([metric(r.get(name), key) for r in runs])
            cells.append(("-" if med is None else f"{med:.0f} [{lo:.0f}-{hi:.0f}]").rjust(width))
        print(f"{name:34s} " + " ".join(cells))
    errors = [(i + 1, name, e["error"]) for i, r in enumerate(runs) for name, e in r.items() if "error" in e]
    for run, name, message in errors:
        print(f"run {run}: {name} FAILED: {message}")
    return 0 if all_met and not errors else 1


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
