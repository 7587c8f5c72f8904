// Consumer groups: the members of a group divide the partitions of the
// topics they subscribe to, each partition read by one member at a time,
// and commit how far they got (Kafka's group.id), between the threads and
// processes of one host, with no coordinator process: the group's state
// lives in the namespace's shared memory (doc/group_format.md).
//
//   auto c = GroupConsumer::join(ns, {"orders"}, {.group_id = "billing"});  // ConsumerOptions
//   for (;;) {
//     GroupPollResult r = (*c)->poll(100ms);
//     for (const RecordView& rec : r.records) handle(r.topic, rec);
//   }   // auto-commit every 5 s, at the next poll: at least once
//
// Membership: a member is live while its process is (pid + start time, as
// producers' claims) and it heartbeats (a thread of its own, every
// heartbeat_interval) within session_timeout and polls within
// max_poll_interval (ConsumerOptions). A member whose process dies is noticed at once (pidfd)
// and removed; a hung one after its session_timeout; leaving (close(), the
// destructor) is immediate. Each change of membership is a new generation,
// and the partitions move (ConsumerOptions::assignment_strategy) - a partition only once
// the member that read it has released it (after its revoked callback), so
// two members never read it at once.
//
// Commits: a commit is accepted only from a member of the current
// generation that reads the partition now: a zombie (removed while hung)
// is fenced (kFenced) and cannot overwrite a newer position.
//
// Thread safety: one thread at a time per GroupConsumer (its heartbeat
// thread is its own business); any number of them, in any threads and
// processes, may be members of one group.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rill/consumer.h"
#include "rill/record.h"
#include "rill/status.h"
#include "rill/topic.h"

namespace rill {

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
  friend bool operator==(const TopicPartition&, const TopicPartition&) = default;
};

// AssignmentStrategy: rill/consumer.h.
std::string_view assignment_strategy_name(AssignmentStrategy s) noexcept;  // "range", "round-robin", "sticky"
bool parse_assignment_strategy(std::string_view text, AssignmentStrategy* out) noexcept;

struct OffsetAndMetadata {
  std::int64_t offset = 0;  // the next offset to read
  std::string metadata{};
};

// Called on the consumer's thread, inside poll() (or close()).
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // Before the partitions go to another member: commit or flush what was
  // done with them (commit_sync() is accepted here). They are still this
  // member's until the callback returns.
  virtual void on_partitions_revoked(std::span<const TopicPartition> partitions) { (void)partitions; }
  // Newly this member's, positioned at their committed offsets (or per
  // ConsumerOptions::start_at_earliest).
  virtual void on_partitions_assigned(std::span<const TopicPartition> partitions) { (void)partitions; }
  // Taken away without a revocation: this member was removed from the group
  // (hung past session_timeout or max_poll_interval) and another may read
  // them already; commits for them would be fenced. The consumer rejoins.
  virtual void on_partitions_lost(std::span<const TopicPartition> partitions) { (void)partitions; }
};

struct GroupPollResult {
  std::string_view topic;               // of `records` (one topic per poll)
  std::span<const RecordView> records;  // valid until the next poll
  std::int64_t skipped = 0;             // as PollResult
  std::int64_t abandoned = 0;
  Status status;
};

class GroupConsumer {
 public:
  // Joins group options.group_id of `ns` as a member reading `topics` (each
  // must exist), with options.rebalance_listener's callbacks. kInvalidArgument:
  // bad name, options, or a strategy other than the members'; kNotFound: a
  // topic; kResourceExhausted: the group is full.
  static Result<std::unique_ptr<GroupConsumer>> join(std::shared_ptr<Namespace> ns, std::vector<std::string> topics,
                                                     ConsumerOptions options);
  ~GroupConsumer();  // close()
  GroupConsumer(const GroupConsumer&) = delete;
  GroupConsumer& operator=(const GroupConsumer&) = delete;

  // Takes part in rebalances (callbacks run here), auto-commits, then returns
  // records of this member's partitions, waiting up to `timeout` for one.
  GroupPollResult poll(std::chrono::nanoseconds timeout);

  // Commits the positions of every partition this member reads (the offsets
  // after the records returned so far); or the offsets given. Syncs with the
  // group first if it changed (callbacks may run). Returns once stored (and,
  // in a durable namespace, on disk). kFenced: this member no longer reads
  // one of them in the group's current generation, or (offsets given) one
  // was revoked since the last poll() returned records - even if it is
  // this member's again: those offsets were read under an earlier
  // ownership (nothing is stored).
  Status commit_sync();
  Status commit_sync(const std::map<TopicPartition, OffsetAndMetadata>& offsets);
  // The same, with the outcome given to `done` on this thread in a later
  // poll() (or close()).
  void commit_async(std::function<void(const Status&)> done = nullptr);

  // The committed offset of a partition of the group (kNotFound if none).
  Result<OffsetAndMetadata> committed(const TopicPartition& tp);
  // As Consumer::still_valid(), for the records of the last poll().
  bool still_valid() const noexcept;
  // The next offset of partition p of `topic` to be produced (as Consumer::latest_offset).
  Result<std::int64_t> latest_offset(const TopicPartition& tp) const;
  // Next offset to read of a partition this member reads (-1 otherwise).
  std::int64_t position(const TopicPartition& tp) const;
  std::vector<TopicPartition> assignment() const;
  std::int32_t generation() const noexcept;
  const std::string& member_id() const noexcept;

  // Commits (auto-commit), revokes and leaves the group: its partitions go
  // to the others at once. Idempotent.
  Status close();

  struct Impl;

 private:
  explicit GroupConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---- administration (what `rill group` does)

struct GroupMemberDescription {
  std::string member_id;
  std::string host;
  std::int32_t pid = 0;
  std::vector<TopicPartition> assignment;  // what it reads now
};

struct GroupPartitionDescription {
  TopicPartition partition;
  std::string member_id;       // who reads it now; empty if nobody
  std::int64_t committed = -1; // -1: no commit
  std::string metadata;
  std::int64_t log_end = -1;   // the partition's next offset (-1: the topic is gone)
  std::int64_t lag = -1;       // log_end - committed; -1 without a commit
};

struct GroupDescription {
  std::string group;
  std::string state;      // "empty", "rebalancing" or "stable"
  std::string strategy;
  std::int32_t generation = 0;
  std::vector<GroupMemberDescription> members;
  std::vector<GroupPartitionDescription> partitions;  // subscribed or committed, in order
};

Result<std::vector<std::string>> list_groups(Namespace& ns);
Result<GroupDescription> describe_group(Namespace& ns, std::string_view group);
// Sets the committed offsets of `topic`'s partitions (partition -> offset).
// Refused (kInvalidArgument, naming them) while the group has members.
Status reset_group_offsets(Namespace& ns, std::string_view group, std::string_view topic,
                           const std::map<std::int32_t, std::int64_t>& offsets);
// Removes the group and its committed offsets; refused while it has members.
Status delete_group(Namespace& ns, std::string_view group);

}  // namespace rill
