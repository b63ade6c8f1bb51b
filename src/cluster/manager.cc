#include "cluster/manager.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <sstream>

#include "cluster/names.h"
#include "server/crypto.h"

namespace sluice::cluster {
namespace {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(StatusCode::kIoError, "config file {}: cannot be opened", path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Error(StatusCode::kIoError, "config file {}: read error", path);
  return text.str();
}

std::string DefaultId() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "manager");
  return fmt::format("{}-{}", host, ::getpid());
}

// Runs `call(done)` and waits for `done` (on the coordinator thread) at most `timeout`.
template <typename T>
Result<T> Await(std::chrono::milliseconds timeout, const std::string& what,
                const std::function<void(std::function<void(Result<T>)>)>& call) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  std::future<Result<T>> answer = promise->get_future();
  call([promise](Result<T> r) { promise->set_value(std::move(r)); });
  if (answer.wait_for(timeout) != std::future_status::ready) {
    return Status::Retryable(StatusCode::kIoError, "{}: ZooKeeper did not answer within {} ms", what,
                             timeout.count());
  }
  return answer.get();
}

}  // namespace

Result<std::unique_ptr<Manager>> Manager::Start(ManagerOptions options) {
  if (options.id.empty()) options.id = DefaultId();
  RETURN_IF_ERROR(ValidateName("manager id", options.id));
  std::unique_ptr<Manager> m(new Manager(std::move(options)));
  ManagerOptions& o = m->options_;

  ASSIGN_OR_RETURN(m->file_yaml_, ReadFile(o.config_path));
  ASSIGN_OR_RETURN(pipeline::Config config, pipeline::ParseConfig(m->file_yaml_, o.config_path));
  if (!config.cluster || config.cluster->name.empty() || config.cluster->zookeeper.empty()) {
    return Status::Invalid("{}: cluster: missing; the manager needs cluster: {{name: NAME, zookeeper: "
                           "\"HOST:PORT,...\"}}",
                           o.config_path);
  }
  const std::string http = o.http.empty() ? config.http : o.http;
  if (http.empty()) {
    return Status::Invalid("{}: http: missing; the manager serves its API there (e.g. http: 127.0.0.1:8700)",
                           o.config_path);
  }
  const std::string store_path = o.store.empty() ? config.store : o.store;
  if (store_path.find("://") != std::string::npos) {
    return Status::Invalid("{}: store: the manager keeps its revisions in a SQLite file, not {}", o.config_path,
                           store_path);
  }
  m->session_timeout_ = std::chrono::milliseconds(config.cluster->session_timeout_ms);
  m->node_credentials_ = {config.cluster->node_token, config.cluster->node_ca};

  ASSIGN_OR_RETURN(m->lock_store_, store::SqliteStore::Open(store_path));
  RETURN_IF_ERROR(m->lock_store_->LockForProcess());
  ASSIGN_OR_RETURN(m->revisions_, store::ConfigRevisions::Open(store_path));
  Manager* self = m.get();
  m->keeper_ = std::make_unique<ConfigKeeper>(
      *m->revisions_, o.config_path, m->file_yaml_,
      [self](int64_t revision, const std::string& yaml) { return self->Publish(revision, yaml); });
  m->keeper_->RequireClusterName(config.cluster->name);
  m->api_ = std::make_unique<ManagerApi>(*m, m->metrics_);
  m->RegisterMetrics();
  m->alarm_subject_ = std::make_unique<ManagerAlarmSubject>(*m->api_, *m);
  ASSIGN_OR_RETURN(m->alarms_, server::alarms::AlarmEngine::Create(config.alarms.value_or(pipeline::AlarmsConfig{}),
                                                                   *m->alarm_subject_, m->metrics_));
  m->api_->SetAlarmsView([self = m.get()] { return self->alarms_->ApiJson(); });
  RETURN_IF_ERROR(m->SetUpAccess(config));

  CoordinatorOptions co;
  co.zookeeper = config.cluster->zookeeper;
  co.cluster = config.cluster->name;
  co.session_timeout = m->session_timeout_;
  co.manager_id = o.id;
  ASSIGN_OR_RETURN(m->coordinator_, Coordinator::Start(std::move(co)));
  m->thread_ = std::thread([self] { self->Loop(); });
  m->alarms_->Start();
  // Listeners only queue: they run on the coordinator thread.
  m->coordinator_->WatchConfig([self](const PublishedConfig& published) {
    std::lock_guard lock(self->mu_);
    self->seen_.push_back(published);
    self->wake_.notify_all();
  });
  RETURN_IF_ERROR(m->coordinator_->CampaignLeadership([self](bool leader) {
    std::lock_guard lock(self->mu_);
    self->leader_ = false;  // writes wait until the loop has taken over (TakeOver)
    self->leadership_changed_ = true;
    self->pending_leader_ = leader;
    self->wake_.notify_all();
  }));

  RETURN_IF_ERROR(m->server_.Start(
      http,
      [self](std::string_view method, std::string_view target, std::string_view body) {
        return self->api_->Handle(method, target, body);
      },
      kMaxConfigBytes));
  spdlog::info("manager {}: cluster {} on {}; API on port {}; store {}", o.id, config.cluster->name,
               config.cluster->zookeeper, m->server_.port(), store_path);
  return m;
}

Manager::~Manager() {
  server_.Stop();
  if (alarms_) alarms_->Stop();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  coordinator_.reset();
}

std::chrono::milliseconds Manager::CallTimeout() const { return session_timeout_ + std::chrono::seconds(5); }

Status Manager::Publish(int64_t revision, const std::string& yaml) {
  Result<bool> done = Await<bool>(CallTimeout(), fmt::format("publishing revision {}", revision),
                                  [&](std::function<void(Result<bool>)> reply) {
                                    coordinator_->PublishConfig(PublishedConfig{revision, yaml},
                                                                [reply](Status st) {
                                                                  if (st.ok()) {
                                                                    reply(true);
                                                                  } else {
                                                                    reply(st);
                                                                  }
                                                                });
                                  });
  if (!done.ok() && done.status().code() == StatusCode::kInvalidArgument) {
    // The ensemble holds a revision at least as new: another manager
    // published meanwhile (this one will see it and number above it).
    return Status::Error(StatusCode::kAborted, "revision {} not published: {}; try again", revision,
                         done.status().message());
  }
  return done.ok() ? Status::Ok() : done.status();
}

Result<ClusterView> Manager::ReadCluster() {
  Result<ClusterView> view = Await<ClusterView>(CallTimeout(), "reading the cluster",
                                                [&](std::function<void(Result<ClusterView>)> reply) {
                                                  coordinator_->ReadCluster(std::move(reply));
                                                });
  if (view.ok()) nodes_seen_ = static_cast<int64_t>(view->nodes.size());
  return view;
}

Status Manager::RequestMove(const std::string& pipeline, const std::string& node) {
  Result<bool> done = Await<bool>(CallTimeout(), fmt::format("moving pipeline {}", pipeline),
                                  [&](std::function<void(Result<bool>)> reply) {
                                    coordinator_->RequestMove(pipeline, node, [reply](Status st) {
                                      if (st.ok()) {
                                        reply(true);
                                      } else {
                                        reply(st);
                                      }
                                    });
                                  });
  return done.ok() ? Status::Ok() : done.status();
}

Result<NodeReply> Manager::CallNode(const std::string& address, std::string_view method, const std::string& path,
                                    const std::string& body) {
  return cluster::CallNode(address, method, path, body, options_.node_timeouts, node_credentials_);
}

std::pair<std::string, std::string> Manager::Leader() {
  // Managers publish no address: the leader is named by its id.
  Result<ClusterView> view = ReadCluster();
  if (!view.ok() || view->managers.empty()) return {"", ""};
  return {view->managers.front(), ""};
}

void Manager::Loop() {
  bool took_over = false;
  auto next_try = std::chrono::steady_clock::now();
  while (true) {
    std::deque<PublishedConfig> seen;
    bool changed = false;
    bool leader = false;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, std::chrono::seconds(1),
                     [&] { return stop_ || leadership_changed_ || !seen_.empty(); });
      if (stop_) return;
      seen.swap(seen_);
      changed = leadership_changed_;
      leadership_changed_ = false;
      leader = pending_leader_;
    }
    for (const PublishedConfig& p : seen) {
      Status st = keeper_->SawPublished(p.revision, p.yaml);
      if (!st.ok()) spdlog::error("manager: recording published revision {}: {}", p.revision, st.message());
    }
    FollowAuth();
    FollowAlarms();
    if (changed) {
      took_over = false;
      if (!leader) spdlog::info("manager {}: following", options_.id);
    }
    if (leader && !took_over && std::chrono::steady_clock::now() >= next_try) {
      Result<std::string> done = keeper_->TakeOver();
      if (done.ok()) {
        std::lock_guard lock(mu_);
        // Unless the election changed its mind meanwhile (the next round sees to that).
        if (pending_leader_ && !leadership_changed_) {
          took_over = true;
          leader_ = true;
          spdlog::info("manager {}: leading; {}", options_.id, *done);
        }
      } else {
        // Retried: the published configuration may not have been seen yet,
        // or the ensemble is unreachable for a moment.
        spdlog::warn("manager {}: leading, but the configuration is not published yet: {}", options_.id,
                     done.status().message());
        next_try = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      }
    }
  }
}

Status Manager::SetUpAccess(const pipeline::Config& config) {
  if (config.audit) {
    ASSIGN_OR_RETURN(audit_, server::AuditLog::Open(config.audit->path, config.audit->retention_days));
  }
  server::AccessGate::Options access;
  access.auth = config.auth;
  access.audit = audit_.get();
  access.mode = "manager";
  access.describe = [this](const std::string& object) { return Describe(object); };
  gate_ = std::make_unique<server::AccessGate>(std::move(access));
  server_.SetGate(gate_->AsGate());
  if (config.http_tls) server_.SetTls({config.http_tls->cert, config.http_tls->key});
  if (audit_) {
    Status st = audit_->Append({"sluice", "", "config.load", "config", nullptr,
                                {{"path", options_.config_path}, {"sha256", server::Sha256Hex(file_yaml_)}}, "ok"});
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

// The audit's before/after of what a request acts on.
nlohmann::ordered_json Manager::Describe(const std::string& object) {
  if (object == "config") {
    Result<CurrentConfig> cur = keeper_->Current();
    if (!cur.ok()) return nullptr;
    return {{"revision", cur->revision}, {"sha256", server::Sha256Hex(cur->yaml)}};
  }
  if (object.starts_with("pipeline/")) {
    const std::string name = object.substr(9);
    server::HttpResponse r = api_->Handle("GET", "/api/pipelines/" + EncodePathSegment(name) + "/status", "");
    auto j = nlohmann::ordered_json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (r.status != 200 || !j.is_object()) return nullptr;
    return {{"state", j.value("state", nlohmann::ordered_json())},
            {"owner", j.value("owner", nlohmann::ordered_json())},
            {"epoch", j.value("epoch", nlohmann::ordered_json())}};
  }
  return nullptr;
}

// Users and tokens are configuration: a revision that changes them changes
// who may do what from then on.
void Manager::FollowAuth() {
  Result<CurrentConfig> cur = keeper_->Current();
  if (!cur.ok() || cur->revision == auth_revision_ || !cur->config) return;
  if (!cur->config->auth && gate_->HasAuth()) {
    // Off is the listen address's business (a manager without auth: serves
    // loopback only, checked at start): never switched off under a server.
    spdlog::warn("manager {}: revision {} removes auth:; access control stays on until the manager restarts",
                 options_.id, cur->revision);
  } else {
    gate_->SetAuth(cur->config->auth);
  }
  auth_revision_ = cur->revision;
}

// Alarm rules are configuration too: a revision that changes them changes
// what the managers watch for from the next tick.
void Manager::FollowAlarms() {
  Result<CurrentConfig> cur = keeper_->Current();
  if (!cur.ok() || cur->revision == alarms_revision_ || !cur->config) return;
  Status st = alarms_->Reconfigure(cur->config->alarms.value_or(pipeline::AlarmsConfig{}));
  if (!st.ok()) {
    spdlog::error("manager {}: revision {}: alarms not changed, the former rules apply: {}", options_.id,
                  cur->revision, st.message());
  }
  alarms_revision_ = cur->revision;
}

void Manager::RegisterMetrics() {
  metrics_.AddGaugeCallback("sluice_manager_leader", "1 while this manager leads the cluster's managers.",
                            [this] { return leader_.load() ? 1.0 : 0.0; });
  metrics_.AddGaugeCallback("sluice_manager_config_revision", "The current configuration revision here.", [this] {
    Result<CurrentConfig> cur = keeper_->Current();
    return cur.ok() ? static_cast<double>(cur->revision) : 0.0;
  });
  metrics_.AddGaugeCallback("sluice_manager_published_revision",
                            "The highest configuration revision known published in ZooKeeper.",
                            [this] { return static_cast<double>(keeper_->published()); });
  metrics_.AddGaugeCallback("sluice_cluster_nodes", "Live nodes at the last read of the cluster.",
                            [this] { return static_cast<double>(nodes_seen_.load()); });
}

}  // namespace sluice::cluster
