#include "sink/mysql/deferred_indexes.h"

#include <fmt/format.h>
#include <mysqld_error.h>

#include <vector>

#include "sink/mysql/sql_builder.h"

namespace sluice::sink::mysql {

IndexSplit SplitPlainIndexes(std::string_view create_sql) {
  IndexSplit out;
  out.create = std::string(create_sql);
  if (create_sql.find("FOREIGN KEY") != std::string_view::npos) return out;
  std::vector<std::string_view> lines;
  for (size_t start = 0; start <= create_sql.size();) {
    size_t end = create_sql.find('\n', start);
    if (end == std::string_view::npos) end = create_sql.size();
    lines.push_back(create_sql.substr(start, end - start));
    start = end + 1;
  }
  // Definitions sit between "CREATE TABLE ... (" and ") ENGINE=...".
  if (lines.size() < 3 || lines.front().empty() || lines.front().back() != '(' || lines.back().rfind(")", 0) != 0) {
    return out;
  }
  std::vector<std::string_view> kept;
  std::vector<std::string_view> deferred;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    std::string_view def = lines[i];
    if (!def.empty() && def.back() == ',') def.remove_suffix(1);
    if (def.rfind("  KEY ", 0) == 0) {
      deferred.push_back(def.substr(2));
    } else {
      kept.push_back(def);
    }
  }
  if (deferred.empty() || kept.empty()) return out;
  std::string create(lines.front());
  for (size_t i = 0; i < kept.size(); ++i) {
    create += '\n';
    create += kept[i];
    if (i + 1 < kept.size()) create += ',';
  }
  create += '\n';
  create += lines.back();
  out.create = std::move(create);
  for (size_t i = 0; i < deferred.size(); ++i) {
    if (i) out.add_indexes += ", ";
    out.add_indexes += "ADD ";
    out.add_indexes += deferred[i];
  }
  return out;
}

Status BuildDeferredIndexes(sluice::mysql::MysqlConnection& c, std::string_view db, std::string_view table,
                            bool keep_missing) {
  std::string where = "TRUE";
  if (!db.empty()) {
    where = "db = ";
    AppendQuotedString(where, db);
  }
  if (!table.empty()) {
    where += " AND tbl = ";
    AppendQuotedString(where, table);
  }
  auto rows = c.Query("SELECT db, tbl, ddl FROM `_sluice`.`deferred_indexes` WHERE " + where);
  if (!rows.ok()) {
    // No snapshot ever deferred an index on this target: no table.
    if (mysql_errno(c.raw()) == ER_NO_SUCH_TABLE || mysql_errno(c.raw()) == ER_BAD_DB_ERROR) return Status::Ok();
    return rows.status();
  }
  for (const auto& row : *rows) {
    if (row.size() < 3 || !row[0] || !row[1] || !row[2]) continue;
    const std::string& ddl = *row[2];
    if (mysql_real_query(c.raw(), ddl.data(), ddl.size()) != 0) {
      unsigned err = mysql_errno(c.raw());
      if (err == ER_NO_SUCH_TABLE && keep_missing) continue;
      // ER_DUP_KEYNAME: built already, by a run that stopped before
      // forgetting it; ER_NO_SUCH_TABLE: the table is gone (dropped).
      if (err != ER_DUP_KEYNAME && err != ER_NO_SUCH_TABLE) {
        return Status::Error(StatusCode::kServerError, "target {}: building the indexes of `{}`.`{}` ({}): {} (error {})",
                             c.options().Describe(), *row[0], *row[1], ddl, mysql_error(c.raw()), err);
      }
    } else if (MYSQL_RES* res = mysql_store_result(c.raw())) {
      mysql_free_result(res);
    }
    std::string forget = "DELETE FROM `_sluice`.`deferred_indexes` WHERE db = ";
    AppendQuotedString(forget, *row[0]);
    forget += " AND tbl = ";
    AppendQuotedString(forget, *row[1]);
    RETURN_IF_ERROR(c.Execute(forget));
  }
  return Status::Ok();
}

}  // namespace sluice::sink::mysql
