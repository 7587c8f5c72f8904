// The administration of consumer groups (rill/group.h): what `rill group`
// list, describe, reset and delete do.
#include <algorithm>
#include <set>

#include "core/client/group_store.h"
#include "ipc/clock.h"
#include "rill/group.h"

namespace rill {

Result<std::vector<std::string>> list_groups(Namespace& ns) { return client::GroupStore::list(ns); }

Result<GroupDescription> describe_group(Namespace& ns, std::string_view group) {
  auto store = client::GroupStore::open(ns, group, false);
  if (!store) return store.status();
  auto state = (*store)->read();
  if (!state) return state.status();
  group::GroupCoordinator c(*state);
  GroupDescription d;
  d.group = state->name;
  d.state = std::string(group::phase_name(c.phase()));
  d.strategy = std::string(group::strategy_name(state->strategy));
  d.generation = state->generation;
  std::set<TopicPartition> shown;
  for (const auto& [topic, n] : state->partitions)
    for (std::int32_t p = 0; p < n; ++p) shown.insert({topic, p});
  for (const auto& [tp, offset] : state->offsets) shown.insert(tp);
  for (const group::MemberInfo& m : state->members)
    d.members.push_back(GroupMemberDescription{m.member_id, m.host, m.pid, m.owned});
  std::map<std::string, TopicInfo> topics;
  for (const TopicPartition& tp : shown) {
    if (!topics.contains(tp.topic))
      if (auto info = ns.describe_topic(tp.topic); info) topics[tp.topic] = std::move(*info);
    GroupPartitionDescription pd;
    pd.partition = tp;
    if (const group::MemberInfo* reader = c.reader_of(tp)) pd.member_id = reader->member_id;
    if (const auto it = state->offsets.find(tp); it != state->offsets.end()) {
      pd.committed = it->second.offset;
      pd.metadata = it->second.metadata;
    }
    if (const auto t = topics.find(tp.topic); t != topics.end())
      for (const PartitionInfo& p : t->second.partitions)
        if (p.partition == tp.partition) pd.log_end = p.latest_offset;
    if (pd.committed >= 0 && pd.log_end >= 0) pd.lag = std::max<std::int64_t>(0, pd.log_end - pd.committed);
    d.partitions.push_back(std::move(pd));
  }
  return d;
}

Status reset_group_offsets(Namespace& ns, std::string_view group, std::string_view topic,
                           const std::map<std::int32_t, std::int64_t>& offsets) {
  auto info = ns.describe_topic(topic);
  if (!info) return info.status();
  std::map<TopicPartition, std::int64_t> reset;
  for (const auto& [p, offset] : offsets) {
    if (p < 0 || p >= info->config.partitions)
      return Status(Code::kInvalidArgument, "topic '" + std::string(topic) + "' has no partition " +
                                                std::to_string(p) + " (it has " +
                                                std::to_string(info->config.partitions) + ")");
    reset[{std::string(topic), p}] = offset;
  }
  auto store = client::GroupStore::open(ns, group, true);
  if (!store) return store.status();
  const std::int64_t now_ms = ipc::realtime_ns() / 1'000'000;
  return (*store)->update(
      [&](group::GroupCoordinator& c, group::GroupState&) { return c.reset(reset, now_ms); });
}

Status delete_group(Namespace& ns, std::string_view group) { return client::GroupStore::remove(ns, group); }

}  // namespace rill
