// The batch codecs on their own: every codec round-trips empty input, one
// byte, incompressible bytes and a megabyte of JSON-like records; and
// decompression of hostile bytes - truncated at every length, bit-flipped,
// random, with trailing bytes, a declared size too small or too large, a bomb
// far larger than its batch declares - is an error (kCorrupt), never a read
// or write outside the buffers. Every buffer is a heap block of exactly its
// size, so AddressSanitizer (label fuzz) reports any byte touched beyond.
#include "core/format/codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/json_records.h"
#include "support/test_scale.h"

namespace rill::format {
namespace {

constexpr Compression kCodecs[] = {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd};

std::string codec_name(const ::testing::TestParamInfo<Compression>& info) {
  return std::string(compression_name(info.param));
}

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> v(s.size());
  if (!s.empty()) std::memcpy(v.data(), s.data(), s.size());
  return v;
}

std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

std::vector<std::byte> json(std::size_t at_least) {
  bench::JsonRecords gen;
  std::string s;
  while (s.size() < at_least) s += gen.next() + "\n";
  return bytes_of(s);
}

// `in` compressed, in a buffer of exactly its compressed size.
std::vector<std::byte> compressed(Compressor& c, Compression codec, const std::vector<std::byte>& in) {
  std::vector<std::byte> out(max_compressed_bytes(codec, in.size()));
  auto n = c.compress(codec, in, out);
  EXPECT_TRUE(n.is_ok()) << n.status().to_string();
  if (!n) return {};
  EXPECT_LE(*n, out.size());
  return std::vector<std::byte>(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*n));
}

// Decompresses `in` into a heap buffer of exactly `size` bytes; *out gets it.
Status decompress(Decompressor& d, Compression codec, const std::vector<std::byte>& in, std::size_t size,
                  std::vector<std::byte>* out = nullptr) {
  std::vector<std::byte> buffer(size);
  // An exact copy of the input too: a read past its end is a heap overflow.
  const std::vector<std::byte> input(in.begin(), in.end());
  Status s = d.decompress(codec, input, buffer);
  if (out != nullptr) *out = std::move(buffer);
  return s;
}

class Codec : public ::testing::TestWithParam<Compression> {
 protected:
  Compressor compressor_;
  Decompressor decompressor_;
};

TEST_P(Codec, RoundTripsEmptyOneByteIncompressibleAndJson) {
  const Compression codec = GetParam();
  struct Case {
    const char* what;
    std::vector<std::byte> bytes;
  };
  const Case cases[] = {
      {"empty", {}},
      {"one byte", bytes_of("x")},
      {"64 KiB of random bytes", random_bytes(64 << 10, 7)},
      {"1 MiB of JSON-like records", json(1 << 20)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::vector<std::byte> packed = compressed(compressor_, codec, c.bytes);
    ASSERT_FALSE(packed.empty()) << "every codec's stream has a header, even for no bytes";
    std::vector<std::byte> back;
    ASSERT_TRUE(decompress(decompressor_, codec, packed, c.bytes.size(), &back).is_ok());
    EXPECT_TRUE(back == c.bytes);
  }
  // Records of an event stream compress well; random bytes do not.
  const std::vector<std::byte> records = json(1 << 20);
  EXPECT_LT(compressed(compressor_, codec, records).size(), records.size() / 3);
  const std::vector<std::byte> noise = random_bytes(64 << 10, 8);
  EXPECT_GE(compressed(compressor_, codec, noise).size(), noise.size());
}

TEST_P(Codec, ReusedContextsServeManySizesAndSurviveErrors) {
  const Compression codec = GetParam();
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200; ++i) {
    const std::size_t n = rng() % (i % 10 == 0 ? 300'000 : 3000);
    const std::vector<std::byte> in = i % 3 == 0 ? random_bytes(n, rng()) : json(n);
    const std::vector<std::byte> packed = compressed(compressor_, codec, in);
    if (i % 4 == 1) {  // a failure between two good streams leaves nothing behind
      std::vector<std::byte> cut(packed.begin(), packed.begin() + static_cast<std::ptrdiff_t>(packed.size() / 2));
      EXPECT_EQ(decompress(decompressor_, codec, cut, in.size()).code(), Code::kCorrupt);
    }
    std::vector<std::byte> back;
    ASSERT_TRUE(decompress(decompressor_, codec, packed, in.size(), &back).is_ok()) << n << " bytes";
    ASSERT_TRUE(back == in);
  }
}

TEST_P(Codec, EveryTruncationIsAnError) {
  const Compression codec = GetParam();
  for (const std::vector<std::byte>& in : {json(300), random_bytes(100, 3), std::vector<std::byte>{}}) {
    const std::vector<std::byte> packed = compressed(compressor_, codec, in);
    for (std::size_t len = 0; len < packed.size(); ++len) {
      const std::vector<std::byte> cut(packed.begin(), packed.begin() + static_cast<std::ptrdiff_t>(len));
      const Status s = decompress(decompressor_, codec, cut, in.size());
      EXPECT_EQ(s.code(), Code::kCorrupt) << "cut to " << len << " of " << packed.size() << " bytes";
      EXPECT_NE(s.message().find(compression_name(codec)), std::string::npos) << s.message();
    }
    // The whole stream still decompresses after all those failures.
    EXPECT_TRUE(decompress(decompressor_, codec, packed, in.size()).is_ok());
  }
}

TEST_P(Codec, ADeclaredSizeTooSmallOrTooLargeIsAnError) {
  const Compression codec = GetParam();
  const std::vector<std::byte> in = json(5000);
  const std::vector<std::byte> packed = compressed(compressor_, codec, in);
  for (std::size_t size : {in.size() - 1, in.size() / 2, std::size_t{0}}) {
    const Status s = decompress(decompressor_, codec, packed, size);
    EXPECT_EQ(s.code(), Code::kCorrupt) << size;
  }
  for (std::size_t size : {in.size() + 1, in.size() * 2}) {
    const Status s = decompress(decompressor_, codec, packed, size);
    EXPECT_EQ(s.code(), Code::kCorrupt) << size;
  }
  // What the messages say, where the codec itself can tell.
  if (codec != Compression::kSnappy && codec != Compression::kLz4) {
    EXPECT_NE(decompress(decompressor_, codec, packed, in.size() - 1).message().find("more than"), std::string::npos);
  }
  if (codec == Compression::kGzip || codec == Compression::kZstd) {
    EXPECT_NE(decompress(decompressor_, codec, packed, in.size() + 1).message().find("not the"), std::string::npos);
  }
}

TEST_P(Codec, ABombLargerThanItsBatchDeclaresIsStoppedAtTheDeclaredSize) {
  const Compression codec = GetParam();
  // 16 MiB of zeros: a stream of a few KiB at most.
  const std::vector<std::byte> zeros(16 << 20);
  const std::vector<std::byte> bomb = compressed(compressor_, codec, zeros);
  ASSERT_LT(bomb.size(), zeros.size() / 20);
  for (std::size_t declared : {std::size_t{0}, std::size_t{100}, std::size_t{1} << 20}) {
    const Status s = decompress(decompressor_, codec, bomb, declared);
    EXPECT_EQ(s.code(), Code::kCorrupt) << declared;
  }
}

// A batch frame takes at least 4 bytes a record in the ring: a stream
// shorter than that is followed by zero bytes. Those, and only those, may
// follow it.
TEST_P(Codec, ZeroPaddingMayFollowTheStreamAndNothingElse) {
  const Compression codec = GetParam();
  for (const std::vector<std::byte>& in : {json(2000), random_bytes(300, 9), std::vector<std::byte>{}}) {
    const std::vector<std::byte> packed = compressed(compressor_, codec, in);
    for (std::size_t pad : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{5000}}) {
      std::vector<std::byte> padded(packed.size() + pad);  // zero-filled
      std::copy(packed.begin(), packed.end(), padded.begin());
      std::vector<std::byte> back;
      ASSERT_TRUE(decompress(decompressor_, codec, padded, in.size(), &back).is_ok()) << pad << " zero bytes";
      EXPECT_TRUE(back == in);
      padded.back() = std::byte{1};
      const Status s = decompress(decompressor_, codec, padded, in.size());
      EXPECT_EQ(s.code(), Code::kCorrupt) << "padding ending in a non-zero byte, " << pad;
      EXPECT_NE(s.message().find("after the end of its stream"), std::string::npos) << s.message();
    }
    std::vector<std::byte> longer = packed;
    longer.push_back(std::byte{0x42});
    EXPECT_EQ(decompress(decompressor_, codec, longer, in.size()).code(), Code::kCorrupt);
    // Two streams back to back are one too many (even for zstd, whose own
    // format would take the frames as one stream) - but for snappy's empty
    // stream, one zero byte, whose second copy is padding.
    if (codec == Compression::kSnappy && in.empty()) continue;
    std::vector<std::byte> twice = packed;
    twice.insert(twice.end(), packed.begin(), packed.end());
    EXPECT_EQ(decompress(decompressor_, codec, twice, in.size()).code(), Code::kCorrupt);
    EXPECT_EQ(decompress(decompressor_, codec, twice, 2 * in.size()).code(), Code::kCorrupt);
  }
}

TEST_P(Codec, BitFlipsAreErrorsOrBytesOfTheDeclaredSize) {
  const Compression codec = GetParam();
  std::mt19937_64 rng(static_cast<std::uint64_t>(codec) * 977);
  const std::int64_t rounds = testing::scaled(3000, 100);
  std::int64_t refused = 0, same = 0;
  for (std::int64_t round = 0; round < rounds; ++round) {
    const std::vector<std::byte> in = round % 2 ? json(200 + rng() % 4000) : random_bytes(rng() % 600, rng());
    std::vector<std::byte> packed = compressed(compressor_, codec, in);
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) packed[rng() % packed.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
    std::vector<std::byte> back;
    const Status s = decompress(decompressor_, codec, packed, in.size(), &back);
    if (s.is_ok()) {
      // Not every flip is detectable (snappy and these LZ4 frames carry no
      // checksum of their own: the batch frame's checksum covers them).
      ASSERT_EQ(back.size(), in.size());
      same += back == in;
    } else {
      ASSERT_EQ(s.code(), Code::kCorrupt) << s.to_string();
      ++refused;
    }
  }
  EXPECT_GT(refused, rounds / 10) << "most damage must be noticed";
  (void)same;
}

TEST_P(Codec, RandomBytesAreErrorsNeverOverruns) {
  const Compression codec = GetParam();
  std::mt19937_64 rng(static_cast<std::uint64_t>(codec) * 31337);
  const std::int64_t rounds = testing::scaled(5000, 200);
  // Streams that start as the codec's do, so that the decoder gets past its header.
  const std::vector<std::byte> real = compressed(compressor_, codec, json(3000));
  for (std::int64_t round = 0; round < rounds; ++round) {
    std::vector<std::byte> in = random_bytes(rng() % 512, rng());
    if (round % 2 == 0) {
      const std::size_t keep = std::min<std::size_t>(real.size(), rng() % 24);
      for (std::size_t i = 0; i < keep && i < in.size(); ++i) in[i] = real[i];
    }
    const std::size_t out = rng() % 5000;
    const Status s = decompress(decompressor_, codec, in, out);
    if (!s.is_ok()) {
      ASSERT_EQ(s.code(), Code::kCorrupt) << s.to_string();
    }
  }
  // And the decoder is still sound.
  EXPECT_TRUE(decompress(decompressor_, codec, real, json(3000).size()).is_ok());
}

INSTANTIATE_TEST_SUITE_P(Codecs, Codec, ::testing::ValuesIn(kCodecs), codec_name);

TEST(CodecNames, ParseAndNameRoundTrip) {
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kSnappy, Compression::kLz4,
                        Compression::kZstd}) {
    Compression parsed = Compression::kGzip;
    ASSERT_TRUE(parse_compression(compression_name(c), &parsed)) << compression_name(c);
    EXPECT_EQ(parsed, c);
  }
  Compression unchanged = Compression::kLz4;
  for (const char* bad : {"", "GZIP", "zstd ", "lz4hc", "brotli", "1"}) {
    EXPECT_FALSE(parse_compression(bad, &unchanged)) << bad;
    EXPECT_EQ(unchanged, Compression::kLz4);
  }
  EXPECT_EQ(compression_name(static_cast<Compression>(5)), "unknown");
}

TEST(CodecNames, NoneAndUnknownCodecsAreRefused) {
  Compressor c;
  Decompressor d;
  std::vector<std::byte> in(10), out(100);
  for (Compression bad : {Compression::kNone, static_cast<Compression>(5), static_cast<Compression>(7)}) {
    EXPECT_EQ(c.compress(bad, in, out).status().code(), Code::kInvalidArgument);
    EXPECT_EQ(d.decompress(bad, in, out).code(), Code::kInvalidArgument);
    EXPECT_EQ(max_compressed_bytes(bad, 1234), 1234u);
    EXPECT_FALSE(is_codec(bad));
  }
}

TEST(CodecNames, AnOutputBufferBelowTheBoundIsRefusedNotOverrun) {
  Compressor c;
  const std::vector<std::byte> in = random_bytes(1000, 5);
  for (Compression codec : kCodecs) {
    std::vector<std::byte> out(max_compressed_bytes(codec, in.size()) - 1);
    EXPECT_EQ(c.compress(codec, in, out).status().code(), Code::kResourceExhausted) << compression_name(codec);
  }
}

}  // namespace
}  // namespace rill::format
