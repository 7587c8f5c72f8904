// The report as JSON (doc/bench_json.md): to_json and report_from_json.
// nlohmann::json stays inside this file.
//
// Each struct's JSON shape is defined once, by its table `fields(Tag<T>)`:
// its keys in the documented order, the member each holds and whether it may
// be absent. Writing and reading both walk that table.
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "bench/suite/report.h"

namespace rill::bench {

namespace {

// Ordered, so that keys come out in the documented order.
using Json = nlohmann::ordered_json;
constexpr std::string_view kFormat = "rill-bench/1";

// --- The shape of each struct: the table `fields(Tag<T>)`, in key order.

template <typename T>
struct Tag {};

// Whether a field is written, and what a reader does when it is missing.
enum Presence {
  kRequired,           // always written; missing is an error
  kDefaultWhenAbsent,  // always written, but older reports lack it: missing, the member keeps its default
  kOmittedWhenEmpty,   // written unless empty (see is_empty); missing reads as empty
};

// The key `key` holds S's `member`.
template <typename S, typename M>
struct Field {
  std::string_view key;
  M S::*member;
  Presence presence = kRequired;
};

// The fields of S's `member`, written in S's own object as if they were S's.
template <typename S, typename M>
struct Flattened {
  M S::*member;
};

// A struct written as the array of its fields' values, in order, not as an object.
template <typename... F>
struct ArrayOf {
  std::tuple<F...> elements;
};

constexpr auto fields(Tag<DeadlineSpec>) {
  return std::tuple{
      Field{"deadline_ns", &DeadlineSpec::deadline_ns},
      Field{"class", &DeadlineSpec::rt_class},
      Field{"max_miss_rate", &DeadlineSpec::max_miss_rate},
  };
}

constexpr auto fields(Tag<DeadlineResult>) {
  return std::tuple{
      Flattened{&DeadlineResult::spec},
      Field{"samples", &DeadlineResult::samples},
      Field{"misses", &DeadlineResult::misses},
      Field{"miss_rate", &DeadlineResult::miss_rate},
      Field{"longest_streak", &DeadlineResult::longest_streak},
      Field{"p999_ns", &DeadlineResult::p999_ns},
      Field{"met", &DeadlineResult::met},
  };
}

constexpr auto fields(Tag<LatencyFigures>) {
  return std::tuple{
      Field{"count", &LatencyFigures::count}, Field{"min", &LatencyFigures::min},
      Field{"p50", &LatencyFigures::p50},     Field{"p90", &LatencyFigures::p90},
      Field{"p99", &LatencyFigures::p99},     Field{"p999", &LatencyFigures::p999},
      Field{"p9999", &LatencyFigures::p9999}, Field{"max", &LatencyFigures::max},
      Field{"mean", &LatencyFigures::mean},   Field{"stddev", &LatencyFigures::stddev},
  };
}

// [value_ns, fraction]: one short line per point of a distribution.
constexpr auto fields(Tag<Histogram::Point>) {
  return ArrayOf{std::tuple{
      Field{"value_ns", &Histogram::Point::value_ns},
      Field{"fraction", &Histogram::Point::fraction},
  }};
}

constexpr auto fields(Tag<Scenario>) {
  return std::tuple{
      Field{"transports", &Scenario::transports},
      Field{"compare", &Scenario::compare},
      Field{"producers", &Scenario::producers},
      Field{"consumers", &Scenario::consumers},
      Field{"partitions", &Scenario::partitions},
      Field{"split", &Scenario::split},
      Field{"record_bytes", &Scenario::record_bytes},
      Field{"batch", &Scenario::batch},
      Field{"rate_rps", &Scenario::rate_rps},
      Field{"duration_ns", &Scenario::duration_ns},
      Field{"count", &Scenario::count},
      Field{"warmup_ns", &Scenario::warmup_ns},
      Field{"wait", &Scenario::wait},
      Field{"cpus", &Scenario::cpus},
      Field{"clock", &Scenario::clock},
      Field{"durability", &Scenario::durability},
      Field{"acks", &Scenario::acks},
      Field{"deadline", &Scenario::deadline},
      Field{"repeat", &Scenario::repeat},
      Field{"pingpong", &Scenario::pingpong, kDefaultWhenAbsent},                  // since ping-pong
      Field{"verify_checksums", &Scenario::verify_checksums, kDefaultWhenAbsent},  // since --verify-checksums
      Field{"exclusive", &Scenario::exclusive, kDefaultWhenAbsent},                // since --exclusive
      Field{"data_dir", &Scenario::data_dir, kDefaultWhenAbsent},                  // since durable topics
  };
}

constexpr auto fields(Tag<Machine>) {
  return std::tuple{
      Field{"cpu_model", &Machine::cpu_model}, Field{"cores", &Machine::cores},     Field{"kernel", &Machine::kernel},
      Field{"hostname", &Machine::hostname},   Field{"tsc_ghz", &Machine::tsc_ghz},
      Field{"data_fs", &Machine::data_fs, kDefaultWhenAbsent},  // since durable topics
      Field{"io_backend", &Machine::io_backend, kDefaultWhenAbsent},
  };
}

constexpr auto fields(Tag<TransportResult>) {
  return std::tuple{
      Field{"transport", &TransportResult::transport},
      Field{"topology", &TransportResult::topology},
      Field{"records", &TransportResult::records},
      Field{"throughput_rps", &TransportResult::throughput_rps},
      Field{"file_bytes_per_s", &TransportResult::file_bytes_per_s, kDefaultWhenAbsent},  // since durable topics
      Field{"payload_bytes_per_s", &TransportResult::payload_bytes_per_s, kDefaultWhenAbsent},
      Field{"latency_records", &TransportResult::latency_records},
      Field{"latency_ns", &TransportResult::latency},
      Field{"latency_raw_ns", &TransportResult::latency_raw},
      Field{"latency_ack_ns", &TransportResult::latency_ack, kDefaultWhenAbsent},  // since durable topics
      Field{"distribution", &TransportResult::distribution},
      Field{"deadline", &TransportResult::deadline, kOmittedWhenEmpty},
      Field{"unsent_records", &TransportResult::unsent, kDefaultWhenAbsent},
      Field{"notes", &TransportResult::notes, kOmittedWhenEmpty},
      Field{"error", &TransportResult::error, kOmittedWhenEmpty},
  };
}

constexpr auto fields(Tag<Ratio>) {
  return std::tuple{
      Field{"numerator", &Ratio::numerator},
      Field{"denominator", &Ratio::denominator},
      Field{"metric", &Ratio::metric},
      Field{"median", &Ratio::median},
      Field{"min", &Ratio::min},
      Field{"max", &Ratio::max},
      Field{"runs", &Ratio::runs},
  };
}

// The top level, after "format" (not a member of Report).
constexpr auto fields(Tag<Report>) {
  return std::tuple{
      Field{"scenario", &Report::scenario},
      Field{"machine", &Report::machine},
      Field{"results", &Report::results},
      Field{"ratios", &Report::ratios, kDefaultWhenAbsent},
  };
}

template <typename T>
concept Described = requires {
  fields(Tag<T>{});
};

// --- Values, each written by encode() and read by decode(). A decode()
// checks the JSON type and names the path of what is wrong
// ("results[1].latency_ns.p99: expected an integer, got string").

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

Status invalid(const std::string& path, const std::string& what) {
  return Status(Code::kInvalidArgument, path.empty() ? what : path + ": " + what);
}

Status wrong_type(const std::string& path, std::string_view expected, const Json& got) {
  return invalid(path, "expected " + std::string(expected) + ", got " + got.type_name());
}

// Scalars never throw here: bytes that are not UTF-8 (a hostname, an error
// text) are replaced, not refused.
std::string dump_scalar(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// A double that is not finite is written as null (nlohmann's choice).
template <typename T>
requires std::is_arithmetic_v<T> || std::same_as<T, std::string> Json encode(const T& v) {
  return Json(v);
}

Status decode(const Json& j, const std::string& path, std::string& out) {
  if (!j.is_string()) return wrong_type(path, "a string", j);
  out = j.get<std::string>();
  return Status::ok();
}

Status decode(const Json& j, const std::string& path, bool& out) {
  if (!j.is_boolean()) return wrong_type(path, "true or false", j);
  out = j.get<bool>();
  return Status::ok();
}

// null is a figure that was not finite (to_json writes NaN and infinities so).
Status decode(const Json& j, const std::string& path, double& out) {
  if (j.is_null()) {
    out = std::numeric_limits<double>::quiet_NaN();
  } else if (j.is_number()) {
    out = j.get<double>();
  } else {
    return wrong_type(path, "a number", j);
  }
  return Status::ok();
}

// An integer, signed or unsigned, that fits in I (bool has its own decode()).
template <std::integral I>
Status decode(const Json& j, const std::string& path, I& out) {
  if (!j.is_number_integer()) return wrong_type(path, "an integer", j);
  if (j.is_number_unsigned() ? !std::in_range<I>(j.get<std::uint64_t>()) : !std::in_range<I>(j.get<std::int64_t>())) {
    return invalid(path, dump_scalar(j) + " is out of range");
  }
  out = j.get<I>();
  return Status::ok();
}

// A real-time class is its name: "hard", "soft" or "near".
Json encode(RtClass c) {
  return std::string(rt_class_name(c));
}

Status decode(const Json& j, const std::string& path, RtClass& out) {
  std::string name;
  if (Status s = decode(j, path, name); !s) return s;
  Result<RtClass> c = parse_rt_class(name);
  if (!c) return c.status().with_context(path);
  out = *c;
  return Status::ok();
}

// Structs hold optionals and vectors of structs.
template <Described T>
Json encode(const T& v);
template <Described T>
Status decode(const Json& j, const std::string& path, T& out);

// An empty optional is null: not measured, or not set.
template <typename T>
Json encode(const std::optional<T>& v) {
  return v ? encode(*v) : Json(nullptr);
}

template <typename T>
Status decode(const Json& j, const std::string& path, std::optional<T>& out) {
  if (j.is_null()) {
    out.reset();
    return Status::ok();
  }
  T value{};
  if (Status s = decode(j, path, value); !s) return s;
  out = std::move(value);
  return Status::ok();
}

template <typename T>
Json encode(const std::vector<T>& v) {
  Json array = Json::array();
  for (const T& e : v) array.push_back(encode(e));
  return array;
}

template <typename T>
Status decode(const Json& j, const std::string& path, std::vector<T>& out) {
  if (!j.is_array()) return wrong_type(path, "an array", j);
  out.clear();
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    T value{};
    if (Status s = decode(j[i], path + "[" + std::to_string(i) + "]", value); !s) return s;
    out.push_back(std::move(value));
  }
  return Status::ok();
}

// --- Structs, by their tables.

template <typename S, typename... F>
void encode_fields(const S& s, const std::tuple<F...>& table, Json& object);
template <typename S, typename... F>
Status decode_fields(const Json& object, const std::string& path, S& out, const std::tuple<F...>& table);

// An optional without a value, an empty string or vector; never a number or bool.
template <typename T>
bool is_empty(const T& v) {
  if constexpr (requires { v.has_value(); }) return !v.has_value();
  if constexpr (requires { v.empty(); }) return v.empty();
  return false;
}

template <typename S, typename M>
void encode_field(const S& s, const Field<S, M>& f, Json& object) {
  if (f.presence == kOmittedWhenEmpty && is_empty(s.*f.member)) return;
  object[std::string(f.key)] = encode(s.*f.member);
}

template <typename S, typename M>
void encode_field(const S& s, const Flattened<S, M>& f, Json& object) {
  encode_fields(s.*f.member, fields(Tag<M>{}), object);
}

template <typename S, typename... F>
void encode_fields(const S& s, const std::tuple<F...>& table, Json& object) {
  std::apply([&](const auto&... f) { (encode_field(s, f, object), ...); }, table);
}

template <typename S, typename M>
Status decode_field(const Json& object, const std::string& path, S& out, const Field<S, M>& f) {
  const auto it = object.find(f.key);
  if (it == object.end()) {
    return f.presence == kRequired ? invalid(path, "missing \"" + std::string(f.key) + "\"") : Status::ok();
  }
  return decode(*it, child(path, f.key), out.*f.member);
}

template <typename S, typename M>
Status decode_field(const Json& object, const std::string& path, S& out, const Flattened<S, M>& f) {
  return decode_fields(object, path, out.*f.member, fields(Tag<M>{}));
}

// The first error, in table order.
template <typename S, typename... F>
Status decode_fields(const Json& object, const std::string& path, S& out, const std::tuple<F...>& table) {
  Status status;
  std::apply([&](const auto&... f) { static_cast<void>(((status = decode_field(object, path, out, f)) && ...)); },
             table);
  return status;
}

template <Described T>
Json encode(const T& v) {
  constexpr auto table = fields(Tag<T>{});
  if constexpr (requires { table.elements; }) {
    Json array = Json::array();
    std::apply([&](const auto&... f) { (array.push_back(encode(v.*f.member)), ...); }, table.elements);
    return array;
  } else {
    Json object = Json::object();
    encode_fields(v, table, object);
    return object;
  }
}

template <Described T>
Status decode(const Json& j, const std::string& path, T& out) {
  constexpr auto table = fields(Tag<T>{});
  if constexpr (requires { table.elements; }) {
    if (!j.is_array() || j.size() != std::tuple_size_v<decltype(table.elements)>) {
      std::string keys;  // "[value_ns, fraction]"
      std::apply([&](const auto&... f) { ((keys += (keys.empty() ? "[" : ", ") + std::string(f.key)), ...); },
                 table.elements);
      return wrong_type(path, keys + "]", j);
    }
    Status status;
    std::size_t i = 0;
    const auto element = [&](const auto& f) {
      status = decode(j[i], path + "[" + std::to_string(i) + "]", out.*f.member);
      ++i;
      return status.is_ok();
    };
    std::apply([&](const auto&... f) { static_cast<void>((element(f) && ...)); }, table.elements);
    return status;
  } else {
    if (!j.is_object()) return wrong_type(path, "an object", j);
    return decode_fields(j, path, out, table);
  }
}

// --- Text.

// Two-space indentation, except that an array of scalars stays on one line,
// so that the distribution is one [value_ns, fraction] pair per line.
void write_pretty(const Json& j, int indent, std::string& out) {
  const auto pad = [&](int n) { out.append(static_cast<std::size_t>(n), ' '); };
  const bool flat_array =
      j.is_array() && std::all_of(j.begin(), j.end(), [](const Json& e) { return e.is_primitive(); });
  if (j.is_object() && !j.empty()) {
    out += "{\n";
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it != j.begin()) out += ",\n";
      pad(indent + 2);
      out += dump_scalar(Json(it.key())) + ": ";
      write_pretty(it.value(), indent + 2, out);
    }
    out += "\n";
    pad(indent);
    out += "}";
  } else if (j.is_array() && !flat_array) {
    out += "[\n";
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it != j.begin()) out += ",\n";
      pad(indent + 2);
      write_pretty(*it, indent + 2, out);
    }
    out += "\n";
    pad(indent);
    out += "]";
  } else {
    out += dump_scalar(j);
  }
}

// nlohmann's what() without its "[json.exception.parse_error.101] " tag.
std::string without_tag(const char* what) {
  std::string_view text = what;
  if (text.starts_with("[json.exception.")) {
    const auto end = text.find("] ");
    if (end != std::string_view::npos) text.remove_prefix(end + 2);
  }
  return std::string(text);
}

}  // namespace

std::string to_json(const Report& report) {
  Json j = Json::object();
  j["format"] = kFormat;
  encode_fields(report, fields(Tag<Report>{}), j);
  std::string out;
  write_pretty(j, 0, out);
  out += "\n";
  return out;
}

Result<Report> report_from_json(std::string_view text) {
  try {
    Json j;
    try {
      j = Json::parse(text.begin(), text.end());
    } catch (const Json::parse_error& e) {
      return Status(Code::kInvalidArgument, "not JSON: " + without_tag(e.what()));
    }
    if (!j.is_object()) {
      return Status(Code::kInvalidArgument,
                    std::string("expected an object with scenario, machine and results, got ") + j.type_name());
    }
    std::string format(kFormat);
    if (const auto it = j.find("format"); it != j.end()) {
      if (Status s = decode(*it, "format", format); !s) return s;
    }
    if (format != kFormat) {
      return Status(Code::kInvalidArgument,
                    "format \"" + format + "\" is not \"" + std::string(kFormat) + "\" (written by a newer rill?)");
    }
    Report report;
    if (Status s = decode_fields(j, "", report, fields(Tag<Report>{})); !s) return s;
    return report;
  } catch (const Json::exception& e) {
    // Every access above is type-checked first; this is a backstop, so that
    // no exception leaves rill's API.
    return Status(Code::kInvalidArgument, "bad bench JSON: " + without_tag(e.what()));
  }
}

}  // namespace rill::bench
