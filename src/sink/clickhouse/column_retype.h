#pragma once
// Following a source column's type change (ALTER TABLE ... MODIFY) in a
// ClickHouse table that already holds rows. ClickHouse converts the rows
// it holds itself, so only conversions that give exactly what the source's
// own conversion gave are followed: widenings (Int32 → Int64, Float32 →
// Float64, a Decimal with more digits), integers and decimals into a text
// column, a change of nullability (NULLs into NOT NULL: ClickHouse refuses,
// the error says so). Others stop the target with the way out.
//
// A non-key column is retyped in place (ALTER TABLE ... MODIFY COLUMN). A
// sorting-key column cannot be (ClickHouse allows only metadata changes to
// one), nor can 18.16 rename a column: the table is copied into a new one
// with the new types or names, which then takes its name in one RENAME; a
// crash anywhere in between is finished or undone on the next open
// (FinishInterruptedRetype). Called on the sink's writer thread.

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/clickhouse/http_client.h"
#include "core/status.h"
#include "core/table_schema.h"

namespace sluice::sink::clickhouse {

// Whether ClickHouse's conversion of a column of type `from` to `to` (both
// as DESCRIBE TABLE prints them) keeps every value as the source's
// conversion to `column` (the source column's new definition) did.
bool ExactConversion(std::string_view from, std::string_view to, const ColumnMeta& column);

// Undoes a copy that did not reach its RENAME, or completes one that did.
Status FinishInterruptedRetype(sluice::clickhouse::ClickhouseClient& client, const std::string& db,
                               const std::string& table, const std::string& where);

// What a column of the table becomes in its copy.
struct CopiedColumn {
  std::string name;
  std::string type;
};
// Copies db.table into a table where each column named in `changes` gets
// the name and type given there (the others are copied as they are),
// ordered by `key` (names in the copy), and puts the copy in the table's
// place; `why` is logged.
Status ReplaceByCopy(sluice::clickhouse::ClickhouseClient& client, const std::string& db, const std::string& table,
                     const std::vector<std::pair<std::string, std::string>>& existing,
                     const std::map<std::string, CopiedColumn>& changes, const std::vector<std::string>& key,
                     const std::string& where, std::string_view why);

// The columns of db.table's sorting key, in order.
Result<std::vector<std::string>> SortingKey(sluice::clickhouse::ClickhouseClient& client, const std::string& db,
                                            const std::string& table);

}  // namespace sluice::sink::clickhouse
