#pragma once
// The pure half of flashback: source transactions as read from the binlog
// (owned copies), their inversion, the SQL that undoes them, and the state
// the range left each row in (what the current row must still be for the
// undo to be safe). No I/O: the job (flashback.h) reads and applies.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/change_event.h"
#include "core/sink_change.h"
#include "core/status.h"

namespace sluice::jobs::flashback {

// One source transaction of the range, in binlog order.
struct SourceTransaction {
  std::string gtid;  // empty where the server has none
  std::string file;  // where the transaction starts
  uint64_t offset = 0;
  uint64_t ts_ms = 0;
  std::vector<std::shared_ptr<const ChangeEvent>> rows;  // row changes, in order; pos.index is 1-based

  // "0-1-42 @ binlog.000001:1234" (or without the GTID): for messages.
  std::string Where() const;
};

// Identity mappings of the source's table versions, made once per version.
class TargetTables {
 public:
  const TargetTablePtr& For(const TableSchemaPtr& schema);

 private:
  std::map<const TableSchema*, TargetTablePtr> targets_;
  std::vector<TableSchemaPtr> keep_;  // the keys above stay valid
};

// One statement's worth of undo for one source row change.
struct UndoStep {
  enum class Kind : uint8_t {
    kDeleteByKey,  // undoes an insert (keyed table): remove the row with change.values's key
    kDeleteExact,  // undoes an insert (keyless table): remove one row equal to change.values
    kInsert,       // undoes a delete: put the before image back
    kUpdate,       // undoes an update: the row now equal to `current` (by key, or whole) back to change.values
  };
  Kind kind = Kind::kInsert;
  SinkChange change;            // table, values to write or match, origin (owns the bytes)
  std::vector<Value> current;   // kUpdate: the after image that locates the row
};

// The steps that undo `txn`, newest row first: insert -> delete, delete ->
// insert of the before image, update -> update back to the before image.
std::vector<UndoStep> InvertTransaction(const SourceTransaction& txn, TargetTables& tables);

// What the server says about a table that the SQL depends on.
struct TableFacts {
  std::vector<bool> generated;  // per column: computed by the server, left out of writes; empty: none
  // Updates back may go in multi-row INSERT ... ON DUPLICATE KEY UPDATE
  // statements: the table has no unique key but the one rows are found by,
  // and every row to update is known to exist (checked), so each upsert
  // only ever updates its row, as an UPDATE would.
  bool upsert_updates = false;
};
using TableFactsMap = std::map<std::string, TableFacts>;  // by "db.table"; a table not here: no facts

// SQL statements (no BEGIN/COMMIT, no ';') that carry out `steps` in order,
// each handed to `emit`. Consecutive inserts (deletes by key; updates that
// keep the key, where `upsert_updates`) of one table go into multi-row
// statements of about `max_statement_bytes` each. With `max_packet` (the
// server's max_allowed_packet; 0: no limit) no statement exceeds it: a
// keyed row too large for one goes in pieces (sink/mysql/big_rows.h).
Status RenderUndo(const std::vector<UndoStep>& steps, const TableFactsMap& facts,
                  const std::function<Status(const std::string&)>& emit, size_t max_statement_bytes = 1 << 20,
                  size_t max_packet = 0);

// InvertTransaction then RenderUndo, over `txn`'s rows in slices of
// `slice_rows` from the newest: only one slice's inverted copies are held at
// a time (multi-row statements end at slice edges).
Status RenderTransactionUndo(const SourceTransaction& txn, TargetTables& tables, const TableFactsMap& facts,
                             const std::function<Status(const std::string&)>& emit, size_t slice_rows = 4096,
                             size_t max_packet = 0);

// What the range left one row as: the row must still be so now, or it
// changed again after the range and undoing would overwrite that change.
struct FinalRow {
  TargetTablePtr table;
  std::shared_ptr<const ChangeEvent> last;  // the range's last change to the row
  const SourceTransaction* txn = nullptr;   // `last`'s transaction (in the vector given to FinalRows)
  bool after = true;    // the row is `last`'s after image (else its before image)
  bool present = true;  // keyed: false when the range's last change deleted the row (or moved its key away)
  int64_t count = 1;    // keyless: how many rows equal to the image the range added (net)

  // The row: keyed: its key (and, when present, every value); keyless: the whole row.
  SinkChange Row() const;
  // "update in 0-1-5 @ binlog.000001:100": the last change, for messages.
  std::string Where() const;
};

// The final state of every row the range touched, in first-touched order.
// Keyless tables contribute the rows they gained (net count > 0) only.
std::vector<FinalRow> FinalRows(const std::vector<SourceTransaction>& txns, TargetTables& tables);
std::vector<FinalRow> FinalRows(std::vector<SourceTransaction>&&, TargetTables&) = delete;  // rows point into txns

}  // namespace sluice::jobs::flashback
