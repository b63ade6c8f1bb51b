#pragma once
// BinlogDecoder: turns a sequence of raw binlog events (from a file or a
// replication connection) into row changes, DDL and transaction boundaries.
// It owns the transaction-boundary state machine: the committed position moves
// only at XID / COMMIT / a standalone DDL group, never inside a transaction.
// One decoder per stream, used from one thread.

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/arena.h"
#include "core/position.h"
#include "core/status.h"
#include "source/mysql/binlog/event_types.h"
#include "source/mysql/binlog/events.h"
#include "source/mysql/binlog/rows_event.h"
#include "source/mysql/binlog/table_map.h"
#include "source/mysql/binlog/statement_dml.h"
#include "source/mysql/binlog/xa.h"
#include "source/mysql/schema_resolver.h"
#include "source/source.h"

namespace sluice::mysql {

// Selects tables by "db.table" glob patterns ('*', '?'); empty selects all.
class TableFilter {
 public:
  TableFilter() = default;
  explicit TableFilter(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {}
  bool Matches(std::string_view db, std::string_view table) const;

 private:
  std::vector<std::string> patterns_;
};

// An XA transaction prepared and not yet committed or rolled back: the raw
// events of its XA START group, replayed as the transaction of its XA COMMIT.
struct PreparedXa {
  BinlogFilePos at;                 // where the XA START group begins
  std::vector<std::string> events;  // TABLE_MAP, ROWS and payload events, without checksums
  size_t bytes = 0;
  bool complete = true;  // false: over Options::xa_memory_limit; read again from `at`
};

// Reads an XA transaction's prepared group from the binlog again, for an
// XA COMMIT whose XA PREPARE the decoder did not keep (the stream started
// after it, or the group was over the memory limit). Called on the decoding
// thread.
class PreparedXaFinder {
 public:
  virtual ~PreparedXaFinder() = default;
  // The group prepared last as `xid` before `before`, searching from `hint`
  // when given, else back from `before` file by file. NotFound when the
  // binlog no longer holds it.
  virtual Result<PreparedXa> Find(const XidKey& xid, const BinlogFilePos& before, const BinlogFilePos* hint) = 0;
};

class BinlogDecoder {
 public:
  struct Options {
    bool verify_checksums = true;
    TableFilter tables;
    SchemaResolver* resolver = nullptr;  // null: names from metadata only, "@N" otherwise
    // Two-way sync (design §13), or a target that is the source server
    // itself: a transaction that writes a row of one of these pipelines in
    // `_sluice`.`checkpoints` was applied by it; its row changes are dropped
    // and its commit says so (CommitInfo::peer_marked). The mark must come
    // first in the transaction (sluice's MySQL target writes its checkpoint
    // rows first). Empty for none.
    std::vector<std::string> drop_marked_by;
    // XA transactions: the rows logged at XA PREPARE are held until their
    // XA COMMIT (delivered there, as that group's transaction) or dropped at
    // XA ROLLBACK. Held groups take at most this many bytes in all; a
    // larger one is read again through xa_finder at its commit.
    PreparedXaFinder* xa_finder = nullptr;
    size_t xa_memory_limit = size_t{64} << 20;
    // false: decode no rows, only transaction boundaries and the XA groups
    // held (a PreparedXaFinder's scan).
    bool decode_rows = true;
  };

  explicit BinlogDecoder(Options options);

  // Decodes one whole event (header, body and checksum trailer). `offset` is
  // the event's position in its binlog file when the caller knows it (file
  // sources); 0 lets the decoder derive it from the header.
  Status Feed(std::string_view event, ChangeHandler& handler, uint64_t offset = 0);

  // Where the stream starts: the binlog file a reader opened.
  void SetFile(std::string_view file) { file_ = std::string(file); }
  // Whether events that precede the first FORMAT_DESCRIPTION (the fake ROTATE
  // a dump thread sends first) carry a checksum: the server's binlog_checksum.
  void SetChecksumBeforeFormat(bool crc32) { checksum_before_fd_ = crc32; }
  const std::string& file() const { return file_; }

  // The last transaction boundary: resuming here neither loses nor repeats.
  const BinlogFilePos& committed() const { return committed_; }
  std::string GtidState() const;
  // The MariaDB GTID state as a list (empty for MySQL streams).
  const MariadbGtidList& mariadb_gtid_state() const { return mariadb_state_; }
  bool in_transaction() const { return in_txn_; }
  // Forgets a transaction that was cut off (a lost connection): the stream
  // will be re-read from committed().
  void AbortTransaction() {
    in_txn_ = false;
    xa_group_ = false;
    xa_open_ = PreparedXa{};
    explicit_begin_ = false;
    txn_marked_ = false;
    gtid_.clear();
    gtid_kind_ = GtidKind::kNone;
    file_ = committed_.file;
    next_offset_ = committed_.offset;
  }
  const FormatDescription& format() const { return fd_; }
  uint64_t events() const { return events_; }
  uint64_t rows() const { return rows_; }
  // Transactions dropped for carrying the drop_marked_by mark.
  uint64_t marked_transactions() const { return marked_transactions_; }
  // The XA transaction prepared as `xid` and not yet ended; null if none.
  const PreparedXa* FindPrepared(const XidKey& xid) const;
  size_t prepared_xa() const { return prepared_xa_.size(); }
  // Seeds the GTID state (e.g. the position a stream was started from).
  void SetMariadbGtidState(const MariadbGtidList& list) { mariadb_state_ = list; }
  void SetMysqlGtidState(const MysqlGtidSet& set) { mysql_state_ = set; }

 private:
  struct CachedTable {
    std::string raw;      // TABLE_MAP body bytes, to reuse the schema when unchanged
    bool selected = false;
    bool mark = false;  // `_sluice`.`checkpoints` while drop_marked_by is set
    std::shared_ptr<TableSchema> schema;
  };

  Status FeedBody(const EventHeader& h, ByteReader& body, std::string_view event, ChangeHandler& handler);
  Status OnQuery(const EventHeader& h, ByteReader& body, bool compressed, ChangeHandler& handler);
  // The DDL statement of the QUERY event just parsed (query_), with its session.
  DdlInfo DdlOf(const EventHeader& h) const;
  // The DDL statement just parsed (query_) ends what the resolver knows of the tables it touched.
  void TellResolverDdl();
  Status OnTableMap(ByteReader& body);
  // A row change logged as SQL text (session binlog_format STATEMENT or
  // MIXED): an error when it concerns the selected tables.
  Status OnStatementDml(const StatementDml& dml);
  Status OnRows(const EventHeader& h, ByteReader& body, ChangeHandler& handler);
  // The pipeline of drop_marked_by whose row a rows event of the mark
  // table writes; "" for none.
  Result<std::string> CarriesMark(const TableSchema& schema);
  Status OnPayload(const EventHeader& h, ByteReader& body, ChangeHandler& handler);
  Status BeginTransaction(const EventHeader& h, ChangeHandler& handler);
  // BEGIN or XA START: opens the group unless its GTID event did.
  Status BeginExplicitly(const EventHeader& h, ChangeHandler& handler);
  // XA: statements, the open group's events, the prepared groups.
  Status OnXa(const EventHeader& h, const XaStatement& xa, ChangeHandler& handler);
  Status OnXaPrepare(const EventHeader& h, ByteReader& body, ChangeHandler& handler);
  void HoldXaEvent(std::string_view event, const ByteReader& body);
  Status CommitPrepared(const EventHeader& h, const XidKey& xid, ChangeHandler& handler);
  Status ReplayXa(const PreparedXa& xa, const XidKey& xid, ChangeHandler& handler);
  void ForgetPrepared(const XidKey& xid);
  Status Commit(const EventHeader& h, ChangeHandler& handler);
  std::string Where() const;  // "binlog.000003:1234" of the current event

  Options options_;
  FormatDescription fd_;
  bool have_fd_ = false;
  bool checksum_before_fd_ = false;
  std::string file_;
  uint64_t event_offset_ = 0;  // start of the event being decoded
  uint64_t next_offset_ = 0;   // end of it
  BinlogFilePos committed_;
  bool in_txn_ = false;
  bool explicit_begin_ = false;  // the group opened with BEGIN: statements inside are not DDL
  uint64_t txn_rows_ = 0;
  bool txn_marked_ = false;  // the open transaction carries the peer's mark
  uint64_t marked_transactions_ = 0;
  uint64_t txn_ts_ms_ = 0;
  std::string gtid_;          // GTID of the current transaction
  MariadbGtid mariadb_gtid_;  // parsed form of gtid_
  MysqlGtidEvent mysql_gtid_;
  enum class GtidKind : uint8_t { kNone, kMariadb, kMysql } gtid_kind_ = GtidKind::kNone;
  MariadbGtidList mariadb_state_;
  MysqlGtidSet mysql_state_;
  std::string gtid_state_text_;
  BinlogFilePos txn_start_;  // where the open group begins
  bool xa_group_ = false;     // the open group began with XA START: its events are held
  XidKey xa_xid_;
  PreparedXa xa_open_;
  std::unordered_map<XidKey, PreparedXa> prepared_xa_;
  size_t prepared_xa_bytes_ = 0;
  bool replaying_xa_ = false;
  int payload_depth_ = 0;
  uint64_t payload_next_offset_ = 0;

  std::unordered_map<uint64_t, CachedTable> tables_;
  TableMap table_map_scratch_;
  RowsEvent rows_event_;
  std::string rows_scratch_;
  std::string payload_scratch_;
  RowImageDecoder row_decoder_;
  Arena arena_;
  std::vector<Value> before_;
  std::vector<Value> after_;
  QueryEvent query_;
  uint64_t events_ = 0;
  uint64_t rows_ = 0;
};

}  // namespace sluice::mysql
