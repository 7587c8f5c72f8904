// GroupCoordinator: the rules of a consumer group - membership,
// generations, who reads which partition when, and whose offset commits
// are accepted - over a plain GroupState value. No shared memory, clock or
// I/O: the shared-memory store (core/client/group_store.h) loads the state
// under its lock, applies one operation and stores it back; a network
// coordinator could do the same over its own storage.
//
// The protocol, as Kafka's group protocol adapted to one host:
//   join     a member comes in with its subscriptions; the generation goes
//            up and the strategy (assignor.h) computes the target
//            assignment of that generation.
//   sync     a member learns the generation and what changed for it: the
//            partitions to revoke (all it reads, for an eager strategy; the
//            ones moving away, for sticky) and, once those are released,
//            the partitions it may now read. A partition moves to its new
//            member only once its previous reader released it (after its
//            revoked callback, which may commit) or left the group: two
//            members never read one partition in one generation.
//   release  after the revoked callback, the member gives the partitions up.
//   leave    a member leaves cleanly: its partitions are free at once.
//   expire   members that the caller finds dead (pid + start time), hung
//            (no heartbeat for session.timeout) or not polling (for
//            max.poll.interval) are removed, as by leave.
//   commit   offsets, accepted only from a member of the current generation
//            that reads the partition now; anything else is fenced (a
//            zombie removed after a hang cannot overwrite a newer position).
// Every change of membership bumps the generation.
//
// Thread safety: a GroupCoordinator is a view over a GroupState that its
// caller keeps consistent (one operation at a time, under a lock).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/group/assignor.h"
#include "rill/status.h"

namespace rill::group {

// Limits that keep a group's state bounded (group_format.h stores it in a
// fixed block of shared memory).
inline constexpr std::size_t kMaxMembers = 256;
inline constexpr std::size_t kMaxGroupPartitions = 16384;  // subscribed topic-partitions of a group
inline constexpr std::size_t kMaxNameBytes = 249;          // group, topic, member id and host names (Kafka's 249)
inline constexpr std::size_t kMaxMetadataBytes = 4096;     // a commit's metadata (Kafka's offset.metadata.max.bytes)
inline constexpr std::size_t kMaxTopicsPerMember = 64;
inline constexpr std::int64_t kMaxTimeoutMs = 0x7fffffff;  // session.timeout, max.poll.interval: Kafka's int ms

struct MemberInfo {
  std::string member_id;  // unique in the group: "<host>-<pid>-<seq>"
  std::uint64_t seq = 0;  // its last part: GroupState::next_member when it joined
  std::string host;       // the member's host name, for describe
  std::int32_t pid = 0;
  std::uint64_t start_time = 0;  // with pid: the process, for liveness
  std::int32_t slot = -1;        // the store's liveness slot of this member (-1: none)
  std::vector<std::string> topics;        // subscribed, sorted
  std::int32_t generation = 0;            // the last generation it synced to
  std::vector<TopicPartition> owned;      // reads now (until it releases them), sorted
  bool revoke_all = false;                // eager strategy: must release everything before it gets more
  std::int64_t session_timeout_ms = 10'000;
  std::int64_t max_poll_interval_ms = 300'000;
};

struct CommittedOffset {
  std::int64_t offset = 0;      // the next offset to read
  std::string metadata;         // the application's, up to kMaxMetadataBytes
  std::int32_t generation = 0;  // of the commit (-1: an administrative reset)
  std::int64_t commit_ms = 0;   // when, ms since the Unix epoch
  friend bool operator==(const CommittedOffset&, const CommittedOffset&) = default;
};

struct GroupState {
  std::string name;
  Strategy strategy = Strategy::kRange;
  std::int32_t generation = 0;
  std::uint64_t next_member = 1;                  // a sequence for member ids
  std::vector<MemberInfo> members = {};                 // sorted by member_id
  std::map<std::string, std::int32_t> partitions = {};  // partition count per subscribed topic
  Assignment target = {};                               // the strategy's choice for this generation
  std::map<TopicPartition, CommittedOffset> offsets = {};
};

// What a group is doing, for describe: no members; members still moving
// partitions or syncing to the current generation; every member synced and
// reading its target.
enum class GroupPhase : std::uint8_t { kEmpty, kRebalancing, kStable };
std::string_view phase_name(GroupPhase p) noexcept;  // "empty", "rebalancing", "stable"

struct JoinRequest {
  std::string host;
  std::int32_t pid = 0;
  std::uint64_t start_time = 0;
  std::int32_t slot = -1;
  std::vector<std::string> topics;
  Strategy strategy = Strategy::kRange;
  std::int64_t session_timeout_ms = 10'000;
  std::int64_t max_poll_interval_ms = 300'000;
};

struct SyncResult {
  std::int32_t generation = 0;
  std::vector<TopicPartition> revoke;    // to release (after the revoked callback); still readable until then
  std::vector<TopicPartition> assigned;  // newly readable, now owned
  std::vector<TopicPartition> owned;     // everything it may read now, `assigned` included
  bool complete = false;                 // owned is the member's whole target (nothing to wait for)
};

// Why expire() removes a member; kKeep keeps it.
enum class Verdict : std::uint8_t { kKeep, kDead, kSessionTimedOut, kPollTimedOut };

class GroupCoordinator {
 public:
  explicit GroupCoordinator(GroupState& state) : s_(state) {}

  // Adds a member; returns its id. `partitions`: the partition count of
  // each topic it subscribes to (every one must be there). Refused
  // (kInvalidArgument) if the group's members use another strategy, or
  // a name or count is out of bounds; kResourceExhausted past kMaxMembers
  // or kMaxGroupPartitions.
  Result<std::string> join(const JoinRequest& request, const std::map<std::string, std::int32_t>& partitions);
  // Removes a member (its partitions are free at once). kFenced if it is
  // not a member (already removed).
  Status leave(const std::string& member_id);
  // Removes every member `judge` does not keep; returns (member, verdict)
  // of those removed.
  std::vector<std::pair<std::string, Verdict>> expire(const std::function<Verdict(const MemberInfo&)>& judge);
  // kFenced if the member is not in the group (removed: its partitions may
  // be another's already).
  Result<SyncResult> sync(const std::string& member_id);
  // Gives up partitions (those it does not read are ignored). kFenced as sync().
  Status release(const std::string& member_id, const std::vector<TopicPartition>& partitions);
  // Stores offsets. kFenced unless the member is in the group, `generation`
  // is the group's current one, and the member reads each partition now
  // (nothing is stored then); kInvalidArgument for a negative offset or
  // metadata over kMaxMetadataBytes.
  Status commit(const std::string& member_id, std::int32_t generation,
                const std::map<TopicPartition, CommittedOffset>& offsets);
  // Administrative: sets offsets (generation -1) while the group has no
  // members; kInvalidArgument naming the members otherwise.
  Status reset(const std::map<TopicPartition, std::int64_t>& offsets, std::int64_t now_ms);

  GroupPhase phase() const;
  const MemberInfo* member(const std::string& member_id) const;
  // The member that reads `tp` now, if any.
  const MemberInfo* reader_of(const TopicPartition& tp) const;

 private:
  MemberInfo* find(const std::string& member_id);
  // A new generation: the target assignment again, and (eager) every member
  // that reads something must release it all first.
  void rebalance();

  GroupState& s_;
};

}  // namespace rill::group
