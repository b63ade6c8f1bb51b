// Snapshots into PostgreSQL (sink/postgres/pg_chunk_target.h) with real
// servers: every type copied exactly, then streamed on; `snapshot: initial`
// under concurrent writes; beside a running stream, also with a streamed
// DELETE of a row a chunk has read (made exact with a sync point); a run
// killed mid-snapshot resumes its plan, and one killed before a keyless
// table's copy committed copies it again without doubling its rows.

#include <sys/wait.h>

#include <fstream>

#include "cli/run_command.h"
#include "sink/postgres/pg_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class PgSnapshotTest : public PgSyncTest {
 protected:
  void Configure(const PipelineOptions& o) {
    http_port_ = FreePort();
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), PgUrl(), o));
  }
  CommandResult Snapshot() {
    return RunSluice("snapshot -c " + ShellQuote(config_) + " --pipeline p --progress plain", 180);
  }
  std::string PgValue(const std::string& sql) {
    auto v = pg_->QueryValue(sql, kPgDb);
    return v.ok() ? *v : "error: " + v.status().message();
  }
  int ChunksDone() {
    auto v = pg_->QueryValue("SELECT count(*) FROM _sluice.snapshot_chunks WHERE done", kPgDb);
    return v.ok() ? std::stoi(*v) : 0;
  }
};

TEST_F(PgSnapshotTest, CopiesEveryTypeExactlyThenStreamsOn) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kTypesSchema).ok());
  ASSERT_TRUE(src_->Execute(kTypesRows).ok());
  ASSERT_TRUE(src_->Execute("SET time_zone = '+00:00'").ok());
  PipelineOptions o;
  o.start = "latest";
  o.extra = "    chunk_rows: 10\n";
  ASSERT_NO_FATAL_FAILURE(Configure(o));
  // More rows than one chunk holds, so the plan has several.
  ASSERT_TRUE(src_->Execute("USE shop; INSERT INTO shop.types (id, vc, biu, js, bl, tm) SELECT seq + 100, "
                            "CONCAT('row\\t', seq), seq, '{\"n\": 1}', 0x5C00, '-01:02:03' FROM seq_1_to_55")
                  .ok());

  CommandResult r = Snapshot();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(PgConverges(kTypesSource, kTypesTarget, seconds(1)));
  EXPECT_TRUE(PgConverges("SELECT msg, n FROM shop.log ORDER BY msg, n", "SELECT msg, n FROM shop.log ORDER BY msg, n",
                          seconds(1)));
  // The plan is forgotten once done; streaming starts where the copy began.
  EXPECT_EQ(PgValue("SELECT count(*) FROM _sluice.snapshot_chunks"), "0");
  EXPECT_NE(PgValue("SELECT resume_position FROM _sluice.checkpoints WHERE pipeline = 'p' AND part = -1"), "");

  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("USE shop; INSERT INTO shop.types (id, vc) VALUES (500, 'after'); "
                            "UPDATE shop.types SET vc = 'changed', d = 2.5 WHERE id = 2; "
                            "DELETE FROM shop.types WHERE id BETWEEN 101 AND 120; "
                            "INSERT INTO shop.log VALUES ('after', 9)")
                  .ok());
  EXPECT_TRUE(PgConverges(kTypesSource, kTypesTarget));
  EXPECT_TRUE(PgConverges("SELECT msg, n FROM shop.log ORDER BY msg, n", "SELECT msg, n FROM shop.log ORDER BY msg, n"));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSnapshotTest, InitialSnapshotUnderConcurrentWritesConverges) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_TRUE(src_->Execute("USE shop; INSERT INTO shop.orders SELECT seq, seq, CONCAT('before ', seq) "
                            "FROM seq_1_to_4000")
                  .ok());
  PipelineOptions o;
  o.start = "latest";
  o.tables = "      - match: \"shop.orders\"\n";
  o.extra = "    chunk_rows: 250\n    snapshot: initial\n";
  ASSERT_NO_FATAL_FAILURE(Configure(o));

  // Writes while the copy runs: new rows, updates and deletes of copied ones.
  std::atomic<bool> stop{false};
  Status written;
  std::jthread writer([&] {
    for (int i = 0; !stop && i < 3000; ++i) {
      int id = 1 + (i * 37) % 4000;
      written = src_->Execute(fmt::format("BEGIN; UPDATE shop.orders SET amount = amount + 1 WHERE id = {0}; "
                                          "INSERT INTO shop.orders VALUES ({1}, {1}, 'during'); "
                                          "DELETE FROM shop.orders WHERE id = {2}; COMMIT",
                                          id, 10000 + i, 1 + (i * 53) % 4000));
      if (!written.ok()) return;
    }
  });
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  // Four chunks copied under the writes, or the whole copy (a fast one can
  // end, and drop its plan, between two looks).
  ASSERT_TRUE(WaitUntil(
      [&] { return ChunksDone() >= 4 || sluice_->FullLog().find("snapshot done") != std::string::npos; },
      seconds(120)))
      << sluice_->Log();
  stop = true;
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(PgConverges(kOrders, kOrders, seconds(120)));
  // The plan is dropped once every chunk is done (the data may converge first).
  EXPECT_TRUE(WaitUntil([&] { return PgValue("SELECT count(*) FROM _sluice.snapshot_chunks") == "0"; }, seconds(120)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// `sluice snapshot` beside a running `sluice run` of the same pipeline: the
// chunks lock the checkpoint table, so no chunk writes back a row older
// than a change the stream already applied.
TEST_F(PgSnapshotTest, SnapshotAlongsideARunningStreamConverges) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_TRUE(src_->Execute("USE shop; INSERT INTO shop.orders SELECT seq, 0, 'before' FROM seq_1_to_6000").ok());
  PipelineOptions o;
  o.start = "latest";
  o.parallel = 2;
  o.batch_size = 20;
  o.tables = "      - match: \"shop.orders\"\n";
  o.extra = "    chunk_rows: 200\n";
  ASSERT_NO_FATAL_FAILURE(Configure(o));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "running", seconds(60)));

  // Every key is updated again and again while the copy runs, so a chunk
  // that wrote back an old image would leave a key behind the source.
  std::atomic<bool> stop{false};
  Status written;
  std::jthread writer([&] {
    for (int round = 1; !stop; ++round) {
      for (int id = 1 + round % 7; !stop && id <= 6000; id += 97) {
        written = src_->Execute(fmt::format("UPDATE shop.orders SET amount = {} WHERE id = {}", round, id));
        if (!written.ok()) return;
      }
    }
  });
  CommandResult r = Snapshot();
  stop = true;
  writer.join();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(PgConverges(kOrders, kOrders, seconds(120)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A chunk has read row 900 and is held (a sync point) before writing it;
// the source deletes row 900 and the stream applies that batch. The batch
// must wait for the chunk before it changes any row: a DELETE run before
// the chunk's insert would match nothing, and the chunk's row would stay.
TEST_F(PgSnapshotTest, StreamedDeleteWaitsForAChunkThatReadTheRow) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_TRUE(src_->Execute("USE shop; INSERT INTO shop.orders SELECT seq, seq, 'before' FROM seq_1_to_1000").ok());
  PipelineOptions o;
  o.start = BinlogEnd(*src_);  // streaming from here, whenever it starts
  o.tables = "      - match: \"shop.orders\"\n";
  o.extra = "    chunk_rows: 5000\n";
  ASSERT_NO_FATAL_FAILURE(Configure(o));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  // A change streamed first: the table and the checkpoint rows exist.
  ASSERT_TRUE(src_->Execute("UPDATE shop.orders SET note = 'streamed' WHERE id = 10").ok());
  ASSERT_TRUE(WaitUntil([&] { return PgValue("SELECT note FROM shop.orders WHERE id = 10") == "streamed"; },
                        seconds(60)))
      << sluice_->Log();

  const std::string go = (dir_ / "go").string();
  const std::string log = (dir_ / "snapshot.log").string();
  ::setenv("SLUICE_SYNC_POINTS", ("pg.chunk.write=wait:" + go).c_str(), 1);
  auto pid = SpawnProcess({SLUICE_BINARY, "snapshot", "-c", config_, "--pipeline", "p", "--progress", "plain"}, log);
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  ASSERT_TRUE(WaitUntil([&] { return TailOfFile(log).find("pg.chunk.write: waiting") != std::string::npos; },
                        seconds(60)))
      << TailOfFile(log);
  // The chunk holds row 900 as it read it. The source deletes it, and the
  // stream's batch waits for the checkpoint table the chunk holds.
  ASSERT_TRUE(src_->Execute("DELETE FROM shop.orders WHERE id = 900").ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        return PgValue("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
                       "query LIKE '%_sluice.checkpoints%'") != "0";
      },
      seconds(60)))
      << sluice_->Log();
  std::ofstream(go).close();
  auto st = WaitForExit(*pid, seconds(60));
  ASSERT_TRUE(st.ok() && st->has_value()) << TailOfFile(log);
  EXPECT_TRUE(WIFEXITED(**st) && WEXITSTATUS(**st) == 0) << DescribeWaitStatus(**st) << "\n" << TailOfFile(log);
  const char* row900 = "SELECT id, amount, note FROM shop.orders WHERE id = 900";
  EXPECT_TRUE(PgConverges(row900, row900, seconds(30))) << "the chunk's row 900 outlived the delete";
  EXPECT_TRUE(PgConverges(kOrders, kOrders, seconds(30)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgSnapshotTest, RunKilledMidSnapshotResumesItsPlan) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_TRUE(src_->Execute("USE shop; INSERT INTO shop.orders SELECT seq, seq % 97, CONCAT('row ', seq) "
                            "FROM seq_1_to_30000")
                  .ok());
  PipelineOptions o;
  o.start = "latest";
  o.parallel = 1;
  o.tables = "      - match: \"shop.orders\"\n";
  o.extra = "    chunk_rows: 300\n    snapshot: initial\n";
  ASSERT_NO_FATAL_FAILURE(Configure(o));
  // Killed (-9, by a sync point) right after its fifth chunk committed, not
  // by a race with a copy that may finish first.
  ::setenv("SLUICE_SYNC_POINTS", "snapshot.chunk.committed=crash@5", 1);
  StartSluice();
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(120))) << "never reached the sync point";
  int done_before = ChunksDone();
  ASSERT_GE(done_before, 3);
  ASSERT_LT(done_before, 100) << "the copy finished before the kill";

  ASSERT_TRUE(src_->Execute("UPDATE shop.orders SET note = 'after the kill' WHERE id % 1000 = 0").ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(PgConverges(kOrders, kOrders, seconds(180)));
  EXPECT_TRUE(WaitUntil([&] { return PgValue("SELECT count(*) FROM _sluice.snapshot_chunks") == "0"; }, seconds(120)));
  // Resumed, not started over: the log says so.
  EXPECT_NE(sluice_->Log().find("resuming the snapshot"), std::string::npos) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Killed (-9) before the keyless audit table's copy committed: the next
// start copies it again, later than the snapshot's start; the stream leaves
// out its changes that copy holds (_sluice.keyless_copies), each row once.
TEST_F(PgSnapshotTest, AKeylessTableCopiedAgainAfterACrashGetsEachRowOnce) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.audit VALUES (1, 'a'), (1, 'a'), (2, 'b')").ok());
  PipelineOptions o;
  o.start = "latest";
  o.parallel = 1;
  o.tables = "      - match: \"shop.audit\"\n";
  o.extra = "    snapshot: initial\n";
  ASSERT_NO_FATAL_FAILURE(Configure(o));
  ::setenv("SLUICE_SYNC_POINTS", ("pg.chunk.write=wait:" + (dir_ / "never").string()).c_str(), 1);
  StartSluice();
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(WaitUntil([&] { return sluice_->FullLog().find("waiting for") != std::string::npos; }, seconds(60)))
      << sluice_->FullLog();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.audit VALUES (3, 'c'); DELETE FROM shop.audit WHERE txn = 1 LIMIT 1")
                  .ok());
  sluice_->Kill();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.audit VALUES (4, 'd')").ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.audit VALUES (5, 'e')").ok());
  EXPECT_TRUE(PgConverges(kAudit, kAudit, seconds(60)));
  EXPECT_EQ(PgValue("SELECT count(*) FROM _sluice.keyless_copies WHERE tbl = 'shop.audit'"), "1");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
