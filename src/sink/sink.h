#pragma once
// Sink: one target of a pipeline (MySQL, PostgreSQL, Kafka, ClickHouse,
// Redis, a file), chosen by its URL's scheme (sink/registry.h).
//
// Lifetime: opened by the pipeline's target thread when the pipeline starts
// (Open reads the target's recorded checkpoint), closed when it stops.
// Threading: every call comes from that one thread; a sink may run threads
// of its own inside a call (MySQL applies partitions in parallel) and
// returns only when they are done, or, if it keeps batches in flight (see
// below), a thread that sends them between calls (Kafka); checkpoint(),
// rows_applied() and in_flight() change only inside calls either way.
//
// Delivery: the pipeline hands over batches of mapped changes in stream
// order. ApplyBatch applies them and records `end` (the batch's last stream
// position and the source position to resume from) with the data, so that
// after a crash the sink knows exactly what it holds:
//   - transactional targets (MySQL, PostgreSQL, Kafka with exactly_once,
//     files) record the position in the same transaction / fsync as the
//     rows: a replay skips what is already there (exactly once);
//   - ClickHouse writes rows with a version that only grows in source
//     order, so a replay rewrites identical rows (idempotent);
//   - Redis replays converge to the same state (at least once).
// On start the pipeline resumes the source from the least advanced target's
// checkpoint().resume_position, and each sink skips changes at or before its
// checkpoint().global (StreamPos is a total order).
// Errors: a retryable Status (target down, read-only, a lock conflict)
// leaves the target consistent: the pipeline calls Reconnect and then
// ApplyBatch again with the same batch. A change the target rejects fails
// the batch, naming table, key, position and the target's message, unless
// `skip_rejected` (on_error: skip), which logs it to `skip_log` first.
// In flight: a sink may return from ApplyBatch before the target acknowledged
// the batch (Kafka overlaps batches). in_flight() then says so, and
// checkpoint() and rows_applied() advance later, inside any call, only once
// the batches are recorded; the caller reports progress from them, never
// from ApplyBatch returning, and calls Poll now and then and Flush when idle
// (or before anything that needs the target current). A batch in flight that
// fails makes a later call fail (retryable or not, as above); after
// Reconnect that call is retried and the sink sends the failed batches again
// itself, in order: a batch is handed over once. Sinks that apply each batch
// before ApplyBatch returns keep the defaults.
// State targets (SQL, ClickHouse, Redis) may merge the changes of one key
// inside a batch; log targets (Kafka, files) write every change, in order.
//
// DDL reaches a sink through ApplyDdl with the statement as the source ran
// it, parsed, and with the target table it maps to; each sink does what its
// kind can: SQL targets translate it, log targets emit it as an event,
// key-value targets ignore it.
//
// Fencing (cluster mode): `epoch` in SinkOptions is the pipeline's ownership
// epoch; a sink that can check it in the target does so in every write
// transaction, and fails with kFenced once a newer owner raised it.
// fenced() says whether this sink, with its options, does: the pipeline
// pauses the others while its ownership is in doubt (Pipeline::SetInDoubt).

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/change_event.h"
#include "core/ddl_session.h"
#include "core/interrupter.h"
#include "core/sink_change.h"
#include "core/status.h"
#include "core/url.h"

namespace sluice::sink {

// Where a batch ends: recorded with its data.
struct BatchEnd {
  StreamPos pos;                // the batch's last change (or transaction end)
  std::string resume_position;  // a transaction boundary at or before pos
  std::string gtid_state;
};

// What a target holds, read on Open and kept current by every call.
struct Checkpoint {
  StreamPos global;  // everything at or before it is applied
  // A snapshot's horizon: chunks may hold images of rows from up to here,
  // later than the changes before it that streaming replays (catch-up).
  StreamPos catch_up_until;
  std::vector<StreamPos> partitions;  // per partition, possibly ahead of global (MySQL, PostgreSQL)
  std::string resume_position;        // source "file:offset" to restart from
  std::string gtid_state;
  // Keyless tables (source "db.table") a snapshot copied whole, each with
  // the place before the first change its copy does not hold: the stream
  // leaves out the table's changes before it (ChunkTarget::RecordKeylessCopy).
  std::map<std::string, StreamPos> keyless_copied_at;
};

// The target's settings (design section 9): the common ones and each kind's own.
struct SinkOptions {
  std::string pipeline;
  std::string target;
  Url url;  // password applied (password_env); print ToRedactedString()
  uint32_t parallel = 4;
  bool skip_rejected = false;  // on_error: skip (rejected rows are logged to skip_log)
  std::string skip_log;        // JSON lines of skipped changes
  uint64_t epoch = 0;          // ownership epoch in cluster mode; 0: single process
  // Single process (epoch 0), MySQL and PostgreSQL targets: how long the
  // session of another process owning the pipeline there may sit idle
  // before this one ends it and takes over (pipeline `takeover_after`); 0:
  // never.
  uint64_t takeover_after_ms = 30'000;
  // Cuts the sink's connections when the pipeline stops and the target does
  // not answer (a hung server): a call blocked on it then fails at once
  // instead of after the target's timeouts. Outlives the sink; null: none.
  // Used by the MySQL, PostgreSQL, ClickHouse and Redis targets (their
  // connections register) and Kafka (its waits on the brokers look at it).
  Interrupter* interrupt = nullptr;
  // Two-way sync, `conflict: {policy: latest_wins, column: NAME}` (MySQL):
  // an incoming insert or update applies only when its NAME is at least the
  // target row's, a delete only when its before image's is; "" applies
  // everything (source_wins).
  std::string conflict_column;
  // Target names the pipeline ran before that the configuration no longer
  // has: a target renamed there takes over the checkpoint one of them left
  // in the database (MySQL and PostgreSQL targets; sink/mysql/renamed_target.h).
  std::vector<std::string> former_targets;

  // Kafka and files
  std::string format = "json";  // json | canal | maxwell | debezium
  // Kafka
  std::string topic = "${db}.${table}";
  std::string ddl_topic = "${pipeline}.ddl";
  bool exactly_once = false;
  // debezium
  bool schemas = false;
  bool tombstones = true;
  std::string debezium_profile = "flink";  // flink | native
  // Redis
  std::string mode = "hash";  // hash | string | stream
  std::string key = "${db}:${table}:${pk}";
  // files
  uint64_t rotate_bytes = 0;  // 0: never rotate
};

// A DDL statement of a selected table (or database), routed to one target.
struct DdlChange {
  std::string db;     // the statement's current database
  std::string query;  // as the source ran it
  // The source session's settings `query` is read with (MySQL/MariaDB
  // sources; time zones as "+HH:MM" offsets); empty for statements sluice
  // wrote itself.
  DdlSession session;
  // The table the statement's table maps to on the target (after `to:`
  // renames); empty for database statements.
  std::string target_db, target_table;
  // Same name, all columns, no renames: the statement applies unchanged.
  bool one_to_one = true;
  // All columns under their own names (the table itself may be renamed):
  // a column the statement names is the target's column of that name.
  bool same_columns = true;
  // Columns a PostgreSQL source table gained (its stream shows the new
  // shape, and `query` is the MySQL statement made from it): the target
  // table after the change. Columns it has and the target lacks are the
  // added ones (`added`: their indexes); column_meta(i).pg_missing is what
  // older rows read.
  TargetTablePtr table;
  std::vector<uint32_t> added;
  // Columns a MySQL/MariaDB source's ALTER TABLE added (for targets that
  // add columns themselves: PostgreSQL): the target's name, the source
  // column, and the value the rows already there hold on the source (its
  // default; nullopt: NULL), so the target's existing rows hold it too.
  struct AddedColumn {
    std::string name;
    ColumnMeta meta;
    std::optional<std::string> existing_value;
    // The same value decoded as the stream decodes the column's values
    // (null when NULL or not known): for targets that write it in their own
    // terms (Redis hashes).
    std::shared_ptr<const StoredValue> existing;
  };
  std::vector<AddedColumn> added_columns;
  uint64_t ts_ms = 0;
  std::string gtid;
  StreamPos pos;
};

class Sink {
 public:
  virtual ~Sink() = default;

  const Checkpoint& checkpoint() const { return checkpoint_; }
  // Applies `changes` (in stream order) and records `end`; see the header comment.
  virtual Status ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) = 0;
  // ApplyBatch for a caller that drops `changes` once the call succeeded
  // (the pipeline): a sink that keeps them beyond the call (in flight) may
  // move them out instead of copying them. On failure they stay intact, for
  // the retry.
  virtual Status ApplyBatchTakingOver(std::vector<SinkChange>& changes, const BatchEnd& end) {
    return ApplyBatch(changes, end);
  }
  // Records progress without changes (filtered-out transactions, DDL of unselected tables).
  virtual Status AdvanceCheckpoint(const BatchEnd& end) = 0;
  // Forgets this pipeline's progress on the target (a position set by hand).
  virtual Status ResetCheckpoint() = 0;
  // Forgets the progress and records `end` as the target's only checkpoint
  // (a source failover's move to the new server's coordinates). Not atomic
  // by default: a crash in between leaves no checkpoint (the pipeline's
  // store holds the move, and the next start finishes it).
  virtual Status ReplaceCheckpoint(const BatchEnd& end) {
    RETURN_IF_ERROR(ResetCheckpoint());
    return AdvanceCheckpoint(end);
  }
  // Applies or emits a DDL statement and records `end`. A statement whose
  // effect is already there (replayed after a crash) is skipped.
  virtual Status ApplyDdl(const DdlChange& ddl, const BatchEnd& end) = 0;
  // The target table's column names in order; empty when it does not exist
  // (or the target has no tables).
  virtual Result<std::vector<std::string>> TargetColumns(const std::string& db, const std::string& table) = 0;
  // Whether the target has database `db` (targets that take MySQL DDL; a
  // user granted only its tables sees it, but may not CREATE it again).
  virtual Result<bool> TargetDatabaseExists(const std::string& db) {
    (void)db;
    return false;
  }
  // Re-opens connections after a retryable error and re-reads the checkpoint.
  // kTargetRewound when the checkpoint is behind what this sink committed
  // (the target lost commits): then every later call answers the same.
  virtual Status Reconnect() = 0;
  // Batches handed over and not recorded yet (see "In flight" above).
  virtual bool in_flight() const { return false; }
  // Serves acknowledgements without waiting for them.
  virtual Status Poll() { return Status::Ok(); }
  // Waits until every batch handed over is recorded.
  virtual Status Flush() { return Status::Ok(); }
  // The input went quiet (or the pipeline stops): writes what the sink kept
  // back to save a write per batch (the MySQL target's resume row). Cheap
  // when there is nothing.
  virtual Status WriteIdle() { return Status::Ok(); }

  // Whether the sink redoes foreign key actions (kCascade changes, see
  // core/cascade.h): the pipeline leaves them out of the batches of sinks
  // that do not. One that does applies a kCascade change after every change
  // before it and before every change after it, across all its keys (it
  // touches rows it cannot hash to a partition).
  virtual bool applies_cascades() const { return false; }

  // Whether DDL is MySQL SQL that the pipeline may rewrite for renamed and
  // subset tables (the MySQL target); other sinks get every DDL of a
  // selected table as is, through ApplyDdl.
  virtual bool speaks_mysql_ddl() const { return false; }

  // Whether the target has MariaDB sequences: changes of a sequence table
  // (TargetTable::sequence) and its CREATE/ALTER/DROP SEQUENCE reach only
  // such targets; known once connected.
  virtual bool takes_sequences() const { return false; }

  // Whether every write checks `epoch` inside the target (see "Fencing"
  // above): false when epoch is 0 or the target kind cannot check it.
  virtual bool fenced() const { return false; }
  // Whether Reconnect itself takes the fence (Kafka: a new transactional
  // producer's init fences whoever holds the transactional.id, successor
  // included): the pipeline then reconnects only while it surely owns the
  // pipeline, never while the ownership is in doubt.
  virtual bool reconnect_takes_fence() const { return false; }

  uint64_t rows_applied() const { return rows_applied_; }
  // Changes the target rejected and on_error: skip logged and left out, since Open.
  uint64_t rows_skipped() const { return rows_skipped_.load(); }
  // Conflicts resolved since Open, by ("db.table" on the target, resolution).
  std::map<std::pair<std::string, std::string>, uint64_t> conflicts() const {
    std::lock_guard lock(conflicts_mu_);
    return conflicts_;
  }

 protected:
  Checkpoint checkpoint_;
  uint64_t rows_applied_ = 0;
  std::atomic<uint64_t> rows_skipped_{0};
  void NoteConflict(const std::string& table, const std::string& resolution) {
    std::lock_guard lock(conflicts_mu_);
    ++conflicts_[{table, resolution}];
  }

 private:
  mutable std::mutex conflicts_mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> conflicts_;
};

}  // namespace sluice::sink
