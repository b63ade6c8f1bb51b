#pragma once
// SQL text for applying SinkChanges to PostgreSQL: table creation from the
// source columns (pg_types.h), multi-row upserts, deletes by key, keyless
// inserts and one-row deletes, COPY data. Every identifier is quoted; every
// value is a quoted literal read by the column type's input function.

#include <string>
#include <string_view>
#include <vector>

#include "core/sink_change.h"
#include "sink/cascade_sql.h"
#include "core/status.h"

namespace sluice::sink::postgres {

// Names and values as a PostgreSQL target takes them (sink/cascade_sql.h);
// values typed like the column (the parent's referenced column).
extern const SqlDialect kPgDialect;

// "db"."table"
std::string QualifiedName(std::string_view db, std::string_view table);

// CREATE TABLE IF NOT EXISTS "db"."t" ("c" type, ..., PRIMARY KEY (...)).
Result<std::string> BuildCreateTable(const TargetTable& t);

// INSERT INTO t (cols) VALUES (...),(...) ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c
// (DO NOTHING when every column is part of the key).
Status BuildUpsert(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows);
// Partial upserts (IsPartial) among `rows` become UPDATE statements of their
// present columns, after the INSERT of the others (`;`-separated).
// UPDATE t SET present = ... WHERE key = ...: one partial upsert (the row's
// columns it lacks stay as they are; a missing row stays missing).
Status BuildPartialUpdate(std::string& out, const TargetTable& t, const SinkChange& row);
// The ON CONFLICT clause of BuildUpsert, for INSERT ... SELECT from a staging table.
std::string OnConflictClause(const TargetTable& t);
// "c1", "c2", ...
std::string ColumnList(const TargetTable& t);
// After an INSERT's column list: the source's values go into identity
// columns too, `GENERATED ALWAYS` ones included (a target schema made by
// hand often declares the key so where the source has AUTO_INCREMENT).
inline constexpr const char* kOverridingIdentity = " OVERRIDING SYSTEM VALUE";
// DELETE FROM t WHERE key IN (...) / WHERE (k1, k2) IN ((..), (..))
Status BuildDelete(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows);
// INSERT INTO t (cols) VALUES (...),(...)  (keyless tables)
Status BuildInsert(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows);
// Deletes one row equal to `row` in every column and returns 1 for it
// (keyless tables: the first matching row by ctid).
Status BuildDeleteExact(std::string& out, const TargetTable& t, const SinkChange& row);
// Rows in COPY text format, one line each.
Status AppendCopyRows(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows);

// "id=7" or "(a=1, b='x')": the key of a change, for messages.
std::string DescribeKey(const SinkChange& c);

}  // namespace sluice::sink::postgres
