#pragma once
// Bulk load: rows sent to a MySQL/MariaDB target as LOAD DATA LOCAL INFILE
// from memory instead of INSERT statements. The server parses a tab-separated
// stream much faster than SQL literals (about a third less target CPU per
// row), which is what copying a whole table (a snapshot) is bound by.
//
// The statement REPLACEs rows with the same key, so it is only used where a
// whole-row replace equals an upsert: target tables made of exactly the
// mapped columns (ChunkWriter checks). LOCAL turns data errors into warnings
// (the server cannot stop the client's stream), so any warning fails the
// load: nothing is truncated or dropped silently.

#include <string>
#include <vector>

#include "core/status.h"
#include "core/sink_change.h"
#include "client/mysql/connection.h"

namespace sluice::sink::mysql {

struct BulkLoad {
  std::string sql;   // LOAD DATA LOCAL INFILE ... (column list, SET clauses)
  std::string data;  // the rows, tab-separated, escaped, one per line
};

// `replace`: REPLACE rows with the same key (keyed upserts); else plain INTO (keyless inserts).
// `generated` (may be null): per column, computed by the target (its values are read into a dummy variable).
Status BuildBulkLoad(const TargetTable& t, const std::vector<const SinkChange*>& rows, bool replace, BulkLoad* out,
                     const std::vector<bool>* generated = nullptr);

// Runs the load on `c` (opened with local_infile). kNotSupported when the
// server or client has LOCAL INFILE disabled (the caller falls back to
// INSERT); a warning is an error naming the table and the warning.
Status RunBulkLoad(sluice::mysql::MysqlConnection& c, const TargetTable& t, const BulkLoad& load);

}  // namespace sluice::sink::mysql
