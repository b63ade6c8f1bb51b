// `sluice node` processes against a real 3-server ZooKeeper ensemble and real
// MariaDB source and target (design §10): failover after kill -9, the
// SIGTERM handover, a move, labels, a drain, a rolling restart, and a
// ZooKeeper leader kill and lost quorum. The test publishes the configuration
// itself (an observer Coordinator, as the manager does).
// Each ends with the sequence check (node_fixture.h): 0 lost, 0 duplicated.
// Takeover times are logged, not asserted (a loaded machine).

#include "client/mysql/connection.h"
#include "cluster/node_fixture.h"
#include "store/sqlite_store.h"

namespace sluice::testing {
namespace {

class NodeTest : public NodeFixture {
 protected:
  // `snapshot: initial` over 40 transactions; n1's first copy held at the
  // sync point `hold`, then n1 killed under load: n2 takes over, and every
  // transaction lands once.
  void KillTheOwnerHeldInItsFirstCopy(const std::string& hold, const std::string& what) {
    std::string yaml = ClusterYaml();
    yaml.replace(yaml.find("    parallel: 2\n"), 16, "    parallel: 2\n    snapshot: initial\n");
    ASSERT_TRUE(Transactions(*src_, 1, 40).ok());
    written_ = 40;
    ASSERT_NO_FATAL_FAILURE(Publish(yaml));
    NodeProcess& first = AddNode("n1", {}, "", hold + "=wait:" + (dir_ / "never").string());
    ASSERT_TRUE(WaitUntil([&] { return first.Log().find("waiting for") != std::string::npos; }, kDeadline))
        << first.Log();
    int64_t epoch = Owner().second;
    AddNode("n2");
    StartLoad();
    auto killed_at = Clock::now();
    first.Kill();
    ASSERT_FALSE(WaitForTakeover(what, "n1", epoch, killed_at).empty());
    ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
  }
};

// kill -9 of the owner, then SIGTERM of the next one, then a move: each
// time another node applies from the checkpoint, nothing lost or doubled.
TEST_F(NodeTest, KillTermAndMoveHandOver) {
  ASSERT_NO_FATAL_FAILURE(Publish(ClusterYaml()));
  for (const char* id : {"n1", "n2", "n3"}) AddNode(id);
  StartLoad();
  std::string first = WaitForFirstOwner();
  ASSERT_FALSE(first.empty());
  int64_t epoch = Owner().second;

  auto killed_at = Clock::now();
  Find(first)->Kill();
  std::string second = WaitForTakeover("kill -9 of " + first, first, epoch, killed_at);
  ASSERT_FALSE(second.empty());
  epoch = Owner().second;
  // The killed node comes back (its old session expired by now or soon).
  Find(first)->Start();

  auto termed_at = Clock::now();
  EXPECT_EQ(Find(second)->Terminate(), 0) << Find(second)->Log();
  std::string third = WaitForTakeover("SIGTERM of " + second, second, epoch, termed_at);
  ASSERT_FALSE(third.empty());
  EXPECT_NE(Find(second)->Log().find("stopped"), std::string::npos);
  epoch = Owner().second;
  Find(second)->Start();

  // Move it to a node that does not own it.
  std::string target = third == "n1" ? "n2" : "n1";
  ASSERT_TRUE(WaitUntil([&] { return Find(target)->Candidate(); }, kDeadline)) << Find(target)->Node().dump();
  auto moved_at = Clock::now();
  auto done = std::make_shared<std::promise<Status>>();
  auto result = done->get_future();
  observer_->RequestMove("p", target, [done](Status st) { done->set_value(st); });
  ASSERT_EQ(result.wait_for(kDeadline), std::future_status::ready);
  Status moved = result.get();
  ASSERT_TRUE(moved.ok()) << moved.message();
  std::string fourth = WaitForTakeover("move to " + target, third, epoch, moved_at);
  EXPECT_EQ(fourth, target);
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
}

// A pipeline needing a label runs only on nodes with it; a drain hands it
// to the other one, and the drained node takes nothing.
TEST_F(NodeTest, LabelsAndDrain) {
  ASSERT_NO_FATAL_FAILURE(Publish(ClusterYaml("heavy")));
  NodeProcess& light = AddNode("light");
  AddNode("h1", {"heavy"});
  AddNode("h2", {"heavy"});
  StartLoad();
  std::string first = WaitForFirstOwner();
  ASSERT_TRUE(first == "h1" || first == "h2") << first;
  int64_t epoch = Owner().second;
  nlohmann::json n = light.Node();
  ASSERT_TRUE(n.is_object());
  EXPECT_TRUE(n["candidacies"].empty()) << n.dump();
  EXPECT_TRUE(n["pipelines"].empty()) << n.dump();

  auto drained_at = Clock::now();
  HttpReply r = HttpPost(Find(first)->port(), "/api/node/drain");
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  std::string second = WaitForTakeover("drain of " + first, first, epoch, drained_at);
  EXPECT_EQ(second, first == "h1" ? "h2" : "h1");
  nlohmann::json drained = Find(first)->Node();
  EXPECT_EQ(drained.value("state", ""), "draining") << drained.dump();
  EXPECT_TRUE(drained["pipelines"].empty()) << drained.dump();
  // The node's own API: its pipeline with owner and epoch.
  HttpReply status = HttpGet(Find(second)->port(), "/api/pipelines/p/status");
  ASSERT_EQ(status.status, 200) << status.body;
  nlohmann::json j = nlohmann::json::parse(status.body, nullptr, false);
  EXPECT_EQ(j.value("owner", ""), second) << status.body;
  EXPECT_GT(j.value("epoch", int64_t{0}), epoch) << status.body;
  EXPECT_EQ(HttpGet(light.port(), "/api/pipelines/p/status").status, 404);
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
  EXPECT_EQ(light.Log().find("pipeline p: started"), std::string::npos) << light.Log();
}

// Published revisions: one that does not parse changes nothing (the nodes
// say why, with file:line); a changed pipeline restarts on its owner; a
// removed one stops everywhere and is released; added back, it resumes from
// the checkpoint.
TEST_F(NodeTest, RevisionsApplyOrKeepRunning) {
  ASSERT_NO_FATAL_FAILURE(Publish(ClusterYaml()));
  for (const char* id : {"n1", "n2"}) AddNode(id);
  StartLoad();
  std::string owner = WaitForFirstOwner();
  ASSERT_FALSE(owner.empty());
  NodeProcess& owning = *Find(owner);

  std::string broken = ClusterYaml();
  broken.replace(broken.find("parallel: 2"), 11, "paralel: 2");
  ASSERT_NO_FATAL_FAILURE(Publish(broken));
  nlohmann::json n;
  ASSERT_TRUE(WaitUntil([&] { return (n = owning.Node()).value("config_error", nlohmann::json()).is_string(); },
                        kDeadline))
      << n.dump();
  EXPECT_NE(n["config_error"].get<std::string>().find("cluster-r2.yaml:"), std::string::npos) << n.dump();
  EXPECT_EQ(n.value("revision", 0), 1) << n.dump();
  const int64_t before = AuditRows();
  EXPECT_TRUE(WaitUntil([&] { return AuditRows() > before; }, kDeadline)) << "stopped applying";
  EXPECT_TRUE(owning.Owns("p"));

  std::string changed = ClusterYaml();
  changed.replace(changed.find("size: 200"), 9, "size: 100");
  ASSERT_NO_FATAL_FAILURE(Publish(changed));
  ASSERT_TRUE(WaitUntil([&] { return owning.Node().value("revision", 0) == 3; }, kDeadline));
  EXPECT_NE(owning.Log().find("configuration revision 3 changed it"), std::string::npos) << owning.Log();
  const int64_t restarted = AuditRows();
  EXPECT_TRUE(WaitUntil([&] { return AuditRows() > restarted && owning.Owns("p"); }, kDeadline));

  // A configuration needs a pipeline: the one left needs a label no node has.
  std::string without = ClusterYaml("nowhere");
  without.replace(without.find("- name: p"), 9, "- name: q");
  ASSERT_NO_FATAL_FAILURE(Publish(without));
  for (auto& node : nodes_) {
    ASSERT_TRUE(WaitUntil(
        [&] {
          nlohmann::json j = node->Node();
          return j.value("revision", 0) == 4 && j["pipelines"].empty() && j["candidacies"].empty();
        },
        kDeadline))
        << node->Node().dump();
  }
  EXPECT_TRUE(WaitUntil([&] { return Owner().first.empty(); }, kDeadline)) << Owner().first;

  ASSERT_NO_FATAL_FAILURE(Publish(ClusterYaml()));
  ASSERT_FALSE(WaitForTakeover("added back", "", 0, Clock::now()).empty());
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
}

// A target added by a new revision (`snapshot: initial`) is copied while
// the other target streams on under load; the owner then starts the
// pipeline again by itself and the new target joins the stream: both end
// with every transaction exactly once.
TEST_F(NodeTest, ATargetAddedByARevisionIsCopiedWhileTheOtherStreams) {
  std::string one = ClusterYaml();
  one.replace(one.find("    parallel: 2\n"), 16, "    parallel: 2\n    snapshot: initial\n");
  ASSERT_NO_FATAL_FAILURE(Publish(one));
  NodeProcess& node = AddNode("n1");
  StartLoad();
  ASSERT_FALSE(WaitForFirstOwner().empty());
  auto added = StartServer(3);
  ASSERT_TRUE(added);
  std::string two = one;
  two.replace(two.find("  dst: {url"), 0, fmt::format("  added: {{url: \"{}\"}}\n", added->Url()));
  two.replace(two.find("targets: [dst]"), 14, "targets: [dst, added]");
  ASSERT_NO_FATAL_FAILURE(Publish(two));
  const std::string joined = "they join the stream where their copy began: starting it again";
  EXPECT_TRUE(WaitUntil([&] { return node.Log().find(joined) != std::string::npos; }, kDeadline)) << node.Log();
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
  EXPECT_TRUE(Converges(*src_, kOrders, *added, kOrders, kDeadline));
  EXPECT_TRUE(Converges(*src_, kAudit, *added, kAudit, kDeadline));
}

// A second target down when the owner is killed (detach_after: 2s): the
// new owner has never run the pipeline, so its own store knows nothing of
// that target, but the pipeline's recorded targets in ZooKeeper say it ran.
// It is set aside and dst goes on; back up, it catches up on its own.
// Before, the new owner waited for it with every target.
TEST_F(NodeTest, ATargetDownAtATakeoverDoesNotHoldTheNewOwner) {
  auto other = StartServer(3);
  ASSERT_TRUE(other);
  std::string yaml = ClusterYaml();
  yaml.replace(yaml.find("  dst: {url"), 0,
               fmt::format("  other: {{url: \"{}?read_timeout=3&write_timeout=3&connect_timeout=2\"}}\n",
                           other->Url()));
  yaml.replace(yaml.find("targets: [dst]"), 14, "targets: [dst, other]");
  yaml.replace(yaml.find("    parallel: 2\n"), 16, "    parallel: 2\n    detach_after: 2s\n");
  ASSERT_NO_FATAL_FAILURE(Publish(yaml));
  NodeProcess& first = AddNode("n1");
  StartLoad();
  ASSERT_FALSE(WaitForFirstOwner().empty());
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto n = other->QueryValue("SELECT COUNT(*) FROM shop.audit");
        return n.ok() && *n != "0";
      },
      kDeadline))
      << first.Log();
  int64_t epoch = Owner().second;
  AddNode("n2");
  ASSERT_TRUE(WaitUntil([&] { return Find("n2")->Candidate(); }, kDeadline)) << Find("n2")->Log();
  ASSERT_TRUE(other->Crash().ok());
  auto killed_at = Clock::now();
  first.Kill();
  ASSERT_FALSE(WaitForTakeover("kill -9 of n1 with a target down", "n1", epoch, killed_at).empty());
  EXPECT_TRUE(WaitUntil([&] { return Find("n2")->Log().find("set aside so that") != std::string::npos; },
                        kDeadline))
      << Find("n2")->Log();
  ASSERT_TRUE(other->Restart().ok());
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
  EXPECT_TRUE(Converges(*src_, kAudit, *other, kAudit, kDeadline));
  auto dup = other->QueryValue("SELECT COUNT(*) FROM (SELECT txn FROM shop.audit GROUP BY txn HAVING COUNT(*) > 1) d");
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(*dup, "0") << "transactions applied twice on the target that was down";
}

// kill -9 of the owner in the middle of the first copy (held once its
// chunks committed, before the copy finished): the next owner raises the
// fence, resumes the copy's plan and streams; every transaction, written
// before or during, exactly once.
TEST_F(NodeTest, AnOwnerKilledDuringTheFirstCopyIsTakenOverAndTheCopyResumes) {
  KillTheOwnerHeldInItsFirstCopy("snapshot.chunk.committed", "kill -9 of n1 during the first copy");
}

// The same kill before the keyless audit table's copy committed (its chunk
// goes first and is held at its write): the next owner copies it again,
// later than the first owner's start, and its stream leaves out the audit
// rows that copy holds (before: 100 of 142 rows twice).
TEST_F(NodeTest, AnOwnerKilledBeforeAKeylessTableWasCopiedIsTakenOverWithEachRowOnce) {
  KillTheOwnerHeldInItsFirstCopy("mysql.chunk.write", "kill -9 of n1 before the keyless copy");
}

// The source without column metadata in its binlog (binlog_row_metadata
// MINIMAL, MariaDB's default): rows are decoded with the table's shape from
// the pipeline's schema history. The owner captured rows, then the tables
// were altered while those rows could not be applied yet (the target held
// by a global read lock), and the owner was killed: the next owner replays
// them from the checkpoint and must decode them with the shape they were
// written in, which only the first owner had read. The history is the
// pipeline's, shared through ZooKeeper; kept on the node, the takeover
// stopped ("the binlog row has 3 columns but information_schema shows 4").
TEST_F(NodeTest, AnAlterBetweenTheCheckpointAndATakeoverIsDecodedWithTheOldShape) {
  ASSERT_TRUE(src_->Execute("SET GLOBAL binlog_row_metadata = 'MINIMAL'").ok());
  // Transactions as the fixture's, with column lists (the ALTER adds one).
  auto write = [&](int first, int n) {
    for (int t = first; t < first + n; ++t) {
      Status st = src_->Execute(fmt::format("BEGIN; INSERT INTO shop.orders (id, amount, note) VALUES ({0}, {0}, "
                                            "'order {0}'); UPDATE shop.orders SET amount = amount + 1 WHERE id = "
                                            "{1}; INSERT INTO shop.audit (txn, msg) VALUES ({0}, 'txn {0}'); COMMIT",
                                            t, t / 2));
      if (!st.ok()) return st;
    }
    written_ = first + n - 1;
    return Status::Ok();
  };
  ASSERT_NO_FATAL_FAILURE(Publish(ClusterYaml()));
  NodeProcess& first = AddNode("n1");
  ASSERT_TRUE(write(1, 10).ok());
  ASSERT_FALSE(WaitForFirstOwner().empty());
  ASSERT_TRUE(WaitUntil([&] { return AuditRows() == 10; }, kDeadline)) << first.Log();
  int64_t epoch = Owner().second;

  auto co = sluice::mysql::ConnectOptions::FromUrl(*Url::Parse(dst_->Url()));
  ASSERT_TRUE(co.ok());
  auto hold = sluice::mysql::MysqlConnection::Connect(*co);
  ASSERT_TRUE(hold.ok()) << hold.status().message();
  ASSERT_TRUE((*hold)->Execute("FLUSH TABLES WITH READ LOCK").ok());
  ASSERT_TRUE(write(11, 10).ok());
  ASSERT_TRUE(src_->Execute("ALTER TABLE shop.orders ADD COLUMN region VARCHAR(8) NOT NULL DEFAULT 'eu' AFTER id; "
                            "ALTER TABLE shop.audit ADD COLUMN at_ms BIGINT NULL")
                  .ok());
  ASSERT_TRUE(write(21, 10).ok());
  AddNode("n2");
  auto killed_at = Clock::now();
  first.Kill();
  hold->reset();  // the target takes writes again
  ASSERT_FALSE(
      WaitForTakeover("kill -9 of n1 with an ALTER not applied", "n1", epoch, killed_at, nullptr, 10).empty());
  const char* orders = "SELECT id, region, amount, note FROM shop.orders ORDER BY id";
  EXPECT_TRUE(Converges(*src_, orders, *dst_, orders, kDeadline));
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
}

// POST .../position on the owner (stopped first) records the new start in
// the pipeline's settings in ZooKeeper: the owner killed before it starts
// again, the next owner starts there (transactions 11-15, before the
// position, are left out on purpose; before, a node refused to move it).
TEST_F(NodeTest, APositionSetOnTheOwnerIsWhereTheNextOwnerStarts) {
  ASSERT_NO_FATAL_FAILURE(Publish(ClusterYaml()));
  NodeProcess& first = AddNode("n1");
  ASSERT_TRUE(Transactions(*src_, 1, 10).ok());
  ASSERT_FALSE(WaitForFirstOwner().empty());
  ASSERT_TRUE(WaitUntil([&] { return AuditRows() == 10; }, kDeadline)) << first.Log();
  int64_t epoch = Owner().second;
  HttpReply stop = HttpPost(first.port(), "/api/pipelines/p/stop");
  ASSERT_EQ(stop.status, 200) << stop.body << stop.error;
  ASSERT_TRUE(Transactions(*src_, 11, 5).ok());
  const std::string from = BinlogEnd(*src_);
  HttpReply moved = HttpPost(first.port(), "/api/pipelines/p/position", "{\"position\": \"" + from + "\"}");
  ASSERT_EQ(moved.status, 200) << moved.body << moved.error;
  AddNode("n2");
  ASSERT_TRUE(WaitUntil([&] { return Find("n2")->Candidate(); }, kDeadline)) << Find("n2")->Log();
  auto killed_at = Clock::now();
  first.Kill();
  ASSERT_TRUE(Transactions(*src_, 16, 5).ok());
  ASSERT_FALSE(WaitForTakeover("kill -9 of n1 after a new position", "n1", epoch, killed_at, nullptr, 10).empty());
  const char* txns = "SELECT GROUP_CONCAT(txn ORDER BY txn) FROM shop.audit";
  std::string got;
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto v = dst_->QueryValue(txns);
        got = v.ok() ? *v : v.status().message();
        return got == "1,2,3,4,5,6,7,8,9,10,16,17,18,19,20";
      },
      kDeadline))
      << got << "\n" << Find("n2")->Log();
}

// A cluster upgraded from settings kept in each node's store: the first
// owner carries its schema history and table selection into ZooKeeper, but
// not a start position set long ago (an intent, stale by now).
TEST_F(NodeTest, ANodesOwnRecordedSettingsAreCarriedIntoZookeeperOnce) {
  const std::string legacy = "schema_history/[\"shop\",\"legacy\"]";
  {
    std::filesystem::create_directories(dir_ / "n1");
    auto store = store::SqliteStore::Open((dir_ / "n1" / "n1.db").string());
    ASSERT_TRUE(store.ok()) << store.status().message();
    ASSERT_TRUE((*store)->SetSetting("p", "selection", "recorded by an older sluice").ok());
    ASSERT_TRUE((*store)->SetSetting("p", legacy, "{}").ok());
    ASSERT_TRUE((*store)->SetSetting("p", "start", "binlog.000001:4").ok());
  }
  ASSERT_NO_FATAL_FAILURE(Publish(ClusterYaml()));
  NodeProcess& first = AddNode("n1");
  StartLoad();
  ASSERT_FALSE(WaitForFirstOwner().empty());
  auto done = std::make_shared<std::promise<Result<cluster::Coordinator::Settings>>>();
  auto answer = done->get_future();
  observer_->LoadSettings("p", [done](Result<cluster::Coordinator::Settings> s) { done->set_value(std::move(s)); });
  ASSERT_EQ(answer.wait_for(kDeadline), std::future_status::ready);
  auto settings = answer.get();
  ASSERT_TRUE(settings.ok()) << settings.status().message();
  std::map<std::string, std::string> keys(settings->begin(), settings->end());
  EXPECT_TRUE(keys.contains(legacy)) << first.Log();
  EXPECT_TRUE(keys.contains("selection"));
  EXPECT_FALSE(keys.contains("start"));
  EXPECT_NE(first.Log().find("carried into zookeeper"), std::string::npos) << first.Log();
  EXPECT_EQ(first.Log().find("set through the API"), std::string::npos) << first.Log();
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
}

// Every node restarted in turn (SIGTERM, start) under load.
TEST_F(NodeTest, RollingRestart) {
  ASSERT_NO_FATAL_FAILURE(Publish(ClusterYaml()));
  for (const char* id : {"n1", "n2", "n3"}) AddNode(id);
  StartLoad();
  ASSERT_FALSE(WaitForFirstOwner().empty());
  for (auto& node : nodes_) {
    auto [owner, epoch] = Owner();
    auto at = Clock::now();
    EXPECT_EQ(node->Terminate(), 0) << node->Log();
    if (owner == node->id()) {
      ASSERT_FALSE(WaitForTakeover("restart of " + owner, owner, epoch, at).empty());
    }
    node->Start();
    // A candidate again before the next node goes.
    ASSERT_TRUE(WaitUntil([&] { return node->Candidate(); }, kDeadline)) << node->Log();
  }
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
}

// A ZooKeeper leader change and a lost quorum move nothing: the owner keeps
// its epoch, and the MySQL target (fenced inside its transactions) keeps
// applying while the quorum is gone.
TEST_F(NodeTest, ZookeeperLeaderAndQuorumLossMoveNothing) {
  ASSERT_NO_FATAL_FAILURE(Publish(ClusterYaml()));
  for (const char* id : {"n1", "n2"}) AddNode(id);
  StartLoad();
  std::string owner = WaitForFirstOwner();
  ASSERT_FALSE(owner.empty());
  const int64_t epoch = Owner().second;

  auto leader = ensemble_->Leader();
  ASSERT_TRUE(leader.ok()) << leader.status().message();
  ASSERT_TRUE(ensemble_->Kill(*leader).ok());
  ASSERT_TRUE(ensemble_->WaitServing().ok());
  std::pair<std::string, int64_t> now;
  ASSERT_TRUE(WaitUntil([&] { return !(now = Owner()).first.empty(); }, kDeadline));
  EXPECT_EQ(now, std::make_pair(owner, epoch)) << "the leader change moved the pipeline";

  // Quorum lost: one of three servers left.
  int other = -1;
  for (int i = 0; i < ensemble_->size(); ++i) {
    if (i != *leader && ensemble_->running(i)) other = i;
  }
  ASSERT_GE(other, 0);
  ASSERT_TRUE(ensemble_->Kill(other).ok());
  // In doubt once the client notices (2/3 of the session timeout): the
  // MySQL target checks the epoch inside its transactions, so it goes on
  // applying without a quorum (only targets that cannot check pause).
  NodeProcess& owning = *Find(owner);
  ASSERT_TRUE(WaitUntil([&] { return owning.Node().value("session", "") == "suspended"; }, kDeadline))
      << owning.Node().dump();
  const int64_t before = AuditRows();
  std::string target_state;
  bool applying = WaitUntil(
      [&] {
        HttpReply r = HttpGet(owning.port(), "/api/pipelines/p/status");
        nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
        if (j.is_object() && !j["targets"].empty()) target_state = j["targets"][0].value("state", "");
        return AuditRows() > before + 50;
      },
      kDeadline);
  EXPECT_TRUE(applying) << "the fenced target stopped applying without a quorum (target state " << target_state
                        << ")";
  EXPECT_NE(target_state, "paused") << "a fenced target must not pause while in doubt";
  EXPECT_EQ(owning.Node().value("session", ""), "suspended") << "the quorum came back by itself?";
  std::fprintf(stderr, "[ quorum   ] the fenced target applied %lld transactions without a quorum\n",
               static_cast<long long>(AuditRows() - before));
  EXPECT_TRUE(owning.Owns("p"));
  ASSERT_TRUE(ensemble_->StartServer(other).ok());
  ASSERT_TRUE(ensemble_->StartServer(*leader).ok());
  ASSERT_TRUE(WaitUntil([&] { return !(now = Owner()).first.empty(); }, kDeadline));
  EXPECT_EQ(now, std::make_pair(owner, epoch)) << "the lost quorum moved the pipeline";
  for (auto& n : nodes_) {
    if (n->id() != owner) {
      EXPECT_EQ(n->Log().find("pipeline p: started"), std::string::npos) << n->Log();
    }
  }
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
}

}  // namespace
}  // namespace sluice::testing
