// Namespaces and topics: where records live.
//
// A Namespace holds a registry of topics. How it is opened is the only thing
// that differs between rill's modes of use; producers and consumers work the
// same over any of them:
//   - Namespace::in_process()        topics in this process's memory (threads)
//   - Namespace::open_shared("name") topics in named shared memory, seen by
//                                    every process that opens the same name
// Shared-memory objects are named "rill.<namespace>.registry" and
// "rill.<namespace>.<topic>.<partition>" and created with mode 0600, or 0660
// and owned by a group for a namespace opened to it (SharedOptions::group).
//
// Thread safety: every Namespace and Topic method may be called from any
// thread. Every registry operation (create, open, list, describe, delete)
// takes the registry's robust process-shared lock: for microseconds to list
// or describe, for as long as mapping a topic's partitions takes to open one
// not yet open in this Namespace, and as long as allocating them takes to
// create one. Producing and consuming through an open Topic take none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rill/status.h"

namespace rill {

namespace client {
class RingTopic;
}

// What a full ring does to a reader that has not read what it is about to reuse.
enum class Overflow : std::uint8_t {
  // The ring keeps its capacity: the reader is overrun and told so
  // (kOffsetOutOfRange, or a skip count; see ConsumerOptions::on_overrun).
  kRetain,
  // Producers wait for the slowest live registered reader (every Consumer
  // registers), for at most overflow_timeout_ms; then send() fails with
  // kTimedOut naming that reader. Readers of dead processes are ignored.
  kBlock,
};
std::string_view overflow_name(Overflow o) noexcept;  // "retain", "block"

struct TopicConfig {
  std::int32_t partitions = 1;
  // Bytes per segment including its header and sparse index (multiple of 4096).
  std::uint64_t segment_bytes = 4ull << 20;
  // Segments per partition ring (>= 4). The ring retains segment_count - 3
  // full segments besides the one being written; two are always being prepared.
  std::uint32_t segment_count = 8;
  // Data bytes between sparse index entries (power of two).
  std::uint32_t index_interval = 4096;
  Overflow overflow = Overflow::kRetain;
  std::uint32_t overflow_timeout_ms = 5000;  // Overflow::kBlock: a producer's longest wait

  // ---- durable namespaces (SharedOptions::data_dir); ignored elsewhere
  // True: this topic lives in memory only, like a topic of a namespace
  // without a data folder (`--memory-only`).
  bool memory_only = false;
  // Bytes of one segment file on disk (Kafka's segment.bytes): retention
  // deletes whole files. 64 KiB to 2 GiB.
  std::uint64_t file_segment_bytes = 1ull << 30;
  // Retention of the files (Kafka's retention.bytes, retention.ms): the
  // oldest whole files go once the partition's files hold more than
  // retention_bytes, or once every record in them is older than
  // retention_ms. 0: keep everything.
  std::uint64_t retention_bytes = 0;
  std::int64_t retention_ms = 0;

  // kInvalidArgument naming the bad field, or OK.
  Status validate() const;
  // Shared memory one partition needs.
  std::uint64_t partition_bytes() const;
};

struct PartitionInfo {
  std::int32_t partition = 0;
  std::int64_t earliest_offset = 0;  // oldest retained (in memory, or on disk for a durable topic)
  std::int64_t latest_offset = 0;    // next to be produced
  // Durable topics: offsets below written_offset are in the files, below
  // durable_offset on stable storage; log_start_offset is the first offset
  // the files hold and disk_bytes what they take. -1 / 0 elsewhere.
  std::int64_t log_start_offset = -1;
  std::int64_t written_offset = -1;
  std::int64_t durable_offset = -1;
  std::uint64_t disk_bytes = 0;
};

// What a producer registered on a partition is doing (its claim slot).
enum class ClaimState : std::uint8_t {
  kIdle,        // between records
  kClaiming,    // taking a frame's space
  kWriting,     // writing a claimed frame
  kAbandoning,  // its process died; another process is abandoning the claim
  kRolling,     // moving the partition to its next segment
  kDamaged,     // the slot holds no valid state
};
std::string_view claim_state_name(ClaimState s) noexcept;  // "idle", ..., "rolling", "?"

// A producer registered on a partition, live or dead: a dead process's
// registration stays until Namespace::gc() or the next producer reaps it.
struct ProducerInfo {
  std::int32_t partition = 0;
  std::int32_t pid = 0;
  bool alive = false;
  ClaimState state = ClaimState::kIdle;
};

// A registered reader (every Consumer registers on its partitions).
struct ReaderInfo {
  std::int32_t partition = 0;
  std::int32_t pid = 0;
  bool alive = false;
  std::int64_t position = 0;       // next offset it reads
  std::uint64_t lag = 0;           // records between position and the partition's latest offset
  std::int64_t registered_ns = 0;  // when it registered, ns since the Unix epoch
};

struct TopicInfo {
  std::string name;
  TopicConfig config;
  std::string data_dir;                // the topic's folder, for a durable topic; empty otherwise
  std::uint64_t max_record_bytes = 0;  // largest frame a partition accepts
  std::vector<PartitionInfo> partitions;
  std::vector<ProducerInfo> producers;  // by partition
  std::vector<ReaderInfo> readers;      // by partition
};

// A shared namespace as Namespace::list_shared() finds it in /dev/shm.
struct SharedNamespaceInfo {
  std::string name;
  std::uint64_t bytes = 0;   // shared memory its objects hold
  std::size_t objects = 0;   // shared-memory objects named rill.<name>.*
  // OK: the counts below are filled in. kNotFound: objects without a registry
  // (leftovers of a crash; gc() removes them). kPermissionDenied: another
  // user's namespace. Anything else: damaged, and the message says what to do.
  Status status;
  std::size_t topics = 0;
  std::size_t producer_processes = 0;  // live processes with a producer registered on one of its partitions
  std::size_t reader_processes = 0;    // live processes with a registered reader
};

// What Namespace::gc() did to one namespace.
struct GcReport {
  std::string name;
  std::uint32_t slots_freed = 0;         // producer and reader registrations of dead processes
  std::uint64_t records_abandoned = 0;   // offsets of dead producers' unfinished records, now skipped
  std::vector<std::string> removed;      // shared-memory objects removed (names under /dev/shm)
  std::vector<std::string> warnings;     // what it found damaged and left in place, and what to do
  bool empty() const { return slots_freed == 0 && records_abandoned == 0 && removed.empty(); }
};

class Topic;

// How Namespace::open_shared opens (or creates) a shared namespace.
struct SharedOptions {
  // Empty: a namespace this call creates is private to this user - every
  // shared-memory object of it is mode 0600 - and an existing one is opened
  // as it is.
  // A Unix group (a name, or a gid as a number): a namespace this call creates
  // is open to that group - its registry and every topic's partitions, whoever
  // of the group creates them, are mode 0660 and owned by the group. The
  // creating user must be a member of the group (or root). An existing
  // namespace must have been created for the same group.
  std::string group;
  // False: open only an existing namespace (kNotFound otherwise), as
  // housekeeping does, which must not bring back one just deleted.
  bool create = true;
  // True: a namespace this call creates belongs to this process (recorded
  // in its registry), and gc() removes it - every object - once the process
  // is gone: a scratch namespace, as `rill demo` and `rill bench` make.
  // No effect on a namespace that exists.
  bool private_to_process = false;
  // A folder: the namespace is durable. Its catalog of topics and every
  // partition's log live there (doc/segment_format.md, doc/catalog_format.md),
  // and topics created in it are durable unless TopicConfig::memory_only.
  // The folder is recorded in the registry: opening the namespace with
  // another folder is refused, naming both; opening it without one uses the
  // recorded one. After a reboot (shared memory gone) the first process that
  // opens the namespace with its folder rebuilds the registry and the rings
  // from the files: every record at its offset. Made if missing (0700, or
  // 0770 with `group`). Empty: in memory only (or the recorded folder).
  std::string data_dir{};
};

class Namespace {
 public:
  // A namespace private to this process (anonymous memory).
  static Result<std::shared_ptr<Namespace>> in_process();
  // Opens (creating if absent) the shared namespace `name`. Errors:
  // kInvalidArgument (bad name, unknown group, or a group other than the one
  // the namespace was created for), kPermissionDenied (the namespace is
  // another user's and not open to this one, or this user may not create
  // objects for options.group: the message names the owner, group and mode,
  // and what to do), kResourceExhausted (no room in /dev/shm), kCorrupt.
  static Result<std::shared_ptr<Namespace>> open_shared(std::string_view name, const SharedOptions& options = {});
  // $RILL_NS if set, otherwise "default".
  static std::string default_name();

  // Housekeeping of shared namespaces. No daemon keeps them tidy: any process
  // may call these at any time, alongside live producers and consumers.
  //
  // Every namespace with an object in /dev/shm, sorted by name; namespaces
  // this user may not open are listed with their status saying so.
  static Result<std::vector<SharedNamespaceInfo>> list_shared();
  // Just the names list_shared() would list, sorted: a directory listing,
  // without opening any namespace.
  static std::vector<std::string> shared_names();
  // Cleans up after processes that died: frees their producer and reader
  // registrations, skips their unfinished records, finishes topic creations
  // and deletions they left half done, removes objects no topic owns (at
  // least a minute old: a topic being created has objects its registry entry
  // does not list yet), registry drafts of dead creators, and the namespace
  // itself if it was private to a process that is gone. kNotFound if the
  // namespace has no object; other errors say what is damaged.
  static Result<GcReport> gc(std::string_view name);
  // Removes every shared-memory object of namespace `name` (registry and
  // partitions). Processes that have it open keep their mappings until they
  // close it; new opens find no namespace. kNotFound if it has no object.
  static Status remove_shared(std::string_view name);

  // Kafka's rules: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
  static Status validate_topic_name(std::string_view name);
  // 1-64 characters of [a-zA-Z0-9_-].
  static Status validate_namespace_name(std::string_view name);

  virtual ~Namespace() = default;

  virtual const std::string& name() const = 0;
  // True for open_shared namespaces.
  virtual bool shared() const = 0;
  // The data folder of a durable namespace (absolute); empty otherwise.
  virtual const std::string& data_dir() const = 0;
  // RILL_DATA_DIR, or empty: what the rill tool passes as
  // SharedOptions::data_dir when --data-dir is not given.
  static std::string default_data_dir();
  // The user the namespace's objects belong to: this process's effective
  // user, except when root opened another user's namespace - then that user,
  // who owns (and can read) every topic and record root makes in it.
  virtual std::uint32_t owner_uid() const = 0;
  // owner_uid()'s user name (its number if the user database has none).
  std::string owner_name() const;

  // Creates a topic and its partitions (memory allocated and pre-faulted now).
  // kAlreadyExists, kInvalidArgument (name, config), kResourceExhausted.
  virtual Status create_topic(std::string_view name, const TopicConfig& config) = 0;
  // Opens an existing topic; kNotFound if there is none of that name.
  virtual Result<std::shared_ptr<Topic>> open_topic(std::string_view name) = 0;
  // Names of every topic, sorted.
  virtual Result<std::vector<std::string>> list_topics() = 0;
  // Configuration, offsets, and the producers and readers registered on
  // each partition. kCorrupt if a partition is damaged past use.
  virtual Result<TopicInfo> describe_topic(std::string_view name) = 0;
  // Removes a topic. Processes that still have it open keep their mapping
  // until they close it; new opens fail with kNotFound. A durable topic's
  // files go too: its partitions are marked deleted first, so that a
  // process that still has it open writes nothing more to them - its sends
  // that wait for the files (Durability::kWritten, kFsync) fail with
  // kNotFound "the topic was deleted".
  virtual Status delete_topic(std::string_view name) = 0;
};

// An open topic: its partitions, mapped into this process. Only a Namespace
// makes one (open_topic); producers and consumers reach its partitions.
// Thread safety: immutable after open; share it freely (std::shared_ptr).
class Topic {
 public:
  virtual ~Topic() = default;
  virtual const std::string& name() const = 0;
  virtual const TopicConfig& config() const = 0;
  std::int32_t partition_count() const { return config().partitions; }

 private:
  friend class client::RingTopic;
  Topic() = default;
};

}  // namespace rill
