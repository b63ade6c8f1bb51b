#pragma once
// MysqlConnection: one libmariadb connection (MySQL protocol, auth, TLS),
// opened from a sluice URL. Owned by one thread at a time.
//
// TLS (URL parameters): tls=disabled|preferred|required|verify_ca|verify_identity,
// ca=PATH, cert=PATH, key=PATH. libmariadb 3.3 connects in plaintext when the
// server has no TLS even if told to enforce it, so `required` and stronger
// modes check the negotiated cipher and refuse a plaintext session; a CA
// (ca=...) or a verify_* mode also verifies the server certificate and name.

#include <mysql.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/interrupter.h"
#include "core/status.h"
#include "core/url.h"

namespace sluice::mysql {

struct ConnectOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 3306;
  std::string user = "root";
  std::string password;
  std::string database;
  enum class Tls : uint8_t { kDisabled, kPreferred, kRequired, kVerifyCa, kVerifyIdentity } tls = Tls::kPreferred;
  std::string ca, cert, key;
  unsigned connect_timeout_s = 10;
  // Seconds a read (write) may wait for the server before the connection
  // counts as lost; 0: libmariadb's default (none). URL parameters
  // read_timeout= and write_timeout= set them; each user of a connection
  // says what it does with 0 (the stream and the jobs bound them).
  unsigned read_timeout_s = 0;
  unsigned write_timeout_s = 0;
  bool local_infile = false;  // allow LOAD DATA LOCAL INFILE (from memory: sink/mysql/bulk_load.h)

  // mysql:// or mariadb:// URL; the password may also come from `password_env`.
  static Result<ConnectOptions> FromUrl(const Url& url);
  std::string Describe() const;  // user@host:port, never the password
};

using Row = std::vector<std::optional<std::string>>;

// `o` with its read and write timeouts set to `seconds` where the URL left
// them unset.
ConnectOptions WithDefaultTimeouts(ConnectOptions o, unsigned seconds);

class MysqlConnection;

// What cuts the connections of a job on Stop or Ctrl-C (core/interrupter.h).
using Interrupter = sluice::Interrupter;

class MysqlConnection : public Interruptible {
 public:
  // With an interrupter, the connection registers with it (SetInterrupter),
  // and Interrupt() also ends a connect still waiting for the server (a
  // retryable error saying "interrupted").
  static Result<std::unique_ptr<MysqlConnection>> Connect(const ConnectOptions& options,
                                                          Interrupter* interrupt = nullptr);
  ~MysqlConnection();
  MysqlConnection(const MysqlConnection&) = delete;
  MysqlConnection& operator=(const MysqlConnection&) = delete;

  MYSQL* raw() { return mysql_; }
  const ConnectOptions& options() const { return options_; }
  Status Execute(std::string_view sql);
  Result<std::vector<Row>> Query(std::string_view sql);
  // First column of the first row; NotFound when there is no row.
  Result<std::optional<std::string>> QueryValue(std::string_view sql);
  std::string Escape(std::string_view s);
  std::string server_version() const;
  bool is_mariadb() const;
  // MariaDB 10.3 on: CREATE SEQUENCE, NEXTVAL, SETVAL.
  bool has_sequences() const;
  unsigned long thread_id() { return mysql_thread_id(mysql_); }
  const char* tls_cipher() { return mysql_get_ssl_cipher(mysql_); }

  // The Status for the connection's last error, with context.
  Status LastError(std::string_view what);

  // Replaces the session by a new one with the same options, for a caller
  // that found the connection lost (the server restarted, the connection was
  // cut or timed out). Session state (user variables, USE) is not carried
  // over. On failure the old, dead session stays in place.
  Status Reconnect();

  // Registers with `interrupter` (nullptr: none) until destroyed; a session
  // made by Reconnect() stays registered. Shuts the socket down at once when
  // `interrupter` was already interrupted.
  void SetInterrupter(Interrupter* interrupter);

 private:
  MysqlConnection(MYSQL* mysql, ConnectOptions options) : mysql_(mysql), options_(std::move(options)) {}
  void ShutdownSocket() override;  // with the interrupter's lock held
  MYSQL* mysql_;
  ConnectOptions options_;
  Interrupter* interrupter_ = nullptr;
};

// For a session that writes InnoDB rows under READ COMMITTED (target
// writers): a server logging statements (binlog_format=STATEMENT) refuses
// those writes, so the session logs rows instead (SET SESSION binlog_format,
// which needs BINLOG ADMIN on MariaDB, SESSION_VARIABLES_ADMIN on MySQL; an
// error saying so when the user lacks it). Nothing on any other server.
Status LogSessionAsRows(MysqlConnection& c);

// Client error codes that mean the connection is gone and a new one may work.
bool IsConnectionLost(unsigned err);

// Runs one query on a connection of its own, for callers that hold no
// connection between uses (start-up checks). A failure a server restart
// explains (refused connection, lost connection) is retried with capped
// exponential backoff for at most `budget`; other errors return at once.
Result<std::vector<Row>> QueryWithRetry(const ConnectOptions& options, std::string_view sql,
                                        std::chrono::milliseconds budget);

}  // namespace sluice::mysql
