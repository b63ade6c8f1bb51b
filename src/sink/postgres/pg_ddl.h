#pragma once
// Translation of a MySQL DDL statement (as the source ran it) into
// PostgreSQL statements for the target table it maps to.
//
//   CREATE TABLE            nothing: the table is created from the first row's columns
//   CREATE DATABASE/SCHEMA  CREATE SCHEMA IF NOT EXISTS
//   DROP DATABASE/SCHEMA    DROP SCHEMA IF EXISTS ... CASCADE
//   DROP TABLE              DROP TABLE IF EXISTS
//   TRUNCATE                TRUNCATE
//   RENAME TABLE            ALTER TABLE ... RENAME TO / SET SCHEMA (same-name tables only)
//   ALTER TABLE
//     ADD [COLUMN]          nothing now: the next row's columns add it, typed from the source
//     DROP [COLUMN]         DROP COLUMN IF EXISTS
//     RENAME COLUMN a TO b  RENAME COLUMN
//     CHANGE a b type       RENAME COLUMN, and the type is re-derived from the next row
//     MODIFY a type         the type is re-derived from the next row
//     DROP PRIMARY KEY      the target table's primary key dropped (rows may repeat its values now)
//     indexes, keys, constraints, defaults, table options: skipped (no change of row shape; a key
//                           the source table gains is given to the target table by the sink, PgSink::EnsureKeyIndex)
//   CREATE/DROP INDEX       skipped
// Anything else that could change the row shape is an error (kNotSupported).

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "sink/sink.h"

namespace sluice::sink::postgres {

struct PgDdlPlan {
  std::vector<std::string> statements;  // run in one transaction with the checkpoint
  bool retype = false;                  // column types or the key may have changed: re-derive from the next row
  std::vector<std::string> skipped;     // clauses left out (no change of row shape), for the log
};

// `target_column`: the target's name of a source column of the table, or
// nullopt when the target does not hold it (a subset). `target_has`: whether
// the target table has a column of that name now.
Result<PgDdlPlan> TranslateDdl(const DdlChange& ddl,
                               const std::function<std::optional<std::string>(const std::string&)>& target_column,
                               const std::function<bool(const std::string&)>& target_has);

}  // namespace sluice::sink::postgres
