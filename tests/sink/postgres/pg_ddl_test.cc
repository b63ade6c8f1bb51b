#include "sink/postgres/pg_ddl.h"

#include <gtest/gtest.h>

namespace sluice::sink::postgres {
namespace {

Result<PgDdlPlan> Plan(const std::string& query, bool one_to_one = true, std::vector<std::string> has = {"a", "b"}) {
  DdlChange d;
  d.db = "shop";
  d.query = query;
  d.target_db = "shop";
  d.target_table = "t";
  d.one_to_one = one_to_one;
  return TranslateDdl(
      d, [&](const std::string& c) -> std::optional<std::string> { return c; },
      [&](const std::string& c) { return std::find(has.begin(), has.end(), c) != has.end(); });
}

std::string Statements(const std::string& query) {
  auto p = Plan(query);
  if (!p.ok()) return "error: " + p.status().message();
  std::string out;
  for (auto& s : p->statements) out += s + ";";
  return out;
}

TEST(PgDdl, ColumnChanges) {
  EXPECT_EQ(Statements("ALTER TABLE t ADD COLUMN c INT"), "");
  EXPECT_EQ(Statements("ALTER TABLE `shop`.`t` DROP COLUMN a"), "ALTER TABLE \"shop\".\"t\" DROP COLUMN IF EXISTS \"a\";");
  EXPECT_EQ(Statements("alter table t rename column a to z"),
            "ALTER TABLE \"shop\".\"t\" RENAME COLUMN \"a\" TO \"z\";");
  EXPECT_EQ(Statements("ALTER TABLE t CHANGE a z BIGINT, ADD INDEX (b), ENGINE=InnoDB"),
            "ALTER TABLE \"shop\".\"t\" RENAME COLUMN \"a\" TO \"z\";");
  EXPECT_TRUE(Plan("ALTER TABLE t MODIFY b BIGINT")->retype);
  EXPECT_EQ(Statements("ALTER TABLE t RENAME COLUMN x TO y"), "");  // already renamed: replay
}

// A dropped index may be the unique key rows were found by: the sink
// re-derives the table's key with its next row; an added one changes nothing.
TEST(PgDdl, ADroppedIndexMarksTheTableForItsNextRow) {
  EXPECT_TRUE(Plan("ALTER TABLE t DROP INDEX by_code")->retype);
  EXPECT_TRUE(Plan("ALTER TABLE t DROP KEY by_code, ADD COLUMN c INT")->retype);
  EXPECT_TRUE(Plan("DROP INDEX by_code ON t")->retype);
  EXPECT_FALSE(Plan("ALTER TABLE t ADD UNIQUE KEY by_code (b)")->retype);
  EXPECT_FALSE(Plan("CREATE UNIQUE INDEX by_code ON t (b)")->retype);
  EXPECT_EQ(Statements("ALTER TABLE t DROP INDEX by_code"), "");
}

// The source table's primary key dropped: the target's goes too, whatever
// PostgreSQL named it (a key added is the sink's to give, from the rows).
TEST(PgDdl, ADroppedPrimaryKeyIsDroppedByItsName) {
  EXPECT_EQ(Statements("ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (a)"),
            "DO $sluice$ DECLARE c name; BEGIN SELECT conname INTO c FROM pg_catalog.pg_constraint WHERE conrelid = "
            "to_regclass('\"shop\".\"t\"') AND contype = 'p'; IF c IS NOT NULL THEN EXECUTE format('ALTER TABLE %s "
            "DROP CONSTRAINT %I', '\"shop\".\"t\"', c); END IF; END $sluice$;");
}

TEST(PgDdl, TableStatements) {
  EXPECT_EQ(Statements("DROP TABLE IF EXISTS t"), "DROP TABLE IF EXISTS \"shop\".\"t\";");
  EXPECT_EQ(Statements("TRUNCATE TABLE t"), "TRUNCATE \"shop\".\"t\";");
  EXPECT_EQ(Statements("CREATE TABLE t (id INT PRIMARY KEY)"), "");
  EXPECT_EQ(Statements("RENAME TABLE t TO u"), "ALTER TABLE IF EXISTS \"shop\".\"t\" RENAME TO \"u\";");
  EXPECT_FALSE(Plan("RENAME TABLE t TO u", /*one_to_one=*/false).ok());
}

TEST(PgDdl, PartitionMaintenanceChangesNoShape) {
  // The rows a dropped or truncated partition held stay (the pipeline warns).
  EXPECT_EQ(Statements("ALTER TABLE t DROP PARTITION p0, p1"), "");
  EXPECT_EQ(Statements("ALTER TABLE t TRUNCATE PARTITION p0, p1"), "");
}

TEST(PgDdl, UnknownShapeChangesAreErrors) {
  auto p = Plan("ALTER TABLE t EXCHANGE PARTITION p WITH TABLE u");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("cannot be translated"), std::string::npos);
}

}  // namespace
}  // namespace sluice::sink::postgres
