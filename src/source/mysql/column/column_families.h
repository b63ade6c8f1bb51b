#pragma once
// Internal to src/source/mysql/column: one decoder per type family, which
// DecodeColumn picks from a table indexed by the binlog type code. Each reads
// one non-NULL value at r, advances past it and fills out; on bad or short
// input it returns Corruption and leaves r failed. The byte format of each
// family is documented beside its definition.
//
//   family                      types                               file
//   integers, float, year, bit  TINY SHORT INT24 LONG LONGLONG ...  column_decoder.cc
//   NULL, legacy DECIMAL        NULL, DECIMAL                       column_decoder.cc
//   decimal                     NEWDECIMAL                          column_decoder.cc (+ decimal.cc)
//   strings, enum/set, blobs    VARCHAR STRING ENUM SET *BLOB       text_decoder.cc
//   MariaDB compressed columns  VARCHAR_COMPRESSED BLOB_COMPRESSED  text_decoder.cc
//   geometry                    GEOMETRY                            text_decoder.cc
//   temporals                   DATE TIME DATETIME TIMESTAMP (+2)   temporal.cc
//   json                        JSON (MySQL binary JSON)            json_binary.cc

#include <cstdint>
#include <string_view>

#include "core/arena.h"
#include "core/byte_reader.h"
#include "core/status.h"
#include "core/table_schema.h"
#include "core/value.h"

namespace sluice::mysql::internal {

// MariaDB-only type codes (10.3+ COMPRESSED columns), which column_types.h
// does not list: TABLE_MAP metadata as BLOB (1 byte, prefix size) and as
// VARCHAR (2 bytes, maximum length + 1 for the compression header).
inline constexpr uint8_t kTypeMariadbBlobCompressed = 140;
inline constexpr uint8_t kTypeMariadbVarcharCompressed = 141;

using FamilyDecoder = Status (*)(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);

Status DecodeInteger(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeFloatingPoint(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeNewDecimal(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeLegacyDecimal(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeNullType(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeYear(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeBit(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);

Status DecodeVarString(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeFixedString(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeEnumOrSet(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeBlob(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeGeometry(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeCompressedVarString(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeCompressedBlob(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);

Status DecodeDate(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeLegacyTime(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeLegacyDateTime(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeLegacyTimestamp(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeTime2(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeDateTime2(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);
Status DecodeTimestamp2(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);

Status DecodeJson(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);

// Shared helpers.

// Fails r and reports that `col` needs `need` bytes where fewer are left.
Status Truncated(ByteReader& r, const ColumnMeta& col, size_t need);
// Fails r and reports a value that does not follow its format.
Status BadValue(ByteReader& r, const ColumnMeta& col, std::string_view why);
// Reads a length prefix of prefix_bytes (1..4) and that many bytes.
Status ReadPrefixed(ByteReader& r, const ColumnMeta& col, size_t prefix_bytes, std::string_view& bytes);

}  // namespace sluice::mysql::internal
