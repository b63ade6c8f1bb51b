#pragma once
// ChRowReader: a ClickHouse target's rows read back in the source column
// kinds, for `sluice check` (sink/row_reader.h).
//
// The table's current rows are `SELECT ... FINAL WHERE _sign = 1` (the
// latest `_version` of each key, deletes dropped), read as TabSeparated text
// and parsed by the inverse of type_map.h:
//   Int*/UInt* -> the source's integer kind (UInt16 -> YEAR, UInt64 -> BIT)
//   Float32/Float64 -> FLOAT/DOUBLE by value
//   Decimal(p,s), or String for p > 38 -> DECIMAL text with the source's scale
//   Date, DateTime('UTC') -> DATE, DATETIME/TIMESTAMP text (0000-00-00 as is)
//   String -> the bytes as written (text, binary, DATETIME(n), TIME, ENUM,
//   SET, JSON text, WKB)
// Every mapping is exact, so values compare as they are (JSON as its text:
// the sink stores it unchanged). A text that does not parse as the source
// kind comes back as kText, equal to no non-text value.
//
// Keys are looked up and paged with literals CAST to the column's mapped
// type; pages follow the table's key order in ClickHouse.

#include <memory>

#include "client/clickhouse/http_client.h"
#include "sink/row_reader.h"
#include "sink/sink.h"

namespace sluice::sink::clickhouse {

// ClickHouse's TabSeparated text (unescaped) of a column whose source column
// is `column`, as the source's Value. Never fails: unparsable text is kText.
Value ParseClickhouseValue(const ColumnMeta& column, std::string_view text, Arena& arena);

class ChRowReader : public RowReader {
 public:
  static Result<std::unique_ptr<ChRowReader>> Open(const SinkOptions& options);

  Result<std::string> CheckTable(const TargetTable& t) override;
  Result<RowBlock> ReadKeys(const TargetTable& t, std::span<const Value> keys) override;
  Result<RowBlock> ReadKeyPage(const TargetTable& t, KeyCursor& cursor, size_t limit) override;
  Result<RowBlock> ReadAll(const TargetTable& t) override;

 private:
  explicit ChRowReader(sluice::clickhouse::ClientOptions o) : client_(std::move(o)) {}
  Status Read(const TargetTable& t, const std::string& sql, bool keys_only, RowBlock& out);

  sluice::clickhouse::ClickhouseClient client_;
};

}  // namespace sluice::sink::clickhouse
