// Writing v4 frames by hand, for tests that drive a PartitionRing directly
// or plant damaged frames (the layout is core/log/record_format.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/format/codec.h"
#include "core/log/frame_codec.h"
#include "core/log/record_format.h"

namespace rill::test {

// Unpadded bytes of a record frame.
inline std::uint32_t record_size(std::size_t value_size, const std::optional<std::string_view>& key = std::nullopt,
                                 std::span<const Header> headers = {}) {
  return static_cast<std::uint32_t>(log::record_frame_size(key, value_size, log::header_block_size(headers)));
}

// Writes a record frame of the record at `offset` at `frame` (its
// record_size() bytes); returns the commit word to publish it with.
inline std::uint64_t encode_record(std::byte* frame, std::int64_t offset, std::int64_t timestamp_ns,
                                   const std::optional<std::string_view>& key, std::string_view value,
                                   std::span<const Header> headers = {}) {
  std::uint32_t info = 0;
  std::byte* at = log::encode_record_fields(frame, timestamp_ns, key, value.size(), headers,
                                            log::header_block_size(headers), &info);
  if (!value.empty()) std::memcpy(at, value.data(), value.size());
  return log::commit_word_of(frame, info, offset);
}

// Unpadded bytes of a batch frame of `values` (no keys, one timestamp).
inline std::uint32_t batch_size(const std::vector<std::string>& values) {
  std::uint64_t n = log::kBatchHeaderSize;
  for (const std::string& v : values) n += log::batch_record_size(0, std::nullopt, v.size(), 0);
  return static_cast<std::uint32_t>(n);
}

// Writes a batch frame of `values` from `base_offset`, all at `timestamp_ns`;
// returns its commit word.
inline std::uint64_t encode_batch(std::byte* frame, std::int64_t base_offset, std::int64_t timestamp_ns,
                                  const std::vector<std::string>& values) {
  std::byte* at = frame + log::kBatchHeaderSize;
  for (const std::string& v : values) at = log::encode_batch_record(at, 0, std::nullopt, v, {}, 0);
  const std::uint32_t info =
      log::encode_batch_header(frame, static_cast<std::uint32_t>(at - frame), base_offset, timestamp_ns, timestamp_ns,
                               static_cast<std::uint32_t>(values.size()));
  return log::commit_word_of(frame, info, base_offset);
}

// A batch frame of `values` (no keys) from `base_offset`, the i-th at
// timestamp_ns + 10 i, its records compressed with `codec` as
// Producer::send_batch compresses them (whether or not that saves bytes).
// Returns the frame's bytes (the commit word not written in them: *word).
inline std::vector<std::byte> compressed_batch(std::int64_t base_offset, std::int64_t timestamp_ns,
                                               const std::vector<std::string>& values, Compression codec,
                                               std::uint64_t* word) {
  std::vector<std::byte> records;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::size_t at = records.size();
    const auto delta = static_cast<std::int64_t>(10 * i);
    records.resize(at + log::batch_record_size(delta, std::nullopt, values[i].size(), 0));
    log::encode_batch_record(records.data() + at, delta, std::nullopt, values[i], {}, 0);
  }
  format::Compressor compressor;
  std::vector<std::byte> frame(log::kBatchHeaderSize + format::max_compressed_bytes(codec, records.size()));
  auto n = compressor.compress(codec, records, std::span<std::byte>(frame).subspan(log::kBatchHeaderSize));
  if (!n) return {};
  frame.resize(log::kBatchHeaderSize + *n);
  const std::uint32_t info = log::encode_batch_header(
      frame.data(), static_cast<std::uint32_t>(frame.size()), base_offset, timestamp_ns,
      timestamp_ns + static_cast<std::int64_t>(10 * (values.size() - 1)), static_cast<std::uint32_t>(values.size()),
      codec, static_cast<std::uint32_t>(records.size()));
  *word = log::commit_word_of(frame.data(), info, base_offset);
  return frame;
}

// The commit word of `frame` (as written, not atomically: for tests only).
inline std::uint64_t commit_word_at(const std::byte* frame) {
  std::uint64_t w;
  std::memcpy(&w, frame, sizeof w);
  return w;
}

}  // namespace rill::test
