#pragma once
// Dates and times for the row filter: `created >= '2024-01-01'` must compare
// a DATETIME column temporally, so that DATE '2024-01-01' equals DATETIME
// '2024-01-01 00:00:00' and '2024-1-5' means the fifth of January, as in
// MySQL. Values reach the filter as text (Value kinds kDate, kDateTime,
// kTimestamp, kTime; see core/value.h); literals are text or numbers.
//
// Both are turned into order-preserving 64-bit integers:
//   datetime: MySQL's packed layout (my_time.h), a DATE having time 0:
//             ((((year * 13 + month) << 5 | day) << 17
//               | hour << 12 | minute << 6 | second) << 24) | microsecond
//   time:     signed microseconds ("-838:59:59" .. "838:59:59")
// so that comparing two of the same family is comparing two integers.

#include <cstdint>
#include <string_view>

namespace sluice::transform {

// Parses a date or datetime the way MySQL reads one from a string:
//   "2024-01-31", "2024-1-5", "24-01-31", "2024/01/31", "2024.01.31",
//   "2024-01-31 12:34:56", "2024-01-31T12:34:56.789", "2024-01-31 12:34",
//   "20240131", "240131", "20240131123456[.ffffff]", "0000-00-00 00:00:00".
// Two-digit years are 1970..2069. Surrounding spaces are ignored; fraction
// digits beyond six are dropped. Ranges: month 0..12, day 0..31, hour 0..23,
// minute and second 0..59; `strict` additionally rejects days the month does
// not have (2024-02-30) and zero months or days other than in the all-zero
// date. Column values are read leniently (a server with ALLOW_INVALID_DATES
// stores 2024-02-30); filter literals strictly, so that a typo is reported.
[[nodiscard]] bool ParseDateTime(std::string_view text, bool strict, int64_t* packed);

// Parses a TIME: "[-][D ]h[hh]:mm[:ss[.ffffff]]" (D days of 24 hours) or
// the compact "[-]hhmmss[.ffffff]", "mmss", "ss", as MySQL does. The result
// must lie within MySQL's range -838:59:59.000000 .. 838:59:59.000000.
[[nodiscard]] bool ParseTime(std::string_view text, int64_t* micros);

// Reads a number as MySQL reads one as a datetime (number_to_datetime):
// YYYYMMDD, YYMMDD, YYYYMMDDhhmmss, YYMMDDhhmmss; 0 is the zero date.
[[nodiscard]] bool NumberToDateTime(uint64_t number, uint32_t micros, int64_t* packed);

// Reads a number as a TIME: [-]hhmmss (1234 is 00:12:34).
[[nodiscard]] bool NumberToTime(bool negative, uint64_t number, uint32_t micros, int64_t* micros_out);

}  // namespace sluice::transform
