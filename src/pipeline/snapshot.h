#pragma once
// Snapshot: copies the rows a pipeline's tables already hold into its
// targets, through the pipeline's rules (rename, subset, filter), online and
// without locking the source. docs/snapshot.md explains the algorithm; in
// short:
//
//   1. Plan: each table is cut into chunks of `chunk_rows` keys (key-ordered
//      boundaries; the last chunk is open-ended). The plan is recorded on
//      every target (`_sluice`.`snapshot_chunks`), so a stopped snapshot
//      resumes with the chunks not yet done.
//   2. Start position: P0, the source's binlog position of a consistent
//      snapshot taken before any chunk is read, becomes the pipeline's
//      checkpoint on targets that have none. Streaming begins there, so every
//      change made while the snapshot runs is applied afterwards (row images
//      are whole, so re-applying a change a chunk already holds is harmless).
//   3. Copy: `parallel` workers take chunks. For each chunk a worker first
//      begins the chunk on every target (sink::ChunkTarget: a MySQL or
//      PostgreSQL transaction holding the pipeline's checkpoint rows in share
//      mode; each kind's way is in sink/chunk_target.h), then reads the chunk
//      from the source, writes its rows and marks the chunk done, and
//      commits. A stream running at the same time cannot commit in between,
//      so a chunk never overwrites a newer change with an older row.
//
// Thread-safe: Run() on one thread; progress() and Cancel() from any.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/change_event.h"
#include "core/status.h"
#include "pipeline/config.h"
#include "pipeline/controller.h"
#include "client/mysql/connection.h"
#include "transform/table_mapper.h"

namespace sluice::pipeline {

namespace detail {
class SnapshotSource;
}

struct SnapshotOptions {
  std::string where_sql;      // --where: a SQL condition on the source, ANDed with each table's snapshot_where
  uint32_t parallel = 0;      // workers; 0: the pipeline's `parallel`
  uint32_t max_retries = 20;  // per chunk, for retryable errors (deadlock, target or source down)
  // The pipeline streams meanwhile (a snapshot on request): a keyless
  // table cannot be copied then (the stream's inserts and the copy's would
  // both land), so it is refused with a message naming it.
  bool alongside_stream = false;
  // The copied targets' stream starts only after the copy (`sluice run`'s
  // snapshot: initial), so it learns where keyless tables were read (else
  // a copy beside an earlier checkpoint says what a stream running
  // meanwhile would do).
  bool stream_waits_for_copy = false;
  // Called once, with the position streaming starts from, when every target
  // starts there (not a resumed or alongside copy), before any chunk is
  // read: `sluice run` records the tables' shapes there (schema history).
  std::function<void(const std::string& start_position)> at_start;
};

class Snapshot {
 public:
  Snapshot(const Config& config, const PipelineConfig& pipeline, SnapshotOptions options = {});
  ~Snapshot();

  // Copies every selected table; returns when done, failed or cancelled
  // (kCancelled). Resumes a previous unfinished run of the same shard.
  Status Run();
  // The chunks in flight finish; connections still blocked on a server
  // after kCancelGrace (a hung server) are cut.
  void Cancel();
  SnapshotProgress progress() const;
  // After Run: the keyless tables this run copied (source "db.table"), each
  // with the place before the first change its copy does not hold (what
  // each target recorded: ChunkTarget::RecordKeylessCopy).
  Result<std::map<std::string, StreamPos>> KeylessReadAt() const;

  // The targets `sluice run` must copy into before streaming (`snapshot:
  // initial`): those with no checkpoint for the pipeline (a first start, a
  // target added later) or with an unfinished plan; the others already
  // stream and are not copied again. A target renamed from one of
  // `former_targets` takes over its checkpoint first (ChunkTarget::
  // TakeOverRenamedTarget). `interrupt` (may be null) cuts its connections
  // from another thread.
  static Result<std::vector<std::string>> TargetsToCopy(const Config& config, const PipelineConfig& pipeline,
                                                        const std::vector<std::string>& former_targets,
                                                        sluice::mysql::Interrupter* interrupt = nullptr);

 private:
  struct Table;
  struct Chunk;
  class Worker;

  Status RunSteps();
  Status Prepare();
  Status CopyAll();
  Status Finish();  // the catch-up horizon; the plans dropped
  Status CopyChunk(Worker& w, Chunk& chunk);
  // Sets Table::keeps_target_rows and warns for each keyless table whose
  // target table other source tables feed too.
  Status NoteSharedKeylessTargets();

  const Config& config_;
  PipelineConfig cfg_;
  SnapshotOptions options_;
  std::atomic<bool> cancel_{false};
  bool run_done_ = false;  // guarded by cancel_mu_
  std::mutex cancel_mu_;
  std::condition_variable cancel_cv_;
  bool connected_ = false;                // Prepare opened every connection once (a later loss is worth retrying)
  sluice::mysql::Interrupter interrupt_;  // every connection of the snapshot; declared before them
  std::unique_ptr<detail::SnapshotSource> source_;  // MySQL or PostgreSQL (snapshot_source.h)
  std::unique_ptr<transform::TableMapper> mapper_;
  std::vector<std::unique_ptr<Table>> tables_;
  std::vector<Chunk> chunks_;

  mutable std::mutex mu_;
  SnapshotProgress progress_;
  std::chrono::steady_clock::time_point started_, finished_;
};

// What `sluice run` needs of a snapshot's table creation: the target tables
// of renamed or subset rules (which replicated DDL cannot create) that are
// missing on `target` are created as a snapshot creates them; an existing one
// must hold the mapped columns (or, `align`, get the ones it lacks). With
// only_table, just that source table; with also_one_to_one, tables mapped to
// themselves too.
enum class ColumnAlignment : uint8_t {
  kNone,
  // Mapped columns the existing table lacks are added (a rule that now keeps
  // more columns, or renames one to a new name).
  kAddMapped,
  // Also: its columns the rule no longer maps that rows cannot leave out
  // (NOT NULL without a default: a narrowed `columns:`) are made NULL-able.
  kAddMappedRelaxUnmapped,
};
Status EnsureMappedTargetTables(const Config& config, const PipelineConfig& p, const TargetConfig& target,
                                const std::string& only_db = "", const std::string& only_table = "",
                                bool also_one_to_one = false, ColumnAlignment align = ColumnAlignment::kNone);

}  // namespace sluice::pipeline
