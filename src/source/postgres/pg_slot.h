#pragma once
// The publication and slot a PostgreSQL pipeline reads through, for the
// stream (PgStreamSource) and for a snapshot that must meet it exactly.
//
// A slot created with its snapshot exported (ExportedSlot) is where a copy
// and the stream meet with nothing lost or duplicated: a transaction that
// imports the snapshot (SET TRANSACTION SNAPSHOT, under REPEATABLE READ)
// sees exactly the transactions that committed before the slot's
// consistent point, and the slot streams exactly those after it.

#include <memory>
#include <string>
#include <vector>

#include "client/postgres/connection.h"
#include "client/postgres/replication_stream.h"
#include "core/position.h"
#include "core/status.h"

namespace sluice::postgres {

// Publication `name` FOR TABLE of the tables `patterns` ("schema.table"
// globs; none: every table) match, created when it does not exist (the
// user must own the tables); an existing one must publish every matched
// table, else an error naming the ALTER PUBLICATION to run. `describe`
// names the source in messages. When every one of `rule_patterns` is
// "schema.*" (whole schemas) and the server is PostgreSQL 15 or later, the
// publication is created FOR TABLES IN SCHEMA instead, so that tables
// created later are published from their creation. `ours`: the
// publication is sluice's own (its default name): a matched table it lacks
// is added to it (its rows written before were not streamed: a warning
// says to copy them, or, given `added`, they are listed there as
// "schema.table" for the caller to copy) instead of being an error.
Status EnsurePublication(PgConnection& c, const std::string& name, const std::vector<std::string>& patterns,
                         const std::string& describe, const std::vector<std::string>& rule_patterns = {},
                         bool ours = false, std::vector<std::string>* added = nullptr);

// A logical pgoutput slot created with SNAPSHOT 'export'. The exported
// snapshot lives as long as this object's replication connection, which
// runs nothing else meanwhile. Owned by one thread; snapshot_name() may be
// read by others once created.
class ExportedSlot {
 public:
  // Creates `slot` (which must not exist) on a replication connection.
  static Result<std::unique_ptr<ExportedSlot>> Create(ConnectOptions options, const std::string& slot);
  ~ExportedSlot();

  Lsn consistent_point() const { return consistent_point_; }
  const std::string& snapshot_name() const { return snapshot_name_; }

 private:
  ExportedSlot() = default;
  std::unique_ptr<ReplicationStream> conn_;
  Lsn consistent_point_;
  std::string snapshot_name_;
};

}  // namespace sluice::postgres
