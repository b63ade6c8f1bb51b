// Pipeline: the session a MySQL target runs a source's DDL statement with
// (core/ddl_session.h). The time zone is the one part the target cannot
// take as the source logged it: SYSTEM is the source server's own zone,
// and a named zone needs time zone tables the target may lack. Both become
// the offset the zone has on the source now (the statement ran in the
// past; under daylight saving time a literal from the other half of the
// year reads an hour off, which the warning says).

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>

#include "client/mysql/connection.h"
#include "pipeline/pipeline.h"

namespace sluice::pipeline {

namespace {

bool IsOffset(const std::string& zone) {
  return zone.size() >= 5 && (zone[0] == '+' || zone[0] == '-') && zone.find(':') != std::string::npos;
}

}  // namespace

Result<DdlSession> Pipeline::TargetDdlSession(const TargetWork& w, Interrupter* interrupt) {
  DdlSession session = w.ddl_session;
  if (session.time_zone.empty() || IsOffset(session.time_zone)) return session;
  ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
  auto conn = mysql::MysqlConnection::Connect(co, interrupt);
  if (!conn.ok()) return conn.status().WithContext(fmt::format("source {}", cfg_.source));
  Status set = (*conn)->Execute(fmt::format("SET time_zone = '{}'", (*conn)->Escape(session.time_zone)));
  if (!set.ok()) {
    return set.WithContext(fmt::format("source {}: the time zone of the DDL @ {}", cfg_.source, w.pos.ToString()));
  }
  ASSIGN_OR_RETURN(auto seconds, (*conn)->QueryValue("SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW())"));
  long long s = 0;
  if (seconds) std::from_chars(seconds->data(), seconds->data() + seconds->size(), s);
  long long a = std::llabs(s);
  std::string offset = fmt::format("{}{:02}:{:02}", s < 0 ? '-' : '+', a / 3600, a % 3600 / 60);
  spdlog::info("pipeline {}: DDL @ {} ran in time zone {}, {} on the source now: its TIMESTAMP literals are read "
               "at that offset (one hour off for a zone with daylight saving time in its other half of the year)",
               cfg_.name, w.pos.ToString(), session.time_zone, offset);
  session.time_zone = offset;
  return session;
}

}  // namespace sluice::pipeline
