// Reservation (rill/producer.h): a zero-copy send that ends exactly once.
// commit() publishes the record; abort(), or dropping the reservation,
// publishes an abandoned frame that readers step over at once, so the
// partition's offsets stay dense and nobody waits on it.
//
// "At once" is asserted without timing: consumers here wait an hour before
// they would look for a dead producer's claim (abandoned_claim_timeout), and
// read with poll(0ns). A reader that got past an abort by any other way than
// the abandoned frame it left would not get past it at all.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "rill/rill.h"
#include "support/child_process.h"
#include "support/shm_guard.h"

namespace rill {
namespace {

using namespace std::chrono_literals;
using testing::Children;
using testing::ShmGuard;

constexpr TopicConfig kTopic{.partitions = 2, .segment_bytes = 16384, .segment_count = 8, .index_interval = 256};
constexpr ConsumerOptions kPatient{.start_at_earliest = true, .verify_checksums = true, .abandoned_claim_timeout = 1h};

// A record as a test remembers it (views die with the next poll).
struct Seen {
  std::int64_t offset;
  std::string key;
  std::string value;
  bool checksum_ok;
};

// What one poll(0ns) of `consumer` returns, copied.
struct Polled {
  std::vector<Seen> records;
  std::int64_t abandoned = 0;
  Status status;
};
Polled poll_now(Consumer& consumer) {
  PollResult r = consumer.poll(0ns);
  Polled out;
  for (const RecordView& v : r.records)
    out.records.push_back({v.offset(), std::string(v.key()), std::string(v.value()), v.verify_checksum()});
  out.abandoned = r.abandoned;
  out.status = r.status;
  return out;
}

void fill(Reservation& r, std::string_view text) {
  ASSERT_EQ(r.value().size(), text.size());
  std::memcpy(r.value().data(), text.data(), text.size());
}

class ReservationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = Namespace::in_process().value();
    ASSERT_TRUE(ns_->create_topic("t", kTopic).is_ok());
    topic_ = ns_->open_topic("t").value();
  }

  // A consumer of partition p from its start.
  std::unique_ptr<Consumer> reader(std::int32_t p = 0) {
    auto c = std::make_unique<Consumer>(topic_, kPatient);
    const std::int32_t parts[] = {p};
    EXPECT_TRUE(c->assign(parts).is_ok());
    return c;
  }

  std::shared_ptr<Namespace> ns_;
  std::shared_ptr<Topic> topic_;
};

TEST_F(ReservationTest, ACommittedRecordIsReadBackWithItsKeyValueHeadersAndChecksum) {
  Producer producer(topic_);
  const Header headers[] = {{"h", std::string_view("hv")}};
  auto r = producer.reserve("key", 5, {.partition = 0, .timestamp_ns = 1234, .headers = headers});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->pending());
  EXPECT_EQ(r->partition(), 0);
  EXPECT_EQ(r->offset(), 0);
  fill(*r, "value");
  r->commit();
  EXPECT_FALSE(r->pending());
  EXPECT_TRUE(r->value().empty()) << "an ended reservation hands out no bytes to write";
  EXPECT_EQ(r->partition(), 0) << "where it went stays readable";
  EXPECT_EQ(r->offset(), 0);

  auto consumer = reader();
  PollResult got = consumer->poll(0ns);
  ASSERT_TRUE(got.status.is_ok()) << got.status.to_string();
  ASSERT_EQ(got.records.size(), 1u);
  const RecordView& v = got.records[0];
  EXPECT_EQ(v.offset(), 0);
  EXPECT_EQ(v.key(), "key");
  EXPECT_EQ(v.value(), "value");
  EXPECT_EQ(v.timestamp_ns(), 1234);
  ASSERT_EQ(v.header_count(), 1);
  std::vector<std::string> seen;
  EXPECT_TRUE(v.for_each_header(
      [&](const HeaderView& h) { seen.push_back(std::string(h.key) + "=" + std::string(h.value.value_or("null"))); }));
  EXPECT_EQ(seen, std::vector<std::string>{"h=hv"});
  EXPECT_TRUE(v.verify_checksum()) << "commit() checksums what the caller wrote";
  EXPECT_NE(v.checksum(), 0u);
  EXPECT_EQ(got.abandoned, 0);
}

TEST_F(ReservationTest, AnAbortedOffsetIsSkippedAndTheNextRecordIsReadAtOnce) {
  Producer producer(topic_);
  ASSERT_TRUE(producer.send("k", "before", {.partition = 0}).is_ok());
  auto r = producer.reserve("k", 64, {.partition = 0});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->offset(), 1);
  fill(*r, std::string(64, 'x'));  // written, then thought better of
  r->abort();
  EXPECT_FALSE(r->pending());
  EXPECT_EQ(r->offset(), 1);
  auto next = producer.send("k", "after", {.partition = 0});
  ASSERT_TRUE(next.is_ok());
  EXPECT_EQ(next->offset, 2) << "offsets stay dense: the aborted one is used up";

  auto consumer = reader();
  std::vector<Seen> records;
  std::int64_t abandoned = 0;
  for (Polled p = poll_now(*consumer); !p.records.empty() || p.abandoned > 0; p = poll_now(*consumer)) {
    ASSERT_TRUE(p.status.is_ok()) << p.status.to_string();
    records.insert(records.end(), p.records.begin(), p.records.end());
    abandoned += p.abandoned;
  }
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].offset, 0);
  EXPECT_EQ(records[0].value, "before");
  EXPECT_EQ(records[1].offset, 2);
  EXPECT_EQ(records[1].value, "after");
  EXPECT_TRUE(records[1].checksum_ok);
  EXPECT_EQ(abandoned, 1) << "the aborted offset is counted as abandoned, never read as a record";
  EXPECT_EQ(consumer->position(0), 3);
}

TEST_F(ReservationTest, AnAbortWakesAReaderSleepingAtItsOffset) {
  Producer producer(topic_);
  auto r = producer.reserve(std::nullopt, 8, {.partition = 0});
  ASSERT_TRUE(r.is_ok());
  auto consumer = reader();
  // Blocks on the topic's futex: nothing is readable at offset 0 until the
  // reservation ends. The 30 s is a guard against a hang, not a measurement:
  // a poll that ran into it returns neither a record nor an abandoned offset.
  auto polled = std::async(std::launch::async, [&] {
    PollResult p = consumer->poll(30s);
    return std::make_pair(p.records.size(), p.abandoned);
  });
  EXPECT_EQ(polled.wait_for(50ms), std::future_status::timeout) << "nothing to read before the abort";
  r->abort();
  const auto [records, abandoned] = polled.get();
  EXPECT_EQ(records, 0u);
  EXPECT_EQ(abandoned, 1) << "woken by the abort, not by its deadline";
  ASSERT_TRUE(producer.send(std::nullopt, "next", {.partition = 0}).is_ok());
  Polled p = poll_now(*consumer);
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.records[0].offset, 1);
  EXPECT_EQ(p.records[0].value, "next");
}

TEST_F(ReservationTest, AReservationDroppedInAScopeIsAbortedAndReadersMoveOn) {
  Producer producer(topic_);
  auto consumer = reader();
  {
    auto r = producer.reserve(std::nullopt, 16, {.partition = 0});
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->offset(), 0);
    std::memcpy(r->value().data(), "half", 4);  // an error path leaves before commit()
  }
  // So does one returned from a function and never looked at.
  const auto reserve_and_forget = [&] { return producer.reserve(std::nullopt, 16, {.partition = 0}).is_ok(); };
  ASSERT_TRUE(reserve_and_forget());
  ASSERT_TRUE(producer.send(std::nullopt, "after", {.partition = 0}).is_ok());
  Polled first = poll_now(*consumer);
  ASSERT_TRUE(first.status.is_ok()) << first.status.to_string();
  ASSERT_EQ(first.records.size(), 1u) << "the next record arrives in the first poll, without waiting";
  EXPECT_EQ(first.records[0].offset, 2);
  EXPECT_EQ(first.records[0].value, "after");
  EXPECT_EQ(first.abandoned, 2);
}

TEST_F(ReservationTest, AMovedFromReservationHoldsNothing) {
  Producer producer(topic_);
  auto r = producer.reserve(std::nullopt, 3, {.partition = 0});
  ASSERT_TRUE(r.is_ok());
  Reservation moved = std::move(*r);
  EXPECT_FALSE(r->pending());
  EXPECT_TRUE(r->value().empty());
  EXPECT_TRUE(moved.pending());
  EXPECT_EQ(moved.offset(), 0);
  r->abort();   // nothing: the claim moved away
  r->commit();  // nothing
  fill(moved, "one");

  // Assignment over a pending reservation aborts that one first.
  auto other = producer.reserve(std::nullopt, 3, {.partition = 1});
  ASSERT_TRUE(other.is_ok());
  fill(*other, "two");
  Reservation target;
  EXPECT_FALSE(target.pending());
  EXPECT_EQ(target.partition(), -1);
  target = std::move(moved);  // was empty: nothing to abort
  EXPECT_FALSE(moved.pending());
  target.commit();  // partition 0, offset 0: "one"
  Reservation second = std::move(*other);
  auto third = producer.reserve(std::nullopt, 5, {.partition = 1});  // refused: "two" still pending on 1
  EXPECT_EQ(third.status().code(), Code::kInvalidArgument);
  auto fourth = producer.reserve(std::nullopt, 4, {.partition = 0});
  ASSERT_TRUE(fourth.is_ok());
  fill(*fourth, "four");
  second = std::move(*fourth);  // aborts "two" (partition 1, offset 0), takes "four" (partition 0, offset 1)
  EXPECT_EQ(second.partition(), 0);
  EXPECT_EQ(second.offset(), 1);
  {
    Producer moved_producer = std::move(producer);  // reservations outlive a move of their producer
    second.commit();
    ASSERT_TRUE(moved_producer.send(std::nullopt, "five", {.partition = 1}).is_ok());
  }

  auto p0 = reader(0);
  Polled got0 = poll_now(*p0);
  ASSERT_EQ(got0.records.size(), 2u);
  EXPECT_EQ(got0.records[0].value, "one");
  EXPECT_EQ(got0.records[1].value, "four");
  EXPECT_EQ(got0.records[1].offset, 1);
  EXPECT_EQ(got0.abandoned, 0);
  auto p1 = reader(1);
  Polled got1 = poll_now(*p1);
  ASSERT_EQ(got1.records.size(), 1u);
  EXPECT_EQ(got1.records[0].offset, 1);
  EXPECT_EQ(got1.records[0].value, "five");
  EXPECT_EQ(got1.abandoned, 1);
}

TEST_F(ReservationTest, TheFirstEndCountsAndLaterCommitsOrAbortsDoNothing) {
  Producer producer(topic_);
  auto committed = producer.reserve(std::nullopt, 1, {.partition = 0});
  ASSERT_TRUE(committed.is_ok());
  fill(*committed, "c");
  producer.publish(*committed);  // publish() is commit()
  committed->commit();
  committed->abort();
  producer.publish(*committed);
  auto aborted = producer.reserve(std::nullopt, 1, {.partition = 0});
  ASSERT_TRUE(aborted.is_ok());
  EXPECT_EQ(aborted->offset(), 1);
  aborted->abort();
  aborted->commit();
  aborted->abort();
  ASSERT_TRUE(producer.send(std::nullopt, "s", {.partition = 0}).is_ok());

  auto consumer = reader();
  Polled got = poll_now(*consumer);
  ASSERT_EQ(got.records.size(), 2u);
  EXPECT_EQ(got.records[0].offset, 0);
  EXPECT_EQ(got.records[0].value, "c");
  EXPECT_EQ(got.records[1].offset, 2);
  EXPECT_EQ(got.records[1].value, "s");
  EXPECT_EQ(got.abandoned, 1);
  EXPECT_TRUE(poll_now(*consumer).records.empty()) << "each record once";
}

TEST_F(ReservationTest, OneReservationPerPartitionAtATime) {
  Producer producer(topic_);
  auto first = producer.reserve(std::nullopt, 1, {.partition = 0});
  ASSERT_TRUE(first.is_ok());
  auto refused = producer.reserve(std::nullopt, 1, {.partition = 0});
  ASSERT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("partition 0"), std::string::npos) << refused.status().message();
  EXPECT_NE(refused.status().message().find("still pending"), std::string::npos) << refused.status().message();
  auto elsewhere = producer.reserve(std::nullopt, 1, {.partition = 1});
  EXPECT_TRUE(elsewhere.is_ok()) << "another partition has a slot of its own";
  ASSERT_TRUE(producer.send(std::nullopt, "sends go on", {.partition = 0}).is_ok());
  Producer another(topic_);
  EXPECT_TRUE(another.reserve(std::nullopt, 1, {.partition = 0}).is_ok()) << "another producer's slot is its own";
  first->abort();
  auto again = producer.reserve(std::nullopt, 1, {.partition = 0});
  EXPECT_TRUE(again.is_ok()) << "once the first has ended";
}

TEST_F(ReservationTest, AbortsOfRecordsSpanningIndexEntriesKeepSeeksExact) {
  // Frames of 600 bytes cross the 256-byte index interval: an aborted one is
  // indexed like any frame, and a seek to any offset lands on it.
  Producer producer(topic_);
  const std::string value(600, 'v');
  for (int i = 0; i < 12; ++i) {
    auto r = producer.reserve(std::nullopt, value.size(), {.partition = 0});
    ASSERT_TRUE(r.is_ok());
    fill(*r, value);
    if (i % 3 == 1) {
      r->abort();
    } else {
      r->commit();
    }
  }
  auto consumer = reader();
  for (std::int64_t offset = 0; offset < 12; ++offset) {
    ASSERT_TRUE(consumer->seek(0, offset).is_ok()) << offset;
    std::vector<std::int64_t> offsets;
    for (Polled p = poll_now(*consumer); !p.records.empty() || p.abandoned > 0; p = poll_now(*consumer))
      for (const Seen& s : p.records) offsets.push_back(s.offset);
    std::vector<std::int64_t> expected;
    for (std::int64_t o = offset; o < 12; ++o)
      if (o % 3 != 1) expected.push_back(o);
    EXPECT_EQ(offsets, expected) << "from " << offset;
  }
}

// The same by time: an aborted frame that crosses an index entry has no
// timestamp, and a search by time never starts at it (it once read the
// frame's offsets word as its time, 1, and landed past the records between
// the entry before and the aborted frame).
TEST_F(ReservationTest, AbortsOfRecordsSpanningIndexEntriesKeepTimeSeeksExact) {
  Producer producer(topic_);
  const std::string value(600, 'v');
  for (int i = 0; i < 24; ++i) {
    auto r = producer.reserve(std::nullopt, value.size(), {.partition = 0, .timestamp_ns = 1000 * (i + 1)});
    ASSERT_TRUE(r.is_ok());
    fill(*r, value);
    if (i % 3 == 1) {
      r->abort();
    } else {
      r->commit();
    }
  }
  auto consumer = reader();
  for (std::int64_t t = 500; t < 25'000; t += 500) {
    ASSERT_TRUE(consumer->seek_to_time(t).is_ok()) << t;
    PollResult p = consumer->poll(0ns);
    std::int64_t expected = -1;
    for (int i = 0; i < 24 && expected < 0; ++i)
      if (i % 3 != 1 && 1000 * (i + 1) >= t) expected = i;
    if (expected < 0) {
      EXPECT_TRUE(p.records.empty()) << t;
      continue;
    }
    ASSERT_FALSE(p.records.empty()) << t;
    EXPECT_EQ(p.records[0].offset(), expected) << "seek_to_time(" << t << ")";
  }
}

TEST(ExclusiveReservation, AnAbortUnderTheLeaseIsSkippedToo) {
  auto ns = Namespace::in_process().value();
  ASSERT_TRUE(ns->create_topic("t", kTopic).is_ok());
  auto topic = ns->open_topic("t").value();
  Producer producer(topic, {.exclusive = true});
  ASSERT_TRUE(producer.send(std::nullopt, "a", {.partition = 0}).is_ok());
  {
    auto r = producer.reserve(std::nullopt, 2, {.partition = 0});
    ASSERT_TRUE(r.is_ok());
  }
  ASSERT_TRUE(producer.send(std::nullopt, "c", {.partition = 0}).is_ok());
  Consumer consumer(topic, kPatient);
  const std::int32_t parts[] = {0};
  ASSERT_TRUE(consumer.assign(parts).is_ok());
  Polled got = poll_now(consumer);
  ASSERT_EQ(got.records.size(), 2u);
  EXPECT_EQ(got.records[0].value, "a");
  EXPECT_EQ(got.records[1].offset, 2);
  EXPECT_EQ(got.records[1].value, "c");
  EXPECT_EQ(got.abandoned, 1);
}

// Across processes: a child drops a reservation and sends one more record,
// then exits. The parent reads on past the dropped offset at once: the
// child left an abandoned frame, it was not taken for dead (that takes an
// hour here).
TEST(SharedReservation, AReservationDroppedInAnotherProcessIsPassedAtOnce) {
  ShmGuard guard;
  {
    auto ns = Namespace::open_shared(guard.ns());
    ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
    ASSERT_TRUE((*ns)->create_topic("t", kTopic).is_ok());
  }
  const std::string name = guard.ns();
  Children children;
  const pid_t child = children.spawn("drops a reservation, then sends", [&](std::string& report) {
    auto ns = Namespace::open_shared(name);
    if (!ns) {
      report = ns.status().to_string();
      return 2;
    }
    auto topic = (*ns)->open_topic("t");
    if (!topic) return 2;
    Producer producer(*topic);
    {
      auto r = producer.reserve(std::nullopt, 32, {.partition = 0});
      if (!r) {
        report = r.status().to_string();
        return 1;
      }
      auto committed = producer.reserve(std::nullopt, 9, {.partition = 1});
      if (!committed) return 1;
      std::memcpy(committed->value().data(), "committed", 9);
      committed->commit();
    }
    return producer.send(std::nullopt, "after", {.partition = 0}).is_ok() ? 0 : 1;
  });
  const testing::ChildResult done = children.wait_one(child, 30s);
  ASSERT_TRUE(done.ok()) << done.describe();
  auto topic = Namespace::open_shared(name).value()->open_topic("t").value();
  Consumer consumer(topic, kPatient);
  ASSERT_TRUE(consumer.assign_all().is_ok());
  std::vector<Seen> records;
  std::int64_t abandoned = 0;
  for (Polled p = poll_now(consumer); !p.records.empty() || p.abandoned > 0; p = poll_now(consumer)) {
    records.insert(records.end(), p.records.begin(), p.records.end());
    abandoned += p.abandoned;
  }
  std::vector<std::string> values;
  for (const Seen& s : records) values.push_back(s.value + "@" + std::to_string(s.offset));
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, (std::vector<std::string>{"after@1", "committed@0"}));
  EXPECT_EQ(abandoned, 1);
}

}  // namespace
}  // namespace rill
