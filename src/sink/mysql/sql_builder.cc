#include "sink/mysql/sql_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "client/mysql/column_types.h"

namespace sluice::sink::mysql {
namespace {

constexpr char kHex[] = "0123456789abcdef";

template <typename T>
void AppendNumber(std::string& out, T v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, p);
}

void AppendHex(std::string& out, std::string_view bytes) {
  out += "x'";
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  out += '\'';
}

// The shortest form that reads back as exactly `d`, with an exponent so that
// the server parses it as a DOUBLE (correctly rounded), never as a DECIMAL.
void AppendDoubleLiteral(std::string& out, double d) {
  size_t start = out.size();
  fmt::format_to(std::back_inserter(out), "{}", d);
  if (out.find_first_of("eE", start) == std::string::npos) out += "e0";
}

bool Skipped(const std::vector<bool>* generated, size_t i) { return generated && i < generated->size() && (*generated)[i]; }

// Calls fn(i) for each of the first `n` columns a statement writes (not
// generated ones), with ',' between them.
template <typename Fn>
Status ForEachWritten(std::string& out, size_t n, const std::vector<bool>* generated, Fn fn) {
  bool first = true;
  for (size_t i = 0; i < n; ++i) {
    if (Skipped(generated, i)) continue;
    if (!first) out += ',';
    first = false;
    RETURN_IF_ERROR(fn(i));
  }
  return Status::Ok();
}

void AppendColumnList(std::string& out, const TargetTable& t, const std::vector<bool>* generated) {
  out += " (";
  (void)ForEachWritten(out, t.columns.size(), generated, [&](size_t i) {
    AppendIdentifier(out, t.columns[i]);
    return Status::Ok();
  });
  out += ')';
}

Status AppendColumnLiteral(std::string& out, const TargetTable& t, const std::vector<Value>& values, size_t i) {
  Status st = AppendLiteral(out, MysqlValue(t, i, values[i]));
  return st.ok() ? st : st.WithContext(fmt::format("column `{}`", t.columns[i]));
}

Status AppendRow(std::string& out, const SinkChange& c, const std::vector<bool>* generated) {
  out += '(';
  RETURN_IF_ERROR(ForEachWritten(out, c.values.size(), generated, [&](size_t i) {
    if (c.absent_means_default && c.values[i].kind == ValueKind::kAbsent) {
      out += "DEFAULT";  // a column the source's INSERT did not set (a MINIMAL row image)
      return Status::Ok();
    }
    return AppendColumnLiteral(out, *c.table, c.values, i);
  }));
  out += ')';
  return Status::Ok();
}

// VERB `db`.`t` (cols) VALUES (...),(...)
Status AppendValuesStatement(std::string& out, std::string_view verb, const TargetTable& t,
                             const std::vector<const SinkChange*>& rows, const std::vector<bool>* generated) {
  out += verb;
  AppendQualifiedName(out, t);
  AppendColumnList(out, t, generated);
  out += " VALUES ";
  for (size_t r = 0; r < rows.size(); ++r) {
    if (r) out += ',';
    RETURN_IF_ERROR(AppendRow(out, *rows[r], generated));
  }
  return Status::Ok();
}


// Partial upserts (IsPartial) as `UPDATE t SET present=... WHERE key`
// statements, `;`-separated, in order, into `out`; the other rows into
// `whole`. False (nothing written) when no row is partial.
bool SplitPartial(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows,
                  const std::vector<bool>* generated, std::vector<const SinkChange*>& whole) {
  if (std::none_of(rows.begin(), rows.end(), [](const SinkChange* c) { return IsPartial(*c); })) return false;
  for (const SinkChange* c : rows) {
    if (!IsPartial(*c)) {
      whole.push_back(c);
      continue;
    }
    if (!out.empty()) out += ';';
    out += "UPDATE ";
    AppendQualifiedName(out, t);
    out += " SET ";
    bool first = true;
    for (size_t i = 0; i < c->values.size(); ++i) {
      if (Skipped(generated, i) || c->values[i].kind == ValueKind::kAbsent) continue;
      if (std::find(t.key.begin(), t.key.end(), i) != t.key.end()) continue;
      if (!first) out += ',';
      first = false;
      AppendIdentifier(out, t.columns[i]);
      out += '=';
      // Present values are literals (AppendLiteral fails only on kAbsent).
      (void)AppendLiteral(out, MysqlValue(t, i, c->values[i]));
    }
    if (first) {
      // Nothing but the key: the row stays as it is (a no-op that still
      // applies nowhere if the row is missing).
      AppendIdentifier(out, t.columns[t.key[0]]);
      out += '=';
      AppendIdentifier(out, t.columns[t.key[0]]);
    }
    out += " WHERE ";
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (k) out += " AND ";
      AppendIdentifier(out, t.columns[t.key[k]]);
      out += '=';
      (void)AppendLiteral(out, MysqlValue(t, t.key[k], c->values[t.key[k]]));
    }
  }
  return true;
}

}  // namespace

void AppendIdentifier(std::string& out, std::string_view name) {
  out += '`';
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  out += '`';
}

void AppendQualifiedName(std::string& out, const TargetTable& t) {
  AppendIdentifier(out, t.db);
  out += '.';
  AppendIdentifier(out, t.table);
}

void AppendQuotedString(std::string& out, std::string_view s) {
  out += '\'';
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char esc;
    switch (s[i]) {
      case '\0': esc = '0'; break;
      case '\'': esc = '\''; break;
      case '\\': esc = '\\'; break;
      case '\n': esc = 'n'; break;
      case '\r': esc = 'r'; break;
      case '\x1a': esc = 'Z'; break;
      default: continue;
    }
    out.append(s.data() + run, i - run);
    out += '\\';
    out += esc;
    run = i + 1;
  }
  out.append(s.data() + run, s.size() - run);
  out += '\'';
}

Value MysqlValue(const TargetTable& t, size_t column, const Value& v) {
  constexpr uint32_t kPgBool = 16;
  if (v.kind != ValueKind::kJson || !t.source_schema || column >= t.source_index.size()) return v;
  if (t.column_meta(column).pg_type_oid != kPgBool) return v;
  return Value::Int(v.s == "true" ? 1 : 0);
}

namespace {
Status MysqlLiteral(std::string& out, const SinkChange& ch, size_t i, const Value& v) {
  return AppendLiteral(out, MysqlValue(*ch.table, i, v));
}
}  // namespace

const SqlDialect kMysqlDialect{AppendIdentifier, MysqlLiteral, /*join_parents=*/true};

Status AppendLiteral(std::string& out, const Value& v) {
  switch (v.kind) {
    case ValueKind::kNull:
      out += "NULL";
      return Status::Ok();
    case ValueKind::kAbsent:
      return Status::Error(StatusCode::kNotSupported,
                           "value not in the row image: sync needs binlog_row_image=FULL on the source");
    case ValueKind::kInt:
    case ValueKind::kYear:
      AppendNumber(out, v.i);
      return Status::Ok();
    case ValueKind::kUInt:
    case ValueKind::kBit:
      AppendNumber(out, v.u);
      return Status::Ok();
    case ValueKind::kFloat:
      // The float's own value, as a double: a FLOAT column compares as DOUBLE,
      // and "0.1" (the float's shortest form) is not equal to the stored
      // 0.100000001490116..., so a keyless table's full-row match would miss.
      AppendDoubleLiteral(out, static_cast<double>(static_cast<float>(v.d)));
      return Status::Ok();
    case ValueKind::kDouble:
      AppendDoubleLiteral(out, v.d);
      return Status::Ok();
    case ValueKind::kDecimal:
      out.append(v.s);  // already a canonical numeric literal
      return Status::Ok();
    case ValueKind::kBytes:
      AppendHex(out, v.s);
      return Status::Ok();
    case ValueKind::kGeometry:
      out += "ST_GeomFromWKB(";
      AppendHex(out, v.s);
      out += ')';
      return Status::Ok();
    case ValueKind::kText:
    case ValueKind::kDate:
    case ValueKind::kDateTime:
    case ValueKind::kTimestamp:
    case ValueKind::kTime:
    case ValueKind::kEnum:
    case ValueKind::kSet:
    case ValueKind::kJson:
      AppendQuotedString(out, v.s);
      return Status::Ok();
  }
  return Status::Error(StatusCode::kNotSupported, "unknown value kind {}", static_cast<int>(v.kind));
}

// Every column is assigned on a duplicate, the key columns too: when the
// duplicate is on a secondary unique key (another row holds the value this
// row takes later in the source's order), the conflicting row is either moved
// onto this key (and its own upsert later in the batch restores it) or the
// statement fails on the primary key and the loader re-applies the batch in
// source order. Updating only non-key columns would instead overwrite the
// other row silently.
Status BuildUpsert(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows,
                   const std::vector<bool>* generated) {
  std::vector<const SinkChange*> whole;
  if (SplitPartial(out, t, rows, generated, whole)) {
    if (!whole.empty()) {
      std::string first;
      RETURN_IF_ERROR(BuildUpsert(first, t, whole, generated));
      out.insert(0, first + ";");
    }
    return Status::Ok();
  }
  RETURN_IF_ERROR(AppendValuesStatement(out, "INSERT INTO ", t, rows, generated));
  out += " ON DUPLICATE KEY UPDATE ";
  return ForEachWritten(out, t.columns.size(), generated, [&](size_t i) {
    AppendIdentifier(out, t.columns[i]);
    out += "=VALUES(";
    AppendIdentifier(out, t.columns[i]);
    out += ')';
    return Status::Ok();
  });
}

Status BuildReplace(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows,
                    const std::vector<bool>* generated) {
  std::vector<const SinkChange*> whole;
  if (SplitPartial(out, t, rows, generated, whole)) {
    if (!whole.empty()) {
      std::string first;
      RETURN_IF_ERROR(AppendValuesStatement(first, "REPLACE INTO ", t, whole, generated));
      out.insert(0, first + ";");
    }
    return Status::Ok();
  }
  return AppendValuesStatement(out, "REPLACE INTO ", t, rows, generated);
}

std::string BulkUpsertSql(const TargetTable& t, const std::vector<bool>* generated, const std::vector<bool>& geometry,
                          bool replace) {
  std::string out = replace ? "REPLACE INTO " : "INSERT INTO ";
  AppendQualifiedName(out, t);
  AppendColumnList(out, t, generated);
  out += " VALUES (";
  (void)ForEachWritten(out, t.columns.size(), generated, [&](size_t i) {
    out += i < geometry.size() && geometry[i] ? "ST_GeomFromWKB(?)" : "?";
    return Status::Ok();
  });
  out += ')';
  if (replace) return out;
  out += " ON DUPLICATE KEY UPDATE ";
  (void)ForEachWritten(out, t.columns.size(), generated, [&](size_t i) {
    AppendIdentifier(out, t.columns[i]);
    out += "=VALUES(";
    AppendIdentifier(out, t.columns[i]);
    out += ')';
    return Status::Ok();
  });
  return out;
}

void AppendUpsertParams(std::vector<Value>& out, const TargetTable& t, const SinkChange& row,
                        const std::vector<bool>* generated) {
  for (size_t i = 0; i < row.values.size(); ++i) {
    if (!Skipped(generated, i)) out.push_back(MysqlValue(t, i, row.values[i]));
  }
}

std::string BulkDeleteSql(const TargetTable& t) {
  std::string out = "DELETE FROM ";
  AppendQualifiedName(out, t);
  out += " WHERE ";
  for (size_t k = 0; k < t.key.size(); ++k) {
    if (k) out += " AND ";
    AppendIdentifier(out, t.columns[t.key[k]]);
    out += "=?";
  }
  return out;
}

void AppendKeyParams(std::vector<Value>& out, const TargetTable& t, const SinkChange& row) {
  for (uint32_t k : t.key) out.push_back(MysqlValue(t, k, row.values[k]));
}

Status ForEachStatement(const TargetTable& t, const std::vector<const SinkChange*>& rows, size_t max_bytes,
                        StatementBuilder build, const std::function<Status(const std::string&)>& run) {
  std::string sql;
  std::vector<const SinkChange*> slice;
  size_t start = 0;
  while (start < rows.size()) {
    size_t end = start, approx = 0;
    slice.clear();
    while (end < rows.size() && (slice.empty() || approx < max_bytes)) {
      slice.push_back(rows[end]);
      for (const Value& v : rows[end]->values) approx += v.s.size() + 8;
      ++end;
    }
    sql.clear();
    RETURN_IF_ERROR(build(sql, t, slice));
    RETURN_IF_ERROR(run(sql));
    start = end;
  }
  return Status::Ok();
}

Status AppendKeyIn(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows) {
  bool composite = t.key.size() > 1;
  if (composite) {
    out += '(';
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (k) out += ',';
      AppendIdentifier(out, t.columns[t.key[k]]);
    }
    out += ')';
  } else {
    AppendIdentifier(out, t.columns[t.key[0]]);
  }
  out += " IN (";
  for (size_t r = 0; r < rows.size(); ++r) {
    if (r) out += ',';
    if (composite) out += '(';
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (k) out += ',';
      RETURN_IF_ERROR(AppendLiteral(out, MysqlValue(t, t.key[k], rows[r]->values[t.key[k]])));
    }
    if (composite) out += ')';
  }
  out += ')';
  return Status::Ok();
}

Status BuildDeleteEach(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows) {
  for (size_t r = 0; r < rows.size(); ++r) {
    if (r) out += ';';
    out += "DELETE FROM ";
    AppendQualifiedName(out, t);
    out += " WHERE ";
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (k) out += " AND ";
      AppendIdentifier(out, t.columns[t.key[k]]);
      out += '=';
      RETURN_IF_ERROR(AppendLiteral(out, MysqlValue(t, t.key[k], rows[r]->values[t.key[k]])));
    }
  }
  return Status::Ok();
}

Status BuildDelete(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows) {
  out += "DELETE FROM ";
  AppendQualifiedName(out, t);
  out += " WHERE ";
  return AppendKeyIn(out, t, rows);
}

Status BuildInsert(std::string& out, const TargetTable& t, const std::vector<const SinkChange*>& rows,
                   const std::vector<bool>* generated) {
  return AppendValuesStatement(out, "INSERT INTO ", t, rows, generated);
}

Status AppendColumnMatch(std::string& out, const TargetTable& t, size_t i, const Value& value) {
  AppendIdentifier(out, t.columns[i]);
  out += "<=>";
  RETURN_IF_ERROR(AppendLiteral(out, MysqlValue(t, i, value)));
  if (value.kind == ValueKind::kText) {
    // Text compares by the column's collation: 'a' = 'A' under a _ci one
    // and 'a' = 'a ' under PAD SPACE, and LIMIT 1 could then take another
    // row than the source's. Binary collation and the length make it exact.
    out += " COLLATE utf8mb4_bin AND CHAR_LENGTH(";
    AppendIdentifier(out, t.columns[i]);
    out += ")=";
    AppendNumber(out, Utf8Chars(value.s));
  }
  return Status::Ok();
}

size_t Utf8Chars(std::string_view s) {
  size_t chars = 0;  // every byte but continuation bytes
  for (unsigned char b : s) chars += (b & 0xC0) != 0x80;
  return chars;
}

Status AppendRowMatch(std::string& out, const TargetTable& t, const std::vector<Value>& values) {
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i) out += " AND ";
    RETURN_IF_ERROR(AppendColumnMatch(out, t, i, values[i]));
  }
  return Status::Ok();
}

Status BuildDeleteExact(std::string& out, const TargetTable& t, const SinkChange& row) {
  out += "DELETE FROM ";
  AppendQualifiedName(out, t);
  out += " WHERE ";
  RETURN_IF_ERROR(AppendRowMatch(out, t, row.values));
  out += " LIMIT 1";
  return Status::Ok();
}

Status BuildUpdate(std::string& out, const TargetTable& t, const SinkChange& row, const std::vector<Value>& current,
                   const std::vector<bool>* generated) {
  out += "UPDATE ";
  AppendQualifiedName(out, t);
  out += " SET ";
  RETURN_IF_ERROR(ForEachWritten(out, t.columns.size(), generated, [&](size_t i) {
    AppendIdentifier(out, t.columns[i]);
    out += '=';
    return AppendColumnLiteral(out, t, row.values, i);
  }));
  out += " WHERE ";
  if (!t.has_key()) {
    RETURN_IF_ERROR(AppendRowMatch(out, t, current));
    out += " LIMIT 1";
    return Status::Ok();
  }
  for (size_t k = 0; k < t.key.size(); ++k) {
    if (k) out += " AND ";
    AppendIdentifier(out, t.columns[t.key[k]]);
    out += '=';
    RETURN_IF_ERROR(AppendLiteral(out, MysqlValue(t, t.key[k], current[t.key[k]])));
  }
  return Status::Ok();
}

std::string DescribeKey(const SinkChange& c) {
  const TargetTable& t = *c.table;
  std::string out;
  std::vector<uint32_t> cols = t.key;
  if (cols.empty()) {
    for (uint32_t i = 0; i < t.columns.size() && i < 4; ++i) cols.push_back(i);
  }
  if (cols.size() > 1) out += '(';
  for (size_t k = 0; k < cols.size(); ++k) {
    if (k) out += ", ";
    out += t.columns[cols[k]];
    out += '=';
    std::string lit;
    if (!AppendLiteral(lit, c.values[cols[k]]).ok()) lit = "?";
    if (lit.size() > 64) lit = lit.substr(0, 61) + "...";
    out += lit;
  }
  if (cols.size() > 1) out += ')';
  return out;
}

Result<std::string> MysqlTypeOfPgColumn(const ColumnMeta& c, bool key) {
  namespace my = sluice::mysql;
  // PostgreSQL OIDs of the types mapped more closely than their family.
  constexpr uint32_t kBool = 16, kBpchar = 1042, kVarchar = 1043, kUuid = 2950;
  if (c.pg_type_oid == 0) {
    return Status::Error(StatusCode::kNotSupported, "column `{}`: not from a PostgreSQL source", c.name);
  }
  const int32_t chars = c.pg_typmod >= 4 ? c.pg_typmod - 4 : -1;  // varchar(n), char(n)
  switch (c.type) {
    case my::kTypeTiny: return std::string(c.pg_type_oid == kBool ? "tinyint(1)" : "tinyint");
    case my::kTypeShort: return std::string("smallint");
    case my::kTypeLong: return std::string(c.is_unsigned ? "int unsigned" : "int");
    case my::kTypeLongLong: return std::string(c.is_unsigned ? "bigint unsigned" : "bigint");
    case my::kTypeNewDecimal: return fmt::format("decimal({},{})", c.meta >> 8, c.meta & 0xff);
    case my::kTypeFloat: return std::string("float");
    case my::kTypeDouble: return std::string("double");
    case my::kTypeDate: return std::string("date");
    case my::kTypeTime2: return fmt::format("time({})", std::min<int>(c.meta, 6));
    // timestamptz too (its values are UTC): TIMESTAMP stops in 2038.
    case my::kTypeDateTime2:
    case my::kTypeTimestamp2: return fmt::format("datetime({})", std::min<int>(c.meta, 6));
    case my::kTypeJson: return std::string("json");
    default: break;
  }
  if (c.charset == Charset::kBinary) return std::string(key ? "varbinary(255)" : "longblob");
  if (c.pg_type_oid == kUuid) return std::string("char(36)");
  if (c.pg_type_oid == kBpchar && chars > 0 && chars <= 255) return fmt::format("char({})", chars);
  if (c.pg_type_oid == kVarchar && chars > 0 && chars <= (key ? 768 : 16383)) return fmt::format("varchar({})", chars);
  return std::string(key ? "varchar(255)" : "longtext");
}

Result<std::string> BuildCreateTable(const TargetTable& t) {
  std::string out = "CREATE TABLE IF NOT EXISTS ";
  AppendQualifiedName(out, t);
  out += " (";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    const ColumnMeta& c = t.column_meta(i);
    bool key = std::find(t.key.begin(), t.key.end(), i) != t.key.end();
    auto type = MysqlTypeOfPgColumn(c, key);
    if (!type.ok()) return type.status().WithContext(fmt::format("table `{}`.`{}`", t.db, t.table));
    if (i) out += ", ";
    AppendIdentifier(out, t.columns[i]);
    out += ' ';
    out += *type;
    out += c.nullable && !key ? " NULL" : " NOT NULL";
  }
  if (t.has_key()) {
    out += ", PRIMARY KEY (";
    for (size_t k = 0; k < t.key.size(); ++k) {
      if (k) out += ", ";
      AppendIdentifier(out, t.columns[t.key[k]]);
    }
    out += ')';
  }
  out += ") DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
  return out;
}

}  // namespace sluice::sink::mysql
