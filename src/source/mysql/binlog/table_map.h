#pragma once
// TABLE_MAP: binds a table id to a table and describes its columns for the
// rows events that follow in the same transaction.

#include <cstdint>
#include <string_view>

#include "core/byte_reader.h"
#include "core/status.h"
#include "core/table_schema.h"

namespace sluice::mysql {

struct TableMap {
  uint64_t table_id = 0;
  std::string_view db;
  std::string_view table;
  TableSchema schema;           // columns with type, meta, nullability and optional metadata applied
  bool has_names = false;       // COLUMN_NAME metadata present (binlog_row_metadata=FULL)
  bool has_signedness = false;  // SIGNEDNESS metadata present
  bool has_charsets = false;    // charset metadata present
  bool has_primary_key = false; // SIMPLE_PRIMARY_KEY / PRIMARY_KEY_WITH_PREFIX present
};

// Parses a TABLE_MAP body. post_header_len is 6 for old servers (4-byte table id), else 8.
//   post-header: table_id:6 flags:2
//   body: db_len:1 db NUL table_len:1 table NUL column_count:lenenc types:N
//         metadata_len:lenenc metadata null_bitmap:(N+7)/8 [optional metadata TLVs]
// `mariadb`: written by MariaDB (from the FORMAT_DESCRIPTION), whose optional
// metadata differs in places from MySQL's.
Status ParseTableMap(ByteReader& body, uint8_t post_header_len, bool mariadb, TableMap& out);

// Columns whose TABLE_MAP metadata is `n` bytes long, by type.
size_t TypeMetadataLength(uint8_t type);

}  // namespace sluice::mysql
