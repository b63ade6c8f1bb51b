#include "cluster/node_routes.h"

#include <nlohmann/json.hpp>

namespace sluice::cluster {
namespace {

using Json = nlohmann::json;

server::HttpResponse JsonAnswer(int status, const Json& j) {
  return {status, "application/json", j.dump(-1, ' ', false, Json::error_handler_t::replace), {}};
}

Json NodeJson(const NodeStatus& s) {
  Json j;
  j["id"] = s.node.id;
  j["labels"] = s.node.labels;
  j["http"] = s.node.http;
  j["state"] = s.draining ? "draining" : "online";
  j["session"] = std::string(SessionStateName(s.session));
  j["revision"] = s.revision;
  j["config_error"] = s.config_error.empty() ? Json(nullptr) : Json(s.config_error);
  j["pipelines"] = s.owned;
  Json candidacies = Json::array();
  for (const auto& c : s.candidacies) {
    candidacies.push_back({{"pipeline", c.pipeline}, {"state", std::string(OwnershipStateName(c.state))},
                           {"epoch", c.epoch}});
  }
  j["candidacies"] = std::move(candidacies);
  return j;
}

server::HttpResponse WrongMethod(const char* allow) {
  server::HttpResponse r = JsonAnswer(405, Json{{"error", std::string("method not allowed; use ") + allow}});
  r.headers.emplace_back("Allow", allow);
  return r;
}

}  // namespace

server::HttpApi::ExtraRoutes NodeRoutes(NodeAgent& agent) {
  return [&agent](std::string_view method, const std::vector<std::string>& s,
                  std::string_view) -> std::optional<server::HttpResponse> {
    const bool get = method == "GET" || method == "HEAD";
    if (s.size() == 2 && s[0] == "api" && s[1] == "node") {
      if (!get) return WrongMethod("GET");
      return JsonAnswer(200, NodeJson(agent.node_status()));
    }
    if (s.size() == 3 && s[0] == "api" && s[1] == "node" && s[2] == "drain") {
      if (method != "POST") return WrongMethod("POST");
      agent.Drain();
      return JsonAnswer(200, NodeJson(agent.node_status()));
    }
    return std::nullopt;
  };
}

}  // namespace sluice::cluster
