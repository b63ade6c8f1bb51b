#pragma once
// PgSourceTest: a PostgreSQL 15 source (logical replication; a role `repl`
// with REPLICATION that owns the tables of database `shop`), a PostgreSQL
// target database `target` (role `app`) on the same server and a MariaDB
// target, and `sluice run` of one pipeline `p` into both.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "harness/postgres_server.h"
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
  void StartPipeline(const std::string& rules = "      - match: \"public.*\"\n") {
    http_port_ = FreePort();
    WriteConfig(fmt::format(R"(store: {dir}/sluice.db
http: 127.0.0.1:{port}
sources:
  src: {{url: "{src}"}}
targets:
  pg: {{url: "{pg}"}}
  my: {{url: "{my}"}}
pipelines:
  - name: p
    source: src
    targets: [pg, my]
    start: latest
    tables:
{rules}    batch: {{size: 100, timeout_ms: 50}}
    parallel: 2
)",
                            fmt::arg("dir", dir_.string()), fmt::arg("port", http_port_),
                            fmt::arg("src", pg_->Url("repl", "s3cret", "shop")), fmt::arg("rules", rules),
                            fmt::arg("pg", pg_->Url("app", "apppw", "target")), fmt::arg("my", my_->Url())));
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

  std::unique_ptr<PostgresServer> pg_;
  std::unique_ptr<MariadbServer> my_;
};

}  // namespace sluice::testing
