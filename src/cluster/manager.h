#pragma once
// `sluice manager`: the cluster's configuration keeper and API (design §10).
// It is not on the data path: nodes read the published configuration from
// ZooKeeper and run with every manager down.
//
// Several managers may run, each with its own store; one leads (a ZooKeeper
// election, Coordinator::CampaignLeadership). Only the leader makes and
// publishes configuration revisions (config_keeper.h); every manager records
// what it sees published, so whoever leads next continues the history, and
// answers reads (the cluster view, pipelines' live status from their owners).
//
// Threads: the HTTP server's workers answer requests; the coordinator thread
// only queues events (leadership, published configuration) for the manager's
// own thread, which records and publishes. Start() returns once the API
// listens; the destructor stops the API, then the thread, then closes the
// ZooKeeper session (which hands leadership to the next manager at once).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/config_keeper.h"
#include "cluster/coordinator.h"
#include "cluster/manager_alarms.h"
#include "cluster/manager_api.h"
#include "server/access_gate.h"
#include "server/audit/audit_log.h"
#include "server/http_server.h"
#include "pipeline/metrics.h"
#include "store/config_revisions.h"
#include "store/sqlite_store.h"

namespace sluice::cluster {

struct ManagerOptions {
  std::string config_path;  // cluster.yaml
  std::string id;           // this manager's id ("" = "<hostname>-<pid>")
  std::string http;         // overrides the file's `http:` when set ("127.0.0.1:0" for any port)
  std::string store;        // overrides the file's `store:` when set
  NodeCallTimeouts node_timeouts;
};

class Manager final : public ManagerBackend {
 public:
  // Validates the file exactly as `sluice run` does (kInvalidArgument with
  // the file:line:key message), opens and locks the store, joins the
  // ensemble (which may be down: the manager keeps trying), and serves.
  [[nodiscard]] static Result<std::unique_ptr<Manager>> Start(ManagerOptions options);
  ~Manager() override;

  uint16_t http_port() const { return server_.port(); }
  server::HttpResponse Handle(std::string_view method, std::string_view target, std::string_view body) {
    return api_->Handle(method, target, body);
  }

  // ManagerBackend
  std::string id() const override { return options_.id; }
  ConfigKeeper& keeper() override { return *keeper_; }
  Result<ClusterView> ReadCluster() override;
  bool IsLeader() const override { return leader_.load(); }
  std::pair<std::string, std::string> Leader() override;
  Status RequestMove(const std::string& pipeline, const std::string& node) override;
  Result<NodeReply> CallNode(const std::string& address, std::string_view method, const std::string& path,
                             const std::string& body) override;

 private:
  explicit Manager(ManagerOptions options) : options_(std::move(options)) {}
  Status Publish(int64_t revision, const std::string& yaml);
  void Loop();
  void RegisterMetrics();
  // The gate in front of the API (design §11), from the file's auth:,
  // audit: and http_tls:; its users follow the current revision (Loop).
  Status SetUpAccess(const pipeline::Config& config);
  nlohmann::ordered_json Describe(const std::string& object);
  void FollowAuth();
  // The current revision's `alarms:` (none: no rules) for the alarm engine.
  void FollowAlarms();
  // How long a call on the coordinator thread may take before it counts as unanswered.
  std::chrono::milliseconds CallTimeout() const;

  ManagerOptions options_;
  std::string file_yaml_;
  std::chrono::milliseconds session_timeout_{6000};
  NodeCredentials node_credentials_;
  std::unique_ptr<store::SqliteStore> lock_store_;  // held for the lock: one manager per store
  std::unique_ptr<store::ConfigRevisions> revisions_;
  std::unique_ptr<ConfigKeeper> keeper_;
  pipeline::MetricsRegistry metrics_;
  std::unique_ptr<ManagerApi> api_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<server::AuditLog> audit_;    // outlives the gate and the server
  std::unique_ptr<server::AccessGate> gate_;   // outlives the server
  int64_t auth_revision_ = -1;                 // the revision whose users the gate has; Loop's thread only
  std::unique_ptr<ManagerAlarmSubject> alarm_subject_;
  std::unique_ptr<server::alarms::AlarmEngine> alarms_;  // stopped before the coordinator goes
  int64_t alarms_revision_ = -1;                         // the revision whose rules the engine has; Loop's thread only
  server::HttpServer server_;

  std::atomic<bool> leader_{false};
  std::atomic<int64_t> nodes_seen_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;                          // under mu_
  bool leadership_changed_ = false;            // under mu_
  bool pending_leader_ = false;                // under mu_: what the election last said
  std::deque<PublishedConfig> seen_;           // under mu_: published configurations to record
  std::thread thread_;
};

}  // namespace sluice::cluster
