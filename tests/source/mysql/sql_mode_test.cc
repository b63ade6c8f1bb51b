#include "source/mysql/sql_mode.h"

#include <gtest/gtest.h>

namespace sluice::mysql {
namespace {

TEST(SqlModeTest, MySql57DefaultKeepsWhatMySql8AndMariadbBothAccept) {
  // MySQL 5.7's default: ONLY_FULL_GROUP_BY, STRICT_TRANS_TABLES,
  // NO_ZERO_IN_DATE, NO_ZERO_DATE, ERROR_FOR_DIVISION_BY_ZERO,
  // NO_AUTO_CREATE_USER (gone in MySQL 8), NO_ENGINE_SUBSTITUTION.
  EXPECT_EQ(SqlModeNames(1436549152, false),
            "STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION");
  EXPECT_EQ(SqlModeNames(0, true), "");
}

TEST(SqlModeTest, QuotingModesAndMariadbsOwnBits) {
  EXPECT_EQ(SqlModeNames((1ull << 2) | (1ull << 20), false), "ANSI_QUOTES,NO_BACKSLASH_ESCAPES");
  // Bit 32 is EMPTY_STRING_IS_NULL on MariaDB, TIME_TRUNCATE_FRACTIONAL on MySQL.
  EXPECT_EQ(SqlModeNames((1ull << 9) | (1ull << 32), true), "ORACLE,EMPTY_STRING_IS_NULL");
  EXPECT_EQ(SqlModeNames((1ull << 9) | (1ull << 32), false), "");
}

}  // namespace
}  // namespace sluice::mysql
