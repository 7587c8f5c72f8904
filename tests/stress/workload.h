// The workload of the concurrency and multi-process suites: what producers
// send, and the checks a consumer runs on every record it receives.
//
// A record of producer P with sequence number S (0, 1, 2, ... per producer):
//   key    "p<P>-k<S % 97>" (or null, for the null-key runs), so that each
//          producer's keys spread over every partition;
//   value  u32 P, u64 S (little-endian), then 8 + S*7 % 120 payload bytes
//          derived from (P, S), so that a record can be checked on its own.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "rill/rill.h"

namespace rill::testing {

inline std::string record_key(std::uint32_t producer, std::uint64_t seq) {
  return "p" + std::to_string(producer) + "-k" + std::to_string(seq % 97);
}

inline std::size_t record_value_size(std::uint64_t seq) {
  return 12 + 8 + seq * 7 % 120;
}

inline char payload_byte(std::uint32_t producer, std::uint64_t seq, std::size_t i) {
  return static_cast<char>('a' + (producer * 7 + seq + i) % 26);
}

// Writes the value of (producer, seq) into out (record_value_size(seq) bytes).
inline void write_record_value(std::uint32_t producer, std::uint64_t seq, char* out) {
  std::memcpy(out, &producer, 4);
  std::memcpy(out + 4, &seq, 8);
  const std::size_t n = record_value_size(seq);
  for (std::size_t i = 12; i < n; ++i) out[i] = payload_byte(producer, seq, i);
}

inline std::string record_value(std::uint32_t producer, std::uint64_t seq) {
  std::string v(record_value_size(seq), '\0');
  write_record_value(producer, seq, v.data());
  return v;
}

struct ParsedRecord {
  std::uint32_t producer = 0;
  std::uint64_t seq = 0;
};

// Checks one record: checksum, value layout and payload, and the key (null
// when `keyed` is false). Returns an error message, or nullopt if sound.
inline std::optional<std::string> check_record(const RecordView& v, std::uint32_t producers, bool keyed,
                                               ParsedRecord* out) {
  const auto where = [&] {
    return "partition " + std::to_string(v.partition()) + " offset " + std::to_string(v.offset());
  };
  if (!v.verify_checksum()) return "checksum mismatch at " + where();
  const std::string_view value = v.value();
  if (value.size() < 12) return "value too short at " + where();
  std::uint32_t producer;
  std::uint64_t seq;
  std::memcpy(&producer, value.data(), 4);
  std::memcpy(&seq, value.data() + 4, 8);
  if (producer >= producers) return "unknown producer " + std::to_string(producer) + " at " + where();
  if (value.size() != record_value_size(seq)) return "wrong value size at " + where();
  for (std::size_t i = 12; i < value.size(); ++i)
    if (value[i] != payload_byte(producer, seq, i)) return "wrong payload at " + where();
  if (keyed) {
    if (!v.has_key() || v.key() != record_key(producer, seq)) return "wrong key at " + where();
  } else if (v.has_key()) {
    return "unexpected key at " + where();
  }
  out->producer = producer;
  out->seq = seq;
  return std::nullopt;
}

// Which sequence numbers of each producer a consumer has seen.
class SeenSet {
 public:
  SeenSet(std::uint32_t producers, std::uint64_t per_producer)
      : per_producer_(per_producer), bits_(producers, std::vector<bool>(per_producer, false)) {}
  // False if (producer, seq) was seen before or is out of range.
  bool add(std::uint32_t producer, std::uint64_t seq) {
    if (producer >= bits_.size() || seq >= per_producer_ || bits_[producer][seq]) return false;
    bits_[producer][seq] = true;
    return true;
  }
  // Number of records not seen; the first missing one in *first.
  std::uint64_t missing(std::string* first) const {
    std::uint64_t n = 0;
    for (std::uint32_t p = 0; p < bits_.size(); ++p)
      for (std::uint64_t s = 0; s < per_producer_; ++s)
        if (!bits_[p][s] && n++ == 0 && first) *first = "producer " + std::to_string(p) + " seq " + std::to_string(s);
    return n;
  }

 private:
  std::uint64_t per_producer_;
  std::vector<std::vector<bool>> bits_;
};

// ---------------------------------------------------------------- sizing

// Largest frame the workload produces: header, key "p<id>-k<n>", value.
inline constexpr std::uint64_t kMaxWorkloadFrame = 48 + 16 + 12 + 8 + 120 + 8;

// A topic config whose rings hold every record of `producers` x
// `per_producer`, so that no reader is ever overrun: segments of
// `segment_bytes` (doubled while more than 65536 would be needed).
inline TopicConfig config_holding_everything(std::int32_t partitions, std::uint64_t segment_bytes,
                                             std::uint32_t producers, std::uint64_t per_producer, bool keyed) {
  auto scratch = Namespace::in_process().value();
  TopicConfig config{.partitions = partitions, .segment_bytes = segment_bytes, .segment_count = 4};
  if (!scratch->create_topic("probe", config).is_ok()) return config;
  const Producer partitioner(scratch->open_topic("probe").value());
  std::vector<std::uint64_t> bytes(static_cast<std::size_t>(partitions), 0);
  std::uint64_t total = 0;
  for (std::uint32_t id = 0; id < producers; ++id)
    for (std::uint64_t seq = 0; seq < per_producer; ++seq) {
      const std::string key = record_key(id, seq);
      const std::uint64_t frame = (48 + (keyed ? key.size() : 0) + record_value_size(seq) + 7) & ~std::uint64_t{7};
      total += frame;
      if (keyed) bytes[static_cast<std::size_t>(partitioner.partition_for(key))] += frame;
    }
  // Null keys go round-robin (a batch sticks to one partition): about even.
  if (!keyed)
    for (auto& b : bytes)
      b = total / static_cast<std::uint64_t>(partitions) * 3 / 2 + 64 * kMaxWorkloadFrame * producers;
  const std::uint64_t most = *std::max_element(bytes.begin(), bytes.end());
  for (;;) {
    auto probe = Namespace::in_process().value();
    TopicConfig one = config;
    one.partitions = 1;
    if (!probe->create_topic("probe", one).is_ok()) return config;
    auto info = probe->describe_topic("probe");
    // A segment ends where the next claim did not fit: up to one frame, or up
    // to a batch's claim (at most a quarter segment). 3 segments are never
    // readable.
    const std::uint64_t usable = info->max_record_bytes * 3 / 4 - kMaxWorkloadFrame;
    const std::uint64_t segments = (most + usable - 1) / usable + 4;
    if (segments <= 65536) {
      config.segment_count = static_cast<std::uint32_t>(segments);
      return config;
    }
    config.segment_bytes *= 2;
  }
}

// ---------------------------------------------------------------- producing

enum class SendMode : std::uint8_t { kSend, kBatch, kReserve };

inline const char* send_mode_name(SendMode m) {
  return m == SendMode::kSend ? "send" : m == SendMode::kBatch ? "batch" : "reserve";
}

// Sends records 0..count-1 of producer `id` with `mode` (batches of 1 to 64
// records). Returns an error message, or nullopt when all were sent.
inline std::optional<std::string> run_producer(Producer& producer, std::uint32_t id, std::uint64_t count, SendMode mode,
                                               bool keyed) {
  const auto failed = [&](std::uint64_t seq, const Status& s) {
    return "producer " + std::to_string(id) + " seq " + std::to_string(seq) + ": " + s.to_string();
  };
  std::vector<std::string> keys, values;
  std::vector<Message> batch;
  std::uint64_t seq = 0;
  while (seq < count) {
    if (mode == SendMode::kBatch) {
      const std::uint64_t n = std::min<std::uint64_t>(count - seq, 1 + (seq * 2654435761u + id) % 64);
      keys.clear();
      values.clear();
      batch.clear();
      for (std::uint64_t i = 0; i < n; ++i) {
        keys.push_back(record_key(id, seq + i));
        values.push_back(record_value(id, seq + i));
      }
      for (std::uint64_t i = 0; i < n; ++i) {
        Message m{.value = values[i]};
        if (keyed) m.key = keys[i];
        batch.push_back(m);
      }
      auto sent = producer.send_batch(batch);
      if (!sent) return failed(seq, sent.status());
      if (*sent != n)
        return "producer " + std::to_string(id) + ": send_batch sent " + std::to_string(*sent) + " of " +
               std::to_string(n);
      seq += n;
      continue;
    }
    const std::string key = record_key(id, seq);
    const std::optional<std::string_view> k = keyed ? std::optional<std::string_view>(key) : std::nullopt;
    if (mode == SendMode::kSend) {
      const std::string value = record_value(id, seq);
      auto md = producer.send(k, value);
      if (!md) return failed(seq, md.status());
    } else {
      auto r = producer.reserve(k, record_value_size(seq));
      if (!r) return failed(seq, r.status());
      write_record_value(id, seq, reinterpret_cast<char*>(r->value().data()));
      producer.publish(*r);
    }
    ++seq;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- consuming

struct ConsumeSpec {
  std::uint32_t producers = 1;
  std::uint64_t per_producer = 0;
  bool keyed = true;
  ConsumerOptions options{.start_at_earliest = true};
  // false: the ring holds everything, so every record must arrive exactly
  // once, at dense offsets. true: the consumer may be overrun; what it loses
  // must be reported exactly (PollResult::skipped) or detected afterwards
  // (still_valid()), and it stops once `producers_done` and it has caught up.
  bool allow_overrun = false;
  const std::atomic<bool>* producers_done = nullptr;
  std::chrono::steady_clock::time_point deadline;
  // Sleep between polls: a deliberately slow consumer.
  std::chrono::microseconds pause{0};
};

struct ConsumeReport {
  std::uint64_t received = 0;       // records delivered and checked
  std::uint64_t skipped = 0;        // reported lost to overrun by poll()
  std::uint64_t invalidated = 0;    // delivered, then found reused by still_valid()
  std::uint64_t start_offsets = 0;  // sum over partitions of the first position
  std::uint64_t end_offsets = 0;    // sum over partitions of the final position
  std::uint64_t error_count = 0;
  std::vector<std::string> errors;  // the first few
  bool timed_out = false;

  void error(std::string e) {
    if (errors.size() < 8) errors.push_back(std::move(e));
    ++error_count;
  }
  std::string summary() const {
    std::string s = "received " + std::to_string(received) + ", skipped " + std::to_string(skipped) + ", invalidated " +
                    std::to_string(invalidated) + ", errors " + std::to_string(error_count) +
                    (timed_out ? ", TIMED OUT" : "");
    for (const std::string& e : errors) s += "\n  " + e;
    return s;
  }
};

// Consumes every partition of `topic` and checks each record: checksum,
// layout, key (and that the key maps to the record's partition), per-producer
// order within a partition, dense offsets, no duplicate and - without
// overrun - no loss.
inline ConsumeReport run_consumer(const std::shared_ptr<Topic>& topic, const ConsumeSpec& spec) {
  ConsumeReport report;
  Consumer consumer(topic, spec.options);
  if (Status s = consumer.assign_all(); !s) {
    report.error(s.to_string());
    return report;
  }
  const Producer partitioner(topic);  // only for partition_for()
  const std::int32_t partitions = topic->partition_count();
  for (std::int32_t p = 0; p < partitions; ++p)
    report.start_offsets += static_cast<std::uint64_t>(consumer.position(p));
  const std::uint64_t expected = spec.producers * spec.per_producer;
  SeenSet seen(spec.producers, spec.per_producer);
  // Last sequence number per (partition, producer); -1 = none yet.
  std::vector<std::vector<std::int64_t>> last_seq(static_cast<std::size_t>(partitions),
                                                  std::vector<std::int64_t>(spec.producers, -1));
  std::vector<std::int64_t> before(static_cast<std::size_t>(partitions));
  struct Staged {
    std::int32_t partition;
    std::int64_t offset;
    ParsedRecord rec;
    std::optional<std::string> problem;
  };
  std::vector<Staged> staged;
  for (;;) {
    if (!spec.allow_overrun && report.received >= expected) break;
    if (spec.allow_overrun && spec.producers_done->load(std::memory_order_acquire)) {
      bool caught_up = true;
      for (std::int32_t p = 0; p < partitions; ++p) {
        const Result<std::int64_t> latest = consumer.latest_offset(p);
        caught_up = caught_up && latest && consumer.position(p) >= *latest;
      }
      if (caught_up) break;
    }
    if (std::chrono::steady_clock::now() > spec.deadline) {
      report.timed_out = true;
      report.error("timed out after receiving " + std::to_string(report.received) + " of " + std::to_string(expected));
      break;
    }
    if (spec.pause.count() > 0) std::this_thread::sleep_for(spec.pause);
    for (std::int32_t p = 0; p < partitions; ++p) before[p] = consumer.position(p);
    PollResult r = consumer.poll(std::chrono::milliseconds(50));
    if (!r.status.is_ok()) {
      report.error("poll: " + r.status.to_string());
      if (report.error_count > 100) break;
    }
    // Check every record now, but trust the checks only if the views were
    // not reused meanwhile (still_valid() after reading them).
    staged.clear();
    for (const RecordView& v : r.records) {
      Staged st{v.partition(), v.offset(), {}, std::nullopt};
      st.problem = check_record(v, spec.producers, spec.keyed, &st.rec);
      if (!st.problem && spec.keyed && partitioner.partition_for(v.key()) != v.partition())
        st.problem = "key " + std::string(v.key()) + " in partition " + std::to_string(v.partition());
      staged.push_back(std::move(st));
    }
    const bool valid = consumer.still_valid();
    // The cursor moves only by reading records or by a reported reset.
    std::int64_t moved = 0;
    for (std::int32_t p = 0; p < partitions; ++p) moved += consumer.position(p) - before[p];
    if (moved != r.skipped + static_cast<std::int64_t>(r.records.size()))
      report.error("positions moved by " + std::to_string(moved) + " for " + std::to_string(r.records.size()) +
                   " records and " + std::to_string(r.skipped) + " skipped");
    report.skipped += static_cast<std::uint64_t>(r.skipped);
    if (r.skipped != 0 && !spec.allow_overrun)
      report.error("skipped " + std::to_string(r.skipped) + " without overrun");
    if (!valid) {
      if (!spec.allow_overrun) report.error("views reused without overrun");
      report.invalidated += r.records.size();
      continue;
    }
    // One read per partition per poll: a partition's records are consecutive
    // offsets ending just before its new position.
    std::vector<std::int64_t> next(static_cast<std::size_t>(partitions), -1);
    for (const Staged& st : staged) {
      if (next[st.partition] >= 0 && st.offset != next[st.partition])
        report.error("offset " + std::to_string(st.offset) + " after " + std::to_string(next[st.partition] - 1) +
                     " in partition " + std::to_string(st.partition));
      if (next[st.partition] < 0 && !spec.allow_overrun && st.offset != before[st.partition])
        report.error("partition " + std::to_string(st.partition) + " jumped from " +
                     std::to_string(before[st.partition]) + " to " + std::to_string(st.offset));
      next[st.partition] = st.offset + 1;
      ++report.received;
      if (st.problem) {
        report.error(*st.problem);
        continue;
      }
      std::int64_t& last = last_seq[st.partition][st.rec.producer];
      if (static_cast<std::int64_t>(st.rec.seq) <= last)
        report.error("producer " + std::to_string(st.rec.producer) + " seq " + std::to_string(st.rec.seq) + " after " +
                     std::to_string(last) + " in partition " + std::to_string(st.partition));
      last = static_cast<std::int64_t>(st.rec.seq);
      if (!seen.add(st.rec.producer, st.rec.seq))
        report.error("duplicate: producer " + std::to_string(st.rec.producer) + " seq " + std::to_string(st.rec.seq));
    }
    for (std::int32_t p = 0; p < partitions; ++p)
      if (next[p] >= 0 && next[p] != consumer.position(p))
        report.error("partition " + std::to_string(p) + " position " + std::to_string(consumer.position(p)) +
                     " after reading up to " + std::to_string(next[p] - 1));
  }
  for (std::int32_t p = 0; p < partitions; ++p) report.end_offsets += static_cast<std::uint64_t>(consumer.position(p));
  if (!spec.allow_overrun && !report.timed_out) {
    std::string first;
    if (const std::uint64_t missing = seen.missing(&first); missing != 0)
      report.error(std::to_string(missing) + " records never arrived, first " + first);
    if (report.received != expected)
      report.error("received " + std::to_string(report.received) + ", expected " + std::to_string(expected));
  }
  if (report.received + report.skipped + report.invalidated != report.end_offsets - report.start_offsets)
    report.error(
        "received + skipped + invalidated = " + std::to_string(report.received + report.skipped + report.invalidated) +
        " but the consumer passed " + std::to_string(report.end_offsets - report.start_offsets) + " offsets");
  return report;
}

}  // namespace rill::testing
