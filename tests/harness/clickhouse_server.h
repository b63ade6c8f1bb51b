#pragma once
// A private ClickHouse server (Debian's clickhouse-server 18.16) for
// integration tests.
//
// ClickhouseServer::Start() writes a config.xml and users.xml into a fresh
// temporary directory (data, logs, listen on 127.0.0.1 only, timezone UTC,
// user `default` without a password limited to loopback), starts
// `clickhouse-server` on free HTTP and TCP ports and returns once the HTTP
// interface answers. The object owns the process and the directory: the
// destructor stops the server and removes the directory (kept with
// SLUICE_KEEP_TEST_DIRS=1). The server dies with the test process (harness/
// process.h).
//
// Threads: Start, Restart, Stop, Crash and the destructor belong to the
// owning thread; Query may be called from any thread (a client per call).

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace sluice::testing {

class ClickhouseServer {
 public:
  // `extra_config`: XML elements added to config.xml's top level.
  [[nodiscard]] static Result<std::unique_ptr<ClickhouseServer>> Start(const std::string& extra_config = "");
  ClickhouseServer(const ClickhouseServer&) = delete;
  ClickhouseServer& operator=(const ClickhouseServer&) = delete;
  ~ClickhouseServer();

  uint16_t http_port() const { return http_port_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }
  // "clickhouse://default@127.0.0.1:PORT/db"
  std::string Url(const std::string& db = "default") const;

  // Runs one statement over HTTP; the answer's body (TabSeparated unless the
  // query says otherwise).
  [[nodiscard]] Result<std::string> Query(const std::string& sql) const;
  // Rows of a TabSeparated answer, fields unescaped (NULL as "\N").
  [[nodiscard]] Result<std::vector<std::vector<std::string>>> Rows(const std::string& sql) const;

  // SIGTERM, wait for exit; the server stays down until Restart().
  [[nodiscard]] Status Stop();
  // SIGKILL; stays down until Restart().
  [[nodiscard]] Status Crash();
  // Stops the server, copies its data directory aside as the backup
  // (replacing the one before) and starts it again.
  [[nodiscard]] Status BackUp();
  // Kills the server (-9), puts the backup in place of its data directory
  // and starts it again: a server restored from a backup, or back from a
  // crash that lost what it wrote since.
  [[nodiscard]] Status CrashAndRestore();
  // Starts it again on the same directory and ports.
  [[nodiscard]] Status Restart();

 private:
  explicit ClickhouseServer(std::string dir) : dir_(std::move(dir)) {}
  Status WriteConfig();
  std::string extra_config_;
  Status Launch();

  std::string dir_;
  uint16_t http_port_ = 0;
  uint16_t tcp_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sluice::testing
