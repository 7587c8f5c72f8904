#include "rill/serde.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "rill/rill.h"

namespace rill {
namespace {

static_assert(Serde<Int32Serde>);
static_assert(Serde<Int64Serde>);
static_assert(Serde<StringSerde>);
static_assert(Serde<BytesSerde>);

template <typename S>
std::string encode(const typename S::value_type& v) {
  std::string out(S::size(v), '\0');
  S::write(v, std::span<std::byte>(reinterpret_cast<std::byte*>(out.data()), out.size()));
  return out;
}

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out += ' ';
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// ---------------------------------------------------------------- integers

TEST(IntegerSerdes, Int32IsBigEndianLikeKafkasIntegerSerializer) {
  const std::pair<std::int32_t, const char*> cases[] = {
      {0, "00 00 00 00"},
      {1, "00 00 00 01"},
      {-1, "ff ff ff ff"},
      {256, "00 00 01 00"},
      {0x12345678, "12 34 56 78"},
      {std::numeric_limits<std::int32_t>::max(), "7f ff ff ff"},
      {std::numeric_limits<std::int32_t>::min(), "80 00 00 00"},
      {-2, "ff ff ff fe"},
  };
  for (auto [v, bytes] : cases) {
    EXPECT_EQ(Int32Serde::size(v), 4u);
    const std::string e = encode<Int32Serde>(v);
    EXPECT_EQ(hex(e), bytes) << v;
    auto back = Int32Serde::read(e);
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(*back, v);
  }
}

TEST(IntegerSerdes, Int64IsBigEndianLikeKafkasLongSerializer) {
  const std::pair<std::int64_t, const char*> cases[] = {
      {0, "00 00 00 00 00 00 00 00"},
      {1, "00 00 00 00 00 00 00 01"},
      {-1, "ff ff ff ff ff ff ff ff"},
      {0x0102030405060708, "01 02 03 04 05 06 07 08"},
      {std::numeric_limits<std::int64_t>::max(), "7f ff ff ff ff ff ff ff"},
      {std::numeric_limits<std::int64_t>::min(), "80 00 00 00 00 00 00 00"},
      {1700000000000, "00 00 01 8b cf e5 68 00"},
  };
  for (auto [v, bytes] : cases) {
    EXPECT_EQ(Int64Serde::size(v), 8u);
    const std::string e = encode<Int64Serde>(v);
    EXPECT_EQ(hex(e), bytes) << v;
    auto back = Int64Serde::read(e);
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(*back, v);
  }
}

TEST(IntegerSerdes, WrongSizeIsCorrupt) {
  for (std::string bad : {std::string(), std::string(3, '\0'), std::string(5, '\0'), std::string(8, '\0')}) {
    auto r = Int32Serde::read(bad);
    EXPECT_EQ(r.status().code(), Code::kCorrupt) << bad.size();
    EXPECT_NE(r.status().message().find("4 bytes"), std::string::npos) << r.status().message();
  }
  for (std::string bad : {std::string(), std::string(4, '\0'), std::string(7, '\0'), std::string(9, '\0')}) {
    auto r = Int64Serde::read(bad);
    EXPECT_EQ(r.status().code(), Code::kCorrupt) << bad.size();
    EXPECT_NE(r.status().message().find("8 bytes"), std::string::npos) << r.status().message();
  }
}

// ---------------------------------------------------------------- text and bytes

TEST(StringSerde, AcceptsWellFormedUtf8) {
  const std::string good[] = {
      "",
      "plain ascii",
      std::string("nul\0inside", 10),
      "\xC3\xA9",          // U+00E9
      "\xC2\x80",          // U+0080, smallest two-byte
      "\xDF\xBF",          // U+07FF
      "\xE0\xA0\x80",      // U+0800, smallest three-byte
      "\xE2\x82\xAC",      // U+20AC euro sign
      "\xED\x9F\xBF",      // U+D7FF, just below the surrogates
      "\xEE\x80\x80",      // U+E000, just above them
      "\xEF\xBF\xBF",      // U+FFFF
      "\xF0\x90\x80\x80",  // U+10000, smallest four-byte
      "\xF0\x9D\x84\x9E",  // U+1D11E musical symbol
      "\xF4\x8F\xBF\xBF",  // U+10FFFF, the largest code point
      "mixed \xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80!",
  };
  for (const std::string& s : good) {
    EXPECT_TRUE(is_valid_utf8(s)) << hex(s);
    auto r = StringSerde::read(s);
    ASSERT_TRUE(r.is_ok()) << hex(s);
    EXPECT_EQ(r->data(), s.data()) << "read() is zero copy";
    EXPECT_EQ(r->size(), s.size());
  }
}

TEST(StringSerde, RejectsMalformedUtf8) {
  const std::string bad[] = {
      "\x80",  // continuation byte first
      "\xBF",
      "a\x80z",
      "\xC0\xAF",                  // overlong '/'
      "\xC1\xBF",                  // overlong U+007F
      "\xE0\x80\xAF",              // overlong '/'
      "\xE0\x9F\xBF",              // overlong U+07FF
      "\xF0\x80\x80\xAF",          // overlong '/'
      "\xF0\x8F\xBF\xBF",          // overlong U+FFFF
      "\xED\xA0\x80",              // U+D800, a surrogate
      "\xED\xBF\xBF",              // U+DFFF
      "\xED\xA0\xBD\xED\xB8\x80",  // a UTF-16 surrogate pair in CESU-8
      "\xF4\x90\x80\x80",          // U+110000, past the last code point
      "\xF5\x80\x80\x80",
      "\xF8\x88\x80\x80\x80",  // five-byte form
      "\xFE",
      "\xFF",
      "\xC3",  // truncated
      "\xE2\x82",
      "\xF0\x9D\x84",
      "abc\xC3",
      "\xC3\x28",  // bad continuation
      "\xE2\x28\xA1",
      "\xF0\x9D\x28\x9E",
  };
  for (const std::string& s : bad) {
    EXPECT_FALSE(is_valid_utf8(s)) << hex(s);
    auto r = StringSerde::read(s);
    EXPECT_EQ(r.status().code(), Code::kCorrupt) << hex(s);
    EXPECT_NE(r.status().message().find("UTF-8"), std::string::npos);
  }
}

TEST(BytesSerde, BytesAreKeptAsTheyAre) {
  const std::string raw("\0\1\2\xff\xfe\0", 6);
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(raw.data()), raw.size());
  const std::string e = encode<BytesSerde>(in);
  EXPECT_EQ(e, raw);
  auto back = BytesSerde::read(e);
  ASSERT_TRUE(back.is_ok());
  ASSERT_EQ(back->size(), raw.size());
  EXPECT_EQ(std::memcmp(back->data(), raw.data(), raw.size()), 0);
  EXPECT_EQ(encode<BytesSerde>({}), "");
}

// ---------------------------------------------------------------- typed producer / consumer

class TypedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = Namespace::in_process().value();
    ASSERT_TRUE(ns_->create_topic("t", {.partitions = 3, .segment_bytes = 65536, .segment_count = 4}).is_ok());
    topic_ = ns_->open_topic("t").value();
  }
  std::shared_ptr<Namespace> ns_;
  std::shared_ptr<Topic> topic_;
};

TEST_F(TypedTest, StringKeysAndLongValuesRoundTrip) {
  TypedProducer<StringSerde, Int64Serde> producer(topic_);
  TypedConsumer<StringSerde, Int64Serde> consumer(topic_, {.start_at_earliest = true});
  ASSERT_TRUE(consumer.raw().assign_all().is_ok());
  const std::string long_key(1000, 'k');  // larger than the producer's stack buffer
  std::vector<std::pair<std::optional<std::string>, std::int64_t>> sent = {
      {"alice", 1}, {"bob", -1}, {std::nullopt, 1LL << 40}, {"", 0}, {"\xC3\xA9t\xC3\xA9", 42}, {long_key, 7}};
  for (auto& [k, v] : sent) {
    std::optional<std::string_view> key;
    if (k) key = *k;
    auto md = producer.send(key, v);
    ASSERT_TRUE(md.is_ok()) << md.status().to_string();
    if (k) {
      EXPECT_EQ(md->partition, producer.raw().partition_for(*k));
    }
  }
  std::vector<TypedRecord<std::string_view, std::int64_t>> got;
  for (;;) {
    PollResult r = consumer.raw().poll(std::chrono::nanoseconds(0));
    if (r.records.empty()) break;
    for (const RecordView& v : r.records) {
      EXPECT_EQ(v.value().size(), 8u);
      auto rec = decltype(consumer)::decode(v);
      ASSERT_TRUE(rec.is_ok()) << rec.status().to_string();
      EXPECT_EQ(rec->partition, v.partition());
      EXPECT_EQ(rec->offset, v.offset());
      EXPECT_EQ(rec->timestamp_ns, v.timestamp_ns());
      // Keep only what outlives the poll: compare right away.
      bool matched = false;
      for (auto& [k, val] : sent) {
        if (k.has_value() != rec->key.has_value()) continue;
        if (k && *k != *rec->key) continue;
        EXPECT_EQ(rec->value, val);
        matched = true;
      }
      EXPECT_TRUE(matched);
      got.push_back(*rec);
    }
  }
  EXPECT_EQ(got.size(), sent.size());
}

TEST_F(TypedTest, IntKeysAndStringValues) {
  TypedProducer<Int32Serde, StringSerde> producer(topic_);
  for (std::int32_t i = 0; i < 50; ++i)
    ASSERT_TRUE(producer.send(i, "value " + std::to_string(i), {.partition = 1}).is_ok());
  TypedConsumer<Int32Serde, StringSerde> consumer(topic_, {.start_at_earliest = true});
  const std::int32_t parts[] = {1};
  ASSERT_TRUE(consumer.raw().assign(parts).is_ok());
  PollResult r = consumer.raw().poll(std::chrono::nanoseconds(0));
  ASSERT_EQ(r.records.size(), 50u);
  for (std::int32_t i = 0; i < 50; ++i) {
    EXPECT_EQ(hex(r.records[i].key()), hex(std::string("\0\0\0", 3) + static_cast<char>(i)));
    auto rec = decltype(consumer)::decode(r.records[i]);
    ASSERT_TRUE(rec.is_ok());
    EXPECT_EQ(*rec->key, i);
    EXPECT_EQ(rec->value, "value " + std::to_string(i));
  }
}

TEST_F(TypedTest, RecordsThatDoNotDecodeAreErrorsNamingTheOffset) {
  Producer raw(topic_);
  ASSERT_TRUE(raw.send(std::nullopt, "abc", {.partition = 0}).is_ok());           // 3-byte int
  ASSERT_TRUE(raw.send("\xC3", std::string(8, '\0'), {.partition = 0}).is_ok());  // bad UTF-8 key
  ASSERT_TRUE(raw.send("ok", std::string(8, '\x01'), {.partition = 0}).is_ok());
  TypedConsumer<StringSerde, Int64Serde> consumer(topic_, {.start_at_earliest = true});
  const std::int32_t parts[] = {0};
  ASSERT_TRUE(consumer.raw().assign(parts).is_ok());
  PollResult r = consumer.raw().poll(std::chrono::nanoseconds(0));
  ASSERT_EQ(r.records.size(), 3u);
  auto bad_value = decltype(consumer)::decode(r.records[0]);
  EXPECT_EQ(bad_value.status().code(), Code::kCorrupt);
  EXPECT_NE(bad_value.status().message().find("value at offset 0"), std::string::npos) << bad_value.status().message();
  auto bad_key = decltype(consumer)::decode(r.records[1]);
  EXPECT_EQ(bad_key.status().code(), Code::kCorrupt);
  EXPECT_NE(bad_key.status().message().find("key at offset 1"), std::string::npos) << bad_key.status().message();
  auto good = decltype(consumer)::decode(r.records[2]);
  ASSERT_TRUE(good.is_ok());
  EXPECT_EQ(good->value, 0x0101010101010101);
}

TEST_F(TypedTest, TooLargeValueIsRefused) {
  TypedProducer<StringSerde, StringSerde> producer(topic_);
  const std::string huge(70000, 'x');
  EXPECT_EQ(producer.send(std::nullopt, huge).status().code(), Code::kRecordTooLarge);
  Consumer c(topic_);
  for (std::int32_t p = 0; p < 3; ++p) EXPECT_EQ(c.latest_offset(p).value(), 0);
}

}  // namespace
}  // namespace rill
