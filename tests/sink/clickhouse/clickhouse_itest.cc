// `sluice run` from a real MariaDB into a real ClickHouse 18.16: every type,
// updates, deletes, key changes, DDL, on_error for dates ClickHouse cannot
// hold, and the faults (sluice killed, ClickHouse down) after which
// `SELECT ... FINAL WHERE _sign = 1` must still equal the source.

#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "harness/clickhouse_server.h"
#include "pipeline/fault_fixture.h"
#include "pipeline/foreign_keys_fixture.h"

namespace sluice::testing {
namespace {

class ClickhouseRunTest : public SyncTest {
 protected:
  void StartAll(const std::string& schema, const PipelineOptions& o = {}) {
    src_ = StartServer(1);
    ASSERT_TRUE(src_);
    auto ch = ClickhouseServer::Start(ch_config_);
    ASSERT_TRUE(ch.ok()) << ch.status().message();
    ch_ = std::move(ch).value();
    ASSERT_TRUE(src_->Execute(schema).ok());
    ASSERT_TRUE(src_->Execute("SET time_zone = '+00:00'").ok());
    http_port_ = FreePort();
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), ch_->Url("default"), o));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }

  // ClickHouse rows as RowsToText renders MariaDB's (NULL for \N).
  std::string ChText(const std::string& sql, std::string* error) {
    auto rows = ch_->Rows(sql + " FORMAT TabSeparated");
    if (!rows.ok()) {
      *error = rows.status().message();
      return "";
    }
    MariadbServer::Rows out;
    for (const auto& r : *rows) {
      MariadbServer::Row row;
      for (const auto& f : r) row.push_back(f == "\\N" ? std::nullopt : std::optional<std::string>(f));
      out.push_back(std::move(row));
    }
    return RowsToText(out);
  }

  // Waits until the ClickHouse query returns what the MariaDB query returns.
  ::testing::AssertionResult ChConverges(const std::string& src_query, const std::string& ch_query,
                                         std::chrono::seconds timeout = std::chrono::seconds(90)) {
    std::string want, got, error;
    bool ok = WaitUntil(
        [&] {
          auto a = src_->Query(src_query);
          if (!a.ok()) {
            error = a.status().message();
            return false;
          }
          want = RowsToText(*a);
          error.clear();
          got = ChText(ch_query, &error);
          return error.empty() && want == got;
        },
        timeout);
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "no convergence for " << ch_query << "\n"
                                         << (error.empty() ? "" : "error: " + error + "\n") << RowsDiff(want, got)
                                         << "sluice log:\n"
                                         << (sluice_ ? sluice_->Log() : "");
  }

  std::unique_ptr<MariadbServer> src_;
  std::unique_ptr<ClickhouseServer> ch_;
  std::string ch_config_;  // ClickhouseServer::Start's extra_config
};

constexpr const char* kAllTypes = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.t (
  id INT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, bi BIGINT, bu BIGINT UNSIGNED NOT NULL,
  f FLOAT, d DOUBLE, dec2 DECIMAL(12,2) NOT NULL, dbig DECIMAL(40,10),
  dt DATE, dtm DATETIME NOT NULL, ts TIMESTAMP NULL, dt6 DATETIME(6), tm TIME, y YEAR,
  b BIT(5), e ENUM('a','b'), st SET('x','y'), j JSON,
  vc VARCHAR(40), txt TEXT, bin VARBINARY(10), n INT NULL);
)sql";

constexpr const char* kAllTypesSource =
    "SELECT id, ti, tu, si, mi, bi, bu, f, d, dec2, dbig, dt, dtm, ts, dt6, tm, y, b+0, e, st, j, vc, txt, HEX(bin), n "
    "FROM shop.t ORDER BY id";
constexpr const char* kAllTypesTarget =
    "SELECT id, ti, tu, si, mi, bi, bu, f, d, dec2, dbig, dt, dtm, ts, dt6, tm, y, b, e, st, j, vc, txt, hex(bin), n "
    "FROM shop.t FINAL WHERE _sign = 1 ORDER BY id";

TEST_F(ClickhouseRunTest, AllTypesUpdatesDeletesAndKeyChangesConverge) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kAllTypes));
  ASSERT_TRUE(src_->Execute(R"sql(
INSERT INTO shop.t VALUES
 (1, -128, 255, -32768, -8388608, -9223372036854775808, 18446744073709551615, 0.1, 0.1, -1234567890.12,
  '-123456789012345678901234567890.0123456789', '1970-01-02', '2105-12-31 23:59:59', '2038-01-19 03:14:07',
  '2024-01-31 12:34:56.789012', '-838:59:59', 1901, b'10101', 'b', 'x,y', '{"k": [1, "two"]}',
  'héllo\ttab\nline', 'text with \\ backslash', X'00FF5C0A', NULL),
 (2, 127, 0, 32767, 8388607, 9223372036854775807, 0, -2.25, 1.5, 0.00, NULL, NULL, '0000-00-00 00:00:00', NULL,
  NULL, '12:00:01', 2155, b'0', NULL, '', NULL, '', NULL, X'', 7),
 (3, 0, 1, 0, 0, 0, 1, 1.5, -0.25, 1.00, '0.0000000001', '2024-02-29', '2024-02-29 00:00:00', '1970-01-01 00:00:01',
  '2000-01-01 00:00:00.000000', '00:00:00', 2000, b'11111', 'a', 'y', '[]', 'x', 'y', X'01', -1);
BEGIN;
UPDATE shop.t SET n = 1 WHERE id = 3;
UPDATE shop.t SET n = 2, vc = 'twice in one transaction' WHERE id = 3;
COMMIT;
UPDATE shop.t SET id = 30 WHERE id = 2;
DELETE FROM shop.t WHERE id = 1;
INSERT INTO shop.t (id, bu, dec2, dtm) VALUES (1, 5, 5.55, '2001-02-03 04:05:06');
BEGIN;
INSERT INTO shop.t (id, bu, dec2, dtm) VALUES (4, 4, 4, '2004-04-04 04:04:04');
DELETE FROM shop.t WHERE id = 4;
COMMIT;
)sql")
                  .ok());
  EXPECT_TRUE(ChConverges(kAllTypesSource, kAllTypesTarget));
  // Deleted rows stay as versions with _sign = -1 until merged; FINAL keeps the last.
  auto deleted = ch_->Query("SELECT count() FROM shop.t FINAL WHERE _sign = -1 AND id = 2");
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, "1\n");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// fault_fixture.h's schema with a key on audit: ClickHouse tables need one.
constexpr const char* kKeyedSchema = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT NOT NULL, note VARCHAR(40));
CREATE TABLE shop.audit (txn INT PRIMARY KEY, msg VARCHAR(40));
)sql";
constexpr const char* kChOrders = "SELECT id, amount, note FROM shop.orders FINAL WHERE _sign = 1 ORDER BY id";
constexpr const char* kChAudit = "SELECT txn, msg FROM shop.audit FINAL WHERE _sign = 1 ORDER BY txn, msg";

TEST_F(ClickhouseRunTest, KillOfSluiceThenRestartConverges) {
  PipelineOptions o;
  o.batch_size = 20;
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema, o));
  std::thread writer([&] { ASSERT_TRUE(Transactions(*src_, 1, 400).ok()); });
  // Kill sluice while batches are being written.
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto n = ch_->Query("SELECT count() FROM shop.audit");
        return n.ok() && std::atoi(n->c_str()) >= 50;
      },
      std::chrono::seconds(90)))
      << sluice_->Log();
  sluice_->Kill();
  writer.join();
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 401, 50).ok());
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_TRUE(ChConverges(kAudit, kChAudit));
  // Rows written again after the kill carry the versions they had: one
  // (key, _version) never holds two different rows.
  auto differing = ch_->Query(
      "SELECT count() FROM (SELECT id, _version FROM shop.orders GROUP BY id, _version "
      "HAVING uniqExact(amount, ifNull(note, ''), _sign) > 1)");
  ASSERT_TRUE(differing.ok()) << differing.status().message();
  EXPECT_EQ(*differing, "0\n");
  // The checkpoint is in ClickHouse: a third start resumes there and writes nothing new.
  auto cp = ch_->Query("SELECT global_pos FROM _sluice.checkpoints FINAL WHERE pipeline = 'p' AND target = 'dst'");
  ASSERT_TRUE(cp.ok()) << cp.status().message();
  EXPECT_NE(*cp, "") << "no checkpoint row";
}

// A target renamed in the configuration takes over its old name's
// checkpoint: the changes made while sluice was stopped arrive (with
// `start: latest` the renamed target would begin after them).
TEST_F(ClickhouseRunTest, ATargetRenamedInTheConfigurationGoesOnWhereItStopped) {
  PipelineOptions o;
  o.start = "latest";
  o.tables = "      - match: \"shop.orders\"\n";
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema, o));
  ASSERT_TRUE(WaitForState("p", "running"));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_EQ(sluice_->Stop(), 0);
  ASSERT_TRUE(Transactions(*src_, 6, 5).ok());
  ASSERT_NO_FATAL_FAILURE(RenameTargetInConfig("dst", "warehouse"));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 11, 5).ok());
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_NE(sluice_->Log().find("took over the checkpoint of target dst"), std::string::npos) << sluice_->Log();
  auto names = ch_->Query("SELECT target FROM _sluice.checkpoints FINAL WHERE resume_position != ''");
  ASSERT_TRUE(names.ok()) << names.status().message();
  EXPECT_EQ(*names, "warehouse\n");
}

TEST_F(ClickhouseRunTest, ClickhouseDownThenUpRetriesAndConverges) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  ASSERT_TRUE(ch_->Stop().ok());
  ASSERT_TRUE(Transactions(*src_, 21, 30).ok());
  EXPECT_TRUE(WaitForState("p", "retrying", std::chrono::seconds(60), "dst"));
  ASSERT_TRUE(ch_->Restart().ok());
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_TRUE(ChConverges(kAudit, kChAudit));
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(60), "dst"));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// ClickHouse restored from a backup (or back from a crash that lost parts
// it had acknowledged: it does not fsync them by default) holds less than
// sluice wrote, its checkpoint with it. sluice sees that before it writes
// again (here no request of sluice's fails meanwhile: over HTTP the next
// one silently makes a new connection, so the closed one makes it read the
// checkpoint first) and writes again what the server lost.
TEST_F(ClickhouseRunTest, ClickhouseRestoredFromABackupGetsWhatItLostAgain) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  ASSERT_TRUE(ch_->BackUp().ok());
  ASSERT_TRUE(Transactions(*src_, 21, 30).ok());
  ASSERT_TRUE(ChConverges(kAudit, kChAudit));
  ASSERT_TRUE(ch_->CrashAndRestore().ok());  // transactions 21..50 are gone from it
  ASSERT_TRUE(Transactions(*src_, 51, 10).ok());
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_TRUE(ChConverges(kAudit, kChAudit));
  const std::string events = PipelineStatus("p")["events"].dump();
  EXPECT_NE(events.find("went back"), std::string::npos) << events;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The same between a batch's rows and its checkpoint: the checkpoint must
// not land on a server that lost the rows. Held there (a sync point),
// ClickHouse is restored from a backup taken before the batch: `older`
// also before the batches committed since sluice started (a rewind), else
// at its checkpoint (only the held batch's rows lost).
class ClickhouseRestoredMidBatchTest : public ClickhouseRunTest, public ::testing::WithParamInterface<bool> {};

TEST_P(ClickhouseRestoredMidBatchTest, TheCheckpointNeverLandsWithoutTheBatchsRows) {
  const bool older = GetParam();
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ChConverges(kAudit, kChAudit));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_TRUE(ch_->BackUp().ok());
  if (older) {
    StartSluice();
    ASSERT_TRUE(Transactions(*src_, 21, 10).ok());
    ASSERT_TRUE(ChConverges(kAudit, kChAudit));
    ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  }

  const std::string go = (dir_ / "go").string();
  StartSluiceWithSyncPoints("clickhouse.batch.before_checkpoint=wait@1:" + go);
  ASSERT_TRUE(Transactions(*src_, 31, 10).ok());
  ASSERT_TRUE(LogsWithin(*sluice_, "sync point clickhouse.batch.before_checkpoint: waiting", std::chrono::seconds(60)));
  ASSERT_TRUE(ch_->CrashAndRestore().ok());
  std::ofstream(go).flush();
  ASSERT_TRUE(Transactions(*src_, 41, 10).ok());
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_TRUE(ChConverges(kAudit, kChAudit));
  const std::string events = PipelineStatus("p")["events"].dump();
  EXPECT_EQ(events.find("went back") != std::string::npos, older) << events;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

INSTANTIATE_TEST_SUITE_P(Backups, ClickhouseRestoredMidBatchTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "OlderThanTheCheckpoint" : "AtTheCheckpoint"; });

// The same between a DDL's effect and the checkpoint after it: a column
// renamed by a copy, then ClickHouse restored to before it. The DDL is
// applied again; otherwise the table kept the old name and the next rows
// (with the new one) replaced the column, losing the values it held.
TEST_F(ClickhouseRunTest, ADdlIsNotRecordedOnAServerThatLostItsEffect) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ASSERT_TRUE(ch_->BackUp().ok());

  const std::string go = (dir_ / "go").string();
  StartSluiceWithSyncPoints("clickhouse.ddl.before_checkpoint=wait@1:" + go);
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders RENAME COLUMN note TO remark").ok());
  ASSERT_TRUE(LogsWithin(*sluice_, "sync point clickhouse.ddl.before_checkpoint: waiting", std::chrono::seconds(60)));
  ASSERT_TRUE(ch_->CrashAndRestore().ok());
  std::ofstream(go).flush();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (100, 7, 'new'); "
                            "UPDATE shop.orders SET amount = amount + 1 WHERE id = 2")
                  .ok());
  EXPECT_TRUE(ChConverges("SELECT id, amount, remark FROM shop.orders ORDER BY id",
                          "SELECT id, amount, remark FROM shop.orders FINAL WHERE _sign = 1 ORDER BY id"));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A ClickHouse that closes every connection after its answer
// (keep_alive_timeout 0; a proxy may do the same): a new connection then
// says nothing about a restart. The sink learns that after three cuts in a
// row (kCutsToLearn: no restart comes that often) instead of writing every
// batch again for good. (A request may still meet a connection the server
// is closing and be retried: httplib's, as before.)
TEST_F(ClickhouseRunTest, AServerThatClosesEveryConnectionIsWrittenToAsUsual) {
  ch_config_ = "<keep_alive_timeout>0</keep_alive_timeout>";
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 30, std::chrono::milliseconds(20)).ok());
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_TRUE(ChConverges(kAudit, kChAudit));
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(30), "dst"));
  const std::string log = sluice_->FullLog();
  size_t written_again = 0;
  for (size_t at = log.find("written again"); at != std::string::npos; at = log.find("written again", at + 1)) {
    ++written_again;
  }
  EXPECT_LE(written_again, 2u) << sluice_->Log();  // the cuts before the third
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// SIGTERM of sluice while ClickHouse hangs (SIGSTOP) mid-stream, with the
// default 60 s read timeout: the stop cuts the request instead of waiting
// it out; restarted, it converges.
TEST_F(ClickhouseRunTest, StopIsPromptWhileClickhouseHangs) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  ASSERT_EQ(::kill(ch_->pid(), SIGSTOP), 0);
  ASSERT_TRUE(Transactions(*src_, 21, 20).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto t0 = std::chrono::steady_clock::now();
  sluice_->Stop();
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(::kill(ch_->pid(), SIGCONT), 0);
  EXPECT_LT(took, std::chrono::seconds(15)) << sluice_->Log();
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_TRUE(ChConverges(kAudit, kChAudit));
}

TEST_F(ClickhouseRunTest, ClickhouseDownAtStartIsRetried) {
  src_ = StartServer(1);
  ASSERT_TRUE(src_);
  auto ch = ClickhouseServer::Start();
  ASSERT_TRUE(ch.ok()) << ch.status().message();
  ch_ = std::move(ch).value();
  ASSERT_TRUE(src_->Execute(kKeyedSchema).ok());
  ASSERT_TRUE(ch_->Stop().ok());
  http_port_ = FreePort();
  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), ch_->Url("default")));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 1, 10).ok());
  EXPECT_TRUE(WaitForState("p", "retrying", std::chrono::seconds(60), "dst"));
  ASSERT_TRUE(ch_->Restart().ok());
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_TRUE(ChConverges(kAudit, kChAudit));
}

constexpr const char* kDates = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.d (id INT PRIMARY KEY, day DATE, at DATETIME);
)sql";

TEST_F(ClickhouseRunTest, DateBefore1970StopsThePipelineNamingTheRow) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kDates));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.d VALUES (1, '2000-01-01', '2000-01-01 00:00:00')").ok());
  ASSERT_TRUE(ChConverges("SELECT id, day, at FROM shop.d ORDER BY id",
                          "SELECT id, day, at FROM shop.d FINAL WHERE _sign = 1 ORDER BY id"));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.d VALUES (2, '1955-03-14', '2000-01-01 00:00:00')").ok());
  ASSERT_TRUE(WaitForState("p", "failed", std::chrono::seconds(60), "dst"));
  std::string error = ErrorText(PipelineStatus("p")["targets"][0]);
  EXPECT_NE(error.find("shop"), std::string::npos) << error;
  EXPECT_NE(error.find("id=2"), std::string::npos) << error;
  EXPECT_NE(error.find("1955-03-14"), std::string::npos) << error;
  // Never stored altered.
  auto n = ch_->Query("SELECT count() FROM shop.d WHERE id = 2");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, "0\n");
}

TEST_F(ClickhouseRunTest, DateAfter2105IsSkippedAndLoggedWithOnErrorSkip) {
  PipelineOptions o;
  std::string skip_log = (dir_ / "skipped.jsonl").string();
  o.extra = "    on_error: skip\n    skip_log: " + skip_log + "\n";
  ASSERT_NO_FATAL_FAILURE(StartAll(kDates, o));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.d VALUES (1, '2000-01-01', '2106-01-01 00:00:00'), "
                            "(2, '2000-01-02', '2000-01-02 00:00:00')")
                  .ok());
  EXPECT_TRUE(ChConverges("SELECT id, day, at FROM shop.d WHERE id = 2",
                          "SELECT id, day, at FROM shop.d FINAL WHERE _sign = 1"));
  std::ifstream in(skip_log);
  std::string line;
  ASSERT_TRUE(std::getline(in, line)) << "nothing in " << skip_log;
  EXPECT_NE(line.find("\"key\":\"id=1\""), std::string::npos) << line;
  EXPECT_NE(line.find("2106-01-01"), std::string::npos) << line;
}

TEST_F(ClickhouseRunTest, DdlAddDropColumnTruncateDropTable) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders ADD COLUMN extra VARCHAR(10) NULL AFTER amount").ok());
  ASSERT_TRUE(src_->Execute("UPDATE shop.orders SET extra = CONCAT('x', id) WHERE id <= 2").ok());
  EXPECT_TRUE(ChConverges("SELECT id, amount, extra, note FROM shop.orders ORDER BY id",
                          "SELECT id, amount, extra, note FROM shop.orders FINAL WHERE _sign = 1 ORDER BY id"));
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders DROP COLUMN note").ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (100, 100, 'y')").ok());
  EXPECT_TRUE(ChConverges("SELECT id, amount, extra FROM shop.orders ORDER BY id",
                          "SELECT id, amount, extra FROM shop.orders FINAL WHERE _sign = 1 ORDER BY id"));
  auto cols = ch_->Query("SELECT name FROM system.columns WHERE database = 'shop' AND table = 'orders'");
  ASSERT_TRUE(cols.ok());
  EXPECT_EQ(cols->find("note"), std::string::npos) << *cols;
  ASSERT_TRUE(src_->Execute("TRUNCATE TABLE shop.audit").ok());
  EXPECT_TRUE(ChConverges(kAudit, kChAudit));
  ASSERT_TRUE(src_->Execute("DROP TABLE shop.audit").ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto n = ch_->Query("SELECT count() FROM system.tables WHERE database = 'shop' AND name = 'audit'");
        return n.ok() && *n == "0\n";
      },
      std::chrono::seconds(60)));
  // Several tables renamed in one statement (not an online schema change's
  // swap): pair by pair (SeveralTablesRenamedInOneStatementKeepTheirRows).
  ASSERT_TRUE(src_->Execute("CREATE TABLE shop.other (id INT PRIMARY KEY); "
                            "RENAME TABLE shop.orders TO shop.o1, shop.other TO shop.o2; "
                            "INSERT INTO shop.o1 VALUES (101, 101, 'z')")
                  .ok());
  EXPECT_TRUE(ChConverges("SELECT id, amount, extra FROM shop.o1 ORDER BY id",
                          "SELECT id, amount, extra FROM shop.o1 FINAL WHERE _sign = 1 ORDER BY id"));
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(10)));
}

}  // namespace
}  // namespace sluice::testing

namespace sluice::testing {
namespace {

// Columns an ALTER adds with a default (an ordinary `ADD COLUMN status
// TINYINT NOT NULL DEFAULT 0`) stopped a ClickHouse target ("not
// supported"): now they are added with the value the rows already there
// hold on the source, and the stream goes on.
TEST_F(ClickhouseRunTest, ColumnsAddedWithADefaultHoldItInTheRowsAlreadyThere) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  ASSERT_TRUE(
      src_->Execute("ALTER TABLE shop.orders ADD COLUMN extra INT NOT NULL DEFAULT 7, "
                    "ADD COLUMN label VARCHAR(5) NOT NULL DEFAULT 'it''s', "
                    "ADD COLUMN size ENUM('small', 'large') NOT NULL, ADD COLUMN price DECIMAL(8,2) DEFAULT '1.50'")
          .ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders VALUES (100, 100, 'y', 3, 'x', 'large', NULL)").ok());
  EXPECT_TRUE(ChConverges("SELECT id, amount, extra, label, size, price FROM shop.orders ORDER BY id",
                          "SELECT id, amount, extra, label, size, price FROM shop.orders FINAL WHERE _sign = 1 "
                          "ORDER BY id"));
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(10)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Foreign key actions of a MySQL source (the server changes the child rows
// without logging them): ClickHouse gets the child rows' next versions,
// tombstones or re-keyed, read from their current versions, so a child row
// moved to another parent before its old parent goes is kept.
TEST_F(ClickhouseRunTest, ForeignKeyActionsOfTheSourceAreRedone) {
  ASSERT_NO_FATAL_FAILURE(StartAll(std::string(kKeyedSchema) + kShopKeys));
  ASSERT_TRUE(FillShopWithKeys(*src_).ok());
  const std::vector<std::pair<std::string, std::string>> tables = {{"customers", "id, name"},
                                                                   {"carts", "id, customer, note"},
                                                                   {"cart_items", "cart, n, sku"},
                                                                   {"reviews", "id, customer, text"},
                                                                   {"categories", "id, parent, name"}};
  auto all_converge = [&]() -> ::testing::AssertionResult {
    for (const auto& [table, columns] : tables) {
      // (ClickHouse 18 takes ORDER BY 1 for a constant: the first two columns by name.)
      const std::string order = columns.substr(0, columns.find(',', columns.find(',') + 1));
      auto same = ChConverges(
          fmt::format("SELECT {} FROM shop.{} ORDER BY {}", columns, table, order),
          fmt::format("SELECT {} FROM shop.{} FINAL WHERE _sign = 1 ORDER BY {}", columns, table, order));
      if (!same) return same;
    }
    return ::testing::AssertionSuccess();
  };
  ASSERT_TRUE(all_converge());
  ASSERT_TRUE(ChangeShopParents(*src_).ok());
  ASSERT_TRUE(
      src_->Execute("UPDATE shop.carts SET customer = 31 WHERE id = 320; DELETE FROM shop.customers WHERE id = 32")
          .ok());
  EXPECT_TRUE(all_converge());
  EXPECT_TRUE(ChConverges("SELECT txn, msg FROM shop.audit ORDER BY txn", kChAudit));
  std::string error;
  EXPECT_EQ(ChText("SELECT id FROM shop.carts FINAL WHERE _sign = 1 AND customer IN (31, 32) ORDER BY id", &error),
            "310\n311\n320\n")
      << error;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// An online schema change's swap (one RENAME of two tables) stopped a
// ClickHouse target ("renaming a table"): the table is kept and takes the
// new columns, the added one with the value the copied rows hold.
TEST_F(ClickhouseRunTest, AnOnlineSchemaChangeKeepsTheTableAndGivesItTheNewColumns) {
  PipelineOptions o;
  o.tables = "      - match: \"shop.orders\"\n";
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema, o));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  ASSERT_TRUE(src_->Execute("CREATE TABLE shop._orders_gho LIKE shop.orders; "
                            "ALTER TABLE shop._orders_gho ADD COLUMN extra INT NOT NULL DEFAULT 7, DROP COLUMN note; "
                            "INSERT INTO shop._orders_gho (id, amount) SELECT id, amount FROM shop.orders; "
                            "RENAME TABLE shop.orders TO shop._orders_del, shop._orders_gho TO shop.orders; "
                            "DROP TABLE shop._orders_del; INSERT INTO shop.orders VALUES (100, 100, 3)")
                  .ok());
  EXPECT_TRUE(ChConverges("SELECT id, amount, extra FROM shop.orders ORDER BY id",
                          "SELECT id, amount, extra FROM shop.orders FINAL WHERE _sign = 1 ORDER BY id"));
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(10)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing

namespace sluice::testing {
namespace {

// An ordinary widening (`MODIFY amount BIGINT`, a key running out of INT:
// `MODIFY id BIGINT`, a column made NOT NULL) stopped a ClickHouse target
// ("changing a column's type is not followed"). Now a non-key column is
// retyped in place, a key column (which ClickHouse cannot retype) by a copy
// of the table put in its place, and a conversion ClickHouse would make
// differently from the source still stops, saying what to do.
constexpr const char* kTypes = "SELECT name, type FROM system.columns WHERE database = 'shop' AND table = 'orders' "
                               "AND name IN ('id', 'amount', 'note', 'code') ORDER BY name FORMAT TabSeparated";

TEST_F(ClickhouseRunTest, WidenedColumnsAreFollowedAndKeyColumnsByACopy) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  Status altered = src_->Execute(
      "UPDATE shop.orders SET note = '' WHERE note IS NULL; "
      "ALTER TABLE shop.orders MODIFY amount BIGINT NOT NULL, MODIFY note VARCHAR(40) NOT NULL, "
      "ADD COLUMN code SMALLINT NULL; "
      "INSERT INTO shop.orders VALUES (100, 1099511627776, 'big', 7)");
  ASSERT_TRUE(altered.ok()) << altered.message();
  const char* kAll = "SELECT id, amount, note, code FROM shop.orders ORDER BY id";
  const char* kChAll = "SELECT id, amount, note, code FROM shop.orders FINAL WHERE _sign = 1 ORDER BY id";
  ASSERT_TRUE(ChConverges(kAll, kChAll));
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders MODIFY id BIGINT NOT NULL, MODIFY code VARCHAR(8); "
                            "INSERT INTO shop.orders VALUES (1099511627776, 1, 'key', 'x'); "
                            "UPDATE shop.orders SET amount = amount + 1 WHERE id = 2")
                  .ok());
  ASSERT_TRUE(ChConverges(kAll, kChAll));
  auto types = ch_->Query(kTypes);
  ASSERT_TRUE(types.ok());
  EXPECT_EQ(*types, "amount\tInt64\ncode\tNullable(String)\nid\tInt64\nnote\tString\n");
  auto leftovers = ch_->Query("SELECT count() FROM system.tables WHERE database = 'shop' AND name LIKE '_sluice%'");
  ASSERT_TRUE(leftovers.ok());
  EXPECT_EQ(*leftovers, "0\n");
  // Text to a number: ClickHouse parses text otherwise than MySQL.
  ASSERT_TRUE(src_->Execute("UPDATE shop.orders SET code = NULL WHERE code = 'x'; ALTER TABLE shop.orders MODIFY code "
                            "INT; INSERT INTO shop.orders VALUES (200, 1, 'n', 3)")
                  .ok());
  ASSERT_TRUE(WaitForState("p", "failed", std::chrono::seconds(60), "dst"));
  std::string error = ErrorText(PipelineStatus("p")["targets"][0]);
  EXPECT_NE(error.find("would not convert the rows it holds as the source did"), std::string::npos) << error;
}

// A table made by hand in ClickHouse (here with a partition key) is written
// as it is; a key column's type change, which sluice follows by copying the
// table into a new one, stops instead of replacing the table with one that
// lacks what it was made with.
TEST_F(ClickhouseRunTest, AKeyColumnRetypeStopsOnATableMadeByHand) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(ch_->Query("CREATE DATABASE shop").ok());
  auto made = ch_->Query(
      "CREATE TABLE shop.orders (id Int32, amount Int32, note Nullable(String), _version UInt64, _sign Int8) "
      "ENGINE = ReplacingMergeTree(_version) PARTITION BY intDiv(id, 1000) ORDER BY id");
  ASSERT_TRUE(made.ok()) << made.status().message();
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders MODIFY id BIGINT NOT NULL; "
                            "INSERT INTO shop.orders VALUES (100, 1, 'after')")
                  .ok());
  ASSERT_TRUE(WaitForState("p", "failed", std::chrono::seconds(60), "dst"));
  std::string error = ErrorText(PipelineStatus("p")["targets"][0]);
  EXPECT_NE(error.find("PARTITION BY intDiv(id, 1000)"), std::string::npos) << error;
  auto partition = ch_->Query("SELECT partition_key FROM system.tables WHERE database = 'shop' AND name = 'orders'");
  ASSERT_TRUE(partition.ok());
  EXPECT_EQ(*partition, "intDiv(id, 1000)\n");
}

// A renamed column (RENAME COLUMN, CHANGE with a new name) stopped a
// ClickHouse target: 18.16 cannot rename one. The table is copied with the
// new names, the rows already there keep their values, and a replay after
// a restart finds it done.
TEST_F(ClickhouseRunTest, RenamedColumnsKeepTheirValues) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders RENAME COLUMN ID TO order_id, CHANGE note `the note` VARCHAR(40); "
                            "INSERT INTO shop.orders VALUES (100, 7, 'new')")
                  .ok());
  const char* kAll = "SELECT order_id, amount, `the note` FROM shop.orders ORDER BY order_id";
  const char* kChAll =
      "SELECT order_id, amount, `the note` FROM shop.orders FINAL WHERE _sign = 1 ORDER BY order_id";
  ASSERT_TRUE(ChConverges(kAll, kChAll));
  auto key = ch_->Query("SELECT sorting_key FROM system.tables WHERE database = 'shop' AND name = 'orders'");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, "order_id\n");
  // Replayed after a kill before its checkpoint: nothing left to rename.
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  ::setenv("SLUICE_SYNC_POINTS", "clickhouse.retype.renamed=crash@1", 1);
  StartSluice();
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders RENAME COLUMN amount TO total; "
                            "UPDATE shop.orders SET total = total + 1 WHERE order_id = 2")
                  .ok());
  ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, std::chrono::seconds(30))) << sluice_->Log();
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(
      ChConverges("SELECT order_id, total, `the note` FROM shop.orders ORDER BY order_id",
                  "SELECT order_id, total, `the note` FROM shop.orders FINAL WHERE _sign = 1 ORDER BY order_id"));
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(10)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A renamed table (an archive: `RENAME TABLE orders TO orders_2024`, then a
// new `orders`) stopped a ClickHouse target. Now it is renamed there too,
// keeping its rows, and the new table is made with its first rows.
TEST_F(ClickhouseRunTest, RenamedTablesKeepTheirRows) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  ASSERT_TRUE(src_->Execute("RENAME TABLE shop.orders TO shop.orders_2024; "
                            "CREATE TABLE shop.orders LIKE shop.orders_2024; "
                            "INSERT INTO shop.orders VALUES (1, 1, 'new'); "
                            "UPDATE shop.orders_2024 SET amount = 99 WHERE id = 3; "
                            "CREATE DATABASE arch; ALTER TABLE shop.audit RENAME TO arch.audit; "
                            "INSERT INTO arch.audit VALUES (100, 'moved')")
                  .ok());
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_TRUE(ChConverges("SELECT id, amount, note FROM shop.orders_2024 ORDER BY id",
                          "SELECT id, amount, note FROM shop.orders_2024 FINAL WHERE _sign = 1 ORDER BY id"));
  // arch.* is not selected: the table keeps what it had, no longer written.
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto n = ch_->Query("SELECT count() FROM arch.audit FINAL WHERE _sign = 1");
        return n.ok() && *n == "5\n";
      },
      std::chrono::seconds(30)))
      << sluice_->Log();
  auto gone = ch_->Query("SELECT count() FROM system.tables WHERE database = 'shop' AND name = 'audit'");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, "0\n");
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(10)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Several tables archived in one statement: each pair renamed in order
// (ClickHouse takes one table at a time; before, the statement stopped it).
TEST_F(ClickhouseRunTest, SeveralTablesRenamedInOneStatementKeepTheirRows) {
  ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ChConverges(kOrders, kChOrders));
  ASSERT_TRUE(src_->Execute("RENAME TABLE shop.orders TO shop.orders_2024, shop.audit TO shop.audit_2024; "
                            "CREATE TABLE shop.orders LIKE shop.orders_2024; "
                            "INSERT INTO shop.orders VALUES (1, 1, 'new'); "
                            "UPDATE shop.orders_2024 SET amount = 99 WHERE id = 3; "
                            "INSERT INTO shop.audit_2024 VALUES (100, 'late')")
                  .ok());
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_TRUE(ChConverges("SELECT id, amount, note FROM shop.orders_2024 ORDER BY id",
                          "SELECT id, amount, note FROM shop.orders_2024 FINAL WHERE _sign = 1 ORDER BY id"));
  EXPECT_TRUE(ChConverges("SELECT txn, msg FROM shop.audit_2024 ORDER BY txn, msg",
                          "SELECT txn, msg FROM shop.audit_2024 FINAL WHERE _sign = 1 ORDER BY txn, msg"));
  EXPECT_TRUE(WaitForState("p", "running", std::chrono::seconds(10)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Killed after the copy of a key column's table and after its RENAME: the
// restart drops or finishes what it finds, and nothing is lost.
TEST_F(ClickhouseRunTest, KeyColumnRetypeKilledMidwayIsUndoneOrFinished) {
  for (const char* crash : {"clickhouse.retype.copied=crash@1", "clickhouse.retype.renamed=crash@1"}) {
    SCOPED_TRACE(crash);
    ASSERT_NO_FATAL_FAILURE(StartAll(kKeyedSchema));
    ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
    ASSERT_TRUE(ChConverges(kOrders, kChOrders));
    ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
    ::setenv("SLUICE_SYNC_POINTS", crash, 1);
    StartSluice();
    ::unsetenv("SLUICE_SYNC_POINTS");
    ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders MODIFY id BIGINT NOT NULL; "
                              "INSERT INTO shop.orders VALUES (1099511627776, 1, 'key')")
                    .ok());
    ASSERT_TRUE(WaitUntil([&] { return !sluice_->Running(); }, std::chrono::seconds(30))) << "never reached " << crash;
    EXPECT_NE(sluice_->FullLog().find("sync point: crash"), std::string::npos) << sluice_->Log();
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    ASSERT_TRUE(Transactions(*src_, 21, 5).ok());
    EXPECT_TRUE(ChConverges(kOrders, kChOrders));
    auto types = ch_->Query(kTypes);
    ASSERT_TRUE(types.ok());
    EXPECT_EQ(types->substr(0, 21), "amount\tInt32\nid\tInt64") << *types;
    auto leftovers = ch_->Query("SELECT count() FROM system.tables WHERE database = 'shop' AND name LIKE '_sluice%'");
    ASSERT_TRUE(leftovers.ok());
    EXPECT_EQ(*leftovers, "0\n");
    EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
    sluice_.reset();
    src_.reset();
    ch_.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
}

}  // namespace
}  // namespace sluice::testing
