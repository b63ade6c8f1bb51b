// `sluice run -c FILE`: runs every pipeline of a config until SIGINT/SIGTERM,
// resuming from checkpoints, with the HTTP API (design §6) when `http:` is set.

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "pipeline/config.h"
#include "pipeline/http_api.h"
#include "pipeline/metrics.h"
#include "pipeline/pipeline.h"
#include "store/sqlite_store.h"

namespace sluice::cli {
namespace {

std::atomic<bool> g_stop_run{false};
void OnRunSignal(int) { g_stop_run.store(true); }

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
      if (stopped.ok() && stopped->has_value()) {
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
  // True while some pipeline can still make progress.
  bool AnyAlive() const {
    for (const auto& [name, p] : pipelines_) {
      auto s = p->status();
      if (p->running() && s.state != pipeline::PipelineState::kFailed) return true;
    }
    return false;
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
      return Status::Error(StatusCode::kNotSupported, "pipeline \"{}\" is running: stop it before moving its position",
                           name);
    }
    ASSIGN_OR_RETURN(StartPosition p, StartPosition::Parse(position));
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

int RunPipelines(const std::string& config_path) {
  // First thing: a SIGTERM during start-up (validation can take a while when
  // a server is slow) is a clean stop too.
  std::signal(SIGINT, OnRunSignal);
  std::signal(SIGTERM, OnRunSignal);
  std::signal(SIGPIPE, SIG_IGN);
  auto config = pipeline::LoadConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  auto store = store::SqliteStore::Open(config->store);
  if (!store.ok()) return Fail(store.status());
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

  while (!g_stop_run.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  spdlog::info("stopping");
  if (http) http->Stop();
  runner.StopAll();
  return 0;
}

}  // namespace

CommandRunner RegisterRun(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("run", "Run every pipeline of a config until SIGINT/SIGTERM, resuming from checkpoints");
  cmd->add_option("-c,--config", *path, "Configuration file (YAML, see README)")->required();
  return [path] { return RunPipelines(*path); };
}

}  // namespace sluice::cli
