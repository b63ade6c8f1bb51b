#include "pipeline/position_change.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>
#include <string_view>

#include "client/mysql/connection.h"

namespace sluice::pipeline {

namespace {

// Binlog events a transaction never starts with a position at: a start
// position must point at one of these (or at the end of a file), never into
// the middle of a transaction.
bool IsBoundaryEvent(std::string_view type) {
  for (std::string_view t : {"Gtid", "Anonymous_Gtid", "Format_desc", "Gtid_list", "Binlog_checkpoint",
                             "Previous_gtids", "Rotate", "Stop", "Start_encryption"}) {
    if (type == t) return true;
  }
  return false;
}

}  // namespace

Status CheckFilePosition(const SourceConfig& src, const BinlogFilePos& pos) {
  auto retry = [&](const Status& st) {
    return Status::Retryable(StatusCode::kIoError, "cannot check position {} on source {}: {}", pos.ToString(),
                             src.name, st.message());
  };
  auto co = mysql::ConnectOptions::FromUrl(src.endpoint);
  if (!co.ok()) return co.status();
  auto conn = mysql::MysqlConnection::Connect(*co);
  if (!conn.ok()) return retry(conn.status());
  auto logs = (*conn)->Query("SHOW BINARY LOGS");
  if (!logs.ok()) return retry(logs.status());
  std::optional<uint64_t> size;
  for (const auto& row : *logs) {
    if (row.size() < 2 || row[0].value_or("") != pos.file) continue;
    std::string text = row[1].value_or("");
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Status::Error(StatusCode::kServerError, "source {}: SHOW BINARY LOGS gave size \"{}\" for {}", src.name,
                           text, pos.file);
    }
    size = n;
  }
  if (!size) {
    std::string have =
        logs->empty() ? std::string("none") : logs->front()[0].value_or("") + " .. " + logs->back()[0].value_or("");
    return Status::Invalid("position {}: source {} has no binlog file \"{}\" (it has {})", pos.ToString(), src.name,
                           pos.file, have);
  }
  if (pos.offset < 4) {
    return Status::Invalid("position {}: offset {} is inside the file header; the first event is at {}:4",
                           pos.ToString(), pos.offset, pos.file);
  }
  if (pos.offset > *size) {
    return Status::Invalid("position {}: offset {} is beyond the end of {} on source {} ({} bytes)", pos.ToString(),
                           pos.offset, pos.file, src.name, *size);
  }
  if (pos.offset == *size) return Status::Ok();  // the file's end: where the next transaction starts
  auto events = (*conn)->Query(
      fmt::format("SHOW BINLOG EVENTS IN '{}' FROM {} LIMIT 200", (*conn)->Escape(pos.file), pos.offset));
  if (!events.ok() || events->empty()) {
    return Status::Invalid("position {}: no binlog event starts at offset {} of {} on source {}{}", pos.ToString(),
                           pos.offset, pos.file, src.name, events.ok() ? "" : " (" + events.status().message() + ")");
  }
  // Columns: Log_name, Pos, Event_type, Server_id, End_log_pos, Info.
  std::string type = (*events)[0].size() > 2 ? (*events)[0][2].value_or("") : "";
  if (IsBoundaryEvent(type)) return Status::Ok();
  std::string next;
  for (const auto& e : *events) {
    if (e.size() > 2 && IsBoundaryEvent(e[2].value_or(""))) {
      next = fmt::format("; the next transaction starts at {}:{}", pos.file, e[1].value_or(""));
      break;
    }
  }
  return Status::Invalid(
      "position {}: not a transaction boundary (the event there is {}, inside a transaction); a position must "
      "be where a transaction begins (a GTID event) or the end of a binlog file{}",
      pos.ToString(), type, next);
}

Result<std::string> CheckNewPosition(Pipeline& p, const Config& config, const std::string& name,
                                     const std::string& position) {
  if (p.running()) {
    PipelineStatus st = p.status();
    if (st.state == PipelineState::kFailed) {
      return Status::Error(StatusCode::kNotSupported,
                           "pipeline \"{}\" has failed ({}); to move its position, stop it first "
                           "(POST /api/pipelines/{}/stop), then set the position, then start it "
                           "(POST /api/pipelines/{}/start)",
                           name, st.last_error.empty() ? "no error recorded" : st.last_error, name, name);
    }
    return Status::Error(StatusCode::kNotSupported, "pipeline \"{}\" is running: stop it before moving its position",
                         name);
  }
  ASSIGN_OR_RETURN(StartPosition start, StartPosition::Parse(position));
  if (start.kind == StartPosition::Kind::kFilePos) {
    const PipelineConfig* pc = config.FindPipeline(name);
    const SourceConfig* src = pc ? config.FindSource(pc->source) : nullptr;
    if (src != nullptr) RETURN_IF_ERROR(CheckFilePosition(*src, start.file_pos));
  }
  return start.ToString();
}

}  // namespace sluice::pipeline
