// CommitLog: a consumer group's committed offsets on disk, in a durable
// namespace: <data dir>/groups/<group>.commits (doc/group_format.md).
//
// Kafka keeps commits in __consumer_offsets, a log compacted by key; so does
// this, one small log per group: every commit appends one checksummed record
// per partition and is fdatasync'd before the commit returns, so a commit
// acknowledged is on disk. Reading replays the records (the last per
// partition wins). When the file grows past kCompactBytes and four times
// what its live records take, it is rewritten with one record per partition
// (a temporary file synced and renamed over it: a crash leaves the old or
// the new, whole). Why not a rill topic: the segment store has no
// compaction, and a group's commits are small, few and read only when its
// shared memory is rebuilt.
//
// Torn writes: a record cut short at the end of the file (a crash while
// appending) is dropped and cut off when the log is read. A whole record that
// fails its checksum is damage, not a torn write: reading fails (kCorrupt,
// naming the file and byte), and the group cannot be opened until deleted.
//
// Thread safety: stateless functions; callers serialise appends to one
// group's log (the group's lock), as every process appends to the same file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/group/coordinator.h"
#include "rill/status.h"

namespace rill::client {

using CommittedOffsets = std::map<group::TopicPartition, group::CommittedOffset>;

inline constexpr std::uint32_t kCommitLogMagic = 0x4c434c52;  // "RLCL"
inline constexpr std::uint16_t kCommitLogVersion = 1;
inline constexpr std::size_t kCommitLogHeaderBytes = 16;
inline constexpr std::uint64_t kCompactBytes = 1u << 20;

// <data dir>/groups
std::string groups_dir(const std::string& data_dir);
std::string commit_log_path(const std::string& data_dir, const std::string& group);

// The offsets the log holds (empty if there is no log); cuts a torn tail.
// `end` (if given): where its intact records end (0 if there is no log).
Result<CommittedOffsets> read_commit_log(const std::string& data_dir, const std::string& group,
                                         std::uint64_t* end = nullptr);
// Appends `changed` at *end (the end of the log's intact records, 0 for a
// log not yet made: the header first) and syncs; compacts to `all` (every
// live offset, changed ones included) when the file is large. *end becomes
// the new end. A write that fails (disk full, I/O error) leaves *end as it
// was: the next append writes over whatever part of it reached the file, so
// a failed commit never leaves a damaged record between good ones. Makes
// the folder and file if missing.
Status append_commit_log(const std::string& data_dir, const std::string& group, const CommittedOffsets& changed,
                         const CommittedOffsets& all, unsigned permissions, std::uint64_t* end);
Status remove_commit_log(const std::string& data_dir, const std::string& group);
// The groups that have a log.
std::vector<std::string> commit_log_groups(const std::string& data_dir);

}  // namespace rill::client
