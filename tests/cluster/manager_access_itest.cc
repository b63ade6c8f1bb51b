// The cluster manager under access control (design §11) against a real
// standalone ZooKeeper: HTTPS only, 401/403 by role, the configuration shown
// with its secrets masked, a masked form PUT back keeping the hashes, users
// following the current revision, validation errors naming file and line,
// and the audit trail of it all verified by `sluice audit verify`.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/run_command.h"
#include "cluster/manager_process.h"
#include "harness/process.h"
#include "harness/test_certificate.h"
#include "harness/zookeeper_server.h"
#include "server/auth/password.h"

namespace sluice::cluster {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CommandResult;
using testing::ManagerProcess;
using testing::RunSluice;
using testing::ReadWholeFile;
using testing::ZookeeperEnsemble;

constexpr const char* kPassword = "mgr-Pw-5521";

struct Reply {
  int status = 0;
  std::string body;
  json Json() const { return json::parse(body, nullptr, false); }
};

httplib::Headers Basic(const std::string& user) {
  return {httplib::make_basic_authentication_header(user, kPassword, false)};
}

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  for (auto until = std::chrono::steady_clock::now() + timeout; !pred();) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

class ManagerAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto zk = ZookeeperEnsemble::Start({1});
    ASSERT_TRUE(zk.ok()) << zk.status().message();
    zk_ = std::move(*zk);
    dir_ = fs::temp_directory_path() / fmt::format("sluice-manager-access-{}", ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Result<testing::TestCertificate> made = testing::MakeTestCertificate(dir_.string());
    ASSERT_TRUE(made.ok()) << made.status().message();
    cert_ = made->cert;
    const std::string key = made->key;
    hash_ = *server::HashPassword(kPassword);
    config_ = (dir_ / "cluster.yaml").string();
    std::ofstream(config_) << fmt::format(R"(cluster: {{name: access, zookeeper: "{zk}", session_timeout_ms: 2000}}
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
http_tls: {{cert: {cert}, key: {key}}}
)",
                                          fmt::arg("zk", zk_->ConnectString()), fmt::arg("hash", hash_),
                                          fmt::arg("audit", (dir_ / "audit").string()), fmt::arg("cert", cert_),
                                          fmt::arg("key", key));
  }
  void TearDown() override {
    manager_.reset();
    zk_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  Reply Send(const std::string& method, const std::string& path, const httplib::Headers& h = {},
             const std::string& body = "") {
    httplib::SSLClient c("127.0.0.1", manager_->port());
    c.set_ca_cert_path(cert_.c_str());
    c.enable_server_certificate_verification(true);
    c.set_read_timeout(30, 0);
    httplib::Result r = method == "GET"   ? c.Get(path, h)
                        : method == "PUT" ? c.Put(path, h, body, "application/yaml")
                                          : c.Post(path, h, body, "application/json");
    if (!r) return {0, httplib::to_string(r.error())};
    seen_ += r->body;
    return {r->status, r->body};
  }

  std::unique_ptr<ZookeeperEnsemble> zk_;
  std::unique_ptr<ManagerProcess> manager_;
  fs::path dir_;
  std::string cert_, config_, hash_;
  std::string seen_;  // every answer's body, searched for secrets at the end
};

TEST_F(ManagerAccessTest, HttpsRolesMaskedRevisionsUsersAndAudit) {
  manager_ = std::make_unique<ManagerProcess>(dir_.string(), "m1", config_);
  ASSERT_TRUE(manager_->Start().ok()) << manager_->Log();
  ASSERT_TRUE(WaitFor([&] {
    Reply r = Send("GET", "/healthz");
    return r.status == 200 && r.body == "ok: leader";
  })) << manager_->Log();

  // HTTPS only; credentials and roles.
  httplib::Client plain("127.0.0.1", manager_->port());
  plain.set_read_timeout(5, 0);
  httplib::Result p = plain.Get("/healthz");
  EXPECT_TRUE(!p || p->status != 200);
  EXPECT_EQ(Send("GET", "/api/pipelines").status, 401);
  EXPECT_EQ(Send("GET", "/api/pipelines", Basic("vera")).status, 200);
  EXPECT_EQ(Send("GET", "/api/config/revisions", {httplib::make_basic_authentication_header("vera", "x", false)}).status,
            401);
  Reply whoami = Send("GET", "/api/whoami", Basic("vera"));
  EXPECT_EQ(whoami.Json(), json::parse(R"({"user":"vera","role":"viewer","mode":"manager"})")) << whoami.body;

  // The configuration as shown: no hash, no URL password; vera may not change it.
  ASSERT_TRUE(WaitFor([&] { return Send("GET", "/api/config", Basic("vera")).Json().value("revision", 0) == 1; }));
  Reply shown = Send("GET", "/api/config", Basic("vera"));
  const std::string yaml = shown.Json()["yaml"];
  EXPECT_EQ(yaml.find(hash_), std::string::npos);
  EXPECT_EQ(yaml.find("src-Secret-1"), std::string::npos);
  EXPECT_NE(yaml.find("mysql://repl:********@"), std::string::npos) << yaml;
  EXPECT_EQ(Send("PUT", "/api/config", Basic("vera"), yaml).status, 403);

  // A validation error names the file and line, and quotes no secret.
  std::string broken = yaml;
  broken.replace(broken.find("tables: [{match"), 6, "tablez");
  Reply invalid = Send("POST", "/api/config/validate", Basic("alice"), broken);
  EXPECT_EQ(invalid.status, 400) << invalid.body;
  EXPECT_NE(invalid.body.find(config_ + ":12:"), std::string::npos) << invalid.body;
  EXPECT_EQ(Send("POST", "/api/config/validate", Basic("alice"), yaml).status, 200);

  // Alice saves the masked form with vera promoted: a new revision that kept
  // the hashes and the URL's password, and vera's role follows it.
  std::string promoted = yaml;
  promoted.replace(promoted.find("role: viewer"), 12, "role: operator");
  Reply put = Send("PUT", "/api/config?comment=promote%20vera", Basic("alice"), promoted);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.Json()["revision"], 2);
  Reply rev2 = Send("GET", "/api/config/revisions/2", Basic("vera"));
  EXPECT_EQ(rev2.body.find(hash_), std::string::npos);
  EXPECT_NE(rev2.Json()["yaml"].get<std::string>().find("role: operator"), std::string::npos);
  EXPECT_TRUE(WaitFor([&] { return Send("GET", "/api/whoami", Basic("vera")).Json().value("role", "") == "operator"; }))
      << manager_->Log();

  // The audit trail: the refused PUT, the update with revisions before and after.
  Reply audit = Send("GET", "/api/audit?action=config.", Basic("vera"));
  ASSERT_EQ(audit.status, 200) << audit.body;
  json update;
  bool refused = false;
  const json lines = audit.Json()["lines"];
  for (const json& l : lines) {
    if (l["action"] == "config.update" && l["result"] == "ok") update = l;
    if (l["action"] == "config.update" && l["who"] == "vera" && l["role"] == "viewer" &&
        l["result"].get<std::string>().rfind("refused: 403", 0) == 0) {
      refused = true;
    }
  }
  ASSERT_TRUE(update.is_object()) << audit.body;
  EXPECT_EQ(update["who"], "alice");
  EXPECT_EQ(update["before"]["revision"], 1);
  EXPECT_EQ(update["after"]["revision"], 2);
  EXPECT_TRUE(refused) << audit.body;
  CommandResult verify = RunSluice("audit verify " + testing::ShellQuote((dir_ / "audit").string()));
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  // Secrets appear in no answer, the log or the audit trail.
  std::string audit_text;
  for (const auto& e : fs::directory_iterator(dir_ / "audit")) audit_text += ReadWholeFile(e.path().string());
  const std::string everything = seen_ + ReadWholeFile(manager_->log_path()) + audit_text;
  for (const std::string& secret : {std::string(kPassword), hash_, std::string("src-Secret-1")}) {
    EXPECT_EQ(everything.find(secret), std::string::npos) << "a secret leaked: " << secret;
  }
}

TEST_F(ManagerAccessTest, ABroaderHttpWithoutAuthIsRefused) {
  std::string text = ReadWholeFile(config_);
  text = text.substr(0, text.find("auth:"));
  std::ofstream(config_, std::ios::trunc) << text;
  CommandResult r = RunSluice("manager -c " + testing::ShellQuote(config_) + " --http 0.0.0.0:0");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("auth:"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sluice::cluster
