#pragma once
// MySQL/MariaDB binlog column type codes (enum_field_types) as they appear in
// TABLE_MAP events, and how each type's metadata is packed into
// ColumnMeta::meta by the TABLE_MAP parser:
//
//   type                         metadata bytes  ColumnMeta::meta
//   FLOAT, DOUBLE                1               pack length (4 or 8)
//   BLOB, GEOMETRY, JSON         1               length-prefix size (1..4)
//   TIMESTAMP2, DATETIME2, TIME2 1               fractional-second digits (0..6)
//   VARCHAR, VAR_STRING          2 (LE)          max length in bytes
//   MariaDB VARCHAR COMPRESSED   2 (LE)          max length in bytes
//   MariaDB BLOB COMPRESSED      1               length-prefix size
//   BIT                          2               (bytes << 8) | bits  (wire: bits, bytes)
//   NEWDECIMAL                   2               (precision << 8) | scale (wire: precision, scale)
//   STRING, ENUM, SET            2               (b0 << 8) | b1 (wire: b0, b1); see DecodeStringMeta
//   everything else              0               0

#include <cstdint>

namespace sluice::mysql {

enum ColumnType : uint8_t {
  kTypeDecimal = 0,
  kTypeTiny = 1,
  kTypeShort = 2,
  kTypeLong = 3,
  kTypeFloat = 4,
  kTypeDouble = 5,
  kTypeNull = 6,
  kTypeTimestamp = 7,
  kTypeLongLong = 8,
  kTypeInt24 = 9,
  kTypeDate = 10,
  kTypeTime = 11,
  kTypeDateTime = 12,
  kTypeYear = 13,
  kTypeNewDate = 14,
  kTypeVarchar = 15,
  kTypeBit = 16,
  kTypeTimestamp2 = 17,
  kTypeDateTime2 = 18,
  kTypeTime2 = 19,
  kTypeTypedArray = 20,
  kTypeBlobCompressed = 140,  // MariaDB COMPRESSED columns
  kTypeVarcharCompressed = 141,
  kTypeVector = 242,  // MySQL 9
  kTypeJson = 245,
  kTypeNewDecimal = 246,
  kTypeEnum = 247,
  kTypeSet = 248,
  kTypeTinyBlob = 249,
  kTypeMediumBlob = 250,
  kTypeLongBlob = 251,
  kTypeBlob = 252,
  kTypeVarString = 253,
  kTypeString = 254,
  kTypeGeometry = 255,
};

// For MYSQL_TYPE_STRING the two metadata bytes hide the real type (STRING,
// ENUM or SET) and a length up to 1023 (MySQL's Field_string::do_save_field_metadata):
//   if ((b0 & 0x30) != 0x30): length = b1 | (((b0 & 0x30) ^ 0x30) << 4); real = b0 | 0x30
//   else:                     length = b1;                                real = b0
struct StringMeta {
  uint8_t real_type;
  uint32_t length;  // max bytes (STRING) or pack length (ENUM: 1|2, SET: 1..8)
};

inline StringMeta DecodeStringMeta(uint16_t meta) {
  uint8_t b0 = static_cast<uint8_t>(meta >> 8);
  uint8_t b1 = static_cast<uint8_t>(meta & 0xff);
  if (b0 != 0 && (b0 & 0x30) != 0x30) {
    return StringMeta{static_cast<uint8_t>(b0 | 0x30), static_cast<uint32_t>(b1 | (((b0 & 0x30) ^ 0x30) << 4))};
  }
  return StringMeta{b0, b1};
}

}  // namespace sluice::mysql
