#include "source/mysql/binlog_decoder.h"

#include <libdeflate.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>

#include "core/glob.h"
#include "source/mysql/binlog/event_types.h"
#include "source/mysql/sql_mode.h"

namespace sluice::mysql {
namespace {


// Case-insensitive "does the statement start with this keyword".
bool StartsWithWord(std::string_view q, std::string_view word) {
  if (q.size() < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(q[i])) != word[i]) return false;
  }
  return q.size() == word.size() || !std::isalnum(static_cast<unsigned char>(q[word.size()]));
}

// CREATE [OR REPLACE] TABLE (not TEMPORARY): the statement a row-format
// CREATE TABLE ... SELECT logs inside the transaction of the copied rows.
bool IsCreateTable(std::string_view q) {
  auto skip_word = [&](std::string_view word) {
    if (!StartsWithWord(q, word)) return false;
    q.remove_prefix(word.size());
    while (!q.empty() && std::isspace(static_cast<unsigned char>(q.front()))) q.remove_prefix(1);
    return true;
  };
  if (!skip_word("CREATE")) return false;
  if (skip_word("OR")) skip_word("REPLACE");
  return StartsWithWord(q, "TABLE");
}

// MySQL 8.0.21+ logs CREATE TABLE ... SELECT as "CREATE TABLE ... START
// TRANSACTION" that the copied rows and an XID follow (the clause tells a
// replica not to commit after it): the statement without the clause, and
// whether it was there.
std::string_view WithoutStartTransaction(std::string_view q, bool* had) {
  constexpr std::string_view kClause = "START TRANSACTION";
  std::string_view t = q;
  while (!t.empty() && (std::isspace(static_cast<unsigned char>(t.back())) || t.back() == ';')) t.remove_suffix(1);
  *had = false;
  if (t.size() <= kClause.size()) return q;
  std::string_view tail = t.substr(t.size() - kClause.size());
  for (size_t i = 0; i < kClause.size(); ++i) {
    char c = static_cast<char>(std::toupper(static_cast<unsigned char>(tail[i])));
    if (c != kClause[i] && !(kClause[i] == ' ' && std::isspace(static_cast<unsigned char>(tail[i])))) return q;
  }
  t.remove_suffix(kClause.size());
  if (!std::isspace(static_cast<unsigned char>(t.back())) && t.back() != ')') return q;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  *had = true;
  return t;
}

std::string_view TrimStatement(std::string_view q) {
  while (!q.empty()) {
    unsigned char c = static_cast<unsigned char>(q.front());
    if (std::isspace(c) || c == ';') {
      q.remove_prefix(1);
    } else if (q.size() >= 2 && q[0] == '/' && q[1] == '*') {
      // Version comments like /*!40000 ... */ wrap whole statements; a plain
      // comment before the statement is skipped.
      if (q.size() > 2 && q[2] == '!') break;
      size_t end = q.find("*/", 2);
      if (end == std::string_view::npos) break;
      q.remove_prefix(end + 2);
    } else {
      break;
    }
  }
  while (!q.empty() && (std::isspace(static_cast<unsigned char>(q.back())) || q.back() == ';')) q.remove_suffix(1);
  return q;
}

}  // namespace

bool TableFilter::Matches(std::string_view db, std::string_view table) const {
  if (patterns_.empty()) return true;
  std::string full;
  full.reserve(db.size() + table.size() + 1);
  full.append(db).append(".").append(table);
  for (const auto& p : patterns_) {
    if (GlobMatch(p, full)) return true;
  }
  return false;
}

BinlogDecoder::BinlogDecoder(Options options) : options_(std::move(options)) {}

std::string BinlogDecoder::Where() const { return fmt::format("{}:{}", file_, event_offset_); }

std::string BinlogDecoder::GtidState() const {
  if (!mysql_state_.empty()) return mysql_state_.ToString();
  return mariadb_state_.ToString();
}

Status BinlogDecoder::Feed(std::string_view event, ChangeHandler& handler, uint64_t offset) {
  ++events_;
  ByteReader r(event);
  EventHeader h = EventHeader::Read(r);
  if (!r.ok()) return Status::Corruption("binlog event truncated: {} bytes, header needs 19 @ {}", event.size(), Where());
  if (h.event_size != event.size()) {
    return Status::Corruption("binlog event size {} in header but {} bytes read @ {}", h.event_size, event.size(),
                              Where());
  }
  if (payload_depth_ == 0) {
    if (offset != 0) {
      event_offset_ = offset;
      next_offset_ = offset + h.event_size;
    } else if (h.log_pos >= h.event_size) {
      event_offset_ = h.log_pos - h.event_size;
      next_offset_ = h.log_pos;
    } else {
      // Artificial events (fake ROTATE, FDE resent at the start of a dump) carry log_pos 0.
      event_offset_ = next_offset_;
    }
  }

  if (h.type == kFormatDescriptionEvent) {
    ASSIGN_OR_RETURN(fd_, ParseFormatDescription(event));
    have_fd_ = true;
    if (h.log_pos != 0 || offset != 0) tables_.clear();  // a new binlog file: table ids may restart
  }
  bool has_checksum = (have_fd_ ? fd_.checksum == ChecksumAlg::kCrc32 : checksum_before_fd_) && payload_depth_ == 0;
  if (has_checksum) {
    if (event.size() < kEventHeaderSize + kChecksumSize) {
      return Status::Corruption("{} event too short for its checksum @ {}", EventTypeName(h.type), Where());
    }
    if (options_.verify_checksums) {
      uint32_t expected = ByteReader(event.substr(event.size() - kChecksumSize)).U32();
      uint32_t actual;
      if (h.type == kFormatDescriptionEvent && (h.flags & kLogEventBinlogInUseFlag)) {
        // The server checksums the FDE with the in-use flag clear and sets the
        // flag afterwards (it marks a binlog that was not closed properly).
        std::string copy(event.substr(0, event.size() - kChecksumSize));
        copy[17] = static_cast<char>(copy[17] & ~kLogEventBinlogInUseFlag);
        actual = libdeflate_crc32(0, copy.data(), copy.size());
      } else {
        actual = libdeflate_crc32(0, event.data(), event.size() - kChecksumSize);
      }
      if (expected != actual) {
        return Status::Corruption("{} event checksum mismatch (stored {:08x}, computed {:08x}) @ {}",
                                  EventTypeName(h.type), expected, actual, Where());
      }
    }
    r.TrimEnd(kChecksumSize);
  }
  if (h.type == kFormatDescriptionEvent) return Status::Ok();
  if (!have_fd_ && h.type != kRotateEvent) {
    return Status::Corruption("{} event before any FORMAT_DESCRIPTION event @ {}", EventTypeName(h.type), Where());
  }
  Status st = FeedBody(h, r, event, handler);
  if (!st.ok() && st.code() == StatusCode::kCorruption && st.message().find(" @ ") == std::string::npos) {
    return st.WithSuffix("@ " + Where());
  }
  return st;
}

Status BinlogDecoder::FeedBody(const EventHeader& h, ByteReader& body, std::string_view event,
                               ChangeHandler& handler) {
  const bool carries_rows = h.type == kTableMapEvent || IsRowsEvent(h.type) || h.type == kTransactionPayloadEvent;
  if (carries_rows && xa_group_ && !replaying_xa_) {
    HoldXaEvent(event, body);
    return Status::Ok();
  }
  if (!options_.decode_rows && carries_rows) return Status::Ok();
  switch (h.type) {
    case kRotateEvent: {
      ASSIGN_OR_RETURN(RotateEvent rot, ParseRotate(body));
      file_ = std::string(rot.next_file);
      next_offset_ = rot.position;
      event_offset_ = rot.position;
      if (!in_txn_) committed_ = {file_, rot.position};
      return Status::Ok();
    }
    case kQueryEvent:
    case kQueryCompressedEvent:
      return OnQuery(h, body, h.type == kQueryCompressedEvent, handler);
    case kXidEvent:
      return Commit(h, handler);
    case kXaPrepareEvent:
      return OnXaPrepare(h, body, handler);
    case kTableMapEvent:
      return OnTableMap(body);
    case kExecuteLoadQueryEvent: {
      // A LOAD DATA of a session with binlog_format=STATEMENT: no rows follow.
      RETURN_IF_ERROR(ParseExecuteLoadQuery(body, query_));
      auto dml = ParseStatementDml(TrimStatement(query_.query), query_.db);
      return dml ? OnStatementDml(*dml) : Status::Ok();
    }
    case kMariadbGtidEvent: {
      ASSIGN_OR_RETURN(MariadbGtidEvent g, ParseMariadbGtid(body));
      gtid_kind_ = GtidKind::kMariadb;
      mariadb_gtid_ = MariadbGtid{g.domain, h.server_id, g.seq};
      gtid_ = mariadb_gtid_.ToString();
      RETURN_IF_ERROR(BeginTransaction(h, handler));
      // Without FL_STANDALONE the group is a transaction (MariaDB writes
      // no BEGIN then): a statement in it is no DDL.
      if (!(g.flags & MariadbGtidEvent::kStandalone)) explicit_begin_ = true;
      if ((g.flags & MariadbGtidEvent::kPreparedXa) && !replaying_xa_) {
        // MariaDB logs the group's XA START here.
        XaStatement start;
        start.kind = XaStatement::Kind::kStart;
        start.xid = g.xid;
        return OnXa(h, start, handler);
      }
      return Status::Ok();
    }
    case kGtidEvent:
    case kAnonymousGtidEvent:
    case kGtidTaggedEvent: {
      if (h.type == kGtidTaggedEvent) {
        return Status::Error(StatusCode::kNotSupported, "tagged GTIDs (MySQL 8.3+) are not supported @ {}", Where());
      }
      ASSIGN_OR_RETURN(mysql_gtid_, ParseMysqlGtid(body));
      if (h.type == kGtidEvent) {
        gtid_kind_ = GtidKind::kMysql;
        gtid_ = fmt::format("{}:{}", UuidToString(mysql_gtid_.sid), mysql_gtid_.gno);
      } else {
        gtid_kind_ = GtidKind::kNone;
        gtid_.clear();
      }
      return BeginTransaction(h, handler);
    }
    case kPreviousGtidsEvent: {
      ASSIGN_OR_RETURN(MysqlGtidSet set, MysqlGtidSet::Decode(body.Rest()));
      if (mysql_state_.empty()) mysql_state_ = std::move(set);
      return Status::Ok();
    }
    case kMariadbGtidListEvent: {
      ASSIGN_OR_RETURN(MariadbGtidList list, ParseMariadbGtidList(body));
      if (mariadb_state_.empty()) mariadb_state_ = std::move(list);
      return Status::Ok();
    }
    case kTransactionPayloadEvent:
      return OnPayload(h, body, handler);
    case kHeartbeatEvent:
    case kHeartbeatEventV2:
      return handler.OnHeartbeat(uint64_t{h.timestamp} * 1000);
    case kIncidentEvent:
      return Status::Error(StatusCode::kCorruption,
                           "INCIDENT event: the source server reports lost changes (e.g. a failed "
                           "statement or a binlog gap) @ {}; re-snapshot the affected tables",
                           Where());
    default:
      if (IsRowsEvent(h.type)) return OnRows(h, body, handler);
      // STOP, INTVAR, RAND, USER_VAR, ANNOTATE_ROWS, ROWS_QUERY, checkpoints,
      // ignorable and padding events carry nothing a row stream needs.
      return Status::Ok();
  }
}

Status BinlogDecoder::BeginTransaction(const EventHeader& h, ChangeHandler& handler) {
  if (in_txn_) {
    // A new group while one is open means its end was lost (a truncated
    // binlog); we can only decode what we have, so close the old one.
    RETURN_IF_ERROR(Commit(h, handler));
  }
  in_txn_ = true;
  txn_start_ = {file_, event_offset_};
  txn_rows_ = 0;
  txn_marked_ = false;
  txn_ts_ms_ = uint64_t{h.timestamp} * 1000;
  TransactionInfo info;
  info.gtid = gtid_;
  info.file = file_;
  info.offset = event_offset_;
  info.ts_ms = txn_ts_ms_;
  return handler.OnBegin(info);
}

Status BinlogDecoder::BeginExplicitly(const EventHeader& h, ChangeHandler& handler) {
  Status st = Status::Ok();
  if (!in_txn_) {
    gtid_.clear();
    gtid_kind_ = GtidKind::kNone;
    st = BeginTransaction(h, handler);
  }
  explicit_begin_ = true;
  return st;
}

Status BinlogDecoder::Commit(const EventHeader& h, ChangeHandler& handler) {
  if (gtid_kind_ == GtidKind::kMariadb) {
    mariadb_state_.Update(mariadb_gtid_);
  } else if (gtid_kind_ == GtidKind::kMysql) {
    mysql_state_.Add(mysql_gtid_.sid, mysql_gtid_.gno);
  }
  committed_.file = file_;
  committed_.offset = payload_depth_ > 0 ? payload_next_offset_ : next_offset_;
  gtid_state_text_ = GtidState();
  CommitInfo info;
  info.gtid = gtid_;
  info.file = committed_.file;
  info.next_offset = committed_.offset;
  info.gtid_state = gtid_state_text_;
  info.ts_ms = txn_ts_ms_ ? txn_ts_ms_ : uint64_t{h.timestamp} * 1000;
  info.rows = txn_rows_;
  info.peer_marked = txn_marked_;
  if (txn_marked_) ++marked_transactions_;
  txn_marked_ = false;
  in_txn_ = false;
  explicit_begin_ = false;
  xa_group_ = false;
  Status st = handler.OnCommit(info);
  gtid_.clear();
  gtid_kind_ = GtidKind::kNone;
  return st;
}

Status BinlogDecoder::OnQuery(const EventHeader& h, ByteReader& body, bool compressed, ChangeHandler& handler) {
  RETURN_IF_ERROR(ParseQuery(body, compressed, query_));
  std::string_view q = TrimStatement(query_.query);
  if (auto xa = ParseXaStatement(q)) return OnXa(h, *xa, handler);
  if (StartsWithWord(q, "BEGIN")) return BeginExplicitly(h, handler);
  if (StartsWithWord(q, "COMMIT") || (StartsWithWord(q, "ROLLBACK") && q.find(" TO ") == std::string_view::npos &&
                                      q.find(" to ") == std::string_view::npos)) {
    return Commit(h, handler);
  }
  if (StartsWithWord(q, "SAVEPOINT") || StartsWithWord(q, "ROLLBACK") || StartsWithWord(q, "RELEASE")) {
    return Status::Ok();
  }
  bool opens_transaction = false;
  if (IsCreateTable(q)) {
    std::string_view create = WithoutStartTransaction(query_.query, &opens_transaction);
    if (opens_transaction) {
      // MySQL 8's CREATE TABLE ... SELECT: the transaction goes on after it.
      query_.query = create;
      RETURN_IF_ERROR(BeginExplicitly(h, handler));
    }
  }
  if (in_txn_ && explicit_begin_) {
    // A row change logged as text inside a transaction; any other
    // statement there changes no rows. (Standalone statements are DDL, and
    // the server's own, like the DELETE that empties a MEMORY table after a
    // restart, go to the DDL handling.)
    if (auto dml = ParseStatementDml(q, query_.db)) return OnStatementDml(*dml);
    // CREATE TABLE ... SELECT: MariaDB logs the CREATE (with the columns it
    // made) inside the transaction, before the copied rows. It takes its
    // place there, like a row: the rows after it need the table.
    if (IsCreateTable(q)) {
      TellResolverDdl();
      DdlInfo ddl = DdlOf(h);
      ddl.in_transaction = true;
      return handler.OnDdl(ddl);
    }
    return Status::Ok();
  }
  if (!in_txn_) RETURN_IF_ERROR(BeginTransaction(h, handler));
  TellResolverDdl();
  RETURN_IF_ERROR(handler.OnDdl(DdlOf(h)));
  return Commit(h, handler);
}

void BinlogDecoder::TellResolverDdl() {
  if (!options_.resolver) return;
  DdlQuoting quoting;
  if (query_.sql_mode) {
    std::string modes = SqlModeNames(*query_.sql_mode, fd_.is_mariadb);
    quoting.ansi_quotes = modes.find("ANSI_QUOTES") != std::string::npos;
    quoting.no_backslash_escapes = modes.find("NO_BACKSLASH_ESCAPES") != std::string::npos;
  }
  options_.resolver->OnDdl(query_.query, query_.db, quoting, BinlogFilePos{file_, event_offset_});
}

DdlInfo BinlogDecoder::DdlOf(const EventHeader& h) const {
  DdlInfo ddl;
  ddl.db = query_.db;
  ddl.query = query_.query;
  ddl.gtid = gtid_;
  ddl.file = file_;
  ddl.offset = event_offset_;
  ddl.ts_ms = uint64_t{h.timestamp} * 1000;
  if (query_.sql_mode) ddl.session.sql_mode = SqlModeNames(*query_.sql_mode, fd_.is_mariadb);
  ddl.session.charset_client = query_.charset_client;
  ddl.session.collation_connection = query_.collation_connection;
  ddl.session.collation_server = query_.collation_server;
  ddl.session.time_zone.assign(query_.time_zone);
  if (fd_.is_mariadb && query_.flags2) {
    // MariaDB logs the session's explicit_defaults_for_timestamp in flags2
    // (OPTION_EXPLICIT_DEF_TIMESTAMP); a server without the variable
    // behaves as OFF and logs the bit clear.
    ddl.session.explicit_defaults_for_timestamp = (*query_.flags2 & kMariadbExplicitDefaultsForTimestamp) != 0;
  } else {
    ddl.session.explicit_defaults_for_timestamp = query_.explicit_defaults_for_timestamp;
  }
  return ddl;
}

Status BinlogDecoder::OnStatementDml(const StatementDml& dml) {
  // A scan for boundaries (decode_rows false) has no rows to miss.
  if (!options_.decode_rows || replaying_xa_) return Status::Ok();
  if (!dml.table.empty() && !options_.tables.Matches(dml.db, dml.table)) return Status::Ok();  // not ours
  const std::string what = dml.table.empty() ? "tables it names" : fmt::format("`{}`.`{}`", dml.db, dml.table);
  std::string text(query_.query.substr(0, 200));
  return Status::Error(StatusCode::kNotSupported,
                       "{} of {} logged as a statement, without row images @ {}: the session ran with "
                       "binlog_format=STATEMENT or MIXED, and a row stream cannot carry it (statement: {}{}). Set "
                       "binlog_format=ROW for every session (and in my.cnf); then bring the target up to date: "
                       "re-snapshot the table, or run the statement on the targets, and set the pipeline's position "
                       "past this transaction",
                       dml.verb, what, Where(), text, query_.query.size() > 200 ? " ..." : "");
}

Status BinlogDecoder::OnTableMap(ByteReader& body) {
  size_t start = body.pos();
  std::string_view raw(reinterpret_cast<const char*>(body.cursor()), body.remaining());
  uint8_t phl = fd_.PostHeaderLength(kTableMapEvent, 8);
  uint64_t table_id = phl == 6 ? body.U32() : body.U48();
  if (!body.ok()) return Status::Corruption("TABLE_MAP: truncated");
  auto it = tables_.find(table_id);
  if (it != tables_.end() && it->second.raw == raw) return Status::Ok();  // same map as before
  body.Seek(start);
  TableMap& map = table_map_scratch_;
  RETURN_IF_ERROR(ParseTableMap(body, phl, fd_.is_mariadb, map));
  CachedTable entry;
  entry.raw = std::string(raw);
  entry.mark = !options_.drop_marked_by.empty() && map.db == "_sluice" && map.table == "checkpoints";
  entry.selected = !entry.mark && options_.tables.Matches(map.db, map.table);
  if (entry.mark) {
    entry.schema = std::make_shared<TableSchema>(map.schema);  // read by position: sluice's own table
  } else if (entry.selected) {
    if (options_.resolver) {
      Status st = options_.resolver->Resolve(map, BinlogFilePos{file_, event_offset_});
      if (!st.ok()) return st.WithSuffix("@ " + Where());
    }
    entry.schema = std::make_shared<TableSchema>(map.schema);
  }
  tables_[table_id] = std::move(entry);
  return Status::Ok();
}

Status BinlogDecoder::OnRows(const EventHeader& h, ByteReader& body, ChangeHandler& handler) {
  uint8_t phl = fd_.PostHeaderLength(h.type, 10);
  if (h.type >= kWriteRowsEventV1 && h.type <= kDeleteRowsEventV1) phl = fd_.PostHeaderLength(h.type, 8);
  // Read the table id first: rows of unselected tables are skipped undecoded.
  size_t start = body.pos();
  uint64_t table_id = phl == 6 ? body.U32() : body.U48();
  auto it = tables_.find(table_id);
  if (it == tables_.end()) {
    return Status::Corruption("{}: table id {} has no TABLE_MAP", EventTypeName(h.type), table_id);
  }
  if (!it->second.selected && !it->second.mark) return Status::Ok();
  // The rest of a transaction the peer applied is dropped undecoded.
  if (txn_marked_) return Status::Ok();
  body.Seek(start);
  RETURN_IF_ERROR(ParseRowsEventHeader(body, h.type, phl, rows_scratch_, rows_event_));
  const TableSchema& schema = *it->second.schema;
  if (rows_event_.width != schema.columns.size()) {
    return Status::Error(StatusCode::kSchemaMismatch,
                         "{} of `{}`.`{}` has {} columns but its TABLE_MAP has {} @ {}", EventTypeName(h.type),
                         schema.db, schema.table, rows_event_.width, schema.columns.size(), Where());
  }
  if (it->second.mark) {
    ASSIGN_OR_RETURN(std::string marked_by, CarriesMark(schema));
    if (!marked_by.empty() && in_txn_) {
      if (txn_rows_ > 0) {
        // Rows before the mark were delivered already: not a transaction
        // sluice's target wrote (its checkpoint rows come first).
        spdlog::warn("the mark of pipeline {} follows {} row(s) in the transaction @ {}; kept", marked_by,
                     txn_rows_, Where());
      } else {
        txn_marked_ = true;
      }
    }
    return Status::Ok();
  }
  bool implicit_txn = !in_txn_;
  if (implicit_txn) RETURN_IF_ERROR(BeginTransaction(h, handler));

  RowChange change;
  change.op = rows_event_.op;
  change.table = &schema;
  change.table_ptr = it->second.schema;
  change.ts_ms = uint64_t{h.timestamp} * 1000;
  change.gtid = gtid_;
  change.file = file_;
  change.offset = event_offset_;
  change.no_foreign_key_checks = (rows_event_.flags & RowsEvent::kNoForeignKeyChecksFlag) != 0;
  ByteReader rows(rows_event_.rows);
  while (!rows.at_end()) {
    arena_.Reset();
    Status st;
    const bool is_update = rows_event_.op == Op::kUpdate;
    if (rows_event_.op == Op::kInsert) {
      st = row_decoder_.Decode(rows, schema, rows_event_.present_before, false, nullptr, arena_, after_);
    } else {
      st = row_decoder_.Decode(rows, schema, rows_event_.present_before, false, nullptr, arena_, before_);
      if (st.ok() && is_update) {
        st = row_decoder_.Decode(rows, schema, rows_event_.present_after, rows_event_.partial_json, &before_,
                                 arena_, after_);
      }
    }
    if (!st.ok()) {
      return st.WithContext(fmt::format("decode {} of `{}`.`{}`", EventTypeName(h.type), schema.db, schema.table))
          .WithSuffix("@ " + Where());
    }
    change.before = rows_event_.op == Op::kInsert ? nullptr : &before_;
    change.after = rows_event_.op == Op::kDelete ? nullptr : &after_;
    ++txn_rows_;
    ++rows_;
    RETURN_IF_ERROR(handler.OnRow(change));
  }
  if (implicit_txn && (rows_event_.flags & RowsEvent::kStmtEndFlag)) return Commit(h, handler);
  return Status::Ok();
}

// `_sluice`.`checkpoints` starts with (pipeline VARCHAR, target, part, ...):
// a row whose first column is one of drop_marked_by marks the transaction.
Result<std::string> BinlogDecoder::CarriesMark(const TableSchema& schema) {
  ByteReader rows(rows_event_.rows);
  std::string marked;
  while (!rows.at_end()) {
    arena_.Reset();
    Status st;
    // Before image for a delete and an update, after image for an insert:
    // the key (and so the pipeline) is in either.
    st = row_decoder_.Decode(rows, schema, rows_event_.present_before, false, nullptr, arena_,
                             rows_event_.op == Op::kInsert ? after_ : before_);
    if (st.ok() && rows_event_.op == Op::kUpdate) {
      st = row_decoder_.Decode(rows, schema, rows_event_.present_after, rows_event_.partial_json, &before_, arena_,
                               after_);
    }
    if (!st.ok()) return st.WithContext("decode `_sluice`.`checkpoints`").WithSuffix("@ " + Where());
    const std::vector<Value>& image = rows_event_.op == Op::kInsert ? after_ : before_;
    if (image.empty() || image[0].is_null()) continue;
    for (const std::string& name : options_.drop_marked_by) {
      if (image[0].s == name) marked = name;
    }
  }
  return marked;
}

// The payload is a zstd stream of ordinary events without checksums. It is
// decompressed in pieces and each complete event decoded as soon as it is
// whole, so memory stays bounded by the largest single event.
Status BinlogDecoder::OnPayload(const EventHeader& h, ByteReader& body, ChangeHandler& handler) {
  ASSIGN_OR_RETURN(TransactionPayload p, ParseTransactionPayload(body));
  payload_depth_ = 1;
  payload_next_offset_ = next_offset_;
  struct DepthReset {
    int& d;
    ~DepthReset() { d = 0; }
  } reset{payload_depth_};

  std::string& buf = payload_scratch_;
  buf.clear();
  size_t consumed = 0;
  auto drain = [&]() -> Status {
    while (buf.size() - consumed >= kEventHeaderSize) {
      ByteReader hr(reinterpret_cast<const uint8_t*>(buf.data() + consumed), buf.size() - consumed);
      EventHeader inner = EventHeader::Read(hr);
      if (inner.event_size < kEventHeaderSize) {
        return Status::Corruption("TRANSACTION_PAYLOAD: inner event size {}", inner.event_size);
      }
      if (buf.size() - consumed < inner.event_size) break;
      RETURN_IF_ERROR(Feed(std::string_view(buf.data() + consumed, inner.event_size), handler));
      consumed += inner.event_size;
    }
    if (consumed > 0 && consumed * 2 > buf.size()) {
      buf.erase(0, consumed);
      consumed = 0;
    }
    return Status::Ok();
  };

  if (p.compression_type == 255) {  // NONE
    buf.assign(p.payload);
    RETURN_IF_ERROR(drain());
  } else if (p.compression_type == 0) {
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    ZSTD_inBuffer in{p.payload.data(), p.payload.size(), 0};
    constexpr size_t kChunk = 128 * 1024;
    size_t ret = 1;
    while (in.pos < in.size || ret != 0) {
      size_t old = buf.size();
      buf.resize(old + kChunk);
      ZSTD_outBuffer out{buf.data() + old, kChunk, 0};
      ret = ZSTD_decompressStream(dctx.get(), &out, &in);
      if (ZSTD_isError(ret)) {
        return Status::Corruption("TRANSACTION_PAYLOAD: zstd: {}", ZSTD_getErrorName(ret));
      }
      buf.resize(old + out.pos);
      RETURN_IF_ERROR(drain());
      if (out.pos == 0 && in.pos == in.size) break;
    }
  } else {
    return Status::Error(StatusCode::kNotSupported, "TRANSACTION_PAYLOAD: compression type {} @ {}",
                         p.compression_type, Where());
  }
  if (buf.size() != consumed) {
    return Status::Corruption("TRANSACTION_PAYLOAD: {} trailing bytes after the last event", buf.size() - consumed);
  }
  (void)h;
  return Status::Ok();
}

}  // namespace sluice::mysql
