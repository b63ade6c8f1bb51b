// table_swap.h: the target side of an online schema change's table swap.

#include "pipeline/table_swap.h"

#include <gtest/gtest.h>

namespace sluice::pipeline {
namespace {

TEST(TableSwapTest, ColumnDefinitionsAreTheQuotedLinesOfTheBody) {
  const char* create = "CREATE TABLE `orders` (\n"
                       "  `id` int(11) NOT NULL,\n"
                       "  `odd``name` varchar(40) DEFAULT 'a, b',\n"
                       "  `extra` int(11) NOT NULL DEFAULT 7 COMMENT 'x',\n"
                       "  PRIMARY KEY (`id`),\n"
                       "  KEY `k` (`extra`)\n"
                       ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
  auto defs = ColumnDefinitions(create);
  ASSERT_EQ(defs.size(), 3u);
  EXPECT_EQ(defs[0], (std::pair<std::string, std::string>{"id", "int(11) NOT NULL"}));
  EXPECT_EQ(defs[1], (std::pair<std::string, std::string>{"odd`name", "varchar(40) DEFAULT 'a, b'"}));
  EXPECT_EQ(defs[2], (std::pair<std::string, std::string>{"extra", "int(11) NOT NULL DEFAULT 7 COMMENT 'x'"}));
}

TEST(TableSwapTest, TheAlterAddsDropsAndRetypesInTheSourcesOrder) {
  std::vector<ColumnType> have = {{"id", "int(11)"}, {"amount", "int(11)"}, {"note", "varchar(40)"}};
  std::vector<ColumnType> want = {{"id", "int(11)"}, {"amount", "bigint(20)"}, {"extra", "int(11)"}};
  std::vector<std::string> defs = {"int(11) NOT NULL", "bigint(20) NOT NULL", "int(11) NOT NULL DEFAULT 7"};
  TargetAlter a = AlterToMatch("shop", "orders", want, defs, have);
  EXPECT_EQ(a.statement,
            "ALTER TABLE `shop`.`orders` DROP COLUMN `note`, MODIFY COLUMN `amount` bigint(20) NOT NULL, ADD COLUMN "
            "`extra` int(11) NOT NULL DEFAULT 7 AFTER `amount`");
  ASSERT_EQ(a.lossy.size(), 2u);
  EXPECT_EQ(a.lossy[0], "`amount` retyped from int(11) to bigint(20)");
  EXPECT_EQ(a.lossy[1], "`note` dropped and `extra` added (a rename carries no values)");
}

TEST(TableSwapTest, OnlyAddedColumnsAreExactAndAMatchingTableNeedsNothing) {
  std::vector<ColumnType> have = {{"id", "int(11)"}};
  std::vector<ColumnType> want = {{"x", "int(11)"}, {"ID", "int(11)"}};
  TargetAlter a = AlterToMatch("d", "t", want, {"int(11) DEFAULT 1", "int(11) NOT NULL"}, have);
  EXPECT_EQ(a.statement, "ALTER TABLE `d`.`t` ADD COLUMN `x` int(11) DEFAULT 1 FIRST");
  EXPECT_TRUE(a.lossy.empty());
  EXPECT_TRUE(AlterToMatch("d", "t", have, {"int(11)"}, have).statement.empty());
}

}  // namespace
}  // namespace sluice::pipeline
