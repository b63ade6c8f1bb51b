#include "source/postgres/pgoutput_decoder.h"

#include <algorithm>
#include <cstring>

#include "core/byte_reader.h"
#include "core/glob.h"
#include "core/position.h"
#include "source/postgres/replication_frame.h"

namespace sluice::postgres {
namespace {

std::string QuoteName(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

bool MatchesTables(const std::vector<std::string>& patterns, std::string_view schema, std::string_view table) {
  if (patterns.empty()) return true;
  std::string full;
  full.append(schema).append(".").append(table);
  for (const auto& p : patterns) {
    if (GlobMatch(p, full)) return true;
  }
  return false;
}

PgoutputDecoder::PgoutputDecoder(Options options) : options_(std::move(options)) {}

TableSchemaPtr PgoutputDecoder::schema(uint32_t relid) const {
  auto it = relations_.find(relid);
  return it == relations_.end() ? nullptr : it->second.schema;
}

std::string PgoutputDecoder::Where() const {
  return in_txn_ ? fmt::format(" @ transaction {} (commit {})", xid_, Lsn{final_lsn_}.ToString()) : std::string();
}

Status PgoutputDecoder::Feed(std::string_view message, ChangeHandler& handler) {
  if (message.empty()) return Status::Corruption("pgoutput: empty message");
  char tag = message[0];
  if (tag == 'B') {
    if (in_txn_) return Status::Corruption("pgoutput: Begin inside a transaction{}", Where());
    ByteReader r(message.substr(1));
    final_lsn_ = r.UIntBE(8);
    ts_ms_ = PgTimeToUnixMs(static_cast<int64_t>(r.UIntBE(8)));
    xid_ = r.UIntBE(4);
    if (!r.ok()) return Status::Corruption("pgoutput Begin: truncated ({} bytes)", message.size());
    in_txn_ = true;
    pending_.clear();
    return Status::Ok();
  }
  if (tag == 'C') {
    if (!in_txn_) return Status::Corruption("pgoutput: Commit outside a transaction");
    ByteReader r(message.substr(1));
    r.U8();  // flags, unused
    uint64_t commit_lsn = r.UIntBE(8);
    commit_end_ = r.UIntBE(8);
    ts_ms_ = PgTimeToUnixMs(static_cast<int64_t>(r.UIntBE(8)));
    if (!r.ok()) return Status::Corruption("pgoutput Commit: truncated ({} bytes){}", message.size(), Where());
    if (commit_lsn != final_lsn_) {
      return Status::Corruption("pgoutput Commit: commit LSN {} differs from Begin's {}", Lsn{commit_lsn}.ToString(),
                                Lsn{final_lsn_}.ToString());
    }
    // A transaction the handler refused stays open: nothing after it may be
    // confirmed as delivered.
    RETURN_IF_ERROR(Replay(handler));
    in_txn_ = false;
    pending_.clear();
    if (pending_.capacity() > (16u << 20)) pending_.shrink_to_fit();  // one huge transaction: give it back
    return Status::Ok();
  }
  if (!in_txn_) {
    // Outside a transaction pgoutput sends only schema messages.
    if (tag == 'R' || tag == 'Y') return Dispatch(message, handler);
    if (tag == 'M') return Status::Ok();
    return Status::Corruption("pgoutput: message '{}' outside a transaction", tag);
  }
  uint32_t n = static_cast<uint32_t>(message.size());
  char len[4];
  std::memcpy(len, &n, 4);
  pending_.append(len, 4);
  pending_.append(message);
  return Status::Ok();
}

Status PgoutputDecoder::Replay(ChangeHandler& handler) {
  lsn_text_ = Lsn{commit_end_}.ToString();
  rows_ = 0;
  TransactionInfo begin;
  begin.file = lsn_text_;
  begin.offset = final_lsn_;
  begin.ts_ms = ts_ms_;
  RETURN_IF_ERROR(handler.OnBegin(begin));
  size_t i = 0;
  while (i < pending_.size()) {
    uint32_t n;
    std::memcpy(&n, pending_.data() + i, 4);
    std::string_view m(pending_.data() + i + 4, n);
    i += 4 + n;
    arena_.Reset();
    RETURN_IF_ERROR(Dispatch(m, handler));
  }
  CommitInfo commit;
  commit.file = lsn_text_;
  commit.next_offset = commit_end_;
  commit.ts_ms = ts_ms_;
  commit.rows = rows_;
  commit.lsn_position = true;
  RETURN_IF_ERROR(handler.OnCommit(commit));
  last_commit_end_ = commit_end_;
  return Status::Ok();
}

Status PgoutputDecoder::Dispatch(std::string_view m, ChangeHandler& handler) {
  switch (m[0]) {
    case 'R': return OnRelation(m);
    case 'Y': {
      ByteReader r(m.substr(1));
      uint32_t oid = r.UIntBE(4);
      std::string_view ns = r.CString();
      std::string_view name = r.CString();
      if (!r.ok()) return Status::Corruption("pgoutput Type: truncated{}", Where());
      type_names_[oid] = std::string(ns) + "." + std::string(name);
      return Status::Ok();
    }
    case 'I':
    case 'U':
    case 'D': return OnRow(m[0], m, handler);
    case 'T': return OnTruncate(m, handler);
    case 'O':  // origin of a transaction replayed from elsewhere: nothing to do
    case 'M':  // logical decoding message
      return Status::Ok();
    default:
      return Status::Corruption("pgoutput: unknown message type 0x{:02x}{}", static_cast<unsigned>(m[0]) & 0xff,
                                Where());
  }
}

Status PgoutputDecoder::OnRelation(std::string_view m) {
  ByteReader r(m.substr(1));
  uint32_t relid = r.UIntBE(4);
  std::string_view ns = r.CString();
  std::string_view name = r.CString();
  char identity = static_cast<char>(r.U8());
  uint16_t ncols = static_cast<uint16_t>(r.UIntBE(2));
  if (!r.ok()) return Status::Corruption("pgoutput Relation {}: truncated header{}", relid, Where());
  Relation rel;
  rel.identity = identity;
  auto schema = std::make_shared<TableSchema>();
  schema->db = ns.empty() ? "pg_catalog" : std::string(ns);  // pgoutput sends "" for pg_catalog
  schema->table = std::string(name);
  schema->names_known = true;
  rel.matched = MatchesTables(options_.tables, schema->db, schema->table);
  for (uint16_t i = 0; i < ncols; ++i) {
    uint8_t flags = r.U8();
    std::string_view col = r.CString();
    uint32_t oid = r.UIntBE(4);
    int32_t typmod = static_cast<int32_t>(r.UIntBE(4));
    if (!r.ok()) return Status::Corruption("pgoutput Relation \"{}\".\"{}\": truncated at column {}", ns, name, i);
    std::shared_ptr<const PgColumnType> type;
    if (rel.matched) {
      auto resolved = ResolvePgType(oid, options_.type_lookup);
      if (!resolved.ok()) {
        return resolved.status().WithContext(
            fmt::format("table \"{}\".\"{}\" column \"{}\": type {}", schema->db, schema->table, col, oid));
      }
      type = *resolved;
    } else {
      auto t = std::make_shared<PgColumnType>();
      t->oid = t->base_oid = oid;
      type = t;
    }
    ColumnMeta meta;
    meta.name = std::string(col);
    DescribeColumn(*type, typmod, meta);
    if (type->family == PgFamily::kText && type->name.rfind("oid ", 0) == 0) {
      auto named = type_names_.find(oid);
      if (named != type_names_.end()) meta.pg_type_name = named->second;
    }
    schema->columns.push_back(std::move(meta));
    rel.types.push_back(std::move(type));
    rel.key.push_back((flags & 1) != 0);
  }
  if (identity == 'd' || identity == 'i') {
    for (uint32_t i = 0; i < ncols; ++i) {
      if (rel.key[i]) schema->primary_key.push_back(i);
    }
  } else if (options_.primary_key && rel.matched) {
    auto names = options_.primary_key(relid);
    if (!names.ok()) return names.status();
    for (const std::string& k : *names) {
      for (uint32_t i = 0; i < ncols; ++i) {
        if (schema->columns[i].name == k) schema->primary_key.push_back(i);
      }
    }
  }
  for (uint32_t k : schema->primary_key) schema->columns[k].nullable = false;
  rel.schema = std::move(schema);
  relations_[relid] = std::move(rel);
  return Status::Ok();
}

Status PgoutputDecoder::ReadTuple(ByteReader& r, const Relation& rel, std::vector<Value>& out, bool key_only) {
  const TableSchema& t = *rel.schema;
  uint16_t n = static_cast<uint16_t>(r.UIntBE(2));
  if (!r.ok()) return Status::Corruption("table \"{}\".\"{}\": truncated tuple{}", t.db, t.table, Where());
  if (n != t.columns.size()) {
    return Status::Error(StatusCode::kSchemaMismatch,
                         "table \"{}\".\"{}\": tuple has {} columns, the Relation message {}{}", t.db, t.table, n,
                         t.columns.size(), Where());
  }
  out.assign(n, Value::Null());
  for (uint16_t i = 0; i < n; ++i) {
    uint8_t kind = r.U8();
    switch (kind) {
      case 'n':
        // A key tuple sends the non-key columns as nulls: they are unknown, not null.
        out[i] = key_only && !rel.key[i] ? Value::Absent() : Value::Null();
        break;
      case 'u': out[i] = Value::Absent(); break;
      case 't': {
        uint32_t len = static_cast<uint32_t>(r.UIntBE(4));
        std::string_view text = r.Bytes(len);
        if (!r.ok()) {
          return Status::Corruption("table \"{}\".\"{}\" column \"{}\": truncated value{}", t.db, t.table,
                                    t.columns[i].name, Where());
        }
        auto v = DecodePgText(*rel.types[i], text, arena_);
        if (!v.ok()) {
          return Status::Corruption("table \"{}\".\"{}\" column \"{}\" ({}): {}{}", t.db, t.table, t.columns[i].name,
                                    rel.types[i]->name, v.status().message(), Where());
        }
        out[i] = *v;
        break;
      }
      case 'b':
        return Status::Error(StatusCode::kNotSupported,
                             "table \"{}\".\"{}\" column \"{}\": binary values (the binary option is not asked for)",
                             t.db, t.table, t.columns[i].name);
      default:
        return Status::Corruption("table \"{}\".\"{}\" column \"{}\": unknown value kind 0x{:02x}{}", t.db, t.table,
                                  t.columns[i].name, kind, Where());
    }
  }
  if (!r.ok()) return Status::Corruption("table \"{}\".\"{}\": truncated tuple{}", t.db, t.table, Where());
  return Status::Ok();
}

Status PgoutputDecoder::OnRow(char tag, std::string_view m, ChangeHandler& handler) {
  ByteReader r(m.substr(1));
  uint32_t relid = r.UIntBE(4);
  auto it = relations_.find(relid);
  if (!r.ok()) return Status::Corruption("pgoutput '{}': truncated{}", tag, Where());
  if (it == relations_.end()) {
    return Status::Corruption("pgoutput '{}': relation {} was never described by a Relation message{}", tag, relid,
                              Where());
  }
  const Relation& rel = it->second;
  if (!rel.matched) return Status::Ok();
  RowChange row;
  row.table = rel.schema.get();
  row.table_ptr = rel.schema;
  row.ts_ms = ts_ms_;
  row.file = lsn_text_;
  row.offset = commit_end_;
  row.lsn_position = true;
  uint8_t part = r.U8();
  if (tag == 'I') {
    if (part != 'N') return Status::Corruption("pgoutput Insert: expected 'N', got 0x{:02x}{}", part, Where());
    RETURN_IF_ERROR(ReadTuple(r, rel, after_, false));
    row.op = Op::kInsert;
    row.after = &after_;
  } else if (tag == 'D') {
    if (part != 'K' && part != 'O') {
      return Status::Corruption("pgoutput Delete: expected 'K' or 'O', got 0x{:02x}{}", part, Where());
    }
    RETURN_IF_ERROR(ReadTuple(r, rel, before_, part == 'K'));
    row.op = Op::kDelete;
    row.before = &before_;
  } else {
    bool has_old = part == 'K' || part == 'O';
    if (has_old) {
      RETURN_IF_ERROR(ReadTuple(r, rel, before_, part == 'K'));
      part = r.U8();
    }
    if (part != 'N') return Status::Corruption("pgoutput Update: expected 'N', got 0x{:02x}{}", part, Where());
    RETURN_IF_ERROR(ReadTuple(r, rel, after_, false));
    if (!has_old) {
      // The key did not change: the new row's key columns are the old ones.
      before_.assign(after_.size(), Value::Absent());
      for (size_t i = 0; i < after_.size(); ++i) {
        if (rel.key[i]) before_[i] = after_[i];
      }
    }
    // An unchanged TOASTed value the old row carries (REPLICA IDENTITY FULL).
    for (size_t i = 0; i < after_.size(); ++i) {
      if (after_[i].kind == ValueKind::kAbsent && before_[i].kind != ValueKind::kAbsent) after_[i] = before_[i];
    }
    row.op = Op::kUpdate;
    row.before = &before_;
    row.after = &after_;
  }
  if (!r.at_end()) {
    return Status::Corruption("pgoutput '{}' for \"{}\".\"{}\": {} bytes after the tuple{}", tag, rel.schema->db,
                              rel.schema->table, r.remaining(), Where());
  }
  ++rows_;
  return handler.OnRow(row);
}

Status PgoutputDecoder::OnTruncate(std::string_view m, ChangeHandler& handler) {
  ByteReader r(m.substr(1));
  uint32_t n = r.UIntBE(4);
  uint8_t options = r.U8();
  if (!r.ok() || r.remaining() != uint64_t{n} * 4) {
    return Status::Corruption("pgoutput Truncate: {} relations in {} bytes{}", n, m.size(), Where());
  }
  std::string query;
  std::string_view db;  // the first table's schema stands for the statement's
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t relid = r.UIntBE(4);
    auto it = relations_.find(relid);
    if (it == relations_.end()) {
      return Status::Corruption("pgoutput Truncate: relation {} was never described{}", relid, Where());
    }
    if (!it->second.matched) continue;
    query += query.empty() ? "TRUNCATE TABLE " : ", ";
    if (db.empty()) db = it->second.schema->db;
    query += QuoteName(it->second.schema->db) + "." + QuoteName(it->second.schema->table);
  }
  if (query.empty()) return Status::Ok();
  if (options & 2) query += " RESTART IDENTITY";
  if (options & 1) query += " CASCADE";
  DdlInfo ddl;
  ddl.db = db;
  ddl.query = query;
  ddl.file = lsn_text_;
  ddl.offset = commit_end_;
  ddl.ts_ms = ts_ms_;
  return handler.OnDdl(ddl);
}

}  // namespace sluice::postgres
