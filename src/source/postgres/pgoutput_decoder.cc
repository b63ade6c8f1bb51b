#include "source/postgres/pgoutput_decoder.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/byte_reader.h"
#include "core/glob.h"
#include "core/position.h"
#include "source/postgres/replication_frame.h"

namespace sluice::postgres {

namespace {

std::string Quoted(std::string_view text, char quote) {
  std::string out(1, quote);
  for (char c : text) {
    if (c == quote) out += quote;
    out += c;
  }
  out += quote;
  return out;
}
std::string QuoteName(std::string_view name) { return Quoted(name, '"'); }
std::string QuoteText(std::string_view text) { return Quoted(text, '\''); }

// A column's type for messages: the name and what its modifier means
// (varchar(20), numeric(12,2), timestamp(3)).
std::string TypeText(const ColumnMeta& c, const PgColumnType& t) {
  std::string name = t.name.empty() ? fmt::format("oid {}", t.oid) : t.name;
  int32_t m = c.pg_typmod;
  if (m < 0) return name;
  switch (t.base_oid) {
    case 1042:  // bpchar
    case 1043:  // varchar
      return fmt::format("{}({})", name, m - 4);
    case 1700:  // numeric
      return fmt::format("{}({},{})", name, ((m - 4) >> 16) & 0xffff, (m - 4) & 0xffff);
    default: return fmt::format("{}(typmod {})", name, m);
  }
}

// Whether a column's type change is a widening every target follows by
// converting the rows it holds exactly as PostgreSQL converted its own:
// int2 → int4 → int8, float4 → float8, varchar(n) → varchar(m >= n) or
// text, numeric(p,s) with no fewer integer or fraction digits, a
// timestamp, timestamptz or time with more fractional digits. (A USING
// clause that changed values cannot be seen in the stream: the log says so.)
bool Widened(const PgColumnType& from, int32_t from_mod, const PgColumnType& to, int32_t to_mod) {
  constexpr uint32_t kInt2 = 21, kInt4 = 23, kInt8 = 20, kFloat4 = 700, kFloat8 = 701, kText = 25, kVarchar = 1043,
                     kNumeric = 1700, kTimestamp = 1114, kTimestamptz = 1184, kTime = 1083;
  if (from.oid != from.base_oid || to.oid != to.base_oid) return false;  // domains: their checks are theirs
  const uint32_t a = from.oid, b = to.oid;
  if (a == kInt2) return b == kInt4 || b == kInt8;
  if (a == kInt4) return b == kInt8;
  if (a == kFloat4) return b == kFloat8;
  if (a == kVarchar) {
    if (b == kText) return true;
    if (b != kVarchar) return false;
    return to_mod < 0 || (from_mod >= 0 && to_mod >= from_mod);
  }
  if (a == kNumeric && b == kNumeric) {
    if (from_mod < 4 || to_mod < 4) return false;  // unconstrained numerics map otherwise
    const int p1 = ((from_mod - 4) >> 16) & 0xffff, s1 = (from_mod - 4) & 0xffff;
    const int p2 = ((to_mod - 4) >> 16) & 0xffff, s2 = (to_mod - 4) & 0xffff;
    return p2 - s2 >= p1 - s1 && s2 >= s1;
  }
  if (a == b && (a == kTimestamp || a == kTimestamptz || a == kTime)) {
    const int d1 = from_mod < 0 ? 6 : from_mod, d2 = to_mod < 0 ? 6 : to_mod;
    return d2 >= d1;
  }
  return false;
}

std::string KeyText(const TableSchema& t) {
  std::string out = "(";
  for (size_t i = 0; i < t.primary_key.size(); ++i) {
    if (i) out += ", ";
    out += t.columns[t.primary_key[i]].name;
  }
  return out + ")";
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

Status ApplyColumnFacts(const PgColumnFacts& f, const PgColumnType& type, ColumnMeta& c) {
  // NOT NULL as the catalog (and so a snapshot's schema) has it: a target
  // that made the column NOT NULL from the copy sees the same column from
  // the stream.
  if (f.not_null) c.nullable = false;
  if (!f.has_missing) return Status::Ok();
  c.pg_has_missing = true;
  c.pg_missing_value = f.missing_value;
  Arena arena(256);
  auto v = DecodePgText(type, f.missing_value, arena);
  if (!v.ok()) {
    return Status::Corruption("column \"{}\" ({}): the value older rows read, {}: {}", c.name, type.name,
                              f.missing_value, v.status().message());
  }
  auto stored = std::make_shared<StoredValue>();
  stored->bytes.assign(v->s);
  stored->value = *v;
  stored->value.s = stored->bytes;
  c.pg_missing = std::move(stored);
  return Status::Ok();
}

PgoutputDecoder::PgoutputDecoder(Options options)
    : options_(std::move(options)), pending_(options_.memory_limit) {}

uint64_t PgoutputDecoder::spilled_bytes() const {
  uint64_t n = pending_.spilled_bytes();
  for (const auto& [xid, buffer] : streams_) n += buffer.spilled_bytes();
  return n;
}

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
  if (options_.proto_version >= 2 && (in_stream_ || tag == 'S' || tag == 'E' || tag == 'c' || tag == 'A')) {
    return FeedStream(tag, message, handler);
  }
  if (tag == 'B') {
    if (in_txn_) return Status::Corruption("pgoutput: Begin inside a transaction{}", Where());
    ByteReader r(message.substr(1));
    final_lsn_ = r.UIntBE(8);
    ts_ms_ = PgTimeToUnixMs(static_cast<int64_t>(r.UIntBE(8)));
    xid_ = r.UIntBE(4);
    if (!r.ok()) return Status::Corruption("pgoutput Begin: truncated ({} bytes)", message.size());
    in_txn_ = true;
    pending_.Clear();
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
    RETURN_IF_ERROR(Replay(handler, pending_));
    in_txn_ = false;
    pending_.Clear();
    return Status::Ok();
  }
  if (!in_txn_) {
    // Outside a transaction pgoutput sends only schema messages.
    if (tag == 'R' || tag == 'Y') return Dispatch(message, handler);
    if (tag == 'M') return Status::Ok();
    return Status::Corruption("pgoutput: message '{}' outside a transaction", tag);
  }
  return pending_.Append(xid_, message);
}

Status PgoutputDecoder::FeedStream(char tag, std::string_view m, ChangeHandler& handler) {
  ByteReader r(m.substr(1));
  switch (tag) {
    case 'S': {
      if (in_stream_) return Status::Corruption("pgoutput: Stream Start inside the stream of transaction {}", stream_xid_);
      uint32_t xid = r.UIntBE(4);
      uint8_t first = r.U8();
      if (!r.ok()) return Status::Corruption("pgoutput Stream Start: truncated ({} bytes)", m.size());
      TxnBuffer& b = streams_.try_emplace(xid, options_.memory_limit).first->second;
      if (first == 1) b.Clear();  // the server streams it from its start
      in_stream_ = true;
      stream_xid_ = xid;
      return Status::Ok();
    }
    case 'E':
      if (!in_stream_) return Status::Corruption("pgoutput: Stream Stop outside a stream");
      in_stream_ = false;
      return Status::Ok();
    case 'c': {
      if (in_stream_) return Status::Corruption("pgoutput: Stream Commit inside the stream of transaction {}", stream_xid_);
      if (in_txn_) return Status::Corruption("pgoutput: Stream Commit inside a transaction{}", Where());
      uint32_t xid = r.UIntBE(4);
      r.U8();  // flags, unused
      uint64_t commit_lsn = r.UIntBE(8);
      uint64_t end_lsn = r.UIntBE(8);
      int64_t time = static_cast<int64_t>(r.UIntBE(8));
      if (!r.ok()) return Status::Corruption("pgoutput Stream Commit: truncated ({} bytes)", m.size());
      auto it = streams_.find(xid);
      if (it == streams_.end()) {
        return Status::Corruption("pgoutput Stream Commit of transaction {} (commit {}), which was never streamed", xid,
                                  Lsn{commit_lsn}.ToString());
      }
      final_lsn_ = commit_lsn;
      commit_end_ = end_lsn;
      ts_ms_ = PgTimeToUnixMs(time);
      xid_ = xid;
      in_txn_ = true;  // for messages (Where) while it replays
      Status st = Replay(handler, it->second);
      in_txn_ = false;
      // A transaction the handler refused is dropped here: the connection
      // is given up and the server streams it again.
      streams_.erase(xid);
      return st;
    }
    case 'A': {
      if (in_stream_) return Status::Corruption("pgoutput: Stream Abort inside the stream of transaction {}", stream_xid_);
      uint32_t xid = r.UIntBE(4);
      uint32_t subxid = r.UIntBE(4);
      if (!r.ok()) return Status::Corruption("pgoutput Stream Abort: truncated ({} bytes)", m.size());
      auto it = streams_.find(xid);
      if (it == streams_.end()) return Status::Ok();  // nothing of it was streamed (or kept)
      if (subxid == xid) {
        streams_.erase(it);
      } else {
        it->second.AbortSub(subxid);
      }
      return Status::Ok();
    }
    default:
      break;
  }
  // Inside a stream block: the message's own (sub)transaction id follows the tag.
  uint32_t subxid = r.UIntBE(4);
  if (!r.ok()) return Status::Corruption("pgoutput '{}' in the stream of transaction {}: truncated", tag, stream_xid_);
  if (tag == 'M') return Status::Ok();  // logical decoding message
  if (tag != 'R' && tag != 'Y' && tag != 'I' && tag != 'U' && tag != 'D' && tag != 'T') {
    return Status::Corruption("pgoutput: message '{}' (0x{:02x}) in the stream of transaction {}", tag,
                              static_cast<unsigned>(tag) & 0xff, stream_xid_);
  }
  unprefixed_.assign(1, tag);
  unprefixed_.append(m.substr(5));
  (void)handler;
  return streams_.at(stream_xid_).Append(subxid, unprefixed_);
}

Status PgoutputDecoder::Replay(ChangeHandler& handler, TxnBuffer& messages) {
  lsn_text_ = Lsn{commit_end_}.ToString();
  rows_ = 0;
  TransactionInfo begin;
  begin.file = lsn_text_;
  begin.offset = final_lsn_;
  begin.ts_ms = ts_ms_;
  RETURN_IF_ERROR(handler.OnBegin(begin));
  replaying_ = true;
  catalog_current_ = false;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{replaying_};
  RETURN_IF_ERROR(messages.ForEach([&](std::string_view m) {
    arena_.Reset();
    return Dispatch(m, handler);
  }));
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
    case 'R': return OnRelation(m, handler);
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

Status PgoutputDecoder::CatchUpCatalog() {
  if (!options_.catalog_sees || !replaying_ || catalog_current_) return Status::Ok();
  for (int attempt = 0;; ++attempt) {
    auto sees = options_.catalog_sees(xid_);
    if (!sees.ok()) return sees.status().WithContext(fmt::format("is transaction {} visible to the catalog", xid_));
    if (*sees) break;
    if (attempt >= options_.catalog_catch_up_attempts) {
      spdlog::warn("postgres: transaction {} (commit {}) is still not visible to other sessions after {} ms; reading "
                   "the catalog as it is",
                   xid_, Lsn{final_lsn_}.ToString(), attempt * 20);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  catalog_current_ = true;
  return Status::Ok();
}

DdlInfo PgoutputDecoder::DdlHere(std::string_view db, std::string_view query) const {
  DdlInfo ddl;
  ddl.db = db;
  ddl.query = query;
  ddl.file = lsn_text_;
  ddl.offset = final_lsn_;
  ddl.ts_ms = ts_ms_;
  ddl.in_transaction = true;
  return ddl;
}

std::string PgoutputDecoder::IgnoreAdvice(const TableSchema& t) const {
  // A restarted decoder takes a table's first Relation as it is; it stops
  // again only when a Relation of the old shape comes first (rows before the
  // change in its transaction, or transactions replayed from before it).
  // ddl: ignore (unchecked_tables) then takes the shape without comparing,
  // but also lets every later change of the table through unchecked and
  // unapplied: it must go once the transaction is past.
  return fmt::format(
      "Should it stop here again (rows of the old shape come first: earlier in this transaction, or replayed from "
      "before it), give \"{}\".\"{}\" a rule of its own with ddl: ignore and restart sluice (its shape is then taken "
      "as it comes, not compared); once the pipeline's position is past {}, remove that rule and restart sluice "
      "again: while it is set, the table's schema changes are neither checked nor applied to targets (added columns "
      "and TRUNCATE included)",
      t.db, t.table, Lsn{commit_end_}.ToString());
}

Status PgoutputDecoder::CompareRelations(const Relation& before, const Relation& now, size_t& first_added,
                                         std::vector<uint32_t>& retyped) const {
  const TableSchema& a = *before.schema;
  const TableSchema& b = *now.schema;
  auto stop = [&](const std::string& change) {
    return Status::Error(
        StatusCode::kSchemaMismatch,
        "table \"{}\".\"{}\" changed @ {} (transaction {}): {}. PostgreSQL sends no DDL; sluice applies added "
        "and widened columns by itself and nothing else. To go on: change every target table of \"{}\".\"{}\" to "
        "match the source (or copy it again with sluice snapshot), then restart the pipeline: it resumes at this "
        "transaction. {}",
        a.db, a.table, Lsn{commit_end_}.ToString(), xid_, change, b.db, b.table, IgnoreAdvice(b));
  };
  if (a.db != b.db || a.table != b.table) {
    return stop(fmt::format("renamed to \"{}\".\"{}\"", b.db, b.table));
  }
  size_t common = std::min(a.columns.size(), b.columns.size());
  for (size_t i = 0; i < common; ++i) {
    const ColumnMeta& x = a.columns[i];
    const ColumnMeta& y = b.columns[i];
    if (x.name != y.name) {
      bool dropped = std::none_of(b.columns.begin(), b.columns.end(), [&](const ColumnMeta& c) { return c.name == x.name; });
      if (dropped) return stop(fmt::format("column \"{}\" dropped", x.name));
      return stop(fmt::format("column {} \"{}\" is now \"{}\" (renamed or reordered)", i + 1, x.name, y.name));
    }
    if (before.types[i]->oid != now.types[i]->oid || x.pg_typmod != y.pg_typmod) {
      if (Widened(*before.types[i], x.pg_typmod, *now.types[i], y.pg_typmod)) {
        retyped.push_back(static_cast<uint32_t>(i));
        continue;
      }
      return stop(fmt::format("column \"{}\" changed type from {} to {}, which sluice follows only when it widens the "
                              "column (int2 → int4 → int8, float4 → float8, varchar(n) → varchar(m ≥ n) or text, "
                              "numeric with no fewer digits, more fractional seconds)",
                              x.name, TypeText(x, *before.types[i]), TypeText(y, *now.types[i])));
    }
  }
  if (b.columns.size() < a.columns.size()) {
    return stop(fmt::format("column \"{}\" dropped", a.columns[common].name));
  }
  std::vector<std::string> ka, kb;
  for (uint32_t k : a.primary_key) ka.push_back(a.columns[k].name);
  for (uint32_t k : b.primary_key) kb.push_back(b.columns[k].name);
  if (ka != kb) return stop(fmt::format("key changed from {} to {}", KeyText(a), KeyText(b)));
  first_added = common;
  return Status::Ok();
}

Status PgoutputDecoder::OnRelation(std::string_view m, ChangeHandler& handler) {
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
  if (!rel.matched && !options_.rule_patterns.empty() &&
      MatchesTables(options_.rule_patterns, schema->db, schema->table)) {
    // Its rows would be dropped here: a new start selects it (and creates
    // its target tables), then reads this transaction again.
    return Status::Error(StatusCode::kSourceChanged,
                         "table \"{}\".\"{}\" is new to the pipeline (created, or added to the publication, since "
                         "it started) and its rules select it{}",
                         schema->db, schema->table, Where());
  }
  PgTypeLookup type_lookup;
  if (options_.type_lookup) {
    type_lookup = [this](uint32_t oid) -> Result<PgTypeRow> {
      RETURN_IF_ERROR(CatchUpCatalog());
      return options_.type_lookup(oid);
    };
  }
  for (uint16_t i = 0; i < ncols; ++i) {
    uint8_t flags = r.U8();
    std::string_view col = r.CString();
    uint32_t oid = r.UIntBE(4);
    int32_t typmod = static_cast<int32_t>(r.UIntBE(4));
    if (!r.ok()) return Status::Corruption("pgoutput Relation \"{}\".\"{}\": truncated at column {}", ns, name, i);
    std::shared_ptr<const PgColumnType> type;
    if (rel.matched) {
      auto resolved = ResolvePgType(oid, type_lookup);
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
    RETURN_IF_ERROR(CatchUpCatalog());
    auto names = options_.primary_key(relid);
    if (!names.ok()) return names.status();
    for (const std::string& k : *names) {
      for (uint32_t i = 0; i < ncols; ++i) {
        if (schema->columns[i].name == k) schema->primary_key.push_back(i);
      }
    }
  }
  for (uint32_t k : schema->primary_key) schema->columns[k].nullable = false;
  std::vector<PgColumnFacts> facts;
  if (options_.column_facts && rel.matched) {
    RETURN_IF_ERROR(CatchUpCatalog());
    auto got = options_.column_facts(relid);
    if (!got.ok()) return got.status().WithContext(fmt::format("table \"{}\".\"{}\"", schema->db, schema->table));
    facts = std::move(got).value();
    for (size_t i = 0; i < schema->columns.size(); ++i) {
      ColumnMeta& c = schema->columns[i];
      for (const PgColumnFacts& f : facts) {
        if (f.name != c.name) continue;
        Status st = ApplyColumnFacts(f, *rel.types[i], c);
        if (!st.ok()) return st.WithContext(fmt::format("table \"{}\".\"{}\"{}", schema->db, schema->table, Where()));
      }
    }
  }
  rel.schema = std::move(schema);
  auto previous = relations_.find(relid);
  if (previous == relations_.end() || !previous->second.matched || !rel.matched ||
      (!options_.unchecked_tables.empty() &&
       MatchesTables(options_.unchecked_tables, rel.schema->db, rel.schema->table))) {
    relations_[relid] = std::move(rel);
    return Status::Ok();
  }
  size_t first_added = 0;
  std::vector<uint32_t> retyped;
  RETURN_IF_ERROR(CompareRelations(previous->second, rel, first_added, retyped));
  const TableSchema& t = *rel.schema;
  // The same shape sent again (a new connection, an index, ...).
  if (first_added == t.columns.size() && retyped.empty()) {
    relations_[relid] = std::move(rel);
    return Status::Ok();
  }
  std::string query = "ALTER TABLE " + QuoteName(t.db) + "." + QuoteName(t.table);
  for (size_t k = 0; k < retyped.size(); ++k) {
    const ColumnMeta& c = t.columns[retyped[k]];
    query += fmt::format("{} ALTER COLUMN {} TYPE {}", k ? "," : "", QuoteName(c.name),
                         TypeText(c, *rel.types[retyped[k]]));
  }
  for (size_t i = first_added; i < t.columns.size(); ++i) {
    const ColumnMeta& c = t.columns[i];
    if (options_.column_facts) {
      auto f = std::find_if(facts.begin(), facts.end(), [&](const PgColumnFacts& x) { return x.name == c.name; });
      std::string problem;
      if (f == facts.end()) {
        problem = "it no longer exists on the source, so the value its existing rows had cannot be read";
      } else if (f->has_default && !f->has_missing) {
        problem = "it was added with a volatile default (or its default was set after it was added): the rows that "
                  "existed got values the replication stream does not carry";
      }
      if (!problem.empty()) {
        return Status::Error(StatusCode::kSchemaMismatch,
                             "table \"{}\".\"{}\" changed @ {} (transaction {}): column \"{}\" added, but {}. To go "
                             "on: add the column to every target table and copy its values (sluice snapshot of the "
                             "table), then restart the pipeline. {}",
                             t.db, t.table, Lsn{commit_end_}.ToString(), xid_, c.name, problem, IgnoreAdvice(t));
      }
    }
    query += i == first_added && retyped.empty() ? " ADD COLUMN " : ", ADD COLUMN ";
    query += QuoteName(c.name) + " " + TypeText(c, *rel.types[i]);
    if (c.pg_has_missing) query += " DEFAULT " + QuoteText(c.pg_missing_value);
  }
  TableSchemaPtr shape = rel.schema;
  relations_[relid] = std::move(rel);
  if (!replaying_) {
    // pgoutput sends Relation messages inside transactions only.
    return Status::Corruption("pgoutput: table \"{}\".\"{}\" changed outside a transaction", t.db, t.table);
  }
  DdlInfo ddl = DdlHere(t.db, query);
  ddl.table = shape;
  ddl.first_added = first_added;
  if (!retyped.empty()) {
    spdlog::info("postgres: {} @ {}: followed on the targets, which convert the rows they hold; values a USING "
                 "clause changed on the source are not in the stream (sluice check finds them)",
                 query, Lsn{commit_end_}.ToString());
  }
  ddl.retyped = std::move(retyped);
  return handler.OnDdl(ddl);
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
  r.U8();  // options (cascade, restart identity): the relations cascaded to are listed; sequences are not replicated
  if (!r.ok() || r.remaining() != uint64_t{n} * 4) {
    return Status::Corruption("pgoutput Truncate: {} relations in {} bytes{}", n, m.size(), Where());
  }
  std::vector<const TableSchema*> tables;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t relid = r.UIntBE(4);
    auto it = relations_.find(relid);
    if (it == relations_.end()) {
      return Status::Corruption("pgoutput Truncate: relation {} was never described{}", relid, Where());
    }
    if (it->second.matched) tables.push_back(it->second.schema.get());
  }
  // One statement per table, in MySQL's dialect (what targets take DDL in),
  // each in its place among the transaction's rows.
  for (const TableSchema* t : tables) {
    std::string query = "TRUNCATE TABLE " + Quoted(t->db, '`') + "." + Quoted(t->table, '`');
    RETURN_IF_ERROR(handler.OnDdl(DdlHere(t->db, query)));
  }
  return Status::Ok();
}

}  // namespace sluice::postgres
