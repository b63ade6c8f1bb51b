#pragma once
// PipelineController: what the HTTP API (design §6) may ask of the running
// pipelines. Implemented by the pipeline runner; called from HTTP server
// threads, so every method is thread-safe and returns copies.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sluice::pipeline {

// kPaused: the ownership is in doubt (cluster mode) and the target cannot
// check the epoch, so it applies nothing until the doubt is resolved.
// kFenced: a newer owner took the target over; nothing more is applied.
enum class PipelineState : uint8_t { kStarting, kRunning, kRetrying, kStopped, kFailed, kSnapshotting, kPaused, kFenced };

inline const char* PipelineStateName(PipelineState s) {
  switch (s) {
    case PipelineState::kStarting: return "starting";
    case PipelineState::kRunning: return "running";
    case PipelineState::kRetrying: return "retrying";
    case PipelineState::kStopped: return "stopped";
    case PipelineState::kFailed: return "failed";
    case PipelineState::kSnapshotting: return "snapshotting";
    case PipelineState::kPaused: return "paused";
    case PipelineState::kFenced: return "fenced";
  }
  return "unknown";
}

// The inverse of PipelineStateName; nullopt for a name it never gives.
inline std::optional<PipelineState> PipelineStateFromName(std::string_view name) {
  for (PipelineState s : {PipelineState::kStarting, PipelineState::kRunning, PipelineState::kRetrying,
                          PipelineState::kStopped, PipelineState::kFailed, PipelineState::kSnapshotting,
                          PipelineState::kPaused, PipelineState::kFenced}) {
    if (name == PipelineStateName(s)) return s;
  }
  return std::nullopt;
}

// Rows one target applied to one of its tables ("db.table" as the target
// names it), by operation, and that table's delay.
struct TableStatus {
  std::string table;
  uint64_t inserts = 0, updates = 0, deletes = 0;
  int64_t delay_ms = 0;  // since the source commit of its oldest change not applied yet; 0 when none
};

struct TargetStatus {
  std::string name;
  PipelineState state = PipelineState::kStarting;
  std::string applied_position;  // last position committed on this target
  int64_t delay_ms = 0;          // now - source commit time of the last applied change (or of the last heartbeat when idle)
  uint64_t rows_applied = 0;
  double rows_per_second = 0;    // recent apply rate
  std::string last_error;
  std::vector<TableStatus> tables;  // by table name
  // The source's GTID state at applied_position ("" where unknown): where
  // to go on from after a source failover.
  std::string applied_gtid;
};

// Progress of a snapshot (pipeline/snapshot.h), per table and in all.
struct SnapshotTableProgress {
  std::string source;  // "db.table"
  std::string target;  // "db.table" on the targets
  uint64_t rows_copied = 0;
  uint64_t rows_estimate = 0;  // rows to copy, estimated (table statistics), at least rows_copied
  uint32_t chunks_done = 0;
  uint32_t chunks_total = 0;
  double rows_per_second = 0;
  double eta_seconds = -1;  // -1: unknown
  bool finished = false;
};

struct SnapshotProgress {
  std::string phase = "idle";  // idle | planning | copying | done | failed | cancelled
  std::string start_position;  // P0
  std::string error;
  std::vector<SnapshotTableProgress> tables;
  uint64_t rows_copied = 0;
};

// The periodic consistency checks of a pipeline (`check: {every, repair}`).
struct CheckStatus {
  std::string state = "scheduled";  // scheduled | running | consistent | differences | repaired | failed
  uint64_t runs = 0;                 // checks finished (or failed) since start
  int64_t last_started_ms = 0;       // wall-clock ms; 0: none yet
  int64_t last_finished_ms = 0;
  int64_t next_ms = 0;               // when the next one starts
  double last_duration_s = 0;
  uint64_t missing = 0, extra = 0, different = 0;  // found by the last check (after settling)
  uint64_t in_flight = 0;            // differences of the last check that were changes in flight
  uint64_t repaired_rows = 0;        // target rows the last check's repair wrote
  uint64_t remaining = 0;            // differences left after the last repair
  std::string error;                 // why the last check failed, or which tables it could not check
  // What the last check left out, per table ("" when nothing): rows only the
  // target has are not looked for where another pipeline writes the table too.
  std::string note;
};

// A line of a pipeline's recent history: a state change of the pipeline or
// of one target (with the error that caused it), a check or a snapshot
// requested, done or failed.
struct PipelineEvent {
  int64_t time_ms = 0;     // wall clock
  std::string target;      // "" for the pipeline itself
  std::string what;        // the new state ("running", "retrying", ...), or "check" / "snapshot"
  std::string message;     // the error or the result; "" when there is nothing to say
};

struct PipelineStatus {
  std::string name;
  PipelineState state = PipelineState::kStarting;
  std::string source_position;   // last position read from the source
  std::string applied_position;  // the least advanced target's position
  int64_t delay_ms = 0;          // the largest target delay
  uint64_t rows_applied = 0;     // summed over targets
  uint64_t conflicts = 0;        // two-way conflicts resolved (conflict: latest_wins), summed over targets
  std::string last_error;
  std::string store_error;  // the store's checkpoint copy cannot be written ("" when it can)
  std::vector<TargetStatus> targets;
  bool has_snapshot = false;  // a snapshot ran or runs in this process (`snapshot: initial`)
  SnapshotProgress snapshot;
  bool has_check = false;     // periodic checks are configured, or a check was requested
  CheckStatus check;
  std::vector<PipelineEvent> events;  // the last 50, newest first
  // Cluster mode (design §10): the owning node ("" while unowned, shown as
  // null) and the epoch of its ownership; rendered only when `clustered`.
  bool clustered = false;
  std::string owner;
  int64_t epoch = 0;
};

class PipelineController {
 public:
  virtual ~PipelineController() = default;
  virtual std::vector<PipelineStatus> ListPipelines() const = 0;
  // NotFound when there is no pipeline of that name.
  virtual Result<PipelineStatus> GetPipeline(const std::string& name) const = 0;
  virtual Status StopPipeline(const std::string& name) = 0;
  virtual Status StartPipeline(const std::string& name) = 0;
  // Moves a stopped pipeline's start position ("latest", GTID, FILE:POS).
  virtual Status SetPosition(const std::string& name, const std::string& position) = 0;
  // A consistency check now (`repair`: and repair what differs), or a
  // snapshot of every selected table alongside the stream, on a running
  // pipeline; they run in the background and show in the status.
  // kNotSupported when the pipeline does not run or one is under way.
  virtual Status RunCheck(const std::string& name, bool /*repair*/) {
    return Status::Error(StatusCode::kNotSupported, "pipeline \"{}\": checks on request are not offered here", name);
  }
  virtual Status RunSnapshot(const std::string& name) {
    return Status::Error(StatusCode::kNotSupported, "pipeline \"{}\": snapshots on request are not offered here",
                         name);
  }
};

}  // namespace sluice::pipeline
