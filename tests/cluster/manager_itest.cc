// `sluice manager` processes against a real 3-server ZooKeeper ensemble
// (shared by the tests of this file; each test uses a cluster of its own).
// Nodes are test Coordinators: they register, campaign and drain as a node
// agent would; a test HTTP server stands in for a node's own API.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "cli/run_command.h"
#include "cluster/coordinator.h"
#include "cluster/manager_process.h"
#include "harness/process.h"
#include "harness/zookeeper_server.h"
#include "server/http_server.h"

namespace sluice::cluster {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ManagerHttp;
using testing::ManagerProcess;
using testing::ManagerReply;
using testing::ReadWholeFile;
using testing::ZookeeperEnsemble;

constexpr seconds kDeadline{90};  // generous: the machine is loaded

template <typename Pred>
bool WaitFor(Pred pred, seconds timeout = kDeadline) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return true;
}

// A cluster.yaml: two pipelines, "heavy_orders" needing the label heavy.
std::string ClusterYaml(const std::string& cluster, const std::string& zookeeper, const std::string& extra = "") {
  return fmt::format(R"(cluster: {{name: {}, zookeeper: "{}", session_timeout_ms: 2000}}
http: 127.0.0.1:1
store: ./manager.db
sources:
  main: {{url: "mysql://repl@127.0.0.1:3306"}}
targets:
  copy: {{url: "mysql://app@127.0.0.1:3307"}}
pipelines:
  - name: orders
    source: main
    targets: [copy]
    tables: [{{match: "shop.orders"}}]
  - name: heavy_orders
    nodes: {{labels: [heavy]}}
    source: main
    targets: [copy]
    tables: [{{match: "shop.big_*"}}]
{})",
                     cluster, zookeeper, extra);
}

class ManagerTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { ensemble_.reset(); }

  void SetUp() override {
    if (!ensemble_) {
      auto zk = ZookeeperEnsemble::Start({3});
      ASSERT_TRUE(zk.ok()) << zk.status().message();
      ensemble_ = std::move(*zk);
    }
    cluster_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = std::filesystem::temp_directory_path() / fmt::format("sluice-manager-{}-{}", ::getpid(), cluster_);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_ = (dir_ / "cluster.yaml").string();
    WriteConfig(ClusterYaml(cluster_, ensemble_->ConnectString()));
  }
  void TearDown() override {
    managers_.clear();
    nodes_.clear();
    watcher_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  void WriteConfig(const std::string& text) { std::ofstream(config_, std::ios::binary) << text; }

  ManagerProcess& StartManager(const std::string& id) {
    managers_.push_back(std::make_unique<ManagerProcess>(dir_.string(), id, config_));
    Status st = managers_.back()->Start();
    EXPECT_TRUE(st.ok()) << st.message();
    return *managers_.back();
  }

  std::unique_ptr<Coordinator> StartCoordinator(NodeInfo node) {
    CoordinatorOptions options;
    options.zookeeper = ensemble_->ConnectString();
    options.cluster = cluster_;
    options.session_timeout = milliseconds(2000);
    options.node = std::move(node);
    auto c = Coordinator::Start(std::move(options));
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // An observer that records every configuration it sees published.
  void Watch() {
    watcher_ = StartCoordinator(NodeInfo{});
    watcher_->WatchConfig([this](const PublishedConfig& c) {
      std::lock_guard lock(mu_);
      published_.push_back(c);
    });
  }
  PublishedConfig LastPublished() {
    std::lock_guard lock(mu_);
    return published_.empty() ? PublishedConfig{} : published_.back();
  }
  bool WaitPublished(int64_t revision) {
    return WaitFor([&] { return LastPublished().revision == revision; });
  }

  // A node: registers and campaigns for `pipelines` (with their labels),
  // and obeys move requests as the node agent does (release, rejoin).
  Coordinator& StartNode(const std::string& id, std::vector<std::string> labels, const std::string& http,
                         const std::vector<std::pair<std::string, std::vector<std::string>>>& pipelines) {
    nodes_.push_back(StartCoordinator(NodeInfo{id, std::move(labels), http}));
    Coordinator* node = nodes_.back().get();
    for (const auto& [name, required] : pipelines) {
      Status st = node->Campaign(name, required, [node](const Ownership& o) {
        if (o.state == OwnershipState::kOwner && !o.move_to.empty()) node->Release(o.pipeline, /*rejoin=*/true);
      });
      EXPECT_TRUE(st.ok()) << st.message();
    }
    return *node;
  }

  static inline std::unique_ptr<ZookeeperEnsemble> ensemble_;
  std::string cluster_;
  std::filesystem::path dir_;
  std::string config_;
  std::vector<std::unique_ptr<ManagerProcess>> managers_;
  std::vector<std::unique_ptr<Coordinator>> nodes_;
  std::unique_ptr<Coordinator> watcher_;
  std::mutex mu_;
  std::vector<PublishedConfig> published_;
};

TEST_F(ManagerTest, AnInvalidFileIsRefusedWithItsLineAndKey) {
  WriteConfig(ClusterYaml(cluster_, ensemble_->ConnectString(), "    sorce: main\n"));
  testing::CommandResult r = testing::RunSluice(fmt::format("manager -c {}", config_));
  // Appended to heavy_orders (line 18 of the file).
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(config_ + ":18:5: pipelines[1].sorce: unknown key"), std::string::npos) << r.err;

  // Without a cluster: section the manager has nothing to serve.
  std::string no_cluster = ClusterYaml(cluster_, ensemble_->ConnectString());
  no_cluster = no_cluster.substr(no_cluster.find('\n') + 1);
  WriteConfig(no_cluster);
  r = testing::RunSluice(fmt::format("manager -c {}", config_));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("cluster"), std::string::npos) << r.err;

  r = testing::RunSluice("manager --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--config"), std::string::npos) << r.out;
}

TEST_F(ManagerTest, PublishesTheFileOnStartAndRevisionsOnPutAndRollback) {
  Watch();
  ManagerProcess& m = StartManager("m1");
  ASSERT_TRUE(WaitPublished(1)) << m.Log();
  EXPECT_EQ(LastPublished().yaml, ReadWholeFile(config_));
  ManagerReply cfg = ManagerHttp(m.port(), "GET", "/api/config");
  ASSERT_EQ(cfg.status, 200) << cfg.body;
  EXPECT_EQ(cfg.Json()["revision"], 1);
  EXPECT_EQ(cfg.Json()["yaml"], ReadWholeFile(config_));

  // An invalid PUT: 400 with the loader's message, nothing published.
  std::string bad = ClusterYaml(cluster_, ensemble_->ConnectString(), "    parallel: many\n");
  ManagerReply r = ManagerHttp(m.port(), "PUT", "/api/config", bad, "application/yaml");
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.Json()["error"].get<std::string>().find(config_ + ":18:"), std::string::npos) << r.body;
  EXPECT_NE(r.Json()["error"].get<std::string>().find("pipelines[1].parallel"), std::string::npos) << r.body;

  // Another cluster's name: refused (this manager publishes into its own).
  r = ManagerHttp(m.port(), "PUT", "/api/config", ClusterYaml("elsewhere", ensemble_->ConnectString()), "application/yaml");
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("cluster.name"), std::string::npos) << r.body;

  std::string second = ClusterYaml(cluster_, ensemble_->ConnectString(), "    parallel: 2\n");
  r = ManagerHttp(m.port(), "PUT", "/api/config?comment=two%20loaders", second, "application/yaml");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["revision"], 2);
  EXPECT_EQ(r.Json()["created"], true);
  ASSERT_TRUE(WaitPublished(2));
  EXPECT_EQ(LastPublished().yaml, second);
  // The same text again makes no revision.
  r = ManagerHttp(m.port(), "PUT", "/api/config", second, "application/yaml");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["created"], false);
  EXPECT_EQ(r.Json()["revision"], 2);

  r = ManagerHttp(m.port(), "POST", "/api/config/rollback", R"({"revision": 1})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["revision"], 3);
  ASSERT_TRUE(WaitPublished(3));
  EXPECT_EQ(LastPublished().yaml, ReadWholeFile(config_));
  EXPECT_EQ(ManagerHttp(m.port(), "POST", "/api/config/rollback", R"({"revision": 42})").status, 404);
  EXPECT_EQ(ManagerHttp(m.port(), "POST", "/api/config/rollback", R"({"rev": 1})").status, 400);

  ManagerReply list = ManagerHttp(m.port(), "GET", "/api/config/revisions");
  ASSERT_EQ(list.status, 200) << list.body;
  json revisions = list.Json();
  ASSERT_EQ(revisions.size(), 3u) << list.body;
  EXPECT_EQ(revisions[0]["revision"], 3);
  EXPECT_EQ(revisions[0]["current"], true);
  EXPECT_EQ(revisions[0]["comment"], "rollback to revision 1");
  EXPECT_EQ(revisions[1]["comment"], "two loaders");
  EXPECT_EQ(revisions[2]["author"], "file " + config_);
  ManagerReply one = ManagerHttp(m.port(), "GET", "/api/config/revisions/2");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.Json()["yaml"], second);

  // A restart with the file unchanged keeps revision 3 (nothing new published).
  m.Kill(SIGTERM);
  ManagerProcess& again = StartManager("m1");
  ASSERT_TRUE(WaitFor([&] { return again.Leads(); })) << again.Log();
  EXPECT_EQ(ManagerHttp(again.port(), "GET", "/api/config").Json()["revision"], 3);
  EXPECT_EQ(LastPublished().revision, 3);
}

TEST_F(ManagerTest, NodesAndPipelinesWithOwnersEpochsAndLiveStatus) {
  // n1's own API: answers for "orders" as a node would.
  server::HttpServer n1_api;
  ASSERT_TRUE(n1_api
                  .Start("127.0.0.1:0",
                         [](std::string_view, std::string_view target, std::string_view) {
                           if (target == "/api/pipelines/orders/status") {
                             return server::HttpResponse{
                                 200, "application/json",
                                 R"({"name":"orders","state":"running","source_position":"binlog.000001:400",)"
                                 R"("applied_position":"binlog.000001:300","delay_ms":12,"rows_applied":7,)"
                                 R"("last_error":null,"targets":[{"name":"copy","delay_ms":12}]})",
                                 {}};
                           }
                           return server::JsonError(404, "no such pipeline here");
                         })
                  .ok());
  const std::string n1_http = fmt::format("127.0.0.1:{}", n1_api.port());
  ManagerProcess& m = StartManager("m1");
  ASSERT_TRUE(WaitFor([&] { return m.Leads(); })) << m.Log();

  // Unowned at first.
  ManagerReply r = ManagerHttp(m.port(), "GET", "/api/pipelines");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.Json().size(), 2u);
  EXPECT_EQ(r.Json()[0]["name"], "orders");
  EXPECT_EQ(r.Json()[0]["state"], "unowned");
  EXPECT_TRUE(r.Json()[0]["owner"].is_null());
  EXPECT_EQ(r.Json()[0]["epoch"], 0);

  Coordinator& n1 = StartNode("n1", {"heavy"}, n1_http, {{"orders", {}}, {"heavy_orders", {"heavy"}}});
  ASSERT_TRUE(WaitFor([&] { return n1.ownership("heavy_orders").state == OwnershipState::kOwner; }));
  ASSERT_TRUE(WaitFor([&] { return n1.ownership("orders").state == OwnershipState::kOwner; }));
  // n2's http is a closed port: its pipelines show as unknown.
  Coordinator& n2 = StartNode("n2", {}, "127.0.0.1:1", {{"orders", {}}});
  ASSERT_TRUE(WaitFor([&] { return n2.ownership("orders").state == OwnershipState::kCandidate; }));

  r = ManagerHttp(m.port(), "GET", "/api/nodes");
  ASSERT_EQ(r.status, 200) << r.body;
  json nodes = r.Json();
  ASSERT_EQ(nodes.size(), 2u) << r.body;
  EXPECT_EQ(nodes[0]["id"], "n1");
  EXPECT_EQ(nodes[0]["labels"], json::array({"heavy"}));
  EXPECT_EQ(nodes[0]["state"], "online");
  EXPECT_EQ(nodes[0]["pipelines"], json::array({"heavy_orders", "orders"}));
  EXPECT_EQ(nodes[0]["http"], n1_http);
  EXPECT_EQ(nodes[1]["id"], "n2");
  EXPECT_EQ(nodes[1]["pipelines"], json::array());

  r = ManagerHttp(m.port(), "GET", "/api/pipelines/orders/status");
  ASSERT_EQ(r.status, 200) << r.body;
  json orders = r.Json();
  EXPECT_EQ(orders["owner"], "n1");
  EXPECT_EQ(orders["epoch"], n1.ownership("orders").epoch);
  EXPECT_EQ(orders["state"], "running");
  EXPECT_EQ(orders["rows_applied"], 7);
  EXPECT_EQ(orders["delay_ms"], 12);
  EXPECT_EQ(orders["candidates"], json::array({"n1", "n2"}));
  EXPECT_EQ(ManagerHttp(m.port(), "GET", "/api/pipelines/orders/delay").Json()["delay_ms"], 12);
  // n1's API does not know heavy_orders: the manager says what it heard.
  r = ManagerHttp(m.port(), "GET", "/api/pipelines/heavy_orders/status");
  EXPECT_EQ(r.Json()["state"], "unknown") << r.body;
  EXPECT_EQ(ManagerHttp(m.port(), "GET", "/api/pipelines/nope/status").status, 404);

  // n1 goes: n2 owns orders with a higher epoch, and does not answer.
  const int64_t first_epoch = n1.ownership("orders").epoch;
  nodes_.front().reset();
  ASSERT_TRUE(WaitFor([&] { return n2.ownership("orders").state == OwnershipState::kOwner; }));
  r = ManagerHttp(m.port(), "GET", "/api/pipelines");
  ASSERT_EQ(r.status, 200) << r.body;
  orders = r.Json()[0];
  EXPECT_EQ(orders["owner"], "n2");
  EXPECT_GT(orders["epoch"].get<int64_t>(), first_epoch);
  EXPECT_EQ(orders["state"], "unknown");
  EXPECT_NE(orders["last_error"].get<std::string>().find("node n2 (127.0.0.1:1) did not answer"), std::string::npos)
      << orders.dump();
  json heavy = r.Json()[1];
  EXPECT_EQ(heavy["state"], "unowned");
  EXPECT_TRUE(heavy["owner"].is_null());
  EXPECT_GT(heavy["epoch"].get<int64_t>(), 0) << "the last epoch while unowned";

  n2.SetDraining(true);
  ASSERT_TRUE(WaitFor([&] {
    json n = ManagerHttp(m.port(), "GET", "/api/nodes").Json();
    return n.is_array() && n.size() == 1 && n[0]["state"] == "draining";
  }));
  EXPECT_EQ(ManagerHttp(m.port(), "GET", "/api/nodes/n2").Json()["pipelines"], json::array({"orders"}));
  EXPECT_EQ(ManagerHttp(m.port(), "GET", "/api/nodes/n9").status, 404);
}

TEST_F(ManagerTest, MoveRequestsAreValidated) {
  ManagerProcess& m = StartManager("m1");
  ASSERT_TRUE(WaitFor([&] { return m.Leads(); })) << m.Log();
  Coordinator& n1 = StartNode("n1", {"heavy"}, "", {{"orders", {}}, {"heavy_orders", {"heavy"}}});
  ASSERT_TRUE(WaitFor([&] { return n1.ownership("orders").state == OwnershipState::kOwner; }));
  Coordinator& n2 = StartNode("n2", {}, "", {{"orders", {}}});
  Coordinator& n3 = StartNode("n3", {"heavy"}, "", {});  // live, but campaigns for nothing
  ASSERT_TRUE(WaitFor([&] { return n2.ownership("orders").state == OwnershipState::kCandidate; }));
  (void)n3;

  auto move = [&](const std::string& pipeline, const std::string& body) {
    return ManagerHttp(m.port(), "POST", "/api/pipelines/" + pipeline + "/move", body);
  };
  EXPECT_EQ(move("nope", R"({"node":"n2"})").status, 404);
  EXPECT_EQ(move("orders", "").status, 400);
  EXPECT_EQ(move("orders", R"({"nod":"n2"})").status, 400);
  ManagerReply r = move("orders", R"({"node":"n9"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not a live node"), std::string::npos) << r.body;
  r = move("heavy_orders", R"({"node":"n2"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("lacks the label \\\"heavy\\\""), std::string::npos) << r.body;
  r = move("orders", R"({"node":"n1"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("already owns"), std::string::npos) << r.body;
  r = move("orders", R"({"node":"n3"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not a candidate"), std::string::npos) << r.body;

  const int64_t before = n1.ownership("orders").epoch;
  r = move("orders", R"({"node":"n2"})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.Json()["from"], "n1");
  EXPECT_EQ(r.Json()["to"], "n2");
  // The owner obeys: n2 owns with a higher epoch, and the manager shows it.
  ASSERT_TRUE(WaitFor([&] { return n2.ownership("orders").state == OwnershipState::kOwner; }));
  EXPECT_GT(n2.ownership("orders").epoch, before);
  ASSERT_TRUE(WaitFor([&] {
    json p = ManagerHttp(m.port(), "GET", "/api/pipelines/orders/status").Json();
    return p.is_object() && p["owner"] == "n2";
  }));

  n2.SetDraining(true);
  ASSERT_TRUE(WaitFor([&] { return ManagerHttp(m.port(), "GET", "/api/nodes/n2").Json()["state"] == "draining"; }));
  r = move("orders", R"({"node":"n2"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("draining"), std::string::npos) << r.body;
}

TEST_F(ManagerTest, AFollowerTakesOverWhenTheLeaderIsKilledAndNodesKeepTheConfiguration) {
  Watch();
  ManagerProcess& a = StartManager("m1");
  ManagerProcess& b = StartManager("m2");
  ASSERT_TRUE(WaitFor([&] { return a.Leads() || b.Leads(); })) << a.Log() << b.Log();
  ASSERT_TRUE(WaitPublished(1));
  ManagerProcess& leader = a.Leads() ? a : b;
  ManagerProcess& follower = a.Leads() ? b : a;
  EXPECT_FALSE(follower.Leads());

  // The follower answers reads and refuses writes, naming the leader.
  EXPECT_EQ(ManagerHttp(follower.port(), "GET", "/api/nodes").status, 200);
  ASSERT_TRUE(WaitFor([&] { return ManagerHttp(follower.port(), "GET", "/api/config").Json()["revision"] == 1; }));
  std::string second = ClusterYaml(cluster_, ensemble_->ConnectString(), "    parallel: 2\n");
  ManagerReply r = ManagerHttp(follower.port(), "PUT", "/api/config", second, "application/yaml");
  ASSERT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("not the leader"), std::string::npos) << r.body;
  EXPECT_EQ(r.Json()["leader"], leader.id()) << r.body;

  r = ManagerHttp(leader.port(), "PUT", "/api/config", second, "application/yaml");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(WaitPublished(2));
  ASSERT_TRUE(WaitFor([&] { return ManagerHttp(follower.port(), "GET", "/api/config").Json()["revision"] == 2; }));

  leader.Kill(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return follower.Leads(); })) << follower.Log();
  std::string third = ClusterYaml(cluster_, ensemble_->ConnectString(), "    parallel: 3\n");
  r = ManagerHttp(follower.port(), "PUT", "/api/config", third, "application/yaml");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["revision"], 3) << "the numbering continues";
  ASSERT_TRUE(WaitPublished(3));
  EXPECT_EQ(LastPublished().yaml, third);
  ManagerReply history = ManagerHttp(follower.port(), "GET", "/api/config/revisions");
  EXPECT_EQ(history.Json().size(), 3u) << history.body;

  // Every manager down: the published configuration stays for the nodes.
  follower.Kill(SIGKILL);
  std::unique_ptr<Coordinator> late = StartCoordinator(NodeInfo{});
  std::promise<PublishedConfig> seen;
  std::once_flag once;
  late->WatchConfig([&](const PublishedConfig& c) {
    if (c.revision > 0) std::call_once(once, [&] { seen.set_value(c); });
  });
  std::future<PublishedConfig> f = seen.get_future();
  ASSERT_EQ(f.wait_for(kDeadline), std::future_status::ready);
  PublishedConfig c = f.get();
  EXPECT_EQ(c.revision, 3);
  EXPECT_EQ(c.yaml, third);
  late.reset();
}

}  // namespace
}  // namespace sluice::cluster
