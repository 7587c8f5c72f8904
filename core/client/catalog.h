// The catalog of a durable namespace: the topics its data folder holds and
// their configuration, in <data dir>/catalog (doc/catalog_format.md). The
// registry in shared memory is rebuilt from it after a reboot.
//
// Thread safety: free functions; callers serialise writers (the registry lock).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/file_system.h"
#include "rill/topic.h"

namespace rill::client {

struct CatalogTopic {
  std::string name;
  TopicConfig config;
};

inline constexpr const char* kCatalogFile = "catalog";
// A catalog larger than this is refused as damaged (1024 topics fit in far less).
inline constexpr std::size_t kMaxCatalogBytes = 4u << 20;

// The topics of the catalog in `data_dir`; none if it has no catalog yet.
// kCorrupt naming the file and line if it does not parse or its check fails.
Result<std::vector<CatalogTopic>> read_catalog(io::FileSystem& fs, const std::string& data_dir);
// Replaces the catalog atomically (a crash leaves the old one or the new).
Status write_catalog(io::FileSystem& fs, const std::string& data_dir, const std::vector<CatalogTopic>& topics,
                     unsigned permissions);

// <data dir>/<topic>-<partition>: a partition's folder, as Kafka names it.
std::string partition_dir(const std::string& data_dir, std::string_view topic, std::int32_t partition);

}  // namespace rill::client
