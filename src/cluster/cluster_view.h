#pragma once
// Who is alive and who owns what, as the ensemble has it at one moment (the
// manager's view: GET /api/nodes, `owner` and `epoch` per pipeline), and the
// record of the highest epoch each pipeline was owned with.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/names.h"
#include "cluster/node_info.h"
#include "core/status.h"

namespace sluice::cluster {

struct PipelineOwners {
  std::string pipeline;
  std::string owner;                    // node id; "" while no node owns it
  int64_t epoch = 0;                    // of the current ownership; the last one while unowned (0: never owned)
  std::vector<std::string> candidates;  // node ids in election order, the owner first
  std::string move_to;                  // a pending move request's node, "" for none
};

struct ClusterView {
  std::vector<NodeInfo> nodes;            // live nodes, by id
  std::vector<PipelineOwners> pipelines;  // every pipeline any node ever campaigned for, by name
  std::vector<std::string> managers;      // manager ids in election order, the leader first
};

class ZkHandle;

// Reads the view with a series of calls (not one snapshot: a change between
// them shows up in the next read). Coordinator thread only.
[[nodiscard]] Result<ClusterView> ReadClusterView(ZkHandle& handle, const ClusterPaths& paths);

// The pipeline node's data: {"epoch":E,"owner":"n1"}. 0 when absent or unreadable.
std::string EpochRecord(std::string_view owner, int64_t epoch);
int64_t RecordedEpoch(std::string_view data);

}  // namespace sluice::cluster
