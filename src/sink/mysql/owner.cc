#include "sink/mysql/owner.h"

#include <spdlog/spdlog.h>

#include <thread>
#include <vector>

#include <fmt/ranges.h>
#include <mysql.h>
#include <mysqld_error.h>

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

OwnerLockKeeper::OwnerLockKeeper(sluice::mysql::ConnectOptions connect, std::chrono::milliseconds interval,
                                 Interrupter* interrupt)
    : connect_(sluice::mysql::WithDefaultTimeouts(std::move(connect), 10)),
      interrupt_(interrupt),
      pings_(interval, [this] {
        if (Status st = Hold(); !st.ok()) spdlog::debug("owner lock on {}: {}", connect_.Describe(), st.message());
      }) {}

Status OwnerLockKeeper::Hold() {
  std::lock_guard lock(mu_);
  if (!conn_) {
    auto conn = MysqlConnection::Connect(connect_, interrupt_);
    if (!conn.ok()) return Status::Retryable(conn.status().code(), "{}", conn.status().message());
    conn_ = std::move(*conn);
  }
  // The session holding the lock when one of this process does (another
  // keeper's, for another pipeline), else this one's once it takes it: a
  // statement every interval either way, which is what shows the process
  // alive.
  const std::string name = Quote(LockName(ProcessToken()));
  auto holder =
      conn_->QueryValue(fmt::format("SELECT COALESCE(IS_USED_LOCK({0}), IF(GET_LOCK({0}, 0) = 1, "
                                    "CONNECTION_ID(), NULL))",
                                    name));
  if (!holder.ok()) {
    Status st = ClassifyTargetError(*conn_, holder.status());
    conn_.reset();  // a new session next time
    return st.retryable() ? st : Status::Retryable(st.code(), "{}", st.message());
  }
  if (!holder->has_value()) {
    return Status::Retryable(StatusCode::kAborted, "the lock {} on {} is neither free nor held", name,
                             connect_.Describe());
  }
  return Status::Ok();
}

Status EnsureOwnersTable(MysqlConnection& c) {
  RETURN_IF_ERROR(ClassifyTargetError(c, c.Execute("CREATE TABLE IF NOT EXISTS `_sluice`.`owner_sessions` ("
                                                   "  token VARCHAR(64) NOT NULL, connection_id BIGINT UNSIGNED "
                                                   "NOT NULL, booted BIGINT NOT NULL,"
                                                   "  PRIMARY KEY (token, connection_id)) ENGINE=InnoDB")));
  return ClassifyTargetError(c, c.Execute("CREATE TABLE IF NOT EXISTS `_sluice`.`owners` ("
                                          "  pipeline VARCHAR(128) NOT NULL, target VARCHAR(128) NOT NULL,"
                                          "  token VARCHAR(64) NOT NULL, who VARCHAR(300) NOT NULL,"
                                          "  since TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
                                          "  PRIMARY KEY (pipeline, target)) ENGINE=InnoDB"));
}

Status RegisterOwnerSessions(MysqlConnection& c, const std::vector<MysqlConnection*>& sessions) {
  ASSIGN_OR_RETURN(int64_t booted, ServerBootedAt(c));
  const std::string mine = Quote(ProcessToken());
  std::string values;
  for (MysqlConnection* s : sessions) {
    values += fmt::format("{}({}, {}, {})", values.empty() ? "" : ", ", mine, mysql_thread_id(s->raw()), booted);
  }
  if (values.empty()) return Status::Ok();
  // Ids of this process's earlier sessions (a reconnect) go: the server may
  // give them to anyone.
  RETURN_IF_ERROR(ClassifyTargetError(
      c, c.Execute(fmt::format("DELETE FROM `_sluice`.`owner_sessions` WHERE token = {} AND connection_id NOT IN "
                               "(SELECT ID FROM information_schema.PROCESSLIST)",
                               mine))));
  return ClassifyTargetError(
      c, c.Execute(fmt::format("INSERT INTO `_sluice`.`owner_sessions` (token, connection_id, booted) VALUES {} "
                               "ON DUPLICATE KEY UPDATE booted = VALUES(booted)",
                               values)));
}

namespace {

// Ends the sessions of a process found frozen (its lock's session
// `holder` idle past takeover_after), with the sessions it registered: what
// they held open rolls back. Waits (a little) for the lock to be free.
Status EndFrozenOwner(MysqlConnection& c, const std::string& token, const std::string& holder,
                      const SinkOptions& options) {
  ASSIGN_OR_RETURN(int64_t booted, ServerBootedAt(c));
  constexpr int64_t kBootSlackS = 3;  // boot times read at different moments differ by rounding
  auto registered =
      c.Query(fmt::format("SELECT s.connection_id FROM `_sluice`.`owner_sessions` s JOIN "
                          "information_schema.PROCESSLIST p ON p.ID = s.connection_id WHERE "
                          "s.token = {} AND s.booted BETWEEN {} AND {}",
                          Quote(token), booted - kBootSlackS, booted + kBootSlackS));
  if (!registered.ok()) return ClassifyTargetError(c, registered.status());
  std::vector<std::string> ids{holder};
  for (const auto& row : *registered) {
    if (row[0] && *row[0] != holder) ids.push_back(*row[0]);
  }
  for (const std::string& id : ids) {
    Status killed = c.Execute("KILL CONNECTION " + id);
    // Gone meanwhile (unknown thread): what was wanted.
    if (killed.ok() || mysql_errno(c.raw()) == ER_NO_SUCH_THREAD) continue;
    if (mysql_errno(c.raw()) == ER_KILL_DENIED_ERROR) {
      return Status::Retryable(StatusCode::kAborted,
                               "pipeline {} target {}: the sluice process that owned it shows no sign of life, but "
                               "its session {} cannot be ended by this user ({}): connect as the same user, grant "
                               "CONNECTION ADMIN (MariaDB) or end it by hand",
                               options.pipeline, options.target, id, killed.message());
    }
    return ClassifyTargetError(c, killed);
  }
  spdlog::warn(
      "pipeline {} target {}: the sluice process that owned it shows no sign of life (its session {} "
      "idle for takeover_after, {} s): ended its sessions {}",
      options.pipeline, options.target, holder, options.takeover_after_ms / 1000.0, fmt::join(ids, ", "));
  // A killed session lets go of its lock once its thread notices.
  for (int i = 0; i < 50; ++i) {
    auto held = c.QueryValue(fmt::format("SELECT IS_USED_LOCK({})", Quote(LockName(token))));
    if (!held.ok()) return ClassifyTargetError(c, held.status());
    if (!held->has_value() || **held != holder) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::Retryable(StatusCode::kAborted, "pipeline {} target {}: session {} does not end", options.pipeline,
                           options.target, holder);
}

}  // namespace

Result<bool> TakeOwnership(MysqlConnection& c, OwnerLockKeeper& keeper, const SinkOptions& options) {
  const std::string& mine = ProcessToken();
  // This process's life on the server: the lock the keeper's session holds.
  RETURN_IF_ERROR(keeper.Hold());
  using Row = std::vector<std::optional<std::string>>;
  auto owner = [&](bool lock) -> Result<std::optional<Row>> {
    auto rows = c.Query(fmt::format("SELECT token, who, since FROM `_sluice`.`owners` WHERE {}{}", OwnerKey(options),
                                    lock ? " FOR UPDATE" : ""));
    if (!rows.ok()) return ClassifyTargetError(c, rows.status());
    if (rows->empty()) return std::optional<Row>();
    return std::optional<Row>((*rows)[0]);
  };
  // The session holding another process's lock, if that process lives,
  // with what the server says it does: its command and seconds in it
  // (unknown without the PROCESS privilege for another user's sessions).
  struct Session {
    std::string id, from = "?", command;
    uint64_t seconds = 0;
  };
  auto live_session = [&](const Row& row) -> Result<std::optional<Session>> {
    auto rows = c.Query(fmt::format("SELECT IS_USED_LOCK({})", Quote(LockName(row[0].value_or("")))));
    if (!rows.ok()) return ClassifyTargetError(c, rows.status());
    if (rows->empty() || !(*rows)[0][0]) return std::optional<Session>();
    Session s{.id = *(*rows)[0][0]};
    auto seen = c.Query("SELECT HOST, COMMAND, TIME FROM information_schema.PROCESSLIST WHERE ID = " + s.id);
    if (seen.ok() && !seen->empty()) {
      s.from = (*seen)[0][0].value_or("?");
      s.command = (*seen)[0][1].value_or("");
      s.seconds = std::strtoull((*seen)[0][2].value_or("0").c_str(), nullptr, 10);
    }
    return std::optional<Session>(s);
  };
  // Idle for takeover_after: the process is gone or frozen with its
  // connections left open (a live one pings through it every few seconds).
  auto frozen = [&](const Session& s) {
    return options.takeover_after_ms > 0 && s.command == "Sleep" && s.seconds * 1000 >= options.takeover_after_ms;
  };
  auto busy = [&](const Row& row, const Session& session) {
    return Status::Retryable(
        StatusCode::kAborted,
        "pipeline {} target {}: another sluice process ({}, session {} from {}, since {}) applies this pipeline to "
        "this target; this one waits for it to stop, then takes over (two would apply every change twice){}",
        options.pipeline, options.target, row[1].value_or("?"), session.id, session.from, row[2].value_or("?"),
        options.takeover_after_ms > 0
            ? fmt::format(", or once that session has been idle for takeover_after ({} s: a host gone or frozen)",
                          options.takeover_after_ms / 1000.0)
            : fmt::format(". With takeover_after: never, a host gone without closing its connections leaves its "
                          "session for hours: end it with KILL CONNECTION {} on the target",
                          session.id));
  };
  // A first look without a lock: a second process looks again and again
  // while the first lives, and the first's writes must not wait for it.
  ASSIGN_OR_RETURN(auto seen, owner(false));
  if (seen && (*seen)[0] != mine) {
    ASSIGN_OR_RETURN(auto session, live_session(*seen));
    if (session && !frozen(*session)) return busy(*seen, *session);
    // Its open transactions would hold the row below for good.
    if (session) RETURN_IF_ERROR(EndFrozenOwner(c, (*seen)[0].value_or(""), session->id, options));
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
  std::string former;
  if (*locked && (**locked)[0] != mine) {
    const Row& row = **locked;
    auto session = live_session(row);
    if (!session.ok()) return fail(session.status());
    if (*session) {
      (void)c.Execute("ROLLBACK");
      return busy(row, **session);
    }
    took_over = true;
    former = row[0].value_or("");
    spdlog::info("pipeline {} target {}: taking over from a sluice process that is gone ({})", options.pipeline,
                 options.target, row[1].value_or("?"));
  }
  Status st = c.Execute(fmt::format(
      "INSERT INTO `_sluice`.`owners` (pipeline, target, token, who) VALUES ({}, {}, {}, {}) ON DUPLICATE KEY UPDATE "
      "since = IF(token = VALUES(token), since, CURRENT_TIMESTAMP(3)), token = VALUES(token), who = VALUES(who)",
      Quote(options.pipeline), Quote(options.target), Quote(mine), Quote(ProcessDescription())));
  if (st.ok()) st = c.Execute("COMMIT");
  if (!st.ok()) return fail(st);
  if (!former.empty()) {
    // Its sessions are history (and their ids the server's to give again).
    (void)c.Execute(fmt::format("DELETE FROM `_sluice`.`owner_sessions` WHERE token = {}", Quote(former)));
  }
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
