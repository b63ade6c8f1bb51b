#pragma once
// ByteReader: the one bounded reader every wire and file parser goes through.
// Reads are little-endian unless named otherwise. An out-of-bounds read sets a
// sticky error and returns zeros, so a parser checks ok() once per unit
// instead of after every field.

#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice {

class ByteReader {
 public:
  ByteReader() = default;
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  explicit ByteReader(std::string_view s)
      : data_(reinterpret_cast<const uint8_t*>(s.data())), size_(s.size()) {}

  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  size_t size() const { return size_; }
  size_t remaining() const { return ok_ ? size_ - pos_ : 0; }
  bool at_end() const { return pos_ >= size_; }
  const uint8_t* data() const { return data_; }
  const uint8_t* cursor() const { return data_ + pos_; }

  // Hides the last n bytes (the CRC32 trailer of a binlog event) from reads.
  void TrimEnd(size_t n) {
    if (n > size_ - pos_) {
      Fail();
      return;
    }
    size_ -= n;
  }
  void Fail() { ok_ = false; pos_ = size_; }

  bool Skip(size_t n) {
    if (!Need(n)) return false;
    pos_ += n;
    return true;
  }
  bool Seek(size_t p) {
    if (p > size_) { Fail(); return false; }
    pos_ = p;
    return true;
  }

  uint8_t U8() { return Need(1) ? data_[pos_++] : 0; }
  uint16_t U16() { return static_cast<uint16_t>(UInt(2)); }
  uint32_t U24() { return static_cast<uint32_t>(UInt(3)); }
  uint32_t U32() { return static_cast<uint32_t>(UInt(4)); }
  uint64_t U48() { return UInt(6); }
  uint64_t U64() { return UInt(8); }

  // Little-endian unsigned integer of n (1..8) bytes.
  uint64_t UInt(size_t n) {
    if (!Need(n)) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }
  // Big-endian unsigned integer of n (1..8) bytes (temporal and decimal formats).
  uint64_t UIntBE(size_t n) {
    if (!Need(n)) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | data_[pos_ + i];
    pos_ += n;
    return v;
  }
  double F64() {
    uint64_t bits = U64();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  float F32() {
    uint32_t bits = U32();
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }

  // MySQL length-encoded integer (packed integer).
  uint64_t LenEnc() {
    uint8_t first = U8();
    if (first < 0xfb) return first;
    if (first == 0xfc) return UInt(2);
    if (first == 0xfd) return UInt(3);
    if (first == 0xfe) return UInt(8);
    Fail();  // 0xfb (NULL) and 0xff are not valid here
    return 0;
  }

  std::string_view Bytes(size_t n) {
    if (!Need(n)) return {};
    std::string_view v(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return v;
  }
  std::string_view Rest() { return Bytes(remaining()); }
  std::string_view LenEncString() {
    uint64_t n = LenEnc();
    return Bytes(static_cast<size_t>(n));
  }
  // A string whose length is in the first `len_bytes` bytes.
  std::string_view PrefixedString(size_t len_bytes) {
    uint64_t n = UInt(len_bytes);
    return Bytes(static_cast<size_t>(n));
  }
  // A NUL-terminated string (the NUL is consumed, not returned).
  std::string_view CString() {
    if (!ok_) return {};
    const void* nul = std::memchr(data_ + pos_, 0, size_ - pos_);
    if (!nul) { Fail(); return {}; }
    size_t n = static_cast<const uint8_t*>(nul) - (data_ + pos_);
    std::string_view v(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n + 1;
    return v;
  }

 private:
  bool Need(size_t n) {
    if (!ok_ || n > size_ - pos_) {
      Fail();
      return false;
    }
    return true;
  }

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace sluice
