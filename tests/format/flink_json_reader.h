#pragma once
// Test checkers that read Canal, Maxwell and Debezium JSON messages the way
// Flink's canal-json, maxwell-json and debezium-json deserializers do
// (flink-formats/flink-json: CanalJsonDeserializationSchema,
// MaxwellJsonDeserializationSchema, DebeziumJsonDeserializationSchema over
// JsonToRowDataConverters): which fields they read, how an update's "old"
// fills the before row, and how a JSON node becomes a typed column.
// A decoded value is canonical text (bytes as hex) so tests compare strings.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdint>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::format::testing {

// Flink SQL column types the checkers convert to. kTimestamp reads the SQL
// standard ("yyyy-MM-dd HH:mm:ss[.f]") or ISO-8601 ("...T...") text as the
// format's `timestamp-format.standard` says; kTimestampLtz wants a 'Z'.
enum class FlinkType {
  kBoolean, kTinyInt, kSmallInt, kInt, kBigInt, kFloat, kDouble, kDecimal,
  kString, kBytes, kDate, kTime, kTimestamp, kTimestampLtz, kArrayOfString,
  kLatin1Bytes,  // STRING read as Canal's own client does: getBytes(ISO_8859_1)
};

struct FlinkColumn {
  std::string name;
  FlinkType type;
  int precision = 0, scale = 0;  // DECIMAL
};

enum class RowKind { kInsert, kUpdateBefore, kUpdateAfter, kDelete };
inline const char* RowKindName(RowKind k) {
  switch (k) {
    case RowKind::kInsert: return "+I";
    case RowKind::kUpdateBefore: return "-U";
    case RowKind::kUpdateAfter: return "+U";
    case RowKind::kDelete: return "-D";
  }
  return "?";
}

struct FlinkRow {
  RowKind kind;
  std::map<std::string, std::optional<std::string>> values;  // nullopt: SQL NULL
};

enum class TimestampStandard { kSql, kIso8601 };

namespace detail {

inline std::runtime_error Fail(const std::string& what) { return std::runtime_error(what); }

inline bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

inline std::string Text(const nlohmann::json& n) {
  if (n.is_string()) return n.get<std::string>();
  return n.dump();
}

inline std::string Trim(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  return s;
}

inline int64_t ParseLong(const nlohmann::json& n, int64_t lo, int64_t hi) {
  std::string t = Trim(Text(n));
  size_t used = 0;
  long long v = std::stoll(t, &used);  // throws like Long.parseLong
  if (used != t.size()) throw Fail("not an integer: " + t);
  if (v < lo || v > hi) throw Fail("out of range: " + t);
  return v;
}

// ISO_LOCAL_DATE: uuuu-MM-dd, a real calendar day.
inline std::string Date(const std::string& t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-' || !AllDigits(t.substr(0, 4)) || !AllDigits(t.substr(5, 2)) ||
      !AllDigits(t.substr(8, 2))) {
    throw Fail("not an ISO date: " + t);
  }
  int m = std::stoi(t.substr(5, 2)), d = std::stoi(t.substr(8, 2));
  if (m < 1 || m > 12 || d < 1 || d > 31) throw Fail("no such date: " + t);
  return t;
}

// ISO_LOCAL_TIME: HH:mm[:ss[.f{1,9}]], hour 0..23.
inline std::string Time(const std::string& t) {
  if (t.size() < 8 || t[2] != ':' || t[5] != ':' || !AllDigits(t.substr(0, 2)) || !AllDigits(t.substr(3, 2)) ||
      !AllDigits(t.substr(6, 2))) {
    throw Fail("not an ISO time: " + t);
  }
  if (std::stoi(t.substr(0, 2)) > 23) throw Fail("hour out of range: " + t);
  if (t.size() > 8 && (t[8] != '.' || !AllDigits(t.substr(9)) || t.size() > 18)) throw Fail("bad fraction: " + t);
  return t;
}

inline std::string Timestamp(const std::string& t, TimestampStandard standard, bool ltz) {
  std::string s = t;
  if (ltz) {
    if (s.empty() || s.back() != 'Z') throw Fail("TIMESTAMP_LTZ text without 'Z': " + t);
    s.pop_back();
  }
  char sep = standard == TimestampStandard::kSql ? ' ' : 'T';
  if (s.size() < 19 || s[10] != sep) throw Fail("timestamp not in the expected standard: " + t);
  Date(s.substr(0, 10));
  Time(s.substr(11));
  s[10] = ' ';
  return s;
}

inline std::string Hex(const std::string& bytes) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += k[c >> 4];
    out += k[c & 15];
  }
  return out;
}

inline std::string Base64Decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4) throw Fail("not base64: " + in);
  std::string out;
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      if (in[i + k] == '=') {
        v[k] = 0;
        ++pad;
      } else {
        v[k] = val(in[i + k]);
        if (v[k] < 0) throw Fail("not base64: " + in);
      }
    }
    uint32_t w = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>(w >> 16);
    if (pad < 2) out += static_cast<char>((w >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(w & 0xff);
  }
  return out;
}

// DecimalData.fromBigDecimal(new BigDecimal(text), p, s): rescaled to s
// (a value that would need rounding is flagged: the test wants exactness),
// null when it needs more than p digits.
inline std::optional<std::string> Decimal(const std::string& t, int p, int s) {
  std::string in = Trim(t);
  bool neg = !in.empty() && in[0] == '-';
  if (neg) in.erase(0, 1);
  size_t dot = in.find('.');
  std::string ip = in.substr(0, dot), fp = dot == std::string::npos ? "" : in.substr(dot + 1);
  if (!AllDigits(ip) || (!fp.empty() && !AllDigits(fp))) throw Fail("not a decimal: " + t);
  while (static_cast<int>(fp.size()) > s) {
    if (fp.back() != '0') throw Fail("decimal would be rounded: " + t);
    fp.pop_back();
  }
  while (static_cast<int>(fp.size()) < s) fp += '0';
  while (ip.size() > 1 && ip[0] == '0') ip.erase(0, 1);
  int digits = static_cast<int>((ip == "0" ? 0 : ip.size()) + fp.size());
  if (digits > p) return std::nullopt;
  return (neg ? "-" : "") + ip + (s ? "." + fp : "");
}

}  // namespace detail

inline std::optional<std::string> ConvertNode(const nlohmann::json& n, const FlinkColumn& col,
                                              TimestampStandard standard) {
  using namespace detail;
  if (n.is_null()) return std::nullopt;
  switch (col.type) {
    case FlinkType::kBoolean:
      if (n.is_boolean()) return n.get<bool>() ? "true" : "false";
      return Trim(Text(n)) == "true" ? "true" : "false";  // Boolean.parseBoolean
    case FlinkType::kTinyInt: return std::to_string(ParseLong(n, -128, 127));
    case FlinkType::kSmallInt: return std::to_string(ParseLong(n, -32768, 32767));
    case FlinkType::kInt: return std::to_string(ParseLong(n, INT32_MIN, INT32_MAX));
    case FlinkType::kBigInt: return std::to_string(ParseLong(n, INT64_MIN, INT64_MAX));
    case FlinkType::kFloat: return fmt::format("{}", n.is_number() ? n.get<float>() : std::stof(Trim(Text(n))));
    case FlinkType::kDouble: return fmt::format("{}", n.is_number() ? n.get<double>() : std::stod(Trim(Text(n))));
    case FlinkType::kDecimal: return Decimal(Text(n), col.precision, col.scale);
    case FlinkType::kString: return Text(n);
    case FlinkType::kBytes:
      if (!n.is_string()) throw Fail("BYTES from a non-text node");
      return Hex(Base64Decode(n.get<std::string>()));
    case FlinkType::kLatin1Bytes: {
      std::string s = n.get<std::string>(), out;
      for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = s[i];
        if (c < 0x80) {
          out += static_cast<char>(c);
        } else if ((c & 0xE0) == 0xC0 && i + 1 < s.size() && c <= 0xC3) {
          out += static_cast<char>(((c & 0x1F) << 6) | (s[++i] & 0x3F));
        } else {
          throw Fail("a character beyond ISO-8859-1");
        }
      }
      return Hex(out);
    }
    case FlinkType::kDate: return Date(Text(n));
    case FlinkType::kTime: return Time(Text(n));
    case FlinkType::kTimestamp: return Timestamp(Text(n), standard, false);
    case FlinkType::kTimestampLtz: return Timestamp(Text(n), standard, true);
    case FlinkType::kArrayOfString: {
      if (!n.is_array()) throw Fail("ARRAY from a non-array node");
      std::string out;
      for (size_t i = 0; i < n.size(); ++i) out += (i ? "," : "") + n[i].get<std::string>();
      return out;
    }
  }
  return std::nullopt;
}

namespace detail {

inline FlinkRow ToRow(RowKind kind, const nlohmann::json& obj, const std::vector<FlinkColumn>& schema,
                      TimestampStandard standard) {
  FlinkRow row{kind, {}};
  for (const FlinkColumn& c : schema) {
    // A field missing from the message is NULL (fail-on-missing-field off).
    auto it = obj.find(c.name);
    row.values[c.name] = it == obj.end() ? std::nullopt : ConvertNode(*it, c, standard);
  }
  return row;
}

// Canal and Maxwell: "old" holds the updated fields; the others are taken
// from the new row (a field present as null stays null).
inline FlinkRow BeforeFromOld(const nlohmann::json& old, const FlinkRow& after, const std::vector<FlinkColumn>& schema,
                              TimestampStandard standard) {
  FlinkRow before{RowKind::kUpdateBefore, {}};
  for (const FlinkColumn& c : schema) {
    auto it = old.find(c.name);
    before.values[c.name] = it == old.end() ? after.values.at(c.name) : ConvertNode(*it, c, standard);
  }
  return before;
}

}  // namespace detail

inline std::vector<FlinkRow> ReadCanal(const std::string& message, const std::vector<FlinkColumn>& schema,
                                       TimestampStandard standard = TimestampStandard::kSql) {
  using namespace detail;
  nlohmann::json root = nlohmann::json::parse(message);
  std::vector<FlinkRow> out;
  const std::string type = root.at("type").get<std::string>();
  const nlohmann::json& data = root["data"];
  if (type == "INSERT" || type == "INIT") {
    for (const auto& r : data) out.push_back(ToRow(RowKind::kInsert, r, schema, standard));
  } else if (type == "UPDATE") {
    const nlohmann::json& old = root.at("old");
    for (size_t i = 0; i < data.size(); ++i) {
      FlinkRow after = ToRow(RowKind::kUpdateAfter, data[i], schema, standard);
      out.push_back(BeforeFromOld(old.at(i), after, schema, standard));
      out.push_back(std::move(after));
    }
  } else if (type == "DELETE") {
    for (const auto& r : data) out.push_back(ToRow(RowKind::kDelete, r, schema, standard));
  } else if (type == "CREATE") {
    // a DDL event: "data" is null, skipped
  } else {
    throw Fail("Unknown \"type\" value \"" + type + "\"");
  }
  return out;
}

inline std::vector<FlinkRow> ReadMaxwell(const std::string& message, const std::vector<FlinkColumn>& schema,
                                         TimestampStandard standard = TimestampStandard::kSql) {
  using namespace detail;
  nlohmann::json root = nlohmann::json::parse(message);
  const std::string type = root.at("type").get<std::string>();
  const nlohmann::json& data = root.at("data");
  if (type == "insert") return {ToRow(RowKind::kInsert, data, schema, standard)};
  if (type == "delete") return {ToRow(RowKind::kDelete, data, schema, standard)};
  if (type == "update") {
    FlinkRow after = ToRow(RowKind::kUpdateAfter, data, schema, standard);
    FlinkRow before = BeforeFromOld(root.value("old", nlohmann::json::object()), after, schema, standard);
    return {std::move(before), std::move(after)};
  }
  throw Fail("Unknown \"type\" value \"" + type + "\"");
}

inline std::vector<FlinkRow> ReadDebezium(const std::string& message, const std::vector<FlinkColumn>& schema,
                                          bool schema_include,
                                          TimestampStandard standard = TimestampStandard::kIso8601) {
  using namespace detail;
  if (message.empty()) return {};  // a tombstone
  nlohmann::json root = nlohmann::json::parse(message);
  if (root.is_null()) return {};
  const nlohmann::json& payload = schema_include ? root.at("payload") : root;
  const std::string op = payload.at("op").get<std::string>();
  if (op == "c" || op == "r") return {ToRow(RowKind::kInsert, payload.at("after"), schema, standard)};
  if (op == "u") {
    return {ToRow(RowKind::kUpdateBefore, payload.at("before"), schema, standard),
            ToRow(RowKind::kUpdateAfter, payload.at("after"), schema, standard)};
  }
  if (op == "d") return {ToRow(RowKind::kDelete, payload.at("before"), schema, standard)};
  throw Fail("Unknown \"op\" value \"" + op + "\"");
}

}  // namespace sluice::format::testing
