#pragma once
// Parsers for the binlog events that carry positions, transaction boundaries
// and schema. Each takes a ByteReader over the event *body* (header consumed,
// checksum trailer hidden) and returns a small struct whose string_views point
// into the event bytes. Formats are documented beside each parser in
// events.cc. Rows events live in rows_event.h.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_reader.h"
#include "core/position.h"
#include "core/status.h"

namespace sluice::mysql {

enum class ChecksumAlg : uint8_t { kOff = 0, kCrc32 = 1, kUndefined = 255 };

struct FormatDescription {
  uint16_t binlog_version = 4;
  std::string server_version;
  uint32_t create_timestamp = 0;
  uint8_t header_length = 19;
  std::vector<uint8_t> post_header_lengths;  // index = event type - 1
  ChecksumAlg checksum = ChecksumAlg::kOff;
  bool is_mariadb = false;

  uint8_t PostHeaderLength(uint8_t type, uint8_t fallback) const {
    return type >= 1 && type <= post_header_lengths.size() ? post_header_lengths[type - 1] : fallback;
  }
};

// Parses a FORMAT_DESCRIPTION event; `event` is the whole event, header included,
// because the checksum algorithm must be known before the trailer can be hidden.
Result<FormatDescription> ParseFormatDescription(std::string_view event);

struct RotateEvent {
  uint64_t position = 0;
  std::string_view next_file;
};
Result<RotateEvent> ParseRotate(ByteReader& body);

struct QueryEvent {
  uint32_t thread_id = 0;
  uint16_t error_code = 0;
  std::string_view db;
  std::string_view query;
  // Session settings from the status variables (each when logged): how
  // the statement must be read elsewhere.
  std::optional<uint64_t> sql_mode;   // Q_SQL_MODE_CODE bits
  uint16_t charset_client = 0;        // Q_CHARSET_CODE collation ids; 0: not logged
  uint16_t collation_connection = 0;
  uint16_t collation_server = 0;
  std::string_view time_zone;         // Q_TIME_ZONE_CODE; empty: not logged
  std::optional<uint32_t> flags2;     // Q_FLAGS2_CODE (MariaDB: bit 24 is explicit_defaults_for_timestamp)
  std::optional<bool> explicit_defaults_for_timestamp;  // MySQL 8's Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP
  std::string compressed_storage;  // holds `query` for QUERY_COMPRESSED events
};
Status ParseQuery(ByteReader& body, bool compressed, QueryEvent& out);
// MariaDB's flags2 bit for the session's explicit_defaults_for_timestamp.
inline constexpr uint32_t kMariadbExplicitDefaultsForTimestamp = 1u << 24;
// EXECUTE_LOAD_QUERY (a LOAD DATA logged as a statement): a QUERY body with
// 13 more post-header bytes (file_id, fn_pos_start, fn_pos_end, dup_handling).
Status ParseExecuteLoadQuery(ByteReader& body, QueryEvent& out);

// MySQL GTID / ANONYMOUS_GTID.
struct MysqlGtidEvent {
  uint8_t flags = 0;
  Uuid sid{};
  uint64_t gno = 0;
};
Result<MysqlGtidEvent> ParseMysqlGtid(ByteReader& body);

// MariaDB GTID (type 162): the sequence number and domain of the next event
// group; its server id is the header's.
struct MariadbGtidEvent {
  uint64_t seq = 0;
  uint32_t domain = 0;
  uint8_t flags = 0;  // FL_STANDALONE (1): a group without BEGIN/COMMIT (DDL)
  static constexpr uint8_t kStandalone = 0x01;
  static constexpr uint8_t kGroupCommitId = 0x02;
  static constexpr uint8_t kPreparedXa = 0x40;   // the group of an XA PREPARE: its rows, then XA_PREPARE
  static constexpr uint8_t kCompletedXa = 0x80;  // the group of an XA COMMIT or XA ROLLBACK
  std::string xid;  // XidKey of an XA group (MariaDB 10.5+ logs XA START here, not as a statement)
};
Result<MariadbGtidEvent> ParseMariadbGtid(ByteReader& body);

Result<MariadbGtidList> ParseMariadbGtidList(ByteReader& body);

// Decompresses a MariaDB compressed buffer (QUERY_COMPRESSED, *_ROWS_COMPRESSED):
//   header:1 (bits 0-2: n bytes of the uncompressed length, bits 4-6: algorithm, 0 = zlib)
//   uncompressed length: n bytes big-endian, then the zlib stream.
Status MariadbUncompress(std::string_view in, std::string& out);

// TRANSACTION_PAYLOAD (MySQL 8.0.20+): a header of (type, length, value) fields
// with length-encoded integers, then the compressed events.
struct TransactionPayload {
  uint64_t compression_type = 0;  // 0 = zstd, 255 = none
  uint64_t uncompressed_size = 0;
  std::string_view payload;
};
Result<TransactionPayload> ParseTransactionPayload(ByteReader& body);

}  // namespace sluice::mysql
