#include "bench/harness.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <numeric>

namespace rill::bench {

bool pin_to_core(int core) noexcept {
  if (core < 0 || core >= static_cast<int>(std::thread::hardware_concurrency())) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  return ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0;
}

void* map_shared_anonymous(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

void unmap_shared_anonymous(void* p, std::size_t bytes) noexcept { ::munmap(p, bytes); }

void PeerReport::fail(const char* format, ...) noexcept {
  if (errors++ != 0) return;
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof message, format, args);
  va_end(args);
}

// ---------------------------------------------------------------- Peer

namespace {

bool write_all(int fd, const void* data, std::size_t n) noexcept {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::size_t read_all(int fd, void* data, std::size_t n) noexcept {
  auto* p = static_cast<char*>(data);
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

}  // namespace

Peer::Peer(PeerMode mode, int core, std::function<PeerReport()> body) : mode_(mode) {
  if (mode_ == PeerMode::kThread) {
    thread_ = std::thread([this, core, body = std::move(body)] {
      if (!pin_to_core(core)) {
        thread_report_.fail("cannot pin the peer thread to core %d", core);
        return;
      }
      thread_report_ = body();
    });
    return;
  }
  int fds[2];
  if (::pipe(fds) != 0) {
    thread_report_.fail("pipe: %s", std::strerror(errno));
    joined_ = true;
    return;
  }
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t parent = ::getpid();
  child_ = ::fork();
  if (child_ < 0) {
    thread_report_.fail("fork: %s", std::strerror(errno));
    ::close(fds[0]);
    ::close(fds[1]);
    joined_ = true;
    return;
  }
  if (child_ == 0) {
    forget_shm_cleanup_in_child();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(3);  // the parent died before prctl
    ::close(fds[0]);
    PeerReport report;
    if (!pin_to_core(core)) report.fail("cannot pin the peer process to core %d", core);
    else report = body();
    ::_exit(write_all(fds[1], &report, sizeof report) ? 0 : 2);
  }
  ::close(fds[1]);
  pipe_read_ = fds[0];
}

PeerReport Peer::join() {
  if (joined_) return thread_report_;
  joined_ = true;
  if (mode_ == PeerMode::kThread) {
    thread_.join();
    return thread_report_;
  }
  PeerReport report;
  const std::size_t got = read_all(pipe_read_, &report, sizeof report);
  ::close(pipe_read_);
  int status = 0;
  if (got != sizeof report) ::kill(child_, SIGKILL);
  ::waitpid(child_, &status, 0);
  if (got != sizeof report) {
    PeerReport died;
    if (WIFSIGNALED(status)) died.fail("peer process died of signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else died.fail("peer process exited with status %d without a report", WEXITSTATUS(status));
    return died;
  }
  return report;
}

Peer::~Peer() {
  if (!joined_ && mode_ == PeerMode::kProcess && child_ > 0) ::kill(child_, SIGKILL);
  if (!joined_) (void)join();
}

// ---------------------------------------------------------------- latency

LatencySummary summarize_one_way(std::vector<std::uint64_t>& round_trips, double ns_per_tick) {
  LatencySummary s;
  s.samples = round_trips.size();
  if (round_trips.empty()) return s;
  std::sort(round_trips.begin(), round_trips.end());
  const double half = ns_per_tick / 2.0;
  // Nearest rank: the smallest sample with at least q of all samples at or below it.
  auto at = [&](double q) {
    const auto n = round_trips.size();
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
    rank = std::clamp<std::size_t>(rank, 1, n);
    return static_cast<double>(round_trips[rank - 1]) * half;
  };
  s.p50_ns = at(0.50);
  s.p90_ns = at(0.90);
  s.p99_ns = at(0.99);
  s.p999_ns = at(0.999);
  s.p9999_ns = at(0.9999);
  s.max_ns = static_cast<double>(round_trips.back()) * half;
  const long double total = std::accumulate(round_trips.begin(), round_trips.end(), 0.0L);
  s.mean_ns = static_cast<double>(total / static_cast<long double>(round_trips.size())) * half;
  return s;
}

void report_latency(benchmark::State& state, const LatencySummary& s) {
  state.counters["p50_ns"] = s.p50_ns;
  state.counters["p90_ns"] = s.p90_ns;
  state.counters["p99_ns"] = s.p99_ns;
  state.counters["p999_ns"] = s.p999_ns;
  state.counters["p9999_ns"] = s.p9999_ns;
  state.counters["max_ns"] = s.max_ns;
  state.counters["mean_ns"] = s.mean_ns;
  state.counters["samples"] = static_cast<double>(s.samples);
}

// ---------------------------------------------------------------- scale

namespace {
double g_scale = [] {
  const char* env = std::getenv("RILL_BENCH_SCALE");
  double v = env ? std::atof(env) : 1.0;
  return v > 0 ? v : 1.0;
}();
}  // namespace

double scale() noexcept { return g_scale; }
void set_scale(double s) noexcept {
  if (s > 0) g_scale = s;
}
std::uint64_t scaled(std::uint64_t n) noexcept {
  const double v = static_cast<double>(n) * g_scale;
  // Whole batches of 64 keep the batched variants exact.
  const auto r = static_cast<std::uint64_t>(v) / 64 * 64;
  return std::max<std::uint64_t>(r, 64);
}

// ---------------------------------------------------------------- shm clean-up

const std::string& bench_namespace() {
  static const std::string name = "bench-" + std::to_string(::getpid());
  return name;
}

namespace {

// Names precomputed for the signal handler, which may only call
// async-signal-safe functions (unlink is one; opendir is not).
constexpr std::size_t kMaxNames = 16;
char g_names[kMaxNames][128];
std::size_t g_name_count = 0;
pid_t g_owner = 0;

void unlink_known_names() noexcept {
  for (std::size_t i = 0; i < g_name_count; ++i) ::unlink(g_names[i]);
}

void on_fatal_signal(int sig) {
  if (::getpid() == g_owner) unlink_known_names();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS, SIGHUP};

}  // namespace

void remove_bench_shm() noexcept {
  if (g_owner != 0 && ::getpid() != g_owner) return;
  unlink_known_names();
  const std::string prefix = "rill." + bench_namespace() + ".";
  DIR* dir = ::opendir("/dev/shm");
  if (!dir) return;
  std::vector<std::string> doomed;
  while (dirent* e = ::readdir(dir))
    if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0) doomed.emplace_back(e->d_name);
  ::closedir(dir);
  for (const std::string& name : doomed) ::shm_unlink(name.c_str());
}

void install_shm_cleanup(const std::vector<std::string>& topics) {
  g_owner = ::getpid();
  const std::string base = "/dev/shm/rill." + bench_namespace() + ".";
  std::vector<std::string> names{base + "registry"};
  for (const std::string& t : topics) names.push_back(base + t + ".0");
  g_name_count = 0;
  for (const std::string& n : names) {
    if (g_name_count == kMaxNames || n.size() >= sizeof g_names[0]) break;
    std::memcpy(g_names[g_name_count++], n.c_str(), n.size() + 1);
  }
  std::atexit([] { remove_bench_shm(); });
  for (int sig : kCleanupSignals) ::signal(sig, on_fatal_signal);
}

void forget_shm_cleanup_in_child() noexcept {
  for (int sig : kCleanupSignals) ::signal(sig, SIG_DFL);
}

}  // namespace rill::bench
