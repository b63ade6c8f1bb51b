#include "source/registry.h"

#include "source/mysql/binlog_file_source.h"
#include "source/mysql/binlog_stream_source.h"
#include "source/postgres/pg_stream_source.h"

namespace sluice {

Result<std::unique_ptr<Source>> OpenSource(const SourceOptions& o) {
  mysql::BinlogDecoder::Options dopts;
  dopts.verify_checksums = o.verify_checksums;
  dopts.tables = mysql::TableFilter(o.tables);
  dopts.drop_marked_by = o.drop_marked_by;
  if (o.url.scheme == "file") {
    mysql::BinlogFileSource::Options fo;
    fo.path = o.url.path;
    fo.decoder = dopts;
    fo.follow_rotate = o.follow;
    if (o.start_given) {
      if (o.start.kind != StartPosition::Kind::kFilePos) {
        return Status::Invalid("a binlog file source starts at earliest or FILE:OFFSET");
      }
      fo.start_offset = o.start.file_pos.offset;
    }
    return std::unique_ptr<Source>(new mysql::BinlogFileSource(std::move(fo)));
  }
  if (o.url.scheme == "mysql" || o.url.scheme == "mariadb") {
    mysql::BinlogStreamSource::Options so;
    ASSIGN_OR_RETURN(so.connect, mysql::ConnectOptions::FromUrl(o.url));
    so.start = o.start;
    so.start_gtid_state = o.start_gtid_state;
    so.server_id = o.server_id;
    so.heartbeat = o.heartbeat;
    so.reconnect_timeout = o.reconnect_timeout;
    so.on_reconnect = o.on_reconnect;
    so.schema_history = {o.load_schema_history, o.save_schema_history};
    so.decoder = dopts;
    return std::unique_ptr<Source>(new mysql::BinlogStreamSource(std::move(so)));
  }
  if (o.url.scheme == "postgres" || o.url.scheme == "postgresql") {
    postgres::PgStreamSource::Options po;
    ASSIGN_OR_RETURN(po.connect, postgres::ConnectOptions::FromUrl(o.url));
    po.slot = o.url.Param("slot", o.default_slot);
    po.publication = o.url.Param("publication");
    switch (o.start.kind) {
      case StartPosition::Kind::kLatest:
      case StartPosition::Kind::kEarliest:
      case StartPosition::Kind::kLsn:
        break;
      default:
        return Status::Invalid("a PostgreSQL source starts at latest, earliest or an LSN such as 0/16B3748, not {}",
                               o.start.ToString());
    }
    po.start = o.start;
    po.tables = o.tables;
    po.rule_patterns = o.rule_patterns;
    po.unchecked_tables = o.unchecked_tables;
    po.reconnect_timeout = o.reconnect_timeout;
    po.on_reconnect = o.on_reconnect;
    po.applied = o.applied_lsn;
    return std::unique_ptr<Source>(new postgres::PgStreamSource(std::move(po)));
  }
  return Status::Invalid(
      "unsupported source URL scheme {}:// (supported: mysql://, mariadb://, file://, postgres://)", o.url.scheme);
}

bool IsSourceScheme(std::string_view scheme) {
  return scheme == "mysql" || scheme == "mariadb" || scheme == "file" || scheme == "postgres" ||
         scheme == "postgresql";
}

}  // namespace sluice
