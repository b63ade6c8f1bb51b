#include "client/mysql/table_reader.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "client/mysql/charset.h"
#include "client/mysql/column_types.h"
#include "client/mysql/information_schema.h"

namespace sluice::mysql {

namespace {

void AppendIdent(std::string& out, std::string_view name) {
  out += '`';
  for (char ch : name) {
    if (ch == '`') out += '`';
    out += ch;
  }
  out += '`';
}


// "decimal(12,2)" -> (12, 2); "datetime(3)" -> (3, 0).
std::pair<int, int> TypeArgs(std::string_view column_type) {
  size_t open = column_type.find('(');
  if (open == std::string_view::npos) return {0, 0};
  int a = 0, b = 0;
  const char* p = column_type.data() + open + 1;
  const char* end = column_type.data() + column_type.size();
  auto r = std::from_chars(p, end, a);
  if (r.ptr < end && *r.ptr == ',') std::from_chars(r.ptr + 1, end, b);
  return {a, b};
}

ColumnMeta ColumnFromInformationSchema(const InformationSchemaColumn& is) {
  ColumnMeta c;
  c.collation = is.collation;
  c.name = is.name;
  c.nullable = is.nullable;
  c.is_unsigned = is.column_type.find("unsigned") != std::string::npos;
  c.is_json = is.is_json;
  const std::string& t = is.data_type;
  auto [a, b] = TypeArgs(is.column_type);
  auto text_or_binary = [&](uint8_t type) {
    c.type = type;
    if (is.charset.empty()) {
      c.charset = Charset::kBinary;
    } else {
      c.charset = CharsetFromName(is.charset, &c.charset_name);
    }
  };
  if (t == "tinyint") c.type = kTypeTiny;
  else if (t == "smallint") c.type = kTypeShort;
  else if (t == "mediumint") c.type = kTypeInt24;
  else if (t == "int" || t == "integer") c.type = kTypeLong;
  else if (t == "bigint") c.type = kTypeLongLong;
  else if (t == "float") c.type = kTypeFloat;
  else if (t == "double" || t == "real" || t == "double precision") c.type = kTypeDouble;
  else if (t == "decimal" || t == "numeric") {
    c.type = kTypeNewDecimal;
    c.meta = static_cast<uint16_t>((a << 8) | b);
  } else if (t == "date") c.type = kTypeDate;
  else if (t == "time") { c.type = kTypeTime2; c.meta = static_cast<uint16_t>(a); }
  else if (t == "datetime") { c.type = kTypeDateTime2; c.meta = static_cast<uint16_t>(a); }
  else if (t == "timestamp") { c.type = kTypeTimestamp2; c.meta = static_cast<uint16_t>(a); }
  else if (t == "year") c.type = kTypeYear;
  else if (t == "bit") {
    // As a TABLE_MAP carries it: whole bytes in the high byte, bits left over in the low one.
    c.type = kTypeBit;
    c.meta = static_cast<uint16_t>(((a / 8) << 8) | (a % 8));
  }
  else if (t == "enum" || t == "set") {
    c.type = kTypeString;
    c.real_type = t == "enum" ? kTypeEnum : kTypeSet;
    c.enum_values = ParseEnumMembers(is.column_type);
    if (!is.charset.empty()) c.charset = CharsetFromName(is.charset, &c.charset_name);
  } else if (t == "char" || t == "binary") {
    text_or_binary(kTypeString);
    c.real_type = kTypeString;
  } else if (t == "varchar" || t == "varbinary") {
    text_or_binary(kTypeVarchar);
  } else if (t == "json") {
    c.type = kTypeJson;
    c.is_json = true;
  } else if (t.find("text") != std::string::npos || t.find("blob") != std::string::npos) {
    text_or_binary(kTypeBlob);
  } else if (t == "geometry" || t == "point" || t == "linestring" || t == "polygon" || t == "multipoint" ||
             t == "multilinestring" || t == "multipolygon" || t == "geometrycollection" || t == "geomcollection") {
    c.type = kTypeGeometry;
  } else {
    // inet6, uuid and other plugin types print as text.
    text_or_binary(kTypeVarchar);
    if (c.charset == Charset::kBinary) c.charset = Charset::kUtf8;
    c.plugin_type = PluginTypeOf(t);
  }
  return c;
}

bool IsBinaryColumn(const ColumnMeta& c) {
  ValueKind k = KindForColumn(c);
  return k == ValueKind::kBytes || k == ValueKind::kGeometry || k == ValueKind::kBit;
}

}  // namespace

Result<TableSchemaPtr> ReadTableSchema(MysqlConnection& c, std::string_view db, std::string_view table) {
  ASSIGN_OR_RETURN(InformationSchemaTable info, ReadInformationSchemaTable(c, c.is_mariadb(), db, table));
  if (!info.exists) return Status::Error(StatusCode::kNotFound, "table `{}`.`{}` does not exist on {}", db, table, c.options().Describe());
  auto s = std::make_shared<TableSchema>();
  s->db = std::string(db);
  s->table = std::string(table);
  for (const auto& col : info.columns) s->columns.push_back(ColumnFromInformationSchema(col));
  s->primary_key = info.primary_key;
  if (s->primary_key.empty()) s->unique_key = info.unique_key;
  s->names_known = true;
  MarkSystemVersioningColumns(info, *s);
  return TableSchemaPtr(std::move(s));
}

Status PrepareReadSession(MysqlConnection& c) {
  return c.Execute("SET NAMES utf8mb4, time_zone = '+00:00', SESSION group_concat_max_len = 1048576");
}

namespace {

Result<std::string> SnapshotPosition(MysqlConnection& c) {
  ASSIGN_OR_RETURN(auto rows, c.Query("SHOW STATUS LIKE 'binlog_snapshot_%'"));
  std::string file, pos;
  for (const auto& r : rows) {
    if (r.size() < 2 || !r[0] || !r[1]) continue;
    if (*r[0] == "Binlog_snapshot_file") file = *r[1];
    if (*r[0] == "Binlog_snapshot_position") pos = *r[1];
  }
  if (file.empty()) {
    return Status::Error(StatusCode::kNotFound, "{} has no binary log (start it with --log-bin)",
                         c.options().Describe());
  }
  return file + ":" + pos;
}

}  // namespace

Result<std::string> ConsistentBinlogPosition(MysqlConnection& c) {
  if (c.is_mariadb()) {
    RETURN_IF_ERROR(c.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"));
    auto pos = SnapshotPosition(c);
    Status end = c.Execute("COMMIT");
    if (!pos.ok()) return pos.status();
    RETURN_IF_ERROR(end);
    return pos;
  }
  ASSIGN_OR_RETURN(auto rows, c.Query("SHOW MASTER STATUS"));
  if (rows.empty() || rows[0].size() < 2 || !rows[0][0]) {
    return Status::Error(StatusCode::kNotFound, "{} has no binary log (start it with --log-bin)", c.options().Describe());
  }
  return *rows[0][0] + ":" + rows[0][1].value_or("4");
}

Result<std::string> OpenConsistentSnapshot(MysqlConnection& c) {
  // Only REPEATABLE READ keeps one read view for the whole transaction.
  RETURN_IF_ERROR(c.Execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
  RETURN_IF_ERROR(c.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"));
  auto pos = SnapshotPosition(c);
  if (!pos.ok()) (void)c.Execute("ROLLBACK");
  return pos;
}

std::string KeyLiteral(const KeyPart& part) {
  if (!part.text) return "NULL";
  std::string out;
  if (part.binary) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    out.reserve(part.text->size() * 2 + 3);
    out += "X'";
    for (unsigned char ch : *part.text) {
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
    out += '\'';
    return out;
  }
  out.reserve(part.text->size() + 2);
  out += '\'';
  for (char ch : *part.text) {
    switch (ch) {
      case '\'': out += "\\'"; break;
      case '\\': out += "\\\\"; break;
      case '\0': out += "\\0"; break;
      default: out += ch;
    }
  }
  out += '\'';
  return out;
}

std::string RangePredicate(const std::vector<std::string>& cols, const KeyRange& range) {
  // (a,b) > (x,y)  ==  a > x OR (a = x AND b > y): spelled out, which every
  // server turns into index ranges.
  auto compare = [&](const KeyTuple& key, const char* strict, const char* last_op) {
    std::string out = "(";
    for (size_t i = 0; i < cols.size(); ++i) {
      if (i > 0) out += " OR ";
      out += "(";
      for (size_t j = 0; j < i; ++j) out += QuoteIdent(cols[j]) + " = " + KeyLiteral(key[j]) + " AND ";
      out += QuoteIdent(cols[i]) + (i + 1 == cols.size() ? last_op : strict) + KeyLiteral(key[i]) + ")";
    }
    return out + ")";
  };
  std::string out;
  if (range.after) out = compare(*range.after, " > ", " > ");
  if (range.upto) {
    if (!out.empty()) out += " AND ";
    out += compare(*range.upto, " < ", " <= ");
  }
  return out.empty() ? "1=1" : out;
}

ValueKind KindForColumn(const ColumnMeta& c) {
  switch (c.type) {
    case kTypeTiny:
    case kTypeShort:
    case kTypeInt24:
    case kTypeLong:
    case kTypeLongLong:
      return c.is_unsigned ? ValueKind::kUInt : ValueKind::kInt;
    case kTypeFloat: return ValueKind::kFloat;
    case kTypeDouble: return ValueKind::kDouble;
    case kTypeDecimal:
    case kTypeNewDecimal: return ValueKind::kDecimal;
    case kTypeDate:
    case kTypeNewDate: return ValueKind::kDate;
    case kTypeDateTime:
    case kTypeDateTime2: return ValueKind::kDateTime;
    case kTypeTimestamp:
    case kTypeTimestamp2: return ValueKind::kTimestamp;
    case kTypeTime:
    case kTypeTime2: return ValueKind::kTime;
    case kTypeYear: return ValueKind::kYear;
    case kTypeBit: return ValueKind::kBit;
    case kTypeJson: return ValueKind::kJson;
    case kTypeGeometry: return ValueKind::kGeometry;
    default:
      break;
  }
  if (c.real_type == kTypeEnum) return ValueKind::kEnum;
  if (c.real_type == kTypeSet) return ValueKind::kSet;
  if (c.is_json) return ValueKind::kJson;
  return c.charset == Charset::kBinary ? ValueKind::kBytes : ValueKind::kText;
}

Status DecodeTextValue(const ColumnMeta& c, const char* data, size_t len, Arena& arena, Value& out) {
  if (data == nullptr) {
    out = Value::Null();
    return Status::Ok();
  }
  std::string_view s(data, len);
  ValueKind kind = KindForColumn(c);
  auto bad = [&] { return Status::Invalid("column `{}`: cannot read value \"{}\" as {}", c.name, s, (int)kind); };
  switch (kind) {
    case ValueKind::kInt: {
      int64_t v = 0;
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return bad();
      out = Value::Int(v);
      return Status::Ok();
    }
    case ValueKind::kUInt: {
      uint64_t v = 0;
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return bad();
      out = Value::UInt(v);
      return Status::Ok();
    }
    case ValueKind::kYear: {
      int64_t v = 0;
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      if (r.ec != std::errc()) return bad();
      out = Value::Year(v);
      return Status::Ok();
    }
    case ValueKind::kFloat:
    case ValueKind::kDouble: {
      std::string tmp(s);
      char* end = nullptr;
      double d = kind == ValueKind::kFloat ? static_cast<double>(std::strtof(tmp.c_str(), &end))
                                           : std::strtod(tmp.c_str(), &end);
      if (end != tmp.c_str() + tmp.size()) return bad();
      out = kind == ValueKind::kFloat ? Value::Float(static_cast<float>(d)) : Value::Double(d);
      return Status::Ok();
    }
    case ValueKind::kBit: {
      // The text protocol sends BIT as its bytes, most significant first.
      uint64_t v = 0;
      for (unsigned char ch : s) v = (v << 8) | ch;
      out = Value::Bit(v);
      return Status::Ok();
    }
    case ValueKind::kGeometry:
      // Internal format: a 4-byte SRID, then WKB (the decoder drops the SRID too).
      if (s.size() < 4) return bad();
      out = Value::Str(kind, arena.Copy(s.substr(4)));
      return Status::Ok();
    default:
      out = Value::Str(kind, arena.Copy(s));
      return Status::Ok();
  }
}

TableReader::TableReader(TableSchemaPtr schema, std::vector<uint32_t> columns, std::string where_sql,
                         std::optional<std::vector<uint32_t>> key)
    : schema_(std::move(schema)), columns_(std::move(columns)), where_sql_(std::move(where_sql)) {
  if (columns_.empty()) {
    for (uint32_t i = 0; i < schema_->columns.size(); ++i) columns_.push_back(i);
  }
  if (key) {
    key_ = std::move(*key);
  } else {
    key_ = !schema_->primary_key.empty() ? schema_->primary_key : schema_->unique_key;
  }
  for (uint32_t k : key_) {
    int pos = -1;
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (columns_[i] == k) pos = static_cast<int>(i);
    }
    key_pos_in_columns_.push_back(pos);
  }
}

std::string TableReader::QualifiedName() const { return QuoteIdent(schema_->db) + "." + QuoteIdent(schema_->table); }

std::vector<std::string> TableReader::KeyColumnNames() const {
  std::vector<std::string> names;
  for (uint32_t k : key_) names.push_back(schema_->columns[k].name);
  return names;
}

std::string TableReader::SelectList() const {
  std::string out;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i > 0) out += ", ";
    const ColumnMeta& col = schema_->columns[columns_[i]];
    // The server prints a FLOAT with 6 significant digits (0.12345679 as
    // 0.123457): read as DOUBLE, which prints the float's value exactly.
    const bool as_double = KindForColumn(col) == ValueKind::kFloat;
    if (as_double) out += "CAST(";
    AppendIdent(out, col.name);
    if (as_double) out += " AS DOUBLE)";
  }
  return out;
}

std::string TableReader::Where(const KeyRange& range) const {
  std::string out = " WHERE ";
  out += has_key() ? RangePredicate(KeyColumnNames(), range) : "1=1";
  if (!where_sql_.empty()) out += " AND (" + where_sql_ + ")";
  return out;
}

Result<std::vector<KeyTuple>> TableReader::PlanChunks(MysqlConnection& c, uint64_t chunk_rows,
                                                      const std::function<bool()>& cancelled) const {
  std::vector<KeyTuple> bounds;
  if (!has_key()) return bounds;
  if (chunk_rows == 0) return Status::Invalid("{}: chunk size must be at least 1 row", QualifiedName());
  std::vector<std::string> names = KeyColumnNames();
  std::string cols, order;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) cols += ", ";
    cols += QuoteIdent(names[i]);
  }
  KeyRange range;
  for (;;) {
    if (cancelled && cancelled()) return Status::Error(StatusCode::kCancelled, "cancelled");
    std::string sql = fmt::format("SELECT {} FROM {}{} ORDER BY {} LIMIT 1 OFFSET {}", cols, QualifiedName(),
                                  Where(range), cols, chunk_rows - 1);
    ASSIGN_OR_RETURN(auto rows, c.Query(sql));
    if (rows.empty()) break;
    KeyTuple key;
    for (size_t i = 0; i < key_.size(); ++i) {
      key.push_back(KeyPart{rows[0][i], IsBinaryColumn(schema_->columns[key_[i]])});
    }
    bounds.push_back(key);
    range.after = std::move(key);
  }
  return bounds;
}

Result<RowBlock> TableReader::Read(MysqlConnection& c, const std::string& sql, bool with_keys) const {
  MYSQL* m = c.raw();
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) return c.LastError("reading " + QualifiedName());
  MYSQL_RES* res = mysql_use_result(m);
  if (res == nullptr) return c.LastError("reading " + QualifiedName());
  RowBlock block;
  block.width = columns_.size();
  Status status = Status::Ok();
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    unsigned long* lengths = mysql_fetch_lengths(res);
    size_t base = block.values.size();
    block.values.resize(base + block.width);
    for (size_t i = 0; i < block.width && status.ok(); ++i) {
      status = DecodeTextValue(schema_->columns[columns_[i]], row[i], lengths[i], *block.arena, block.values[base + i]);
    }
    if (!status.ok()) break;
    if (with_keys) {
      KeyTuple key;
      for (size_t k = 0; k < key_.size(); ++k) {
        int p = key_pos_in_columns_[k];
        std::optional<std::string> text;
        if (p >= 0 && row[p] != nullptr) text.emplace(row[p], lengths[p]);
        key.push_back(KeyPart{std::move(text), IsBinaryColumn(schema_->columns[key_[k]])});
      }
      block.keys.push_back(std::move(key));
    }
  }
  if (status.ok() && mysql_errno(m) != 0) status = c.LastError("reading " + QualifiedName());
  if (!status.ok()) {
    while (mysql_fetch_row(res) != nullptr) {
    }
  }
  mysql_free_result(res);
  if (!status.ok()) return status.WithContext(QualifiedName());
  return block;
}

Result<RowBlock> TableReader::ReadRange(MysqlConnection& c, const KeyRange& range, bool with_keys) const {
  return Read(c, fmt::format("SELECT {} FROM {}{}", SelectList(), QualifiedName(), Where(range)), with_keys);
}

Result<RowBlock> TableReader::ReadKeys(MysqlConnection& c, const std::vector<KeyTuple>& keys) const {
  RowBlock all;
  all.width = columns_.size();
  if (keys.empty() || !has_key()) return all;
  std::vector<std::string> names = KeyColumnNames();
  std::string lhs;
  for (size_t i = 0; i < names.size(); ++i) lhs += (i ? ", " : "") + QuoteIdent(names[i]);
  if (names.size() > 1) lhs = "(" + lhs + ")";
  // In slices, so that a long list stays a reasonable statement.
  constexpr size_t kSlice = 500;
  for (size_t begin = 0; begin < keys.size(); begin += kSlice) {
    std::string list;
    for (size_t i = begin; i < std::min(keys.size(), begin + kSlice); ++i) {
      if (i > begin) list += ", ";
      if (names.size() > 1) list += "(";
      for (size_t k = 0; k < keys[i].size(); ++k) list += (k ? ", " : "") + KeyLiteral(keys[i][k]);
      if (names.size() > 1) list += ")";
    }
    std::string sql = fmt::format("SELECT {} FROM {} WHERE {} IN ({})", SelectList(), QualifiedName(), lhs, list);
    if (!where_sql_.empty()) sql += " AND (" + where_sql_ + ")";
    ASSIGN_OR_RETURN(RowBlock part, Read(c, sql, true));
    // Re-point the part's values into `all`: keep its arena alive by moving it over.
    all.values.insert(all.values.end(), part.values.begin(), part.values.end());
    for (auto& k : part.keys) all.keys.push_back(std::move(k));
    if (begin == 0) {
      all.arena = std::move(part.arena);
    } else {
      // Values of later slices live in their own arena; copy their bytes into ours.
      for (size_t i = all.values.size() - part.values.size(); i < all.values.size(); ++i) {
        Value& v = all.values[i];
        if (!v.s.empty()) v.s = all.arena->Copy(v.s);
      }
    }
  }
  return all;
}

std::string TableReader::RowCrcExpression() const {
  // One CRC32 per row over every column, made unambiguous: CONCAT_WS skips
  // NULLs and strings may hold the separator, so the row also carries the
  // byte length of every string-like column (-1 for NULL) and ISNULL() of
  // every other nullable column. Numbers and temporal values cannot hold a
  // '#'. Columns are compared as stored: text in another character set
  // than utf8 is converted (two sides with different character sets then
  // still agree), utf8 and binary columns are not (a conversion to the same
  // character set costs as much as the CRC).
  std::string concat = "CONCAT_WS('#'";
  std::string markers;
  for (uint32_t index : columns_) {
    const ColumnMeta& col = schema_->columns[index];
    std::string name = QuoteIdent(col.name);
    ValueKind kind = KindForColumn(col);
    const bool text = kind == ValueKind::kText || kind == ValueKind::kEnum || kind == ValueKind::kSet ||
                      kind == ValueKind::kJson;
    const bool stringy = text || kind == ValueKind::kBytes || kind == ValueKind::kGeometry || kind == ValueKind::kBit;
    const bool convert = text && col.charset != Charset::kUtf8 && col.charset != Charset::kBinary;
    std::string expr = convert ? "CONVERT(" + name + " USING utf8mb4)" : name;
    // FLOAT prints with 6 digits: two different values would give one CRC.
    if (kind == ValueKind::kFloat) expr = "CAST(" + name + " AS DOUBLE)";
    concat += ", " + expr;
    if (stringy) {
      std::string length = (convert ? "CHAR_LENGTH(" : "LENGTH(") + name + ")";
      markers += ", " + (col.nullable ? "COALESCE(" + length + ", -1)" : length);
    } else if (col.nullable) {
      markers += ", ISNULL(" + name + ")";
    }
  }
  concat += markers + ")";
  return "CRC32(" + concat + ")";
}

std::string TableReader::ChecksumQuery(const KeyRange& range) const {
  // Per row h = CRC32 * a prime below 2^32 (no overflow): XOR over rows is
  // then no longer linear in the CRC, so two rows that swapped equal-length
  // values do not cancel out as plain CRC XORs would. Rows of a keyed table
  // are distinct; a keyless one may repeat rows, which cancel in a XOR, so
  // it also sums the CRCs (computed once, in a derived table).
  constexpr const char* kPrime = "4294967291";
  if (has_key()) {
    return fmt::format("SELECT COUNT(*), COALESCE(BIT_XOR({} * {}), 0), 0 FROM {}{}", RowCrcExpression(), kPrime,
                       QualifiedName(), Where(range));
  }
  return fmt::format(
      "SELECT COUNT(*), COALESCE(BIT_XOR(c * {}), 0), COALESCE(SUM(c), 0) FROM (SELECT {} AS c FROM {}{} "
      "LIMIT 18446744073709551615) AS rows_crc",
      kPrime, RowCrcExpression(), QualifiedName(), Where(range));
}

Result<std::vector<RowCrc>> TableReader::RowCrcs(MysqlConnection& c, const KeyRange& range) const {
  std::vector<RowCrc> out;
  if (!has_key()) return Status::Error(StatusCode::kNotSupported, "{}: per-row checksums need a key", QualifiedName());
  std::string cols;
  for (const std::string& name : KeyColumnNames()) cols += QuoteIdent(name) + ", ";
  std::string sql = fmt::format("SELECT {}{} FROM {}{}", cols, RowCrcExpression(), QualifiedName(), Where(range));
  MYSQL* m = c.raw();
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) return c.LastError("checksumming rows of " + QualifiedName());
  MYSQL_RES* res = mysql_use_result(m);
  if (res == nullptr) return c.LastError("checksumming rows of " + QualifiedName());
  const size_t n = key_.size();
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    unsigned long* lengths = mysql_fetch_lengths(res);
    RowCrc r;
    for (size_t k = 0; k < n; ++k) {
      std::optional<std::string> text;
      if (row[k] != nullptr) text.emplace(row[k], lengths[k]);
      r.key.push_back(KeyPart{std::move(text), IsBinaryColumn(schema_->columns[key_[k]])});
    }
    r.crc = row[n] ? std::strtoul(row[n], nullptr, 10) : 0;
    out.push_back(std::move(r));
  }
  Status st = mysql_errno(m) != 0 ? c.LastError("checksumming rows of " + QualifiedName()) : Status::Ok();
  mysql_free_result(res);
  if (!st.ok()) return st;
  return out;
}

Result<RangeChecksum> TableReader::Checksum(MysqlConnection& c, const KeyRange& range) const {
  ASSIGN_OR_RETURN(auto rows, c.Query(ChecksumQuery(range)));
  RangeChecksum sum;
  if (rows.empty()) return sum;
  sum.rows = std::strtoull(rows[0][0].value_or("0").c_str(), nullptr, 10);
  sum.crc_xor = std::strtoull(rows[0][1].value_or("0").c_str(), nullptr, 10);
  sum.crc_sum = std::strtoull(rows[0][2].value_or("0").c_str(), nullptr, 10);
  return sum;
}

uint64_t TableReader::EstimateRows(MysqlConnection& c) const {
  auto v = c.QueryValue(fmt::format(
      "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{}'",
      c.Escape(schema_->db), c.Escape(schema_->table)));
  if (!v.ok() || !v->has_value()) return 0;
  return std::strtoull((*v)->c_str(), nullptr, 10);
}

std::string QuoteIdent(std::string_view name) {
  std::string out;
  AppendIdent(out, name);
  return out;
}

}  // namespace sluice::mysql
