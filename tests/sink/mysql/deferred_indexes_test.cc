#include "sink/mysql/deferred_indexes.h"

#include <gtest/gtest.h>

namespace sluice::sink::mysql {
namespace {

TEST(DeferredIndexesTest, PlainKeysLeaveTheCreateAndBecomeOneAlter) {
  const char* create =
      "CREATE TABLE IF NOT EXISTS `bench`.`orders` (\n"
      "  `id` bigint(20) NOT NULL,\n"
      "  `customer_id` int(11) NOT NULL,\n"
      "  `note` varchar(200) DEFAULT 'KEY `x` (`y`),',\n"
      "  PRIMARY KEY (`id`),\n"
      "  UNIQUE KEY `note_u` (`note`),\n"
      "  KEY `customer_id` (`customer_id`),\n"
      "  KEY `two` (`note`(10),`customer_id`) COMMENT 'a, b'\n"
      ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
  IndexSplit s = SplitPlainIndexes(create);
  EXPECT_EQ(s.create,
            "CREATE TABLE IF NOT EXISTS `bench`.`orders` (\n"
            "  `id` bigint(20) NOT NULL,\n"
            "  `customer_id` int(11) NOT NULL,\n"
            "  `note` varchar(200) DEFAULT 'KEY `x` (`y`),',\n"
            "  PRIMARY KEY (`id`),\n"
            "  UNIQUE KEY `note_u` (`note`)\n"
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
  EXPECT_EQ(s.add_indexes, "ADD KEY `customer_id` (`customer_id`), ADD KEY `two` (`note`(10),`customer_id`) COMMENT 'a, b'");
}

TEST(DeferredIndexesTest, NothingDeferredWithoutPlainKeysOrWithAForeignKey) {
  const char* no_keys = "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB";
  EXPECT_EQ(SplitPlainIndexes(no_keys).create, no_keys);
  EXPECT_EQ(SplitPlainIndexes(no_keys).add_indexes, "");
  const char* fk =
      "CREATE TABLE `c` (\n  `id` int(11) NOT NULL,\n  `p` int(11) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n"
      "  KEY `p` (`p`),\n  CONSTRAINT `c_ibfk_1` FOREIGN KEY (`p`) REFERENCES `parent` (`id`)\n) ENGINE=InnoDB";
  EXPECT_EQ(SplitPlainIndexes(fk).create, fk);
  EXPECT_EQ(SplitPlainIndexes(fk).add_indexes, "");
  const char* one_line = "CREATE TABLE t (id INT PRIMARY KEY, v INT, KEY (v))";
  EXPECT_EQ(SplitPlainIndexes(one_line).create, one_line);
  EXPECT_EQ(SplitPlainIndexes(one_line).add_indexes, "");
}

}  // namespace
}  // namespace sluice::sink::mysql
