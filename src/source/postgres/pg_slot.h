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
// names the source in messages.
Status EnsurePublication(PgConnection& c, const std::string& name, const std::vector<std::string>& patterns,
                         const std::string& describe);

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
