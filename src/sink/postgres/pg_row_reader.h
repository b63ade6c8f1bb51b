#pragma once
// PgRowReader: a PostgreSQL target's rows read back in the source column
// kinds, for `sluice check` (sink/row_reader.h).
//
// Every column is read as its output text (`col::text`, in a session with
// ISO dates, UTC, hex bytea, shortest exact floats) and parsed by the inverse
// of pg_types.h:
//   smallint/integer/bigint/numeric(20,0) -> the source's integer kind
//   numeric(p,s) -> DECIMAL text with the source's scale
//   real/double precision -> FLOAT/DOUBLE by value
//   date, timestamp -> DATE, DATETIME with the source's fractional digits
//   timestamptz -> TIMESTAMP in UTC (the "+00" dropped)
//   interval -> TIME ("-838:59:59"; days counted as 24 hours)
//   bit varying -> BIT by value;  bytea -> binary bytes
//   text -> the text (ENUM, SET: member names);  jsonb -> JSON text
// Not exactly invertible: jsonb normalizes JSON (key order, spacing,
// duplicate keys, number spelling), so JSON must be compared semantically
// (the check does). A text that does not parse as the source kind comes back
// as kText with PostgreSQL's text, different from any non-text value.
//
// Keys are looked up with literals made by pg_types.h (exactly what the sink
// writes) and paged in PostgreSQL's own index order.

#include <memory>

#include "client/postgres/connection.h"
#include "sink/row_reader.h"

namespace sluice::sink::postgres {

// PostgreSQL's output text of a column whose source column is `column`,
// as the source's Value (see above). Never fails: unparsable text is kText.
Value ParsePgValue(const ColumnMeta& column, std::string_view text, Arena& arena);

class PgRowReader : public RowReader {
 public:
  // `interrupt` (may be null): the check's; cancelling it cuts the
  // connection, also while it connects to a server that does not answer.
  static Result<std::unique_ptr<PgRowReader>> Open(const sluice::postgres::ConnectOptions& options,
                                                   sluice::Interrupter* interrupt = nullptr);

  Result<std::string> CheckTable(const TargetTable& t) override;
  Result<RowBlock> ReadKeys(const TargetTable& t, std::span<const Value> keys) override;
  Result<RowBlock> ReadKeyPage(const TargetTable& t, KeyCursor& cursor, size_t limit) override;
  Result<RowBlock> ReadAll(const TargetTable& t) override;

 private:
  explicit PgRowReader(std::unique_ptr<sluice::postgres::PgConnection> c) : conn_(std::move(c)) {}
  // Appends the rows of `sql` (columns of `t`, or only its key columns).
  Status Read(const TargetTable& t, const std::string& sql, bool keys_only, RowBlock& out);

  std::unique_ptr<sluice::postgres::PgConnection> conn_;
};

}  // namespace sluice::sink::postgres
