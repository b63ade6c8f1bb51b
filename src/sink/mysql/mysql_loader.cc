#include "sink/mysql/mysql_loader.h"

#include <algorithm>
#include <errmsg.h>
#include <mysqld_error.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <thread>
#include <future>
#include <map>

#include "core/json_writer.h"
#include "sink/merge.h"
#include "sink/mysql/sql_builder.h"

namespace sluice::sink::mysql {
namespace {

using sluice::mysql::MysqlConnection;

constexpr int kGlobalPart = -1;
constexpr int kHorizonPart = -2;  // a snapshot's catch-up horizon (ChunkWriter::RaiseCatchUpHorizon)
constexpr unsigned kErDupEntry = 1062;

// Errors that mean "already done" when a DDL statement is replayed after a
// crash between the statement and its checkpoint.
bool IsAlreadyAppliedDdlError(unsigned err) {
  switch (err) {
    case ER_DB_CREATE_EXISTS:    // 1007
    case ER_DB_DROP_EXISTS:      // 1008
    case ER_TABLE_EXISTS_ERROR:  // 1050
    case ER_BAD_TABLE_ERROR:     // 1051
    case ER_DUP_FIELDNAME:       // 1060
    case ER_DUP_KEYNAME:         // 1061
    case ER_CANT_DROP_FIELD_OR_KEY:  // 1091
      return true;
    default:
      return false;
  }
}

std::string Quote(std::string_view s) {
  std::string out;
  AppendQuotedString(out, s);
  return out;
}

}  // namespace

bool IsRetryableApplyError(unsigned err) {
  return sluice::mysql::IsConnectionLost(err) || err == ER_OPTION_PREVENTS_STATEMENT /* read-only */ ||
         err == ER_LOCK_WAIT_TIMEOUT || err == ER_LOCK_DEADLOCK || err == ER_SERVER_SHUTDOWN ||
         err == ER_CON_COUNT_ERROR || err == ER_QUERY_INTERRUPTED || err == CR_COMMANDS_OUT_OF_SYNC ||
         err == ER_READ_ONLY_MODE;
}

Result<std::unique_ptr<MysqlLoader>> MysqlLoader::Open(LoaderOptions options) {
  if (options.parallel == 0) options.parallel = 1;
  std::unique_ptr<MysqlLoader> loader(new MysqlLoader(std::move(options)));
  RETURN_IF_ERROR(loader->Connect());
  RETURN_IF_ERROR(loader->EnsureCheckpointTable());
  RETURN_IF_ERROR(loader->ReadCheckpoint());
  return loader;
}

MysqlLoader::~MysqlLoader() = default;

Status MysqlLoader::Connect() {
  auto open = [&]() -> Result<std::unique_ptr<MysqlConnection>> {
    ASSIGN_OR_RETURN(auto c, MysqlConnection::Connect(options_.connect));
    // UTC for TIMESTAMP literals (capture renders them in UTC); strict so a
    // value the target cannot hold is an error, not a silent truncation;
    // NO_AUTO_VALUE_ON_ZERO so an id of 0 stays 0.
    RETURN_IF_ERROR(c->Execute(
        "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', "
        "foreign_key_checks = 0, autocommit = 1; "
        // Parallel partitions write disjoint keys; READ COMMITTED takes no gap
        // locks, so they do not deadlock on each other's key ranges. (This
        // form works on MySQL and MariaDB alike.)
        "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"));
    return c;
  };
  ASSIGN_OR_RETURN(control_, open());
  partitions_.clear();
  partitions_.resize(options_.parallel);
  for (auto& p : partitions_) {
    ASSIGN_OR_RETURN(p.conn, open());
  }
  return Status::Ok();
}

Status MysqlLoader::Reconnect() {
  control_.reset();
  partitions_.clear();
  Status st = Connect();
  if (!st.ok()) {
    // Leave no half-built set behind: EnsureConnected() sees the loader
    // disconnected and tries again on the next call.
    control_.reset();
    partitions_.clear();
    return st;
  }
  // A COMMIT whose answer was lost with the connection may have landed. The
  // checkpoint rows on the target say which partitions committed, so the
  // retry skips them instead of applying them twice (a keyless table would
  // get duplicate rows).
  return ReadCheckpoint();
}

// Every entry point that talks to the target starts here. After a failed
// Reconnect() (target still down) there are no connections; applying then
// would divide by a partition count of zero and use a null control session.
Status MysqlLoader::EnsureConnected() {
  bool whole = control_ != nullptr && partitions_.size() == options_.parallel;
  for (const auto& p : partitions_) whole &= p.conn != nullptr;
  if (whole) return Status::Ok();
  return Reconnect();
}

Status MysqlLoader::EnsureCheckpointTable() {
  // Through RunStatement, which classifies errors like applying does: a
  // target that is read-only at start-up is retried, not failed for good.
  RETURN_IF_ERROR(RunStatement(*control_, "CREATE DATABASE IF NOT EXISTS `_sluice`"));
  return RunStatement(
      *control_,
      "CREATE TABLE IF NOT EXISTS `_sluice`.`checkpoints` ("
      "  pipeline VARCHAR(128) NOT NULL, target VARCHAR(128) NOT NULL, part INT NOT NULL,"
      "  position VARCHAR(600) NOT NULL, resume_position VARCHAR(600) NOT NULL, gtid_state TEXT NOT NULL,"
      "  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),"
      "  PRIMARY KEY (pipeline, target, part)) ENGINE=InnoDB");
}

Status MysqlLoader::ReadCheckpoint() {
  checkpoint_ = LoaderCheckpoint();
  checkpoint_.partitions.assign(options_.parallel, StreamPos());
  ASSIGN_OR_RETURN(auto rows,
                   control_->Query(fmt::format("SELECT part, position, resume_position, gtid_state FROM "
                                               "`_sluice`.`checkpoints` WHERE pipeline = {} AND target = {}",
                                               Quote(options_.pipeline), Quote(options_.target))));
  // A partition row counts only if it was written with today's number of
  // partitions: with another `parallel`, keys hash to other partitions, and a
  // partition's position says nothing about the keys it has now (taking it
  // would skip changes that its former owner never applied).
  const std::string scheme = PartitionScheme();
  bool other_scheme = false;
  for (const auto& r : rows) {
    int part = std::stoi(r[0].value_or("0"));
    StreamPos pos;
    if (!StreamPos::Parse(r[1].value_or(""), &pos)) {
      return Status::Corruption("target {}: bad checkpoint position \"{}\" in `_sluice`.`checkpoints`",
                                options_.target, r[1].value_or(""));
    }
    if (part == kHorizonPart) {
      checkpoint_.catch_up_until = pos;
    } else if (part == kGlobalPart) {
      checkpoint_.global = pos;
      checkpoint_.resume_position = r[2].value_or("");
      checkpoint_.gtid_state = r[3].value_or("");
    } else if (part >= 0 && static_cast<size_t>(part) < checkpoint_.partitions.size() && r[2] == scheme) {
      checkpoint_.partitions[part] = pos;
    } else {
      other_scheme = true;
    }
  }
  if (other_scheme) {
    // Nothing past the global checkpoint is assumed applied: replay is
    // idempotent for keyed tables (a keyless table may get a row twice).
    spdlog::info("target {}: partition checkpoints of another `parallel` setting ignored; replaying from {}",
                 options_.target, checkpoint_.global.empty() ? "the start position" : checkpoint_.global.ToString());
    checkpoint_.partitions.assign(options_.parallel, StreamPos());
  }
  for (auto& p : checkpoint_.partitions) {
    if (p < checkpoint_.global) p = checkpoint_.global;
  }
  return Status::Ok();
}

std::string MysqlLoader::PartitionScheme() const { return fmt::format("partitions={}", options_.parallel); }

Status MysqlLoader::RunStatement(MysqlConnection& c, const std::string& sql) {
  if (mysql_real_query(c.raw(), sql.data(), sql.size()) != 0) {
    unsigned err = mysql_errno(c.raw());
    std::string msg = mysql_error(c.raw());
    if (err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT) {
      return Status::Retryable(StatusCode::kAborted, "target {}: {} (error {})", options_.target, msg, err);
    }
    if (IsRetryableApplyError(err)) {
      return Status::Retryable(StatusCode::kIoError, "target {}: {} (error {})", options_.target, msg, err);
    }
    return Status::Error(StatusCode::kServerError, "{} (error {})", msg, err);
  }
  MYSQL_RES* res = mysql_store_result(c.raw());
  if (res) mysql_free_result(res);
  return Status::Ok();
}

Status MysqlLoader::WriteCheckpointRow(MysqlConnection& c, int part, const BatchEnd& end) {
  std::string sql = fmt::format(
      "INSERT INTO `_sluice`.`checkpoints` (pipeline, target, part, position, resume_position, gtid_state) "
      "VALUES ({}, {}, {}, {}, {}, {}) ON DUPLICATE KEY UPDATE position = VALUES(position), "
      "resume_position = VALUES(resume_position), gtid_state = VALUES(gtid_state)",
      Quote(options_.pipeline), Quote(options_.target), part, Quote(end.pos.ToString()),
      // Partition rows carry the partitioning they belong to (ReadCheckpoint);
      // only the global row's resume position and GTID state are ever read.
      Quote(part == kGlobalPart ? end.resume_position : PartitionScheme()),
      Quote(part == kGlobalPart ? end.gtid_state : std::string()));
  return RunStatement(c, sql);
}

// Groups consecutive work per table and kind into multi-row statements of
// bounded size: deletes first, then upserts (after merging, each key appears
// once, so their relative order does not matter for keyed tables).
Status MysqlLoader::ApplyMerged(MysqlConnection& c, const std::vector<SinkChange>& changes) {
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
  auto flush_groups = [&](auto& groups, StatementBuilder build) -> Status {
    for (const TargetTable* t : order) {
      auto it = groups.find(t);
      if (it == groups.end()) continue;
      RETURN_IF_ERROR(ForEachStatement(*t, it->second, options_.max_statement_bytes, build,
                                       [&](const std::string& sql) { return RunStatement(c, sql); }));
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(flush_groups(deletes, BuildDelete));
  RETURN_IF_ERROR(flush_groups(upserts, [this](std::string& out, const TargetTable& t,
                                                const std::vector<const SinkChange*>& rows) {
    return catch_up_ ? BuildReplace(out, t, rows, GeneratedOf(t)) : BuildUpsert(out, t, rows, GeneratedOf(t));
  }));
  for (const SinkChange* ch : keyless) RETURN_IF_ERROR(ApplyOne(c, *ch));
  return Status::Ok();
}

Status MysqlLoader::ApplyOne(MysqlConnection& c, const SinkChange& ch) {
  std::string sql;
  std::vector<const SinkChange*> one{&ch};
  switch (ch.kind) {
    case SinkChange::Kind::kUpsert:
      RETURN_IF_ERROR(catch_up_ ? BuildReplace(sql, *ch.table, one, GeneratedOf(*ch.table))
                                : BuildUpsert(sql, *ch.table, one, GeneratedOf(*ch.table)));
      break;
    case SinkChange::Kind::kDelete: RETURN_IF_ERROR(BuildDelete(sql, *ch.table, one)); break;
    case SinkChange::Kind::kInsert: RETURN_IF_ERROR(BuildInsert(sql, *ch.table, one, GeneratedOf(*ch.table))); break;
    case SinkChange::Kind::kDeleteExact: RETURN_IF_ERROR(BuildDeleteExact(sql, *ch.table, ch)); break;
  }
  return RunStatement(c, sql);
}

Status MysqlLoader::Reject(const SinkChange& ch, const Status& error) {
  std::string msg = fmt::format("pipeline {} target {}: table `{}`.`{}` (from {}) key {} @ {}: the target rejected the change: {}",
                                options_.pipeline, options_.target, ch.table->db, ch.table->table, ch.table->source,
                                DescribeKey(ch), ch.pos.ToString(), error.message());
  if (!options_.skip_rejected) return Status::Error(StatusCode::kServerError, "{}", msg);
  std::lock_guard lock(skip_mu_);
  ++rows_skipped_;
  spdlog::warn("skipped (on_error: skip): {}", msg);
  if (!options_.skip_log.empty()) {
    std::ofstream out(options_.skip_log, std::ios::app);
    std::string line = "{\"pipeline\":";
    AppendJsonString(line, options_.pipeline);
    line += ",\"target\":";
    AppendJsonString(line, options_.target);
    line += ",\"table\":";
    AppendJsonString(line, ch.table->db + "." + ch.table->table);
    line += ",\"key\":";
    AppendJsonString(line, DescribeKey(ch));
    line += ",\"pos\":";
    AppendJsonString(line, ch.pos.ToString());
    line += ",\"error\":";
    AppendJsonString(line, error.message());
    line += ",\"values\":{";
    for (size_t i = 0; i < ch.values.size(); ++i) {
      if (i) line += ',';
      AppendJsonString(line, ch.table->columns[i]);
      line += ':';
      AppendJsonValue(line, ch.values[i]);
    }
    line += "}}\n";
    out << line;
    if (!out) return Status::Error(StatusCode::kIoError, "cannot write skip log {}", options_.skip_log);
  }
  return Status::Ok();
}

// One change at a time, in stream order: used when a merged batch hit a
// secondary unique-key conflict (the source's own order never conflicts), and
// to find which change the target rejects.
Status MysqlLoader::ApplyOrdered(MysqlConnection& c, const std::vector<SinkChange>& changes, uint64_t* skipped,
                                 size_t* rejected, bool retry_duplicates) {
  for (size_t i = 0; i < changes.size(); ++i) {
    const SinkChange& ch = changes[i];
    Status st = ApplyOne(c, ch);
    if (st.ok()) continue;
    if (st.retryable()) return st;
    if (retry_duplicates && mysql_errno(c.raw()) == kErDupEntry) {
      // Applied in source order a change can only collide with a row another
      // partition is about to change (a unique value moving between keys of
      // different partitions): retry once the other partitions committed.
      return Status::Retryable(StatusCode::kAborted, "target {}: {} (transient across partitions?)", options_.target,
                               st.message());
    }
    Status reject = Reject(ch, st);
    if (!reject.ok()) {
      if (rejected) *rejected = i;
      return reject;
    }
    ++*skipped;
  }
  return Status::Ok();
}

// on_error: stop. Like a replica's SQL thread, stop AT the source transaction
// of the rejected change: the transactions before it in this partition are
// committed, with the partition's checkpoint at the last of them, so the
// target holds everything up to the row that needs a hand, and a restart
// after the fix begins at that transaction. Returns `rejection` unless
// committing the prefix hit a retryable error (then the batch is retried).
Status MysqlLoader::CommitBeforeRejected(MysqlConnection& c, uint32_t p, const std::vector<SinkChange>& changes,
                                         size_t rejected, const Status& rejection) {
  (void)RunStatement(c, "ROLLBACK");
  const StreamPos& bad = changes[rejected].pos;
  size_t keep = rejected;
  while (keep > 0 && changes[keep - 1].pos.file == bad.file && changes[keep - 1].pos.txn_offset == bad.txn_offset) {
    --keep;
  }
  if (keep == 0) return rejection;
  std::vector<SinkChange> prefix(changes.begin(), changes.begin() + static_cast<std::ptrdiff_t>(keep));
  uint64_t skipped = 0;
  Status st = RunStatement(c, "BEGIN");
  if (st.ok()) st = ApplyOrdered(c, prefix, &skipped);
  if (st.ok()) st = WriteCheckpointRow(c, static_cast<int>(p), BatchEnd{prefix.back().pos, "", ""});
  if (st.ok()) st = RunStatement(c, "COMMIT");
  if (!st.ok()) {
    (void)RunStatement(c, "ROLLBACK");
    return st.retryable() ? st : rejection;
  }
  checkpoint_.partitions[p] = prefix.back().pos;  // only this partition's thread touches its entry
  return rejection;
}

Status MysqlLoader::ApplyPartition(uint32_t p, std::vector<SinkChange> changes, const BatchEnd& end,
                                   uint64_t* applied) {
  MysqlConnection& c = *partitions_[p].conn;
  // Redone after a crash or a retry: skip what this partition already committed.
  const StreamPos& done = checkpoint_.partitions[p];
  if (!done.empty()) {
    std::erase_if(changes, [&](const SinkChange& ch) { return ch.pos <= done; });
  }
  if (changes.empty()) return Status::Ok();
  std::vector<SinkChange> merged = MergeByKey(changes);
  // A lock conflict with another partition (or another client) is retried
  // here at once: the whole transaction was rolled back, nothing is half-done.
  constexpr int kAttempts = 8;  // waits 5 ms doubling: about 1.3 s in all
  for (int attempt = 0;; ++attempt) {
    Status st = ApplyPartitionOnce(c, p, changes, merged, end);
    if (st.ok()) break;
    if (st.code() != StatusCode::kAborted || attempt + 1 >= kAttempts) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(5 << attempt));
  }
  *applied = changes.size();
  return Status::Ok();
}

Status MysqlLoader::ApplyPartitionOnce(MysqlConnection& c, uint32_t p, const std::vector<SinkChange>& changes,
                                       const std::vector<SinkChange>& merged, const BatchEnd& end) {
  RETURN_IF_ERROR(RunStatement(c, "BEGIN"));
  Status st = ApplyMerged(c, merged);
  if (!st.ok() && !st.retryable()) {
    // Either a secondary unique key conflict between merged rows, or a row
    // the target rejects: redo in source order, one change at a time.
    (void)RunStatement(c, "ROLLBACK");
    RETURN_IF_ERROR(RunStatement(c, "BEGIN"));
    uint64_t skipped = 0;
    size_t rejected = changes.size();
    // A duplicate here is taken for a conflict with another partition (kAborted):
    // after a few attempts ApplyBatch applies the partitions concerned together.
    st = ApplyOrdered(c, changes, &skipped, &rejected, /*retry_duplicates=*/true);
    if (rejected < changes.size()) return CommitBeforeRejected(c, p, changes, rejected, st);
  }
  if (st.ok()) st = WriteCheckpointRow(c, static_cast<int>(p), end);
  if (st.ok()) st = RunStatement(c, "COMMIT");
  if (!st.ok()) {
    (void)RunStatement(c, "ROLLBACK");
    return st;
  }
  return Status::Ok();
}

Status MysqlLoader::ResetCheckpoint() {
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(control_->Execute(fmt::format("DELETE FROM `_sluice`.`checkpoints` WHERE pipeline = {} AND target = {}",
                                                Quote(options_.pipeline), Quote(options_.target))));
  return ReadCheckpoint();
}

Status MysqlLoader::ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) {
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(LoadGeneratedColumns(changes));
  // Before a snapshot's horizon, a chunk may already hold a later image of a
  // row than the change replayed now, and a unique value the change gives
  // its row may then still be held, in the target, by another row that only
  // gets it later in the source's order. Those changes go in source order
  // over one connection with REPLACE (the row holding the value is removed;
  // its own later change, also before the horizon, puts it back).
  size_t catch_up = 0;
  if (!checkpoint_.catch_up_until.empty()) {
    while (catch_up < changes.size() && changes[catch_up].pos < checkpoint_.catch_up_until) ++catch_up;
  }
  if (catch_up > 0) {
    std::vector<SinkChange> head(changes.begin(), changes.begin() + static_cast<std::ptrdiff_t>(catch_up));
    if (catch_up == changes.size()) return ApplyCatchUp(std::move(head), end);
    // A boundary at or before the head's end: the last resume position.
    RETURN_IF_ERROR(ApplyCatchUp(std::move(head), BatchEnd{changes[catch_up - 1].pos, checkpoint_.resume_position,
                                                            checkpoint_.gtid_state}));
  }
  const uint32_t n = static_cast<uint32_t>(partitions_.size());
  std::vector<std::vector<SinkChange>> parts(n);
  for (size_t i = catch_up; i < changes.size(); ++i) {
    const SinkChange& ch = changes[i];
    if (!checkpoint_.global.empty() && ch.pos <= checkpoint_.global) continue;  // applied before a restart
    parts[n == 1 ? 0 : KeyHash(ch) % n].push_back(ch);
  }

  std::vector<uint64_t> applied(n, 0);
  std::vector<Status> results(n);
  std::vector<std::future<void>> running;
  for (uint32_t p = 0; p < n; ++p) {
    if (parts[p].empty()) continue;
    running.push_back(std::async(std::launch::async, [&, p] {
      results[p] = ApplyPartition(p, std::move(parts[p]), end, &applied[p]);
    }));
  }
  for (auto& f : running) f.get();
  for (uint32_t p = 0; p < n; ++p) {
    // A partition that committed keeps its progress even if another failed:
    // the retry then skips it.
    if (results[p].ok() && applied[p] > 0) checkpoint_.partitions[p] = end.pos;
  }
  std::vector<uint32_t> conflicted;
  for (uint32_t p = 0; p < n; ++p) {
    if (results[p].ok()) continue;
    if (results[p].code() != StatusCode::kAborted) return results[p];
    conflicted.push_back(p);
  }
  for (uint64_t a : applied) rows_applied_ += a;
  if (!conflicted.empty()) RETURN_IF_ERROR(ApplyConflicted(changes, conflicted, end));
  return AdvanceCheckpoint(end);
}

Result<bool> MysqlLoader::SnapshotExplainsConflict(const std::vector<SinkChange>& changes) {
  ASSIGN_OR_RETURN(auto rows, control_->Query(fmt::format(
                                  "SELECT part, position FROM `_sluice`.`checkpoints` WHERE pipeline = {} AND "
                                  "target = {} AND part = {}",
                                  Quote(options_.pipeline), Quote(options_.target), kHorizonPart)));
  StreamPos horizon;
  if (!rows.empty() && rows[0][1] && StreamPos::Parse(*rows[0][1], &horizon)) checkpoint_.catch_up_until = horizon;
  if (!checkpoint_.catch_up_until.empty() && !changes.empty() && changes.front().pos < checkpoint_.catch_up_until) {
    return true;
  }
  // A snapshot still copying records its horizon when it ends: wait for it.
  auto unfinished = control_->Query(fmt::format("SELECT 1 FROM `_sluice`.`snapshot_chunks` WHERE pipeline = {} AND "
                                                "target = {} AND done = 0 LIMIT 1",
                                                Quote(options_.pipeline), Quote(options_.target)));
  return unfinished.ok() && !unfinished->empty();
}

Status MysqlLoader::ApplyConflicted(const std::vector<SinkChange>& changes, const std::vector<uint32_t>& conflicted,
                                    const BatchEnd& end) {
  const uint32_t n = static_cast<uint32_t>(partitions_.size());
  std::vector<SinkChange> todo;
  for (const SinkChange& ch : changes) {
    uint32_t p = n == 1 ? 0 : static_cast<uint32_t>(KeyHash(ch) % n);
    if (std::find(conflicted.begin(), conflicted.end(), p) == conflicted.end()) continue;
    const StreamPos& done = checkpoint_.partitions[p];
    if (!done.empty() && ch.pos <= done) continue;
    todo.push_back(ch);
  }
  spdlog::info("target {}: {} changes of {} partitions that conflicted with each other applied together",
               options_.target, todo.size(), conflicted.size());
  MysqlConnection& c = *partitions_[0].conn;
  uint64_t skipped = 0;
  Status st = RunStatement(c, "BEGIN");
  if (st.ok()) st = ApplyMerged(c, MergeByKey(todo));
  if (!st.ok() && !st.retryable()) {
    // In source order, one connection: a duplicate now is a real one...
    (void)RunStatement(c, "ROLLBACK");
    st = RunStatement(c, "BEGIN");
    if (st.ok()) st = ApplyOrdered(c, todo, &skipped);
    // ...unless a snapshot copied a later image of the row holding the value
    // (see ApplyBatch): once the snapshot has recorded its horizon, the batch
    // is applied as its catch-up.
    if (!st.ok() && !st.retryable() && mysql_errno(c.raw()) == kErDupEntry) {
      (void)RunStatement(c, "ROLLBACK");
      Result<bool> snapshot = SnapshotExplainsConflict(todo);
      if (snapshot.ok() && *snapshot) {
        return Status::Retryable(StatusCode::kAborted, "target {}: {} (a snapshot copied a later image of the row "
                                 "holding the value; replaying as its catch-up)",
                                 options_.target, st.message());
      }
    }
  }
  for (uint32_t p : conflicted) {
    if (st.ok()) st = WriteCheckpointRow(c, static_cast<int>(p), end);
  }
  if (st.ok()) st = RunStatement(c, "COMMIT");
  if (!st.ok()) {
    (void)RunStatement(c, "ROLLBACK");
    return st;
  }
  for (uint32_t p : conflicted) checkpoint_.partitions[p] = end.pos;
  rows_applied_ += todo.size() - skipped;
  return Status::Ok();
}

Result<std::vector<bool>> ReadGeneratedColumns(MysqlConnection& c, const TargetTable& t) {
  ASSIGN_OR_RETURN(auto rows, c.Query(fmt::format("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                                                  "TABLE_SCHEMA = {} AND TABLE_NAME = {} AND EXTRA LIKE '%GENERATED%'",
                                                  Quote(t.db), Quote(t.table))));
  std::vector<bool> mask;
  for (const auto& r : rows) {
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (t.columns[i] != r[0].value_or("")) continue;
      mask.resize(t.columns.size(), false);
      mask[i] = true;
    }
  }
  return mask;
}

Status MysqlLoader::LoadGeneratedColumns(const std::vector<SinkChange>& changes) {
  const TargetTable* last = nullptr;  // batches are mostly runs of one table
  for (const SinkChange& ch : changes) {
    const TargetTable* t = ch.table.get();
    if (t == last || generated_.count(t)) {
      last = t;
      continue;
    }
    last = t;
    ASSIGN_OR_RETURN(std::vector<bool> mask, ReadGeneratedColumns(*control_, *t));
    generated_.emplace(t, std::make_pair(ch.table, std::move(mask)));
  }
  return Status::Ok();
}

const std::vector<bool>* MysqlLoader::GeneratedOf(const TargetTable& t) const {
  auto it = generated_.find(&t);
  if (it == generated_.end() || it->second.second.empty()) return nullptr;
  return &it->second.second;
}

Status MysqlLoader::ApplyCatchUp(std::vector<SinkChange> changes, const BatchEnd& end) {
  if (!checkpoint_.global.empty()) {
    std::erase_if(changes, [&](const SinkChange& ch) { return ch.pos <= checkpoint_.global; });
  }
  if (changes.empty()) return AdvanceCheckpoint(end);
  MysqlConnection& c = *partitions_[0].conn;
  std::vector<SinkChange> merged = MergeByKey(changes);
  catch_up_ = true;
  uint64_t skipped = 0;
  Status st = RunStatement(c, "BEGIN");
  if (st.ok()) st = ApplyMerged(c, merged);
  if (!st.ok() && !st.retryable()) {
    // A row the target rejects: find it in source order (and skip it with on_error: skip).
    (void)RunStatement(c, "ROLLBACK");
    st = RunStatement(c, "BEGIN");
    if (st.ok()) st = ApplyOrdered(c, changes, &skipped);
  }
  catch_up_ = false;
  // The global row in the same transaction: on a retry or restart, all of it is applied or none.
  if (st.ok()) st = WriteCheckpointRow(c, kGlobalPart, end);
  if (st.ok()) st = RunStatement(c, "COMMIT");
  if (!st.ok()) {
    (void)RunStatement(c, "ROLLBACK");
    return st;
  }
  rows_applied_ += changes.size() - skipped;
  NoteGlobalCheckpoint(end);
  return Status::Ok();
}

void MysqlLoader::NoteGlobalCheckpoint(const BatchEnd& end) {
  checkpoint_.global = end.pos;
  checkpoint_.resume_position = end.resume_position;
  checkpoint_.gtid_state = end.gtid_state;
  for (auto& p : checkpoint_.partitions) {
    if (p < end.pos) p = end.pos;
  }
}

Status MysqlLoader::AdvanceCheckpoint(const BatchEnd& end) {
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) return Status::Ok();
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(WriteCheckpointRow(*control_, kGlobalPart, end));
  NoteGlobalCheckpoint(end);
  return Status::Ok();
}

Result<std::vector<std::string>> MysqlLoader::TargetColumns(const std::string& db, const std::string& table) {
  RETURN_IF_ERROR(EnsureConnected());
  ASSIGN_OR_RETURN(auto rows, control_->Query(fmt::format("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                                                          "TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
                                                          Quote(db), Quote(table))));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r[0].value_or(""));
  return out;
}

Status MysqlLoader::ApplyDdl(const std::string& db, const std::string& query, const BatchEnd& end) {
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) return Status::Ok();  // replayed
  RETURN_IF_ERROR(EnsureConnected());
  generated_.clear();  // a table's generated columns may change
  if (!db.empty()) {
    std::string use = "USE ";
    AppendIdentifier(use, db);
    Status st = RunStatement(*control_, use);
    if (!st.ok() && st.retryable()) return st;
    // A database that does not exist on the target yet: run unqualified.
  }
  Status st = RunStatement(*control_, query);
  if (!st.ok()) {
    if (st.retryable()) return st;
    unsigned err = mysql_errno(control_->raw());
    if (!IsAlreadyAppliedDdlError(err)) {
      // The caller names the pipeline and target.
      return Status::Error(StatusCode::kServerError, "DDL @ {} failed: {}: {}", end.pos.ToString(), st.message(),
                           query.substr(0, 300));
    }
    spdlog::info("target {}: DDL already in effect, skipped ({}): {}", options_.target, st.message(),
                 query.substr(0, 200));
  }
  return AdvanceCheckpoint(end);
}

}  // namespace sluice::sink::mysql
