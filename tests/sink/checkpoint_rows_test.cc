// OldPartitionRows and RenamedFrom: what MySQL and PostgreSQL targets make of
// their checkpoint rows (the targets' own tests run them against the servers).

#include "sink/checkpoint_rows.h"

#include <gtest/gtest.h>

#include "core/change_event.h"

namespace sluice::sink {
namespace {

StreamPos At(uint64_t offset) { return StreamPos{"binlog.000001", offset, 0}; }

SinkChange ChangeAt(uint64_t offset) {
  SinkChange ch;
  ch.pos = At(offset);
  return ch;
}

TEST(OldPartitionRowsTest, EachSettingJudgesTheChangesItsPartitionsCommitted) {
  OldPartitionRows rows;
  // parallel 2 with two slots per partition: parts 0..3, part % 2 the partition.
  EXPECT_TRUE(rows.Add("partitions=2", 0, 2, At(100)));
  EXPECT_TRUE(rows.Add("partitions=2", 2, 2, At(300)));  // partition 0's later slot
  EXPECT_TRUE(rows.Add("partitions=2", 1, 2, At(150)));
  EXPECT_TRUE(rows.Add("partitions=3", 2, 1, At(400)));
  EXPECT_FALSE(rows.Add("partitions=3", 3, 1, At(400)));  // outside it
  EXPECT_FALSE(rows.Add("", 0, 1, At(400)));
  EXPECT_FALSE(rows.Add("partitions=x", 0, 1, At(400)));
  rows.Finish(At(120));
  EXPECT_EQ(rows.until(), At(400));
  EXPECT_EQ(rows.Settings(), "2, 3");

  // A change's partition among n is given; here offset / 10 % n.
  auto partition_of = [](const SinkChange& ch, uint32_t n) {
    return static_cast<uint32_t>(ch.pos.txn_offset / 10 % n);
  };
  EXPECT_TRUE(rows.Applied(ChangeAt(280), partition_of));   // partition 0 of 2 (28 % 2): up to 300
  EXPECT_FALSE(rows.Applied(ChangeAt(310), partition_of));  // partition 1 of 2 (31 % 2) and 1 of 3 (31 % 3)
  EXPECT_TRUE(rows.Applied(ChangeAt(380), partition_of));   // partition 2 of 3 (38 % 3): up to 400
  EXPECT_FALSE(rows.Applied(ChangeAt(500), partition_of));  // past until
  SinkChange cascade = ChangeAt(280);
  cascade.kind = SinkChange::Kind::kCascade;
  EXPECT_FALSE(rows.Applied(cascade, partition_of));  // applied with the global row only

  rows.Clear();
  EXPECT_TRUE(rows.empty());
  EXPECT_FALSE(rows.Applied(ChangeAt(280), partition_of));
}

TEST(OldPartitionRowsTest, RowsBehindTheGlobalCheckpointLeaveNothingToJudge) {
  OldPartitionRows rows;
  EXPECT_TRUE(rows.Add("partitions=4", 1, 1, At(100)));
  rows.Finish(At(200));
  EXPECT_FALSE(rows.empty());  // still there, to be deleted
  EXPECT_TRUE(rows.until().empty());
}

TEST(CommittedRowsTest, ARowBehindWhatWasCommittedToItIsALoss) {
  CommittedRows committed;
  EXPECT_TRUE(committed.Check({}, "dst").ok());  // nothing committed yet: nothing to lose
  committed.Note(-1, At(100));
  committed.Note(0, At(300));
  committed.Note(0, At(200));  // an older batch's commit seen later keeps the furthest
  committed.Note(5, At(300));
  EXPECT_TRUE(committed.Check({{-1, At(100)}, {0, At(300)}, {5, At(300)}}, "dst").ok());
  EXPECT_TRUE(committed.Check({{-1, At(400)}, {0, At(400)}, {5, At(300)}, {7, At(1)}}, "dst").ok());  // ahead: fine

  Status behind = committed.Check({{-1, At(100)}, {0, At(200)}, {5, At(300)}}, "dst");
  EXPECT_EQ(behind.code(), StatusCode::kTargetRewound);
  EXPECT_NE(behind.message().find("target dst went back: its checkpoint (partition row 0) held binlog.000001:300"),
            std::string::npos)
      << behind.message();
  Status gone = committed.Check({{-1, At(100)}, {0, At(300)}}, "dst");
  EXPECT_EQ(gone.code(), StatusCode::kTargetRewound);
  EXPECT_NE(gone.message().find("(partition row 5) held binlog.000001:300#0 and now is gone"), std::string::npos)
      << gone.message();
  Status global = committed.Check({{-1, At(50)}, {0, At(300)}, {5, At(300)}}, "dst");
  EXPECT_NE(global.message().find("its checkpoint held binlog.000001:100#0 and now holds binlog.000001:50#0"),
            std::string::npos)
      << global.message();
  committed.Clear();  // replaced on purpose
  EXPECT_TRUE(committed.Check({}, "dst").ok());
}

TEST(RenamedFromTest, TakesTheOneFormerNameAndNothingElse) {
  const std::vector<std::string> former{"dst", "old"};
  auto r = RenamedFrom({"dst", "elsewhere"}, "p", "reporting", former, "DELETE ...");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "dst");
  r = RenamedFrom({"reporting", "dst"}, "p", "reporting", former, "DELETE ...");  // its own
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "");
  r = RenamedFrom({"elsewhere"}, "p", "reporting", former, "DELETE ...");  // never ran here
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "");
  r = RenamedFrom({"dst"}, "p", "reporting", {}, "DELETE ...");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "");
  r = RenamedFrom({"old", "dst"}, "p", "reporting", former, "DELETE FROM x WHERE target = 'NAME'");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("(dst, old), and none under reporting"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("DELETE FROM x WHERE target = 'NAME'"), std::string::npos);
}

}  // namespace
}  // namespace sluice::sink
