// LineReader: the lines of a file descriptor, in memory bounded by the
// longest line the caller accepts.
//
// Input is read in chunks of kChunkBytes with read(2); a line that fits in
// one chunk is returned as a view into it, a longer one is gathered into a
// buffer that never grows past max_line bytes: a line longer than that is
// reported as soon as max_line + 1 of its bytes were read, without reading
// the rest of it (`rill produce < /dev/zero` must not grow without bound).
//
// Thread safety: one thread. The fd is not owned.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "rill/status.h"

namespace rill::cli {

class LineReader {
 public:
  static constexpr std::size_t kChunkBytes = 64 << 10;

  enum class Next {
    kLine,     // *line is the next line, without its '\n'
    kTooLong,  // the next line has more than max_line bytes (not counting its '\n'); it is not consumed
    kEnd,      // no more input
    kError,    // read(2) failed: error() is its errno
  };

  LineReader(int fd, std::size_t max_line)
      : fd_(fd), max_line_(max_line), chunk_(std::make_unique<char[]>(kChunkBytes)) {}

  // The next line: every line ends at '\n', and at the end of the input a
  // last line without '\n' (if it has any bytes) is a line too. *line stays
  // valid until the next call. After kTooLong, kEnd or kError, only
  // count_rest() may be called.
  Next next(std::string_view* line) {
    gathered_.clear();
    for (;;) {
      if (begin_ < end_) {
        const char* start = chunk_.get() + begin_;
        const std::size_t available = end_ - begin_;
        const auto* newline = static_cast<const char*>(std::memchr(start, '\n', available));
        const std::size_t n = newline ? static_cast<std::size_t>(newline - start) : available;
        if (gathered_.size() + n > max_line_) {
          cut_ = true;
          return Next::kTooLong;
        }
        if (newline) {
          begin_ += n + 1;
          if (gathered_.empty()) {
            *line = std::string_view(start, n);
          } else {
            gathered_.append(start, n);
            *line = gathered_;
          }
          return Next::kLine;
        }
        gathered_.append(start, n);
        begin_ = end_;
      }
      if (eof_) {
        if (gathered_.empty()) return Next::kEnd;
        *line = gathered_;
        return Next::kLine;
      }
      if (!fill()) return Next::kError;
    }
  }

  // Reads the input to its end and returns how many lines it held after the
  // last one next() returned (a line next() called too long counts as one),
  // storing none of them. Use only on an input known to end (a regular file).
  Result<std::uint64_t> count_rest() {
    std::uint64_t lines = 0;
    bool in_line = cut_;  // within a line counted already or still to count
    if (cut_) lines = 1;
    for (;;) {
      while (begin_ < end_) {
        const char* start = chunk_.get() + begin_;
        const auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
        if (!newline) {
          if (!in_line) ++lines;  // a line starts here
          in_line = true;
          begin_ = end_;
          break;
        }
        if (!in_line) ++lines;
        in_line = false;
        begin_ += static_cast<std::size_t>(newline - start) + 1;
      }
      if (eof_) return lines;
      if (!fill()) return Status(Code::kIoError, std::string("reading standard input: ") + std::strerror(error_));
    }
  }

  // True if next() can answer without reading the input (a whole line, or
  // the end, is in hand): a caller that batches lines sends what it holds
  // before next() would wait for more input.
  bool ready() const noexcept {
    return eof_ || (begin_ < end_ && std::memchr(chunk_.get() + begin_, '\n', end_ - begin_) != nullptr);
  }

  int error() const noexcept { return error_; }

 private:
  // Reads the next chunk (retrying EINTR); false on a read error. Sets eof_ at the end.
  bool fill() {
    for (;;) {
      const ssize_t n = ::read(fd_, chunk_.get(), kChunkBytes);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error_ = errno;
        return false;
      }
      begin_ = 0;
      end_ = static_cast<std::size_t>(n);
      eof_ = n == 0;
      return true;
    }
  }

  int fd_;
  std::size_t max_line_;
  std::unique_ptr<char[]> chunk_;
  std::size_t begin_ = 0, end_ = 0;  // unread bytes of the chunk
  std::string gathered_;             // the current line's bytes from earlier chunks (<= max_line_)
  bool eof_ = false;
  bool cut_ = false;  // next() stopped inside a line that is too long
  int error_ = 0;
};

}  // namespace rill::cli
