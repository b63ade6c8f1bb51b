#pragma once
// TableReader: reads a table's existing rows with plain SELECTs, for
// snapshots and consistency checks: key-ordered chunk boundaries, the rows
// of a key range decoded into the same Values the binlog decoder produces
// (so that rules, filters and loaders treat a copied row exactly like a
// streamed one), and per-range checksums computed on the server.
//
// Sessions reading through it must run with time_zone '+00:00' (TIMESTAMP
// values are UTC) and utf8mb4 (PrepareReadSession does both).
//
// A TableReader is immutable after Create and may be used from several
// threads, each with its own connection.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/arena.h"
#include "core/status.h"
#include "core/table_schema.h"
#include "core/value.h"
#include "client/mysql/connection.h"

namespace sluice::mysql {

// The table as information_schema describes it now: column names, types
// (as TABLE_MAP type codes), signedness, charsets, ENUM/SET members, MariaDB
// JSON, primary key (else a NOT NULL unique key). NotFound when the table
// does not exist.
Result<TableSchemaPtr> ReadTableSchema(MysqlConnection& c, std::string_view db, std::string_view table);

// `name` as a MySQL identifier: in backquotes, backquotes doubled.
std::string QuoteIdent(std::string_view name);

// utf8mb4 and UTC for a connection that reads or compares rows.
Status PrepareReadSession(MysqlConnection& c);

// Read and write timeout of the connections of snapshots and checks (source
// and target), unless the URL sets read_timeout= / write_timeout=: a server
// silent this long is treated as lost (a snapshot retries the chunk, a check
// fails naming the server). It bounds the silence of ONE statement, not a
// whole chunk (rows stream as they are read), so it only has to exceed the
// slowest single statement a job sends: a key-range read or checksum of
// `chunk_rows` rows, one LOAD DATA of at most 50,000 rows or 1 MiB
// statement, and a lock wait on the target (innodb_lock_wait_timeout, 50 s by
// default, ends before it). Raise it in the URL for a server that needs
// longer (a --where shard that no index serves, on a very large table).
constexpr unsigned kJobIoTimeoutS = 120;

// The source's binlog position ("file:offset") such that every transaction
// before it is visible to reads started afterwards. On MariaDB it comes from
// a consistent snapshot (binlog_snapshot_file/position), which is exact even
// under group commit; elsewhere from SHOW MASTER STATUS. NotFound without a
// binary log.
Result<std::string> ConsistentBinlogPosition(MysqlConnection& c);

// MariaDB: starts a read-only REPEATABLE READ transaction WITH CONSISTENT
// SNAPSHOT on `c` and returns the binlog position of its read view; the
// transaction stays open, so reads on `c` see exactly the transactions before
// that position until it ends.
Result<std::string> OpenConsistentSnapshot(MysqlConnection& c);

// One key value as the server printed it, kept for SQL: a string literal,
// or a hex literal for binary data.
struct KeyPart {
  std::optional<std::string> text;  // nullopt: SQL NULL
  bool binary = false;
};
using KeyTuple = std::vector<KeyPart>;

// Rows after `after` (exclusive) up to `upto` (inclusive) in key order; a
// missing bound is open.
struct KeyRange {
  std::optional<KeyTuple> after;
  std::optional<KeyTuple> upto;
};

// `key` as a SQL literal list, e.g. "7" is printed as '7' and binary as X'..'.
std::string KeyLiteral(const KeyPart& part);
// "`a` > 'x' OR (`a` = 'x' AND `b` > '3')"-style predicate of a range over
// the named key columns; "1=1" for an open range.
std::string RangePredicate(const std::vector<std::string>& key_columns, const KeyRange& range);

// Rows decoded into Values: `width` values per row, in one flat vector;
// text and bytes live in the arena.
struct RowBlock {
  size_t width = 0;
  std::vector<Value> values;
  std::vector<KeyTuple> keys;  // per row, when requested: its key as printed by the server
  std::unique_ptr<Arena> arena = std::make_unique<Arena>(256 * 1024);

  size_t rows() const { return width == 0 ? 0 : values.size() / width; }
  std::span<const Value> row(size_t i) const { return {values.data() + i * width, width}; }
};

// Checksum of a range: row count and order-independent aggregates of a
// per-row hash over every selected column and its NULL-ness: a XOR, and for
// keyless tables (whose rows may repeat) also a sum.
struct RangeChecksum {
  uint64_t rows = 0;
  uint64_t crc_xor = 0;
  uint64_t crc_sum = 0;
  bool operator==(const RangeChecksum&) const = default;
};

struct RowCrc {
  KeyTuple key;
  uint32_t crc = 0;
};

class TableReader {
 public:
  // Reads `columns` (indexes into schema->columns, in that order; empty:
  // every column) of the table named by schema->db/table, identified by the
  // schema's primary key, else its unique key; `key` (indexes into
  // schema->columns; an empty vector: keyless) overrides that, for a target
  // table keyed like its source. Key columns must be among `columns` for
  // reads that return keys. `where_sql` (may be empty) is a SQL condition
  // every read adds.
  TableReader(TableSchemaPtr schema, std::vector<uint32_t> columns, std::string where_sql,
              std::optional<std::vector<uint32_t>> key = std::nullopt);

  const TableSchema& schema() const { return *schema_; }
  const std::vector<uint32_t>& columns() const { return columns_; }
  const std::vector<uint32_t>& key() const { return key_; }  // indexes into schema columns
  bool has_key() const { return !key_.empty(); }
  std::string QualifiedName() const;  // `db`.`table`

  // Chunk boundaries: the key of every `chunk_rows`-th row in key order
  // (matching where_sql). Chunk i covers (boundary[i-1], boundary[i]]; the
  // last chunk is open-ended (it also takes rows inserted later with larger
  // keys). `cancelled` is polled between queries.
  Result<std::vector<KeyTuple>> PlanChunks(MysqlConnection& c, uint64_t chunk_rows,
                                           const std::function<bool()>& cancelled = {}) const;

  // The rows of `range` (all rows for a keyless table, `range` open). With
  // `with_keys`, also each row's key tuple.
  Result<RowBlock> ReadRange(MysqlConnection& c, const KeyRange& range, bool with_keys = false) const;
  // The rows whose key is one of `keys`.
  Result<RowBlock> ReadKeys(MysqlConnection& c, const std::vector<KeyTuple>& keys) const;

  // Computed on the server; equal checksums on two servers mean equal rows
  // when both tables have the same column types and character sets.
  Result<RangeChecksum> Checksum(MysqlConnection& c, const KeyRange& range) const;
  std::string ChecksumQuery(const KeyRange& range) const;  // its SQL (exposed for tests)
  // The key and the CRC the checksum is made of, of every row of `range` in
  // no particular order: to find the rows behind a checksum mismatch
  // without transferring them. Keyed tables only.
  Result<std::vector<RowCrc>> RowCrcs(MysqlConnection& c, const KeyRange& range) const;

  // The number of rows (an estimate from table statistics; 0 when unknown).
  uint64_t EstimateRows(MysqlConnection& c) const;

 private:
  std::string RowCrcExpression() const;
  std::string SelectList() const;
  std::string Where(const KeyRange& range) const;
  std::vector<std::string> KeyColumnNames() const;
  Result<RowBlock> Read(MysqlConnection& c, const std::string& sql, bool with_keys) const;

  TableSchemaPtr schema_;
  std::vector<uint32_t> columns_;
  std::vector<uint32_t> key_;
  std::vector<int> key_pos_in_columns_;  // per key column: its position in columns_, -1 if not selected
  std::string where_sql_;
};

// The Value kind a column's text-protocol value decodes to (like the binlog decoder's).
ValueKind KindForColumn(const ColumnMeta& c);
// Decodes one text-protocol field of column `c` into `out` (bytes copied into `arena`).
Status DecodeTextValue(const ColumnMeta& c, const char* data, size_t len, Arena& arena, Value& out);

}  // namespace sluice::mysql
