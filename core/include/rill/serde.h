// Serdes: typed keys and values over rill's byte records, and typed
// producer/consumer wrappers.
//
// A serde is a type S with
//   using value_type = T;
//   static std::size_t size(const T&)                      bytes it encodes to
//   static void write(const T&, std::span<std::byte> out)  out.size() == size(v)
//   static Result<T> read(std::string_view bytes)          kCorrupt on bad input
// Encodings match Kafka's serializers: IntegerSerializer/LongSerializer are
// 4/8-byte big-endian two's complement, StringSerializer is UTF-8 bytes,
// ByteArraySerializer is the bytes as they are.
#pragma once

#include <bit>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "rill/consumer.h"
#include "rill/producer.h"

namespace rill {

template <typename S>
concept Serde = requires(const typename S::value_type& v, std::span<std::byte> out, std::string_view in) {
  { S::size(v) } -> std::convertible_to<std::size_t>;
  S::write(v, out);
  { S::read(in) } -> std::same_as<Result<typename S::value_type>>;
};

namespace detail {
template <typename T>
Result<T> read_big_endian(std::string_view in, const char* what) {
  if (in.size() != sizeof(T))
    return Status(Code::kCorrupt, std::string(what) + " needs exactly " + std::to_string(sizeof(T)) +
                                      " bytes, got " + std::to_string(in.size()));
  std::make_unsigned_t<T> u = 0;
  for (unsigned char c : in) u = static_cast<std::make_unsigned_t<T>>((u << 8) | c);
  return static_cast<T>(u);
}
template <typename T>
void write_big_endian(T v, std::span<std::byte> out) noexcept {
  auto u = static_cast<std::make_unsigned_t<T>>(v);
  for (std::size_t i = sizeof(T); i-- > 0;) {
    out[i] = static_cast<std::byte>(u & 0xFF);
    u = static_cast<std::make_unsigned_t<T>>(u >> 8);
  }
}
}  // namespace detail

struct Int32Serde {
  using value_type = std::int32_t;
  static std::size_t size(std::int32_t) noexcept { return 4; }
  static void write(std::int32_t v, std::span<std::byte> out) noexcept { detail::write_big_endian(v, out); }
  static Result<std::int32_t> read(std::string_view in) { return detail::read_big_endian<std::int32_t>(in, "int32"); }
};

struct Int64Serde {
  using value_type = std::int64_t;
  static std::size_t size(std::int64_t) noexcept { return 8; }
  static void write(std::int64_t v, std::span<std::byte> out) noexcept { detail::write_big_endian(v, out); }
  static Result<std::int64_t> read(std::string_view in) { return detail::read_big_endian<std::int64_t>(in, "int64"); }
};

// True if `s` is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

// UTF-8 text; read() returns a view into the record (zero copy) after
// checking the encoding.
struct StringSerde {
  using value_type = std::string_view;
  static std::size_t size(std::string_view v) noexcept { return v.size(); }
  static void write(std::string_view v, std::span<std::byte> out) noexcept {
    if (!v.empty()) std::memcpy(out.data(), v.data(), v.size());
  }
  static Result<std::string_view> read(std::string_view in) {
    if (!is_valid_utf8(in)) return Status(Code::kCorrupt, "value is not valid UTF-8");
    return in;
  }
};

// Raw bytes, as they are.
struct BytesSerde {
  using value_type = std::span<const std::byte>;
  static std::size_t size(std::span<const std::byte> v) noexcept { return v.size(); }
  static void write(std::span<const std::byte> v, std::span<std::byte> out) noexcept {
    if (!v.empty()) std::memcpy(out.data(), v.data(), v.size());
  }
  static Result<std::span<const std::byte>> read(std::string_view in) {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(in.data()), in.size());
  }
};

// Sends typed records: the value is encoded straight into the log (zero copy).
// Thread safety: as Producer.
template <Serde KeySerde, Serde ValueSerde>
class TypedProducer {
 public:
  using Key = typename KeySerde::value_type;
  using Value = typename ValueSerde::value_type;

  explicit TypedProducer(std::shared_ptr<Topic> topic) : producer_(std::move(topic)) {}

  // As Producer::send. A null key (nullopt) goes round-robin.
  Result<RecordMetadata> send(const std::optional<Key>& key, const Value& value, SendOptions options = {}) {
    // Keys are small: encode into a stack buffer, then hash and copy.
    std::byte key_buffer[256];
    std::string key_heap;
    std::optional<std::string_view> key_bytes;
    if (key) {
      const std::size_t n = KeySerde::size(*key);
      std::byte* at = key_buffer;
      if (n > sizeof key_buffer) {
        key_heap.resize(n);
        at = reinterpret_cast<std::byte*>(key_heap.data());
      }
      KeySerde::write(*key, std::span<std::byte>(at, n));
      key_bytes = std::string_view(reinterpret_cast<const char*>(at), n);
    }
    auto reservation = producer_.reserve(key_bytes, ValueSerde::size(value), options);
    if (!reservation) return reservation.status();
    ValueSerde::write(value, reservation->value());
    producer_.publish(*reservation);
    return RecordMetadata{reservation->partition(), reservation->offset()};
  }

  Producer& raw() noexcept { return producer_; }

 private:
  Producer producer_;
};

// A record decoded by a TypedConsumer. Views (string, bytes) point into the log.
template <typename Key, typename Value>
struct TypedRecord {
  std::int32_t partition;
  std::int64_t offset;
  std::int64_t timestamp_ns;
  std::optional<Key> key;
  Value value;
};

// Reads typed records; a record that does not decode is an error value.
// Thread safety: as Consumer.
template <Serde KeySerde, Serde ValueSerde>
class TypedConsumer {
 public:
  using Key = typename KeySerde::value_type;
  using Value = typename ValueSerde::value_type;
  using Record = TypedRecord<Key, Value>;

  explicit TypedConsumer(std::shared_ptr<Topic> topic, ConsumerOptions options = {})
      : consumer_(std::move(topic), options) {}

  // Decodes one record of a poll.
  static Result<Record> decode(const RecordView& v) {
    std::optional<Key> key;
    if (v.has_key()) {
      auto k = KeySerde::read(v.key());
      if (!k) return k.status().with_context("key at offset " + std::to_string(v.offset()));
      key = std::move(*k);
    }
    auto value = ValueSerde::read(v.value());
    if (!value) return value.status().with_context("value at offset " + std::to_string(v.offset()));
    return Record{v.partition(), v.offset(), v.timestamp_ns(), std::move(key), std::move(*value)};
  }

  Consumer& raw() noexcept { return consumer_; }

 private:
  Consumer consumer_;
};

}  // namespace rill
