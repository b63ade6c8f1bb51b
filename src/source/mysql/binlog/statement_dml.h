#pragma once
// Row changes logged as SQL statements: a session that ran with
// binlog_format=STATEMENT or MIXED (SET SESSION binlog_format) writes its
// INSERT, UPDATE, DELETE, REPLACE or LOAD DATA into the binlog as text,
// without row images. A row stream cannot carry them, so the decoder must
// not pass over them silently: it needs to know whether a statement changes
// rows, and which table, to tell whether it concerns the pipeline.

#include <optional>
#include <string>
#include <string_view>

namespace sluice::mysql {

struct StatementDml {
  std::string verb;   // "INSERT", "UPDATE", ... as the statement says it
  std::string db;     // the table's database (the statement's, else the default one)
  std::string table;  // empty when the statement's tables cannot be told (multi-table forms)
};

// nullopt for a statement that changes no rows (DDL, SET, SAVEPOINT, ...).
std::optional<StatementDml> ParseStatementDml(std::string_view query, std::string_view default_db);

}  // namespace sluice::mysql
