#pragma once
// Online schema changes (gh-ost, pt-online-schema-change): the tool copies a
// selected table into a shadow table with the new definition, then swaps the
// two in one `RENAME TABLE t TO _t_old, _t_new TO t`. The shadow table is
// not selected, so the stream never carried its rows, yet they are the
// table's rows: the target table stays, and is altered to the new
// definition (pipeline.cc, HandleRename). Pure functions; no I/O.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/table_set.h"

namespace sluice::pipeline {

// The column lines of a SHOW CREATE TABLE text: (name, definition after the
// name), in order; e.g. ("note", "varchar(40) DEFAULT NULL").
std::vector<std::pair<std::string, std::string>> ColumnDefinitions(std::string_view create_table);

struct TargetAlter {
  std::string statement;           // "ALTER TABLE ..."; "" when the target table matches already
  std::vector<std::string> lossy;  // what existing rows may not hold as the source's do (retyped, possibly renamed)
};

// The ALTER TABLE that makes `db`.`table` (columns `have`) hold the columns
// `want` (target names and types, in order), each added or retyped with
// its definition in `definitions` (same order as `want`); columns only on
// the target are dropped.
TargetAlter AlterToMatch(const std::string& db, const std::string& table, const std::vector<ColumnType>& want,
                         const std::vector<std::string>& definitions, const std::vector<ColumnType>& have);

}  // namespace sluice::pipeline
