// `sluice run` under faults (design §7) and its HTTP API (design §6), end to
// end: a real sluice process between private MariaDB servers.
//
//   target down / read-only   -> state "retrying", lag grows, nothing applied or dropped, resumes alone
//   source restarted / killed -> reconnects, exactly once
//   a row the target rejects  -> stop (default) naming table, key, position and the target's error,
//                                or skip (on_error: skip) with the row in the skip log
//   kill -9 inside a large transaction applied in pieces over 4 connections -> exact convergence
//
// Exactly once is checked on a keyless audit table (one row per source
// transaction): a replayed insert there is a duplicate row, not an upsert.

#include <fmt/format.h>

#include <atomic>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <sstream>

#include "pipeline/fault_fixture.h"
#include "sink/merge.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// While the target is down: retrying with an error, lag growing, nothing
// applied; after it comes back, every transaction arrives once.
TEST_F(FaultTest, TargetDownRetriesAndResumesAlone) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ConvergesExactly(20));

  Status written;
  std::jthread writer([&] { written = Transactions(*src_, 21, 80, milliseconds(15)); });
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_TRUE(dst_->Crash().ok());
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(10)));
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(1), "dst"));
  Json first = PipelineStatus("p");
  EXPECT_NE(ErrorText(first), "") << first.dump();
  const std::initializer_list<std::string> kDst = {"pipeline=\"p\"", "target=\"dst\""};
  double metric_delay = MetricValue(HttpGet(http_port_, "/metrics").body, "sluice_apply_delay_seconds", kDst);
  std::this_thread::sleep_for(milliseconds(1000));
  Json second = PipelineStatus("p");
  EXPECT_EQ(Str(second, "state"), "retrying") << second.dump();
  EXPECT_EQ(Int(second, "rows_applied"), Int(first, "rows_applied")) << "applied while the target was down";
  EXPECT_GT(Int(second, "delay_ms"), Int(first, "delay_ms")) << "lag does not grow: " << second.dump();
  // The lag an alert watches grows too, and the retries are counted.
  std::string page = HttpGet(http_port_, "/metrics").body;
  EXPECT_GE(MetricValue(page, "sluice_apply_delay_seconds", kDst), metric_delay + 0.5) << page;
  EXPECT_GE(MetricValue(page, "sluice_errors_total", {"pipeline=\"p\"", "kind=\"retryable\""}), 1) << page;
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();

  ASSERT_TRUE(dst_->Restart().ok());
  EXPECT_TRUE(ConvergesExactly(100));
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_EQ(ErrorText(PipelineStatus("p")), "") << "stale error once running again";

  // A target already down when sluice starts is retried the same way.
  sluice_->Kill();
  ASSERT_TRUE(dst_->Crash().ok());
  ASSERT_TRUE(Transactions(*src_, 101, 20).ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(10), "dst"));
  // SIGTERM while retrying is a clean, prompt stop.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(5));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(dst_->Restart().ok());
  EXPECT_TRUE(ConvergesExactly(120));
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_TRUE(sluice_->Running()) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A target that loses transactions it had committed (restored from a backup,
// or the crash of a server that does not flush every commit) holds less than
// sluice applied to it. Its checkpoint rows went back with its rows: sluice
// sees it when it reconnects, says so, and applies again what the target lost.
TEST_F(FaultTest, ATargetThatLostCommittedTransactionsGetsThemAgain) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ConvergesExactly(20));
  // A backup of the target as it is now: its datadir, copied while it is down.
  const std::filesystem::path backup = dir_ / "target-backup";
  ASSERT_TRUE(dst_->Crash().ok());
  std::filesystem::copy(dst_->datadir(), backup, std::filesystem::copy_options::recursive);
  ASSERT_TRUE(dst_->Restart().ok());
  ASSERT_TRUE(Transactions(*src_, 21, 30).ok());
  ASSERT_TRUE(ConvergesExactly(50));

  // Restored from that backup: transactions 21..50 are gone from the target.
  ASSERT_TRUE(dst_->Crash().ok());
  std::filesystem::remove_all(dst_->datadir());
  std::filesystem::copy(backup, dst_->datadir(), std::filesystem::copy_options::recursive);
  ASSERT_TRUE(dst_->Restart().ok());
  ASSERT_TRUE(Transactions(*src_, 51, 10).ok());
  EXPECT_TRUE(ConvergesExactly(60));
  const std::string events = PipelineStatus("p")["events"].dump();
  EXPECT_NE(events.find("went back"), std::string::npos) << events;
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A target server replaced by an empty one at the same address (a container
// re-created without its volume): its checkpoint is gone with its rows. With
// `snapshot: initial` sluice copies the tables into it again and streams on
// from where the copy began, exactly once (the keyless audit table too).
TEST_F(FaultTest, ATargetReplacedByAnEmptyServerIsCopiedAgain) {
  const std::filesystem::path empty = dir_ / "empty-target";
  options_.extra = "    snapshot: initial\n";
  ASSERT_NO_FATAL_FAILURE(StartPair([&] {
    ASSERT_TRUE(dst_->Crash().ok());
    std::filesystem::copy(dst_->datadir(), empty, std::filesystem::copy_options::recursive);
    ASSERT_TRUE(dst_->Restart().ok());
  }));
  ASSERT_TRUE(Transactions(*src_, 1, 30).ok());
  ASSERT_TRUE(ConvergesExactly(30));

  ASSERT_TRUE(dst_->Crash().ok());
  std::filesystem::remove_all(dst_->datadir());
  std::filesystem::copy(empty, dst_->datadir(), std::filesystem::copy_options::recursive);
  ASSERT_TRUE(dst_->Restart().ok());
  ASSERT_TRUE(Transactions(*src_, 31, 10).ok());
  EXPECT_TRUE(ConvergesExactly(40));
  const std::string events = PipelineStatus("p")["events"].dump();
  EXPECT_NE(events.find("went back"), std::string::npos) << events;
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// read_only bites a user without READ_ONLY ADMIN (MariaDB 10.11 split it out
// of SUPER; ALL PRIVILEGES still includes it, so it is revoked).
TEST_F(FaultTest, TargetReadOnlyRetriesAndResumesAlone) {
  ASSERT_NO_FATAL_FAILURE(StartPair([&] {
    ASSERT_TRUE(dst_->CreateUser("app", "pw").ok());
    ASSERT_TRUE(dst_->Execute("REVOKE SUPER, READ_ONLY ADMIN ON *.* FROM 'app'@'%', 'app'@'localhost'").ok());
    target_url_ = dst_->Url("app", "pw");
  }));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ConvergesExactly(20));

  ASSERT_TRUE(dst_->Execute("SET GLOBAL read_only = 1").ok());
  ASSERT_TRUE(Transactions(*src_, 21, 30, milliseconds(10)).ok());
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(10)));
  Json first = PipelineStatus("p");
  EXPECT_NE(ErrorText(first).find("read-only"), std::string::npos) << first.dump();
  auto before = dst_->QueryValue("SELECT COUNT(*) FROM shop.audit");
  std::this_thread::sleep_for(milliseconds(700));
  auto after = dst_->QueryValue("SELECT COUNT(*) FROM shop.audit");
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(*before, "20");
  EXPECT_EQ(*after, "20");
  EXPECT_EQ(Str(PipelineStatus("p"), "state"), "retrying");

  // Started against a read-only target, sluice retries too (even its
  // CREATE ... IF NOT EXISTS of the checkpoint table is refused).
  sluice_->Kill();
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(10), "dst"));
  EXPECT_NE(ErrorText(PipelineStatus("p")).find("read-only"), std::string::npos) << PipelineStatus("p").dump();

  ASSERT_TRUE(dst_->Execute("SET GLOBAL read_only = 0").ok());
  ASSERT_TRUE(Transactions(*src_, 51, 10).ok());
  EXPECT_TRUE(ConvergesExactly(60));
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_EQ(ErrorText(PipelineStatus("p")), "");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The dump connection killed while changes flow, then the source restarted
// while sluice is still catching up: reconnect, nothing lost or doubled.
TEST_F(FaultTest, SourceKilledAndRestartedReconnects) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ConvergesExactly(20));

  Status written;
  std::jthread writer([&] { written = Transactions(*src_, 21, 60, milliseconds(10)); });
  std::this_thread::sleep_for(milliseconds(200));
  Status killed = src_->KillBinlogDumpThreads();
  writer.join();
  ASSERT_TRUE(killed.ok()) << killed.message();
  ASSERT_TRUE(written.ok()) << written.message();
  ASSERT_TRUE(ConvergesExactly(80));

  ASSERT_TRUE(Transactions(*src_, 81, 60).ok());
  ASSERT_TRUE(src_->Restart().ok());
  ASSERT_TRUE(Transactions(*src_, 141, 40).ok());
  ASSERT_TRUE(src_->KillBinlogDumpThreads().ok());
  ASSERT_TRUE(Transactions(*src_, 181, 20).ok());
  EXPECT_TRUE(ConvergesExactly(200));

  // Killed (kill -9) while sluice catches up, down for a while.
  ASSERT_TRUE(Transactions(*src_, 201, 60).ok());
  ASSERT_TRUE(src_->Crash().ok());
  // The outage shows while the source reconnects: not a quiet "running".
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(5)));
  EXPECT_NE(ErrorText(PipelineStatus("p")).find("source"), std::string::npos) << PipelineStatus("p").dump();
  std::this_thread::sleep_for(milliseconds(1000));
  ASSERT_TRUE(src_->Restart().ok());
  ASSERT_TRUE(Transactions(*src_, 261, 20).ok());
  EXPECT_TRUE(ConvergesExactly(280));
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_EQ(ErrorText(PipelineStatus("p")), "") << "stale error once running again";
  EXPECT_TRUE(sluice_->Running()) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A renamed table whose target column is narrower than the source's.
class FaultRejectTest : public FaultTest {
 protected:
  void StartNarrowTarget(const std::string& extra, uint32_t parallel) {
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.customers (id INT PRIMARY KEY, "
                              "code VARCHAR(20))")
                    .ok());
    ASSERT_TRUE(
        dst_->Execute("CREATE DATABASE crm; CREATE TABLE crm.clients (id INT PRIMARY KEY, code VARCHAR(3))").ok());
    PipelineOptions o;
    o.start = BinlogEnd(*src_);
    ASSERT_FALSE(o.start.empty());
    o.tables = "      - match: \"shop.customers\"\n        to: \"crm.clients\"\n";
    o.parallel = parallel;
    o.extra = extra;
    http_port_ = FreePort();
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), o));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  // Good rows 1-4, the bad row 5, good rows 6-7: one source transaction each,
  // in a burst, so that they share a batch.
  void WriteRows() {
    std::string sql;
    for (int id = 1; id <= 7; ++id) {
      sql += fmt::format("INSERT INTO shop.customers VALUES ({}, '{}');", id, id == 5 ? "toolong" : "ab");
    }
    ASSERT_TRUE(src_->Execute(sql).ok());
  }
};

TEST_F(FaultRejectTest, StopsNamingTableKeyPositionAndError) {
  // One connection, so that "the rows after it" are in the failing partition.
  ASSERT_NO_FATAL_FAILURE(StartNarrowTarget("", 1));
  ASSERT_NO_FATAL_FAILURE(WriteRows());
  ASSERT_TRUE(WaitForState("p", "failed", seconds(15)));
  Json s = PipelineStatus("p");
  std::string error = ErrorText(s);
  for (const char* part : {"pipeline p", "`crm`.`clients`", "id=5", "@ binlog.", "Data too long"}) {
    EXPECT_NE(error.find(part), std::string::npos) << "\"" << part << "\" missing from " << error;
  }
  ASSERT_EQ(s["targets"].size(), 1u);
  EXPECT_EQ(Str(s["targets"][0], "state"), "failed");
  // The transactions before the rejected one are applied, none after it.
  auto ids = dst_->Query("SELECT id FROM crm.clients ORDER BY id");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(RowsToText(*ids), "1\n2\n3\n4\n");
  // The log says the same.
  std::string log = sluice_->FullLog();
  EXPECT_NE(log.find("id=5"), std::string::npos) << log;
  EXPECT_NE(log.find("Data too long"), std::string::npos) << log;
  // Named once, not "pipeline p target dst: pipeline p target dst: ...".
  EXPECT_EQ(log.find("target dst: pipeline p"), std::string::npos) << log;
  EXPECT_EQ(error.find("target dst: pipeline p"), std::string::npos) << error;
  // Stopped means stopped: later rows do not arrive.
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.customers VALUES (8, 'ok')").ok());
  std::this_thread::sleep_for(milliseconds(500));
  ids = dst_->Query("SELECT id FROM crm.clients ORDER BY id");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(RowsToText(*ids), "1\n2\n3\n4\n");
  EXPECT_EQ(Str(PipelineStatus("p"), "state"), "failed");
  EXPECT_TRUE(sluice_->Running()) << "the HTTP API stays up to tell what failed";

  // The user widens the column and starts the pipeline again through the
  // API: it resumes at the rejected row, nothing lost or doubled.
  ASSERT_TRUE(dst_->Execute("ALTER TABLE crm.clients MODIFY code VARCHAR(20)").ok());
  HttpReply start = HttpPost(http_port_, "/api/pipelines/p/start");
  EXPECT_EQ(start.status, 200) << start.body;
  EXPECT_TRUE(Converges(*src_, "SELECT id, code FROM shop.customers ORDER BY id", *dst_,
                        "SELECT id, code FROM crm.clients ORDER BY id", seconds(20)));
  EXPECT_TRUE(WaitForState("p", "running", seconds(5)));
  EXPECT_EQ(ErrorText(PipelineStatus("p")), "");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(FaultRejectTest, SkipLogsTheRowAndGoesOn) {
  std::string skip_log = (dir_ / "skipped.jsonl").string();
  ASSERT_NO_FATAL_FAILURE(StartNarrowTarget(fmt::format("    on_error: skip\n    skip_log: {}\n", skip_log), 2));
  ASSERT_NO_FATAL_FAILURE(WriteRows());
  ASSERT_TRUE(src_->Execute("UPDATE shop.customers SET code = 'xyz' WHERE id = 2").ok());
  EXPECT_TRUE(Converges(*src_, "SELECT id, code FROM shop.customers WHERE id <> 5 ORDER BY id", *dst_,
                        "SELECT id, code FROM crm.clients ORDER BY id", seconds(20)));
  EXPECT_EQ(Str(PipelineStatus("p"), "state"), "running");

  std::ifstream in(skip_log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 1u) << sluice_->Log();
  Json j = Json::parse(lines[0], nullptr, false);
  ASSERT_TRUE(j.is_object()) << lines[0];
  EXPECT_EQ(Str(j, "pipeline"), "p");
  EXPECT_EQ(Str(j, "table"), "crm.clients");
  EXPECT_EQ(Str(j, "key"), "id=5");
  EXPECT_TRUE(Str(j, "pos").starts_with("binlog.")) << lines[0];
  EXPECT_NE(Str(j, "error").find("Data too long"), std::string::npos) << lines[0];
  EXPECT_EQ(Str(j["values"], "code"), "toolong") << lines[0];
  EXPECT_NE(sluice_->FullLog().find("skipped (on_error: skip)"), std::string::npos);
  std::string page = HttpGet(http_port_, "/metrics").body;
  EXPECT_EQ(MetricValue(page, "sluice_errors_total", {"pipeline=\"p\"", "kind=\"skipped\""}), 1) << page;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The partition a key of crm.clients(id) goes to among n, as the loader computes it.
uint64_t PartitionOf(int64_t id, uint32_t n) {
  auto table = std::make_shared<TargetTable>();
  table->db = "crm";
  table->table = "clients";
  table->columns = {"id", "code"};
  table->key = {0};
  SinkChange c;
  c.table = table;
  c.values = {Value::Int(id), Value::Null()};
  return sink::KeyHash(c) % n;
}

// Per-partition checkpoints describe today's partitions only: after a stop
// left the four partitions at different places, restarting with another
// `parallel` must not skip what a partition never applied.
TEST_F(FaultRejectTest, ParallelChangedAfterAStopLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartNarrowTarget("", 4));
  // One source transaction: the bad row first, in a partition other than 0,
  // then good rows, some of them in partition 0 (which commits them all).
  int64_t bad = 100;
  while (PartitionOf(bad, 4) == 0) ++bad;
  bool partition0_has_rows = false;
  std::string sql = fmt::format("BEGIN; INSERT INTO shop.customers VALUES ({}, 'toolong');", bad);
  for (int id = 1; id <= 40; ++id) {
    sql += fmt::format("INSERT INTO shop.customers VALUES ({}, 'ab');", id);
    partition0_has_rows |= PartitionOf(id, 4) == 0;
  }
  ASSERT_TRUE(partition0_has_rows);
  ASSERT_TRUE(src_->Execute(sql + "COMMIT").ok());
  ASSERT_TRUE(WaitForState("p", "failed", seconds(15)));
  EXPECT_NE(ErrorText(PipelineStatus("p")).find(fmt::format("id={}", bad)), std::string::npos);
  EXPECT_EQ(sluice_->Stop(), 1 << 8) << "exit status 1: a pipeline had failed\n" << sluice_->Log();

  ASSERT_TRUE(dst_->Execute("ALTER TABLE crm.clients MODIFY code VARCHAR(20)").ok());
  std::string config;
  {
    std::ifstream in(config_);
    config.assign(std::istreambuf_iterator<char>(in), {});
  }
  size_t at = config.find("parallel: 4");
  ASSERT_NE(at, std::string::npos);
  WriteConfig(config.replace(at, 11, "parallel: 1"));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(Converges(*src_, "SELECT id, code FROM shop.customers ORDER BY id", *dst_,
                        "SELECT id, code FROM crm.clients ORDER BY id", seconds(20)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// kill -9 after a batch's partition committed and before the global row
// caught up (it rides with the next batch), then a restart with another
// `parallel`: the keyless rows that partition holds are left out (judged by
// the partitions of the setting before), not inserted again.
TEST_F(FaultTest, ParallelChangedAfterACrashLandsAKeylessRowOnce) {
  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.log (v INT)").ok());
  ASSERT_TRUE(dst_->Execute("CREATE DATABASE shop; CREATE TABLE shop.log (v INT)").ok());
  PipelineOptions o;
  o.start = BinlogEnd(*src_);
  o.parallel = 4;
  o.batch_size = 1;  // a batch per transaction
  http_port_ = FreePort();
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), o));
  // A keyless table's rows all go to one partition: one commit per batch.
  ::setenv("SLUICE_SYNC_POINTS", "mysql.partition.before_commit=crash@2", 1);
  StartSluice();
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.log VALUES (1); INSERT INTO shop.log VALUES (2)").ok());
  ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(30))) << "never reached the sync point";
  auto committed = dst_->QueryValue("SELECT GROUP_CONCAT(v) FROM shop.log");
  ASSERT_TRUE(committed.ok());
  ASSERT_EQ(*committed, "1") << "the first batch did not commit alone: the test shows nothing";

  o.parallel = 2;  // batches in flight from here (the old rows must go all the same)
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), o));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.log VALUES (3)").ok());
  EXPECT_TRUE(Converges(*src_, "SELECT v FROM shop.log ORDER BY v", *dst_, "SELECT v FROM shop.log ORDER BY v",
                        seconds(20)));
  EXPECT_NE(sluice_->FullLog().find("what the partitions of `parallel: 4` applied up to"), std::string::npos)
      << sluice_->FullLog();
  // Past them, the old setting's rows are gone.
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto old = dst_->QueryValue("SELECT COUNT(*) FROM _sluice.checkpoints WHERE resume_position = 'partitions=4'");
        return old.ok() && *old == "0";
      },
      seconds(20)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Crashes at partition commits under two `parallel` settings, then a third:
// the rows of both earlier settings still judge what their partitions applied.
TEST_F(FaultTest, CrashesUnderSeveralParallelSettingsAreExactlyOnce) {
  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  PipelineOptions o;
  o.batch_size = 40;
  http_port_ = FreePort();
  int next = 1;
  for (uint32_t parallel : {4u, 3u}) {
    o.parallel = parallel;
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), o));
    ASSERT_TRUE(Transactions(*src_, next, 120).ok());
    next += 120;
    ::setenv("SLUICE_SYNC_POINTS", "mysql.partition.before_commit=crash@6", 1);
    StartSluice();
    ::unsetenv("SLUICE_SYNC_POINTS");
    ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(60))) << "never reached the sync point";
  }
  o.parallel = 1;
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), o));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, next, 20).ok());
  EXPECT_TRUE(ConvergesExactly(next + 19));
  // The rows of `parallel: 4` are gone by now when the second run passed them before it crashed.
  EXPECT_NE(sluice_->FullLog().find("partition checkpoints of `parallel: 3"), std::string::npos) << sluice_->FullLog();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// kill -9 while one 50k-row transaction is applied in pieces over four
// connections, twice, then again inside a 50k-row UPDATE.
TEST_F(FaultTest, KillNineInsideLargeTransaction) {
  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.big (id INT PRIMARY KEY, v INT NOT NULL, "
                            "pad VARCHAR(20)); INSERT INTO shop.big VALUES (0, 0, 'marker')")
                  .ok());
  PipelineOptions o;
  o.parallel = 4;
  o.batch_size = 500;
  http_port_ = FreePort();
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), o));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  const char* kSums = "SELECT COUNT(*), SUM(v), SUM(id) FROM shop.big";
  ASSERT_TRUE(Converges(*src_, kSums, *dst_, kSums, seconds(20)));

  auto target_count = [&] {
    auto n = dst_->QueryValue("SELECT COUNT(*) FROM shop.big");
    return n.ok() ? std::stoll(*n) : -1;
  };
  // Killed at a partition's commit inside the transaction (applied in
  // pieces of 4 x batch.size rows: about 100 partition commits): early,
  // then again further on.
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("USE shop; INSERT INTO shop.big SELECT seq, seq % 1000, 'row' FROM seq_1_to_50000").ok());
  for (const char* crash : {"mysql.partition.before_commit=crash@3", "mysql.partition.before_commit=crash@40"}) {
    ::setenv("SLUICE_SYNC_POINTS", crash, 1);
    StartSluice();
    ::unsetenv("SLUICE_SYNC_POINTS");
    ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(30))) << "never reached " << crash;
    long long n = target_count();
    EXPECT_LT(n, 50001) << "the kill came after the whole transaction was applied";
    EXPECT_NE(sluice_->FullLog().find("sync point: crash"), std::string::npos) << sluice_->Log();
  }
  StartSluice();
  ASSERT_TRUE(Converges(*src_, kSums, *dst_, kSums, seconds(30)));

  auto target_sum = [&] {
    auto n = dst_->QueryValue("SELECT SUM(v) FROM shop.big");
    return n.ok() ? std::stoll(*n) : -1;
  };
  long long sum_before = target_sum();
  ASSERT_TRUE(src_->Execute("UPDATE shop.big SET v = v + 1, pad = 'updated'").ok());
  ASSERT_TRUE(WaitUntil([&] { return target_sum() > sum_before; }, seconds(20)));
  sluice_->Kill();
  StartSluice();
  ASSERT_TRUE(Converges(*src_, kSums, *dst_, kSums, seconds(30)));
  const char* kPads = "SELECT pad, COUNT(*) FROM shop.big GROUP BY pad ORDER BY pad";
  EXPECT_TRUE(Converges(*src_, kPads, *dst_, kPads, seconds(5)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Two batches in flight on a MySQL target (MysqlLoader, "slots"): a kill -9
// while the later one waits at its partition for the earlier batch's part
// (before it writes a row), or after its vote for the earlier batch to
// commit (which may be committed in some partitions only) loses and
// duplicates nothing: each partition's progress is the later of its two
// checkpoint rows.
TEST_F(FaultTest, KillNineWithTwoBatchesInFlight) {
  options_.parallel = 4;
  options_.batch_size = 12;  // a 300-transaction backlog: about 75 batches
  ::setenv("SLUICE_SYNC_POINTS", "mysql.partition.waits_for_previous_part=crash@7", 1);
  ASSERT_NO_FATAL_FAILURE(StartPair([&] { ASSERT_TRUE(Transactions(*src_, 1, 300).ok()); }));
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(30))) << "never reached the sync point";
  auto applied = dst_->QueryValue("SELECT COUNT(*) FROM shop.audit");
  ASSERT_TRUE(applied.ok());
  EXPECT_LT(std::stoi(*applied), 300) << "the kill came after everything was applied";

  ASSERT_TRUE(Transactions(*src_, 301, 300).ok());
  ::setenv("SLUICE_SYNC_POINTS", "mysql.partition.waits_for_previous_batch=crash@9", 1);
  StartSluice();
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, seconds(30))) << "never reached the sync point";
  applied = dst_->QueryValue("SELECT COUNT(*) FROM shop.audit");
  ASSERT_TRUE(applied.ok());
  EXPECT_LT(std::stoi(*applied), 600) << "the kill came after everything was applied";
  EXPECT_NE(sluice_->FullLog().find("sync point: crash"), std::string::npos) << sluice_->Log();

  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(ConvergesExactly(600));
  // Both slots of some partition wrote a checkpoint row.
  auto slot_rows = dst_->QueryValue("SELECT COUNT(*) FROM `_sluice`.`checkpoints` WHERE part >= 4");
  ASSERT_TRUE(slot_rows.ok());
  EXPECT_NE(*slot_rows, "0");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The HTTP API of a running `sluice run` (design §6).
class RunHttpTest : public FaultTest {};

TEST_F(RunHttpTest, StatusMetricsStopStartPosition) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  HttpReply health = HttpGet(http_port_, "/healthz");
  EXPECT_EQ(health.status, 200) << health.error;
  EXPECT_EQ(health.body, "ok");

  ASSERT_TRUE(Transactions(*src_, 1, 10).ok());
  ASSERT_TRUE(ConvergesExactly(10));
  ASSERT_TRUE(WaitForState("p", "running", seconds(5)));

  HttpReply list = HttpGet(http_port_, "/api/pipelines");
  ASSERT_EQ(list.status, 200) << list.body;
  Json all = Json::parse(list.body, nullptr, false);
  ASSERT_TRUE(all.is_array() && all.size() == 1) << list.body;
  const Json& p = all[0];
  for (const char* key :
       {"name", "state", "source_position", "applied_position", "delay_ms", "rows_applied", "last_error"}) {
    EXPECT_TRUE(p.contains(key)) << key << " missing: " << list.body;
  }
  EXPECT_EQ(Str(p, "name"), "p");
  EXPECT_EQ(Str(p, "state"), "running");
  EXPECT_TRUE(Str(p, "source_position").starts_with("binlog.")) << list.body;
  EXPECT_TRUE(Str(p, "applied_position").starts_with("binlog.")) << list.body;
  // 10 transactions x (insert + update + audit), the update of id 0 matching nothing.
  EXPECT_GE(Int(p, "rows_applied"), 29) << list.body;
  EXPECT_TRUE(p["last_error"].is_null()) << list.body;

  HttpReply delay = HttpGet(http_port_, "/api/pipelines/p/delay");
  ASSERT_EQ(delay.status, 200) << delay.body;
  Json d = Json::parse(delay.body, nullptr, false);
  EXPECT_EQ(Str(d, "name"), "p") << delay.body;
  EXPECT_TRUE(d.contains("delay_ms") && d["delay_ms"].is_number()) << delay.body;

  HttpReply alias = HttpGet(http_port_, "/api/pipeline/status?id=p");
  ASSERT_EQ(alias.status, 200) << alias.body;
  Json a = Json::parse(alias.body, nullptr, false);
  EXPECT_EQ(Str(a, "name"), "p") << alias.body;
  EXPECT_EQ(Str(a, "state"), "running") << alias.body;
  HttpReply alias_delay = HttpGet(http_port_, "/api/pipeline/delay?id=p");
  ASSERT_EQ(alias_delay.status, 200) << alias_delay.body;
  EXPECT_TRUE(Json::parse(alias_delay.body, nullptr, false).contains("delay_ms")) << alias_delay.body;
  EXPECT_EQ(HttpGet(http_port_, "/api/pipelines/nope/status").status, 404);

  HttpReply metrics = HttpGet(http_port_, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_GE(MetricValue(metrics.body, "sluice_rows_total", {"pipeline=\"p\"", "stage=\"apply\""}), 29) << metrics.body;
  for (const char* family : {"sluice_apply_seconds_bucket{", "sluice_queue_bytes{", "sluice_apply_delay_seconds{"}) {
    EXPECT_NE(metrics.body.find(family), std::string::npos) << family << " missing:\n" << metrics.body;
  }

  // Moving the position of a running pipeline is refused.
  HttpReply moved = HttpPost(http_port_, "/api/pipelines/p/position", R"({"position":"latest"})");
  EXPECT_EQ(moved.status, 409) << moved.body;

  // Stop and start while clients poll the status and metrics.
  std::atomic<bool> polling{true};
  std::atomic<int> polls{0};
  std::jthread poller([&] {
    while (polling) {
      if (HttpGet(http_port_, "/api/pipelines").status == 200 && HttpGet(http_port_, "/metrics").status == 200) {
        ++polls;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
  });

  // Stop: nothing more is applied.
  HttpReply stop = HttpPost(http_port_, "/api/pipelines/p/stop");
  ASSERT_EQ(stop.status, 200) << stop.body;
  EXPECT_EQ(Str(Json::parse(stop.body, nullptr, false), "state"), "stopped") << stop.body;
  ASSERT_TRUE(Transactions(*src_, 11, 10).ok());
  std::this_thread::sleep_for(milliseconds(800));
  auto stopped_count = dst_->QueryValue("SELECT COUNT(*) FROM shop.audit");
  ASSERT_TRUE(stopped_count.ok());
  EXPECT_EQ(*stopped_count, "10");
  EXPECT_EQ(Str(PipelineStatus("p"), "state"), "stopped");

  // Start: it resumes from its checkpoint and catches up.
  HttpReply start = HttpPost(http_port_, "/api/pipelines/p/start");
  ASSERT_EQ(start.status, 200) << start.body;
  ASSERT_TRUE(Transactions(*src_, 21, 10).ok());
  EXPECT_TRUE(ConvergesExactly(30));
  EXPECT_TRUE(WaitForState("p", "running", seconds(5)));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(HttpPost(http_port_, "/api/pipelines/p/stop").status, 200);
    EXPECT_EQ(HttpPost(http_port_, "/api/pipelines/p/start").status, 200);
  }
  polling = false;
  poller.join();
  EXPECT_GT(polls.load(), 0);
  ASSERT_TRUE(sluice_->Running()) << sluice_->Log();

  // A stop through the API outlives the process.
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/stop").status, 200);
  sluice_->Kill();
  ASSERT_TRUE(Transactions(*src_, 31, 5).ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_NE(sluice_->FullLog().find("left stopped"), std::string::npos) << sluice_->Log();
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(Str(PipelineStatus("p"), "state"), "stopped");
  auto count = dst_->QueryValue("SELECT COUNT(*) FROM shop.audit");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, "30");
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/start").status, 200);
  EXPECT_TRUE(ConvergesExactly(35));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// POST position moves a stopped pipeline: what was written before the new
// position is not applied, what comes after is.
TEST_F(RunHttpTest, PositionMovesAStoppedPipeline) {
  ASSERT_NO_FATAL_FAILURE(StartPair());
  ASSERT_TRUE(Transactions(*src_, 1, 10).ok());
  ASSERT_TRUE(ConvergesExactly(10));
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/stop").status, 200);
  ASSERT_TRUE(Transactions(*src_, 11, 10).ok());  // skipped by the move
  std::string to = BinlogEnd(*src_);
  HttpReply bad = HttpPost(http_port_, "/api/pipelines/p/position", R"({"position":"nonsense"})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  HttpReply moved = HttpPost(http_port_, "/api/pipelines/p/position", fmt::format(R"({{"position":"{}"}})", to));
  EXPECT_EQ(moved.status, 200) << moved.body;
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/start").status, 200);
  ASSERT_TRUE(Transactions(*src_, 21, 10).ok());
  const char* kAuditTxns = "SELECT txn FROM shop.audit WHERE txn <= 10 OR txn > 20 ORDER BY txn";
  EXPECT_TRUE(Converges(*src_, kAuditTxns, *dst_, "SELECT txn FROM shop.audit ORDER BY txn", seconds(20)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
