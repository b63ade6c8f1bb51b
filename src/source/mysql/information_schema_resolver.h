#pragma once
// InformationSchemaResolver: the SchemaResolver for live servers. Reads a
// table's columns, primary key and (MariaDB) JSON check constraints once,
// keeps them in a SchemaHistory (from that position until a DDL statement
// that touched the table; kept across restarts where a store is given), and
// verifies them against each TABLE_MAP: information_schema shows the table
// as it is *now*, which is not how it was when an old event was written, so
// any disagreement in column count or type stops capture instead of
// mislabelling values.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/mysql/connection.h"
#include "client/mysql/information_schema.h"
#include "source/mysql/schema_history.h"
#include "source/mysql/schema_resolver.h"

namespace sluice::mysql {

// Applies what information_schema knows to a TABLE_MAP lacking metadata, or
// returns a kSchemaMismatch Status naming table and column.
Status ApplyInformationSchema(const InformationSchemaTable& info, TableMap& map);

class InformationSchemaResolver : public SchemaResolver {
 public:
  // `server` names the source server (its server_id): a history kept for
  // another one is not used. `store` may be empty (kept in memory only).
  // `selected`: the captured tables (null: all), whose DDL statements the
  // history keeps.
  InformationSchemaResolver(std::unique_ptr<MysqlConnection> conn, std::string server, SchemaHistoryStore store = {},
                            std::function<bool(std::string_view db, std::string_view table)> selected = nullptr);
  Status Resolve(TableMap& map, const BinlogFilePos& at) override;
  void OnDdl(std::string_view query, std::string_view db, DdlQuoting quoting, const BinlogFilePos& at) override;

 private:
  Result<InformationSchemaTable> Read(std::string_view db, std::string_view table);  // as it is now
  void Save();

  std::unique_ptr<MysqlConnection> conn_;
  bool is_mariadb_;
  SchemaHistory history_;
  SchemaHistoryStore store_;
};

}  // namespace sluice::mysql
