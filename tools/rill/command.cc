#include "tools/rill/command.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include "tools/rill/diagnostics.h"

namespace rill::cli {

const Action* CommandTable::chosen() const {
  // Entries are registered parent before child, so the last parsed one is the deepest.
  const Action* found = nullptr;
  for (const auto& [command, action] : entries_)
    if (command->parsed()) found = &action;
  return found;
}

namespace {

Status topic_not_found(const GlobalOptions& global, const std::string& message, const std::string& name) {
  return Status(Code::kNotFound, message + " (create it with `rill --ns " + global.ns + " topic create " + name +
                                     "`, list topics with `rill --ns " + global.ns + " topic list`)");
}

}  // namespace

Result<std::shared_ptr<Namespace>> open_namespace(const GlobalOptions& global, bool create) {
  if (Status s = Namespace::validate_namespace_name(global.ns); !s) return s.with_context("--ns");
  auto ns = Namespace::open_shared(
      global.ns, SharedOptions{.group = global.group, .create = create, .private_to_process = false, .data_dir = global.data_dir});
  if (!ns && ns.status().code() == Code::kNotFound && !create)
    return Status(Code::kNotFound,
                  "namespace '" + global.ns + "' does not exist (its first `rill topic create` makes it)");
  // Any user may create a namespace first - `default` too - and what root
  // then writes in it is that user's to read: say so, once.
  static bool warned = false;
  if (ns && ::geteuid() == 0 && (*ns)->owner_uid() != 0 && !warned) {
    warned = true;
    report_warning("namespace '" + global.ns + "' belongs to user " + (*ns)->owner_name() +
                   ": the topics and records root makes in it are theirs to read (use --ns to pick a namespace "
                   "of root's own)");
  }
  return ns;
}

Result<std::shared_ptr<Topic>> open_topic(const GlobalOptions& global, const std::string& name) {
  if (Status s = Namespace::validate_topic_name(name); !s) return s;
  auto ns = open_namespace(global);
  if (!ns && ns.status().code() == Code::kNotFound)
    return topic_not_found(global, "topic '" + name + "' does not exist in namespace '" + global.ns + "'", name);
  if (!ns) return ns.status();
  auto topic = (*ns)->open_topic(name);
  if (!topic && topic.status().code() == Code::kNotFound)
    return topic_not_found(global, topic.status().message(), name);
  return topic;
}

}  // namespace rill::cli
