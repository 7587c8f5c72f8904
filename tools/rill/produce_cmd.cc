// rill produce TOPIC [-K DELIM] [-p PARTITION] [--acks 0|1|all] [--max-block DURATION]
//              [--compression none|gzip|snappy|lz4|zstd] [--durability memory|written|fsync]
//
// Every line of stdin (without its '\n') becomes one record, sent as soon as
// it is read, so records before a failing line stay sent. Input is read in
// bounded chunks (LineReader): a line longer than the largest record the
// topic holds is refused as soon as that many bytes of it were read.
//
// With --compression, lines are sent in batches (Producer::send_batch, whose
// batches are what gets compressed; a record sent alone never is): the lines
// already read in - up to kBatchRecords, or kBatchBytes of them - go together,
// and whatever is held is sent before produce waits for more input, so a
// line still goes out as soon as nothing follows it yet.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rill/compression.h"
#include "rill/producer.h"
#include "tools/rill/bench_args.h"
#include "tools/rill/cli_checks.h"
#include "tools/rill/command.h"
#include "tools/rill/diagnostics.h"
#include "tools/rill/line_reader.h"

namespace rill::cli {
namespace {

struct ProduceOptions {
  std::string topic;
  std::string key_delimiter;  // empty: lines are values with a null key
  std::int32_t partition = -1;
  std::string acks = "all";
  std::string max_block = std::to_string(ProducerOptions{}.max_block.count()) + "ms";
  bool exclusive = false;
  std::string compression = "none";
  std::string durability = "memory";
};

// --compression's batches: at most this many lines, or this many bytes of
// them (a single longer line goes alone), before they are sent.
constexpr std::size_t kBatchRecords = 1024;
constexpr std::size_t kBatchBytes = 1 << 20;

// The largest frame a partition of the topic accepts (key, value and the
// record header together): no line longer than that can be sent.
Result<std::uint64_t> largest_record(const GlobalOptions& global, const std::string& topic) {
  auto ns = open_namespace(global);
  if (!ns) return ns.status();
  auto info = (*ns)->describe_topic(topic);
  if (!info) return info.status();
  return info->max_record_bytes;
}

// What became of the input from line `line` on, none of which was sent
// (`held`: lines from it on that next() returned - so count_rest() does not
// count them - and that were not sent: the line itself, and with
// --compression the rest of its batch).
// From a regular file the rest is counted (it ends, and counting stores
// nothing); from a pipe or a terminal it is not read, as it may never end.
std::string unsent(LineReader& input, std::uint64_t line, std::uint64_t held) {
  const std::string which = "line " + std::to_string(line);
  struct stat st {};
  if (::fstat(STDIN_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (held > 1)
      return which + " and the " + std::to_string(held - 1) + " read with it were not sent, and the rest of the " +
             "input was not read";
    return which + " was not sent, and the rest of the input was not read";
  }
  auto rest = input.count_rest();
  if (!rest) return which + " and the lines after it were not sent (" + rest.status().message() + ")";
  const std::uint64_t total = *rest + held;
  if (total <= 1) return "1 line was not sent: " + which + ", the last";
  const std::uint64_t after = total - 1;
  return std::to_string(total) + " lines were not sent: " + which + " and the " + std::to_string(after) +
         (after == 1 ? " line" : " lines") + " after it";
}

int run_produce(const GlobalOptions& global, const ProduceOptions& o) {
  auto max_block = parse_duration(o.max_block);
  if (!max_block) return report_error(max_block.status().with_context("--max-block"));
  if (*max_block > 86'400'000'000'000)
    return report_error("--max-block: '" + o.max_block + "' is not a duration between 0ms and 24h");
  auto topic = open_topic(global, o.topic);
  if (!topic) return report_error(topic.status());
  if (o.partition >= (*topic)->partition_count())
    return report_error("-p " + std::to_string(o.partition) + ": topic '" + o.topic + "' has partitions 0 to " +
                        std::to_string((*topic)->partition_count() - 1));
  auto max_record = largest_record(global, o.topic);
  if (!max_record) return report_error(max_record.status());
  ProducerOptions producer_options;
  // Whole milliseconds, rounded up: never less patience than asked for.
  producer_options.max_block = std::chrono::milliseconds((*max_block + 999'999) / 1'000'000);
  producer_options.exclusive = o.exclusive;
  if (!parse_compression(o.compression, &producer_options.compression))  // checked by the parser already
    return report_error("--compression: '" + o.compression + "' is not none, gzip, snappy, lz4 or zstd");
  if (!parse_durability(o.durability, &producer_options.durability))  // checked by the parser already
    return report_error("--durability: '" + o.durability + "' is not memory, written or fsync");
  const bool batched = producer_options.compression != Compression::kNone;
  Producer producer(*topic, producer_options);
  SendOptions send_options;
  send_options.partition = o.partition;

  // A line of max_record bytes already makes a frame too large (it adds a
  // record header); with -K the delimiter is not stored.
  LineReader input(STDIN_FILENO, *max_record + o.key_delimiter.size());
  std::uint64_t sent = 0, bytes = 0;
  const auto stop = [&](const Status& why, std::uint64_t held) {
    const std::uint64_t line = sent + 1;
    const Status s = why.with_context("line " + std::to_string(line) + " (" + std::to_string(sent) +
                                      " records before it were sent)");
    return report_error(Status(s.code(), s.message() + "; " + unsent(input, line, held)));
  };
  // kcat: a line without the delimiter is all value, with a null key.
  const auto split = [&](std::string_view text, std::optional<std::string_view>* key, std::string_view* value) {
    *key = std::nullopt;
    *value = text;
    if (o.key_delimiter.empty()) return;
    if (std::size_t at = text.find(o.key_delimiter); at != std::string_view::npos) {
      *key = text.substr(0, at);
      *value = text.substr(at + o.key_delimiter.size());
    }
  };
  // --compression: the lines read and not yet sent, one after another in
  // `held`, each ending where `ends` says.
  std::string held;
  std::vector<std::size_t> ends;
  std::vector<Message> messages;
  // Sends the held lines; a failure ends the command (the records before it stay sent).
  const auto flush = [&]() -> int {
    messages.clear();
    for (std::size_t i = 0, from = 0; i < ends.size(); from = ends[i++]) {
      Message m;
      split(std::string_view(held).substr(from, ends[i] - from), &m.key, &m.value);
      messages.push_back(m);
    }
    std::size_t done = 0;
    while (done < messages.size()) {
      // Fewer than all: a later run failed; the call with the rest reports why.
      auto result = producer.send_batch(std::span<const Message>(messages).subspan(done), o.partition);
      if (!result) return stop(result.status(), messages.size() - done);
      done += *result;
      sent += *result;
    }
    bytes += held.size();
    held.clear();
    ends.clear();
    return kExitOk;
  };
  for (;;) {
    if (batched && !ends.empty() && (!input.ready() || ends.size() == kBatchRecords || held.size() >= kBatchBytes))
      if (const int failed = flush(); failed != kExitOk) return failed;
    std::string_view text;
    const LineReader::Next got = input.next(&text);
    if (got != LineReader::Next::kLine && !ends.empty())
      if (const int failed = flush(); failed != kExitOk) return failed;
    if (got == LineReader::Next::kEnd) break;
    if (got == LineReader::Next::kError)
      return report_error("reading standard input failed after line " + std::to_string(sent) + " (" +
                          std::to_string(sent) + " records were sent): " + std::strerror(input.error()));
    if (got == LineReader::Next::kTooLong)
      return stop(
          Status(Code::kRecordTooLarge,
                 "the line is longer than " + std::to_string(*max_record) + " bytes, the largest record of topic '" +
                     o.topic + "' (with its record header); create the topic with a larger --segment-size"),
          /*held=*/0);
    if (batched) {
      held.append(text);
      ends.push_back(held.size());
      continue;
    }
    std::optional<std::string_view> key;
    std::string_view value;
    split(text, &key, &value);
    auto result = producer.send(key, value, send_options);
    if (!result) return stop(result.status(), /*held=*/1);
    ++sent;
    bytes += text.size();
  }
  if (global.verbose)
    std::fprintf(stderr, "rill: sent %llu records (%llu bytes of input lines) to topic '%s'\n",
                 static_cast<unsigned long long>(sent), static_cast<unsigned long long>(bytes), o.topic.c_str());
  return kExitOk;
}

}  // namespace

void add_produce_command(CLI::App& root, const GlobalOptions& global, CommandTable& table) {
  auto o = std::make_shared<ProduceOptions>();
  CLI::App* c = root.add_subcommand(
      "produce",
      "Send each line of standard input as one record (the line without its newline; an empty line is an empty\n"
      "value). Records go to the partition their key hashes to (xxHash3 % partitions), round-robin when the key\n"
      "is null, or to -p. Each record is sent as soon as its line is read.\n"
      "The first line that cannot be sent (longer than the topic's largest record, see `rill topic describe`, or\n"
      "a send that fails) ends the command with an error, as kcat does: the records before it stay sent, nothing\n"
      "of it is stored, and neither is any later line. The error names the line and, when standard input is a\n"
      "file, how many lines were not sent; from a pipe or terminal the rest of the input is not read. A line is\n"
      "refused as soon as it is longer than the largest record, so memory stays bounded on endless input.\n"
      "With --compression, the lines read in together (up to 1024, or 1 MiB of them) are sent as one batch,\n"
      "and each run of consecutive lines bound for one partition is stored as one compressed frame (a line\n"
      "alone in its run is stored as it is); whatever is held is sent before produce waits for more input.\n"
      "Lines with a null key then go round-robin by batch (all of a batch to one partition), as Kafka's sticky\n"
      "partitioner does; lines whose keys alternate between partitions make small runs that compress little.");
  c->fallthrough();
  c->add_option("TOPIC", o->topic, "Topic to send to")->required();
  c->add_option("-K,--key-delimiter", o->key_delimiter,
                "Split each line at the first DELIM into key and value (kcat's -K); a line without DELIM is a "
                "value with a null key")
      ->check([](const std::string& s) {
        return s.empty() ? std::string("the delimiter cannot be empty") : std::string();
      });
  c->add_option("-p,--partition", o->partition, "Send every record to this partition")->check(non_negative());
  c->add_option("--acks", o->acks,
                "Acknowledgement level, as Kafka's: 0, 1 or all. Accepted for Kafka users' scripts and does nothing "
                "yet: acknowledgement levels belong to replication, which comes later. Today a record is "
                "acknowledged once it is visible to consumers")
      ->check(CLI::IsMember({"0", "1", "all"}))
      ->capture_default_str();
  c->add_option("--max-block", o->max_block,
                "How long a send waits for another producer that is stopped or hung while it holds a claim the "
                "ring must roll past, before it fails naming that process (Kafka's max.block.ms; 0ms to 24h)")
      ->capture_default_str();
  c->add_option("--compression", o->compression,
                "Compress each batch of records with this codec: none, gzip, snappy, lz4 or zstd (Kafka's "
                "compression.type); consumers decompress transparently. A batch that does not get smaller is "
                "stored as it is")
      ->check([](const std::string& s) {
        Compression c = Compression::kNone;
        return parse_compression(s, &c) ? std::string() : "'" + s + "' is not none, gzip, snappy, lz4 or zstd";
      })
      ->capture_default_str();
  c->add_option("--durability", o->durability,
                "When a send is acknowledged: memory (committed in the ring), written (in the topic's files, "
                "handed to the kernel: survives any process crash) or fsync (on stable storage: survives a power "
                "loss). written and fsync need a durable namespace (--data-dir); waiting sends share one write and "
                "one fdatasync")
      ->check([](const std::string& s) {
        Durability d = Durability::kMemory;
        return parse_durability(s, &d) ? std::string() : "'" + s + "' is not memory, written or fsync";
      })
      ->capture_default_str();
  c->add_flag("--exclusive", o->exclusive,
              "Hold each partition it sends to alone (ProducerOptions::exclusive): claims without a "
              "compare-and-swap, and every other producer's sends there fail until this one exits");
  table.add(c, [&global, o] { return run_produce(global, *o); });
}

}  // namespace rill::cli
