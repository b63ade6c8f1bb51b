#include "sink/clickhouse/ddl_effect.h"

#include <gtest/gtest.h>

namespace sluice::sink::clickhouse {
namespace {

using K = DdlEffect::Kind;

K KindOf(const std::string& q) { return ClassifyDdl(q).kind; }

TEST(ClickhouseDdl, Classifies) {
  EXPECT_EQ(KindOf("CREATE DATABASE shop"), K::kCreateDatabase);
  EXPECT_EQ(KindOf("drop schema if exists shop"), K::kDropDatabase);
  EXPECT_EQ(KindOf("CREATE TABLE t (id INT PRIMARY KEY)"), K::kSkip);
  EXPECT_EQ(KindOf("DROP TABLE IF EXISTS `t`"), K::kDropTable);
  EXPECT_EQ(KindOf("TRUNCATE t"), K::kTruncateTable);
  EXPECT_EQ(KindOf("CREATE INDEX i ON t (a)"), K::kSkip);
  EXPECT_EQ(KindOf("ALTER TABLE t ADD COLUMN c INT NULL, ADD d VARCHAR(10) NOT NULL"), K::kAlterTable);
  EXPECT_EQ(KindOf("ALTER TABLE shop.t DROP COLUMN c"), K::kAlterTable);
  EXPECT_EQ(KindOf("ALTER TABLE t ADD INDEX i (a), MODIFY c BIGINT"), K::kAlterTable);
  EXPECT_EQ(KindOf("ALTER TABLE t ADD COLUMN c INT DEFAULT NULL"), K::kAlterTable);
  EXPECT_EQ(KindOf("ALTER TABLE t CHANGE c c BIGINT"), K::kAlterTable);
}

TEST(ClickhouseDdl, RefusesWhatRowsCannotFollow) {
  EXPECT_EQ(KindOf("RENAME TABLE a TO b, c TO d"), K::kUnsupported);
  EXPECT_EQ(KindOf("ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 5"), K::kUnsupported);
  EXPECT_EQ(KindOf("ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (a, b)"), K::kUnsupported);
  EXPECT_NE(ClassifyDdl("RENAME TABLE a TO b, c TO d").reason.find("several tables"), std::string::npos);
}

TEST(ClickhouseDdl, RenamedColumnsAreNamedAsWritten) {
  DdlEffect e = ClassifyDdl("ALTER TABLE t RENAME COLUMN a TO `My B`, CHANGE COLUMN c Dd INT, CHANGE e e BIGINT, "
                            "CHANGE f F INT, ADD COLUMN g INT");
  EXPECT_EQ(e.kind, K::kAlterTable);
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(e.renamed_columns, (std::vector<P>{{"a", "My B"}, {"c", "Dd"}, {"f", "F"}}));
  EXPECT_EQ(ClassifyDdl("ALTER TABLE t RENAME COLUMN a").kind, K::kUnsupported);
  EXPECT_TRUE(ClassifyDdl("ALTER TABLE t RENAME INDEX a TO b").renamed_columns.empty());
}

TEST(ClickhouseDdl, RenamedTablesAreNamedAsWritten) {
  using P = std::pair<std::string, std::string>;
  DdlEffect e = ClassifyDdl("RENAME TABLE shop.orders TO `Arch`.`orders 2024`");
  EXPECT_EQ(e.kind, K::kAlterTable);
  EXPECT_EQ(e.renamed_to, std::optional<P>(P{"Arch", "orders 2024"}));
  e = ClassifyDdl("ALTER TABLE orders RENAME TO Old_Orders, ADD COLUMN x INT");
  EXPECT_EQ(e.kind, K::kAlterTable);
  EXPECT_EQ(e.renamed_to, std::optional<P>(P{"", "Old_Orders"}));
  EXPECT_EQ(ClassifyDdl("ALTER TABLE orders RENAME old_orders").renamed_to, std::optional<P>(P{"", "old_orders"}));
  EXPECT_FALSE(ClassifyDdl("ALTER TABLE orders ADD COLUMN x INT").renamed_to.has_value());
}

TEST(ClickhouseDdl, ADefaultIsFollowedWhenTheValueOfTheRowsThereIsGiven) {
  EXPECT_EQ(ClassifyDdl("ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 5", /*defaults_known=*/true).kind,
            K::kAlterTable);
  EXPECT_EQ(ClassifyDdl("ALTER TABLE t ADD COLUMN c INT DEFAULT 5, DROP PRIMARY KEY", true).kind,
            K::kUnsupported);
}

}  // namespace
}  // namespace sluice::sink::clickhouse
