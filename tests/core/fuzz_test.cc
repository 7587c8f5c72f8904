// Fuzz-style tests of damaged shared memory: every length and offset rill reads
// from a partition or a registry is bounds-checked, so corrupted or hostile
// bytes give an error (or a wait) - never a crash, undefined behaviour, a hang
// inside one call, or records that claim to be valid and are not.
//
// Each iteration damages sound bytes (random bytes, random words, or one chosen
// field), runs the readers, producers and registry calls over them, judges what
// they return, and puts the bytes back. Seeds are fixed and a failure names its
// iteration and its damage; iteration counts scale with RILL_TEST_SCALE.
//
// In-process partitions are fuzzed in heap copies of exactly their region's
// size, so that AddressSanitizer reports any byte touched outside them (an
// mmap'ed region has no redzones); shared ones in their /dev/shm objects,
// opened afresh through the namespace as another process would. A watchdog
// aborts an iteration that runs past its deadline, naming its damage: a call
// that never returns is a bug.
//
// Some damage legitimately makes a reader wait (a zeroed commit word reads as
// "not committed yet"): polls use a zero timeout, so that is fine. Producers by
// design wait for a claim of a live process, even a stopped one; an iteration
// whose damage makes a claim slot look like one skips its producer phase.
//
// What the fuzzing found is pinned down, one chosen damage each, under
// "regressions". RILL_FUZZ_TRACE=1 prints each iteration's damage and time
// (the last one printed names a crash's).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/futex.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/client/topic_rings.h"
#include "core/client/object_names.h"
#include "core/client/registry_format.h"
#include "core/log/partition_ring.h"
#include "ipc/liveness.h"
#include "rill/rill.h"
#include "support/frames.h"
#include "support/shm_guard.h"
#include "support/test_scale.h"

namespace rill {
namespace {

using std::chrono::nanoseconds;
using testing::scaled;
using testing::ShmGuard;

// Small segments, so that a few hundred records roll several times and
// partition 0 wraps its ring; a 256-byte index interval, so that seeks use
// the index.
constexpr TopicConfig kConfig{.partitions = 2, .segment_bytes = 16384, .segment_count = 5, .index_interval = 256};
constexpr int kRecordsPerPartition[] = {420, 70};

// Longest an iteration may take: a few seeks that each wait a second for a
// record that reads as uncommitted, under AddressSanitizer.
constexpr std::chrono::seconds kIterationDeadline{30};

// ---------------------------------------------------------------- watchdog

// Aborts the test binary, naming the work and its step, when the work runs past
// its deadline: a call that never returns cannot fail an assertion.
class Watchdog {
 public:
  Watchdog() : thread_([this] { watch(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Starts a deadline of `limit` from now for the work `what` describes.
  void arm(std::string what, std::chrono::seconds limit) {
    {
      std::lock_guard lock(mu_);
      what_ = std::move(what);
      step_ = "start";
      deadline_ = std::chrono::steady_clock::now() + limit;
      armed_ = true;
    }
    cv_.notify_all();
  }
  // Names the step the armed work is in (for the message).
  void step(const char* step) {
    std::lock_guard lock(mu_);
    step_ = step;
  }
  void disarm() {
    std::lock_guard lock(mu_);
    armed_ = false;
  }

 private:
  void watch() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (!armed_) {
        cv_.wait(lock);
        continue;
      }
      const auto deadline = deadline_;
      cv_.wait_until(lock, deadline);
      if (!stop_ && armed_ && deadline_ == deadline && std::chrono::steady_clock::now() >= deadline) {
        std::fprintf(stderr, "\nfuzz_test: HANG: %s (step: %s) ran past its deadline\n", what_.c_str(), step_);
        std::fflush(stderr);
        std::abort();
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::string what_;
  const char* step_ = "";
  std::chrono::steady_clock::time_point deadline_;
  bool armed_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// ---------------------------------------------------------------- the sound log

struct Rec {
  std::optional<std::string> key;
  std::string value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  std::int64_t timestamp_ns = 0;
};

// What the sound log of one partition holds.
struct PartitionLog {
  std::map<std::int64_t, Rec> records;  // by offset, also those the ring has retired since
  std::set<std::int64_t> abandoned;     // offsets of a claim whose producer died
  std::int64_t first_ts = 0, last_ts = 0;
};

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

Rec random_record(std::mt19937_64& rng, std::int64_t ts) {
  Rec r;
  r.timestamp_ns = ts;
  switch (rng() % 5) {
    case 0:
      break;  // null key
    case 1:
      r.key = "";
      break;
    case 2:
      r.key = "key-" + std::to_string(rng() % 1000);
      break;
    case 3:
      r.key = random_bytes(rng, 1 + rng() % 40);
      break;
    default:
      r.key = std::string(200 + rng() % 200, 'K');
      break;
  }
  r.value = random_bytes(rng, rng() % 10 == 0 ? 800 + rng() % 2400 : rng() % 160);
  if (rng() % 3 != 0) {
    for (std::uint64_t i = 0, n = rng() % 4; i < n; ++i) {
      std::optional<std::string> value;
      if (rng() % 4 != 0) value = random_bytes(rng, rng() % 24);
      r.headers.emplace_back(random_bytes(rng, rng() % 12), std::move(value));
    }
  }
  return r;
}

std::vector<Header> header_views(const Rec& r) {
  std::vector<Header> out;
  for (const auto& [k, v] : r.headers) out.push_back({k, v ? std::optional<std::string_view>(*v) : std::nullopt});
  return out;
}

// A process that is gone: this pid with another start time (see ipc/liveness.h).
ipc::ProcessId dead_process() {
  ipc::ProcessId id = ipc::self();
  id.start_time ^= 0x5a5a5a;
  return id;
}

// Reads a plain value out of (possibly damaged) bytes.
template <typename T>
T load(std::span<const std::byte> bytes, std::size_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}
template <typename T>
void store(std::span<std::byte> bytes, std::size_t at, T v) {
  std::memcpy(bytes.data() + at, &v, sizeof v);
}

// The bytes under partition p, found from its first record (offset 0,
// generation 0, position 0), whose address the documented layout fixes
// (doc/log_format.md: the header, then segment 0, whose data area ends the
// segment). REQUIRES: generation 0 is still live.
std::span<std::byte> region_of(log::PartitionRing& ring) {
  log::ReadCursor first{0, 0, 0};
  RecordView v[1];
  const log::ReadBatch b = ring.read(first, v, 1);
  EXPECT_EQ(b.count, 1u);
  EXPECT_EQ(v[0].offset(), 0);
  auto* base =
      const_cast<std::byte*>(v[0].frame()) - (ring.segment_bytes() - ring.data_capacity()) - log::kPartitionHeaderBytes;
  EXPECT_EQ(load<std::uint64_t>({base, 8}, 0), log::kPartitionMagic);
  return {base, load<std::uint64_t>({base, 64}, offsetof(log::PartitionHeader, region_bytes))};
}

// Leaves the claim of a batch of three records whose producer "died" half
// way through writing it; readers then skip its three offsets (an abandoned
// frame).
void abandon_a_claim(log::PartitionRing& ring, PartitionLog& log, std::int64_t ts) {
  auto slot = ring.acquire_slot(dead_process());
  ASSERT_TRUE(slot.is_ok()) << slot.status().to_string();
  const std::vector<std::string> values(3, "written when its producer died");
  log::Claim claim;
  ASSERT_EQ(ring.claim(static_cast<std::uint32_t>(log::align_frame(test::batch_size(values))), 3, *slot, &claim),
            log::ClaimStatus::kOk);
  (void)test::encode_batch(claim.data, claim.first_offset, ts, values);  // never committed
  ASSERT_EQ(ring.recover_abandoned(claim.generation), 3u);
  for (int i = 0; i < 3; ++i) log.abandoned.insert(claim.first_offset + i);
}

struct SoundLog {
  std::vector<PartitionLog> logs;
  std::vector<std::span<std::byte>> regions;
};

// Fills `topic` with the log every iteration damages: per partition, records of
// varied sizes, keys (null, empty, short, long) and headers (none, several,
// null values), across several segment rolls (partition 0 wraps its ring), an
// abandoned claim near the end, a dead producer's idle claim slot, and a dead
// and a live registered reader: every kind of frame and slot is there to damage.
SoundLog produce_sound_log(const std::shared_ptr<Topic>& topic, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  SoundLog out;
  out.logs.resize(static_cast<std::size_t>(topic->partition_count()));
  std::int64_t ts = 1'700'000'000'000'000'000;
  Producer producer(topic);
  for (std::int32_t p = 0; p < topic->partition_count(); ++p) {
    PartitionLog& log = out.logs[static_cast<std::size_t>(p)];
    log::PartitionRing& ring = client::ring_of(*topic, p);
    log.first_ts = ts;
    const int count = kRecordsPerPartition[p];
    for (int i = 0; i < count;) {
      if (i == count - 12) {
        abandon_a_claim(ring, log, ts += 1000);
        ++i;
        continue;
      }
      if (i % 17 == 5 && i + 3 < count - 12) {  // a batch: consecutive offsets in one claim
        std::vector<Rec> recs;
        std::vector<std::vector<Header>> headers;
        std::vector<Message> messages;
        for (int k = 0; k < 3; ++k) recs.push_back(random_record(rng, ts += 1000));
        for (const Rec& r : recs) headers.push_back(header_views(r));
        for (std::size_t k = 0; k < recs.size(); ++k)
          messages.push_back({recs[k].key ? std::optional<std::string_view>(*recs[k].key) : std::nullopt, recs[k].value,
                              recs[k].timestamp_ns, headers[k]});
        const std::int64_t first = ring.latest_offset();
        auto sent = producer.send_batch(messages, p);
        EXPECT_TRUE(sent.is_ok() && *sent == 3);
        for (std::size_t k = 0; k < recs.size(); ++k) log.records[first + static_cast<std::int64_t>(k)] = recs[k];
        i += 3;
        continue;
      }
      Rec r = random_record(rng, ts += 1000);
      const std::vector<Header> headers = header_views(r);
      auto sent = producer.send(r.key, r.value, {.partition = p, .timestamp_ns = r.timestamp_ns, .headers = headers});
      EXPECT_TRUE(sent.is_ok()) << sent.status().to_string();
      if (!sent) break;
      log.records[sent->offset] = std::move(r);
      if (i == 0) out.regions.push_back(region_of(ring));
      ++i;
    }
    log.last_ts = ts;
    EXPECT_TRUE(ring.acquire_slot(dead_process()).is_ok());  // left idle: a dead producer's slot
    EXPECT_TRUE(ring.register_reader(dead_process(), log.records.begin()->first).is_ok());
    EXPECT_TRUE(ring.register_reader(ipc::self(), ring.earliest_offset()).is_ok());
  }
  return out;
}

// ---------------------------------------------------------------- targets

// A topic over partitions in heap buffers of exactly their region's size, so
// that AddressSanitizer reports any byte read or written outside them.
class HeapTopic final : public client::RingTopic {
 public:
  // Copies the partitions of `source`, whose bytes are `regions`, and attaches to the copies.
  HeapTopic(const Topic& source, const std::vector<std::span<std::byte>>& regions)
      : name_(source.name()), config_(source.config()) {
    for (std::size_t p = 0; p < regions.size(); ++p) {
      buffers_.emplace_back(static_cast<std::byte*>(::operator new[](regions[p].size(), std::align_val_t{64})));
      std::memcpy(buffers_.back().get(), regions[p].data(), regions[p].size());
      regions_.emplace_back(buffers_.back().get(), regions[p].size());
      auto ring = log::PartitionRing::attach(regions_.back(), static_cast<std::int32_t>(p), nullptr);
      EXPECT_TRUE(ring.is_ok()) << ring.status().to_string();
      rings_.push_back(*ring);
    }
  }
  const std::string& name() const override { return name_; }
  const TopicConfig& config() const override { return config_; }
  log::PartitionRing& ring(std::int32_t p) override { return rings_[static_cast<std::size_t>(p)]; }
  const std::vector<std::span<std::byte>>& regions() const { return regions_; }

 private:
  struct Free {
    void operator()(std::byte* b) const { ::operator delete[](b, std::align_val_t{64}); }
  };
  std::string name_;
  TopicConfig config_;
  std::vector<std::unique_ptr<std::byte[], Free>> buffers_;
  std::vector<std::span<std::byte>> regions_;
  std::vector<log::PartitionRing> rings_;
};

// One topic under damage: the bytes of its partitions, a sound copy of them,
// and what they hold.
struct Target {
  std::shared_ptr<Namespace> ns;  // keeps the topic's registry (and doorbell) mapped
  std::shared_ptr<Topic> topic;
  std::vector<std::span<std::byte>> regions;
  std::vector<std::vector<std::byte>> sound;
  std::vector<PartitionLog> logs;
  // Opens the partitions afresh, as another process would: OK or the first failure.
  std::function<Status()> open_afresh;

  void keep_sound() {
    sound.clear();
    for (std::span<std::byte> r : regions) sound.emplace_back(r.begin(), r.end());
  }
  void restore() {
    for (std::size_t p = 0; p < regions.size(); ++p) std::memcpy(regions[p].data(), sound[p].data(), sound[p].size());
  }
};

Target in_process_target(std::uint64_t seed) {
  Target t;
  auto ns = Namespace::in_process();
  EXPECT_TRUE(ns.is_ok());
  t.ns = *ns;
  EXPECT_TRUE(t.ns->create_topic("fuzzed", kConfig).is_ok());
  auto topic = t.ns->open_topic("fuzzed");
  EXPECT_TRUE(topic.is_ok());
  SoundLog sound = produce_sound_log(*topic, seed);
  auto heap = std::make_shared<HeapTopic>(**topic, sound.regions);
  t.topic = heap;
  t.regions = heap->regions();
  t.logs = std::move(sound.logs);
  t.open_afresh = [heap] {
    for (std::size_t p = 0; p < heap->regions().size(); ++p) {
      auto ring = log::PartitionRing::attach(heap->regions()[p], static_cast<std::int32_t>(p), nullptr);
      if (!ring) return ring.status();
    }
    return Status::ok();
  };
  t.keep_sound();
  return t;
}

Target shared_target(const std::string& ns_name, std::uint64_t seed) {
  Target t;
  auto ns = Namespace::open_shared(ns_name);
  EXPECT_TRUE(ns.is_ok()) << ns.status().to_string();
  t.ns = *ns;
  EXPECT_TRUE(t.ns->create_topic("fuzzed", kConfig).is_ok());
  auto topic = t.ns->open_topic("fuzzed");
  EXPECT_TRUE(topic.is_ok());
  t.topic = *topic;
  SoundLog sound = produce_sound_log(t.topic, seed);
  t.regions = sound.regions;
  t.logs = std::move(sound.logs);
  t.open_afresh = [ns_name] {
    auto fresh = Namespace::open_shared(ns_name);
    if (!fresh) return fresh.status();
    auto opened = (*fresh)->open_topic("fuzzed");
    return opened ? Status::ok() : opened.status();
  };
  t.keep_sound();
  return t;
}

// ---------------------------------------------------------------- the documented layout

// One partition's geometry, read from its header (doc/log_format.md).
struct Layout {
  std::uint32_t segment_count;
  std::uint64_t segment_bytes, data_start, data_capacity;
  std::uint32_t index_interval, index_entries;

  explicit Layout(std::span<const std::byte> region)
      : segment_count(load<std::uint32_t>(region, offsetof(log::PartitionHeader, segment_count))),
        segment_bytes(load<std::uint64_t>(region, offsetof(log::PartitionHeader, segment_bytes))),
        data_start(load<std::uint64_t>(region, offsetof(log::PartitionHeader, data_start))),
        data_capacity(load<std::uint64_t>(region, offsetof(log::PartitionHeader, data_capacity))),
        index_interval(load<std::uint32_t>(region, offsetof(log::PartitionHeader, index_interval))),
        index_entries(load<std::uint32_t>(region, offsetof(log::PartitionHeader, index_entries))) {}
  std::size_t segment(std::uint64_t generation) const {
    return log::kPartitionHeaderBytes + (generation % segment_count) * segment_bytes;
  }
};

// The tail word: [63..48] generation tag, [47..28] records, [27..0] position / 8.
constexpr std::uint64_t kTailPositionMask = (1ull << 28) - 1;
constexpr std::size_t kTailAt = offsetof(log::PartitionHeader, tail);
constexpr std::size_t kCurrentGenerationAt = offsetof(log::PartitionHeader, current_generation);
constexpr std::size_t kSlotsUsedAt = offsetof(log::PartitionHeader, claim_slots_used);
// Bytes [0, 56) of the header are the geometry attach() checks; [56, 64) the
// overflow policy, which it cannot judge; from 64 on, what the ring changes.
constexpr std::size_t kPolicyAt = offsetof(log::PartitionHeader, block_on_readers);
constexpr std::size_t kStartOffsetAt = offsetof(log::PartitionHeader, start_offset);

struct FrameAt {
  std::size_t at;  // in the region
  std::uint64_t generation;
  std::uint32_t position;
  std::uint32_t length;
  std::uint64_t word;  // its commit word
};

// The committed frames of every segment in use, walked as the format says.
std::vector<FrameAt> frames_in(std::span<const std::byte> region) {
  const Layout l(region);
  std::vector<FrameAt> out;
  for (std::uint32_t s = 0; s < l.segment_count; ++s) {
    const std::size_t seg = log::kPartitionHeaderBytes + s * l.segment_bytes;
    const auto g = load<std::uint64_t>(region, seg);
    if (g == log::kUnusedGeneration) continue;
    for (std::uint64_t pos = 0; pos + 8 <= l.data_capacity;) {
      const auto word = load<std::uint64_t>(region, seg + l.data_start + pos);
      const std::uint32_t length = log::commit_length(word);
      if (word == 0 || log::is_end_of_segment(word) || log::commit_kind(word) == 0 ||
          length < log::kFrameHeaderSize || length > l.data_capacity - pos)
        break;
      out.push_back({seg + l.data_start + pos, g, static_cast<std::uint32_t>(pos), length, word});
      pos += log::align_frame(length);
    }
  }
  return out;
}

// ---------------------------------------------------------------- damage

struct Damage {
  std::string what;
  std::size_t partition = 0;
  bool geometry = false;  // bytes 0-55 of a partition header: opening the partition must fail
  bool policy = false;    // bytes 56-63 (overflow policy), which attach() cannot judge: no producers run
  bool forged = false;    // a frame rewritten consistently, checksum and all: not judged on content
};

// Damages one partition of a target: random bytes or words, or one chosen field.
class Damager {
 public:
  Damager(Target& t, std::mt19937_64& rng) : t_(t), rng_(rng) {
    for (std::span<std::byte> r : t.regions) frames_.push_back(frames_in(r));
  }

  // Damage to the words the ring steers by, one to three of them: the tail,
  // current_generation, claim_slots_used, a segment's generation, base
  // offset or seal, an index entry, or a random value or flipped bit in
  // any of those words (not the record bytes, nor the slots).
  Damage header_damage() {
    Damage d;
    p_ = rng_() % t_.regions.size();
    region_ = t_.regions[p_];
    d.partition = p_;
    d.what = "partition " + std::to_string(p_) + ": ";
    for (std::uint64_t i = 0, n = 1 + below(3) / 2 + below(3) / 2; i < n; ++i) {
      if (i > 0) d.what += "; then ";
      const std::uint64_t pick = below(100);
      if (pick < 35) d.what += tail_word();
      else if (pick < 45) d.what += partition_header();
      else if (pick < 70) d.what += segment_header();
      else if (pick < 80) d.what += index_entry();
      else d.what += header_word();
    }
    return d;
  }

  Damage damage() {
    Damage d;
    p_ = rng_() % t_.regions.size();
    region_ = t_.regions[p_];
    d.partition = p_;
    d.what = "partition " + std::to_string(p_) + ": ";
    const std::uint64_t pick = rng_() % 100;
    if (pick < 3) {
      d.what += immutable_header(&d);
      return d;
    }
    const std::uint64_t n = pick < 80 ? 1 : pick < 95 ? 2 : 3;
    for (std::uint64_t i = 0; i < n; ++i) {
      if (i > 0) d.what += "; then ";
      d.what += mutable_damage(&d);
    }
    return d;
  }

 private:
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  const Layout layout() const { return Layout(region_); }
  const std::vector<FrameAt>& frames() const { return frames_[p_]; }
  const FrameAt& any_frame() { return frames()[below(frames().size())]; }
  template <typename T>
  T get(std::size_t at) const {
    return load<T>(region_, at);
  }
  template <typename T>
  std::string set(std::size_t at, T v, const char* field) {
    const T was = get<T>(at);
    store<T>(region_, at, v);
    return std::string(field) + " " + std::to_string(was) + " -> " + std::to_string(v);
  }
  static std::string hex(std::uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "%#llx", static_cast<unsigned long long>(v));
    return b;
  }

  std::uint64_t hostile64(std::uint64_t near) {
    static constexpr std::uint64_t kValues[] = {0,
                                                1,
                                                8,
                                                0xFFFFFFFFull,
                                                0x100000000ull,
                                                0x7FFFFFFFFFFFFFF8ull,
                                                0x7FFFFFFFFFFFFFFFull,
                                                0x8000000000000000ull,
                                                0xFFFFFFFFFFFFFFFFull};
    switch (below(4)) {
      case 0:
        return kValues[below(std::size(kValues))];
      case 1:
        return near + below(9) - 4;
      case 2:
        return near ^ (1ull << below(64));
      default:
        return rng_();
    }
  }
  std::uint32_t hostile32(std::uint32_t near, std::uint32_t room) {
    static constexpr std::uint32_t kValues[] = {0,          1,          2,          47,         48,
                                                0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFE, 0xFFFFFFFF};
    switch (below(5)) {
      case 0:
        return kValues[below(std::size(kValues))];
      case 1:
        return near + static_cast<std::uint32_t>(below(9)) - 4;
      case 2:
        return near ^ (1u << below(32));
      case 3:
        return room + static_cast<std::uint32_t>(below(3)) - 1;  // just inside, at or past the room there is
      default:
        return static_cast<std::uint32_t>(rng_());
    }
  }

  std::string mutable_damage(Damage* d) {
    const std::uint64_t pick = below(100);
    if (pick < 10) return random_bytes_anywhere();
    if (pick < 24) return random_bytes_in_a_frame();
    if (pick < 32) return random_word();
    if (pick < 58) return frame_field(d);
    if (pick < 65) return index_entry();
    if (pick < 75) return segment_header();
    if (pick < 84) return partition_header();
    if (pick < 94) return claim_slot();
    return reader_slot();
  }

  std::string random_bytes_anywhere() {
    std::string what = "random bytes at";
    for (std::uint64_t i = 0, n = 1 + below(16); i < n; ++i) {
      const std::size_t at = kPolicyAt + 8 + below(region_.size() - kPolicyAt - 8);
      region_[at] = static_cast<std::byte>(rng_());
      what += " " + std::to_string(at);
    }
    return what;
  }

  std::string random_bytes_in_a_frame() {
    const FrameAt& f = any_frame();
    std::string what =
        "random bytes in the frame at g" + std::to_string(f.generation) + "+" + std::to_string(f.position) + ", at";
    for (std::uint64_t i = 0, n = 1 + below(4); i < n; ++i) {
      const std::size_t at = below(f.length);
      region_[f.at + at] = static_cast<std::byte>(rng_());
      what += " " + std::to_string(at);
    }
    return what;
  }

  std::string random_word() {
    // In a segment (header, index or data) or in the slots.
    const std::size_t at = (kPolicyAt + 8 + below(region_.size() - kPolicyAt - 8)) & ~std::size_t{7};
    const auto v = hostile64(get<std::uint64_t>(at));
    return set<std::uint64_t>(at, v, ("word at " + std::to_string(at)).c_str());
  }

  std::string frame_field(Damage* d) {
    const FrameAt f = any_frame();
    const std::size_t at = f.at;
    const std::uint32_t room = static_cast<std::uint32_t>(layout().data_capacity - f.position);
    const std::string where = "frame at g" + std::to_string(f.generation) + "+" + std::to_string(f.position) + ": ";
    const bool batch = log::commit_kind(f.word) == log::kKindBatch;
    const std::uint32_t info = log::commit_info(f.word);
    switch (below(12)) {
      case 0: {
        std::uint64_t word = 0;
        switch (below(5)) {
          case 0:
            break;  // not committed
          case 1:  // another length, the same kind and flags
            word = log::make_commit_word((info & ~log::kLengthMask) | (hostile32(f.length, room) & log::kLengthMask),
                                         log::commit_checksum(f.word));
            break;
          case 2:  // another kind
            word = log::make_commit_word((info & ~(3u << log::kKindShift)) | (static_cast<std::uint32_t>(below(4)) << log::kKindShift),
                                         log::commit_checksum(f.word));
            break;
          case 3:
            word = log::kEndOfSegmentWord;
            break;
          default:  // the key and header-block flags
            word = log::make_commit_word(info ^ (static_cast<std::uint32_t>(1 + below(3)) << 30), log::commit_checksum(f.word));
            break;
        }
        const auto was = get<std::uint64_t>(at);
        store<std::uint64_t>(region_, at, word);
        return where + "commit " + hex(was) + " -> " + hex(word);
      }
      case 1:
        return where + set<std::uint32_t>(at + 4, static_cast<std::uint32_t>(hostile64(get<std::uint32_t>(at + 4))), "checksum");
      case 2:
        return where + set<std::int64_t>(at + (batch ? log::kBatchBaseTimestamp : log::kTimestampOffset),
                                         static_cast<std::int64_t>(hostile64(get<std::uint64_t>(at + 8))), "timestamp");
      case 3:
        if (!batch) break;
        return where + set<std::int64_t>(at + log::kBatchBaseOffset,
                                         static_cast<std::int64_t>(hostile64(get<std::uint64_t>(at + log::kBatchBaseOffset))),
                                         "base offset");
      case 4:
        if (!batch) break;
        return where + set<std::uint32_t>(at + log::kBatchRecordCount,
                                          hostile32(get<std::uint32_t>(at + log::kBatchRecordCount), room), "record count");
      case 5:
        if (!batch) break;
        return where + set<std::uint32_t>(at + log::kBatchRecordsBytes,
                                          hostile32(get<std::uint32_t>(at + log::kBatchRecordsBytes), room),
                                          "records bytes");
      case 6:
        if (!batch) break;
        return where + set<std::uint16_t>(at + log::kBatchAttributes, static_cast<std::uint16_t>(rng_()), "attributes");
      case 7: {
        // A varint after the header: continued past its end, or a large length.
        static constexpr std::uint8_t kBytes[] = {0x80, 0xFF, 0x7F, 0x00, 0x81};
        const std::size_t in = (batch ? log::kBatchHeaderSize : log::kRecordHeaderSize) + below(3);
        if (in >= f.length) break;
        return where + set<std::uint8_t>(at + in, kBytes[below(std::size(kBytes))], ("varint byte " + std::to_string(in)).c_str());
      }
      case 8: {
        // The abandoned kind on a record, with a hostile count of offsets to skip.
        static constexpr std::uint32_t kCounts[] = {
            0, 1, 2, 3, 1000, log::kMaxRecordsPerSegment, log::kMaxRecordsPerSegment + 1, 0xFFFFFFFF};
        std::string what = where + set<std::uint64_t>(at, f.word | (std::uint64_t{log::kKindAbandoned} << log::kKindShift), "kind");
        if (below(2))
          what += ", " + set<std::uint32_t>(at + log::kAbandonedOffsets, kCounts[below(std::size(kCounts))], "offsets");
        return what;
      }
      case 9: {
        // A forged abandoned frame: consistent, checksum and all, as its
        // producer's death would have left it. Undetectable by design.
        static constexpr std::uint32_t kCounts[] = {
            0, 1, 2, 5, log::kMaxRecordsPerSegment, log::kMaxRecordsPerSegment + 1};
        const std::uint32_t count = kCounts[below(std::size(kCounts))];
        store<std::uint64_t>(region_, at, log::encode_abandoned(region_.data() + at, f.length, 0, count));
        d->forged = true;
        return where + "forged abandoned frame covering " + std::to_string(count);
      }
      default:
        break;
    }
    if (f.length <= log::kFrameHeaderSize) return where + "(no body)";
    const std::size_t in = log::kFrameHeaderSize + below(f.length - log::kFrameHeaderSize);
    return where + set<std::uint8_t>(at + in, static_cast<std::uint8_t>(rng_()), ("body byte " + std::to_string(in)).c_str());
  }

  std::string index_entry() {
    const Layout l = layout();
    const FrameAt& f = any_frame();
    const std::size_t k = below(l.index_entries);
    const std::size_t at = l.segment(f.generation) + sizeof(log::SegmentHeader) + k * sizeof(log::IndexEntry);
    const std::uint64_t tag = std::uint64_t{log::generation_tag(f.generation)} << 32;
    const std::string where = "index entry " + std::to_string(k) + " of g" + std::to_string(f.generation) + ": ";
    std::uint64_t v;
    switch (below(7)) {
      case 0:
        v = tag | (f.position + 4);
        break;  // misaligned
      case 1:
        v = tag | l.data_capacity;
        break;
      case 2:
        v = tag | (l.data_capacity - 8);
        break;
      case 3:
        v = tag | 0xFFFFFFF8u;
        break;
      case 4:
        v = tag | (f.position + 8 * (1 + below(f.length / 8)));
        break;  // inside a frame
      case 5:
        v = tag | f.position;
        break;  // another frame than the entry covers
      default:
        return where + set<std::int64_t>(at + 8 * (1 + below(3)), static_cast<std::int64_t>(hostile64(0)), "offset, timestamp or check");
    }
    return where + set<std::uint64_t>(at, v, "tag_position");
  }

  std::string segment_header() {
    const Layout l = layout();
    const std::size_t slot = below(l.segment_count);
    const std::size_t at = log::kPartitionHeaderBytes + slot * l.segment_bytes;
    const auto g = get<std::uint64_t>(at);
    const std::string where = "segment slot " + std::to_string(slot) + " (g" + std::to_string(g) + "): ";
    switch (below(4)) {
      case 0: {
        static const std::uint64_t kNear[] = {1, 2, 5, 10};
        std::uint64_t v = below(2) ? hostile64(g) : g + (below(2) ? kNear[below(4)] : -kNear[below(4)]);
        if (below(8) == 0) v = log::kUnusedGeneration;
        return where + set<std::uint64_t>(at, v, "generation");
      }
      case 1:
        return where + set<std::uint64_t>(at + 8, hostile64(get<std::uint64_t>(at + 8)), "base_offset");
      case 2: {
        const auto sealed = get<std::uint64_t>(at + 16);
        std::uint64_t v;
        switch (below(4)) {
          case 0:
            v = 0;
            break;
          case 1:
            v = (sealed & ~0xFFFFFFFFull) | (l.data_capacity + 8);
            break;
          case 2:
            v = (sealed & ~0xFFFFFFFFull) | 0xFFFFFFFFull;
            break;
          default:
            v = hostile64(sealed);
            break;
        }
        return where + set<std::uint64_t>(at + 16, v, "sealed");
      }
      default:
        return where + set<std::uint8_t>(at + 24 + below(104), static_cast<std::uint8_t>(rng_()), "reserved byte");
    }
  }

  std::string partition_header() {
    const Layout l = layout();
    switch (below(4)) {
      case 0: {
        const auto t = get<std::uint64_t>(kTailAt);
        std::uint64_t v;
        switch (below(5)) {
          case 0:
            v = t | kTailPositionMask;
            break;  // rolling, announced by nobody
          case 1:
            v = (t & ~kTailPositionMask) | (l.data_capacity / 8 + 1 + below(64));
            break;
          case 2:
            v = t | (((1ull << 20) - 1) << 28);
            break;  // record count at its limit
          case 3:
            v = t + (below(2) ? 1ull << 48 : -(1ull << 48));
            break;  // another generation's tag
          default:
            v = hostile64(t);
            break;
        }
        store<std::uint64_t>(region_, kTailAt, v);
        return "tail: " + hex(t) + " -> " + hex(v);
      }
      case 1: {
        const auto g = get<std::uint64_t>(kCurrentGenerationAt);
        static const std::uint64_t kNear[] = {1, 2, 3, 5, 65536};
        const std::uint64_t v = below(2) ? hostile64(g) : g + (below(2) ? kNear[below(5)] : -kNear[below(5)]);
        return set<std::uint64_t>(kCurrentGenerationAt, v, "current_generation");
      }
      case 2: {
        static constexpr std::uint32_t kUsed[] = {0, 1, 1024, 1025, 0xFFFFFFFF};
        return set<std::uint32_t>(kSlotsUsedAt, below(2) ? kUsed[below(5)] : static_cast<std::uint32_t>(rng_()),
                                  "claim_slots_used");
      }
      default: {
        std::size_t at = kTailAt + 8 + below(log::kClaimSlotsOffset - kTailAt - 8);  // the rest of the page
        // Not start_offset and durable: immutable after init like the
        // geometry, and refused on attach as it is (no "is damaged" context).
        if (at >= kStartOffsetAt && at < kStartOffsetAt + 16) at += 16;
        return set<std::uint8_t>(at, static_cast<std::uint8_t>(rng_()), ("header byte " + std::to_string(at)).c_str());
      }
    }
  }

  // The tail word as damage or a lost update would leave it.
  std::string tail_word() {
    const auto t = get<std::uint64_t>(kTailAt);
    const std::uint64_t count = 1ull << 28, position = kTailPositionMask;
    std::uint64_t v;
    switch (below(8)) {
      case 0:
        v = 0;
        break;
      case 1:
        v = t & ~(((1ull << 20) - 1) << 28);  // count zeroed
        break;
      case 2:
        v = t + count * (1 + below(3));  // records nobody claimed
        break;
      case 3:
        v = t + count + (6 + below(40));  // a record's worth of bytes too, claimed by nobody
        break;
      case 4:
        v = (t & position) >= 8 ? t - count - 1 - below(8) : t + 1;  // back into the last record
        break;
      case 5: {
        const std::uint64_t count_mask = ((1ull << 20) - 1) << 28;
        v = (t & ~(count_mask | position)) | ((t & count_mask) / 2 & count_mask) | (t & position) / 2;  // back halfway
        break;
      }
      case 6:
        v = t ^ (1ull << below(64));
        break;
      default:
        v = hostile64(t);
        break;
    }
    store<std::uint64_t>(region_, kTailAt, v);
    return "tail: " + hex(t) + " -> " + hex(v);
  }

  // A random value or one flipped bit in a word the ring steers by.
  std::string header_word() {
    const Layout l = layout();
    std::size_t at;
    switch (below(3)) {
      case 0:
        at = below(2) ? kTailAt : kCurrentGenerationAt;
        break;
      case 1:
        at = l.segment(below(l.segment_count)) + 8 * below(3);  // generation, base_offset, sealed
        break;
      default:
        at = l.segment(below(l.segment_count)) + sizeof(log::SegmentHeader) + 8 * below(2 * l.index_entries);
        break;
    }
    const auto was = get<std::uint64_t>(at);
    const std::uint64_t v = below(2) ? was ^ (1ull << below(64)) : rng_();
    store<std::uint64_t>(region_, at, v);
    return "word at " + std::to_string(at) + ": " + hex(was) + " -> " + hex(v);
  }

  std::string claim_slot() {
    const std::uint32_t used = std::min<std::uint32_t>(get<std::uint32_t>(kSlotsUsedAt), log::kClaimSlots);
    const std::size_t i =
        below(4) == 0 ? below(log::kClaimSlots) : below(std::min<std::uint32_t>(used + 2, log::kClaimSlots));
    const std::size_t at = log::kClaimSlotsOffset + i * sizeof(log::ClaimSlot);
    const std::string where = "claim slot " + std::to_string(i) + ": ";
    const auto tail = get<std::uint64_t>(kTailAt);
    const std::uint64_t me = ipc::self().packed(), dead = dead_process().packed();
    const std::uint64_t my_pid = static_cast<std::uint32_t>(::getpid());
    switch (below(5)) {
      case 0: {
        const std::uint64_t owners[] = {0, me, dead, 0xFFFFFFFFull, 1, rng_()};
        return where + set<std::uint64_t>(at, owners[below(std::size(owners))], "owner");
      }
      case 1: {
        const std::uint64_t states[] = {log::kSlotIdle,
                                        log::kSlotPending,
                                        log::kSlotWriting,
                                        log::kSlotAbandoning,
                                        log::kSlotRolling,
                                        5,
                                        (my_pid << 32) | log::kSlotAbandoning,
                                        (0xFFFFFFFFull << 32) | log::kSlotRolling,
                                        rng_()};
        return where + set<std::uint64_t>(at + 8, states[below(std::size(states))], "state");
      }
      case 2: {
        const Layout l = layout();
        const std::uint64_t other = get<std::uint64_t>(log::kClaimSlotsOffset + below(used + 1) * 64 + 16);
        const std::uint64_t tails[] = {tail, tail | kTailPositionMask, hostile64(tail),
                                       (tail & ~kTailPositionMask) | (l.data_capacity / 8 + below(64)), other};
        return where + set<std::uint64_t>(at + 16, tails[below(std::size(tails))], "tail");
      }
      case 3: {
        const std::uint64_t sizes[] = {hostile64(64 | 1ull << 32),
                                       0xFFFFFFF8ull | 1ull << 32,
                                       64,
                                       63 | 1ull << 32,
                                       layout().data_capacity | 1ull << 32,
                                       64 | std::uint64_t{log::kMaxRecordsPerSegment + 1} << 32};
        return where + set<std::uint64_t>(at + 24, sizes[below(std::size(sizes))], "size");
      }
      default: {
        // A whole claim of a dead producer at the tail or over a committed frame.
        const FrameAt& f = any_frame();
        const std::uint64_t claim_tail = below(2) ? tail : (tail & (0xFFFFull << 48)) | (f.position / 8);
        store<std::uint64_t>(region_, at, dead);
        store<std::uint64_t>(region_, at + 8, below(2) ? log::kSlotPending : log::kSlotWriting);
        store<std::uint64_t>(region_, at + 16, claim_tail);
        store<std::uint64_t>(region_, at + 24, below(2) ? (64 | 1ull << 32) : hostile64(64 | 1ull << 32));
        return where + "a dead producer's claim from tail " + hex(claim_tail);
      }
    }
  }

  std::string reader_slot() {
    const std::size_t i = below(2) ? below(4) : below(log::kReaderSlots);
    const std::size_t at = log::kReaderSlotsOffset + i * sizeof(log::ReaderSlot);
    const std::string where = "reader slot " + std::to_string(i) + ": ";
    switch (below(3)) {
      case 0: {
        const std::uint64_t owners[] = {0, ipc::self().packed(), dead_process().packed(), 0xFFFFFFFFull, rng_()};
        return where + set<std::uint64_t>(at, owners[below(std::size(owners))], "owner");
      }
      case 1:
        return where +
               set<std::int64_t>(at + 8, static_cast<std::int64_t>(hostile64(get<std::uint64_t>(at + 8))), "position");
      default:
        return where + set<std::int64_t>(at + 16, static_cast<std::int64_t>(rng_()), "registered_ns");
    }
  }

  std::string immutable_header(Damage* d) {
    const std::size_t at = below(kTailAt);
    const auto was = get<std::uint8_t>(at);
    auto v = static_cast<std::uint8_t>(rng_());
    if (v == was) v ^= 0x10;
    d->geometry = at < kPolicyAt;
    d->policy = !d->geometry;
    return set<std::uint8_t>(at, v, ("immutable header byte " + std::to_string(at)).c_str());
  }

  Target& t_;
  std::mt19937_64& rng_;
  std::vector<std::vector<FrameAt>> frames_;
  std::size_t p_ = 0;
  std::span<std::byte> region_;
};

// Why a producer may wait here without end, by design ("" if it may not): a
// claim slot holds a claim of a live process (even a stopped one is waited
// for, and an abandoner or rescuer whose pid answers kill(pid, 0) is taken as
// live), two pending announcements name one tail (whose claim it was is
// unknowable: the roller waits), or the tail is rolling (a live roller is
// waited for; so is one that no slot announces: see the report).
std::string why_producers_may_wait(std::span<const std::byte> region) {
  const auto tail = load<std::uint64_t>(region, kTailAt);
  if ((tail & kTailPositionMask) == kTailPositionMask) return "the tail is rolling";
  const auto pid_alive = [](std::uint64_t state) {
    const auto pid = static_cast<pid_t>(state >> 32);
    return ::kill(pid, 0) == 0 || errno == EPERM;
  };
  const std::uint32_t used = std::min(load<std::uint32_t>(region, kSlotsUsedAt), log::kClaimSlots);
  std::map<std::uint64_t, int> pending_tails;
  for (std::uint32_t i = 0; i < used; ++i) {
    const std::size_t at = log::kClaimSlotsOffset + std::size_t{i} * sizeof(log::ClaimSlot);
    const auto owner = load<std::uint64_t>(region, at);
    const auto state = load<std::uint64_t>(region, at + 8);
    const bool owner_alive = ipc::liveness_packed(owner) == ipc::Liveness::kAlive;
    switch (state & 0xFF) {
      case log::kSlotIdle:
        break;
      case log::kSlotPending:
        if (++pending_tails[load<std::uint64_t>(region, at + 16)] > 1) return "two pending slots name one tail";
        [[fallthrough]];
      case log::kSlotWriting:
        if (owner_alive) return "claim slot " + std::to_string(i) + " holds a live process's claim";
        break;
      case log::kSlotAbandoning:
        if (pid_alive(state)) return "claim slot " + std::to_string(i) + " is being abandoned by a live process";
        break;
      case log::kSlotRolling:
        if ((state >> 32) != 0 ? pid_alive(state) : owner_alive)
          return "claim slot " + std::to_string(i) + " announces a live roll";
        break;
      default:  // not a state: settle_claims() takes it for a claim
        if (owner_alive) return "claim slot " + std::to_string(i) + " holds a live process's claim";
        break;
    }
  }
  return "";
}

// ---------------------------------------------------------------- judging

// Reads every accessor of a view and every byte it exposes (AddressSanitizer
// checks each), and returns something of them so none is optimised away.
std::uint64_t touch(const RecordView& v) {
  std::uint64_t sum = static_cast<std::uint64_t>(v.offset()) + static_cast<std::uint64_t>(v.timestamp_ns()) +
                      v.attributes() + v.header_count() + v.checksum() + v.frame_size() + v.has_key();
  for (std::string_view s : {v.key(), v.value(), v.header_block()})
    for (char c : s) sum += static_cast<unsigned char>(c);
  (void)v.for_each_header([&](const HeaderView& h) {
    for (char c : h.key) sum += static_cast<unsigned char>(c);
    if (h.value)
      for (char c : *h.value) sum += static_cast<unsigned char>(c);
  });
  return sum + v.verify_checksum();
}

std::string differs(const RecordView& v, const Rec& r) {
  if (v.timestamp_ns() != r.timestamp_ns) return "timestamp";
  if (v.has_key() != r.key.has_value() || (r.key && v.key() != *r.key)) return "key";
  if (v.value() != r.value) return "value";
  std::size_t i = 0;
  bool same = v.header_count() == r.headers.size();
  const bool well_formed = v.for_each_header([&](const HeaderView& h) {
    if (i >= r.headers.size() || h.key != r.headers[i].first ||
        h.value.has_value() != r.headers[i].second.has_value() || (h.value && *h.value != *r.headers[i].second))
      same = false;
    ++i;
  });
  return well_formed && same && i == r.headers.size() ? "" : "headers";
}

// Judges what a consumer's polls return. Always: no offset goes back or
// repeats, and an error is kCorrupt or kOffsetOutOfRange. With
// verify_checksums on, every record delivered passes its checksum; and when
// `strict` (the log is the sound one, damaged but not forged), every record
// delivered is the one produced at its offset, and every offset a poll moves
// past was delivered or belongs to an abandoned claim - no record is dropped
// unannounced.
class Judge {
 public:
  Judge(const Target& t, bool verify, bool strict) : Judge(t.logs, verify, strict) {}
  // Against `logs` (the sound log and what was produced since).
  Judge(const std::vector<PartitionLog>& logs, bool verify, bool strict)
      : logs_(logs), verify_(verify), strict_(strict) {
    reset();
  }
  // After a seek: offsets start again.
  void reset() { last_.assign(logs_.size(), std::numeric_limits<std::int64_t>::min()); }
  std::uint64_t sum() const { return sum_; }

  // Polls (timeout 0) at most `polls` times, until an error or twice nothing.
  void drain(Consumer& c, int polls) {
    const std::size_t n = logs_.size();
    for (int i = 0, idle = 0; i < polls && idle < 2; ++i) {
      std::vector<std::int64_t> before(n);
      for (std::size_t p = 0; p < n; ++p) before[p] = c.position(static_cast<std::int32_t>(p));
      const PollResult r = c.poll(nanoseconds(0));
      std::vector<std::set<std::int64_t>> delivered(n);
      for (const RecordView& v : r.records) {
        sum_ += touch(v);
        const auto p = static_cast<std::size_t>(v.partition());
        ASSERT_LT(p, n);
        EXPECT_GT(v.offset(), last_[p]) << "partition " << p << ": an offset went back or repeated";
        last_[p] = v.offset();
        delivered[p].insert(v.offset());
        if (verify_) {
          EXPECT_TRUE(v.verify_checksum()) << "offset " << v.offset() << " fails its checksum";
        }
        if (verify_ && strict_) {
          auto it = logs_[p].records.find(v.offset());
          if (it == logs_[p].records.end())
            ADD_FAILURE() << "partition " << p << ": offset " << v.offset() << " was never produced";
          else if (const std::string what = differs(v, it->second); !what.empty())
            ADD_FAILURE() << "partition " << p << ": offset " << v.offset() << " has another " << what;
        }
      }
      if (!r.status.is_ok()) {
        EXPECT_TRUE(r.status.code() == Code::kCorrupt || r.status.code() == Code::kOffsetOutOfRange)
            << r.status.to_string();
      }
      if (verify_ && strict_ && r.skipped == 0) {
        for (std::size_t p = 0; p < n; ++p) {
          const std::int64_t after = c.position(static_cast<std::int32_t>(p));
          if (after < before[p]) continue;  // an offset going back is judged on the records
          if (static_cast<std::uint64_t>(after) - static_cast<std::uint64_t>(before[p]) >
              4 * log::kMaxRecordsPerSegment) {
            ADD_FAILURE() << "partition " << p << ": the position jumped from " << before[p] << " to " << after;
            continue;
          }
          for (std::int64_t o = before[p]; o < after; ++o)
            if (!delivered[p].count(o) && !logs_[p].abandoned.count(o)) {
              ADD_FAILURE() << "partition " << p << ": offset " << o
                            << " was passed over, neither delivered nor abandoned (poll returned "
                            << r.status.to_string() << ", abandoned " << r.abandoned << ")";
              break;
            }
        }
      }
      if (!r.status.is_ok()) return;
      idle = (!r.records.empty() || r.skipped > 0 || r.abandoned > 0) ? 0 : idle + 1;
    }
  }

 private:
  const std::vector<PartitionLog>& logs_;
  bool verify_, strict_;
  std::vector<std::int64_t> last_;
  std::uint64_t sum_ = 0;
};

bool seek_status_ok(const Status& s) {
  return s.is_ok() || s.code() == Code::kOffsetOutOfRange || s.code() == Code::kCorrupt || s.code() == Code::kTimedOut;
}

// An offset near the sound log's range of partition p.
std::int64_t some_offset(const PartitionLog& log, std::mt19937_64& rng) {
  const std::int64_t lo = log.records.begin()->first, hi = log.records.rbegin()->first + 1;
  return lo - 2 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 5));
}
std::int64_t some_time(const PartitionLog& log, std::mt19937_64& rng) {
  return log.first_ts - 5000 +
         static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(log.last_ts - log.first_ts + 10000));
}

// Consumers, verifying checksums or not, from the earliest record, after
// seek_to_beginning, after seeks to an offset and to a time, and at the end.
// (Few seeks: one that meets a record reading as uncommitted waits a second.)
void run_consumers(Target& t, std::mt19937_64& rng, bool strict, Watchdog& dog, std::uint64_t* sum) {
  for (const bool verify : {true, false}) {
    dog.step(verify ? "consumer (verify)" : "consumer (no verify)");
    static constexpr std::size_t kMaxRecords[] = {1, 7, 512};
    Consumer c(t.topic, {.on_overrun = rng() % 2 ? OffsetReset::kEarliest : OffsetReset::kError,
                         .max_poll_records = kMaxRecords[rng() % 3],
                         .start_at_earliest = true,
                         .verify_checksums = verify,
                         .abandoned_claim_timeout = std::chrono::milliseconds(rng() % 2 ? 0 : 200)});
    Judge judge(t, verify, strict);
    if (Status s = c.assign_all(); !s) {
      ADD_FAILURE() << "assign: " << s.to_string();
      return;
    }
    judge.drain(c, 64);
    dog.step("consumer seek_to_beginning");
    EXPECT_TRUE(c.seek_to_beginning().is_ok());
    judge.reset();
    judge.drain(c, 64);
    dog.step("consumer seek");
    const auto p = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(t.topic->partition_count()));
    const Status sought = c.seek(p, some_offset(t.logs[static_cast<std::size_t>(p)], rng));
    EXPECT_TRUE(seek_status_ok(sought)) << sought.to_string();
    judge.reset();
    judge.drain(c, 8);
    if (verify) {
      dog.step("consumer seek_to_time");
      const Status s = c.seek_to_time(some_time(t.logs[0], rng));
      EXPECT_TRUE(seek_status_ok(s)) << s.to_string();
      judge.reset();
      judge.drain(c, 8);
    }
    dog.step("consumer seek_to_end");
    EXPECT_TRUE(c.seek_to_end().is_ok());
    judge.reset();
    judge.drain(c, 2);
    *sum += judge.sum();
  }
}

// Every reader-side and maintenance call of the ring itself (its seeks are
// the consumers').
void run_ring_calls(log::PartitionRing& ring, Watchdog& dog, std::uint64_t* sum) {
  dog.step("ring earliest/latest");
  const log::ReadCursor first = ring.earliest();
  const log::ReadCursor end = ring.latest();
  *sum += ring.readable(first) + ring.blocked(first) + ring.readable(end) + ring.blocked(end) +
          ring.generation_live(first.generation) + ring.generation_live(end.generation);
  dog.step("ring producers/readers");
  *sum += ring.producers().size() + ring.readers().size() + static_cast<std::uint64_t>(ring.slowest_reader().second);
  dog.step("ring read");
  log::ReadCursor c = first;
  RecordView views[16];
  for (int i = 0; i < 64; ++i) {
    const log::ReadBatch b = ring.read(c, views, 16);
    for (std::size_t k = 0; k < b.count; ++k) *sum += touch(views[k]);
    if (b.status != log::ReadStatus::kOk || (b.count == 0 && b.abandoned == 0)) break;
  }
  dog.step("ring recover_abandoned");
  // Every generation the cursors name, and those around them (a window, if
  // damage puts them far apart).
  std::uint64_t lo = std::min(first.generation, end.generation), hi = std::max(first.generation, end.generation);
  if (hi - lo > 2ull * ring.segment_count()) lo = hi - 2ull * ring.segment_count();
  for (std::uint64_t g = lo; g <= hi + 2 && g >= lo; ++g) *sum += ring.recover_abandoned(g);
  dog.step("ring reap_dead");
  *sum += ring.reap_dead();
}

// Sends into the damaged partitions (small and large records, a batch, a
// reservation: several rolls), then reads back what is there with checksums
// verified.
void run_producer(Target& t, std::mt19937_64& rng, Watchdog& dog, std::uint64_t* sum) {
  dog.step("producer");
  // A damaged ring may refuse producers (kCorrupt), never hand them an
  // offset the sound log holds: they would write over its records.
  const auto allowed = [](const Status& s) {
    return s.is_ok() || s.code() == Code::kResourceExhausted || s.code() == Code::kCorrupt;
  };
  {
    Producer producer(t.topic);
    for (std::int32_t p = 0; p < t.topic->partition_count(); ++p) {
      const std::string big(client::ring_of(*t.topic, p).data_capacity() / 2 - 100, 'B');
      const PartitionLog& log = t.logs[static_cast<std::size_t>(p)];
      const auto new_offset = [&](const Result<RecordMetadata>& sent) {
        if (sent) {
          EXPECT_FALSE(log.records.count(sent->offset) || log.abandoned.count(sent->offset))
              << "partition " << p << ": a producer was given offset " << sent->offset << ", which the log holds";
        }
      };
      for (int i = 0; i < 4; ++i) {
        auto small = producer.send(std::string_view("k"), random_bytes(rng, rng() % 100), {.partition = p});
        EXPECT_TRUE(allowed(small.is_ok() ? Status::ok() : small.status())) << small.status().to_string();
        new_offset(small);
        auto large = producer.send(std::nullopt, big, {.partition = p});
        EXPECT_TRUE(allowed(large.is_ok() ? Status::ok() : large.status())) << large.status().to_string();
        new_offset(large);
      }
      const Message batch[] = {{std::nullopt, "one"}, {std::string_view("two"), "2"}, {std::nullopt, big}};
      auto sent = producer.send_batch(batch, p);
      EXPECT_TRUE(allowed(sent.is_ok() ? Status::ok() : sent.status())) << sent.status().to_string();
      auto reservation = producer.reserve(std::string_view("reserved"), 40, {.partition = p});
      EXPECT_TRUE(allowed(reservation.is_ok() ? Status::ok() : reservation.status()))
          << reservation.status().to_string();
      if (reservation) {
        std::memset(reservation->value().data(), 'r', reservation->value().size());
        producer.publish(*reservation);
      }
    }
  }
  dog.step("consumer after producing");
  Consumer c(t.topic, {.start_at_earliest = true, .verify_checksums = true});
  ASSERT_TRUE(c.assign_all().is_ok());
  Judge judge(t, true, false);
  judge.drain(c, 64);
  *sum += judge.sum();
}

// Damages `t` `iterations` times, each time running everything over it and
// restoring it.
void fuzz_segments(Target& t, std::uint64_t seed, std::int64_t iterations, const std::string& label) {
  Watchdog dog;
  std::uint64_t sum = 0;
  int producer_runs = 0;
  for (std::int64_t i = 0; i < iterations; ++i) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(i));
    Damager damager(t, rng);
    const Damage d = damager.damage();
    const std::string what = label + " iteration " + std::to_string(i) + ": " + d.what;
    SCOPED_TRACE(what);
    if (std::getenv("RILL_FUZZ_TRACE")) std::fprintf(stderr, "%s\n", what.c_str());  // names a crash's damage
    dog.arm(what, kIterationDeadline);
    const std::int64_t started = log::monotonic_ns();
    dog.step("open afresh");
    const Status opened = t.open_afresh();
    if (d.geometry) {
      EXPECT_EQ(opened.code(), Code::kCorrupt) << opened.to_string();
    } else {
      // The words the ring changes are checked against each other on
      // attach (doc/log_format.md, "Invariants"): damage to them may refuse
      // the partition, but only as kCorrupt naming it. Everything below
      // runs anyway, over rings attached before the damage.
      EXPECT_TRUE(opened.is_ok() || (opened.code() == Code::kCorrupt &&
                                     opened.message().find("partition " + std::to_string(d.partition) + " is damaged") !=
                                         std::string::npos))
          << opened.to_string();
      run_consumers(t, rng, !d.forged, dog, &sum);
      for (std::int32_t p = 0; p < t.topic->partition_count(); ++p) run_ring_calls(client::ring_of(*t.topic, p), dog, &sum);
      std::string wait;
      for (std::span<std::byte> r : t.regions)
        if (wait.empty()) wait = why_producers_may_wait(r);
      if (!d.policy && wait.empty()) {
        run_producer(t, rng, dog, &sum);
        ++producer_runs;
      }
    }
    dog.disarm();
    if (std::getenv("RILL_FUZZ_TRACE"))
      std::fprintf(stderr, "  took %lld us\n", static_cast<long long>((log::monotonic_ns() - started) / 1000));
    t.restore();
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The producer phase must not be skipped so often that it hardly runs.
  EXPECT_GT(producer_runs, iterations / 2) << sum;
}

// Before any damage: the harness reads the sound log back exactly.
void expect_sound(Target& t) {
  Consumer c(t.topic, {.start_at_earliest = true, .verify_checksums = true});
  ASSERT_TRUE(c.assign_all().is_ok());
  std::vector<std::int64_t> firsts;
  for (std::int32_t p = 0; p < t.topic->partition_count(); ++p) firsts.push_back(c.position(p));
  Judge judge(t, true, true);
  std::size_t records = 0;
  std::int64_t abandoned = 0;
  for (;;) {
    const PollResult r = c.poll(nanoseconds(0));
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    if (r.records.empty() && r.abandoned == 0) break;
    records += r.records.size();
    abandoned += r.abandoned;
  }
  std::size_t retained = 0;
  for (std::size_t p = 0; p < t.logs.size(); ++p) {
    const PartitionLog& log = t.logs[p];
    retained += static_cast<std::size_t>(std::distance(log.records.lower_bound(firsts[p]), log.records.end()));
    EXPECT_EQ(c.position(static_cast<std::int32_t>(p)), log.records.rbegin()->first + 1);
  }
  EXPECT_EQ(records, retained);
  EXPECT_EQ(abandoned, 6) << "each partition's abandoned claim covers three offsets";
  EXPECT_GT(firsts[0], 0) << "partition 0 should have wrapped its ring";
  EXPECT_EQ(firsts[1], 0);
  EXPECT_TRUE(c.seek_to_beginning().is_ok());
  judge.drain(c, 1000);
  t.restore();  // the consumer's registration
}

// ---------------------------------------------------------------- segment fuzz

TEST(SegmentFuzz, DamagedInProcessPartitionsGiveErrorsNotCrashes) {
  Target t = in_process_target(1);
  ASSERT_FALSE(::testing::Test::HasFailure());
  expect_sound(t);
  fuzz_segments(t, 1000, scaled(500, 20), "in-process");
}

TEST(SegmentFuzz, DamagedSharedPartitionsGiveErrorsNotCrashes) {
  ShmGuard guard;
  Target t = shared_target(guard.ns(), 2);
  ASSERT_FALSE(::testing::Test::HasFailure());
  expect_sound(t);
  fuzz_segments(t, 2000, scaled(150, 10), "shared");
}

TEST(SegmentFuzz, EveryGeometryFieldOfTheHeaderIsChecked) {
  // Each byte of the header fields attach() recomputes, changed alone.
  ShmGuard guard;
  Target t = shared_target(guard.ns(), 3);
  ASSERT_FALSE(::testing::Test::HasFailure());
  for (std::size_t at = 0; at < kPolicyAt; ++at) {
    for (std::uint8_t flip : {0x01, 0x80}) {
      SCOPED_TRACE(::testing::Message() << "byte " << at << " ^ " << int{flip});
      t.regions[1][at] ^= std::byte{flip};
      EXPECT_EQ(t.open_afresh().code(), Code::kCorrupt);
      t.restore();
    }
  }
  EXPECT_TRUE(t.open_afresh().is_ok());
}

TEST(SegmentFuzz, TruncatedSharedPartitionIsCorrupt) {
  ShmGuard guard;
  const std::string object = client::partition_object_name(guard.ns(), "fuzzed", 1);
  std::uint64_t size = 0;
  {
    Target t = shared_target(guard.ns(), 4);
    ASSERT_FALSE(::testing::Test::HasFailure());
    size = t.regions[1].size();
  }  // nothing maps the partition any more: its bytes may go
  for (const std::uint64_t truncated :
       {std::uint64_t{0}, std::uint64_t{100}, std::uint64_t{log::kPartitionHeaderBytes}, size - 4096, size - 1}) {
    SCOPED_TRACE(truncated);
    const int fd = ::shm_open(("/" + object).c_str(), O_RDWR, 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(truncated)), 0);
    ::close(fd);
    auto ns = Namespace::open_shared(guard.ns());
    ASSERT_TRUE(ns.is_ok());
    auto topic = (*ns)->open_topic("fuzzed");
    ASSERT_FALSE(topic.is_ok());
    EXPECT_EQ(topic.status().code(), Code::kCorrupt) << topic.status().to_string();
    EXPECT_FALSE((*ns)->describe_topic("fuzzed").is_ok());
  }
}

// ---------------------------------------------------------------- header words
//
// Damage to the words the ring steers by (issue 11): whatever check() - and so
// attach() - does not refuse must be harmless (readers read the sound log, from
// its first record to its last); what it refuses, producers must not write
// into; and a reader that has read everything must never wait on damage
// without being told.

// What a producer must not change in a damaged region: the tail,
// current_generation and every segment.
std::vector<std::byte> stored(std::span<const std::byte> region) {
  std::vector<std::byte> out(region.begin() + log::kPartitionHeaderBytes, region.end());
  out.insert(out.end(), region.begin() + kTailAt, region.begin() + kTailAt + 8);
  out.insert(out.end(), region.begin() + kCurrentGenerationAt, region.begin() + kCurrentGenerationAt + 8);
  return out;
}

void fuzz_headers(Target& t, std::uint64_t seed, std::int64_t iterations, const std::string& label) {
  Watchdog dog;
  const auto partitions = static_cast<std::size_t>(t.topic->partition_count());
  std::vector<log::ReadCursor> ends;
  std::vector<std::int64_t> firsts;
  for (std::size_t p = 0; p < partitions; ++p) {
    ends.push_back(client::ring_of(*t.topic, static_cast<std::int32_t>(p)).latest());
    firsts.push_back(client::ring_of(*t.topic, static_cast<std::int32_t>(p)).earliest_offset());
  }
  int refused = 0, harmless = 0;
  for (std::int64_t i = 0; i < iterations; ++i) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(i));
    Damager damager(t, rng);
    const Damage d = damager.header_damage();
    const std::string what = label + " iteration " + std::to_string(i) + ": " + d.what;
    SCOPED_TRACE(what);
    if (std::getenv("RILL_FUZZ_TRACE")) std::fprintf(stderr, "%s\n", what.c_str());
    dog.arm(what, kIterationDeadline);
    const auto p = static_cast<std::int32_t>(d.partition);
    log::PartitionRing& ring = client::ring_of(*t.topic, p);
    dog.step("check");
    const Status checked = ring.check();
    const Status opened = t.open_afresh();
    if (checked) {
      EXPECT_TRUE(opened.is_ok()) << opened.to_string();
    } else {
      EXPECT_EQ(checked.code(), Code::kCorrupt) << checked.to_string();
      EXPECT_NE(checked.message().find("partition " + std::to_string(p) + " is damaged"), std::string::npos)
          << checked.message();
      EXPECT_EQ(opened.code(), Code::kCorrupt) << "attach() refuses what check() does: " << opened.to_string();
    }
    // A reader that has read every record waits for more, or is told why not.
    dog.step("check at the end");
    if (ring.blocked(ends[d.partition])) {
      EXPECT_FALSE(ring.check(ends[d.partition]).is_ok())
          << "a reader at the end would wait for records nobody writes, and check() finds nothing wrong";
    }
    if (checked) {
      // Unrefused damage is harmless: the log reads as produced, all of it.
      ++harmless;
      dog.step("consumer");
      Consumer c(t.topic, {.start_at_earliest = true, .verify_checksums = true});
      ASSERT_TRUE(c.assign_all().is_ok());
      for (std::size_t q = 0; q < partitions; ++q)
        EXPECT_EQ(c.position(static_cast<std::int32_t>(q)), firsts[q]) << "partition " << q << "'s earliest moved";
      Judge judge(t, true, true);
      judge.drain(c, 1000);
      for (std::size_t q = 0; q < partitions; ++q) {
        EXPECT_EQ(c.position(static_cast<std::int32_t>(q)), ends[q].next_offset)
            << "partition " << q << " was not read to its end";
        EXPECT_EQ(client::ring_of(*t.topic, static_cast<std::int32_t>(q)).latest_offset(), ends[q].next_offset);
      }
    } else {
      ++refused;
      std::uint64_t sum = 0;
      run_consumers(t, rng, true, dog, &sum);  // damaged: errors, but no wrong record, no silent skip
    }
    // Producers: refused on a damaged partition, writing nothing; otherwise
    // each record is given a new offset and reads back as sent.
    dog.step("producer");
    std::vector<PartitionLog> logs = t.logs;
    const std::vector<std::byte> before = stored(t.regions[d.partition]);
    bool first_refused = false;
    {
      Producer producer(t.topic);
      std::int64_t ts = logs[d.partition].last_ts;
      for (int k = 0; k < 6; ++k) {
        Rec r = random_record(rng, ts += 1000);
        if (k % 3 == 2) r.value = std::string(ring.data_capacity() / 3, 'B');  // rolls
        const std::vector<Header> headers = header_views(r);
        const auto sent = producer.send(r.key, r.value, {.partition = p, .timestamp_ns = r.timestamp_ns, .headers = headers});
        if (!sent) {
          EXPECT_EQ(sent.status().code(), Code::kCorrupt) << sent.status().to_string();
          first_refused = k == 0;
          break;
        }
        EXPECT_FALSE(logs[d.partition].records.count(sent->offset) || logs[d.partition].abandoned.count(sent->offset))
            << "a producer was given offset " << sent->offset << ", which the log holds";
        logs[d.partition].records[sent->offset] = std::move(r);
      }
    }
    if (!checked) {
      EXPECT_TRUE(first_refused) << "a producer wrote into a partition check() refuses: " << checked.to_string();
    }
    if (first_refused) {
      EXPECT_TRUE(before == stored(t.regions[d.partition])) << "a refused producer changed the partition";
    }
    dog.step("consumer after producing");
    {
      Consumer c(t.topic, {.start_at_earliest = true, .verify_checksums = true});
      ASSERT_TRUE(c.assign_all().is_ok());
      Judge judge(logs, true, true);
      judge.drain(c, 1000);
    }
    dog.disarm();
    t.restore();
    if (::testing::Test::HasFatalFailure()) return;
  }
  // Both outcomes must occur often enough to mean something.
  EXPECT_GT(refused, iterations / 4);
  EXPECT_GT(harmless, iterations / 20);
}

TEST(HeaderFuzz, DamagedHeaderWordsAreRefusedOrHarmless) {
  Target t = in_process_target(11);
  ASSERT_FALSE(::testing::Test::HasFailure());
  expect_sound(t);
  fuzz_headers(t, 11000, scaled(300, 20), "in-process headers");
}

TEST(HeaderFuzz, DamagedSharedHeaderWordsAreRefusedOrHarmless) {
  ShmGuard guard;
  Target t = shared_target(guard.ns(), 12);
  ASSERT_FALSE(::testing::Test::HasFailure());
  expect_sound(t);
  fuzz_headers(t, 12000, scaled(60, 10), "shared headers");
}

// ---------------------------------------------------------------- regressions
//
// What the fuzzing found, each pinned down by one chosen damage.

class SegmentDamage : public ::testing::Test {
 protected:
  void SetUp() override {
    dog_.arm(::testing::UnitTest::GetInstance()->current_test_info()->name(), kIterationDeadline);
    t_ = in_process_target(7);
    ASSERT_FALSE(HasFailure());
  }
  void TearDown() override { dog_.disarm(); }
  std::span<std::byte> region(std::size_t p) { return t_.regions[p]; }
  log::PartitionRing& ring(std::int32_t p) { return client::ring_of(*t_.topic, p); }
  // The frame holding the record at `offset` in partition p (found by seek:
  // record frames do not store their offsets).
  FrameAt frame_of(std::size_t p, std::int64_t offset) {
    auto cursor = ring(static_cast<std::int32_t>(p)).seek(offset);
    RecordView v[1];
    if (cursor && ring(static_cast<std::int32_t>(p)).read(*cursor, v, 1).count == 1 && v[0].offset() == offset)
      for (const FrameAt& f : frames_in(region(p)))
        if (region(p).data() + f.at == v[0].frame()) return f;
    ADD_FAILURE() << "no frame holds offset " << offset;
    return {};
  }
  // Polls once (timeout 0) a consumer from the earliest record.
  PollResult poll_once(Consumer& c) { return c.poll(nanoseconds(0)); }

  Watchdog dog_;
  Target t_;
};

TEST_F(SegmentDamage, EarliestIsBoundedWhenTheHeadersContradictEachOther) {
  // earliest() looped until the generation current_generation implies was
  // live. One behind: the oldest retained one is found after all.
  const auto current = load<std::uint64_t>(region(0), kCurrentGenerationAt);
  const log::ReadCursor sound = ring(0).earliest();
  store<std::uint64_t>(region(0), kCurrentGenerationAt, current - 1);
  EXPECT_EQ(ring(0).earliest().generation, sound.generation);
  // Far off: none is live, and the cursor reads as out of range.
  store<std::uint64_t>(region(0), kCurrentGenerationAt, current + 1000);
  EXPECT_FALSE(ring(0).generation_live(ring(0).earliest().generation));
  Consumer c(t_.topic, {.on_overrun = OffsetReset::kError, .start_at_earliest = true});
  ASSERT_TRUE(c.assign(std::vector<std::int32_t>{0}).is_ok());
  const PollResult r = poll_once(c);
  EXPECT_TRUE(r.records.empty());
  EXPECT_EQ(r.status.code(), Code::kOffsetOutOfRange) << r.status.to_string();
}

TEST_F(SegmentDamage, AbandonedBitOnARecordIsCorruptNotASkip) {
  // A record whose commit word gained the abandoned kind was skipped with as
  // many offsets as its bytes said, as if its producer had died.
  const std::int64_t offset = t_.logs[1].records.begin()->first + 10;
  const FrameAt f = frame_of(1, offset);
  ASSERT_EQ(log::commit_kind(f.word), log::kKindRecord);
  store<std::uint64_t>(region(1), f.at, f.word | (std::uint64_t{log::kKindAbandoned} << log::kKindShift));
  store<std::uint32_t>(region(1), f.at + log::kAbandonedOffsets, 1);
  for (const bool verify : {false, true}) {
    Consumer c(t_.topic, {.start_at_earliest = true, .verify_checksums = verify});
    ASSERT_TRUE(c.assign(std::vector<std::int32_t>{1}).is_ok());
    PollResult r = poll_once(c);
    ASSERT_TRUE(r.status.is_ok());
    EXPECT_EQ(r.records.size(), 10u);
    EXPECT_EQ(r.abandoned, 0);
    r = poll_once(c);
    EXPECT_EQ(r.status.code(), Code::kCorrupt) << r.status.to_string();
    EXPECT_EQ(r.abandoned, 0);
    EXPECT_EQ(c.position(1), offset);
  }
}

TEST_F(SegmentDamage, ChecksumMismatchBeforeAnAbandonedFrameLeavesTheCursorOnIt) {
  // The consumer stepped back over the records after a bad checksum but not
  // over the abandoned frame among them: its cursor named a later offset and
  // a position inside another frame.
  const std::int64_t abandoned = *t_.logs[0].abandoned.begin();
  const std::int64_t bad = abandoned - 3;
  const FrameAt f = frame_of(0, bad);
  const auto checksum = load<std::uint32_t>(region(0), f.at + 4);
  store<std::uint32_t>(region(0), f.at + 4, checksum ^ 1);
  Consumer c(t_.topic, {.start_at_earliest = true, .verify_checksums = true});
  ASSERT_TRUE(c.assign(std::vector<std::int32_t>{0}).is_ok());
  ASSERT_TRUE(c.seek(0, bad - 2).is_ok());
  // The records before the bad one, then the error at its offset.
  PollResult r = poll_once(c);
  EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
  ASSERT_EQ(r.records.size(), 2u);
  r = poll_once(c);
  EXPECT_EQ(r.status.code(), Code::kCorrupt) << r.status.to_string();
  EXPECT_NE(r.status.message().find("offset " + std::to_string(bad)), std::string::npos) << r.status.message();
  EXPECT_TRUE(r.records.empty());
  EXPECT_EQ(c.position(0), bad);
  // Mended, the record and everything after it arrive, the abandoned offsets announced.
  store<std::uint32_t>(region(0), f.at + 4, checksum);
  std::vector<std::int64_t> offsets;
  std::int64_t skipped = 0;
  for (r = poll_once(c); r.status.is_ok() && !r.records.empty(); r = poll_once(c)) {
    for (const RecordView& v : r.records) offsets.push_back(v.offset());
    skipped += r.abandoned;
  }
  ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
  EXPECT_EQ(skipped, 3);
  ASSERT_FALSE(offsets.empty());
  EXPECT_EQ(offsets.front(), bad);
  EXPECT_EQ(offsets.size() + 3, static_cast<std::size_t>(t_.logs[0].records.rbegin()->first - bad + 1));
}

TEST_F(SegmentDamage, ARollFromATailPastTheSegmentEndStaysInIt) {
  // roll() cleaned from the tail's position to the segment's end: from past
  // the end, capacity - end wrapped and the memset ran off the region. Now
  // the roll is not begun at all (and roll() still bounds the position, for
  // a dead roller's roll redone from its slot).
  const Layout l(region(1));
  Producer producer(t_.topic);
  ASSERT_TRUE(producer.send(std::nullopt, "takes the producer's slot", {.partition = 1}).is_ok());
  const std::uint64_t damaged = (load<std::uint64_t>(region(1), kTailAt) & ~kTailPositionMask) | (l.data_capacity / 8 + 100);
  store<std::uint64_t>(region(1), kTailAt, damaged);
  const std::vector<std::byte> before = stored(region(1));
  auto sent = producer.send(std::nullopt, "never written", {.partition = 1});
  ASSERT_FALSE(sent.is_ok());
  EXPECT_EQ(sent.status().code(), Code::kCorrupt) << sent.status().to_string();
  EXPECT_TRUE(before == stored(region(1))) << "nothing was written";
  EXPECT_EQ(ring(1).check().code(), Code::kCorrupt);
  EXPECT_NE(ring(1).check().message().find("past the segment's " + std::to_string(l.data_capacity) + " data bytes"),
            std::string::npos)
      << ring(1).check().message();
}

TEST_F(SegmentDamage, LatestAnswersARollingTailThatNoSlotAnnounces) {
  // latest() waited for the roll to end; no roller announced it, so rescue
  // never came and every poll (even with timeout 0) hung.
  const std::int64_t sound = ring(1).latest_offset();
  const auto tail = load<std::uint64_t>(region(1), kTailAt);
  store<std::uint64_t>(region(1), kTailAt, tail | kTailPositionMask);
  EXPECT_EQ(ring(1).latest_offset(), sound) << "the rolling tail keeps its record count";
  Consumer c(t_.topic, {.start_at_earliest = true});
  ASSERT_TRUE(c.assign(std::vector<std::int32_t>{1}).is_ok());
  std::size_t records = 0;
  for (PollResult r = poll_once(c); !r.records.empty() || r.abandoned > 0; r = poll_once(c))
    records += r.records.size();
  EXPECT_EQ(records, t_.logs[1].records.size());
  EXPECT_TRUE(c.seek_to_end().is_ok());
  EXPECT_EQ(c.position(1), sound);
}

TEST_F(SegmentDamage, AProducerOnARollingTailThatNoSlotAnnouncesGetsCorrupt) {
  // claim() waited for the roll to end, rescuing it every so often; with no
  // roller announced there was nothing to rescue, and send() spun forever.
  // (A new producer is refused when it takes its claim slot, check() seeing
  // the same: the one here has its slot, so its claim meets the tail.)
  Producer producer(t_.topic);
  ASSERT_TRUE(producer.send(std::nullopt, "takes the producer's slot", {.partition = 1}).is_ok());
  const auto tail = load<std::uint64_t>(region(1), kTailAt);
  store<std::uint64_t>(region(1), kTailAt, tail | kTailPositionMask);
  ASSERT_TRUE(ring(1).wedged());
  EXPECT_NE(ring(1).check().message().find("partition 1 is damaged: the tail word"), std::string::npos);
  EXPECT_NE(ring(1).check().message().find("stuck mid-roll"), std::string::npos) << ring(1).check().message();
  const auto sent = producer.send(std::nullopt, "never written", {.partition = 1});
  ASSERT_FALSE(sent.is_ok());
  EXPECT_EQ(sent.status().code(), Code::kCorrupt) << sent.status().to_string();
  EXPECT_NE(sent.status().message().find("partition 1 is damaged: the tail word"), std::string::npos) << sent.status().message();
  EXPECT_NE(sent.status().message().find("nothing was written"), std::string::npos) << sent.status().message();
  const std::string value = "never written either";
  const Message batch[] = {{std::nullopt, value}, {std::nullopt, value}};
  const auto batched = producer.send_batch(batch, 1);
  EXPECT_EQ(batched.status().code(), Code::kCorrupt) << batched.status().to_string();
  // Nothing was written, and the producer's slot holds no claim: mended, the
  // partition takes records again where it stopped.
  for (const auto& p : ring(1).producers()) {
    if (p.owner.pid == ::getpid()) {
      EXPECT_EQ(p.state, log::kSlotIdle);
    }
  }
  store<std::uint64_t>(region(1), kTailAt, tail);
  const std::int64_t next = ring(1).latest_offset();
  const auto after = producer.send(std::nullopt, "after the mend", {.partition = 1});
  ASSERT_TRUE(after.is_ok()) << after.status().to_string();
  EXPECT_EQ(after->offset, next);
}

TEST_F(SegmentDamage, AForgedClaimInAGenerationNotYetOpenIsNotAbandoned) {
  // abandon() took a dead owner's pending claim in a generation being
  // prepared (its segment header already stamped) for real, cleaning ahead
  // two generations further: into a retained segment, whose records were lost.
  const auto current = load<std::uint64_t>(region(0), kCurrentGenerationAt);
  for (const bool damaged_current : {false, true}) {
    SCOPED_TRACE(damaged_current ? "current_generation moved ahead" : "asked for that generation");
    const std::uint64_t forged = current + 2;
    ASSERT_TRUE(ring(0).generation_live(forged)) << "its header is stamped";
    auto slot = ring(0).acquire_slot(dead_process());
    ASSERT_TRUE(slot.is_ok()) << slot.status().to_string();
    (*slot)->tail.store((forged & 0xFFFF) << 48, std::memory_order_relaxed);
    (*slot)->size.store(64 | (std::uint64_t{1} << 32), std::memory_order_relaxed);
    (*slot)->state.store(log::kSlotPending, std::memory_order_release);
    if (damaged_current) {
      store<std::uint64_t>(region(0), kCurrentGenerationAt, forged);
      (void)ring(0).reap_dead();
      store<std::uint64_t>(region(0), kCurrentGenerationAt, current);
    } else {
      EXPECT_EQ(ring(0).recover_abandoned(forged), 0u);
    }
    EXPECT_EQ((*slot)->state.load(), log::kSlotIdle) << "the forged claim is dropped";
    expect_sound(t_);  // every record, in order, checksums verified
    t_.restore();
  }
}

TEST_F(SegmentDamage, ADamagedCommitLengthInADeadClaimIsNotFollowedPastTheClaim) {
  // abandon() believed any committed length that fit the claim: one leaving
  // 8..40 bytes had it write a 48-byte frame header past the claim's end -
  // into the next claim, the next segment's header or off the mapping.
  log::PartitionRing& r = ring(1);
  auto slot = r.acquire_slot(dead_process());
  ASSERT_TRUE(slot.is_ok()) << slot.status().to_string();
  constexpr std::uint32_t kBytes = 192;
  log::Claim claim;
  ASSERT_EQ(r.claim(kBytes, 2, *slot, &claim), log::ClaimStatus::kOk);
  const std::size_t at = static_cast<std::size_t>(claim.data - region(1).data());
  const std::vector<std::byte> after(region(1).begin() + static_cast<std::ptrdiff_t>(at + kBytes),
                                     region(1).begin() + static_cast<std::ptrdiff_t>(at + kBytes + 64));
  // The dead owner "committed" a first frame of 184 bytes: 8 left, no room for a frame.
  store<std::uint64_t>(region(1), at, log::make_commit_word(log::make_info(log::kKindRecord, 184), 0));
  EXPECT_EQ(r.recover_abandoned(claim.generation), 2u) << "both offsets are abandoned";
  EXPECT_EQ((*slot)->state.load(), log::kSlotIdle);
  EXPECT_TRUE(std::equal(after.begin(), after.end(), region(1).begin() + static_cast<std::ptrdiff_t>(at + kBytes)))
      << "nothing past the claim was written";
  const auto word = load<std::uint64_t>(region(1), at);
  EXPECT_EQ(log::commit_length(word), kBytes) << "one abandoned frame covers the whole claim";
  EXPECT_EQ(log::commit_kind(word), log::kKindAbandoned);
  // A reader skips the two offsets and reads on.
  Consumer c(t_.topic, {.verify_checksums = true});
  ASSERT_TRUE(c.assign(std::vector<std::int32_t>{1}).is_ok());
  const std::int64_t before = claim.first_offset - 1;
  ASSERT_TRUE(t_.logs[1].records.count(before)) << "a record precedes the claim";
  ASSERT_TRUE(c.seek(1, before).is_ok());
  Producer producer(t_.topic);
  ASSERT_TRUE(producer.send(std::nullopt, "after", {.partition = 1}).is_ok());
  PollResult res = poll_once(c);
  ASSERT_TRUE(res.status.is_ok()) << res.status.to_string();
  EXPECT_EQ(res.abandoned, 2);
  ASSERT_EQ(res.records.size(), 2u);
  EXPECT_EQ(res.records[0].offset(), before);
  EXPECT_EQ(res.records[0].value(), t_.logs[1].records.at(before).value);
  EXPECT_EQ(res.records[1].offset(), claim.first_offset + 2);
  EXPECT_EQ(res.records[1].value(), "after");
}

TEST_F(SegmentDamage, ABatchFromADamagedBaseOffsetIsRefusedWithoutOverflow) {
  // send_batch numbered its records first_offset + i in int64: a base offset
  // damaged to near the limit overflowed (undefined; UBSan aborts). Base
  // offsets stay below 2^62: the claim now refuses one past that, and the
  // producer writes nothing - whether it takes its slot now or had one.
  const Layout l(region(1));
  const auto current = load<std::uint64_t>(region(1), kCurrentGenerationAt);
  const auto tail = load<std::uint64_t>(region(1), kTailAt);
  const auto count = static_cast<std::int64_t>((tail >> 28) & ((1u << 20) - 1));
  const std::int64_t base = std::numeric_limits<std::int64_t>::max() - count;  // the batch's first offset: max
  const Message batch[] = {{std::nullopt, "a"}, {std::nullopt, "b"}, {std::nullopt, "c"}};
  Producer had_slot(t_.topic);
  ASSERT_TRUE(had_slot.send(std::nullopt, "takes the producer's slot", {.partition = 1}).is_ok());
  store<std::int64_t>(region(1), l.segment(current) + 8, base);
  const std::vector<std::byte> before = stored(region(1));
  Producer fresh(t_.topic);
  for (Producer* producer : {&fresh, &had_slot}) {
    const auto sent = producer->send_batch(batch, 1);
    ASSERT_FALSE(sent.is_ok());
    EXPECT_EQ(sent.status().code(), Code::kCorrupt) << sent.status().to_string();
    EXPECT_TRUE(before == stored(region(1))) << "nothing was written";
  }
  EXPECT_NE(ring(1).check().message().find("base_offset " + std::to_string(base)), std::string::npos)
      << ring(1).check().message();
}

TEST_F(SegmentDamage, AttachRefusesAZeroIndexInterval) {
  // attach() computed the layout, dividing by the interval, before checking it.
  store<std::uint32_t>(region(1), offsetof(log::PartitionHeader, index_interval), 0);
  EXPECT_EQ(log::PartitionRing::attach(region(1), 1, nullptr).status().code(), Code::kCorrupt);
}

TEST_F(SegmentDamage, AnOverrunThatWouldGoBackIsCorrupt) {
  // A segment whose generation was damaged reads as overwritten; the
  // consumer reset to the earliest offset - behind it - and delivered its
  // records again.
  for (const OffsetReset reset : {OffsetReset::kEarliest, OffsetReset::kError}) {
    Consumer c(t_.topic, {.on_overrun = reset, .start_at_earliest = true});
    ASSERT_TRUE(c.assign(std::vector<std::int32_t>{1}).is_ok());
    while (!poll_once(c).records.empty()) {
    }
    const std::int64_t end = c.position(1);
    const Layout l(region(1));
    const std::size_t at = l.segment(1);  // partition 1 is in its second segment
    store<std::uint64_t>(region(1), at, load<std::uint64_t>(region(1), at) + (1ull << 32));
    const PollResult r = poll_once(c);
    EXPECT_TRUE(r.records.empty());
    EXPECT_EQ(r.status.code(), Code::kCorrupt) << r.status.to_string();
    EXPECT_EQ(c.position(1), end);
    t_.restore();
  }
}

TEST_F(SegmentDamage, DamagedBaseOffsetsWrapWithoutOverflow) {
  // Offsets near the int64 limit overflowed (undefined; UBSan aborts) in
  // latest(), read() and the consumer's count of skipped records.
  const Layout l(region(0));
  const auto current = load<std::uint64_t>(region(0), kCurrentGenerationAt);
  const auto tail = load<std::uint64_t>(region(0), kTailAt);
  const std::uint32_t count = static_cast<std::uint32_t>((tail >> 28) & ((1u << 20) - 1));
  ASSERT_GT(count, 0u);
  store<std::int64_t>(region(0), l.segment(current) + 8, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(ring(0).latest_offset(),
            static_cast<std::int64_t>(static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + count));
  Consumer c(t_.topic, {.start_at_earliest = true});
  ASSERT_TRUE(c.assign(std::vector<std::int32_t>{0}).is_ok());
  ASSERT_TRUE(c.seek_to_end().is_ok());
  EXPECT_TRUE(poll_once(c).records.empty());
  // The oldest retained segment far ahead of a reader whose segment was overwritten.
  store<std::int64_t>(region(0), l.segment(current - 2) + 8, std::numeric_limits<std::int64_t>::max());
  store<std::int64_t>(region(0), l.segment(current) + 8, std::numeric_limits<std::int64_t>::min());
  ASSERT_TRUE(c.seek_to_end().is_ok());
  store<std::uint64_t>(region(0), l.segment(current), current + 100);
  const PollResult r = poll_once(c);
  EXPECT_EQ(r.skipped, std::numeric_limits<std::int64_t>::max()) << "2^64 - 1 - count, capped";
  EXPECT_EQ(r.status.code(), Code::kCorrupt)
      << "the first record's offset is not the damaged base: " << r.status.to_string();
}

TEST_F(SegmentDamage, SeekingToTheEndsKeepsTheReaderRegistration) {
  // seek_to_beginning/end/time rebuilt each cursor without its registration:
  // the slot stayed registered to this process at a stale position (for
  // overflow=block producers to wait for) after the consumer was gone.
  const auto mine = [&] {
    std::size_t n = 0;
    for (const auto& r : ring(1).readers()) n += r.owner.pid == ::getpid() && r.alive;
    return n;
  };
  const std::size_t before = mine();
  {
    Consumer c(t_.topic, {.start_at_earliest = true});
    ASSERT_TRUE(c.assign(std::vector<std::int32_t>{1}).is_ok());
    EXPECT_EQ(mine(), before + 1);
    ASSERT_TRUE(c.seek_to_beginning().is_ok());
    ASSERT_TRUE(c.seek_to_end().is_ok());
    ASSERT_TRUE(c.seek_to_time(t_.logs[1].first_ts).is_ok());
    EXPECT_EQ(mine(), before + 1);
    EXPECT_FALSE(poll_once(c).records.empty());
  }
  EXPECT_EQ(mine(), before);
}

// ---------------------------------------------------------------- registry fuzz

// A shared-memory object mapped by the test, as a hostile process would map it.
class MappedObject {
 public:
  explicit MappedObject(const std::string& name) {
    const int fd = ::shm_open(("/" + name).c_str(), O_RDWR, 0);
    EXPECT_GE(fd, 0) << name;
    if (fd < 0) return;
    struct stat st {};
    ::fstat(fd, &st);
    void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    EXPECT_NE(p, MAP_FAILED);
    if (p != MAP_FAILED) bytes_ = {static_cast<std::byte*>(p), static_cast<std::size_t>(st.st_size)};
  }
  ~MappedObject() {
    if (!bytes_.empty()) ::munmap(bytes_.data(), bytes_.size());
  }
  MappedObject(const MappedObject&) = delete;
  MappedObject& operator=(const MappedObject&) = delete;
  std::span<std::byte> bytes() const { return bytes_; }

 private:
  std::span<std::byte> bytes_;
};

constexpr TopicConfig kRegistryTopic{.partitions = 1, .segment_bytes = 4096, .segment_count = 4, .index_interval = 256};
const char* const kRegistryTopics[] = {"alpha", "beta.two", "gamma-3"};

constexpr std::size_t kLockAt = offsetof(registry::Header, lock);
constexpr std::size_t kLockEnd = kLockAt + sizeof(pthread_mutex_t);

std::size_t entry_at(std::size_t i) {
  return registry::kEntriesOffset + i * sizeof(registry::TopicEntry);
}

// Damages the registry: a header field (never the mutex: see
// DamagedRegistryLockGivesAnErrorOrRecovers),
// fields of an entry in use or free, or random bytes. Returns what it did.
std::string damage_registry(std::span<std::byte> reg, std::mt19937_64& rng, bool* header_refused) {
  const auto below = [&](std::uint64_t n) { return rng() % n; };
  const auto hostile = [&](std::uint64_t near) -> std::uint64_t {
    static constexpr std::uint64_t kValues[] = {
        0, 1, 2, 3, 4, 249, 250, 251, 252, 4095, 4096, 4097, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFFull};
    switch (rng() % 3) {
      case 0:
        return kValues[rng() % std::size(kValues)];
      case 1:
        return near + rng() % 5 - 2;
      default:
        return rng();
    }
  };
  *header_refused = false;
  switch (below(10)) {
    case 0: {
      switch (below(5)) {
        case 0: {
          const auto v = static_cast<std::uint32_t>(hostile(registry::kVersion));
          *header_refused = v < registry::kOldestReadableVersion || v > registry::kVersion;
          store<std::uint32_t>(reg, offsetof(registry::Header, version), v);
          return "version -> " + std::to_string(v);
        }
        case 1: {
          const auto v = static_cast<std::uint32_t>(hostile(registry::kCapacity));
          *header_refused = v != registry::kCapacity;
          store<std::uint32_t>(reg, offsetof(registry::Header, capacity), v);
          return "capacity -> " + std::to_string(v);
        }
        case 2: {
          const auto v = hostile(10);
          store<std::uint64_t>(reg, offsetof(registry::Header, next_incarnation), v);
          return "next_incarnation -> " + std::to_string(v);
        }
        case 3: {
          static constexpr std::uint32_t kModes[] = {0, 0600, 0660, 0666, 0777, 0xFFFFFFFF};
          const std::uint32_t v = kModes[below(std::size(kModes))];
          *header_refused = v != registry::kOwnerOnlyMode && v != registry::kGroupMode;
          store<std::uint32_t>(reg, offsetof(registry::Header, object_mode), v);
          return "object_mode -> " + std::to_string(v);
        }
        default: {
          const std::size_t at =
              offsetof(registry::Header, group_id) + below(kLockAt - offsetof(registry::Header, group_id));
          reg[at] = static_cast<std::byte>(rng());
          return "header byte " + std::to_string(at);
        }
      }
    }
    case 1: {
      std::string what = "random bytes at";
      for (std::uint64_t i = 0, n = 1 + below(16); i < n; ++i) {
        std::size_t at = kLockEnd + below(reg.size() - kLockEnd);
        if (below(2)) at = entry_at(below(4)) + below(sizeof(registry::TopicEntry));  // mostly the entries in use
        reg[at] = static_cast<std::byte>(rng());
        what += " " + std::to_string(at);
      }
      return what;
    }
    default: {
      const std::size_t i = below(4) == 0 ? below(registry::kCapacity) : below(4);  // 0-2 in use, 3 free
      const std::size_t at = entry_at(i);
      const std::string where = "entry " + std::to_string(i) + ": ";
      switch (below(9)) {
        case 0: {
          const auto v = static_cast<std::uint32_t>(below(2) ? below(5) : hostile(2));
          store<std::uint32_t>(reg, at + offsetof(registry::TopicEntry, state), v);
          return where + "state -> " + std::to_string(v);
        }
        case 1: {
          const auto v = static_cast<std::int32_t>(hostile(1));
          store<std::int32_t>(reg, at + offsetof(registry::TopicEntry, partitions), v);
          return where + "partitions -> " + std::to_string(v);
        }
        case 2: {
          const std::uint64_t sizes[] = {0, 4096, 8192, 16384, 4097, 1ull << 30, 2ull << 30, hostile(4096)};
          const std::uint64_t v = sizes[below(std::size(sizes))];
          store<std::uint64_t>(reg, at + offsetof(registry::TopicEntry, segment_bytes), v);
          return where + "segment_bytes -> " + std::to_string(v);
        }
        case 3: {
          const auto v = static_cast<std::uint32_t>(hostile(4));
          store<std::uint32_t>(reg, at + offsetof(registry::TopicEntry, segment_count), v);
          return where + "segment_count -> " + std::to_string(v);
        }
        case 4: {
          const auto v = static_cast<std::uint32_t>(below(2) ? 1u << below(32) : hostile(256));
          store<std::uint32_t>(reg, at + offsetof(registry::TopicEntry, index_interval), v);
          return where + "index_interval -> " + std::to_string(v);
        }
        case 5: {
          const auto v = hostile(1);
          store<std::uint64_t>(reg, at + offsetof(registry::TopicEntry, incarnation), v);
          return where + "incarnation -> " + std::to_string(v);
        }
        case 6: {
          const auto v = static_cast<std::uint32_t>(hostile(5));
          store<std::uint32_t>(reg, at + offsetof(registry::TopicEntry, name_length), v);
          return where + "name_length -> " + std::to_string(v);
        }
        case 7: {
          static constexpr char kChars[] = {'\0', '/', '.', '~', ' ', '\xff', 'a', 'Z'};
          const std::size_t k = below(registry::kMaxNameBytes + 3);
          reg[at + offsetof(registry::TopicEntry, name) + k] = static_cast<std::byte>(kChars[below(std::size(kChars))]);
          return where + "name byte " + std::to_string(k);
        }
        default: {
          const std::size_t k = below(64);
          reg[at + offsetof(registry::TopicEntry, doorbell) + k] = static_cast<std::byte>(rng());
          return where + "doorbell byte " + std::to_string(k);
        }
      }
    }
  }
}

// Every registry call, over a namespace handle.
void run_registry_calls(Namespace& ns, std::mt19937_64& rng, std::uint64_t* sum) {
  auto names = ns.list_topics();
  ASSERT_TRUE(names.is_ok()) << names.status().to_string();
  std::vector<std::string> all(names->begin(), names->end());
  if (all.size() > 8) all.resize(8);
  for (const char* n : kRegistryTopics) all.emplace_back(n);
  for (const std::string& name : all) {
    auto info = ns.describe_topic(name);
    if (info) {
      EXPECT_EQ(info->partitions.size(), static_cast<std::size_t>(info->config.partitions));
      for (const PartitionInfo& p : info->partitions)
        *sum += static_cast<std::uint64_t>(p.latest_offset - p.earliest_offset);
    }
    auto topic = ns.open_topic(name);
    if (topic) {
      EXPECT_GE((*topic)->partition_count(), 1);
      EXPECT_LE((*topic)->partition_count(), 4096);
      for (std::int32_t p = 0; p < (*topic)->partition_count(); ++p) *sum += client::ring_of(*(*topic), p).segment_count();
    }
  }
  const std::string fresh = "fuzz-new-" + std::to_string(rng() % 3);
  if (ns.create_topic(fresh, kRegistryTopic).is_ok()) {
    auto topic = ns.open_topic(fresh);
    EXPECT_TRUE(topic.is_ok()) << topic.status().to_string();
    if (topic) {
      Producer producer(*topic);
      EXPECT_TRUE(producer.send(std::nullopt, "into a topic made in a damaged registry").is_ok());
    }
    (void)ns.delete_topic(fresh);
  }
  EXPECT_FALSE(ns.delete_topic("no-such-topic").is_ok());
}

TEST(RegistryFuzz, DamagedRegistryGivesErrorsNotCrashes) {
  ShmGuard guard;
  auto ns = Namespace::open_shared(guard.ns());
  ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
  for (const char* name : kRegistryTopics) ASSERT_TRUE((*ns)->create_topic(name, kRegistryTopic).is_ok());
  {
    auto topic = (*ns)->open_topic(kRegistryTopics[0]);
    ASSERT_TRUE(topic.is_ok());
    Producer producer(*topic);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(producer.send(std::nullopt, "record " + std::to_string(i)).is_ok());
  }
  MappedObject registry(client::registry_object_name(guard.ns()));
  ASSERT_EQ(registry.bytes().size(), registry::kRegionBytes);
  const std::vector<std::byte> sound(registry.bytes().begin(), registry.bytes().end());
  Watchdog dog;
  std::uint64_t sum = 0;
  const std::int64_t iterations = scaled(400, 20);
  for (std::int64_t i = 0; i < iterations; ++i) {
    std::mt19937_64 rng(3000 + static_cast<std::uint64_t>(i));
    bool refused = false;
    std::string what = damage_registry(registry.bytes(), rng, &refused);
    if (rng() % 6 == 0) {
      bool also = false;
      what += "; then " + damage_registry(registry.bytes(), rng, &also);
      refused = refused || also;
    }
    what = "registry iteration " + std::to_string(i) + ": " + what;
    SCOPED_TRACE(what);
    dog.arm(what, kIterationDeadline);
    dog.step("open_shared");
    auto fresh = Namespace::open_shared(guard.ns());
    if (refused) {
      EXPECT_EQ(fresh.status().code(), Code::kCorrupt) << "a header this build cannot read";
    }
    if (fresh) {
      dog.step("calls on a fresh handle");
      run_registry_calls(**fresh, rng, &sum);
    }
    dog.step("calls on the handle opened before");
    run_registry_calls(**ns, rng, &sum);
    dog.disarm();
    std::memcpy(registry.bytes().data(), sound.data(), sound.size());
    if (::testing::Test::HasFatalFailure()) return;
  }
  // Sound again: everything is where it was.
  auto names = (*ns)->list_topics();
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(names->size(), std::size(kRegistryTopics));
  auto info = (*ns)->describe_topic(kRegistryTopics[0]);
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->partitions[0].latest_offset, 20) << sum;
}

TEST(RegistryFuzz, DamagedRegistryLockGivesAnErrorOrRecovers) {
  // The registry's robust mutex, damaged: its type (the lock must refuse it
  // as corrupt, not go on unlocked), its futex word naming a thread that is
  // gone or none (the lock must treat the holder as dead, not wait forever),
  // or any of its other bytes. A word naming a live thread is a live holder,
  // waited for up to a patience of 30 s (not fuzzed: each would take that long).
  ShmGuard guard;
  auto ns = Namespace::open_shared(guard.ns());
  ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
  for (const char* name : kRegistryTopics) ASSERT_TRUE((*ns)->create_topic(name, kRegistryTopic).is_ok());
  {
    auto topic = (*ns)->open_topic(kRegistryTopics[0]);
    ASSERT_TRUE(topic.is_ok());
    Producer producer(*topic);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(producer.send(std::nullopt, "record " + std::to_string(i)).is_ok());
  }
  std::vector<std::string> expected(std::begin(kRegistryTopics), std::end(kRegistryTopics));
  std::sort(expected.begin(), expected.end());
  MappedObject registry(client::registry_object_name(guard.ns()));
  std::span<std::byte> reg = registry.bytes();
  const std::vector<std::byte> sound(reg.begin(), reg.end());
  const pid_t gone = ::fork();  // a thread id that names nobody once reaped
  if (gone == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(gone, nullptr, 0), gone);
  constexpr std::size_t kWordAt = kLockAt + offsetof(pthread_mutex_t, __data.__lock);
  constexpr std::size_t kKindAt = kLockAt + offsetof(pthread_mutex_t, __data.__kind);
  Watchdog dog;
  for (std::int64_t i = 0, n = scaled(12, 8); i < n; ++i) {
    std::mt19937_64 rng(5000 + static_cast<std::uint64_t>(i));
    std::string what;
    switch (rng() % 4) {
      case 0: {
        const auto kind = load<std::int32_t>(reg, kKindAt) ^ static_cast<std::int32_t>(1u << (rng() % 32));
        store<std::int32_t>(reg, kKindAt, kind);
        what = "kind -> " + std::to_string(kind);
        break;
      }
      case 1: {
        const std::uint32_t word = static_cast<std::uint32_t>(gone) | (rng() % 2 ? FUTEX_WAITERS : 0u);
        store<std::uint32_t>(reg, kWordAt, word);
        what = "lock word -> a gone thread " + std::to_string(word);
        break;
      }
      case 2:
        store<std::uint32_t>(reg, kWordAt, FUTEX_WAITERS);
        what = "lock word -> waiters and no holder";
        break;
      default: {
        // The bytes after the word: count, owner, users, kind, spins, list.
        const std::size_t at = kWordAt + 4 + rng() % (sizeof(pthread_mutex_t) - 4);
        reg[at] = static_cast<std::byte>(rng());
        what = "mutex byte " + std::to_string(at - kLockAt);
        break;
      }
    }
    what = "lock iteration " + std::to_string(i) + ": " + what;
    SCOPED_TRACE(what);
    dog.arm(what, kIterationDeadline);
    dog.step("list_topics");
    auto names = (*ns)->list_topics();
    if (names) {
      EXPECT_EQ(*names, expected);
    } else {
      EXPECT_EQ(names.status().code(), Code::kCorrupt) << names.status().to_string();
    }
    dog.step("create and delete");
    const Status created = (*ns)->create_topic("fuzz-new", kRegistryTopic);
    if (created.is_ok()) {
      EXPECT_TRUE((*ns)->delete_topic("fuzz-new").is_ok());
    } else {
      EXPECT_EQ(created.code(), Code::kCorrupt) << created.to_string();
    }
    dog.disarm();
    std::memcpy(reg.data(), sound.data(), sound.size());
  }
  // Sound again: everything is where it was, and the lock works.
  auto names = (*ns)->list_topics();
  ASSERT_TRUE(names.is_ok()) << names.status().to_string();
  EXPECT_EQ(*names, expected);
  auto info = (*ns)->describe_topic(kRegistryTopics[0]);
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->partitions[0].latest_offset, 20);
}

TEST(RegistryFuzz, BadMagicAndTruncatedRegistryAreCorrupt) {
  ShmGuard guard;
  ASSERT_TRUE(Namespace::open_shared(guard.ns()).is_ok());
  const std::string object = client::registry_object_name(guard.ns());
  {
    MappedObject registry(object);
    store<std::uint64_t>(registry.bytes(), 0, registry::kMagic ^ 1);
    auto ns = Namespace::open_shared(guard.ns());  // waits a second for a creator that is not there
    EXPECT_EQ(ns.status().code(), Code::kCorrupt) << ns.status().to_string();
    store<std::uint64_t>(registry.bytes(), 0, registry::kMagic);
  }
  for (const off_t size : {off_t{100}, off_t{registry::kEntriesOffset}, off_t{registry::kRegionBytes - 1}}) {
    const int fd = ::shm_open(("/" + object).c_str(), O_RDWR, 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, size), 0);
    ::close(fd);
    auto ns = Namespace::open_shared(guard.ns());
    EXPECT_EQ(ns.status().code(), Code::kCorrupt) << size << ": " << ns.status().to_string();
  }
}

TEST(RegistryFuzz, RepairAfterADeadLockHolderSurvivesDamagedEntries) {
  // The next locker after a process died holding the registry lock rolls back
  // entries left creating and finishes those left deleting; their partition
  // counts and names are damaged too.
  ShmGuard guard;
  auto ns = Namespace::open_shared(guard.ns());
  ASSERT_TRUE(ns.is_ok());
  ASSERT_TRUE((*ns)->create_topic("keep", kRegistryTopic).is_ok());
  MappedObject registry(client::registry_object_name(guard.ns()));
  std::span<std::byte> reg = registry.bytes();
  struct Damaged {
    registry::EntryState state;
    std::int32_t partitions;
    std::uint32_t name_length;
    std::string_view name;
  };
  // The third names "keep.0" and then NULs: its objects' names, cut at the
  // first NUL by shm_unlink, would be those of topic "keep".
  const Damaged damaged[] = {{registry::kDeleting, -1, 0xFFFFFFFFu, "xyz"},
                             {registry::kCreating, 0, 3, "a/b"},
                             {registry::kDeleting, 4097, registry::kMaxNameBytes, "keep.0"},
                             {registry::kCreating, std::numeric_limits<std::int32_t>::max(), 4, "xyzw"}};
  for (std::size_t i = 0; i < std::size(damaged); ++i) {
    const std::size_t at = entry_at(10 + i);
    store<std::uint32_t>(reg, at + offsetof(registry::TopicEntry, state), damaged[i].state);
    store<std::int32_t>(reg, at + offsetof(registry::TopicEntry, partitions), damaged[i].partitions);
    store<std::uint32_t>(reg, at + offsetof(registry::TopicEntry, name_length), damaged[i].name_length);
    std::memcpy(reg.data() + at + offsetof(registry::TopicEntry, name), damaged[i].name.data(), damaged[i].name.size());
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pthread_mutex_lock(reinterpret_cast<pthread_mutex_t*>(reg.data() + kLockAt));
    ::_exit(0);  // dies holding it
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  auto names = (*ns)->list_topics();  // the first locker repairs
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(*names, std::vector<std::string>{"keep"});
  for (std::size_t i = 0; i < std::size(damaged); ++i)
    EXPECT_EQ(load<std::uint32_t>(reg, entry_at(10 + i)), registry::kFree);
  auto keep = (*ns)->open_topic("keep");
  EXPECT_TRUE(keep.is_ok()) << "a damaged entry's repair removed another topic's objects: "
                            << keep.status().to_string();
}

}  // namespace
}  // namespace rill
