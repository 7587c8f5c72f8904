// What the library's housekeeping (core/client/housekeeping.cc) needs of a
// namespace beyond the public API.
#pragma once

#include <cstdint>

#include "rill/topic.h"

namespace rill::client {

// The process a namespace belongs to (registry::Header::owner_process: a
// packed ipc::ProcessId), 0 if none. REQUIRES: `ns` came from Namespace::open_shared.
std::uint64_t owner_process(const Namespace& ns);

}  // namespace rill::client
