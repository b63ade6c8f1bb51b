#include "source/postgres/pg_value.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "client/mysql/column_types.h"
#include "core/json_writer.h"

namespace sluice::postgres {
namespace {

namespace my = sluice::mysql;

struct BuiltIn {
  uint32_t oid;
  PgFamily family;
  const char* name;
  uint32_t element;  // arrays: the element type's OID
};

// pg_type.dat of PostgreSQL 15: the types in common use and their arrays.
// Any other built-in (geometric, ranges, tsvector, ...) is text.
constexpr BuiltIn kBuiltIns[] = {
    {16, PgFamily::kBool, "boolean", 0},
    {17, PgFamily::kBytea, "bytea", 0},
    {18, PgFamily::kText, "\"char\"", 0},
    {19, PgFamily::kText, "name", 0},
    {20, PgFamily::kInt, "bigint", 0},
    {21, PgFamily::kInt, "smallint", 0},
    {23, PgFamily::kInt, "integer", 0},
    {25, PgFamily::kText, "text", 0},
    {26, PgFamily::kInt, "oid", 0},
    {114, PgFamily::kJson, "json", 0},
    {142, PgFamily::kText, "xml", 0},
    {700, PgFamily::kFloat4, "real", 0},
    {701, PgFamily::kFloat8, "double precision", 0},
    {790, PgFamily::kText, "money", 0},
    {869, PgFamily::kText, "inet", 0},
    {650, PgFamily::kText, "cidr", 0},
    {829, PgFamily::kText, "macaddr", 0},
    {1042, PgFamily::kText, "character", 0},
    {1043, PgFamily::kText, "character varying", 0},
    {1082, PgFamily::kDate, "date", 0},
    {1083, PgFamily::kTime, "time without time zone", 0},
    {1114, PgFamily::kTimestamp, "timestamp without time zone", 0},
    {1184, PgFamily::kTimestamptz, "timestamp with time zone", 0},
    {1186, PgFamily::kText, "interval", 0},
    {1266, PgFamily::kText, "time with time zone", 0},
    {1560, PgFamily::kText, "bit", 0},
    {1562, PgFamily::kText, "bit varying", 0},
    {1700, PgFamily::kNumeric, "numeric", 0},
    {2950, PgFamily::kText, "uuid", 0},
    {3220, PgFamily::kText, "pg_lsn", 0},
    {3802, PgFamily::kJson, "jsonb", 0},
    {1000, PgFamily::kArray, "boolean[]", 16},
    {1001, PgFamily::kArray, "bytea[]", 17},
    {1002, PgFamily::kArray, "\"char\"[]", 18},
    {1003, PgFamily::kArray, "name[]", 19},
    {1005, PgFamily::kArray, "smallint[]", 21},
    {1007, PgFamily::kArray, "integer[]", 23},
    {1009, PgFamily::kArray, "text[]", 25},
    {1014, PgFamily::kArray, "character[]", 1042},
    {1015, PgFamily::kArray, "character varying[]", 1043},
    {1016, PgFamily::kArray, "bigint[]", 20},
    {1021, PgFamily::kArray, "real[]", 700},
    {1022, PgFamily::kArray, "double precision[]", 701},
    {1028, PgFamily::kArray, "oid[]", 26},
    {199, PgFamily::kArray, "json[]", 114},
    {3807, PgFamily::kArray, "jsonb[]", 3802},
    {1182, PgFamily::kArray, "date[]", 1082},
    {1183, PgFamily::kArray, "time without time zone[]", 1083},
    {1115, PgFamily::kArray, "timestamp without time zone[]", 1114},
    {1185, PgFamily::kArray, "timestamp with time zone[]", 1184},
    {1187, PgFamily::kArray, "interval[]", 1186},
    {1231, PgFamily::kArray, "numeric[]", 1700},
    {2951, PgFamily::kArray, "uuid[]", 2950},
    {1041, PgFamily::kArray, "inet[]", 869},
    {651, PgFamily::kArray, "cidr[]", 650},
    {1040, PgFamily::kArray, "macaddr[]", 829},
    {791, PgFamily::kArray, "money[]", 790},
    {143, PgFamily::kArray, "xml[]", 142},
    {1270, PgFamily::kArray, "time with time zone[]", 1266},
    {1561, PgFamily::kArray, "bit[]", 1560},
    {1563, PgFamily::kArray, "bit varying[]", 1562},
};

const BuiltIn* FindBuiltIn(uint32_t oid) {
  for (const BuiltIn& b : kBuiltIns) {
    if (b.oid == oid) return &b;
  }
  return nullptr;
}

constexpr int kMaxTypeDepth = 16;  // domains over arrays of domains ...: a cycle guard

Result<std::shared_ptr<const PgColumnType>> Resolve(uint32_t oid, const PgTypeLookup& lookup, int depth) {
  if (depth > kMaxTypeDepth) return Status::Corruption("type {}: domains or arrays nested too deep", oid);
  auto t = std::make_shared<PgColumnType>();
  t->oid = oid;
  t->base_oid = oid;
  if (const BuiltIn* b = FindBuiltIn(oid)) {
    t->family = b->family;
    t->name = b->name;
    if (b->element) {
      ASSIGN_OR_RETURN(t->element, Resolve(b->element, lookup, depth + 1));
    }
    return std::shared_ptr<const PgColumnType>(std::move(t));
  }
  if (!lookup) {
    t->name = "oid " + std::to_string(oid);
    return std::shared_ptr<const PgColumnType>(std::move(t));
  }
  ASSIGN_OR_RETURN(PgTypeRow row, lookup(oid));
  t->name = row.name;
  if (row.typtype == 'd' && row.typbasetype != 0) {
    ASSIGN_OR_RETURN(auto base, Resolve(row.typbasetype, lookup, depth + 1));
    auto d = std::make_shared<PgColumnType>(*base);
    d->oid = oid;
    d->name = row.name;
    return std::shared_ptr<const PgColumnType>(std::move(d));
  }
  if (row.typtype == 'e') {
    t->family = PgFamily::kEnum;
  } else if (row.typcategory == 'A' && row.typelem != 0) {
    t->family = PgFamily::kArray;
    ASSIGN_OR_RETURN(t->element, Resolve(row.typelem, lookup, depth + 1));
  }
  return std::shared_ptr<const PgColumnType>(std::move(t));
}

template <typename T>
bool ParseInt(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool IsSpecialFloat(std::string_view s) { return s == "NaN" || s == "Infinity" || s == "-Infinity"; }

// "2024-01-31 12:34:56.789+00" (TimeZone=UTC) without its zone; BC dates
// keep their suffix: "0044-03-15 12:00:00+00 BC" -> "0044-03-15 12:00:00 BC".
Result<std::string_view> StripUtcZone(std::string_view text, Arena& arena) {
  if (text.size() >= 3 && text.substr(text.size() - 3) == "+00") return text.substr(0, text.size() - 3);
  constexpr std::string_view kBc = "+00 BC";
  if (text.size() >= kBc.size() && text.substr(text.size() - kBc.size()) == kBc) {
    std::string_view head = text.substr(0, text.size() - kBc.size());
    char* p = arena.Allocate(head.size() + 3);
    std::memcpy(p, head.data(), head.size());
    std::memcpy(p + head.size(), " BC", 3);
    return std::string_view(p, head.size() + 3);
  }
  if (text == "infinity" || text == "-infinity") return text;
  return Status::Corruption("timestamptz \"{}\" is not in UTC (the session's TimeZone must be UTC)", text);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea_output=hex: "\x" then two hex digits per byte.
Result<std::string_view> DecodeByteaHex(std::string_view text, Arena& arena) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
    return Status::Corruption("bytea \"{}\" is not in hex format (bytea_output must be hex)",
                              text.substr(0, 16));
  }
  size_t n = (text.size() - 2) / 2;
  if (n == 0) return std::string_view();
  char* out = arena.Allocate(n);
  for (size_t i = 0; i < n; ++i) {
    int hi = HexDigit(text[2 + 2 * i]), lo = HexDigit(text[3 + 2 * i]);
    if (hi < 0 || lo < 0) return Status::Corruption("bytea: bad hex digit at byte {}", i);
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return std::string_view(out, n);
}

// Array literal parser: elements are unquoted words or double-quoted strings
// with backslash escapes; NULL (unquoted, any case) is SQL NULL.
class ArrayParser {
 public:
  ArrayParser(std::string_view text, const PgColumnType& element) : s_(text), element_(element) {}

  Status Parse(std::string& out) {
    // "[1:2]={...}": dimensions given when a lower bound is not 1.
    if (!s_.empty() && s_[0] == '[') {
      size_t eq = s_.find('=');
      if (eq == std::string_view::npos) return Bad("dimensions without '='");
      i_ = eq + 1;
    }
    RETURN_IF_ERROR(ParseArray(out, 0));
    if (i_ != s_.size()) return Bad("text after the closing brace");
    return Status::Ok();
  }

 private:
  Status Bad(std::string_view why) const {
    return Status::Corruption("array literal at byte {}: {}", i_, why);
  }

  Status ParseArray(std::string& out, int depth) {
    if (depth > 6) return Bad("more than 6 dimensions");  // PostgreSQL's MAXDIM
    if (i_ >= s_.size() || s_[i_] != '{') return Bad("expected '{'");
    ++i_;
    out += '[';
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      out += ']';
      return Status::Ok();
    }
    for (bool first = true;; first = false) {
      if (!first) out += ',';
      if (i_ >= s_.size()) return Bad("unterminated");
      if (s_[i_] == '{') {
        RETURN_IF_ERROR(ParseArray(out, depth + 1));
      } else {
        RETURN_IF_ERROR(ParseElement(out));
      }
      if (i_ >= s_.size()) return Bad("unterminated");
      char c = s_[i_++];
      if (c == '}') break;
      if (c != ',') return Bad("expected ',' or '}'");
    }
    out += ']';
    return Status::Ok();
  }

  Status ParseElement(std::string& out) {
    std::string_view raw;
    bool quoted = false;
    if (s_[i_] == '"') {
      quoted = true;
      ++i_;
      scratch_.clear();
      while (true) {
        if (i_ >= s_.size()) return Bad("unterminated quoted element");
        char c = s_[i_++];
        if (c == '"') break;
        if (c == '\\') {
          if (i_ >= s_.size()) return Bad("dangling backslash");
          c = s_[i_++];
        }
        scratch_ += c;
      }
      raw = scratch_;
    } else {
      size_t start = i_;
      while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}') ++i_;
      raw = s_.substr(start, i_ - start);
      if (raw.empty()) return Bad("empty element");
    }
    if (!quoted && raw.size() == 4 && (raw[0] == 'N' || raw[0] == 'n') && (raw[1] == 'U' || raw[1] == 'u') &&
        (raw[2] == 'L' || raw[2] == 'l') && (raw[3] == 'L' || raw[3] == 'l')) {
      out += "null";
      return Status::Ok();
    }
    arena_.Reset();
    auto v = DecodePgText(element_, raw, arena_);
    if (!v.ok()) return v.status();
    AppendJsonValue(out, *v);
    return Status::Ok();
  }

  std::string_view s_;
  const PgColumnType& element_;
  size_t i_ = 0;
  std::string scratch_;
  Arena arena_{4096};
};

}  // namespace

Result<std::shared_ptr<const PgColumnType>> ResolvePgType(uint32_t oid, const PgTypeLookup& lookup) {
  return Resolve(oid, lookup, 0);
}

void DescribeColumn(const PgColumnType& type, int32_t typmod, ColumnMeta& c) {
  c.pg_type_oid = type.base_oid;
  c.pg_typmod = typmod;
  c.pg_type_name = type.name;
  c.pg_element_oid = type.family == PgFamily::kArray && type.element ? type.element->base_oid : 0;
  c.charset = Charset::kUtf8;
  c.meta = 0;
  switch (type.family) {
    case PgFamily::kBool: c.type = my::kTypeTiny; return;
    case PgFamily::kInt:
      c.type = type.base_oid == 21 ? my::kTypeShort : type.base_oid == 23 ? my::kTypeLong : my::kTypeLongLong;
      c.is_unsigned = type.base_oid == 26;
      return;
    case PgFamily::kNumeric: {
      // typmod = ((precision << 16) | scale) + 4; unconstrained (-1): the
      // widest MySQL DECIMAL, 65 digits of which 30 after the point.
      if (typmod >= 4) {
        uint32_t p = static_cast<uint32_t>(typmod - 4) >> 16, s = static_cast<uint32_t>(typmod - 4) & 0xffff;
        c.meta = static_cast<uint16_t>((std::min(p, 65u) << 8) | std::min(s, 30u));
      } else {
        c.meta = (65 << 8) | 30;
      }
      c.type = my::kTypeNewDecimal;
      return;
    }
    case PgFamily::kFloat4: c.type = my::kTypeFloat; c.meta = 4; return;
    case PgFamily::kFloat8: c.type = my::kTypeDouble; c.meta = 8; return;
    case PgFamily::kBytea: c.type = my::kTypeBlob; c.meta = 4; c.charset = Charset::kBinary; c.collation = 63; return;
    case PgFamily::kDate: c.type = my::kTypeDate; return;
    // time/timestamp typmod is the fractional digits (-1: 6).
    case PgFamily::kTime: c.type = my::kTypeTime2; c.meta = typmod >= 0 ? typmod : 6; return;
    case PgFamily::kTimestamp: c.type = my::kTypeDateTime2; c.meta = typmod >= 0 ? typmod : 6; return;
    case PgFamily::kTimestamptz: c.type = my::kTypeTimestamp2; c.meta = typmod >= 0 ? typmod : 6; return;
    case PgFamily::kJson:
    case PgFamily::kArray: c.type = my::kTypeJson; c.meta = 4; c.is_json = true; return;
    case PgFamily::kEnum: c.type = my::kTypeBlob; c.meta = 4; return;  // labels are open-ended: text
    case PgFamily::kText: c.type = my::kTypeBlob; c.meta = 4; return;
  }
}

Result<Value> DecodePgText(const PgColumnType& type, std::string_view text, Arena& arena) {
  switch (type.family) {
    case PgFamily::kBool:
      if (text == "t") return Value::Str(ValueKind::kJson, "true");
      if (text == "f") return Value::Str(ValueKind::kJson, "false");
      return Status::Corruption("boolean \"{}\" is neither t nor f", text);
    case PgFamily::kInt: {
      if (type.base_oid == 26) {
        uint64_t u;
        if (!ParseInt(text, u)) return Status::Corruption("oid \"{}\" is not a number", text);
        return Value::UInt(u);
      }
      int64_t i;
      if (!ParseInt(text, i)) return Status::Corruption("integer \"{}\" is not a number", text);
      return Value::Int(i);
    }
    case PgFamily::kNumeric: return Value::Str(ValueKind::kDecimal, text);
    case PgFamily::kFloat4:
    case PgFamily::kFloat8: {
      if (IsSpecialFloat(text)) return Value::Str(ValueKind::kText, text);
      std::string z(text);  // strtod needs a terminator
      char* end = nullptr;
      double d = std::strtod(z.c_str(), &end);
      if (z.empty() || end != z.c_str() + z.size()) return Status::Corruption("float \"{}\" is not a number", text);
      return type.family == PgFamily::kFloat4 ? Value::Float(static_cast<float>(d)) : Value::Double(d);
    }
    case PgFamily::kBytea: {
      ASSIGN_OR_RETURN(std::string_view bytes, DecodeByteaHex(text, arena));
      return Value::Str(ValueKind::kBytes, bytes);
    }
    case PgFamily::kDate: return Value::Str(ValueKind::kDate, text);
    case PgFamily::kTime: return Value::Str(ValueKind::kTime, text);
    case PgFamily::kTimestamp: return Value::Str(ValueKind::kDateTime, text);
    case PgFamily::kTimestamptz: {
      ASSIGN_OR_RETURN(std::string_view utc, StripUtcZone(text, arena));
      return Value::Str(ValueKind::kTimestamp, utc);
    }
    case PgFamily::kJson: return Value::Str(ValueKind::kJson, text);
    case PgFamily::kEnum: return Value::Str(ValueKind::kEnum, text);
    case PgFamily::kArray: {
      if (!type.element) return Status::Corruption("array type {} has no element type", type.name);
      std::string json;
      json.reserve(text.size() + 2);
      RETURN_IF_ERROR(AppendPgArrayAsJson(json, *type.element, text));
      return Value::Str(ValueKind::kJson, arena.Copy(json));
    }
    case PgFamily::kText: return Value::Str(ValueKind::kText, text);
  }
  return Value::Str(ValueKind::kText, text);
}

Status AppendPgArrayAsJson(std::string& out, const PgColumnType& element, std::string_view text) {
  ArrayParser parser(text, element);
  return parser.Parse(out);
}

}  // namespace sluice::postgres
