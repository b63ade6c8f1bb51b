#pragma once
// The manager's HTTP API (design §6 and §10, a contract: paths and field
// names are only ever extended, never renamed).
//
//   GET  /healthz                         200 "ok: leader" | "ok: follower (leader: m1)"; 503 while
//                                         ZooKeeper cannot be read
//   GET  /metrics                         Prometheus text: sluice_manager_leader,
//                                         sluice_manager_config_revision, sluice_cluster_nodes, ...
//   GET  /api/pipelines                   [pipeline, ...] for every pipeline of the current revision
//   GET  /api/pipelines/NAME/status       pipeline
//   GET  /api/pipelines/NAME/delay        {"name","delay_ms","targets":[{"name","delay_ms"}]}
//   GET  /api/pipeline/status|delay[?id=NAME]   the seed's aliases
//   POST /api/pipelines/NAME/stop|start|position|check|repair|snapshot   forwarded to the owning
//                                         node's own API
//   POST /api/pipelines/NAME/move         body {"node":"n2"}: 202 {"name","from","to"}; the owner
//                                         hands the pipeline over (400 when n2 is not a live,
//                                         eligible candidate that is not the owner; 404 unknown pipeline)
//   GET  /api/nodes                       [{"id","labels","state","pipelines":[...],"http"}]
//   GET  /api/nodes/ID                    one node
//   POST /api/nodes/ID/drain              forwarded to the node's POST /api/node/drain
//   GET  /api/config                      {"revision","yaml","created_ms","author","comment","published"};
//                                         secrets in "yaml" masked (server/config_secrets.h)
//   PUT  /api/config[?comment=..&author=..]   body: the whole YAML; validated like `sluice run`; a
//                                         masked secret keeps the current revision's value
//                                         (400 {"error":"cluster.yaml:3:5: ..."}); 200 {"revision",
//                                         "created","published"} (created false: equal to the current one)
//   GET  /api/config/revisions            [{"revision","created_ms","author","comment","current"}], newest first
//   GET  /api/config/revisions/N          one revision with its "yaml" (secrets masked)
//   POST /api/config/validate             body: YAML (masked secrets as for PUT): 200 {"valid":true,
//                                         "pipelines":N} | 400 {"error":"FILE:LINE: KEY: ..."}; no revision
//   POST /api/config/rollback             body {"revision":N[,"comment":"..."]}: a new revision with N's text
//   GET  /api/alarms                      {"rules":[...],"alarms":[...]} as `sluice run` answers it, plus
//                                         node_down alarms ({"rule","pipeline":null,"target":null,
//                                         "node","state","value","since","message"})
//
// pipeline = the owning node's own status object (§6: "name","state",
// "source_position","applied_position","delay_ms","rows_applied",
// "last_error","targets",...) plus "owner" (node id, null while unowned),
// "epoch" (integer: the current ownership's, the last one while unowned)
// "candidates" (node ids in election order) and "move_to" (a pending move's
// node, null for none). While no node owns the
// pipeline, "state" is "unowned"; when its owner does not answer, "state" is
// "unknown" and "last_error" says why; the live fields are then null.
//
// Writes (every POST and PUT) need the leading manager: a follower answers
// 409 {"error":"...","leader":"m1","leader_http":"..."}. Reads are answered
// by every manager. Errors are JSON {"error":"..."}: 404 unknown route,
// pipeline, node or revision; 405 wrong method; 400 bad input; 503 while
// ZooKeeper cannot be reached.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster_view.h"
#include "cluster/config_keeper.h"
#include "cluster/node_client.h"
#include "core/status.h"
#include "server/http_server.h"
#include "pipeline/metrics.h"

namespace sluice::cluster {

// What the API needs from the running manager (manager.h), and what unit
// tests provide without ZooKeeper.
class ManagerBackend {
 public:
  virtual ~ManagerBackend() = default;
  virtual std::string id() const = 0;
  virtual ConfigKeeper& keeper() = 0;
  // The cluster as the ensemble has it now (retryable error while unreachable).
  virtual Result<ClusterView> ReadCluster() = 0;
  virtual bool IsLeader() const = 0;
  // The leading manager's id and http address, "" when unknown.
  virtual std::pair<std::string, std::string> Leader() = 0;
  // Writes a move request that the owner of `pipeline` obeys.
  virtual Status RequestMove(const std::string& pipeline, const std::string& node) = 0;
  virtual Result<NodeReply> CallNode(const std::string& address, std::string_view method, const std::string& path,
                                     const std::string& body) = 0;
};

class ManagerApi {
 public:
  ManagerApi(ManagerBackend& backend, pipeline::MetricsRegistry& metrics);
  // Thread-safe; never throws (the server turns exceptions into 500s anyway).
  server::HttpResponse Handle(std::string_view method, std::string_view target, std::string_view body);
  // GET /api/alarms's body (the alarm engine's); set before the server starts.
  void SetAlarmsView(std::function<std::string()> view) { alarms_view_ = std::move(view); }

 private:
  server::HttpResponse Route(std::string_view method, std::string_view target, std::string_view body);

  ManagerBackend& backend_;
  pipeline::MetricsRegistry& metrics_;
  std::function<std::string()> alarms_view_;
};

// The largest PUT /api/config body.
inline constexpr size_t kMaxConfigBytes = size_t{4} << 20;

}  // namespace sluice::cluster
