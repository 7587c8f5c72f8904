#include "core/format/codec.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <climits>
#include <new>
#include <string>

namespace rill {

std::string_view compression_name(Compression c) noexcept {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kGzip: return "gzip";
    case Compression::kSnappy: return "snappy";
    case Compression::kLz4: return "lz4";
    case Compression::kZstd: return "zstd";
  }
  return "unknown";
}

bool parse_compression(std::string_view text, Compression* out) noexcept {
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kSnappy, Compression::kLz4,
                        Compression::kZstd}) {
    if (text == compression_name(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

namespace format {
namespace {

// Levels: zlib's default (6, Kafka's gzip level), LZ4's fast mode, zstd's default (3).
constexpr int kGzipLevel = Z_DEFAULT_COMPRESSION;
constexpr int kZstdLevel = 3;
// gzip wrapper, 32 KiB window: windowBits 15, + 16 for gzip instead of zlib.
constexpr int kGzipWindowBits = 15 + 16;
constexpr int kZlibMemLevel = 8;

// One LZ4 frame: 64 KiB independent blocks (the smallest, so a reader's
// context needs the least memory), the content size in the header (the
// reader checks it), no content checksum (the batch frame has one), flushed
// at once (no internal buffer for a whole-input update).
LZ4F_preferences_t lz4_preferences(std::size_t content_size) noexcept {
  LZ4F_preferences_t p{};
  p.frameInfo.blockSizeID = LZ4F_max64KB;
  p.frameInfo.blockMode = LZ4F_blockIndependent;
  p.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
  p.frameInfo.frameType = LZ4F_frame;
  p.frameInfo.contentSize = content_size;
  p.frameInfo.dictID = 0;
  p.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
  p.compressionLevel = 0;
  p.autoFlush = 1;
  p.favorDecSpeed = 0;
  return p;
}

// Libraries want a non-null pointer even for zero bytes.
std::byte g_empty_byte;
void* writable(std::span<std::byte> s) noexcept { return s.empty() ? &g_empty_byte : s.data(); }
const void* readable(std::span<const std::byte> s) noexcept { return s.empty() ? &g_empty_byte : s.data(); }

std::string name_of(Compression c) { return std::string(compression_name(c)); }

Status not_a_codec(Compression c) {
  return Status(Code::kInvalidArgument,
                "compression codec " + std::to_string(static_cast<unsigned>(c)) + " is not gzip, snappy, lz4 or zstd");
}
Status corrupt(Compression c, const std::string& why) {
  return Status(Code::kCorrupt, name_of(c) + " data " + why);
}
Status too_much(Compression c, std::size_t expected) {
  return corrupt(c, "decompresses to more than the " + std::to_string(expected) + " bytes its batch declares");
}
Status too_little(Compression c, std::size_t got, std::size_t expected) {
  return corrupt(c, "decompresses to " + std::to_string(got) + " bytes, not the " + std::to_string(expected) +
                        " bytes its batch declares");
}
// What follows the stream must be padding: zero bytes, or none.
Status after_stream(Compression c, std::span<const std::byte> rest) {
  for (std::byte b : rest)
    if (b != std::byte{0})
      return corrupt(c, "has " + std::to_string(rest.size()) + " bytes after the end of its stream, not all zero");
  return Status::ok();
}
Status no_context(Compression c) {
  return Status(Code::kResourceExhausted, name_of(c) + ": out of memory for the library's context");
}

}  // namespace

std::size_t max_compressed_bytes(Compression codec, std::size_t n) noexcept {
  switch (codec) {
    // compressBound() counts the 6 bytes of a zlib wrapper; a gzip wrapper
    // without name or comment takes 18.
    case Compression::kGzip: return compressBound(static_cast<uLong>(n)) + 18;
    case Compression::kSnappy: return snappy_max_compressed_length(n);
    case Compression::kLz4: {
      const LZ4F_preferences_t p = lz4_preferences(n);
      return LZ4F_compressFrameBound(n, &p);
    }
    case Compression::kZstd: return ZSTD_compressBound(n);
    case Compression::kNone: break;
  }
  return n;
}

// ------------------------------------------------------------------ Compressor

struct Compressor::Contexts {
  z_stream gzip{};  // heap-held (zlib's state points back at it): never moved
  bool gzip_ready = false;
  LZ4F_cctx* lz4 = nullptr;
  ZSTD_CCtx* zstd = nullptr;

  ~Contexts() {
    if (gzip_ready) deflateEnd(&gzip);
    if (lz4 != nullptr) LZ4F_freeCompressionContext(lz4);
    ZSTD_freeCCtx(zstd);
  }
};

Compressor::Compressor() noexcept = default;
Compressor::~Compressor() = default;
Compressor::Compressor(Compressor&& other) noexcept = default;
Compressor& Compressor::operator=(Compressor&& other) noexcept = default;

Result<std::size_t> Compressor::compress(Compression codec, std::span<const std::byte> in,
                                         std::span<std::byte> out) noexcept {
  if (!is_codec(codec)) return not_a_codec(codec);
  if (!contexts_) {
    contexts_.reset(new (std::nothrow) Contexts);
    if (!contexts_) return no_context(codec);
  }
  Contexts& x = *contexts_;
  if (out.size() < max_compressed_bytes(codec, in.size()))
    return Status(Code::kResourceExhausted, name_of(codec) + ": an output buffer of " + std::to_string(out.size()) +
                                                " bytes may be too small for " + std::to_string(in.size()) +
                                                " bytes of input (give max_compressed_bytes())");
  switch (codec) {
    case Compression::kGzip: {
      if (in.size() > UINT_MAX || out.size() > UINT_MAX)
        return Status(Code::kInvalidArgument, "gzip: at most 4 GiB at a time");
      z_stream& z = x.gzip;
      if (!x.gzip_ready) {
        if (deflateInit2(&z, kGzipLevel, Z_DEFLATED, kGzipWindowBits, kZlibMemLevel, Z_DEFAULT_STRATEGY) != Z_OK)
          return no_context(codec);
        x.gzip_ready = true;
      } else if (deflateReset(&z) != Z_OK) {
        return Status(Code::kInternal, "gzip: deflateReset failed");
      }
      z.next_in = static_cast<Bytef*>(const_cast<void*>(readable(in)));  // zlib's API is not const-correct
      z.avail_in = static_cast<uInt>(in.size());
      z.next_out = static_cast<Bytef*>(writable(out));
      z.avail_out = static_cast<uInt>(out.size());
      const int r = deflate(&z, Z_FINISH);
      if (r != Z_STREAM_END)
        return Status(Code::kInternal, "gzip: deflate failed (" + std::to_string(r) + ")");
      return static_cast<std::size_t>(z.total_out);
    }
    case Compression::kSnappy: {
      std::size_t n = out.size();
      if (snappy_compress(static_cast<const char*>(readable(in)), in.size(), static_cast<char*>(writable(out)), &n) !=
          SNAPPY_OK)
        return Status(Code::kInternal, "snappy: compression failed");
      return n;
    }
    case Compression::kLz4: {
      if (x.lz4 == nullptr && LZ4F_isError(LZ4F_createCompressionContext(&x.lz4, LZ4F_VERSION))) {
        x.lz4 = nullptr;
        return no_context(codec);
      }
      const LZ4F_preferences_t p = lz4_preferences(in.size());
      auto* dst = static_cast<char*>(writable(out));
      std::size_t done = LZ4F_compressBegin(x.lz4, dst, out.size(), &p);
      if (LZ4F_isError(done)) return Status(Code::kInternal, std::string("lz4: ") + LZ4F_getErrorName(done));
      if (!in.empty()) {
        const std::size_t n = LZ4F_compressUpdate(x.lz4, dst + done, out.size() - done, in.data(), in.size(), nullptr);
        if (LZ4F_isError(n)) return Status(Code::kInternal, std::string("lz4: ") + LZ4F_getErrorName(n));
        done += n;
      }
      const std::size_t end = LZ4F_compressEnd(x.lz4, dst + done, out.size() - done, nullptr);
      if (LZ4F_isError(end)) return Status(Code::kInternal, std::string("lz4: ") + LZ4F_getErrorName(end));
      return done + end;
    }
    case Compression::kZstd: {
      if (x.zstd == nullptr && (x.zstd = ZSTD_createCCtx()) == nullptr) return no_context(codec);
      const std::size_t n = ZSTD_compressCCtx(x.zstd, writable(out), out.size(), readable(in), in.size(), kZstdLevel);
      if (ZSTD_isError(n)) return Status(Code::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));
      return n;
    }
    case Compression::kNone: break;
  }
  return not_a_codec(codec);
}

// ---------------------------------------------------------------- Decompressor

struct Decompressor::Contexts {
  z_stream gzip{};  // as Compressor's: never moved
  bool gzip_ready = false;
  LZ4F_dctx* lz4 = nullptr;
  ZSTD_DCtx* zstd = nullptr;

  ~Contexts() {
    if (gzip_ready) inflateEnd(&gzip);
    if (lz4 != nullptr) LZ4F_freeDecompressionContext(lz4);
    ZSTD_freeDCtx(zstd);
  }
};

Decompressor::Decompressor() noexcept = default;
Decompressor::~Decompressor() = default;
Decompressor::Decompressor(Decompressor&& other) noexcept = default;
Decompressor& Decompressor::operator=(Decompressor&& other) noexcept = default;

namespace {

Status inflate_gzip(z_stream& z, std::span<const std::byte> in, std::span<std::byte> out) {
  constexpr Compression c = Compression::kGzip;
  if (in.size() > UINT_MAX || out.size() > UINT_MAX) return corrupt(c, "is larger than 4 GiB");
  z.next_in = static_cast<Bytef*>(const_cast<void*>(readable(in)));  // zlib's API is not const-correct
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = static_cast<Bytef*>(writable(out));
  z.avail_out = static_cast<uInt>(out.size());
  // One call: zlib stops when the output is full, so it never writes past out.
  const int r = inflate(&z, Z_FINISH);
  const std::size_t produced = out.size() - z.avail_out;
  if (r == Z_STREAM_END) {
    if (produced != out.size()) return too_little(c, produced, out.size());
    return after_stream(c, in.subspan(in.size() - z.avail_in));
  }
  if (r == Z_DATA_ERROR || r == Z_NEED_DICT)
    return corrupt(c, std::string("is damaged (") + (z.msg != nullptr ? z.msg : "invalid deflate stream") + ")");
  if (r == Z_MEM_ERROR) return no_context(c);
  // Z_BUF_ERROR (or Z_OK): it wants more room or more input.
  if (z.avail_out == 0) return too_much(c, out.size());
  return corrupt(c, "is truncated (the stream ends after " + std::to_string(in.size()) + " bytes, unfinished)");
}

// Where the raw snappy stream at the front of `in` ends: after its
// preamble (a varint of the bytes it makes) and the elements that make them
// - literals and copies, whose lengths its tags give. 0 if an element runs
// past `in` or the elements overshoot. Only a walk of the lengths: snappy's
// decoder checks the stream itself (offsets, output bounds) afterwards. Raw
// snappy marks no end, and a batch's stream may be followed by padding.
std::size_t snappy_stream_bytes(std::span<const std::byte> in) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t at = 0;
  std::uint64_t want = 0;
  for (int shift = 0;; shift += 7) {  // at most 5 bytes: a 32-bit length
    if (at == n || shift > 28) return 0;
    const unsigned b = p[at++];
    want |= std::uint64_t{b & 0x7Fu} << shift;
    if (b < 0x80) break;
  }
  std::uint64_t made = 0;
  while (made < want) {
    if (at == n) return 0;
    const unsigned tag = p[at++];
    std::uint64_t length = (tag >> 2) + 1;
    switch (tag & 3) {
      case 0:  // a literal: length - 1 in the tag, or (60-63) in the next 1-4 bytes; then its bytes
        if ((tag >> 2) >= 60) {
          const unsigned bytes = (tag >> 2) - 59;
          if (n - at < bytes) return 0;
          length = 0;
          for (unsigned i = 0; i < bytes; ++i) length |= std::uint64_t{p[at + i]} << (8 * i);
          length += 1;
          at += bytes;
        }
        if (n - at < length) return 0;
        at += static_cast<std::size_t>(length);
        break;
      case 1:  // a copy, 1 byte of offset (and 3 bits of it in the tag)
        length = ((tag >> 2) & 7) + 4;
        at += 1;
        break;
      case 2: at += 2; break;   // a copy, 2 bytes of offset
      default: at += 4; break;  // a copy, 4 bytes of offset
    }
    if (at > n) return 0;
    made += length;
  }
  return made == want ? at : 0;
}

Status inflate_snappy(std::span<const std::byte> in, std::span<std::byte> out) {
  constexpr Compression c = Compression::kSnappy;
  const auto* src = static_cast<const char*>(readable(in));
  std::size_t declared = 0;
  if (snappy_uncompressed_length(src, in.size(), &declared) != SNAPPY_OK)
    return corrupt(c, "is damaged (its length prefix does not parse)");
  if (declared != out.size())
    return corrupt(c, "declares " + std::to_string(declared) + " bytes, not the " + std::to_string(out.size()) +
                          " bytes its batch declares");
  // snappy checks every copy against the output's end. Most batches carry
  // no padding: the whole input first; the walk to the stream's end (a tenth
  // of a decompression) only if that fails.
  std::size_t n = out.size();
  if (snappy_uncompress(src, in.size(), static_cast<char*>(writable(out)), &n) == SNAPPY_OK) {
    if (n != out.size()) return too_little(c, n, out.size());
    return Status::ok();
  }
  const std::size_t stream = snappy_stream_bytes(in);
  if (stream == 0) return corrupt(c, "is damaged or truncated (its elements do not end within its bytes)");
  if (stream == in.size()) return corrupt(c, "is damaged");
  n = out.size();
  if (snappy_uncompress(src, stream, static_cast<char*>(writable(out)), &n) != SNAPPY_OK)
    return corrupt(c, "is damaged or truncated");
  if (n != out.size()) return too_little(c, n, out.size());
  return after_stream(c, in.subspan(stream));
}

Status inflate_lz4(LZ4F_dctx* dctx, std::span<const std::byte> in, std::span<std::byte> out) {
  constexpr Compression c = Compression::kLz4;
  LZ4F_resetDecompressionContext(dctx);
  LZ4F_decompressOptions_t options{};
  options.stableDst = 1;  // `out` stays put across the calls below
  options.skipChecksums = 0;
  options.reserved1 = 0;
  options.reserved0 = 0;
  auto* dst = static_cast<char*>(writable(out));
  const auto* src = static_cast<const char*>(readable(in));
  std::size_t in_at = 0, out_at = 0;
  for (;;) {
    std::size_t src_bytes = in.size() - in_at, dst_bytes = out.size() - out_at;
    const std::size_t hint = LZ4F_decompress(dctx, dst + out_at, &dst_bytes, src + in_at, &src_bytes, &options);
    if (LZ4F_isError(hint)) {
      LZ4F_resetDecompressionContext(dctx);
      return corrupt(c, std::string("is damaged (") + LZ4F_getErrorName(hint) + ")");
    }
    in_at += src_bytes;
    out_at += dst_bytes;
    if (hint == 0) break;  // the frame is complete
    if (src_bytes == 0 && dst_bytes == 0) {
      // No progress: out of output (more is coming) or out of input.
      LZ4F_resetDecompressionContext(dctx);
      if (out_at == out.size() && in_at < in.size()) return too_much(c, out.size());
      if (out_at == out.size()) return corrupt(c, "is truncated, or decompresses to more than the " +
                                                      std::to_string(out.size()) + " bytes its batch declares");
      return corrupt(c, "is truncated (the frame ends after " + std::to_string(in.size()) + " bytes, unfinished)");
    }
  }
  if (out_at != out.size()) return too_little(c, out_at, out.size());
  return after_stream(c, in.subspan(in_at));
}

Status inflate_zstd(ZSTD_DCtx* dctx, std::span<const std::byte> in, std::span<std::byte> out) {
  constexpr Compression c = Compression::kZstd;
  // The first frame (zstd would take frames back to back; a batch holds one).
  const std::size_t frame = ZSTD_findFrameCompressedSize(readable(in), in.size());
  if (ZSTD_isError(frame)) return corrupt(c, std::string("is damaged or truncated (") + ZSTD_getErrorName(frame) + ")");
  // One shot: zstd decodes straight into `out` (no window buffer of the
  // frame's declared size) and checks every write against its end.
  const std::size_t n = ZSTD_decompressDCtx(dctx, writable(out), out.size(), readable(in), frame);
  if (ZSTD_isError(n)) {
    if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall) return too_much(c, out.size());
    return corrupt(c, std::string("is damaged or truncated (") + ZSTD_getErrorName(n) + ")");
  }
  if (n != out.size()) return too_little(c, n, out.size());
  return after_stream(c, in.subspan(frame));
}

}  // namespace

Status Decompressor::decompress(Compression codec, std::span<const std::byte> in, std::span<std::byte> out) noexcept {
  if (!is_codec(codec)) return not_a_codec(codec);
  // Every codec's stream has a header, even for no bytes (zstd alone would
  // take zero frames for zero bytes).
  if (in.empty()) return corrupt(codec, "is empty (no stream at all)");
  if (!contexts_) {
    contexts_.reset(new (std::nothrow) Contexts);
    if (!contexts_) return no_context(codec);
  }
  Contexts& x = *contexts_;
  switch (codec) {
    case Compression::kGzip:
      if (!x.gzip_ready) {
        if (inflateInit2(&x.gzip, kGzipWindowBits) != Z_OK) return no_context(codec);
        x.gzip_ready = true;
      } else if (inflateReset(&x.gzip) != Z_OK) {
        return Status(Code::kInternal, "gzip: inflateReset failed");
      }
      return inflate_gzip(x.gzip, in, out);
    case Compression::kSnappy: return inflate_snappy(in, out);
    case Compression::kLz4:
      if (x.lz4 == nullptr && LZ4F_isError(LZ4F_createDecompressionContext(&x.lz4, LZ4F_VERSION))) {
        x.lz4 = nullptr;
        return no_context(codec);
      }
      return inflate_lz4(x.lz4, in, out);
    case Compression::kZstd:
      if (x.zstd == nullptr && (x.zstd = ZSTD_createDCtx()) == nullptr) return no_context(codec);
      return inflate_zstd(x.zstd, in, out);
    case Compression::kNone: break;
  }
  return not_a_codec(codec);
}

}  // namespace format
}  // namespace rill
