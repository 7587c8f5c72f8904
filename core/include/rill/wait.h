// How a consumer waits for records that are not there yet.
#pragma once

#include <cstdint>
#include <string_view>

namespace rill {

enum class WaitStrategy : std::uint8_t {
  // Re-read the log in a tight loop. Lowest latency; burns a whole core.
  // For hard real-time consumers on a dedicated, pinned core.
  kBusySpin,
  // Spin briefly, then sched_yield() between checks. Lower latency than
  // blocking, still burns CPU while idle.
  kSpinThenYield,
  // Spin briefly, then sleep on a futex in the partition's shared memory until
  // a producer commits. Default: no CPU burned while idle; works across processes.
  kBlock,
};

std::string_view wait_strategy_name(WaitStrategy s) noexcept;
// Parses "spin", "yield" or "block". Returns false for anything else.
bool parse_wait_strategy(std::string_view text, WaitStrategy* out) noexcept;

}  // namespace rill
