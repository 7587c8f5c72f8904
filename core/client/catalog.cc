#include "core/client/catalog.h"

#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <sstream>

namespace rill::client {
namespace {

constexpr std::string_view kHeaderLine = "rill-catalog 1";

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

template <typename T>
bool parse_number(std::string_view text, T* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

// One "topic NAME key=value ..." line.
Status parse_topic(std::string_view line, CatalogTopic* t) {
  std::vector<std::string_view> words;
  for (std::size_t at = 0; at < line.size();) {
    const std::size_t space = line.find(' ', at);
    const std::size_t end = space == std::string_view::npos ? line.size() : space;
    if (end > at) words.push_back(line.substr(at, end - at));
    at = end + 1;
  }
  if (words.size() < 2 || words[0] != "topic") return Status(Code::kCorrupt, "not a topic line");
  t->name = std::string(words[1]);
  if (Status s = Namespace::validate_topic_name(t->name); !s) return s;
  TopicConfig& c = t->config;
  for (std::size_t i = 2; i < words.size(); ++i) {
    const std::size_t eq = words[i].find('=');
    if (eq == std::string_view::npos) {
      std::string why(words[i]);
      why += " is not key=value";
      return Status(Code::kCorrupt, why);
    }
    const std::string_view key = words[i].substr(0, eq), value = words[i].substr(eq + 1);
    bool ok = false;
    if (key == "partitions") ok = parse_number(value, &c.partitions);
    else if (key == "segment_bytes") ok = parse_number(value, &c.segment_bytes);
    else if (key == "segment_count") ok = parse_number(value, &c.segment_count);
    else if (key == "index_interval") ok = parse_number(value, &c.index_interval);
    else if (key == "overflow_timeout_ms") ok = parse_number(value, &c.overflow_timeout_ms);
    else if (key == "file_segment_bytes") ok = parse_number(value, &c.file_segment_bytes);
    else if (key == "retention_bytes") ok = parse_number(value, &c.retention_bytes);
    else if (key == "retention_ms") ok = parse_number(value, &c.retention_ms);
    else if (key == "overflow") {
      ok = value == "retain" || value == "block";
      c.overflow = value == "block" ? Overflow::kBlock : Overflow::kRetain;
    } else {
      return Status(Code::kCorrupt, "unknown key '" + std::string(key) + "'");
    }
    if (!ok) return Status(Code::kCorrupt, "bad value for " + std::string(key) + ": '" + std::string(value) + "'");
  }
  return c.validate();
}

}  // namespace

std::string partition_dir(const std::string& data_dir, std::string_view topic, std::int32_t partition) {
  return data_dir + "/" + std::string(topic) + "-" + std::to_string(partition);
}

Result<std::vector<CatalogTopic>> read_catalog(io::FileSystem& fs, const std::string& data_dir) {
  const std::string path = data_dir + "/" + kCatalogFile;
  auto there = fs.exists(path);
  if (!there) return there.status();
  if (!*there) return std::vector<CatalogTopic>{};
  auto bytes = io::read_small_file(fs, path, kMaxCatalogBytes);
  if (!bytes) return bytes.status();
  const std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  const auto damaged = [&](std::size_t line, const std::string& why) {
    return Status(Code::kCorrupt, path + " line " + std::to_string(line) + ": " + why +
                                      " (the catalog is damaged; the partitions' folders beside it still hold "
                                      "their records)");
  };
  const std::size_t end_at = text.rfind("\nend ");
  if (text.substr(0, kHeaderLine.size()) != kHeaderLine || end_at == std::string_view::npos)
    return damaged(1, "not a rill catalog of version 1");
  const std::string_view body = text.substr(0, end_at + 1);
  std::string_view check = text.substr(end_at + 5);
  if (!check.empty() && check.back() == '\n') check.remove_suffix(1);
  const std::size_t lines = static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n'));
  if (check != hex64(XXH3_64bits(body.data(), body.size()))) return damaged(lines + 1, "its check does not match");
  std::vector<CatalogTopic> topics;
  std::size_t number = 0;
  for (std::size_t at = 0; at < body.size();) {
    const std::size_t nl = body.find('\n', at);
    const std::string_view line = body.substr(at, nl - at);
    at = nl + 1;
    if (++number == 1) continue;  // the header line
    CatalogTopic t;
    if (Status s = parse_topic(line, &t); !s) return damaged(number, s.message());
    for (const CatalogTopic& seen : topics)
      if (seen.name == t.name) return damaged(number, "topic '" + t.name + "' is listed twice");
    topics.push_back(std::move(t));
  }
  return topics;
}

Status write_catalog(io::FileSystem& fs, const std::string& data_dir, const std::vector<CatalogTopic>& topics,
                     unsigned permissions) {
  std::ostringstream out;
  out << kHeaderLine << '\n';
  for (const CatalogTopic& t : topics) {
    const TopicConfig& c = t.config;
    out << "topic " << t.name << " partitions=" << c.partitions << " segment_bytes=" << c.segment_bytes
        << " segment_count=" << c.segment_count << " index_interval=" << c.index_interval
        << " overflow=" << overflow_name(c.overflow) << " overflow_timeout_ms=" << c.overflow_timeout_ms
        << " file_segment_bytes=" << c.file_segment_bytes << " retention_bytes=" << c.retention_bytes
        << " retention_ms=" << c.retention_ms << '\n';
  }
  std::string text = out.str();
  text += "end " + hex64(XXH3_64bits(text.data(), text.size())) + "\n";
  return io::write_file_atomically(fs, data_dir + "/" + kCatalogFile,
                                   std::span(reinterpret_cast<const std::byte*>(text.data()), text.size()), permissions);
}

}  // namespace rill::client
