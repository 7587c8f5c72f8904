// Ratios of rill's figures to the baselines', like with like, summarised
// over the runs (compute_ratios), and the small helpers they rest on.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "bench/suite/report.h"

namespace rill::bench {

bool is_rill(std::string_view transport) {
  return transport.starts_with("rill-");
}

bool is_memory_reference(std::string_view transport) {
  return is_rill(transport) && transport.ends_with("@memory");
}

std::string_view without_reference(std::string_view transport) {
  return is_memory_reference(transport) ? transport.substr(0, transport.size() - std::string_view("@memory").size())
                                        : transport;
}

bool is_disk_baseline(std::string_view transport) {
  return transport == "raw-write" || transport == "raw-fdatasync" || transport == "raw-group-commit";
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

namespace {

// A numerator of ratios: rill's transports, not their memory references.
bool numerator(std::string_view transport) { return is_rill(transport) && !is_memory_reference(transport); }

// The rill transport a baseline stands in for: boost-spsc for threads of one
// process (and zmq-inproc), uds, pipe, iceoryx and zmq-ipc for processes, a
// memory reference for its own transport; the floor, the disk baselines (and
// anything else) for both.
std::string_view counterpart(std::string_view baseline) {
  if (is_memory_reference(baseline)) return without_reference(baseline);
  if (baseline == "boost-spsc" || baseline == "zmq-inproc") return "rill-inproc";
  if (baseline == "uds" || baseline == "pipe" || baseline == "iceoryx" || baseline == "zmq-ipc") return "rill-ipc";
  return {};
}

// A baseline is compared with its counterpart when the run has it, else
// with every rill transport of the run; a memory reference only ever with
// its own transport.
bool compared(const std::vector<TransportResult>& run, std::string_view rill, std::string_view baseline) {
  const std::string_view mate = counterpart(baseline);
  if (mate.empty() || mate == rill) return true;
  if (is_memory_reference(baseline)) return false;  // only its own transport
  return std::none_of(run.begin(), run.end(), [&](const TransportResult& r) { return r.transport == mate; });
}

}  // namespace

std::vector<Ratio> compute_ratios(const std::vector<std::vector<TransportResult>>& runs) {
  static constexpr std::array<std::string_view, 8> kMetrics = {"throughput", "bytes/s", "p50",     "p99",
                                                                "p99.9",      "ack p50", "ack p99", "ack p99.9"};
  std::vector<std::string> numerators, denominators;  // first-seen order
  std::map<std::tuple<std::string, std::string, std::size_t>, std::vector<double>> per_run;
  auto note = [](std::vector<std::string>& seen, const std::string& name) {
    if (std::find(seen.begin(), seen.end(), name) == seen.end()) seen.push_back(name);
  };
  for (const auto& run : runs) {
    for (const TransportResult& r : run) note(numerator(r.transport) ? numerators : denominators, r.transport);
    for (const TransportResult& num : run) {
      if (!numerator(num.transport) || !num.error.empty()) continue;
      for (const TransportResult& den : run) {
        if (numerator(den.transport) || !den.error.empty() || !compared(run, num.transport, den.transport)) continue;
        auto add = [&](std::size_t metric, double n, double d) {
          const double ratio = n / d;
          if (d > 0 && std::isfinite(ratio)) per_run[{num.transport, den.transport, metric}].push_back(ratio);
        };
        if (num.throughput_rps && den.throughput_rps) add(0, *num.throughput_rps, *den.throughput_rps);
        if (num.file_bytes_per_s && den.file_bytes_per_s) add(1, *num.file_bytes_per_s, *den.file_bytes_per_s);
        // A disk baseline's latency is one write + fdatasync: what rill's
        // send waits for at durability fsync, not what its consumers see.
        const bool disk = is_disk_baseline(den.transport);
        const std::optional<LatencyFigures>& mine = disk ? num.latency_ack : num.latency;
        if (mine && den.latency) {
          const std::size_t first = disk ? 5 : 2;
          add(first, static_cast<double>(mine->p50), static_cast<double>(den.latency->p50));
          add(first + 1, static_cast<double>(mine->p99), static_cast<double>(den.latency->p99));
          add(first + 2, static_cast<double>(mine->p999), static_cast<double>(den.latency->p999));
        }
      }
    }
  }
  std::vector<Ratio> ratios;
  for (const std::string& num : numerators) {
    for (const std::string& den : denominators) {
      for (std::size_t metric = 0; metric < kMetrics.size(); ++metric) {
        const auto it = per_run.find({num, den, metric});
        if (it == per_run.end()) continue;
        const std::vector<double>& v = it->second;
        Ratio r;
        r.numerator = num;
        r.denominator = den;
        r.metric = std::string(kMetrics[metric]);
        r.median = median_of(v);
        r.min = *std::min_element(v.begin(), v.end());
        r.max = *std::max_element(v.begin(), v.end());
        r.runs = static_cast<int>(v.size());
        ratios.push_back(std::move(r));
      }
    }
  }
  return ratios;
}

}  // namespace rill::bench
