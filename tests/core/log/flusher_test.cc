// core/log/flusher: a durable ring's committed frames reach its files, in
// order, exactly once; a roll never reuses bytes the files lack (producers
// on a small ring wait for the flusher, or flush themselves); a process that
// dies holding the flush lease is taken over from where its files end.
#include "core/log/flusher.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/log/disk_log.h"
#include "ipc/clock.h"
#include "support/frames.h"
#include "support/temp_dir.h"

namespace rill::log {
namespace {

using testing::TempDir;

std::string value_of(std::int64_t offset) { return "rec-" + std::to_string(offset) + std::string(offset % 29, 'v'); }

const DiskLogConfig kFiles{.partition = 0, .file_bytes = 65536, .index_interval = 512, .permissions = 0600};

// A durable ring in anonymous memory, shared with forked children.
struct DurableRing {
  void* base = MAP_FAILED;
  std::size_t size = 0;
  PartitionRing ring;
  explicit DurableRing(std::int64_t start = 0) {
    PartitionGeometry g{16384, 4, 256};
    g.durable = true;
    g.start_offset = start;
    size = g.region_bytes();
    base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(base, MAP_FAILED);
    auto created = PartitionRing::create(std::span(static_cast<std::byte*>(base), size), g, 0, nullptr);
    EXPECT_TRUE(created.is_ok()) << created.status().to_string();
    ring = *created;
  }
  ~DurableRing() {
    if (base != MAP_FAILED) ::munmap(base, size);
  }
};

// Sends `count` records from this thread: one record a claim.
void produce(PartitionRing& ring, int count, std::atomic<int>* failures) {
  auto slot = ring.acquire_slot(ipc::self());
  if (!slot) {
    ++*failures;
    return;
  }
  for (int i = 0; i < count; ++i) {
    // The value depends on the offset, which the claim decides: size it for the longest.
    const std::uint32_t bytes = static_cast<std::uint32_t>(align_frame(test::record_size(value_of(0).size() + 40)));
    Claim c;
    if (ring.claim(bytes, 1, *slot, &c) != ClaimStatus::kOk) {
      ++*failures;
      break;
    }
    std::string v = value_of(c.first_offset);
    v.resize(bytes - kRecordHeaderSize, '.');
    ring.commit(c, test::encode_record(c.data, c.first_offset, 1000 * c.first_offset, std::nullopt, v));
    ring.notify();
  }
  PartitionRing::release_slot(*slot);
}

// Every record in the files, from `from`, checksums verified.
std::vector<std::int64_t> offsets_on_disk(const std::string& dir, std::int64_t from) {
  auto disk = DiskLog::open(io::file_system(), dir, kFiles, 0);
  EXPECT_TRUE(disk.is_ok()) << disk.status().to_string();
  std::vector<std::int64_t> offsets;
  if (!disk) return offsets;
  std::int64_t next = from;
  std::uint32_t inner = 0;
  RecordView views[16];
  while (next < (*disk)->end_offset()) {
    auto chunk = (*disk)->locate(next);
    EXPECT_TRUE(chunk.is_ok()) << chunk.status().to_string();
    if (!chunk) break;
    auto got = read_chunk(*chunk, 0, &next, &inner, views, 16, true);
    EXPECT_TRUE(got.is_ok()) << got.status().to_string();
    if (!got || got->views == 0) break;
    for (std::size_t i = 0; i < got->views; ++i) {
      EXPECT_EQ(views[i].value().substr(0, value_of(views[i].offset()).size()), value_of(views[i].offset()));
      offsets.push_back(views[i].offset());
    }
  }
  return offsets;
}

std::vector<std::int64_t> range(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> v;
  for (std::int64_t o = from; o < to; ++o) v.push_back(o);
  return v;
}

TEST(Flusher, EveryCommittedRecordReachesTheFilesInOrderOnce) {
  TempDir dir;
  DurableRing r(500);
  Flusher flusher(r.ring, dir / "t-0", kFiles);
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  // A flusher thread, as the namespace runs one; producers also flush at
  // rolls through the hook (a ring of 4 x 16 KiB rolls every ~200 records).
  r.ring.set_flush_hook(&flusher);
  std::thread background([&] {
    while (!done.load()) {
      (void)flusher.flush(false);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::vector<std::thread> producers;
  for (int t = 0; t < 3; ++t) producers.emplace_back([&] { produce(r.ring, 3000, &failures); });
  for (auto& t : producers) t.join();
  done = true;
  background.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(flusher.flush(true));
  EXPECT_TRUE(flusher.status().is_ok()) << flusher.status().to_string();
  const std::int64_t end = r.ring.latest_offset();
  EXPECT_EQ(end, 500 + 9000);
  EXPECT_EQ(r.ring.written_offset(), end);
  EXPECT_EQ(r.ring.durable_offset(), end);
  r.ring.set_flush_hook(nullptr);
  flusher.close();
  EXPECT_EQ(offsets_on_disk(dir / "t-0", 500), range(500, end));
}

// Forks a child that takes the partition's flush lease with a Flusher of
// its own, tells the parent, then exits with body(flusher). Returns the
// child's pid once it holds the lease; -1 if it does not.
template <typename Body>
pid_t fork_lease_holder(DurableRing& r, const std::string& dir, Body body) {
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  const pid_t child = ::fork();
  if (child == 0) {
    Flusher flusher(r.ring, dir, kFiles);
    bool took = flusher.flush(false);
    (void)!::write(ready[1], &took, 1);
    ::_exit(body(flusher));
  }
  bool took = false;
  const bool told = ::read(ready[0], &took, 1) == 1;
  ::close(ready[0]);
  ::close(ready[1]);
  return told && took ? child : -1;
}

TEST(Flusher, ARollWaitsForTheFilesAndAFlusherOfAnotherProcess) {
  // No hook: this process may not write the files (another holds the lease),
  // so a producer that must roll waits until they hold the bytes it reuses.
  TempDir dir;
  DurableRing r(0);
  std::atomic<int> failures{0};
  const pid_t child = fork_lease_holder(r, dir / "t-0", [&](Flusher& flusher) {
    // Flushes slowly: producers in the parent catch up and must wait.
    for (int i = 0; i < 4000 && r.ring.written_offset() < 2000; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      (void)flusher.flush(false);
    }
    flusher.close();
    return r.ring.written_offset() >= 2000 ? 0 : 1;
  });
  ASSERT_GT(child, 0);
  std::int32_t holder = 0;
  EXPECT_FALSE(r.ring.take_flush_lease(ipc::self(), &holder));
  EXPECT_EQ(holder, child);
  produce(r.ring, 2000, &failures);
  EXPECT_EQ(failures.load(), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(offsets_on_disk(dir / "t-0", 0), range(0, 2000));
}

TEST(Flusher, ADeadFlushersLeaseIsTakenOverWhereItsFilesEnd) {
  TempDir dir;
  DurableRing r(0);
  std::atomic<int> failures{0};
  produce(r.ring, 150, &failures);
  const pid_t child = ::fork();
  if (child == 0) {
    Flusher flusher(r.ring, dir / "t-0", kFiles);
    (void)flusher.flush(false);
    ::_exit(0);  // dies holding the lease, without closing
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(r.ring.written_offset(), 150);
  produce(r.ring, 100, &failures);
  Flusher flusher(r.ring, dir / "t-0", kFiles);
  ASSERT_TRUE(flusher.flush(true)) << "the dead holder's lease is taken over";
  EXPECT_TRUE(flusher.status().is_ok()) << flusher.status().to_string();
  EXPECT_EQ(r.ring.durable_offset(), 250);
  flusher.close();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(offsets_on_disk(dir / "t-0", 0), range(0, 250));
}

TEST(Flusher, AFlusherThreadTakesAFreeLeaseOnlyForRecordsNobodyWrites) {
  TempDir dir;
  DurableRing r(0);
  Flusher idle(r.ring, dir / "t-0", kFiles);
  // Nothing claimed: the lease stays free for the first producer that waits.
  EXPECT_FALSE(idle.flush_if_needed());
  EXPECT_FALSE(idle.holds_lease());
  EXPECT_EQ(r.ring.flush_lease_holder(), 0);
  std::atomic<int> failures{0};
  produce(r.ring, 40, &failures);
  ASSERT_EQ(failures.load(), 0);
  // Records nobody writes: taken at the next look, not the first.
  EXPECT_FALSE(idle.flush_if_needed());
  EXPECT_EQ(r.ring.flush_lease_holder(), 0);
  EXPECT_TRUE(idle.flush_if_needed());
  EXPECT_TRUE(idle.holds_lease());
  EXPECT_EQ(r.ring.written_offset(), 40);
  idle.close();
  EXPECT_FALSE(idle.holds_lease());
  // Retention to apply: taken with nothing to write.
  DiskLogConfig retained = kFiles;
  retained.retention_ms = 3'600'000;
  Flusher keeper(r.ring, dir / "t-0", retained);
  EXPECT_TRUE(keeper.flush_if_needed());
  EXPECT_TRUE(keeper.holds_lease());
  keeper.close();
  EXPECT_EQ(offsets_on_disk(dir / "t-0", 0), range(0, 40));
}

TEST(Flusher, AHolderAsleepForRequestsServesAProducerOfAnotherProcess) {
  // The child holds the lease and sleeps on the partition's flush_wanted
  // doorbell between flushes, as a namespace's flusher thread does; the
  // parent, which may not write the files, requests and wakes it for each
  // record and waits until the files hold it.
  TempDir dir;
  DurableRing r(0);
  constexpr int kRecords = 200;
  const pid_t child = fork_lease_holder(r, dir / "t-0", [&](Flusher& flusher) {
    const std::int64_t give_up = ipc::monotonic_ns() + 60'000'000'000;
    while (r.ring.written_offset() < kRecords && ipc::monotonic_ns() < give_up) {
      if (!flusher.request_pending()) flusher.wait_for_request(give_up, [] { return false; });
      (void)flusher.flush(false);
    }
    flusher.close();
    return r.ring.written_offset() == kRecords && flusher.status().is_ok() ? 0 : 1;
  });
  ASSERT_GT(child, 0);
  std::int32_t holder = 0;
  ASSERT_FALSE(r.ring.take_flush_lease(ipc::self(), &holder));
  EXPECT_EQ(holder, child);
  std::atomic<int> failures{0};
  for (int i = 0; i < kRecords; ++i) {
    produce(r.ring, 1, &failures);
    const std::int64_t end = i + 1;
    r.ring.request_flush(end, i % 2 == 1);
    r.ring.wake_flusher();
    const bool written = r.ring.wait_flush(ipc::monotonic_ns() + 60'000'000'000, [&] {
      return r.ring.written_offset() >= end && (i % 2 == 0 || r.ring.durable_offset() >= end);
    });
    ASSERT_TRUE(written) << "record " << i << " never reached the files";
  }
  EXPECT_EQ(failures.load(), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(offsets_on_disk(dir / "t-0", 0), range(0, kRecords));
}

}  // namespace
}  // namespace rill::log
