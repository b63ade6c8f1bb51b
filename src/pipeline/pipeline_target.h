// Pipeline's private parts shared by its source files (pipeline.cc and the
// pipeline_*.cc beside it): a target's state (`Pipeline::Target`) and small
// helpers. Not for other folders.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/position.h"
#include "pipeline/bounded_queue.h"
#include "pipeline/pipeline.h"
#include "pipeline/repeated_warning.h"

namespace sluice::pipeline {

using Clock = std::chrono::steady_clock;

inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// MariaDB binlog timestamps have one-second resolution: a change stamped
// second S committed in [S, S+1s) and no later than we received it.
inline int64_t CommitEstimateMs(uint64_t ts_ms, int64_t received_ms) {
  if (ts_ms == 0) return received_ms;
  return std::min<int64_t>(static_cast<int64_t>(ts_ms) + 999, received_ms);
}

// `message` without a leading "pipeline P target T: " or "target T: ": the
// loader names its target itself, and the log line names both once.
inline std::string_view WithoutTargetPrefix(std::string_view message, const std::string& pipeline,
                                            const std::string& target) {
  for (const std::string& prefix : {fmt::format("pipeline {} target {}: ", pipeline, target),
                                    fmt::format("target {}: ", target)}) {
    if (message.starts_with(prefix)) return message.substr(prefix.size());
  }
  return message;
}

// Whether resume position `a` comes before `b`: binlog "file:offset"s by
// file sequence, then offset; PostgreSQL LSNs by value.
inline bool ResumeBefore(const std::string& a, const std::string& b) {
  if (a.find('/') != std::string::npos) {  // PostgreSQL: LSNs
    auto la = Lsn::Parse(a), lb = Lsn::Parse(b);
    return la.ok() && lb.ok() && *la < *lb;
  }
  auto pa = BinlogFilePos::Parse(a);
  auto pb = BinlogFilePos::Parse(b);
  if (!pa.ok() || !pb.ok()) return false;
  return StreamPos{pa->file, pa->offset, 0} < StreamPos{pb->file, pb->offset, 0};
}

// A set-aside target's status while it catches up (Target::catch_up):
// what its catch-up pipeline says of it (pipeline_set_aside.cc).
void CatchUpStatus(const Pipeline& catch_up, TargetStatus& ts);

struct Pipeline::Target {
  const TargetConfig* cfg = nullptr;
  // Target thread only: keyless tables whose copy holds their changes before
  // a place (KeylessCopiedAt).
  std::map<std::string, StreamPos> keyless_copied_at;
  bool keyless_read = false;
  // Target thread only: sequences whose changes this target left out (it
  // has none), each named once in a warning.
  std::set<std::string> sequences_left_out;
  std::unique_ptr<BoundedQueue<std::shared_ptr<const TargetWork>>> queue;
  // Stop cuts the sink's connections with it when the target thread does
  // not end on its own (a hung target); declared before `sink`, which
  // registers with it.
  Interrupter interrupt;
  std::unique_ptr<sink::Sink> sink;
  std::thread thread;
  RepeatedWarning retry_warning;      // target thread only (WarnRetry)
  std::atomic<bool> finished{false};  // TargetLoop returned
  std::atomic<bool> ready{false};   // loader open, checkpoint read
  std::atomic<bool> failed{false};  // detached after a fatal error, or set aside (below)
  // Down for `detach_after` while others could go on: out of this run's
  // stream until it answers again (SetAsideIfHoldingOthers).
  std::atomic<bool> set_aside{false};
  // Set by the transform thread once this target has held the others back
  // for `detach_after` (it waited for room in its queue most of that time
  // while another target had room: SetAsideIfSlow). Nothing more is handed
  // to it; its thread settles what it has in flight and sets it aside.
  std::atomic<bool> slow{false};
  // Transform thread only: how long handing work to this target waited for
  // room in the current slice of time (from `slice_start`), and since when
  // every slice was mostly such waiting (zero: the last one was not).
  Clock::duration held_in_slice{};
  Clock::time_point slice_start{};
  Clock::time_point holding_since{};
  // A set-aside target that answers again first catches up on a stream of
  // its own (a pipeline with this target alone), so that the others do not
  // wait for it; then the pipeline starts anew and it joins them. Created
  // and ended by the target's thread; read by status() under Pipeline::mu_.
  std::unique_ptr<Pipeline> catch_up;
  std::string catch_up_slot;  // PostgreSQL: the copy of the slot it reads, dropped when it ends
  // PostgreSQL sources: the LSN the target's checkpoint resumes from (what
  // the slot may confirm for it); 0 until known.
  std::atomic<uint64_t> applied_lsn{0};
  // Guarded by Pipeline::mu_.
  PipelineState state = PipelineState::kStarting;
  std::string last_error;
  Clock::time_point down_since{};  // since when it is `retrying`
  std::string applied_position;
  std::string applied_gtid;  // the source's GTID state at applied_position, where known
  uint64_t rows_applied = 0;
  int64_t oldest_pending_ms = 0;  // commit estimate of the oldest change not yet applied, 0 if none
  double rows_per_second = 0;
  uint64_t window_rows = 0;
  Clock::time_point window_start = Clock::now();
  // Target thread only: batches handed over that the sink has not recorded
  // yet (sink.h, "In flight"), with their rows, oldest first.
  struct TableStats;
  struct Unacked {
    sink::BatchEnd end;
    size_t rows = 0;
    // Commit estimates of its oldest change, of the batch and per table:
    // the delay counts a batch in flight as not applied yet.
    int64_t oldest_ms = 0;
    std::vector<std::pair<TableStats*, int64_t>> tables;
    bool in_flight = false;  // handed over before it was applied (logged again once it is)
  };
  int64_t batch_oldest_ms = 0;  // of the batch being gathered; target thread only
  std::vector<TableStats*> settled_tables;  // ReportAcknowledged's scratch
  std::deque<Unacked> unacked;
  Clock::time_point last_store_write{};
  Counter* rows = nullptr;
  Counter* bytes = nullptr;
  Counter* retryable = nullptr;
  Counter* fatal = nullptr;
  Counter* skipped = nullptr;     // rows left out by on_error: skip
  uint64_t skipped_counted = 0;   // the loader's rows_skipped() already in `skipped`
  // The loader's conflicts() already counted, and their sum (status API).
  std::map<std::pair<std::string, std::string>, uint64_t> conflicts_counted;
  uint64_t conflicts = 0;
  Histogram* batch_rows = nullptr;
  Histogram* apply_seconds = nullptr;
  Gauge* queue_bytes = nullptr;
  Gauge* delay = nullptr;
  // Per target table ("db.table"): row counters by op and the delay gauge.
  // Target thread only.
  struct TableStats {
    Counter* inserts = nullptr;
    Counter* updates = nullptr;
    Counter* deletes = nullptr;
    Gauge* delay = nullptr;
    int64_t oldest_pending_ms = 0;  // commit estimate of its oldest change not yet applied, 0 if none
    int64_t batch_oldest_ms = 0;    // the same in the batch being gathered
  };
  std::map<std::string, TableStats> tables;
  // The same tables for status(), which may not walk `tables`: under
  // Pipeline::mu_ (the stats' counters and gauges are atomic).
  std::vector<std::pair<std::string, const TableStats*>> listed_tables;
  // FlushBatch's tally of a batch: consecutive changes of one table.
  struct TableRun {
    TableStats* stats = nullptr;
    uint64_t inserts = 0, updates = 0, deletes = 0;
  };
  std::vector<TableRun> runs;
  // Lookup cache (changes come in runs of one table); held, so that its
  // address cannot be reused by another table's schema.
  TargetTablePtr last_table;
  TableStats* last_stats = nullptr;
  TableStats& StatsFor(const TargetTablePtr& table, PipelineMetrics& m, const std::string& pipeline,
                       std::mutex& pipeline_mu) {
    if (table == last_table) return *last_stats;
    std::string name = table->db + "." + table->table;
    auto [it, added] = tables.try_emplace(name);
    if (added) {
      auto counter = [&](const char* op) {
        return &m.table_rows.WithLabels({{"pipeline", pipeline}, {"target", cfg->name}, {"table", name}, {"op", op}});
      };
      it->second.inserts = counter("insert");
      it->second.updates = counter("update");
      it->second.deletes = counter("delete");
      it->second.delay = &m.table_delay.WithLabels({{"pipeline", pipeline}, {"target", cfg->name}, {"table", name}});
      std::lock_guard lock(pipeline_mu);
      listed_tables.insert(std::upper_bound(listed_tables.begin(), listed_tables.end(), name,
                                            [](const std::string& n, const auto& e) { return n < e.first; }),
                           {name, &it->second});
    }
    last_table = table;
    last_stats = &it->second;
    return it->second;
  }
};


}  // namespace sluice::pipeline
