// Debezium's forms for columns of a PostgreSQL source, where the Debezium
// PostgreSQL connector differs from the nearest MySQL type the column
// carries (a boolean is a tinyint(1) to MySQL targets, an array JSON).

#include <fmt/format.h>

#include <charconv>

#include "core/json_writer.h"
#include "format/debezium_values.h"
#include "format/format_util.h"

namespace sluice::format::debezium {
namespace {

constexpr uint32_t kBool = 16, kInt2 = 21, kInt4 = 23, kInt8 = 20, kOid = 26, kFloat4 = 700, kFloat8 = 701,
                   kNumeric = 1700, kInterval = 1186, kUuid = 2950;

bool Unconstrained(const ColumnMeta& col) { return col.pg_type_oid == kNumeric && col.pg_typmod < 4; }

// The Kafka Connect type of an array element as sluice's JSON array holds
// it: numbers and booleans as such, everything else as its text.
std::string_view ElementType(uint32_t oid) {
  switch (oid) {
    case kBool: return "boolean";
    case kInt2: return "int16";
    case kInt4: return "int32";
    case kInt8:
    case kOid: return "int64";
    case kFloat4: return "float";
    case kFloat8: return "double";
    default: return "string";
  }
}

bool ParseSigned(std::string_view s, int64_t& v) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

bool AppendPgFieldSchema(std::string& out, Profile profile, const ColumnMeta& col, std::string_view field,
                         bool optional) {
  const bool native = profile == Profile::kNative;
  if (col.pg_element_oid != 0) {
    out += "{\"type\":\"array\",\"items\":{\"type\":\"";
    out += ElementType(col.pg_element_oid);
    out += "\",\"optional\":true},\"optional\":";
    out += optional ? "true" : "false";
    out += ",\"field\":";
    AppendJsonString(out, field);
    out += '}';
    return true;
  }
  switch (col.pg_type_oid) {
    case kBool:
      AppendField(out, "boolean", "", "", optional, field);
      return true;
    case kUuid:
      AppendField(out, "string", "io.debezium.data.Uuid", "", optional, field);
      return true;
    case kInterval:
      AppendField(out, native ? "int64" : "string", native ? "io.debezium.time.MicroDuration" : "", "", optional,
                  field);
      return true;
    case kNumeric:
      if (!native || !Unconstrained(col)) return false;
      out += "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"scale\"},"
             "{\"type\":\"bytes\",\"optional\":false,\"field\":\"value\"}],\"optional\":";
      out += optional ? "true" : "false";
      out += ",\"name\":\"io.debezium.data.VariableScaleDecimal\",\"version\":1,\"field\":";
      AppendJsonString(out, field);
      out += '}';
      return true;
    default:
      return false;
  }
}

Result<bool> AppendPgValue(std::string& out, Profile profile, const ColumnMeta& col, const Value& x) {
  const bool native = profile == Profile::kNative;
  if (col.pg_element_oid != 0 || col.pg_type_oid == kBool) {
    out.append(x.s);  // a JSON array, or true/false
    return true;
  }
  if (col.pg_type_oid == kInterval && native) {
    ASSIGN_OR_RETURN(int64_t micros, PgIntervalMicros(x.s));
    AppendInt(out, micros);
    return true;
  }
  if (Unconstrained(col) && native) {
    std::string_view digits = x.s;
    if (digits == "NaN" || digits.ends_with("Infinity")) {
      return Status::Error(StatusCode::kNotSupported,
                           "numeric {} has no Debezium decimal form (debezium_profile: flink sends it as text)", x.s);
    }
    size_t dot = digits.find('.');
    ASSIGN_OR_RETURN(std::string bytes, DecimalUnscaledBytes(digits));
    out += "{\"scale\":";
    AppendUInt(out, dot == std::string_view::npos ? 0 : digits.size() - dot - 1);
    out += ",\"value\":\"";
    AppendBase64(out, bytes);
    out += "\"}";
    return true;
  }
  return false;
}

Result<int64_t> PgIntervalMicros(std::string_view text) {
  constexpr int64_t kSecond = 1000000, kDay = 86400 * kSecond;
  constexpr int64_t kMonth = 2629800 * kSecond;  // 30.4375 days
  auto bad = [&] { return Status::Invalid("not a PostgreSQL interval: \"{}\"", text); };
  int64_t total = 0;
  auto add = [&](int64_t n, int64_t unit) {
    int64_t v = 0;
    return !__builtin_mul_overflow(n, unit, &v) && !__builtin_add_overflow(total, v, &total);
  };
  std::string_view rest = text;
  auto next = [&]() {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    size_t end = rest.find(' ');
    std::string_view token = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    return token;
  };
  for (std::string_view token = next(); !token.empty(); token = next()) {
    if (token.find(':') != std::string_view::npos) {  // [+-]H:MM:SS[.ffffff]
      if (token.front() == '+') token.remove_prefix(1);
      auto t = DurationMicros(token);
      if (!t.ok() || !add(*t, 1)) return bad();
      continue;
    }
    int64_t n = 0;
    std::string_view unit = next();
    if (!ParseSigned(token, n)) return bad();
    int64_t scale = unit.starts_with("year") ? 12 * kMonth
                    : unit.starts_with("mon") ? kMonth
                    : unit.starts_with("day") ? kDay
                                              : 0;
    if (scale == 0 || !add(n, scale)) return bad();
  }
  if (text.empty()) return bad();
  return total;
}

}  // namespace sluice::format::debezium
