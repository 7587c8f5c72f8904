#include "bench/suite/transports_zmq.h"

#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

namespace rill::bench {

namespace {

constexpr int kSendTimeoutMs = 100;  // a blocked send looks at the board's abort flag this often

Status zmq_error(const std::string& what) { return Status(Code::kIoError, "zmq: " + what + ": " + zmq_strerror(zmq_errno())); }

}  // namespace

ZmqTransport::Socket& ZmqTransport::Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    this->~Socket();
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}

ZmqTransport::Socket::~Socket() {
  if (s_ == nullptr) return;
  const int linger = 0;
  zmq_setsockopt(s_, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(s_);
  s_ = nullptr;
}

Result<std::unique_ptr<ZmqTransport>> ZmqTransport::create(const PhasePlan& plan, Kind kind) {
  std::unique_ptr<ZmqTransport> t(new ZmqTransport(plan, kind));
  t->creator_ = ::getpid();
  if (kind == Kind::kIpc) {
    std::string dir = "/tmp/rill-bench-" + std::to_string(t->creator_) + "-zmq-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) return Status(Code::kIoError, "mkdtemp " + dir + ": " + std::strerror(errno));
    t->dir_ = std::move(dir);
  } else {
    static int made = 0;
    t->inproc_prefix_ = "inproc://rill-bench-" + std::to_string(++made) + "-";
    auto ctx = t->context();
    if (!ctx.is_ok()) return ctx.status();
  }
  return t;
}

ZmqTransport::~ZmqTransport() {
  if (::getpid() != creator_) return;
  shared_context_.reset();  // every socket is closed by now (participants joined): term does not wait
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Result<ZmqTransport::Context> ZmqTransport::context() {
  if (kind_ == Kind::kInproc && shared_context_) return shared_context_;
  if (kind_ == Kind::kIpc && participant_pid_ == ::getpid())
    if (Context held = participant_context_.lock()) return held;
  void* raw = zmq_ctx_new();
  if (raw == nullptr) return zmq_error("zmq_ctx_new");
  Context ctx(raw, [](void* c) { zmq_ctx_term(c); });
  if (kind_ == Kind::kInproc) shared_context_ = ctx;
  participant_context_ = ctx;
  participant_pid_ = ::getpid();
  return ctx;
}

std::string ZmqTransport::endpoint(int p, int c, Lane lane) const {
  const std::string name = std::string(lane == Lane::kPong ? "pong-" : "ping-") + std::to_string(p) + "-" + std::to_string(c);
  return kind_ == Kind::kIpc ? "ipc://" + dir_ + "/" + name : inproc_prefix_ + name;
}

Result<ZmqTransport::Sender> ZmqTransport::sender(int index, Lane lane) {
  auto ctx = context();
  if (!ctx.is_ok()) return ctx.status();
  Sender s;
  s.plan_ = &plan_;
  s.pong_ = lane == Lane::kPong;
  const int to = lane == Lane::kPong ? 1 : plan_.consumers;
  for (int c = 0; c < to; ++c) {
    Socket sock(zmq_socket(ctx.value().get(), ZMQ_PAIR));
    if (sock.get() == nullptr) return zmq_error("zmq_socket");
    const int timeout = kSendTimeoutMs;
    zmq_setsockopt(sock.get(), ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    const std::string ep = lane == Lane::kPong ? endpoint(0, index, lane) : endpoint(index, c, lane);
    if (zmq_connect(sock.get(), ep.c_str()) != 0) return zmq_error("connect " + ep);
    s.to_consumer_.push_back(std::move(sock));
  }
  s.context_ = ctx.value();
  s.board_ = board_;  // only now: a sender given up above closes at once
  return s;
}

Result<ZmqTransport::Receiver> ZmqTransport::receiver(int index, Lane lane) {
  auto ctx = context();
  if (!ctx.is_ok()) return ctx.status();
  Receiver r;
  r.plan_ = &plan_;
  const int from = lane == Lane::kPong ? 1 : plan_.producers;
  for (int p = 0; p < from; ++p) {
    Socket sock(zmq_socket(ctx.value().get(), ZMQ_PAIR));
    if (sock.get() == nullptr) return zmq_error("zmq_socket");
    const std::string ep = lane == Lane::kPong ? endpoint(index, 0, lane) : endpoint(p, index, lane);
    if (zmq_bind(sock.get(), ep.c_str()) != 0) return zmq_error("bind " + ep);
    r.from_producer_.push_back(std::move(sock));
  }
  r.buffer_.resize(plan_.record_bytes * std::max<std::size_t>(plan_.batch, 1));
  r.context_ = ctx.value();
  return r;
}

ZmqTransport::Sender::~Sender() {
  if (!to_consumer_.empty()) await_peers_done();
}

void ZmqTransport::Sender::await_peers_done() const noexcept {
  if (board_ == nullptr) return;
  auto peers_done = [&] {
    if (pong_) return board_->producers[0].done.load(std::memory_order_acquire) != 0;  // pairs with the pinger's release
    for (int c = 0; c < plan_->consumers; ++c)
      if (board_->consumers[c].done.load(std::memory_order_acquire) == 0) return false;  // pairs with the consumer's release
    return true;
  };
  // Cold path, once per participant: sleeping does not slow the phase,
  // which is over for this sender.
  while (!peers_done() && board_->abort.load(std::memory_order_relaxed) == 0)  // relaxed: a hint to stop
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

bool ZmqTransport::Sender::send(int partition, const std::byte* records, std::size_t n, Failure& failure) noexcept {
  const std::size_t bytes = n * plan_->record_bytes;
  for (std::size_t c = 0; c < to_consumer_.size(); ++c) {
    if (!pong_ && !plan_->owns(static_cast<int>(c), partition)) continue;
    while (zmq_send(to_consumer_[c].get(), records, bytes, 0) < 0) {
      const int err = zmq_errno();
      if (err == EINTR) continue;
      if (err == EAGAIN) {  // at the high-water mark for kSendTimeoutMs
        if (board_ && board_->abort.load(std::memory_order_relaxed) != 0) return false;  // relaxed: a hint to stop
        continue;
      }
      failure.fail("zmq_send: %s", zmq_strerror(err));
      return false;
    }
  }
  return true;
}

bool ZmqTransport::Receiver::wait_readable(Failure& failure) noexcept {
  if (plan_->wait != WaitKind::kBlock) return true;
  zmq_pollitem_t items[kMaxProducers];
  const std::size_t n = from_producer_.size();
  for (std::size_t i = 0; i < n; ++i) items[i] = zmq_pollitem_t{from_producer_[i].get(), 0, ZMQ_POLLIN, 0};
  if (zmq_poll(items, static_cast<int>(n), 10) < 0 && zmq_errno() != EINTR) {
    failure.fail("zmq_poll: %s", zmq_strerror(zmq_errno()));
    return false;
  }
  return true;
}

long ZmqTransport::Receiver::receive(Socket& s, Failure& failure) noexcept {
  const int got = zmq_recv(s.get(), buffer_.data(), buffer_.size(), ZMQ_DONTWAIT);
  if (got >= 0) {
    if (static_cast<std::size_t>(got) > buffer_.size() || got % static_cast<int>(plan_->record_bytes) != 0) {
      failure.fail("zmq: a message of %d bytes, not whole records", got);
      return -1;
    }
    return got;
  }
  if (zmq_errno() == EAGAIN || zmq_errno() == EINTR) return 0;
  failure.fail("zmq_recv: %s", zmq_strerror(zmq_errno()));
  return -1;
}

}  // namespace rill::bench
