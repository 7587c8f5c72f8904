#include "tools/rill/format.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>

#include "rill/consumer.h"
#include "rill/producer.h"
#include "rill/topic.h"
#include "tools/rill/output.h"

namespace rill::cli {
namespace {

// Renders records through a real OutputBuffer into a pipe.
class CliFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ns = Namespace::in_process();
    ASSERT_TRUE(ns.is_ok());
    ns_ = *ns;
    TopicConfig config;
    config.partitions = 1;
    config.segment_bytes = 64 << 10;
    ASSERT_TRUE(ns_->create_topic("fmt", config).is_ok());
    topic_ = ns_->open_topic("fmt").value();
  }

  std::string render(std::string_view spec, const std::vector<RecordView>& records) {
    auto format = RecordFormat::parse(spec);
    EXPECT_TRUE(format.is_ok()) << format.status().to_string();
    if (!format) return {};
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    OutputBuffer out(fds[1]);
    for (const RecordView& r : records) format->append(r, "fmt", out);
    EXPECT_TRUE(out.flush().is_ok());
    ::close(fds[1]);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    return text;
  }

  std::vector<RecordView> consume_all() {
    consumer_ = std::make_unique<Consumer>(topic_, ConsumerOptions{.start_at_earliest = true});
    EXPECT_TRUE(consumer_->assign_all().is_ok());
    PollResult r = consumer_->poll(std::chrono::milliseconds(100));
    return {r.records.begin(), r.records.end()};
  }

  std::shared_ptr<Namespace> ns_;
  std::shared_ptr<Topic> topic_;
  std::unique_ptr<Consumer> consumer_;
};

TEST_F(CliFormatTest, EveryTokenRendersItsField) {
  Producer producer(topic_);
  const Header headers[] = {{"h1", "v1"}, {"h2", std::nullopt}};
  SendOptions options;
  options.timestamp_ns = 1'700'000'000'123'456'789;
  options.headers = headers;
  ASSERT_TRUE(producer.send("key", "value", options).is_ok());
  options.headers = {};
  options.timestamp_ns = 5'000'000;
  ASSERT_TRUE(producer.send(std::nullopt, "", options).is_ok());
  auto records = consume_all();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(render("%t|%p|%o|%k|%s|%T|%K|%S|%h|%%|\\t|\\\\|\\r\\n", records),
            "fmt|0|0|key|value|1700000000123|3|5|h1=v1,h2|%|\t|\\|\r\n"
            "fmt|0|1|||5|-1|0||%|\t|\\|\r\n");
}

TEST_F(CliFormatTest, DefaultIsTheValueAndANewline) {
  Producer producer(topic_);
  ASSERT_TRUE(producer.send("k", "a").is_ok());
  ASSERT_TRUE(producer.send("k", "b c").is_ok());
  EXPECT_EQ(render(RecordFormat::kDefault, consume_all()), "a\nb c\n");
}

TEST_F(CliFormatTest, LiteralTextAroundTokensIsKept) {
  Producer producer(topic_);
  ASSERT_TRUE(producer.send("k", "v").is_ok());
  EXPECT_EQ(render("key=%k value=%s (at %o)", consume_all()), "key=k value=v (at 0)");
}

TEST(CliFormat, RejectsUnknownTokensNamingPosition) {
  for (const char* bad : {"%x", "abc%", "%s\\", "\\q", "%s %z\\n"}) {
    auto f = RecordFormat::parse(bad);
    ASSERT_FALSE(f.is_ok()) << bad;
    EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
    EXPECT_NE(f.status().message().find("position"), std::string::npos) << f.status().message();
  }
  EXPECT_NE(RecordFormat::parse("%s %z").status().message().find("'%z' at position 4"), std::string::npos);
}

TEST(CliOutputBuffer, RollbackTakesBackOnlyWhatFollowsTheMark) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  OutputBuffer out(fds[1]);
  out.append("keep ");
  const std::size_t mark = out.mark();
  out.append("drop");
  out.append_int(-42);
  out.rollback(mark);
  out.append_int(-42);
  ASSERT_TRUE(out.flush().is_ok());
  ::close(fds[1]);
  char buf[64];
  const ssize_t n = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "keep -42");
}

TEST(CliOutputBuffer, AClosedReaderIsReportedAsClosed) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  auto old = ::signal(SIGPIPE, SIG_IGN);
  OutputBuffer out(fds[1]);
  out.append("x");
  Status s = out.flush();
  ::signal(SIGPIPE, old);
  ::close(fds[1]);
  EXPECT_FALSE(s.is_ok());
  EXPECT_TRUE(out.closed());
}

}  // namespace
}  // namespace rill::cli
