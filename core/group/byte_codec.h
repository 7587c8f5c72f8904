// Little-endian encoding of the groups' formats (group_format.h, the
// commit log of core/client/commit_log.h): a Writer that appends, and a
// Reader that checks every length against the bytes it has, so that hostile
// bytes are refused (false), never read past.
//
// Thread safety: values; one thread each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace rill::group {

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<std::byte>(v)); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void str(const std::string& s) {
    u16(static_cast<std::uint16_t>(s.size()));
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    out_.insert(out_.end(), p, p + s.size());
  }
  std::vector<std::byte>& bytes() { return out_; }

 private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::byte>(v >> (8 * i)));
  }
  std::vector<std::byte> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}
  bool u8(std::uint8_t* v) {
    std::uint64_t x;
    if (!le(&x, 1)) return false;
    *v = static_cast<std::uint8_t>(x);
    return true;
  }
  bool u16(std::uint16_t* v) {
    std::uint64_t x;
    if (!le(&x, 2)) return false;
    *v = static_cast<std::uint16_t>(x);
    return true;
  }
  bool u32(std::uint32_t* v) {
    std::uint64_t x;
    if (!le(&x, 4)) return false;
    *v = static_cast<std::uint32_t>(x);
    return true;
  }
  bool u64(std::uint64_t* v) { return le(v, 8); }
  bool i32(std::int32_t* v) {
    std::uint32_t x;
    if (!u32(&x)) return false;
    *v = static_cast<std::int32_t>(x);
    return true;
  }
  bool i64(std::int64_t* v) {
    std::uint64_t x;
    if (!u64(&x)) return false;
    *v = static_cast<std::int64_t>(x);
    return true;
  }
  bool str(std::string* s, std::size_t max) {
    std::uint16_t n;
    if (!u16(&n) || n > max || n > in_.size() - at_) return false;
    s->assign(reinterpret_cast<const char*>(in_.data() + at_), n);
    at_ += n;
    return true;
  }
  // A count of items each at least `min_bytes` long, at most `max`: never
  // more than the bytes left could hold (a hostile count allocates nothing).
  bool count(std::uint32_t* n, std::size_t max, std::size_t min_bytes) {
    return u32(n) && *n <= max && static_cast<std::size_t>(*n) * min_bytes <= in_.size() - at_;
  }
  std::size_t at() const { return at_; }
  bool done() const { return at_ == in_.size(); }

 private:
  bool le(std::uint64_t* v, std::size_t n) {
    if (in_.size() - at_ < n) return false;
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < n; ++i) x |= static_cast<std::uint64_t>(in_[at_ + i]) << (8 * i);
    at_ += n;
    *v = x;
    return true;
  }
  std::span<const std::byte> in_;
  std::size_t at_ = 0;
};

}  // namespace rill::group
