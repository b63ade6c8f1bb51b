#pragma once
// JSON rendering of row changes in sluice's change format (design §4, a
// contract): one object per change, keys in a fixed order. Appends to a
// caller-owned buffer so the hot path reuses one string for every row.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/row_change.h"
#include "core/value.h"

namespace sluice {

void AppendJsonString(std::string& out, std::string_view s);
void AppendBase64(std::string& out, std::string_view bytes);
void AppendJsonValue(std::string& out, const Value& v);
// {"op":..,"db":..,"table":..,"pk":[..],"before":{..},"after":{..},"ts_ms":..,"gtid":..,"pos":".."}
void AppendRowChangeJson(std::string& out, const RowChange& change);

// The same rendering for a stream of rows: the parts that depend only on the
// table ("db", "table", "pk" and every escaped column key) are rendered once
// per schema version and reused, which is most of the work for narrow rows.
// One per thread.
class JsonRowWriter {
 public:
  void Append(std::string& out, const RowChange& change);

 private:
  friend void AppendRowChangeJson(std::string& out, const RowChange& change);
  struct Prepared {
    TableSchemaPtr pin;               // keeps the schema (and so the cache key) alive
    std::string head_after_op;        // ","db":"..","table":"..","pk":[..],"before":
    std::vector<std::string> keys;    // "\"name\":" per column
  };
  const Prepared& For(const RowChange& change);
  static void Prepare(const TableSchema& t, Prepared& p);
  static void Render(std::string& out, const Prepared& p, const RowChange& change);
  static void AppendImage(std::string& out, const Prepared& p, const std::vector<Value>* image);

  std::unordered_map<const TableSchema*, Prepared> cache_;
  const TableSchema* last_table_ = nullptr;  // the last lookup (unordered_map nodes never move)
  const Prepared* last_ = nullptr;
};

}  // namespace sluice
