// MysqlConnection::Connect with an interrupter (libmariadb's non-blocking
// connect, waited for step by step) against real MariaDB servers: plain and
// TLS sessions work like blocking ones, errors keep their meaning, and an
// Interrupt ends a wait for a server that never answers the handshake.

#include "client/mysql/connection.h"

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <thread>
#include <vector>

#include "core/url.h"
#include "harness/mariadb_server.h"

namespace sluice::mysql {
namespace {

using sluice::testing::MariadbServer;
using sluice::testing::MariadbServerOptions;

ConnectOptions Options(const std::string& url) {
  auto u = Url::Parse(url);
  EXPECT_TRUE(u.ok());
  auto co = ConnectOptions::FromUrl(*u);
  EXPECT_TRUE(co.ok()) << co.status().message();
  return co.ok() ? *co : ConnectOptions{};
}

TEST(MysqlConnectTest, StepByStepConnectsPlainAndTlsSessions) {
  MariadbServerOptions o;
  o.server_id = 2;
  o.tls = true;
  auto server = MariadbServer::Start(o);
  ASSERT_TRUE(server.ok()) << server.status().message();
  Interrupter interrupter;
  const std::vector<std::string> all = {"?tls=disabled", "?tls=required", "?tls=verify_ca&ca=" + (*server)->ca_path()};
  for (const std::string& params : all) {
    auto c = MysqlConnection::Connect(Options((*server)->Url() + params), &interrupter);
    ASSERT_TRUE(c.ok()) << params << ": " << c.status().message();
    auto v = (*c)->QueryValue("SELECT CONCAT(1 + 1, '-', @@version_comment IS NOT NULL)");
    ASSERT_TRUE(v.ok()) << v.status().message();
    EXPECT_EQ(v->value_or(""), "2-1");
    EXPECT_EQ((*c)->tls_cipher() != nullptr, params != "?tls=disabled") << params;
    // A long result and a second statement on the same session: the
    // blocking calls work on a session connected step by step.
    auto rows = (*c)->Query("SELECT seq, REPEAT('x', 1000) FROM mysql.seq_1_to_3000");
    ASSERT_TRUE(rows.ok()) << rows.status().message();
    EXPECT_EQ(rows->size(), 3000u);
  }
  // Errors mean what they meant: a wrong password is not retryable, a
  // closed port is.
  auto denied = MysqlConnection::Connect(Options((*server)->Url("root", "wrong")), &interrupter);
  ASSERT_FALSE(denied.ok());
  EXPECT_FALSE(denied.status().retryable()) << denied.status().message();
  auto closed = MysqlConnection::Connect(Options("mysql://root@127.0.0.1:1"), &interrupter);
  ASSERT_FALSE(closed.ok());
  EXPECT_TRUE(closed.status().retryable()) << closed.status().message();
}

TEST(MysqlConnectTest, InterruptEndsAWaitForAServerThatNeverAnswers) {
  auto server = MariadbServer::Start({.server_id = 2});
  ASSERT_TRUE(server.ok()) << server.status().message();
  ASSERT_EQ(::kill((*server)->pid(), SIGSTOP), 0);  // accepts into its backlog, never greets
  ConnectOptions o = Options((*server)->Url());
  o.connect_timeout_s = 120;
  Interrupter interrupter;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    interrupter.Interrupt();
  });
  auto t0 = std::chrono::steady_clock::now();
  auto c = MysqlConnection::Connect(o, &interrupter);
  auto took = std::chrono::steady_clock::now() - t0;
  ::kill((*server)->pid(), SIGCONT);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().retryable());
  EXPECT_NE(c.status().message().find("interrupted"), std::string::npos) << c.status().message();
  EXPECT_LT(took, std::chrono::seconds(10));
  // The connect timeout still bounds the wait without an interrupt.
  ASSERT_EQ(::kill((*server)->pid(), SIGSTOP), 0);
  o.connect_timeout_s = 2;
  Interrupter idle;
  t0 = std::chrono::steady_clock::now();
  c = MysqlConnection::Connect(o, &idle);
  took = std::chrono::steady_clock::now() - t0;
  ::kill((*server)->pid(), SIGCONT);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().retryable()) << c.status().message();
  EXPECT_GE(took, std::chrono::milliseconds(1500));
  EXPECT_LT(took, std::chrono::seconds(30));
}

}  // namespace
}  // namespace sluice::mysql
