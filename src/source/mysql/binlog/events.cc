#include "source/mysql/binlog/events.h"

#include "source/mysql/binlog/xa.h"

#include <zlib.h>

#include <charconv>

#include "source/mysql/binlog/event_types.h"

namespace sluice::mysql {
namespace {

// Checksums came with MySQL 5.6.1 and MariaDB 5.3; older FDEs have no
// algorithm byte at all.
bool VersionHasChecksumByte(std::string_view version, bool is_mariadb) {
  int major = 0, minor = 0, patch = 0;
  const char* p = version.data();
  const char* end = p + version.size();
  auto next = [&](int& v) {
    auto r = std::from_chars(p, end, v);
    p = r.ptr;
    if (p < end && *p == '.') ++p;
  };
  next(major);
  next(minor);
  next(patch);
  if (is_mariadb) return major > 5 || (major == 5 && minor >= 3);
  if (major != 5) return major > 5;
  if (minor != 6) return minor > 6;
  return patch >= 1;
}

}  // namespace

// FORMAT_DESCRIPTION body:
//   binlog_version:2 server_version:50 (NUL padded) create_timestamp:4
//   header_length:1 post_header_lengths:N [checksum_alg:1 checksum:4]
Result<FormatDescription> ParseFormatDescription(std::string_view event) {
  ByteReader r(event);
  EventHeader h = EventHeader::Read(r);
  if (!r.ok() || h.type != kFormatDescriptionEvent) {
    return Status::Corruption("FORMAT_DESCRIPTION: not a format description event (type {})", h.type);
  }
  if (h.event_size != event.size()) {
    return Status::Corruption("FORMAT_DESCRIPTION: event size {} but {} bytes present", h.event_size,
                              event.size());
  }
  FormatDescription fd;
  fd.binlog_version = r.U16();
  std::string_view version = r.Bytes(50);
  fd.create_timestamp = r.U32();
  fd.header_length = r.U8();
  if (!r.ok()) return Status::Corruption("FORMAT_DESCRIPTION: truncated ({} bytes)", event.size());
  if (fd.binlog_version != 4) {
    return Status::Error(StatusCode::kNotSupported, "binlog format version {} is not supported (need 4)",
                         fd.binlog_version);
  }
  size_t nul = version.find('\0');
  fd.server_version = std::string(version.substr(0, nul));
  fd.is_mariadb = fd.server_version.find("MariaDB") != std::string::npos;
  if (fd.header_length < kEventHeaderSize) {
    return Status::Corruption("FORMAT_DESCRIPTION: header length {} < 19", fd.header_length);
  }
  size_t rest = r.remaining();
  if (VersionHasChecksumByte(fd.server_version, fd.is_mariadb)) {
    // The algorithm byte and a 4-byte checksum field always end the FDE of a
    // checksum-aware server, even when the algorithm is OFF.
    if (rest < 1 + kChecksumSize) return Status::Corruption("FORMAT_DESCRIPTION: truncated checksum");
    uint8_t alg = static_cast<uint8_t>(event[event.size() - kChecksumSize - 1]);
    fd.checksum = alg == 1 ? ChecksumAlg::kCrc32 : alg == 0 ? ChecksumAlg::kOff : ChecksumAlg::kUndefined;
    if (fd.checksum == ChecksumAlg::kUndefined) {
      return Status::Error(StatusCode::kNotSupported, "binlog checksum algorithm {} is not supported", alg);
    }
    rest -= 1 + kChecksumSize;
  }
  std::string_view lengths = r.Bytes(rest);
  fd.post_header_lengths.assign(lengths.begin(), lengths.end());
  return fd;
}

// ROTATE body: position:8 next_file:rest
Result<RotateEvent> ParseRotate(ByteReader& body) {
  RotateEvent e;
  e.position = body.U64();
  e.next_file = body.Rest();
  if (!body.ok() || e.next_file.empty()) return Status::Corruption("ROTATE: truncated");
  return e;
}

// QUERY post-header: thread_id:4 exec_time:4 db_len:1 error_code:2 status_vars_len:2
// body: status_vars db NUL query
namespace {

// The status variables a QUERY event's session settings are read from.
// Codes are written in increasing order; the first one this reader does
// not know (its length is unknown) ends the reading: what came before is
// kept, the statement itself is unaffected.
void ParseStatusVars(std::string_view block, QueryEvent& out) {
  ByteReader r(block);
  while (r.remaining() > 0) {
    switch (r.U8()) {
      case 0x00: out.flags2 = r.U32(); break;  // Q_FLAGS2_CODE
      case 0x01: out.sql_mode = r.U64(); break;  // Q_SQL_MODE_CODE
      case 0x02: r.Skip(r.U8() + 1); break;  // Q_CATALOG_CODE (length, name, NUL)
      case 0x03: r.Skip(4); break;  // Q_AUTO_INCREMENT
      case 0x04:  // Q_CHARSET_CODE
        out.charset_client = r.U16();
        out.collation_connection = r.U16();
        out.collation_server = r.U16();
        break;
      case 0x05: out.time_zone = r.Bytes(r.U8()); break;  // Q_TIME_ZONE_CODE
      case 0x06: r.Skip(r.U8()); break;  // Q_CATALOG_NZ_CODE
      case 0x07: r.Skip(2); break;  // Q_LC_TIME_NAMES_CODE
      case 0x08: r.Skip(2); break;  // Q_CHARSET_DATABASE_CODE
      case 0x09: r.Skip(8); break;  // Q_TABLE_MAP_FOR_UPDATE_CODE
      case 0x0A: r.Skip(4); break;  // Q_MASTER_DATA_WRITTEN_CODE
      case 0x0B: r.Skip(r.U8()); r.Skip(r.U8()); break;  // Q_INVOKER: user, host
      case 0x0C: {  // Q_UPDATED_DB_NAMES: a count (254: too many to list), NUL-terminated names
        uint8_t n = r.U8();
        for (uint8_t i = 0; n != 254 && i < n && r.ok(); ++i) {
          std::string_view rest(reinterpret_cast<const char*>(r.cursor()), r.remaining());
          size_t nul = rest.find('\0');
          if (nul == std::string_view::npos) return;
          r.Skip(nul + 1);
        }
        break;
      }
      case 0x0D: r.Skip(3); break;  // Q_MICROSECONDS
      case 0x0E: break;  // Q_COMMIT_TS (never written)
      case 0x0F: break;  // Q_COMMIT_TS2 (never written)
      // Written by MySQL 8 when the statement defines a TIMESTAMP column.
      case 0x10: out.explicit_defaults_for_timestamp = r.U8() != 0; break;  // Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP
      case 0x11: r.Skip(8); break;  // Q_DDL_LOGGED_WITH_XID
      case 0x12: r.Skip(2); break;  // Q_DEFAULT_COLLATION_FOR_UTF8MB4
      case 0x13: r.Skip(1); break;  // Q_SQL_REQUIRE_PRIMARY_KEY
      case 0x14: r.Skip(1); break;  // Q_DEFAULT_TABLE_ENCRYPTION
      case 0x80: r.Skip(3); break;  // MariaDB Q_HRNOW
      case 0x81: r.Skip(8); break;  // MariaDB Q_XID
      case 0x82: r.Skip(1); break;  // MariaDB Q_GTID_FLAGS3
      case 0x83: r.Skip(size_t{r.U8()} * 4); break;  // MariaDB Q_CHARACTER_SET_COLLATIONS
      default: return;
    }
    if (!r.ok()) return;
  }
}

Status ParseQueryBody(ByteReader& body, bool compressed, size_t extra_post_header, QueryEvent& out) {
  out.thread_id = body.U32();
  body.Skip(4);
  uint8_t db_len = body.U8();
  out.error_code = body.U16();
  uint16_t status_len = body.U16();
  body.Skip(extra_post_header);
  out.sql_mode.reset();
  out.charset_client = out.collation_connection = out.collation_server = 0;
  out.time_zone = {};
  out.flags2.reset();
  out.explicit_defaults_for_timestamp.reset();
  ParseStatusVars(body.Bytes(status_len), out);
  out.db = body.Bytes(db_len);
  body.Skip(1);
  std::string_view q = body.Rest();
  if (!body.ok()) return Status::Corruption("QUERY: truncated");
  if (compressed) {
    RETURN_IF_ERROR(MariadbUncompress(q, out.compressed_storage).WithContext("QUERY_COMPRESSED"));
    q = out.compressed_storage;
  }
  out.query = q;
  return Status::Ok();
}

}  // namespace

Status ParseQuery(ByteReader& body, bool compressed, QueryEvent& out) {
  return ParseQueryBody(body, compressed, 0, out);
}

Status ParseExecuteLoadQuery(ByteReader& body, QueryEvent& out) { return ParseQueryBody(body, false, 13, out); }

// GTID / ANONYMOUS_GTID body: flags:1 sid:16 gno:8 [logical timestamps, commit times...]
Result<MysqlGtidEvent> ParseMysqlGtid(ByteReader& body) {
  MysqlGtidEvent e;
  e.flags = body.U8();
  std::string_view sid = body.Bytes(16);
  e.gno = body.U64();
  if (!body.ok()) return Status::Corruption("GTID: truncated");
  std::copy(sid.begin(), sid.end(), e.sid.begin());
  return e;
}

// MariaDB GTID body: seq_no:8 domain_id:4 flags:1 [commit_id:8 if FL_GROUP_COMMIT_ID] ...
Result<MariadbGtidEvent> ParseMariadbGtid(ByteReader& body) {
  MariadbGtidEvent e;
  e.seq = body.U64();
  e.domain = body.U32();
  e.flags = body.U8();
  if (e.flags & MariadbGtidEvent::kGroupCommitId) body.Skip(8);
  if (e.flags & (MariadbGtidEvent::kPreparedXa | MariadbGtidEvent::kCompletedXa)) {
    uint32_t format_id = body.U32();
    uint8_t gtrid_length = body.U8();
    uint8_t bqual_length = body.U8();
    if (!body.ok() || gtrid_length > 64 || bqual_length > 64 || body.remaining() < size_t{gtrid_length} + bqual_length) {
      return Status::Corruption("MARIADB_GTID: malformed xid");
    }
    const char* data = reinterpret_cast<const char*>(body.cursor());
    e.xid = MakeXidKey({data, gtrid_length}, {data + gtrid_length, bqual_length}, format_id);
  }
  if (!body.ok()) return Status::Corruption("MARIADB_GTID: truncated");
  return e;
}

// MariaDB GTID_LIST body: count:4 (low 28 bits) then count × (domain:4 server:4 seq:8)
Result<MariadbGtidList> ParseMariadbGtidList(ByteReader& body) {
  uint32_t count = body.U32() & ((1u << 28) - 1);
  MariadbGtidList list;
  for (uint32_t i = 0; i < count && body.ok(); ++i) {
    MariadbGtid g;
    g.domain = body.U32();
    g.server = body.U32();
    g.seq = body.U64();
    if (body.ok()) list.Update(g);
  }
  if (!body.ok()) return Status::Corruption("MARIADB_GTID_LIST: truncated");
  return list;
}

Status MariadbUncompress(std::string_view in, std::string& out) {
  ByteReader r(in);
  uint8_t header = r.U8();
  size_t len_bytes = header & 0x07;
  uint8_t algorithm = (header >> 4) & 0x07;
  if (algorithm != 0) return Status::Error(StatusCode::kNotSupported, "compression algorithm {} is not zlib", algorithm);
  if (len_bytes < 1 || len_bytes > 4) return Status::Corruption("compressed header: length size {}", len_bytes);
  uint64_t len = r.UIntBE(len_bytes);
  std::string_view compressed = r.Rest();
  if (!r.ok()) return Status::Corruption("compressed buffer truncated");
  out.resize(len);
  uLongf out_len = static_cast<uLongf>(len);
  int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &out_len,
                      reinterpret_cast<const Bytef*>(compressed.data()), static_cast<uLong>(compressed.size()));
  if (rc != Z_OK || out_len != len) {
    return Status::Corruption("zlib: cannot uncompress {} bytes to {} (zlib error {})", compressed.size(), len, rc);
  }
  return Status::Ok();
}

// TRANSACTION_PAYLOAD body: fields of (type:lenenc length:lenenc value) until
// type 0 (header end); 1 = payload size, 2 = compression type, 3 = uncompressed size.
Result<TransactionPayload> ParseTransactionPayload(ByteReader& body) {
  TransactionPayload p;
  uint64_t payload_size = 0;
  bool has_size = false;
  while (body.ok()) {
    uint64_t type = body.LenEnc();
    if (type == 0) break;
    uint64_t len = body.LenEnc();
    ByteReader field(reinterpret_cast<const uint8_t*>(body.Bytes(len).data()), len);
    uint64_t value = field.LenEnc();
    switch (type) {
      case 1: payload_size = value; has_size = true; break;
      case 2: p.compression_type = value; break;
      case 3: p.uncompressed_size = value; break;
      default: break;  // fields added by later versions are skipped
    }
  }
  if (!body.ok()) return Status::Corruption("TRANSACTION_PAYLOAD: truncated header");
  p.payload = body.Rest();
  if (has_size && payload_size != p.payload.size()) {
    return Status::Corruption("TRANSACTION_PAYLOAD: payload size {} but {} bytes present", payload_size,
                              p.payload.size());
  }
  return p;
}

}  // namespace sluice::mysql
