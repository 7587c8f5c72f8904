// GroupConsumer (rill/group.h): a member of a consumer group. The rules are
// the coordinator's (core/group/coordinator.h); the state is the group's
// shared-memory object (group_store.h); this file is the member's side:
// joining, syncing in poll() (revocation, then assignment, with the
// listener's callbacks), reading its partitions with one Consumer per topic,
// committing, and a heartbeat thread that also notices dead members at once
// (a pidfd per member process) and removes them.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/client/group_store.h"
#include "ipc/clock.h"
#include "ipc/liveness.h"
#include "rill/group.h"

namespace rill {

namespace group_object = client::group_object;

std::string_view assignment_strategy_name(AssignmentStrategy s) noexcept { return group::strategy_name(s); }
bool parse_assignment_strategy(std::string_view text, AssignmentStrategy* out) noexcept {
  return group::parse_strategy(text, out);
}

namespace {

std::int64_t wall_ms() { return ipc::realtime_ns() / 1'000'000; }

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// A pidfd (readable once the process exits), or -1 where the kernel has none.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

// How long a poll() waits at a time before it looks at the group again.
constexpr std::int64_t kGroupLookNs = 5'000'000;

}  // namespace

struct GroupConsumer::Impl {
  std::shared_ptr<Namespace> ns;
  std::shared_ptr<client::GroupStore> store;
  ConsumerOptions options;
  std::vector<std::string> topics;  // sorted
  std::vector<std::unique_ptr<Consumer>> readers;  // per topic
  std::map<std::string, std::int32_t> partitions;  // per topic
  std::string member_id;
  std::uint64_t seq = 0;
  // This member's liveness slot; read by the heartbeat thread while a
  // rejoin changes it (relaxed: a stale slot only misses one heartbeat).
  std::atomic<std::int32_t> slot{-1};
  std::int32_t generation = 0;
  std::vector<TopicPartition> owned;  // sorted
  std::uint32_t seen_version = 0;
  bool complete = false;
  bool closed = false;
  bool closing = false;
  // Inside sync() (its callbacks included): a commit_sync() from a callback
  // commits with the generation sync() just learnt, and does not sync again.
  bool syncing = false;
  // Partitions revoked (or lost) since poll() last returned records: offsets
  // the application gives for them belong to an earlier ownership, even if
  // the partition is this member's again (repositioned at its commit).
  std::set<TopicPartition> revoked_since_poll;
  std::int64_t next_auto_commit_ns = 0;
  std::size_t next_topic = 0;
  std::size_t last_reader = 0;  // the reader of the last poll's records
  std::vector<std::pair<std::function<void(const Status&)>, Status>> async_done;

  // The heartbeat thread.
  std::thread heartbeat;
  int wake_fd = -1;  // eventfd: stop
  std::atomic<bool> stopping{false};

  ~Impl() { stop_heartbeat(); }

  void touch_polled() {
    if (const std::int32_t i = slot.load(std::memory_order_relaxed); i >= 0)
      store->slot(i).polled_ns.store(ipc::monotonic_ns(), std::memory_order_relaxed);  // read by judge()
  }
  void touch_heartbeat() {
    if (const std::int32_t i = slot.load(std::memory_order_relaxed); i >= 0)
      store->slot(i).heartbeat_ns.store(ipc::monotonic_ns(), std::memory_order_relaxed);  // read by judge()
  }

  Status join_group() {
    const ipc::ProcessId me = ipc::self();
    Status s = store->update(
        [&](group::GroupCoordinator& c, group::GroupState& st) -> Status {
          seq = st.next_member;
          const std::int32_t taken = store->take_slot(st, seq);
          slot.store(taken, std::memory_order_relaxed);
          if (taken < 0)
            return Status(Code::kResourceExhausted,
                          "consumer group '" + st.name + "' has no free member slot (" +
                              std::to_string(group_object::kSlots) + " members at most)");
          group::JoinRequest r{.host = host_name(),
                               .pid = me.pid,
                               .start_time = me.start_time,
                               .slot = taken,
                               .topics = topics,
                               .strategy = options.assignment_strategy,
                               .session_timeout_ms = options.session_timeout.count(),
                               .max_poll_interval_ms = options.max_poll_interval.count()};
          auto id = c.join(r, partitions);
          if (!id) {
            store->slot(taken).process.store(0, std::memory_order_release);  // pairs with judge()/take_slot()'s acquire
            slot.store(-1, std::memory_order_relaxed);
            return id.status();
          }
          member_id = *id;
          return Status::ok();
        },
        &seen_version);
    generation = 0;
    complete = false;
    return s;
  }

  // This member was removed (a zombie): its partitions are lost, it joins anew.
  Status rejoin() {
    std::vector<TopicPartition> lost = owned;
    revoked_since_poll.insert(lost.begin(), lost.end());
    owned.clear();
    (void)reassign({});
    if (!lost.empty() && options.rebalance_listener != nullptr) options.rebalance_listener->on_partitions_lost(lost);
    return join_group();
  }

  // Points each topic's Consumer at this member's partitions: kept ones at
  // their positions, new ones at `starts` (committed) or per start_at_earliest.
  Status reassign(const std::map<TopicPartition, std::int64_t>& starts) {
    for (std::size_t t = 0; t < topics.size(); ++t) {
      std::vector<std::int32_t> mine;
      for (const TopicPartition& tp : owned)
        if (tp.topic == topics[t]) mine.push_back(tp.partition);
      Consumer& reader = *readers[t];
      const std::span<const std::int32_t> before = reader.assignment();
      if (std::equal(before.begin(), before.end(), mine.begin(), mine.end())) continue;
      std::map<std::int32_t, std::int64_t> kept;
      for (std::int32_t p : before)
        if (std::find(mine.begin(), mine.end(), p) != mine.end()) kept[p] = reader.position(p);
      if (Status s = reader.assign(mine); !s) return s.with_context("topic '" + topics[t] + "'");
      for (std::int32_t p : mine) {
        std::int64_t at = -1;
        if (const auto k = kept.find(p); k != kept.end()) at = k->second;
        else if (const auto c = starts.find({topics[t], p}); c != starts.end()) at = c->second;
        if (at < 0) continue;  // assign() placed it per start_at_earliest
        Status s = reader.seek(p, at);
        if (s.code() == Code::kOffsetOutOfRange) {
          // A committed offset no longer retained (or past the end): as a
          // new partition, per start_at_earliest.
          auto edge = options.start_at_earliest ? reader.earliest_offset(p) : reader.latest_offset(p);
          s = edge ? reader.seek(p, *edge) : edge.status();
        }
        if (!s) return s.with_context("topic '" + topics[t] + "' partition " + std::to_string(p));
      }
    }
    return Status::ok();
  }

  std::map<TopicPartition, group::CommittedOffset> positions_of(const std::vector<TopicPartition>& tps) const {
    std::map<TopicPartition, group::CommittedOffset> out;
    for (const TopicPartition& tp : tps) {
      const auto t = std::lower_bound(topics.begin(), topics.end(), tp.topic) - topics.begin();
      const std::int64_t at = readers[static_cast<std::size_t>(t)]->position(tp.partition);
      if (at >= 0) out[tp] = group::CommittedOffset{at, {}, 0, wall_ms()};
    }
    return out;
  }

  Status commit(const std::map<TopicPartition, group::CommittedOffset>& offsets) {
    if (offsets.empty()) return Status::ok();
    return store->update([&](group::GroupCoordinator& c, group::GroupState&) {
      return c.commit(member_id, generation, offsets);
    });
  }

  // Takes part in the group's changes until this member reads all it should
  // now (or waits for partitions others still hold).
  Status sync() {
    if (syncing) return Status::ok();
    syncing = true;
    struct Done {
      bool& flag;
      ~Done() { flag = false; }
    } const done{syncing};
    for (int round = 0; round < 16; ++round) {
      group::SyncResult r;
      std::map<TopicPartition, std::int64_t> starts;
      std::uint32_t version = 0;
      Status s = store->update(
          [&](group::GroupCoordinator& c, group::GroupState& st) -> Status {
            auto res = c.sync(member_id);
            if (!res) return res.status();
            r = std::move(*res);
            for (const TopicPartition& tp : r.assigned)
              if (const auto it = st.offsets.find(tp); it != st.offsets.end()) starts[tp] = it->second.offset;
            return Status::ok();
          },
          &version);
      if (s.code() == Code::kFenced) {
        if (Status j = rejoin(); !j) return j;
        continue;
      }
      if (!s) return s;
      if (r.generation != generation) poke_heartbeat();
      generation = r.generation;
      seen_version = version;
      if (!r.revoke.empty()) {
        // Still this member's until released: commit and tell the application first.
        if (options.enable_auto_commit) (void)commit(positions_of(r.revoke));
        if (options.rebalance_listener != nullptr) options.rebalance_listener->on_partitions_revoked(r.revoke);
        revoked_since_poll.insert(r.revoke.begin(), r.revoke.end());
        std::erase_if(owned, [&](const TopicPartition& tp) {
          return std::find(r.revoke.begin(), r.revoke.end(), tp) != r.revoke.end();
        });
        if (Status a = reassign({}); !a) return a;
        Status released = store->update([&](group::GroupCoordinator& c, group::GroupState&) {
          return c.release(member_id, r.revoke);
        });
        if (released.code() == Code::kFenced) {
          if (Status j = rejoin(); !j) return j;
          continue;
        }
        if (!released) return released;
        continue;
      }
      owned = r.owned;
      if (Status a = reassign(starts); !a) return a;
      complete = r.complete;
      if (!r.assigned.empty() && options.rebalance_listener != nullptr)
        options.rebalance_listener->on_partitions_assigned(r.assigned);
      return Status::ok();
    }
    return Status::ok();  // still moving: the next poll goes on
  }

  bool group_changed() const { return store->version() != seen_version; }

  // The members changed: the heartbeat thread watches the new ones' processes.
  void poke_heartbeat() {
    if (wake_fd < 0) return;
    const std::uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }

  void deliver_async() {
    auto done = std::move(async_done);
    async_done.clear();
    for (auto& [fn, status] : done)
      if (fn) fn(status);
  }

  // ---- heartbeat thread

  void start_heartbeat() {
    wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    heartbeat = std::thread([this] { heartbeat_loop(); });
  }

  void stop_heartbeat() {
    if (!heartbeat.joinable()) return;
    stopping.store(true, std::memory_order_relaxed);  // the eventfd write below wakes the thread
    if (wake_fd >= 0) {
      const std::uint64_t one = 1;
      (void)!::write(wake_fd, &one, sizeof one);
    }
    heartbeat.join();
    if (wake_fd >= 0) ::close(wake_fd);
    wake_fd = -1;
  }

  // Heartbeats; removes dead and hung members (any member's operation
  // does); and sleeps on pidfds of the other members' processes, so that a
  // death is acted on at once. The consumer's thread pokes it when the
  // members change (poke_heartbeat()), so that it watches the new ones.
  void heartbeat_loop() {
    std::map<pid_t, int> pidfds;  // other members' processes
    const pid_t self = ipc::current_pid();
    bool pidfd_works = true;
    while (!stopping.load(std::memory_order_relaxed)) {
      touch_heartbeat();
      // Any member's operation removes the dead and the hung (GroupStore::update()).
      std::vector<pid_t> pids;
      (void)store->update([&](group::GroupCoordinator&, group::GroupState& st) {
        for (const group::MemberInfo& m : st.members)
          if (m.pid != self) pids.push_back(m.pid);
        return Status::ok();
      });
      for (auto it = pidfds.begin(); it != pidfds.end();) {
        if (std::find(pids.begin(), pids.end(), it->first) == pids.end()) {
          ::close(it->second);
          it = pidfds.erase(it);
        } else {
          ++it;
        }
      }
      for (pid_t pid : pids)
        if (pidfd_works && !pidfds.contains(pid)) {
          const int fd = open_pidfd(pid);
          if (fd >= 0) pidfds[pid] = fd;
          else if (errno == ENOSYS || errno == EPERM) pidfd_works = false;
        }
      std::vector<pollfd> fds;
      fds.push_back({wake_fd, POLLIN, 0});
      for (const auto& [pid, fd] : pidfds) fds.push_back({fd, POLLIN, 0});
      // Without pidfds a death is seen at the next look: look often.
      const std::int64_t wait_ms = pidfd_works ? options.heartbeat_interval.count()
                                               : std::min<std::int64_t>(options.heartbeat_interval.count(), 100);
      if (::poll(fds.data(), fds.size(), static_cast<int>(wait_ms)) > 0 && (fds[0].revents & POLLIN) != 0) {
        std::uint64_t pokes = 0;
        (void)!::read(wake_fd, &pokes, sizeof pokes);  // stop, or the members changed: look again
      }
    }
    for (const auto& [pid, fd] : pidfds) ::close(fd);
  }
};

GroupConsumer::GroupConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GroupConsumer::~GroupConsumer() { (void)close(); }

Result<std::unique_ptr<GroupConsumer>> GroupConsumer::join(std::shared_ptr<Namespace> ns,
                                                           std::vector<std::string> topics, ConsumerOptions options) {
  if (!ns) return Status(Code::kInvalidArgument, "GroupConsumer::join: no namespace");
  if (Status s = client::GroupStore::validate_name(options.group_id); !s) return s;
  if (topics.empty()) return Status(Code::kInvalidArgument, "a group member must subscribe to at least one topic");
  if (options.session_timeout.count() <= 0 || options.heartbeat_interval.count() <= 0 ||
      options.max_poll_interval.count() <= 0 || options.auto_commit_interval.count() <= 0)
    return Status(Code::kInvalidArgument,
                  "session_timeout, heartbeat_interval, max_poll_interval and auto_commit_interval must be positive");
  if (options.heartbeat_interval >= options.session_timeout)
    return Status(Code::kInvalidArgument, "heartbeat_interval (" + std::to_string(options.heartbeat_interval.count()) +
                                              " ms) must be shorter than session_timeout (" +
                                              std::to_string(options.session_timeout.count()) + " ms)");
  auto impl = std::make_unique<Impl>();
  impl->ns = ns;
  impl->options = options;
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  impl->topics = topics;
  ConsumerOptions reading = options;
  for (const std::string& t : topics) {
    auto topic = ns->open_topic(t);
    if (!topic) return topic.status();
    impl->partitions[t] = (*topic)->partition_count();
    impl->readers.push_back(std::make_unique<Consumer>(*topic, reading));
  }
  auto store = client::GroupStore::open(*ns, options.group_id, true);
  if (!store) return store.status();
  impl->store = *store;
  if (Status s = impl->join_group(); !s) return s;
  impl->next_auto_commit_ns = ipc::monotonic_ns() + options.auto_commit_interval.count() * 1'000'000;
  impl->start_heartbeat();
  std::unique_ptr<GroupConsumer> consumer(new GroupConsumer(std::move(impl)));
  if (Status s = consumer->impl_->sync(); !s) return s;
  return consumer;
}

GroupPollResult GroupConsumer::poll(std::chrono::nanoseconds timeout) {
  Impl& m = *impl_;
  GroupPollResult out;
  m.deliver_async();
  if (m.closed) {
    out.status = Status(Code::kInvalidArgument, "the consumer left group '" + m.options.group_id + "' (close())");
    return out;
  }
  const std::int64_t deadline = ipc::monotonic_ns() + std::max<std::int64_t>(0, timeout.count());
  if (m.options.enable_auto_commit && ipc::monotonic_ns() >= m.next_auto_commit_ns) {
    // The records returned so far were handled: at least once. In the
    // group's current generation (a revocation commits its own).
    if (m.group_changed()) (void)m.sync();
    (void)m.commit(m.positions_of(m.owned));
    m.next_auto_commit_ns = ipc::monotonic_ns() + m.options.auto_commit_interval.count() * 1'000'000;
  }
  for (;;) {
    m.touch_polled();
    if (m.group_changed() || !m.complete) {
      if (Status s = m.sync(); !s) {
        out.status = s;
        return out;
      }
    }
    m.revoked_since_poll.clear();  // what is read now is read under the ownership the member has now
    // Reads topic t's Consumer for up to `wait_ns`; true (and `out` filled)
    // if it had something to say.
    const auto read = [&](std::size_t t, std::int64_t wait_ns) {
      PollResult r = m.readers[t]->poll(std::chrono::nanoseconds(wait_ns));
      if (r.records.empty() && r.skipped == 0 && r.abandoned == 0 && r.status) return false;
      m.next_topic = t + 1;  // the next poll starts after it: fair between topics
      m.last_reader = t;
      out = GroupPollResult{m.topics[t], r.records, r.skipped, r.abandoned, r.status};
      return true;
    };
    std::size_t reading = 0, only = 0;
    for (std::size_t k = 0; k < m.topics.size(); ++k) {
      const std::size_t t = (m.next_topic + k) % m.topics.size();
      if (m.readers[t]->assignment().empty()) continue;
      ++reading;
      only = t;
      if (read(t, 0)) return out;
    }
    const std::int64_t now = ipc::monotonic_ns();
    if (now >= deadline) return out;
    const std::int64_t slice = std::min(deadline - now, kGroupLookNs);
    if (reading == 1) {
      // One topic: sleep on its partitions, looking at the group between slices.
      if (read(only, slice)) return out;
    } else if (reading > 1) {
      // Several: a short sleep on one, then a look at all again.
      if (read(only, std::min<std::int64_t>(slice, 1'000'000))) return out;
    } else {
      // Nothing to read (yet): sleep until the group changes.
      (void)log::sleep_on(m.store->changed(), now + slice, [&] { return m.group_changed(); });
    }
  }
}

Status GroupConsumer::commit_sync() {
  Impl& m = *impl_;
  if (m.closed) return Status(Code::kInvalidArgument, "the consumer left group '" + m.options.group_id + "'");
  if (m.group_changed() && !m.syncing && !m.closing)
    if (Status s = m.sync(); !s) return s;
  return m.commit(m.positions_of(m.owned));
}

Status GroupConsumer::commit_sync(const std::map<TopicPartition, OffsetAndMetadata>& offsets) {
  Impl& m = *impl_;
  if (m.closed) return Status(Code::kInvalidArgument, "the consumer left group '" + m.options.group_id + "'");
  // In the group's current generation: accepted for the partitions this
  // member still reads once it has synced (a revocation it learns of runs
  // its callback first; the partitions it loses are refused).
  if (m.group_changed() && !m.syncing && !m.closing)
    if (Status s = m.sync(); !s) return s;
  for (const auto& [tp, o] : offsets)
    if (m.revoked_since_poll.contains(tp))
      return Status(Code::kFenced, "commit refused: " + group::to_string(tp) + " of group '" + m.options.group_id +
                                       "' was revoked after the records were polled (another member may have read "
                                       "them since its last commit)");
  std::map<TopicPartition, group::CommittedOffset> out;
  for (const auto& [tp, o] : offsets) out[tp] = group::CommittedOffset{o.offset, o.metadata, 0, wall_ms()};
  return m.commit(out);
}

void GroupConsumer::commit_async(std::function<void(const Status&)> done) {
  impl_->async_done.emplace_back(std::move(done), commit_sync());
}

Result<OffsetAndMetadata> GroupConsumer::committed(const TopicPartition& tp) {
  auto state = impl_->store->read();
  if (!state) return state.status();
  const auto it = state->offsets.find(tp);
  if (it == state->offsets.end())
    return Status(Code::kNotFound, "group '" + impl_->options.group_id + "' has no committed offset for " +
                                       group::to_string(tp));
  return OffsetAndMetadata{it->second.offset, it->second.metadata};
}

std::int64_t GroupConsumer::position(const TopicPartition& tp) const {
  const Impl& m = *impl_;
  if (!std::binary_search(m.owned.begin(), m.owned.end(), tp)) return -1;
  const auto t = std::lower_bound(m.topics.begin(), m.topics.end(), tp.topic) - m.topics.begin();
  return m.readers[static_cast<std::size_t>(t)]->position(tp.partition);
}

bool GroupConsumer::still_valid() const noexcept {
  return impl_->readers.empty() || impl_->readers[impl_->last_reader]->still_valid();
}

Result<std::int64_t> GroupConsumer::latest_offset(const TopicPartition& tp) const {
  const Impl& m = *impl_;
  const auto t = std::lower_bound(m.topics.begin(), m.topics.end(), tp.topic);
  if (t == m.topics.end() || *t != tp.topic)
    return Status(Code::kInvalidArgument, "topic '" + tp.topic + "' is not one this member subscribes to");
  return m.readers[static_cast<std::size_t>(t - m.topics.begin())]->latest_offset(tp.partition);
}

std::vector<TopicPartition> GroupConsumer::assignment() const { return impl_->owned; }
std::int32_t GroupConsumer::generation() const noexcept { return impl_->generation; }
const std::string& GroupConsumer::member_id() const noexcept { return impl_->member_id; }

Status GroupConsumer::close() {
  Impl& m = *impl_;
  if (m.closed || m.closing) return Status::ok();
  m.closing = true;
  m.stop_heartbeat();
  Status result;
  // The group's current generation first (its revocations, with their
  // callbacks): the last commits are then accepted for what it still reads.
  if (m.group_changed()) (void)m.sync();
  if (m.options.enable_auto_commit) {
    Status s = m.commit(m.positions_of(m.owned));
    if (s.code() != Code::kFenced) result = s;  // a zombie's positions are another's business now
  }
  // Its commit_sync() calls are accepted: still this member's partitions.
  if (!m.owned.empty() && m.options.rebalance_listener != nullptr)
    m.options.rebalance_listener->on_partitions_revoked(m.owned);
  m.closed = true;
  m.owned.clear();
  (void)m.reassign({});
  Status left = m.store->update([&](group::GroupCoordinator& c, group::GroupState&) { return c.leave(m.member_id); });
  if (!left && left.code() != Code::kFenced && result) result = left;
  // Free the slot if it is still this member's (relaxed checks: only this
  // process writes it while it holds it).
  if (const std::int32_t i = m.slot.load(std::memory_order_relaxed); i >= 0) {
    group_object::Slot& slot = m.store->slot(i);
    if (slot.process.load(std::memory_order_relaxed) == ipc::self().packed() &&
        slot.member_seq.load(std::memory_order_relaxed) == m.seq)
      slot.process.store(0, std::memory_order_release);  // pairs with take_slot()'s acquire
  }
  m.deliver_async();
  return result;
}

}  // namespace rill
