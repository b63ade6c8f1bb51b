// Parallel apply into PostgreSQL (`parallel: 4`): several partitions, each
// committing its own checkpoint row; sluice killed (SIGKILL, at a named
// sync point) between the partitions' commits of a batch, and the target
// restarted mid-stream. Every change must arrive exactly once (the keyless
// audit table would show a replayed one as a duplicate row) and in order
// per key (orders are updated again and again: a stale image would remain).

#include <stdlib.h>

#include <algorithm>

#include "core/change_event.h"
#include "sink/postgres/pg_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class PgParallelTest : public PgSyncTest {
 protected:
  void TearDown() override {
    ::unsetenv("SLUICE_SYNC_POINTS");
    PgSyncTest::TearDown();
  }

  // Starts sluice with SLUICE_SYNC_POINTS=`sync_points` (empty: none).
  void StartSluiceWithSyncPoints(const std::string& sync_points) {
    if (sync_points.empty()) {
      ::unsetenv("SLUICE_SYNC_POINTS");
    } else {
      ::setenv("SLUICE_SYNC_POINTS", sync_points.c_str(), 1);
    }
    StartSluice();
    ::unsetenv("SLUICE_SYNC_POINTS");
  }

  ::testing::AssertionResult ConvergesExactly(int transactions) {
    auto orders = PgConverges(kOrders, kOrders);
    if (!orders) return orders;
    auto audit = PgConverges(kAudit, kAudit);
    if (!audit) return audit;
    auto n = pg_->QueryValue("SELECT count(*) FROM shop.audit", kPgDb);
    if (!n.ok()) return ::testing::AssertionFailure() << n.status().message();
    if (*n != std::to_string(transactions)) {
      return ::testing::AssertionFailure() << "audit rows on the target: " << *n << ", want " << transactions;
    }
    return ::testing::AssertionSuccess();
  }

  // Partition rows of pipeline p ahead of its global row: a batch that some
  // partitions committed and others did not (or whose global row is missing).
  long long PartitionsAhead() {
    auto rows = PgQuery("SELECT part, position FROM _sluice.checkpoints WHERE pipeline = 'p' AND part >= -1");
    if (!rows.ok()) return -1;
    StreamPos global;
    std::vector<StreamPos> parts;
    for (const auto& r : *rows) {
      StreamPos pos;
      if (r.size() < 2 || !r[1] || !StreamPos::Parse(*r[1], &pos)) return -1;
      (r[0] == "-1" ? global : parts.emplace_back()) = pos;
    }
    return std::count_if(parts.begin(), parts.end(), [&](const StreamPos& p) { return global < p; });
  }
};

TEST_F(PgParallelTest, PartitionsCommitTheirOwnCheckpoints) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  PipelineOptions o;
  o.parallel = 4;
  o.batch_size = 100;
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  ASSERT_TRUE(Transactions(*src_, 1, 200).ok());
  EXPECT_TRUE(ConvergesExactly(200));
  // Four partition rows recording the partitioning, beside the global one.
  auto parts = PgQuery("SELECT part, resume_position FROM _sluice.checkpoints WHERE pipeline = 'p' AND part >= 0 "
                       "ORDER BY part");
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  EXPECT_EQ(RowsToText(*parts), "0|partitions=4\n1|partitions=4\n2|partitions=4\n3|partitions=4\n");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// SIGKILL right after a partition committed: the others of the batch have
// not (or some have), and the global row still records the batch before.
TEST_F(PgParallelTest, KilledBetweenPartitionCommitsIsExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  PipelineOptions o;
  o.parallel = 4;
  o.batch_size = 40;
  http_port_ = FreePort();
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), PgUrl(), o));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  StartSluiceWithSyncPoints("");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(ConvergesExactly(20));

  // Each round leaves a backlog (so the sync point is surely reached), then
  // sluice dies at the 3rd, 6th, 10th partition commit after its start.
  int next = 21;
  for (int at : {3, 6, 10}) {
    sluice_->Kill();
    ASSERT_TRUE(Transactions(*src_, next, 80).ok());
    next += 80;
    StartSluiceWithSyncPoints(fmt::format("pg.partition.committed=crash@{}", at));
    ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(120)))
        << "sluice did not reach its sync point\n" << sluice_->Log();
    EXPECT_NE(sluice_->Log().find("sync point: crash"), std::string::npos) << sluice_->Log();
    // What the crash left behind: a partition row ahead of the global one.
    EXPECT_GE(PartitionsAhead(), 1);
  }
  // Then once more mid-stream, by kill -9 from outside, while changes flow.
  StartSluiceWithSyncPoints("");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  Status written;
  std::jthread writer([&] { written = Transactions(*src_, next, 160, milliseconds(2)); });
  auto applied = [&] {
    auto n = pg_->QueryValue("SELECT count(*) FROM shop.audit", kPgDb);
    return n.ok() ? std::stoll(*n) : 0;
  };
  ASSERT_TRUE(WaitUntil([&] { return applied() >= next + 20; }, seconds(120))) << sluice_->Log();
  sluice_->Kill();
  StartSluiceWithSyncPoints("");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(ConvergesExactly(next + 159));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// kill -9 at a partition commit, then the target restarted while sluice
// catches up with four partitions.
TEST_F(PgParallelTest, KilledThenTargetRestartedConverges) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  PipelineOptions o;
  o.parallel = 4;
  o.batch_size = 30;
  http_port_ = FreePort();
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), PgUrl(), o));
  ASSERT_TRUE(Transactions(*src_, 1, 300).ok());
  StartSluiceWithSyncPoints("pg.partition.committed=crash@7");
  ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(120))) << sluice_->Log();
  EXPECT_GE(PartitionsAhead(), 1);

  StartSluiceWithSyncPoints("");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  auto applied = [&] {
    auto n = pg_->QueryValue("SELECT count(*) FROM shop.audit", kPgDb);
    return n.ok() ? std::stoll(*n) : 0;
  };
  Status written;
  std::jthread writer([&] { written = Transactions(*src_, 301, 200, milliseconds(3)); });
  ASSERT_TRUE(WaitUntil([&] { return applied() >= 350; }, seconds(120))) << sluice_->Log();
  ASSERT_TRUE(pg_->Stop().ok());
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(60), "dst"));
  ASSERT_TRUE(pg_->Restart().ok());
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(ConvergesExactly(500));
  EXPECT_TRUE(WaitForState("p", "running", seconds(60)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// `parallel` changed after a crash left a partition ahead of the global
// row: the partitions of the old setting still say what they applied (a
// keyless table's rows all go to one partition: replayed, a row lands twice).
TEST_F(PgParallelTest, ParallelChangedAfterACrashLandsAKeylessRowOnce) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.log (v INT)").ok());
  PipelineOptions o;
  o.start = BinlogEnd(*src_);
  o.parallel = 4;
  o.batch_size = 1;  // a batch per transaction, each one partition's commit
  http_port_ = FreePort();
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), PgUrl(), o));
  StartSluiceWithSyncPoints("pg.partition.committed=crash@2");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.log VALUES (1); INSERT INTO shop.log VALUES (2)").ok());
  ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(60))) << "never reached the sync point";
  ASSERT_EQ(PartitionsAhead(), 1) << "the second batch's partition is not ahead: the test shows nothing";

  o.parallel = 2;
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), PgUrl(), o));
  StartSluiceWithSyncPoints("");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.log VALUES (3)").ok());
  EXPECT_TRUE(PgConverges("SELECT v FROM shop.log ORDER BY v", "SELECT v FROM shop.log ORDER BY v"));
  EXPECT_NE(sluice_->FullLog().find("what the partitions of `parallel: 4` applied up to"), std::string::npos)
      << sluice_->FullLog();
  // Past them, the old setting's rows are gone.
  auto old = pg_->QueryValue("SELECT count(*) FROM _sluice.checkpoints WHERE resume_position = 'partitions=4'",
                             kPgDb);
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(*old, "0");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Crashes with partitions ahead under two settings, then a third: each old
// setting's partitions still judge what they applied.
TEST_F(PgParallelTest, CrashesUnderSeveralParallelSettingsAreExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  PipelineOptions o;
  o.batch_size = 40;
  http_port_ = FreePort();
  int next = 1;
  for (uint32_t parallel : {4u, 3u}) {
    o.parallel = parallel;
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), PgUrl(), o));
    ASSERT_TRUE(Transactions(*src_, next, 120).ok());
    next += 120;
    StartSluiceWithSyncPoints("pg.partition.committed=crash@5");
    ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(120)))
        << "sluice did not reach its sync point\n" << sluice_->Log();
    EXPECT_GE(PartitionsAhead(), 1);
  }
  o.parallel = 1;
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), PgUrl(), o));
  StartSluiceWithSyncPoints("");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, next, 20).ok());
  EXPECT_TRUE(ConvergesExactly(next + 19));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A target renamed in the configuration takes over the checkpoint (global
// and partition rows) its old name left in the database: nothing replayed
// from the start (the keyless audit rows would land twice), nothing missed.
TEST_F(PgParallelTest, ATargetRenamedInTheConfigurationGoesOnWhereItStopped) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  PipelineOptions o;
  o.parallel = 2;
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  ASSERT_TRUE(Transactions(*src_, 1, 10).ok());
  ASSERT_TRUE(ConvergesExactly(10));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 11, 10).ok());
  ASSERT_NO_FATAL_FAILURE(RenameTargetInConfig("dst", "reporting"));
  StartSluiceWithSyncPoints("");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 21, 10).ok());
  EXPECT_TRUE(ConvergesExactly(30));
  EXPECT_NE(sluice_->Log().find("took over the checkpoint of target dst"), std::string::npos) << sluice_->Log();
  auto names = pg_->QueryValue("SELECT string_agg(DISTINCT target, ',') FROM _sluice.checkpoints", kPgDb);
  ASSERT_TRUE(names.ok()) << names.status().message();
  EXPECT_EQ(*names, "reporting");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
