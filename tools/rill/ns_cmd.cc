// rill ns list | gc: the namespaces in /dev/shm, and housekeeping after
// crashes. No daemon keeps a namespace tidy; any process may run gc at any
// time, alongside live producers and consumers.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "rill/topic.h"
#include "tools/rill/command.h"
#include "tools/rill/diagnostics.h"
#include "tools/rill/sizes.h"

namespace rill::cli {
namespace {

// The namespaces a command was given (all when none): names checked first.
struct Selection {
  const std::vector<std::string>& only;
  Status validate() const {
    for (const std::string& n : only)
      if (Status s = Namespace::validate_namespace_name(n); !s) return s;
    return Status::ok();
  }
  bool contains(const std::string& ns) const {
    return only.empty() || std::find(only.begin(), only.end(), ns) != only.end();
  }
  // A one-line error for each name given that `existing` does not hold;
  // returns how many.
  int report_missing(const std::vector<std::string>& existing) const {
    int missing = 0;
    for (const std::string& n : only) {
      if (std::find(existing.begin(), existing.end(), n) != existing.end()) continue;
      report_error(Status(Code::kNotFound, "namespace '" + n + "' does not exist"));
      ++missing;
    }
    return missing;
  }
};

int run_list(const std::vector<std::string>& only) {
  const Selection selected{only};
  if (Status s = selected.validate(); !s) return report_error(s);
  auto listed = Namespace::list_shared();
  if (!listed) return report_error(listed.status());
  int damaged = 0;
  std::printf("%-24s %7s %14s %8s %10s %10s\n", "namespace", "topics", "shared memory", "objects", "producers",
              "readers");
  for (const SharedNamespaceInfo& n : *listed) {
    if (!selected.contains(n.name)) continue;
    std::string topics = "-", producers = "-", readers = "-";
    if (n.status.is_ok()) {
      topics = std::to_string(n.topics);
      producers = std::to_string(n.producer_processes);
      readers = std::to_string(n.reader_processes);
    } else if (n.status.code() == Code::kNotFound) {
      topics = "none";  // objects without a registry: leftovers (rill ns gc)
    } else {
      topics = "?";  // another user's namespace: shown, not fatal
      if (n.status.code() != Code::kPermissionDenied) {
        report_warning(n.status.message());  // damaged or not rill's: say what and what to do
        ++damaged;
      }
    }
    // Names come from /dev/shm, where anyone may plant one: escaped.
    std::printf("%-24s %7s %14s %8zu %10s %10s\n", printable(n.name).c_str(), topics.c_str(),
                format_size(n.bytes).c_str(), n.objects, producers.c_str(), readers.c_str());
  }
  std::vector<std::string> names;
  for (const SharedNamespaceInfo& n : *listed) names.push_back(n.name);
  damaged += selected.report_missing(names);
  return damaged == 0 ? kExitOk : kExitFailure;
}

int run_gc(const std::vector<std::string>& only) {
  const Selection selected{only};
  if (Status s = selected.validate(); !s) return report_error(s);
  const std::vector<std::string> names = Namespace::shared_names();
  int failures = 0;
  for (const std::string& name : names) {
    if (!selected.contains(name)) continue;
    auto report = Namespace::gc(name);
    if (!report && report.status().code() == Code::kNotFound) continue;  // removed meanwhile
    if (!report) {
      report_warning(report.status().message());
      ++failures;
      continue;
    }
    for (const std::string& w : report->warnings) report_warning(w);
    if (report->empty()) continue;
    std::printf("%s: freed %u slots of dead processes, abandoned %llu records of dead producers, removed %zu objects\n",
                printable(name).c_str(), report->slots_freed,
                static_cast<unsigned long long>(report->records_abandoned), report->removed.size());
    for (const std::string& r : report->removed) std::printf("  removed /dev/shm/%s\n", printable(r).c_str());
  }
  failures += selected.report_missing(names);
  return failures == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void add_ns_command(CLI::App& root, const GlobalOptions& /*global: ns works on every namespace*/,
                    CommandTable& table) {
  CLI::App* ns = root.add_subcommand("ns", "List namespaces and clean up after crashed processes");
  ns->require_subcommand(1);
  ns->fallthrough();

  CLI::App* l = ns->add_subcommand(
      "list", "Every namespace in /dev/shm: its topics, shared memory, objects, and live producer and reader processes");
  l->fallthrough();
  auto listed = std::make_shared<std::vector<std::string>>();
  l->add_option("NAMESPACE", *listed, "Only these namespaces (default: all)");
  table.add(l, [listed] { return run_list(*listed); });

  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* g = ns->add_subcommand(
      "gc",
      "Clean up after processes that died: free their producer and reader registrations, skip their unfinished\n"
      "records, finish topic creations and deletions they left half done, remove shared-memory objects no topic\n"
      "owns (at least a minute old), and remove the private namespaces of dead `rill demo`/`rill bench` runs.\n"
      "Safe while other processes use the namespaces.");
  g->fallthrough();
  g->add_option("NAMESPACE", *names, "Only these namespaces (default: all)");
  table.add(g, [names] { return run_gc(*names); });
}

}  // namespace rill::cli
