// pgoutput protocol 2 streaming (PostgreSQL 14+): with
// logical_decoding_work_mem at its 64kB minimum, a transaction of megabytes
// reaches sluice in stream blocks while it is still in progress. sluice
// applies it only at its commit, whole and in commit order; a rolled-back
// large transaction and a rolled-back savepoint inside a committed one leave
// nothing on the targets; a stream cut by a reconnect is not applied twice.

#include <fmt/format.h>

#include "client/postgres/connection.h"
#include "pipeline/pg_source_fixture.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(PgSourceTest, LargeTransactionsAreStreamedAndAppliedAtTheirCommitOnly) {
  ASSERT_NO_FATAL_FAILURE(StartServers({"logical_decoding_work_mem=64kB"}));
  Sql("CREATE TABLE big (id int PRIMARY KEY, payload text); CREATE TABLE small (id int PRIMARY KEY)");
  ASSERT_NO_FATAL_FAILURE(StartPipeline());
  Sql("INSERT INTO small VALUES (1)");
  EXPECT_TRUE(Converge("SELECT id FROM small", "SELECT id FROM public.small", "SELECT id FROM public.small"));

  // About 3 MB of changes, a rolled-back savepoint among them.
  Sql("BEGIN; INSERT INTO big SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 20000) i;"
      "SAVEPOINT s; INSERT INTO big SELECT i, 'gone' FROM generate_series(20001, 25000) i;"
      "UPDATE big SET payload = 'gone too' WHERE id <= 100; ROLLBACK TO SAVEPOINT s;"
      "UPDATE big SET payload = 'u' || id WHERE id % 1000 = 0; INSERT INTO small VALUES (2); COMMIT");
  // A large transaction rolled back after the server streamed part of it.
  Sql("BEGIN; INSERT INTO big SELECT i, 'rolled back' FROM generate_series(30001, 50000) i;"
      "DELETE FROM big WHERE id <= 5000; ROLLBACK");
  Sql("INSERT INTO small VALUES (3)");
  const std::string source = "SELECT count(*), sum(id), sum(length(payload)), max(payload) FROM big";
  EXPECT_TRUE(Converge(source, "SELECT count(*), sum(id), sum(length(payload)), max(payload) FROM public.big",
                       "SELECT COUNT(*), SUM(id), SUM(LENGTH(payload)), MAX(payload) FROM public.big", 120s));
  EXPECT_EQ(Value("SELECT count(*) FROM big"), "20000");
  EXPECT_TRUE(Converge("SELECT id FROM small ORDER BY id", "SELECT id FROM public.small ORDER BY id",
                       "SELECT id FROM public.small ORDER BY id"));
  EXPECT_EQ(Value("SELECT md5(string_agg(id || ':' || payload, ',' ORDER BY id)) FROM public.big", "target"),
            Value("SELECT md5(string_agg(id || ':' || payload, ',' ORDER BY id)) FROM big"));

  // The server did stream (both large transactions), and the slot moved on.
  EXPECT_TRUE(WaitUntil(
      [&] { return Value("SELECT stream_txns >= 2 FROM pg_stat_replication_slots WHERE slot_name = 'sluice_p'") == "t"; },
      15s))
      << Value("SELECT stream_txns || ' ' || stream_count || ' ' || stream_bytes FROM pg_stat_replication_slots "
               "WHERE slot_name = 'sluice_p'");
  std::string wal_end = Value("SELECT pg_current_wal_lsn()");
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Value("SELECT confirmed_flush_lsn >= '" + wal_end +
                     "' FROM pg_replication_slots WHERE slot_name = 'sluice_p'") == "t";
      },
      15s));
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// The replication connection cut while a large transaction is being
// streamed: the server streams it again from its start after the
// reconnect, and the part received before is not applied twice (a keyless
// table would show every row applied twice).
TEST_F(PgSourceTest, AStreamCutByAReconnectIsNotAppliedTwice) {
  ASSERT_NO_FATAL_FAILURE(StartServers({"logical_decoding_work_mem=64kB"}));
  Sql("CREATE TABLE log (n int, payload text); ALTER TABLE log REPLICA IDENTITY FULL");
  ASSERT_NO_FATAL_FAILURE(StartPipeline());
  postgres::ConnectOptions co;
  co.port = pg_->port();
  co.user = "repl";
  co.password = "s3cret";
  co.database = "shop";
  auto writer = postgres::PgConnection::Connect(co);
  ASSERT_TRUE(writer.ok()) << writer.status().message();
  auto& w = **writer;
  ASSERT_TRUE(w.Execute("BEGIN; INSERT INTO log SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 10000) i")
                  .ok());
  // Part of it has been streamed (the server sent stream blocks).
  ASSERT_TRUE(WaitUntil(
      [&] { return Value("SELECT stream_count > 0 FROM pg_stat_replication_slots WHERE slot_name = 'sluice_p'") == "t"; },
      30s));
  std::string walsender = Value("SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'sluice_p'");
  ASSERT_TRUE(pg_->Execute("SELECT pg_terminate_backend(" + walsender + ")").ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::string now = Value("SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'sluice_p'");
        return !now.empty() && now[0] != '(' && now != walsender;
      },
      30s))
      << sluice_->Log();
  ASSERT_TRUE(w.Execute("INSERT INTO log SELECT i, 'after' FROM generate_series(10001, 15000) i; COMMIT").ok());
  const std::string count = "SELECT count(*), count(DISTINCT n), sum(length(payload)) FROM {}log";
  EXPECT_TRUE(Converge(fmt::format(fmt::runtime(count), ""), fmt::format(fmt::runtime(count), "public."),
                       "SELECT COUNT(*), COUNT(DISTINCT n), SUM(LENGTH(payload)) FROM public.log", 120s));
  EXPECT_EQ(Value("SELECT count(*) FROM public.log", "target"), "15000");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
