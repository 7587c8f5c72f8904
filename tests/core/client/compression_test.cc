// Compressed batches end to end: a Producer with each codec, a Consumer
// reading them back - every record, in order, offsets dense, key, value,
// headers and timestamp as sent, the stored frame's checksum sound - in polls
// smaller than a batch and across batches; a batch that does not compress
// stored plain; records sent alone never compressed; a damaged compressed
// batch reported at its offset after the records before it; a batch taken in
// parts decompressed once; views of a compressed batch valid until the next
// poll even once the ring has reused its frame.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/json_records.h"
#include "core/client/batch_inflater.h"
#include "core/client/topic_rings.h"
#include "core/log/frame_codec.h"
#include "core/log/record_format.h"
#include "rill/rill.h"

namespace rill {
namespace {

using std::chrono::nanoseconds;

constexpr Compression kCodecs[] = {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd};

std::uint16_t codec_bits(const RecordView& v) { return v.attributes() & log::kCompressionMask; }

// A record as sent (views die with the next poll).
struct Sent {
  std::optional<std::string> key;
  std::string value;
  std::int64_t timestamp;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

// A record as received.
struct Got {
  std::int32_t partition;
  std::int64_t offset;
  Sent record;
  std::uint16_t codec;
  bool checksum_ok;
  std::uint32_t frame_size;
};

Got copy(const RecordView& v) {
  Got g{v.partition(), v.offset(), {}, codec_bits(v), v.verify_checksum(), v.frame_size()};
  if (v.has_key()) g.record.key = std::string(v.key());
  g.record.value = std::string(v.value());
  g.record.timestamp = v.timestamp_ns();
  EXPECT_TRUE(v.for_each_header([&](const HeaderView& h) {
    g.record.headers.emplace_back(std::string(h.key),
                                  h.value ? std::optional<std::string>(std::string(*h.value)) : std::nullopt);
  }));
  return g;
}

void expect_same(const Got& g, const Sent& s) {
  EXPECT_EQ(g.record.key, s.key);
  EXPECT_EQ(g.record.value, s.value);
  EXPECT_EQ(g.record.timestamp, s.timestamp);
  EXPECT_EQ(g.record.headers, s.headers);
  EXPECT_TRUE(g.checksum_ok);
}

// JSON-like records, some keyed, some with headers, timestamps increasing.
std::vector<Sent> event_records(std::size_t n, std::uint64_t seed = 1) {
  bench::JsonRecords gen(seed);
  std::vector<Sent> out;
  for (std::size_t i = 0; i < n; ++i) {
    Sent s;
    if (i % 3 != 0) s.key = "user-" + std::to_string(i % 17);
    s.value = gen.next();
    s.timestamp = 1'700'000'000'000'000'000 + static_cast<std::int64_t>(i) * 1000;
    if (i % 4 == 1) s.headers = {{"trace", "t-" + std::to_string(i)}, {"empty", std::nullopt}};
    out.push_back(std::move(s));
  }
  return out;
}

// Sends `records` in send_batch() calls of `per_call` (all to `partition`).
void send_all(Producer& p, const std::vector<Sent>& records, std::size_t per_call, std::int32_t partition = 0) {
  std::vector<std::vector<Header>> headers(records.size());
  std::vector<Message> messages;
  for (std::size_t i = 0; i < records.size(); ++i) {
    for (const auto& [k, v] : records[i].headers)
      headers[i].push_back(Header{k, v ? std::optional<std::string_view>(*v) : std::nullopt});
    messages.push_back(Message{records[i].key ? std::optional<std::string_view>(*records[i].key) : std::nullopt,
                               records[i].value, records[i].timestamp, headers[i]});
  }
  for (std::size_t at = 0; at < messages.size(); at += per_call) {
    const std::span<const Message> part(messages.data() + at, std::min(per_call, messages.size() - at));
    auto n = p.send_batch(part, partition);
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    ASSERT_EQ(*n, part.size());
  }
}

// Polls until nothing more comes at once; every poll must be OK.
std::vector<Got> drain(Consumer& c, std::size_t* polls = nullptr) {
  std::vector<Got> out;
  for (;;) {
    PollResult r = c.poll(nanoseconds(0));
    EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
    if (!r.status.is_ok() || r.records.empty()) return out;
    if (polls != nullptr) ++*polls;
    for (const RecordView& v : r.records) out.push_back(copy(v));
  }
}

class CompressionTest : public ::testing::TestWithParam<Compression> {
 protected:
  void SetUp() override { use_topic({.partitions = 1, .segment_bytes = 1 << 20, .segment_count = 4}); }
  void use_topic(const TopicConfig& config) {
    auto ns = Namespace::in_process();
    ASSERT_TRUE(ns.is_ok());
    ns_ = *ns;
    ASSERT_TRUE(ns_->create_topic("t", config).is_ok());
    topic_ = ns_->open_topic("t").value();
  }
  Producer producer() { return Producer(topic_, {.compression = GetParam()}); }
  Consumer consumer(std::size_t max_poll_records, bool verify = false) {
    Consumer c(topic_, {.max_poll_records = max_poll_records, .start_at_earliest = true, .verify_checksums = verify});
    EXPECT_TRUE(c.assign_all().is_ok());
    return c;
  }

  std::shared_ptr<Namespace> ns_;
  std::shared_ptr<Topic> topic_;
};

TEST_P(CompressionTest, EveryRecordArrivesInOrderWithDenseOffsetsWhateverThePollSize) {
  const std::vector<Sent> sent = event_records(640);
  {
    Producer p = producer();
    send_all(p, sent, 64);
  }
  for (bool verify : {false, true}) {
    for (std::size_t max_poll : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{100}, std::size_t{512}}) {
      SCOPED_TRACE(::testing::Message() << "max_poll_records " << max_poll << (verify ? ", verified" : ""));
      Consumer c = consumer(max_poll, verify);
      std::size_t polls = 0;
      const std::vector<Got> got = drain(c, &polls);
      ASSERT_EQ(got.size(), sent.size());
      EXPECT_EQ(polls, (sent.size() + max_poll - 1) / max_poll) << "every poll full until the last";
      for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].offset, static_cast<std::int64_t>(i));
        expect_same(got[i], sent[i]);
        EXPECT_EQ(got[i].codec, static_cast<std::uint16_t>(GetParam()));
      }
      EXPECT_EQ(c.position(0), static_cast<std::int64_t>(sent.size()));
    }
  }
  // The ring holds the compressed bytes: a batch's frame is well under its
  // records' size (JSON-like events compress 2-10 times).
  Consumer c = consumer(64);
  PollResult r = c.poll(nanoseconds(0));
  ASSERT_EQ(r.records.size(), 64u);
  std::size_t raw = 0;
  for (const RecordView& v : r.records) raw += v.value().size();
  EXPECT_LT(r.records[0].frame_size(), raw / 2) << "frame " << r.records[0].frame_size() << ", values " << raw;
}

TEST_P(CompressionTest, PartitionsAndBatchesInterleaveInOnePoll) {
  use_topic({.partitions = 3, .segment_bytes = 1 << 20, .segment_count = 4});
  std::map<std::int32_t, std::vector<Sent>> sent;
  {
    Producer p = producer();
    for (std::int32_t part = 0; part < 3; ++part) {
      sent[part] = event_records(200 + 10 * static_cast<std::size_t>(part), 7 + static_cast<std::uint64_t>(part));
      send_all(p, sent[part], 50, part);
    }
  }
  Consumer c = consumer(37);
  std::map<std::int32_t, std::vector<Got>> got;
  for (const Got& g : drain(c)) got[g.partition].push_back(g);
  for (std::int32_t part = 0; part < 3; ++part) {
    SCOPED_TRACE(part);
    ASSERT_EQ(got[part].size(), sent[part].size());
    for (std::size_t i = 0; i < sent[part].size(); ++i) {
      EXPECT_EQ(got[part][i].offset, static_cast<std::int64_t>(i));
      expect_same(got[part][i], sent[part][i]);
    }
  }
}

TEST_P(CompressionTest, ABatchThatDoesNotCompressIsStoredPlain) {
  std::mt19937_64 rng(3);
  std::vector<Sent> noise(32);
  for (std::size_t i = 0; i < noise.size(); ++i) {
    noise[i].value.resize(100);
    for (char& ch : noise[i].value) ch = static_cast<char>(rng());
    noise[i].timestamp = static_cast<std::int64_t>(i);
  }
  {
    Producer p = producer();
    send_all(p, noise, 32);
  }
  Consumer c = consumer(512);
  const std::vector<Got> got = drain(c);
  ASSERT_EQ(got.size(), noise.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    expect_same(got[i], noise[i]);
    EXPECT_EQ(got[i].codec, 0) << "random bytes do not compress: stored as they are";
  }
}

TEST_P(CompressionTest, RecordsSentAloneAreNeverCompressed) {
  const std::string value(500, 'a');  // as compressible as a value gets
  {
    Producer p = producer();
    ASSERT_TRUE(p.send("k", value).is_ok());
    const Message one[] = {Message{std::nullopt, value, 5, {}}};
    ASSERT_TRUE(p.send_batch(one, 0).is_ok());
    const Message two[] = {Message{std::nullopt, value, 6, {}}, Message{std::nullopt, value, 7, {}}};
    ASSERT_TRUE(p.send_batch(two, 0).is_ok());
  }
  Consumer c = consumer(512);
  const std::vector<Got> got = drain(c);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].codec, 0) << "send()";
  EXPECT_EQ(got[1].codec, 0) << "a send_batch() of one";
  EXPECT_EQ(got[2].codec, static_cast<std::uint16_t>(GetParam())) << "a batch of two";
  EXPECT_EQ(got[3].codec, static_cast<std::uint16_t>(GetParam()));
  EXPECT_LT(got[2].frame_size, 500u);
  for (const Got& g : got) EXPECT_EQ(g.record.value, value);
}

// The ring takes at least 4 bytes a record: tiny records compress below
// that, and the frame is padded with zeros up to it - still far smaller than
// the records, and read back whole.
TEST_P(CompressionTest, BatchesThatCompressBelowFourBytesARecordArePaddedToIt) {
  std::vector<Sent> tiny(1000);
  for (std::size_t i = 0; i < tiny.size(); ++i) {
    tiny[i].value = "v" + std::to_string(1'000'000 + i).substr(1);  // 7 bytes: "v000000", ...
    tiny[i].timestamp = 1000;
  }
  {
    Producer p = producer();
    send_all(p, tiny, tiny.size());
  }
  Consumer c = consumer(512);
  const std::vector<Got> got = drain(c);
  ASSERT_EQ(got.size(), tiny.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].offset, static_cast<std::int64_t>(i));
    expect_same(got[i], tiny[i]);
    EXPECT_EQ(got[i].codec, static_cast<std::uint16_t>(GetParam()));
    // 1000 records of 11 bytes (4 of varints): 11000 bytes plain; at least
    // 4000 compressed, 4 a record.
    EXPECT_GE(got[i].frame_size, 4000u);
    EXPECT_LT(got[i].frame_size, 11000u);
  }
}

// The first byte of a compressed batch's payload: gzip's, lz4's and zstd's
// magic numbers, snappy's declared length.
void damage_payload(const RecordView& any_record_of_the_batch) {
  const_cast<std::byte*>(any_record_of_the_batch.frame())[log::kBatchHeaderSize] ^= std::byte{0x5A};
}

TEST_P(CompressionTest, ADamagedCompressedBatchIsCorruptAtItsOffsetAfterTheRecordsBeforeIt) {
  const std::vector<Sent> sent = event_records(64);
  {
    Producer p = producer();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(p.send(std::nullopt, "before-" + std::to_string(i)).is_ok());
    send_all(p, sent, 64);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(p.send(std::nullopt, "after-" + std::to_string(i)).is_ok());
  }
  {
    Consumer finder = consumer(512);
    ASSERT_TRUE(finder.seek(0, 10).is_ok());
    PollResult r = finder.poll(nanoseconds(0));
    ASSERT_FALSE(r.records.empty());
    ASSERT_EQ(codec_bits(r.records[0]), static_cast<std::uint16_t>(GetParam()));
    damage_payload(r.records[0]);
  }
  for (bool verify : {false, true}) {
    SCOPED_TRACE(verify ? "verified" : "unverified: the decompressor notices");
    Consumer c = consumer(512, verify);
    PollResult r = c.poll(nanoseconds(0));
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    ASSERT_EQ(r.records.size(), 10u) << "the records before the batch are delivered";
    EXPECT_EQ(r.records[9].value(), "before-9");
    for (int i = 0; i < 3; ++i) {
      r = c.poll(nanoseconds(0));
      EXPECT_EQ(r.status.code(), Code::kCorrupt);
      EXPECT_NE(r.status.message().find("partition 0"), std::string::npos) << r.status.message();
      EXPECT_NE(r.status.message().find("offset 10"), std::string::npos) << r.status.message();
      if (!verify) {
        EXPECT_NE(r.status.message().find(std::string(compression_name(GetParam())) + "-compressed batch"),
                  std::string::npos)
            << r.status.message();
      }
      EXPECT_TRUE(r.records.empty());
      EXPECT_EQ(c.position(0), 10) << "the consumer stays on the damaged batch";
    }
    // Past it, the rest arrives.
    ASSERT_TRUE(c.seek(0, 74).is_ok());
    const std::vector<Got> rest = drain(c);
    ASSERT_EQ(rest.size(), 5u);
    EXPECT_EQ(rest[0].offset, 74);
    EXPECT_EQ(rest[4].record.value, "after-4");
  }
}

TEST_P(CompressionTest, ABatchTakenInPartsIsDecompressedOnce) {
  const std::vector<Sent> sent = event_records(64);
  {
    Producer p = producer();
    send_all(p, sent, 64);
  }
  Consumer c = consumer(10);
  PollResult r = c.poll(nanoseconds(0));
  ASSERT_EQ(r.records.size(), 10u);
  // Damage the stored batch now: later polls must not decompress it again
  // (they would fail), but go on from the records decompressed already.
  damage_payload(r.records[0]);
  std::vector<Got> got;
  for (const RecordView& v : r.records) got.push_back(copy(v));
  for (;;) {
    r = c.poll(nanoseconds(0));
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    if (r.records.empty()) break;
    for (const RecordView& v : r.records) got.push_back(copy(v));
  }
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].offset, static_cast<std::int64_t>(i));
    EXPECT_EQ(got[i].record.value, sent[i].value);
    EXPECT_FALSE(got[i].checksum_ok) << "verify_checksum() is the stored frame's, damaged";
  }
  // A new consumer decompresses it afresh, and is told.
  Consumer fresh = consumer(10);
  EXPECT_EQ(fresh.poll(nanoseconds(0)).status.code(), Code::kCorrupt);
}

TEST_P(CompressionTest, ViewsOfACompressedBatchOutliveTheRingsReuseUntilTheNextPoll) {
  use_topic({.partitions = 1, .segment_bytes = 16384, .segment_count = 4, .index_interval = 256});
  const std::vector<Sent> sent = event_records(40);
  Producer p = producer();
  send_all(p, sent, 40);
  Consumer c = consumer(512);
  PollResult r = c.poll(nanoseconds(0));
  ASSERT_EQ(r.records.size(), sent.size());
  // Fill the ring until the batch's segment is reused.
  const std::string filler(1000, 'f');
  while (client::ring_of(*topic_, 0).earliest_offset() == 0) ASSERT_TRUE(p.send(std::nullopt, filler).is_ok());
  EXPECT_FALSE(c.still_valid()) << "the stored frame is gone";
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(r.records[i].value(), sent[i].value) << "the decompressed records are the consumer's";
    EXPECT_EQ(r.records[i].key(), sent[i].key.value_or(""));
  }
}

TEST_P(CompressionTest, AConsumerOvertakenInsideABatchResetsAsForAnyRecord) {
  use_topic({.partitions = 1, .segment_bytes = 16384, .segment_count = 4, .index_interval = 256});
  const std::vector<Sent> sent = event_records(40);
  Producer p = producer();
  send_all(p, sent, 40);
  Consumer c = consumer(5);
  ASSERT_EQ(c.poll(nanoseconds(0)).records.size(), 5u);
  const std::string filler(1000, 'f');
  while (client::ring_of(*topic_, 0).earliest_offset() <= 40) ASSERT_TRUE(p.send(std::nullopt, filler).is_ok());
  const std::int64_t earliest = client::ring_of(*topic_, 0).earliest_offset();
  PollResult r = c.poll(nanoseconds(0));
  ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
  EXPECT_EQ(r.skipped, earliest - 5) << "the records lost, counted from inside the batch";
  ASSERT_FALSE(r.records.empty());
  EXPECT_EQ(r.records[0].offset(), earliest);
  EXPECT_EQ(r.records[0].value(), filler);
}

TEST_P(CompressionTest, SeeksLandInsideACompressedBatch) {
  const std::vector<Sent> sent = event_records(128);
  {
    Producer p = producer();
    send_all(p, sent, 64);
  }
  Consumer c = consumer(3);
  for (std::int64_t target : {std::int64_t{0}, std::int64_t{1}, std::int64_t{63}, std::int64_t{64}, std::int64_t{100}}) {
    ASSERT_TRUE(c.seek(0, target).is_ok());
    PollResult r = c.poll(nanoseconds(0));
    ASSERT_FALSE(r.records.empty());
    EXPECT_EQ(r.records[0].offset(), target);
    EXPECT_EQ(r.records[0].value(), sent[static_cast<std::size_t>(target)].value);
  }
  ASSERT_TRUE(c.seek_to_time(sent[77].timestamp).is_ok());
  PollResult r = c.poll(nanoseconds(0));
  ASSERT_FALSE(r.records.empty());
  EXPECT_EQ(r.records[0].offset(), 77);
}

// A poll decompresses batches up to a budget once it has records, so that
// its memory stays bounded whatever max_poll_records allows; the rest come
// with the next polls, none lost, none twice.
TEST_P(CompressionTest, APollLeavesBatchesPastItsBudgetToTheNext) {
  use_topic({.partitions = 1, .segment_bytes = 32 << 20, .segment_count = 4});
  constexpr std::size_t kValueBytes = 64 << 10, kPerBatch = 32, kBatches = 6;  // 2 MiB a batch, 12 MiB in all
  static_assert(kValueBytes * kPerBatch * kBatches > client::BatchInflater::kPollBudgetBytes);
  bench::JsonRecords gen;
  std::vector<Sent> sent(kPerBatch * kBatches);
  for (std::size_t i = 0; i < sent.size(); ++i) {
    while (sent[i].value.size() < kValueBytes) sent[i].value += gen.next();
    sent[i].value.resize(kValueBytes);
    sent[i].timestamp = static_cast<std::int64_t>(i);
  }
  {
    Producer p = producer();
    send_all(p, sent, kPerBatch);
  }
  Consumer c = consumer(512);
  std::vector<std::size_t> per_poll;
  std::vector<Got> got;
  for (;;) {
    PollResult r = c.poll(nanoseconds(0));
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    if (r.records.empty()) break;
    per_poll.push_back(r.records.size());
    for (const RecordView& v : r.records) got.push_back(copy(v));
  }
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].offset, static_cast<std::int64_t>(i));
    ASSERT_EQ(got[i].record.value, sent[i].value);
  }
  ASSERT_GT(per_poll.size(), 1u) << "max_poll_records would take all " << sent.size() << " at once";
  const std::size_t budget_batches = client::BatchInflater::kPollBudgetBytes / (kValueBytes * kPerBatch);
  EXPECT_LE(per_poll[0], (budget_batches + 1) * kPerBatch);
  EXPECT_GE(per_poll[0], kPerBatch);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressionTest, ::testing::ValuesIn(kCodecs),
                         [](const auto& info) { return std::string(compression_name(info.param)); });

TEST(CompressionOptions, AValueThatIsNotACodecFailsEveryBatchAndStoresNothing) {
  auto ns = Namespace::in_process().value();
  ASSERT_TRUE(ns->create_topic("t", {.partitions = 1}).is_ok());
  auto topic = ns->open_topic("t").value();
  Producer p(topic, {.compression = static_cast<Compression>(6)});
  const Message two[] = {Message{std::nullopt, "a", -1, {}}, Message{std::nullopt, "b", -1, {}}};
  auto n = p.send_batch(two);
  ASSERT_FALSE(n.is_ok());
  EXPECT_EQ(n.status().code(), Code::kInvalidArgument);
  EXPECT_NE(n.status().message().find("compression"), std::string::npos);
  EXPECT_EQ(client::ring_of(*topic, 0).latest_offset(), 0);
}

}  // namespace
}  // namespace rill
