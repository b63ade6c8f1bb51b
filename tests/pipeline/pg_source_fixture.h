#pragma once
// The fixture of the tests of PostgreSQL sources (pg_source_itest.cc,
// pg_source_snapshot_itest.cc): a PostgreSQL 15 server with logical
// replication (source database shop owned by repl, a role with REPLICATION;
// target database target owned by app) and a MariaDB target, and the
// all-types table with the queries that compare it across them.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/clickhouse_server.h"
#include "harness/postgres_server.h"
#include "harness/redis_server.h"
#include "pipeline/sync_fixture.h"

namespace sluice::testing {

using namespace std::chrono_literals;

class PgSourceTest : public SyncTest {
 protected:
  // `settings`: the source server's extra "name=value" settings.
  void StartServers(std::vector<std::string> settings = {}) {
    auto pg = PostgresServer::Start({.logical_replication = true, .extra_settings = std::move(settings)});
    ASSERT_TRUE(pg.ok()) << pg.status().message();
    pg_ = std::move(pg).value();
    ASSERT_TRUE(pg_->CreateUser("repl", "s3cret", /*superuser=*/false).ok());
    ASSERT_TRUE(pg_->Execute("ALTER ROLE repl REPLICATION").ok());
    ASSERT_TRUE(pg_->CreateDatabase("shop", "repl").ok());
    ASSERT_TRUE(pg_->CreateUser("app", "apppw").ok());
    ASSERT_TRUE(pg_->CreateDatabase("target", "app").ok());
    my_ = StartServer(2);
    ASSERT_TRUE(my_);
  }
  // As the owner of the tables (repl), in the source database.
  void Sql(const std::string& sql) {
    Status st = pg_->Execute("SET ROLE repl; " + sql, "shop");
    ASSERT_TRUE(st.ok()) << sql << ": " << st.message();
  }
  std::string Value(const std::string& sql, const std::string& db = "shop") {
    auto v = pg_->QueryValue(sql, db);
    return v.ok() ? *v : "(" + v.status().message() + ")";
  }
  // A pipeline p from the source database shop into a PostgreSQL (pg) and
  // a MariaDB (my) target (`targets` names those it writes); `extra` adds
  // pipeline keys ("    key: value\n"); `more_targets` defines further
  // targets ("  name: {url: ...}\n").
  void WritePipeline(const std::string& rules = "      - match: \"public.*\"\n", const std::string& extra = "",
                     int parallel = 2, const std::string& targets = "[pg, my]", const std::string& more_targets = "") {
    http_port_ = FreePort();
    WriteConfig(fmt::format(R"(store: {dir}/sluice.db
http: 127.0.0.1:{port}
sources:
  src: {{url: "{src}"}}
targets:
  pg: {{url: "{pg}"}}
  my: {{url: "{my}"}}
{more_targets}pipelines:
  - name: p
    source: src
    targets: {targets}
    start: latest
    tables:
{rules}    batch: {{size: 100, timeout_ms: 50}}
    parallel: {parallel}
{extra})",
                            fmt::arg("dir", dir_.string()), fmt::arg("port", http_port_),
                            fmt::arg("src", pg_->Url("repl", "s3cret", "shop")), fmt::arg("rules", rules),
                            fmt::arg("pg", pg_->Url("app", "apppw", "target")), fmt::arg("my", my_->Url()),
                            fmt::arg("extra", extra), fmt::arg("parallel", parallel),
                            fmt::arg("targets", targets), fmt::arg("more_targets", more_targets)));
  }
  void StartPipeline(const std::string& rules = "      - match: \"public.*\"\n") {
    WritePipeline(rules);
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
    ASSERT_TRUE(WaitForState("p", "running", 30s));
  }

  std::string PgRows(const std::string& sql, const std::string& db) {
    auto rows = pg_->Query(sql, db);
    return rows.ok() ? RowsToText(*rows) : "query failed: " + rows.status().message();
  }
  // Waits until `src_sql` on the source gives what `pg_sql` gives on the
  // PostgreSQL target and `my_sql` on the MariaDB one (either may be empty).
  ::testing::AssertionResult Converge(const std::string& src_sql, const std::string& pg_sql,
                                      const std::string& my_sql, std::chrono::seconds timeout = 60s) {
    std::string want, got_pg, got_my;
    bool ok = WaitUntil(
        [&] {
          want = PgRows(src_sql, "shop");
          got_pg = pg_sql.empty() ? want : PgRows(pg_sql, "target");
          if (my_sql.empty()) {
            got_my = want;
          } else {
            auto rows = my_->Query(my_sql);
            got_my = rows.ok() ? RowsToText(*rows) : "query failed: " + rows.status().message();
          }
          return want == got_pg && want == got_my;
        },
        timeout);
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "no convergence for " << src_sql << "\nPostgreSQL target: "
                                         << RowsDiff(want, got_pg) << "MariaDB target: " << RowsDiff(want, got_my)
                                         << "sluice log:\n"
                                         << (sluice_ ? sluice_->Log() : "");
  }

  // Waits until the JSON-lines file holds at least `n` lines; returns them
  // (parsed; fewer when the wait timed out).
  std::vector<nlohmann::json> WaitJsonLines(const std::string& file, size_t n, std::chrono::seconds timeout = 60s) {
    std::vector<nlohmann::json> lines;
    WaitUntil(
        [&] {
          lines.clear();
          std::ifstream in(file);
          for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line, nullptr, false));
          return lines.size() >= n;
        },
        timeout);
    return lines;
  }

  // A ClickHouse server (ch_) and a Redis server (redis_) beside the others.
  void StartClickhouseAndRedis() {
    auto c = ClickhouseServer::Start();
    ASSERT_TRUE(c.ok()) << c.status().message();
    ch_ = std::move(c).value();
    auto r = RedisServer::Start();
    ASSERT_TRUE(r.ok()) << r.status().message();
    redis_ = std::move(r).value();
  }
  // A ClickHouse query's rows as RowsToText renders them (\N as NULL).
  std::string ClickhouseRows(const std::string& sql) {
    auto rows = ch_->Rows(sql + " FORMAT TabSeparated");
    if (!rows.ok()) return "query failed: " + rows.status().message();
    PostgresServer::Rows text;
    for (const auto& row : *rows) {
      PostgresServer::Row out;
      for (const auto& f : row) out.push_back(f == "\\N" ? std::nullopt : std::optional<std::string>(f));
      text.push_back(std::move(out));
    }
    return RowsToText(text);
  }
  // HGETALL `key` (empty when the key is missing or Redis is down).
  std::map<std::string, std::string> RedisHash(const std::string& key) {
    std::map<std::string, std::string> out;
    auto conn = redis_->Connect();
    if (!conn.ok()) return out;
    auto reply = (*conn)->Command({"HGETALL", key});
    if (!reply.ok()) return out;
    for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) out[reply->elements[i].str] = reply->elements[i + 1].str;
    return out;
  }
  size_t RedisKeyCount(const std::string& pattern) {
    auto conn = redis_->Connect();
    if (!conn.ok()) return 0;
    auto reply = (*conn)->Command({"KEYS", pattern});
    return reply.ok() ? reply->elements.size() : 0;
  }

  std::unique_ptr<PostgresServer> pg_;
  std::unique_ptr<ClickhouseServer> ch_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<MariadbServer> my_;
};

constexpr const char* kTypes =
    "CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE DOMAIN price AS numeric(10,2) CHECK (VALUE >= 0);"
    "CREATE TABLE types (id int PRIMARY KEY, i2 smallint, i8 bigint, num numeric, num2 numeric(12,4),"
    " f4 real, f8 double precision, b boolean, t text, vc varchar(10), ch char(4), by bytea, d date,"
    " tm time(3), ts timestamp, tz timestamptz, iv interval, u uuid, j json, jb jsonb, ai int[], at text[],"
    " m mood, p price)";

constexpr const char* kTypeRows =
    "INSERT INTO types VALUES"
    " (1, -32768, -9223372036854775808, 123456789012345678901234.5678901234, -12345678.1234, 1.5, -2.25e-300,"
    "  true, E'line1\\nline2\\ttab \\\\ \"q\" ''s'' héllo 😀', 'abc', 'ab', '\\x00ff10'::bytea, '2024-02-29',"
    "  '12:34:56.789', '2024-01-31 12:34:56.123456', '2024-01-31 23:00:00+05', '1 year 2 mons 3 days 04:05:06.5',"
    "  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}', '{\"b\": {\"c\": null}, \"a\": 1}',"
    "  '{1,NULL,3}', '{\"x y\",z}', 'happy', 19.90),"
    " (2, 32767, 9223372036854775807, 0.1, 0, -0.5, 3, false, '', '', '', ''::bytea, '0001-01-01', '00:00:00',"
    "  '1970-01-01 00:00:00', '1970-01-01 00:00:00+00', '-1 days', '00000000-0000-0000-0000-000000000000',"
    "  '[]', '[]', '{}', '{}', 'sad', 0),"
    " (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    "  NULL, NULL, NULL, NULL, NULL, NULL)";

// Every column, arrays as JSON (the targets hold them as jsonb / json).
constexpr const char* kTypesSource =
    "SELECT id, i2, i8, num, num2, f4, f8, b, t, vc, ch, by, d, tm, ts, tz, iv, u, j, jb, to_jsonb(ai), to_jsonb(at),"
    " m::text, p FROM types ORDER BY id";
constexpr const char* kTypesPgTarget =
    "SELECT id, i2, i8, num, num2, f4, f8, b, t, vc, ch, by, d, tm, ts, tz, iv, u, j, jb, ai, at, m, p FROM "
    "public.types ORDER BY id";
// What MariaDB can show alike: the mapped columns in text both servers print.
constexpr const char* kTypesSourceForMysql =
    "SELECT id, i2, i8, num2, b::int, t, vc, rtrim(ch), encode(by, 'hex'), d, to_char(tm, 'HH24:MI:SS.MS'),"
    " to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US'), to_char(tz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), iv, u,"
    " jb, m::text, p FROM types ORDER BY id";
constexpr const char* kTypesMysql =
    "SELECT id, i2, i8, num2, b, t, vc, ch, LOWER(HEX(`by`)), d, tm, ts, tz, iv, u, jb, m, p FROM public.types "
    "ORDER BY id";

}  // namespace sluice::testing
