// What every rill subcommand shares: the global options, how a subcommand is
// registered with the CLI11 parser, and how it opens its namespace.
//
// A command file (topic_cmd.cc, produce_cmd.cc, ...) adds its subcommand(s)
// to the root parser and registers the action to run when it was chosen.
// main() parses the command line, then runs the chosen action; an action
// returns the process exit code (diagnostics.h) and reports its own errors.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rill/topic.h"

namespace CLI {
class App;
}

namespace rill::cli {

struct GlobalOptions {
  std::string ns;        // --ns; defaults to Namespace::default_name()
  std::string group;     // --group: the Unix group the namespace is open to (SharedOptions::group)
  std::string data_dir;  // --data-dir: a durable namespace's folder (SharedOptions::data_dir); $RILL_DATA_DIR
  bool verbose = false;  // -v: summaries on stderr
};

using Action = std::function<int()>;

// Maps parsed subcommands to their actions.
class CommandTable {
 public:
  // `command` must be a (sub)subcommand of the root parser that outlives the table.
  void add(CLI::App* command, Action action) { entries_.emplace_back(command, std::move(action)); }
  // The action of the deepest parsed command that has one, or null.
  const Action* chosen() const;

 private:
  std::vector<std::pair<CLI::App*, Action>> entries_;
};

// Each adds its subcommand(s) to `root`; `global` is read when the action runs.
void add_topic_command(CLI::App& root, const GlobalOptions& global, CommandTable& table);
void add_produce_command(CLI::App& root, const GlobalOptions& global, CommandTable& table);
void add_consume_command(CLI::App& root, const GlobalOptions& global, CommandTable& table);
void add_demo_command(CLI::App& root, const GlobalOptions& global, CommandTable& table);
void add_bench_command(CLI::App& root, const GlobalOptions& global, CommandTable& table);
void add_ns_command(CLI::App& root, const GlobalOptions& global, CommandTable& table);
void add_group_command(CLI::App& root, const GlobalOptions& global, CommandTable& table);

// Namespace::open_shared(global.ns, {.group = global.group}); every error names the namespace.
// Only `topic create` passes create = true: a command that fails or only
// reads must leave no shared-memory object behind, so otherwise a namespace
// without a registry object is kNotFound instead of being created.
Result<std::shared_ptr<Namespace>> open_namespace(const GlobalOptions& global, bool create = false);
// Opens topic `name` of the namespace; a missing topic's error says how to create it.
Result<std::shared_ptr<Topic>> open_topic(const GlobalOptions& global, const std::string& name);

}  // namespace rill::cli
