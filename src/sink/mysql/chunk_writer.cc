#include "sink/mysql/chunk_writer.h"

#include <fmt/format.h>
#include <mysqld_error.h>

#include <algorithm>
#include <functional>
#include <map>

#include "core/resume_position.h"
#include "core/change_event.h"
#include "core/position.h"
#include "core/sync_point.h"
#include "sink/mysql/renamed_target.h"
#include "sink/mysql/big_rows.h"
#include "sink/mysql/bulk_load.h"
#include "sink/mysql/deferred_indexes.h"
#include "sink/mysql/fence.h"
#include "sink/mysql/mysql_loader.h"
#include "sink/mysql/sluice_schema_grants.h"
#include "sink/mysql/sql_builder.h"

namespace sluice::sink::mysql {

using sluice::mysql::MysqlConnection;

namespace {

constexpr int kGlobalPart = -1;   // the loader's global checkpoint row
constexpr int kHorizonPart = -2;  // the snapshot's catch-up horizon (read by the loader)
constexpr size_t kMaxStatementBytes = 1 << 20;
// Lock waits of a chunk transaction, in seconds (see BeginChunk): for the
// pipeline's checkpoint rows (held by a stream's transaction for as long as
// it runs: one batch), and for rows another session holds. Both end well
// before the jobs' read timeout (kJobIoTimeoutS), and a chunk that gives up
// is retried: a guard against waits nobody foresaw, not the way chunks and
// the stream take turns (they take the checkpoint rows in one order, so
// neither waits for the other in a cycle).
constexpr int kCheckpointLockWaitS = 5;
constexpr int kRowLockWaitS = 3;

}  // namespace

Result<std::unique_ptr<ChunkWriter>> ChunkWriter::Open(const sluice::mysql::ConnectOptions& options,
                                                       sluice::mysql::Interrupter* interrupt) {
  sluice::mysql::ConnectOptions o = options;
  o.local_infile = true;
  ASSIGN_OR_RETURN(auto c, MysqlConnection::Connect(o, interrupt));
  // The loader's session: UTC literals, strict values, ids of 0 kept.
  RETURN_IF_ERROR(
      c->Execute("SET NAMES utf8mb4, time_zone = '+00:00', "
                 "sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', foreign_key_checks = 0, "
                 "autocommit = 1"));
  RETURN_IF_ERROR(c->Execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"));
  RETURN_IF_ERROR(sluice::mysql::LogSessionAsRows(*c));
  ASSIGN_OR_RETURN(auto packet, c->Query("SELECT @@max_allowed_packet"));
  size_t max_packet = 16u << 20;
  if (!packet.empty() && !packet[0].empty() && packet[0][0]) {
    size_t bytes = std::strtoull(packet[0][0]->c_str(), nullptr, 10);
    if (bytes >= 1024) max_packet = bytes;  // the server's minimum
  }
  return std::unique_ptr<ChunkWriter>(new ChunkWriter(std::move(c), max_packet));
}

Status ChunkWriter::Run(const std::string& sql) {
  if (mysql_real_query(conn_->raw(), sql.data(), sql.size()) != 0) {
    unsigned err = mysql_errno(conn_->raw());
    std::string msg = mysql_error(conn_->raw());
    std::string where = conn_->options().Describe();
    if (IsRetryableApplyError(err)) {
      return Status::Retryable(StatusCode::kIoError, "target {}: {} (error {})", where, msg, err);
    }
    return Status::Error(StatusCode::kServerError, "target {}: {} (error {})", where, msg, err);
  }
  MYSQL_RES* res = mysql_store_result(conn_->raw());
  if (res) mysql_free_result(res);
  return Status::Ok();
}

Status ChunkWriter::Execute(const std::string& sql) { return Run(sql); }

Status ChunkWriter::Fence(const SinkOptions& fence) {
  fence_ = fence;
  if (fence_.epoch == 0) return Status::Ok();
  RETURN_IF_ERROR(EnsureFenceTables(*conn_));
  return RegisterSession(*conn_, fence_);
}

Status ChunkWriter::Fenced(const std::function<Status()>& write) {
  if (fence_.epoch == 0) return write();
  RETURN_IF_ERROR(Run("START TRANSACTION"));
  Status st = CheckFence(*conn_, fence_);
  if (st.ok()) st = write();
  if (st.ok()) st = Run("COMMIT");
  if (!st.ok()) (void)Run("ROLLBACK");
  return st;
}

Status ChunkWriter::EnsureTable(const TargetTable& t, const std::string& mysql_create_sql) {
  ASSIGN_OR_RETURN(auto existing, TableColumns(t.db, t.table));
  if (!existing.empty()) {
    for (const std::string& c : t.columns) {
      if (std::find(existing.begin(), existing.end(), c) == existing.end()) {
        return Status::Invalid("target table `{}`.`{}` has no column `{}` (mapped from {})", t.db, t.table, c,
                               t.source);
      }
    }
    return Status::Ok();
  }
  std::string create = mysql_create_sql;
  if (create.empty()) {
    // A PostgreSQL source: no MySQL definition to copy, the types are mapped.
    ASSIGN_OR_RETURN(create, BuildCreateTable(t));
  }
  std::string db;
  AppendIdentifier(db, t.db);
  RETURN_IF_ERROR(Run("CREATE DATABASE IF NOT EXISTS " + db));
  IndexSplit split = SplitPlainIndexes(create);
  if (!split.add_indexes.empty()) {
    std::string table = db + ".";
    AppendIdentifier(table, t.table);
    RETURN_IF_ERROR(Run(fmt::format("REPLACE INTO `_sluice`.`deferred_indexes` (db, tbl, ddl) VALUES ({}, {}, {})",
                                    Quote(t.db), Quote(t.table), Quote("ALTER TABLE " + table + " " + split.add_indexes))));
  }
  return Run(split.create);
}

Status ChunkWriter::BuildDeferredIndexes(const TargetTable& t) {
  return sink::mysql::BuildDeferredIndexes(*conn_, t.db, t.table);
}

Status ChunkWriter::EnsureTables() {
  Status st = EnsureSluiceTables();
  return st.ok() ? st : WithSluiceSchemaGrant(*conn_, std::move(st));
}

Status ChunkWriter::EnsureSluiceTables() {
  RETURN_IF_ERROR(Run("CREATE DATABASE IF NOT EXISTS `_sluice`"));
  // Same definition as the loader's (MysqlLoader::EnsureCheckpointTable).
  RETURN_IF_ERROR(
      Run("CREATE TABLE IF NOT EXISTS `_sluice`.`checkpoints` ("
          "  pipeline VARCHAR(128) NOT NULL, target VARCHAR(128) NOT NULL, part INT NOT NULL,"
          "  position VARCHAR(600) NOT NULL, resume_position VARCHAR(600) NOT NULL, gtid_state TEXT NOT NULL,"
          "  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),"
          "  PRIMARY KEY (pipeline, target, part)) ENGINE=InnoDB"));
  RETURN_IF_ERROR(Run(
      "CREATE TABLE IF NOT EXISTS `_sluice`.`snapshot_chunks` ("
      "  pipeline VARCHAR(128) NOT NULL, target VARCHAR(128) NOT NULL, tbl VARCHAR(200) NOT NULL,"
      "  shard VARCHAR(200) NOT NULL, chunk INT UNSIGNED NOT NULL,"
      "  after_key MEDIUMTEXT NOT NULL, upto_key MEDIUMTEXT NOT NULL, done TINYINT NOT NULL DEFAULT 0,"
      "  rows_copied BIGINT UNSIGNED NOT NULL DEFAULT 0,"
      "  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),"
      "  PRIMARY KEY (pipeline, target, tbl, shard, chunk)) ENGINE=InnoDB"));
  RETURN_IF_ERROR(Run(kKeylessCopiesTable));
  return Run(
      "CREATE TABLE IF NOT EXISTS `_sluice`.`deferred_indexes` ("
      "  db VARCHAR(64) NOT NULL, tbl VARCHAR(64) NOT NULL, ddl MEDIUMTEXT NOT NULL,"
      "  PRIMARY KEY (db, tbl)) ENGINE=InnoDB");
}

Result<std::string> ChunkWriter::EnsureStartPosition(const std::string& pipeline, const std::string& target,
                                                     const std::string& resume_position) {
  ASSIGN_OR_RETURN(StreamPos pos, StreamPosAtResume(resume_position));
  RETURN_IF_ERROR(Fenced([&] {
    return Run(fmt::format(
        "INSERT IGNORE INTO `_sluice`.`checkpoints` (pipeline, target, part, position, resume_position, gtid_state) "
        "VALUES ({}, {}, {}, {}, {}, '')",
        Quote(pipeline), Quote(target), kGlobalPart, Quote(pos.ToString()), Quote(resume_position)));
  }));
  ASSIGN_OR_RETURN(std::string applied, AppliedPosition(pipeline, target));
  return applied;
}

Status ChunkWriter::RaiseCatchUpHorizon(const std::string& pipeline, const std::string& target,
                                        const std::string& resume_position) {
  ASSIGN_OR_RETURN(StreamPos horizon, StreamPosAtResume(resume_position));
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format("SELECT position FROM `_sluice`.`checkpoints` WHERE pipeline = "
                                                       "{} AND target = {} AND part = {}",
                                                       Quote(pipeline), Quote(target), kHorizonPart)));
  StreamPos existing;
  if (!rows.empty() && rows[0][0] && StreamPos::Parse(*rows[0][0], &existing) && horizon <= existing) {
    return Status::Ok();
  }
  return Fenced([&] {
    return Run(fmt::format(
        "INSERT INTO `_sluice`.`checkpoints` (pipeline, target, part, position, resume_position, gtid_state) "
        "VALUES ({}, {}, {}, {}, {}, '') ON DUPLICATE KEY UPDATE position = VALUES(position), "
        "resume_position = VALUES(resume_position)",
        Quote(pipeline), Quote(target), kHorizonPart, Quote(horizon.ToString()), Quote(resume_position)));
  });
}

Status ChunkWriter::TakeOverRenamedTarget(const std::string& pipeline, const std::string& target,
                                          const std::vector<std::string>& former) {
  return mysql::TakeOverRenamedTarget(*conn_, pipeline, target, former).status();
}

Result<std::string> ChunkWriter::AppliedPosition(const std::string& pipeline, const std::string& target) {
  auto rows = conn_->Query(fmt::format(
      "SELECT resume_position FROM `_sluice`.`checkpoints` WHERE pipeline = {} AND target = {} AND part = {}",
      Quote(pipeline), Quote(target), kGlobalPart));
  if (!rows.ok()) {
    // A target no pipeline ever wrote to has no `_sluice` tables: no checkpoint.
    unsigned err = mysql_errno(conn_->raw());
    if (err == ER_NO_SUCH_TABLE || err == ER_BAD_DB_ERROR) return std::string();
    return rows.status();
  }
  if (rows->empty() || !(*rows)[0][0]) return std::string();
  return *(*rows)[0][0];
}

Status ChunkWriter::BeginChunk(const std::string& pipeline, const std::string& target) {
  // REPEATABLE READ for this one transaction: the share-mode read below then
  // also locks the gaps between the checkpoint rows, so a stream partition
  // writing its FIRST checkpoint row (an insert) waits for the chunk too.
  // Under the session's READ COMMITTED only existing rows would be locked,
  // and that partition could commit a newer row which the chunk then
  // overwrites with its older copy.
  RETURN_IF_ERROR(Run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
  RETURN_IF_ERROR(Run("START TRANSACTION"));
  in_txn_ = true;
  // The rows are locked one after another in part order. A stream's
  // transaction writes its checkpoint rows before any other row, in that
  // same order, one partition after another (MysqlLoader::ApplyBatch): so a
  // chunk holding every row knows no stream transaction has begun changing
  // rows, and one that waits for a row holds none a waiting partition needs
  // (a partition holding its row while a chunk held an earlier one, then
  // waiting, in the loader's vote and unseen by InnoDB, for the partition
  // of that earlier row, would stall both until a lock wait timeout).
  Status st = Run(fmt::format("SET SESSION innodb_lock_wait_timeout = {}", kCheckpointLockWaitS));
  if (st.ok()) {
    st =
        Run(fmt::format("SELECT part FROM `_sluice`.`checkpoints` WHERE pipeline = {} AND target = {} "
                        "LOCK IN SHARE MODE",
                        Quote(pipeline), Quote(target)));
  }
  // A chunk of a former owner (cluster mode) must not land after its successor started.
  if (st.ok() && fence_.epoch > 0) st = CheckFence(*conn_, fence_);
  if (st.ok()) st = Run(fmt::format("SET SESSION innodb_lock_wait_timeout = {}", kRowLockWaitS));
  if (!st.ok()) Rollback();
  return st;
}

Status ChunkWriter::Write(const std::vector<SinkChange>& changes) {
  // The chunk has been read from the source under BeginChunk's locks.
  SLUICE_SYNC_POINT("mysql.chunk.write");
  // Per table and kind, in statements of bounded size.
  std::map<const TargetTable*, std::vector<const SinkChange*>> deletes, upserts, inserts;
  std::vector<const TargetTable*> order;
  std::vector<const SinkChange*> enum_error_rows;  // one at a time, after the rest
  for (const SinkChange& ch : changes) {
    const TargetTable* t = ch.table.get();
    if (!deletes.count(t) && !upserts.count(t) && !inserts.count(t)) order.push_back(t);
    if (HasEnumErrorValue(ch)) {
      enum_error_rows.push_back(&ch);
      continue;
    }
    switch (ch.kind) {
      case SinkChange::Kind::kDelete:
        deletes[t].push_back(&ch);
        break;
      case SinkChange::Kind::kUpsert:
        upserts[t].push_back(&ch);
        break;
      case SinkChange::Kind::kInsert:
        inserts[t].push_back(&ch);
        break;
      case SinkChange::Kind::kCascade:  // never in a chunk: a copy of rows
        break;
      case SinkChange::Kind::kDeleteExact: {
        std::string sql;
        RETURN_IF_ERROR(BuildDeleteExact(sql, *t, ch));
        RETURN_IF_ERROR(Run(sql));
        // Nothing matched: the row changed since it was read (or cannot be
        // matched by its values); say so rather than report it repaired.
        if (mysql_affected_rows(conn_->raw()) == 0) {
          return Status::Retryable(StatusCode::kAborted, "target {}: table `{}`.`{}`: no row equals {} any more",
                                   conn_->options().Describe(), t->db, t->table, DescribeKey(ch));
        }
        break;
      }
    }
  }
  using Builder =
      Status (*)(std::string&, const TargetTable&, const std::vector<const SinkChange*>&, const std::vector<bool>*);
  auto flush = [&](auto& groups, Builder build) -> Status {
    for (const TargetTable* t : order) {
      auto it = groups.find(t);
      if (it == groups.end()) continue;
      ASSIGN_OR_RETURN(const TableInfo* info, Info(*t));
      const std::vector<bool>* generated = info->generated.empty() ? nullptr : &info->generated;
      // Rows near the target's packet limit go one at a time, in pieces
      // when they must (see MysqlLoader::SliceBytes for the bounds).
      const size_t budget = StatementBudget(max_packet_);
      std::vector<const SinkChange*> rows, big;
      for (const SinkChange* ch : it->second) (StatementBytesBound(*t, *ch) > budget / 4 ? big : rows).push_back(ch);
      Status st = ForEachStatement(
          *t, rows, std::min(kMaxStatementBytes, budget / 8),
          [&](std::string& out, const TargetTable& table, const std::vector<const SinkChange*>& slice) {
            return build(out, table, slice, generated);
          },
          [&](const std::string& sql) { return Run(sql); });
      for (size_t i = 0; st.ok() && i < big.size(); ++i) {
        std::string sql;
        st = build(sql, *t, {big[i]}, generated);
        if (!st.ok()) break;
        if (sql.size() <= budget) {
          st = Run(sql);
        } else if (big[i]->kind == SinkChange::Kind::kUpsert) {
          st = UpsertInPieces(*t, *big[i], /*replace=*/false, generated, max_packet_,
                              [this](const std::string& q) { return Run(q); });
        } else {
          st = TooBigForTarget(*t, sql.size(), max_packet_);
        }
        if (!st.ok()) st = st.WithContext(fmt::format("key {}", DescribeKey(*big[i])));
      }
      if (!st.ok()) return st.WithContext(fmt::format("writing {}.{}", t->db, t->table));
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(flush(deletes, [](std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows,
                                    const std::vector<bool>*) { return BuildDelete(out, t, rows); }));
  // Bulk loads first; what they cannot take goes through statements.
  auto bulk = [&](auto& groups, bool replace) -> Status {
    for (auto it = groups.begin(); bulk_ && it != groups.end();) {
      ASSIGN_OR_RETURN(const TableInfo* info, Info(*it->first));
      if (!info->bulk) {
        ++it;
        continue;
      }
      constexpr size_t kRowsPerLoad = 50000;
      const auto& rows = it->second;
      BulkLoad load;
      Status st = Status::Ok();
      for (size_t start = 0; st.ok() && start < rows.size(); start += kRowsPerLoad) {
        std::vector<const SinkChange*> slice(
            rows.begin() + static_cast<std::ptrdiff_t>(start),
            rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), start + kRowsPerLoad)));
        st = BuildBulkLoad(*it->first, slice, replace, &load, info->generated.empty() ? nullptr : &info->generated);
        if (st.ok()) st = RunBulkLoad(*conn_, *it->first, load);
      }
      if (st.code() == StatusCode::kNotSupported && bulk_) {
        // LOCAL INFILE disabled (server or client): statements from now on.
        bulk_ = false;
        return Status::Ok();
      }
      RETURN_IF_ERROR(st);
      it = groups.erase(it);
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(bulk(upserts, /*replace=*/true));
  RETURN_IF_ERROR(bulk(inserts, /*replace=*/false));
  RETURN_IF_ERROR(flush(upserts, BuildUpsert));
  RETURN_IF_ERROR(flush(inserts, BuildInsert));
  for (const SinkChange* ch : enum_error_rows) {
    ASSIGN_OR_RETURN(const TableInfo* info, Info(*ch->table));
    const std::vector<bool>* generated = info->generated.empty() ? nullptr : &info->generated;
    std::string sql;
    std::vector<const SinkChange*> one{ch};
    RETURN_IF_ERROR(ch->kind == SinkChange::Kind::kUpsert ? BuildUpsert(sql, *ch->table, one, generated)
                                                          : BuildInsert(sql, *ch->table, one, generated));
    Status st = RunWithEnumErrorValue(*conn_, *ch, sql, [this](const std::string& q) { return Run(q); });
    if (!st.ok()) return st.WithContext(fmt::format("writing {}.{}", ch->table->db, ch->table->table));
  }
  return Status::Ok();
}

Result<const ChunkWriter::TableInfo*> ChunkWriter::Info(const TargetTable& t) {
  std::string name = t.db + "." + t.table;
  auto it = tables_.find(name);
  if (it != tables_.end()) return &it->second;
  ASSIGN_OR_RETURN(auto existing, TableColumns(t.db, t.table));
  TableInfo info;
  info.bulk = existing.size() == t.columns.size();
  for (const std::string& c : t.columns) {
    info.bulk = info.bulk && std::find(existing.begin(), existing.end(), c) != existing.end();
  }
  ASSIGN_OR_RETURN(info.generated, ReadGeneratedColumns(*conn_, t));
  return &tables_.emplace(name, std::move(info)).first->second;
}

Status ChunkWriter::Truncate(const TargetTable& table) {
  // In pieces, so that no single statement on a large table outlasts the
  // connection's read timeout (the jobs' kJobIoTimeoutS).
  constexpr uint64_t kRowsPerDelete = 10000;
  std::string sql = "DELETE FROM ";
  AppendQualifiedName(sql, table);
  sql += fmt::format(" LIMIT {}", kRowsPerDelete);
  for (;;) {
    RETURN_IF_ERROR(Run(sql));
    if (mysql_affected_rows(conn_->raw()) < kRowsPerDelete) return Status::Ok();
  }
}

Status ChunkWriter::RecordKeylessCopy(const ChunkRecord& c, const std::string& read_at) {
  ASSIGN_OR_RETURN(StreamPos pos, StreamPosAtResume(read_at));
  return Run(fmt::format("REPLACE INTO `_sluice`.`keyless_copies` (pipeline, target, tbl, position, read_at) "
                         "VALUES ({}, {}, {}, {}, {})",
                         Quote(c.pipeline), Quote(c.target), Quote(c.table), Quote(pos.ToString()), Quote(read_at)));
}

Status ChunkWriter::MarkChunkDone(const ChunkRecord& c, uint64_t rows) {
  return Run(fmt::format(
      "INSERT INTO `_sluice`.`snapshot_chunks` (pipeline, target, tbl, shard, chunk, after_key, upto_key, done, "
      "rows_copied) VALUES ({}, {}, {}, {}, {}, {}, {}, 1, {}) ON DUPLICATE KEY UPDATE done = 1, "
      "rows_copied = VALUES(rows_copied)",
      Quote(c.pipeline), Quote(c.target), Quote(c.table), Quote(ShardKey(c.shard)), c.chunk, Quote(c.after),
      Quote(c.upto), rows));
}

Status ChunkWriter::Commit() {
  in_txn_ = false;
  return Run("COMMIT");
}

void ChunkWriter::Rollback() {
  if (!in_txn_) return;
  in_txn_ = false;
  (void)Run("ROLLBACK");
}

Result<std::vector<ChunkRecord>> ChunkWriter::LoadPlan(const std::string& pipeline, const std::string& target,
                                                       const std::string& table, const std::string& shard) {
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format(
                                  "SELECT chunk, after_key, upto_key, done, rows_copied FROM "
                                  "`_sluice`.`snapshot_chunks` WHERE pipeline = {} AND target = {} AND tbl = {} AND "
                                  "shard = {} ORDER BY chunk",
                                  Quote(pipeline), Quote(target), Quote(table), Quote(ShardKey(shard)))));
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
    c.done = r[3].value_or("0") != "0";
    c.rows = std::stoull(r[4].value_or("0"));
    plan.push_back(std::move(c));
  }
  return plan;
}

Result<bool> ChunkWriter::HasUnfinishedPlan(const std::string& pipeline, const std::string& target,
                                            const std::vector<std::string>& shards) {
  if (shards.empty()) return false;
  std::string list;
  for (const std::string& shard : shards) list += (list.empty() ? "" : ", ") + Quote(ShardKey(shard));
  ASSIGN_OR_RETURN(auto rows, conn_->Query(fmt::format("SELECT 1 FROM `_sluice`.`snapshot_chunks` WHERE pipeline = {} "
                                                       "AND target = {} AND shard IN ({}) AND done = 0 LIMIT 1",
                                                       Quote(pipeline), Quote(target), list)));
  return !rows.empty();
}

Status ChunkWriter::SavePlan(const std::vector<ChunkRecord>& plan) {
  if (plan.empty()) return Status::Ok();
  const ChunkRecord& first = plan.front();
  RETURN_IF_ERROR(Run("START TRANSACTION"));
  in_txn_ = true;
  Status st = DropPlan(first.pipeline, first.target, first.table, first.shard);
  for (size_t begin = 0; st.ok() && begin < plan.size(); begin += 500) {
    std::string sql =
        "INSERT INTO `_sluice`.`snapshot_chunks` (pipeline, target, tbl, shard, chunk, after_key, upto_key) VALUES ";
    for (size_t i = begin; i < std::min(plan.size(), begin + 500); ++i) {
      const ChunkRecord& c = plan[i];
      if (i > begin) sql += ", ";
      sql += fmt::format("({}, {}, {}, {}, {}, {}, {})", Quote(c.pipeline), Quote(c.target), Quote(c.table),
                         Quote(ShardKey(c.shard)), c.chunk, Quote(c.after), Quote(c.upto));
    }
    st = Run(sql);
  }
  if (!st.ok()) {
    Rollback();
    return st;
  }
  return Commit();
}

Status ChunkWriter::DropPlan(const std::string& pipeline, const std::string& target, const std::string& table,
                             const std::string& shard) {
  return Run(fmt::format(
      "DELETE FROM `_sluice`.`snapshot_chunks` WHERE pipeline = {} AND target = {} AND tbl = {} AND shard = {}",
      Quote(pipeline), Quote(target), Quote(table), Quote(ShardKey(shard))));
}

Result<std::vector<std::string>> ChunkWriter::TableColumns(const std::string& db, const std::string& table) {
  ASSIGN_OR_RETURN(auto rows,
                   conn_->Query(fmt::format("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                                            "TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
                                            Quote(db), Quote(table))));
  std::vector<std::string> cols;
  for (auto& r : rows) cols.push_back(r[0].value_or(""));
  return cols;
}

}  // namespace sluice::sink::mysql
