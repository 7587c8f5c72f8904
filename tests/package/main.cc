// Produces three records to a topic of an in-process namespace and reads
// them back, through the public headers only. Prints what it read; exits 1
// on any difference.
#include <cstdio>
#include <string>
#include <vector>

#include "rill/rill.h"

int main() {
  auto ns = rill::Namespace::in_process();
  if (!ns.is_ok()) return std::printf("namespace: %s\n", ns.status().to_string().c_str()), 1;
  rill::TopicConfig config;
  config.partitions = 1;
  config.segment_bytes = 65536;
  config.segment_count = 4;
  if (auto s = (*ns)->create_topic("orders", config); !s.is_ok()) return std::printf("create: %s\n", s.to_string().c_str()), 1;
  auto topic = (*ns)->open_topic("orders");
  if (!topic.is_ok()) return std::printf("open: %s\n", topic.status().to_string().c_str()), 1;
  const std::vector<std::string> sent = {"one", "two", "three"};
  rill::Producer producer(*topic);
  for (const std::string& v : sent)
    if (auto r = producer.send("key", v); !r.is_ok()) return std::printf("send: %s\n", r.status().to_string().c_str()), 1;
  rill::ConsumerOptions options;
  options.start_at_earliest = true;
  options.verify_checksums = true;
  rill::Consumer consumer(*topic, options);
  if (auto s = consumer.assign_all(); !s.is_ok()) return std::printf("assign: %s\n", s.to_string().c_str()), 1;
  std::vector<std::string> got;
  for (int polls = 0; got.size() < sent.size() && polls < 100; ++polls)
    for (const rill::RecordView& v : consumer.poll(std::chrono::milliseconds(10)).records) got.emplace_back(v.value());
  if (got != sent) return std::printf("read %zu records, not the 3 sent\n", got.size()), 1;
  std::printf("outside program: read %s, %s, %s\n", got[0].c_str(), got[1].c_str(), got[2].c_str());
  return 0;
}
