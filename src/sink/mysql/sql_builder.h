#pragma once
// SQL text for applying SinkChanges to MySQL/MariaDB: literals and multi-row
// statements. The loader's session runs with utf8mb4, time_zone '+00:00'
// (TIMESTAMP values are UTC) and without NO_BACKSLASH_ESCAPES, which is what
// the escaping here assumes.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/sink_change.h"
#include "sink/cascade_sql.h"

namespace sluice::sink::mysql {

void AppendIdentifier(std::string& out, std::string_view name);            // `name` with ` doubled
void AppendQualifiedName(std::string& out, const TargetTable& t);          // `db`.`table`
void AppendQuotedString(std::string& out, std::string_view s);             // '...' escaped
inline std::string Quote(std::string_view s) {                             // the same, as a value
  std::string out;
  AppendQuotedString(out, s);
  return out;
}
// Names and values as a MySQL target takes them (sink/cascade_sql.h).
extern const SqlDialect kMysqlDialect;
// A value as a SQL literal; kAbsent is an error (partial row images cannot be applied).
Status AppendLiteral(std::string& out, const Value& v);
// The value as MySQL stores it in a column of `t`: a PostgreSQL boolean
// (JSON true/false) is the integer 1/0 of TINYINT(1); the rest as is.
Value MysqlValue(const TargetTable& t, size_t column, const Value& v);

// `generated` (may be null): per column of `t`, whether the target computes
// it (a generated column): left out of the statements that write rows.

// INSERT INTO t (cols) VALUES (...),(...) ON DUPLICATE KEY UPDATE c=VALUES(c),...
// (INSERT IGNORE when every column is part of the key).
Status BuildUpsert(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows,
                   const std::vector<bool>* generated = nullptr);
// REPLACE INTO t (cols) VALUES (...),(...): the row with this key, and any
// row holding one of its unique values, replaced (a snapshot's catch-up).
Status BuildReplace(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows,
                    const std::vector<bool>* generated = nullptr);
// DELETE FROM t WHERE key IN (...) / WHERE (k1,k2) IN ((..),(..))
Status BuildDelete(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows);
// DELETE FROM t WHERE k1=v1 AND k2=v2;DELETE ... : one statement per row,
// each a lookup by the key. Beside other writers of the table (the loader's
// partitions, which wait for each other before they commit) an IN list is
// unsafe: on a small table the optimizer scans it, and the scan waits for
// rows another partition inserted and has not committed, while that one
// waits for this one: a stall until the lock wait timeout.
Status BuildDeleteEach(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows);
// INSERT INTO t (cols) VALUES (...),(...)  (keyless tables)
Status BuildInsert(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows,
                   const std::vector<bool>* generated = nullptr);
// DELETE FROM t WHERE c1 <=> v1 AND ... LIMIT 1  (keyless tables: one matching row)
Status BuildDeleteExact(std::string& out, const TargetTable& t, const SinkChange& row);
// UPDATE t SET c1=v1,... (row.values) WHERE the key equals `current`'s
// (keyless tables: every column equals `current`'s, LIMIT 1).
Status BuildUpdate(std::string& out, const TargetTable& t, const SinkChange& row, const std::vector<Value>& current,
                   const std::vector<bool>* generated = nullptr);

// Statements with `?` placeholders for client/mysql/bulk_statement.h, one
// row of parameters per change; they write what BuildUpsert / BuildReplace /
// BuildDeleteEach write for the same rows.
// INSERT INTO t (cols) VALUES (?,...) ON DUPLICATE KEY UPDATE c=VALUES(c),...
// (`replace`: REPLACE INTO t (cols) VALUES (?,...)); a column whose values
// are WKB (`geometry[i]`) is ST_GeomFromWKB(?).
std::string BulkUpsertSql(const TargetTable& t, const std::vector<bool>* generated, const std::vector<bool>& geometry,
                          bool replace);
// The parameters of one whole row for BulkUpsertSql: its written columns' values.
void AppendUpsertParams(std::vector<Value>& out, const TargetTable& t, const SinkChange& row,
                        const std::vector<bool>* generated);
// DELETE FROM t WHERE k1=? AND k2=?  (keyed tables; a lookup by the key)
std::string BulkDeleteSql(const TargetTable& t);
// The parameters of one row for BulkDeleteSql: its key values.
void AppendKeyParams(std::vector<Value>& out, const TargetTable& t, const SinkChange& row);

// `key IN (v1,v2)` / `(k1,k2) IN ((..),(..))`: the keys of `rows` (keyed tables).
Status AppendKeyIn(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows);
// c1<=>v1 AND c2<=>v2 ...: a row equal to `values` in every column, text
// byte for byte (binary collation and length), NULL matching NULL.
Status AppendRowMatch(std::string& out, const TargetTable& t, const std::vector<Value>& values);
// The same for column i alone.
Status AppendColumnMatch(std::string& out, const TargetTable& t, size_t i, const Value& value);
// UTF-8 characters in `s`.
size_t Utf8Chars(std::string_view s);

// A multi-row statement builder (BuildUpsert, BuildDelete, BuildInsert).
using StatementBuilder =
    std::function<Status(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows)>;
// Builds statements over `rows` in slices of about `max_bytes` of values
// each (at least one row per statement) and hands each one to `run`.
Status ForEachStatement(const TargetTable& t, const std::vector<const SinkChange*>& rows, size_t max_bytes,
                        StatementBuilder build, const std::function<Status(const std::string&)>& run);

// CREATE TABLE IF NOT EXISTS `db`.`t` (...) for a target table whose source
// columns come from PostgreSQL (ColumnMeta::pg_type_oid set), with the types
// of the README's mapping (utf8mb4_bin, so that text keys stay as distinct
// as in PostgreSQL). MySQL-source columns are kNotSupported: their own
// definition is what a MySQL target gets.
Result<std::string> BuildCreateTable(const TargetTable& t);
// The MySQL column type for a PostgreSQL source column; `key`: part of the
// key (text and bytes then need a bounded length).
Result<std::string> MysqlTypeOfPgColumn(const ColumnMeta& c, bool key);

// "id=7" or "(a=1, b='x')": the key of a change, for error messages.
std::string DescribeKey(const SinkChange& c);

}  // namespace sluice::sink::mysql
