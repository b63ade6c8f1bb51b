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

#include "core/change_event.h"
#include "core/value.h"

namespace sluice::sink {

struct TargetTable {
  std::string db;
  std::string table;
  std::vector<std::string> columns;  // target column names, in the order of SinkChange::values
  std::vector<uint32_t> key;         // indexes into columns: primary key, else a NOT NULL unique key; empty = keyless
  std::string source;                // "db.table" of the source, for messages
  // Identity of db.table for key hashing: schema versions of one table are
  // different TargetTable objects, and one key must hash alike across them.
  uint64_t name_hash = 0;
  bool has_key() const { return !key.empty(); }
};
using TargetTablePtr = std::shared_ptr<const TargetTable>;

inline uint64_t TableNameHash(const TargetTable& t) {
  uint64_t a = std::hash<std::string_view>()(t.db);
  uint64_t b = std::hash<std::string_view>()(t.table);
  return a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
}

struct SinkChange {
  enum class Kind : uint8_t {
    kUpsert,       // keyed table: make the row with this key equal to `values`
    kDelete,       // keyed table: remove the row with the key in `values` (a missing row is fine)
    kInsert,       // keyless table: add `values`
    kDeleteExact,  // keyless table: remove one row equal to `values` in every column
  };
  Kind kind = Kind::kUpsert;
  TargetTablePtr table;
  std::vector<Value> values;
  StreamPos pos;
  uint64_t ts_ms = 0;
  std::shared_ptr<const ChangeEvent> origin;  // owns the bytes `values` point into
};

}  // namespace sluice::sink
