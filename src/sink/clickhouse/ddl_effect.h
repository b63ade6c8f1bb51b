#pragma once
// What a MySQL DDL statement means for ClickHouse tables that mirror the
// source: enough of a reading to apply DROP/TRUNCATE, to let ALTERs reshape
// the table on its next rows, and to refuse what rows cannot follow.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::sink::clickhouse {

struct DdlEffect {
  enum class Kind : uint8_t {
    kCreateDatabase,
    kDropDatabase,
    kDropTable,
    kTruncateTable,
    kAlterTable,   // reshaped on the table's next rows (columns added, dropped, retyped)
    kSkip,         // no effect on rows: CREATE TABLE (made with its first rows), indexes, ...
    kUnsupported,  // `reason` says why
  };
  Kind kind = Kind::kSkip;
  std::string reason;
  // kAlterTable: columns renamed (RENAME COLUMN, CHANGE with another name),
  // (old, new) as the statement spells them; the rows already there keep
  // their values under the new name (column_retype.h).
  std::vector<std::pair<std::string, std::string>> renamed_columns;
  // kAlterTable: the table renamed (RENAME TABLE of one table, ALTER TABLE
  // ... RENAME TO) to (database, table) as written; the database is empty
  // when the statement names none (the statement's current one).
  std::optional<std::pair<std::string, std::string>> renamed_to;
};

// `defaults_known`: the values the rows already there hold for the columns
// the statement adds are given (DdlChange::added_columns), so adding a
// column with a DEFAULT is followed rather than refused.
DdlEffect ClassifyDdl(std::string_view query, bool defaults_known = false);

}  // namespace sluice::sink::clickhouse
