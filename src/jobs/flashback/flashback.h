#pragma once
// `sluice flashback` (design section 13): reads a range of a MySQL/MariaDB
// binlog (a server over replication, or binlog files), and undoes its row
// changes newest first, as SQL on a stream or applied to a server in one
// transaction per source transaction.
//
// Before writing anything it checks that every row the range touched is
// still as the range left it (else a later change would be overwritten),
// against the --apply server, or for --print against a mysql:// source;
// `force` skips the check. Rows are held in memory for the range's duration
// (the undo runs backwards), so the range should be the accident, not a day.

#include <cstdio>
#include <string>
#include <vector>

#include "core/status.h"

namespace sluice::jobs::flashback {

struct Options {
  std::string source;  // mysql://, mariadb:// or file:///path/binlog.NNNNNN
  std::string start;   // FILE:POS (inclusive) or a GTID (exclusive)
  std::string stop;    // FILE:POS (exclusive) or a GTID (inclusive); empty: none
  std::string until;   // commit time in UTC (inclusive); empty: none
  std::vector<std::string> tables;  // DB.TABLE globs; empty: all
  std::string apply;   // a mysql:// URL to apply to; empty: print to `out`
  bool force = false;  // skip the check that rows did not change after the range
  uint32_t server_id = 0;
  bool verify_checksums = true;
};

struct Report {
  size_t transactions = 0;  // undone (applied or printed)
  size_t rows = 0;
  std::vector<std::string> ddl;  // DDL inside the range, which flashback does not undo
  // Foreign keys whose actions the server carried out on child rows for the
  // range's deletes or key updates, unlogged: those rows are not restored.
  std::vector<std::string> cascades;
};

// The statements that put a session in the state the SQL assumes (UTF-8,
// UTC for TIMESTAMP literals, strict values, ids of 0 kept, no FK checks).
extern const char* const kSessionSql;

Status Run(const Options& options, std::FILE* out, Report* report);

}  // namespace sluice::jobs::flashback
