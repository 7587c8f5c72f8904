// The v4 frame codec on its own: every record size and batch size round-trips
// through encode and decode, and the decoder survives hostile frames - random
// mutations of sound ones, varints that overflow, counts and lengths past the
// frame - without reading outside it (each frame sits alone in a heap buffer
// of exactly its size, so AddressSanitizer reports any byte read beyond).
#include "core/log/frame_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "support/frames.h"
#include "support/test_scale.h"

namespace rill::log {
namespace {

constexpr std::size_t kSizes[] = {0, 1, 8, 32, 64, 256, 1024, 4096};

std::string value_of(std::size_t size, int seed) {
  std::string v(size, '\0');
  for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<char>('a' + (i * 7 + static_cast<std::size_t>(seed)) % 26);
  return v;
}

struct Rec {
  std::optional<std::string> key;
  std::string value;
  std::int64_t timestamp;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

// Encodes `records` as one batch frame from offset `base` (or a record frame
// if there is one record), exactly as Producer::send_batch does.
std::vector<std::byte> encode(const std::vector<Rec>& records, std::int64_t base, std::uint64_t* word) {
  std::vector<std::vector<Header>> headers(records.size());
  for (std::size_t i = 0; i < records.size(); ++i)
    for (const auto& [k, v] : records[i].headers)
      headers[i].push_back(Header{k, v ? std::optional<std::string_view>(*v) : std::nullopt});
  const auto key = [&](std::size_t i) {
    return records[i].key ? std::optional<std::string_view>(*records[i].key) : std::nullopt;
  };
  if (records.size() == 1) {
    std::vector<std::byte> frame(test::record_size(records[0].value.size(), key(0), headers[0]));
    *word = test::encode_record(frame.data(), base, records[0].timestamp, key(0), records[0].value, headers[0]);
    std::memcpy(frame.data(), word, sizeof *word);  // as the ring's commit stores it
    return frame;
  }
  const std::int64_t base_ts = records[0].timestamp;
  // As Producer::send_batch: timestamps differ modulo 2^64 (no signed overflow).
  const auto delta = [&](std::size_t i) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(records[i].timestamp) - static_cast<std::uint64_t>(base_ts));
  };
  std::uint64_t size = kBatchHeaderSize;
  std::int64_t max_ts = base_ts;
  for (std::size_t i = 0; i < records.size(); ++i) {
    size += batch_record_size(delta(i), key(i), records[i].value.size(),
                              header_block_size(headers[i]));
    max_ts = std::max(max_ts, records[i].timestamp);
  }
  std::vector<std::byte> frame(size);
  std::byte* at = frame.data() + kBatchHeaderSize;
  for (std::size_t i = 0; i < records.size(); ++i)
    at = encode_batch_record(at, delta(i), key(i), records[i].value, headers[i],
                             header_block_size(headers[i]));
  EXPECT_EQ(at, frame.data() + frame.size());
  const std::uint32_t info = encode_batch_header(frame.data(), static_cast<std::uint32_t>(size), base, base_ts, max_ts,
                                                 static_cast<std::uint32_t>(records.size()));
  *word = commit_word_of(frame.data(), info, base);
  std::memcpy(frame.data(), word, sizeof *word);
  return frame;
}

void expect_same(const RecordView& v, const Rec& r, std::int64_t offset) {
  EXPECT_EQ(v.offset(), offset);
  EXPECT_EQ(v.timestamp_ns(), r.timestamp);
  EXPECT_EQ(v.has_key(), r.key.has_value());
  if (r.key) {
    EXPECT_EQ(v.key(), *r.key);
  }
  EXPECT_EQ(v.value(), r.value);
  std::size_t i = 0;
  EXPECT_TRUE(v.for_each_header([&](const HeaderView& h) {
    ASSERT_LT(i, r.headers.size());
    EXPECT_EQ(h.key, r.headers[i].first);
    EXPECT_EQ(h.value.has_value(), r.headers[i].second.has_value());
    if (h.value && r.headers[i].second) {
      EXPECT_EQ(*h.value, *r.headers[i].second);
    }
    ++i;
  }));
  EXPECT_EQ(i, r.headers.size());
  EXPECT_EQ(v.header_count(), r.headers.size());
  EXPECT_TRUE(v.verify_checksum());
}

TEST(FrameCodec, BatchesOfOneTwoAndManyRecordsOfEverySizeRoundTrip) {
  for (std::size_t size : kSizes) {
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{64}, std::size_t{300}}) {
      SCOPED_TRACE(::testing::Message() << n << " records of " << size << " bytes");
      std::vector<Rec> records;
      for (std::size_t i = 0; i < n; ++i) {
        Rec r;
        if (i % 3 == 1) r.key = value_of(i % 17, 1);
        r.value = value_of(size, static_cast<int>(i));
        // Timestamps around the base, either side: zigzag deltas.
        r.timestamp = 1'700'000'000'000'000'000 + static_cast<std::int64_t>(i % 5) * 1000 - 2000;
        if (i % 4 == 2) r.headers = {{"h1", value_of(i % 9, 2)}, {"h2", std::nullopt}};
        records.push_back(std::move(r));
      }
      const std::int64_t base = 1000 + static_cast<std::int64_t>(size);
      std::uint64_t word = 0;
      std::vector<std::byte> frame = encode(records, base, &word);
      EXPECT_EQ(commit_length(word), frame.size());
      EXPECT_EQ(frame_offsets(frame.data(), word, frame.size(), base), n);
      std::vector<RecordView> views(n);
      const Decoded d = decode_frame(frame.data(), word, frame.size(), 5, base, 0, views.data(), n, true);
      ASSERT_EQ(d.check, FrameCheck::kOk);
      ASSERT_EQ(d.views, n);
      EXPECT_EQ(d.offsets, n);
      for (std::size_t i = 0; i < n; ++i) {
        EXPECT_EQ(views[i].partition(), 5);
        expect_same(views[i], records[i], base + static_cast<std::int64_t>(i));
      }
      // Taken a few at a time, as a reader with a small max_poll_records.
      if (n > 1) {
        std::uint32_t inner = 0;
        while (inner < n) {
          RecordView two[2];
          const Decoded part = decode_frame(frame.data(), word, frame.size(), 5, base + inner, inner, two, 2, false);
          ASSERT_EQ(part.check, FrameCheck::kOk);
          ASSERT_EQ(part.offsets, n - inner);
          for (std::uint32_t k = 0; k < part.views; ++k) expect_same(two[k], records[inner + k], base + inner + k);
          inner += part.views;
        }
        // A reader whose offset the batch does not start `inner` records before is corrupt.
        RecordView one[1];
        EXPECT_EQ(decode_frame(frame.data(), word, frame.size(), 5, base + 1, 0, one, 1, false).check,
                  FrameCheck::kMalformed);
        EXPECT_EQ(decode_frame(frame.data(), word, frame.size(), 5, base, static_cast<std::uint32_t>(n), one, 1, false)
                      .check,
                  FrameCheck::kMalformed);
      }
      // The wrong first offset fails the checksum (record frames do not store theirs).
      RecordView one[1];
      if (n == 1) {
        EXPECT_EQ(decode_frame(frame.data(), word, frame.size(), 5, base + 1, 0, one, 1, true).check,
                  FrameCheck::kChecksum);
      }
    }
  }
}

TEST(FrameCodec, OverheadPerRecordIsWithinTheFormatsPromise) {
  // A record frame: at most 16 bytes of header for a small value, no key.
  EXPECT_EQ(test::record_size(48), 64u);
  EXPECT_EQ(test::record_size(64), 80u);
  // A batch of 64 small records: at most 8 bytes of overhead each.
  const std::vector<std::string> values(64, std::string(64, 'v'));
  const std::uint64_t overhead = align_frame(test::batch_size(values)) - 64 * 64;
  EXPECT_LE(overhead, 8u * 64) << overhead / 64.0 << " bytes per record";
}

// A little deterministic generator of hostile bytes.
struct Hostile {
  std::mt19937_64 rng;
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : rng() % n; }
  std::byte byte() {
    static constexpr std::uint8_t kBytes[] = {0x00, 0x01, 0x7F, 0x80, 0x81, 0xFE, 0xFF};
    return below(2) ? static_cast<std::byte>(kBytes[below(std::size(kBytes))]) : static_cast<std::byte>(rng());
  }
};

// Decodes `frame` with `word` as a reader would (every record wanted, and a
// few at a time), touching every byte each view exposes.
std::uint64_t decode_all(const std::vector<std::byte>& frame, std::uint64_t word, std::int64_t offset, bool verify) {
  std::uint64_t sum = 0;
  // The reader's inline path must agree with decode_frame() on every frame it takes.
  RecordView plain, full;
  if (decode_plain_record(frame.data(), word, frame.size(), 0, offset, &plain)) {
    const Decoded f = decode_frame(frame.data(), word, frame.size(), 0, offset, 0, &full, 1, false);
    EXPECT_EQ(f.check, FrameCheck::kOk) << "decode_plain_record() took a frame decode_frame() refuses";
    EXPECT_EQ(f.views, 1u);
    EXPECT_EQ(plain.value(), full.value());
    EXPECT_EQ(plain.offset(), full.offset());
    EXPECT_EQ(plain.timestamp_ns(), full.timestamp_ns());
    EXPECT_EQ(plain.has_key(), full.has_key());
    EXPECT_EQ(plain.header_block(), full.header_block());
    EXPECT_EQ(plain.frame_size(), full.frame_size());
  }
  std::vector<RecordView> views(512);
  const Decoded d = decode_frame(frame.data(), word, frame.size(), 0, offset, 0, views.data(), views.size(), verify);
  if (d.check != FrameCheck::kOk) return 1;
  EXPECT_LE(d.views, d.offsets);
  for (std::uint32_t i = 0; i < d.views; ++i) {
    const RecordView& v = views[i];
    const auto* lo = reinterpret_cast<const char*>(frame.data());
    const char* hi = lo + frame.size();
    for (std::string_view s : {v.key(), v.value(), v.header_block()}) {
      EXPECT_TRUE(s.empty() || (s.data() >= lo && s.data() + s.size() <= hi)) << "a view reaches outside its frame";
      for (char c : s) sum += static_cast<unsigned char>(c);
    }
    (void)v.for_each_header([&](const HeaderView& h) {
      sum += h.key.size();
      if (h.value) sum += h.value->size();
    });
    sum += v.header_count() + v.verify_checksum();
  }
  return sum + frame_offsets(frame.data(), word, frame.size(), offset);
}

TEST(FrameCodec, HostileFramesAreRefusedNeverReadPast) {
  Hostile h{std::mt19937_64(12345)};
  std::uint64_t sum = 0, refused = 0;
  const std::int64_t iterations = testing::scaled(20000);
  for (std::int64_t it = 0; it < iterations; ++it) {
    // A sound frame: a record or a batch of up to 40 small records.
    std::vector<Rec> records(1 + h.below(h.below(2) ? 1 : 40));
    for (Rec& r : records) {
      if (h.below(3) == 0) r.key = value_of(h.below(12), 3);
      r.value = value_of(h.below(80), 4);
      r.timestamp = static_cast<std::int64_t>(h.rng());
      if (h.below(4) == 0) r.headers = {{value_of(h.below(5), 5), std::nullopt}, {"k", value_of(h.below(7), 6)}};
    }
    const std::int64_t base = static_cast<std::int64_t>(h.below(1ull << 40));
    std::uint64_t word = 0;
    std::vector<std::byte> frame = encode(records, base, &word);
    // Damage: bytes anywhere (the header's counts and lengths, the varints),
    // the commit word's length or kind, or the frame cut short.
    switch (h.below(6)) {
      case 0:
      case 1:
        for (std::uint64_t k = 0, n = 1 + h.below(6); k < n; ++k) frame[8 + h.below(frame.size() - 8)] = h.byte();
        break;
      case 2:  // the varints right after the header
        for (std::size_t k = 0; k < 12 && k + 16 < frame.size(); ++k)
          if (h.below(2)) frame[(commit_kind(word) == kKindBatch ? kBatchHeaderSize : kRecordHeaderSize) + k] = std::byte{0xFF};
        break;
      case 3: {  // a batch count or records size past the frame
        if (commit_kind(word) != kKindBatch) break;
        const std::uint32_t v = h.below(2) ? static_cast<std::uint32_t>(h.rng()) : static_cast<std::uint32_t>(records.size() + 1 + h.below(3));
        std::memcpy(frame.data() + (h.below(2) ? kBatchRecordCount : kBatchRecordsBytes), &v, 4);
        break;
      }
      case 4:  // the commit word's info
        word = make_commit_word(static_cast<std::uint32_t>(h.rng()), commit_checksum(word));
        break;
      default:  // cut short: the length says more than the buffer holds is refused by `room`
        frame.resize(frame.size() - 1 - h.below(std::min<std::size_t>(frame.size() - 1, 24)));
        word = make_commit_word((commit_info(word) & ~kLengthMask) | static_cast<std::uint32_t>(frame.size()), commit_checksum(word));
        break;
    }
    std::memcpy(frame.data(), &word, sizeof word);
    const std::uint64_t got = decode_all(frame, word, base, h.below(2) == 0);
    refused += got == 1;
    sum += got;
  }
  EXPECT_GT(refused, static_cast<std::uint64_t>(iterations) / 10) << "the damage should often be caught";
  EXPECT_GT(sum, 0u);
}

TEST(FrameCodec, VarintsThatOverflowOrRunPastTheFrameAreRefused) {
  // A record frame whose key length is a varint of 6 bytes, one whose 5th
  // byte carries bits past 32, one cut off by the frame's end.
  for (const std::vector<std::uint8_t>& body :
       {std::vector<std::uint8_t>{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, std::vector<std::uint8_t>{0xFF, 0xFF, 0xFF, 0xFF, 0x7F},
        std::vector<std::uint8_t>{0x80}}) {
    std::vector<std::byte> frame(kRecordHeaderSize);
    for (std::uint8_t b : body) frame.push_back(static_cast<std::byte>(b));
    const std::uint32_t info = make_info(kKindRecord, static_cast<std::uint32_t>(frame.size()), kHasKey);
    const std::uint64_t word = commit_word_of(frame.data(), info, 0);
    std::memcpy(frame.data(), &word, 8);
    RecordView v[1];
    EXPECT_EQ(decode_frame(frame.data(), word, frame.size(), 0, 0, 0, v, 1, true).check, FrameCheck::kMalformed);
  }
  // 64-bit varints: the 10th byte may only hold bit 63.
  const std::uint8_t too_long[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02};
  const auto* at = reinterpret_cast<const std::byte*>(too_long);
  std::uint64_t out = 0;
  EXPECT_FALSE(detail::read_varint(&at, at + sizeof too_long, &out, 10));
  const std::uint8_t max[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
  at = reinterpret_cast<const std::byte*>(max);
  ASSERT_TRUE(detail::read_varint(&at, at + sizeof max, &out, 10));
  EXPECT_EQ(out, ~std::uint64_t{0});
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1}, std::numeric_limits<std::int64_t>::min(),
                         std::numeric_limits<std::int64_t>::max()})
    EXPECT_EQ(unzigzag(zigzag(v)), v);
}

}  // namespace
}  // namespace rill::log
