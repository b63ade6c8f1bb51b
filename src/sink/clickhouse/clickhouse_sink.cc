#include "sink/clickhouse/clickhouse_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/json_writer.h"
#include "sink/clickhouse/ddl_effect.h"
#include "sink/clickhouse/version.h"
#include "sink/merge.h"
#include "sink/skip_log.h"

namespace sluice::sink::clickhouse {
namespace {

using sluice::clickhouse::AppendTsvEscaped;
using sluice::clickhouse::ClickhouseClient;
using sluice::clickhouse::QuoteIdentifier;
using sluice::clickhouse::QuoteString;

constexpr std::string_view kCheckpointTable = "`_sluice`.`checkpoints`";

std::string TableName(const std::string& db, const std::string& table) {
  return QuoteIdentifier(db) + "." + QuoteIdentifier(table);
}

std::string DescribeKey(const SinkChange& c) {
  const TargetTable& t = *c.table;
  std::string out;
  if (t.key.size() > 1) out += '(';
  for (size_t k = 0; k < t.key.size(); ++k) {
    if (k) out += ", ";
    out += t.columns[t.key[k]] + "=";
    std::string v;
    AppendJsonValue(v, c.values[t.key[k]]);
    if (v.size() > 64) v = v.substr(0, 61) + "...";
    out += v;
  }
  if (t.key.size() > 1) out += ')';
  return out;
}

// The RowBinary default of a column, for the columns a delete's image lacks.
void AppendDefault(std::string& out, const ColumnEncoding& e) {
  if (e.nullable) {
    out += '\1';
    return;
  }
  using K = ColumnEncoding::Kind;
  switch (e.kind) {
    case K::kInt:
    case K::kUInt:
    case K::kDecimal:
      out.append(e.bytes, '\0');
      break;
    case K::kFloat32:
      out.append(4, '\0');
      break;
    case K::kFloat64:
      out.append(8, '\0');
      break;
    case K::kString:
      out += '\0';
      break;  // length 0
    case K::kDate:
      out.append(2, '\0');
      break;
    case K::kDateTime:
      out.append(4, '\0');
      break;
  }
}

}  // namespace

Result<std::unique_ptr<ClickhouseSink>> ClickhouseSink::Open(const SinkOptions& options) {
  ASSIGN_OR_RETURN(auto client, sluice::clickhouse::ClientOptions::FromUrl(options.url));
  std::unique_ptr<ClickhouseSink> sink(new ClickhouseSink(options, std::move(client)));
  RETURN_IF_ERROR(sink->Connect());
  return sink;
}

Status ClickhouseSink::Connect() {
  client_ = std::make_unique<ClickhouseClient>(client_options_);
  tables_.clear();  // the server may have been restarted or changed meanwhile
  RETURN_IF_ERROR(EnsureCheckpointTable());
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
  RETURN_IF_ERROR(Run("CREATE DATABASE IF NOT EXISTS `_sluice`"));
  // One row per pipeline and target; the highest _version is current.
  return Run(fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (pipeline String, target String, global_pos String, resume_position String, "
      "gtid_state String, updated DateTime('UTC'), _version UInt64) "
      "ENGINE = ReplacingMergeTree(_version) ORDER BY (pipeline, target)",
      kCheckpointTable));
}

Status ClickhouseSink::ReadCheckpoint() {
  auto rows = client_->QueryRows(fmt::format(
      "SELECT global_pos, resume_position, gtid_state, _version FROM {} FINAL WHERE pipeline = {} AND target = {} "
      "FORMAT TabSeparated",
      kCheckpointTable, QuoteString(options_.pipeline), QuoteString(options_.target)));
  if (!rows.ok())
    return rows.status().WithContext(
        fmt::format("pipeline {} target {}: read checkpoint", options_.pipeline, options_.target));
  checkpoint_ = Checkpoint();
  checkpoint_version_ = 0;
  if (rows->empty()) return Status::Ok();
  const auto& r = rows->front();
  if (r.size() < 4)
    return Status::Corruption("pipeline {} target {}: checkpoint row with {} fields", options_.pipeline,
                              options_.target, r.size());
  if (!r[0].empty() && !StreamPos::Parse(r[0], &checkpoint_.global)) {
    return Status::Corruption("pipeline {} target {}: bad checkpoint position \"{}\"", options_.pipeline,
                              options_.target, r[0]);
  }
  checkpoint_.resume_position = r[1];
  checkpoint_.gtid_state = r[2];
  checkpoint_version_ = std::stoull(r[3]);
  return Status::Ok();
}

Status ClickhouseSink::WriteCheckpoint(const StreamPos& global, const std::string& resume_position,
                                       const std::string& gtid_state) {
  std::string row;
  for (const std::string* f : {&options_.pipeline, &options_.target}) {
    AppendTsvEscaped(row, *f);
    row += '\t';
  }
  AppendTsvEscaped(row, global.empty() ? "" : global.ToString());
  row += '\t';
  AppendTsvEscaped(row, resume_position);
  row += '\t';
  AppendTsvEscaped(row, gtid_state);
  row += fmt::format("\t{}\t{}\n", static_cast<int64_t>(::time(nullptr)), checkpoint_version_ + 1);
  auto r = client_->Insert(fmt::format("INSERT INTO {} FORMAT TabSeparated", kCheckpointTable), row);
  if (!r.ok())
    return r.status().WithContext(
        fmt::format("pipeline {} target {}: record checkpoint", options_.pipeline, options_.target));
  ++checkpoint_version_;
  checkpoint_.global = global;
  checkpoint_.resume_position = resume_position;
  checkpoint_.gtid_state = gtid_state;
  return Status::Ok();
}

Status ClickhouseSink::AdvanceCheckpoint(const BatchEnd& end) {
  return WriteCheckpoint(end.pos, end.resume_position, end.gtid_state);
}

Status ClickhouseSink::ResetCheckpoint() { return WriteCheckpoint(StreamPos(), "", ""); }

Result<std::vector<std::pair<std::string, std::string>>> ClickhouseSink::Describe(const std::string& db,
                                                                                  const std::string& table) {
  auto rows = client_->QueryRows("DESCRIBE TABLE " + TableName(db, table) + " FORMAT TabSeparated");
  std::vector<std::pair<std::string, std::string>> out;
  if (!rows.ok()) {
    int code = client_->last_server_code();
    if (code == sluice::clickhouse::kUnknownTable || code == sluice::clickhouse::kUnknownDatabase) return out;
    return rows.status();
  }
  for (const auto& r : *rows) {
    if (r.size() >= 2) out.emplace_back(r[0], r[1]);
  }
  return out;
}

Result<std::vector<std::string>> ClickhouseSink::TargetColumns(const std::string& db, const std::string& table) {
  ASSIGN_OR_RETURN(auto cols, Describe(db, table));
  std::vector<std::string> names;
  for (const auto& [name, type] : cols) {
    if (name != "_version" && name != "_sign") names.push_back(name);
  }
  return names;
}

Result<const ClickhouseSink::TableState*> ClickhouseSink::EnsureTable(const TargetTablePtr& table) {
  if (auto it = tables_.find(table.get()); it != tables_.end()) return &it->second;
  const TargetTable& t = *table;
  const std::string name = TableName(t.db, t.table);
  const std::string where = fmt::format("pipeline {} target {}: table {}.{} (from {})", options_.pipeline,
                                        options_.target, t.db, t.table, t.source);
  if (!t.has_key()) {
    return Status::Error(
        StatusCode::kNotSupported,
        "{}: no primary key or NOT NULL unique key; a ClickHouse target orders and versions rows by one", where);
  }
  TableState state;
  state.pin = table;
  std::vector<std::string> types(t.columns.size());
  std::set<uint32_t> key(t.key.begin(), t.key.end());
  for (size_t i = 0; i < t.columns.size(); ++i) {
    const ColumnMeta& meta = t.column_meta(i);
    auto enc = EncodingOf(meta, key.count(static_cast<uint32_t>(i)) > 0);
    if (!enc.ok()) return enc.status().WithContext(where);
    state.encodings.push_back(*enc);
    ASSIGN_OR_RETURN(types[i], ClickhouseColumnType(meta, key.count(static_cast<uint32_t>(i)) > 0));
  }
  auto existing = Describe(t.db, t.table);
  if (!existing.ok()) return existing.status().WithContext(where);
  if (existing->empty()) {
    RETURN_IF_ERROR(Run("CREATE DATABASE IF NOT EXISTS " + QuoteIdentifier(t.db)));
    std::string sql = "CREATE TABLE IF NOT EXISTS " + name + " (";
    for (size_t i = 0; i < t.columns.size(); ++i) sql += QuoteIdentifier(t.columns[i]) + " " + types[i] + ", ";
    sql += "`_version` UInt64, `_sign` Int8) ENGINE = ReplacingMergeTree(`_version`) ORDER BY (";
    for (size_t k = 0; k < t.key.size(); ++k) sql += (k ? ", " : "") + QuoteIdentifier(t.columns[t.key[k]]);
    sql += ")";
    RETURN_IF_ERROR(Run(sql));
  } else {
    // The source's shape may have changed (ALTER TABLE): follow it.
    std::map<std::string, std::string> have(existing->begin(), existing->end());
    std::string previous;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      auto it = have.find(t.columns[i]);
      if (it == have.end()) {
        std::string after = previous.empty() ? "" : " AFTER " + QuoteIdentifier(previous);
        RETURN_IF_ERROR(Run(
            fmt::format("ALTER TABLE {} ADD COLUMN {} {}{}", name, QuoteIdentifier(t.columns[i]), types[i], after)));
      } else if (it->second != types[i]) {
        return Status::Error(StatusCode::kNotSupported,
                             "{}: column `{}` is {} in ClickHouse but its source column now maps to {}; changing a "
                             "column's type is not followed",
                             where, t.columns[i], it->second, types[i]);
      }
      previous = t.columns[i];
    }
    std::set<std::string> wanted(t.columns.begin(), t.columns.end());
    for (const auto& [col, type] : *existing) {
      if (col == "_version" || col == "_sign" || wanted.count(col)) continue;
      RETURN_IF_ERROR(Run(fmt::format("ALTER TABLE {} DROP COLUMN {}", name, QuoteIdentifier(col))));
    }
  }
  state.insert_sql = "INSERT INTO " + name + " (";
  for (const auto& c : t.columns) state.insert_sql += QuoteIdentifier(c) + ", ";
  state.insert_sql += "`_version`, `_sign`) FORMAT RowBinary";
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
  const size_t mark = out.size();
  const bool del = c.kind == SinkChange::Kind::kDelete;
  auto version = VersionOf(c.pos);
  if (!version.ok()) return version.status().WithContext(Where(c));
  for (size_t i = 0; i < t.encodings.size(); ++i) {
    const Value& v = i < c.values.size() ? c.values[i] : Value::Absent();
    // A delete needs only the key; other columns it lacks get defaults.
    if (del && (v.kind == ValueKind::kAbsent || (v.is_null() && !t.encodings[i].nullable))) {
      AppendDefault(out, t.encodings[i]);
      continue;
    }
    Status st = AppendRowBinary(out, t.encodings[i], v);
    if (!st.ok()) {
      out.resize(mark);
      Status rejected = Reject(c, st.WithContext(fmt::format("column `{}`", c.table->columns[i])));
      if (!rejected.ok()) return rejected;
      ++rows_skipped_;
      return Status::Ok();
    }
  }
  char tail[9];
  std::memcpy(tail, &*version, 8);
  tail[8] = static_cast<char>(del ? -1 : 1);
  out.append(tail, 9);
  return Status::Ok();
}

Status ClickhouseSink::ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) {
  std::vector<SinkChange> fresh;
  fresh.reserve(changes.size());
  for (const SinkChange& c : changes) {
    // Already there (a replay after a restart): skipping saves the work; a
    // rewrite would be harmless.
    if (!checkpoint_.global.empty() && c.pos <= checkpoint_.global) continue;
    fresh.push_back(c);
  }
  std::vector<SinkChange> merged = MergeByKey(std::move(fresh));
  // One INSERT per table version, every row encoded before any is sent: a
  // refused value (on_error: stop) leaves the whole batch unwritten.
  std::vector<std::pair<const TableState*, std::string>> inserts;
  std::map<const TargetTable*, size_t> slot;
  const uint64_t skipped_before = rows_skipped_.load();
  for (const SinkChange& c : merged) {
    auto [it, added] = slot.emplace(c.table.get(), inserts.size());
    if (added) {
      ASSIGN_OR_RETURN(const TableState* t, EnsureTable(c.table));
      inserts.emplace_back(t, std::string());
    }
    auto& [t, rows] = inserts[it->second];
    Status st = AppendRow(rows, *t, c);
    if (!st.ok()) {
      rows_skipped_ = skipped_before;
      return st;
    }
  }
  for (const auto& [t, rows] : inserts) {
    if (rows.empty()) continue;
    auto r = client_->Insert(t->insert_sql, rows);
    if (!r.ok()) {
      rows_skipped_ = skipped_before;
      return r.status().WithContext(fmt::format("pipeline {} target {}: insert into {}.{} (from {}) up to {}",
                                                options_.pipeline, options_.target, t->pin->db, t->pin->table,
                                                t->pin->source, end.pos.ToString()));
    }
  }
  Status st = WriteCheckpoint(end.pos, end.resume_position, end.gtid_state);
  if (!st.ok()) {
    rows_skipped_ = skipped_before;
    return st;
  }
  rows_applied_ += merged.size() - (rows_skipped_.load() - skipped_before);
  return Status::Ok();
}

Status ClickhouseSink::ApplyDdl(const DdlChange& ddl, const BatchEnd& end) {
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) return Status::Ok();  // applied before a restart
  DdlEffect effect = ClassifyDdl(ddl.query);
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
        auto cols = Describe(ddl.target_db, ddl.target_table);
        if (!cols.ok()) return cols.status();
        if (!cols->empty()) RETURN_IF_ERROR(Run("TRUNCATE TABLE " + table));
      }
      break;
    case K::kAlterTable:
      // Reshaped with the table's next rows, which carry the new schema.
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
  return AdvanceCheckpoint(end);
}

}  // namespace sluice::sink::clickhouse
