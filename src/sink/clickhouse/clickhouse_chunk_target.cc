#include "sink/clickhouse/clickhouse_chunk_target.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/position.h"
#include "core/resume_position.h"
#include "sink/skip_log.h"

namespace sluice::sink::clickhouse {
namespace {

using sluice::clickhouse::AppendTsvEscaped;
using sluice::clickhouse::QuoteString;

constexpr std::string_view kChunksTable = "`_sluice`.`snapshot_chunks`";
constexpr uint32_t kHeaderChunk = 4294967295u;  // the plan's header row
constexpr uint64_t kChunkVersion = 0;           // below every streamed change's version (see the header)

// Versions of plan rows: microseconds of the clock, strictly increasing
// within the process (a done mark always after its plan's rows).
uint64_t NextPlanVersion() {
  static std::atomic<uint64_t> last{0};
  uint64_t now = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  uint64_t prev = last.load();
  uint64_t next;
  do {
    next = std::max(now, prev + 1);
  } while (!last.compare_exchange_weak(prev, next));
  return next;
}

std::string PlanWhere(const std::string& pipeline, const std::string& target, const std::string& table,
                      const std::string& shard) {
  return fmt::format("pipeline = {} AND target = {} AND tbl = {} AND shard = {}", QuoteString(pipeline),
                     QuoteString(target), QuoteString(table), QuoteString(ShardKey(shard)));
}

}  // namespace

ClickhouseChunkTarget::ClickhouseChunkTarget(SinkOptions options, sluice::clickhouse::ClientOptions client)
    : options_(std::move(options)), client_(std::move(client)) {}

Result<std::unique_ptr<ClickhouseChunkTarget>> ClickhouseChunkTarget::Open(const SinkOptions& options) {
  ASSIGN_OR_RETURN(auto client, sluice::clickhouse::ClientOptions::FromUrl(options.url));
  std::unique_ptr<ClickhouseChunkTarget> t(new ClickhouseChunkTarget(options, std::move(client)));
  // Reachable now: an unreachable server is reported at once.
  RETURN_IF_ERROR(t->Run("SELECT 1"));
  return t;
}

Status ClickhouseChunkTarget::Run(const std::string& sql) {
  auto r = client_.Query(sql);
  if (!r.ok()) {
    return r.status().WithContext(
        fmt::format("pipeline {} target {}: {}", options_.pipeline, options_.target, sql.substr(0, 200)));
  }
  return Status::Ok();
}

Status ClickhouseChunkTarget::EnsureTables() {
  RETURN_IF_ERROR(EnsureCheckpointTable(client_));
  return Run(fmt::format(
      "CREATE TABLE IF NOT EXISTS {} (pipeline String, target String, tbl String, shard String, chunk UInt32, "
      "after_key String, upto_key String, done UInt8, rows_copied UInt64, _version UInt64) "
      "ENGINE = ReplacingMergeTree(_version) ORDER BY (pipeline, target, tbl, shard, chunk)",
      kChunksTable));
}

Status ClickhouseChunkTarget::EnsureTable(const TargetTable& t, const std::string&) {
  std::string where = fmt::format("pipeline {} target {}: table {}.{} (from {})", options_.pipeline, options_.target,
                                  t.db, t.table, t.source);
  return EnsureTargetTable(client_, t, where).status();
}

Result<const TableWriter*> ClickhouseChunkTarget::Writer(const TargetTablePtr& t) {
  if (auto it = tables_.find(t.get()); it != tables_.end()) return &it->second.second;
  std::string where = fmt::format("pipeline {} target {}: table {}.{} (from {})", options_.pipeline, options_.target,
                                  t->db, t->table, t->source);
  ASSIGN_OR_RETURN(TableWriter w, EnsureTargetTable(client_, *t, where));
  return &tables_.emplace(t.get(), std::make_pair(t, std::move(w))).first->second.second;
}

Result<std::string> ClickhouseChunkTarget::EnsureStartPosition(const std::string& pipeline, const std::string& target,
                                                               const std::string& resume_position) {
  ASSIGN_OR_RETURN(auto row, ReadCheckpointRow(client_, pipeline, target));
  // A row with no position (a reset) is no checkpoint either.
  if (row && !row->resume_position.empty()) return row->resume_position;
  ASSIGN_OR_RETURN(StreamPos pos, StreamPosAtResume(resume_position));
  CheckpointRow start{pos.ToString(), resume_position, "", row ? row->version + 1 : 1};
  RETURN_IF_ERROR(WriteCheckpointRow(client_, pipeline, target, start)
                      .WithContext(fmt::format("pipeline {} target {}: record the start position", pipeline, target)));
  return resume_position;
}

Status ClickhouseChunkTarget::TakeOverRenamedTarget(const std::string& pipeline, const std::string& target,
                                                    const std::vector<std::string>& former) {
  return clickhouse::TakeOverRenamedTarget(client_, pipeline, target, former).status();
}

Result<std::string> ClickhouseChunkTarget::AppliedPosition(const std::string& pipeline, const std::string& target) {
  auto row = ReadCheckpointRow(client_, pipeline, target);
  if (!row.ok()) {
    // A target no pipeline ever wrote to has no `_sluice` tables: no checkpoint.
    int code = client_.last_server_code();
    if (code == sluice::clickhouse::kUnknownTable || code == sluice::clickhouse::kUnknownDatabase) return std::string();
    return row.status();
  }
  return *row ? (*row)->resume_position : std::string();
}

Status ClickhouseChunkTarget::Reject(const SinkChange& c, const Status& error) {
  std::string msg = fmt::format(
      "pipeline {} target {}: table `{}`.`{}` (from {}) key {} (snapshot): ClickHouse cannot "
      "hold the row exactly: {}",
      options_.pipeline, options_.target, c.table->db, c.table->table, c.table->source, DescribeKey(c),
      error.message());
  if (!options_.skip_rejected) return Status::Error(StatusCode::kNotSupported, "{}", msg);
  if (!options_.skip_log.empty()) {
    std::string line = SkipRecord(options_.pipeline, options_.target, c, DescribeKey(c), error.message());
    Status written = AppendDurably(options_.skip_log, line);
    if (!written.ok()) return Status::Error(StatusCode::kIoError, "{}; not skipped: {}", written.message(), msg);
  }
  spdlog::warn("skipped (on_error: skip): {}", msg);
  return Status::Ok();
}

Status ClickhouseChunkTarget::Write(const std::vector<SinkChange>& changes) {
  // Every row encoded before any is sent: a refused value (on_error: stop)
  // leaves the chunk unwritten.
  std::vector<std::pair<const TableWriter*, std::string>> inserts;
  std::map<const TargetTable*, size_t> slot;
  for (const SinkChange& c : changes) {
    const bool remove = c.kind == SinkChange::Kind::kDelete || c.kind == SinkChange::Kind::kDeleteExact;
    uint64_t version = kChunkVersion;
    if (!c.snapshot) {
      // A repair: the key's current version (of its live or deleted row).
      // On equal versions FINAL keeps the later insert, so the repair's row
      // (or delete) replaces what is there; a change the stream applies
      // afterwards has a higher version and wins. (One the stream applied
      // between the job's source read and this read would lose to the older
      // image: the check compares again after repairing and reports it.)
      ASSIGN_OR_RETURN(CurrentRow current, CurrentVersion(c));
      if (remove && !current.live) continue;  // already gone
      version = current.version;
    } else if (remove) {
      return Status::Error(StatusCode::kNotSupported,
                           "pipeline {} target {}: table `{}`.`{}`: a snapshot copies rows, not deletes",
                           options_.pipeline, options_.target, c.table->db, c.table->table);
    }
    auto [it, added] = slot.emplace(c.table.get(), inserts.size());
    if (added) {
      ASSIGN_OR_RETURN(const TableWriter* w, Writer(c.table));
      inserts.emplace_back(w, std::string());
    }
    auto& [w, rows] = inserts[it->second];
    Status st = AppendRow(rows, *w, c, version, remove ? -1 : 1);
    if (!st.ok()) RETURN_IF_ERROR(Reject(c, st));
  }
  for (const auto& [w, rows] : inserts) {
    if (rows.empty()) continue;
    RETURN_IF_ERROR(SameConnectionAsTheRows("its next rows"));
    auto r = client_.Insert(w->insert_sql, rows);
    if (!r.ok()) {
      return r.status().WithContext(
          fmt::format("pipeline {} target {}: {}", options_.pipeline, options_.target, w->insert_sql.substr(0, 200)));
    }
    if (rows_connection_ == 0) rows_connection_ = client_.connections();
  }
  return SameConnectionAsTheRows("its rows");
}

Status ClickhouseChunkTarget::SameConnectionAsTheRows(std::string_view what) {
  if (rows_connection_ == 0) return Status::Ok();
  const bool same = client_.connections() == rows_connection_ && client_.ConnectionReusable();
  if (same || !client_.keeps_connections()) return Status::Ok();  // else nothing to tell by
  rows_connection_ = 0;
  if (client_.NoteCut()) {
    spdlog::warn(
        "pipeline {} target {}: ClickHouse closed the connection {} times in a row while writing: taken for "
        "a server or proxy that closes connections between requests",
        options_.pipeline, options_.target, sluice::clickhouse::ClickhouseClient::kCutsToLearn);
    return Status::Ok();
  }
  return Status::Retryable(StatusCode::kIoError,
                           "pipeline {} target {}: ClickHouse closed the connection after a chunk's first rows and "
                           "before {} (restarted?): the chunk is copied again",
                           options_.pipeline, options_.target, what);
}

Result<ClickhouseChunkTarget::CurrentRow> ClickhouseChunkTarget::CurrentVersion(const SinkChange& c) {
  const TargetTable& t = *c.table;
  if (t.key.empty()) {
    return Status::Error(StatusCode::kNotSupported, "pipeline {} target {}: table {}: keyless tables are refused",
                         options_.pipeline, options_.target, TableName(t.db, t.table));
  }
  ASSIGN_OR_RETURN(std::string condition, KeyCondition(c));
  const std::string sql = fmt::format("SELECT _version, _sign FROM {} FINAL WHERE {} FORMAT TabSeparated",
                                      TableName(t.db, t.table), condition);
  auto rows = client_.QueryRows(sql);
  if (!rows.ok()) {
    return rows.status().WithContext(
        fmt::format("pipeline {} target {}: key {}", options_.pipeline, options_.target, DescribeKey(c)));
  }
  if (rows->empty()) return CurrentRow{};
  if (rows->front().size() != 2) {
    return Status::Corruption("pipeline {} target {}: {} key {}: expected _version and _sign", options_.pipeline,
                              options_.target, TableName(t.db, t.table), DescribeKey(c));
  }
  uint64_t version = 0;
  const std::string& text = rows->front()[0];
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || p != text.data() + text.size()) {
    return Status::Corruption("pipeline {} target {}: {} key {}: _version {:?} is not a number", options_.pipeline,
                              options_.target, TableName(t.db, t.table), DescribeKey(c), text);
  }
  return CurrentRow{version, rows->front()[1] == "1"};
}

Status ClickhouseChunkTarget::Truncate(const TargetTable& table) {
  ASSIGN_OR_RETURN(auto cols, DescribeTable(client_, table.db, table.table));
  if (cols.empty()) return Status::Ok();
  return Run("TRUNCATE TABLE " + TableName(table.db, table.table));
}

Status ClickhouseChunkTarget::InsertPlanRows(const std::vector<ChunkRecord>& rows, uint64_t version) {
  std::string data;
  for (const ChunkRecord& c : rows) {
    const std::string shard = ShardKey(c.shard);
    for (const std::string* f : {&c.pipeline, &c.target, &c.table, &shard}) {
      AppendTsvEscaped(data, *f);
      data += '\t';
    }
    data += fmt::format("{}\t", c.chunk);
    AppendTsvEscaped(data, c.after);
    data += '\t';
    AppendTsvEscaped(data, c.upto);
    data += fmt::format("\t{}\t{}\t{}\n", c.done ? 1 : 0, c.rows, version);
  }
  auto r = client_.Insert(fmt::format("INSERT INTO {} FORMAT TabSeparated", kChunksTable), data);
  if (!r.ok()) {
    return r.status().WithContext(
        fmt::format("pipeline {} target {}: recording the snapshot plan", options_.pipeline, options_.target));
  }
  return Status::Ok();
}

Status ClickhouseChunkTarget::MarkChunkDone(const ChunkRecord& chunk, uint64_t rows) {
  RETURN_IF_ERROR(SameConnectionAsTheRows("its done mark"));
  rows_connection_ = 0;
  ChunkRecord done = chunk;
  done.done = true;
  done.rows = rows;
  RETURN_IF_ERROR(InsertPlanRows({done}, NextPlanVersion()));
  client_.NoteKept();
  return Status::Ok();
}

Result<uint64_t> ClickhouseChunkTarget::PlanGeneration(const std::string& pipeline, const std::string& target,
                                                       const std::string& table, const std::string& shard) {
  ASSIGN_OR_RETURN(
      auto rows, client_.QueryRows(fmt::format("SELECT done, _version FROM {} FINAL WHERE {} AND chunk = "
                                               "{} FORMAT TabSeparated",
                                               kChunksTable, PlanWhere(pipeline, target, table, shard), kHeaderChunk)));
  if (rows.empty() || rows[0].size() < 2 || rows[0][0] != "0") return uint64_t{0};
  return std::stoull(rows[0][1]);
}

Result<std::vector<ChunkRecord>> ClickhouseChunkTarget::LoadPlan(const std::string& pipeline, const std::string& target,
                                                                 const std::string& table, const std::string& shard) {
  std::vector<ChunkRecord> plan;
  ASSIGN_OR_RETURN(uint64_t generation, PlanGeneration(pipeline, target, table, shard));
  if (generation == 0) return plan;
  ASSIGN_OR_RETURN(auto rows, client_.QueryRows(fmt::format(
                                  "SELECT chunk, after_key, upto_key, done, rows_copied FROM {} FINAL WHERE {} AND "
                                  "chunk != {} AND _version >= {} ORDER BY chunk FORMAT TabSeparated",
                                  kChunksTable, PlanWhere(pipeline, target, table, shard), kHeaderChunk, generation)));
  for (const auto& r : rows) {
    if (r.size() < 5) return Status::Corruption("{}: row with {} fields", kChunksTable, r.size());
    ChunkRecord c;
    c.pipeline = pipeline;
    c.target = target;
    c.table = table;
    c.shard = shard;
    c.chunk = static_cast<uint32_t>(std::stoul(r[0]));
    c.after = r[1];
    c.upto = r[2];
    c.done = r[3] != "0";
    c.rows = std::stoull(r[4]);
    plan.push_back(std::move(c));
  }
  return plan;
}

Result<bool> ClickhouseChunkTarget::HasUnfinishedPlan(const std::string& pipeline, const std::string& target,
                                                      const std::vector<std::string>& shards) {
  if (shards.empty()) return false;
  std::string list;
  for (const std::string& shard : shards) list += (list.empty() ? "" : ", ") + QuoteString(ShardKey(shard));
  // The live plans (headers not dropped), then whether one has a chunk not done.
  ASSIGN_OR_RETURN(auto headers, client_.QueryRows(fmt::format(
                                     "SELECT tbl, shard, _version FROM {} FINAL WHERE pipeline = {} AND "
                                     "target = {} AND shard IN ({}) AND chunk = {} AND done = 0 FORMAT "
                                     "TabSeparated",
                                     kChunksTable, QuoteString(pipeline), QuoteString(target), list, kHeaderChunk)));
  for (const auto& h : headers) {
    if (h.size() < 3) continue;
    ASSIGN_OR_RETURN(auto open, client_.QueryRows(fmt::format(
                                    "SELECT count() FROM {} FINAL WHERE pipeline = {} AND target = {} AND tbl = {} "
                                    "AND shard = {} AND chunk != {} AND _version >= {} AND done = 0 FORMAT "
                                    "TabSeparated",
                                    kChunksTable, QuoteString(pipeline), QuoteString(target), QuoteString(h[0]),
                                    QuoteString(h[1]), kHeaderChunk, h[2])));
    if (!open.empty() && !open[0].empty() && open[0][0] != "0") return true;
  }
  return false;
}

Status ClickhouseChunkTarget::SavePlan(const std::vector<ChunkRecord>& plan) {
  if (plan.empty()) return Status::Ok();
  // Chunk rows first, then the header naming their generation: a plan cut
  // short by a crash is not live (LoadPlan finds the earlier header, whose
  // generation is older than these rows, or none).
  const uint64_t generation = NextPlanVersion();
  RETURN_IF_ERROR(InsertPlanRows(plan, generation));
  ChunkRecord header = plan.front();
  header.chunk = kHeaderChunk;
  header.after.clear();
  header.upto.clear();
  header.done = false;
  header.rows = 0;
  return InsertPlanRows({header}, generation);
}

Status ClickhouseChunkTarget::DropPlan(const std::string& pipeline, const std::string& target, const std::string& table,
                                       const std::string& shard) {
  ChunkRecord header;
  header.pipeline = pipeline;
  header.target = target;
  header.table = table;
  header.shard = shard;
  header.chunk = kHeaderChunk;
  header.done = true;  // dropped
  return InsertPlanRows({header}, NextPlanVersion());
}

}  // namespace sluice::sink::clickhouse
