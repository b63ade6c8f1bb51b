#pragma once
// MySQL column → ClickHouse 18.16 column, and a value → its RowBinary
// bytes. RowBinary, not text: 18.16 parses some floats inexactly from text
// (5e-324 becomes 0) and JSONEachRow rejects quoted decimals; binary is
// exact. Every value is written exactly or refused: ClickHouse silently
// alters what it cannot hold (a date before 1970 becomes 0000-00-00), so the
// checks are ours, and a refused value follows the pipeline's on_error.
//
//   MySQL                                   ClickHouse
//   TINYINT/SMALLINT/MEDIUMINT/INT/BIGINT    Int8/Int16/Int32/Int32/Int64 (UInt* when UNSIGNED)
//   FLOAT, DOUBLE                            Float32, Float64
//   DECIMAL(p,s), p <= 38                    Decimal(p,s)
//   DECIMAL(p,s), p > 38                     String (the exact decimal text)
//   DATE                                     Date: 1970-01-02 .. 2105-12-31, and 0000-00-00
//   DATETIME, TIMESTAMP (no fraction)        DateTime('UTC'): 1970-01-01 00:00:01 .. 2105-12-31 23:59:59,
//                                            and 0000-00-00 00:00:00 (TIMESTAMP in UTC, DATETIME as written)
//   DATETIME(n), TIMESTAMP(n), n > 0         String "YYYY-MM-DD hh:mm:ss.ffffff" (no DateTime64 in 18.16)
//   TIME                                     String "[-]hhh:mm:ss[.ffffff]"
//   YEAR                                     UInt16 (YEAR 0000 is 0)
//   BIT(n)                                   UInt64
//   CHAR/VARCHAR/TEXT, BINARY/VARBINARY/BLOB String (UTF-8 text; binary bytes exactly)
//   ENUM, SET                                String (member name; SET members comma-separated)
//   JSON                                     String (the JSON text)
//   GEOMETRY                                 String (WKB bytes)
//   nullable column (not in the key)         Nullable(T)
//
// 1970-01-01 is refused: ClickHouse stores it as day 0, which it shows as
// 0000-00-00 (MySQL's zero date, which therefore maps onto it exactly).

#include <string>
#include <string_view>

#include "core/status.h"
#include "core/table_schema.h"
#include "core/value.h"

namespace sluice::sink::clickhouse {

// ClickHouse's Decimal128 is a 128-bit integer; GCC and Clang have one.
__extension__ typedef __int128 Int128;

// The ClickHouse type of a MySQL column (without Nullable).
Result<std::string> ClickhouseType(const ColumnMeta& column);
// With Nullable(...) when the column is nullable and not part of the key.
Result<std::string> ClickhouseColumnType(const ColumnMeta& column, bool in_key);

// How a column's values are written in RowBinary (fixed per column).
struct ColumnEncoding {
  enum class Kind : uint8_t { kInt, kUInt, kFloat32, kFloat64, kDecimal, kString, kDate, kDateTime };
  Kind kind = Kind::kString;
  uint8_t bytes = 0;  // kInt/kUInt: 1, 2, 4, 8; kDecimal: 4, 8, 16
  uint8_t scale = 0;  // kDecimal
  bool nullable = false;
};
Result<ColumnEncoding> EncodingOf(const ColumnMeta& column, bool in_key);

// Appends `v` as RowBinary for `enc`; an error when ClickHouse cannot hold
// it exactly (a date out of range, a value missing from the row image).
Status AppendRowBinary(std::string& out, const ColumnEncoding& enc, const Value& v);

// A ClickHouse expression of `column`'s type (not Nullable) giving exactly
// the value AppendRowBinary writes for `v` (a column default); the same
// error when it cannot.
Result<std::string> ValueExpression(const ColumnMeta& column, const Value& v);

// "YYYY-MM-DD" as days since 1970-01-01 for ClickHouse's Date, and
// "YYYY-MM-DD hh:mm:ss[.000000]" as seconds for DateTime: refused (an error
// saying why) outside what ClickHouse stores and shows unaltered. The zero
// date (all zeros) is 0, which ClickHouse shows as MySQL does.
Result<uint16_t> ClickhouseDate(std::string_view date);
Result<uint32_t> ClickhouseDateTime(std::string_view datetime);
// "-123.4500" as the unscaled integer of Decimal(p, scale).
Result<Int128> ScaledDecimal(std::string_view text, uint8_t scale);

}  // namespace sluice::sink::clickhouse
