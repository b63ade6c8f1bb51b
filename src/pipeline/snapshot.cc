#include "pipeline/snapshot.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>
#include <strings.h>

#include <algorithm>
#include <map>
#include <thread>

#include "core/resume_position.h"
#include "core/sync_point.h"
#include "pipeline/snapshot_source.h"
#include "pipeline/table_set.h"
#include "sink/chunk_target.h"
#include "sink/registry.h"
#include "client/mysql/connection.h"
#include "client/mysql/table_reader.h"
#include "transform/table_mapper.h"

namespace sluice::pipeline {

using sink::ChunkRecord;
using sink::ChunkTarget;
using sluice::mysql::KeyPart;
using sluice::mysql::KeyRange;
using sluice::mysql::KeyTuple;
using sluice::mysql::MysqlConnection;
using sluice::mysql::TableReader;

namespace {

std::string EncodeKey(const std::optional<KeyTuple>& key) {
  if (!key) return "";
  nlohmann::json a = nlohmann::json::array();
  for (const KeyPart& p : *key) {
    if (!p.text) {
      a.push_back(nullptr);
    } else if (p.binary) {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string hex;
      for (unsigned char ch : *p.text) {
        hex += kHex[ch >> 4];
        hex += kHex[ch & 15];
      }
      a.push_back({{"x", hex}});
    } else {
      a.push_back(*p.text);
    }
  }
  return a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::optional<KeyTuple>> DecodeKey(const std::string& text) {
  if (text.empty()) return std::optional<KeyTuple>();
  nlohmann::json a = nlohmann::json::parse(text, nullptr, false);
  if (!a.is_array()) return Status::Corruption("bad chunk bound {} in `_sluice`.`snapshot_chunks`", text);
  KeyTuple key;
  for (const auto& p : a) {
    if (p.is_null()) {
      key.push_back(KeyPart{std::nullopt, false});
    } else if (p.is_object() && p.contains("x")) {
      std::string hex = p["x"].get<std::string>(), bytes;
      for (size_t i = 0; i + 1 < hex.size(); i += 2)
        bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
      key.push_back(KeyPart{bytes, true});
    } else if (p.is_string()) {
      key.push_back(KeyPart{p.get<std::string>(), false});
    } else {
      return Status::Corruption("bad chunk bound {} in `_sluice`.`snapshot_chunks`", text);
    }
  }
  return std::optional<KeyTuple>(std::move(key));
}

std::string CombineWhere(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return "(" + a + ") AND (" + b + ")";
}

Result<std::unique_ptr<ChunkTarget>> OpenTarget(const PipelineConfig& p, const TargetConfig& t,
                                                sluice::mysql::Interrupter* interrupt) {
  return sink::OpenChunkTarget(TargetSinkOptions(p, t), interrupt);
}

}  // namespace

struct Snapshot::Table {
  SourceTable source;
  TableSchemaPtr schema;
  const transform::TableMapping* mapping = nullptr;
  std::unique_ptr<detail::SourceTableReader> reader;
  std::string shard;  // the SQL condition of this copy ("" for the whole table)
  std::atomic<uint64_t> rows_copied{0};
  std::atomic<uint32_t> chunks_done{0};
  uint32_t chunks_total = 0;
  uint64_t rows_estimate = 0;
  uint64_t rows_before = 0;  // copied by an earlier, interrupted run
  std::string read_at;       // a keyless table copied in this run: where its read saw the source
  // Per target: a keyless table whose target table holds other source
  // tables' rows too (shards merged by the rules, another pipeline's): its
  // copy adds its rows without emptying the target table first.
  std::vector<bool> keeps_target_rows;
};

struct Snapshot::Chunk {
  size_t table = 0;
  uint32_t number = 0;
  KeyRange range;
  std::string after, upto;   // as recorded
  std::vector<bool> needed;  // per target: not done yet
};

class Snapshot::Worker {
 public:
  std::unique_ptr<detail::SourceSession> source;
  std::vector<std::unique_ptr<ChunkTarget>> targets;  // per pipeline target, same order
  // Tables whose rule has `transform: {lua: FILE}`: this worker's own
  // mapper, so its own Lua state (a state serves one thread).
  std::unique_ptr<transform::TableMapper> scripted;
};

Snapshot::Snapshot(const Config& config, const PipelineConfig& pipeline, SnapshotOptions options)
    : config_(config), cfg_(pipeline), options_(std::move(options)) {
  if (options_.parallel == 0) options_.parallel = cfg_.parallel;
}

Snapshot::~Snapshot() = default;

SnapshotProgress Snapshot::progress() const {
  std::lock_guard lock(mu_);
  SnapshotProgress p = progress_;
  bool copying = p.phase == "copying";
  auto until = copying ? std::chrono::steady_clock::now() : finished_;
  double elapsed = std::chrono::duration<double>(until - started_).count();
  p.rows_copied = 0;
  p.tables.clear();
  for (const auto& t : tables_) {
    SnapshotTableProgress tp;
    tp.source = t->source.name();
    tp.target = t->mapping->target->db + "." + t->mapping->target->table;
    tp.rows_copied = t->rows_copied.load();
    tp.rows_estimate = std::max(t->rows_estimate, tp.rows_copied);
    tp.chunks_done = t->chunks_done.load();
    tp.chunks_total = t->chunks_total;
    tp.finished = tp.chunks_done >= tp.chunks_total && p.phase != "planning";
    if (tp.finished) tp.rows_estimate = tp.rows_copied;
    uint64_t this_run = tp.rows_copied - std::min(tp.rows_copied, t->rows_before);
    if (elapsed > 0.05 && (copying || p.phase == "done")) tp.rows_per_second = static_cast<double>(this_run) / elapsed;
    if (tp.finished) {
      tp.eta_seconds = 0;
    } else if (tp.rows_per_second > 0) {
      tp.eta_seconds = static_cast<double>(tp.rows_estimate - tp.rows_copied) / tp.rows_per_second;
    }
    p.rows_copied += tp.rows_copied;
    p.tables.push_back(std::move(tp));
  }
  return p;
}

Result<std::vector<std::string>> Snapshot::TargetsToCopy(const Config& config, const PipelineConfig& p,
                                                         const std::vector<std::string>& former_targets,
                                                         sluice::mysql::Interrupter* interrupt) {
  // Only the copies `snapshot: initial` makes itself (whole tables, or a
  // rule's snapshot_where): a `sluice snapshot --where` shard abandoned
  // half-way is the user's to finish, not a reason to copy everything.
  std::vector<std::string> shards{""};
  for (const TableRule& r : p.tables) {
    if (!r.snapshot_where.empty()) shards.push_back(r.snapshot_where);
  }
  std::vector<std::string> to_copy;
  for (const std::string& name : p.targets) {
    const TargetConfig* t = config.FindTarget(name);
    if (t == nullptr) return Status::Invalid("pipeline {}: unknown target {}", p.name, name);
    ASSIGN_OR_RETURN(auto w, OpenTarget(p, *t, interrupt));
    RETURN_IF_ERROR(w->EnsureTables());
    RETURN_IF_ERROR(w->TakeOverRenamedTarget(p.name, name, former_targets));
    ASSIGN_OR_RETURN(std::string applied, w->AppliedPosition(p.name, name));
    bool copy = applied.empty();
    if (!copy) {
      ASSIGN_OR_RETURN(copy, w->HasUnfinishedPlan(p.name, name, shards));
    }
    if (copy) to_copy.push_back(name);
  }
  return to_copy;
}

Result<std::map<std::string, StreamPos>> Snapshot::KeylessReadAt() const {
  std::map<std::string, StreamPos> out;
  for (const auto& t : tables_) {
    if (t->read_at.empty()) continue;
    ASSIGN_OR_RETURN(out[t->source.name()], StreamPosAtResume(t->read_at));
  }
  return out;
}

void Snapshot::Cancel() {
  {
    std::lock_guard lock(cancel_mu_);
    cancel_ = true;
  }
  cancel_cv_.notify_all();
}

Status Snapshot::Run() {
  started_ = std::chrono::steady_clock::now();
  // After a Cancel, the chunks in flight get a moment to finish (they are
  // recorded done); whatever still waits on a server then is cut, so that a
  // hung server cannot hold a stop.
  constexpr auto kCancelGrace = std::chrono::seconds(2);
  std::thread watchdog([this, kCancelGrace] {
    std::unique_lock lock(cancel_mu_);
    cancel_cv_.wait(lock, [this] { return cancel_ || run_done_; });
    if (!cancel_cv_.wait_for(lock, kCancelGrace, [this] { return run_done_; })) interrupt_.Interrupt();
  });
  Status st = RunSteps();
  {
    std::lock_guard lock(cancel_mu_);
    run_done_ = true;
  }
  cancel_cv_.notify_all();
  watchdog.join();
  return st;
}

Status Snapshot::RunSteps() {
  // Planning and finishing are retried like a chunk when a server is lost
  // (restarted, hung past the read timeout): a plan already recorded is
  // resumed, the finish is idempotent.
  auto with_retries = [this](const char* what, const std::function<Status()>& step) {
    Status st;
    for (uint32_t attempt = 0;; ++attempt) {
      st = step();
      // A server unreachable from the start is a mistake to report, not wait out.
      if (st.ok() || !st.retryable() || !connected_ || cancel_ || attempt >= options_.max_retries) break;
      auto delay = std::chrono::milliseconds(std::min<int64_t>(5000, 100LL << std::min<uint32_t>(attempt + 1, 6)));
      spdlog::warn("pipeline {}: snapshot {}: {} (attempt {}, retrying in {} ms)", cfg_.name, what, st.message(),
                   attempt + 1, delay.count());
      for (auto until = std::chrono::steady_clock::now() + delay; !cancel_ && std::chrono::steady_clock::now() < until;)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!st.ok() && cancel_) return Status::Error(StatusCode::kCancelled, "pipeline {}: snapshot cancelled", cfg_.name);
    return st;
  };
  Status st = with_retries("planning", [this] {
    {
      std::lock_guard lock(mu_);
      tables_.clear();
    }
    chunks_.clear();
    return Prepare();
  });
  if (st.ok()) st = CopyAll();
  if (st.ok()) st = with_retries("finishing", [this] { return Finish(); });
  source_.reset();  // what the source held for the copy (a PostgreSQL slot's exported snapshot) ends here
  std::lock_guard lock(mu_);
  finished_ = std::chrono::steady_clock::now();
  if (st.ok()) {
    progress_.phase = "done";
  } else if (st.code() == StatusCode::kCancelled) {
    progress_.phase = "cancelled";
  } else {
    progress_.phase = "failed";
    progress_.error = st.message();
  }
  return st;
}

namespace {

// The target table's columns `t` does not map that a row without them cannot
// be written to (NOT NULL, no default, neither generated nor AUTO_INCREMENT),
// made NULL-able with their type, collation and comment kept; their names.
Result<std::vector<std::string>> RelaxUnmappedColumns(const TargetConfig& target, const TargetTable& t) {
  ASSIGN_OR_RETURN(auto co, sluice::mysql::ConnectOptions::FromUrl(target.endpoint));
  ASSIGN_OR_RETURN(auto conn, MysqlConnection::Connect(co));
  ASSIGN_OR_RETURN(auto rows, conn->Query(fmt::format(
                                  "SELECT COLUMN_NAME, COLUMN_TYPE, COLLATION_NAME, COLUMN_COMMENT FROM "
                                  "information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{}' AND "
                                  "IS_NULLABLE = 'NO' AND COLUMN_DEFAULT IS NULL AND EXTRA NOT LIKE '%auto_increment%' "
                                  "AND EXTRA NOT LIKE '%GENERATED%' ORDER BY ORDINAL_POSITION",
                                  conn->Escape(t.db), conn->Escape(t.table))));
  std::vector<std::string> relaxed;
  std::string alter;
  for (const auto& r : rows) {
    const std::string name = r[0].value_or("");
    if (std::any_of(t.columns.begin(), t.columns.end(),
                    [&](const std::string& c) { return strcasecmp(c.c_str(), name.c_str()) == 0; })) {
      continue;
    }
    alter += fmt::format("{}MODIFY COLUMN {} {}{} NULL{}", alter.empty() ? "" : ", ", mysql::QuoteIdent(name),
                         r[1].value_or("text"), r[2] ? " COLLATE " + *r[2] : "",
                         r[3] && !r[3]->empty() ? " COMMENT '" + conn->Escape(*r[3]) + "'" : "");
    relaxed.push_back("`" + name + "`");
  }
  if (!alter.empty()) {
    RETURN_IF_ERROR(conn->Execute(fmt::format("ALTER TABLE {}.{} {}", mysql::QuoteIdent(t.db),
                                              mysql::QuoteIdent(t.table), alter)));
  }
  return relaxed;
}

}  // namespace

Status EnsureMappedTargetTables(const Config& config, const PipelineConfig& p, const TargetConfig& target,
                                const std::string& only_db, const std::string& only_table, bool also_one_to_one,
                                ColumnAlignment align) {
  const SourceConfig* source_cfg = config.FindSource(p.source);
  if (source_cfg == nullptr) return Status::Invalid("unknown source {}", p.source);
  ASSIGN_OR_RETURN(auto co, sluice::mysql::ConnectOptions::FromUrl(source_cfg->endpoint));
  auto source = MysqlConnection::Connect(co);
  if (!source.ok()) return source.status().WithContext(fmt::format("source {}", p.source));
  auto w = OpenTarget(p, target, nullptr);
  if (!w.ok()) return w.status().WithContext(fmt::format("target {}", target.name));
  ASSIGN_OR_RETURN(auto selected, SelectedTables(**source, p));
  ASSIGN_OR_RETURN(auto mapper, transform::TableMapper::Create(MappingRules(p)));
  // A table's DEFAULT may take a sequence's NEXTVAL: missing ones first.
  RETURN_IF_ERROR(detail::EnsureMysqlTargetSequences(**w, **source, p, *mapper, /*set_existing=*/false)
                      .WithContext(fmt::format("target {}", target.name)));
  for (const SourceTable& st : selected) {
    if (!only_table.empty() && (st.db != only_db || st.table != only_table)) continue;
    bool plain = st.rule->to.empty() && st.rule->columns.empty() && st.rule->rename_columns.empty();
    if (plain && !also_one_to_one) continue;
    if (st.rule->lua) continue;  // the script decides the shape: its target table is the user's to create
    auto schema = sluice::mysql::ReadTableSchema(**source, st.db, st.table);
    if (!schema.ok() && schema.status().code() == StatusCode::kNotFound) continue;  // dropped meanwhile
    if (!schema.ok()) return schema.status().WithContext(fmt::format("source {}", p.source));
    ASSIGN_OR_RETURN(const transform::TableMapping* m, mapper->Map(*schema));
    if (!m->selected() || (m->one_to_one && !also_one_to_one)) continue;
    if (align != ColumnAlignment::kNone) {
      auto added = detail::AddMappedColumns(**w, **source, *m, **schema);
      if (!added.ok()) {
        return added.status().WithContext(fmt::format("target {}: adding the columns the rule of {} now maps to "
                                                      "`{}`.`{}`",
                                                      target.name, st.name(), m->target->db, m->target->table));
      }
      if (!added->empty()) {
        spdlog::info("pipeline {}: target {}: `{}`.`{}` had no column {} that the rule of {} now maps: added", p.name,
                     target.name, m->target->db, m->target->table, fmt::join(*added, ", "), st.name());
      }
    }
    if (align == ColumnAlignment::kAddMappedRelaxUnmapped && (*w)->speaks_mysql_ddl()) {
      auto relaxed = RelaxUnmappedColumns(target, *m->target);
      if (!relaxed.ok()) {
        return relaxed.status().WithContext(fmt::format("target {}: `{}`.`{}`: the columns the rule of {} no longer "
                                                        "maps", target.name, m->target->db, m->target->table,
                                                        st.name()));
      }
      if (!relaxed->empty()) {
        spdlog::warn("pipeline {}: target {}: `{}`.`{}` has column(s) {} NOT NULL without a default that the rule of "
                     "{} no longer maps: made NULL-able, so that its rows go in (earlier values kept)",
                     p.name, target.name, m->target->db, m->target->table, fmt::join(*relaxed, ", "), st.name());
      }
    }
    Status created = detail::EnsureMysqlTargetTable(**w, **source, *m, **schema);
    if (!created.ok()) {
      return created.WithContext(
          fmt::format("target {}: table `{}`.`{}` for {}", target.name, m->target->db, m->target->table, st.name()));
    }
  }
  return Status::Ok();
}

Status Snapshot::Prepare() {
  {
    std::lock_guard lock(mu_);
    progress_.phase = "planning";
  }
  if (!source_) {
    ASSIGN_OR_RETURN(source_, detail::OpenSnapshotSource(config_, cfg_, &interrupt_));
  }
  auto source = source_->Connect();
  if (!source.ok()) return source.status().WithContext(fmt::format("pipeline {}: source {}", cfg_.name, cfg_.source));
  std::vector<std::unique_ptr<ChunkTarget>> targets;
  for (const std::string& name : cfg_.targets) {
    const TargetConfig* t = config_.FindTarget(name);
    if (t == nullptr) return Status::Invalid("pipeline {}: unknown target {}", cfg_.name, name);
    auto w = OpenTarget(cfg_, *t, &interrupt_);
    if (!w.ok()) return w.status().WithContext(fmt::format("pipeline {}: target {}", cfg_.name, name));
    RETURN_IF_ERROR((*w)->EnsureTables().WithContext(fmt::format("pipeline {}: target {}", cfg_.name, name)));
    targets.push_back(std::move(*w));
  }
  connected_ = true;
  ASSIGN_OR_RETURN(mapper_, transform::TableMapper::Create(MappingRules(cfg_)));
  ASSIGN_OR_RETURN(auto selected, source_->SelectedTables(**source));
  if (selected.empty()) return Status::Invalid("pipeline {}: the table rules select no table on the source", cfg_.name);
  for (size_t ti = 0; ti < targets.size(); ++ti) {
    RETURN_IF_ERROR(source_->CopySequences(**source, *targets[ti], *mapper_)
                        .WithContext(fmt::format("pipeline {}: target {}", cfg_.name, cfg_.targets[ti])));
  }

  for (const SourceTable& st : selected) {
    std::string where = fmt::format("pipeline {}: table {}", cfg_.name, st.name());
    auto table = std::make_unique<Table>();
    table->source = st;
    ASSIGN_OR_RETURN(table->schema, source_->ReadSchema(**source, st));
    auto mapping = mapper_->Map(table->schema);
    if (!mapping.ok()) return mapping.status().WithContext(where);
    table->mapping = *mapping;
    if (!table->mapping->selected()) continue;
    table->shard = CombineWhere(st.rule ? st.rule->snapshot_where : "", options_.where_sql);
    auto reader = source_->Reader(**source, table->schema, table->shard);
    if (!reader.ok()) return reader.status().WithContext(where);
    table->reader = std::move(reader).value();
    if (!table->reader->has_key() && options_.alongside_stream) {
      return Status::Error(StatusCode::kNotSupported,
                           "{}: a table without a primary or unique key cannot be copied while the pipeline streams "
                           "(rows inserted meanwhile would land twice); give it a key, or leave it out of the "
                           "pipeline's tables",
                           where);
    }
    if (!table->reader->has_key() && !table->shard.empty()) {
      return Status::Invalid(
          "{}: a table without a primary or unique key cannot be copied in shards (--where, "
          "snapshot_where); copy it whole",
          where);
    }
    // A rule with a Lua script: the target table has the script's columns,
    // which only its rows tell; it must exist (as for the stream).
    for (size_t ti = 0; ti < targets.size() && !(st.rule != nullptr && st.rule->lua); ++ti) {
      RETURN_IF_ERROR(source_->EnsureTargetTable(**source, *targets[ti], *table->mapping, *table->schema)
                          .WithContext(fmt::format("{}: target {}", where, cfg_.targets[ti])));
    }

    // The plan: the first target's recorded one when there is one (a resumed
    // run), else a new one from the source.
    std::vector<std::vector<ChunkRecord>> recorded(targets.size());
    const std::vector<ChunkRecord>* canonical = nullptr;
    for (size_t ti = 0; ti < targets.size(); ++ti) {
      ASSIGN_OR_RETURN(recorded[ti], targets[ti]->LoadPlan(cfg_.name, cfg_.targets[ti], st.name(), table->shard));
      if (canonical == nullptr && !recorded[ti].empty()) canonical = &recorded[ti];
    }
    std::vector<ChunkRecord> plan;
    if (canonical != nullptr) {
      plan = *canonical;
      spdlog::info("pipeline {}: table {}: resuming the snapshot", cfg_.name, st.name());
    } else {
      std::vector<KeyTuple> bounds;
      if (table->reader->has_key()) {
        auto planned = table->reader->PlanChunks(**source, cfg_.chunk_rows, [this] { return cancel_.load(); });
        if (!planned.ok()) return planned.status().WithContext(where);
        bounds = std::move(*planned);
      }
      std::optional<KeyTuple> after;
      for (size_t i = 0; i <= bounds.size(); ++i) {
        ChunkRecord c;
        c.pipeline = cfg_.name;
        c.table = st.name();
        c.shard = table->shard;
        c.chunk = static_cast<uint32_t>(i);
        c.after = EncodeKey(after);
        if (i < bounds.size()) {
          c.upto = EncodeKey(bounds[i]);
          after = bounds[i];
        }
        plan.push_back(std::move(c));
      }
    }
    for (size_t ti = 0; ti < targets.size(); ++ti) {
      bool same = recorded[ti].size() == plan.size();
      for (size_t i = 0; same && i < plan.size(); ++i) {
        same = recorded[ti][i].after == plan[i].after && recorded[ti][i].upto == plan[i].upto;
      }
      if (!same) {
        std::vector<ChunkRecord> fresh = plan;
        for (auto& c : fresh) {
          c.target = cfg_.targets[ti];
          c.done = false;
          c.rows = 0;
        }
        RETURN_IF_ERROR(targets[ti]->SavePlan(fresh));
        recorded[ti] = std::move(fresh);
      }
    }
    size_t table_index = tables_.size();
    table->chunks_total = static_cast<uint32_t>(plan.size());
    for (size_t i = 0; i < plan.size(); ++i) {
      Chunk chunk;
      chunk.table = table_index;
      chunk.number = plan[i].chunk;
      chunk.after = plan[i].after;
      chunk.upto = plan[i].upto;
      ASSIGN_OR_RETURN(chunk.range.after, DecodeKey(plan[i].after));
      ASSIGN_OR_RETURN(chunk.range.upto, DecodeKey(plan[i].upto));
      bool any = false;
      uint64_t done_rows = 0;
      for (size_t ti = 0; ti < targets.size(); ++ti) {
        bool need = !recorded[ti][i].done;
        chunk.needed.push_back(need);
        any |= need;
        if (!need) done_rows = std::max(done_rows, recorded[ti][i].rows);
      }
      if (any && !table->reader->has_key()) {
        if (std::string why = source_->KeylessRefusal(st); !why.empty()) return Status::Invalid("{}: {}", where, why);
      }
      if (any) {
        chunks_.push_back(std::move(chunk));
      } else {
        table->chunks_done++;
        table->rows_copied += done_rows;
      }
    }
    table->rows_before = table->rows_copied.load();
    table->rows_estimate = table->reader->EstimateRows(**source);
    std::lock_guard lock(mu_);
    tables_.push_back(std::move(table));
  }

  RETURN_IF_ERROR(NoteSharedKeylessTargets());

  // Keyless tables first: copied whole, they are exact only when the stream
  // knows where they were read (positions_keyless_reads) or when read at the
  // start position itself, which a PostgreSQL source promises only while its
  // exported snapshot lives (pg_snapshot_source.cc).
  std::stable_partition(chunks_.begin(), chunks_.end(),
                        [this](const Chunk& c) { return !tables_[c.table]->reader->has_key(); });

  // Only now, with every plan recorded: the position streaming starts from.
  // (Recorded plans make `snapshot: initial` resume after a crash from here on.)
  ASSIGN_OR_RETURN(std::string p0, source_->StartPosition(**source));
  bool all_start_there = true;
  for (size_t ti = 0; ti < targets.size(); ++ti) {
    ASSIGN_OR_RETURN(std::string start, targets[ti]->EnsureStartPosition(cfg_.name, cfg_.targets[ti], p0));
    if (start == p0) continue;
    all_start_there = false;
    spdlog::info("pipeline {}: target {} already streams from {}; the snapshot copies alongside", cfg_.name,
                 cfg_.targets[ti], start);
    // A keyless table's copy replaces the target table with the rows as
    // of P0 at the earliest; the stream replays from `start`: what was
    // written in between lands twice unless the stream knows where the copy
    // read, which it learns when it starts. Said, not hidden.
    std::vector<std::string> keyless;
    for (const Chunk& c : chunks_) {
      const Table& t = *tables_[c.table];
      if (!t.reader->has_key() && c.needed[ti]) keyless.push_back(t.source.name());
    }
    if (keyless.empty() || (source_->positions_keyless_reads() && options_.stream_waits_for_copy)) continue;
    if (source_->positions_keyless_reads()) {
      spdlog::warn("pipeline {}: {} without a primary or unique key copied into target {}, which streams from {}: "
                   "the pipeline's next start leaves out their changes the copy holds; a `sluice run` streaming "
                   "it into {} while this copy runs would apply rows written since its start twice there (then "
                   "`sluice check --pipeline {} --repair` makes them equal)",
                   cfg_.name, fmt::join(keyless, ", "), cfg_.targets[ti], start, cfg_.targets[ti], cfg_.name);
    } else {
      spdlog::warn("pipeline {}: {} without a primary or unique key copied into target {}, which streams from {} "
                   "(an earlier position than the copy's {}): rows written to them in between may land twice there; "
                   "`sluice check --pipeline {} --repair` makes them equal",
                   cfg_.name, fmt::join(keyless, ", "), cfg_.targets[ti], start, p0, cfg_.name);
    }
  }
  if (all_start_there && options_.at_start) options_.at_start(p0);
  std::lock_guard lock(mu_);
  progress_.start_position = p0;
  progress_.phase = "copying";
  started_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

Status Snapshot::NoteSharedKeylessTargets() {
  std::map<std::string, size_t> sources_of;  // target table -> selected source tables mapped to it
  auto dest = [](const Table& t) { return t.mapping->target->db + "." + t.mapping->target->table; };
  for (const auto& t : tables_) ++sources_of[dest(*t)];
  std::vector<OtherWriters> others;
  for (const std::string& name : cfg_.targets) others.push_back(OtherWritersOf(config_, cfg_, name));
  for (const auto& t : tables_) {
    t->keeps_target_rows.assign(cfg_.targets.size(), false);
    if (t->reader->has_key()) continue;
    for (size_t ti = 0; ti < cfg_.targets.size(); ++ti) {
      std::string why;
      if (sources_of[dest(*t)] > 1) {
        why = "other source tables are merged into it";
      } else if (others[ti]) {
        const std::string other = others[ti](t->mapping->target->db, t->mapping->target->table);
        if (!other.empty()) why = fmt::format("pipeline {} writes it too", other);
      }
      if (why.empty()) continue;
      t->keeps_target_rows[ti] = true;
      spdlog::warn("pipeline {}: target {}: the table without a key {} is copied into `{}` without emptying it first "
                   "({}): rows of it the target already holds stay, so those are there twice after the copy (sluice "
                   "check lists them as extra, --repair removes them)",
                   cfg_.name, cfg_.targets[ti], t->source.name(), dest(*t), why);
    }
  }
  return Status::Ok();
}

Status Snapshot::CopyAll() {
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  Status first_error = Status::Ok();
  std::atomic<bool> failed{false};
  size_t workers = std::max<size_t>(1, std::min<size_t>(options_.parallel, chunks_.size()));
  auto work = [&]() {
    Worker w;
    auto fail = [&](const Status& st) {
      std::lock_guard lock(err_mu);
      if (first_error.ok()) first_error = st;
      failed = true;
    };
    while (!failed && !cancel_) {
      size_t i = next.fetch_add(1);
      if (i >= chunks_.size()) return;
      Status st = CopyChunk(w, chunks_[i]);
      if (!st.ok()) {
        fail(st);
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t i = 0; i + 1 < workers; ++i) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (cancel_) return Status::Error(StatusCode::kCancelled, "pipeline {}: snapshot cancelled", cfg_.name);
  return first_error;
}

Status Snapshot::Finish() {
  // Finished. The source position now is past every chunk's read: changes
  // before it that streaming replays may meet rows a chunk copied later
  // than them (the catch-up horizon, see MysqlLoader::ApplyBatch). Then
  // forget the plans, so that the next snapshot copies anew.
  ASSIGN_OR_RETURN(auto source, source_->Connect());
  ASSIGN_OR_RETURN(std::string horizon, source_->Horizon(*source));
  for (size_t ti = 0; ti < cfg_.targets.size(); ++ti) {
    ASSIGN_OR_RETURN(auto w, OpenTarget(cfg_, *config_.FindTarget(cfg_.targets[ti]), &interrupt_));
    RETURN_IF_ERROR(w->RaiseCatchUpHorizon(cfg_.name, cfg_.targets[ti], horizon));
    for (const auto& t : tables_) {
      RETURN_IF_ERROR(w->BuildDeferredIndexes(*t->mapping->target)
                          .WithContext(fmt::format("pipeline {}: target {}", cfg_.name, cfg_.targets[ti])));
    }
    for (const auto& t : tables_) RETURN_IF_ERROR(w->DropPlan(cfg_.name, cfg_.targets[ti], t->source.name(), t->shard));
  }
  return Status::Ok();
}

Status Snapshot::CopyChunk(Worker& w, Chunk& chunk) {
  Table& table = *tables_[chunk.table];
  const transform::TableMapping& m = *table.mapping;
  std::string where =
      fmt::format("pipeline {}: table {} chunk {} ({} .. {}]", cfg_.name, table.source.name(), chunk.number,
                  chunk.after.empty() ? "start" : chunk.after, chunk.upto.empty() ? "end" : chunk.upto);
  Status last = Status::Ok();
  for (uint32_t attempt = 0; attempt <= options_.max_retries; ++attempt) {
    if (cancel_) return Status::Error(StatusCode::kCancelled, "cancelled");
    if (attempt > 0) {
      auto delay = std::chrono::milliseconds(std::min<int64_t>(5000, 100LL << std::min<uint32_t>(attempt, 6)));
      spdlog::warn("{}: {} (attempt {}, retrying in {} ms)", where, last.message(), attempt, delay.count());
      for (auto until = std::chrono::steady_clock::now() + delay; !cancel_ && std::chrono::steady_clock::now() < until;)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto attempt_once = [&]() -> Status {
      if (!w.source) {
        ASSIGN_OR_RETURN(w.source, source_->Connect());
      }
      if (w.targets.empty()) w.targets.resize(cfg_.targets.size());
      for (size_t ti = 0; ti < cfg_.targets.size(); ++ti) {
        if (!chunk.needed[ti]) continue;
        if (!w.targets[ti]) {
          ASSIGN_OR_RETURN(w.targets[ti], OpenTarget(cfg_, *config_.FindTarget(cfg_.targets[ti]), &interrupt_));
        }
        RETURN_IF_ERROR(w.targets[ti]->BeginChunk(cfg_.name, cfg_.targets[ti]));
      }
      // Read only now, under the targets' locks (see snapshot.h).
      std::string read_at;
      ASSIGN_OR_RETURN(sluice::mysql::RowBlock block, table.reader->ReadRange(*w.source, chunk.range, &read_at));
      const uint64_t read_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         std::chrono::system_clock::now().time_since_epoch())
                                                         .count());
      std::vector<SinkChange> changes;
      changes.reserve(block.rows());
      std::vector<Value> row(block.width);
      bool keyless = !m.target->has_key();
      if (table.source.rule != nullptr && table.source.rule->lua) {
        // The script sees each row as an insert and decides what the target
        // gets, as the stream's rows (TableMapper::Transform: the script,
        // then the rule over the script's shape).
        if (!w.scripted) {
          ASSIGN_OR_RETURN(w.scripted, transform::TableMapper::Create(MappingRules(cfg_)));
        }
        for (size_t r = 0; r < block.rows(); ++r) {
          auto values = block.row(r);
          auto ev = std::make_shared<ChangeEvent>();
          ev->op = Op::kInsert;
          ev->table = table.schema;
          ev->ts_ms = read_ms;
          ev->after.present = true;
          ev->after.values.assign(values.begin(), values.end());  // views into the block, alive meanwhile
          size_t first = changes.size();
          Status st = w.scripted->Transform(ev, changes);
          if (!st.ok()) {
            return Status::Invalid("snapshot: {}", st.message());  // the script's FILE:LINE, table and key
          }
          for (size_t i = first; i < changes.size(); ++i) {
            changes[i].snapshot = true;
            changes[i].ts_ms = read_ms;
            if (changes[i].origin == ev) changes[i].origin.reset();  // its views end with the block
          }
        }
      }
      for (size_t r = 0; r < block.rows() && !(table.source.rule != nullptr && table.source.rule->lua); ++r) {
        auto values = block.row(r);
        if (m.filter) {
          row.assign(values.begin(), values.end());
          ASSIGN_OR_RETURN(bool pass, transform::Matches(*m.filter, row));
          if (!pass) continue;
        }
        SinkChange c;
        c.kind = keyless ? SinkChange::Kind::kInsert : SinkChange::Kind::kUpsert;
        c.snapshot = true;
        c.ts_ms = read_ms;
        c.table = m.target;
        c.values.reserve(m.source_index.size());
        for (uint32_t i : m.source_index) c.values.push_back(values[i]);
        changes.push_back(std::move(c));
      }
      for (size_t ti = 0; ti < cfg_.targets.size(); ++ti) {
        if (!chunk.needed[ti]) continue;
        ChunkTarget& tw = *w.targets[ti];
        if (keyless && !table.keeps_target_rows[ti]) RETURN_IF_ERROR(tw.Truncate(*m.target));
        RETURN_IF_ERROR(tw.Write(changes).WithContext("target " + cfg_.targets[ti]));
        SLUICE_SYNC_POINT("snapshot.chunk.written");
        ChunkRecord rec;
        rec.pipeline = cfg_.name;
        rec.target = cfg_.targets[ti];
        rec.table = table.source.name();
        rec.shard = table.shard;
        rec.chunk = chunk.number;
        rec.after = chunk.after;
        rec.upto = chunk.upto;
        if (!read_at.empty()) RETURN_IF_ERROR(tw.RecordKeylessCopy(rec, read_at));
        RETURN_IF_ERROR(tw.MarkChunkDone(rec, changes.size()));
        RETURN_IF_ERROR(tw.Commit());
        SLUICE_SYNC_POINT("snapshot.chunk.committed");
        chunk.needed[ti] = false;
      }
      table.rows_copied += changes.size();
      table.chunks_done++;
      if (!read_at.empty()) table.read_at = read_at;
      return Status::Ok();
    };
    last = attempt_once();
    if (last.ok()) return last;
    for (auto& t : w.targets) {
      if (t) t->Rollback();
    }
    if (!last.retryable()) return last.WithContext(where);
    // A lost connection is opened again on the next attempt.
    w.source.reset();
    for (auto& t : w.targets) t.reset();
  }
  return last.WithContext(where + fmt::format(" (gave up after {} attempts)", options_.max_retries + 1));
}

}  // namespace sluice::pipeline
