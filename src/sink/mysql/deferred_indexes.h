#pragma once
// Secondary indexes built after a snapshot's copy. A table the snapshot
// creates gets its plain (non-unique) indexes once its rows are in: one
// sorted build costs the server about 40% less than maintaining them row by
// row (bench/RESULTS.md, 2026-12-05). Unique keys stay in the CREATE (they
// decide upserts), and a table with a foreign key keeps every index (InnoDB
// would make its own for the constraint).

#include <string>
#include <string_view>

#include "core/status.h"
#include "client/mysql/connection.h"

namespace sluice::sink::mysql {

struct IndexSplit {
  std::string create;       // the CREATE TABLE without the plain indexes
  std::string add_indexes;  // "ADD KEY ..., ADD KEY ..." (empty: nothing deferred)
};

// Splits SHOW CREATE TABLE's text (one definition per line, two-space
// indented, as the server prints it).
IndexSplit SplitPlainIndexes(std::string_view create_sql);

// Builds the indexes recorded in `_sluice`.`deferred_indexes` for
// `db`.`table` (every table of `db` when `table` is empty, every table when
// `db` is empty too) and forgets
// the record: what a snapshot does when it ends (ChunkWriter), and what the
// loader does first when a DDL statement on the table arrives before that
// end (the statement may drop or rename one of the indexes, or a column one
// covers; run against the table without them it would be skipped as done,
// or leave a record the snapshot could no longer build). Nothing recorded:
// nothing to do. A recorded table that does not exist is forgotten, unless
// `keep_missing`: the snapshot records its indexes just before it creates
// the table, so the loader leaves such a record for the snapshot's end.
Status BuildDeferredIndexes(sluice::mysql::MysqlConnection& c, std::string_view db, std::string_view table,
                            bool keep_missing = false);

}  // namespace sluice::sink::mysql
