#pragma once
// What the formats need to know about a source column's type, derived once
// from its binlog ColumnMeta: the SQL type family (the binlog type code folds
// TEXT into BLOB and ENUM/SET into STRING), precision, scale, length and the
// type name as MySQL prints it (Canal's mysqlType).

#include <cstdint>
#include <string>

#include "core/table_schema.h"

namespace sluice::format {

enum class TypeFamily : uint8_t {
  kTinyInt, kSmallInt, kMediumInt, kInt, kBigInt,
  kFloat, kDouble, kDecimal,
  kDate, kTime, kDateTime, kTimestamp, kYear,
  kBit,
  kChar, kVarchar, kText,        // character data
  kBinary, kVarbinary, kBlob,    // byte data
  kEnum, kSet, kJson, kGeometry,
  kUnknown,
};

struct ColumnType {
  TypeFamily family = TypeFamily::kUnknown;
  bool is_unsigned = false;
  uint32_t precision = 0;  // DECIMAL
  uint32_t scale = 0;      // DECIMAL
  uint32_t length = 0;     // BIT bits; CHAR/VARCHAR characters; BINARY/VARBINARY bytes
  uint32_t fsp = 0;        // TIME/DATETIME/TIMESTAMP fractional digits
  std::string blob_prefix;  // "tiny", "", "medium", "long" for TEXT/BLOB
};

ColumnType ColumnTypeOf(const ColumnMeta& col);
// "int unsigned", "decimal(10,2)", "varchar(255)", "enum('a','b')": the
// column type as MySQL's information_schema prints it (lowercase).
std::string MysqlTypeName(const ColumnMeta& col, const ColumnType& t);

}  // namespace sluice::format
