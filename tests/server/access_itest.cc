// Access control, HTTPS and audit through a real `sluice run` (design §11):
// the 401/403/200 matrix for Basic, bearer and cookie sessions, CSRF,
// throttled logins, HTTPS with a generated certificate, the loopback rule,
// `sluice passwd`, the audit trail of a stop/start and a failed login with
// `sluice audit verify` before and after tampering, and secret hygiene.

#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/run_command.h"
#include "pipeline/fault_fixture.h"
#include "harness/test_certificate.h"
#include "server/auth/password.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPassword = "pw-Secret-7781";
constexpr const char* kToken = "tok-0f3c9a1d5e7b2468ace13579bdf02468";

struct Reply {
  int status = 0;
  std::string body;
  httplib::Headers headers;
};

Reply Send(httplib::Client& c, const std::string& method, const std::string& path, const httplib::Headers& h = {},
           const std::string& body = "") {
  httplib::Result r = method == "POST" ? c.Post(path, h, body, "application/json") : c.Get(path, h);
  if (!r) return {0, httplib::to_string(r.error()), {}};
  return {r->status, r->body, r->headers};
}

httplib::Headers Basic(const std::string& user, const std::string& pw) {
  return {httplib::make_basic_authentication_header(user, pw, false)};
}
httplib::Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

// Runs a shell command and returns its exit status and stdout.
std::pair<int, std::string> Shell(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int rc = ::pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

class AccessTest : public FaultTest {
 protected:
  static void SetUpTestSuite() {
    ::setenv("SLUICE_TEST_CI_TOKEN", kToken, 1);
    hash_ = new std::string(*server::HashPassword(kPassword));
  }
  // The fault tests' pipeline with auth: (alice admin, olga operator, vera viewer, token ci operator) and audit:.
  std::string AuthYaml(const std::string& extra = "") {
    return fmt::format(R"(auth:
  users:
    - {{name: alice, password_hash: "{0}", role: admin}}
    - {{name: olga, password_hash: "{0}", role: operator}}
    - {{name: vera, password_hash: "{0}", role: viewer}}
  tokens:
    - {{name: ci, token_env: SLUICE_TEST_CI_TOKEN, role: operator}}
audit: {{path: {1}}}
{2})",
                       *hash_, (dir_ / "audit").string(), extra);
  }
  void Start(const std::string& extra = "") {
    src_ = StartServer(1);
    dst_ = StartServer(2);
    ASSERT_TRUE(src_ && dst_);
    ASSERT_TRUE(src_->Execute(kSchema).ok());
    http_port_ = FreePort();
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url()) + AuthYaml(extra));
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  std::string State(httplib::Client& c) {
    Reply r = Send(c, "GET", "/api/pipelines/p/status", Basic("vera", kPassword));
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_object() ? j.value("state", "") : "";
  }
  std::string AllAuditText() {
    std::string text;
    for (const auto& e : fs::directory_iterator(dir_ / "audit")) text += ReadWhole(e.path());
    return text;
  }

  static std::string* hash_;
};
std::string* AccessTest::hash_ = nullptr;

TEST_F(AccessTest, RolesSessionsThrottlingAndAuditThroughSluiceRun) {
  ASSERT_NO_FATAL_FAILURE(Start());
  httplib::Client c("127.0.0.1", http_port_);
  c.set_read_timeout(30, 0);

  // Without credentials: /healthz only.
  EXPECT_EQ(Send(c, "GET", "/healthz").status, 200);
  for (const char* path : {"/metrics", "/api/pipelines", "/api/pipelines/p/status", "/api/pipeline/delay?id=p"}) {
    EXPECT_EQ(Send(c, "GET", path).status, 401) << path;
  }
  EXPECT_EQ(Send(c, "POST", "/api/pipelines/p/stop").status, 401);
  EXPECT_EQ(Send(c, "GET", "/metrics", Basic("alice", "wrong")).status, 401);
  EXPECT_EQ(Send(c, "GET", "/metrics", Bearer("tok-unknown-0000000000000000")).status, 401);

  // Basic: viewer reads, is refused a stop; operator token stops and starts.
  Reply metrics = Send(c, "GET", "/metrics", Basic("vera", kPassword));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(Send(c, "POST", "/api/pipelines/p/stop", Basic("vera", kPassword)).status, 403);
  EXPECT_EQ(State(c), "running");
  Reply stop = Send(c, "POST", "/api/pipelines/p/stop", Bearer(kToken));
  EXPECT_EQ(stop.status, 200) << stop.body;
  EXPECT_EQ(State(c), "stopped");
  Reply start = Send(c, "POST", "/api/pipelines/p/start", Basic("olga", kPassword));
  EXPECT_EQ(start.status, 200) << start.body;

  // Cookie session: mutations need the CSRF token from the login answer.
  Reply login = Send(c, "POST", "/api/login", {}, fmt::format(R"({{"user":"olga","password":"{}"}})", kPassword));
  ASSERT_EQ(login.status, 200) << login.body;
  std::string set_cookie = login.headers.find("Set-Cookie")->second;
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos);
  httplib::Headers cookie{{"Cookie", set_cookie.substr(0, set_cookie.find(';'))}};
  std::string csrf = nlohmann::json::parse(login.body)["csrf_token"];
  EXPECT_EQ(Send(c, "GET", "/api/pipelines", cookie).status, 200);
  EXPECT_EQ(Send(c, "POST", "/api/pipelines/p/stop", cookie).status, 403);
  httplib::Headers with_csrf = cookie;
  with_csrf.emplace("X-Sluice-CSRF", csrf);
  EXPECT_EQ(Send(c, "POST", "/api/pipelines/p/stop", with_csrf).status, 200);
  EXPECT_EQ(Send(c, "POST", "/api/pipelines/p/start", with_csrf).status, 200);
  EXPECT_EQ(Send(c, "POST", "/api/logout", with_csrf).status, 200);
  EXPECT_EQ(Send(c, "GET", "/api/pipelines", cookie).status, 401);

  // Throttling: after 5 failed logins for alice (one was the wrong Basic
  // password above), the 6th failure blocks her, right password or not.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Send(c, "POST", "/api/login", {}, R"({"user":"alice","password":"guess"})").status, 401) << i;
  }
  Reply blocked = Send(c, "POST", "/api/login", {}, fmt::format(R"({{"user":"alice","password":"{}"}})", kPassword));
  EXPECT_EQ(blocked.status, 429) << blocked.body;
  EXPECT_TRUE(blocked.headers.count("Retry-After"));

  // Secrets appear nowhere: answers, metrics, the log, the audit trail.
  std::string everything = metrics.body + stop.body + start.body + login.body + blocked.body +
                           Send(c, "GET", "/api/pipelines", Basic("vera", kPassword)).body + sluice_->FullLog() +
                           AllAuditText();
  for (const std::string& secret : {std::string(kPassword), std::string(kToken), *hash_}) {
    EXPECT_EQ(everything.find(secret), std::string::npos) << "a secret leaked: " << secret;
  }

  // The audit trail: the token's stop with before/after, the failed login; the chain verifies.
  std::vector<nlohmann::json> lines;
  std::istringstream in(AllAuditText());
  for (std::string l; std::getline(in, l);) lines.push_back(nlohmann::json::parse(l));
  auto find = [&](const std::string& who, const std::string& action, const std::string& result_prefix) {
    for (const auto& l : lines) {
      if (l["who"] == who && l["action"] == action && l["result"].get<std::string>().rfind(result_prefix, 0) == 0) {
        return l;
      }
    }
    return nlohmann::json();
  };
  nlohmann::json stopped = find("ci", "pipeline.stop", "ok");
  ASSERT_TRUE(stopped.is_object()) << AllAuditText();
  EXPECT_EQ(stopped["role"], "operator");
  EXPECT_EQ(stopped["object"], "pipeline/p");
  EXPECT_EQ(stopped["before"]["state"], "running");
  EXPECT_EQ(stopped["after"]["state"], "stopped");
  EXPECT_TRUE(find("olga", "pipeline.start", "ok").is_object());
  EXPECT_TRUE(find("vera", "pipeline.stop", "refused: 403").is_object());
  EXPECT_TRUE(find("alice", "login", "failed: 401").is_object());
  EXPECT_TRUE(find("olga", "login", "ok").is_object());
  EXPECT_TRUE(find("sluice", "config.load", "ok").is_object());

  const std::string audit_dir = (dir_ / "audit").string();
  CommandResult ok = RunSluice("audit verify " + ShellQuote(audit_dir));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("intact"), std::string::npos) << ok.out;

  // Edit the stop line: verify names it.
  fs::path file = *fs::directory_iterator(audit_dir);
  for (const auto& e : fs::directory_iterator(audit_dir)) {
    if (e.path().extension() == ".jsonl") file = e.path();
  }
  std::string text = ReadWhole(file);
  size_t at = text.find("\"who\":\"ci\"");
  ASSERT_NE(at, std::string::npos);
  int line_no = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
  text.replace(at, 10, "\"who\":\"xx\"");
  std::ofstream(file, std::ios::trunc) << text;
  CommandResult broken = RunSluice("audit verify " + ShellQuote(audit_dir));
  EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
  EXPECT_NE(broken.err.find(file.filename().string() + ":" + std::to_string(line_no) + ":"), std::string::npos)
      << broken.err;
  EXPECT_EQ(sluice_->Stop() >= 0, true);
}

TEST_F(AccessTest, ConfigurationIsShownMaskedAndValidatedAndTheAuditIsReadBack) {
  ASSERT_NO_FATAL_FAILURE(Start());
  httplib::Client c("127.0.0.1", http_port_);
  c.set_read_timeout(30, 0);

  Reply who = Send(c, "GET", "/api/whoami", Basic("olga", kPassword));
  ASSERT_EQ(who.status, 200) << who.body;
  EXPECT_EQ(nlohmann::json::parse(who.body), nlohmann::json::parse(R"({"user":"olga","role":"operator","mode":"run"})"));

  Reply config = Send(c, "GET", "/api/config", Basic("vera", kPassword));
  ASSERT_EQ(config.status, 200) << config.body;
  const nlohmann::json cj = nlohmann::json::parse(config.body);
  const std::string yaml = cj["yaml"];
  EXPECT_EQ(config.body.find(*hash_), std::string::npos) << "a password hash leaked";
  EXPECT_NE(yaml.find("password_hash: \"********\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("token_env: SLUICE_TEST_CI_TOKEN"), std::string::npos) << yaml;
  EXPECT_EQ(cj["revision"].get<std::string>().size(), 64u);

  // The masked text validates as it is (the hashes are taken from the file);
  // an error names the file and line; only admins validate.
  Reply valid = Send(c, "POST", "/api/config/validate", Basic("alice", kPassword), yaml);
  EXPECT_EQ(valid.status, 200) << valid.body;
  EXPECT_EQ(nlohmann::json::parse(valid.body)["pipelines"], 1);
  std::string broken = yaml;
  const size_t at = broken.find("parallel: ");
  ASSERT_NE(at, std::string::npos);
  broken.replace(at, 10, "parallel: lots #");
  const int line = 1 + static_cast<int>(std::count(broken.begin(), broken.begin() + static_cast<long>(at), '\n'));
  Reply invalid = Send(c, "POST", "/api/config/validate", Basic("alice", kPassword), broken);
  EXPECT_EQ(invalid.status, 400) << invalid.body;
  EXPECT_NE(invalid.body.find(fmt::format("{}:{}:", config_, line)), std::string::npos)
      << invalid.body;
  EXPECT_EQ(Send(c, "POST", "/api/config/validate", Basic("olga", kPassword), yaml).status, 403);

  Reply audit = Send(c, "GET", "/api/audit?action=config.", Basic("vera", kPassword));
  ASSERT_EQ(audit.status, 200) << audit.body;
  const nlohmann::json lines = nlohmann::json::parse(audit.body)["lines"];
  ASSERT_GE(lines.size(), 4u) << audit.body;  // the load, two validations by alice, olga's refusal
  EXPECT_EQ(lines[0]["who"], "olga");
  EXPECT_EQ(lines[1]["action"], "config.validate");
  EXPECT_EQ(lines[1]["result"].get<std::string>().rfind("failed: 400", 0), 0u);
  EXPECT_EQ(lines.back()["action"], "config.load");
  EXPECT_EQ(audit.body.find(*hash_), std::string::npos);
}

TEST_F(AccessTest, HttpsOnlyWithAGeneratedCertificate) {
  Result<TestCertificate> made = MakeTestCertificate(dir_.string());
  ASSERT_TRUE(made.ok()) << made.status().message();
  const std::string cert = made->cert, key = made->key;
  ASSERT_NO_FATAL_FAILURE(Start(fmt::format("http_tls: {{cert: {}, key: {}}}\n", cert, key)));

  httplib::SSLClient tls("127.0.0.1", http_port_);
  tls.set_ca_cert_path(cert.c_str());
  tls.enable_server_certificate_verification(true);
  httplib::Result r = tls.Get("/api/pipelines", Basic("vera", kPassword));
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  r = tls.Get("/api/pipelines");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  // The session cookie is Secure (and __Host-) over HTTPS.
  r = tls.Post("/api/login", fmt::format(R"({{"user":"vera","password":"{}"}})", kPassword), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  std::string set_cookie = r->get_header_value("Set-Cookie");
  EXPECT_NE(set_cookie.find("; Secure"), std::string::npos) << set_cookie;
  EXPECT_EQ(set_cookie.rfind("__Host-sluice_session=", 0), 0u) << set_cookie;

  // Plain HTTP on the same address gets no HTTP answer.
  httplib::Client plain("127.0.0.1", http_port_);
  plain.set_read_timeout(5, 0);
  httplib::Result p = plain.Get("/healthz");
  EXPECT_TRUE(!p || p->status != 200);
}

TEST(AccessCliTest, NonLoopbackHttpWithoutAuthExitsNamingHttpAndAuth) {
  fs::path dir = fs::temp_directory_path() / ("sluice-access-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string config = (dir / "open.yaml").string();
  std::string text = FaultConfig(dir, 8799, "mysql://root@127.0.0.1:1", "mysql://root@127.0.0.1:1");
  text.replace(text.find("http: 127.0.0.1:"), 16, "http: 0.0.0.0:");
  std::ofstream(config) << text;
  CommandResult r = RunSluice("run -c " + ShellQuote(config));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("http"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("auth"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("open.yaml:2:"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(AccessCliTest, PasswdPrintsTheHashAlone) {
  auto [rc, out] = Shell(std::string("printf 'hunter22\\n' | ") + SLUICE_BINARY + " passwd");
  ASSERT_EQ(rc, 0) << out;
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  std::string hash = out.substr(0, out.size() - 1);
  EXPECT_TRUE(server::VerifyPassword(hash, "hunter22")) << hash;
  EXPECT_FALSE(server::VerifyPassword(hash, "hunter23"));
  auto [empty_rc, empty_out] = Shell(std::string(SLUICE_BINARY) + " passwd </dev/null 2>/dev/null");
  EXPECT_EQ(empty_rc, 2);
  EXPECT_TRUE(empty_out.empty());
}

}  // namespace
}  // namespace sluice::testing
