#include "source/mysql/column/decimal.h"

#include <cstring>

#include "source/mysql/column/digits.h"

namespace sluice::mysql {
namespace {

constexpr int kDigitsPerGroup = 9;
constexpr size_t kGroupBytes = 4;
// Bytes for a leftover group of 0..8 digits (MySQL's dig2bytes).
constexpr size_t kDecimalDigitBytes[kDigitsPerGroup + 1] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
constexpr uint32_t kPow10[kDigitsPerGroup + 1] = {1,      10,      100,      1000,      10000,
                                                  100000, 1000000, 10000000, 100000000, 1000000000};
// 65 digits need at most 7 full groups and a partial one per side.
constexpr size_t kMaxDecimalBinarySize = 32;

}  // namespace

size_t DecimalBinarySize(int precision, int scale) {
  if (precision < 1 || precision > kMaxDecimalPrecision || scale < 0 || scale > precision) {
    return 0;
  }
  const int intg = precision - scale;
  return (intg / kDigitsPerGroup) * kGroupBytes + kDecimalDigitBytes[intg % kDigitsPerGroup] +
         (scale / kDigitsPerGroup) * kGroupBytes + kDecimalDigitBytes[scale % kDigitsPerGroup];
}

Status FormatDecimalBinary(std::string_view bin, int precision, int scale, char* buf, size_t& len) {
  const size_t size = DecimalBinarySize(precision, scale);
  if (size == 0) {
    return Status::Corruption("invalid DECIMAL({},{})", precision, scale);
  }
  if (bin.size() != size) {
    return Status::Corruption("DECIMAL({},{}) takes {} bytes, got {}", precision, scale, size, bin.size());
  }
  uint8_t b[kMaxDecimalBinarySize];
  std::memcpy(b, bin.data(), size);
  const bool negative = (b[0] & 0x80) == 0;
  b[0] ^= 0x80;
  if (negative) {
    for (size_t i = 0; i < size; ++i) {
      b[i] = static_cast<uint8_t>(~b[i]);
    }
  }

  const int intg = precision - scale;
  ByteReader r(b, size);
  // Digits go to buf + 2, leaving room for a sign and a "0" before them;
  // the text is then assembled in place, never overtaking its source.
  char* const digits = buf + 2;
  char* p = digits;
  auto group = [&](int width) -> bool {
    uint32_t v = static_cast<uint32_t>(r.UIntBE(width == kDigitsPerGroup ? kGroupBytes : kDecimalDigitBytes[width]));
    if (v >= kPow10[width]) {
      return false;
    }
    p = PutDigits(p, v, width);
    return true;
  };
  bool valid = true;
  if (intg % kDigitsPerGroup) {
    valid &= group(intg % kDigitsPerGroup);
  }
  for (int i = 0; i < intg / kDigitsPerGroup; ++i) {
    valid &= group(kDigitsPerGroup);
  }
  char* const int_end = p;
  for (int i = 0; i < scale / kDigitsPerGroup; ++i) {
    valid &= group(kDigitsPerGroup);
  }
  if (scale % kDigitsPerGroup) {
    valid &= group(scale % kDigitsPerGroup);
  }
  if (!valid) {
    return Status::Corruption("DECIMAL({},{}) value has a digit group out of range", precision, scale);
  }

  char* int_begin = digits;
  while (int_begin < int_end && *int_begin == '0') {
    ++int_begin;
  }
  bool all_zero = int_begin == int_end;
  for (char* f = int_end; all_zero && f < p; ++f) {
    all_zero = *f == '0';
  }

  // Assemble in place: [sign] integer digits (or "0") [. fraction].
  char* out = buf;
  if (negative && !all_zero) {
    *out++ = '-';  // MySQL never stores -0; print it as 0
  }
  if (int_begin == int_end) {
    *out++ = '0';
  } else {
    std::memmove(out, int_begin, static_cast<size_t>(int_end - int_begin));
    out += int_end - int_begin;
  }
  if (scale > 0) {
    // The fraction sits at int_end..p, at or after `out`: memmove handles the overlap.
    const size_t frac_len = static_cast<size_t>(p - int_end);
    std::memmove(out + 1, int_end, frac_len);
    *out = '.';
    out += 1 + frac_len;
  }
  len = static_cast<size_t>(out - buf);
  return Status::Ok();
}

Status DecodeDecimalValue(ByteReader& r, int precision, int scale, Arena& arena, std::string_view& out) {
  const size_t size = DecimalBinarySize(precision, scale);
  if (size == 0) {
    r.Fail();
    return Status::Corruption("invalid DECIMAL({},{}) metadata", precision, scale);
  }
  if (r.remaining() < size) {
    const size_t left = r.remaining();
    r.Fail();
    return Status::Corruption("truncated DECIMAL({},{}) value: needs {} bytes, {} left", precision, scale, size, left);
  }
  char buf[kMaxDecimalTextSize];
  size_t len = 0;
  Status st = FormatDecimalBinary(r.Bytes(size), precision, scale, buf, len);
  if (!st.ok()) {
    r.Fail();
    return st;
  }
  out = arena.Copy(std::string_view(buf, len));
  return Status::Ok();
}

}  // namespace sluice::mysql
