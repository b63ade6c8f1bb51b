#include "sink/postgres/pg_fence.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <fmt/ranges.h>

#include "sink/fence.h"
#include "sink/process_owner.h"

namespace sluice::sink::postgres {
namespace {

using sluice::postgres::PgConnection;
using sluice::postgres::QuoteLiteral;

constexpr const char* kFencedState = "SL001";
constexpr const char* kNotOwnerState = "SL002";
// How long the raise waits for the fence row before it looks for backends
// to terminate again (one registered after the last look may hold it).
constexpr const char* kRaiseLockTimeout = "2s";
constexpr auto kRaiseDeadline = std::chrono::seconds(120);

// Concurrent creators: one wins, the other sees a duplicate (or a
// concurrent update of the catalog); a second try finds it there.
Status CreateOnce(PgConnection& conn, const std::string& sql) {
  Status st = conn.Execute(sql);
  const std::string& state = conn.last_sqlstate();
  if (!st.ok() && !st.retryable() && (state == "23505" || state == "42P06" || state == "42P07" || state == "XX000")) {
    st = conn.Execute(sql);
  }
  return st;
}

}  // namespace

Status EnsureFenceTables(PgConnection& conn) {
  RETURN_IF_ERROR(CreateOnce(conn,
                             "CREATE SCHEMA IF NOT EXISTS _sluice; "
                             "CREATE TABLE IF NOT EXISTS _sluice.fences (pipeline text PRIMARY KEY, "
                             "  epoch bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now()); "
                             "CREATE TABLE IF NOT EXISTS _sluice.sessions (pipeline text NOT NULL, pid integer NOT "
                             "NULL, backend_start timestamptz NOT NULL, epoch bigint NOT NULL, "
                             "PRIMARY KEY (pipeline, pid, backend_start))"));
  ASSIGN_OR_RETURN(auto have, conn.Query("SELECT to_regprocedure('_sluice.check_fence(text,bigint)') IS NOT NULL"));
  if (!have.empty() && have[0][0].value_or("f") == "t") return Status::Ok();
  return CreateOnce(conn,
                    "CREATE OR REPLACE FUNCTION _sluice.check_fence(p text, mine bigint) RETURNS void "
                    "LANGUAGE plpgsql AS $$ DECLARE current bigint; BEGIN "
                    "SELECT epoch INTO current FROM _sluice.fences WHERE pipeline = p FOR SHARE; "
                    "IF current IS NULL OR current > mine THEN "
                    "RAISE EXCEPTION 'fenced by epoch %', coalesce(current, 0) USING ERRCODE = 'SL001'; "
                    "END IF; END $$");
}

Status RegisterSession(PgConnection& conn, const SinkOptions& options) {
  return conn.Execute(fmt::format("INSERT INTO _sluice.sessions (pipeline, pid, backend_start, epoch) SELECT {}, pid, "
                                  "backend_start, {} FROM pg_stat_activity WHERE pid = pg_backend_pid() "
                                  "ON CONFLICT DO NOTHING",
                                  QuoteLiteral(options.pipeline), options.epoch));
}

Status RaiseFence(const sluice::postgres::ConnectOptions& connect, const SinkOptions& options) {
  sluice::postgres::ConnectOptions o = connect;
  if (o.query_timeout_s == 0) o.query_timeout_s = 60;
  o.application_name = fmt::format("sluice fence {}", options.pipeline).substr(0, 63);
  ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(o));
  PgConnection& c = *conn;
  RETURN_IF_ERROR(c.Execute(fmt::format("SET lock_timeout = '{}'", kRaiseLockTimeout)));
  const std::string pipeline = QuoteLiteral(options.pipeline);
  const auto deadline = std::chrono::steady_clock::now() + kRaiseDeadline;
  for (;;) {
    // Backends of former owners: each may hold a write transaction open
    // (a paused owner), which the raise below would wait for.
    ASSIGN_OR_RETURN(auto ended,
                     c.Query(fmt::format("SELECT s.pid, s.epoch, pg_terminate_backend(s.pid) FROM _sluice.sessions s "
                                         "JOIN pg_stat_activity a ON a.pid = s.pid AND a.backend_start = "
                                         "s.backend_start WHERE s.pipeline = {} AND s.epoch < {} AND s.pid <> "
                                         "pg_backend_pid()",
                                         pipeline, options.epoch)));
    for (const auto& row : ended) {
      spdlog::info("pipeline {} target {}: terminated backend {} of epoch {} (epoch {} takes over)", options.pipeline,
                   options.target, row[0].value_or("?"), row[1].value_or("?"), options.epoch);
    }
    auto fence = c.Query(fmt::format("BEGIN; SELECT epoch FROM _sluice.fences WHERE pipeline = {} FOR UPDATE",
                                     pipeline));
    if (!fence.ok()) {
      const bool lock_wait = c.last_sqlstate() == "55P03";
      if (c.ok()) (void)c.Execute("ROLLBACK");
      if (!lock_wait) return fence.status();
      if (std::chrono::steady_clock::now() >= deadline) {
        return Status::Retryable(StatusCode::kAborted,
                                 "pipeline {} target {}: the fence of epoch {} cannot be raised: a session holds "
                                 "_sluice.fences ({})",
                                 options.pipeline, options.target, options.epoch, fence.status().message());
      }
      continue;
    }
    uint64_t current = fence->empty() ? 0 : std::strtoull((*fence)[0][0].value_or("0").c_str(), nullptr, 10);
    if (current > options.epoch) {
      (void)c.Execute("ROLLBACK");
      return FencedError(options, current, "_sluice.fences on open");
    }
    Status st = c.Execute(fmt::format("INSERT INTO _sluice.fences (pipeline, epoch) VALUES ({}, {}) ON CONFLICT "
                                      "(pipeline) DO UPDATE SET epoch = EXCLUDED.epoch, updated_at = now(); COMMIT",
                                      pipeline, options.epoch));
    if (!st.ok()) {
      if (c.ok()) (void)c.Execute("ROLLBACK");
      return st;
    }
    break;
  }
  // Former owners' backends, and backends that are gone, are history.
  (void)c.Execute(fmt::format("DELETE FROM _sluice.sessions s WHERE pipeline = {} AND (epoch < {} OR NOT EXISTS "
                              "(SELECT 1 FROM pg_stat_activity a WHERE a.pid = s.pid AND a.backend_start = "
                              "s.backend_start))",
                              pipeline, options.epoch));
  return Status::Ok();
}

OwnerKeeper::OwnerKeeper(sluice::postgres::ConnectOptions connect, std::chrono::milliseconds interval,
                         Interrupter* interrupt, SinkOptions options)
    : connect_([&] {
        if (connect.query_timeout_s == 0) connect.query_timeout_s = 10;
        connect.application_name = fmt::format("sluice owner {}/{}", options.pipeline, options.target).substr(0, 63);
        return std::move(connect);
      }()),
      interrupt_(interrupt),
      options_(std::move(options)),
      pings_(interval, [this] {
        if (auto held = Hold(); !held.ok()) {
          spdlog::debug("pipeline {} target {}: owner session: {}", options_.pipeline, options_.target,
                        held.status().message());
        }
      }) {}

Result<OwnerKeeper::Backend> OwnerKeeper::Hold() {
  std::lock_guard lock(mu_);
  const bool fresh = conn_ == nullptr;
  if (fresh) {
    auto conn = PgConnection::Connect(connect_, interrupt_);
    if (!conn.ok()) return Status::Retryable(conn.status().code(), "{}", conn.status().message());
    conn_ = std::move(*conn);
  }
  // A statement every interval is what shows this process alive.
  auto me = conn_->Query("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()");
  if (!me.ok() || me->empty()) {
    conn_.reset();  // a new session next time
    Status st = me.ok() ? Status::Error(StatusCode::kIoError, "no pg_stat_activity row for this backend") : me.status();
    return Status::Retryable(st.code(), "{}", st.message());
  }
  Backend now{(*me)[0][0].value_or(""), (*me)[0][1].value_or("")};
  if (fresh && !backend_.pid.empty()) {
    // The row names the lost session where this process owns it: it names
    // this one now (a lock wait bounded, the next ping tries again).
    Status st = conn_->Execute(fmt::format(
        "SET lock_timeout = '2s'; UPDATE _sluice.owners SET pid = {}, backend_start = {} WHERE pipeline = {} AND "
        "target = {} AND token = {}",
        now.pid, QuoteLiteral(now.backend_start), QuoteLiteral(options_.pipeline), QuoteLiteral(options_.target),
        QuoteLiteral(ProcessToken())));
    if (!st.ok()) {
      conn_.reset();
      return Status::Retryable(st.code(), "{}", st.message());
    }
  }
  backend_ = now;
  return now;
}

Status EnsureOwnerTables(PgConnection& conn) {
  RETURN_IF_ERROR(CreateOnce(conn,
                             "CREATE SCHEMA IF NOT EXISTS _sluice; "
                             "CREATE TABLE IF NOT EXISTS _sluice.owners (pipeline text NOT NULL, target text NOT NULL, "
                             "  token text NOT NULL, pid integer NOT NULL, backend_start timestamptz NOT NULL, "
                             "  who text NOT NULL, since timestamptz NOT NULL DEFAULT now(), "
                             "  PRIMARY KEY (pipeline, target)); "
                             "CREATE TABLE IF NOT EXISTS _sluice.owner_sessions (token text NOT NULL, pid integer NOT "
                             "NULL, backend_start timestamptz NOT NULL, PRIMARY KEY (token, pid, backend_start))"));
  ASSIGN_OR_RETURN(auto have, conn.Query("SELECT to_regprocedure('_sluice.check_owner(text,text,text)') IS NOT NULL"));
  if (!have.empty() && have[0][0].value_or("f") == "t") return Status::Ok();
  return CreateOnce(conn,
                    "CREATE OR REPLACE FUNCTION _sluice.check_owner(p text, t text, mine text) RETURNS void "
                    "LANGUAGE plpgsql AS $$ DECLARE current text; BEGIN "
                    "SELECT token INTO current FROM _sluice.owners WHERE pipeline = p AND target = t FOR SHARE; "
                    "IF current IS DISTINCT FROM mine THEN "
                    "RAISE EXCEPTION 'owned by another sluice process' USING ERRCODE = 'SL002'; "
                    "END IF; END $$");
}

Status RegisterOwnerSessions(PgConnection& conn, const std::vector<int>& pids) {
  if (pids.empty()) return Status::Ok();
  const std::string mine = QuoteLiteral(ProcessToken());
  return conn.Execute(fmt::format(
      "DELETE FROM _sluice.owner_sessions s WHERE token = {0} AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a "
      "WHERE a.pid = s.pid AND a.backend_start = s.backend_start); "
      "INSERT INTO _sluice.owner_sessions (token, pid, backend_start) SELECT {0}, pid, backend_start FROM "
      "pg_stat_activity WHERE pid IN ({1}) ON CONFLICT DO NOTHING",
      mine, fmt::join(pids, ", ")));
}

namespace {

// Terminates the backends of a process found frozen (the one its owner
// row names, idle past takeover_after, and those it registered): what they
// held open rolls back. Waits (a little) for them to be gone.
Status EndFrozenOwner(PgConnection& c, const sluice::postgres::Row& row, const SinkOptions& options) {
  const std::string token = QuoteLiteral(row[0].value_or(""));
  const std::string theirs = fmt::format(
      "(a.pid = {} AND a.backend_start = {}) OR (a.pid, a.backend_start) IN (SELECT pid, backend_start FROM "
      "_sluice.owner_sessions WHERE token = {})",
      row[1].value_or("0"), QuoteLiteral(row[5].value_or("")), token);
  ASSIGN_OR_RETURN(
      auto ended,
      c.Query(fmt::format("SELECT a.pid, pg_terminate_backend(a.pid) FROM pg_stat_activity a WHERE {}", theirs)));
  std::vector<std::string> pids;
  for (const auto& r : ended) pids.push_back(r[0].value_or("?"));
  spdlog::warn(
      "pipeline {} target {}: the sluice process that owned it shows no sign of life (its backend {} idle "
      "for takeover_after, {} s): terminated its backends {}",
      options.pipeline, options.target, row[1].value_or("?"), options.takeover_after_ms / 1000.0,
      fmt::join(pids, ", "));
  for (int i = 0; i < 50; ++i) {
    ASSIGN_OR_RETURN(auto left, c.Query(fmt::format("SELECT count(*) FROM pg_stat_activity a WHERE {}", theirs)));
    if (left.empty() || left[0][0].value_or("0") == "0") return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::Retryable(StatusCode::kAborted, "pipeline {} target {}: backends {} do not end", options.pipeline,
                           options.target, fmt::join(pids, ", "));
}

}  // namespace

Result<bool> TakeOwnership(PgConnection& c, OwnerKeeper& keeper, const SinkOptions& options) {
  const std::string& mine = ProcessToken();
  ASSIGN_OR_RETURN(OwnerKeeper::Backend me, keeper.Hold());
  const std::string key =
      fmt::format("pipeline = {} AND target = {}", QuoteLiteral(options.pipeline), QuoteLiteral(options.target));
  // token, pid, who, since, whether that backend still lives, its
  // backend_start, and whether it has been idle for takeover_after (a live
  // process pings through it every few seconds).
  const std::string look = fmt::format(
      "SELECT token, pid, who, since, EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = o.pid AND "
      "a.backend_start = o.backend_start), backend_start, {} FROM _sluice.owners o WHERE {}",
      options.takeover_after_ms == 0
          ? std::string("false")
          : fmt::format("EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = o.pid AND a.backend_start = "
                        "o.backend_start AND a.state = 'idle' AND a.state_change < clock_timestamp() - interval "
                        "'{} milliseconds')",
                        options.takeover_after_ms),
      key);
  auto busy = [&](const sluice::postgres::Row& row) {
    return Status::Retryable(
        StatusCode::kAborted,
        "pipeline {} target {}: another sluice process ({}, backend {}, since {}) applies this pipeline to this "
        "target; this one waits for it to stop, then takes over (two would apply every change twice){}",
        options.pipeline, options.target, row[2].value_or("?"), row[1].value_or("?"), row[3].value_or("?"),
        options.takeover_after_ms > 0
            ? fmt::format(", or once that backend has been idle for takeover_after ({} s: a host gone or frozen)",
                          options.takeover_after_ms / 1000.0)
            : fmt::format(". With takeover_after: never, a host gone without closing its connections leaves its "
                          "backend for hours: end it with SELECT pg_terminate_backend({}) on the target",
                          row[1].value_or("?")));
  };
  auto other_lives = [&](const sluice::postgres::Row& row) { return row[0] != mine && row[4] == "t"; };
  auto frozen = [&](const sluice::postgres::Row& row) { return row[0] != mine && row[6] == "t"; };
  // A first look without a lock: a second process looks again and again
  // while the first lives, and the first's writes must not wait for it.
  ASSIGN_OR_RETURN(auto seen, c.Query(look));
  if (!seen.empty() && frozen(seen[0])) {
    // Its open transactions would hold the row below for good.
    RETURN_IF_ERROR(EndFrozenOwner(c, seen[0], options));
  } else if (!seen.empty() && other_lives(seen[0])) {
    return busy(seen[0]);
  }
  // FOR UPDATE: a former owner's write transactions hold the row FOR
  // SHARE; they commit or roll back before this goes on.
  auto locked = c.Query("BEGIN; " + look + " FOR UPDATE OF o");
  auto fail = [&](const Status& st) {
    if (c.ok()) (void)c.Execute("ROLLBACK");
    return st;
  };
  if (!locked.ok()) return fail(locked.status());
  bool took_over = false;
  std::string former;
  if (!locked->empty() && (*locked)[0][0] != mine) {
    if (other_lives((*locked)[0])) return fail(busy((*locked)[0]));
    took_over = true;
    former = (*locked)[0][0].value_or("");
    spdlog::info("pipeline {} target {}: taking over from a sluice process that is gone ({}, backend {})",
                 options.pipeline, options.target, (*locked)[0][2].value_or("?"), (*locked)[0][1].value_or("?"));
  }
  Status st = c.Execute(fmt::format(
      "INSERT INTO _sluice.owners AS o (pipeline, target, token, pid, backend_start, who) VALUES ({}, {}, {}, {}, {}, "
      "{}) ON CONFLICT (pipeline, target) DO UPDATE SET since = CASE WHEN o.token = EXCLUDED.token THEN o.since ELSE "
      "now() END, token = EXCLUDED.token, pid = EXCLUDED.pid, backend_start = EXCLUDED.backend_start, who = "
      "EXCLUDED.who; COMMIT",
      QuoteLiteral(options.pipeline), QuoteLiteral(options.target), QuoteLiteral(mine), me.pid,
      QuoteLiteral(me.backend_start), QuoteLiteral(ProcessDescription())));
  if (!st.ok()) return fail(st);
  if (!former.empty()) {
    // Its backends are history.
    (void)c.Execute(fmt::format("DELETE FROM _sluice.owner_sessions WHERE token = {}", QuoteLiteral(former)));
  }
  return took_over;
}

std::string CheckFenceSql(const SinkOptions& options) {
  if (options.epoch == 0) {
    return fmt::format("SELECT _sluice.check_owner({}, {}, {})", QuoteLiteral(options.pipeline),
                       QuoteLiteral(options.target), QuoteLiteral(ProcessToken()));
  }
  return fmt::format("SELECT _sluice.check_fence({}, {})", QuoteLiteral(options.pipeline), options.epoch);
}

Status FencedOr(PgConnection& conn, const SinkOptions& options, Status st) {
  if (!st.ok() && conn.last_sqlstate() == kNotOwnerState) {
    return Status::Retryable(StatusCode::kAborted,
                             "pipeline {} target {}: another sluice process took this target over (or the record of "
                             "who applies this pipeline here, _sluice.owners, is gone); nothing more is written until "
                             "this process owns it again",
                             options.pipeline, options.target);
  }
  if (st.ok() || conn.last_sqlstate() != kFencedState) return st;
  // "... fenced by epoch N ..."
  uint64_t newer = 0;
  if (size_t at = st.message().find("fenced by epoch "); at != std::string::npos) {
    newer = std::strtoull(st.message().c_str() + at + 16, nullptr, 10);
  }
  return FencedError(options, newer, newer ? "_sluice.fences" : "the fence row in _sluice.fences is gone");
}

}  // namespace sluice::sink::postgres
