// RENAME TABLE and ALTER TABLE ... RENAME: every pair, for routing by the
// selection (pipeline HandleRename).

#include <gtest/gtest.h>

#include "client/mysql/ddl_statement.h"

namespace sluice::mysql {
namespace {

using K = DdlStatement::Kind;

TEST(DdlRenameTest, RenameTableListsEveryPair) {
  DdlStatement d = ParseDdl("RENAME TABLE app.t TO other.t, u WAIT 3 TO `app`.`u 2`", "app");
  EXPECT_EQ(d.kind, K::kRenameTable);
  ASSERT_EQ(d.renames.size(), 2u);
  EXPECT_EQ(d.renames[0].db, "app");
  EXPECT_EQ(d.renames[0].table, "t");
  EXPECT_EQ(d.renames[0].new_db, "other");
  EXPECT_EQ(d.renames[0].new_table, "t");
  EXPECT_EQ(d.renames[1].db, "app");
  EXPECT_EQ(d.renames[1].table, "u");
  EXPECT_EQ(d.renames[1].new_db, "app");
  EXPECT_EQ(d.renames[1].new_table, "u 2");
}

TEST(DdlRenameTest, AlterTableRenameAloneIsARename) {
  for (const char* q :
       {"ALTER TABLE t RENAME TO other.t", "ALTER TABLE t RENAME AS other.t", "ALTER TABLE t RENAME other.t"}) {
    DdlStatement d = ParseDdl(q, "app");
    ASSERT_EQ(d.renames.size(), 1u) << q;
    EXPECT_EQ(d.renames[0].db, "app") << q;
    EXPECT_EQ(d.renames[0].new_db, "other") << q;
    EXPECT_EQ(d.renames[0].new_table, "t") << q;
  }
}

TEST(DdlRenameTest, RenameColumnsOrWithOtherChangesIsNoTableRename) {
  EXPECT_TRUE(ParseDdl("ALTER TABLE t RENAME COLUMN a TO b", "app").renames.empty());
  EXPECT_TRUE(ParseDdl("ALTER TABLE t RENAME INDEX a TO b", "app").renames.empty());
  EXPECT_TRUE(ParseDdl("ALTER TABLE t ADD COLUMN c INT, RENAME TO u", "app").renames.empty());
}

}  // namespace
}  // namespace sluice::mysql
