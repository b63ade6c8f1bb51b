#include "sink/clickhouse/type_map.h"

#include <gtest/gtest.h>

#include <cstring>

#include "client/mysql/column_types.h"

namespace sluice::sink::clickhouse {
namespace {

ColumnMeta Col(uint8_t type, uint16_t meta = 0, bool nullable = false, bool is_unsigned = false) {
  ColumnMeta c;
  c.name = "c";
  c.type = type;
  c.meta = meta;
  c.nullable = nullable;
  c.is_unsigned = is_unsigned;
  return c;
}

std::string TypeOf(const ColumnMeta& c, bool in_key = false) {
  auto t = ClickhouseColumnType(c, in_key);
  return t.ok() ? *t : "error: " + t.status().message();
}

std::string ExprOf(const ColumnMeta& c, const Value& v) {
  auto e = ValueExpression(c, v);
  return e.ok() ? *e : "error: " + e.status().message();
}

// A column default: the value exactly as RowBinary would write it, in the
// column's type (without Nullable), or the error a row would get.
TEST(ClickhouseTypeMap, ValueExpressionsForColumnDefaults) {
  using namespace sluice::mysql;
  EXPECT_EQ(ExprOf(Col(kTypeLong, 0, true), Value::Int(-5)), "CAST('-5' AS Int32)");
  EXPECT_EQ(ExprOf(Col(kTypeTiny), Value::Str(ValueKind::kJson, "true")), "CAST('1' AS Int8)");  // a boolean
  EXPECT_EQ(ExprOf(Col(kTypeLongLong, 0, false, true), Value::UInt(18446744073709551615ull)),
            "CAST('18446744073709551615' AS UInt64)");
  EXPECT_EQ(ExprOf(Col(kTypeNewDecimal, (6 << 8) | 2), Value::Str(ValueKind::kDecimal, "1.50")),
            "CAST('1.50' AS Decimal(6, 2))");
  EXPECT_EQ(ExprOf(Col(kTypeVarchar, 40), Value::Str(ValueKind::kText, "it's")), "CAST('it\\'s' AS String)");
  EXPECT_EQ(ExprOf(Col(kTypeDate), Value::Str(ValueKind::kDate, "2024-02-29")), "CAST(toUInt16(19782) AS Date)");
  EXPECT_EQ(ExprOf(Col(kTypeDateTime2, 0), Value::Str(ValueKind::kDateTime, "1970-01-02 00:00:00")),
            "CAST(toUInt32(86400) AS DateTime('UTC'))");
  EXPECT_NE(ExprOf(Col(kTypeDate), Value::Str(ValueKind::kDate, "1955-03-14")).find("error: "), std::string::npos);
}

TEST(ClickhouseTypeMap, MapsMysqlTypes) {
  using namespace sluice::mysql;
  EXPECT_EQ(TypeOf(Col(kTypeTiny)), "Int8");
  EXPECT_EQ(TypeOf(Col(kTypeTiny, 0, false, true)), "UInt8");
  EXPECT_EQ(TypeOf(Col(kTypeShort)), "Int16");
  EXPECT_EQ(TypeOf(Col(kTypeInt24, 0, false, true)), "UInt32");
  EXPECT_EQ(TypeOf(Col(kTypeLong)), "Int32");
  EXPECT_EQ(TypeOf(Col(kTypeLongLong, 0, false, true)), "UInt64");
  EXPECT_EQ(TypeOf(Col(kTypeFloat, 4)), "Float32");
  EXPECT_EQ(TypeOf(Col(kTypeDouble, 8)), "Float64");
  EXPECT_EQ(TypeOf(Col(kTypeNewDecimal, (12 << 8) | 2)), "Decimal(12, 2)");
  EXPECT_EQ(TypeOf(Col(kTypeNewDecimal, (65 << 8) | 30)), "String");
  EXPECT_EQ(TypeOf(Col(kTypeDate)), "Date");
  EXPECT_EQ(TypeOf(Col(kTypeDateTime2, 0)), "DateTime('UTC')");
  EXPECT_EQ(TypeOf(Col(kTypeTimestamp2, 3)), "String");
  EXPECT_EQ(TypeOf(Col(kTypeTime2, 0)), "String");
  EXPECT_EQ(TypeOf(Col(kTypeYear)), "UInt16");
  EXPECT_EQ(TypeOf(Col(kTypeBit, (1 << 8) | 1)), "UInt64");
  EXPECT_EQ(TypeOf(Col(kTypeVarchar, 40)), "String");
  EXPECT_EQ(TypeOf(Col(kTypeBlob, 2)), "String");
  EXPECT_EQ(TypeOf(Col(kTypeJson, 4)), "String");
  EXPECT_EQ(TypeOf(Col(kTypeString, (kTypeEnum << 8) | 1)), "String");
  EXPECT_EQ(TypeOf(Col(kTypeLong, 0, true)), "Nullable(Int32)");
  EXPECT_EQ(TypeOf(Col(kTypeLong, 0, true), /*in_key=*/true), "Int32");
}

TEST(ClickhouseTypeMap, DatesInRangeOnly) {
  EXPECT_EQ(*ClickhouseDate("1970-01-02"), 1);
  EXPECT_EQ(*ClickhouseDate("2024-02-29"), 19782);
  EXPECT_EQ(*ClickhouseDate("2105-12-31"), 49672);
  EXPECT_EQ(*ClickhouseDate("0000-00-00"), 0);      // shown as 0000-00-00, as MySQL does
  EXPECT_FALSE(ClickhouseDate("1970-01-01").ok());  // day 0 would show as 0000-00-00
  EXPECT_FALSE(ClickhouseDate("1955-03-14").ok());
  EXPECT_FALSE(ClickhouseDate("2106-01-01").ok());
  EXPECT_FALSE(ClickhouseDate("2023-02-29").ok());
  EXPECT_FALSE(ClickhouseDate("2024-00-10").ok());
  EXPECT_EQ(*ClickhouseDateTime("1970-01-01 00:00:01"), 1u);
  EXPECT_EQ(*ClickhouseDateTime("2105-12-31 23:59:59"), 4291747199u);
  EXPECT_EQ(*ClickhouseDateTime("2024-01-31 12:34:56"), 1706704496u);
  EXPECT_EQ(*ClickhouseDateTime("0000-00-00 00:00:00"), 0u);
  EXPECT_FALSE(ClickhouseDateTime("1970-01-01 00:00:00").ok());
  EXPECT_FALSE(ClickhouseDateTime("1969-07-20 20:17:40").ok());
  EXPECT_FALSE(ClickhouseDateTime("2106-01-01 00:00:00").ok());
  EXPECT_FALSE(ClickhouseDateTime("2024-01-31 12:34:56.5").ok());
  auto err = ClickhouseDate("1955-03-14");
  EXPECT_NE(err.status().message().find("1970-01-02 .. 2105-12-31"), std::string::npos) << err.status().message();
}

TEST(ClickhouseTypeMap, DecimalsScaleExactly) {
  EXPECT_TRUE(*ScaledDecimal("-123.4500", 4) == -1234500);
  EXPECT_TRUE(*ScaledDecimal("7", 2) == 700);
  EXPECT_TRUE(*ScaledDecimal("0.5", 2) == 50);
  Int128 big = *ScaledDecimal("12345678901234567890123456789.012345678", 9);
  EXPECT_TRUE(big / 1000000000 == static_cast<Int128>(12345678901234567ull) * 1000000000000ull + 890123456789ull);
  EXPECT_FALSE(ScaledDecimal("1.234", 2).ok());
  EXPECT_FALSE(ScaledDecimal("1e5", 2).ok());
}

TEST(ClickhouseTypeMap, RowBinaryEncodings) {
  using namespace sluice::mysql;
  std::string out;
  auto enc = [](const ColumnMeta& c) { return *EncodingOf(c, false); };
  ASSERT_TRUE(AppendRowBinary(out, enc(Col(kTypeShort)), Value::Int(-2)).ok());
  EXPECT_EQ(out, std::string("\xfe\xff", 2));
  out.clear();
  ASSERT_TRUE(AppendRowBinary(out, enc(Col(kTypeLong, 0, true)), Value::Null()).ok());
  EXPECT_EQ(out, std::string("\x01", 1));
  out.clear();
  ASSERT_TRUE(
      AppendRowBinary(out, enc(Col(kTypeVarchar, 40, true)), Value::Str(ValueKind::kBytes, std::string_view("a\0b", 3)))
          .ok());
  EXPECT_EQ(out, std::string("\x00\x03"
                             "a\0b",
                             5));
  out.clear();
  ASSERT_TRUE(AppendRowBinary(out, enc(Col(kTypeDouble, 8)), Value::Double(5e-324)).ok());
  double d;
  std::memcpy(&d, out.data(), 8);
  EXPECT_EQ(d, 5e-324);
  out.clear();
  Status bad = AppendRowBinary(out, enc(Col(kTypeDate)), Value::Str(ValueKind::kDate, "1955-03-14"));
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(AppendRowBinary(out, enc(Col(kTypeLong)), Value::Absent()).ok());
}

}  // namespace
}  // namespace sluice::sink::clickhouse
