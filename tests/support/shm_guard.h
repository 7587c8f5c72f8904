// Shared-memory hygiene for tests: unique namespace names, and a guard that
// removes every /dev/shm/rill.<ns>.* object of a namespace when it goes out of
// scope, whether the test passed, failed or threw.
#pragma once

#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <string_view>
#include <vector>

namespace rill::testing {

// "test-<pid>-<n>": unique within this process and, through the pid, among
// processes running at the same time (ctest -j). Valid as a namespace name.
inline std::string unique_namespace() {
  static std::atomic<int> counter{0};
  return "test-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

// Names (without the /dev/shm/ prefix) of the objects of namespace `ns`, sorted.
inline std::vector<std::string> shm_objects(std::string_view ns) {
  const std::string prefix = "rill." + std::string(ns) + ".";
  std::vector<std::string> names;
  if (DIR* dir = ::opendir("/dev/shm")) {
    while (const dirent* e = ::readdir(dir)) {
      std::string_view name(e->d_name);
      if (name.substr(0, prefix.size()) == prefix) names.emplace_back(name);
    }
    ::closedir(dir);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Unlinks every object of namespace `ns`. Returns how many it removed.
inline int remove_shm_objects(std::string_view ns) {
  int removed = 0;
  for (const std::string& name : shm_objects(ns))
    if (::shm_unlink(name.c_str()) == 0) ++removed;
  return removed;
}

// Owns the shared-memory objects of one namespace for the life of a test.
// The constructor removes leftovers of an earlier run that reused the pid.
class ShmGuard {
 public:
  explicit ShmGuard(std::string ns = unique_namespace()) : ns_(std::move(ns)) { remove_shm_objects(ns_); }
  ~ShmGuard() { remove_shm_objects(ns_); }
  ShmGuard(const ShmGuard&) = delete;
  ShmGuard& operator=(const ShmGuard&) = delete;

  const std::string& ns() const { return ns_; }
  std::vector<std::string> objects() const { return shm_objects(ns_); }

 private:
  std::string ns_;
};

}  // namespace rill::testing
