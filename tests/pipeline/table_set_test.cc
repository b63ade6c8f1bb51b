// ColumnDifferences and TargetTypeHolds: which target column types a user's
// own target table may have for a source column.

#include "pipeline/table_set.h"

#include <gtest/gtest.h>

namespace sluice::pipeline {
namespace {

TEST(TableSetTest, WiderTypesOfAFamilyHoldTheSourcesValues) {
  EXPECT_TRUE(TargetTypeHolds("int(11)", "int(11)"));
  EXPECT_TRUE(TargetTypeHolds("INT", "int(11)"));             // MySQL 8's COLUMN_TYPE has no width
  EXPECT_TRUE(TargetTypeHolds("bigint(20)", "int(11)"));
  EXPECT_TRUE(TargetTypeHolds("tinyint(4)", "tinyint(1)"));
  EXPECT_TRUE(TargetTypeHolds("bigint(20)", "int(10) unsigned"));
  EXPECT_TRUE(TargetTypeHolds("int(10) unsigned", "int(10) unsigned"));
  EXPECT_TRUE(TargetTypeHolds("varchar(255)", "varchar(40)"));
  EXPECT_TRUE(TargetTypeHolds("varchar(10)", "char(10)"));
  EXPECT_TRUE(TargetTypeHolds("longtext", "text"));
  EXPECT_TRUE(TargetTypeHolds("mediumblob", "blob"));
  EXPECT_TRUE(TargetTypeHolds("decimal(14,2)", "decimal(10,2)"));
  EXPECT_TRUE(TargetTypeHolds("decimal(12,2)", "decimal(10,2) unsigned"));

  EXPECT_FALSE(TargetTypeHolds("int(11)", "bigint(20)"));
  EXPECT_FALSE(TargetTypeHolds("int(11)", "int(10) unsigned"));      // 4000000000 does not fit
  EXPECT_FALSE(TargetTypeHolds("bigint(20) unsigned", "int(11)"));   // -1 does not fit
  EXPECT_FALSE(TargetTypeHolds("int(5) unsigned zerofill", "int(10) unsigned"));
  EXPECT_FALSE(TargetTypeHolds("varchar(20)", "varchar(40)"));
  EXPECT_FALSE(TargetTypeHolds("char(10)", "varchar(10)"));          // CHAR drops trailing spaces
  EXPECT_FALSE(TargetTypeHolds("text", "longtext"));
  EXPECT_FALSE(TargetTypeHolds("blob", "text"));
  EXPECT_FALSE(TargetTypeHolds("decimal(14,4)", "decimal(10,2)"));   // reads back with more digits
  EXPECT_FALSE(TargetTypeHolds("decimal(10,2) unsigned", "decimal(10,2)"));
  EXPECT_FALSE(TargetTypeHolds("datetime(6)", "datetime"));          // reads back with a fraction
  EXPECT_FALSE(TargetTypeHolds("double", "float"));
  EXPECT_FALSE(TargetTypeHolds("binary(20)", "binary(10)"));         // padded with zero bytes
}

TEST(TableSetTest, ColumnDifferencesNameWhatTheTargetCannotHold) {
  const std::vector<ColumnType> want = {{"id", "int(11)"}, {"v", "int(11)"}, {"w", "varchar(5)"}};
  EXPECT_EQ(ColumnDifferences(want, {{"w", "varchar(9)"}, {"id", "bigint(20)"}, {"v", "int(11)"}}), "");
  EXPECT_EQ(ColumnDifferences(want, {{"id", "int(11)"}, {"v", "smallint(6)"}, {"w", "varchar(5)"}}),
            "`v` is smallint(6) on the target, int(11) on the source");
  const std::vector<ColumnType> more = {{"id", "int(11)"}, {"v", "int(11)"}, {"w", "varchar(5)"}, {"at", "timestamp"}};
  EXPECT_EQ(ColumnDifferences(want, more), "`at` (timestamp) is only on the target");
  EXPECT_EQ(ColumnDifferences(want, more, /*extra_ok=*/true), "");
  EXPECT_EQ(ColumnDifferences(want, {{"id", "int(11)"}, {"w", "varchar(5)"}}),
            "`v` (int(11)) is missing on the target");
}

}  // namespace
}  // namespace sluice::pipeline
