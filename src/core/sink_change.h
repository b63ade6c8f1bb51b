#pragma once
// SinkChange: a change already mapped to its target table (renamed, subset,
// filtered): what a loader applies. Values point into the originating
// ChangeEvent, which the change keeps alive.

#include <cstdint>
#include <memory>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cascade.h"
#include "core/change_event.h"
#include "core/row_change.h"
#include "core/table_schema.h"
#include "core/value.h"

namespace sluice {

struct TargetTable {
  std::string db;
  std::string table;
  std::vector<std::string> columns;  // target column names, in the order of SinkChange::values
  std::vector<uint32_t> key;         // indexes into columns: primary key, else a NOT NULL unique key; empty = keyless
  std::string source;                // "db.table" of the source, for messages
  // Identity of db.table for key hashing: schema versions of one table are
  // different TargetTable objects, and one key must hash alike across them.
  uint64_t name_hash = 0;
  // The source table version this mapping was made from, and per target
  // column the source column it takes: what encoders need for column types
  // and for an update's before image.
  TableSchemaPtr source_schema;
  std::vector<uint32_t> source_index;
  // Only the tables of kCascade changes: the foreign key whose action they
  // redo. `columns` are then the child's key columns, and source_schema and
  // source_index the parent's table and referenced columns (the values come
  // from the parent's row).
  std::shared_ptr<const CascadeEdge> cascade;
  // A MariaDB SEQUENCE: its one row is the sequence's state (inserts only,
  // each replacing the last); only targets that have sequences take it.
  bool sequence = false;
  bool has_key() const { return !key.empty(); }
  // The source column behind target column i.
  const ColumnMeta& column_meta(size_t i) const { return source_schema->columns[source_index[i]]; }
};
using TargetTablePtr = std::shared_ptr<const TargetTable>;

inline uint64_t TableNameHash(const TargetTable& t) {
  uint64_t a = std::hash<std::string_view>()(t.db);
  uint64_t b = std::hash<std::string_view>()(t.table);
  return a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
}

// The identity mapping of a source table version: every column under its own
// name, the primary key (else the NOT NULL unique key) as the key. What tools
// that write a table back to itself or print it (tail, flashback) use.
inline std::shared_ptr<TargetTable> MakeIdentityTarget(const TableSchemaPtr& schema) {
  auto t = std::make_shared<TargetTable>();
  t->db = schema->db;
  t->table = schema->table;
  for (uint32_t i = 0; i < schema->columns.size(); ++i) {
    t->columns.push_back(schema->columns[i].name);
    t->source_index.push_back(i);
  }
  t->key = schema->primary_key.empty() ? schema->unique_key : schema->primary_key;
  t->source = schema->db + "." + schema->table;
  t->name_hash = TableNameHash(*t);
  t->source_schema = schema;
  return t;
}

struct SinkChange {
  enum class Kind : uint8_t {
    kUpsert,       // keyed table: make the row with this key equal to `values`
                   // (partial, see IsPartial: update the values it has, if the row is there)
    kDelete,       // keyed table: remove the row with the key in `values` (a missing row is fine)
    kInsert,       // keyless table: add `values`
    kDeleteExact,  // keyless table: remove one row equal to `values` in every column
    // A foreign key's action on the child rows (table->cascade): op kDelete
    // for ON DELETE (`values`: the deleted parent's referenced values), op
    // kUpdate for ON UPDATE (`values`: the old referenced values, then the
    // new). Only sinks that apply_cascades() get these (sink.h).
    kCascade,
  };
  Kind kind = Kind::kUpsert;
  // The change as the target table sees it: an update whose row entered
  // the `where:` filter is an insert, one that left it a delete, and a key
  // change a delete and an insert. For kUpdate, before_value() gives the
  // row's previous values.
  Op op = Op::kInsert;
  // Copied by a snapshot (a read, not a change): formats name it so.
  bool snapshot = false;
  // An insert whose image lacks the columns its statement did not set (a
  // MySQL source under binlog_row_image=MINIMAL): each kAbsent value is the
  // target column's DEFAULT, so the change is whole, not partial. Made only
  // for pipelines whose targets all take the source's table definitions
  // (MySQL and MariaDB targets; TableMapper::TakeMinimalRowImages).
  bool absent_means_default = false;
  TargetTablePtr table;
  std::vector<Value> values;
  StreamPos pos;
  uint64_t ts_ms = 0;
  std::shared_ptr<const ChangeEvent> origin;  // owns the bytes `values` point into

  // op == kUpdate: target column i's value before the update.
  const Value& before_value(size_t i) const { return origin->before.values[table->source_index[i]]; }
};

// An upsert lacking values (ValueKind::kAbsent: PostgreSQL's unchanged
// TOASTed columns) that the target must keep as they are: an update of the
// present columns of the row with its key, never an insert and never a
// NULL. Only updates in place are partial (the key is always present).
inline bool IsPartial(const SinkChange& c) {
  if (c.kind != SinkChange::Kind::kUpsert || c.absent_means_default) return false;
  for (const Value& v : c.values) {
    if (v.kind == ValueKind::kAbsent) return true;
  }
  return false;
}

// Whether a batch holds kCascade changes (sinks that apply_cascades() then
// apply it in source order on one connection).
inline bool HasCascade(const std::vector<SinkChange>& changes) {
  for (const SinkChange& c : changes) {
    if (c.kind == SinkChange::Kind::kCascade) return true;
  }
  return false;
}

}  // namespace sluice
