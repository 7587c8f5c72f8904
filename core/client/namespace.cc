// Namespace and Topic over a topic registry and one Region per partition.
// The two modes differ only in the RegionStore: anonymous memory kept in this
// process, or named shared-memory objects.

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <xxhash.h>

#include "core/client/catalog.h"
#include "core/client/disk_reader.h"
#include "core/client/durable.h"
#include "core/client/topic_rings.h"
#include "core/client/namespace_internal.h"
#include "core/client/object_names.h"
#include "core/client/registry_format.h"
#include "core/log/disk_log.h"
#include "core/log/flusher.h"
#include "core/log/partition_ring.h"
#include "io/file_system.h"
#include "ipc/clock.h"
#include "ipc/liveness.h"
#include "ipc/robust_mutex.h"
#include "ipc/region.h"
#include "ipc/shm_region.h"
#include "rill/producer.h"
#include "rill/topic.h"

namespace rill {

using client::CatalogTopic;
using client::partition_dir;
using client::read_catalog;
using client::write_catalog;
namespace {

// Where a namespace's regions come from.
class RegionStore {
 public:
  virtual ~RegionStore() = default;
  virtual Result<std::shared_ptr<ipc::Region>> create(const std::string& name, std::size_t size) = 0;
  // Opens region `name`, which its format says is `size` bytes (`kind`, for
  // messages: "a partition of topic 'orders'"); anything else is refused.
  virtual Result<std::shared_ptr<ipc::Region>> open(const std::string& name, std::size_t size,
                                                    const std::string& kind) = 0;
  virtual Status remove(const std::string& name) = 0;
  // How much a new region may use, when the store has a bound worth checking
  // before creating several regions; nullopt if it has none or cannot tell.
  virtual std::optional<ipc::ShmSpace> space() const = 0;
  // The names of the regions that start with `prefix`.
  virtual std::vector<std::string> names(const std::string& prefix) = 0;
};

class AnonymousStore final : public RegionStore {
 public:
  Result<std::shared_ptr<ipc::Region>> create(const std::string& name, std::size_t size) override {
    std::lock_guard lock(mu_);
    if (regions_.count(name)) return Status(Code::kAlreadyExists, name + " exists");
    auto r = ipc::create_anonymous_region(size);
    if (!r) return r.status();
    std::shared_ptr<ipc::Region> region(std::move(*r));
    regions_[name] = region;
    return region;
  }
  Result<std::shared_ptr<ipc::Region>> open(const std::string& name, std::size_t size,
                                            const std::string& kind) override {
    std::lock_guard lock(mu_);
    auto it = regions_.find(name);
    if (it == regions_.end()) return Status(Code::kNotFound, name + " does not exist");
    if (it->second->bytes().size() != size)
      return Status(Code::kCorrupt, name + " is " + std::to_string(it->second->bytes().size()) + " bytes, " + kind +
                                        " is exactly " + std::to_string(size) + " bytes");
    return it->second;
  }
  Status remove(const std::string& name) override {
    std::lock_guard lock(mu_);
    regions_.erase(name);
    return Status::ok();
  }
  // Ordinary process memory: the first write of create() finds out.
  std::optional<ipc::ShmSpace> space() const override { return std::nullopt; }
  std::vector<std::string> names(const std::string& prefix) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (auto it = regions_.lower_bound(prefix); it != regions_.end() && it->first.starts_with(prefix); ++it)
      out.push_back(it->first);
    return out;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<ipc::Region>> regions_;
};

// Creates every region with the access recorded in the namespace's registry
// header, whichever process creates it.
class SharedStore final : public RegionStore {
 public:
  explicit SharedStore(ipc::ShmAccess access) : access_(access) {}
  Result<std::shared_ptr<ipc::Region>> create(const std::string& name, std::size_t size) override {
    auto r = ipc::create_shared_region(name, size, access_);
    if (!r) return r.status();
    return std::shared_ptr<ipc::Region>(std::move(*r));
  }
  // Another user's object is used only if it is the namespace's group's.
  Result<std::shared_ptr<ipc::Region>> open(const std::string& name, std::size_t size,
                                            const std::string& kind) override {
    ipc::ShmExpected expected{.size = size, .kind = kind};
    if (access_.group) {
      expected.sharing = ipc::ShmExpected::Sharing::kGroup;
      expected.group = *access_.group;
    }
    auto r = ipc::open_shared_region(name, expected);
    if (!r) return r.status();
    return std::shared_ptr<ipc::Region>(std::move(*r));
  }
  Status remove(const std::string& name) override { return ipc::remove_shared_region(name); }
  std::optional<ipc::ShmSpace> space() const override {
    auto space = ipc::shm_space();
    if (!space) return std::nullopt;  // posix_fallocate in create() still refuses what does not fit
    return *space;
  }
  std::vector<std::string> names(const std::string& prefix) override {
    std::vector<std::string> out;
    for (const ipc::ShmListing& o : ipc::list_shared_regions(prefix)) out.push_back(o.name);
    return out;
  }

 private:
  ipc::ShmAccess access_;
};

using client::partition_object_name;

ClaimState claim_state(std::uint64_t slot_state) {
  switch (slot_state) {
    case log::kSlotIdle: return ClaimState::kIdle;
    case log::kSlotPending: return ClaimState::kClaiming;
    case log::kSlotWriting: return ClaimState::kWriting;
    case log::kSlotAbandoning: return ClaimState::kAbandoning;
    case log::kSlotRolling: return ClaimState::kRolling;
    default: return ClaimState::kDamaged;
  }
}

std::string_view entry_name(const registry::TopicEntry& e) {
  return std::string_view(e.name, std::min<std::size_t>(e.name_length, registry::kMaxNameBytes));
}

class TopicImpl final : public client::RingTopic {
 public:
  TopicImpl(std::string name, TopicConfig config, std::shared_ptr<ipc::Region> registry_region,
            std::vector<std::shared_ptr<ipc::Region>> regions, std::vector<log::PartitionRing> rings,
            std::uint64_t incarnation)
      : name_(std::move(name)),
        config_(config),
        registry_region_(std::move(registry_region)),
        regions_(std::move(regions)),
        rings_(std::move(rings)),
        incarnation_(incarnation) {}
  ~TopicImpl() override {
    // The rings' hooks point at the flushers: unhook before letting them go.
    for (log::PartitionRing& r : rings_) r.set_flush_hook(nullptr);
  }
  const std::string& name() const override { return name_; }
  const TopicConfig& config() const override { return config_; }
  log::PartitionRing& ring(std::int32_t p) override { return rings_[static_cast<std::size_t>(p)]; }
  log::Flusher* flusher(std::int32_t p) override {
    return flushers_.empty() ? nullptr : flushers_[static_cast<std::size_t>(p)].get();
  }
  std::uint64_t incarnation() const { return incarnation_; }

  // A durable topic: this process's flusher of each partition, shared with
  // every other open Topic of it (client::durable_partition()).
  void make_durable(const std::string& data_dir, unsigned permissions) {
    for (std::size_t p = 0; p < rings_.size(); ++p) {
      const log::DiskLogConfig disk{.partition = static_cast<std::int32_t>(p),
                                    .file_bytes = config_.file_segment_bytes,
                                    .index_interval = 4096,
                                    .permissions = permissions,
                                    .retention_bytes = config_.retention_bytes,
                                    .retention_ms = config_.retention_ms};
      flushers_.push_back(client::durable_partition(client::partition_dir(data_dir, name_, static_cast<std::int32_t>(p)),
                                                    incarnation_, rings_[p], disk, regions_[p]));
      rings_[p].set_flush_hook(flushers_.back().get());
    }
  }

 private:
  std::string name_;
  TopicConfig config_;
  std::shared_ptr<ipc::Region> registry_region_;  // holds the doorbell
  std::vector<std::shared_ptr<ipc::Region>> regions_;
  std::vector<log::PartitionRing> rings_;
  std::uint64_t incarnation_;
  std::vector<std::shared_ptr<log::Flusher>> flushers_;  // durable topics only
};

// ---- the registry lock: a robust, process-shared pthread mutex.

// How long a live thread may hold the registry lock before a locker gives up:
// every registry operation holds it for microseconds, a topic creation for as
// long as allocating its partitions takes.
constexpr std::int64_t kRegistryLockPatienceNs = 30'000'000'000;

class NamespaceImpl final : public Namespace {
 public:
  NamespaceImpl(std::string name, bool shared, std::unique_ptr<RegionStore> store,
                std::shared_ptr<ipc::Region> registry)
      : name_(std::move(name)), shared_(shared), store_(std::move(store)), registry_(std::move(registry)) {
    const registry::Header* h = header();
    if (h->version >= 3 && h->data_dir_length > 0 && h->data_dir_length <= registry::kMaxDataDirBytes)
      data_dir_.assign(h->data_dir, h->data_dir_length);
  }

  const std::string& name() const override { return name_; }
  bool shared() const override { return shared_; }
  const std::string& data_dir() const override { return data_dir_; }
  // Files of a namespace open to a group are the group's too.
  unsigned file_permissions() const { return header()->object_mode == registry::kGroupMode ? 0660 : 0600; }
  std::uint32_t owner_uid() const override { return owner_; }
  void set_owner_uid(std::uint32_t uid) { owner_ = uid; }

  registry::Header* header() const { return reinterpret_cast<registry::Header*>(registry_->bytes().data()); }

  // client::open_group_region() and its kin.
  Result<std::shared_ptr<ipc::Region>> open_region_locked(const std::string& object, std::size_t size, bool create,
                                                          const std::function<Status(ipc::Region&)>& init) {
    Lock lock(this);
    if (!lock.status()) return lock.status();
    auto opened = store_->open(object, size, "a consumer group's object");
    if (opened || opened.status().code() != Code::kNotFound || !create) return opened;
    auto made = store_->create(object, size);
    if (!made) return made.status();
    if (Status s = init(**made); !s) {
      (void)store_->remove(object);
      return s;
    }
    return made;
  }
  std::vector<std::string> region_names(const std::string& prefix) { return store_->names(prefix); }
  Status remove_region_locked(const std::string& object) {
    Lock lock(this);
    if (!lock.status()) return lock.status();
    return store_->remove(object);
  }
  registry::TopicEntry* entries() const {
    return reinterpret_cast<registry::TopicEntry*>(registry_->bytes().data() + registry::kEntriesOffset);
  }

  // Locks the registry (see lock_registry()); every caller checks status()
  // first and touches nothing when it is not ok.
  class Lock {
   public:
    explicit Lock(NamespaceImpl* ns) : ns_(ns), status_(ns->lock_registry(kRegistryLockPatienceNs)) {}
    ~Lock() {
      if (status_.is_ok()) ipc::RobustMutex(&ns_->header()->lock).unlock();
    }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    const Status& status() const { return status_; }

   private:
    NamespaceImpl* ns_;
    Status status_;
  };

  // Takes the registry's lock (ipc::lock_shared(): its bytes are not
  // trusted to be sound); if the previous holder died, repairs what it left
  // half done.
  Status lock_registry(std::int64_t patience_ns) {
    return ipc::lock_shared(ipc::RobustMutex(&header()->lock), header(), patience_ns,
                            "namespace '" + name_ + "'", damaged_registry_advice(),
                            [this] { repair_locked(); });
  }

  std::string damaged_registry_advice() const {
    return "when no process uses the namespace, remove it (`rm " + ipc::shared_region_path("rill." + name_ + ".*") +
           "`) and create its topics again";
  }

  // Rolls back half-created topics and finishes half-deleted ones.
  void repair_locked() {
    for (std::uint32_t i = 0; i < registry::kCapacity; ++i) {
      registry::TopicEntry& e = entries()[i];
      // Acquire pairs with the release stores of state in create_topic() and
      // delete_topic(): the entry's fields written before them are seen.
      std::uint32_t state = e.state.load(std::memory_order_acquire);
      if (state == registry::kCreating || state == registry::kDeleting) {
        // create_topic() refuses a name that exists, so a ready topic of the
        // same name means this entry is damaged or forged: its objects are
        // that topic's, and stay.
        if (find_locked(entry_name(e), false) == nullptr) {
          (void)remove_partitions(e);  // best effort: a leftover object is replaced on the next create
          if ((e.flags & registry::kEntryDurable) != 0) (void)forget_files(e);
        }
        e.state.store(registry::kFree, std::memory_order_release);
      }
    }
  }

  // A durable topic's partitions, marked deleted before the topic's files
  // go: a flusher of another process that still maps one writes no more
  // (PartitionRing::deleted()). Best effort: a partition that cannot be
  // mapped (damaged) has no flusher to stop.
  void mark_partitions_deleted(const registry::TopicEntry& e) {
    const TopicConfig config{.partitions = e.partitions, .segment_bytes = e.segment_bytes,
                             .segment_count = e.segment_count, .index_interval = e.index_interval};
    if (!validate_topic_name(entry_name(e)).is_ok() || !config.validate().is_ok()) return;
    for (std::int32_t p = 0; p < config.partitions; ++p) {
      auto region = store_->open(partition_object_name(name_, entry_name(e), p), config.partition_bytes(),
                                 "a partition of topic '" + std::string(entry_name(e)) + "'");
      if (!region) continue;
      auto ring = log::PartitionRing::attach((*region)->bytes(), p, nullptr);
      if (ring) ring->mark_deleted();
    }
  }

  // Removes every partition object of `e`; returns the first failure.
  Status remove_partitions(const registry::TopicEntry& e) {
    // A damaged name could name other objects: "t.0" and NULs would unlink
    // topic t's partition 0 (object names end at the first NUL).
    if (Status s = validate_topic_name(entry_name(e)); !s)
      return s.with_context("registry entry is damaged; its partition objects are left in place");
    Status first;
    std::int32_t n = std::clamp(e.partitions, 0, 4096);
    for (std::int32_t p = 0; p < n; ++p) {
      Status s = store_->remove(partition_object_name(name_, entry_name(e), p));
      if (first.is_ok() && !s.is_ok()) first = s;
    }
    return first;
  }

  // A durable topic's catalog line and partition folders, removed (a
  // deletion, or a creation rolled back). Best effort past the catalog.
  Status forget_files(const registry::TopicEntry& e) {
    const std::string topic(entry_name(e));
    if (Status s = validate_topic_name(topic); !s) return s;
    // A durable flag on an entry of a namespace with no folder is damage:
    // never resolve its files against "" (that would be the root folder).
    if (data_dir_.empty())
      return Status(Code::kCorrupt, "topic '" + topic + "' is marked durable but namespace '" + name_ +
                                        "' records no data folder; its files, if any, are left alone");
    io::FileSystem& fs = io::file_system();
    auto catalog = read_catalog(fs, data_dir_);
    if (!catalog) return catalog.status();
    const auto listed = std::find_if(catalog->begin(), catalog->end(), [&](const CatalogTopic& t) { return t.name == topic; });
    if (listed != catalog->end()) {
      catalog->erase(listed);
      if (Status s = write_catalog(fs, data_dir_, *catalog, file_permissions()); !s) return s;
    }
    Status first;
    for (std::int32_t p = 0; p < std::clamp(e.partitions, 0, 4096); ++p) {
      const std::string dir = partition_dir(data_dir_, topic, p);
      auto names = fs.list(dir);
      if (!names) continue;
      for (const std::string& n : *names) {
        Status s = fs.remove(dir + "/" + n);
        if (first.is_ok() && !s.is_ok()) first = s;
      }
      Status s = fs.remove_dir(dir);
      if (first.is_ok() && !s.is_ok()) first = s;
    }
    return first;
  }

  // kResourceExhausted, saying how much is needed and how much is free, if
  // the store cannot hold every partition of `config`. Other processes may
  // allocate at the same time: create() still refuses what does not fit.
  Status check_room(std::string_view topic, const TopicConfig& config) const {
    const std::optional<ipc::ShmSpace> space = store_->space();
    const std::uint64_t per_partition = config.partition_bytes();
    const std::uint64_t needed = per_partition * static_cast<std::uint64_t>(config.partitions);
    if (!space || needed <= space->free()) return Status::ok();
    const std::string partitions =
        std::to_string(config.partitions) + (config.partitions == 1 ? " partition" : " partitions");
    return Status(Code::kResourceExhausted,
                  "topic '" + std::string(topic) + "' needs " + ipc::format_bytes(needed, ipc::Rounding::kUp) +
                      " of shared memory (" + partitions + " x " +
                      ipc::format_bytes(per_partition, ipc::Rounding::kUp) + ") but " + space->describe() + " (" +
                      space->hint() + "; make topics smaller with --segment-size/--segments or fewer --partitions)");
  }

  registry::TopicEntry* find_locked(std::string_view topic, bool include_creating) {
    for (std::uint32_t i = 0; i < registry::kCapacity; ++i) {
      registry::TopicEntry& e = entries()[i];
      // Acquire pairs with create_topic()'s release of kCreating/kReady: the
      // name and geometry written before it are seen.
      std::uint32_t state = e.state.load(std::memory_order_acquire);
      if ((state == registry::kReady || (include_creating && state == registry::kCreating)) &&
          entry_name(e) == topic)
        return &e;
    }
    return nullptr;
  }

  Status create_topic(std::string_view topic, const TopicConfig& config) override {
    if (Status s = validate_topic_name(topic); !s) return s;
    if (Status s = config.validate(); !s) return s.with_context("topic '" + std::string(topic) + "'");
    Lock lock(this);
    if (!lock.status().is_ok()) return lock.status();
    return create_locked(topic, config, nullptr);
  }

  // Creates topic `topic` holding the lock. `start_offsets`: rebuilding a
  // durable topic from its files, each partition's ring starts where its
  // files end (and the catalog already lists it); null: a new topic.
  Status create_locked(std::string_view topic, const TopicConfig& config, const std::vector<std::int64_t>* start_offsets) {
    if (find_locked(topic, true)) return Status(Code::kAlreadyExists, "topic '" + std::string(topic) + "' already exists");
    const bool durable = !data_dir_.empty() && !config.memory_only;
    registry::TopicEntry* e = nullptr;
    // Acquire pairs with delete_topic()'s and a failed create's release of
    // kFree: the entry's objects are gone before it is reused.
    for (std::uint32_t i = 0; i < registry::kCapacity && !e; ++i)
      if (entries()[i].state.load(std::memory_order_acquire) == registry::kFree) e = &entries()[i];
    if (!e)
      return Status(Code::kResourceExhausted, "namespace '" + name_ + "' already holds " +
                                                  std::to_string(registry::kCapacity) + " topics; delete some first");
    // Before any partition object exists: a topic that cannot fit creates nothing.
    if (Status s = check_room(topic, config); !s) return s;
    e->partitions = config.partitions;
    e->segment_bytes = config.segment_bytes;
    e->segment_count = config.segment_count;
    e->index_interval = config.index_interval;
    e->incarnation = header()->next_incarnation++;
    e->created_ns = now_ns();
    e->name_length = static_cast<std::uint32_t>(topic.size());
    std::memset(e->name, 0, sizeof e->name);
    std::memcpy(e->name, topic.data(), topic.size());
    e->flags = durable ? registry::kEntryDurable : 0;
    // Relaxed: published by the release store of state just below.
    e->doorbell.sequence.store(0, std::memory_order_relaxed);
    e->doorbell.sleepers.store(0, std::memory_order_relaxed);
    // Pairs with the acquire loads in find_locked()/repair_locked().
    e->state.store(registry::kCreating, std::memory_order_release);

    log::PartitionGeometry geometry{config.segment_bytes, config.segment_count, config.index_interval,
                                    config.overflow == Overflow::kBlock, config.overflow_timeout_ms};
    geometry.durable = durable;
    for (std::int32_t p = 0; p < config.partitions; ++p) {
      geometry.start_offset = start_offsets != nullptr ? (*start_offsets)[static_cast<std::size_t>(p)] : 0;
      const std::string object = partition_object_name(name_, topic, p);
      auto region = store_->create(object, geometry.region_bytes());
      if (!region && region.status().code() == Code::kAlreadyExists) {
        // Left by a topic of this name that no registry entry owns any more.
        // Only its owner may remove it (/dev/shm is sticky): if that fails, say so.
        if (Status removed = store_->remove(object); !removed)
          region = removed.with_context("a leftover object is in the way");
        else
          region = store_->create(object, geometry.region_bytes());
      }
      Status failed;
      if (!region) {
        failed = region.status();
      } else if (auto ring = log::PartitionRing::create((*region)->bytes(), geometry, p, &e->doorbell); !ring) {
        failed = ring.status();
      }
      if (!failed.is_ok()) {
        (void)remove_partitions(*e);  // best effort; the failure reported is the create's
        // Release pairs with create_topic()'s acquire search for a free entry.
        e->state.store(registry::kFree, std::memory_order_release);
        const std::string needed = ipc::format_bytes(
            config.partition_bytes() * static_cast<std::uint64_t>(config.partitions), ipc::Rounding::kUp);
        return failed.with_context("creating topic '" + std::string(topic) + "' partition " + std::to_string(p) +
                                   " (the topic needs " + needed + " in all)");
      }
    }
    if (durable && start_offsets == nullptr) {
      // Listed in the catalog before it is ready: a creator that dies before
      // kReady is rolled back, catalog line and all (repair_locked()).
      Status listed = add_to_catalog(topic, config);
      if (!listed.is_ok()) {
        (void)remove_partitions(*e);
        // A leftover folder in the way is not this topic's to remove.
        if (listed.code() != Code::kAlreadyExists) (void)forget_files(*e);
        e->state.store(registry::kFree, std::memory_order_release);  // as above
        return listed.with_context("creating topic '" + std::string(topic) + "'");
      }
    }
    // Release pairs with the acquire loads in find_locked() and list_topics():
    // whoever sees kReady sees every partition created and initialised.
    e->state.store(registry::kReady, std::memory_order_release);
    return Status::ok();
  }

  Status add_to_catalog(std::string_view topic, const TopicConfig& config) {
    io::FileSystem& fs = io::file_system();
    auto catalog = read_catalog(fs, data_dir_);
    if (!catalog) return catalog.status();
    std::erase_if(*catalog, [&](const CatalogTopic& t) { return t.name == topic; });
    TopicConfig listed = config;
    listed.memory_only = false;
    catalog->push_back(CatalogTopic{std::string(topic), listed});
    // A topic's folders are made by its flusher; a leftover of an older topic
    // of this name (a deletion cut short) would mix its records in.
    for (std::int32_t p = 0; p < config.partitions; ++p) {
      auto there = fs.exists(partition_dir(data_dir_, topic, p));
      if (there && *there)
        return Status(Code::kAlreadyExists, partition_dir(data_dir_, topic, p) +
                                                " exists and belongs to no topic; move it away or remove it");
    }
    // Each partition's folder and first segment file, made now: a disk that
    // refuses them refuses the topic.
    for (std::int32_t p = 0; p < config.partitions; ++p) {
      const log::DiskLogConfig disk{.partition = p,
                                    .file_bytes = config.file_segment_bytes,
                                    .index_interval = 4096,
                                    .permissions = file_permissions()};
      auto files = log::DiskLog::open(fs, partition_dir(data_dir_, topic, p), disk, 0);
      if (!files) return files.status();
    }
    return write_catalog(fs, data_dir_, *catalog, file_permissions());
  }

  // Durable namespaces: creates, from the catalog, every topic the registry
  // lacks (all of them after a reboot), each partition's ring starting where
  // its files end. Holding the lock.
  Status rebuild_locked() {
    io::FileSystem& fs = io::file_system();
    if (Status s = fs.make_dirs(data_dir_, file_permissions() | ((file_permissions() & 0444) >> 2)); !s) return s;
    auto catalog = read_catalog(fs, data_dir_);
    if (!catalog) return catalog.status();
    for (const CatalogTopic& t : *catalog) {
      if (find_locked(t.name, true) != nullptr) continue;
      std::vector<std::int64_t> ends;
      for (std::int32_t p = 0; p < t.config.partitions; ++p) {
        const log::DiskLogConfig disk{.partition = p,
                                      .file_bytes = t.config.file_segment_bytes,
                                      .index_interval = 4096,
                                      .permissions = file_permissions()};
        auto files = log::DiskLog::open(fs, partition_dir(data_dir_, t.name, p), disk, 0);
        if (!files) return files.status().with_context("rebuilding topic '" + t.name + "' from its files");
        ends.push_back((*files)->end_offset());
      }
      if (Status s = create_locked(t.name, t.config, &ends); !s)
        return s.with_context("rebuilding topic '" + t.name + "' from " + data_dir_);
    }
    return Status::ok();
  }

  // Called once by open_shared() for a durable namespace.
  Status rebuild() {
    Lock lock(this);
    if (!lock.status().is_ok()) return lock.status();
    return rebuild_locked();
  }

  Result<std::shared_ptr<Topic>> open_topic(std::string_view topic) override {
    if (Status s = validate_topic_name(topic); !s) return s;
    Lock lock(this);
    if (!lock.status().is_ok()) return lock.status();
    registry::TopicEntry* e = find_locked(topic, false);
    if (!e) return Status(Code::kNotFound, "topic '" + std::string(topic) + "' does not exist in namespace '" + name_ + "'");
    {
      std::lock_guard guard(cache_mu_);
      auto it = cache_.find(std::string(topic));
      if (it != cache_.end()) {
        if (auto t = it->second.lock(); t && static_cast<TopicImpl*>(t.get())->incarnation() == e->incarnation) return t;
      }
    }
    TopicConfig config{.partitions = e->partitions, .segment_bytes = e->segment_bytes, .segment_count = e->segment_count, .index_interval = e->index_interval};
    if (Status s = config.validate(); !s) return s.with_context("registry entry of topic '" + std::string(topic) + "' is corrupt");
    std::vector<std::shared_ptr<ipc::Region>> regions;
    std::vector<log::PartitionRing> rings;
    // The size every partition must have, from the registry entry (checked
    // above), never from the object: a planted or damaged object of another
    // size is refused before it is mapped.
    const std::uint64_t partition_bytes = config.partition_bytes();
    const std::string kind = "a partition of topic '" + std::string(topic) + "'";
    for (std::int32_t p = 0; p < config.partitions; ++p) {
      auto region = store_->open(partition_object_name(name_, topic, p), partition_bytes, kind);
      if (!region && region.status().code() == Code::kCorrupt)
        return Status(Code::kCorrupt, "opening topic '" + std::string(topic) + "': " + region.status().message() +
                                          " (damaged, or not rill's; delete the topic with `rill --ns " + name_ +
                                          " topic delete " + std::string(topic) + "`)");
      if (!region) return region.status().with_context("opening topic '" + std::string(topic) + "'");
      auto ring = log::PartitionRing::attach((*region)->bytes(), p, &e->doorbell);
      if (!ring) return ring.status().with_context("topic '" + std::string(topic) + "' partition " + std::to_string(p));
      if (ring->segment_bytes() != config.segment_bytes || ring->segment_count() != config.segment_count)
        return Status(Code::kCorrupt, "topic '" + std::string(topic) + "' partition " + std::to_string(p) +
                                          " does not match its registry entry");
      regions.push_back(std::move(*region));
      rings.push_back(*ring);
    }
    // The overflow policy lives in the partitions' headers (producers read it there).
    config.overflow = rings.front().blocks_on_readers() ? Overflow::kBlock : Overflow::kRetain;
    config.overflow_timeout_ms = rings.front().block_timeout_ms();
    const bool durable = (e->flags & registry::kEntryDurable) != 0;
    if (durable) {
      if (data_dir_.empty())
        return Status(Code::kCorrupt, "topic '" + std::string(topic) + "' is durable but namespace '" + name_ +
                                          "' records no data folder (damaged registry)");
      auto catalog = read_catalog(io::file_system(), data_dir_);
      if (!catalog) return catalog.status();
      const auto listed = std::find_if(catalog->begin(), catalog->end(), [&](const CatalogTopic& c) { return c.name == topic; });
      if (listed == catalog->end())
        return Status(Code::kCorrupt, "topic '" + std::string(topic) + "' is durable but " + data_dir_ +
                                          "/catalog does not list it");
      config.file_segment_bytes = listed->config.file_segment_bytes;
      config.retention_bytes = listed->config.retention_bytes;
      config.retention_ms = listed->config.retention_ms;
    } else {
      config.memory_only = !data_dir_.empty();
    }
    auto t = std::make_shared<TopicImpl>(std::string(topic), config, registry_, std::move(regions), std::move(rings),
                                         e->incarnation);
    if (durable) t->make_durable(data_dir_, file_permissions());
    std::lock_guard guard(cache_mu_);
    cache_[std::string(topic)] = t;
    return std::shared_ptr<Topic>(t);
  }

  Result<std::vector<std::string>> list_topics() override {
    std::vector<std::string> names;
    Lock lock(this);
    if (!lock.status().is_ok()) return lock.status();
    // Acquire pairs with create_topic()'s release of kReady (the name is complete).
    for (std::uint32_t i = 0; i < registry::kCapacity; ++i)
      if (entries()[i].state.load(std::memory_order_acquire) == registry::kReady)
        names.emplace_back(entry_name(entries()[i]));
    std::sort(names.begin(), names.end());
    return names;
  }

  Result<TopicInfo> describe_topic(std::string_view topic) override {
    auto t = open_topic(topic);
    if (!t) return t.status();
    TopicInfo info;
    info.name = (*t)->name();
    info.config = (*t)->config();
    info.max_record_bytes = client::ring_of(**t, 0).max_frame_bytes();
    if (client::ring_of(**t, 0).durable()) info.data_dir = data_dir_;
    for (std::int32_t p = 0; p < (*t)->partition_count(); ++p) {
      log::PartitionRing& r = client::ring_of(**t, p);
      if (r.wedged())
        return Status(Code::kCorrupt, "topic '" + std::string(topic) + "' partition " + std::to_string(p) +
                                          " is stuck mid-roll with no process to finish it (damaged); delete the topic");
      const std::int64_t latest = r.latest_offset();
      PartitionInfo part{.partition = p, .earliest_offset = r.earliest_offset(), .latest_offset = latest,
                         .log_start_offset = -1, .written_offset = -1, .durable_offset = -1, .disk_bytes = 0};
      if (r.durable()) {
        part.written_offset = r.written_offset();
        part.durable_offset = r.durable_offset();
        if (const log::Flusher* f = client::flusher_of(**t, p); f != nullptr) {
          part.log_start_offset = client::disk_start_offset(f->dir());
          part.disk_bytes = client::disk_bytes(f->dir());
        }
        if (part.log_start_offset >= 0) part.earliest_offset = part.log_start_offset;
      }
      info.partitions.push_back(part);
      for (const auto& s : r.producers())
        info.producers.push_back(ProducerInfo{p, s.owner.pid, s.alive, claim_state(s.state)});
      for (const auto& rd : r.readers()) {
        // Unsigned: a damaged position cannot overflow the subtraction.
        const std::uint64_t lag =
            latest > rd.position ? static_cast<std::uint64_t>(latest) - static_cast<std::uint64_t>(rd.position) : 0;
        info.readers.push_back(ReaderInfo{p, rd.owner.pid, rd.alive, rd.position, lag, rd.registered_ns});
      }
    }
    return info;
  }

  Status delete_topic(std::string_view topic) override {
    if (Status s = validate_topic_name(topic); !s) return s;
    Lock lock(this);
    if (!lock.status().is_ok()) return lock.status();
    registry::TopicEntry* e = find_locked(topic, false);
    if (!e) return Status(Code::kNotFound, "topic '" + std::string(topic) + "' does not exist in namespace '" + name_ + "'");
    if (shared_) {
      // /dev/shm is sticky: only an object's owner (or root) may remove it.
      // Refuse before touching the entry rather than free it and leak the objects.
      for (std::int32_t p = 0; p < std::clamp(e->partitions, 0, 4096); ++p) {
        auto info = ipc::stat_shared_region(partition_object_name(name_, topic, p));  // never follows a link
        if (info && ipc::effective_uid() != 0 && info->owner != ipc::effective_uid())
          return Status(Code::kPermissionDenied, "topic '" + std::string(topic) + "' of namespace '" + name_ +
                                                     "' was created by user " + std::to_string(info->owner) +
                                                     "; only that user (or root) can delete it");
      }
    }
    // Release pairs with repair_locked()'s acquire: a deleter that dies from
    // here on leaves kDeleting, which the next locker finishes.
    e->state.store(registry::kDeleting, std::memory_order_release);
    if ((e->flags & registry::kEntryDurable) != 0) mark_partitions_deleted(*e);
    Status removed = remove_partitions(*e);
    if ((e->flags & registry::kEntryDurable) != 0) {
      Status forgotten = forget_files(*e);
      if (removed.is_ok()) removed = forgotten;
    }
    // Release pairs with create_topic()'s acquire search for a free entry.
    e->state.store(registry::kFree, std::memory_order_release);
    std::lock_guard guard(cache_mu_);
    cache_.erase(std::string(topic));
    return removed.with_context("deleting topic '" + std::string(topic) + "'");
  }

 private:
  std::string name_;
  bool shared_;
  std::uint32_t owner_ = ipc::effective_uid();  // see owner_uid()
  std::unique_ptr<RegionStore> store_;
  std::shared_ptr<ipc::Region> registry_;
  std::mutex cache_mu_;
  std::map<std::string, std::weak_ptr<Topic>> cache_;
  std::string data_dir_;  // registry::Header::data_dir; empty: memory only
};

// `owner_process`: registry::Header::owner_process (0: none).
Status init_registry(ipc::Region& region, const ipc::ShmAccess& access, std::uint64_t owner_process,
                     const std::string& data_dir) {
  auto* h = new (region.bytes().data()) registry::Header();
  h->owner_process = owner_process;
  h->data_dir_length = static_cast<std::uint32_t>(data_dir.size());
  std::memcpy(h->data_dir, data_dir.data(), data_dir.size());
  h->version = registry::kVersion;
  h->capacity = registry::kCapacity;
  h->next_incarnation = 1;
  h->object_mode = access.group ? registry::kGroupMode : registry::kOwnerOnlyMode;
  h->group_id = access.group ? static_cast<std::uint32_t>(*access.group) : 0;
  const int rc = ipc::RobustMutex::init(&h->lock);
  if (rc != 0) return Status(Code::kInternal, std::string("pthread_mutex_init: ") + std::strerror(rc));
  // Pairs with the acquire load in check_registry().
  h->magic.store(registry::kMagic, std::memory_order_release);
  return Status::ok();
}

// Makes a namespace's registry under a draft name and publishes it complete
// (doc/registry_format.md, "Creation"). kAlreadyExists if another process has
// published one first.
Result<std::shared_ptr<ipc::Region>> create_registry(const std::string& ns, const ipc::ShmAccess& access,
                                                     std::uint64_t owner_process, const std::string& data_dir) {
  const std::string object = client::registry_object_name(ns);
  if (ipc::shared_region_exists(object)) return Status(Code::kAlreadyExists, "shm:/" + object + " exists");
  // Per thread: threads of one process may create the same namespace at once.
  const std::string draft = client::registry_draft_name(ns, ipc::current_pid(), ipc::current_tid());
  (void)ipc::remove_shared_region(draft);  // left by a dead process that had this pid and thread id
  auto created = ipc::create_shared_region(draft, registry::kRegionBytes, access, /*announce=*/true);
  if (!created) return created.status();
  std::shared_ptr<ipc::Region> region(std::move(*created));
  if (Status s = init_registry(*region, access, owner_process, data_dir); !s) {
    (void)ipc::remove_shared_region(draft);
    return s;
  }
  // kNotFound: `rill ns gc` took the draft for a dead process's (its pid was
  // reused by this one at that moment); the caller may simply try again.
  if (Status s = ipc::publish_shared_region(draft, object); !s) return s;
  return region;
}

// Checks the header of an opened registry (`file`: what fstat said of it)
// and returns the access it records for the namespace's objects, which the
// file's own owner, group and mode must agree with.
Result<ipc::ShmAccess> check_registry(const ipc::Region& region, const std::string& what,
                                      const ipc::ShmObjectInfo& file) {
  if (region.bytes().size() != registry::kRegionBytes)
    return Status(Code::kCorrupt, what + " is " + std::to_string(region.bytes().size()) + " bytes, expected " +
                                      std::to_string(registry::kRegionBytes));
  auto* h = reinterpret_cast<const registry::Header*>(region.bytes().data());
  // A creator publishes magic last; give a racing creator a moment to finish.
  // Acquire pairs with init_registry()'s release of magic: the header is complete.
  for (int i = 0; i < 1000 && h->magic.load(std::memory_order_acquire) != registry::kMagic; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (h->magic.load(std::memory_order_acquire) != registry::kMagic)
    return Status(Code::kCorrupt, what + " has no valid header (damaged; when no process uses the namespace, "
                                         "remove it with `rm " + ipc::shared_region_path(what) + "`)");
  if (h->version < registry::kOldestReadableVersion || h->version > registry::kVersion ||
      h->capacity != registry::kCapacity)
    return Status(Code::kCorrupt, what + " has registry version " + std::to_string(h->version) +
                                      ", this build reads versions " + std::to_string(registry::kOldestReadableVersion) +
                                      " to " + std::to_string(registry::kVersion));
  const std::string path = ipc::shared_region_path(what);
  const bool mine = file.owner == ipc::effective_uid() || ipc::effective_uid() == 0;
  if (h->version < 2 || h->object_mode == registry::kOwnerOnlyMode) {
    // open_shared_region() let it through as shared with a group of this
    // user's; the namespace says it is private to its owner.
    if (!mine)
      return Status(Code::kPermissionDenied, path + " belongs to user " + ipc::user_name(file.owner) + " (" +
                                                 file.describe() + ") and records a namespace private to its owner");
    return ipc::ShmAccess::owner_only();
  }
  if (h->object_mode == registry::kGroupMode) {
    if (file.group != static_cast<gid_t>(h->group_id))
      return Status(Code::kCorrupt, path + " records group '" + ipc::group_name(static_cast<gid_t>(h->group_id)) +
                                        "' but belongs to group '" + ipc::group_name(file.group) + "' (" +
                                        file.describe() + "); damaged, or not rill's");
    return ipc::ShmAccess::for_group(static_cast<gid_t>(h->group_id));
  }
  char mode[16];
  std::snprintf(mode, sizeof mode, "%04o", h->object_mode);
  return Status(Code::kCorrupt, what + " records object mode " + mode + "; only 0600 and 0660 are valid");
}

// Opens an existing registry object: a regular file of exactly
// registry::kRegionBytes, this user's or shared with a group of this user's
// (check_registry() then holds it to the access it records), mapped with its
// mapping announced (ipc::ShmExpected::announce) for the lock's holder check.
// A creator from before drafts made the object, then gave it its group and
// mode, then sized it: a process opening the namespace at that moment found it
// empty (kCorrupt) or, if of the group, not yet open to it (kPermissionDenied).
// Give such a creator a second, as check_registry() does for the header; an
// object that stays so is reported then. `file` receives what fstat said.
Result<std::unique_ptr<ipc::Region>> open_registry(const std::string& object, ipc::ShmObjectInfo* file) {
  const ipc::ShmExpected expected{.size = registry::kRegionBytes,
                                  .kind = "a registry",
                                  .sharing = ipc::ShmExpected::Sharing::kAnyGroupOfMine,
                                  .announce = true};
  auto opened = ipc::open_shared_region(object, expected, file);
  const auto being_created = [&] {
    if (opened) return false;
    if (opened.status().code() != Code::kCorrupt && opened.status().code() != Code::kPermissionDenied) return false;
    auto info = ipc::stat_shared_region(object);
    return info && info->regular() && info->size == 0;
  };
  for (int i = 0; i < 1000 && being_created(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    opened = ipc::open_shared_region(object, expected, file);
  }
  return opened;
}

// What to do about a registry object that is not one (wrong type or size, or
// no header): remove it, if it is not in use.
std::string damaged_object_advice(const std::string& ns, const std::string& object) {
  return "if no process uses namespace '" + ns + "', remove it (`rill ns gc " + ns + "`, or `rm " +
         ipc::shared_region_path(object) + "`)";
}

// The namespace exists but this user may not use it: say whose it is and what to do.
// `opened`: the OS let this user open the registry, and rill refused it
// (another user's object, not shared with this one - perhaps planted).
Status namespace_denied(const std::string& ns, const std::string& object, const Status& cause, bool opened) {
  const std::string me = ipc::user_name(ipc::effective_uid());
  auto info = ipc::stat_shared_region(object);
  std::string advice;
  if (opened) {
    const std::string owner = info ? ipc::user_name(info->owner) : std::string("its owner");
    advice = "if it is not meant to be shared with you, ask " + (owner == "root" ? owner : owner + " or root") +
             " to remove it (`rill ns gc " + ns + "`)";
  } else if (info && (info->mode & 0060) == 0060) {
    const std::string group = ipc::group_name(info->group);
    advice = "it is open to group '" + group + "': ask an administrator to add user " + me +
             " to it (`usermod -aG " + group + " " + me + "`, then log in again)";
  } else {
    advice = "ask its owner" + (info ? " (" + ipc::user_name(info->owner) + ")" : std::string()) +
             " to create it with --group GROUP for a group you are in";
  }
  return Status(Code::kPermissionDenied,
                "namespace '" + ns + "' is not open to user " + me + ": " + cause.message() + "; " + advice);
}

// The namespace exists, with other access than the group asked for.
Status group_mismatch(const std::string& ns, const std::string& wanted_group, const ipc::ShmAccess& recorded) {
  if (!recorded.group)
    return Status(Code::kInvalidArgument,
                  "namespace '" + ns + "' was created private to its owner (without --group), not for group '" +
                      wanted_group + "'; open it without --group, or remove it (`rm " + ipc::shared_region_path("rill." + ns + ".*") +
                      "`) and create it again with --group " + wanted_group);
  const std::string group = ipc::group_name(*recorded.group);
  return Status(Code::kInvalidArgument, "namespace '" + ns + "' was created for group '" + group + "', not '" +
                                            wanted_group + "'; open it with --group " + group + " or without --group");
}

// `dir` made (mkdir -p, `mode`) and made absolute (realpath): what the
// registry records and later opens compare.
Result<std::string> absolute_data_dir(const std::string& dir, unsigned mode) {
  if (Status s = io::file_system().make_dirs(dir, mode); !s) return s.with_context("data folder");
  auto resolved = io::file_system().real_path(dir);
  if (!resolved) return resolved.status().with_context("data folder");
  std::string absolute = std::move(*resolved);
  if (absolute.size() > registry::kMaxDataDirBytes)
    return Status(Code::kInvalidArgument, "the data folder's path is longer than " +
                                              std::to_string(registry::kMaxDataDirBytes) + " bytes: " + absolute);
  return absolute;
}

bool name_char(char c, bool allow_dot) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         (allow_dot && c == '.');
}

}  // namespace

std::string_view overflow_name(Overflow o) noexcept { return o == Overflow::kBlock ? "block" : "retain"; }

std::string_view claim_state_name(ClaimState s) noexcept {
  switch (s) {
    case ClaimState::kIdle: return "idle";
    case ClaimState::kClaiming: return "claiming";
    case ClaimState::kWriting: return "writing";
    case ClaimState::kAbandoning: return "abandoning";
    case ClaimState::kRolling: return "rolling";
    case ClaimState::kDamaged: break;
  }
  return "?";
}

std::string Namespace::owner_name() const { return ipc::user_name(owner_uid()); }

Result<std::shared_ptr<ipc::Region>> client::open_group_region(Namespace& ns, const std::string& object,
                                                               std::size_t size, bool create,
                                                               const std::function<Status(ipc::Region&)>& init) {
  return static_cast<NamespaceImpl&>(ns).open_region_locked(object, size, create, init);
}

unsigned client::file_permissions(const Namespace& ns) {
  return ns.shared() ? static_cast<const NamespaceImpl&>(ns).file_permissions() : 0600;
}

std::vector<std::string> client::region_names(Namespace& ns, const std::string& prefix) {
  return static_cast<NamespaceImpl&>(ns).region_names(prefix);
}

Status client::remove_region(Namespace& ns, const std::string& object) {
  return static_cast<NamespaceImpl&>(ns).remove_region_locked(object);
}

std::uint64_t client::owner_process(const Namespace& ns) {
  return static_cast<const NamespaceImpl&>(ns).header()->owner_process;
}

Status TopicConfig::validate() const {
  if (partitions < 1 || partitions > 4096)
    return Status(Code::kInvalidArgument, "partitions must be between 1 and 4096, got " + std::to_string(partitions));
  if (overflow != Overflow::kRetain && overflow != Overflow::kBlock)
    return Status(Code::kInvalidArgument, "overflow must be retain or block");
  if (overflow == Overflow::kBlock && (overflow_timeout_ms == 0 || overflow_timeout_ms > 3'600'000))
    return Status(Code::kInvalidArgument, "overflow timeout must be 1 ms to 1 hour, got " +
                                              std::to_string(overflow_timeout_ms) + " ms");
  if (file_segment_bytes < 65536 || file_segment_bytes > (std::uint64_t{1} << 31))
    return Status(Code::kInvalidArgument, "file segment size must be 64 KiB to 2 GiB, got " +
                                              std::to_string(file_segment_bytes));
  if (retention_ms < 0) return Status(Code::kInvalidArgument, "retention must not be negative");
  log::PartitionGeometry g{segment_bytes, segment_count, index_interval};
  return g.validate();
}

std::uint64_t TopicConfig::partition_bytes() const {
  return log::PartitionGeometry{segment_bytes, segment_count, index_interval}.region_bytes();
}

Status Namespace::validate_topic_name(std::string_view name) {
  if (name.empty() || name.size() > registry::kMaxNameBytes)
    return Status(Code::kInvalidArgument, "topic name must be 1 to 249 characters, got " + std::to_string(name.size()));
  if (name == "." || name == "..") return Status(Code::kInvalidArgument, "topic name cannot be '.' or '..'");
  for (char c : name)
    if (!name_char(c, true))
      return Status(Code::kInvalidArgument, "topic name '" + std::string(name) +
                                                "' may contain only ASCII letters, digits, '.', '_' and '-'");
  return Status::ok();
}

Status Namespace::validate_namespace_name(std::string_view name) {
  if (name.empty() || name.size() > 64)
    return Status(Code::kInvalidArgument, "namespace name must be 1 to 64 characters, got " + std::to_string(name.size()));
  for (char c : name)
    if (!name_char(c, false))
      return Status(Code::kInvalidArgument, "namespace name '" + std::string(name) +
                                                "' may contain only ASCII letters, digits, '_' and '-'");
  return Status::ok();
}

std::string Namespace::default_data_dir() {
  const char* env = std::getenv("RILL_DATA_DIR");
  return env && *env ? std::string(env) : std::string();
}

std::string Namespace::default_name() {
  const char* env = std::getenv("RILL_NS");
  return env && *env ? std::string(env) : std::string("default");
}

Result<std::shared_ptr<Namespace>> Namespace::in_process() {
  auto store = std::make_unique<AnonymousStore>();
  auto region = ipc::create_anonymous_region(registry::kRegionBytes);
  if (!region) return region.status();
  std::shared_ptr<ipc::Region> registry(std::move(*region));
  if (Status s = init_registry(*registry, ipc::ShmAccess::owner_only(), 0, std::string()); !s) return s;
  return std::shared_ptr<Namespace>(
      std::make_shared<NamespaceImpl>("in-process", false, std::move(store), std::move(registry)));
}

Result<std::shared_ptr<Namespace>> Namespace::open_shared(std::string_view name, const SharedOptions& options) {
  if (Status s = validate_namespace_name(name); !s) return s;
  const std::string ns(name);
  const std::string object = client::registry_object_name(ns);
  // The data folder, absolute (it is recorded and compared), made if missing.
  std::string data_dir;
  if (!options.data_dir.empty()) {
    auto absolute = absolute_data_dir(options.data_dir, options.group.empty() ? 0700 : 0770);
    if (!absolute) return absolute.status().with_context("namespace '" + ns + "'");
    data_dir = *absolute;
  }
  ipc::ShmAccess wanted = ipc::ShmAccess::owner_only();
  if (!options.group.empty()) {
    auto gid = ipc::find_group(options.group);
    if (!gid) return gid.status().with_context("namespace '" + ns + "'");
    // Whether the namespace exists or not: only a member may create or use it.
    if (Status s = ipc::check_group_member(*gid); !s) return s.with_context("namespace '" + ns + "'");
    wanted = ipc::ShmAccess::for_group(*gid);
  }
  std::shared_ptr<ipc::Region> registry;
  ipc::ShmAccess access = wanted;
  Result<std::shared_ptr<ipc::Region>> created = Status(Code::kAlreadyExists, "not created");
  // A durable namespace whose registry is gone (a reboot) is rebuilt from its
  // folder by whoever opens it with the folder, creating or not.
  bool create = options.create;
  if (!create && !data_dir.empty()) {
    auto listed = io::file_system().exists(data_dir + "/" + client::kCatalogFile);
    create = listed && *listed;
  }
  if (create) {
    const std::uint64_t owner_process = options.private_to_process ? ipc::self().packed() : 0;
    created = create_registry(ns, wanted, owner_process, data_dir);
    for (int retry = 0; retry < 3 && !created && created.status().code() == Code::kNotFound; ++retry)
      created = create_registry(ns, wanted, owner_process, data_dir);
  } else if (!ipc::shared_region_exists(object)) {
    return Status(Code::kNotFound, "namespace '" + ns + "' does not exist");
  }
  if (created) {
    registry = std::move(*created);
  } else if (created.status().code() == Code::kAlreadyExists) {
    ipc::ShmObjectInfo file;
    auto opened = open_registry(object, &file);
    const bool os_opened = file.type != 0;  // fstat ran: the refusal, if any, is rill's
    if (!opened && opened.status().code() == Code::kPermissionDenied)
      return namespace_denied(ns, object, opened.status(), os_opened);
    if (!opened && opened.status().code() == Code::kCorrupt)
      return Status(Code::kCorrupt, "namespace '" + ns + "': " + opened.status().message() + "; " +
                                        damaged_object_advice(ns, object));
    if (!opened) return opened.status().with_context("namespace '" + ns + "'");
    registry = std::move(*opened);
    auto recorded = check_registry(*registry, object, file);
    if (!recorded && recorded.status().code() == Code::kPermissionDenied)
      return namespace_denied(ns, object, recorded.status(), true);
    if (!recorded) return recorded.status();
    if (!options.group.empty() && recorded->group != wanted.group) return group_mismatch(ns, options.group, *recorded);
    access = *recorded;
    // Root working in a user's namespace makes objects for that user, who
    // could otherwise neither open (0600) nor remove (sticky /dev/shm) them.
    if (ipc::effective_uid() == 0 && file.owner != 0) access.owner = file.owner;
  } else {
    return created.status().with_context("cannot create namespace '" + ns + "'");
  }
  auto opened = std::make_shared<NamespaceImpl>(ns, true, std::make_unique<SharedStore>(access), std::move(registry));
  opened->set_owner_uid(access.owner ? *access.owner : ipc::effective_uid());
  if (!data_dir.empty() && opened->data_dir() != data_dir) {
    if (opened->data_dir().empty())
      return Status(Code::kInvalidArgument,
                    "namespace '" + ns + "' exists in memory only, without a data folder; it cannot be opened with "
                    "--data-dir " + data_dir + " (remove it with `rill ns gc " + ns + "` once no process uses it, "
                    "or `rm " + ipc::shared_region_path("rill." + ns + ".*") + "`, then open it with --data-dir)");
    return Status(Code::kInvalidArgument, "namespace '" + ns + "' keeps its files in " + opened->data_dir() +
                                              ", not in " + data_dir + "; open it with --data-dir " +
                                              opened->data_dir() + " or without --data-dir");
  }
  if (!opened->data_dir().empty()) {
    if (Status s = opened->rebuild(); !s) return s.with_context("namespace '" + ns + "'");
  }
  return std::shared_ptr<Namespace>(std::move(opened));
}

}  // namespace rill
