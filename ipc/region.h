// Region: a move-only owner of one mapped range of bytes.
//
// A partition is laid out in a Region; where the bytes come from is the only
// difference between rill's modes:
//   - anonymous memory (in-process)          -> create_anonymous_region
//   - a named shared-memory object (IPC)     -> ipc/shm_region.h
//   - segment files (durable; a later issue) -> io/
// Code above the region never knows which backing it holds.
//
// Thread safety: bytes() may be called from any thread; the bytes themselves
// are shared memory and their users synchronise through atomics in them.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "rill/status.h"

namespace rill::ipc {

class Region {
 public:
  virtual ~Region() = default;
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  std::span<std::byte> bytes() const noexcept { return bytes_; }
  // "anonymous", "shm:/rill.default.orders.0", ...: for messages.
  virtual std::string describe() const = 0;

 protected:
  Region() = default;
  std::span<std::byte> bytes_;
};

// Maps `size` bytes of private anonymous memory and writes every page once, so
// that no first-touch page fault lands on the hot path. The bytes are zero.
Result<std::unique_ptr<Region>> create_anonymous_region(std::size_t size);

// Page size of this machine.
std::size_t page_size() noexcept;

}  // namespace rill::ipc
