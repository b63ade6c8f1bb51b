// `sluice node` processes against a real 3-server ZooKeeper ensemble and real
// MariaDB source and target (design §10): failover after kill -9, the
// SIGTERM handover, a move, labels, a drain, a rolling restart, and a
// ZooKeeper leader kill and lost quorum. The test publishes the configuration
// itself (an observer Coordinator, as the manager does).
//
// Every test writes a steady load of source transactions, each with a unique
// increasing number and one row in the keyless table shop.audit (a change
// applied twice is a second row there, not an upsert), and ends with the
// target equal to the source, every number present once: 0 lost, 0
// duplicated. Takeover times are logged, not asserted (a loaded machine).

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <future>

#include "cluster/coordinator.h"
#include "harness/zookeeper_server.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr seconds kDeadline{90};  // generous: the machine is loaded
constexpr int kSessionTimeoutMs = 2000;

// One `sluice node` process with its node.yaml, store and log in `dir`.
class NodeProcess {
 public:
  NodeProcess(std::filesystem::path dir, std::string id, std::vector<std::string> labels, std::string cluster,
              std::string zookeeper)
      : dir_(std::move(dir)), id_(std::move(id)), port_(FreePort()) {
    std::filesystem::create_directories(dir_);
    std::string label_list;
    for (const auto& l : labels) label_list += (label_list.empty() ? "" : ", ") + l;
    // An empty list is refused: a node without labels names none.
    std::string node = label_list.empty() ? fmt::format("{{id: {}}}", id_)
                                          : fmt::format("{{id: {}, labels: [{}]}}", id_, label_list);
    config_ = (dir_ / "node.yaml").string();
    std::ofstream(config_) << fmt::format(
        "cluster: {{name: {}, zookeeper: \"{}\", session_timeout_ms: {}}}\nnode: {}\nhttp: 127.0.0.1:{}\n", cluster,
        zookeeper, kSessionTimeoutMs, node, port_);
    log_ = (dir_ / "node.log").string();
  }
  ~NodeProcess() { Kill(); }

  void Start() {
    auto pid = SpawnProcess({SLUICE_BINARY, "node", "-c", config_}, log_);
    ASSERT_TRUE(pid.ok()) << pid.status().message();
    pid_ = *pid;
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    (void)WaitForExit(pid_, seconds(10));
    pid_ = -1;
  }
  // SIGTERM; the wait status (-1 when it had to be killed).
  int Terminate() {
    if (pid_ <= 0) return -1;
    bool killed = false;
    auto st = StopProcess(pid_, SIGTERM, seconds(30), &killed);
    pid_ = -1;
    return st.ok() && !killed ? *st : -1;
  }
  // GET /api/node; null while it does not answer.
  nlohmann::json Node() const {
    HttpReply r = HttpGet(port_, "/api/node");
    if (r.status != 200) return nullptr;
    return nlohmann::json::parse(r.body, nullptr, false);
  }
  bool Owns(const std::string& pipeline) const {
    nlohmann::json n = Node();
    if (!n.is_object()) return false;
    for (const auto& p : n["pipelines"]) {
      if (p == pipeline) return true;
    }
    return false;
  }
  // In the election for "p" (a move may name it).
  bool Candidate() const {
    nlohmann::json n = Node();
    if (!n.is_object()) return false;
    for (const auto& c : n["candidacies"]) {
      if (c.value("pipeline", "") == "p" && c.value("state", "") != "none") return true;
    }
    return false;
  }
  const std::string& id() const { return id_; }
  uint16_t port() const { return port_; }
  std::string Log() const { return TailOfFile(log_, 0, 1 << 24); }

 private:
  std::filesystem::path dir_;
  std::string id_;
  uint16_t port_;
  std::string config_, log_;
  pid_t pid_ = -1;
};

class NodeTest : public SyncTest {
 protected:
  static void TearDownTestSuite() { ensemble_.reset(); }

  void SetUp() override {
    SyncTest::SetUp();
    if (!ensemble_) {
      auto zk = ZookeeperEnsemble::Start({3});
      ASSERT_TRUE(zk.ok()) << zk.status().message();
      ensemble_ = std::move(*zk);
    }
    cluster_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute(kSchema).ok());
    cluster::CoordinatorOptions o;
    o.zookeeper = ensemble_->ConnectString();
    o.cluster = cluster_;
    o.session_timeout = milliseconds(kSessionTimeoutMs);
    auto c = cluster::Coordinator::Start(std::move(o));  // an observer: no node id
    ASSERT_TRUE(c.ok()) << c.status().message();
    observer_ = std::move(*c);
  }

  void TearDown() override {
    StopLoad();
    if (HasFailure()) {
      for (auto& n : nodes_) std::fprintf(stderr, "---- node %s log:\n%s\n", n->id().c_str(), n->Log().c_str());
    }
    nodes_.clear();
    observer_.reset();
    SyncTest::TearDown();
  }

  // The configuration every node runs: pipeline "p" from src to dst,
  // needing `labels` when given.
  std::string ClusterYaml(const std::string& labels = "") {
    std::string nodes = labels.empty() ? "" : fmt::format("    nodes: {{labels: [{}]}}\n", labels);
    return fmt::format(R"(cluster: {{name: {cluster}, zookeeper: "{zk}", session_timeout_ms: {timeout}}}
sources:
  src: {{url: "{src}", server_id: 4242, heartbeat_ms: 200}}
targets:
  dst: {{url: "{dst}"}}
pipelines:
  - name: p
    source: src
    targets: [dst]
    start: earliest
    tables:
      - match: "shop.*"
    batch: {{size: 200, timeout_ms: 50}}
    parallel: 2
{nodes})",
                       fmt::arg("cluster", cluster_), fmt::arg("zk", ensemble_->ConnectString()),
                       fmt::arg("timeout", kSessionTimeoutMs), fmt::arg("src", src_->Url()),
                       fmt::arg("dst", dst_->Url()), fmt::arg("nodes", nodes));
  }

  void Publish(const std::string& yaml) {
    auto done = std::make_shared<std::promise<Status>>();
    auto result = done->get_future();
    observer_->PublishConfig({++revision_, yaml}, [done](Status st) { done->set_value(st); });
    ASSERT_EQ(result.wait_for(kDeadline), std::future_status::ready);
    Status st = result.get();
    ASSERT_TRUE(st.ok()) << st.message();
  }

  NodeProcess& AddNode(const std::string& id, std::vector<std::string> labels = {}) {
    nodes_.push_back(std::make_unique<NodeProcess>(dir_ / id, id, std::move(labels), cluster_,
                                                   ensemble_->ConnectString()));
    nodes_.back()->Start();
    return *nodes_.back();
  }

  // The owner of "p" and its epoch as the ensemble has them ("" while none).
  std::pair<std::string, int64_t> Owner() {
    auto done = std::make_shared<std::promise<Result<cluster::ClusterView>>>();
    auto result = done->get_future();
    observer_->ReadCluster([done](Result<cluster::ClusterView> v) { done->set_value(std::move(v)); });
    if (result.wait_for(seconds(30)) != std::future_status::ready) return {"", 0};
    auto view = result.get();
    if (!view.ok()) return {"", 0};
    for (const auto& p : view->pipelines) {
      if (p.pipeline == "p") return {p.owner, p.epoch};
    }
    return {"", 0};
  }
  NodeProcess* Find(const std::string& id) {
    for (auto& n : nodes_) {
      if (n->id() == id) return n.get();
    }
    return nullptr;
  }
  // Waits until a node other than `not_id` owns "p" with an epoch above
  // `above`, says so on its own API, and the target receives rows again.
  // Returns that node ("" on timeout) and logs how long it took.
  std::string WaitForTakeover(const std::string& what, const std::string& not_id, int64_t above,
                              Clock::time_point since) {
    std::string owner;
    int64_t epoch = 0;
    bool owned = WaitUntil(
        [&] {
          std::tie(owner, epoch) = Owner();
          if (owner.empty() || owner == not_id || epoch <= above) return false;
          NodeProcess* n = Find(owner);
          return n != nullptr && n->Owns("p");
        },
        kDeadline);
    if (!owned) {
      ADD_FAILURE() << what << ": no other node owns p (last owner \"" << owner << "\", epoch " << epoch << ")";
      return "";
    }
    const int64_t applied = AuditRows();
    bool applying = WaitUntil([&] { return AuditRows() > applied; }, kDeadline);
    EXPECT_TRUE(applying) << what << ": the new owner " << owner << " applies nothing";
    double took = std::chrono::duration<double>(Clock::now() - since).count();
    std::fprintf(stderr, "[ takeover ] %s: node %s owns p (epoch %lld) and applies, %.2f s after it began\n",
                 what.c_str(), owner.c_str(), static_cast<long long>(epoch), took);
    return owner;
  }

  int64_t AuditRows() {
    auto n = dst_->QueryValue("SELECT COUNT(*) FROM shop.audit");
    return n.ok() && !n->empty() ? std::stoll(*n) : -1;
  }

  // A steady load: one transaction every ~20 ms, numbered 1, 2, 3, ...
  void StartLoad() {
    load_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        Status st = Transactions(*src_, written_ + 1, 1);
        if (!st.ok()) {
          load_error_ = st;
          return;
        }
        ++written_;
        std::this_thread::sleep_for(milliseconds(20));
      }
    });
  }
  void StopLoad() {
    if (!load_.joinable()) return;
    load_.request_stop();
    load_.join();
  }

  // Stops the load; the target converges to the source with every
  // transaction number present exactly once.
  void ExpectExactlyOnce() {
    StopLoad();
    ASSERT_TRUE(load_error_.ok()) << load_error_.message();
    ASSERT_GT(written_, 0);
    EXPECT_TRUE(Converges(*src_, kOrders, *dst_, kOrders, kDeadline));
    EXPECT_TRUE(Converges(*src_, kAudit, *dst_, kAudit, kDeadline));
    auto dup = dst_->QueryValue("SELECT COUNT(*) FROM (SELECT txn FROM shop.audit GROUP BY txn HAVING COUNT(*) > 1) d");
    auto distinct = dst_->QueryValue("SELECT COUNT(DISTINCT txn) FROM shop.audit");
    ASSERT_TRUE(dup.ok() && distinct.ok());
    EXPECT_EQ(*dup, "0") << "transactions applied twice";
    EXPECT_EQ(*distinct, std::to_string(written_)) << "transactions lost (written " << written_ << ")";
    std::fprintf(stderr, "[ sequence ] %d transactions: 0 lost, %s duplicated\n", written_.load(), dup->c_str());
  }

  // The first owner of "p", once it applies.
  std::string WaitForFirstOwner() { return WaitForTakeover("first start", "", 0, Clock::now()); }

  static inline std::unique_ptr<ZookeeperEnsemble> ensemble_;
  std::string cluster_;
  std::unique_ptr<MariadbServer> src_, dst_;
  std::unique_ptr<cluster::Coordinator> observer_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  int64_t revision_ = 0;
  std::jthread load_;
  std::atomic<int> written_{0};
  Status load_error_;
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
  // In doubt once the client notices (2/3 of the session timeout): a fenced
  // target goes on applying, one that cannot check the epoch pauses.
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
        return target_state == "paused" || AuditRows() > before + 50;
      },
      kDeadline);
  EXPECT_TRUE(applying) << "target state " << target_state;
  if (target_state == "paused") {
    // The MySQL sink does not check the epoch (yet): it must pause.
    std::fprintf(stderr, "[ quorum   ] the target paused while in doubt (its sink is not fenced)\n");
  } else {
    std::fprintf(stderr, "[ quorum   ] the fenced target applied %lld transactions without a quorum\n",
                 static_cast<long long>(AuditRows() - before));
  }
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
