// Running a benchmark's participants: producers and consumers as threads of
// this process or as forked processes, pinned to cores, sharing memory that
// was mapped before they started.
//
// Thread safety: a Team is used by one (the main) thread. Participants talk
// only through the SharedBlock's atomics.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "rill/status.h"

namespace rill::bench {

// Pins the calling thread to `core`; false (thread left where it was) if the
// machine has no such core or the call fails.
bool pin_to_core(int core) noexcept;

// Zero-filled MAP_SHARED | MAP_ANONYMOUS memory: a forked child sees the
// same bytes as a thread would. Move-only; unmaps on destruction.
class SharedBlock {
 public:
  static Result<SharedBlock> map(std::size_t bytes);
  SharedBlock() = default;
  SharedBlock(SharedBlock&& other) noexcept;
  SharedBlock& operator=(SharedBlock&& other) noexcept;
  SharedBlock(const SharedBlock&) = delete;
  SharedBlock& operator=(const SharedBlock&) = delete;
  ~SharedBlock();

  void* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

// A set of participants started together and joined together.
class Team {
 public:
  enum class Mode : std::uint8_t { kThreads, kProcesses };
  explicit Team(Mode mode) : mode_(mode) {}
  ~Team();  // kills (SIGKILL) and reaps children that are still running; joins threads
  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;

  // Starts `body` on `core` (-1: not pinned). A forked child runs body and
  // ends with _exit(0) (no atexit handlers, no static destructors) unless
  // body _exits itself with another status; it dies with its parent
  // (PR_SET_PDEATHSIG). body reports through shared memory. `name` ("producer
  // 0") names the participant in join()'s and check_children()'s errors;
  // empty: "process <pid>".
  // REQUIRES (kProcesses): no other thread of this process is running.
  Status start(int core, std::function<void()> body, std::string name = {});

  // Waits for every participant. Returns the first abnormal end of a child
  // (killed by a signal, non-zero exit) as kInternal naming it, else OK.
  Status join();

  // Sends SIGKILL to every child still running (threads cannot be killed:
  // they must notice the board's abort flag). join() then reports them.
  void kill() noexcept;

  // Asks every child still running to stop (SIGTERM), waits up to `grace`
  // for them, then kills (SIGKILL) and reaps the rest. Threads are joined.
  void stop(std::chrono::milliseconds grace) noexcept;

  // Children started and not yet reaped (by check_children(), join(), stop()).
  std::size_t running() const noexcept { return children_.size(); }

  // Without waiting: the first child found dead of a signal or a non-zero
  // exit since the last call, as kInternal naming it; OK otherwise.
  Status check_children();

 private:
  Mode mode_;
  std::vector<std::thread> threads_;
  struct Child {
    pid_t pid;
    std::string name;
  };
  std::vector<Child> children_;        // still to be reaped
  std::vector<Status> ended_;          // abnormal ends reaped by check_children(), for join()
};

}  // namespace rill::bench
