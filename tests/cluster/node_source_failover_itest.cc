// A source failover while a cluster node owns the pipeline: the source's
// address (a virtual IP, a DNS name) moves to the promoted replica. The
// owner's capture stops on the other server (kSourceChanged) and the node
// starts the pipeline again at once, which moves the target to its GTID
// state on the new server: every transaction applied exactly once, without
// waiting for auto_recover or a start by hand.

#include "cluster/node_fixture.h"
#include "harness/tcp_forwarder.h"

namespace sluice::testing {
namespace {

class NodeSourceFailoverTest : public NodeFixture {};

TEST_F(NodeSourceFailoverTest, TheOwnerFollowsTheSourceAddressToThePromotedReplica) {
  // The same binlog file names on both servers, other offsets: only the
  // GTID tells where the target stands on the replica.
  std::unique_ptr<MariadbServer> replica = StartReplicaOf(*src_, /*own_names=*/false);
  ASSERT_TRUE(replica);
  auto vip = TcpForwarder::Start({src_->port()});
  ASSERT_TRUE(vip.ok()) << vip.status().message();
  std::string yaml = ClusterYaml();
  const std::string direct = fmt::format("\"{}\"", src_->Url());
  ASSERT_NE(yaml.find(direct), std::string::npos);
  yaml.replace(yaml.find(direct), direct.size(), fmt::format("\"mysql://root@127.0.0.1:{}\"", (*vip)->ports()[0]));
  ASSERT_NO_FATAL_FAILURE(Publish(yaml));
  NodeProcess& node = AddNode("n1");
  StartLoad();
  ASSERT_EQ(WaitForFirstOwner(), "n1");
  StopLoad();
  ASSERT_TRUE(load_error_.ok()) << load_error_.message();
  ASSERT_TRUE(CaughtUp(*replica, *src_));

  (*vip)->Retarget(0, replica->port());
  ASSERT_TRUE(src_->Crash().ok());
  ASSERT_TRUE(replica->Execute("STOP SLAVE; RESET SLAVE ALL").ok());
  std::unique_ptr<MariadbServer> former = std::move(src_);
  src_ = std::move(replica);
  StartLoad();
  ASSERT_TRUE(WaitUntil([&] { return node.Log().find("starting it again") != std::string::npos; }, kDeadline))
      << node.Log();
  const int64_t applied = AuditRows();
  EXPECT_TRUE(WaitUntil([&] { return AuditRows() > applied + 20; }, kDeadline)) << node.Log();
  ExpectExactlyOnce();
  std::string log = node.Log();
  EXPECT_NE(log.find("is another server than the one target dst stopped on"), std::string::npos) << log;
  EXPECT_EQ(Owner().first, "n1");
}

}  // namespace
}  // namespace sluice::testing
