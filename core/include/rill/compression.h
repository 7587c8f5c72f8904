// How a producer compresses its batches (ProducerOptions::compression).
//
// A batch of records that send_batch() claims together is compressed as one
// block before it is written, and its frame names the codec
// (doc/log_format.md, "Batch frame"); consumers decompress it transparently.
// A record sent alone (send(), reserve(), a send_batch() of one) is never
// compressed: as in Kafka, compression pays across the records of a batch.
#pragma once

#include <cstdint>
#include <string_view>

namespace rill {

// The values are the batch frame's codec bits (attributes bits 0-2), as in
// Kafka's record batch v2.
enum class Compression : std::uint8_t {
  kNone = 0,
  kGzip = 1,    // DEFLATE in a gzip wrapper (zlib), level 6, as Kafka's gzip
  kSnappy = 2,  // raw snappy (no framing)
  kLz4 = 3,     // the LZ4 frame format (lz4frame.h), 64 KiB independent blocks, fast level
  kZstd = 4,    // one zstd frame, level 3 (zstd's default)
};

// "none", "gzip", "snappy", "lz4" or "zstd"; "unknown" for any other value.
std::string_view compression_name(Compression c) noexcept;
// Parses "none", "gzip", "snappy", "lz4" or "zstd" into *out. Returns false
// (leaving *out as it was) for anything else.
bool parse_compression(std::string_view text, Compression* out) noexcept;

}  // namespace rill
