#include "sink/clickhouse/clickhouse_tables.h"

#include <algorithm>
#include <ctime>
#include <cstring>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/json_writer.h"
#include "sink/checkpoint_rows.h"
#include "sink/clickhouse/column_retype.h"

namespace sluice::sink::clickhouse {
namespace {

using sluice::clickhouse::AppendTsvEscaped;
using sluice::clickhouse::ClickhouseClient;
using sluice::clickhouse::QuoteIdentifier;
using sluice::clickhouse::QuoteString;

Status Run(ClickhouseClient& client, const std::string& where, const std::string& sql) {
  auto r = client.Query(sql);
  if (!r.ok()) return r.status().WithContext(fmt::format("{}: {}", where, sql.substr(0, 200)));
  return Status::Ok();
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

std::string TableName(const std::string& db, const std::string& table) {
  return QuoteIdentifier(db) + "." + QuoteIdentifier(table);
}

namespace {

// The text a value is written as (what a String column holds).
std::string TextOf(const Value& v) {
  switch (v.kind) {
    case ValueKind::kInt:
    case ValueKind::kYear:
      return fmt::format("{}", v.i);
    case ValueKind::kUInt:
    case ValueKind::kBit:
      return fmt::format("{}", v.u);
    case ValueKind::kFloat:
      return fmt::format("{}", static_cast<float>(v.d));
    case ValueKind::kDouble:
      return fmt::format("{}", v.d);
    default:
      return std::string(v.s);
  }
}

}  // namespace

Result<std::string> TextLiteral(const std::string& text, const ColumnMeta& column) {
  ASSIGN_OR_RETURN(std::string type, ClickhouseType(column));
  return fmt::format("CAST({} AS {})", sluice::clickhouse::QuoteString(text), type);
}

Result<std::string> ValueLiteral(const Value& v, const ColumnMeta& column) {
  if (v.is_null()) return Status::Invalid("NULL has no literal of a key");
  return TextLiteral(TextOf(v), column);
}

Result<std::string> KeyCondition(const SinkChange& c) {
  const TargetTable& t = *c.table;
  if (t.key.empty()) return Status::Invalid("{}: a keyless table has no key condition", TableName(t.db, t.table));
  std::string out;
  for (size_t i = 0; i < t.key.size(); ++i) {
    const size_t col = t.key[i];
    ASSIGN_OR_RETURN(std::string lit, ValueLiteral(c.values[col], t.column_meta(col)));
    out += fmt::format("{}{} = {}", i ? " AND " : "", sluice::clickhouse::QuoteIdentifier(t.columns[col]), lit);
  }
  return out;
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

Result<std::vector<std::pair<std::string, std::string>>> DescribeTable(ClickhouseClient& client, const std::string& db,
                                                                       const std::string& table) {
  auto rows = client.QueryRows("DESCRIBE TABLE " + TableName(db, table) + " FORMAT TabSeparated");
  std::vector<std::pair<std::string, std::string>> out;
  if (!rows.ok()) {
    int code = client.last_server_code();
    if (code == sluice::clickhouse::kUnknownTable || code == sluice::clickhouse::kUnknownDatabase) return out;
    return rows.status();
  }
  for (const auto& r : *rows) {
    if (r.size() >= 2) out.emplace_back(r[0], r[1]);
  }
  return out;
}

namespace {

// Columns whose source type changed get the new type (column_retype.h);
// `have` is updated.
Status FollowTypeChanges(ClickhouseClient& client, const TargetTable& t, const std::vector<std::string>& types,
                         const std::vector<std::pair<std::string, std::string>>& existing,
                         std::map<std::string, std::string>& have, const std::string& where) {
  std::map<std::string, std::string> retype;
  bool key_retyped = false;
  std::vector<std::string> key;
  for (uint32_t k : t.key) key.push_back(t.columns[k]);
  for (size_t i = 0; i < t.columns.size(); ++i) {
    auto it = have.find(t.columns[i]);
    if (it == have.end() || it->second == types[i]) continue;
    if (!ExactConversion(it->second, types[i], t.column_meta(i))) {
      return Status::Error(StatusCode::kNotSupported,
                           "{}: column `{}` is {} in ClickHouse but its source column now maps to {}, and ClickHouse "
                           "would not convert the rows it holds as the source did; drop the table in ClickHouse, "
                           "start the pipeline again (it creates the table with its next rows) and copy the rows "
                           "already there with the pipeline's `sluice snapshot` beside it",
                           where, t.columns[i], it->second, types[i]);
    }
    retype[t.columns[i]] = types[i];
    key_retyped |= std::find(key.begin(), key.end(), t.columns[i]) != key.end();
  }
  if (retype.empty()) return Status::Ok();
  const std::string name = TableName(t.db, t.table);
  if (key_retyped) {
    std::map<std::string, CopiedColumn> changes;
    for (const auto& [col, type] : retype) changes[col] = {col, type};
    RETURN_IF_ERROR(ReplaceByCopy(client, t.db, t.table, existing, changes, key, where,
                                  "a sorting-key column changes type"));
  } else {
    for (const auto& [col, type] : retype) {
      spdlog::info("{}: column `{}` becomes {} (was {})", where, col, type, have[col]);
      RETURN_IF_ERROR(
          Run(client, where, fmt::format("ALTER TABLE {} MODIFY COLUMN {} {}", name, QuoteIdentifier(col), type)));
    }
  }
  for (const auto& [col, type] : retype) have[col] = type;
  return Status::Ok();
}

}  // namespace

Result<TableWriter> EnsureTargetTable(ClickhouseClient& client, const TargetTable& t, const std::string& where) {
  const std::string name = TableName(t.db, t.table);
  if (!t.has_key()) {
    return Status::Error(
        StatusCode::kNotSupported,
        "{}: no primary key or NOT NULL unique key; a ClickHouse target orders and versions rows by one", where);
  }
  TableWriter state;
  std::vector<std::string> types(t.columns.size());
  std::set<uint32_t> key(t.key.begin(), t.key.end());
  for (size_t i = 0; i < t.columns.size(); ++i) {
    const ColumnMeta& meta = t.column_meta(i);
    auto enc = EncodingOf(meta, key.count(static_cast<uint32_t>(i)) > 0);
    if (!enc.ok()) return enc.status().WithContext(where);
    state.encodings.push_back(*enc);
    ASSIGN_OR_RETURN(types[i], ClickhouseColumnType(meta, key.count(static_cast<uint32_t>(i)) > 0));
  }
  RETURN_IF_ERROR(FinishInterruptedRetype(client, t.db, t.table, where));
  auto existing = DescribeTable(client, t.db, t.table);
  if (!existing.ok()) return existing.status().WithContext(where);
  if (existing->empty()) {
    RETURN_IF_ERROR(Run(client, where, "CREATE DATABASE IF NOT EXISTS " + QuoteIdentifier(t.db)));
    std::string sql = "CREATE TABLE IF NOT EXISTS " + name + " (";
    for (size_t i = 0; i < t.columns.size(); ++i) sql += QuoteIdentifier(t.columns[i]) + " " + types[i] + ", ";
    sql += "`_version` UInt64, `_sign` Int8) ENGINE = ReplacingMergeTree(`_version`) ORDER BY (";
    for (size_t k = 0; k < t.key.size(); ++k) sql += (k ? ", " : "") + QuoteIdentifier(t.columns[t.key[k]]);
    sql += ")";
    RETURN_IF_ERROR(Run(client, where, sql));
  } else {
    // The source's shape may have changed (ALTER TABLE): follow it.
    std::map<std::string, std::string> have(existing->begin(), existing->end());
    RETURN_IF_ERROR(FollowTypeChanges(client, t, types, *existing, have, where));
    std::string previous;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      auto it = have.find(t.columns[i]);
      if (it == have.end()) {
        std::string after = previous.empty() ? "" : " AFTER " + QuoteIdentifier(previous);
        // A PostgreSQL source's column added with a constant default: the
        // rows the table already holds read it (ClickHouse computes a
        // default for the parts written before the column), as the
        // source's do.
        std::string default_value;
        if (const ColumnMeta& meta = t.column_meta(i); meta.pg_missing) {
          auto e = ValueExpression(meta, meta.pg_missing->value);
          if (!e.ok()) {
            return e.status().WithContext(
                fmt::format("{}: column `{}` added with default {}", where, t.columns[i], meta.pg_missing_value));
          }
          default_value = " DEFAULT " + *e;
        }
        RETURN_IF_ERROR(Run(client, where,
                            fmt::format("ALTER TABLE {} ADD COLUMN {} {}{}{}", name, QuoteIdentifier(t.columns[i]),
                                        types[i], default_value, after)));
      }
      previous = t.columns[i];
    }
    std::set<std::string> wanted(t.columns.begin(), t.columns.end());
    for (const auto& [col, type] : *existing) {
      if (col == "_version" || col == "_sign" || wanted.count(col)) continue;
      RETURN_IF_ERROR(Run(client, where, fmt::format("ALTER TABLE {} DROP COLUMN {}", name, QuoteIdentifier(col))));
    }
  }
  state.insert_sql = "INSERT INTO " + name + " (";
  for (const auto& c : t.columns) state.insert_sql += QuoteIdentifier(c) + ", ";
  state.insert_sql += "`_version`, `_sign`) FORMAT RowBinary";
  return state;
}

Status AppendRow(std::string& out, const TableWriter& t, const SinkChange& c, uint64_t version, int8_t sign) {
  const size_t mark = out.size();
  const bool del = sign < 0;
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
      return st.WithContext(fmt::format("column `{}`", c.table->columns[i]));
    }
  }
  char tail[9];
  std::memcpy(tail, &version, 8);
  tail[8] = static_cast<char>(sign);
  out.append(tail, 9);
  return Status::Ok();
}

Status EnsureCheckpointTable(ClickhouseClient& client) {
  RETURN_IF_ERROR(Run(client, "checkpoints", "CREATE DATABASE IF NOT EXISTS `_sluice`"));
  // One row per pipeline and target; the highest _version is current.
  return Run(client, "checkpoints",
             fmt::format("CREATE TABLE IF NOT EXISTS {} (pipeline String, target String, global_pos String, "
                         "resume_position String, gtid_state String, updated DateTime('UTC'), _version UInt64) "
                         "ENGINE = ReplacingMergeTree(_version) ORDER BY (pipeline, target)",
                         kCheckpointTable));
}

Result<std::optional<CheckpointRow>> ReadCheckpointRow(ClickhouseClient& client, const std::string& pipeline,
                                                       const std::string& target) {
  ASSIGN_OR_RETURN(auto rows,
                   client.QueryRows(fmt::format("SELECT global_pos, resume_position, gtid_state, _version FROM {} "
                                                "FINAL WHERE pipeline = {} AND target = {} FORMAT TabSeparated",
                                                kCheckpointTable, QuoteString(pipeline), QuoteString(target))));
  if (rows.empty()) return std::optional<CheckpointRow>();
  const auto& r = rows.front();
  if (r.size() < 4) {
    return Status::Corruption("pipeline {} target {}: checkpoint row with {} fields", pipeline, target, r.size());
  }
  CheckpointRow row{r[0], r[1], r[2], std::stoull(r[3])};
  return std::optional<CheckpointRow>(std::move(row));
}

Result<std::string> TakeOverRenamedTarget(ClickhouseClient& client, const std::string& pipeline,
                                          const std::string& target, const std::vector<std::string>& former) {
  if (former.empty()) return std::string();
  auto rows = client.QueryRows(fmt::format("SELECT target FROM {} FINAL WHERE pipeline = {} AND resume_position != '' "
                                           "FORMAT TabSeparated",
                                           kCheckpointTable, QuoteString(pipeline)));
  if (!rows.ok()) {
    const int code = client.last_server_code();
    if (code == sluice::clickhouse::kUnknownTable || code == sluice::clickhouse::kUnknownDatabase) {
      return std::string();  // nothing ever written here
    }
    return rows.status();
  }
  std::vector<std::string> present;
  for (const auto& r : *rows) {
    if (!r.empty()) present.push_back(r[0]);
  }
  ASSIGN_OR_RETURN(const std::string old,
                   RenamedFrom(present, pipeline, target, former,
                               fmt::format("ALTER TABLE {} DELETE WHERE pipeline = {} AND target = 'NAME'",
                                           kCheckpointTable, QuoteString(pipeline))));
  if (old.empty()) return old;
  auto where = [&](const Status& st) {
    return st.WithContext(fmt::format("pipeline {} target {}: taking over the checkpoint of target {}", pipeline,
                                      target, old));
  };
  auto plan = client.Query(fmt::format(
      "INSERT INTO `_sluice`.`snapshot_chunks` SELECT pipeline, {}, tbl, shard, chunk, after_key, upto_key, done, "
      "rows_copied, _version FROM `_sluice`.`snapshot_chunks` FINAL WHERE pipeline = {} AND target = {}",
      QuoteString(target), QuoteString(pipeline), QuoteString(old)));
  if (!plan.ok() && client.last_server_code() != sluice::clickhouse::kUnknownTable) return where(plan.status());
  ASSIGN_OR_RETURN(auto from, ReadCheckpointRow(client, pipeline, old));
  ASSIGN_OR_RETURN(auto own, ReadCheckpointRow(client, pipeline, target));
  if (!from.has_value()) return std::string();  // taken over meanwhile
  // Above any row the new name has (a reset one): FINAL keeps the highest version.
  CheckpointRow moved = *from;
  moved.version = std::max(from->version, own ? own->version : 0) + 1;
  RETURN_IF_ERROR(where(WriteCheckpointRow(client, pipeline, target, moved)));
  RETURN_IF_ERROR(where(WriteCheckpointRow(client, pipeline, old, CheckpointRow{"", "", "", from->version + 1})));
  LogTakenOver(pipeline, target, old);
  return old;
}

Status WriteCheckpointRow(ClickhouseClient& client, const std::string& pipeline, const std::string& target,
                          const CheckpointRow& cp) {
  std::string row;
  for (const std::string* f : {&pipeline, &target, &cp.global_pos, &cp.resume_position}) {
    AppendTsvEscaped(row, *f);
    row += '\t';
  }
  AppendTsvEscaped(row, cp.gtid_state);
  row += fmt::format("\t{}\t{}\n", static_cast<int64_t>(::time(nullptr)), cp.version);
  auto r = client.Insert(fmt::format("INSERT INTO {} FORMAT TabSeparated", kCheckpointTable), row);
  if (!r.ok()) return r.status();
  return Status::Ok();
}

}  // namespace sluice::sink::clickhouse
