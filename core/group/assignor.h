// Partition assignment strategies of consumer groups: who reads which
// partition of the topics the members subscribe to. Pure functions over
// plain values (no shared memory, no clock), so that a network coordinator
// can reuse them as the shared-memory one does.
//
//   range        Kafka's RangeAssignor: per topic, the subscribed members in
//                member-id order take consecutive runs of partitions, the
//                first (partitions % members) one more each.
//   round-robin  Kafka's RoundRobinAssignor: every topic-partition in
//                (topic, partition) order dealt in turn to the members in
//                member-id order, skipping members not subscribed to its
//                topic.
//   sticky       Kafka's CooperativeStickyAssignor's goal: a balanced
//                assignment (the partition counts of two members that could
//                trade differ by at most one) that moves as few partitions
//                as possible from the owners the members report. With
//                cooperative rebalancing (GroupCoordinator) members keep
//                reading the partitions they keep while others move.
//
// Deterministic: the same members, subscriptions, ownership and partition
// counts give the same assignment, whatever the order of the inputs.
//
// Thread safety: pure functions.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rill/group.h"

namespace rill::group {

// The public API's types (rill/group.h, rill/consumer.h), with no conversion.
using TopicPartition = rill::TopicPartition;
std::string to_string(const TopicPartition& tp);  // "topic/3"

using Strategy = rill::AssignmentStrategy;
std::string_view strategy_name(Strategy s) noexcept;  // "range", "round-robin", "sticky"
bool parse_strategy(std::string_view text, Strategy* out) noexcept;
// Eager strategies revoke every partition at every rebalance (Kafka's eager
// protocol); sticky revokes only the partitions that move (cooperative).
inline bool is_cooperative(Strategy s) noexcept { return s == Strategy::kSticky; }

struct MemberSubscription {
  std::string member_id;
  std::vector<std::string> topics;     // subscribed
  std::vector<TopicPartition> owned;  // read now (sticky keeps these where it can)
};

// member id -> its partitions, sorted. Every member appears, possibly with
// none. A partition of a topic nobody subscribes to is nobody's; one whose
// topic is missing from `partitions` (not created yet) too.
using Assignment = std::map<std::string, std::vector<TopicPartition>>;

// `partitions`: partition count per topic.
Assignment assign(Strategy strategy, const std::vector<MemberSubscription>& members,
                  const std::map<std::string, std::int32_t>& partitions);

}  // namespace rill::group
