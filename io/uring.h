// How this process writes files: io_uring (liburing) where the kernel
// allows it, pwrite(2) + fdatasync(2) where it does not.
//
// The first write decides, once per process: RILL_IO=posix chooses the
// fallback; otherwise an io_uring is set up, and a kernel that refuses it
// (EPERM: io_uring_disabled or a seccomp filter; ENOSYS: built without it)
// gets the fallback. Either fallback prints one line on stderr saying why.
// Both do the same job: the bytes reach the file in full or the call fails,
// and a sync is an fdatasync of the file.
//
// With io_uring a write and its sync are one submission (the sync linked
// after the write, IOSQE_IO_LINK), so `durability=fsync` costs one system
// call per group commit. Each thread gets its own ring on first use.
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace rill::io {

enum class WriteBackend : std::uint8_t { kUring, kPosix };

// The backend this process writes with (decided on the first call).
WriteBackend write_backend() noexcept;
std::string_view write_backend_name(WriteBackend b) noexcept;  // "io_uring", "pwrite"
// Why the fallback was chosen ("RILL_IO=posix", "io_uring_setup: Operation
// not permitted"); empty with io_uring.
std::string_view write_backend_reason() noexcept;

// Writes all of `bytes` at `position` of `fd`, continuing short writes, then
// with `sync` fdatasyncs it. Returns 0, or the errno of the first failure
// (a prefix of `bytes` may have been written).
int write_fd(int fd, std::uint64_t position, std::span<const std::byte> bytes, bool sync) noexcept;

// fdatasync(2) through the same backend; 0 or errno.
int sync_fd(int fd) noexcept;

}  // namespace rill::io
