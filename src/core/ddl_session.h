#pragma once
// The session settings a MySQL/MariaDB source ran a DDL statement with (its
// binlog Query event's status variables). A target that runs the statement
// itself runs it with them, as a native replica does: a TIMESTAMP literal
// is in the session's time zone, a CREATE DATABASE without a character set
// takes collation_server, ANSI_QUOTES decides whether "x" is a name. Plain
// data; copied along with the statement.

#include <cstdint>
#include <optional>
#include <string>

namespace sluice {

struct DdlSession {
  // SQL mode names, comma-separated ("" when none was set); nullopt: not logged.
  std::optional<std::string> sql_mode;
  // Collation ids of character_set_client, collation_connection and
  // collation_server; 0: not logged.
  uint16_t charset_client = 0;
  uint16_t collation_connection = 0;
  uint16_t collation_server = 0;
  // The session's time zone as "+HH:MM" or a zone name; empty: not logged
  // (the statement read no time zone).
  std::string time_zone;
  // Whether a bare TIMESTAMP column is an ordinary nullable column (ON) or
  // NOT NULL, auto-set, and NULL meaning "now" (OFF); nullopt: not logged
  // (MySQL logs it only for statements defining a TIMESTAMP column).
  std::optional<bool> explicit_defaults_for_timestamp;

  bool empty() const {
    return !sql_mode && charset_client == 0 && time_zone.empty() && !explicit_defaults_for_timestamp;
  }
};

}  // namespace sluice
