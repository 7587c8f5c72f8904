// The durable partitions open in this process: one log::Flusher each, shared
// by every Topic object that names the partition (any number of Namespace
// and Topic objects may), and one background thread that keeps their files
// up with their rings - the process's share of the work a broker's log
// flusher does, without a daemon (core/log/flusher.h has the protocol).
//
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/log/flusher.h"

namespace rill::client {

// The Flusher of the partition whose folder is `dir` and whose registry
// incarnation is `incarnation`, made (for `ring`, mapped as long as
// `keep_alive` lives) on first use. The background thread flushes it until
// the last holder lets it go; its destructor then writes, syncs and gives the
// flush lease back.
std::shared_ptr<log::Flusher> durable_partition(const std::string& dir, std::uint64_t incarnation,
                                                const log::PartitionRing& ring, const log::DiskLogConfig& config,
                                                std::shared_ptr<const void> keep_alive);

// How long the background thread sleeps when it found nothing to write.
inline constexpr std::int64_t kFlushIdleNs = 1'000'000;

}  // namespace rill::client
