// `sluice run` end to end: one source fanned out to two targets with rename,
// column subset, row filter and 1:1 DDL replication, converging under a mixed
// workload with key changes and two kill -9 restarts.

#include <random>

#include "cli/run_command.h"
#include "pipeline/sync_fixture.h"

namespace sluice::testing {
namespace {

std::string FanOutConfig(const std::string& dir, const MariadbServer& src, const MariadbServer& search,
                         const MariadbServer& report, const std::string& start) {
  return fmt::format(R"(store: {dir}/sluice.db
http: 127.0.0.1:{port}
sources:
  main: {{url: "{src}", server_id: 4242, heartbeat_ms: 200}}
targets:
  search: {{url: "{search}"}}
  report: {{url: "{report}"}}
pipelines:
  - name: to_search
    source: main
    targets: [search]
    start: "{start}"
    tables:
      - match: "shop.orders"
        to: "search_db.${{table}}"
        columns: [id, customer, status, amount]
        rename_columns: {{customer: buyer}}
        where: "status != 'deleted' AND amount >= 10"
    batch: {{size: 200, timeout_ms: 50}}
    parallel: 3
  - name: to_report
    source: main
    targets: [report]
    start: "{start}"
    tables:
      - match: "shop.*"
    batch: {{size: 500, timeout_ms: 50}}
    parallel: 4
)",
                     fmt::arg("dir", dir), fmt::arg("src", src.Url()), fmt::arg("search", search.Url()),
                     fmt::arg("report", report.Url()), fmt::arg("start", start), fmt::arg("port", FreePort()));
}

// Random inserts, updates (including primary-key changes and filter
// transitions) and deletes, in multi-statement transactions.
void Workload(MariadbServer& src, int transactions, uint32_t seed, int* next_id) {
  std::mt19937 rng(seed);
  const char* statuses[] = {"new", "paid", "deleted", "shipped"};
  for (int t = 0; t < transactions; ++t) {
    std::string sql = "BEGIN;";
    int statements = 1 + static_cast<int>(rng() % 5);
    for (int s = 0; s < statements; ++s) {
      int kind = static_cast<int>(rng() % 10);
      int id = 1 + static_cast<int>(rng() % std::max(1, *next_id));
      if (kind < 5) {
        int nid = (*next_id)++;
        sql += fmt::format("INSERT INTO shop.orders VALUES ({}, 'cust{}', '{}', {}.{:02d}, 'note {}');", nid, rng() % 50,
                           statuses[rng() % 4], rng() % 40, rng() % 100, nid);
      } else if (kind < 8) {
        sql += fmt::format("UPDATE shop.orders SET status = '{}', amount = amount + {} WHERE id = {};",
                           statuses[rng() % 4], static_cast<int>(rng() % 20) - 10, id);
      } else if (kind < 9) {
        int nid = (*next_id)++;
        sql += fmt::format("UPDATE shop.orders SET id = {} WHERE id = {};", nid, id);  // key change
      } else {
        sql += fmt::format("DELETE FROM shop.orders WHERE id = {};", id);
      }
    }
    sql += fmt::format("INSERT INTO shop.audit (msg) VALUES ('txn {}');", t);
    sql += "COMMIT;";
    ASSERT_TRUE(src.Execute(sql).ok()) << sql;
  }
}

const char* kSchema = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, customer VARCHAR(20), status VARCHAR(10),
                          amount DECIMAL(10,2), note TEXT);
CREATE TABLE shop.audit (n INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(50));
)sql";

const char* kSearchSource =
    "SELECT id, customer, status, amount FROM shop.orders WHERE status != 'deleted' AND amount >= 10 ORDER BY id";
const char* kSearchTarget = "SELECT id, buyer, status, amount FROM search_db.orders ORDER BY id";

TEST_F(SyncTest, FanOutRenameSubsetFilterConvergeAcrossKillNine) {
  auto src = StartServer(1);
  auto search = StartServer(2);
  auto report = StartServer(3);
  ASSERT_TRUE(src && search && report);
  ASSERT_TRUE(src->Execute(kSchema).ok());
  // The renamed, subset table is created by the user; the 1:1 target gets
  // the schema replicated from `earliest`.
  ASSERT_TRUE(search->Execute("CREATE DATABASE search_db; CREATE TABLE search_db.orders (id INT PRIMARY KEY, "
                              "buyer VARCHAR(20), status VARCHAR(10), amount DECIMAL(10,2))").ok());
  WriteConfig(FanOutConfig(dir_.string(), *src, *search, *report, "earliest"));
  int next_id = 1;
  Workload(*src, 30, 1, &next_id);
  StartSluice();
  Workload(*src, 60, 2, &next_id);
  ASSERT_TRUE(Converges(*src, kSearchSource, *search, kSearchTarget));
  ASSERT_TRUE(Converges(*src, "SELECT * FROM shop.orders ORDER BY id", *report, "SELECT * FROM shop.orders ORDER BY id"));

  // kill -9 while changes flow, twice; each restart resumes from the targets' checkpoints.
  for (int round = 0; round < 2; ++round) {
    std::thread writer([&] { Workload(*src, 80, 10 + round, &next_id); });
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    sluice_->Kill();
    writer.join();
    StartSluice();
  }
  ASSERT_TRUE(Converges(*src, kSearchSource, *search, kSearchTarget));
  ASSERT_TRUE(Converges(*src, "SELECT * FROM shop.orders ORDER BY id", *report, "SELECT * FROM shop.orders ORDER BY id"));
  ASSERT_TRUE(Converges(*src, "SELECT * FROM shop.audit ORDER BY n", *report, "SELECT * FROM shop.audit ORDER BY n"));
  // Exactly once: the audit log (one row per source transaction, auto-increment
  // key) has no duplicates and no gaps.
  auto count = report->QueryValue("SELECT COUNT(*) FROM shop.audit");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, std::to_string(30 + 60 + 80 + 80));
  EXPECT_TRUE(sluice_->Running()) << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(SyncTest, UserCreatedTargetTablesAreReusedFromEarliest) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT); "
                           "CREATE TABLE shop.b (id INT PRIMARY KEY, v INT); INSERT INTO shop.a VALUES (1, 1), (2, 2); "
                           "INSERT INTO shop.b VALUES (3, 3); ALTER TABLE shop.b ADD COLUMN w INT; "
                           "UPDATE shop.b SET w = 9").ok());
  // The user created the database and one table by hand, same columns.
  ASSERT_TRUE(dst->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT)").ok());
  WriteConfig(OneToOneConfig(dir_.string(), *src, *dst));
  StartSluice();
  EXPECT_TRUE(Converges(*src, "SELECT * FROM shop.a ORDER BY id", *dst, "SELECT * FROM shop.a ORDER BY id"));
  EXPECT_TRUE(Converges(*src, "SELECT * FROM shop.b ORDER BY id", *dst, "SELECT * FROM shop.b ORDER BY id"));
  EXPECT_NE(sluice_->Log().find("already exists with the same columns"), std::string::npos) << sluice_->Log();
}

// A target table made by hand with the columns in another order, wider
// types and columns of its own (a sync time, a note): rows go by name and
// leave those to their defaults, as a snapshot into it does. One of its own
// that no row can fill (NOT NULL, no default), or a narrower type, is named
// before anything is written.
TEST_F(SyncTest, UserCreatedTargetTablesWithColumnsOfTheirOwnAreReused) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT, w VARCHAR(5)); "
                           "INSERT INTO shop.a VALUES (1, 1, 'x'), (2, 2, 'y'); UPDATE shop.a SET v = 20 WHERE id = 2; "
                           "DELETE FROM shop.a WHERE id = 1; INSERT INTO shop.a VALUES (3, 3, 'z')").ok());
  ASSERT_TRUE(dst->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (w VARCHAR(20), id INT PRIMARY KEY, "
                           "synced_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), note TEXT, v BIGINT)").ok());
  WriteConfig(OneToOneConfig(dir_.string(), *src, *dst));
  StartSluice();
  const std::string mapped = "SELECT id, v, w FROM shop.a ORDER BY id";
  EXPECT_TRUE(Converges(*src, mapped, *dst, mapped));
  EXPECT_TRUE(LogShows("already exists with the source's columns in types that hold its values (`w` varchar(20) "
                       "for varchar(5), `v` bigint(20) for int(11)), and columns of its own (`synced_at`, `note`) rows "
                       "leave to their defaults; CREATE skipped"));
  auto own = dst->QueryValue("SELECT COUNT(*) FROM shop.a WHERE synced_at > '2000-01-01' AND note IS NULL");
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(*own, "2");

  ASSERT_TRUE(dst->Execute("CREATE TABLE shop.b (id INT PRIMARY KEY, v INT, tenant INT NOT NULL)").ok());
  ASSERT_TRUE(src->Execute("CREATE TABLE shop.b (id INT PRIMARY KEY, v INT); INSERT INTO shop.b VALUES (1, 1)").ok());
  EXPECT_TRUE(LogShows("target table `shop.b` already exists with the source's columns and `tenant` (int(11) NOT "
                       "NULL, no default) of its own that rows from the source cannot fill; give it a default or "
                       "drop it"));
  auto rows = dst->QueryValue("SELECT COUNT(*) FROM shop.b");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, "0");
}

TEST_F(SyncTest, UserCreatedTargetTableWithANarrowerTypeStops) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT UNSIGNED); "
                           "INSERT INTO shop.a VALUES (1, 4000000000)").ok());
  ASSERT_TRUE(dst->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT)").ok());
  WriteConfig(OneToOneConfig(dir_.string(), *src, *dst));
  StartSluice();
  EXPECT_TRUE(LogShows("target table `shop.a` already exists with the same column names but other types: `v` is "
                       "int(11) on the target, int(10) unsigned on the source"));
  auto rows = dst->QueryValue("SELECT COUNT(*) FROM shop.a");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, "0");
}

TEST_F(SyncTest, UserCreatedTargetTableWithOtherColumnsStops) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT); "
                           "INSERT INTO shop.a VALUES (1, 1)").ok());
  ASSERT_TRUE(dst->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, other INT)").ok());
  WriteConfig(OneToOneConfig(dir_.string(), *src, *dst));
  StartSluice();
  bool reported = false;
  for (int i = 0; i < 200 && !reported; ++i) {
    reported = sluice_->Log().find("already exists with columns (id, other)") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(reported) << sluice_->Log();
  auto rows = dst->QueryValue("SELECT COUNT(*) FROM shop.a");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, "0");  // nothing applied into the mismatching table
}

TEST_F(SyncTest, BadRulesFailBeforeAnythingRunsNamingFileLineAndKey) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.a (id INT PRIMARY KEY, v INT)").ok());
  std::string base = OneToOneConfig(dir_.string(), *src, *dst);
  // A row filter that does not parse.
  std::string bad_filter = base;
  bad_filter.replace(bad_filter.find("      - match: \"shop.*\""), std::string("      - match: \"shop.*\"").size(),
                     "      - match: \"shop.*\"\n        where: \"v >= AND 3\"");
  WriteConfig(bad_filter);
  auto r = RunSluice("run -c " + config_, 60);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("sluice.yaml:13:16: pipelines[0].tables[0].where: unexpected token \"AND\""), std::string::npos)
      << r.err;
  // A pattern that matches no table.
  std::string nothing = base;
  nothing.replace(nothing.find("shop.*"), 6, "shop.nope_*");
  WriteConfig(nothing);
  r = RunSluice("run -c " + config_, 60);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("sluice.yaml:12:16: pipelines[0].tables[0].match: \"shop.nope_*\" matches no table"),
            std::string::npos)
      << r.err;
  auto tables = dst->QueryValue("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '_sluice'");
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(*tables, "0");  // nothing ran
}

TEST_F(SyncTest, TablesWithoutPrimaryKeyUseAUniqueKeyOrTheFullRow) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; "
                           "CREATE TABLE shop.u (code VARCHAR(10) NOT NULL, v INT, UNIQUE KEY (code)); "
                           "CREATE TABLE shop.k (a INT, b VARCHAR(5))").ok());
  WriteConfig(OneToOneConfig(dir_.string(), *src, *dst));
  StartSluice();
  ASSERT_TRUE(src->Execute("INSERT INTO shop.u VALUES ('a', 1), ('b', 2), ('c', 3); UPDATE shop.u SET v = 20 WHERE code = 'b'; "
                           "UPDATE shop.u SET code = 'z' WHERE code = 'a'; DELETE FROM shop.u WHERE code = 'c'; "
                           "INSERT INTO shop.k VALUES (1, 'x'), (1, 'x'), (2, 'y'); DELETE FROM shop.k WHERE a = 1 LIMIT 1; "
                           "UPDATE shop.k SET b = 'w' WHERE a = 2").ok());
  EXPECT_TRUE(Converges(*src, "SELECT * FROM shop.u ORDER BY code", *dst, "SELECT * FROM shop.u ORDER BY code"));
  EXPECT_TRUE(Converges(*src, "SELECT * FROM shop.k ORDER BY a, b", *dst, "SELECT * FROM shop.k ORDER BY a, b"));
  EXPECT_NE(sluice_->Log().find("`shop`.`k`"), std::string::npos) << "keyless warning expected: " << sluice_->Log();
  EXPECT_EQ(sluice_->Log().find("`shop`.`u` (rule"), std::string::npos) << "u has a unique key: " << sluice_->Log();
}

TEST_F(SyncTest, SecondaryUniqueKeyConflictsInsideABatchConverge) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.users (id INT PRIMARY KEY, email VARCHAR(20) NOT NULL, "
                           "UNIQUE KEY (email)); INSERT INTO shop.users VALUES (1, 'a'), (2, 'b'), (3, 'c')").ok());
  std::string cfg = OneToOneConfig(dir_.string(), *src, *dst);
  cfg.replace(cfg.find("timeout_ms: 50"), 14, "timeout_ms: 1500");  // one batch for all of it
  WriteConfig(cfg);
  StartSluice();
  ASSERT_TRUE(Converges(*src, "SELECT * FROM shop.users ORDER BY id", *dst, "SELECT * FROM shop.users ORDER BY id"));
  // Merged per key, user 1 ends with 'b' while user 2 still holds 'b' on the
  // target until its own change; user 4 takes 'c' that user 3 gives up.
  ASSERT_TRUE(src->Execute("UPDATE shop.users SET email = 'a2' WHERE id = 1; UPDATE shop.users SET email = 'b2' WHERE id = 2; "
                           "UPDATE shop.users SET email = 'b' WHERE id = 1; UPDATE shop.users SET email = 'c2' WHERE id = 3; "
                           "INSERT INTO shop.users VALUES (4, 'c')").ok());
  EXPECT_TRUE(Converges(*src, "SELECT * FROM shop.users ORDER BY id", *dst, "SELECT * FROM shop.users ORDER BY id"));
}

// Rows swapping unique values inside one batch: merged per key, each row's
// final image conflicts with the other row's old one, and when the two rows
// hash to different partitions neither partition can commit first.
TEST_F(SyncTest, UniqueValuesSwappedAcrossPartitionsConverge) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.users (id INT PRIMARY KEY, email VARCHAR(20) NOT NULL, "
                           "UNIQUE KEY (email)); INSERT INTO shop.users SELECT seq, CONCAT('e', seq) FROM shop.seq_1_to_16")
                  .ok());
  std::string cfg = OneToOneConfig(dir_.string(), *src, *dst);
  cfg.replace(cfg.find("timeout_ms: 50"), 14, "timeout_ms: 1500");  // one batch for all of it
  WriteConfig(cfg);
  StartSluice();
  const std::string kQuery = "SELECT * FROM shop.users ORDER BY id";
  ASSERT_TRUE(Converges(*src, kQuery, *dst, kQuery));
  // Every row swaps with every other one at some point: some pairs are
  // bound to fall into different partitions.
  std::string swaps;
  for (int a = 1; a <= 16; ++a) {
    int b = a % 16 + 1;
    swaps += fmt::format(
        "BEGIN; SELECT email INTO @ea FROM shop.users WHERE id = {0}; SELECT email INTO @eb FROM shop.users WHERE id = {1}; "
        "UPDATE shop.users SET email = 'tmp' WHERE id = {0}; UPDATE shop.users SET email = @ea WHERE id = {1}; "
        "UPDATE shop.users SET email = @eb WHERE id = {0}; COMMIT; ",
        a, b);
  }
  ASSERT_TRUE(src->Execute(swaps).ok());
  EXPECT_TRUE(Converges(*src, kQuery, *dst, kQuery, std::chrono::seconds(30)));
}

// A real duplicate (the target holds a row the source never had, with the
// same unique value) still stops the target, naming the row and the error,
// after the conflict fallbacks found nothing to explain it.
TEST_F(SyncTest, GenuineDuplicateOnTheTargetStopsNamingTheRow) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  const char* kTable =
      "CREATE DATABASE shop; CREATE TABLE shop.users (id INT PRIMARY KEY, email VARCHAR(20) NOT NULL, UNIQUE KEY (email))";
  ASSERT_TRUE(src->Execute(kTable).ok());
  // Row 2 is there already (another email) and row 99 holds 'taken': making
  // row 2 take 'taken' cannot succeed whatever the order.
  ASSERT_TRUE(dst->Execute(std::string(kTable) + "; INSERT INTO shop.users VALUES (2, 'old'), (99, 'taken')").ok());
  WriteConfig(OneToOneConfig(dir_.string(), *src, *dst));
  StartSluice();
  ASSERT_TRUE(src->Execute("INSERT INTO shop.users VALUES (1, 'free'), (2, 'taken')").ok());
  EXPECT_TRUE(WaitUntil([&] { return sluice_->Log().find("Duplicate entry 'taken'") != std::string::npos; },
                        std::chrono::seconds(30)))
      << sluice_->Log();
  std::string log = sluice_->Log();
  EXPECT_NE(log.find("key id=2"), std::string::npos) << log;
  EXPECT_NE(log.find("the target rejected the change"), std::string::npos) << log;
  // The rejected change is not applied (rows of other partitions may be:
  // partitions commit on their own).
  auto kept = dst->QueryValue("SELECT GROUP_CONCAT(id, '=', email ORDER BY id) FROM shop.users WHERE id IN (2, 99)");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, "2=old,99=taken");
}

// Generated columns (VIRTUAL and STORED) are in the binlog's row images but
// the target computes its own: streaming, snapshots and repairs leave them out.
TEST_F(SyncTest, GeneratedColumnsAreComputedByTheTarget) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.lines (id INT PRIMARY KEY, qty INT, price DECIMAL(8,2), "
                           "total DECIMAL(12,2) AS (qty * price) VIRTUAL, big TINYINT AS (qty > 10) STORED, "
                           "KEY (big)); INSERT INTO shop.lines (id, qty, price) VALUES (1, 2, 1.50), (2, 20, 3.00)")
                  .ok());
  WriteConfig(OneToOneConfig(dir_.string(), *src, *dst));  // start: earliest, the CREATE replicated
  StartSluice();
  const std::string kQuery = "SELECT * FROM shop.lines ORDER BY id";
  ASSERT_TRUE(Converges(*src, kQuery, *dst, kQuery));
  ASSERT_TRUE(src->Execute("UPDATE shop.lines SET qty = 30 WHERE id = 1; INSERT INTO shop.lines (id, qty, price) VALUES "
                           "(3, 1, 9.99); DELETE FROM shop.lines WHERE id = 2")
                  .ok());
  ASSERT_TRUE(Converges(*src, kQuery, *dst, kQuery));
  sluice_.reset();

  // A check compares them like any column; a repair writes the rest.
  auto r = RunSluice("check -c " + config_, 60);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(dst->Execute("DELETE FROM shop.lines WHERE id = 3; UPDATE shop.lines SET price = 0 WHERE id = 1").ok());
  r = RunSluice("check -c " + config_ + " --repair", 60);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Converges(*src, kQuery, *dst, kQuery, std::chrono::seconds(5)));

  // A snapshot into an empty target creates the table and fills it.
  auto fresh = StartServer(3);
  ASSERT_TRUE(fresh);
  WriteConfig(OneToOneConfig(dir_.string() + "/fresh", *src, *fresh));
  std::filesystem::create_directories(dir_ / "fresh");
  r = RunSluice("snapshot -c " + config_ + " --pipeline copy --progress none", 60);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Converges(*src, kQuery, *fresh, kQuery, std::chrono::seconds(5)));
}

TEST_F(SyncTest, DdlOnASubsetTableIgnoresColumnsOutsideAndStopsOnTheRest) {
  auto src = StartServer(1);
  auto dst = StartServer(2);
  ASSERT_TRUE(src && dst);
  ASSERT_TRUE(src->Execute("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, a INT, b INT)").ok());
  ASSERT_TRUE(dst->Execute("CREATE DATABASE s; CREATE TABLE s.o (id INT PRIMARY KEY, a INT)").ok());
  WriteConfig(fmt::format(R"(store: {dir}/sluice.db
sources:
  main: {{url: "{src}", server_id: 5252, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: subset
    source: main
    targets: [dst]
    start: earliest
    tables:
      - match: "shop.orders"
        to: "s.o"
        columns: [id, a]
    batch: {{size: 100, timeout_ms: 50}}
)",
                          fmt::arg("dir", dir_.string()), fmt::arg("src", src->Url()), fmt::arg("dst", dst->Url())));
  StartSluice();
  ASSERT_TRUE(src->Execute("INSERT INTO shop.orders VALUES (1, 10, 100); ALTER TABLE shop.orders ADD COLUMN c INT; "
                           "INSERT INTO shop.orders VALUES (2, 20, 200, 2000)").ok());
  EXPECT_TRUE(Converges(*src, "SELECT id, a FROM shop.orders ORDER BY id", *dst, "SELECT id, a FROM s.o ORDER BY id"));
  // Dropping a column the target holds cannot be mapped: the target stops and says why.
  ASSERT_TRUE(src->Execute("ALTER TABLE shop.orders DROP COLUMN a; INSERT INTO shop.orders VALUES (3, 300, 3000)").ok());
  bool reported = false;
  for (int i = 0; i < 200 && !reported; ++i) {
    // Whichever stage meets it first stops the pipeline: the target at the
    // DROP COLUMN, or the transform at the next row, which lacks the column.
    std::string log = sluice_->Log();
    reported = log.find("renamed or subset on the target") != std::string::npos ||
               log.find("columns: no column `a` in the source table") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(reported) << sluice_->Log();
  auto count = dst->QueryValue("SELECT COUNT(*) FROM s.o");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, "2");  // nothing after the unmappable DDL
}

}  // namespace
}  // namespace sluice::testing
