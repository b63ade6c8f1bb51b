// The manager's pipeline actions reach the owning node (design §6, §10):
// POST /api/pipelines/p/stop and /start on the leading manager are forwarded
// to the node that owns "p" (the manager is not on the data path, the node
// is), the owner's pipeline stops applying and starts again from its
// checkpoint, and a follower refuses them naming the leader. Ends with the
// sequence check (node_fixture.h): 0 lost, 0 duplicated.

#include <fstream>

#include "cluster/manager_process.h"
#include "cluster/node_fixture.h"

namespace sluice::testing {
namespace {

using ManagerForwardTest = NodeFixture;

TEST_F(ManagerForwardTest, StopAndStartReachTheOwningNode) {
  const std::string config = (dir_ / "cluster.yaml").string();
  std::ofstream(config) << ClusterYaml();
  ManagerPair managers(dir_.string(), config);
  Status leading = managers.Start(kDeadline);
  ASSERT_TRUE(leading.ok()) << leading.message();
  ManagerProcess& leader = managers.leader();
  ManagerProcess& follower = managers.follower();
  AddNode("n1");
  AddNode("n2");
  StartLoad();
  const std::string owner = WaitForFirstOwner();
  ASSERT_FALSE(owner.empty());
  auto state_on_owner = [&] {
    HttpReply r = HttpGet(Find(owner)->port(), "/api/pipelines/p/status");
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_object() ? j.value("state", "") : "";
  };
  ASSERT_TRUE(WaitUntil([&] { return state_on_owner() == "running"; }, kDeadline)) << Find(owner)->Log();

  ManagerReply refused = ManagerHttp(follower.port(), "POST", "/api/pipelines/p/stop");
  EXPECT_EQ(refused.status, 409) << refused.body;

  ManagerReply stopped = ManagerHttp(leader.port(), "POST", "/api/pipelines/p/stop");
  ASSERT_EQ(stopped.status, 200) << stopped.body << leader.Log();
  ASSERT_TRUE(WaitUntil([&] { return state_on_owner() == "stopped"; }, kDeadline)) << Find(owner)->Log();
  // Stopped: the target gets nothing more while the source goes on.
  const int64_t at_stop = AuditRows();
  ASSERT_TRUE(WaitUntil([&] { return written_.load() > at_stop + 20; }, kDeadline));
  EXPECT_EQ(AuditRows(), at_stop);
  ManagerReply seen = ManagerHttp(leader.port(), "GET", "/api/pipelines/p/status");
  ASSERT_EQ(seen.status, 200) << seen.body;
  EXPECT_EQ(seen.Json().value("state", ""), "stopped") << seen.body;
  EXPECT_EQ(seen.Json().value("owner", ""), owner) << seen.body;

  ManagerReply started = ManagerHttp(leader.port(), "POST", "/api/pipelines/p/start");
  ASSERT_EQ(started.status, 200) << started.body << leader.Log();
  EXPECT_TRUE(WaitUntil([&] { return AuditRows() > at_stop + 20; }, kDeadline)) << "did not apply again";
  EXPECT_EQ(state_on_owner(), "running");
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
}

}  // namespace
}  // namespace sluice::testing
