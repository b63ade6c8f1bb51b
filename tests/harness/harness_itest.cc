// Integration tests of the MariaDB test harness itself: every later
// integration test stands on these behaviours.

#include <gtest/gtest.h>
#include <mysql.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>
#include <variant>

#include "harness/mariadb_server.h"

namespace sluice::testing {
namespace {

#define ASSERT_OK(expr)                                      \
  do {                                                       \
    const ::sluice::Status _st = (expr);                     \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st.message(); \
  } while (0)

#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                    \
  auto SLUICE_CONCAT(_r_, __LINE__) = (expr);                              \
  ASSERT_TRUE(SLUICE_CONCAT(_r_, __LINE__).ok())                           \
      << #expr << ": " << SLUICE_CONCAT(_r_, __LINE__).status().message(); \
  lhs = std::move(SLUICE_CONCAT(_r_, __LINE__)).value()

using Server = std::unique_ptr<MariadbServer>;

bool ProcessAlive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

struct MysqlCloser {
  void operator()(MYSQL* mysql) const { mysql_close(mysql); }
};
using Mysql = std::unique_ptr<MYSQL, MysqlCloser>;

struct TlsClientOptions {
  std::string ca;  // empty: no TLS requested
  bool verify_server_cert = false;
};

// A TCP client connection of the kind sluice opens, so the tests see what a
// real client sees. Returns the error text on failure.
std::variant<Mysql, std::string> ConnectTcp(const std::string& host, uint16_t port,
                                            const std::string& user, const std::string& password,
                                            const TlsClientOptions& tls = {}) {
  Mysql mysql(mysql_init(nullptr));
  unsigned timeout = 5;
  mysql_optionsv(mysql.get(), MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  if (!tls.ca.empty()) {
    my_bool on = 1;
    my_bool verify = tls.verify_server_cert ? 1 : 0;
    mysql_ssl_set(mysql.get(), nullptr, nullptr, tls.ca.c_str(), nullptr, nullptr);
    mysql_optionsv(mysql.get(), MYSQL_OPT_SSL_ENFORCE, &on);
    mysql_optionsv(mysql.get(), MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
  }
  if (!mysql_real_connect(mysql.get(), host.c_str(), user.c_str(), password.c_str(), nullptr, port,
                          nullptr, 0)) {
    return std::string(mysql_error(mysql.get()));
  }
  return mysql;
}

std::string ValueOf(MYSQL* mysql, const std::string& sql, int column = 0) {
  if (mysql_query(mysql, sql.c_str()) != 0) return "error: " + std::string(mysql_error(mysql));
  MYSQL_RES* result = mysql_store_result(mysql);
  if (!result) return "no result";
  MYSQL_ROW row = mysql_fetch_row(result);
  std::string value = row && row[column] ? row[column] : "NULL";
  mysql_free_result(result);
  return value;
}

TEST(HarnessMariadb, StartsQueriesAndStops) {
  auto began = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(Server server, MariadbServer::Start());
  std::printf("[timing] first server of this process: Start() %lld ms, of which mariadbd %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - began)
                                         .count()),
              static_cast<long long>(server->last_start_duration().count()));
  EXPECT_GT(server->port(), 0);
  EXPECT_TRUE(std::filesystem::exists(server->socket_path()));
  EXPECT_TRUE(ProcessAlive(server->pid()));
  EXPECT_EQ(server->Url(), fmt::format("mysql://root@127.0.0.1:{}", server->port()));
  EXPECT_EQ(server->Url("repl", "p@ss:w/rd"),
            fmt::format("mysql://repl:p%40ss%3Aw%2Frd@127.0.0.1:{}", server->port()));

  ASSERT_OK(server->Execute(R"sql(
      CREATE DATABASE shop;
      CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20), note TEXT);
      INSERT INTO shop.items VALUES (1, 'tea', NULL), (2, 'café ☕', 'x');
  )sql"));
  ASSERT_OK_AND_ASSIGN(MariadbServer::Rows rows,
                       server->Query("SELECT id, name, note FROM shop.items ORDER BY id"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (MariadbServer::Row{"1", "tea", std::nullopt}));
  EXPECT_EQ(rows[1], (MariadbServer::Row{"2", "café ☕", "x"}));
  ASSERT_OK_AND_ASSIGN(std::string count, server->QueryValue("SELECT COUNT(*) FROM shop.items"));
  EXPECT_EQ(count, "2");

  // The session persists between calls, as a client's would.
  ASSERT_OK(server->Execute("USE shop; SET @n = 41"));
  ASSERT_OK_AND_ASSIGN(std::string n, server->QueryValue("SELECT @n + COUNT(*) FROM items"));
  EXPECT_EQ(n, "43");
  // Query returns the first result set even behind other statements.
  ASSERT_OK_AND_ASSIGN(rows, server->Query("SET @m = 5; SELECT @m; SELECT 6"));
  EXPECT_EQ(rows, (MariadbServer::Rows{{"5"}}));

  // Root logs in without a password over TCP too.
  auto tcp = ConnectTcp("127.0.0.1", server->port(), "root", "");
  ASSERT_TRUE(std::holds_alternative<Mysql>(tcp)) << std::get<std::string>(tcp);

  pid_t pid = server->pid();
  std::string dir = server->dir();
  server.reset();
  EXPECT_FALSE(ProcessAlive(pid));
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(HarnessMariadb, ErrorsNameTheServerStatementAndCause) {
  ASSERT_OK_AND_ASSIGN(Server server, MariadbServer::Start());
  Status st = server->Execute("SELECT 1; SELEC 2; SELECT 3");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kServerError);
  EXPECT_NE(st.message().find(fmt::format("127.0.0.1:{}", server->port())), std::string::npos);
  EXPECT_NE(st.message().find("(statement 2)"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("ERROR 1064"), std::string::npos) << st.message();

  Result<std::string> missing = server->QueryValue("SELECT 1 FROM DUAL WHERE 0");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  Result<std::string> null = server->QueryValue("SELECT NULL");
  EXPECT_EQ(null.status().code(), StatusCode::kNotFound);
  Result<MariadbServer::Rows> bad_table = server->Query("SELECT * FROM nowhere.nothing");
  EXPECT_NE(bad_table.status().message().find("ERROR 1146"), std::string::npos)
      << bad_table.status().message();

  // The session survives a failed statement.
  ASSERT_OK_AND_ASSIGN(std::string one, server->QueryValue("SELECT 1"));
  EXPECT_EQ(one, "1");
}

TEST(HarnessMariadb, RejectsContradictoryOptions) {
  Result<Server> bad_metadata = MariadbServer::Start({.binlog_row_metadata = "EVERYTHING"});
  EXPECT_EQ(bad_metadata.status().code(), StatusCode::kInvalidArgument);
  Result<Server> both = MariadbServer::Start({.tls = true, .skip_ssl = true});
  EXPECT_EQ(both.status().code(), StatusCode::kInvalidArgument);
}

TEST(HarnessMariadb, StartFailureQuotesTheErrorLog) {
  Result<Server> server = MariadbServer::Start({.extra_args = {"--no-such-option-at-all"}});
  ASSERT_FALSE(server.ok());
  const std::string& message = server.status().message();
  EXPECT_NE(message.find("no-such-option-at-all"), std::string::npos) << message;
  EXPECT_NE(message.find("during startup"), std::string::npos) << message;
}

TEST(HarnessMariadb, BinlogIsRowWithChosenMetadata) {
  ASSERT_OK_AND_ASSIGN(Server full, MariadbServer::Start({.server_id = 11}));
  ASSERT_OK_AND_ASSIGN(
      MariadbServer::Rows vars,
      full->Query("SELECT @@log_bin, @@binlog_format, @@binlog_row_metadata, @@server_id, "
                  "@@log_bin_basename LIKE '%/binlog', @@character_set_server"));
  EXPECT_EQ(vars, (MariadbServer::Rows{{"1", "ROW", "FULL", "11", "1", "utf8mb4"}}));
  ASSERT_OK(
      full->Execute("CREATE DATABASE d; CREATE TABLE d.t (a INT); INSERT INTO d.t VALUES (1)"));
  ASSERT_OK_AND_ASSIGN(MariadbServer::Rows logs, full->Query("SHOW BINARY LOGS"));
  ASSERT_FALSE(logs.empty());
  EXPECT_EQ(logs[0][0], "binlog.000001");
  EXPECT_TRUE(std::filesystem::exists(full->datadir() + "/binlog.000001"));
  // The insert is logged as row events.
  ASSERT_OK_AND_ASSIGN(MariadbServer::Rows events,
                       full->Query("SHOW BINLOG EVENTS IN 'binlog.000001'"));
  bool saw_write_rows = false;
  for (const auto& event : events)
    saw_write_rows |= event[2] && event[2]->starts_with("Write_rows");
  EXPECT_TRUE(saw_write_rows);

  ASSERT_OK_AND_ASSIGN(Server minimal,
                       MariadbServer::Start({.server_id = 12, .binlog_row_metadata = "MINIMAL"}));
  ASSERT_OK_AND_ASSIGN(std::string metadata, minimal->QueryValue("SELECT @@binlog_row_metadata"));
  EXPECT_EQ(metadata, "MINIMAL");

  ASSERT_OK_AND_ASSIGN(Server no_binlog, MariadbServer::Start({.log_bin = false}));
  ASSERT_OK_AND_ASSIGN(std::string log_bin, no_binlog->QueryValue("SELECT @@log_bin"));
  EXPECT_EQ(log_bin, "0");
}

TEST(HarnessMariadb, ExtraArgsAndRelaxedDurabilityReachTheServer) {
  ASSERT_OK_AND_ASSIGN(
      Server server,
      MariadbServer::Start({.relaxed_durability = true, .extra_args = {"--binlog-checksum=NONE"}}));
  ASSERT_OK_AND_ASSIGN(MariadbServer::Rows vars,
                       server->Query("SELECT @@binlog_checksum, @@innodb_flush_log_at_trx_commit"));
  EXPECT_EQ(vars, (MariadbServer::Rows{{"NONE", "2"}}));
}

TEST(HarnessMariadb, RestartKeepsDataAndPort) {
  ASSERT_OK_AND_ASSIGN(Server server, MariadbServer::Start());
  ASSERT_OK(
      server->Execute("CREATE DATABASE d; CREATE TABLE d.t (a INT PRIMARY KEY); "
                      "INSERT INTO d.t VALUES (1), (2), (3)"));
  uint16_t port = server->port();
  pid_t old_pid = server->pid();
  ASSERT_OK(server->Restart());
  std::printf("[timing] restart: mariadbd ready in %lld ms\n",
              static_cast<long long>(server->last_start_duration().count()));
  EXPECT_EQ(server->port(), port);
  EXPECT_NE(server->pid(), old_pid);
  EXPECT_FALSE(ProcessAlive(old_pid));
  ASSERT_OK_AND_ASSIGN(std::string count, server->QueryValue("SELECT COUNT(*) FROM d.t"));
  EXPECT_EQ(count, "3");
  // A clean restart starts a new binlog file.
  ASSERT_OK_AND_ASSIGN(MariadbServer::Rows logs, server->Query("SHOW BINARY LOGS"));
  EXPECT_EQ(logs.size(), 2u);
  auto tcp = ConnectTcp("127.0.0.1", port, "root", "");
  EXPECT_TRUE(std::holds_alternative<Mysql>(tcp)) << std::get<std::string>(tcp);
}

TEST(HarnessMariadb, CrashLosesNoCommittedDataAndRestartRecovers) {
  ASSERT_OK_AND_ASSIGN(Server server, MariadbServer::Start());
  ASSERT_OK(
      server->Execute("CREATE DATABASE d; CREATE TABLE d.t (a INT PRIMARY KEY) ENGINE=InnoDB; "
                      "INSERT INTO d.t VALUES (1), (2)"));
  pid_t pid = server->pid();
  ASSERT_OK(server->Crash());
  EXPECT_EQ(server->pid(), -1);
  EXPECT_FALSE(ProcessAlive(pid));

  Status down = server->Execute("SELECT 1");
  EXPECT_FALSE(down.ok());
  EXPECT_NE(down.message().find("not running"), std::string::npos) << down.message();
  EXPECT_FALSE(server->Crash().ok());

  ASSERT_OK(server->Restart());
  ASSERT_OK_AND_ASSIGN(std::string count, server->QueryValue("SELECT COUNT(*) FROM d.t"));
  EXPECT_EQ(count, "2");
}

TEST(HarnessMariadb, FreshServerStartsAfterAnotherCrashed) {
  std::string crashed_dir;
  {
    ASSERT_OK_AND_ASSIGN(Server crashed, MariadbServer::Start({.server_id = 1}));
    crashed_dir = crashed->dir();
    ASSERT_OK(crashed->Crash());
  }
  EXPECT_FALSE(std::filesystem::exists(crashed_dir));
  ASSERT_OK_AND_ASSIGN(Server fresh, MariadbServer::Start({.server_id = 2}));
  ASSERT_OK_AND_ASSIGN(std::string id, fresh->QueryValue("SELECT @@server_id"));
  EXPECT_EQ(id, "2");
  // A fresh server is empty: nothing leaks between servers through the template.
  ASSERT_OK_AND_ASSIGN(std::string dbs,
                       fresh->QueryValue("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE "
                                         "SCHEMA_NAME NOT IN ('mysql', 'information_schema', "
                                         "'performance_schema', 'sys')"));
  EXPECT_EQ(dbs, "0");
}

TEST(HarnessMariadb, TwoServersRunAtOnce) {
  ASSERT_OK_AND_ASSIGN(Server a, MariadbServer::Start({.server_id = 1}));
  ASSERT_OK_AND_ASSIGN(Server b, MariadbServer::Start({.server_id = 2}));
  EXPECT_NE(a->port(), b->port());
  EXPECT_NE(a->dir(), b->dir());
  ASSERT_OK(a->Execute("CREATE DATABASE only_on_a"));
  ASSERT_OK_AND_ASSIGN(std::string on_b,
                       b->QueryValue("SELECT COUNT(*) FROM information_schema.SCHEMATA "
                                     "WHERE SCHEMA_NAME = 'only_on_a'"));
  EXPECT_EQ(on_b, "0");
  ASSERT_OK_AND_ASSIGN(std::string id_a, a->QueryValue("SELECT @@server_id"));
  ASSERT_OK_AND_ASSIGN(std::string id_b, b->QueryValue("SELECT @@server_id"));
  EXPECT_EQ(id_a, "1");
  EXPECT_EQ(id_b, "2");
}

TEST(HarnessMariadb, CreateUserCanLogInWithItsGrants) {
  ASSERT_OK_AND_ASSIGN(Server server, MariadbServer::Start());
  ASSERT_OK(
      server->CreateUser("repl", "p@ss'w\\rd", "REPLICATION SLAVE, REPLICATION CLIENT ON *.*"));
  auto tcp = ConnectTcp("127.0.0.1", server->port(), "repl", "p@ss'w\\rd");
  ASSERT_TRUE(std::holds_alternative<Mysql>(tcp)) << std::get<std::string>(tcp);
  MYSQL* mysql = std::get<Mysql>(tcp).get();
  // MariaDB 10.5+ shows REPLICATION CLIENT under its new name, BINLOG MONITOR.
  std::string grants = ValueOf(mysql, "SHOW GRANTS");
  EXPECT_TRUE(grants.starts_with("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `repl`@`%`"))
      << grants;
  // Only what was granted.
  EXPECT_NE(ValueOf(mysql, "CREATE DATABASE nope").find("denied"), std::string::npos);

  auto wrong = ConnectTcp("127.0.0.1", server->port(), "repl", "wrong");
  EXPECT_TRUE(std::holds_alternative<std::string>(wrong));

  // Calling it again replaces the password.
  ASSERT_OK(server->CreateUser("repl", "second"));
  auto again = ConnectTcp("127.0.0.1", server->port(), "repl", "second");
  EXPECT_TRUE(std::holds_alternative<Mysql>(again)) << std::get<std::string>(again);
  ASSERT_OK_AND_ASSIGN(std::string hosts,
                       server->QueryValue("SELECT GROUP_CONCAT(Host ORDER BY Host) FROM mysql.user "
                                          "WHERE User = 'repl'"));
  EXPECT_EQ(hosts, "%,localhost");
}

TEST(HarnessMariadb, TlsServerEncryptsAndVerifies) {
  ASSERT_OK_AND_ASSIGN(Server server, MariadbServer::Start({.tls = true}));
  ASSERT_OK_AND_ASSIGN(std::string have_ssl, server->QueryValue("SELECT @@have_ssl"));
  EXPECT_EQ(have_ssl, "YES");
  ASSERT_FALSE(server->ca_path().empty());
  EXPECT_TRUE(std::filesystem::exists(server->ca_path()));

  // Verified TLS to 127.0.0.1 (in the certificate's subjectAltName).
  auto verified = ConnectTcp("127.0.0.1", server->port(), "root", "",
                             {.ca = server->ca_path(), .verify_server_cert = true});
  ASSERT_TRUE(std::holds_alternative<Mysql>(verified)) << std::get<std::string>(verified);
  MYSQL* mysql = std::get<Mysql>(verified).get();
  const char* cipher = mysql_get_ssl_cipher(mysql);
  ASSERT_NE(cipher, nullptr);
  EXPECT_EQ(ValueOf(mysql, "SHOW SESSION STATUS LIKE 'Ssl_cipher'", 1), cipher);

  // 127.0.0.2 reaches the same server but is not in the certificate.
  auto mismatch = ConnectTcp("127.0.0.2", server->port(), "root", "",
                             {.ca = server->ca_path(), .verify_server_cert = true});
  EXPECT_TRUE(std::holds_alternative<std::string>(mismatch));
  auto unverified = ConnectTcp("127.0.0.2", server->port(), "root", "", {.ca = server->ca_path()});
  ASSERT_TRUE(std::holds_alternative<Mysql>(unverified)) << std::get<std::string>(unverified);
  EXPECT_NE(mysql_get_ssl_cipher(std::get<Mysql>(unverified).get()), nullptr);

  // Each TLS server has its own CA: this server's CA does not vouch for another.
  ASSERT_OK_AND_ASSIGN(Server other, MariadbServer::Start({.tls = true}));
  auto foreign = ConnectTcp("127.0.0.1", other->port(), "root", "",
                            {.ca = server->ca_path(), .verify_server_cert = true});
  EXPECT_TRUE(std::holds_alternative<std::string>(foreign));
}

TEST(HarnessMariadb, SkipSslServerHasNoTls) {
  ASSERT_OK_AND_ASSIGN(Server server, MariadbServer::Start({.skip_ssl = true}));
  ASSERT_OK_AND_ASSIGN(std::string have_ssl, server->QueryValue("SELECT @@have_ssl"));
  EXPECT_EQ(have_ssl, "DISABLED");
}

TEST(HarnessMariadb, KillBinlogDumpThreadsFailsWhenThereIsNone) {
  ASSERT_OK_AND_ASSIGN(Server server, MariadbServer::Start());
  auto began = std::chrono::steady_clock::now();
  Status st = server->KillBinlogDumpThreads();
  auto waited = std::chrono::steady_clock::now() - began;
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.message();
  EXPECT_NE(st.message().find("Binlog Dump"), std::string::npos) << st.message();
  EXPECT_GE(waited, std::chrono::seconds(5));
}

TEST(HarnessMariadb, KillBinlogDumpThreadsKillsAReplicasStream) {
  ASSERT_OK_AND_ASSIGN(Server primary, MariadbServer::Start({.server_id = 1}));
  ASSERT_OK_AND_ASSIGN(Server replica, MariadbServer::Start({.server_id = 2}));
  ASSERT_OK(primary->CreateUser("repl", "pw", "REPLICATION SLAVE ON *.*"));
  ASSERT_OK(replica->Execute(fmt::format(
      "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = 'repl', "
      "MASTER_PASSWORD = 'pw', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1; START SLAVE",
      primary->port())));
  ASSERT_OK(primary->KillBinlogDumpThreads());
  // The replica notices and reconnects; replication carries on.
  ASSERT_OK(primary->Execute("CREATE DATABASE after_kill"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string seen = "0";
  while (seen != "1" && std::chrono::steady_clock::now() < deadline) {
    ASSERT_OK_AND_ASSIGN(seen,
                         replica->QueryValue("SELECT COUNT(*) FROM information_schema.SCHEMATA "
                                             "WHERE SCHEMA_NAME = 'after_kill'"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(seen, "1");
}

TEST(HarnessMariadb, ServerStartedOnAShortLivedThreadOutlivesIt) {
  // Children die with the thread that forked them (PR_SET_PDEATHSIG); the
  // harness forks on a thread of its own so this does not happen.
  Result<Server> started = Status::Error(StatusCode::kCancelled, "not run");
  std::thread([&] { started = MariadbServer::Start(); }).join();
  ASSERT_TRUE(started.ok()) << started.status().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(ProcessAlive((*started)->pid()));
  ASSERT_OK_AND_ASSIGN(std::string one, (*started)->QueryValue("SELECT 1"));
  EXPECT_EQ(one, "1");
}

TEST(HarnessMariadb, StartTime) {
  constexpr int kServers = 5;
  long long total = 0;
  long long worst = 0;
  for (int i = 0; i < kServers; ++i) {
    auto began = std::chrono::steady_clock::now();
    ASSERT_OK_AND_ASSIGN(Server server,
                         MariadbServer::Start({.server_id = static_cast<uint32_t>(i + 1)}));
    long long start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - began)
                             .count();
    auto stop_began = std::chrono::steady_clock::now();
    server.reset();
    long long stop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - stop_began)
                            .count();
    std::printf("[timing] server %d: start %lld ms, stop %lld ms\n", i + 1, start_ms, stop_ms);
    total += start_ms;
    worst = std::max(worst, start_ms);
  }
  std::printf("[timing] mean start %lld ms, worst %lld ms\n", total / kServers, worst);
  RecordProperty("mean_start_ms", static_cast<int>(total / kServers));
  // A loose bound: the goal is < 1.5 s; a loaded CI machine gets slack.
  EXPECT_LT(worst, 10000);
}

}  // namespace
}  // namespace sluice::testing
