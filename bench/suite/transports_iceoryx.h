// iceoryx (Debian's 2.0) as a `rill bench` baseline across processes: an
// untyped publisher and subscriber per producer × consumer channel (and for
// ping-pong a second, pong channel), zero-copy loan / publish / take /
// release. Lossless as the other baselines: the publisher waits for a slow
// subscriber (ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER, QueueFullPolicy::
// BLOCK_PRODUCER) and a send of n records is one chunk of n records, as a
// pipe's write of n records is one write.
//
// iceoryx needs its daemon, RouDi: create() starts `iox-roudi` with a memory
// pool sized for the plan's chunks and waits until it is ready; destruction
// stops it (SIGTERM, then SIGKILL) and removes whatever it or a participant
// that died left in /dev/shm and /tmp. RouDi dies with the bench
// (PR_SET_PDEATHSIG) if the bench is killed. iceoryx allows one RouDi per
// host: if another one runs, create() fails saying so.
//
// Thread safety: as every transport (transports.h); participants are forked
// processes, each with its own iceoryx runtime.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "bench/suite/phase.h"

namespace rill::bench {

class IceoryxTransport {
 public:
  static Result<std::unique_ptr<IceoryxTransport>> create(const PhasePlan& plan);
  ~IceoryxTransport();  // in the process that created it: stops RouDi and cleans up
  IceoryxTransport(const IceoryxTransport&) = delete;
  IceoryxTransport& operator=(const IceoryxTransport&) = delete;

  class Channels;  // the publishers or subscribers of one participant (iceoryx types stay in the .cc)

  class Sender {
   public:
    Sender(Sender&&) noexcept;
    ~Sender();
    bool send(int partition, const std::byte* records, std::size_t n, Failure& failure) noexcept;
    std::uint64_t window() const noexcept { return 0; }

   private:
    friend class IceoryxTransport;
    Sender() = default;
    const PhasePlan* plan_ = nullptr;
    bool pong_ = false;
    std::unique_ptr<Channels> channels_;
  };

  class Receiver {
   public:
    Receiver(Receiver&&) noexcept;
    ~Receiver();
    template <typename F>
    long poll(F&& on_record, Failure& failure) noexcept {
      struct Context {
        std::remove_reference_t<F>* on_record;
        std::size_t size;
      } context{&on_record, plan_->record_bytes};
      return poll_chunks(
          [](void* c, const std::byte* chunk, std::size_t bytes) noexcept {
            auto* ctx = static_cast<Context*>(c);
            for (std::size_t off = 0; off + ctx->size <= bytes; off += ctx->size) (*ctx->on_record)(chunk + off, ctx->size);
          },
          &context, failure);
    }

   private:
    friend class IceoryxTransport;
    Receiver() = default;
    using ChunkFn = void (*)(void* context, const std::byte* chunk, std::size_t bytes) noexcept;
    // Takes every chunk ready (waiting up to 10 ms for one when blocking),
    // hands each to `each` and releases it. Returns the records taken, or -1.
    long poll_chunks(ChunkFn each, void* context, Failure& failure) noexcept;
    const PhasePlan* plan_ = nullptr;
    std::unique_ptr<Channels> channels_;
  };

  // In a forked participant only: starts its iceoryx runtime on first use.
  Result<Sender> sender(int producer, Lane lane);
  Result<Receiver> receiver(int consumer, Lane lane);

 private:
  explicit IceoryxTransport(const PhasePlan& plan) : plan_(plan) {}
  Status start_roudi();
  void stop_roudi() noexcept;
  Status ensure_runtime(const char* role, int index);
  std::string channel_name(int p, int c, Lane lane) const;

  PhasePlan plan_;
  pid_t creator_ = 0;
  pid_t roudi_ = -1;
  std::string dir_;  // a temporary directory: RouDi's config and output
  std::uint64_t chunk_payload_ = 0;
  std::uint64_t queue_capacity_ = 0;
  std::vector<std::string> runtime_names_;  // every participant's, to remove their leftovers
};

}  // namespace rill::bench
