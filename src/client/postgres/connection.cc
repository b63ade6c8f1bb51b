#include "client/postgres/connection.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace sluice::postgres {

Result<ConnectOptions> ConnectOptions::FromUrl(const Url& url) {
  if (url.scheme != "postgres" && url.scheme != "postgresql") {
    return Status::Invalid("not a PostgreSQL URL: {}", url.ToRedactedString());
  }
  ConnectOptions o;
  if (!url.host.empty()) o.host = url.host;
  if (url.port != 0) o.port = url.port;
  if (!url.user.empty()) o.user = url.user;
  o.password = url.password;
  if (!url.path.empty()) o.database = url.path;
  o.sslrootcert = url.Param("sslrootcert", url.Param("ca"));
  o.sslcert = url.Param("sslcert", url.Param("cert"));
  o.sslkey = url.Param("sslkey", url.Param("key"));
  // A CA the user names is a CA they expect to be checked: with one given,
  // the default is verify-full (as `ca=` makes MySQL URLs verify_identity).
  o.sslmode = url.Param("sslmode", o.sslrootcert.empty() ? o.sslmode : "verify-full");
  static const char* kModes[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"};
  bool known = false;
  for (const char* m : kModes) known |= o.sslmode == m;
  if (!known) {
    return Status::Invalid("{}: sslmode={} (want disable, allow, prefer, require, verify-ca or verify-full)",
                           url.ToRedactedString(), o.sslmode);
  }
  if (o.sslmode.starts_with("verify-") && o.sslrootcert.empty()) {
    return Status::Invalid("{}: sslmode={} needs ca=PATH (the CA certificate that signed the server's certificate)",
                           url.ToRedactedString(), o.sslmode);
  }
  if (o.sslcert.empty() != o.sslkey.empty()) {
    return Status::Invalid("{}: a client certificate needs both cert=PATH and key=PATH", url.ToRedactedString());
  }
  auto seconds = [&](const char* key, unsigned* out) -> Status {
    std::string v = url.Param(key);
    if (v.empty()) return Status::Ok();
    char* end = nullptr;
    unsigned long n = std::strtoul(v.c_str(), &end, 10);
    if (end == v.c_str() || *end != '\0' || n > 86400) {
      return Status::Invalid("{}: {}={} is not a number of seconds", url.ToRedactedString(), key, v);
    }
    *out = static_cast<unsigned>(n);
    return Status::Ok();
  };
  RETURN_IF_ERROR(seconds("connect_timeout", &o.connect_timeout_s));
  RETURN_IF_ERROR(seconds("query_timeout", &o.query_timeout_s));
  return o;
}

std::string ConnectOptions::Describe() const { return fmt::format("{}@{}:{}/{}", user, host, port, database); }

void AppendQuotedIdent(std::string& out, std::string_view name) {
  out += '"';
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}
std::string QuoteIdent(std::string_view name) {
  std::string out;
  AppendQuotedIdent(out, name);
  return out;
}
void AppendQuotedLiteral(std::string& out, std::string_view text) {
  out += '\'';
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
}
std::string QuoteLiteral(std::string_view text) {
  std::string out;
  AppendQuotedLiteral(out, text);
  return out;
}

bool IsRetryableSqlState(std::string_view s) {
  // Class 53, insufficient resources (a full disk, out of memory, too many
  // connections), and lock_not_available (lock_timeout): the server's state,
  // not the row's.
  return s.starts_with("08") || s.starts_with("53") || s == "57P01" || s == "57P02" || s == "57P03" ||
         s == "25006" || s == "55P03" || s == "57014" /* query canceled: by a timeout or an admin */;
}

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const ConnectOptions& o, Interrupter* interrupt) {
  std::string port = std::to_string(o.port);
  std::string timeout = std::to_string(o.connect_timeout_s);
  std::vector<const char*> keys{"host",           "port",      "user",           "dbname",
                                "sslmode",        "connect_timeout", "application_name", "keepalives",
                                "keepalives_idle", "keepalives_interval", "keepalives_count", "client_encoding"};
  std::vector<const char*> values{o.host.c_str(), port.c_str(), o.user.c_str(), o.database.c_str(),
                                  o.sslmode.c_str(), timeout.c_str(), o.application_name.c_str(), "1",
                                  "10", "5", "3", "UTF8"};
  if (!o.password.empty()) {
    keys.push_back("password");
    values.push_back(o.password.c_str());
  }
  for (auto [key, value] : {std::pair{"sslrootcert", &o.sslrootcert}, std::pair{"sslcert", &o.sslcert},
                             std::pair{"sslkey", &o.sslkey}}) {
    if (value->empty()) continue;
    keys.push_back(key);
    values.push_back(value->c_str());
  }
  if (!o.replication.empty()) {
    keys.push_back("replication");
    values.push_back(o.replication.c_str());
  }
  if (!o.session_options.empty()) {
    keys.push_back("options");
    values.push_back(o.session_options.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  // Connected step by step (PQconnectPoll) rather than by PQconnectdbParams:
  // the wait is then bounded here (libpq's connect_timeout only applies to
  // the blocking call) and an interrupter can cut it.
  pg_conn* c = PQconnectStartParams(keys.data(), values.data(), 0);
  if (c == nullptr) return Status::Retryable(StatusCode::kIoError, "postgres {}:{}: cannot connect: out of memory", o.host, o.port);
  std::unique_ptr<PgConnection> conn(new PgConnection(o, c));
  conn->SetInterrupter(interrupt);
  auto failed = [&](std::string msg) -> Status {
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Status::Retryable(StatusCode::kIoError, "postgres {}:{}: cannot connect: {}", o.host, o.port, msg);
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.connect_timeout_s ? o.connect_timeout_s : 10);
  PostgresPollingStatusType step = PGRES_POLLING_WRITING;
  while (PQstatus(c) != CONNECTION_BAD && step != PGRES_POLLING_OK && step != PGRES_POLLING_FAILED) {
    if (interrupt != nullptr && interrupt->interrupted()) return failed("interrupted");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return failed(fmt::format("no answer within {} s (connect_timeout)", o.connect_timeout_s));
    pollfd p{PQsocket(c), static_cast<short>(step == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    // In slices: a socket libpq opens anew (another address, TLS refused) is
    // not one the interrupter shut down, so the flag is looked at too.
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 200)));
    if (n < 0 && errno != EINTR) return failed(std::strerror(errno));
    if (n <= 0) continue;
    step = PQconnectPoll(c);
  }
  if (PQstatus(c) != CONNECTION_OK) return failed(PQerrorMessage(c));
  conn->pid_ = PQbackendPID(c);
  conn->encrypted_ = PQsslInUse(c) == 1;
  if (PQsetnonblocking(c, 1) != 0) return conn->Lost("set non-blocking");
  RETURN_IF_ERROR(conn->Execute("SET standard_conforming_strings = on"));
  return conn;
}

PgConnection::~PgConnection() {
  if (interrupter_ != nullptr) interrupter_->Remove(this);
  if (conn_) PQfinish(conn_);
}

void PgConnection::SetInterrupter(Interrupter* interrupter) {
  if (interrupter_ != nullptr) interrupter_->Remove(this);
  interrupter_ = interrupter;
  if (interrupter_ != nullptr) interrupter_->Add(this);
}

void PgConnection::ShutdownSocket() {
  // The descriptor stays open until the destructor closes the connection,
  // after leaving the interrupter: it cannot be reused while registered.
  int fd = conn_ ? PQsocket(conn_) : -1;
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

int PgConnection::server_version() const { return conn_ ? PQserverVersion(conn_) : 0; }

int PgConnection::backend_pid() const { return pid_; }
bool PgConnection::ok() const { return PQstatus(conn_) == CONNECTION_OK; }

Status PgConnection::Lost(std::string_view what) {
  std::string msg = PQerrorMessage(conn_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  // Whatever state libpq is in, this connection is not used again.
  PQfinish(conn_);
  conn_ = nullptr;  // libpq's calls take a null connection as a bad one
  return Status::Retryable(StatusCode::kIoError, "postgres {}:{}: {}: {}", options_.host, options_.port, what,
                           msg.empty() ? "connection lost" : msg);
}

Status PgConnection::WaitReadable() {
  pollfd p{PQsocket(conn_), POLLIN, 0};
  int timeout_ms = options_.query_timeout_s == 0 ? -1 : static_cast<int>(options_.query_timeout_s * 1000);
  while (true) {
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Lost(std::strerror(errno));
    if (n == 0) return Lost(fmt::format("no answer within {} s (query_timeout)", options_.query_timeout_s));
    if (PQconsumeInput(conn_) == 0) return Lost("read");
    return Status::Ok();
  }
}

Status PgConnection::Flush() {
  int timeout_ms = options_.query_timeout_s == 0 ? -1 : static_cast<int>(options_.query_timeout_s * 1000);
  while (true) {
    int r = PQflush(conn_);
    if (r == 0) return Status::Ok();
    if (r < 0) return Lost("send");
    pollfd p{PQsocket(conn_), POLLIN | POLLOUT, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Lost(n == 0 ? "send timed out (query_timeout)" : std::strerror(errno));
    if ((p.revents & POLLIN) && PQconsumeInput(conn_) == 0) return Lost("read");
  }
}

Status PgConnection::PutCopy(std::string_view data) {
  constexpr size_t kChunk = 1 << 18;
  while (!data.empty()) {
    size_t n = std::min(kChunk, data.size());
    int r;
    while ((r = PQputCopyData(conn_, data.data(), static_cast<int>(n))) == 0) RETURN_IF_ERROR(Flush());
    if (r < 0) return Lost("COPY data");
    data.remove_prefix(n);
  }
  int r;
  while ((r = PQputCopyEnd(conn_, nullptr)) == 0) RETURN_IF_ERROR(Flush());
  if (r < 0) return Lost("COPY end");
  return Flush();
}

Status PgConnection::Collect(std::vector<Row>* rows, const std::vector<std::string>* copy_data) {
  Status st;
  size_t copies = 0;
  while (true) {
    while (PQisBusy(conn_)) RETURN_IF_ERROR(WaitReadable());
    PGresult* res = PQgetResult(conn_);
    if (res == nullptr) break;
    ExecStatusType s = PQresultStatus(res);
    if (s == PGRES_FATAL_ERROR) {
      const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
      std::string msg = PQresultErrorMessage(res);
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      if (st.ok()) {
        last_sqlstate_ = state ? state : "";
        if (state == nullptr || IsRetryableSqlState(last_sqlstate_)) {
          st = Status::Retryable(StatusCode::kIoError, "postgres {}:{}: {}{}", options_.host, options_.port, msg,
                                 state ? fmt::format(" (SQLSTATE {})", state) : "");
        } else if (last_sqlstate_ == "40001" || last_sqlstate_ == "40P01") {
          st = Status::Retryable(StatusCode::kAborted, "{} (SQLSTATE {})", msg, last_sqlstate_);
        } else {
          st = Status::Error(StatusCode::kServerError, "{} (SQLSTATE {})", msg, last_sqlstate_);
        }
      }
    } else if (s == PGRES_COPY_IN) {
      if (copy_data && copies < copy_data->size()) {
        Status put = PutCopy((*copy_data)[copies++]);
        if (!put.ok()) {
          PQclear(res);
          return put;
        }
      } else {
        PQputCopyEnd(conn_, "unexpected COPY");
        (void)Flush();
      }
    } else if (s == PGRES_TUPLES_OK && rows) {
      rows->clear();
      const int nf = PQnfields(res);
      for (int r = 0; r < PQntuples(res); ++r) {
        Row row;
        row.reserve(static_cast<size_t>(nf));
        for (int c = 0; c < nf; ++c) {
          if (PQgetisnull(res, r, c)) {
            row.emplace_back(std::nullopt);
          } else {
            row.emplace_back(std::string(PQgetvalue(res, r, c), static_cast<size_t>(PQgetlength(res, r, c))));
          }
        }
        rows->push_back(std::move(row));
      }
    }
    PQclear(res);
  }
  if (PQstatus(conn_) != CONNECTION_OK) return Lost("query");
  return st;
}

Status PgConnection::CollectPending() {
  if (!pending_) return Status::Ok();
  pending_ = false;
  return Collect(nullptr);
}

Status PgConnection::Send(const std::string& sql) {
  if (PQstatus(conn_) != CONNECTION_OK) return Lost("query");
  RETURN_IF_ERROR(CollectPending());
  last_sqlstate_.clear();
  if (!PQsendQuery(conn_, sql.c_str())) return Lost("send");
  RETURN_IF_ERROR(Flush());
  pending_ = true;
  return Status::Ok();
}

Status PgConnection::Execute(const std::string& sql, const std::vector<std::string>* copy_data) {
  if (PQstatus(conn_) != CONNECTION_OK) return Lost("query");
  RETURN_IF_ERROR(CollectPending());
  last_sqlstate_.clear();
  if (!PQsendQuery(conn_, sql.c_str())) return Lost("send");
  RETURN_IF_ERROR(Flush());
  return Collect(nullptr, copy_data);
}

Result<std::vector<Row>> PgConnection::Query(const std::string& sql) {
  if (PQstatus(conn_) != CONNECTION_OK) return Lost("query");
  RETURN_IF_ERROR(CollectPending());
  last_sqlstate_.clear();
  if (!PQsendQuery(conn_, sql.c_str())) return Lost("send");
  RETURN_IF_ERROR(Flush());
  std::vector<Row> rows;
  RETURN_IF_ERROR(Collect(&rows));
  return rows;
}

Status PgConnection::CopyIn(const std::string& copy_sql, std::string_view data) {
  const std::vector<std::string> copy_data{std::string(data)};
  return Execute(copy_sql, &copy_data);
}

}  // namespace sluice::postgres
