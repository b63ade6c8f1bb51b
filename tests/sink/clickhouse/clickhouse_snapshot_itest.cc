// `sluice snapshot` and `snapshot: initial` into a real ClickHouse 18.16
// (issue 10): every type family copied exactly, then `sluice run` streams on
// from the snapshot's start; a snapshot under concurrent writes converges; a
// snapshot killed with kill -9 resumes with the chunks not done. The target
// is compared with the source through `SELECT ... FINAL WHERE _sign = 1`.

#include <fmt/format.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>

#include <thread>

#include "cli/run_command.h"
#include "client/mysql/connection.h"
#include "harness/clickhouse_server.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kAllTypes = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.t (
  id INT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, bi BIGINT, bu BIGINT UNSIGNED NOT NULL,
  f FLOAT, d DOUBLE, dec2 DECIMAL(12,2) NOT NULL, dbig DECIMAL(40,10), n INT NULL,
  dt DATE, dtm DATETIME NOT NULL, ts TIMESTAMP NULL, dt6 DATETIME(6), tm TIME, y YEAR,
  b BIT(5), e ENUM('a','b'), st SET('x','y'), j JSON,
  vc VARCHAR(40), txt TEXT, bin VARBINARY(10));
SET time_zone = '+00:00';
INSERT INTO shop.t VALUES
 (1, -128, 255, -32768, -8388608, -9223372036854775808, 18446744073709551615, 0.1, 0.1, -1234567890.12,
  '-123456789012345678901234567890.0123456789', NULL, '1970-01-02', '2105-12-31 23:59:59', '2038-01-19 03:14:07',
  '2024-01-31 12:34:56.789012', '-838:59:59', 1901, b'10101', 'b', 'x,y', '{"k": [1, "two"]}',
  'héllo\ttab\nline', 'text with \\ backslash', X'00FF5C0A'),
 (2, 127, 0, 32767, 8388607, 9223372036854775807, 0, -2.25, 1.5, 0.00, NULL, 7, NULL, '0000-00-00 00:00:00', NULL,
  NULL, '12:00:01', 2155, b'0', NULL, '', NULL, '', NULL, X''),
 (3, 0, 1, 0, 0, 0, 1, 1.5, -0.25, 1.00, '0.0000000001', -1, '2024-02-29', '2024-02-29 00:00:00', '1970-01-01 00:00:01',
  '2000-01-01 00:00:00.000000', '00:00:00', 2000, b'11111', 'a', 'y', '[]', 'x', 'y', X'01');
INSERT INTO shop.t (id, bu, dec2, dtm, vc, bin) SELECT seq, seq * 7, seq / 100, '2001-02-03 04:05:06',
  CONCAT('row ', seq), UNHEX(HEX(seq)) FROM shop.seq_10_to_400;
)sql";

constexpr const char* kAllTypesSource =
    "SELECT id, ti, tu, si, mi, bi, bu, f, d, dec2, dbig, n, dt, dtm, ts, dt6, tm, y, b+0, e, st, j, vc, txt, HEX(bin) "
    "FROM shop.t ORDER BY id";
constexpr const char* kAllTypesTarget =
    "SELECT id, ti, tu, si, mi, bi, bu, f, d, dec2, dbig, n, dt, dtm, ts, dt6, tm, y, b, e, st, j, vc, txt, hex(bin) "
    "FROM shop.t FINAL WHERE _sign = 1 ORDER BY id";

constexpr const char* kKeyedSchema = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, amount INT NOT NULL, note VARCHAR(40));
CREATE TABLE shop.audit (txn INT PRIMARY KEY, msg VARCHAR(40));
)sql";
constexpr const char* kChOrders = "SELECT id, amount, note FROM shop.orders FINAL WHERE _sign = 1 ORDER BY id";
constexpr const char* kChAudit = "SELECT txn, msg FROM shop.audit FINAL WHERE _sign = 1 ORDER BY txn, msg";

// `n` comes before `y`: the stream reads the signedness of the numeric
// columns after a YEAR column from MariaDB's TABLE_MAP one column off (see
// the report of issue 10), which this test is not about.
class ClickhouseSnapshotTest : public SyncTest {
 protected:
  void StartServers(const std::string& schema) {
    src_ = StartServer(1);
    ASSERT_TRUE(src_);
    auto ch = ClickhouseServer::Start();
    ASSERT_TRUE(ch.ok()) << ch.status().message();
    ch_ = std::move(ch).value();
    ASSERT_TRUE(src_->Execute(schema).ok());
    ASSERT_TRUE(src_->Execute("SET time_zone = '+00:00'").ok());
    http_port_ = FreePort();
  }
  void Configure(uint64_t chunk_rows, const std::string& extra = "") {
    PipelineOptions o;
    o.start = "latest";
    o.batch_size = 50;
    o.extra = fmt::format("    chunk_rows: {}\n{}", chunk_rows, extra);
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), ch_->Url("default"), o));
  }
  CommandResult Snapshot(const std::string& args = "", int timeout_s = 120) {
    return RunSluice("snapshot -c " + ShellQuote(config_) + " --pipeline p --progress plain " + args, timeout_s);
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
  std::string ChValue(const std::string& sql) {
    auto r = ch_->Query(sql);
    if (!r.ok()) return "error: " + r.status().message();
    std::string v = *r;
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
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
  // Chunks of the live plan of `table` recorded done.
  int DoneChunks(const std::string& table) {
    std::string v = ChValue(fmt::format(
        "SELECT count() FROM _sluice.snapshot_chunks FINAL WHERE tbl = '{}' AND chunk != 4294967295 AND done = 1",
        table));
    return v.starts_with("error") ? -1 : std::stoi(v);
  }

  std::unique_ptr<MariadbServer> src_;
  std::unique_ptr<ClickhouseServer> ch_;
};

TEST_F(ClickhouseSnapshotTest, CopiesEveryTypeThenRunStreamsOnFromTheSnapshotStart) {
  ASSERT_NO_FATAL_FAILURE(StartServers(kAllTypes));
  Configure(50);
  CommandResult r = Snapshot("--parallel 2");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(ChConverges(kAllTypesSource, kAllTypesTarget, std::chrono::seconds(5)));
  // Copied rows carry the lowest version, so that any streamed change wins.
  EXPECT_EQ(ChValue("SELECT count(), max(_version), min(_sign) FROM shop.t"), "394\t0\t1");
  // The start position is the pipeline's checkpoint; the plan is forgotten.
  std::string start = ChValue("SELECT resume_position FROM _sluice.checkpoints FINAL WHERE pipeline = 'p'");
  EXPECT_TRUE(start.starts_with("binlog.")) << start;
  EXPECT_EQ(ChValue("SELECT count() FROM _sluice.snapshot_chunks FINAL WHERE chunk = 4294967295 AND done = 0"), "0");

  // Changes made after the snapshot, before `sluice run` starts, and while it runs.
  ASSERT_TRUE(src_->Execute("UPDATE shop.t SET n = 42, vc = 'changed' WHERE id IN (1, 50); "
                            "DELETE FROM shop.t WHERE id IN (3, 51); "
                            "INSERT INTO shop.t (id, bu, dec2, dtm) VALUES (1000, 1, 1, '2020-01-01 00:00:00')")
                  .ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("UPDATE shop.t SET id = 2000 WHERE id = 2; DELETE FROM shop.t WHERE id = 1000").ok());
  EXPECT_TRUE(ChConverges(kAllTypesSource, kAllTypesTarget));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(ClickhouseSnapshotTest, UnderConcurrentWritesThenRunConverges) {
  ASSERT_NO_FATAL_FAILURE(StartServers(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 300).ok());
  Configure(20);
  Status written;
  std::thread writer([&] { written = Transactions(*src_, 301, 400); });
  CommandResult r = Snapshot("--parallel 4");
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 701, 50).ok());
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_TRUE(ChConverges(kAudit, kChAudit));
}

TEST_F(ClickhouseSnapshotTest, SnapshotAlongsideARunningStreamConverges) {
  ASSERT_NO_FATAL_FAILURE(StartServers(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 300).ok());
  Configure(20);
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  Status written;
  std::thread writer([&] { written = Transactions(*src_, 301, 400); });
  CommandResult r = Snapshot("--parallel 4");
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_TRUE(ChConverges(kAudit, kChAudit));
}

TEST_F(ClickhouseSnapshotTest, RunWithInitialSnapshotCopiesThenStreams) {
  ASSERT_NO_FATAL_FAILURE(StartServers(kKeyedSchema));
  ASSERT_TRUE(Transactions(*src_, 1, 300).ok());
  Configure(25, "    snapshot: initial\n");
  StartSluice();
  // Written while the snapshot copies (or, if it was quick, while the stream runs).
  ASSERT_TRUE(Transactions(*src_, 301, 200).ok());
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_TRUE(ChConverges(kAudit, kChAudit));
  EXPECT_TRUE(WaitUntil([&] { return sluice_->FullLog().find("snapshot done") != std::string::npos; },
                        std::chrono::seconds(60)))
      << sluice_->FullLog();
  // A restart does not copy again: the snapshot is recorded finished.
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 501, 20).ok());
  EXPECT_TRUE(ChConverges(kOrders, kChOrders));
  EXPECT_EQ(sluice_->FullLog().find("copying the existing rows"), std::string::npos) << sluice_->FullLog();
}

TEST_F(ClickhouseSnapshotTest, KilledSnapshotResumesWithTheChunksNotDone) {
  ASSERT_NO_FATAL_FAILURE(StartServers(kKeyedSchema));
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.orders SELECT seq, seq, CONCAT('order ', seq) FROM shop.seq_1_to_3000")
                  .ok());
  Configure(10);
  // Killed (-9, by a sync point) right after its fifth chunk committed:
  // most chunks are not done.
  ::setenv("SLUICE_SYNC_POINTS", "snapshot.chunk.committed=crash@5", 1);
  CommandResult killed = Snapshot("--parallel 1");
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_NE(killed.exit_code, 0) << killed.out << killed.err;
  int done = DoneChunks("shop.orders");
  EXPECT_GE(done, 1);
  EXPECT_LT(done, 300);

  CommandResult r = Snapshot("--parallel 2");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("resuming the snapshot"), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(ChConverges(kOrders, kChOrders, std::chrono::seconds(5)));
  // Each key once live: copies of a chunk written twice collapse.
  EXPECT_EQ(ChValue("SELECT count() FROM shop.orders FINAL"), "3000");
}

// ClickHouse restored from a backup (or back from a crash that lost parts
// it had acknowledged) between a chunk's rows and its done mark: the mark
// would record a chunk whose rows the server no longer has. The mark goes
// over the connection the rows went over, so the chunk is copied again.
TEST_F(ClickhouseSnapshotTest, AChunkIsNotMarkedDoneOnAServerThatLostItsRows) {
  ASSERT_NO_FATAL_FAILURE(StartServers(kKeyedSchema));
  ASSERT_TRUE(
      src_->Execute("INSERT INTO shop.orders SELECT seq, seq, CONCAT('order ', seq) FROM shop.seq_1_to_100").ok());
  Configure(10);
  ::setenv("SLUICE_SYNC_POINTS", "snapshot.chunk.committed=crash@3", 1);
  CommandResult killed = Snapshot("--parallel 1");
  ::unsetenv("SLUICE_SYNC_POINTS");
  ASSERT_NE(killed.exit_code, 0) << killed.out << killed.err;
  const std::string copied = ChValue("SELECT count() FROM shop.orders FINAL");
  ASSERT_NE(copied, "100");
  ASSERT_TRUE(ch_->BackUp().ok());

  const std::string go = (dir_ / "go").string();
  ::setenv("SLUICE_SYNC_POINTS", ("snapshot.chunk.written=wait@1:" + go).c_str(), 1);
  CommandResult resumed;
  std::thread snapshot([&] { resumed = Snapshot("--parallel 1"); });
  // Held between its first chunk's rows and that chunk's done mark.
  const bool held =
      WaitUntil([&] { return ChValue("SELECT count() FROM shop.orders FINAL") != copied; }, std::chrono::seconds(60));
  ::unsetenv("SLUICE_SYNC_POINTS");  // after the snapshot process started with it
  if (held) {
    EXPECT_TRUE(ch_->CrashAndRestore().ok());
  }
  std::ofstream(go).flush();
  snapshot.join();
  ASSERT_TRUE(held) << "the next chunk's rows never came";
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_NE((resumed.out + resumed.err).find("the chunk is copied again"), std::string::npos)
      << resumed.out << resumed.err;
  EXPECT_TRUE(ChConverges(kOrders, kChOrders, std::chrono::seconds(5)));
}

}  // namespace
}  // namespace sluice::testing
