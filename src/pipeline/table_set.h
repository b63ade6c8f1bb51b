#pragma once
// What a pipeline's table rules select, for the stages that work table by
// table rather than change by change (snapshot, check): the mapping rules as
// the transform stage compiles them, and the source tables they select now.

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "pipeline/config.h"
#include "client/mysql/connection.h"
#include "transform/table_mapper.h"

namespace sluice::pipeline {

// The pipeline's rules in the mapper's form (DDL policy resolved against the
// pipeline default; origins "file:line:col key_path" for messages).
std::vector<transform::MappingRule> MappingRules(const PipelineConfig& p);

struct SourceTable {
  std::string db, table;
  const TableRule* rule = nullptr;  // the first rule selecting it
  std::string name() const { return db + "." + table; }
};

// The target table ("db.table") `rule` names for a source table.
std::string TargetTableName(const TableRule& rule, const std::string& db, const std::string& table);
// Of `selected`, the tables feeding a target table that one of `tables`
// (source "db.table" names) feeds too: those to compare for such a target
// table as a whole, shards merged into it included.
std::vector<SourceTable> FeedingTargetsOf(std::vector<SourceTable> selected, const std::vector<std::string>& tables);

// Base tables on the source selected by the pipeline's rules, in name order
// (system schemas and sluice's own `_sluice` excluded).
Result<std::vector<SourceTable>> SelectedTables(sluice::mysql::MysqlConnection& source, const PipelineConfig& p);
// The MariaDB sequences the rules select, in name order.
Result<std::vector<SourceTable>> SelectedSequences(sluice::mysql::MysqlConnection& source, const PipelineConfig& p);

// Checks a rule against a source table as it is now (before anything runs):
// `columns:`, `rename_columns:` and `where:` name columns it has, a subset
// keeps its key, the filter binds. Errors are config errors at the key.
Status CheckRuleAgainstTable(const TableRule& r, const TableSchema& s);

// The config error text for a rule that selects no table on `source`: names
// a missing SELECT privilege when that is why the tables are invisible.
std::string NoTableMessage(sluice::mysql::MysqlConnection& conn, const TableRule& r, const std::string& source);

// A column as information_schema.COLUMNS describes it (COLUMN_TYPE, e.g.
// "varchar(40)", "int(10) unsigned").
struct ColumnType {
  std::string name, type;
  // A row written without it fails: NOT NULL, no default, neither generated
  // nor AUTO_INCREMENT (what a target's own extra column must not be).
  bool needs_value = false;
};
// The table's columns in order on the server at `endpoint`; empty when the
// table does not exist.
Result<std::vector<ColumnType>> ReadColumnTypes(const Url& endpoint, const std::string& db, const std::string& table);
// The target columns `rule` makes of a source table's columns (subset,
// renames, source types); kept columns the source lacks go to *missing.
std::vector<ColumnType> MapColumns(const transform::MappingRule& rule, const std::vector<ColumnType>& source,
                                   std::vector<std::string>* missing);
// Whether a target column of COLUMN_TYPE `target` holds every value of a
// source column of `source` and reads it back the same: the same type, or
// a wider one of its family (integers, CHAR/VARCHAR, VARBINARY, TEXT and
// BLOB sizes, DECIMAL with the same scale and more digits).
bool TargetTypeHolds(std::string_view target, std::string_view source);
// How `have` (the target's) differs from `want` as a set of names and types
// (a target type that holds the source's, TargetTypeHolds, is no difference):
// "`v` is int(11) on the target, bigint(20) on the source; `w` is missing on
// the target"; "" when they agree (names compared case-insensitively).
// `extra_ok`: columns only on the target are not a difference (a table the
// user made with columns of its own, which rows leave to their defaults).
std::string ColumnDifferences(const std::vector<ColumnType>& want, const std::vector<ColumnType>& have,
                              bool extra_ok = false);

// Another pipeline of a configuration that may write a target table
// (db, table) too, by name ("" when none).
using OtherWriters = std::function<std::string(const std::string& db, const std::string& table)>;
// The pipelines of `config` besides `p` that write `target` (or a target
// naming the same server and database) too, as OtherWriters: one may write
// a table by a rule that keeps a name its `match` selects, or by a `to:`
// template that can give that name (with any ${db} and ${table}). Null when
// there are none.
OtherWriters OtherWritersOf(const Config& config, const PipelineConfig& p, const std::string& target);

// Whether `rule` can map several source tables to one target table: shards
// merged by a `to:` without ${table} for a `match` with wildcards in the
// table name, or without ${db} for wildcards in the database name (or a regex).
bool MergesTables(const transform::MappingRule& rule);

}  // namespace sluice::pipeline
