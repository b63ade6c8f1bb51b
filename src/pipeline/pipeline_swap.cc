// Pipeline: the target side of an online schema change's table swap
// (table_swap.h), for targets that take MySQL DDL.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <strings.h>

#include <algorithm>

#include "client/mysql/table_reader.h"
#include "pipeline/pipeline.h"
#include "pipeline/table_swap.h"

namespace sluice::pipeline {

Result<std::vector<std::pair<std::string, std::string>>> Pipeline::SourceColumnDefinitions(const std::string& db,
                                                                                       const std::string& table,
                                                                                       Interrupter* interrupt) {
  ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
  auto conn = mysql::MysqlConnection::Connect(co, interrupt);
  if (!conn.ok()) return conn.status().WithContext(fmt::format("source {}", cfg_.source));
  // UTC: TIMESTAMP defaults are shown in the session's time zone, and the
  // target's DDL session reads them in UTC.
  if (Status tz = (*conn)->Execute("SET time_zone = '+00:00'"); !tz.ok()) {
    return tz.WithContext(fmt::format("source {}", cfg_.source));
  }
  auto created = (*conn)->Query(fmt::format("SHOW CREATE TABLE {}.{}", mysql::QuoteIdent(db), mysql::QuoteIdent(table)));
  if (!created.ok()) return created.status().WithContext(fmt::format("source {}", cfg_.source));
  if (created->empty() || created->front().size() < 2 || !created->front()[1]) {
    return Status::Error(StatusCode::kServerError, "source {}: SHOW CREATE TABLE `{}`.`{}` returned nothing",
                         cfg_.source, db, table);
  }
  auto definitions = ColumnDefinitions(*created->front()[1]);
  return definitions;
}

Result<TargetAlter> Pipeline::SwapAlter(const TargetConfig& target, const transform::MappingRule& rule,
                                        const std::string& db, const std::string& table, const std::string& dest_db,
                                        const std::string& dest_table) {
  ASSIGN_OR_RETURN(auto definitions, SourceColumnDefinitions(db, table, &jobs_interrupt_));
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

std::vector<Pipeline::TableSwap> Pipeline::FindTableSwaps(const mysql::DdlStatement& d) const {
  std::vector<TableSwap> out;
  for (size_t i = 0; i < d.renames.size(); ++i) {
    const auto& renamed_out = d.renames[i];
    const transform::MappingRule* rule = mapper_->RuleFor(renamed_out.db, renamed_out.table);
    if (rule == nullptr || mapper_->RuleFor(renamed_out.new_db, renamed_out.new_table) != nullptr) continue;
    for (size_t j = i + 1; j < d.renames.size(); ++j) {
      const auto& renamed_in = d.renames[j];
      if (renamed_in.new_db != renamed_out.db || renamed_in.new_table != renamed_out.table ||
          mapper_->RuleFor(renamed_in.db, renamed_in.table) != nullptr) {
        continue;
      }
      out.push_back({&renamed_out, &renamed_in, rule});
      break;
    }
  }
  return out;
}

Result<std::optional<sink::DdlChange>> Pipeline::SwapDdlForRowTables(sink::Sink& sink, const std::string& target,
                                                                     Interrupter* interrupt,
                                                                     const transform::MappingRule& rule,
                                                                     const std::string& db, const std::string& table,
                                                                     const std::string& dest_db,
                                                                     const std::string& dest_table,
                                                                     const StreamPos& pos) {
  if (!rule.columns.empty() || !rule.rename_columns.empty()) {
    return Status::Error(StatusCode::kNotSupported,
                         "the rule ({}) keeps a subset of the columns or renames some: the new definition cannot be "
                         "followed on this target; change its table by hand and restart, or set ddl: ignore",
                         rule.origin);
  }
  ASSIGN_OR_RETURN(auto definitions, SourceColumnDefinitions(db, table, interrupt));
  ASSIGN_OR_RETURN(std::vector<std::string> have, sink.TargetColumns(dest_db, dest_table));
  if (have.empty()) return std::optional<sink::DdlChange>();  // made with its first rows, in the new shape
  auto same = [](const std::string& a, const std::string& b) { return strcasecmp(a.c_str(), b.c_str()) == 0; };
  std::vector<std::string> clauses, added;
  for (const std::string& h : have) {
    if (h == "_version" || h == "_sign") continue;  // ClickHouse's own
    if (std::none_of(definitions.begin(), definitions.end(), [&](const auto& d) { return same(d.first, h); })) {
      clauses.push_back("DROP COLUMN " + mysql::QuoteIdent(h));
    }
  }
  for (const auto& [name, definition] : definitions) {
    bool there = std::any_of(have.begin(), have.end(), [&](const std::string& h) { return same(h, name); });
    clauses.push_back(fmt::format("{} COLUMN {} {}", there ? "MODIFY" : "ADD", mysql::QuoteIdent(name), definition));
    if (!there) added.push_back(name);
  }
  sink::DdlChange c;
  c.db = db;
  c.query = fmt::format("ALTER TABLE {}.{} {}", mysql::QuoteIdent(db), mysql::QuoteIdent(table), fmt::join(clauses, ", "));
  c.target_db = dest_db;
  c.target_table = dest_table;
  c.one_to_one = dest_db == db && dest_table == table;
  c.ts_ms = 0;
  c.pos = pos;
  ASSIGN_OR_RETURN(c.added_columns, AddedColumnsOnSource(target, interrupt, rule, db, table, added, pos));
  return std::optional<sink::DdlChange>(std::move(c));
}

}  // namespace sluice::pipeline
