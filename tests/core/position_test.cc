#include "core/position.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(PositionTest, BinlogFilePosRoundTrip) {
  auto p = BinlogFilePos::Parse("binlog.000003:1234");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->file, "binlog.000003");
  EXPECT_EQ(p->offset, 1234u);
  EXPECT_EQ(p->ToString(), "binlog.000003:1234");
  EXPECT_FALSE(BinlogFilePos::Parse("binlog.000003").ok());
  EXPECT_FALSE(BinlogFilePos::Parse("binlog.000003:12x").ok());
}

TEST(PositionTest, MariadbGtidList) {
  auto l = MariadbGtidList::Parse("1-2-7, 0-1-42");
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ(l->ToString(), "0-1-42,1-2-7");
  MariadbGtidList list = *l;
  list.Update({0, 3, 43});
  EXPECT_EQ(list.ToString(), "0-3-43,1-2-7");
  EXPECT_FALSE(MariadbGtidList::Parse("0-1").ok());
  EXPECT_FALSE(MariadbGtidList::Parse("0-1-2,0-1-3").ok());
  EXPECT_TRUE(MariadbGtidList::Parse("")->empty());
}

TEST(PositionTest, MysqlGtidSetParseMergeAndPrint) {
  auto s = MysqlGtidSet::Parse("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7:6, 4e11fa47-71ca-11e1-9e33-c80aa9429562:10-20");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->ToString(),
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7,4e11fa47-71ca-11e1-9e33-c80aa9429562:10-20");
  auto uuid = ParseUuid("3e11fa47-71ca-11e1-9e33-c80aa9429562");
  ASSERT_TRUE(uuid.ok());
  EXPECT_TRUE(s->Contains(*uuid, 7));
  EXPECT_FALSE(s->Contains(*uuid, 8));
  MysqlGtidSet set = *s;
  set.Add(*uuid, 9);
  set.Add(*uuid, 8);
  EXPECT_EQ(set.sets().at(*uuid).size(), 1u);
  EXPECT_EQ(set.sets().at(*uuid)[0].last, 9u);
  EXPECT_FALSE(MysqlGtidSet::Parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:5-3").ok());
  EXPECT_FALSE(MysqlGtidSet::Parse("3e11fa47:1-3").ok());
  EXPECT_FALSE(MysqlGtidSet::Parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:0").ok());
}

TEST(PositionTest, MysqlGtidSetEncodeIsTheDumpGtidWireFormat) {
  auto s = MysqlGtidSet::Parse("00000000-0000-0000-0000-000000000001:1-3");
  ASSERT_TRUE(s.ok());
  std::string bytes = s->Encode();
  // n_sids:8 uuid:16 n_intervals:8 start:8 end(exclusive):8
  ASSERT_EQ(bytes.size(), 8u + 16 + 8 + 16);
  EXPECT_EQ(bytes[0], 1);
  EXPECT_EQ(bytes[8 + 15], 1);
  EXPECT_EQ(bytes[8 + 16], 1);        // one interval
  EXPECT_EQ(bytes[8 + 16 + 8], 1);    // start 1
  EXPECT_EQ(bytes[8 + 16 + 16], 4);   // end 4, exclusive
  auto back = MysqlGtidSet::Decode(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *s);
  EXPECT_FALSE(MysqlGtidSet::Decode(bytes.substr(0, bytes.size() - 1)).ok());
}

TEST(PositionTest, StartPositionKinds) {
  EXPECT_EQ(StartPosition::Parse("latest")->kind, StartPosition::Kind::kLatest);
  EXPECT_EQ(StartPosition::Parse("earliest")->kind, StartPosition::Kind::kEarliest);
  EXPECT_EQ(StartPosition::Parse("0-1-42")->kind, StartPosition::Kind::kMariadbGtid);
  EXPECT_EQ(StartPosition::Parse("0-1-42,1-1-3")->kind, StartPosition::Kind::kMariadbGtid);
  EXPECT_EQ(StartPosition::Parse("binlog.000003:4")->kind, StartPosition::Kind::kFilePos);
  auto my = StartPosition::Parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42");
  ASSERT_TRUE(my.ok());
  EXPECT_EQ(my->kind, StartPosition::Kind::kMysqlGtid);
  auto bad = StartPosition::Parse("yesterday");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("latest, earliest"), std::string::npos);
}

TEST(PositionTest, PostgresLsn) {
  auto p = StartPosition::Parse("0/16B3748");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->kind, StartPosition::Kind::kLsn);
  EXPECT_EQ(p->lsn.value, 0x16B3748u);
  EXPECT_EQ(p->ToString(), "0/16B3748");
  // Upper half, lower case in, PostgreSQL's upper case out.
  EXPECT_EQ(Lsn::Parse("1a/ff")->value, (uint64_t{0x1a} << 32) | 0xff);
  EXPECT_EQ(Lsn{(uint64_t{0x1a} << 32) | 0xff}.ToString(), "1A/FF");
  EXPECT_EQ(Lsn{}.ToString(), "0/0");
  EXPECT_LT(*Lsn::Parse("0/FFFFFFFF"), *Lsn::Parse("1/0"));
  for (const char* bad : {"0/", "/1", "0/1/2", "0/g", "123456789/0"}) {
    EXPECT_FALSE(Lsn::Parse(bad).ok()) << bad;
  }
  EXPECT_EQ(StartPosition::Parse("0/zz").status().message(),
            "invalid LSN \"0/zz\": expected two hex numbers such as 0/16B3748");
}

}  // namespace
}  // namespace sluice
