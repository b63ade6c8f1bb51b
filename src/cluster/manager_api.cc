#include "cluster/manager_api.h"

#include "server/config_secrets.h"
#include "server/console/console_assets.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <future>
#include <map>
#include <optional>
#include <variant>
#include <nlohmann/json.hpp>

namespace sluice::cluster {
namespace {

using Json = nlohmann::ordered_json;  // ordered: fields appear in the contract's order
using server::HttpResponse;
using server::JsonError;
using server::JsonResponse;
using server::MethodNotAllowed;

constexpr const char* kJsonType = "application/json";
constexpr const char* kTextType = "text/plain; charset=utf-8";
constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

HttpResponse StatusError(const Status& s) { return JsonError(server::HttpStatusFor(s), s.message()); }

HttpResponse NoPipeline(std::string_view name) {
  return JsonError(404, fmt::format("no pipeline named \"{}\" in the current configuration", name));
}

const NodeInfo* FindNode(const ClusterView& view, std::string_view id) {
  for (const NodeInfo& n : view.nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

const PipelineOwners* FindOwners(const ClusterView& view, std::string_view name) {
  for (const PipelineOwners& p : view.pipelines) {
    if (p.pipeline == name) return &p;
  }
  return nullptr;
}

Json NodeJson(const NodeInfo& n, const ClusterView& view) {
  Json j;
  j["id"] = n.id;
  j["labels"] = n.labels;
  j["state"] = n.draining ? "draining" : "online";
  Json owned = Json::array();
  for (const PipelineOwners& p : view.pipelines) {
    if (p.owner == n.id) owned.push_back(p.pipeline);
  }
  j["pipelines"] = std::move(owned);
  j["http"] = n.http.empty() ? Json(nullptr) : Json(n.http);
  return j;
}

// The JSON body of a POST: an object, or a 400 naming what is wrong.
std::variant<Json, HttpResponse> ObjectBody(std::string_view body, std::string_view expected) {
  if (body.empty()) return JsonError(400, fmt::format("request body is empty; expected {}", expected));
  Json j;
  try {
    j = Json::parse(body);
  } catch (const Json::parse_error& e) {
    std::string_view what = e.what();
    if (size_t close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
    return JsonError(400, fmt::format("malformed JSON body: {}; expected {}", what, expected));
  }
  if (!j.is_object()) return JsonError(400, fmt::format("expected {}", expected));
  return j;
}

// What the API says about one pipeline, from the ensemble's view and the
// owning node's own status (fetched by the caller: `live` is its reply).
Json PipelineJson(const std::string& name, const PipelineOwners* owners, const NodeInfo* owner_node,
                  const Result<NodeReply>* live) {
  Json j;
  j["name"] = name;
  Json node_status;
  std::string unknown;  // why the live fields are unknown, "" when known
  const bool owned = owners && !owners->owner.empty();
  if (!owned) {
    j["state"] = "unowned";
  } else if (!owner_node) {
    unknown = fmt::format("the owner {} has left the cluster", owners->owner);
  } else if (!live || !live->ok()) {
    unknown = fmt::format("node {} ({}) did not answer: {}", owners->owner,
                          owner_node->http.empty() ? "no http address" : owner_node->http,
                          live ? live->status().message() : "not asked");
  } else if ((*live)->status != 200) {
    unknown = fmt::format("node {} answered {}: {}", owners->owner, (*live)->status, (*live)->body.substr(0, 300));
  } else {
    node_status = Json::parse((*live)->body, nullptr, /*allow_exceptions=*/false);
    if (!node_status.is_object()) {
      unknown = fmt::format("node {} answered with something other than a status object", owners->owner);
    }
  }
  if (owned) j["state"] = unknown.empty() ? node_status.value("state", Json("unknown")) : Json("unknown");
  for (const char* field : {"source_position", "applied_position", "delay_ms", "rows_applied"}) {
    j[field] = node_status.is_object() && node_status.contains(field) ? node_status[field] : Json(nullptr);
  }
  if (!unknown.empty()) {
    j["last_error"] = unknown;
  } else if (!owned) {
    j["last_error"] = owners && !owners->candidates.empty()
                          ? Json(nullptr)
                          : Json("no eligible node is a candidate: no live node has every label the pipeline "
                                 "names, or no node has joined its election yet");
  } else {
    j["last_error"] = node_status.contains("last_error") ? node_status["last_error"] : Json(nullptr);
  }
  j["owner"] = owned ? Json(owners->owner) : Json(nullptr);
  j["epoch"] = owners ? owners->epoch : 0;
  j["candidates"] = owners ? Json(owners->candidates) : Json::array();
  j["move_to"] = owners && !owners->move_to.empty() ? Json(owners->move_to) : Json(nullptr);  // a pending move
  // The rest of the node's own status (targets, snapshot, check, ...).
  if (node_status.is_object()) {
    for (auto it = node_status.begin(); it != node_status.end(); ++it) {
      if (!j.contains(it.key())) j[it.key()] = it.value();
    }
  }
  return j;
}

Json DelayJson(const Json& status) {
  Json j;
  j["name"] = status["name"];
  j["delay_ms"] = status["delay_ms"];
  Json targets = Json::array();
  if (status.contains("targets") && status["targets"].is_array()) {
    for (const Json& t : status["targets"]) {
      Json tj;
      tj["name"] = t.value("name", Json(nullptr));
      tj["delay_ms"] = t.value("delay_ms", Json(nullptr));
      targets.push_back(std::move(tj));
    }
  }
  j["targets"] = std::move(targets);
  return j;
}

Json RevisionJson(const store::ConfigRevision& r, int64_t current, bool with_yaml) {
  Json j;
  j["revision"] = r.revision;
  if (with_yaml) j["yaml"] = server::MaskConfigSecrets(r.yaml);
  j["created_ms"] = r.created_ms;
  j["author"] = r.author;
  j["comment"] = r.comment;
  j["current"] = r.revision == current;
  return j;
}

std::optional<int64_t> ParseRevision(std::string_view text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n <= 0) return std::nullopt;
  return n;
}

}  // namespace

ManagerApi::ManagerApi(ManagerBackend& backend, pipeline::MetricsRegistry& metrics)
    : backend_(backend), metrics_(metrics) {}

HttpResponse ManagerApi::Handle(std::string_view method, std::string_view target, std::string_view body) {
  try {
    return Route(method, target, body);
  } catch (const std::exception& e) {
    spdlog::error("http: {} {}: {}", method, target, e.what());
    return JsonError(500, fmt::format("internal error: {}", e.what()));
  }
}

HttpResponse ManagerApi::Route(std::string_view method, std::string_view target, std::string_view body) {
  std::string_view path = target;
  std::string_view query;
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  if (!path.starts_with('/')) {
    return JsonError(400, fmt::format("malformed request target \"{}\": expected a path", target));
  }
  std::optional<std::vector<std::string>> segments = server::PathSegments(path);
  if (!segments) return JsonError(400, fmt::format("malformed URL path \"{}\": bad percent escape", path));
  const std::vector<std::string>& s = *segments;
  const bool get = method == "GET" || method == "HEAD";
  const bool post = method == "POST";
  const bool put = method == "PUT";

  // Writes need the leader; a follower names it.
  auto not_leader = [&]() -> std::optional<HttpResponse> {
    if (backend_.IsLeader()) return std::nullopt;
    auto [leader, leader_http] = backend_.Leader();
    Json j;
    j["error"] = fmt::format("manager {} is not the leader{}; send writes to the leading manager", backend_.id(),
                             leader.empty() ? std::string(" (no leader is known right now)")
                                            : fmt::format(": {}{}", leader,
                                                          leader_http.empty() ? "" : " at " + leader_http));
    j["leader"] = leader.empty() ? Json(nullptr) : Json(leader);
    j["leader_http"] = leader_http.empty() ? Json(nullptr) : Json(leader_http);
    return JsonResponse(409, j);
  };
  auto current_config = [&]() { return backend_.keeper().Current(); };

  if (s.size() == 1 && s[0] == "healthz") {
    if (!get) return MethodNotAllowed(method, path, "GET");
    Result<ClusterView> view = backend_.ReadCluster();
    if (!view.ok()) return {503, kTextType, "degraded: ZooKeeper cannot be read: " + view.status().message(), {}};
    if (backend_.IsLeader()) return {200, kTextType, "ok: leader", {}};
    auto [leader, leader_http] = backend_.Leader();
    return {200, kTextType, fmt::format("ok: follower (leader: {})", leader.empty() ? "unknown" : leader), {}};
  }
  if (s.size() == 1 && s[0] == "metrics") {
    if (!get) return MethodNotAllowed(method, path, "GET");
    return {200, kMetricsType, metrics_.RenderPrometheus(), {}};
  }

  // ---- pipelines ----
  const bool pipelines_route = s.size() >= 2 && s[0] == "api" && s[1] == "pipelines";
  const bool alias_route =
      s.size() == 3 && s[0] == "api" && s[1] == "pipeline" && (s[2] == "status" || s[2] == "delay");
  if ((pipelines_route && (s.size() == 2 || s.size() == 4)) || alias_route) {
    std::string name;  // "" for all
    std::string action = "status";
    if (pipelines_route && s.size() == 4) {
      name = s[2];
      action = s[3];
    } else if (alias_route) {
      action = s[2];
      bool bad = false;
      std::optional<std::string> id = server::QueryParam(query, "id", bad);
      if (bad) return JsonError(400, "malformed query string: bad percent escape");
      if (id && id->empty()) return JsonError(400, "query parameter \"id\" is empty; expected ?id=PIPELINE_NAME");
      if (id) name = *id;
    }
    const bool read = action == "status" || action == "delay";
    const bool forward = action == "stop" || action == "start" || action == "position" || action == "check" ||
                         action == "repair" || action == "snapshot";
    const bool move = action == "move";
    if (!read && !forward && !move) return JsonError(404, fmt::format("no route for {} {}", method, path));
    if (read && !get) return MethodNotAllowed(method, path, "GET");
    if ((forward || move) && !post) return MethodNotAllowed(method, path, "POST");
    if (!read) {
      if (auto refused = not_leader()) return *refused;
    }

    Result<CurrentConfig> config = current_config();
    if (!config.ok()) return StatusError(config.status());
    std::vector<const pipeline::PipelineConfig*> wanted;
    for (const pipeline::PipelineConfig& pc : config->config->pipelines) {
      if (name.empty() || pc.name == name) wanted.push_back(&pc);
    }
    if (!name.empty() && wanted.empty()) return NoPipeline(name);
    Result<ClusterView> view = backend_.ReadCluster();
    if (!view.ok()) return StatusError(view.status());

    if (move) {
      std::variant<Json, HttpResponse> parsed = ObjectBody(body, R"({"node": "NODE_ID"})");
      if (auto* bad = std::get_if<HttpResponse>(&parsed)) return std::move(*bad);
      const Json& j = std::get<Json>(parsed);
      if (!j.contains("node") || !j["node"].is_string() || j["node"].get<std::string>().empty()) {
        return JsonError(400, R"(body needs "node": the id of the node to move the pipeline to)");
      }
      const std::string to = j["node"].get<std::string>();
      const PipelineOwners* owners = FindOwners(*view, name);
      const NodeInfo* node = FindNode(*view, to);
      const std::vector<std::string>& required = wanted[0]->node_labels;
      if (!node) return JsonError(400, fmt::format("node \"{}\" is not a live node of the cluster", to));
      if (node->draining) return JsonError(400, fmt::format("node \"{}\" is draining", to));
      if (std::string missing = MissingLabel(node->labels, required); !missing.empty()) {
        return JsonError(400, fmt::format("node \"{}\" may not own pipeline \"{}\": it lacks the label \"{}\"", to,
                                          name, missing));
      }
      if (owners && owners->owner == to) {
        return JsonError(400, fmt::format("node \"{}\" already owns pipeline \"{}\"", to, name));
      }
      if (!owners || std::find(owners->candidates.begin(), owners->candidates.end(), to) == owners->candidates.end()) {
        return JsonError(400, fmt::format("node \"{}\" is not a candidate for pipeline \"{}\" (candidates: {})", to,
                                          name,
                                          owners && !owners->candidates.empty()
                                              ? fmt::format("{}", fmt::join(owners->candidates, ", "))
                                              : std::string("none")));
      }
      Status moved = backend_.RequestMove(name, to);
      if (!moved.ok()) return StatusError(moved);
      spdlog::info("manager: pipeline {}: move from {} to {} requested", name,
                   owners->owner.empty() ? "(nobody)" : owners->owner, to);
      Json r;
      r["name"] = name;
      r["from"] = owners->owner.empty() ? Json(nullptr) : Json(owners->owner);
      r["to"] = to;
      return JsonResponse(202, r);
    }

    if (forward) {
      const PipelineOwners* owners = FindOwners(*view, name);
      if (!owners || owners->owner.empty()) {
        return JsonError(409, fmt::format("no node owns pipeline \"{}\" now; nothing to {}", name, action));
      }
      const NodeInfo* node = FindNode(*view, owners->owner);
      if (!node || node->http.empty()) {
        return JsonError(503, fmt::format("the owner of pipeline \"{}\", node {}, serves no http", name,
                                          owners->owner));
      }
      Result<NodeReply> reply = backend_.CallNode(
          node->http, "POST", fmt::format("/api/pipelines/{}/{}", EncodePathSegment(name), action), std::string(body));
      if (!reply.ok()) {
        return JsonError(502, fmt::format("node {} ({}) did not answer: {}", node->id, node->http,
                                          reply.status().message()));
      }
      return {reply->status, kJsonType, reply->body, {}};
    }

    // Reads: every owner asked at once, each with its own short timeout.
    std::vector<std::future<Result<NodeReply>>> asks(wanted.size());
    for (size_t i = 0; i < wanted.size(); ++i) {
      const PipelineOwners* owners = FindOwners(*view, wanted[i]->name);
      const NodeInfo* node = owners && !owners->owner.empty() ? FindNode(*view, owners->owner) : nullptr;
      if (!node) continue;
      asks[i] = std::async(std::launch::async, [this, address = node->http, p = wanted[i]->name] {
        return backend_.CallNode(address, "GET", fmt::format("/api/pipelines/{}/status", EncodePathSegment(p)), "");
      });
    }
    Json all = Json::array();
    for (size_t i = 0; i < wanted.size(); ++i) {
      const PipelineOwners* owners = FindOwners(*view, wanted[i]->name);
      const NodeInfo* node = owners && !owners->owner.empty() ? FindNode(*view, owners->owner) : nullptr;
      std::optional<Result<NodeReply>> live;
      if (asks[i].valid()) live.emplace(asks[i].get());
      Json p = PipelineJson(wanted[i]->name, owners, node, live ? &*live : nullptr);
      all.push_back(action == "delay" ? DelayJson(p) : std::move(p));
    }
    if (!name.empty()) return JsonResponse(200, all[0]);
    return JsonResponse(200, all);
  }

  // ---- alarms ----
  if (s.size() == 2 && s[0] == "api" && s[1] == "alarms") {
    if (!get) return MethodNotAllowed(method, path, "GET");
    return {200, kJsonType, alarms_view_ ? alarms_view_() : R"({"rules":[],"alarms":[]})", {}};
  }

  // ---- nodes ----
  if (s.size() >= 2 && s.size() <= 4 && s[0] == "api" && s[1] == "nodes") {
    if (s.size() == 4 && s[3] != "drain") return JsonError(404, fmt::format("no route for {} {}", method, path));
    if (s.size() == 4 ? !post : !get) return MethodNotAllowed(method, path, s.size() == 4 ? "POST" : "GET");
    if (s.size() == 4) {
      if (auto refused = not_leader()) return *refused;
    }
    Result<ClusterView> view = backend_.ReadCluster();
    if (!view.ok()) return StatusError(view.status());
    if (s.size() == 2) {
      Json all = Json::array();
      for (const NodeInfo& n : view->nodes) all.push_back(NodeJson(n, *view));
      return JsonResponse(200, all);
    }
    const NodeInfo* node = FindNode(*view, s[2]);
    if (!node) return JsonError(404, fmt::format("no live node named \"{}\"", s[2]));
    if (s.size() == 3) return JsonResponse(200, NodeJson(*node, *view));
    if (node->http.empty()) return JsonError(503, fmt::format("node {} serves no http; cannot drain it", node->id));
    Result<NodeReply> reply = backend_.CallNode(node->http, "POST", "/api/node/drain", std::string(body));
    if (!reply.ok()) {
      return JsonError(502, fmt::format("node {} ({}) did not answer: {}", node->id, node->http,
                                        reply.status().message()));
    }
    spdlog::info("manager: node {}: drain forwarded ({})", node->id, reply->status);
    return {reply->status, kJsonType, reply->body, {}};
  }

  // ---- configuration ----
  if (s.size() >= 2 && s[0] == "api" && s[1] == "config") {
    ConfigKeeper& keeper = backend_.keeper();
    auto change_response = [&](const Result<ChangeResult>& done) -> HttpResponse {
      if (!done.ok()) return StatusError(done.status());
      Json j;
      j["revision"] = done->revision.revision;
      j["created"] = done->created;
      j["published"] = keeper.published() >= done->revision.revision;
      return JsonResponse(200, j);
    };
    if (s.size() == 2) {
      if (get) {
        Result<CurrentConfig> cur = keeper.Current();
        if (!cur.ok()) return StatusError(cur.status());
        Json j;
        j["revision"] = cur->revision;
        j["yaml"] = server::MaskConfigSecrets(cur->yaml);
        Result<std::optional<store::ConfigRevision>> rec = keeper.store().Get(cur->revision);
        const bool have = rec.ok() && rec->has_value();
        j["created_ms"] = have ? Json((*rec)->created_ms) : Json(nullptr);
        j["author"] = have ? Json((*rec)->author) : Json(nullptr);
        j["comment"] = have ? Json((*rec)->comment) : Json(nullptr);
        j["published"] = keeper.published();
        return JsonResponse(200, j);
      }
      if (!put) return MethodNotAllowed(method, path, "GET, PUT");
      if (auto refused = not_leader()) return *refused;
      bool bad = false;
      std::optional<std::string> comment = server::QueryParam(query, "comment", bad);
      std::optional<std::string> author = bad ? std::nullopt : server::QueryParam(query, "author", bad);
      if (bad) return JsonError(400, "malformed query string: bad percent escape");
      if (body.empty()) return JsonError(400, "request body is empty; expected the whole configuration as YAML");
      Result<CurrentConfig> cur = keeper.Current();
      if (!cur.ok()) return StatusError(cur.status());
      // A masked secret (GET /api/config) keeps the current revision's value.
      Result<std::string> text = server::RestoreConfigSecrets(body, cur->yaml, keeper.config_path());
      if (!text.ok()) return StatusError(text.status());
      Result<ChangeResult> done =
          keeper.Put(*text, "PUT /api/config" + (author ? " by " + *author : std::string()), comment.value_or(""));
      if (!done.ok()) {
        return JsonError(server::HttpStatusFor(done.status()),
                         server::RedactConfigSecrets(done.status().message(), *text));
      }
      return change_response(done);
    }
    if (s.size() == 3 && s[2] == "validate") {
      if (!post) return MethodNotAllowed(method, path, "POST");
      Result<CurrentConfig> cur = keeper.Current();
      if (!cur.ok()) return StatusError(cur.status());
      Result<std::string> text = server::RestoreConfigSecrets(body, cur->yaml, keeper.config_path());
      if (!text.ok()) return StatusError(text.status());
      Result<std::shared_ptr<const pipeline::Config>> valid = keeper.Validate(*text);
      if (!valid.ok()) return JsonError(400, server::RedactConfigSecrets(valid.status().message(), *text));
      Json j;
      j["valid"] = true;
      j["pipelines"] = (*valid)->pipelines.size();
      return JsonResponse(200, j);
    }
    if (s.size() == 3 && s[2] == "rollback") {
      if (!post) return MethodNotAllowed(method, path, "POST");
      if (auto refused = not_leader()) return *refused;
      std::variant<Json, HttpResponse> parsed = ObjectBody(body, R"({"revision": N})");
      if (auto* bad = std::get_if<HttpResponse>(&parsed)) return std::move(*bad);
      const Json& j = std::get<Json>(parsed);
      if (!j.contains("revision") || !j["revision"].is_number_integer() || j["revision"].get<int64_t>() <= 0) {
        return JsonError(400, R"(body needs "revision": a revision number (GET /api/config/revisions))");
      }
      std::string comment = j.contains("comment") && j["comment"].is_string() ? j["comment"].get<std::string>() : "";
      return change_response(keeper.Rollback(j["revision"].get<int64_t>(), "POST /api/config/rollback", comment));
    }
    if ((s.size() == 3 || s.size() == 4) && s[2] == "revisions") {
      if (!get) return MethodNotAllowed(method, path, "GET");
      Result<CurrentConfig> cur = keeper.Current();
      if (!cur.ok()) return StatusError(cur.status());
      if (s.size() == 4) {
        std::optional<int64_t> n = ParseRevision(s[3]);
        if (!n) return JsonError(400, fmt::format("\"{}\" is not a revision number", s[3]));
        Result<std::optional<store::ConfigRevision>> r = keeper.store().Get(*n);
        if (!r.ok()) return StatusError(r.status());
        if (!r->has_value()) return JsonError(404, fmt::format("no configuration revision {}", *n));
        return JsonResponse(200, RevisionJson(**r, cur->revision, true));
      }
      Result<std::vector<store::ConfigRevision>> list = keeper.store().List();
      if (!list.ok()) return StatusError(list.status());
      Json all = Json::array();
      for (const store::ConfigRevision& r : *list) all.push_back(RevisionJson(r, cur->revision, false));
      return JsonResponse(200, all);
    }
  }

  if (get) {
    if (std::optional<HttpResponse> page = server::ServeConsole(path)) return std::move(*page);
  }
  return JsonError(404, fmt::format("no route for {} {}", method, path));
}

}  // namespace sluice::cluster
