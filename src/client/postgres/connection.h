#pragma once
// PgConnection: one libpq connection to PostgreSQL, opened from a sluice URL
// `postgres://user:pw@host:port/db?sslmode=...` (or postgresql://). Shared
// by the PostgreSQL sink and, later, the PostgreSQL source. Owned by one
// thread at a time.
//
// Every wait is bounded when query_timeout_s is set (URL `query_timeout=`,
// seconds): a hung server is then a lost connection, not a thread blocked
// forever. The socket is non-blocking; libpq is driven with poll().
//
// Errors: a failed connect, a lost connection, a server shutting down, a
// read-only server are retryable (kIoError, naming host:port); a
// serialization failure or deadlock is retryable kAborted; any other SQL
// error is kServerError with its message and "(SQLSTATE xxxxx)", and
// last_sqlstate() gives the code.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/interrupter.h"
#include "core/status.h"
#include "core/url.h"

struct pg_conn;

namespace sluice::postgres {

struct ConnectOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 5432;
  std::string user = "postgres";
  std::string password;
  std::string database = "postgres";
  std::string sslmode = "prefer";  // disable | allow | prefer | require | verify-ca | verify-full
  // libpq's; without `sslmode=`, `ca=` makes it verify-full. `verify-ca`
  // and `verify-full` need a CA: never a silent fallback to plaintext or
  // to an unchecked certificate.
  std::string sslrootcert;         // URL `ca=` or `sslrootcert=`
  std::string sslcert, sslkey;     // client certificate: URL `cert=`/`key=` or `sslcert=`/`sslkey=`
  unsigned connect_timeout_s = 10;
  unsigned query_timeout_s = 0;    // 0: wait as long as the server takes
  std::string application_name = "sluice";
  // libpq's `replication` ("database" for a logical replication connection)
  // and `options` (session settings such as "-c TimeZone=UTC"); empty: none.
  std::string replication;
  std::string session_options;

  // postgres:// or postgresql:// URL.
  static Result<ConnectOptions> FromUrl(const Url& url);
  std::string Describe() const;  // user@host:port/db, never the password
};

using Row = std::vector<std::optional<std::string>>;

// "name" with inner quotes doubled: any identifier, kept as written.
std::string QuoteIdent(std::string_view name);
void AppendQuotedIdent(std::string& out, std::string_view name);
// 'text' with quotes doubled (standard_conforming_strings is on since 9.1,
// and the connection sets it). `text` must not hold a NUL byte.
std::string QuoteLiteral(std::string_view text);
void AppendQuotedLiteral(std::string& out, std::string_view text);

class PgConnection : public Interruptible {
 public:
  // `interrupt` (may be null): registered from the start, so a connect to a
  // hung server is cut too (SetInterrupter), not only waited out.
  static Result<std::unique_ptr<PgConnection>> Connect(const ConnectOptions& options,
                                                       Interrupter* interrupt = nullptr);
  ~PgConnection();

  // Runs one or more statements in one round trip (simple query protocol);
  // the first error fails it, and the server then skips the statements
  // after it. `copy_data`, when given, holds the data (COPY text format) of
  // each COPY ... FROM STDIN among the statements, in order.
  Status Execute(const std::string& sql, const std::vector<std::string>* copy_data = nullptr);
  // Sends `sql` without waiting for its answer: the next call on this
  // connection collects it first, and fails with its error if it failed.
  Status Send(const std::string& sql);
  // Rows (text format) of the last result that has rows.
  Result<std::vector<Row>> Query(const std::string& sql);
  // COPY ... FROM STDIN with `data` in the COPY text format.
  Status CopyIn(const std::string& copy_sql, std::string_view data);

  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // The server process of this session (kept after the connection is lost).
  int backend_pid() const;
  // PQserverVersion: 150004 for 15.4.
  int server_version() const;
  // Whether the session runs over TLS (libpq's PQsslInUse at connect).
  bool encrypted() const { return encrypted_; }
  bool ok() const;  // still connected
  const ConnectOptions& options() const { return options_; }
  pg_conn* raw() { return conn_; }
  // Registers with `interrupter` (nullptr: none) until destroyed: a wait on
  // a hung server then ends (a lost connection) once it is interrupted, or
  // at once when it already was.
  void SetInterrupter(Interrupter* interrupter);

 private:
  void ShutdownSocket() override;  // with the interrupter's lock held
  PgConnection(ConnectOptions o, pg_conn* c) : options_(std::move(o)), conn_(c) {}
  // Sends what libpq holds and waits for input; false on timeout or error.
  Status Flush();
  Status WaitReadable();
  // Collects the results of the query just sent, feeding its COPY FROM
  // STDIN statements from `copy_data` (none: each is ended with an error).
  Status Collect(std::vector<Row>* rows, const std::vector<std::string>* copy_data = nullptr);
  // Sends one COPY's data and its end.
  Status PutCopy(std::string_view data);
  Status Lost(std::string_view what);
  // Collects the answer of a statement Send left pending.
  Status CollectPending();

  ConnectOptions options_;
  pg_conn* conn_;
  int pid_ = 0;
  bool encrypted_ = false;
  bool pending_ = false;  // a statement sent by Send whose answer is not read yet
  std::string last_sqlstate_;
  Interrupter* interrupter_ = nullptr;
};

// Whether a SQLSTATE means the server or the connection went away (class
// 08, admin shutdown, crash shutdown, cannot connect now, read-only).
bool IsRetryableSqlState(std::string_view state);

}  // namespace sluice::postgres
