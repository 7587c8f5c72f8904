#include "core/client/durable.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <new>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "ipc/clock.h"
#include "ipc/liveness.h"

namespace rill::client {
namespace {

class DurablePartitions {
 public:
  DurablePartitions() { ipc::at_fork(&before_fork, &after_fork_in_parent, &after_fork_in_child); }
  ~DurablePartitions() { stop(); }

  std::shared_ptr<log::Flusher> get(const std::string& key, const log::PartitionRing& ring, const std::string& dir,
                                    const log::DiskLogConfig& config, std::shared_ptr<const void> keep_alive) {
    std::lock_guard lock(mu_);
    auto& slot = flushers_[key];
    if (auto f = slot.lock()) return f;
    auto f = std::make_shared<log::Flusher>(ring, dir, config, std::move(keep_alive));
    slot = f;
    start_locked();
    return f;
  }

 private:
  // The thread, (re)started in this process (a forked child has none).
  void start_locked() {
    const pid_t me = ipc::current_pid();
    if (thread_pid_ == me) return;
    // A parent's thread object, copied by fork: no thread runs it in this
    // process, so it is neither joined nor detached, only forgotten.
    (void)thread_.release();
    thread_ = std::make_unique<std::thread>([this] { run(); });
    thread_pid_ = me;
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      // Relaxed: the lock orders it for the condition's waiter; a sleeper on a
      // partition's doorbell sees it by its deadline (a millisecond).
      stopping_.store(true, std::memory_order_relaxed);
    }
    wake_.notify_all();
    if (thread_ && thread_pid_ == ipc::current_pid()) thread_->join();
  }

  void run() {
    std::vector<std::shared_ptr<log::Flusher>> live;
    std::unique_lock lock(mu_);
    while (!stopping_.load(std::memory_order_relaxed)) {
      live.clear();
      for (auto it = flushers_.begin(); it != flushers_.end();) {
        if (auto f = it->second.lock()) {
          live.push_back(std::move(f));
          ++it;
        } else {
          it = flushers_.erase(it);
        }
      }
      lock.unlock();
      for (const auto& f : live) (void)f->flush_if_needed();
      // Until the next pass: asleep on the doorbell of a partition whose
      // lease this process holds, where a producer of another process that
      // waits for the files calls (the others are looked at on the next
      // pass); else asleep on the lock's condition. Not on the doorbell
      // while a request is pending that the pass could not meet (a claim not
      // yet committed, a full disk): it would not sleep at all.
      const log::Flusher* holder = nullptr;
      for (const auto& f : live)
        if (f->holds_lease()) {
          holder = f.get();
          break;
        }
      bool slept = false;
      if (holder != nullptr && !holder->request_pending()) {
        const std::int64_t deadline = ipc::monotonic_ns() + kFlushIdleNs;
        holder->wait_for_request(deadline, [this] { return stopping_.load(std::memory_order_relaxed); });
        slept = true;
      }
      // Last references let go here, off the lock: a Flusher's destructor syncs.
      live.clear();
      lock.lock();
      if (!slept)
        wake_.wait_for(lock, std::chrono::nanoseconds(kFlushIdleNs), [this] { return stopping_.load(std::memory_order_relaxed); });
    }
  }

  static void before_fork();
  static void after_fork_in_parent();
  static void after_fork_in_child();

  std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, std::weak_ptr<log::Flusher>> flushers_;
  std::unique_ptr<std::thread> thread_;
  pid_t thread_pid_ = 0;
  std::atomic<bool> stopping_{false};  // written under mu_; read off it by a sleeper on a doorbell
};

DurablePartitions& partitions() {
  static DurablePartitions p;
  return p;
}

// A fork while the thread holds the lock would leave the child's copy locked
// forever: the forking thread takes it first. The child starts with no
// flushers (the parent's stay the parent's: a child opens its own topics)
// and starts its own thread on first use.
void DurablePartitions::before_fork() { partitions().mu_.lock(); }
void DurablePartitions::after_fork_in_parent() { partitions().mu_.unlock(); }
void DurablePartitions::after_fork_in_child() {
  DurablePartitions& p = partitions();
  p.flushers_.clear();
  // The parent's thread may have been waiting on it: the child's copy is made
  // afresh (not destroyed: its state names a waiter this process lacks).
  new (&p.wake_) std::condition_variable();
  p.mu_.unlock();
}

}  // namespace

std::shared_ptr<log::Flusher> durable_partition(const std::string& dir, std::uint64_t incarnation,
                                                const log::PartitionRing& ring, const log::DiskLogConfig& config,
                                                std::shared_ptr<const void> keep_alive) {
  return partitions().get(dir + "#" + std::to_string(incarnation), ring, dir, config, std::move(keep_alive));
}

}  // namespace rill::client
