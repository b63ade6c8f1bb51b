#pragma once
// Secondary indexes built after a snapshot's copy. A table the snapshot
// creates gets its plain (non-unique) indexes once its rows are in: one
// sorted build costs the server about 40% less than maintaining them row by
// row (bench/RESULTS.md, 2026-12-05). Unique keys stay in the CREATE (they
// decide upserts), and a table with a foreign key keeps every index (InnoDB
// would make its own for the constraint).

#include <string>
#include <string_view>

namespace sluice::sink::mysql {

struct IndexSplit {
  std::string create;       // the CREATE TABLE without the plain indexes
  std::string add_indexes;  // "ADD KEY ..., ADD KEY ..." (empty: nothing deferred)
};

// Splits SHOW CREATE TABLE's text (one definition per line, two-space
// indented, as the server prints it).
IndexSplit SplitPlainIndexes(std::string_view create_sql);

}  // namespace sluice::sink::mysql
