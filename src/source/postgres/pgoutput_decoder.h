#pragma once
// PgoutputDecoder: pgoutput logical replication messages (protocol version
// 1, PostgreSQL 10+) into sluice's change events, the same ones the MySQL
// binlog decoder emits. Message formats (all integers big-endian, strings
// NUL-terminated), from PostgreSQL's "Logical Replication Message Formats":
//
//   'B' Begin     final_lsn:8 commit_time:8 xid:4
//   'C' Commit    flags:1 commit_lsn:8 end_lsn:8 commit_time:8
//   'O' Origin    commit_lsn:8 name:str
//   'R' Relation  relid:4 namespace:str name:str replica_identity:1 ncols:2
//                 {flags:1 (1 = key) name:str type_oid:4 typmod:4}*ncols
//   'Y' Type      oid:4 namespace:str name:str
//   'I' Insert    relid:4 'N' tuple
//   'U' Update    relid:4 ['K' key-tuple | 'O' old-tuple] 'N' tuple
//   'D' Delete    relid:4 ('K' | 'O') tuple
//   'T' Truncate  nrels:4 options:1 (1 cascade, 2 restart identity) relid:4*nrels
//   tuple         ncols:2 {'n' null | 'u' unchanged TOAST | 't' len:4 text}*ncols
//   'M' logical decoding messages are skipped.
//
// Positions: a transaction's rows carry its commit's end LSN (design §12:
// "pos" is what sluice confirms and resumes after), which only the Commit
// message tells. pgoutput v1 sends a transaction only after it committed,
// so the decoder keeps the transaction's messages (their bytes, as
// received) from Begin to Commit and decodes them when the Commit arrives;
// memory is the transaction's pgoutput size.
//
// Row images (RowChange):
// - Values follow pg_value.h. `before` under REPLICA IDENTITY DEFAULT or
//   USING INDEX holds the key columns only (the others are
//   ValueKind::kAbsent, which the JSON format omits); an update that did not
//   change the key sends no old tuple and `before` is the new row's key.
//   REPLICA IDENTITY FULL gives the whole old row.
// - An unchanged TOASTed value ('u') is never null: it is
//   ValueKind::kAbsent in `after`, meaning "unchanged: keep the value the
//   target holds" (the JSON format omits the column). Under REPLICA IDENTITY
//   FULL the old row carries the value, and `after` takes it from there.
// - Truncate is delivered as OnDdl with a `TRUNCATE TABLE "s"."t", ...`
//   statement, in its place among the transaction's rows.
//
// `db` is the PostgreSQL schema. The primary key (`pk`) is the Relation's
// key columns under DEFAULT/USING INDEX; under FULL or NOTHING it comes from
// Options::primary_key when given.
//
// Threading: one thread (the source's). Views handed to the handler are
// valid during the callback only.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/arena.h"
#include "core/status.h"
#include "core/table_schema.h"
#include "core/value.h"
#include "source/postgres/pg_value.h"
#include "source/source.h"

namespace sluice {
class ByteReader;
}

namespace sluice::postgres {

// Whether "schema.table" matches one of the glob patterns (none: every table).
bool MatchesTables(const std::vector<std::string>& patterns, std::string_view schema, std::string_view table);

class PgoutputDecoder {
 public:
  struct Options {
    std::vector<std::string> tables;  // "schema.table" glob patterns; empty: all
    PgTypeLookup type_lookup;         // types that are not built in (enums, domains, their arrays)
    // Key column names of a table whose replica identity does not name them
    // (FULL, NOTHING); empty answer: keyless.
    std::function<Result<std::vector<std::string>>(uint32_t relid)> primary_key;
  };

  explicit PgoutputDecoder(Options options);

  // One pgoutput message (the data of an XLogData frame).
  Status Feed(std::string_view message, ChangeHandler& handler);

  bool in_transaction() const { return in_txn_; }
  // Forgets an open transaction's messages (the connection was lost before
  // its Commit; the server sends it again from its Begin).
  void AbandonTransaction() {
    in_txn_ = false;
    pending_.clear();
  }
  // The end LSN of the last transaction handed over (0 before the first).
  uint64_t last_commit_end() const { return last_commit_end_; }
  // What the decoder knows of a relation, for messages and tests.
  TableSchemaPtr schema(uint32_t relid) const;

 private:
  struct Relation {
    TableSchemaPtr schema;
    std::vector<std::shared_ptr<const PgColumnType>> types;
    std::vector<bool> key;    // the Relation's key flag per column
    char identity = 'd';
    bool matched = true;      // selected by Options::tables
  };

  Status Replay(ChangeHandler& handler);
  Status Dispatch(std::string_view message, ChangeHandler& handler);
  Status OnRelation(std::string_view message);
  Status OnRow(char tag, std::string_view message, ChangeHandler& handler);
  Status OnTruncate(std::string_view message, ChangeHandler& handler);
  // Decodes a TupleData into `out` (one Value per column).
  Status ReadTuple(ByteReader& r, const Relation& rel, std::vector<Value>& out, bool key_only);
  std::string Where() const;

  Options options_;
  std::unordered_map<uint32_t, Relation> relations_;
  std::unordered_map<uint32_t, std::string> type_names_;  // from Type messages

  bool in_txn_ = false;
  uint64_t final_lsn_ = 0;
  uint64_t commit_end_ = 0;
  uint64_t ts_ms_ = 0;
  uint32_t xid_ = 0;
  std::string pending_;  // the open transaction's messages: {len:4 LE, bytes}*
  std::string lsn_text_;
  uint64_t rows_ = 0;
  uint64_t last_commit_end_ = 0;

  std::vector<Value> before_, after_;
  Arena arena_{64 * 1024};
};

}  // namespace sluice::postgres
