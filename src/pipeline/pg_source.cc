#include "pipeline/pg_source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>
#include <thread>

#include "client/postgres/connection.h"
#include "core/sync_point.h"
#include "pipeline/table_set.h"
#include "sink/chunk_target.h"
#include "sink/mysql/sql_builder.h"
#include "sink/registry.h"
#include "source/postgres/pg_catalog.h"
#include "source/postgres/pg_slot.h"
#include "source/postgres/pg_value.h"
#include "transform/table_mapper.h"

namespace sluice::pipeline {
namespace {

Result<std::unique_ptr<postgres::PgConnection>> ConnectSource(const PipelineConfig& p, const SourceConfig& s) {
  ASSIGN_OR_RETURN(auto co, postgres::ConnectOptions::FromUrl(s.endpoint));
  co.query_timeout_s = 30;  // a hung source fails the step instead of hanging it
  auto c = postgres::PgConnection::Connect(co);
  if (!c.ok()) return c.status().WithContext(fmt::format("pipeline {}: source {}", p.name, p.source));
  return std::move(c).value();
}

}  // namespace

std::string SlotOf(const PipelineConfig& p, const SourceConfig& s) {
  return s.endpoint.Param("slot", DefaultSlotName(p));
}

std::string PublicationOf(const PipelineConfig& p, const SourceConfig& s) {
  return s.endpoint.Param("publication", "sluice_" + SlotOf(p, s));
}

namespace {
std::string CatchUpSlotPrefix(const PipelineConfig& p, const SourceConfig& s) {
  return SlotOf(p, s).substr(0, 50) + "_cu";
}
}  // namespace

std::string CatchUpSlotName(const PipelineConfig& p, const SourceConfig& s, size_t n) {
  return CatchUpSlotPrefix(p, s) + std::to_string(n);
}

Status CopySlotForCatchUp(const PipelineConfig& p, const SourceConfig& s, const std::string& copy) {
  ASSIGN_OR_RETURN(auto c, ConnectSource(p, s));
  // One left by an earlier catch-up of this target that nothing reads.
  RETURN_IF_ERROR(c->Execute(fmt::format("SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM "
                                         "pg_catalog.pg_replication_slots WHERE slot_name = {} AND NOT active",
                                         postgres::QuoteLiteral(copy))));
  Status st = c->Execute(fmt::format("SELECT pg_catalog.pg_copy_logical_replication_slot({}, {})",
                                     postgres::QuoteLiteral(SlotOf(p, s)), postgres::QuoteLiteral(copy)));
  if (!st.ok()) {
    return st.WithContext(fmt::format("pipeline {}: copying slot {} for a catch-up", p.name, SlotOf(p, s)));
  }
  spdlog::info("pipeline {}: slot {} copied as {} for a catch-up", p.name, SlotOf(p, s), copy);
  return Status::Ok();
}

Status DropCatchUpSlot(const PipelineConfig& p, const SourceConfig& s, const std::string& copy,
                       std::chrono::seconds wait) {
  ASSIGN_OR_RETURN(auto c, ConnectSource(p, s));
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    // The stream that read it may take a moment to end on the server.
    auto left = c->Query(fmt::format("SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = {}",
                                     postgres::QuoteLiteral(copy)));
    if (!left.ok()) return left.status();
    if (left->empty()) return Status::Ok();
    if ((*left)[0][0].value_or("") != "t") {
      RETURN_IF_ERROR(c->Execute(
          fmt::format("SELECT pg_catalog.pg_drop_replication_slot({})", postgres::QuoteLiteral(copy))));
      spdlog::info("pipeline {}: catch-up slot {} dropped", p.name, copy);
      return Status::Ok();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Error(StatusCode::kAborted, "pipeline {}: catch-up slot {} is still read; drop it once it is not",
                           p.name, copy);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status DropLeftoverCatchUpSlots(const PipelineConfig& p, const SourceConfig& s) {
  ASSIGN_OR_RETURN(auto c, ConnectSource(p, s));
  std::string prefix = CatchUpSlotPrefix(p, s);
  ASSIGN_OR_RETURN(auto rows, c->Query(fmt::format("SELECT slot_name FROM pg_catalog.pg_replication_slots WHERE NOT "
                                                   "active AND left(slot_name, {}) = {}",
                                                   prefix.size(), postgres::QuoteLiteral(prefix))));
  for (const auto& row : rows) {
    const std::string name = row[0].value_or("");
    RETURN_IF_ERROR(
        c->Execute(fmt::format("SELECT pg_catalog.pg_drop_replication_slot({})", postgres::QuoteLiteral(name))));
    spdlog::warn("pipeline {}: dropped slot {}, left by a catch-up that did not end (it held the source's WAL)",
                 p.name, name);
  }
  return Status::Ok();
}

Result<std::vector<SourceTable>> SelectedPostgresTables(postgres::PgConnection& c, const PipelineConfig& p) {
  ASSIGN_OR_RETURN(auto tables, postgres::ListTables(c));
  std::vector<SourceTable> out;
  for (const auto& [db, table] : tables) {
    if (db == "_sluice") continue;
    for (const TableRule& r : p.tables) {
      if (MatchesTableRule(r, db, table)) {
        out.push_back(SourceTable{db, table, &r});
        break;
      }
    }
  }
  return out;
}

namespace {

// A column a statement changes: its name on the target, its source column,
// whether it is in the key.
struct ColumnChange {
  std::string name;
  const ColumnMeta* meta;
  bool key = false;
};

// ALTER TABLE `db`.`table` MODIFY COLUMN `name` TYPE [NOT] NULL, ...,
// ADD COLUMN `name` TYPE NULL [DEFAULT (value)], ... for PostgreSQL source
// columns under their target names: widened ones first, then added ones.
Result<std::string> PgColumnsSql(const std::string& db, const std::string& table,
                                 const std::vector<ColumnChange>& widened, const std::vector<ColumnChange>& added) {
  std::string out = "ALTER TABLE ";
  sink::mysql::AppendIdentifier(out, db);
  out += '.';
  sink::mysql::AppendIdentifier(out, table);
  bool first = true;
  for (const ColumnChange& w : widened) {
    const ColumnMeta& c = *w.meta;
    auto type = sink::mysql::MysqlTypeOfPgColumn(c, w.key);
    if (!type.ok()) return type.status().WithContext(fmt::format("column \"{}\"", c.name));
    out += first ? " MODIFY COLUMN " : ", MODIFY COLUMN ";
    first = false;
    sink::mysql::AppendIdentifier(out, w.name);
    out += ' ' + *type + (c.nullable && !w.key ? " NULL" : " NOT NULL");
  }
  for (const ColumnChange& a : added) {
    const ColumnMeta& c = *a.meta;
    auto type = sink::mysql::MysqlTypeOfPgColumn(c, /*key=*/false);
    if (!type.ok()) return type.status().WithContext(fmt::format("column \"{}\"", c.name));
    out += first ? " ADD COLUMN " : ", ADD COLUMN ";
    first = false;
    sink::mysql::AppendIdentifier(out, a.name);
    out += ' ' + *type + " NULL";
    if (!c.pg_missing) continue;
    // The value older rows read, as the stream would carry it.
    const Value& v = c.pg_missing->value;
    out += " DEFAULT ";
    if (v.kind == ValueKind::kJson && (v.s == "true" || v.s == "false")) {
      out += v.s == "true" ? "1" : "0";  // boolean: TINYINT(1)
    } else {
      out += '(';  // an expression: MySQL takes no plain literal default for TEXT, BLOB or JSON
      RETURN_IF_ERROR(sink::mysql::AppendLiteral(out, v));
      out += ')';
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> PostgresRulePatterns(const PipelineConfig& p) {
  std::vector<std::string> out;
  for (const TableRule& r : p.tables) {
    if (r.is_regex) return {};
    out.push_back(r.match);
  }
  return out;
}

bool IsPostgresSource(const SourceConfig& s) {
  return s.endpoint.scheme == "postgres" || s.endpoint.scheme == "postgresql";
}

std::string DefaultSlotName(const PipelineConfig& p) {
  std::string slot = "sluice_";
  for (char ch : p.name) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    slot += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') && static_cast<unsigned char>(c) < 0x80 ? c : '_';
  }
  if (slot.size() > 63) slot.resize(63);
  return slot;
}

Result<std::vector<std::string>> ValidatePostgresSource(const PipelineConfig& p, const SourceConfig& s) {
  ASSIGN_OR_RETURN(auto c, ConnectSource(p, s));
  auto tables = postgres::ListTables(*c);
  if (!tables.ok()) return tables.status().WithContext(fmt::format("pipeline {}: source {}", p.name, p.source));
  std::vector<std::string> selected;
  for (const TableRule& r : p.tables) {
    bool any = false;
    for (const auto& [db, table] : *tables) any |= MatchesTableRule(r, db, table);
    if (!any) {
      return Status::Invalid(
          "{}", FormatConfigError(r.match_mark.line ? r.match_mark : r.mark, r.key_path + ".match",
                                  fmt::format("no table of source {} (database \"{}\") matches \"{}\" (PostgreSQL: "
                                              "schema.table; the user must be able to see the table)",
                                              p.source, c->options().database, r.match)));
    }
  }
  for (const auto& [db, table] : *tables) {
    const TableRule* r = nullptr;
    for (const TableRule& candidate : p.tables) {
      if (MatchesTableRule(candidate, db, table)) {
        r = &candidate;
        break;
      }
    }
    if (r == nullptr) continue;
    selected.push_back(db + "." + table);
    if (r->columns.empty() && r->rename_columns.empty() && r->where.empty()) continue;
    auto schema = postgres::ReadTableSchema(*c, db, table);
    if (!schema.ok() && schema.status().code() == StatusCode::kNotFound) continue;  // dropped meanwhile
    if (!schema.ok()) return schema.status().WithContext(fmt::format("pipeline {}: source {}", p.name, p.source));
    RETURN_IF_ERROR(CheckRuleAgainstTable(*r, *schema));
  }
  return selected;
}

Result<StartPosition> ResolvePostgresStart(const PipelineConfig& p, const SourceConfig& s, const StartPosition& start,
                                           const std::vector<std::string>& tables) {
  if (start.kind == StartPosition::Kind::kLsn) return start;
  if (start.kind != StartPosition::Kind::kLatest && start.kind != StartPosition::Kind::kEarliest) {
    return Status::Invalid("pipeline {}: a PostgreSQL source starts at latest, earliest or an LSN such as 0/16B3748, "
                           "not {}",
                           p.name, start.ToString());
  }
  ASSIGN_OR_RETURN(auto c, ConnectSource(p, s));
  if (start.kind == StartPosition::Kind::kLatest) {
    ASSIGN_OR_RETURN(auto slots, c->Query("SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = " +
                                          postgres::QuoteLiteral(SlotOf(p, s))));
    if (slots.empty()) {
      RETURN_IF_ERROR(postgres::EnsurePublication(*c, PublicationOf(p, s), tables,
                                                  fmt::format("pipeline {}: source {}", p.name, p.source),
                                                  PostgresRulePatterns(p),
                                                  PublicationOf(p, s) == "sluice_" + SlotOf(p, s)));
    }
  }
  auto lsn = postgres::SlotPosition(*c, SlotOf(p, s), start.kind == StartPosition::Kind::kLatest);
  if (!lsn.ok()) return lsn.status().WithContext(fmt::format("pipeline {}: source {}", p.name, p.source));
  SLUICE_SYNC_POINT("pg.start.slot");
  StartPosition out;
  out.kind = StartPosition::Kind::kLsn;
  out.lsn = *lsn;
  return out;
}

Result<std::vector<std::string>> UnpublishedPostgresTables(const PipelineConfig& p, const SourceConfig& s,
                                                           const std::vector<std::string>& tables) {
  const std::string publication = PublicationOf(p, s);
  if (publication != "sluice_" + SlotOf(p, s)) return std::vector<std::string>{};
  ASSIGN_OR_RETURN(auto c, ConnectSource(p, s));
  auto query = [&](const std::string& sql) -> decltype(c->Query(sql)) {
    auto rows = c->Query(sql);
    if (!rows.ok()) return rows.status().WithContext(fmt::format("pipeline {}: source {}", p.name, p.source));
    return rows;
  };
  ASSIGN_OR_RETURN(auto slots, query("SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = " +
                                     postgres::QuoteLiteral(SlotOf(p, s))));
  ASSIGN_OR_RETURN(auto pubs, query("SELECT puballtables FROM pg_catalog.pg_publication WHERE pubname = " +
                                    postgres::QuoteLiteral(publication)));
  if (slots.empty() || pubs.empty() || (pubs[0][0] && *pubs[0][0] == "t")) return std::vector<std::string>{};
  ASSIGN_OR_RETURN(auto published, query("SELECT schemaname || '.' || tablename FROM "
                                         "pg_catalog.pg_publication_tables WHERE pubname = " +
                                         postgres::QuoteLiteral(publication)));
  std::set<std::string> in;
  for (const auto& r : published) {
    if (r[0]) in.insert(*r[0]);
  }
  std::vector<std::string> out;
  for (const std::string& t : tables) {
    if (!in.count(t)) out.push_back(t);
  }
  return out;
}

Status PublishPostgresTables(const PipelineConfig& p, const SourceConfig& s, const std::vector<std::string>& tables) {
  ASSIGN_OR_RETURN(auto c, ConnectSource(p, s));
  std::vector<std::string> added;
  return postgres::EnsurePublication(*c, PublicationOf(p, s), tables, fmt::format("pipeline {}: source {}", p.name,
                                                                                  p.source),
                                     PostgresRulePatterns(p), /*ours=*/true, &added);
}

Result<std::vector<std::string>> KeylessPostgresTables(const PipelineConfig& p, const SourceConfig& s,
                                                       const std::vector<std::string>& tables) {
  ASSIGN_OR_RETURN(auto c, ConnectSource(p, s));
  std::vector<std::string> out;
  for (const std::string& name : tables) {
    size_t dot = name.find('.');
    auto schema = postgres::ReadTableSchema(*c, name.substr(0, dot), name.substr(dot + 1));
    if (!schema.ok() && schema.status().code() == StatusCode::kNotFound) continue;  // dropped meanwhile
    if (!schema.ok()) return schema.status().WithContext(fmt::format("pipeline {}: source {}", p.name, p.source));
    if (schema->primary_key.empty() && schema->unique_key.empty()) out.push_back(name);
  }
  return out;
}

Status EnsurePostgresTargetTables(const PipelineConfig& p, const SourceConfig& s, const TargetConfig& target) {
  ASSIGN_OR_RETURN(auto c, ConnectSource(p, s));
  auto w = sink::OpenChunkTarget(TargetSinkOptions(p, target), nullptr);
  if (!w.ok()) return w.status().WithContext(fmt::format("target {}", target.name));
  ASSIGN_OR_RETURN(auto tables, postgres::ListTables(*c));
  ASSIGN_OR_RETURN(auto mapper, transform::TableMapper::Create(MappingRules(p)));
  for (const auto& [db, table] : tables) {
    bool selected = false;
    for (const TableRule& r : p.tables) selected |= MatchesTableRule(r, db, table);
    if (!selected) continue;
    auto schema = postgres::ReadTableSchema(*c, db, table);
    if (!schema.ok() && schema.status().code() == StatusCode::kNotFound) continue;  // dropped meanwhile
    if (!schema.ok()) return schema.status().WithContext(fmt::format("source {}", p.source));
    // Defaults of columns added since (the stream adds them to the target
    // when it gets there; a table created or completed now has them).
    auto facts = postgres::ReadColumnFacts(*c, db, table);
    if (!facts.ok()) return facts.status().WithContext(fmt::format("source {}", p.source));
    for (ColumnMeta& col : schema->columns) {
      for (const auto& f : *facts) {
        if (f.name != col.name) continue;
        ASSIGN_OR_RETURN(auto type, postgres::ResolvePgType(col.pg_type_oid, nullptr));
        RETURN_IF_ERROR(postgres::ApplyColumnFacts(f, *type, col).WithContext(fmt::format("source {}", p.source)));
      }
    }
    auto shared = std::make_shared<const TableSchema>(std::move(schema).value());
    ASSIGN_OR_RETURN(const transform::TableMapping* m, mapper->Map(shared));
    if (!m->selected()) continue;
    // Columns the source gained while sluice was stopped (or before a crash
    // let the stream's ALTER reach this target): added now, as the stream
    // would add them. Adding early is right: rows older than a column read
    // its default on the source as on the target.
    ASSIGN_OR_RETURN(auto existing, (*w)->ExistingColumns(m->target->db, m->target->table));
    if (!existing.empty()) {
      ASSIGN_OR_RETURN(std::string sql, PgMissingColumnsSql(*m->target, existing));
      if (!sql.empty()) {
        Status added = (*w)->RunDdl(sql);
        if (!added.ok()) return added.WithContext(fmt::format("target {}: {}", target.name, sql));
        spdlog::info("pipeline {} target {}: columns the source table {}.{} gained: {}", p.name, target.name, db,
                     table, sql);
      }
    }
    // Empty: the target makes the statement from the columns' types.
    Status created = (*w)->EnsureTable(*m->target, "");
    if (!created.ok()) {
      return created.WithContext(fmt::format("target {}: table {}.{} for {}.{}", target.name, m->target->db,
                                             m->target->table, db, table));
    }
  }
  return Status::Ok();
}

Result<std::string> PgMissingColumnsSql(const TargetTable& target, const std::vector<std::string>& existing,
                                        const std::vector<uint32_t>& widened) {
  auto have = [&](const std::string& name) {
    return std::any_of(existing.begin(), existing.end(),
                       [&](const std::string& e) { return strcasecmp(e.c_str(), name.c_str()) == 0; });
  };
  auto is_key = [&](uint32_t i) { return std::find(target.key.begin(), target.key.end(), i) != target.key.end(); };
  std::vector<ColumnChange> modify, add;
  for (uint32_t i : widened) {
    if (i < target.columns.size() && have(target.columns[i])) {
      modify.push_back({target.columns[i], &target.column_meta(i), is_key(i)});
    }
  }
  for (uint32_t i = 0; i < target.columns.size(); ++i) {
    if (!have(target.columns[i])) add.push_back({target.columns[i], &target.column_meta(i), false});
  }
  if (modify.empty() && add.empty()) return std::string();
  return PgColumnsSql(target.db, target.table, modify, add);
}

Result<std::string> PgChangedColumnsDdl(const TableSchema& t, size_t first_added,
                                        const std::vector<uint32_t>& widened) {
  auto is_key = [&](uint32_t i) {
    return std::find(t.primary_key.begin(), t.primary_key.end(), i) != t.primary_key.end();
  };
  std::vector<ColumnChange> modify, add;
  for (uint32_t i : widened) modify.push_back({t.columns[i].name, &t.columns[i], is_key(i)});
  for (size_t i = first_added; i < t.columns.size(); ++i) add.push_back({t.columns[i].name, &t.columns[i], false});
  return PgColumnsSql(t.db, t.table, modify, add);
}

}  // namespace sluice::pipeline
