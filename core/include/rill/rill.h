// rill: Kafka's model at memory speed. Include this header for the whole API.
//
//   auto ns = rill::Namespace::open_shared("default");   // or in_process()
//   ns.value()->create_topic("orders", {.partitions = 4});
//   auto topic = ns.value()->open_topic("orders").value();
//   rill::Producer producer(topic);
//   producer.send("key", "value");
//   rill::Consumer consumer(topic, {.start_at_earliest = true});
//   consumer.assign_all();
//   for (const rill::RecordView& r : consumer.poll(std::chrono::seconds(1)).records) ...
#pragma once

#include "rill/compression.h"
#include "rill/consumer.h"
#include "rill/producer.h"
#include "rill/record.h"
#include "rill/serde.h"
#include "rill/status.h"
#include "rill/topic.h"
#include "rill/wait.h"
