// describe_machine(): the one part of the report that asks the OS
// (/proc/cpuinfo, uname, the online CPU count).
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <thread>

#include "bench/suite/report.h"

namespace rill::bench {

namespace {

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

// The first "key : value" line of /proc/cpuinfo whose key is one of `keys`
// (x86 says "model name"; some ARM kernels only "Hardware" or "Processor").
std::string cpuinfo_value(std::initializer_list<std::string_view> keys) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(std::string_view(line).substr(0, colon));
    for (std::string_view k : keys) {
      if (key == k) return trim(std::string_view(line).substr(colon + 1));
    }
  }
  return {};
}

}  // namespace

Machine describe_machine() {
  Machine m;
  m.cpu_model = cpuinfo_value({"model name"});
  if (m.cpu_model.empty()) m.cpu_model = cpuinfo_value({"Hardware", "Processor", "cpu model"});
  if (m.cpu_model.empty()) m.cpu_model = "unknown";
  m.cores = static_cast<int>(std::thread::hardware_concurrency());
  if (m.cores == 0) m.cores = static_cast<int>(std::max(0L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  struct utsname u {};
  if (::uname(&u) == 0) {
    m.kernel = std::string(u.sysname) + " " + u.release;
    m.hostname = u.nodename;
  }
  return m;
}

}  // namespace rill::bench
