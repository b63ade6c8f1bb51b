#pragma once
// Consistency check: compares the tables a pipeline's rules select on its
// source with their tables on each of its targets, through the rules (rename,
// column subset, column renames, `where:` with materialized-view meaning),
// and optionally repairs the targets. Used by `sluice check` and meant for
// the periodic checks of `sluice run` (`check: {every, repair}`).
//
//   1. Plan: each table is cut into chunks of `chunk_rows` source keys
//      (mysql::TableReader::PlanChunks); the same boundary literals select
//      the chunk on the target, whose key columns are the mapped ones.
//   2. Compare, `parallel` workers over chunks, each with its own source and
//      target connection: a table without `where:` whose columns have the
//      same types on both sides compares server-side checksums first and
//      transfers no row of an equal chunk. Other chunks are read on both
//      sides and compared row by row by key (values with SameCheckedValue: a
//      checksum that differs only because the servers print a value
//      differently is no difference). A keyless table is compared whole, as
//      a multiset of rows.
//   3. Settle: the pipeline may be streaming. When it has a checkpoint on the
//      target, the differing rows are re-checked (up to kSettleRounds times)
//      after the pipeline applied past the source position taken at that
//      moment: a difference that was only in flight disappears. If the
//      pipeline does not get there within `wait`, the remaining differences
//      are reported with caught_up = false.
//   4. Repair (optional): per differing chunk, in a target transaction that
//      holds the pipeline's checkpoint rows in share mode (so the stream
//      cannot commit meanwhile; sink::mysql::ChunkWriter), the rows are read
//      again on both sides and the target is made equal: missing and
//      different rows upserted from the source, extra rows deleted. The
//      repaired chunks are then compared (and settled) again.
//
// Targets that are not MySQL (PostgreSQL, ClickHouse, Redis hash/string;
// check_by_keys.cc) are compared BY KEYS through sink::RowReader, which
// returns their rows as Values of the source column kinds: their collations
// order strings differently from MySQL's, so a key range would select other
// rows there. Per source chunk (the same plan) the source rows are read and
// exactly their keys looked up on the target (missing, different); one more
// chunk per keyed table pages through every key the target holds and looks
// it up on the source (a key absent there, or left out by `where:`, is
// extra). JSON is compared semantically (CanonicalJson). Settling reads the
// applied position, and repairs write, through the kind's sink::ChunkTarget;
// a kind without one yet is compared without settling and not repaired.
//
// A PostgreSQL source is checked by pg_check.h (PostgreSQL and MySQL targets)
// and, for the targets compared by keys, by the same code as a MySQL source
// (its values put in the form those targets read back).
//
// Problems of one table (its target table or a mapped column does not exist,
// its rule does not map) are reported on the table and the check goes on;
// anything else (a server down, a query failing) fails the whole check.
//
// Thread-safety: RunCheck runs on the caller's thread and its own workers;
// `cancel` may be set from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/value.h"
#include "pipeline/config.h"
#include "client/mysql/table_reader.h"

namespace sluice::pipeline {

// Values are stable (printed, compared by scripts).
enum class DiffKind : uint8_t { kMissing = 1, kExtra = 2, kDifferent = 3 };
const char* DiffKindName(DiffKind kind);  // "missing" | "extra" | "different"

// One differing row.
struct RowDiff {
  DiffKind kind = DiffKind::kMissing;
  std::string key_text;  // "id=7", "(a=1, b='x')"; a keyless table's whole row
  std::string key_json;  // {"id":7}, values rendered like the JSON change format
  mysql::KeyTuple key;   // as the server printed it, for re-reads; empty for a keyless table
  uint32_t chunk = 0;
};

struct TableCheckReport {
  std::string source;  // "db.table" on the source
  std::string target;  // "db.table" on the target
  uint64_t rows = 0;   // source rows compared (those the `where:` filter keeps)
  uint64_t chunks = 0;
  // Differences found (after settling), counted exactly; `diffs` lists them
  // up to CheckOptions::max_keys (keys_truncated says when there were more).
  uint64_t missing = 0, extra = 0, different = 0;
  std::vector<RowDiff> diffs;
  bool keys_truncated = false;
  // With repair: target rows written (upserted or deleted), and what the
  // re-check after the repair still found.
  uint64_t repaired_rows = 0;
  uint64_t remaining = 0;
  std::vector<RowDiff> remaining_diffs;
  std::string error;  // why the table was not checked ("" when it was)
  // What was left out of the comparison ("" when nothing): rows only the
  // target has are not looked for when another pipeline writes the table too.
  std::string note;

  uint64_t differences() const { return missing + extra + different; }
};

struct TargetCheckReport {
  std::string pipeline, target;
  std::vector<TableCheckReport> tables;
  bool has_checkpoint = false;  // the pipeline has applied something on this target
  // Whether the pipeline applied past the source position taken after the
  // compare within CheckOptions::wait (true when there was no need to wait).
  bool caught_up = true;
  // Not caught up because its applied position stood still for
  // CheckOptions::stall (the pipeline is stopped, or retrying): no use
  // waiting out `wait`.
  bool stalled = false;
  std::string source_position, applied_position;  // of the last wait
  // Differences of the first comparison that were gone once the pipeline had
  // applied past the source position (changes in flight).
  uint64_t in_flight = 0;
  bool repair_ran = false;
};

struct CheckReport {
  std::vector<TargetCheckReport> targets;

  uint64_t differences() const;  // found, over every table
  uint64_t remaining() const;    // left after a repair (differences() without one)
  uint64_t repaired_rows() const;
  bool has_errors() const;  // some table was not checked
  bool consistent() const { return differences() == 0 && !has_errors(); }
  // A repair ran wherever there were differences and its re-check is clean.
  bool repaired() const;
};

struct CheckOptions {
  bool repair = false;
  std::chrono::milliseconds wait{30000};   // settle: how long to wait for the pipeline to catch up
  std::chrono::milliseconds poll{200};     // settle: how often to read its applied position
  std::chrono::milliseconds stall{10000};  // settle: give up early when the applied position stands still this long
  uint32_t parallel = 0;                   // workers per target; 0: the pipeline's `parallel`
  uint64_t chunk_rows = 0;                 // 0: the pipeline's `chunk_rows`
  size_t max_keys = 100000;                // differing keys listed per table
  // Only the target tables these source tables ("db.table") feed, each
  // compared whole (every table merged into it too); empty: every table.
  std::vector<std::string> only_targets_of;
  // Cuts the check's connections from another thread (with `cancel`, so
  // that a cancel does not wait for a hung server); may be null.
  mysql::Interrupter* interrupter = nullptr;
};

// Checks (and with options.repair, repairs) every target of `pipeline`.
// kCancelled when `cancel` (may be null) is set.
Result<CheckReport> RunCheck(const Config& config, const PipelineConfig& pipeline, const CheckOptions& options,
                             std::atomic<bool>* cancel = nullptr);

// ---- Pure pieces, exposed for tests. ----

// Whether two values read from the two servers hold the same data: SameValue,
// and also across kinds of the same family that type differences between a
// source and its target produce (VARCHAR vs ENUM or VARBINARY, DATETIME vs
// TIMESTAMP).
bool SameCheckedValue(const Value& a, const Value& b);
// Appends bytes such that two values encode alike exactly when
// SameCheckedValue holds (keys and keyless rows are matched by these bytes).
void AppendValueBytes(std::string& out, const Value& v);

// A JSON document's canonical text, for comparing JSON semantically (a
// target such as PostgreSQL's jsonb normalizes what it stores): objects with
// sorted keys (the last of duplicate keys wins, as in jsonb), no spacing,
// integral numbers as integers (1.0, 1 and 1e0 alike). Numbers beyond a
// double's precision compare by their nearest double. nullopt when `text` is
// not JSON (then it is compared as is).
std::optional<std::string> CanonicalJson(std::string_view text);

// A row of one side that has no equal on the other.
struct RowMismatch {
  DiffKind kind = DiffKind::kMissing;
  int64_t source_row = -1;  // index into the source rows (missing, different)
  int64_t target_row = -1;  // index into the target rows (extra, different)
  bool operator==(const RowMismatch&) const = default;
};
// Compares rows given as flat arrays of `width` values each, in target column
// order. With `key` (column indexes), rows match by key: missing, extra, or
// different when a column differs; in source order, then extra ones in
// target order. Without, the tables are multisets of whole rows: a source
// row without an equal target row is missing, a target row left over extra.
std::vector<RowMismatch> DiffRows(std::span<const Value> source, std::span<const Value> target, size_t width,
                                  const std::vector<uint32_t>& key);

// Whether the applied position "file:offset" is at or after `wanted`
// (binlog files by sequence number, then offset; PostgreSQL LSNs by value).
// False when either does not parse.
bool PositionReached(std::string_view applied, std::string_view wanted);

// "id=7" / "(a=1, b='x')" and {"id":7,...}: `columns` names, `values` the
// same length.
std::string DescribeRowKey(const std::vector<std::string>& columns, std::span<const Value> values);
std::string RowKeyJson(const std::vector<std::string>& columns, std::span<const Value> values);

}  // namespace sluice::pipeline
