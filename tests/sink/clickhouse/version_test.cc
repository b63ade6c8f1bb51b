#include "sink/clickhouse/version.h"

#include <gtest/gtest.h>

namespace sluice::sink::clickhouse {
namespace {

uint64_t V(const std::string& file, uint64_t offset, uint64_t index) {
  auto v = VersionOf(StreamPos{file, offset, index});
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? *v : 0;
}

TEST(ClickhouseVersion, GrowsInStreamOrder) {
  // Rows of one transaction, then the next transaction, then the next file.
  EXPECT_LT(V("binlog.000001", 256, 1), V("binlog.000001", 256, 2));
  EXPECT_LT(V("binlog.000001", 256, 2), V("binlog.000001", 300, 1));
  // A transaction of many rows still stays below the next one (rows take bytes).
  EXPECT_LT(V("binlog.000001", 256, 4096 * 20), V("binlog.000001", 256 + 21, 1));
  EXPECT_LT(V("binlog.000001", 0xFFFFFFF0, 9), V("binlog.000002", 4, 1));
  EXPECT_LT(V("binlog.000009", 4, 1), V("binlog.000010", 4, 1));
}

TEST(ClickhouseVersion, SameForTheSamePosition) {
  EXPECT_EQ(V("binlog.000003", 1234, 7), V("binlog.000003", 1234, 7));
  EXPECT_EQ(V("binlog.000003", 1234, 7), (uint64_t{3} << 44) | (1234 * 4096 + 7));
}

TEST(ClickhouseVersion, RefusesWhatHasNoRoom) {
  EXPECT_FALSE(VersionOf(StreamPos{"binlog", 4, 1}).ok());
  EXPECT_FALSE(VersionOf(StreamPos{"binlog.2000000", 4, 1}).ok());
  EXPECT_FALSE(VersionOf(StreamPos{"binlog.000001", uint64_t{1} << 32, 1}).ok());
}

// PostgreSQL: the commit record's LSN, then the row's ordinal; rows past the
// 65,535th of a transaction share its last version (inserted in order).
TEST(ClickhouseVersion, PostgresPositionsGrowWithTheCommitLsn) {
  EXPECT_EQ(V("0/16B3748", 0x16B3700, 7), (uint64_t{0x16B3700} << 16) | 7);
  EXPECT_LT(V("0/16B3748", 0x16B3700, 1), V("0/16B3748", 0x16B3700, 2));
  EXPECT_LT(V("0/16B3748", 0x16B3700, 100000), V("0/16B3790", 0x16B3701, 1));
  EXPECT_EQ(V("0/16B3748", 0x16B3700, 70000), V("0/16B3748", 0x16B3700, 65535));
  EXPECT_LT(V("1/0", 0xFFFFFF00, 5), V("2/10", uint64_t{2} << 32, 1));
  EXPECT_FALSE(VersionOf(StreamPos{"10000/0", uint64_t{1} << 48, 1}).ok());
}

}  // namespace
}  // namespace sluice::sink::clickhouse
