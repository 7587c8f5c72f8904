// rill consume TOPIC [-o beginning|end|OFFSET|-N|s@MS] [-c COUNT] [-e] [-p PARTITION]
//                    [-f FORMAT | -K DELIM] [--strict] [--wait spin|yield|block]
// rill consume -G GROUP TOPIC... [-o beginning|end] [--strategy S] [--session-timeout T] ...
//
// kcat-style consumer. Records are formatted into an OutputBuffer and written
// out whenever the consumer has drained what the log held (so output appears
// promptly when idle, and in large writes when busy).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "rill/consumer.h"
#include "rill/group.h"
#include "rill/producer.h"
#include "rill/wait.h"
#include "tools/rill/bench_args.h"
#include "tools/rill/cli_checks.h"
#include "tools/rill/command.h"
#include "tools/rill/diagnostics.h"
#include "tools/rill/format.h"
#include "tools/rill/output.h"
#include "tools/rill/signals.h"
#include "tools/rill/start_offset.h"

namespace rill::cli {
namespace {

// Bounds how long a SIGINT/SIGTERM waits to be noticed.
constexpr std::chrono::milliseconds kPollTimeout{100};
constexpr std::size_t kMaxPollRecords = 1024;

struct ConsumeOptions {
  std::vector<std::string> topics;
  std::string topic;  // topics[0] without -G
  std::string group;  // -G
  std::string strategy = "range";
  std::string session_timeout = "10s";
  std::string offset = "end";
  std::int64_t count = -1;  // -1: no limit
  bool exit_at_end = false;
  std::int32_t partition = -1;
  std::string format;
  std::string key_delimiter;
  bool strict = false;
  std::string wait = "block";
  std::string abandon_after = std::to_string(ConsumerOptions{}.abandoned_claim_timeout.count()) + "ms";
};

// How the consumer's start differs from what -o asked: offsets no longer
// retained, or past the end. Kafka resets (auto.offset.reset); --strict refuses.
Status reset_or_refuse(bool strict, std::string what, std::string then) {
  if (strict) return Status(Code::kOffsetOutOfRange, what + " (--strict)");
  report_warning(what + "; " + then);
  return Status::ok();
}

// Where -o N or -o -N puts partition p, warning about (or with --strict
// refusing) an offset that is gone or past the end.
Result<std::int64_t> start_in_partition(const Consumer& consumer, std::int32_t p, const StartOffset& start,
                                        bool strict) {
  const Result<std::int64_t> first = consumer.earliest_offset(p);
  if (!first) return first.status();
  const Result<std::int64_t> next = consumer.latest_offset(p);
  if (!next) return next.status();
  const std::int64_t earliest = *first;
  const std::int64_t latest = *next;
  if (start.kind == StartOffset::Kind::kFromEnd)  // "up to N before the end": fewer retained is no reset
    return std::clamp(latest - start.value, earliest, latest);
  const std::string where = "partition " + std::to_string(p) + ": offset " + std::to_string(start.value);
  if (start.value > latest) {
    Status s =
        reset_or_refuse(strict, where + " is past the end of the log (next offset " + std::to_string(latest) + ")",
                        "starting at the end");
    if (!s) return s;
    return latest;
  }
  if (start.value < earliest) {
    Status s =
        reset_or_refuse(strict, where + " is no longer retained (earliest " + std::to_string(earliest) + ")",
                        "starting at the earliest, " + std::to_string(earliest - start.value) + " records skipped");
    if (!s) return s;
    return earliest;
  }
  return start.value;
}

// Positions every assigned partition per -o.
Status position_consumer(Consumer& consumer, const StartOffset& start, bool strict) {
  using Kind = StartOffset::Kind;
  switch (start.kind) {
    case Kind::kBeginning:
      return consumer.seek_to_beginning();
    case Kind::kEnd:
      return consumer.seek_to_end();
    case Kind::kTimestamp:
      return consumer.seek_to_time(start.value * 1'000'000);
    case Kind::kAbsolute:
    case Kind::kFromEnd:
      break;
  }
  for (std::int32_t p : consumer.assignment()) {
    auto target = start_in_partition(consumer, p, start, strict);
    if (!target) return target.status();
    Status s = consumer.seek(p, *target);
    // The ring may overwrite the target while we seek: like an overrun, go on
    // from the earliest (a few tries; a ring that wraps that fast wins).
    for (int attempt = 0; !strict && s.code() == Code::kOffsetOutOfRange && attempt < 10; ++attempt) {
      const Result<std::int64_t> earliest = consumer.earliest_offset(p);
      s = earliest ? consumer.seek(p, *earliest) : earliest.status();
    }
    if (!s) return s;
  }
  return Status::ok();
}

// What the loop reads from: one topic's Consumer, or a group member.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  virtual GroupPollResult poll(std::chrono::nanoseconds timeout) = 0;
  virtual bool still_valid() const = 0;
  // -e: every partition read has reached its end (the latest offset seen
  // when it got there; records produced later do not hold the exit back).
  virtual bool all_at_end() = 0;
  // What to name in messages ("topic 't'", "group 'g'").
  virtual std::string what() const = 0;
  // Called once the loop ends without an error: a group member commits and leaves.
  virtual Status finish() { return Status::ok(); }
  // `records` of `topic` were formatted into the output; then the output
  // written out: what a group member may commit (at least once).
  virtual void printed(std::string_view topic, std::span<const RecordView> records) {
    (void)topic;
    (void)records;
  }
  virtual void flushed() {}
};

class TopicSource final : public RecordSource {
 public:
  TopicSource(Consumer& consumer, std::string topic)
      : consumer_(consumer), topic_(std::move(topic)), at_end_(consumer.assignment().size()) {}
  GroupPollResult poll(std::chrono::nanoseconds timeout) override {
    PollResult r = consumer_.poll(timeout);
    return GroupPollResult{topic_, r.records, r.skipped, r.abandoned, r.status};
  }
  bool still_valid() const override { return consumer_.still_valid(); }
  bool all_at_end() override {
    auto assigned = consumer_.assignment();
    for (std::size_t i = 0; i < assigned.size(); ++i) {
      if (at_end_[i]) continue;
      const Result<std::int64_t> latest = consumer_.latest_offset(assigned[i]);
      if (latest && consumer_.position(assigned[i]) >= *latest) at_end_[i] = true;
    }
    return std::all_of(at_end_.begin(), at_end_.end(), [](bool b) { return b; });
  }
  std::string what() const override { return "topic '" + topic_ + "'"; }

 private:
  Consumer& consumer_;
  std::string topic_;
  std::vector<bool> at_end_;
};

// A group member that commits what it has written to standard output - not
// what it polled: a record cut by -c, or still in the output buffer when an
// error ends the command, is read again by the group. Every 5 s, before a
// revocation (RebalanceListener) and at the end.
class GroupSource final : public RecordSource, public RebalanceListener {
 public:
  explicit GroupSource(std::string group) : group_(std::move(group)) {}
  void attach(GroupConsumer& member) { member_ = &member; }
  GroupPollResult poll(std::chrono::nanoseconds timeout) override {
    if (std::chrono::steady_clock::now() >= next_commit_) {
      (void)commit(written_);
      next_commit_ = std::chrono::steady_clock::now() + kCommitInterval;
    }
    return member_->poll(timeout);
  }
  void printed(std::string_view topic, std::span<const RecordView> records) override {
    for (const RecordView& r : records) pending_[{std::string(topic), r.partition()}] = {r.offset() + 1, ""};
  }
  void flushed() override {
    for (auto& [tp, next] : pending_) written_[tp] = next;
    pending_.clear();
  }
  void on_partitions_revoked(std::span<const TopicPartition> partitions) override {
    std::map<TopicPartition, OffsetAndMetadata> theirs;
    for (const TopicPartition& tp : partitions) {
      if (const auto it = written_.find(tp); it != written_.end()) theirs[tp] = it->second;
      written_.erase(tp);
      pending_.erase(tp);
    }
    (void)commit(theirs);
  }
  // A member's partitions change with the group: at its end once it reads
  // some and each has reached the latest offset seen when it got there.
  bool all_at_end() override {
    const std::vector<TopicPartition> assigned = member_->assignment();
    if (assigned.empty()) return false;
    bool all = true;
    for (const TopicPartition& tp : assigned) {
      if (at_end_.contains(tp)) continue;
      const Result<std::int64_t> latest = member_->latest_offset(tp);
      if (latest && member_->position(tp) >= *latest) at_end_.insert(tp);
      else all = false;
    }
    return all;
  }
  std::string what() const override { return "group '" + group_ + "'"; }
  Status finish() override {
    Status committed = commit(written_);
    Status closed = member_->close();
    return committed ? closed : committed;
  }
  bool still_valid() const override { return member_->still_valid(); }

 private:
  static constexpr std::chrono::seconds kCommitInterval{5};
  Status commit(const std::map<TopicPartition, OffsetAndMetadata>& offsets) {
    if (offsets.empty() || member_ == nullptr) return Status::ok();
    Status s = member_->commit_sync(offsets);
    // Fenced: the partitions moved (this member was removed); their new
    // reader starts from the last commit, which is at least once.
    return s.code() == Code::kFenced ? Status::ok() : s;
  }

  GroupConsumer* member_ = nullptr;
  std::string group_;
  std::set<TopicPartition> at_end_;
  std::map<TopicPartition, OffsetAndMetadata> pending_;  // formatted, not yet written out
  std::map<TopicPartition, OffsetAndMetadata> written_;  // written out, not yet committed
  std::chrono::steady_clock::time_point next_commit_ = std::chrono::steady_clock::now() + kCommitInterval;
};

class ConsumeLoop {
 public:
  ConsumeLoop(RecordSource& source, const RecordFormat& format, const ConsumeOptions& o)
      : source_(source), format_(format), o_(o), out_(STDOUT_FILENO) {}

  int run(const GlobalOptions& global) {
    while (!stop_requested()) {
      if (o_.exit_at_end && source_.all_at_end()) break;
      GroupPollResult r = source_.poll(kPollTimeout);
      if (r.skipped > 0) {
        if (int rc = overrun(r.skipped, "the ring overwrote them before they were read"); rc != kExitOk) return rc;
      }
      if (r.abandoned > 0)
        report_warning(std::to_string(r.abandoned) + (r.abandoned == 1 ? " offset" : " offsets") +
                       " skipped: claimed by a producer that died before committing them or that aborted them "
                       "(no record was lost)");
      const std::size_t n = limit(r.records.size());
      const std::size_t printed = print(r.records.first(n), r.topic);
      source_.printed(r.topic, r.records.first(printed));
      consumed_ += static_cast<std::int64_t>(printed);
      if (printed < n) {
        if (int rc = overrun(static_cast<std::int64_t>(n - printed), "the ring reused them while they were printed");
            rc != kExitOk)
          return rc;
      }
      if (!r.status) {
        (void)flush();
        Status s = r.status.with_context(source_.what());
        return report_error(s.code() == Code::kOffsetOutOfRange ? s.message() + " (--strict)" : s.message());
      }
      const bool done = o_.count >= 0 && consumed_ >= o_.count;
      if (done || r.records.size() < kMaxPollRecords || out_.over_threshold()) {
        if (int rc = flush(); rc != kExitOk || out_.closed()) return rc;
      }
      if (done) break;
      if (o_.exit_at_end) (void)source_.all_at_end();
    }
    if (int rc = flush(); rc != kExitOk) return rc;
    if (Status s = source_.finish(); !s) return report_error(s.with_context(source_.what()));
    if (global.verbose)
      std::fprintf(stderr, "rill: consumed %lld records from %s, %lld skipped\n", static_cast<long long>(consumed_),
                   source_.what().c_str(), static_cast<long long>(skipped_));
    return kExitOk;
  }

 private:
  // Formats records into the buffer; returns how many are known intact.
  // poll() checked each record when it made the view, but the ring may reuse
  // the bytes while we print them: validity is checked every kCheckEvery
  // records (a check vouches for everything printed before it) and after the
  // last, and what no check vouched for is taken back.
  std::size_t print(std::span<const RecordView> records, std::string_view topic) {
    constexpr std::size_t kCheckEvery = 64;
    std::size_t intact = 0;
    std::size_t intact_mark = out_.mark();
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (i % kCheckEvery == 0 && i > 0) {
        if (!source_.still_valid()) break;
        intact = i;
        intact_mark = out_.mark();
      }
      format_.append(records[i], topic, out_);
    }
    if (source_.still_valid()) return records.size();
    out_.rollback(intact_mark);
    return intact;
  }

  std::size_t limit(std::size_t n) const {
    if (o_.count < 0) return n;
    return static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(n), o_.count - consumed_));
  }

  // Records lost to the ring: a warning (Kafka's auto.offset.reset=earliest), or with --strict an error.
  int overrun(std::int64_t lost, const char* why) {
    skipped_ += lost;
    if (int rc = flush(); rc != kExitOk) return rc;
    const std::string what = source_.what() + ": consumer overtaken by the ring, " + std::to_string(lost) +
                             " records skipped (" + why + ")";
    if (o_.strict) return report_error(what + " (--strict)");
    report_warning(what + "; continuing from the earliest retained offset");
    return kExitOk;
  }

  // A reader that closed our stdout is a quiet, successful end (like SIGPIPE).
  int flush() {
    Status s = out_.flush();
    if (s && !out_.closed()) source_.flushed();
    if (s || out_.closed()) return kExitOk;
    return report_error(s);
  }

  RecordSource& source_;
  const RecordFormat& format_;
  const ConsumeOptions& o_;
  OutputBuffer out_;
  std::int64_t consumed_ = 0;
  std::int64_t skipped_ = 0;
};

// A partition whose reader slots were all taken by live consumers is read
// unregistered (overflow=retain; an overflow=block topic refuses in assign()).
void warn_unregistered(const Consumer& consumer, const std::string& topic) {
  const auto partitions = consumer.unregistered();
  if (partitions.empty()) return;
  std::string which = partitions.size() == 1 ? "partition " : "partitions ";
  for (std::size_t i = 0; i < partitions.size(); ++i) which += (i ? ", " : "") + std::to_string(partitions[i]);
  report_warning("topic '" + topic + "' " + which + ": every reader slot is taken by a live consumer, so this one " +
                 "reads " + (partitions.size() == 1 ? "it" : "them") +
                 " unregistered: `rill topic describe` and `rill ns list` do not show it (on an overflow=retain " +
                 "topic no producer waits for readers, so it reads all the same)");
}

// rill consume -G: a member of a consumer group (kcat's balanced consumer).
int run_group_consume(const GlobalOptions& global, const ConsumeOptions& o, const StartOffset& start,
                      const RecordFormat& format, WaitStrategy wait, std::int64_t abandon_after_ns) {
  if (start.kind != StartOffset::Kind::kBeginning && start.kind != StartOffset::Kind::kEnd)
    return report_error("-o with -G: where partitions without a committed offset start, beginning or end (to move "
                        "a group's offsets: rill group reset " + o.group + " --topic T --to ...)");
  if (o.partition >= 0) return report_error("-p with -G: the group decides who reads which partition");
  ConsumerOptions options;
  if (!parse_assignment_strategy(o.strategy, &options.assignment_strategy))
    return report_error("--strategy: '" + o.strategy + "' is not range, round-robin or sticky");
  const auto session = parse_duration(o.session_timeout);
  if (!session || *session < 10'000'000 || *session > 3'600'000'000'000)
    return report_error("--session-timeout: '" + o.session_timeout + "' is not a duration from 10ms to 1h");
  options.group_id = o.group;
  options.enable_auto_commit = false;  // GroupSource commits what it wrote out
  options.session_timeout = std::chrono::milliseconds(*session / 1'000'000);
  options.heartbeat_interval = std::max(std::chrono::milliseconds(1), options.session_timeout / 3);
  options.wait = wait;
  options.on_overrun = o.strict ? OffsetReset::kError : OffsetReset::kEarliest;
  options.max_poll_records = kMaxPollRecords;
  options.start_at_earliest = start.kind == StartOffset::Kind::kBeginning;
  options.verify_checksums = true;
  options.abandoned_claim_timeout = std::chrono::milliseconds((abandon_after_ns + 999'999) / 1'000'000);
  auto ns = open_namespace(global);
  if (!ns) return report_error(ns.status());
  GroupSource source(o.group);
  options.rebalance_listener = &source;
  auto member = GroupConsumer::join(*ns, o.topics, options);
  if (!member) return report_error(member.status().with_context("-G " + o.group));
  source.attach(**member);
  install_stop_handlers();
  ConsumeLoop loop(source, format, o);
  return loop.run(global);
}

int run_consume(const GlobalOptions& global, const ConsumeOptions& o) {
  auto start = parse_start_offset(o.offset);
  if (!start) return report_error(start.status());
  std::string spec = o.format.empty() ? std::string(RecordFormat::kDefault) : o.format;
  if (!o.key_delimiter.empty()) spec = "%k" + o.key_delimiter + "%s\\n";
  auto format = RecordFormat::parse(spec);
  if (!format) return report_error(format.status().with_context("-f"));
  WaitStrategy wait;
  if (!parse_wait_strategy(o.wait, &wait)) return report_error("--wait: '" + o.wait + "' is not spin, yield or block");
  const auto abandon_after = parse_duration(o.abandon_after);
  if (!abandon_after || *abandon_after > 3'600'000'000'000)
    return report_error("--abandon-after: '" + o.abandon_after + "' is not a duration from 0ms (look at once) to 1h");
  if (o.count == 0) return kExitOk;
  if (!o.group.empty()) return run_group_consume(global, o, *start, *format, wait, *abandon_after);
  if (o.topics.size() > 1)
    return report_error("several topics are read by a consumer group: add -G GROUP (or read one topic at a time)");

  auto topic = open_topic(global, o.topic);
  if (!topic) return report_error(topic.status());
  ConsumerOptions options;
  options.wait = wait;
  options.on_overrun = o.strict ? OffsetReset::kError : OffsetReset::kEarliest;
  options.max_poll_records = kMaxPollRecords;
  options.start_at_earliest = start->kind == StartOffset::Kind::kBeginning;
  options.verify_checksums = true;
  // Whole milliseconds, rounded up: never less patience than asked for.
  options.abandoned_claim_timeout = std::chrono::milliseconds((*abandon_after + 999'999) / 1'000'000);
  Consumer consumer(*topic, options);
  Status assigned =
      o.partition >= 0 ? consumer.assign(std::span<const std::int32_t>(&o.partition, 1)) : consumer.assign_all();
  if (!assigned)
    return report_error(o.partition >= 0 ? assigned.with_context("-p " + std::to_string(o.partition)) : assigned);
  warn_unregistered(consumer, o.topic);
  if (Status s = position_consumer(consumer, *start, o.strict); !s)
    return report_error(s.with_context("topic '" + o.topic + "'"));

  install_stop_handlers();
  TopicSource source(consumer, o.topic);
  ConsumeLoop loop(source, *format, o);
  return loop.run(global);
}

}  // namespace

void add_consume_command(CLI::App& root, const GlobalOptions& global, CommandTable& table) {
  auto o = std::make_shared<ConsumeOptions>();
  CLI::App* c = root.add_subcommand(
      "consume",
      "Print records of a topic (kcat-style). Waits for new records unless -e or -c stops it; SIGINT/SIGTERM\n"
      "stop it cleanly. Checksums are verified. A consumer overtaken by the ring (its records were overwritten)\n"
      "warns with the number of records skipped and continues from the earliest retained offset, like Kafka's\n"
      "auto.offset.reset=earliest; --strict makes that an error. With -G GROUP it is a member of a consumer\n"
      "group: the group's members divide the topics' partitions and it resumes from the group's commits.");
  c->fallthrough();
  c->add_option("TOPIC", o->topics, "Topic to read (with -G, one or more)")->required();
  c->add_option("-G,--consumer-group", o->group,
                "Join this consumer group (Kafka's group.id; kcat's balanced consumer): the group's live members "
                "divide the topics' partitions, each starts at the group's committed offsets, and the positions of "
                "the records printed are committed every 5 s and at exit (at least once)");
  c->add_option("--strategy", o->strategy, "With -G: how the group divides partitions: range, round-robin or sticky")
      ->check(CLI::IsMember({"range", "round-robin", "sticky"}))
      ->capture_default_str();
  c->add_option("--session-timeout", o->session_timeout,
                "With -G: a member that stops heartbeating (hung, stopped) is removed after this long; one whose "
                "process dies, at once")
      ->capture_default_str();
  c->add_option("-o,--offset", o->offset,
                "Where to start in each partition: beginning, end (only new records), an offset N, -N (N records "
                "before the end), or s@MS (first record with timestamp >= MS ms since the epoch)")
      ->capture_default_str();
  c->add_option("-c,--count", o->count, "Exit after COUNT records")->check(non_negative());
  c->add_flag("-e,--exit", o->exit_at_end,
              "Exit once every partition reached its end (the latest offset at the moment it got there)");
  c->add_option("-p,--partition", o->partition, "Read only this partition (default: all)")->check(non_negative());
  CLI::Option* f = c->add_option("-f,--format", o->format,
                                 "Output format, kcat's tokens: %t topic, %p partition, %o offset, %k key, %s value, "
                                 "%T timestamp (ms), %S value size, %K key size (-1 if null), %h headers, %% a percent "
                                 "sign, \\n newline, \\t tab (default: '%s\\n')");
  c->add_option("-K,--key-delimiter", o->key_delimiter, "Print key DELIM value per line (same as -f '%kDELIM%s\\n')")
      ->excludes(f);
  c->add_flag("--strict", o->strict,
              "Fail (exit 1) instead of skipping records the ring overwrote, or an -o offset no longer retained");
  c->add_option("--wait", o->wait,
                "How to wait for new records: block (sleep on a futex, no CPU burned), yield (spin, then "
                "sched_yield) or spin (busy-poll a whole core; lowest latency)")
      ->check(CLI::IsMember({"spin", "yield", "block"}))
      ->capture_default_str();
  c->add_option("--abandon-after", o->abandon_after,
                "How long to wait at a record whose producer process died before writing it, before skipping its "
                "offsets as abandoned: 0ms (look at once) to 1h, in whole milliseconds (a stopped producer is "
                "always waited for)")
      ->capture_default_str();
  table.add(c, [&global, o] {
    o->topic = o->topics.front();
    return run_consume(global, *o);
  });
}

}  // namespace rill::cli
