#include "cluster/coordinator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <variant>

#include "cluster/cluster_view.h"
#include "cluster/names.h"
#include "cluster/zk_handle.h"

namespace sluice::cluster {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// After a call failed on a lost connection, wait this long before the next
// attempt (the session event that explains the failure is usually on its way).
constexpr milliseconds kRetryPause{200};
// The coordinator thread wakes at least this often to check its timers.
constexpr milliseconds kMaxSleep{500};
// Bound on re-evaluations of one election in one round (each is a few calls;
// more means the candidates change faster than we can look).
constexpr int kMaxPassesPerRound = 8;

struct ZkEvent {
  uint64_t generation;
  int type;
  int state;
  std::string path;
};

bool Holds(OwnershipState s) { return s == OwnershipState::kOwner || s == OwnershipState::kInDoubt; }

}  // namespace

std::string_view OwnershipStateName(OwnershipState state) {
  switch (state) {
    case OwnershipState::kNone:
      return "none";
    case OwnershipState::kCandidate:
      return "candidate";
    case OwnershipState::kOwner:
      return "owner";
    case OwnershipState::kInDoubt:
      return "in doubt";
    case OwnershipState::kLost:
      return "lost";
    case OwnershipState::kReleased:
      return "released";
  }
  return "unknown";
}

class Coordinator::Impl {
 public:
  explicit Impl(CoordinatorOptions options)
      : options_(std::move(options)), paths_(options_.cluster), sm_(options_.expire_when_cut_off) {}

  Status Start() {
    std::promise<Status> opened;
    std::future<Status> result = opened.get_future();
    thread_ = std::thread([this, &opened] { Run(&opened); });
    Status st = result.get();
    if (!st.ok()) thread_.join();
    return st;
  }

  void Stop() {
    {
      std::lock_guard lock(queue_mu_);
      stop_ = true;
    }
    queue_cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  Status Campaign(const std::string& pipeline, const std::vector<std::string>& required_labels,
                  OwnershipListener listener) {
    RETURN_IF_ERROR(ValidateName("pipeline name", pipeline));
    if (options_.node.id.empty())
      return Status::Invalid("an observer (no node id) cannot own pipeline \"{}\"", pipeline);
    std::string missing = MissingLabel(options_.node.labels, required_labels);
    if (!missing.empty()) {
      return Status::Invalid("node \"{}\" may not own pipeline \"{}\": it lacks the label \"{}\"", options_.node.id,
                             pipeline, missing);
    }
    {
      std::lock_guard lock(snapshot_mu_);
      if (!campaigns_.insert(pipeline).second) {
        return Status::Invalid("node \"{}\" is already a candidate for pipeline \"{}\"", options_.node.id, pipeline);
      }
    }
    Post([this, pipeline, listener = std::move(listener)]() mutable {
      Candidacy c;
      c.ownership.pipeline = pipeline;
      c.dir = paths_.candidates(pipeline);
      c.listener = std::move(listener);
      candidacies_.emplace(pipeline, std::move(c));
    });
    return Status::Ok();
  }

  Status CampaignLeadership(LeadershipListener listener) {
    if (options_.manager_id.empty()) {
      return Status::Invalid("cluster \"{}\": only a manager (with a manager id) can lead", options_.cluster);
    }
    RETURN_IF_ERROR(ValidateName("manager id", options_.manager_id));
    {
      std::lock_guard lock(snapshot_mu_);
      if (!campaigns_.insert(kLeadershipKey).second) {
        return Status::Invalid("manager \"{}\" is already in the managers' election", options_.manager_id);
      }
    }
    Post([this, listener = std::move(listener)]() mutable {
      Candidacy c;
      c.ownership.pipeline = "";  // not a pipeline: kept apart in the snapshots
      c.dir = paths_.manager_candidates();
      c.leadership = true;
      c.listener = [listener = std::move(listener)](const Ownership& o) {
        listener(o.state == OwnershipState::kOwner);
      };
      candidacies_.emplace(kLeadershipKey, std::move(c));
    });
    return Status::Ok();
  }

  void RequestMove(const std::string& pipeline, const std::string& node, std::function<void(Status)> done) {
    Status valid = ValidateName("pipeline name", pipeline);
    if (valid.ok()) valid = ValidateName("node id", node);
    if (!valid.ok()) {
      Post([done = std::move(done), valid] { done(valid); });
      return;
    }
    Post([this, pipeline, node, done = std::move(done)]() mutable {
      moves_.push_back(PendingMove{pipeline, node, std::move(done)});
    });
  }

  void PublishConfig(PublishedConfig config, std::function<void(Status)> done) {
    Post([this, config = std::move(config), done = std::move(done)]() mutable {
      publishes_.push_back(PendingPublish{std::move(config), std::move(done)});
    });
  }

  void WatchConfig(ConfigListener listener) {
    Post([this, listener = std::move(listener)]() mutable {
      config_listener_ = std::move(listener);
      config_dirty_ = true;
    });
  }

  void Release(const std::string& pipeline, bool rejoin) {
    Post([this, pipeline, rejoin] {
      auto it = candidacies_.find(pipeline);
      if (it == candidacies_.end()) return;
      it->second.releasing = true;
      it->second.rejoin = rejoin;
    });
  }

  void SetDraining(bool draining) {
    Post([this, draining] {
      if (published_.draining == draining) return;
      published_.draining = draining;
      publish_node_ = true;
    });
  }

  void ReadCluster(std::function<void(Result<ClusterView>)> done) {
    Post([this, done = std::move(done)] {
      if (sm_.state() != SessionState::kConnected) {
        done(Status::Retryable(StatusCode::kIoError, "cluster \"{}\": not connected to zookeeper ({})",
                               options_.cluster, SessionStateName(sm_.state())));
        return;
      }
      done(ReadClusterView(handle_, paths_));
    });
  }

  void LoadSettings(const std::string& pipeline, std::function<void(Result<Coordinator::Settings>)> done) {
    Post([this, pipeline, done = std::move(done)] {
      if (Status st = Connected(); !st.ok()) return done(st);
      const std::string dir = paths_.settings(pipeline);
      std::vector<std::string> names;
      int rc = handle_.GetChildren(dir, &names);
      if (rc == ZNONODE) return done(Coordinator::Settings{});
      if (rc != ZOK) return done(ZkError(rc, "get children", dir));
      Coordinator::Settings out;
      for (const std::string& name : names) {
        std::optional<std::string> key = SettingKey(name);
        if (!key) continue;  // not ours
        std::string value;
        rc = handle_.Get(dir + "/" + name, &value);
        if (rc == ZNONODE) continue;  // deleted meanwhile
        if (rc != ZOK) return done(ZkError(rc, "get", dir + "/" + name));
        out.emplace_back(std::move(*key), std::move(value));
      }
      std::sort(out.begin(), out.end());
      done(std::move(out));
    });
  }

  void GetSetting(const std::string& pipeline, const std::string& key,
                  std::function<void(Result<std::optional<std::string>>)> done) {
    Post([this, pipeline, key, done = std::move(done)] {
      if (Status st = Connected(); !st.ok()) return done(st);
      const std::string path = paths_.settings(pipeline) + "/" + SettingNodeName(key);
      std::string value;
      int rc = handle_.Get(path, &value);
      if (rc == ZNONODE) return done(std::optional<std::string>());
      if (rc != ZOK) return done(ZkError(rc, "get", path));
      done(std::optional<std::string>(std::move(value)));
    });
  }

  void SaveSetting(const std::string& pipeline, const std::string& key, std::optional<std::string> value,
                   std::function<void(Status)> done) {
    Post([this, pipeline, key, value = std::move(value), done = std::move(done)] {
      if (Status st = Connected(); !st.ok()) return done(st);
      const std::string dir = paths_.settings(pipeline);
      const std::string path = dir + "/" + SettingNodeName(key);
      if (!value) {
        int rc = handle_.Delete(path);
        return done(rc == ZOK || rc == ZNONODE ? Status::Ok() : ZkError(rc, "delete", path));
      }
      int rc = handle_.Set(path, *value);
      if (rc == ZNONODE) {
        rc = handle_.EnsurePath(dir);
        if (rc != ZOK) return done(ZkError(rc, "create", dir));
        rc = handle_.Create(path, *value, ZOO_PERSISTENT);
        if (rc == ZNODEEXISTS) rc = handle_.Set(path, *value);  // another node's, just now
      }
      done(rc == ZOK ? Status::Ok() : ZkError(rc, "set", path));
    });
  }

  Status Connected() const {
    if (sm_.state() == SessionState::kConnected) return Status::Ok();
    return Status::Retryable(StatusCode::kIoError, "cluster \"{}\": not connected to zookeeper ({})",
                             options_.cluster, SessionStateName(sm_.state()));
  }

  Ownership ownership(const std::string& pipeline) const {
    std::lock_guard lock(snapshot_mu_);
    auto it = snapshot_.find(pipeline);
    if (it == snapshot_.end()) return Ownership{pipeline, OwnershipState::kNone, 0};
    return it->second;
  }
  SessionState session_state() const {
    std::lock_guard lock(snapshot_mu_);
    return snapshot_session_;
  }
  int64_t session_id() const {
    std::lock_guard lock(snapshot_mu_);
    return snapshot_session_id_;
  }
  const NodeInfo& node() const { return options_.node; }

 private:
  // What ZooKeeper's threads may touch: the queue, through this context.
  struct WatchContext {
    Impl* impl;
    uint64_t generation;  // of the handle that set the watch; later handles ignore it
  };

  // The managers' election among the candidacies (pipeline names are never empty).
  static constexpr const char* kLeadershipKey = "";

  struct PendingMove {
    std::string pipeline, node;
    std::function<void(Status)> done;
  };
  struct PendingPublish {
    PublishedConfig config;
    std::function<void(Status)> done;
  };

  struct Candidacy {
    std::string dir;          // its candidates' directory
    bool leadership = false;  // the managers' election: no epoch record, no moves
    Ownership ownership;  // as last reported to the listener
    bool reported = false;
    OwnershipListener listener;
    std::string own_name;  // our candidate node, "" when none in this session
    int64_t own_session = 0;
    int64_t own_czxid = 0;
    bool dirty = true;  // look at the election again
    bool releasing = false;
    bool rejoin = false;
    bool erase = false;
  };

  using Item = std::variant<ZkEvent, std::function<void()>>;

  static void OnZkEvent(zhandle_t*, int type, int state, const char* path, void* context) {
    // On a ZooKeeper thread: hand over, nothing else.
    auto* c = static_cast<WatchContext*>(context);
    c->impl->Push(ZkEvent{c->generation, type, state, path ? path : ""});
  }

  void Push(Item item) {
    {
      std::lock_guard lock(queue_mu_);
      items_.push_back(std::move(item));
    }
    queue_cv_.notify_one();
  }
  void Post(std::function<void()> fn) { Push(std::move(fn)); }

  // ---- Everything below runs on the coordinator thread. ----

  void Run(std::promise<Status>* opened) {
    Status first = OpenSession();
    opened->set_value(first);
    if (!first.ok()) return;
    for (;;) {
      std::deque<Item> items;
      {
        std::unique_lock lock(queue_mu_);
        queue_cv_.wait_until(lock, NextWake(), [this] { return !items_.empty() || stop_; });
        if (stop_) break;
        items.swap(items_);
      }
      for (Item& item : items) {
        if (auto* event = std::get_if<ZkEvent>(&item)) {
          HandleEvent(*event);
        } else {
          std::get<std::function<void()>>(item)();
        }
      }
      Tick();
      DoWork();
    }
    // Closing the session removes our ephemeral nodes at once: the clean-stop handover.
    handle_.Close();
    sm_.OnClosed();
    std::lock_guard lock(snapshot_mu_);
    snapshot_session_ = SessionState::kClosed;
  }

  Clock::time_point NextWake() const {
    Clock::time_point wake = Clock::now() + kMaxSleep;
    if (auto deadline = sm_.expiry_deadline()) wake = std::min(wake, *deadline);
    if (retry_at_ > Clock::now()) wake = std::min(wake, retry_at_);
    return wake;
  }

  Status OpenSession() {
    handle_.Close();  // the old handle's watchers are silent from here on
    context_ = std::make_unique<WatchContext>(WatchContext{this, ++generation_});
    Status st = handle_.Open(options_.zookeeper, options_.session_timeout, &Impl::OnZkEvent, context_.get());
    if (!st.ok()) {
      spdlog::error("cluster \"{}\": {}", options_.cluster, st.message());
      retry_at_ = Clock::now() + std::chrono::seconds(1);
      return st;
    }
    Transition(sm_.OnNewHandle());
    return Status::Ok();
  }

  void HandleEvent(const ZkEvent& e) {
    if (e.generation != generation_) return;
    if (e.type == ZOO_SESSION_EVENT) {
      // Every watcher of the handle hears session events, so they come in
      // duplicates; the state machine ignores the repeats.
      const auto now = Clock::now();
      if (e.state == ZOO_CONNECTED_STATE) {
        Transition(sm_.OnConnected(now, handle_.session_id(), handle_.negotiated_timeout()));
      } else if (e.state == ZOO_CONNECTING_STATE || e.state == ZOO_ASSOCIATING_STATE) {
        Transition(sm_.OnConnectionLost(now));
      } else if (e.state == ZOO_EXPIRED_SESSION_STATE || e.state == ZOO_AUTH_FAILED_STATE) {
        Transition(sm_.OnExpired());
      }
      return;
    }
    if (!options_.node.id.empty() && e.path == paths_.node(options_.node.id)) {
      node_dirty_ = true;
      return;
    }
    if (e.path == paths_.config()) {
      config_dirty_ = true;
      return;
    }
    if (e.path.rfind(paths_.managers(), 0) == 0) {
      auto it = candidacies_.find(kLeadershipKey);
      if (it != candidacies_.end()) it->second.dirty = true;
      return;
    }
    auto it = candidacies_.find(paths_.PipelineOf(e.path));
    if (it != candidacies_.end()) it->second.dirty = true;
  }

  void Tick() {
    if (sm_.state() == SessionState::kSuspended) {
      expired_locally_ = true;  // if this tick is what expires it
      Transition(sm_.OnTick(Clock::now()));
      expired_locally_ = false;
    }
    if (!handle_.is_open() && Clock::now() >= retry_at_) (void)OpenSession();
  }

  // Reacts to a change of the session state (repeats are ignored).
  void Transition(SessionState state) {
    if (state == reported_session_ && sm_.session_id() == reported_session_id_) return;
    const int64_t sid = state == SessionState::kExpired ? reported_session_id_ : sm_.session_id();
    reported_session_ = state;
    reported_session_id_ = sid;
    {
      std::lock_guard lock(snapshot_mu_);
      snapshot_session_ = state;
      snapshot_session_id_ = sid;
    }
    if (options_.on_session) options_.on_session(state, sid);
    switch (state) {
      case SessionState::kConnected:
        spdlog::info("cluster \"{}\" node \"{}\": zookeeper session {:#x} connected (timeout {} ms)", options_.cluster,
                     options_.node.id, sid, sm_.session_timeout().count());
        node_dirty_ = true;
        config_dirty_ = true;
        for (auto& [name, c] : candidacies_) c.dirty = true;
        retry_at_ = {};
        break;
      case SessionState::kSuspended:
        spdlog::warn(
            "cluster \"{}\" node \"{}\": lost the connection to zookeeper (session {:#x}, timeout {} ms); "
            "ownerships are in doubt until it reconnects",
            options_.cluster, options_.node.id, sid, sm_.session_timeout().count());
        for (auto& [name, c] : candidacies_) {
          if (c.ownership.state == OwnershipState::kOwner) Report(c, OwnershipState::kInDoubt, c.ownership.epoch);
        }
        break;
      case SessionState::kExpired:
        OnSessionExpired(sid);
        break;
      case SessionState::kConnecting:
      case SessionState::kClosed:
        break;
    }
  }

  void OnSessionExpired(int64_t sid) {
    spdlog::warn(
        "cluster \"{}\" node \"{}\": zookeeper session {:#x} expired ({}); every ownership is lost, "
        "rejoining with a new session",
        options_.cluster, options_.node.id, sid,
        expired_locally_ ? "no contact for a whole session timeout" : "said by the ensemble");
    if (sid != 0) previous_sessions_.insert(sid);
    registered_ = false;
    for (auto& [name, c] : candidacies_) {
      if (Holds(c.ownership.state)) Report(c, OwnershipState::kLost, c.ownership.epoch);
      c.own_name.clear();
      c.dirty = true;
    }
    (void)OpenSession();
  }

  void Report(Candidacy& c, OwnershipState state, int64_t epoch, const std::string& move_to = "") {
    if (c.reported && c.ownership.state == state && c.ownership.epoch == epoch && c.ownership.move_to == move_to) {
      return;
    }
    c.reported = true;
    c.ownership.state = state;
    c.ownership.epoch = epoch;
    c.ownership.move_to = move_to;
    {
      std::lock_guard lock(snapshot_mu_);
      snapshot_[c.ownership.pipeline] = c.ownership;
    }
    auto log =
        state == OwnershipState::kLost || state == OwnershipState::kInDoubt ? spdlog::level::warn : spdlog::level::info;
    if (c.leadership) {
      spdlog::log(log, "cluster \"{}\" manager \"{}\": {}", options_.cluster, options_.manager_id,
                  state == OwnershipState::kOwner ? "leads" : fmt::format("does not lead ({})", OwnershipStateName(state)));
    } else if (move_to.empty()) {
      spdlog::log(log, "cluster \"{}\" node \"{}\": pipeline \"{}\" {} (epoch {})", options_.cluster,
                  options_.node.id, c.ownership.pipeline, OwnershipStateName(state), epoch);
    } else {
      spdlog::info("cluster \"{}\" node \"{}\": pipeline \"{}\" is to move to node \"{}\" (epoch {})",
                   options_.cluster, options_.node.id, c.ownership.pipeline, move_to, epoch);
    }
    if (c.listener) c.listener(c.ownership);
  }

  // Whether to go on after a ZooKeeper call. Connection trouble pauses the
  // work until the session settles; an expired session starts a new one.
  bool Ok(int rc, std::string_view op, const std::string& path) {
    if (rc == ZOK) return true;
    if (IsConnectionError(rc)) {
      retry_at_ = Clock::now() + kRetryPause;
      return false;
    }
    if (rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE) {
      Transition(sm_.OnExpired());
      return false;
    }
    spdlog::error("cluster \"{}\" node \"{}\": {}", options_.cluster, options_.node.id,
                  ZkError(rc, op, path).message());
    retry_at_ = Clock::now() + std::chrono::seconds(1);
    return false;
  }

  void DoWork() {
    if (sm_.state() != SessionState::kConnected || Clock::now() < retry_at_) return;
    if (!DoPublishes() || !DoMoves() || !ReadConfig()) return;
    if (!options_.node.id.empty()) {
      if (!RegisterNode() || !registered_) return;
      if (publish_node_) {
        const std::string path = paths_.node(options_.node.id);
        int rc = handle_.Set(path, NodeInfoToJson(published_));
        if (!Ok(rc, "set", path)) return;
        publish_node_ = false;
      }
    }
    for (auto& [name, c] : candidacies_) {
      for (int pass = 0; pass < kMaxPassesPerRound && (c.dirty || c.releasing); ++pass) {
        if (!Evaluate(c)) return;
        if (sm_.state() != SessionState::kConnected) return;
      }
    }
    for (auto it = candidacies_.begin(); it != candidacies_.end();) {
      if (!it->second.erase) {
        ++it;
        continue;
      }
      {
        std::lock_guard lock(snapshot_mu_);
        campaigns_.erase(it->first);  // the snapshot keeps saying kReleased
      }
      it = candidacies_.erase(it);
    }
  }

  // Creates our liveness node. False when a call failed; registered_ says
  // whether it exists (it may not while an earlier process's session holds it).
  bool RegisterNode() {
    if (registered_ && !node_dirty_) return true;
    node_dirty_ = false;
    const std::string path = paths_.node(options_.node.id);
    int rc = handle_.EnsurePath(paths_.nodes());
    if (!Ok(rc, "create", paths_.nodes())) return false;
    const int64_t session = sm_.session_id();
    for (int attempt = 0; attempt < kMaxPassesPerRound; ++attempt) {
      rc = handle_.Create(path, NodeInfoToJson(published_), ZOO_EPHEMERAL);
      if (rc != ZOK && rc != ZNODEEXISTS) return Ok(rc, "create", path);
      Stat stat{};
      // Also the watch that tells us if the node is removed under us.
      rc = handle_.WatchExists(path, &Impl::OnZkEvent, context_.get(), &stat);
      if (rc == ZNONODE) continue;
      if (!Ok(rc, "exists", path)) return false;
      if (stat.ephemeralOwner == session) {
        if (!registered_) {
          spdlog::info("cluster \"{}\": node \"{}\" registered (session {:#x})", options_.cluster, options_.node.id,
                       session);
        }
        registered_ = true;
        waiting_for_node_ = false;
        return true;
      }
      if (previous_sessions_.count(stat.ephemeralOwner)) {
        // Ours from a session we gave up on; the ensemble has not noticed yet.
        rc = handle_.Delete(path);
        if (rc != ZNONODE && !Ok(rc, "delete", path)) return false;
        continue;
      }
      if (!waiting_for_node_) {
        spdlog::warn(
            "cluster \"{}\": node id \"{}\" is held by another live session {:#x} (a process of this node "
            "that just died, or another node with the same id); waiting for it to end",
            options_.cluster, options_.node.id, stat.ephemeralOwner);
      }
      waiting_for_node_ = true;
      return true;  // the watch fires when that node goes
    }
    return true;
  }

  // One look at an election. False when a call failed.
  bool Evaluate(Candidacy& c) {
    const std::string& dir = c.dir;
    const int64_t session = sm_.session_id();
    if (c.releasing) {
      if (!c.own_name.empty()) {
        int rc = handle_.Delete(dir + "/" + c.own_name);
        if (rc != ZNONODE && !Ok(rc, "delete", dir + "/" + c.own_name)) return false;
      }
      c.own_name.clear();
      c.releasing = false;
      Report(c, OwnershipState::kReleased, c.ownership.epoch);
      if (!c.rejoin) {
        c.erase = true;
        c.dirty = false;
        return true;
      }
    }
    if (c.own_name.empty() || c.own_session != session) {
      if (!JoinElection(c, dir, session)) return false;
      if (c.own_name.empty()) return true;  // dirty: look again
    }
    std::vector<std::string> children;
    int rc = handle_.GetChildren(dir, &children);
    if (!Ok(rc, "get children", dir)) return false;
    ElectionView view = ViewElection(children, c.own_name);
    if (view.present) {
      const std::string watched = dir + "/" + (view.owner ? c.own_name : view.predecessor);
      // The owner watches its own candidate (to hear of its removal); any
      // other candidate watches only its predecessor.
      rc = handle_.WatchExists(watched, &Impl::OnZkEvent, context_.get(), nullptr);
      if (rc == ZNONODE) {
        if (view.owner)
          view.present = false;
        else
          return true;  // the predecessor went between the two calls: look again (still dirty)
      } else if (!Ok(rc, "exists", watched)) {
        return false;
      }
    }
    if (!view.present) {
      // Our candidate was removed while the session lives (an operator, or a
      // manager moving the pipeline): the ownership ended without a release.
      if (Holds(c.ownership.state)) Report(c, OwnershipState::kLost, c.ownership.epoch);
      c.own_name.clear();
      return true;
    }
    c.dirty = false;
    if (view.owner) {
      if (!c.leadership && c.ownership.state != OwnershipState::kOwner && !RecordEpoch(c)) {
        c.dirty = true;
        return false;
      }
      std::string move_to;
      if (!c.leadership && !ReadMove(c, children, &move_to)) {
        c.dirty = true;
        return false;
      }
      Report(c, OwnershipState::kOwner, c.own_czxid, move_to);
    } else {
      if (Holds(c.ownership.state)) Report(c, OwnershipState::kLost, c.ownership.epoch);
      Report(c, OwnershipState::kCandidate, c.ownership.epoch);
    }
    return true;
  }

  const std::string& OwnId(const Candidacy& c) const { return c.leadership ? options_.manager_id : options_.node.id; }

  // The owner's look at its pipeline's move request (watched, so a new one
  // makes the election dirty). The named node removes it once it owns; a
  // request naming a node that is not a candidate cannot be followed and is
  // dropped. False when a call failed.
  bool ReadMove(const Candidacy& c, const std::vector<std::string>& candidates, std::string* move_to) {
    move_to->clear();
    const std::string path = paths_.move(c.ownership.pipeline);
    int rc = handle_.WatchExists(path, &Impl::OnZkEvent, context_.get(), nullptr);
    if (rc == ZNONODE) return true;
    if (!Ok(rc, "exists", path)) return false;
    std::string node;
    rc = handle_.Get(path, &node);
    if (rc == ZNONODE) return true;
    if (!Ok(rc, "get", path)) return false;
    bool candidate = false;
    for (const std::string& name : candidates) {
      auto parsed = ParseCandidateName(name);
      if (parsed && parsed->node_id == node) candidate = true;
    }
    if (node == options_.node.id || !candidate) {
      if (node != options_.node.id) {
        spdlog::warn("cluster \"{}\": dropping the request to move pipeline \"{}\" to node \"{}\": that node is not "
                     "a candidate for it",
                     options_.cluster, c.ownership.pipeline, node);
      } else {
        spdlog::info("cluster \"{}\": pipeline \"{}\" moved to node \"{}\" as requested", options_.cluster,
                     c.ownership.pipeline, node);
      }
      rc = handle_.Delete(path);
      return rc == ZNONODE || Ok(rc, "delete", path);
    }
    *move_to = node;
    return true;
  }

  // Records the requested moves. False when a call failed (they stay queued).
  bool DoMoves() {
    while (!moves_.empty()) {
      PendingMove& m = moves_.front();
      const std::string path = paths_.move(m.pipeline);
      int rc = handle_.Exists(paths_.pipeline(m.pipeline), nullptr);
      if (rc == ZNONODE) {
        m.done(Status::Error(StatusCode::kNotFound, "cluster \"{}\": no node ever campaigned for pipeline \"{}\"",
                             options_.cluster, m.pipeline));
        moves_.pop_front();
        continue;
      }
      if (rc == ZOK) {
        rc = handle_.Create(path, m.node, ZOO_PERSISTENT);
        if (rc == ZNODEEXISTS) rc = handle_.Set(path, m.node);
      }
      if (IsConnectionError(rc) || rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE) return Ok(rc, "create", path);
      m.done(rc == ZOK ? Status::Ok() : ZkError(rc, "create", path));
      moves_.pop_front();
    }
    return true;
  }

  // Publishes the queued revisions. False when a call failed (they stay queued).
  bool DoPublishes() {
    while (!publishes_.empty()) {
      PendingPublish& p = publishes_.front();
      const std::string path = paths_.config();
      int rc = handle_.EnsurePath(paths_.root());
      if (!Ok(rc, "create", paths_.root())) return false;
      std::string data;
      Stat stat{};
      rc = handle_.Get(path, &data, &stat);
      Status result = Status::Ok();
      if (rc == ZNONODE) {
        rc = handle_.Create(path, PublishedConfigToJson(p.config), ZOO_PERSISTENT);
        if (rc == ZNODEEXISTS) continue;  // another manager was quicker: compare with its revision
        if (!Ok(rc, "create", path)) return false;
      } else {
        if (!Ok(rc, "get", path)) return false;
        auto current = PublishedConfigFromJson(data);
        if (current.ok() && current->revision >= p.config.revision) {
          if (current->revision != p.config.revision || current->yaml != p.config.yaml) {
            result = Status::Invalid(
                "cluster \"{}\": revision {} is not newer than the published revision {}", options_.cluster,
                p.config.revision, current->revision);
          }
        } else {
          rc = handle_.Set(path, PublishedConfigToJson(p.config), stat.version);
          if (rc == ZBADVERSION) continue;  // changed meanwhile: look again
          if (!Ok(rc, "set", path)) return false;
        }
      }
      if (result.ok()) {
        spdlog::info("cluster \"{}\": published configuration revision {}", options_.cluster, p.config.revision);
      }
      p.done(result);
      publishes_.pop_front();
    }
    return true;
  }

  // Reads the published configuration for the watcher. False when a call failed.
  bool ReadConfig() {
    if (!config_listener_ || !config_dirty_) return true;
    const std::string path = paths_.config();
    int rc = handle_.WatchExists(path, &Impl::OnZkEvent, context_.get(), nullptr);
    if (rc == ZNONODE) {
      config_dirty_ = false;  // the watch fires when it is created
      return true;
    }
    if (!Ok(rc, "exists", path)) return false;
    std::string data;
    rc = handle_.Get(path, &data);
    if (rc == ZNONODE) return true;  // deleted meanwhile; the watch fired: look again
    if (!Ok(rc, "get", path)) return false;
    config_dirty_ = false;
    auto config = PublishedConfigFromJson(data);
    if (!config.ok()) {
      spdlog::error("cluster \"{}\": {}", options_.cluster, config.status().message());
      return true;
    }
    if (config->revision <= config_revision_) return true;
    config_revision_ = config->revision;
    config_listener_(*config);
    return true;
  }

  // Keeps the highest epoch ever owned in the pipeline's node, so that the
  // cluster view can show the last epoch while nobody owns the pipeline.
  // Versioned: an older owner that writes late cannot lower it.
  bool RecordEpoch(const Candidacy& c) {
    const std::string path = paths_.pipeline(c.ownership.pipeline);
    for (int attempt = 0; attempt < kMaxPassesPerRound; ++attempt) {
      std::string data;
      Stat stat{};
      int rc = handle_.Get(path, &data, &stat);
      if (!Ok(rc, "get", path)) return false;
      if (RecordedEpoch(data) >= c.own_czxid) return true;
      rc = handle_.Set(path, EpochRecord(options_.node.id, c.own_czxid), stat.version);
      if (rc == ZBADVERSION) continue;
      return Ok(rc, "set", path);
    }
    return true;  // others keep raising it: it is higher than ours anyway
  }

  // Finds or creates our candidate of this session; removes those of our
  // earlier sessions (the ensemble would at their expiry, but the election
  // can move on sooner: we already reported their ownership lost).
  bool JoinElection(Candidacy& c, const std::string& dir, int64_t session) {
    int rc = handle_.EnsurePath(dir);
    if (!Ok(rc, "create", dir)) return false;
    std::vector<std::string> children;
    rc = handle_.GetChildren(dir, &children);
    if (!Ok(rc, "get children", dir)) return false;
    c.own_name.clear();
    for (const std::string& name : children) {
      auto parsed = ParseCandidateName(name);
      if (!parsed || parsed->node_id != OwnId(c)) continue;
      if (parsed->session_id == session) {
        c.own_name = name;  // a create of this session whose reply was lost
        continue;
      }
      // Registration made sure no other live session uses our node id.
      const std::string stale = fmt::format("{}/{}", dir, name);
      rc = handle_.Delete(stale);
      if (rc != ZNONODE && !Ok(rc, "delete", stale)) return false;
    }
    Stat stat{};
    if (c.own_name.empty()) {
      const std::string prefix = dir + "/" + CandidatePrefix(OwnId(c), session);
      rc = handle_.Create(prefix, OwnId(c), ZOO_EPHEMERAL_SEQUENTIAL, &c.own_name, &stat);
      if (!Ok(rc, "create", prefix)) return false;
    } else {
      rc = handle_.Exists(dir + "/" + c.own_name, &stat);
      if (rc == ZNONODE) {
        c.own_name.clear();
        return true;
      }
      if (!Ok(rc, "exists", dir + "/" + c.own_name)) return false;
    }
    c.own_session = session;
    c.own_czxid = stat.czxid;
    return true;
  }

  const CoordinatorOptions options_;
  const ClusterPaths paths_;

  std::thread thread_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Item> items_;
  bool stop_ = false;

  mutable std::mutex snapshot_mu_;
  std::set<std::string> campaigns_;  // pipelines this node campaigns for (Campaign .. Release without rejoin)
  std::map<std::string, Ownership> snapshot_;
  SessionState snapshot_session_ = SessionState::kConnecting;
  int64_t snapshot_session_id_ = 0;

  // Coordinator thread only.
  ZkHandle handle_;
  std::unique_ptr<WatchContext> context_;
  uint64_t generation_ = 0;
  SessionStateMachine sm_;
  SessionState reported_session_ = SessionState::kClosed;
  int64_t reported_session_id_ = -1;
  Clock::time_point retry_at_{};
  NodeInfo published_ = options_.node;  // what the liveness node says
  bool publish_node_ = false;
  bool expired_locally_ = false;
  bool registered_ = false;
  bool node_dirty_ = true;
  bool waiting_for_node_ = false;
  std::set<int64_t> previous_sessions_;
  std::map<std::string, Candidacy> candidacies_;
  std::deque<PendingMove> moves_;
  std::deque<PendingPublish> publishes_;
  ConfigListener config_listener_;
  bool config_dirty_ = true;
  int64_t config_revision_ = 0;  // the newest one the listener heard
};

Result<std::unique_ptr<Coordinator>> Coordinator::Start(CoordinatorOptions options) {
  RETURN_IF_ERROR(ValidateName("cluster name", options.cluster));
  if (!options.node.id.empty()) RETURN_IF_ERROR(ValidateName("node id", options.node.id));
  if (!options.manager_id.empty()) RETURN_IF_ERROR(ValidateName("manager id", options.manager_id));
  if (options.zookeeper.empty()) return Status::Invalid("cluster \"{}\": no zookeeper address", options.cluster);
  auto impl = std::make_unique<Impl>(std::move(options));
  RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<Coordinator>(new Coordinator(std::move(impl)));
}

Coordinator::Coordinator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Coordinator::~Coordinator() { impl_->Stop(); }

Status Coordinator::Campaign(const std::string& pipeline, const std::vector<std::string>& required_labels,
                             OwnershipListener listener) {
  return impl_->Campaign(pipeline, required_labels, std::move(listener));
}
void Coordinator::Release(const std::string& pipeline, bool rejoin) { impl_->Release(pipeline, rejoin); }
void Coordinator::SetDraining(bool draining) { impl_->SetDraining(draining); }
void Coordinator::LoadSettings(const std::string& pipeline, std::function<void(Result<Settings>)> done) {
  impl_->LoadSettings(pipeline, std::move(done));
}
void Coordinator::GetSetting(const std::string& pipeline, const std::string& key,
                             std::function<void(Result<std::optional<std::string>>)> done) {
  impl_->GetSetting(pipeline, key, std::move(done));
}
void Coordinator::SaveSetting(const std::string& pipeline, const std::string& key, std::optional<std::string> value,
                              std::function<void(Status)> done) {
  impl_->SaveSetting(pipeline, key, std::move(value), std::move(done));
}

void Coordinator::RequestMove(const std::string& pipeline, const std::string& node, std::function<void(Status)> done) {
  impl_->RequestMove(pipeline, node, std::move(done));
}
void Coordinator::PublishConfig(PublishedConfig config, std::function<void(Status)> done) {
  impl_->PublishConfig(std::move(config), std::move(done));
}
void Coordinator::WatchConfig(ConfigListener listener) { impl_->WatchConfig(std::move(listener)); }
Status Coordinator::CampaignLeadership(LeadershipListener listener) {
  return impl_->CampaignLeadership(std::move(listener));
}
void Coordinator::ReadCluster(std::function<void(Result<ClusterView>)> done) { impl_->ReadCluster(std::move(done)); }
Ownership Coordinator::ownership(const std::string& pipeline) const { return impl_->ownership(pipeline); }
SessionState Coordinator::session_state() const { return impl_->session_state(); }
int64_t Coordinator::session_id() const { return impl_->session_id(); }
const NodeInfo& Coordinator::node() const { return impl_->node(); }

}  // namespace sluice::cluster
