// Graceful stop for long-running commands (consume, demo).
//
// SIGINT and SIGTERM only set a flag; the command notices it at its next
// poll (within one poll timeout), flushes what it printed and exits. SIGPIPE
// is ignored so that a closed stdout shows up as EPIPE from write(), which
// the output writer reports and the command turns into a quiet exit.
#pragma once

namespace rill::cli {

// Installs the handlers (without SA_RESTART, so blocking calls return EINTR).
void install_stop_handlers();
// True once SIGINT or SIGTERM arrived. Async-signal-safe to set, cheap to read.
bool stop_requested() noexcept;
// The signal that asked to stop, or 0.
int stop_signal() noexcept;

}  // namespace rill::cli
