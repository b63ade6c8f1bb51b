#pragma once
// PostgreSQL column types as the pgoutput decoder sees them, and the
// conversion of their text output (pgoutput v1 sends every value as the
// type's output function prints it) into sluice's Value model (design §4,
// §12).
//
// The text depends on session settings; the replication connection fixes
// them (DateStyle=ISO, TimeZone=UTC, IntervalStyle=postgres,
// bytea_output=hex, extra_float_digits=1), and the conversions below assume
// exactly those:
//
//   family       PostgreSQL types                 Value                    JSON
//   kBool        bool                             kJson "true"/"false"     true / false
//   kInt         int2 int4 int8 oid               kInt                     number
//   kNumeric     numeric                          kDecimal (as sent)       "19.90", "NaN", "Infinity"
//   kFloat4/8    float4 float8                    kFloat/kDouble           number; NaN/±Infinity as strings
//   kText        text varchar bpchar name char,   kText                    string
//                interval, uuid, timetz, inet,
//                money, bit, xml, ... (any other)
//   kBytea       bytea ("\x0a0b")                 kBytes (decoded)         base64
//   kDate        date                             kDate                    "2024-01-31"
//   kTime        time                             kTime                    "12:34:56.789"
//   kTimestamp   timestamp                        kDateTime                "2024-01-31 12:34:56.789"
//   kTimestamptz timestamptz ("...+00")           kTimestamp, UTC, no +00  "2024-01-31 12:34:56.789"
//   kJson        json jsonb                       kJson                    the JSON value
//   kEnum        enums                            kEnum                    "label"
//   kArray       any array ("{1,2,NULL}")         kJson (a JSON array)     [1,2,null]
//
// Domains take their base type's family. Temporal infinities ("infinity")
// and BC dates stay PostgreSQL's text.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/arena.h"
#include "core/status.h"
#include "core/table_schema.h"
#include "core/value.h"

namespace sluice::postgres {

enum class PgFamily : uint8_t {
  kText = 0,
  kBool,
  kInt,
  kNumeric,
  kFloat4,
  kFloat8,
  kBytea,
  kDate,
  kTime,
  kTimestamp,
  kTimestamptz,
  kJson,
  kEnum,
  kArray,
};

// What the decoder knows of one column type: its family and, for arrays,
// the element's type (itself possibly an enum or a domain).
struct PgColumnType {
  uint32_t oid = 0;       // as the Relation message names it (a domain's own OID)
  uint32_t base_oid = 0;  // after domains
  PgFamily family = PgFamily::kText;
  std::string name;       // "integer", "numeric", "mood", "_int4", ...
  std::shared_ptr<const PgColumnType> element;  // kArray
};

// A row of pg_type, as a catalog lookup answers for a type that is not
// built in: typtype ('b' base, 'd' domain, 'e' enum, 'c' composite, 'r'
// range, 'm' multirange), typbasetype (domains), typelem (arrays,
// typcategory 'A').
struct PgTypeRow {
  uint32_t oid = 0;
  std::string name;
  char typtype = 'b';
  char typcategory = 'U';
  uint32_t typbasetype = 0;
  uint32_t typelem = 0;
};
using PgTypeLookup = std::function<Result<PgTypeRow>(uint32_t oid)>;

// Resolves `oid` (and, for arrays and domains, what it refers to). Built-in
// types resolve without `lookup`; others ask it, and become kText when
// there is no lookup.
Result<std::shared_ptr<const PgColumnType>> ResolvePgType(uint32_t oid, const PgTypeLookup& lookup);

// Fills the MySQL-flavoured part of `column` (type, meta, is_json,
// charset) with the nearest MySQL type, so targets that create tables from
// ColumnMeta work for PostgreSQL sources too; `typmod` is the Relation's.
void DescribeColumn(const PgColumnType& type, int32_t typmod, ColumnMeta& column);

// One value in its text form into a Value; text it keeps is a view into
// `text` or into `arena`. Errors name nothing: the caller adds the column.
Result<Value> DecodePgText(const PgColumnType& type, std::string_view text, Arena& arena);

// A PostgreSQL array literal ("{1,2,NULL}", "[0:1]={a,b}", nested) as a
// JSON array, elements converted as DecodePgText would.
Status AppendPgArrayAsJson(std::string& out, const PgColumnType& element, std::string_view text);

}  // namespace sluice::postgres
