// The compression codecs of batch frames (doc/log_format.md, "Batch frame";
// rill/compression.h names them): gzip (zlib, gzip wrapper), raw snappy, the
// LZ4 frame format and zstd frames, each through its Debian library.
//
// A Compressor and a Decompressor keep their libraries' contexts for reuse
// (a z_stream, an LZ4F context, a ZSTD_CCtx / ZSTD_DCtx), made on the first
// use of each codec: after that, compressing and decompressing allocate
// nothing - except snappy's compressor, whose library allocates its hash
// table on every call (snappy's API offers no way to keep one) - and write
// only into the caller's buffers.
//
// Decompression takes hostile input: bytes from shared memory or a file that
// anyone may have damaged. It writes at most out.size() bytes, allocates at
// most a context's bounded buffers (LZ4 frames: up to 2 x 4 MiB, once), and
// returns kCorrupt, saying what is wrong, unless the input is one sound
// stream of the codec (one gzip member, one LZ4 or zstd frame, a raw snappy
// stream) that decompresses to exactly out.size() bytes, followed by nothing
// or by zero bytes only (padding: a batch frame takes at least 4 bytes a
// record in the ring, see doc/log_format.md): truncated, damaged, a declared
// size other than out.size(), more output than out.size() (a decompression
// bomb) or non-zero bytes after the stream are all errors.
//
// Thread safety: a Compressor or Decompressor is used by one thread at a
// time (its contexts are state). Move-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "rill/compression.h"
#include "rill/status.h"

namespace rill::format {

// True for kGzip, kSnappy, kLz4 and kZstd: the codecs a batch may name.
constexpr bool is_codec(Compression c) noexcept {
  return c == Compression::kGzip || c == Compression::kSnappy || c == Compression::kLz4 || c == Compression::kZstd;
}

// The most bytes Compressor::compress() writes for `n` bytes of input with
// `codec` (n for kNone and for a value that is not a codec): an output
// buffer this large never makes it fail for want of room.
std::size_t max_compressed_bytes(Compression codec, std::size_t n) noexcept;

class Compressor {
 public:
  Compressor() noexcept;
  ~Compressor();
  Compressor(Compressor&& other) noexcept;
  Compressor& operator=(Compressor&& other) noexcept;
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  // Compresses `in` with `codec` into the front of `out`; returns how many
  // bytes it wrote. kInvalidArgument if `codec` is not a codec (is_codec());
  // kResourceExhausted if `out` is too small (give it
  // max_compressed_bytes()) or the library could not allocate its context;
  // kInternal if the library fails otherwise.
  Result<std::size_t> compress(Compression codec, std::span<const std::byte> in, std::span<std::byte> out) noexcept;

 private:
  struct Contexts;
  std::unique_ptr<Contexts> contexts_;  // made on the first compress()
};

class Decompressor {
 public:
  Decompressor() noexcept;
  ~Decompressor();
  Decompressor(Decompressor&& other) noexcept;
  Decompressor& operator=(Decompressor&& other) noexcept;
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // Decompresses `in`, one stream of `codec` and any zero padding, into all
  // of `out`: OK only if it holds exactly out.size() bytes (see the file
  // comment). kCorrupt,
  // naming the codec and what is wrong, otherwise; kInvalidArgument if
  // `codec` is not a codec; kResourceExhausted if the library could not
  // allocate its context. `out` may have been written (up to its end) on
  // failure.
  Status decompress(Compression codec, std::span<const std::byte> in, std::span<std::byte> out) noexcept;

 private:
  struct Contexts;
  std::unique_ptr<Contexts> contexts_;  // made on the first decompress()
};

}  // namespace rill::format
