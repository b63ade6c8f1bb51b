#pragma once
// The SQL that redoes a foreign key action (a kCascade change, core/cascade.h)
// on an SQL target (MySQL/MariaDB with foreign_key_checks=0, PostgreSQL),
// in the target's dialect:
//   ON DELETE CASCADE   DELETE FROM child WHERE (key) = (parent's values),
//                       after the same for the keys referencing the child
//                       rows it deletes, level by level (`next`), down to
//                       where no row is left;
//   ON DELETE SET NULL  UPDATE child SET key = NULL WHERE (key) = (...);
//   ON UPDATE CASCADE   UPDATE child SET key = (new) WHERE (key) = (old);
//   ON UPDATE SET NULL  UPDATE child SET key = NULL WHERE (key) = (old).
// The deeper levels name the rows by subqueries on the level above (no
// values cross the client), as the server's own cascade would find them.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sink_change.h"
#include "core/status.h"

namespace sluice::sink {

// How a target writes names and values.
struct SqlDialect {
  void (*ident)(std::string& out, std::string_view name);
  // Value `v` of column i of ch.table (a kCascade change's: the parent's referenced column).
  Status (*literal)(std::string& out, const SinkChange& ch, size_t i, const Value& v);
};

// `exists(sql)`: whether a SELECT finds a row (a level with no rows ends
// the descent); `run(sql)`: executes a statement. Both in the caller's
// transaction.
Status RedoCascade(const SqlDialect& sql, const SinkChange& ch,
                   const std::function<Result<bool>(const std::string&)>& exists,
                   const std::function<Status(const std::string&)>& run);

// A batch holding kCascade changes, taken apart for a sink that applies it
// in order: `run` gets each run of other changes between them (copied, for
// merging), `cascade` each kCascade change, in source order.
Status ForEachRunAndCascade(const std::vector<SinkChange>& changes,
                            const std::function<Status(std::vector<SinkChange> run)>& run,
                            const std::function<Status(const SinkChange& cascade)>& cascade);

}  // namespace sluice::sink
