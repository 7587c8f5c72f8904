// Status and Result<T>: how every cold-path rill call reports failure.
//
// rill never throws across its API. A call that can fail returns a Status
// (or a Result<T> carrying either a value or a Status). A Status names what
// went wrong in a code the caller can switch on and a message, written for a
// person, that says what to do about it. Each layer that passes an error up
// adds context with Status::with_context ("topic 'orders' partition 3: ...").
//
// Hot-path outcomes that are not failures (full, empty, would-block) are
// result enums of their own, never a Status.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace rill {

enum class Code : std::uint8_t {
  kOk = 0,
  kInvalidArgument,   // the caller passed a bad value (bad name, bad size, bad flag)
  kNotFound,          // unknown topic, partition or namespace
  kAlreadyExists,     // a topic of that name exists
  kRecordTooLarge,    // a record (or batch) larger than a segment can hold
  kOffsetOutOfRange,  // the ring no longer (or not yet) holds that offset
  kCorrupt,           // bytes in shared memory or on disk fail a check
  kTimedOut,          // a wait ran past its deadline
  kResourceExhausted, // out of memory, /dev/shm full, registry full
  kPermissionDenied,  // the OS refused access
  kIoError,           // any other OS error
  kInternal,          // a broken invariant: a bug in rill
  kLeased,            // another producer holds the partition's exclusive lease (ProducerOptions::exclusive)
  kFenced,            // a newer generation of a consumer group (or a newer producer) took over: refused
};

// Human-readable name of a code ("offset out of range").
std::string_view code_name(Code code) noexcept;

// Thread safety: a Status is a value; distinct objects may be used from
// different threads freely.
class [[nodiscard]] Status {
 public:
  Status() noexcept = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() noexcept { return Status(); }

  bool is_ok() const noexcept { return code_ == Code::kOk; }
  explicit operator bool() const noexcept { return is_ok(); }
  Code code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

  // Returns this status with "context: " put in front of its message.
  // An OK status stays OK.
  Status with_context(std::string_view context) const;

  // "offset out of range: <message>", or "OK".
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a T or a non-OK Status.
// REQUIRES: a Result is never built from an OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool is_ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return is_ok(); }

  // REQUIRES: is_ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  // The error; Status::ok() when this holds a value.
  Status status() const { return is_ok() ? Status() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace rill
