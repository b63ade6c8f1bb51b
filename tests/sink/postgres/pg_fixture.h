#pragma once
// `sluice run` from a private MariaDB into a private PostgreSQL 15: the
// servers, a one-pipeline config (source "src" -> target "dst", pipeline
// "p") and convergence checks that compare a source query with a target query.

#include <fmt/format.h>

#include "harness/postgres_server.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {

constexpr const char* kPgDb = "target";

// A table with every MySQL type family, its rows, and queries that print
// them alike on the source and on PostgreSQL.
inline constexpr const char* kTypesSchema = R"sql(
CREATE DATABASE shop;
CREATE TABLE shop.types (
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dc DECIMAL(12,4), dcb DECIMAL(30,10), f FLOAT, d DOUBLE,
  dt DATE, dtm DATETIME(3), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME, y YEAR, b BIT(10),
  vc VARCHAR(40), ch CHAR(5), l1 VARCHAR(20) CHARACTER SET latin1, tx TEXT,
  bn BINARY(4), vb VARBINARY(10), bl BLOB, js JSON,
  en ENUM('small','large'), st SET('a','b','c'));
CREATE TABLE shop.log (msg VARCHAR(20), n INT);
)sql";

inline constexpr const char* kTypesRows = R"sql(
SET time_zone = '+00:00';
INSERT INTO shop.types VALUES
 (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
  '-12345678.1234', '-12345678901234567890.0123456789', -1.5, -12345.678901,
  '1000-01-01', '1000-01-01 00:00:00.000', '1970-01-01 00:00:01.000000', '-838:59:59', 1901, b'0',
  'héllo 😀', 'ab', 'café', 'line1\nline2\ttab\\ end', 0x00010203, X'', 0x00FF, '{"a": 1, "b": [true, null]}',
  'small', ''),
 (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
  '99999999.9999', '99999999999999999999.9999999999', 3.25, 0.125,
  '9999-12-31', '9999-12-31 23:59:59.999', '2038-01-19 03:14:07.999999', '838:59:59', 2155, b'1111111111',
  'it''s "q"', 'abcde', 'ÀÿÆ', REPEAT('x', 3000), 0xFFFFFFFF, 0xDEADBEEF, 0x0A0D09005C, '[1, "x", {"k": "v"}]',
  'large', 'a,b,c'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, '0.0001', '0.0000000001', 0, 0, '2024-02-29', '2024-02-29 12:34:56.780',
  '2024-02-29 12:34:56.000001', '00:00:00', 2000, b'101', '', ' ', '', '', 0x00000000, 0x00, '', '{}', 'small', 'b');
UPDATE shop.types SET vc = 'updated', biu = 18446744073709551614 WHERE id = 4;
INSERT INTO shop.log VALUES ('one', 1), ('dup', 2), ('dup', 2), ('three', NULL);
DELETE FROM shop.log WHERE msg = 'dup' LIMIT 1;
UPDATE shop.log SET n = 3 WHERE msg = 'three';
)sql";

inline constexpr const char* kTypesSource =
    "SELECT id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dc, dcb, f, d, dt, dtm, ts, tm, y, "
    "LPAD(BIN(b), 10, '0'), vc, ch, l1, tx, HEX(bn), HEX(vb), HEX(bl), js, en, st FROM shop.types ORDER BY id";
inline constexpr const char* kTypesTarget =
    "SELECT id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dc, dcb, f, d, dt, "
    "to_char(dtm, 'YYYY-MM-DD HH24:MI:SS.MS'), to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), "
    "tm, y, b, vc, ch, l1, tx, upper(encode(bn, 'hex')), upper(encode(vb, 'hex')), upper(encode(bl, 'hex')), js, "
    "en, st FROM shop.types ORDER BY id";


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
