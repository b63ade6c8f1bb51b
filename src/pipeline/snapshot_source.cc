#include "pipeline/snapshot_source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <algorithm>

#include "pipeline/pg_source.h"

namespace sluice::pipeline::detail {

using sink::ChunkTarget;
using sluice::mysql::MysqlConnection;
using sluice::mysql::TableReader;

namespace {

struct MysqlSession : SourceSession {
  std::unique_ptr<MysqlConnection> conn;
};

MysqlConnection& Conn(SourceSession& s) { return *static_cast<MysqlSession&>(s).conn; }

class MysqlTableReader : public SourceTableReader {
 public:
  MysqlTableReader(TableSchemaPtr schema, std::string shard) : reader_(std::move(schema), {}, std::move(shard)) {}
  bool has_key() const override { return reader_.has_key(); }
  Result<std::vector<KeyTuple>> PlanChunks(SourceSession& s, uint64_t chunk_rows,
                                           const std::function<bool()>& cancelled) const override {
    return reader_.PlanChunks(Conn(s), chunk_rows, cancelled);
  }
  Result<RowBlock> ReadRange(SourceSession& s, const KeyRange& range, std::string* read_at) const override {
    MysqlConnection& c = Conn(s);
    if (reader_.has_key() || !c.is_mariadb()) return reader_.ReadRange(c, range);
    // A keyless table (copied whole): read in a consistent snapshot, whose
    // binlog position MariaDB tells, so the stream can leave out the changes
    // the copy already holds. (MySQL has no binlog position of a read view:
    // its keyless copies read as the rows are, docs/snapshot.md's limits.)
    ASSIGN_OR_RETURN(std::string position, sluice::mysql::OpenConsistentSnapshot(c));
    auto block = reader_.ReadRange(c, range);
    Status ended = c.Execute("COMMIT");
    if (!block.ok()) return block.status();
    RETURN_IF_ERROR(ended);
    *read_at = std::move(position);
    return block;
  }
  uint64_t EstimateRows(SourceSession& s) const override { return reader_.EstimateRows(Conn(s)); }

 private:
  TableReader reader_;
};

// The sequence created on the target when missing, and set to the source's
// state (an INSERT into a sequence replaces its one row) then, or always
// with `set_existing`.
Status CopySequence(ChunkTarget& w, MysqlConnection& source, const SourceTable& st, const TargetTable& t,
                    bool set_existing) {
  const std::string source_name = mysql::QuoteIdent(st.db) + "." + mysql::QuoteIdent(st.table);
  const std::string target_name = mysql::QuoteIdent(t.db) + "." + mysql::QuoteIdent(t.table);
  ASSIGN_OR_RETURN(auto existing, w.ExistingColumns(t.db, t.table));
  if (!existing.empty() && !set_existing) return Status::Ok();
  if (existing.empty()) {
    ASSIGN_OR_RETURN(auto rows, source.Query("SHOW CREATE SEQUENCE " + source_name));
    const std::string prefix = "CREATE SEQUENCE " + mysql::QuoteIdent(st.table);
    if (rows.empty() || rows[0].size() < 2 || !rows[0][1] || rows[0][1]->rfind(prefix, 0) != 0) {
      return Status::Error(StatusCode::kServerError, "unexpected SHOW CREATE SEQUENCE output for {}", st.name());
    }
    RETURN_IF_ERROR(w.RunDdl("CREATE DATABASE IF NOT EXISTS " + mysql::QuoteIdent(t.db)));
    RETURN_IF_ERROR(w.RunDdl("CREATE SEQUENCE IF NOT EXISTS " + target_name + rows[0][1]->substr(prefix.size())));
    spdlog::info("created sequence {} for {}", target_name, st.name());
  }
  ASSIGN_OR_RETURN(auto state, source.Query("SELECT * FROM " + source_name));
  if (state.size() != 1) {
    return Status::Error(StatusCode::kServerError, "{} reads as {} rows, not one", st.name(), state.size());
  }
  std::string values;
  for (const auto& v : state[0]) {
    // Every column of a sequence is an integer.
    const std::string text = v.value_or("");
    if (text.empty() || text.find_first_not_of("-0123456789") != std::string::npos) {
      return Status::Error(StatusCode::kServerError, "{} holds a value that is not an integer: '{}'", st.name(),
                           text);
    }
    values += (values.empty() ? "" : ", ") + text;
  }
  return w.RunDdl("INSERT INTO " + target_name + " VALUES (" + values + ")");
}

// A MySQL source: plain reads, binlog positions (see snapshot.h).
class MysqlSnapshotSource : public SnapshotSource {
 public:
  MysqlSnapshotSource(const PipelineConfig& p, const SourceConfig& s, sluice::mysql::Interrupter* interrupt)
      : p_(p), s_(s), interrupt_(interrupt) {}

  // Connections of a snapshot have bounded reads and writes (a hung server
  // is a lost connection, retried per chunk) and are cut by `interrupt`.
  Result<std::unique_ptr<SourceSession>> Connect() override {
    ASSIGN_OR_RETURN(auto session, ConnectMysql());
    return std::unique_ptr<SourceSession>(std::move(session));
  }
  Result<std::vector<SourceTable>> SelectedTables(SourceSession& s) override {
    return pipeline::SelectedTables(Conn(s), p_);
  }
  Result<TableSchemaPtr> ReadSchema(SourceSession& s, const SourceTable& t) override {
    return sluice::mysql::ReadTableSchema(Conn(s), t.db, t.table);
  }
  Status EnsureTargetTable(SourceSession& s, ChunkTarget& w, const transform::TableMapping& m,
                           const TableSchema& schema) override {
    return EnsureMysqlTargetTable(w, Conn(s), m, schema);
  }
  Status CopySequences(SourceSession& s, ChunkTarget& w, transform::TableMapper& mapper) override {
    return EnsureMysqlTargetSequences(w, Conn(s), p_, mapper, /*set_existing=*/true);
  }
  Result<std::unique_ptr<SourceTableReader>> Reader(SourceSession&, const TableSchemaPtr& schema,
                                                    const std::string& shard) override {
    return std::unique_ptr<SourceTableReader>(new MysqlTableReader(schema, shard));
  }
  Result<std::string> StartPosition(SourceSession& s) override {
    positions_keyless_reads_ = Conn(s).is_mariadb();
    return sluice::mysql::ConsistentBinlogPosition(Conn(s));
  }
  Result<std::string> Horizon(SourceSession& s) override { return sluice::mysql::ConsistentBinlogPosition(Conn(s)); }
  bool positions_keyless_reads() const override { return positions_keyless_reads_; }

 private:
  Result<std::unique_ptr<MysqlSession>> ConnectMysql() {
    ASSIGN_OR_RETURN(auto co, sluice::mysql::ConnectOptions::FromUrl(s_.endpoint));
    co = sluice::mysql::WithDefaultTimeouts(co, sluice::mysql::kJobIoTimeoutS);
    auto session = std::make_unique<MysqlSession>();
    ASSIGN_OR_RETURN(session->conn, MysqlConnection::Connect(co, interrupt_));
    RETURN_IF_ERROR(sluice::mysql::PrepareReadSession(*session->conn));
    return session;
  }

  const PipelineConfig& p_;
  const SourceConfig& s_;
  sluice::mysql::Interrupter* interrupt_;
  bool positions_keyless_reads_ = false;
};

}  // namespace

Status EnsureMysqlTargetSequences(ChunkTarget& w, MysqlConnection& source, const PipelineConfig& p,
                                  transform::TableMapper& mapper, bool set_existing) {
  if (!w.takes_sequences() || !p.peer.empty()) return Status::Ok();  // two-way: each side's own
  ASSIGN_OR_RETURN(auto sequences, pipeline::SelectedSequences(source, p));
  for (const SourceTable& st : sequences) {
    auto schema = sluice::mysql::ReadTableSchema(source, st.db, st.table);
    if (!schema.ok() && schema.status().code() == StatusCode::kNotFound) continue;  // dropped meanwhile
    if (!schema.ok()) return schema.status();
    ASSIGN_OR_RETURN(const transform::TableMapping* m, mapper.Map(*schema));
    if (!m->selected() || !m->target->sequence) continue;
    RETURN_IF_ERROR(
        CopySequence(w, source, st, *m->target, set_existing).WithContext(fmt::format("sequence {}", st.name())));
  }
  return Status::Ok();
}

Result<std::vector<std::string>> MappedColumnDefinitions(MysqlConnection& source, const transform::TableMapping& m,
                                                         const TableSchema& s) {
  ASSIGN_OR_RETURN(
      auto cols, source.Query(fmt::format("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLLATION_NAME FROM "
                                          "information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{}' "
                                          "ORDER BY ORDINAL_POSITION",
                                          source.Escape(s.db), source.Escape(s.table))));
  const TargetTable& t = *m.target;
  std::vector<std::string> defs;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    uint32_t src = m.source_index[i];
    if (src >= cols.size()) {
      return Status::Error(StatusCode::kSchemaMismatch, "{}.{} changed while read", s.db, s.table);
    }
    const auto& c = cols[src];
    std::string def = mysql::QuoteIdent(t.columns[i]) + " " + c[1].value_or("text");
    if (c[3]) def += " COLLATE " + *c[3];
    def += c[2].value_or("YES") == "NO" ? " NOT NULL" : " NULL";
    defs.push_back(std::move(def));
  }
  return defs;
}

Result<std::vector<std::string>> AddMappedColumns(ChunkTarget& w, MysqlConnection& source,
                                                  const transform::TableMapping& m, const TableSchema& s) {
  const TargetTable& t = *m.target;
  if (!w.speaks_mysql_ddl()) return std::vector<std::string>{};
  ASSIGN_OR_RETURN(auto existing, w.ExistingColumns(t.db, t.table));
  if (existing.empty()) return std::vector<std::string>{};  // no table: EnsureMysqlTargetTable creates it whole
  auto has = [&](const std::string& name) {
    return std::any_of(existing.begin(), existing.end(),
                       [&](const std::string& e) { return strcasecmp(e.c_str(), name.c_str()) == 0; });
  };
  std::vector<size_t> missing;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (!has(t.columns[i])) missing.push_back(i);
  }
  if (missing.empty()) return std::vector<std::string>{};
  ASSIGN_OR_RETURN(auto defs, MappedColumnDefinitions(source, m, s));
  std::string alter = "ALTER TABLE " + mysql::QuoteIdent(t.db) + "." + mysql::QuoteIdent(t.table);
  std::vector<std::string> added;
  for (size_t n = 0; n < missing.size(); ++n) {
    alter += (n ? ", ADD COLUMN " : " ADD COLUMN ") + defs[missing[n]];
    added.push_back(t.columns[missing[n]]);
  }
  RETURN_IF_ERROR(w.RunDdl(alter));
  return added;
}

// Creates the target table when it is missing: for targets that speak
// MySQL, the source's own definition for a table copied whole (renamed or
// not), else the mapped columns with their source types and the key; other
// kinds map the source types themselves.
Status EnsureMysqlTargetTable(ChunkTarget& w, MysqlConnection& source, const transform::TableMapping& m,
                              const TableSchema& s) {
  const TargetTable& t = *m.target;
  if (!w.speaks_mysql_ddl()) return w.EnsureTable(t, "");
  bool whole = m.source_index.size() == s.columns.size();
  for (size_t i = 0; whole && i < m.source_index.size(); ++i) {
    whole = m.source_index[i] == i && t.columns[i] == s.columns[i].name;
  }
  std::string target_name = mysql::QuoteIdent(t.db) + "." + mysql::QuoteIdent(t.table);
  if (whole) {
    ASSIGN_OR_RETURN(auto rows, source.Query("SHOW CREATE TABLE " + mysql::QuoteIdent(s.db) + "." + mysql::QuoteIdent(s.table)));
    if (rows.empty() || rows[0].size() < 2 || !rows[0][1]) {
      return Status::Error(StatusCode::kServerError, "SHOW CREATE TABLE {}.{} returned nothing", s.db, s.table);
    }
    std::string ddl = *rows[0][1];
    std::string prefix = "CREATE TABLE " + mysql::QuoteIdent(s.table);
    if (ddl.rfind(prefix, 0) != 0) {
      return Status::Error(StatusCode::kServerError, "unexpected SHOW CREATE TABLE output for {}.{}", s.db, s.table);
    }
    return w.EnsureTable(t, "CREATE TABLE IF NOT EXISTS " + target_name + ddl.substr(prefix.size()));
  }
  ASSIGN_OR_RETURN(auto defs, MappedColumnDefinitions(source, m, s));
  std::string ddl = "CREATE TABLE IF NOT EXISTS " + target_name + " (";
  for (size_t i = 0; i < defs.size(); ++i) ddl += (i ? ", " : "") + defs[i];
  if (t.has_key()) {
    ddl += ", PRIMARY KEY (";
    for (size_t k = 0; k < t.key.size(); ++k) ddl += (k ? ", " : "") + mysql::QuoteIdent(t.columns[t.key[k]]);
    ddl += ")";
  }
  ddl += ")";
  return w.EnsureTable(t, ddl);
}


Result<std::unique_ptr<SnapshotSource>> OpenSnapshotSource(const Config& config, const PipelineConfig& p,
                                                           sluice::mysql::Interrupter* interrupt) {
  const SourceConfig* s = config.FindSource(p.source);
  if (s == nullptr) return Status::Invalid("pipeline {}: unknown source {}", p.name, p.source);
  if (IsPostgresSource(*s)) return OpenPostgresSnapshotSource(p, *s, interrupt);
  return std::unique_ptr<SnapshotSource>(new MysqlSnapshotSource(p, *s, interrupt));
}

}  // namespace sluice::pipeline::detail
