#pragma once
// The value rows already in a table hold for a column an ALTER TABLE added
// on a MySQL/MariaDB source: its default (or the type's implicit default
// for NOT NULL columns without one), read from information_schema.COLUMNS.
// Targets that add such a column themselves (PostgreSQL) give it to the
// rows they already hold, as the source did. Pure; no I/O.

#include <optional>
#include <string>

namespace sluice::pipeline {

struct ColumnDefaultInfo {
  std::optional<std::string> column_default;  // COLUMN_DEFAULT (SQL NULL: none)
  bool nullable = true;                       // IS_NULLABLE = 'YES'
  std::string data_type;                      // DATA_TYPE, e.g. "int", "enum"
  std::string column_type;                    // COLUMN_TYPE, e.g. "enum('a','b')"
  std::string extra;                          // EXTRA (MySQL marks expression defaults DEFAULT_GENERATED)
  bool mariadb = true;                        // MariaDB quotes literal defaults (10.2.7 on); MySQL does not
};

struct ExistingRowsValue {
  std::optional<std::string> value;  // as text; nullopt: NULL
  // Why the value cannot be given ("" when it can): an expression default
  // (the source evaluated it at the ALTER), a zero date.
  std::string unknown;
};

ExistingRowsValue ValueOfExistingRows(const ColumnDefaultInfo& c);

}  // namespace sluice::pipeline
