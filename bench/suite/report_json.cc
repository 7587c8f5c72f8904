// The report as JSON (doc/bench_json.md): to_json and report_from_json.
// nlohmann::json stays inside this file.
#include <algorithm>
#include <concepts>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/suite/report.h"

namespace rill::bench {

namespace {

// Ordered, so that keys come out in the documented order.
using Json = nlohmann::ordered_json;
constexpr std::string_view kFormat = "rill-bench/1";

Json encode(const DeadlineSpec& d) {
  Json j = Json::object();
  j["deadline_ns"] = d.deadline_ns;
  j["class"] = std::string(rt_class_name(d.rt_class));
  j["max_miss_rate"] = d.max_miss_rate;
  return j;
}

Json encode(const DeadlineResult& d) {
  Json j = encode(d.spec);
  j["samples"] = d.samples;
  j["misses"] = d.misses;
  j["miss_rate"] = d.miss_rate;
  j["longest_streak"] = d.longest_streak;
  j["p999_ns"] = d.p999_ns;
  j["met"] = d.met;
  return j;
}

Json encode(const LatencyFigures& f) {
  Json j = Json::object();
  j["count"] = f.count;
  j["min"] = f.min;
  j["p50"] = f.p50;
  j["p90"] = f.p90;
  j["p99"] = f.p99;
  j["p999"] = f.p999;
  j["p9999"] = f.p9999;
  j["max"] = f.max;
  j["mean"] = f.mean;
  j["stddev"] = f.stddev;
  return j;
}

Json encode(double d) {
  return Json(d);
}

template <typename T>
Json encode_or_null(const std::optional<T>& v) {
  return v ? encode(*v) : Json(nullptr);
}

Json encode(const Scenario& s) {
  Json j = Json::object();
  j["transports"] = s.transports;
  j["compare"] = s.compare;
  j["producers"] = s.producers;
  j["consumers"] = s.consumers;
  j["partitions"] = s.partitions;
  j["split"] = s.split;
  j["record_bytes"] = s.record_bytes;
  j["batch"] = s.batch;
  j["rate_rps"] = encode_or_null(s.rate_rps);
  j["duration_ns"] = s.duration_ns;
  j["count"] = s.count;
  j["warmup_ns"] = s.warmup_ns;
  j["wait"] = s.wait;
  j["cpus"] = s.cpus;
  j["clock"] = s.clock;
  j["durability"] = s.durability;
  j["acks"] = s.acks;
  j["deadline"] = encode_or_null(s.deadline);
  j["repeat"] = s.repeat;
  j["pingpong"] = s.pingpong;
  j["verify_checksums"] = s.verify_checksums;
  j["exclusive"] = s.exclusive;
  return j;
}

Json encode(const Machine& m) {
  Json j = Json::object();
  j["cpu_model"] = m.cpu_model;
  j["cores"] = m.cores;
  j["kernel"] = m.kernel;
  j["hostname"] = m.hostname;
  j["tsc_ghz"] = m.tsc_ghz;
  return j;
}

Json encode(const TransportResult& r) {
  Json j = Json::object();
  j["transport"] = r.transport;
  j["topology"] = r.topology;
  j["records"] = r.records;
  j["throughput_rps"] = encode_or_null(r.throughput_rps);
  j["latency_records"] = r.latency_records;
  j["latency_ns"] = encode_or_null(r.latency);
  j["latency_raw_ns"] = encode_or_null(r.latency_raw);
  Json distribution = Json::array();
  for (const Histogram::Point& p : r.distribution) distribution.push_back(Json::array({p.value_ns, p.fraction}));
  j["distribution"] = std::move(distribution);
  if (r.deadline) j["deadline"] = encode(*r.deadline);
  j["unsent_records"] = r.unsent;
  if (!r.notes.empty()) j["notes"] = r.notes;
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

Json encode(const Ratio& r) {
  Json j = Json::object();
  j["numerator"] = r.numerator;
  j["denominator"] = r.denominator;
  j["metric"] = r.metric;
  j["median"] = r.median;
  j["min"] = r.min;
  j["max"] = r.max;
  j["runs"] = r.runs;
  return j;
}

// Scalars never throw here: bytes that are not UTF-8 (a hostname, an error
// text) are replaced, not refused.
std::string dump_scalar(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

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

// --- Reading. Each decode() checks the JSON type and names the path of
// what is wrong ("results[1].latency_ns.p99: expected an integer, got string").

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

Status invalid(const std::string& path, const std::string& what) {
  return Status(Code::kInvalidArgument, path.empty() ? what : path + ": " + what);
}

Status wrong_type(const std::string& path, std::string_view expected, const Json& got) {
  return invalid(path, "expected " + std::string(expected) + ", got " + got.type_name());
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

template <typename I>
requires std::integral<I> &&(!std::same_as<I, bool>)Status decode(const Json& j, const std::string& path, I& out) {
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (std::in_range<I>(v)) {
      out = static_cast<I>(v);
      return Status::ok();
    }
  } else if (j.is_number_integer()) {
    const auto v = j.get<std::int64_t>();
    if (std::in_range<I>(v)) {
      out = static_cast<I>(v);
      return Status::ok();
    }
  } else {
    return wrong_type(path, "an integer", j);
  }
  return invalid(path, dump_scalar(j) + " is out of range");
}

Status decode(const Json& j, const std::string& path, RtClass& out) {
  std::string name;
  if (Status s = decode(j, path, name); !s) return s;
  Result<RtClass> c = parse_rt_class(name);
  if (!c) return c.status().with_context(path);
  out = *c;
  return Status::ok();
}

Status decode(const Json& j, const std::string& path, Histogram::Point& out);
Status decode(const Json& j, const std::string& path, DeadlineSpec& out);
Status decode(const Json& j, const std::string& path, DeadlineResult& out);
Status decode(const Json& j, const std::string& path, LatencyFigures& out);
Status decode(const Json& j, const std::string& path, Scenario& out);
Status decode(const Json& j, const std::string& path, Machine& out);
Status decode(const Json& j, const std::string& path, TransportResult& out);
Status decode(const Json& j, const std::string& path, Ratio& out);

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

// Reads the fields of one object, keeping the first error.
class FieldReader {
 public:
  FieldReader(const Json& object, const std::string& path) : object_(object), path_(path) {
    if (!object.is_object()) status_ = wrong_type(path, "an object", object);
  }

  // A key every rill-bench/1 writer writes.
  template <typename T>
  void required(std::string_view key, T& out) {
    if (!status_) return;
    const auto it = object_.find(key);
    if (it == object_.end()) {
      status_ = invalid(path_, "missing \"" + std::string(key) + "\"");
      return;
    }
    status_ = decode(*it, child(path_, key), out);
  }

  // A key that may be left out; `out` keeps its value then.
  template <typename T>
  void optional(std::string_view key, T& out) {
    if (!status_) return;
    const auto it = object_.find(key);
    if (it != object_.end()) status_ = decode(*it, child(path_, key), out);
  }

  const Status& status() const { return status_; }

 private:
  const Json& object_;
  const std::string& path_;
  Status status_;
};

Status decode(const Json& j, const std::string& path, Histogram::Point& out) {
  if (!j.is_array() || j.size() != 2) return wrong_type(path, "[value_ns, fraction]", j);
  if (Status s = decode(j[0], path + "[0]", out.value_ns); !s) return s;
  return decode(j[1], path + "[1]", out.fraction);
}

Status decode(const Json& j, const std::string& path, DeadlineSpec& out) {
  FieldReader r(j, path);
  r.required("deadline_ns", out.deadline_ns);
  r.required("class", out.rt_class);
  r.required("max_miss_rate", out.max_miss_rate);
  return r.status();
}

Status decode(const Json& j, const std::string& path, DeadlineResult& out) {
  if (Status s = decode(j, path, out.spec); !s) return s;
  FieldReader r(j, path);
  r.required("samples", out.samples);
  r.required("misses", out.misses);
  r.required("miss_rate", out.miss_rate);
  r.required("longest_streak", out.longest_streak);
  r.required("p999_ns", out.p999_ns);
  r.required("met", out.met);
  return r.status();
}

Status decode(const Json& j, const std::string& path, LatencyFigures& out) {
  FieldReader r(j, path);
  r.required("count", out.count);
  r.required("min", out.min);
  r.required("p50", out.p50);
  r.required("p90", out.p90);
  r.required("p99", out.p99);
  r.required("p999", out.p999);
  r.required("p9999", out.p9999);
  r.required("max", out.max);
  r.required("mean", out.mean);
  r.required("stddev", out.stddev);
  return r.status();
}

Status decode(const Json& j, const std::string& path, Scenario& out) {
  FieldReader r(j, path);
  r.required("transports", out.transports);
  r.required("compare", out.compare);
  r.required("producers", out.producers);
  r.required("consumers", out.consumers);
  r.required("partitions", out.partitions);
  r.required("split", out.split);
  r.required("record_bytes", out.record_bytes);
  r.required("batch", out.batch);
  r.required("rate_rps", out.rate_rps);
  r.required("duration_ns", out.duration_ns);
  r.required("count", out.count);
  r.required("warmup_ns", out.warmup_ns);
  r.required("wait", out.wait);
  r.required("cpus", out.cpus);
  r.required("clock", out.clock);
  r.required("durability", out.durability);
  r.required("acks", out.acks);
  r.required("deadline", out.deadline);
  r.required("repeat", out.repeat);
  r.optional("pingpong", out.pingpong);                  // absent before ping-pong existed
  r.optional("verify_checksums", out.verify_checksums);  // absent before --verify-checksums existed
  r.optional("exclusive", out.exclusive);                // absent before --exclusive existed
  return r.status();
}

Status decode(const Json& j, const std::string& path, Machine& out) {
  FieldReader r(j, path);
  r.required("cpu_model", out.cpu_model);
  r.required("cores", out.cores);
  r.required("kernel", out.kernel);
  r.required("hostname", out.hostname);
  r.required("tsc_ghz", out.tsc_ghz);
  return r.status();
}

Status decode(const Json& j, const std::string& path, TransportResult& out) {
  FieldReader r(j, path);
  r.required("transport", out.transport);
  r.required("topology", out.topology);
  r.required("records", out.records);
  r.required("throughput_rps", out.throughput_rps);
  r.required("latency_records", out.latency_records);
  r.required("latency_ns", out.latency);
  r.required("latency_raw_ns", out.latency_raw);
  r.required("distribution", out.distribution);
  r.optional("deadline", out.deadline);
  r.optional("unsent_records", out.unsent);
  r.optional("notes", out.notes);
  r.optional("error", out.error);
  return r.status();
}

Status decode(const Json& j, const std::string& path, Ratio& out) {
  FieldReader r(j, path);
  r.required("numerator", out.numerator);
  r.required("denominator", out.denominator);
  r.required("metric", out.metric);
  r.required("median", out.median);
  r.required("min", out.min);
  r.required("max", out.max);
  r.required("runs", out.runs);
  return r.status();
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
  j["scenario"] = encode(report.scenario);
  j["machine"] = encode(report.machine);
  Json results = Json::array();
  for (const TransportResult& r : report.results) results.push_back(encode(r));
  j["results"] = std::move(results);
  Json ratios = Json::array();
  for (const Ratio& r : report.ratios) ratios.push_back(encode(r));
  j["ratios"] = std::move(ratios);
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
    Report report;
    std::string format(kFormat);
    const std::string top;
    FieldReader r(j, top);
    r.optional("format", format);
    if (!r.status()) return r.status();
    if (format != kFormat) {
      return Status(Code::kInvalidArgument,
                    "format \"" + format + "\" is not \"" + std::string(kFormat) + "\" (written by a newer rill?)");
    }
    r.required("scenario", report.scenario);
    r.required("machine", report.machine);
    r.required("results", report.results);
    r.optional("ratios", report.ratios);
    if (!r.status()) return r.status();
    return report;
  } catch (const Json::exception& e) {
    // Every access above is type-checked first; this is a backstop, so that
    // no exception leaves rill's API.
    return Status(Code::kInvalidArgument, "bad bench JSON: " + without_tag(e.what()));
  }
}

}  // namespace rill::bench
