#include "pipeline/check.h"
#include "core/resume_position.h"
#include "pipeline/check_target.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/change_event.h"
#include "core/json_writer.h"
#include "core/position.h"
#include "pipeline/pg_check.h"
#include "pipeline/pg_source.h"
#include "pipeline/table_set.h"
#include "sink/mysql/chunk_writer.h"
#include "sink/mysql/sql_builder.h"
#include "sink/registry.h"
#include "client/mysql/connection.h"
#include "transform/table_mapper.h"

namespace sluice::pipeline {

using sink::mysql::ChunkWriter;
using sluice::mysql::ConnectOptions;
using sluice::mysql::KeyRange;
using sluice::mysql::KeyTuple;
using sluice::mysql::MysqlConnection;
using sluice::mysql::RowBlock;
using sluice::mysql::TableReader;
using namespace detail;

const char* DiffKindName(DiffKind kind) {
  switch (kind) {
    case DiffKind::kMissing:
      return "missing";
    case DiffKind::kExtra:
      return "extra";
    case DiffKind::kDifferent:
      return "different";
  }
  return "unknown";
}

// ---- Pure pieces ----

namespace {

// Families of value kinds whose members a type difference between source
// and target can turn into each other without changing the data.
enum class Family : uint8_t { kNull, kInteger, kReal, kString, kDecimal, kDate, kDateTime, kTime, kGeometry };

Family FamilyOf(ValueKind k) {
  switch (k) {
    case ValueKind::kNull:
    case ValueKind::kAbsent:
      return Family::kNull;
    case ValueKind::kInt:
    case ValueKind::kUInt:
    case ValueKind::kYear:
    case ValueKind::kBit:
      return Family::kInteger;
    case ValueKind::kFloat:
    case ValueKind::kDouble:
      return Family::kReal;
    case ValueKind::kText:
    case ValueKind::kBytes:
    case ValueKind::kEnum:
    case ValueKind::kSet:
    case ValueKind::kJson:
      return Family::kString;
    case ValueKind::kDecimal:
      return Family::kDecimal;
    case ValueKind::kDate:
      return Family::kDate;
    case ValueKind::kDateTime:
    case ValueKind::kTimestamp:
      return Family::kDateTime;
    case ValueKind::kTime:
      return Family::kTime;
    case ValueKind::kGeometry:
      return Family::kGeometry;
  }
  return Family::kString;
}

}  // namespace

bool SameCheckedValue(const Value& a, const Value& b) {
  Family fa = FamilyOf(a.kind);
  if (fa != FamilyOf(b.kind)) return false;
  switch (fa) {
    case Family::kNull:
      return true;
    case Family::kInteger:
      return a.u == b.u;
    case Family::kReal:
      return a.d == b.d;
    default:
      return a.s == b.s;
  }
}

void AppendValueBytes(std::string& out, const Value& v) {
  Family f = FamilyOf(v.kind);
  out += static_cast<char>(f);
  char buf[8];
  switch (f) {
    case Family::kNull:
      return;
    case Family::kInteger:
      std::memcpy(buf, &v.u, 8);
      out.append(buf, 8);
      return;
    case Family::kReal: {
      double d = v.d == 0 ? 0.0 : v.d;  // -0.0 == 0.0
      std::memcpy(buf, &d, 8);
      out.append(buf, 8);
      return;
    }
    default: {
      uint32_t n = static_cast<uint32_t>(v.s.size());
      std::memcpy(buf, &n, 4);
      out.append(buf, 4);
      out.append(v.s);
      return;
    }
  }
}

std::vector<RowMismatch> DiffRows(std::span<const Value> source, std::span<const Value> target, size_t width,
                                  const std::vector<uint32_t>& key) {
  std::vector<RowMismatch> out;
  if (width == 0) return out;
  const size_t ns = source.size() / width, nt = target.size() / width;
  auto row = [width](std::span<const Value> rows, size_t i) { return rows.subspan(i * width, width); };
  std::string buf;
  auto encode = [&](std::span<const Value> r) -> const std::string& {
    buf.clear();
    if (key.empty()) {
      for (const Value& v : r) AppendValueBytes(buf, v);
    } else {
      for (uint32_t k : key) AppendValueBytes(buf, r[k]);
    }
    return buf;
  };
  if (!key.empty()) {
    std::unordered_map<std::string, uint32_t> by_key;
    by_key.reserve(nt);
    for (size_t t = 0; t < nt; ++t) by_key.emplace(encode(row(target, t)), static_cast<uint32_t>(t));
    std::vector<char> matched(nt, 0);
    for (size_t s = 0; s < ns; ++s) {
      auto srow = row(source, s);
      auto it = by_key.find(encode(srow));
      if (it == by_key.end()) {
        out.push_back({DiffKind::kMissing, static_cast<int64_t>(s), -1});
        continue;
      }
      matched[it->second] = 1;
      auto trow = row(target, it->second);
      for (size_t c = 0; c < width; ++c) {
        if (!SameCheckedValue(srow[c], trow[c])) {
          out.push_back({DiffKind::kDifferent, static_cast<int64_t>(s), static_cast<int64_t>(it->second)});
          break;
        }
      }
    }
    for (size_t t = 0; t < nt; ++t) {
      if (!matched[t]) out.push_back({DiffKind::kExtra, -1, static_cast<int64_t>(t)});
    }
    return out;
  }
  // Keyless: multisets of whole rows. Equal rows pair up in order.
  struct Bucket {
    std::vector<uint32_t> rows;
    size_t used = 0;
  };
  std::unordered_map<std::string, Bucket> by_row;
  by_row.reserve(nt);
  for (size_t t = 0; t < nt; ++t) by_row[encode(row(target, t))].rows.push_back(static_cast<uint32_t>(t));
  std::vector<char> matched(nt, 0);
  for (size_t s = 0; s < ns; ++s) {
    auto it = by_row.find(encode(row(source, s)));
    if (it == by_row.end() || it->second.used == it->second.rows.size()) {
      out.push_back({DiffKind::kMissing, static_cast<int64_t>(s), -1});
      continue;
    }
    matched[it->second.rows[it->second.used++]] = 1;
  }
  for (size_t t = 0; t < nt; ++t) {
    if (!matched[t]) out.push_back({DiffKind::kExtra, -1, static_cast<int64_t>(t)});
  }
  return out;
}

bool PositionReached(std::string_view applied, std::string_view wanted) {
  auto a = StreamPosAtResume(applied);
  auto w = StreamPosAtResume(wanted);
  if (!a.ok() || !w.ok()) return false;
  return !(*a < *w);
}

std::string DescribeRowKey(const std::vector<std::string>& columns, std::span<const Value> values) {
  std::string out;
  if (columns.size() > 1) out += '(';
  for (size_t i = 0; i < columns.size() && i < values.size(); ++i) {
    if (i) out += ", ";
    out += columns[i];
    out += '=';
    std::string lit;
    if (!sink::mysql::AppendLiteral(lit, values[i]).ok()) {
      out += '?';
    } else if (lit.size() > 64) {
      out.append(lit, 0, 61);
      out += "...";
    } else {
      out += lit;
    }
  }
  if (columns.size() > 1) out += ')';
  return out;
}

std::string RowKeyJson(const std::vector<std::string>& columns, std::span<const Value> values) {
  std::string out = "{";
  for (size_t i = 0; i < columns.size() && i < values.size(); ++i) {
    if (i) out += ',';
    AppendJsonString(out, columns[i]);
    out += ':';
    AppendJsonValue(out, values[i]);
  }
  out += '}';
  return out;
}

// ---- Report ----

uint64_t CheckReport::differences() const {
  uint64_t n = 0;
  for (const auto& t : targets) {
    for (const auto& tb : t.tables) n += tb.differences();
  }
  return n;
}

uint64_t CheckReport::remaining() const {
  uint64_t n = 0;
  for (const auto& t : targets) {
    for (const auto& tb : t.tables) n += t.repair_ran ? tb.remaining : tb.differences();
  }
  return n;
}

uint64_t CheckReport::repaired_rows() const {
  uint64_t n = 0;
  for (const auto& t : targets) {
    for (const auto& tb : t.tables) n += tb.repaired_rows;
  }
  return n;
}

bool CheckReport::has_errors() const {
  for (const auto& t : targets) {
    for (const auto& tb : t.tables) {
      if (!tb.error.empty()) return true;
    }
  }
  return false;
}

bool CheckReport::repaired() const {
  bool any = false;
  for (const auto& t : targets) {
    for (const auto& tb : t.tables) {
      if (tb.differences() == 0) continue;
      if (!t.repair_ran || tb.remaining > 0) return false;
      any = true;
    }
  }
  return any && !has_errors();
}

// ---- The check ----

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// For a single integer key: chunks of `chunk_rows` consecutive key values,
// from the key's MIN and MAX (two index lookups, where PlanChunks walks the
// whole index), so that no chunk holds more than chunk_rows rows. Only when
// the keys are dense enough for most chunks to hold rows (judged by the
// table's row estimate); nullopt otherwise. Several tables (shards merged
// into one target table): the range and the estimate of all of them.
using ChunkedTable = std::pair<MysqlConnection*, const TableReader*>;
Result<std::optional<std::vector<KeyTuple>>> PlanIntegerChunks(std::span<const ChunkedTable> tables,
                                                               uint64_t chunk_rows) {
  using Plan = std::optional<std::vector<KeyTuple>>;
  if (tables.empty() || chunk_rows == 0) return Plan();
  // Keys as unsigned offsets (signed ones biased by 2^63, which keeps their order).
  constexpr uint64_t kBias = uint64_t{1} << 63;
  std::optional<bool> is_signed;
  uint64_t estimate = 0, lo = UINT64_MAX, hi = 0;
  bool any = false;
  for (const auto& [c, r] : tables) {
    if (r->key().size() != 1) return Plan();
    const ColumnMeta& col = r->schema().columns[r->key()[0]];
    const ValueKind kind = mysql::KindForColumn(col);
    if (kind != ValueKind::kInt && kind != ValueKind::kUInt) return Plan();
    if (is_signed && *is_signed != (kind == ValueKind::kInt)) return Plan();
    is_signed = kind == ValueKind::kInt;
    estimate += r->EstimateRows(*c);
    std::string name;
    sink::mysql::AppendIdentifier(name, col.name);
    ASSIGN_OR_RETURN(auto rows, c->Query(fmt::format("SELECT MIN({0}), MAX({0}) FROM {1}", name, r->QualifiedName())));
    if (rows.empty() || rows[0].size() < 2 || !rows[0][0] || !rows[0][1]) continue;
    auto parse = [&](const std::string& text) -> uint64_t {
      return *is_signed ? static_cast<uint64_t>(std::strtoll(text.c_str(), nullptr, 10)) ^ kBias
                        : std::strtoull(text.c_str(), nullptr, 10);
    };
    lo = std::min(lo, parse(*rows[0][0]));
    hi = std::max(hi, parse(*rows[0][1]));
    any = true;
  }
  if (estimate == 0) return Plan();
  if (!any) return Plan(std::vector<KeyTuple>{});
  auto print = [&](uint64_t v) {
    return *is_signed ? std::to_string(static_cast<int64_t>(v ^ kBias)) : std::to_string(v);
  };
  if (hi < lo) return Plan();
  const uint64_t chunks = (hi - lo) / chunk_rows + 1;  // ceil((hi - lo + 1) / chunk_rows), without overflow
  const uint64_t wanted = estimate / chunk_rows + 1;
  if (chunks > 2 * wanted + 1 || chunks > 10'000'000) return Plan();
  std::vector<KeyTuple> bounds;
  for (uint64_t i = 1; i < chunks; ++i)
    bounds.push_back(KeyTuple{mysql::KeyPart{print(lo + i * chunk_rows - 1), false}});
  return Plan(std::move(bounds));
}

Result<std::optional<std::vector<KeyTuple>>> PlanIntegerChunks(MysqlConnection& c, const TableReader& r,
                                                               uint64_t chunk_rows) {
  const ChunkedTable one{&c, &r};
  return PlanIntegerChunks(std::span<const ChunkedTable>(&one, 1), chunk_rows);
}

// `options` carry the jobs' bounded timeouts (RunCheck); `interrupt` cuts
// the connection when the check is cancelled.
Result<std::unique_ptr<MysqlConnection>> OpenReader(const ConnectOptions& options, mysql::Interrupter* interrupt) {
  ASSIGN_OR_RETURN(auto c, MysqlConnection::Connect(options, interrupt));
  RETURN_IF_ERROR(mysql::PrepareReadSession(*c));
  return c;
}

}  // namespace

namespace detail {


Status TargetCheck::EnsureSession(Session& s) {
  if (source_.pg) {
    if (!s.pg_source) {
      ASSIGN_OR_RETURN(s.pg_source, postgres::PgConnection::Connect(*source_.pg, options_.interrupter));
    }
  } else if (!s.source) {
    ASSIGN_OR_RETURN(s.source, OpenReader(source_.mysql, options_.interrupter));
  }
  if (by_keys_) {
    if (!s.rows) {
      ASSIGN_OR_RETURN(s.rows, sink::OpenRowReader(sink_options_));
    }
  } else if (!s.target) {
    ASSIGN_OR_RETURN(s.target, OpenReader(target_options_, options_.interrupter));
  }
  return Status::Ok();
}

void TargetCheck::GroupByTargetTable() {
  std::map<std::string, Table*> by_target;
  for (const auto& plan : plans_) {
    if (plan->error.empty()) {
      auto it = by_target.find(plan->target_name);
      if (it != by_target.end()) {
        it->second->members.push_back(plan.get());
        continue;
      }
    }
    auto t = std::make_unique<Table>();
    t->src = plan.get();
    t->members.push_back(plan.get());
    t->report.source = plan->table.name();
    t->report.target = plan->target_name;
    if (plan->error.empty()) by_target.emplace(plan->target_name, t.get());
    tables_.push_back(std::move(t));
  }
  for (auto& t : tables_) {
    if (!t->merged()) continue;
    std::vector<std::string> names;
    for (const SourcePlan* m : t->members) names.push_back(m->table.name());
    t->report.source = fmt::format("{}", fmt::join(names, ", "));
  }
}

namespace {

// Why the members of a merged table cannot be compared as one ("" when they can).
std::string MergeRefusal(const std::vector<const SourcePlan*>& members) {
  const TargetTable& first = *members.front()->mapping->target;
  for (const SourcePlan* m : members) {
    const TargetTable& tt = *m->mapping->target;
    if (tt.columns != first.columns || tt.key != first.key || m->keyed() != members.front()->keyed() ||
        m->key().size() != members.front()->key().size() ||
        (m->pg_reader != nullptr) != (members.front()->pg_reader != nullptr)) {
      return fmt::format("source tables {} and {} are merged into this table with other columns or keys "
                         "(not checked)",
                         members.front()->table.name(), m->table.name());
    }
  }
  return "";
}

}  // namespace

KeyRange TargetCheck::Range(const Table& t, uint32_t chunk) const {
  if (!t.merged()) return t.src->Range(chunk);
  if (by_keys_) {
    auto [member, c] = MemberChunk(t, chunk);
    return member->Range(c);
  }
  KeyRange r;
  if (chunk > 0) r.after = t.bounds[chunk - 1];
  if (chunk < t.bounds.size()) r.upto = t.bounds[chunk];
  return r;
}

uint32_t TargetCheck::SourceChunks(const Table& t) const {
  if (!t.merged()) return t.src->chunk_count();
  if (!by_keys_) return static_cast<uint32_t>(t.bounds.size() + 1);
  if (!t.src->keyed()) return 1;  // compared whole
  uint32_t n = 0;
  for (const SourcePlan* m : t.members) n += m->chunk_count();
  return n;
}

std::pair<const SourcePlan*, uint32_t> TargetCheck::MemberChunk(const Table& t, uint32_t chunk) const {
  for (const SourcePlan* m : t.members) {
    if (chunk < m->chunk_count()) return {m, chunk};
    chunk -= m->chunk_count();
  }
  return {t.src, chunk};  // not reached: callers pass source chunks
}

Result<RowBlock> TargetCheck::MembersRows(Session& s, std::span<const SourcePlan* const> members,
                                          const KeyRange* range, const std::vector<KeyTuple>* keys) const {
  RowBlock out;
  out.width = members.front()->width();
  for (const SourcePlan* m : members) {
    auto block = keys ? s.SourceKeys(*m, *keys) : s.SourceRange(*m, *range, true);
    if (!block.ok()) return block.status().WithContext(m->table.name());
    ASSIGN_OR_RETURN(Compared c, ProjectPlan(*m, *block));
    for (size_t i = 0; i < c.source_rows.size(); ++i) {
      for (size_t col = 0; col < out.width; ++col) {
        Value v = c.source[i * out.width + col];
        if (!v.s.empty()) v.s = out.arena->Copy(v.s);
        out.values.push_back(v);
      }
      if (c.source_rows[i] < block->keys.size()) out.keys.push_back(block->keys[c.source_rows[i]]);
    }
  }
  return out;
}

Status TargetCheck::PlanMergedChunks(Table& t) {
  if (!t.src->keyed()) return Status::Ok();  // compared whole
  const uint64_t chunk_rows = options_.chunk_rows ? options_.chunk_rows : p_.chunk_rows;
  std::vector<ChunkedTable> sides;
  for (const SourcePlan* m : t.members) sides.emplace_back(main_.source.get(), m->reader.get());
  ASSIGN_OR_RETURN(auto by_value, PlanIntegerChunks(std::span<const ChunkedTable>(sides), chunk_rows));
  if (by_value) {
    t.bounds = std::move(*by_value);
    return Status::Ok();
  }
  auto cancelled = [this] { return this->cancelled(); };
  ASSIGN_OR_RETURN(t.bounds, t.reader->PlanChunks(*main_.target, chunk_rows, cancelled));
  return Status::Ok();
}

Status TargetCheck::PrepareTable(Table& t) {
  const SourcePlan& src = *t.src;
  if (!src.error.empty()) {
    t.report.error = src.error;
    return Status::Ok();
  }
  if (t.merged()) {
    t.report.error = MergeRefusal(t.members);
    if (!t.report.error.empty()) return Status::Ok();
  }
  t.report.note = ExtrasLeftOutNote(other_writer_, plans_, src);
  t.extras_left_out = !t.report.note.empty();
  if (by_keys_) return PrepareTableByKeys(t);
  const TargetTable& tt = *src.mapping->target;
  auto schema = mysql::ReadTableSchema(*main_.target, tt.db, tt.table);
  if (!schema.ok()) {
    if (schema.status().code() != StatusCode::kNotFound) return schema.status();
    t.report.error = fmt::format(
        "target table `{}`.`{}` does not exist (check cannot create it; run the pipeline or "
        "create it)",
        tt.db, tt.table);
    return Status::Ok();
  }
  const TableSchema& ts = **schema;
  std::vector<uint32_t> columns;
  for (const std::string& name : tt.columns) {
    auto it = std::find_if(ts.columns.begin(), ts.columns.end(),
                           [&](const ColumnMeta& c) { return EqualsIgnoreCase(c.name, name); });
    if (it == ts.columns.end()) {
      t.report.error = fmt::format("target table `{}`.`{}` has no column `{}`", tt.db, tt.table, name);
      return Status::Ok();
    }
    columns.push_back(static_cast<uint32_t>(it - ts.columns.begin()));
  }
  std::vector<uint32_t> key;
  for (uint32_t k : tt.key) key.push_back(columns[k]);
  // Checksums compare printed values: only worth it when both sides print
  // every column alike (same types), and never with a filter the server
  // would not apply the same way.
  // A merged table's checksum is its members' together: each must print alike.
  bool comparable = true;
  for (const SourcePlan* m : t.members) {
    comparable = comparable && !m->mapping->filter.has_value();
    for (size_t i = 0; comparable && i < columns.size(); ++i) {
      const ColumnMeta& a = m->schema->columns[m->mapping->source_index[i]];
      const ColumnMeta& b = ts.columns[columns[i]];
      comparable = a.type == b.type && a.real_type == b.real_type && a.meta == b.meta &&
                   a.is_unsigned == b.is_unsigned && a.charset == b.charset && a.nullable == b.nullable &&
                   mysql::KindForColumn(a) == mysql::KindForColumn(b);
    }
  }
  t.use_checksum = comparable;
  t.reader = std::make_unique<TableReader>(*schema, std::move(columns), "", std::move(key));
  if (t.merged()) {
    Status st = PlanMergedChunks(t);
    if (!st.ok()) return st.WithContext("planning its chunks");
  }
  t.chunks.resize(SourceChunks(t));
  t.report.chunks = t.chunks.size();
  return Status::Ok();
}

Status TargetCheck::ForEach(const std::vector<Task>& tasks, const TaskFn& fn) {
  return ForEachOnSessions<Session, Task>(sessions_, tasks, [&](Session& s, const Task& task) {
    Status st = cancelled() ? Status::Error(StatusCode::kCancelled, "cancelled") : EnsureSession(s);
    return st.ok() ? fn(s, *task.table, task.chunk) : st;
  });
}

Result<bool> WaitUntilApplied(TargetCheckReport& report, const CheckOptions& options,
                              std::chrono::steady_clock::time_point deadline, const std::function<Result<bool>()>& reached,
                              const std::function<bool()>& cancelled) {
  std::string last_applied;
  auto last_progress = std::chrono::steady_clock::now();
  for (;;) {
    ASSIGN_OR_RETURN(bool done, reached());
    if (done) return true;
    auto now = std::chrono::steady_clock::now();
    if (report.applied_position != last_applied) {
      last_applied = report.applied_position;
      last_progress = now;
    }
    if (now >= deadline || now - last_progress >= options.stall) {
      report.caught_up = false;
      report.stalled = now < deadline;
      return false;
    }
    if (cancelled()) return Status::Error(StatusCode::kCancelled, "cancelled");
    std::this_thread::sleep_for(options.poll);
  }
}

Result<uint64_t> RepairThroughChunkTarget(std::unique_ptr<sink::ChunkTarget>& writer,
                                          const sink::SinkOptions& options, mysql::Interrupter* interrupter,
                                          const std::string& where,
                                          const std::function<Result<std::vector<SinkChange>>()>& changes,
                                          const std::function<void()>& lost) {
  Status last;
  for (int attempt = 0; attempt < kRepairAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
    if (!writer) {
      auto w = sink::OpenChunkTarget(options, interrupter);
      if (!w.ok()) return w.status().WithContext(where + ": repair");
      writer = std::move(w).value();
    }
    sink::ChunkTarget& w = *writer;
    // Begin first, read after (sink/chunk_target.h): a change the stream
    // applies meanwhile is not overwritten by an older image.
    Status st = w.BeginChunk(options.pipeline, options.target);
    uint64_t written = 0;
    if (st.ok()) {
      auto run = [&]() -> Status {
        ASSIGN_OR_RETURN(std::vector<SinkChange> writes, changes());
        if (!writes.empty()) RETURN_IF_ERROR(w.Write(writes));
        RETURN_IF_ERROR(w.Commit());
        written = writes.size();
        return Status::Ok();
      };
      st = run();
      if (!st.ok()) w.Rollback();
    }
    if (st.ok()) return written;
    last = st.WithContext(where + ": repair");
    if (!st.retryable()) return last;
    spdlog::warn("check: pipeline {} target {}: {}; retrying", options.pipeline, options.target, last.message());
    if (st.code() == StatusCode::kIoError) {  // the connection may be gone
      writer.reset();
      if (lost) lost();
    }
  }
  return last;
}

std::vector<SinkChange> RepairChanges(const TargetTablePtr& table, const std::vector<RowMismatch>& mismatches,
                                      std::span<const Value> source, std::span<const Value> target) {
  const size_t width = table->columns.size();
  const bool keyed = table->has_key();
  std::vector<SinkChange> changes;
  for (const RowMismatch& m : mismatches) {
    SinkChange ch;
    ch.table = table;
    if (m.kind == DiffKind::kExtra) {
      ch.kind = keyed ? SinkChange::Kind::kDelete : SinkChange::Kind::kDeleteExact;
      auto row = target.subspan(m.target_row * width, width);
      ch.values.assign(row.begin(), row.end());
    } else {
      ch.kind = keyed ? SinkChange::Kind::kUpsert : SinkChange::Kind::kInsert;
      auto row = source.subspan(m.source_row * width, width);
      ch.values.assign(row.begin(), row.end());
    }
    changes.push_back(std::move(ch));
  }
  return changes;
}

uint64_t TargetCheck::TotalDifferences() {
  uint64_t n = 0;
  for (auto& t : tables_) {
    std::lock_guard lock(t->mu);
    for (const ChunkState& c : t->chunks) n += c.total();
  }
  return n;
}

std::vector<TargetCheck::Task> TargetCheck::DifferingChunks() {
  std::vector<Task> tasks;
  for (auto& t : tables_) {
    std::lock_guard lock(t->mu);
    for (uint32_t c = 0; c < t->chunks.size(); ++c) {
      if (t->chunks[c].total() > 0) tasks.push_back({t.get(), c});
    }
  }
  return tasks;
}

Result<RowBlock> TargetCheck::ReadSource(Session& s, const Table& t, uint32_t chunk,
                                         const std::vector<KeyTuple>* keys) {
  if (t.merged()) {
    const KeyRange range = Range(t, chunk);
    return MembersRows(s, t.members, &range, keys);
  }
  if (keys) return t.src->reader->ReadKeys(*s.source, *keys);
  return t.src->reader->ReadRange(*s.source, t.src->Range(chunk), true);
}

Result<RowBlock> TargetCheck::ReadTarget(MysqlConnection& c, const Table& t, uint32_t chunk,
                                         const std::vector<KeyTuple>* keys) {
  if (keys) return t.reader->ReadKeys(c, *keys);
  return t.reader->ReadRange(c, Range(t, chunk), true);
}

std::optional<std::vector<KeyTuple>> TargetCheck::KeysOf(Table& t, uint32_t chunk) {
  if (!t.src->keyed()) return std::nullopt;
  std::lock_guard lock(t.mu);
  const ChunkState& st = t.chunks[chunk];
  if (!st.complete) return std::nullopt;
  std::vector<KeyTuple> keys;
  for (const RowDiff& d : st.diffs) keys.push_back(d.key);
  return keys;
}

Result<Compared> TargetCheck::Compare(const Table& t, const RowBlock& src, const RowBlock& dst) const {
  ASSIGN_OR_RETURN(Compared c, Project(t, src));
  c.mismatches = DiffRows(c.source, dst.values, t.src->width(), t.src->mapping->target->key);
  if (t.extras_left_out) LeaveOutExtras(c.mismatches);
  return c;
}

std::string ExtrasLeftOutNote(const OtherWriters& other_writer, const std::vector<std::unique_ptr<SourcePlan>>& plans,
                              const SourcePlan& plan) {
  std::string note;
  const TargetTable& tt = *plan.mapping->target;
  if (const std::string other = other_writer ? other_writer(tt.db, tt.table) : ""; !other.empty()) {
    note = fmt::format("rows only the target has are not looked for: pipeline {} writes this table too", other);
  }
  if (plan.mapping->rule == nullptr || !MergesTables(*plan.mapping->rule)) return note;
  for (const auto& shard : plans) {
    if (!shard->error.empty() && shard->table.rule == plan.table.rule) {
      return fmt::format("rows only the target has are not looked for: {}, merged into this table by the same rule, "
                         "is not checked",
                         shard->table.name());
    }
  }
  return note;
}

void LeaveOutExtras(std::vector<RowMismatch>& mismatches) {
  std::erase_if(mismatches, [](const RowMismatch& m) { return m.kind == DiffKind::kExtra; });
}

Result<Compared> TargetCheck::Project(const Table& t, const RowBlock& src) const {
  if (!t.merged()) return ProjectPlan(*t.src, src);
  Compared c;
  c.source = src.values;
  for (size_t i = 0; i < src.rows(); ++i) c.source_rows.push_back(static_cast<uint32_t>(i));
  return c;
}

Result<Compared> TargetCheck::ProjectPlan(const SourcePlan& plan, const RowBlock& src) {
  const size_t width = plan.width();
  Compared c;
  c.source.reserve(src.rows() * width);
  c.source_rows.reserve(src.rows());
  std::vector<Value> full;
  for (size_t i = 0; i < src.rows(); ++i) {
    auto row = src.row(i);
    if (plan.mapping->filter) {
      full.assign(row.begin(), row.end());
      ASSIGN_OR_RETURN(bool in, transform::Matches(*plan.mapping->filter, full));
      if (!in) continue;
    }
    if (plan.identity) {
      c.source.insert(c.source.end(), row.begin(), row.end());
    } else {
      for (uint32_t p : plan.projection) c.source.push_back(row[p]);
    }
    c.source_rows.push_back(static_cast<uint32_t>(i));
  }
  return c;
}

ChunkState TargetCheck::ToState(const Table& t, uint32_t chunk, const Compared& c, const RowBlock& src,
                                const RowBlock& dst) const {
  const TargetTable& tt = *t.src->mapping->target;
  const size_t width = tt.columns.size();
  std::vector<std::string> key_names;
  for (uint32_t k : tt.key) key_names.push_back(tt.columns[k]);
  ChunkState st;
  st.rows = c.source_rows.size();
  std::vector<Value> key_values;
  for (const RowMismatch& m : c.mismatches) {
    RowDiff d;
    d.kind = m.kind;
    d.chunk = chunk;
    std::span<const Value> row = m.source_row >= 0
                                     ? std::span<const Value>(c.source).subspan(m.source_row * width, width)
                                     : dst.row(static_cast<size_t>(m.target_row));
    if (tt.has_key()) {
      key_values.clear();
      for (uint32_t k : tt.key) key_values.push_back(row[k]);
      d.key_text = DescribeRowKey(key_names, key_values);
      d.key_json = RowKeyJson(key_names, key_values);
      if (m.source_row >= 0 && c.source_rows[m.source_row] < src.keys.size()) {
        d.key = src.keys[c.source_rows[m.source_row]];
      } else if (m.target_row >= 0 && static_cast<size_t>(m.target_row) < dst.keys.size()) {
        d.key = dst.keys[m.target_row];
      }
    } else {
      d.key_text = DescribeRowKey(tt.columns, row);
      d.key_json = RowKeyJson(tt.columns, row);
    }
    ++st.counts[static_cast<int>(m.kind) - 1];
    st.diffs.push_back(std::move(d));
  }
  return st;
}

void TargetCheck::Store(Table& t, uint32_t chunk, ChunkState st) {
  std::lock_guard lock(t.mu);
  ChunkState& slot = t.chunks[chunk];
  t.kept -= slot.diffs.size();
  size_t room = t.kept < options_.max_keys ? options_.max_keys - t.kept : 0;
  if (st.diffs.size() > room) {
    st.diffs.erase(st.diffs.begin() + static_cast<ptrdiff_t>(room), st.diffs.end());
    st.complete = false;
  }
  t.kept += st.diffs.size();
  slot = std::move(st);
}

Result<std::optional<std::vector<KeyTuple>>> TargetCheck::SuspectKeys(Session& s, const Table& t, uint32_t chunk,
                                                                      uint64_t* rows) {
  const KeyRange range = Range(t, chunk);
  Result<std::vector<mysql::RowCrc>> a = std::vector<mysql::RowCrc>();
  for (const SourcePlan* m : t.members) {
    auto part = m->reader->RowCrcs(*s.source, range);
    if (!part.ok()) return part.status().WithContext(Where(t, chunk) + ": source " + m->table.name());
    for (mysql::RowCrc& row : *part) a->push_back(std::move(row));
  }
  auto b = t.reader->RowCrcs(*s.target, range);
  if (!b.ok()) return b.status().WithContext(Where(t, chunk) + ": target");
  *rows = a->size();
  // Both sides print keys alike (same column types): match them as text.
  auto encode = [](const KeyTuple& key) {
    std::string out;
    for (const auto& part : key) {
      if (!part.text) {
        out += '\0';
        continue;
      }
      out += '\1';
      uint32_t n = static_cast<uint32_t>(part.text->size());
      out.append(reinterpret_cast<const char*>(&n), 4);
      out += *part.text;
    }
    return out;
  };
  std::unordered_map<std::string, std::pair<uint32_t, size_t>> target;  // key -> (crc, row)
  target.reserve(b->size());
  for (size_t i = 0; i < b->size(); ++i) target.emplace(encode((*b)[i].key), std::make_pair((*b)[i].crc, i));
  std::vector<char> matched(b->size(), 0);
  std::vector<KeyTuple> suspects;
  const size_t limit = std::max<size_t>(1000, a->size() / 4);
  for (auto& row : *a) {
    auto it = target.find(encode(row.key));
    if (it != target.end()) {
      matched[it->second.second] = 1;
      if (it->second.first == row.crc) continue;
    }
    suspects.push_back(std::move(row.key));
    if (suspects.size() > limit) return std::optional<std::vector<KeyTuple>>();  // cheaper to read the range
  }
  for (size_t i = 0; i < b->size(); ++i) {
    if (matched[i]) continue;
    suspects.push_back(std::move((*b)[i].key));
    if (suspects.size() > limit) return std::optional<std::vector<KeyTuple>>();
  }
  // No suspect although the checksums differ: a row changed between the
  // queries; read the range.
  if (suspects.empty()) return std::optional<std::vector<KeyTuple>>();
  return std::optional<std::vector<KeyTuple>>(std::move(suspects));
}

Status TargetCheck::CompareChunk(Session& s, Table& t, uint32_t chunk) {
  if (by_keys_) return CompareChunkByKeys(s, t, chunk);
  const KeyRange range = Range(t, chunk);
  if (t.use_checksum) {
    // The aggregates do not depend on the order of the rows: the members'
    // together are those of their union.
    Result<mysql::RangeChecksum> a = mysql::RangeChecksum();
    for (const SourcePlan* m : t.members) {
      auto part = m->reader->Checksum(*s.source, range);
      if (!part.ok()) return part.status().WithContext(Where(t, chunk) + ": source " + m->table.name());
      a->rows += part->rows;
      a->crc_xor ^= part->crc_xor;
      a->crc_sum += part->crc_sum;
    }
    auto b = t.reader->Checksum(*s.target, range);
    if (!b.ok()) return b.status().WithContext(Where(t, chunk) + ": target");
    if (*a == *b) {
      ChunkState st;
      st.rows = a->rows;
      Store(t, chunk, std::move(st));
      return Status::Ok();
    }
    if (t.src->keyed()) {
      // Narrow the chunk down to the rows whose CRCs differ, then read only those.
      uint64_t rows = 0;
      ASSIGN_OR_RETURN(auto suspects, SuspectKeys(s, t, chunk, &rows));
      if (suspects) {
        auto src = ReadSource(s, t, chunk, &*suspects);
        if (!src.ok()) return src.status().WithContext(Where(t, chunk) + ": source");
        auto dst = ReadTarget(*s.target, t, chunk, &*suspects);
        if (!dst.ok()) return dst.status().WithContext(Where(t, chunk) + ": target");
        auto c = Compare(t, *src, *dst);
        if (!c.ok()) return c.status().WithContext(Where(t, chunk));
        ChunkState st = ToState(t, chunk, *c, *src, *dst);
        st.rows = rows;
        Store(t, chunk, std::move(st));
        return Status::Ok();
      }
    }
  }
  auto src = ReadSource(s, t, chunk, nullptr);
  if (!src.ok()) return src.status().WithContext(Where(t, chunk) + ": source");
  auto dst = ReadTarget(*s.target, t, chunk, nullptr);
  if (!dst.ok()) return dst.status().WithContext(Where(t, chunk) + ": target");
  auto c = Compare(t, *src, *dst);
  if (!c.ok()) return c.status().WithContext(Where(t, chunk));
  Store(t, chunk, ToState(t, chunk, *c, *src, *dst));
  return Status::Ok();
}

Status TargetCheck::RecheckChunk(Session& s, Table& t, uint32_t chunk) {
  if (by_keys_) return RecheckChunkByKeys(s, t, chunk);
  auto keys = KeysOf(t, chunk);
  const std::vector<KeyTuple>* by_keys = keys ? &*keys : nullptr;
  auto src = ReadSource(s, t, chunk, by_keys);
  if (!src.ok()) return src.status().WithContext(Where(t, chunk) + ": source");
  auto dst = ReadTarget(*s.target, t, chunk, by_keys);
  if (!dst.ok()) return dst.status().WithContext(Where(t, chunk) + ": target");
  auto c = Compare(t, *src, *dst);
  if (!c.ok()) return c.status().WithContext(Where(t, chunk));
  ChunkState st = ToState(t, chunk, *c, *src, *dst);
  if (by_keys) {
    std::lock_guard lock(t.mu);
    st.rows = t.chunks[chunk].rows;  // only some keys were read again
  }
  Store(t, chunk, std::move(st));
  return Status::Ok();
}

Status TargetCheck::Settle(TargetCheckReport& report) {
  if (!report.has_checkpoint) return Status::Ok();
  const auto deadline = std::chrono::steady_clock::now() + options_.wait;
  for (int round = 0; round < kSettleRounds; ++round) {
    std::vector<Task> tasks = DifferingChunks();
    if (tasks.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(report.source_position, SourcePosition());
    ASSIGN_OR_RETURN(bool applied, WaitUntilApplied(
                                       report, options_, deadline,
                                       [&] { return Reached(report, report.source_position); },
                                       [this] { return cancelled(); }));
    if (!applied) return Status::Ok();
    report.caught_up = true;
    RETURN_IF_ERROR(ForEach(tasks, [this](Session& s, Table& t, uint32_t c) { return RecheckChunk(s, t, c); }));
  }
  return Status::Ok();
}

Status TargetCheck::RepairChunk(Session& s, Table& t, uint32_t chunk) {
  if (by_keys_) return RepairChunkByKeys(s, t, chunk);
  auto keys = KeysOf(t, chunk);
  const std::vector<KeyTuple>* by_keys = keys ? &*keys : nullptr;
  const TargetTablePtr& table = t.src->mapping->target;
  Status last;
  for (int attempt = 0; attempt < kRepairAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
    if (!s.writer) {
      auto w = ChunkWriter::Open(target_options_, options_.interrupter);
      if (!w.ok()) return w.status();
      s.writer = std::move(w).value();
    }
    ChunkWriter& w = *s.writer;
    // Lock first, read after: the stream cannot commit a change the rows we
    // write would predate (see ChunkWriter).
    Status st = w.BeginChunk(p_.name, target_);
    uint64_t written = 0;
    if (st.ok()) {
      auto run = [&]() -> Status {
        auto src = ReadSource(s, t, chunk, by_keys);
        if (!src.ok()) return src.status().WithContext("source");
        auto dst = ReadTarget(w.connection(), t, chunk, by_keys);
        if (!dst.ok()) return dst.status().WithContext("target");
        ASSIGN_OR_RETURN(Compared c, Compare(t, *src, *dst));
        std::vector<SinkChange> changes = RepairChanges(table, c.mismatches, c.source, dst->values);
        RETURN_IF_ERROR(w.Write(changes));
        RETURN_IF_ERROR(w.Commit());
        written = changes.size();
        return Status::Ok();
      };
      st = run();
      if (!st.ok()) w.Rollback();
    }
    if (st.ok()) {
      std::lock_guard lock(t.mu);
      t.report.repaired_rows += written;
      return Status::Ok();
    }
    last = st.WithContext(Where(t, chunk) + ": repair");
    if (!st.retryable()) return last;
    spdlog::warn("check: pipeline {} target {}: {}; retrying", p_.name, target_, last.message());
    if (st.code() == StatusCode::kIoError) s.writer.reset();  // the connection may be gone
  }
  return last;
}

Status TargetCheck::Repair(TargetCheckReport& report) {
  std::vector<Task> tasks = DifferingChunks();
  if (tasks.empty()) return Status::Ok();
  report.repair_ran = true;
  if (by_keys_) {
    if (!main_.chunks) {
      return Status::Error(StatusCode::kNotSupported, "{}:// targets cannot be repaired yet (check only)",
                           sink_options_.url.scheme);
    }
    RETURN_IF_ERROR(main_.chunks->EnsureTables());
  } else {
    RETURN_IF_ERROR(main_.writer->EnsureTables());
  }
  RETURN_IF_ERROR(ForEach(tasks, [this](Session& s, Table& t, uint32_t c) { return RepairChunk(s, t, c); }));
  RETURN_IF_ERROR(ForEach(tasks, [this](Session& s, Table& t, uint32_t c) { return CompareChunk(s, t, c); }));
  return Settle(report);
}

void SummarizeChunks(const std::vector<ChunkState>& chunks, bool remaining, TableCheckReport& r, size_t max_keys) {
  uint64_t counts[3] = {0, 0, 0};
  std::vector<RowDiff> diffs;
  uint64_t rows = 0;
  for (const ChunkState& c : chunks) {
    for (int k = 0; k < 3; ++k) counts[k] += c.counts[k];
    for (const RowDiff& d : c.diffs) {
      if (diffs.size() < max_keys) diffs.push_back(d);
    }
    rows += c.rows;
  }
  if (remaining) {
    r.remaining = counts[0] + counts[1] + counts[2];
    r.remaining_diffs = std::move(diffs);
    return;
  }
  r.rows = rows;
  r.missing = counts[0];
  r.extra = counts[1];
  r.different = counts[2];
  r.keys_truncated = diffs.size() < counts[0] + counts[1] + counts[2];
  r.diffs = std::move(diffs);
}

void TargetCheck::Summarize(Table& t, bool remaining) {
  std::lock_guard lock(t.mu);
  SummarizeChunks(t.chunks, remaining, t.report);
}

Result<std::string> TargetCheck::AppliedPosition() {
  if (main_.writer) return main_.writer->AppliedPosition(p_.name, target_);
  if (main_.chunks) return main_.chunks->AppliedPosition(p_.name, target_);
  return std::string();
}

std::string NotCheckedThroughScript(const SourceTable& table) {
  if (table.rule == nullptr || !table.rule->lua) return "";
  return fmt::format(
      "not checked: its rule transforms rows with the Lua script {} (transform: {{lua: ...}}), and check does not "
      "compare through scripts; to copy it again through the script, run `sluice snapshot`",
      table.rule->lua->name);
}

Result<std::string> TargetCheck::SourcePosition() {
  if (source_.pg) return PgWalPosition(*main_.pg_source);
  return mysql::ConsistentBinlogPosition(*main_.source);
}

Result<bool> TargetCheck::Reached(TargetCheckReport& report, const std::string& wanted) {
  ASSIGN_OR_RETURN(report.applied_position, AppliedPosition());
  if (PositionReached(report.applied_position, wanted)) return true;
  if (source_.pg) return PgSlotConfirmed(*main_.pg_source, source_.slot, wanted);
  return false;
}

Result<TargetCheckReport> TargetCheck::Run() {
  TargetCheckReport report;
  report.pipeline = p_.name;
  report.target = target_;
  RETURN_IF_ERROR(EnsureSession(main_));
  if (by_keys_) {
    // Settling and repairs go through the kind's ChunkTarget; a kind without
    // one yet is compared only, and cannot wait for changes in flight.
    auto chunks = sink::OpenChunkTarget(sink_options_, options_.interrupter);
    if (chunks.ok()) {
      main_.chunks = std::move(chunks).value();
    } else if (chunks.status().code() != StatusCode::kNotSupported) {
      return chunks.status();
    } else {
      spdlog::warn("check: pipeline {} target {}: {}:// cannot tell its applied position yet: changes in flight may "
                   "show as differences",
                   p_.name, target_, sink_options_.url.scheme);
    }
  } else {
    ASSIGN_OR_RETURN(main_.writer, ChunkWriter::Open(target_options_, options_.interrupter));
  }
  ASSIGN_OR_RETURN(report.applied_position, AppliedPosition());
  report.has_checkpoint = !report.applied_position.empty();

  std::vector<Task> tasks;
  GroupByTargetTable();
  for (auto& t : tables_) {
    Status st = PrepareTable(*t);
    if (!st.ok()) return st.WithContext(fmt::format("table {} -> {}", t->report.source, t->src->target_name));
    for (uint32_t c = 0; c < t->chunks.size(); ++c) tasks.push_back({t.get(), c});
  }
  auto t0 = std::chrono::steady_clock::now();
  auto ms_since = [](auto t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count();
  };
  RETURN_IF_ERROR(ForEach(tasks, [this](Session& s, Table& t, uint32_t c) { return CompareChunk(s, t, c); }));
  const uint64_t first = TotalDifferences();
  spdlog::debug("check: pipeline {} target {}: {} chunks compared in {} ms, {} differences", p_.name, target_,
                tasks.size(), ms_since(t0), first);
  t0 = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(Settle(report));
  const uint64_t settled = TotalDifferences();
  if (report.has_checkpoint && first > 0) {
    spdlog::debug("check: pipeline {} target {}: settled in {} ms, {} differences left", p_.name, target_, ms_since(t0),
                  settled);
  }
  report.in_flight = first > settled ? first - settled : 0;
  for (auto& t : tables_) Summarize(*t, false);
  if (options_.repair) {
    RETURN_IF_ERROR(Repair(report));
    for (auto& t : tables_) Summarize(*t, true);
  }
  for (auto& t : tables_) report.tables.push_back(std::move(t->report));
  return report;
}

}  // namespace detail

Result<CheckReport> RunCheck(const Config& config, const PipelineConfig& p, const CheckOptions& options,
                             std::atomic<bool>* cancel) {
  const SourceConfig* source = config.FindSource(p.source);
  if (source == nullptr) return Status::Invalid("pipeline {}: no source named \"{}\"", p.name, p.source);
  if (IsPostgresSource(*source)) return detail::RunPostgresCheck(config, p, *source, options, cancel);
  auto source_options = ConnectOptions::FromUrl(source->endpoint);
  if (!source_options.ok()) return source_options.status().WithContext(fmt::format("pipeline {}: source", p.name));
  *source_options = mysql::WithDefaultTimeouts(*source_options, mysql::kJobIoTimeoutS);
  const uint64_t chunk_rows = options.chunk_rows ? options.chunk_rows : p.chunk_rows;
  const uint32_t parallel = options.parallel ? options.parallel : p.parallel;
  auto cancelled = [cancel] { return cancel != nullptr && cancel->load(); };

  auto source_conn = OpenReader(*source_options, options.interrupter);
  if (!source_conn.ok()) return source_conn.status().WithContext(fmt::format("pipeline {}: source", p.name));
  MysqlConnection& src = **source_conn;
  ASSIGN_OR_RETURN(auto mapper, transform::TableMapper::Create(MappingRules(p)));
  auto selected = SelectedTables(src, p);
  if (!selected.ok()) return selected.status().WithContext(fmt::format("pipeline {}: source", p.name));
  if (!options.only_targets_of.empty()) *selected = FeedingTargetsOf(std::move(*selected), options.only_targets_of);

  // The source side of every table, planned once for all targets.
  std::vector<std::unique_ptr<SourcePlan>> plans;
  for (const SourceTable& table : *selected) {
    if (cancelled()) return Status::Error(StatusCode::kCancelled, "cancelled");
    auto plan = std::make_unique<SourcePlan>();
    plan->table = table;
    plan->target_name = table.name();
    auto where = [&] { return fmt::format("pipeline {}: table {}", p.name, table.name()); };
    auto schema = mysql::ReadTableSchema(src, table.db, table.table);
    if (!schema.ok()) return schema.status().WithContext(where());
    plan->schema = *schema;
    plan->error = NotCheckedThroughScript(table);
    if (!plan->error.empty()) {
      plans.push_back(std::move(plan));
      continue;
    }
    auto mapping = mapper->Map(plan->schema);
    if (!mapping.ok()) {
      plan->error = mapping.status().message();
      plans.push_back(std::move(plan));
      continue;
    }
    plan->mapping = *mapping;
    const TargetTable& tt = *plan->mapping->target;
    plan->target_name = tt.db + "." + tt.table;
    std::vector<uint32_t> columns;
    if (plan->mapping->filter) {
      plan->identity = false;  // every column (the filter may read any), projected after
      plan->projection = plan->mapping->source_index;
    } else {
      columns = plan->mapping->source_index;
    }
    plan->reader = std::make_unique<TableReader>(plan->schema, std::move(columns), "");
    if (plan->keyed()) {
      auto t0 = std::chrono::steady_clock::now();
      auto by_value = PlanIntegerChunks(src, *plan->reader, chunk_rows);
      if (!by_value.ok()) return by_value.status().WithContext(where());
      if (*by_value) {
        plan->bounds = std::move(**by_value);
      } else {
        auto bounds = plan->reader->PlanChunks(src, chunk_rows, cancelled);
        if (!bounds.ok()) return bounds.status().WithContext(where());
        plan->bounds = std::move(bounds).value();
      }
      spdlog::debug(
          "check: pipeline {}: table {}: {} chunks planned in {} ms", p.name, table.name(), plan->bounds.size() + 1,
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
    }
    plans.push_back(std::move(plan));
  }

  CheckReport report;
  for (const std::string& name : p.targets) {
    auto where = fmt::format("pipeline {} target {}", p.name, name);
    const TargetConfig* target = config.FindTarget(name);
    if (target == nullptr) return Status::Invalid("{}: no such target", where);
    if (!sink::SupportsCheck(target->endpoint.scheme)) {
      return Status::Error(StatusCode::kNotSupported, "{}: {}:// targets cannot be checked (their rows cannot be read back)",
                           where, target->endpoint.scheme);
    }
    std::optional<ConnectOptions> mysql_options;
    if (IsMysqlScheme(target->endpoint.scheme)) {
      auto target_options = ConnectOptions::FromUrl(target->endpoint);
      if (!target_options.ok()) return target_options.status().WithContext(where);
      mysql_options = mysql::WithDefaultTimeouts(*target_options, mysql::kJobIoTimeoutS);
    }
    TargetCheck check(p, name, CheckSource{*source_options, std::nullopt, ""}, mysql_options,
                      TargetSinkOptions(p, *target), options, parallel, plans, cancel);
    check.SetOtherWriter(OtherWritersOf(config, p, name));
    auto r = check.Run();
    if (!r.ok()) return r.status().WithContext(where);
    report.targets.push_back(std::move(r).value());
  }
  return report;
}

}  // namespace sluice::pipeline
