#pragma once
// The ZooKeeper layout of a cluster, and the names in it:
//
//   /sluice/<cluster>/nodes/<node id>                       ephemeral: a live node; data = NodeInfo JSON
//   /sluice/<cluster>/pipelines/<pipeline>/candidates/<c>   ephemeral sequential: one per candidate node
//   /sluice/<cluster>/pipelines/<pipeline>/move             persistent: a move request; data = the node id
//   /sluice/<cluster>/pipelines/<pipeline>/settings/<key>   persistent: the pipeline's settings (schema history,
//                                                           table selection, ...); key escaped (SettingNodeName)
//   /sluice/<cluster>/config                                persistent: the published configuration
//   /sluice/<cluster>/managers/candidates/<c>               ephemeral sequential: the managers' election
//
// A candidate's name is "<node id>-<session id, hex>-<10-digit sequence>"
// (ZooKeeper appends the sequence). The node id lets a node find and remove
// candidates its own earlier sessions left behind; the session id lets it
// recognise the candidate of its current session after a create whose reply
// was lost; the sequence orders the election.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sluice::cluster {

// Cluster names, node ids and pipeline names become path components.
[[nodiscard]] Status ValidateName(std::string_view what, std::string_view name);

class ClusterPaths {
 public:
  explicit ClusterPaths(std::string cluster) : root_("/sluice/" + std::move(cluster)) {}
  const std::string& root() const { return root_; }
  std::string nodes() const { return root_ + "/nodes"; }
  std::string node(std::string_view id) const { return nodes() + "/" + std::string(id); }
  std::string pipelines() const { return root_ + "/pipelines"; }
  std::string pipeline(std::string_view name) const { return pipelines() + "/" + std::string(name); }
  std::string candidates(std::string_view pipeline_name) const { return pipeline(pipeline_name) + "/candidates"; }
  std::string move(std::string_view pipeline_name) const { return pipeline(pipeline_name) + "/move"; }
  std::string settings(std::string_view pipeline_name) const { return pipeline(pipeline_name) + "/settings"; }
  std::string config() const { return root_ + "/config"; }
  std::string managers() const { return root_ + "/managers"; }
  std::string manager_candidates() const { return managers() + "/candidates"; }
  // The pipeline a path under pipelines/ belongs to, "" for other paths.
  std::string PipelineOf(std::string_view path) const;

 private:
  std::string root_;
};

// A setting's key as a node name: letters, digits, '_', '-' and '.' as they
// are, every other byte as %XX (a key may hold '/'); "." and ".." escaped too.
std::string SettingNodeName(std::string_view key);
// The key back; nullopt for a name SettingNodeName does not make.
std::optional<std::string> SettingKey(std::string_view node_name);

// What a candidate passes to ZooKeeper's sequential create.
std::string CandidatePrefix(std::string_view node_id, int64_t session_id);

struct CandidateName {
  std::string node_id;
  int64_t session_id = 0;
  int64_t sequence = 0;
};
std::optional<CandidateName> ParseCandidateName(std::string_view name);

// One candidate's view of an election: the lowest sequence owns; every other
// candidate watches only the one just before it (no herd when the owner goes).
struct ElectionView {
  bool present = false;     // `own` is among the candidates
  bool owner = false;       // `own` has the lowest sequence
  std::string predecessor;  // the candidate to watch when not the owner
  std::string owner_name;   // "" when there is no candidate at all
};
// Names that do not parse as candidates are ignored.
ElectionView ViewElection(const std::vector<std::string>& candidates, std::string_view own);

}  // namespace sluice::cluster
