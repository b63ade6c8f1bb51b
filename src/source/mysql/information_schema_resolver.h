#pragma once
// InformationSchemaResolver: the SchemaResolver for live servers. Reads a
// table's columns, primary key and (MariaDB) JSON check constraints once,
// caches them until DDL invalidates the cache, and verifies them against each
// TABLE_MAP: information_schema shows the table as it is *now*, which is not
// how it was when an old event was written, so any disagreement in column
// count or type stops capture instead of mislabelling values.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/mysql/connection.h"
#include "client/mysql/information_schema.h"
#include "source/mysql/schema_resolver.h"

namespace sluice::mysql {

// Applies what information_schema knows to a TABLE_MAP lacking metadata, or
// returns a kSchemaMismatch Status naming table and column.
Status ApplyInformationSchema(const InformationSchemaTable& info, TableMap& map);

class InformationSchemaResolver : public SchemaResolver {
 public:
  explicit InformationSchemaResolver(std::unique_ptr<MysqlConnection> conn);
  Status Resolve(TableMap& map) override;
  void Invalidate(std::string_view db) override;

 private:
  Result<const InformationSchemaTable*> Load(std::string_view db, std::string_view table);

  std::unique_ptr<MysqlConnection> conn_;
  bool is_mariadb_;
  std::map<std::string, InformationSchemaTable, std::less<>> cache_;
};

}  // namespace sluice::mysql
