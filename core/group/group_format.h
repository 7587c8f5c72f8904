// The encoding of a consumer group's state (GroupState, coordinator.h): the
// bytes the shared-memory group store keeps (core/client/group_store.h).
// Prose spec: doc/group_format.md. Little-endian throughout.
//
//   header (24 bytes)
//     0  u32 magic "RLGS" (0x53474c52)
//     4  u16 version (1)
//     6  u16 reserved (0)
//     8  u32 body bytes
//    12  u32 reserved (0)
//    16  u64 XXH3-64 of the body
//   body
//     str   group name
//     u8    strategy (0 range, 1 round-robin, 2 sticky)
//     i32   generation
//     u64   next member sequence
//     u32   topics T, then T x str: the topic table; a topic-partition is
//           then u32 topic index + i32 partition
//     u32   subscribed topics S, then S x (u32 topic index, i32 partitions)
//     u32   members M, then M x member:
//             str id, u64 seq, str host, i32 pid, u64 start time, i32 slot,
//             u32 n + n x u32 topic index (subscriptions),
//             i32 generation, u8 revoke_all, i64 session timeout ms,
//             i64 max poll interval ms,
//             u32 n + n x topic-partition (owned),
//             u32 n + n x topic-partition (target)
//     u32   offsets O, then O x (topic-partition, i64 offset, str metadata,
//           i32 generation, i64 commit ms)
//   str: u16 length + bytes (no terminator)
//
// Decoding checks every length and index against the bytes and the limits of
// coordinator.h, and that lists the coordinator keeps sorted are sorted: a
// damaged or hostile block is refused (kCorrupt, saying where), never read
// past its end.
#pragma once

#include <cstdint>

namespace rill::group {

inline constexpr std::uint32_t kGroupMagic = 0x53474c52;  // "RLGS"
inline constexpr std::uint16_t kGroupVersion = 1;
inline constexpr std::size_t kGroupHeaderBytes = 24;

}  // namespace rill::group
