#pragma once
// Pipeline: one source fanned out to one or more targets (design §1):
//
//   capture thread ──queue──► transform thread ──queue per target──► target thread (loader)
//   (Select)                  (Extract/Transform)                    (Load: batch, merge, parallel apply)
//
// Queues are bounded in bytes, so a slow target slows the capture instead of
// growing memory. Each target keeps its own checkpoint (in the target itself,
// written with its rows); on start the capture resumes from the least
// advanced target, and every target skips what it already applied. A target
// that fails for good is detached (its queue is drained and dropped, its
// checkpoint stays) so the others go on; when every target has failed the
// pipeline stops.

#include <atomic>
#include <deque>
#include <optional>
#include <condition_variable>
#include <functional>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/mysql/connection.h"
#include "core/change_event.h"
#include "core/position.h"
#include "pipeline/bounded_queue.h"
#include "pipeline/config.h"
#include "pipeline/settings.h"
#include "pipeline/controller.h"
#include "pipeline/metrics.h"
#include "pipeline/snapshot.h"
#include "sink/registry.h"
#include "sink/sink.h"
#include "store/sqlite_store.h"
#include "client/mysql/ddl_statement.h"
#include "transform/table_mapper.h"

namespace sluice::pipeline {

struct TargetAlter;  // table_swap.h

// What travels from the transform stage to each target.
struct TargetWork {
  enum class Kind : uint8_t { kChanges, kCommit, kDdl, kHeartbeat };
  Kind kind = Kind::kChanges;
  std::vector<SinkChange> changes;
  bool has_cascades = false;    // kChanges: some are kCascade (left out for sinks that do not apply them)
  bool has_sequences = false;   // kChanges: some are of a sequence (left out for sinks without sequences)
  StreamPos pos;                // kCommit/kDdl: transaction end; kChanges: last change
  std::string resume_position;  // a transaction boundary at or before pos
  std::string gtid_state;
  std::string ddl_db, ddl_query;
  DdlSession ddl_session;  // kDdl: the settings a MySQL/MariaDB source ran it with
  // kDdl: a PostgreSQL source table's added and widened columns, mapped
  // (sink::DdlChange::table, added).
  TargetTablePtr ddl_table;
  std::vector<uint32_t> ddl_added;
  std::vector<uint32_t> ddl_retyped;
  uint64_t ts_ms = 0;
  int64_t received_ms = 0;      // local time the capture saw it
  size_t bytes = 0;
};

// The metric families every pipeline reports into; made once per registry.
struct PipelineMetrics {
  explicit PipelineMetrics(MetricsRegistry& registry);
  Family<Counter>& rows;            // {pipeline, stage, target}: rows through capture, transform, apply
  Family<Counter>& bytes;           // {pipeline, stage, target}
  Family<Counter>& filtered;        // {pipeline}: rows dropped by rules or filters
  Family<Counter>& errors;          // {pipeline, target, kind}: retryable | fatal | skipped
  Family<Histogram>& batch_rows;    // {pipeline, target}
  Family<Histogram>& apply_seconds; // {pipeline, target}
  Family<Gauge>& queue_bytes;       // {pipeline, queue}
  Family<Gauge>& delay_ms;          // {pipeline, target}: sluice_apply_delay_seconds (seconds, despite the name)
  Family<Counter>& transactions;    // {pipeline}: source transactions seen
  Family<Counter>& table_rows;      // {pipeline, target, table, op}: rows applied per target table
  Family<Gauge>& table_delay;       // {pipeline, target, table}: seconds since the oldest unapplied change's commit
  Family<Counter>& conflicts;       // {pipeline, table, resolution}: two-way conflicts (conflict: latest_wins)
};

// The replica id a pipeline registers with on its source. Pipelines
// reading one source each need their own: the source's `server_id` plus the
// pipeline's index. In cluster mode the ownership epoch moves it too, by
// (epoch mod 64 + 1) x 2^24: a former owner that has not yet learnt of its
// successor (cut from ZooKeeper, frozen) would otherwise evict the
// successor's binlog connection each time it reconnects, and be evicted in
// turn, until its fence refusal stops it. 0 stays 0 (the source picks).
uint32_t ReplicaServerId(uint32_t server_id, uint32_t pipeline_index, uint64_t epoch);

class Pipeline {
 public:
  // `index` is the pipeline's place in the config: it offsets the replica
  // server_id so that pipelines sharing a source do not evict each other.
  Pipeline(const Config& config, const PipelineConfig& pipeline, store::SqliteStore& store, PipelineMetrics& metrics,
           uint32_t index = 0);
  ~Pipeline();

  // Keeps the pipeline's settings (settings.h) in `shared` instead of the
  // store (cluster mode: every node sees them). Before Start.
  void ShareSettings(std::shared_ptr<PipelineSettings> shared) {
    shared_settings_ = std::move(shared);
    settings_ = shared_settings_.get();
  }

  // Checks everything that can be checked before running: rules compile,
  // filters parse, the source is reachable and every rule matches a table.
  Status Validate();
  // Starts the threads. Returns at once; progress shows in status().
  Status Start();
  // Stops every thread; queued changes are dropped (they are replayed from
  // the checkpoints on the next start).
  void Stop();
  bool running() const { return running_; }
  // Why the pipeline asks its owner to start it again ("" when it does
  // not): the capture found that the source is another server than the one
  // its position was taken on (an address moved to a promoted replica:
  // kSourceChanged; a new start moves each target to its GTID state there,
  // FollowSourceFailover), or a target added later was copied while the
  // others streamed (a new start lets it join the stream where its copy
  // began). Once per request; thread-safe.
  std::string TakeRestartRequest();
  // On demand (the API's check / repair / snapshot actions), while the
  // pipeline runs: a consistency check now (repairing when `repair`), or a
  // snapshot of every selected table alongside the stream. kNotSupported
  // when the pipeline does not run or one is already under way. Return at
  // once; progress shows in status(). Thread-safe.
  Status RequestCheck(bool repair);
  Status RequestSnapshot();
  // Cluster mode: the node's session is suspended, so another node may own
  // the pipeline soon (design §10). While in doubt, targets whose sink is
  // not fenced() write nothing (state `paused`; a write under way finishes);
  // fenced ones go on, as the target itself refuses them once a successor
  // raised the epoch. false resumes. Thread-safe; returns at once.
  void SetInDoubt(bool in_doubt);
  PipelineStatus status() const;
  const std::string& name() const { return cfg_.name; }
  // This pipeline is a set-aside target's catch-up (pipeline_set_aside.cc):
  // its binlog connection takes a random server id (beside the pipeline's
  // own), a PostgreSQL source is read through `pg_slot` (a copy of the
  // pipeline's slot), and a checkpoint in purged binlogs fails that target,
  // saying how to bring it back, as it would beside other targets. Before
  // Start.
  void ServeAsCatchUp(std::string pg_slot = "") {
    catching_up_ = true;
    catch_up_slot_ = std::move(pg_slot);
  }

 private:
  struct Target;
  class CaptureHandler;

  // `snapshot: initial`: copies the existing rows when needed, then streams.
  void SnapshotThenStream();
  // Runs RunCheck every `check: {every}` (if set) and when asked
  // (RequestCheck), while the pipeline runs.
  void CheckLoop();
  Status StartStreaming();
  void CaptureLoop();
  void TransformLoop();
  void TargetLoop(Target& t);
  Status HandleDdl(Target& t, const TargetWork& w, sink::BatchEnd end);
  // A partition dropped, truncated or exchanged on the source (rows gone
  // without row events) whose statement target `t` does not take: its rows
  // stay in `dest` there. Logged and a "warning" status event, not silent.
  void NotePartitionRowsKept(Target& t, const TargetWork& w, const std::string& dest, std::string_view why);
  // Why the target table `dest`, which `rule` maps a source table to, holds
  // other source tables' rows too (shards merged by the rules, or another
  // pipeline writing it), so that emptying or dropping that one source table
  // must not empty or drop it; "" when nothing else writes it.
  std::string SharedTargetTable(const Target& t, const transform::MappingRule& rule, const std::string& dest);
  // A TRUNCATE or DROP TABLE of source tables whose target tables are
  // shared: those tables' part is not applied (a warning says so), the rest
  // is handled as any statement; an ALTER that only drops columns of one:
  // not applied. Set when it took the statement over.
  std::optional<Status> KeepSharedTargetTables(Target& t, const TargetWork& w, const mysql::DdlStatement& d,
                                               const sink::BatchEnd& end);
  Status RouteDdl(Target& t, const TargetWork& w, const mysql::DdlStatement& d, const sink::BatchEnd& end);
  // CREATE/ALTER/DROP SEQUENCE of a selected sequence, to a target that
  // speaks MySQL DDL (pipeline_sequences.cc).
  Status HandleSequenceDdl(Target& t, const TargetWork& w, const mysql::DdlStatement& d, const sink::BatchEnd& end);
  // Removes the sequence changes from batch[from...] for a target without
  // sequences, naming each sequence once.
  void LeaveOutSequences(Target& t, std::vector<SinkChange>& batch, size_t from);
  void NoteSequenceLeftOut(Target& t, const std::string& sequence);
  // Whether sequences go to target `t`: it has them, and the pipeline is
  // not one way of a two-way pair.
  bool TakesSequences(const Target& t) const;
  Status HandleRename(Target& t, const TargetWork& w, const mysql::DdlStatement& d,
                      const sink::BatchEnd& end);
  struct TableSwap;
  // RouteDdl of an online schema change's swaps (FindTableSwaps) to a target
  // whose tables keep rows without taking MySQL DDL.
  Status RouteTableSwaps(Target& t, const TargetWork& w, const std::vector<TableSwap>& swaps,
                         const sink::BatchEnd& end);
  // An online schema change swapped selected `db`.`table` with an unselected
  // shadow copy: what makes its target table `dest_db`.`dest_table` (on a
  // target that takes MySQL DDL) hold the source table's columns now.
  // An online schema change: in one RENAME, selected `out` renamed out of
  // the selection and unselected `in` renamed to its name.
  struct TableSwap {
    const mysql::DdlStatement::Rename* out;
    const mysql::DdlStatement::Rename* in;
    const transform::MappingRule* rule;  // out's
  };
  std::vector<TableSwap> FindTableSwaps(const mysql::DdlStatement& d) const;
  // For targets whose tables keep rows without taking MySQL DDL
  // (PostgreSQL, ClickHouse): a MySQL ALTER of `db`.`table` that gives the
  // kept target table the source table's columns now (dropped, added with
  // what the rows there hold, retyped); nothing when the table is not there.
  Result<std::optional<sink::DdlChange>> SwapDdlForRowTables(sink::Sink& sink, const std::string& target,
                                                             Interrupter* interrupt,
                                                             const transform::MappingRule& rule,
                                                             const std::string& db, const std::string& table,
                                                             const std::string& dest_db, const std::string& dest_table,
                                                             const StreamPos& pos);
  // The column lines of the source table's SHOW CREATE TABLE (table_swap.h).
  Result<std::vector<std::pair<std::string, std::string>>> SourceColumnDefinitions(const std::string& db,
                                                                                   const std::string& table,
                                                                                   Interrupter* interrupt);
  Result<TargetAlter> SwapAlter(const TargetConfig& target, const transform::MappingRule& rule,
                                const std::string& db, const std::string& table, const std::string& dest_db,
                                const std::string& dest_table);
  // The columns `names` an ALTER TABLE added to `db`.`table` on a MySQL
  // source, as the target's names (rule renames; outside a subset left out)
  // with what the rows already there hold (column_default.h); a value that
  // cannot be known is a warning naming the column.
  // `target`: its name, for the warnings; `interrupt` cuts the lookup.
  Result<std::vector<sink::DdlChange::AddedColumn>> AddedColumnsOnSource(
      const std::string& target, Interrupter* interrupt, const transform::MappingRule& rule, const std::string& db,
      const std::string& table, const std::vector<std::string>& names, const StreamPos& pos);
  // The session settings a MySQL target runs the source's statement of `w`
  // with: as the source ran it, with a named time zone (or SYSTEM, the
  // source server's own) turned into the source's offset for it.
  Result<DdlSession> TargetDdlSession(const TargetWork& w, Interrupter* interrupt);
  Status FlushBatch(Target& t, std::vector<SinkChange>& batch, const sink::BatchEnd& end);
  // Calls `call` on the target's sink until it succeeds; what is retryable
  // is retried after Reconnect, with the target shown as `retrying`.
  Status CallSink(Target& t, const std::function<Status()>& call);
  // A target that lost transactions it had committed (kTargetRewound): warns,
  // asks for a new start (which reads them again from the source) and holds
  // the target until the pipeline stops for it.
  Status StartAgainFromRewoundTarget(Target& t, const Status& why);
  // Returns when `t` may write: at once unless the ownership is in doubt and
  // its sink is not fenced (or, when `reconnecting`, its Reconnect would take
  // the fence); otherwise once the doubt is resolved or on Stop.
  void WaitWhileInDoubt(Target& t, bool reconnecting = false);
  // A sink with batches in flight (sink.h): serves its acknowledgements;
  // `wait`: until every batch is recorded.
  Status SettleSink(Target& t, bool wait);
  // Reports the batches the sink recorded since (rows, applied position,
  // the store's copy): progress is shown only once the target holds it.
  // Returns their rows.
  // The target's applied position and GTID state from its sink's checkpoint
  // (target thread, mu_ held).
  void NoteApplied(Target& t);
  size_t ReportAcknowledged(Target& t);
  // The oldest change not applied yet (delay), after a hand-over or an acknowledgement.
  // Per table only for the tables of the batches just acknowledged (t.settled_tables).
  void RefreshPending(Target& t);
  // The sink's skipped rows and conflicts, into the metrics and status.
  void CountSinkOutcomes(Target& t);
  Result<StartPosition> ResumePosition();
  // The target names recorded as having run (kTargetsKey); of those, the ones
  // the configuration no longer has (SinkOptions::former_targets); adds the
  // live targets with a checkpoint to the record.
  Result<std::vector<std::string>> RecordedTargets();
  Result<std::vector<std::string>> FormerTargets();
  Status RecordTargets();
  // At a first start: a warning naming pipelines the configuration no longer
  // has whose checkpoints on the same targets the store holds (a renamed
  // pipeline starts anew: checkpoints are kept by pipeline name).
  void WarnIfRenamed(const std::string& start);
  // A target without a checkpoint whose store record says it applied
  // something before (its checkpoint removed, the target replaced or
  // restored): a warning naming both places.
  void WarnIfCheckpointLost(Target& t, const std::string& start);
  Result<StartPosition> ResolveOnSource(const StartPosition& p);
  // A MariaDB source replaced by a replica (a failover: the same GTIDs at
  // other file offsets): each target checkpoint whose FILE:OFFSET is not at
  // its recorded GTID state in the server's binlog is moved to where that
  // state is there (Sink::ReplaceCheckpoint: one transaction on MySQL
  // targets). Crash-safe through the store (setting "moved/TARGET").
  Status FollowSourceFailover();
  // Before the capture starts (capture thread), MySQL sources: a target
  // whose checkpoint lies in binlog files the source no longer has is
  // failed alone, naming the way back, while some other target can go on
  // (binlog_purge.h); when none can, the capture's own error says it.
  Status DetachTargetsBehindPurgedBinlogs();
  // Before capturing (capture thread): tables the rules newly select since
  // the last start (selection.h) get their target tables on `mysql_targets`;
  // with `snapshot: initial` their rows are then copied by
  // StartSelectionCopy, else a warning names the command that copies them.
  // Keyless ones are copied here, before anything is captured
  // (CopyKeylessFirst). The rules are recorded in the store once that is
  // settled.
  Status PrepareNewlySelected(const std::vector<const TargetConfig*>& mysql_targets);
  // Copies keyless tables (copy.tables) into the targets that stream in this
  // run, before the capture starts: their copy replaces each target table
  // whole, and the stream, told where each was read (keyless_copied_now_),
  // leaves out the changes the copy holds. False when it must wait for the
  // next start (another copy runs, or this one failed: said in the log).
  Result<bool> CopyKeylessFirst(PipelineConfig copy);
  std::vector<std::string> LiveTargetsLocked() const;  // the targets not failed; mu_ held
  // Target thread: where keyless tables' copies were read (the sink's
  // records and keyless_copied_now_), read once; and whether a DDL statement
  // at `at` is one such a copy already holds (KeylessCopyHolds, pipeline.cc).
  const std::map<std::string, StreamPos>& KeylessCopiedAt(Target& t);
  bool KeylessCopyHolds(Target& t, const mysql::DdlStatement& d, const StreamPos& at);
  // The same for a PostgreSQL source: tables the publication (FOR TABLE)
  // did not publish yet, created since the last start or while it ran, are
  // added to it; their rows, never streamed, are copied (`snapshot:
  // initial`, recorded in the store until done) or named with the command.
  Status PrepareNewlyPublished();
  // Of those already published, the tables the rules newly select since the
  // last start (recorded as for a MySQL source): their rows the old rules
  // left out were never streamed.
  Result<std::vector<std::string>> ChangedRulePostgresTables();
  void StartSelectionCopy();
  // After that copy (its thread): the target tables of `tables` (source
  // names) compared with the source, since rows the target held before (a
  // table selected again after rows were deleted, a narrowed `where:`) stay
  // beside the copy's; repaired with `check: {repair: true}`, else reported
  // (log and status event) with the command that repairs them.
  void CheckCopiedSelection(const std::vector<std::string>& tables);
  // A MySQL source's selected tables as information_schema shows them now,
  // recorded in the store's schema history (source/mysql/schema_history.h)
  // at `position` (a snapshot's start, where streaming begins), so that a
  // DDL statement run while the copy takes its time does not leave the
  // stream's older rows only the newer shape. Best effort (logged).
  void RecordTableShapesAt(const std::string& position);
  // Before capturing: a trigger on a table the pipeline fills on one of
  // `mysql_targets` that writes another such table, or sets NEW values of
  // columns sluice writes (target_triggers.h), fails the start naming it;
  // any other is a warning. So does a target that is the source server
  // itself when the tables written there are ones the rules read.
  Status CheckTargetTriggers(const std::vector<const TargetConfig*>& mysql_targets);
  // A target is the source server itself (CheckTargetTriggers): the
  // transactions this pipeline writes there are dropped from its stream.
  // Capture thread only.
  bool drops_own_transactions_ = false;
  // Reads the source's foreign keys and gives the mapper the actions the
  // targets redo (transform/cascades.h); warns of the ones they cannot.
  Status PlanCascades(mysql::MysqlConnection& conn);
  // PlanCascades on a connection of its own, after DDL that may have
  // changed the keys (transform thread); a failure keeps the plan and warns.
  void ReplanCascades();
  std::optional<PipelineConfig> selection_copy_;  // capture thread: the newly selected tables to copy
  // capture thread: the store setting (key, value) written once they are copied
  std::pair<std::string, std::string> selection_record_;
  std::string selection_why_;  // what made them new, for the log
  std::vector<std::string> selection_tables_;  // their source names ("db.table")
  std::thread selection_thread_;                  // the copy (joined by Stop, after the capture thread)
  // guarded by mu_: where CopyKeylessFirst read its tables, for the target
  // loops (which read their sinks' records before it ran)
  std::map<std::string, StreamPos> keyless_copied_now_;
  std::atomic<bool> restart_requested_{false};  // see TakeRestartRequest
  std::string restart_reason_;                  // guarded by mu_
  void RequestRestart(std::string reason);
  // Cluster mode: raises the pipeline's fence on `targets` before a copy
  // that comes before their sinks opened (snapshot: initial).
  Status RaiseFences(const std::vector<std::string>& targets);
  // The state of the targets in copying_targets_ (status API).
  void NoteCopyingTargets(PipelineState s, const std::string& error);
  // Targets being copied (snapshot: initial) while the others stream: they
  // take no part in this run's stream (guarded by mu_; set before
  // StartStreaming, cleared by Start).
  std::set<std::string> copying_targets_;
  // PostgreSQL sources while copying_targets_ are copied: the slot confirms
  // nothing more, so that the next start can read again from where the copy
  // began (a slot cannot go back past what it confirmed).
  std::atomic<bool> hold_slot_{false};
  // Capture thread: the kSourceChanged errors a restart was asked for
  // already (a PostgreSQL table new to the pipeline is restarted for once).
  std::set<std::string> restarted_for_;
  std::atomic<bool> revalidate_{false};  // the next Start runs Validate again (the tables it selects changed)
  // Capture thread: the GTID state recorded with the position ResumePosition
  // returned ("" when none), checked by the source against its binlog.
  std::string start_gtid_state_;
  // Mirrors a target's checkpoint into the store; a failure shows in status().
  void SaveStoreCheckpoint(Target& t, const sink::BatchEnd& end);
  void SetState(PipelineState s, const std::string& error = "");
  // Under mu_: a line of the pipeline's recent history (status().events),
  // and a target's state change recorded there when it is one.
  void NoteEvent(const std::string& target, std::string what, std::string message);
  void NoteTarget(Target& t, PipelineState s, std::string error);
  // `detach_after`: true when the target has been `retrying` that long while
  // another target is not failed; it is then set aside (failed for this run,
  // still `retrying`): the transform stage stops feeding it, so its full
  // queue no longer holds the others. Target thread; takes mu_.
  bool SetAsideIfHoldingOthers(Target& t);
  // Transform thread: handing work to `t` waited `waited` for room in its
  // queue. True when `t` has held the others back for `detach_after` (it is
  // then marked `slow`: handed nothing more).
  bool SetAsideIfSlow(Target& t, std::chrono::steady_clock::duration waited);
  // Target thread, once `t` is marked slow: settles what it has in flight
  // (the catch-up starts from the checkpoint the target holds) and sets it aside.
  void SetAsideSlowTarget(Target& t);
  // A set-aside target's thread until the pipeline stops: drains its queue,
  // keeps its delay growing, and tries the target now and then; once it
  // answers, asks for a new start, from which it catches up.
  void WaitForSetAsideTarget(Target& t);
  // The catch-up of a set-aside target that answers again (Target::catch_up):
  // started; looked at (true once it ended: caught up, the pipeline then
  // asks for a new start; or failed); ended. The target's thread.
  void StartCatchUp(Target& t);
  bool WatchCatchUp(Target& t, const std::string& main_position);
  void EndCatchUp(Target& t);
  void SleepUnlessStopping(std::chrono::milliseconds d);
  // Logs a target's retryable failure (target thread): at warn when it is
  // news, at debug while it repeats unchanged (repeated_warning.h).
  void WarnRetry(Target& t, const std::string& message, std::chrono::milliseconds backoff);
  // Sets the target's delay gauge from its oldest change not yet applied.
  void PublishDelay(Target& t);
  // While the capture is not streaming (source down, hung, reconnecting):
  // how long since it last knew it was caught up, as the source may have
  // changes since then; 0 while it streams.
  int64_t SourceDelayMs() const;
  int64_t NowMs() const;

  const Config& config_;
  PipelineConfig cfg_;
  bool catching_up_ = false;
  std::string catch_up_slot_;
  const SourceConfig* source_cfg_ = nullptr;
  uint32_t server_id_offset_ = 0;
  store::SqliteStore& store_;
  StoreSettings store_settings_;
  std::shared_ptr<PipelineSettings> shared_settings_;
  PipelineSettings* settings_ = &store_settings_;  // or shared_settings_
  PipelineMetrics& metrics_;
  std::unique_ptr<transform::TableMapper> mapper_;
  std::vector<std::string> pg_tables_;  // PostgreSQL source: the selected "schema.table"s (Validate)
  std::vector<std::unique_ptr<Target>> targets_;
  std::unique_ptr<BoundedQueue<std::shared_ptr<ChangeEvent>>> capture_queue_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  std::atomic<bool> in_doubt_{false};
  std::thread capture_thread_, transform_thread_, snapshot_thread_;
  std::unique_ptr<Snapshot> snapshot_;  // guarded by mu_ for replacement; read by status()
  std::thread check_thread_;
  std::atomic<bool> check_cancel_{false};
  std::condition_variable check_wake_;    // with mu_: a request, or Stop
  std::optional<bool> check_request_;     // guarded by mu_: a requested check, with its repair flag
  bool check_requested_ = false;          // guarded by mu_: a check was asked for since Start
  std::thread jobs_thread_;               // a requested snapshot (joined by Stop)
  bool snapshot_running_ = false;         // guarded by mu_: the requested snapshot has not ended
  // Cuts the connections of the periodic check and of the snapshot's start
  // (Snapshot::TargetsToCopy) on Stop, so that a hung server does not hold it.
  mysql::Interrupter jobs_interrupt_;
  CheckStatus check_;  // guarded by mu_
  static constexpr size_t kMaxEvents = 50;
  std::deque<PipelineEvent> events_;  // guarded by mu_; newest first

  mutable std::mutex mu_;
  PipelineState state_ = PipelineState::kStopped;
  std::string last_error_;
  std::string source_position_;
  // Written by the capture thread: whether its stream delivers events, and
  // the last moment it knew it was caught up (a heartbeat's arrival, a
  // commit's time), in wall-clock ms.
  std::atomic<bool> source_live_{false};
  std::atomic<int64_t> source_caught_up_ms_{0};
  std::string store_error_;  // the last store write's error, "" once it works again
  std::chrono::steady_clock::time_point store_error_logged_{};
};

}  // namespace sluice::pipeline
