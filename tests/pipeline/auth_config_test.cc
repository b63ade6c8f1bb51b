// `auth:`, `http_tls:` and `audit:` (design section 11) and the loopback rule.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "pipeline/config.h"

namespace sluice::pipeline {
namespace {

constexpr const char* kHash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";

std::string Yaml(const std::string& http, const std::string& extra) {
  return "http: " + http + R"(
sources:
  main: {url: "mysql://repl@127.0.0.1:3306"}
targets:
  t: {url: "mysql://app@127.0.0.1:3307"}
pipelines:
  - {name: p, source: main, targets: [t], tables: [{match: "shop.*"}]}
)" + extra;
}

std::string Error(const std::string& yaml) {
  auto c = ParseConfig(yaml, "/etc/sluice/s.yaml");
  return c.ok() ? "" : c.status().message();
}

TEST(AuthConfig, NonLoopbackNeedsAuth) {
  std::string e = Error(Yaml("0.0.0.0:8700", ""));
  EXPECT_EQ(e.rfind("/etc/sluice/s.yaml:1:7: http: ", 0), 0u) << e;
  EXPECT_NE(e.find("auth"), std::string::npos) << e;
  EXPECT_NE(Error(Yaml(":8700", "")), "");
  EXPECT_NE(Error(Yaml("10.1.2.3:8700", "")), "");
  EXPECT_EQ(Error(Yaml("127.0.0.1:8700", "")), "");
  EXPECT_EQ(Error(Yaml("\"[::1]:8700\"", "")), "");
  EXPECT_EQ(Error(Yaml("localhost:8700", "")), "");
  EXPECT_TRUE(IsLoopbackListen("127.1.2.3:1"));
  EXPECT_FALSE(IsLoopbackListen("127.0.0.1.evil.example:1"));
  std::string with_auth = "auth:\n  users: [{name: alice, password_hash: \"" + std::string(kHash) + "\", role: admin}]\n";
  auto c = ParseConfig(Yaml("0.0.0.0:8700", with_auth), "s.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->auth.has_value());
  EXPECT_EQ(c->auth->users.at(0).name, "alice");
  EXPECT_EQ(c->auth->users.at(0).role, "admin");
  EXPECT_EQ(c->auth->users.at(0).password_hash, kHash);
}

TEST(AuthConfig, TokensComeFromTheEnvironment) {
  ::setenv("SLUICE_AUTH_CONFIG_TEST_TOKEN", "0123456789abcdef0123", 1);
  auto c = ParseConfig(
      Yaml("127.0.0.1:8700", "auth:\n  tokens: [{name: ci, token_env: SLUICE_AUTH_CONFIG_TEST_TOKEN, role: operator}]\n"),
      "s.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->auth->tokens.at(0).token, "0123456789abcdef0123");
  std::string e = Error(Yaml("127.0.0.1:8700", "auth:\n  tokens: [{name: ci, token_env: SLUICE_UNSET_TOKEN_X, role: operator}]\n"));
  EXPECT_NE(e.find("s.yaml:9:"), std::string::npos) << e;
  EXPECT_NE(e.find("auth.tokens[0].token_env: environment variable SLUICE_UNSET_TOKEN_X is not set"), std::string::npos) << e;
  ::setenv("SLUICE_AUTH_CONFIG_TEST_SHORT", "shortsecret", 1);
  e = Error(Yaml("127.0.0.1:8700", "auth:\n  tokens: [{name: ci, token_env: SLUICE_AUTH_CONFIG_TEST_SHORT, role: operator}]\n"));
  EXPECT_NE(e.find("too short"), std::string::npos) << e;
  EXPECT_EQ(e.find("shortsecret"), std::string::npos) << e;  // the value is never printed
}

TEST(AuthConfig, ErrorsNameFileLineAndKeyButNeverTheSecret) {
  std::string e = Error(Yaml("127.0.0.1:8700", "auth:\n  users: [{name: a, password_hash: \"hunter2\", role: admin}]\n"));
  EXPECT_NE(e.find("s.yaml:9:"), std::string::npos) << e;
  EXPECT_NE(e.find("auth.users[0].password_hash"), std::string::npos) << e;
  EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
  e = Error(Yaml("127.0.0.1:8700", "auth:\n  users: [{name: a, password_hash: \"" + std::string(kHash) + "\", role: root}]\n"));
  EXPECT_NE(e.find("auth.users[0].role"), std::string::npos) << e;
  EXPECT_EQ(e.find(kHash), std::string::npos) << e;
  e = Error(Yaml("127.0.0.1:8700", "auth:\n  user: []\n"));
  EXPECT_NE(e.find("auth.user: unknown key (did you mean \"users\"?)"), std::string::npos) << e;
  e = Error(Yaml("127.0.0.1:8700", "auth: {}\n"));
  EXPECT_NE(e.find("no users and no tokens"), std::string::npos) << e;
  e = Error(Yaml("127.0.0.1:8700", "auth:\n  users: [{name: a, password_hash: \"" + std::string(kHash) +
                                       "\", role: admin}, {name: a, password_hash: \"" + kHash + "\", role: viewer}]\n"));
  EXPECT_NE(e.find("defined twice"), std::string::npos) << e;
}

TEST(AuthConfig, TlsAndAudit) {
  auto dir = std::filesystem::temp_directory_path() / ("sluice-authcfg-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "c.pem") << "x";
  std::ofstream(dir / "k.pem") << "x";
  auto c = ParseConfig(Yaml("127.0.0.1:8700", "http_tls: {cert: c.pem, key: k.pem}\naudit: {path: audit}\n"),
                       (dir / "s.yaml").string());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->http_tls->cert, (dir / "c.pem").string());
  EXPECT_EQ(c->audit->path, (dir / "audit").string());
  EXPECT_EQ(c->audit->retention_days, 2555u);
  std::string e = Error(Yaml("127.0.0.1:8700", "http_tls: {cert: /nonexistent/c.pem, key: /nonexistent/k.pem}\n"));
  EXPECT_NE(e.find("http_tls.cert: \"/nonexistent/c.pem\" is not a file"), std::string::npos) << e;
  e = Error(Yaml("127.0.0.1:8700", "audit: {path: /tmp, retention_days: 0}\n"));
  EXPECT_NE(e.find("audit.retention_days"), std::string::npos) << e;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::pipeline
