#pragma once
// TableSchema: what is known about one table at one point of the stream.
// Built once per TABLE_MAP (or schema change) and shared read-only by every
// row decoded against it, across threads: hold it as shared_ptr<const>.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/value.h"

namespace sluice {

// A Value with the bytes it points to, made once and shared read-only (by
// shared_ptr<const>), so that copies of what holds it stay valid.
struct StoredValue {
  Value value;
  std::string bytes;
};

// Character set of a text column, resolved from its collation.
enum class Charset : uint8_t {
  kUnknown = 0,  // no metadata: bytes are passed through if valid UTF-8, else base64
  kBinary,       // collation 63: BINARY/VARBINARY/BLOB
  kUtf8,         // utf8mb3 and utf8mb4
  kLatin1,       // MySQL's latin1 is Windows-1252
  kAscii,
  kOther,        // converted with iconv, by charset_name
};

// MariaDB's UUID (10.7+), INET4 (10.10+) and INET6 (10.5+) columns: the
// binlog types them BINARY(16)/BINARY(4); information_schema's DATA_TYPE
// tells them apart. Their values are the text the server shows for them, as
// a snapshot reads them (a target column of the same type, or PostgreSQL's
// uuid and inet, takes that text).
enum class PluginType : uint8_t { kNone, kUuid, kInet4, kInet6 };

inline PluginType PluginTypeOf(std::string_view data_type) {
  if (data_type == "uuid") return PluginType::kUuid;
  if (data_type == "inet4") return PluginType::kInet4;
  if (data_type == "inet6") return PluginType::kInet6;
  return PluginType::kNone;
}

struct ColumnMeta {
  std::string name;          // from binlog metadata or information_schema; "@N" when unknown
  uint8_t type = 0;          // binlog column type code (MYSQL_TYPE_*), as in TABLE_MAP
  uint8_t real_type = 0;     // for MYSQL_TYPE_STRING: the real type (ENUM, SET, STRING)
  uint16_t meta = 0;         // TABLE_MAP type metadata (length, precision/scale, fsp, ...)
  bool nullable = true;
  bool is_unsigned = false;
  bool is_json = false;      // MariaDB JSON (LONGTEXT with json_valid): emitted as a JSON value
  PluginType plugin_type = PluginType::kNone;  // MariaDB UUID, INET4, INET6
  Charset charset = Charset::kUnknown;
  std::string charset_name;  // for kOther: the iconv name
  uint32_t collation = 0;    // collation id (TABLE_MAP charset metadata or information_schema); 0 unknown
  uint32_t geometry_type = 0;
  std::vector<std::string> enum_values;  // ENUM and SET members, in order
  // PostgreSQL sources: the column's type (after domains: the base type's)
  // OID and modifier as the Relation message gives them, and the type's
  // name; `type` then holds the nearest MySQL type for targets that create tables.
  uint32_t pg_type_oid = 0;
  int32_t pg_typmod = -1;
  std::string pg_type_name;
  // PostgreSQL sources: the value the rows that existed when the column was
  // added read (pg_attribute.attmissingval, the type's text), when the
  // catalog has one: a target that adds the column gives it as the default.
  bool pg_has_missing = false;
  std::string pg_missing_value;
  // The same value decoded as the stream decodes the column's values (null
  // when there is none): for targets that write it in their own terms.
  std::shared_ptr<const StoredValue> pg_missing;
  uint32_t pg_element_oid = 0;  // arrays: the element's type OID (after domains)
};

struct TableSchema {
  std::string db;
  std::string table;
  std::vector<ColumnMeta> columns;
  std::vector<uint32_t> primary_key;  // column indexes, in key order
  // Without a primary key: a unique key over NOT NULL columns (from
  // information_schema), which identifies rows just as well for apply.
  std::vector<uint32_t> unique_key;
  bool names_known = false;           // column names came from metadata or information_schema
  // MariaDB system-versioned tables (WITH SYSTEM VERSIONING): the row start
  // and row end columns, which the target generates itself; -1 otherwise.
  // A row image whose row end is not the maximum is a history row.
  int32_t row_start_column = -1;
  int32_t row_end_column = -1;
};

using TableSchemaPtr = std::shared_ptr<const TableSchema>;

}  // namespace sluice
