// rill topic create | list | describe | delete
#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <limits>
#include <memory>
#include <string>

#include "rill/topic.h"
#include "tools/rill/command.h"
#include "tools/rill/diagnostics.h"
#include "tools/rill/bench_args.h"
#include "tools/rill/sizes.h"

namespace rill::cli {
namespace {

struct CreateOptions {
  std::string name;
  std::int32_t partitions = TopicConfig{}.partitions;
  std::string segment_size = format_size(TopicConfig{}.segment_bytes);
  std::uint32_t segments = TopicConfig{}.segment_count;
  std::string index_interval = std::to_string(TopicConfig{}.index_interval);
  std::string overflow = "retain";
  std::string overflow_timeout = "5s";
  bool memory_only = false;
  std::string file_segment_size = format_size(TopicConfig{}.file_segment_bytes);
  std::string retention_bytes = "0";
  std::string retention_ms = "0";
};

int run_create(const GlobalOptions& global, const CreateOptions& o) {
  TopicConfig config;
  config.partitions = o.partitions;
  config.segment_count = o.segments;
  auto segment_bytes = parse_size(o.segment_size);
  if (!segment_bytes) return report_error(segment_bytes.status().with_context("--segment-size"));
  config.segment_bytes = *segment_bytes;
  auto interval = parse_size(o.index_interval);
  if (!interval) return report_error(interval.status().with_context("--index-interval"));
  // The interval is a power of two stored in 32 bits: 2 GiB at most.
  constexpr std::uint64_t kLargestInterval = (std::uint64_t{std::numeric_limits<std::uint32_t>::max()} + 1) / 2;
  if (*interval > kLargestInterval)
    return report_error("--index-interval: '" + o.index_interval + "' is too large: the index interval is a power of " +
                        "two from 64 B to " + format_size(kLargestInterval));
  config.index_interval = static_cast<std::uint32_t>(*interval);
  if (o.overflow != "retain" && o.overflow != "block")
    return report_error("--overflow: '" + o.overflow + "' is not retain or block");
  config.overflow = o.overflow == "block" ? Overflow::kBlock : Overflow::kRetain;
  auto timeout = parse_duration(o.overflow_timeout);
  if (!timeout) return report_error(timeout.status().with_context("--overflow-timeout"));
  if (*timeout < 1'000'000 || *timeout > 3'600'000'000'000)
    return report_error("--overflow-timeout: '" + o.overflow_timeout + "' is not between 1ms and 1h");
  config.overflow_timeout_ms = static_cast<std::uint32_t>(*timeout / 1'000'000);
  config.memory_only = o.memory_only;
  auto file_bytes = parse_size(o.file_segment_size);
  if (!file_bytes) return report_error(file_bytes.status().with_context("--file-segment-size"));
  config.file_segment_bytes = *file_bytes;
  auto retention_bytes = parse_size(o.retention_bytes);
  if (!retention_bytes) return report_error(retention_bytes.status().with_context("--retention-bytes"));
  config.retention_bytes = *retention_bytes;
  std::int64_t retention_ms = 0;
  const auto [end, ec] = std::from_chars(o.retention_ms.data(), o.retention_ms.data() + o.retention_ms.size(), retention_ms);
  if (ec != std::errc() || end != o.retention_ms.data() + o.retention_ms.size() || retention_ms < 0)
    return report_error("--retention-ms: '" + o.retention_ms + "' is not a number of milliseconds (0: keep all)");
  config.retention_ms = retention_ms;

  // Checked before the namespace is opened (and maybe created): a bad command creates nothing.
  if (Status s = Namespace::validate_topic_name(o.name); !s) return report_error(s);
  if (Status s = config.validate(); !s) return report_error(s.with_context("topic '" + o.name + "'"));
  // A namespace this command makes is removed again if the topic cannot be
  // created (no space, ...): a failed command leaves nothing behind.
  const bool existed = open_namespace(global, /*create=*/false).status().code() != Code::kNotFound;
  auto ns = open_namespace(global, /*create=*/true);
  if (!ns) return report_error(ns.status());
  if (Status s = (*ns)->create_topic(o.name, config); !s) {
    if (!existed) {
      auto topics = (*ns)->list_topics();
      ns->reset();
      if (topics && topics->empty()) (void)Namespace::remove_shared(global.ns);
    }
    return report_error(s);
  }
  if (global.verbose)
    std::fprintf(
        stderr, "rill: created topic '%s' in namespace '%s': %d partitions x %u segments of %s (%s of shared memory)\n",
        o.name.c_str(), global.ns.c_str(), config.partitions, config.segment_count,
        format_size(config.segment_bytes).c_str(),
        format_size(config.partition_bytes() * static_cast<std::uint64_t>(config.partitions)).c_str());
  return kExitOk;
}

int run_list(const GlobalOptions& global) {
  auto ns = open_namespace(global);
  if (!ns && ns.status().code() == Code::kNotFound) return kExitOk;  // no namespace, no topics
  if (!ns) return report_error(ns.status());
  auto names = (*ns)->list_topics();
  if (!names) return report_error(names.status());
  // Names come from shared memory, which may be damaged: escaped.
  for (const std::string& name : *names) std::printf("%s\n", printable(name).c_str());
  return kExitOk;
}

std::string yes_no(bool b) { return b ? "yes" : "NO (dead)"; }

std::string local_time(std::int64_t ns) {
  const std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

int run_describe(const GlobalOptions& global, const std::string& name) {
  // Opening the topic first gives a missing topic its how-to-create hint.
  if (auto topic = open_topic(global, name); !topic) return report_error(topic.status());
  auto ns = open_namespace(global);
  if (!ns) return report_error(ns.status());
  auto info = (*ns)->describe_topic(name);
  if (!info) return report_error(info.status());
  const TopicConfig& c = info->config;
  const std::uint64_t partition_bytes = c.partition_bytes();
  std::printf("topic            %s\n", printable(info->name).c_str());
  std::printf("namespace        %s\n", global.ns.c_str());
  std::printf("partitions       %d\n", c.partitions);
  std::printf("segments         %u x %s per partition (retains %u full segments besides the one being written)\n",
              c.segment_count, format_size(c.segment_bytes).c_str(), c.segment_count - 3);
  std::printf("index interval   %s\n", format_size(c.index_interval).c_str());
  std::printf("max record size  %llu B (key + value + headers + a 48-byte record header)\n",
              static_cast<unsigned long long>(info->max_record_bytes));
  std::printf("shared memory    %s (%s per partition)\n",
              format_size(partition_bytes * static_cast<std::uint64_t>(c.partitions)).c_str(),
              format_size(partition_bytes).c_str());
  if (!info->data_dir.empty()) {
    std::printf("durable          yes: files in %s (segment files of %s)\n", printable(info->data_dir).c_str(),
                format_size(c.file_segment_bytes).c_str());
    std::printf("retention        %s, %s\n",
                c.retention_bytes == 0 ? "no size limit" : ("up to " + format_size(c.retention_bytes)).c_str(),
                c.retention_ms == 0 ? "no time limit" : (std::to_string(c.retention_ms) + " ms").c_str());
  } else if (c.memory_only) {
    std::printf("durable          no (--memory-only in a durable namespace)\n");
  }
  if (c.overflow == Overflow::kBlock)
    std::printf("overflow         block (producers wait up to %u ms for the slowest registered reader)\n",
                c.overflow_timeout_ms);
  else
    std::printf("overflow         retain (a reader the ring overtakes is told how many records it lost)\n");
  // Who writes and reads, from the partitions' slots (live or dead: a dead
  // process's slots go when `rill ns gc` or the next user reaps them).
  std::printf("\nproducers\n%9s %10s %10s %10s\n", "partition", "pid", "alive", "claim");
  for (const ProducerInfo& s : info->producers)
    std::printf("%9d %10d %10s %10s\n", s.partition, s.pid, yes_no(s.alive).c_str(),
                std::string(claim_state_name(s.state)).c_str());
  if (info->producers.empty()) std::printf("%9s\n", "(none)");
  std::printf("\nreaders\n%9s %10s %10s %20s %12s  %s\n", "partition", "pid", "alive", "position", "lag", "registered");
  for (const ReaderInfo& r : info->readers)
    std::printf("%9d %10d %10s %20lld %12llu  %s\n", r.partition, r.pid, yes_no(r.alive).c_str(),
                static_cast<long long>(r.position), static_cast<unsigned long long>(r.lag),
                local_time(r.registered_ns).c_str());
  if (info->readers.empty()) std::printf("%9s\n", "(none)");
  std::printf("\n");
  if (info->data_dir.empty()) {
    std::printf("%9s %20s %20s %20s\n", "partition", "earliest offset", "latest offset", "records retained");
    for (const PartitionInfo& p : info->partitions)
      std::printf("%9d %20lld %20lld %20lld\n", p.partition, static_cast<long long>(p.earliest_offset),
                  static_cast<long long>(p.latest_offset), static_cast<long long>(p.latest_offset - p.earliest_offset));
    return kExitOk;
  }
  // Kafka's names: the log start and end, and the durable end (fsynced).
  std::printf("%9s %16s %16s %16s %16s %14s\n", "partition", "log start", "log end", "written end", "durable end",
              "bytes on disk");
  for (const PartitionInfo& p : info->partitions)
    std::printf("%9d %16lld %16lld %16lld %16lld %14s\n", p.partition, static_cast<long long>(p.earliest_offset),
                static_cast<long long>(p.latest_offset), static_cast<long long>(p.written_offset),
                static_cast<long long>(p.durable_offset), format_size(p.disk_bytes).c_str());
  return kExitOk;
}

int run_delete(const GlobalOptions& global, const std::string& name) {
  if (Status s = Namespace::validate_topic_name(name); !s) return report_error(s);
  auto ns = open_namespace(global);
  if (!ns && ns.status().code() == Code::kNotFound)
    return report_error("topic '" + name + "' does not exist in namespace '" + global.ns + "'");
  if (!ns) return report_error(ns.status());
  if (Status s = (*ns)->delete_topic(name); !s) return report_error(s);
  if (global.verbose)
    std::fprintf(stderr, "rill: deleted topic '%s' from namespace '%s'\n", name.c_str(), global.ns.c_str());
  return kExitOk;
}

}  // namespace

void add_topic_command(CLI::App& root, const GlobalOptions& global, CommandTable& table) {
  CLI::App* topic = root.add_subcommand("topic", "Create, list, describe and delete topics");
  topic->require_subcommand(1);
  topic->fallthrough();

  auto create = std::make_shared<CreateOptions>();
  CLI::App* c = topic->add_subcommand(
      "create",
      "Create a topic: its partitions' shared memory (partitions x segments x segment size) is allocated now.\n"
      "Names follow Kafka's rules: 1-249 of [a-zA-Z0-9._-], not '.' or '..'.");
  c->fallthrough();
  c->add_option("NAME", create->name, "Topic name")->required();
  c->add_option("--partitions", create->partitions, "Number of partitions (1-4096)")->capture_default_str();
  c->add_option("--segment-size", create->segment_size,
                "Bytes per segment, a multiple of 4 KiB: plain bytes or with a unit (64KiB, 4MiB, 1GiB; KB/MB/GB are "
                "1000-based). The largest record is a little less than a segment")
      ->capture_default_str();
  c->add_option("--segments", create->segments,
                "Segments per partition ring (>= 4); the ring retains segments - 3 full segments")
      ->capture_default_str();
  c->add_option("--index-interval", create->index_interval,
                "Data bytes between sparse index entries: a power of two from 64 B to 2 GiB")
      ->capture_default_str();
  c->add_option("--overflow", create->overflow,
                "When the ring is full: retain (overwrite; an overtaken reader is told what it lost) or block "
                "(producers wait for the slowest registered reader, then fail)")
      ->capture_default_str();
  c->add_option("--overflow-timeout", create->overflow_timeout,
                "With --overflow block: how long a producer waits before send fails (e.g. 500ms, 5s)")
      ->capture_default_str();
  c->add_flag("--memory-only", create->memory_only,
              "In a durable namespace (--data-dir): keep this topic in memory only, not in files");
  c->add_option("--file-segment-size", create->file_segment_size,
                "Durable topics: bytes of one segment file on disk (64KiB to 2GiB); retention deletes whole files")
      ->capture_default_str();
  c->add_option("--retention-bytes", create->retention_bytes,
                "Durable topics: delete the oldest segment files once a partition's files hold more than this "
                "(e.g. 10GiB; 0: no limit)")
      ->capture_default_str();
  c->add_option("--retention-ms", create->retention_ms,
                "Durable topics: delete a segment file once every record in it is older than this many "
                "milliseconds (0: no limit)")
      ->capture_default_str();
  table.add(c, [&global, create] { return run_create(global, *create); });

  CLI::App* l = topic->add_subcommand("list", "List the namespace's topics, one name per line");
  l->fallthrough();
  table.add(l, [&global] { return run_list(global); });

  auto describe_name = std::make_shared<std::string>();
  CLI::App* d = topic->add_subcommand(
      "describe",
      "Show a topic's configuration; per partition its earliest and latest offsets; its producer and reader\n"
      "processes (alive or dead) and each reader's position and lag");
  d->fallthrough();
  d->add_option("NAME", *describe_name, "Topic name")->required();
  table.add(d, [&global, describe_name] { return run_describe(global, *describe_name); });

  auto delete_name = std::make_shared<std::string>();
  CLI::App* x =
      topic->add_subcommand("delete", "Delete a topic; processes that have it open keep reading until they close it");
  x->fallthrough();
  x->add_option("NAME", *delete_name, "Topic name")->required();
  table.add(x, [&global, delete_name] { return run_delete(global, *delete_name); });
}

}  // namespace rill::cli
