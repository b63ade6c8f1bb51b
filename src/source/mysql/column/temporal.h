#pragma once
// Text forms of MySQL temporal values, shared by the row-image decoders
// (temporal.cc) and by opaque temporal values inside binary JSON.
//
// MySQL keeps temporals in memory as "packed" 64-bit integers (my_time.h):
//   packed = (int_part << 24) + microseconds, negated for negative values
//   DATETIME/DATE int_part = ((year * 13 + month) << 5 | day) << 17
//                            | hour << 12 | minute << 6 | second
//   TIME          int_part = hours << 12 | minute << 6 | second
// Binary JSON stores DATE/TIME/DATETIME/TIMESTAMP opaques as this packed
// value (8 bytes little-endian), and TIME2 with fsp 5..6 is the same number
// plus an offset.

#include <cstddef>
#include <cstdint>

namespace sluice::mysql {

// Longest text any function here writes ("-1023:63:63.000000",
// "10082-12-31 31:63:63.000000" from corrupt-but-bounded fields).
inline constexpr size_t kMaxTemporalTextSize = 32;
inline constexpr int kMaxFsp = 6;

// "YYYY-MM-DD"
size_t FormatDate(char* buf, uint32_t year, uint32_t month, uint32_t day);
// "YYYY-MM-DD hh:mm:ss" plus "." and the first fsp digits of micro.
size_t FormatDateTime(char* buf, uint32_t year, uint32_t month, uint32_t day, uint32_t hour, uint32_t minute,
                      uint32_t second, uint32_t micro, int fsp);
// "[-]hh:mm:ss" (hours take as many digits as they need, at least 2) plus
// "." and the first fsp digits of micro.
size_t FormatTime(char* buf, bool negative, uint32_t hours, uint32_t minute, uint32_t second, uint32_t micro, int fsp);

// Formats a packed DATETIME (or DATE, without the time, if date_only).
// False if the value is negative or its microseconds exceed 999999.
bool FormatPackedDateTime(int64_t packed, bool date_only, int fsp, char* buf, size_t& len);
// Formats a packed TIME. False if its microseconds exceed 999999.
bool FormatPackedTime(int64_t packed, int fsp, char* buf, size_t& len);

}  // namespace sluice::mysql
