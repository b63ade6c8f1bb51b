#pragma once
// The names of a binlog Query event's sql_mode bits (Q_SQL_MODE_CODE), for
// running the statement on another server. Pure.

#include <cstdint>
#include <string>

namespace sluice::mysql {

// The modes of `bits` that decide how a statement reads or what it creates,
// by the names both MySQL 8 and MariaDB accept (bits 32 and up only for a
// MariaDB source, whose meaning there differs from MySQL's). Modes that
// only change output (NO_TABLE_OPTIONS, ...), ones MySQL 8 removed
// (NO_AUTO_CREATE_USER, ...) and combinations (ANSI, TRADITIONAL: their
// parts are set bits of their own) are left out; MariaDB's ORACLE and
// MSSQL are kept, for their syntax.
std::string SqlModeNames(uint64_t bits, bool mariadb);

}  // namespace sluice::mysql
