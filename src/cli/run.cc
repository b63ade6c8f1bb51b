// `sluice run -c FILE`: runs every pipeline of a config until SIGINT/SIGTERM,
// resuming from checkpoints, with the HTTP API (design §6) when `http:` is set.

#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <csignal>
#include <map>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "pipeline/config.h"
#include "pipeline/http_api.h"
#include "pipeline/metrics.h"
#include "pipeline/pipeline.h"
#include "source/mysql/protocol/connection.h"
#include "store/sqlite_store.h"

namespace sluice::cli {
namespace {

std::atomic<bool> g_stop_run{false};
std::atomic<bool> g_hangup{false};
void OnRunSignal(int) { g_stop_run.store(true); }
void OnHangup(int) { g_hangup.store(true); }

// Binlog events a transaction never starts with a position at: a start
// position must point at one of these (or at the end of a file), never into
// the middle of a transaction.
bool IsBoundaryEvent(std::string_view type) {
  for (std::string_view t : {"Gtid", "Anonymous_Gtid", "Format_desc", "Gtid_list", "Binlog_checkpoint",
                             "Previous_gtids", "Rotate", "Stop", "Start_encryption"}) {
    if (type == t) return true;
  }
  return false;
}

// Checks a FILE:OFFSET start position against the source's binlogs: the file
// must exist, the offset must lie within it and be the start of an event
// that begins a transaction (or the file's end). Invalid (a 400 through the
// API) when it is not; retryable when the source cannot be asked.
Status CheckFilePosition(const pipeline::SourceConfig& src, const BinlogFilePos& pos) {
  auto retry = [&](const Status& st) {
    return Status::Retryable(StatusCode::kIoError, "cannot check position {} on source {}: {}", pos.ToString(),
                             src.name, st.message());
  };
  auto co = mysql::ConnectOptions::FromUrl(src.endpoint);
  if (!co.ok()) return co.status();
  auto conn = mysql::MysqlConnection::Connect(*co);
  if (!conn.ok()) return retry(conn.status());
  auto logs = (*conn)->Query("SHOW BINARY LOGS");
  if (!logs.ok()) return retry(logs.status());
  std::optional<uint64_t> size;
  for (const auto& row : *logs) {
    if (row.size() < 2 || row[0].value_or("") != pos.file) continue;
    std::string text = row[1].value_or("");
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Status::Error(StatusCode::kServerError, "source {}: SHOW BINARY LOGS gave size \"{}\" for {}", src.name,
                           text, pos.file);
    }
    size = n;
  }
  if (!size) {
    std::string have =
        logs->empty() ? std::string("none") : logs->front()[0].value_or("") + " .. " + logs->back()[0].value_or("");
    return Status::Invalid("position {}: source {} has no binlog file \"{}\" (it has {})", pos.ToString(), src.name,
                           pos.file, have);
  }
  if (pos.offset < 4) {
    return Status::Invalid("position {}: offset {} is inside the file header; the first event is at {}:4",
                           pos.ToString(), pos.offset, pos.file);
  }
  if (pos.offset > *size) {
    return Status::Invalid("position {}: offset {} is beyond the end of {} on source {} ({} bytes)", pos.ToString(),
                           pos.offset, pos.file, src.name, *size);
  }
  if (pos.offset == *size) return Status::Ok();  // the file's end: where the next transaction starts
  auto events = (*conn)->Query(
      fmt::format("SHOW BINLOG EVENTS IN '{}' FROM {} LIMIT 200", (*conn)->Escape(pos.file), pos.offset));
  if (!events.ok() || events->empty()) {
    return Status::Invalid("position {}: no binlog event starts at offset {} of {} on source {}{}", pos.ToString(),
                           pos.offset, pos.file, src.name, events.ok() ? "" : " (" + events.status().message() + ")");
  }
  // Columns: Log_name, Pos, Event_type, Server_id, End_log_pos, Info.
  std::string type = (*events)[0].size() > 2 ? (*events)[0][2].value_or("") : "";
  if (IsBoundaryEvent(type)) return Status::Ok();
  std::string next;
  for (const auto& e : *events) {
    if (e.size() > 2 && IsBoundaryEvent(e[2].value_or(""))) {
      next = fmt::format("; the next transaction starts at {}:{}", pos.file, e[1].value_or(""));
      break;
    }
  }
  return Status::Invalid(
      "position {}: not a transaction boundary (the event there is {}, inside a transaction); a position must "
      "be where a transaction begins (a GTID event) or the end of a binlog file{}",
      pos.ToString(), type, next);
}

// Owns the pipelines and answers the HTTP API's questions about them.
class Runner : public pipeline::PipelineController {
 public:
  Runner(const pipeline::Config& config, store::SqliteStore& store, pipeline::MetricsRegistry& registry)
      : config_(config), store_(store), metrics_(registry) {
    uint32_t index = 0;
    for (const auto& p : config_.pipelines) {
      pipelines_.emplace(p.name, std::make_unique<pipeline::Pipeline>(config_, p, store_, metrics_, index++));
    }
  }

  Status ValidateAll() {
    for (auto& [name, p] : pipelines_) RETURN_IF_ERROR(p->Validate());
    return Status::Ok();
  }
  Status StartAll() {
    std::lock_guard lock(control_mu_);
    for (auto& [name, p] : pipelines_) {
      auto stopped = store_.GetSetting(name, "stopped");
      // Not knowing whether the operator stopped the pipeline is an error:
      // starting it anyway could undo their stop.
      if (!stopped.ok())
        return stopped.status().WithContext(fmt::format("pipeline {}: reading whether it was stopped", name));
      if (stopped->has_value()) {
        spdlog::info("pipeline {}: left stopped (stopped through the API)", name);
        continue;
      }
      RETURN_IF_ERROR(p->Start());
      spdlog::info("pipeline {}: started", name);
    }
    return Status::Ok();
  }
  void StopAll() {
    std::lock_guard lock(control_mu_);
    for (auto& [name, p] : pipelines_) p->Stop();
  }
  // "pipeline NAME: ERROR" for each pipeline that is failed now.
  std::vector<std::string> Failures() const {
    std::vector<std::string> out;
    for (const auto& [name, p] : pipelines_) {
      auto s = p->status();
      if (s.state == pipeline::PipelineState::kFailed) {
        out.push_back(
            fmt::format("pipeline {} failed: {}", name, s.last_error.empty() ? "(no error recorded)" : s.last_error));
      }
    }
    return out;
  }

  std::vector<pipeline::PipelineStatus> ListPipelines() const override {
    std::vector<pipeline::PipelineStatus> out;
    for (const auto& [name, p] : pipelines_) out.push_back(p->status());
    return out;
  }
  Result<pipeline::PipelineStatus> GetPipeline(const std::string& name) const override {
    auto it = pipelines_.find(name);
    if (it == pipelines_.end()) return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\"", name);
    return it->second->status();
  }
  Status StopPipeline(const std::string& name) override {
    std::lock_guard lock(control_mu_);
    auto it = pipelines_.find(name);
    if (it == pipelines_.end()) return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\"", name);
    it->second->Stop();
    return store_.SetSetting(name, "stopped", "1");
  }
  Status StartPipeline(const std::string& name) override {
    std::lock_guard lock(control_mu_);
    auto it = pipelines_.find(name);
    if (it == pipelines_.end()) return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\"", name);
    RETURN_IF_ERROR(store_.DeleteSetting(name, "stopped"));
    // A failed pipeline keeps its threads (so that its status stays there to
    // read) and Start() would do nothing: after the user fixed the cause,
    // "start" means start over from the checkpoints.
    if (it->second->running() && it->second->status().state == pipeline::PipelineState::kFailed) {
      spdlog::info("pipeline {}: restarting after failure (started through the API)", name);
      it->second->Stop();
    }
    return it->second->Start();
  }
  Status SetPosition(const std::string& name, const std::string& position) override {
    std::lock_guard lock(control_mu_);
    auto it = pipelines_.find(name);
    if (it == pipelines_.end()) return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\"", name);
    if (it->second->running()) {
      pipeline::PipelineStatus st = it->second->status();
      if (st.state == pipeline::PipelineState::kFailed) {
        return Status::Error(StatusCode::kNotSupported,
                             "pipeline \"{}\" has failed ({}); to move its position, stop it first "
                             "(POST /api/pipelines/{}/stop), then set the position, then start it "
                             "(POST /api/pipelines/{}/start)",
                             name, st.last_error.empty() ? "no error recorded" : st.last_error, name, name);
      }
      return Status::Error(StatusCode::kNotSupported, "pipeline \"{}\" is running: stop it before moving its position",
                           name);
    }
    ASSIGN_OR_RETURN(StartPosition p, StartPosition::Parse(position));
    if (p.kind == StartPosition::Kind::kFilePos) {
      const pipeline::PipelineConfig* pc = config_.FindPipeline(name);
      const pipeline::SourceConfig* src = pc ? config_.FindSource(pc->source) : nullptr;
      if (src != nullptr) RETURN_IF_ERROR(CheckFilePosition(*src, p.file_pos));
    }
    return store_.SetSetting(name, "start", p.ToString());
  }

 private:
  const pipeline::Config& config_;
  store::SqliteStore& store_;
  pipeline::PipelineMetrics metrics_;
  std::map<std::string, std::unique_ptr<pipeline::Pipeline>> pipelines_;
  // Stop/start/position come from concurrent HTTP workers; a Pipeline's
  // Start and Stop must not overlap.
  std::mutex control_mu_;
};

int Fail(const Status& st) {
  std::fprintf(stderr, "sluice run: error: %s\n", st.message().c_str());
  return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

// SIGHUP: sluice does not reload its configuration in place. It says so, and
// whether the file as it is now would start, so that an operator who edited
// it learns both before restarting.
void AnswerHangup(const std::string& config_path) {
  auto fresh = pipeline::LoadConfig(config_path);
  spdlog::warn(
      "SIGHUP: sluice does not reload its configuration; the running pipelines keep the configuration "
      "they started with. Restart sluice to apply changes to {} ({})",
      config_path,
      fresh.ok() ? "the file as it is now loads without errors"
                 : "the file as it is now is invalid: " + fresh.status().message());
}

int RunPipelines(const std::string& config_path) {
  // First thing: a SIGTERM during start-up (validation can take a while when
  // a server is slow) is a clean stop too.
  std::signal(SIGINT, OnRunSignal);
  std::signal(SIGTERM, OnRunSignal);
  std::signal(SIGPIPE, SIG_IGN);
  // SIGHUP's default action would end the process: answer it instead.
  std::signal(SIGHUP, OnHangup);
  auto config = pipeline::LoadConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  auto store = store::SqliteStore::Open(config->store);
  if (!store.ok()) return Fail(store.status());
  // One `sluice run` per store: a second one would apply the same changes
  // twice over and evict the first one's replica connection.
  if (Status locked = (*store)->LockForProcess(); !locked.ok()) return Fail(locked);
  pipeline::MetricsRegistry registry;
  Runner runner(*config, **store, registry);
  // State, delay, snapshot and check gauges, read from the runner at scrape time.
  pipeline::RegisterStatusMetrics(registry, runner);
  Status st = runner.ValidateAll();
  if (!st.ok()) return Fail(st);

  std::unique_ptr<pipeline::HttpApi> http;
  if (!config->http.empty()) {
    http = std::make_unique<pipeline::HttpApi>(runner, registry);
    st = http->Start(config->http);
    if (!st.ok()) return Fail(st);
    spdlog::info("http api on {}", config->http);
  }
  st = runner.StartAll();
  if (!st.ok()) return Fail(st);

  while (!g_stop_run.load()) {
    if (g_hangup.exchange(false)) AnswerHangup(config_path);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  spdlog::info("stopping");
  // Read before the stop: a stopped pipeline no longer tells whether its
  // targets had all failed.
  std::vector<std::string> failures = runner.Failures();
  if (http) http->Stop();
  runner.StopAll();
  if (!failures.empty()) {
    // A supervisor must learn that this run did not end well.
    for (const std::string& f : failures) spdlog::error("{}", f);
    std::fprintf(stderr, "sluice run: exiting with status 1: %zu pipeline(s) had failed\n", failures.size());
    return 1;
  }
  return 0;
}

// `sluice validate -c FILE`: what `run` checks before it runs anything.
int ValidateConfig(const std::string& config_path) {
  auto config = pipeline::LoadConfig(config_path);
  auto invalid = [&](const Status& st) {
    std::fprintf(stderr, "sluice validate: %s: invalid: %s\n", config_path.c_str(), st.message().c_str());
    return 2;
  };
  if (!config.ok()) return invalid(config.status());
  pipeline::MetricsRegistry registry;
  pipeline::PipelineMetrics metrics(registry);
  // Not the config's store: a running `sluice run` holds that one, and
  // validating the next version of its file must work beside it. Validation
  // reads no store.
  auto scratch = store::SqliteStore::Open(":memory:");
  if (!scratch.ok()) return invalid(scratch.status());
  uint32_t index = 0;
  for (const pipeline::PipelineConfig& pc : config->pipelines) {
    pipeline::Pipeline p(*config, pc, **scratch, metrics, index++);
    Status st = p.Validate();
    if (st.ok()) continue;
    if (st.retryable() || st.code() == StatusCode::kIoError) {
      std::fprintf(stderr, "sluice validate: %s: cannot check: %s\n", config_path.c_str(), st.message().c_str());
      return 1;
    }
    return invalid(st);
  }
  std::printf("%s: valid (%zu pipeline%s)\n", config_path.c_str(), config->pipelines.size(),
              config->pipelines.size() == 1 ? "" : "s");
  return 0;
}

}  // namespace

CommandRunner RegisterRun(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("run", "Run every pipeline of a config until SIGINT/SIGTERM, resuming from checkpoints");
  cmd->add_option("-c,--config", *path, "Configuration file (YAML, see README)")->required();
  return [path] { return RunPipelines(*path); };
}

CommandRunner RegisterValidate(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Check a config as `run` does before running (the file, the sources and their tables) without running it; "
      "exit 0 valid, 2 invalid, 1 when a server could not be asked");
  cmd->add_option("-c,--config", *path, "Configuration file (YAML, see README)")->required();
  return [path] { return ValidateConfig(*path); };
}

}  // namespace sluice::cli
