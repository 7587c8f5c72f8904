// OutputBuffer: stdout for commands that print many records.
//
// Records are appended to one growing buffer and written with write(2) only
// when the caller flushes: after each poll that drained the log (idle), or
// once the buffer passes flush_threshold(). Because bytes reach the fd only on
// flush(), a caller can take back what it appended since a mark() — the
// consumer does so when the ring reused a batch's bytes while it printed them.
//
// Thread safety: one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rill/status.h"

namespace rill::cli {

class OutputBuffer {
 public:
  // Writes to `fd` (not owned).
  explicit OutputBuffer(int fd, std::size_t flush_threshold = 1 << 20);

  void append(std::string_view bytes) { buffer_.append(bytes); }
  void append(char c) { buffer_.push_back(c); }
  void append_int(std::int64_t value);

  std::size_t mark() const noexcept { return buffer_.size(); }
  // Drops everything appended after `mark`. REQUIRES: no flush() since mark().
  void rollback(std::size_t mark) { buffer_.resize(mark); }
  bool over_threshold() const noexcept { return buffer_.size() >= threshold_; }

  // Writes the buffer out (retrying short writes and EINTR). kIoError on
  // failure; closed() tells a reader that went away (EPIPE) from a real error.
  Status flush();
  bool closed() const noexcept { return closed_; }

 private:
  int fd_;
  std::size_t threshold_;
  std::string buffer_;
  bool closed_ = false;
};

}  // namespace rill::cli
