// pgoutput protocol 2 streaming (PostgreSQL 14+): with
// logical_decoding_work_mem at its 64kB minimum, a transaction of megabytes
// reaches sluice in stream blocks while it is still in progress. sluice
// applies it only at its commit, whole and in commit order; a rolled-back
// large transaction and a rolled-back savepoint inside a committed one leave
// nothing on the targets.

#include <fmt/format.h>

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

}  // namespace
}  // namespace sluice::testing
