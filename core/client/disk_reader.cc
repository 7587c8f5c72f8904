#include "core/client/disk_reader.h"

#include <cstdio>
#include <cstring>
#include <functional>

#include "core/log/frame_codec.h"
#include "core/log/record_format.h"

namespace rill::client {

std::int64_t disk_start_offset(const std::string& dir) {
  auto bases = log::list_segment_files(io::file_system(), dir);
  return bases && !bases->empty() ? bases->front() : -1;
}

std::uint64_t disk_bytes(const std::string& dir) {
  io::FileSystem& fs = io::file_system();
  auto bases = log::list_segment_files(fs, dir);
  if (!bases) return 0;
  std::uint64_t total = 0;
  char name[32];
  for (const std::int64_t base : *bases) {
    std::snprintf(name, sizeof name, "/%020lld.log", static_cast<long long>(base));
    if (auto file = fs.open(dir + name, io::OpenMode::kRead); file)
      if (auto size = (*file)->size(); size) total += *size;
  }
  return total;
}

Status DiskCursor::seek(std::int64_t offset, std::int64_t limit) {
  auto chunk = log::locate_on_disk(io::file_system(), dir_, offset, limit);
  if (!chunk) return chunk.status();
  next_ = offset;
  inner_ = 0;
  if (chunk->first_offset < offset) {
    // Inside a frame: a batch is read from `offset` on; an abandoned claim
    // holds no record, so the reader starts at its first offset and passes it.
    std::uint64_t word;
    std::memcpy(&word, chunk->file->bytes().data() + chunk->position, sizeof word);
    if (log::commit_kind(word) == log::kKindBatch)
      inner_ = static_cast<std::uint32_t>(offset - chunk->first_offset);
    else
      next_ = chunk->first_offset;
  }
  chunk_ = std::move(*chunk);
  return Status::ok();
}

Result<DiskCursor::Read> DiskCursor::read(RecordView* out, std::size_t max, std::int64_t limit, bool verify,
                                          std::uint32_t max_frame_bytes, BatchInflater& inflater,
                                          BatchInflater::Hold& hold,
                                          std::vector<std::shared_ptr<io::MappedFile>>& keep) {
  Read r;
  while (r.views < max && next_ < limit) {
    if (!chunk_ || chunk_->position >= chunk_->end) {
      // The next file (or more of this one, if it has grown).
      auto chunk = log::locate_on_disk(io::file_system(), dir_, next_, limit);
      if (!chunk) return chunk.status();
      if (chunk_ && chunk->path == chunk_->path && chunk->position == chunk_->position && chunk->end == chunk_->end)
        break;  // nothing more yet
      chunk_ = std::move(*chunk);
    }
    auto got = log::read_chunk(*chunk_, partition_, &next_, &inner_, out + r.views, max - r.views, verify, limit);
    if (!got) {
      if (r.views > 0 || r.abandoned > 0) return r;  // delivered first; the next read reports it
      return got.status();
    }
    // The views point into the file's mapping (a compressed batch's records
    // too: their frame is the batch's, for verify_checksum()): it stays
    // mapped until the next poll, whatever file the cursor moves on to.
    if (got->views > 0 || got->abandoned > 0 || got->compressed) keep.push_back(chunk_->file);
    r.abandoned += got->abandoned;
    if (got->compressed) {
      // out[r.views + got->views] stands for a compressed batch at the
      // chunk's position: decompressed through the consumer's inflater, with
      // a cursor that names this file's bytes (generation: the file).
      r.views += got->views;
      const RecordView batch = out[r.views];
      const log::ReadCursor at{.generation = (std::uint64_t{1} << 63) | std::hash<std::string>{}(chunk_->path),
                               .next_offset = next_,
                               .position = static_cast<std::uint32_t>(chunk_->position),
                               .inner = inner_};
      const BatchInflater::Inflated inflated =
          inflater.inflate(batch, at, max_frame_bytes, r.views > 0, &hold, out + r.views, max - r.views);
      if (inflated.deferred) return r;
      if (!inflated.status.is_ok()) {
        if (r.views > 0 || r.abandoned > 0) return r;
        return inflated.status.with_context(chunk_->path + " byte " + std::to_string(chunk_->position));
      }
      next_ += static_cast<std::int64_t>(inflated.views);
      r.views += inflated.views;
      if (inflated.finished) {
        chunk_->position += log::align_frame(batch.frame_size());
        inner_ = 0;
      } else {
        inner_ += static_cast<std::uint32_t>(inflated.views);
      }
      continue;
    }
    r.views += got->views;
    if (got->views == 0 && got->abandoned == 0 && chunk_->position < chunk_->end && next_ < limit) break;
  }
  return r;
}

}  // namespace rill::client
