// CREATE TABLE ... SELECT as MySQL 8.0.21+ logs it: "CREATE TABLE ...
// START TRANSACTION" (with or without a BEGIN before it), the copied rows,
// then an XID. The statement is a DDL inside that transaction, without
// the clause (which other servers do not parse), and the XID ends the
// transaction. The events follow a real MySQL 8.0.31 FORMAT_DESCRIPTION
// (../shared/fixtures); the QUERY and XID events are built here.

#include <gtest/gtest.h>

#include "source/mysql/binlog/crafted_events.h"
#include "source/mysql/binlog_decoder.h"
#include "source/mysql/recording_handler.h"

namespace sluice::mysql {
namespace {

using crafted::Event;
using crafted::kQuery;
using crafted::kXid;
using crafted::Query;
using crafted::Xid;

class CreateSelectDecodeTest : public ::testing::Test {
 protected:
  void SetUp() override { fde_ = crafted::Mysql8FormatDescription(); }
  void Feed(std::vector<std::string> events) {
    ASSERT_TRUE(decoder_.Feed(fde_, h_, 4).ok());
    uint64_t offset = 4 + fde_.size();
    for (const std::string& e : events) {
      Status st = decoder_.Feed(e, h_, offset);
      ASSERT_TRUE(st.ok()) << st.message();
      offset += e.size();
    }
  }
  std::string fde_;
  BinlogDecoder decoder_{BinlogDecoder::Options{}};
  testing::RecordingHandler h_;
};

const char* kCreate = "CREATE TABLE `t1` (\n  `id` int NOT NULL\n)";

TEST_F(CreateSelectDecodeTest, WithoutBeginTheXidEndsTheTransaction) {
  ASSERT_NO_FATAL_FAILURE(Feed({Event(kQuery, Query("db", std::string(kCreate) + " START TRANSACTION"), 500),
                                Event(kXid, Xid(), 531)}));
  ASSERT_EQ(h_.ddl.size(), 1u);
  EXPECT_EQ(h_.ddl[0], kCreate);
  EXPECT_TRUE(h_.ddl_in_transaction[0]);
  EXPECT_EQ(h_.begins, 1);
  EXPECT_EQ(h_.commits, 1);
  EXPECT_EQ(h_.ddl_sessions[0].sql_mode.value_or("?"), "STRICT_TRANS_TABLES");
  EXPECT_EQ(h_.ddl_sessions[0].collation_server, 255);
}

TEST_F(CreateSelectDecodeTest, AfterBeginToo) {
  ASSERT_NO_FATAL_FAILURE(Feed({Event(kQuery, Query("db", "BEGIN"), 400),
                                Event(kQuery, Query("db", std::string(kCreate) + "\nSTART TRANSACTION"), 500),
                                Event(kXid, Xid(), 531)}));
  ASSERT_EQ(h_.ddl.size(), 1u);
  EXPECT_EQ(h_.ddl[0], kCreate);
  EXPECT_TRUE(h_.ddl_in_transaction[0]);
  EXPECT_EQ(h_.begins, 1);
  EXPECT_EQ(h_.commits, 1);
}

TEST_F(CreateSelectDecodeTest, AnOrdinaryCreateStandsAlone) {
  ASSERT_NO_FATAL_FAILURE(Feed({Event(kQuery, Query("db", "CREATE TABLE `start transaction` (id INT)"), 500)}));
  ASSERT_EQ(h_.ddl.size(), 1u);
  EXPECT_FALSE(h_.ddl_in_transaction[0]);
  EXPECT_EQ(h_.commits, 1);
}

}  // namespace
}  // namespace sluice::mysql
