#pragma once
// PgChunkTarget: snapshots and repairs into a PostgreSQL target
// (sink/chunk_target.h), beside a PgSink streaming into it.
//
// A chunk is one transaction that first locks `_sluice.checkpoints` in
// SHARE mode. PgSink upserts its checkpoint rows first in every batch
// transaction, before any other row, so while a chunk is read from the
// source and written, no stream transaction changes a row: whatever it
// applies next is executed after the chunk's commit. (Only committing after
// it would not do: a DELETE of a row the chunk has read but not yet
// inserted matches nothing, and the chunk's older row would stay.) (Streams of other
// pipelines into the same database wait for chunks too: for milliseconds
// each, while a snapshot runs.)
// The chunk gives way (lock_timeout, retried) rather than wait for a stream
// transaction, so a chunk and a batch that lock each other's rows end in a
// retry, not a stall. Rows go in by COPY into a staging table and one
// INSERT ... ON CONFLICT DO UPDATE (keyless tables: COPY straight in), and
// `_sluice.snapshot_chunks` records the chunk done in the same transaction.
//
// The catch-up horizon is recorded (part -2, as for MySQL) but PgSink needs
// nothing from it: it applies every change as a whole-row upsert or delete
// by key, so replaying changes older than a copied row converges.
//
// One connection, used by one job thread.

#include <memory>
#include <string>
#include <vector>

#include "client/postgres/connection.h"
#include "sink/chunk_target.h"
#include "sink/postgres/pg_computed_columns.h"
#include "sink/sink.h"

namespace sluice::sink::postgres {

class PgChunkTarget : public ChunkTarget {
 public:
  // Reads and writes wait at most query_timeout_s (the URL's, else the jobs' bound).
  // `interrupt` (may be null) cuts the connection when the job is cancelled.
  static Result<std::unique_ptr<PgChunkTarget>> Open(sluice::postgres::ConnectOptions options,
                                                     sluice::Interrupter* interrupt = nullptr);

  Status EnsureTables() override;
  Status EnsureTable(const TargetTable& t, const std::string& mysql_create_sql) override;
  Result<std::string> EnsureStartPosition(const std::string& pipeline, const std::string& target,
                                          const std::string& resume_position) override;
  Status RaiseCatchUpHorizon(const std::string& pipeline, const std::string& target,
                             const std::string& resume_position) override;
  Status TakeOverRenamedTarget(const std::string& pipeline, const std::string& target,
                               const std::vector<std::string>& former) override;
  Result<std::string> AppliedPosition(const std::string& pipeline, const std::string& target) override;
  Status BeginChunk(const std::string& pipeline, const std::string& target) override;
  Status Write(const std::vector<SinkChange>& changes) override;
  Status Truncate(const TargetTable& table) override;
  Status RecordKeylessCopy(const ChunkRecord& chunk, const std::string& read_at) override;
  Status MarkChunkDone(const ChunkRecord& chunk, uint64_t rows) override;
  Status Commit() override;
  void Rollback() override;
  Result<std::vector<ChunkRecord>> LoadPlan(const std::string& pipeline, const std::string& target,
                                            const std::string& table, const std::string& shard) override;
  Result<bool> HasUnfinishedPlan(const std::string& pipeline, const std::string& target,
                                 const std::vector<std::string>& shards) override;
  Status SavePlan(const std::vector<ChunkRecord>& plan) override;
  Status DropPlan(const std::string& pipeline, const std::string& target, const std::string& table,
                  const std::string& shard) override;

  sluice::postgres::PgConnection& connection() { return *conn_; }
  // Cluster mode (fence.epoch > 0): registers the session for the epoch;
  // every chunk transaction then checks the pipeline's fence first
  // (pg_fence.h) and fails with kFenced once a newer owner raised it.
  Status Fence(const SinkOptions& fence);

 private:
  explicit PgChunkTarget(std::unique_ptr<sluice::postgres::PgConnection> conn) : conn_(std::move(conn)) {}
  Status Run(const std::string& sql);
  Status Upsert(const TargetTable& t, const std::vector<const SinkChange*>& rows);
  Status Insert(const TargetTable& t, const std::vector<const SinkChange*>& rows);

  std::unique_ptr<sluice::postgres::PgConnection> conn_;
  ComputedColumns computed_;   // columns the target tables generate, left out of the rows
  bool replica_role_ = false;  // the session took PostgreSQL's replica role (pg_session.h)
  std::string user_;           // the target user, named in advice
  bool in_txn_ = false;
  uint64_t stage_counter_ = 0;
  SinkOptions fence_;  // pipeline, target, epoch (0: no fencing)
};

}  // namespace sluice::sink::postgres
