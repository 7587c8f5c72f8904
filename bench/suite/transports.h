// The transports `rill bench` runs one scenario over (see phase.h for what
// a transport provides):
//
//   RillTransport   a rill topic: in-process (threads, anonymous memory) or
//                   across processes (a shared namespace "bench-<pid>");
//                   durable (PhasePlan::durability) in a shared namespace
//                   with a data folder of its own, in both cases.
//   QueueTransport  Boost.Lockfree spsc_queue, one byte queue per producer ×
//                   consumer pair, records pushed and popped whole (threads).
//   FdTransport     a Unix domain stream socket or a pipe per producer ×
//                   consumer pair (processes).
//   IceoryxTransport, ZmqTransport: transports_iceoryx.h, transports_zmq.h.
//
// Ping-pong (PhasePlan::pingpong, 1x1) adds a second channel for the pong
// lane: a second topic "bench-pong" for rill, a second queue, socket or pipe
// for the others.
//
// A baseline has no partitions: a record routed to partition k goes down the
// channel of each consumer that owns k (all of them in fan-out), so a
// fan-out producer writes it once per consumer where rill writes it once.
//
// Thread safety: a transport is set up and torn down by the main thread;
// each Sender and Receiver belongs to one participant.
#pragma once

#include <poll.h>

#include <boost/lockfree/spsc_queue.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/suite/phase.h"
#include "rill/rill.h"

namespace rill::bench {

// ---------------------------------------------------------------- rill

class RillTransport {
 public:
  // Creates a topic of plan.partitions partitions (and for ping-pong a
  // second topic of one): in a namespace of this process only, or in the
  // shared namespace `shared_ns` (non-empty). With plan.durability other
  // than kMemory the namespace is durable (REQUIRES: shared_ns non-empty),
  // its folder a new one in plan.data_dir. `forked`: the participants are
  // forked processes, which open the topics themselves; the creator then
  // leaves a durable topic unopened, since opening one starts this
  // process's flusher thread (core/client/durable.h), which a fork must not
  // copy mid-flush.
  static Result<std::unique_ptr<RillTransport>> create(const PhasePlan& plan, const std::string& shared_ns,
                                                       bool forked);
  // Deletes the topics, the shared namespace's objects and the data folder.
  ~RillTransport();

  // A durable transport's topic "bench": what its partitions' segment files
  // (<folder>/bench-<p>/*.log, doc/segment_format.md) hold.
  struct FileBytes {
    std::uint64_t bytes = 0;  // the files' sizes: file headers and frames
    std::uint64_t files = 0;
  };
  Result<FileBytes> file_bytes() const;

  class Sender {
   public:
    Sender(std::shared_ptr<Topic> topic, const ProducerOptions& options, std::size_t record_bytes,
           std::uint64_t window)
        : producer_(std::move(topic), options), record_bytes_(record_bytes), window_(window) {}
    bool send(int partition, const std::byte* records, std::size_t n, Failure& failure) noexcept {
      if (n == 1) {
        auto r = producer_.send(std::nullopt, view(records), SendOptions{.partition = partition, .timestamp_ns = -1, .headers = {}});
        if (r.is_ok()) [[likely]] return true;
        failure.fail("send: %s", r.status().to_string().c_str());
        return false;
      }
      for (std::size_t j = 0; j < n; ++j) messages_[j].value = view(records + j * record_bytes_);
      auto r = producer_.send_batch(std::span<const Message>(messages_.data(), n), partition);
      if (r.is_ok() && r.value() == n) [[likely]] return true;
      failure.fail("send_batch: %s", r.is_ok() ? "short batch" : r.status().to_string().c_str());
      return false;
    }
    std::uint64_t window() const noexcept { return window_; }

   private:
    std::string_view view(const std::byte* p) const noexcept {
      return std::string_view(reinterpret_cast<const char*>(p), record_bytes_);
    }
    Producer producer_;
    std::size_t record_bytes_;
    std::uint64_t window_;
    std::array<Message, kMaxBatch> messages_{};
  };

  class Receiver {
   public:
    Receiver(Consumer consumer, std::chrono::nanoseconds timeout) : consumer_(std::move(consumer)), timeout_(timeout) {}
    template <typename F>
    long poll(F&& on_record, Failure& failure) noexcept {
      PollResult r = consumer_.poll(timeout_);
      if (!r.status.is_ok()) {
        failure.fail("poll: %s", r.status.to_string().c_str());
        return -1;
      }
      if (r.skipped != 0) {
        failure.fail("the ring overran the consumer: %lld records skipped", static_cast<long long>(r.skipped));
        return -1;
      }
      for (const RecordView& v : r.records) {
        const std::string_view value = v.value();
        on_record(reinterpret_cast<const std::byte*>(value.data()), value.size());
      }
      if (!r.records.empty() && !consumer_.still_valid()) {
        failure.fail("records were overwritten while they were read");
        return -1;
      }
      return static_cast<long>(r.records.size());
    }

   private:
    Consumer consumer_;
    std::chrono::nanoseconds timeout_;
  };

  Result<Sender> sender(int producer, Lane lane);
  Result<Receiver> receiver(int consumer, Lane lane);

 private:
  RillTransport(const PhasePlan& plan, std::string shared_ns) : plan_(plan), shared_ns_(std::move(shared_ns)) {}
  Result<std::shared_ptr<Topic>> topic(Lane lane);  // this participant's handle

  PhasePlan plan_;
  std::string shared_ns_;
  std::string data_dir_;  // a durable namespace's folder; empty in memory
  std::shared_ptr<Namespace> ns_;
  std::shared_ptr<Namespace> participant_ns_;  // a forked participant's own opening
  std::shared_ptr<Topic> topic_, pong_topic_;
  pid_t creator_ = 0;
};

// ---------------------------------------------------------------- Boost.Lockfree

class QueueTransport {
 public:
  using Queue = boost::lockfree::spsc_queue<std::byte>;
  // Queues of 65,536 records each.
  static Result<std::unique_ptr<QueueTransport>> create(const PhasePlan& plan);

  class Sender {
   public:
    bool send(int partition, const std::byte* records, std::size_t n, Failure& failure) noexcept;
    std::uint64_t window() const noexcept { return 0; }

   private:
    friend class QueueTransport;
    const PhasePlan* plan_ = nullptr;
    std::vector<Queue*> to_consumer_;
    const PhaseBoard* board_ = nullptr;
  };

  class Receiver {
   public:
    template <typename F>
    long poll(F&& on_record, Failure&) noexcept {
      const std::size_t size = plan_->record_bytes;
      long total = 0;
      for (Queue* q : from_producer_) {
        std::size_t records = std::min(q->read_available() / size, buffer_.size() / size);
        if (records == 0) continue;
        const std::size_t got = q->pop(buffer_.data(), records * size);
        for (std::size_t off = 0; off < got; off += size) on_record(buffer_.data() + off, size);
        total += static_cast<long>(got / size);
      }
      return total;
    }

   private:
    friend class QueueTransport;
    const PhasePlan* plan_ = nullptr;
    std::vector<Queue*> from_producer_;
    std::vector<std::byte> buffer_;
  };

  Result<Sender> sender(int producer, Lane lane);
  Result<Receiver> receiver(int consumer, Lane lane);
  void attach(const PhaseBoard& board) noexcept { board_ = &board; }

 private:
  explicit QueueTransport(const PhasePlan& plan) : plan_(plan) {}
  PhasePlan plan_;
  std::vector<std::unique_ptr<Queue>> queues_;  // [p * consumers + c]; ping-pong: [0] ping, [1] pong
  const PhaseBoard* board_ = nullptr;
};

// ---------------------------------------------------------------- sockets and pipes

class FdTransport {
 public:
  enum class Kind : std::uint8_t { kUnixSocket, kPipe };
  // Makes every channel before the participants are forked.
  static Result<std::unique_ptr<FdTransport>> create(const PhasePlan& plan, Kind kind);
  ~FdTransport();

  class Sender {
   public:
    bool send(int partition, const std::byte* records, std::size_t n, Failure& failure) noexcept;
    std::uint64_t window() const noexcept { return 0; }

   private:
    friend class FdTransport;
    const PhasePlan* plan_ = nullptr;
    std::vector<int> to_consumer_;
  };

  class Receiver {
   public:
    template <typename F>
    long poll(F&& on_record, Failure& failure) noexcept {
      if (!wait_readable(failure)) return -1;
      const std::size_t size = plan_->record_bytes;
      long total = 0;
      for (Channel& ch : channels_) {
        if (!ch.readable) continue;
        const long got = read_some(ch, failure);
        if (got < 0) return -1;
        std::size_t off = 0;
        for (; off + size <= ch.filled; off += size) on_record(ch.buffer.data() + off, size);
        total += static_cast<long>(off / size);
        ch.filled -= off;
        if (ch.filled != 0) std::memmove(ch.buffer.data(), ch.buffer.data() + off, ch.filled);
      }
      return total;
    }

   private:
    friend class FdTransport;
    struct Channel {
      int fd = -1;
      bool readable = false;
      std::size_t filled = 0;
      std::vector<std::byte> buffer;
    };
    // Sets `readable` on each channel: poll(2) for up to 10 ms when blocking,
    // else all (the reads are non-blocking).
    bool wait_readable(Failure& failure) noexcept;
    long read_some(Channel& ch, Failure& failure) noexcept;
    const PhasePlan* plan_ = nullptr;
    std::vector<Channel> channels_;
    std::vector<struct pollfd> pollfds_;
  };

  // In a forked participant only (each keeps just its own channel ends:
  // a producer's are its ping write ends and pong read end, a consumer's
  // the reverse).
  Result<Sender> sender(int producer, Lane lane);
  Result<Receiver> receiver(int consumer, Lane lane);
  // In the parent once every participant is forked: it needs no ends.
  void close_parent_ends() noexcept;

 private:
  explicit FdTransport(const PhasePlan& plan) : plan_(plan) {}
  void keep_only(const std::vector<int>& mine) noexcept;
  // The channel of (producer p, consumer c) on `lane`.
  std::size_t channel(int p, int c, Lane lane) const noexcept {
    return static_cast<std::size_t>(p * plan_.consumers + c + (lane == Lane::kPong ? plan_.producers * plan_.consumers : 0));
  }
  void keep_role(bool producer, int index) noexcept;
  PhasePlan plan_;
  std::vector<int> read_fds_, write_fds_;  // [channel(p, c, lane)]
};

}  // namespace rill::bench
