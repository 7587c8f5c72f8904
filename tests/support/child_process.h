// Forked child processes for multi-process tests: each runs a function and
// reports back through a pipe and its exit code. The owner reaps them all,
// kills any that outlive their deadline, and kills and reaps whatever is left
// when it goes out of scope - also when a test fails or throws.
//
// Fork before the test creates threads. A child must not touch the test
// framework: it runs its function, writes a short report and calls _exit().
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace rill::testing {

// Runs this test binary again as `env ... <binary> --gtest_filter=<test>`
// (env: "NAME=value ..." words, may be empty) and returns what it printed,
// stdout and stderr: for settings a process reads once, at its start.
inline std::string run_this_binary(const std::string& env, const std::string& test) {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "no /proc/self/exe";
  self[n] = '\0';
  const std::string command = env + " '" + std::string(self) + "' --gtest_filter=" + test + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
  ::pclose(pipe);
  return output;
}

struct ChildResult {
  pid_t pid = -1;
  std::string name;
  int exit_code = -1;  // valid when exited
  bool exited = false;
  int signal = 0;  // when killed by a signal
  bool timed_out = false;
  std::string report;

  bool ok() const { return exited && exit_code == 0 && !timed_out; }
  std::string describe() const {
    std::string s = name + " (pid " + std::to_string(pid) + "): ";
    if (timed_out) s += "TIMED OUT, killed; ";
    if (exited)
      s += "exit " + std::to_string(exit_code);
    else if (signal)
      s += "killed by signal " + std::to_string(signal);
    return s + "; report: " + report;
  }
};

// A barrier children wait at until the parent releases them all at once.
class StartGate {
 public:
  StartGate() {
    if (::pipe(fds_) != 0) fds_[0] = fds_[1] = -1;
  }
  ~StartGate() {
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  StartGate(const StartGate&) = delete;
  StartGate& operator=(const StartGate&) = delete;
  // In a child: blocks until the parent opens the gate.
  void wait_in_child() {
    char c;
    while (::read(fds_[0], &c, 1) < 0 && errno == EINTR) {
    }
  }
  // In the parent, after forking every child: releases `waiters` children.
  void open(int waiters) {
    const std::string tokens(static_cast<std::size_t>(waiters), 'g');
    if (::write(fds_[1], tokens.data(), tokens.size()) < 0) std::perror("StartGate::open");
  }

 private:
  int fds_[2];
};

class Children {
 public:
  Children() = default;
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() { kill_all(); }

  // Forks a child that runs body(report) and exits with its return value
  // (1 if it throws). What it appends to `report` (first 4000 bytes) reaches
  // the parent. Returns the child's pid (-1 if fork failed).
  pid_t spawn(std::string name, const std::function<int(std::string& report)>& body) {
    int fds[2];
    if (::pipe(fds) != 0) return -1;
    std::fflush(nullptr);  // do not let the child flush the parent's buffers again
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      return -1;
    }
    if (pid == 0) {
      ::close(fds[0]);
      std::string report;
      int code = 1;
      try {
        code = body(report);
      } catch (const std::exception& e) {
        report += std::string(" exception: ") + e.what();
      } catch (...) {
        report += " unknown exception";
      }
      if (report.size() > 4000) report.resize(4000);
      for (std::size_t at = 0; at < report.size();) {
        const ssize_t n = ::write(fds[1], report.data() + at, report.size() - at);
        if (n <= 0) break;
        at += static_cast<std::size_t>(n);
      }
      ::_exit(code);
    }
    ::close(fds[1]);
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    Child c;
    c.result.pid = pid;
    c.result.name = std::move(name);
    c.pipe = fds[0];
    children_.push_back(std::move(c));
    return pid;
  }

  // Sends `sig` to one child.
  void signal(pid_t pid, int sig) { ::kill(pid, sig); }

  // Waits until every child has exited or `timeout` has passed; children
  // still running then are killed (and marked timed out). Returns all results.
  std::vector<ChildResult> wait_all(std::chrono::steady_clock::duration timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      bool running = false;
      for (Child& c : children_) {
        drain(c);
        if (c.reaped) continue;
        int status = 0;
        const pid_t r = ::waitpid(c.result.pid, &status, WNOHANG);
        if (r == c.result.pid) {
          record(c, status);
        } else {
          running = true;
        }
      }
      if (!running) break;
      if (std::chrono::steady_clock::now() > deadline) {
        for (Child& c : children_)
          if (!c.reaped) {
            c.result.timed_out = true;
            ::kill(c.result.pid, SIGKILL);
          }
        kill_all();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::vector<ChildResult> results;
    for (Child& c : children_) {
      drain(c);
      results.push_back(c.result);
    }
    return results;
  }

  // Waits for one child (killing it at the deadline). Returns its result.
  ChildResult wait_one(pid_t pid, std::chrono::steady_clock::duration timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (Child& c : children_) {
      if (c.result.pid != pid) continue;
      while (!c.reaped) {
        drain(c);
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
          record(c, status);
          break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
          c.result.timed_out = true;
          ::kill(pid, SIGKILL);
          if (::waitpid(pid, &status, 0) == pid) record(c, status);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      drain(c);
      return c.result;
    }
    return ChildResult{};
  }

  // Kills (SIGKILL) and reaps every child still running.
  void kill_all() {
    for (Child& c : children_) {
      if (!c.reaped) {
        ::kill(c.result.pid, SIGKILL);
        int status = 0;
        if (::waitpid(c.result.pid, &status, 0) == c.result.pid) record(c, status);
        c.reaped = true;
      }
      drain(c);
      if (c.pipe >= 0) {
        ::close(c.pipe);
        c.pipe = -1;
      }
    }
  }

 private:
  struct Child {
    ChildResult result;
    int pipe = -1;
    bool reaped = false;
  };

  static void record(Child& c, int status) {
    c.reaped = true;
    if (WIFEXITED(status)) {
      c.result.exited = true;
      c.result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      c.result.signal = WTERMSIG(status);
    }
  }
  static void drain(Child& c) {
    if (c.pipe < 0) return;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(c.pipe, buf, sizeof buf);
      if (n > 0) {
        c.result.report.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) {  // EOF: the child is gone
        ::close(c.pipe);
        c.pipe = -1;
      }
      return;
    }
  }

  std::vector<Child> children_;
};

// A child cannot use gtest's assertions: it collects failures in its report.
class ChildChecks {
 public:
  explicit ChildChecks(std::string& report) : report_(report) {}
  bool expect(bool ok, const std::string& what) {
    if (!ok) {
      ++failures_;
      report_ += what + "\n";
    }
    return ok;
  }
  int exit_code() const { return failures_ == 0 ? 0 : 1; }

 private:
  std::string& report_;
  int failures_ = 0;
};

// Runs `body` in a child that is then SIGKILLed (it never exits cleanly:
// whatever it registered stays registered), and reaps it. Returns its pid.
template <typename Body>
pid_t die_after(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    ::raise(SIGKILL);
    ::_exit(1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

}  // namespace rill::testing
