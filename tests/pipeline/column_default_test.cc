// column_default.h: the value existing rows hold for a column an ALTER added.

#include "pipeline/column_default.h"

#include <gtest/gtest.h>

namespace sluice::pipeline {
namespace {

ColumnDefaultInfo Col(std::optional<std::string> def, bool nullable, std::string type, std::string column_type = "") {
  ColumnDefaultInfo c;
  c.column_default = std::move(def);
  c.nullable = nullable;
  c.data_type = std::move(type);
  c.column_type = std::move(column_type);
  return c;
}

TEST(ColumnDefaultTest, MariadbLiteralsAreQuotedExpressionsAreNot) {
  EXPECT_EQ(ValueOfExistingRows(Col("7", false, "int")).value, "7");
  EXPECT_EQ(ValueOfExistingRows(Col("-1.50", true, "decimal")).value, "-1.50");
  EXPECT_EQ(ValueOfExistingRows(Col("'it''s'", true, "varchar")).value, "it's");
  EXPECT_EQ(ValueOfExistingRows(Col("''", false, "varchar")).value, "");
  EXPECT_EQ(ValueOfExistingRows(Col("'2024-02-29 12:00:00'", true, "datetime")).value, "2024-02-29 12:00:00");
  EXPECT_FALSE(ValueOfExistingRows(Col("NULL", true, "int")).value.has_value());
  EXPECT_TRUE(ValueOfExistingRows(Col("NULL", true, "int")).unknown.empty());
  auto expr = ValueOfExistingRows(Col("current_timestamp()", false, "timestamp"));
  EXPECT_FALSE(expr.value.has_value());
  EXPECT_NE(expr.unknown.find("expression"), std::string::npos);
  EXPECT_NE(ValueOfExistingRows(Col("'0000-00-00'", false, "date")).unknown.find("zero date"), std::string::npos);
}

TEST(ColumnDefaultTest, NotNullWithoutDefaultTakesTheTypesImplicitDefault) {
  EXPECT_EQ(ValueOfExistingRows(Col(std::nullopt, false, "bigint")).value, "0");
  EXPECT_EQ(ValueOfExistingRows(Col(std::nullopt, false, "varchar")).value, "");
  EXPECT_EQ(ValueOfExistingRows(Col(std::nullopt, false, "enum", "enum('small','large')")).value, "small");
  EXPECT_EQ(ValueOfExistingRows(Col(std::nullopt, false, "time")).value, "00:00:00");
  EXPECT_NE(ValueOfExistingRows(Col(std::nullopt, false, "date")).unknown.find("zero date"), std::string::npos);
  // Nullable without a default: NULL, known.
  auto null = ValueOfExistingRows(Col(std::nullopt, true, "int"));
  EXPECT_FALSE(null.value.has_value());
  EXPECT_TRUE(null.unknown.empty());
}

TEST(ColumnDefaultTest, MysqlLiteralsAreBareAndExpressionsMarked) {
  ColumnDefaultInfo c = Col("abc", true, "varchar");
  c.mariadb = false;
  EXPECT_EQ(ValueOfExistingRows(c).value, "abc");
  c = Col("CURRENT_TIMESTAMP", false, "timestamp");
  c.mariadb = false;
  EXPECT_FALSE(ValueOfExistingRows(c).value.has_value());
  c = Col("(rand())", false, "double");
  c.mariadb = false;
  c.extra = "DEFAULT_GENERATED";
  EXPECT_NE(ValueOfExistingRows(c).unknown.find("expression"), std::string::npos);
}

}  // namespace
}  // namespace sluice::pipeline
