// The shared-memory object of one consumer group, "rill.<ns>.~group.<G>"
// (group_object_name()): its lock, its members' liveness slots and its
// state (core/group/group_format.h), twice. Prose spec: doc/group_format.md.
//
//   0        GroupObjectHeader (4096 bytes)
//   4096     kGroupSlots x GroupSlot (64 bytes each)
//   20480    state buffer 0 (kGroupStateBytes)
//   20480 + kGroupStateBytes   state buffer 1
//
// The state is written only under the lock, into the buffer that is not
// active, and then made active: a writer that dies half way leaves the
// previous state whole. The slots and the generation word are read without
// the lock (each word on its own; nothing in them is trusted further than a
// bounds check).
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/log/doorbell.h"

namespace rill::client::group_object {

inline constexpr std::uint32_t kMagic = 0x4f474c52;  // "RLGO"
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::uint32_t kSlots = 256;  // group::kMaxMembers
inline constexpr std::uint64_t kStateBytes = 2u << 20;
inline constexpr std::size_t kMaxGroupNameBytes = 249;  // the header's room; names are at most kMaxGroupIdBytes
// A group's name: its commit log, "<name>.commits", must fit a file name
// (255 bytes), as Kafka's 249-byte topic names fit "<topic>-<partition>".
inline constexpr std::size_t kMaxGroupIdBytes = 247;

struct alignas(64) Header {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t reserved;
  std::uint32_t slot_count;    // kSlots
  std::uint32_t name_length;   // bytes of `name`
  std::uint64_t state_bytes;   // kStateBytes: one buffer
  char name[kMaxGroupNameBytes + 7];  // the group's name (not NUL-terminated)
  std::uint8_t pad0[320 - 24 - (kMaxGroupNameBytes + 7)];
  pthread_mutex_t lock;        // at 320: robust, process-shared (ipc/robust_mutex.h)
  std::uint8_t pad1[384 - 320 - sizeof(pthread_mutex_t)];
  std::atomic<std::uint32_t> active;         // 384: the buffer holding the state, 0 or 1
  std::atomic<std::uint32_t> used[2];        // 388: bytes of each buffer's encoding
  std::atomic<std::int32_t> generation;      // 396: the state's generation, after each store
  std::atomic<std::uint32_t> changes;        // 400: bumped by each store of the state
  std::atomic<std::uint32_t> deleted;        // 404: 1 once `rill group delete` removed it (under the lock)
  std::uint64_t log_end;                     // 408: a durable group's commit log: where its intact records end (under the lock)
  std::uint8_t pad2[448 - 416];
  log::Doorbell changed;                     // 448: rung after each store of the state
  std::uint8_t pad3[4096 - 512];
};
static_assert(sizeof(Header) == 4096);
static_assert(offsetof(Header, lock) == 320);
static_assert(offsetof(Header, active) == 384);
static_assert(offsetof(Header, generation) == 396);
static_assert(offsetof(Header, changes) == 400);
static_assert(offsetof(Header, log_end) == 408);
static_assert(offsetof(Header, changed) == 448);

// A member's liveness, written by the member's process without the lock.
struct alignas(64) Slot {
  std::atomic<std::uint64_t> process;      // ipc::ProcessId::packed() of the member's process; 0: free
  std::atomic<std::uint64_t> member_seq;   // the member's sequence number (its id's last part)
  std::atomic<std::int64_t> heartbeat_ns;  // CLOCK_MONOTONIC of its last heartbeat
  std::atomic<std::int64_t> polled_ns;     // CLOCK_MONOTONIC of its last poll
  std::uint8_t pad[32];
};
static_assert(sizeof(Slot) == 64);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

inline constexpr std::size_t kSlotsOffset = 4096;
inline constexpr std::size_t kStateOffset = kSlotsOffset + kSlots * sizeof(Slot);
inline constexpr std::size_t kObjectBytes = kStateOffset + 2 * kStateBytes;

}  // namespace rill::client::group_object
