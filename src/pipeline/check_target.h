#pragma once
// The check of one pipeline's tables on one target (pipeline/check.h): what
// check.cc (MySQL targets: key ranges and server-side checksums) and
// check_by_keys.cc (other targets: sink::RowReader, by keys) share. Internal
// to pipeline/.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "client/mysql/connection.h"
#include "client/postgres/connection.h"
#include "client/mysql/table_reader.h"
#include "pipeline/check.h"
#include "pipeline/table_set.h"
#include "sink/chunk_target.h"
#include "sink/mysql/chunk_writer.h"
#include "sink/row_reader.h"
#include "sink/sink.h"
#include "source/postgres/pg_table_reader.h"
#include "transform/table_mapper.h"

namespace sluice::pipeline::detail {

using sink::mysql::ChunkWriter;
using sluice::mysql::ConnectOptions;
using sluice::mysql::KeyRange;
using sluice::mysql::KeyTuple;
using sluice::mysql::MysqlConnection;
using sluice::mysql::RowBlock;
using sluice::mysql::TableReader;

constexpr int kSettleRounds = 3;
constexpr int kRepairAttempts = 10;

// Runs fn over `tasks` on up to sessions.size() threads (the caller's among
// them), each thread with its own session; the first error stops the rest
// and is returned.
template <typename SessionT, typename TaskT>
Status ForEachOnSessions(std::vector<SessionT>& sessions, const std::vector<TaskT>& tasks,
                         const std::function<Status(SessionT&, const TaskT&)>& fn) {
  if (tasks.empty() || sessions.empty()) return Status::Ok();
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first;
  auto work = [&](SessionT& s) {
    while (!failed.load()) {
      size_t i = next.fetch_add(1);
      if (i >= tasks.size()) break;
      Status st = fn(s, tasks[i]);
      if (!st.ok()) {
        std::lock_guard lock(mu);
        if (first.ok()) first = st;
        failed = true;
      }
    }
  };
  const size_t n = std::min(sessions.size(), tasks.size());
  std::vector<std::thread> threads;
  for (size_t w = 1; w < n; ++w) threads.emplace_back([&, w] { work(sessions[w]); });
  work(sessions[0]);
  for (auto& th : threads) th.join();
  return first;
}

// The target writes that make a chunk's target rows equal to its source
// rows (flat rows of the table's width, as DiffRows compared them): missing
// and different rows upserted (inserted into a keyless table), extra ones
// deleted (by key, or the exact row of a keyless table).
std::vector<SinkChange> RepairChanges(const TargetTablePtr& table, const std::vector<RowMismatch>& mismatches,
                                      std::span<const Value> source, std::span<const Value> target);

// DiffRows over copies of both sides put in a comparable form: JSON in
// canonical text (CanonicalJson), and each value through `fit` (given the
// value and its target column) when set. The rows themselves are left as
// read, so that a repair writes the source's own values, as the stream
// writes them (a json column keeps its text), not their compared form.
std::vector<RowMismatch> CompareRows(std::span<const Value> source, std::span<const Value> target, size_t width,
                                     const std::vector<uint32_t>& key, Arena& arena,
                                     const std::function<void(Value&, size_t)>& fit = {});

// Settling (check.h step 3): polls `reached` (which sets
// report.applied_position and says whether the pipeline applied past
// report.source_position) every options.poll until it holds, `deadline`
// passes or the applied position stands still for options.stall. False, with
// report.caught_up and report.stalled set, when it gave up.
Result<bool> WaitUntilApplied(TargetCheckReport& report, const CheckOptions& options,
                              std::chrono::steady_clock::time_point deadline, const std::function<Result<bool>()>& reached,
                              const std::function<bool()>& cancelled);

// One chunk's repair through a sink::ChunkTarget (`writer`, opened from
// `options` when empty): BeginChunk first, then `changes` reads both sides
// and returns the writes, which are written and committed; retried up to
// kRepairAttempts times on retryable errors (`lost` is called after a lost
// connection). Returns the rows written; errors name `where`.
Result<uint64_t> RepairThroughChunkTarget(std::unique_ptr<sink::ChunkTarget>& writer,
                                          const sink::SinkOptions& options, mysql::Interrupter* interrupter,
                                          const std::string& where,
                                          const std::function<Result<std::vector<SinkChange>>()>& changes,
                                          const std::function<void()>& lost);

// The source side of one selected table, shared by the checks of every
// target: a MySQL source's table (`reader`) or a PostgreSQL one's
// (`pg_reader`, pg_check.h).
struct SourcePlan {
  SourceTable table;
  TableSchemaPtr schema;
  const transform::TableMapping* mapping = nullptr;  // owned by the check's mapper
  std::string target_name;                           // "db.table" on the targets
  std::unique_ptr<TableReader> reader;
  // A PostgreSQL source: every column, keyed by the primary key; and the
  // mapped columns in target order, for checksums.
  std::unique_ptr<postgres::PgTableReader> pg_reader, pg_hasher;
  // Reader rows to target column order: the reader reads every source column
  // when a filter needs them (a PostgreSQL source's always; then `projection`
  // picks the mapped ones), else exactly the mapped columns in target order.
  std::vector<uint32_t> projection;
  bool identity = true;
  std::vector<KeyTuple> bounds;  // chunk i = (bounds[i-1], bounds[i]]
  std::string error;

  // The source reader's key: indexes into schema->columns, in key order.
  const std::vector<uint32_t>& key() const { return pg_reader ? pg_reader->key() : reader->key(); }
  bool keyed() const {
    return mapping != nullptr && mapping->target->has_key() && (!pg_reader || pg_reader->has_key());
  }
  size_t width() const { return mapping->target->columns.size(); }
  uint32_t chunk_count() const { return keyed() ? static_cast<uint32_t>(bounds.size() + 1) : 1; }
  KeyRange Range(uint32_t chunk) const {
    KeyRange r;
    if (!keyed()) return r;
    if (chunk > 0) r.after = bounds[chunk - 1];
    if (chunk < bounds.size()) r.upto = bounds[chunk];
    return r;
  }
};

// Why a table whose rule runs a Lua script is not checked ("" when it runs
// none): the target holds what the script made of each row, and comparing
// (or worse, repairing) it with the source's rows would undo the script,
// e.g. write unmasked values back.
std::string NotCheckedThroughScript(const SourceTable& table);

// What the last comparison of one chunk found.
struct ChunkState {
  uint64_t rows = 0;
  std::vector<RowDiff> diffs;      // kept ones (CheckOptions::max_keys per table)
  uint64_t counts[3] = {0, 0, 0};  // by DiffKind - 1
  bool complete = true;            // every difference is in `diffs`
  uint64_t total() const { return counts[0] + counts[1] + counts[2]; }
};

// The counts and keys of a table's chunks into its report: the first
// comparison's (`remaining` false) or what a repair left. At most
// `max_keys` keys are listed.
void SummarizeChunks(const std::vector<ChunkState>& chunks, bool remaining, TableCheckReport& r,
                     size_t max_keys = SIZE_MAX);


// Source rows filtered and projected to target column order, matched with
// the target rows.
struct Compared {
  std::vector<Value> source;          // flat, width() values per kept row
  std::vector<uint32_t> source_rows;  // per kept row: its row in the source block
  std::vector<RowMismatch> mismatches;
};

// How a check reaches its source: a MySQL server, or a PostgreSQL one
// (`pg`; its targets checked here are compared by keys), whose pipeline's
// replication `slot` also tells when everything was applied (pg_check.h).
struct CheckSource {
  ConnectOptions mysql;
  std::optional<postgres::ConnectOptions> pg;
  std::string slot;
};

// One worker's connections.
struct Session {
  std::unique_ptr<MysqlConnection> source, target;
  std::unique_ptr<postgres::PgConnection> pg_source;  // a PostgreSQL source (instead of `source`)
  std::unique_ptr<ChunkWriter> writer;                // repair only
  // Targets that are not MySQL (by keys): their rows, and repairs.
  std::unique_ptr<sink::RowReader> rows;
  std::unique_ptr<sink::ChunkTarget> chunks;

  // The source rows of a key range / of some keys (with their keys), from
  // whichever source the plan reads.
  Result<RowBlock> SourceRange(const SourcePlan& plan, const KeyRange& range, bool with_keys) {
    if (plan.pg_reader) return plan.pg_reader->ReadRange(*pg_source, range, with_keys);
    return plan.reader->ReadRange(*source, range, with_keys);
  }
  Result<RowBlock> SourceKeys(const SourcePlan& plan, const std::vector<KeyTuple>& keys) {
    if (plan.pg_reader) return plan.pg_reader->ReadKeys(*pg_source, keys);
    return plan.reader->ReadKeys(*source, keys);
  }
};

// A value (read back from a target, or decoded from a key) as a key part the
// source's reader looks rows up by: the text MySQL prints for it (`column`
// is its MySQL column), or text PostgreSQL's input function of the key
// column's type takes (bytea as \x hex).
mysql::KeyPart MysqlKeyPart(const Value& v, const ColumnMeta& column);
mysql::KeyPart PgKeyPart(const Value& v);
// A key part a reader printed as the Value its column holds (`column` from
// a PostgreSQL schema when pg_type_oid is set, else MySQL's).
Status DecodeKeyPart(const ColumnMeta& column, const mysql::KeyPart& part, Arena& arena, Value& out);

// A PostgreSQL source's value (`column` is its source column) and what a
// target that is not MySQL gives back for it, put in one form: a boolean as
// 1/0 (ClickHouse holds Int8, Redis "true"), a numeric with the column's
// scale (ClickHouse reads unconstrained ones back with 30 digits). Nothing
// changes for MySQL source columns.
void FitPgReadBack(Value& v, const ColumnMeta& column, Arena& arena);

// The check of one pipeline's tables on one target. A MySQL target
// (`target_options` set) is compared by key ranges and checksums; any other
// kind by keys through a sink::RowReader (check_by_keys.cc): per source
// chunk its keys are looked up on the target (missing, different), and one
// more chunk per keyed table, after the source's, holds the keys only the
// target has (extra), found by paging through the target's keys. A
// PostgreSQL source (CheckSource::pg) comes here for targets compared by
// keys only; pg_check.cc compares it with PostgreSQL and MySQL targets.
class TargetCheck {
 public:
  TargetCheck(const PipelineConfig& p, std::string target, CheckSource source,
              std::optional<ConnectOptions> target_options, sink::SinkOptions sink_options, const CheckOptions& options,
              uint32_t parallel, const std::vector<std::unique_ptr<SourcePlan>>& plans, std::atomic<bool>* cancel)
      : p_(p),
        target_(std::move(target)),
        source_(std::move(source)),
        by_keys_(!target_options.has_value()),
        target_options_(target_options.value_or(ConnectOptions())),
        sink_options_(std::move(sink_options)),
        options_(options),
        plans_(plans),
        cancel_(cancel),
        sessions_(std::max<uint32_t>(parallel, 1)) {
    // The target's row readers are cut with the check's other connections.
    if (options.interrupter != nullptr) sink_options_.interrupt = options.interrupter;
  }

  Result<TargetCheckReport> Run();

  // Another pipeline of the configuration that may write a target table
  // too (table_set.h): such a table's rows only the target has may be that
  // pipeline's, so they are not looked for (never repaired).
  void SetOtherWriter(OtherWriters f) { other_writer_ = std::move(f); }

 private:
  struct Table {
    const SourcePlan* src = nullptr;
    // Every source table a rule's `to:` merges into this target table
    // (shards), `src` first; their rows are compared with the target's as one
    // set: a row one shard lacks is another's, not extra.
    std::vector<const SourcePlan*> members;
    // Merged tables on MySQL targets: the chunks of the key range, planned
    // over every member (or the target).
    std::vector<KeyTuple> bounds;
    std::unique_ptr<TableReader> reader;  // the target table (MySQL)
    // By keys: per target key column, its position in the source reader's key.
    std::vector<uint32_t> source_key_pos;
    bool use_checksum = false;
    bool extras_left_out = false;  // another pipeline writes the table too (report.note)
    std::vector<ChunkState> chunks;
    size_t kept = 0;  // RowDiffs held in `chunks`
    std::mutex mu;
    TableCheckReport report;

    bool merged() const { return members.size() > 1; }
  };
  struct Task {
    Table* table;
    uint32_t chunk;
  };
  using TaskFn = std::function<Status(Session&, Table&, uint32_t)>;

  bool cancelled() const { return cancel_ != nullptr && cancel_->load(); }
  Status EnsureSession(Session& s);
  // One Table per target table: source tables merged into one are its
  // members (or, when their mapped shapes differ, an error).
  void GroupByTargetTable();
  Status PrepareTable(Table& t);
  // Merged tables on MySQL targets: chunk bounds over every member's keys
  // (a single integer key), else over the target's.
  Status PlanMergedChunks(Table& t);
  // A chunk's key range and the number of source chunks: a merged table's
  // own (MySQL targets) or its members' one after another (by keys).
  KeyRange Range(const Table& t, uint32_t chunk) const;
  uint32_t SourceChunks(const Table& t) const;
  // By keys: the member whose chunk `chunk` is, and that chunk's number in it.
  std::pair<const SourcePlan*, uint32_t> MemberChunk(const Table& t, uint32_t chunk) const;
  // The rows of `members` in `range` (or with `keys`), each through its own
  // rule (filter, target column order), with their keys: one block of
  // target-shaped rows, which Project passes on as they are.
  Result<RowBlock> MembersRows(Session& s, std::span<const SourcePlan* const> members, const KeyRange* range,
                               const std::vector<KeyTuple>* keys) const;
  Status ForEach(const std::vector<Task>& tasks, const TaskFn& fn);
  std::vector<Task> DifferingChunks();
  uint64_t TotalDifferences();

  Status CompareChunk(Session& s, Table& t, uint32_t chunk);
  // The keys of a chunk whose row CRCs differ or exist on one side only;
  // nullopt when reading the whole range is cheaper. *rows: source rows.
  Result<std::optional<std::vector<KeyTuple>>> SuspectKeys(Session& s, const Table& t, uint32_t chunk, uint64_t* rows);
  Status RecheckChunk(Session& s, Table& t, uint32_t chunk);
  Status RepairChunk(Session& s, Table& t, uint32_t chunk);
  Status Settle(TargetCheckReport& report);
  // The pipeline's applied position on the target ("" when it has none, or
  // when the target kind cannot tell yet).
  Result<std::string> AppliedPosition();
  // Settling: the source's position now, and whether the pipeline applied
  // past `wanted` (sets report.applied_position).
  Result<std::string> SourcePosition();
  Result<bool> Reached(TargetCheckReport& report, const std::string& wanted);
  Status Repair(TargetCheckReport& report);

  // The rows of a chunk on one side: by the keys of its known differences
  // when `keys` is given, else its whole range.
  Result<RowBlock> ReadSource(Session& s, const Table& t, uint32_t chunk, const std::vector<KeyTuple>* keys);
  Result<RowBlock> ReadTarget(MysqlConnection& c, const Table& t, uint32_t chunk, const std::vector<KeyTuple>* keys);
  // The keys to re-read a chunk by, or nullopt to read its whole range.
  std::optional<std::vector<KeyTuple>> KeysOf(Table& t, uint32_t chunk);
  Result<Compared> Compare(const Table& t, const RowBlock& src, const RowBlock& dst) const;
  ChunkState ToState(const Table& t, uint32_t chunk, const Compared& c, const RowBlock& src, const RowBlock& dst) const;
  void Store(Table& t, uint32_t chunk, ChunkState st);
  // Counts and keys of every chunk into `counts`/`diffs` of the report.
  void Summarize(Table& t, bool remaining);

  // ---- By keys (check_by_keys.cc) ----
  uint32_t ExtrasChunk(const Table& t) const { return SourceChunks(t); }
  Status PrepareTableByKeys(Table& t);
  Status CompareChunkByKeys(Session& s, Table& t, uint32_t chunk);
  Status RecheckChunkByKeys(Session& s, Table& t, uint32_t chunk);
  Status RepairChunkByKeys(Session& s, Table& t, uint32_t chunk);
  // Both sides of a chunk and their comparison, read through `rows`: by
  // `keys` (source key tuples) when given, else the source chunk's rows and
  // those keys on the target, or for the extras chunk every key only the
  // target has.
  struct ByKeysRead {
    RowBlock src, dst;
    Compared c;
  };
  Result<ByKeysRead> ReadChunkByKeys(Session& s, sink::RowReader& rows, const Table& t, uint32_t chunk,
                                     const std::vector<KeyTuple>* keys);
  // The target's keys the source lacks (or its `where:` leaves out).
  Result<std::vector<KeyTuple>> ScanExtraKeys(Session& s, sink::RowReader& rows, const Table& t);
  // A target's value of key column i (of the target's key) as the source's key part.
  mysql::KeyPart SourceKeyPart(const Table& t, const Value& v, size_t i) const;
  // How values of `t` are put in one form before they are compared (none
  // for a MySQL source; FitPgReadBack for a PostgreSQL one).
  std::function<void(Value&, size_t)> Fit(const Table& t, Arena& arena) const;
  // Source key tuples as target key values (flat, target key order).
  Status KeyValues(const Table& t, const std::vector<KeyTuple>& keys, Arena& arena, std::vector<Value>& out) const;
  // Source rows filtered and projected to target column order (a merged
  // table's rows, read by MembersRows, are already).
  Result<Compared> Project(const Table& t, const RowBlock& src) const;
  static Result<Compared> ProjectPlan(const SourcePlan& plan, const RowBlock& src);

  std::string Where(const Table& t, uint32_t chunk) const {
    return fmt::format("table {} -> {} chunk {}", t.report.source, t.src->target_name, chunk);
  }

  const PipelineConfig& p_;
  std::string target_;
  CheckSource source_;
  bool by_keys_;
  ConnectOptions target_options_;  // MySQL targets
  sink::SinkOptions sink_options_;
  const CheckOptions& options_;
  const std::vector<std::unique_ptr<SourcePlan>>& plans_;
  std::atomic<bool>* cancel_;
  Session main_;
  std::vector<Session> sessions_;
  std::vector<std::unique_ptr<Table>> tables_;
  OtherWriters other_writer_;
};

// Why rows only the target has are not looked for in `plan`'s target
// table ("" when they are): another pipeline may write it (`other_writer`,
// may be null), or a shard the same rule merges into it could not be
// compared (its mapping failed, a script runs), whose rows are there too.
std::string ExtrasLeftOutNote(const OtherWriters& other_writer, const std::vector<std::unique_ptr<SourcePlan>>& plans,
                              const SourcePlan& plan);

// Leaves the kExtra ones out of `mismatches`.
void LeaveOutExtras(std::vector<RowMismatch>& mismatches);

}  // namespace sluice::pipeline::detail
