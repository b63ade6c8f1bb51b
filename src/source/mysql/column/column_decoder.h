#pragma once
// Column value decoders: one non-NULL value of a row image, by type family.
// The TABLE_MAP parser builds a ColumnMeta per column once; the rows decoder
// calls DecodeColumn for each present, non-NULL column. Hot path: no heap
// allocation per value; text that needs conversion and formatted temporals go
// into the caller's Arena, everything else is a view into the event bytes.
// Callers add table, column and position context to a failing Status.

#include <string>
#include <string_view>

#include "core/arena.h"
#include "core/byte_reader.h"
#include "core/status.h"
#include "core/table_schema.h"
#include "core/value.h"

namespace sluice::mysql {

// Decodes the value at r's cursor and advances past it.
Status DecodeColumn(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out);

// A human-readable SQL type for error messages: "DECIMAL(12,2)", "VARCHAR(255)".
std::string DescribeColumnType(const ColumnMeta& col);

// The after-image value of a MySQL JSON column whose bit is set in the
// partial-JSON bitmap of a PARTIAL_UPDATE_ROWS event: a 4-byte length and a
// sequence of diffs (json_binary.h, ApplyJsonDiffs), applied to before_json,
// the JSON text the before image of the same row held for this column.
// Advances r past the value; the result (kJson) is written into the arena.
Status DecodeJsonPartialColumn(ByteReader& r, const ColumnMeta& col, std::string_view before_json,
                               Arena& arena, Value& out);

}  // namespace sluice::mysql
