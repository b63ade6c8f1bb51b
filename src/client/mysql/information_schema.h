#pragma once
// What information_schema says about one table (columns, keys, charsets,
// system versioning): read by the binlog source's schema resolver and by the
// table reader of snapshots and checks.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client/mysql/connection.h"
#include "core/table_schema.h"

namespace sluice::mysql {

struct InformationSchemaColumn {
  std::string name;
  std::string data_type;    // lower case: "int", "varchar", "enum", ...
  std::string column_type;  // "int(10) unsigned", "enum('a','b')"
  std::string charset;      // CHARACTER_SET_NAME, empty for non-text
  uint32_t collation = 0;   // the id of COLLATION_NAME, 0 for non-text
  std::string generation;   // GENERATION_EXPRESSION: "ROW START"/"ROW END" for system-versioning columns
  bool is_json = false;     // MariaDB: LONGTEXT with CHECK (json_valid(col))
  bool nullable = true;
};

struct InformationSchemaTable {
  bool exists = false;
  std::vector<InformationSchemaColumn> columns;
  std::vector<uint32_t> primary_key;
  std::vector<uint32_t> unique_key;  // the first unique key over NOT NULL columns
  bool system_versioned = false;     // MariaDB TABLE_TYPE 'SYSTEM VERSIONED'
};

// Marks s's row start/end columns (TableSchema::row_start_column) when the
// table is system-versioned: the explicit ones by their GENERATION_EXPRESSION,
// the implicit (invisible, absent from information_schema) ones by MariaDB's
// fixed names row_start/row_end in the binlog's column names.
void MarkSystemVersioningColumns(const InformationSchemaTable& info, TableSchema& s);

// Checks one column's TABLE_MAP type against information_schema's; false
// when they cannot be the same column.
bool ColumnTypeAgrees(const ColumnMeta& binlog, const InformationSchemaColumn& is);
// "enum('a','it''s')" -> {"a", "it's"}
std::vector<std::string> ParseEnumMembers(std::string_view column_type);
// Reads one table's description; `exists` is false when there is no such table.
Result<InformationSchemaTable> ReadInformationSchemaTable(MysqlConnection& conn, bool is_mariadb, std::string_view db,
                                                          std::string_view table);

}  // namespace sluice::mysql
