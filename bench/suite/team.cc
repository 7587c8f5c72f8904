#include "bench/suite/team.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "ipc/clock.h"

namespace rill::bench {

bool pin_to_core(int core) noexcept {
  if (core < 0 || core >= CPU_SETSIZE) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  return ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0;
}

Result<SharedBlock> SharedBlock::map(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return Status(Code::kResourceExhausted,
                  "cannot map " + std::to_string(bytes) + " bytes of shared memory: " + std::strerror(errno));
  SharedBlock block;
  block.data_ = p;
  block.size_ = bytes;
  return block;
}

SharedBlock::SharedBlock(SharedBlock&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SharedBlock& SharedBlock::operator=(SharedBlock&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SharedBlock::~SharedBlock() {
  if (data_) ::munmap(data_, size_);
}

Team::~Team() {
  for (const Child& child : children_) {
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
  }
  for (std::thread& t : threads_) t.join();
}

void Team::kill() noexcept {
  for (const Child& child : children_) ::kill(child.pid, SIGKILL);
}

void Team::stop(std::chrono::milliseconds grace) noexcept {
  for (const Child& child : children_) ::kill(child.pid, SIGTERM);
  const std::int64_t deadline = ipc::monotonic_ns() + std::chrono::nanoseconds(grace).count();
  while (!children_.empty() && ipc::monotonic_ns() < deadline) {
    for (std::size_t i = 0; i < children_.size();) {
      if (::waitpid(children_[i].pid, nullptr, WNOHANG) == children_[i].pid)
        children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(i));
      else
        ++i;
    }
    if (!children_.empty()) ::usleep(2'000);
  }
  for (const Child& child : children_) {
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
  }
  children_.clear();
  ended_.clear();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

Status Team::start(int core, std::function<void()> body, std::string name) {
  if (mode_ == Mode::kThreads) {
    threads_.emplace_back([core, body = std::move(body)] {
      if (core >= 0) (void)pin_to_core(core);
      body();
    });
    return Status::ok();
  }
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) return Status(Code::kResourceExhausted, std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(3);  // the parent died before prctl
    // A child must not run the parent's clean-up on a signal; a write to a
    // dead reader is an error (EPIPE), not a silent death.
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
    ::signal(SIGPIPE, SIG_IGN);
    if (core >= 0) (void)pin_to_core(core);
    body();
    ::_exit(0);
  }
  children_.push_back(Child{child, std::move(name)});
  return Status::ok();
}

namespace {

Status describe_end(pid_t pid, const std::string& name, int status) {
  const std::string who = name.empty() ? "process " + std::to_string(pid) : name;
  if (WIFSIGNALED(status))
    return Status(Code::kInternal, who + " died of signal " + std::to_string(WTERMSIG(status)) + " (" +
                                       strsignal(WTERMSIG(status)) + ")");
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    return Status(Code::kInternal, who + " exited with status " + std::to_string(WEXITSTATUS(status)));
  return Status::ok();
}

}  // namespace

Status Team::check_children() {
  Status first;
  for (std::size_t i = 0; i < children_.size();) {
    int status = 0;
    if (::waitpid(children_[i].pid, &status, WNOHANG) != children_[i].pid) {
      ++i;
      continue;
    }
    Status s = describe_end(children_[i].pid, children_[i].name, status);
    if (!s.is_ok()) {
      if (first.is_ok()) first = s;
      ended_.push_back(s);
    }
    children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return first;
}

Status Team::join() {
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  Status first = ended_.empty() ? Status::ok() : ended_.front();
  for (const Child& child : children_) {
    int status = 0;
    while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (first.is_ok()) first = describe_end(child.pid, child.name, status);
  }
  children_.clear();
  ended_.clear();
  return first;
}

}  // namespace rill::bench
