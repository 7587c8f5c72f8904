// ProducerOptions::exclusive: one producer per partition claims with plain
// stores. Its records arrive like any producer's; every other producer's
// send there is refused (kLeased) while it holds the lease, in this process
// and in others; the lease ends with the producer, or with its process; and
// shared producers racing a lease being taken and given back never claim
// the same bytes as the holder (every record exactly once, checksums
// verified, offsets dense).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/client/topic_rings.h"
#include "core/log/partition_ring.h"
#include "rill/rill.h"
#include "support/child_process.h"
#include "support/shm_guard.h"

namespace rill {
namespace {

using namespace std::chrono_literals;
using testing::Children;
using testing::ShmGuard;

struct Got {
  std::int64_t offset;
  std::string value;
};

// Everything in partition p from offset 0 until `want` offsets were read or
// skipped as abandoned (or 30 s, a guard against a hang), each checksum verified.
std::vector<Got> read_all(const std::shared_ptr<Topic>& topic, std::int32_t p, std::size_t want,
                          std::int64_t* abandoned = nullptr) {
  ConsumerOptions options;
  options.verify_checksums = true;
  options.start_at_earliest = true;
  Consumer consumer(topic, options);
  const std::vector<std::int32_t> partitions = {p};
  EXPECT_TRUE(consumer.assign(partitions).is_ok());
  std::vector<Got> got;
  std::size_t skipped = 0;
  for (auto give_up = std::chrono::steady_clock::now() + 30s;
       got.size() + skipped < want && std::chrono::steady_clock::now() < give_up;) {
    PollResult r = consumer.poll(10ms);
    EXPECT_TRUE(r.status.is_ok()) << r.status.to_string();
    if (!r.status.is_ok()) break;
    skipped += static_cast<std::size_t>(r.abandoned);
    if (abandoned != nullptr) *abandoned += r.abandoned;
    for (const RecordView& v : r.records) {
      EXPECT_TRUE(v.verify_checksum()) << "offset " << v.offset();
      got.push_back({v.offset(), std::string(v.value())});
    }
  }
  return got;
}

std::shared_ptr<Topic> small_topic(const std::shared_ptr<Namespace>& ns, std::int32_t partitions = 2) {
  // Small segments: the runs below roll many times.
  EXPECT_TRUE(ns->create_topic("t", {.partitions = partitions, .segment_bytes = 16384, .segment_count = 64}).is_ok());
  return ns->open_topic("t").value();
}

TEST(ExclusiveProducer, SendsBatchesAndReservationsEveryRecordInOrder) {
  auto ns = Namespace::in_process().value();
  auto topic = small_topic(ns);
  std::vector<std::string> sent;
  {
    Producer producer(topic, {.exclusive = true});
    for (int i = 0; i < 3000; ++i) {
      const std::string v = "record " + std::to_string(sent.size());
      if (i % 3 == 0) {
        ASSERT_TRUE(producer.send(std::nullopt, v, {.partition = 1}).is_ok());
        sent.push_back(v);
      } else if (i % 3 == 1) {
        std::vector<std::string> values;
        for (int j = 0; j < 1 + i % 17; ++j) values.push_back("record " + std::to_string(sent.size() + values.size()));
        std::vector<Message> batch;
        for (const std::string& b : values) batch.push_back(Message{.value = b});
        auto n = producer.send_batch(batch, 1);
        ASSERT_TRUE(n.is_ok()) << n.status().to_string();
        ASSERT_EQ(*n, batch.size());
        sent.insert(sent.end(), values.begin(), values.end());
      } else {
        auto r = producer.reserve(std::nullopt, v.size(), {.partition = 1});
        ASSERT_TRUE(r.is_ok()) << r.status().to_string();
        std::memcpy(r->value().data(), v.data(), v.size());
        producer.publish(*r);
        sent.push_back(v);
      }
    }
  }
  const std::vector<Got> got = read_all(topic, 1, sent.size());
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].offset, static_cast<std::int64_t>(i));
    ASSERT_EQ(got[i].value, sent[i]);
  }
  EXPECT_EQ(client::ring_of(*topic, 1).lease_holder(), 0) << "the lease outlived its producer";
}

TEST(ExclusiveProducer, OthersAreRefusedUntilItIsDestroyedThenOffsetsContinue) {
  auto ns = Namespace::in_process().value();
  auto topic = small_topic(ns);
  Producer shared(topic);
  std::optional<Producer> exclusive(std::in_place, topic, ProducerOptions{.exclusive = true});
  ASSERT_TRUE(exclusive->send(std::nullopt, "e0", {.partition = 0}).is_ok());
  ASSERT_TRUE(exclusive->send(std::nullopt, "e1", {.partition = 0}).is_ok());
  EXPECT_EQ(client::ring_of(*topic, 0).lease_holder(), ::getpid());
  EXPECT_EQ(client::ring_of(*topic, 1).lease_holder(), 0) << "a lease is taken on a partition's first send, not before";

  auto refused = shared.send(std::nullopt, "s", {.partition = 0});
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), Code::kLeased);
  EXPECT_NE(refused.status().message().find("partition 0"), std::string::npos) << refused.status().message();
  EXPECT_NE(refused.status().message().find("this process"), std::string::npos) << refused.status().message();
  std::vector<Message> batch = {Message{.value = "b"}, Message{.value = "c"}};
  auto batch_refused = shared.send_batch(batch, 0);
  ASSERT_FALSE(batch_refused.is_ok());
  EXPECT_EQ(batch_refused.status().code(), Code::kLeased);
  auto reserve_refused = shared.reserve(std::nullopt, 4, {.partition = 0});
  ASSERT_FALSE(reserve_refused.is_ok());
  EXPECT_EQ(reserve_refused.status().code(), Code::kLeased);
  ASSERT_TRUE(shared.send(std::nullopt, "other partition", {.partition = 1}).is_ok());

  Producer second(topic, {.exclusive = true});
  auto second_refused = second.send(std::nullopt, "x", {.partition = 0});
  ASSERT_FALSE(second_refused.is_ok());
  EXPECT_EQ(second_refused.status().code(), Code::kLeased);
  ASSERT_TRUE(exclusive->send(std::nullopt, "e2", {.partition = 0}).is_ok()) << "a refused producer took the lease";

  exclusive.reset();
  EXPECT_EQ(client::ring_of(*topic, 0).lease_holder(), 0);
  ASSERT_TRUE(shared.send(std::nullopt, "s0", {.partition = 0}).is_ok());
  std::vector<Got> got = read_all(topic, 0, 4);
  ASSERT_EQ(got.size(), 4u);
  const std::vector<std::string> want = {"e0", "e1", "e2", "s0"};
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].offset, static_cast<std::int64_t>(i));
    EXPECT_EQ(got[i].value, want[i]);
  }
}

// A process holding the lease dies mid-run (SIGKILL while sending): the next
// producer takes the partition over, and every record the dead one
// committed is read exactly once, in order, before the new ones.
TEST(ExclusiveProducer, ADeadProcessesLeaseIsTakenOverAcrossProcesses) {
  ShmGuard guard;
  {
    auto ns = Namespace::open_shared(guard.ns());
    ASSERT_TRUE(ns.is_ok()) << ns.status().to_string();
    // Room for all the holder ever sends (kHolderMax records): the reader
    // starts at offset 0.
    ASSERT_TRUE((*ns)->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 64}).is_ok());
  }
  constexpr std::uint64_t kHolderMax = 100'000;
  const std::string name = guard.ns();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  Children children;
  const pid_t holder = children.spawn("exclusive producer, killed while sending", [&](std::string& report) {
    auto topic = Namespace::open_shared(name).value()->open_topic("t").value();
    Producer producer(topic, {.exclusive = true});
    for (std::uint64_t i = 0;; ++i) {
      if (i == kHolderMax) ::pause();  // still holding the lease, until the kill
      auto r = producer.send(std::nullopt, "dead " + std::to_string(i));
      if (!r.is_ok()) {
        report = r.status().to_string();
        return 1;
      }
      if (i == 1000) (void)!::write(ready[1], "r", 1);
    }
  });
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1) << "the holder never got going";
  ::close(ready[0]);
  auto topic = Namespace::open_shared(name).value()->open_topic("t").value();
  Producer refused(topic);
  auto r = refused.send(std::nullopt, "too early");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kLeased);
  EXPECT_NE(r.status().message().find("process " + std::to_string(holder)), std::string::npos) << r.status().message();

  children.signal(holder, SIGKILL);
  ASSERT_EQ(children.wait_one(holder, 30s).signal, SIGKILL);
  Producer next(topic, {.exclusive = true});
  auto first = next.send(std::nullopt, "after");
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  ASSERT_TRUE(next.send(std::nullopt, "after 2").is_ok());
  const std::int64_t total = first->offset + 2;
  std::int64_t abandoned = 0;
  std::vector<Got> got = read_all(topic, 0, static_cast<std::size_t>(total), &abandoned);
  // A claim the kill cut short is skipped (counted abandoned), never read.
  ASSERT_GE(got.size() + static_cast<std::size_t>(abandoned), static_cast<std::size_t>(total));
  ASSERT_GE(got.size(), 1003u);
  std::size_t i = 0;
  for (; i + 2 < got.size(); ++i) ASSERT_EQ(got[i].value, "dead " + std::to_string(i)) << "offset " << got[i].offset;
  EXPECT_LE(abandoned, 1);
  EXPECT_EQ(got[i].value, "after");
  EXPECT_EQ(got[i].offset, first->offset);
  EXPECT_EQ(got[i + 1].value, "after 2");
}

// The race the lease's first CAS closes: shared producers keep sending while
// an exclusive producer takes the lease, sends, and gives it back, over and
// over. Shared sends are refused while the lease holds and retried; every
// record lands once, in its producer's order, at a dense offset.
TEST(ExclusiveProducer, LeasesComeAndGoWhileSharedProducersSend) {
  auto ns = Namespace::in_process().value();
  // Room for every record (the reader starts at offset 0): shared producers
  // stop at kSharedMax each, however slowly the exclusive rounds go.
  ASSERT_TRUE(ns->create_topic("t", {.partitions = 1, .segment_bytes = 65536, .segment_count = 64}).is_ok());
  auto topic = ns->open_topic("t").value();
  constexpr std::uint64_t kSharedMax = 20000;
  constexpr int kShared = 2;
  constexpr int kRounds = 40;
  constexpr int kPerRound = 50;
  std::atomic<bool> stop{false};
  std::vector<std::uint64_t> shared_sent(kShared, 0);
  std::vector<std::thread> threads;
  for (int s = 0; s < kShared; ++s) {
    threads.emplace_back([&, s] {
      Producer producer(topic);
      for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed) && i < kSharedMax;) {
        auto r = producer.send(std::nullopt, "s" + std::to_string(s) + " " + std::to_string(i));
        if (r.is_ok()) {
          ++i;
          shared_sent[static_cast<std::size_t>(s)] = i;
          std::this_thread::yield();  // spread its sends over the exclusive rounds
        } else if (r.status().code() != Code::kLeased) {
          ADD_FAILURE() << r.status().to_string();
          return;
        }
      }
    });
  }
  std::uint64_t exclusive_sent = 0;
  bool sent_all = true;
  for (int round = 0; round < kRounds && sent_all; ++round) {
    Producer producer(topic, {.exclusive = true});
    for (int i = 0; i < kPerRound && sent_all; ++i) {
      auto r = producer.send(std::nullopt, "x " + std::to_string(exclusive_sent));
      EXPECT_TRUE(r.is_ok()) << r.status().to_string();
      sent_all = r.is_ok();
      exclusive_sent += sent_all ? 1 : 0;
    }
    std::this_thread::yield();
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();  // before any ASSERT can return
  ASSERT_TRUE(sent_all);
  std::uint64_t total = exclusive_sent;
  for (std::uint64_t n : shared_sent) total += n;

  const std::vector<Got> got = read_all(topic, 0, static_cast<std::size_t>(total));
  ASSERT_EQ(got.size(), total);
  std::map<std::string, std::uint64_t> next;  // per producer: the next sequence number expected
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].offset, static_cast<std::int64_t>(i));
    const std::size_t space = got[i].value.find(' ');
    ASSERT_NE(space, std::string::npos) << got[i].value;
    const std::string who = got[i].value.substr(0, space);
    ASSERT_EQ(got[i].value.substr(space + 1), std::to_string(next[who]++)) << "from " << who << " at offset " << i;
  }
  EXPECT_EQ(next["x"], exclusive_sent);
}

}  // namespace
}  // namespace rill
