// `sluice node` failures that leave a former owner alive (design §10): a
// node paused past its session timeout and woken up, a node cut from
// ZooKeeper while its MySQL link stays up, and every manager killed while
// the nodes run. A former owner writes nothing once its successor started:
// the MySQL target refuses it (its fence, `_sluice`.`fences`), and it
// rejoins as a candidate. Each test ends with the sequence check
// (node_fixture.h): 0 lost, 0 duplicated.

#include "cluster/manager_process.h"
#include "cluster/node_fixture.h"
#include "harness/tcp_forwarder.h"

namespace sluice::testing {
namespace {

bool Logged(const NodeProcess& node, std::string_view text) { return node.Log().find(text) != std::string::npos; }

class NodeFailoverTest : public NodeFixture {
 protected:
  // Starts the load with `first` the only node, so that it owns "p", then
  // nodes n2 and n3, which wait as candidates. Returns `first`'s epoch.
  int64_t OwnsWithTwoCandidatesBehind(const NodeProcess& first) {
    StartLoad();
    EXPECT_EQ(WaitForFirstOwner(), first.id());
    const int64_t epoch = Owner().second;
    NodeProcess& n2 = AddNode("n2");
    NodeProcess& n3 = AddNode("n3");
    EXPECT_TRUE(WaitUntil([&] { return n2.Candidate() && n3.Candidate(); }, kDeadline));
    return epoch;
  }
  // The former owner's view of itself and the ensemble's agree: it owns
  // nothing, is a candidate behind `owner`, and `owner` kept `epoch`.
  void ExpectRejoinedBehind(const NodeProcess& former, const std::string& owner, int64_t epoch) {
    cluster::PipelineOwners p;
    EXPECT_TRUE(WaitUntil(
        [&] {
          p = Owners();
          return std::find(p.candidates.begin(), p.candidates.end(), former.id()) != p.candidates.end();
        },
        kDeadline))
        << former.id() << " is no candidate in the ensemble";
    EXPECT_EQ(p.owner, owner);
    EXPECT_EQ(p.epoch, epoch) << "the former owner's return moved the pipeline";
    EXPECT_TRUE(WaitUntil([&] { return former.Candidacy() == "candidate"; }, kDeadline)) << former.Node().dump();
    EXPECT_TRUE(former.Node()["pipelines"].empty()) << former.Node().dump();
  }
};

// SIGSTOP of the owner past the session timeout, with a partition's
// transaction held open before its commit; another node takes over; SIGCONT.
// The woken owner's commit fails (the successor ended its session) and its
// retry is refused by the fence; only then does it hear that its ownership
// is lost (held at a sync point, so that its pipeline gets to try), and it
// rejoins as a candidate.
TEST_F(NodeFailoverTest, APausedOwnerIsRefusedByTheTargetAndRejoins) {
  ASSERT_NO_FATAL_FAILURE(Publish(ClusterYaml()));
  const std::string commit_go = (dir_ / "commit-go").string();
  const std::string lost_go = (dir_ / "lost-go").string();
  NodeProcess& n1 = AddNode("n1", {}, "",
                            fmt::format("mysql.partition.before_commit=wait@30:{},node.ownership.lost=wait:{}",
                                        commit_go, lost_go));
  const int64_t epoch = OwnsWithTwoCandidatesBehind(n1);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(WaitUntil([&] { return Logged(n1, "sync point mysql.partition.before_commit: waiting for"); },
                        kDeadline))
      << n1.Log();

  auto paused_at = Clock::now();
  n1.Pause();
  const std::string second = WaitForTakeover("SIGSTOP of n1", "n1", epoch, paused_at);
  ASSERT_FALSE(second.empty());
  const int64_t second_epoch = Owner().second;
  EXPECT_TRUE(Logged(*Find(second), "ended session")) << "the successor ended none of n1's sessions";

  // Woken up, n1 goes on from where it stood: the commit first.
  std::ofstream(commit_go).close();
  n1.Resume();
  ASSERT_TRUE(WaitUntil([&] { return Logged(n1, "is fenced off"); }, kDeadline)) << n1.Log();
  EXPECT_FALSE(Logged(n1, "ownership lost")) << "the sync point did not hold the news back";
  std::ofstream(lost_go).close();
  ASSERT_TRUE(WaitUntil([&] { return n1.Candidacy() == "candidate" && !n1.Owns("p"); }, kDeadline)) << n1.Node().dump();
  ExpectRejoinedBehind(n1, second, second_epoch);
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
}

// A node cut from ZooKeeper only (a frozen forwarder between it and the
// ensemble; its MySQL links stay up): it goes in doubt, a successor applies
// within session_timeout_ms + 2 s, the cut node's next write is refused by
// the fence and it stops, still cut off. Reconnected, it hears that its
// session expired and rejoins as a candidate; nothing moves back.
TEST_F(NodeFailoverTest, ANodeCutFromZookeeperStopsAndRejoins) {
  ASSERT_NO_FATAL_FAILURE(Publish(ClusterYaml()));
  auto forwarder = TcpForwarder::Start(ensemble_->client_ports());
  ASSERT_TRUE(forwarder.ok()) << forwarder.status().message();
  NodeProcess& n1 = AddNode("n1", {}, (*forwarder)->ConnectString());
  const int64_t epoch = OwnsWithTwoCandidatesBehind(n1);
  ASSERT_FALSE(HasFailure());

  auto cut_at = Clock::now();
  (*forwarder)->Freeze();
  ASSERT_TRUE(WaitUntil([&] { return n1.Node().value("session", "") == "suspended"; }, kDeadline))
      << n1.Node().dump();
  double took = 0;
  const std::string second = WaitForTakeover("n1 cut from ZooKeeper", "n1", epoch, cut_at, &took);
  ASSERT_FALSE(second.empty());
  EXPECT_LE(took, kSessionTimeoutMs / 1000.0 + 2.0) << "takeover slower than session_timeout_ms + 2 s";
  const int64_t second_epoch = Owner().second;

  ASSERT_TRUE(WaitUntil([&] { return !n1.Owns("p"); }, kDeadline)) << n1.Log();
  EXPECT_TRUE(Logged(n1, "ownership in doubt")) << n1.Log();
  EXPECT_TRUE(Logged(n1, "fenced by a newer owner")) << n1.Log();
  EXPECT_EQ(n1.Node().value("session", ""), "suspended") << "it stopped before it could hear of the expiry";

  (*forwarder)->Thaw();
  ASSERT_TRUE(WaitUntil(
      [&] {
        nlohmann::json n = n1.Node();
        return n.value("session", "") == "connected" && n1.Candidacy() == "candidate";
      },
      kDeadline))
      << n1.Node().dump();
  ExpectRejoinedBehind(n1, second, second_epoch);
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
}

// Every manager killed (kill -9) while the nodes run: the pipeline keeps
// applying, an owner killed then fails over, and the node restarted runs the
// last revision the managers published.
TEST_F(NodeFailoverTest, NodesRunOnWithEveryManagerKilled) {
  const std::string config = (dir_ / "cluster.yaml").string();
  std::ofstream(config) << ClusterYaml();
  ManagerPair managers(dir_.string(), config);
  Status leading = managers.Start(kDeadline);
  ASSERT_TRUE(leading.ok()) << leading.message();
  ManagerProcess& leader = managers.leader();
  AddNode("n1");
  AddNode("n2");
  StartLoad();
  ASSERT_FALSE(WaitForFirstOwner().empty());

  // Revision 2 (through the API): a changed batch size.
  std::string changed = ClusterYaml();
  changed.replace(changed.find("size: 200"), 9, "size: 100");
  ManagerReply r = ManagerHttp(leader.port(), "PUT", "/api/config", changed, "application/yaml");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.Json().value("revision", 0), 2) << r.body;
  for (auto& node : nodes_) {
    ASSERT_TRUE(WaitUntil([&] { return node->Node().value("revision", 0) == 2; }, kDeadline)) << node->Log();
  }

  managers.m1().Kill(SIGKILL);
  managers.m2().Kill(SIGKILL);
  const int64_t before = AuditRows();
  EXPECT_TRUE(WaitUntil([&] { return AuditRows() > before + 50; }, kDeadline)) << "stopped applying";

  auto [owner, epoch] = Owner();
  ASSERT_FALSE(owner.empty());
  auto killed_at = Clock::now();
  Find(owner)->Kill();
  ASSERT_FALSE(WaitForTakeover("kill -9 of " + owner + " with no manager", owner, epoch, killed_at).empty());
  NodeProcess& restarted = *Find(owner);
  restarted.Start();
  ASSERT_TRUE(WaitUntil([&] { return restarted.Candidacy() == "candidate"; }, kDeadline)) << restarted.Log();
  nlohmann::json n = restarted.Node();
  EXPECT_EQ(n.value("revision", 0), 2) << n.dump();
  EXPECT_TRUE(Logged(restarted, "configuration revision 2 applied")) << restarted.Log();
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
}

}  // namespace
}  // namespace sluice::testing
