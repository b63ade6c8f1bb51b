#pragma once
// A private PostgreSQL 15 server for integration tests.
//
// PostgresServer::Start() runs initdb into a fresh `mktemp -d` directory
// owned by the `postgres` system user (created with `useradd -r` when
// missing: PostgreSQL refuses to run as root), then starts `postgres` on a
// free loopback port with its socket in that directory, fsync=off, and
// returns once it accepts connections. The postmaster is our child process
// (started through `setpriv --pdeathsig keep`, so a test binary that dies
// takes it along, like every harness server; its own children notice the
// postmaster's death and exit). The destructor, Restart() and an atexit hook
// stop it with `pg_ctl stop -m fast` (a kill -9 of the postmaster alone
// leaves backends behind), and the directory is removed.
//
// Local (socket) connections are trusted; TCP ones use scram-sha-256, so a
// test creates a role with a password (CreateUser) for sluice's URL.
//
// Threads: Start, Restart, Stop and the destructor belong to the owning
// thread; Execute/Query/QueryValue share one admin session (user postgres,
// database `postgres` unless given) guarded by a mutex.
//
//     auto pg = PostgresServer::Start();
//     ASSERT_TRUE(pg.ok()) << pg.status().message();
//     ASSERT_TRUE((*pg)->Execute("CREATE DATABASE shop").ok());

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct pg_conn;  // PGconn from <libpq-fe.h>

namespace sluice::testing {

struct PostgresServerOptions {
  bool logical_replication = false;   // wal_level=logical, max_replication_slots and max_wal_senders
  std::vector<std::string> extra_settings;  // "name=value", passed as -c name=value
  // ssl=on with a self-signed certificate for 127.0.0.1 (its own CA: ca_path()).
  bool tls = false;
};

class PostgresServer {
 public:
  using Row = std::vector<std::optional<std::string>>;  // NULL is nullopt
  using Rows = std::vector<Row>;

  [[nodiscard]] static Result<std::unique_ptr<PostgresServer>> Start(PostgresServerOptions opts = {});
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer();

  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }
  const std::string& data_dir() const { return data_dir_; }  // owned by the server's system user
  pid_t pid() const { return pid_; }
  const std::string& ca_path() const { return ca_path_; }  // "" unless tls

  // "postgres://user:password@127.0.0.1:PORT/db" (percent-encoded).
  std::string Url(std::string_view user, std::string_view password, std::string_view db) const;

  // Runs `sql` (one or more statements) in database `db` as superuser postgres.
  [[nodiscard]] Status Execute(std::string_view sql, std::string_view db = "postgres");
  // Rows of the last result (text format).
  [[nodiscard]] Result<Rows> Query(std::string_view sql, std::string_view db = "postgres");
  // First column of the first row; kNotFound if no row or NULL.
  [[nodiscard]] Result<std::string> QueryValue(std::string_view sql, std::string_view db = "postgres");
  // A LOGIN role with `password` (SUPERUSER when asked: sluice creates schemas).
  [[nodiscard]] Status CreateUser(std::string_view user, std::string_view password, bool superuser = true);
  // CREATE DATABASE (its own statement: it refuses to run in a transaction).
  [[nodiscard]] Status CreateDatabase(std::string_view name, std::string_view owner = "");

  // pg_ctl stop -m fast, then starts again on the same port and data.
  [[nodiscard]] Status Restart();
  // Stops the server (fast) and leaves it down until Restart().
  [[nodiscard]] Status Stop();
  // kill -9 of the postmaster and every child of it at once (a machine's
  // power cut, as far as the server can tell): returns once all are gone;
  // Restart() then starts it again on the same data (crash recovery).
  [[nodiscard]] Status Crash();
  // SIGSTOP / SIGCONT to the postmaster and every child of it (each
  // backend is a session of its own: no process group covers them all).
  [[nodiscard]] Status Hang();
  [[nodiscard]] Status Resume();
  // The postmaster and its children, by pid.
  std::vector<pid_t> Processes() const;

 private:
  struct ConnCloser {
    void operator()(pg_conn* c) const;
  };
  using ConnPtr = std::unique_ptr<pg_conn, ConnCloser>;

  PostgresServer(PostgresServerOptions opts, std::string dir) : opts_(std::move(opts)), dir_(std::move(dir)) {}
  Status Init();
  Status Launch();
  Status Run(std::string_view sql, std::string_view db, Rows* rows);
  void RemoveDir();
  friend void StopLeakedPostgresAtExit();

  PostgresServerOptions opts_;
  std::string dir_;
  std::string data_dir_;
  std::string log_;
  std::string ca_path_, key_path_;
  uint16_t port_ = 0;
  std::atomic<pid_t> pid_{-1};
  std::mutex session_mu_;
  std::string session_db_;
  ConnPtr session_;
};

}  // namespace sluice::testing
