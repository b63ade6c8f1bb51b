#include "sink/mysql/ddl_session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace sluice::sink::mysql {

namespace {

// MySQL 8's collations beyond the ids both servers share (1..247): all
// utf8mb4 except gb18030's (248..250).
bool IsMysql8Utf8mb4Collation(uint16_t id) { return id >= 255 && id <= 323; }

}  // namespace

Status SetDdlSession(sluice::mysql::MysqlConnection& c, const DdlSession& session, const std::string& where) {
  // A failure that is not the server refusing the value ends here.
  auto refused = [](const Status& st) { return !st.retryable(); };
  if (session.sql_mode) {
    Status st = c.Execute(fmt::format("SET SESSION sql_mode = '{}'", c.Escape(*session.sql_mode)));
    if (!st.ok()) {
      if (!refused(st)) return st;
      spdlog::warn("{}: the source's sql_mode '{}' is refused here ({}); the statement runs in the loader's",
                   where, *session.sql_mode, st.message());
    }
  }
  struct Charset {
    const char* variable;          // takes a collation id
    const char* charset_variable;  // takes a character set name
    uint16_t id;
  };
  const Charset charsets[] = {{"character_set_client", "character_set_client", session.charset_client},
                              {"collation_connection", "character_set_connection", session.collation_connection},
                              {"collation_server", "character_set_server", session.collation_server}};
  for (const auto& [variable, charset_variable, id] : charsets) {
    if (id == 0) continue;
    Status st = c.Execute(fmt::format("SET SESSION {} = {}", variable, id));
    if (st.ok()) continue;
    if (!refused(st)) return st;
    if (IsMysql8Utf8mb4Collation(id)) {
      // The character set, in the target's default collation for it.
      st = c.Execute(fmt::format("SET SESSION {} = utf8mb4", charset_variable));
      if (st.ok()) continue;
      if (!refused(st)) return st;
    }
    spdlog::warn("{}: the source's {} (collation id {}) is unknown here ({}); the statement runs with the loader's",
                 where, variable, id, st.message());
  }
  if (!session.time_zone.empty()) {
    Status st = c.Execute(fmt::format("SET SESSION time_zone = '{}'", c.Escape(session.time_zone)));
    if (!st.ok()) {
      if (!refused(st)) return st;
      spdlog::warn("{}: the source's time zone '{}' is refused here ({}); TIMESTAMP literals read as UTC", where,
                   session.time_zone, st.message());
    }
  }
  if (session.explicit_defaults_for_timestamp) {
    const char* value = *session.explicit_defaults_for_timestamp ? "ON" : "OFF";
    Status st = c.Execute(fmt::format("SET SESSION explicit_defaults_for_timestamp = {}", value));
    if (!st.ok()) {
      if (!refused(st)) return st;
      spdlog::warn("{}: the source's explicit_defaults_for_timestamp={} is refused here ({}); TIMESTAMP columns "
                   "it defines take the target's default",
                   where, value, st.message());
    }
  }
  return Status::Ok();
}

}  // namespace sluice::sink::mysql
