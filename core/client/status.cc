#include "rill/status.h"

#include "rill/wait.h"

namespace rill {

std::string_view code_name(Code code) noexcept {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kAlreadyExists: return "already exists";
    case Code::kRecordTooLarge: return "record too large";
    case Code::kOffsetOutOfRange: return "offset out of range";
    case Code::kCorrupt: return "corrupt";
    case Code::kTimedOut: return "timed out";
    case Code::kResourceExhausted: return "resource exhausted";
    case Code::kPermissionDenied: return "permission denied";
    case Code::kIoError: return "I/O error";
    case Code::kInternal: return "internal error";
    case Code::kLeased: return "leased to another producer";
    case Code::kFenced: return "fenced";
  }
  return "unknown error";
}

Status Status::with_context(std::string_view context) const {
  if (is_ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

std::string Status::to_string() const {
  if (is_ok()) return "OK";
  return std::string(code_name(code_)) + ": " + message_;
}

std::string_view wait_strategy_name(WaitStrategy s) noexcept {
  switch (s) {
    case WaitStrategy::kBusySpin: return "spin";
    case WaitStrategy::kSpinThenYield: return "yield";
    case WaitStrategy::kBlock: return "block";
  }
  return "block";
}

bool parse_wait_strategy(std::string_view text, WaitStrategy* out) noexcept {
  if (text == "spin") *out = WaitStrategy::kBusySpin;
  else if (text == "yield") *out = WaitStrategy::kSpinThenYield;
  else if (text == "block") *out = WaitStrategy::kBlock;
  else return false;
  return true;
}

}  // namespace rill
