#include "cluster/node_agent.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <future>
#include <set>

#include "cluster/pipeline_fingerprints.h"
#include "cluster/shared_settings.h"
#include "pipeline/position_change.h"
#include "core/sync_point.h"

namespace sluice::cluster {
namespace {

using Clock = std::chrono::steady_clock;

// The agent thread looks at its pipelines this often (a fenced target, a
// start to retry, a campaign to retry).
constexpr std::chrono::milliseconds kTick{200};
// A pipeline that could not start (its source unreachable, say) is tried
// again after this long, as long as this node owns it.
constexpr std::chrono::seconds kStartRetry{5};

bool IsFenced(const pipeline::PipelineStatus& status) {
  if (status.state == pipeline::PipelineState::kFenced) return true;
  for (const auto& t : status.targets) {
    if (t.state == pipeline::PipelineState::kFenced) return true;
  }
  return false;
}

}  // namespace

struct NodeAgent::Slot {
  std::string name;
  uint64_t generation = 0;  // of its candidacy: events of an earlier one are ignored
  std::shared_ptr<const pipeline::Config> config;  // the revision its settings come from
  const pipeline::PipelineConfig* pc = nullptr;    // inside `config`
  uint32_t index = 0;                              // place in the config: the replica server_id offset
  std::string fingerprint;
  bool campaigning = false;  // Campaign() accepted
  OwnershipState state = OwnershipState::kNone;
  int64_t epoch = 0;
  std::string move_to;  // a pending move request naming another node
  int64_t moved_epoch = 0;  // the ownership a move already released
  bool user_stopped = false;  // stopped through the API: stays owned, not applying
  // While owned and started: the pipeline, the config it was made from, its epoch.
  std::shared_ptr<pipeline::Pipeline> pipeline;
  std::shared_ptr<const pipeline::Config> running_config;
  int64_t running_epoch = 0;
  bool in_doubt = false;
  Clock::time_point retry_start_at{};
  bool start_failed = false;
};

Result<std::unique_ptr<NodeAgent>> NodeAgent::Start(NodeAgentOptions options, store::SqliteStore& store,
                                                    pipeline::MetricsRegistry& registry) {
  std::unique_ptr<NodeAgent> agent(new NodeAgent(std::move(options), store, registry));
  agent->thread_ = std::thread([a = agent.get()] { a->Loop(); });
  auto coordinator = Coordinator::Start(agent->options_.coordinator);
  if (!coordinator.ok()) {
    agent->Shutdown();
    return coordinator.status();
  }
  {
    std::lock_guard lock(agent->coordinator_mu_);
    agent->coordinator_ = std::move(*coordinator);
  }
  NodeAgent* self = agent.get();
  agent->coordinator_->WatchConfig([self](const PublishedConfig& published) {
    self->Post([self, revision = published.revision, yaml = published.yaml] { self->OnConfig(revision, yaml); });
  });
  spdlog::info("node \"{}\" (labels [{}]) joining cluster \"{}\" at {}", agent->options_.coordinator.node.id,
               fmt::join(agent->options_.coordinator.node.labels, ", "), agent->options_.coordinator.cluster,
               agent->options_.coordinator.zookeeper);
  return agent;
}

NodeAgent::NodeAgent(NodeAgentOptions options, store::SqliteStore& store, pipeline::MetricsRegistry& registry)
    : options_(std::move(options)), store_(store), registry_(registry), metrics_(registry) {}

NodeAgent::~NodeAgent() { Shutdown(); }

void NodeAgent::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    // Stop applying first; only then close the session, which hands every
    // pipeline to the next candidate at once.
    Post([this] { StopAll(); });
    {
      std::lock_guard lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    std::unique_ptr<Coordinator> coordinator;
    {
      std::lock_guard lock(coordinator_mu_);
      coordinator = std::move(coordinator_);
    }
    coordinator.reset();  // closes the session
  });
}

void NodeAgent::Drain() {
  (void)Call([this] {
    if (!draining_) spdlog::info("node \"{}\": draining: handing every pipeline over", options_.coordinator.node.id);
    draining_ = true;
    if (coordinator_) coordinator_->SetDraining(true);
    std::vector<std::string> names;
    for (const auto& [name, slot] : slots_) names.push_back(name);
    for (const std::string& name : names) Leave(name, "node draining");
    std::lock_guard lock(views_mu_);
    view_draining_ = true;
    return Status::Ok();
  });
}

void NodeAgent::Post(std::function<void()> task) {
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return;
    queue_.push_back(std::move(task));
  }
  queue_cv_.notify_one();
}

Status NodeAgent::Call(std::function<Status()> task) {
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> result = done->get_future();
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return Status::Retryable(StatusCode::kCancelled, "node is stopping");
    queue_.push_back([done, task = std::move(task)] { done->set_value(task()); });
  }
  queue_cv_.notify_one();
  return result.get();
}

void NodeAgent::Loop() {
  auto next_tick = Clock::now() + kTick;
  for (;;) {
    std::deque<std::function<void()>> tasks;
    bool stop = false;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait_until(lock, next_tick, [this] { return !queue_.empty() || stopping_; });
      tasks.swap(queue_);
      stop = stopping_;
    }
    for (auto& task : tasks) task();
    if (stop) {
      // Tasks queued between the swap and the stop (a Call waiting) still get their answer.
      std::deque<std::function<void()>> rest;
      {
        std::lock_guard lock(queue_mu_);
        rest.swap(queue_);
      }
      for (auto& task : rest) task();
      StopAll();
      return;
    }
    if (Clock::now() >= next_tick) {
      Tick();
      next_tick = Clock::now() + kTick;
    }
  }
}

void NodeAgent::Tick() {
  for (auto& [name, slot] : slots_) {
    Slot& s = *slot;
    if (!s.campaigning && !draining_) CampaignFor(s);
    if (s.pipeline) {
      pipeline::PipelineStatus st = s.pipeline->status();
      if (IsFenced(st)) {
        spdlog::error(
            "pipeline {}: fenced by a newer owner (this node's epoch {} is outdated): stopping, rejoining as a "
            "candidate",
            s.name, s.running_epoch);
        StopOwned(s, "fenced");
        s.state = OwnershipState::kCandidate;
        coordinator_->Release(s.name, /*rejoin=*/true);
      } else if (std::string why = s.state == OwnershipState::kOwner ? s.pipeline->TakeRestartRequest() : "";
                 !why.empty()) {
        // The capture stopped on another server behind the source's address
        // (a new start moves each target to its GTID state there), or a
        // target added later was copied and joins the stream.
        spdlog::warn("pipeline {}: {}: starting it again", s.name, why);
        StopOwned(s, why);
        StartOwned(s);
      }
    } else if (s.start_failed && s.state == OwnershipState::kOwner && Clock::now() >= s.retry_start_at) {
      StartOwned(s);
    }
  }
}

void NodeAgent::OnConfig(int64_t revision, const std::string& yaml) {
  if (revision <= revision_) return;
  const std::string path = fmt::format("{}/cluster-r{}.yaml", options_.config_dir, revision);
  Result<pipeline::Config> parsed = pipeline::ParseConfig(yaml, path);
  if (!parsed.ok()) {
    spdlog::error("configuration revision {} not applied ({}running revision {}): {}", revision,
                  revision_ == 0 ? "nothing " : "", revision_, parsed.status().message());
    std::lock_guard lock(views_mu_);
    view_config_error_ = fmt::format("revision {}: {}", revision, parsed.status().message());
    return;
  }
  auto config = std::make_shared<const pipeline::Config>(std::move(*parsed));
  std::map<std::string, std::string> fingerprints = PipelineFingerprints(yaml);
  const NodeInfo& node = options_.coordinator.node;
  std::vector<std::string> added, restarted, removed;
  std::set<std::string> wanted;
  for (size_t i = 0; i < config->pipelines.size(); ++i) {
    const pipeline::PipelineConfig& pc = config->pipelines[i];
    if (!IsEligible(node.labels, pc.node_labels)) {
      if (slots_.contains(pc.name)) {
        Leave(pc.name, fmt::format("it now needs the label \"{}\"", MissingLabel(node.labels, pc.node_labels)));
        removed.push_back(pc.name);
      }
      continue;
    }
    wanted.insert(pc.name);
    auto fp = fingerprints.find(pc.name);
    std::string fingerprint = fp == fingerprints.end() ? "" : fp->second;
    auto [it, fresh] = slots_.try_emplace(pc.name);
    if (fresh) it->second = std::make_unique<Slot>();
    Slot& s = *it->second;
    const bool changed = !fresh && (fingerprint.empty() || fingerprint != s.fingerprint);
    s.name = pc.name;
    s.config = config;
    s.pc = &pc;
    s.index = static_cast<uint32_t>(i);
    s.fingerprint = fingerprint;
    if (fresh) {
      added.push_back(pc.name);
      if (!draining_) CampaignFor(s);
    } else if (changed) {
      restarted.push_back(pc.name);
      if (s.pipeline) {
        StopOwned(s, fmt::format("configuration revision {} changed it", revision));
        StartOwned(s);
      }
    }
  }
  std::vector<std::string> gone;
  for (const auto& [name, slot] : slots_) {
    if (!wanted.contains(name)) gone.push_back(name);
  }
  for (const std::string& name : gone) {
    Leave(name, fmt::format("configuration revision {} removed it", revision));
    removed.push_back(name);
  }
  config_ = config;
  revision_ = revision;
  auto list = [](const std::vector<std::string>& v) {
    return v.empty() ? std::string("none") : fmt::format("{}", fmt::join(v, ", "));
  };
  spdlog::info("configuration revision {} applied: new {}; changed {}; left {}", revision, list(added),
               list(restarted), list(removed));
  {
    std::lock_guard lock(views_mu_);
    view_revision_ = revision;
    view_config_error_.clear();
  }
  PublishViews();
}

void NodeAgent::CampaignFor(Slot& s) {
  const uint64_t generation = next_generation_++;
  NodeAgent* self = this;
  Status st = coordinator_->Campaign(s.name, s.pc->node_labels, [self, generation](const Ownership& o) {
    self->Post([self, generation, o] { self->OnOwnership(generation, o); });
  });
  if (!st.ok()) {
    // Most likely the previous candidacy of this name is still being
    // released; the next tick tries again.
    spdlog::debug("pipeline {}: campaign not accepted yet: {}", s.name, st.message());
    return;
  }
  s.generation = generation;
  s.campaigning = true;
  s.state = OwnershipState::kNone;
}

void NodeAgent::OnOwnership(uint64_t generation, const Ownership& o) {
  const std::string& move_to = o.move_to;
  auto it = slots_.find(o.pipeline);
  if (it == slots_.end() || it->second->generation != generation) return;  // an earlier candidacy
  Slot& s = *it->second;
  s.state = o.state;
  s.epoch = o.epoch;
  s.move_to = move_to;
  const std::string& self = options_.coordinator.node.id;
  switch (o.state) {
    case OwnershipState::kOwner:
      if (!move_to.empty() && move_to != self) {
        if (s.moved_epoch == o.epoch) break;
        s.moved_epoch = o.epoch;
        spdlog::info("pipeline {}: moving to node \"{}\": stopping at a transaction boundary, handing it over",
                     s.name, move_to);
        StopOwned(s, fmt::format("moving to node \"{}\"", move_to));
        coordinator_->Release(s.name, /*rejoin=*/true);
        break;
      }
      if (s.pipeline && s.running_epoch == o.epoch) {
        if (s.in_doubt) {
          s.in_doubt = false;
          s.pipeline->SetInDoubt(false);
          spdlog::info("pipeline {}: ownership confirmed (epoch {}): applying again", s.name, o.epoch);
        }
        break;
      }
      if (s.pipeline) StopOwned(s, fmt::format("owned again with epoch {}", o.epoch));
      if (!s.user_stopped) StartOwned(s);
      break;
    case OwnershipState::kInDoubt:
      if (s.pipeline && !s.in_doubt) {
        s.in_doubt = true;
        s.pipeline->SetInDoubt(true);
        spdlog::warn("pipeline {}: ownership in doubt (zookeeper session suspended): targets that cannot check "
                     "the epoch pause",
                     s.name);
      }
      break;
    case OwnershipState::kLost:
      // Tests hold the news here to see what the pipeline, still running,
      // is allowed to write after its successor took over (nothing).
      SLUICE_SYNC_POINT("node.ownership.lost");
      StopOwned(s, "ownership lost");
      spdlog::warn("pipeline {}: ownership lost (epoch {}): stopped; a candidate again", s.name, o.epoch);
      break;
    case OwnershipState::kCandidate:
    case OwnershipState::kReleased:
    case OwnershipState::kNone:
      StopOwned(s, std::string(OwnershipStateName(o.state)));
      break;
  }
  PublishViews();
}

void NodeAgent::Leave(const std::string& name, const std::string& why) {
  auto it = slots_.find(name);
  if (it == slots_.end()) return;
  Slot& s = *it->second;
  StopOwned(s, why);
  if (s.campaigning) coordinator_->Release(name, /*rejoin=*/false);
  spdlog::info("pipeline {}: left ({})", name, why);
  slots_.erase(it);
  PublishViews();
}

void NodeAgent::StartOwned(Slot& s) {
  s.start_failed = false;
  if (s.pc == nullptr || s.user_stopped) return;
  pipeline::PipelineConfig pc = *s.pc;
  pc.epoch = static_cast<uint64_t>(s.epoch);
  auto p = std::make_shared<pipeline::Pipeline>(*s.config, pc, store_, metrics_, s.index);
  // Its settings (schema history, table selection, ...) are the pipeline's
  // wherever it runs: the next owner finds what this one recorded.
  auto shared = std::make_shared<SharedSettings>(*coordinator_, options_.coordinator.cluster, s.name);
  pipeline::StoreSettings local(store_, s.name);
  if (auto seeded = shared->SeedFrom(local); !seeded.ok()) {
    spdlog::warn("pipeline {}: this node's recorded settings not carried into zookeeper: {}", s.name,
                 seeded.status().message());
  } else if (*seeded > 0) {
    spdlog::info("pipeline {}: {} setting(s) this node had recorded (schema history, table selection) carried into "
                 "zookeeper, where every node finds them",
                 s.name, *seeded);
  }
  p->ShareSettings(std::move(shared));
  const bool in_doubt = s.state == OwnershipState::kInDoubt;
  if (in_doubt) p->SetInDoubt(true);
  Status st = p->Start();
  if (!st.ok()) {
    spdlog::error("pipeline {}: owned (epoch {}) but did not start: {}; trying again in {} s", s.name, s.epoch,
                  st.message(), kStartRetry.count());
    s.start_failed = true;
    s.retry_start_at = Clock::now() + kStartRetry;
    return;
  }
  s.pipeline = std::move(p);
  s.running_config = s.config;
  s.running_epoch = s.epoch;
  s.in_doubt = in_doubt;
  spdlog::info("pipeline {}: started (owner, epoch {})", s.name, s.epoch);
  PublishViews();
}

void NodeAgent::StopOwned(Slot& s, const std::string& why) {
  s.start_failed = false;
  if (!s.pipeline) return;
  // Out of the views first: the API must not show a pipeline as this node's
  // while it stops (it may be another node's already).
  std::shared_ptr<pipeline::Pipeline> p = std::move(s.pipeline);
  s.pipeline.reset();
  PublishViews();
  p->Stop();
  spdlog::info("pipeline {}: stopped ({}; epoch {})", s.name, why, s.running_epoch);
  s.running_config.reset();
  s.in_doubt = false;
}

void NodeAgent::StopAll() {
  for (auto& [name, slot] : slots_) StopOwned(*slot, "node stopping");
}

void NodeAgent::PublishViews() {
  std::map<std::string, Owned> views;
  std::vector<std::string> campaigns;
  for (const auto& [name, slot] : slots_) {
    if (slot->pipeline) views[name] = Owned{slot->pipeline, slot->running_epoch};
    if (slot->campaigning) campaigns.push_back(name);
  }
  std::lock_guard lock(views_mu_);
  views_ = std::move(views);
  view_campaigns_ = std::move(campaigns);
}

NodeStatus NodeAgent::node_status() const {
  NodeStatus out;
  out.node = options_.coordinator.node;
  std::vector<std::string> campaigns;
  {
    std::lock_guard lock(views_mu_);
    out.draining = view_draining_;
    out.revision = view_revision_;
    out.config_error = view_config_error_;
    for (const auto& [name, owned] : views_) out.owned.push_back(name);
    campaigns = view_campaigns_;
  }
  out.node.draining = out.draining;
  out.session = SessionState::kClosed;
  std::lock_guard lock(coordinator_mu_);
  if (coordinator_) {
    out.session = coordinator_->session_state();
    for (const std::string& name : campaigns) {
      Ownership o = coordinator_->ownership(name);
      out.candidacies.push_back({name, o.state, o.epoch});
    }
  }
  return out;
}

std::vector<pipeline::PipelineStatus> NodeAgent::ListPipelines() const {
  std::map<std::string, Owned> views;
  {
    std::lock_guard lock(views_mu_);
    views = views_;
  }
  std::vector<pipeline::PipelineStatus> out;
  for (const auto& [name, owned] : views) {
    pipeline::PipelineStatus st = owned.pipeline->status();
    st.clustered = true;
    st.owner = options_.coordinator.node.id;
    st.epoch = owned.epoch;
    out.push_back(std::move(st));
  }
  return out;
}

Result<pipeline::PipelineStatus> NodeAgent::GetPipeline(const std::string& name) const {
  Owned owned;
  {
    std::lock_guard lock(views_mu_);
    auto it = views_.find(name);
    if (it == views_.end()) {
      return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\" runs on node \"{}\"", name,
                           options_.coordinator.node.id);
    }
    owned = it->second;
  }
  pipeline::PipelineStatus st = owned.pipeline->status();
  st.clustered = true;
  st.owner = options_.coordinator.node.id;
  st.epoch = owned.epoch;
  return st;
}

Status NodeAgent::StopPipeline(const std::string& name) {
  return Call([this, name]() -> Status {
    auto it = slots_.find(name);
    if (it == slots_.end() || !it->second->pipeline) {
      return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\" runs on node \"{}\"", name,
                           options_.coordinator.node.id);
    }
    Slot& s = *it->second;
    // Stopped, but it stays owned (and visible) here: nobody else applies it.
    s.pipeline->Stop();
    s.user_stopped = true;
    spdlog::info("pipeline {}: stopped through the API (still owned by this node)", name);
    return Status::Ok();
  });
}

Status NodeAgent::StartPipeline(const std::string& name) {
  return Call([this, name]() -> Status {
    auto it = slots_.find(name);
    if (it == slots_.end() || !it->second->pipeline) {
      return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\" runs on node \"{}\"", name,
                           options_.coordinator.node.id);
    }
    Slot& s = *it->second;
    s.user_stopped = false;
    if (s.pipeline->running() && s.pipeline->status().state == pipeline::PipelineState::kFailed) {
      spdlog::info("pipeline {}: restarting after failure (started through the API)", name);
      s.pipeline->Stop();
    }
    return s.pipeline->Start();
  });
}

Status NodeAgent::RunCheck(const std::string& name, bool repair) {
  return Call([this, name, repair]() -> Status {
    auto it = slots_.find(name);
    if (it == slots_.end() || !it->second->pipeline) {
      return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\" runs on node \"{}\"", name,
                           options_.coordinator.node.id);
    }
    return it->second->pipeline->RequestCheck(repair);
  });
}

Status NodeAgent::RunSnapshot(const std::string& name) {
  return Call([this, name]() -> Status {
    auto it = slots_.find(name);
    if (it == slots_.end() || !it->second->pipeline) {
      return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\" runs on node \"{}\"", name,
                           options_.coordinator.node.id);
    }
    return it->second->pipeline->RequestSnapshot();
  });
}

// Recorded in the pipeline's settings in ZooKeeper: the pipeline's next
// start here, or on whichever node owns it next, begins there.
Status NodeAgent::SetPosition(const std::string& name, const std::string& position) {
  return Call([this, name, position]() -> Status {
    auto it = slots_.find(name);
    if (it == slots_.end() || !it->second->pipeline) {
      return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\" runs on node \"{}\"", name,
                           options_.coordinator.node.id);
    }
    Slot& s = *it->second;
    ASSIGN_OR_RETURN(std::string start, pipeline::CheckNewPosition(*s.pipeline, *s.running_config, name, position));
    RETURN_IF_ERROR(SharedSettings(*coordinator_, options_.coordinator.cluster, name).Set("start", start));
    spdlog::info("pipeline {}: position set to {} through the API; it starts there", name, start);
    return Status::Ok();
  });
}

}  // namespace sluice::cluster
