// ipc/liveness: process identities that survive pid reuse, and the weaker
// pid-only check for words that have room for nothing more.
#include "ipc/liveness.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "ipc/faults.h"

namespace rill::ipc {
namespace {

// A child that exits at once, reaped: its pid names no process afterwards
// (until the kernel reuses it, which it does not do at once).
pid_t reaped_child() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST(Liveness, ThisProcessIsAliveAndADeadOneIsNot) {
  const ProcessId me = self();
  EXPECT_EQ(me.pid, ::getpid());
  EXPECT_NE(me.start_time, 0u);
  EXPECT_EQ(liveness(me), Liveness::kAlive);
  EXPECT_EQ(liveness_packed(me.packed()), Liveness::kAlive);
  EXPECT_EQ(identify(::getpid()), me);

  const pid_t gone = reaped_child();
  EXPECT_TRUE(identify(gone).empty());
  EXPECT_EQ(liveness(ProcessId{gone, 0, me.start_time}), Liveness::kDead);
}

TEST(Liveness, ThePidReusedByAnotherProcessIsNotTheSameProcess) {
  // This process under an earlier start time: the pid lives, the identity not.
  ProcessId earlier = self();
  earlier.start_time -= 1;
  EXPECT_EQ(liveness(earlier), Liveness::kDead);
  EXPECT_EQ(liveness_packed(earlier.packed()), Liveness::kDead);
}

TEST(Liveness, AZombieIsDead) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  // Not reaped yet: a zombie never runs again.
  ProcessId zombie;
  for (int i = 0; i < 1000; ++i) {
    zombie = identify(pid);
    if (zombie.empty() || liveness(zombie) == Liveness::kDead) break;
    ::usleep(1000);
  }
  EXPECT_EQ(liveness(ProcessId{pid, 0, zombie.start_time}), Liveness::kDead);
  EXPECT_TRUE(pid_exists(pid)) << "the pid-only check sees the zombie's pid: it errs towards alive";
  ::waitpid(pid, nullptr, 0);
}

TEST(Liveness, PidExistsIsThePidOnlyCheck) {
  EXPECT_TRUE(pid_exists(::getpid()));
  EXPECT_EQ(current_pid(), ::getpid());
  EXPECT_EQ(current_tid(), ::gettid());
  EXPECT_TRUE(pid_exists(1)) << "init: another user's process exists too (EPERM counts as alive)";
  EXPECT_FALSE(pid_exists(reaped_child()));
}

// /proc mounted hidepid=: another user's /proc/<pid>/stat cannot be read, so
// the start time cannot be compared. The check falls back to the pid and errs
// towards alive: a live process is never judged dead, a gone one is dead.
TEST(Liveness, WhereProcIsHiddenTheCheckFallsBackToThePid) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  const ProcessId child = identify(pid);
  ASSERT_FALSE(child.empty());
  struct Disarm {
    ~Disarm() { clear_faults(); }
  } disarm;
  const std::string stat = "/proc/" + std::to_string(pid) + "/stat";
  inject_fault(OsCall::kProcRead, stat, EACCES, 1000);

  EXPECT_TRUE(identify(pid).empty()) << "the injected refusal reaches read_stat";
  EXPECT_EQ(liveness(child), Liveness::kAlive);
  EXPECT_EQ(liveness_packed(child.packed()), Liveness::kAlive);
  ProcessId earlier = child;
  earlier.start_time -= 1;
  EXPECT_EQ(liveness(earlier), Liveness::kAlive) << "a reused pid cannot be told apart without /proc: alive";

  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  EXPECT_EQ(liveness(child), Liveness::kDead);
  EXPECT_EQ(liveness_packed(child.packed()), Liveness::kDead);
}

}  // namespace
}  // namespace rill::ipc
