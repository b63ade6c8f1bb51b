#pragma once
// ChangeEvent: an owned change as it travels between pipeline stages through
// queues. Unlike RowChange (a view valid during one callback), it owns its
// bytes: values point into `bytes`, a vector whose buffer survives moves.
//
// Every event carries its place in the stream as a StreamPos: the position of
// the transaction it belongs to plus the ordinal of the row inside it. That
// order is total, so a loader can tell exactly which changes it has already
// applied after a restart (exactly-once), even inside a transaction that was
// split across batches.

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/ddl_session.h"
#include "core/row_change.h"
#include "core/table_schema.h"
#include "core/value.h"

namespace sluice {

// (binlog file, offset where the transaction starts, row ordinal within it).
// index 0 is the transaction's start, kWholeTransaction its end.
// PostgreSQL: (the commit's end LSN as text, the commit record's LSN, row
// ordinal); LSN texts order by their value.
struct StreamPos {
  static constexpr uint64_t kWholeTransaction = std::numeric_limits<uint64_t>::max();
  std::string file;
  uint64_t txn_offset = 0;
  uint64_t index = 0;

  bool empty() const { return file.empty(); }
  // PostgreSQL: `file` is the commit's end LSN ("0/16B3748").
  bool is_lsn() const { return file.find('/') != std::string::npos; }
  // A source position at or before this one to resume from: the
  // transaction's start "file:offset", or (PostgreSQL) the LSN of its commit
  // record, from which the server decodes the transaction again.
  std::string ResumePoint() const;
  std::string ToString() const;                      // "binlog.000003:1234#7" or "...#end"
  // The transaction as change formats name it: "binlog.000003:1234", or
  // (PostgreSQL) the commit's end LSN.
  std::string TransactionText() const;
  static bool Parse(std::string_view text, StreamPos* out);
  // Orders by file sequence number (the numeric suffix) or LSN, then offset, then index.
  int Compare(const StreamPos& other) const;
  bool operator<(const StreamPos& o) const { return Compare(o) < 0; }
  bool operator<=(const StreamPos& o) const { return Compare(o) <= 0; }
  bool operator==(const StreamPos& o) const { return Compare(o) == 0; }
};

struct OwnedImage {
  std::vector<Value> values;
  bool present = false;
};

struct ChangeEvent {
  enum class Kind : uint8_t { kRow, kDdl, kCommit, kHeartbeat };
  Kind kind = Kind::kRow;
  Op op = Op::kInsert;
  TableSchemaPtr table;  // rows: the schema the values decode against; kDdl: a PostgreSQL table's new shape
  uint32_t ddl_first_added = 0;  // kDdl with `table`: its first added column
  std::vector<uint32_t> ddl_retyped;  // kDdl with `table`: its widened columns
  OwnedImage before, after;
  std::string ddl_db, ddl_query;  // kDdl
  DdlSession ddl_session;         // kDdl: the settings a MySQL/MariaDB source ran it with
  uint64_t ts_ms = 0;             // source commit time (heartbeats: server time)
  std::string gtid;
  StreamPos pos;                  // rows: txn start + ordinal; commit/ddl: txn start + kWholeTransaction
  std::string next_position;      // kCommit/kDdl: resumable "file:offset" after the transaction
  std::string gtid_state;         // kCommit/kDdl: GTID state after the transaction
  std::vector<char> bytes;        // storage the values' string_views point into
  bool no_foreign_key_checks = false;  // rows: RowChange::no_foreign_key_checks

  // Approximate memory held, for byte-bounded queues.
  size_t MemoryBytes() const {
    return sizeof(ChangeEvent) + bytes.capacity() + (before.values.capacity() + after.values.capacity()) * sizeof(Value) +
           ddl_query.size() + gtid.size() + pos.file.size();
  }
};

// Copies a RowChange's images (and the strings they point to) into an event.
void CopyRowChange(const RowChange& row, TableSchemaPtr table, ChangeEvent& out);

}  // namespace sluice
