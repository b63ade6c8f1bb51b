// `sluice tail` against real MariaDB servers: output, authentication and TLS errors.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/run_command.h"
#include "harness/mariadb_server.h"

namespace sluice::testing {
namespace {

std::unique_ptr<MariadbServer> Start(MariadbServerOptions o = {}) {
  auto s = MariadbServer::Start(o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : nullptr;
}

TEST(TailServerTest, PrintsCommittedChangesFromEarliest) {
  auto s = Start();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Execute("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, status VARCHAR(10), "
                         "amount DECIMAL(10,2)); INSERT INTO shop.orders VALUES (7, 'new', 19.90); "
                         "UPDATE shop.orders SET status = 'paid' WHERE id = 7; DELETE FROM shop.orders WHERE id = 7")
                  .ok());
  auto r = RunSluice(fmt::format("tail --start earliest --limit 3 --source {}", ShellQuote(s->Url())), 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(CountLines(r.out), 3) << r.out;
  std::istringstream lines(r.out);
  std::string l1, l2, l3;
  std::getline(lines, l1);
  std::getline(lines, l2);
  std::getline(lines, l3);
  auto upd = nlohmann::json::parse(l2);
  EXPECT_EQ(upd["op"], "update");
  EXPECT_EQ(upd["pk"], nlohmann::json::array({"id"}));
  EXPECT_EQ(upd["before"], nlohmann::json::parse(R"({"id":7,"status":"new","amount":"19.90"})"));
  EXPECT_EQ(upd["after"], nlohmann::json::parse(R"({"id":7,"status":"paid","amount":"19.90"})"));
  EXPECT_EQ(upd["gtid"], "0-1-4");
  EXPECT_EQ(nlohmann::json::parse(l3)["op"], "delete");
}

TEST(TailServerTest, WrongPasswordIsAOneLineError) {
  auto s = Start();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->CreateUser("repl", "right").ok());
  auto r = RunSluice(fmt::format("tail --source 'mysql://repl:wrong@127.0.0.1:{}'", s->port()), 60);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("Access denied"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("wrong"), std::string::npos) << r.err;
}

TEST(TailServerTest, TlsRequiredRefusesAPlaintextServer) {
  MariadbServerOptions o;
  o.skip_ssl = true;
  auto s = Start(o);
  ASSERT_TRUE(s);
  auto r = RunSluice(fmt::format("tail --source 'mysql://root@127.0.0.1:{}?tls=required'", s->port()), 60);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("TLS"), std::string::npos) << r.err;
}

TEST(TailServerTest, TlsVerifiesTheServerCertificate) {
  MariadbServerOptions o;
  o.tls = true;
  auto s = Start(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Execute("CREATE DATABASE x; CREATE TABLE x.t (id INT PRIMARY KEY); INSERT INTO x.t VALUES (1)").ok());
  auto ok = RunSluice(fmt::format("tail --start earliest --limit 1 --source 'mysql://root@127.0.0.1:{}?tls=required&ca={}'",
                                  s->port(), s->ca_path()),
                      60);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(CountLines(ok.out), 1);
  // 127.0.0.2 is not in the certificate's names: verification must fail.
  auto bad = RunSluice(fmt::format("tail --start earliest --limit 1 --source 'mysql://root@127.0.0.2:{}?tls=required&ca={}'",
                                   s->port(), s->ca_path()),
                       60);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(CountLines(bad.err), 1) << bad.err;
  EXPECT_TRUE(bad.out.empty());
}

}  // namespace
}  // namespace sluice::testing
