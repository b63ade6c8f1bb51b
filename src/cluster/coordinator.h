#pragma once
// A node's membership of a cluster over ZooKeeper: its liveness node, and an
// election per pipeline it may own.
//
// Lifetime: Start() opens a session and returns at once (the ensemble may be
// down; the coordinator keeps trying). The destructor closes the session: the
// ensemble removes this node's liveness node and candidates at once, so every
// pipeline it owned passes to the next candidate without waiting for a
// timeout (the clean-stop handover). Stop applying before destroying it.
//
// Threading: one coordinator thread makes every ZooKeeper call. ZooKeeper's
// threads only queue events for it. Public methods may be called from any
// thread (also from a listener); they only queue work and return. Listeners
// run on the coordinator thread, one at a time, in the order of the changes:
// they must return quickly and never wait for the coordinator. No listener
// runs after the destructor returns.
//
// Session states (session_state.h): while suspended every ownership is "in
// doubt" (kInDoubt): the session, and with it the ownership, may already be
// gone, so a target that cannot check the epoch must pause. On reconnection
// within the session it is kOwner again with the same epoch (a ZooKeeper
// leader change, a lost quorum that came back). On expiry it is kLost, and
// the coordinator opens a new session, registers the node again and rejoins
// every election as a new candidate. A node cut off from the ensemble hears
// of the expiry when it reconnects; until then it stays in doubt.
//
// Elections: per pipeline, each eligible node creates an ephemeral sequential
// candidate; the lowest sequence owns; every other candidate watches only its
// predecessor, so an owner's end wakes one node, not all. The epoch of an
// ownership is the zxid that created the owner's candidate: later owners were
// created later, so epochs only grow across owners, sessions and restarts.
//
// Moves: RequestMove() records which node should own a pipeline; the owner
// hears it as `move_to` and releases (rejoining), each next owner that is not
// the named node does the same, and the named node removes the request when
// it owns. A request naming a node that is not a candidate is dropped.
//
// The published configuration (published_config.h) and the managers'
// election (CampaignLeadership) live here too: one session per process.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/cluster_view.h"
#include "cluster/node_info.h"
#include "cluster/published_config.h"
#include "cluster/session_state.h"
#include "core/status.h"

namespace sluice::cluster {

enum class OwnershipState : uint8_t {
  kNone = 0,       // snapshots only: not in the election yet (or never)
  kCandidate = 1,  // in the election, not the owner
  kOwner = 2,      // apply, fencing every write with `epoch`
  kInDoubt = 3,    // was the owner; the session is suspended: pause where the target cannot check the epoch
  kLost = 4,       // the ownership ended without a release (session expired, candidate removed): stop now
  kReleased = 5,   // Release() took effect: no longer a candidate (unless it rejoined)
};
std::string_view OwnershipStateName(OwnershipState state);

struct Ownership {
  std::string pipeline;
  OwnershipState state = OwnershipState::kNone;
  int64_t epoch = 0;  // of the current or last ownership; 0 before the first
  // kOwner only: a pending move request naming another node. The owner stops
  // applying and calls Release(pipeline, /*rejoin=*/true).
  std::string move_to;
};

using OwnershipListener = std::function<void(const Ownership&)>;

using SessionListener = std::function<void(SessionState state, int64_t session_id)>;

// Hears each newer published configuration (the current one first, once
// connected), on the coordinator thread.
using ConfigListener = std::function<void(const PublishedConfig&)>;

// Hears whether this manager leads: true once it owns the managers'
// election, false when it stops leading (in doubt, lost).
using LeadershipListener = std::function<void(bool leading)>;

struct CoordinatorOptions {
  std::string zookeeper;  // "host:port,host:port,..."
  std::string cluster;    // names /sluice/<cluster> in ZooKeeper
  std::chrono::milliseconds session_timeout{6000};
  // This node. An empty id makes an observer (a manager): it registers no
  // liveness node and cannot campaign, but can ReadCluster().
  NodeInfo node;
  // A manager's id, for the managers' election (CampaignLeadership); "" for
  // a node. A coordinator with a manager id and no node id registers no node.
  std::string manager_id;
  SessionListener on_session;  // optional
  // Declare the session expired after a whole session timeout without
  // contact instead of waiting for the ensemble's word (session_state.h).
  // Off by default: with it a lost quorum would end every ownership.
  bool expire_when_cut_off = false;
};

class Coordinator {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Coordinator>> Start(CoordinatorOptions options);
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;
  ~Coordinator();

  // Joins the election of `pipeline`. Fails when this node lacks a required
  // label or is already a candidate. `listener` hears every change of this
  // node's ownership of the pipeline, starting with kCandidate or kOwner.
  [[nodiscard]] Status Campaign(const std::string& pipeline, const std::vector<std::string>& required_labels,
                                OwnershipListener listener);
  // Gives the pipeline up on purpose (handover, move, drain): removes the
  // candidate, so the next candidate owns it, then reports kReleased. With
  // `rejoin` the node enters again behind every other candidate. The caller
  // stops applying first.
  void Release(const std::string& pipeline, bool rejoin);

  // Publishes the node's state in its liveness node (`online` or
  // `draining`, for GET /api/nodes). Draining itself (releasing every
  // pipeline, campaigning for none) is the caller's.
  void SetDraining(bool draining);

  // Asks that `node` own `pipeline` (a move); `done` runs on the coordinator
  // thread once the request is recorded (or failed). Checking that the node
  // is a live candidate is the caller's (ReadCluster); the owner drops a
  // request naming a node that is not.
  void RequestMove(const std::string& pipeline, const std::string& node, std::function<void(Status)> done);

  // Publishes a configuration revision (a manager). Refused with
  // kInvalidArgument when the published revision is not older (the same
  // revision with the same text succeeds). Waits for a connected session;
  // `done` runs on the coordinator thread.
  void PublishConfig(PublishedConfig config, std::function<void(Status)> done);
  // Watches the published configuration (a node): `listener` hears the
  // current revision once connected, then every newer one. One listener.
  void WatchConfig(ConfigListener listener);

  // Joins the managers' election (needs `manager_id`); `listener` hears
  // whether this manager leads. The leader alone publishes.
  [[nodiscard]] Status CampaignLeadership(LeadershipListener listener);

  // Reads the cluster from the ensemble on the coordinator thread; `done`
  // runs there, with a retryable error while the session is not connected.
  void ReadCluster(std::function<void(Result<ClusterView>)> done);

  // The pipeline's settings (pipeline/settings.h) in ZooKeeper, shared by
  // every node (cluster/shared_settings.h). On the coordinator thread;
  // `done` runs there, with a retryable error while the session is not
  // connected. A value of nullopt deletes the key.
  using Settings = std::vector<std::pair<std::string, std::string>>;
  void LoadSettings(const std::string& pipeline, std::function<void(Result<Settings>)> done);
  void GetSetting(const std::string& pipeline, const std::string& key,
                  std::function<void(Result<std::optional<std::string>>)> done);
  void SaveSetting(const std::string& pipeline, const std::string& key, std::optional<std::string> value,
                   std::function<void(Status)> done);

  // Snapshots for status pages and tests: the state last reported to the
  // pipeline's listener (kNone before the first report).
  Ownership ownership(const std::string& pipeline) const;
  SessionState session_state() const;
  int64_t session_id() const;
  const NodeInfo& node() const;

 private:
  class Impl;
  explicit Coordinator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::cluster
