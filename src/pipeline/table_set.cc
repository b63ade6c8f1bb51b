#include "pipeline/table_set.h"

#include <fmt/format.h>

namespace sluice::pipeline {

namespace {

transform::DdlPolicy ToPolicy(DdlMode m) {
  switch (m) {
    case DdlMode::kApply: return transform::DdlPolicy::kApply;
    case DdlMode::kIgnore: return transform::DdlPolicy::kIgnore;
    case DdlMode::kStop: return transform::DdlPolicy::kStop;
    default: return transform::DdlPolicy::kUnset;
  }
}

}  // namespace

std::vector<transform::MappingRule> MappingRules(const PipelineConfig& p) {
  std::vector<transform::MappingRule> rules;
  for (const TableRule& r : p.tables) {
    transform::MappingRule m;
    m.match = r.is_regex ? "/" + r.match + "/" : r.match;
    m.to = r.to;
    m.columns = r.columns;
    m.rename_columns = r.rename_columns;
    m.where = r.where;
    m.ddl = ToPolicy(r.ddl != DdlMode::kUnset ? r.ddl : p.ddl);
    m.origin = fmt::format("{} {}", FormatMark(r.mark), r.key_path);
    rules.push_back(std::move(m));
  }
  return rules;
}

Result<std::vector<SourceTable>> SelectedTables(sluice::mysql::MysqlConnection& source, const PipelineConfig& p) {
  ASSIGN_OR_RETURN(auto rows, source.Query("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
                                           "WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_SCHEMA NOT IN "
                                           "('mysql','information_schema','performance_schema','sys','_sluice') "
                                           "ORDER BY TABLE_SCHEMA, TABLE_NAME"));
  std::vector<SourceTable> out;
  for (const auto& row : rows) {
    std::string db = row[0].value_or(""), table = row[1].value_or("");
    for (const TableRule& r : p.tables) {
      if (MatchesTableRule(r, db, table)) {
        out.push_back(SourceTable{db, table, &r});
        break;
      }
    }
  }
  return out;
}

}  // namespace sluice::pipeline
