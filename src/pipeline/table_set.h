#pragma once
// What a pipeline's table rules select, for the stages that work table by
// table rather than change by change (snapshot, check): the mapping rules as
// the transform stage compiles them, and the source tables they select now.

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "pipeline/config.h"
#include "source/mysql/protocol/connection.h"
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

// Base tables on the source selected by the pipeline's rules, in name order
// (system schemas and sluice's own `_sluice` excluded).
Result<std::vector<SourceTable>> SelectedTables(sluice::mysql::MysqlConnection& source, const PipelineConfig& p);

}  // namespace sluice::pipeline
