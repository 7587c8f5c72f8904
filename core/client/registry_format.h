// Layout of a namespace's topic registry ("rill.<namespace>.registry").
// The prose specification is doc/registry_format.md; keep the two in step.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/log/partition_ring.h"
#include "ipc/robust_mutex.h"

namespace rill::registry {

inline constexpr std::uint64_t kMagic = 0x3147455254534c52ull;  // "RLSTREG1" in memory order
// Version 2 added object_mode and group_id. A version 1 registry is read as
// version 2 with both zero: private to its owner. A version 1 build refuses a
// version 2 registry, so it cannot create owner-only objects in a namespace
// that is open to a group.
// Version 3 added the data folder (durable namespaces) and the entries'
// flags; a version 2 build refuses it, so it never rolls a durable topic's
// ring over records its files lack.
inline constexpr std::uint32_t kVersion = 3;
inline constexpr std::uint32_t kOldestReadableVersion = 1;
inline constexpr std::uint32_t kCapacity = 1024;  // topics per namespace
inline constexpr std::size_t kMaxNameBytes = 249;
inline constexpr std::size_t kMaxDataDirBytes = 2048;

enum EntryState : std::uint32_t {
  kFree = 0,
  kCreating = 1,  // partitions being made; rolled back if the creator dies
  kReady = 2,
  kDeleting = 3,  // partitions being removed; finished by the next locker if the deleter dies
};

// Who may use the namespace's objects (Header::object_mode).
inline constexpr std::uint32_t kOwnerOnlyMode = 0600;
inline constexpr std::uint32_t kGroupMode = 0660;  // and owned by group_id

struct alignas(64) Header {
  std::atomic<std::uint64_t> magic;  // stored last at initialisation (release)
  std::uint32_t version;
  std::uint32_t capacity;
  std::uint64_t next_incarnation;  // guarded by lock
  // Set once by the creator, before magic. Every object of the namespace -
  // this one and each topic's partitions, whoever creates them - gets this
  // mode and, with kGroupMode, this group. 0 (version 1): kOwnerOnlyMode.
  std::uint32_t object_mode;
  std::uint32_t group_id;  // a gid when object_mode is kGroupMode, else 0
  // Set once by the creator, before magic: the process the namespace belongs
  // to (ipc::ProcessId::packed(); SharedOptions::private_to_process), whose
  // death lets Namespace::gc() remove it; 0 (and in older registries): none.
  std::uint64_t owner_process;
  std::uint8_t pad0[24];
  ipc::RobustMutex::Storage lock;  // robust, process-shared; guards every entry change
  // The data folder of a durable namespace (absolute; empty: memory only).
  // Set once by the creator, before magic.
  alignas(64) std::uint32_t data_dir_length;
  std::uint32_t reserved1;
  char data_dir[kMaxDataDirBytes];
};
static_assert(offsetof(Header, object_mode) == 24);
static_assert(offsetof(Header, group_id) == 28);
static_assert(offsetof(Header, owner_process) == 32);
static_assert(offsetof(Header, lock) == 64);
static_assert(offsetof(Header, data_dir_length) == 128);
static_assert(offsetof(Header, data_dir) == 136);

struct alignas(64) TopicEntry {
  std::atomic<std::uint32_t> state;  // EntryState; stored with release after the fields below
  std::int32_t partitions;
  std::uint64_t segment_bytes;
  std::uint32_t segment_count;
  std::uint32_t index_interval;
  std::uint64_t incarnation;  // unique per creation in this namespace
  std::int64_t created_ns;
  std::uint32_t name_length;
  char name[kMaxNameBytes + 3];
  std::uint32_t flags;  // kEntryDurable
  std::uint32_t reserved0;
  std::uint64_t reserved1[2];
  alignas(64) log::Doorbell doorbell;  // shared by the topic's partitions
};
static_assert(offsetof(TopicEntry, name) == 44);
static_assert(offsetof(TopicEntry, flags) == 296);
inline constexpr std::uint32_t kEntryDurable = 1;  // the topic's records go to files in the data folder
static_assert(sizeof(TopicEntry) == 384);

inline constexpr std::size_t kEntriesOffset = 4096;
// The registry object's exact size: an opener refuses any other before mapping
// it (doc/registry_format.md, "Opening an object").
inline constexpr std::size_t kRegionBytes = kEntriesOffset + kCapacity * sizeof(TopicEntry);
static_assert(sizeof(Header) <= kEntriesOffset);

}  // namespace rill::registry
