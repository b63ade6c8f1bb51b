#pragma once
// What a pipeline's table rules carried when it last ran, so that a start
// can tell which tables a changed configuration newly selects: a table no
// rule selected before (added to `tables:`), or whose rule now carries
// something else (`to`, `columns`, `rename_columns`, `where`). The stream
// carried none of their existing rows: the pipeline creates their target
// tables before capturing, and copies the rows (`snapshot: initial`) or
// says how to (pipeline.cc, PrepareNewlySelected).
//
// The record is a JSON list of rules in the pipeline's store (setting
// "selection"); pure functions, no I/O.

#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/config.h"
#include "pipeline/table_set.h"

namespace sluice::pipeline {

// The rules as the record keeps them: what each one selects and carries.
std::string DescribeSelection(const std::vector<TableRule>& rules);

// A record back as rules (match, regex, to, columns, renames, where); a
// record that does not parse is an error naming it.
Result<std::vector<TableRule>> ParseSelection(const std::string& record);

// The tables of `now` (each with the rule that selects it now) whose rows
// the `before` rules did not carry as the current rule does: no rule
// selected them, or the first that did differs in what it carries.
std::vector<SourceTable> NewlySelected(const std::vector<SourceTable>& now, const std::vector<TableRule>& before);

}  // namespace sluice::pipeline
