#pragma once
// SchemaResolver: completes what a TABLE_MAP does not say (column names, key,
// signedness, charsets, ENUM/SET members, MariaDB JSON columns) from the
// server's information_schema, and checks that what it does say agrees.
// Called on the capture thread only.

#include <string_view>

#include "client/mysql/ddl_statement.h"
#include "core/position.h"
#include "core/status.h"
#include "source/mysql/binlog/table_map.h"

namespace sluice::mysql {

class SchemaResolver {
 public:
  virtual ~SchemaResolver() = default;
  // Completes `map.schema`, the TABLE_MAP at `at`. Returns a kSchemaMismatch
  // Status when the table's known columns disagree in count or type with it.
  virtual Status Resolve(TableMap& map, const BinlogFilePos& at) = 0;
  // A DDL statement at `at`, run with current database `db`: what is known
  // of the tables it touched ends there.
  virtual void OnDdl(std::string_view query, std::string_view db, DdlQuoting quoting, const BinlogFilePos& at) = 0;
};

}  // namespace sluice::mysql
