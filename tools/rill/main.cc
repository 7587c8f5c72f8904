// rill: the command-line tool. Parses the command line with CLI11 and runs
// the chosen subcommand; see `rill --help` and doc/design.md, "The CLI".
#include <CLI/CLI.hpp>
#include <exception>
#include <string>

#include "rill/topic.h"
#include "tools/rill/command.h"
#include "tools/rill/diagnostics.h"

namespace {

// "rill topic create": the subcommands parsed so far, for the --help hint.
std::string parsed_path(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* sub : app.get_subcommands()) {
    if (sub->parsed()) return path + " " + parsed_path(*sub);
  }
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rill::cli;
  CLI::App app(
      "rill: Kafka's model at memory speed. Topics live in a namespace in shared memory\n"
      "(/dev/shm/rill.<namespace>.*); every process that uses the same namespace sees them.",
      "rill");
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand: rill topic list --ns x
  app.set_version_flag("--version", "rill 0.1.0");

  GlobalOptions global;
  global.ns = rill::Namespace::default_name();
  app.add_option("--ns", global.ns, "Namespace to use: 1-64 of [a-zA-Z0-9_-] (default: $RILL_NS, else \"default\")")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // the last --ns wins, as with shell aliases
  app.add_option("--group", global.group,
                 "Open the namespace to a Unix group (name or gid): a namespace created with --group has its "
                 "shared-memory objects mode 0660 and owned by GROUP, so members' processes can use it; without it, "
                 "0600 (owner only). The creator must be in GROUP; an existing namespace must have been created for it")
      ->type_name("GROUP")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  global.data_dir = rill::Namespace::default_data_dir();
  app.add_option("--data-dir", global.data_dir,
                 "Make the namespace durable: its catalog and every partition's log live in DIR (made if missing), "
                 "and topics created in it are written there unless --memory-only. After a reboot the first command "
                 "with the same DIR rebuilds the namespace from its files. Recorded in the namespace: another DIR is "
                 "refused, and commands without --data-dir use the recorded one (default: $RILL_DATA_DIR)")
      ->type_name("DIR")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_flag("-v,--verbose", global.verbose, "Print a summary of what was done on stderr");

  CommandTable table;
  add_topic_command(app, global, table);
  add_produce_command(app, global, table);
  add_consume_command(app, global, table);
  add_demo_command(app, global, table);
  add_bench_command(app, global, table);
  add_ns_command(app, global, table);
  add_group_command(app, global, table);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0: CLI11 prints them.
    if (e.get_exit_code() == 0) return app.exit(e);
    std::string what = e.what();
    // CLI11 complains that a subcommand is missing when the word given is not one.
    if (const auto extra = app.remaining(true); !extra.empty() && dynamic_cast<const CLI::RequiredError*>(&e))
      what = "unknown command '" + extra.front() + "'";
    report_error(what + " (see `" + parsed_path(app) + " --help`)");
    return kExitUsage;
  }

  const Action* action = table.chosen();
  if (action == nullptr) return report_error("no command given (see `rill --help`)");
  try {
    return (*action)();
  } catch (const std::exception& e) {
    return report_error(std::string("internal error: ") + e.what());
  }
}
