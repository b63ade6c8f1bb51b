#include "sink/mysql/owner.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <vector>

#include "sink/mysql/fence.h"
#include "sink/mysql/sql_builder.h"
#include "sink/process_owner.h"

namespace sluice::sink::mysql {
namespace {

using sluice::mysql::MysqlConnection;

// Boot times read at different moments differ by rounding.
constexpr int64_t kBootSlackS = 3;

std::string OwnerKey(const SinkOptions& options) {
  return fmt::format("pipeline = {} AND target = {}", Quote(options.pipeline), Quote(options.target));
}

}  // namespace

Status EnsureOwnersTable(MysqlConnection& c) {
  return ClassifyTargetError(c, c.Execute("CREATE TABLE IF NOT EXISTS `_sluice`.`owners` ("
                                          "  pipeline VARCHAR(128) NOT NULL, target VARCHAR(128) NOT NULL,"
                                          "  token VARCHAR(64) NOT NULL, connection_id BIGINT UNSIGNED NOT NULL,"
                                          "  booted BIGINT NOT NULL, who VARCHAR(300) NOT NULL,"
                                          "  since TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
                                          "  PRIMARY KEY (pipeline, target)) ENGINE=InnoDB"));
}

Result<bool> TakeOwnership(MysqlConnection& c, const SinkOptions& options) {
  ASSIGN_OR_RETURN(int64_t booted, ServerBootedAt(c));
  const std::string& mine = ProcessToken();
  using Row = std::vector<std::optional<std::string>>;
  auto owner = [&](bool lock) -> Result<std::optional<Row>> {
    auto rows =
        c.Query(fmt::format("SELECT token, connection_id, booted, who, since FROM `_sluice`.`owners` WHERE "
                            "{}{}",
                            OwnerKey(options), lock ? " FOR UPDATE" : ""));
    if (!rows.ok()) return ClassifyTargetError(c, rows.status());
    if (rows->empty()) return std::optional<Row>();
    return std::optional<Row>((*rows)[0]);
  };
  // Where another process's owner session comes from, if it still lives.
  auto live_host = [&](const Row& row) -> Result<std::optional<std::string>> {
    if (std::llabs(std::strtoll(row[2].value_or("0").c_str(), nullptr, 10) - booted) > kBootSlackS) {
      return std::optional<std::string>();  // of an earlier run of the server
    }
    auto rows = c.Query("SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = " + row[1].value_or("0"));
    if (!rows.ok()) return ClassifyTargetError(c, rows.status());
    if (rows->empty()) return std::optional<std::string>();
    return std::optional<std::string>((*rows)[0][0].value_or("?"));
  };
  auto busy = [&](const Row& row, const std::string& host) {
    return Status::Retryable(StatusCode::kAborted,
                             "pipeline {} target {}: another sluice process ({}, session {} from {}, since {}) "
                             "applies this pipeline to this target; this one waits for it to stop, then takes over "
                             "(two would apply every change twice). If that process is gone with its host, the "
                             "server may keep its session for hours: end it with KILL CONNECTION {} on the target",
                             options.pipeline, options.target, row[3].value_or("?"), row[1].value_or("?"), host,
                             row[4].value_or("?"), row[1].value_or("?"));
  };
  // A first look without a lock: a second process looks again and again
  // while the first lives, and the first's writes must not wait for it.
  ASSIGN_OR_RETURN(auto seen, owner(false));
  if (seen && (*seen)[0] != mine) {
    ASSIGN_OR_RETURN(auto host, live_host(*seen));
    if (host) return busy(*seen, *host);
  }
  auto fail = [&](const Status& st) {
    (void)c.Execute("ROLLBACK");
    return ClassifyTargetError(c, st);
  };
  if (Status st = c.Execute("BEGIN"); !st.ok()) return fail(st);
  // FOR UPDATE: a former owner's write transactions hold the row in share
  // mode; they commit or roll back before this goes on.
  auto locked = owner(true);
  if (!locked.ok()) return fail(locked.status());
  bool took_over = false;
  if (*locked && (**locked)[0] != mine) {
    const Row& row = **locked;
    auto host = live_host(row);
    if (!host.ok()) return fail(host.status());
    if (*host) {
      (void)c.Execute("ROLLBACK");
      return busy(row, **host);
    }
    took_over = true;
    spdlog::info("pipeline {} target {}: taking over from a sluice process that is gone ({}, session {})",
                 options.pipeline, options.target, row[3].value_or("?"), row[1].value_or("?"));
  }
  Status st = c.Execute(fmt::format(
      "INSERT INTO `_sluice`.`owners` (pipeline, target, token, connection_id, booted, who) VALUES ({}, {}, {}, "
      "CONNECTION_ID(), {}, {}) ON DUPLICATE KEY UPDATE since = IF(token = VALUES(token), since, "
      "CURRENT_TIMESTAMP(3)), token = VALUES(token), connection_id = VALUES(connection_id), booted = VALUES(booted), "
      "who = VALUES(who)",
      Quote(options.pipeline), Quote(options.target), Quote(mine), booted, Quote(ProcessDescription())));
  if (st.ok()) st = c.Execute("COMMIT");
  if (!st.ok()) return fail(st);
  return took_over;
}

std::string OwnerCheckSql(const SinkOptions& options) {
  return fmt::format("SELECT token FROM `_sluice`.`owners` WHERE {} LOCK IN SHARE MODE", OwnerKey(options));
}

Status CheckOwner(const std::optional<std::string>& token, const SinkOptions& options) {
  if (token == ProcessToken()) return Status::Ok();
  return Status::Retryable(StatusCode::kAborted,
                           "pipeline {} target {}: {}; nothing more is written until this process owns it again",
                           options.pipeline, options.target,
                           token ? "another sluice process took this target over"
                                 : "the record of who applies this pipeline here (`_sluice`.`owners`) is gone");
}

}  // namespace sluice::sink::mysql
