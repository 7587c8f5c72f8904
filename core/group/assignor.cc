#include "core/group/assignor.h"

#include <algorithm>
#include <set>

namespace rill::group {

std::string to_string(const TopicPartition& tp) { return tp.topic + "/" + std::to_string(tp.partition); }

std::string_view strategy_name(Strategy s) noexcept {
  switch (s) {
    case Strategy::kRange: return "range";
    case Strategy::kRoundRobin: return "round-robin";
    case Strategy::kSticky: return "sticky";
  }
  return "?";
}

bool parse_strategy(std::string_view text, Strategy* out) noexcept {
  for (const Strategy s : {Strategy::kRange, Strategy::kRoundRobin, Strategy::kSticky})
    if (text == strategy_name(s)) {
      *out = s;
      return true;
    }
  return false;
}

namespace {

// The members in member-id order, each with its subscriptions as a set.
struct Members {
  std::vector<std::string> ids;
  std::map<std::string, std::set<std::string>> topics;

  explicit Members(const std::vector<MemberSubscription>& members) {
    for (const MemberSubscription& m : members) {
      ids.push_back(m.member_id);
      topics[m.member_id].insert(m.topics.begin(), m.topics.end());
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  }
  bool subscribed(const std::string& member, const std::string& topic) const {
    const auto it = topics.find(member);
    return it != topics.end() && it->second.contains(topic);
  }
  bool anyone_subscribed(const std::string& topic) const {
    return std::any_of(ids.begin(), ids.end(), [&](const std::string& m) { return subscribed(m, topic); });
  }
};

// Every partition some member subscribes to, in (topic, partition) order.
std::vector<TopicPartition> subscribed_partitions(const Members& members,
                                                  const std::map<std::string, std::int32_t>& partitions) {
  std::vector<TopicPartition> out;
  for (const auto& [topic, count] : partitions)
    if (members.anyone_subscribed(topic))
      for (std::int32_t p = 0; p < count; ++p) out.push_back({topic, p});
  return out;
}

Assignment empty_assignment(const Members& members) {
  Assignment out;
  for (const std::string& m : members.ids) out[m];
  return out;
}

Assignment range(const Members& members, const std::map<std::string, std::int32_t>& partitions) {
  Assignment out = empty_assignment(members);
  for (const auto& [topic, count] : partitions) {
    std::vector<std::string> readers;
    for (const std::string& m : members.ids)
      if (members.subscribed(m, topic)) readers.push_back(m);
    if (readers.empty()) continue;
    const auto n = static_cast<std::size_t>(count);
    const std::size_t each = n / readers.size(), extra = n % readers.size();
    std::size_t next = 0;
    for (std::size_t i = 0; i < readers.size(); ++i) {
      const std::size_t take = each + (i < extra ? 1 : 0);
      for (std::size_t k = 0; k < take; ++k) out[readers[i]].push_back({topic, static_cast<std::int32_t>(next++)});
    }
  }
  return out;
}

Assignment round_robin(const Members& members, const std::map<std::string, std::int32_t>& partitions) {
  Assignment out = empty_assignment(members);
  std::size_t turn = 0;
  for (const TopicPartition& tp : subscribed_partitions(members, partitions)) {
    for (std::size_t tried = 0; tried < members.ids.size(); ++tried, ++turn) {
      const std::string& m = members.ids[turn % members.ids.size()];
      if (!members.subscribed(m, tp.topic)) continue;
      out[m].push_back(tp);
      ++turn;
      break;
    }
  }
  return out;
}

Assignment sticky(const Members& members, const std::vector<MemberSubscription>& subscriptions,
                  const std::map<std::string, std::int32_t>& partitions) {
  const std::vector<TopicPartition> all = subscribed_partitions(members, partitions);
  const std::set<TopicPartition> exists(all.begin(), all.end());
  std::map<std::string, std::set<TopicPartition>> held;
  for (const std::string& m : members.ids) held[m];
  // 1. Each member keeps what it owns and may still read; a partition two
  //    members claim goes to the first in member-id order.
  std::set<TopicPartition> taken;
  std::vector<const MemberSubscription*> by_id;
  for (const MemberSubscription& s : subscriptions) by_id.push_back(&s);
  std::sort(by_id.begin(), by_id.end(),
            [](const MemberSubscription* a, const MemberSubscription* b) { return a->member_id < b->member_id; });
  for (const MemberSubscription* s : by_id) {
    std::vector<TopicPartition> owned = s->owned;
    std::sort(owned.begin(), owned.end());
    for (const TopicPartition& tp : owned)
      if (exists.contains(tp) && members.subscribed(s->member_id, tp.topic) && taken.insert(tp).second)
        held[s->member_id].insert(tp);
  }
  // The member with the fewest partitions among those that may read `topic`
  // (ties: member-id order); empty if none may.
  const auto least_loaded = [&](const std::string& topic, const std::string& except) {
    std::string best;
    for (const std::string& m : members.ids)
      if (m != except && members.subscribed(m, topic) && (best.empty() || held[m].size() < held[best].size()))
        best = m;
    return best;
  };
  // 2. What nobody keeps goes to the least loaded member that may read it.
  for (const TopicPartition& tp : all)
    if (!taken.contains(tp)) {
      const std::string m = least_loaded(tp.topic, {});
      if (!m.empty()) held[m].insert(tp);
    }
  // 3. Balance: move one partition at a time from the most loaded member to
  //    a member with two fewer that may read it. Each move lowers the sum of
  //    squared loads, so this ends; it moves only what balance requires.
  for (;;) {
    std::vector<std::string> donors = members.ids;
    std::stable_sort(donors.begin(), donors.end(),
                     [&](const std::string& a, const std::string& b) { return held[a].size() > held[b].size(); });
    bool moved = false;
    for (const std::string& from : donors) {
      // The donor's partitions from the last: what it was given most recently.
      for (auto it = held[from].rbegin(); it != held[from].rend(); ++it) {
        const std::string to = least_loaded(it->topic, from);
        if (to.empty() || held[to].size() + 1 >= held[from].size()) continue;
        const TopicPartition tp = *it;  // `it` dies with the erase
        held[from].erase(tp);
        held[to].insert(tp);
        moved = true;
        break;
      }
      if (moved) break;
    }
    if (!moved) break;
  }
  Assignment out;
  for (const auto& [m, tps] : held) out[m] = std::vector<TopicPartition>(tps.begin(), tps.end());
  return out;
}

}  // namespace

Assignment assign(Strategy strategy, const std::vector<MemberSubscription>& members,
                  const std::map<std::string, std::int32_t>& partitions) {
  const Members m(members);
  switch (strategy) {
    case Strategy::kRange: return range(m, partitions);
    case Strategy::kRoundRobin: return round_robin(m, partitions);
    case Strategy::kSticky: return sticky(m, members, partitions);
  }
  return empty_assignment(m);
}

}  // namespace rill::group
