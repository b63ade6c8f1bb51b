// DecodeColumn's dispatch, DescribeColumnType, and the numeric families.
// The dispatch is a table from binlog type code to family decoder, built at
// compile time: one indexed load and an indirect call per value.

#include "source/mysql/column/column_decoder.h"

#include <array>
#include <string>

#include "source/mysql/column/column_families.h"
#include "client/mysql/column_types.h"
#include "source/mysql/column/decimal.h"

namespace sluice::mysql {
namespace internal {

Status Truncated(ByteReader& r, const ColumnMeta& col, size_t need) {
  const size_t left = r.remaining();
  r.Fail();
  return Status::Corruption("truncated {} value: needs {} bytes, {} left", DescribeColumnType(col), need, left);
}

Status BadValue(ByteReader& r, const ColumnMeta& col, std::string_view why) {
  r.Fail();
  return Status::Corruption("invalid {} value: {}", DescribeColumnType(col), why);
}

Status ReadPrefixed(ByteReader& r, const ColumnMeta& col, size_t prefix_bytes, std::string_view& bytes) {
  if (prefix_bytes < 1 || prefix_bytes > 4) {
    r.Fail();
    return Status::Corruption("invalid length-prefix size {} in TABLE_MAP metadata of a {} column", prefix_bytes,
                              DescribeColumnType(col));
  }
  if (r.remaining() < prefix_bytes) {
    return Truncated(r, col, prefix_bytes);
  }
  const uint64_t n = r.UInt(prefix_bytes);
  if (r.remaining() < n) {
    return Truncated(r, col, static_cast<size_t>(n));
  }
  bytes = r.Bytes(static_cast<size_t>(n));
  return Status::Ok();
}

// TINY 1, SHORT 2, INT24 3, LONG 4, LONGLONG 8 bytes, little-endian two's
// complement; col.is_unsigned reads the same bytes as unsigned.
//   SMALLINT -2 -> FE FF      MEDIUMINT -1 -> FF FF FF    INT UNSIGNED 4294967295 -> FF FF FF FF
Status DecodeInteger(ByteReader& r, const ColumnMeta& col, Arena&, Value& out) {
  size_t width;
  switch (col.type) {
    case kTypeTiny:
      width = 1;
      break;
    case kTypeShort:
      width = 2;
      break;
    case kTypeInt24:
      width = 3;
      break;
    case kTypeLong:
      width = 4;
      break;
    default:
      width = 8;
      break;
  }
  if (r.remaining() < width) {
    return Truncated(r, col, width);
  }
  const uint64_t v = r.UInt(width);
  if (col.is_unsigned) {
    out = Value::UInt(v);
  } else {
    const unsigned shift = static_cast<unsigned>(64 - 8 * width);  // sign-extend from the top bit read
    out = Value::Int(static_cast<int64_t>(v << shift) >> shift);
  }
  return Status::Ok();
}

// FLOAT: 4 bytes, DOUBLE: 8 bytes, IEEE 754 little-endian.
//   FLOAT 1.5 -> 00 00 C0 3F
Status DecodeFloatingPoint(ByteReader& r, const ColumnMeta& col, Arena&, Value& out) {
  if (col.type == kTypeFloat) {
    if (r.remaining() < 4) {
      return Truncated(r, col, 4);
    }
    out = Value::Float(r.F32());
  } else {
    if (r.remaining() < 8) {
      return Truncated(r, col, 8);
    }
    out = Value::Double(r.F64());
  }
  return Status::Ok();
}

// NEWDECIMAL (meta = precision << 8 | scale): MySQL's binary decimal, see
// decimal.h.   DECIMAL(5,2) -1.50 -> 7F FE CD
Status DecodeNewDecimal(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  std::string_view text;
  RETURN_IF_ERROR(DecodeDecimalValue(r, col.meta >> 8, col.meta & 0xff, arena, text));
  out = Value::Str(ValueKind::kDecimal, text);
  return Status::Ok();
}

// DECIMAL (type 0): the pre-5.0 unpacked decimal. Tables with it cannot be
// created since MySQL 5.0 and its binlog form carries no length, so there is
// nothing sound to decode.
Status DecodeLegacyDecimal(ByteReader& r, const ColumnMeta&, Arena&, Value&) {
  r.Fail();
  return Status::Error(StatusCode::kNotSupported,
                       "legacy DECIMAL (type 0, pre-MySQL-5.0) columns are not supported; "
                       "ALTER the column to DECIMAL to convert it");
}

// NULL (type 6): no bytes.
Status DecodeNullType(ByteReader&, const ColumnMeta&, Arena&, Value& out) {
  out = Value::Null();
  return Status::Ok();
}

// YEAR: 1 byte, 0 for the zero year, else year - 1900.   2024 -> 7C
Status DecodeYear(ByteReader& r, const ColumnMeta& col, Arena&, Value& out) {
  if (r.remaining() < 1) {
    return Truncated(r, col, 1);
  }
  const uint8_t v = r.U8();
  out = Value::Year(v == 0 ? 0 : 1900 + v);
  return Status::Ok();
}

// BIT(n) (meta = bytes << 8 | bits, n = 8 * bytes + bits): bytes + (bits ? 1 : 0)
// bytes, big-endian.   BIT(10) 0x2A5 -> 02 A5
Status DecodeBit(ByteReader& r, const ColumnMeta& col, Arena&, Value& out) {
  const size_t full = col.meta >> 8;
  const size_t bits = col.meta & 0xff;
  const size_t n = full + (bits ? 1 : 0);
  if (n > 8 || bits > 7) {
    r.Fail();
    return Status::Corruption("invalid BIT metadata: {} bytes and {} bits", full, bits);
  }
  if (r.remaining() < n) {
    return Truncated(r, col, n);
  }
  out = Value::Bit(n ? r.UIntBE(n) : 0);
  return Status::Ok();
}

}  // namespace internal

namespace {

using internal::FamilyDecoder;

constexpr std::array<FamilyDecoder, 256> MakeDispatch() {
  std::array<FamilyDecoder, 256> t{};
  t[kTypeDecimal] = internal::DecodeLegacyDecimal;
  t[kTypeTiny] = t[kTypeShort] = t[kTypeInt24] = t[kTypeLong] = t[kTypeLongLong] = internal::DecodeInteger;
  t[kTypeFloat] = t[kTypeDouble] = internal::DecodeFloatingPoint;
  t[kTypeNull] = internal::DecodeNullType;
  t[kTypeTimestamp] = internal::DecodeLegacyTimestamp;
  t[kTypeDate] = t[kTypeNewDate] = internal::DecodeDate;
  t[kTypeTime] = internal::DecodeLegacyTime;
  t[kTypeDateTime] = internal::DecodeLegacyDateTime;
  t[kTypeYear] = internal::DecodeYear;
  t[kTypeVarchar] = t[kTypeVarString] = internal::DecodeVarString;
  t[kTypeBit] = internal::DecodeBit;
  t[kTypeTimestamp2] = internal::DecodeTimestamp2;
  t[kTypeDateTime2] = internal::DecodeDateTime2;
  t[kTypeTime2] = internal::DecodeTime2;
  t[kTypeJson] = internal::DecodeJson;
  t[kTypeNewDecimal] = internal::DecodeNewDecimal;
  t[kTypeEnum] = t[kTypeSet] = internal::DecodeEnumOrSet;
  t[kTypeTinyBlob] = t[kTypeMediumBlob] = t[kTypeLongBlob] = t[kTypeBlob] = internal::DecodeBlob;
  t[kTypeString] = internal::DecodeFixedString;
  t[kTypeGeometry] = internal::DecodeGeometry;
  t[internal::kTypeMariadbBlobCompressed] = internal::DecodeCompressedBlob;
  t[internal::kTypeMariadbVarcharCompressed] = internal::DecodeCompressedVarString;
  return t;
}

constexpr std::array<FamilyDecoder, 256> kDispatch = MakeDispatch();

std::string WithLength(const char* name, uint32_t n) { return fmt::format("{}({})", name, n); }

std::string DescribeInteger(const ColumnMeta& col) {
  const char* name = "BIGINT";
  switch (col.type) {
    case kTypeTiny:
      name = "TINYINT";
      break;
    case kTypeShort:
      name = "SMALLINT";
      break;
    case kTypeInt24:
      name = "MEDIUMINT";
      break;
    case kTypeLong:
      name = "INT";
      break;
    default:
      break;
  }
  return col.is_unsigned ? fmt::format("{} UNSIGNED", name) : std::string(name);
}

std::string DescribeBlob(const ColumnMeta& col) {
  if (col.is_json) {
    return "JSON";
  }
  static constexpr const char* kBlobs[] = {"BLOB", "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB"};
  static constexpr const char* kTexts[] = {"TEXT", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT"};
  const size_t i = col.meta <= 4 ? col.meta : 0;
  return col.charset == Charset::kBinary ? kBlobs[i] : kTexts[i];
}

std::string DescribeFsp(const char* name, const ColumnMeta& col) {
  return col.meta ? WithLength(name, col.meta) : std::string(name);
}

}  // namespace

Status DecodeColumn(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  const FamilyDecoder decode = kDispatch[col.type];
  if (decode == nullptr) {
    r.Fail();
    if (col.type == kTypeTypedArray || col.type == kTypeVector) {
      return Status::Error(StatusCode::kNotSupported, "column type {} ({}) is not supported", col.type,
                           DescribeColumnType(col));
    }
    return Status::Error(StatusCode::kNotSupported, "unknown column type code {}", col.type);
  }
  return decode(r, col, arena, out);
}

std::string DescribeColumnType(const ColumnMeta& col) {
  const bool binary = col.charset == Charset::kBinary;
  switch (col.type) {
    case kTypeDecimal:
      return "DECIMAL (legacy)";
    case kTypeTiny:
    case kTypeShort:
    case kTypeInt24:
    case kTypeLong:
    case kTypeLongLong:
      return DescribeInteger(col);
    case kTypeFloat:
      return "FLOAT";
    case kTypeDouble:
      return "DOUBLE";
    case kTypeNull:
      return "NULL";
    case kTypeTimestamp:
      return "TIMESTAMP";
    case kTypeDate:
    case kTypeNewDate:
      return "DATE";
    case kTypeTime:
      return "TIME";
    case kTypeDateTime:
      return "DATETIME";
    case kTypeYear:
      return "YEAR";
    case kTypeVarchar:
    case kTypeVarString:
      return WithLength(binary ? "VARBINARY" : "VARCHAR", col.meta);
    case kTypeBit:
      return WithLength("BIT", (col.meta >> 8) * 8 + (col.meta & 0xff));
    case kTypeTimestamp2:
      return DescribeFsp("TIMESTAMP", col);
    case kTypeDateTime2:
      return DescribeFsp("DATETIME", col);
    case kTypeTime2:
      return DescribeFsp("TIME", col);
    case kTypeTypedArray:
      return "TYPED_ARRAY";
    case kTypeVector:
      return "VECTOR";
    case kTypeJson:
      return "JSON";
    case kTypeNewDecimal:
      return fmt::format("DECIMAL({},{})", col.meta >> 8, col.meta & 0xff);
    case kTypeEnum:
      return "ENUM";
    case kTypeSet:
      return "SET";
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeBlob:
      return DescribeBlob(col);
    case kTypeString: {
      const StringMeta sm = DecodeStringMeta(col.meta);
      if (sm.real_type == kTypeEnum) {
        return "ENUM";
      }
      if (sm.real_type == kTypeSet) {
        return "SET";
      }
      return WithLength(binary ? "BINARY" : "CHAR", sm.length);
    }
    case kTypeGeometry:
      return "GEOMETRY";
    case internal::kTypeMariadbBlobCompressed:
      return DescribeBlob(col) + " COMPRESSED";
    case internal::kTypeMariadbVarcharCompressed:
      return WithLength(binary ? "VARBINARY" : "VARCHAR", col.meta ? col.meta - 1u : 0u) + " COMPRESSED";
    default:
      return fmt::format("type {}", col.type);
  }
}

}  // namespace sluice::mysql
