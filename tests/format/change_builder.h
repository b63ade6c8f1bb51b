#pragma once
// Builds SinkChanges over a hand-made table for encoder tests: columns with
// their binlog type metadata, values as the MySQL source decodes them.

#include <memory>
#include <string>
#include <vector>

#include "client/mysql/column_types.h"
#include "core/sink_change.h"

namespace sluice::format::testing {

inline ColumnMeta Col(std::string name, uint8_t type, uint16_t meta = 0, bool is_unsigned = false,
                      Charset charset = Charset::kUtf8) {
  ColumnMeta c;
  c.name = std::move(name);
  c.type = type;
  c.meta = meta;
  c.is_unsigned = is_unsigned;
  c.charset = charset;
  c.collation = charset == Charset::kBinary ? 63 : 45;
  return c;
}

// A STRING-coded column (CHAR/BINARY/ENUM/SET): real type and length in the metadata.
inline ColumnMeta StringCol(std::string name, uint8_t real_type, uint8_t length, Charset charset = Charset::kUtf8,
                            std::vector<std::string> members = {}) {
  ColumnMeta c = Col(std::move(name), sluice::mysql::kTypeString, static_cast<uint16_t>((real_type << 8) | length),
                     false, charset);
  c.real_type = real_type;
  c.enum_values = std::move(members);
  return c;
}

inline TargetTablePtr MakeTable(std::string db, std::string table, std::vector<ColumnMeta> cols,
                                std::vector<uint32_t> key) {
  auto schema = std::make_shared<TableSchema>();
  schema->db = db;
  schema->table = table;
  schema->columns = std::move(cols);
  schema->primary_key = key;
  schema->names_known = true;
  auto t = std::make_shared<TargetTable>();
  t->db = db;
  t->table = table;
  for (uint32_t i = 0; i < schema->columns.size(); ++i) {
    t->columns.push_back(schema->columns[i].name);
    t->source_index.push_back(i);
  }
  t->key = key;
  t->source = db + "." + table;
  t->name_hash = TableNameHash(*t);
  t->source_schema = schema;
  return t;
}

inline SinkChange MakeChange(const TargetTablePtr& t, Op op, std::vector<Value> values, std::vector<Value> before = {},
                             uint64_t ts_ms = 1700000000000, StreamPos pos = {"binlog.000003", 1234, 1}) {
  SinkChange ch;
  ch.op = op;
  ch.table = t;
  ch.values = std::move(values);
  ch.pos = std::move(pos);
  ch.ts_ms = ts_ms;
  auto origin = std::make_shared<ChangeEvent>();
  origin->before.values = std::move(before);
  origin->before.present = !origin->before.values.empty();
  ch.origin = origin;
  return ch;
}

}  // namespace sluice::format::testing
