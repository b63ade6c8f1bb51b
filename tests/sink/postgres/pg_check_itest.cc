// `sluice check` against a PostgreSQL target that `sluice run` filled from
// MariaDB: consistent after a sync for every type family pg_types.h maps (no
// false differences), and planted differences found exactly, with their
// kind and key, also where PostgreSQL orders string keys differently.

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "cli/run_command.h"
#include "sink/postgres/pg_fixture.h"

namespace sluice::testing {
namespace {

constexpr const char* kSchema = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.types (
  id INT PRIMARY KEY,
  ti TINYINT, siu SMALLINT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dc DECIMAL(12,4), dcb DECIMAL(30,10), f FLOAT, d DOUBLE,
  dt DATE, dtm DATETIME(3), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME, tm2 TIME(2), y YEAR, b BIT(10),
  vc VARCHAR(40), ch CHAR(5), l1 VARCHAR(20) CHARACTER SET latin1, tx TEXT,
  vb VARBINARY(10), bl BLOB, js JSON, en ENUM('small','large'), st SET('a','b','c'));
CREATE TABLE shop.names (name VARCHAR(20) PRIMARY KEY, n INT);
CREATE TABLE shop.pairs (a INT, b VARCHAR(10), v INT, PRIMARY KEY (a, b));
CREATE TABLE shop.log (msg VARCHAR(20), n INT);
)sql";

constexpr const char* kRows = R"sql(
SET time_zone = '+00:00';
INSERT INTO shop.types VALUES
 (1, -128, 0, -9223372036854775808, 0, '-12345678.1234', '-12345678901234567890.0123456789', -1.5, -12345.678901,
  '1000-01-01', '1000-01-01 00:00:00.000', '1970-01-01 00:00:01.000000', '-838:59:59', '-00:00:01.50', 1901, b'0',
  'héllo 😀', 'ab', 'café', 'line1\nline2\ttab\\ end', X'', 0x00FF, '{"b": [true, null], "a": 1.50, "c": "\\u00e9"}',
  'small', ''),
 (2, 127, 65535, 9223372036854775807, 18446744073709551615, '99999999.9999', '0.0000000001', 3.25, 0.1,
  '9999-12-31', '9999-12-31 23:59:59.999', '2038-01-19 03:14:07.999999', '838:59:59', '12:00:00.00', 2155,
  b'1111111111', 'it''s "q"', 'abcde', 'ÀÿÆ', REPEAT('x', 3000), 0xDEADBEEF, 0x0A0D09005C, '[1, "x", {"k": "v"}]',
  'large', 'a,b,c'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL),
 (4, 1, 1, 1, 1, '0.0001', '1.5', 0.1, 1e300, '2024-02-29', '2024-02-29 12:34:56.780', '2024-02-29 12:34:56.000001',
  '00:00:00', '01:02:03.04', 2000, b'101', '', ' ', '', '', 0x00, '', '{}', 'small', 'b');
INSERT INTO shop.types (id, vc, js, vb, f, tm) VALUES
 (5, 'five', '{"x": [1, 2]}', 0x01, 1.5, '01:00:00'), (6, 'six', '[]', 0x01, 1.5, '01:00:00'),
 (7, 'seven', 'null', 0x01, 1.5, '01:00:00'), (8, 'eight', '"s"', 0x01, 1.5, '01:00:00');
INSERT INTO shop.names VALUES ('a', 1), ('B', 2), ('c', 3), ('_x', 4), ('Z', 5), ('é', 6), ('a b', 7), ('A-', 8);
INSERT INTO shop.pairs VALUES (1, 'x', 1), (1, 'Y', 2), (2, 'x', 3), (2, '_', 4);
INSERT INTO shop.log VALUES ('one', 1), ('dup', 2), ('dup', 2), ('three', NULL);
)sql";

class PgCheckTest : public PgSyncTest {
 protected:
  // Syncs kSchema/kRows into PostgreSQL with `sluice run` (left running).
  void Sync() {
    ASSERT_NO_FATAL_FAILURE(StartServers());
    ASSERT_TRUE(src_->Execute(kSchema).ok());
    PipelineOptions o;
    ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
    Status written = src_->Execute(kRows);
    ASSERT_TRUE(written.ok()) << written.message();
    ASSERT_TRUE(PgConverges("SELECT COUNT(*) FROM shop.types", "SELECT COUNT(*) FROM shop.types"));
    ASSERT_TRUE(PgConverges("SELECT COUNT(*) FROM shop.names", "SELECT COUNT(*) FROM shop.names"));
    ASSERT_TRUE(PgConverges("SELECT COUNT(*) FROM shop.pairs", "SELECT COUNT(*) FROM shop.pairs"));
    ASSERT_TRUE(PgConverges("SELECT COUNT(*) FROM shop.log", "SELECT COUNT(*) FROM shop.log"));
  }

  CommandResult Check(const std::string& more = "") {
    return RunSluice("check -c " + ShellQuote(config_) + " --pipeline p --format json --chunk-rows 2 " + more, 180);
  }

  static nlohmann::json Json(const CommandResult& r) {
    auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "stdout: " << r.out << "\nstderr: " << r.err;
    return j;
  }

  // Table entry `name` (target "db.table") of a report.
  static nlohmann::json Table(const nlohmann::json& j, const std::string& name) {
    for (const auto& t : j["pipelines"][0]["tables"]) {
      if (t["target"] == name) return t;
    }
    ADD_FAILURE() << "no table " << name << " in " << j.dump();
    return nlohmann::json::object();
  }

  // The keys of one kind in a table entry, each as its JSON text.
  static std::set<std::string> Keys(const nlohmann::json& t, const std::string& kind) {
    std::set<std::string> out;
    for (const auto& k : t[kind]) out.insert(k.dump());
    return out;
  }
};

TEST_F(PgCheckTest, AfterSyncEveryTypeIsConsistent) {
  ASSERT_NO_FATAL_FAILURE(Sync());
  auto r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = Json(r);
  EXPECT_EQ(j["consistent"], true) << j.dump(1);
  EXPECT_EQ(Table(j, "shop.types")["rows"], 8);
  EXPECT_EQ(Table(j, "shop.names")["rows"], 8);
  EXPECT_EQ(Table(j, "shop.log")["rows"], 4);
}

TEST_F(PgCheckTest, PlantedDifferencesAreFoundByKindAndKey) {
  ASSERT_NO_FATAL_FAILURE(Sync());
  EXPECT_EQ(sluice_->Stop(), 0);  // the planted differences stay
  Status planted = pg_->Execute(
      "DELETE FROM shop.types WHERE id = 2;"                                             // missing
      "INSERT INTO shop.types (id, vc) VALUES (99, 'extra');"                            // extra
      "UPDATE shop.types SET dc = dc + 0.0001 WHERE id = 1;"                             // numeric
      "UPDATE shop.types SET ts = ts + interval '1 microsecond' WHERE id = 4;"           // timestamptz
      "UPDATE shop.types SET js = '{\"x\": [1, 3]}' WHERE id = 5;"                       // jsonb
      "UPDATE shop.types SET vb = '\\x02' WHERE id = 6;"                                 // bytea
      "UPDATE shop.types SET f = 1.25 WHERE id = 7;"                                     // real
      "UPDATE shop.types SET vc = 'Eight', tm = '01:00:01' WHERE id = 8;"                // text (case only), interval
      "DELETE FROM shop.names WHERE name = 'B'; INSERT INTO shop.names VALUES ('b', 2);"  // case: missing + extra
      "UPDATE shop.names SET n = 60 WHERE name = 'é';"                                   // different
      "INSERT INTO shop.names VALUES ('zz', 9);"                                         // extra after every source key
      "UPDATE shop.pairs SET v = 30 WHERE a = 2 AND b = 'x';"                            // composite key
      "DELETE FROM shop.pairs WHERE a = 1 AND b = 'Y';"
      "DELETE FROM shop.log WHERE ctid = (SELECT ctid FROM shop.log WHERE msg = 'dup' LIMIT 1);"
      "INSERT INTO shop.log VALUES ('new', 5);",
      kPgDb);
  ASSERT_TRUE(planted.ok()) << planted.message();

  auto r = Check();
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  auto j = Json(r);
  EXPECT_EQ(j["consistent"], false);
  auto types = Table(j, "shop.types");
  EXPECT_EQ(Keys(types, "missing"), (std::set<std::string>{R"({"id":2})"})) << types.dump();
  EXPECT_EQ(Keys(types, "extra"), (std::set<std::string>{R"({"id":99})"})) << types.dump();
  EXPECT_EQ(Keys(types, "different"),
            (std::set<std::string>{R"({"id":1})", R"({"id":4})", R"({"id":5})", R"({"id":6})", R"({"id":7})",
                                   R"({"id":8})"}))
      << types.dump();
  auto names = Table(j, "shop.names");
  EXPECT_EQ(Keys(names, "missing"), (std::set<std::string>{R"({"name":"B"})"})) << names.dump();
  EXPECT_EQ(Keys(names, "extra"), (std::set<std::string>{R"({"name":"b"})", R"({"name":"zz"})"})) << names.dump();
  EXPECT_EQ(Keys(names, "different"), (std::set<std::string>{R"({"name":"é"})"})) << names.dump();
  auto pairs = Table(j, "shop.pairs");
  EXPECT_EQ(Keys(pairs, "missing"), (std::set<std::string>{R"({"a":1,"b":"Y"})"})) << pairs.dump();
  EXPECT_EQ(Keys(pairs, "different"), (std::set<std::string>{R"({"a":2,"b":"x"})"})) << pairs.dump();
  EXPECT_TRUE(pairs["extra"].empty()) << pairs.dump();
  auto log = Table(j, "shop.log");
  EXPECT_EQ(log["missing"].size(), 1u) << log.dump();
  EXPECT_EQ(log["extra"].size(), 1u) << log.dump();
}

TEST_F(PgCheckTest, RepairMakesThePostgresTargetEqual) {
  ASSERT_NO_FATAL_FAILURE(Sync());
  // Planted beside the running pipeline: nothing on the source changes them.
  Status planted = pg_->Execute(
      "DELETE FROM shop.types WHERE id IN (2, 3);"
      "INSERT INTO shop.types (id, vc) VALUES (99, 'extra');"
      "UPDATE shop.types SET dc = dc + 0.0001, js = '{\"x\": 0}' WHERE id = 1;"
      "UPDATE shop.types SET ts = ts + interval '1 microsecond' WHERE id = 4;"
      "DELETE FROM shop.names WHERE name = 'B'; INSERT INTO shop.names VALUES ('b', 2), ('zz', 9);"
      "UPDATE shop.pairs SET v = 30 WHERE a = 2 AND b = 'x';"
      "DELETE FROM shop.log WHERE ctid = (SELECT ctid FROM shop.log WHERE msg = 'dup' LIMIT 1);"
      "INSERT INTO shop.log VALUES ('new', 5);",
      kPgDb);
  ASSERT_TRUE(planted.ok()) << planted.message();
  auto r = Check("--repair --wait-seconds 30");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << sluice_->Log();
  auto j = Json(r);
  EXPECT_EQ(j["repaired"], true) << j.dump(1);
  EXPECT_EQ(Table(j, "shop.types")["counts"]["missing"], 2) << j.dump(1);
  EXPECT_EQ(Table(j, "shop.names")["counts"]["extra"], 2) << j.dump(1);

  r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Json(r)["consistent"], true) << r.out;
  ASSERT_TRUE(src_->Execute("SET time_zone = '+00:00'").ok());
  EXPECT_TRUE(PgConverges("SELECT id, dc, vc FROM shop.types ORDER BY id", "SELECT id, dc, vc FROM shop.types ORDER BY id"));
  EXPECT_TRUE(PgConverges("SELECT msg, n FROM shop.log ORDER BY msg, n", "SELECT msg, n FROM shop.log ORDER BY msg, n"));
}

// Shards a rule merges into one PostgreSQL table are compared as their
// union: the keys only the target has are looked up in every shard, so one
// shard's rows are not the other's extras (which a repair deleted before).
TEST_F(PgCheckTest, ShardsMergedIntoOneTableAreComparedAsTheirUnion) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_TRUE(src_->Execute("CREATE DATABASE sh; "
                            "CREATE TABLE sh.orders_1 (id INT PRIMARY KEY, v VARCHAR(20)); "
                            "CREATE TABLE sh.orders_2 (id INT PRIMARY KEY, v VARCHAR(20))")
                  .ok());
  PipelineOptions o;
  o.tables = "      - match: \"sh.orders_*\"\n        to: \"shm.orders\"\n";
  ASSERT_NO_FATAL_FAILURE(StartSluiceWith(o));
  ASSERT_TRUE(src_->Execute("INSERT INTO sh.orders_1 SELECT seq * 2 - 1, CONCAT('a', seq) FROM sh.seq_1_to_20; "
                            "INSERT INTO sh.orders_2 SELECT seq * 2, CONCAT('b', seq) FROM sh.seq_1_to_20")
                  .ok());
  const std::string union_orders = "SELECT * FROM sh.orders_1 UNION ALL SELECT * FROM sh.orders_2 ORDER BY id";
  ASSERT_TRUE(PgConverges(union_orders, "SELECT * FROM shm.orders ORDER BY id"));
  auto r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = Json(r);
  EXPECT_EQ(j["consistent"], true) << j.dump(1);
  auto t = Table(j, "shm.orders");
  EXPECT_EQ(t["source"], "sh.orders_1, sh.orders_2");
  EXPECT_EQ(t["rows"], 40);

  EXPECT_EQ(sluice_->Stop(), 0);  // the planted differences stay
  Status planted = pg_->Execute(
      "DELETE FROM shm.orders WHERE id IN (3, 4); INSERT INTO shm.orders VALUES (99, 'none'); "
      "UPDATE shm.orders SET v = 'changed' WHERE id = 6",
      kPgDb);
  ASSERT_TRUE(planted.ok()) << planted.message();
  r = Check();
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  t = Table(Json(r), "shm.orders");
  EXPECT_EQ(Keys(t, "missing"), (std::set<std::string>{R"({"id":3})", R"({"id":4})"})) << t.dump();
  EXPECT_EQ(Keys(t, "extra"), (std::set<std::string>{R"({"id":99})"})) << t.dump();
  EXPECT_EQ(Keys(t, "different"), (std::set<std::string>{R"({"id":6})"})) << t.dump();

  r = Check("--repair");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Json(r)["repaired"], true) << r.out;
  EXPECT_TRUE(PgConverges(union_orders, "SELECT * FROM shm.orders ORDER BY id", std::chrono::seconds(5)));
}

TEST_F(PgCheckTest, CheckAndRepairWhileThePipelineStreamsSettle) {
  ASSERT_NO_FATAL_FAILURE(Sync());
  ASSERT_TRUE(src_->Execute("CREATE TABLE shop.live (id INT PRIMARY KEY, v INT, s VARCHAR(20));"
                            "INSERT INTO shop.live SELECT seq, seq, CONCAT('s', seq) FROM shop.seq_1_to_1000")
                  .ok());
  ASSERT_TRUE(PgConverges("SELECT COUNT(*) FROM shop.live", "SELECT COUNT(*) FROM shop.live"));
  std::atomic<bool> stop{false};
  std::atomic<int> transactions{0};
  std::thread writer([&] {
    std::mt19937 rng(7);
    int next_id = 1001;
    while (!stop.load()) {
      std::string sql = "BEGIN;";
      for (int i = 0; i < 3; ++i) {
        int id = 1 + static_cast<int>(rng() % 1000);
        switch (rng() % 4) {
          case 0: sql += fmt::format("INSERT INTO shop.live VALUES ({}, 0, 'new');", next_id++); break;
          case 1: sql += fmt::format("DELETE FROM shop.live WHERE id = {};", id); break;
          default: sql += fmt::format("UPDATE shop.live SET v = v + 1, s = 'upd' WHERE id = {};", id); break;
        }
      }
      sql += "COMMIT";
      if (!src_->Execute(sql).ok()) break;
      ++transactions;
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto r = Check("--wait-seconds 60");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << sluice_->Log();
  auto j = Json(r);
  EXPECT_EQ(j["consistent"], true) << r.out;
  EXPECT_EQ(j["pipelines"][0]["caught_up"], true) << r.out;
  // A repair while the stream applies never puts an older row back.
  ASSERT_TRUE(pg_->Execute("DELETE FROM shop.live WHERE id IN (500, 501); UPDATE shop.live SET s = 'planted' WHERE "
                           "id BETWEEN 600 AND 610",
                           kPgDb)
                  .ok());
  r = Check("--repair --wait-seconds 60");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << sluice_->Log();
  stop = true;
  writer.join();
  EXPECT_GT(transactions.load(), 20);
  EXPECT_TRUE(PgConverges("SELECT id, v, s FROM shop.live ORDER BY id", "SELECT id, v, s FROM shop.live ORDER BY id"));
}

// `sluice check` while the PostgreSQL target hangs (SIGSTOP: the kernel
// accepts the connection, the server never answers), with a long
// connect_timeout: SIGTERM ends the target reader's wait at once.
TEST_F(PgCheckTest, CheckStopsAtOnceWhileTheTargetHangs) {
  url_params_ = "?connect_timeout=120";
  ASSERT_NO_FATAL_FAILURE(Sync());
  ASSERT_EQ(sluice_->Stop(), 0) << sluice_->Log();
  const int before = ConnectionsTo(pg_->port());
  ASSERT_TRUE(pg_->Hang().ok());
  const std::string log = (dir_ / "check.log").string();
  auto pid = SpawnProcess({SLUICE_BINARY, "check", "-c", config_, "--pipeline", "p"}, log);
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  struct Cleanup {
    PostgresServer& pg;
    pid_t pid;
    ~Cleanup() {
      (void)StopProcess(pid, SIGKILL, std::chrono::seconds(0));
      (void)pg.Resume();
    }
  } cleanup{*pg_, *pid};
  EXPECT_TRUE(WaitUntil([&] { return ConnectionsTo(pg_->port()) > before; }, std::chrono::seconds(30)))
      << TailOfFile(log, 0, 6000);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(*pid, SIGTERM), 0);
  auto code = WaitForExit(*pid, std::chrono::seconds(60));
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(code.ok() && code->has_value()) << "sluice check still waits for the hung target:\n"
                                              << TailOfFile(log, 0, 6000);
  EXPECT_NE(**code, 0) << TailOfFile(log, 0, 6000);
  EXPECT_LT(took, std::chrono::seconds(10)) << TailOfFile(log, 0, 6000);  // the connect timeout is 120 s
}

}  // namespace
}  // namespace sluice::testing
