#pragma once
// `sluice run` from a private MariaDB into a private PostgreSQL 15: the
// servers, a one-pipeline config (source "src" -> target "dst", pipeline
// "p") and convergence checks that compare a source query with a target query.

#include <fmt/format.h>

#include "harness/postgres_server.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {

constexpr const char* kPgDb = "target";

class PgSyncTest : public SyncTest {
 protected:
  void StartServers() {
    src_ = StartServer(1);
    ASSERT_TRUE(src_);
    auto pg = PostgresServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status().message();
    pg_ = std::move(pg).value();
    ASSERT_TRUE(pg_->CreateUser("app", "s3cret'pw").ok());
    ASSERT_TRUE(pg_->CreateDatabase(kPgDb, "app").ok());
  }
  std::string PgUrl() const { return pg_->Url("app", "s3cret'pw", kPgDb) + url_params_; }

  // Pipeline "p" from src to target "dst" (PostgreSQL) with `options`.
  void StartSluiceWith(const PipelineOptions& options) {
    http_port_ = FreePort();
    std::string yaml = FaultConfig(dir_, http_port_, src_->Url(), PgUrl(), options);
    WriteConfig(yaml);
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }

  Result<PostgresServer::Rows> PgQuery(const std::string& sql) { return pg_->Query(sql, kPgDb); }

  // Waits until `src_query` on the source and `pg_query` on the target give the same rows.
  ::testing::AssertionResult PgConverges(const std::string& src_query, const std::string& pg_query,
                                         std::chrono::seconds timeout = std::chrono::seconds(90)) {
    std::string want, got;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto a = src_->Query(src_query);
      auto b = PgQuery(pg_query);
      if (a.ok() && b.ok()) {
        want = RowsToText(*a);
        got = RowsToText(*b);
        if (want == got) return ::testing::AssertionSuccess();
      } else if (!a.ok()) {
        got = "source query failed: " + a.status().message();
      } else {
        got = "target query failed: " + b.status().message();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return ::testing::AssertionFailure() << "no convergence for " << pg_query << "\n"
                                         << RowsDiff(want, got) << "sluice log:\n"
                                         << (sluice_ ? sluice_->Log() : "");
  }

  std::unique_ptr<MariadbServer> src_;
  std::unique_ptr<PostgresServer> pg_;
  std::string url_params_;  // "?query_timeout=3", appended to sluice's target URL
};

}  // namespace sluice::testing
