// Names of a namespace's shared-memory objects (under /dev/shm):
//   rill.<ns>.registry           the topic registry (doc/registry_format.md)
//   rill.<ns>.registry.draft-<pid>-<tid>  a registry being made, until published
//   rill.<ns>.<topic>.<p>        partition p of a topic (doc/log_format.md);
//                                names over 250 bytes keep a 160-byte prefix
//                                of the topic and add an XXH3 hash of it.
//   rill.<ns>.~group.<G>         consumer group G (doc/group_format.md),
//                                long names shortened likewise.
// Internal to rill: the namespace uses them, and so does `rill ns gc`.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace rill::client {

inline std::string registry_object_name(std::string_view ns) { return "rill." + std::string(ns) + ".registry"; }

// A registry being made by thread `tid` of process `pid`, published under
// registry_object_name() once complete (a crash leaves only this name behind,
// which `rill ns gc` removes once `pid` is gone).
inline std::string registry_draft_name(std::string_view ns, long pid, long tid) {
  return registry_object_name(ns) + ".draft-" + std::to_string(pid) + "-" + std::to_string(tid);
}

inline std::string partition_object_name(std::string_view ns, std::string_view topic, std::int32_t p) {
  std::string name = "rill." + std::string(ns) + "." + std::string(topic) + "." + std::to_string(p);
  if (name.size() <= 250) return name;
  // NAME_MAX is 255: keep a readable prefix and make it unique with a hash.
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(XXH3_64bits(topic.data(), topic.size())));
  return "rill." + std::string(ns) + "." + std::string(topic.substr(0, 160)) + "~" + hash + "." + std::to_string(p);
}

// Consumer group `group`'s object (group_store_format.h). '~' is in no topic
// name, so no partition object can have this name.
inline std::string group_object_prefix(std::string_view ns) { return "rill." + std::string(ns) + ".~group."; }
inline std::string group_object_name(std::string_view ns, std::string_view group) {
  std::string name = group_object_prefix(ns) + std::string(group);
  if (name.size() <= 250) return name;
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(XXH3_64bits(group.data(), group.size())));
  return group_object_prefix(ns) + std::string(group.substr(0, 160)) + "~" + hash;
}

// True if `object` is partition_object_name(ns, topic, p) for some partition
// p (0 to 4095): how `rill ns gc` tells a topic's objects without opening it.
inline bool is_partition_object_of(std::string_view object, std::string_view ns, std::string_view topic) {
  const std::size_t dot = object.rfind('.');
  if (dot == std::string_view::npos || object.size() - dot - 1 < 1 || object.size() - dot - 1 > 4) return false;
  std::int32_t p = 0;
  for (char c : object.substr(dot + 1)) {
    if (c < '0' || c > '9') return false;
    p = p * 10 + (c - '0');
  }
  return object == partition_object_name(ns, topic, p);
}

}  // namespace rill::client
