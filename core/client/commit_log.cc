#include "core/client/commit_log.h"

#include <xxhash.h>

#include <algorithm>

#include "core/group/byte_codec.h"
#include "io/file_system.h"

namespace rill::client {

namespace {

constexpr std::string_view kSuffix = ".commits";
constexpr std::size_t kRecordHeaderBytes = 12;  // u32 body length, u64 XXH3 of the body
constexpr std::size_t kMaxCommitLogBytes = std::size_t{256} << 20;

void put_record(group::Writer& w, const group::TopicPartition& tp, const group::CommittedOffset& c) {
  group::Writer body;
  body.str(tp.topic);
  body.i32(tp.partition);
  body.i64(c.offset);
  body.str(c.metadata);
  body.i32(c.generation);
  body.i64(c.commit_ms);
  const std::vector<std::byte>& b = body.bytes();
  w.u32(static_cast<std::uint32_t>(b.size()));
  w.u64(XXH3_64bits(b.data(), b.size()));
  w.bytes().insert(w.bytes().end(), b.begin(), b.end());
}

std::vector<std::byte> file_header() {
  group::Writer w;
  w.u32(kCommitLogMagic);
  w.u16(kCommitLogVersion);
  w.u16(0);
  w.u64(0);
  return std::move(w.bytes());
}

}  // namespace

std::string groups_dir(const std::string& data_dir) { return data_dir + "/groups"; }

std::string commit_log_path(const std::string& data_dir, const std::string& group) {
  return groups_dir(data_dir) + "/" + group + std::string(kSuffix);
}

Result<CommittedOffsets> read_commit_log(const std::string& data_dir, const std::string& group,
                                         std::uint64_t* end) {
  if (end != nullptr) *end = 0;
  io::FileSystem& fs = io::file_system();
  const std::string path = commit_log_path(data_dir, group);
  auto exists = fs.exists(path);
  if (!exists) return exists.status();
  CommittedOffsets out;
  if (!*exists) return out;
  // Bounded: a hostile file must not make this process allocate without end.
  auto read = io::read_small_file(fs, path, kMaxCommitLogBytes);
  if (!read) return read.status();
  const std::vector<std::byte>& bytes = *read;
  const auto cut = [&](std::uint64_t at) -> Status {
    auto file = fs.open(path, io::OpenMode::kWrite);
    if (!file) return file.status();
    return (*file)->truncate(at);
  };
  const auto corrupt = [&](const std::string& what, std::size_t at) {
    return Status(Code::kCorrupt, path + " byte " + std::to_string(at) + ": " + what +
                                      "; the group's committed offsets cannot be trusted (delete the group: rill group "
                                      "delete " + group + ")");
  };
  group::Reader header(bytes);
  std::uint32_t magic = 0;
  std::uint16_t version = 0, reserved16 = 0;
  std::uint64_t reserved = 0;
  if (!header.u32(&magic) || !header.u16(&version) || !header.u16(&reserved16) || !header.u64(&reserved)) {
    // Made but never written whole: nothing was ever committed in it.
    if (Status s = cut(0); !s) return s;
    return out;
  }
  if (magic != kCommitLogMagic || version != kCommitLogVersion || reserved16 != 0 || reserved != 0)
    return corrupt("not a rill commit log (bad header)", 0);
  std::size_t at = kCommitLogHeaderBytes;
  while (at < bytes.size()) {
    group::Reader r(std::span<const std::byte>(bytes).subspan(at));
    std::uint32_t length = 0;
    std::uint64_t sum = 0;
    // A bad record is a torn write if it is the last (it runs to or past
    // the end) or only zeros follow it (blocks a crash left unwritten);
    // anything else is damage.
    const auto torn = [&](std::size_t next) {
      return next >= bytes.size() ||
             std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(at), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
    };
    // A record that runs past the end of the file is the last: torn.
    if (!r.u32(&length) || !r.u64(&sum) || length > bytes.size() - at - kRecordHeaderBytes) break;
    const std::span<const std::byte> body = std::span(bytes).subspan(at + kRecordHeaderBytes, length);
    if (XXH3_64bits(body.data(), body.size()) != sum) {
      if (torn(at + kRecordHeaderBytes + length)) break;
      return corrupt("a record fails its checksum", at);
    }
    group::Reader b(body);
    group::TopicPartition tp;
    group::CommittedOffset c;
    if (!b.str(&tp.topic, group::kMaxNameBytes) || tp.topic.empty() || !b.i32(&tp.partition) || tp.partition < 0 ||
        !b.i64(&c.offset) || c.offset < 0 || !b.str(&c.metadata, group::kMaxMetadataBytes) || !b.i32(&c.generation) ||
        !b.i64(&c.commit_ms) || !b.done())
      return corrupt("a record does not decode", at);
    out[tp] = std::move(c);
    at += kRecordHeaderBytes + length;
  }
  if (at < bytes.size())
    if (Status s = cut(at); !s) return s;
  if (end != nullptr) *end = at;
  return out;
}

Status append_commit_log(const std::string& data_dir, const std::string& group, const CommittedOffsets& changed,
                         const CommittedOffsets& all, unsigned permissions, std::uint64_t* end) {
  if (changed.empty()) return Status::ok();
  io::FileSystem& fs = io::file_system();
  const std::string path = commit_log_path(data_dir, group);
  if (Status s = fs.make_dirs(groups_dir(data_dir), permissions == 0660 ? 0770 : 0700); !s) return s;
  auto file = fs.open(path, io::OpenMode::kCreateOrWrite, permissions);
  if (!file) return file.status();
  std::uint64_t at = *end;
  auto size = (*file)->size();
  if (!size) return size.status();
  if (at > *size)
    return Status(Code::kCorrupt, path + " holds " + std::to_string(*size) + " bytes, fewer than the " +
                                      std::to_string(at) + " its group recorded as committed: removed or damaged "
                                      "from outside; nothing was committed");
  // Bytes past the intact records are what reached the file of an append
  // that failed (or whose process died before it returned): cut, so the
  // log never holds a damaged record between good ones.
  if (*size > at)
    if (Status s = (*file)->truncate(at); !s) return s.with_context("committing offsets of group '" + group + "'");
  group::Writer w;
  if (at < kCommitLogHeaderBytes) {
    // New (or never written whole): the header first, and the directory entry synced.
    std::vector<std::byte> h = file_header();
    w.bytes().insert(w.bytes().end(), h.begin(), h.end());
    at = 0;
    if (Status s = fs.sync_dir(groups_dir(data_dir)); !s) return s;
  }
  for (const auto& [tp, c] : changed) put_record(w, tp, c);
  if (Status s = (*file)->write(at, w.bytes(), true); !s)
    return s.with_context("committing offsets of group '" + group + "' (nothing was committed)");
  const std::uint64_t now = at + w.bytes().size();
  *end = now;
  // Compaction: one record per partition, replacing the file whole.
  group::Writer live;
  for (const auto& [tp, c] : all) put_record(live, tp, c);
  if (now > kCompactBytes && now > 4 * (kCommitLogHeaderBytes + live.bytes().size())) {
    std::vector<std::byte> whole = file_header();
    whole.insert(whole.end(), live.bytes().begin(), live.bytes().end());
    // The appended records are on disk already: a failed compaction leaves them be.
    if (io::write_file_atomically(fs, path, whole, permissions).is_ok()) *end = whole.size();
  }
  return Status::ok();
}

Status remove_commit_log(const std::string& data_dir, const std::string& group) {
  io::FileSystem& fs = io::file_system();
  const std::string path = commit_log_path(data_dir, group);
  auto exists = fs.exists(path);
  if (!exists) return exists.status();
  if (!*exists) return Status::ok();
  if (Status s = fs.remove(path); !s) return s;
  return fs.sync_dir(groups_dir(data_dir));
}

std::vector<std::string> commit_log_groups(const std::string& data_dir) {
  std::vector<std::string> out;
  auto names = io::file_system().list(groups_dir(data_dir));
  if (!names) return out;
  for (const std::string& n : *names)
    if (n.size() > kSuffix.size() && n.ends_with(kSuffix)) out.push_back(n.substr(0, n.size() - kSuffix.size()));
  return out;
}

}  // namespace rill::client
