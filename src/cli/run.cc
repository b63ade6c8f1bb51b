// `sluice run -c FILE`: runs every pipeline of a config until SIGINT/SIGTERM,
// resuming from checkpoints, with the HTTP API (design §6) when `http:` is set.

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <charconv>
#include <csignal>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "cli/commands.h"
#include "pipeline/config.h"
#include "server/file_config_routes.h"
#include "server/http_api.h"
#include "pipeline/metrics.h"
#include "pipeline/pipeline.h"
#include "pipeline/position_change.h"
#include "server/access_gate.h"
#include "server/alarms/alarm_engine.h"
#include "server/audit/audit_log.h"
#include "server/crypto.h"
#include "client/mysql/connection.h"
#include "store/sqlite_store.h"

namespace sluice::cli {
namespace {

std::atomic<bool> g_stop_run{false};
std::atomic<bool> g_hangup{false};
void OnRunSignal(int) { g_stop_run.store(true); }
void OnHangup(int) { g_hangup.store(true); }

// What a pipeline's behaviour depends on in a config file, as text: its
// own entry and the entries of its source and targets. Equal texts mean an
// unchanged pipeline on reload. Empty when the file cannot be read as YAML
// (every pipeline then counts as changed).
std::map<std::string, std::string> PipelineFingerprints(const std::string& path) {
  std::map<std::string, std::string> out;
  try {
    const YAML::Node root = YAML::LoadFile(path);
    auto dump = [](const YAML::Node& n) {
      YAML::Emitter e;
      e << n;
      return std::string(e.c_str());
    };
    const YAML::Node sources = root["sources"];
    const YAML::Node targets = root["targets"];
    for (const YAML::Node& p : root["pipelines"]) {
      std::string fp = dump(p);
      if (p["source"] && sources) fp += "\n# source\n" + dump(sources[p["source"].as<std::string>()]);
      if (p["targets"] && targets) {
        for (const YAML::Node& t : p["targets"]) fp += "\n# target\n" + dump(targets[t.as<std::string>()]);
      }
      out[p["name"].as<std::string>()] = std::move(fp);
    }
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

// Owns the pipelines and answers the HTTP API's questions about them.
//
// Threading: HTTP workers read (ListPipelines, GetPipeline) under map_mu_
// and act (stop, start, position) under control_mu_; Reload() (the main
// thread, on SIGHUP) takes control_mu_ for its whole run and map_mu_ to swap
// the map. Pipelines are shared_ptrs, so a reader that copied one keeps it
// alive while a reload replaces it. Each Config stays alive as long as the
// runner: pipelines hold references into the one they were made from.
class Runner : public pipeline::PipelineController {
 public:
  Runner(std::unique_ptr<pipeline::Config> config, std::string path, store::SqliteStore& store,
         pipeline::MetricsRegistry& registry)
      : path_(std::move(path)), store_(store), metrics_(registry) {
    for (const auto& p : config->pipelines) {
      indexes_[p.name] = next_index_;
      pipelines_.emplace(p.name, std::make_shared<pipeline::Pipeline>(*config, p, store_, metrics_, next_index_++));
    }
    fingerprints_ = PipelineFingerprints(path_);
    configs_.push_back(std::move(config));
  }

  Status ValidateAll() {
    for (auto& [name, p] : All()) RETURN_IF_ERROR(p->Validate());
    return Status::Ok();
  }
  Status StartAll() {
    std::lock_guard lock(control_mu_);
    for (auto& [name, p] : All()) RETURN_IF_ERROR(StartUnlessStopped(name, *p));
    return Status::Ok();
  }
  void StopAll() {
    std::lock_guard lock(control_mu_);
    for (auto& [name, p] : All()) p->Stop();
  }
  // The pipelines that asked to be started again, and why (Pipeline::TakeRestartRequest).
  std::vector<std::pair<std::string, std::string>> RestartRequests() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [name, p] : All()) {
      if (std::string why = p->TakeRestartRequest(); !why.empty()) out.emplace_back(name, why);
    }
    return out;
  }
  // Stops a pipeline (running or failed) and starts it from its checkpoints.
  Status RestartPipeline(const std::string& name) {
    std::lock_guard lock(control_mu_);
    ASSIGN_OR_RETURN(auto p, Find(name));
    p->Stop();
    return p->Start();
  }
  // "pipeline NAME: ERROR" for each pipeline that is failed now.
  std::vector<std::string> Failures() const {
    std::vector<std::string> out;
    for (const auto& [name, p] : All()) {
      auto s = p->status();
      if (s.state == pipeline::PipelineState::kFailed) {
        out.push_back(
            fmt::format("pipeline {} failed: {}", name, s.last_error.empty() ? "(no error recorded)" : s.last_error));
      }
    }
    return out;
  }

  // SIGHUP: reads the config file again. Pipelines whose entry (or source or
  // targets) changed are stopped and started with the new settings, from
  // their checkpoints; new ones start, removed ones stop; the others run on
  // untouched. Every changed or new pipeline is validated first, so a file
  // with an error changes nothing. `store` cannot change (nothing is
  // reloaded then), `http` changes need a restart (the rest is applied).
  // Returns what it did, one line.
  Result<std::string> Reload() {
    ASSIGN_OR_RETURN(pipeline::Config fresh, pipeline::LoadConfig(path_));
    std::lock_guard control(control_mu_);
    const pipeline::Config& now = *configs_.back();
    if (fresh.store != now.store) {
      return Status::Invalid("store changed from {} to {}: that needs a restart of sluice; nothing was reloaded",
                             now.store, fresh.store);
    }
    std::string note = fresh.http == now.http ? "" : "; the http address change needs a restart (not applied)";
    std::map<std::string, std::string> fingerprints = PipelineFingerprints(path_);
    auto config = std::make_unique<pipeline::Config>(std::move(fresh));
    std::map<std::string, std::shared_ptr<pipeline::Pipeline>> current = All(), next;
    std::map<std::string, uint32_t> indexes = indexes_;
    uint32_t next_index = next_index_;
    std::vector<std::string> restarted, added, removed, unchanged;
    for (const pipeline::PipelineConfig& pc : config->pipelines) {
      auto it = current.find(pc.name);
      auto old_fp = fingerprints_.find(pc.name);
      auto new_fp = fingerprints.find(pc.name);
      if (it != current.end() && old_fp != fingerprints_.end() && new_fp != fingerprints.end() &&
          old_fp->second == new_fp->second) {
        next[pc.name] = it->second;
        unchanged.push_back(pc.name);
        continue;
      }
      // A pipeline keeps its replica server_id offset; a new one gets one
      // no pipeline has used in this process.
      auto [idx, fresh_index] = indexes.try_emplace(pc.name, next_index);
      if (fresh_index) ++next_index;
      auto p = std::make_shared<pipeline::Pipeline>(*config, pc, store_, metrics_, idx->second);
      RETURN_IF_ERROR(p->Validate());
      next[pc.name] = std::move(p);
      (it == current.end() ? added : restarted).push_back(pc.name);
    }
    for (const auto& [name, p] : current) {
      if (!next.contains(name)) removed.push_back(name);
    }
    // Stop what goes away or is replaced before anything new starts: two
    // captures of one pipeline must never run at once.
    for (const std::string& name : restarted) current[name]->Stop();
    for (const std::string& name : removed) current[name]->Stop();
    {
      std::unique_lock lock(map_mu_);
      pipelines_ = next;
    }
    indexes_ = std::move(indexes);
    next_index_ = next_index;
    fingerprints_ = std::move(fingerprints);
    configs_.push_back(std::move(config));
    std::string failed_to_start;
    for (const auto& names : {restarted, added}) {
      for (const std::string& name : names) {
        Status st = StartUnlessStopped(name, *next[name]);
        if (!st.ok()) failed_to_start += fmt::format("; pipeline {} did not start: {}", name, st.message());
      }
    }
    auto list = [](const std::vector<std::string>& v) {
      return v.empty() ? std::string("none") : fmt::format("{}", fmt::join(v, ", "));
    };
    return fmt::format("restarted (changed): {}; started (new): {}; stopped (removed): {}; unchanged: {}{}{}",
                       list(restarted), list(added), list(removed), list(unchanged), note, failed_to_start);
  }

  // The current configuration's alarms (none: no rules).
  pipeline::AlarmsConfig Alarms() {
    std::lock_guard control(control_mu_);
    return configs_.back()->alarms.value_or(pipeline::AlarmsConfig{});
  }

  std::vector<pipeline::PipelineStatus> ListPipelines() const override {
    std::vector<pipeline::PipelineStatus> out;
    for (const auto& [name, p] : All()) out.push_back(p->status());
    return out;
  }
  Result<pipeline::PipelineStatus> GetPipeline(const std::string& name) const override {
    ASSIGN_OR_RETURN(auto p, Find(name));
    return p->status();
  }
  Status StopPipeline(const std::string& name) override {
    std::lock_guard lock(control_mu_);
    ASSIGN_OR_RETURN(auto p, Find(name));
    p->Stop();
    return store_.SetSetting(name, "stopped", "1");
  }
  Status StartPipeline(const std::string& name) override {
    std::lock_guard lock(control_mu_);
    ASSIGN_OR_RETURN(auto p, Find(name));
    RETURN_IF_ERROR(store_.DeleteSetting(name, "stopped"));
    // A failed pipeline keeps its threads (so that its status stays there to
    // read) and Start() would do nothing: after the user fixed the cause,
    // "start" means start over from the checkpoints.
    if (p->running() && p->status().state == pipeline::PipelineState::kFailed) {
      spdlog::info("pipeline {}: restarting after failure (started through the API)", name);
      p->Stop();
    }
    return p->Start();
  }
  Status RunCheck(const std::string& name, bool repair) override {
    std::lock_guard lock(control_mu_);
    ASSIGN_OR_RETURN(auto p, Find(name));
    return p->RequestCheck(repair);
  }
  Status RunSnapshot(const std::string& name) override {
    std::lock_guard lock(control_mu_);
    ASSIGN_OR_RETURN(auto p, Find(name));
    return p->RequestSnapshot();
  }
  Status SetPosition(const std::string& name, const std::string& position) override {
    std::lock_guard lock(control_mu_);
    ASSIGN_OR_RETURN(auto pipe, Find(name));
    ASSIGN_OR_RETURN(std::string start, pipeline::CheckNewPosition(*pipe, *configs_.back(), name, position));
    return store_.SetSetting(name, "start", start);
  }

 private:
  std::map<std::string, std::shared_ptr<pipeline::Pipeline>> All() const {
    std::shared_lock lock(map_mu_);
    return pipelines_;
  }
  Result<std::shared_ptr<pipeline::Pipeline>> Find(const std::string& name) const {
    std::shared_lock lock(map_mu_);
    auto it = pipelines_.find(name);
    if (it == pipelines_.end()) return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\"", name);
    return it->second;
  }
  // Starts a pipeline unless it was stopped through the API. Under control_mu_.
  Status StartUnlessStopped(const std::string& name, pipeline::Pipeline& p) {
    auto stopped = store_.GetSetting(name, "stopped");
    // Not knowing whether the operator stopped the pipeline is an error:
    // starting it anyway could undo their stop.
    if (!stopped.ok()) {
      return stopped.status().WithContext(fmt::format("pipeline {}: reading whether it was stopped", name));
    }
    if (stopped->has_value()) {
      spdlog::info("pipeline {}: left stopped (stopped through the API)", name);
      return Status::Ok();
    }
    RETURN_IF_ERROR(p.Start());
    spdlog::info("pipeline {}: started", name);
    return Status::Ok();
  }

  const std::string path_;
  store::SqliteStore& store_;
  pipeline::PipelineMetrics metrics_;
  std::vector<std::unique_ptr<pipeline::Config>> configs_;  // the last is the current one; under control_mu_
  std::map<std::string, uint32_t> indexes_;                 // replica server_id offsets by pipeline; under control_mu_
  uint32_t next_index_ = 0;
  std::map<std::string, std::string> fingerprints_;  // under control_mu_
  mutable std::shared_mutex map_mu_;
  std::map<std::string, std::shared_ptr<pipeline::Pipeline>> pipelines_;  // under map_mu_
  // Stop/start/position come from concurrent HTTP workers; a Pipeline's
  // Start and Stop must not overlap.
  std::mutex control_mu_;
};

int Fail(const Status& st) {
  std::fprintf(stderr, "sluice run: error: %s\n", st.message().c_str());
  return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

int RunPipelines(const std::string& config_path) {
  // First thing: a SIGTERM during start-up (validation can take a while when
  // a server is slow) is a clean stop too.
  std::signal(SIGINT, OnRunSignal);
  std::signal(SIGTERM, OnRunSignal);
  std::signal(SIGPIPE, SIG_IGN);
  // SIGHUP reloads the configuration (its default action would end the process).
  std::signal(SIGHUP, OnHangup);
  auto config = pipeline::LoadConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  auto store = store::SqliteStore::Open(config->store);
  if (!store.ok()) return Fail(store.status());
  // One `sluice run` per store: a second one would apply the same changes
  // twice over and evict the first one's replica connection.
  if (Status locked = (*store)->LockForProcess(); !locked.ok()) return Fail(locked);
  pipeline::MetricsRegistry registry;
  const std::string http_address = config->http;
  const std::optional<pipeline::AuthConfig> auth = config->auth;
  const std::optional<pipeline::HttpTlsConfig> tls = config->http_tls;
  // The audit trail outlives the HTTP server that writes to it.
  std::unique_ptr<server::AuditLog> audit;
  if (config->audit) {
    auto opened = server::AuditLog::Open(config->audit->path, config->audit->retention_days);
    if (!opened.ok()) return Fail(opened.status());
    audit = std::move(*opened);
  }
  // A configuration revision is the file's SHA-256 (the text holds secrets).
  auto config_revision = [&config_path]() -> nlohmann::ordered_json {
    std::ifstream in(config_path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return {{"path", config_path}, {"sha256", server::Sha256Hex(text.str())}};
  };
  auto audit_config = [&](const char* action, nlohmann::ordered_json before, nlohmann::ordered_json after,
                          std::string result) {
    if (!audit) return;
    Status st = audit->Append({"sluice", "", action, "config", std::move(before), std::move(after), std::move(result)});
    if (!st.ok()) spdlog::error("{}", st.message());
  };
  nlohmann::ordered_json revision = config_revision();
  Runner runner(std::make_unique<pipeline::Config>(std::move(*config)), config_path, **store, registry);
  // State, delay, snapshot and check gauges, read from the runner at scrape time.
  server::RegisterStatusMetrics(registry, runner);
  Status st = runner.ValidateAll();
  if (!st.ok()) return Fail(st);
  // Alarms read the runner and feed /metrics and /api/alarms: declared
  // before the HTTP server (destroyed after it), stopped before the runner.
  // Made without `alarms:` too, so that a reload may add rules.
  std::unique_ptr<server::alarms::AlarmEngine> alarms;
  {
    auto created = server::alarms::AlarmEngine::Create(runner.Alarms(), runner, registry);
    if (!created.ok()) return Fail(created.status());
    alarms = std::move(*created);
  }

  std::unique_ptr<server::AccessGate> gate;  // declared before the server it guards: destroyed after it
  std::unique_ptr<server::HttpApi> http;
  if (!http_address.empty()) {
    server::AccessGate::Options access;
    access.auth = auth;
    access.audit = audit.get();
    access.describe = server::DescribePipelines(runner);
    gate = std::make_unique<server::AccessGate>(std::move(access));
    http = std::make_unique<server::HttpApi>(runner, registry);
    http->SetExtraRoutes(server::FileConfigRoutes(config_path));
    http->SetAlarmsView([engine = alarms.get()] { return engine->ApiJson(); });
    http->SetGate(gate->AsGate());
    if (tls) http->SetTls({tls->cert, tls->key});
    st = http->Start(http_address);
    if (!st.ok()) return Fail(st);
    spdlog::info("http api on {}", http_address);
  }
  audit_config("config.load", nullptr, revision, "ok");
  st = runner.StartAll();
  if (!st.ok()) return Fail(st);
  alarms->Start();

  while (!g_stop_run.load()) {
    if (g_hangup.exchange(false)) {
      spdlog::info("SIGHUP: reloading {}", config_path);
      auto done = runner.Reload();
      nlohmann::ordered_json next = config_revision();
      audit_config("config.reload", revision, next, done.ok() ? "ok" : "failed: " + done.status().message());
      if (done.ok()) revision = std::move(next);
      if (done.ok()) {
        spdlog::info("SIGHUP: reloaded {}: {}", config_path, *done);
        if (Status a = alarms->Reconfigure(runner.Alarms()); !a.ok()) {
          spdlog::error("SIGHUP: alarms: not reloaded, the former rules apply: {}", a.message());
        }
      } else {
        spdlog::error("SIGHUP: {} not reloaded, the pipelines run on as they were: {}", config_path,
                      done.status().message());
      }
    }
    for (const auto& [name, why] : runner.RestartRequests()) {
      spdlog::warn("pipeline {}: {}: starting it again", name, why);
      if (Status st = runner.RestartPipeline(name); !st.ok()) spdlog::error("pipeline {}: {}", name, st.message());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  spdlog::info("stopping");
  // Read before the stop: a stopped pipeline no longer tells whether its
  // targets had all failed.
  std::vector<std::string> failures = runner.Failures();
  if (http) http->Stop();
  // Before the pipelines stop: their stop is no alarm, and auto_recover
  // must not start one that is stopping.
  alarms->Stop();
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
