#include "source/mysql/binlog/statement_dml.h"

#include <gtest/gtest.h>

namespace sluice::mysql {
namespace {

std::string Describe(std::string_view q, std::string_view db = "app") {
  auto d = ParseStatementDml(q, db);
  if (!d) return "-";
  return d->verb + " " + d->db + "." + d->table;
}

TEST(StatementDmlTest, NamesTheVerbAndTheTable) {
  EXPECT_EQ(Describe("INSERT INTO shop.t VALUES (1)"), "INSERT shop.t");
  EXPECT_EQ(Describe("insert ignore t (a) values (1)"), "INSERT app.t");
  EXPECT_EQ(Describe("INSERT LOW_PRIORITY INTO `my db`.`a``b` SELECT * FROM x"), "INSERT my db.a`b");
  EXPECT_EQ(Describe("REPLACE INTO t VALUES (1)"), "REPLACE app.t");
  EXPECT_EQ(Describe("/* app */ UPDATE shop.t SET v = 1 WHERE id = 2"), "UPDATE shop.t");
  EXPECT_EQ(Describe("UPDATE IGNORE t AS x SET x.v = 1"), "UPDATE app.t");
  EXPECT_EQ(Describe("DELETE FROM shop.t WHERE id = 1"), "DELETE shop.t");
  EXPECT_EQ(Describe("DELETE QUICK IGNORE FROM t"), "DELETE app.t");
  EXPECT_EQ(Describe("LOAD DATA INFILE '/tmp/x into table' REPLACE INTO TABLE shop.t"), "LOAD DATA shop.t");
}

TEST(StatementDmlTest, MultiTableFormsNameNoTable) {
  EXPECT_EQ(Describe("UPDATE a, b SET a.v = b.v WHERE a.id = b.id"), "UPDATE app.");
  EXPECT_EQ(Describe("UPDATE a JOIN b ON a.id = b.id SET a.v = 1"), "UPDATE app.");
  EXPECT_EQ(Describe("DELETE a, b FROM a JOIN b"), "DELETE .");
  EXPECT_EQ(Describe("DELETE FROM a USING a JOIN b"), "DELETE app.");
  EXPECT_EQ(Describe("DELETE FROM a, b USING a JOIN b"), "DELETE app.");
}

TEST(StatementDmlTest, OtherStatementsChangeNoRows) {
  for (const char* q : {"CREATE TABLE t (id INT)", "SAVEPOINT s", "SET @x = 1", "DROP TABLE t", "INSERTS", "LOAD INDEX",
                        "TRUNCATE t", "SELECT 1"}) {
    EXPECT_EQ(Describe(q), "-") << q;
  }
}

}  // namespace
}  // namespace sluice::mysql
