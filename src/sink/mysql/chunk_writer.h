#pragma once
// ChunkWriter: writes copied rows (a snapshot chunk, a repair) into one
// MySQL/MariaDB target, in one transaction per chunk, safely beside a
// pipeline that streams into the same target.
//
// Why a lock: a chunk read from the source at time T and written after the
// stream applied a later change of one of its rows would put an old row
// back. So a chunk transaction first takes a shared lock on the pipeline's
// checkpoint rows in `_sluice`.`checkpoints` (BeginChunk), and only then is
// the chunk read from the source. A streaming loader begins every batch's
// transaction with an update of those rows, before any other row, so while
// the chunk is read and written no stream transaction changes a row:
// whatever the stream applies next is executed after the chunk's commit.
// (Committing after the chunk is not enough: a stream DELETE run before
// the chunk inserts the row matches nothing, and the old row would stay.) Several chunk writers hold the shared lock at
// once; the stream waits for them (a chunk takes milliseconds) and goes on.
//
// `_sluice`.`snapshot_chunks` records each finished chunk in the same
// transaction as its rows: a snapshot that stops for any reason resumes from
// exactly the chunks not yet there.
//
// One ChunkWriter is one connection, used by one thread.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/sink_change.h"
#include "client/mysql/connection.h"
#include "sink/chunk_target.h"
#include "sink/sink.h"

namespace sluice::sink::mysql {


class ChunkWriter : public ChunkTarget {
 public:
  // `interrupt` (may be null): cuts the connection from another thread (a
  // job's Cancel), see sluice::mysql::Interrupter.
  static Result<std::unique_ptr<ChunkWriter>> Open(const sluice::mysql::ConnectOptions& options,
                                                   sluice::mysql::Interrupter* interrupt = nullptr);

  sluice::mysql::MysqlConnection& connection() { return *conn_; }

  // Cluster mode (fence.epoch > 0): registers the session as writing for
  // the epoch, and every chunk and bookkeeping transaction then checks the
  // pipeline's fence first (sink/mysql/fence.h), failing with kFenced once
  // a newer owner raised it.
  Status Fence(const SinkOptions& fence);

  // Creates `_sluice`.`checkpoints`, `_sluice`.`snapshot_chunks` and
  // `_sluice`.`deferred_indexes` when missing.
  Status EnsureTables() override;
  // A table it creates from `mysql_create_sql` gets its plain indexes later
  // (BuildDeferredIndexes); the statement that adds them is recorded first, so
  // a crash in between loses no index.
  Status EnsureTable(const TargetTable& t, const std::string& mysql_create_sql) override;
  Status BuildDeferredIndexes(const TargetTable& t) override;
  bool speaks_mysql_ddl() const override { return true; }
  bool takes_sequences() const override { return conn_->has_sequences(); }
  Result<std::vector<std::string>> ExistingColumns(const std::string& db, const std::string& table) override {
    return TableColumns(db, table);
  }
  Status RunDdl(const std::string& sql) override { return Run(sql); }

  // The pipeline's global checkpoint row (part -1): if there is none yet,
  // records `resume_position` there, so that streaming begins where the
  // snapshot began and no change made during it is lost. Returns the resume
  // position in effect.
  Result<std::string> EnsureStartPosition(const std::string& pipeline, const std::string& target,
                                          const std::string& resume_position) override;
  // Records the source position after the snapshot's last chunk as the
  // pipeline's catch-up horizon (checkpoint part -2; kept when a later one is
  // there): the loader replays changes before it in source order with
  // REPLACE (MysqlLoader::ApplyBatch).
  Status RaiseCatchUpHorizon(const std::string& pipeline, const std::string& target,
                             const std::string& resume_position) override;
  // The pipeline's applied position on this target ("file:offset" to resume
  // from), or "" when it has no checkpoint.
  Status TakeOverRenamedTarget(const std::string& pipeline, const std::string& target,
                               const std::vector<std::string>& former) override;
  Result<std::string> AppliedPosition(const std::string& pipeline, const std::string& target) override;

  // Starts a chunk transaction holding the pipeline's checkpoint rows in
  // share mode (see above). Read the source only after this returns.
  Status BeginChunk(const std::string& pipeline, const std::string& target) override;
  // Upserts keyed rows / inserts keyless ones / deletes by key: rows of
  // tables made of exactly the mapped columns by bulk load (LOAD DATA LOCAL
  // INFILE ... REPLACE, sink/mysql/bulk_load.h), else multi-row statements.
  Status Write(const std::vector<SinkChange>& changes) override;
  // Removes every row of a table (a keyless table's snapshot replaces it whole).
  Status Truncate(const TargetTable& table) override;
  Status RecordKeylessCopy(const ChunkRecord& chunk, const std::string& read_at) override;
  Status MarkChunkDone(const ChunkRecord& chunk, uint64_t rows) override;
  Status Commit() override;
  void Rollback() override;

  // The recorded plan of one table's snapshot shard, in chunk order; empty
  // when there is none.
  Result<std::vector<ChunkRecord>> LoadPlan(const std::string& pipeline, const std::string& target,
                                            const std::string& table, const std::string& shard) override;
  // Whether some table's snapshot plan of the pipeline for one of `shards`
  // (conditions; "" for whole tables) has chunks not done.
  Result<bool> HasUnfinishedPlan(const std::string& pipeline, const std::string& target,
                                 const std::vector<std::string>& shards) override;
  // Records a plan (all chunks not done). Replaces a previous plan.
  Status SavePlan(const std::vector<ChunkRecord>& plan) override;
  // Forgets a finished or abandoned plan.
  Status DropPlan(const std::string& pipeline, const std::string& target, const std::string& table,
                  const std::string& shard) override;

  // Whether `db`.`table` exists; its columns in order when it does.
  Result<std::vector<std::string>> TableColumns(const std::string& db, const std::string& table);
  Status Execute(const std::string& sql);

 private:
  ChunkWriter(std::unique_ptr<sluice::mysql::MysqlConnection> conn, size_t max_packet)
      : conn_(std::move(conn)), max_packet_(max_packet) {}
  Status Run(const std::string& sql);
  Status EnsureSluiceTables();  // EnsureTables without the grant advice
  // Runs `write` in a transaction that checks the fence first (with an
  // epoch; without one, as is).
  Status Fenced(const std::function<Status()>& write);
  // What the writer needs to know of a target table, asked once per table.
  struct TableInfo {
    bool bulk = false;            // exactly the mapped columns: a bulk load (REPLACE) is an upsert
    std::vector<bool> generated;  // per mapped column: computed by the target (empty: none is)
  };
  Result<const TableInfo*> Info(const TargetTable& t);

  std::unique_ptr<sluice::mysql::MysqlConnection> conn_;
  bool in_txn_ = false;
  bool bulk_ = true;  // false once the server refused LOAD DATA LOCAL INFILE
  size_t max_packet_;  // the target's max_allowed_packet: larger rows go in pieces (big_rows.h)
  std::map<std::string, TableInfo> tables_;
  SinkOptions fence_;  // pipeline, target, epoch (0: no fencing)
};


}  // namespace sluice::sink::mysql
