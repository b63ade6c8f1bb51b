#pragma once
// ClickhouseSink: keeps ClickHouse tables equal to their source tables over
// the HTTP interface (design section 9).
//
// Each target table `db`.`table` (names after `to:` renames) is created when
// missing as
//   ReplacingMergeTree(_version) ORDER BY (key columns)
// with the mapped columns (type_map.h) plus `_version UInt64` (version.h:
// derived from the change's stream position, growing in source order) and
// `_sign Int8` (1 live, -1 deleted). An upsert writes the row with _sign 1, a
// delete writes the key and the last image with _sign -1, so that
//   SELECT ... FROM db.table FINAL WHERE _sign = 1
// equals the source table. Changes to one key inside a batch are merged to
// the last one; each table's rows go in one RowBinary INSERT.
//
// Delivery: idempotent replays. After a batch's rows are inserted, its end
// is recorded in `_sluice`.`checkpoints` (a ReplacingMergeTree by pipeline
// and target), read on Open: a crash between the two makes the next run
// write the same rows with the same versions again, which FINAL collapses.
//
// A value ClickHouse cannot hold exactly (a date outside 1970-01-02 ..
// 2105-12-31) fails the batch before anything of it is written, naming
// table, key and position (on_error: stop), or is logged to skip_log and
// left out (on_error: skip). A server that cannot be reached gives a
// retryable error.
//
// DDL: a table's shape follows the source: on the first rows after an ALTER,
// columns the target lacks are added (ALTER TABLE ADD COLUMN) and columns the
// source dropped are dropped. DROP TABLE, TRUNCATE TABLE, CREATE and DROP
// DATABASE are applied; index statements are skipped; statements whose
// effect ClickHouse rows cannot follow (RENAME TABLE, renaming a column,
// changing the key, ADD COLUMN with a non-NULL DEFAULT that earlier rows
// would lack) fail with a clear error. Keyless tables are refused.
//
// Owned and called by one pipeline target thread.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/clickhouse/http_client.h"
#include "core/sink_change.h"
#include "sink/checkpoint_rows.h"
#include "sink/clickhouse/clickhouse_tables.h"
#include "sink/clickhouse/type_map.h"
#include "sink/sink.h"

namespace sluice::sink::clickhouse {

class ClickhouseSink : public Sink {
 public:
  static Result<std::unique_ptr<ClickhouseSink>> Open(const SinkOptions& options);

  Status ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) override;
  Status AdvanceCheckpoint(const BatchEnd& end) override;
  Status ResetCheckpoint() override;
  Status ApplyDdl(const DdlChange& ddl, const BatchEnd& end) override;
  Result<std::vector<std::string>> TargetColumns(const std::string& db, const std::string& table) override;
  Status Reconnect() override;
  // kCascade changes: the child rows' next versions, selected from their
  // current ones (ch_cascade.cc), between the inserts of the rows around them.
  bool applies_cascades() const override { return true; }

 private:
  explicit ClickhouseSink(SinkOptions options, sluice::clickhouse::ClientOptions client)
      : options_(std::move(options)), client_options_(std::move(client)) {}

  // A target table checked (created, reconciled) for one source schema version.
  struct TableState {
    TargetTablePtr pin;
    TableWriter writer;
  };
  Status Connect();
  Status EnsureCheckpointTable();
  Status ReadCheckpoint();
  // Before a write: when the next request would go over a connection other
  // than the one the checkpoint was last read on, the server may have been
  // restarted from an older state meanwhile without a request failing (HTTP
  // makes a new connection silently), so the checkpoint is read again first:
  // one back from an older state answers kTargetRewound before anything
  // lands on it.
  Status ReadCheckpointIfReconnected();
  // Whether every request since the checkpoint was read went over the
  // connection it was read on, and the next one will too.
  bool SameConnectionSinceRead();
  void WarnConnectionsTellNothing() const;
  Status WriteCheckpoint(const StreamPos& global, const std::string& resume_position, const std::string& gtid_state);
  Result<const TableState*> EnsureTable(const TargetTablePtr& table);
  // Adds the row of `c` to `out`; a value the target cannot hold goes to Reject.
  Status AppendRow(std::string& out, const TableState& t, const SinkChange& c);
  // on_error: skip logs the change durably and returns Ok (leave it out);
  // otherwise the error, naming pipeline, target, table, key and position.
  Status Reject(const SinkChange& c, const Status& error);
  std::string Where(const SinkChange& c) const;
  Status Run(const std::string& sql);
  // ApplyDdl: the columns a MySQL source's ALTER added (ddl.added_columns),
  // with the value the rows already there hold; a table not made yet is
  // made with its first rows.
  Status AddColumns(const DdlChange& ddl, const BatchEnd& end);
  // The checkpoint after a DDL, over the connection its effect went over (as
  // a batch's rows do): otherwise retryable, and the DDL is applied again.
  Status CheckpointAfterDdl(const DdlChange& ddl, const BatchEnd& end);
  // "pipeline P target T: table db.t: DDL @ pos", for messages.
  std::string DdlWhere(const DdlChange& ddl, const BatchEnd& end) const;
  Status RenameTable(const DdlChange& ddl, const std::pair<std::string, std::string>& to, const BatchEnd& end);
  Status RenameColumns(const DdlChange& ddl, const std::vector<std::pair<std::string, std::string>>& renamed,
                       const BatchEnd& end);
  // Merges `changes` per key and inserts them, one INSERT per table
  // version; adds how many it wrote to `applied`.
  Status InsertRows(std::vector<SinkChange> changes, const BatchEnd& end, size_t* applied);
  // Redoes one foreign key action (ch_cascade.cc).
  Status ApplyCascade(const SinkChange& ch);

  SinkOptions options_;
  sluice::clickhouse::ClientOptions client_options_;
  std::unique_ptr<sluice::clickhouse::ClickhouseClient> client_;
  uint64_t checkpoint_version_ = 0;  // _version of the last checkpoint row written or read
  // The position last written to the checkpoint row: found behind it after a
  // reconnect, the server lost what it had acknowledged (ReadCheckpoint).
  static constexpr int kCheckpointRow = -1;
  CommittedRows committed_;
  Status rewound_;                   // kTargetRewound once read: every later write answers it
  uint64_t read_on_connection_ = 0;  // client_->connections() when the checkpoint was last read
  bool takeover_checked_ = false;    // TakeOverRenamedTarget ran (at the first connect)
  std::map<const TargetTable*, TableState> tables_;
};

}  // namespace sluice::sink::clickhouse
