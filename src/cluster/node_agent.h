#pragma once
// NodeAgent: what `sluice node` runs (design §10). It joins the cluster
// through a Coordinator, follows the configuration published in ZooKeeper,
// campaigns for every pipeline whose labels this node has, and runs the
// pipelines it owns, each with the epoch of its ownership (every target
// write is fenced by it).
//
//   published revision  -> parsed as `sluice run` parses a file; a revision
//                          that fails keeps the previous one running
//   owner               -> start the pipeline with the epoch
//   in doubt            -> Pipeline::SetInDoubt(true) (unfenced targets pause)
//   owner, same epoch   -> SetInDoubt(false)
//   lost                -> stop at once
//   fenced (a target)   -> stop, Release(rejoin): a candidate again
//   move requested      -> stop at a transaction boundary, Release(rejoin)
//   removed / ineligible-> stop, Release(no rejoin)
//
// Threading: the coordinator's listeners run on its thread and must not
// block, so they only queue work for the agent thread, which starts and
// stops pipelines (that waits for servers and threads). The controller
// methods (HTTP workers) read snapshots under a mutex, and queue stop/start
// to the agent thread, waiting for them.
//
// Shutdown: Shutdown() (also the destructor) stops every pipeline, then
// destroys the coordinator, which closes the session: every candidate goes
// at once and the next nodes own the pipelines without a timeout.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/coordinator.h"
#include "core/status.h"
#include "pipeline/config.h"
#include "pipeline/controller.h"
#include "pipeline/metrics.h"
#include "pipeline/pipeline.h"
#include "store/sqlite_store.h"

namespace sluice::cluster {

struct NodeAgentOptions {
  CoordinatorOptions coordinator;  // the node (id, labels, http) and its cluster
  // Anchors relative paths in published configurations, and names them in
  // messages ("<dir>/cluster-r7.yaml:12:7: ...").
  std::string config_dir = ".";
};

// What GET /api/node shows.
struct NodeStatus {
  struct Candidacy {
    std::string pipeline;
    OwnershipState state = OwnershipState::kNone;
    int64_t epoch = 0;
  };
  NodeInfo node;
  bool draining = false;
  SessionState session = SessionState::kConnecting;
  int64_t revision = 0;       // of the configuration applied; 0 before the first
  std::string config_error;   // why the last published revision was not applied ("" when it was)
  std::vector<std::string> owned;  // pipelines this node owns
  std::vector<Candidacy> candidacies;
};

class NodeAgent : public pipeline::PipelineController {
 public:
  // `store` and `registry` must outlive the agent.
  [[nodiscard]] static Result<std::unique_ptr<NodeAgent>> Start(NodeAgentOptions options, store::SqliteStore& store,
                                                                pipeline::MetricsRegistry& registry);
  ~NodeAgent() override;
  NodeAgent(const NodeAgent&) = delete;
  NodeAgent& operator=(const NodeAgent&) = delete;

  // Stops every pipeline, then closes the session (the handover). Idempotent.
  void Shutdown();
  // Publishes `draining`, stops and releases every pipeline (no rejoin) and
  // campaigns for none from now on. Returns once that is done.
  void Drain();

  NodeStatus node_status() const;

  // PipelineController, over the pipelines this node owns.
  std::vector<pipeline::PipelineStatus> ListPipelines() const override;
  Result<pipeline::PipelineStatus> GetPipeline(const std::string& name) const override;
  Status StopPipeline(const std::string& name) override;
  Status StartPipeline(const std::string& name) override;
  Status SetPosition(const std::string& name, const std::string& position) override;
  Status RunCheck(const std::string& name, bool repair) override;
  Status RunSnapshot(const std::string& name) override;

 private:
  struct Slot;
  struct Owned {
    std::shared_ptr<pipeline::Pipeline> pipeline;
    int64_t epoch = 0;
  };

  NodeAgent(NodeAgentOptions options, store::SqliteStore& store, pipeline::MetricsRegistry& registry);

  // Queues `task` for the agent thread; dropped once it has stopped.
  void Post(std::function<void()> task);
  // Runs `task` on the agent thread and waits for its answer.
  Status Call(std::function<Status()> task);

  // ---- On the agent thread. ----
  void Loop();
  void Tick();
  void OnConfig(int64_t revision, const std::string& yaml);
  void OnOwnership(uint64_t generation, const Ownership& ownership);
  void CampaignFor(Slot& slot);
  // Stops the slot's pipeline (if any) and releases it for good; erases it.
  void Leave(const std::string& name, const std::string& why);
  void StartOwned(Slot& slot);
  void StopOwned(Slot& slot, const std::string& why);
  void StopAll();
  void PublishViews();

  const NodeAgentOptions options_;
  store::SqliteStore& store_;
  pipeline::MetricsRegistry& registry_;
  pipeline::PipelineMetrics metrics_;
  // Set once after the start, taken away by Shutdown once the agent thread
  // ended; under coordinator_mu_ only for node_status() on HTTP threads.
  mutable std::mutex coordinator_mu_;
  std::unique_ptr<Coordinator> coordinator_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;  // under queue_mu_: no more tasks
  std::thread thread_;
  std::once_flag shutdown_once_;

  // Agent thread only.
  std::map<std::string, std::unique_ptr<Slot>> slots_;
  uint64_t next_generation_ = 1;
  std::shared_ptr<const pipeline::Config> config_;
  int64_t revision_ = 0;
  bool draining_ = false;

  // Snapshots for the controller and status, under views_mu_.
  mutable std::mutex views_mu_;
  std::map<std::string, Owned> views_;
  std::vector<std::string> view_campaigns_;  // every pipeline this node campaigns for
  int64_t view_revision_ = 0;
  std::string view_config_error_;
  bool view_draining_ = false;
};

}  // namespace sluice::cluster
