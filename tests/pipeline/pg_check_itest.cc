// `sluice check [--repair]` of a PostgreSQL 15 source (pipeline/pg_check.h)
// into targets it reads back by keys (ClickHouse, Redis; check_target.h)
// and into MariaDB with a bytea primary key: equal after a snapshot, planted
// differences found with the right counts, repaired with the source's own
// values, clean again.

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "cli/run_command.h"
#include "pipeline/pg_source_fixture.h"

namespace sluice::testing {
namespace {

class PgSourceCheckTest : public PgSourceTest {
 protected:
  CommandResult Check(const std::string& more = "") {
    return RunSluice(
        "check -c " + ShellQuote(config_) + " --pipeline p --format json --wait-seconds 1 --chunk-rows 40 " + more,
        180);
  }
  void Snapshot() {
    auto r = RunSluice("snapshot -c " + ShellQuote(config_) + " --pipeline p", 180);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  static nlohmann::json Json(const CommandResult& r) {
    auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "stdout: " << r.out << "\nstderr: " << r.err;
    return j;
  }
  // The report of `table` on `target`.
  static nlohmann::json Table(const nlohmann::json& j, const std::string& target, const std::string& table) {
    for (const auto& t : j["pipelines"]) {
      if (t["target"] != target) continue;
      for (const auto& tb : t["tables"]) {
        if (tb["target"] == table) return tb;
      }
    }
    ADD_FAILURE() << "no table " << table << " on " << target << " in " << j.dump();
    return nlohmann::json::object();
  }
  static std::set<std::string> Keys(const nlohmann::json& t, const std::string& kind) {
    std::set<std::string> out;
    for (const auto& k : t[kind]) out.insert(k.dump());
    return out;
  }
  void Redis(const std::vector<std::string>& argv) {
    auto conn = redis_->Connect();
    ASSERT_TRUE(conn.ok()) << conn.status().message();
    auto reply = (*conn)->Command(argv);
    ASSERT_TRUE(reply.ok() && !reply->is_error()) << argv[0] << " " << argv[1];
  }
  void Clickhouse(const std::string& sql) {
    auto r = ch_->Query(sql);
    ASSERT_TRUE(r.ok()) << sql << ": " << r.status().message();
  }
};

constexpr const char* kItemColumns = "id, b, num, n, f8, t, ch, u, iv, d, ts, tz, tm, by, ai, jb, j, m";

// Every common type: ClickHouse holds booleans as Int8 and unconstrained
// numerics as text (read back with 30 digits), Redis booleans as
// true/false; both keep a json column's text as written.
TEST_F(PgSourceCheckTest, ClickhouseAndRedisTargetsDifferencesFoundAndRepaired) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_NO_FATAL_FAILURE(StartClickhouseAndRedis());
  Sql("CREATE TYPE mood AS ENUM ('sad', 'happy');"
      "CREATE TABLE items (id int PRIMARY KEY, b boolean, num numeric(12,4), n numeric, f8 double precision, t text,"
      " ch char(4), u uuid, iv interval, d date, ts timestamp, tz timestamptz, tm time(3), by bytea, ai int[],"
      " jb jsonb, j json, m mood);"
      "INSERT INTO items SELECT i, i % 2 = 0, i / 8.0, CASE WHEN i % 5 = 0 THEN 1.50 ELSE i / 3.0 END, i * 0.25,"
      " 'item ' || i, 'c' || (i % 10), md5(i::text)::uuid, (i || ' days 02:00:00.5')::interval,"
      " date '2024-01-01' + i, timestamp '2024-01-01 00:00:00' + i * interval '1.5 second',"
      " timestamptz '2024-01-01 00:00:00+02' + i * interval '0.25 second',"
      " time '12:00:00.123' + i * interval '1 second',"
      " decode(md5(i::text), 'hex'), ARRAY[i, NULL], jsonb_build_object('k', i, 'a', 'x'),"
      " '{\"b\": 1,  \"a\": [1, 2]}', CASE WHEN i % 2 = 0 THEN 'happy' ELSE 'sad' END::mood"
      " FROM generate_series(1, 300) i;"
      "INSERT INTO items (id) VALUES (1000);"
      "CREATE TABLE pairs (a text, b int, v text, PRIMARY KEY (a, b));"
      "INSERT INTO pairs SELECT chr(65 + i % 26) || i, i % 3, 'v' || i FROM generate_series(1, 100) i");
  ASSERT_NO_FATAL_FAILURE(WritePipeline(
      "      - match: \"public.*\"\n", "    chunk_rows: 40\n", 2, "[ch, cache]",
      fmt::format("  ch: {{url: \"{}\"}}\n  cache: {{url: \"{}\"}}\n", ch_->Url("default"), redis_->Url(0))));
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  ASSERT_EQ(RedisHash("public:items:8")["b"], "true");

  auto r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Json(r)["consistent"], true) << r.out << r.err;

  // ClickHouse: a newer version deletes id 5 and changes ids 7 and 8; id 9999
  // and pair ('ZZ', 1) are extra.
  const std::string cols = kItemColumns;
  auto plant = [&](int id, const std::string& select, int sign) {
    Clickhouse(
        fmt::format("INSERT INTO public.items ({0}, _version, _sign) SELECT {1}, _version + 1, {3} FROM "
                    "public.items FINAL WHERE _sign = 1 AND id = {2}",
                    cols, select, id, sign));
  };
  ASSERT_NO_FATAL_FAILURE(plant(5, cols, -1));
  std::string changed = cols;
  changed.replace(changed.find(", t,"), 4, ", 'changed' AS t,");
  ASSERT_NO_FATAL_FAILURE(plant(7, changed, 1));
  changed = cols;
  changed.replace(changed.find(", b,"), 4, ", toInt8(1 - b) AS b,");
  ASSERT_NO_FATAL_FAILURE(plant(8, changed, 1));
  ASSERT_NO_FATAL_FAILURE(Clickhouse("INSERT INTO public.items (id, _version, _sign) VALUES (9999, 1, 1)"));
  ASSERT_NO_FATAL_FAILURE(
      Clickhouse("INSERT INTO public.pairs (a, b, v, _version, _sign) VALUES ('ZZ', 1, 'v', 1, 1)"));
  // Redis: id 6 gone, 7's numeric and 8's boolean changed, 9998 extra; 10's
  // JSON spelled differently is the same document.
  ASSERT_NO_FATAL_FAILURE(Redis({"DEL", "public:items:6"}));
  ASSERT_NO_FATAL_FAILURE(Redis({"HSET", "public:items:7", "num", "99.0000"}));
  ASSERT_NO_FATAL_FAILURE(Redis({"HSET", "public:items:8", "b", "false"}));
  ASSERT_NO_FATAL_FAILURE(Redis({"HSET", "public:items:9998", "id", "9998"}));
  ASSERT_NO_FATAL_FAILURE(Redis({"HSET", "public:items:10", "j", "{\"a\":[1,2],\"b\":1}"}));

  r = Check();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto j = Json(r);
  auto ch = Table(j, "ch", "public.items");
  EXPECT_EQ(Keys(ch, "missing"), (std::set<std::string>{R"({"id":5})"})) << ch.dump();
  EXPECT_EQ(Keys(ch, "extra"), (std::set<std::string>{R"({"id":9999})"})) << ch.dump();
  EXPECT_EQ(Keys(ch, "different"), (std::set<std::string>{R"({"id":7})", R"({"id":8})"})) << ch.dump();
  EXPECT_EQ(ch["rows"], 301) << ch.dump();
  auto pairs = Table(j, "ch", "public.pairs");
  EXPECT_EQ(pairs["counts"], nlohmann::json::parse(R"({"missing":0,"extra":1,"different":0})")) << pairs.dump();
  auto cache = Table(j, "cache", "public.items");
  EXPECT_EQ(Keys(cache, "missing"), (std::set<std::string>{R"({"id":6})"})) << cache.dump();
  EXPECT_EQ(Keys(cache, "extra"), (std::set<std::string>{R"({"id":9998})"})) << cache.dump();
  EXPECT_EQ(Keys(cache, "different"), (std::set<std::string>{R"({"id":7})", R"({"id":8})"})) << cache.dump();
  EXPECT_EQ(Table(j, "cache", "public.pairs")["counts"],
            nlohmann::json::parse(R"({"missing":0,"extra":0,"different":0})"));

  r = Check("--repair");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Json(r)["repaired_rows"], 9) << r.out << r.err;  // ClickHouse 5, Redis 4
  r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Json(r)["consistent"], true) << r.out << r.err;

  // The repaired rows hold what the stream writes: the source's json text,
  // booleans as Int8 in ClickHouse and true/false in Redis.
  const std::string want =
      PgRows("SELECT id, b::int, num, t, j FROM items WHERE id IN (5, 6, 7, 8) ORDER BY id", "shop");
  EXPECT_EQ(ClickhouseRows("SELECT id, b, num, t, j FROM public.items FINAL WHERE _sign = 1 AND id IN (5, 6, 7, 8) "
                           "ORDER BY id"),
            want);
  auto gone = ch_->Query("SELECT count() FROM public.items FINAL WHERE _sign = 1 AND id = 9999");
  ASSERT_TRUE(gone.ok()) << gone.status().message();
  EXPECT_EQ(*gone, "0\n");
  const std::map<std::string, std::string> six = RedisHash("public:items:6");
  EXPECT_EQ(six.count("j") ? six.at("j") : "", "{\"b\": 1,  \"a\": [1, 2]}");
  EXPECT_EQ(six.count("b") ? six.at("b") : "", "true");
  EXPECT_EQ(RedisHash("public:items:8")["b"], "true");
  EXPECT_EQ(RedisHash("public:items:7")["num"], "0.8750");
  EXPECT_TRUE(RedisHash("public:items:9998").empty());
}

// `check: {every, repair}` in `sluice run` into Redis and ClickHouse: a row
// lost on the targets while the pipeline streams is found and put back.
TEST_F(PgSourceCheckTest, PeriodicCheckInRunRepairsClickhouseAndRedis) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  ASSERT_NO_FATAL_FAILURE(StartClickhouseAndRedis());
  Sql("CREATE TABLE items (id int PRIMARY KEY, ok boolean, note text);"
      "INSERT INTO items SELECT i, i % 2 = 0, 'n' || i FROM generate_series(1, 500) i");
  ASSERT_NO_FATAL_FAILURE(WritePipeline(
      "      - match: \"public.items\"\n",
      "    snapshot: initial\n    chunk_rows: 100\n    check: {every: 1s, repair: true}\n", 1, "[ch, cache]",
      fmt::format("  ch: {{url: \"{}\"}}\n  cache: {{url: \"{}\"}}\n", ch_->Url("default"), redis_->Url(0))));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "running", 120s)) << sluice_->Log();
  Sql("UPDATE items SET note = 'renamed' WHERE id = 7");
  const std::string want = PgRows("SELECT count(*), sum(ok::int), max(note) FROM items", "shop");
  auto clickhouse_agrees = [&] {
    return ClickhouseRows("SELECT count(), sum(ok), max(note) FROM public.items FINAL WHERE _sign = 1") == want;
  };
  ASSERT_TRUE(WaitUntil([&] { return clickhouse_agrees() && RedisHash("public:items:7")["note"] == "renamed"; }, 90s))
      << sluice_->Log();

  Redis({"DEL", "public:items:499"});
  Redis({"HSET", "public:items:8", "ok", "false"});
  Clickhouse(
      "INSERT INTO public.items (id, ok, note, _version, _sign) SELECT id, ok, note, _version + 1, -1 FROM "
      "public.items FINAL WHERE _sign = 1 AND id = 498");
  EXPECT_TRUE(WaitUntil(
      [&] {
        return clickhouse_agrees() && RedisHash("public:items:499")["note"] == "n499" &&
               RedisHash("public:items:8")["ok"] == "true";
      },
      120s))
      << ClickhouseRows("SELECT count(), sum(ok), max(note) FROM public.items FINAL WHERE _sign = 1") << sluice_->Log();
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// A periodic check reading a PostgreSQL source that hangs (SIGSTOP): the
// check's sessions are cut at stop (core/interrupter.h) instead of waiting
// out their read timeout (120 s), so `sluice run` stops promptly.
TEST_F(PgSourceCheckTest, StopIsPromptWhileACheckWaitsOnAHungSource) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE items (id int PRIMARY KEY, note text);"
      "INSERT INTO items SELECT i, repeat('n', 200) || i FROM generate_series(1, 50000) i");
  ASSERT_NO_FATAL_FAILURE(WritePipeline("      - match: \"public.items\"\n",
                                        "    snapshot: initial\n    chunk_rows: 500\n    check: {every: 1s}\n", 2,
                                        "[my]"));
  StartSluice();
  ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  ASSERT_TRUE(WaitForState("p", "running", 120s)) << sluice_->Log();
  // Every row differs on the target: each check narrows every chunk (long).
  ASSERT_TRUE(my_->Execute("UPDATE public.items SET note = 'changed'").ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        nlohmann::json s = PipelineStatus("p");
        return s.is_object() && s["check"].is_object() && s["check"].value("state", "") == "running";
      },
      60s))
      << sluice_->Log();
  ASSERT_TRUE(pg_->Hang().ok());
  std::this_thread::sleep_for(500ms);
  auto t0 = std::chrono::steady_clock::now();
  sluice_->Stop();
  // Before the check's sessions were cut, the stop waited for the query
  // timeout (120 s; the harness kills sluice after 20 s), or for
  // connect_timeout (10 s) when a check was connecting to the hung server.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << sluice_->Log();
  ASSERT_TRUE(pg_->Resume().ok());
}

// A table whose rule runs a Lua script is reported as not checked, as for
// MySQL sources: compared (or repaired) against raw source rows, the
// script's work would be undone.
TEST_F(PgSourceCheckTest, ScriptedTableIsNotComparedWithRawRows) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE users (id int PRIMARY KEY, email text); INSERT INTO users VALUES (1, 'a@example.com')");
  std::ofstream(dir_ / "mask.lua") << "function transform(op, row, old)\n  return row\nend\n";
  ASSERT_NO_FATAL_FAILURE(
      WritePipeline("      - match: \"public.users\"\n        transform: {lua: mask.lua}\n", "", 2, "[pg, my]"));
  auto r = Check("--repair");
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  auto j = Json(r);
  for (const char* target : {"pg", "my"}) {
    auto users = Table(j, target, "public.users");
    EXPECT_NE(users.value("error", "").find("transforms rows with the Lua script mask.lua"), std::string::npos)
        << users.dump();
  }
}

// A bytea primary key on a MariaDB target (varbinary there): key ranges and
// lookups carry the key's bytes, not PostgreSQL's \\x text, so equal rows
// are equal and each planted difference is found once, then repaired. So do
// timestamptz (UTC, no +00) and boolean (1/0) keys.
TEST_F(PgSourceCheckTest, ByteaKeysAreLookedUpOnAMysqlTarget) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE blobs (k bytea PRIMARY KEY, v text);"
      "INSERT INTO blobs SELECT decode(md5(i::text), 'hex'), 'v' || i FROM generate_series(1, 200) i;"
      "INSERT INTO blobs VALUES ('\\x00', 'zero'), ('\\xff', 'ff'), ('\\x00ff', 'zero ff'), ('', 'empty'),"
      " ('\\x5c27', 'backslash quote');"
      "CREATE TABLE parts (k bytea, n int, v text, PRIMARY KEY (k, n));"
      "INSERT INTO parts SELECT decode(lpad(to_hex(i % 7), 2, '0'), 'hex'), i, 'p' || i FROM generate_series(1, 100) i;"
      "CREATE TABLE stamps (at timestamptz, ok boolean, v text, PRIMARY KEY (at, ok));"
      "INSERT INTO stamps SELECT timestamptz '2024-01-01 00:00:00+02' + (i / 2) * interval '1.5 second', i % 2 = 0,"
      " 's' || i FROM generate_series(1, 100) i");
  ASSERT_NO_FATAL_FAILURE(WritePipeline("      - match: \"public.*\"\n", "    chunk_rows: 40\n", 2, "[my]"));
  ASSERT_NO_FATAL_FAILURE(Snapshot());

  auto r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Json(r)["consistent"], true) << r.out << r.err;

  for (const char* sql :
       {"DELETE FROM public.blobs WHERE k = UNHEX(MD5('7'))", "UPDATE public.blobs SET v = 'changed' WHERE k = 0x5c27",
        "INSERT INTO public.blobs VALUES (0xDEAD, 'extra')",
        "UPDATE public.parts SET v = 'changed' WHERE k = 0x03 AND n = 3",
        "UPDATE public.stamps SET v = 'changed' WHERE at = '2023-12-31 22:00:03' AND ok = 1"}) {
    Status st = my_->Execute(sql);
    ASSERT_TRUE(st.ok()) << sql << ": " << st.message();
  }
  r = Check();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  auto j = Json(r);
  auto blobs = Table(j, "my", "public.blobs");
  EXPECT_EQ(blobs["counts"], nlohmann::json::parse(R"({"missing":1,"extra":1,"different":1})")) << blobs.dump();
  EXPECT_EQ(blobs["rows"], 205) << blobs.dump();
  EXPECT_EQ(Keys(blobs, "extra"), (std::set<std::string>{R"({"k":"3q0="})"})) << blobs.dump();
  auto parts = Table(j, "my", "public.parts");
  EXPECT_EQ(parts["counts"], nlohmann::json::parse(R"({"missing":0,"extra":0,"different":1})")) << parts.dump();
  auto stamps = Table(j, "my", "public.stamps");
  EXPECT_EQ(stamps["counts"], nlohmann::json::parse(R"({"missing":0,"extra":0,"different":1})")) << stamps.dump();
  EXPECT_EQ(stamps["rows"], 100) << stamps.dump();

  r = Check("--repair");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Json(r)["repaired_rows"], 5) << r.out << r.err;
  r = Check();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Converge("SELECT encode(k, 'hex'), v FROM blobs ORDER BY 1", "",
                       "SELECT LOWER(HEX(k)), v FROM public.blobs ORDER BY 1", 5s));
  EXPECT_TRUE(Converge("SELECT encode(k, 'hex'), n, v FROM parts ORDER BY 1, 2", "",
                       "SELECT LOWER(HEX(k)), n, v FROM public.parts ORDER BY 1, 2", 5s));
  EXPECT_TRUE(Converge("SELECT v FROM stamps ORDER BY at, ok", "", "SELECT v FROM public.stamps ORDER BY at, ok", 5s));
}

// Tables a rule merges into one target table, from a PostgreSQL source into
// MariaDB: not compared (each alone would make the other's rows extra, and a
// repair would delete them), and said so.
TEST_F(PgSourceCheckTest, MergedTablesIntoAMysqlTargetAreNotComparedAlone) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  Sql("CREATE TABLE s1 (id int PRIMARY KEY, v text); CREATE TABLE s2 (id int PRIMARY KEY, v text);"
      "INSERT INTO s1 VALUES (1, 'a'), (3, 'c'); INSERT INTO s2 VALUES (2, 'b')");
  ASSERT_NO_FATAL_FAILURE(
      WritePipeline("      - match: \"public.s*\"\n        to: \"public.merged\"\n", "", 2, "[my]"));
  ASSERT_NO_FATAL_FAILURE(Snapshot());
  auto r = Check("--repair");
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  auto t = Table(Json(r), "my", "public.merged");
  EXPECT_NE(t.value("error", "").find("2 source tables are merged into this table: not checked"), std::string::npos)
      << t.dump();
  EXPECT_TRUE(Converge("SELECT 3", "", "SELECT COUNT(*) FROM public.merged", 5s));  // nothing deleted
}

}  // namespace
}  // namespace sluice::testing
