#include "sink/mysql/owner.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "sink/mysql/fence.h"
#include "sink/mysql/sql_builder.h"
#include "sink/process_owner.h"

namespace sluice::sink::mysql {
namespace {

using sluice::mysql::MysqlConnection;

// The named lock a process's sessions hold while it lives (64 characters
// at most: the token is 32).
std::string LockName(const std::string& token) { return "sluice/" + token; }

std::string OwnerKey(const SinkOptions& options) {
  return fmt::format("pipeline = {} AND target = {}", Quote(options.pipeline), Quote(options.target));
}

}  // namespace

Status EnsureOwnersTable(MysqlConnection& c) {
  return ClassifyTargetError(c, c.Execute("CREATE TABLE IF NOT EXISTS `_sluice`.`owners` ("
                                          "  pipeline VARCHAR(128) NOT NULL, target VARCHAR(128) NOT NULL,"
                                          "  token VARCHAR(64) NOT NULL, who VARCHAR(300) NOT NULL,"
                                          "  since TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
                                          "  PRIMARY KEY (pipeline, target)) ENGINE=InnoDB"));
}

Result<bool> TakeOwnership(MysqlConnection& c, const SinkOptions& options) {
  const std::string& mine = ProcessToken();
  // This process's life on the server: a named lock held by one of its
  // sessions (another session of it may hold it already: GET_LOCK then
  // answers 0, and that is as good).
  if (Status st = c.Execute(fmt::format("DO GET_LOCK({}, 0)", Quote(LockName(mine)))); !st.ok()) {
    return ClassifyTargetError(c, st);
  }
  using Row = std::vector<std::optional<std::string>>;
  auto owner = [&](bool lock) -> Result<std::optional<Row>> {
    auto rows = c.Query(fmt::format("SELECT token, who, since FROM `_sluice`.`owners` WHERE {}{}", OwnerKey(options),
                                    lock ? " FOR UPDATE" : ""));
    if (!rows.ok()) return ClassifyTargetError(c, rows.status());
    if (rows->empty()) return std::optional<Row>();
    return std::optional<Row>((*rows)[0]);
  };
  // The session holding another process's lock, if that process lives.
  auto live_session = [&](const Row& row) -> Result<std::optional<std::string>> {
    auto rows = c.Query(fmt::format("SELECT IS_USED_LOCK({})", Quote(LockName(row[0].value_or("")))));
    if (!rows.ok()) return ClassifyTargetError(c, rows.status());
    if (rows->empty() || !(*rows)[0][0]) return std::optional<std::string>();
    return std::optional<std::string>(*(*rows)[0][0]);
  };
  auto busy = [&](const Row& row, const std::string& session) {
    // Where that session comes from (best effort: without the PROCESS
    // privilege another user's sessions are not listed).
    std::string from = "?";
    if (auto host = c.QueryValue("SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = " + session);
        host.ok() && host->has_value()) {
      from = **host;
    }
    return Status::Retryable(StatusCode::kAborted,
                             "pipeline {} target {}: another sluice process ({}, session {} from {}, since {}) "
                             "applies this pipeline to this target; this one waits for it to stop, then takes over "
                             "(two would apply every change twice). If that process is gone with its host, the "
                             "server may keep its session for hours: end it with KILL CONNECTION {} on the target "
                             "(and set tcp_keepalive_time there, MariaDB, to notice dead hosts sooner)",
                             options.pipeline, options.target, row[1].value_or("?"), session, from,
                             row[2].value_or("?"), session);
  };
  // A first look without a lock: a second process looks again and again
  // while the first lives, and the first's writes must not wait for it.
  ASSIGN_OR_RETURN(auto seen, owner(false));
  if (seen && (*seen)[0] != mine) {
    ASSIGN_OR_RETURN(auto session, live_session(*seen));
    if (session) return busy(*seen, *session);
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
    auto session = live_session(row);
    if (!session.ok()) return fail(session.status());
    if (*session) {
      (void)c.Execute("ROLLBACK");
      return busy(row, **session);
    }
    took_over = true;
    spdlog::info("pipeline {} target {}: taking over from a sluice process that is gone ({})", options.pipeline,
                 options.target, row[1].value_or("?"));
  }
  Status st = c.Execute(fmt::format(
      "INSERT INTO `_sluice`.`owners` (pipeline, target, token, who) VALUES ({}, {}, {}, {}) ON DUPLICATE KEY UPDATE "
      "since = IF(token = VALUES(token), since, CURRENT_TIMESTAMP(3)), token = VALUES(token), who = VALUES(who)",
      Quote(options.pipeline), Quote(options.target), Quote(mine), Quote(ProcessDescription())));
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
