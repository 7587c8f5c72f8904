// What the library's housekeeping (core/client/housekeeping.cc) needs of a
// namespace beyond the public API.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rill/topic.h"

namespace rill::ipc {
class Region;
}

namespace rill::client {

// The process a namespace belongs to (registry::Header::owner_process: a
// packed ipc::ProcessId), 0 if none. REQUIRES: `ns` came from Namespace::open_shared.
std::uint64_t owner_process(const Namespace& ns);

// Consumer groups' objects (core/client/group_store.h), made and opened
// under the registry's lock, so that nobody opens one its creator has not
// yet initialised: opens `object` (of `size` bytes); if it is absent and
// `create`, makes it and runs `init` on it first (kNotFound otherwise).
Result<std::shared_ptr<ipc::Region>> open_group_region(Namespace& ns, const std::string& object, std::size_t size,
                                                       bool create,
                                                       const std::function<Status(ipc::Region&)>& init);
// Mode of the files of a durable namespace: 0660 if it is open to a Unix
// group, else 0600.
unsigned file_permissions(const Namespace& ns);
// The names of the namespace's objects that start with `prefix`.
std::vector<std::string> region_names(Namespace& ns, const std::string& prefix);
// Removes an object (under the registry's lock).
Status remove_region(Namespace& ns, const std::string& object);

}  // namespace rill::client
