#pragma once
// ClickhouseChunkTarget: a snapshot writes a ClickHouse target through it
// (sink/chunk_target.h), beside a pipeline that may stream into the same
// tables.
//
// Why chunk rows carry `_version` 0: the tables are ReplacingMergeTree(_version)
// (clickhouse_sink.h), and FINAL keeps the row with the highest version per
// key. Every streamed change has a version of at least 1 << 44 (version.h:
// binlog files are numbered from 1), so a streamed change of a key wins over
// the chunk's copy whenever either lands: no lock is needed. That is right
// because streaming starts at or before the snapshot's start position
// (EnsureStartPosition), so every change made after a chunk's read is
// streamed; a replayed change made before the read may show its older image
// for a while, until the stream reaches the key's last change, whose version
// is the highest: once the stream has caught up, each key shows the newest
// image there is (a key no change touched keeps the chunk's, which is
// current). A delete (`_sign` -1, streamed) likewise hides the copy.
//
// The plan: `_sluice`.`snapshot_chunks`, a ReplacingMergeTree(_version) by
// (pipeline, target, tbl, shard, chunk), versions from a clock (micro-
// seconds, increasing within a process). SavePlan writes a header row
// (chunk 4294967295) holding the plan's generation (its version) and one row
// per chunk; MarkChunkDone writes the chunk's row again, done, with a later
// version; DropPlan writes the header again, dropped. Rows older than the
// header's generation belong to an earlier plan and are ignored. ClickHouse
// has no transactions: the done mark is written after the chunk's rows, so a
// crash between the two copies that chunk again; the second copy has the
// same version 0 and the same or a newer image of each row, and either way a
// streamed change beats both: the copies converge.
//
// Positions: the checkpoint row in `_sluice`.`checkpoints` is the one
// ClickhouseSink reads on Open; EnsureStartPosition writes it when there is
// none, so the pipeline streams from the snapshot's start. No catch-up
// horizon is needed (rows are whole images ordered by version).
//
// Keyless tables are refused, as the sink refuses them (nothing to collapse
// rows by). Repairs (changes without `snapshot`) must replace what is there:
// each row, or delete (_sign -1), is written with the key's current version:
// FINAL keeps the later of two equal versions, and a later streamed change
// of the key has a higher one.
//
// One object per job thread; every wait is bounded by the HTTP client's timeouts.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/clickhouse/http_client.h"
#include "sink/chunk_target.h"
#include "sink/clickhouse/clickhouse_tables.h"
#include "sink/sink.h"

namespace sluice::sink::clickhouse {

class ClickhouseChunkTarget : public ChunkTarget {
 public:
  static Result<std::unique_ptr<ClickhouseChunkTarget>> Open(const SinkOptions& options);

  Status EnsureTables() override;
  Status EnsureTable(const TargetTable& t, const std::string& mysql_create_sql) override;
  Result<std::string> EnsureStartPosition(const std::string& pipeline, const std::string& target,
                                          const std::string& resume_position) override;
  Status RaiseCatchUpHorizon(const std::string&, const std::string&, const std::string&) override {
    return Status::Ok();
  }
  Status TakeOverRenamedTarget(const std::string& pipeline, const std::string& target,
                               const std::vector<std::string>& former) override;
  Result<std::string> AppliedPosition(const std::string& pipeline, const std::string& target) override;

  // Nothing to hold: versions order the chunk's rows before any streamed change.
  Status BeginChunk(const std::string&, const std::string&) override { return Status::Ok(); }
  Status Write(const std::vector<SinkChange>& changes) override;
  Status Truncate(const TargetTable& table) override;
  Status MarkChunkDone(const ChunkRecord& chunk, uint64_t rows) override;
  // Each INSERT is its own transaction: what a Write sent stays.
  Status Commit() override {
    rows_connection_ = 0;
    return Status::Ok();
  }
  void Rollback() override { rows_connection_ = 0; }

  Result<std::vector<ChunkRecord>> LoadPlan(const std::string& pipeline, const std::string& target,
                                            const std::string& table, const std::string& shard) override;
  Result<bool> HasUnfinishedPlan(const std::string& pipeline, const std::string& target,
                                 const std::vector<std::string>& shards) override;
  Status SavePlan(const std::vector<ChunkRecord>& plan) override;
  Status DropPlan(const std::string& pipeline, const std::string& target, const std::string& table,
                  const std::string& shard) override;

 private:
  ClickhouseChunkTarget(SinkOptions options, sluice::clickhouse::ClientOptions client);
  Status Run(const std::string& sql);
  Result<const TableWriter*> Writer(const TargetTablePtr& t);
  // Rows of `plan` (done or not) as `_sluice`.`snapshot_chunks` TabSeparated rows.
  Status InsertPlanRows(const std::vector<ChunkRecord>& rows, uint64_t version);
  // Retryable when the next request would not go over rows_connection_.
  Status SameConnectionAsTheRows(std::string_view what);
  // The current plan's generation (0: none, or dropped).
  Result<uint64_t> PlanGeneration(const std::string& pipeline, const std::string& target, const std::string& table,
                                  const std::string& shard);
  Status Reject(const SinkChange& c, const Status& error);
  // The version of the row with the key of `c` that FINAL shows (0 and not
  // live when the key has none).
  struct CurrentRow {
    uint64_t version = 0;
    bool live = false;
  };
  Result<CurrentRow> CurrentVersion(const SinkChange& c);

  SinkOptions options_;
  sluice::clickhouse::ClickhouseClient client_;
  // client_.connections() after the chunk's first insert (0: none since
  // the last done mark). Its rows and its done mark go over one connection,
  // so to one server process: one restarted in between (from a backup, or
  // after a crash that lost what it had acknowledged) would otherwise get
  // the mark without the rows; the chunk is copied again instead.
  uint64_t rows_connection_ = 0;
  std::map<const TargetTable*, std::pair<TargetTablePtr, TableWriter>> tables_;
};

}  // namespace sluice::sink::clickhouse
