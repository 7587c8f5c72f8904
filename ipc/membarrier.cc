#include "ipc/membarrier.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace rill::ipc {
namespace {

long membarrier(int command) noexcept { return ::syscall(SYS_membarrier, command, 0, 0); }

bool disabled_by_environment() noexcept {
  const char* v = std::getenv("RILL_MEMBARRIER");
  return v != nullptr && std::strcmp(v, "off") == 0;
}

// Whether this kernel offers the global expedited commands (and lets us use them).
bool supported() noexcept {
  const long commands = membarrier(MEMBARRIER_CMD_QUERY);
  constexpr long kNeeded = MEMBARRIER_CMD_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED;
  return commands >= 0 && (commands & kNeeded) == kNeeded;
}

std::atomic<bool> g_refuse_heavy{false};

}  // namespace

bool enable_light_fences() noexcept {
  static const bool enabled = [] {
    const bool ok = !disabled_by_environment() && supported() &&
                    membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
    // Relaxed: the registration is the kernel's, done before this returns,
    // and the flag is set once, before this process rings any doorbell.
    detail::g_light_fences.store(ok, std::memory_order_relaxed);
    return ok;
  }();
  return enabled;
}

bool heavy_fence() noexcept {
  // Pairs with light_fence() on the frequent side; when membarrier is refused
  // it is the only ordering this side has.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (g_refuse_heavy.load(std::memory_order_relaxed)) return false;  // relaxed: a test switch that publishes nothing
  static const bool usable = !disabled_by_environment() && supported();
  return usable && membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0;
}

// Relaxed: a test switch that publishes nothing.
void refuse_heavy_fences_for_testing(bool refuse) noexcept { g_refuse_heavy.store(refuse, std::memory_order_relaxed); }

}  // namespace rill::ipc
