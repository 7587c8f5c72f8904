// The library's side of a Topic: its partitions' rings. Every Topic is a
// RingTopic (Topic's constructor is private to it), so producers, consumers
// and housekeeping reach a partition's ring through ring_of() without the
// public API exposing log::PartitionRing.
#pragma once

#include <cstdint>

#include "core/log/flusher.h"
#include "core/log/partition_ring.h"
#include "rill/topic.h"

namespace rill::client {

class RingTopic : public Topic {
 public:
  // The ring of partition `p`. REQUIRES: 0 <= p < partition_count().
  virtual log::PartitionRing& ring(std::int32_t p) = 0;
  // This process's flusher of partition `p` of a durable topic; null for a
  // topic in memory only.
  virtual log::Flusher* flusher(std::int32_t) { return nullptr; }
};

inline log::PartitionRing& ring_of(Topic& topic, std::int32_t p) { return static_cast<RingTopic&>(topic).ring(p); }
inline log::Flusher* flusher_of(Topic& topic, std::int32_t p) { return static_cast<RingTopic&>(topic).flusher(p); }

}  // namespace rill::client
