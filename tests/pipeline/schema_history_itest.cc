// A source whose binlog carries no column names (binlog_row_metadata NO_LOG,
// MariaDB's default; MINIMAL, MySQL 8's) while sluice restarts from a
// position written before an ALTER of a table. Before, the table was read
// from information_schema as it is now, disagreed with the older rows, and
// the pipeline stopped ("the table changed after this event was written"):
// a migration run while sluice was stopped or behind wedged it. Now the
// shapes read while streaming are kept in the store with the positions they
// hold from (source/mysql/schema_history.h).

#include <sys/wait.h>

#include <functional>

#include "cli/run_command.h"
#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

std::unique_ptr<MariadbServer> StartWithoutColumnNames(uint32_t id) {
  MariadbServerOptions o;
  o.server_id = id;
  o.binlog_row_metadata = "NO_LOG";
  auto s = MariadbServer::Start(o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

TEST_F(SyncTest, AnAlterMadeWhileSluiceWasStoppedDoesNotStopItsRestart) {
  auto src = StartWithoutColumnNames(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, a VARCHAR(10)); "
                           "CREATE TABLE shop.u (id INT PRIMARY KEY)")
                  .ok());
  WriteConfig(OneToOneConfig(dir_.string(), *src, *dst));
  StartSluice();
  ASSERT_TRUE(src->Execute("INSERT INTO shop.t VALUES (1, 'a'); INSERT INTO shop.u VALUES (1)").ok());
  const char* kT = "SELECT * FROM shop.t ORDER BY id";
  ASSERT_TRUE(Converges(*src, kT, *dst, kT));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  // A migration while sluice is stopped: another table's ALTER first (a
  // statement that does not touch t), rows of t's old shape, then t's ALTER.
  ASSERT_TRUE(src->Execute("ALTER TABLE shop.u ADD COLUMN z INT; INSERT INTO shop.t VALUES (2, 'b'); "
                           "UPDATE shop.t SET a = 'A' WHERE id = 1; "
                           "ALTER TABLE shop.t ADD COLUMN n INT NOT NULL DEFAULT 7 AFTER id; "
                           "INSERT INTO shop.t VALUES (3, 3, 'c'); UPDATE shop.t SET n = 9 WHERE id = 2; "
                           "INSERT INTO shop.u VALUES (2, 2)")
                  .ok());
  StartSluice();
  EXPECT_TRUE(Converges(*src, kT, *dst, kT));
  const char* kU = "SELECT * FROM shop.u ORDER BY id";
  EXPECT_TRUE(Converges(*src, kU, *dst, kU));
  auto t = dst->Query(kT);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(RowsToText(*t), "1|7|A\n2|9|b\n3|3|c\n");
  EXPECT_EQ(sluice_->FullLog().find("the table changed after this event was written"), std::string::npos)
      << sluice_->FullLog();
  auto r = RunSluice("check -c " + config_ + " --pipeline copy", 60);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(SyncTest, SeveralAltersOfATableBehindTheStreamAreFollowedStatementByStatement) {
  // sluice reaches the first ALTER after the second ran: information_schema
  // shows neither the rows between them nor, for a table created meanwhile,
  // the rows before its first ALTER.
  auto src = StartWithoutColumnNames(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, a VARCHAR(10), "
                           "gone INT)")
                  .ok());
  WriteConfig(OneToOneConfig(dir_.string(), *src, *dst));
  StartSluice();
  ASSERT_TRUE(src->Execute("INSERT INTO shop.t VALUES (1, 'a', 1)").ok());
  const char* kT = "SELECT * FROM shop.t ORDER BY id";
  ASSERT_TRUE(Converges(*src, kT, *dst, kT));
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();

  ASSERT_TRUE(src->Execute("INSERT INTO shop.t VALUES (2, 'b', 2); "
                           "ALTER TABLE shop.t ADD COLUMN n BIGINT NOT NULL DEFAULT 7 AFTER id, DROP COLUMN gone; "
                           "INSERT INTO shop.t VALUES (3, 3, 'c'); UPDATE shop.t SET a = 'B' WHERE id = 2; "
                           "ALTER TABLE shop.t CHANGE a label VARCHAR(20) FIRST, ALGORITHM=COPY; "
                           "INSERT INTO shop.t VALUES ('d', 4, 4); "
                           "CREATE TABLE shop.v (id INT PRIMARY KEY, s TEXT); INSERT INTO shop.v VALUES (1, 'x'); "
                           "ALTER TABLE shop.v ADD COLUMN k INT FIRST; INSERT INTO shop.v VALUES (5, 2, 'y')")
                  .ok());
  StartSluice();
  EXPECT_TRUE(Converges(*src, kT, *dst, kT));
  const char* kV = "SELECT * FROM shop.v ORDER BY id";
  EXPECT_TRUE(Converges(*src, kV, *dst, kV));
  auto t = dst->Query(kT);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(RowsToText(*t), "a|1|7\nB|2|7\nc|3|3\nd|4|4\n");
  EXPECT_NE(sluice_->FullLog().find("its columns then follow from the DDL statements"), std::string::npos)
      << sluice_->FullLog();
  auto r = RunSluice("check -c " + config_ + " --pipeline copy", 60);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The stream starts where a snapshot began, once the copy is done: rows
// written before an ALTER made while the copy took its time are read after
// it, when information_schema shows the new shape. The copy is held at its
// first chunk's write while the migration runs.
class SnapshotThenAlterTest : public SyncTest {
 protected:
  void StartServers() {
    src_ = StartWithoutColumnNames(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, a VARCHAR(10)); "
                              "INSERT INTO shop.t VALUES (1, 'a')")
                    .ok());
  }
  void HoldTheCopy() { ::setenv("SLUICE_SYNC_POINTS", ("mysql.chunk.write=wait:" + Go()).c_str(), 1); }
  // Once the copy waits (its log says so): the migration, then the copy goes on.
  void AlterWhileHeld(const std::function<std::string()>& log) {
    ::unsetenv("SLUICE_SYNC_POINTS");
    ASSERT_TRUE(WaitUntil([&] { return log().find("waiting for") != std::string::npos; }, std::chrono::seconds(30)))
        << log();
    ASSERT_TRUE(src_->Execute("INSERT INTO shop.t VALUES (2, 'b'); ALTER TABLE shop.t ADD COLUMN n INT AFTER id; "
                              "INSERT INTO shop.t VALUES (3, 3, 'c')")
                    .ok());
    std::ofstream(Go()).put('\n');
  }
  void ExpectTheStreamConverges() {
    const char* kT = "SELECT * FROM shop.t ORDER BY id";
    EXPECT_TRUE(Converges(*src_, kT, *dst_, kT));
    EXPECT_EQ(sluice_->FullLog().find("the table changed after this event was written"), std::string::npos)
        << sluice_->FullLog();
    EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  }
  std::string Go() const { return (dir_ / "go").string(); }

  std::unique_ptr<MariadbServer> src_, dst_;
};

TEST_F(SnapshotThenAlterTest, AnAlterDuringTheInitialSnapshotDoesNotStopTheStreamAfterIt) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  WriteConfig(OneToOneConfig(dir_.string(), *src_, *dst_) + "    snapshot: initial\n");
  HoldTheCopy();
  StartSluice();
  ASSERT_NO_FATAL_FAILURE(AlterWhileHeld([&] { return sluice_->FullLog(); }));
  ExpectTheStreamConverges();
}

// The same with `sluice snapshot` by hand, then `sluice run`: the snapshot
// records the shapes where it starts the stream too (before, the stream
// stopped at the first row written before the ALTER).
TEST_F(SnapshotThenAlterTest, AnAlterDuringASnapshotByHandDoesNotStopTheStreamAfterIt) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  WriteConfig(OneToOneConfig(dir_.string(), *src_, *dst_));
  const std::string log = (dir_ / "snapshot.log").string();
  HoldTheCopy();
  auto pid = SpawnProcess({SLUICE_BINARY, "snapshot", "-c", config_, "--pipeline", "copy", "--progress", "plain"}, log);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  ASSERT_NO_FATAL_FAILURE(AlterWhileHeld([&] { return TailOfFile(log); }));
  auto exited = WaitForExit(*pid, std::chrono::seconds(60));
  ASSERT_TRUE(exited.ok() && exited->has_value()) << TailOfFile(log);
  EXPECT_TRUE(WIFEXITED(**exited) && WEXITSTATUS(**exited) == 0) << TailOfFile(log);
  StartSluice();
  ExpectTheStreamConverges();
}

}  // namespace
}  // namespace sluice::testing
