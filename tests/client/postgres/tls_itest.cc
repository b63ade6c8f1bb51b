// TLS to PostgreSQL (client/postgres/connection.h): verify-full checks the
// CA and the host name, a CA given alone means verify-full, and a server
// without TLS is an error under require, never a plaintext session.

#include <gtest/gtest.h>

#include <filesystem>

#include "client/postgres/connection.h"
#include "client/postgres/replication_stream.h"
#include "core/url.h"
#include "harness/postgres_server.h"
#include "harness/test_certificate.h"

namespace sluice::postgres {
namespace {

using sluice::testing::PostgresServer;
using sluice::testing::PostgresServerOptions;

std::unique_ptr<PostgresServer> StartServer(bool tls) {
  PostgresServerOptions o;
  o.tls = tls;
  o.logical_replication = true;
  auto pg = PostgresServer::Start(o);
  EXPECT_TRUE(pg.ok()) << pg.status().message();
  if (!pg.ok()) return nullptr;
  EXPECT_TRUE((*pg)->CreateUser("app", "pw").ok());
  return std::move(pg).value();
}

Result<std::unique_ptr<PgConnection>> ConnectTo(const std::string& url_text) {
  ASSIGN_OR_RETURN(Url url, Url::Parse(url_text));
  ASSIGN_OR_RETURN(ConnectOptions o, ConnectOptions::FromUrl(url));
  return PgConnection::Connect(o);
}

std::string Query1(PgConnection& c, const std::string& sql) {
  auto rows = c.Query(sql);
  if (!rows.ok() || rows->empty() || (*rows)[0].empty() || !(*rows)[0][0]) return "?";
  return *(*rows)[0][0];
}

TEST(PgTlsTest, ACaAloneMeansVerifyFullAndTheSessionIsEncrypted) {
  auto pg = StartServer(/*tls=*/true);
  ASSERT_TRUE(pg);
  const std::string url = pg->Url("app", "pw", "postgres") + "?ca=" + pg->ca_path();
  auto o = ConnectOptions::FromUrl(*Url::Parse(url));
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->sslmode, "verify-full");
  auto c = PgConnection::Connect(*o);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE((*c)->encrypted());
  EXPECT_EQ(Query1(**c, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), "t");

  // The replication connection (the source's transport) takes the same path.
  auto stream = ReplicationStream::Connect(*o);
  ASSERT_TRUE(stream.ok()) << stream.status().message();
  EXPECT_TRUE((*stream)->sql().encrypted());
  EXPECT_EQ(Query1(**c, "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                        "WHERE a.backend_type = 'walsender' AND s.ssl"),
            "1");
}

TEST(PgTlsTest, AnotherCaOrAnotherHostNameIsRefused) {
  auto pg = StartServer(/*tls=*/true);
  ASSERT_TRUE(pg);
  const std::string other_dir = pg->dir() + "/other";
  std::filesystem::create_directories(other_dir);
  auto other = sluice::testing::MakeTestCertificate(other_dir, "other");
  ASSERT_TRUE(other.ok()) << other.status().message();

  auto wrong_ca = ConnectTo(pg->Url("app", "pw", "postgres") + "?ca=" + other->cert);
  ASSERT_FALSE(wrong_ca.ok());
  EXPECT_NE(wrong_ca.status().message().find("certificate verify failed"), std::string::npos)
      << wrong_ca.status().message();

  // The certificate names 127.0.0.1; "localhost" is another name.
  std::string by_name = pg->Url("app", "pw", "postgres");
  by_name.replace(by_name.find("127.0.0.1"), 9, "localhost");
  auto wrong_name = ConnectTo(by_name + "?ca=" + pg->ca_path());
  ASSERT_FALSE(wrong_name.ok());
  EXPECT_NE(wrong_name.status().message().find("does not match host name"), std::string::npos)
      << wrong_name.status().message();
  // verify-ca checks the CA only.
  auto ca_only = ConnectTo(by_name + "?sslmode=verify-ca&ca=" + pg->ca_path());
  ASSERT_TRUE(ca_only.ok()) << ca_only.status().message();
  EXPECT_TRUE((*ca_only)->encrypted());
}

TEST(PgTlsTest, AServerWithoutTlsIsAnErrorUnderRequireNotPlaintext) {
  auto pg = StartServer(/*tls=*/false);
  ASSERT_TRUE(pg);
  auto c = ConnectTo(pg->Url("app", "pw", "postgres") + "?sslmode=require");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("server does not support SSL"), std::string::npos) << c.status().message();
  auto plain = ConnectTo(pg->Url("app", "pw", "postgres") + "?sslmode=disable");
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_FALSE((*plain)->encrypted());
}

}  // namespace
}  // namespace sluice::postgres
