#pragma once
// What the cluster manager's alarms watch (design §11, `alarms:` in
// cluster.yaml): the pipelines of the current revision as their owning nodes
// report them (through the manager's own API, which asks every owner at
// once), and the live nodes, for `node_down`. Every manager evaluates the
// rules, so any of them answers GET /api/alarms; only the leader sends the
// webhook's notifications and restarts failed pipelines (auto_recover, by
// a start forwarded to the owner).
//
// A pipeline nobody owns, or whose owner does not answer, is unknown for
// the tick: its alarms stay as they were (node_down says why). While
// ZooKeeper cannot be read, every alarm stays as it was.
//
// Called on the alarm engine's thread only; the API and the backend must
// outlive it.

#include "cluster/manager_api.h"
#include "server/alarms/alarm_engine.h"

namespace sluice::cluster {

class ManagerAlarmSubject final : public server::alarms::AlarmSubject {
 public:
  ManagerAlarmSubject(ManagerApi& api, ManagerBackend& backend) : api_(api), backend_(backend) {}

  server::alarms::AlarmInputs Observe() override;
  Result<pipeline::PipelineStatus> GetPipeline(const std::string& name) override;
  Status StartPipeline(const std::string& name) override;
  bool Speaks() override { return backend_.IsLeader(); }

 private:
  ManagerApi& api_;
  ManagerBackend& backend_;
};

}  // namespace sluice::cluster
