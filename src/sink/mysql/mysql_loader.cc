#include "sink/mysql/mysql_loader.h"

#include <algorithm>
#include <errmsg.h>
#include <mysqld_error.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <future>
#include <map>
#include <set>

#include "core/commit_vote.h"
#include "core/json_writer.h"
#include "core/sync_point.h"
#include "core/turn_order.h"
#include "sink/merge.h"
#include "sink/mysql/big_rows.h"
#include "sink/mysql/ddl_session.h"
#include "sink/mysql/deferred_indexes.h"
#include "sink/mysql/fence.h"
#include "sink/mysql/owner.h"
#include "sink/mysql/renamed_target.h"
#include "sink/mysql/sluice_schema_grants.h"
#include "sink/mysql/sql_builder.h"
#include "sink/process_owner.h"
#include "sink/skip_log.h"

namespace sluice::sink::mysql {
namespace {

using sluice::mysql::MysqlConnection;

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

// The loader's session: strict, so a value the target cannot hold is an
// error rather than a silent truncation; NO_AUTO_VALUE_ON_ZERO so an id of 0
// stays 0. kLenientSqlMode is the same without strictness, for the one kind
// of row that needs it (HasEnumErrorValue).
constexpr const char* kSqlMode = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION";
constexpr const char* kLenientSqlMode = "NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION";
constexpr unsigned kWarnDataTruncated = 1265;
// Seconds a target connection waits for one answer (or to send one request)
// when the URL sets no read_timeout / write_timeout. Longer than a lock wait
// (innodb_lock_wait_timeout is 50 s by default), far shorter than forever.
constexpr unsigned kTargetTimeoutS = 90;
// Seconds between liveness probes while a DDL statement runs (ApplyDdl).
constexpr int kDdlProbeS = 2;

}  // namespace

bool IsRetryableApplyError(unsigned err) {
  switch (err) {
    // The target out of room or resources: its state, not the row's (with
    // on_error: skip every row would go to the skip log until room is made).
    case ER_RECORD_FILE_FULL:
    case ER_DISK_FULL:
    case ER_ERROR_ON_WRITE:
    case ER_OUTOFMEMORY:
    case ER_OUT_OF_SORTMEMORY:
    case ER_OUT_OF_RESOURCES:
    case ER_LOCK_TABLE_FULL:
    case ER_TOO_MANY_CONCURRENT_TRXS:
    case ER_CANT_CREATE_THREAD:
    case ER_TOO_MANY_USER_CONNECTIONS:
    case ER_USER_LIMIT_REACHED:
    case ER_STATEMENT_TIMEOUT:  // max_statement_time
    // Sessions cut or the network failing.
    case ER_CONNECTION_KILLED:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
      return true;
    default:
      break;
  }
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
  if (loader->options_.epoch > 0) {
    RETURN_IF_ERROR(loader->RegisterSessions());
    RETURN_IF_ERROR(RaiseFence(loader->options_.connect, loader->FenceOptions()));
  } else {
    loader->owner_lock_ = std::make_unique<OwnerLockKeeper>(
        loader->options_.connect, OwnerPingInterval(loader->options_.takeover_after_ms), loader->options_.interrupt);
    RETURN_IF_ERROR(TakeOwnership(*loader->control_, *loader->owner_lock_, loader->FenceOptions()).status());
    RETURN_IF_ERROR(loader->RegisterSessions());
  }
  RETURN_IF_ERROR(TakeOverRenamedTarget(*loader->control_, loader->options_.pipeline, loader->options_.target,
                                        loader->options_.former_targets)
                      .status());
  RETURN_IF_ERROR(loader->ReadCheckpoint());
  return loader;
}

SinkOptions MysqlLoader::FenceOptions() const {
  SinkOptions o;
  o.pipeline = options_.pipeline;
  o.target = options_.target;
  o.epoch = options_.epoch;
  o.takeover_after_ms = options_.takeover_after_ms;
  return o;
}

Status MysqlLoader::RegisterSessions() {
  if (options_.epoch == 0) {
    std::vector<MysqlConnection*> sessions{control_.get()};
    for (auto& p : partitions_) sessions.push_back(p.conn.get());
    return RegisterOwnerSessions(*control_, sessions);
  }
  RETURN_IF_ERROR(RegisterSession(*control_, FenceOptions()));
  for (auto& p : partitions_) RETURN_IF_ERROR(RegisterSession(*p.conn, FenceOptions()));
  return Status::Ok();
}

Status MysqlLoader::Begin(MysqlConnection& c) {
  if (options_.epoch == 0) return BeginAsOwner(c, "BEGIN");
  RETURN_IF_ERROR(RunStatement(c, "BEGIN"));
  Status st = CheckFence(c, FenceOptions());
  if (!st.ok()) (void)RunStatement(c, "ROLLBACK");
  return st;
}

Status MysqlLoader::BeginAsOwner(MysqlConnection& c, const std::string& then) {
  // One round trip: BEGIN, the owner's row in share mode, then `then`.
  std::optional<std::string> owner;
  Status st = RunStatement(c, "BEGIN; " + OwnerCheckSql(FenceOptions()) + "; " + then, &owner);
  if (st.ok()) st = CheckOwner(owner, FenceOptions());
  if (!st.ok()) (void)RunStatement(c, "ROLLBACK");
  return st;
}

MysqlLoader::~MysqlLoader() {
  // Their tasks use this loader: they end (commit or roll back) first.
  for (const auto& f : flights_) f->fate->done.wait();
}

Result<std::unique_ptr<MysqlConnection>> MysqlLoader::OpenSession(const sluice::mysql::ConnectOptions& options) {
  ASSIGN_OR_RETURN(auto c, MysqlConnection::Connect(options, options_.interrupt));
  // UTC for TIMESTAMP literals (capture renders them in UTC); kSqlMode.
  RETURN_IF_ERROR(c->Execute(
      fmt::format("SET time_zone = '+00:00', sql_mode = '{}', foreign_key_checks = 0, autocommit = 1; ", kSqlMode) +
      // Parallel partitions write disjoint keys; READ COMMITTED takes no gap
      // locks, so they do not deadlock on each other's key ranges. (This
      // form works on MySQL and MariaDB alike.)
      "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"));
  RETURN_IF_ERROR(sluice::mysql::LogSessionAsRows(*c));
  return c;
}

Status MysqlLoader::Connect() {
  // Every wait for the target is bounded: a hung server (stopped, cut off
  // without a reset) is then a retryable error naming it, not a pipeline that
  // says "running" while nothing moves. DDL, which may rightly run for
  // hours, has a connection of its own without the limit (ApplyDdl).
  sluice::mysql::ConnectOptions o = options_.connect;
  if (o.read_timeout_s == 0) o.read_timeout_s = kTargetTimeoutS;
  if (o.write_timeout_s == 0) o.write_timeout_s = kTargetTimeoutS;
  ASSIGN_OR_RETURN(control_, OpenSession(o));
  takes_sequences_.store(control_->has_sequences(), std::memory_order_relaxed);
  partitions_.clear();
  partitions_.resize(options_.parallel * kSlots);
  for (auto& p : partitions_) {
    ASSIGN_OR_RETURN(p.conn, OpenSession(o));
  }
  // Rows whose statement would exceed it go in pieces (big_rows.h).
  ASSIGN_OR_RETURN(auto packet, control_->Query("SELECT @@max_allowed_packet"));
  if (!packet.empty() && !packet[0].empty() && packet[0][0]) {
    size_t bytes = std::strtoull(packet[0][0]->c_str(), nullptr, 10);
    if (bytes >= 1024) max_packet_.store(bytes, std::memory_order_relaxed);  // the server's minimum
  }
  // The server's boot time tells, at the next reconnect, whether sessions of
  // this loader may still live on it (EndStaleSessions).
  auto uptime = control_->Query("SHOW GLOBAL STATUS LIKE 'Uptime'");
  if (uptime.ok() && !uptime->empty() && (*uptime)[0].size() > 1) {
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    int64_t booted = now - std::strtoll((*uptime)[0][1].value_or("0").c_str(), nullptr, 10);
    if (server_booted_ != 0 && std::llabs(booted - server_booted_) > 2) stale_sessions_.clear();  // restarted
    server_booted_ = booted;
  }
  return Status::Ok();
}

Status MysqlLoader::EndStaleSessions() {
  if (stale_sessions_.empty()) return Status::Ok();
  // A session of the connections given up on may still hold an open
  // transaction, or a COMMIT the server has not read yet (a server that was
  // stopped reads it when it resumes). Reading the checkpoint before they
  // are gone could miss a commit that lands just after: the retry would then
  // apply a partition twice. So they are ended first, and waited for.
  std::vector<unsigned long> mine{mysql_thread_id(control_->raw())};
  for (auto& p : partitions_) mine.push_back(mysql_thread_id(p.conn->raw()));
  std::string ids;
  for (unsigned long id : stale_sessions_) {
    if (std::find(mine.begin(), mine.end(), id) != mine.end()) continue;
    (void)control_->Execute(fmt::format("KILL CONNECTION {}", id));  // 1094 (gone already) is fine
    ids += (ids.empty() ? "" : ",") + std::to_string(id);
  }
  if (!ids.empty()) {
    for (int i = 0;; ++i) {
      ASSIGN_OR_RETURN(auto left, control_->Query(fmt::format(
                                      "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID IN ({})", ids)));
      if (left.empty() || left[0][0].value_or("0") == "0") break;
      if (i >= 300) {
        return Status::Retryable(StatusCode::kIoError, "target {} ({}): earlier sessions ({}) do not end",
                                 options_.target, options_.connect.Describe(), ids);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  stale_sessions_.clear();
  return Status::Ok();
}

Status MysqlLoader::Reconnect() {
  // Batches in flight end on the old connections first; what they did not
  // commit is applied again (the checkpoint read below says what they did).
  (void)GroundFlights();  // their failure is why the caller reconnects
  if (control_) stale_sessions_.push_back(mysql_thread_id(control_->raw()));
  for (const auto& p : partitions_) {
    if (p.conn) stale_sessions_.push_back(mysql_thread_id(p.conn->raw()));
  }
  control_.reset();
  partitions_.clear();
  {
    std::lock_guard lock(pending_mu_);
    pending_conflicts_.clear();  // their transactions are gone with the connections
  }
  Status st = Connect();
  if (st.ok() && options_.epoch > 0) st = RegisterSessions();
  if (st.ok()) st = EndStaleSessions();
  // A server replaced by an empty one (a container re-created without its
  // volume) has no `_sluice` tables: ReadCheckpoint then finds the rows gone.
  if (st.ok()) st = EnsureCheckpointTable();
  if (st.ok() && options_.epoch > 0) {
    // Taken over meanwhile: say so now rather than at the next write.
    st = Begin(*control_);
    if (st.ok()) st = RunStatement(*control_, "COMMIT");
  } else if (st.ok()) {
    auto took_over = TakeOwnership(*control_, *owner_lock_, FenceOptions());
    if (!took_over.ok()) {
      st = took_over.status();
    } else if (*took_over) {
      // The target went on without this process: a new start takes it from
      // where the other one got to (what this one holds may be behind it).
      st = Status::Error(StatusCode::kTargetRewound,
                         "pipeline {} target {}: another sluice process applied this "
                         "pipeline here meanwhile; starting again from where it got to",
                         options_.pipeline, options_.target);
    } else {
      st = RegisterSessions();
    }
  }
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
  bool whole = control_ != nullptr && partitions_.size() == options_.parallel * kSlots;
  for (const auto& p : partitions_) whole &= p.conn != nullptr;
  if (whole) return Status::Ok();
  return Reconnect();
}

Status MysqlLoader::EnsureCheckpointTable() {
  // Through RunStatement, which classifies errors like applying does: a
  // target that is read-only at start-up is retried, not failed for good.
  RETURN_IF_ERROR(
      WithSluiceSchemaGrant(*control_, RunStatement(*control_, "CREATE DATABASE IF NOT EXISTS `_sluice`")));
  if (options_.epoch > 0) RETURN_IF_ERROR(WithSluiceSchemaGrant(*control_, EnsureFenceTables(*control_)));
  if (options_.epoch == 0) RETURN_IF_ERROR(WithSluiceSchemaGrant(*control_, EnsureOwnersTable(*control_)));
  RETURN_IF_ERROR(WithSluiceSchemaGrant(*control_, RunStatement(*control_, kKeylessCopiesTable)));
  return WithSluiceSchemaGrant(*control_, RunStatement(
      *control_,
      "CREATE TABLE IF NOT EXISTS `_sluice`.`checkpoints` ("
      "  pipeline VARCHAR(128) NOT NULL, target VARCHAR(128) NOT NULL, part INT NOT NULL,"
      "  position VARCHAR(600) NOT NULL, resume_position VARCHAR(600) NOT NULL, gtid_state TEXT NOT NULL,"
      "  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),"
      "  PRIMARY KEY (pipeline, target, part)) ENGINE=InnoDB"));
}

Status MysqlLoader::ReadCheckpoint() {
  ASSIGN_OR_RETURN(auto rows,
                   control_->Query(fmt::format("SELECT part, position, resume_position, gtid_state FROM "
                                               "`_sluice`.`checkpoints` WHERE pipeline = {} AND target = {}",
                                               Quote(options_.pipeline), Quote(options_.target))));
  const std::string scheme = PartitionScheme();
  const std::map<int, StreamPos> own = OwnCheckpointRows(rows, scheme, kGlobalPart);
  if (Status lost = committed_rows_.Check(own, options_.target); !lost.ok()) {
    // Until the pipeline starts again, nothing is applied on top of the loss:
    // every later call reconnects, reads the rows and says so again.
    control_.reset();
    partitions_.clear();
    return lost;
  }
  for (const auto& [row, pos] : own) committed_rows_.Note(row, pos);  // committed there when read
  checkpoint_ = Checkpoint();
  checkpoint_.partitions.assign(options_.parallel, StreamPos());
  // A partition row speaks of the keys that hashed to it under the number
  // of partitions it records: with another `parallel`, keys hash to other
  // partitions. Rows of other settings go to old_partitions_ and judge the
  // changes they cover (a crash, or a stop with a batch partly rejected,
  // left them ahead of the global row; replayed, a keyless table's rows
  // would land twice).
  old_partitions_ = OldPartitionRows();
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
    } else if (part >= 0 && static_cast<uint32_t>(part) < options_.parallel * kSlots && r[2] == scheme) {
      // A partition's two slots commit its batches in order: the later row is its progress.
      StreamPos& progress = checkpoint_.partitions[static_cast<uint32_t>(part) % options_.parallel];
      if (progress.empty() || progress < pos) progress = pos;
    } else if (part >= 0 && !old_partitions_.Add(r[2].value_or(""), part, kSlots, pos)) {
      spdlog::warn("target {}: partition row {} of unknown partitioning \"{}\" in `_sluice`.`checkpoints` ignored",
                   options_.target, part, r[2].value_or(""));
    }
  }
  for (auto& p : checkpoint_.partitions) {
    if (p < checkpoint_.global) p = checkpoint_.global;
  }
  old_partitions_.Finish(checkpoint_.global);
  if (!old_partitions_.empty()) {
    const std::string settings = old_partitions_.Settings();
    spdlog::info("target {}: partition checkpoints of `parallel: {}` (now {}); replaying from {}{}", options_.target,
                 settings, options_.parallel,
                 checkpoint_.global.empty() ? "the start position" : checkpoint_.global.ToString(),
                 old_partitions_.until().empty()
                     ? ""
                     : fmt::format(", what the partitions of `parallel: {}` applied up to {} left out", settings,
                                   old_partitions_.until().ToString()));
  }
  ASSIGN_OR_RETURN(auto copies, control_->Query(fmt::format("SELECT tbl, position FROM `_sluice`.`keyless_copies` "
                                                            "WHERE pipeline = {} AND target = {}",
                                                            Quote(options_.pipeline), Quote(options_.target))));
  for (const auto& r : copies) {
    StreamPos pos;
    if (!StreamPos::Parse(r[1].value_or(""), &pos)) {
      return Status::Corruption("target {}: bad position \"{}\" of {} in `_sluice`.`keyless_copies`",
                                options_.target, r[1].value_or(""), r[0].value_or(""));
    }
    if (checkpoint_.global < pos) checkpoint_.keyless_copied_at[r[0].value_or("")] = pos;  // else passed
  }
  return Status::Ok();
}

std::string MysqlLoader::DeleteKeylessCopies() const {
  return fmt::format("DELETE FROM `_sluice`.`keyless_copies` WHERE pipeline = {} AND target = {}",
                     Quote(options_.pipeline), Quote(options_.target));
}

std::string MysqlLoader::PartitionScheme() const { return fmt::format("partitions={}", options_.parallel); }

void MysqlLoader::SettleConflicts(const MysqlConnection& c, bool committed) {
  std::vector<PendingConflict> settled;
  {
    std::lock_guard lock(pending_mu_);
    auto it = pending_conflicts_.find(&c);
    if (it == pending_conflicts_.end() || it->second.empty()) return;
    settled.swap(it->second);
  }
  if (!committed) return;
  for (const PendingConflict& p : settled) {
    NoteConflict(p.table, p.resolution);
    spdlog::warn("{}", p.message);
  }
}

Status MysqlLoader::RunStatement(MysqlConnection& c, const std::string& sql, std::optional<std::string>* first) {
  // latest_wins decisions count once their transaction commits: a batch
  // rolled back and retried decides again (and would count twice).
  if (!options_.conflict_column.empty()) {
    if (sql.starts_with("BEGIN") || sql == "ROLLBACK" || sql == "ROLLBACK TO SAVEPOINT sluice_rows") {
      SettleConflicts(c, false);
    } else if (sql == "COMMIT") {
      Status st = RunStatementNow(c, sql);
      SettleConflicts(c, st.ok());
      return st;
    }
  }
  return RunStatementNow(c, sql, first);
}

Status MysqlLoader::ServerError(unsigned err, const std::string& msg) const {
  if (err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT) {
    return Status::Retryable(StatusCode::kAborted, "target {}: {} (error {})", options_.target, msg, err);
  }
  if (IsRetryableApplyError(err)) {
    return Status::Retryable(StatusCode::kIoError, "target {} ({}): {} (error {})", options_.target,
                             options_.connect.Describe(), msg, err);
  }
  return Status::Error(StatusCode::kServerError, "{} (error {})", msg, err);
}

Status MysqlLoader::RunStatementNow(MysqlConnection& c, const std::string& sql, std::optional<std::string>* first) {
  auto failed = [&] { return ServerError(mysql_errno(c.raw()), mysql_error(c.raw())); };
  if (mysql_real_query(c.raw(), sql.data(), sql.size()) != 0) return failed();
  // Several statements in one round trip (BeginWithCheckpoints, partial
  // upserts of sql_builder's SplitPartial): each
  // result is read; the first that failed ends the others.
  // (mysql_next_result only when there are more: it resets the affected
  // row count that callers read after a single statement.)
  // `first`: the first value of the first result set with a row.
  auto keep = [&](MYSQL_RES* res) {
    if (res == nullptr) return;
    if (first != nullptr && !*first) {
      if (MYSQL_ROW row = mysql_fetch_row(res); row != nullptr && mysql_num_fields(res) > 0 && row[0] != nullptr) {
        *first = std::string(row[0], mysql_fetch_lengths(res)[0]);
      }
    }
    mysql_free_result(res);
  };
  keep(mysql_store_result(c.raw()));
  while (mysql_more_results(c.raw())) {
    if (mysql_next_result(c.raw()) > 0) return failed();
    keep(mysql_store_result(c.raw()));
  }
  return Status::Ok();
}

Status MysqlLoader::WriteCheckpointRow(MysqlConnection& c, int part, const BatchEnd& end) {
  return RunStatement(c, CheckpointRowSql(part, end));
}

std::string MysqlLoader::CheckpointRowSql(int part, const BatchEnd& end) const {
  return fmt::format(
      "INSERT INTO `_sluice`.`checkpoints` (pipeline, target, part, position, resume_position, gtid_state) "
      "VALUES ({}, {}, {}, {}, {}, {}) ON DUPLICATE KEY UPDATE position = VALUES(position), "
      "resume_position = VALUES(resume_position), gtid_state = VALUES(gtid_state)",
      Quote(options_.pipeline), Quote(options_.target), part, Quote(end.pos.ToString()),
      // Partition rows carry the partitioning they belong to (ReadCheckpoint);
      // only the global row's resume position and GTID state are ever read.
      Quote(part == kGlobalPart ? end.resume_position : PartitionScheme()),
      Quote(part == kGlobalPart ? end.gtid_state : std::string()));
}

// Groups consecutive work per table and kind into multi-row statements of
// bounded size: deletes first, then upserts (after merging, each key appears
// once, so their relative order does not matter for keyed tables).
// latest_wins (design section 13), decided in SQL under the row's lock: the
// incoming value L of the conflict column against the target's C. An insert
// or update applies when L >= C (a tie applies the incoming row); a delete
// applies when its before image's L >= C; NULL on a side: the change applies
// (the source wins). An update whose row is missing on the target is
// inserted.
Result<bool> MysqlLoader::LatestWins(MysqlConnection& c, const SinkChange& ch) {
  const TargetTable& t = *ch.table;
  auto col = std::find(t.columns.begin(), t.columns.end(), options_.conflict_column);
  if (!t.has_key() || col == t.columns.end()) return true;  // nothing to compare by
  const size_t ci = static_cast<size_t>(col - t.columns.begin());
  const bool is_delete = ch.kind == SinkChange::Kind::kDelete;
  const Value* incoming = nullptr;
  if (ch.kind == SinkChange::Kind::kUpsert) {
    incoming = &ch.values[ci];
  } else if (is_delete && ch.origin && t.source_index[ci] < ch.origin->before.values.size()) {
    incoming = &ch.origin->before.values[t.source_index[ci]];  // a delete compares its before image
  } else {
    return true;
  }
  if (incoming->kind == ValueKind::kAbsent) return true;
  std::string sql = "SELECT ";
  RETURN_IF_ERROR(AppendLiteral(sql, *incoming));
  sql += " >= ";
  AppendIdentifier(sql, options_.conflict_column);  // NULL when either side is NULL: applies
  sql += ", t.* FROM ";
  AppendQualifiedName(sql, t);
  sql += " AS t WHERE ";
  std::vector<const SinkChange*> one{&ch};
  RETURN_IF_ERROR(AppendKeyIn(sql, t, one));
  sql += " FOR UPDATE";
  auto rows = c.Query(sql);
  if (!rows.ok()) {
    unsigned err = mysql_errno(c.raw());
    if (err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT || IsRetryableApplyError(err)) {
      return Status::Retryable(StatusCode::kAborted, "target {}: latest_wins read: {}", options_.target,
                               rows.status().message());
    }
    return rows.status();
  }
  const std::string table = t.db + "." + t.table;
  auto images = [&](const sluice::mysql::Row* target_row) {
    std::string in = "(", tg = "(";
    for (size_t i = 0; i < ch.values.size(); ++i) {
      if (i) in += ", ";
      (void)AppendLiteral(in, ch.values[i]);
    }
    for (size_t i = 1; target_row && i < target_row->size(); ++i) {  // after the decision
      if (i > 1) tg += ", ";
      tg += (*target_row)[i] ? "'" + *(*target_row)[i] + "'" : "NULL";
    }
    return fmt::format("incoming {} {}), target {}", is_delete ? "delete of" : "row", in,
                       target_row ? tg + ")" : "none");
  };
  // Counted and logged once this transaction commits (SettleConflicts).
  auto defer = [&](const char* resolution, std::string message) {
    std::lock_guard lock(pending_mu_);
    pending_conflicts_[&c].push_back(PendingConflict{table, resolution, std::move(message)});
  };
  if (rows->empty()) {
    if (ch.kind == SinkChange::Kind::kUpsert && ch.op == Op::kUpdate) {
      // Updated on one side, deleted on the other: the row comes back.
      defer("inserted", fmt::format("pipeline {} target {}: conflict on `{}`.`{}` key {} @ {}: update of a missing "
                                    "row, inserted; {}",
                                    options_.pipeline, options_.target, t.db, t.table, DescribeKey(ch),
                                    ch.pos.ToString(), images(nullptr)));
    }
    return true;
  }
  const auto& newer = (*rows)[0][0];
  if (!newer || *newer != "0") return true;  // at least the target's (or NULL on a side: the source wins)
  defer("target_kept",
        fmt::format("pipeline {} target {}: conflict on `{}`.`{}` key {} @ {}: the target's `{}` is newer, kept; {}",
                    options_.pipeline, options_.target, t.db, t.table, DescribeKey(ch), ch.pos.ToString(),
                    options_.conflict_column, images(&(*rows)[0])));
  return false;
}

Status MysqlLoader::ApplyMerged(MysqlConnection& c, const std::vector<SinkChange>& all) {
  // latest_wins: the changes older than their target rows are left out,
  // decided under the rows' locks in this transaction.
  std::vector<SinkChange> newer;
  if (!options_.conflict_column.empty()) {
    newer.reserve(all.size());
    for (const SinkChange& ch : all) {
      ASSIGN_OR_RETURN(bool applies, LatestWins(c, ch));
      if (applies) newer.push_back(ch);
    }
  }
  const std::vector<SinkChange>& changes = options_.conflict_column.empty() ? all : newer;
  std::map<const TargetTable*, std::vector<const SinkChange*>> deletes, upserts;
  std::vector<const TargetTable*> order;
  std::vector<const SinkChange*> keyless;
  // Rows near the target's packet limit go one at a time (ApplyOne), in
  // pieces when they must be.
  const size_t big = StatementBudget(max_packet_.load(std::memory_order_relaxed)) / 4;
  for (const SinkChange& ch : changes) {
    const TargetTable* t = ch.table.get();
    if (!t->has_key() || HasEnumErrorValue(ch) ||
        (ch.kind == SinkChange::Kind::kUpsert && StatementBytesBound(*t, ch) > big)) {
      keyless.push_back(&ch);  // one at a time (ApplyOne)
      continue;
    }
    if (!deletes.count(t) && !upserts.count(t)) order.push_back(t);
    (ch.kind == SinkChange::Kind::kDelete ? deletes[t] : upserts[t]).push_back(&ch);
  }
  auto flush_groups = [&](auto& groups, bool del, StatementBuilder build) -> Status {
    for (const TargetTable* t : order) {
      auto it = groups.find(t);
      if (it == groups.end()) continue;
      std::vector<const SinkChange*> rest;
      RETURN_IF_ERROR(ApplyBulk(c, *t, it->second, del, rest));
      if (rest.empty()) continue;
      RETURN_IF_ERROR(ForEachStatement(*t, rest, SliceBytes(), build,
                                       [&](const std::string& sql) { return RunStatement(c, sql); }));
    }
    return Status::Ok();
  };
  // Deletes look every row up by its key (bulk, or BuildDeleteEach), never
  // an IN list: see BuildDeleteEach.
  RETURN_IF_ERROR(flush_groups(deletes, true, BuildDeleteEach));
  RETURN_IF_ERROR(flush_groups(upserts, false, [this](std::string& out, const TargetTable& t,
                                                const std::vector<const SinkChange*>& rows) {
    return catch_up_ ? BuildReplace(out, t, rows, GeneratedOf(t)) : BuildUpsert(out, t, rows, GeneratedOf(t));
  }));
  for (const SinkChange* ch : keyless) RETURN_IF_ERROR(ApplyOne(c, *ch));
  return Status::Ok();
}

Status MysqlLoader::ApplyBulk(MysqlConnection& c, const TargetTable& t, const std::vector<const SinkChange*>& rows,
                              bool del, std::vector<const SinkChange*>& rest) {
  Partition* part = nullptr;
  for (Partition& p : partitions_) {
    if (p.conn.get() == &c) part = &p;
  }
  std::vector<const SinkChange*> todo;
  for (const SinkChange* r : rows) {
    // A partial upsert updates only the values it has (BuildUpsert's UPDATE).
    (part && bulk_ok_.load(std::memory_order_relaxed) && (del || !IsPartial(*r)) ? todo : rest).push_back(r);
  }
  if (todo.empty()) return Status::Ok();
  const std::vector<bool>* generated = del ? nullptr : GeneratedOf(t);
  BulkKey key{&t, del ? 0 : catch_up_ ? 2 : 1, {}};
  if (!del) {
    key.geometry.assign(t.columns.size(), false);
    for (const SinkChange* r : todo) {
      for (size_t i = 0; i < r->values.size() && i < key.geometry.size(); ++i) {
        if (r->values[i].kind == ValueKind::kGeometry) key.geometry[i] = true;
      }
    }
  }
  auto it = part->bulk.find(key);
  if (it == part->bulk.end()) {
    constexpr size_t kMaxStatements = 64;  // per connection; the server allows 16,382 in all by default
    if (part->bulk.size() >= kMaxStatements) part->bulk.clear();
    auto stmt = sluice::mysql::BulkStatement::Prepare(
        c, del ? BulkDeleteSql(t) : BulkUpsertSql(t, generated, key.geometry, catch_up_));
    if (!stmt.ok() && stmt.status().code() == StatusCode::kNotSupported) {
      if (bulk_ok_.exchange(false)) spdlog::info("target {}: {}; rows go as SQL text", options_.target, stmt.status().message());
      rest.insert(rest.end(), todo.begin(), todo.end());
      return Status::Ok();
    }
    // Any other failure (a missing table, a lost connection) is the same the
    // SQL text would meet: the caller handles it as a failed statement.
    if (!stmt.ok()) return stmt.status();
    it = part->bulk.emplace(std::move(key), BulkEntry{todo.front()->table, std::move(stmt).value()}).first;
  }
  sluice::mysql::BulkStatement& stmt = *it->second.stmt;
  std::vector<Value> params;
  for (size_t start = 0; start < todo.size();) {
    // Slices of about max_statement_bytes of values, as ForEachStatement's.
    size_t end = start, approx = 0;
    params.clear();
    while (end < todo.size() && (end == start || approx < SliceBytes())) {
      if (del) {
        AppendKeyParams(params, t, *todo[end]);
      } else {
        AppendUpsertParams(params, t, *todo[end], generated);
      }
      for (const Value& v : todo[end]->values) approx += v.s.size() + 8;
      ++end;
    }
    Status st = stmt.Execute(params);
    if (st.code() == StatusCode::kNotSupported && stmt.server_errno() == 0) {
      rest.insert(rest.end(), todo.begin() + static_cast<std::ptrdiff_t>(start),
                  todo.begin() + static_cast<std::ptrdiff_t>(end));
    } else if (!st.ok()) {
      return stmt.server_errno() != 0 ? ServerError(stmt.server_errno(), st.message()) : st;
    }
    start = end;
  }
  return Status::Ok();
}

size_t MysqlLoader::SliceBytes() const {
  // A slice's values take at most twice their bytes as SQL, plus the one row
  // that ends it (rows over a quarter of the budget go alone): a statement
  // stays within the target's max_allowed_packet.
  return std::min(options_.max_statement_bytes, StatementBudget(max_packet_.load(std::memory_order_relaxed)) / 8);
}

Status MysqlLoader::ApplyOne(MysqlConnection& c, const SinkChange& ch) {
  if (ch.kind == SinkChange::Kind::kCascade) return ApplyCascade(c, ch);
  std::string sql;
  std::vector<const SinkChange*> one{&ch};
  switch (ch.kind) {
    case SinkChange::Kind::kCascade: break;  // above
    case SinkChange::Kind::kUpsert:
      RETURN_IF_ERROR(catch_up_ ? BuildReplace(sql, *ch.table, one, GeneratedOf(*ch.table))
                                : BuildUpsert(sql, *ch.table, one, GeneratedOf(*ch.table)));
      break;
    case SinkChange::Kind::kDelete: RETURN_IF_ERROR(BuildDelete(sql, *ch.table, one)); break;
    case SinkChange::Kind::kInsert: RETURN_IF_ERROR(BuildInsert(sql, *ch.table, one, GeneratedOf(*ch.table))); break;
    case SinkChange::Kind::kDeleteExact: RETURN_IF_ERROR(BuildDeleteExact(sql, *ch.table, ch)); break;
  }
  const size_t max_packet = max_packet_.load(std::memory_order_relaxed);
  if (sql.size() > StatementBudget(max_packet)) {
    if (ch.kind != SinkChange::Kind::kUpsert) return TooBigForTarget(*ch.table, sql.size(), max_packet);
    return UpsertInPieces(*ch.table, ch, catch_up_, GeneratedOf(*ch.table), max_packet,
                          [&](const std::string& q) { return RunStatement(c, q); });
  }
  if (HasEnumErrorValue(ch)) {
    return RunWithEnumErrorValue(c, ch, sql, [&](const std::string& q) { return RunStatement(c, q); });
  }
  RETURN_IF_ERROR(RunStatement(c, sql));
  // A keyless table's row is found by its every value: when none matches,
  // the target no longer holds what the source held, and going on would
  // leave a stale row (an update) or one too many (a delete) without a word.
  // During a snapshot's catch-up the copied chunk may already lack the row.
  if (ch.kind == SinkChange::Kind::kDeleteExact && !catch_up_ && mysql_affected_rows(c.raw()) == 0) {
    return Status::Error(StatusCode::kServerError,
                         "no row of the keyless target table equals the row the source updated or deleted: the "
                         "target has diverged (`sluice check --repair` fixes it)");
  }
  return Status::Ok();
}

bool HasEnumErrorValue(const SinkChange& ch) {
  if (ch.kind != SinkChange::Kind::kUpsert && ch.kind != SinkChange::Kind::kInsert) return false;
  for (const Value& v : ch.values) {
    if (v.kind == ValueKind::kEnum && v.s.empty()) return true;
  }
  return false;
}

// ENUM's error value '' is what the source holds, and only a session
// without strict mode writes it. Strictness still guards every other column
// of the row: the statement runs under a savepoint, and any warning but the
// ENUM columns' own "Data truncated" undoes it and fails the change.
Status RunWithEnumErrorValue(MysqlConnection& c, const SinkChange& ch, const std::string& sql,
                             const std::function<Status(const std::string&)>& run) {
  RETURN_IF_ERROR(run("SAVEPOINT sluice_enum"));
  RETURN_IF_ERROR(run(fmt::format("SET SESSION sql_mode = '{}'", kLenientSqlMode)));
  Status st = run(sql);
  Result<std::vector<sluice::mysql::Row>> warnings = std::vector<sluice::mysql::Row>();
  if (st.ok() && mysql_warning_count(c.raw()) > 0) warnings = c.Query("SHOW WARNINGS");
  Status restore = run(fmt::format("SET SESSION sql_mode = '{}'", kSqlMode));
  if (!st.ok()) return st;
  if (!restore.ok()) return restore;
  if (!warnings.ok()) return warnings.status();
  for (const auto& w : *warnings) {
    // Level, Code, Message: "Data truncated for column 'e' at row 1".
    const std::string code = w.size() > 1 ? w[1].value_or("") : "";
    const std::string message = w.size() > 2 ? w[2].value_or("") : "";
    bool enum_column = false;
    for (size_t i = 0; i < ch.values.size() && code == std::to_string(kWarnDataTruncated); ++i) {
      const Value& v = ch.values[i];
      if (v.kind != ValueKind::kEnum || !v.s.empty()) continue;
      enum_column |= message.find("column '" + ch.table->columns[i] + "'") != std::string::npos;
    }
    if (!enum_column) {
      (void)run("ROLLBACK TO SAVEPOINT sluice_enum");
      return Status::Error(StatusCode::kServerError, "{} (warning {}; written without strict mode for an ENUM "
                           "error value '', so undone)", message, code);
    }
  }
  return Status::Ok();
}

void MysqlLoader::NoteSkipped(uint64_t n) {
  std::lock_guard lock(skip_mu_);
  rows_skipped_ += n;
}

Status MysqlLoader::Reject(const SinkChange& ch, const Status& error) {
  std::string msg = fmt::format("pipeline {} target {}: table `{}`.`{}` (from {}) key {} @ {}: the target rejected the change: {}",
                                options_.pipeline, options_.target, ch.table->db, ch.table->table, ch.table->source,
                                DescribeKey(ch), ch.pos.ToString(), error.message());
  if (!options_.skip_rejected) return Status::Error(StatusCode::kServerError, "{}", msg);
  std::lock_guard lock(skip_mu_);
  if (!options_.skip_log.empty()) {
    std::string line = SkipRecord(options_.pipeline, options_.target, ch, DescribeKey(ch), error.message());
    // Durable before the batch that leaves the row out commits: a row is
    // never dropped without its record. When the record cannot be written
    // (disk full, no permission) the change is not skipped: the target stops.
    Status written = AppendDurably(options_.skip_log, line);
    if (!written.ok()) {
      return Status::Error(StatusCode::kIoError, "{}; not skipped: {}", written.message(), msg);
    }
  }
  // Counted when the batch leaving it out commits (NoteSkipped).
  spdlog::warn("skipped (on_error: skip): {}", msg);
  return Status::Ok();
}

// One change at a time, in stream order: used when a merged batch hit a
// secondary unique-key conflict (the source's own order never conflicts), and
// to find which change the target rejects.
Status MysqlLoader::ApplyOrdered(MysqlConnection& c, const std::vector<SinkChange>& changes, uint64_t* skipped,
                                 size_t* rejected, bool retry_duplicates) {
  for (size_t i = 0; i < changes.size(); ++i) {
    const SinkChange& ch = changes[i];
    if (!options_.conflict_column.empty()) {  // latest_wins, as in ApplyMerged
      ASSIGN_OR_RETURN(bool applies, LatestWins(c, ch));
      if (!applies) continue;
    }
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
    const unsigned err = mysql_errno(c.raw());
    if (err == ER_NO_SUCH_TABLE || err == ER_BAD_DB_ERROR || err == ER_BAD_FIELD_ERROR) {
      if (rejected) *rejected = i;
      return Status::Error(StatusCode::kSchemaMismatch, "pipeline {} target {}: table `{}`.`{}` (from {}) key {} @ {}: "
                           "{}: {}", options_.pipeline, options_.target, ch.table->db, ch.table->table,
                           ch.table->source, DescribeKey(ch), ch.pos.ToString(), st.message(),
                           GoneFromTargetAdvice(options_.pipeline, err == ER_BAD_FIELD_ERROR));
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

Status MysqlLoader::BeginWithCheckpoints(MysqlConnection& c, const std::vector<int>& parts, const BatchEnd& end,
                                         const BatchEnd* carried_global) {
  // The checkpoint rows come FIRST, before any row of the batch: a snapshot
  // chunk holds them in share mode from before it reads the source until it
  // commits (ChunkWriter::BeginChunk), so this transaction's changes are
  // executed either wholly before the chunk's read or wholly after its
  // commit. Written last, they would only order the COMMITs: a DELETE of a
  // row the chunk has not inserted yet matches nothing and locks nothing
  // (READ COMMITTED), and the chunk then inserts the older row for good.
  // One round trip: BEGIN with the owner check (the fence check in cluster
  // mode is a read of its own), the rows, the savepoint.
  std::string sql;
  // The global row first: part -1 comes before every partition's.
  if (carried_global) sql += CheckpointRowSql(kGlobalPart, *carried_global) + ";";
  for (int part : parts) sql += CheckpointRowSql(part, end) + ";";
  sql += "SAVEPOINT sluice_rows";
  if (options_.epoch == 0) return BeginAsOwner(c, sql);
  RETURN_IF_ERROR(Begin(c));
  Status st = RunStatement(c, sql);
  if (!st.ok()) (void)RunStatement(c, "ROLLBACK");
  return st;
}

Status MysqlLoader::ApplyPartition(Flight& f, uint32_t p) {
  // Begun in its turn (RunPartition), with this partition's checkpoint row written.
  MysqlConnection& c = *partitions_[p + f.slot * options_.parallel].conn;
  const std::vector<const SinkChange*>& rows = f.parts[p];
  PartitionOutcome* out = &f.outcomes[p];
  CommitVote& vote = *f.vote;
  BatchFate* before = f.before.get();
  uint64_t skipped = 0;
  // The batch's changes are copied here, on the partition's thread, not by
  // the thread that splits the batch (between batches, when nothing applies).
  auto own = [&rows] {
    std::vector<SinkChange> changes;
    changes.reserve(rows.size());
    for (const SinkChange* r : rows) changes.push_back(*r);
    return changes;
  };
  std::vector<SinkChange> merged = MergeByKey(own());
  if (before) {
    // The batch before this one wrote this partition's keys on the other
    // slot's connection: not a row of them is touched before it did.
    SLUICE_SYNC_POINT("mysql.partition.waits_for_previous_part");
    before->WaitFor(p, BatchFate::kVoted);
  }
  SLUICE_SYNC_POINT("mysql.partition.applies");
  Status st = ApplyMerged(c, merged);
  if (!st.ok() && !st.retryable() && st.code() != StatusCode::kFenced) {
    // Either a secondary unique key conflict between merged rows, or a row
    // the target rejects: redo in source order, one change at a time (the
    // checkpoint row, before the savepoint, stays written and locked).
    st = RunStatement(c, "ROLLBACK TO SAVEPOINT sluice_rows");
    const std::vector<SinkChange> changes = own();
    size_t rejected = changes.size();
    // A duplicate here is taken for a conflict across partitions (kAborted):
    // ApplyBatch then applies the batch on one connection.
    if (st.ok()) st = ApplyOrdered(c, changes, &skipped, &rejected, /*retry_duplicates=*/true);
    if (rejected < changes.size()) out->rejected = changes[rejected].pos;
  }
  f.fate->Reach(p, BatchFate::kVoted);
  bool commit = vote.Cast(st.ok());
  if (commit && before) {
    // The batch before this one commits first, in every partition: so a
    // change it fails on (on_error: stop) has nothing after it committed,
    // and the global row each carries only grows.
    SLUICE_SYNC_POINT("mysql.partition.waits_for_previous_batch");
    before->done.wait();
    commit = before->all_committed.load();
  }
  if (st.ok() && commit) SLUICE_SYNC_POINT("mysql.partition.before_commit");
  if (st.ok() && commit) st = RunStatement(c, "COMMIT");
  if (!st.ok() || !commit) {
    (void)RunStatement(c, "ROLLBACK");
    return st;
  }
  out->committed = true;
  out->applied = rows.size() - skipped;
  NoteSkipped(skipped);
  return Status::Ok();
}

Status MysqlLoader::StopBefore(const std::vector<SinkChange>& changes, const StreamPos& bad, const Status& rejection) {
  // on_error: stop. Like a replica's SQL thread, stop AT the source
  // transaction of the rejected change: every change of the transactions
  // before it is committed (in every partition), none after, and the global
  // checkpoint resumes at that transaction once the user fixed the cause.
  const StreamPos cut{bad.file, bad.txn_offset, 0};
  std::vector<SinkChange> prefix;
  for (const SinkChange& ch : changes) {
    if (ch.pos < cut) prefix.push_back(ch);
  }
  Status st = ApplyBatchNow(prefix, BatchEnd{cut, cut.ResumePoint(), ""});
  if (st.ok()) st = WriteIdleNow();  // the pipeline stops here: the resume row is written now
  if (!st.ok()) return st;
  spdlog::error("pipeline {} target {}: stopped at the transaction @ {} (everything before it is applied)",
                options_.pipeline, options_.target, cut.ToString());
  return rejection;
}

Status MysqlLoader::ResetCheckpoint() {
  RETURN_IF_ERROR(Settle());
  unwritten_global_.reset();
  committed_rows_.Clear();  // deleted on purpose
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(Begin(*control_));
  Status st = control_->Execute(fmt::format("DELETE FROM `_sluice`.`checkpoints` WHERE pipeline = {} AND target = {}",
                                            Quote(options_.pipeline), Quote(options_.target)));
  if (st.ok()) st = control_->Execute(DeleteKeylessCopies());
  if (st.ok()) st = RunStatement(*control_, "COMMIT");
  if (!st.ok()) (void)RunStatement(*control_, "ROLLBACK");
  RETURN_IF_ERROR(st);
  return ReadCheckpoint();
}

Status MysqlLoader::ReplaceCheckpoint(const BatchEnd& end) {
  RETURN_IF_ERROR(Settle());
  unwritten_global_.reset();
  committed_rows_.Clear();  // replaced on purpose
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(Begin(*control_));
  Status st = RunStatement(*control_, fmt::format("DELETE FROM `_sluice`.`checkpoints` WHERE pipeline = {} AND target = {}",
                                                  Quote(options_.pipeline), Quote(options_.target)));
  if (st.ok()) st = RunStatement(*control_, DeleteKeylessCopies());
  if (st.ok()) st = WriteCheckpointRow(*control_, kGlobalPart, end);
  if (st.ok()) st = RunStatement(*control_, "COMMIT");
  if (!st.ok()) {
    (void)RunStatement(*control_, "ROLLBACK");
    return st;
  }
  return ReadCheckpoint();
}

Status MysqlLoader::ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) {
  RETURN_IF_ERROR(Settle());
  if (HasSequenceChange(changes)) {
    std::vector<SinkChange> rows = changes;
    RETURN_IF_ERROR(ApplySequenceStates(rows));
    return ApplyBatchNow(rows, end);
  }
  return ApplyBatchNow(changes, end);
}

bool MysqlLoader::HasSequenceChange(const std::vector<SinkChange>& changes) {
  return std::any_of(changes.begin(), changes.end(), [](const SinkChange& c) { return c.table->sequence; });
}

Status MysqlLoader::ApplySequenceStates(std::vector<SinkChange>& changes) {
  RETURN_IF_ERROR(EnsureConnected());
  // The last state of each sequence in the batch, in order of first appearance.
  std::vector<const SinkChange*> last;
  for (const SinkChange& c : changes) {
    if (!c.table->sequence || c.kind != SinkChange::Kind::kInsert) continue;
    auto same = std::find_if(last.begin(), last.end(), [&](const SinkChange* l) {
      return l->table->db == c.table->db && l->table->table == c.table->table;
    });
    if (same == last.end()) {
      last.push_back(&c);
    } else {
      *same = &c;
    }
  }
  for (const SinkChange* c : last) {
    const std::string where = fmt::format("sequence {} @ {}", c->table->source, c->pos.ToString());
    std::vector<std::string> v(c->values.size());
    for (size_t i = 0; i < c->values.size(); ++i) RETURN_IF_ERROR(AppendLiteral(v[i], c->values[i]));
    std::string name;
    AppendQualifiedName(name, *c->table);
    if (v.size() != 8) return Status::Invalid("{}: {} columns, not a sequence's 8", where, v.size());
    if (!sequences_seen_.count(name)) {
      // Not made here by its CREATE SEQUENCE or a snapshot (the pipeline
      // started later, or selected it since): made from its state, which
      // holds every attribute of its definition.
      ASSIGN_OR_RETURN(auto columns, TargetColumns(c->table->db, c->table->table));
      if (columns.empty()) {
        RETURN_IF_ERROR(control_
                            ->Execute(fmt::format("CREATE SEQUENCE IF NOT EXISTS {} START WITH {} MINVALUE {} MAXVALUE "
                                                  "{} INCREMENT BY {} CACHE {} {}",
                                                  name, v[3], v[1], v[2], v[4], v[5],
                                                  v[6] == "0" ? "NOCYCLE" : "CYCLE"))
                            .WithContext(where));
        spdlog::info("{}: created sequence {} on the target from its state", where, name);
      }
      sequences_seen_.insert(name);
    }
    const std::string insert = fmt::format("INSERT INTO {} VALUES ({})", name, fmt::join(v, ", "));
    // The fence (cluster mode) or the owner's row is checked, and held in
    // share mode, around the write, so a former owner never sets a sequence
    // back once its successor took over.
    RETURN_IF_ERROR(Begin(*control_));
    Status st = control_->Execute(insert).WithContext(where);
    if (st.ok()) st = RunStatement(*control_, "COMMIT");
    if (!st.ok()) (void)RunStatement(*control_, "ROLLBACK");
    RETURN_IF_ERROR(st);
  }
  std::erase_if(changes, [](const SinkChange& c) { return c.table->sequence; });
  return Status::Ok();
}

Status MysqlLoader::ApplyBatchNow(const std::vector<SinkChange>& changes, const BatchEnd& end) {
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(LoadTableInfo(changes));
  // Before a snapshot's horizon, a chunk may already hold a later image of a
  // row than the change replayed now, and a unique value the change gives
  // its row may then still be held, in the target, by another row that only
  // gets it later in the source's order. Those changes go in source order
  // over one connection with REPLACE (the row holding the value is removed;
  // its own later change, also before the horizon, puts it back).
  if (!old_partitions_.empty() &&
      (old_partitions_.until().empty() ||
       old_partitions_.until() < (changes.empty() ? end.pos : changes.front().pos))) {
    RETURN_IF_ERROR(EndOldSchemes());
  }
  size_t catch_up = 0;
  while (catch_up < changes.size() && InCatchUp(changes[catch_up])) ++catch_up;
  if (catch_up > 0) {
    std::vector<SinkChange> head(changes.begin(), changes.begin() + static_cast<std::ptrdiff_t>(catch_up));
    if (catch_up == changes.size()) return ApplyCatchUp(std::move(head), end);
    // A boundary at or before the head's end: the last resume position.
    RETURN_IF_ERROR(ApplyCatchUp(std::move(head), BatchEnd{changes[catch_up - 1].pos, checkpoint_.resume_position,
                                                            checkpoint_.gtid_state}));
  }
  if (HasCascade(changes)) return ApplyInOrder(changes, catch_up, end);
  Flight f;
  Split(f, changes, catch_up, end, /*carry=*/true);
  workers_.RunEach(f.begun, [&](uint32_t p) { RunPartition(f, p); });
  return Conclude(f);
}

void MysqlLoader::Split(Flight& f, const std::vector<SinkChange>& changes, size_t from, const BatchEnd& end,
                        bool carry) {
  const uint32_t n = options_.parallel;
  f.changes = &changes;
  f.end = end;
  f.parts.assign(n, {});
  for (size_t i = from; i < changes.size(); ++i) {
    const SinkChange& ch = changes[i];
    if (!checkpoint_.global.empty() && ch.pos <= checkpoint_.global) continue;  // applied before a restart
    const uint32_t p = PartitionOf(ch);
    // Redone after a crash or a retry: skip what this partition already committed.
    if (!checkpoint_.partitions[p].empty() && ch.pos <= checkpoint_.partitions[p]) continue;
    f.parts[p].push_back(&ch);
  }
  for (uint32_t p = 0; p < n; ++p) {
    if (!f.parts[p].empty()) f.begun.push_back(p);
  }
  // The previous batch's global row, not written yet (see Conclude), rides
  // in the first partition's transaction: that batch has wholly committed,
  // so the row can only be behind what the target holds, never ahead.
  if (carry) f.carried = unwritten_global_;
  if (f.carried && !f.begun.empty()) f.carrier = f.begun.front();
  f.outcomes.assign(n, {});
  f.results.assign(n, Status::Ok());
  f.vote = std::make_unique<CommitVote>(f.begun.size());
  f.fate = std::make_shared<BatchFate>(f.begun, n);
}

void MysqlLoader::RunPartition(Flight& f, uint32_t p) {
  // Each partition's transaction begins with its checkpoint row
  // (BeginWithCheckpoints), taken one partition after another in part
  // order: the order in which a snapshot chunk takes them in share mode.
  // So the two never wait for each other in a cycle, not even one that
  // InnoDB cannot see (a partition holding its row while it waits, in the
  // vote, for a partition that waits for a row the chunk holds). The turns
  // are taken on the partitions' threads (TurnOrder): the first partition
  // applies its rows while the later ones still begin. A batch in flight
  // behind another takes its turns once each partition finished its part
  // of the one before (a worker runs its tasks in order).
  // Behind another batch, a partition begins after that batch's part of
  // it began: a snapshot chunk taking the checkpoint rows (in part order,
  // this slot's after the other's) then never holds the other slot's row
  // of a part that this one waits for.
  if (f.before) f.before->WaitFor(p, BatchFate::kBegun);
  const size_t turn = static_cast<size_t>(std::find(f.begun.begin(), f.begun.end(), p) - f.begun.begin());
  Status st = f.turns.Wait(turn) ? Status::Ok()
                                 : Status::Retryable(StatusCode::kIoError, "target {}: an earlier partition did not "
                                                     "begin", options_.target);
  if (st.ok()) {
    const uint32_t row = p + f.slot * options_.parallel;
    st = BeginWithCheckpoints(*partitions_[row].conn, {static_cast<int>(row)}, f.end,
                              f.carrier == p ? &*f.carried : nullptr);
    f.turns.Done(turn, st.ok());
  }
  f.fate->Reach(p, BatchFate::kBegun);
  if (!st.ok()) {
    f.fate->Reach(p, BatchFate::kVoted);
    (void)f.vote->Cast(false);  // the others roll back
    f.results[p] = st;
  } else {
    f.results[p] = ApplyPartition(f, p);
  }
  if (!f.outcomes[p].committed) f.fate->all_committed = false;
  f.fate->done.count_down();
}

void MysqlLoader::RecordCommitted(const Flight& f) {
  if (f.carrier && f.outcomes[*f.carrier].committed) {
    committed_rows_.Note(kGlobalPart, f.carried->pos);
    if (unwritten_global_ && unwritten_global_->pos == f.carried->pos) unwritten_global_.reset();
  }
  for (uint32_t p : f.begun) {
    // A partition that committed keeps its progress even if another failed
    // (its COMMIT went through, another's was cut): the retry skips it.
    if (!f.outcomes[p].committed) continue;
    committed_rows_.Note(static_cast<int>(p + f.slot * options_.parallel), f.end.pos);
    checkpoint_.partitions[p] = f.end.pos;
    rows_applied_ += f.outcomes[p].applied;
  }
}

Status MysqlLoader::Conclude(const Flight& f) {
  RecordCommitted(f);
  std::vector<uint32_t> involved;
  for (uint32_t p : f.begun) {
    if (!f.outcomes[p].committed && (!f.results[p].ok() || f.vote->aborted())) involved.push_back(p);
  }
  // Why the batch did not commit: a transient error is retried as a whole
  // first; a rejection stops before the earliest rejected transaction; a
  // conflict between partitions is applied on one connection.
  const Status* rejection = nullptr;
  const StreamPos* earliest = nullptr;
  bool conflict = false;
  for (uint32_t p : f.begun) {
    const Status& st = f.results[p];
    if (st.ok()) continue;
    if (st.retryable() && st.code() != StatusCode::kAborted) return st;
    if (st.code() == StatusCode::kAborted) {
      conflict = true;
    } else if (f.outcomes[p].rejected.empty()) {
      return st;
    } else if (earliest == nullptr || f.outcomes[p].rejected < *earliest) {
      earliest = &f.outcomes[p].rejected;
      rejection = &st;
    }
  }
  if (rejection) return StopBefore(*f.changes, *earliest, *rejection);
  if (conflict) RETURN_IF_ERROR(ApplyConflicted(*f.changes, involved, f.end));
  if (conflict || f.begun.empty()) return AdvanceCheckpointNow(f.end);
  // Every partition committed: the batch is applied, and each partition's
  // row says so for its keys. The global row, which only says where to
  // resume, is written with the next batch (or when the stream goes quiet,
  // WriteIdle) instead of in a transaction (and a log flush) of its own.
  if (checkpoint_.global.empty() || checkpoint_.global < f.end.pos) NoteGlobalCheckpoint(f.end, /*written=*/false);
  return Status::Ok();
}

uint32_t MysqlLoader::PartitionOf(const SinkChange& ch) const { return PartitionOf(ch, options_.parallel); }

uint32_t MysqlLoader::PartitionOf(const SinkChange& ch, uint32_t n) const {
  if (n <= 1) return 0;
  // A table with a unique key besides the one rows are found by goes to one
  // partition: a unique value moving from one row to another is then
  // applied in the source's order, never before the row that held it let go.
  auto it = tables_.find(ch.table.get());
  if (it != tables_.end() && it->second.serial) return static_cast<uint32_t>(TableNameHash(*ch.table) % n);
  return static_cast<uint32_t>(KeyHash(ch) % n);
}

bool MysqlLoader::InCatchUp(const SinkChange& ch) const {
  return (!checkpoint_.catch_up_until.empty() && ch.pos < checkpoint_.catch_up_until) ||
         (!old_partitions_.until().empty() && !(old_partitions_.until() < ch.pos));
}

bool MysqlLoader::AppliedUnderOldScheme(const SinkChange& ch) const {
  return old_partitions_.Applied(ch, [this](const SinkChange& c, uint32_t n) { return PartitionOf(c, n); });
}

Status MysqlLoader::EndOldSchemes() {
  // Past every change the old partitions judged: their rows go (today's are
  // written by the batches from here on).
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(RunStatement(
      *control_, fmt::format("DELETE FROM `_sluice`.`checkpoints` WHERE pipeline = {} AND target = {} AND part >= 0 "
                             "AND resume_position <> {}",
                             Quote(options_.pipeline), Quote(options_.target), Quote(PartitionScheme()))));
  old_partitions_.Clear();
  return Status::Ok();
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
  std::vector<SinkChange> todo;
  for (const SinkChange& ch : changes) {
    if (!checkpoint_.global.empty() && ch.pos <= checkpoint_.global) continue;
    if (!checkpoint_.catch_up_until.empty() && ch.pos < checkpoint_.catch_up_until) continue;  // ApplyCatchUp's
    uint32_t p = PartitionOf(ch);
    if (std::find(conflicted.begin(), conflicted.end(), p) == conflicted.end()) continue;
    const StreamPos& done = checkpoint_.partitions[p];
    if (!done.empty() && ch.pos <= done) continue;
    todo.push_back(ch);
  }
  spdlog::info("target {}: {} changes of {} partitions that conflicted with each other applied together",
               options_.target, todo.size(), conflicted.size());
  MysqlConnection& c = *partitions_[0].conn;
  uint64_t skipped = 0;
  std::vector<int> parts(conflicted.begin(), conflicted.end());  // ascending: see ApplyBatch
  Status st = BeginWithCheckpoints(c, parts, end);
  if (!st.ok()) return st;
  st = ApplyMerged(c, MergeByKey(todo));
  if (!st.ok() && !st.retryable() && st.code() != StatusCode::kFenced) {
    // In source order, one connection: a duplicate now is a real one...
    st = RunStatement(c, "ROLLBACK TO SAVEPOINT sluice_rows");
    size_t rejected = todo.size();
    if (st.ok()) st = ApplyOrdered(c, todo, &skipped, &rejected);
    if (rejected < todo.size()) {
      const bool duplicate = mysql_errno(c.raw()) == kErDupEntry;
      (void)RunStatement(c, "ROLLBACK");
      // ...unless a snapshot copied a later image of the row holding the
      // value (see ApplyBatch): once the snapshot has recorded its horizon,
      // the batch is applied as its catch-up.
      if (duplicate) {
        Result<bool> snapshot = SnapshotExplainsConflict(todo);
        if (snapshot.ok() && *snapshot) {
          return Status::Retryable(StatusCode::kAborted, "target {}: {} (a snapshot copied a later image of the row "
                                   "holding the value; replaying as its catch-up)",
                                   options_.target, st.message());
        }
      }
      return StopBefore(changes, todo[rejected].pos, st);
    }
  }
  if (st.ok()) st = RunStatement(c, "COMMIT");
  if (!st.ok()) {
    (void)RunStatement(c, "ROLLBACK");
    return st;
  }
  for (uint32_t p : conflicted) {
    committed_rows_.Note(static_cast<int>(p), end.pos);
    checkpoint_.partitions[p] = end.pos;
  }
  rows_applied_ += todo.size() - skipped;
  NoteSkipped(skipped);
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

Status MysqlLoader::LoadTableInfo(const std::vector<SinkChange>& changes) {
  const TargetTable* last = nullptr;  // batches are mostly runs of one table
  for (const SinkChange& ch : changes) {
    const TargetTable* t = ch.table.get();
    if (t == last || ch.kind == SinkChange::Kind::kCascade || tables_.count(t)) {
      last = t;
      continue;
    }
    last = t;
    TableInfo info;
    info.pin = ch.table;
    ASSIGN_OR_RETURN(info.generated, ReadGeneratedColumns(*control_, *t));
    if (t->has_key()) {
      ASSIGN_OR_RETURN(auto rows, control_->Query(fmt::format(
                                      "SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS WHERE "
                                      "TABLE_SCHEMA = {} AND TABLE_NAME = {} AND NON_UNIQUE = 0",
                                      Quote(t->db), Quote(t->table))));
      info.serial = !rows.empty() && std::stoi(rows[0][0].value_or("0")) > 1;
    }
    std::unique_lock lock(tables_mu_);
    tables_.emplace(t, std::move(info));
  }
  return Status::Ok();
}

const std::vector<bool>* MysqlLoader::GeneratedOf(const TargetTable& t) const {
  // The entry outlives the lock: entries are only erased with nothing in flight.
  std::shared_lock lock(tables_mu_);
  auto it = tables_.find(&t);
  if (it == tables_.end() || it->second.generated.empty()) return nullptr;
  return &it->second.generated;
}

Status MysqlLoader::ApplyCatchUp(std::vector<SinkChange> changes, const BatchEnd& end) {
  // Skipped: what is applied already, by the global row or by the partition
  // the change hashes to. A partition can be ahead of the global row (its
  // batch committed, the global row did not) when the horizon is learned
  // (Reconnect): replaying its change of a row now, in REPLACE, while its
  // later change of that row (past the horizon) is skipped as done, would
  // leave the older image.
  std::erase_if(changes, [&](const SinkChange& ch) {
    const StreamPos& done = checkpoint_.partitions[PartitionOf(ch)];
    if (AppliedUnderOldScheme(ch)) return true;
    return (!checkpoint_.global.empty() && ch.pos <= checkpoint_.global) || (!done.empty() && ch.pos <= done);
  });
  if (changes.empty()) return AdvanceCheckpointNow(end);
  MysqlConnection& c = *partitions_[0].conn;
  uint64_t skipped = 0;
  // The global row in the same transaction (first, see
  // BeginWithCheckpoints): on a retry or restart, all of it is applied or none.
  Status st = BeginWithCheckpoints(c, {kGlobalPart}, end);
  if (!st.ok()) return st;
  catch_up_ = true;
  st = ApplySegmented(c, changes);
  if (!st.ok() && !st.retryable() && st.code() != StatusCode::kFenced) {
    // A row the target rejects: find it in source order (and skip it with on_error: skip).
    st = RunStatement(c, "ROLLBACK TO SAVEPOINT sluice_rows");
    if (st.ok()) st = ApplyOrdered(c, changes, &skipped);
  }
  catch_up_ = false;
  if (st.ok()) st = RunStatement(c, "COMMIT");
  if (!st.ok()) {
    (void)RunStatement(c, "ROLLBACK");
    return st;
  }
  rows_applied_ += changes.size() - skipped;
  NoteSkipped(skipped);
  NoteGlobalCheckpoint(end);
  return Status::Ok();
}

void MysqlLoader::NoteGlobalCheckpoint(const BatchEnd& end, bool written) {
  if (written) {
    committed_rows_.Note(kGlobalPart, end.pos);
    unwritten_global_.reset();
  } else {
    unwritten_global_ = end;
  }
  checkpoint_.global = end.pos;
  checkpoint_.resume_position = end.resume_position;
  checkpoint_.gtid_state = end.gtid_state;
  for (auto& p : checkpoint_.partitions) {
    if (p < end.pos) p = end.pos;
  }
}

Status MysqlLoader::WriteIdle() {
  RETURN_IF_ERROR(Settle());
  return WriteIdleNow();
}

Status MysqlLoader::WriteIdleNow() {
  if (!unwritten_global_) return Status::Ok();
  return WriteGlobalCheckpoint(BatchEnd(*unwritten_global_));
}

Status MysqlLoader::AdvanceCheckpoint(const BatchEnd& end) {
  RETURN_IF_ERROR(Settle());  // the global row never gets ahead of a batch in flight
  return AdvanceCheckpointNow(end);
}

Status MysqlLoader::AdvanceCheckpointNow(const BatchEnd& end) {
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) {
    // Behind what is applied: nothing to record, except a row kept back.
    return WriteIdleNow();
  }
  return WriteGlobalCheckpoint(end);
}

Status MysqlLoader::WriteGlobalCheckpoint(const BatchEnd& end) {
  RETURN_IF_ERROR(EnsureConnected());
  // BEGIN with the owner check and the row in one round trip (the fence
  // check in cluster mode is a read of its own); COMMIT only once the
  // check passed.
  const std::string write = CheckpointRowSql(kGlobalPart, end);
  Status st = options_.epoch == 0 ? BeginAsOwner(*control_, write) : Begin(*control_);
  if (st.ok() && options_.epoch > 0) st = RunStatement(*control_, write);
  if (st.ok()) st = RunStatement(*control_, "COMMIT");
  if (!st.ok()) {
    (void)RunStatement(*control_, "ROLLBACK");
    return st;
  }
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

Result<bool> MysqlLoader::TargetDatabaseExists(const std::string& db) {
  RETURN_IF_ERROR(EnsureConnected());
  ASSIGN_OR_RETURN(auto rows, control_->Query(fmt::format(
                                  "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}", Quote(db))));
  return !rows.empty();
}

Status MysqlLoader::ApplyDdl(const DdlChange& ddl, const BatchEnd& end) {
  RETURN_IF_ERROR(Settle());
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) return Status::Ok();  // replayed
  RETURN_IF_ERROR(EnsureConnected());
  // A statement without its table named (database statements, renames)
  // builds every deferred index first: they are rare, and a rename would
  // otherwise leave a record under the old name.
  RETURN_IF_ERROR(BuildDeferredIndexes(*control_, ddl.target_table.empty() ? "" : ddl.target_db, ddl.target_table,
                                       /*keep_missing=*/true)
                      .WithContext(fmt::format("before the DDL @ {}", end.pos.ToString())));
  return ApplyDdlSql(ddl.db, ddl.query, end, ddl.session);
}

Status MysqlLoader::ApplyDdlSql(const std::string& db, const std::string& query, const BatchEnd& end,
                                const DdlSession& session) {
  RETURN_IF_ERROR(Settle());
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) return Status::Ok();  // replayed
  RETURN_IF_ERROR(EnsureConnected());
  {
    std::unique_lock lock(tables_mu_);
    tables_.clear();  // a table's generated columns and keys may change
  }
  for (Partition& p : partitions_) p.bulk.clear();  // and its statements
  // Without a read timeout: an ALTER of a large table may take hours.
  sluice::mysql::ConnectOptions o = options_.connect;
  o.read_timeout_s = 0;
  auto ddl_conn = OpenSession(o);
  if (!ddl_conn.ok()) {
    return Status::Retryable(StatusCode::kIoError, "target {}: {}", options_.target, ddl_conn.status().message());
  }
  MysqlConnection& ddl = **ddl_conn;
  // The control session holds the fence (with an epoch) or the owner's row
  // in share mode from before the statement until its checkpoint commits:
  // a successor's raise waits for both (or kills both sessions, registered,
  // first); another process's takeover waits for them.
  if (options_.epoch > 0) RETURN_IF_ERROR(RegisterSession(ddl, FenceOptions()));
  RETURN_IF_ERROR(Begin(*control_));
  auto fail = [&](Status st) {
    (void)RunStatement(*control_, "ROLLBACK");
    return st;
  };
  {
    Status st = SetDdlSession(ddl, session, fmt::format("target {}: DDL @ {}", options_.target, end.pos.ToString()));
    if (!st.ok()) return fail(st);
  }
  if (!db.empty()) {
    std::string use = "USE ";
    AppendIdentifier(use, db);
    Status st = RunStatement(ddl, use);
    if (!st.ok() && st.retryable()) return fail(st);
    // A database that does not exist on the target yet: run unqualified.
  }
  // The statement runs on a thread of its own; this one probes the server on
  // the control connection (which has the timeouts): a long ALTER keeps a
  // live server answering, a hung one does not. Then the statement's
  // connection is cut, and the reconnect ends its server session before
  // the statement is tried again.
  auto running = std::async(std::launch::async, [&] { return RunStatement(ddl, query); });
  auto next_probe = std::chrono::steady_clock::now() + std::chrono::seconds(kDdlProbeS);
  while (running.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (std::chrono::steady_clock::now() < next_probe) continue;
    Status probe = RunStatement(*control_, "SELECT 1");
    next_probe = std::chrono::steady_clock::now() + std::chrono::seconds(kDdlProbeS);
    if (probe.ok() || !probe.retryable()) continue;
    stale_sessions_.push_back(mysql_thread_id(ddl.raw()));
    ::shutdown(static_cast<int>(mysql_get_socket(ddl.raw())), SHUT_RDWR);
    (void)running.get();
    return fail(Status::Retryable(StatusCode::kIoError, "{} (during DDL @ {}: {})", probe.message(),
                                  end.pos.ToString(), query.substr(0, 100)));
  }
  Status st = running.get();
  if (!st.ok()) {
    if (st.retryable()) return fail(st);
    unsigned err = mysql_errno(ddl.raw());
    if (!IsAlreadyAppliedDdlError(err)) {
      // The caller names the pipeline and target.
      return fail(Status::Error(StatusCode::kServerError, "DDL @ {} failed: {}: {}", end.pos.ToString(),
                                st.message(), query.substr(0, 300)));
    }
    spdlog::info("target {}: DDL already in effect, skipped ({}): {}", options_.target, st.message(),
                 query.substr(0, 200));
  }
  SLUICE_SYNC_POINT("mysql.ddl.before_checkpoint");  // run, not recorded: a restart runs it again
  st = WriteCheckpointRow(*control_, kGlobalPart, end);
  if (st.ok()) st = RunStatement(*control_, "COMMIT");
  if (!st.ok()) return fail(st);
  NoteGlobalCheckpoint(end);
  return Status::Ok();
}

}  // namespace sluice::sink::mysql
