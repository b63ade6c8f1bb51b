#pragma once
// ChunkTarget: one target as a snapshot or a repair writes it, chunk by
// chunk, safely beside a pipeline that streams into the same target.
//
// A chunk is a key range of one source table. For each chunk the job calls
//   BeginChunk -> (reads the chunk from the source) -> Write [Truncate] ->
//   MarkChunkDone -> Commit        (Rollback on any failure, then retry)
// Why that order: a chunk read from the source at time T must not overwrite
// a change the stream applied after T. Each kind guarantees it its own way,
// stated by its implementation:
//   - transactional targets (MySQL, PostgreSQL) hold the pipeline's
//     checkpoint rows in share mode from BeginChunk to Commit; the stream
//     updates them in every batch, so it cannot commit in between;
//   - ClickHouse writes chunk rows with the lowest version, so any streamed
//     change of the same key wins, whenever it arrives;
//   - Redis WATCHes the checkpoint key from BeginChunk: a stream batch in
//     between fails the Commit (retryable) and the chunk is copied again;
//   - log targets (Kafka, files) append read events: there is nothing to
//     overwrite, a consumer sees the read before the changes after it.
// The plan (chunks and which are done) is recorded in the target itself, with
// each chunk's rows where the target has transactions, so a stopped snapshot
// resumes with exactly the chunks not yet there.
//
// Positions: EnsureStartPosition makes the snapshot's start the pipeline's
// checkpoint when it has none, so streaming begins where the snapshot began;
// RaiseCatchUpHorizon records the position after the last chunk, before which
// replayed changes may meet newer copied rows (targets that apply changes as
// whole-row upserts and deletes need nothing; MySQL's loader replays that span
// with REPLACE).
//
// Lifetime and threading: one ChunkTarget is one connection (or producer),
// opened by sink::OpenChunkTarget and used by one job thread.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/sink_change.h"
#include "core/status.h"

namespace sluice::sink {

// One planned chunk of one table's snapshot, as recorded on the target.
struct ChunkRecord {
  std::string pipeline, target;
  std::string table;   // source "db.table"
  std::string shard;   // the snapshot's SQL condition ("" for the whole table)
  uint32_t chunk = 0;  // ordinal in the plan
  std::string after;   // JSON array of the lower bound's key parts ("" for open), exclusive
  std::string upto;    // JSON array of the upper bound's key parts ("" for open), inclusive
  bool done = false;
  uint64_t rows = 0;  // rows written (when done)
};

class ChunkTarget {
 public:
  virtual ~ChunkTarget() = default;

  // Creates the target's bookkeeping (checkpoint and plan tables) when missing.
  virtual Status EnsureTables() = 0;

  // Creates the target table of `t` when missing (from t.source_schema), or
  // checks that the existing one has every column of `t`.
  // `mysql_create_sql`: for targets that speak MySQL (speaks_mysql_ddl()),
  // the CREATE TABLE statement the snapshot made from the source's own
  // definition; empty otherwise, and for a PostgreSQL source (whose column
  // types the target then maps itself).
  virtual Status EnsureTable(const TargetTable& t, const std::string& mysql_create_sql) = 0;
  // Whether EnsureTable wants the MySQL statement (MySQL/MariaDB targets).
  virtual bool speaks_mysql_ddl() const { return false; }
  // Whether the target has MariaDB sequences (Sink::takes_sequences): a
  // snapshot creates the selected ones there and copies their state.
  virtual bool takes_sequences() const { return false; }
  // Targets that speak MySQL: the existing table's column names in order
  // (empty when there is no such table), and a DDL statement run as is (a
  // PostgreSQL source's added columns, which EnsureTable would refuse).
  virtual Result<std::vector<std::string>> ExistingColumns(const std::string& /*db*/, const std::string& /*table*/) {
    return std::vector<std::string>{};
  }
  // Builds the secondary indexes EnsureTable deferred for `t` when it created
  // the table (MySQL targets: sink/mysql/deferred_indexes.h), once the
  // snapshot's rows are in; nothing when none are pending.
  virtual Status BuildDeferredIndexes(const TargetTable& /*t*/) { return Status::Ok(); }
  virtual Status RunDdl(const std::string& sql) {
    return Status::Error(StatusCode::kNotSupported, "this target takes no MySQL DDL: {}", sql.substr(0, 100));
  }

  // The pipeline's checkpoint: if there is none yet, records
  // `resume_position` as its start. Returns the resume position in effect.
  virtual Result<std::string> EnsureStartPosition(const std::string& pipeline, const std::string& target,
                                                  const std::string& resume_position) = 0;
  // Records the source position after the snapshot's last chunk (see above).
  virtual Status RaiseCatchUpHorizon(const std::string& pipeline, const std::string& target,
                                     const std::string& resume_position) = 0;
  // A target renamed in the configuration takes over the checkpoint its old
  // name (one of `former`, SinkOptions::former_targets) left in this
  // database, before AppliedPosition is asked (sink/mysql/renamed_target.h).
  // Targets whose checkpoints live elsewhere keep theirs by URL or not at all.
  virtual Status TakeOverRenamedTarget(const std::string& /*pipeline*/, const std::string& /*target*/,
                                       const std::vector<std::string>& /*former*/) {
    return Status::Ok();
  }
  // The pipeline's applied position on this target ("file:offset" to resume
  // from), or "" when it has no checkpoint.
  virtual Result<std::string> AppliedPosition(const std::string& pipeline, const std::string& target) = 0;

  // Starts a chunk (see above). Read the source only after this returns.
  virtual Status BeginChunk(const std::string& pipeline, const std::string& target) = 0;
  // Upserts keyed rows / inserts keyless ones / deletes by key. Changes a
  // snapshot copies carry `snapshot` = true (log targets emit read events).
  virtual Status Write(const std::vector<SinkChange>& changes) = 0;
  // Removes every row of a table (a keyless table's snapshot replaces it
  // whole); log targets have nothing to remove.
  virtual Status Truncate(const TargetTable& table) = 0;
  // A keyless table's copy (one chunk, the table whole) read the source at
  // `read_at` (a resume position): the changes of it before there are in
  // the copy, and the stream leaves them out on this target
  // (sink::Checkpoint::keyless_copied_at). In the chunk's transaction,
  // replacing an earlier copy's record; ResetCheckpoint drops them. Log
  // targets (Kafka, files, Redis streams) keep every change after the
  // copy's read events: nothing to record.
  virtual Status RecordKeylessCopy(const ChunkRecord& /*chunk*/, const std::string& /*read_at*/) {
    return Status::Ok();
  }
  virtual Status MarkChunkDone(const ChunkRecord& chunk, uint64_t rows) = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;

  // The recorded plan of one table's snapshot shard, in chunk order; empty
  // when there is none.
  virtual Result<std::vector<ChunkRecord>> LoadPlan(const std::string& pipeline, const std::string& target,
                                                    const std::string& table, const std::string& shard) = 0;
  // Whether some table's snapshot plan of the pipeline for one of `shards`
  // (conditions; "" for whole tables) has chunks not done.
  virtual Result<bool> HasUnfinishedPlan(const std::string& pipeline, const std::string& target,
                                         const std::vector<std::string>& shards) = 0;
  // Records a plan (all chunks not done). Replaces a previous plan.
  virtual Status SavePlan(const std::vector<ChunkRecord>& plan) = 0;
  // Forgets a finished or abandoned plan.
  virtual Status DropPlan(const std::string& pipeline, const std::string& target, const std::string& table,
                          const std::string& shard) = 0;
};

// "shard" identity of a plan is the condition text; long conditions are
// stored by hash.
std::string ShardKey(const std::string& where_sql);

}  // namespace sluice::sink
