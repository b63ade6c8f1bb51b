#include "source/mysql/binlog/table_map.h"

#include <fmt/format.h>

#include "client/mysql/charset.h"
#include "client/mysql/column_types.h"

namespace sluice::mysql {
namespace {

// Optional metadata field types (binlog_row_metadata), MySQL 8.0 / MariaDB 10.5.
enum MetadataField : uint8_t {
  kSignedness = 1,
  kDefaultCharset = 2,
  kColumnCharset = 3,
  kColumnName = 4,
  kSetStrValue = 5,
  kEnumStrValue = 6,
  kGeometryType = 7,
  kSimplePrimaryKey = 8,
  kPrimaryKeyWithPrefix = 9,
  kEnumAndSetDefaultCharset = 10,
  kEnumAndSetColumnCharset = 11,
  kColumnVisibility = 12,
};

bool IsNumeric(uint8_t type) {
  switch (type) {
    case kTypeTiny:
    case kTypeShort:
    case kTypeInt24:
    case kTypeLong:
    case kTypeLongLong:
    case kTypeFloat:
    case kTypeDouble:
    case kTypeNewDecimal:
    case kTypeDecimal:
      return true;
    default:
      return false;
  }
}

uint8_t RealType(const ColumnMeta& c) {
  if (c.type == kTypeString) return DecodeStringMeta(c.meta).real_type;
  return c.type;
}

bool IsEnumOrSet(const ColumnMeta& c) {
  uint8_t t = RealType(c);
  return t == kTypeEnum || t == kTypeSet;
}

// Character columns in the sense of the charset metadata: strings and blobs,
// but not ENUM/SET (they have fields of their own), JSON or GEOMETRY.
bool IsCharacter(const ColumnMeta& c) {
  switch (c.type) {
    case kTypeString:
      return !IsEnumOrSet(c);
    case kTypeVarString:
    case kTypeVarchar:
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeVarcharCompressed:
    case kTypeBlobCompressed:
      return true;
    default:
      return false;
  }
}

void SetCollation(ColumnMeta& c, uint64_t collation) {
  c.charset = CharsetFromCollationId(static_cast<uint32_t>(collation), &c.charset_name);
  c.collation = static_cast<uint32_t>(collation);
}

// DEFAULT_CHARSET: default_collation:lenenc then (column_index:lenenc collation:lenenc)*
// where column_index counts only the columns selected by `pick`.
template <typename Pick>
void ApplyDefaultCharset(ByteReader& f, std::vector<ColumnMeta>& cols, Pick pick) {
  uint64_t def = f.LenEnc();
  std::vector<ColumnMeta*> selected;
  for (auto& c : cols) {
    if (pick(c)) selected.push_back(&c);
  }
  for (auto* c : selected) SetCollation(*c, def);
  while (f.ok() && !f.at_end()) {
    uint64_t idx = f.LenEnc();
    uint64_t coll = f.LenEnc();
    if (f.ok() && idx < selected.size()) SetCollation(*selected[idx], coll);
  }
}

template <typename Pick>
void ApplyColumnCharset(ByteReader& f, std::vector<ColumnMeta>& cols, Pick pick) {
  for (auto& c : cols) {
    if (!pick(c)) continue;
    uint64_t coll = f.LenEnc();
    if (!f.ok()) return;
    SetCollation(c, coll);
  }
}

void ApplyStrValues(ByteReader& f, std::vector<ColumnMeta>& cols, uint8_t want_real_type) {
  for (auto& c : cols) {
    if (RealType(c) != want_real_type) continue;
    uint64_t n = f.LenEnc();
    c.enum_values.clear();
    for (uint64_t i = 0; i < n && f.ok(); ++i) c.enum_values.emplace_back(f.LenEncString());
    if (!f.ok()) return;
  }
}

// ENUM/SET labels come in the column's charset (ENUM_AND_SET_*_CHARSET);
// everything downstream (JSON, the loader's utf8mb4 session, filters) wants
// UTF-8, as information_schema gives them. Binary labels stay bytes: the
// decoder hands out a label that is not UTF-8 as bytes.
Status LabelsToUtf8(ColumnMeta& c) {
  if (c.charset != Charset::kLatin1 && c.charset != Charset::kOther) return Status::Ok();
  Arena arena(256);
  for (std::string& label : c.enum_values) {
    std::string_view utf8;
    if (c.charset == Charset::kLatin1) {
      utf8 = Latin1ToUtf8(label, arena);
    } else {
      RETURN_IF_ERROR(IconvToUtf8(label, c.charset_name, arena, utf8));
    }
    if (utf8.data() != label.data()) label.assign(utf8);
    arena.Reset();
  }
  return Status::Ok();
}

}  // namespace

size_t TypeMetadataLength(uint8_t type) {
  switch (type) {
    case kTypeFloat:
    case kTypeDouble:
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeGeometry:
    case kTypeJson:
    case kTypeTimestamp2:
    case kTypeDateTime2:
    case kTypeTime2:
    case kTypeBlobCompressed:
      return 1;
    case kTypeVarchar:
    case kTypeVarString:
    case kTypeBit:
    case kTypeNewDecimal:
    case kTypeString:
    case kTypeEnum:
    case kTypeSet:
    case kTypeDecimal:
    case kTypeVarcharCompressed:
      return 2;
    default:
      return 0;
  }
}

Status ParseTableMap(ByteReader& body, uint8_t post_header_len, bool mariadb, TableMap& out) {
  out.table_id = post_header_len == 6 ? body.U32() : body.U48();
  body.U16();  // flags
  uint8_t db_len = body.U8();
  out.db = body.Bytes(db_len);
  body.Skip(1);
  uint8_t table_len = body.U8();
  out.table = body.Bytes(table_len);
  body.Skip(1);
  uint64_t n = body.LenEnc();
  if (!body.ok() || n > 4096) return Status::Corruption("TABLE_MAP: truncated header or bad column count {}", n);
  std::string_view types = body.Bytes(n);
  uint64_t meta_len = body.LenEnc();
  std::string_view meta_bytes = body.Bytes(meta_len);
  std::string_view nulls = body.Bytes((n + 7) / 8);
  if (!body.ok()) {
    return Status::Corruption("TABLE_MAP of `{}`.`{}`: truncated column definitions", out.db, out.table);
  }

  TableSchema& s = out.schema;
  s.db = std::string(out.db);
  s.table = std::string(out.table);
  s.columns.clear();
  s.columns.resize(n);
  s.primary_key.clear();
  out.has_names = out.has_signedness = out.has_charsets = out.has_primary_key = false;

  ByteReader m(meta_bytes);
  for (uint64_t i = 0; i < n; ++i) {
    ColumnMeta& c = s.columns[i];
    c.type = static_cast<uint8_t>(types[i]);
    switch (TypeMetadataLength(c.type)) {
      case 1:
        c.meta = m.U8();
        break;
      case 2:
        if (c.type == kTypeVarchar || c.type == kTypeVarString || c.type == kTypeBit ||
            c.type == kTypeVarcharCompressed) {
          c.meta = m.U16();  // little-endian
        } else {
          c.meta = static_cast<uint16_t>(m.UIntBE(2));
        }
        break;
      default:
        c.meta = 0;
    }
    c.real_type = RealType(c);
    c.nullable = (static_cast<uint8_t>(nulls[i / 8]) >> (i % 8)) & 1;
    c.name = fmt::format("@{}", i + 1);
  }
  if (!m.ok()) return Status::Corruption("TABLE_MAP of `{}`.`{}`: truncated type metadata", out.db, out.table);

  // Optional metadata: (type:1 length:lenenc value)*
  while (body.ok() && !body.at_end()) {
    uint8_t field_type = body.U8();
    uint64_t len = body.LenEnc();
    std::string_view value = body.Bytes(len);
    if (!body.ok()) break;
    ByteReader f(value);
    switch (field_type) {
      case kSignedness: {
        // One bit per numeric column, most significant bit first. MariaDB
        // counts YEAR among them (its YEAR is a kind of TINYINT), MySQL does not.
        size_t k = 0;
        for (auto& c : s.columns) {
          if (!IsNumeric(c.type) && !(mariadb && c.type == kTypeYear)) continue;
          uint8_t byte = k / 8 < value.size() ? static_cast<uint8_t>(value[k / 8]) : 0;
          c.is_unsigned = (byte >> (7 - k % 8)) & 1;
          ++k;
        }
        out.has_signedness = true;
        break;
      }
      case kDefaultCharset:
        ApplyDefaultCharset(f, s.columns, IsCharacter);
        out.has_charsets = true;
        break;
      case kColumnCharset:
        ApplyColumnCharset(f, s.columns, IsCharacter);
        out.has_charsets = true;
        break;
      case kEnumAndSetDefaultCharset:
        ApplyDefaultCharset(f, s.columns, IsEnumOrSet);
        break;
      case kEnumAndSetColumnCharset:
        ApplyColumnCharset(f, s.columns, IsEnumOrSet);
        break;
      case kColumnName:
        for (auto& c : s.columns) c.name = std::string(f.LenEncString());
        out.has_names = f.ok();
        break;
      case kSetStrValue:
        ApplyStrValues(f, s.columns, kTypeSet);
        break;
      case kEnumStrValue:
        ApplyStrValues(f, s.columns, kTypeEnum);
        break;
      case kGeometryType:
        for (auto& c : s.columns) {
          if (c.type == kTypeGeometry) c.geometry_type = static_cast<uint32_t>(f.LenEnc());
        }
        break;
      case kSimplePrimaryKey:
        while (f.ok() && !f.at_end()) s.primary_key.push_back(static_cast<uint32_t>(f.LenEnc()));
        out.has_primary_key = true;
        break;
      case kPrimaryKeyWithPrefix:
        while (f.ok() && !f.at_end()) {
          s.primary_key.push_back(static_cast<uint32_t>(f.LenEnc()));
          f.LenEnc();  // prefix length
        }
        out.has_primary_key = true;
        break;
      default:
        break;  // visibility and fields added later are not needed for decoding
    }
    if (!f.ok()) {
      return Status::Corruption("TABLE_MAP of `{}`.`{}`: truncated optional metadata field {}", out.db, out.table,
                                field_type);
    }
  }
  if (!body.ok()) return Status::Corruption("TABLE_MAP of `{}`.`{}`: truncated optional metadata", out.db, out.table);
  for (uint32_t k : s.primary_key) {
    if (k >= n)
      return Status::Corruption("TABLE_MAP of `{}`.`{}`: primary key column {} of {}", out.db, out.table, k, n);
  }
  for (auto& c : s.columns) {
    if (c.enum_values.empty()) continue;
    Status st = LabelsToUtf8(c);
    if (!st.ok()) {
      return Status::Error(st.code(), "TABLE_MAP of `{}`.`{}`: ENUM/SET labels of column `{}`: {}", out.db, out.table,
                           c.name, st.message());
    }
  }
  s.names_known = out.has_names;
  return Status::Ok();
}

}  // namespace sluice::mysql
