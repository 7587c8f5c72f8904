// GroupStore: one consumer group's state in shared memory (the object of
// group_store_format.h), shared by every process of the namespace with no
// coordinator process: each operation locks the group, loads its state,
// removes the members found dead or expired, applies the coordinator's rules
// (core/group/coordinator.h) and stores the state back.
//
// Liveness: each member has a slot with its process identity (pid + start
// time), its last heartbeat and its last poll, written without the lock. A
// member whose process is gone is removed by the next operation of anyone;
// one with no heartbeat for its session.timeout, or no poll for its
// max.poll.interval, likewise.
//
// Durable namespaces: every change of committed offsets is appended to the
// group's commit log (commit_log.h) and synced before it is stored in
// memory; a group's object made after a reboot starts from that log.
//
// Hostile memory: the state is decoded with every length checked
// (group_codec.h); a state that does not decode is kCorrupt, naming the
// object and what to do, and nothing is stored over it.
//
// Thread safety: every method may be called from any thread; operations on
// one group are serialised by its robust process-shared lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/client/group_store_format.h"
#include "core/group/coordinator.h"
#include "rill/status.h"
#include "rill/topic.h"

namespace rill::ipc {
class Region;
}

namespace rill::client {

class GroupStore {
 public:
  // Opens group `group` of `ns`, making its object if absent and `create`
  // (kNotFound otherwise). kInvalidArgument for a bad group name.
  static Result<std::shared_ptr<GroupStore>> open(Namespace& ns, std::string_view group, bool create);
  // The names of the groups `ns` has in memory now.
  static std::vector<std::string> list(Namespace& ns);
  // Removes the group's object; refused (kInvalidArgument) while it has members.
  static Status remove(Namespace& ns, std::string_view group);
  static Status validate_name(std::string_view group);

  const std::string& name() const noexcept { return name_; }

  // Under the group's lock: loads the state, removes expired members (see
  // the top), runs `fn`, and stores the state if it changed. What `fn`
  // returns is returned (the state is stored even when it is an error, as
  // an expiry may have changed it: `fn` changes nothing it refuses).
  // `version` (if given): version() once the state is stored (or as it
  // was, if unchanged), read under the lock; `expired` (if given): how many
  // members the expiry removed.
  Status update(const std::function<Status(group::GroupCoordinator&, group::GroupState&)>& fn,
                std::uint32_t* version = nullptr, std::size_t* expired = nullptr);
  // The state now (expired members removed, as update() does).
  Result<group::GroupState> read();

  // Member slots (no lock needed): take one under update(), for this process.
  group_object::Slot& slot(std::int32_t i) noexcept;
  // A free slot (or one whose process is dead and holds no member of
  // `state`), claimed for this process and member `seq`; -1 if none.
  // REQUIRES: inside update().
  std::int32_t take_slot(const group::GroupState& state, std::uint64_t seq) noexcept;
  // The generation as of the last store (acquire: the state is stored before it).
  std::int32_t generation() const noexcept;
  // Bumped by every store of the state (acquire, as generation()).
  std::uint32_t version() const noexcept;
  // Rung after every store; sleep on it with log::sleep_on().
  log::Doorbell& changed() noexcept;

 private:
  GroupStore(std::string name, std::string object, std::shared_ptr<ipc::Region> region, std::string data_dir,
             unsigned permissions);
  group_object::Header* header() const noexcept;
  Result<group::GroupState> load() const;  // under the lock
  void store(const group::GroupState& state, std::vector<std::byte> bytes) noexcept;  // under the lock
  group::Verdict judge(const group::MemberInfo& m, std::int64_t now_ns) noexcept;
  std::string damaged_advice() const;

  std::string name_;
  std::string object_;
  std::shared_ptr<ipc::Region> region_;
  std::string data_dir_;  // a durable namespace's: commits go to its commit log too (commit_log.h)
  unsigned permissions_;
};

}  // namespace rill::client
