#include "pipeline/pipeline.h"

#include <cctype>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <pthread.h>
#include <strings.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "core/sync_point.h"
#include "pipeline/binlog_purge.h"
#include "pipeline/check.h"
#include "client/mysql/foreign_keys.h"
#include "pipeline/pg_source.h"
#include "pipeline/pipeline_target.h"
#include "pipeline/selection.h"
#include "pipeline/table_set.h"
#include "pipeline/table_swap.h"
#include "source/mysql/binlog_scan.h"
#include "source/mysql/gtid_position.h"
#include "source/mysql/schema_history.h"
#include "source/registry.h"
#include "client/mysql/table_reader.h"
#include "sink/skip_log.h"
#include "transform/cascades.h"
#include "client/mysql/ddl_statement.h"

namespace sluice::pipeline {
namespace {

// A MySQL statement for the MySQL target, as the pipeline routed it.
sink::DdlChange SqlDdl(std::string db, std::string query) {
  sink::DdlChange d;
  d.db = std::move(db);
  d.query = std::move(query);
  return d;
}

// How long Stop waits for a target thread's call to end before it cuts the
// target's connections (a clean stop needs a batch's commit, milliseconds).
constexpr auto kTargetStopGrace = std::chrono::seconds(3);

// Names the calling thread as top, ps and /proc/PID/task/*/comm show it
// (at most 15 characters): a stage's CPU time can be told from another's.
void NameThisThread(const char* name) { pthread_setname_np(pthread_self(), name); }

// Threads that may run the rules' Lua scripts at once (the transform
// thread and helpers, each with its own Lua states): `lua_threads:`, or one
// fewer than the cores, at most 4. The capture and target threads keep a
// core: on 2 cores a helper thread competes with them, and its hand-over
// costs more CPU than it saves (bench/RESULTS.md, 2026-12-05); beyond 4 the
// other stages are the limit.
size_t LuaThreads(const PipelineConfig& p) {
  if (p.lua_threads > 0) return p.lua_threads;
  size_t cores = std::thread::hardware_concurrency();
  return std::clamp<size_t>(cores > 1 ? cores - 1 : 1, 1, 4);
}

// A PostgreSQL resume position (an LSN; binlog ones hold no '/').
bool LsnPosition(const std::string& position, uint64_t* out) {
  if (position.find('/') == std::string::npos) return false;
  auto lsn = Lsn::Parse(position);
  if (lsn.ok()) *out = lsn->value;
  return lsn.ok();
}

}  // namespace

PipelineMetrics::PipelineMetrics(MetricsRegistry& r)
    : rows(r.AddCounter("sluice_rows", "Row changes through each stage (capture, transform, apply)",
                        {"pipeline", "stage", "target"})),
      bytes(r.AddCounter("sluice_bytes", "Bytes of row data through each stage", {"pipeline", "stage", "target"})),
      filtered(r.AddCounter("sluice_filtered_rows", "Row changes dropped by table rules or row filters", {"pipeline"})),
      errors(r.AddCounter("sluice_errors", "Errors by kind: retryable, fatal, skipped", {"pipeline", "target", "kind"})),
      batch_rows(r.AddHistogram("sluice_batch_rows", "Changes per applied batch", {"pipeline", "target"},
                                ExponentialBuckets(1, 4, 8))),
      apply_seconds(r.AddHistogram("sluice_apply_seconds", "Time to apply one batch on a target",
                                   {"pipeline", "target"}, ExponentialBuckets(0.001, 2, 14))),
      queue_bytes(r.AddGauge("sluice_queue_bytes", "Bytes held in a pipeline queue", {"pipeline", "queue"})),
      delay_ms(r.AddGauge("sluice_apply_delay_seconds",
                          "Seconds since the source commit of the oldest change a target has not applied yet "
                          "(0 when none is pending), as the target's apply loop last saw it",
                          {"pipeline", "target"})),
      transactions(r.AddCounter("sluice_source_transactions", "Source transactions read", {"pipeline"})),
      table_rows(r.AddCounter("sluice_table_rows", "Row changes applied per target table and operation",
                              {"pipeline", "target", "table", "op"})),
      table_delay(r.AddGauge("sluice_table_delay_seconds",
                             "Seconds since the source commit of the oldest change of a target table not applied "
                             "yet (0 when none is pending)",
                             {"pipeline", "target", "table"})),
      conflicts(r.AddCounter("sluice_conflicts", "Two-way sync conflicts resolved (conflict: latest_wins), by "
                             "target table and resolution: target_kept, inserted",
                             {"pipeline", "table", "resolution"})) {}

// Runs on the capture thread: turns source callbacks into owned events with
// their stream positions. After a source restart it suppresses what the cut
// transaction already delivered, like the stream source does across reconnects.
class Pipeline::CaptureHandler : public ChangeHandler {
 public:
  // Counter handles are looked up once: a label lookup per row would cost
  // more than the row's copy.
  explicit CaptureHandler(Pipeline& p)
      : p_(p),
        rows_(&p.metrics_.rows.WithLabels({{"pipeline", p.cfg_.name}, {"stage", "capture"}, {"target", ""}})),
        bytes_(&p.metrics_.bytes.WithLabels({{"pipeline", p.cfg_.name}, {"stage", "capture"}, {"target", ""}})),
        transactions_(&p.metrics_.transactions.WithLabels({{"pipeline", p.cfg_.name}})) {}

  void PrepareRestart() {
    if (open_) {
      suppress_begin_ = true;
      suppress_rows_ = index_;
    }
    open_ = false;
  }
  const std::string& last_commit() const { return last_commit_; }
  const std::string& last_gtid_state() const { return last_gtid_state_; }

  Status OnBegin(const TransactionInfo& t) override {
    if (suppress_begin_) {
      suppress_begin_ = false;
      open_ = true;
      return Status::Ok();
    }
    open_ = true;
    txn_file_.assign(t.file);
    txn_offset_ = t.offset;
    index_ = 0;
    return Status::Ok();
  }
  Status OnRow(const RowChange& row) override {
    if (suppress_rows_ > 0) {
      --suppress_rows_;
      return Status::Ok();
    }
    auto ev = std::make_shared<ChangeEvent>();
    CopyRowChange(row, row.table_ptr, *ev);
    ev->pos = StreamPos{txn_file_, txn_offset_, ++index_};
    rows_->Inc();
    bytes_->Inc(ev->bytes.size());
    return Push(std::move(ev), /*flush=*/false);
  }
  Status OnDdl(const DdlInfo& d) override {
    auto ev = std::make_shared<ChangeEvent>();
    ev->kind = ChangeEvent::Kind::kDdl;
    ev->ddl_db.assign(d.db);
    ev->ddl_query.assign(d.query);
    ev->ddl_session = d.session;
    ev->ts_ms = d.ts_ms;
    ev->gtid.assign(d.gtid);
    ev->pos = StreamPos{txn_file_, txn_offset_, StreamPos::kWholeTransaction};
    if (d.in_transaction) {
      // A PostgreSQL table gained columns among a transaction's rows: it
      // takes the next place in the transaction, like a row, so that a
      // replay skips exactly what was applied before and after it.
      if (suppress_rows_ > 0) {
        --suppress_rows_;
        return Status::Ok();
      }
      ev->pos.index = ++index_;
      if (d.table) {
        // Targets take MySQL DDL (HandleDdl, RouteDdl): the statement with
        // the mapped MySQL types.
        auto sql = PgChangedColumnsDdl(*d.table, d.first_added, d.retyped);
        if (!sql.ok()) return sql.status().WithContext(fmt::format("source change @ {}: {}", d.file, d.query));
        ev->ddl_query = std::move(sql).value();
        ev->table = d.table;
        ev->ddl_first_added = static_cast<uint32_t>(d.first_added);
        ev->ddl_retyped = d.retyped;
      }
    }
    return Push(std::move(ev), /*flush=*/true);
  }
  Status OnCommit(const CommitInfo& c) override {
    suppress_rows_ = 0;
    suppress_begin_ = false;
    open_ = false;
    if (c.peer_marked && index_ == 0) {
      // Applied by the peer pipeline (two-way sync): nothing goes on, and
      // nothing is written to the target for it alone (that write would
      // come back as the peer's next marked transaction, for ever). Its
      // position is recorded with the next change that is applied.
      last_commit_ = fmt::format("{}:{}", c.file, c.next_offset);
      last_gtid_state_.assign(c.gtid_state);
      std::lock_guard lock(p_.mu_);
      p_.source_position_ = last_commit_;
      return Status::Ok();
    }
    auto ev = std::make_shared<ChangeEvent>();
    ev->kind = ChangeEvent::Kind::kCommit;
    ev->ts_ms = c.ts_ms;
    ev->gtid.assign(c.gtid);
    ev->pos = StreamPos{txn_file_, txn_offset_, StreamPos::kWholeTransaction};
    ev->next_position = c.lsn_position ? std::string(c.file) : fmt::format("{}:{}", c.file, c.next_offset);
    ev->gtid_state.assign(c.gtid_state);
    last_commit_ = ev->next_position;
    last_gtid_state_ = ev->gtid_state;
    // The source had written at least up to this commit.
    int64_t seen = CommitEstimateMs(c.ts_ms, WallMs());
    if (seen > p_.source_caught_up_ms_) p_.source_caught_up_ms_ = seen;
    {
      std::lock_guard lock(p_.mu_);
      p_.source_position_ = last_commit_;
    }
    transactions_->Inc();
    return Push(std::move(ev), /*flush=*/true);
  }
  Status OnHeartbeat(uint64_t ts_ms) override {
    p_.source_caught_up_ms_ = WallMs();  // a heartbeat means the dump has nothing more to send
    auto ev = std::make_shared<ChangeEvent>();
    ev->kind = ChangeEvent::Kind::kHeartbeat;
    ev->ts_ms = ts_ms;
    return Push(std::move(ev), /*flush=*/true);
  }
  // Hands over the rows still held (the source stopped or restarts: what
  // it delivered is passed on, as each row was before grouping).
  Status Flush() {
    if (group_.empty()) return Status::Ok();
    if (!p_.capture_queue_->PushAll(group_)) return Status::Error(StatusCode::kCancelled, "stopping");
    return Status::Ok();
  }

 private:
  // Events go to the transform in groups (one lock and wake-up per group):
  // at each commit, DDL or heartbeat, and every kGroupRows rows of a long
  // transaction.
  static constexpr size_t kGroupRows = 64;
  Status Push(std::shared_ptr<ChangeEvent> ev, bool flush) {
    size_t bytes = ev->MemoryBytes();
    group_.emplace_back(std::move(ev), bytes);
    if (!flush && group_.size() < kGroupRows) return Status::Ok();
    return Flush();
  }

  Pipeline& p_;
  Counter* rows_;
  Counter* bytes_;
  Counter* transactions_;
  std::string txn_file_;
  uint64_t txn_offset_ = 0;
  uint64_t index_ = 0;
  bool open_ = false;
  bool suppress_begin_ = false;
  uint64_t suppress_rows_ = 0;
  std::string last_commit_;
  std::string last_gtid_state_;  // the source's GTID state at last_commit_, where known
  std::vector<std::pair<std::shared_ptr<ChangeEvent>, size_t>> group_;
};

Pipeline::Pipeline(const Config& config, const PipelineConfig& pipeline, store::SqliteStore& store,
                   PipelineMetrics& metrics, uint32_t index)
    : config_(config),
      cfg_(pipeline),
      server_id_offset_(index),
      store_(store),
      store_settings_(store, pipeline.name),
      metrics_(metrics) {
  source_cfg_ = config_.FindSource(cfg_.source);
}

Pipeline::~Pipeline() { Stop(); }

int64_t Pipeline::NowMs() const { return WallMs(); }

uint32_t ReplicaServerId(uint32_t server_id, uint32_t pipeline_index, uint64_t epoch) {
  if (server_id == 0) return 0;
  uint32_t id = server_id + pipeline_index;
  if (epoch > 0) id += static_cast<uint32_t>(epoch % 64 + 1) << 24;
  return id == 0 ? 1 : id;
}

void Pipeline::NoteEvent(const std::string& target, std::string what, std::string message) {
  events_.push_front({WallMs(), target, std::move(what), std::move(message)});
  if (events_.size() > kMaxEvents) events_.pop_back();
}

std::string Pipeline::TakeRestartRequest() {
  if (!restart_requested_.exchange(false)) return "";
  std::lock_guard lock(mu_);
  return restart_reason_;
}

void Pipeline::RequestRestart(std::string reason) {
  {
    std::lock_guard lock(mu_);
    restart_reason_ = std::move(reason);
  }
  restart_requested_ = true;
}

void Pipeline::NoteTarget(Target& t, PipelineState s, std::string error) {
  if (s != t.state || (!error.empty() && error != t.last_error)) NoteEvent(t.cfg->name, PipelineStateName(s), error);
  if (s == PipelineState::kRetrying && t.state != PipelineState::kRetrying) t.down_since = Clock::now();
  t.state = s;
  t.last_error = std::move(error);
}

void Pipeline::SetState(PipelineState s, const std::string& error) {
  std::lock_guard lock(mu_);
  if (s != state_ || (!error.empty() && error != last_error_)) NoteEvent("", PipelineStateName(s), error);
  state_ = s;
  if (!error.empty()) last_error_ = error;
  // Running again (the capture reconnected after a source outage): the
  // outage's error is history, not the pipeline's last error.
  if (s == PipelineState::kRunning) last_error_.clear();
}

void Pipeline::PublishDelay(Target& t) {
  int64_t delay = 0;
  {
    std::lock_guard lock(mu_);
    if (t.oldest_pending_ms) delay = std::max<int64_t>(0, WallMs() - t.oldest_pending_ms);
  }
  t.delay->Set(static_cast<double>(std::max(delay, SourceDelayMs())) / 1000.0);
  for (auto& [name, ts] : t.tables) {
    if (ts.oldest_pending_ms)
      ts.delay->Set(static_cast<double>(std::max<int64_t>(0, WallMs() - ts.oldest_pending_ms)) / 1000.0);
  }
}

int64_t Pipeline::SourceDelayMs() const {
  if (!running_ || source_live_) return 0;
  int64_t seen = source_caught_up_ms_;
  return seen ? std::max<int64_t>(0, WallMs() - seen) : 0;
}

void Pipeline::SaveStoreCheckpoint(Target& t, const sink::BatchEnd& end) {
  Status st =
      store_.SaveCheckpoint(cfg_.name, t.cfg->name, {end.pos.ToString(), end.resume_position, end.gtid_state, 0});
  // The target's own checkpoint (written with its rows) is what a restart
  // reads, so applying goes on; but the store's copy is what status and
  // `check` show, so a failing store is logged (once a minute) and shown.
  std::string error = st.ok() ? "" : fmt::format("checkpoint of target {} not saved: {}", t.cfg->name, st.message());
  bool log = false;
  {
    std::lock_guard lock(mu_);
    if (!st.ok()) {
      log = store_error_.empty() || Clock::now() - store_error_logged_ >= std::chrono::minutes(1);
      if (log) store_error_logged_ = Clock::now();
    } else if (!store_error_.empty()) {
      spdlog::info("pipeline {}: store {} writable again", cfg_.name, store_.path());
    }
    store_error_ = error;
  }
  if (log) spdlog::error("pipeline {}: {}", cfg_.name, error);
}

void Pipeline::SleepUnlessStopping(std::chrono::milliseconds d) {
  auto until = Clock::now() + d;
  while (!stop_ && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

Status Pipeline::Validate() {
  if (source_cfg_ == nullptr) return Status::Invalid("pipeline {}: unknown source {}", cfg_.name, cfg_.source);
  for (const TableRule& r : cfg_.tables) {
    if (!r.where.empty()) {
      // Checked here too, to point at the `where:` value itself.
      auto parsed = transform::ParseFilter(r.where);
      if (!parsed.ok()) {
        std::string msg = parsed.status().message();
        if (msg.rfind("where: ", 0) == 0) msg = msg.substr(7);
        return Status::Invalid("{}", FormatConfigError(r.where_mark.line ? r.where_mark : r.mark, r.key_path + ".where",
                                                       msg));
      }
    }
  }
  std::vector<transform::MappingRule> rules = MappingRules(cfg_);
  ASSIGN_OR_RETURN(mapper_, transform::TableMapper::Create(std::move(rules), LuaThreads(cfg_)));
  // A MySQL source's MINIMAL row images lack columns: targets that share its
  // table definitions (MySQL, MariaDB) apply them (defaults, values kept);
  // with any other target they stop the pipeline naming binlog_row_image.
  bool minimal_ok = !IsPostgresSource(*source_cfg_) && !cfg_.targets.empty();
  for (const std::string& name : cfg_.targets) {
    const TargetConfig* tc = config_.FindTarget(name);
    minimal_ok = minimal_ok && tc && IsMysqlScheme(tc->endpoint.scheme);
  }
  mapper_->TakeMinimalRowImages(minimal_ok);
  if (IsPostgresSource(*source_cfg_)) {
    auto tables = ValidatePostgresSource(cfg_, *source_cfg_);
    if (!tables.ok()) mapper_.reset();  // validated again on the next Start
    ASSIGN_OR_RETURN(pg_tables_, std::move(tables));
    return Status::Ok();
  }

  // Every rule must select at least one table that exists now: a typo in a
  // pattern would otherwise sync nothing, silently.
  ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
  // Bounded: a hung source fails the check instead of hanging it; one that
  // is restarting is waited for a while.
  co.read_timeout_s = co.write_timeout_s = 30;
  auto list = [&] {
    return mysql::QueryWithRetry(co,
                                 "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
                                 "WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_SCHEMA NOT IN "
                                 "('mysql','information_schema','performance_schema','sys')",
                                 std::chrono::seconds(30));
  };
  auto unmatched = [&](const auto& rows) -> const TableRule* {
    for (const TableRule& r : cfg_.tables) {
      bool any = false;
      for (const auto& row : rows) {
        if (MatchesTableRule(r, row[0].value_or(""), row[1].value_or(""))) {
          any = true;
          break;
        }
      }
      if (!any) return &r;
    }
    return nullptr;
  };
  auto tables = list();
  // A table being swapped in (an online schema change's RENAME) is missing
  // from information_schema for a moment: a rule that matches nothing is
  // checked again before it is taken for a mistake.
  for (int again = 0; again < 5 && tables.ok() && unmatched(*tables) != nullptr && !stop_; ++again) {
    SLUICE_SYNC_POINT("pipeline.validate.unmatched");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    tables = list();
  }
  if (!tables.ok()) return tables.status().WithContext(fmt::format("pipeline {}: source {}", cfg_.name, cfg_.source));
  // The server answered: one connection for the per-rule checks below.
  auto conn = mysql::MysqlConnection::Connect(co);
  if (!conn.ok()) return conn.status().WithContext(fmt::format("pipeline {}: source {}", cfg_.name, cfg_.source));
  if (const TableRule* r = unmatched(*tables)) {
    return Status::Invalid("{}", FormatConfigError(r->match_mark.line ? r->match_mark : r->mark, r->key_path + ".match",
                                                   NoTableMessage(**conn, *r, cfg_.source)));
  }
  // The rules against each selected table as it is now: a column that is
  // not there, a subset without the key, a filter that does not bind would
  // otherwise fail at the first row, after the pipeline started.
  for (const auto& row : *tables) {
    std::string db = row[0].value_or(""), table = row[1].value_or("");
    const TableRule* r = nullptr;
    for (const TableRule& candidate : cfg_.tables) {
      if (MatchesTableRule(candidate, db, table)) {
        r = &candidate;
        break;
      }
    }
    if (r == nullptr || (r->columns.empty() && r->rename_columns.empty() && r->where.empty())) continue;
    auto schema = mysql::ReadTableSchema(**conn, db, table);
    if (!schema.ok() && schema.status().code() == StatusCode::kNotFound) continue;  // dropped meanwhile
    if (!schema.ok()) return schema.status().WithContext(fmt::format("pipeline {}: source {}", cfg_.name, cfg_.source));
    RETURN_IF_ERROR(CheckRuleAgainstTable(*r, **schema));
  }
  return PlanCascades(**conn);
}

namespace {

// DDL that may add, drop or move a foreign key: the keys are read again.
bool MayChangeForeignKeys(std::string_view query) {
  std::string upper(query);
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  for (const char* word : {"FOREIGN", "REFERENCES", "DROP", "RENAME"}) {
    if (upper.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

void Pipeline::ReplanCascades() {
  auto co = mysql::ConnectOptions::FromUrl(source_cfg_->endpoint);
  Status st = co.status();
  if (st.ok()) {
    co->read_timeout_s = co->write_timeout_s = 30;
    auto conn = mysql::MysqlConnection::Connect(*co);
    st = conn.ok() ? PlanCascades(**conn) : conn.status();
  }
  if (!st.ok()) {
    spdlog::warn("pipeline {}: the source's foreign keys were not read again after a schema change, the ones read "
                 "before are followed: {}",
                 cfg_.name, st.message());
  }
}

Status Pipeline::PlanCascades(mysql::MysqlConnection& conn) {
  // What foreign key actions do to child rows never reaches the binlog: the
  // targets that keep rows in tables redo it (transform/cascades.h), and what no target can
  // follow is said at once.
  auto keys = mysql::ReadForeignKeys(conn);
  if (!keys.ok()) return keys.status().WithContext(fmt::format("pipeline {}: source {}", cfg_.name, cfg_.source));
  std::vector<std::string> notes;
  auto cascades = transform::Cascades::Plan(
      *keys, [this](std::string_view db, std::string_view table) { return mapper_->RuleFor(db, table); }, notes);
  if (!cascades->empty()) {
    std::vector<std::string> others;  // targets that get only the parent's change
    for (const std::string& name : cfg_.targets) {
      const TargetConfig* tc = config_.FindTarget(name);
      const std::string scheme = tc ? tc->endpoint.scheme : "";
      const bool redoes = scheme == "mysql" || scheme == "mariadb" || scheme == "postgres" ||
                          scheme == "postgresql" || scheme == "clickhouse";
      if (!redoes) others.push_back(fmt::format("{} ({})", name, scheme));
    }
    for (const std::string& key : cascades->followed()) {
      spdlog::info("pipeline {}: foreign key {}: the source server's changes to the child rows are redone on the "
                   "MySQL, PostgreSQL and ClickHouse targets",
                   cfg_.name, key);
    }
    if (!others.empty()) {
      notes.push_back(fmt::format(
          "foreign keys with actions ({}): the source server changes the child rows without writing them to its "
          "binlog; MySQL, PostgreSQL and ClickHouse targets redo them, but target{} {} get{} only the parent's "
          "change "
          "(`sluice check` finds the rows left, `--repair` fixes them)",
          fmt::join(cascades->followed(), "; "), others.size() > 1 ? "s" : "", fmt::join(others, ", "),
          others.size() > 1 ? "" : "s"));
    }
  }
  mapper_->SetCascades(cascades->empty() ? nullptr : std::move(cascades));
  for (std::string& note : notes) {
    spdlog::warn("pipeline {}: {}", cfg_.name, note);
    std::lock_guard lock(mu_);
    NoteEvent("", "warning", std::move(note));
  }
  return Status::Ok();
}

Status Pipeline::Start() {
  if (running_) return Status::Ok();
  if (!mapper_ || revalidate_.exchange(false)) RETURN_IF_ERROR(Validate());
  stop_ = false;
  jobs_interrupt_.Reset();
  check_cancel_ = false;
  {
    std::lock_guard lock(mu_);
    copying_targets_.clear();
    keyless_copied_now_.clear();
    hold_slot_ = false;
    snapshot_running_ = false;  // what copied beside the last run's stream has ended with it
    check_ = CheckStatus();
    check_request_.reset();
    check_requested_ = false;
    check_.next_ms = cfg_.check.every_ms > 0 ? WallMs() + static_cast<int64_t>(cfg_.check.every_ms) : 0;
  }
  check_thread_ = std::thread([this] { CheckLoop(); });
  if (cfg_.snapshot == SnapshotMode::kInitial) {
    // Whether a snapshot is needed asks the targets: on a thread of its own,
    // like everything else that may wait for a server.
    {
      std::lock_guard lock(mu_);
      state_ = PipelineState::kStarting;
      NoteEvent("", "starting", "");
      last_error_.clear();
    }
    running_ = true;
    snapshot_thread_ = std::thread([this] { SnapshotThenStream(); });
    return Status::Ok();
  }
  return StartStreaming();
}

void Pipeline::SnapshotThenStream() {
  int failures = 0;
  // Targets added later are copied while the others stream; then a new
  // start lets them join, reading again from where the copy began (a
  // PostgreSQL slot is held from confirming meanwhile: hold_slot_). Binlog
  // files as the source: every target waits for the copy.
  const bool stream_meanwhile = source_cfg_->endpoint.scheme != "file";
  bool streaming = false;
  std::vector<std::string> copying;
  while (!stop_) {
    auto former = FormerTargets();
    auto needed = former.ok() ? Snapshot::TargetsToCopy(config_, cfg_, *former, &jobs_interrupt_)
                              : Result<std::vector<std::string>>(former.status());
    Status st = needed.status();
    if (needed.ok() && !needed->empty()) {
      // Only into the targets that need it: one that already streams keeps
      // its rows and its place (copying into it again would be work for
      // nothing, and a keyless table's rows the stream then replays would
      // land twice).
      const bool every_target = needed->size() == cfg_.targets.size();
      copying = *needed;
      std::string what = every_target ? "copying the existing rows first (snapshot: initial)"
                                      : fmt::format("copying the existing rows into target(s) {} (snapshot: initial; "
                                                    "added since the pipeline last ran, or their copy was not "
                                                    "finished){}",
                                                    fmt::join(copying, ", "),
                                                    stream_meanwhile ? " while the others stream" : " first");
      spdlog::info("pipeline {}: {}", cfg_.name, what);
      {
        std::lock_guard lock(mu_);
        SnapshotOptions options;
        options.stream_waits_for_copy = true;
        if (every_target && !IsPostgresSource(*source_cfg_) && source_cfg_->endpoint.scheme != "file") {
          options.at_start = [this](const std::string& p0) { RecordTableShapesAt(p0); };
        }
        PipelineConfig copy = cfg_;
        copy.targets = std::move(*needed);
        snapshot_ = std::make_unique<Snapshot>(config_, copy, std::move(options));
        if (!every_target && stream_meanwhile) {
          copying_targets_.insert(copying.begin(), copying.end());
          if (IsPostgresSource(*source_cfg_)) hold_slot_ = true;
          snapshot_running_ = true;  // no other copy (requested, newly selected tables) beside this one
        } else {
          state_ = PipelineState::kSnapshotting;
        }
        NoteEvent("", "snapshotting", what);
      }
      if (!every_target && stream_meanwhile && !streaming) {
        if (Status started = StartStreaming(); !started.ok()) {
          SetState(PipelineState::kFailed, started.message());
          return;
        }
        streaming = true;
      }
      st = RaiseFences(copying);
      if (st.ok()) st = snapshot_->Run();
      if (st.ok()) {
        auto p = snapshot_->progress();
        spdlog::info("pipeline {}: snapshot done, {} rows; streaming from {}", cfg_.name, p.rows_copied,
                     p.start_position);
        // The copy carried what the rules select now: recorded at once, or a
        // stop before the stream's start records them would leave the next
        // start with a changed configuration nothing to compare with (and
        // the tables it newly selects uncopied).
        if (every_target && source_cfg_->endpoint.scheme != "file") {
          if (Status saved = settings_->Set(kSelectionKey, DescribeSelection(cfg_.tables)); !saved.ok()) {
            spdlog::warn("pipeline {}: recording the table selection: {}", cfg_.name, saved.message());
          }
        }
        SLUICE_SYNC_POINT("pipeline.initial_copy.done");
      }
    }
    if (st.ok()) break;
    if (st.code() == StatusCode::kCancelled || stop_) return;
    if (!st.retryable() && st.code() != StatusCode::kIoError) {
      spdlog::error("pipeline {}: snapshot failed: {}", cfg_.name, st.message());
      if (streaming) {
        NoteCopyingTargets(PipelineState::kFailed, "its copy failed (the next start copies again): " + st.message());
        hold_slot_ = false;
        std::lock_guard lock(mu_);
        snapshot_running_ = false;
        return;
      }
      SetState(st.code() == StatusCode::kFenced ? PipelineState::kFenced : PipelineState::kFailed, st.message());
      return;
    }
    ++failures;
    if (streaming) {
      NoteCopyingTargets(PipelineState::kRetrying, st.message());
    } else {
      SetState(PipelineState::kRetrying, st.message());
    }
    spdlog::warn("pipeline {}: snapshot: {} (retrying)", cfg_.name, st.message());
    SleepUnlessStopping(std::chrono::milliseconds(std::min(5000, 200 << std::min(failures, 5))));
  }
  if (stop_) return;
  if (streaming) {
    {
      std::lock_guard lock(mu_);
      snapshot_running_ = false;
    }
    RequestRestart(fmt::format("target(s) {} copied: they join the stream where their copy began",
                               fmt::join(copying, ", ")));
    return;
  }
  Status st = StartStreaming();
  if (!st.ok()) SetState(PipelineState::kFailed, st.message());
}

// Cluster mode: a copy's writes check the pipeline's fence on each target
// (a former owner's chunk must not land after its successor started); the
// fence is raised when a target's sink opens, so before a copy that comes
// first (snapshot: initial) each target's sink is opened once for it.
Status Pipeline::RaiseFences(const std::vector<std::string>& targets) {
  if (cfg_.epoch == 0) return Status::Ok();
  for (const std::string& name : targets) {
    const TargetConfig* t = config_.FindTarget(name);
    if (t == nullptr) return Status::Invalid("pipeline {}: unknown target {}", cfg_.name, name);
    sink::SinkOptions so = TargetSinkOptions(cfg_, *t);
    so.interrupt = &jobs_interrupt_;
    auto opened = sink::OpenSink(so);
    if (!opened.ok()) return opened.status().WithContext(fmt::format("pipeline {}: target {}", cfg_.name, name));
  }
  return Status::Ok();
}

std::vector<std::string> Pipeline::LiveTargetsLocked() const {
  std::vector<std::string> names;
  for (const auto& t : targets_) {
    if (!t->failed) names.push_back(t->cfg->name);
  }
  return names;
}

void Pipeline::NoteCopyingTargets(PipelineState s, const std::string& error) {
  std::lock_guard lock(mu_);
  for (auto& t : targets_) {
    if (copying_targets_.contains(t->cfg->name)) NoteTarget(*t, s, error);
  }
}

void Pipeline::CheckLoop() {
  const bool periodic = cfg_.check.every_ms > 0;
  while (true) {
    PipelineState state;
    bool repair = cfg_.check.repair;
    // The targets in the stream: not one set aside (behind by its outage, or
    // down), being copied, or failed.
    PipelineConfig checked = cfg_;
    {
      std::unique_lock lock(mu_);
      auto due = [&] { return stop_ || check_request_.has_value() || (periodic && WallMs() >= check_.next_ms); };
      while (!due()) {
        if (periodic) {
          check_wake_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1, check_.next_ms - WallMs())));
        } else {
          check_wake_.wait(lock);
        }
      }
      if (stop_) return;
      if (check_request_) {
        repair = *check_request_;
        check_request_.reset();
      }
      state = state_;
      checked.targets = LiveTargetsLocked();
      if (checked.targets.empty()) state = PipelineState::kFailed;  // nothing to compare
      if (state == PipelineState::kRunning) {
        check_.state = "running";
        check_.last_started_ms = WallMs();
      }
      if (periodic) check_.next_ms = WallMs() + static_cast<int64_t>(cfg_.check.every_ms);
    }
    // A check compares against what the pipeline applied: only worth it (and
    // only settles) while the pipeline streams.
    if (state != PipelineState::kRunning) continue;
    CheckOptions options;
    options.repair = repair;
    options.interrupter = &jobs_interrupt_;
    auto started = Clock::now();
    auto report = RunCheck(config_, checked, options, &check_cancel_);
    double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    std::lock_guard lock(mu_);
    check_.runs++;
    check_.last_finished_ms = WallMs();
    check_.last_duration_s = seconds;
    if (!report.ok()) {
      if (report.status().code() == StatusCode::kCancelled || stop_) return;  // a Stop cut its connections
      check_.state = "failed";
      check_.error = report.status().message();
      spdlog::warn("pipeline {}: consistency check failed: {}", cfg_.name, check_.error);
      NoteEvent("", "check", "check failed: " + check_.error);
      continue;
    }
    check_.missing = check_.extra = check_.different = check_.in_flight = 0;
    check_.error.clear();
    check_.note.clear();
    for (const TargetCheckReport& t : report->targets) {
      check_.in_flight += t.in_flight;
      for (const TableCheckReport& tr : t.tables) {
        check_.missing += tr.missing;
        check_.extra += tr.extra;
        check_.different += tr.different;
        if (!tr.error.empty()) {
          check_.error += (check_.error.empty() ? "" : "; ") + fmt::format("{}: {}", tr.source, tr.error);
        }
        if (!tr.note.empty()) {
          check_.note += (check_.note.empty() ? "" : "; ") + fmt::format("{} on {}: {}", tr.target, t.target, tr.note);
        }
      }
    }
    check_.repaired_rows = report->repaired_rows();
    check_.remaining = report->remaining();
    if (report->has_errors()) {
      check_.state = "failed";
    } else if (report->differences() == 0) {
      check_.state = "consistent";
    } else if (repair && report->repaired()) {
      check_.state = "repaired";
    } else {
      check_.state = "differences";
    }
    NoteEvent("", "check",
              fmt::format("check {}: {} missing, {} extra, {} different{}{}{}", check_.state, check_.missing,
                          check_.extra, check_.different,
                          repair ? fmt::format(", {} rows repaired, {} left", check_.repaired_rows, check_.remaining)
                                 : std::string(),
                          check_.error.empty() ? "" : "; " + check_.error,
                          check_.note.empty() ? "" : "; note: " + check_.note));
    if (report->differences() > 0 || report->has_errors()) {
      spdlog::warn("pipeline {}: consistency check: {} missing, {} extra, {} different{}{}", cfg_.name,
                   check_.missing, check_.extra, check_.different,
                   repair ? fmt::format(", {} rows repaired, {} left", check_.repaired_rows,
                                                   check_.remaining)
                                     : std::string(),
                   check_.error.empty() ? "" : "; " + check_.error);
    } else {
      spdlog::info("pipeline {}: consistency check: consistent ({:.1f} s)", cfg_.name, seconds);
    }
  }
}

Status Pipeline::StartStreaming() {
  if (stop_) return Status::Ok();
  capture_queue_ = std::make_unique<BoundedQueue<std::shared_ptr<ChangeEvent>>>(cfg_.queue_bytes);
  metrics_.queue_bytes.WithLabels({{"pipeline", cfg_.name}, {"queue", "capture"}});
  // Built aside and swapped in under mu_: status() reads targets_ from HTTP
  // threads, also while a stopped pipeline is started again.
  std::vector<std::unique_ptr<Target>> targets;
  for (const std::string& name : cfg_.targets) {
    auto t = std::make_unique<Target>();
    t->cfg = config_.FindTarget(name);
    t->queue = std::make_unique<BoundedQueue<std::shared_ptr<const TargetWork>>>(cfg_.queue_bytes);
    t->rows = &metrics_.rows.WithLabels({{"pipeline", cfg_.name}, {"stage", "apply"}, {"target", name}});
    t->bytes = &metrics_.bytes.WithLabels({{"pipeline", cfg_.name}, {"stage", "apply"}, {"target", name}});
    t->retryable = &metrics_.errors.WithLabels({{"pipeline", cfg_.name}, {"target", name}, {"kind", "retryable"}});
    t->fatal = &metrics_.errors.WithLabels({{"pipeline", cfg_.name}, {"target", name}, {"kind", "fatal"}});
    t->skipped = &metrics_.errors.WithLabels({{"pipeline", cfg_.name}, {"target", name}, {"kind", "skipped"}});
    t->batch_rows = &metrics_.batch_rows.WithLabels({{"pipeline", cfg_.name}, {"target", name}});
    t->apply_seconds = &metrics_.apply_seconds.WithLabels({{"pipeline", cfg_.name}, {"target", name}});
    t->queue_bytes = &metrics_.queue_bytes.WithLabels({{"pipeline", cfg_.name}, {"queue", "target:" + name}});
    t->delay = &metrics_.delay_ms.WithLabels({{"pipeline", cfg_.name}, {"target", name}});
    targets.push_back(std::move(t));
  }
  {
    std::lock_guard lock(mu_);
    for (auto& t : targets) {
      if (!copying_targets_.contains(t->cfg->name)) continue;
      // Out of this run's stream: it joins at the next start, where its copy began.
      t->failed = true;
      t->state = PipelineState::kSnapshotting;
    }
    targets_.swap(targets);
    state_ = PipelineState::kStarting;
    NoteEvent("", "starting", "");
    last_error_.clear();
  }
  source_live_ = false;
  source_caught_up_ms_ = WallMs();  // until the capture knows better: nothing is known to be missing before now
  running_ = true;
  for (auto& t : targets_) {
    Target* tp = t.get();
    t->thread = std::thread([this, tp] {
      NameThisThread("sl-target");
      TargetLoop(*tp);
      tp->finished = true;
    });
  }
  transform_thread_ = std::thread([this] {
    NameThisThread("sl-transform");
    TransformLoop();
  });
  capture_thread_ = std::thread([this] {
    NameThisThread("sl-capture");
    CaptureLoop();
  });
  return Status::Ok();
}

void Pipeline::Stop() {
  if (!running_ && !capture_thread_.joinable() && !snapshot_thread_.joinable() && !check_thread_.joinable() &&
      !jobs_thread_.joinable() && !selection_thread_.joinable()) {
    return;
  }
  stop_ = true;
  check_cancel_ = true;
  jobs_interrupt_.Interrupt();
  {
    std::lock_guard lock(mu_);
    if (snapshot_) snapshot_->Cancel();
  }
  check_wake_.notify_all();
  // First: the snapshot thread may be starting the streaming threads.
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  if (jobs_thread_.joinable()) jobs_thread_.join();
  check_cancel_ = true;
  if (check_thread_.joinable()) check_thread_.join();
  if (capture_queue_) capture_queue_->Close();
  for (auto& t : targets_) t->queue->Close();
  if (capture_thread_.joinable()) capture_thread_.join();
  if (selection_thread_.joinable()) selection_thread_.join();  // started by the capture thread; cancelled above
  if (transform_thread_.joinable()) transform_thread_.join();
  // A target thread ends once its current call returns. One blocked on a
  // target that does not answer (a hung server: the timeouts are minutes)
  // gets a moment to finish cleanly, then its connections are cut.
  const auto grace = std::chrono::steady_clock::now() + kTargetStopGrace;
  for (auto& t : targets_) {
    while (t->thread.joinable() && !t->finished && std::chrono::steady_clock::now() < grace) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (t->thread.joinable() && !t->finished) {
      spdlog::warn("pipeline {} target {}: no answer while stopping; its connections are cut", cfg_.name,
                   t->cfg->name);
      t->interrupt.Interrupt();
    }
  }
  for (auto& t : targets_) {
    if (t->thread.joinable()) t->thread.join();
  }
  running_ = false;
  std::lock_guard lock(mu_);
  if (state_ != PipelineState::kFailed) {
    state_ = PipelineState::kStopped;
    NoteEvent("", "stopped", "");
  }
}

// `latest` and `earliest` name a different place every time they are read:
// the first start turns them into the source's file:offset of now, once. A
// MariaDB GTID position becomes the file:offset where the server's binlog
// holds it, so that it is recorded in the checkpoints like any other.
Result<StartPosition> Pipeline::ResolveOnSource(const StartPosition& p) {
  if (IsPostgresSource(*source_cfg_)) return ResolvePostgresStart(cfg_, *source_cfg_, p, pg_tables_);
  if (p.kind == StartPosition::Kind::kMariadbGtid && source_cfg_->endpoint.scheme != "file") {
    ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
    auto at = mysql::FindMariadbGtidPosition(co, p.mariadb_gtid, &jobs_interrupt_);
    if (!at.ok()) return at.status().WithContext(fmt::format("source {}", cfg_.source));
    StartPosition out;
    out.kind = StartPosition::Kind::kFilePos;
    out.file_pos = *at;
    return out;
  }
  if (p.kind != StartPosition::Kind::kLatest && p.kind != StartPosition::Kind::kEarliest) return p;
  ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
  auto conn = mysql::MysqlConnection::Connect(co, &jobs_interrupt_);
  if (!conn.ok()) return conn.status().WithContext(fmt::format("source {}", cfg_.source));
  bool latest = p.kind == StartPosition::Kind::kLatest;
  ASSIGN_OR_RETURN(auto rows, (*conn)->Query(latest ? "SHOW MASTER STATUS" : "SHOW BINARY LOGS"));
  if (rows.empty() || !rows[0][0] || (latest && !rows[0][1])) {
    return Status::Invalid("source {}: no binary log (SHOW {} is empty); start the server with --log-bin", cfg_.source,
                           latest ? "MASTER STATUS" : "BINARY LOGS");
  }
  StartPosition out;
  out.kind = StartPosition::Kind::kFilePos;
  out.file_pos = {*rows[0][0], latest ? std::stoull(*rows[0][1]) : 4};
  return out;
}

Status Pipeline::FollowSourceFailover() {
  if (IsPostgresSource(*source_cfg_) || source_cfg_->endpoint.scheme == "file") return Status::Ok();
  std::unique_ptr<mysql::MysqlConnection> conn;
  ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
  for (auto& t : targets_) {
    if (!t->sink || t->failed) continue;
    const std::string key = "moved/" + t->cfg->name;
    // A move decided before a crash is finished first (the checkpoint may
    // be reset already): "FILE:OFFSET GTID_STATE".
    ASSIGN_OR_RETURN(auto pending, settings_->Get(key));
    std::string resume = t->sink->checkpoint().resume_position, gtids = t->sink->checkpoint().gtid_state;
    if (!pending.has_value()) {
      auto recorded = MariadbGtidList::Parse(gtids);
      auto at = BinlogFilePos::Parse(resume);
      if (resume.empty() || !recorded.ok() || recorded->empty() || !at.ok()) continue;  // nothing to check it by
      if (!conn) {
        auto c = mysql::MysqlConnection::Connect(co, &jobs_interrupt_);
        if (!c.ok()) return c.status().WithContext(fmt::format("source {}", cfg_.source));
        conn = std::move(c).value();
        if (!conn->is_mariadb()) return Status::Ok();
      }
      auto here = mysql::BinlogGtidStateAt(*conn, *at);
      if (!here.ok()) {
        if (here.status().retryable()) return here.status().WithContext(fmt::format("source {}", cfg_.source));
        continue;  // cannot tell (the source stream checks again)
      }
      if (*here && mysql::GtidStateAgrees(**here, *recorded)) continue;
      SLUICE_SYNC_POINT("pipeline.failover.lookup");
      auto moved = mysql::FindMariadbGtidPosition(co, *recorded, &jobs_interrupt_);
      if (!moved.ok()) {
        if (moved.status().retryable()) return moved.status();
        // The same server with that binlog purged: not a failover (said at
        // the capture's start, or by DetachTargetsBehindPurgedBinlogs).
        auto files = mysql::ServerBinlogFiles(co, &jobs_interrupt_);
        if (files.ok() && InPurgedBinlog(resume, *files)) continue;
        return Status::Error(StatusCode::kSourceChanged,
                             "target {}: it stopped at {} with GTID state {}, but source {} ({}) has {} there and "
                             "{}. The source is not the server the target's checkpoint was taken on (a failover?) "
                             "and its binlog does not hold that GTID state: restore the server, or set the position "
                             "(POST /api/pipelines/{}/position) after re-snapshotting the tables",
                             t->cfg->name, resume, gtids, cfg_.source, co.Describe(),
                             *here ? "GTID state " + (*here)->ToString() : std::string("no transaction boundary"),
                             moved.status().message(), cfg_.name);
      }
      std::string message = fmt::format(
          "source {} is another server than the one target {} stopped on (at {} its binlog has {}, not GTID "
          "state {}; a failover?): the target resumes where that GTID state is in this server's binlog, {}",
          cfg_.source, t->cfg->name, resume,
          *here ? "GTID state " + (*here)->ToString() : std::string("no transaction boundary"), gtids,
          moved->ToString());
      spdlog::warn("pipeline {}: {}", cfg_.name, message);
      {
        std::lock_guard lock(mu_);
        NoteEvent(t->cfg->name, "warning", message);
      }
      RETURN_IF_ERROR(settings_->Set(key, moved->ToString() + " " + gtids));
      SLUICE_SYNC_POINT("pipeline.failover.decided");
      pending = moved->ToString() + " " + gtids;
    } else {
      spdlog::info("pipeline {} target {}: finishing its move to {} (GTID state) decided before a restart", cfg_.name,
                   t->cfg->name, *pending);
    }
    size_t space = pending->find(' ');
    ASSIGN_OR_RETURN(BinlogFilePos to, BinlogFilePos::Parse(pending->substr(0, space)));
    sink::BatchEnd origin{StreamPos{to.file, to.offset, 0}, to.ToString(),
                          space == std::string::npos ? "" : pending->substr(space + 1)};
    RETURN_IF_ERROR(t->sink->ReplaceCheckpoint(origin));
    SaveStoreCheckpoint(*t, origin);
    RETURN_IF_ERROR(settings_->Delete(key));
  }
  return Status::Ok();
}

Status Pipeline::DetachTargetsBehindPurgedBinlogs() {
  if (IsPostgresSource(*source_cfg_) || source_cfg_->endpoint.scheme == "file") return Status::Ok();
  size_t with_checkpoint = 0;
  for (auto& t : targets_) with_checkpoint += t->sink && !t->failed && !t->sink->checkpoint().resume_position.empty();
  // No other target to keep going, unless this is a target's catch-up,
  // whose failure leaves the main pipeline going.
  if (with_checkpoint < (catching_up_ ? 1u : 2u)) return Status::Ok();
  ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
  auto files = mysql::ServerBinlogFiles(co, &jobs_interrupt_);
  if (!files.ok()) return files.status().WithContext(fmt::format("source {}", cfg_.source));
  std::vector<Target*> gone;
  for (auto& t : targets_) {
    if (!t->sink || t->failed) continue;
    if (InPurgedBinlog(t->sink->checkpoint().resume_position, *files)) gone.push_back(t.get());
  }
  if (gone.empty() || (gone.size() == with_checkpoint && !catching_up_)) return Status::Ok();
  for (Target* t : gone) {
    const std::string& name = t->cfg->name;
    std::string error = fmt::format(
        "target {}: its checkpoint {} is in binlog files source {} no longer has (its oldest is {}): the changes "
        "since are gone for this target, so it stops and the pipeline's other targets go on. To bring it back, "
        "remove its checkpoint (on a MySQL or PostgreSQL target: DELETE FROM _sluice.checkpoints WHERE pipeline = "
        "'{}' AND target = '{}') and start the pipeline again: with snapshot: initial the rows are copied into it "
        "alone first (else run sluice snapshot); then `sluice check --pipeline {} --repair` removes rows deleted "
        "meanwhile",
        name, t->sink->checkpoint().resume_position, cfg_.source, files->front(), cfg_.name, name, cfg_.name);
    spdlog::error("pipeline {}: {}", cfg_.name, error);
    std::lock_guard lock(mu_);
    NoteTarget(*t, PipelineState::kFailed, error);
    t->failed = true;
  }
  return Status::Ok();
}

// Where the capture starts, fixed durably before anything is captured: every
// live target without a checkpoint (a first start, a target added later, a
// position set through the API) gets one at that place first. A restart then
// resumes exactly where applying stopped, however long ago the first start
// was and whatever failed in between. `latest` and `earliest` are resolved
// once; a position that was purged since fails the capture and says so.
Result<StartPosition> Pipeline::ResumePosition() {
  start_gtid_state_.clear();  // known only for a checkpoint's position (below)
  auto override_pos = settings_->Get("start");
  if (!override_pos.ok()) return override_pos.status().WithContext(settings_->Describe());
  bool set_by_api = override_pos->has_value();
  std::string least;
  if (set_by_api) {
    ASSIGN_OR_RETURN(StartPosition p, StartPosition::Parse(**override_pos));
    ASSIGN_OR_RETURN(p, ResolveOnSource(p));
    // Resolved first, so that a crash before the setting is gone repeats this
    // with the same position, not with a later `latest`.
    RETURN_IF_ERROR(settings_->Set("start", p.ToString()));
    for (auto& t : targets_) {
      if (t->sink && !t->failed) RETURN_IF_ERROR(t->sink->ResetCheckpoint());
    }
    if (p.kind != StartPosition::Kind::kFilePos && p.kind != StartPosition::Kind::kLsn) {
      // A GTID has no file:offset to record in the checkpoints.
      RETURN_IF_ERROR(settings_->Delete("start"));
      spdlog::info("pipeline {}: starting at {} (set through the API)", cfg_.name, p.ToString());
      return p;
    }
    least = p.ToString();
  } else {
    RETURN_IF_ERROR(FollowSourceFailover());
    RETURN_IF_ERROR(DetachTargetsBehindPurgedBinlogs());
    for (auto& t : targets_) {
      if (!t->sink || t->failed) continue;
      const std::string& r = t->sink->checkpoint().resume_position;
      if (r.empty()) continue;
      if (least.empty() || ResumeBefore(r, least)) {
        least = r;
        start_gtid_state_ = t->sink->checkpoint().gtid_state;
      }
    }
  }
  if (least.empty()) {
    ASSIGN_OR_RETURN(StartPosition p, StartPosition::Parse(cfg_.start));
    ASSIGN_OR_RETURN(p, ResolveOnSource(p));
    // A GTID start stays what it is (no file:offset to record); reading it
    // again on a restart gives the same place.
    if (p.kind != StartPosition::Kind::kFilePos && p.kind != StartPosition::Kind::kLsn) return p;
    least = p.ToString();
    spdlog::info("pipeline {}: first start at {} (start: {})", cfg_.name, least, cfg_.start);
    WarnIfRenamed(least);
  } else if (!set_by_api) {
    spdlog::info("pipeline {}: resuming at {} (the least advanced target's checkpoint)", cfg_.name, least);
  }
  sink::BatchEnd origin;
  if (IsPostgresSource(*source_cfg_)) {
    // Before every transaction that commits after the LSN.
    ASSIGN_OR_RETURN(Lsn lsn, Lsn::Parse(least));
    origin = {StreamPos{lsn.ToString(), 0, 0}, least, ""};
  } else {
    ASSIGN_OR_RETURN(BinlogFilePos fp, BinlogFilePos::Parse(least));
    // Index 0: before the first change of the transaction at that offset.
    origin = {StreamPos{fp.file, fp.offset, 0}, least, ""};
  }
  for (auto& t : targets_) {
    if (!t->sink || t->failed || !t->sink->checkpoint().resume_position.empty()) continue;
    if (!set_by_api) {
      spdlog::info("pipeline {} target {}: no checkpoint yet; it starts at {}", cfg_.name, t->cfg->name, least);
      WarnIfCheckpointLost(*t, least);
    }
    Status st = t->sink->AdvanceCheckpoint(origin);
    if (!st.ok()) {
      // The loader's connection errors name the target already.
      bool named = st.message().starts_with("target " + t->cfg->name + ":");
      return st.WithContext(fmt::format("{}recording the start position {}",
                                        named ? "" : fmt::format("target {}: ", t->cfg->name), least));
    }
    SaveStoreCheckpoint(*t, origin);
  }
  if (set_by_api) {
    RETURN_IF_ERROR(settings_->Delete("start"));
    spdlog::info("pipeline {}: starting at {} (set through the API)", cfg_.name, least);
  }
  for (auto& t : targets_) {
    if (uint64_t lsn = 0; t->sink && LsnPosition(t->sink->checkpoint().resume_position, &lsn)) t->applied_lsn = lsn;
  }
  RETURN_IF_ERROR(RecordTargets());
  return StartPosition::Parse(least);
}

void Pipeline::WarnIfCheckpointLost(Target& t, const std::string& start) {
  auto held = store_.LoadCheckpoint(cfg_.name, t.cfg->name);
  if (!held.ok() || !held->has_value() || (*held)->resume_position.empty()) return;
  if ((*held)->resume_position == start) return;  // stopped before it applied anything: nothing in between
  std::string note = fmt::format(
      "target {}: it holds no checkpoint of this pipeline, though the store says it had applied up to {}: its "
      "`_sluice` tables (or checkpoint) were removed, or the target was replaced or restored from a backup. It starts "
      "at {}; what changed in between is not on it unless copied (`sluice snapshot`, or `snapshot: initial`), and "
      "`sluice check --repair` finds what differs",
      t.cfg->name, (*held)->resume_position, start);
  spdlog::warn("pipeline {}: {}", cfg_.name, note);
  std::lock_guard lock(mu_);
  NoteEvent(t.cfg->name, "warning", std::move(note));
}

void Pipeline::WarnIfRenamed(const std::string& start) {
  auto held = store_.AllCheckpoints();
  if (!held.ok()) return;  // only a warning: the store's own errors show elsewhere
  std::map<std::string, std::vector<std::string>> others;  // pipeline -> "target (applied)"
  for (const auto& [pipeline, target, cp] : *held) {
    if (config_.FindPipeline(pipeline) != nullptr) continue;
    if (std::find(cfg_.targets.begin(), cfg_.targets.end(), target) == cfg_.targets.end()) continue;
    others[pipeline].push_back(fmt::format("{} at {}", target, cp.resume_position));
  }
  for (const auto& [pipeline, where] : others) {
    std::string note = fmt::format(
        "this is the pipeline's first start (at {}), but the store holds where pipeline {}, which the configuration "
        "no longer has, stopped on the same target(s): {}. Checkpoints are kept by pipeline name, so a renamed "
        "pipeline starts anew; if {} is {} renamed, give it its old name back to go on where it stopped",
        start, pipeline, fmt::join(where, ", "), cfg_.name, pipeline);
    spdlog::warn("pipeline {}: {}", cfg_.name, note);
    std::lock_guard lock(mu_);
    NoteEvent("", "warning", std::move(note));
  }
}

Result<std::vector<std::string>> Pipeline::RecordedTargets() {
  ASSIGN_OR_RETURN(auto recorded, settings_->Get(kTargetsKey));
  std::vector<std::string> names;
  if (!recorded.has_value()) return names;
  nlohmann::json list = nlohmann::json::parse(*recorded, nullptr, false);
  if (!list.is_array()) {
    return Status::Corruption("pipeline {}: setting {} in {} is not a JSON array: {}", cfg_.name, kTargetsKey,
                              settings_->Describe(), *recorded);
  }
  for (const nlohmann::json& name : list) {
    if (name.is_string()) names.push_back(name.get<std::string>());
  }
  return names;
}

Result<std::vector<std::string>> Pipeline::FormerTargets() {
  ASSIGN_OR_RETURN(auto names, RecordedTargets());
  std::erase_if(names, [&](const std::string& n) {
    return std::find(cfg_.targets.begin(), cfg_.targets.end(), n) != cfg_.targets.end();
  });
  return names;
}

Status Pipeline::RecordTargets() {
  ASSIGN_OR_RETURN(auto names, RecordedTargets());
  bool added = false;
  for (const auto& t : targets_) {
    if (!t->sink || t->failed || t->sink->checkpoint().resume_position.empty()) continue;
    if (std::find(names.begin(), names.end(), t->cfg->name) != names.end()) continue;
    names.push_back(t->cfg->name);
    added = true;
  }
  if (!added) return Status::Ok();
  return settings_->Set(kTargetsKey, nlohmann::json(names).dump());
}

void Pipeline::CaptureLoop() {
  // Targets first: their checkpoints decide where the capture starts.
  while (!stop_) {
    bool all = true, any_alive = false;
    for (auto& t : targets_) {
      all &= t->ready || t->failed;
      any_alive |= !t->failed;
    }
    if (!any_alive) {
      spdlog::error("pipeline {}: every target failed; not capturing", cfg_.name);
      SetState(PipelineState::kFailed);
      capture_queue_->Close();
      return;
    }
    if (all) break;
    // Short: the capture's start waits on this (a Kafka target opens in ~10 ms).
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (stop_) {
    capture_queue_->Close();
    return;
  }
  // Target tables `sluice run` must create itself first (renamed or subset
  // tables, which replicated DDL cannot create; columns a changed rule now
  // maps are added to existing ones), then where to start.
  auto prepare = [&]() -> Result<StartPosition> {
    std::vector<const TargetConfig*> mysql_targets;
    for (auto& t : targets_) {
      if (t->sink && !t->failed && t->sink->speaks_mysql_ddl()) {
        // PostgreSQL sends no DDL: every selected table is created from the catalog.
        RETURN_IF_ERROR(IsPostgresSource(*source_cfg_) ? EnsurePostgresTargetTables(cfg_, *source_cfg_, *t->cfg)
                                                       : EnsureMappedTargetTables(config_, cfg_, *t->cfg, "", "",
                                                                                  /*also_one_to_one=*/false,
                                                                                  ColumnAlignment::kAddMapped));
        mysql_targets.push_back(t->cfg);
      }
    }
    RETURN_IF_ERROR(PrepareNewlySelected(mysql_targets));
    RETURN_IF_ERROR(CheckTargetTriggers(mysql_targets));
    if (IsPostgresSource(*source_cfg_) && !catching_up_) {
      // Best effort: a source out of reach fails the start below anyway.
      if (Status st = DropLeftoverCatchUpSlots(cfg_, *source_cfg_); !st.ok()) {
        spdlog::warn("pipeline {}: {}", cfg_.name, st.message());
      }
    }
    return ResumePosition();
  };
  auto start = prepare();
  // A source or target down at start is waited for: where to start must be
  // recorded before anything is captured.
  for (auto wait = std::chrono::milliseconds(200); !start.ok() && start.status().retryable() && !stop_;) {
    spdlog::warn("pipeline {}: cannot record where to start yet, retrying in {} ms: {}", cfg_.name, wait.count(),
                 start.status().message());
    SetState(PipelineState::kRetrying, start.status().message());
    SleepUnlessStopping(wait);
    wait = std::min(wait * 2, std::chrono::milliseconds(10000));
    start = prepare();
  }
  if (stop_) {
    capture_queue_->Close();
    return;
  }
  if (!start.ok()) {
    spdlog::error("pipeline {}: cannot determine where to start: {}", cfg_.name, start.status().message());
    SetState(PipelineState::kFailed, start.status().message());
    capture_queue_->Close();
    return;
  }
  StartSelectionCopy();
  CaptureHandler handler(*this);
  auto backoff = std::chrono::milliseconds(200);
  StartPosition from = *start;
  std::string from_gtid_state = start_gtid_state_;
  while (!stop_) {
    SourceOptions so;
    so.url = source_cfg_->endpoint;
    // A catch-up reads beside its pipeline: with an id the source picks at
    // random (ids near the configured one may be real replicas').
    so.server_id = catching_up_ ? 0 : ReplicaServerId(source_cfg_->server_id, server_id_offset_, cfg_.epoch);
    so.heartbeat = std::chrono::milliseconds(source_cfg_->heartbeat_ms);
    so.start = from;
    so.start_gtid_state = from_gtid_state;
    so.reconnect_timeout = std::chrono::seconds(30);
    if (IsPostgresSource(*source_cfg_)) {
      so.default_slot = DefaultSlotName(cfg_);
      if (!catch_up_slot_.empty()) {
        // The pipeline's publication, through the copy of its slot.
        so.url.params["publication"] = PublicationOf(cfg_, *source_cfg_);
        so.url.params["slot"] = catch_up_slot_;
      }
      so.tables = pg_tables_;
      // ddl: ignore: the table's schema changes are taken as they come.
      for (const std::string& name : pg_tables_) {
        size_t dot = name.find('.');
        const transform::MappingRule* rule = mapper_->RuleFor(name.substr(0, dot), name.substr(dot + 1));
        if (rule != nullptr && rule->ddl == transform::DdlPolicy::kIgnore) so.unchecked_tables.push_back(name);
      }
      so.rule_patterns = PostgresRulePatterns(cfg_);  // tables the rules select that appear later
      // The slot confirms what every target has applied (failed ones
      // included: their checkpoint stays where a restart resumes).
      so.applied_lsn = [this] {
        if (hold_slot_) return uint64_t{1};  // below what the slot confirmed: it confirms nothing more
        uint64_t least = UINT64_MAX;
        for (auto& t : targets_) {
          // One set aside before it opened holds the slot where it is: its
          // checkpoint, unknown this run, may be anywhere behind.
          if (t->set_aside && !t->sink) return uint64_t{1};
          if (t->sink) least = std::min<uint64_t>(least, t->applied_lsn);
        }
        return least == UINT64_MAX ? 0 : least;
      };
    }
    // Two-way sync: the peer's transactions do not echo back; a target that
    // is the source server: nor do the pipeline's own.
    so.drop_marked_by.clear();
    if (!cfg_.peer.empty()) so.drop_marked_by.push_back(cfg_.peer);
    if (drops_own_transactions_) so.drop_marked_by.push_back(cfg_.name);
    so.load_schema_history = [this] {
      return settings_->WithPrefix(std::string(mysql::SchemaHistory::kKeyPrefix));
    };
    so.save_schema_history = [this](const std::string& key, const std::string& value) {
      return value.empty() ? settings_->Delete(key) : settings_->Set(key, value);
    };
    // `running` once the stream delivers events, not merely once a
    // connection is attempted: a source that fails each time stays `retrying`.
    bool streamed = false;
    so.on_reconnect = [this, &streamed](const Status& st) {
      source_live_ = st.ok();
      streamed |= st.ok();
      spdlog::debug("pipeline {}: source {} reconnect: {}", cfg_.name, cfg_.source, st.ok() ? "ok" : st.message());
      if (st.ok()) {
        SetState(PipelineState::kRunning);
      } else {
        SetState(PipelineState::kRetrying, fmt::format("source {}: {}", cfg_.source, st.message()));
      }
    };
    auto opened = OpenSource(so);
    if (!opened.ok()) {
      SetState(PipelineState::kFailed, opened.status().message());
      break;
    }
    Source& source = **opened;
    Status st = source.Run(handler, stop_);
    (void)handler.Flush();  // fails only when stopping
    source_live_ = false;
    if (streamed) backoff = std::chrono::milliseconds(200);  // an outage after streaming is news, not a loop
    if (stop_ || st.code() == StatusCode::kCancelled) break;
    if (st.code() == StatusCode::kEndOfStream) st = Status::Retryable(StatusCode::kIoError, "{}", st.message());
    if (!st.retryable()) {
      // Another server behind the source's address: its owner starts the
      // pipeline again, from the targets' GTID states there (once it had
      // streamed, so that a server that fails the check at once is no loop).
      // A PostgreSQL table new to the pipeline: a new start selects it (once
      // for a given table: a start that does not select it fails instead).
      const bool follow = st.code() == StatusCode::kSourceChanged && streamed && !restarted_for_.contains(st.message());
      if (follow) restarted_for_.insert(st.message());
      if (follow && IsPostgresSource(*source_cfg_)) revalidate_ = true;  // the next Start selects the tables anew
      spdlog::error("pipeline {}: capture stopped: {}{}", cfg_.name, st.message(),
                    !follow                           ? ""
                    : IsPostgresSource(*source_cfg_) ? "; restarting the pipeline to select it"
                                                      : "; restarting the pipeline to follow it by GTID");
      SetState(PipelineState::kFailed, fmt::format("source {}: {}", cfg_.source, st.message()));
      stop_ = true;
      if (follow) {
        RequestRestart(IsPostgresSource(*source_cfg_) ? "a table new to its publication is to be selected"
                                                      : "its source is another server now (a failover?)");
      }
      break;
    }
    spdlog::warn("pipeline {}: source unavailable, retrying in {} ms: {}", cfg_.name, backoff.count(), st.message());
    SetState(PipelineState::kRetrying, fmt::format("source {}: {}", cfg_.source, st.message()));
    SleepUnlessStopping(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
    // Continue after the last transaction handed on; the cut one is suppressed.
    handler.PrepareRestart();
    if (!handler.last_commit().empty()) {
      auto p = StartPosition::Parse(handler.last_commit());
      if (p.ok()) {
        from = *p;
        from_gtid_state = handler.last_gtid_state();
      }
    }
  }
  capture_queue_->Close();
}

void Pipeline::TransformLoop() {
  auto work = std::make_shared<TargetWork>();
  auto publish = [&](std::shared_ptr<TargetWork> w) {
    for (auto& t : targets_) {
      if (t->failed || t->slow) continue;
      std::shared_ptr<const TargetWork> item = w;
      auto pushed = t->queue->PushFor(item, w->bytes, std::chrono::milliseconds(0));
      if (pushed != BoundedQueue<std::shared_ptr<const TargetWork>>::PushResult::kTimedOut) continue;
      // Full: waited for, a slice at a time, unless this target holds the
      // others back for so long that it is set aside (detach_after).
      while (!t->failed) {
        const auto t0 = Clock::now();
        pushed = t->queue->PushFor(item, w->bytes, std::chrono::milliseconds(250));
        if (pushed != BoundedQueue<std::shared_ptr<const TargetWork>>::PushResult::kTimedOut) {
          (void)SetAsideIfSlow(*t, Clock::now() - t0);
          break;
        }
        if (SetAsideIfSlow(*t, Clock::now() - t0)) break;
      }
    }
  };
  auto flush_changes = [&] {
    if (work->changes.empty()) return;
    // The transaction's start, as the last row's position names it (once
    // per piece, not per row).
    work->resume_position = work->pos.ResumePoint();
    publish(std::move(work));
    work = std::make_shared<TargetWork>();
  };
  Gauge& capture_queue_bytes = metrics_.queue_bytes.WithLabels({{"pipeline", cfg_.name}, {"queue", "capture"}});
  Counter& out_rows = metrics_.rows.WithLabels({{"pipeline", cfg_.name}, {"stage", "transform"}, {"target", ""}});
  Counter& filtered = metrics_.filtered.WithLabels({{"pipeline", cfg_.name}});
  // Events are taken in groups (one lock per group, not per row).
  std::vector<std::shared_ptr<ChangeEvent>> events;
  size_t next = 0;
  int64_t received = 0;
  while (true) {
    if (next == events.size()) {
      events.clear();
      next = 0;
      size_t n = capture_queue_->PopAll(events, 256, std::chrono::milliseconds(100));
      capture_queue_bytes.Set(static_cast<double>(capture_queue_->bytes()));
      if (n == 0) {
        if (capture_queue_->closed() && capture_queue_->size() == 0) break;
        continue;
      }
      received = WallMs();  // once per group: they arrived together
      mapper_->RunScriptsAhead(events);  // the group's Lua scripts, on several threads at once
    }
    std::shared_ptr<ChangeEvent> ev = std::move(events[next++]);
    switch (ev->kind) {
      case ChangeEvent::Kind::kRow: {
        size_t before = work->changes.size();
        Status st = mapper_->Transform(ev, work->changes);
        if (!st.ok() && mapper_->last_error_from_script() && cfg_.on_error == OnError::kSkip) {
          // on_error: skip: the row a script failed on goes to the skip log, the rest flows on.
          work->changes.resize(before);
          nlohmann::json rec = {{"pipeline", cfg_.name},
                                {"table", fmt::format("{}.{}", ev->table->db, ev->table->table)},
                                {"pos", ev->pos.ToString()},
                                {"error", st.message()}};
          Status logged = sink::AppendDurably(cfg_.skip_log, rec.dump() + "\n");
          if (logged.ok()) {
            spdlog::warn("pipeline {}: on_error: skip: {}", cfg_.name, st.message());
            // Looked up here, on this rare path: a series made up front would
            // read 0 beside each target's own skipped count.
            metrics_.errors.WithLabels({{"pipeline", cfg_.name}, {"target", ""}, {"kind", "skipped"}}).Inc();
            break;
          }
          st = logged;
        }
        if (!st.ok()) {
          std::string msg = fmt::format("pipeline {}: {}", cfg_.name, st.message());
          spdlog::error("{}", msg);
          SetState(PipelineState::kFailed, msg);
          stop_ = true;
          capture_queue_->Close();
          for (auto& t : targets_) t->queue->Close();
          return;
        }
        size_t added = work->changes.size() - before;
        if (added == 0) {
          filtered.Inc();
          break;
        }
        out_rows.Inc(added);
        for (size_t i = before; i < work->changes.size(); ++i) {
          work->has_cascades |= work->changes[i].kind == SinkChange::Kind::kCascade;
          work->has_sequences |= work->changes[i].table->sequence;
        }
        work->kind = TargetWork::Kind::kChanges;
        work->pos = ev->pos;
        if (work->ts_ms == 0) {
          work->ts_ms = ev->ts_ms;
          work->received_ms = received;
        }
        work->bytes += ev->MemoryBytes() + added * sizeof(SinkChange);
        if (work->changes.size() >= 512) flush_changes();
        break;
      }
      case ChangeEvent::Kind::kCommit:
      case ChangeEvent::Kind::kDdl:
      case ChangeEvent::Kind::kHeartbeat: {
        flush_changes();
        auto w = std::make_shared<TargetWork>();
        w->kind = ev->kind == ChangeEvent::Kind::kCommit ? TargetWork::Kind::kCommit
                  : ev->kind == ChangeEvent::Kind::kDdl  ? TargetWork::Kind::kDdl
                                                         : TargetWork::Kind::kHeartbeat;
        w->pos = ev->pos;
        w->resume_position = ev->kind == ChangeEvent::Kind::kCommit
                                 ? ev->next_position
                                 : ev->pos.ResumePoint();
        w->gtid_state = ev->gtid_state;
        w->ddl_db = ev->ddl_db;
        w->ddl_query = ev->ddl_query;
        w->ddl_session = ev->ddl_session;
        // Foreign keys added or dropped while running: the actions followed
        // from here on are the source's keys after the statement.
        if (ev->kind == ChangeEvent::Kind::kDdl && !IsPostgresSource(*source_cfg_) &&
            source_cfg_->endpoint.scheme != "file" && MayChangeForeignKeys(ev->ddl_query)) {
          ReplanCascades();
        }
        if (ev->kind == ChangeEvent::Kind::kDdl && ev->table) {
          auto m = mapper_->Map(ev->table);
          if (m.ok() && (*m)->selected()) {
            w->ddl_table = (*m)->target;
            for (uint32_t i = 0; i < (*m)->source_index.size(); ++i) {
              const uint32_t from = (*m)->source_index[i];
              if (from >= ev->ddl_first_added) w->ddl_added.push_back(i);
              if (std::find(ev->ddl_retyped.begin(), ev->ddl_retyped.end(), from) != ev->ddl_retyped.end()) {
                w->ddl_retyped.push_back(i);
              }
            }
          }
        }
        w->ts_ms = ev->ts_ms;
        w->received_ms = received;
        w->bytes = sizeof(TargetWork) + w->ddl_query.size();
        publish(std::move(w));
        break;
      }
    }
  }
  for (auto& t : targets_) t->queue->Close();
}

void Pipeline::SetInDoubt(bool in_doubt) {
  if (in_doubt_.exchange(in_doubt) == in_doubt) return;
  {
    std::lock_guard lock(mu_);
    for (auto& t : targets_) {
      if (t->catch_up) t->catch_up->SetInDoubt(in_doubt);
    }
  }
  if (in_doubt) {
    spdlog::warn("pipeline {}: ownership in doubt (epoch {}): targets that cannot check the epoch pause", cfg_.name,
                 cfg_.epoch);
  } else {
    spdlog::info("pipeline {}: ownership confirmed (epoch {}): paused targets resume", cfg_.name, cfg_.epoch);
  }
}

void Pipeline::WaitWhileInDoubt(Target& t, bool reconnecting) {
  if (!in_doubt_ || stop_ || !t.sink) return;
  if (t.sink->fenced() && !(reconnecting && t.sink->reconnect_takes_fence())) return;
  PipelineState before;
  std::string before_error;
  {
    std::lock_guard lock(mu_);
    before = t.state;
    before_error = t.last_error;
    NoteTarget(t, PipelineState::kPaused,
               fmt::format("pipeline {} target {}: ownership in doubt (epoch {}); paused, as the target {}",
                           cfg_.name, t.cfg->name, cfg_.epoch,
                           t.sink->fenced() ? "would take the fence from a successor if it reconnected now"
                                            : "cannot check the epoch"));
  }
  spdlog::warn("pipeline {} target {}: paused while the ownership is in doubt", cfg_.name, t.cfg->name);
  while (in_doubt_ && !stop_) {
    PublishDelay(t);
    SleepUnlessStopping(std::chrono::milliseconds(50));
  }
  std::lock_guard lock(mu_);
  if (t.state == PipelineState::kPaused) {
    NoteTarget(t, before, before_error);
  }
}

Status Pipeline::CallSink(Target& t, const std::function<Status()>& call) {
  auto backoff = std::chrono::milliseconds(100);
  const uint64_t applied_before = t.sink->rows_applied();
  while (!stop_) {
    WaitWhileInDoubt(t);
    if (stop_) break;
    Status st = call();
    if (st.ok()) {
      std::lock_guard lock(mu_);
      NoteTarget(t, PipelineState::kRunning, "");
      return st;
    }
    if (st.code() == StatusCode::kTargetRewound) return StartAgainFromRewoundTarget(t, st);
    if (!st.retryable()) {
      // Stopped inside the batch (on_error: stop): what it applied before
      // the rejected transaction is on the target; say so.
      if (!t.unacked.empty()) {
        // Whole batches the sink recorded, and what it applied of the one
        // that failed (on_error: stop applies the transactions before the
        // rejected change).
        const size_t acknowledged = ReportAcknowledged(t);
        const uint64_t applied = t.sink->rows_applied() - applied_before;
        std::lock_guard lock(mu_);
        if (applied > acknowledged) t.rows_applied += applied - acknowledged;
        NoteApplied(t);
        return st;
      }
      std::lock_guard lock(mu_);
      t.rows_applied += t.sink->rows_applied() - applied_before;
      NoteApplied(t);
      return st;
    }
    t.retryable->Inc();
    WarnRetry(t, st.message(), backoff);
    {
      std::lock_guard lock(mu_);
      NoteTarget(t, PipelineState::kRetrying, st.message());
    }
    if (SetAsideIfHoldingOthers(t)) return Status::Error(StatusCode::kCancelled, "set aside");
    // In slices that keep the delay gauge live: the lag an alert watches
    // must grow while the target is down, not freeze at its last value.
    for (auto until = Clock::now() + backoff; !stop_ && Clock::now() < until;) {
      PublishDelay(t);
      SleepUnlessStopping(std::min(std::chrono::milliseconds(200), std::chrono::ceil<std::chrono::milliseconds>(
                                                                        until - Clock::now())));
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
    WaitWhileInDoubt(t, /*reconnecting=*/true);
    if (stop_) break;
    Status rc = t.sink->Reconnect();
    spdlog::debug("pipeline {} target {}: reconnect: {}", cfg_.name, t.cfg->name, rc.ok() ? "ok" : rc.message());
    if (rc.code() == StatusCode::kTargetRewound) return StartAgainFromRewoundTarget(t, rc);
    if (!rc.ok() && !rc.retryable()) return rc;
  }
  return Status::Error(StatusCode::kCancelled, "stopping");
}

Status Pipeline::StartAgainFromRewoundTarget(Target& t, const Status& why) {
  // What the target lost is read again from the source: a new start takes
  // each target from its own checkpoint (the others, ahead, skip it). Until
  // then nothing more is applied here: on top of the gap it would stay.
  const std::string message(WithoutTargetPrefix(why.message(), cfg_.name, t.cfg->name));
  spdlog::warn("pipeline {} target {}: {}", cfg_.name, t.cfg->name, message);
  {
    std::lock_guard lock(mu_);
    NoteEvent(t.cfg->name, "warning", message);
    NoteTarget(t, PipelineState::kRetrying, message);
  }
  RequestRestart(fmt::format("target {} went back", t.cfg->name));
  while (!stop_) SleepUnlessStopping(std::chrono::milliseconds(100));
  return Status::Error(StatusCode::kCancelled, "stopping");
}

Status Pipeline::SettleSink(Target& t, bool wait) {
  if (t.unacked.empty()) return Status::Ok();
  RETURN_IF_ERROR(CallSink(t, [&] { return wait ? t.sink->Flush() : t.sink->Poll(); }));
  ReportAcknowledged(t);
  return Status::Ok();
}

void Pipeline::RefreshPending(Target& t) {
  // The oldest change not applied: in the first batch in flight that has
  // one, else in the batch being gathered. Per table only for the tables of
  // the batches just settled: no other table's oldest change moved.
  int64_t oldest = t.batch_oldest_ms;
  for (const Target::Unacked& u : t.unacked) {
    if (u.oldest_ms == 0) continue;
    oldest = u.oldest_ms;
    break;
  }
  std::lock_guard lock(mu_);
  t.oldest_pending_ms = oldest;
  for (Target::TableStats* ts : t.settled_tables) {
    int64_t table_oldest = ts->batch_oldest_ms;
    for (const Target::Unacked& u : t.unacked) {
      auto it = std::find_if(u.tables.begin(), u.tables.end(), [&](const auto& e) { return e.first == ts; });
      if (it == u.tables.end()) continue;
      table_oldest = it->second;
      break;
    }
    ts->oldest_pending_ms = table_oldest;
    if (!table_oldest) ts->delay->Set(0);
  }
}

void Pipeline::NoteApplied(Target& t) {
  const sink::Checkpoint& c = t.sink->checkpoint();
  if (c.global.empty()) return;
  t.applied_position = c.global.ToString();
  if (!c.gtid_state.empty()) t.applied_gtid = c.gtid_state;
}

size_t Pipeline::ReportAcknowledged(Target& t) {
  CountSinkOutcomes(t);
  // A sink with nothing in flight holds every batch handed over.
  const bool all = !t.sink->in_flight();
  const StreamPos& recorded = t.sink->checkpoint().global;
  size_t rows = 0, flown = 0;
  std::optional<sink::BatchEnd> last;
  std::vector<Target::TableStats*>& settled = t.settled_tables;
  settled.clear();
  while (!t.unacked.empty() && (all || (!recorded.empty() && t.unacked.front().end.pos <= recorded))) {
    rows += t.unacked.front().rows;
    if (t.unacked.front().in_flight) flown += t.unacked.front().rows;
    for (const auto& [ts, oldest] : t.unacked.front().tables) settled.push_back(ts);
    last = std::move(t.unacked.front().end);
    t.unacked.pop_front();
  }
  RefreshPending(t);
  if (!last) return 0;
  if (flown > 0) {
    spdlog::debug("pipeline {} target {}: applied {} changes up to {}", cfg_.name, t.cfg->name, flown,
                  last->pos.ToString());
  }
  if (uint64_t lsn = 0; LsnPosition(last->resume_position, &lsn)) t.applied_lsn = lsn;
  {
    std::lock_guard lock(mu_);
    t.applied_position = last->pos.ToString();
    if (!last->gtid_state.empty()) t.applied_gtid = last->gtid_state;
    t.rows_applied += rows;
    // Apply rate over windows of at least a second.
    auto now = Clock::now();
    t.window_rows += rows;
    double window = std::chrono::duration<double>(now - t.window_start).count();
    if (window >= 1.0) {
      t.rows_per_second = static_cast<double>(t.window_rows) / window;
      t.window_rows = 0;
      t.window_start = now;
    }
  }
  // The store only mirrors the target's own checkpoint (for status): once a
  // second is enough, and its fsync stays off the apply path.
  if (Clock::now() - t.last_store_write >= std::chrono::seconds(1)) {
    SaveStoreCheckpoint(t, *last);
    t.last_store_write = Clock::now();
  }
  return rows;
}

void Pipeline::CountSinkOutcomes(Target& t) {
  // Skipped rows are counted, so that a skip is never silent in the metrics
  // either; a sink with batches in flight counts them when it settles them.
  if (uint64_t skipped = t.sink->rows_skipped(); skipped > t.skipped_counted) {
    t.skipped->Inc(skipped - t.skipped_counted);
    t.skipped_counted = skipped;
  }
  for (const auto& [key, n] : t.sink->conflicts()) {
    uint64_t& counted = t.conflicts_counted[key];
    if (n <= counted) continue;
    metrics_.conflicts.WithLabels({{"pipeline", cfg_.name}, {"table", key.first}, {"resolution", key.second}})
        .Inc(n - counted);
    std::lock_guard lock(mu_);
    t.conflicts += n - counted;
    counted = n;
  }
}

Status Pipeline::FlushBatch(Target& t, std::vector<SinkChange>& batch, const sink::BatchEnd& end) {
  // Tallied before the call, counted once it succeeded: the sink may take
  // the changes over (ApplyBatchTakingOver). Runs of one table share a tally.
  std::vector<Target::TableRun>& runs = t.runs;
  runs.clear();
  size_t bytes = 0;
  for (const SinkChange& c : batch) {
    if (c.kind == SinkChange::Kind::kCascade) continue;  // counted as the parent's change
    Target::TableStats& ts = t.StatsFor(c.table, metrics_, cfg_.name, mu_);
    if (runs.empty() || runs.back().stats != &ts) runs.push_back({&ts});
    using K = SinkChange::Kind;
    bool inserted = c.kind == K::kInsert || (c.kind == K::kUpsert && c.origin && c.origin->op == Op::kInsert);
    ++(c.kind == K::kDelete || c.kind == K::kDeleteExact ? runs.back().deletes
       : inserted                                        ? runs.back().inserts
                                                         : runs.back().updates);
    for (const auto& v : c.values) bytes += v.s.size() + 8;
  }
  const size_t rows = batch.size();
  auto t0 = Clock::now();
  RETURN_IF_ERROR(CallSink(t, [&] {
    t0 = Clock::now();
    return batch.empty() ? t.sink->AdvanceCheckpoint(end) : t.sink->ApplyBatchTakingOver(batch, end);
  }));
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  spdlog::debug("pipeline {} target {}: {} {} changes up to {} in {:.1f} ms", cfg_.name, t.cfg->name,
                t.sink->in_flight() ? "handed over" : "applied", rows, end.pos.ToString(), secs * 1000);
  Target::Unacked handed{end, rows, t.batch_oldest_ms, {}};
  t.batch_oldest_ms = 0;
  for (const Target::TableRun& r : runs) {
    if (r.inserts) r.stats->inserts->Inc(r.inserts);
    if (r.updates) r.stats->updates->Inc(r.updates);
    if (r.deletes) r.stats->deletes->Inc(r.deletes);
    if (r.stats->batch_oldest_ms) handed.tables.emplace_back(r.stats, r.stats->batch_oldest_ms);
    r.stats->batch_oldest_ms = 0;
  }
  if (rows > 0) {
    t.apply_seconds->Observe(secs);
    t.batch_rows->Observe(static_cast<double>(rows));
    t.rows->Inc(rows);
    t.bytes->Inc(bytes);
  }
  handed.in_flight = t.sink->in_flight();
  t.unacked.push_back(std::move(handed));
  ReportAcknowledged(t);
  return Status::Ok();
}

// Sinks that do not take MySQL DDL get every statement on a selected table
// (or on a database some same-name rule selects tables in) as it is, with
// the table it maps to; each does what its kind can with it.
Status Pipeline::RouteDdl(Target& t, const TargetWork& w, const mysql::DdlStatement& d,
                          const sink::BatchEnd& end) {
  using K = mysql::DdlStatement::Kind;
  auto skip = [&]() { return FlushBatch(t, *std::make_unique<std::vector<SinkChange>>(), end); };
  sink::DdlChange ddl;
  ddl.db = w.ddl_db;
  ddl.query = w.ddl_query;
  ddl.session = w.ddl_session;
  ddl.ts_ms = w.ts_ms;
  ddl.pos = w.pos;
  if (d.kind == K::kOther) return skip();
  if (d.kind == K::kCreateSequence || d.kind == K::kAlterSequence || d.kind == K::kDropSequence) {
    return skip();  // no sequences there: their changes are left out too (LeaveOutSequences)
  }
  if (d.kind == K::kCreateDatabase || d.kind == K::kDropDatabase) {
    for (const TableRule& r : cfg_.tables) {
      if (!r.to.empty() || r.is_regex) continue;
      if (GlobMatch(r.match.substr(0, r.match.find('.')), d.db)) {
        ddl.target_db = d.db;
        return t.sink->ApplyDdl(ddl, end);
      }
    }
    return skip();
  }
  // Targets whose tables keep rows (PostgreSQL, ClickHouse), fed by a
  // MySQL/MariaDB server.
  const std::string& kind = t.cfg->endpoint.scheme;
  const bool keeps_rows = kind == "postgres" || kind == "postgresql" || kind == "clickhouse";
  const bool mysql_server_source = !IsPostgresSource(*source_cfg_) && source_cfg_->endpoint.scheme != "file";
  if (keeps_rows && mysql_server_source && !d.renames.empty()) {
    std::vector<TableSwap> swaps = FindTableSwaps(d);
    // Only swaps (and renames of tables no rule selects): an online schema
    // change (see HandleRename); the kept table takes the new columns.
    size_t selected = 0;
    for (const auto& r : d.renames) {
      selected += mapper_->RuleFor(r.db, r.table) != nullptr || mapper_->RuleFor(r.new_db, r.new_table) != nullptr;
    }
    if (!swaps.empty() && selected == 2 * swaps.size()) return RouteTableSwaps(t, w, swaps, end);
  }
  std::vector<std::pair<std::string, std::string>> named = d.tables;
  for (const auto& r : d.renames) named.emplace_back(r.db, r.table);
  if (named.empty() && !d.table.empty()) named.emplace_back(d.db, d.table);
  // `DROP TABLE a, b` reaches the sink once per selected table, and so does
  // `RENAME TABLE a TO b, c TO d` where tables keep rows (as a statement of
  // its own for each pair, in order: the sinks rename one table at a time);
  // other statements once, for their first selected table.
  const bool split_renames = keeps_rows && d.kind == K::kRenameTable && d.renames.size() > 1;
  const bool per_table = d.kind == K::kDropTable || split_renames;
  if (split_renames) {
    named.clear();
    for (const auto& r : d.renames) named.emplace_back(r.db, r.table);
  }
  std::vector<sink::DdlChange> routed;
  for (size_t n = 0; n < named.size(); ++n) {
    const auto& [db, table] = named[n];
    if (split_renames) {
      const auto& r = d.renames[n];
      ddl.query = fmt::format("RENAME TABLE {}.{} TO {}.{}", mysql::QuoteIdent(r.db), mysql::QuoteIdent(r.table),
                              mysql::QuoteIdent(r.new_db), mysql::QuoteIdent(r.new_table));
    }
    const transform::MappingRule* rule = mapper_->RuleFor(db, table);
    if (rule == nullptr) continue;
    if (rule->ddl == transform::DdlPolicy::kIgnore) {
      if (per_table) continue;
      return skip();
    }
    if (rule->ddl == transform::DdlPolicy::kStop) {
      return Status::Error(StatusCode::kNotSupported, "DDL on `{}.{}` @ {}: stopped as configured (ddl: stop): {}", db,
                           table, w.pos.ToString(), w.ddl_query.substr(0, 300));
    }
    std::string dest = rule->to.empty() ? db + "." + table : transform::TableMapper::ExpandTemplate(rule->to, db, table);
    if (d.kind == K::kRenameTable && kind != "kafka" && kind != "file") {
      // A table that holds other source tables' rows too keeps its name.
      if (std::string shared = SharedTargetTable(t, *rule, dest); !shared.empty()) {
        spdlog::info("pipeline {} target {}: `{}.{}` was renamed: target table `{}` kept as it is ({})", cfg_.name,
                     t.cfg->name, db, table, dest, shared);
        if (per_table) continue;
        return skip();
      }
    }
    size_t dot = dest.find('.');
    ddl.target_db = dest.substr(0, dot);
    ddl.target_table = dest.substr(dot + 1);
    ddl.same_columns = rule->columns.empty() && rule->rename_columns.empty();
    ddl.one_to_one = ddl.target_db == db && ddl.target_table == table && ddl.same_columns;
    ddl.table = w.ddl_table;
    ddl.added = w.ddl_added;
    // Tables that keep rows (and Redis hashes) give the columns an ALTER
    // adds the value the rows already there hold on the source.
    if ((keeps_rows || kind == "redis") && mysql_server_source && d.kind == K::kAlterTable &&
        !d.added_columns.empty() && !w.ddl_table) {
      auto added = AddedColumnsOnSource(t.cfg->name, &t.interrupt, *rule, db, table, d.added_columns, w.pos);
      if (!added.ok()) return added.status().WithContext(fmt::format("DDL @ {}", w.pos.ToString()));
      ddl.added_columns = std::move(added).value();
    }
    routed.push_back(ddl);
    if (!per_table) break;
  }
  if (routed.empty()) return skip();  // DDL of tables no rule selects is never applied
  // Kafka topics and files carry the statement itself to their readers;
  // tables elsewhere keep the rows.
  const std::string& scheme = t.cfg->endpoint.scheme;
  if (d.partition_rows && scheme != "kafka" && scheme != "file") {
    NotePartitionRowsKept(t, w, routed.front().target_db + "." + routed.front().target_table,
                          "a " + scheme + " table has no such partitions");
  }
  // Each table but the last under a position of its own inside the
  // statement's (#0, #1, ... before its #end), so that a replay after a crash
  // skips exactly the tables already done.
  for (size_t i = 0; i + 1 < routed.size(); ++i) {
    sink::BatchEnd part = end;
    part.pos.index = i;
    RETURN_IF_ERROR(t.sink->ApplyDdl(routed[i], part));
  }
  return t.sink->ApplyDdl(routed.back(), end);
}

Status Pipeline::RouteTableSwaps(Target& t, const TargetWork& w, const std::vector<TableSwap>& swaps,
                                 const sink::BatchEnd& end) {
  std::vector<sink::DdlChange> changes;
  for (const TableSwap& swap : swaps) {
    const std::string where = fmt::format("DDL @ {}: `{}.{}` swapped with `{}.{}` (an online schema change)",
                                          w.pos.ToString(), swap.out->db, swap.out->table, swap.in->db,
                                          swap.in->table);
    if (swap.rule->ddl == transform::DdlPolicy::kStop) {
      return Status::Error(StatusCode::kNotSupported, "{}: stopped as configured (ddl: stop): {}", where,
                           w.ddl_query.substr(0, 300));
    }
    if (swap.rule->ddl == transform::DdlPolicy::kIgnore) continue;
    std::string dest = swap.rule->to.empty()
                           ? swap.out->db + "." + swap.out->table
                           : transform::TableMapper::ExpandTemplate(swap.rule->to, swap.out->db, swap.out->table);
    size_t dot = dest.find('.');
    auto change = SwapDdlForRowTables(*t.sink, t.cfg->name, &t.interrupt, *swap.rule, swap.out->db, swap.out->table,
                                      dest.substr(0, dot), dest.substr(dot + 1), w.pos);
    if (!change.ok()) return change.status().WithContext(where);
    if (!change->has_value()) continue;
    (*change)->ts_ms = w.ts_ms;
    spdlog::info("pipeline {} target {}: {}: target table `{}` kept, given the new columns: {}", cfg_.name,
                 t.cfg->name, where, dest, (*change)->query);
    changes.push_back(std::move(**change));
  }
  if (changes.empty()) return FlushBatch(t, *std::make_unique<std::vector<SinkChange>>(), end);
  for (size_t i = 0; i + 1 < changes.size(); ++i) {
    sink::BatchEnd part = end;
    part.pos.index = i;
    RETURN_IF_ERROR(t.sink->ApplyDdl(changes[i], part));
  }
  return t.sink->ApplyDdl(changes.back(), end);
}

void Pipeline::NotePartitionRowsKept(Target& t, const TargetWork& w, const std::string& dest, std::string_view why) {
  std::string message = fmt::format(
      "DDL @ {}: {} removes (or swaps in) a partition's rows without row events in the binlog, and target {} keeps "
      "its own rows of `{}` ({}); `sluice check` lists the difference, and --repair makes the target a mirror again",
      w.pos.ToString(), w.ddl_query.substr(0, 200), t.cfg->name, dest, why);
  spdlog::warn("pipeline {}: {}", cfg_.name, message);
  std::lock_guard lock(mu_);
  NoteEvent(t.cfg->name, "warning", message);
}

std::string Pipeline::SharedTargetTable(const Target& t, const transform::MappingRule& rule, const std::string& dest) {
  if (MergesTables(rule)) return fmt::format("its rule at {} merges several source tables into it", rule.origin);
  for (const TableRule& r : cfg_.tables) {
    if (r.match == rule.match || r.is_regex) continue;
    const std::string& to = r.to.empty() ? r.match : r.to;
    if (to.find_first_of("$*?[") == std::string::npos && strcasecmp(to.c_str(), dest.c_str()) == 0) {
      return fmt::format("the rule at {}:{}:{} writes it too", r.mark.file, r.mark.line, r.mark.column);
    }
  }
  const size_t dot = dest.find('.');
  if (OtherWriters others = OtherWritersOf(config_, cfg_, t.cfg->name)) {
    std::string other = others(dest.substr(0, dot), dest.substr(dot + 1));
    if (!other.empty()) return fmt::format("pipeline {} writes it too", other);
  }
  return "";
}

std::optional<Status> Pipeline::KeepSharedTargetTables(Target& t, const TargetWork& w, const mysql::DdlStatement& d,
                                                       const sink::BatchEnd& end) {
  using K = mysql::DdlStatement::Kind;
  using Op = mysql::DdlStatement::ColumnChange::Op;
  const std::string& scheme = t.cfg->endpoint.scheme;
  // Kafka topics and files carry the statement itself to their readers.
  if (scheme == "kafka" || scheme == "file") return std::nullopt;
  // Columns dropped from one shard (a schema change rolled out shard by
  // shard): the others' rows still carry them, which the target table
  // would refuse once they are gone, so they stay.
  const bool drops_columns = d.kind == K::kAlterTable && d.columns_followed && !d.column_changes.empty() &&
                             std::all_of(d.column_changes.begin(), d.column_changes.end(),
                                         [](const auto& c) { return c.op == Op::kDrop; });
  if (drops_columns && !d.tables.empty()) {
    const auto& [db, table] = d.tables.front();
    const transform::MappingRule* rule = mapper_->RuleFor(db, table);
    if (rule == nullptr || rule->ddl == transform::DdlPolicy::kIgnore || rule->ddl == transform::DdlPolicy::kStop) {
      return std::nullopt;
    }
    const std::string dest =
        rule->to.empty() ? db + "." + table : transform::TableMapper::ExpandTemplate(rule->to, db, table);
    const std::string why = SharedTargetTable(t, *rule, dest);
    if (why.empty()) return std::nullopt;
    std::string message = fmt::format(
        "DDL @ {}: `{}` is not applied to `{}` on target {}, which holds other source tables' rows too ({}): their "
        "rows may still carry the column; drop it there by hand once no source table has it",
        w.pos.ToString(), w.ddl_query.substr(0, 200), dest, t.cfg->name, why);
    spdlog::warn("pipeline {}: {}", cfg_.name, message);
    {
      std::lock_guard lock(mu_);
      NoteEvent(t.cfg->name, "warning", message);
    }
    return FlushBatch(t, *std::make_unique<std::vector<SinkChange>>(), end);
  }
  if (d.kind != K::kTruncateTable && d.kind != K::kDropTable) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> rest;
  for (const auto& [db, table] : d.tables) {
    const transform::MappingRule* rule = mapper_->RuleFor(db, table);
    if (rule == nullptr || rule->ddl == transform::DdlPolicy::kIgnore || rule->ddl == transform::DdlPolicy::kStop) {
      rest.emplace_back(db, table);
      continue;
    }
    const std::string dest =
        rule->to.empty() ? db + "." + table : transform::TableMapper::ExpandTemplate(rule->to, db, table);
    const std::string why = SharedTargetTable(t, *rule, dest);
    if (why.empty()) {
      rest.emplace_back(db, table);
      continue;
    }
    std::string message = fmt::format(
        "DDL @ {}: `{}` is not applied to `{}` on target {}, which holds other source tables' rows too ({}): the rows "
        "of `{}.{}` stay there; `sluice check --repair` removes those no source table holds",
        w.pos.ToString(), w.ddl_query.substr(0, 200), dest, t.cfg->name, why, db, table);
    spdlog::warn("pipeline {}: {}", cfg_.name, message);
    std::lock_guard lock(mu_);
    NoteEvent(t.cfg->name, "warning", message);
  }
  if (rest.size() == d.tables.size()) return std::nullopt;
  if (rest.empty()) return FlushBatch(t, *std::make_unique<std::vector<SinkChange>>(), end);
  // `DROP TABLE a, b` of a shared and another table: the other alone.
  TargetWork others = w;
  others.ddl_query = "DROP TABLE IF EXISTS ";
  for (size_t i = 0; i < rest.size(); ++i) {
    others.ddl_query += fmt::format("{}{}.{}", i ? ", " : "", mysql::QuoteIdent(rest[i].first),
                                    mysql::QuoteIdent(rest[i].second));
  }
  return HandleDdl(t, others, end);
}

Status Pipeline::HandleDdl(Target& t, const TargetWork& w, sink::BatchEnd end) {
  mysql::DdlQuoting quoting;
  if (const auto& mode = w.ddl_session.sql_mode) {
    quoting.ansi_quotes = mode->find("ANSI_QUOTES") != std::string::npos;
    quoting.no_backslash_escapes = mode->find("NO_BACKSLASH_ESCAPES") != std::string::npos;
  }
  mysql::DdlStatement d = mysql::ParseDdl(w.ddl_query, w.ddl_db, quoting);
  using K = mysql::DdlStatement::Kind;
  auto skip = [&]() { return FlushBatch(t, *std::make_unique<std::vector<SinkChange>>(), end); };
  if (KeylessCopyHolds(t, d, end.pos)) {
    spdlog::info("pipeline {} target {}: `{}` left out: the copy of its table, read later, holds its effect",
                 cfg_.name, t.cfg->name, w.ddl_query.substr(0, 200));
    return skip();
  }
  if (auto kept = KeepSharedTargetTables(t, w, d, end)) return *kept;
  if (!t.sink->speaks_mysql_ddl()) return RouteDdl(t, w, d, end);
  if (d.kind == K::kOther || d.kind == K::kDropDatabase) return skip();
  if (d.kind == K::kCreateSequence || d.kind == K::kAlterSequence || d.kind == K::kDropSequence) {
    return HandleSequenceDdl(t, w, d, end);
  }
  if (d.kind == K::kCreateDatabase) {
    // Created when some same-name rule that applies DDL could select tables
    // in it, and the target lacks it (a user granted only its tables may
    // not run CREATE DATABASE, even of one that exists).
    for (const TableRule& r : cfg_.tables) {
      if (!r.to.empty() || r.is_regex || r.ddl == DdlMode::kIgnore) continue;
      std::string db_part = r.match.substr(0, r.match.find('.'));
      if (GlobMatch(db_part, d.db)) {
        ASSIGN_OR_RETURN(bool exists, t.sink->TargetDatabaseExists(d.db));
        if (exists) {
          spdlog::info("pipeline {} target {}: database `{}` already exists; CREATE skipped", cfg_.name,
                       t.cfg->name, d.db);
          return skip();
        }
        sink::DdlChange c = SqlDdl("", w.ddl_query);
        ASSIGN_OR_RETURN(c.session, TargetDdlSession(w, &t.interrupt));
        return t.sink->ApplyDdl(c, end);
      }
    }
    return skip();
  }
  if (!d.renames.empty()) return HandleRename(t, w, d, end);
  const transform::MappingRule* rule = nullptr;
  std::string table_name;
  for (const auto& [db, table] : d.tables) {
    if (const auto* r = mapper_->RuleFor(db, table)) {
      rule = r;
      table_name = db + "." + table;
      break;
    }
  }
  if (rule == nullptr) return skip();  // DDL of tables no rule selects is never applied
  transform::DdlPolicy policy = rule->ddl;
  if (policy == transform::DdlPolicy::kIgnore) return skip();
  // The caller's log line and the target's status name the pipeline and target.
  std::string where = fmt::format("DDL on `{}` @ {}", table_name, w.pos.ToString());
  if (policy == transform::DdlPolicy::kStop) {
    return Status::Error(StatusCode::kNotSupported, "{}: stopped as configured (ddl: stop): {}", where,
                         w.ddl_query.substr(0, 300));
  }
  bool same_name = rule->to.empty() || transform::TableMapper::ExpandTemplate(rule->to, d.db, d.table) ==
                                           d.db + "." + d.table;
  bool one_to_one = same_name && rule->columns.empty() && rule->rename_columns.empty();
  std::string dest =
      rule->to.empty() ? d.db + "." + d.table : transform::TableMapper::ExpandTemplate(rule->to, d.db, d.table);
  size_t dot = dest.find('.');
  std::string dest_db = dest.substr(0, dot), dest_table = dest.substr(dot + 1);
  if (d.partition_rows && !one_to_one) {
    NotePartitionRowsKept(t, w, dest, "the table is renamed or subset there, so the statement is not applied");
  }
  if (d.kind == K::kCreateTable) {
    // Users often create target tables themselves and start from earliest:
    // an existing table with the source's columns and types is fine (in any
    // order, and with columns of its own that rows leave to their defaults,
    // as a snapshot into it does), one lacking a column or typing it
    // otherwise is not.
    ASSIGN_OR_RETURN(auto existing, t.sink->TargetColumns(dest_db, dest_table));
    if (!existing.empty()) {
      std::vector<std::string> want;
      if (one_to_one && !d.create_like) want = d.columns;
      if (!one_to_one) {
        for (const auto& c : rule->columns.empty() ? d.columns : rule->columns) {
          std::string name = c;
          for (const auto& [from, to] : rule->rename_columns) {
            if (strcasecmp(from.c_str(), c.c_str()) == 0) name = to;
          }
          want.push_back(name);
        }
      }
      bool same = true;
      for (const std::string& name : want) {
        same = same && std::any_of(existing.begin(), existing.end(),
                                   [&](const std::string& e) { return strcasecmp(e.c_str(), name.c_str()) == 0; });
      }
      if (!same) {
        return Status::Error(StatusCode::kSchemaMismatch,
                             "{}: target table `{}` already exists with columns ({}) but the source creates ({}); "
                             "align the target table or drop it",
                             where, dest, fmt::join(existing, ", "), fmt::join(want, ", "));
      }
      // Same names; the types must agree too. The CREATE's own types are
      // not parsed: the source table as it is now stands for them.
      ASSIGN_OR_RETURN(auto source_cols, ReadColumnTypes(source_cfg_->endpoint, d.db, d.table));
      if (source_cols.empty()) {
        spdlog::info(
            "pipeline {} target {}: `{}` already exists with the same column names (types not compared: "
            "`{}` no longer exists on the source); CREATE skipped",
            cfg_.name, t.cfg->name, dest, table_name);
        return skip();
      }
      ASSIGN_OR_RETURN(auto target_cols, ReadColumnTypes(t.cfg->endpoint, dest_db, dest_table));
      const std::vector<ColumnType> mapped = MapColumns(*rule, source_cols, nullptr);
      std::string diff = ColumnDifferences(mapped, target_cols, /*extra_ok=*/true);
      if (!diff.empty()) {
        return Status::Error(StatusCode::kSchemaMismatch,
                             "{}: target table `{}` already exists with the same column names but other types: {}; "
                             "align the target table or drop it",
                             where, dest, diff);
      }
      std::vector<std::string> own, unfillable, wider;
      for (const ColumnType& c : target_cols) {
        auto m = std::find_if(mapped.begin(), mapped.end(),
                              [&](const ColumnType& m) { return strcasecmp(m.name.c_str(), c.name.c_str()) == 0; });
        if (m != mapped.end()) {
          if (strcasecmp(m->type.c_str(), c.type.c_str()) != 0) {
            wider.push_back(fmt::format("`{}` {} for {}", c.name, c.type, m->type));
          }
          continue;
        }
        own.push_back("`" + c.name + "`");
        if (c.needs_value) unfillable.push_back(fmt::format("`{}` ({} NOT NULL, no default)", c.name, c.type));
      }
      if (!unfillable.empty()) {
        return Status::Error(StatusCode::kSchemaMismatch,
                             "{}: target table `{}` already exists with the source's columns and {} of its own that "
                             "rows from the source cannot fill; give {} a default or drop {}",
                             where, dest, fmt::join(unfillable, ", "), unfillable.size() > 1 ? "them" : "it",
                             unfillable.size() > 1 ? "them" : "it");
      }
      std::string how = wider.empty() && own.empty() ? "the same columns and types" : "the source's columns";
      if (wider.empty() && !own.empty()) how += " and types";
      if (!wider.empty()) how += fmt::format(" in types that hold its values ({})", fmt::join(wider, ", "));
      if (!own.empty()) {
        how += fmt::format(", and columns of its own ({}) rows leave to their defaults", fmt::join(own, ", "));
      }
      spdlog::info("pipeline {} target {}: `{}` already exists with {}; CREATE skipped", cfg_.name, t.cfg->name, dest,
                   how);
      return skip();
    }
    if (!one_to_one) {
      // Created as `sluice snapshot` creates it, from the source's definition
      // now, when that has the columns the stream created.
      ASSIGN_OR_RETURN(auto source_cols, ReadColumnTypes(source_cfg_->endpoint, d.db, d.table));
      bool matches = !d.create_like && source_cols.size() == d.columns.size();
      for (size_t i = 0; matches && i < d.columns.size(); ++i) {
        matches = strcasecmp(source_cols[i].name.c_str(), d.columns[i].c_str()) == 0;
      }
      if (matches) {
        RETURN_IF_ERROR(EnsureMappedTargetTables(config_, cfg_, *t.cfg, d.db, d.table).WithContext(where));
        spdlog::info("pipeline {} target {}: created `{}` for `{}` (renamed or subset: from the source's definition)",
                     cfg_.name, t.cfg->name, dest, table_name);
        return skip();
      }
      return Status::Error(StatusCode::kNotSupported,
                           "{}: the source created a table that is renamed or subset on the target (rule at {}), the "
                           "target table `{}` does not exist, and the source table no longer has the columns created "
                           "then: create `{}` on the target, then restart sluice or POST /api/pipelines/{}/start",
                           where, rule->origin, dest, dest, cfg_.name);
    }
  }
  // The statement's table on the target: what the sink prepares first (a
  // MySQL target builds the indexes a running snapshot deferred on it).
  auto on_dest = [&](std::string db, std::string query) {
    sink::DdlChange c = SqlDdl(std::move(db), std::move(query));
    c.target_db = dest_db;
    c.target_table = dest_table;
    return c;
  };
  // The source's own statement: read with the source session's settings.
  auto source_statement = [&](std::string query) -> Result<sink::DdlChange> {
    sink::DdlChange c = on_dest(w.ddl_db, std::move(query));
    ASSIGN_OR_RETURN(c.session, TargetDdlSession(w, &t.interrupt));
    return c;
  };
  if (one_to_one) {
    ASSIGN_OR_RETURN(auto c, source_statement(w.ddl_query));
    return t.sink->ApplyDdl(c, end);
  }
  if (w.ddl_table) {
    // Columns a PostgreSQL source table gained (the stream gives its new
    // shape): the mapped table's columns the target table lacks, under
    // their target names. Once added (a replay), nothing is left to add.
    ASSIGN_OR_RETURN(auto existing, t.sink->TargetColumns(dest_db, dest_table));
    if (existing.empty()) {
      return Status::Error(StatusCode::kSchemaMismatch,
                           "{}: the target table `{}` does not exist: create it, or let sluice create it (restart "
                           "sluice), then restart the pipeline",
                           where, dest);
    }
    auto sql = PgMissingColumnsSql(*w.ddl_table, existing, w.ddl_retyped);
    if (!sql.ok()) return sql.status().WithContext(where);
    if (sql->empty()) return skip();
    return t.sink->ApplyDdl(on_dest("", *sql), end);
  }
  const std::string target_table = fmt::format("`{}`.`{}`", dest_db, dest_table);
  // A table the rule only renames (`to:`, every column kept under its
  // name): the ALTER applies to its target table as written, named anew.
  // (Not partition maintenance: a renamed copy, an archive often, keeps its
  // rows, with a warning below.)
  if (d.kind == K::kAlterTable && !d.partition_rows && rule->columns.empty() && rule->rename_columns.empty() &&
      !rule->lua && d.name_end > d.name_begin && !IsPostgresSource(*source_cfg_)) {
    ASSIGN_OR_RETURN(auto c, source_statement(mysql::WithAlteredTableNamed(w.ddl_query, d, dest_db, dest_table)));
    return t.sink->ApplyDdl(c, end);
  }
  // The source table is empty now, so is the table it maps to (all of it,
  // also the subset a filter selected).
  if (d.kind == K::kTruncateTable) return t.sink->ApplyDdl(on_dest("", "TRUNCATE TABLE " + target_table), end);
  if (d.kind == K::kDropTable && d.tables.size() == 1) {
    return t.sink->ApplyDdl(on_dest("", "DROP TABLE IF EXISTS " + target_table), end);
  }
  // Renamed or subset tables: columns added outside the subset change nothing on the target.
  if (d.kind == K::kAlterTable && d.alter_only_adds_columns && !rule->columns.empty()) {
    bool touches_subset = false;
    for (const auto& c : d.added_columns) {
      for (const auto& keep : rule->columns) touches_subset |= strcasecmp(c.c_str(), keep.c_str()) == 0;
    }
    if (!touches_subset) return skip();
  }
  // Anything else cannot be rewritten for the target table. It is in effect
  // when the target table already has the columns the rule makes of the
  // source table (a change made by hand before a restart): then skipped.
  ASSIGN_OR_RETURN(auto source_cols, ReadColumnTypes(source_cfg_->endpoint, d.db, d.table));
  ASSIGN_OR_RETURN(auto target_cols, ReadColumnTypes(t.cfg->endpoint, dest_db, dest_table));
  std::vector<std::string> gone;
  std::string diff = ColumnDifferences(MapColumns(*rule, source_cols, &gone), target_cols);
  if (!source_cols.empty() && !target_cols.empty() && gone.empty() && diff.empty()) {
    spdlog::info(
        "pipeline {} target {}: {}: `{}` already has the columns the rule makes of the source table; "
        "statement not applied to it: {}",
        cfg_.name, t.cfg->name, where, dest, w.ddl_query.substr(0, 300));
    return skip();
  }
  std::string fix;
  if (!gone.empty()) {
    fix = fmt::format(
        "the rule's columns keep {} that `{}` no longer has: change the rule (and `{}` on the target to "
        "match), then restart sluice",
        fmt::join(gone, ", "), table_name, dest);
  } else if (source_cols.empty() || target_cols.empty()) {
    fix = fmt::format(
        "make `{}` on the target match the source table by hand, or set ddl: ignore for the rule, then "
        "restart sluice",
        dest);
  } else {
    fix = fmt::format(
        "change `{}` on the target by hand ({}), then restart sluice or POST /api/pipelines/{}/start: it "
        "resumes at this statement and skips it once the target table's columns match the source's; "
        "or set ddl: ignore for the rule",
        dest, diff, cfg_.name);
  }
  return Status::Error(StatusCode::kNotSupported,
                       "{}: the table is renamed or subset on the target ({}), so this statement cannot be replicated "
                       "automatically: {}. To go on: {}",
                       where, rule->origin, w.ddl_query.substr(0, 300), fix);
}

// RENAME TABLE / ALTER TABLE ... RENAME, pair by pair, by where each name
// stands relative to the selection: within it, the target tables are renamed
// as the rules map the names (a `to:` template included); out of it, the
// target table is kept (or dropped: `renamed_out: drop`); into it, the target
// table is created from the source's definition, and rows the table already
// holds are named with the command that copies them.
Status Pipeline::HandleRename(Target& t, const TargetWork& w, const mysql::DdlStatement& d,
                              const sink::BatchEnd& end) {
  auto dest_of = [](const transform::MappingRule& rule, const std::string& db, const std::string& table) {
    return rule.to.empty() ? db + "." + table : transform::TableMapper::ExpandTemplate(rule.to, db, table);
  };
  auto quoted = [](const std::string& db_table) {
    size_t dot = db_table.find('.');
    return fmt::format("`{}`.`{}`", db_table.substr(0, dot), db_table.substr(dot + 1));
  };
  std::string where = fmt::format("DDL @ {}", w.pos.ToString());
  std::vector<std::string> statements;  // run on the target, in order
  std::vector<const mysql::DdlStatement::Rename*> entering;
  std::string renames;
  // An online schema change (gh-ost, pt-online-schema-change): a selected
  // table renamed out and, in the same statement, an unselected shadow copy
  // renamed to its name. The copy holds the table's rows (the stream carried
  // the original's): the target table stays, altered to the new definition.
  std::set<const mysql::DdlStatement::Rename*> swapped;
  for (const TableSwap& swap : FindTableSwaps(d)) {
    const auto& out = *swap.out;
    const auto& in = *swap.in;
    const transform::MappingRule* rule = swap.rule;
    if (rule->ddl == transform::DdlPolicy::kStop) {
      return Status::Error(StatusCode::kNotSupported, "{}: stopped as configured (ddl: stop): {}", where,
                           w.ddl_query.substr(0, 300));
    }
    swapped.insert(&out);
    swapped.insert(&in);
    if (rule->ddl == transform::DdlPolicy::kIgnore) continue;
    std::string dest = dest_of(*rule, out.db, out.table);
    size_t dot = dest.find('.');
    auto alter = SwapAlter(*t.cfg, *rule, out.db, out.table, dest.substr(0, dot), dest.substr(dot + 1));
    if (!alter.ok()) {
      return alter.status().WithContext(fmt::format("{}: `{}.{}` swapped with `{}.{}` (an online schema change)",
                                                    where, out.db, out.table, in.db, in.table));
    }
    if (!alter->statement.empty()) statements.push_back(alter->statement);
    spdlog::info("pipeline {} target {}: `{}.{}` swapped with `{}.{}` (an online schema change): target table `{}` "
                 "kept{}",
                 cfg_.name, t.cfg->name, out.db, out.table, in.db, in.table, dest,
                 alter->statement.empty() ? ", its columns match" : ": " + alter->statement);
    if (!alter->lossy.empty()) {
      std::string message = fmt::format(
          "{}: `{}.{}` swapped with `{}.{}` (an online schema change): target {} altered `{}` to the new columns, "
          "but the rows it holds may not have the values the copy gave them ({}); `sluice check --repair` (or POST "
          "/api/pipelines/{}/check with repair) makes them equal",
          where, out.db, out.table, in.db, in.table, t.cfg->name, dest, fmt::join(alter->lossy, "; "), cfg_.name);
      spdlog::warn("pipeline {}: {}", cfg_.name, message);
      std::lock_guard lock(mu_);
      NoteEvent(t.cfg->name, "warning", std::move(message));
    }
  }
  for (const auto& r : d.renames) {
    if (swapped.contains(&r)) continue;
    const transform::MappingRule* from = mapper_->RuleFor(r.db, r.table);
    const transform::MappingRule* to = mapper_->RuleFor(r.new_db, r.new_table);
    if (from == nullptr && to == nullptr) continue;
    for (const auto* rule : {from, to}) {
      if (rule != nullptr && rule->ddl == transform::DdlPolicy::kStop) {
        return Status::Error(StatusCode::kNotSupported, "{}: stopped as configured (ddl: stop): {}", where,
                             w.ddl_query.substr(0, 300));
      }
    }
    if ((from != nullptr && from->ddl == transform::DdlPolicy::kIgnore) ||
        (to != nullptr && to->ddl == transform::DdlPolicy::kIgnore)) {
      continue;
    }
    std::string old_name = r.db + "." + r.table, new_name = r.new_db + "." + r.new_table;
    // A target table that holds other source tables' rows too stays where
    // it is, with them: the renamed table's rows go on under its new name
    // as those of a table renamed into the selection.
    std::string shared;
    if (from != nullptr) shared = SharedTargetTable(t, *from, dest_of(*from, r.db, r.table));
    if (shared.empty() && to != nullptr) shared = SharedTargetTable(t, *to, dest_of(*to, r.new_db, r.new_table));
    if (from != nullptr && to != nullptr && !shared.empty()) {
      if (dest_of(*from, r.db, r.table) == dest_of(*to, r.new_db, r.new_table)) continue;
      spdlog::info("pipeline {} target {}: `{}` was renamed to `{}`: target table `{}` kept as it is ({})", cfg_.name,
                   t.cfg->name, old_name, new_name, dest_of(*from, r.db, r.table), shared);
      entering.push_back(&r);
      continue;
    }
    if (from != nullptr && to != nullptr) {
      std::string a = dest_of(*from, r.db, r.table), b = dest_of(*to, r.new_db, r.new_table);
      if (a == b) continue;
      statements.push_back(fmt::format("CREATE DATABASE IF NOT EXISTS `{}`", b.substr(0, b.find('.'))));
      renames += fmt::format("{}{} TO {}", renames.empty() ? "" : ", ", quoted(a), quoted(b));
    } else if (from != nullptr) {
      std::string a = dest_of(*from, r.db, r.table);
      if (cfg_.drop_renamed_out && !shared.empty()) {
        spdlog::info("pipeline {} target {}: `{}` was renamed to `{}`, which no rule selects: its target table `{}` "
                     "is kept, not dropped (renamed_out: drop), as it holds other source tables' rows too ({})",
                     cfg_.name, t.cfg->name, old_name, new_name, a, shared);
      } else if (cfg_.drop_renamed_out) {
        statements.push_back("DROP TABLE IF EXISTS " + quoted(a));
        spdlog::info(
            "pipeline {} target {}: `{}` was renamed to `{}`, which no rule selects: dropped its target "
            "table `{}` (renamed_out: drop)",
            cfg_.name, t.cfg->name, old_name, new_name, a);
      } else {
        spdlog::info(
            "pipeline {} target {}: `{}` was renamed to `{}`, which no rule selects: its target table `{}` "
            "is kept and no longer updated (renamed_out: drop would drop it)",
            cfg_.name, t.cfg->name, old_name, new_name, a);
      }
    } else {
      entering.push_back(&r);
    }
  }
  if (!renames.empty()) statements.push_back("RENAME TABLE " + renames);
  // Each statement records its own step inside the DDL's transaction, so
  // that a restart after a crash between them runs only the rest.
  for (size_t i = 0; i < statements.size(); ++i) {
    sink::BatchEnd step = end;
    if (i + 1 < statements.size() || !entering.empty()) step.pos.index = i + 1;
    RETURN_IF_ERROR(t.sink->ApplyDdl(SqlDdl("", statements[i]), step).WithContext(where));
  }
  std::vector<std::string> with_rows;
  for (const auto* r : entering) {
    std::string new_name = r->new_db + "." + r->new_table;
    // Whether it brought rows along, asked before its target table exists:
    // rows written once the target table is there are the stream's to carry.
    ASSIGN_OR_RETURN(auto co, mysql::ConnectOptions::FromUrl(source_cfg_->endpoint));
    ASSIGN_OR_RETURN(auto conn, mysql::MysqlConnection::Connect(co));
    ASSIGN_OR_RETURN(auto rows, conn->Query(fmt::format("SELECT 1 FROM `{}`.`{}` LIMIT 1", r->new_db, r->new_table)));
    if (!rows.empty()) with_rows.push_back(new_name);
    Status st = EnsureMappedTargetTables(config_, cfg_, *t.cfg, r->new_db, r->new_table, /*also_one_to_one=*/true);
    if (!st.ok()) return st.WithContext(fmt::format("{}: `{}` renamed into the selection", where, new_name));
    const transform::MappingRule* rule = mapper_->RuleFor(r->new_db, r->new_table);
    spdlog::info(
        "pipeline {} target {}: `{}.{}` was renamed to `{}`, into the selection: created its target table "
        "`{}`",
        cfg_.name, t.cfg->name, r->db, r->table, new_name, dest_of(*rule, r->new_db, r->new_table));
  }
  std::vector<SinkChange> none;
  RETURN_IF_ERROR(FlushBatch(t, none, end));
  if (!with_rows.empty()) {
    // The stream carries only what changes from now on: the rows the table
    // brought along need a copy, which only a snapshot makes.
    return Status::Error(StatusCode::kNotSupported,
                         "{}: {} renamed into the selection with rows the stream never carried; its target table is "
                         "created and later changes are applied, but to copy the existing rows run `sluice snapshot "
                         "-c {} --pipeline {}` (safe to repeat), then restart sluice or POST /api/pipelines/{}/start",
                         where, fmt::join(with_rows, ", "), config_.path, cfg_.name, cfg_.name);
  }
  return Status::Ok();
}

// A keyless table's copy replaced the target table with the rows as the
// source had them at a place; the stream replays from the target's
// checkpoint, which may be earlier (the copy read after the snapshot's
// start, a copy resumed after a crash): the table's changes before that
// place are in the copy already, and would land twice. Places passed are
// forgotten.
namespace {

void LeaveOutCopiedKeylessChanges(std::map<std::string, StreamPos>& copied_at, std::vector<SinkChange>& batch,
                                  size_t from, const StreamPos& through) {
  auto copied = [&](const SinkChange& c) {
    if (c.kind != SinkChange::Kind::kInsert && c.kind != SinkChange::Kind::kDeleteExact) return false;
    auto it = copied_at.find(c.table->source);
    return it != copied_at.end() && c.pos < it->second;
  };
  batch.erase(std::remove_if(batch.begin() + static_cast<std::ptrdiff_t>(from), batch.end(), copied), batch.end());
  std::erase_if(copied_at, [&](const auto& entry) { return !(through < entry.second); });
}

}  // namespace

const std::map<std::string, StreamPos>& Pipeline::KeylessCopiedAt(Target& t) {
  if (!t.keyless_read) {
    // Read with the first work, once the capture's start settled the checkpoint.
    t.keyless_copied_at = t.sink->checkpoint().keyless_copied_at;
    std::lock_guard lock(mu_);
    for (const auto& [table, pos] : keyless_copied_now_) t.keyless_copied_at[table] = pos;
    t.keyless_read = true;
  }
  return t.keyless_copied_at;
}

// A statement that empties or replaces a keyless table (TRUNCATE, DROP,
// CREATE) before the place its copy was read at: the copy holds its effect
// and the rows after it, whose changes the stream leaves out; run again, it
// would wipe them.
bool Pipeline::KeylessCopyHolds(Target& t, const mysql::DdlStatement& d, const StreamPos& at) {
  using K = mysql::DdlStatement::Kind;
  if (d.kind != K::kTruncateTable && d.kind != K::kDropTable && d.kind != K::kCreateTable) return false;
  const auto& copied = KeylessCopiedAt(t);
  if (copied.empty()) return false;
  std::vector<std::pair<std::string, std::string>> named = d.tables;
  if (named.empty()) named.emplace_back(d.db, d.table);
  for (const auto& [db, table] : named) {
    auto it = copied.find(db + "." + table);
    if (it == copied.end() || !(at < it->second)) return false;
  }
  return true;
}

void Pipeline::WarnRetry(Target& t, const std::string& message, std::chrono::milliseconds backoff) {
  const std::string what(WithoutTargetPrefix(message, cfg_.name, t.cfg->name));
  Clock::duration lasted;
  if (!t.retry_warning.ShouldWarn(what, Clock::now(), &lasted)) {
    spdlog::debug("pipeline {} target {}: {}; retrying in {} ms", cfg_.name, t.cfg->name, what, backoff.count());
    return;
  }
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(lasted).count();
  spdlog::warn("pipeline {} target {}: {}; retrying in {} ms{}", cfg_.name, t.cfg->name, what, backoff.count(),
               minutes > 0 ? fmt::format(" (the same for {} min; repeats are logged at debug level)", minutes) : "");
}

void Pipeline::TargetLoop(Target& t) {
  if (t.failed) return;  // being copied while the others stream (copying_targets_)
  const std::string& name = t.cfg->name;
  // Open the loader; a target that is down at start is retried, not fatal.
  auto backoff = std::chrono::milliseconds(200);
  while (!stop_ && !t.sink) {
    sink::SinkOptions so = TargetSinkOptions(cfg_, *t.cfg);
    so.interrupt = &t.interrupt;
    auto loader = [&]() -> Result<std::unique_ptr<sink::Sink>> {
      auto former = FormerTargets();
      // The settings' store (or ZooKeeper) out of reach for a moment: tried again.
      if (!former.ok()) return Status::Retryable(StatusCode::kIoError, "{}", former.status().message());
      so.former_targets = std::move(former).value();
      return sink::OpenSink(so);
    }();
    if (loader.ok()) {
      t.sink = std::move(loader).value();
      std::lock_guard lock(mu_);
      NoteTarget(t, PipelineState::kRunning, "");
      t.applied_position.clear();
      t.applied_gtid.clear();
      NoteApplied(t);
      break;
    }
    {
      std::lock_guard lock(mu_);
      const std::string error =
          fmt::format("target {}: {}", name, WithoutTargetPrefix(loader.status().message(), cfg_.name, name));
      if (!loader.status().retryable()) {
        spdlog::error("pipeline {} target {}: {}", cfg_.name, name, loader.status().message());
        NoteTarget(t, loader.status().code() == StatusCode::kFenced ? PipelineState::kFenced : PipelineState::kFailed,
                   error);
        t.failed = true;
        break;
      }
      NoteTarget(t, PipelineState::kRetrying, error);
    }
    if (SetAsideIfHoldingOthers(t)) break;
    WarnRetry(t, loader.status().message(), backoff);
    SleepUnlessStopping(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
  }
  t.ready = t.sink != nullptr;

  std::vector<SinkChange> batch;
  size_t first_new = 0;  // the batch's first change of the piece taken last
  sink::BatchEnd end;
  bool have_end = false;
  // `end` is a transaction's commit (not a piece of a larger transaction).
  bool at_commit = false;
  // A batch went out since the sink was last told the input is quiet.
  bool idle_write_due = false;
  Clock::time_point batch_started{};
  Clock::time_point last_progress_write = Clock::now();
  const auto timeout = std::chrono::milliseconds(cfg_.batch_timeout_ms);
  auto fail = [&](const Status& st) {
    if (st.code() == StatusCode::kTargetRewound) {
      (void)StartAgainFromRewoundTarget(t, st);  // not a failure: returns once the pipeline stops for a new start
      return;
    }
    spdlog::error("pipeline {} target {}: {}", cfg_.name, name, WithoutTargetPrefix(st.message(), cfg_.name, name));
    t.fatal->Inc();
    std::lock_guard lock(mu_);
    // Fenced: a newer owner has the target; this one stops for good.
    NoteTarget(t, st.code() == StatusCode::kFenced ? PipelineState::kFenced : PipelineState::kFailed, st.message());
    t.failed = true;
  };
  auto flush = [&]() -> bool {
    if (!have_end) return true;
    Status st = FlushBatch(t, batch, end);
    if (!st.ok()) {
      if (st.code() != StatusCode::kCancelled) fail(st);
      return false;
    }
    batch.clear();
    have_end = false;
    idle_write_due = true;
    last_progress_write = Clock::now();
    return true;
  };

  while (!stop_ && !t.failed && t.sink) {
    if (t.slow) {
      SetAsideSlowTarget(t);
      break;
    }
    auto wait = batch.empty() ? std::chrono::milliseconds(100)
                              : std::max(std::chrono::milliseconds(1),
                                         std::chrono::duration_cast<std::chrono::milliseconds>(
                                             batch_started + timeout - Clock::now()));
    // Batches in flight are settled as soon as the queue runs dry, and a
    // pause after a batch is soon taken for quiet (WriteIdle below).
    if (!t.unacked.empty() || idle_write_due) wait = std::min(wait, std::chrono::milliseconds(5));
    auto item = t.queue->Pop(wait);
    t.queue_bytes->Set(static_cast<double>(t.queue->bytes()));
    if (!item && !t.unacked.empty()) {
      Status st = SettleSink(t, /*wait=*/true);
      if (!st.ok()) {
        if (st.code() != StatusCode::kCancelled) fail(st);
        goto out;
      }
    }
    if (!item && idle_write_due && batch.empty() && t.unacked.empty() && (!in_doubt_ || t.sink->fenced())) {
      idle_write_due = false;
      // Quiet: what the sink kept back to save writes is written now. A
      // failure is not urgent: the next batch carries it, or retries.
      if (Status st = t.sink->WriteIdle(); !st.ok()) {
        if (!st.retryable()) {
          fail(st);
          goto out;
        }
        spdlog::debug("pipeline {} target {}: {}", cfg_.name, name, st.message());
      }
    }
    if (item) {
      const TargetWork& w = **item;
      switch (w.kind) {
        case TargetWork::Kind::kChanges: {
          if (batch.empty()) {
            batch_started = Clock::now();
            t.batch_oldest_ms = CommitEstimateMs(w.ts_ms, w.received_ms);
            std::lock_guard lock(mu_);
            if (!t.oldest_pending_ms) t.oldest_pending_ms = t.batch_oldest_ms;
          }
          // Sequences the target has not are left out below: no stats (their
          // pending age would never be cleared).
          const bool without_sequences = w.has_sequences && !TakesSequences(t);
          for (const SinkChange& c : w.changes) {
            if (c.kind == SinkChange::Kind::kCascade || (without_sequences && c.table->sequence)) continue;
            Target::TableStats& ts = t.StatsFor(c.table, metrics_, cfg_.name, mu_);
            if (!ts.batch_oldest_ms) ts.batch_oldest_ms = CommitEstimateMs(w.ts_ms, w.received_ms);
            if (!ts.oldest_pending_ms) ts.oldest_pending_ms = ts.batch_oldest_ms;
          }
          first_new = batch.size();
          if (item->use_count() == 1) {
            // No other target holds this piece (and none can get it now):
            // its changes are moved, not copied.
            auto& owned = const_cast<std::vector<SinkChange>&>(w.changes);
            batch.insert(batch.end(), std::make_move_iterator(owned.begin()), std::make_move_iterator(owned.end()));
          } else {
            batch.insert(batch.end(), w.changes.begin(), w.changes.end());
          }
          if (w.has_cascades && !t.sink->applies_cascades()) {
            std::erase_if(batch, [](const SinkChange& c) { return c.kind == SinkChange::Kind::kCascade; });
          }
          if (without_sequences) LeaveOutSequences(t, batch, first_new);
          if (!KeylessCopiedAt(t).empty()) LeaveOutCopiedKeylessChanges(t.keyless_copied_at, batch, first_new, w.pos);
          end = {w.pos, w.resume_position, end.gtid_state};
          have_end = true;
          at_commit = false;
          break;
        }
        case TargetWork::Kind::kCommit:
          end = {w.pos, w.resume_position, w.gtid_state};
          have_end = true;
          at_commit = true;
          if (batch.empty() && Clock::now() - last_progress_write < timeout) {
            // Progress without rows (filtered transactions) is recorded at
            // most once per batch timeout.
            break;
          }
          if (batch.size() >= cfg_.batch_size && !flush()) goto out;
          break;
        case TargetWork::Kind::kDdl: {
          if (!flush()) goto out;
          if (Status st = SettleSink(t, /*wait=*/true); !st.ok()) {
            if (st.code() != StatusCode::kCancelled) fail(st);
            goto out;
          }
          WaitWhileInDoubt(t);
          if (stop_) goto out;
          Status st = HandleDdl(t, w, {w.pos, w.resume_position, w.gtid_state});
          // The target down, restarting or hung during a DDL: retried like a batch.
          for (auto backoff = std::chrono::milliseconds(100); !st.ok() && st.retryable() && !stop_;) {
            t.retryable->Inc();
            WarnRetry(t, st.message(), backoff);
            {
              std::lock_guard lock(mu_);
              NoteTarget(t, PipelineState::kRetrying, st.message());
            }
            if (SetAsideIfHoldingOthers(t)) goto out;
            SleepUnlessStopping(backoff);
            backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
            WaitWhileInDoubt(t, /*reconnecting=*/true);
            if (stop_) goto out;
            st = t.sink->Reconnect();
            WaitWhileInDoubt(t);
            if (st.ok() && !stop_) st = HandleDdl(t, w, {w.pos, w.resume_position, w.gtid_state});
          }
          if (stop_) goto out;
          if (st.ok()) {
            std::lock_guard lock(mu_);
            NoteTarget(t, PipelineState::kRunning, "");
          }
          if (!st.ok()) {
            fail(st);
            goto out;
          }
          break;
        }
        case TargetWork::Kind::kHeartbeat:
          break;
      }
      // A transaction far larger than a batch is applied in pieces.
      if (batch.size() >= 4 * cfg_.batch_size && !flush()) goto out;
      // Group commit: the input is drained at a transaction boundary, so
      // nothing waits for `timeout_ms`. While this batch applies, the next
      // one gathers in the queue: batches grow with the load, and a quiet
      // stream's changes go out after one round trip.
      if (at_commit && !batch.empty() && t.queue->size() == 0 && !flush()) goto out;
    }
    if (have_end && (batch.empty() ? Clock::now() - last_progress_write >= timeout
                                   : Clock::now() - batch_started >= timeout)) {
      if (!flush()) goto out;
    }
    if (!item && t.queue->closed() && t.queue->size() == 0) break;
    PublishDelay(t);
  }
out:
  // Stopping: what is in flight is recorded if the target is there (a
  // restart would send it again otherwise); a target down does not hold
  // the stop up beyond this one attempt.
  if (!t.failed && t.sink && !t.unacked.empty()) {
    Status st = t.sink->Flush();
    if (st.ok()) ReportAcknowledged(t);
  }
  if (!t.failed && t.sink && t.unacked.empty()) (void)t.sink->WriteIdle();
  if (t.failed) WaitForSetAsideTarget(t);
}

Status Pipeline::RequestCheck(bool repair) {
  std::lock_guard lock(mu_);
  if (!running_ || state_ != PipelineState::kRunning) {
    return Status::Error(StatusCode::kNotSupported,
                         "pipeline \"{}\" is {}: a check compares the targets with what the pipeline applied, so it "
                         "runs only while the pipeline runs",
                         cfg_.name, PipelineStateName(state_));
  }
  if (check_request_ || check_.state == "running") {
    return Status::Error(StatusCode::kNotSupported, "pipeline \"{}\": a check is already under way", cfg_.name);
  }
  check_request_ = repair;
  check_requested_ = true;
  NoteEvent("", "check", repair ? "check with repair requested" : "check requested");
  spdlog::info("pipeline {}: consistency check{} requested", cfg_.name, repair ? " with repair" : "");
  check_wake_.notify_all();
  return Status::Ok();
}

Status Pipeline::RequestSnapshot() {
  std::lock_guard lock(mu_);
  if (!running_ || state_ != PipelineState::kRunning) {
    return Status::Error(StatusCode::kNotSupported,
                         "pipeline \"{}\" is {}: a snapshot on request copies alongside the running stream; start "
                         "the pipeline first",
                         cfg_.name, PipelineStateName(state_));
  }
  if (snapshot_running_) {
    return Status::Error(StatusCode::kNotSupported, "pipeline \"{}\": a snapshot is already under way", cfg_.name);
  }
  // The last requested snapshot has ended (its thread is leaving or gone).
  if (jobs_thread_.joinable()) jobs_thread_.join();
  SnapshotOptions options;
  options.alongside_stream = true;
  snapshot_ = std::make_unique<Snapshot>(config_, cfg_, options);
  snapshot_running_ = true;
  NoteEvent("", "snapshot", "snapshot requested");
  spdlog::info("pipeline {}: snapshot requested: copying every selected table alongside the stream", cfg_.name);
  jobs_thread_ = std::thread([this, snapshot = snapshot_.get()] {
    Status st = snapshot->Run();
    if (st.ok()) {
      spdlog::info("pipeline {}: requested snapshot done, {} rows", cfg_.name, snapshot->progress().rows_copied);
    } else if (st.code() != StatusCode::kCancelled) {
      spdlog::error("pipeline {}: requested snapshot failed: {}", cfg_.name, st.message());
    }
    std::lock_guard done(mu_);
    snapshot_running_ = false;
    if (st.code() != StatusCode::kCancelled) {
      NoteEvent("", "snapshot",
                st.ok() ? fmt::format("snapshot done: {} rows", snapshot->progress().rows_copied)
                        : "snapshot failed: " + st.message());
    }
  });
  return Status::Ok();
}

PipelineStatus Pipeline::status() const {
  std::lock_guard lock(mu_);
  PipelineStatus s;
  s.name = cfg_.name;
  s.state = state_;
  s.source_position = source_position_;
  s.last_error = last_error_;
  s.store_error = store_error_;
  if (snapshot_) {
    s.has_snapshot = true;
    s.snapshot = snapshot_->progress();
  }
  if (cfg_.check.every_ms > 0 || check_requested_) {
    s.has_check = true;
    s.check = check_;
  }
  s.events.assign(events_.begin(), events_.end());
  bool all_failed = !targets_.empty();
  bool any_retrying = false, any_paused = false, any_fenced = false;
  std::string least;
  int64_t source_delay = SourceDelayMs();
  s.delay_ms = source_delay;
  for (const auto& t : targets_) {
    TargetStatus ts;
    ts.name = t->cfg->name;
    ts.state = running_ ? t->state : PipelineState::kStopped;
    ts.applied_position = t->applied_position;
    ts.applied_gtid = t->applied_gtid;
    ts.rows_applied = t->rows_applied;
    ts.last_error = t->last_error;
    ts.delay_ms = t->oldest_pending_ms ? std::max<int64_t>(0, WallMs() - t->oldest_pending_ms) : 0;
    ts.delay_ms = std::max(ts.delay_ms, source_delay);
    // A rate that has not been refreshed for a while is stale: the target is idle.
    double idle = std::chrono::duration<double>(Clock::now() - t->window_start).count();
    ts.rows_per_second = idle > 3.0 ? 0 : t->rows_per_second;
    for (const auto& [name, stats] : t->listed_tables) {
      ts.tables.push_back({name, stats->inserts->value(), stats->updates->value(), stats->deletes->value(),
                           static_cast<int64_t>(stats->delay->value() * 1000)});
    }
    if (running_ && t->catch_up) CatchUpStatus(*t->catch_up, ts);
    s.rows_applied += ts.rows_applied;
    s.conflicts += t->conflicts;
    s.delay_ms = std::max(s.delay_ms, ts.delay_ms);
    all_failed &= ts.state == PipelineState::kFailed || ts.state == PipelineState::kFenced;
    any_retrying |= ts.state == PipelineState::kRetrying;
    any_paused |= ts.state == PipelineState::kPaused;
    any_fenced |= ts.state == PipelineState::kFenced;
    if (!ts.applied_position.empty()) {
      StreamPos a, b;
      if (least.empty() || (StreamPos::Parse(ts.applied_position, &a) && StreamPos::Parse(least, &b) && a < b)) {
        least = ts.applied_position;
      }
    }
    if (s.last_error.empty() && !t->last_error.empty()) s.last_error = t->last_error;
    s.targets.push_back(std::move(ts));
  }
  s.applied_position = least;
  if (running_ && (s.state == PipelineState::kRunning || s.state == PipelineState::kFailed) && any_fenced) {
    // The ownership is lost: what the node agent acts on (stop, rejoin).
    s.state = PipelineState::kFenced;
  } else if (running_ && s.state == PipelineState::kRunning) {
    if (all_failed) s.state = PipelineState::kFailed;
    else if (any_paused) s.state = PipelineState::kPaused;
    else if (any_retrying) s.state = PipelineState::kRetrying;
  }
  // A failed pipeline applies nothing more: a target that did not fail
  // itself is stopped, not running.
  if (s.state == PipelineState::kFailed) {
    for (TargetStatus& ts : s.targets) {
      if (ts.state != PipelineState::kFailed && ts.state != PipelineState::kFenced) ts.state = PipelineState::kStopped;
    }
  }
  return s;
}

}  // namespace sluice::pipeline
