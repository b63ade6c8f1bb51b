// The cluster manager's alarms (design §11): cluster.yaml's `alarms:` are
// evaluated by every manager over the cluster view and the pipelines'
// status as their owners report it; only the leading manager notifies.
// Two managers, two nodes, a real webhook receiver: a pipeline stopped
// through the manager fires `state == stopped` and resolves when started;
// a node killed fires `node_down` naming it, and resolves when it returns.
// Each transition reaches the webhook once (the follower stays silent), and
// the follower's GET /api/alarms shows the same alarms.

#include <fstream>

#include "cluster/manager_process.h"
#include "cluster/node_fixture.h"
#include "server/alarms/webhook_receiver.h"

namespace sluice::testing {
namespace {

using ManagerAlarmsTest = NodeFixture;

// The alarm of `rule` (and `node` when given) as GET /api/alarms lists it, or {}.
nlohmann::json ListedAlarm(ManagerProcess& manager, const std::string& rule, const std::string& node = "") {
  ManagerReply r = ManagerHttp(manager.port(), "GET", "/api/alarms");
  nlohmann::json j = r.Json();
  if (r.status != 200 || !j.is_object() || !j["alarms"].is_array()) return nlohmann::json::object();
  for (const nlohmann::json& a : j["alarms"]) {
    if (a.value("rule", "") == rule && (node.empty() || a.value("node", "") == node)) return a;
  }
  return nlohmann::json::object();
}

TEST_F(ManagerAlarmsTest, StateAndNodeDownFireAndResolveOnceFromTheLeader) {
  WebhookReceiver hook;
  const std::string config = (dir_ / "cluster.yaml").string();
  std::ofstream(config) << ClusterYaml() << fmt::format(R"(alarms:
  webhook: {{url: "{}"}}
  rules:
    - {{name: halted, when: "state == stopped"}}
    - {{name: node_lost, when: node_down, for: 1s}}
)",
                                                         hook.Url("ops", "hook-Secret-7"));
  ManagerPair managers(dir_.string(), config);
  Status leading = managers.Start(kDeadline);
  ASSERT_TRUE(leading.ok()) << leading.message();
  ManagerProcess& leader = managers.leader();
  ManagerProcess& follower = managers.follower();
  AddNode("n1");
  AddNode("n2");
  StartLoad();  // the first owner is known once the target receives rows
  const std::string owner = WaitForFirstOwner();
  ASSERT_FALSE(owner.empty());
  const std::string other = owner == "n1" ? "n2" : "n1";

  // A rule over the forwarded status.
  ManagerReply stopped = ManagerHttp(leader.port(), "POST", "/api/pipelines/p/stop");
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  ASSERT_TRUE(WaitUntil([&] { return !hook.Of("halted").empty(); }, kDeadline)) << leader.Log();
  nlohmann::json fired = hook.Of("halted")[0];
  EXPECT_EQ(fired["state"], "firing");
  EXPECT_EQ(fired["pipeline"], "p");
  EXPECT_EQ(fired["value"], "stopped");
  ASSERT_TRUE(WaitUntil([&] { return ListedAlarm(follower, "halted").value("state", "") == "firing"; }, kDeadline))
      << "the follower evaluates too";
  ManagerReply started = ManagerHttp(leader.port(), "POST", "/api/pipelines/p/start");
  ASSERT_EQ(started.status, 200) << started.body;
  ASSERT_TRUE(WaitUntil([&] { return hook.Of("halted").size() >= 2; }, kDeadline)) << leader.Log();
  EXPECT_EQ(hook.Of("halted")[1]["state"], "resolved");

  // A node lost, then back.
  Find(other)->Kill();
  ASSERT_TRUE(WaitUntil([&] { return !hook.Of("node_lost").empty(); }, kDeadline)) << leader.Log();
  nlohmann::json lost = hook.Of("node_lost")[0];
  EXPECT_EQ(lost["state"], "firing");
  EXPECT_EQ(lost["node"], other);
  EXPECT_EQ(lost["value"], other);
  EXPECT_TRUE(lost["pipeline"].is_null());
  ASSERT_TRUE(
      WaitUntil([&] { return ListedAlarm(follower, "node_lost", other).value("state", "") == "firing"; }, kDeadline));
  ManagerReply metrics = ManagerHttp(leader.port(), "GET", "/metrics");
  EXPECT_NE(metrics.body.find("sluice_alarm_firing{rule=\"node_lost\""), std::string::npos) << metrics.body;
  Find(other)->Start();
  ASSERT_TRUE(WaitUntil([&] { return hook.Of("node_lost").size() >= 2; }, kDeadline)) << leader.Log();
  EXPECT_EQ(hook.Of("node_lost")[1]["state"], "resolved");
  EXPECT_EQ(hook.Of("node_lost")[1]["node"], other);
  ASSERT_TRUE(WaitUntil([&] { return ListedAlarm(follower, "node_lost", other).value("state", "") == "resolved"; },
                        kDeadline));

  // Once per transition: the follower never sent.
  EXPECT_EQ(hook.Of("halted").size(), 2u);
  EXPECT_EQ(hook.Of("node_lost").size(), 2u);
  for (const std::string& a : hook.Authorizations()) EXPECT_FALSE(a.empty()) << "Basic credentials from the URL";
  for (ManagerProcess* m : {&leader, &follower}) {
    EXPECT_EQ(m->Log().find("hook-Secret-7"), std::string::npos) << "the webhook's password is a secret";
  }
}

}  // namespace
}  // namespace sluice::testing
