#include "cluster/node_info.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace sluice::cluster {

std::string NodeInfoToJson(const NodeInfo& info) {
  nlohmann::json j = {
      {"id", info.id}, {"labels", info.labels}, {"http", info.http}, {"state", info.draining ? "draining" : "online"}};
  return j.dump();
}

Result<NodeInfo> NodeInfoFromJson(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("id") || !j["id"].is_string()) {
    return Status::Corruption("node info: not a JSON object with a string \"id\": {}", json);
  }
  NodeInfo info;
  info.id = j["id"].get<std::string>();
  if (j.contains("labels")) {
    if (!j["labels"].is_array()) return Status::Corruption("node info \"{}\": \"labels\" is not an array", info.id);
    for (const auto& label : j["labels"]) {
      if (!label.is_string()) return Status::Corruption("node info \"{}\": a label is not a string", info.id);
      info.labels.push_back(label.get<std::string>());
    }
  }
  if (j.contains("http") && j["http"].is_string()) info.http = j["http"].get<std::string>();
  info.draining = j.contains("state") && j["state"] == "draining";
  return info;
}

std::string MissingLabel(const std::vector<std::string>& node_labels, const std::vector<std::string>& required) {
  for (const std::string& label : required) {
    if (std::find(node_labels.begin(), node_labels.end(), label) == node_labels.end()) return label;
  }
  return "";
}

bool IsEligible(const std::vector<std::string>& node_labels, const std::vector<std::string>& required) {
  return MissingLabel(node_labels, required).empty();
}

}  // namespace sluice::cluster
