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
// Protocol version 2 (PostgreSQL 14+, `streaming 'on'`) adds streams of
// transactions still in progress, sent once one outgrows the server's
// logical_decoding_work_mem:
//
//   'S' Stream Start   xid:4 first_segment:1
//   'E' Stream Stop
//   'c' Stream Commit  xid:4 flags:1 commit_lsn:8 end_lsn:8 commit_time:8
//   'A' Stream Abort   xid:4 subxid:4  (subxid == xid: the whole transaction)
//
// Between Stream Start and Stop, R Y I U D T M carry the (sub)transaction's
// xid:4 right after their tag. Streams of several transactions interleave,
// block by block, with each other and with whole (B..C) transactions.
//
// Positions: a transaction's rows carry its commit's end LSN (design §12:
// "pos" is what sluice confirms and resumes after), which only the Commit
// (or Stream Commit) message tells. So the decoder keeps each
// transaction's messages (their bytes, as received) in a TxnBuffer — in
// memory up to Options::memory_limit, then in a temporary file — and
// decodes them when the commit arrives: streamed transactions in commit
// order like the others; an aborted stream is dropped, and an aborted
// subtransaction's rows are left out.
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
// Schema changes: PostgreSQL sends no DDL, but a Relation message precedes
// a table's first change after its definition changed (and the first one
// on each connection). The decoder compares each Relation with the one it
// last saw for the same OID:
// - the same columns (names, types, modifiers) and key: nothing to do;
// - the same columns followed by new ones (ALTER TABLE ADD COLUMN): an
//   OnDdl with DdlInfo::in_transaction, `table` the new shape and
//   `first_added` its first new column, in its place among the
//   transaction's rows, so rows before it keep the old column list and
//   rows after it have the new one. A new column's existing rows read its
//   missing value (a constant default) or null; one added with a volatile
//   default (whose existing rows got values the stream never carries) is an
//   error;
// - anything else (a column dropped, renamed or retyped, the key changed,
//   the table renamed) stops with an error naming the table, the commit
//   LSN, the change and what to do.
// Tables matching Options::unchecked_tables are not compared. A fresh
// decoder (a restart) has nothing to compare the first Relation with: it
// takes it as it is.
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
#include "source/postgres/txn_buffer.h"
#include "source/source.h"

namespace sluice {
class ByteReader;
}

namespace sluice::postgres {

// Whether "schema.table" matches one of the glob patterns (none: every table).
bool MatchesTables(const std::vector<std::string>& patterns, std::string_view schema, std::string_view table);

// What the catalog says of a table's column, for schema changes.
struct PgColumnFacts {
  std::string name;
  bool has_default = false;  // pg_attrdef has a default expression
  bool has_missing = false;  // atthasmissing: rows older than the column read `missing_value`
  std::string missing_value;  // the type's text output
  bool not_null = false;      // attnotnull: the Relation message does not say, targets creating tables need it
};

// Takes what the catalog says of column `c` (of type `type`): NOT NULL, and
// the value older rows read (pg_has_missing, pg_missing_value and, decoded
// as the stream decodes the column, pg_missing).
Status ApplyColumnFacts(const PgColumnFacts& f, const PgColumnType& type, ColumnMeta& c);

class PgoutputDecoder {
 public:
  struct Options {
    std::vector<std::string> tables;  // "schema.table" glob patterns; empty: all
    PgTypeLookup type_lookup;         // types that are not built in (enums, domains, their arrays)
    // Key column names of a table whose replica identity does not name them
    // (FULL, NOTHING); empty answer: keyless.
    std::function<Result<std::vector<std::string>>(uint32_t relid)> primary_key;
    // The table's columns as the catalog has them now (defaults, missing
    // values); null: none known (added columns are plain nullable ones).
    std::function<Result<std::vector<PgColumnFacts>>(uint32_t relid)> column_facts;
    // Whether the catalog (the session the lookups above use) sees
    // transaction `xid` committed yet. The walsender sends a transaction as
    // soon as its commit is in the WAL, a moment before other sessions see
    // it: a type, column or key it added can be missing from their catalog
    // for those few milliseconds. Before the first lookup of a transaction
    // the decoder asks again, 20 ms apart, up to catalog_catch_up_attempts
    // more times (then it reads the catalog as it is). Null: not asked.
    std::function<Result<bool>(uint32_t xid)> catalog_sees;
    int catalog_catch_up_attempts = 150;
    // "schema.table" globs whose schema changes are not compared.
    std::vector<std::string> unchecked_tables;
    // The rules' globs when `tables` lists what they selected at start: the
    // Relation of a table they select outside `tables` is kSourceChanged.
    std::vector<std::string> rule_patterns;
    // 1, or 2 when the stream was started with streaming 'on'.
    uint32_t proto_version = 1;
    // Bytes of one transaction's messages held in memory before the rest
    // goes to a temporary file.
    size_t memory_limit = 8u << 20;
  };

  explicit PgoutputDecoder(Options options);

  // One pgoutput message (the data of an XLogData frame).
  Status Feed(std::string_view message, ChangeHandler& handler);

  bool in_transaction() const { return in_txn_; }
  uint32_t proto_version() const { return options_.proto_version; }
  // Forgets an open transaction's messages (the connection was lost before
  // its Commit; the server sends it again from its Begin).
  // Streams in progress are forgotten too: the server streams them again
  // from their start.
  void AbandonTransaction() {
    in_txn_ = false;
    pending_.Clear();
    streams_.clear();
    in_stream_ = false;
  }
  // Streamed transactions not committed or aborted yet, and their bytes.
  size_t open_streams() const { return streams_.size(); }
  uint64_t spilled_bytes() const;
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

  Status Replay(ChangeHandler& handler, TxnBuffer& messages);
  Status FeedStream(char tag, std::string_view message, ChangeHandler& handler);
  Status Dispatch(std::string_view message, ChangeHandler& handler);
  Status OnRelation(std::string_view message, ChangeHandler& handler);
  // Waits (bounded) until the catalog sees the transaction being replayed
  // (Options::catalog_sees); once per transaction, before its first lookup.
  Status CatchUpCatalog();
  // Compares `now` with `before` (the same OID): Ok and `first_added` =
  // the column count when nothing changed, the first new column when
  // columns were only added, else the error that stops the stream.
  Status CompareRelations(const Relation& before, const Relation& now, size_t& first_added,
                          std::vector<uint32_t>& retyped) const;
  // What a stop for a change of `t` says about ddl: ignore.
  std::string IgnoreAdvice(const TableSchema& t) const;
  Status OnRow(char tag, std::string_view message, ChangeHandler& handler);
  Status OnTruncate(std::string_view message, ChangeHandler& handler);
  // Decodes a TupleData into `out` (one Value per column).
  Status ReadTuple(ByteReader& r, const Relation& rel, std::vector<Value>& out, bool key_only);
  std::string Where() const;
  // A DDL event in its place among the replayed transaction's rows.
  DdlInfo DdlHere(std::string_view db, std::string_view query) const;

  Options options_;
  std::unordered_map<uint32_t, Relation> relations_;
  std::unordered_map<uint32_t, std::string> type_names_;  // from Type messages

  bool in_txn_ = false;
  bool replaying_ = false;  // in Replay: messages are in their place among the transaction's rows
  bool catalog_current_ = false;  // the catalog sees the transaction being replayed (CatchUpCatalog)
  uint64_t final_lsn_ = 0;
  uint64_t commit_end_ = 0;
  uint64_t ts_ms_ = 0;
  uint32_t xid_ = 0;
  TxnBuffer pending_;  // the open (B..C) transaction's messages
  std::unordered_map<uint32_t, TxnBuffer> streams_;  // streamed transactions by xid
  bool in_stream_ = false;  // between Stream Start and Stop
  uint32_t stream_xid_ = 0;
  std::string unprefixed_;  // a streamed message without its xid
  std::string lsn_text_;
  uint64_t rows_ = 0;
  uint64_t last_commit_end_ = 0;

  std::vector<Value> before_, after_;
  Arena arena_{64 * 1024};
};

}  // namespace sluice::postgres
