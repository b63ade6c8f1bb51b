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
//   geometry                    GEOMETRY                            text_decoder.cc
//   temporals                   DATE TIME DATETIME TIMESTAMP (+2)   temporal.cc
//   json                        JSON (MySQL binary JSON)            json_binary.cc

#include <string_view>

#include "core/arena.h"
#include "core/byte_reader.h"
#include "core/status.h"
#include "core/table_schema.h"
#include "core/value.h"

namespace sluice::mysql::internal {

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
