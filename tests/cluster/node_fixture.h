#pragma once
// The fixture of the `sluice node` integration tests (node_itest.cc,
// node_failover_itest.cc): a real 3-server ZooKeeper ensemble shared by the
// tests of a suite, MariaDB source and target per test, `sluice node`
// processes (NodeProcess), an observer Coordinator that publishes the
// configuration and reads owners and epochs, a steady write load and the
// sequence check.
//
// Every test writes a steady load of source transactions, each with a unique
// increasing number and one row in the keyless table shop.audit (a change
// applied twice is a second row there, not an upsert), and ends with the
// target equal to the source, every number present once: 0 lost, 0
// duplicated (ExpectExactlyOnce).

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <future>

#include "cluster/coordinator.h"
#include "harness/zookeeper_server.h"
#include "pipeline/fault_fixture.h"

namespace sluice::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

inline constexpr seconds kDeadline{90};  // generous: the machine is loaded
inline constexpr int kSessionTimeoutMs = 2000;

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

  // More of node.yaml (auth:, http_tls:, ...), before Start.
  void AppendConfig(const std::string& text) { std::ofstream(config_, std::ios::app) << text; }
  const std::string& config_path() const { return config_; }
  // SLUICE_SYNC_POINTS for the next starts ("" for none).
  void SetSyncPoints(std::string sync_points) { sync_points_ = std::move(sync_points); }
  void Start() {
    if (!sync_points_.empty()) ::setenv("SLUICE_SYNC_POINTS", sync_points_.c_str(), 1);
    auto pid = SpawnProcess({SLUICE_BINARY, "node", "-c", config_}, log_);
    ::unsetenv("SLUICE_SYNC_POINTS");
    ASSERT_TRUE(pid.ok()) << pid.status().message();
    pid_ = *pid;
  }
  // SIGSTOP / SIGCONT: the whole process freezes (its ZooKeeper session
  // with it) and wakes up as it was.
  void Pause() { ::kill(pid_, SIGSTOP); }
  void Resume() { ::kill(pid_, SIGCONT); }
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
  // The node serves HTTPS (certificate signed by `ca_file`) and wants `token`.
  void UseTls(std::string ca_file, std::string token) {
    ca_file_ = std::move(ca_file);
    token_ = std::move(token);
  }
  // GET /api/node; null while it does not answer.
  nlohmann::json Node() const {
    HttpReply r;
    if (ca_file_.empty()) {
      r = HttpGet(port_, "/api/node");
    } else {
      httplib::SSLClient tls("127.0.0.1", port_);
      tls.set_ca_cert_path(ca_file_.c_str());
      tls.enable_server_certificate_verification(true);
      tls.set_bearer_token_auth(token_);
      tls.set_connection_timeout(2, 0);
      if (httplib::Result res = tls.Get("/api/node")) r = {res->status, res->body, ""};
    }
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
  // Its candidacy for "p" as GET /api/node says ("candidate", "owner", "in
  // doubt", ...; "" when it has none or does not answer).
  std::string Candidacy() const {
    nlohmann::json n = Node();
    if (!n.is_object()) return "";
    for (const auto& c : n["candidacies"]) {
      if (c.value("pipeline", "") == "p") return c.value("state", "");
    }
    return "";
  }
  // In the election for "p" (a move may name it).
  bool Candidate() const {
    std::string state = Candidacy();
    return !state.empty() && state != "none";
  }
  const std::string& id() const { return id_; }
  uint16_t port() const { return port_; }
  std::string Log() const { return TailOfFile(log_, 0, 1 << 24); }

 private:
  std::filesystem::path dir_;
  std::string id_;
  std::string ca_file_, token_;  // UseTls
  uint16_t port_;
  std::string config_, log_;
  std::string sync_points_;
  pid_t pid_ = -1;
};

class NodeFixture : public SyncTest {
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

  // A node started at once; `zookeeper` replaces the ensemble's address
  // (a forwarder in between), `sync_points` its SLUICE_SYNC_POINTS.
  // `node_yaml` is appended to its node.yaml.
  NodeProcess& AddNode(const std::string& id, std::vector<std::string> labels = {}, const std::string& zookeeper = "",
                       const std::string& sync_points = "", const std::string& node_yaml = "") {
    nodes_.push_back(std::make_unique<NodeProcess>(dir_ / id, id, std::move(labels), cluster_,
                                                   zookeeper.empty() ? ensemble_->ConnectString() : zookeeper));
    nodes_.back()->SetSyncPoints(sync_points);
    if (!node_yaml.empty()) nodes_.back()->AppendConfig(node_yaml);
    nodes_.back()->Start();
    return *nodes_.back();
  }

  // Pipeline "p" as the ensemble has it: owner ("" while none), epoch,
  // candidates in election order (all empty when it cannot be read).
  cluster::PipelineOwners Owners() {
    auto done = std::make_shared<std::promise<Result<cluster::ClusterView>>>();
    auto result = done->get_future();
    observer_->ReadCluster([done](Result<cluster::ClusterView> v) { done->set_value(std::move(v)); });
    if (result.wait_for(seconds(30)) != std::future_status::ready) return {};
    auto view = result.get();
    if (!view.ok()) return {};
    for (const auto& p : view->pipelines) {
      if (p.pipeline == "p") return p;
    }
    return {};
  }
  // The owner of "p" and its epoch as the ensemble has them ("" while none).
  std::pair<std::string, int64_t> Owner() {
    cluster::PipelineOwners p = Owners();
    return {p.owner, p.epoch};
  }
  NodeProcess* Find(const std::string& id) {
    for (auto& n : nodes_) {
      if (n->id() == id) return n.get();
    }
    return nullptr;
  }
  // Waits until a node other than `not_id` owns "p" with an epoch above
  // `above`, says so on its own API, and the target receives rows again:
  // more than `applied_before` audit rows when given (a test without load
  // knows how many the old owner left; the new owner may apply all the rest
  // before its ownership shows), else more than once the ownership shows.
  // Returns that node ("" on timeout) and logs how long it took (also in
  // `*took`, seconds, when given).
  std::string WaitForTakeover(const std::string& what, const std::string& not_id, int64_t above,
                              Clock::time_point since, double* took_out = nullptr, int64_t applied_before = -1) {
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
    const int64_t applied = applied_before >= 0 ? applied_before : AuditRows();
    bool applying = WaitUntil([&] { return AuditRows() > applied; }, kDeadline);
    EXPECT_TRUE(applying) << what << ": the new owner " << owner << " applies nothing";
    double took = std::chrono::duration<double>(Clock::now() - since).count();
    if (took_out != nullptr) *took_out = took;
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
  // The target starts empty: any audit row is the first owner's.
  std::string WaitForFirstOwner() { return WaitForTakeover("first start", "", 0, Clock::now(), nullptr, 0); }

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

}  // namespace sluice::testing
