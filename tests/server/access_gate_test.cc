// The gate without a socket: a fake API behind it records what got through.

#include "server/access_gate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "server/audit/audit_verify.h"
#include "server/auth/password.h"

namespace sluice::server {
namespace {

namespace fs = std::filesystem;
using server::HttpRequest;
using server::HttpResponse;

std::string B64(const std::string& s) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < s.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(s[i]) << 16;
    if (i + 1 < s.size()) n |= static_cast<uint8_t>(s[i + 1]) << 8;
    if (i + 2 < s.size()) n |= static_cast<uint8_t>(s[i + 2]);
    out += k[(n >> 18) & 63];
    out += k[(n >> 12) & 63];
    out += i + 1 < s.size() ? k[(n >> 6) & 63] : '=';
    out += i + 2 < s.size() ? k[n & 63] : '=';
  }
  return out;
}

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

class AccessGateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    hash_ = new std::string(*HashPassword("pw-secret"));
  }
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice-gate-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto log = AuditLog::Open(dir_.string(), 2555);
    ASSERT_TRUE(log.ok());
    audit_ = std::move(*log);
    pipeline::AuthConfig auth;
    for (const char* role : {"viewer", "operator", "admin"}) {
      auth.users.push_back({std::string(role) + "_user", *hash_, role, {}});
    }
    auth.tokens.push_back({"ci", "SLUICE_CI_TOKEN", kToken, "operator", {}});
    AccessGate::Options o;
    o.auth = auth;
    o.audit = audit_.get();
    o.describe = [](const std::string& object) -> nlohmann::ordered_json { return {{"object", object}}; };
    o.clock = [this] { return now_; };
    gate_ = std::make_unique<AccessGate>(std::move(o));
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    std::vector<std::pair<std::string, std::string>> headers = {}, const std::string& body = "",
                    const std::string& addr = "10.0.0.1") {
    HttpRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.remote_addr = addr;
    r.headers = std::move(headers);
    return gate_->Handle(r, [this](std::string_view, std::string_view, std::string_view) {
      ++reached_;
      return HttpResponse{200, "application/json", "{}", {}};
    });
  }
  static std::pair<std::string, std::string> Basic(const std::string& user, const std::string& pw) {
    return {"authorization", "Basic " + B64(user + ":" + pw)};
  }
  std::vector<nlohmann::json> AuditLines() {
    std::vector<nlohmann::json> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      std::ifstream in(e.path());
      for (std::string l; std::getline(in, l);) out.push_back(nlohmann::json::parse(l));
    }
    return out;
  }
  static std::string Header(const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  static std::string* hash_;
  fs::path dir_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<AccessGate> gate_;
  std::chrono::steady_clock::time_point now_{};
  int reached_ = 0;
};
std::string* AccessGateTest::hash_ = nullptr;

TEST_F(AccessGateTest, WithoutCredentialsOnlyPublicRoutesAnswer) {
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  EXPECT_EQ(Call("GET", "/login").status, 200);
  EXPECT_EQ(reached_, 2);
  for (const char* t : {"/metrics", "/api/pipelines", "/api/pipelines/p/status", "/api/pipeline/status?id=p"}) {
    HttpResponse r = Call("GET", t);
    EXPECT_EQ(r.status, 401) << t;
    EXPECT_NE(Header(r, "WWW-Authenticate").find("Basic"), std::string::npos);
  }
  EXPECT_EQ(Call("POST", "/api/pipelines/p/stop").status, 401);
  EXPECT_EQ(reached_, 2);
  // The console's own requests: 401 without a Basic challenge, so that the
  // browser shows the console's login page rather than its password dialog.
  HttpResponse console = Call("GET", "/api/whoami", {{"x-requested-with", "sluice-console"}});
  EXPECT_EQ(console.status, 401);
  EXPECT_EQ(Header(console, "WWW-Authenticate"), "");
}

TEST_F(AccessGateTest, RoleMatrixForBasicAndBearer) {
  struct Case {
    std::string method, target;
    int viewer, operator_, admin;
  };
  for (const Case& c : std::vector<Case>{{"GET", "/api/pipelines", 200, 200, 200},
                                         {"GET", "/metrics", 200, 200, 200},
                                         {"POST", "/api/pipelines/p/stop", 403, 200, 200},
                                         {"POST", "/api/pipelines/p/start", 403, 200, 200},
                                         {"POST", "/api/pipelines/p/position", 403, 200, 200},
                                         {"PUT", "/api/config", 403, 403, 200}}) {
    EXPECT_EQ(Call(c.method, c.target, {Basic("viewer_user", "pw-secret")}).status, c.viewer) << c.target;
    EXPECT_EQ(Call(c.method, c.target, {Basic("operator_user", "pw-secret")}).status, c.operator_) << c.target;
    EXPECT_EQ(Call(c.method, c.target, {Basic("admin_user", "pw-secret")}).status, c.admin) << c.target;
    EXPECT_EQ(Call(c.method, c.target, {{"authorization", std::string("Bearer ") + kToken}}).status, c.operator_)
        << c.target;
  }
  EXPECT_EQ(Call("GET", "/metrics", {Basic("admin_user", "wrong")}).status, 401);
  EXPECT_EQ(Call("GET", "/metrics", {Basic("nobody", "pw-secret")}).status, 401);
  EXPECT_EQ(Call("GET", "/metrics", {{"authorization", "Bearer not-a-token-of-ours"}}).status, 401);
  EXPECT_EQ(Call("GET", "/metrics", {{"authorization", "Digest x"}}).status, 401);
}

TEST_F(AccessGateTest, CookieSessionNeedsCsrfForMutations) {
  HttpResponse login = Call("POST", "/api/login", {}, R"({"user":"operator_user","password":"pw-secret"})");
  ASSERT_EQ(login.status, 200) << login.body;
  std::string cookie = Header(login, "Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << cookie;  // plain HTTP here
  std::string session = cookie.substr(0, cookie.find(';'));
  std::string csrf = nlohmann::json::parse(login.body)["csrf_token"];
  EXPECT_EQ(nlohmann::json::parse(login.body)["role"], "operator");

  EXPECT_EQ(Call("GET", "/api/pipelines", {{"cookie", session}}).status, 200);
  EXPECT_EQ(Call("POST", "/api/pipelines/p/stop", {{"cookie", session}}).status, 403);  // no CSRF header
  EXPECT_EQ(Call("POST", "/api/pipelines/p/stop", {{"cookie", session}, {"x-sluice-csrf", "forged"}}).status, 403);
  EXPECT_EQ(Call("POST", "/api/pipelines/p/stop",
                 {{"cookie", session}, {"x-sluice-csrf", csrf}, {"origin", "http://evil.example"}, {"host", "h:1"}})
                .status,
            403);
  EXPECT_EQ(Call("POST", "/api/pipelines/p/stop", {{"cookie", session}, {"x-sluice-csrf", csrf}}).status, 200);
  EXPECT_EQ(Call("PUT", "/api/config", {{"cookie", session}, {"x-sluice-csrf", csrf}}).status, 403);  // role

  EXPECT_EQ(Call("POST", "/api/logout", {{"cookie", session}, {"x-sluice-csrf", csrf}}).status, 200);
  EXPECT_EQ(Call("GET", "/api/pipelines", {{"cookie", session}}).status, 401);
  EXPECT_EQ(Call("GET", "/api/pipelines", {{"cookie", "sluice_session=0123"}}).status, 401);
}

TEST_F(AccessGateTest, WhoamiNamesTheCallerAndItsRole) {
  EXPECT_EQ(Call("GET", "/api/whoami").status, 401);
  HttpResponse r = Call("GET", "/api/whoami", {{"authorization", std::string("Bearer ") + kToken}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body), nlohmann::json::parse(R"({"user":"ci","role":"operator","mode":"run"})"));
  EXPECT_EQ(reached_, 0);  // the gate answers it
}

TEST_F(AccessGateTest, AuditIsReadBackNewestFirstAndFiltered) {
  const auto op = Basic("operator_user", "pw-secret");
  ASSERT_EQ(Call("POST", "/api/pipelines/a/stop", {op}).status, 200);
  ASSERT_EQ(Call("POST", "/api/pipelines/b/start", {op}).status, 200);
  ASSERT_EQ(Call("POST", "/api/pipelines/a/start", {Basic("viewer_user", "pw-secret")}).status, 403);
  HttpResponse all = Call("GET", "/api/audit", {Basic("viewer_user", "pw-secret")});
  ASSERT_EQ(all.status, 200) << all.body;
  nlohmann::json lines = nlohmann::json::parse(all.body)["lines"];
  ASSERT_EQ(lines.size(), 3u) << all.body;
  EXPECT_EQ(lines[0]["who"], "viewer_user");
  EXPECT_EQ(lines[2]["action"], "pipeline.stop");
  EXPECT_FALSE(lines[0].contains("hash"));

  nlohmann::json ops = nlohmann::json::parse(
      Call("GET", "/api/audit?who=operator_user&object=pipeline%2Fa", {op}).body)["lines"];
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0]["action"], "pipeline.stop");
  nlohmann::json one = nlohmann::json::parse(Call("GET", "/api/audit?action=pipeline.&limit=1", {op}).body);
  EXPECT_EQ(one["lines"].size(), 1u);
  EXPECT_TRUE(one["truncated"]);
  EXPECT_EQ(Call("GET", "/api/audit?limit=x", {op}).status, 400);
  EXPECT_EQ(Call("GET", "/api/audit").status, 401);
}

TEST_F(AccessGateTest, NewUsersTakeEffectAndRemovedUsersSessionsEnd) {
  HttpResponse login = Call("POST", "/api/login", {}, R"({"user":"operator_user","password":"pw-secret"})");
  ASSERT_EQ(login.status, 200);
  std::string session = Header(login, "Set-Cookie").substr(0, Header(login, "Set-Cookie").find(';'));
  ASSERT_EQ(Call("GET", "/api/pipelines", {{"cookie", session}}).status, 200);
  ASSERT_EQ(Call("GET", "/api/pipelines", {Basic("admin_user", "pw-secret")}).status, 200);  // cached

  pipeline::AuthConfig next;
  next.users.push_back({"admin_user", *hash_, "viewer", {}});  // demoted
  next.users.push_back({"dana", *hash_, "admin", {}});
  gate_->SetAuth(next);
  EXPECT_EQ(Call("GET", "/api/pipelines", {{"cookie", session}}).status, 401);
  EXPECT_EQ(Call("POST", "/api/pipelines/p/stop", {Basic("admin_user", "pw-secret")}).status, 403);
  EXPECT_EQ(Call("POST", "/api/pipelines/p/stop", {Basic("dana", "pw-secret")}).status, 200);
  EXPECT_EQ(Call("GET", "/api/pipelines", {{"authorization", std::string("Bearer ") + kToken}}).status, 401);
}

TEST_F(AccessGateTest, SessionsExpire) {
  HttpResponse login = Call("POST", "/api/login", {}, R"({"user":"viewer_user","password":"pw-secret"})");
  ASSERT_EQ(login.status, 200);
  std::string cookie = Header(login, "Set-Cookie");
  std::string session = cookie.substr(0, cookie.find(';'));
  now_ += std::chrono::hours(8) - std::chrono::seconds(1);
  EXPECT_EQ(Call("GET", "/metrics", {{"cookie", session}}).status, 200);
  now_ += std::chrono::seconds(1);
  EXPECT_EQ(Call("GET", "/metrics", {{"cookie", session}}).status, 401);
}

TEST_F(AccessGateTest, FailedLoginsAreThrottledPerUserAndPerAddress) {
  const std::string wrong = R"({"user":"admin_user","password":"guess"})";
  const std::string right = R"({"user":"admin_user","password":"pw-secret"})";
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Call("POST", "/api/login", {}, wrong).status, 401) << i;
  HttpResponse blocked = Call("POST", "/api/login", {}, wrong);
  EXPECT_EQ(blocked.status, 401);  // the sixth failure starts the backoff
  blocked = Call("POST", "/api/login", {}, right, "10.0.0.2");  // right password, other address: user blocked
  EXPECT_EQ(blocked.status, 429) << blocked.body;
  EXPECT_EQ(Header(blocked, "Retry-After"), "1");
  EXPECT_EQ(Call("GET", "/metrics", {Basic("admin_user", "pw-secret")}).status, 429);  // Basic too
  now_ += std::chrono::seconds(1);
  EXPECT_EQ(Call("POST", "/api/login", {}, right).status, 200);
  // Per address: many user names from one client.
  for (int i = 0; i < 20; ++i) Call("POST", "/api/login", {}, R"({"user":"u)" + std::to_string(i) + R"(","password":"x"})", "10.9.9.9");
  EXPECT_EQ(Call("POST", "/api/login", {}, R"({"user":"u99","password":"x"})", "10.9.9.9").status, 401);
  EXPECT_EQ(Call("POST", "/api/login", {}, right, "10.9.9.9").status, 429);
  EXPECT_EQ(Call("POST", "/api/login", {}, right, "10.0.0.3").status, 200);
}

TEST_F(AccessGateTest, AuditsMutationsLoginsAndRefusalsButNotReads) {
  EXPECT_EQ(Call("GET", "/api/pipelines", {Basic("viewer_user", "pw-secret")}).status, 200);
  EXPECT_EQ(Call("POST", "/api/pipelines/p/stop", {Basic("viewer_user", "pw-secret")}).status, 403);
  EXPECT_EQ(Call("POST", "/api/pipelines/p/stop", {{"authorization", std::string("Bearer ") + kToken}}).status, 200);
  EXPECT_EQ(Call("GET", "/metrics").status, 401);
  EXPECT_EQ(Call("POST", "/api/login", {}, R"({"user":"admin_user","password":"nope"})").status, 401);
  std::vector<nlohmann::json> lines = AuditLines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0]["who"], "viewer_user");
  EXPECT_EQ(lines[0]["action"], "pipeline.stop");
  EXPECT_EQ(lines[0]["result"].get<std::string>().rfind("refused: 403", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1]["who"], "ci");
  EXPECT_EQ(lines[1]["role"], "operator");
  EXPECT_EQ(lines[1]["object"], "pipeline/p");
  EXPECT_EQ(lines[1]["before"]["object"], "pipeline/p");
  EXPECT_EQ(lines[1]["result"], "ok");
  EXPECT_EQ(lines[2]["result"].get<std::string>().rfind("refused: 401", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3]["action"], "login");
  EXPECT_EQ(lines[3]["who"], "admin_user");
  EXPECT_EQ(lines[3]["result"].get<std::string>().rfind("failed: 401", 0), 0u) << lines[3];
  // No secret in the trail.
  for (const auto& l : lines) {
    std::string text = l.dump();
    EXPECT_EQ(text.find("pw-secret"), std::string::npos);
    EXPECT_EQ(text.find("nope"), std::string::npos);
    EXPECT_EQ(text.find(kToken), std::string::npos);
    EXPECT_EQ(text.find("$argon2id"), std::string::npos);
  }
  auto report = VerifyAudit(dir_.string());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->broken;
}

TEST_F(AccessGateTest, WithoutAuthEverythingPassesAndMutationsAreAuditedAsAnonymous) {
  AccessGate::Options o;
  o.audit = audit_.get();
  gate_ = std::make_unique<AccessGate>(std::move(o));
  EXPECT_EQ(Call("GET", "/metrics").status, 200);
  EXPECT_EQ(Call("POST", "/api/pipelines/p/stop").status, 200);
  EXPECT_EQ(Call("POST", "/api/login", {}, R"({"user":"a","password":"b"})").status, 404);
  EXPECT_EQ(reached_, 2);
  std::vector<nlohmann::json> lines = AuditLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["who"], "anonymous");
  EXPECT_EQ(lines[0]["action"], "pipeline.stop");
}

}  // namespace
}  // namespace sluice::server
