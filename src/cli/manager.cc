// `sluice manager -c cluster.yaml`: the cluster's configuration keeper and
// API (design §10); runs until SIGINT/SIGTERM.

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cluster/manager.h"
#include "pipeline/config.h"

namespace sluice::cli {
namespace {

std::atomic<bool> g_stop_manager{false};
void OnManagerSignal(int) { g_stop_manager.store(true); }

int RunManager(cluster::ManagerOptions options) {
  std::signal(SIGINT, OnManagerSignal);
  std::signal(SIGTERM, OnManagerSignal);
  std::signal(SIGPIPE, SIG_IGN);
  // The file's http: without auth: is refused by its validation; an --http
  // beyond loopback needs auth: just the same (design §11).
  if (auto config = pipeline::LoadConfig(options.config_path); config.ok()) {
    if (!options.http.empty() && !pipeline::IsLoopbackListen(options.http) && !config->auth) {
      std::fprintf(stderr,
                   "sluice manager: error: --http %s is not a loopback address and %s has no auth: "
                   "(access control); add auth: or listen on 127.0.0.1 or [::1]\n",
                   options.http.c_str(), options.config_path.c_str());
      return 2;
    }
  }
  auto manager = cluster::Manager::Start(std::move(options));
  if (!manager.ok()) {
    std::fprintf(stderr, "sluice manager: error: %s\n", manager.status().message().c_str());
    return manager.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  while (!g_stop_manager.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  spdlog::info("manager: stopping");
  manager->reset();
  return 0;
}

}  // namespace

CommandRunner RegisterManager(CLI::App& app) {
  auto options = std::make_shared<cluster::ManagerOptions>();
  CLI::App* cmd = app.add_subcommand(
      "manager",
      "Run a cluster manager: validates cluster.yaml as `run` does, keeps configuration revisions in its store, "
      "publishes the current one to ZooKeeper while it leads, and serves the cluster's HTTP API (pipelines with "
      "owner and epoch, nodes, moves, configuration revisions). Several may run; one leads. Exit 2 when the "
      "configuration is invalid");
  cmd->add_option("-c,--config", options->config_path,
                  "cluster.yaml: sources, targets, pipelines (as for `run`), plus cluster: {name, zookeeper, "
                  "session_timeout_ms}, http: and store:")
      ->required();
  cmd->add_option("--id", options->id, "This manager's id (default: HOSTNAME-PID)");
  cmd->add_option("--http", options->http, "Serve the API here instead of the file's http: (HOST:PORT; port 0: any)");
  cmd->add_option("--store", options->store, "Keep revisions in this SQLite file instead of the file's store:");
  return [options] { return RunManager(*options); };
}

}  // namespace sluice::cli
