#include "client/mysql/foreign_keys.h"

namespace sluice::mysql {

Result<std::vector<ForeignKey>> ReadForeignKeys(MysqlConnection& conn) {
  ASSIGN_OR_RETURN(auto rows,
                   conn.Query("SELECT k.CONSTRAINT_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, "
                              "k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, "
                              "r.DELETE_RULE, r.UPDATE_RULE "
                              "FROM information_schema.KEY_COLUMN_USAGE k "
                              "JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
                              "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.TABLE_NAME = k.TABLE_NAME "
                              "AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
                              "WHERE k.REFERENCED_TABLE_NAME IS NOT NULL "
                              "ORDER BY k.CONSTRAINT_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION"));
  std::vector<ForeignKey> out;
  for (const auto& r : rows) {
    const std::string db = r[0].value_or(""), table = r[1].value_or(""), name = r[2].value_or("");
    if (out.empty() || out.back().db != db || out.back().table != table || out.back().name != name) {
      ForeignKey fk;
      fk.db = db;
      fk.table = table;
      fk.name = name;
      fk.parent_db = r[4].value_or("");
      fk.parent_table = r[5].value_or("");
      fk.on_delete = r[7].value_or("");
      fk.on_update = r[8].value_or("");
      out.push_back(std::move(fk));
    }
    out.back().columns.push_back(r[3].value_or(""));
    out.back().parent_columns.push_back(r[6].value_or(""));
  }
  return out;
}

}  // namespace sluice::mysql
