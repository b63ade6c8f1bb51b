#include "pipeline/foreign_keys.h"

#include <fmt/format.h>

namespace sluice::pipeline {
namespace {

bool IsAction(const std::string& rule) { return rule == "CASCADE" || rule == "SET NULL" || rule == "SET DEFAULT"; }

}  // namespace

Result<std::vector<CascadingForeignKey>> CascadingForeignKeys(
    mysql::MysqlConnection& conn, const std::function<bool(const std::string&, const std::string&)>& selected) {
  ASSIGN_OR_RETURN(auto rows, conn.Query("SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, "
                                         "UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME, DELETE_RULE, UPDATE_RULE "
                                         "FROM information_schema.REFERENTIAL_CONSTRAINTS "
                                         "ORDER BY CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME"));
  std::vector<CascadingForeignKey> out;
  for (const auto& r : rows) {
    CascadingForeignKey fk;
    fk.db = r[0].value_or("");
    fk.table = r[1].value_or("");
    if (!selected(fk.db, fk.table)) continue;
    const std::string on_delete = r[5].value_or(""), on_update = r[6].value_or("");
    if (!IsAction(on_delete) && !IsAction(on_update)) continue;
    fk.name = r[2].value_or("");
    fk.referenced = r[3].value_or("") + "." + r[4].value_or("");
    if (IsAction(on_delete)) fk.actions = "ON DELETE " + on_delete;
    if (IsAction(on_update)) fk.actions += (fk.actions.empty() ? "" : ", ") + std::string("ON UPDATE ") + on_update;
    out.push_back(std::move(fk));
  }
  return out;
}

std::string DescribeCascadingForeignKey(const CascadingForeignKey& fk) {
  return fmt::format(
      "table {}.{} has foreign key `{}` to {} with {}: the source server applies that to the child rows without "
      "writing them to its binlog, so no target receives those changes (rows that left the source, or kept an old "
      "key, stay on the targets); `sluice check` finds them and `--repair` fixes them",
      fk.db, fk.table, fk.name, fk.referenced, fk.actions);
}

}  // namespace sluice::pipeline
