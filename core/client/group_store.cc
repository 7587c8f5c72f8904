#include "core/client/group_store.h"

#include <algorithm>
#include <cstring>

#include "core/client/commit_log.h"
#include "core/client/namespace_internal.h"
#include "core/client/object_names.h"
#include "core/group/group_codec.h"
#include "ipc/clock.h"
#include "ipc/liveness.h"
#include "ipc/region.h"
#include "ipc/robust_mutex.h"
#include "io/file_system.h"
#include "ipc/shm_region.h"

namespace rill::client {

namespace {

using group_object::Header;
using group_object::Slot;

// How long a live thread may hold a group's lock before a locker gives up:
// every operation holds it for microseconds.
constexpr std::int64_t kGroupLockPatienceNs = 10'000'000'000;

Status init_object(ipc::Region& region, std::string_view group, const std::string& data_dir) {
  auto* h = new (region.bytes().data()) Header{};
  h->magic = group_object::kMagic;
  h->version = group_object::kVersion;
  h->slot_count = group_object::kSlots;
  h->name_length = static_cast<std::uint32_t>(group.size());
  std::memcpy(h->name, group.data(), group.size());
  h->state_bytes = group_object::kStateBytes;
  if (const int rc = ipc::RobustMutex::init(&h->lock); rc != 0)
    return Status(Code::kIoError, "cannot make the lock of consumer group '" + std::string(group) + "': " +
                                      std::strerror(rc));
  for (std::uint32_t i = 0; i < group_object::kSlots; ++i)
    new (region.bytes().data() + group_object::kSlotsOffset + i * sizeof(Slot)) Slot{};
  if (data_dir.empty()) return Status::ok();
  // A durable namespace's group starts from its commit log (after a reboot,
  // or once every process that had it in memory is gone).
  auto offsets = read_commit_log(data_dir, std::string(group), &h->log_end);
  if (!offsets) return offsets.status();
  if (offsets->empty()) return Status::ok();
  group::GroupState state{.name = std::string(group), .offsets = std::move(*offsets)};
  const std::vector<std::byte> bytes = group::encode_group(state);
  if (bytes.size() > group_object::kStateBytes)
    return Status(Code::kResourceExhausted, "consumer group '" + std::string(group) + "': its committed offsets take " +
                                                std::to_string(bytes.size()) + " bytes, more than the " +
                                                std::to_string(group_object::kStateBytes) + " its memory has");
  std::memcpy(region.bytes().data() + group_object::kStateOffset, bytes.data(), bytes.size());
  h->used[0].store(static_cast<std::uint32_t>(bytes.size()), std::memory_order_relaxed);  // published with the object
  return Status::ok();
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.';
}

}  // namespace

Status GroupStore::validate_name(std::string_view group) {
  if (group.empty() || group.size() > group_object::kMaxGroupIdBytes)
    return Status(Code::kInvalidArgument, "consumer group name must be 1 to " +
                                              std::to_string(group_object::kMaxGroupIdBytes) + " characters, got " +
                                              std::to_string(group.size()));
  if (group == "." || group == "..") return Status(Code::kInvalidArgument, "consumer group name cannot be '.' or '..'");
  if (!std::all_of(group.begin(), group.end(), name_char))
    return Status(Code::kInvalidArgument, "consumer group name '" + std::string(group) +
                                              "' may contain only ASCII letters, digits, '.', '_' and '-'");
  return Status::ok();
}

GroupStore::GroupStore(std::string name, std::string object, std::shared_ptr<ipc::Region> region,
                       std::string data_dir, unsigned permissions)
    : name_(std::move(name)),
      object_(std::move(object)),
      region_(std::move(region)),
      data_dir_(std::move(data_dir)),
      permissions_(permissions) {}

Result<std::shared_ptr<GroupStore>> GroupStore::open(Namespace& ns, std::string_view group, bool create) {
  if (Status s = validate_name(group); !s) return s;
  const std::string object = group_object_name(ns.name(), group);
  const std::string& data_dir = ns.data_dir();
  // A durable group exists as long as its commit log does.
  if (!create && !data_dir.empty()) {
    auto logged = io::file_system().exists(commit_log_path(data_dir, std::string(group)));
    create = logged && *logged;
  }
  auto region = open_group_region(ns, object, group_object::kObjectBytes, create,
                                  [&](ipc::Region& r) { return init_object(r, group, data_dir); });
  if (!region && region.status().code() == Code::kNotFound)
    return Status(Code::kNotFound, "consumer group '" + std::string(group) + "' does not exist in namespace '" +
                                       ns.name() + "'");
  if (!region) return region.status().with_context("consumer group '" + std::string(group) + "'");
  std::shared_ptr<GroupStore> store(
      new GroupStore(std::string(group), object, std::move(*region), data_dir, file_permissions(ns)));
  const Header* h = store->header();
  if (h->magic != group_object::kMagic || h->version != group_object::kVersion ||
      h->slot_count != group_object::kSlots || h->state_bytes != group_object::kStateBytes ||
      h->name_length != group.size() || std::memcmp(h->name, group.data(), group.size()) != 0)
    return Status(Code::kCorrupt, object + " is not the object of consumer group '" + std::string(group) +
                                      "' (its header is damaged); " + store->damaged_advice());
  return store;
}

std::vector<std::string> GroupStore::list(Namespace& ns) {
  std::vector<std::string> out;
  const std::string prefix = group_object_prefix(ns.name());
  for (const std::string& object : region_names(ns, prefix)) {
    const std::string shown = object.substr(prefix.size());
    if (shown.find('~') == std::string::npos) {
      out.push_back(shown);
      continue;
    }
    // A long name is shortened in the object's name: the header has it whole.
    auto region = open_group_region(ns, object, group_object::kObjectBytes, false,
                                    [](ipc::Region&) { return Status::ok(); });
    if (!region) continue;
    const auto* h = reinterpret_cast<const Header*>((*region)->bytes().data());
    if (h->magic != group_object::kMagic || h->name_length > group_object::kMaxGroupNameBytes) continue;
    std::string name(h->name, h->name_length);
    if (validate_name(name).is_ok() && group_object_name(ns.name(), name) == object) out.push_back(std::move(name));
  }
  if (!ns.data_dir().empty())
    for (const std::string& g : commit_log_groups(ns.data_dir()))
      if (validate_name(g).is_ok()) out.push_back(g);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Status GroupStore::remove(Namespace& ns, std::string_view group) {
  const std::string object = group_object_name(ns.name(), group);
  const auto remove_all = [&]() -> Status {
    if (!ns.data_dir().empty())
      if (Status s = remove_commit_log(ns.data_dir(), std::string(group)); !s) return s;
    return remove_region(ns, object);
  };
  auto store = open(ns, group, false);
  // A group whose object or commit log is damaged is removed as it is: what
  // its damage message advises once its members are stopped.
  if (!store && store.status().code() == Code::kCorrupt) return remove_all();
  if (!store) return store.status();
  // Under the group's lock, so that no member joins between the check and
  // the removal; one that opened the object before sees it deleted.
  Status s = (*store)->update([&](group::GroupCoordinator&, group::GroupState& st) {
    if (!st.members.empty()) {
      std::string who;
      for (const group::MemberInfo& m : st.members)
        who += (who.empty() ? "" : ", ") + m.member_id + " (pid " + std::to_string(m.pid) + ")";
      return Status(Code::kInvalidArgument, "consumer group '" + std::string(group) + "' has members (" + who +
                                                "): stop them before deleting it");
    }
    (*store)->header()->deleted.store(1, std::memory_order_relaxed);  // under the lock, read under it
    return remove_all();
  });
  if (s.code() == Code::kCorrupt) return remove_all();
  return s;
}

Header* GroupStore::header() const noexcept { return reinterpret_cast<Header*>(region_->bytes().data()); }

Slot& GroupStore::slot(std::int32_t i) noexcept {
  return *reinterpret_cast<Slot*>(region_->bytes().data() + group_object::kSlotsOffset +
                                  static_cast<std::size_t>(i) * sizeof(Slot));
}

std::int32_t GroupStore::generation() const noexcept {
  return header()->generation.load(std::memory_order_acquire);  // pairs with store()'s release
}

std::uint32_t GroupStore::version() const noexcept {
  return header()->changes.load(std::memory_order_acquire);  // pairs with store()'s release
}

log::Doorbell& GroupStore::changed() noexcept { return header()->changed; }

std::string GroupStore::damaged_advice() const {
  return "when none of its members runs, delete it (`rill group delete " + name_ + "`, or `rm " +
         ipc::shared_region_path(object_) + "`); its committed offsets are lost unless the namespace is durable";
}

Result<group::GroupState> GroupStore::load() const {
  const Header* h = header();
  // Under the lock: relaxed loads, ordered by the lock's acquire.
  const std::uint32_t active = h->active.load(std::memory_order_relaxed);
  if (active > 1) return Status(Code::kCorrupt, object_ + ": its active state buffer is " + std::to_string(active) +
                                                    "; " + damaged_advice());
  const std::uint32_t used = h->used[active].load(std::memory_order_relaxed);
  if (used == 0) return group::GroupState{.name = name_};
  if (used > group_object::kStateBytes)
    return Status(Code::kCorrupt, object_ + ": its state claims " + std::to_string(used) + " bytes; " + damaged_advice());
  const std::byte* at = region_->bytes().data() + group_object::kStateOffset + active * group_object::kStateBytes;
  auto state = group::decode_group(std::span(at, used));
  if (!state) return state.status().with_context(object_ + " (" + damaged_advice() + ")");
  if (state->name != name_) return Status(Code::kCorrupt, object_ + " holds group '" + state->name + "'; " + damaged_advice());
  return state;
}

void GroupStore::store(const group::GroupState& state, std::vector<std::byte> bytes) noexcept {
  Header* h = header();
  const std::uint32_t next = 1 - h->active.load(std::memory_order_relaxed);
  std::memcpy(region_->bytes().data() + group_object::kStateOffset + next * group_object::kStateBytes, bytes.data(),
              bytes.size());
  h->used[next].store(static_cast<std::uint32_t>(bytes.size()), std::memory_order_relaxed);
  // Release: a process that finds the new buffer active (under the lock, or
  // the generation word without it) sees its bytes.
  h->active.store(next, std::memory_order_release);
  h->generation.store(state.generation, std::memory_order_release);  // pairs with generation()'s acquire
  h->changes.fetch_add(1, std::memory_order_release);                // pairs with version()'s acquire
  log::ring_doorbell_fenced(h->changed);
}

group::Verdict GroupStore::judge(const group::MemberInfo& m, std::int64_t now_ns) noexcept {
  if (m.slot < 0 || m.slot >= static_cast<std::int32_t>(group_object::kSlots)) return group::Verdict::kDead;
  Slot& s = slot(m.slot);
  // Acquire: pairs with the member's release stores when it took the slot.
  const std::uint64_t process = s.process.load(std::memory_order_acquire);
  const ipc::ProcessId id{m.pid, 0, m.start_time};
  if (process != id.packed() || s.member_seq.load(std::memory_order_relaxed) != m.seq) return group::Verdict::kDead;
  if (ipc::liveness_packed(process) == ipc::Liveness::kDead) return group::Verdict::kDead;
  // Relaxed: timestamps, each read on its own. A time from the future (or
  // a damaged one) counts as now; an age that does not fit, as expired.
  const auto older_than = [&](std::int64_t then, std::int64_t limit_ms) {
    std::int64_t age = 0;
    if (then >= now_ns) return false;
    return __builtin_sub_overflow(now_ns, then, &age) || age > limit_ms * 1'000'000;
  };
  if (older_than(s.heartbeat_ns.load(std::memory_order_relaxed), m.session_timeout_ms))
    return group::Verdict::kSessionTimedOut;
  if (older_than(s.polled_ns.load(std::memory_order_relaxed), m.max_poll_interval_ms))
    return group::Verdict::kPollTimedOut;
  return group::Verdict::kKeep;
}

std::int32_t GroupStore::take_slot(const group::GroupState& state, std::uint64_t seq) noexcept {
  const ipc::ProcessId me = ipc::self();
  const std::int64_t now = ipc::monotonic_ns();
  for (std::uint32_t i = 0; i < group_object::kSlots; ++i) {
    Slot& s = slot(static_cast<std::int32_t>(i));
    // Acquire: pairs with the release store that took it (below, in another process).
    const std::uint64_t process = s.process.load(std::memory_order_acquire);
    const bool held = std::any_of(state.members.begin(), state.members.end(),
                                  [&](const group::MemberInfo& m) { return m.slot == static_cast<std::int32_t>(i); });
    // Free: no member of the state has it, and its process is this one
    // (a member of it that left or was removed) or gone.
    if (held || (process != 0 && process != me.packed() && ipc::liveness_packed(process) == ipc::Liveness::kAlive))
      continue;
    s.heartbeat_ns.store(now, std::memory_order_relaxed);
    s.polled_ns.store(now, std::memory_order_relaxed);
    s.member_seq.store(seq, std::memory_order_relaxed);
    s.process.store(me.packed(), std::memory_order_release);  // pairs with judge()'s acquire
    return static_cast<std::int32_t>(i);
  }
  return -1;
}

Status GroupStore::update(const std::function<Status(group::GroupCoordinator&, group::GroupState&)>& fn,
                          std::uint32_t* version, std::size_t* expired) {
  Header* h = header();
  // A holder that died left the previous state whole (store() switches
  // buffers last): nothing to repair.
  if (Status s = ipc::lock_shared(ipc::RobustMutex(&h->lock), h, kGroupLockPatienceNs,
                                  "consumer group '" + name_ + "'", damaged_advice(), [] {});
      !s)
    return s;
  struct Unlock {
    Header* h;
    ~Unlock() { ipc::RobustMutex(&h->lock).unlock(); }
  } const unlock{h};
  // Relaxed: written and read under the lock.
  if (h->deleted.load(std::memory_order_relaxed) != 0)
    return Status(Code::kNotFound, "consumer group '" + name_ + "' was deleted; join it again to make it anew");
  auto state = load();
  if (!state) return state.status();
  const std::vector<std::byte> before = group::encode_group(*state);
  group::GroupCoordinator coordinator(*state);
  const std::int64_t now = ipc::monotonic_ns();
  const auto removed = coordinator.expire([&](const group::MemberInfo& m) { return judge(m, now); });
  if (expired != nullptr) *expired = removed.size();
  const CommittedOffsets offsets_before = data_dir_.empty() ? CommittedOffsets{} : state->offsets;
  const Status result = fn(coordinator, *state);
  std::vector<std::byte> after = group::encode_group(*state);
  if (after != before) {
    if (after.size() > group_object::kStateBytes)
      return Status(Code::kResourceExhausted, "consumer group '" + name_ + "': its state would take " +
                                                  std::to_string(after.size()) + " bytes, more than the " +
                                                  std::to_string(group_object::kStateBytes) + " it has");
    if (!data_dir_.empty()) {
      // On disk before in memory: a commit acknowledged is on disk, and one
      // that fails to get there is stored nowhere.
      CommittedOffsets changed;
      for (const auto& [tp, c] : state->offsets)
        if (const auto it = offsets_before.find(tp); it == offsets_before.end() || !(it->second == c)) changed[tp] = c;
      if (Status s = append_commit_log(data_dir_, name_, changed, state->offsets, permissions_, &h->log_end); !s)
        return s;
    }
    store(*state, std::move(after));
  }
  if (version != nullptr) *version = h->changes.load(std::memory_order_relaxed);  // under the lock
  return result;
}

Result<group::GroupState> GroupStore::read() {
  group::GroupState out;
  Status s = update([&](group::GroupCoordinator&, group::GroupState& state) {
    out = state;
    return Status::ok();
  });
  if (!s) return s;
  return out;
}

}  // namespace rill::client
