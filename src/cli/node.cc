// `sluice node -c node.yaml`: a cluster worker (design §10). It reads the
// configuration the manager published in ZooKeeper and runs the pipelines it
// owns until SIGINT/SIGTERM, then hands them over at once.

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <thread>

#include "cli/commands.h"
#include "cluster/node_agent.h"
#include "cluster/node_routes.h"
#include "pipeline/config.h"
#include "server/access_gate.h"
#include "server/audit/audit_log.h"
#include "server/http_api.h"
#include "pipeline/metrics.h"
#include "store/sqlite_store.h"

namespace sluice::cli {
namespace {

std::atomic<bool> g_stop_node{false};
void OnNodeSignal(int) { g_stop_node.store(true); }

int FailNode(const Status& st) {
  std::fprintf(stderr, "sluice node: error: %s\n", st.message().c_str());
  return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

int RunNode(const std::string& config_path) {
  std::signal(SIGINT, OnNodeSignal);
  std::signal(SIGTERM, OnNodeSignal);
  std::signal(SIGPIPE, SIG_IGN);
  auto config = pipeline::LoadNodeConfig(config_path);
  if (!config.ok()) return FailNode(config.status());
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(config->store).parent_path(), ec);
  auto store = store::SqliteStore::Open(config->store);
  if (!store.ok()) return FailNode(store.status());
  // One process per node store: two would run the same node twice over.
  if (Status locked = (*store)->LockForProcess(); !locked.ok()) return FailNode(locked);

  cluster::NodeAgentOptions options;
  options.coordinator.zookeeper = config->cluster.zookeeper;
  options.coordinator.cluster = config->cluster.name;
  options.coordinator.session_timeout = std::chrono::milliseconds(config->cluster.session_timeout_ms);
  // With http_tls: the manager must call https://: the address says so.
  options.coordinator.node = cluster::NodeInfo{config->id, config->labels,
                                               config->http_tls && !config->http.empty() ? "https://" + config->http
                                                                                         : config->http};
  options.config_dir = std::filesystem::absolute(config_path).parent_path().string();

  pipeline::MetricsRegistry registry;
  auto agent = cluster::NodeAgent::Start(std::move(options), **store, registry);
  if (!agent.ok()) return FailNode(agent.status());
  server::RegisterStatusMetrics(registry, **agent);
  // Declared before the server they serve: destroyed after it.
  std::unique_ptr<server::AuditLog> audit;
  std::unique_ptr<server::AccessGate> gate;
  std::unique_ptr<server::HttpApi> http;
  if (!config->http.empty()) {
    if (config->audit) {
      auto opened = server::AuditLog::Open(config->audit->path, config->audit->retention_days);
      if (!opened.ok()) {
        (*agent)->Shutdown();
        return FailNode(opened.status());
      }
      audit = std::move(*opened);
    }
    server::AccessGate::Options access;
    access.auth = config->auth;
    access.audit = audit.get();
    access.mode = "node";
    access.describe = server::DescribePipelines(**agent);
    gate = std::make_unique<server::AccessGate>(std::move(access));
    http = std::make_unique<server::HttpApi>(**agent, registry);
    http->SetExtraRoutes(cluster::NodeRoutes(**agent));
    http->SetGate(gate->AsGate());
    if (config->http_tls) http->SetTls({config->http_tls->cert, config->http_tls->key});
    Status st = http->Start(config->http);
    if (!st.ok()) {
      (*agent)->Shutdown();
      return FailNode(st);
    }
    spdlog::info("node \"{}\": http api on {}", config->id, config->http);
  }
  while (!g_stop_node.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  spdlog::info("node \"{}\": stopping: every pipeline stops, then the session closes (the handover)", config->id);
  // The handover first: the HTTP server may wait for idle clients.
  (*agent)->Shutdown();
  if (http) http->Stop();
  spdlog::info("node \"{}\": stopped", config->id);
  return 0;
}

}  // namespace

CommandRunner RegisterNode(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "node",
      "Run as a cluster node: follow the configuration published in ZooKeeper and run the pipelines this node "
      "owns until SIGINT/SIGTERM (which hands them over at once); see README, cluster mode");
  cmd->add_option("-c,--config", *path, "Node file (YAML: cluster, node {id, labels}, http, store)")->required();
  return [path] { return RunNode(*path); };
}

}  // namespace sluice::cli
