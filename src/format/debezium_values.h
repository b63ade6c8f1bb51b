#pragma once
// Debezium's value conversions for MySQL columns (the `native` profile,
// Debezium's defaults) and their Kafka Connect schema types; the `flink`
// profile's text forms (ISO-8601 temporals, DECIMAL as a string).

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/table_schema.h"
#include "core/value.h"
#include "format/column_type.h"

namespace sluice::format::debezium {

enum class Profile : uint8_t { kFlink, kNative };

// Appends the JSON value of x (never null here) for the profile.
Status AppendValue(std::string& out, Profile profile, const ColumnMeta& col, const ColumnType& t, const Value& x);
// Appends the Kafka Connect field schema of a column:
// {"type":..,"optional":..,["name":..,"version":1,"parameters":{..},]"field":..}
void AppendFieldSchema(std::string& out, Profile profile, const ColumnMeta& col, const ColumnType& t,
                       std::string_view field, bool optional);

// Columns of a PostgreSQL source (col.pg_type_oid != 0) whose Debezium
// PostgreSQL connector form differs from their nearest MySQL type's:
// boolean, uuid, interval (io.debezium.time.MicroDuration), unconstrained
// numeric (io.debezium.data.VariableScaleDecimal) and arrays. Each returns
// false (appending nothing) where the MySQL form applies. debezium_postgres.cc.
bool AppendPgFieldSchema(std::string& out, Profile profile, const ColumnMeta& col, std::string_view field,
                         bool optional);
Result<bool> AppendPgValue(std::string& out, Profile profile, const ColumnMeta& col, const Value& x);
// The Kafka Connect schema of the source block, as the MySQL connector and
// the PostgreSQL connector ("connector":"postgresql") declare it.
std::string_view MysqlSourceSchema();
std::string_view PgSourceSchema();
// Appends {"type":..,"optional":..[,"name":..,"version":1[,"parameters":{params}]],"field":..}.
void AppendField(std::string& out, std::string_view type, std::string_view name, std::string_view params,
                 bool optional, std::string_view field);

// io.debezium.time conversions, exposed for tests.
Result<int64_t> EpochDays(std::string_view date);                    // "2024-01-31"
Result<int64_t> EpochMicros(std::string_view datetime);              // "2024-01-31 12:34:56.789"
Result<int64_t> DurationMicros(std::string_view time);               // "-838:59:59.000000"
Result<std::string> DecimalUnscaledBytes(std::string_view decimal);  // big-endian two's complement
// PostgreSQL interval text (IntervalStyle=postgres: "1 year 2 mons -3 days
// 04:05:06.5") in microseconds, a month as 30.4375 days (MicroDuration's).
Result<int64_t> PgIntervalMicros(std::string_view interval);

}  // namespace sluice::format::debezium
