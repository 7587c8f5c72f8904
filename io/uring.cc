#include "io/uring.h"

#include <liburing.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace rill::io {
namespace {

// One submission writes at most this much (the SQE's length is 32 bits).
constexpr std::size_t kMaxChunk = std::size_t{1} << 30;
constexpr unsigned kQueueDepth = 8;

struct Decision {
  WriteBackend backend = WriteBackend::kUring;
  std::string reason;
};

// Set up once: whether this process may use io_uring at all.
const Decision& decision() noexcept {
  static const Decision d = [] {
    Decision out;
    const char* want = std::getenv("RILL_IO");
    if (want != nullptr && std::string_view(want) == "posix") {
      out = {WriteBackend::kPosix, "RILL_IO=posix"};
    } else {
      io_uring probe;
      const int rc = io_uring_queue_init(kQueueDepth, &probe, 0);
      if (rc < 0) {
        out = {WriteBackend::kPosix, std::string("io_uring_setup: ") + std::strerror(-rc)};
      } else {
        io_uring_queue_exit(&probe);
      }
    }
    if (out.backend == WriteBackend::kPosix)
      std::fprintf(stderr, "rill: files are written with pwrite and fdatasync, not io_uring (%s)\n",
                   out.reason.c_str());
    return out;
  }();
  return d;
}

// This thread's ring; null if it could not be set up (then the call falls
// back to pwrite, which does the same job). A forked child gets a ring of its
// own: the one it inherits shares its queues with the parent's, and a
// submission through it would corrupt the parent's view of them.
io_uring* thread_ring() noexcept {
  struct Ring {
    io_uring ring{};
    bool ready = false;
    pid_t owner = 0;
    ~Ring() {
      if (ready && owner == ::getpid()) io_uring_queue_exit(&ring);
    }
  };
  thread_local Ring r;
  const pid_t me = ::getpid();
  if (r.owner != me) {
    // An inherited ring is dropped (its mapping and descriptor in this
    // process only); the parent's stays as it was.
    if (r.ready) io_uring_queue_exit(&r.ring);
    r.ready = io_uring_queue_init(kQueueDepth, &r.ring, 0) == 0;
    r.owner = me;
  }
  return r.ready ? &r.ring : nullptr;
}

int posix_write(int fd, std::uint64_t position, std::span<const std::byte> bytes, bool sync) noexcept {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const std::size_t chunk = std::min(bytes.size() - done, kMaxChunk);
    const ssize_t n = ::pwrite(fd, bytes.data() + done, chunk, static_cast<off_t>(position + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;  // no progress: do not spin
    done += static_cast<std::size_t>(n);
  }
  if (sync && ::fdatasync(fd) != 0) return errno;
  return 0;
}

// Submits what is queued and reaps `expected` completions into `results`
// (indexed by user_data). Returns 0 or errno of the ring itself.
int submit_and_reap(io_uring* ring, unsigned expected, int* results) noexcept {
  int rc = io_uring_submit_and_wait(ring, expected);
  while (rc == -EINTR || (rc >= 0 && io_uring_sq_ready(ring) > 0)) rc = io_uring_submit_and_wait(ring, expected);
  if (rc < 0) return -rc;
  for (unsigned reaped = 0; reaped < expected;) {
    io_uring_cqe* cqe = nullptr;
    const int w = io_uring_wait_cqe(ring, &cqe);
    if (w == -EINTR) continue;
    if (w < 0) return -w;
    const auto slot = static_cast<std::size_t>(io_uring_cqe_get_data64(cqe));
    if (slot < 2) results[slot] = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    ++reaped;
  }
  return 0;
}

int uring_write(io_uring* ring, int fd, std::uint64_t position, std::span<const std::byte> bytes, bool sync) noexcept {
  std::size_t done = 0;
  // A sync with nothing to write still runs (the loop body runs once).
  do {
    const std::size_t chunk = std::min(bytes.size() - done, kMaxChunk);
    const bool last = done + chunk == bytes.size();
    const bool link_sync = sync && last;
    unsigned queued = 0;
    int results[2] = {0, 0};
    if (chunk > 0) {
      io_uring_sqe* w = io_uring_get_sqe(ring);
      io_uring_prep_write(w, fd, bytes.data() + done, static_cast<unsigned>(chunk), position + done);
      io_uring_sqe_set_data64(w, 0);
      // The sync runs only if the write completed in full; a short write
      // cancels it (-ECANCELED), and the rest is written again below.
      if (link_sync) w->flags |= IOSQE_IO_LINK;
      ++queued;
    }
    if (link_sync) {
      io_uring_sqe* s = io_uring_get_sqe(ring);
      io_uring_prep_fsync(s, fd, IORING_FSYNC_DATASYNC);
      io_uring_sqe_set_data64(s, 1);
      ++queued;
    }
    if (queued == 0) return 0;
    if (const int err = submit_and_reap(ring, queued, results); err != 0) return err;
    if (chunk > 0) {
      if (results[0] < 0) {
        if (results[0] == -EINTR || results[0] == -EAGAIN) continue;
        return -results[0];
      }
      if (results[0] == 0) return EIO;  // no progress: do not spin
      done += static_cast<std::size_t>(results[0]);
      if (static_cast<std::size_t>(results[0]) < chunk) continue;  // short: the sync was cancelled
    }
    if (link_sync && results[1] < 0) return -results[1];
  } while (done < bytes.size());
  return 0;
}

}  // namespace

WriteBackend write_backend() noexcept { return decision().backend; }

std::string_view write_backend_name(WriteBackend b) noexcept {
  return b == WriteBackend::kUring ? "io_uring" : "pwrite";
}

std::string_view write_backend_reason() noexcept { return decision().reason; }

int write_fd(int fd, std::uint64_t position, std::span<const std::byte> bytes, bool sync) noexcept {
  if (decision().backend == WriteBackend::kUring)
    if (io_uring* ring = thread_ring()) return uring_write(ring, fd, position, bytes, sync);
  return posix_write(fd, position, bytes, sync);
}

int sync_fd(int fd) noexcept { return write_fd(fd, 0, {}, true); }

}  // namespace rill::io
