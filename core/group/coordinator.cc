#include "core/group/coordinator.h"

#include <algorithm>
#include <set>

namespace rill::group {

std::string_view phase_name(GroupPhase p) noexcept {
  switch (p) {
    case GroupPhase::kEmpty: return "empty";
    case GroupPhase::kRebalancing: return "rebalancing";
    case GroupPhase::kStable: return "stable";
  }
  return "?";
}

namespace {

Status bad(std::string text) { return Status(Code::kInvalidArgument, std::move(text)); }

bool contains(const std::vector<TopicPartition>& sorted, const TopicPartition& tp) {
  return std::binary_search(sorted.begin(), sorted.end(), tp);
}

}  // namespace

MemberInfo* GroupCoordinator::find(const std::string& member_id) {
  const auto it = std::lower_bound(s_.members.begin(), s_.members.end(), member_id,
                                   [](const MemberInfo& m, const std::string& id) { return m.member_id < id; });
  return it != s_.members.end() && it->member_id == member_id ? &*it : nullptr;
}

const MemberInfo* GroupCoordinator::member(const std::string& member_id) const {
  return const_cast<GroupCoordinator*>(this)->find(member_id);
}

const MemberInfo* GroupCoordinator::reader_of(const TopicPartition& tp) const {
  for (const MemberInfo& m : s_.members)
    if (contains(m.owned, tp)) return &m;
  return nullptr;
}

Result<std::string> GroupCoordinator::join(const JoinRequest& r,
                                           const std::map<std::string, std::int32_t>& partitions) {
  if (!s_.members.empty() && s_.strategy != r.strategy)
    return bad("group '" + s_.name + "' assigns with " + std::string(strategy_name(s_.strategy)) +
               ", and this member asks for " + std::string(strategy_name(r.strategy)) +
               ": every member of a group uses one strategy");
  if (r.topics.empty()) return bad("a member of group '" + s_.name + "' must subscribe to at least one topic");
  if (r.topics.size() > kMaxTopicsPerMember)
    return bad("a member subscribes to at most " + std::to_string(kMaxTopicsPerMember) + " topics");
  if (r.host.size() > kMaxNameBytes) return bad("host name longer than " + std::to_string(kMaxNameBytes) + " bytes");
  if (r.session_timeout_ms <= 0 || r.max_poll_interval_ms <= 0 || r.session_timeout_ms > kMaxTimeoutMs ||
      r.max_poll_interval_ms > kMaxTimeoutMs)
    return bad("session.timeout and max.poll.interval must be 1 ms to " + std::to_string(kMaxTimeoutMs) + " ms");
  if (s_.members.size() >= kMaxMembers)
    return Status(Code::kResourceExhausted,
                  "group '" + s_.name + "' has " + std::to_string(kMaxMembers) + " members, the most it can have");
  std::vector<std::string> topics = r.topics;
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  std::map<std::string, std::int32_t> counts = s_.partitions;
  for (const std::string& t : topics) {
    if (t.empty() || t.size() > kMaxNameBytes) return bad("topic name '" + t + "' is empty or too long");
    const auto it = partitions.find(t);
    if (it == partitions.end() || it->second <= 0) return bad("topic '" + t + "': partition count unknown");
    counts[t] = it->second;
  }
  std::size_t total = 0;
  for (const auto& [t, n] : counts) total += static_cast<std::size_t>(n);
  if (total > kMaxGroupPartitions)
    return Status(Code::kResourceExhausted, "group '" + s_.name + "' would read " + std::to_string(total) +
                                                " partitions, more than the " + std::to_string(kMaxGroupPartitions) +
                                                " a group can");
  MemberInfo m;
  m.seq = s_.next_member++;
  m.member_id = r.host + "-" + std::to_string(r.pid) + "-" + std::to_string(m.seq);
  m.host = r.host;
  m.pid = r.pid;
  m.start_time = r.start_time;
  m.slot = r.slot;
  m.topics = std::move(topics);
  m.session_timeout_ms = r.session_timeout_ms;
  m.max_poll_interval_ms = r.max_poll_interval_ms;
  if (s_.members.empty()) s_.strategy = r.strategy;
  s_.partitions = std::move(counts);
  const std::string id = m.member_id;
  s_.members.insert(std::upper_bound(s_.members.begin(), s_.members.end(), m,
                                     [](const MemberInfo& a, const MemberInfo& b) { return a.member_id < b.member_id; }),
                    std::move(m));
  rebalance();
  return id;
}

Status GroupCoordinator::leave(const std::string& member_id) {
  if (find(member_id) == nullptr)
    return Status(Code::kFenced, "member " + member_id + " is no longer in group '" + s_.name + "'");
  std::erase_if(s_.members, [&](const MemberInfo& m) { return m.member_id == member_id; });
  rebalance();
  return Status::ok();
}

std::vector<std::pair<std::string, Verdict>> GroupCoordinator::expire(
    const std::function<Verdict(const MemberInfo&)>& judge) {
  std::vector<std::pair<std::string, Verdict>> removed;
  for (const MemberInfo& m : s_.members)
    if (const Verdict v = judge(m); v != Verdict::kKeep) removed.emplace_back(m.member_id, v);
  if (removed.empty()) return removed;
  std::erase_if(s_.members, [&](const MemberInfo& m) {
    return std::any_of(removed.begin(), removed.end(), [&](const auto& r) { return r.first == m.member_id; });
  });
  rebalance();
  return removed;
}

void GroupCoordinator::rebalance() {
  ++s_.generation;
  // Topics nobody subscribes to any more leave the group's view.
  std::set<std::string> subscribed;
  for (const MemberInfo& m : s_.members) subscribed.insert(m.topics.begin(), m.topics.end());
  std::erase_if(s_.partitions, [&](const auto& entry) { return !subscribed.contains(entry.first); });
  std::vector<MemberSubscription> subs;
  for (const MemberInfo& m : s_.members) subs.push_back({m.member_id, m.topics, m.owned});
  s_.target = assign(s_.strategy, subs, s_.partitions);
  if (!is_cooperative(s_.strategy))
    for (MemberInfo& m : s_.members) m.revoke_all = !m.owned.empty();
}

Result<SyncResult> GroupCoordinator::sync(const std::string& member_id) {
  MemberInfo* m = find(member_id);
  if (m == nullptr)
    return Status(Code::kFenced, "member " + member_id + " is no longer in group '" + s_.name +
                                     "' (it left, died, or was removed after session.timeout or max.poll.interval): "
                                     "its partitions may be another member's now");
  m->generation = s_.generation;
  SyncResult out;
  out.generation = s_.generation;
  const std::vector<TopicPartition>& target = s_.target[member_id];
  if (m->revoke_all && m->owned.empty()) m->revoke_all = false;
  if (m->revoke_all) {
    out.revoke = m->owned;
  } else {
    for (const TopicPartition& tp : m->owned)
      if (!contains(target, tp)) out.revoke.push_back(tp);
  }
  if (out.revoke.empty()) {
    for (const TopicPartition& tp : target)
      if (!contains(m->owned, tp) && reader_of(tp) == nullptr) out.assigned.push_back(tp);
    m->owned.insert(m->owned.end(), out.assigned.begin(), out.assigned.end());
    std::sort(m->owned.begin(), m->owned.end());
  }
  out.owned = m->owned;
  out.complete = out.revoke.empty() && m->owned == target;
  return out;
}

Status GroupCoordinator::release(const std::string& member_id, const std::vector<TopicPartition>& partitions) {
  MemberInfo* m = find(member_id);
  if (m == nullptr) return Status(Code::kFenced, "member " + member_id + " is no longer in group '" + s_.name + "'");
  std::erase_if(m->owned, [&](const TopicPartition& tp) {
    return std::find(partitions.begin(), partitions.end(), tp) != partitions.end();
  });
  if (m->owned.empty()) m->revoke_all = false;
  return Status::ok();
}

Status GroupCoordinator::commit(const std::string& member_id, std::int32_t generation,
                                const std::map<TopicPartition, CommittedOffset>& offsets) {
  const MemberInfo* m = find(member_id);
  if (m == nullptr)
    return Status(Code::kFenced, "commit refused: member " + member_id + " is no longer in group '" + s_.name +
                                     "' (generation " + std::to_string(generation) + "; the group is at " +
                                     std::to_string(s_.generation) + ")");
  if (generation != s_.generation)
    return Status(Code::kFenced, "commit refused: generation " + std::to_string(generation) + " of group '" +
                                     s_.name + "' is over; the group is at generation " +
                                     std::to_string(s_.generation));
  for (const auto& [tp, c] : offsets) {
    if (!contains(m->owned, tp))
      return Status(Code::kFenced, "commit refused: " + to_string(tp) + " is not read by member " + member_id +
                                       " in generation " + std::to_string(generation) + " of group '" + s_.name + "'");
    if (c.offset < 0) return bad("commit of " + to_string(tp) + ": offset " + std::to_string(c.offset) + " is negative");
    if (c.metadata.size() > kMaxMetadataBytes)
      return bad("commit of " + to_string(tp) + ": metadata of " + std::to_string(c.metadata.size()) +
                 " bytes, more than " + std::to_string(kMaxMetadataBytes));
  }
  for (const auto& [tp, c] : offsets) {
    CommittedOffset stored = c;
    stored.generation = generation;
    s_.offsets[tp] = std::move(stored);
  }
  return Status::ok();
}

Status GroupCoordinator::reset(const std::map<TopicPartition, std::int64_t>& offsets, std::int64_t now_ms) {
  if (!s_.members.empty()) {
    std::string who;
    for (const MemberInfo& m : s_.members) who += (who.empty() ? "" : ", ") + m.member_id + " (pid " + std::to_string(m.pid) + ")";
    return bad("group '" + s_.name + "' has members (" + who + "): stop them before resetting its offsets");
  }
  for (const auto& [tp, offset] : offsets)
    if (offset < 0) return bad("reset of " + to_string(tp) + ": offset " + std::to_string(offset) + " is negative");
  for (const auto& [tp, offset] : offsets) s_.offsets[tp] = CommittedOffset{offset, {}, -1, now_ms};
  return Status::ok();
}

GroupPhase GroupCoordinator::phase() const {
  if (s_.members.empty()) return GroupPhase::kEmpty;
  for (const MemberInfo& m : s_.members) {
    if (m.generation != s_.generation || m.revoke_all) return GroupPhase::kRebalancing;
    const auto it = s_.target.find(m.member_id);
    if (it == s_.target.end() ? !m.owned.empty() : it->second != m.owned) return GroupPhase::kRebalancing;
  }
  return GroupPhase::kStable;
}

}  // namespace rill::group
