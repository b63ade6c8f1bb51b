#include "sink/clickhouse/type_map.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "client/clickhouse/http_client.h"
#include "client/mysql/column_types.h"

namespace sluice::sink::clickhouse {
namespace {

using sluice::mysql::ColumnType;
using Kind = ColumnEncoding::Kind;

// The real type of a MYSQL_TYPE_STRING column (STRING, ENUM or SET).
uint8_t RealType(const ColumnMeta& c) {
  if (c.type != sluice::mysql::kTypeString) return c.type;
  if (c.real_type != 0) return c.real_type;
  return sluice::mysql::DecodeStringMeta(c.meta).real_type;
}

// Fractional-second digits of a temporal column.
int Fsp(const ColumnMeta& c) {
  switch (c.type) {
    case sluice::mysql::kTypeDateTime2:
    case sluice::mysql::kTypeTimestamp2:
    case sluice::mysql::kTypeTime2:
      return c.meta;
    default:
      return 0;
  }
}

ColumnEncoding IntEncoding(const ColumnMeta& c, uint8_t bytes) {
  return {c.is_unsigned ? Kind::kUInt : Kind::kInt, bytes, 0, false};
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, unsigned* out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  *out = v;
  return true;
}

bool ValidDay(unsigned y, unsigned m, unsigned d) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

// Parses "YYYY-MM-DD" into days since the epoch; *zero for 0000-00-00.
Result<int64_t> ParseDays(std::string_view s, bool* zero) {
  unsigned y, m, d;
  if (s.size() < 10 || !Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &m) || s[7] != '-' ||
      !Digits(s, 8, 2, &d)) {
    return Status::Invalid("not a date: \"{}\"", s);
  }
  *zero = y == 0 && m == 0 && d == 0;
  if (*zero) return int64_t{0};
  if (!ValidDay(y, m, d))
    return Status::Invalid("date {} has a zero or invalid part, which ClickHouse cannot hold", s.substr(0, 10));
  return DaysFromCivil(y, m, d);
}

constexpr int64_t kLastDay = 49672;  // 2105-12-31: the end of the range ClickHouse 18.16 shows unaltered

template <class T>
void AppendLe(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // x86-64 and aarch64 are little-endian, like RowBinary
  out.append(b, sizeof(T));
}

void AppendVarUInt(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void AppendString(std::string& out, std::string_view s) {
  AppendVarUInt(out, s.size());
  out.append(s);
}

void AppendSized(std::string& out, uint64_t bits, uint8_t bytes) {
  switch (bytes) {
    case 1:
      AppendLe<uint8_t>(out, static_cast<uint8_t>(bits));
      break;
    case 2:
      AppendLe<uint16_t>(out, static_cast<uint16_t>(bits));
      break;
    case 4:
      AppendLe<uint32_t>(out, static_cast<uint32_t>(bits));
      break;
    default:
      AppendLe<uint64_t>(out, bits);
      break;
  }
}

// The text a String column holds for a value of any kind.
std::string TextOf(const Value& v) {
  switch (v.kind) {
    case ValueKind::kInt:
    case ValueKind::kYear:
      return fmt::format("{}", v.i);
    case ValueKind::kUInt:
    case ValueKind::kBit:
      return fmt::format("{}", v.u);
    case ValueKind::kFloat:
      return fmt::format("{}", static_cast<float>(v.d));
    case ValueKind::kDouble:
      return fmt::format("{}", v.d);
    default:
      return std::string(v.s);
  }
}

}  // namespace

Result<std::string> ClickhouseType(const ColumnMeta& c) {
  ASSIGN_OR_RETURN(ColumnEncoding e, EncodingOf(c, true));
  switch (e.kind) {
    case Kind::kInt:
      return fmt::format("Int{}", e.bytes * 8);
    case Kind::kUInt:
      return fmt::format("UInt{}", e.bytes * 8);
    case Kind::kFloat32:
      return std::string("Float32");
    case Kind::kFloat64:
      return std::string("Float64");
    case Kind::kDecimal:
      return fmt::format("Decimal({}, {})", c.meta >> 8, c.meta & 0xff);
    case Kind::kString:
      return std::string("String");
    case Kind::kDate:
      return std::string("Date");
    case Kind::kDateTime:
      return std::string("DateTime('UTC')");
  }
  return std::string("String");
}

Result<std::string> ClickhouseColumnType(const ColumnMeta& c, bool in_key) {
  ASSIGN_OR_RETURN(std::string t, ClickhouseType(c));
  // Sorting keys cannot be Nullable in ClickHouse; key columns are NOT NULL in MySQL anyway.
  if (c.nullable && !in_key) return "Nullable(" + t + ")";
  return t;
}

Result<ColumnEncoding> EncodingOf(const ColumnMeta& c, bool in_key) {
  ColumnEncoding e;
  switch (RealType(c)) {
    case sluice::mysql::kTypeTiny:
      e = IntEncoding(c, 1);
      break;
    case sluice::mysql::kTypeShort:
      e = IntEncoding(c, 2);
      break;
    case sluice::mysql::kTypeInt24:
    case sluice::mysql::kTypeLong:
      e = IntEncoding(c, 4);
      break;
    case sluice::mysql::kTypeLongLong:
      e = IntEncoding(c, 8);
      break;
    case sluice::mysql::kTypeFloat:
      e.kind = Kind::kFloat32;
      break;
    case sluice::mysql::kTypeDouble:
      e.kind = Kind::kFloat64;
      break;
    case sluice::mysql::kTypeDecimal:
    case sluice::mysql::kTypeNewDecimal: {
      unsigned p = c.meta >> 8;
      if (p == 0 || p > 38) break;  // beyond Decimal128: the exact text in a String
      e.kind = Kind::kDecimal;
      e.bytes = p <= 9 ? 4 : p <= 18 ? 8 : 16;
      e.scale = static_cast<uint8_t>(c.meta & 0xff);
      break;
    }
    case sluice::mysql::kTypeDate:
    case sluice::mysql::kTypeNewDate:
      e.kind = Kind::kDate;
      break;
    case sluice::mysql::kTypeDateTime:
    case sluice::mysql::kTypeDateTime2:
    case sluice::mysql::kTypeTimestamp:
    case sluice::mysql::kTypeTimestamp2:
      // No DateTime64 in 18.16: fractional seconds are kept as text.
      e.kind = Fsp(c) == 0 ? Kind::kDateTime : Kind::kString;
      break;
    case sluice::mysql::kTypeYear:
      e = {Kind::kUInt, 2, 0, false};
      break;
    case sluice::mysql::kTypeBit:
      e = {Kind::kUInt, 8, 0, false};
      break;
    case sluice::mysql::kTypeTypedArray:
    case sluice::mysql::kTypeNull:
      return Status::Error(StatusCode::kNotSupported, "column `{}`: type {} has no ClickHouse mapping", c.name, c.type);
    default:
      e.kind = Kind::kString;  // text, binary, ENUM, SET, JSON, TIME, GEOMETRY, VECTOR
  }
  e.nullable = c.nullable && !in_key;
  return e;
}

Result<uint16_t> ClickhouseDate(std::string_view date) {
  bool zero = false;
  ASSIGN_OR_RETURN(int64_t days, ParseDays(date, &zero));
  if (zero) return uint16_t{0};
  if (days < 1 || days > kLastDay) {
    return Status::Invalid("date {} is outside ClickHouse's Date range (1970-01-02 .. 2105-12-31)", date.substr(0, 10));
  }
  return static_cast<uint16_t>(days);
}

Result<uint32_t> ClickhouseDateTime(std::string_view dt) {
  bool zero = false;
  ASSIGN_OR_RETURN(int64_t days, ParseDays(dt, &zero));
  unsigned h, mi, s;
  if (dt.size() < 19 || dt[10] != ' ' || !Digits(dt, 11, 2, &h) || dt[13] != ':' || !Digits(dt, 14, 2, &mi) ||
      dt[16] != ':' || !Digits(dt, 17, 2, &s)) {
    return Status::Invalid("not a date-time: \"{}\"", dt);
  }
  for (size_t i = 19; i < dt.size(); ++i) {
    if (dt[i] != '.' && dt[i] != '0')
      return Status::Invalid("date-time {} has fractional seconds; DateTime holds none", dt);
  }
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + s;
  if (zero) {
    if (secs != 0) return Status::Invalid("date-time {} has a zero date, which ClickHouse cannot hold", dt);
    return uint32_t{0};
  }
  if (secs < 1 || days > kLastDay) {
    return Status::Invalid(
        "date-time {} is outside ClickHouse's DateTime range (1970-01-01 00:00:01 .. 2105-12-31 23:59:59)",
        dt.substr(0, 19));
  }
  return static_cast<uint32_t>(secs);
}

Result<Int128> ScaledDecimal(std::string_view text, uint8_t scale) {
  std::string_view s = text;
  bool negative = !s.empty() && s[0] == '-';
  if (negative || (!s.empty() && s[0] == '+')) s.remove_prefix(1);
  Int128 v = 0;
  int frac = -1;  // digits after the point, -1 before it
  int digits = 0;
  for (char ch : s) {
    if (ch == '.' && frac < 0) {
      frac = 0;
      continue;
    }
    if (ch < '0' || ch > '9') return Status::Invalid("not a decimal: \"{}\"", text);
    if (frac >= 0) {
      if (frac == scale) {
        if (ch != '0') return Status::Invalid("decimal {} has more than {} fractional digits", text, scale);
        continue;
      }
      ++frac;
    }
    if (++digits > 38) return Status::Invalid("decimal {} has more than 38 digits", text);
    v = v * 10 + (ch - '0');
  }
  for (int f = frac < 0 ? 0 : frac; f < scale; ++f) v *= 10;
  return negative ? -v : v;
}

Status AppendRowBinary(std::string& out, const ColumnEncoding& e, const Value& v) {
  if (v.kind == ValueKind::kAbsent) {
    return Status::Invalid("the row image lacks this column (binlog_row_image must be FULL for ClickHouse)");
  }
  if (e.nullable) {
    out += static_cast<char>(v.is_null() ? 1 : 0);
    if (v.is_null()) return Status::Ok();
  } else if (v.is_null()) {
    return Status::Invalid("NULL in a column ClickHouse holds as NOT NULL");
  }
  switch (e.kind) {
    case Kind::kInt:
    case Kind::kUInt:
      if (v.kind == ValueKind::kJson) {  // a PostgreSQL boolean: Int8 1/0, as MySQL's BOOL
        if (v.s != "true" && v.s != "false") return Status::Invalid("{} is not a boolean", v.s);
        AppendSized(out, v.s == "true" ? 1 : 0, e.bytes);
        return Status::Ok();
      }
      // The source type bounds the value to the column's width; signed and
      // unsigned share their two's-complement bits.
      AppendSized(out, v.kind == ValueKind::kInt || v.kind == ValueKind::kYear ? static_cast<uint64_t>(v.i) : v.u,
                  e.bytes);
      return Status::Ok();
    case Kind::kFloat32:
      AppendLe<float>(out, static_cast<float>(v.d));
      return Status::Ok();
    case Kind::kFloat64:
      AppendLe<double>(out, v.d);
      return Status::Ok();
    case Kind::kDecimal: {
      ASSIGN_OR_RETURN(Int128 x, ScaledDecimal(v.s, e.scale));
      if (e.bytes == 4) {
        AppendLe<int32_t>(out, static_cast<int32_t>(x));
      } else if (e.bytes == 8) {
        AppendLe<int64_t>(out, static_cast<int64_t>(x));
      } else {
        AppendLe<Int128>(out, x);
      }
      return Status::Ok();
    }
    case Kind::kDate: {
      ASSIGN_OR_RETURN(uint16_t days, ClickhouseDate(v.s));
      AppendLe<uint16_t>(out, days);
      return Status::Ok();
    }
    case Kind::kDateTime: {
      ASSIGN_OR_RETURN(uint32_t secs, ClickhouseDateTime(v.s));
      AppendLe<uint32_t>(out, secs);
      return Status::Ok();
    }
    case Kind::kString:
      if (v.kind == ValueKind::kText || v.kind == ValueKind::kBytes || v.kind == ValueKind::kEnum ||
          v.kind == ValueKind::kSet || v.kind == ValueKind::kJson || v.kind == ValueKind::kGeometry ||
          v.kind == ValueKind::kTime || v.kind == ValueKind::kDecimal || v.kind == ValueKind::kDateTime ||
          v.kind == ValueKind::kTimestamp || v.kind == ValueKind::kDate) {
        AppendString(out, v.s);
      } else {
        AppendString(out, TextOf(v));
      }
      return Status::Ok();
  }
  return Status::Ok();
}

Result<std::string> ValueExpression(const ColumnMeta& column, const Value& v) {
  ASSIGN_OR_RETURN(ColumnEncoding e, EncodingOf(column, /*in_key=*/true));  // not Nullable: the value's bytes alone
  ASSIGN_OR_RETURN(std::string type, ClickhouseType(column));
  std::string bin;
  RETURN_IF_ERROR(AppendRowBinary(bin, e, v));
  auto unsigned_le = [&](size_t n) {
    uint64_t x = 0;
    std::memcpy(&x, bin.data(), std::min(n, sizeof(x)));  // little-endian, like RowBinary
    return x;
  };
  std::string text;
  switch (e.kind) {
    case Kind::kInt: {
      const unsigned shift = 64 - e.bytes * 8;
      text = fmt::format("{}", static_cast<int64_t>(unsigned_le(e.bytes) << shift) >> shift);
      break;
    }
    case Kind::kUInt:
      text = fmt::format("{}", unsigned_le(e.bytes));
      break;
    case Kind::kFloat32: {
      float f;
      std::memcpy(&f, bin.data(), sizeof(f));
      text = fmt::format("{}", f);
      break;
    }
    case Kind::kFloat64: {
      double d;
      std::memcpy(&d, bin.data(), sizeof(d));
      text = fmt::format("{}", d);
      break;
    }
    case Kind::kDecimal:
      text = TextOf(v);  // checked above to fit the scale exactly
      break;
    case Kind::kString: {
      size_t at = 0;
      while (at < bin.size() && (static_cast<unsigned char>(bin[at]) & 0x80)) ++at;  // the length's varint
      text = bin.substr(at + 1);
      break;
    }
    case Kind::kDate:
      return fmt::format("CAST(toUInt16({}) AS Date)", unsigned_le(2));
    case Kind::kDateTime:
      return fmt::format("CAST(toUInt32({}) AS {})", unsigned_le(4), type);
  }
  return fmt::format("CAST({} AS {})", sluice::clickhouse::QuoteString(text), type);
}

}  // namespace sluice::sink::clickhouse
