#include "sink/postgres/pg_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "core/commit_vote.h"
#include "core/json_writer.h"
#include "core/sync_point.h"
#include "sink/merge.h"
#include "sink/postgres/pg_bookkeeping.h"
#include "sink/postgres/pg_ddl.h"
#include "sink/postgres/pg_fence.h"
#include "sink/postgres/pg_session.h"
#include "sink/postgres/pg_statements.h"
#include "sink/postgres/pg_types.h"
#include "sink/process_owner.h"
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

// The names of t's key columns, in key order.
std::vector<std::string> KeyNames(const TargetTable& t) {
  std::vector<std::string> names;
  for (uint32_t k : t.key) names.push_back(t.columns[k]);
  return names;
}

}  // namespace

Result<std::unique_ptr<PgSink>> PgSink::Open(PgSinkOptions options) {
  if (options.parallel == 0) options.parallel = 1;
  std::unique_ptr<PgSink> sink(new PgSink(std::move(options)));
  RETURN_IF_ERROR(sink->Connect());
  RETURN_IF_ERROR(sink->EnsureCheckpointTable());
  RETURN_IF_ERROR(sink->ReadPendingRetypes());
  if (sink->options_.epoch > 0) {
    RETURN_IF_ERROR(EnsureFenceTables(*sink->conn_).WithContext(sink->Where() + ": fence tables"));
    RETURN_IF_ERROR(sink->RegisterSessions());
    RETURN_IF_ERROR(RaiseFence(sink->options_.connect, sink->FenceOptions()));
  } else {
    RETURN_IF_ERROR(EnsureOwnerTables(*sink->conn_).WithContext(sink->Where() + ": owner table"));
    sink->owner_keeper_ =
        std::make_unique<OwnerKeeper>(sink->options_.connect, OwnerPingInterval(sink->options_.takeover_after_ms),
                                      sink->options_.interrupt, sink->FenceOptions());
    RETURN_IF_ERROR(TakeOwnership(*sink->conn_, *sink->owner_keeper_, sink->FenceOptions()).status());
    RETURN_IF_ERROR(sink->RegisterSessions());
  }
  RETURN_IF_ERROR(TakeOverRenamedTarget(*sink->conn_, sink->options_.pipeline, sink->options_.target,
                                        sink->options_.former_targets)
                      .status());
  RETURN_IF_ERROR(sink->ReadCheckpoint());
  return sink;
}

SinkOptions PgSink::FenceOptions() const {
  SinkOptions o;
  o.pipeline = options_.pipeline;
  o.target = options_.target;
  o.epoch = options_.epoch;
  o.takeover_after_ms = options_.takeover_after_ms;
  return o;
}

Status PgSink::RegisterSessions() {
  if (options_.epoch == 0) {
    std::vector<int> pids{conn_->backend_pid()};
    for (Session& s : sessions_) {
      if (s.owned) pids.push_back(s.owned->backend_pid());
    }
    return RegisterOwnerSessions(*conn_, pids).WithContext(Where() + ": owner sessions");
  }
  RETURN_IF_ERROR(RegisterSession(*conn_, FenceOptions()));
  for (Session& s : sessions_) {
    if (s.owned) RETURN_IF_ERROR(RegisterSession(*s.owned, FenceOptions()));
  }
  return Status::Ok();
}

std::string PgSink::Fenced(const std::string& sql) const { return CheckFenceSql(FenceOptions()) + ";\n" + sql; }

std::string PgSink::BeginFenced() const { return "BEGIN; " + CheckFenceSql(FenceOptions()); }

std::string PgSink::Where() const { return fmt::format("pipeline {} target {}", options_.pipeline, options_.target); }

void PgSink::Script::Add(std::string_view statement) {
  if (!sql.empty()) sql += ";\n";
  sql += statement;
}

std::string PgSink::PartitionScheme() const { return fmt::format("partitions={}", options_.parallel); }

Status PgSink::Connect() {
  sluice::postgres::ConnectOptions o = options_.connect;
  if (o.query_timeout_s == 0) o.query_timeout_s = kTargetTimeoutS;
  o.application_name = fmt::format("sluice {}/{}", options_.pipeline, options_.target).substr(0, 63);
  // TIMESTAMP values come in UTC with an explicit offset; the session's zone
  // only shapes what a reader sees, but UTC keeps messages unambiguous.
  ASSIGN_OR_RETURN(conn_, PgConnection::Connect(o, options_.interrupt));
  ASSIGN_OR_RETURN(replica_role_, PrepareWriteSession(*conn_));
  sessions_.clear();
  sessions_.resize(options_.parallel);
  if (options_.parallel == 1) {
    sessions_[0].conn = conn_.get();  // the rows and the global row in one transaction
  } else {
    for (Session& s : sessions_) {
      ASSIGN_OR_RETURN(s.owned, PgConnection::Connect(o, options_.interrupt));
      s.conn = s.owned.get();
      ASSIGN_OR_RETURN(bool role, PrepareWriteSession(*s.conn));
      replica_role_ = replica_role_ && role;
    }
  }
  if (!replica_role_ && !role_checked_) {
    role_checked_ = true;
    ASSIGN_OR_RETURN(auto acting, ForeignKeysAndTriggers(*conn_));
    if (!acting.empty()) {
      spdlog::warn("{}: user {} may not set session_replication_role, so the target's {} act on sluice's writes "
                   "(a foreign key refuses a child row written before its parent: such a batch is then applied in "
                   "source order on one connection, slower; a trigger fires for replicated rows); to switch them off "
                   "for sluice's sessions as PostgreSQL's own replication does: {}",
                   Where(), options_.connect.user, fmt::join(acting, ", "), ReplicaRoleGrant(options_.connect.user));
    }
  }
  return Status::Ok();
}

Status PgSink::Run(const std::string& sql) { return conn_->Execute(sql); }

Status PgSink::EnsureConnected() {
  bool whole = conn_ && conn_->ok() && sessions_.size() == options_.parallel;
  for (const Session& s : sessions_) whole = whole && s.conn != nullptr && s.conn->ok();
  if (whole) return Status::Ok();
  return Reconnect();
}

Status PgSink::EndStaleSessions() {
  if (stale_backends_.empty()) return Status::Ok();
  std::vector<int> mine{conn_->backend_pid()};
  for (const Session& s : sessions_) mine.push_back(s.conn->backend_pid());
  std::string pids;
  for (int pid : stale_backends_) {
    if (std::find(mine.begin(), mine.end(), pid) != mine.end()) continue;
    pids += (pids.empty() ? "" : ", ") + std::to_string(pid);
  }
  if (pids.empty()) {
    stale_backends_.clear();
    return Status::Ok();
  }
  const std::string filter = fmt::format("pid IN ({}) AND pid <> pg_backend_pid() AND application_name = {}", pids,
                                         QuoteLiteral(conn_->options().application_name));
  (void)conn_->Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE " + filter);
  for (int i = 0;; ++i) {
    ASSIGN_OR_RETURN(auto left, conn_->Query("SELECT count(*) FROM pg_stat_activity WHERE " + filter));
    if (left.empty() || left[0][0].value_or("0") == "0") break;
    if (i >= 300) {
      return Status::Retryable(StatusCode::kIoError, "{}: earlier sessions (pids {}) do not end", Where(), pids);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stale_backends_.clear();
  return Status::Ok();
}

Status PgSink::Reconnect() {
  if (conn_ && conn_->backend_pid() != 0) stale_backends_.push_back(conn_->backend_pid());
  for (const Session& s : sessions_) {
    if (s.owned && s.owned->backend_pid() != 0) stale_backends_.push_back(s.owned->backend_pid());
  }
  sessions_.clear();
  conn_.reset();
  ready_.clear();
  serial_.clear();
  Status st = Connect();
  if (st.ok() && options_.epoch > 0) st = RegisterSessions();
  if (st.ok()) st = EndStaleSessions();
  if (st.ok()) st = EnsureCheckpointTable();
  if (st.ok()) st = ReadPendingRetypes();
  // Taken over meanwhile: say so now rather than at the next write.
  if (st.ok() && options_.epoch > 0) st = FencedOr(*conn_, FenceOptions(), Run(CheckFenceSql(FenceOptions())));
  if (st.ok() && options_.epoch == 0) st = EnsureOwnerTables(*conn_).WithContext(Where() + ": owner table");
  if (st.ok() && options_.epoch == 0) {
    auto took_over = TakeOwnership(*conn_, *owner_keeper_, FenceOptions());
    if (!took_over.ok()) {
      st = took_over.status();
    } else if (*took_over) {
      // The target went on without this process: a new start takes it from
      // where the other one got to (what this one holds may be behind it).
      st = Status::Error(StatusCode::kTargetRewound,
                         "{}: another sluice process applied this pipeline here "
                         "meanwhile; starting again from where it got to",
                         Where());
    } else {
      st = RegisterSessions();
    }
  }
  if (!st.ok()) {
    sessions_.clear();
    conn_.reset();
    return st;
  }
  // A COMMIT whose answer was lost may have landed: the checkpoint says.
  return ReadCheckpoint();
}

Status PgSink::EnsureCheckpointTable() {
  return postgres::EnsureCheckpointTable(*conn_).WithContext(Where() + ": checkpoint table");
}

Status PgSink::ReadPendingRetypes() {
  RETURN_IF_ERROR(postgres::EnsurePendingRetypesTable(*conn_).WithContext(Where() + ": pending_retypes table"));
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format("SELECT tbl FROM _sluice.pending_retypes WHERE pipeline = {} "
                                                       "AND target = {}",
                                                       QuoteLiteral(options_.pipeline),
                                                       QuoteLiteral(options_.target))));
  for (const auto& r : rows) retype_.insert(r[0].value_or(""));
  return Status::Ok();
}

std::string PgSink::AddPendingRetypeSql(const std::string& key) const {
  return fmt::format("INSERT INTO _sluice.pending_retypes (pipeline, target, tbl) VALUES ({}, {}, {}) "
                     "ON CONFLICT DO NOTHING",
                     QuoteLiteral(options_.pipeline), QuoteLiteral(options_.target), QuoteLiteral(key));
}

std::string PgSink::DropPendingRetypeSql(const std::string& key) const {
  return fmt::format("DELETE FROM _sluice.pending_retypes WHERE pipeline = {} AND target = {} AND tbl = {}",
                     QuoteLiteral(options_.pipeline), QuoteLiteral(options_.target), QuoteLiteral(key));
}

Status PgSink::ReadCheckpoint() {
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format(
                                  "SELECT part, position, resume_position, gtid_state FROM _sluice.checkpoints WHERE "
                                  "pipeline = {} AND target = {}",
                                  QuoteLiteral(options_.pipeline), QuoteLiteral(options_.target))));
  // A partition row speaks of the keys that hashed to it under the number
  // of partitions it records: rows of another `parallel` setting go to
  // old_partitions_ and judge the changes they cover (AppliedUnderOldScheme).
  const std::string scheme = PartitionScheme();
  const std::map<int, StreamPos> own = OwnCheckpointRows(rows, scheme, kGlobalPart);
  if (Status lost = committed_rows_.Check(own, options_.target); !lost.ok()) {
    // Nothing is applied on top of the loss until the pipeline starts again:
    // every later call reconnects, reads the rows and says so again.
    conn_.reset();
    sessions_.clear();
    return lost;
  }
  for (const auto& [row, pos] : own) committed_rows_.Note(row, pos);  // committed there when read
  checkpoint_ = Checkpoint();
  checkpoint_.partitions.assign(options_.parallel, StreamPos());
  old_partitions_ = OldPartitionRows();
  for (const auto& r : rows) {
    const int part = std::atoi(r[0].value_or("0").c_str());
    StreamPos pos;
    if (!StreamPos::Parse(r[1].value_or(""), &pos)) {
      return Status::Corruption("{}: bad checkpoint position \"{}\" in _sluice.checkpoints", Where(),
                                r[1].value_or(""));
    }
    if (part == kHorizonPart) {
      continue;  // a snapshot's catch-up horizon: not needed here (pg_chunk_target.h)
    } else if (part == kGlobalPart) {
      checkpoint_.global = pos;
      checkpoint_.resume_position = r[2].value_or("");
      checkpoint_.gtid_state = r[3].value_or("");
    } else if (options_.parallel > 1 && part >= 0 && static_cast<size_t>(part) < checkpoint_.partitions.size() &&
               r[2] == scheme) {
      checkpoint_.partitions[static_cast<size_t>(part)] = pos;
    } else if (part >= 0 && !old_partitions_.Add(r[2].value_or(""), part, 1, pos)) {
      spdlog::warn("{}: partition row {} of unknown partitioning \"{}\" in _sluice.checkpoints ignored", Where(), part,
                   r[2].value_or(""));
    }
  }
  for (auto& p : checkpoint_.partitions) {
    if (p < checkpoint_.global) p = checkpoint_.global;
  }
  old_partitions_.Finish(checkpoint_.global);
  if (!old_partitions_.empty()) {
    const std::string settings = old_partitions_.Settings();
    spdlog::info("{}: partition checkpoints of `parallel: {}` (now {}); replaying from {}{}", Where(), settings,
                 options_.parallel, checkpoint_.global.empty() ? "the start position" : checkpoint_.global.ToString(),
                 old_partitions_.until().empty()
                     ? ""
                     : fmt::format(", what the partitions of `parallel: {}` applied up to {} left out", settings,
                                   old_partitions_.until().ToString()));
  }
  ASSIGN_OR_RETURN(auto copies, conn_->Query(fmt::format("SELECT tbl, position FROM _sluice.keyless_copies WHERE "
                                                         "pipeline = {} AND target = {}",
                                                         QuoteLiteral(options_.pipeline),
                                                         QuoteLiteral(options_.target))));
  for (const auto& r : copies) {
    StreamPos pos;
    if (!StreamPos::Parse(r[1].value_or(""), &pos)) {
      return Status::Corruption("{}: bad position \"{}\" of {} in _sluice.keyless_copies", Where(),
                                r[1].value_or(""), r[0].value_or(""));
    }
    if (checkpoint_.global < pos) checkpoint_.keyless_copied_at[r[0].value_or("")] = pos;  // else passed
  }
  return Status::Ok();
}

std::string PgSink::CheckpointRowSql(int part, const BatchEnd& end) const {
  // Partition rows carry the partitioning they belong to (ReadCheckpoint);
  // only the global row's resume position and GTID state are ever read.
  return fmt::format(
      "INSERT INTO _sluice.checkpoints (pipeline, target, part, position, resume_position, gtid_state, epoch) "
      "VALUES ({}, {}, {}, {}, {}, {}, {}) ON CONFLICT (pipeline, target, part) DO UPDATE SET "
      "position = EXCLUDED.position, resume_position = EXCLUDED.resume_position, gtid_state = EXCLUDED.gtid_state, "
      "epoch = EXCLUDED.epoch, updated_at = now()",
      QuoteLiteral(options_.pipeline), QuoteLiteral(options_.target), part, QuoteLiteral(end.pos.ToString()),
      QuoteLiteral(part == kGlobalPart ? end.resume_position : PartitionScheme()),
      QuoteLiteral(part == kGlobalPart ? end.gtid_state : std::string()), options_.epoch);
}

// One implicit transaction with the fence check (several statements in one
// simple query are one transaction).
Status PgSink::WriteCheckpointRow(const BatchEnd& end) {
  return FencedOr(*conn_, FenceOptions(), Run(Fenced(CheckpointRowSql(kGlobalPart, end))));
}

void PgSink::NoteCheckpoint(const BatchEnd& end, bool confirmed) {
  if (confirmed) committed_rows_.Note(kGlobalPart, end.pos);
  checkpoint_.global = end.pos;
  checkpoint_.resume_position = end.resume_position;
  checkpoint_.gtid_state = end.gtid_state;
  for (auto& p : checkpoint_.partitions) {
    if (p < end.pos) p = end.pos;
  }
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
  RETURN_IF_ERROR(FencedOr(*conn_, FenceOptions(),
                           Run(Fenced(fmt::format("DELETE FROM _sluice.checkpoints WHERE pipeline = {0} AND "
                                                  "target = {1}; DELETE FROM _sluice.keyless_copies WHERE "
                                                  "pipeline = {0} AND target = {1}",
                                                  QuoteLiteral(options_.pipeline), QuoteLiteral(options_.target))))));
  committed_rows_.Clear();  // deleted on purpose
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
    if (ch.table.get() == last || ch.kind == SinkChange::Kind::kCascade) continue;
    last = ch.table.get();
    last_version_[TableKey(ch.table->db, ch.table->table)] = ch.table;
    if (ready_.count(last)) continue;
    RETURN_IF_ERROR(PrepareTable(ch.table));
    if ((options_.parallel > 1 || !old_partitions_.empty()) && ch.table->has_key()) {
      // A unique key besides the primary key: a value moving from one row to
      // another must be applied in the source's order, so the table's
      // changes stay on one partition.
      ASSIGN_OR_RETURN(auto unique, conn_->Query(fmt::format(
                                        "SELECT count(*) FROM pg_index WHERE indrelid = to_regclass({}) AND indisunique",
                                        QuoteLiteral(QualifiedName(ch.table->db, ch.table->table)))));
      if (!unique.empty() && std::atoi(unique[0][0].value_or("0").c_str()) > 1) serial_.insert(last);
    }
    RETURN_IF_ERROR(computed_.Note(*conn_, ch.table));
    if (TargetTablePtr narrowed = computed_.NarrowedOf(last)) {
      ready_.emplace(narrowed.get(), narrowed);
      if (serial_.count(last)) serial_.insert(narrowed.get());
    }
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
      // A PostgreSQL source's column added with a constant default: the
      // rows the target already holds read it, as the source's do.
      const ColumnMeta& source = t.column_meta(i);
      if (source.pg_has_missing) sql += " DEFAULT " + QuoteLiteral(source.pg_missing_value);
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
  // A key dropped on the source (an index dropped marks the table `retype`).
  Status keyed = t.has_key() ? EnsureKeyIndex(t) : retype ? DropKeyTheSourceLost(t) : Status::Ok();
  if (!keyed.ok()) return where(keyed);
  if (retype) {
    // Done; a failure to forget it only re-derives the types once more.
    if (Status st = Run(DropPendingRetypeSql(key)); !st.ok()) {
      spdlog::warn("{}: {}", Where(), st.message());
    }
    retype_.erase(key);
  }
  return Status::Ok();
}

Status PgSink::EnsureKeyIndex(const TargetTable& t) {
  if (!t.has_key()) return Status::Ok();
  const std::string name = QualifiedName(t.db, t.table);
  const std::vector<std::string> key = KeyNames(t);
  std::vector<std::string> sorted = key;
  std::sort(sorted.begin(), sorted.end());
  std::string wanted;
  for (const std::string& c : sorted) wanted += (wanted.empty() ? "" : ", ") + QuoteLiteral(c);
  ASSIGN_OR_RETURN(
      auto rows,
      conn_->Query(fmt::format(
          "SELECT (SELECT count(*) FROM pg_index i WHERE i.indrelid = to_regclass({0}) AND i.indisunique AND "
          "i.indpred IS NULL AND i.indexprs IS NULL AND ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE "
          "a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) ORDER BY 1) = ARRAY[{1}]::text[]), (SELECT count(*) "
          "FROM pg_constraint WHERE conrelid = to_regclass({0}) AND contype = 'p')",
          QuoteLiteral(name), wanted)));
  if (rows.empty() || rows[0][0].value_or("0") != "0") return Status::Ok();
  std::string columns;
  for (const std::string& c : key) columns += (columns.empty() ? "" : ", ") + QuoteIdent(c);
  const bool has_primary = rows[0][1].value_or("0") != "0";
  std::string sql = has_primary ? fmt::format("CREATE UNIQUE INDEX ON {} ({})", name, columns)
                                : fmt::format("ALTER TABLE {} ADD PRIMARY KEY ({})", name, columns);
  RETURN_IF_ERROR(Run(sql));
  spdlog::info("{}: {} (the source table's key: changes find rows by it)", Where(), sql);
  return Status::Ok();
}

Status PgSink::DropKeyTheSourceLost(const TargetTable& t) {
  const std::string name = QualifiedName(t.db, t.table);
  // The primary key's name and columns, a row per column.
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format(
                                  "SELECT c.conname, a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid "
                                  "= c.conrelid AND a.attnum = ANY(c.conkey) WHERE c.conrelid = to_regclass({}) AND "
                                  "c.contype = 'p'",
                                  QuoteLiteral(name))));
  if (rows.empty()) return Status::Ok();
  for (const auto& r : rows) {
    // A column of the target's own (sluice does not write it): the user's key, kept.
    if (std::find(t.columns.begin(), t.columns.end(), r[1].value_or("")) == t.columns.end()) return Status::Ok();
  }
  const std::string sql =
      fmt::format("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}", name, QuoteIdent(rows[0][0].value_or("")));
  RETURN_IF_ERROR(Run(sql));
  spdlog::info("{}: {} (the source table has no key now: rows repeating those values would be refused)", Where(), sql);
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
  if (!old_partitions_.empty() && (old_partitions_.until().empty() || old_partitions_.until() < todo.front().pos)) {
    RETURN_IF_ERROR(EndOldSchemes());
  }
  RETURN_IF_ERROR(PrepareTables(todo));
  computed_.LeaveOut(todo);
  // Changes an earlier setting's partitions may hold: in source order with the global row, those left out.
  if (HasCascade(todo) || !old_partitions_.until().empty() || in_source_order_) return ApplyInOrder(todo, end);
  if (options_.parallel > 1) return ApplyParallel(todo, end);
  Outcome out;
  Status st = ApplyInTransaction(sessions_[0], todo, end, {kGlobalPart}, nullptr, &out);
  if (!out.rejected.empty()) return StopBefore(todo, out.rejected, st);
  if (!st.ok()) return st;
  rows_applied_ += out.applied;
  NoteCheckpoint(end);
  return Status::Ok();
}

uint32_t PgSink::PartitionOf(const SinkChange& ch) const {
  return PartitionOf(ch, static_cast<uint32_t>(sessions_.size()));
}

uint32_t PgSink::PartitionOf(const SinkChange& ch, uint32_t n) const {
  if (n <= 1) return 0;
  if (!ch.table->has_key() || serial_.count(ch.table.get())) return static_cast<uint32_t>(TableNameHash(*ch.table) % n);
  return static_cast<uint32_t>(KeyHash(ch) % n);
}

bool PgSink::AppliedUnderOldScheme(const SinkChange& ch) const {
  return old_partitions_.Applied(ch, [this](const SinkChange& c, uint32_t n) { return PartitionOf(c, n); });
}

Status PgSink::EndOldSchemes() {
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(FencedOr(*conn_, FenceOptions(),
                           Run(Fenced(fmt::format("DELETE FROM _sluice.checkpoints WHERE pipeline = {} AND target = {} "
                                                  "AND part >= 0 AND resume_position <> {}",
                                                  QuoteLiteral(options_.pipeline), QuoteLiteral(options_.target),
                                                  QuoteLiteral(PartitionScheme()))))));
  old_partitions_.Clear();
  return Status::Ok();
}

Status PgSink::ApplyParallel(const std::vector<SinkChange>& todo, const BatchEnd& end) {
  const auto n = static_cast<uint32_t>(sessions_.size());
  std::vector<std::vector<SinkChange>> parts(n);
  for (const SinkChange& ch : todo) {
    const uint32_t p = PartitionOf(ch);
    // Redone after a crash or a retry: skip what this partition already committed.
    if (!checkpoint_.partitions[p].empty() && ch.pos <= checkpoint_.partitions[p]) continue;
    parts[p].push_back(ch);
  }
  std::vector<Outcome> outcomes(n);
  std::vector<Status> results(n);
  std::vector<uint32_t> busy;
  for (uint32_t p = 0; p < n; ++p) {
    if (!parts[p].empty()) busy.push_back(p);
  }
  CommitVote vote(busy.size());
  if (!workers_ || workers_->size() != n) workers_ = std::make_unique<WorkerGroup>(n, "sl-pg-apply");
  workers_->RunEach(busy, [&](uint32_t p) {
    results[p] = ApplyInTransaction(sessions_[p], parts[p], end, {static_cast<int>(p)}, &vote, &outcomes[p]);
  });
  for (uint32_t p = 0; p < n; ++p) {
    // A partition that committed keeps its progress even if another failed
    // (its COMMIT went through, another's was cut): the retry skips it.
    if (!outcomes[p].committed) continue;
    committed_rows_.Note(static_cast<int>(p), end.pos);
    checkpoint_.partitions[p] = end.pos;
    rows_applied_ += outcomes[p].applied;
  }
  // A foreign key refused a row because the partitions write out of source
  // order (its parent in another partition, or later in this one): the
  // batch again, in source order on one connection (what a partition
  // committed is skipped there), and so every batch from now on.
  for (uint32_t p = 0; p < n; ++p) {
    if (!outcomes[p].foreign_key) continue;
    spdlog::warn("{}: a foreign key on the target refused a row written out of source order ({}); batches are "
                 "applied in source order on one connection from now on (slower). To let the partitions write in "
                 "parallel, let user {} switch the target's foreign keys off for sluice's sessions: {}",
                 Where(), results[p].message(), options_.connect.user, ReplicaRoleGrant(options_.connect.user));
    in_source_order_ = true;
    return ApplyInOrder(todo, end);
  }
  // A transient error is retried as a whole; a rejection stops before the
  // earliest rejected source transaction.
  const Status* rejection = nullptr;
  const StreamPos* earliest = nullptr;
  for (uint32_t p = 0; p < n; ++p) {
    const Status& st = results[p];
    if (st.ok()) continue;
    if (st.retryable() || outcomes[p].rejected.empty()) return st;
    if (earliest == nullptr || outcomes[p].rejected < *earliest) {
      earliest = &outcomes[p].rejected;
      rejection = &st;
    }
  }
  if (rejection) return StopBefore(todo, *earliest, *rejection);
  // Every partition of the batch committed: the global row says so. Its
  // answer is read with the next statement on the control connection, so
  // the next batch does not wait for it: the partition rows already record
  // this batch, and a crash or a lost connection before the row lands
  // loses nothing (ReadCheckpoint takes the partition rows ahead of it).
  RETURN_IF_ERROR(conn_->Send(Fenced(CheckpointRowSql(kGlobalPart, end))));
  NoteCheckpoint(end, /*confirmed=*/false);
  return Status::Ok();
}

Status PgSink::ApplyInTransaction(Session& s, const std::vector<SinkChange>& todo, const BatchEnd& end,
                                  const std::vector<int>& parts, CommitVote* vote, Outcome* out) {
  PgConnection& c = *s.conn;
  auto run = [&](const std::string& sql) { return c.Execute(sql); };
  uint64_t skipped = 0;
  // One round trip: BEGIN, the checkpoint rows, the rows (and COMMIT when
  // no other partition has to agree first). The checkpoint rows come first:
  // a snapshot chunk holds their table in SHARE mode from before it reads
  // the source until it commits (PgChunkTarget::BeginChunk), so the rows
  // of this transaction are changed either before the chunk's read or
  // after its commit. Written last, they would only order the COMMITs: a
  // DELETE of a row the chunk has not inserted yet matches nothing, and the
  // chunk's older row would stay.
  Script script;
  script.Add("BEGIN");
  script.Add(CheckFenceSql(FenceOptions()));
  for (int part : parts) script.Add(CheckpointRowSql(part, end));
  Status st = ApplyMerged(s, script, MergeByKey(todo), /*copy=*/true);
  if (st.ok()) {
    if (vote == nullptr) script.Add("COMMIT");
    st = FencedOr(c, FenceOptions(), c.Execute(script.sql, &script.copies));
  }
  if (!st.ok() && !st.retryable() && st.code() != StatusCode::kFenced) {
    // A row the target rejects (or cannot hold): find it in source order,
    // one change at a time under a savepoint, and skip or stop there.
    (void)run("ROLLBACK");
    st = FencedOr(c, FenceOptions(), run(BeginFenced()));
    for (int part : parts) {
      if (st.ok()) st = run(CheckpointRowSql(part, end));
    }
    size_t rejected = todo.size();
    if (st.ok()) st = ApplyOrdered(c, todo, &skipped, &rejected, vote != nullptr ? &out->foreign_key : nullptr);
    if (rejected < todo.size()) out->rejected = todo[rejected].pos;
    if (st.ok() && vote == nullptr) st = run("COMMIT");
  }
  bool commit = true;
  if (vote) {
    commit = vote->Cast(st.ok());
    if (st.ok() && commit) SLUICE_SYNC_POINT("pg.partition.before_commit");
    if (st.ok() && commit) {
      st = run("COMMIT");
      // A deferred foreign key checks at the commit.
      if (!st.ok() && !replica_role_ && c.last_sqlstate() == kForeignKeyViolation) out->foreign_key = true;
    }
  }
  if (!st.ok() || !commit) {
    if (c.ok()) (void)run("ROLLBACK");
    return st;
  }
  if (vote) SLUICE_SYNC_POINT("pg.partition.committed");
  out->committed = true;
  out->applied = todo.size() - skipped;
  rows_skipped_ += skipped;
  return Status::Ok();
}

Status PgSink::ApplyInOrder(const std::vector<SinkChange>& changes, const BatchEnd& end) {
  std::vector<SinkChange> todo;
  for (const SinkChange& ch : changes) {
    // A cascade is only ever applied here, with the global row.
    if (ch.kind != SinkChange::Kind::kCascade && options_.parallel > 1) {
      const StreamPos& done = checkpoint_.partitions[PartitionOf(ch)];
      if (!done.empty() && ch.pos <= done) continue;  // that partition committed it before a retry
    }
    if (AppliedUnderOldScheme(ch)) continue;
    todo.push_back(ch);
  }
  Session& s = sessions_[0];
  PgConnection& c = *s.conn;
  auto begin = [&] {
    return FencedOr(c, FenceOptions(), c.Execute(BeginFenced() + ";\n" + CheckpointRowSql(kGlobalPart, end)));
  };
  uint64_t skipped = 0;
  Status st = begin();
  if (st.ok()) st = ApplySegmented(s, todo);
  if (!st.ok() && !st.retryable() && st.code() != StatusCode::kFenced) {
    // A row the target rejects: found one change at a time (and skipped with on_error: skip).
    if (c.ok()) (void)c.Execute("ROLLBACK");
    st = begin();
    size_t rejected = todo.size();
    if (st.ok()) st = ApplyOrdered(c, todo, &skipped, &rejected);
    if (rejected < todo.size()) {
      if (c.ok()) (void)c.Execute("ROLLBACK");
      return StopBefore(todo, todo[rejected].pos, st);
    }
  }
  if (st.ok()) SLUICE_SYNC_POINT("pg.in_order.before_commit");
  if (st.ok()) st = c.Execute("COMMIT");
  if (!st.ok()) {
    if (c.ok()) (void)c.Execute("ROLLBACK");
    return st;
  }
  rows_applied_ += todo.size() - skipped;
  rows_skipped_ += skipped;
  NoteCheckpoint(end);
  return Status::Ok();
}

Status PgSink::ApplySegmented(Session& s, const std::vector<SinkChange>& changes) {
  auto run = [&](std::vector<SinkChange> changes_between) -> Status {
    // Without COPY: a staging table keeps its rows until the commit, and
    // the next run would take them again.
    Script script;
    RETURN_IF_ERROR(ApplyMerged(s, script, MergeByKey(std::move(changes_between)), /*copy=*/false));
    return script.sql.empty() ? Status::Ok() : s.conn->Execute(script.sql, &script.copies);
  };
  return ForEachRunAndCascade(changes, run, [&](const SinkChange& cascade) { return ApplyCascade(*s.conn, cascade); });
}

Status PgSink::ApplyCascade(PgConnection& c, const SinkChange& ch) {
  auto exists = [&](const std::string& sql) -> Result<bool> {
    ASSIGN_OR_RETURN(auto rows, c.Query(sql));
    return !rows.empty();
  };
  RETURN_IF_ERROR(c.Execute("SAVEPOINT sluice_cascade"));
  SqlCascadeTarget target(kPgDialect, exists, [&](const std::string& sql) { return c.Execute(sql); });
  Status st = RedoCascade(target, ch);
  // A child table the target does not have (yet: tables are made at their
  // first row) holds no rows to change.
  if (!st.ok() && !st.retryable() && c.last_sqlstate() == "42P01") {
    spdlog::debug("{}: {} @ {}: no table {} on the target, nothing to redo", Where(), ch.table->cascade->fk,
                  ch.pos.ToString(), QualifiedName(ch.table->db, ch.table->table));
    return c.Execute("ROLLBACK TO SAVEPOINT sluice_cascade");
  }
  if (st.ok()) st = c.Execute("RELEASE SAVEPOINT sluice_cascade");
  return st;
}

Status PgSink::StopBefore(const std::vector<SinkChange>& changes, const StreamPos& bad, const Status& rejection) {
  // on_error: stop AT the rejected change's source transaction: everything
  // before it is committed (in every partition), nothing after; a restart
  // resumes there once the cause is fixed.
  const StreamPos cut{bad.file, bad.txn_offset, 0};
  std::vector<SinkChange> prefix;
  for (const SinkChange& ch : changes) {
    if (ch.pos < cut) prefix.push_back(ch);
  }
  const BatchEnd at_cut{cut, cut.ResumePoint(), ""};
  RETURN_IF_ERROR(prefix.empty() ? AdvanceCheckpoint(at_cut) : ApplyBatch(prefix, at_cut));
  spdlog::error("{}: stopped at the transaction @ {} (everything before it is applied)", Where(), cut.ToString());
  return rejection;
}

Result<std::string> PgSink::Stage(Session& s, const TargetTablePtr& tp) {
  auto it = s.stages.find(tp.get());
  if (it != s.stages.end()) return it->second.second;
  const TargetTable& t = *tp;
  // Made once per session and table version, outside the batch's
  // transaction; ON COMMIT DELETE ROWS empties it at every commit.
  std::string stage = fmt::format("sluice_stage_{}", ++stage_counter_);
  RETURN_IF_ERROR(s.conn->Execute(fmt::format("CREATE TEMP TABLE {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA",
                                              stage, ColumnList(t), QualifiedName(t.db, t.table))));
  s.stages.emplace(tp.get(), std::make_pair(tp, stage));
  return stage;
}

Status PgSink::ApplyMerged(Session& s, Script& script, const std::vector<SinkChange>& changes, bool copy) {
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
      script.Add(sql);
    }
    return Status::Ok();
  };
  for (const TargetTable* t : order) {
    auto it = deletes.find(t);
    if (it != deletes.end()) RETURN_IF_ERROR(in_slices(*t, it->second, BuildDelete));
  }
  std::vector<std::string> pending_partial;
  for (const TargetTable* t : order) {
    auto it = upserts.find(t);
    if (it == upserts.end()) continue;
    // Partial upserts (unchanged TOASTed values) update what they have, after
    // the full images (an earlier full image of the same key comes first).
    std::vector<const SinkChange*> partial;
    std::erase_if(it->second, [&](const SinkChange* c) { return IsPartial(*c) && (partial.push_back(c), true); });
    for (const SinkChange* c : partial) {
      std::string sql;
      RETURN_IF_ERROR(BuildPartialUpdate(sql, *t, *c));
      pending_partial.push_back(std::move(sql));
    }
    if (it->second.empty()) continue;
    if (!copy || it->second.size() < options_.copy_threshold) {
      RETURN_IF_ERROR(in_slices(*t, it->second, BuildUpsert));
      continue;
    }
    // COPY into the session's staging table, then one upsert from it.
    ASSIGN_OR_RETURN(std::string stage, Stage(s, it->second.front()->table));
    std::string data;
    RETURN_IF_ERROR(AppendCopyRows(data, *t, it->second));
    const std::string cols = ColumnList(*t);
    script.Add(fmt::format("COPY {} ({}) FROM STDIN", stage, cols));
    script.copies.push_back(std::move(data));
    script.Add(fmt::format("INSERT INTO {} ({}){} SELECT {} FROM {}{}", QualifiedName(t->db, t->table), cols,
                           kOverridingIdentity, cols, stage, OnConflictClause(*t)));
  }
  for (const std::string& sql : pending_partial) script.Add(sql);
  // Keyless tables in source order; a run of inserts into one table is one
  // statement. A one-row delete must find its row: it runs on its own (the
  // statements before it are sent first).
  for (size_t i = 0; i < keyless.size();) {
    const SinkChange* ch = keyless[i];
    if (ch->kind != SinkChange::Kind::kInsert) {
      if (!script.sql.empty()) {
        RETURN_IF_ERROR(s.conn->Execute(script.sql, &script.copies));
        script = Script();
      }
      RETURN_IF_ERROR(ApplyOne(*s.conn, *ch));
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

Status PgSink::ApplyOne(PgConnection& c, const SinkChange& ch) {
  if (ch.kind == SinkChange::Kind::kCascade) return ApplyCascade(c, ch);
  std::string sql;
  std::vector<const SinkChange*> one{&ch};
  switch (ch.kind) {
    case SinkChange::Kind::kUpsert: RETURN_IF_ERROR(BuildUpsert(sql, *ch.table, one)); break;
    case SinkChange::Kind::kDelete: RETURN_IF_ERROR(BuildDelete(sql, *ch.table, one)); break;
    case SinkChange::Kind::kInsert: RETURN_IF_ERROR(BuildInsert(sql, *ch.table, one)); break;
    case SinkChange::Kind::kCascade: break;  // above
    case SinkChange::Kind::kDeleteExact: {
      RETURN_IF_ERROR(BuildDeleteExact(sql, *ch.table, ch));
      ASSIGN_OR_RETURN(auto deleted, c.Query(sql));
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
  return c.Execute(sql);
}

Status PgSink::ApplyOrdered(PgConnection& c, const std::vector<SinkChange>& changes, uint64_t* skipped,
                            size_t* rejected, bool* foreign_key) {
  for (size_t i = 0; i < changes.size(); ++i) {
    const SinkChange& ch = changes[i];
    RETURN_IF_ERROR(c.Execute("SAVEPOINT sluice_change"));
    Status st = ApplyOne(c, ch);
    if (st.ok()) {
      RETURN_IF_ERROR(c.Execute("RELEASE SAVEPOINT sluice_change"));
      continue;
    }
    if (st.retryable()) return st;
    const std::string state = c.last_sqlstate();
    const bool by_foreign_key = state == kForeignKeyViolation && !replica_role_;
    RETURN_IF_ERROR(c.Execute("ROLLBACK TO SAVEPOINT sluice_change"));
    if (by_foreign_key && foreign_key != nullptr) {
      // Its parent may be another partition's: not the row's fault (the
      // caller applies the batch again in source order).
      *foreign_key = true;
      return st;
    }
    if (state == "42P01" || state == "3F000" || state == "42703") {  // undefined table, schema, column
      *rejected = i;
      return Status::Error(StatusCode::kSchemaMismatch, "{}: table {} (from {}) key {} @ {}: {}: {}", Where(),
                           QualifiedName(ch.table->db, ch.table->table), ch.table->source, DescribeKey(ch),
                           ch.pos.ToString(), st.message(), GoneFromTargetAdvice(options_.pipeline, state == "42703"));
    }
    if (by_foreign_key) {
      st = Status::Error(st.code(), "{} (foreign keys on the target check rows sluice writes; to switch them off "
                                    "for its sessions, as PostgreSQL's own replication does: {})",
                         st.message(), ReplicaRoleGrant(options_.connect.user));
    }
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
  std::lock_guard lock(skip_mu_);
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
  // Columns a MySQL source added: added now (not left to the table's next
  // rows), with the value the rows already there hold on the source.
  if (!existing.empty()) {
    for (const DdlChange::AddedColumn& c : ddl.added_columns) {
      if (target_has(c.name)) continue;
      auto type = PgType(c.meta);
      if (!type.ok()) {
        return type.status().WithContext(fmt::format("{}: table {} @ {}: column {}", Where(),
                                                     QualifiedName(ddl.target_db, ddl.target_table),
                                                     end.pos.ToString(), c.name));
      }
      std::string sql = "ALTER TABLE " + QualifiedName(ddl.target_db, ddl.target_table) + " ADD COLUMN IF NOT EXISTS " +
                        QuoteIdent(c.name) + " " + *type;
      if (c.existing_value) sql += " DEFAULT " + QuoteLiteral(*c.existing_value);
      plan->statements.push_back(std::move(sql));
    }
  }
  // The statements and the checkpoint in one transaction (PostgreSQL's DDL
  // is transactional): a replay after a crash never runs them twice.
  Status st = FencedOr(*conn_, FenceOptions(), Run(BeginFenced()));
  for (const std::string& s : plan->statements) {
    if (!st.ok()) break;
    st = Run(s);
    if (st.ok()) spdlog::info("{}: DDL @ {}: {}", Where(), end.pos.ToString(), s);
  }
  // The intent to re-derive the types from the next rows lasts across a restart.
  if (st.ok() && plan->retype) st = Run(AddPendingRetypeSql(key));
  if (st.ok()) st = Run(CheckpointRowSql(kGlobalPart, end));
  if (st.ok()) st = Run("COMMIT");
  if (!st.ok()) {
    if (conn_ && conn_->ok()) (void)Run("ROLLBACK");
    if (st.retryable() || st.code() == StatusCode::kFenced) return st;
    return Status::Error(StatusCode::kServerError, "{}: DDL @ {} failed: {}: {}", Where(), end.pos.ToString(),
                         st.message(), ddl.query.substr(0, 300));
  }
  NoteCheckpoint(end);
  if (plan->retype) retype_.insert(key);
  auto of_table = [&](const TargetTable* t) { return TableKey(t->db, t->table) == key; };
  std::erase_if(ready_, [&](const auto& e) { return of_table(e.first); });
  std::erase_if(serial_, of_table);
  // Staging tables have the columns of the table as it was.
  for (Session& s : sessions_) {
    for (auto it = s.stages.begin(); it != s.stages.end();) {
      if (!of_table(it->first)) {
        ++it;
        continue;
      }
      (void)s.conn->Execute("DROP TABLE IF EXISTS " + it->second.second);
      it = s.stages.erase(it);
    }
  }
  return Status::Ok();
}

}  // namespace sluice::sink::postgres
