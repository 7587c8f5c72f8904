// Runs the real `rill` binary for the CLI tests.
//
// RillProcess spawns it (fork + execve of RILL_CLI_PATH) with its own
// stdin/stdout/stderr pipes; CliTest gives every test a namespace of its own
// and removes the namespace's shared-memory objects in TearDown, even when
// the test failed half way.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace rill::cli::testing {

struct CliResult {
  int exit_code = -1;   // -1 when killed by a signal
  int term_signal = 0;  // the signal that killed it, or 0
  bool timed_out = false;
  long max_rss_kib = 0;  // the process's peak resident set (wait4's ru_maxrss)
  std::string out;
  std::string err;

  std::vector<std::string> out_lines() const;
  std::vector<std::string> err_lines() const;
};

// Splits on '\n'; a final line without '\n' counts, an empty tail does not.
std::vector<std::string> split_lines(std::string_view text);

class RillProcess {
 public:
  // Starts `rill args...` with `env` (NAME=VALUE) added to this process's
  // environment minus RILL_NS. Its stdin is a pipe fed by finish(), or
  // `stdin_fd` when that is >= 0 (a file, /dev/zero, a pipe of the test's;
  // not owned: the caller closes it).
  explicit RillProcess(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                       int stdin_fd = -1);
  ~RillProcess();
  RillProcess(const RillProcess&) = delete;
  RillProcess& operator=(const RillProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Reads output until `done(stdout so far)` is true or the timeout passes.
  // Returns done's last answer.
  bool read_until(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds timeout);
  void signal(int sig);
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }
  // Writes `input` to its stdin, closes it, reads everything and reaps the
  // process (SIGKILL after `timeout`).
  CliResult finish(std::string_view input = {}, std::chrono::milliseconds timeout = std::chrono::seconds(60));

 private:
  // One round of poll(): writes pending input, reads what is there. False at EOF of both outputs.
  bool pump(std::string_view* input, int timeout_ms);

  pid_t pid_ = -1;
  int in_ = -1, out_fd_ = -1, err_fd_ = -1;
  std::string out_, err_;
  bool reaped_ = false;
};

// Runs rill to completion.
CliResult run_rill(const std::vector<std::string>& args, std::string_view input = {},
                   const std::vector<std::string>& env = {});

// Names (without /dev/shm/) of the shared-memory objects of namespace `ns`.
std::vector<std::string> shm_objects(const std::string& ns);
// Unlinks them all.
void remove_shm_objects(const std::string& ns);

// A fixture with a fresh namespace: clitest-<pid>-<n>.
class CliTest : public ::testing::Test {
 protected:
  CliTest();
  void TearDown() override;

  const std::string& ns() const { return ns_; }
  // rill --ns <ns> args...
  CliResult rill(std::vector<std::string> args, std::string_view input = {});
  std::vector<std::string> with_ns(std::vector<std::string> args) const;

  // Asserts the failure contract: non-zero exit, exactly one stderr line, starting "rill: error:".
  static void expect_one_error_line(const CliResult& r, std::string_view mentions = {});

 private:
  std::string ns_;
};

}  // namespace rill::cli::testing
