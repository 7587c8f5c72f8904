#include "core/log/disk_log.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/log/disk_format.h"
#include "core/log/frame_codec.h"
#include "ipc/clock.h"

namespace rill::log {

using namespace disk;

namespace {

template <typename T>
T load(const std::byte* at) noexcept {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}
template <typename T>
void store(std::byte* at, T v) noexcept {
  std::memcpy(at, &v, sizeof v);
}

std::uint64_t align8(std::uint64_t n) noexcept { return (n + 7) & ~std::uint64_t{7}; }

std::string stem_of(const std::string& dir, std::int64_t base) {
  char name[32];
  std::snprintf(name, sizeof name, "%020lld", static_cast<long long>(base));
  return dir + "/" + name;
}

// The base offset a .log file's name gives, or -1 if it is not one.
std::int64_t base_of_name(const std::string& name) {
  const std::string suffix = kLogSuffix;
  if (name.size() != kNameDigits + suffix.size() || name.compare(kNameDigits, suffix.size(), suffix) != 0) return -1;
  std::int64_t v = 0;
  for (int i = 0; i < kNameDigits; ++i) {
    const char c = name[static_cast<std::size_t>(i)];
    if (c < '0' || c > '9' || v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::uint64_t mark_check(const std::byte* header) noexcept {
  return XXH3_64bits(header + kSyncedEndAt, kMarkCheckAt - kSyncedEndAt);
}

void encode_mark(std::byte* mark, std::uint64_t synced_end, std::int64_t synced_next) noexcept {
  // `mark` is header + kSyncedEndAt: the check covers the two words before it.
  store(mark, synced_end);
  store(mark + 8, synced_next);
  store(mark + 16, XXH3_64bits(mark, 16));
}

// Whether the frame at `pos` of `bytes` (size `end`) is intact at offset
// `offset`; *offsets gets how many it covers, *timestamp its first record's.
bool intact_frame(std::span<const std::byte> bytes, std::uint64_t pos, std::int64_t offset, std::int32_t partition,
                  std::uint64_t* offsets, std::uint64_t* aligned) {
  if (pos + kFrameHeaderSize > bytes.size()) return false;
  const std::byte* frame = bytes.data() + pos;
  const auto word = load<std::uint64_t>(frame);
  if (word == 0 || static_cast<std::uint32_t>(word) == kEndOfSegment) return false;
  const std::uint64_t room = bytes.size() - pos;
  const Decoded d = decode_frame(frame, word, room, partition, offset, 0, nullptr, 0, true);
  if (d.check != FrameCheck::kOk || d.offsets == 0) return false;
  *offsets = d.offsets;
  *aligned = align8(commit_length(word));
  return *aligned <= room;
}

}  // namespace

// One .log file and its two indexes.
struct DiskLog::File {
  std::int64_t base = 0;
  std::string stem;                   // dir/<20 digits>
  std::uint64_t size = 0;             // bytes of the .log (header + frames); guarded by files_mu_ for locate()
  std::uint64_t synced_end = 0;       // position up to which the .log is synced
  std::int64_t synced_next = 0;       // the offset there
  std::unique_ptr<io::File> log, index, time_index;  // open for the file taking appends only
  std::uint64_t index_entries = 0;
  std::uint64_t next_index_at = kLogHeaderBytes;  // the position that gets the next entry
  std::int64_t max_timestamp = INT64_MIN;         // of the records in the file (INT64_MIN: none, or unknown)
  std::uint64_t last_frame_at = 0;                // position of the last frame (0: none yet)
  std::int64_t last_frame_offset = 0;
  std::uint64_t last_indexed_at = 0;              // position of the last index entry (0: none)

  std::string log_path() const { return stem + kLogSuffix; }
  std::string index_path() const { return stem + kIndexSuffix; }
  std::string time_index_path() const { return stem + kTimeIndexSuffix; }
};

DiskLog::DiskLog(io::FileSystem& fs, std::string dir, const DiskLogConfig& config)
    : fs_(fs), dir_(std::move(dir)), config_(config) {}

DiskLog::~DiskLog() {
  // A clean close leaves a mark that names the whole file.
  if (damage_.is_ok() && poisoned_.is_ok() && !files_.empty() && files_.back()->log) (void)seal_mark();
}

Result<std::unique_ptr<DiskLog>> DiskLog::open(io::FileSystem& fs, std::string dir, const DiskLogConfig& config,
                                               std::int64_t first_offset) {
  if (config.index_interval < 64 || config.file_bytes < 4096 || config.file_bytes > kMaxLogFileBytes)
    return Status(Code::kInvalidArgument, "disk log of " + dir + ": bad configuration");
  std::unique_ptr<DiskLog> log(new DiskLog(fs, std::move(dir), config));
  // Folders get the search bit wherever the files are readable: 0600 -> 0700, 0660 -> 0770.
  if (Status s = fs.make_dirs(log->dir_, config.permissions | ((config.permissions & 0444) >> 2)); !s) return s;
  auto names = fs.list(log->dir_);
  if (!names) return names.status();
  std::vector<std::int64_t> bases;
  for (const std::string& name : *names)
    if (const std::int64_t b = base_of_name(name); b >= 0) bases.push_back(b);
  std::sort(bases.begin(), bases.end());
  log->recovery_.files = bases.size();
  if (bases.empty()) {
    if (Status s = log->create_file(first_offset); !s) return s;
    log->recovery_.files = 1;
    return log;
  }
  for (const std::int64_t b : bases) {
    auto f = std::make_unique<File>();
    f->base = b;
    f->stem = stem_of(log->dir_, b);
    log->files_.push_back(std::move(f));
  }
  // Closed files: their size; their end is the next file's base.
  for (std::size_t i = 0; i + 1 < log->files_.size(); ++i) {
    File& f = *log->files_[i];
    auto file = fs.open(f.log_path(), io::OpenMode::kRead);
    if (!file) return file.status();
    auto size = (*file)->size();
    if (!size) return size.status();
    f.size = f.synced_end = *size;
    f.synced_next = log->files_[i + 1]->base;
    // Its largest timestamp: its last time-index entry, which the roll that
    // closed it made for its last frame (retention by time reads it).
    if (auto time_index = fs.open(f.time_index_path(), io::OpenMode::kRead); time_index) {
      const std::uint64_t bytes = (*time_index)->size().is_ok() ? *(*time_index)->size() : 0;
      std::byte e[kTimeIndexEntryBytes];
      if (bytes >= kTimeIndexEntryBytes) {
        auto got = (*time_index)->read(bytes - bytes % kTimeIndexEntryBytes - kTimeIndexEntryBytes, e);
        if (got && *got == kTimeIndexEntryBytes) f.max_timestamp = load<std::int64_t>(e);
      }
    }
  }
  if (Status s = log->recover_last(); !s) return s;
  return log;
}

Status DiskLog::create_file(std::int64_t base) {
  auto f = std::make_unique<File>();
  f->base = base;
  f->stem = stem_of(dir_, base);
  std::byte header[kLogHeaderBytes] = {};
  store(header + kMagicAt, kLogMagic);
  store(header + kVersionAt, kDiskFormatVersion);
  store(header + kHeaderBytesAt, static_cast<std::uint32_t>(kLogHeaderBytes));
  store(header + kBaseOffsetAt, base);
  store(header + kCreatedAt, ipc::realtime_ns());
  store(header + kCheckAt, XXH3_64bits(header, kCheckAt));
  encode_mark(header + kSyncedEndAt, kLogHeaderBytes, base);
  auto log = fs_.open(f->log_path(), io::OpenMode::kCreateOrWrite, config_.permissions);
  if (!log) return log.status();
  if (Status s = (*log)->truncate(0); !s) return s;
  if (Status s = (*log)->write(0, header, true); !s) return s;
  auto index = fs_.open(f->index_path(), io::OpenMode::kCreateOrWrite, config_.permissions);
  if (!index) return index.status();
  auto time_index = fs_.open(f->time_index_path(), io::OpenMode::kCreateOrWrite, config_.permissions);
  if (!time_index) return time_index.status();
  if (Status s = (*index)->truncate(0); !s) return s;
  if (Status s = (*time_index)->truncate(0); !s) return s;
  if (Status s = fs_.sync_dir(dir_); !s) return s;
  f->log = std::move(*log);
  f->index = std::move(*index);
  f->time_index = std::move(*time_index);
  f->size = f->synced_end = kLogHeaderBytes;
  f->synced_next = base;
  end_offset_ = synced_offset_ = base;
  std::lock_guard lock(files_mu_);
  files_.push_back(std::move(f));
  return Status::ok();
}

Status DiskLog::recover_last() {
  File& f = *files_.back();
  const std::string path = f.log_path();
  auto log = fs_.open(path, io::OpenMode::kWrite);
  if (!log) return log.status();
  auto size = (*log)->size();
  if (!size) return size.status();
  std::byte header[kLogHeaderBytes] = {};
  auto got = (*log)->read(0, header);
  if (!got) return got.status();
  if (*got < kLogHeaderBytes && files_.size() == 1 && *size < kLogHeaderBytes) {
    // Created, and cut short by a crash before its header was synced: no
    // frame can follow. Made again.
    const std::int64_t base = f.base;
    files_.clear();
    return create_file(base);
  }
  if (*got < kLogHeaderBytes || load<std::uint64_t>(header + kMagicAt) != kLogMagic ||
      load<std::uint32_t>(header + kVersionAt) != kDiskFormatVersion ||
      load<std::uint32_t>(header + kHeaderBytesAt) != kLogHeaderBytes ||
      load<std::uint64_t>(header + kCheckAt) != XXH3_64bits(header, kCheckAt) ||
      load<std::int64_t>(header + kBaseOffsetAt) != f.base)
    return Status(Code::kCorrupt, path + " byte 0: not a rill segment file of format version " +
                                      std::to_string(kDiskFormatVersion) + " starting at offset " +
                                      std::to_string(f.base) + " (its header is damaged or of another version)");
  std::uint64_t mark_end = kLogHeaderBytes;
  std::int64_t mark_next = f.base;
  if (load<std::uint64_t>(header + kMarkCheckAt) == mark_check(header)) {
    mark_end = load<std::uint64_t>(header + kSyncedEndAt);
    mark_next = load<std::int64_t>(header + kSyncedNextAt);
    if (mark_end < kLogHeaderBytes || mark_end % 8 != 0 || mark_next < f.base)
      return Status(Code::kCorrupt, path + " byte 40: its sync mark (" + std::to_string(mark_end) + ", offset " +
                                        std::to_string(mark_next) + ") is impossible");
    if (mark_end > *size)
      return Status(Code::kCorrupt, path + " holds " + std::to_string(*size) + " bytes, fewer than the " +
                                        std::to_string(mark_end) +
                                        " it was synced to: synced records are missing (the file was cut)");
  }
  auto mapped = fs_.map(path);
  if (!mapped) return mapped.status();
  const std::span<const std::byte> bytes = (*mapped)->bytes();

  // Index entries before the mark that agree with one another are kept; the
  // scan starts at the last of them (or at the mark, if it is earlier).
  auto index = fs_.open(f.index_path(), io::OpenMode::kCreateOrWrite, config_.permissions);
  if (!index) return index.status();
  auto time_index = fs_.open(f.time_index_path(), io::OpenMode::kCreateOrWrite, config_.permissions);
  if (!time_index) return time_index.status();
  std::uint64_t scan_from = kLogHeaderBytes;
  std::int64_t scan_offset = f.base;
  std::uint64_t kept = 0;
  std::int64_t kept_max_ts = INT64_MIN;
  {
    const std::uint64_t entries = std::min((*index)->size().value() / kIndexEntryBytes,
                                           (*time_index)->size().value() / kTimeIndexEntryBytes);
    std::vector<std::byte> raw(entries * kIndexEntryBytes), time_raw(entries * kTimeIndexEntryBytes);
    auto a = (*index)->read(0, raw);
    auto b = (*time_index)->read(0, time_raw);
    if (!a) return a.status();
    if (!b) return b.status();
    std::uint64_t last_pos = 0;
    std::int64_t last_rel = -1;
    for (std::uint64_t i = 0; i < entries; ++i) {
      const auto rel = load<std::uint32_t>(raw.data() + i * kIndexEntryBytes);
      const auto pos = load<std::uint32_t>(raw.data() + i * kIndexEntryBytes + 4);
      const auto ts = load<std::int64_t>(time_raw.data() + i * kTimeIndexEntryBytes);
      const auto trel = load<std::uint32_t>(time_raw.data() + i * kTimeIndexEntryBytes + 8);
      if (trel != rel || pos < kLogHeaderBytes || pos % 8 != 0 || pos >= mark_end ||
          static_cast<std::int64_t>(rel) <= last_rel || (i > 0 && pos <= last_pos) ||
          f.base + static_cast<std::int64_t>(rel) >= mark_next)
        break;
      std::uint64_t offsets = 0, aligned = 0;
      if (!intact_frame(bytes, pos, f.base + rel, config_.partition, &offsets, &aligned)) break;
      last_pos = pos;
      last_rel = rel;
      kept_max_ts = std::max(kept_max_ts, ts);
      kept = i + 1;
    }
    if (kept > 0) {
      scan_from = last_pos;
      scan_offset = f.base + last_rel;
    }
  }
  // The entry's own frame is scanned again: it gets its entry back below.
  if (kept > 0) --kept;
  if (Status s = (*index)->truncate(kept * kIndexEntryBytes); !s) return s;
  if (Status s = (*time_index)->truncate(kept * kTimeIndexEntryBytes); !s) return s;
  f.index_entries = kept;
  f.max_timestamp = kept > 0 ? kept_max_ts : INT64_MIN;
  if (kept > 0) {
    // The max timestamp up to the entry before: read back from the time index.
    std::byte e[kTimeIndexEntryBytes];
    auto read = (*time_index)->read((kept - 1) * kTimeIndexEntryBytes, e);
    if (read && *read == kTimeIndexEntryBytes) f.max_timestamp = load<std::int64_t>(e);
  }
  f.next_index_at = scan_from;

  // The scan: intact frames from scan_from on.
  std::uint64_t pos = scan_from;
  std::int64_t offset = scan_offset;
  std::vector<std::byte> index_out, time_out;
  while (true) {
    std::uint64_t offsets = 0, aligned = 0;
    if (!intact_frame(bytes, pos, offset, config_.partition, &offsets, &aligned)) break;
    if (pos >= f.next_index_at) {
      const std::byte* frame = bytes.data() + pos;
      const auto word = load<std::uint64_t>(frame);
      if (commit_kind(word) != kKindAbandoned) f.max_timestamp = std::max(f.max_timestamp, frame_timestamp(frame, word));
      std::byte e[kIndexEntryBytes], t[kTimeIndexEntryBytes] = {};
      store(e, static_cast<std::uint32_t>(offset - f.base));
      store(e + 4, static_cast<std::uint32_t>(pos));
      store(t, f.max_timestamp);
      store(t + 8, static_cast<std::uint32_t>(offset - f.base));
      index_out.insert(index_out.end(), e, e + kIndexEntryBytes);
      time_out.insert(time_out.end(), t, t + kTimeIndexEntryBytes);
      f.next_index_at = pos + config_.index_interval;
      f.last_indexed_at = pos;
    } else {
      const std::byte* frame = bytes.data() + pos;
      const auto word = load<std::uint64_t>(frame);
      if (commit_kind(word) != kKindAbandoned) f.max_timestamp = std::max(f.max_timestamp, frame_timestamp(frame, word));
    }
    f.last_frame_at = pos;
    f.last_frame_offset = offset;
    pos += aligned;
    offset += static_cast<std::int64_t>(offsets);
  }
  recovery_.bytes_scanned = pos - std::min(pos, mark_end);
  if (pos < mark_end) {
    // Not a torn write: these bytes were synced. Nothing is cut; the records
    // before the damage stay readable, and appends are refused.
    damage_ = Status(Code::kCorrupt, path + " byte " + std::to_string(pos) + ": the frame at offset " +
                                         std::to_string(offset) + " fails its checks below the file's sync mark (" +
                                         std::to_string(mark_end) + "): the file is damaged, not torn; the records "
                                         "before offset " + std::to_string(offset) + " are intact and readable, and "
                                         "the partition takes no appends until the file is repaired or removed");
    {
      std::lock_guard lock(files_mu_);
      f.size = pos;
    }
    f.log = std::move(*log);
    f.index = std::move(*index);
    f.time_index = std::move(*time_index);
    end_offset_ = synced_offset_ = offset;
    return Status::ok();
  }
  (*mapped).reset();
  if (*size > pos) {
    recovery_.bytes_truncated = *size - pos;
    recovery_.truncated_at = path + " byte " + std::to_string(pos);
    if (Status s = (*log)->truncate(pos); !s) return s;
  }
  if (!index_out.empty()) {
    if (Status s = (*index)->write(f.index_entries * kIndexEntryBytes, index_out, false); !s) return s;
    if (Status s = (*time_index)->write(f.index_entries * kTimeIndexEntryBytes, time_out, false); !s) return s;
    f.index_entries += index_out.size() / kIndexEntryBytes;
  }
  f.log = std::move(*log);
  f.index = std::move(*index);
  f.time_index = std::move(*time_index);
  {
    std::lock_guard lock(files_mu_);
    f.size = pos;
  }
  f.synced_end = mark_end;
  f.synced_next = mark_next;
  end_offset_ = offset;
  synced_offset_ = mark_next;
  // What survived is made durable (a process crash leaves it in the page
  // cache only), with a mark that says so.
  return seal_mark();
}

Status DiskLog::seal_mark() {
  if (Status s = sync(); !s) return s;
  File& f = *files_.back();
  if (Status s = write_mark(f); !s) return s;
  return f.log->sync();
}

std::int64_t DiskLog::start_offset() const {
  std::lock_guard lock(files_mu_);
  return files_.front()->base;
}

std::uint64_t DiskLog::size_bytes() const {
  std::lock_guard lock(files_mu_);
  std::uint64_t n = 0;
  for (const auto& f : files_) n += f->size;
  return n;
}

Status DiskLog::write_mark(File& f) {
  std::byte mark[kMarkBytes];
  encode_mark(mark, f.synced_end, f.synced_next);
  return f.log->write(kSyncedEndAt, mark, false);
}

Status DiskLog::sync() {
  if (!damage_.is_ok()) return damage_;
  if (!poisoned_.is_ok()) return poisoned_;
  File& f = *files_.back();
  // The mark names the previous sync: this one makes it durable, and it
  // never claims bytes that are not.
  if (Status s = write_mark(f); !s) return s;
  if (Status s = f.log->sync(); !s) {
    poisoned_ = s.with_context("an fdatasync failed, so records written since the last good one may be lost "
                               "whatever later syncs say; this partition acknowledges no more syncs until it "
                               "is reopened (recovery then keeps what is intact)");
    return poisoned_;
  }
  f.synced_end = f.size;
  f.synced_next = end_offset_;
  synced_offset_ = end_offset_;
  return Status::ok();
}

Status topic_deleted(const std::string& dir) {
  return Status(Code::kNotFound, dir + ": the topic was deleted; nothing more is written to its files");
}

Status DiskLog::roll() {
  File& f = *files_.back();
  // The last frame gets an entry of its own, unless it has one: the closed
  // file's last time-index entry then holds its largest timestamp.
  if (f.last_frame_at >= kLogHeaderBytes && f.last_frame_at != f.last_indexed_at) {
    std::byte e[kIndexEntryBytes], t[kTimeIndexEntryBytes] = {};
    store(e, static_cast<std::uint32_t>(f.last_frame_offset - f.base));
    store(e + 4, static_cast<std::uint32_t>(f.last_frame_at));
    store(t, f.max_timestamp);
    store(t + 8, static_cast<std::uint32_t>(f.last_frame_offset - f.base));
    if (Status s = f.index->write(f.index_entries * kIndexEntryBytes, e, false); !s) return s;
    if (Status s = f.time_index->write(f.index_entries * kTimeIndexEntryBytes, t, false); !s) return s;
    ++f.index_entries;
    f.last_indexed_at = f.last_frame_at;
  }
  // The closed file's mark names its end, and its indexes are durable.
  if (Status s = seal_mark(); !s) return s;
  if (Status s = f.index->sync(); !s) return s;
  if (Status s = f.time_index->sync(); !s) return s;
  const std::int64_t base = end_offset_;
  // A deleted partition's folder may already be a new topic's of the same
  // name: no file is made there, and one made as the deletion came is
  // removed again (the deleter marks the partition before removing files).
  if (config_.deleted && config_.deleted()) return topic_deleted(dir_);
  if (Status s = create_file(base); !s) return s;
  if (config_.deleted && config_.deleted()) {
    File& made = *files_.back();
    (void)fs_.remove(made.log_path());
    (void)fs_.remove(made.index_path());
    (void)fs_.remove(made.time_index_path());
    std::lock_guard lock(files_mu_);
    files_.pop_back();
    return topic_deleted(dir_);
  }
  f.log.reset();
  f.index.reset();
  f.time_index.reset();
  return Status::ok();
}

Status DiskLog::append(std::span<const std::byte> frames, bool sync_after) {
  if (!damage_.is_ok()) return damage_;
  if (frames.size() % 8 != 0)
    return Status(Code::kInvalidArgument, "disk log append of " + std::to_string(frames.size()) +
                                              " bytes: not whole 8-aligned frames");
  // Runs of frames that fit the current file, each written at once.
  std::uint64_t run_start = 0, at = 0;
  std::int64_t run_offsets = 0;
  while (at < frames.size()) {
    const std::byte* frame = frames.data() + at;
    const auto word = load<std::uint64_t>(frame);
    const std::uint64_t room = frames.size() - at;
    const std::uint32_t length = commit_length(word);
    const std::uint64_t offsets =
        room >= kFrameHeaderSize && word != 0 ? frame_offsets(frame, word, room, end_offset_ + run_offsets) : 0;
    // The first frame's checksum, which its offset seeds, proves the frames
    // continue the log where it ends (one frame per append: cheap).
    const bool continues =
        at != 0 || decode_frame(frame, word, room, config_.partition, end_offset_, 0, nullptr, 0, true).check ==
                       FrameCheck::kOk;
    if (offsets == 0 || align8(length) > room || !continues)
      return Status(Code::kCorrupt, "disk log " + dir_ + ": the frame at byte " + std::to_string(at) +
                                        " of an append (offset " + std::to_string(end_offset_ + run_offsets) +
                                        ") does not decode; nothing of it was written");
    File& f = *files_.back();
    const std::uint64_t file_end = f.size + (at - run_start);
    if (file_end + align8(length) > config_.file_bytes && file_end > kLogHeaderBytes) {
      if (at > run_start) {
        if (Status s = write_run(frames.subspan(run_start, at - run_start), run_offsets, false); !s) return s;
      }
      if (Status s = roll(); !s) return s;
      run_start = at;
      run_offsets = 0;
    }
    at += align8(length);
    run_offsets += static_cast<std::int64_t>(offsets);
  }
  if (at > run_start) {
    if (Status s = write_run(frames.subspan(run_start, at - run_start), run_offsets, false); !s) return s;
  }
  return sync_after ? sync() : Status::ok();
}

Status DiskLog::write_run(std::span<const std::byte> frames, std::int64_t offsets, bool sync_after) {
  File& f = *files_.back();
  std::vector<std::byte> index_out, time_out;
  std::uint64_t next_index_at = f.next_index_at;
  std::int64_t max_ts = f.max_timestamp;
  std::int64_t offset = end_offset_;
  std::uint64_t last_indexed = f.last_indexed_at, last_frame = f.last_frame_at;
  std::int64_t last_offset = f.last_frame_offset;
  for (std::uint64_t at = 0; at < frames.size();) {
    const std::byte* frame = frames.data() + at;
    const auto word = load<std::uint64_t>(frame);
    const std::uint64_t pos = f.size + at;
    if (commit_kind(word) != kKindAbandoned) max_ts = std::max(max_ts, frame_timestamp(frame, word));
    if (pos >= next_index_at) {
      std::byte e[kIndexEntryBytes], t[kTimeIndexEntryBytes] = {};
      store(e, static_cast<std::uint32_t>(offset - f.base));
      store(e + 4, static_cast<std::uint32_t>(pos));
      store(t, max_ts);
      store(t + 8, static_cast<std::uint32_t>(offset - f.base));
      index_out.insert(index_out.end(), e, e + kIndexEntryBytes);
      time_out.insert(time_out.end(), t, t + kTimeIndexEntryBytes);
      next_index_at = pos + config_.index_interval;
      last_indexed = pos;
    }
    last_frame = pos;
    last_offset = offset;
    offset += static_cast<std::int64_t>(frame_offsets(frame, word, frames.size() - at, offset));
    at += align8(commit_length(word));
  }
  if (sync_after && !poisoned_.is_ok()) return poisoned_;
  if (Status s = f.log->write(f.size, frames, false); !s) return s;
  if (!index_out.empty()) {
    if (Status s = f.index->write(f.index_entries * kIndexEntryBytes, index_out, false); !s) return s;
    if (Status s = f.time_index->write(f.index_entries * kTimeIndexEntryBytes, time_out, false); !s) return s;
    f.index_entries += index_out.size() / kIndexEntryBytes;
  }
  f.next_index_at = next_index_at;
  f.max_timestamp = max_ts;
  f.last_indexed_at = last_indexed;
  f.last_frame_at = last_frame;
  f.last_frame_offset = last_offset;
  {
    std::lock_guard lock(files_mu_);
    f.size += frames.size();
  }
  end_offset_ += offsets;
  return sync_after ? sync() : Status::ok();
}

Result<std::size_t> DiskLog::apply_retention(std::uint64_t max_bytes, std::int64_t min_timestamp_ns) {
  std::int64_t cut = INT64_MIN;  // remove the files wholly below this offset
  {
    std::lock_guard lock(files_mu_);
    std::uint64_t total = 0;
    for (const auto& f : files_) total += f->size;
    for (std::size_t i = 0; i + 1 < files_.size(); ++i) {
      const File& f = *files_[i];
      const bool too_big = max_bytes > 0 && total > max_bytes;
      const bool too_old = f.max_timestamp != INT64_MIN && f.max_timestamp < min_timestamp_ns;
      if (!too_big && !too_old) break;  // oldest first: the rest are newer
      total -= f.size;
      cut = files_[i + 1]->base;
    }
  }
  if (cut == INT64_MIN) return std::size_t{0};
  return remove_before(cut);
}

Result<std::size_t> DiskLog::remove_before(std::int64_t offset) {
  std::size_t removed = 0;
  while (true) {
    std::unique_ptr<File> victim;
    {
      std::lock_guard lock(files_mu_);
      if (files_.size() < 2 || files_[1]->base > offset) break;
      victim = std::move(files_.front());
      files_.erase(files_.begin());
    }
    // Oldest first, the .log last: a crash in between leaves a log whose
    // first file has lost only its indexes, which are rebuilt.
    (void)fs_.remove(victim->index_path());
    (void)fs_.remove(victim->time_index_path());
    if (Status s = fs_.remove(victim->log_path()); !s) return s;
    ++removed;
  }
  if (removed > 0) {
    if (Status s = fs_.sync_dir(dir_); !s) return s;
  }
  return removed;
}

namespace {

// The frames of file `stem`.log (base offset `base`, `end` bytes long, whose
// frames end at offset `file_end_offset`) from the one holding `offset` on.
Result<DiskChunk> locate_in_file(io::FileSystem& fs, const std::string& stem, std::int64_t base, std::uint64_t end,
                                 std::int64_t file_end_offset, std::int64_t offset) {
  const std::string path = stem + kLogSuffix;
  auto mapped = fs.map(path, end);
  if (!mapped) return mapped.status();
  std::shared_ptr<io::MappedFile> file(std::move(*mapped));
  const std::span<const std::byte> bytes = file->bytes();
  // The index entry at or before `offset`, trusted only if its frame is intact there.
  std::uint64_t pos = kLogHeaderBytes;
  std::int64_t at_offset = base;
  // Read with pread, not mapped: the file's writer may cut its index (at
  // recovery) while this reader looks, and a mapping past a file's new end
  // faults (SIGBUS); a short read is only a smaller index.
  if (auto index = fs.open(stem + kIndexSuffix, io::OpenMode::kRead); index) {
    const auto entry = [&](std::uint64_t i, std::uint32_t* rel, std::uint32_t* position) {
      std::byte e[kIndexEntryBytes];
      auto got = (*index)->read(i * kIndexEntryBytes, e);
      if (!got || *got != kIndexEntryBytes) return false;
      *rel = load<std::uint32_t>(e);
      *position = load<std::uint32_t>(e + 4);
      return true;
    };
    const auto size = (*index)->size();
    std::uint64_t lo = 0, hi = size ? *size / kIndexEntryBytes : 0;  // entries [lo, hi)
    while (lo < hi) {
      const std::uint64_t mid = lo + (hi - lo) / 2;
      std::uint32_t rel = 0, position = 0;
      if (!entry(mid, &rel, &position)) {
        hi = mid;
        continue;
      }
      if (base + rel <= offset)
        lo = mid + 1;
      else
        hi = mid;
    }
    std::uint32_t rel = 0, p = 0;
    if (lo > 0 && entry(lo - 1, &rel, &p)) {
      std::uint64_t offsets = 0, aligned = 0;
      if (p % 8 == 0 && p >= kLogHeaderBytes && intact_frame(bytes, p, base + rel, 0, &offsets, &aligned)) {
        pos = p;
        at_offset = base + rel;
      }
    }
  }
  // Forward, frame by frame (lengths and counts checked; checksums are the reader's).
  while (true) {
    if (pos + kFrameHeaderSize > bytes.size())
      return Status(Code::kCorrupt, path + " byte " + std::to_string(pos) + ": the frames end before offset " +
                                        std::to_string(offset) + " (the file should hold offsets up to " +
                                        std::to_string(file_end_offset - 1) + ")");
    const std::byte* frame = bytes.data() + pos;
    const auto word = load<std::uint64_t>(frame);
    const std::uint64_t n = word == 0 ? 0 : frame_offsets(frame, word, bytes.size() - pos, at_offset);
    if (n == 0)
      return Status(Code::kCorrupt, path + " byte " + std::to_string(pos) + ": the frame at offset " +
                                        std::to_string(at_offset) + " does not decode");
    if (offset < at_offset + static_cast<std::int64_t>(n)) break;
    pos += align8(commit_length(word));
    at_offset += static_cast<std::int64_t>(n);
  }
  return DiskChunk{std::move(file), path, pos, end, at_offset};
}

}  // namespace

Result<DiskChunk> DiskLog::locate(std::int64_t offset) const {
  std::string stem;
  std::int64_t base = 0, file_end_offset = 0;
  std::uint64_t end = 0;
  {
    std::lock_guard lock(files_mu_);
    if (files_.empty() || offset < files_.front()->base || offset >= end_offset_)
      return Status(Code::kOffsetOutOfRange,
                    "offset " + std::to_string(offset) + " is not on disk (the log holds offsets " +
                        std::to_string(files_.empty() ? 0 : files_.front()->base) + " to " +
                        std::to_string(end_offset_ - 1) + ")");
    auto it = std::upper_bound(files_.begin(), files_.end(), offset,
                               [](std::int64_t o, const std::unique_ptr<File>& f) { return o < f->base; });
    const File& f = **(it - 1);
    stem = f.stem;
    base = f.base;
    end = f.size;
    file_end_offset = it == files_.end() ? end_offset_ : (*it)->base;
  }
  return locate_in_file(fs_, stem, base, end, file_end_offset, offset);
}

Result<std::vector<std::int64_t>> list_segment_files(io::FileSystem& fs, const std::string& dir) {
  auto names = fs.list(dir);
  if (!names) return names.status();
  std::vector<std::int64_t> bases;
  for (const std::string& name : *names)
    if (const std::int64_t b = base_of_name(name); b >= 0) bases.push_back(b);
  std::sort(bases.begin(), bases.end());
  return bases;
}

Result<std::int64_t> offset_for_time_on_disk(io::FileSystem& fs, const std::string& dir, std::int64_t timestamp_ns,
                                             std::int64_t limit) {
  auto bases = list_segment_files(fs, dir);
  if (!bases) return bases.status();
  for (std::size_t i = 0; i < bases->size(); ++i) {
    const std::int64_t base = (*bases)[i];
    if (base >= limit) break;
    const std::string stem = stem_of(dir, base);
    // Where to start in this file: the last time-index entry whose largest
    // timestamp so far is still before the target (none: the first frame).
    std::int64_t from = base;
    bool after_all = false;  // every entry is before the target: the file may still end with one after
    // pread, not a mapping: see locate_in_file().
    if (auto index = fs.open(stem + kTimeIndexSuffix, io::OpenMode::kRead); index) {
      const auto entry = [&](std::uint64_t k, std::int64_t* max_ts, std::uint32_t* rel) {
        std::byte e[kTimeIndexEntryBytes];
        auto got = (*index)->read(k * kTimeIndexEntryBytes, e);
        if (!got || *got != kTimeIndexEntryBytes) return false;
        *max_ts = load<std::int64_t>(e);
        *rel = load<std::uint32_t>(e + 8);
        return true;
      };
      const auto size = (*index)->size();
      const std::uint64_t entries = size ? *size / kTimeIndexEntryBytes : 0;
      std::uint64_t lo = 0, hi = entries;  // first entry with max >= target
      while (lo < hi) {
        const std::uint64_t mid = lo + (hi - lo) / 2;
        std::int64_t max_ts = 0;
        std::uint32_t rel = 0;
        if (!entry(mid, &max_ts, &rel) || max_ts >= timestamp_ns)
          hi = mid;
        else
          lo = mid + 1;
      }
      std::int64_t max_ts = 0;
      std::uint32_t rel = 0;
      if (lo > 0 && entry(lo - 1, &max_ts, &rel)) from = base + rel;
      after_all = lo == entries && entries > 0 && i + 1 < bases->size();
    }
    if (after_all) continue;  // a closed file whose last entry (its largest timestamp) is before the target
    const std::int64_t file_end = i + 1 < bases->size() ? std::min((*bases)[i + 1], limit) : limit;
    if (from >= file_end) continue;
    auto chunk = locate_on_disk(fs, dir, from, limit);
    if (!chunk) return chunk.status();
    const std::span<const std::byte> bytes = chunk->file->bytes();
    std::uint64_t pos = chunk->position;
    std::int64_t at = chunk->first_offset;
    while (at < file_end && pos + kFrameHeaderSize <= chunk->end) {
      const std::byte* frame = bytes.data() + pos;
      const auto word = load<std::uint64_t>(frame);
      const std::uint64_t n = word == 0 ? 0 : frame_offsets(frame, word, chunk->end - pos, at);
      if (n == 0) return Status(Code::kCorrupt, chunk->path + " byte " + std::to_string(pos) + ": the frame at offset " +
                                                    std::to_string(at) + " does not decode");
      const std::uint32_t kind = commit_kind(word);
      const std::int64_t newest = kind == kKindBatch ? load<std::int64_t>(frame + kBatchMaxTimestamp)
                                  : kind == kKindRecord ? frame_timestamp(frame, word)
                                                        : INT64_MIN;
      if (newest >= timestamp_ns) return at;
      pos += align8(commit_length(word));
      at += static_cast<std::int64_t>(n);
    }
  }
  return limit;
}

Result<DiskChunk> locate_on_disk(io::FileSystem& fs, const std::string& dir, std::int64_t offset, std::int64_t limit) {
  auto bases = list_segment_files(fs, dir);
  if (!bases) return bases.status();
  if (bases->empty() || offset < bases->front() || offset >= limit)
    return Status(Code::kOffsetOutOfRange,
                  "offset " + std::to_string(offset) + " is not on disk (the files hold offsets " +
                      std::to_string(bases->empty() ? limit : bases->front()) + " to " + std::to_string(limit - 1) + ")");
  auto it = std::upper_bound(bases->begin(), bases->end(), offset);
  const std::int64_t base = *(it - 1);
  const std::string stem = stem_of(dir, base);
  auto file = fs.open(stem + kLogSuffix, io::OpenMode::kRead);
  if (!file) return file.status();
  auto size = (*file)->size();
  if (!size) return size.status();
  return locate_in_file(fs, stem, base, *size, it == bases->end() ? limit : *it, offset);
}

Result<DiskRead> read_chunk(DiskChunk& chunk, std::int32_t partition, std::int64_t* next_offset, std::uint32_t* inner,
                            RecordView* out, std::size_t max, bool verify, std::int64_t limit) {
  DiskRead r;
  const std::span<const std::byte> bytes = chunk.file->bytes();
  while (r.views < max && *next_offset < limit && chunk.position + kFrameHeaderSize <= chunk.end) {
    const std::byte* frame = bytes.data() + chunk.position;
    const auto word = load<std::uint64_t>(frame);
    const Decoded d = word == 0 ? Decoded{FrameCheck::kMalformed, 0, 0, 0}
                                : decode_frame(frame, word, chunk.end - chunk.position, partition, *next_offset, *inner,
                                               out + r.views, max - r.views, verify);
    if (d.check != FrameCheck::kOk || d.offsets == 0) {
      if (r.views > 0 || r.abandoned > 0) return r;  // delivered first; the next call reports it
      return Status(Code::kCorrupt,
                    chunk.path + " byte " + std::to_string(chunk.position) + ": the frame at offset " +
                        std::to_string(*next_offset) +
                        (d.check == FrameCheck::kChecksum ? " fails its checksum" : " is malformed") +
                        "; the records before it are intact");
    }
    if (d.compressed) {
      r.compressed = true;
      break;
    }
    r.views += d.views;
    r.abandoned += d.abandoned;
    // A batch may be taken in part: stay on it, counting the records taken.
    const std::uint64_t left = d.offsets;  // offsets from *next_offset to the frame's end
    if (d.views < left && d.abandoned == 0) {
      *next_offset += d.views;
      *inner += static_cast<std::uint32_t>(d.views);
      break;
    }
    *next_offset += static_cast<std::int64_t>(left);
    *inner = 0;
    chunk.position += align8(commit_length(word));
  }
  return r;
}

}  // namespace rill::log
