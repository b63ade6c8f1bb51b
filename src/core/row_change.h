#pragma once
// RowChange: one committed row change as it flows from a source to sinks.
// A view: its values and strings belong to the source's decode buffers and
// are valid only during the callback that receives it; a consumer that keeps
// it must copy (see OwnedRowChange in later stages).

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/table_schema.h"
#include "core/value.h"

namespace sluice {

// Values are persisted (checkpoints, files): never renumber.
enum class Op : uint8_t { kInsert = 1, kUpdate = 2, kDelete = 3 };

inline std::string_view OpName(Op op) {
  switch (op) {
    case Op::kInsert: return "insert";
    case Op::kUpdate: return "update";
    case Op::kDelete: return "delete";
  }
  return "?";
}

struct RowChange {
  Op op = Op::kInsert;
  const TableSchema* table = nullptr;
  TableSchemaPtr table_ptr;  // the same schema, for consumers that keep it past the callback
  const std::vector<Value>* before = nullptr;  // null for insert
  const std::vector<Value>* after = nullptr;   // null for delete
  uint64_t ts_ms = 0;                          // source commit time
  std::string_view gtid;                       // empty where the server has none
  std::string_view file;                       // binlog file of the event
  uint64_t offset = 0;                         // start of the rows event in that file
  // PostgreSQL: `offset` is the transaction's commit end LSN and `file` its
  // text ("0/16B3748"), which is what "pos" prints (no ":offset").
  bool lsn_position = false;
  // MySQL/MariaDB: the statement ran with foreign_key_checks=0, so the
  // server carried out no foreign key action for it (core/cascade.h).
  bool no_foreign_key_checks = false;
};

}  // namespace sluice
