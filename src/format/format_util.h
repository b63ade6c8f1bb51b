#pragma once
// Helpers the canal, maxwell and debezium encoders share: Java's number
// text (what those Java tools write), ENUM/SET as numbers, DDL statement
// kinds, and where a change stands in its transaction.

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/sink_change.h"
#include "core/value.h"
#include "format/format.h"

namespace sluice::format {

// Decimal integers appended in place: the encoders' hot path (no format
// string parsed per value, no temporary string).
inline void AppendUInt(std::string& out, uint64_t v) {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
inline void AppendInt(std::string& out, int64_t v) {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Double.toString / Float.toString: "1.0", "3.14", "1.0E10", "1.0E-5".
void AppendJavaDouble(std::string& out, double v);
void AppendJavaFloat(std::string& out, float v);

// ENUM's 1-based member index (0: the empty error value) and SET's bit mask,
// from the member names (or the number when the names were unknown).
Result<uint64_t> EnumIndex(const ColumnMeta& col, const Value& v);
Result<uint64_t> SetMask(const ColumnMeta& col, const Value& v);

enum class DdlKind : uint8_t {
  kCreateTable,
  kAlterTable,
  kDropTable,
  kTruncateTable,
  kRenameTable,
  kCreateIndex,
  kDropIndex,
  kCreateDatabase,
  kAlterDatabase,
  kDropDatabase,
  kOther,
};
DdlKind ClassifyDdl(std::string_view query);

// The context a sink knows from the change itself. `position` is the text
// buffer ctx.position points into.
ChangeContext ContextOf(const SinkChange& change, std::string& position, bool last_in_transaction);

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

}  // namespace sluice::format
