// Temporal column decoders: the pre-5.6 formats (DATE, TIME, DATETIME,
// TIMESTAMP) and MySQL 5.6's fractional-second formats (TIME2, DATETIME2,
// TIMESTAMP2), which MariaDB also writes since 10.1
// (mysql56_temporal_format). Reference: MySQL mysys/my_time.cc,
// my_*_packed_from_binary and TIME_from_longlong_*_packed.

#include "source/mysql/column/temporal.h"

#include "source/mysql/column/column_families.h"
#include "source/mysql/column/digits.h"

namespace sluice::mysql {
namespace {

constexpr uint32_t kPow10[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};
constexpr uint32_t kMicrosPerSecond = 1000000;
constexpr uint64_t kPow10Wide[11] = {1,         10,         100,         1000,         10000,        100000,
                                     1000000,   10000000,   100000000,   1000000000,   10000000000};

// Writes v with at least `width` digits (1..9), zero-padded.
char* PutUint(char* p, uint32_t v, int width) {
  if (v < kPow10Wide[width]) return PutDigits(p, v, width);
  int digits = width;
  while (digits < 10 && v >= kPow10Wide[digits]) ++digits;
  return PutDigits(p, v, digits);
}

char* PutTwo(char* p, uint32_t v) { return v < 100 ? PutDigitsN<2>(p, v) : PutUint(p, v, 2); }

// "." and the first fsp of micro's 6 digits; nothing for fsp 0.
char* PutFraction(char* p, uint32_t micro, int fsp) {
  if (fsp <= 0) {
    return p;
  }
  *p++ = '.';
  return PutUint(p, micro / kPow10[kMaxFsp - fsp], fsp);
}

}  // namespace

size_t FormatDate(char* buf, uint32_t year, uint32_t month, uint32_t day) {
  char* p = year < 10000 ? PutDigitsN<4>(buf, year) : PutUint(buf, year, 4);
  *p++ = '-';
  p = PutTwo(p, month);
  *p++ = '-';
  p = PutTwo(p, day);
  return static_cast<size_t>(p - buf);
}

size_t FormatDateTime(char* buf, uint32_t year, uint32_t month, uint32_t day, uint32_t hour, uint32_t minute,
                      uint32_t second, uint32_t micro, int fsp) {
  char* p = buf + FormatDate(buf, year, month, day);
  *p++ = ' ';
  p = PutTwo(p, hour);
  *p++ = ':';
  p = PutTwo(p, minute);
  *p++ = ':';
  p = PutTwo(p, second);
  p = PutFraction(p, micro, fsp);
  return static_cast<size_t>(p - buf);
}

size_t FormatTime(char* buf, bool negative, uint32_t hours, uint32_t minute, uint32_t second, uint32_t micro, int fsp) {
  char* p = buf;
  if (negative) {
    *p++ = '-';
  }
  p = PutUint(p, hours, 2);
  *p++ = ':';
  p = PutTwo(p, minute);
  *p++ = ':';
  p = PutTwo(p, second);
  p = PutFraction(p, micro, fsp);
  return static_cast<size_t>(p - buf);
}

bool FormatPackedDateTime(int64_t packed, bool date_only, int fsp, char* buf, size_t& len) {
  if (packed < 0) {
    return false;
  }
  const uint64_t v = static_cast<uint64_t>(packed);
  const uint32_t micro = static_cast<uint32_t>(v % (1u << 24));
  if (micro >= kMicrosPerSecond) {
    return false;
  }
  const uint64_t ymdhms = v >> 24;
  const uint64_t ymd = ymdhms >> 17;
  const uint64_t ym = ymd >> 5;
  const uint32_t hms = static_cast<uint32_t>(ymdhms % (1u << 17));
  const uint32_t year = static_cast<uint32_t>(ym / 13);
  if (year > 99999) {
    return false;  // beyond anything MySQL writes; keeps the text bounded
  }
  if (date_only) {
    len = FormatDate(buf, year, static_cast<uint32_t>(ym % 13), static_cast<uint32_t>(ymd % 32));
  } else {
    len = FormatDateTime(buf, year, static_cast<uint32_t>(ym % 13), static_cast<uint32_t>(ymd % 32), hms >> 12,
                         (hms >> 6) % 64, hms % 64, micro, fsp);
  }
  return true;
}

bool FormatPackedTime(int64_t packed, int fsp, char* buf, size_t& len) {
  const bool negative = packed < 0;
  // -INT64_MIN is not representable; no valid TIME is near it.
  if (packed == INT64_MIN) {
    return false;
  }
  const uint64_t v = static_cast<uint64_t>(negative ? -packed : packed);
  const uint32_t micro = static_cast<uint32_t>(v % (1u << 24));
  if (micro >= kMicrosPerSecond) {
    return false;
  }
  const uint64_t hms = v >> 24;
  len = FormatTime(buf, negative, static_cast<uint32_t>((hms >> 12) % (1u << 10)),
                   static_cast<uint32_t>((hms >> 6) % 64), static_cast<uint32_t>(hms % 64), micro, fsp);
  return true;
}

namespace internal {
namespace {

Status FormattedValue(ValueKind kind, const char* buf, size_t len, Arena& arena, Value& out) {
  out = Value::Str(kind, arena.Copy(std::string_view(buf, len)));
  return Status::Ok();
}

// The fractional-second precision from TABLE_MAP metadata, checked.
bool ReadFsp(const ColumnMeta& col, int& fsp) {
  if (col.meta > kMaxFsp) {
    return false;
  }
  fsp = col.meta;
  return true;
}

Status BadFsp(ByteReader& r, const ColumnMeta& col) {
  r.Fail();
  return Status::Corruption("invalid fractional-second precision {} in TABLE_MAP metadata", col.meta);
}

// Bytes of the fraction after a TIME2/DATETIME2/TIMESTAMP2 integer part.
constexpr size_t FractionBytes(int fsp) { return static_cast<size_t>((fsp + 1) / 2); }

// Reads the big-endian fraction of DATETIME2/TIMESTAMP2 as microseconds:
//   fsp 1-2: 1 byte, hundredths        (x 10000)
//   fsp 3-4: 2 bytes, ten-thousandths  (x 100)
//   fsp 5-6: 3 bytes, microseconds
// (MySQL's my_datetime_packed_from_binary / my_timestamp_from_binary.)
// False if the stored count exceeds its unit's range.
bool ReadFraction(ByteReader& r, int fsp, uint32_t& micro) {
  switch (FractionBytes(fsp)) {
    case 0:
      micro = 0;
      return true;
    case 1: {
      uint32_t v = static_cast<uint32_t>(r.UIntBE(1));
      micro = v * 10000;
      return v < 100;
    }
    case 2: {
      uint32_t v = static_cast<uint32_t>(r.UIntBE(2));
      micro = v * 100;
      return v < 10000;
    }
    default:
      micro = static_cast<uint32_t>(r.UIntBE(3));
      return micro < kMicrosPerSecond;
  }
}

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
// civil_from_days, restricted to non-negative day counts).
void CivilFromDays(uint64_t days, uint32_t& year, uint32_t& month, uint32_t& day) {
  const uint64_t z = days + 719468;
  const uint64_t era = z / 146097;
  const uint64_t doe = z - era * 146097;                                       // [0, 146096]
  const uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const uint64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  day = static_cast<uint32_t>(doy - (153 * mp + 2) / 5 + 1);
  month = static_cast<uint32_t>(mp < 10 ? mp + 3 : mp - 9);
  year = static_cast<uint32_t>(yoe + era * 400 + (month <= 2 ? 1 : 0));
}

// A TIMESTAMP in UTC. Second 0 is MySQL's zero timestamp: no valid
// TIMESTAMP is earlier than 1970-01-01 00:00:01 UTC.
size_t FormatEpoch(char* buf, uint32_t seconds, uint32_t micro, int fsp) {
  if (seconds == 0) {
    return FormatDateTime(buf, 0, 0, 0, 0, 0, 0, micro, fsp);
  }
  uint32_t year, month, day;
  CivilFromDays(seconds / 86400, year, month, day);
  const uint32_t sod = seconds % 86400;
  return FormatDateTime(buf, year, month, day, sod / 3600, sod / 60 % 60, sod % 60, micro, fsp);
}

}  // namespace

// DATE (and NEWDATE): 3 bytes little-endian,
//   bits 0-4 day, 5-8 month, 9-23 year.        2024-01-31 -> 3F D0 0F
Status DecodeDate(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  if (r.remaining() < 3) {
    return Truncated(r, col, 3);
  }
  const uint32_t v = r.U24();
  char buf[kMaxTemporalTextSize];
  return FormattedValue(ValueKind::kDate, buf, FormatDate(buf, v >> 9, (v >> 5) & 15, v & 31), arena, out);
}

// TIME (pre-5.6): 3 bytes little-endian, a signed integer whose decimal
// digits read HHMMSS (-8385959 .. 8385959).   -838:59:59 -> 59 0A 80
Status DecodeLegacyTime(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  if (r.remaining() < 3) {
    return Truncated(r, col, 3);
  }
  const int32_t v = static_cast<int32_t>(r.U24() << 8) >> 8;  // sign-extend 24 bits
  const uint32_t a = static_cast<uint32_t>(v < 0 ? -v : v);
  char buf[kMaxTemporalTextSize];
  const size_t len = FormatTime(buf, v < 0, a / 10000, a / 100 % 100, a % 100, 0, 0);
  return FormattedValue(ValueKind::kTime, buf, len, arena, out);
}

// DATETIME (pre-5.6): 8 bytes little-endian, an integer whose decimal digits
// read YYYYMMDDhhmmss.
Status DecodeLegacyDateTime(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  if (r.remaining() < 8) {
    return Truncated(r, col, 8);
  }
  const uint64_t v = r.U64();
  const uint64_t d = v / 1000000;
  const uint32_t t = static_cast<uint32_t>(v % 1000000);
  if (d / 10000 > 9999) {
    return BadValue(r, col, "year beyond 9999");
  }
  char buf[kMaxTemporalTextSize];
  const size_t len = FormatDateTime(buf, static_cast<uint32_t>(d / 10000), static_cast<uint32_t>(d / 100 % 100),
                                    static_cast<uint32_t>(d % 100), t / 10000, t / 100 % 100, t % 100, 0, 0);
  return FormattedValue(ValueKind::kDateTime, buf, len, arena, out);
}

// TIMESTAMP (pre-5.6): 4 bytes little-endian, seconds since the epoch (UTC).
Status DecodeLegacyTimestamp(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  if (r.remaining() < 4) {
    return Truncated(r, col, 4);
  }
  char buf[kMaxTemporalTextSize];
  return FormattedValue(ValueKind::kTimestamp, buf, FormatEpoch(buf, r.U32(), 0, 0), arena, out);
}

// TIMESTAMP2 (meta = fsp): 4 bytes BIG-endian seconds since the epoch (UTC),
// then the fraction (see ReadFraction).
//   '2024-01-31 12:34:56.789' UTC, fsp 3 -> 65 BA 3E 70 1E D2
Status DecodeTimestamp2(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  int fsp;
  if (!ReadFsp(col, fsp)) {
    return BadFsp(r, col);
  }
  const size_t need = 4 + FractionBytes(fsp);
  if (r.remaining() < need) {
    return Truncated(r, col, need);
  }
  const uint32_t seconds = static_cast<uint32_t>(r.UIntBE(4));
  uint32_t micro;
  if (!ReadFraction(r, fsp, micro)) {
    return BadValue(r, col, "fraction out of range");
  }
  char buf[kMaxTemporalTextSize];
  return FormattedValue(ValueKind::kTimestamp, buf, FormatEpoch(buf, seconds, micro, fsp), arena, out);
}

// DATETIME2 (meta = fsp): 5 bytes big-endian, then the fraction:
//   bit 39     sign (1 = non-negative; MySQL stores value + 0x8000000000)
//   bits 22-38 year * 13 + month
//   bits 17-21 day     bits 12-16 hour     bits 6-11 minute     bits 0-5 second
//   '2024-01-31 12:34:56' -> 99 B2 7E C8 B8
Status DecodeDateTime2(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  int fsp;
  if (!ReadFsp(col, fsp)) {
    return BadFsp(r, col);
  }
  const size_t need = 5 + FractionBytes(fsp);
  if (r.remaining() < need) {
    return Truncated(r, col, need);
  }
  const uint64_t raw = r.UIntBE(5);
  uint32_t micro;
  const bool fraction_ok = ReadFraction(r, fsp, micro);
  constexpr uint64_t kIntOffset = 0x8000000000ULL;
  if (raw < kIntOffset) {
    return BadValue(r, col, "negative DATETIME");
  }
  if (!fraction_ok) {
    return BadValue(r, col, "fraction out of range");
  }
  const uint64_t ymdhms = raw - kIntOffset;
  const uint64_t ymd = ymdhms >> 17;
  const uint64_t ym = ymd >> 5;
  const uint32_t hms = static_cast<uint32_t>(ymdhms % (1u << 17));
  char buf[kMaxTemporalTextSize];
  const size_t len = FormatDateTime(buf, static_cast<uint32_t>(ym / 13), static_cast<uint32_t>(ym % 13),
                                    static_cast<uint32_t>(ymd % 32), hms >> 12, (hms >> 6) % 64, hms % 64, micro, fsp);
  return FormattedValue(ValueKind::kDateTime, buf, len, arena, out);
}

// TIME2 (meta = fsp): 3 bytes big-endian integer part, stored + 0x800000:
//   bit 23 sign (1 = non-negative), bit 22 unused, bits 12-21 hours,
//   bits 6-11 minute, bits 0-5 second;
// then the fraction, big-endian:
//   fsp 1-2: 1 byte hundredths, fsp 3-4: 2 bytes ten-thousandths. A negative
//     value with a fraction stores integer part - 1 and 0x100 (0x10000) minus
//     the fraction, so that the bytes sort like the values:
//     -00:00:00.01 -> 7F FF FF FF,  -00:00:01.00 -> 7F FF FF 00,
//     -00:00:01.01 -> 7F FF FE FF
//   fsp 5-6: the 6 bytes together are the packed value + 0x800000000000.
// MySQL's my_time_packed_from_binary turns all of these into a packed TIME.
Status DecodeTime2(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  int fsp;
  if (!ReadFsp(col, fsp)) {
    return BadFsp(r, col);
  }
  const size_t need = 3 + FractionBytes(fsp);
  if (r.remaining() < need) {
    return Truncated(r, col, need);
  }
  int64_t packed;
  if (fsp >= 5) {
    packed = static_cast<int64_t>(r.UIntBE(6)) - 0x800000000000LL;
  } else {
    int64_t int_part = static_cast<int64_t>(r.UIntBE(3)) - 0x800000;
    int64_t frac = 0;
    int64_t frac_unit = 1;  // microseconds per stored unit
    int64_t frac_range = 1;
    if (fsp >= 3) {
      frac = static_cast<int64_t>(r.UIntBE(2));
      frac_unit = 100;
      frac_range = 0x10000;
    } else if (fsp >= 1) {
      frac = static_cast<int64_t>(r.UIntBE(1));
      frac_unit = 10000;
      frac_range = 0x100;
    }
    if (int_part < 0 && frac != 0) {
      // Undo the sort-friendly encoding: one second less, counted downwards.
      int_part += 1;
      frac -= frac_range;
    }
    packed = int_part * (int64_t{1} << 24) + frac * frac_unit;
  }
  char buf[kMaxTemporalTextSize];
  size_t len;
  if (!FormatPackedTime(packed, fsp, buf, len)) {
    return BadValue(r, col, "fraction out of range");
  }
  return FormattedValue(ValueKind::kTime, buf, len, arena, out);
}

}  // namespace internal
}  // namespace sluice::mysql
