// Pipeline: what the rows a table already holds read for the columns an
// ALTER TABLE added on a MySQL/MariaDB source (column_default.h), for
// targets that add columns themselves (sink::DdlChange::added_columns).
// Before, a PostgreSQL target's rows read NULL where the source's read
// the column's default.

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include "client/mysql/column_types.h"
#include "client/mysql/table_reader.h"
#include "pipeline/column_default.h"
#include "pipeline/pipeline.h"

namespace sluice::pipeline {

Result<std::vector<sink::DdlChange::AddedColumn>> Pipeline::AddedColumnsOnSource(
    const std::string& target, Interrupter* interrupt, const transform::MappingRule& rule, const std::string& db,
    const std::string& table, const std::vector<std::string>& names, const StreamPos& pos) {
  std::vector<sink::DdlChange::AddedColumn> out;
  ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
  auto conn = mysql::MysqlConnection::Connect(co, interrupt);
  if (!conn.ok()) return conn.status().WithContext(fmt::format("source {}", cfg_.source));
  // TIMESTAMP defaults read in UTC (information_schema shows them in the
  // session's time zone), as the stream carries TIMESTAMP values.
  RETURN_IF_ERROR((*conn)->Execute("SET time_zone = '+00:00'").WithContext(fmt::format("source {}", cfg_.source)));
  auto schema = mysql::ReadTableSchema(**conn, db, table);
  if (!schema.ok() && schema.status().code() == StatusCode::kNotFound) return out;  // dropped since
  if (!schema.ok()) return schema.status().WithContext(fmt::format("source {}", cfg_.source));
  ASSIGN_OR_RETURN(auto rows, (*conn)->Query(fmt::format(
                                  "SELECT COLUMN_NAME, COLUMN_DEFAULT, IS_NULLABLE, DATA_TYPE, COLUMN_TYPE, EXTRA FROM "
                                  "information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{}'",
                                  (*conn)->Escape(db), (*conn)->Escape(table))));
  auto same = [](const std::string& a, const std::string& b) { return strcasecmp(a.c_str(), b.c_str()) == 0; };
  for (const std::string& name : names) {
    if (!rule.columns.empty() &&
        std::none_of(rule.columns.begin(), rule.columns.end(), [&](const std::string& k) { return same(k, name); })) {
      continue;  // outside the subset the target holds
    }
    const ColumnMeta* meta = nullptr;
    for (const ColumnMeta& c : (*schema)->columns) {
      if (same(c.name, name)) meta = &c;
    }
    const std::vector<std::optional<std::string>>* info = nullptr;
    for (const auto& r : rows) {
      if (r[0] && same(*r[0], name)) info = &r;
    }
    if (meta == nullptr || info == nullptr) continue;  // dropped again since
    ColumnDefaultInfo c;
    c.column_default = (*info)[1];
    c.nullable = (*info)[2].value_or("YES") == "YES";
    c.data_type = (*info)[3].value_or("");
    c.column_type = (*info)[4].value_or("");
    c.extra = (*info)[5].value_or("");
    c.mariadb = (*conn)->is_mariadb();
    ExistingRowsValue v = ValueOfExistingRows(c);
    sink::DdlChange::AddedColumn added;
    added.name = meta->name;
    for (const auto& [from, to] : rule.rename_columns) {
      if (same(from, meta->name)) added.name = to;
    }
    added.meta = *meta;
    added.existing_value = v.value;
    if (v.value) {
      Arena arena(256);
      Value decoded;
      Status st = mysql::DecodeTextValue(*meta, v.value->data(), v.value->size(), arena, decoded);
      if (st.ok()) {
        auto stored = std::make_shared<StoredValue>();
        stored->bytes.assign(decoded.s);
        if (decoded.kind == ValueKind::kBytes && meta->type == mysql::kTypeString) {
          // BINARY(N) holds N bytes, zero-padded (as the stream decodes them).
          const mysql::StringMeta sm = mysql::DecodeStringMeta(meta->meta);
          if (sm.real_type == mysql::kTypeString && stored->bytes.size() < sm.length) stored->bytes.resize(sm.length);
        }
        stored->value = decoded;
        stored->value.s = stored->bytes;
        added.existing = std::move(stored);
      } else {
        spdlog::debug("pipeline {}: column `{}` of `{}.{}`: default \"{}\" not decoded: {}", cfg_.name, meta->name, db,
                      table, *v.value, st.message());
      }
    }
    if (!v.unknown.empty()) {
      std::string message = fmt::format(
          "DDL @ {}: column `{}` added to `{}.{}`: {}, so the rows target {} already holds do not read the source's "
          "value there; `sluice check --repair` gives them the source's values",
          pos.ToString(), meta->name, db, table, v.unknown, target);
      spdlog::warn("pipeline {}: {}", cfg_.name, message);
      std::lock_guard lock(mu_);
      NoteEvent(target, "warning", std::move(message));
    }
    out.push_back(std::move(added));
  }
  return out;
}

}  // namespace sluice::pipeline
