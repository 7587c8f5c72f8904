#include "bench/suite/transports_disk.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "bench/suite/clock.h"
#include "bench/suite/payload.h"
#include "bench/suite/team.h"
#include "core/log/frame_codec.h"
#include "core/log/record_format.h"
#include "io/file_system.h"
#include "io/os_error.h"

namespace rill::bench {

namespace {

// The files of one baseline: `path`, then `path`.1, ... as each fills
// kRawFileBytes; all removed when it goes.
class FileSequence {
 public:
  explicit FileSequence(std::string path) : base_(std::move(path)) {}
  ~FileSequence() {
    file_.reset();
    for (const std::string& p : made_) (void)io::file_system().remove(p);
  }
  FileSequence(const FileSequence&) = delete;
  FileSequence& operator=(const FileSequence&) = delete;

  // Writes `bytes` at the end of the current file (a new one first if they
  // would take it past kRawFileBytes), synced if `sync`.
  Status append(std::span<const std::byte> bytes, bool sync) {
    if (!file_ || position_ + bytes.size() > kRawFileBytes) {
      const std::string p = made_.empty() ? base_ : base_ + "." + std::to_string(made_.size());
      file_.reset();
      auto f = io::file_system().open(p, io::OpenMode::kCreate);
      if (!f.is_ok()) return f.status();
      made_.push_back(p);
      file_ = std::move(f.value());
      position_ = 0;
    }
    // The write, then the sync on its own: File::write's own sync (the two
    // linked in one io_uring submission) measured slower here, about 0.33
    // against 0.19 ms a sync, and the baseline is the fastest way rill's io
    // layer offers.
    if (Status s = file_->write(position_, bytes, false); !s.is_ok()) return s;
    position_ += bytes.size();
    if (sync) return file_->sync();
    return Status::ok();
  }

 private:
  std::string base_;
  std::vector<std::string> made_;
  std::unique_ptr<io::File> file_;
  std::uint64_t position_ = 0;
};

// A frame as the ring holds it, near enough: a header, then a stamped value;
// `count` of them back to back.
std::vector<std::byte> raw_frames(const PhasePlan& plan, std::size_t count) {
  const std::size_t frame = log::align_frame(log::record_frame_size(std::nullopt, plan.record_bytes, 0));
  std::vector<std::byte> buffer(count * frame, std::byte{0});
  for (std::size_t f = 0; f < count; ++f) {
    std::byte* value = buffer.data() + f * frame + log::kRecordHeaderSize;
    prepare_record(value, plan.record_bytes);
    stamp(value, plan.record_bytes, PayloadHeader{f, 0, 0, static_cast<std::uint32_t>(f), 0, 0, 0});
  }
  return buffer;
}

}  // namespace

DiskOutcome run_disk_baseline(DiskBaseline kind, const PhasePlan& plan, const std::string& path, Histogram& latency,
                              const DiskProgressFn& progress) {
  DiskOutcome out;
  const bool sync = kind == DiskBaseline::kFdatasync;
  // A rill record frame of this value size (no key, no headers), padding included.
  const std::size_t frame = log::align_frame(log::record_frame_size(std::nullopt, plan.record_bytes, 0));
  // Like with like: as many frames a write as one send of rill's throughput
  // phase carries (--batch), up to what one flush of rill writes at once.
  const std::size_t per_write =
      sync ? 1 : std::clamp<std::size_t>(plan.batch, 1, std::max<std::size_t>(1, kRawWriteBytes / frame));
  const std::vector<std::byte> buffer = raw_frames(plan, per_write);
  FileSequence files(path);

  const bool by_count = plan.count > 0;
  const std::int64_t start = monotonic_ns();
  const std::int64_t measure = start + plan.warmup_ns;
  const std::int64_t end = measure + plan.duration_ns;
  std::int64_t first_ns = 0, last_ns = 0, last_progress = start;
  std::uint64_t done = 0;  // records, warm-up included
  for (;;) {
    const std::int64_t now = monotonic_ns();
    const bool warm = now < measure;
    if (!warm && (by_count ? out.records >= plan.count : now >= end)) break;
    const std::size_t n =
        by_count && !warm ? static_cast<std::size_t>(std::min<std::uint64_t>(per_write, plan.count - out.records))
                          : per_write;
    const std::uint64_t t0 = plan.clock.now();
    if (Status s = files.append(std::span<const std::byte>(buffer.data(), n * frame), sync); !s.is_ok()) {
      out.error = s.to_string();
      break;
    }
    const std::uint64_t t1 = plan.clock.now();
    done += n;
    if (!warm) {
      if (out.records == 0) first_ns = now;
      last_ns = monotonic_ns();
      out.records += n;
      out.bytes += n * frame;
      if (sync) latency.record(plan.clock.to_ns(static_cast<std::int64_t>(t1 - t0)));
    }
    if (progress && now - last_progress >= 200'000'000) {
      last_progress = now;
      if (!progress(done, static_cast<double>(now - start) / 1e9)) {
        out.interrupted = true;
        out.error = "interrupted";
        break;
      }
    }
  }
  out.elapsed_ns = last_ns - first_ns;
  if (out.error.empty() && (out.records == 0 || out.elapsed_ns <= 0))
    out.error = "no measured write (is the warm-up longer than the run?)";
  return out;
}

DiskOutcome run_group_commit_baseline(const PhasePlan& plan, int writers, const std::vector<int>& cores,
                                      const std::string& path, Histogram& latency, const DiskProgressFn& progress) {
  DiskOutcome out;
  const std::vector<std::byte> frame = raw_frames(plan, 1);
  // Plain pwrite(2) and fdatasync(2): the fastest simple way here (through
  // rill's io layer, each writer's io_uring would hand its writes to the
  // kernel's worker threads, and the baseline ran at half this speed).
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    out.error = io::os_error(errno, "cannot create " + path).to_string();
    return out;
  }
  // The textbook group commit: a writer appends its frame under the lock;
  // then, if no sync runs, it syncs (the lock released meanwhile) every
  // frame written so far, for all; else it waits for the running sync and
  // looks again.
  std::mutex mu;
  std::condition_variable synced_cv;
  std::uint64_t written = 0, synced = 0;  // frames, under mu
  bool syncing = false;
  std::string error;  // the first failure, under mu
  std::vector<Histogram> each(static_cast<std::size_t>(writers));
  std::vector<DiskOutcome> counts(static_cast<std::size_t>(writers));
  std::atomic<std::uint64_t> done{0};  // frames acknowledged, warm-up included (progress)
  std::atomic<bool> stop{false};       // relaxed: a request to stop
  std::atomic<int> finished{0};        // writers done
  const std::int64_t start = monotonic_ns();
  const std::int64_t measure = start + plan.warmup_ns;
  const std::int64_t end = measure + plan.duration_ns;
  const std::uint64_t quota = plan.count > 0 ? (plan.count + static_cast<std::uint64_t>(writers) - 1) /
                                                   static_cast<std::uint64_t>(writers)
                                             : 0;
  auto write_and_sync = [&]() -> bool {
    std::unique_lock lock(mu);
    if (!error.empty()) return false;
    const auto at = static_cast<off_t>(written * frame.size());
    if (::pwrite(fd, frame.data(), frame.size(), at) != static_cast<ssize_t>(frame.size())) {
      error = io::os_error(errno, "cannot write " + path).to_string();
      return false;
    }
    const std::uint64_t mine = ++written;
    while (synced < mine) {
      if (!error.empty()) return false;
      if (syncing) {
        synced_cv.wait(lock);
        continue;
      }
      syncing = true;
      const std::uint64_t target = written;
      lock.unlock();
      const int rc = ::fdatasync(fd);
      const int err = errno;
      lock.lock();
      syncing = false;
      if (rc != 0) error = io::os_error(err, "cannot fdatasync " + path).to_string();
      else synced = std::max(synced, target);
      synced_cv.notify_all();
    }
    return true;
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      if (w < static_cast<int>(cores.size()) && cores[static_cast<std::size_t>(w)] >= 0)
        (void)pin_to_core(cores[static_cast<std::size_t>(w)]);
      Histogram& mine = each[static_cast<std::size_t>(w)];
      DiskOutcome& count = counts[static_cast<std::size_t>(w)];
      std::int64_t first_ns = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const std::int64_t now = monotonic_ns();
        const bool warm = now < measure;
        if (!warm && (quota > 0 ? count.records >= quota : now >= end)) break;
        const std::uint64_t t0 = plan.clock.now();
        if (!write_and_sync()) break;
        const std::uint64_t t1 = plan.clock.now();
        done.fetch_add(1, std::memory_order_relaxed);
        if (warm) continue;
        if (count.records == 0) first_ns = now;
        count.elapsed_ns = monotonic_ns() - first_ns;
        ++count.records;
        count.bytes += frame.size();
        mine.record(plan.clock.to_ns(static_cast<std::int64_t>(t1 - t0)));
      }
      finished.fetch_add(1, std::memory_order_release);  // pairs with the loop's acquire below
    });
  }
  // Every writer ends on its own (duration or count, or an error); this
  // thread only reports progress, and stops them if asked.
  std::int64_t last_progress = start;
  while (finished.load(std::memory_order_acquire) < writers) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::int64_t now = monotonic_ns();
    if (!progress || out.interrupted || now - last_progress < 200'000'000) continue;
    last_progress = now;
    if (!progress(done.load(std::memory_order_relaxed), static_cast<double>(now - start) / 1e9)) {
      out.interrupted = true;
      stop.store(true, std::memory_order_relaxed);
    }
  }
  for (std::thread& t : threads) t.join();
  ::close(fd);
  ::unlink(path.c_str());
  for (int w = 0; w < writers; ++w) {
    const DiskOutcome& c = counts[static_cast<std::size_t>(w)];
    out.records += c.records;
    out.bytes += c.bytes;
    out.elapsed_ns = std::max(out.elapsed_ns, c.elapsed_ns);
    latency.merge(each[static_cast<std::size_t>(w)]);
  }
  if (out.interrupted) out.error = "interrupted";
  else if (!error.empty()) out.error = error;
  else if (out.records == 0 || out.elapsed_ns <= 0) out.error = "no measured write (is the warm-up longer than the run?)";
  return out;
}

}  // namespace rill::bench
