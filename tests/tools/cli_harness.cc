#include "tests/tools/cli_harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace rill::cli::testing {
namespace {

void ignore_sigpipe_once() {
  static const bool done = [] {
    // A child may exit before reading all its input: writes then fail with EPIPE instead of killing the test.
    ::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)done;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    lines.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::vector<std::string> CliResult::out_lines() const {
  return split_lines(out);
}
std::vector<std::string> CliResult::err_lines() const {
  return split_lines(err);
}

RillProcess::RillProcess(const std::vector<std::string>& args, const std::vector<std::string>& env, int stdin_fd) {
  ignore_sigpipe_once();
  int in[2] = {stdin_fd, -1}, out[2], err[2];
  if (stdin_fd < 0 && ::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  std::vector<std::string> argv_s{RILL_CLI_PATH};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "RILL_NS=", 8) != 0) env_s.emplace_back(*e);
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::signal(SIGPIPE, SIG_DFL);  // what a shell gives a program
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  if (stdin_fd < 0) ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_ = in[1];
  out_fd_ = out[0];
  err_fd_ = err[0];
  if (in_ >= 0) ::fcntl(in_, F_SETFL, O_NONBLOCK);
}

RillProcess::~RillProcess() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  for (int fd : {in_, out_fd_, err_fd_})
    if (fd >= 0) ::close(fd);
}

bool RillProcess::pump(std::string_view* input, int timeout_ms) {
  pollfd fds[3];
  int n = 0;
  int out_at = -1, err_at = -1, in_at = -1;
  if (out_fd_ >= 0) fds[out_at = n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) fds[err_at = n++] = {err_fd_, POLLIN, 0};
  if (in_ >= 0 && input && !input->empty()) fds[in_at = n++] = {in_, POLLOUT, 0};
  if (n == 0) return false;
  if (::poll(fds, static_cast<nfds_t>(n), timeout_ms) <= 0) return true;
  char buf[65536];
  auto drain = [&](int at, int& fd, std::string& to) {
    if (at < 0 || !(fds[at].revents & (POLLIN | POLLHUP | POLLERR))) return;
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r > 0) {
      to.append(buf, static_cast<std::size_t>(r));
    } else if (r == 0 || errno != EINTR) {
      ::close(fd);
      fd = -1;
    }
  };
  drain(out_at, out_fd_, out_);
  drain(err_at, err_fd_, err_);
  if (in_at >= 0 && (fds[in_at].revents & (POLLOUT | POLLERR | POLLHUP))) {
    const ssize_t w = ::write(in_, input->data(), input->size());
    if (w > 0) {
      input->remove_prefix(static_cast<std::size_t>(w));
    } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
      *input = {};  // the child stopped reading (EPIPE)
    }
    if (input->empty()) {
      ::close(in_);
      in_ = -1;
    }
  }
  return out_fd_ >= 0 || err_fd_ >= 0;
}

bool RillProcess::read_until(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds timeout) {
  const std::int64_t deadline = now_ms() + timeout.count();
  while (!done(out_)) {
    const std::int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    if (!pump(nullptr, static_cast<int>(std::min<std::int64_t>(left, 50)))) return done(out_);
  }
  return true;
}

void RillProcess::signal(int sig) {
  ::kill(pid_, sig);
}

CliResult RillProcess::finish(std::string_view input, std::chrono::milliseconds timeout) {
  CliResult r;
  const std::int64_t deadline = now_ms() + timeout.count();
  if (input.empty() && in_ >= 0) {
    ::close(in_);
    in_ = -1;
  }
  while (pump(&input, 50)) {
    if (now_ms() > deadline) {
      r.timed_out = true;
      ::kill(pid_, SIGKILL);
      break;
    }
  }
  if (in_ >= 0) {
    ::close(in_);
    in_ = -1;
  }
  int status = 0;
  rusage usage{};
  ::wait4(pid_, &status, 0, &usage);
  reaped_ = true;
  r.max_rss_kib = usage.ru_maxrss;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  r.out = out_;
  r.err = err_;
  return r;
}

CliResult run_rill(const std::vector<std::string>& args, std::string_view input, const std::vector<std::string>& env) {
  RillProcess p(args, env);
  return p.finish(input);
}

std::vector<std::string> shm_objects(const std::string& ns) {
  std::vector<std::string> names;
  const std::string prefix = "rill." + ns + ".";
  if (DIR* d = ::opendir("/dev/shm")) {
    while (dirent* e = ::readdir(d))
      if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0) names.emplace_back(e->d_name);
    ::closedir(d);
  }
  return names;
}

void remove_shm_objects(const std::string& ns) {
  for (const std::string& name : shm_objects(ns)) ::unlink(("/dev/shm/" + name).c_str());
}

CliTest::CliTest() {
  static std::atomic<int> counter{0};
  ns_ = "clitest-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  remove_shm_objects(ns_);  // a previous run with a recycled pid may have left some
}

void CliTest::TearDown() {
  remove_shm_objects(ns_);
}

std::vector<std::string> CliTest::with_ns(std::vector<std::string> args) const {
  args.insert(args.begin(), {"--ns", ns_});
  return args;
}

CliResult CliTest::rill(std::vector<std::string> args, std::string_view input) {
  return run_rill(with_ns(std::move(args)), input);
}

void CliTest::expect_one_error_line(const CliResult& r, std::string_view mentions) {
  EXPECT_NE(r.exit_code, 0) << "stderr: " << r.err;
  EXPECT_EQ(r.term_signal, 0);
  const auto lines = r.err_lines();
  ASSERT_EQ(lines.size(), 1u) << "stderr: " << r.err;
  EXPECT_EQ(lines[0].rfind("rill: error: ", 0), 0u) << lines[0];
  if (!mentions.empty()) {
    EXPECT_NE(lines[0].find(mentions), std::string::npos) << lines[0];
  }
  EXPECT_TRUE(r.err.ends_with("\n"));
}

}  // namespace rill::cli::testing
