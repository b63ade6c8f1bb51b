#pragma once
// PgTableReader: a PostgreSQL source table's existing rows read with plain
// SELECTs, for snapshots and consistency checks; the counterpart of
// client/mysql's TableReader (and the same RowBlock, KeyTuple and KeyRange
// shapes, so that the jobs treat both alike).
//
// Values: every column is selected in its text output and converted by
// pg_value's DecodePgText, exactly as the pgoutput decoder converts what
// the stream sends (pgoutput v1 sends that same text), so a copied row and a
// streamed one cannot disagree. That holds under the session settings of
// PgStreamSource::kSessionOptions, which the connection must carry
// (ReadSessionOptions below).
//
// Keys: the primary key (a table without one is keyless: read whole).
// Key parts are kept as PostgreSQL printed them and written back as
// literals cast to the column's type, so any key type round-trips; ranges
// are row-value comparisons ((a, b) > (x, y)), which a btree primary key
// serves, in the key columns' own collations.
//
// Immutable after Open; usable from several threads, each with its own
// connection.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/mysql/table_reader.h"  // RowBlock, KeyTuple, KeyRange, RangeChecksum: shapes shared with MySQL
#include "client/postgres/connection.h"
#include "core/status.h"
#include "core/table_schema.h"
#include "source/postgres/pg_value.h"

namespace sluice::postgres {

using mysql::KeyRange;
using mysql::KeyTuple;
using mysql::RangeChecksum;
using mysql::RowBlock;

// ConnectOptions for a connection that reads rows through PgTableReader:
// the stream's session settings, and `query_timeout_s` unless the URL set one.
ConnectOptions ReadSessionOptions(ConnectOptions options, unsigned query_timeout_s);

class PgTableReader {
 public:
  // The table's schema from the catalog (pg_catalog.h ReadTableSchema) and
  // its column types. `columns`: indexes into the schema's columns to read,
  // in that order (empty: every column). `where_sql`: a condition every read
  // adds (may be empty). kNotFound when the table does not exist.
  static Result<std::unique_ptr<PgTableReader>> Open(PgConnection& c, const std::string& schema,
                                                     const std::string& table, std::vector<uint32_t> columns = {},
                                                     std::string where_sql = "");

  const TableSchemaPtr& schema() const { return schema_; }
  const std::vector<uint32_t>& columns() const { return columns_; }
  const std::vector<uint32_t>& key() const { return schema_->primary_key; }  // indexes into schema columns
  bool has_key() const { return !schema_->primary_key.empty(); }
  std::string QualifiedName() const;  // "schema"."table"

  // The key of every `chunk_rows`-th row in key order (matching where_sql):
  // chunk i covers (bounds[i-1], bounds[i]], the last is open-ended.
  Result<std::vector<KeyTuple>> PlanChunks(PgConnection& c, uint64_t chunk_rows,
                                           const std::function<bool()>& cancelled = {}) const;
  // The rows of `range` in key order (every row of a keyless table); with
  // `with_keys`, each row's key too.
  Result<RowBlock> ReadRange(PgConnection& c, const KeyRange& range, bool with_keys = false) const;
  // The rows whose key is one of `keys`, with their keys.
  Result<RowBlock> ReadKeys(PgConnection& c, const std::vector<KeyTuple>& keys) const;
  // Row count and order-independent aggregates (sum, xor) of a 64-bit hash of
  // each row's text: two tables whose columns have the same types have equal
  // checksums when they hold the same rows. Computed on the server.
  Result<RangeChecksum> Checksum(PgConnection& c, const KeyRange& range) const;
  // reltuples (0 when unknown).
  uint64_t EstimateRows(PgConnection& c) const;

  // Column i's type as SQL (format_type): two tables' checksums compare
  // only when their columns' types are the same.
  const std::string& type_sql(uint32_t column) const { return type_sql_[column]; }

 private:
  PgTableReader() = default;
  std::string SelectList(bool with_keys) const;
  std::string KeyList() const;
  std::string KeyLiteral(const KeyTuple& key) const;  // "('7'::integer, 'x'::text)"
  std::string Where(const KeyRange& range) const;
  Result<RowBlock> Read(PgConnection& c, const std::string& sql, bool with_keys) const;

  TableSchemaPtr schema_;
  std::vector<std::shared_ptr<const PgColumnType>> types_;  // per schema column
  std::vector<std::string> type_sql_;                       // per schema column: its type for casts (format_type)
  std::vector<uint32_t> columns_;
  std::string where_sql_;
};

}  // namespace sluice::postgres
