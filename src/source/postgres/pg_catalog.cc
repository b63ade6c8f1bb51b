#include "source/postgres/pg_catalog.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <map>

namespace sluice::postgres {
namespace {

uint32_t ParseOid(const std::optional<std::string>& v) {
  return v ? static_cast<uint32_t>(std::strtoul(v->c_str(), nullptr, 10)) : 0;
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> ListTables(PgConnection& c) {
  ASSIGN_OR_RETURN(auto rows, c.Query("SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN "
                                      "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN "
                                      "('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', "
                                      "'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2"));
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : rows) {
    if (r[0] && r[1]) out.emplace_back(*r[0], *r[1]);
  }
  return out;
}

Result<PgTypeRow> LookupType(PgConnection& c, uint32_t oid) {
  ASSIGN_OR_RETURN(auto rows, c.Query(fmt::format("SELECT typname, typtype, typcategory, typbasetype, typelem FROM "
                                                  "pg_catalog.pg_type WHERE oid = {}",
                                                  oid)));
  if (rows.empty() || !rows[0][0]) return Status::Error(StatusCode::kNotFound, "no type with OID {} in pg_type", oid);
  PgTypeRow t;
  t.oid = oid;
  t.name = *rows[0][0];
  t.typtype = rows[0][1] && !rows[0][1]->empty() ? (*rows[0][1])[0] : 'b';
  t.typcategory = rows[0][2] && !rows[0][2]->empty() ? (*rows[0][2])[0] : 'U';
  t.typbasetype = ParseOid(rows[0][3]);
  t.typelem = ParseOid(rows[0][4]);
  return t;
}

Result<TableSchema> ReadTableSchema(PgConnection& c, const std::string& schema, const std::string& table) {
  // array_position over int2vector (lower bound 0): the column's place in
  // the primary key, NULL when it is not part of it.
  ASSIGN_OR_RETURN(auto rows,
                   c.Query(fmt::format("SELECT a.attname, a.atttypid, CASE WHEN a.atttypmod = -1 THEN "
                                       "(SELECT t.typtypmod FROM pg_catalog.pg_type t WHERE t.oid = a.atttypid) ELSE "
                                       "a.atttypmod END, a.attnotnull, "
                                       "array_position(i.indkey::int2[], a.attnum) FROM pg_catalog.pg_attribute a "
                                       "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace "
                                       "n ON n.oid = c.relnamespace LEFT JOIN pg_catalog.pg_index i ON i.indrelid = "
                                       "c.oid AND i.indisprimary WHERE n.nspname = {} AND c.relname = {} AND "
                                       "a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum",
                                       QuoteLiteral(schema), QuoteLiteral(table))));
  if (rows.empty()) {
    return Status::Error(StatusCode::kNotFound, "table \"{}\".\"{}\" does not exist on the source", schema, table);
  }
  TableSchema s;
  s.db = schema;
  s.table = table;
  s.names_known = true;
  std::map<long, uint32_t> key;  // place in the key -> column
  PgTypeLookup lookup = [&c](uint32_t oid) { return LookupType(c, oid); };
  for (const auto& r : rows) {
    ColumnMeta meta;
    meta.name = r[0].value_or("");
    uint32_t oid = ParseOid(r[1]);
    int32_t typmod = r[2] ? static_cast<int32_t>(std::strtol(r[2]->c_str(), nullptr, 10)) : -1;
    auto type = ResolvePgType(oid, lookup);
    if (!type.ok()) {
      return type.status().WithContext(
          fmt::format("table \"{}\".\"{}\" column \"{}\": type {}", schema, table, meta.name, oid));
    }
    DescribeColumn(**type, typmod, meta);
    meta.nullable = r[3].value_or("f") != "t";
    if (r[4]) key[std::strtol(r[4]->c_str(), nullptr, 10)] = static_cast<uint32_t>(s.columns.size());
    s.columns.push_back(std::move(meta));
  }
  for (const auto& [place, column] : key) {
    s.primary_key.push_back(column);
    s.columns[column].nullable = false;
  }
  return s;
}

Result<Lsn> SlotPosition(PgConnection& c, const std::string& slot, bool create) {
  const std::string& db = c.options().database;
  ASSIGN_OR_RETURN(auto rows, c.Query("SELECT plugin, slot_type, database, confirmed_flush_lsn FROM "
                                      "pg_catalog.pg_replication_slots WHERE slot_name = " +
                                      QuoteLiteral(slot)));
  if (!rows.empty()) {
    const auto& r = rows[0];
    if (!r[1] || *r[1] != "logical" || !r[0] || *r[0] != "pgoutput" || !r[2] || *r[2] != db) {
      return Status::Invalid("slot \"{}\" exists but is not a logical pgoutput slot of database \"{}\" (plugin {}, "
                             "database {}): name another slot with slot=",
                             slot, db, r[0].value_or("none"), r[2].value_or("none"));
    }
    if (!r[3]) return Status::Invalid("slot \"{}\" has no confirmed position yet", slot);
    return Lsn::Parse(*r[3]);
  }
  if (!create) {
    return Status::Error(StatusCode::kNotFound,
                         "replication slot \"{}\" does not exist: start: earliest reads an existing slot from its "
                         "confirmed position; use start: latest to create it",
                         slot);
  }
  auto created = c.Query("SELECT lsn FROM pg_catalog.pg_create_logical_replication_slot(" + QuoteLiteral(slot) +
                         ", 'pgoutput')");
  if (!created.ok()) {
    return created.status().WithContext(fmt::format("create replication slot \"{}\"", slot))
        .WithSuffix("(the user needs the REPLICATION attribute, and the server wal_level=logical)");
  }
  if (created->empty() || !(*created)[0][0]) return Status::Invalid("create replication slot \"{}\": no LSN", slot);
  spdlog::info("postgres {}: created replication slot \"{}\" at {}", c.options().Describe(), slot, *(*created)[0][0]);
  return Lsn::Parse(*(*created)[0][0]);
}

namespace {

Result<std::vector<PgColumnFacts>> ColumnFactsOf(PgConnection& c, const std::string& relation) {
  // attmissingval is a one-element array of the column's type: its element's text.
  ASSIGN_OR_RETURN(auto rows, c.Query(fmt::format(
                                  "SELECT a.attname, d.adbin IS NOT NULL, a.atthasmissing, "
                                  "array_to_string(a.attmissingval, ''), a.attnotnull FROM pg_catalog.pg_attribute a "
                                  "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                                  "WHERE a.attrelid = {} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                                  relation)));
  std::vector<PgColumnFacts> out;
  for (const auto& r : rows) {
    PgColumnFacts f;
    f.name = r[0].value_or("");
    f.has_default = r[1].value_or("f") == "t";
    f.has_missing = r[2].value_or("f") == "t" && r[3].has_value();
    f.missing_value = r[3].value_or("");
    f.not_null = r[4].value_or("f") == "t";
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

Result<std::vector<PgColumnFacts>> ReadColumnFacts(PgConnection& c, uint32_t relid) {
  return ColumnFactsOf(c, std::to_string(relid));
}

Result<std::vector<PgColumnFacts>> ReadColumnFacts(PgConnection& c, const std::string& schema,
                                                   const std::string& table) {
  return ColumnFactsOf(c, "to_regclass(" + QuoteLiteral(QuoteIdent(schema) + "." + QuoteIdent(table)) + ")");
}

}  // namespace sluice::postgres
