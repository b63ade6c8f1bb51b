// A node's API under access control (design §11 for `sluice node`): HTTPS
// with a bearer token only, and the manager still reaches the owner through
// it (cluster: {node_token_env, node_ca}) to read its live status and to
// stop and start its pipeline; a node that would serve beyond loopback
// without auth: does not start.

#include <httplib.h>

#include <fstream>

#include "cli/run_command.h"
#include "cluster/manager_process.h"
#include "cluster/node_fixture.h"
#include "harness/process.h"
#include "harness/test_certificate.h"

namespace sluice::testing {
namespace {

constexpr const char* kNodeToken = "node-tok-7c1e5a9b3d2f4680ace1";

using NodeAccessTest = NodeFixture;

TEST_F(NodeAccessTest, TheManagerReachesANodeBehindATokenAndHttps) {
  ::setenv("SLUICE_TEST_NODE_TOKEN", kNodeToken, 1);
  Result<TestCertificate> made = MakeTestCertificate(dir_.string(), "node");
  ASSERT_TRUE(made.ok()) << made.status().message();
  const std::string cert = made->cert, key = made->key;
  std::string yaml = ClusterYaml();
  const std::string timeout = fmt::format("session_timeout_ms: {}}}", kSessionTimeoutMs);
  ASSERT_NE(yaml.find(timeout), std::string::npos);
  yaml.replace(yaml.find(timeout), timeout.size(),
               fmt::format("session_timeout_ms: {}, node_token_env: SLUICE_TEST_NODE_TOKEN, node_ca: {}}}",
                           kSessionTimeoutMs, cert));
  const std::string config = (dir_ / "cluster.yaml").string();
  std::ofstream(config) << yaml;
  ManagerProcess manager(dir_.string(), "m1", config);
  ASSERT_TRUE(manager.Start().ok()) << manager.Log();
  ASSERT_TRUE(WaitUntil([&] { return manager.Leads(); }, kDeadline)) << manager.Log();

  NodeProcess& node = AddNode("n1", {}, "", "",
                              fmt::format("auth: {{tokens: [{{name: manager, token_env: SLUICE_TEST_NODE_TOKEN, "
                                          "role: operator}}]}}\nhttp_tls: {{cert: {}, key: {}}}\n",
                                          cert, key));
  node.UseTls(cert, kNodeToken);
  StartLoad();
  ASSERT_EQ(WaitForFirstOwner(), "n1");

  // The node itself: HTTPS only, and nothing without the token.
  httplib::SSLClient tls("127.0.0.1", node.port());
  tls.set_ca_cert_path(cert.c_str());
  tls.enable_server_certificate_verification(true);
  httplib::Result anonymous = tls.Get("/api/pipelines/p/status");
  ASSERT_TRUE(anonymous) << httplib::to_string(anonymous.error());
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(HttpGet(node.port(), "/healthz").status, 0);  // plain HTTP gets no answer

  // Through the manager: the owner's live state, a stop and a start.
  auto state = [&] { return ManagerHttp(manager.port(), "GET", "/api/pipelines/p/status").Json().value("state", ""); };
  ASSERT_TRUE(WaitUntil([&] { return state() == "running"; }, kDeadline))
      << ManagerHttp(manager.port(), "GET", "/api/pipelines/p/status").body << manager.Log();
  ManagerReply stopped = ManagerHttp(manager.port(), "POST", "/api/pipelines/p/stop");
  ASSERT_EQ(stopped.status, 200) << stopped.body << manager.Log();
  EXPECT_TRUE(WaitUntil([&] { return state() == "stopped"; }, kDeadline));
  ManagerReply started = ManagerHttp(manager.port(), "POST", "/api/pipelines/p/start");
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_TRUE(WaitUntil([&] { return state() == "running"; }, kDeadline));
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnce());
  EXPECT_EQ(node.Log().find(kNodeToken), std::string::npos);
  EXPECT_EQ(manager.Log().find(kNodeToken), std::string::npos);
}

TEST(NodeAccessCliTest, ANodeBeyondLoopbackWithoutAuthDoesNotStart) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("sluice-node-access-{}", ::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "node.yaml").string();
  std::ofstream(path) << "cluster: {name: c, zookeeper: \"127.0.0.1:1\"}\nnode: {id: n1}\nhttp: 0.0.0.0:8711\n";
  CommandResult r = RunSluice("node -c " + ShellQuote(path));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("http"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("auth:"), std::string::npos) << r.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::testing
