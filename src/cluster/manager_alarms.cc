#include "cluster/manager_alarms.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "server/status_json.h"

namespace sluice::cluster {

using Json = nlohmann::ordered_json;

namespace {

// A status the API could not give from a live owner: "unowned", "unknown".
bool Live(const Json& p) {
  const std::string state = p.value("state", std::string());
  return pipeline::PipelineStateFromName(state).has_value();
}

}  // namespace

server::alarms::AlarmInputs ManagerAlarmSubject::Observe() {
  server::alarms::AlarmInputs in;
  Result<ClusterView> view = backend_.ReadCluster();
  if (view.ok()) {
    in.nodes.emplace();
    for (const NodeInfo& n : view->nodes) (*in.nodes)[n.id] = n.draining;
  }
  server::HttpResponse r = api_.Handle("GET", "/api/pipelines", "");
  Json all = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (r.status != 200 || !all.is_array()) {
    // Nothing known this tick: every pipeline of the current revision stays as it was.
    Result<CurrentConfig> cur = backend_.keeper().Current();
    if (cur.ok() && cur->config) {
      for (const pipeline::PipelineConfig& pc : cur->config->pipelines) in.unknown_pipelines.insert(pc.name);
    }
    return in;
  }
  for (const Json& p : all) {
    if (!p.is_object() || !p.contains("name") || !p["name"].is_string()) continue;
    const std::string name = p["name"].get<std::string>();
    if (!Live(p)) {
      in.unknown_pipelines.insert(name);
      continue;
    }
    Result<pipeline::PipelineStatus> status = server::PipelineStatusFromJson(p);
    if (!status.ok()) {
      spdlog::warn("manager alarms: pipeline {}: {}", name, status.status().message());
      in.unknown_pipelines.insert(name);
      continue;
    }
    in.pipelines.push_back(std::move(*status));
  }
  return in;
}

Result<pipeline::PipelineStatus> ManagerAlarmSubject::GetPipeline(const std::string& name) {
  server::HttpResponse r = api_.Handle("GET", fmt::format("/api/pipelines/{}/status", EncodePathSegment(name)), "");
  Json p = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (r.status != 200 || !p.is_object()) {
    return Status::Retryable(StatusCode::kIoError, "pipeline {}: status not available ({})", name, r.status);
  }
  if (!Live(p)) {
    return Status::Retryable(StatusCode::kIoError, "pipeline {} is {}", name, p.value("state", std::string()));
  }
  return server::PipelineStatusFromJson(p);
}

Status ManagerAlarmSubject::StartPipeline(const std::string& name) {
  server::HttpResponse r = api_.Handle("POST", fmt::format("/api/pipelines/{}/start", EncodePathSegment(name)), "");
  if (r.status / 100 == 2) return Status::Ok();
  return Status::Error(StatusCode::kIoError, "pipeline {}: start forwarded to its owner answered {}: {}", name,
                       r.status, r.body.substr(0, 300));
}

}  // namespace sluice::cluster
