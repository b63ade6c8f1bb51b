// The schema history's first entries where a snapshot starts the stream
// (schema_history_start.h). The stream reads a table's shape from
// information_schema at its first row otherwise, which after a long snapshot
// may be a shape an ALTER made meanwhile.

#include "pipeline/schema_history_start.h"

#include <spdlog/spdlog.h>

#include "client/mysql/information_schema.h"
#include "pipeline/pipeline.h"
#include "pipeline/table_set.h"
#include "source/mysql/schema_history.h"

namespace sluice::pipeline {

static_assert(std::string_view(kSchemaHistoryPrefix) == mysql::SchemaHistory::kKeyPrefix);

Status RecordTableShapes(PipelineSettings& settings, const PipelineConfig& p, const SourceConfig& s,
                         const std::string& position, sluice::mysql::Interrupter* interrupt) {
  auto at = BinlogFilePos::Parse(position);
  if (!at.ok()) return Status::Ok();  // not a file:offset: nothing the history can order
  ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(s.endpoint));
  ASSIGN_OR_RETURN(auto conn, mysql::MysqlConnection::Connect(co, interrupt));
  ASSIGN_OR_RETURN(auto server, conn->QueryValue("SELECT @@server_id"));
  ASSIGN_OR_RETURN(auto selected, SelectedTables(*conn, p));
  mysql::SchemaHistory history;
  history.SetServer(server.value_or(""));
  for (const SourceTable& t : selected) {
    ASSIGN_OR_RETURN(auto shape, mysql::ReadInformationSchemaTable(*conn, conn->is_mariadb(), t.db, t.table));
    history.Record(t.db, t.table, *at, std::move(shape));
  }
  for (const auto& [key, value] : history.TakeChanged()) RETURN_IF_ERROR(settings.Set(key, value));
  return Status::Ok();
}

void Pipeline::RecordTableShapesAt(const std::string& position) {
  Status st = RecordTableShapes(*settings_, cfg_, *source_cfg_, position, &jobs_interrupt_);
  if (!st.ok()) {
    spdlog::warn("pipeline {}: the tables' shapes at {} were not recorded ({}): the stream reads them when it gets "
                 "there",
                 cfg_.name, position, st.message());
  }
}

}  // namespace sluice::pipeline
