#pragma once
// MysqlLoader: applies mapped changes to one MySQL/MariaDB target, exactly
// once. A batch is split by key hash over `parallel` connections (one row's
// changes stay on one connection, in order); each partition merges its
// changes per key and applies them in ONE target transaction with multi-row
// statements, together with its own checkpoint row in
// `_sluice`.`checkpoints`, written first (a snapshot chunk holding those
// rows keeps the batch from running beside it, see chunk_writer.h). After every partition committed, a global row
// (part -1) records the batch end and the source position to resume from;
// it is written inside the next batch's first transaction (or when the
// input goes quiet, WriteIdle), not in a transaction of its own.
// On restart, a change is skipped when it is at or before the checkpoint of
// the partition it hashes to (or the global one): nothing is applied twice,
// nothing is lost, even when a crash split a batch between partitions.
// Partition rows hold only for the same `parallel` (they record it); after a
// change of it, the global checkpoint alone decides (at-least-once, once).
//
// Fencing (epoch > 0): Open raises the pipeline's fence and ends former
// owners' sessions; every write transaction checks the fence first (fence.h).
// Without an epoch, one process at a time: Open and every reconnect take
// the target for this process, waiting while another live one has it, and
// every write transaction checks it still does (owner.h).
//
// Owned and called by one pipeline target thread; the partitions run on
// threads of its own (kept for its life). ApplyBatch returns when they are
// done. ApplyBatchTakingOver (the pipeline's call) keeps up to two batches
// in flight (sink.h, "In flight"): it hands the batch to the partitions and
// returns. Each partition has two connections (slots) and a checkpoint row
// per slot; the batches in flight take turns on them, so a partition
// writes its part of the next batch as soon as it voted on its part of
// this one, while the other partitions still apply theirs. A batch commits
// only after the one before it committed in every partition (so the later
// of a partition's two rows is its progress); when one fails, the batches
// after it roll back and are applied again, in order, by the call that
// learns of it (or, after a retryable error, the retried call).

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <set>
#include <string>
#include <vector>

#include "client/mysql/bulk_statement.h"
#include "client/mysql/connection.h"
#include "core/change_event.h"
#include "core/commit_vote.h"
#include "core/sink_change.h"
#include "core/status.h"
#include "core/turn_order.h"
#include "core/worker_group.h"
#include "sink/checkpoint_rows.h"
#include "sink/mysql/batch_fate.h"
#include "sink/mysql/owner.h"
#include "sink/sink.h"

namespace sluice::sink::mysql {

// Where keyless tables were read by their last copy (ChunkTarget::
// RecordKeylessCopy): the place before the first change the copy does not
// hold (`position`) and the source position it read at.
inline constexpr const char* kKeylessCopiesTable =
    "CREATE TABLE IF NOT EXISTS `_sluice`.`keyless_copies` ("
    "  pipeline VARCHAR(128) NOT NULL, target VARCHAR(128) NOT NULL, tbl VARCHAR(200) NOT NULL,"
    "  position VARCHAR(600) NOT NULL, read_at VARCHAR(600) NOT NULL,"
    "  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),"
    "  PRIMARY KEY (pipeline, target, tbl)) ENGINE=InnoDB";

struct LoaderOptions {
  std::string pipeline;
  std::string target;
  sluice::mysql::ConnectOptions connect;
  uint32_t parallel = 4;
  bool skip_rejected = false;   // on_error: skip (rejected rows are logged to skip_log)
  std::string skip_log;         // JSON lines of skipped changes
  size_t max_statement_bytes = 1 << 20;
  uint64_t epoch = 0;  // cluster mode: fence every write with it (sink/mysql/fence.h); 0: none
  uint64_t takeover_after_ms = 30'000;  // epoch 0: SinkOptions::takeover_after_ms (sink/mysql/owner.h)
  std::string conflict_column;  // latest_wins: the column compared (SinkOptions); "" source_wins
  Interrupter* interrupt = nullptr;  // every session registers (SinkOptions::interrupt)
  std::vector<std::string> former_targets;  // SinkOptions::former_targets
};

class MysqlLoader : public Sink {
 public:
  static Result<std::unique_ptr<MysqlLoader>> Open(LoaderOptions options);
  ~MysqlLoader();

  // Applies `changes` (in stream order) and records `end`. Retryable errors
  // (connection lost, read-only target, deadlock) leave the target
  // consistent: calling again with the same batch finishes it. A change the
  // target rejects fails the batch (unless skip_rejected) with an error
  // naming table, key, position and the target's message; the source
  // transactions before it in its partition are committed.
  Status ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) override;
  // ApplyBatch, in flight (see the header comment): returns once the batch
  // is handed to the partitions, after the batch two before it is settled.
  // Catch-up batches (before a snapshot's horizon) apply before it returns.
  Status ApplyBatchTakingOver(std::vector<SinkChange>& changes, const BatchEnd& end) override;
  bool in_flight() const override { return !flights_.empty() || !redo_.empty(); }
  // Settles the batches in flight that are done.
  Status Poll() override;
  // Settles every batch in flight, waiting for them.
  Status Flush() override;
  // Forgets this pipeline's progress on the target (a position set by hand).
  Status ResetCheckpoint() override;
  // In one target transaction: every row of the pipeline's progress goes,
  // the global row records `end`.
  Status ReplaceCheckpoint(const BatchEnd& end) override;
  // Records progress without changes (filtered-out transactions, DDL of unselected tables).
  Status AdvanceCheckpoint(const BatchEnd& end) override;
  // Writes the global checkpoint row kept back from the last batch.
  Status WriteIdle() override;
  // Executes a DDL statement (with `USE db` first when db is given, in a
  // session with the source's `session` settings) and records `end`.
  // Statements whose effect is already there (a CREATE of an existing
  // database, an ADD COLUMN replayed after a crash) are skipped.
  Status ApplyDdlSql(const std::string& db, const std::string& query, const BatchEnd& end,
                     const DdlSession& session = {});
  // The statement as the pipeline routed it (rewritten for renamed tables).
  // Indexes a running snapshot deferred on the statement's table are built
  // first (deferred_indexes.h).
  Status ApplyDdl(const DdlChange& ddl, const BatchEnd& end) override;
  bool speaks_mysql_ddl() const override { return true; }
  // A MariaDB server (10.3 on) has sequences; a MySQL server has none.
  bool takes_sequences() const override { return takes_sequences_.load(std::memory_order_relaxed); }
  // kCascade changes: a batch holding one is applied in source order on one
  // connection (batch_cascades.cc), with nothing in flight beside it.
  bool applies_cascades() const override { return true; }
  bool fenced() const override { return options_.epoch > 0; }
  // The target table's column names in order; empty when it does not exist.
  Result<std::vector<std::string>> TargetColumns(const std::string& db, const std::string& table) override;
  Result<bool> TargetDatabaseExists(const std::string& db) override;
  // Re-opens every connection (after a retryable error) and re-reads the
  // checkpoint from the target. On failure the loader is left without
  // connections; every other call then reconnects first.
  Status Reconnect() override;

 private:
  // A prepared bulk statement (client/mysql/bulk_statement.h) of one table
  // version: kind 0 delete, 1 upsert, 2 replace (catch-up); `geometry`: the
  // columns sent as WKB.
  struct BulkKey {
    const TargetTable* table;
    int kind;
    std::vector<bool> geometry;
    auto operator<=>(const BulkKey&) const = default;
  };
  struct BulkEntry {
    TargetTablePtr pin;  // keeps the key's table address from being reused
    std::unique_ptr<sluice::mysql::BulkStatement> stmt;
  };
  struct Partition {
    std::unique_ptr<sluice::mysql::MysqlConnection> conn;
    // Statements prepared on `conn` (declared after it: closed first). Used
    // by the thread running the partition; cleared by the owner thread.
    std::map<BulkKey, BulkEntry> bulk;
  };
  // Connections (and threads) per partition: a batch in flight uses one
  // slot, the batch behind it the other, each with checkpoint rows of its own.
  static constexpr uint32_t kSlots = 2;
  // The checkpoint row of the whole batch (`part` -1): where to resume.
  static constexpr int kGlobalPart = -1;
  explicit MysqlLoader(LoaderOptions options)
      : options_(std::move(options)), workers_(options_.parallel * kSlots, "sl-apply") {}
  Result<std::unique_ptr<sluice::mysql::MysqlConnection>> OpenSession(const sluice::mysql::ConnectOptions& options);
  Status Connect();
  // Ends (KILL) the server sessions of connections given up on, and waits
  // until they are gone, before the checkpoint is read again.
  Status EndStaleSessions();
  Status EnsureConnected();
  Status EnsureCheckpointTable();
  // With an epoch: registers every session of the loader (fence.h).
  Status RegisterSessions();
  // BEGIN, then the fence check (with an epoch) or the owner check
  // (without: owner.h), first in the transaction.
  Status Begin(sluice::mysql::MysqlConnection& c);
  // BEGIN, the owner check and the statements `then`, in one round trip;
  // rolled back when this process no longer owns the target.
  Status BeginAsOwner(sluice::mysql::MysqlConnection& c, const std::string& then);
  // The fence as options describe it (pipeline, target, epoch).
  SinkOptions FenceOptions() const;
  Status ReadCheckpoint();
  std::string DeleteKeylessCopies() const;  // the statement dropping this target's records
  struct PartitionOutcome {
    bool committed = false;
    uint64_t applied = 0;  // changes applied (skipped ones not counted)
    StreamPos rejected;    // the change the target rejected (on_error: stop), if any
  };
  // Begins a transaction on `c` that first writes the checkpoint rows
  // `parts` (in that order) as of `end`, then sets the savepoint
  // `sluice_rows` for the batch's rows. Rolled back on failure.
  // `carried_global`: the global row (part -1) is written first, as of it.
  Status BeginWithCheckpoints(sluice::mysql::MysqlConnection& c, const std::vector<int>& parts,
                              const BatchEnd& end, const BatchEnd* carried_global = nullptr);
  // A batch split over the partitions, from the split until it is settled.
  struct Flight {
    std::vector<SinkChange> owned;  // in flight: the batch, taken over from the caller
    uint32_t slot = 0;              // the partitions' connections it uses (see partitions_)
    const std::vector<SinkChange>* changes = nullptr;
    BatchEnd end;
    std::vector<std::vector<const SinkChange*>> parts;  // per partition, into *changes
    std::vector<uint32_t> begun;                        // partitions with changes, ascending
    std::optional<BatchEnd> carried;                    // the global row it writes first, if any
    std::optional<uint32_t> carrier;                    // the partition writing it
    std::vector<PartitionOutcome> outcomes;
    std::vector<Status> results;
    std::unique_ptr<CommitVote> vote;
    TurnOrder turns;
    std::shared_ptr<BatchFate> fate;
    std::shared_ptr<BatchFate> before;  // the batch in flight before it, if any
  };
  // Splits changes [from, end) by partition (skipping what each partition
  // already holds) into `f`; `carry`: it may write the global row kept back.
  void Split(Flight& f, const std::vector<SinkChange>& changes, size_t from, const BatchEnd& end, bool carry);
  // Runs partition p's part of `f` on its worker: begins in its turn, applies, votes, commits.
  void RunPartition(Flight& f, uint32_t p);
  // What `f`'s partitions did, after they all ended: progress recorded, and
  // a failure resolved (see ApplyBatchNow).
  Status Conclude(const Flight& f);
  // Records what committed partitions of `f` applied.
  void RecordCommitted(const Flight& f);
  // ApplyBatch without settling what is in flight first.
  Status ApplyBatchNow(const std::vector<SinkChange>& changes, const BatchEnd& end);
  // Waits for the oldest batch in flight and settles it; when it failed,
  // every batch in flight is applied again (redo_) in order.
  Status SettleOldest();
  // Settles every batch in flight, then applies the batches to redo.
  Status Settle();
  Status DrainRedo();
  // AdvanceCheckpoint and WriteIdle without settling what is in flight
  // first (called inside the settling, or with nothing in flight).
  Status AdvanceCheckpointNow(const BatchEnd& end);
  Status WriteIdleNow();
  // Waits for every batch in flight to end and puts them all in redo_;
  // returns the first failure of their partitions (OK if none failed).
  Status GroundFlights();
  // Applies one partition's changes in its transaction (begun by RunPartition)
  // and commits it when every partition of the batch is ready (`vote`) and
  // the batch before it (`before`, if any) committed in every partition.
  Status ApplyPartition(Flight& f, uint32_t p);
  // The partition `ch` goes to: by key, or by table for tables with another
  // unique key (their changes then apply in source order).
  uint32_t PartitionOf(const SinkChange& ch) const;
  uint32_t PartitionOf(const SinkChange& ch, uint32_t parallel) const;
  // Applied over one connection in source order (ApplyCatchUp): before a
  // snapshot's horizon, or judged by the partitions of earlier `parallel` settings.
  bool InCatchUp(const SinkChange& ch) const;
  // Whether a partition of an earlier `parallel` setting committed `ch`.
  bool AppliedUnderOldScheme(const SinkChange& ch) const;
  // Past old_partitions_.until(): the earlier settings' partition rows are deleted.
  Status EndOldSchemes();
  // The partition checkpoints of other `parallel` settings (ReadCheckpoint):
  // changes up to their until() that one applied are left out.
  OldPartitionRows old_partitions_;
  // on_error: stop at the source transaction of `bad`: applies the changes
  // of `changes` before it, records that transaction's start, returns `rejection`.
  Status StopBefore(const std::vector<SinkChange>& changes, const StreamPos& bad, const Status& rejection);
  // The changes of partitions that failed on each other (deadlocks, or a
  // duplicate): applied together on one connection, in source order where
  // needed.
  Status ApplyConflicted(const std::vector<SinkChange>& changes, const std::vector<uint32_t>& conflicted,
                         const BatchEnd& end);
  // After a duplicate key in ApplyConflicted: whether a snapshot explains it
  // (re-reads the catch-up horizon; true while a snapshot is still copying).
  Result<bool> SnapshotExplainsConflict(const std::vector<SinkChange>& changes);
  Status ApplyMerged(sluice::mysql::MysqlConnection& c, const std::vector<SinkChange>& changes);
  // A batch holding kCascade changes, from `from` on: in one transaction on
  // one connection with the global row, in source order (ApplySegmented).
  Status ApplyInOrder(const std::vector<SinkChange>& changes, size_t from, const BatchEnd& end);
  // The runs of changes between kCascade changes merged per key
  // (ApplyMerged), each cascade in its place between them.
  Status ApplySegmented(sluice::mysql::MysqlConnection& c, const std::vector<SinkChange>& changes);
  // Redoes one foreign key action (cascade_sql.h) in c's transaction.
  Status ApplyCascade(sluice::mysql::MysqlConnection& c, const SinkChange& ch);
  // Applies `rows` of `t` (deletes when `del`, else upserts) as bulk
  // statements on `c`, a partition's connection: one round trip and one
  // parse per slice instead of SQL text per row. The rows that must go as
  // SQL text instead (partial upserts, a parameter mixing kinds, a server
  // without bulk execution) are appended to `rest`, in order.
  Status ApplyBulk(sluice::mysql::MysqlConnection& c, const TargetTable& t, const std::vector<const SinkChange*>& rows,
                   bool del, std::vector<const SinkChange*>& rest);
  // The Status for a server error `err` of the target: deadlocks and lock
  // wait timeouts retryable (kAborted), lost connections retryable.
  Status ServerError(unsigned err, const std::string& message) const;
  // latest_wins: whether `ch` applies, decided in the caller's transaction
  // against the target row (read FOR UPDATE); a conflict is counted and
  // logged with both images.
  Result<bool> LatestWins(sluice::mysql::MysqlConnection& c, const SinkChange& ch);
  // Conflicts decided in a transaction of `c`, counted and logged once it
  // commits (`committed`), forgotten when it rolls back.
  void SettleConflicts(const sluice::mysql::MysqlConnection& c, bool committed);
  struct PendingConflict {
    std::string table, resolution, message;
  };
  std::mutex pending_mu_;
  std::map<const sluice::mysql::MysqlConnection*, std::vector<PendingConflict>> pending_conflicts_;
  // Changes before the snapshot horizon: see ApplyBatch.
  Status ApplyCatchUp(std::vector<SinkChange> changes, const BatchEnd& end);
  // *rejected: the index of the change the target rejected (on_error: stop).
  Status ApplyOrdered(sluice::mysql::MysqlConnection& c, const std::vector<SinkChange>& changes, uint64_t* skipped,
                      size_t* rejected = nullptr, bool retry_duplicates = false);
  Status ApplyOne(sluice::mysql::MysqlConnection& c, const SinkChange& change);
  // The bytes of values per multi-row statement: options' max_statement_bytes,
  // less on a target with a small max_allowed_packet.
  size_t SliceBytes() const;
  // "partitions=N": stored in partition rows' resume_position column.
  std::string PartitionScheme() const;
  Status WriteCheckpointRow(sluice::mysql::MysqlConnection& c, int part, const BatchEnd& end);
  // The global row as of `end`, in a transaction of its own (fenced).
  Status WriteGlobalCheckpoint(const BatchEnd& end);
  std::string CheckpointRowSql(int part, const BatchEnd& end) const;
  // checkpoint_ after the global row recording `end` committed (`written`),
  // or after a batch ending at `end` committed in every partition, its
  // global row kept back in unwritten_global_.
  void NoteGlobalCheckpoint(const BatchEnd& end, bool written = true);
  // on_error: skip records the change durably in the skip log and lets it
  // be left out; otherwise (or when the record cannot be written) an error.
  Status Reject(const SinkChange& change, const Status& error);
  // Counts changes left out by a batch that committed.
  void NoteSkipped(uint64_t n);
  // `first` (when given) receives the first value of the first result set
  // with a row.
  Status RunStatement(sluice::mysql::MysqlConnection& c, const std::string& sql,
                      std::optional<std::string>* first = nullptr);
  Status RunStatementNow(sluice::mysql::MysqlConnection& c, const std::string& sql,
                         std::optional<std::string>* first = nullptr);
  // The target's generated columns and unique keys of the tables in
  // `changes`, read once per table version (on the control connection,
  // before partitions run).
  Status LoadTableInfo(const std::vector<SinkChange>& changes);
  // Per column of `t`, whether the target computes it; null when none does.
  const std::vector<bool>* GeneratedOf(const TargetTable& t) const;

  LoaderOptions options_;
  std::unique_ptr<sluice::mysql::MysqlConnection> control_;
  // Epoch 0: this process's lock on the target, kept alive (owner.h).
  std::unique_ptr<OwnerLockKeeper> owner_lock_;
  std::atomic<bool> takes_sequences_{false};
  // A sequence's rows are its state, which MariaDB writes outside any
  // transaction; one held open by a partition in flight would keep the
  // next batch's write to it waiting on the sequence's lock. So they go
  // first, on the control connection: each sequence's last state in
  // `changes`, which are then left without them. Replayed after a crash,
  // the states are written again in order, ending where the source's did.
  static bool HasSequenceChange(const std::vector<SinkChange>& changes);
  Status ApplySequenceStates(std::vector<SinkChange>& changes);
  std::set<std::string> sequences_seen_;  // `db`.`name` of sequences known to exist on the target
  // partitions_[p + slot * parallel]: partition p's connection in `slot`.
  std::vector<Partition> partitions_;
  WorkerGroup workers_;  // one per partition: a batch's partitions run on them
  // Batches handed to the partitions and not settled yet, oldest first (at most kMaxFlights).
  std::deque<std::shared_ptr<Flight>> flights_;
  // Batches that were in flight when one of them failed: applied again, in
  // order, before anything else.
  struct Redo {
    std::vector<SinkChange> changes;
    BatchEnd end;
  };
  std::deque<Redo> redo_;
  uint32_t next_slot_ = 0;  // of the next batch in flight
  // The global row of a batch applied in every partition, not yet written
  // (ApplyBatch): it rides in the next batch's first transaction, or
  // WriteIdle writes it. Behind it the partition rows decide what is applied.
  std::optional<BatchEnd> unwritten_global_;
  // What this loader committed to each checkpoint row: a row found behind it
  // after a reconnect means the target lost committed transactions (ReadCheckpoint).
  CommittedRows committed_rows_;
  // The target's max_allowed_packet (read at Connect; 16 MiB until then).
  std::atomic<size_t> max_packet_{16u << 20};
  std::atomic<bool> bulk_ok_{true};  // false once the target turned bulk execution down (not MariaDB)
  bool catch_up_ = false;  // ApplyCatchUp in progress: upserts are REPLACEs (one connection, no partition threads)
  struct TableInfo {
    TargetTablePtr pin;
    std::vector<bool> generated;  // empty when no column is generated
    bool serial = false;          // another unique key than the one rows are found by
  };
  // Keyed by table version; `pin` keeps it alive. Cleared by DDL (nothing
  // in flight then). Written by the owner thread only (under tables_mu_),
  // read by partition threads (under tables_mu_, shared) while batches fly.
  std::map<const TargetTable*, TableInfo> tables_;
  mutable std::shared_mutex tables_mu_;
  std::vector<unsigned long> stale_sessions_;  // server thread ids of connections given up on
  int64_t server_booted_ = 0;                   // the target's boot time (s since the epoch), 0 unknown
  std::mutex skip_mu_;
};

// Per column of `t`, whether the target computes it (a VIRTUAL or STORED
// generated column); empty when none is.
Result<std::vector<bool>> ReadGeneratedColumns(sluice::mysql::MysqlConnection& c, const TargetTable& t);

// Whether `change` writes ENUM's error value '' (index 0, stored by a source
// session without strict mode): strict mode refuses to write it.
bool HasEnumErrorValue(const SinkChange& change);
// Writes such a change: `sql` runs without strict mode under a savepoint (in
// the caller's transaction), and any warning but those ENUM columns' "Data
// truncated" undoes it and fails. `run` executes one statement on `c`.
Status RunWithEnumErrorValue(sluice::mysql::MysqlConnection& c, const SinkChange& change, const std::string& sql,
                             const std::function<Status(const std::string&)>& run);

// MySQL error codes worth retrying: the target is down, read-only, out of
// room or resources, or a lock conflict.
bool IsRetryableApplyError(unsigned err);

}  // namespace sluice::sink::mysql
