#include "sink/clickhouse/clickhouse_sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "core/json_writer.h"
#include "core/sync_point.h"
#include "sink/cascade_sql.h"
#include "sink/clickhouse/clickhouse_tables.h"
#include "sink/clickhouse/column_retype.h"
#include "sink/clickhouse/ddl_effect.h"
#include "sink/clickhouse/type_map.h"
#include "sink/clickhouse/version.h"
#include "sink/merge.h"
#include "sink/skip_log.h"

namespace sluice::sink::clickhouse {

using sluice::clickhouse::ClickhouseClient;
using sluice::clickhouse::QuoteIdentifier;
using sluice::clickhouse::QuoteString;

Result<std::unique_ptr<ClickhouseSink>> ClickhouseSink::Open(const SinkOptions& options) {
  ASSIGN_OR_RETURN(auto client, sluice::clickhouse::ClientOptions::FromUrl(options.url));
  std::unique_ptr<ClickhouseSink> sink(new ClickhouseSink(options, std::move(client)));
  RETURN_IF_ERROR(sink->Connect());
  return sink;
}

Status ClickhouseSink::Connect() {
  client_ = std::make_unique<ClickhouseClient>(client_options_);
  client_->SetInterrupter(options_.interrupt);
  tables_.clear();  // the server may have been restarted or changed meanwhile
  RETURN_IF_ERROR(EnsureCheckpointTable());
  if (!takeover_checked_) {
    RETURN_IF_ERROR(
        TakeOverRenamedTarget(*client_, options_.pipeline, options_.target, options_.former_targets).status());
    takeover_checked_ = true;
  }
  return ReadCheckpoint();
}

Status ClickhouseSink::Reconnect() { return Connect(); }

Status ClickhouseSink::Run(const std::string& sql) {
  auto r = client_->Query(sql);
  if (!r.ok()) {
    return r.status().WithContext(
        fmt::format("pipeline {} target {}: {}", options_.pipeline, options_.target, sql.substr(0, 200)));
  }
  return Status::Ok();
}

Status ClickhouseSink::EnsureCheckpointTable() {
  Status st = clickhouse::EnsureCheckpointTable(*client_);
  if (!st.ok()) return st.WithContext(fmt::format("pipeline {} target {}", options_.pipeline, options_.target));
  return st;
}

Status ClickhouseSink::ReadCheckpoint() {
  auto row = ReadCheckpointRow(*client_, options_.pipeline, options_.target);
  if (!row.ok())
    return row.status().WithContext(
        fmt::format("pipeline {} target {}: read checkpoint", options_.pipeline, options_.target));
  StreamPos global;
  if (row->has_value() && !(*row)->global_pos.empty() && !StreamPos::Parse((*row)->global_pos, &global)) {
    return Status::Corruption("pipeline {} target {}: bad checkpoint position \"{}\"", options_.pipeline,
                              options_.target, (*row)->global_pos);
  }
  // Behind what was recorded (or gone): the server came back from an older
  // state. Kept, so that every later call says so until the pipeline starts again.
  std::map<int, StreamPos> now;
  if (!global.empty()) now[kCheckpointRow] = global;
  rewound_ = committed_.Check(now, options_.target);
  RETURN_IF_ERROR(rewound_);
  if (!global.empty()) committed_.Note(kCheckpointRow, global);  // recorded there when read
  checkpoint_ = Checkpoint();
  checkpoint_version_ = 0;
  read_on_connection_ = client_->connections();
  if (!row->has_value()) return Status::Ok();
  const CheckpointRow& r = **row;
  checkpoint_.global = global;
  checkpoint_.resume_position = r.resume_position;
  checkpoint_.gtid_state = r.gtid_state;
  checkpoint_version_ = r.version;
  return Status::Ok();
}

bool ClickhouseSink::SameConnectionSinceRead() {
  const bool same = client_->connections() == read_on_connection_ && client_->ConnectionReusable();
  return same || !client_->keeps_connections();  // connections tell nothing (ReadCheckpointIfReconnected)
}

Status ClickhouseSink::ReadCheckpointIfReconnected() {
  if (!rewound_.ok()) return rewound_;
  const bool same = SameConnectionSinceRead();
  if (!client_->keeps_connections()) {
    // A server (or proxy) that closes connections after each answer: a pause
    // is the only sign that it may have restarted. Shorter than any restart:
    // within it, a request that fails shows an outage (and Reconnect reads
    // the checkpoint).
    constexpr auto kPause = std::chrono::milliseconds(250);
    if (std::chrono::steady_clock::now() - client_->last_answer() < kPause) return Status::Ok();
    return ReadCheckpoint();
  }
  if (same) return Status::Ok();
  return ReadCheckpoint();
}

Status ClickhouseSink::WriteCheckpoint(const StreamPos& global, const std::string& resume_position,
                                       const std::string& gtid_state) {
  CheckpointRow row{global.empty() ? "" : global.ToString(), resume_position, gtid_state, checkpoint_version_ + 1};
  Status st = WriteCheckpointRow(*client_, options_.pipeline, options_.target, row);
  if (!st.ok())
    return st.WithContext(fmt::format("pipeline {} target {}: record checkpoint", options_.pipeline, options_.target));
  ++checkpoint_version_;
  if (global.empty()) {
    committed_.Clear();  // reset on purpose
  } else {
    committed_.Note(kCheckpointRow, global);
  }
  checkpoint_.global = global;
  checkpoint_.resume_position = resume_position;
  checkpoint_.gtid_state = gtid_state;
  return Status::Ok();
}

Status ClickhouseSink::AdvanceCheckpoint(const BatchEnd& end) {
  RETURN_IF_ERROR(ReadCheckpointIfReconnected());
  return WriteCheckpoint(end.pos, end.resume_position, end.gtid_state);
}

Status ClickhouseSink::ResetCheckpoint() { return WriteCheckpoint(StreamPos(), "", ""); }

Result<std::vector<std::string>> ClickhouseSink::TargetColumns(const std::string& db, const std::string& table) {
  ASSIGN_OR_RETURN(auto cols, DescribeTable(*client_, db, table));
  std::vector<std::string> names;
  for (const auto& [name, type] : cols) {
    if (name != "_version" && name != "_sign") names.push_back(name);
  }
  return names;
}

Result<const ClickhouseSink::TableState*> ClickhouseSink::EnsureTable(const TargetTablePtr& table) {
  if (auto it = tables_.find(table.get()); it != tables_.end()) return &it->second;
  const TargetTable& t = *table;
  const std::string where = fmt::format("pipeline {} target {}: table {}.{} (from {})", options_.pipeline,
                                        options_.target, t.db, t.table, t.source);
  ASSIGN_OR_RETURN(TableWriter writer, EnsureTargetTable(*client_, t, where));
  TableState state{table, std::move(writer)};
  auto [it, inserted] = tables_.emplace(table.get(), std::move(state));
  return &it->second;
}

std::string ClickhouseSink::Where(const SinkChange& c) const {
  return fmt::format("pipeline {} target {}: table `{}`.`{}` (from {}) key {} @ {}", options_.pipeline, options_.target,
                     c.table->db, c.table->table, c.table->source, DescribeKey(c), c.pos.ToString());
}

Status ClickhouseSink::Reject(const SinkChange& c, const Status& error) {
  std::string msg = fmt::format("{}: ClickHouse cannot hold the change exactly: {}", Where(c), error.message());
  if (!options_.skip_rejected) return Status::Error(StatusCode::kNotSupported, "{}", msg);
  if (!options_.skip_log.empty()) {
    std::string line = SkipRecord(options_.pipeline, options_.target, c, DescribeKey(c), error.message());
    Status written = AppendDurably(options_.skip_log, line);
    if (!written.ok()) return Status::Error(StatusCode::kIoError, "{}; not skipped: {}", written.message(), msg);
  }
  spdlog::warn("skipped (on_error: skip): {}", msg);
  return Status::Ok();
}

Status ClickhouseSink::AppendRow(std::string& out, const TableState& t, const SinkChange& c) {
  const bool del = c.kind == SinkChange::Kind::kDelete;
  auto version = VersionOf(c.pos);
  if (!version.ok()) return version.status().WithContext(Where(c));
  Status st = clickhouse::AppendRow(out, t.writer, c, *version, del ? -1 : 1);
  if (st.ok()) return st;
  Status rejected = Reject(c, st);
  if (!rejected.ok()) return rejected;
  ++rows_skipped_;
  return Status::Ok();
}

Status ClickhouseSink::ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) {
  RETURN_IF_ERROR(ReadCheckpointIfReconnected());
  // Already there (a replay after a restart): skipping saves the work; a
  // rewrite would be harmless.
  const StreamPos already_there = checkpoint_.global;
  const uint64_t skipped_before = rows_skipped_.load();
  // The rows and the checkpoint that records them go over one connection,
  // so to one server process: one restarted in between (from a backup, or
  // after a crash that lost rows it had acknowledged) may hold the
  // checkpoint without the rows. A new connection on the way reads the
  // checkpoint again (a server that lost earlier batches too answers
  // kTargetRewound) and writes the batch again: its rows keep their versions.
  while (true) {
    size_t applied = 0;
    rows_skipped_ = skipped_before;
    std::vector<SinkChange> fresh;
    fresh.reserve(changes.size());
    for (const SinkChange& c : changes) {
      if (already_there.empty() || already_there < c.pos) fresh.push_back(c);
    }
    // Foreign key actions read the rows the changes before them wrote: those
    // are inserted first, and the ones after them after.
    Status st = HasCascade(fresh)
                    ? ForEachRunAndCascade(
                          fresh, [&](std::vector<SinkChange> run) { return InsertRows(std::move(run), end, &applied); },
                          [&](const SinkChange& c) {
                            ++applied;
                            return ApplyCascade(c);
                          })
                    : InsertRows(std::move(fresh), end, &applied);
    SLUICE_SYNC_POINT("clickhouse.batch.before_checkpoint");
    bool reconnected = st.ok() && !SameConnectionSinceRead();
    if (st.ok() && !reconnected) {
      st = WriteCheckpoint(end.pos, end.resume_position, end.gtid_state);
      reconnected = st.ok() && client_->keeps_connections() && client_->connections() != read_on_connection_;
    }
    if (st.ok() && !reconnected) {
      client_->NoteKept();
      rows_applied_ += applied - (rows_skipped_.load() - skipped_before);
      return Status::Ok();
    }
    rows_skipped_ = skipped_before;
    if (!st.ok()) return st;
    if (client_->NoteCut()) {
      WarnConnectionsTellNothing();
    } else {
      spdlog::info(
          "pipeline {} target {}: ClickHouse closed the connection while the batch up to {} was written (restarted, "
          "or its keep-alive timeout): its checkpoint is read again and the batch written again",
          options_.pipeline, options_.target, end.pos.ToString());
    }
    tables_.clear();  // a table this batch made may be gone with its rows
    RETURN_IF_ERROR(ReadCheckpoint());
  }
}

void ClickhouseSink::WarnConnectionsTellNothing() const {
  spdlog::warn(
      "pipeline {} target {}: ClickHouse closed the connection {} times in a row while writing: taken for a "
      "server or proxy that closes connections between requests; a restart between two requests of a "
      "batch can then not be seen (keep connections open: a keep_alive_timeout of several seconds)",
      options_.pipeline, options_.target, sluice::clickhouse::ClickhouseClient::kCutsToLearn);
}

Status ClickhouseSink::InsertRows(std::vector<SinkChange> changes, const BatchEnd& end, size_t* applied) {
  std::vector<SinkChange> merged = MergeByKey(std::move(changes));
  // One INSERT per table version, every row encoded before any is sent: a
  // refused value (on_error: stop) leaves the whole batch unwritten.
  std::vector<std::pair<const TableState*, std::string>> inserts;
  std::map<const TargetTable*, size_t> slot;
  for (const SinkChange& c : merged) {
    auto [it, added] = slot.emplace(c.table.get(), inserts.size());
    if (added) {
      ASSIGN_OR_RETURN(const TableState* t, EnsureTable(c.table));
      inserts.emplace_back(t, std::string());
    }
    auto& [t, rows] = inserts[it->second];
    RETURN_IF_ERROR(AppendRow(rows, *t, c));
  }
  for (const auto& [t, rows] : inserts) {
    if (rows.empty()) continue;
    auto r = client_->Insert(t->writer.insert_sql, rows);
    if (!r.ok()) {
      return r.status().WithContext(fmt::format("pipeline {} target {}: insert into {}.{} (from {}) up to {}",
                                                options_.pipeline, options_.target, t->pin->db, t->pin->table,
                                                t->pin->source, end.pos.ToString()));
    }
  }
  *applied += merged.size();
  return Status::Ok();
}

Status ClickhouseSink::AddColumns(const DdlChange& ddl, const BatchEnd& end) {
  auto existing = DescribeTable(*client_, ddl.target_db, ddl.target_table);
  if (!existing.ok()) return existing.status();
  if (existing->empty()) return Status::Ok();  // made with its first rows, in the new shape
  const std::string table = TableName(ddl.target_db, ddl.target_table);
  for (const DdlChange::AddedColumn& c : ddl.added_columns) {
    bool have = std::any_of(existing->begin(), existing->end(), [&](const auto& e) { return e.first == c.name; });
    if (have) continue;  // a replay
    auto type = ClickhouseColumnType(c.meta, /*in_key=*/false);
    if (!type.ok()) {
      return type.status().WithContext(fmt::format("pipeline {} target {}: DDL @ {}: column {}", options_.pipeline,
                                                   options_.target, end.pos.ToString(), c.name));
    }
    std::string sql = fmt::format("ALTER TABLE {} ADD COLUMN {} {}", table, QuoteIdentifier(c.name), *type);
    if (c.existing_value) sql += fmt::format(" DEFAULT CAST({} AS {})", QuoteString(*c.existing_value), *type);
    RETURN_IF_ERROR(Run(sql));
    spdlog::info("pipeline {} target {}: DDL @ {}: {}", options_.pipeline, options_.target, end.pos.ToString(), sql);
  }
  return Status::Ok();
}

// ClickHouse 18.16 cannot rename a column: the table is copied with the
// new names (column_retype.h). A replay finds the old name gone.
Status ClickhouseSink::RenameColumns(const DdlChange& ddl,
                                     const std::vector<std::pair<std::string, std::string>>& renamed,
                                     const BatchEnd& end) {
  const std::string where = DdlWhere(ddl, end);
  if (!ddl.same_columns) {
    return Status::Error(StatusCode::kNotSupported,
                         "{}: renaming a column of a table whose rule subsets or renames columns is not followed (the "
                         "rule names the old column); change the rule to the new name, rename the column in "
                         "ClickHouse by hand and set the pipeline's position past the statement: {}",
                         where, ddl.query.substr(0, 300));
  }
  RETURN_IF_ERROR(FinishInterruptedRetype(*client_, ddl.target_db, ddl.target_table, where));
  ASSIGN_OR_RETURN(auto existing, DescribeTable(*client_, ddl.target_db, ddl.target_table));
  if (existing.empty()) return Status::Ok();  // made with its first rows, in the new shape
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::map<std::string, CopiedColumn> changes;
  for (const auto& [from, to] : renamed) {
    // MySQL's column names are case-insensitive; ClickHouse holds the source's spelling.
    auto it = std::find_if(existing.begin(), existing.end(),
                           [&](const auto& e) { return e.first == from || lower(e.first) == lower(from); });
    if (it == existing.end() || it->first == to) continue;  // renamed before a restart, or never here
    changes[it->first] = {to, it->second};
  }
  if (changes.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(std::vector<std::string> key, SortingKey(*client_, ddl.target_db, ddl.target_table));
  for (std::string& k : key) {
    if (auto it = changes.find(k); it != changes.end()) k = it->second.name;
  }
  tables_.clear();
  return ReplaceByCopy(*client_, ddl.target_db, ddl.target_table, existing, changes, key, where,
                       "columns renamed, which ClickHouse 18.16 cannot do in place");
}

std::string ClickhouseSink::DdlWhere(const DdlChange& ddl, const BatchEnd& end) const {
  return fmt::format("pipeline {} target {}: table {}.{}: DDL @ {}", options_.pipeline, options_.target, ddl.target_db,
                     ddl.target_table, end.pos.ToString());
}

// The table is renamed as on the source (kept, no longer written, when no
// rule selects the new name). A replay finds it renamed.
Status ClickhouseSink::RenameTable(const DdlChange& ddl, const std::pair<std::string, std::string>& to,
                                   const BatchEnd& end) {
  const std::string where = DdlWhere(ddl, end);
  if (!ddl.one_to_one) {
    return Status::Error(StatusCode::kNotSupported,
                         "{}: a table the rules rename or subset cannot follow a rename (its rows in ClickHouse "
                         "stay under the old name); rename it in ClickHouse by hand, adjust the rule and set the "
                         "pipeline's position past the statement: {}",
                         where, ddl.query.substr(0, 300));
  }
  const std::string new_db = to.first.empty() ? ddl.db : to.first;
  if (new_db == ddl.target_db && to.second == ddl.target_table) return Status::Ok();
  ASSIGN_OR_RETURN(auto old_columns, DescribeTable(*client_, ddl.target_db, ddl.target_table));
  if (old_columns.empty()) return Status::Ok();  // renamed before a restart, or never written
  ASSIGN_OR_RETURN(auto new_columns, DescribeTable(*client_, new_db, to.second));
  if (!new_columns.empty()) {
    return Status::Error(StatusCode::kNotSupported, "{}: cannot rename it to {}.{}, which ClickHouse already has",
                         where, new_db, to.second);
  }
  RETURN_IF_ERROR(Run("CREATE DATABASE IF NOT EXISTS " + QuoteIdentifier(new_db)));
  RETURN_IF_ERROR(Run(
      fmt::format("RENAME TABLE {} TO {}", TableName(ddl.target_db, ddl.target_table), TableName(new_db, to.second))));
  spdlog::info("{}: renamed to {}.{}", where, new_db, to.second);
  tables_.clear();
  return Status::Ok();
}

Status ClickhouseSink::CheckpointAfterDdl(const DdlChange& ddl, const BatchEnd& end) {
  SLUICE_SYNC_POINT("clickhouse.ddl.before_checkpoint");
  if (!SameConnectionSinceRead()) {
    if (client_->NoteCut()) {
      WarnConnectionsTellNothing();
    } else {
      tables_.clear();
      return Status::Retryable(StatusCode::kIoError,
                               "{}: ClickHouse closed the connection while the DDL was applied (restarted, or its "
                               "keep-alive timeout): it is applied again",
                               DdlWhere(ddl, end));
    }
  }
  RETURN_IF_ERROR(WriteCheckpoint(end.pos, end.resume_position, end.gtid_state));
  client_->NoteKept();
  return Status::Ok();
}

Status ClickhouseSink::ApplyDdl(const DdlChange& ddl, const BatchEnd& end) {
  RETURN_IF_ERROR(ReadCheckpointIfReconnected());
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) return Status::Ok();  // applied before a restart
  if (ddl.table) {
    // A PostgreSQL source's added columns: added now, with the default
    // older rows read on the source (not left to the table's next rows,
    // which may be long in coming).
    tables_.clear();
    ASSIGN_OR_RETURN(const TableState* t, EnsureTable(ddl.table));
    (void)t;
    return CheckpointAfterDdl(ddl, end);
  }
  DdlEffect effect = ClassifyDdl(ddl.query, !ddl.added_columns.empty());
  using K = DdlEffect::Kind;
  const std::string table = ddl.target_table.empty() ? "" : TableName(ddl.target_db, ddl.target_table);
  switch (effect.kind) {
    case K::kCreateDatabase:
      if (!ddl.target_db.empty())
        RETURN_IF_ERROR(Run("CREATE DATABASE IF NOT EXISTS " + QuoteIdentifier(ddl.target_db)));
      break;
    case K::kDropDatabase:
      if (!ddl.target_db.empty() && ddl.target_db != "_sluice") {
        RETURN_IF_ERROR(Run("DROP DATABASE IF EXISTS " + QuoteIdentifier(ddl.target_db)));
        tables_.clear();
      }
      break;
    case K::kDropTable:
      if (!table.empty()) {
        RETURN_IF_ERROR(Run("DROP TABLE IF EXISTS " + table));
        tables_.clear();
      }
      break;
    case K::kTruncateTable:
      if (!table.empty()) {
        auto cols = DescribeTable(*client_, ddl.target_db, ddl.target_table);
        if (!cols.ok()) return cols.status();
        if (!cols->empty()) RETURN_IF_ERROR(Run("TRUNCATE TABLE " + table));
      }
      break;
    case K::kAlterTable:
      // Columns a MySQL source added: added now, with the value the rows
      // already there hold on the source (ClickHouse computes a default for
      // the parts written before the column). Otherwise reshaped with the
      // table's next rows, which carry the new schema.
      if (!effect.renamed_columns.empty() && !table.empty()) {
        RETURN_IF_ERROR(RenameColumns(ddl, effect.renamed_columns, end));
      }
      if (!ddl.added_columns.empty() && !table.empty()) RETURN_IF_ERROR(AddColumns(ddl, end));
      if (effect.renamed_to && !table.empty()) RETURN_IF_ERROR(RenameTable(ddl, *effect.renamed_to, end));
      tables_.clear();
      break;
    case K::kSkip:
      break;
    case K::kUnsupported:
      return Status::Error(StatusCode::kNotSupported,
                           "pipeline {} target {}: DDL on {}.{} @ {}: {} is not supported by a ClickHouse target: {}",
                           options_.pipeline, options_.target, ddl.target_db, ddl.target_table, end.pos.ToString(),
                           effect.reason, ddl.query.substr(0, 300));
  }
  return CheckpointAfterDdl(ddl, end);
}

}  // namespace sluice::sink::clickhouse
