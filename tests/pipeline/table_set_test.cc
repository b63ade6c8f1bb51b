// ColumnDifferences and TargetTypeHolds: which target column types a user's
// own target table may have for a source column. MergesTables and
// OtherWritersOf: which target tables hold other source tables' rows too.

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

TEST(TableSetTest, RulesThatMergeSeveralTablesIntoOne) {
  auto rule = [](std::string match, std::string to) {
    transform::MappingRule r;
    r.match = std::move(match);
    r.to = std::move(to);
    return r;
  };
  EXPECT_TRUE(MergesTables(rule("shop.orders_*", "report.orders")));     // shards of a table
  EXPECT_TRUE(MergesTables(rule("shop_*.orders", "shop.orders")));       // shards in databases
  EXPECT_TRUE(MergesTables(rule("shop_*.*", "all.${table}")));           // ... of every table
  EXPECT_TRUE(MergesTables(rule("/^shop_[0-9]+\\.orders$/", "s.orders")));
  EXPECT_FALSE(MergesTables(rule("shop.orders", "report.orders")));      // one table renamed
  EXPECT_FALSE(MergesTables(rule("shop.*", "report.${table}")));         // one name each
  EXPECT_FALSE(MergesTables(rule("shop_*.*", "${db}_copy.${table}")));
  EXPECT_FALSE(MergesTables(rule("shop.*", "")));                        // names kept
}

// Which other pipeline of a configuration may write a target table: the
// check leaves that table's rows only the target has alone (another
// pipeline's rows are not extra).
TEST(OtherWritersOfTest, NamesThePipelineWhoseRulesCanGiveTheTable) {
  auto config = ParseConfig(R"(
sources:
  east: {url: "mysql://root@127.0.0.1:3306"}
  west: {url: "mysql://root@127.0.0.1:3307"}
targets:
  report: {url: "mysql://root@127.0.0.1:3310"}
  report_again: {url: "mysql://other@127.0.0.1:3310"}
  search: {url: "mysql://root@127.0.0.1:3311"}
pipelines:
  - name: east
    source: east
    targets: [report]
    tables:
      - match: "shop.orders_*"
        to: "report.orders"
  - name: west
    source: west
    targets: [report_again]
    tables:
      - match: "shop.orders_*"
        to: "report.orders"
      - match: "crm.*"
        to: "crm_${db}.t_${table}"
      - match: "stock.items"
        to: "other.items"
      - match: "stock.*"
  - name: elsewhere
    source: west
    targets: [search]
    tables:
      - match: "hr.*"
)",
                            "sluice.yaml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  auto east = OtherWritersOf(*config, config->pipelines[0], "report");
  ASSERT_TRUE(east);
  EXPECT_EQ(east("report", "orders"), "west");        // the same literal `to:`
  EXPECT_EQ(east("REPORT", "Orders"), "west");        // names compared as MySQL may fold them
  EXPECT_EQ(east("crm_crm", "t_people"), "west");     // a template that can give the name
  EXPECT_EQ(east("crm_x", "people"), "");             // ... and one it cannot
  EXPECT_EQ(east("stock", "levels"), "west");         // kept under its own name
  EXPECT_EQ(east("stock", "items"), "");              // its first rule sends it elsewhere
  EXPECT_EQ(east("hr", "people"), "");                // that pipeline writes another server
  auto elsewhere = OtherWritersOf(*config, config->pipelines[2], "search");
  EXPECT_FALSE(elsewhere);  // nobody else writes there: nothing to leave out
}

}  // namespace
}  // namespace sluice::pipeline
