// Pipeline: the target side of an online schema change's table swap
// (table_swap.h), for targets that take MySQL DDL.

#include <fmt/format.h>
#include <strings.h>

#include "pipeline/pipeline.h"
#include "pipeline/table_swap.h"

namespace sluice::pipeline {

Result<TargetAlter> Pipeline::SwapAlter(const TargetConfig& target, const transform::MappingRule& rule,
                                        const std::string& db, const std::string& table, const std::string& dest_db,
                                        const std::string& dest_table) {
  ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
  auto conn = mysql::MysqlConnection::Connect(co, &jobs_interrupt_);
  if (!conn.ok()) return conn.status().WithContext(fmt::format("source {}", cfg_.source));
  auto created = (*conn)->Query(fmt::format("SHOW CREATE TABLE `{}`.`{}`", db, table));
  if (!created.ok()) return created.status().WithContext(fmt::format("source {}", cfg_.source));
  if (created->empty() || created->front().size() < 2 || !created->front()[1]) {
    return Status::Error(StatusCode::kServerError, "source {}: SHOW CREATE TABLE `{}`.`{}` returned nothing",
                         cfg_.source, db, table);
  }
  auto definitions = ColumnDefinitions(*created->front()[1]);
  ASSIGN_OR_RETURN(auto source_columns, ReadColumnTypes(source_cfg_->endpoint, db, table));
  std::vector<std::string> missing;
  std::vector<ColumnType> want = MapColumns(rule, source_columns, &missing);
  if (!missing.empty()) {
    return Status::Error(StatusCode::kNotSupported,
                         "`{}`.`{}` no longer has the column(s) {} that the rule ({}) keeps: change the rule",
                         db, table, fmt::join(missing, ", "), rule.origin);
  }
  ASSIGN_OR_RETURN(auto have, ReadColumnTypes(target.endpoint, dest_db, dest_table));
  std::vector<std::string> defs;
  for (const ColumnType& w : want) {
    std::string source_name = w.name;
    for (const auto& [from, to] : rule.rename_columns) {
      if (strcasecmp(to.c_str(), w.name.c_str()) == 0) source_name = from;
    }
    std::string def = w.type;
    for (const auto& [name, definition] : definitions) {
      if (strcasecmp(name.c_str(), source_name.c_str()) == 0) def = definition;
    }
    defs.push_back(std::move(def));
  }
  return AlterToMatch(dest_db, dest_table, want, defs, have);
}

}  // namespace sluice::pipeline
