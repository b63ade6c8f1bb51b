#pragma once
// What sluice asks a PostgreSQL source's catalog outside the replication
// stream: the tables there are, a table's columns as the pgoutput decoder
// describes them (so that targets can be prepared before the first row),
// the types behind OIDs, and the replication slot's position.
//
// Each call runs on a plain (not replication) connection of the caller's;
// the session settings of PgStreamSource::kSessionOptions are not needed.

#include <string>
#include <utility>
#include <vector>

#include "client/postgres/connection.h"
#include "core/position.h"
#include "core/status.h"
#include "core/table_schema.h"
#include "source/postgres/pg_value.h"
#include "source/postgres/pgoutput_decoder.h"

namespace sluice::postgres {

// Ordinary and partitioned tables outside pg_catalog and information_schema,
// as (schema, table), sorted.
Result<std::vector<std::pair<std::string, std::string>>> ListTables(PgConnection& c);

// One row of pg_type (for ResolvePgType's lookups).
Result<PgTypeRow> LookupType(PgConnection& c, uint32_t oid);

// The table's columns (generated and dropped ones left out, as pgoutput
// does) with their types described as DescribeColumn does, NOT NULL, and
// the primary key. kNotFound when there is no such table.
Result<TableSchema> ReadTableSchema(PgConnection& c, const std::string& schema, const std::string& table);

// The table's columns now (dropped ones left out): defaults and the values
// rows older than a column read (PgColumnFacts), for schema changes.
Result<std::vector<PgColumnFacts>> ReadColumnFacts(PgConnection& c, uint32_t relid);
Result<std::vector<PgColumnFacts>> ReadColumnFacts(PgConnection& c, const std::string& schema, const std::string& table);

// The logical slot's confirmed position. A missing slot is created (plugin
// pgoutput) when `create`, and its creation point returned; else kNotFound
// with what to do. A slot of another plugin or database is an error.
Result<Lsn> SlotPosition(PgConnection& c, const std::string& slot, bool create);

}  // namespace sluice::postgres
