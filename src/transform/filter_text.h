#pragma once
// Text rules of the row filter: collation-like comparison, LIKE, and reading
// a number out of a string, each as MySQL does it for the columns a sync
// tool sees.
//
// Collation. Text compares like MySQL/MariaDB's default utf8mb4_general_ci:
// case-insensitive with PAD SPACE ('a' = 'A  '). Case folding is ASCII-only
// ('é' <> 'É' here, unlike general_ci) and there is no accent folding (so
// utf8mb4_0900_ai_ci's 'e' = 'é' does not hold, nor its NO PAD): a filter
// knows its columns' charset but not their collation, and ASCII folding is
// the behaviour every case-insensitive collation agrees on. Non-ASCII text
// compares by code point (UTF-8 byte order is code point order). Binary
// strings (kBytes, JSON, geometry) compare bytewise, without padding.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "transform/filter_decimal.h"

namespace sluice::transform {

// -1, 0 or 1: general_ci-like with PAD SPACE (see above).
int CompareTextCi(std::string_view a, std::string_view b);
// -1, 0 or 1: bytewise, a proper prefix sorts first.
int CompareBinary(std::string_view a, std::string_view b);

// SQL LIKE: '%' matches any sequence, '_' exactly one character (one UTF-8
// sequence for text, one byte if binary); `escape` (empty for none) makes
// the character after it literal. Text matches case-insensitively (ASCII
// folding); binary exactly. No PAD SPACE: trailing spaces matter, as in
// MySQL. Linear in the common cases; worst case O(|subject| * |pattern|),
// never exponential.
bool LikeMatch(std::string_view subject, std::string_view pattern, std::string_view escape, bool binary);

// Bytes taken by the UTF-8 character starting at s[pos] (1 for a stray
// continuation or invalid byte, never past the end).
size_t Utf8CharBytes(std::string_view s, size_t pos);
// Characters (UTF-8 sequences) in s.
size_t Utf8Length(std::string_view s);

char AsciiUpper(char c);
char AsciiLower(char c);
// Equality with ASCII case folding: keywords, function and column names.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// A string read as a number, as MySQL converts one in a numeric context:
// leading spaces skipped, then the longest numeric prefix ("12abc" -> 12,
// "abc" -> 0, "1e3x" -> 1000). `d` always holds that double. When the whole
// string (but surrounding spaces) is an integer or plain decimal literal,
// `exact` is set and kind/i/u/dec hold the exact value: comparing an
// integer or DECIMAL with such a string is then exact, as MySQL does when it
// converts a string constant to the integer or decimal column's type; other
// strings compare as doubles.
struct NumberReading {
  enum class Kind : uint8_t { kInt, kUInt, kDecimal, kDouble };
  Kind kind = Kind::kDouble;
  bool exact = false;
  int64_t i = 0;
  uint64_t u = 0;
  Decimal dec;
  double d = 0;
};
NumberReading ReadNumber(std::string_view s);

}  // namespace sluice::transform
