// What a scenario means before anything runs (runner.h): the transports
// `--transport` knows, which ones a scenario runs (its own, and with
// --compare the matching baselines and, in durable runs, rill's own
// transports in memory), whether it writes files, and the
// checks that refuse what cannot be run, each naming the flag.
#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "bench/suite/phase.h"
#include "bench/suite/runner.h"
#include "rill/producer.h"

namespace rill::bench {

const std::vector<std::string>& known_transports() {
  static const std::vector<std::string> names = {"rill-inproc", "rill-ipc",       "boost-spsc", "uds",
                                                 "pipe",        "iceoryx",        "zmq-ipc",    "zmq-inproc",
                                                 "pingpong-floor", "raw-write", "raw-fdatasync", "raw-group-commit",
                                                 "rill-inproc@memory", "rill-ipc@memory"};
  return names;
}

Status validate_scenario(const Scenario& s) {
  auto bad = [](std::string text) { return Status(Code::kInvalidArgument, std::move(text)); };
  if (s.transports.empty()) return bad("--transport: name at least one transport");
  for (const std::string& t : s.transports)
    if (std::find(known_transports().begin(), known_transports().end(), t) == known_transports().end())
      return bad("--transport: unknown transport '" + t +
                 "' (expected rill-inproc, rill-ipc, boost-spsc, uds, pipe, iceoryx, zmq-ipc, zmq-inproc, "
                 "pingpong-floor, raw-write, raw-fdatasync, raw-group-commit, rill-inproc@memory or rill-ipc@memory)");
  if (s.producers < 1 || s.producers > kMaxProducers) return bad("--producers must be 1.." + std::to_string(kMaxProducers));
  if (s.consumers < 1 || s.consumers > kMaxConsumers) return bad("--consumers must be 1.." + std::to_string(kMaxConsumers));
  if (s.partitions < 1 || s.partitions > kMaxPartitions) return bad("--partitions must be 1.." + std::to_string(kMaxPartitions));
  if (s.split && s.partitions < s.consumers)
    return bad("--split needs at least as many partitions as consumers (" + std::to_string(s.partitions) + " < " +
               std::to_string(s.consumers) + "): a consumer without a partition receives nothing");
  if (s.record_bytes < kMinRecordBytes || s.record_bytes > kMaxRecordBytes)
    return bad("--size must be " + std::to_string(kMinRecordBytes) +
               " B to 1 MiB (a record carries at least its 7-byte sequence tag and a check byte)");
  if (s.pingpong) {
    if (s.producers != 1 || s.consumers != 1 || s.partitions != 1)
      return bad("--pingpong runs one producer, one echoing consumer and one partition (drop -P, -C and --partitions)");
    if (s.rate_rps) return bad("--pingpong is one record in flight by construction: drop --rate (or give --rate max)");
    if (s.split) return bad("--pingpong has one consumer: drop --split");
  }
  if (s.exclusive && s.producers != 1)
    return bad("--exclusive: each partition takes one exclusive producer, and producers send to every partition in "
               "turn: run one producer (-P 1)");
  if (s.batch < 1 || s.batch > kMaxBatch) return bad("--batch must be 1.." + std::to_string(kMaxBatch));
  if (s.rate_rps && !(*s.rate_rps > 0 && std::isfinite(*s.rate_rps) && *s.rate_rps <= 1e9))
    return bad("--rate must be a positive number of records/s up to 1e9, or max");
  if (s.count == 0 && s.duration_ns <= 0) return bad("--duration must be positive");
  if (s.warmup_ns < 0) return bad("--warmup must not be negative");
  if (auto w = parse_wait_kind(s.wait); !w.is_ok()) return w.status();
  if (s.clock != "tsc" && s.clock != "monotonic" && s.clock != "auto")
    return bad("--clock must be tsc, monotonic or auto");
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  for (int c : s.cpus)
    if (c < 0 || c >= cores) return bad("--cpus: no core " + std::to_string(c) + " (this machine has 0.." + std::to_string(cores - 1) + ")");
  Durability durability = Durability::kMemory;
  if (!parse_durability(s.durability, &durability))
    return bad("--durability: '" + s.durability + "' is not memory, written or fsync");
  if (durability != Durability::kMemory)
    for (const std::string& t : s.transports)
      if (!is_rill(t) && !is_disk_baseline(t))
        return bad("--durability " + s.durability + ": " + t +
                   " keeps records in memory only and cannot honour it (durable runs take rill-inproc, rill-ipc, "
                   "raw-write, raw-fdatasync and raw-group-commit; --compare adds the in-memory baselines beside them)");
  if (!s.data_dir.empty() && !writes_files(s))
    return bad("--data-dir: this run writes no files (that takes --durability written or fsync, or the disk "
               "baselines raw-write, raw-fdatasync and raw-group-commit)");
  if (s.acks != "none") return bad("--acks " + s.acks + ": rill has no replication yet; only none can be measured");
  if (s.deadline) {
    if (s.deadline->deadline_ns <= 0) return bad("--deadline must be positive");
    if (!(s.deadline->max_miss_rate >= 0 && s.deadline->max_miss_rate <= 1)) return bad("--max-miss-rate must be in [0, 1]");
  }
  if (s.repeat < 1 || s.repeat > 100) return bad("--repeat must be 1..100");
  return Status::ok();
}

bool writes_files(const Scenario& s) {
  const std::vector<std::string> names = transports_to_run(s);
  return s.durability != "memory" ||
         std::any_of(names.begin(), names.end(), [](const std::string& t) { return is_disk_baseline(t); });
}

std::vector<std::string> transports_to_run(const Scenario& s) {
  std::vector<std::string> out;
  auto add = [&](const std::string& t) {
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  };
  for (const std::string& t : s.transports) add(t);
  if (s.compare) {
    // A durable run's own transports in memory first: persistence on / off.
    if (s.durability != "memory")
      for (const std::string& t : s.transports)
        if (is_rill(t) && !is_memory_reference(t)) add(t + "@memory");
    for (const std::string& named : s.transports) {
      const std::string_view t = without_reference(named);
      if (t == "rill-inproc") {
        add("boost-spsc");
        add("zmq-inproc");
      }
      if (t == "rill-ipc") {
        add("iceoryx");
        add("zmq-ipc");
        add("uds");
        add("pipe");
      }
    }
    add("pingpong-floor");
    if (s.durability != "memory") {
      add("raw-write");
      add("raw-fdatasync");
      // Many producers waiting for syncs: the same sharing done by hand.
      if (s.durability == "fsync" && s.producers > 1) add("raw-group-commit");
    }
  }
  return out;
}

}  // namespace rill::bench
