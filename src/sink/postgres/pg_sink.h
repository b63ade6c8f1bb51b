#pragma once
// PgSink: applies mapped changes to one PostgreSQL target, exactly once.
//
// One connection (the `parallel` setting is not used for PostgreSQL: a
// batch is one transaction on one connection). Each batch merges its
// changes per key (sink/merge.h) and applies them in ONE transaction:
// deletes by key, multi-row INSERT ... ON CONFLICT DO UPDATE for small
// groups, COPY into a temporary staging table and one upsert from it for
// large ones, keyless inserts and one-row deletes (by ctid) in order; the
// same transaction upserts this pipeline's row in `_sluice.checkpoints`
// (which has room for the cluster epoch). Open reads it: changes at or
// before it are skipped on a replay, so nothing is applied twice and
// nothing is lost across crashes of sluice or of the target.
//
// Tables: schema `db` (after renames) in the URL's database, created with
// it when missing, from the source columns (pg_types.h), the key as primary
// key; columns that appear later (ADD COLUMN) are added before the batch
// that first carries them. DDL: pg_ddl.h, in one transaction with the
// checkpoint.
//
// Values PostgreSQL cannot hold exactly (a NUL byte in text, a zero date)
// and rows the target rejects follow on_error: stop (the error names
// pipeline, target, table, key and position; everything before the
// rejected source transaction is committed) or skip (logged to skip_log).
//
// Owned and called by one pipeline target thread.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "client/postgres/connection.h"
#include "core/status.h"
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

 private:
  explicit PgSink(PgSinkOptions o) : options_(std::move(o)) {}
  Status Connect();
  Status EnsureConnected();
  Status EnsureCheckpointTable();
  Status ReadCheckpoint();
  // Ends the server session of a connection given up on (it may still hold
  // a transaction, or a COMMIT not yet read) before the checkpoint is read.
  Status EndStaleSession();
  // Creates missing schemas, tables and columns for the tables of `changes`.
  Status PrepareTables(const std::vector<SinkChange>& changes);
  Status PrepareTable(const TargetTablePtr& t);
  // name -> format_type of the target table's columns, in order; empty when it does not exist.
  Result<std::vector<std::pair<std::string, std::string>>> ReadColumns(const std::string& db, const std::string& table);
  // Applies `changes` (not yet merged) and the checkpoint `end` in one transaction.
  Status ApplyInTransaction(const std::vector<SinkChange>& changes, const BatchEnd& end);
  Status ApplyMerged(const std::vector<SinkChange>& changes);
  Status ApplyOne(const SinkChange& change);
  Status CopyUpsert(const TargetTable& t, const std::vector<const SinkChange*>& rows);
  Status ApplyOrdered(const std::vector<SinkChange>& changes, uint64_t* skipped, size_t* rejected);
  Status StopBefore(const std::vector<SinkChange>& changes, const StreamPos& bad, const Status& rejection);
  Status WriteCheckpointRow(const BatchEnd& end);
  void NoteCheckpoint(const BatchEnd& end);
  Status Reject(const SinkChange& change, const Status& error);
  Status Run(const std::string& sql);
  // "pipeline P target T: "
  std::string Where() const;

  PgSinkOptions options_;
  std::unique_ptr<sluice::postgres::PgConnection> conn_;
  int stale_backend_ = 0;  // backend pid of a connection given up on
  uint64_t stage_counter_ = 0;
  std::map<const TargetTable*, TargetTablePtr> ready_;   // versions whose table is prepared
  std::map<std::string, TargetTablePtr> last_version_;   // "db.table" -> last version seen (for DDL names)
  std::set<std::string> retype_;                         // "db.table": column types to re-derive
};

}  // namespace sluice::sink::postgres
