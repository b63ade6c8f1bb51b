#include "pipeline/pg_check.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "client/mysql/connection.h"
#include "client/mysql/table_reader.h"
#include "client/postgres/connection.h"
#include "pipeline/check_target.h"
#include "pipeline/pg_source.h"
#include "pipeline/table_set.h"
#include "sink/chunk_target.h"
#include "sink/registry.h"
#include "source/postgres/pg_catalog.h"
#include "source/postgres/pg_table_reader.h"
#include "transform/table_mapper.h"

namespace sluice::pipeline::detail {
namespace {

using postgres::PgConnection;
using postgres::PgTableReader;
using sluice::mysql::KeyRange;
using sluice::mysql::KeyTuple;
using sluice::mysql::RowBlock;

// One worker's connections.
struct PgSession {
  std::unique_ptr<PgConnection> source, target;
  std::unique_ptr<sluice::mysql::MysqlConnection> my_target;  // a MySQL target
  std::unique_ptr<sink::ChunkTarget> writer;                  // repairs
};

// Both sides of a chunk, read and matched.
struct ChunkRead {
  std::vector<RowBlock> blocks;   // keep the values' bytes
  std::vector<Value> source;      // kept source rows (filter), target column order
  std::vector<Value> target;      // target rows of the chunk, target column order
  std::vector<RowMismatch> mismatches;
};

// A value as a MySQL target holds what the stream wrote for it (`column`
// is the source's): booleans as 1/0, char(n) without its padding, decimals
// and temporals without trailing fractional zeros (the target's column may
// have more digits than the source printed).
void FitForMysql(Value& v, const ColumnMeta& column, Arena& arena) {
  if (column.pg_type_oid == 16 && v.kind == ValueKind::kJson) {
    v = Value::Int(v.s == "true" ? 1 : 0);
    return;
  }
  if (v.kind == ValueKind::kInt && column.pg_type_oid == 16) return;
  std::string_view text = v.s;
  if (column.pg_type_oid == 1042 && (v.kind == ValueKind::kText || v.kind == ValueKind::kEnum)) {
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    v.s = text;
    return;
  }
  if (v.kind != ValueKind::kDecimal && v.kind != ValueKind::kDateTime && v.kind != ValueKind::kTimestamp &&
      v.kind != ValueKind::kTime) {
    return;
  }
  const size_t dot = text.rfind('.');
  if (dot == std::string_view::npos || text.find_first_not_of("0123456789", dot + 1) != std::string_view::npos) return;
  while (text.size() > dot + 1 && text.back() == '0') text.remove_suffix(1);
  if (text.size() == dot + 1) text.remove_suffix(1);
  v.s = arena.Copy(text);
}

class PgTargetCheck {
 public:
  PgTargetCheck(const PipelineConfig& p, const SourceConfig& source, const TargetConfig& target,
                postgres::ConnectOptions source_options, postgres::ConnectOptions target_options,
                std::optional<sluice::mysql::ConnectOptions> mysql_options, const CheckOptions& options,
                uint32_t parallel, const std::vector<std::unique_ptr<SourcePlan>>& plans, std::atomic<bool>* cancel)
      : p_(p),
        source_(source),
        target_(target),
        source_options_(std::move(source_options)),
        target_options_(std::move(target_options)),
        mysql_options_(std::move(mysql_options)),
        options_(options),
        plans_(plans),
        cancel_(cancel),
        sessions_(std::max<uint32_t>(parallel, 1)) {}

  Result<TargetCheckReport> Run();
  void SetOtherWriter(OtherWriters f) { other_writer_ = std::move(f); }

 private:
  struct Table {
    const SourcePlan* src = nullptr;
    std::unique_ptr<PgTableReader> reader;  // the target table: its columns in target order, its key
    std::unique_ptr<sluice::mysql::TableReader> my_reader;  // the same, on a MySQL target
    std::vector<uint32_t> source_key_pos;   // per target key column: its place in the source key
    bool use_checksum = false;
    bool extras_left_out = false;  // another pipeline writes the table too (report.note)
    std::vector<ChunkState> chunks;
    std::mutex mu;
    TableCheckReport report;
  };
  struct Task {
    Table* table;
    uint32_t chunk;
  };
  using TaskFn = std::function<Status(PgSession&, Table&, uint32_t)>;

  bool cancelled() const { return cancel_ != nullptr && cancel_->load(); }
  Status EnsureSession(PgSession& s);
  Status PrepareTable(Table& t);
  Status PrepareMysqlTable(Table& t);
  // The target's rows of a key range (target key order) or of some keys.
  Result<RowBlock> TargetRange(PgSession& s, const Table& t, const KeyRange& range, bool with_keys);
  Result<RowBlock> TargetKeys(PgSession& s, const Table& t, const std::vector<KeyTuple>& keys);
  Status ForEach(const std::vector<Task>& tasks, const TaskFn& fn);
  std::vector<Task> DifferingChunks();
  // A key printed by one side as the other side's reader takes it: the
  // same text between PostgreSQL servers; by value for a MySQL target (a
  // bytea key is bytes there, a boolean 1/0, a timestamptz without +00).
  Result<KeyTuple> ToTargetKey(const Table& t, const KeyTuple& source_key) const;
  Result<KeyTuple> ToSourceKey(const Table& t, const KeyTuple& target_key) const;
  Result<KeyRange> ToTargetRange(const Table& t, const KeyRange& range) const;
  Result<ChunkRead> Read(PgSession& s, const Table& t, uint32_t chunk);
  Status CompareChunk(PgSession& s, Table& t, uint32_t chunk);
  Status RepairChunk(PgSession& s, Table& t, uint32_t chunk);
  Result<bool> Reached(const std::string& wanted, std::string* applied);
  Status Settle(TargetCheckReport& report);
  void Summarize(Table& t, bool remaining);
  std::string Where(const Table& t, uint32_t chunk) const {
    return fmt::format("table {} -> {} chunk {}", t.src->table.name(), t.src->target_name, chunk);
  }

  const PipelineConfig& p_;
  const SourceConfig& source_;
  const TargetConfig& target_;
  postgres::ConnectOptions source_options_, target_options_;
  std::optional<sluice::mysql::ConnectOptions> mysql_options_;  // a MySQL target (else PostgreSQL)
  const CheckOptions& options_;
  const std::vector<std::unique_ptr<SourcePlan>>& plans_;
  std::map<std::string, size_t> sources_of_;  // target table -> source tables feeding it
  OtherWriters other_writer_;
  std::atomic<bool>* cancel_;
  PgSession main_;
  std::vector<PgSession> sessions_;
  std::vector<std::unique_ptr<Table>> tables_;
};

Status PgTargetCheck::EnsureSession(PgSession& s) {
  // Every session is cut when the check is cancelled (options_.interrupter).
  if (!s.source) {
    ASSIGN_OR_RETURN(s.source, PgConnection::Connect(source_options_, options_.interrupter));
  }
  if (mysql_options_) {
    if (!s.my_target) {
      ASSIGN_OR_RETURN(s.my_target, sluice::mysql::MysqlConnection::Connect(*mysql_options_, options_.interrupter));
      RETURN_IF_ERROR(sluice::mysql::PrepareReadSession(*s.my_target));
    }
  } else if (!s.target) {
    ASSIGN_OR_RETURN(s.target, PgConnection::Connect(target_options_, options_.interrupter));
  }
  return Status::Ok();
}

Status PgTargetCheck::PrepareTable(Table& t) {
  const SourcePlan& src = *t.src;
  t.report.source = src.table.name();
  t.report.target = src.target_name;
  if (!src.error.empty()) {
    t.report.error = src.error;
    return Status::Ok();
  }
  if (const size_t n = sources_of_[src.target_name]; n > 1) {
    // Each member's rows are only part of the target table's: compared
    // alone, the others' would be extra (and a repair would delete them).
    t.report.error = fmt::format("{} source tables are merged into this table: not checked from a PostgreSQL source "
                                 "on this target kind (MySQL sources compare them as one)",
                                 n);
    return Status::Ok();
  }
  const TargetTable& tt = *src.mapping->target;
  t.report.note = ExtrasLeftOutNote(other_writer_, plans_, src);
  t.extras_left_out = !t.report.note.empty();
  if (src.keyed()) {
    const std::vector<uint32_t>& source_key = src.key();
    for (uint32_t k : tt.key) {
      auto it = std::find(source_key.begin(), source_key.end(), src.mapping->source_index[k]);
      if (it == source_key.end() || source_key.size() != tt.key.size()) {
        t.report.error = "the target's key is not the source's key";
        return Status::Ok();
      }
      t.source_key_pos.push_back(static_cast<uint32_t>(it - source_key.begin()));
    }
  }
  if (mysql_options_) return PrepareMysqlTable(t);
  auto schema = postgres::ReadTableSchema(*main_.target, tt.db, tt.table);
  if (!schema.ok()) {
    if (schema.status().code() != StatusCode::kNotFound) return schema.status();
    t.report.error = fmt::format(
        "target table \"{}\".\"{}\" does not exist (check cannot create it; run the pipeline or create it)", tt.db,
        tt.table);
    return Status::Ok();
  }
  std::vector<uint32_t> columns;
  for (const std::string& name : tt.columns) {
    auto it = std::find_if(schema->columns.begin(), schema->columns.end(),
                           [&](const ColumnMeta& c) { return c.name == name; });
    if (it == schema->columns.end()) {
      t.report.error = fmt::format("target table \"{}\".\"{}\" has no column \"{}\"", tt.db, tt.table, name);
      return Status::Ok();
    }
    columns.push_back(static_cast<uint32_t>(it - schema->columns.begin()));
  }
  ASSIGN_OR_RETURN(t.reader, PgTableReader::Open(*main_.target, tt.db, tt.table, columns));
  if (src.keyed()) {
    // The target's primary key must be the mapped key, in its order: ranges
    // and lookups name the same columns on both sides.
    bool same = t.reader->key().size() == tt.key.size();
    for (size_t i = 0; same && i < tt.key.size(); ++i) {
      same = schema->columns[t.reader->key()[i]].name == tt.columns[tt.key[i]];
    }
    if (!same) {
      t.report.error = fmt::format("the primary key of target table \"{}\".\"{}\" is not the source's key", tt.db,
                                   tt.table);
      return Status::Ok();
    }
  }
  // Checksums hash each row's text: only alike when every column has the
  // same type on both sides, and never with a filter the server would not apply.
  bool comparable = !src.mapping->filter.has_value();
  for (size_t i = 0; comparable && i < columns.size(); ++i) {
    comparable = src.pg_reader->type_sql(src.mapping->source_index[i]) == t.reader->type_sql(columns[i]);
  }
  t.use_checksum = comparable;
  t.chunks.resize(src.chunk_count());
  t.report.chunks = t.chunks.size();
  return Status::Ok();
}

Status PgTargetCheck::PrepareMysqlTable(Table& t) {
  const TargetTable& tt = *t.src->mapping->target;
  auto schema = sluice::mysql::ReadTableSchema(*main_.my_target, tt.db, tt.table);
  if (!schema.ok()) {
    if (schema.status().code() != StatusCode::kNotFound) return schema.status();
    t.report.error = fmt::format(
        "target table `{}`.`{}` does not exist (check cannot create it; run the pipeline or create it)", tt.db,
        tt.table);
    return Status::Ok();
  }
  std::vector<uint32_t> columns;
  for (const std::string& name : tt.columns) {
    auto it = std::find_if((*schema)->columns.begin(), (*schema)->columns.end(), [&](const ColumnMeta& c) {
      return c.name.size() == name.size() && std::equal(name.begin(), name.end(), c.name.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
             });
    });
    if (it == (*schema)->columns.end()) {
      t.report.error = fmt::format("target table `{}`.`{}` has no column `{}`", tt.db, tt.table, name);
      return Status::Ok();
    }
    columns.push_back(static_cast<uint32_t>(it - (*schema)->columns.begin()));
  }
  std::vector<uint32_t> key;
  for (uint32_t k : tt.key) key.push_back(columns[k]);
  t.my_reader = std::make_unique<sluice::mysql::TableReader>(*schema, std::move(columns), "", std::move(key));
  t.chunks.resize(t.src->chunk_count());
  t.report.chunks = t.chunks.size();
  return Status::Ok();
}

Result<RowBlock> PgTargetCheck::TargetRange(PgSession& s, const Table& t, const KeyRange& range, bool with_keys) {
  if (t.my_reader) return t.my_reader->ReadRange(*s.my_target, range, with_keys);
  return t.reader->ReadRange(*s.target, range, with_keys);
}

Result<RowBlock> PgTargetCheck::TargetKeys(PgSession& s, const Table& t, const std::vector<KeyTuple>& keys) {
  if (t.my_reader) return t.my_reader->ReadKeys(*s.my_target, keys);
  return t.reader->ReadKeys(*s.target, keys);
}

Result<KeyTuple> PgTargetCheck::ToTargetKey(const Table& t, const KeyTuple& source_key) const {
  KeyTuple out;
  Arena arena(256);
  for (size_t i = 0; i < t.source_key_pos.size(); ++i) {
    const uint32_t pos = t.source_key_pos[i];
    out.push_back(pos < source_key.size() ? source_key[pos] : mysql::KeyPart{});
    if (!t.my_reader) continue;
    const ColumnMeta& column = t.src->schema->columns[t.src->key()[pos]];
    Value v;
    Status st = DecodeKeyPart(column, out.back(), arena, v);
    if (!st.ok()) return st.WithContext(fmt::format("key column \"{}\"", column.name));
    FitForMysql(v, column, arena);
    out.back() = MysqlKeyPart(v, t.my_reader->schema().columns[t.my_reader->key()[i]]);
  }
  return out;
}

Result<KeyTuple> PgTargetCheck::ToSourceKey(const Table& t, const KeyTuple& target_key) const {
  KeyTuple out(t.source_key_pos.size());
  Arena arena(256);
  for (size_t i = 0; i < t.source_key_pos.size() && i < target_key.size(); ++i) {
    mysql::KeyPart& part = out[t.source_key_pos[i]];
    part = target_key[i];
    if (!t.my_reader) continue;
    const ColumnMeta& column = t.my_reader->schema().columns[t.my_reader->key()[i]];
    Value v;
    Status st = DecodeKeyPart(column, part, arena, v);
    if (!st.ok()) return st.WithContext(fmt::format("key column `{}`", column.name));
    part = PgKeyPart(v);
  }
  return out;
}

Result<KeyRange> PgTargetCheck::ToTargetRange(const Table& t, const KeyRange& range) const {
  KeyRange out;
  if (range.after) {
    ASSIGN_OR_RETURN(out.after, ToTargetKey(t, *range.after));
  }
  if (range.upto) {
    ASSIGN_OR_RETURN(out.upto, ToTargetKey(t, *range.upto));
  }
  return out;
}

Result<ChunkRead> PgTargetCheck::Read(PgSession& s, const Table& t, uint32_t chunk) {
  const SourcePlan& plan = *t.src;
  const TargetTable& tt = *plan.mapping->target;
  const size_t width = plan.width();
  ChunkRead r;
  // The source's rows, filtered and projected to target column order.
  auto project = [&](const RowBlock& block, std::vector<Value>& out, std::vector<uint32_t>* kept) -> Status {
    std::vector<Value> full;
    for (size_t i = 0; i < block.rows(); ++i) {
      auto row = block.row(i);
      if (plan.mapping->filter) {
        full.assign(row.begin(), row.end());
        ASSIGN_OR_RETURN(bool in, transform::Matches(*plan.mapping->filter, full));
        if (!in) continue;
      }
      for (uint32_t c : plan.mapping->source_index) out.push_back(row[c]);
      if (kept) kept->push_back(static_cast<uint32_t>(i));
    }
    return Status::Ok();
  };
  const KeyRange range = plan.Range(chunk);
  ASSIGN_OR_RETURN(RowBlock src, plan.pg_reader->ReadRange(*s.source, range, plan.keyed()));
  std::vector<uint32_t> kept;
  RETURN_IF_ERROR(project(src, r.source, &kept));
  if (!plan.keyed()) {
    ASSIGN_OR_RETURN(RowBlock dst, TargetRange(s, t, KeyRange{}, false));
    r.target = dst.values;
    r.blocks.push_back(std::move(src));
    r.blocks.push_back(std::move(dst));
  } else {
    ASSIGN_OR_RETURN(KeyRange target_range, ToTargetRange(t, range));
    ASSIGN_OR_RETURN(RowBlock dst, TargetRange(s, t, target_range, true));
    // A row's key, in the form both sides share (on a MySQL target a
    // boolean is 1/0 and a timestamp has no trailing zeros).
    Arena key_arena(4096);
    auto key_bytes = [&](std::span<const Value> row) {
      std::string out;
      for (uint32_t k : tt.key) {
        Value v = row[k];
        if (t.my_reader) FitForMysql(v, plan.schema->columns[plan.mapping->source_index[k]], key_arena);
        AppendValueBytes(out, v);
      }
      return out;
    };
    std::unordered_set<std::string> source_keys, target_keys;
    for (size_t i = 0; i < kept.size(); ++i) {
      source_keys.insert(key_bytes(std::span<const Value>(r.source).subspan(i * width, width)));
    }
    for (size_t i = 0; i < dst.rows(); ++i) target_keys.insert(key_bytes(dst.row(i)));
    // A source row the target's range lacks may sit in another range there.
    std::vector<KeyTuple> lookup;
    for (size_t i = 0; i < kept.size(); ++i) {
      if (!target_keys.count(key_bytes(std::span<const Value>(r.source).subspan(i * width, width)))) {
        ASSIGN_OR_RETURN(KeyTuple key, ToTargetKey(t, src.keys[kept[i]]));
        lookup.push_back(std::move(key));
      }
    }
    RowBlock found;
    if (!lookup.empty()) {
      ASSIGN_OR_RETURN(found, TargetKeys(s, t, lookup));
    }
    // A target row the source's range lacks may belong to another chunk
    // there: it is extra only if the source (after `where:`) lacks its key.
    std::vector<KeyTuple> extra_keys;
    for (size_t i = 0; i < dst.rows(); ++i) {
      if (source_keys.count(key_bytes(dst.row(i)))) continue;
      ASSIGN_OR_RETURN(KeyTuple key, ToSourceKey(t, dst.keys[i]));
      extra_keys.push_back(std::move(key));
    }
    std::unordered_set<std::string> elsewhere;
    if (!extra_keys.empty()) {
      ASSIGN_OR_RETURN(RowBlock there, plan.pg_reader->ReadKeys(*s.source, extra_keys));
      std::vector<Value> rows;
      RETURN_IF_ERROR(project(there, rows, nullptr));
      for (size_t i = 0; i * width < rows.size(); ++i) {
        elsewhere.insert(key_bytes(std::span<const Value>(rows).subspan(i * width, width)));
      }
      r.blocks.push_back(std::move(there));
    }
    for (size_t i = 0; i < dst.rows(); ++i) {
      auto row = dst.row(i);
      if (!elsewhere.count(key_bytes(row))) r.target.insert(r.target.end(), row.begin(), row.end());
    }
    for (size_t i = 0; i < found.rows(); ++i) {
      auto row = found.row(i);
      r.target.insert(r.target.end(), row.begin(), row.end());
    }
    r.blocks.push_back(std::move(src));
    r.blocks.push_back(std::move(dst));
    r.blocks.push_back(std::move(found));
  }
  Arena& arena = *r.blocks.front().arena;
  std::function<void(Value&, size_t)> fit;
  if (t.my_reader) {
    fit = [&](Value& v, size_t column) {
      FitForMysql(v, plan.schema->columns[plan.mapping->source_index[column]], arena);
    };
  }
  r.mismatches = CompareRows(r.source, r.target, width, tt.key, arena, fit);
  if (t.extras_left_out) LeaveOutExtras(r.mismatches);
  return r;
}

Status PgTargetCheck::CompareChunk(PgSession& s, Table& t, uint32_t chunk) {
  ChunkState st;
  if (t.use_checksum) {
    const KeyRange range = t.src->Range(chunk);
    auto target_range = ToTargetRange(t, range);
    if (!target_range.ok()) return target_range.status().WithContext(Where(t, chunk));
    auto a = t.src->pg_hasher->Checksum(*s.source, range);
    if (!a.ok()) return a.status().WithContext(Where(t, chunk) + ": source");
    auto b = t.reader->Checksum(*s.target, *target_range);
    if (!b.ok()) return b.status().WithContext(Where(t, chunk) + ": target");
    if (*a == *b) {
      st.rows = a->rows;
      std::lock_guard lock(t.mu);
      t.chunks[chunk] = std::move(st);
      return Status::Ok();
    }
  }
  auto r = Read(s, t, chunk);
  if (!r.ok()) return r.status().WithContext(Where(t, chunk));
  const TargetTable& tt = *t.src->mapping->target;
  const size_t width = tt.columns.size();
  std::vector<std::string> key_names;
  for (uint32_t k : tt.key) key_names.push_back(tt.columns[k]);
  st.rows = width ? r->source.size() / width : 0;
  std::vector<Value> key_values;
  for (const RowMismatch& m : r->mismatches) {
    RowDiff d;
    d.kind = m.kind;
    d.chunk = chunk;
    std::span<const Value> row = m.source_row >= 0
                                     ? std::span<const Value>(r->source).subspan(m.source_row * width, width)
                                     : std::span<const Value>(r->target).subspan(m.target_row * width, width);
    if (tt.has_key()) {
      key_values.clear();
      for (uint32_t k : tt.key) key_values.push_back(row[k]);
      d.key_text = DescribeRowKey(key_names, key_values);
      d.key_json = RowKeyJson(key_names, key_values);
    } else {
      d.key_text = DescribeRowKey(tt.columns, row);
      d.key_json = RowKeyJson(tt.columns, row);
    }
    ++st.counts[static_cast<int>(m.kind) - 1];
    st.diffs.push_back(std::move(d));
  }
  std::lock_guard lock(t.mu);
  t.chunks[chunk] = std::move(st);
  return Status::Ok();
}

Status PgTargetCheck::ForEach(const std::vector<Task>& tasks, const TaskFn& fn) {
  return ForEachOnSessions<PgSession, Task>(sessions_, tasks, [&](PgSession& s, const Task& task) {
    Status st = cancelled() ? Status::Error(StatusCode::kCancelled, "cancelled") : EnsureSession(s);
    return st.ok() ? fn(s, *task.table, task.chunk) : st;
  });
}

std::vector<PgTargetCheck::Task> PgTargetCheck::DifferingChunks() {
  std::vector<Task> tasks;
  for (auto& t : tables_) {
    std::lock_guard lock(t->mu);
    for (uint32_t c = 0; c < t->chunks.size(); ++c) {
      if (t->chunks[c].total() > 0) tasks.push_back({t.get(), c});
    }
  }
  return tasks;
}

// Whether the pipeline has applied past `wanted` (a source WAL position):
// its checkpoint on this target is there, or its slot confirmed it (which
// it does only for what every target applied, or once nothing is pending).
Result<bool> PgTargetCheck::Reached(const std::string& wanted, std::string* applied) {
  ASSIGN_OR_RETURN(*applied, main_.writer->AppliedPosition(p_.name, target_.name));
  if (PositionReached(*applied, wanted)) return true;
  return PgSlotConfirmed(*main_.source, SlotOf(p_, source_), wanted);
}

Status PgTargetCheck::Settle(TargetCheckReport& report) {
  if (!report.has_checkpoint) return Status::Ok();
  const auto deadline = std::chrono::steady_clock::now() + options_.wait;
  for (int round = 0; round < kSettleRounds; ++round) {
    std::vector<Task> tasks = DifferingChunks();
    if (tasks.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(report.source_position, PgWalPosition(*main_.source));
    ASSIGN_OR_RETURN(bool applied,
                     WaitUntilApplied(
                         report, options_, deadline,
                         [&] { return Reached(report.source_position, &report.applied_position); },
                         [this] { return cancelled(); }));
    if (!applied) return Status::Ok();
    report.caught_up = true;
    RETURN_IF_ERROR(ForEach(tasks, [this](PgSession& s, Table& t, uint32_t c) { return CompareChunk(s, t, c); }));
  }
  return Status::Ok();
}

Status PgTargetCheck::RepairChunk(PgSession& s, Table& t, uint32_t chunk) {
  const TargetTablePtr& table = t.src->mapping->target;
  ASSIGN_OR_RETURN(uint64_t written,
                   RepairThroughChunkTarget(
                       s.writer, TargetSinkOptions(p_, target_), nullptr, Where(t, chunk),
                       [&]() -> Result<std::vector<SinkChange>> {
                         RETURN_IF_ERROR(EnsureSession(s));
                         ASSIGN_OR_RETURN(ChunkRead r, Read(s, t, chunk));
                         return RepairChanges(table, r.mismatches, r.source, r.target);
                       },
                       [&s] {  // the reading connections may be gone too
                         s.source.reset();
                         s.target.reset();
                       }));
  std::lock_guard lock(t.mu);
  t.report.repaired_rows += written;
  return Status::Ok();
}

void PgTargetCheck::Summarize(Table& t, bool remaining) {
  std::lock_guard lock(t.mu);
  SummarizeChunks(t.chunks, remaining, t.report, options_.max_keys);
}

Result<TargetCheckReport> PgTargetCheck::Run() {
  TargetCheckReport report;
  report.pipeline = p_.name;
  report.target = target_.name;
  RETURN_IF_ERROR(EnsureSession(main_));
  ASSIGN_OR_RETURN(main_.writer, sink::OpenChunkTarget(TargetSinkOptions(p_, target_), nullptr));
  ASSIGN_OR_RETURN(report.applied_position, main_.writer->AppliedPosition(p_.name, target_.name));
  report.has_checkpoint = !report.applied_position.empty();
  std::vector<Task> tasks;
  for (const auto& plan : plans_) {
    if (plan->error.empty()) ++sources_of_[plan->target_name];
  }
  for (const auto& plan : plans_) {
    auto t = std::make_unique<Table>();
    t->src = plan.get();
    Status st = PrepareTable(*t);
    if (!st.ok()) return st.WithContext(fmt::format("table {} -> {}", plan->table.name(), plan->target_name));
    for (uint32_t c = 0; c < t->chunks.size(); ++c) tasks.push_back({t.get(), c});
    tables_.push_back(std::move(t));
  }
  auto compare = [this](PgSession& s, Table& t, uint32_t c) { return CompareChunk(s, t, c); };
  RETURN_IF_ERROR(ForEach(tasks, compare));
  uint64_t first = 0;
  for (const Task& task : DifferingChunks()) first += task.table->chunks[task.chunk].total();
  RETURN_IF_ERROR(Settle(report));
  uint64_t settled = 0;
  for (const Task& task : DifferingChunks()) settled += task.table->chunks[task.chunk].total();
  report.in_flight = first > settled ? first - settled : 0;
  for (auto& t : tables_) Summarize(*t, false);
  if (options_.repair) {
    std::vector<Task> differing = DifferingChunks();
    if (!differing.empty()) {
      report.repair_ran = true;
      RETURN_IF_ERROR(main_.writer->EnsureTables());
      RETURN_IF_ERROR(ForEach(differing, [this](PgSession& s, Table& t, uint32_t c) { return RepairChunk(s, t, c); }));
      RETURN_IF_ERROR(ForEach(differing, compare));
      RETURN_IF_ERROR(Settle(report));
    }
    for (auto& t : tables_) Summarize(*t, true);
  }
  for (auto& t : tables_) report.tables.push_back(std::move(t->report));
  return report;
}

}  // namespace

Result<std::string> PgWalPosition(PgConnection& c) {
  ASSIGN_OR_RETURN(auto wal, c.Query("SELECT pg_catalog.pg_current_wal_lsn()"));
  return wal.empty() ? std::string() : wal[0][0].value_or("");
}

Result<bool> PgSlotConfirmed(PgConnection& c, const std::string& slot, const std::string& wanted) {
  ASSIGN_OR_RETURN(auto rows, c.Query(fmt::format("SELECT confirmed_flush_lsn >= {}::pg_lsn FROM "
                                                  "pg_catalog.pg_replication_slots WHERE slot_name = {}",
                                                  postgres::QuoteLiteral(wanted), postgres::QuoteLiteral(slot))));
  return !rows.empty() && rows[0][0].value_or("f") == "t";
}

Result<CheckReport> RunPostgresCheck(const Config& config, const PipelineConfig& p, const SourceConfig& source,
                                     const CheckOptions& options, std::atomic<bool>* cancel) {
  auto where = [&p] { return fmt::format("pipeline {}: source", p.name); };
  auto co = postgres::ConnectOptions::FromUrl(source.endpoint);
  if (!co.ok()) return co.status().WithContext(where());
  const postgres::ConnectOptions source_options = postgres::ReadSessionOptions(*co, sluice::mysql::kJobIoTimeoutS);
  // Every target first: a kind this check cannot read is an error before any work.
  struct TargetSide {
    const TargetConfig* config;
    postgres::ConnectOptions pg;
    std::optional<sluice::mysql::ConnectOptions> mysql;
    bool by_keys = false;  // neither PostgreSQL nor MySQL: TargetCheck reads it back by keys (check_target.h)
  };
  std::vector<TargetSide> targets;
  for (const std::string& name : p.targets) {
    const TargetConfig* target = config.FindTarget(name);
    if (target == nullptr) return Status::Invalid("pipeline {} target {}: no such target", p.name, name);
    const std::string& scheme = target->endpoint.scheme;
    if (IsMysqlScheme(scheme)) {
      auto mo = sluice::mysql::ConnectOptions::FromUrl(target->endpoint);
      if (!mo.ok()) return mo.status().WithContext(fmt::format("pipeline {} target {}", p.name, name));
      targets.push_back({target, {}, sluice::mysql::WithDefaultTimeouts(*mo, sluice::mysql::kJobIoTimeoutS)});
      continue;
    }
    if (scheme != "postgres" && scheme != "postgresql") {
      if (!sink::SupportsCheck(scheme)) {
        return Status::Error(StatusCode::kNotSupported,
                             "pipeline {} target {}: {}:// targets cannot be checked (their rows cannot be read back)",
                             p.name, name, scheme);
      }
      targets.push_back({target, {}, std::nullopt, true});
      continue;
    }
    auto to = postgres::ConnectOptions::FromUrl(target->endpoint);
    if (!to.ok()) return to.status().WithContext(fmt::format("pipeline {} target {}", p.name, name));
    targets.push_back({target, postgres::ReadSessionOptions(*to, sluice::mysql::kJobIoTimeoutS), std::nullopt});
  }
  const uint64_t chunk_rows = options.chunk_rows ? options.chunk_rows : p.chunk_rows;
  const uint32_t parallel = options.parallel ? options.parallel : p.parallel;
  auto cancelled = [cancel] { return cancel != nullptr && cancel->load(); };

  auto conn = PgConnection::Connect(source_options, options.interrupter);
  if (!conn.ok()) return conn.status().WithContext(where());
  PgConnection& src = **conn;
  ASSIGN_OR_RETURN(auto mapper, transform::TableMapper::Create(MappingRules(p)));
  auto selected = SelectedPostgresTables(src, p);
  if (!selected.ok()) return selected.status().WithContext(where());
  if (!options.only_targets_of.empty()) *selected = FeedingTargetsOf(std::move(*selected), options.only_targets_of);
  std::vector<std::unique_ptr<SourcePlan>> plans;
  for (const SourceTable& table : *selected) {
    if (cancelled()) return Status::Error(StatusCode::kCancelled, "cancelled");
    auto in_table = [&] { return fmt::format("pipeline {}: table {}", p.name, table.name()); };
    auto plan = std::make_unique<SourcePlan>();
    plan->table = table;
    plan->target_name = table.name();
    plan->error = NotCheckedThroughScript(table);
    if (!plan->error.empty()) {
      plans.push_back(std::move(plan));
      continue;
    }
    auto reader = PgTableReader::Open(src, table.db, table.table);
    if (!reader.ok() && reader.status().code() == StatusCode::kNotFound) continue;  // dropped meanwhile
    if (!reader.ok()) return reader.status().WithContext(in_table());
    plan->pg_reader = std::move(reader).value();
    plan->schema = plan->pg_reader->schema();
    auto mapping = mapper->Map(plan->schema);
    if (!mapping.ok()) {
      plan->error = mapping.status().message();
      plans.push_back(std::move(plan));
      continue;
    }
    plan->mapping = *mapping;
    if (!plan->mapping->selected()) continue;
    plan->target_name = plan->mapping->target->db + "." + plan->mapping->target->table;
    auto hasher = PgTableReader::Open(src, table.db, table.table, plan->mapping->source_index);
    if (!hasher.ok()) return hasher.status().WithContext(in_table());
    plan->pg_hasher = std::move(hasher).value();
    plan->identity = false;  // the reader reads every column (a filter may read any)
    plan->projection = plan->mapping->source_index;
    if (plan->keyed()) {
      auto bounds = plan->pg_reader->PlanChunks(src, chunk_rows, cancelled);
      if (!bounds.ok()) return bounds.status().WithContext(in_table());
      plan->bounds = std::move(bounds).value();
    }
    plans.push_back(std::move(plan));
  }

  CheckReport report;
  for (const TargetSide& target : targets) {
    auto run = [&]() -> Result<TargetCheckReport> {
      if (target.by_keys) {
        TargetCheck check(p, target.config->name, CheckSource{{}, source_options, SlotOf(p, source)}, std::nullopt,
                          TargetSinkOptions(p, *target.config), options, parallel, plans, cancel);
        check.SetOtherWriter(OtherWritersOf(config, p, target.config->name));
        return check.Run();
      }
      PgTargetCheck check(p, source, *target.config, source_options, target.pg, target.mysql, options, parallel,
                          plans, cancel);
      check.SetOtherWriter(OtherWritersOf(config, p, target.config->name));
      return check.Run();
    };
    auto r = run();
    if (!r.ok()) return r.status().WithContext(fmt::format("pipeline {} target {}", p.name, target.config->name));
    report.targets.push_back(std::move(r).value());
  }
  return report;
}

}  // namespace sluice::pipeline::detail
