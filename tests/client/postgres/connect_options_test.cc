// ConnectOptions::FromUrl: TLS settings from a postgres:// URL.

#include <gtest/gtest.h>

#include "client/postgres/connection.h"
#include "core/url.h"

namespace sluice::postgres {
namespace {

Result<ConnectOptions> Parse(const std::string& text) {
  auto url = Url::Parse(text);
  if (!url.ok()) return url.status();
  return ConnectOptions::FromUrl(*url);
}

TEST(PgConnectOptionsTest, TlsModes) {
  EXPECT_EQ(Parse("postgres://u@h/db")->sslmode, "prefer");
  EXPECT_EQ(Parse("postgres://u@h/db?ca=/c.pem")->sslmode, "verify-full");
  EXPECT_EQ(Parse("postgres://u@h/db?ca=/c.pem&sslmode=verify-ca")->sslmode, "verify-ca");
  EXPECT_EQ(Parse("postgres://u@h/db?sslrootcert=/c.pem")->sslrootcert, "/c.pem");
  auto client = Parse("postgres://u@h/db?ca=/c.pem&cert=/u.pem&key=/u.key");
  ASSERT_TRUE(client.ok()) << client.status().message();
  EXPECT_EQ(client->sslcert, "/u.pem");
  EXPECT_EQ(client->sslkey, "/u.key");
}

TEST(PgConnectOptionsTest, RefusesTlsSettingsThatCannotHold) {
  auto no_ca = Parse("postgres://u:secret@h/db?sslmode=verify-full");
  ASSERT_FALSE(no_ca.ok());
  EXPECT_NE(no_ca.status().message().find("needs ca=PATH"), std::string::npos) << no_ca.status().message();
  EXPECT_EQ(no_ca.status().message().find("secret"), std::string::npos);
  EXPECT_FALSE(Parse("postgres://u@h/db?sslmode=verify-ca").ok());
  EXPECT_FALSE(Parse("postgres://u@h/db?sslmode=maybe").ok());
  auto half = Parse("postgres://u@h/db?cert=/u.pem");
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("both cert=PATH and key=PATH"), std::string::npos);
}

}  // namespace
}  // namespace sluice::postgres
