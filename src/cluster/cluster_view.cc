#include "cluster/cluster_view.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "cluster/zk_handle.h"

namespace sluice::cluster {

Result<ClusterView> ReadClusterView(ZkHandle& handle, const ClusterPaths& paths) {
  ClusterView view;
  std::vector<std::string> names;
  int rc = handle.GetChildren(paths.nodes(), &names);
  if (rc != ZOK && rc != ZNONODE) return ZkError(rc, "get children", paths.nodes());
  std::sort(names.begin(), names.end());
  for (const std::string& id : names) {
    std::string data;
    rc = handle.Get(paths.node(id), &data);
    if (rc == ZNONODE) continue;  // gone meanwhile
    if (rc != ZOK) return ZkError(rc, "get", paths.node(id));
    auto info = NodeInfoFromJson(data);
    view.nodes.push_back(info.ok() ? std::move(*info) : NodeInfo{id, {}, ""});
  }
  rc = handle.GetChildren(paths.pipelines(), &names);
  if (rc == ZNONODE) names.clear();  // no pipeline yet
  if (rc != ZOK && rc != ZNONODE) return ZkError(rc, "get children", paths.pipelines());
  std::sort(names.begin(), names.end());
  for (const std::string& pipeline : names) {
    PipelineOwners owners{pipeline, "", 0, {}, ""};
    std::string record;
    rc = handle.Get(paths.pipeline(pipeline), &record);
    if (rc == ZOK) owners.epoch = RecordedEpoch(record);
    std::vector<std::string> candidates;
    rc = handle.GetChildren(paths.candidates(pipeline), &candidates);
    if (rc != ZOK && rc != ZNONODE) return ZkError(rc, "get children", paths.candidates(pipeline));
    std::vector<std::pair<int64_t, std::string>> ordered;  // sequence, name
    for (const std::string& name : candidates) {
      if (auto parsed = ParseCandidateName(name)) ordered.emplace_back(parsed->sequence, name);
    }
    std::sort(ordered.begin(), ordered.end());
    for (const auto& [sequence, name] : ordered) {
      const std::string path = paths.candidates(pipeline) + "/" + name;
      Stat stat{};
      rc = handle.Exists(path, &stat);
      if (rc == ZNONODE) continue;
      if (rc != ZOK) return ZkError(rc, "exists", path);
      owners.candidates.push_back(ParseCandidateName(name)->node_id);
      if (owners.owner.empty()) {
        owners.owner = owners.candidates.back();
        owners.epoch = stat.czxid;
      }
    }
    std::string move_to;
    rc = handle.Get(paths.move(pipeline), &move_to);
    if (rc == ZOK) owners.move_to = move_to;
    else if (rc != ZNONODE) return ZkError(rc, "get", paths.move(pipeline));
    view.pipelines.push_back(std::move(owners));
  }
  rc = handle.GetChildren(paths.manager_candidates(), &names);
  if (rc != ZOK && rc != ZNONODE) return ZkError(rc, "get children", paths.manager_candidates());
  if (rc == ZOK) {
    std::vector<std::pair<int64_t, std::string>> ordered;
    for (const std::string& name : names) {
      if (auto parsed = ParseCandidateName(name)) ordered.emplace_back(parsed->sequence, parsed->node_id);
    }
    std::sort(ordered.begin(), ordered.end());
    for (auto& [sequence, id] : ordered) view.managers.push_back(std::move(id));
  }
  return view;
}

std::string EpochRecord(std::string_view owner, int64_t epoch) {
  return nlohmann::json{{"owner", owner}, {"epoch", epoch}}.dump();
}

int64_t RecordedEpoch(std::string_view data) {
  nlohmann::json j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("epoch") || !j["epoch"].is_number_integer()) return 0;
  return j["epoch"].get<int64_t>();
}

}  // namespace sluice::cluster
