// The web console on `sluice manager` (design §11) in a real browser: a
// standalone ZooKeeper, a manager with auth: and audit: and one pipeline,
// and tests/cluster/console/manager_console_check.mjs driving Debian's
// headless Chromium: the owner column, the nodes page against GET
// /api/nodes, a configuration edit shown as a diff and applied as a new
// revision, a rollback from the revisions list, and a viewer who may read
// but not change. The trail then holds both revisions by alice.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster/manager_process.h"
#include "harness/zookeeper_server.h"
#include "server/auth/password.h"
#include "server/console/browser_check.h"

namespace sluice::cluster {
namespace {

namespace fs = std::filesystem;
using testing::ManagerHttp;
using testing::ManagerProcess;
using testing::ZookeeperEnsemble;

constexpr const char* kPassword = "mgr-Console-8086";

TEST(ManagerConsoleTest, NodesRevisionsRollbackAndViewerInChromium) {
  auto zk = ZookeeperEnsemble::Start({1});
  ASSERT_TRUE(zk.ok()) << zk.status().message();
  const fs::path dir = fs::temp_directory_path() / fmt::format("sluice-manager-console-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string config = (dir / "cluster.yaml").string();
  std::ofstream(config) << fmt::format(R"(cluster: {{name: console, zookeeper: "{zk}", session_timeout_ms: 2000}}
http: 127.0.0.1:1
store: ./manager.db
sources:
  main: {{url: "mysql://repl:src-Secret-1@127.0.0.1:3306"}}
targets:
  copy: {{url: "mysql://app@127.0.0.1:3307"}}
pipelines:
  - name: orders
    source: main
    targets: [copy]
    tables: [{{match: "shop.orders"}}]
auth:
  users:
    - {{name: alice, password_hash: "{hash}", role: admin}}
    - {{name: vera, password_hash: "{hash}", role: viewer}}
audit: {{path: {audit}}}
)",
                                       fmt::arg("zk", (*zk)->ConnectString()),
                                       fmt::arg("hash", *server::HashPassword(kPassword)),
                                       fmt::arg("audit", (dir / "audit").string()));
  ManagerProcess manager(dir.string(), "m1", config);
  ASSERT_TRUE(manager.Start().ok()) << manager.Log();
  bool leads = false;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       !leads && std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    testing::ManagerReply r = ManagerHttp(manager.port(), "GET", "/healthz");
    leads = r.status == 200 && r.body == "ok: leader";
  }
  ASSERT_TRUE(leads) << manager.Log();

  EXPECT_TRUE(testing::RunBrowserCheck("cluster/console/manager_console_check.mjs",
                                       {fmt::format("SLUICE_URL=http://127.0.0.1:{}", manager.port()),
                                        "SLUICE_PIPELINE=orders", "SLUICE_ADMIN=alice", "SLUICE_VIEWER=vera",
                                        std::string("SLUICE_PASSWORD=") + kPassword},
                                       (dir / "console_check.log").string()))
      << "manager:\n" << manager.Log();

  // The trail: alice's update and rollback, as the browser made them.
  std::string trail;
  for (const auto& e : fs::directory_iterator(dir / "audit")) trail += testing::ReadWholeFile(e.path().string());
  bool update = false, rollback = false;
  std::istringstream lines(trail);
  for (std::string l; std::getline(lines, l);) {
    nlohmann::json j = nlohmann::json::parse(l);
    if (j["who"] != "alice" || j["result"] != "ok") continue;
    update |= j["action"] == "config.update";
    rollback |= j["action"] == "config.rollback";
  }
  EXPECT_TRUE(update) << trail;
  EXPECT_TRUE(rollback) << trail;
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace sluice::cluster
