#include "format/debezium_values.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

#include "core/json_writer.h"
#include "format/format_util.h"

namespace sluice::format::debezium {
namespace {

bool ParseUint(std::string_view s, uint64_t& v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

// ".789" -> 789000 microseconds; "" -> 0.
bool ParseFractionMicros(std::string_view f, int64_t& micros) {
  micros = 0;
  if (f.empty()) return true;
  if (f[0] != '.' || f.size() > 7) return false;
  uint64_t v = 0;
  if (!ParseUint(f.substr(1), v)) return false;
  for (size_t i = f.size() - 1; i < 6; ++i) v *= 10;
  micros = static_cast<int64_t>(v);
  return true;
}

void AppendIso(std::string& out, std::string_view datetime, bool zulu) {
  out += '"';
  std::string_view s = datetime;
  size_t sp = s.find(' ');
  if (sp == std::string_view::npos) {
    out.append(s);
  } else {
    out.append(s.substr(0, sp));
    out += 'T';
    out.append(s.substr(sp + 1));
  }
  if (zulu) out += 'Z';
  out += '"';
}

// The fields both connectors' source blocks begin with.
constexpr std::string_view kSourceHead =
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"
    "\"parameters\":{\"allowed\":\"true,last,false\"},\"default\":\"false\",\"field\":\"snapshot\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"db\"},";

}  // namespace

std::string_view MysqlSourceSchema() {
  static const std::string schema = std::string(kSourceHead) +
      "{\"type\":\"string\",\"optional\":true,\"field\":\"table\"},"
      "{\"type\":\"int64\",\"optional\":false,\"field\":\"server_id\"},"
      "{\"type\":\"string\",\"optional\":true,\"field\":\"gtid\"},"
      "{\"type\":\"string\",\"optional\":false,\"field\":\"file\"},"
      "{\"type\":\"int64\",\"optional\":false,\"field\":\"pos\"},"
      "{\"type\":\"int32\",\"optional\":false,\"field\":\"row\"},"
      "{\"type\":\"int64\",\"optional\":true,\"field\":\"thread\"},"
      "{\"type\":\"string\",\"optional\":true,\"field\":\"query\"}],"
      "\"optional\":false,\"name\":\"io.debezium.connector.mysql.Source\",\"field\":\"source\"}";
  return schema;
}

std::string_view PgSourceSchema() {
  static const std::string schema = std::string(kSourceHead) +
      "{\"type\":\"string\",\"optional\":false,\"field\":\"table\"},"
      "{\"type\":\"string\",\"optional\":false,\"field\":\"schema\"},"
      "{\"type\":\"int64\",\"optional\":true,\"field\":\"txId\"},"
      "{\"type\":\"int64\",\"optional\":true,\"field\":\"lsn\"},"
      "{\"type\":\"int64\",\"optional\":true,\"field\":\"xmin\"}],"
      "\"optional\":false,\"name\":\"io.debezium.connector.postgresql.Source\",\"field\":\"source\"}";
  return schema;
}

Result<int64_t> EpochDays(std::string_view date) {
  uint64_t y = 0, m = 0, d = 0;
  if (date.size() != 10 || !ParseUint(date.substr(0, 4), y) || !ParseUint(date.substr(5, 2), m) ||
      !ParseUint(date.substr(8, 2), d)) {
    return Status::Invalid("not a date: \"{}\"", date);
  }
  if (m < 1 || m > 12 || d < 1 || d > 31) {
    return Status::Error(StatusCode::kNotSupported, "date \"{}\" has no place on the calendar (a zero date?)", date);
  }
  return DaysFromCivil(static_cast<int64_t>(y), static_cast<unsigned>(m), static_cast<unsigned>(d));
}

Result<int64_t> EpochMicros(std::string_view dt) {
  if (dt.size() < 19) return Status::Invalid("not a datetime: \"{}\"", dt);
  ASSIGN_OR_RETURN(int64_t days, EpochDays(dt.substr(0, 10)));
  uint64_t h = 0, mi = 0, s = 0;
  int64_t frac = 0;
  if (!ParseUint(dt.substr(11, 2), h) || !ParseUint(dt.substr(14, 2), mi) || !ParseUint(dt.substr(17, 2), s) ||
      !ParseFractionMicros(dt.substr(19), frac)) {
    return Status::Invalid("not a datetime: \"{}\"", dt);
  }
  return ((days * 24 + static_cast<int64_t>(h)) * 60 + static_cast<int64_t>(mi)) * 60 * 1000000 +
         static_cast<int64_t>(s) * 1000000 + frac;
}

Result<int64_t> DurationMicros(std::string_view t) {
  bool negative = !t.empty() && t[0] == '-';
  if (negative) t.remove_prefix(1);
  size_t c1 = t.find(':');
  size_t c2 = c1 == std::string_view::npos ? c1 : t.find(':', c1 + 1);
  uint64_t h = 0, m = 0, s = 0;
  int64_t frac = 0;
  if (c2 == std::string_view::npos || !ParseUint(t.substr(0, c1), h) || !ParseUint(t.substr(c1 + 1, c2 - c1 - 1), m)) {
    return Status::Invalid("not a time: \"{}\"", t);
  }
  std::string_view rest = t.substr(c2 + 1);
  size_t dot = rest.find('.');
  if (!ParseUint(rest.substr(0, dot), s) ||
      !ParseFractionMicros(dot == std::string_view::npos ? std::string_view() : rest.substr(dot), frac)) {
    return Status::Invalid("not a time: \"{}\"", t);
  }
  int64_t v =
      ((static_cast<int64_t>(h) * 60 + static_cast<int64_t>(m)) * 60 + static_cast<int64_t>(s)) * 1000000 + frac;
  return negative ? -v : v;
}

Result<std::string> DecimalUnscaledBytes(std::string_view dec) {
  bool negative = !dec.empty() && dec[0] == '-';
  if (negative) dec.remove_prefix(1);
  // Magnitude as big-endian base-256 digits, by repeated multiply-add.
  std::string mag;  // big-endian
  for (char c : dec) {
    if (c == '.') continue;
    if (c < '0' || c > '9') return Status::Invalid("not a decimal: \"{}\"", dec);
    unsigned carry = static_cast<unsigned>(c - '0');
    for (size_t i = mag.size(); i-- > 0;) {
      unsigned v = static_cast<unsigned char>(mag[i]) * 10u + carry;
      mag[i] = static_cast<char>(v & 0xff);
      carry = v >> 8;
    }
    while (carry) {
      mag.insert(mag.begin(), static_cast<char>(carry & 0xff));
      carry >>= 8;
    }
  }
  if (mag.empty()) mag.push_back('\0');
  // Two's complement with the fewest bytes (Java's BigInteger.toByteArray).
  if (static_cast<unsigned char>(mag[0]) & 0x80) mag.insert(mag.begin(), '\0');
  if (negative) {
    bool all_zero = mag.find_first_not_of('\0') == std::string::npos;
    if (!all_zero) {
      for (char& b : mag) b = static_cast<char>(~static_cast<unsigned char>(b));
      for (size_t i = mag.size(); i-- > 0;) {
        unsigned char b = static_cast<unsigned char>(mag[i]);
        mag[i] = static_cast<char>(b + 1);
        if (b != 0xff) break;
      }
      while (mag.size() > 1 && static_cast<unsigned char>(mag[0]) == 0xff &&
             (static_cast<unsigned char>(mag[1]) & 0x80)) {
        mag.erase(mag.begin());
      }
    }
  } else {
    while (mag.size() > 1 && mag[0] == '\0' && !(static_cast<unsigned char>(mag[1]) & 0x80)) mag.erase(mag.begin());
  }
  return mag;
}

Status AppendValue(std::string& out, Profile profile, const ColumnMeta& col, const ColumnType& t, const Value& x) {
  const bool native = profile == Profile::kNative;
  if (col.pg_type_oid != 0) {
    ASSIGN_OR_RETURN(bool done, AppendPgValue(out, profile, col, x));
    if (done) return Status::Ok();
  }
  switch (x.kind) {
    case ValueKind::kFloat:
      AppendJavaFloat(out, static_cast<float>(x.d));
      return Status::Ok();
    case ValueKind::kDouble:
      AppendJavaDouble(out, x.d);
      return Status::Ok();
    case ValueKind::kUInt:
      if (t.family == TypeFamily::kEnum || t.family == TypeFamily::kSet) {
        return Status::Error(StatusCode::kNotSupported, "{} member names are unknown (value {})",
                             t.family == TypeFamily::kEnum ? "ENUM" : "SET", x.u);
      }
      if (native && t.family == TypeFamily::kBigInt && x.u > uint64_t(std::numeric_limits<int64_t>::max())) {
        // Debezium's default bigint.unsigned.handling.mode=long would wrap it.
        return Status::Error(StatusCode::kNotSupported,
                             "BIGINT UNSIGNED {} does not fit Debezium's int64 (use debezium_profile: flink)", x.u);
      }
      break;
    case ValueKind::kBit:
      if (t.length == 1) {
        out += x.u ? "true" : "false";
        return Status::Ok();
      }
      if (native) {  // io.debezium.data.Bits: little-endian bytes
        std::string bytes;
        for (uint32_t i = 0; i < (t.length + 7) / 8; ++i) bytes += static_cast<char>((x.u >> (8 * i)) & 0xff);
        out += '"';
        AppendBase64(out, bytes);
        out += '"';
        return Status::Ok();
      }
      break;
    case ValueKind::kDecimal:
      if (native) {
        ASSIGN_OR_RETURN(std::string bytes, DecimalUnscaledBytes(x.s));
        out += '"';
        AppendBase64(out, bytes);
        out += '"';
      } else {
        AppendJsonString(out, x.s);
      }
      return Status::Ok();
    case ValueKind::kDate:
      if (native) {
        ASSIGN_OR_RETURN(int64_t days, EpochDays(x.s));
        AppendInt(out, days);
      } else {
        AppendJsonString(out, x.s);
      }
      return Status::Ok();
    case ValueKind::kDateTime:
      if (native) {
        ASSIGN_OR_RETURN(int64_t micros, EpochMicros(x.s));
        // io.debezium.time.Timestamp (millis) up to fsp 3, MicroTimestamp beyond.
        AppendInt(out, t.fsp <= 3 ? micros / 1000 : micros);
      } else {
        AppendIso(out, x.s, false);
      }
      return Status::Ok();
    case ValueKind::kTimestamp:
      AppendIso(out, x.s, true);  // io.debezium.time.ZonedTimestamp
      return Status::Ok();
    case ValueKind::kTime:
      if (native) {
        ASSIGN_OR_RETURN(int64_t micros, DurationMicros(x.s));
        AppendInt(out, micros);  // io.debezium.time.MicroTime
      } else {
        AppendJsonString(out, x.s);
      }
      return Status::Ok();
    case ValueKind::kJson:
      AppendJsonString(out, x.s);  // io.debezium.data.Json: the document as text
      return Status::Ok();
    case ValueKind::kGeometry:
      out += "{\"wkb\":\"";
      AppendBase64(out, x.s);
      out += "\",\"srid\":null}";
      return Status::Ok();
    default:
      break;
  }
  (void)col;
  AppendJsonValue(out, x);
  return Status::Ok();
}

void AppendFieldSchema(std::string& out, Profile profile, const ColumnMeta& col, const ColumnType& t,
                       std::string_view field, bool optional) {
  if (col.pg_type_oid != 0 && AppendPgFieldSchema(out, profile, col, field, optional)) return;
  const bool native = profile == Profile::kNative;
  std::string_view type = "string";
  std::string_view name;
  std::string params;  // JSON object body
  switch (t.family) {
    case TypeFamily::kTinyInt:
    case TypeFamily::kSmallInt:
      type = t.is_unsigned && t.family == TypeFamily::kSmallInt ? "int32" : "int16";
      break;
    case TypeFamily::kMediumInt:
      type = "int32";
      break;
    case TypeFamily::kInt:
      type = t.is_unsigned ? "int64" : "int32";
      break;
    case TypeFamily::kBigInt:
      type = "int64";
      break;
    case TypeFamily::kFloat:
      type = "float";
      break;
    case TypeFamily::kDouble:
      type = "double";
      break;
    case TypeFamily::kDecimal:
      if (native) {
        type = "bytes";
        name = "org.apache.kafka.connect.data.Decimal";
        params = fmt::format("\"scale\":\"{}\",\"connect.decimal.precision\":\"{}\"", t.scale, t.precision);
      }
      break;
    case TypeFamily::kDate:
      if (native) {
        type = "int32";
        name = "io.debezium.time.Date";
      }
      break;
    case TypeFamily::kTime:
      if (native) {
        type = "int64";
        name = "io.debezium.time.MicroTime";
      }
      break;
    case TypeFamily::kDateTime:
      if (native) {
        type = "int64";
        name = t.fsp <= 3 ? "io.debezium.time.Timestamp" : "io.debezium.time.MicroTimestamp";
      }
      break;
    case TypeFamily::kTimestamp:
      name = "io.debezium.time.ZonedTimestamp";
      break;
    case TypeFamily::kYear:
      type = "int32";
      name = "io.debezium.time.Year";
      break;
    case TypeFamily::kBit:
      if (t.length == 1) {
        type = "boolean";
      } else if (native) {
        type = "bytes";
        name = "io.debezium.data.Bits";
        params = fmt::format("\"length\":\"{}\"", t.length);
      } else {
        type = "int64";
      }
      break;
    case TypeFamily::kBinary:
    case TypeFamily::kVarbinary:
    case TypeFamily::kBlob:
      type = "bytes";
      break;
    case TypeFamily::kEnum:
    case TypeFamily::kSet: {
      name = t.family == TypeFamily::kEnum ? "io.debezium.data.Enum" : "io.debezium.data.EnumSet";
      std::string allowed;
      for (size_t i = 0; i < col.enum_values.size(); ++i) {
        if (i) allowed += ',';
        allowed += col.enum_values[i];
      }
      params = "\"allowed\":";
      AppendJsonString(params, allowed);
      break;
    }
    case TypeFamily::kJson:
      name = "io.debezium.data.Json";
      break;
    case TypeFamily::kGeometry: {
      out +=
          "{\"type\":\"struct\",\"fields\":[{\"type\":\"bytes\",\"optional\":false,\"field\":\"wkb\"},"
          "{\"type\":\"int32\",\"optional\":true,\"field\":\"srid\"}],\"optional\":";
      out += optional ? "true" : "false";
      out += ",\"name\":\"io.debezium.data.geometry.Geometry\",\"version\":1,\"field\":";
      AppendJsonString(out, field);
      out += '}';
      return;
    }
    default:
      break;
  }
  AppendField(out, type, name, params, optional, field);
}

void AppendField(std::string& out, std::string_view type, std::string_view name, std::string_view params,
                 bool optional, std::string_view field) {
  fmt::format_to(std::back_inserter(out), "{{\"type\":\"{}\",\"optional\":{}", type, optional ? "true" : "false");
  if (!name.empty()) {
    fmt::format_to(std::back_inserter(out), ",\"name\":\"{}\",\"version\":1", name);
    if (!params.empty()) fmt::format_to(std::back_inserter(out), ",\"parameters\":{{{}}}", params);
  }
  out += ",\"field\":";
  AppendJsonString(out, field);
  out += '}';
}

}  // namespace sluice::format::debezium
