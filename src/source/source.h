#pragma once
// Source: a database change stream. A source runs on the caller's thread and
// pushes every committed row change, DDL and transaction boundary, in commit
// order, to a ChangeHandler until it is stopped, its input ends, or an error
// occurs. Rows of one transaction arrive between OnBegin and OnCommit; they are
// streamed, never buffered whole, so a consumer that needs atomicity acts on
// OnCommit. Delivery is exactly once per Run across reconnects: a source that
// reconnects resumes after the last committed transaction and suppresses the
// rows of a partly delivered one that it had already handed over.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/ddl_session.h"
#include "core/row_change.h"
#include "core/status.h"

namespace sluice {

struct TransactionInfo {
  std::string_view gtid;  // empty where the server has none
  std::string_view file;
  uint64_t offset = 0;    // where the transaction starts
  uint64_t ts_ms = 0;
};

struct CommitInfo {
  std::string_view gtid;
  // A resumable position right after this transaction: file:offset, and the
  // server's GTID state (MariaDB list or MySQL set) when it has GTIDs.
  std::string_view file;
  uint64_t next_offset = 0;
  std::string_view gtid_state;
  uint64_t ts_ms = 0;
  uint64_t rows = 0;  // row changes the transaction delivered
  // Two-way sync: the transaction carries the peer pipeline's mark (it was
  // applied by it) and its rows were dropped, not delivered.
  bool peer_marked = false;
  // PostgreSQL: no file; `file` is the commit's end LSN as text
  // ("0/16B3748") and `next_offset` its value, the position to resume after.
  bool lsn_position = false;
  // The source already holds more input (received, not yet decoded): a
  // handler that hands rows to another thread may wait for the next commit
  // rather than wake it now. False when unknown.
  bool more_input = false;
};

struct DdlInfo {
  std::string_view db;     // current database of the statement
  std::string_view query;
  std::string_view gtid;
  std::string_view file;
  uint64_t offset = 0;
  uint64_t ts_ms = 0;
  DdlSession session;  // MySQL/MariaDB: the settings the statement ran with
  // PostgreSQL sources (which send no DDL): columns added to `table` that a
  // Relation message showed in the middle of a transaction. It sits between
  // the transaction's rows before it (old shape) and after it (new shape);
  // the transaction goes on after it and no OnCommit of its own follows.
  // `table` is the table's shape after it: columns from `first_added` on
  // are new, and the columns in `retyped` (indexes) were widened (their
  // type changed in a way every target converts its rows exactly). `query`
  // describes it (ALTER TABLE ... ADD COLUMN / ALTER COLUMN ... TYPE,
  // PostgreSQL types) for people.
  bool in_transaction = false;
  TableSchemaPtr table;
  size_t first_added = 0;
  std::vector<uint32_t> retyped;
};

class ChangeHandler {
 public:
  virtual ~ChangeHandler() = default;
  virtual Status OnBegin(const TransactionInfo&) { return Status::Ok(); }
  virtual Status OnRow(const RowChange& row) = 0;
  virtual Status OnCommit(const CommitInfo&) { return Status::Ok(); }
  // A DDL statement, delivered as its own transaction (an OnCommit follows).
  virtual Status OnDdl(const DdlInfo&) { return Status::Ok(); }
  // The source is idle and alive; ts_ms is the server's clock where known.
  virtual Status OnHeartbeat(uint64_t /*ts_ms*/) { return Status::Ok(); }
  // Whether OnCommit reads CommitInfo::more_input (finding it out costs a
  // system call per transaction, so sources skip it for handlers that do not).
  virtual bool WantsMoreInput() const { return false; }
};

class Source {
 public:
  virtual ~Source() = default;
  // Runs until `stop` becomes true (returns Ok), the input ends (returns
  // EndOfStream for finite sources), or an error that retrying cannot fix.
  virtual Status Run(ChangeHandler& handler, const std::atomic<bool>& stop) = 0;
};

}  // namespace sluice
