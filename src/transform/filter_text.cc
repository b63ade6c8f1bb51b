#include "transform/filter_text.h"

#include "transform/filter_collation.h"

#include <cfloat>
#include <charconv>
#include <system_error>

namespace sluice::transform {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Equality of one character of a LIKE pattern with one of the subject.
bool CharsEqual(std::string_view a, std::string_view b, bool binary, const Collation* collation) {
  if (!binary && collation != nullptr) {
    return collation->CharsEqual(a, b);
  }
  if (a.size() != b.size()) {
    return false;
  }
  if (a.size() == 1 && !binary) {
    return AsciiUpper(a[0]) == AsciiUpper(b[0]);
  }
  return a == b;
}

size_t CharBytes(std::string_view s, size_t pos, bool binary) { return binary ? 1 : Utf8CharBytes(s, pos); }

}  // namespace

char AsciiUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiUpper(a[i]) != AsciiUpper(b[i])) {
      return false;
    }
  }
  return true;
}

int CompareTextCi(std::string_view a, std::string_view b) {
  size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t k = 0; k < n; ++k) {
    // Upper-case folding, as general_ci's weights: 'a' sorts before '_'.
    auto ca = static_cast<unsigned char>(AsciiUpper(a[k]));
    auto cb = static_cast<unsigned char>(AsciiUpper(b[k]));
    if (ca != cb) {
      return ca < cb ? -1 : 1;
    }
  }
  // PAD SPACE: the shorter string is compared as if padded with spaces, so
  // trailing spaces do not matter but 'a\t' < 'a'.
  std::string_view rest = a.size() > n ? a.substr(n) : b.substr(n);
  int sign = a.size() > n ? 1 : -1;
  for (char c : rest) {
    if (c != ' ') {
      return static_cast<unsigned char>(c) < ' ' ? -sign : sign;
    }
  }
  return 0;
}

int CompareBinary(std::string_view a, std::string_view b) {
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

size_t Utf8CharBytes(std::string_view s, size_t pos) {
  auto lead = static_cast<unsigned char>(s[pos]);
  size_t n = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (pos + n > s.size()) {
    return 1;
  }
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[pos + k]) & 0xC0) != 0x80) {
      return 1;
    }
  }
  return n;
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (size_t pos = 0; pos < s.size(); pos += Utf8CharBytes(s, pos)) {
    ++n;
  }
  return n;
}

bool LikeMatch(std::string_view subject, std::string_view pattern, std::string_view escape, bool binary,
               const Collation* collation) {
  // Greedy matching with one backtrack point, the last '%': on a mismatch
  // the '%' absorbs one more character and matching resumes after it. Since
  // a later '%' can absorb whatever an earlier one could, retrying only the
  // last one is complete, and each subject position is retried at most once
  // per pattern position.
  size_t s = 0;
  size_t p = 0;
  size_t star_p = std::string_view::npos;
  size_t star_s = 0;
  while (s < subject.size()) {
    if (p < pattern.size()) {
      char c = pattern[p];
      bool escaped = !escape.empty() && pattern.substr(p).starts_with(escape) && p + escape.size() < pattern.size();
      if (!escaped && c == '%') {
        star_p = ++p;
        star_s = s;
        continue;
      }
      if (!escaped && c == '_') {
        s += CharBytes(subject, s, binary);
        ++p;
        continue;
      }
      size_t lp = escaped ? p + escape.size() : p;
      size_t plen = CharBytes(pattern, lp, binary);
      size_t slen = CharBytes(subject, s, binary);
      if (CharsEqual(pattern.substr(lp, plen), subject.substr(s, slen), binary, collation)) {
        p = lp + plen;
        s += slen;
        continue;
      }
    }
    if (star_p == std::string_view::npos) {
      return false;
    }
    star_s += CharBytes(subject, star_s, binary);
    s = star_s;
    p = star_p;
  }
  while (p < pattern.size() && pattern[p] == '%') {
    ++p;
  }
  return p == pattern.size();
}

NumberReading ReadNumber(std::string_view text) {
  NumberReading r;
  size_t i = 0;
  while (i < text.size() && IsSpace(text[i])) {
    ++i;
  }
  size_t start = i;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    ++i;
  }
  size_t digits = 0;
  while (i < text.size() && IsDigit(text[i])) {
    ++i;
    ++digits;
  }
  bool has_point = false;
  if (i < text.size() && text[i] == '.') {
    has_point = true;
    ++i;
    while (i < text.size() && IsDigit(text[i])) {
      ++i;
      ++digits;
    }
  }
  if (digits == 0) {
    return r;
  }  // no number at all: 0, as MySQL reads 'abc'
  bool has_exponent = false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    size_t e = i + 1;
    if (e < text.size() && (text[e] == '+' || text[e] == '-')) {
      ++e;
    }
    if (e < text.size() && IsDigit(text[e])) {
      while (e < text.size() && IsDigit(text[e])) {
        ++e;
      }
      has_exponent = true;
      i = e;
    }
  }
  std::string_view number = text.substr(start, i - start);

  // from_chars takes no leading '+'.
  std::string_view unsigned_number = number.front() == '+' ? number.substr(1) : number;
  auto [end, ec] = std::from_chars(unsigned_number.data(), unsigned_number.data() + unsigned_number.size(), r.d);
  if (ec == std::errc::result_out_of_range) {
    // MySQL saturates (with a warning) rather than failing: 1e999 is the
    // largest double; 1e-999 is 0.
    bool tiny = number.find_first_of("eE") != std::string_view::npos && number[number.find_first_of("eE") + 1] == '-';
    r.d = tiny ? 0.0 : (number.front() == '-' ? -DBL_MAX : DBL_MAX);
  }
  (void)end;

  size_t rest = i;
  while (rest < text.size() && IsSpace(text[rest])) {
    ++rest;
  }
  if (rest != text.size() || has_exponent) {
    return r;
  }
  // The whole string is one integer or plain decimal: keep it exact.
  if (!has_point) {
    std::string_view body = number.front() == '+' ? number.substr(1) : number;
    if (std::from_chars(body.data(), body.data() + body.size(), r.i).ec == std::errc()) {
      r.kind = NumberReading::Kind::kInt;
      r.exact = true;
      return r;
    }
    if (body.front() != '-' && std::from_chars(body.data(), body.data() + body.size(), r.u).ec == std::errc()) {
      r.kind = NumberReading::Kind::kUInt;
      r.exact = true;
      return r;
    }
  }
  if (Decimal::Parse(number, &r.dec)) {
    r.kind = NumberReading::Kind::kDecimal;
    r.exact = true;
  }
  return r;
}

}  // namespace sluice::transform
