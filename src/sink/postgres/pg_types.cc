#include "sink/postgres/pg_types.h"

#include <fmt/format.h>

#include "client/mysql/column_types.h"
#include "client/postgres/connection.h"

namespace sluice::sink::postgres {
namespace {

namespace my = sluice::mysql;

uint32_t BitWidth(const ColumnMeta& c) { return ((c.meta >> 8) & 0xff) * 8u + (c.meta & 0xff); }

bool IsBinary(const ColumnMeta& c) { return c.charset == Charset::kBinary; }

bool IsBitColumn(const ColumnMeta& c) { return c.type == my::kTypeBit; }

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

Status CheckDate(std::string_view s, ValueKind kind) {
  if (IsValidDate(s)) return Status::Ok();
  return Status::Error(StatusCode::kNotSupported, "{} value '{}' has no PostgreSQL equivalent (zero or invalid date)",
                       kind == ValueKind::kDate ? "DATE" : kind == ValueKind::kDateTime ? "DATETIME" : "TIMESTAMP",
                       s);
}

}  // namespace

bool IsValidDate(std::string_view s) {
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return false;
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  int y = num(0, 4), m = num(5, 2), d = num(8, 2);
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int max = kDays[m - 1];
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) max = 29;
  return d <= max;
}

// A column of a PostgreSQL source keeps its type (domains as their base
// type, enums as text: the target has neither); arrays arrive as JSON
// arrays, so they become jsonb.
static std::string PgTypeOfPgColumn(const ColumnMeta& c) {
  const int32_t mod = c.pg_typmod;
  auto with = [&](const char* name, int32_t n) { return n >= 0 ? fmt::format("{}({})", name, n) : std::string(name); };
  switch (c.pg_type_oid) {
    case 16: return "boolean";
    case 20: case 26: return "bigint";
    case 21: return "smallint";
    case 23: return "integer";
    case 700: return "real";
    case 701: return "double precision";
    case 1700: return mod >= 4 ? fmt::format("numeric({},{})", (mod - 4) >> 16, (mod - 4) & 0xffff) : "numeric";
    case 17: return "bytea";
    case 1082: return "date";
    case 1083: return with("time", mod);
    case 1266: return with("timetz", mod);
    case 1114: return with("timestamp", mod);
    case 1184: return with("timestamptz", mod);
    case 1186: return "interval";
    case 114: return "json";
    case 3802: return "jsonb";
    case 1043: return with("varchar", mod >= 4 ? mod - 4 : -1);
    case 1042: return with("char", mod >= 4 ? mod - 4 : -1);
    case 2950: return "uuid";
    case 869: return "inet";
    case 650: return "cidr";
    case 829: return "macaddr";
    case 790: return "money";
    case 142: return "xml";
    case 1560: return with("bit", mod);
    case 1562: return with("bit varying", mod);
    default: return c.is_json ? "jsonb" : "text";
  }
}

Result<std::string> PgType(const ColumnMeta& c) {
  if (c.pg_type_oid != 0) return PgTypeOfPgColumn(c);
  switch (c.type) {
    case my::kTypeTiny: return std::string("smallint");
    case my::kTypeShort: return std::string(c.is_unsigned ? "integer" : "smallint");
    case my::kTypeInt24: return std::string("integer");
    case my::kTypeLong: return std::string(c.is_unsigned ? "bigint" : "integer");
    case my::kTypeLongLong: return std::string(c.is_unsigned ? "numeric(20,0)" : "bigint");
    case my::kTypeYear: return std::string("smallint");
    case my::kTypeFloat: return std::string("real");
    case my::kTypeDouble: return std::string("double precision");
    case my::kTypeNewDecimal:
    case my::kTypeDecimal: return fmt::format("numeric({},{})", c.meta >> 8, c.meta & 0xff);
    case my::kTypeDate:
    case my::kTypeNewDate: return std::string("date");
    case my::kTypeDateTime: return std::string("timestamp(0) without time zone");
    case my::kTypeDateTime2: return fmt::format("timestamp({}) without time zone", c.meta);
    case my::kTypeTimestamp: return std::string("timestamp(0) with time zone");
    case my::kTypeTimestamp2: return fmt::format("timestamp({}) with time zone", c.meta);
    case my::kTypeTime:
    case my::kTypeTime2: return std::string("interval");
    case my::kTypeBit: return fmt::format("bit varying({})", std::max(1u, BitWidth(c)));
    case my::kTypeEnum:
    case my::kTypeSet: return std::string("text");
    case my::kTypeJson: return std::string("jsonb");
    case my::kTypeGeometry: return std::string("bytea");
    case my::kTypeVarchar:
    case my::kTypeVarString:
    case my::kTypeVarcharCompressed:
      if (c.plugin_type == PluginType::kUuid) return std::string("uuid");  // as a snapshot reads the column
      if (c.plugin_type != PluginType::kNone) return std::string("inet");
      return std::string(IsBinary(c) ? "bytea" : "text");
    case my::kTypeString: {
      if (c.plugin_type == PluginType::kUuid) return std::string("uuid");
      if (c.plugin_type != PluginType::kNone) return std::string("inet");
      uint8_t real = c.real_type ? c.real_type : my::DecodeStringMeta(c.meta).real_type;
      if (real == my::kTypeEnum || real == my::kTypeSet) return std::string("text");
      return std::string(IsBinary(c) ? "bytea" : "text");
    }
    case my::kTypeTinyBlob:
    case my::kTypeMediumBlob:
    case my::kTypeLongBlob:
    case my::kTypeBlob:
    case my::kTypeBlobCompressed:
      if (c.is_json) return std::string("jsonb");
      return std::string(IsBinary(c) ? "bytea" : "text");
    default:
      return Status::Error(StatusCode::kNotSupported, "column `{}`: MySQL type code {} has no PostgreSQL mapping",
                           c.name, c.type);
  }
}

Status AppendPgText(std::string& out, const Value& v, const ColumnMeta& c) {
  switch (v.kind) {
    case ValueKind::kNull:
      return Status::Error(StatusCode::kInvalidArgument, "NULL has no text");
    case ValueKind::kAbsent:
      return Status::Error(StatusCode::kNotSupported,
                           "column `{}` is not in the row image (binlog_row_image=MINIMAL): a partial row cannot be "
                           "applied",
                           c.name);
    case ValueKind::kInt:
    case ValueKind::kYear:
      fmt::format_to(std::back_inserter(out), "{}", v.i);
      return Status::Ok();
    case ValueKind::kUInt:
      fmt::format_to(std::back_inserter(out), "{}", v.u);
      return Status::Ok();
    case ValueKind::kBit: {
      if (!IsBitColumn(c)) {
        fmt::format_to(std::back_inserter(out), "{}", v.u);
        return Status::Ok();
      }
      // Exactly the column's width, leading zeros included.
      uint32_t n = std::max(1u, BitWidth(c));
      for (uint32_t i = n; i-- > 0;) out += (i < 64 && ((v.u >> i) & 1)) ? '1' : '0';
      return Status::Ok();
    }
    case ValueKind::kFloat:
      // Shortest text that reads back as the same float.
      fmt::format_to(std::back_inserter(out), "{}", static_cast<float>(v.d));
      return Status::Ok();
    case ValueKind::kDouble:
      fmt::format_to(std::back_inserter(out), "{}", v.d);
      return Status::Ok();
    case ValueKind::kDecimal:
      out += v.s;
      return Status::Ok();
    case ValueKind::kText:
    case ValueKind::kEnum:
    case ValueKind::kSet:
    case ValueKind::kJson:
      if (HasNul(v.s)) {
        return Status::Error(StatusCode::kNotSupported,
                             "text value of column `{}` holds a NUL byte, which PostgreSQL text cannot store", c.name);
      }
      out += v.s;
      return Status::Ok();
    case ValueKind::kBytes:
    case ValueKind::kGeometry: {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      for (unsigned char b : v.s) {
        out += kHex[b >> 4];
        out += kHex[b & 15];
      }
      return Status::Ok();
    }
    case ValueKind::kDate:
    case ValueKind::kDateTime:
      RETURN_IF_ERROR(CheckDate(v.s, v.kind));
      out += v.s;
      return Status::Ok();
    case ValueKind::kTimestamp:
      RETURN_IF_ERROR(CheckDate(v.s, v.kind));
      out += v.s;
      out += "+00";
      return Status::Ok();
    case ValueKind::kTime:
      // "-838:59:59.000000": PostgreSQL's interval reads hours beyond 24
      // and a sign that covers the whole field.
      out += v.s;
      return Status::Ok();
  }
  return Status::Error(StatusCode::kNotSupported, "column `{}`: unknown value kind", c.name);
}

Status AppendPgLiteral(std::string& out, const Value& v, const ColumnMeta& c) {
  if (v.kind == ValueKind::kNull) {
    out += "NULL";
    return Status::Ok();
  }
  std::string text;
  RETURN_IF_ERROR(AppendPgText(text, v, c));
  sluice::postgres::AppendQuotedLiteral(out, text);
  return Status::Ok();
}

Status AppendCopyField(std::string& out, const Value& v, const ColumnMeta& c) {
  if (v.kind == ValueKind::kNull) {
    out += "\\N";
    return Status::Ok();
  }
  std::string text;
  RETURN_IF_ERROR(AppendPgText(text, v, c));
  for (char ch : text) {
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += ch;
    }
  }
  return Status::Ok();
}

}  // namespace sluice::sink::postgres
