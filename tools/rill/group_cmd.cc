// rill group list | describe GROUP | reset GROUP --topic T --to WHERE | delete GROUP
//
// The consumer groups of a namespace (rill/group.h): who reads what, how far
// each group has committed, and the administrative moves Kafka's
// kafka-consumer-groups makes.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "rill/consumer.h"
#include "rill/group.h"
#include "tools/rill/command.h"
#include "tools/rill/diagnostics.h"
#include "tools/rill/output.h"
#include "tools/rill/start_offset.h"

namespace rill::cli {
namespace {

struct ResetOptions {
  std::string group;
  std::string topic;
  std::string to;
};

std::string partitions_text(const std::vector<TopicPartition>& tps) {
  std::string out;
  for (const TopicPartition& tp : tps) out += (out.empty() ? "" : ",") + printable(tp.topic) + "/" + std::to_string(tp.partition);
  return out.empty() ? "-" : out;
}

int run_list(const GlobalOptions& global) {
  auto ns = open_namespace(global);
  if (!ns && ns.status().code() == Code::kNotFound) return kExitOk;  // no namespace, no groups
  if (!ns) return report_error(ns.status());
  auto names = list_groups(**ns);
  if (!names) return report_error(names.status());
  for (const std::string& name : *names) std::printf("%s\n", printable(name).c_str());
  return kExitOk;
}

int run_describe(const GlobalOptions& global, const std::string& group) {
  auto ns = open_namespace(global);
  if (!ns) return report_error(ns.status());
  auto d = describe_group(**ns, group);
  if (!d) return report_error(d.status());
  std::printf("group            %s\n", printable(d->group).c_str());
  std::printf("namespace        %s\n", global.ns.c_str());
  std::printf("state            %s\n", d->state.c_str());
  std::printf("strategy         %s\n", d->strategy.c_str());
  std::printf("generation       %d\n", d->generation);
  std::printf("members          %zu\n", d->members.size());
  std::printf("\n%-40s %-20s %10s  %s\n", "member", "host", "pid", "partitions");
  for (const GroupMemberDescription& m : d->members)
    std::printf("%-40s %-20s %10d  %s\n", printable(m.member_id).c_str(), printable(m.host).c_str(), m.pid,
                partitions_text(m.assignment).c_str());
  if (d->members.empty()) std::printf("%-40s\n", "(none)");
  std::printf("\n%-24s %9s %16s %16s %12s  %s\n", "topic", "partition", "committed", "log end", "lag", "member");
  for (const GroupPartitionDescription& p : d->partitions) {
    const auto number = [](std::int64_t v) { return v < 0 ? std::string("-") : std::to_string(v); };
    std::printf("%-24s %9d %16s %16s %12s  %s\n", printable(p.partition.topic).c_str(), p.partition.partition,
                number(p.committed).c_str(), number(p.log_end).c_str(), number(p.lag).c_str(),
                p.member_id.empty() ? "-" : printable(p.member_id).c_str());
  }
  if (d->partitions.empty()) std::printf("%-24s\n", "(none)");
  return kExitOk;
}

// The offset `to` (consume -o's words) names in partition p of the topic.
Result<std::int64_t> target_offset(Consumer& c, std::int32_t p, const StartOffset& to) {
  auto earliest = c.earliest_offset(p);
  if (!earliest) return earliest.status();
  auto latest = c.latest_offset(p);
  if (!latest) return latest.status();
  switch (to.kind) {
    case StartOffset::Kind::kBeginning: return *earliest;
    case StartOffset::Kind::kEnd: return *latest;
    case StartOffset::Kind::kFromEnd: return std::clamp(*latest - to.value, *earliest, *latest);
    case StartOffset::Kind::kAbsolute: {
      const std::int64_t at = std::clamp(to.value, *earliest, *latest);
      if (at != to.value)
        report_warning("partition " + std::to_string(p) + ": offset " + std::to_string(to.value) +
                       " is outside the log (" + std::to_string(*earliest) + " to " + std::to_string(*latest) +
                       "): reset to " + std::to_string(at));
      return at;
    }
    case StartOffset::Kind::kTimestamp: break;
  }
  // The first record at or after the time: seek_to_time() moves every assigned partition.
  return c.position(p);
}

int run_reset(const GlobalOptions& global, const ResetOptions& o) {
  auto to = parse_start_offset(o.to);
  if (!to) return report_error(to.status().with_context("--to"));
  auto topic = open_topic(global, o.topic);
  if (!topic) return report_error(topic.status());
  auto ns = open_namespace(global);
  if (!ns) return report_error(ns.status());
  Consumer reader(*topic);
  if (Status s = reader.assign_all(); !s) return report_error(s);
  if (to->kind == StartOffset::Kind::kTimestamp)
    if (Status s = reader.seek_to_time(to->value * 1'000'000); !s) return report_error(s);
  std::map<std::int32_t, std::int64_t> offsets;
  for (std::int32_t p = 0; p < (*topic)->partition_count(); ++p) {
    auto at = target_offset(reader, p, *to);
    if (!at) return report_error(at.status().with_context("partition " + std::to_string(p)));
    offsets[p] = *at;
  }
  if (Status s = reset_group_offsets(**ns, o.group, o.topic, offsets); !s) return report_error(s);
  std::printf("%-24s %9s %16s\n", "topic", "partition", "new offset");
  for (const auto& [p, offset] : offsets)
    std::printf("%-24s %9d %16lld\n", printable(o.topic).c_str(), p, static_cast<long long>(offset));
  return kExitOk;
}

int run_delete(const GlobalOptions& global, const std::string& group) {
  auto ns = open_namespace(global);
  if (!ns) return report_error(ns.status());
  if (Status s = delete_group(**ns, group); !s) return report_error(s);
  if (global.verbose)
    std::fprintf(stderr, "rill: deleted consumer group '%s' from namespace '%s'\n", group.c_str(), global.ns.c_str());
  return kExitOk;
}

}  // namespace

void add_group_command(CLI::App& root, const GlobalOptions& global, CommandTable& table) {
  CLI::App* group = root.add_subcommand("group", "List, describe, reset and delete consumer groups");
  group->require_subcommand(1);
  group->fallthrough();

  CLI::App* list = group->add_subcommand("list", "The consumer groups of the namespace, one per line");
  list->fallthrough();
  table.add(list, [&global] { return run_list(global); });

  auto describe_name = std::make_shared<std::string>();
  CLI::App* describe = group->add_subcommand(
      "describe", "A group's state, strategy and generation; its members (pid, host, partitions); and per partition "
                  "the committed offset, the log end, the lag and the member reading it");
  describe->fallthrough();
  describe->add_option("GROUP", *describe_name, "Consumer group")->required();
  table.add(describe, [&global, describe_name] { return run_describe(global, *describe_name); });

  auto reset = std::make_shared<ResetOptions>();
  CLI::App* r = group->add_subcommand(
      "reset", "Set a group's committed offsets for every partition of a topic (refused while the group has "
               "members): --to beginning, end, OFFSET, -N (N before the end) or s@MS (first record at or after MS "
               "ms since the epoch), as consume -o");
  r->fallthrough();
  r->add_option("GROUP", reset->group, "Consumer group")->required();
  r->add_option("--topic", reset->topic, "Topic whose partitions are reset")->required();
  r->add_option("--to", reset->to, "Where: beginning, end, OFFSET, -N or s@MS")->required();
  table.add(r, [&global, reset] { return run_reset(global, *reset); });

  auto delete_name = std::make_shared<std::string>();
  CLI::App* d = group->add_subcommand("delete", "Remove a group and its committed offsets (refused while it has members)");
  d->fallthrough();
  d->add_option("GROUP", *delete_name, "Consumer group")->required();
  table.add(d, [&global, delete_name] { return run_delete(global, *delete_name); });
}

}  // namespace rill::cli
