#include "bench/suite/transports_disk.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "bench/suite/clock.h"
#include "bench/suite/payload.h"
#include "core/log/frame_codec.h"
#include "core/log/record_format.h"
#include "io/file_system.h"

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
  // Frames as the ring holds them, near enough: a header, then a stamped value.
  std::vector<std::byte> buffer(per_write * frame, std::byte{0});
  for (std::size_t f = 0; f < per_write; ++f) {
    std::byte* value = buffer.data() + f * frame + log::kRecordHeaderSize;
    prepare_record(value, plan.record_bytes);
    stamp(value, plan.record_bytes, PayloadHeader{f, 0, 0, static_cast<std::uint32_t>(f), 0, 0, 0});
  }
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

}  // namespace rill::bench
