// How the rill CLI talks to a person when something is wrong.
//
// Contract: an error is exactly one line on stderr, "rill: error: <what>",
// so that scripts can show it as is and tests can match it; a warning is one
// line "rill: warning: <what>" and the command carries on. Messages echo what
// the user typed (topic and namespace names, flag values), so every byte a
// terminal would act on is shown escaped (see printable()): the line stays one
// line, and an ESC in a name is shown as \x1b instead of driving the terminal.
#pragma once

#include <string>
#include <string_view>

#include "rill/status.h"

namespace rill::cli {

// Process exit codes of every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;        // the command ran and failed (unknown topic, bad data, ...)
inline constexpr int kExitUsage = 2;          // the command line itself is wrong (CLI11 parse errors)
inline constexpr int kExitDeadlineMissed = 3; // rill bench ran, and a transport missed its --deadline verdict
inline constexpr int kExitInterrupted = 130;  // rill demo stopped by SIGINT/SIGTERM (128 + SIGINT)

// Prints "rill: error: <message>" and returns kExitFailure.
int report_error(std::string_view message);
// Prints "rill: error: <status message>" (with the code's name when the
// message alone would not say what kind of failure it was) and returns kExitFailure.
int report_error(const Status& status);
// Prints "rill: warning: <message>".
void report_warning(std::string_view message);

// `text` as it may be shown on a terminal: newline, carriage return and tab
// as \n, \r, \t; every other C0 control character and DEL as \xNN; a byte
// that is not part of valid UTF-8, or that encodes a C1 control character
// (U+0080 to U+009F, which some terminals obey as ESC sequences), as \xNN.
// Printable ASCII and other valid UTF-8 (such as "µs") pass unchanged.
// report_error() and report_warning() apply it; other lines on stderr that
// echo user input (the -v summaries) must too.
std::string printable(std::string_view text);

}  // namespace rill::cli
