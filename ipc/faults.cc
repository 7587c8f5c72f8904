#include "ipc/faults.h"

#include <array>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <utility>
#include <vector>

namespace rill::ipc {
namespace {

struct InjectedFault {
  OsCall call;
  std::string subject_part;
  int err;
  int times;
};

std::atomic<int> g_armed{0};  // relaxed: a hint; g_mu orders the faults themselves
std::mutex g_mu;
std::vector<InjectedFault> g_faults;  // guarded by g_mu
std::array<int, static_cast<std::size_t>(OsCall::kFutexWait) + 1> g_refusals{};  // guarded by g_mu

}  // namespace

void inject_fault(OsCall call, std::string subject_part, int err, int times) {
  if (times <= 0) return;
  std::lock_guard lock(g_mu);
  g_faults.push_back(InjectedFault{call, std::move(subject_part), err, times});
  g_armed.fetch_add(1, std::memory_order_relaxed);
}

void clear_faults() {
  std::lock_guard lock(g_mu);
  g_faults.clear();
  g_refusals.fill(0);
  g_armed.store(0, std::memory_order_relaxed);
}

int refusals(OsCall call) {
  std::lock_guard lock(g_mu);
  return g_refusals[static_cast<std::size_t>(call)];
}

bool refused(OsCall call, std::string_view subject) noexcept {
  if (g_armed.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard lock(g_mu);
  for (InjectedFault& f : g_faults) {
    if (f.call != call || f.times == 0 || subject.find(f.subject_part) == std::string_view::npos) continue;
    if (--f.times == 0) g_armed.fetch_sub(1, std::memory_order_relaxed);
    ++g_refusals[static_cast<std::size_t>(call)];
    errno = f.err;
    return true;
  }
  return false;
}

}  // namespace rill::ipc
