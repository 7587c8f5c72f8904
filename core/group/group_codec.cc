#include "core/group/group_codec.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "core/group/byte_codec.h"
#include "core/group/group_format.h"

namespace rill::group {

namespace {

// The largest counts a valid state can have.
constexpr std::size_t kMaxTopics = kMaxGroupPartitions + kMaxMembers * kMaxTopicsPerMember;
constexpr std::size_t kMaxOffsets = 1u << 20;

}  // namespace

std::vector<std::byte> encode_group(const GroupState& s) {
  std::set<std::string> names;
  for (const auto& [t, n] : s.partitions) names.insert(t);
  for (const MemberInfo& m : s.members) {
    names.insert(m.topics.begin(), m.topics.end());
    for (const TopicPartition& tp : m.owned) names.insert(tp.topic);
  }
  for (const auto& [id, tps] : s.target)
    for (const TopicPartition& tp : tps) names.insert(tp.topic);
  for (const auto& [tp, c] : s.offsets) names.insert(tp.topic);
  const std::vector<std::string> table(names.begin(), names.end());
  const auto index = [&](const std::string& t) {
    return static_cast<std::uint32_t>(std::lower_bound(table.begin(), table.end(), t) - table.begin());
  };
  Writer w;
  const auto tps = [&](const std::vector<TopicPartition>& list) {
    w.u32(static_cast<std::uint32_t>(list.size()));
    for (const TopicPartition& tp : list) {
      w.u32(index(tp.topic));
      w.i32(tp.partition);
    }
  };
  w.str(s.name);
  w.u8(static_cast<std::uint8_t>(s.strategy));
  w.i32(s.generation);
  w.u64(s.next_member);
  w.u32(static_cast<std::uint32_t>(table.size()));
  for (const std::string& t : table) w.str(t);
  w.u32(static_cast<std::uint32_t>(s.partitions.size()));
  for (const auto& [t, n] : s.partitions) {
    w.u32(index(t));
    w.i32(n);
  }
  w.u32(static_cast<std::uint32_t>(s.members.size()));
  for (const MemberInfo& m : s.members) {
    w.str(m.member_id);
    w.u64(m.seq);
    w.str(m.host);
    w.i32(m.pid);
    w.u64(m.start_time);
    w.i32(m.slot);
    w.u32(static_cast<std::uint32_t>(m.topics.size()));
    for (const std::string& t : m.topics) w.u32(index(t));
    w.i32(m.generation);
    w.u8(m.revoke_all ? 1 : 0);
    w.i64(m.session_timeout_ms);
    w.i64(m.max_poll_interval_ms);
    tps(m.owned);
    const auto it = s.target.find(m.member_id);
    tps(it == s.target.end() ? std::vector<TopicPartition>{} : it->second);
  }
  w.u32(static_cast<std::uint32_t>(s.offsets.size()));
  for (const auto& [tp, c] : s.offsets) {
    w.u32(index(tp.topic));
    w.i32(tp.partition);
    w.i64(c.offset);
    w.str(c.metadata);
    w.i32(c.generation);
    w.i64(c.commit_ms);
  }
  const std::vector<std::byte>& body = w.bytes();
  Writer h;
  h.u32(kGroupMagic);
  h.u16(kGroupVersion);
  h.u16(0);
  h.u32(static_cast<std::uint32_t>(body.size()));
  h.u32(0);
  h.u64(XXH3_64bits(body.data(), body.size()));
  std::vector<std::byte> out = std::move(h.bytes());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<GroupState> decode_group(std::span<const std::byte> bytes) {
  const auto corrupt = [](const std::string& what, std::size_t at) {
    return Status(Code::kCorrupt, "consumer group state: " + what + " (byte " + std::to_string(at) + ")");
  };
  Reader h(bytes);
  std::uint32_t magic = 0, body_bytes = 0, reserved = 0;
  std::uint16_t version = 0, reserved16 = 0;
  std::uint64_t sum = 0;
  if (!h.u32(&magic) || !h.u16(&version) || !h.u16(&reserved16) || !h.u32(&body_bytes) || !h.u32(&reserved) ||
      !h.u64(&sum))
    return corrupt("shorter than its header", 0);
  if (magic != kGroupMagic) return corrupt("bad magic", 0);
  if (version != kGroupVersion) return corrupt("unknown version " + std::to_string(version), 4);
  if (reserved16 != 0 || reserved != 0) return corrupt("reserved bytes are not zero", reserved16 != 0 ? 6 : 12);
  if (body_bytes != bytes.size() - kGroupHeaderBytes) return corrupt("body length does not match", 8);
  const std::span<const std::byte> body = bytes.subspan(kGroupHeaderBytes);
  if (XXH3_64bits(body.data(), body.size()) != sum) return corrupt("checksum mismatch", 16);
  Reader r(body);
  const auto at = [&] { return kGroupHeaderBytes + r.at(); };
  GroupState s;
  std::uint8_t strategy = 0;
  std::uint32_t n = 0;
  if (!r.str(&s.name, kMaxNameBytes) || !r.u8(&strategy) || !r.i32(&s.generation) || !r.u64(&s.next_member))
    return corrupt("truncated", at());
  if (strategy > static_cast<std::uint8_t>(Strategy::kSticky)) return corrupt("unknown strategy", at());
  s.strategy = static_cast<Strategy>(strategy);
  std::vector<std::string> table;
  if (!r.count(&n, kMaxTopics, 2)) return corrupt("bad topic count", at());
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string t;
    if (!r.str(&t, kMaxNameBytes) || t.empty()) return corrupt("bad topic name", at());
    if (!table.empty() && t <= table.back()) return corrupt("topic table out of order", at());
    table.push_back(std::move(t));
  }
  const auto topic = [&](std::string* out) {
    std::uint32_t i = 0;
    if (!r.u32(&i) || i >= table.size()) return false;
    *out = table[i];
    return true;
  };
  const auto tp_list = [&](std::vector<TopicPartition>* out) {
    std::uint32_t k = 0;
    if (!r.count(&k, kMaxGroupPartitions, 8)) return false;
    for (std::uint32_t i = 0; i < k; ++i) {
      TopicPartition tp;
      if (!topic(&tp.topic) || !r.i32(&tp.partition) || tp.partition < 0) return false;
      if (!out->empty() && !(out->back() < tp)) return false;  // sorted, no duplicates
      out->push_back(std::move(tp));
    }
    return true;
  };
  if (!r.count(&n, kMaxTopics, 8)) return corrupt("bad subscribed topic count", at());
  std::size_t subscribed = 0;  // partitions of the subscribed topics, together
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string t;
    std::int32_t count = 0;
    if (!topic(&t) || !r.i32(&count) || count <= 0) return corrupt("bad subscribed topic", at());
    subscribed += static_cast<std::size_t>(count);
    if (subscribed > kMaxGroupPartitions) return corrupt("more subscribed partitions than a group has", at());
    if (!s.partitions.emplace(std::move(t), count).second) return corrupt("subscribed topic twice", at());
  }
  // A partition a member reads or is to read: of a subscribed topic's count
  // when that topic is subscribed (a member may still read one of a topic
  // nobody subscribes to any more, until it releases it).
  const auto in_range = [&](const std::vector<TopicPartition>& list) {
    return std::all_of(list.begin(), list.end(), [&](const TopicPartition& tp) {
      const auto it = s.partitions.find(tp.topic);
      return it == s.partitions.end() || tp.partition < it->second;
    });
  };
  if (!r.count(&n, kMaxMembers, 32)) return corrupt("bad member count", at());
  for (std::uint32_t i = 0; i < n; ++i) {
    MemberInfo m;
    std::uint32_t k = 0;
    std::uint8_t revoke_all = 0;
    if (!r.str(&m.member_id, kMaxNameBytes * 2) || m.member_id.empty() || !r.u64(&m.seq) ||
        !r.str(&m.host, kMaxNameBytes) ||
        !r.i32(&m.pid) || !r.u64(&m.start_time) || !r.i32(&m.slot) || !r.count(&k, kMaxTopicsPerMember, 4))
      return corrupt("bad member", at());
    for (std::uint32_t j = 0; j < k; ++j) {
      std::string t;
      if (!topic(&t) || (!m.topics.empty() && t <= m.topics.back())) return corrupt("bad member topics", at());
      m.topics.push_back(std::move(t));
    }
    if (!r.i32(&m.generation) || !r.u8(&revoke_all) || revoke_all > 1 || !r.i64(&m.session_timeout_ms) ||
        !r.i64(&m.max_poll_interval_ms) || m.session_timeout_ms <= 0 || m.session_timeout_ms > kMaxTimeoutMs ||
        m.max_poll_interval_ms <= 0 || m.max_poll_interval_ms > kMaxTimeoutMs)
      return corrupt("bad member", at());
    m.revoke_all = revoke_all == 1;
    std::vector<TopicPartition> target;
    if (!tp_list(&m.owned) || !tp_list(&target) || !in_range(m.owned) || !in_range(target))
      return corrupt("bad member partitions", at());
    if (!s.members.empty() && m.member_id <= s.members.back().member_id) return corrupt("members out of order", at());
    s.target[m.member_id] = std::move(target);
    s.members.push_back(std::move(m));
  }
  if (!r.count(&n, kMaxOffsets, 28)) return corrupt("bad offset count", at());
  for (std::uint32_t i = 0; i < n; ++i) {
    TopicPartition tp;
    CommittedOffset c;
    if (!topic(&tp.topic) || !r.i32(&tp.partition) || tp.partition < 0 || !r.i64(&c.offset) || c.offset < 0 ||
        !r.str(&c.metadata, kMaxMetadataBytes) || !r.i32(&c.generation) || !r.i64(&c.commit_ms))
      return corrupt("bad committed offset", at());
    if (!s.offsets.empty() && !(s.offsets.rbegin()->first < tp)) return corrupt("offsets out of order", at());
    s.offsets.emplace_hint(s.offsets.end(), std::move(tp), std::move(c));
  }
  if (!r.done()) return corrupt("bytes after the end", at());
  return s;
}

}  // namespace rill::group
