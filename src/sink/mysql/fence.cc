#include "sink/mysql/fence.h"

#include <mysqld_error.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "sink/fence.h"
#include "sink/mysql/mysql_loader.h"
#include "sink/mysql/sql_builder.h"

namespace sluice::sink::mysql {
namespace {

using sluice::mysql::MysqlConnection;

// Seconds the raise waits for the fence row before it looks for sessions
// to kill again (one that connected after the last look may hold it).
constexpr int kRaiseLockWaitS = 2;
// How long the raise keeps trying before it reports a retryable error.
constexpr auto kRaiseDeadline = std::chrono::seconds(120);
// Boot times read at different moments differ by rounding.
constexpr int64_t kBootSlackS = 3;

Result<std::vector<sluice::mysql::Row>> Query(MysqlConnection& c, const std::string& sql) {
  auto rows = c.Query(sql);
  if (!rows.ok()) return ClassifyTargetError(c, rows.status());
  return rows;
}

}  // namespace

Status ClassifyTargetError(MysqlConnection& c, const Status& st) {
  if (st.ok() || st.retryable()) return st;
  if (IsRetryableApplyError(mysql_errno(c.raw()))) return Status::Retryable(StatusCode::kIoError, "{}", st.message());
  return st;
}

Result<int64_t> ServerBootedAt(MysqlConnection& c) {
  ASSIGN_OR_RETURN(auto now, Query(c, "SELECT UNIX_TIMESTAMP()"));
  ASSIGN_OR_RETURN(auto uptime, Query(c, "SHOW GLOBAL STATUS LIKE 'Uptime'"));
  if (now.empty() || uptime.empty() || uptime[0].size() < 2) {
    return Status::Error(StatusCode::kServerError, "no uptime from {}", c.options().Describe());
  }
  return std::stoll(now[0][0].value_or("0")) - std::stoll(uptime[0][1].value_or("0"));
}

Status EnsureFenceTables(MysqlConnection& c) {
  RETURN_IF_ERROR(ClassifyTargetError(c, c.Execute("CREATE DATABASE IF NOT EXISTS `_sluice`")));
  RETURN_IF_ERROR(ClassifyTargetError(c, c.Execute("CREATE TABLE IF NOT EXISTS `_sluice`.`fences` ("
                                                   "  pipeline VARCHAR(128) NOT NULL PRIMARY KEY,"
                                                   "  epoch BIGINT UNSIGNED NOT NULL,"
                                                   "  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) "
                                                   "ON UPDATE CURRENT_TIMESTAMP(3)) ENGINE=InnoDB")));
  return ClassifyTargetError(c, c.Execute("CREATE TABLE IF NOT EXISTS `_sluice`.`sessions` ("
                                          "  pipeline VARCHAR(128) NOT NULL, connection_id BIGINT UNSIGNED NOT NULL,"
                                          "  epoch BIGINT UNSIGNED NOT NULL, booted BIGINT NOT NULL,"
                                          "  PRIMARY KEY (pipeline, connection_id)) ENGINE=InnoDB"));
}

Status RegisterSession(MysqlConnection& c, const SinkOptions& options) {
  ASSIGN_OR_RETURN(int64_t booted, ServerBootedAt(c));
  return ClassifyTargetError(
      c, c.Execute(fmt::format("INSERT INTO `_sluice`.`sessions` (pipeline, connection_id, epoch, booted) "
                               "VALUES ({}, CONNECTION_ID(), {}, {}) ON DUPLICATE KEY UPDATE "
                               "epoch = VALUES(epoch), booted = VALUES(booted)",
                               Quote(options.pipeline), options.epoch, booted)));
}

Status RaiseFence(const sluice::mysql::ConnectOptions& connect, const SinkOptions& options) {
  ASSIGN_OR_RETURN(auto conn, MysqlConnection::Connect(sluice::mysql::WithDefaultTimeouts(connect, 60)));
  MysqlConnection& c = *conn;
  RETURN_IF_ERROR(ClassifyTargetError(
      c, c.Execute(fmt::format("SET SESSION innodb_lock_wait_timeout = {}, autocommit = 1", kRaiseLockWaitS))));
  ASSIGN_OR_RETURN(int64_t booted, ServerBootedAt(c));
  const std::string pipeline = Quote(options.pipeline);
  const auto deadline = std::chrono::steady_clock::now() + kRaiseDeadline;
  for (;;) {
    // The sessions of former owners that this server run still has: each may
    // hold a write transaction open, which the raise below would wait for.
    ASSIGN_OR_RETURN(auto former,
                     Query(c, fmt::format("SELECT s.connection_id, s.epoch FROM `_sluice`.`sessions` s JOIN "
                                          "information_schema.PROCESSLIST p ON p.ID = s.connection_id WHERE "
                                          "s.pipeline = {} AND s.epoch < {} AND s.booted BETWEEN {} AND {}",
                                          pipeline, options.epoch, booted - kBootSlackS, booted + kBootSlackS)));
    for (const auto& row : former) {
      const std::string id = row[0].value_or("0");
      Status killed = c.Execute("KILL CONNECTION " + id);
      // Gone meanwhile (unknown thread, 1094): what was wanted.
      if (!killed.ok() && mysql_errno(c.raw()) != ER_NO_SUCH_THREAD) return ClassifyTargetError(c, killed);
      spdlog::info("pipeline {} target {}: ended session {} of epoch {} (epoch {} takes over)", options.pipeline,
                   options.target, id, row[1].value_or("?"), options.epoch);
    }
    RETURN_IF_ERROR(ClassifyTargetError(c, c.Execute("BEGIN")));
    auto fence = c.Query(fmt::format("SELECT epoch FROM `_sluice`.`fences` WHERE pipeline = {} FOR UPDATE", pipeline));
    if (!fence.ok()) {
      const unsigned err = mysql_errno(c.raw());
      (void)c.Execute("ROLLBACK");
      if (err != ER_LOCK_WAIT_TIMEOUT && err != ER_LOCK_DEADLOCK) return ClassifyTargetError(c, fence.status());
      // A session registered after the look above holds the row: look again.
      if (std::chrono::steady_clock::now() >= deadline) {
        return Status::Retryable(StatusCode::kAborted,
                                 "pipeline {} target {}: the fence of epoch {} cannot be raised: a session holds "
                                 "`_sluice`.`fences` ({})",
                                 options.pipeline, options.target, options.epoch, fence.status().message());
      }
      continue;
    }
    uint64_t current = fence->empty() ? 0 : std::stoull((*fence)[0][0].value_or("0"));
    if (current > options.epoch) {
      (void)c.Execute("ROLLBACK");
      return FencedError(options, current, "`_sluice`.`fences` on open");
    }
    Status st = c.Execute(fmt::format("INSERT INTO `_sluice`.`fences` (pipeline, epoch) VALUES ({}, {}) ON DUPLICATE "
                                      "KEY UPDATE epoch = VALUES(epoch)",
                                      pipeline, options.epoch));
    if (st.ok()) st = c.Execute("COMMIT");
    if (!st.ok()) {
      (void)c.Execute("ROLLBACK");
      return ClassifyTargetError(c, st);
    }
    break;
  }
  // The former owners' sessions are history now (and those of earlier
  // server runs, whose ids may come back).
  (void)c.Execute(fmt::format("DELETE FROM `_sluice`.`sessions` WHERE pipeline = {} AND (epoch < {} OR booted NOT "
                              "BETWEEN {} AND {})",
                              pipeline, options.epoch, booted - kBootSlackS, booted + kBootSlackS));
  return Status::Ok();
}

Status CheckFence(MysqlConnection& c, const SinkOptions& options) {
  ASSIGN_OR_RETURN(auto rows, Query(c, fmt::format("SELECT epoch FROM `_sluice`.`fences` WHERE pipeline = {} "
                                                   "LOCK IN SHARE MODE",
                                                   Quote(options.pipeline))));
  if (rows.empty()) return FencedError(options, 0, "the fence row in `_sluice`.`fences` is gone");
  uint64_t current = std::stoull(rows[0][0].value_or("0"));
  if (current > options.epoch) return FencedError(options, current, "`_sluice`.`fences`");
  return Status::Ok();
}

}  // namespace sluice::sink::mysql
