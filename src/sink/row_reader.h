#pragma once
// RowReader: a target's rows read back for a consistency check (`sluice
// check`, `check:` in `sluice run`), for targets that are not MySQL.
//
// Rows come back as Values of the SOURCE column kinds (core/value.h), parsed
// from the target's representation by the inverse of that sink's type map,
// so that the check compares them with the source's values as read by
// mysql::TableReader (text protocol: DECIMAL with the column's scale,
// DATETIME/TIME with the column's fractional digits, TIMESTAMP in UTC).
// What cannot be inverted exactly is named by each implementation; a target
// value that does not parse as its source kind comes back as kText holding
// the target's own text, which equals no non-text source value: a value that
// differs is reported as different, never hidden.
//
// Why keys and not key ranges: a target's collation orders strings
// differently from MySQL's, so the same range would select different rows.
// The check reads a source chunk, then exactly its keys on the target
// (missing / different), and pages through every key the target holds in its
// own order to find those the source lacks (extra).
//
// Lifetime and threading: one RowReader is one connection, opened by
// sink::OpenRowReader (sink/registry.h) and used by one check thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "client/mysql/table_reader.h"  // RowBlock: flat Values with their arena
#include "core/sink_change.h"
#include "core/status.h"
#include "core/value.h"

namespace sluice::sink {

// Rows as flat Values with the arena their bytes live in.
using RowBlock = sluice::mysql::RowBlock;

// Where a page of keys ends; opaque to the caller.
struct KeyCursor {
  std::string state;  // "" at the start
  bool done = false;  // no more pages
};

class RowReader {
 public:
  virtual ~RowReader() = default;

  // "" when the target table of `t` exists with every column of `t`, else
  // why it cannot be checked ("target table ... does not exist"). Errors are
  // for a failing target, not for a missing table.
  virtual Result<std::string> CheckTable(const TargetTable& t) = 0;

  // The rows of `t` (every column of t.columns, in that order) whose key is
  // one of `keys`: t.key.size() values per key, flat, of the source kinds.
  // Keys the target cannot hold (a value its type map refuses) are not there.
  virtual Result<RowBlock> ReadKeys(const TargetTable& t, std::span<const Value> keys) = 0;

  // The next page of keys of `t` in the target's own order (t.key.size()
  // values per row, source kinds), at most about `limit` keys; sets
  // cursor.done after the last page.
  virtual Result<RowBlock> ReadKeyPage(const TargetTable& t, KeyCursor& cursor, size_t limit) = 0;

  // Every row of a keyless table.
  virtual Result<RowBlock> ReadAll(const TargetTable& t) = 0;
};

}  // namespace sluice::sink

namespace sluice::sink {

// `text` ("12:34:56.78", "-1.5") with exactly `digits` digits after its
// '.', as MySQL prints a column of that scale or precision: zeros added, or
// trailing zeros removed down to `digits` (other digits are kept, so that a
// value with more precision than the source's stays different).
std::string FitFraction(std::string_view text, unsigned digits);

// A decimal integer that is the whole of `s`.
bool ParseWhole(std::string_view s, int64_t& v);
bool ParseWhole(std::string_view s, uint64_t& v);

// A number of `kind` read back from its decimal text: kInt, kUInt, kYear,
// kBit (as an integer), kFloat, kDouble. Text that does not parse comes back
// as kText, so that it compares as different; nullopt for other kinds.
std::optional<Value> ParseNumber(ValueKind kind, std::string_view s, Arena& arena);

}  // namespace sluice::sink
