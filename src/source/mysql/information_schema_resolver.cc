#include "source/mysql/information_schema_resolver.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "client/mysql/charset.h"
#include "source/mysql/column/column_decoder.h"
#include "client/mysql/column_types.h"

namespace sluice::mysql {
namespace {

const char* kAdvice =
    "set binlog_row_metadata=FULL on the source (MariaDB >= 10.5, MySQL >= 8.0) so that column names travel "
    "in the binlog, and restart capture from a position written after that";

}  // namespace

Status ApplyInformationSchema(const InformationSchemaTable& info, TableMap& map) {
  TableSchema& s = map.schema;
  if (!map.has_names) {
    if (!info.exists) {
      return Status::Error(StatusCode::kSchemaMismatch,
                           "table `{}`.`{}` is in the binlog but no longer in information_schema, and the binlog "
                           "has no column names for it: {}",
                           s.db, s.table, kAdvice);
    }
    if (info.columns.size() != s.columns.size()) {
      return Status::Error(StatusCode::kSchemaMismatch,
                           "table `{}`.`{}`: the binlog row has {} columns but information_schema shows {} (the "
                           "table changed after this event was written); refusing to guess column names: {}",
                           s.db, s.table, s.columns.size(), info.columns.size(), kAdvice);
    }
    for (size_t i = 0; i < s.columns.size(); ++i) {
      const InformationSchemaColumn& is = info.columns[i];
      if (!ColumnTypeAgrees(s.columns[i], is)) {
        return Status::Error(StatusCode::kSchemaMismatch,
                             "table `{}`.`{}` column {} `{}`: information_schema says {} but the binlog has {} (the "
                             "table changed after this event was written); refusing to guess: {}",
                             s.db, s.table, i + 1, is.name, is.column_type, DescribeColumnType(s.columns[i]), kAdvice);
      }
    }
  }
  bool same_shape = info.exists && info.columns.size() == s.columns.size();
  if (!same_shape) return Status::Ok();  // names from the binlog; nothing to add
  for (size_t i = 0; i < s.columns.size(); ++i) {
    ColumnMeta& c = s.columns[i];
    const InformationSchemaColumn& is = info.columns[i];
    if (map.has_names && c.name != is.name) continue;  // a different table shape: trust the binlog
    if (!map.has_names) c.name = is.name;
    if (!map.has_signedness) c.is_unsigned = is.column_type.find("unsigned") != std::string::npos;
    if (!map.has_charsets && !is.charset.empty() && c.type != kTypeJson && c.type != kTypeGeometry) {
      c.charset = CharsetFromName(is.charset, &c.charset_name);
      c.collation = is.collation;
    }
    if (!map.has_charsets && is.charset.empty() &&
        (is.data_type == "binary" || is.data_type == "varbinary" || is.data_type.find("blob") != std::string::npos)) {
      c.charset = Charset::kBinary;
    }
    if (c.enum_values.empty() && (is.data_type == "enum" || is.data_type == "set")) {
      c.enum_values = ParseEnumMembers(is.column_type);
    }
    c.is_json = is.is_json;
    c.plugin_type = PluginTypeOf(is.data_type);
  }
  bool names_match = true;
  for (size_t i = 0; i < s.columns.size(); ++i) names_match &= s.columns[i].name == info.columns[i].name;
  if (!names_match) return Status::Ok();  // the binlog's names describe another shape: add no keys
  if (!map.has_primary_key) s.primary_key = info.primary_key;
  if (s.primary_key.empty()) s.unique_key = info.unique_key;
  s.names_known = true;
  return Status::Ok();
}

InformationSchemaResolver::InformationSchemaResolver(
    std::unique_ptr<MysqlConnection> conn, std::string server, SchemaHistoryStore store,
    std::function<bool(std::string_view db, std::string_view table)> selected)
    : conn_(std::move(conn)), is_mariadb_(conn_->is_mariadb()), store_(std::move(store)) {
  history_.SetServer(std::move(server));
  history_.SetSelection(std::move(selected));
  if (!store_.load) return;
  auto saved = store_.load();
  if (!saved.ok()) {
    spdlog::warn("schema history not read ({}): tables are read from information_schema as they are now",
                 saved.status().message());
    return;
  }
  for (const auto& [key, value] : *saved) history_.Load(key, value);
}

void InformationSchemaResolver::OnDdl(std::string_view query, std::string_view db, DdlQuoting quoting,
                                      const BinlogFilePos& at) {
  history_.OnDdl(query, db, quoting, at);
  Save();
}

void InformationSchemaResolver::Save() {
  auto changed = history_.TakeChanged();
  if (!store_.save) return;
  for (const auto& [key, value] : changed) {
    Status st = store_.save(key, value);
    if (!st.ok()) {
      // Only a restart from an older position needs it: it reads information_schema as it is then.
      spdlog::warn("schema history not saved: {}", st.message());
      return;
    }
  }
}

Result<InformationSchemaTable> InformationSchemaResolver::Read(std::string_view db, std::string_view table) {
  auto read = ReadInformationSchemaTable(*conn_, is_mariadb_, db, table);
  if (!read.ok() && read.status().retryable()) {
    // The connection died since the last read (the server restarted, an
    // idle timeout, a cut): reconnect now, once, and read again. A failure
    // here is retryable and the stream's reconnect loop backs off.
    RETURN_IF_ERROR(conn_->Reconnect().WithContext("reconnect for information_schema"));
    read = ReadInformationSchemaTable(*conn_, is_mariadb_, db, table);
  }
  return read;
}

namespace {

Status Apply(const InformationSchemaTable& info, TableMap& map) {
  RETURN_IF_ERROR(ApplyInformationSchema(info, map));
  MarkSystemVersioningColumns(info, map.schema);
  return Status::Ok();
}

}  // namespace

Status InformationSchemaResolver::Resolve(TableMap& map, const BinlogFilePos& at) {
  bool complete = map.has_names && map.has_signedness && map.has_primary_key;
  // On MariaDB, information_schema is read once per table (kept until DDL)
  // even when the binlog names everything: JSON columns and system
  // versioning are only there.
  if (complete && !is_mariadb_) return Status::Ok();
  const TableSchema as_logged = map.schema;
  if (const InformationSchemaTable* known = history_.At(map.db, map.table, at)) {
    Status st = Apply(*known, map);
    if (st.ok()) return st;
    // A DDL statement sluice did not see as touching the table? The table
    // as it is now may be the one.
    spdlog::warn("`{}`.`{}` @ {}: the shape recorded for it disagrees with the binlog ({}); reading it again", map.db,
                 map.table, at.ToString(), st.message());
    map.schema = as_logged;
  }
  auto now = Read(map.db, map.table);
  if (!now.ok()) {
    if (complete) return Status::Ok();  // best effort when the binlog names everything
    return now.status().WithContext(fmt::format("read schema of `{}`.`{}`", map.db, map.table));
  }
  Status st = Apply(*now, map);
  if (st.ok()) {
    history_.Record(map.db, map.table, at, std::move(now).value());
    Save();
    return st;
  }
  if (st.code() != StatusCode::kSchemaMismatch) return st;
  // The table changed again since the statement the stream is at: its
  // shape then, from the one recorded before and the statements between.
  std::optional<InformationSchemaTable> then = history_.Derive(map.db, map.table, at, *now);
  if (!then) return st;
  map.schema = as_logged;
  if (!Apply(*then, map).ok()) {
    map.schema = as_logged;
    return st;
  }
  spdlog::info("`{}`.`{}` @ {}: the table changed again since; its columns then follow from the DDL statements sluice "
               "read", map.db, map.table, at.ToString());
  history_.Record(map.db, map.table, at, std::move(*then));
  Save();
  return Status::Ok();
}

}  // namespace sluice::mysql
