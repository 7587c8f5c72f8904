#include "bench/suite/transports_iceoryx.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"

namespace rill::bench {

namespace {

constexpr std::uint64_t kMaxPoolBytes = 512ull << 20;  // RouDi's whole memory pool stays within this
constexpr std::uint64_t kMaxQueue = iox::popo::SubscriberChunkQueueData_t::MAX_CAPACITY;
constexpr int kReadyTimeoutMs = 10'000;
constexpr int kStopTimeoutMs = 5'000;
constexpr int kTakeBurst = 64;
// What RouDi leaves when it is killed (it removes them itself on SIGTERM).
constexpr const char* kRoudiFiles[] = {"/dev/shm/iceoryx_mgmt", "/tmp/roudi", "/tmp/roudi.lock",
                                       "/tmp/iox-unique-roudi.lock"};

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  const std::size_t nl = text.rfind('\n');
  text = nl == std::string::npos ? text : text.substr(nl + 1);
  std::string out;  // without the colour escapes RouDi prints
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\033') {
      while (i < text.size() && text[i] != 'm') ++i;
      continue;
    }
    out += text[i];
  }
  return out;
}

// The /dev/shm object RouDi names after the writer group of its default
// segment: this process's group.
std::string user_segment_path() {
  const struct group* g = ::getgrgid(::getegid());
  return g ? std::string("/dev/shm/") + g->gr_name : std::string();
}

iox::capro::ServiceDescription service_of(const std::string& channel) {
  return {"rill-bench", iox::capro::IdString_t(iox::cxx::TruncateToCapacity, channel.c_str()), "records"};
}

}  // namespace

class IceoryxTransport::Channels {
 public:
  std::vector<std::unique_ptr<iox::popo::UntypedPublisher>> publishers;
  std::vector<std::unique_ptr<iox::popo::UntypedSubscriber>> subscribers;
  std::unique_ptr<iox::popo::WaitSet<>> waitset;  // blocking receivers only; detached first
  ~Channels() { waitset.reset(); }
};

IceoryxTransport::Sender::Sender(Sender&&) noexcept = default;
IceoryxTransport::Sender::~Sender() = default;
IceoryxTransport::Receiver::Receiver(Receiver&&) noexcept = default;
IceoryxTransport::Receiver::~Receiver() = default;

Result<std::unique_ptr<IceoryxTransport>> IceoryxTransport::create(const PhasePlan& plan) {
  std::unique_ptr<IceoryxTransport> t(new IceoryxTransport(plan));
  t->creator_ = ::getpid();
  const std::string prefix = "rill-bench-" + std::to_string(t->creator_) + "-";
  for (int p = 0; p < plan.producers; ++p) t->runtime_names_.push_back(prefix + "p" + std::to_string(p));
  for (int c = 0; c < plan.consumers; ++c) t->runtime_names_.push_back(prefix + "c" + std::to_string(c));
  if (Status s = t->start_roudi(); !s.is_ok()) return s.with_context("iceoryx");
  return t;
}

IceoryxTransport::~IceoryxTransport() {
  if (::getpid() != creator_) return;
  stop_roudi();
}

Status IceoryxTransport::start_roudi() {
  // iceoryx allows one RouDi per host; a running one holds this lock.
  const int lock = ::open("/tmp/roudi.lock", O_RDONLY | O_CLOEXEC);
  if (lock >= 0) {
    const bool held = ::flock(lock, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(lock);
    if (held)
      return Status(Code::kInvalidArgument,
                    "another RouDi is running on this host (iceoryx allows one); stop it or leave iceoryx out");
    // Not held: the RouDi of a bench that was killed (SIGKILL on its
    // parent's death, below) left its objects, which would stop ours starting.
    for (const char* f : kRoudiFiles) ::unlink(f);
    if (const std::string seg = user_segment_path(); !seg.empty()) ::unlink(seg.c_str());
  }
  // Named with our pid: a later `rill bench` removes it if we are killed
  // before removing it ourselves (runner.h, remove_leftovers_of_dead_runs()).
  std::string dir = "/tmp/rill-bench-" + std::to_string(::getpid()) + "-iox-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) return Status(Code::kIoError, errno_text("mkdtemp"));
  dir_ = dir;
  // One pool of chunks that hold a send's records (plus the chunk header),
  // enough for every channel's queue to be full at once.
  const std::size_t per_send = plan_.record_bytes * std::max<std::size_t>(plan_.batch, 1);
  chunk_payload_ = per_send;
  const std::uint64_t chunk = (per_send + 128 + 63) & ~std::uint64_t{63};
  const std::uint64_t channels = static_cast<std::uint64_t>(plan_.producers * plan_.consumers) * (plan_.pingpong ? 2 : 1);
  queue_capacity_ = std::clamp<std::uint64_t>(kMaxPoolBytes / chunk / channels, 9, kMaxQueue + 8) - 8;
  const std::uint64_t count = channels * (queue_capacity_ + 8) + 32;
  const std::string config = dir_ + "/roudi.toml", log = dir_ + "/roudi.log";
  {
    std::ofstream out(config);
    out << "[general]\nversion = 1\n\n[[segment]]\n\n[[segment.mempool]]\nsize = " << chunk << "\ncount = " << count
        << "\n";
    if (!out) return Status(Code::kIoError, "cannot write " + config);
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Status(Code::kIoError, errno_text("fork"));
  if (pid == 0) {
    // Its own process group (Ctrl-C reaches the bench, which stops it in
    // order); it dies with the bench. SIGKILL, not SIGTERM: a RouDi told to
    // stop as its parent died now and then hung in its shutdown, ignoring
    // further SIGTERMs, and blocked every later iceoryx run on the host (one
    // per host). What a killed RouDi leaves, the next run removes (above).
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    ::execlp("iox-roudi", "iox-roudi", "-c", config.c_str(), "-l", "info", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  roudi_ = pid;
  for (int waited = 0;; waited += 5) {
    int status = 0;
    if (::waitpid(roudi_, &status, WNOHANG) == roudi_) {
      roudi_ = -1;
      stop_roudi();  // its leftovers
      const std::string why = WIFEXITED(status) && WEXITSTATUS(status) == 127
                                  ? "iox-roudi not found (install iceoryx: tools/setup.sh)"
                                  : "iox-roudi ended at start (" +
                                        (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                                           : "signal " + std::to_string(WTERMSIG(status))) +
                                        "): " + last_line(read_text(log));
      return Status(Code::kInternal, why);
    }
    if (read_text(log).find("RouDi is ready for clients") != std::string::npos) return Status::ok();
    if (waited >= kReadyTimeoutMs) {
      stop_roudi();
      return Status(Code::kInternal, "iox-roudi was not ready within 10 s: " + last_line(read_text(log)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void IceoryxTransport::stop_roudi() noexcept {
  bool clean = true;
  if (roudi_ > 0) {
    ::kill(roudi_, SIGTERM);
    int status = 0;
    pid_t got = 0;
    for (int waited = 0; (got = ::waitpid(roudi_, &status, WNOHANG)) == 0 && waited < kStopTimeoutMs; waited += 2)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (got == 0) {
      ::kill(roudi_, SIGKILL);
      ::waitpid(roudi_, &status, 0);
    }
    clean = got == roudi_ && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    roudi_ = -1;
  } else {
    clean = false;  // it died or never became ready: nothing removed its objects
  }
  if (!clean) {
    for (const char* f : kRoudiFiles) ::unlink(f);
    if (const std::string seg = user_segment_path(); !seg.empty()) ::unlink(seg.c_str());
  }
  // Participants end with _exit: their runtimes' sockets stay behind.
  for (const std::string& name : runtime_names_) {
    ::unlink(("/tmp/" + name).c_str());
    ::unlink(("/dev/shm/" + name + ".lock").c_str());
    ::unlink(("/tmp/" + name + ".lock").c_str());
  }
  if (!dir_.empty()) {
    ::unlink((dir_ + "/roudi.toml").c_str());
    ::unlink((dir_ + "/roudi.log").c_str());
    ::rmdir(dir_.c_str());
    dir_.clear();
  }
}

Status IceoryxTransport::ensure_runtime(const char* role, int index) {
  static bool started = false;  // one runtime per (forked participant) process
  if (started) return Status::ok();
  const std::string name = "rill-bench-" + std::to_string(creator_) + "-" + role + std::to_string(index);
  // Warnings and worse only: Debian's build logs every registration.
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn, iox::log::LogLevelOutput::kHideLogLevel);
  iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
  started = true;
  return Status::ok();
}

std::string IceoryxTransport::channel_name(int p, int c, Lane lane) const {
  return std::string(lane == Lane::kPong ? "pong-" : "ping-") + std::to_string(p) + "-" + std::to_string(c);
}

Result<IceoryxTransport::Sender> IceoryxTransport::sender(int index, Lane lane) {
  // The ping lane's senders are producers; the pong lane's the echoing consumers.
  if (Status s = ensure_runtime(lane == Lane::kPing ? "p" : "c", index); !s.is_ok()) return s;
  Sender s;
  s.plan_ = &plan_;
  s.pong_ = lane == Lane::kPong;
  s.channels_ = std::make_unique<Channels>();
  iox::popo::PublisherOptions options;
  options.historyCapacity = 0;
  options.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  const int to = lane == Lane::kPong ? 1 : plan_.consumers;
  for (int c = 0; c < to; ++c) {
    const std::string ch = lane == Lane::kPong ? channel_name(0, index, lane) : channel_name(index, c, lane);
    s.channels_->publishers.push_back(std::make_unique<iox::popo::UntypedPublisher>(service_of(ch), options));
  }
  // Without history a record published before the subscriber is connected
  // is lost: wait for each (RouDi connects them within its discovery loop).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto& pub : s.channels_->publishers)
    while (!pub->hasSubscribers()) {
      if (std::chrono::steady_clock::now() > until)
        return Status(Code::kInternal, "iceoryx: no subscriber connected within 10 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  return s;
}

Result<IceoryxTransport::Receiver> IceoryxTransport::receiver(int index, Lane lane) {
  if (Status s = ensure_runtime(lane == Lane::kPing ? "c" : "p", index); !s.is_ok()) return s;
  Receiver r;
  r.plan_ = &plan_;
  r.channels_ = std::make_unique<Channels>();
  iox::popo::SubscriberOptions options;
  options.queueCapacity = queue_capacity_;
  options.historyRequest = 0;
  options.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
  const int from = lane == Lane::kPong ? 1 : plan_.producers;
  for (int p = 0; p < from; ++p) {
    const std::string ch = lane == Lane::kPong ? channel_name(index, 0, lane) : channel_name(p, index, lane);
    r.channels_->subscribers.push_back(std::make_unique<iox::popo::UntypedSubscriber>(service_of(ch), options));
  }
  if (plan_.wait == WaitKind::kBlock) {
    r.channels_->waitset = std::make_unique<iox::popo::WaitSet<>>();
    for (auto& sub : r.channels_->subscribers)
      if (r.channels_->waitset->attachState(*sub, iox::popo::SubscriberState::HAS_DATA).has_error())
        return Status(Code::kInternal, "iceoryx: cannot attach a subscriber to a wait set");
  }
  return r;
}

bool IceoryxTransport::Sender::send(int partition, const std::byte* records, std::size_t n, Failure& failure) noexcept {
  const auto bytes = static_cast<std::uint32_t>(n * plan_->record_bytes);
  for (std::size_t c = 0; c < channels_->publishers.size(); ++c) {
    if (!pong_ && !plan_->owns(static_cast<int>(c), partition)) continue;
    auto& pub = *channels_->publishers[c];
    auto loaned = pub.loan(bytes);
    if (loaned.has_error()) {
      failure.fail("iceoryx: loan of %u bytes failed (error %d)", bytes, static_cast<int>(loaned.get_error()));
      return false;
    }
    std::memcpy(loaned.value(), records, bytes);
    pub.publish(loaned.value());  // waits while the subscriber's queue is full
  }
  return true;
}

long IceoryxTransport::Receiver::poll_chunks(ChunkFn each, void* context, Failure& failure) noexcept {
  if (channels_->waitset) (void)channels_->waitset->timedWait(iox::units::Duration::fromMilliseconds(10));
  const std::size_t size = plan_->record_bytes;
  long total = 0;
  for (auto& sub : channels_->subscribers) {
    for (int k = 0; k < kTakeBurst; ++k) {
      auto taken = sub->take();
      if (taken.has_error()) {
        if (taken.get_error() == iox::popo::ChunkReceiveResult::NO_CHUNK_AVAILABLE) break;
        failure.fail("iceoryx: take failed (error %d)", static_cast<int>(taken.get_error()));
        return -1;
      }
      const void* payload = taken.value();
      const std::size_t bytes = iox::mepoo::ChunkHeader::fromUserPayload(payload)->userPayloadSize();
      each(context, static_cast<const std::byte*>(payload), bytes);
      total += static_cast<long>(bytes / size);
      sub->release(payload);
    }
  }
  return total;
}

}  // namespace rill::bench
