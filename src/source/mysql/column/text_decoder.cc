// String-like families: VARCHAR, CHAR/BINARY, ENUM, SET, BLOB/TEXT,
// GEOMETRY. Text is turned into UTF-8 according to the column's charset:
// utf8/ascii and binary values stay views into the event bytes; only latin1
// with high bytes and iconv charsets write into the arena.

#include <arpa/inet.h>
#include <fmt/format.h>
#include <zlib.h>

#include <cstring>

#include "client/mysql/charset.h"
#include "source/mysql/column/column_decoder.h"
#include "source/mysql/column/column_families.h"
#include "client/mysql/column_types.h"

namespace sluice::mysql::internal {
namespace {

// Raw column bytes to a Value by charset (design §4: text as UTF-8, binary
// as bytes).
Status TextValue(std::string_view raw, const ColumnMeta& col, Arena& arena, Value& out) {
  switch (col.charset) {
    case Charset::kBinary:
      out = Value::Str(ValueKind::kBytes, raw);
      return Status::Ok();
    case Charset::kUtf8:
    case Charset::kAscii:
      out = Value::Str(ValueKind::kText, raw);
      return Status::Ok();
    case Charset::kLatin1:
      out = Value::Str(ValueKind::kText, Latin1ToUtf8(raw, arena));
      return Status::Ok();
    case Charset::kOther: {
      std::string_view text;
      RETURN_IF_ERROR(IconvToUtf8(raw, col.charset_name, arena, text));
      out = Value::Str(ValueKind::kText, text);
      return Status::Ok();
    }
    case Charset::kUnknown:
      break;
  }
  // No charset metadata (MySQL 5.7, MariaDB < 10.5 without
  // binlog_row_metadata=FULL and no information_schema lookup): pass text
  // through when it is UTF-8, which covers utf8mb4/ascii and plain-ASCII
  // values of any charset; anything else stays bytes rather than be guessed.
  out = Value::Str(IsValidUtf8(raw) ? ValueKind::kText : ValueKind::kBytes, raw);
  return Status::Ok();
}

Status TooLong(ByteReader& r, const ColumnMeta& col, size_t len, size_t max) {
  r.Fail();
  return Status::Corruption("invalid {} value: length {} exceeds the column's maximum of {} bytes",
                            DescribeColumnType(col), len, max);
}

// Labels are UTF-8 (table_map.cc converts them from the column's charset)
// except in a binary ENUM/SET, whose labels are bytes: one that is not UTF-8
// travels as bytes (base64 in JSON, a hex literal to a target) so that it
// is neither printed as invalid JSON nor altered.
ValueKind LabelKind(const ColumnMeta& col, ValueKind kind, std::string_view label) {
  return col.charset == Charset::kBinary && !IsValidUtf8(label) ? ValueKind::kBytes : kind;
}

// ENUM: a 1- or 2-byte little-endian index into the members, 1-based; 0 is
// the error value '' MySQL stores for an invalid member in non-strict mode.
//   ENUM('a','b','c') 'b' -> 02
Status DecodeEnumIndex(ByteReader& r, const ColumnMeta& col, size_t pack_length, Arena& arena, Value& out) {
  if (pack_length != 1 && pack_length != 2) {
    r.Fail();
    return Status::Corruption("invalid ENUM pack length {} in TABLE_MAP metadata", pack_length);
  }
  if (r.remaining() < pack_length) {
    return Truncated(r, col, pack_length);
  }
  const uint64_t index = r.UInt(pack_length);
  if (col.enum_values.empty()) {
    out = Value::UInt(index);
    return Status::Ok();
  }
  if (index == 0) {
    out = Value::Str(ValueKind::kEnum, std::string_view());
    return Status::Ok();
  }
  if (index > col.enum_values.size()) {
    return Status::Error(StatusCode::kSchemaMismatch, "ENUM index {} out of range: the column has {} members", index,
                         col.enum_values.size());
  }
  // Copied: a Value may only point into the event or the arena (value.h),
  // and the schema can be replaced by the next TABLE_MAP.
  out =
      Value::Str(LabelKind(col, ValueKind::kEnum, col.enum_values[index - 1]), arena.Copy(col.enum_values[index - 1]));
  return Status::Ok();
}

// SET: a 1..8-byte little-endian bitmask, bit i for member i.
//   SET('a','b','c') 'a,c' -> 05
Status DecodeSetMask(ByteReader& r, const ColumnMeta& col, size_t pack_length, Arena& arena, Value& out) {
  if (pack_length < 1 || pack_length > 8) {
    r.Fail();
    return Status::Corruption("invalid SET pack length {} in TABLE_MAP metadata", pack_length);
  }
  if (r.remaining() < pack_length) {
    return Truncated(r, col, pack_length);
  }
  const uint64_t mask = r.UInt(pack_length);
  const auto& names = col.enum_values;
  if (names.empty()) {
    out = Value::UInt(mask);
    return Status::Ok();
  }
  if (names.size() < 64 && (mask >> names.size()) != 0) {
    return Status::Error(StatusCode::kSchemaMismatch, "SET value {:#x} has bits beyond the column's {} members", mask,
                         names.size());
  }
  size_t len = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (mask & (uint64_t{1} << i)) {
      len += names[i].size() + 1;
    }
  }
  if (len == 0) {
    out = Value::Str(ValueKind::kSet, std::string_view());
    return Status::Ok();
  }
  char* p = arena.Allocate(len);
  char* w = p;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!(mask & (uint64_t{1} << i))) {
      continue;
    }
    if (w != p) {
      *w++ = ',';
    }
    std::memcpy(w, names[i].data(), names[i].size());  // NOLINT(bugprone-not-null-terminated-result): a view
    w += names[i].size();
  }
  const std::string_view joined(p, static_cast<size_t>(w - p));
  out = Value::Str(LabelKind(col, ValueKind::kSet, joined), joined);
  return Status::Ok();
}

// The payload of a MariaDB COMPRESSED column (sql/field_comp.cc): empty for
// '', else a header byte and the data:
//   header >> 4 == 0   the data follows uncompressed
//   header >> 4 == 8   zlib: bits 0-2 = n, the original length in n bytes
//                      big-endian; bit 3 set = raw deflate (no zlib wrapper,
//                      the default); then the deflate stream
//   'abc' x 100 -> 8A 01 2C  4B 4C 4A 4E 1C 45 C4 21 00
Status Decompress(ByteReader& r, const ColumnMeta& col, std::string_view payload, uint64_t max_length, Arena& arena,
                  std::string_view& out) {
  if (payload.empty()) {
    out = {};
    return Status::Ok();
  }
  ByteReader p(payload);
  const uint8_t header = p.U8();
  const unsigned method = header >> 4;
  if (method == 0) {
    out = p.Rest();
    return Status::Ok();
  }
  constexpr unsigned kZlibMethod = 8;
  if (method != kZlibMethod) {
    return BadValue(r, col, fmt::format("unknown compression method {} (header {:#04x})", method, header));
  }
  const size_t length_bytes = header & 7;
  const uint64_t original = p.UIntBE(length_bytes);
  if (length_bytes == 0 || length_bytes > 4 || !p.ok()) {
    return BadValue(r, col, fmt::format("bad compression header {:#04x}", header));
  }
  const std::string_view deflated = p.Rest();
  // Deflate cannot do better than about 1032:1; a larger claim is corrupt and
  // must not make us allocate it.
  if (original > max_length || original > deflated.size() * 1032 + 64) {
    return BadValue(r, col, fmt::format("compressed value claims {} bytes from {}", original, deflated.size()));
  }
  char* dst = arena.Allocate(static_cast<size_t>(original));
  z_stream zs{};
  if (inflateInit2(&zs, (header & 8) ? -MAX_WBITS : MAX_WBITS) != Z_OK) {
    return Status::Error(StatusCode::kIoError, "zlib inflateInit2 failed");
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(deflated.data()));  // zlib does not write input
  zs.avail_in = static_cast<uInt>(deflated.size());
  zs.next_out = reinterpret_cast<Bytef*>(dst);
  zs.avail_out = static_cast<uInt>(original);
  const int rc = inflate(&zs, Z_FINISH);
  const uint64_t produced = zs.total_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || produced != original) {
    return BadValue(r, col, fmt::format("compressed value does not inflate to its {} bytes (zlib {})", original, rc));
  }
  out = std::string_view(dst, static_cast<size_t>(original));
  return Status::Ok();
}

// A MariaDB UUID, INET4 or INET6 value (its BINARY bytes, re-padded) as the
// text the server shows: 8-4-4-4-12 lower-case hex digits; an address as
// inet_ntop writes it, which is the server's form (the longest run of zero
// groups as ::, IPv4-mapped and -compatible addresses in dotted quads).
Status PluginText(ByteReader& r, const ColumnMeta& col, std::string_view bytes, Arena& arena, Value& out) {
  const bool uuid = col.plugin_type == PluginType::kUuid;
  const size_t want = col.plugin_type == PluginType::kInet4 ? 4 : 16;
  if (bytes.size() != want) return BadValue(r, col, fmt::format("{} bytes where {} were expected", bytes.size(), want));
  char text[INET6_ADDRSTRLEN + 1] = {};
  size_t len = 0;
  if (uuid) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) text[len++] = '-';
      const auto b = static_cast<unsigned char>(bytes[i]);
      text[len++] = kHex[b >> 4];
      text[len++] = kHex[b & 15];
    }
  } else {
    const int family = want == 4 ? AF_INET : AF_INET6;
    if (inet_ntop(family, bytes.data(), text, sizeof text) == nullptr) return BadValue(r, col, "not an address");
    len = std::strlen(text);
  }
  char* s = arena.Allocate(len);
  std::memcpy(s, text, len);
  out = Value::Str(ValueKind::kText, std::string_view(s, len));
  return Status::Ok();
}

}  // namespace

// VARCHAR, VAR_STRING (meta = maximum length in bytes): a length prefix of 1
// byte if the maximum is below 256, else 2 bytes little-endian; then the bytes.
//   VARCHAR(10) 'abc' -> 03 61 62 63      VARCHAR(300) 'abc' -> 03 00 61 62 63
Status DecodeVarString(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  const size_t prefix = col.meta < 256 ? 1 : 2;
  if (r.remaining() < prefix) {
    return Truncated(r, col, prefix);
  }
  const size_t n = static_cast<size_t>(r.UInt(prefix));
  if (col.meta != 0 && n > col.meta) {
    return TooLong(r, col, n, col.meta);
  }
  if (r.remaining() < n) {
    return Truncated(r, col, n);
  }
  return TextValue(r.Bytes(n), col, arena, out);
}

// STRING (meta packs the real type and length, see DecodeStringMeta):
//   real STRING (CHAR/BINARY): a length prefix of 1 byte if the maximum
//     length is below 256, else 2; then the bytes. The server strips the
//     trailing pad (spaces for CHAR, 0x00 for BINARY) before logging. CHAR
//     reads back without its spaces, so it stays as logged; BINARY(n) reads
//     back as n bytes, so a binary value is re-padded with 0x00 to the
//     column's length to equal what a SELECT returns.
//   real ENUM / SET: see DecodeEnumIndex / DecodeSetMask.
Status DecodeFixedString(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  const StringMeta sm = DecodeStringMeta(col.meta);
  if (sm.real_type == kTypeEnum) {
    return DecodeEnumIndex(r, col, sm.length, arena, out);
  }
  if (sm.real_type == kTypeSet) {
    return DecodeSetMask(r, col, sm.length, arena, out);
  }
  const size_t prefix = sm.length < 256 ? 1 : 2;
  if (r.remaining() < prefix) {
    return Truncated(r, col, prefix);
  }
  const size_t n = static_cast<size_t>(r.UInt(prefix));
  if (sm.length != 0 && n > sm.length) {
    return TooLong(r, col, n, sm.length);
  }
  if (r.remaining() < n) {
    return Truncated(r, col, n);
  }
  if (col.charset == Charset::kBinary && (n < sm.length || col.plugin_type != PluginType::kNone)) {
    std::string_view bytes = r.Bytes(n);
    if (n < sm.length) {
      char* padded = arena.Allocate(sm.length);
      std::memcpy(padded, bytes.data(), n);
      std::memset(padded + n, 0, sm.length - n);
      bytes = std::string_view(padded, sm.length);
    }
    if (col.plugin_type != PluginType::kNone) return PluginText(r, col, bytes, arena, out);
    out = Value::Str(ValueKind::kBytes, bytes);
    return Status::Ok();
  }
  return TextValue(r.Bytes(n), col, arena, out);
}

// ENUM, SET as their own type codes (servers log them as STRING, but the
// TABLE_MAP metadata layout is the same): the low metadata byte is the pack
// length.
Status DecodeEnumOrSet(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  const size_t pack_length = col.meta & 0xff;
  if (col.type == kTypeEnum) {
    return DecodeEnumIndex(r, col, pack_length, arena, out);
  }
  return DecodeSetMask(r, col, pack_length, arena, out);
}

// TINYBLOB..LONGBLOB, TINYTEXT..LONGTEXT (meta = length-prefix size 1..4):
// the length little-endian, then the bytes. MariaDB's JSON type is LONGTEXT
// (col.is_json): its text is the JSON value.
//   TEXT 'hi' -> 02 00 68 69
Status DecodeBlob(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  std::string_view raw;
  RETURN_IF_ERROR(ReadPrefixed(r, col, col.meta, raw));
  RETURN_IF_ERROR(TextValue(raw, col, arena, out));
  // A JSON column whose bytes are not UTF-8 (possible only without charset
  // metadata) stays bytes: emitting it as JSON would produce invalid output.
  if (col.is_json && out.kind == ValueKind::kText) {
    out.kind = ValueKind::kJson;
  }
  return Status::Ok();
}

// GEOMETRY (meta = length-prefix size): length, then a 4-byte little-endian
// SRID and the WKB. The value is the WKB alone (design §4).
//   POINT(1 2) SRID 0 -> 19 00 00 00  00 00 00 00  01 01 00 00 00  <x f64> <y f64>
Status DecodeGeometry(ByteReader& r, const ColumnMeta& col, Arena&, Value& out) {
  std::string_view raw;
  RETURN_IF_ERROR(ReadPrefixed(r, col, col.meta, raw));
  if (raw.size() < 4) {
    return BadValue(r, col, "shorter than its 4-byte SRID");
  }
  out = Value::Str(ValueKind::kGeometry, raw.substr(4));
  return Status::Ok();
}

// VARCHAR_COMPRESSED (MariaDB 10.3+; meta = maximum length + 1): a VARCHAR
// length prefix (1 byte if meta < 256, else 2), then a compressed payload
// (see Decompress).
Status DecodeCompressedVarString(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  const size_t prefix = col.meta < 256 ? 1 : 2;
  if (r.remaining() < prefix) {
    return Truncated(r, col, prefix);
  }
  const size_t n = static_cast<size_t>(r.UInt(prefix));
  if (col.meta != 0 && n > col.meta) {
    return TooLong(r, col, n, col.meta);
  }
  if (r.remaining() < n) {
    return Truncated(r, col, n);
  }
  std::string_view raw;
  RETURN_IF_ERROR(Decompress(r, col, r.Bytes(n), col.meta ? col.meta : UINT16_MAX, arena, raw));
  return TextValue(raw, col, arena, out);
}

// BLOB_COMPRESSED (MariaDB 10.3+; meta = length-prefix size): a BLOB length
// prefix, then a compressed payload (see Decompress).
Status DecodeCompressedBlob(ByteReader& r, const ColumnMeta& col, Arena& arena, Value& out) {
  std::string_view payload;
  RETURN_IF_ERROR(ReadPrefixed(r, col, col.meta, payload));
  std::string_view raw;
  const uint64_t max_length = (uint64_t{1} << (8 * col.meta)) - 1;
  RETURN_IF_ERROR(Decompress(r, col, payload, max_length, arena, raw));
  RETURN_IF_ERROR(TextValue(raw, col, arena, out));
  if (col.is_json && out.kind == ValueKind::kText) {
    out.kind = ValueKind::kJson;
  }
  return Status::Ok();
}

}  // namespace sluice::mysql::internal
