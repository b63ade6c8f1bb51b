// The manager's routes (cluster/manager_api.h) over a backend without
// ZooKeeper: a cluster view set by the test, a recording publisher.

#include "cluster/manager_api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

namespace sluice::cluster {
namespace {

using nlohmann::json;

const char* kYaml = R"(store: ./manager.db
sources:
  main: {url: "mysql://repl@127.0.0.1:3306"}
targets:
  copy: {url: "mysql://app@127.0.0.1:3307"}
pipelines:
  - name: orders
    source: main
    targets: [copy]
    tables: [{match: "shop.orders"}]
  - name: heavy
    nodes: {labels: [big]}
    source: main
    targets: [copy]
    tables: [{match: "shop.big"}]
)";

class FakeBackend : public ManagerBackend {
 public:
  explicit FakeBackend(store::ConfigRevisions& store)
      : keeper_(store, "/etc/sluice/cluster.yaml", kYaml, [this](int64_t r, const std::string&) {
          published = r;
          return Status::Ok();
        }) {}
  std::string id() const override { return "m2"; }
  ConfigKeeper& keeper() override { return keeper_; }
  Result<ClusterView> ReadCluster() override {
    if (zookeeper_down) return Status::Retryable(StatusCode::kIoError, "zookeeper unreachable");
    return view;
  }
  bool IsLeader() const override { return leader; }
  std::pair<std::string, std::string> Leader() override { return {"m1", "10.0.0.1:8700"}; }
  Status RequestMove(const std::string& pipeline, const std::string& node) override {
    moves.emplace_back(pipeline, node);
    return Status::Ok();
  }
  Result<NodeReply> CallNode(const std::string& address, std::string_view method, const std::string& path,
                             const std::string&) override {
    calls.push_back(std::string(method) + " " + address + path);
    auto it = replies.find(address + path);
    if (it == replies.end()) return Status::Retryable(StatusCode::kIoError, "connection refused");
    return it->second;
  }

  ConfigKeeper keeper_;
  ClusterView view;
  bool leader = true;
  bool zookeeper_down = false;
  int64_t published = 0;
  std::vector<std::pair<std::string, std::string>> moves;
  std::vector<std::string> calls;
  std::map<std::string, NodeReply> replies;
};

class ManagerApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sluice-manager-api-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    auto s = store::ConfigRevisions::Open((dir_ / "m.db").string());
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    backend_ = std::make_unique<FakeBackend>(*store_);
    api_ = std::make_unique<ManagerApi>(*backend_, metrics_);
    ASSERT_TRUE(backend_->keeper().TakeOver().ok());
    backend_->view.nodes = {NodeInfo{"n1", {"big"}, "10.0.0.11:8711", false},
                            NodeInfo{"n2", {}, "10.0.0.12:8711", false}, NodeInfo{"n3", {"big"}, "", true}};
    backend_->view.pipelines = {PipelineOwners{"heavy", "", 7, {}},
                                PipelineOwners{"orders", "n1", 9, {"n1", "n2"}}};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  json Get(const std::string& path, int want = 200) {
    server::HttpResponse r = api_->Handle("GET", path, "");
    EXPECT_EQ(r.status, want) << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  server::HttpResponse Call(const std::string& method, const std::string& path, const std::string& body) {
    return api_->Handle(method, path, body);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::ConfigRevisions> store_;
  std::unique_ptr<FakeBackend> backend_;
  pipeline::MetricsRegistry metrics_;
  std::unique_ptr<ManagerApi> api_;
};

TEST_F(ManagerApiTest, PipelinesCarryOwnerEpochAndTheOwnersLiveStatus) {
  backend_->replies["10.0.0.11:8711/api/pipelines/orders/status"] =
      NodeReply{200, R"({"name":"orders","state":"running","source_position":"f:9","applied_position":"f:8",)"
                     R"("delay_ms":5,"rows_applied":3,"last_error":null,"targets":[{"name":"copy","delay_ms":5}]})"};
  json all = Get("/api/pipelines");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["name"], "orders");  // the configuration's order
  EXPECT_EQ(all[0]["state"], "running");
  EXPECT_EQ(all[0]["owner"], "n1");
  EXPECT_EQ(all[0]["epoch"], 9);
  EXPECT_EQ(all[0]["rows_applied"], 3);
  EXPECT_EQ(all[0]["targets"][0]["name"], "copy");
  EXPECT_EQ(all[1]["name"], "heavy");
  EXPECT_EQ(all[1]["state"], "unowned");
  EXPECT_TRUE(all[1]["owner"].is_null());
  EXPECT_EQ(all[1]["epoch"], 7);
  EXPECT_TRUE(all[1]["delay_ms"].is_null());
  EXPECT_NE(all[1]["last_error"].get<std::string>().find("no eligible node"), std::string::npos);

  json delay = Get("/api/pipelines/orders/delay");
  EXPECT_EQ(delay["delay_ms"], 5);
  EXPECT_EQ(delay["targets"][0]["delay_ms"], 5);
  EXPECT_EQ(Get("/api/pipeline/status?id=orders")["owner"], "n1");
  Get("/api/pipelines/nope/status", 404);

  backend_->replies.clear();
  json orders = Get("/api/pipelines/orders/status");
  EXPECT_EQ(orders["state"], "unknown");
  EXPECT_EQ(orders["owner"], "n1");
  EXPECT_NE(orders["last_error"].get<std::string>().find("node n1 (10.0.0.11:8711) did not answer"),
            std::string::npos)
      << orders.dump();

  backend_->zookeeper_down = true;
  Get("/api/pipelines", 503);
  EXPECT_EQ(Call("GET", "/healthz", "").status, 503);
}

TEST_F(ManagerApiTest, NodesListLabelsStateAndOwnedPipelines) {
  json nodes = Get("/api/nodes");
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0], json::parse(R"({"id":"n1","labels":["big"],"state":"online","pipelines":["orders"],)"
                                  R"("http":"10.0.0.11:8711"})"));
  EXPECT_EQ(nodes[2]["state"], "draining");
  EXPECT_TRUE(nodes[2]["http"].is_null());
  Get("/api/nodes/n9", 404);

  backend_->replies["10.0.0.12:8711/api/node/drain"] = NodeReply{200, R"({"draining":true})"};
  server::HttpResponse r = Call("POST", "/api/nodes/n2/drain", "");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_->calls.back(), "POST 10.0.0.12:8711/api/node/drain");
  EXPECT_EQ(Call("POST", "/api/nodes/n1/drain", "").status, 502) << "n1 does not answer";
  EXPECT_EQ(Call("GET", "/api/nodes/n1/drain", "").status, 405);
}

TEST_F(ManagerApiTest, MovesGoOnlyToLiveEligibleCandidates) {
  auto move = [&](const std::string& pipeline, const std::string& body) {
    return Call("POST", "/api/pipelines/" + pipeline + "/move", body).status;
  };
  EXPECT_EQ(move("nope", R"({"node":"n2"})"), 404);
  EXPECT_EQ(move("orders", "{"), 400);
  EXPECT_EQ(move("orders", R"({"node":7})"), 400);
  EXPECT_EQ(move("orders", R"({"node":"n9"})"), 400);  // not live
  EXPECT_EQ(move("orders", R"({"node":"n1"})"), 400);  // the owner
  EXPECT_EQ(move("heavy", R"({"node":"n2"})"), 400);   // lacks the label
  EXPECT_EQ(move("heavy", R"({"node":"n3"})"), 400);   // draining
  EXPECT_EQ(move("heavy", R"({"node":"n1"})"), 400);   // not a candidate
  EXPECT_TRUE(backend_->moves.empty());
  EXPECT_EQ(move("orders", R"({"node":"n2"})"), 202);
  ASSERT_EQ(backend_->moves.size(), 1u);
  EXPECT_EQ(backend_->moves[0], std::make_pair(std::string("orders"), std::string("n2")));
  EXPECT_EQ(Call("GET", "/api/pipelines/orders/move", "").status, 405);
}

TEST_F(ManagerApiTest, ConfigurationRevisionsAndAFollowersRefusal) {
  json cfg = Get("/api/config");
  EXPECT_EQ(cfg["revision"], 1);
  EXPECT_EQ(cfg["yaml"], kYaml);
  server::HttpResponse r = Call("PUT", "/api/config", "pipelines: 3\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("/etc/sluice/cluster.yaml:1:"), std::string::npos) << r.body;
  std::string changed = std::string(kYaml) + "    parallel: 2\n";
  r = Call("PUT", "/api/config?comment=more", changed);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["revision"], 2);
  EXPECT_EQ(backend_->published, 2);
  EXPECT_EQ(Get("/api/config/revisions").size(), 2u);
  EXPECT_EQ(Get("/api/config/revisions/2")["comment"], "more");
  Get("/api/config/revisions/x", 400);
  Get("/api/config/revisions/9", 404);

  backend_->leader = false;
  r = Call("PUT", "/api/config", kYaml);
  EXPECT_EQ(r.status, 409);
  json refusal = json::parse(r.body);
  EXPECT_EQ(refusal["leader"], "m1");
  EXPECT_EQ(refusal["leader_http"], "10.0.0.1:8700");
  EXPECT_EQ(Call("POST", "/api/config/rollback", R"({"revision":1})").status, 409);
  EXPECT_EQ(Call("POST", "/api/pipelines/orders/move", R"({"node":"n2"})").status, 409);
  EXPECT_EQ(Get("/api/config")["revision"], 2) << "reads are answered";
  EXPECT_EQ(Call("DELETE", "/api/config", "").status, 405);
}

}  // namespace
}  // namespace sluice::cluster
