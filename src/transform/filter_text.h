#pragma once
// Text rules of the row filter: collation-like comparison, LIKE, and reading
// a number out of a string, each as MySQL does it for the columns a sync
// tool sees.
//
// Collation. The row filter compares text by the column's collation, with
// the server's own weights (transform/filter_collation.h). CompareTextCi
// below is the older ASCII-only approximation (case-insensitive, PAD SPACE,
// no accent folding), kept for callers without a collation. Binary strings
// (kBytes, JSON, geometry) compare bytewise, without padding.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "transform/filter_decimal.h"

namespace sluice::transform {

// -1, 0 or 1: ASCII case folding with PAD SPACE (see above).
int CompareTextCi(std::string_view a, std::string_view b);
// -1, 0 or 1: bytewise, a proper prefix sorts first.
int CompareBinary(std::string_view a, std::string_view b);

// SQL LIKE: '%' matches any sequence, '_' exactly one character (one UTF-8
// sequence for text, one byte if binary); `escape` (empty for none) makes
// the character after it literal. Text matches case-insensitively (ASCII
// folding); binary exactly. No PAD SPACE: trailing spaces matter, as in
// MySQL. Linear in the common cases; worst case O(|subject| * |pattern|),
// never exponential.
// With a collation, text characters match when the collation weighs them
// equal ('é' LIKE 'e' under general_ci), as the server's LIKE does.
class Collation;
bool LikeMatch(std::string_view subject, std::string_view pattern, std::string_view escape, bool binary,
               const Collation* collation = nullptr);

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
