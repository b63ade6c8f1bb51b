#include "sink/clickhouse/column_retype.h"

#include <gtest/gtest.h>

#include "client/mysql/column_types.h"

namespace sluice::sink::clickhouse {
namespace {

ColumnMeta Column(uint8_t type, uint8_t real_type = 0) {
  ColumnMeta c;
  c.name = "c";
  c.type = type;
  c.real_type = real_type;
  return c;
}

TEST(ExactConversionTest, WideningsAndNullabilityAreFollowed) {
  const ColumnMeta big = Column(sluice::mysql::kTypeLongLong);
  EXPECT_TRUE(ExactConversion("Int32", "Int64", big));
  EXPECT_TRUE(ExactConversion("Int8", "Nullable(Int16)", big));
  EXPECT_TRUE(ExactConversion("UInt32", "Int64", big));
  EXPECT_TRUE(ExactConversion("UInt16", "UInt32", big));
  EXPECT_TRUE(ExactConversion("Nullable(Int32)", "Int32", big));  // ClickHouse refuses NULLs itself
  EXPECT_TRUE(ExactConversion("Float32", "Float64", Column(sluice::mysql::kTypeDouble)));
  const ColumnMeta dec = Column(sluice::mysql::kTypeNewDecimal);
  EXPECT_TRUE(ExactConversion("Decimal(10, 2)", "Decimal(12, 3)", dec));
  EXPECT_TRUE(ExactConversion("Int32", "Decimal(12, 2)", dec));
  EXPECT_TRUE(ExactConversion("Int32", "String", Column(sluice::mysql::kTypeVarchar)));
  EXPECT_TRUE(ExactConversion("Decimal(10, 2)", "String", Column(sluice::mysql::kTypeBlob)));
  EXPECT_TRUE(ExactConversion("Int8", "String", Column(sluice::mysql::kTypeString, sluice::mysql::kTypeString)));
}

TEST(ExactConversionTest, WhatClickhouseConvertsOtherwiseIsNot) {
  const ColumnMeta big = Column(sluice::mysql::kTypeLongLong);
  EXPECT_FALSE(ExactConversion("Int64", "Int32", big));   // wraps where MySQL refuses or clamps
  EXPECT_FALSE(ExactConversion("Int32", "UInt32", big));  // negatives
  EXPECT_FALSE(ExactConversion("UInt32", "Int32", big));
  EXPECT_FALSE(ExactConversion("Float64", "Float32", Column(sluice::mysql::kTypeFloat)));
  const ColumnMeta dec = Column(sluice::mysql::kTypeNewDecimal);
  EXPECT_FALSE(ExactConversion("Decimal(12, 3)", "Decimal(12, 2)", dec));
  EXPECT_FALSE(ExactConversion("Decimal(10, 2)", "Decimal(10, 4)", dec));
  EXPECT_FALSE(ExactConversion("Int64", "Decimal(12, 2)", dec));
  EXPECT_FALSE(ExactConversion("String", "Int32", Column(sluice::mysql::kTypeLong)));
  EXPECT_FALSE(ExactConversion("Float32", "String", Column(sluice::mysql::kTypeVarchar)));
  EXPECT_FALSE(ExactConversion("DateTime('UTC')", "String", Column(sluice::mysql::kTypeVarchar)));
  // An integer becomes a member name in an ENUM, a duration in a TIME.
  ColumnMeta e = Column(sluice::mysql::kTypeString, sluice::mysql::kTypeEnum);
  e.enum_values = {"a", "b"};
  EXPECT_FALSE(ExactConversion("Int8", "String", e));
  EXPECT_FALSE(ExactConversion("Int32", "String", Column(sluice::mysql::kTypeTime2)));
  ColumnMeta json = Column(sluice::mysql::kTypeBlob);
  json.is_json = true;
  EXPECT_FALSE(ExactConversion("Int32", "String", json));
}

}  // namespace
}  // namespace sluice::sink::clickhouse
