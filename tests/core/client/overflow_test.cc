// overflow=block: producers wait for the slowest live registered reader (and
// fail with kTimedOut naming it when it does not move); readers of dead
// processes hold nobody back. overflow=retain keeps the ring's capacity.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/client/topic_rings.h"
#include "core/log/partition_ring.h"
#include "rill/rill.h"
#include "tests/support/shm_guard.h"

namespace rill {
namespace {

using namespace std::chrono_literals;

constexpr TopicConfig kBlock{.partitions = 1,
                             .segment_bytes = 16384,
                             .segment_count = 4,
                             .index_interval = 4096,
                             .overflow = Overflow::kBlock,
                             .overflow_timeout_ms = 100};

std::string value_of(int i) { return "record-" + std::to_string(i) + std::string(100, '.'); }

// Reads everything available; checks offsets are 0, 1, 2, ... and values match.
int drain_in_order(Consumer& c, int expect_from) {
  int next = expect_from;
  for (;;) {
    PollResult r = c.poll(0ns);
    EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
    EXPECT_EQ(r.skipped, 0);
    if (r.records.empty()) return next;
    for (const RecordView& v : r.records) {
      EXPECT_EQ(v.offset(), next);
      EXPECT_EQ(v.value(), value_of(next));
      ++next;
    }
  }
}

TEST(Overflow, ABlockedProducerTimesOutNamingTheReaderAndLosesNothing) {
  auto ns = Namespace::in_process().value();
  ASSERT_TRUE(ns->create_topic("b", kBlock).is_ok());
  auto topic = ns->open_topic("b").value();
  Consumer reader(topic, {.start_at_earliest = true});
  ASSERT_TRUE(reader.assign_all().is_ok());
  Producer producer(topic);
  int sent = 0;
  Status failed;
  for (; sent < 100'000; ++sent) {
    auto r = producer.send(std::nullopt, value_of(sent));
    if (!r) {
      failed = r.status();
      break;
    }
  }
  ASSERT_EQ(failed.code(), Code::kTimedOut) << "the ring never filled: " << failed.to_string();
  EXPECT_NE(failed.message().find("reader process " + std::to_string(::getpid()) + " at offset 0"), std::string::npos)
      << failed.message();
  EXPECT_NE(failed.message().find("overflow=block"), std::string::npos);
  // Nothing was overwritten: the reader gets every record from offset 0.
  EXPECT_EQ(drain_in_order(reader, 0), sent);
  // Having read, it no longer holds the producer back.
  ASSERT_TRUE(producer.send(std::nullopt, value_of(sent)).is_ok());
  EXPECT_EQ(drain_in_order(reader, sent), sent + 1);
}

TEST(Overflow, ASlowReaderPacesTheProducerAndGetsEveryRecordOnce) {
  auto ns = Namespace::in_process().value();
  TopicConfig config = kBlock;
  config.overflow_timeout_ms = 30'000;
  ASSERT_TRUE(ns->create_topic("b", config).is_ok());
  auto topic = ns->open_topic("b").value();
  constexpr int kRecords = 20'000;  // many laps of a 4 x 16 KiB ring
  Consumer reader(topic, {.start_at_earliest = true});
  ASSERT_TRUE(reader.assign_all().is_ok());
  std::thread producing([&] {
    Producer producer(topic);
    for (int i = 0; i < kRecords; ++i) ASSERT_TRUE(producer.send(std::nullopt, value_of(i)).is_ok()) << i;
  });
  int next = 0;
  while (next < kRecords) {
    PollResult r = reader.poll(100ms);
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    ASSERT_EQ(r.skipped, 0) << "overrun at " << next;
    for (const RecordView& v : r.records) {
      ASSERT_EQ(v.offset(), next);
      ASSERT_EQ(v.value(), value_of(next));
      ++next;
    }
    if (next % 997 == 0) std::this_thread::sleep_for(1ms);  // slower than the producer
  }
  producing.join();
}

TEST(Overflow, AReaderOfADeadProcessHoldsNobodyBack) {
  testing::ShmGuard guard;
  {
    auto ns = Namespace::open_shared(guard.ns()).value();
    ASSERT_TRUE(ns->create_topic("b", kBlock).is_ok());
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto ns = Namespace::open_shared(guard.ns());
    if (!ns) ::_exit(2);
    auto topic = (*ns)->open_topic("b");
    if (!topic) ::_exit(3);
    Consumer reader(*topic, {.start_at_earliest = true});
    if (!reader.assign_all()) ::_exit(4);
    ::raise(SIGKILL);  // dies registered, at offset 0
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto ns = Namespace::open_shared(guard.ns()).value();
  auto topic = ns->open_topic("b").value();
  ASSERT_EQ(client::ring_of(*topic, 0).readers().size(), 1u);
  EXPECT_FALSE(client::ring_of(*topic, 0).readers()[0].alive);
  Producer producer(topic);
  for (int i = 0; i < 5'000; ++i) ASSERT_TRUE(producer.send(std::nullopt, value_of(i)).is_ok()) << i;
  EXPECT_TRUE(client::ring_of(*topic, 0).readers().empty()) << "the dead reader's registration was not reaped";
}

TEST(Overflow, ReadersAreRegisteredWithTheirPositionAndUnregisteredWhenDestroyed) {
  auto ns = Namespace::in_process().value();
  ASSERT_TRUE(ns->create_topic("r", {.partitions = 2, .segment_bytes = 16384, .segment_count = 4}).is_ok());
  auto topic = ns->open_topic("r").value();
  Producer producer(topic);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(producer.send(std::nullopt, value_of(i), {.partition = 1}).is_ok());
  {
    Consumer reader(topic, {.max_poll_records = 4, .start_at_earliest = true});
    const std::int32_t one[] = {1};
    ASSERT_TRUE(reader.assign(one).is_ok());
    EXPECT_TRUE(client::ring_of(*topic, 0).readers().empty());
    ASSERT_EQ(client::ring_of(*topic, 1).readers().size(), 1u);
    EXPECT_EQ(client::ring_of(*topic, 1).readers()[0].position, 0);
    EXPECT_EQ(reader.poll(0ns).records.size(), 4u);
    EXPECT_EQ(reader.poll(0ns).records.size(), 4u);  // publishes 4: done with the first poll's records
    EXPECT_EQ(client::ring_of(*topic, 1).readers()[0].position, 4);
    EXPECT_EQ(client::ring_of(*topic, 1).readers()[0].owner.pid, ::getpid());
    EXPECT_TRUE(client::ring_of(*topic, 1).readers()[0].alive);
  }
  EXPECT_TRUE(client::ring_of(*topic, 1).readers().empty());
}

}  // namespace
}  // namespace rill
