// InPurgedBinlog: a resume position in a file older than the server's
// oldest binlog is gone; other names and newer files say nothing.

#include "pipeline/binlog_purge.h"

#include <gtest/gtest.h>

namespace sluice::pipeline {
namespace {

TEST(BinlogPurgeTest, OlderFilesOfTheSameSeriesAreGone) {
  std::vector<std::string> files = {"binlog.000003", "binlog.000004"};
  EXPECT_TRUE(InPurgedBinlog("binlog.000001:882", files));
  EXPECT_TRUE(InPurgedBinlog("binlog.000002:4", files));
  EXPECT_FALSE(InPurgedBinlog("binlog.000003:4", files));
  EXPECT_FALSE(InPurgedBinlog("binlog.000004:1234", files));
  EXPECT_FALSE(InPurgedBinlog("binlog.000009:4", files));  // newer: not this question
  EXPECT_FALSE(InPurgedBinlog("replica-bin.000001:4", files));  // another server's series
  EXPECT_FALSE(InPurgedBinlog("binlog.000001:4", {}));
  EXPECT_FALSE(InPurgedBinlog("0/16B3748", files));
  EXPECT_FALSE(InPurgedBinlog("", files));
  // Sequence numbers past six digits compare as numbers.
  EXPECT_TRUE(InPurgedBinlog("mysql-bin.999999:4", {"mysql-bin.1000000"}));
}

}  // namespace
}  // namespace sluice::pipeline
