#include "source/mysql/protocol/replication_commands.h"

#include <gtest/gtest.h>

namespace sluice::mysql {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s += static_cast<char>(x);
  return s;
}

TEST(ReplicationCommandsTest, RegisterReplica) {
  EXPECT_EQ(RegisterReplicaPayload(0x01020304),
            Bytes({4, 3, 2, 1, /*host*/ 0, /*user*/ 0, /*password*/ 0, /*port*/ 0, 0, /*rank*/ 0, 0, 0, 0,
                   /*master*/ 0, 0, 0, 0}));
}

TEST(ReplicationCommandsTest, BinlogDumpFromFilePosition) {
  EXPECT_EQ(BinlogDumpPayload({"binlog.000003", 0x1234}, 42),
            Bytes({0x34, 0x12, 0, 0, 0, 0, 42, 0, 0, 0}) + "binlog.000003");
}

TEST(ReplicationCommandsTest, BinlogDumpGtidCarriesTheEncodedSet) {
  auto set = MysqlGtidSet::Parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7");
  ASSERT_TRUE(set.ok());
  std::string p = BinlogDumpGtidPayload(*set, 7);
  std::string data = set->Encode();
  std::string head = Bytes({4, 0, 7, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0});
  ASSERT_EQ(p.size(), head.size() + 4 + data.size());
  EXPECT_EQ(p.substr(0, head.size()), head);
  EXPECT_EQ(static_cast<uint8_t>(p[head.size()]), data.size());
  EXPECT_EQ(p.substr(head.size() + 4), data);
  // n_sids=1, uuid, n_intervals=2, [1,6) [7,8)
  EXPECT_EQ(data.size(), 8u + 16 + 8 + 2 * 16);
  EXPECT_EQ(static_cast<uint8_t>(data[8]), 0x3e);
  EXPECT_EQ(static_cast<uint8_t>(data[8 + 16 + 8 + 8]), 6);
  EXPECT_EQ(static_cast<uint8_t>(data[8 + 16 + 8 + 16]), 7);
  EXPECT_EQ(static_cast<uint8_t>(data[8 + 16 + 8 + 24]), 8);
}

}  // namespace
}  // namespace sluice::mysql
