// Reports: deadline verdicts, ratios, figures, the JSON round trip and its
// errors, and the table, diff and SVG texts.
#include "bench/suite/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rill::bench {
namespace {

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

LatencyFigures figures(std::int64_t p50, std::int64_t p99) {
  LatencyFigures f;
  f.count = 1'000'000;
  f.min = p50 / 2;
  f.p50 = p50;
  f.p90 = p50 + (p99 - p50) / 2;
  f.p99 = p99;
  f.p999 = p99 * 2;
  f.p9999 = p99 * 4;
  f.max = p99 * 10;
  f.mean = static_cast<double>(p50) * 1.1;
  f.stddev = static_cast<double>(p50) / 3.0;
  return f;
}

TransportResult result(std::string transport, std::optional<double> throughput, std::int64_t p50, std::int64_t p99) {
  TransportResult r;
  r.transport = std::move(transport);
  r.topology = "1x1";
  r.records = 10'000'000;
  r.throughput_rps = throughput;
  r.latency_records = 1'000'000;
  r.latency = figures(p50, p99);
  return r;
}

// A report with three results: one with a deadline verdict, one that
// failed, one (the floor) without throughput.
Report sample_report() {
  Report report;
  Scenario& s = report.scenario;
  s.transports = {"rill-ipc", "uds", "pingpong-floor"};
  s.compare = true;
  s.producers = 2;
  s.consumers = 3;
  s.partitions = 4;
  s.split = true;
  s.record_bytes = 1024;
  s.batch = 16;
  s.rate_rps = 100'000.5;
  s.duration_ns = 2'000'000'000;
  s.count = 0;
  s.warmup_ns = 500'000'000;
  s.wait = "spin";
  s.cpus = {2, 3, 5};
  s.clock = "monotonic";
  s.durability = "memory";
  s.acks = "none";
  s.deadline = DeadlineSpec{.deadline_ns = 50'000, .rt_class = RtClass::kSoft, .max_miss_rate = 0.001};
  s.repeat = 3;
  report.machine = {.cpu_model = "Test CPU @ 3.00GHz",
                    .cores = 8,
                    .kernel = "Linux 6.1.0",
                    .hostname = "box",
                    .tsc_ghz = 2.9937512345678};

  TransportResult ipc = result("rill-ipc", 8'620'000.123456789, 412, 1'903);
  ipc.topology = "2x3, 4 partitions, split";
  ipc.latency_raw = figures(380, 1'500);
  ipc.distribution = {{200, 0.1}, {412, 0.5}, {900, 0.9}, {1'903, 0.99}, {3'806, 0.999}, {19'030, 1.0}};
  ipc.deadline = DeadlineResult{.spec = *s.deadline,
                                .samples = 1'000'000,
                                .misses = 1'234,
                                .miss_rate = 0.001234,
                                .longest_streak = 7,
                                .p999_ns = 3'806,
                                .met = false};
  TransportResult uds = result("uds", std::nullopt, 0, 0);
  uds.latency.reset();
  uds.error = "record 17 of producer 1 arrived twice";
  TransportResult floor = result("pingpong-floor", std::nullopt, 95, 160);
  floor.topology = "1x1 ping-pong";
  floor.distribution = {{80, 0.25}, {95, 0.5}, {160, 0.99}, {1'000, 1.0}};
  report.results = {ipc, uds, floor};
  report.ratios = {{.numerator = "rill-ipc",
                    .denominator = "uds",
                    .metric = "throughput",
                    .median = 1.0 / 3.0,
                    .min = 0.25,
                    .max = 0.4,
                    .runs = 3}};
  return report;
}

// A durable run: rill at fsync beside the disk baselines, its files on tmpfs.
Report durable_report() {
  Report report;
  report.scenario.transports = {"rill-inproc", "raw-write", "raw-fdatasync"};
  report.scenario.durability = "fsync";
  report.scenario.data_dir = "/mnt/disk";
  report.scenario.rate_rps.reset();
  report.machine = {.cpu_model = "Test CPU",
                    .cores = 2,
                    .kernel = "Linux 6.1.0",
                    .hostname = "box",
                    .tsc_ghz = 0,
                    .data_fs = "tmpfs",
                    .io_backend = "io_uring"};
  TransportResult rill = result("rill-inproc", 2'500, 20'000, 90'000);
  rill.latency_ack = figures(310'000, 1'280'000);
  rill.file_bytes_per_s = 2'500.0 * 80;
  rill.payload_bytes_per_s = 2'500.0 * 64;
  TransportResult write = result("raw-write", 5'890'000, 0, 0);
  write.topology = "1x0, files";
  write.latency.reset();
  write.file_bytes_per_s = 5'890'000.0 * 80;
  write.payload_bytes_per_s = 5'890'000.0 * 64;
  TransportResult sync = result("raw-fdatasync", 550, 1'100'000, 4'000'000);
  sync.topology = "1x0, a file, fdatasync each";
  sync.file_bytes_per_s = 550.0 * 80;
  sync.payload_bytes_per_s = 550.0 * 64;
  report.results = {rill, write, sync};
  report.ratios = compute_ratios({report.results});
  return report;
}

void expect_same(const LatencyFigures& a, const LatencyFigures& b) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.min, b.min);
  EXPECT_EQ(a.p50, b.p50);
  EXPECT_EQ(a.p90, b.p90);
  EXPECT_EQ(a.p99, b.p99);
  EXPECT_EQ(a.p999, b.p999);
  EXPECT_EQ(a.p9999, b.p9999);
  EXPECT_EQ(a.max, b.max);
  EXPECT_EQ(a.mean, b.mean);
  EXPECT_EQ(a.stddev, b.stddev);
}

void expect_same(const std::optional<LatencyFigures>& a, const std::optional<LatencyFigures>& b) {
  ASSERT_EQ(a.has_value(), b.has_value());
  if (a) expect_same(*a, *b);
}

void expect_same(const DeadlineSpec& a, const DeadlineSpec& b) {
  EXPECT_EQ(a.deadline_ns, b.deadline_ns);
  EXPECT_EQ(a.rt_class, b.rt_class);
  EXPECT_EQ(a.max_miss_rate, b.max_miss_rate);
}

void expect_same(const Report& a, const Report& b) {
  const Scenario &sa = a.scenario, &sb = b.scenario;
  EXPECT_EQ(sa.transports, sb.transports);
  EXPECT_EQ(sa.compare, sb.compare);
  EXPECT_EQ(sa.producers, sb.producers);
  EXPECT_EQ(sa.consumers, sb.consumers);
  EXPECT_EQ(sa.partitions, sb.partitions);
  EXPECT_EQ(sa.split, sb.split);
  EXPECT_EQ(sa.record_bytes, sb.record_bytes);
  EXPECT_EQ(sa.batch, sb.batch);
  EXPECT_EQ(sa.rate_rps, sb.rate_rps);
  EXPECT_EQ(sa.duration_ns, sb.duration_ns);
  EXPECT_EQ(sa.count, sb.count);
  EXPECT_EQ(sa.warmup_ns, sb.warmup_ns);
  EXPECT_EQ(sa.wait, sb.wait);
  EXPECT_EQ(sa.cpus, sb.cpus);
  EXPECT_EQ(sa.clock, sb.clock);
  EXPECT_EQ(sa.durability, sb.durability);
  EXPECT_EQ(sa.acks, sb.acks);
  ASSERT_EQ(sa.deadline.has_value(), sb.deadline.has_value());
  if (sa.deadline) expect_same(*sa.deadline, *sb.deadline);
  EXPECT_EQ(sa.repeat, sb.repeat);
  EXPECT_EQ(sa.data_dir, sb.data_dir);

  EXPECT_EQ(a.machine.cpu_model, b.machine.cpu_model);
  EXPECT_EQ(a.machine.cores, b.machine.cores);
  EXPECT_EQ(a.machine.kernel, b.machine.kernel);
  EXPECT_EQ(a.machine.hostname, b.machine.hostname);
  EXPECT_EQ(a.machine.tsc_ghz, b.machine.tsc_ghz);
  EXPECT_EQ(a.machine.data_fs, b.machine.data_fs);
  EXPECT_EQ(a.machine.io_backend, b.machine.io_backend);

  ASSERT_EQ(a.results.size(), b.results.size());
  for (std::size_t i = 0; i < a.results.size(); ++i) {
    SCOPED_TRACE(a.results[i].transport);
    const TransportResult &ra = a.results[i], &rb = b.results[i];
    EXPECT_EQ(ra.transport, rb.transport);
    EXPECT_EQ(ra.topology, rb.topology);
    EXPECT_EQ(ra.records, rb.records);
    EXPECT_EQ(ra.throughput_rps, rb.throughput_rps);
    EXPECT_EQ(ra.latency_records, rb.latency_records);
    expect_same(ra.latency, rb.latency);
    expect_same(ra.latency_raw, rb.latency_raw);
    expect_same(ra.latency_ack, rb.latency_ack);
    EXPECT_EQ(ra.file_bytes_per_s, rb.file_bytes_per_s);
    EXPECT_EQ(ra.payload_bytes_per_s, rb.payload_bytes_per_s);
    ASSERT_EQ(ra.distribution.size(), rb.distribution.size());
    for (std::size_t k = 0; k < ra.distribution.size(); ++k) {
      EXPECT_EQ(ra.distribution[k].value_ns, rb.distribution[k].value_ns);
      EXPECT_EQ(ra.distribution[k].fraction, rb.distribution[k].fraction);
    }
    ASSERT_EQ(ra.deadline.has_value(), rb.deadline.has_value());
    if (ra.deadline) {
      expect_same(ra.deadline->spec, rb.deadline->spec);
      EXPECT_EQ(ra.deadline->samples, rb.deadline->samples);
      EXPECT_EQ(ra.deadline->misses, rb.deadline->misses);
      EXPECT_EQ(ra.deadline->miss_rate, rb.deadline->miss_rate);
      EXPECT_EQ(ra.deadline->longest_streak, rb.deadline->longest_streak);
      EXPECT_EQ(ra.deadline->p999_ns, rb.deadline->p999_ns);
      EXPECT_EQ(ra.deadline->met, rb.deadline->met);
    }
    EXPECT_EQ(ra.error, rb.error);
  }

  ASSERT_EQ(a.ratios.size(), b.ratios.size());
  for (std::size_t i = 0; i < a.ratios.size(); ++i) {
    EXPECT_EQ(a.ratios[i].numerator, b.ratios[i].numerator);
    EXPECT_EQ(a.ratios[i].denominator, b.ratios[i].denominator);
    EXPECT_EQ(a.ratios[i].metric, b.ratios[i].metric);
    EXPECT_EQ(a.ratios[i].median, b.ratios[i].median);
    EXPECT_EQ(a.ratios[i].min, b.ratios[i].min);
    EXPECT_EQ(a.ratios[i].max, b.ratios[i].max);
    EXPECT_EQ(a.ratios[i].runs, b.ratios[i].runs);
  }
}

// --- Real-time classes and deadlines

TEST(BenchReport, RtClassNamesRoundTrip) {
  for (RtClass c : {RtClass::kHard, RtClass::kSoft, RtClass::kNear}) {
    Result<RtClass> parsed = parse_rt_class(rt_class_name(c));
    ASSERT_TRUE(parsed.is_ok());
    EXPECT_EQ(*parsed, c);
  }
  Result<RtClass> bad = parse_rt_class("firm");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'firm'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("hard, soft or near"), std::string::npos);
}

TEST(BenchReport, DeadlineCountsTrackStreaksAndMerge) {
  DeadlineCounts a;
  for (std::int64_t latency : {50, 150, 150, 50, 150, 150, 150, 50, 100, 150}) a.record(latency, 100);
  EXPECT_EQ(a.samples, 10u);
  EXPECT_EQ(a.misses, 6u);  // 100 is on time: a miss is strictly late
  EXPECT_EQ(a.longest_streak, 3u);
  EXPECT_EQ(a.streak, 1u);

  DeadlineCounts b;
  for (std::int64_t latency : {150, 150, 150, 150, 10}) b.record(latency, 100);
  EXPECT_EQ(b.longest_streak, 4u);
  EXPECT_EQ(b.streak, 0u);

  DeadlineCounts merged = a;
  merged.merge(b);
  EXPECT_EQ(merged.samples, 15u);
  EXPECT_EQ(merged.misses, 10u);
  EXPECT_EQ(merged.longest_streak, 4u);  // the longest of either, not 1 + 4 joined

  DeadlineCounts other_way = b;
  other_way.merge(a);
  EXPECT_EQ(other_way.samples, 15u);
  EXPECT_EQ(other_way.misses, 10u);
  EXPECT_EQ(other_way.longest_streak, 4u);
}

class JudgeDeadline : public ::testing::Test {
 protected:
  // 1000 samples: 1, 2, ..., 1000 ns (exact up to 255; p99.9 = rank 999).
  void SetUp() override {
    for (std::int64_t v = 1; v <= 1000; ++v) {
      h_->record(v);
      counts_.record(v, 990);
    }
  }
  std::unique_ptr<Histogram> h_ = std::make_unique<Histogram>();
  std::unique_ptr<Histogram> empty_ = std::make_unique<Histogram>();
  DeadlineCounts counts_;
};

TEST_F(JudgeDeadline, HardIsMetOnlyWithoutMisses) {
  const DeadlineSpec spec{.deadline_ns = 990, .rt_class = RtClass::kHard};
  const DeadlineResult missed = judge_deadline(spec, counts_, *h_);
  EXPECT_EQ(missed.samples, 1000u);
  EXPECT_EQ(missed.misses, 10u);
  EXPECT_DOUBLE_EQ(missed.miss_rate, 0.01);
  EXPECT_EQ(missed.longest_streak, 10u);
  EXPECT_EQ(missed.p999_ns, h_->value_at(0.999));
  EXPECT_EQ(missed.spec.rt_class, RtClass::kHard);
  EXPECT_FALSE(missed.met);

  DeadlineCounts clean;
  for (int i = 0; i < 1000; ++i) clean.record(10, 990);
  EXPECT_TRUE(judge_deadline(spec, clean, *h_).met);
}

TEST_F(JudgeDeadline, SoftIsMetUpToTheMissRate) {
  DeadlineSpec spec{.deadline_ns = 990, .rt_class = RtClass::kSoft, .max_miss_rate = 0.01};
  EXPECT_TRUE(judge_deadline(spec, counts_, *h_).met);  // 10 / 1000 = 0.01 exactly
  spec.max_miss_rate = 0.009;
  const DeadlineResult r = judge_deadline(spec, counts_, *h_);
  EXPECT_FALSE(r.met);
  EXPECT_DOUBLE_EQ(r.miss_rate, 0.01);
}

TEST_F(JudgeDeadline, NearIsJudgedOnTheCorrectedP999) {
  const std::int64_t p999 = h_->value_at(0.999);
  ASSERT_GE(p999, 999);
  ASSERT_LE(p999, 1000);
  DeadlineSpec spec{.deadline_ns = p999, .rt_class = RtClass::kNear};
  DeadlineResult r = judge_deadline(spec, counts_, *h_);
  EXPECT_TRUE(r.met);  // although 10 records missed 990 ns
  EXPECT_EQ(r.p999_ns, p999);
  spec.deadline_ns = p999 - 1;
  EXPECT_FALSE(judge_deadline(spec, counts_, *h_).met);
}

TEST_F(JudgeDeadline, NoSamplesIsNotMet) {
  for (RtClass c : {RtClass::kHard, RtClass::kSoft, RtClass::kNear}) {
    const DeadlineResult r = judge_deadline({.deadline_ns = 1'000'000, .rt_class = c}, DeadlineCounts{}, *empty_);
    EXPECT_FALSE(r.met) << rt_class_name(c);
    EXPECT_EQ(r.samples, 0u);
    EXPECT_EQ(r.miss_rate, 0.0);
  }
}

// --- Figures

TEST(BenchReport, FiguresOfKnownValues) {
  auto h = std::make_unique<Histogram>();
  for (std::int64_t v = 1; v <= 100; ++v) h->record(v);  // below 256: every value is exact
  const LatencyFigures f = figures_of(*h);
  EXPECT_EQ(f.count, 100u);
  EXPECT_EQ(f.min, 1);
  EXPECT_EQ(f.p50, 50);
  EXPECT_EQ(f.p90, 90);
  EXPECT_EQ(f.p99, 99);
  EXPECT_EQ(f.p999, 100);
  EXPECT_EQ(f.p9999, 100);
  EXPECT_EQ(f.max, 100);
  EXPECT_DOUBLE_EQ(f.mean, 50.5);
  EXPECT_NEAR(f.stddev, std::sqrt((100.0 * 100.0 - 1) / 12.0), 1e-9);  // population stddev of 1..n

  const LatencyFigures none = figures_of(Histogram());
  EXPECT_EQ(none.count, 0u);
  EXPECT_EQ(none.p50, 0);
  EXPECT_EQ(none.max, 0);
}

// --- Ratios

TEST(BenchReport, RatiosAreMediansOverRunsInAFixedOrder) {
  std::vector<std::vector<TransportResult>> runs;
  const double ipc_rates[] = {30, 10, 20};
  const std::int64_t ipc_p50[] = {100, 300, 200};
  for (int k = 0; k < 3; ++k) {
    runs.push_back({result("pipe", 20, 2000, 8000), result("rill-ipc", ipc_rates[k], ipc_p50[k], 400),
                    result("uds", 10, 1000, 4000), result("rill-inproc", 100, 50, 100)});
  }
  const std::vector<Ratio> ratios = compute_ratios(runs);
  // Numerators as first seen, then baselines as first seen (pipe, uds), then
  // throughput, p50, p99, p99.9. uds and pipe stand in for rill-ipc, which the runs
  // have, so rill-inproc is not compared with them.
  ASSERT_EQ(ratios.size(), 8u);
  const char* expected[][3] = {
      {"rill-ipc", "pipe", "throughput"}, {"rill-ipc", "pipe", "p50"}, {"rill-ipc", "pipe", "p99"},
      {"rill-ipc", "pipe", "p99.9"},      {"rill-ipc", "uds", "throughput"},  {"rill-ipc", "uds", "p50"},
      {"rill-ipc", "uds", "p99"},         {"rill-ipc", "uds", "p99.9"},
  };
  for (std::size_t i = 0; i < ratios.size(); ++i) {
    EXPECT_EQ(ratios[i].numerator, expected[i][0]) << i;
    EXPECT_EQ(ratios[i].denominator, expected[i][1]) << i;
    EXPECT_EQ(ratios[i].metric, expected[i][2]) << i;
    EXPECT_EQ(ratios[i].runs, 3) << i;
  }
  // rill-ipc / uds throughput over the runs: 3, 1, 2.
  EXPECT_DOUBLE_EQ(ratios[4].median, 2.0);
  EXPECT_DOUBLE_EQ(ratios[4].min, 1.0);
  EXPECT_DOUBLE_EQ(ratios[4].max, 3.0);
  // rill-ipc / uds p50: 0.1, 0.3, 0.2.
  EXPECT_DOUBLE_EQ(ratios[5].median, 0.2);
  EXPECT_DOUBLE_EQ(ratios[5].min, 0.1);
  EXPECT_DOUBLE_EQ(ratios[5].max, 0.3);
  // rill-ipc / pipe p99.9: 800 / 16000 every run.
  EXPECT_DOUBLE_EQ(ratios[3].median, 0.05);
  // rill-ipc / pipe p99: 400 / 8000 every run.
  EXPECT_DOUBLE_EQ(ratios[2].median, 0.05);
}

TEST(BenchReport, RatiosPairLikeWithLikeAndTheFloorWithEveryone) {
  const std::vector<std::vector<TransportResult>> both = {
      {result("rill-inproc", 10, 100, 200), result("rill-ipc", 10, 100, 200), result("boost-spsc", 10, 100, 200),
       result("uds", 10, 100, 200), result("iceoryx", 10, 100, 200), result("zmq-inproc", 10, 100, 200),
       result("pingpong-floor", 0, 50, 100)}};
  std::vector<std::string> pairs;
  for (const Ratio& r : compute_ratios(both))
    if (r.metric == "p50") pairs.push_back(r.numerator + "/" + r.denominator);
  EXPECT_EQ(pairs, (std::vector<std::string>{"rill-inproc/boost-spsc", "rill-inproc/zmq-inproc",
                                             "rill-inproc/pingpong-floor", "rill-ipc/uds", "rill-ipc/iceoryx",
                                             "rill-ipc/pingpong-floor"}));
  // Without its counterpart in the run, a baseline is compared with what there is.
  const std::vector<std::vector<TransportResult>> inproc_only = {
      {result("rill-inproc", 10, 100, 200), result("uds", 10, 100, 200)}};
  ASSERT_FALSE(compute_ratios(inproc_only).empty());
  EXPECT_EQ(compute_ratios(inproc_only)[0].denominator, "uds");
}

TEST(BenchReport, RatiosOverAnEvenCountAverageTheMiddleTwoAndSkipErrors) {
  std::vector<std::vector<TransportResult>> runs;
  for (double rate : {4.0, 1.0, 8.0, 2.0}) {
    runs.push_back({result("rill-ipc", rate, 100, 1000), result("uds", 1, 100, 1000)});
  }
  // A fifth run whose baseline failed, and a sixth whose rill side failed:
  // neither counts.
  runs.push_back({result("rill-ipc", 1000, 100, 1000), result("uds", 1, 100, 1000)});
  runs.back()[1].error = "lost a record";
  runs.push_back({result("rill-ipc", 1000, 100, 1000), result("uds", 1, 100, 1000)});
  runs.back()[0].error = "lost a record";
  // A seventh where the baseline has no throughput: only the latency ratios.
  runs.push_back({result("rill-ipc", 1000, 300, 3000), result("uds", std::nullopt, 100, 1000)});

  const std::vector<Ratio> ratios = compute_ratios(runs);
  ASSERT_EQ(ratios.size(), 4u);
  EXPECT_EQ(ratios[3].metric, "p99.9");
  EXPECT_EQ(ratios[0].metric, "throughput");
  EXPECT_EQ(ratios[0].runs, 4);
  EXPECT_DOUBLE_EQ(ratios[0].median, 3.0);  // (2 + 4) / 2
  EXPECT_DOUBLE_EQ(ratios[0].min, 1.0);
  EXPECT_DOUBLE_EQ(ratios[0].max, 8.0);
  EXPECT_EQ(ratios[1].metric, "p50");
  EXPECT_EQ(ratios[1].runs, 5);
  EXPECT_DOUBLE_EQ(ratios[1].median, 1.0);
  EXPECT_DOUBLE_EQ(ratios[1].max, 3.0);
  EXPECT_EQ(ratios[2].metric, "p99");
  EXPECT_EQ(ratios[2].runs, 5);
}

// Against a disk baseline rill's send-to-acknowledgement latency is compared
// (a consumer's latency is not what an fdatasync delays), and bytes/s
// wherever both wrote files.
TEST(BenchReport, RatiosAgainstADiskBaselineCompareAcknowledgementsAndBytes) {
  const std::vector<Ratio> ratios = durable_report().ratios;
  std::vector<std::string> got;
  for (const Ratio& r : ratios) got.push_back(r.denominator + " " + r.metric);
  EXPECT_EQ(got, (std::vector<std::string>{"raw-write throughput", "raw-write bytes/s", "raw-fdatasync throughput",
                                           "raw-fdatasync bytes/s", "raw-fdatasync ack p50", "raw-fdatasync ack p99",
                                           "raw-fdatasync ack p99.9"}));
  EXPECT_DOUBLE_EQ(ratios[1].median, 2'500.0 / 5'890'000);
  EXPECT_DOUBLE_EQ(ratios[4].median, 310'000.0 / 1'100'000);
  EXPECT_DOUBLE_EQ(ratios[5].median, 1'280'000.0 / 4'000'000);
  // A rill run without acknowledgements (durability memory) has no latency
  // ratio against a disk baseline; the in-memory baselines keep theirs.
  TransportResult memory = result("rill-inproc", 2'500, 20'000, 90'000);
  const std::vector<Ratio> plain =
      compute_ratios({{memory, result("raw-fdatasync", 550, 1'100'000, 4'000'000), result("boost-spsc", 1e6, 400, 800)}});
  std::vector<std::string> metrics;
  for (const Ratio& r : plain) metrics.push_back(r.denominator + " " + r.metric);
  EXPECT_EQ(metrics, (std::vector<std::string>{"raw-fdatasync throughput", "boost-spsc throughput", "boost-spsc p50",
                                               "boost-spsc p99", "boost-spsc p99.9"}));
}

// A durable run against its own transport in memory: persistence on / off,
// in throughput and in what the consumers see (p50, p99, p99.9); a memory
// reference is never a numerator and never divides another transport.
TEST(BenchReport, AMemoryReferenceDividesOnlyItsOwnTransport) {
  const std::vector<Ratio> ratios = compute_ratios({{result("rill-inproc", 2'000, 600, 3'000),
                                                     result("rill-ipc", 1'000, 900, 9'000),
                                                     result("rill-inproc@memory", 8'000, 500, 2'000)}});
  std::vector<std::string> got;
  for (const Ratio& r : ratios) got.push_back(r.numerator + "/" + r.denominator + " " + r.metric);
  EXPECT_EQ(got, (std::vector<std::string>{"rill-inproc/rill-inproc@memory throughput", "rill-inproc/rill-inproc@memory p50",
                                           "rill-inproc/rill-inproc@memory p99", "rill-inproc/rill-inproc@memory p99.9"}));
  ASSERT_EQ(ratios.size(), 4u);
  EXPECT_DOUBLE_EQ(ratios[0].median, 0.25);
  EXPECT_DOUBLE_EQ(ratios[1].median, 1.2);
  EXPECT_TRUE(is_memory_reference("rill-ipc@memory"));
  EXPECT_FALSE(is_memory_reference("rill-ipc"));
  EXPECT_FALSE(is_memory_reference("uds@memory"));
  EXPECT_EQ(without_reference("rill-ipc@memory"), "rill-ipc");
  EXPECT_EQ(without_reference("uds"), "uds");
}

TEST(BenchReport, NoRatiosWithoutBothSides) {
  EXPECT_TRUE(compute_ratios({}).empty());
  EXPECT_TRUE(compute_ratios({{result("rill-ipc", 1, 1, 1), result("rill-inproc", 1, 1, 1)}}).empty());
  EXPECT_TRUE(compute_ratios({{result("uds", 1, 1, 1), result("pipe", 1, 1, 1)}}).empty());
}

// --- JSON

TEST(BenchReport, JsonRoundTripsEveryField) {
  const Report report = sample_report();
  const std::string json = to_json(report);
  Result<Report> parsed = report_from_json(json);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string() << "\n" << json;
  expect_same(report, *parsed);
  EXPECT_EQ(to_json(*parsed), json);
  // `rill bench plot` of a saved run draws what the run itself drew.
  EXPECT_EQ(plot_svg(*parsed), plot_svg(report));
  EXPECT_EQ(format_table(*parsed), format_table(report));

  // A durable run's fields: acknowledgement latency, bytes/s, the data folder and its file system.
  const Report durable = durable_report();
  Result<Report> durable_parsed = report_from_json(to_json(durable));
  ASSERT_TRUE(durable_parsed.is_ok()) << durable_parsed.status().to_string();
  expect_same(durable, *durable_parsed);
  EXPECT_EQ(format_table(*durable_parsed), format_table(durable));

  // Defaults too (no rate, no deadline, count instead of duration).
  Report plain;
  plain.scenario.count = 12345;
  plain.results = {result("rill-inproc", 1e9 / 7, 10, 20)};
  Result<Report> plain_parsed = report_from_json(to_json(plain));
  ASSERT_TRUE(plain_parsed.is_ok()) << plain_parsed.status().to_string();
  expect_same(plain, *plain_parsed);
}

// The JSON text is checked as text here: the suite's JSON library stays
// private to report_json.cc.
TEST(BenchReport, JsonHasTheStableKeys) {
  const std::string json = to_json(sample_report());
  EXPECT_EQ(json.rfind("{\n  \"format\": \"rill-bench/1\",\n  \"scenario\": {", 0), 0u) << json.substr(0, 200);
  for (const char* key :
       {"transports", "compare",     "producers", "consumers", "partitions",  "split",  "record_bytes", "batch",
        "rate_rps",   "duration_ns", "count",     "warmup_ns", "wait",        "cpus",   "clock",        "durability",
        "acks",       "repeat",      "cpu_model", "cores",       "kernel", "hostname",     "tsc_ghz",
        "machine",    "results",     "ratios",    "numerator", "denominator", "metric", "median",       "runs",
        "data_dir",   "data_fs",     "io_backend", "latency_ack_ns", "file_bytes_per_s", "payload_bytes_per_s"}) {
    EXPECT_NE(json.find("\"" + std::string(key) + "\": "), std::string::npos) << key;
  }
  EXPECT_NE(json.find("\"rate_rps\": 100000.5,"), std::string::npos);
  EXPECT_NE(json.find("\"cpus\": [2,3,5],"), std::string::npos);
  EXPECT_NE(json.find("\"class\": \"soft\""), std::string::npos);

  // Results, in order, with the documented keys.
  const auto results = json.find("\"results\": [");
  ASSERT_NE(results, std::string::npos);
  const auto ipc = json.find("\"transport\": \"rill-ipc\"", results);
  const auto uds = json.find("\"transport\": \"uds\"", results);
  const auto floor = json.find("\"transport\": \"pingpong-floor\"", results);
  ASSERT_LT(ipc, uds);
  ASSERT_LT(uds, floor);
  ASSERT_NE(floor, std::string::npos);
  const std::string ipc_text = json.substr(ipc, uds - ipc);
  for (const char* key : {"topology",
                          "records",
                          "throughput_rps",
                          "latency_records",
                          "latency_ns",
                          "latency_raw_ns",
                          "distribution",
                          "deadline",
                          "count",
                          "min",
                          "p50",
                          "p90",
                          "p99",
                          "p999",
                          "p9999",
                          "max",
                          "mean",
                          "stddev",
                          "deadline_ns",
                          "class",
                          "max_miss_rate",
                          "samples",
                          "misses",
                          "miss_rate",
                          "longest_streak",
                          "p999_ns",
                          "met"}) {
    EXPECT_NE(ipc_text.find("\"" + std::string(key) + "\": "), std::string::npos) << key;
  }
  EXPECT_NE(ipc_text.find("\"topology\": \"2x3, 4 partitions, split\""), std::string::npos);
  EXPECT_NE(ipc_text.find("\"p999\": 3806,"), std::string::npos);
  EXPECT_NE(ipc_text.find("\"p9999\": 7612,"), std::string::npos);
  EXPECT_NE(ipc_text.find("\"latency_raw_ns\": {\n        \"count\": 1000000,\n        \"min\": 190,"),
            std::string::npos);
  EXPECT_NE(ipc_text.find("\"distribution\": [\n        [200,0.1],\n        [412,0.5],"), std::string::npos);
  EXPECT_NE(ipc_text.find("\"met\": false"), std::string::npos);
  EXPECT_EQ(ipc_text.find("\"error\""), std::string::npos);  // omitted when empty

  const std::string uds_text = json.substr(uds, floor - uds);
  EXPECT_NE(uds_text.find("\"error\": \"record 17 of producer 1 arrived twice\""), std::string::npos);
  EXPECT_NE(uds_text.find("\"latency_ns\": null,"), std::string::npos);
  EXPECT_NE(uds_text.find("\"throughput_rps\": null,"), std::string::npos);
  EXPECT_NE(uds_text.find("\"distribution\": []"), std::string::npos);
  EXPECT_EQ(uds_text.find("\"deadline\""), std::string::npos);  // omitted when absent

  const std::string floor_text = json.substr(floor);
  EXPECT_NE(floor_text.find("\"throughput_rps\": null,"), std::string::npos);
  EXPECT_NE(floor_text.find("\"latency_raw_ns\": null,"), std::string::npos);
  EXPECT_NE(floor_text.find("\"p50\": 95,"), std::string::npos);
}

TEST(BenchReport, JsonWithoutOptionalScenarioFieldsUsesNull) {
  const std::string json = to_json(Report{});
  EXPECT_NE(json.find("\"rate_rps\": null,"), std::string::npos);
  EXPECT_NE(json.find("\"deadline\": null,"), std::string::npos);
  EXPECT_NE(json.find("\"results\": [],"), std::string::npos);
  EXPECT_NE(json.find("\"ratios\": []\n}\n"), std::string::npos);
}

// `text` with the first `from` replaced by `to`.
std::string edited(std::string text, std::string_view from, std::string_view to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// A report written before durable topics lacks their keys: it reads as a
// run that wrote no files.
TEST(BenchReport, JsonFromBeforeDurableTopicsReadsWithoutTheirKeys) {
  std::string json = to_json(durable_report());
  for (std::string_view key : {"data_dir", "data_fs", "io_backend", "latency_ack_ns", "file_bytes_per_s",
                               "payload_bytes_per_s"}) {
    // Each member with its value (an object's lines too), wherever it appears;
    // a last member's predecessor loses its comma.
    const std::string quoted = "\"" + std::string(key) + "\": ";
    for (auto at = json.find(quoted); at != std::string::npos; at = json.find(quoted)) {
      const auto line = json.rfind('\n', at);
      const std::size_t indent = at - line - 1;
      auto end = json.find('\n', at);
      if (json[end - 1] == '{') {
        end = json.find("\n" + std::string(indent, ' ') + "}", end) + 1 + indent + 1;
        if (json[end] == ',') ++end;
      }
      const bool last = json[end - 1] != ',';
      json.erase(line, end - line);
      if (last && json[line - 1] == ',') json.erase(line - 1, 1);
    }
  }
  ASSERT_EQ(json.find("io_uring"), std::string::npos) << json;
  Result<Report> parsed = report_from_json(json);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string() << "\n" << json;
  EXPECT_EQ(parsed->scenario.data_dir, "");
  EXPECT_EQ(parsed->machine.data_fs, "");
  for (const TransportResult& r : parsed->results) {
    EXPECT_FALSE(r.latency_ack.has_value());
    EXPECT_FALSE(r.file_bytes_per_s.has_value());
    EXPECT_FALSE(r.payload_bytes_per_s.has_value());
  }
}

TEST(BenchReport, JsonErrorsNameWhatIsWrong) {
  const std::string good = to_json(sample_report());
  auto error_of = [](std::string_view text) {
    Result<Report> r = report_from_json(text);
    EXPECT_FALSE(r.is_ok()) << text;
    if (r.is_ok()) return std::string();
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_FALSE(r.status().message().empty());
    return r.status().message();
  };
  auto expect_error = [&](std::string_view text, std::string_view says) {
    const std::string message = error_of(text);
    EXPECT_NE(message.find(says), std::string::npos) << "message: " << message << "\nexpected: " << says;
  };

  expect_error("not json", "not JSON");
  expect_error("", "not JSON");
  expect_error(good.substr(0, good.size() / 2), "not JSON");
  expect_error("[1, 2]", "expected an object");
  expect_error("{}", "missing \"scenario\"");
  expect_error(edited(good, "\"machine\":", "\"machinx\":"), "missing \"machine\"");
  expect_error(edited(good, "\"results\":", "\"resultz\":"), "missing \"results\"");
  expect_error(edited(to_json(Report{}), "\"results\": []", "\"results\": 3"),
               "results: expected an array, got number");
  expect_error(edited(good, "\"transport\": \"uds\"", "\"transport_\": \"uds\""), "results[1]: missing \"transport\"");
  expect_error(edited(good, "\"p99\": 1903", "\"p99\": \"fast\""),
               "results[0].latency_ns.p99: expected an integer, got string");
  expect_error(edited(good, "\"records\": 10000000", "\"records\": -1"), "results[0].records: -1 is out of range");
  expect_error(edited(good, "\"producers\": 2", "\"producers\": 1e10"),
               "scenario.producers: expected an integer, got number");
  expect_error(edited(good, "\"producers\": 2", "\"producers\": 10000000000"),
               "scenario.producers: 10000000000 is out of range");
  expect_error(edited(good, "\"split\": true", "\"split\": 1"), "scenario.split: expected true or false");
  expect_error(edited(good, "\"class\": \"soft\"", "\"class\": \"firm\""),
               "scenario.deadline.class: unknown real-time class 'firm'");
  expect_error(edited(good, "[900,0.9]", "[900]"), "results[0].distribution[2]: expected [value_ns, fraction]");
  expect_error(edited(good, "\"rill-bench/1\"", "\"rill-bench/2\""), "rill-bench/2");

  // Unknown keys are ignored; so is a missing "format" or "ratios".
  Report no_ratios = sample_report();
  no_ratios.ratios.clear();
  std::string lenient = edited(to_json(no_ratios), "\"format\": \"rill-bench/1\",", "\"future\": [1, {\"x\": 2}],");
  lenient = edited(lenient, "\"transport\": \"rill-ipc\",", "\"transport\": \"rill-ipc\", \"new_figure\": 7,");
  lenient = edited(lenient, ",\n  \"ratios\": []", "");
  Result<Report> parsed = report_from_json(lenient);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  expect_same(no_ratios, *parsed);
}

// --- Texts

TEST(BenchReport, TableShowsEveryResultTheVerdictAndErrors) {
  const std::string table = format_table(sample_report());
  EXPECT_NE(table.find("rill-ipc"), std::string::npos);
  EXPECT_NE(table.find("pingpong-floor"), std::string::npos);
  EXPECT_NE(table.find("uds"), std::string::npos);
  EXPECT_NE(table.find("ERROR: record 17 of producer 1 arrived twice"), std::string::npos);
  EXPECT_NE(table.find("SOFT: NOT met"), std::string::npos);
  EXPECT_NE(table.find("8.62 M/s"), std::string::npos);
  EXPECT_NE(table.find("412 ns"), std::string::npos);
  EXPECT_NE(table.find("1.90 µs"), std::string::npos);                         // p99 1903 ns
  EXPECT_NE(table.find("19.0 µs"), std::string::npos);                         // max
  EXPECT_NE(table.find("2x3, 4 partitions, split"), std::string::npos);        // the scenario
  EXPECT_EQ(table.find("rill-ipc ("), std::string::npos);                      // run as asked
  EXPECT_NE(table.find("pingpong-floor (1x1 ping-pong)"), std::string::npos);  // run otherwise
  EXPECT_NE(table.find("1024 B records"), std::string::npos);
  EXPECT_NE(table.find("rate 100 k/s"), std::string::npos);
  EXPECT_NE(table.find("rill-ipc / uds"), std::string::npos);
  EXPECT_NE(table.find("throughput"), std::string::npos);
  EXPECT_NE(table.find("0.33 [0.25–0.40]"), std::string::npos);
  EXPECT_NE(table.find("over 3 runs"), std::string::npos);
  EXPECT_NE(table.find("SOFT: NOT met  deadline 50.0 µs: 1234 of 1000000 late (0.123%, allowed 0.1%), longest "
                       "streak 7, p99.9 3.81 µs"),
            std::string::npos)
      << table;

  Report hard = sample_report();
  hard.results[0].deadline->spec.rt_class = RtClass::kHard;
  hard.results[0].deadline->met = true;
  EXPECT_NE(format_table(hard).find("HARD: met"), std::string::npos);
}

TEST(BenchReport, TableShowsAcknowledgementsBytesAndTheDiskBaselines) {
  const std::string table = format_table(durable_report());
  EXPECT_NE(table.find("durability fsync, files in /mnt/disk"), std::string::npos) << table;
  EXPECT_NE(table.find("files on tmpfs via io_uring"), std::string::npos) << table;
  EXPECT_NE(table.find("\n  ack "), std::string::npos) << table;
  EXPECT_NE(table.find("310 µs"), std::string::npos) << table;  // the ack p50
  EXPECT_NE(table.find("  bytes: 200 kB/s to files, 160 kB/s of values"), std::string::npos) << table;
  EXPECT_NE(table.find("raw-write (1x0, files)"), std::string::npos) << table;
  EXPECT_NE(table.find("  bytes: 471 MB/s to files, 377 MB/s of values"), std::string::npos) << table;
  EXPECT_NE(table.find("raw-fdatasync: one record frame"), std::string::npos) << table;
  EXPECT_NE(table.find("ack: from each record's intended send time to the return of its send (durability fsync"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("note: the data folder is on tmpfs"), std::string::npos) << table;
  EXPECT_NE(table.find("rill-inproc / raw-fdatasync"), std::string::npos) << table;
  EXPECT_NE(table.find("ack p50"), std::string::npos) << table;
  // A memory run shows none of it.
  const std::string plain = format_table(sample_report());
  for (const char* absent : {"  ack ", "bytes:", "raw-write", "tmpfs", "files on"})
    EXPECT_EQ(plain.find(absent), std::string::npos) << absent;
}

TEST(BenchReport, DiffShowsChangesAndOneSidedTransports) {
  Report a, b;
  a.results = {result("rill-ipc", 1'000'000, 1'000, 4'000), result("boost-spsc", 2e6, 100, 200),
               result("uds", 1e5, 8'000, 20'000)};
  b.results = {result("rill-ipc", 1'100'000, 900, 4'000), result("uds", 1e5, 8'000, 20'000),
               result("pipe", 1e5, 9'000, 30'000)};
  std::string diff = format_diff(a, b);
  EXPECT_NE(diff.find("rill-ipc"), std::string::npos);
  EXPECT_NE(diff.find("+10.0%"), std::string::npos);  // throughput
  EXPECT_NE(diff.find("-10.0%"), std::string::npos);  // p50
  EXPECT_NE(diff.find("+0.0%"), std::string::npos);   // p99
  EXPECT_NE(diff.find("negative is faster"), std::string::npos);
  EXPECT_NE(diff.find("only in A: boost-spsc"), std::string::npos);
  EXPECT_NE(diff.find("only in B: pipe"), std::string::npos);
  EXPECT_EQ(diff.find("warning"), std::string::npos) << diff;

  b.scenario.record_bytes = 4096;
  b.machine.cores = 64;
  diff = format_diff(a, b);
  EXPECT_NE(diff.find("scenarios differ"), std::string::npos);
  EXPECT_NE(diff.find("record bytes 64 vs 4096"), std::string::npos);
  EXPECT_NE(diff.find("machines differ"), std::string::npos);
  EXPECT_NE(diff.find("cores 0 vs 64"), std::string::npos);
}

TEST(BenchReport, SvgHasOneLinePerDistributionAndEscapesText) {
  Report report = sample_report();
  report.results[2].transport = "floor <a&b>";
  const std::string svg = plot_svg(report);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  ASSERT_GE(svg.size(), 7u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(count_of(svg, "<polyline"), 2u);  // uds has no distribution
  EXPECT_NE(svg.find("rill-ipc"), std::string::npos);
  EXPECT_NE(svg.find("floor &lt;a&amp;b&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<a&b>"), std::string::npos);
  EXPECT_EQ(count_of(svg, "http"), 1u);  // the SVG namespace only
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("@import"), std::string::npos);
  EXPECT_NE(svg.find("99.9%"), std::string::npos);
  EXPECT_EQ(count_of(svg, "<svg"), 1u);
  EXPECT_EQ(count_of(svg, "<text"), count_of(svg, "</text>"));

  report.results.clear();
  const std::string empty = plot_svg(report);
  EXPECT_EQ(count_of(empty, "<polyline"), 0u);
  EXPECT_EQ(empty.substr(empty.size() - 7), "</svg>\n");
}

}  // namespace
}  // namespace rill::bench
