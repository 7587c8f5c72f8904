// rill produce TOPIC [-K DELIM] [-p PARTITION] [--acks 0|1|all]
//
// Every line of stdin (without its '\n') becomes one record, sent as soon as
// it is read, so records before a failing line stay sent.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rill/producer.h"
#include "tools/rill/cli_checks.h"
#include "tools/rill/command.h"
#include "tools/rill/diagnostics.h"

namespace rill::cli {
namespace {

struct ProduceOptions {
  std::string topic;
  std::string key_delimiter;  // empty: lines are values with a null key
  std::int32_t partition = -1;
  std::string acks = "all";
};

// Frees a getline() buffer.
struct LineBuffer {
  char* data = nullptr;
  std::size_t capacity = 0;
  ~LineBuffer() { std::free(data); }
};

int run_produce(const GlobalOptions& global, const ProduceOptions& o) {
  auto topic = open_topic(global, o.topic);
  if (!topic) return report_error(topic.status());
  if (o.partition >= (*topic)->partition_count())
    return report_error("-p " + std::to_string(o.partition) + ": topic '" + o.topic + "' has partitions 0 to " +
                        std::to_string((*topic)->partition_count() - 1));
  Producer producer(*topic);
  SendOptions send_options;
  send_options.partition = o.partition;

  static char stdin_buffer[1 << 16];
  std::setvbuf(stdin, stdin_buffer, _IOFBF, sizeof stdin_buffer);
  LineBuffer line;
  std::uint64_t lines = 0, bytes = 0;
  for (;;) {
    const ssize_t n = ::getline(&line.data, &line.capacity, stdin);
    if (n < 0) break;
    ++lines;
    std::string_view text(line.data, static_cast<std::size_t>(n));
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    std::optional<std::string_view> key;
    std::string_view value = text;
    if (!o.key_delimiter.empty()) {
      // kcat: a line without the delimiter is all value, with a null key.
      if (std::size_t at = text.find(o.key_delimiter); at != std::string_view::npos) {
        key = text.substr(0, at);
        value = text.substr(at + o.key_delimiter.size());
      }
    }
    auto sent = producer.send(key, value, send_options);
    if (!sent)
      return report_error(sent.status().with_context("line " + std::to_string(lines) + " (" +
                                                     std::to_string(lines - 1) + " records before it were sent)"));
    bytes += text.size();
  }
  if (std::ferror(stdin)) return report_error("reading standard input failed after line " + std::to_string(lines));
  if (global.verbose)
    std::fprintf(stderr, "rill: sent %llu records (%llu bytes of input lines) to topic '%s'\n",
                 static_cast<unsigned long long>(lines), static_cast<unsigned long long>(bytes), o.topic.c_str());
  return kExitOk;
}

}  // namespace

void add_produce_command(CLI::App& root, const GlobalOptions& global, CommandTable& table) {
  auto o = std::make_shared<ProduceOptions>();
  CLI::App* c = root.add_subcommand(
      "produce",
      "Send each line of standard input as one record (the line without its newline; an empty line is an empty\n"
      "value). Records go to the partition their key hashes to (xxHash3 % partitions), round-robin when the key\n"
      "is null, or to -p. Each record is sent as soon as its line is read.");
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
                "Acknowledgement level, as Kafka's: 0, 1 or all. Topics are in memory only for now, so all three "
                "mean the same: a record is acknowledged once it is visible to consumers")
      ->check(CLI::IsMember({"0", "1", "all"}))
      ->capture_default_str();
  table.add(c, [&global, o] { return run_produce(global, *o); });
}

}  // namespace rill::cli
