#include "core/client/topic_rings.h"
#include "rill/consumer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/log/partition_ring.h"
#include "ipc/liveness.h"
#include "rill/rill.h"
#include "support/shm_guard.h"

namespace rill {
namespace {

using std::chrono::nanoseconds;

constexpr TopicConfig kSmall{.partitions = 3, .segment_bytes = 16384, .segment_count = 4, .index_interval = 256};

// A record as a test remembers it (views die with the next poll).
struct Seen {
  std::int32_t partition;
  std::int64_t offset;
  std::string value;
};

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override { use_topic(kSmall); }

  void use_topic(const TopicConfig& config) {
    auto ns = Namespace::in_process();
    ASSERT_TRUE(ns.is_ok());
    ns_ = *ns;
    ASSERT_TRUE(ns_->create_topic("t", config).is_ok());
    topic_ = ns_->open_topic("t").value();
    producer_ = std::make_unique<Producer>(topic_);
  }

  // Sends `n` records to partition p with values "p<p>-<i>" and timestamps ts0 + i*10.
  void produce(std::int32_t p, int n, std::int64_t ts0 = 1000, int first = 0) {
    for (int i = first; i < first + n; ++i)
      ASSERT_TRUE(producer_
                      ->send(std::nullopt, "p" + std::to_string(p) + "-" + std::to_string(i),
                             {.partition = p, .timestamp_ns = ts0 + i * 10})
                      .is_ok());
  }

  // Polls until nothing more arrives at once.
  static std::vector<Seen> drain(Consumer& c, std::int64_t* skipped = nullptr) {
    std::vector<Seen> out;
    for (;;) {
      PollResult r = c.poll(nanoseconds(0));
      EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
      if (skipped) *skipped += r.skipped;
      if (r.records.empty() && r.skipped == 0) return out;
      for (const RecordView& v : r.records) out.push_back({v.partition(), v.offset(), std::string(v.value())});
    }
  }

  std::shared_ptr<Namespace> ns_;
  std::shared_ptr<Topic> topic_;
  std::unique_ptr<Producer> producer_;
};

TEST_F(ConsumerTest, AssignValidatesPartitions) {
  Consumer c(topic_);
  PollResult none = c.poll(nanoseconds(0));
  EXPECT_EQ(none.status.code(), Code::kInvalidArgument);
  EXPECT_NE(none.status.message().find("assign"), std::string::npos);
  for (std::vector<std::int32_t> bad : {std::vector<std::int32_t>{3}, {-1}, {0, 0}, {1, 2, 1}}) {
    Status s = c.assign(bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
  }
  EXPECT_TRUE(c.assignment().empty()) << "a refused assignment changes nothing";
  const std::int32_t parts[] = {2, 0};
  ASSERT_TRUE(c.assign(parts).is_ok());
  EXPECT_EQ(std::vector<std::int32_t>(c.assignment().begin(), c.assignment().end()), (std::vector<std::int32_t>{2, 0}));
  EXPECT_EQ(c.position(1), -1) << "not assigned";
  EXPECT_EQ(c.seek(1, 0).code(), Code::kInvalidArgument);
  ASSERT_TRUE(c.assign_all().is_ok());
  EXPECT_EQ(c.assignment().size(), 3u);
}

// earliest_offset() and latest_offset() take any partition of the topic,
// assigned or not, and refuse one it lacks instead of reading past its rings.
TEST_F(ConsumerTest, OffsetsOfAPartitionTheTopicLacksAreAnErrorNamingIt) {
  produce(1, 7);
  Consumer c(topic_);
  EXPECT_EQ(c.earliest_offset(1).value(), 0) << "unassigned partitions are fine";
  EXPECT_EQ(c.latest_offset(1).value(), 7);
  EXPECT_EQ(c.latest_offset(2).value(), 0);
  for (std::int32_t bad : {3, 4, -1, std::numeric_limits<std::int32_t>::max(), std::numeric_limits<std::int32_t>::min()}) {
    for (const Result<std::int64_t>& r : {c.earliest_offset(bad), c.latest_offset(bad)}) {
      ASSERT_FALSE(r.is_ok()) << bad;
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
      const std::string m = r.status().message();
      EXPECT_NE(m.find("partition " + std::to_string(bad) + " does not exist"), std::string::npos) << m;
      EXPECT_NE(m.find("topic 't' has 3"), std::string::npos) << m;
    }
  }
}

TEST_F(ConsumerTest, NewConsumersStartAtTheEndUnlessAskedForTheBeginning) {
  produce(0, 5);
  Consumer latest(topic_);
  Consumer earliest(topic_, {.start_at_earliest = true});
  ASSERT_TRUE(latest.assign_all().is_ok());
  ASSERT_TRUE(earliest.assign_all().is_ok());
  EXPECT_EQ(latest.position(0), 5);
  EXPECT_EQ(earliest.position(0), 0);
  EXPECT_TRUE(drain(latest).empty());
  produce(0, 2, 1000, 5);
  std::vector<Seen> got = drain(latest);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].offset, 5);
  EXPECT_EQ(drain(earliest).size(), 7u);
}

TEST_F(ConsumerTest, PollReadsEveryPartitionInOrderAndFairly) {
  for (std::int32_t p = 0; p < 3; ++p) produce(p, 100);
  Consumer c(topic_, {.max_poll_records = 10, .start_at_earliest = true});
  ASSERT_TRUE(c.assign_all().is_ok());
  std::map<std::int32_t, std::int64_t> next;
  std::vector<std::set<std::int32_t>> per_poll;
  for (;;) {
    PollResult r = c.poll(nanoseconds(0));
    ASSERT_TRUE(r.status.is_ok());
    if (r.records.empty()) break;
    EXPECT_LE(r.records.size(), 10u);
    std::set<std::int32_t> parts;
    for (const RecordView& v : r.records) {
      EXPECT_EQ(v.offset(), next[v.partition()]++);
      EXPECT_EQ(v.value(), "p" + std::to_string(v.partition()) + "-" + std::to_string(v.offset()));
      parts.insert(v.partition());
    }
    per_poll.push_back(parts);
  }
  for (std::int32_t p = 0; p < 3; ++p) {
    EXPECT_EQ(next[p], 100);
    EXPECT_EQ(c.position(p), 100);
  }
  // Round-robin start: no partition waits while another has records.
  ASSERT_GE(per_poll.size(), 3u);
  std::set<std::int32_t> first_three;
  for (int i = 0; i < 3; ++i) first_three.insert(per_poll[i].begin(), per_poll[i].end());
  EXPECT_EQ(first_three.size(), 3u);
}

TEST_F(ConsumerTest, PollWithZeroTimeoutReturnsAtOnceAndTimesOutEmpty) {
  Consumer c(topic_, {.start_at_earliest = true});
  ASSERT_TRUE(c.assign_all().is_ok());
  PollResult r = c.poll(nanoseconds(0));
  EXPECT_TRUE(r.status.is_ok());
  EXPECT_TRUE(r.records.empty());
  EXPECT_EQ(r.skipped, 0);
  r = c.poll(std::chrono::milliseconds(20));
  EXPECT_TRUE(r.status.is_ok());
  EXPECT_TRUE(r.records.empty());
}

TEST_F(ConsumerTest, SeekToOffsetBeginningEnd) {
  produce(1, 50);
  Consumer c(topic_);
  const std::int32_t parts[] = {1};
  ASSERT_TRUE(c.assign(parts).is_ok());
  ASSERT_TRUE(c.seek(1, 17).is_ok());
  EXPECT_EQ(c.position(1), 17);
  std::vector<Seen> got = drain(c);
  ASSERT_EQ(got.size(), 33u);
  EXPECT_EQ(got.front().offset, 17);
  EXPECT_EQ(got.front().value, "p1-17");
  EXPECT_EQ(c.position(1), 50);

  Status out = c.seek(1, 51);
  EXPECT_EQ(out.code(), Code::kOffsetOutOfRange);
  EXPECT_NE(out.message().find("partition 1"), std::string::npos) << out.message();
  EXPECT_EQ(c.position(1), 50) << "a failed seek leaves the position alone";
  ASSERT_TRUE(c.seek(1, 50).is_ok());
  EXPECT_TRUE(drain(c).empty());

  ASSERT_TRUE(c.seek_to_beginning().is_ok());
  EXPECT_EQ(c.position(1), 0);
  EXPECT_EQ(drain(c).size(), 50u);
  ASSERT_TRUE(c.seek(1, 0).is_ok());
  ASSERT_TRUE(c.seek_to_end().is_ok());
  EXPECT_EQ(c.position(1), 50);
  EXPECT_TRUE(drain(c).empty());
  EXPECT_EQ(c.earliest_offset(1).value(), 0);
  EXPECT_EQ(c.latest_offset(1).value(), 50);
}

TEST_F(ConsumerTest, SeekToTime) {
  produce(0, 40, 1000);  // timestamps 1000, 1010, ...
  produce(2, 40, 2000);  // 2000, 2010, ...
  Consumer c(topic_);
  const std::int32_t parts[] = {0, 2};
  ASSERT_TRUE(c.assign(parts).is_ok());
  ASSERT_TRUE(c.seek_to_time(1205).is_ok());
  EXPECT_EQ(c.position(0), 21);  // first timestamp >= 1205 is 1210
  EXPECT_EQ(c.position(2), 0);   // everything in partition 2 is later
  ASSERT_TRUE(c.seek_to_time(2100).is_ok());
  EXPECT_EQ(c.position(0), 40) << "after everything: the end";
  EXPECT_EQ(c.position(2), 10);
  ASSERT_TRUE(c.seek_to_time(0).is_ok());
  EXPECT_EQ(c.position(0), 0);
  EXPECT_EQ(c.position(2), 0);
  ASSERT_TRUE(c.seek_to_time(2010).is_ok());
  std::vector<Seen> got = drain(c);
  ASSERT_EQ(got.size(), 39u);
}

TEST_F(ConsumerTest, SeekToTimeWithEqualTimestamps) {
  for (int i = 0; i < 30; ++i)
    ASSERT_TRUE(producer_->send(std::nullopt, "v", {.partition = 0, .timestamp_ns = 100 + (i / 10) * 100}).is_ok());
  Consumer c(topic_);
  const std::int32_t parts[] = {0};
  ASSERT_TRUE(c.assign(parts).is_ok());
  for (auto [t, expected] : {std::pair{100, 0}, {150, 10}, {200, 10}, {300, 20}, {301, 30}}) {
    ASSERT_TRUE(c.seek_to_time(t).is_ok());
    EXPECT_EQ(c.position(0), expected) << t;
  }
}

TEST_F(ConsumerTest, IndependentConsumersEachSeeEveryRecord) {
  produce(0, 30);
  produce(1, 20);
  std::vector<std::unique_ptr<Consumer>> consumers;
  for (int i = 0; i < 4; ++i) {
    consumers.push_back(std::make_unique<Consumer>(topic_, ConsumerOptions{.start_at_earliest = true}));
    ASSERT_TRUE(consumers.back()->assign_all().is_ok());
  }
  // Interleave the consumers' polls: none takes records from another.
  std::vector<std::vector<Seen>> got(4);
  for (int round = 0; round < 100; ++round)
    for (int i = 0; i < 4; ++i) {
      PollResult r = consumers[i]->poll(nanoseconds(0));
      for (const RecordView& v : r.records) got[i].push_back({v.partition(), v.offset(), std::string(v.value())});
    }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(got[i].size(), 50u) << "consumer " << i;
    std::map<std::int32_t, std::int64_t> next;
    for (const Seen& s : got[i]) EXPECT_EQ(s.offset, next[s.partition]++);
  }
}

TEST_F(ConsumerTest, MaxPollRecordsIsRespected) {
  produce(0, 100);
  Consumer c(topic_, {.max_poll_records = 7, .start_at_earliest = true});
  ASSERT_TRUE(c.assign_all().is_ok());
  std::size_t total = 0;
  for (;;) {
    PollResult r = c.poll(nanoseconds(0));
    if (r.records.empty()) break;
    EXPECT_LE(r.records.size(), 7u);
    total += r.records.size();
  }
  EXPECT_EQ(total, 100u);
}

// ---------------------------------------------------------------- overrun

// Sends records to partition p until its earliest offset passes `beyond`.
void produce_until_earliest_passes(Producer& producer, const std::shared_ptr<Topic>& topic, std::int32_t p,
                                   std::int64_t beyond) {
  const std::string filler(100, 'f');
  while (client::ring_of(*topic, p).earliest_offset() <= beyond)
    ASSERT_TRUE(producer.send(std::nullopt, filler, {.partition = p}).is_ok());
}

TEST_F(ConsumerTest, OverrunResetsToEarliestAndReportsExactlyWhatWasSkipped) {
  Consumer c(topic_, {.max_poll_records = 16, .start_at_earliest = true});
  const std::int32_t parts[] = {0};
  ASSERT_TRUE(c.assign(parts).is_ok());
  produce(0, 10);
  ASSERT_EQ(drain(c).size(), 10u);
  produce_until_earliest_passes(*producer_, topic_, 0, 10);
  const std::int64_t earliest = client::ring_of(*topic_, 0).earliest_offset();
  const std::int64_t latest = client::ring_of(*topic_, 0).latest_offset();
  PollResult r = c.poll(nanoseconds(0));
  ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
  EXPECT_EQ(r.skipped, earliest - 10);
  ASSERT_FALSE(r.records.empty());
  EXPECT_EQ(r.records[0].offset(), earliest);
  std::int64_t received = static_cast<std::int64_t>(r.records.size());
  std::int64_t skipped = r.skipped;
  std::vector<Seen> rest = drain(c, &skipped);
  received += static_cast<std::int64_t>(rest.size());
  EXPECT_EQ(skipped, earliest - 10) << "nothing more lost";
  EXPECT_EQ(10 + skipped + received, latest) << "every offset read or reported skipped, once";
  EXPECT_EQ(c.position(0), latest);

  // Overrun again, from the middle of a segment.
  const std::int64_t at = c.position(0);
  produce_until_earliest_passes(*producer_, topic_, 0, at + 5);
  skipped = 0;
  std::vector<Seen> after = drain(c, &skipped);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(skipped, after.front().offset - at);
  EXPECT_EQ(at + skipped + static_cast<std::int64_t>(after.size()), client::ring_of(*topic_, 0).latest_offset());
}

TEST_F(ConsumerTest, OverrunIsAnErrorWhenAskedAndTheConsumerStaysPut) {
  Consumer c(topic_, {.on_overrun = OffsetReset::kError, .start_at_earliest = true});
  const std::int32_t parts[] = {1};
  ASSERT_TRUE(c.assign(parts).is_ok());
  produce_until_earliest_passes(*producer_, topic_, 1, 0);
  const std::int64_t earliest = client::ring_of(*topic_, 1).earliest_offset();
  for (int i = 0; i < 2; ++i) {
    PollResult r = c.poll(nanoseconds(0));
    EXPECT_EQ(r.status.code(), Code::kOffsetOutOfRange);
    EXPECT_NE(r.status.message().find("earliest retained offset is " + std::to_string(earliest)), std::string::npos)
        << r.status.message();
    EXPECT_TRUE(r.records.empty());
    EXPECT_EQ(r.skipped, 0);
    EXPECT_EQ(r.out_of_range_partition, 1);
    EXPECT_EQ(r.earliest_offset, earliest);
    EXPECT_EQ(c.position(1), 0);
  }
  ASSERT_TRUE(c.seek_to_beginning().is_ok());
  EXPECT_EQ(c.position(1), earliest);
  PollResult r = c.poll(nanoseconds(0));
  EXPECT_TRUE(r.status.is_ok());
  ASSERT_FALSE(r.records.empty());
  EXPECT_EQ(r.records[0].offset(), earliest);
}

TEST_F(ConsumerTest, StillValidTurnsFalseOnceTheViewsAreReused) {
  Consumer c(topic_, {.start_at_earliest = true});
  const std::int32_t parts[] = {0};
  ASSERT_TRUE(c.assign(parts).is_ok());
  EXPECT_TRUE(c.still_valid()) << "nothing polled yet";
  produce(0, 20);
  PollResult r = c.poll(nanoseconds(0));
  ASSERT_EQ(r.records.size(), 20u);
  EXPECT_TRUE(c.still_valid());
  EXPECT_EQ(r.records[19].value(), "p0-19");
  // The ring laps while the views are held.
  produce_until_earliest_passes(*producer_, topic_, 0, 19);
  EXPECT_FALSE(c.still_valid());
  // A new poll brings valid views again.
  r = c.poll(nanoseconds(0));
  EXPECT_GT(r.skipped, 0);
  EXPECT_TRUE(c.still_valid());
}

TEST_F(ConsumerTest, StillValidJudgesOnlyTheLastPollsViews) {
  // With max_poll_records reached, a poll reads only some partitions. What an
  // earlier poll read from the others must not count: those views are gone.
  Consumer c(topic_, {.max_poll_records = 4, .start_at_earliest = true});
  const std::int32_t parts[] = {0, 1};
  ASSERT_TRUE(c.assign(parts).is_ok());
  produce(0, 10);
  produce(1, 10);
  PollResult first = c.poll(nanoseconds(0));
  ASSERT_EQ(first.records.size(), 4u);
  const std::int32_t first_partition = first.records[0].partition();
  PollResult second = c.poll(nanoseconds(0));
  ASSERT_EQ(second.records.size(), 4u);
  const std::int32_t second_partition = second.records[0].partition();
  ASSERT_NE(first_partition, second_partition) << "round-robin start";
  for (const RecordView& v : second.records) ASSERT_EQ(v.partition(), second_partition);
  // The partition read by the first poll only is lapped.
  produce_until_earliest_passes(*producer_, topic_, first_partition, 10);
  EXPECT_TRUE(c.still_valid()) << "the last poll's views (partition " << second_partition << ") are intact";
  EXPECT_EQ(second.records[3].value(), "p" + std::to_string(second_partition) + "-3");
}

// ---------------------------------------------------------------- damaged records

TEST_F(ConsumerTest, VerifyChecksumsCatchesAFlippedByte) {
  produce(0, 10);
  produce(1, 10);
  // Damage the value of partition 0's offset 4.
  {
    Consumer finder(topic_, {.start_at_earliest = true});
    const std::int32_t parts[] = {0};
    ASSERT_TRUE(finder.assign(parts).is_ok());
    PollResult r = finder.poll(nanoseconds(0));
    ASSERT_EQ(r.records.size(), 10u);
    const RecordView& victim = r.records[4];
    ASSERT_EQ(victim.value(), "p0-4");
    auto* byte = const_cast<char*>(victim.value().data()) + 1;
    *byte ^= 0x01;
    EXPECT_FALSE(victim.verify_checksum());
  }

  // Without verification the damaged record is delivered as it is.
  Consumer trusting(topic_, {.start_at_earliest = true});
  ASSERT_TRUE(trusting.assign_all().is_ok());
  EXPECT_EQ(drain(trusting).size(), 20u);

  Consumer checking(topic_, {.start_at_earliest = true, .verify_checksums = true});
  const std::int32_t parts[] = {0, 1};
  ASSERT_TRUE(checking.assign(parts).is_ok());
  // The records before the damaged one are delivered first (with other
  // partitions' records), as for a frame of bad lengths; the next poll
  // reports it.
  PollResult r = checking.poll(nanoseconds(0));
  EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
  std::map<std::int32_t, std::vector<std::int64_t>> offsets;
  for (const RecordView& v : r.records) offsets[v.partition()].push_back(v.offset());
  EXPECT_EQ(offsets[0], (std::vector<std::int64_t>{0, 1, 2, 3})) << "the records before the damaged one are delivered";
  EXPECT_EQ(checking.position(0), 4) << "the consumer stays on the damaged record";
  r = checking.poll(nanoseconds(0));
  EXPECT_EQ(r.status.code(), Code::kCorrupt);
  EXPECT_NE(r.status.message().find("partition 0"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("offset 4"), std::string::npos) << r.status.message();
  for (const RecordView& v : r.records) {
    EXPECT_EQ(v.partition(), 1) << "other partitions lose nothing";
    offsets[v.partition()].push_back(v.offset());
  }

  // The error repeats (alongside other partitions' records) until skipped.
  for (int i = 0; i < 3; ++i) {
    r = checking.poll(nanoseconds(0));
    EXPECT_EQ(r.status.code(), Code::kCorrupt);
    EXPECT_EQ(checking.position(0), 4);
    for (const RecordView& v : r.records) {
      EXPECT_EQ(v.partition(), 1);
      offsets[v.partition()].push_back(v.offset());
    }
  }

  // Skipping it resumes: every other record arrives exactly once.
  ASSERT_TRUE(checking.seek(0, 5).is_ok());
  for (const Seen& s : drain(checking)) offsets[s.partition].push_back(s.offset);
  EXPECT_EQ(offsets[0].size(), 9u);
  std::sort(offsets[0].begin(), offsets[0].end());
  EXPECT_EQ(offsets[0], (std::vector<std::int64_t>{0, 1, 2, 3, 5, 6, 7, 8, 9}));
  offsets[0].erase(offsets[0].begin(), offsets[0].begin() + 4);
  EXPECT_EQ(offsets[0], (std::vector<std::int64_t>{5, 6, 7, 8, 9}));
  EXPECT_EQ(offsets[1], (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_F(ConsumerTest, VerifyChecksumsAcrossASegmentEnd) {
  // The damaged record is the first of a segment, reached through an END word.
  const std::string value(1000, 'v');
  while (client::ring_of(*topic_, 0).latest().generation == 0)
    ASSERT_TRUE(producer_->send(std::nullopt, value, {.partition = 0}).is_ok());
  const std::int64_t first_of_segment_1 = client::ring_of(*topic_, 0).latest_offset() - 1;
  ASSERT_TRUE(producer_->send(std::nullopt, value, {.partition = 0}).is_ok());
  {
    Consumer finder(topic_);
    const std::int32_t parts[] = {0};
    ASSERT_TRUE(finder.assign(parts).is_ok());
    ASSERT_TRUE(finder.seek(0, first_of_segment_1).is_ok());
    PollResult r = finder.poll(nanoseconds(0));
    ASSERT_FALSE(r.records.empty());
    const_cast<std::byte*>(r.records[0].frame())[log::kTimestampOffset] ^= std::byte{0x40};
  }
  Consumer checking(topic_, {.start_at_earliest = true, .verify_checksums = true});
  const std::int32_t parts[] = {0};
  ASSERT_TRUE(checking.assign(parts).is_ok());
  std::int64_t delivered = 0;
  Status status;
  for (int i = 0; i < 10 && status.is_ok(); ++i) {
    PollResult r = checking.poll(nanoseconds(0));
    delivered += static_cast<std::int64_t>(r.records.size());
    status = r.status;
  }
  EXPECT_EQ(status.code(), Code::kCorrupt);
  EXPECT_EQ(delivered, first_of_segment_1);
  EXPECT_EQ(checking.position(0), first_of_segment_1);
  ASSERT_TRUE(checking.seek(0, first_of_segment_1 + 1).is_ok());
  std::vector<Seen> rest = drain(checking);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].offset, first_of_segment_1 + 1);
}

TEST_F(ConsumerTest, CorruptFrameIsReportedAtItsOffsetAfterTheGoodRecords) {
  produce(2, 6);
  // A broken writer claims offset 6 and commits a hostile length.
  log::PartitionRing& ring = client::ring_of(*topic_, 2);
  log::Claim claim;
  auto slot = ring.acquire_slot(ipc::self());
  ASSERT_TRUE(slot.is_ok());
  ASSERT_EQ(ring.claim(64, 1, *slot, &claim), log::ClaimStatus::kOk);
  const std::uint64_t word = log::make_commit_word(log::make_info(log::kKindRecord, log::kLengthMask), 0);
  std::memcpy(claim.data, &word, sizeof word);
  ring.notify();
  produce(2, 3, 1000, 7);

  Consumer c(topic_, {.start_at_earliest = true});
  const std::int32_t parts[] = {2};
  ASSERT_TRUE(c.assign(parts).is_ok());
  PollResult r = c.poll(nanoseconds(0));
  EXPECT_TRUE(r.status.is_ok());
  EXPECT_EQ(r.records.size(), 6u);
  r = c.poll(nanoseconds(0));
  EXPECT_EQ(r.status.code(), Code::kCorrupt);
  EXPECT_NE(r.status.message().find("offset 6"), std::string::npos) << r.status.message();
  EXPECT_TRUE(r.records.empty());
  EXPECT_EQ(c.position(2), 6);
}

TEST_F(ConsumerTest, MovedConsumerKeepsItsPlace) {
  produce(0, 10);
  Consumer a(topic_, {.start_at_earliest = true});
  ASSERT_TRUE(a.assign_all().is_ok());
  PollResult r = a.poll(nanoseconds(0));
  ASSERT_EQ(r.records.size(), 10u);
  Consumer b(std::move(a));
  EXPECT_EQ(b.position(0), 10);
  produce(0, 1, 1000, 10);
  std::vector<Seen> got = drain(b);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].offset, 10);
}

}  // namespace
}  // namespace rill

namespace rill {
namespace {

// A consumer that has read everything and waits when shared memory is
// damaged so that it would wait for nothing (the tail counts a record no
// producer claims): poll() says kCorrupt, naming the partition and the word,
// within its polls of any timeout - it used to sleep forever.
TEST(ConsumerOnADamagedRing, AWaitingConsumerSeesTheDamageWithinItsPolls) {
  testing::ShmGuard guard;
  auto ns = Namespace::open_shared(guard.ns()).value();
  ASSERT_TRUE(ns->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 8}).is_ok());
  auto topic = ns->open_topic("t").value();
  Producer producer(topic);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(producer.send(std::nullopt, "v" + std::to_string(i)).is_ok());
  const std::string object = "/dev/shm/rill." + guard.ns() + ".t.0";
  const int fd = ::open(object.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << object;
  void* map = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(map, MAP_FAILED);
  auto* header = static_cast<log::PartitionHeader*>(map);
  for (const auto timeout : {nanoseconds(0), nanoseconds(1'000'000), nanoseconds(100'000'000)}) {
    SCOPED_TRACE(timeout.count());
    Consumer consumer(topic, {.start_at_earliest = true});
    ASSERT_TRUE(consumer.assign_all().is_ok());
    for (PollResult r = consumer.poll(nanoseconds(0)); !r.records.empty(); r = consumer.poll(nanoseconds(0)))
      ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    EXPECT_TRUE(consumer.poll(timeout).status.is_ok()) << "sound, it only waits";
    const std::uint64_t sound = header->tail.load();
    const std::int64_t end = client::ring_of(*topic, 0).latest_offset();
    header->tail.store(sound + (1ull << 28));  // one record past every claim
    Status seen;
    for (auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
         seen.is_ok() && std::chrono::steady_clock::now() < give_up;) {
      PollResult r = consumer.poll(timeout);
      EXPECT_TRUE(r.records.empty());
      seen = r.status;
    }
    EXPECT_EQ(seen.code(), Code::kCorrupt) << seen.to_string();
    EXPECT_NE(seen.message().find("partition 0"), std::string::npos) << seen.message();
    EXPECT_NE(seen.message().find("tail"), std::string::npos) << seen.message();
    header->tail.store(sound);  // mended: the consumer waits again, records flow
    ASSERT_TRUE(producer.send(std::nullopt, "after").is_ok());
    PollResult r = consumer.poll(nanoseconds(1'000'000'000));
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    ASSERT_EQ(r.records.size(), 1u);
    EXPECT_EQ(r.records[0].value(), "after");
    EXPECT_EQ(r.records[0].offset(), end);
  }
  ::munmap(map, 4096);
}

}  // namespace
}  // namespace rill
