#pragma once
// MySQL's binary DECIMAL format (NEWDECIMAL; strings/decimal.cc bin2decimal),
// shared by row images and by opaque DECIMAL values inside binary JSON.
//
// The digits are cut into groups of 9 on each side of the point, each group
// a 4-byte big-endian integer; the integer part's leftmost group and the
// fraction's rightmost group may hold fewer digits and take
// kDecimalDigitBytes[digits] bytes. The sign bit (top bit of the first byte)
// is flipped so that the bytes sort like the numbers; a negative number is
// also stored with every byte inverted.
//
//   DECIMAL(14,4) 1234567890.1234 -> intg=10: 1 digit in 1 byte, 9 in 4;
//   frac=4: 4 digits in 2 bytes  ->  81 0D FB 38 D2 04 D2

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/arena.h"
#include "core/byte_reader.h"
#include "core/status.h"

namespace sluice::mysql {

inline constexpr int kMaxDecimalPrecision = 65;
// Longest text FormatDecimalBinary writes: sign, "0." or up to 65 integer
// digits and the point, and up to 65 fraction digits (DECIMAL(65,65) is not
// a valid column, but a corrupt opaque JSON decimal may claim it).
inline constexpr size_t kMaxDecimalTextSize = 1 + 1 + kMaxDecimalPrecision + 1;

// Bytes the binary form of DECIMAL(precision, scale) takes; 0 when
// precision is not in 1..65 or scale exceeds it.
size_t DecimalBinarySize(int precision, int scale);

// Formats `bin` (exactly DecimalBinarySize bytes) as "-123.4500": exactly
// `scale` fraction digits, no leading zeros, "0" for a zero integer part.
// buf must hold kMaxDecimalTextSize bytes; len receives the text length.
// Corruption if a digit group holds a value its digits cannot.
Status FormatDecimalBinary(std::string_view bin, int precision, int scale, char* buf, size_t& len);

// Reads one DECIMAL(precision, scale) at r and formats it into the arena.
Status DecodeDecimalValue(ByteReader& r, int precision, int scale, Arena& arena, std::string_view& out);

}  // namespace sluice::mysql
