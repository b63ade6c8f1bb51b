#pragma once
// SchemaResolver: completes what a TABLE_MAP does not say (column names, key,
// signedness, charsets, ENUM/SET members, MariaDB JSON columns) from the
// server's information_schema, and checks that what it does say agrees.
// Called on the capture thread only.

#include <string_view>

#include "core/status.h"
#include "source/mysql/binlog/table_map.h"

namespace sluice::mysql {

class SchemaResolver {
 public:
  virtual ~SchemaResolver() = default;
  // Completes `map.schema`. Returns a kSchemaMismatch Status when the table's
  // known columns disagree in count or type with the TABLE_MAP.
  virtual Status Resolve(TableMap& map) = 0;
  // Forgets what is cached about a database's tables (after DDL); an empty
  // name forgets everything.
  virtual void Invalidate(std::string_view db) = 0;
};

}  // namespace sluice::mysql
