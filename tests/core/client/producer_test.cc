#include "core/client/topic_rings.h"
#include "rill/producer.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/log/partition_ring.h"
#include "rill/rill.h"

namespace rill {
namespace {

constexpr TopicConfig kSmall{.partitions = 4, .segment_bytes = 16384, .segment_count = 8, .index_interval = 256};

class ProducerTest : public ::testing::Test {
 protected:
  void SetUp() override { topic_ = make_topic(kSmall); }

  std::shared_ptr<Topic> make_topic(const TopicConfig& config) {
    auto ns = Namespace::in_process();
    EXPECT_TRUE(ns.is_ok());
    ns_ = *ns;
    EXPECT_TRUE(ns_->create_topic("t", config).is_ok());
    return ns_->open_topic("t").value();
  }

  // Every record of partition p, oldest first.
  std::vector<RecordView> read_partition(std::int32_t p) {
    consumers_.emplace_back(std::make_unique<Consumer>(topic_, ConsumerOptions{.start_at_earliest = true}));
    Consumer& c = *consumers_.back();
    const std::int32_t parts[] = {p};
    EXPECT_TRUE(c.assign(parts).is_ok());
    std::vector<RecordView> out;
    for (;;) {
      PollResult r = c.poll(std::chrono::nanoseconds(0));
      EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
      if (r.records.empty()) return out;
      out.insert(out.end(), r.records.begin(), r.records.end());
    }
  }

  std::int64_t total_latest() {
    std::int64_t n = 0;
    for (std::int32_t p = 0; p < topic_->partition_count(); ++p) n += client::ring_of(*topic_, p).latest_offset();
    return n;
  }

  std::shared_ptr<Namespace> ns_;
  std::shared_ptr<Topic> topic_;
  std::vector<std::unique_ptr<Consumer>> consumers_;  // their views must outlive read_partition()
};

// ---------------------------------------------------------------- partitioning

TEST_F(ProducerTest, EqualKeysGoToXxh3OfTheKeyModuloPartitions) {
  Producer producer(topic_);
  std::map<std::int32_t, std::vector<std::string>> sent;
  std::set<std::int32_t> used;
  for (int i = 0; i < 400; ++i) {
    const std::string key = "key-" + std::to_string(i % 40);
    const auto expected = static_cast<std::int32_t>(XXH3_64bits(key.data(), key.size()) % 4);
    EXPECT_EQ(producer.partition_for(key), expected);
    auto md = producer.send(key, "value-" + std::to_string(i));
    ASSERT_TRUE(md.is_ok()) << md.status().to_string();
    EXPECT_EQ(md->partition, expected);
    sent[expected].push_back("value-" + std::to_string(i));
    used.insert(expected);
  }
  EXPECT_EQ(used.size(), 4u) << "40 keys spread over every partition";
  // Order is kept per partition (so per key).
  for (auto& [p, values] : sent) {
    std::vector<RecordView> got = read_partition(p);
    ASSERT_EQ(got.size(), values.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].value(), values[i]);
      EXPECT_EQ(got[i].offset(), static_cast<std::int64_t>(i));
      EXPECT_EQ(producer.partition_for(got[i].key()), p);
    }
  }
  // The empty key is a key, not a null key.
  EXPECT_EQ(producer.partition_for(""), static_cast<std::int32_t>(XXH3_64bits("", 0) % 4));
}

TEST_F(ProducerTest, NullKeysGoRoundRobin) {
  Producer producer(topic_);
  std::vector<std::int32_t> partitions;
  for (int i = 0; i < 12; ++i) partitions.push_back(producer.send(std::nullopt, "v").value().partition);
  EXPECT_EQ(partitions, (std::vector<std::int32_t>{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}));
  for (std::int32_t p = 0; p < 4; ++p) EXPECT_EQ(client::ring_of(*topic_, p).latest_offset(), 3);
}

TEST_F(ProducerTest, ExplicitPartitionWinsOverTheKey) {
  Producer producer(topic_);
  const std::string key = "k";
  const std::int32_t other = (producer.partition_for(key) + 1) % 4;
  auto md = producer.send(key, "v", {.partition = other});
  ASSERT_TRUE(md.is_ok());
  EXPECT_EQ(md->partition, other);
  EXPECT_EQ(read_partition(other).at(0).key(), "k");
}

TEST_F(ProducerTest, BadPartitionIsAnErrorAndStoresNothing) {
  Producer producer(topic_);
  for (std::int32_t bad : {4, 5, 1000, -2, -1000}) {
    SCOPED_TRACE(bad);
    auto md = producer.send("k", "v", {.partition = bad});
    EXPECT_EQ(md.status().code(), Code::kInvalidArgument);
    EXPECT_NE(md.status().message().find("partition"), std::string::npos) << md.status().message();
    auto r = producer.reserve("k", 4, {.partition = bad});
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    const Message m{.key = std::nullopt, .value = "v"};
    EXPECT_EQ(producer.send_batch({&m, 1}, bad).status().code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(total_latest(), 0);
  EXPECT_TRUE(producer.send("k", "v", {.partition = 3}).is_ok());
}

// ---------------------------------------------------------------- record contents

TEST_F(ProducerTest, KeysValuesAndHeadersRoundTrip) {
  Producer producer(topic_);
  const std::string binary("\0\x01\xff bin", 7);
  const Header headers[] = {
      {"trace-id", std::string_view("abc123")}, {"null-value", std::nullopt},
      {"empty-value", std::string_view("")},    {"", std::string_view("empty key")},
      {"binary", std::string_view(binary)},     {"trace-id", std::string_view("repeated keys are kept")},
  };
  ASSERT_TRUE(producer.send("key", "value", {.partition = 0, .headers = headers}).is_ok());
  ASSERT_TRUE(producer.send(std::nullopt, "", {.partition = 0}).is_ok());
  ASSERT_TRUE(producer.send("", binary, {.partition = 0}).is_ok());

  std::vector<RecordView> got = read_partition(0);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].has_key());
  EXPECT_EQ(got[0].key(), "key");
  EXPECT_EQ(got[0].value(), "value");
  EXPECT_EQ(got[0].header_count(), 6);
  std::vector<HeaderView> seen;
  EXPECT_TRUE(got[0].for_each_header([&](const HeaderView& h) { seen.push_back(h); }));
  ASSERT_EQ(seen.size(), 6u);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].key, headers[i].key);
    EXPECT_EQ(seen[i].value.has_value(), headers[i].value.has_value()) << i;
    if (seen[i].value) {
      EXPECT_EQ(*seen[i].value, *headers[i].value);
    }
  }
  EXPECT_FALSE(got[1].has_key()) << "null key";
  EXPECT_EQ(got[1].key(), "");
  EXPECT_EQ(got[1].value(), "");
  EXPECT_EQ(got[1].header_count(), 0);
  EXPECT_TRUE(got[1].for_each_header([](const HeaderView&) { ADD_FAILURE(); }));
  EXPECT_TRUE(got[2].has_key()) << "empty key";
  EXPECT_EQ(got[2].key(), "");
  EXPECT_EQ(got[2].value(), binary);
  for (const RecordView& v : got) {
    EXPECT_TRUE(v.verify_checksum());
    EXPECT_EQ(v.partition(), 0);
    EXPECT_EQ(v.attributes(), 0);
  }
}

TEST_F(ProducerTest, HeadersTooLargeForTheFormatAreRefused) {
  // A header key is stored with a 16-bit length and there are at most 65535
  // headers: anything larger must be refused, not truncated into a record
  // whose header block no longer decodes.
  topic_ = make_topic({.partitions = 1, .segment_bytes = 4 << 20, .segment_count = 4, .index_interval = 4096});
  Producer producer(topic_);
  const std::string long_key(70000, 'k');
  const Header long_header[] = {{long_key, std::string_view("v")}};
  auto md = producer.send(std::nullopt, "v", {.headers = long_header});
  EXPECT_EQ(md.status().code(), Code::kInvalidArgument);
  EXPECT_NE(md.status().message().find("header"), std::string::npos) << md.status().message();
  EXPECT_EQ(producer.reserve(std::nullopt, 1, {.headers = long_header}).status().code(), Code::kInvalidArgument);
  const Message m{.key = std::nullopt, .value = "v", .headers = long_header};
  EXPECT_EQ(producer.send_batch({&m, 1}).status().code(), Code::kInvalidArgument);

  std::vector<Header> many(70000, Header{"h", std::nullopt});
  EXPECT_EQ(producer.send(std::nullopt, "v", {.headers = many}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(client::ring_of(*topic_, 0).latest_offset(), 0);
  // In a batch, the messages before the bad one are sent (send_batch says
  // how many); sending the rest reports the error.
  const Message batch[] = {{.key = std::nullopt, .value = "ok-1"},
                           {.key = std::nullopt, .value = "ok-2"},
                           {.key = std::nullopt, .value = "bad", .headers = long_header},
                           {.key = std::nullopt, .value = "not sent"}};
  ASSERT_EQ(producer.send_batch(batch).value(), 2u);
  EXPECT_EQ(producer.send_batch(std::span(batch).subspan(2)).status().code(), Code::kInvalidArgument);
  std::vector<RecordView> sent = read_partition(0);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].value(), "ok-2");
  consumers_.clear();
  topic_ = make_topic({.partitions = 1, .segment_bytes = 4 << 20, .segment_count = 4, .index_interval = 4096});
  producer = Producer(topic_);

  const std::string max_key(65535, 'k');
  const Header max_header[] = {{max_key, std::nullopt}};
  ASSERT_TRUE(producer.send(std::nullopt, "v", {.headers = max_header}).is_ok());
  std::vector<Header> max_count(65535, Header{"h", std::string_view("x")});
  ASSERT_TRUE(producer.send(std::nullopt, "v", {.headers = max_count}).is_ok());
  std::vector<RecordView> got = read_partition(0);
  ASSERT_EQ(got.size(), 2u);
  int n = 0;
  EXPECT_TRUE(got[0].for_each_header([&](const HeaderView& h) {
    EXPECT_EQ(h.key.size(), 65535u);
    ++n;
  }));
  EXPECT_EQ(n, 1);
  n = 0;
  EXPECT_TRUE(got[1].for_each_header([&](const HeaderView&) { ++n; }));
  EXPECT_EQ(n, 65535);
}

TEST_F(ProducerTest, TimestampsDefaultToNowAndExplicitOnesAreKept) {
  Producer producer(topic_);
  const std::int64_t before = now_ns();
  ASSERT_TRUE(producer.send(std::nullopt, "now", {.partition = 0}).is_ok());
  const std::int64_t after = now_ns();
  ASSERT_TRUE(producer.send(std::nullopt, "explicit", {.partition = 0, .timestamp_ns = 1234567}).is_ok());
  ASSERT_TRUE(producer.send(std::nullopt, "zero", {.partition = 0, .timestamp_ns = 0}).is_ok());
  const Message batch[] = {{.key = std::nullopt, .value = "b-now"},
                           {.key = std::nullopt, .value = "b-explicit", .timestamp_ns = 42},
                           {.key = std::nullopt, .value = "b-now-2"}};
  const std::int64_t batch_before = now_ns();
  ASSERT_EQ(producer.send_batch(batch, 0).value(), 3u);
  const std::int64_t batch_after = now_ns();
  auto r = producer.reserve(std::nullopt, 1, {.partition = 0, .timestamp_ns = 777});
  ASSERT_TRUE(r.is_ok());
  r->value()[0] = std::byte{'r'};
  producer.publish(*r);

  std::vector<RecordView> got = read_partition(0);
  ASSERT_EQ(got.size(), 7u);
  EXPECT_GE(got[0].timestamp_ns(), before);
  EXPECT_LE(got[0].timestamp_ns(), after);
  EXPECT_EQ(got[1].timestamp_ns(), 1234567);
  EXPECT_EQ(got[2].timestamp_ns(), 0);
  EXPECT_GE(got[3].timestamp_ns(), batch_before);
  EXPECT_LE(got[3].timestamp_ns(), batch_after);
  EXPECT_EQ(got[4].timestamp_ns(), 42);
  EXPECT_EQ(got[5].timestamp_ns(), got[3].timestamp_ns()) << "one clock read per batch";
  EXPECT_EQ(got[6].timestamp_ns(), 777);
}

// A batch whose first message carries its own timestamp: the records after
// it without one are stamped now (a delta from the first's), not given the
// first's timestamp.
TEST_F(ProducerTest, BatchAfterAnExplicitFirstTimestampStampsTheRestNow) {
  Producer producer(topic_);
  std::vector<Message> batch{{.key = std::nullopt, .value = "first", .timestamp_ns = 5}};
  for (int i = 0; i < 10; ++i) batch.push_back({.key = std::nullopt, .value = "rest"});
  const std::int64_t before = now_ns();
  ASSERT_EQ(producer.send_batch(batch, 1).value(), batch.size());
  const std::int64_t after = now_ns();
  std::vector<RecordView> got = read_partition(1);
  ASSERT_EQ(got.size(), batch.size());
  EXPECT_EQ(got[0].timestamp_ns(), 5);
  for (std::size_t i = 1; i < got.size(); ++i) {
    EXPECT_GE(got[i].timestamp_ns(), before) << i;
    EXPECT_LE(got[i].timestamp_ns(), after) << i;
    EXPECT_EQ(got[i].value(), "rest");
    EXPECT_EQ(got[i].offset(), static_cast<std::int64_t>(i));
  }
}

// ---------------------------------------------------------------- sizes

TEST_F(ProducerTest, OversizeRecordIsRefusedAndNothingStoredChanges) {
  Producer producer(topic_);
  for (std::int32_t p = 0; p < 4; ++p) ASSERT_TRUE(producer.send(std::nullopt, "before", {.partition = p}).is_ok());
  const std::uint32_t max = client::ring_of(*topic_, 0).max_frame_bytes();
  const std::string too_big(max - log::kRecordHeaderSize + 1, 'x');

  auto md = producer.send(std::nullopt, too_big, {.partition = 2});
  ASSERT_EQ(md.status().code(), Code::kRecordTooLarge);
  const std::string message = md.status().message();
  EXPECT_NE(message.find(std::to_string(max + 1) + " bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("at most " + std::to_string(max)), std::string::npos) << message;
  EXPECT_NE(message.find("segment"), std::string::npos) << message;
  EXPECT_NE(message.find("'t'"), std::string::npos) << message;
  EXPECT_EQ(producer.send("key", too_big).status().code(), Code::kRecordTooLarge);
  EXPECT_EQ(producer.reserve(std::nullopt, too_big.size(), {.partition = 1}).status().code(), Code::kRecordTooLarge);
  // Sizes that overflow 32 bits must not wrap into something small.
  EXPECT_EQ(producer.reserve(std::nullopt, std::size_t{1} << 32, {.partition = 1}).status().code(),
            Code::kRecordTooLarge);
  EXPECT_EQ(producer.reserve(std::nullopt, ~std::size_t{0} - 100, {.partition = 1}).status().code(),
            Code::kRecordTooLarge);
  const Message big{.key = std::nullopt, .value = too_big};
  EXPECT_EQ(producer.send_batch({&big, 1}, 3).status().code(), Code::kRecordTooLarge);

  for (std::int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(client::ring_of(*topic_, p).latest_offset(), 1) << p;
    EXPECT_EQ(client::ring_of(*topic_, p).latest().generation, 0u) << p;
  }
  // The next records are fine, and a record of exactly the maximum fits.
  auto next = producer.send(std::nullopt, "after", {.partition = 2});
  ASSERT_TRUE(next.is_ok());
  EXPECT_EQ(next->offset, 1);
  const std::string exact(max - log::kRecordHeaderSize, 'm');
  auto whole = producer.send(std::nullopt, exact, {.partition = 2});
  ASSERT_TRUE(whole.is_ok()) << whole.status().to_string();
  EXPECT_EQ(whole->offset, 2);
  std::vector<RecordView> got = read_partition(2);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].value(), "before");
  EXPECT_EQ(got[1].value(), "after");
  EXPECT_EQ(got[2].value().size(), exact.size());
  EXPECT_TRUE(got[2].verify_checksum());
}

TEST_F(ProducerTest, BatchWithAnOversizeRecordSendsThoseBeforeIt) {
  Producer producer(topic_);
  const std::string too_big(client::ring_of(*topic_, 0).max_frame_bytes(), 'x');
  const Message batch[] = {{.key = std::nullopt, .value = "a"},
                           {.key = std::nullopt, .value = "b"},
                           {.key = std::nullopt, .value = too_big},
                           {.key = std::nullopt, .value = "d"}};
  auto sent = producer.send_batch(batch, 1);
  ASSERT_EQ(sent.value(), 2u) << "the messages before it are sent";
  EXPECT_EQ(producer.send_batch(std::span(batch).subspan(2), 1).status().code(), Code::kRecordTooLarge);
  std::vector<RecordView> got = read_partition(1);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].value(), "a");
  EXPECT_EQ(got[1].value(), "b");
  EXPECT_EQ(total_latest(), 2);
}

// ---------------------------------------------------------------- zero copy

TEST_F(ProducerTest, ReserveAndPublishWriteTheValueInPlace) {
  Producer producer(topic_);
  const Header headers[] = {{"h", std::string_view("hv")}};
  auto r = producer.reserve("the-key", 100, {.headers = headers});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->partition(), producer.partition_for("the-key"));
  EXPECT_EQ(r->offset(), 0);
  ASSERT_EQ(r->value().size(), 100u);
  for (std::size_t i = 0; i < 100; ++i) r->value()[i] = static_cast<std::byte>('a' + i % 26);

  // Until published, readers of that partition wait at its offset, even for
  // records committed after it.
  ASSERT_TRUE(producer.send("the-key", "second").is_ok());
  EXPECT_TRUE(read_partition(r->partition()).empty());

  producer.publish(*r);
  producer.publish(*r);  // a second publish is a no-op
  std::vector<RecordView> got = read_partition(r->partition());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key(), "the-key");
  ASSERT_EQ(got[0].value().size(), 100u);
  for (std::size_t i = 0; i < 100; ++i) EXPECT_EQ(got[0].value()[i], static_cast<char>('a' + i % 26));
  EXPECT_EQ(got[0].header_count(), 1);
  EXPECT_TRUE(got[0].verify_checksum()) << "publish() checksums what the caller wrote";
  EXPECT_EQ(got[1].value(), "second");
  EXPECT_EQ(got[1].offset(), 1);

  auto empty = producer.reserve(std::nullopt, 0, {.partition = 0});
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->value().empty());
  producer.publish(*empty);
  std::vector<RecordView> p0 = read_partition(0);
  ASSERT_FALSE(p0.empty());
  EXPECT_EQ(p0.back().value(), "");
  EXPECT_TRUE(p0.back().verify_checksum());
}

// ---------------------------------------------------------------- batches

TEST_F(ProducerTest, BatchOffsetsAreConsecutiveAndNullKeysStick) {
  Producer producer(topic_);
  std::vector<std::string> values;
  for (int i = 0; i < 100; ++i) values.push_back("n" + std::to_string(i));
  std::vector<Message> batch;
  for (const std::string& v : values) batch.push_back({.key = std::nullopt, .value = v});
  ASSERT_EQ(producer.send_batch(batch).value(), 100u);
  // All on one partition (the first round-robin choice), consecutively.
  std::int32_t sticky = -1;
  for (std::int32_t p = 0; p < 4; ++p)
    if (client::ring_of(*topic_, p).latest_offset() > 0) {
      EXPECT_EQ(sticky, -1) << "a null-key batch sticks to one partition";
      sticky = p;
    }
  ASSERT_EQ(sticky, 0);
  std::vector<RecordView> got = read_partition(sticky);
  ASSERT_EQ(got.size(), 100u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].offset(), static_cast<std::int64_t>(i));
    EXPECT_EQ(got[i].value(), values[i]);
  }
  // The next batch sticks to the next partition.
  ASSERT_EQ(producer.send_batch({batch.data(), 3}).value(), 3u);
  EXPECT_EQ(client::ring_of(*topic_, 1).latest_offset(), 3);
}

TEST_F(ProducerTest, BatchKeyedMessagesFollowTheirKeys) {
  Producer producer(topic_);
  std::vector<std::string> keys, values;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("key-" + std::to_string(i % 17));
    values.push_back("value-" + std::to_string(i));
  }
  std::vector<Message> batch;
  for (int i = 0; i < 300; ++i) {
    if (i % 10 == 9)
      batch.push_back({.key = std::nullopt, .value = values[i]});
    else
      batch.push_back({.key = keys[i], .value = values[i]});
  }
  ASSERT_EQ(producer.send_batch(batch).value(), 300u);
  std::map<std::int32_t, std::vector<std::string>> expected;
  std::int32_t sticky = -1;
  for (int i = 0; i < 300; ++i) {
    if (batch[i].key) {
      expected[producer.partition_for(*batch[i].key)].push_back(values[i]);
    } else {
      expected[-1].push_back(values[i]);
    }
  }
  // Null keys of the batch went to one partition; find it by its first value.
  for (std::int32_t p = 0; p < 4; ++p) {
    std::vector<RecordView> got = read_partition(p);
    std::vector<std::string> keyed;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].offset(), static_cast<std::int64_t>(i)) << "dense offsets";
      if (got[i].has_key()) {
        EXPECT_EQ(producer.partition_for(got[i].key()), p);
        keyed.emplace_back(got[i].value());
      } else {
        EXPECT_TRUE(sticky == -1 || sticky == p);
        sticky = p;
      }
    }
    EXPECT_EQ(keyed, expected[p]) << "order kept within partition " << p;
  }
  EXPECT_NE(sticky, -1);
}

TEST_F(ProducerTest, LargeBatchesStayConsecutiveAcrossSegments) {
  topic_ = make_topic({.partitions = 4, .segment_bytes = 65536, .segment_count = 16, .index_interval = 1024});
  Producer producer(topic_);
  // More than 1024 messages and more than a quarter segment: several claims.
  std::vector<std::string> values;
  for (int i = 0; i < 3000; ++i) values.push_back(std::string(static_cast<std::size_t>(50 + i % 50), 'a' + i % 26));
  std::vector<Message> batch;
  for (const std::string& v : values) batch.push_back({.key = std::nullopt, .value = v});
  ASSERT_TRUE(producer.send(std::nullopt, "first", {.partition = 2}).is_ok());
  ASSERT_EQ(producer.send_batch(batch, 2).value(), 3000u);
  EXPECT_GE(client::ring_of(*topic_, 2).latest().generation, 3u) << "the batch crossed segments";
  auto c = std::make_unique<Consumer>(topic_, ConsumerOptions{.start_at_earliest = true});
  const std::int32_t parts[] = {2};
  ASSERT_TRUE(c->assign(parts).is_ok());
  ASSERT_TRUE(c->seek(2, 1).is_ok());
  std::int64_t expected = 1;
  while (expected <= 3000) {
    PollResult r = c->poll(std::chrono::nanoseconds(0));
    ASSERT_TRUE(r.status.is_ok());
    ASSERT_FALSE(r.records.empty()) << "missing from " << expected;
    for (const RecordView& v : r.records) {
      EXPECT_EQ(v.offset(), expected);
      EXPECT_EQ(v.value(), values[static_cast<std::size_t>(expected - 1)]);
      ++expected;
    }
  }
  EXPECT_EQ(client::ring_of(*topic_, 2).latest_offset(), 3001);
}

TEST_F(ProducerTest, EmptyBatchSendsNothing) {
  Producer producer(topic_);
  auto sent = producer.send_batch({});
  ASSERT_TRUE(sent.is_ok());
  EXPECT_EQ(*sent, 0u);
  EXPECT_EQ(total_latest(), 0);
}

}  // namespace
}  // namespace rill
