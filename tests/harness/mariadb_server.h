#pragma once
// A private MariaDB server for integration tests.
//
// MariadbServer::Start() copies a pre-initialised datadir (one template per
// build directory, created once with mariadb-install-db under a file lock),
// starts `mariadbd` on a free loopback port with its own socket, and returns
// when the server accepts connections. The object owns the process and its
// temporary directory: the destructor stops the server and deletes the
// directory. A crashed or killed test binary takes its servers with it (see
// harness/process.h), and an atexit hook stops servers that were never
// destroyed.
//
// The server runs as the current user (`--user=root` when that is root),
// writes ROW binlogs named binlog.NNNNNN into its datadir, uses utf8mb4 as
// the server character set, keeps InnoDB's durability defaults unless told
// otherwise, and lets root in without a password over the socket and over TCP
// from any host.
//
// Threads: Start, Restart, Crash and the destructor belong to the thread that
// owns the object. Execute, Query, QueryValue, CreateUser and
// KillBinlogDumpThreads may be called from any thread; they share one admin
// session (so `USE db` or `SET @x` carry over between calls) and run one at a
// time. A test that needs concurrent sessions opens its own connections to
// port() or socket_path().
//
// Environment: SLUICE_KEEP_TEST_DIRS=1 keeps each server's directory (data,
// error.log, mariadbd.out) after the test; SLUICE_HARNESS_CACHE_DIR moves the
// template (default: <build dir>/harness). Directories of test processes that
// died without cleaning up are removed by the next process's first Start().
//
// In a test:
//     auto server = MariadbServer::Start({.server_id = 2});
//     ASSERT_TRUE(server.ok()) << server.status().message();
//     ASSERT_TRUE((*server)->Execute("CREATE DATABASE shop").ok());

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct st_mysql;  // MYSQL from <mysql.h>, kept out of this header.

namespace sluice::testing {

struct MariadbServerOptions {
  uint32_t server_id = 1;
  std::string binlog_row_metadata = "FULL";  // FULL | MINIMAL | NO_LOG
  bool log_bin = true;                       // --log-bin=binlog --binlog-format=ROW
  // A private CA and a server certificate (subjectAltName DNS:localhost,
  // IP:127.0.0.1) are generated into dir(); the server listens on 127.0.0.1
  // and 127.0.0.2 so that a client can provoke a host name mismatch.
  bool tls = false;
  bool skip_ssl = false;  // --skip-ssl; excludes tls
  // innodb_flush_log_at_trx_commit=2 and sync_binlog=0: faster bulk loads, but
  // a Crash() may lose the last second of commits. Off by default so that
  // crash tests see the durability a production server gives.
  bool relaxed_durability = false;
  std::vector<std::string> extra_args;  // appended last, e.g. "--binlog-checksum=NONE"
};

class MariadbServer {
 public:
  using Row = std::vector<std::optional<std::string>>;  // NULL is nullopt
  using Rows = std::vector<Row>;

  [[nodiscard]] static Result<std::unique_ptr<MariadbServer>> Start(MariadbServerOptions opts = {});

  MariadbServer(const MariadbServer&) = delete;
  MariadbServer& operator=(const MariadbServer&) = delete;
  // Stops the server (SIGTERM, then SIGKILL if it has not exited after 30 s)
  // and removes dir(), unless SLUICE_KEEP_TEST_DIRS is set in the environment.
  ~MariadbServer();

  uint16_t port() const { return port_; }
  const std::string& socket_path() const { return socket_path_; }
  const std::string& dir() const { return dir_; }
  const std::string& datadir() const { return datadir_; }
  const std::string& error_log_path() const { return error_log_; }
  const std::string& ca_path() const { return ca_path_; }  // "" unless tls
  const MariadbServerOptions& options() const { return opts_; }
  // Process id of the running server, -1 after Crash().
  pid_t pid() const { return pid_; }
  // Wall time of the last start: from launching mariadbd until it accepted a
  // connection (Start() additionally copies the datadir and makes certificates).
  std::chrono::milliseconds last_start_duration() const { return last_start_duration_; }

  // "mysql://user:password@127.0.0.1:PORT", user and password percent-encoded;
  // ":password" is left out when the password is empty.
  std::string Url(std::string_view user = "root", std::string_view password = "") const;

  // Runs one or more ';'-separated statements and drains every result.
  [[nodiscard]] Status Execute(std::string_view sql);
  // Rows of the first result set the statements produce (empty if none do).
  [[nodiscard]] Result<Rows> Query(std::string_view sql);
  // First column of the first row; kNotFound if there is no row or it is NULL.
  [[nodiscard]] Result<std::string> QueryValue(std::string_view sql);
  // (Re)creates user@'%' and user@'localhost' with `password` and grants
  // `grants` ("<privileges> ON <object>") to both.
  [[nodiscard]] Status CreateUser(std::string_view user, std::string_view password,
                                  std::string_view grants = "ALL PRIVILEGES ON *.*");
  // KILLs every connection whose COMMAND is 'Binlog Dump' (a replica's or
  // sluice's binlog stream). Waits up to 5 s for one to appear; fails if none
  // does.
  [[nodiscard]] Status KillBinlogDumpThreads();

  // Shuts the server down cleanly (if it is running) and starts it again on
  // the same datadir and port. After Crash() this is crash recovery.
  [[nodiscard]] Status Restart();
  // SIGKILLs the server, as a power cut would; it stays down until Restart().
  [[nodiscard]] Status Crash();

 private:
  struct MysqlCloser {
    void operator()(st_mysql* mysql) const;
  };
  using MysqlPtr = std::unique_ptr<st_mysql, MysqlCloser>;

  MariadbServer(MariadbServerOptions opts, std::string dir);

  std::vector<std::string> CommandLine() const;
  // Launches mariadbd on port_ and waits until it accepts connections. Sets
  // *port_taken when it failed because another process holds the port.
  Status Launch(bool* port_taken);
  // Launch() on freshly picked ports until one is free.
  Status LaunchOnFreePort();
  Status Stop(std::chrono::milliseconds grace);
  void RemoveDir();

  // The admin session, opened over the socket on first use and after a
  // restart or a lost connection. Requires session_mu_.
  Result<st_mysql*> Session();
  // Runs `sql` on the admin session; fills *rows from the first result set
  // when rows != nullptr; *server_errno gets the MariaDB error number.
  Status Run(std::string_view sql, Rows* rows, unsigned* server_errno = nullptr);

  std::string Describe() const;  // "mariadb server 127.0.0.1:PORT (DIR)"

  friend void StopLeakedServersAtExit();

  MariadbServerOptions opts_;
  std::string dir_;
  std::string datadir_;
  std::string socket_path_;
  std::string pid_file_;
  std::string error_log_;
  std::string output_log_;  // mariadbd's stdout/stderr (errors before the log opens)
  std::string ca_path_;
  std::string cert_path_;
  std::string key_path_;
  uint16_t port_ = 0;
  std::atomic<pid_t> pid_{-1};  // read by Session() on any thread
  bool dir_removed_ = false;
  std::chrono::milliseconds last_start_duration_{0};

  std::mutex session_mu_;
  MysqlPtr session_;
};

}  // namespace sluice::testing
