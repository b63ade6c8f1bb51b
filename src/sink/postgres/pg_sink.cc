#include "sink/postgres/pg_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "core/json_writer.h"
#include "sink/merge.h"
#include "sink/postgres/pg_bookkeeping.h"
#include "sink/postgres/pg_ddl.h"
#include "sink/postgres/pg_statements.h"
#include "sink/postgres/pg_types.h"
#include "sink/skip_log.h"

namespace sluice::sink::postgres {
namespace {

using sluice::postgres::PgConnection;
using sluice::postgres::QuoteIdent;
using sluice::postgres::QuoteLiteral;

// Seconds a target connection waits for one answer when the URL sets no
// query_timeout: a hung server becomes a retryable error.
constexpr unsigned kTargetTimeoutS = 90;

std::string TableKey(const std::string& db, const std::string& table) { return db + "." + table; }

}  // namespace

Result<std::unique_ptr<PgSink>> PgSink::Open(PgSinkOptions options) {
  std::unique_ptr<PgSink> sink(new PgSink(std::move(options)));
  RETURN_IF_ERROR(sink->Connect());
  RETURN_IF_ERROR(sink->EnsureCheckpointTable());
  RETURN_IF_ERROR(sink->ReadCheckpoint());
  return sink;
}

std::string PgSink::Where() const { return fmt::format("pipeline {} target {}", options_.pipeline, options_.target); }

Status PgSink::Connect() {
  sluice::postgres::ConnectOptions o = options_.connect;
  if (o.query_timeout_s == 0) o.query_timeout_s = kTargetTimeoutS;
  o.application_name = fmt::format("sluice {}/{}", options_.pipeline, options_.target).substr(0, 63);
  ASSIGN_OR_RETURN(conn_, PgConnection::Connect(o));
  // TIMESTAMP values come in UTC with an explicit offset; the session's zone
  // only shapes what a reader sees, but UTC keeps messages unambiguous.
  return Run("SET TIME ZONE 'UTC'");
}

Status PgSink::Run(const std::string& sql) { return conn_->Execute(sql); }

Status PgSink::EnsureConnected() {
  if (conn_ && conn_->ok()) return Status::Ok();
  return Reconnect();
}

Status PgSink::EndStaleSession() {
  if (stale_backend_ == 0) return Status::Ok();
  const std::string filter =
      fmt::format("pid = {} AND pid <> pg_backend_pid() AND application_name = {}", stale_backend_,
                  QuoteLiteral(conn_->options().application_name));
  (void)conn_->Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE " + filter);
  for (int i = 0;; ++i) {
    ASSIGN_OR_RETURN(auto left, conn_->Query("SELECT count(*) FROM pg_stat_activity WHERE " + filter));
    if (left.empty() || left[0][0].value_or("0") == "0") break;
    if (i >= 300) {
      return Status::Retryable(StatusCode::kIoError, "{}: the earlier session (pid {}) does not end", Where(),
                               stale_backend_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stale_backend_ = 0;
  return Status::Ok();
}

Status PgSink::Reconnect() {
  if (conn_ && conn_->backend_pid() != 0) stale_backend_ = conn_->backend_pid();
  conn_.reset();
  ready_.clear();
  Status st = Connect();
  if (st.ok()) st = EndStaleSession();
  if (st.ok()) st = EnsureCheckpointTable();
  if (!st.ok()) {
    conn_.reset();
    return st;
  }
  // A COMMIT whose answer was lost may have landed: the checkpoint says.
  return ReadCheckpoint();
}

Status PgSink::EnsureCheckpointTable() {
  return postgres::EnsureCheckpointTable(*conn_).WithContext(Where() + ": checkpoint table");
}

Status PgSink::ReadCheckpoint() {
  checkpoint_ = Checkpoint();
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format(
                                  "SELECT position, resume_position, gtid_state FROM _sluice.checkpoints WHERE "
                                  "pipeline = {} AND target = {} AND part = {}",
                                  QuoteLiteral(options_.pipeline), QuoteLiteral(options_.target), kGlobalPart)));
  if (rows.empty()) return Status::Ok();
  StreamPos pos;
  if (!StreamPos::Parse(rows[0][0].value_or(""), &pos)) {
    return Status::Corruption("{}: bad checkpoint position \"{}\" in _sluice.checkpoints", Where(),
                              rows[0][0].value_or(""));
  }
  checkpoint_.global = pos;
  checkpoint_.resume_position = rows[0][1].value_or("");
  checkpoint_.gtid_state = rows[0][2].value_or("");
  return Status::Ok();
}

Status PgSink::WriteCheckpointRow(const BatchEnd& end) {
  return Run(fmt::format(
      "INSERT INTO _sluice.checkpoints (pipeline, target, part, position, resume_position, gtid_state, epoch) "
      "VALUES ({}, {}, {}, {}, {}, {}, {}) ON CONFLICT (pipeline, target, part) DO UPDATE SET "
      "position = EXCLUDED.position, resume_position = EXCLUDED.resume_position, gtid_state = EXCLUDED.gtid_state, "
      "epoch = EXCLUDED.epoch, updated_at = now()",
      QuoteLiteral(options_.pipeline), QuoteLiteral(options_.target), kGlobalPart, QuoteLiteral(end.pos.ToString()),
      QuoteLiteral(end.resume_position), QuoteLiteral(end.gtid_state), options_.epoch));
}

void PgSink::NoteCheckpoint(const BatchEnd& end) {
  checkpoint_.global = end.pos;
  checkpoint_.resume_position = end.resume_position;
  checkpoint_.gtid_state = end.gtid_state;
}

Status PgSink::AdvanceCheckpoint(const BatchEnd& end) {
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) return Status::Ok();
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(WriteCheckpointRow(end));
  NoteCheckpoint(end);
  return Status::Ok();
}

Status PgSink::ResetCheckpoint() {
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(Run(fmt::format("DELETE FROM _sluice.checkpoints WHERE pipeline = {} AND target = {}",
                                  QuoteLiteral(options_.pipeline), QuoteLiteral(options_.target))));
  return ReadCheckpoint();
}

Result<std::vector<std::pair<std::string, std::string>>> PgSink::ReadColumns(const std::string& db,
                                                                             const std::string& table) {
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format(
                                  "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                                  "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                                  "WHERE n.nspname = {} AND c.relname = {} AND c.relkind IN ('r', 'p') "
                                  "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                                  QuoteLiteral(db), QuoteLiteral(table))));
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& r : rows) out.emplace_back(r[0].value_or(""), r[1].value_or(""));
  return out;
}

Result<std::vector<std::string>> PgSink::TargetColumns(const std::string& db, const std::string& table) {
  RETURN_IF_ERROR(EnsureConnected());
  ASSIGN_OR_RETURN(auto cols, ReadColumns(db, table));
  std::vector<std::string> out;
  for (auto& c : cols) out.push_back(c.first);
  return out;
}

Status PgSink::PrepareTables(const std::vector<SinkChange>& changes) {
  const TargetTable* last = nullptr;
  for (const SinkChange& ch : changes) {
    if (ch.table.get() == last) continue;
    last = ch.table.get();
    last_version_[TableKey(ch.table->db, ch.table->table)] = ch.table;
    if (ready_.count(last)) continue;
    RETURN_IF_ERROR(PrepareTable(ch.table));
    ready_.emplace(last, ch.table);
  }
  return Status::Ok();
}

Status PgSink::PrepareTable(const TargetTablePtr& tp) {
  const TargetTable& t = *tp;
  const std::string name = QualifiedName(t.db, t.table);
  auto where = [&](const Status& st) {
    return st.WithContext(fmt::format("{}: table {} (from {})", Where(), name, t.source));
  };
  auto existing = ReadColumns(t.db, t.table);
  if (!existing.ok()) return where(existing.status());
  if (existing->empty()) {
    auto create = BuildCreateTable(t);
    if (!create.ok()) return where(create.status());
    std::string sql = "CREATE SCHEMA IF NOT EXISTS " + QuoteIdent(t.db) + "; " + *create;
    Status st = Run(sql);
    if (!st.ok() && !st.retryable() && (conn_->last_sqlstate() == "23505" || conn_->last_sqlstate() == "42P06")) {
      st = Run(sql);  // created at the same moment by another pipeline
    }
    if (st.ok()) spdlog::info("{}: created table {} (from {})", Where(), name, t.source);
    return where(st);
  }
  const std::string key = TableKey(t.db, t.table);
  const bool retype = retype_.count(key) > 0;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    auto type = PgType(t.column_meta(i));
    if (!type.ok()) return where(type.status());
    auto it = std::find_if(existing->begin(), existing->end(), [&](const auto& c) { return c.first == t.columns[i]; });
    std::string sql;
    if (it == existing->end()) {
      sql = "ALTER TABLE " + name + " ADD COLUMN IF NOT EXISTS " + QuoteIdent(t.columns[i]) + " " + *type;
    } else if (retype && it->second != *type) {
      sql = "ALTER TABLE " + name + " ALTER COLUMN " + QuoteIdent(t.columns[i]) + " TYPE " + *type + " USING " +
            QuoteIdent(t.columns[i]) + "::" + *type;
    } else {
      continue;
    }
    Status st = Run(sql);
    if (!st.ok()) return where(st);
    spdlog::info("{}: {}", Where(), sql);
  }
  retype_.erase(key);
  return Status::Ok();
}

Status PgSink::ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) {
  RETURN_IF_ERROR(EnsureConnected());
  std::vector<SinkChange> todo;
  todo.reserve(changes.size());
  for (const SinkChange& ch : changes) {
    if (!checkpoint_.global.empty() && ch.pos <= checkpoint_.global) continue;  // applied before a restart
    todo.push_back(ch);
  }
  if (todo.empty()) return AdvanceCheckpoint(end);
  RETURN_IF_ERROR(PrepareTables(todo));
  return ApplyInTransaction(todo, end);
}

Status PgSink::ApplyInTransaction(const std::vector<SinkChange>& todo, const BatchEnd& end) {
  uint64_t skipped = 0;
  Status st = Run("BEGIN");
  if (st.ok()) st = ApplyMerged(MergeByKey(todo));
  if (!st.ok() && !st.retryable()) {
    // A row the target rejects (or cannot hold): find it in source order,
    // one change at a time under a savepoint, and skip or stop there.
    (void)Run("ROLLBACK");
    st = Run("BEGIN");
    size_t rejected = todo.size();
    if (st.ok()) st = ApplyOrdered(todo, &skipped, &rejected);
    if (rejected < todo.size()) {
      (void)Run("ROLLBACK");
      return StopBefore(todo, todo[rejected].pos, st);
    }
  }
  if (st.ok()) st = WriteCheckpointRow(end);
  if (st.ok()) st = Run("COMMIT");
  if (!st.ok()) {
    if (conn_ && conn_->ok()) (void)Run("ROLLBACK");
    return st;
  }
  rows_applied_ += todo.size() - skipped;
  rows_skipped_ += skipped;
  NoteCheckpoint(end);
  return Status::Ok();
}

Status PgSink::StopBefore(const std::vector<SinkChange>& changes, const StreamPos& bad, const Status& rejection) {
  // on_error: stop AT the rejected change's source transaction: everything
  // before it is committed, nothing after; a restart resumes there once the
  // cause is fixed.
  const StreamPos cut{bad.file, bad.txn_offset, 0};
  std::vector<SinkChange> prefix;
  for (const SinkChange& ch : changes) {
    if (ch.pos < cut) prefix.push_back(ch);
  }
  const BatchEnd at_cut{cut, fmt::format("{}:{}", cut.file, cut.txn_offset), ""};
  RETURN_IF_ERROR(prefix.empty() ? AdvanceCheckpoint(at_cut) : ApplyInTransaction(prefix, at_cut));
  spdlog::error("{}: stopped at the transaction @ {} (everything before it is applied)", Where(), cut.ToString());
  return rejection;
}

Status PgSink::ApplyMerged(const std::vector<SinkChange>& changes) {
  std::map<const TargetTable*, std::vector<const SinkChange*>> deletes, upserts;
  std::vector<const TargetTable*> order;
  std::vector<const SinkChange*> keyless;
  for (const SinkChange& ch : changes) {
    const TargetTable* t = ch.table.get();
    if (!t->has_key()) {
      keyless.push_back(&ch);
      continue;
    }
    if (!deletes.count(t) && !upserts.count(t)) order.push_back(t);
    (ch.kind == SinkChange::Kind::kDelete ? deletes[t] : upserts[t]).push_back(&ch);
  }
  // Statements of about max_statement_bytes each.
  auto in_slices = [&](const TargetTable& t, const std::vector<const SinkChange*>& rows,
                       Status (*build)(std::string&, const TargetTable&, const std::vector<const SinkChange*>&)) {
    size_t i = 0;
    while (i < rows.size()) {
      std::vector<const SinkChange*> slice;
      size_t bytes = 0;
      while (i < rows.size() && (slice.empty() || bytes < options_.max_statement_bytes)) {
        for (const Value& v : rows[i]->values) bytes += v.s.size() * 2 + 12;
        slice.push_back(rows[i++]);
      }
      std::string sql;
      RETURN_IF_ERROR(build(sql, t, slice));
      RETURN_IF_ERROR(Run(sql));
    }
    return Status::Ok();
  };
  for (const TargetTable* t : order) {
    auto it = deletes.find(t);
    if (it != deletes.end()) RETURN_IF_ERROR(in_slices(*t, it->second, BuildDelete));
  }
  for (const TargetTable* t : order) {
    auto it = upserts.find(t);
    if (it == upserts.end()) continue;
    if (it->second.size() >= options_.copy_threshold) {
      RETURN_IF_ERROR(CopyUpsert(*t, it->second));
    } else {
      RETURN_IF_ERROR(in_slices(*t, it->second, BuildUpsert));
    }
  }
  // Keyless tables in source order; a run of inserts into one table is one statement.
  for (size_t i = 0; i < keyless.size();) {
    const SinkChange* ch = keyless[i];
    if (ch->kind != SinkChange::Kind::kInsert) {
      RETURN_IF_ERROR(ApplyOne(*ch));
      ++i;
      continue;
    }
    std::vector<const SinkChange*> run;
    while (i < keyless.size() && keyless[i]->kind == SinkChange::Kind::kInsert && keyless[i]->table == ch->table) {
      run.push_back(keyless[i++]);
    }
    RETURN_IF_ERROR(in_slices(*ch->table, run, BuildInsert));
  }
  return Status::Ok();
}

Status PgSink::CopyUpsert(const TargetTable& t, const std::vector<const SinkChange*>& rows) {
  std::string data;
  RETURN_IF_ERROR(AppendCopyRows(data, t, rows));
  const std::string stage = fmt::format("sluice_stage_{}", ++stage_counter_);
  const std::string cols = ColumnList(t);
  RETURN_IF_ERROR(Run(fmt::format("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA", stage,
                                  cols, QualifiedName(t.db, t.table))));
  RETURN_IF_ERROR(conn_->CopyIn(fmt::format("COPY {} ({}) FROM STDIN", stage, cols), data));
  RETURN_IF_ERROR(Run(fmt::format("INSERT INTO {} ({}) SELECT {} FROM {}{}", QualifiedName(t.db, t.table), cols, cols,
                                  stage, OnConflictClause(t))));
  return Run("DROP TABLE " + stage);
}

Status PgSink::ApplyOne(const SinkChange& ch) {
  std::string sql;
  std::vector<const SinkChange*> one{&ch};
  switch (ch.kind) {
    case SinkChange::Kind::kUpsert: RETURN_IF_ERROR(BuildUpsert(sql, *ch.table, one)); break;
    case SinkChange::Kind::kDelete: RETURN_IF_ERROR(BuildDelete(sql, *ch.table, one)); break;
    case SinkChange::Kind::kInsert: RETURN_IF_ERROR(BuildInsert(sql, *ch.table, one)); break;
    case SinkChange::Kind::kDeleteExact: {
      RETURN_IF_ERROR(BuildDeleteExact(sql, *ch.table, ch));
      ASSIGN_OR_RETURN(auto deleted, conn_->Query(sql));
      // A keyless row is found by its every value: when none matches, the
      // target no longer holds what the source held.
      if (deleted.empty()) {
        return Status::Error(StatusCode::kServerError,
                             "no row of the keyless target table equals the row the source updated or deleted: the "
                             "target has diverged");
      }
      return Status::Ok();
    }
  }
  return Run(sql);
}

Status PgSink::ApplyOrdered(const std::vector<SinkChange>& changes, uint64_t* skipped, size_t* rejected) {
  for (size_t i = 0; i < changes.size(); ++i) {
    const SinkChange& ch = changes[i];
    RETURN_IF_ERROR(Run("SAVEPOINT sluice_change"));
    Status st = ApplyOne(ch);
    if (st.ok()) {
      RETURN_IF_ERROR(Run("RELEASE SAVEPOINT sluice_change"));
      continue;
    }
    if (st.retryable()) return st;
    RETURN_IF_ERROR(Run("ROLLBACK TO SAVEPOINT sluice_change"));
    Status reject = Reject(ch, st);
    if (!reject.ok()) {
      *rejected = i;
      return reject;
    }
    ++*skipped;
  }
  return Status::Ok();
}

Status PgSink::Reject(const SinkChange& ch, const Status& error) {
  std::string msg = fmt::format("{}: table {} (from {}) key {} @ {}: the target rejected the change: {}", Where(),
                                QualifiedName(ch.table->db, ch.table->table), ch.table->source, DescribeKey(ch),
                                ch.pos.ToString(), error.message());
  if (!options_.skip_rejected) return Status::Error(StatusCode::kServerError, "{}", msg);
  if (!options_.skip_log.empty()) {
    std::string line = SkipRecord(options_.pipeline, options_.target, ch, DescribeKey(ch), error.message());
    // Durable before the batch that leaves the row out commits.
    Status written = AppendDurably(options_.skip_log, line);
    if (!written.ok()) return Status::Error(StatusCode::kIoError, "{}; not skipped: {}", written.message(), msg);
  }
  spdlog::warn("skipped (on_error: skip): {}", msg);
  return Status::Ok();
}

Status PgSink::ApplyDdl(const DdlChange& ddl, const BatchEnd& end) {
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) return Status::Ok();  // replayed
  RETURN_IF_ERROR(EnsureConnected());
  const std::string key = TableKey(ddl.target_db, ddl.target_table);
  std::vector<std::string> existing;
  if (!ddl.target_table.empty()) {
    ASSIGN_OR_RETURN(existing, TargetColumns(ddl.target_db, ddl.target_table));
  }
  auto version = last_version_.find(key);
  auto target_column = [&](const std::string& source) -> std::optional<std::string> {
    if (version != last_version_.end()) {
      const TargetTable& t = *version->second;
      for (size_t i = 0; i < t.columns.size(); ++i) {
        if (t.column_meta(i).name == source) return t.columns[i];
      }
    }
    if (ddl.one_to_one) return source;
    return std::nullopt;  // not in the subset the target holds
  };
  auto target_has = [&](const std::string& name) {
    return std::find(existing.begin(), existing.end(), name) != existing.end();
  };
  auto plan = TranslateDdl(ddl, target_column, target_has);
  if (!plan.ok()) {
    return plan.status().WithContext(fmt::format("{}: table {} @ {}", Where(),
                                                 QualifiedName(ddl.target_db, ddl.target_table), end.pos.ToString()));
  }
  for (const std::string& s : plan->skipped) {
    spdlog::info("{}: DDL clause skipped for PostgreSQL (no change of row shape): {}", Where(), s);
  }
  // The statements and the checkpoint in one transaction (PostgreSQL's DDL
  // is transactional): a replay after a crash never runs them twice.
  Status st = Run("BEGIN");
  for (const std::string& s : plan->statements) {
    if (!st.ok()) break;
    st = Run(s);
    if (st.ok()) spdlog::info("{}: DDL @ {}: {}", Where(), end.pos.ToString(), s);
  }
  if (st.ok()) st = WriteCheckpointRow(end);
  if (st.ok()) st = Run("COMMIT");
  if (!st.ok()) {
    if (conn_ && conn_->ok()) (void)Run("ROLLBACK");
    if (st.retryable()) return st;
    return Status::Error(StatusCode::kServerError, "{}: DDL @ {} failed: {}: {}", Where(), end.pos.ToString(),
                         st.message(), ddl.query.substr(0, 300));
  }
  NoteCheckpoint(end);
  if (plan->retype) retype_.insert(key);
  std::erase_if(ready_, [&](const auto& e) { return TableKey(e.first->db, e.first->table) == key; });
  return Status::Ok();
}

}  // namespace sluice::sink::postgres
