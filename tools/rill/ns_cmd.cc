// rill ns list | gc: the namespaces in /dev/shm, and housekeeping after
// crashes. No daemon keeps a namespace tidy; any process may run gc at any
// time, alongside live producers and consumers.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/client/object_names.h"
#include "core/client/registry_format.h"
#include "core/log/partition_ring.h"
#include "ipc/liveness.h"
#include "ipc/shm_region.h"
#include "rill/topic.h"
#include "tools/rill/command.h"
#include "tools/rill/diagnostics.h"
#include "tools/rill/sizes.h"

namespace rill::cli {
namespace {

constexpr const char* kShmDir = "/dev/shm";
// An object no topic owns is removed only once it is this old: a topic being
// created right now has objects that its registry entry does not list yet.
constexpr std::time_t kOrphanAgeSeconds = 60;

struct ShmObject {
  std::string name;  // without /dev/shm/
  std::uint64_t bytes = 0;
  std::time_t modified = 0;
};

// rill.<ns>.* objects by namespace. Nothing is opened or followed: a name may
// hold a FIFO or a symbolic link that anyone planted.
std::map<std::string, std::vector<ShmObject>> scan_shm() {
  std::map<std::string, std::vector<ShmObject>> by_ns;
  DIR* dir = ::opendir(kShmDir);
  if (dir == nullptr) return by_ns;
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name.rfind("rill.", 0) != 0) continue;
    const std::size_t dot = name.find('.', 5);
    if (dot == std::string::npos) continue;
    struct stat st {};
    if (::lstat((std::string(kShmDir) + "/" + name).c_str(), &st) != 0) continue;
    by_ns[name.substr(5, dot - 5)].push_back(
        {name, static_cast<std::uint64_t>(st.st_blocks) * 512, st.st_mtime});
  }
  ::closedir(dir);
  for (auto& [ns, objects] : by_ns)
    std::sort(objects.begin(), objects.end(), [](const ShmObject& a, const ShmObject& b) { return a.name < b.name; });
  return by_ns;
}

bool has_registry(const std::vector<ShmObject>& objects, const std::string& ns) {
  const std::string registry = client::registry_object_name(ns);
  return std::any_of(objects.begin(), objects.end(), [&](const ShmObject& o) { return o.name == registry; });
}

// A pid written in an object's name: 1 to 9 digits, else 0.
pid_t parse_pid(const std::string& digits) {
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return static_cast<pid_t>(std::stol(digits));
}

// The private namespaces of `rill demo` and `rill bench` ("demo-<pid>",
// "bench-<pid>") belong to one process: once it is gone, so is the namespace.
bool private_namespace_of_dead_process(const std::string& ns) {
  for (const char* prefix : {"demo-", "bench-"}) {
    const std::string p = prefix;
    if (ns.rfind(p, 0) != 0) continue;
    const pid_t pid = parse_pid(ns.substr(p.size()));
    if (pid == 0) return false;
    return ipc::identify(pid).empty() || ipc::liveness(ipc::identify(pid)) == ipc::Liveness::kDead;
  }
  return false;
}

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
};

int run_list(const std::vector<std::string>& only) {
  const Selection selected{only};
  if (Status s = selected.validate(); !s) return report_error(s);
  const auto by_ns = scan_shm();
  int damaged = 0;
  std::printf("%-24s %7s %14s %8s %10s %10s\n", "namespace", "topics", "shared memory", "objects", "producers",
              "readers");
  for (const auto& [name, objects] : by_ns) {
    if (!selected.contains(name)) continue;
    std::uint64_t bytes = 0;
    for (const ShmObject& o : objects) bytes += o.bytes;
    std::string topics = "-", producers = "-", readers = "-";
    if (has_registry(objects, name)) {
      if (auto ns = Namespace::open_shared(name, {.group = {}, .create = false}); ns) {
        if (auto names = (*ns)->list_topics(); names) {
          topics = std::to_string(names->size());
          std::set<std::int32_t> writing, reading;
          for (const std::string& t : *names) {
            auto topic = (*ns)->open_topic(t);
            if (!topic) continue;
            for (std::int32_t p = 0; p < (*topic)->partition_count(); ++p) {
              if ((*topic)->ring(p).wedged()) continue;
              for (const auto& s : (*topic)->ring(p).producers())
                if (s.alive) writing.insert(s.owner.pid);
              for (const auto& r : (*topic)->ring(p).readers())
                if (r.alive) reading.insert(r.owner.pid);
            }
          }
          producers = std::to_string(writing.size());
          readers = std::to_string(reading.size());
        }
      } else {
        topics = "?";  // another user's namespace: shown, not fatal
        if (ns.status().code() != Code::kPermissionDenied) {
          report_warning(ns.status().message());  // damaged or not rill's: say what and what to do
          ++damaged;
        }
      }
    } else {
      topics = "none";  // objects without a registry: leftovers (rill ns gc)
    }
    // Names come from /dev/shm, where anyone may plant one: escaped.
    std::printf("%-24s %7s %14s %8zu %10s %10s\n", printable(name).c_str(), topics.c_str(), format_size(bytes).c_str(),
                objects.size(), producers.c_str(), readers.c_str());
  }
  return damaged == 0 ? kExitOk : kExitFailure;
}

struct GcReport {
  std::uint32_t slots = 0;
  std::uint64_t abandoned = 0;
  std::vector<std::string> removed;
};

// gc of one namespace's objects other than registry drafts (gc_namespace()).
Status gc_objects(const std::string& name, const std::vector<ShmObject>& objects, std::time_t now, GcReport& report) {
  if (private_namespace_of_dead_process(name)) {
    for (const ShmObject& o : objects)
      if (ipc::remove_shared_region(o.name).is_ok()) report.removed.push_back(o.name);
    return Status::ok();
  }
  if (!has_registry(objects, name)) {
    // Partition objects with no registry at all: nothing can open them.
    for (const ShmObject& o : objects)
      if (now - o.modified >= kOrphanAgeSeconds && ipc::remove_shared_region(o.name).is_ok())
        report.removed.push_back(o.name);
    return Status::ok();
  }
  // A registry object that is not a regular file of a registry's size holds
  // nothing rill could read: remove it (without opening it), or say why not.
  const std::string registry = client::registry_object_name(name);
  if (auto info = ipc::stat_shared_region(registry);
      info && (info->type != S_IFREG || info->size != registry::kRegionBytes)) {
    const std::string what = ipc::shared_region_path(registry) + " is " +
                             (info->type != S_IFREG ? info->type_name() + ", not a regular file"
                                                    : std::to_string(info->size) + " bytes, a registry is exactly " +
                                                          std::to_string(registry::kRegionBytes) + " bytes");
    if (Status removed = ipc::remove_shared_region(registry); !removed)
      return Status(removed.code(), what + ", and cannot be removed: " + removed.message());
    report_warning(what + ": removed it");
    report.removed.push_back(registry);
    return Status::ok();  // its partition objects, if any, are leftovers now: removed once a minute old
  }
  // Opening the namespace repairs a create or delete its process did not finish.
  auto ns = Namespace::open_shared(name, {.group = {}, .create = false});
  if (!ns && ns.status().code() == Code::kNotFound) return Status::ok();  // removed meanwhile
  if (!ns) return ns.status().with_context("namespace '" + name + "'");
  auto names = (*ns)->list_topics();
  if (!names) return names.status().with_context("namespace '" + name + "'");
  std::set<std::string> owned{client::registry_object_name(name)};
  for (const std::string& t : *names) {
    auto topic = (*ns)->open_topic(t);
    if (!topic && topic.status().code() == Code::kNotFound) continue;  // deleted meanwhile
    if (!topic) {
      // Its objects stay (the topic still owns them); the message says what is wrong and what to do.
      report_warning("namespace '" + name + "': " + topic.status().message());
      for (const ShmObject& o : objects)
        if (client::is_partition_object_of(o.name, name, t)) owned.insert(o.name);
      continue;
    }
    for (std::int32_t p = 0; p < (*topic)->partition_count(); ++p) {
      owned.insert(client::partition_object_name(name, t, p));
      log::PartitionRing& ring = (*topic)->ring(p);
      if (ring.wedged()) {
        report_warning("namespace '" + name + "' topic '" + t + "' partition " + std::to_string(p) +
                       " is stuck mid-roll with no process to finish it (damaged); delete the topic");
        continue;
      }
      // Claims of dead producers in every retained generation, then the slots
      // of dead producers and readers.
      // At most one pass per segment: damaged generations cannot make it loop.
      const std::uint64_t first = ring.earliest().generation, last = ring.latest().generation;
      const std::uint64_t span = last >= first ? std::min<std::uint64_t>(last - first, ring.segment_count()) : 0;
      for (std::uint64_t i = 0; i <= span; ++i) report.abandoned += ring.recover_abandoned(first + i);
      report.slots += ring.reap_dead();
    }
  }
  for (const ShmObject& o : objects)
    if (!owned.count(o.name) && now - o.modified >= kOrphanAgeSeconds && ipc::remove_shared_region(o.name).is_ok())
      report.removed.push_back(o.name);
  return Status::ok();
}

// The pid in a registry draft's name (client::registry_draft_name), or 0 if
// `object` is not a draft of namespace `ns`.
pid_t draft_maker(const std::string& object, const std::string& ns) {
  const std::string prefix = client::registry_object_name(ns) + ".draft-";
  if (object.rfind(prefix, 0) != 0) return 0;
  const std::string rest = object.substr(prefix.size());
  return parse_pid(rest.substr(0, rest.find('-')));
}

Status gc_namespace(const std::string& name, const std::vector<ShmObject>& objects, GcReport& report) {
  const std::time_t now = std::time(nullptr);
  std::vector<ShmObject> rest;
  for (const ShmObject& o : objects) {
    const pid_t maker = draft_maker(o.name, name);
    if (maker == 0) {
      rest.push_back(o);
      continue;
    }
    // A draft is removed once its maker is gone (it died before publishing
    // it), and never while it lives, however old the draft.
    if (::kill(maker, 0) != 0 && errno == ESRCH && ipc::remove_shared_region(o.name).is_ok())
      report.removed.push_back(o.name);
  }
  return gc_objects(name, rest, now, report);
}

int run_gc(const std::vector<std::string>& only) {
  const Selection selected{only};
  if (Status s = selected.validate(); !s) return report_error(s);
  const auto by_ns = scan_shm();
  int failures = 0;
  for (const auto& [name, objects] : by_ns) {
    if (!selected.contains(name)) continue;
    GcReport report;
    if (Status s = gc_namespace(name, objects, report); !s) {
      report_warning(s.message());
      ++failures;
      continue;
    }
    if (report.slots == 0 && report.abandoned == 0 && report.removed.empty()) continue;
    std::printf("%s: freed %u slots of dead processes, abandoned %llu records of dead producers, removed %zu objects\n",
                printable(name).c_str(), report.slots, static_cast<unsigned long long>(report.abandoned),
                report.removed.size());
    for (const std::string& r : report.removed) std::printf("  removed /dev/shm/%s\n", printable(r).c_str());
  }
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
