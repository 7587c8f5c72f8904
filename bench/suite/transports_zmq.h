// ZeroMQ (libzmq 4.3) as a `rill bench` baseline: a PAIR socket pair per
// producer × consumer channel (and for ping-pong a second, pong channel),
// over ipc:// between processes or inproc:// between threads of one process.
// A send of n records is one message of n records, as a pipe's write of n
// records is one write; sends block at the high-water mark (1000 messages
// each side, ZeroMQ's default), so nothing is dropped. The consumer binds,
// the producer connects.
//
// A sender closes its sockets only once every peer it sends to is done (its
// consumers; on the pong lane, producer 0), or the phase is aborted: the
// board's done flags are the acknowledgement ZeroMQ does not give. Closing
// earlier loses records in libzmq 4.3, whatever the linger (-1 included):
// when a receiver is at its high-water mark its stream engine stops reading
// the socket, and if the peer hangs up meanwhile, the hang-up (EPOLLHUP,
// reported whatever the poll mask) marks the engine failed; once the
// application drains the pipe, the engine decodes only the bytes it had
// already read and drops the connection, abandoning what the sender had
// already written into the kernel's socket buffer. Over ipc:// with the
// consumer behind, that was the last few hundred records of a run
// ("consumer stalled at 19610 of 20000").
//
// ipc endpoints live in /tmp/rill-bench-<pid>-zmq-XXXXXX (the creating
// process's pid: a later `rill bench` removes it if that process was
// killed), which destruction removes. A forked participant makes its own
// context (a context never crosses fork), which its last socket's owner
// terminates.
//
// Thread safety: as every transport (transports.h); each socket is used by
// the one participant that made it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/suite/phase.h"

namespace rill::bench {

class ZmqTransport {
 public:
  enum class Kind : std::uint8_t { kIpc, kInproc };
  static Result<std::unique_ptr<ZmqTransport>> create(const PhasePlan& plan, Kind kind);
  ~ZmqTransport();
  ZmqTransport(const ZmqTransport&) = delete;
  ZmqTransport& operator=(const ZmqTransport&) = delete;

  // A socket closed on destruction with linger 0: whatever it still holds
  // is discarded (a sender closes only once its peers are done). Move-only.
  class Socket {
   public:
    explicit Socket(void* s = nullptr) noexcept : s_(s) {}
    Socket(Socket&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
    Socket& operator=(Socket&& o) noexcept;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket();
    void* get() const noexcept { return s_; }

   private:
    void* s_;
  };

  using Context = std::shared_ptr<void>;  // zmq_ctx_term when the last holder lets go

  class Sender {
   public:
    Sender() = default;
    Sender(Sender&&) noexcept = default;
    Sender& operator=(Sender&&) = delete;
    // Waits until every peer this sender feeds has set its done flag on the
    // attached board, or the board aborts, then closes the sockets. Without
    // an attached board it closes at once. REQUIRES: the owner has set its
    // own done flag first (the peers may be waiting for it).
    ~Sender();

    bool send(int partition, const std::byte* records, std::size_t n, Failure& failure) noexcept;
    std::uint64_t window() const noexcept { return 0; }

   private:
    friend class ZmqTransport;
    void await_peers_done() const noexcept;
    Context context_;  // before the sockets: destroyed after them
    const PhasePlan* plan_ = nullptr;
    const PhaseBoard* board_ = nullptr;
    bool pong_ = false;
    std::vector<Socket> to_consumer_;
  };

  class Receiver {
   public:
    template <typename F>
    long poll(F&& on_record, Failure& failure) noexcept {
      if (!wait_readable(failure)) return -1;
      const std::size_t size = plan_->record_bytes;
      long total = 0;
      for (Socket& s : from_producer_) {
        for (int k = 0; k < 64; ++k) {
          const long bytes = receive(s, failure);
          if (bytes < 0) return -1;
          if (bytes == 0) break;
          for (std::size_t off = 0; off + size <= static_cast<std::size_t>(bytes); off += size) on_record(buffer_.data() + off, size);
          total += bytes / static_cast<long>(size);
        }
      }
      return total;
    }

   private:
    friend class ZmqTransport;
    // Blocking receivers: zmq_poll for up to 10 ms. Others return at once.
    bool wait_readable(Failure& failure) noexcept;
    // One message into buffer_ without waiting: its bytes, 0 if none, -1 on error.
    long receive(Socket& s, Failure& failure) noexcept;
    Context context_;  // before the sockets: destroyed after them
    const PhasePlan* plan_ = nullptr;
    std::vector<Socket> from_producer_;
    std::vector<std::byte> buffer_;
  };

  Result<Sender> sender(int producer, Lane lane);
  Result<Receiver> receiver(int consumer, Lane lane);
  void attach(const PhaseBoard& board) noexcept { board_ = &board; }

 private:
  ZmqTransport(const PhasePlan& plan, Kind kind) : plan_(plan), kind_(kind) {}
  std::string endpoint(int p, int c, Lane lane) const;
  Result<Context> context();  // this process's (made on first use in a forked participant)

  PhasePlan plan_;
  Kind kind_;
  pid_t creator_ = 0;
  std::string dir_;              // ipc: the endpoints' directory (/tmp/rill-bench-<pid>-zmq-XXXXXX)
  std::string inproc_prefix_;    // inproc: unique per transport
  Context shared_context_;          // inproc: shared by the threads
  std::weak_ptr<void> participant_context_;  // ipc: the forked participant's own, held by its sockets' owners
  pid_t participant_pid_ = 0;
  const PhaseBoard* board_ = nullptr;
};

}  // namespace rill::bench
