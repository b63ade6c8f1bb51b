#include "format/column_type.h"

#include <fmt/format.h>

#include "client/mysql/column_types.h"

namespace sluice::format {
namespace {

// Bytes per character of a text column's charset, to turn the byte length
// TABLE_MAP carries into the declared character length.
uint32_t MaxBytesPerChar(const ColumnMeta& col) {
  switch (col.charset) {
    case Charset::kUtf8: {
      // utf8mb3 collations (MySQL and MariaDB numbering); every other utf8 one is utf8mb4.
      const uint32_t c = col.collation;
      bool mb3 = c == 33 || c == 83 || (c >= 192 && c <= 215) || c == 223 || (c >= 576 && c <= 579) ||
                 (c >= 1057 && c <= 1100 && c % 8 == 1);
      return mb3 ? 3 : 4;
    }
    case Charset::kOther:
      return 1;  // unknown multi-byte width: report bytes
    default:
      return 1;
  }
}

std::string Quoted(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += '\'';
    for (char c : names[i]) {
      if (c == '\'') out += '\'';
      out += c;
    }
    out += '\'';
  }
  return out;
}

}  // namespace

ColumnType ColumnTypeOf(const ColumnMeta& col) {
  namespace m = sluice::mysql;
  ColumnType t;
  t.is_unsigned = col.is_unsigned;
  const bool binary = col.charset == Charset::kBinary;
  uint8_t type = col.type;
  if (type == m::kTypeString && col.real_type != 0) type = col.real_type;
  if (col.plugin_type != PluginType::kNone) {
    // MariaDB's UUID, INET4, INET6: their values are text (ColumnMeta), at most this long.
    t.family = TypeFamily::kVarchar;
    t.length = col.plugin_type == PluginType::kUuid ? 36 : col.plugin_type == PluginType::kInet4 ? 15 : 39;
    return t;
  }
  switch (type) {
    case m::kTypeTiny:
      t.family = TypeFamily::kTinyInt;
      break;
    case m::kTypeShort:
      t.family = TypeFamily::kSmallInt;
      break;
    case m::kTypeInt24:
      t.family = TypeFamily::kMediumInt;
      break;
    case m::kTypeLong:
      t.family = TypeFamily::kInt;
      break;
    case m::kTypeLongLong:
      t.family = TypeFamily::kBigInt;
      break;
    case m::kTypeFloat:
      t.family = TypeFamily::kFloat;
      break;
    case m::kTypeDouble:
      t.family = TypeFamily::kDouble;
      break;
    case m::kTypeDecimal:
    case m::kTypeNewDecimal:
      t.family = TypeFamily::kDecimal;
      t.precision = col.meta >> 8;
      t.scale = col.meta & 0xff;
      break;
    case m::kTypeDate:
    case m::kTypeNewDate:
      t.family = TypeFamily::kDate;
      break;
    case m::kTypeTime:
    case m::kTypeTime2:
      t.family = TypeFamily::kTime;
      t.fsp = type == m::kTypeTime2 ? col.meta : 0;
      break;
    case m::kTypeDateTime:
    case m::kTypeDateTime2:
      t.family = TypeFamily::kDateTime;
      t.fsp = type == m::kTypeDateTime2 ? col.meta : 0;
      break;
    case m::kTypeTimestamp:
    case m::kTypeTimestamp2:
      t.family = TypeFamily::kTimestamp;
      t.fsp = type == m::kTypeTimestamp2 ? col.meta : 0;
      break;
    case m::kTypeYear:
      t.family = TypeFamily::kYear;
      break;
    case m::kTypeBit:
      t.family = TypeFamily::kBit;
      t.length = (col.meta >> 8) * 8 + (col.meta & 0xff);
      break;
    case m::kTypeVarchar:
    case m::kTypeVarString:
    case m::kTypeVarcharCompressed:
      t.family = binary ? TypeFamily::kVarbinary : TypeFamily::kVarchar;
      t.length = binary ? col.meta : col.meta / MaxBytesPerChar(col);
      break;
    case m::kTypeString: {
      uint32_t bytes = m::DecodeStringMeta(col.meta).length;
      t.family = binary ? TypeFamily::kBinary : TypeFamily::kChar;
      t.length = binary ? bytes : bytes / MaxBytesPerChar(col);
      break;
    }
    case m::kTypeEnum:
      t.family = TypeFamily::kEnum;
      break;
    case m::kTypeSet:
      t.family = TypeFamily::kSet;
      break;
    case m::kTypeJson:
      t.family = TypeFamily::kJson;
      break;
    case m::kTypeGeometry:
      t.family = TypeFamily::kGeometry;
      break;
    case m::kTypeTinyBlob:
    case m::kTypeMediumBlob:
    case m::kTypeLongBlob:
    case m::kTypeBlob:
    case m::kTypeBlobCompressed: {
      static constexpr const char* kPrefix[] = {"", "tiny", "", "medium", "long"};
      t.blob_prefix = col.meta <= 4 ? kPrefix[col.meta] : "";
      t.family = col.is_json ? TypeFamily::kJson : binary ? TypeFamily::kBlob : TypeFamily::kText;
      break;
    }
    default:
      t.family = TypeFamily::kUnknown;
  }
  return t;
}

std::string MysqlTypeName(const ColumnMeta& col, const ColumnType& t) {
  const char* u = t.is_unsigned ? " unsigned" : "";
  auto fsp = [&](const char* name) { return t.fsp ? fmt::format("{}({})", name, t.fsp) : std::string(name); };
  switch (t.family) {
    case TypeFamily::kTinyInt:
      return fmt::format("tinyint{}", u);
    case TypeFamily::kSmallInt:
      return fmt::format("smallint{}", u);
    case TypeFamily::kMediumInt:
      return fmt::format("mediumint{}", u);
    case TypeFamily::kInt:
      return fmt::format("int{}", u);
    case TypeFamily::kBigInt:
      return fmt::format("bigint{}", u);
    case TypeFamily::kFloat:
      return fmt::format("float{}", u);
    case TypeFamily::kDouble:
      return fmt::format("double{}", u);
    case TypeFamily::kDecimal:
      return fmt::format("decimal({},{}){}", t.precision, t.scale, u);
    case TypeFamily::kDate:
      return "date";
    case TypeFamily::kTime:
      return fsp("time");
    case TypeFamily::kDateTime:
      return fsp("datetime");
    case TypeFamily::kTimestamp:
      return fsp("timestamp");
    case TypeFamily::kYear:
      return "year";
    case TypeFamily::kBit:
      return fmt::format("bit({})", t.length);
    case TypeFamily::kChar:
      return fmt::format("char({})", t.length);
    case TypeFamily::kVarchar:
      return fmt::format("varchar({})", t.length);
    case TypeFamily::kText:
      return t.blob_prefix + "text";
    case TypeFamily::kBinary:
      return fmt::format("binary({})", t.length);
    case TypeFamily::kVarbinary:
      return fmt::format("varbinary({})", t.length);
    case TypeFamily::kBlob:
      return t.blob_prefix + "blob";
    case TypeFamily::kEnum:
      return fmt::format("enum({})", Quoted(col.enum_values));
    case TypeFamily::kSet:
      return fmt::format("set({})", Quoted(col.enum_values));
    case TypeFamily::kJson:
      return "json";
    case TypeFamily::kGeometry:
      return "geometry";
    case TypeFamily::kUnknown:
      break;
  }
  return "unknown";
}

}  // namespace sluice::format
