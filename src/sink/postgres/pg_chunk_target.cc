#include "sink/postgres/pg_chunk_target.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/resume_position.h"
#include "core/position.h"
#include "core/sync_point.h"
#include "sink/postgres/pg_bookkeeping.h"
#include "sink/postgres/pg_fence.h"
#include "sink/postgres/pg_session.h"
#include "sink/postgres/pg_statements.h"

namespace sluice::sink::postgres {
namespace {

using sluice::postgres::PgConnection;
using sluice::postgres::QuoteIdent;
using sluice::postgres::QuoteLiteral;

// The jobs' bound on one answer when the URL sets none: a hung server is a
// lost connection, and the chunk is retried.
constexpr unsigned kJobTimeoutS = 120;
// How long a chunk waits for a lock a stream transaction holds before it
// gives way (and is retried): shorter than PostgreSQL's deadlock_timeout
// (1 s by default), so the chunk, not the stream's batch, is the one to yield.
constexpr int kLockTimeoutMs = 500;
// How long a chunk waits for `_sluice.checkpoints`: a stream transaction
// holds it from its first statement to its commit (one batch). Bounded all
// the same: partitions that hold it wait for each other before committing,
// unseen by PostgreSQL, and a partition that asks for it after the chunk
// did queues behind the chunk; giving way ends that cycle.
constexpr int kCheckpointLockTimeoutMs = 2000;
constexpr size_t kMaxStatementBytes = 1 << 20;

}  // namespace

Result<std::unique_ptr<PgChunkTarget>> PgChunkTarget::Open(sluice::postgres::ConnectOptions options,
                                                           sluice::Interrupter* interrupt) {
  if (options.query_timeout_s == 0) options.query_timeout_s = kJobTimeoutS;
  options.application_name = "sluice snapshot";
  ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(options, interrupt));
  ASSIGN_OR_RETURN(bool replica_role, PrepareWriteSession(*conn));
  std::unique_ptr<PgChunkTarget> target(new PgChunkTarget(std::move(conn)));
  target->replica_role_ = replica_role;
  target->user_ = options.user;
  return target;
}

Status PgChunkTarget::Run(const std::string& sql) {
  Status st = conn_->Execute(sql);
  // lock_timeout: a stream transaction holds what the chunk needs; retry.
  if (!st.ok() && conn_->last_sqlstate() == "55P03") {
    return Status::Retryable(StatusCode::kAborted, "{}", st.message());
  }
  if (!st.ok() && !replica_role_ && conn_->last_sqlstate() == kForeignKeyViolation) {
    // Tables are copied in parallel chunks, a child's before its parent's.
    return Status::Error(st.code(), "{} (foreign keys on the target check the rows a copy writes, a child table's "
                                    "possibly before its parent's; to switch them off for sluice's sessions, as "
                                    "PostgreSQL's own replication does: {})",
                         st.message(), ReplicaRoleGrant(user_));
  }
  return st;
}

Status PgChunkTarget::Fence(const SinkOptions& fence) {
  fence_ = fence;
  if (fence_.epoch == 0) return Status::Ok();
  RETURN_IF_ERROR(EnsureFenceTables(*conn_));
  return RegisterSession(*conn_, fence_);
}

Status PgChunkTarget::EnsureTables() {
  RETURN_IF_ERROR(EnsureCheckpointTable(*conn_));
  return EnsureSnapshotChunksTable(*conn_);
}

Status PgChunkTarget::EnsureTable(const TargetTable& t, const std::string& /*mysql_create_sql*/) {
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format(
                                  "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                                  "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = {} AND "
                                  "c.relname = {} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped",
                                  QuoteLiteral(t.db), QuoteLiteral(t.table))));
  if (!rows.empty()) {
    for (const std::string& c : t.columns) {
      bool found = std::any_of(rows.begin(), rows.end(), [&](const auto& r) { return r[0].value_or("") == c; });
      if (!found) {
        return Status::Invalid("target table {} has no column {} (mapped from {})", QualifiedName(t.db, t.table),
                               QuoteIdent(c), t.source);
      }
    }
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(std::string create, BuildCreateTable(t));
  std::string sql = "CREATE SCHEMA IF NOT EXISTS " + QuoteIdent(t.db) + "; " + create;
  Status st = Run(sql);
  if (!st.ok() && !st.retryable() && (conn_->last_sqlstate() == "23505" || conn_->last_sqlstate() == "42P06")) {
    st = Run(sql);  // created at the same moment by the stream or another worker
  }
  return st;
}

Result<std::string> PgChunkTarget::EnsureStartPosition(const std::string& pipeline, const std::string& target,
                                                       const std::string& resume_position) {
  ASSIGN_OR_RETURN(StreamPos pos, StreamPosAtResume(resume_position));
  RETURN_IF_ERROR(Run(fmt::format(
      "INSERT INTO _sluice.checkpoints (pipeline, target, part, position, resume_position, gtid_state) "
      "VALUES ({}, {}, {}, {}, {}, '') ON CONFLICT (pipeline, target, part) DO NOTHING",
      QuoteLiteral(pipeline), QuoteLiteral(target), kGlobalPart, QuoteLiteral(pos.ToString()),
      QuoteLiteral(resume_position))));
  return AppliedPosition(pipeline, target);
}

Status PgChunkTarget::RaiseCatchUpHorizon(const std::string& pipeline, const std::string& target,
                                          const std::string& resume_position) {
  ASSIGN_OR_RETURN(StreamPos horizon, StreamPosAtResume(resume_position));
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format("SELECT position FROM _sluice.checkpoints WHERE pipeline = {} "
                                                       "AND target = {} AND part = {}",
                                                       QuoteLiteral(pipeline), QuoteLiteral(target), kHorizonPart)));
  StreamPos existing;
  if (!rows.empty() && rows[0][0] && StreamPos::Parse(*rows[0][0], &existing) && horizon <= existing) {
    return Status::Ok();
  }
  return Run(fmt::format(
      "INSERT INTO _sluice.checkpoints (pipeline, target, part, position, resume_position, gtid_state) "
      "VALUES ({}, {}, {}, {}, {}, '') ON CONFLICT (pipeline, target, part) DO UPDATE SET "
      "position = EXCLUDED.position, resume_position = EXCLUDED.resume_position, updated_at = now()",
      QuoteLiteral(pipeline), QuoteLiteral(target), kHorizonPart, QuoteLiteral(horizon.ToString()),
      QuoteLiteral(resume_position)));
}

Status PgChunkTarget::TakeOverRenamedTarget(const std::string& pipeline, const std::string& target,
                                            const std::vector<std::string>& former) {
  return postgres::TakeOverRenamedTarget(*conn_, pipeline, target, former).status();
}

Result<std::string> PgChunkTarget::AppliedPosition(const std::string& pipeline, const std::string& target) {
  auto rows = conn_->Query(fmt::format(
      "SELECT resume_position FROM _sluice.checkpoints WHERE pipeline = {} AND target = {} AND part = {}",
      QuoteLiteral(pipeline), QuoteLiteral(target), kGlobalPart));
  if (!rows.ok()) {
    // A target no pipeline ever wrote to has no `_sluice` tables: no checkpoint.
    if (conn_->last_sqlstate() == "42P01" || conn_->last_sqlstate() == "3F000") return std::string();
    return rows.status();
  }
  if (rows->empty() || !(*rows)[0][0]) return std::string();
  return *(*rows)[0][0];
}

Status PgChunkTarget::BeginChunk(const std::string& /*pipeline*/, const std::string& /*target*/) {
  RETURN_IF_ERROR(Run("BEGIN ISOLATION LEVEL READ COMMITTED"));
  in_txn_ = true;
  Status st = Run(fmt::format("SET LOCAL lock_timeout = {}", kCheckpointLockTimeoutMs));
  // SHARE: chunks run side by side; a stream transaction writing any
  // checkpoint row (ROW EXCLUSIVE) waits, including a partition's first
  // row, which a row lock could not hold back (PostgreSQL has no gap locks).
  // PgSink writes its checkpoint rows first in every transaction, so once
  // this lock is held no stream transaction is changing rows.
  if (st.ok()) st = Run("LOCK TABLE _sluice.checkpoints IN SHARE MODE");
  if (st.ok()) st = Run(fmt::format("SET LOCAL lock_timeout = {}", kLockTimeoutMs));
  // A chunk of a former owner (cluster mode) must not land after its successor started.
  if (st.ok() && fence_.epoch > 0) st = FencedOr(*conn_, fence_, Run(CheckFenceSql(fence_)));
  if (!st.ok()) Rollback();
  return st;
}

Status PgChunkTarget::Upsert(const TargetTable& t, const std::vector<const SinkChange*>& rows) {
  std::string data;
  RETURN_IF_ERROR(AppendCopyRows(data, t, rows));
  const std::string stage = fmt::format("sluice_chunk_stage_{}", ++stage_counter_);
  const std::string cols = ColumnList(t);
  RETURN_IF_ERROR(Run(fmt::format("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA", stage, cols,
                                  QualifiedName(t.db, t.table))));
  RETURN_IF_ERROR(conn_->CopyIn(fmt::format("COPY {} ({}) FROM STDIN", stage, cols), data));
  RETURN_IF_ERROR(Run(fmt::format("INSERT INTO {} ({}){} SELECT {} FROM {}{}", QualifiedName(t.db, t.table), cols,
                                  kOverridingIdentity, cols, stage, OnConflictClause(t))));
  return Run("DROP TABLE " + stage);
}

Status PgChunkTarget::Insert(const TargetTable& t, const std::vector<const SinkChange*>& rows) {
  std::string data;
  RETURN_IF_ERROR(AppendCopyRows(data, t, rows));
  return conn_->CopyIn(fmt::format("COPY {} ({}) FROM STDIN", QualifiedName(t.db, t.table), ColumnList(t)), data);
}

Status PgChunkTarget::Write(const std::vector<SinkChange>& given) {
  // The chunk has been read from the source under BeginChunk's lock.
  SLUICE_SYNC_POINT("pg.chunk.write");
  const TargetTable* last = nullptr;
  for (const SinkChange& c : given) {
    if (c.table.get() != last) RETURN_IF_ERROR(computed_.Note(*conn_, c.table));
    last = c.table.get();
  }
  std::vector<SinkChange> narrowed;
  if (computed_.any()) {
    narrowed = given;
    computed_.LeaveOut(narrowed);
  }
  const std::vector<SinkChange>& changes = computed_.any() ? narrowed : given;
  // Per table and kind, in the order tables first appear: deletes before
  // upserts (a repair never holds both for one key).
  std::vector<const TargetTable*> order;
  std::map<const TargetTable*, std::vector<const SinkChange*>> upserts, deletes, inserts;
  std::vector<const SinkChange*> exact_deletes;
  for (const SinkChange& c : changes) {
    const TargetTable* t = c.table.get();
    if (std::find(order.begin(), order.end(), t) == order.end()) order.push_back(t);
    switch (c.kind) {
      case SinkChange::Kind::kUpsert: upserts[t].push_back(&c); break;
      case SinkChange::Kind::kDelete: deletes[t].push_back(&c); break;
      case SinkChange::Kind::kInsert: inserts[t].push_back(&c); break;
      case SinkChange::Kind::kDeleteExact: exact_deletes.push_back(&c); break;
      case SinkChange::Kind::kCascade: break;  // never in a chunk: a copy of rows
    }
  }
  for (const SinkChange* c : exact_deletes) {
    std::string sql;
    RETURN_IF_ERROR(BuildDeleteExact(sql, *c->table, *c));
    RETURN_IF_ERROR(Run(sql));
  }
  for (const TargetTable* t : order) {
    const auto& rows = deletes[t];
    for (size_t i = 0; i < rows.size();) {
      std::vector<const SinkChange*> slice;
      size_t bytes = 0;
      while (i < rows.size() && (slice.empty() || bytes < kMaxStatementBytes)) {
        for (const Value& v : rows[i]->values) bytes += v.s.size() * 2 + 12;
        slice.push_back(rows[i++]);
      }
      std::string sql;
      RETURN_IF_ERROR(BuildDelete(sql, *t, slice));
      RETURN_IF_ERROR(Run(sql));
    }
  }
  for (const TargetTable* t : order) {
    if (!upserts[t].empty()) RETURN_IF_ERROR(Upsert(*t, upserts[t]));
    if (!inserts[t].empty()) RETURN_IF_ERROR(Insert(*t, inserts[t]));
  }
  return Status::Ok();
}

Status PgChunkTarget::Truncate(const TargetTable& table) {
  // DELETE, not TRUNCATE: TRUNCATE takes an exclusive lock that would wait
  // for the stream's readers and is not MVCC-safe for concurrent readers.
  return Run("DELETE FROM " + QualifiedName(table.db, table.table));
}

Status PgChunkTarget::RecordKeylessCopy(const ChunkRecord& c, const std::string& read_at) {
  ASSIGN_OR_RETURN(StreamPos pos, StreamPosAtResume(read_at));
  return Run(fmt::format("INSERT INTO _sluice.keyless_copies (pipeline, target, tbl, position, read_at) VALUES "
                         "({}, {}, {}, {}, {}) ON CONFLICT (pipeline, target, tbl) DO UPDATE SET position = "
                         "EXCLUDED.position, read_at = EXCLUDED.read_at, updated_at = now()",
                         QuoteLiteral(c.pipeline), QuoteLiteral(c.target), QuoteLiteral(c.table),
                         QuoteLiteral(pos.ToString()), QuoteLiteral(read_at)));
}

Status PgChunkTarget::MarkChunkDone(const ChunkRecord& c, uint64_t rows) {
  return Run(fmt::format(
      "INSERT INTO _sluice.snapshot_chunks (pipeline, target, tbl, shard, chunk, after_key, upto_key, done, "
      "rows_copied) VALUES ({}, {}, {}, {}, {}, {}, {}, true, {}) ON CONFLICT (pipeline, target, tbl, shard, chunk) "
      "DO UPDATE SET done = true, rows_copied = EXCLUDED.rows_copied",
      QuoteLiteral(c.pipeline), QuoteLiteral(c.target), QuoteLiteral(c.table), QuoteLiteral(ShardKey(c.shard)),
      c.chunk, QuoteLiteral(c.after), QuoteLiteral(c.upto), rows));
}

Status PgChunkTarget::Commit() {
  in_txn_ = false;
  return Run("COMMIT");
}

void PgChunkTarget::Rollback() {
  if (!in_txn_) return;
  in_txn_ = false;
  if (conn_->ok()) (void)conn_->Execute("ROLLBACK");
}

Result<std::vector<ChunkRecord>> PgChunkTarget::LoadPlan(const std::string& pipeline, const std::string& target,
                                                         const std::string& table, const std::string& shard) {
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format(
                                  "SELECT chunk, after_key, upto_key, done, rows_copied FROM _sluice.snapshot_chunks "
                                  "WHERE pipeline = {} AND target = {} AND tbl = {} AND shard = {} ORDER BY chunk",
                                  QuoteLiteral(pipeline), QuoteLiteral(target), QuoteLiteral(table),
                                  QuoteLiteral(ShardKey(shard)))));
  std::vector<ChunkRecord> plan;
  for (const auto& r : rows) {
    ChunkRecord c;
    c.pipeline = pipeline;
    c.target = target;
    c.table = table;
    c.shard = shard;
    c.chunk = static_cast<uint32_t>(std::stoul(r[0].value_or("0")));
    c.after = r[1].value_or("");
    c.upto = r[2].value_or("");
    c.done = r[3].value_or("f") == "t";
    c.rows = std::stoull(r[4].value_or("0"));
    plan.push_back(std::move(c));
  }
  return plan;
}

Result<bool> PgChunkTarget::HasUnfinishedPlan(const std::string& pipeline, const std::string& target,
                                              const std::vector<std::string>& shards) {
  if (shards.empty()) return false;
  std::string list;
  for (const std::string& shard : shards) list += (list.empty() ? "" : ", ") + QuoteLiteral(ShardKey(shard));
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format("SELECT 1 FROM _sluice.snapshot_chunks WHERE pipeline = {} AND "
                                                       "target = {} AND shard IN ({}) AND NOT done LIMIT 1",
                                                       QuoteLiteral(pipeline), QuoteLiteral(target), list)));
  return !rows.empty();
}

Status PgChunkTarget::SavePlan(const std::vector<ChunkRecord>& plan) {
  if (plan.empty()) return Status::Ok();
  const ChunkRecord& first = plan.front();
  RETURN_IF_ERROR(Run("BEGIN"));
  in_txn_ = true;
  Status st = DropPlan(first.pipeline, first.target, first.table, first.shard);
  for (size_t begin = 0; st.ok() && begin < plan.size(); begin += 500) {
    std::string sql =
        "INSERT INTO _sluice.snapshot_chunks (pipeline, target, tbl, shard, chunk, after_key, upto_key) VALUES ";
    for (size_t i = begin; i < std::min(plan.size(), begin + 500); ++i) {
      const ChunkRecord& c = plan[i];
      if (i > begin) sql += ", ";
      sql += fmt::format("({}, {}, {}, {}, {}, {}, {})", QuoteLiteral(c.pipeline), QuoteLiteral(c.target),
                         QuoteLiteral(c.table), QuoteLiteral(ShardKey(c.shard)), c.chunk, QuoteLiteral(c.after),
                         QuoteLiteral(c.upto));
    }
    st = Run(sql);
  }
  if (!st.ok()) {
    Rollback();
    return st;
  }
  return Commit();
}

Status PgChunkTarget::DropPlan(const std::string& pipeline, const std::string& target, const std::string& table,
                               const std::string& shard) {
  return Run(fmt::format(
      "DELETE FROM _sluice.snapshot_chunks WHERE pipeline = {} AND target = {} AND tbl = {} AND shard = {}",
      QuoteLiteral(pipeline), QuoteLiteral(target), QuoteLiteral(table), QuoteLiteral(ShardKey(shard))));
}

}  // namespace sluice::sink::postgres
