// Exactly once into PostgreSQL across crashes: sluice killed with -9 in the
// middle of a stream, and the PostgreSQL server restarted under load.

#include <fmt/format.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>

#include "cli/run_command.h"
#include "client/postgres/connection.h"
#include "sink/postgres/pg_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class PgFaultTest : public PgSyncTest {
 protected:
  // Same orders and audit rows on both sides; the audit table is keyless,
  // so a transaction applied twice would show as a duplicate row.
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
  int64_t AuditRows() {
    auto n = pg_->QueryValue("SELECT count(*) FROM shop.audit", kPgDb);
    return n.ok() ? std::stoll(*n) : -1;
  }
  // sluice running pipeline p with `o`, 50 transactions applied, and a
  // second process of the same configuration waiting for it. With
  // `sync_points`, sluice runs with those from the 51st transaction on.
  void StartOwnerAndStandby(const PipelineOptions& o, SecondSluice& second, const std::string& sync_points = "") {
    ASSERT_NO_FATAL_FAILURE(StartServers());
    ASSERT_TRUE(src_->Execute(kSchema).ok());
    ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
    ASSERT_TRUE(Transactions(*src_, 1, 50).ok());
    ASSERT_TRUE(ConvergesExactly(50));
    if (!sync_points.empty()) {
      EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
      StartSluiceWithSyncPoints(sync_points);
      ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    }
    ASSERT_NO_FATAL_FAILURE(second.Start(dir_ / "second", [&](const std::filesystem::path& dir, uint16_t port) {
      return FaultConfig(dir, port, src_->Url(), PgUrl(), o);
    }));
    ASSERT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(second.port); }, seconds(30))) << second.process->Log();
  }
};

TEST_F(PgFaultTest, KillNineMidStreamThenRestartIsExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  PipelineOptions o;
  o.batch_size = 20;
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ConvergesExactly(20));

  Status written;
  std::jthread writer([&] { written = Transactions(*src_, 21, 400, milliseconds(2)); });
  auto applied = [&] {
    auto n = pg_->QueryValue("SELECT count(*) FROM shop.audit", kPgDb);
    return n.ok() ? std::stoll(*n) : 0;
  };
  for (long long at : {60, 160, 300}) {
    ASSERT_TRUE(WaitUntil([&] { return applied() >= at; }, seconds(90))) << sluice_->Log();
    sluice_->Kill();
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(ConvergesExactly(420));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A target that loses transactions it had committed (restored from a backup,
// or a crash with synchronous_commit off) holds less than sluice applied to
// it: seen when sluice reconnects (its checkpoint rows went back), and what
// it lost is applied again, exactly once.
TEST_F(PgFaultTest, ATargetThatLostCommittedTransactionsGetsThemAgain) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(PipelineOptions{}));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ConvergesExactly(20));
  // A backup of the target: its data directory, copied while it is down.
  const std::string backup = pg_->dir() + "/backup";
  ASSERT_TRUE(pg_->Stop().ok());
  ASSERT_EQ(std::system(fmt::format("cp -a '{}' '{}'", pg_->data_dir(), backup).c_str()), 0);
  ASSERT_TRUE(pg_->Restart().ok());
  ASSERT_TRUE(Transactions(*src_, 21, 30).ok());
  ASSERT_TRUE(ConvergesExactly(50));

  // Restored from it: transactions 21..50 are gone from the target.
  ASSERT_TRUE(pg_->Crash().ok());
  ASSERT_EQ(std::system(fmt::format("rm -rf '{0}' && cp -a '{1}' '{0}'", pg_->data_dir(), backup).c_str()), 0);
  ASSERT_TRUE(pg_->Restart().ok());
  ASSERT_TRUE(Transactions(*src_, 51, 10).ok());
  EXPECT_TRUE(ConvergesExactly(60));
  const std::string events = PipelineStatus("p")["events"].dump();
  EXPECT_NE(events.find("went back"), std::string::npos) << events;
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A lock the target's tables wait for past lock_timeout (a DBA's long
// transaction) is the server's state, not the row's: retried until the lock
// goes, never skipped, whatever on_error says.
TEST_F(PgFaultTest, ALockTimeoutIsRetriedNotSkipped) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(pg_->Execute("ALTER ROLE app SET lock_timeout = '200ms'").ok());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  PipelineOptions o;
  o.extra = "    on_error: skip\n";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ConvergesExactly(5));

  sluice::postgres::ConnectOptions co;
  co.port = pg_->port();
  co.user = "app";
  co.password = "s3cret'pw";
  co.database = kPgDb;
  auto holder = sluice::postgres::PgConnection::Connect(co);
  ASSERT_TRUE(holder.ok()) << holder.status().message();
  ASSERT_TRUE((*holder)->Execute("BEGIN; LOCK TABLE shop.orders IN ACCESS EXCLUSIVE MODE").ok());
  ASSERT_TRUE(Transactions(*src_, 6, 5).ok());
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(30), "dst"));
  EXPECT_NE(ErrorText(PipelineStatus("p")).find("lock timeout"), std::string::npos) << PipelineStatus("p").dump();
  ASSERT_TRUE((*holder)->Execute("ROLLBACK").ok());
  EXPECT_TRUE(ConvergesExactly(10));
  EXPECT_EQ(sluice_->FullLog().find("skipped (on_error: skip)"), std::string::npos) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(PgFaultTest, PostgresRestartedUnderLoadRetriesAndConverges) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  PipelineOptions o;
  o.batch_size = 20;
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ConvergesExactly(20));

  Status written;
  std::jthread writer([&] { written = Transactions(*src_, 21, 200, milliseconds(5)); });
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_TRUE(pg_->Stop().ok());
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(60), "dst"));
  ASSERT_TRUE(pg_->Restart().ok());
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(ConvergesExactly(220));
  EXPECT_TRUE(WaitForState("p", "running", seconds(60)));

  // A target already down when sluice starts is waited for as well.
  sluice_->Kill();
  ASSERT_TRUE(pg_->Stop().ok());
  ASSERT_TRUE(Transactions(*src_, 221, 10).ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(60), "dst"));
  ASSERT_TRUE(pg_->Restart().ok());
  EXPECT_TRUE(ConvergesExactly(230));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A hung server (every PostgreSQL process stopped): the bounded waits of the
// connection (query_timeout, connect_timeout) turn it into `retrying`; once
// it resumes, the session given up on is ended and nothing is applied twice.
TEST_F(PgFaultTest, HungServerRetriesThenConverges) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  url_params_ = "?query_timeout=3&connect_timeout=2";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith({}));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ConvergesExactly(20));

  ASSERT_TRUE(pg_->Hang().ok());
  ASSERT_TRUE(Transactions(*src_, 21, 20).ok());
  EXPECT_TRUE(WaitForState("p", "retrying", seconds(60), "dst"));
  EXPECT_NE(ErrorText(PipelineStatus("p")).find("127.0.0.1:" + std::to_string(pg_->port())), std::string::npos)
      << PipelineStatus("p").dump();
  ASSERT_TRUE(pg_->Resume().ok());
  EXPECT_TRUE(ConvergesExactly(40));
  EXPECT_TRUE(WaitForState("p", "running", seconds(60)));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// SIGTERM of sluice while the PostgreSQL target hangs mid-stream, with the
// default timeouts (minutes): the stop cuts the target's sessions instead
// of waiting them out; restarted, it converges exactly once.
TEST_F(PgFaultTest, StopIsPromptWhileTheServerHangs) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith({}));
  ASSERT_TRUE(Transactions(*src_, 1, 20).ok());
  ASSERT_TRUE(ConvergesExactly(20));
  ASSERT_TRUE(pg_->Hang().ok());
  ASSERT_TRUE(Transactions(*src_, 21, 20).ok());
  std::this_thread::sleep_for(milliseconds(1500));
  auto t0 = std::chrono::steady_clock::now();
  sluice_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(15)) << sluice_->Log();
  ASSERT_TRUE(pg_->Resume().ok());
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  EXPECT_TRUE(ConvergesExactly(40));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A target table dropped on PostgreSQL by hand is the target's state, not a
// row to skip: the target stops naming the table and the way back whatever
// on_error says (with skip, every later change of the table went to the
// skip log), and the way back works.
TEST_F(PgFaultTest, ATableDroppedOnTheTargetStopsItEvenWithOnErrorSkip) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20)); "
                            "INSERT INTO shop.t VALUES (1, 'a'), (2, 'b')").ok());
  PipelineOptions o;
  const std::string skip_log = (dir_ / "skipped.jsonl").string();
  o.extra = "    on_error: skip\n    skip_log: " + skip_log + "\n";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  const std::string rows = "SELECT id, v FROM shop.t ORDER BY id";
  ASSERT_TRUE(PgConverges(rows, rows));

  ASSERT_TRUE(pg_->Execute("DROP TABLE shop.t", kPgDb).ok());
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.t VALUES (3, 'c'); UPDATE shop.t SET v = 'bb' WHERE id = 2").ok());
  EXPECT_TRUE(WaitForState("p", "failed", seconds(30), "dst"));
  const std::string error = ErrorText(PipelineStatus("p"));
  for (const char* part : {"shop", "id='3'", "does not exist", "sluice snapshot --pipeline p"}) {
    EXPECT_NE(error.find(part), std::string::npos) << part << " in " << error;
  }
  EXPECT_EQ(sluice_->Stop(), 1 << 8) << sluice_->Log();  // a pipeline had failed
  EXPECT_EQ(sluice_->FullLog().find("skipped (on_error: skip)"), std::string::npos) << sluice_->Log();
  EXPECT_FALSE(std::filesystem::exists(skip_log));

  CommandResult copy = RunSluice("snapshot -c " + ShellQuote(config_) + " --pipeline p --progress none", 180);
  ASSERT_EQ(copy.exit_code, 0) << copy.out << copy.err;
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.t VALUES (4, 'd')").ok());
  EXPECT_TRUE(PgConverges(rows, rows));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// Two `sluice run` processes of the same configuration into one PostgreSQL
// target: one applies, the other waits naming it (before, both applied every
// transaction), and takes over once the first is gone (kill -9), from where
// it got to. Every transaction lands once.
TEST_F(PgFaultTest, ASecondProcessWaitsAndTakesOverOnceTheFirstIsGone) {
  SecondSluice second;
  ASSERT_NO_FATAL_FAILURE(StartOwnerAndStandby(PipelineOptions(), second));
  Status written;
  std::jthread writer([&] { written = Transactions(*src_, 51, 200, milliseconds(5)); });
  ASSERT_TRUE(WaitUntil([&] { return AuditRows() >= 120; }, seconds(60))) << sluice_->Log();
  sluice_->Kill();
  EXPECT_TRUE(LogsWithin(*second.process, "taking over from a sluice process that is gone", seconds(30)));
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(ConvergesExactly(250)) << second.process->Log();
  EXPECT_EQ(second.process->Stop(), 0) << second.process->Log();
}

// The owner frozen with its backends open (a host gone without closing its
// connections, a paused virtual machine): once its recorded backend has
// been idle for takeover_after, the waiting process terminates its backends
// (rolling back what they held open) and takes over; the first, thawed,
// waits. Every transaction lands once.
TEST_F(PgFaultTest, AFrozenOwnerIsTakenOverAfterTakeoverAfter) {
  PipelineOptions o;
  o.extra = "    takeover_after: 2s\n";
  SecondSluice second;
  ASSERT_NO_FATAL_FAILURE(StartOwnerAndStandby(o, second));
  Status written;
  std::jthread writer([&] { written = Transactions(*src_, 51, 200, milliseconds(5)); });
  ASSERT_TRUE(WaitUntil([&] { return AuditRows() >= 80; }, seconds(60))) << sluice_->Log();
  sluice_->Freeze();
  EXPECT_TRUE(LogsWithin(*second.process, "shows no sign of life", seconds(40)));
  writer.join();
  ASSERT_TRUE(written.ok()) << written.message();
  EXPECT_TRUE(ConvergesExactly(250)) << second.process->Log();

  sluice_->Thaw();
  ASSERT_TRUE(Transactions(*src_, 251, 20).ok());
  EXPECT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(http_port_); }, seconds(30))) << sluice_->Log();
  EXPECT_TRUE(ConvergesExactly(270));
  EXPECT_EQ(second.process->Stop(), 0) << second.process->Log();
  ASSERT_TRUE(Transactions(*src_, 271, 20).ok());
  EXPECT_TRUE(ConvergesExactly(290)) << sluice_->Log();
}

// The exact moment that matters: the owner frozen with a transaction
// written and not yet committed. The takeover terminates that backend, so
// the transaction rolls back and the new owner applies it once; the former
// owner, thawed, commits nothing.
TEST_F(PgFaultTest, AFrozenOwnersTransactionHeldAtCommitIsRolledBackByTheTakeover) {
  PipelineOptions o;
  o.extra = "    takeover_after: 2s\n";
  SecondSluice second;
  const std::string go = (dir_ / "go").string();
  ASSERT_NO_FATAL_FAILURE(StartOwnerAndStandby(
      o, second, "pg.partition.before_commit=wait:" + go + ",pg.in_order.before_commit=wait:" + go));
  ASSERT_TRUE(Transactions(*src_, 51, 1).ok());
  EXPECT_TRUE(LogsWithin(*sluice_, "before_commit: waiting", seconds(30)));
  sluice_->Freeze();
  std::ofstream(go).flush();  // it may go on once thawed
  EXPECT_TRUE(LogsWithin(*second.process, "shows no sign of life", seconds(40)));
  EXPECT_TRUE(ConvergesExactly(51)) << second.process->Log();

  sluice_->Thaw();
  EXPECT_TRUE(WaitUntil([&] { return WaitsForAnotherProcess(http_port_); }, seconds(30))) << sluice_->Log();
  ASSERT_TRUE(Transactions(*src_, 52, 20).ok());
  EXPECT_TRUE(ConvergesExactly(71)) << sluice_->Log();
  EXPECT_EQ(second.process->Stop(), 0) << second.process->Log();
}

}  // namespace
}  // namespace sluice::testing
