// Runs a `rill bench` scenario: for each transport, a throughput phase (as
// fast as the producers can go: records/s) and then a latency phase (at a
// fixed rate well below saturation, or one record in flight per producer:
// one-way latency from each record's intended send time, and raw from its
// actual send time), repeated `scenario.repeat` times with the transports
// interleaved (A B C A B C ...), so that each run's ratios compare
// transports measured minutes apart at most.
//
// Transports: rill-inproc (threads), rill-ipc (processes), and the
// baselines boost-spsc and zmq-inproc (threads), iceoryx (with a RouDi the
// run starts and stops), zmq-ipc, uds and pipe (processes) and
// pingpong-floor (a cache line bouncing between two cores: the physical
// floor; latency only, always one in flight, busy-spinning), and the disk
// baselines raw-write and raw-fdatasync (transports_disk.h).
//
// Durability (Scenario::durability written or fsync): rill's topics are
// durable, each in a shared namespace with a folder of its own inside the
// run's temporary data folder (data_folder.h), which goes when run_bench
// returns; producers send at that durability and time each send's
// acknowledgement (TransportResult::latency_ack); the topic's segment files
// are checked to hold every record sent and give file_bytes_per_s.
//
// Thread safety: call from the main thread of a process that runs no other
// thread (participants may be forked).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/suite/data_folder.h"
#include "bench/suite/report.h"

namespace rill::bench {

// Every transport name `--transport` accepts, rill's first.
const std::vector<std::string>& known_transports();

// kInvalidArgument naming the first field out of range (and what is allowed).
Status validate_scenario(const Scenario& scenario);

// What a scenario runs, in order: its transports, then with compare the
// baselines that match them (boost-spsc and zmq-inproc for rill-inproc;
// iceoryx, zmq-ipc, uds and pipe for rill-ipc) and pingpong-floor, and
// at durability written or fsync raw-write and raw-fdatasync, without
// duplicates.
std::vector<std::string> transports_to_run(const Scenario& scenario);

// Whether the scenario writes files (durability written or fsync, or a
// disk baseline to run): then run_bench makes a data folder.
bool writes_files(const Scenario& scenario);

// What a run is doing, for a live progress line.
struct Progress {
  std::string_view transport;
  std::string_view phase;  // "throughput" | "latency"
  int run = 0;             // from 1
  std::uint64_t records = 0;  // sent so far in this phase, all producers (warm-up included)
  double elapsed_s = 0;
  std::int64_t p99_ns = 0;  // of this phase's measured records so far (latency phase)
};
// Returns false to stop the run (e.g. on Ctrl-C): run_bench then returns
// kInternal "interrupted" after stopping its participants (within a second)
// and removing what it made.
using ProgressFn = std::function<bool(const Progress&)>;

// Runs the scenario (validated first) and returns its report: results with
// the runs merged (histograms merged, throughput the median), ratios over
// the runs. A transport that fails keeps its error in its result; the run
// goes on with the others. Leftovers of killed runs are removed first
// (remove_leftovers_of_dead_runs, in the data folder's parent too). A run
// that writes files makes its data folder in scenario.data_dir (empty:
// default_data_parent()) and removes it before returning; the report's
// scenario.data_dir names the parent, machine.data_fs its file system. `progress` (may be empty) is called about
// every 200 ms from the calling thread.
Result<Report> run_bench(const Scenario& scenario, const ProgressFn& progress);

}  // namespace rill::bench
