// rill demo: real producer and consumer processes; exactly once, and no leftovers.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

#include "tests/tools/cli_harness.h"

namespace rill::cli::testing {
namespace {

using namespace std::chrono_literals;

TEST(CliDemo, SmallRunIsExactlyOnceAndCleansUp) {
  RillProcess demo({"demo", "--records", "20000", "--latency-records", "5000", "--producers", "2", "--consumers", "2",
                    "--partitions", "3"});
  const std::string ns = "demo-" + std::to_string(demo.pid());
  auto r = demo.finish({}, 120s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("exactly once, in order: yes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("all 50000 records"), std::string::npos) << r.out;  // (20000 + 5000) x 2 producers
  for (const char* part : {"produced", "consumer 0", "consumer 1", "p50", "p99.9", "max", "records/s"})
    EXPECT_NE(r.out.find(part), std::string::npos) << part;
  EXPECT_TRUE(shm_objects(ns).empty()) << shm_objects(ns).front();
  remove_shm_objects(ns);
}

TEST(CliDemo, SpinningConsumersAndOneProducer) {
  RillProcess demo({"demo", "--records", "5000", "--latency-records", "1000", "--producers", "1", "--consumers", "1",
                    "--wait", "spin", "--value-size", "24"});
  const std::string ns = "demo-" + std::to_string(demo.pid());
  auto r = demo.finish({}, 120s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("exactly once, in order: yes"), std::string::npos) << r.out;
  EXPECT_TRUE(shm_objects(ns).empty());
  remove_shm_objects(ns);
}

TEST(CliDemo, InterruptStopsChildrenAndRemovesEverything) {
  // Long enough to be interrupted in the middle.
  RillProcess demo({"demo", "--records", "100000000", "--rate", "1000"});
  const std::string ns = "demo-" + std::to_string(demo.pid());
  for (int i = 0; i < 100 && shm_objects(ns).size() < 2; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_GE(shm_objects(ns).size(), 2u) << "the demo created its topic";
  std::this_thread::sleep_for(200ms);
  demo.signal(SIGINT);
  auto r = demo.finish({}, 30s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 130) << r.err;
  ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
  EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
  EXPECT_TRUE(shm_objects(ns).empty()) << shm_objects(ns).front();
  remove_shm_objects(ns);
}

TEST(CliDemo, BadOptionsAreOneErrorLine) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"demo", "--producers", "0"}, std::vector<std::string>{"demo", "--value-size", "8"},
        std::vector<std::string>{"demo", "--wait", "nap"},
        std::vector<std::string>{"demo", "--segment-size", "4KiB", "--value-size", "8000"}}) {
    auto r = run_rill(args);
    EXPECT_NE(r.exit_code, 0);
    ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("rill: error: ", 0), 0u) << r.err;
  }
}

}  // namespace
}  // namespace rill::cli::testing
