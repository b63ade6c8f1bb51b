#pragma once
// MySQL → PostgreSQL, without loss (design section 9): the column type a
// source column gets in a created table, and each value's text as
// PostgreSQL's input functions read it (in a quoted literal or in COPY).
//
//   MySQL                          PostgreSQL
//   TINYINT, SMALLINT, YEAR        smallint   (TINYINT UNSIGNED too)
//   SMALLINT UNSIGNED, MEDIUMINT   integer
//   INT                            integer    (INT UNSIGNED: bigint)
//   BIGINT                         bigint     (BIGINT UNSIGNED: numeric(20,0))
//   DECIMAL(p,s)                   numeric(p,s)
//   FLOAT / DOUBLE                 real / double precision
//   DATE                           date
//   DATETIME(n)                    timestamp(n) without time zone
//   TIMESTAMP(n)                   timestamp(n) with time zone (values are UTC)
//   TIME(n)                        interval
//   BIT(n)                         bit varying(n)
//   CHAR, VARCHAR, TEXT, ENUM, SET text (already UTF-8 whatever the charset)
//   BINARY, VARBINARY, BLOB        bytea
//   JSON                           jsonb
//   GEOMETRY                       bytea (WKB)
//
// A value PostgreSQL cannot hold exactly is refused, never altered: a NUL
// byte in text or JSON, a zero or otherwise invalid date ('0000-00-00',
// '2024-02-30', year 0), a column missing from the row image.

#include <string>
#include <string_view>

#include "core/status.h"
#include "core/table_schema.h"
#include "core/value.h"

namespace sluice::sink::postgres {

// The column's PostgreSQL type as format_type() prints it (so that a
// created table's columns compare equal to it), or kNotSupported.
Result<std::string> PgType(const ColumnMeta& column);

// Appends `v`'s text as PostgreSQL reads it for `column`'s PgType. The
// result is raw text: quote it (AppendQuotedLiteral) or escape it for COPY.
// kNull must be handled by the caller. Errors say why the value cannot be
// held (without naming the table: the caller does).
Status AppendPgText(std::string& out, const Value& v, const ColumnMeta& column);

// `v` as a SQL literal: NULL or '...'.
Status AppendPgLiteral(std::string& out, const Value& v, const ColumnMeta& column);
// `v` as a COPY text-format field: \N or the text with \, tab, newline and CR escaped.
Status AppendCopyField(std::string& out, const Value& v, const ColumnMeta& column);

// Whether "YYYY-MM-DD" (the start of a DATE/DATETIME/TIMESTAMP text) is a
// real calendar date PostgreSQL accepts (year ≥ 1).
bool IsValidDate(std::string_view text);

}  // namespace sluice::sink::postgres
