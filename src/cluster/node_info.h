#pragma once
// What a node publishes about itself in its liveness node, and which
// pipelines it may own.

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sluice::cluster {

struct NodeInfo {
  std::string id;
  std::vector<std::string> labels;
  std::string http;       // the node's own status and /metrics address, "" when it serves none
  bool draining = false;  // handing its pipelines over and taking no new ones
};

// {"http":"127.0.0.1:8711","id":"n1","labels":["heavy"],"state":"online"} ("draining" when draining)
std::string NodeInfoToJson(const NodeInfo& info);
[[nodiscard]] Result<NodeInfo> NodeInfoFromJson(std::string_view json);

// A node may own a pipeline when it has every label the pipeline names.
bool IsEligible(const std::vector<std::string>& node_labels, const std::vector<std::string>& required);
// The first required label the node lacks, "" when eligible.
std::string MissingLabel(const std::vector<std::string>& node_labels, const std::vector<std::string>& required);

}  // namespace sluice::cluster
