// RangeCollector (jobs/flashback/range.h): which transactions are in the
// range, when it ends, and the refusal of partial row images.

#include "jobs/flashback/range.h"

#include <gtest/gtest.h>

namespace sluice::jobs::flashback {
namespace {

class RangeCollectorTest : public ::testing::Test {
 protected:
  RangeCollectorTest() {
    auto s = std::make_shared<TableSchema>();
    s->db = "shop";
    s->table = "t";
    s->names_known = true;
    for (const char* n : {"id", "note"}) {
      ColumnMeta c;
      c.name = n;
      s->columns.push_back(c);
    }
    s->primary_key = {0};
    schema_ = s;
  }
  // One transaction of one insert: begins at `offset`, the next starts at `next`.
  Status Txn(RangeCollector& c, std::string_view gtid, uint64_t offset, uint64_t next, uint64_t ts_s = 1000,
             bool partial = false) {
    TransactionInfo b{gtid, "binlog.000001", offset, ts_s * 1000};
    RETURN_IF_ERROR(c.OnBegin(b));
    std::vector<Value> row = {Value::Int(static_cast<int64_t>(offset)),
                              partial ? Value::Absent() : Value::Str(ValueKind::kText, "x")};
    RowChange rc;
    rc.op = Op::kInsert;
    rc.table = schema_.get();
    rc.table_ptr = schema_;
    rc.after = &row;
    rc.file = "binlog.000001";
    rc.offset = offset + 50;
    RETURN_IF_ERROR(c.OnRow(rc));
    CommitInfo ci;
    ci.gtid = gtid;
    ci.file = "binlog.000001";
    ci.next_offset = next;
    ci.ts_ms = ts_s * 1000;
    return c.OnCommit(ci);
  }
  TableSchemaPtr schema_;
  std::atomic<bool> done_{false};
};

TEST_F(RangeCollectorTest, FilePosStopIsExclusive) {
  RangeCollector c(*RangeEnd::ParseStop("binlog.000001:300"), done_, false);
  ASSERT_TRUE(Txn(c, "0-1-1", 100, 200).ok());
  EXPECT_FALSE(done_);
  ASSERT_TRUE(Txn(c, "0-1-2", 200, 300).ok());
  EXPECT_TRUE(done_);  // the next transaction would start at the stop
  ASSERT_TRUE(Txn(c, "0-1-3", 300, 400).ok());
  ASSERT_EQ(c.transactions().size(), 2u);
  EXPECT_EQ(c.transactions()[1].Where(), "0-1-2 @ binlog.000001:200");
}

TEST_F(RangeCollectorTest, AStopInsideATransactionTakesTheTransaction) {
  RangeCollector c(*RangeEnd::ParseStop("binlog.000001:250"), done_, false);
  ASSERT_TRUE(Txn(c, "0-1-1", 100, 200).ok());
  ASSERT_TRUE(Txn(c, "0-1-2", 200, 300).ok());
  EXPECT_TRUE(done_);
  EXPECT_EQ(c.transactions().size(), 2u);
}

TEST_F(RangeCollectorTest, GtidStopIsInclusive) {
  RangeCollector c(*RangeEnd::ParseStop("0-1-2"), done_, false);
  ASSERT_TRUE(Txn(c, "0-1-1", 100, 200).ok());
  ASSERT_TRUE(Txn(c, "0-1-2", 200, 300).ok());
  EXPECT_TRUE(done_);
  ASSERT_TRUE(Txn(c, "0-1-3", 300, 400).ok());
  EXPECT_EQ(c.transactions().size(), 2u);
}

TEST_F(RangeCollectorTest, UntilIsAnInclusiveCommitTime) {
  RangeEnd end;
  end.until_s = 2000;
  RangeCollector c(end, done_, false);
  ASSERT_TRUE(Txn(c, "0-1-1", 100, 200, 1999).ok());
  ASSERT_TRUE(Txn(c, "0-1-2", 200, 300, 2000).ok());
  EXPECT_FALSE(done_);
  ASSERT_TRUE(Txn(c, "0-1-3", 300, 400, 2001).ok());
  EXPECT_TRUE(done_);
  EXPECT_EQ(c.transactions().size(), 2u);
}

TEST_F(RangeCollectorTest, AHeartbeatEndsAServerStream) {
  RangeCollector c(*RangeEnd::ParseStop("binlog.000009:4"), done_, /*stop_at_heartbeat=*/true);
  ASSERT_TRUE(Txn(c, "0-1-1", 100, 200).ok());
  ASSERT_TRUE(c.OnHeartbeat(0).ok());
  EXPECT_TRUE(done_);
  EXPECT_EQ(c.transactions().size(), 1u);
}

TEST_F(RangeCollectorTest, AMariadbServerStreamEndsAtItsGtidPositionNotAtAHeartbeat) {
  // A GTID start: the server may send heartbeats while it skips to it.
  RangeCollector c(RangeEnd{.until_s = 1L << 40}, done_, /*stop_at_heartbeat=*/false,
                   *MariadbGtidList::Parse("0-1-3,1-1-9"), *MariadbGtidList::Parse("0-1-1,1-1-9"));
  EXPECT_FALSE(c.ReachedServerEnd());
  ASSERT_TRUE(c.OnHeartbeat(0).ok());
  EXPECT_FALSE(done_);
  ASSERT_TRUE(Txn(c, "0-1-2", 100, 200).ok());
  EXPECT_FALSE(done_);
  ASSERT_TRUE(Txn(c, "0-1-3", 200, 300).ok());
  EXPECT_TRUE(done_);
  EXPECT_EQ(c.transactions().size(), 2u);
  // Nothing after the start: nothing to read.
  std::atomic<bool> done{false};
  RangeCollector empty(RangeEnd{}, done, false, *MariadbGtidList::Parse("0-1-3"), *MariadbGtidList::Parse("0-1-3"));
  EXPECT_TRUE(empty.ReachedServerEnd());
}

TEST_F(RangeCollectorTest, PartialRowImagesAreRefused) {
  RangeCollector c(*RangeEnd::ParseStop("binlog.000009:4"), done_, false);
  Status st = Txn(c, "0-1-7", 100, 200, 1000, /*partial=*/true);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("column `note` is not in the after image (binlog_row_image is not FULL)"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("`shop`.`t` @ binlog.000001:150 in transaction 0-1-7"), std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace sluice::jobs::flashback
