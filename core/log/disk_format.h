// Byte layout of a durable partition's files, format version 1. The prose
// specification is doc/segment_format.md; keep the two in step.
//
// A partition's folder, <data dir>/<topic>-<partition>/, holds segment files
// named as Kafka names them, by the offset of their first record in 20
// decimal digits:
//
//   00000000000000000000.log        64-byte header, then frames
//   00000000000000000000.index      offset index: 8-byte entries
//   00000000000000000000.timeindex  time index: 16-byte entries
//
// The frames of a .log file are the ring's frames, byte for byte (record,
// batch and abandoned frames as doc/log_format.md has them; never an
// end-of-segment word), one after another from byte 64, each at an 8-byte
// aligned position. Offsets are counted, not stored, as in the ring: the
// file's base offset plus the offsets of the frames before.
//
// .log header:
//   0  u64 magic             kLogMagic
//   8  u32 version           kDiskFormatVersion
//  12  u32 header bytes      kLogHeaderBytes
//  16  i64 base offset       the offset of the first frame (== the name)
//  24  i64 created           CLOCK_REALTIME nanoseconds
//  32  u64 check             XXH3-64 of bytes [0, 32)
//  40  u64 synced end        a position up to which the file was synced
//  48  i64 synced next       the offset after the frames before `synced end`
//  56  u64 mark check        XXH3-64 of bytes [40, 56)
//
// Bytes [0, 40) never change. The mark [40, 64) is rewritten in place just
// before each sync, with the end of the *previous* successful sync, so the
// sync that follows makes it durable and it never claims bytes that are not.
// A mark whose check fails reads as (64, base offset).
//
// .index entry (every `index interval` bytes of frames, and at each file's
// first frame):
//   0  u32 relative offset   first offset of the frame - base offset
//   4  u32 position          of the frame in the .log file
// .timeindex entry (beside each .index entry):
//   0  i64 max timestamp     the largest record timestamp up to and including this frame
//   8  u32 relative offset   as in the .index entry
//  12  u32 zero
// Both index files are derived data: rebuilt from the .log when they do not
// agree with it, never trusted to decide where a record is (the frame found
// at an indexed position must pass its checksum at the indexed offset).
#pragma once

#include <cstddef>
#include <cstdint>

namespace rill::log::disk {

inline constexpr std::uint64_t kLogMagic = 0x31474F4C4C4C4952ull;  // "RILLLOG1"
inline constexpr std::uint32_t kDiskFormatVersion = 1;
inline constexpr std::size_t kLogHeaderBytes = 64;

inline constexpr std::size_t kMagicAt = 0;
inline constexpr std::size_t kVersionAt = 8;
inline constexpr std::size_t kHeaderBytesAt = 12;
inline constexpr std::size_t kBaseOffsetAt = 16;
inline constexpr std::size_t kCreatedAt = 24;
inline constexpr std::size_t kCheckAt = 32;
inline constexpr std::size_t kSyncedEndAt = 40;
inline constexpr std::size_t kSyncedNextAt = 48;
inline constexpr std::size_t kMarkCheckAt = 56;
inline constexpr std::size_t kMarkBytes = 24;  // [40, 64)
static_assert(kMarkCheckAt + 8 == kLogHeaderBytes);
static_assert(kSyncedEndAt + kMarkBytes == kLogHeaderBytes);

inline constexpr std::size_t kIndexEntryBytes = 8;
inline constexpr std::size_t kTimeIndexEntryBytes = 16;

// A .log file holds at most this many bytes: positions fit the indexes' u32.
inline constexpr std::uint64_t kMaxLogFileBytes = std::uint64_t{1} << 31;
// Digits of a file's base offset in its name.
inline constexpr int kNameDigits = 20;

inline constexpr const char* kLogSuffix = ".log";
inline constexpr const char* kIndexSuffix = ".index";
inline constexpr const char* kTimeIndexSuffix = ".timeindex";

}  // namespace rill::log::disk
