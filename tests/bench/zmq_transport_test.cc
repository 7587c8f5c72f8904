// The ZeroMQ baseline over ipc://, between processes: a sender does not hang
// up before its consumer has every record. libzmq 4.3 drops what is still in
// the socket buffer when the peer hangs up while the receiver sits at its
// high-water mark (transports_zmq.h), so a consumer that is behind when its
// producer ends must still find the producer's socket open.
#include "bench/suite/transports_zmq.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <new>
#include <string>
#include <thread>

#include "bench/suite/team.h"

namespace rill::bench {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t kRecordBytes = 64;

PhasePlan plan_1x1() {
  PhasePlan plan;
  plan.record_bytes = kRecordBytes;
  plan.batch = 1;
  plan.wait = WaitKind::kBlock;
  return plan;
}

// The board in MAP_SHARED memory, so that a forked producer shares it.
struct SharedBoard {
  SharedBlock block = SharedBlock::map(sizeof(PhaseBoard)).value();
  PhaseBoard* board = new (block.data()) PhaseBoard();
};

// Waits up to `limit` for `done`; true if it came.
template <typename F>
bool wait_for(F done, milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

// More records than the receiving side buffers (1000 messages in ZeroMQ's
// pipe, one 8 KiB read in its engine; the rest wait in the kernel), fewer
// than both sides and the kernel hold (with Linux's default socket buffers),
// so that every send completes while the consumer reads nothing. Before the
// fix, the producer then hung up and the consumer got about 1120 of them.
TEST(ZmqIpc, AConsumerThatIsBehindGetsEveryRecordAfterItsProducerFinished) {
  constexpr std::uint32_t kRecords = 1500;
  const PhasePlan plan = plan_1x1();
  SharedBoard shared;
  PhaseBoard& board = *shared.board;
  auto made = ZmqTransport::create(plan, ZmqTransport::Kind::kIpc);
  ASSERT_TRUE(made.is_ok()) << made.status().to_string();
  ZmqTransport& transport = *made.value();
  transport.attach(board);

  // The producer, forked before this process makes a ZeroMQ context.
  const pid_t producer = ::fork();
  ASSERT_GE(producer, 0);
  if (producer == 0) {
    int code = 0;
    {
      auto sender = transport.sender(0, Lane::kPing);
      if (!sender.is_ok()) ::_exit(2);
      Failure failure;
      std::byte record[kRecordBytes] = {};
      for (std::uint32_t i = 0; i < kRecords && code == 0; ++i) {
        std::memcpy(record, &i, sizeof i);
        if (!sender.value().send(0, record, 1, failure)) code = 3;
      }
      board.producers[0].sent.store(kRecords, std::memory_order_release);  // pairs with the test's acquire
      board.producers[0].done.store(1, std::memory_order_release);         // pairs with the test's acquire
    }  // the sender closes here: only once consumer 0 is done
    ::_exit(code);
  }
  // A failed assertion below must not leave the producer waiting for us.
  bool reaped = false;
  struct Reaper {
    pid_t pid;
    bool& reaped;
    ~Reaper() {
      if (reaped) return;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reaper{producer, reaped};

  auto receiver = transport.receiver(0, Lane::kPing);
  ASSERT_TRUE(receiver.is_ok()) << receiver.status().to_string();
  // Where the socket buffers hold fewer records, the producer blocks instead
  // until we read: the records must still all arrive.
  (void)wait_for([&] { return board.producers[0].done.load(std::memory_order_acquire) != 0; }, milliseconds(10'000));
  // Give a producer that would hang up now the time to do it.
  int status = 0;
  reaped = wait_for([&] { return ::waitpid(producer, &status, WNOHANG) == producer; }, milliseconds(300));
  EXPECT_FALSE(reaped) << "the producer closed its socket before its consumer was done";

  std::uint32_t received = 0;
  bool in_order = true;
  Failure failure;
  auto on_record = [&](const std::byte* r, std::size_t size) noexcept {
    std::uint32_t i = 0;
    std::memcpy(&i, r, sizeof i);
    in_order = in_order && size == kRecordBytes && i == received;
    ++received;
  };
  auto last_progress = std::chrono::steady_clock::now();
  while (received < kRecords && std::chrono::steady_clock::now() - last_progress < std::chrono::seconds(5)) {
    const long n = receiver.value().poll(on_record, failure);
    ASSERT_GE(n, 0) << failure.text;
    if (n > 0) last_progress = std::chrono::steady_clock::now();
  }
  EXPECT_EQ(received, kRecords);
  EXPECT_TRUE(in_order);

  board.consumers[0].done.store(1, std::memory_order_release);  // pairs with the sender's acquire
  if (!reaped) {
    ASSERT_EQ(::waitpid(producer, &status, 0), producer);
    reaped = true;
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "producer status " << status;
}

// An aborted phase does not wait for consumers that will never be done.
TEST(ZmqIpc, ASenderClosesAtOnceWhenThePhaseIsAborted) {
  const PhasePlan plan = plan_1x1();
  SharedBoard shared;
  PhaseBoard& board = *shared.board;
  auto made = ZmqTransport::create(plan, ZmqTransport::Kind::kInproc);
  ASSERT_TRUE(made.is_ok()) << made.status().to_string();
  made.value()->attach(board);
  std::thread producer([&] {
    auto sender = made.value()->sender(0, Lane::kPing);
    ASSERT_TRUE(sender.is_ok());
  });
  std::this_thread::sleep_for(milliseconds(20));
  board.abort.store(1, std::memory_order_relaxed);
  producer.join();  // would hang if the sender waited for consumer 0 regardless
}

// The endpoints' directory names the creating process, so that a later run
// can tell it from a live run's, and is gone with the transport.
TEST(ZmqIpc, EndpointsLiveInADirectoryNamedAfterTheProcessAndGoWithIt) {
  const std::string prefix = "rill-bench-" + std::to_string(::getpid()) + "-zmq-";
  auto ours = [&] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/tmp"))
      if (e.path().filename().string().rfind(prefix, 0) == 0) ++n;
    return n;
  };
  {
    auto made = ZmqTransport::create(plan_1x1(), ZmqTransport::Kind::kIpc);
    ASSERT_TRUE(made.is_ok()) << made.status().to_string();
    EXPECT_EQ(ours(), 1);
  }
  EXPECT_EQ(ours(), 0);
}

}  // namespace
}  // namespace rill::bench
