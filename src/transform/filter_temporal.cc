#include "transform/filter_temporal.h"

namespace sluice::transform {
namespace {

constexpr int64_t kMaxTimeHours = 838;  // MySQL TIME range: +-838:59:59

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && IsSpace(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// Reads 1..max_digits digits at s[*i]; false if there is none.
bool ReadDigits(std::string_view s, size_t* i, size_t max_digits, uint32_t* out) {
  size_t start = *i;
  uint32_t v = 0;
  while (*i < s.size() && IsDigit(s[*i]) && *i - start < max_digits) {
    v = v * 10 + static_cast<uint32_t>(s[*i] - '0');
    ++*i;
  }
  *out = v;
  return *i > start;
}

// Reads ".ffffff..." at s[*i] if present: the first six digits as
// microseconds, later digits dropped. A lone "." is accepted, as MySQL does.
bool ReadFraction(std::string_view s, size_t* i, uint32_t* micros) {
  *micros = 0;
  if (*i >= s.size() || s[*i] != '.') {
    return true;
  }
  ++*i;
  int digits = 0;
  while (*i < s.size() && IsDigit(s[*i])) {
    if (digits < 6) {
      *micros = *micros * 10 + static_cast<uint32_t>(s[*i] - '0');
      ++digits;
    }
    ++*i;
  }
  for (; digits < 6; ++digits) {
    *micros *= 10;
  }
  return true;
}

uint32_t TwoDigitYear(uint32_t yy) { return yy < 70 ? 2000 + yy : 1900 + yy; }

bool IsLeap(uint32_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

uint32_t DaysInMonth(uint32_t y, uint32_t m) {
  static constexpr uint32_t kDays[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m];
}

struct Fields {
  uint32_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, micro = 0;
};

bool Valid(const Fields& f, bool strict) {
  if (f.month > 12 || f.day > 31 || f.hour > 23 || f.minute > 59 || f.second > 59 || f.year > 9999) {
    return false;
  }
  if (!strict) {
    return true;
  }
  if (f.year == 0 && f.month == 0 && f.day == 0) {
    return true;
  }  // the zero date
  return f.month >= 1 && f.day >= 1 && f.day <= DaysInMonth(f.year, f.month);
}

int64_t Pack(const Fields& f) {
  int64_t ymd = ((static_cast<int64_t>(f.year) * 13 + f.month) << 5) | f.day;
  int64_t hms = (static_cast<int64_t>(f.hour) << 12) | (f.minute << 6) | f.second;
  return (((ymd << 17) | hms) << 24) | f.micro;
}

// The digits-only forms: YYYYMMDD, YYMMDD, YYYYMMDDhhmmss, YYMMDDhhmmss.
bool ParseCompactDateTime(std::string_view s, Fields* f) {
  size_t n = 0;
  while (n < s.size() && IsDigit(s[n])) {
    ++n;
  }
  auto num = [&](size_t pos, size_t len) {
    uint32_t v = 0;
    for (size_t k = pos; k < pos + len; ++k) {
      v = v * 10 + static_cast<uint32_t>(s[k] - '0');
    }
    return v;
  };
  size_t p = 0;
  if (n == 8 || n == 14) {
    f->year = num(0, 4);
    p = 4;
  } else if (n == 6 || n == 12) {
    f->year = TwoDigitYear(num(0, 2));
    p = 2;
  } else {
    return false;
  }
  f->month = num(p, 2);
  f->day = num(p + 2, 2);
  p += 4;
  if (n == 12 || n == 14) {
    f->hour = num(p, 2);
    f->minute = num(p + 2, 2);
    f->second = num(p + 4, 2);
    p += 6;
  }
  if (p != n) {
    return false;
  }
  if (p < s.size()) {
    // A fraction only makes sense after a time of day.
    if (n < 12 || !ReadFraction(s, &p, &f->micro)) {
      return false;
    }
  }
  return p == s.size();
}

bool ParseDelimitedDateTime(std::string_view s, Fields* f) {
  size_t i = 0;
  size_t year_start = i;
  if (!ReadDigits(s, &i, 4, &f->year)) {
    return false;
  }
  if (i - year_start <= 2) {
    f->year = TwoDigitYear(f->year);
  }
  // MySQL accepts any punctuation between the date parts.
  auto delimiter = [&]() {
    if (i < s.size() && (s[i] == '-' || s[i] == '/' || s[i] == '.' || s[i] == ':' || s[i] == '_')) {
      ++i;
      return true;
    }
    return false;
  };
  if (!delimiter() || !ReadDigits(s, &i, 2, &f->month) || !delimiter() || !ReadDigits(s, &i, 2, &f->day)) {
    return false;
  }
  if (i == s.size()) {
    return true;
  }
  if (s[i] == 'T') {
    ++i;
  } else if (IsSpace(s[i])) {
    while (i < s.size() && IsSpace(s[i])) {
      ++i;
    }
  } else {
    return false;
  }
  if (!ReadDigits(s, &i, 2, &f->hour) || i >= s.size() || s[i] != ':') {
    return false;
  }
  ++i;
  if (!ReadDigits(s, &i, 2, &f->minute)) {
    return false;
  }
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (!ReadDigits(s, &i, 2, &f->second)) {
      return false;
    }
  }
  if (!ReadFraction(s, &i, &f->micro)) {
    return false;
  }
  return i == s.size();
}

}  // namespace

bool ParseDateTime(std::string_view text, bool strict, int64_t* packed) {
  std::string_view s = Trim(text);
  if (s.empty()) {
    return false;
  }
  size_t digits = 0;
  while (digits < s.size() && IsDigit(s[digits])) {
    ++digits;
  }
  Fields f;
  bool ok = (digits == s.size() || s[digits] == '.') && digits >= 6 ? ParseCompactDateTime(s, &f)
                                                                    : ParseDelimitedDateTime(s, &f);
  if (!ok || !Valid(f, strict)) {
    return false;
  }
  *packed = Pack(f);
  return true;
}

bool ParseTime(std::string_view text, int64_t* micros) {
  std::string_view s = Trim(text);
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  if (s.empty()) {
    return false;
  }
  size_t i = 0;
  uint64_t hours = 0;
  uint32_t minute = 0;
  uint32_t second = 0;
  uint32_t micro = 0;
  if (s.find(':') != std::string_view::npos) {
    uint32_t first = 0;
    if (!ReadDigits(s, &i, 7, &first)) {
      return false;
    }
    hours = first;
    if (i < s.size() && IsSpace(s[i])) {
      // "D hh:mm:ss": first was a number of days.
      while (i < s.size() && IsSpace(s[i])) {
        ++i;
      }
      uint32_t h = 0;
      if (!ReadDigits(s, &i, 2, &h)) {
        return false;
      }
      hours = static_cast<uint64_t>(first) * 24 + h;
    }
    if (i >= s.size() || s[i] != ':') {
      return false;
    }
    ++i;
    if (!ReadDigits(s, &i, 2, &minute)) {
      return false;
    }
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!ReadDigits(s, &i, 2, &second)) {
        return false;
      }
    }
  } else {
    uint32_t n = 0;
    size_t start = i;
    if (!ReadDigits(s, &i, 7, &n) || i - start > 7) {
      return false;
    }
    hours = n / 10000;
    minute = n / 100 % 100;
    second = n % 100;
  }
  if (!ReadFraction(s, &i, &micro) || i != s.size()) {
    return false;
  }
  if (minute > 59 || second > 59) {
    return false;
  }
  int64_t v = ((static_cast<int64_t>(hours) * 60 + minute) * 60 + second) * 1000000 + micro;
  if (v > ((kMaxTimeHours * 60 + 59) * 60 + 59) * 1000000) {
    return false;
  }
  *micros = negative ? -v : v;
  return true;
}

bool NumberToDateTime(uint64_t nr, uint32_t micros, int64_t* packed) {
  // MySQL's number_to_datetime: two-digit years 00..69 are 20xx.
  if (nr == 0) {
    *packed = micros;
    return micros == 0;
  }
  // Each range below is one of the forms; the gaps between them (e.g.
  // 695000, neither YYMMDD of 2069 nor of 1970) are not dates.
  auto in = [&](uint64_t lo, uint64_t hi) { return nr >= lo && nr <= hi; };
  if (in(101, 691231)) {
    nr = (nr + 20000000) * 1000000;  // YYMMDD, 2000..2069
  } else if (in(700101, 991231)) {
    nr = (nr + 19000000) * 1000000;  // YYMMDD, 1970..1999
  } else if (in(10000101, 99991231)) {
    nr *= 1000000;  // YYYYMMDD
  } else if (in(101000000, 691231235959)) {
    nr += 20000000000000;  // YYMMDDhhmmss, 2000..2069
  } else if (in(700101000000, 991231235959)) {
    nr += 19000000000000;  // YYMMDDhhmmss, 1970..1999
  } else if (!in(10000101000000, 99991231235959)) {
    return false;  // not YYYYMMDDhhmmss either
  }
  Fields f;
  f.second = static_cast<uint32_t>(nr % 100);
  f.minute = static_cast<uint32_t>(nr / 100 % 100);
  f.hour = static_cast<uint32_t>(nr / 10000 % 100);
  f.day = static_cast<uint32_t>(nr / 1000000 % 100);
  f.month = static_cast<uint32_t>(nr / 100000000 % 100);
  f.year = static_cast<uint32_t>(nr / 10000000000);
  f.micro = micros;
  if (!Valid(f, /*strict=*/true)) {
    return false;
  }
  *packed = Pack(f);
  return true;
}

bool NumberToTime(bool negative, uint64_t nr, uint32_t micros, int64_t* micros_out) {
  uint64_t hours = nr / 10000;
  uint64_t minute = nr / 100 % 100;
  uint64_t second = nr % 100;
  if (minute > 59 || second > 59 || hours > static_cast<uint64_t>(kMaxTimeHours)) {
    return false;
  }
  int64_t v = ((static_cast<int64_t>(hours) * 60 + static_cast<int64_t>(minute)) * 60 + static_cast<int64_t>(second)) *
                  1000000 +
              micros;
  if (v > ((kMaxTimeHours * 60 + 59) * 60 + 59) * 1000000) {
    return false;
  }
  *micros_out = negative ? -v : v;
  return true;
}

}  // namespace sluice::transform
