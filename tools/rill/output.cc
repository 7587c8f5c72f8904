#include "tools/rill/output.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace rill::cli {

OutputBuffer::OutputBuffer(int fd, std::size_t flush_threshold) : fd_(fd), threshold_(flush_threshold) {
  buffer_.reserve(flush_threshold + (64 << 10));
}

void OutputBuffer::append_int(std::int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  (void)ec;  // 24 chars hold any int64
  buffer_.append(digits, end);
}

Status OutputBuffer::flush() {
  if (closed_) return Status(Code::kIoError, "writing to standard output: the reader closed it");
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      buffer_.clear();
      if (err == EPIPE) {
        closed_ = true;
        return Status(Code::kIoError, "writing to standard output: the reader closed it");
      }
      return Status(Code::kIoError, std::string("writing to standard output: ") + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  buffer_.clear();
  return Status::ok();
}

}  // namespace rill::cli
