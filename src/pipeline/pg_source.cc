#include "pipeline/pg_source.h"

#include <fmt/format.h>

#include <cctype>
#include <memory>

#include "client/postgres/connection.h"
#include "pipeline/table_set.h"
#include "sink/chunk_target.h"
#include "sink/registry.h"
#include "source/postgres/pg_catalog.h"
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

Result<StartPosition> ResolvePostgresStart(const PipelineConfig& p, const SourceConfig& s,
                                           const StartPosition& start) {
  if (start.kind == StartPosition::Kind::kLsn) return start;
  if (start.kind != StartPosition::Kind::kLatest && start.kind != StartPosition::Kind::kEarliest) {
    return Status::Invalid("pipeline {}: a PostgreSQL source starts at latest, earliest or an LSN such as 0/16B3748, "
                           "not {}",
                           p.name, start.ToString());
  }
  ASSIGN_OR_RETURN(auto c, ConnectSource(p, s));
  auto lsn = postgres::SlotPosition(*c, SlotOf(p, s), start.kind == StartPosition::Kind::kLatest);
  if (!lsn.ok()) return lsn.status().WithContext(fmt::format("pipeline {}: source {}", p.name, p.source));
  StartPosition out;
  out.kind = StartPosition::Kind::kLsn;
  out.lsn = *lsn;
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
    auto shared = std::make_shared<const TableSchema>(std::move(schema).value());
    ASSIGN_OR_RETURN(const transform::TableMapping* m, mapper->Map(shared));
    if (!m->selected()) continue;
    // Empty: the target makes the statement from the columns' types.
    Status created = (*w)->EnsureTable(*m->target, "");
    if (!created.ok()) {
      return created.WithContext(fmt::format("target {}: table {}.{} for {}.{}", target.name, m->target->db,
                                             m->target->table, db, table));
    }
  }
  return Status::Ok();
}

}  // namespace sluice::pipeline
