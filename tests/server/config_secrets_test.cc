#include "server/config_secrets.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace sluice::server {
namespace {

const char* kConfig = R"(# the primary
sources:
  main: {url: "mysql://repl:s3cret-Pw@127.0.0.1:3306", server_id: 4242}
targets:
  search:
    url: mysql://app:An0ther@127.0.0.1:3307/db   # a comment stays
  bus: {url: "kafka://127.0.0.1:9092", properties: {sasl.password: 'k@fka''pw'}}
auth:
  users:
    - {name: alice, password_hash: "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", role: admin}
    - name: bob
      password_hash: $argon2id$v=19$m=65536,t=2,p=1$b2JzYWx0$Ym9iaGFzaA
      role: viewer
  tokens: [{name: ci, token_env: SLUICE_CI_TOKEN, role: operator}]
alarms:
  webhook: {url: "https://hook:w3bhook@alerts.example/x"}
)";

TEST(ConfigSecretsTest, MaskHidesEveryPasswordHashAndUrlPasswordAndKeepsTheRest) {
  const std::string masked = MaskConfigSecrets(kConfig);
  for (const char* secret : {"s3cret-Pw", "An0ther", "k@fka", "c2FsdA", "b2JzYWx0", "w3bhook"}) {
    EXPECT_EQ(masked.find(secret), std::string::npos) << secret << " in:\n" << masked;
  }
  // Where a secret lives is not one; neither are users, hosts and comments.
  for (const char* kept : {"token_env: SLUICE_CI_TOKEN", "mysql://repl:********@127.0.0.1:3306",
                           "# a comment stays", "name: bob", "role: viewer", "# the primary"}) {
    EXPECT_NE(masked.find(kept), std::string::npos) << kept << " missing from:\n" << masked;
  }
  // Same lines, and still YAML with the masked values where the secrets were.
  EXPECT_EQ(std::count(masked.begin(), masked.end(), '\n'), std::count(kConfig, kConfig + strlen(kConfig), '\n'));
  YAML::Node doc = YAML::Load(masked);
  EXPECT_EQ(doc["auth"]["users"][0]["password_hash"].as<std::string>(), kMaskedSecret);
  EXPECT_EQ(doc["auth"]["users"][1]["password_hash"].as<std::string>(), kMaskedSecret);
  EXPECT_EQ(doc["targets"]["bus"]["properties"]["sasl.password"].as<std::string>(), kMaskedSecret);
  EXPECT_EQ(doc["targets"]["search"]["url"].as<std::string>(), "mysql://app:********@127.0.0.1:3307/db");
}

TEST(ConfigSecretsTest, SecretQueryParametersOfAUrlAreMaskedAndRestored) {
  constexpr const char* kUrls = R"(targets:
  bus: {url: "kafka://b1:9092?sasl.username=app&sasl.password=Qu3ry-Pw&acks=all"}
alarms:
  webhook: {url: "https://hooks.example.com/in?channel=ops&token=T0k3n-9#frag"}
)";
  const std::string masked = MaskConfigSecrets(kUrls);
  EXPECT_EQ(masked.find("Qu3ry-Pw"), std::string::npos) << masked;
  EXPECT_EQ(masked.find("T0k3n-9"), std::string::npos) << masked;
  EXPECT_NE(masked.find("kafka://b1:9092?sasl.username=app&sasl.password=********&acks=all"), std::string::npos)
      << masked;
  EXPECT_NE(masked.find("in?channel=ops&token=********#frag"), std::string::npos) << masked;
  Result<std::string> restored = RestoreConfigSecrets(masked, kUrls, "sluice.yaml");
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  EXPECT_EQ(*restored, kUrls);
  EXPECT_EQ(RedactConfigSecrets("refused: token T0k3n-9", kUrls), "refused: token ********");
  Result<std::string> orphan = RestoreConfigSecrets(masked, "targets: {}\n", "sluice.yaml");
  ASSERT_FALSE(orphan.ok());
  EXPECT_NE(orphan.status().message().find("targets.bus.url (the URL's sasl.password parameter)"), std::string::npos)
      << orphan.status().message();
}

TEST(ConfigSecretsTest, RestoreKeepsTheSavedSecretsWhereTheMaskCameBack) {
  std::string edited = MaskConfigSecrets(kConfig);
  // The user changes a role and the server id, and reorders nothing else.
  edited.replace(edited.find("role: viewer"), 12, "role: operator");
  edited.replace(edited.find("4242"), 4, "4243");
  Result<std::string> restored = RestoreConfigSecrets(edited, kConfig, "cluster.yaml");
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  std::string expected = kConfig;
  expected.replace(expected.find("role: viewer"), 12, "role: operator");
  expected.replace(expected.find("4242"), 4, "4243");
  YAML::Node want = YAML::Load(expected);
  YAML::Node got = YAML::Load(*restored);
  EXPECT_EQ(got["auth"]["users"][1]["password_hash"].as<std::string>(),
            want["auth"]["users"][1]["password_hash"].as<std::string>());
  EXPECT_EQ(got["auth"]["users"][0]["password_hash"].as<std::string>(),
            want["auth"]["users"][0]["password_hash"].as<std::string>());
  EXPECT_EQ(got["targets"]["bus"]["properties"]["sasl.password"].as<std::string>(), "k@fka'pw");
  EXPECT_EQ(got["sources"]["main"]["url"].as<std::string>(), "mysql://repl:s3cret-Pw@127.0.0.1:3306");
  EXPECT_EQ(got["targets"]["search"]["url"].as<std::string>(), "mysql://app:An0ther@127.0.0.1:3307/db");
  EXPECT_EQ(got["alarms"]["webhook"]["url"].as<std::string>(), "https://hook:w3bhook@alerts.example/x");
  EXPECT_EQ(got["auth"]["users"][1]["role"].as<std::string>(), "operator");
  EXPECT_EQ(got["sources"]["main"]["server_id"].as<int>(), 4243);
}

TEST(ConfigSecretsTest, RestoreFollowsListItemsByNameNotByPlace) {
  const std::string saved =
      "auth:\n  users:\n    - {name: alice, password_hash: \"HASH-A\", role: admin}\n"
      "    - {name: bob, password_hash: \"HASH-B\", role: viewer}\n";
  const std::string edited =
      "auth:\n  users:\n    - {name: bob, password_hash: \"********\", role: viewer}\n"
      "    - {name: alice, password_hash: \"********\", role: admin}\n";
  Result<std::string> restored = RestoreConfigSecrets(edited, saved, "c.yaml");
  ASSERT_TRUE(restored.ok()) << restored.status().message();
  YAML::Node got = YAML::Load(*restored);
  EXPECT_EQ(got["auth"]["users"][0]["password_hash"].as<std::string>(), "HASH-B");
  EXPECT_EQ(got["auth"]["users"][1]["password_hash"].as<std::string>(), "HASH-A");
}

TEST(ConfigSecretsTest, AMaskWithNothingSavedBehindItIsAnErrorNamingLineAndKey) {
  const std::string saved = "auth:\n  users:\n    - {name: alice, password_hash: \"HASH-A\", role: admin}\n";
  const std::string edited =
      "auth:\n  users:\n    - {name: alice, password_hash: \"********\", role: admin}\n"
      "    - {name: carol, password_hash: \"********\", role: viewer}\n";
  Result<std::string> restored = RestoreConfigSecrets(edited, saved, "c.yaml");
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(restored.status().message().find("c.yaml:4: auth.users[carol].password_hash"), std::string::npos)
      << restored.status().message();
}

TEST(ConfigSecretsTest, NewSecretsAreTakenAsWritten) {
  const std::string saved = "targets:\n  t: {url: \"mysql://u:old@h:1\"}\n";
  const std::string edited = "targets:\n  t: {url: \"mysql://u:new@h:1\"}\n";
  Result<std::string> restored = RestoreConfigSecrets(edited, saved, "c.yaml");
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(*restored, edited);
}

TEST(ConfigSecretsTest, TextThatDoesNotParseIsNotShown) {
  const std::string broken = "auth: {users: [{name: a, password_hash: \"HASH\"\n";
  const std::string masked = MaskConfigSecrets(broken);
  EXPECT_EQ(masked.find("HASH"), std::string::npos);
  EXPECT_EQ(masked.rfind("#", 0), 0u);
}

TEST(ConfigSecretsTest, ABlockScalarSecretHidesTheWholeText) {
  const std::string text = "targets:\n  t:\n    properties:\n      sasl.password: |\n        hunter22\n";
  const std::string masked = MaskConfigSecrets(text);
  EXPECT_EQ(masked.find("hunter22"), std::string::npos) << masked;
}

TEST(ConfigSecretsTest, RedactHidesSecretsAMessageQuotes) {
  const std::string message =
      "c.yaml:3: sources.main.url: \"mysql://repl:s3cret-Pw@127.0.0.1:3306\" cannot be reached; hook w3bhook";
  const std::string redacted = RedactConfigSecrets(message, kConfig);
  EXPECT_EQ(redacted, "c.yaml:3: sources.main.url: \"mysql://repl:********@127.0.0.1:3306\" cannot be reached; "
                      "hook ********");
}

}  // namespace
}  // namespace sluice::server
