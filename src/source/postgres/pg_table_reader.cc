#include "source/postgres/pg_table_reader.h"

#include <fmt/format.h>

#include <cstdlib>
#include <map>

#include "source/postgres/pg_catalog.h"
#include "source/postgres/pg_stream_source.h"

namespace sluice::postgres {

ConnectOptions ReadSessionOptions(ConnectOptions options, unsigned query_timeout_s) {
  options.session_options = PgStreamSource::kSessionOptions;
  if (options.query_timeout_s == 0) options.query_timeout_s = query_timeout_s;
  return options;
}

Result<std::unique_ptr<PgTableReader>> PgTableReader::Open(PgConnection& c, const std::string& schema,
                                                           const std::string& table, std::vector<uint32_t> columns,
                                                           std::string where_sql) {
  ASSIGN_OR_RETURN(TableSchema s, ReadTableSchema(c, schema, table));
  std::unique_ptr<PgTableReader> r(new PgTableReader());
  ASSIGN_OR_RETURN(auto types,
                   c.Query(fmt::format("SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a "
                                       "WHERE a.attrelid = {}::regclass AND a.attnum > 0 AND NOT a.attisdropped",
                                       QuoteLiteral(QuoteIdent(schema) + "." + QuoteIdent(table)))));
  std::map<std::string, std::string> type_of;
  for (const auto& row : types) {
    if (row[0] && row[1]) type_of[*row[0]] = *row[1];
  }
  PgTypeLookup lookup = [&c](uint32_t oid) { return LookupType(c, oid); };
  for (const ColumnMeta& col : s.columns) {
    auto type = ResolvePgType(col.pg_type_oid, lookup);
    if (!type.ok()) {
      return type.status().WithContext(fmt::format("table \"{}\".\"{}\" column \"{}\"", schema, table, col.name));
    }
    r->types_.push_back(*type);
    r->type_sql_.push_back(type_of.count(col.name) ? type_of[col.name] : "text");
  }
  if (columns.empty()) {
    for (uint32_t i = 0; i < s.columns.size(); ++i) columns.push_back(i);
  }
  r->columns_ = std::move(columns);
  r->where_sql_ = std::move(where_sql);
  r->schema_ = std::make_shared<const TableSchema>(std::move(s));
  return r;
}

std::string PgTableReader::QualifiedName() const { return QuoteIdent(schema_->db) + "." + QuoteIdent(schema_->table); }

std::string PgTableReader::KeyList() const {
  std::string out;
  for (uint32_t k : key()) {
    if (!out.empty()) out += ", ";
    AppendQuotedIdent(out, schema_->columns[k].name);
  }
  return out;
}

std::string PgTableReader::KeyLiteral(const KeyTuple& key) const {
  std::string out = "(";
  for (size_t i = 0; i < key.size() && i < this->key().size(); ++i) {
    if (i) out += ", ";
    if (!key[i].text) {
      out += "NULL";
    } else {
      AppendQuotedLiteral(out, *key[i].text);
    }
    out += "::" + type_sql_[this->key()[i]];
  }
  return out + ")";
}

std::string PgTableReader::SelectList(bool with_keys) const {
  std::string out;
  for (uint32_t i : columns_) {
    if (!out.empty()) out += ", ";
    AppendQuotedIdent(out, schema_->columns[i].name);
  }
  if (with_keys) {
    for (uint32_t k : key()) {
      out += ", ";
      AppendQuotedIdent(out, schema_->columns[k].name);
    }
  }
  return out.empty() ? "1" : out;
}

std::string PgTableReader::Where(const KeyRange& range) const {
  std::string out;
  auto add = [&out](const std::string& cond) { out += (out.empty() ? " WHERE " : " AND ") + cond; };
  if (has_key()) {
    if (range.after) add(fmt::format("({}) > {}", KeyList(), KeyLiteral(*range.after)));
    if (range.upto) add(fmt::format("({}) <= {}", KeyList(), KeyLiteral(*range.upto)));
  }
  if (!where_sql_.empty()) add("(" + where_sql_ + ")");
  return out;
}

Result<RowBlock> PgTableReader::Read(PgConnection& c, const std::string& sql, bool with_keys) const {
  ASSIGN_OR_RETURN(auto rows, c.Query(sql));
  RowBlock out;
  out.width = columns_.size();
  out.values.reserve(rows.size() * out.width);
  for (const auto& row : rows) {
    for (size_t i = 0; i < columns_.size(); ++i) {
      const uint32_t col = columns_[i];
      if (!row[i]) {
        out.values.push_back(Value::Null());
        continue;
      }
      auto v = DecodePgText(*types_[col], *row[i], *out.arena);
      if (!v.ok()) {
        return v.status().WithContext(fmt::format("table {} column \"{}\" ({})", QualifiedName(),
                                                  schema_->columns[col].name, type_sql_[col]));
      }
      // Views into `row` do not outlive it: keep the bytes in the block's arena.
      if (v->kind != ValueKind::kNull && v->kind != ValueKind::kInt && v->kind != ValueKind::kUInt &&
          v->kind != ValueKind::kFloat && v->kind != ValueKind::kDouble) {
        v->s = out.arena->Copy(v->s);
      }
      out.values.push_back(*v);
    }
    if (with_keys) {
      KeyTuple key;
      for (size_t k = 0; k < this->key().size(); ++k) key.push_back(mysql::KeyPart{row[columns_.size() + k], false});
      out.keys.push_back(std::move(key));
    }
  }
  return out;
}

Result<std::vector<KeyTuple>> PgTableReader::PlanChunks(PgConnection& c, uint64_t chunk_rows,
                                                        const std::function<bool()>& cancelled) const {
  std::vector<KeyTuple> bounds;
  if (!has_key() || chunk_rows == 0) return bounds;
  if (cancelled && cancelled()) return Status::Error(StatusCode::kCancelled, "cancelled");
  // One pass over the primary key's index: every chunk_rows-th key.
  const std::string keys = KeyList();
  ASSIGN_OR_RETURN(auto rows, c.Query(fmt::format("SELECT {0} FROM (SELECT {0}, row_number() OVER (ORDER BY {0}) AS "
                                                  "sluice_n FROM {1}{2}) s WHERE sluice_n % {3} = 0 ORDER BY {0}",
                                                  keys, QualifiedName(), Where(KeyRange{}), chunk_rows)));
  for (const auto& row : rows) {
    KeyTuple key;
    for (const auto& part : row) key.push_back(mysql::KeyPart{part, false});
    bounds.push_back(std::move(key));
  }
  return bounds;
}

Result<RowBlock> PgTableReader::ReadRange(PgConnection& c, const KeyRange& range, bool with_keys) const {
  std::string sql = "SELECT " + SelectList(with_keys && has_key()) + " FROM " + QualifiedName() + Where(range);
  if (has_key()) sql += " ORDER BY " + KeyList();
  return Read(c, sql, with_keys && has_key());
}

Result<RowBlock> PgTableReader::ReadKeys(PgConnection& c, const std::vector<KeyTuple>& keys) const {
  if (keys.empty() || !has_key()) {
    RowBlock empty;
    empty.width = columns_.size();
    return empty;
  }
  std::string list;
  for (const KeyTuple& k : keys) {
    if (!list.empty()) list += ", ";
    list += KeyLiteral(k);
  }
  std::string where = Where(KeyRange{});
  where += (where.empty() ? " WHERE (" : " AND (") + KeyList() + ") IN (" + list + ")";
  return Read(c, "SELECT " + SelectList(true) + " FROM " + QualifiedName() + where + " ORDER BY " + KeyList(), true);
}

Result<RangeChecksum> PgTableReader::Checksum(PgConnection& c, const KeyRange& range) const {
  std::string row = "ROW(" + SelectList(false) + ")::text";
  // Two 64-bit halves of the row's md5: a xor of one, and a sum modulo 2^64
  // of the other (a keyless table's rows may repeat; a xor would cancel them).
  ASSIGN_OR_RETURN(auto rows,
                   c.Query(fmt::format("SELECT count(*), coalesce(bit_xor(h1), 0), coalesce(((sum(h2) % "
                                       "18446744073709551616) + 18446744073709551616) % 18446744073709551616, 0) FROM "
                                       "(SELECT ('x' || substr(md5(m), 1, 16))::bit(64)::bigint AS h1, ('x' || "
                                       "substr(md5(m), 17, 16))::bit(64)::bigint::numeric AS h2 FROM (SELECT {} AS m "
                                       "FROM {}{}) r) s",
                                       row, QualifiedName(), Where(range))));
  RangeChecksum out;
  if (rows.empty() || rows[0].size() < 3) return out;
  out.rows = std::strtoull(rows[0][0].value_or("0").c_str(), nullptr, 10);
  out.crc_xor = static_cast<uint64_t>(std::strtoll(rows[0][1].value_or("0").c_str(), nullptr, 10));
  out.crc_sum = std::strtoull(rows[0][2].value_or("0").c_str(), nullptr, 10);
  return out;
}

uint64_t PgTableReader::EstimateRows(PgConnection& c) const {
  auto rows = c.Query(fmt::format("SELECT greatest(reltuples, 0)::bigint FROM pg_catalog.pg_class WHERE oid = {}::regclass",
                                  QuoteLiteral(QualifiedName())));
  if (!rows.ok() || rows->empty() || !(*rows)[0][0]) return 0;
  return std::strtoull((*rows)[0][0]->c_str(), nullptr, 10);
}

}  // namespace sluice::postgres
