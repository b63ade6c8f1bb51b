#pragma once
// Runs a source's DDL statement the way the source ran it: the session a
// MySQL target applies it on takes the source session's sql_mode,
// character sets and time zone (core/ddl_session.h). A setting the target
// does not know (a mode it lacks, MySQL 8's utf8mb4_0900 collations on
// MariaDB) falls back to the nearest it has, or is named in a warning and
// left as the loader set it.

#include <string>

#include "client/mysql/connection.h"
#include "core/ddl_session.h"
#include "core/status.h"

namespace sluice::sink::mysql {

// `where` names the target and statement in warnings. Errors: only those
// that end the session (retryable).
Status SetDdlSession(sluice::mysql::MysqlConnection& c, const DdlSession& session, const std::string& where);

}  // namespace sluice::sink::mysql
