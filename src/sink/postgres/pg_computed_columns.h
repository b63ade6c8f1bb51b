#pragma once
// Columns a PostgreSQL target table computes itself (`GENERATED ALWAYS AS
// (...) STORED`, in a table made by hand or by a migration tool, often
// where the source has a generated column): PostgreSQL refuses any value
// for them, so sluice leaves them out of its writes and the target computes
// them from the row, as a MySQL target does for the source's generated
// columns. A key column is never left out (the key finds the row).
//
// Used by one thread (the sink's target thread, or a chunk target's
// worker); each table version is read once.

#include <map>
#include <vector>

#include "client/postgres/connection.h"
#include "core/sink_change.h"
#include "core/status.h"

namespace sluice::sink::postgres {

class ComputedColumns {
 public:
  // Reads which of `t`'s columns the target generates (once per version).
  Status Note(sluice::postgres::PgConnection& c, const TargetTablePtr& t);
  // Each change of a table with such columns: its table without them, and
  // their values left out.
  void LeaveOut(std::vector<SinkChange>& changes) const;
  bool any() const { return any_; }
  // The version of `t` LeaveOut gives its changes; null when it keeps them.
  TargetTablePtr NarrowedOf(const TargetTable* t) const;

 private:
  struct Narrowed {
    TargetTablePtr original;  // pins the address the map is keyed by
    TargetTablePtr table;     // null: the target computes none of its columns
    std::vector<bool> drop;
  };
  std::map<const TargetTable*, Narrowed> tables_;
  bool any_ = false;
};

}  // namespace sluice::sink::postgres
