// GroupState to bytes and back (group_format.h).
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "core/group/coordinator.h"
#include "rill/status.h"

namespace rill::group {

std::vector<std::byte> encode_group(const GroupState& state);
// kCorrupt naming what is wrong (and where) for bytes that are not a whole,
// intact, consistent encoding.
Result<GroupState> decode_group(std::span<const std::byte> bytes);

}  // namespace rill::group
