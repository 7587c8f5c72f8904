// Namespace::list_shared(), gc() and remove_shared(): housekeeping of shared
// namespaces after crashes. No daemon keeps a namespace tidy; any process may
// run these at any time, alongside live producers and consumers.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/client/group_store.h"
#include "core/client/namespace_internal.h"
#include "core/client/object_names.h"
#include "core/client/registry_format.h"
#include "core/client/topic_rings.h"
#include "ipc/clock.h"
#include "ipc/liveness.h"
#include "ipc/shm_region.h"
#include "rill/topic.h"

namespace rill {
namespace {

// An object no topic owns is removed only once it is this old: a topic being
// created right now has objects that its registry entry does not list yet.
constexpr std::int64_t kOrphanAgeSeconds = 60;

constexpr std::string_view kObjectPrefix = "rill.";

// The objects of every namespace ("rill.<ns>.*"; a namespace name has no dot).
std::map<std::string, std::vector<ipc::ShmListing>> objects_by_namespace() {
  std::map<std::string, std::vector<ipc::ShmListing>> by_ns;
  for (ipc::ShmListing& o : ipc::list_shared_regions(kObjectPrefix)) {
    const std::size_t dot = o.name.find('.', kObjectPrefix.size());
    if (dot == std::string::npos) continue;
    by_ns[o.name.substr(kObjectPrefix.size(), dot - kObjectPrefix.size())].push_back(std::move(o));
  }
  return by_ns;
}

std::vector<ipc::ShmListing> objects_of(const std::string& ns) {
  return ipc::list_shared_regions(std::string(kObjectPrefix) + ns + ".");
}

bool has_registry(const std::vector<ipc::ShmListing>& objects, const std::string& ns) {
  const std::string registry = client::registry_object_name(ns);
  return std::any_of(objects.begin(), objects.end(), [&](const ipc::ShmListing& o) { return o.name == registry; });
}

// A pid written in an object's name: 1 to 9 digits, else 0.
std::int32_t parse_pid(std::string_view digits) {
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos) return 0;
  std::int32_t pid = 0;
  for (char c : digits) pid = pid * 10 + (c - '0');
  return pid;
}

// The pid in a registry draft's name (client::registry_draft_name), or 0 if
// `object` is not a draft of namespace `ns`.
std::int32_t draft_maker(const std::string& object, const std::string& ns) {
  const std::string prefix = client::registry_object_name(ns) + ".draft-";
  if (!object.starts_with(prefix)) return 0;
  const std::string_view rest = std::string_view(object).substr(prefix.size());
  return parse_pid(rest.substr(0, rest.find('-')));
}

void remove_object(const std::string& object, GcReport& report) {
  if (ipc::remove_shared_region(object).is_ok()) report.removed.push_back(object);
}

std::string where(const std::string& ns, const std::string& topic, std::int32_t p) {
  return "namespace '" + ns + "' topic '" + topic + "' partition " + std::to_string(p);
}

// Live producer and reader processes of every topic of `ns`.
void count_processes(Namespace& ns, const std::vector<std::string>& topics, SharedNamespaceInfo& info) {
  std::set<std::int32_t> writing, reading;
  for (const std::string& t : topics) {
    auto topic = ns.open_topic(t);
    if (!topic) continue;  // deleted meanwhile, or damaged: describe_topic says which
    for (std::int32_t p = 0; p < (*topic)->partition_count(); ++p) {
      log::PartitionRing& ring = client::ring_of(**topic, p);
      if (ring.wedged()) continue;
      for (const auto& s : ring.producers())
        if (s.alive) writing.insert(s.owner.pid);
      for (const auto& r : ring.readers())
        if (r.alive) reading.insert(r.owner.pid);
    }
  }
  info.producer_processes = writing.size();
  info.reader_processes = reading.size();
}

// The partitions of one topic: claims of dead producers in every retained
// generation abandoned, then the slots of dead producers and readers freed.
void gc_topic(const std::string& ns, const std::string& name, Topic& topic, GcReport& report) {
  for (std::int32_t p = 0; p < topic.partition_count(); ++p) {
    log::PartitionRing& ring = client::ring_of(topic, p);
    if (ring.wedged()) {
      report.warnings.push_back(where(ns, name, p) +
                                " is stuck mid-roll with no process to finish it (damaged); delete the topic");
      continue;
    }
    // At most one pass per segment: damaged generations cannot make it loop.
    const std::uint64_t first = ring.earliest().generation, last = ring.latest().generation;
    const std::uint64_t span = last >= first ? std::min<std::uint64_t>(last - first, ring.segment_count()) : 0;
    for (std::uint64_t i = 0; i <= span; ++i) report.records_abandoned += ring.recover_abandoned(first + i);
    report.slots_freed += ring.reap_dead();
  }
}

// gc of a namespace that has a registry object.
Status gc_registered(const std::string& name, const std::vector<ipc::ShmListing>& objects, GcReport& report) {
  const std::int64_t now = ipc::wall_clock_s();
  // A registry object that is not a regular file of a registry's size holds
  // nothing rill could read: remove it (without opening it), or say why not.
  const std::string registry = client::registry_object_name(name);
  if (auto info = ipc::stat_shared_region(registry); info && (!info->regular() || info->size != registry::kRegionBytes)) {
    const std::string what = ipc::shared_region_path(registry) + " is " +
                             (!info->regular() ? info->type_name() + ", not a regular file"
                                               : std::to_string(info->size) + " bytes, a registry is exactly " +
                                                     std::to_string(registry::kRegionBytes) + " bytes");
    if (Status removed = ipc::remove_shared_region(registry); !removed)
      return Status(removed.code(), what + ", and cannot be removed: " + removed.message());
    report.warnings.push_back(what + ": removed it");
    report.removed.push_back(registry);
    return Status::ok();  // its partition objects, if any, are leftovers now: removed once a minute old
  }
  // Opening the namespace repairs a create or delete its process did not finish.
  auto ns = Namespace::open_shared(name, {.group = {}, .create = false});
  if (!ns && ns.status().code() == Code::kNotFound) return Status::ok();  // removed meanwhile
  if (!ns) return ns.status().with_context("namespace '" + name + "'");
  if (const std::uint64_t owner = client::owner_process(**ns);
      owner != 0 && ipc::liveness_packed(owner) == ipc::Liveness::kDead) {
    ns->reset();
    for (const ipc::ShmListing& o : objects) remove_object(o.name, report);
    return Status::ok();
  }
  auto names = (*ns)->list_topics();
  if (!names) return names.status().with_context("namespace '" + name + "'");
  std::set<std::string> owned{registry};
  for (const std::string& t : *names) {
    auto topic = (*ns)->open_topic(t);
    if (!topic && topic.status().code() == Code::kNotFound) continue;  // deleted meanwhile
    if (!topic) {
      // Its objects stay (the topic still owns them); the message says what is wrong and what to do.
      report.warnings.push_back("namespace '" + name + "': " + topic.status().message());
      for (const ipc::ShmListing& o : objects)
        if (client::is_partition_object_of(o.name, name, t)) owned.insert(o.name);
      continue;
    }
    for (std::int32_t p = 0; p < (*topic)->partition_count(); ++p) owned.insert(client::partition_object_name(name, t, p));
    gc_topic(name, t, **topic, report);
  }
  // Consumer groups' objects are the namespace's while it has a registry;
  // opening one removes the members whose processes died.
  const std::string groups = client::group_object_prefix(name);
  for (const ipc::ShmListing& o : objects)
    if (o.name.starts_with(groups)) owned.insert(o.name);
  for (const std::string& g : client::GroupStore::list(**ns)) {
    auto store = client::GroupStore::open(**ns, g, false);
    std::size_t expired = 0;
    const Status s = store ? (*store)->update([](auto&, auto&) { return Status::ok(); }, nullptr, &expired)
                           : store.status();
    if (!s) report.warnings.push_back("namespace '" + name + "': " + s.message());
    report.slots_freed += static_cast<std::uint32_t>(expired);
  }
  for (const ipc::ShmListing& o : objects)
    if (!owned.count(o.name) && draft_maker(o.name, name) == 0 && now - o.modified_s >= kOrphanAgeSeconds)
      remove_object(o.name, report);
  return Status::ok();
}

}  // namespace

Result<std::vector<SharedNamespaceInfo>> Namespace::list_shared() {
  std::vector<SharedNamespaceInfo> listed;
  for (const auto& [name, objects] : objects_by_namespace()) {
    SharedNamespaceInfo info;
    info.name = name;
    info.objects = objects.size();
    for (const ipc::ShmListing& o : objects) info.bytes += o.bytes;
    if (!has_registry(objects, name)) {
      info.status = Status(Code::kNotFound, "namespace '" + name + "' has objects but no registry (leftovers of a "
                                            "crash: `rill ns gc` removes them once a minute old)");
    } else if (Status valid = validate_namespace_name(name); !valid) {
      info.status = Status(Code::kCorrupt, "rill." + name + ".* is not a rill namespace: " + valid.message());
    } else if (auto ns = open_shared(name, {.group = {}, .create = false}); !ns) {
      info.status = ns.status();
    } else if (auto topics = (*ns)->list_topics(); !topics) {
      info.status = topics.status();
    } else {
      info.topics = topics->size();
      count_processes(**ns, *topics, info);
    }
    listed.push_back(std::move(info));
  }
  return listed;
}

std::vector<std::string> Namespace::shared_names() {
  std::vector<std::string> names;
  for (const auto& [name, objects] : objects_by_namespace()) names.push_back(name);
  return names;
}

Result<GcReport> Namespace::gc(std::string_view name) {
  if (Status s = validate_namespace_name(name); !s) return s;
  const std::string ns(name);
  GcReport report;
  report.name = ns;
  std::vector<ipc::ShmListing> objects = objects_of(ns);
  if (objects.empty()) return Status(Code::kNotFound, "namespace '" + ns + "' does not exist");
  // A draft is removed once its maker is gone (it died before publishing
  // it), and never while it lives, however old the draft.
  for (const ipc::ShmListing& o : objects)
    if (const std::int32_t maker = draft_maker(o.name, ns); maker != 0 && ipc::identify(maker).empty())
      remove_object(o.name, report);
  if (has_registry(objects, ns)) {
    if (Status s = gc_registered(ns, objects, report); !s) return s;
  } else {
    // Partition objects with no registry at all: nothing can open them.
    const std::int64_t now = ipc::wall_clock_s();
    for (const ipc::ShmListing& o : objects)
      if (draft_maker(o.name, ns) == 0 && now - o.modified_s >= kOrphanAgeSeconds) remove_object(o.name, report);
  }
  return report;
}

Status Namespace::remove_shared(std::string_view name) {
  if (Status s = validate_namespace_name(name); !s) return s;
  const std::string ns(name);
  const std::vector<ipc::ShmListing> objects = objects_of(ns);
  if (objects.empty()) return Status(Code::kNotFound, "namespace '" + ns + "' does not exist");
  // The registry first: from then on no process finds the namespace.
  Status first = ipc::remove_shared_region(client::registry_object_name(ns));
  for (const ipc::ShmListing& o : objects) {
    Status s = ipc::remove_shared_region(o.name);
    if (first.is_ok() && !s.is_ok()) first = s;
  }
  return first.with_context("removing namespace '" + ns + "'");
}

}  // namespace rill
