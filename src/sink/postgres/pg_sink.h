#pragma once
// PgSink: applies mapped changes to one PostgreSQL target, exactly once.
//
// A batch is split by key hash over `parallel` connections (one row's
// changes stay on one connection, in order; keyless tables and tables with
// a unique key besides the primary key go to one connection by table name,
// so their changes keep the source's order). Each partition merges its
// changes per key (sink/merge.h) and applies them in ONE transaction:
// deletes by key, multi-row INSERT ... ON CONFLICT DO UPDATE for small
// groups, COPY into a session's staging table and one upsert from it for
// large ones, keyless inserts and one-row deletes (by ctid) in order. The
// statements of a transaction go in one round trip (simple query protocol,
// COPY data inline), which is what bounds the rate on a busy machine.
//
// Checkpoints in `_sluice.checkpoints`, written in the same transaction as
// the rows (the table has room for the cluster epoch):
//   - parallel 1: the pipeline's row (part -1) with the rows, then COMMIT,
//     all in one round trip;
//   - parallel N > 1: each partition writes its own row (part p, recording
//     "partitions=N") in its transaction; the partitions vote, and commit
//     only when all applied (on_error: stop then leaves the target at a
//     source transaction boundary); after all committed, the global row
//     (part -1) records the batch end and the source position to resume
//     from (sent without waiting: its answer is read with the next
//     statement, the partition rows already holding the truth). A crash between the partitions' commits, or before the global
//     row, leaves some partitions ahead: on restart a change is skipped when
//     it is at or before the row of the partition it hashes to (or the
//     global one). After a change of `parallel`, the rows of earlier
//     settings still judge the changes they cover (a change is skipped when
//     the partition it hashed to then holds it), applied in source order
//     with the global row until the stream passes the furthest of them;
//     then they are deleted. Replayed instead, a keyless row would land twice.
// Every session takes PostgreSQL's replica role where the user may
// (pg_session.h), so the target's foreign keys and triggers do not act on
// the writes; without it, a batch a foreign key refuses in the partitions
// is applied again in source order on one connection, as is every batch
// after it.
// With an epoch (cluster mode), Open raises the pipeline's fence and every
// write transaction checks it first (pg_fence.h).
// Open reads them: nothing is applied twice and nothing is lost across
// crashes of sluice or of the target.
//
// Tables: schema `db` (after renames) in the URL's database, created with
// it when missing, from the source columns (pg_types.h), the key as primary
// key; columns that appear later (ADD COLUMN) are added before the batch
// that first carries them. DDL: pg_ddl.h, in one transaction with the
// checkpoint, on the control connection.
//
// Values PostgreSQL cannot hold exactly (a NUL byte in text, a zero date)
// and rows the target rejects follow on_error: stop (the error names
// pipeline, target, table, key and position; everything before the
// rejected source transaction is committed) or skip (logged to skip_log).
//
// Owned and called by one pipeline target thread; ApplyBatch runs the
// partitions on threads of its own and returns when all are done.

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "client/postgres/connection.h"
#include "core/commit_vote.h"
#include "core/status.h"
#include "core/worker_group.h"
#include "sink/checkpoint_rows.h"
#include "sink/postgres/pg_computed_columns.h"
#include "sink/postgres/pg_fence.h"
#include "sink/sink.h"

namespace sluice::sink::postgres {

struct PgSinkOptions {
  std::string pipeline;
  std::string target;
  sluice::postgres::ConnectOptions connect;
  bool skip_rejected = false;
  std::string skip_log;
  uint64_t epoch = 0;
  size_t max_statement_bytes = 1 << 20;
  size_t copy_threshold = 256;  // rows of one table in a batch from which COPY is used
  uint32_t parallel = 1;        // connections a batch is applied over
  Interrupter* interrupt = nullptr;  // every session registers (SinkOptions::interrupt)
  uint64_t takeover_after_ms = 30'000;      // epoch 0: SinkOptions::takeover_after_ms (pg_fence.h)
  std::vector<std::string> former_targets;  // SinkOptions::former_targets
};

class PgSink : public Sink {
 public:
  static Result<std::unique_ptr<PgSink>> Open(PgSinkOptions options);

  Status ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) override;
  Status AdvanceCheckpoint(const BatchEnd& end) override;
  Status ResetCheckpoint() override;
  Status ApplyDdl(const DdlChange& ddl, const BatchEnd& end) override;
  Result<std::vector<std::string>> TargetColumns(const std::string& db, const std::string& table) override;
  Status Reconnect() override;
  bool fenced() const override { return options_.epoch > 0; }
  // kCascade changes: a batch holding one is applied in source order on one
  // session (ApplyInOrder).
  bool applies_cascades() const override { return true; }

 private:
  // One connection that applies partitions, with its staging tables.
  struct Session {
    std::unique_ptr<sluice::postgres::PgConnection> owned;
    sluice::postgres::PgConnection* conn = nullptr;  // owned, or the control connection (parallel 1)
    // Table version -> its staging table in this session (ON COMMIT DELETE ROWS).
    std::map<const TargetTable*, std::pair<TargetTablePtr, std::string>> stages;
  };
  // Statements sent together in one round trip, with their COPY data.
  struct Script {
    std::string sql;
    std::vector<std::string> copies;
    void Add(std::string_view statement);
  };
  struct Outcome {
    bool committed = false;
    uint64_t applied = 0, skipped = 0;
    StreamPos rejected;  // the change the target rejected (on_error: stop), if any
    bool foreign_key = false;  // a foreign key refused a row (no replica role): apply in source order
  };

  explicit PgSink(PgSinkOptions o) : options_(std::move(o)) {}
  Status Connect();
  Status EnsureConnected();
  Status EnsureCheckpointTable();
  // retype_ from _sluice.pending_retypes (the table made when missing).
  Status ReadPendingRetypes();
  // The statements recording and forgetting table `key`'s pending_retypes row.
  std::string AddPendingRetypeSql(const std::string& key) const;
  std::string DropPendingRetypeSql(const std::string& key) const;
  Status ReadCheckpoint();
  // Ends the server sessions of connections given up on (they may still hold
  // a transaction, or a COMMIT not yet read) before the checkpoint is read.
  Status EndStaleSessions();
  // Creates missing schemas, tables and columns for the tables of `changes`.
  Status PrepareTables(const std::vector<SinkChange>& changes);
  Status PrepareTable(const TargetTablePtr& t);
  // An existing table without a unique index on exactly t's key columns (the
  // source table gained a primary or unique key: upserts find rows by it)
  // gets one: its primary key when it has none, else a unique index.
  Status EnsureKeyIndex(const TargetTable& t);
  // A source table left keyless by a dropped index (its unique key) whose
  // target table has a primary key over columns sluice writes (the one it
  // made of the source's key): dropped, or the rows the source may now hold
  // (the same values twice, NULLs) would be refused for good. One with a
  // column of the target's own stays.
  Status DropKeyTheSourceLost(const TargetTable& t);
  // name -> format_type of the target table's columns, in order; empty when it does not exist.
  Result<std::vector<std::pair<std::string, std::string>>> ReadColumns(const std::string& db, const std::string& table);
  uint32_t PartitionOf(const SinkChange& ch) const;
  // The partition of `ch` among `n` (the hash every setting uses).
  uint32_t PartitionOf(const SinkChange& ch, uint32_t n) const;
  // Whether a partition of an earlier `parallel` setting committed `ch`.
  bool AppliedUnderOldScheme(const SinkChange& ch) const;
  // Past old_partitions_.until(): the earlier settings' partition rows are deleted.
  Status EndOldSchemes();
  Status ApplyParallel(const std::vector<SinkChange>& todo, const BatchEnd& end);
  // Applies `changes` (not yet merged) in one transaction on `s` with the
  // checkpoint rows `parts` recording `end`; with a vote, commits only when
  // every partition is ready.
  Status ApplyInTransaction(Session& s, const std::vector<SinkChange>& changes, const BatchEnd& end,
                            const std::vector<int>& parts, CommitVote* vote, Outcome* out);
  // `copy`: large runs of upserts may go through COPY into the session's
  // staging table (once per transaction: it is emptied at the commit).
  Status ApplyMerged(Session& s, Script& script, const std::vector<SinkChange>& changes, bool copy);
  // A batch holding kCascade changes: in one transaction on one session
  // with the global row, in source order (ApplySegmented).
  Status ApplyInOrder(const std::vector<SinkChange>& changes, const BatchEnd& end);
  // The runs of changes between kCascade changes merged per key, each
  // cascade in its place between them.
  Status ApplySegmented(Session& s, const std::vector<SinkChange>& changes);
  // Redoes one foreign key action (sink/cascade_sql.h) in c's transaction.
  Status ApplyCascade(sluice::postgres::PgConnection& c, const SinkChange& ch);
  Status ApplyOne(sluice::postgres::PgConnection& c, const SinkChange& change);
  // The staging table of `t` in session `s`, created on first use.
  Result<std::string> Stage(Session& s, const TargetTablePtr& t);
  // One change at a time in source order, each under a savepoint; a
  // rejected one is skipped or stops (`*rejected` its index). With
  // `foreign_key`, a row a foreign key refuses (no replica role) is not
  // rejected: the flag is set and its error returned.
  Status ApplyOrdered(sluice::postgres::PgConnection& c, const std::vector<SinkChange>& changes, uint64_t* skipped,
                      size_t* rejected, bool* foreign_key = nullptr);
  Status StopBefore(const std::vector<SinkChange>& changes, const StreamPos& bad, const Status& rejection);
  std::string CheckpointRowSql(int part, const BatchEnd& end) const;
  Status WriteCheckpointRow(const BatchEnd& end);
  // `confirmed`: the global row's commit was answered (else its answer is
  // read with the next statement: committed_rows_ does not count on it).
  void NoteCheckpoint(const BatchEnd& end, bool confirmed = true);
  Status Reject(const SinkChange& change, const Status& error);
  Status Run(const std::string& sql);
  // "partitions=N": stored in partition rows' resume_position column.
  std::string PartitionScheme() const;
  // "pipeline P target T: "
  std::string Where() const;
  // Fencing (pg_fence.h): the options the fence speaks of; the
  // registration of every session (epoch > 0); `sql` preceded by the fence
  // check (with epoch 0, the owner check); BEGIN and that check.
  SinkOptions FenceOptions() const;
  Status RegisterSessions();
  std::string Fenced(const std::string& sql) const;
  std::string BeginFenced() const;

  PgSinkOptions options_;
  std::unique_ptr<sluice::postgres::PgConnection> conn_;  // control: tables, DDL, the global checkpoint
  std::unique_ptr<OwnerKeeper> owner_keeper_;             // epoch 0: the backend the owner row names (pg_fence.h)
  std::vector<Session> sessions_;                         // one per partition
  std::unique_ptr<WorkerGroup> workers_;  // one per session: a batch's partitions run on them
  std::vector<int> stale_backends_;                       // backend pids of connections given up on
  uint64_t stage_counter_ = 0;
  std::map<const TargetTable*, TargetTablePtr> ready_;   // versions whose table is prepared
  std::set<const TargetTable*> serial_;                  // of those, tables applied on one partition
  ComputedColumns computed_;                             // columns the target tables generate, left out
  // Partition rows of earlier `parallel` settings (ReadCheckpoint).
  OldPartitionRows old_partitions_;
  // What this sink committed to each checkpoint row: a row found behind it
  // after a reconnect means the target lost committed transactions.
  CommittedRows committed_rows_;
  std::map<std::string, TargetTablePtr> last_version_;   // "db.table" -> last version seen (for DDL names)
  std::set<std::string> retype_;                         // "db.table": column types to re-derive
  std::mutex skip_mu_;                                   // the skip log, written by partition threads
  // Every session took PostgreSQL's replica role (pg_session.h): the
  // target's foreign keys and triggers do not act on the writes.
  bool replica_role_ = false;
  bool role_checked_ = false;  // the warning naming what acts without the role: once per sink
  // A foreign key refused a row written out of source order (parallel
  // partitions, rows grouped by table) without the role: batches are
  // applied in source order on one connection from then on.
  bool in_source_order_ = false;
};

}  // namespace sluice::sink::postgres
