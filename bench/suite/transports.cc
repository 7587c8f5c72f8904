#include "bench/suite/transports.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/log/record_format.h"
#include "io/file_system.h"

namespace rill::bench {

namespace {

constexpr std::size_t kQueueRecords = 65536;
constexpr std::size_t kReadBufferRecords = 512;
// Rings of 8 segments per partition, sized so that flow control lets a
// producer lead a consumer by about as many records as a Boost queue holds
// (kQueueRecords): the same number in flight, and a working set of the same
// order (bigger rings only add cache misses to the comparison). A run of
// small records rolls many times, as a long-lived topic does.
constexpr std::uint32_t kSegmentCount = 8;
// All partitions together stay within this much memory (for rill-ipc, of
// /dev/shm): segments shrink as partitions grow, down to 256 KiB.
constexpr std::uint64_t kMaxRingBytes = 1ull << 30;
constexpr std::uint64_t kMinSegmentBytes = 256 << 10;

std::uint64_t segment_bytes_for(const PhasePlan& plan) {
  const std::uint64_t fit = kMaxRingBytes / kSegmentCount / static_cast<std::uint64_t>(plan.partitions);
  const std::uint64_t frame = log::align_frame(log::kFrameHeaderSize + plan.record_bytes);
  // The window (RillTransport::sender) is half of the N - 3 retained segments.
  const std::uint64_t matched = (2 * kQueueRecords * frame / (kSegmentCount - 3) + 4095) & ~std::uint64_t{4095};
  // A segment holds at least a batch of the largest records with room to spare.
  const std::uint64_t floor = std::max<std::uint64_t>(kMinSegmentBytes, (frame * plan.batch * 4 + 8192) & ~std::uint64_t{4095});
  return std::max(std::min(matched, fit & ~std::uint64_t{4095}), floor);
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

// ---------------------------------------------------------------- rill

Result<std::unique_ptr<RillTransport>> RillTransport::create(const PhasePlan& plan, const std::string& shared_ns,
                                                             bool forked) {
  std::unique_ptr<RillTransport> t(new RillTransport(plan, shared_ns));
  const bool durable = plan.durability != Durability::kMemory;
  if (durable) {
    if (shared_ns.empty() || plan.data_dir.empty())
      return Status(Code::kInvalidArgument, "a durable rill transport needs a shared namespace and a data folder");
    // A folder per transport (one per phase): a namespace records its folder,
    // and no flusher of an earlier phase's topic can meet this one's files.
    static int made = 0;  // the main thread makes transports, one at a time
    t->data_dir_ = plan.data_dir + "/" + shared_ns + "-" + std::to_string(++made);
  }
  t->creator_ = ::getpid();
  auto ns = shared_ns.empty()
                ? Namespace::in_process()
                : Namespace::open_shared(shared_ns, SharedOptions{.group = {},
                                                                  .create = true,
                                                                  .private_to_process = true,
                                                                  .data_dir = t->data_dir_});
  if (!ns.is_ok()) return ns.status();
  t->ns_ = ns.value();
  // Durable topics keep the defaults (1 GiB files, no retention): the bench
  // writes what a durable topic writes, and the folder goes at the end.
  TopicConfig config;
  config.partitions = plan.partitions;
  config.segment_bytes = segment_bytes_for(plan);
  config.segment_count = kSegmentCount;
  const bool open_here = !(durable && forked);
  if (Status s = t->ns_->create_topic("bench", config); !s.is_ok()) return s;
  if (open_here) {
    auto topic = t->ns_->open_topic("bench");
    if (!topic.is_ok()) return topic.status();
    t->topic_ = topic.value();
  }
  if (plan.pingpong) {
    TopicConfig pong = config;
    pong.partitions = 1;
    if (Status s = t->ns_->create_topic("bench-pong", pong); !s.is_ok()) return s;
    if (open_here) {
      auto p = t->ns_->open_topic("bench-pong");
      if (!p.is_ok()) return p.status();
      t->pong_topic_ = p.value();
    }
  }
  return t;
}

RillTransport::~RillTransport() {
  if (::getpid() != creator_) return;
  if (ns_) {
    topic_.reset();
    pong_topic_.reset();
    (void)ns_->delete_topic("bench");
    if (plan_.pingpong) (void)ns_->delete_topic("bench-pong");
    ns_.reset();
    if (!shared_ns_.empty()) (void)Namespace::remove_shared(shared_ns_);
  }
  if (!data_dir_.empty()) {
    std::error_code ec;  // best effort: the run removes its whole data folder at the end
    std::filesystem::remove_all(data_dir_, ec);
  }
}

Result<RillTransport::FileBytes> RillTransport::file_bytes() const {
  FileBytes out;
  if (data_dir_.empty()) return out;
  io::FileSystem& fs = io::file_system();
  for (int p = 0; p < plan_.partitions; ++p) {
    const std::string dir = data_dir_ + "/bench-" + std::to_string(p);
    auto names = fs.list(dir);
    if (!names.is_ok()) return names.status().with_context("listing the segment files");
    for (const std::string& name : names.value()) {
      if (!name.ends_with(".log")) continue;
      auto file = fs.open(dir + "/" + name, io::OpenMode::kRead);
      if (!file.is_ok()) return file.status();
      auto size = file.value()->size();
      if (!size.is_ok()) return size.status().with_context(dir + "/" + name);
      out.bytes += size.value();
      ++out.files;
    }
  }
  return out;
}

Result<std::shared_ptr<Topic>> RillTransport::topic(Lane lane) {
  if (shared_ns_.empty() || ::getpid() == creator_) return lane == Lane::kPong ? pong_topic_ : topic_;
  // A forked participant opens the namespace and topic afresh, as an
  // unrelated process would.
  if (!participant_ns_) {
    auto ns = Namespace::open_shared(shared_ns_);
    if (!ns.is_ok()) return ns.status();
    participant_ns_ = ns.value();
  }
  return participant_ns_->open_topic(lane == Lane::kPong ? "bench-pong" : "bench");
}

Result<RillTransport::Sender> RillTransport::sender(int, Lane lane) {
  auto topic = this->topic(lane);
  if (!topic.is_ok()) return topic.status();
  // Half of what each partition retains (N - 3 full segments), so that flow
  // control keeps every consumer well inside the ring.
  const std::size_t frame = log::align_frame(log::kFrameHeaderSize + plan_.record_bytes);
  const std::uint64_t per_partition = (kSegmentCount - 3) * (segment_bytes_for(plan_) / frame);
  const std::uint64_t window = per_partition * static_cast<std::uint64_t>(plan_.partitions) / 2;
  ProducerOptions options;
  options.exclusive = plan_.exclusive;
  options.durability = plan_.durability;
  return Sender(topic.value(), options, plan_.record_bytes, std::max<std::uint64_t>(window, plan_.batch));
}

Result<RillTransport::Receiver> RillTransport::receiver(int consumer, Lane lane) {
  auto topic = this->topic(lane);
  if (!topic.is_ok()) return topic.status();
  ConsumerOptions options;
  options.wait = plan_.wait == WaitKind::kSpin    ? WaitStrategy::kBusySpin
                 : plan_.wait == WaitKind::kYield ? WaitStrategy::kSpinThenYield
                                                  : WaitStrategy::kBlock;
  options.start_at_earliest = true;
  options.on_overrun = OffsetReset::kEarliest;
  options.verify_checksums = plan_.verify_checksums;
  Consumer c(topic.value(), options);
  std::vector<std::int32_t> partitions;
  for (int k = 0; k < plan_.partitions; ++k)
    if (lane == Lane::kPong ? k == 0 : plan_.owns(consumer, k)) partitions.push_back(k);
  if (Status s = c.assign(partitions); !s.is_ok()) return s;
  return Receiver(std::move(c), std::chrono::milliseconds(10));
}

// ---------------------------------------------------------------- Boost.Lockfree

Result<std::unique_ptr<QueueTransport>> QueueTransport::create(const PhasePlan& plan) {
  std::unique_ptr<QueueTransport> t(new QueueTransport(plan));
  const auto channels = static_cast<std::size_t>(plan.producers * plan.consumers * (plan.pingpong ? 2 : 1));
  for (std::size_t i = 0; i < channels; ++i) t->queues_.push_back(std::make_unique<Queue>(kQueueRecords * plan.record_bytes));
  return t;
}

Result<QueueTransport::Sender> QueueTransport::sender(int producer, Lane lane) {
  Sender s;
  s.plan_ = &plan_;
  s.board_ = board_;
  if (lane == Lane::kPong) {
    s.to_consumer_.push_back(queues_[1].get());  // ping-pong is 1x1: [0] ping, [1] pong
    return s;
  }
  for (int c = 0; c < plan_.consumers; ++c) s.to_consumer_.push_back(queues_[static_cast<std::size_t>(producer * plan_.consumers + c)].get());
  return s;
}

Result<QueueTransport::Receiver> QueueTransport::receiver(int consumer, Lane lane) {
  Receiver r;
  r.plan_ = &plan_;
  if (lane == Lane::kPong) r.from_producer_.push_back(queues_[1].get());
  else
    for (int p = 0; p < plan_.producers; ++p) r.from_producer_.push_back(queues_[static_cast<std::size_t>(p * plan_.consumers + consumer)].get());
  r.buffer_.resize(kReadBufferRecords * plan_.record_bytes);
  return r;
}

bool QueueTransport::Sender::send(int partition, const std::byte* records, std::size_t n, Failure&) noexcept {
  const std::size_t bytes = n * plan_->record_bytes;
  for (int c = 0; c < plan_->consumers; ++c) {
    if (!plan_->owns(c, partition)) continue;
    Queue& q = *to_consumer_[static_cast<std::size_t>(c)];
    // Whole records only: wait for room for all of them.
    for (std::uint32_t idle = 0; q.write_available() < bytes; ++idle) {
      if (board_ && board_->abort.load(std::memory_order_relaxed) != 0) return false;  // relaxed: a hint to stop
      relax(plan_->wait, idle);
    }
    q.push(records, bytes);
  }
  return true;
}

// ---------------------------------------------------------------- sockets and pipes

Result<std::unique_ptr<FdTransport>> FdTransport::create(const PhasePlan& plan, Kind kind) {
  std::unique_ptr<FdTransport> t(new FdTransport(plan));
  const int channels = plan.producers * plan.consumers * (plan.pingpong ? 2 : 1);
  for (int i = 0; i < channels; ++i) {
    int fds[2];
    if (kind == Kind::kUnixSocket) {
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return Status(Code::kIoError, errno_text("socketpair"));
      ::shutdown(fds[0], SHUT_WR);
      ::shutdown(fds[1], SHUT_RD);
    } else if (::pipe2(fds, O_CLOEXEC) != 0) {
      return Status(Code::kIoError, errno_text("pipe2"));
    }
    t->read_fds_.push_back(fds[0]);
    t->write_fds_.push_back(fds[1]);
    if (plan.wait != WaitKind::kBlock && ::fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0)
      return Status(Code::kIoError, errno_text("fcntl O_NONBLOCK"));
  }
  return t;
}

FdTransport::~FdTransport() { close_parent_ends(); }

// Called in the forked participant: it keeps only its own ends, so that when
// a consumer dies its producers' writes fail (EPIPE) instead of blocking.
void FdTransport::keep_only(const std::vector<int>& mine) noexcept {
  for (std::vector<int>* fds : {&read_fds_, &write_fds_})
    for (int& fd : *fds)
      if (std::find(mine.begin(), mine.end(), fd) == mine.end()) {
        ::close(fd);
        fd = -1;
      }
}

void FdTransport::close_parent_ends() noexcept {
  for (std::vector<int>* fds : {&read_fds_, &write_fds_})
    for (int& fd : *fds) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
}

// A producer keeps its ping write ends and pong read ends; a consumer the
// reverse. Both calls of a ping-pong participant keep the same set.
void FdTransport::keep_role(bool producer, int index) noexcept {
  std::vector<int> mine;
  const bool pingpong = plan_.pingpong;
  if (producer) {
    for (int c = 0; c < plan_.consumers; ++c) {
      mine.push_back(write_fds_[channel(index, c, Lane::kPing)]);
      if (pingpong) mine.push_back(read_fds_[channel(index, c, Lane::kPong)]);
    }
  } else {
    for (int p = 0; p < plan_.producers; ++p) {
      mine.push_back(read_fds_[channel(p, index, Lane::kPing)]);
      if (pingpong) mine.push_back(write_fds_[channel(p, index, Lane::kPong)]);
    }
  }
  keep_only(mine);
}

Result<FdTransport::Sender> FdTransport::sender(int index, Lane lane) {
  Sender s;
  s.plan_ = &plan_;
  if (lane == Lane::kPong) s.to_consumer_.push_back(write_fds_[channel(0, index, Lane::kPong)]);
  else
    for (int c = 0; c < plan_.consumers; ++c) s.to_consumer_.push_back(write_fds_[channel(index, c, Lane::kPing)]);
  keep_role(lane == Lane::kPing, index);
  return s;
}

Result<FdTransport::Receiver> FdTransport::receiver(int index, Lane lane) {
  Receiver r;
  r.plan_ = &plan_;
  const int from = lane == Lane::kPong ? 1 : plan_.producers;
  for (int p = 0; p < from; ++p) {
    Receiver::Channel ch;
    ch.fd = read_fds_[lane == Lane::kPong ? channel(index, 0, Lane::kPong) : channel(p, index, Lane::kPing)];
    ch.buffer.resize(kReadBufferRecords * plan_.record_bytes);
    r.pollfds_.push_back(pollfd{ch.fd, POLLIN, 0});
    r.channels_.push_back(std::move(ch));
  }
  keep_role(lane == Lane::kPong, index);
  return r;
}

bool FdTransport::Sender::send(int partition, const std::byte* records, std::size_t n, Failure& failure) noexcept {
  const std::size_t bytes = n * plan_->record_bytes;
  for (int c = 0; c < plan_->consumers; ++c) {
    if (!plan_->owns(c, partition)) continue;
    const int fd = to_consumer_[static_cast<std::size_t>(c)];
    for (std::size_t done = 0; done < bytes;) {
      const ssize_t w = ::write(fd, records + done, bytes - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        failure.fail("write: %s", std::strerror(errno));
        return false;
      }
      done += static_cast<std::size_t>(w);
    }
  }
  return true;
}

bool FdTransport::Receiver::wait_readable(Failure& failure) noexcept {
  if (plan_->wait != WaitKind::kBlock) {
    for (Channel& ch : channels_) ch.readable = true;
    return true;
  }
  // A timeout, so that the consumer notices the end of the phase.
  int ready = ::poll(pollfds_.data(), pollfds_.size(), 10);
  if (ready < 0 && errno != EINTR) {
    failure.fail("poll: %s", std::strerror(errno));
    return false;
  }
  for (std::size_t i = 0; i < channels_.size(); ++i) channels_[i].readable = ready > 0 && (pollfds_[i].revents & (POLLIN | POLLHUP)) != 0;
  return true;
}

long FdTransport::Receiver::read_some(Channel& ch, Failure& failure) noexcept {
  const ssize_t r = ::read(ch.fd, ch.buffer.data() + ch.filled, ch.buffer.size() - ch.filled);
  if (r > 0) {
    ch.filled += static_cast<std::size_t>(r);
    return r;
  }
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  if (r == 0) return 0;  // every writer closed: nothing more will come
  failure.fail("read: %s", std::strerror(errno));
  return -1;
}

}  // namespace rill::bench
