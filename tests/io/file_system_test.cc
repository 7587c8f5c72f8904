// io/: the real FileSystem, its two write backends (io_uring, and pwrite +
// fdatasync where the kernel refuses io_uring or RILL_IO=posix asks), and
// the fault-injecting FileSystem the durable-topic tests stand on.
#include "io/file_system.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "io/uring.h"
#include "support/child_process.h"
#include "support/faulty_file_system.h"
#include "support/temp_dir.h"

namespace rill::io {
namespace {

using testing::FaultyFileSystem;
using testing::TempDir;

std::vector<std::byte> pattern(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

std::vector<std::byte> read_all(FileSystem& fs, const std::string& path) {
  auto file = fs.open(path, OpenMode::kRead);
  EXPECT_TRUE(file.is_ok()) << file.status().to_string();
  if (!file) return {};
  std::vector<std::byte> v((*file)->size().value());
  EXPECT_EQ((*file)->read(0, v).value(), v.size());
  return v;
}

// Writes pieces (one of them large, one synced alone) and reads them back.
// Run in this process (io_uring here) and in children with other backends.
void expect_round_trip(FileSystem& fs, const std::string& path) {
  auto file = fs.open(path, OpenMode::kCreate);
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  const auto a = pattern(3 << 20, 1), b = pattern(4097, 2);
  ASSERT_TRUE((*file)->write(0, a, false).is_ok());
  ASSERT_TRUE((*file)->write(a.size(), b, true).is_ok());
  ASSERT_TRUE((*file)->sync().is_ok());
  EXPECT_EQ((*file)->size().value(), a.size() + b.size());
  std::vector<std::byte> expected = a;
  expected.insert(expected.end(), b.begin(), b.end());
  EXPECT_EQ(read_all(fs, path), expected);
  // Overwrite in the middle, then cut.
  const auto c = pattern(100, 3);
  ASSERT_TRUE((*file)->write(10, c, true).is_ok());
  std::copy(c.begin(), c.end(), expected.begin() + 10);
  ASSERT_TRUE((*file)->truncate(5000).is_ok());
  expected.resize(5000);
  EXPECT_EQ(read_all(fs, path), expected);
  std::vector<std::byte> tail(100);
  EXPECT_EQ((*file)->read(4950, tail).value(), 50u) << "a read past the end is short";
}

TEST(FileSystem, WritesReadsSyncsAndTruncates) {
  TempDir dir;
  expect_round_trip(file_system(), dir / "f");
  EXPECT_EQ(write_backend(), WriteBackend::kUring) << "this kernel allows io_uring: " << write_backend_reason();
}

TEST(FileSystem, OpensOnlyRegularFilesAndNeverFollowsALink) {
  TempDir dir;
  FileSystem& fs = file_system();
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  auto fifo = fs.open(dir / "fifo", OpenMode::kRead);
  EXPECT_EQ(fifo.status().code(), Code::kCorrupt) << "refused without blocking";
  ASSERT_TRUE(fs.open(dir / "target", OpenMode::kCreate).is_ok());
  ASSERT_EQ(::symlink((dir / "target").c_str(), (dir / "link").c_str()), 0);
  EXPECT_FALSE(fs.open(dir / "link", OpenMode::kWrite).is_ok());
  EXPECT_FALSE(fs.map(dir / "link").is_ok());
  EXPECT_EQ(fs.open(dir / "target", OpenMode::kCreate).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(fs.open(dir / "missing", OpenMode::kRead).status().code(), Code::kNotFound);
  struct stat st{};
  ASSERT_EQ(::stat((dir / "target").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "files are private unless asked";
}

TEST(FileSystem, AMappingKeepsItsBytesAfterTheFileIsRemoved) {
  TempDir dir;
  FileSystem& fs = file_system();
  const auto bytes = pattern(10000, 4);
  {
    auto f = fs.open(dir / "m", OpenMode::kCreate);
    ASSERT_TRUE(f.is_ok());
    ASSERT_TRUE((*f)->write(0, bytes, false).is_ok());
  }
  auto whole = fs.map(dir / "m");
  ASSERT_TRUE(whole.is_ok()) << whole.status().to_string();
  auto part = fs.map(dir / "m", 4096);
  ASSERT_TRUE(part.is_ok());
  EXPECT_EQ((*part)->bytes().size(), 4096u);
  EXPECT_EQ(fs.map(dir / "m", 10001).status().code(), Code::kCorrupt) << "more than the file holds";
  ASSERT_TRUE(fs.remove(dir / "m").is_ok());
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), (*whole)->bytes().begin(), (*whole)->bytes().end()));
}

TEST(FileSystem, ListsMakesAndRemovesFolders) {
  TempDir dir;
  FileSystem& fs = file_system();
  ASSERT_TRUE(fs.make_dirs(dir / "a/b/c").is_ok());
  ASSERT_TRUE(fs.make_dirs(dir / "a/b/c").is_ok()) << "an existing folder is fine";
  ASSERT_TRUE(fs.open(dir / "a/z", OpenMode::kCreate).is_ok());
  EXPECT_EQ(fs.list(dir / "a").value(), (std::vector<std::string>{"b", "z"}));
  EXPECT_EQ(fs.make_dirs(dir / "a/z").code(), Code::kInvalidArgument) << "a file in the way";
  EXPECT_TRUE(fs.sync_dir(dir / "a").is_ok());
  EXPECT_TRUE(fs.remove_dir(dir / "a/b/c").is_ok());
  EXPECT_FALSE(fs.exists(dir / "a/b/c").value());
  EXPECT_EQ(fs.list(dir / "nothing").status().code(), Code::kNotFound);
}

TEST(FileSystem, AtomicWritesReplaceWholeFilesAndSmallReadsAreBounded) {
  TempDir dir;
  FileSystem& fs = file_system();
  const auto one = pattern(300, 5), two = pattern(200, 6);
  ASSERT_TRUE(write_file_atomically(fs, dir / "cp", one).is_ok());
  ASSERT_TRUE(write_file_atomically(fs, dir / "cp", two).is_ok());
  EXPECT_EQ(read_small_file(fs, dir / "cp", 1000).value(), two);
  EXPECT_EQ(fs.list(dir.path()).value(), std::vector<std::string>{"cp"}) << "no temporary left";
  auto big = read_small_file(fs, dir / "cp", 100);
  EXPECT_EQ(big.status().code(), Code::kCorrupt);
  EXPECT_NE(big.status().message().find("more than the 100"), std::string::npos) << big.status().message();
}

// A forked child inherits its parent's ring, whose queues it shares: it must
// write through a ring of its own, and the parent's must still work after.
TEST(FileSystem, AForkedChildAndItsParentBothWrite) {
  TempDir dir;
  FileSystem& fs = file_system();
  expect_round_trip(fs, dir / "before");  // the parent's ring is set up
  const pid_t child = ::fork();
  if (child == 0) {
    bool ok = true;
    for (int i = 0; i < 20 && ok; ++i) {
      auto f = fs.open(dir / ("child" + std::to_string(i)), OpenMode::kCreate);
      ok = f.is_ok() && (*f)->write(0, pattern(10000, 100 + i), true).is_ok();
    }
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(read_all(fs, dir / ("child" + std::to_string(i))), pattern(10000, 100 + i));
  expect_round_trip(fs, dir / "after");
}

// ---------------------------------------------------------------- the fallback

// Runs this binary's FileSystemChild.RoundTrip in a child with `env`; returns
// what it printed (stdout and stderr).
std::string run_child(const std::string& env) {
  return rill::testing::run_this_binary(env + " RILL_IO_TEST_CHILD=1", "FileSystemChild.RoundTrip");
}

// A seccomp filter that makes io_uring_setup fail with `err`, as a kernel
// with io_uring disabled (EPERM) or built without it (ENOSYS) does.
bool refuse_io_uring(int err) {
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<unsigned>(offsetof(seccomp_data, nr))),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

TEST(FileSystemChild, RoundTrip) {
  if (std::getenv("RILL_IO_TEST_CHILD") == nullptr) GTEST_SKIP() << "run by the tests below, in a child";
  if (const char* refuse = std::getenv("RILL_IO_TEST_REFUSE")) {
    ASSERT_TRUE(refuse_io_uring(std::atoi(refuse))) << "cannot install the seccomp filter";
  }
  TempDir dir;
  expect_round_trip(file_system(), dir / "f");
  std::printf("backend=%s reason=%s\n", std::string(write_backend_name(write_backend())).c_str(),
              std::string(write_backend_reason()).c_str());
}

TEST(FileSystemFallback, RillIoPosixWritesWithPwrite) {
  const std::string out = run_child("RILL_IO=posix");
  EXPECT_NE(out.find("backend=pwrite reason=RILL_IO=posix"), std::string::npos) << out;
  EXPECT_NE(out.find("rill: files are written with pwrite and fdatasync, not io_uring (RILL_IO=posix)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("[  PASSED  ] 1 test"), std::string::npos) << out;
}

TEST(FileSystemFallback, AKernelThatRefusesIoUringGetsPwrite) {
  for (const int err : {EPERM, ENOSYS}) {
    SCOPED_TRACE(err);
    const std::string out = run_child("RILL_IO_TEST_REFUSE=" + std::to_string(err));
    const std::string reason = std::string("io_uring_setup: ") + std::strerror(err);
    EXPECT_NE(out.find("backend=pwrite reason=" + reason), std::string::npos) << out;
    EXPECT_NE(out.find("not io_uring (" + reason + ")"), std::string::npos) << "one line says why:\n" << out;
    EXPECT_NE(out.find("[  PASSED  ] 1 test"), std::string::npos) << out;
  }
}

TEST(FileSystemFallback, WithoutRillIoTheChildUsesIoUring) {
  const std::string out = run_child("");
  EXPECT_NE(out.find("backend=io_uring reason=\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("rill: files are written"), std::string::npos) << "no notice with io_uring:\n" << out;
}

// ---------------------------------------------------------------- faults

TEST(FaultyFileSystem, APowerLossKeepsOnlySyncedBytes) {
  TempDir dir;
  FaultyFileSystem fs;
  ASSERT_TRUE(fs.make_dirs(dir / "d").is_ok());
  const auto bytes = pattern(1000, 7);
  {
    auto f = fs.open(dir / "d/f", OpenMode::kCreate);
    ASSERT_TRUE(f.is_ok());
    ASSERT_TRUE((*f)->write(0, std::span(bytes).first(600), true).is_ok());
    ASSERT_TRUE((*f)->write(600, std::span(bytes).subspan(600), false).is_ok());
    auto g = fs.open(dir / "d/new", OpenMode::kCreate);
    ASSERT_TRUE(g.is_ok());
  }
  ASSERT_TRUE(fs.sync_dir(dir / "d").is_ok());
  ASSERT_TRUE(fs.open(dir / "d/after", OpenMode::kCreate).is_ok());
  fs.lose_power();
  EXPECT_EQ(read_all(fs, dir / "d/f"), std::vector<std::byte>(bytes.begin(), bytes.begin() + 600));
  EXPECT_TRUE(fs.exists(dir / "d/new").value()) << "its folder was synced";
  EXPECT_FALSE(fs.exists(dir / "d/after").value()) << "created after the folder's last sync";
}

TEST(FaultyFileSystem, AFailedSyncLosesItsBytesEvenIfALaterSyncSucceeds) {
  TempDir dir;
  FaultyFileSystem fs;
  const auto bytes = pattern(300, 8);
  {
    auto f = fs.open(dir / "f", OpenMode::kCreate);
    ASSERT_TRUE(f.is_ok());
    ASSERT_TRUE((*f)->write(0, std::span(bytes).first(100), true).is_ok());
    fs.fail_next_sync("/f");
    EXPECT_EQ((*f)->write(100, std::span(bytes).subspan(100, 100), true).code(), Code::kIoError);
    ASSERT_TRUE((*f)->write(200, std::span(bytes).subspan(200), true).is_ok());
  }
  ASSERT_TRUE(fs.sync_dir(dir.path()).is_ok());
  fs.lose_power();
  EXPECT_EQ(read_all(fs, dir / "f").size(), 100u);
}

TEST(FaultyFileSystem, ShortWritesAndAFullDiskFailWithThePrefixWritten) {
  TempDir dir;
  FaultyFileSystem fs;
  const auto bytes = pattern(1000, 9);
  auto f = fs.open(dir / "f", OpenMode::kCreate);
  ASSERT_TRUE(f.is_ok());
  fs.fail_next_write("/f", EIO, 10);
  Status s = (*f)->write(0, bytes, false);
  EXPECT_EQ(s.code(), Code::kIoError);
  EXPECT_EQ((*f)->size().value(), 10u);
  fs.set_space(500);
  s = (*f)->write(0, bytes, false);
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.to_string();
  EXPECT_EQ((*f)->size().value(), 500u);
  fs.set_space(UINT64_MAX);
  EXPECT_TRUE((*f)->write(0, bytes, true).is_ok());
  EXPECT_EQ(read_all(fs, dir / "f"), bytes);
}

}  // namespace
}  // namespace rill::io
