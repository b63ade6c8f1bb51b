#include "client/mysql/connection.h"

#include <cstdio>
#include <errmsg.h>
#include <mysqld_error.h>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace sluice::mysql {

bool IsConnectionLost(unsigned err) {
  return err == CR_SERVER_LOST || err == CR_SERVER_GONE_ERROR || err == CR_CONNECTION_ERROR ||
         err == CR_CONN_HOST_ERROR || err == CR_SERVER_LOST_EXTENDED || err == ER_CONNECTION_KILLED ||
         err == ER_SERVER_SHUTDOWN || err == CR_ERR_NET_READ || err == CR_ERR_NET_WRITE;
}

Result<ConnectOptions> ConnectOptions::FromUrl(const Url& url) {
  if (url.scheme != "mysql" && url.scheme != "mariadb") {
    return Status::Invalid("unsupported source URL scheme \"{}\": expected mysql://, mariadb:// or file://",
                           url.scheme);
  }
  ConnectOptions o;
  o.host = url.host;
  o.port = url.port ? url.port : 3306;
  if (!url.user.empty()) o.user = url.user;
  o.password = url.password;
  std::string env = url.Param("password_env");
  if (!env.empty()) {
    const char* v = std::getenv(env.c_str());
    if (v == nullptr) return Status::Invalid("password_env: environment variable {} is not set", env);
    o.password = v;
  }
  o.database = url.path;
  o.ca = url.Param("ca");
  o.cert = url.Param("cert");
  o.key = url.Param("key");
  std::string tls = url.Param("tls", o.ca.empty() ? "preferred" : "verify_identity");
  if (tls == "disabled" || tls == "false" || tls == "off") {
    o.tls = Tls::kDisabled;
  } else if (tls == "preferred") {
    o.tls = Tls::kPreferred;
  } else if (tls == "required" || tls == "true" || tls == "on") {
    // With a CA given, "required" also verifies: a CA the user names is a CA
    // they expect to be checked.
    o.tls = o.ca.empty() ? Tls::kRequired : Tls::kVerifyIdentity;
  } else if (tls == "verify_ca") {
    o.tls = Tls::kVerifyCa;
  } else if (tls == "verify_identity" || tls == "verify-full") {
    o.tls = Tls::kVerifyIdentity;
  } else {
    return Status::Invalid("invalid tls=\"{}\": expected disabled, preferred, required, verify_ca or verify_identity",
                           tls);
  }
  if ((o.tls == Tls::kVerifyCa || o.tls == Tls::kVerifyIdentity) && o.ca.empty()) {
    return Status::Invalid("tls={} needs ca=PATH (the CA certificate that signed the server's certificate)", tls);
  }
  for (const auto& [k, v] : url.params) {
    if (k != "tls" && k != "ca" && k != "cert" && k != "key" && k != "password_env" && k != "connect_timeout" &&
        k != "read_timeout" && k != "write_timeout") {
      return Status::Invalid("unknown URL parameter \"{}\" (known: tls, ca, cert, key, password_env, "
                             "connect_timeout, read_timeout, write_timeout)", k);
    }
  }
  // Seconds; read_timeout and write_timeout bound each wait for the server
  // (a hung server is then an error, not a hang).
  for (auto [name, field] : {std::pair{"connect_timeout", &o.connect_timeout_s}, std::pair{"read_timeout", &o.read_timeout_s},
                             std::pair{"write_timeout", &o.write_timeout_s}}) {
    std::string v = url.Param(name);
    if (v.empty()) continue;
    char* end = nullptr;
    unsigned long n = std::strtoul(v.c_str(), &end, 10);
    if (end == v.c_str() || *end != '\0' || n > 86400) {
      return Status::Invalid("invalid {}=\"{}\": expected whole seconds, at most 86400", name, v);
    }
    *field = static_cast<unsigned>(n);
  }
  return o;
}

std::string ConnectOptions::Describe() const { return fmt::format("{}@{}:{}", user, host, port); }

ConnectOptions WithDefaultTimeouts(ConnectOptions o, unsigned seconds) {
  if (o.read_timeout_s == 0) o.read_timeout_s = seconds;
  if (o.write_timeout_s == 0) o.write_timeout_s = seconds;
  return o;
}

void MysqlConnection::SetInterrupter(Interrupter* interrupter) {
  if (interrupter_ != nullptr) interrupter_->Remove(this);
  interrupter_ = interrupter;
  if (interrupter_ != nullptr) interrupter_->Add(this);
}

void MysqlConnection::ShutdownSocket() {
  // Only the socket's traffic ends: the descriptor stays open (and cannot be
  // reused) until the owner closes the connection under the same lock.
  auto fd = static_cast<int>(mysql_get_socket(mysql_));
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

namespace {

// mysql_real_connect through libmariadb's non-blocking calls, waiting here:
// in slices, so that `interrupt` ends a wait on a server that hangs in the
// handshake (a stop then takes effect at once, not after connect_timeout).
// Null on failure; *cut when the interrupter ended it.
MYSQL* ConnectStepByStep(MYSQL* m, const ConnectOptions& o, unsigned long flags, const Interrupter& interrupt,
                         bool* cut) {
  mysql_options(m, MYSQL_OPT_NONBLOCK, nullptr);  // the default stack for the calls' coroutine
  MYSQL* ret = nullptr;
  int status = mysql_real_connect_start(&ret, m, o.host.c_str(), o.user.c_str(), o.password.c_str(),
                                        o.database.empty() ? nullptr : o.database.c_str(), o.port, nullptr, flags);
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline{};
  if (status & MYSQL_WAIT_TIMEOUT) deadline = Clock::now() + std::chrono::milliseconds(mysql_get_timeout_value_ms(m));
  while (status != 0) {
    if (interrupt.interrupted()) {
      *cut = true;
      return nullptr;
    }
    pollfd p{static_cast<int>(mysql_get_socket(m)), 0, 0};
    if (status & MYSQL_WAIT_READ) p.events |= POLLIN;
    if (status & MYSQL_WAIT_WRITE) p.events |= POLLOUT;
    if (status & MYSQL_WAIT_EXCEPT) p.events |= POLLPRI;
    int slice = 100;
    if (status & MYSQL_WAIT_TIMEOUT) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      slice = static_cast<int>(std::clamp<int64_t>(left, 0, slice));
    }
    int n = ::poll(&p, 1, slice);
    if (n < 0 && errno != EINTR) n = 0;
    int events = 0;
    if (n > 0) {
      if (p.revents & (POLLIN | POLLERR | POLLHUP)) events |= MYSQL_WAIT_READ;
      if (p.revents & (POLLOUT | POLLERR | POLLHUP)) events |= MYSQL_WAIT_WRITE;
      if (p.revents & POLLPRI) events |= MYSQL_WAIT_EXCEPT;
      events &= status | MYSQL_WAIT_EXCEPT;
    } else if ((status & MYSQL_WAIT_TIMEOUT) && Clock::now() >= deadline) {
      events = MYSQL_WAIT_TIMEOUT;
    }
    if (events == 0) continue;
    status = mysql_real_connect_cont(&ret, m, events);
    if (status & MYSQL_WAIT_TIMEOUT) {
      deadline = Clock::now() + std::chrono::milliseconds(mysql_get_timeout_value_ms(m));
    }
  }
  return ret;
}

}  // namespace

Result<std::unique_ptr<MysqlConnection>> MysqlConnection::Connect(const ConnectOptions& o, Interrupter* interrupt) {
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return Status::Error(StatusCode::kIoError, "mysql_init: out of memory");
  unsigned timeout = o.connect_timeout_s;
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  if (o.read_timeout_s) mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &o.read_timeout_s);
  if (o.write_timeout_s) mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &o.write_timeout_s);
  unsigned long max_packet = 1024ul * 1024 * 1024;  // whole events up to 1 GiB
  mysql_optionsv(m, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (o.local_infile) {
    unsigned enable = 1;
    mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &enable);
  }
  my_bool on = 1, off = 0;
  if (o.tls == ConnectOptions::Tls::kDisabled) {
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &off);
  } else {
    if (!o.ca.empty()) mysql_optionsv(m, MYSQL_OPT_SSL_CA, o.ca.c_str());
    if (!o.cert.empty()) mysql_optionsv(m, MYSQL_OPT_SSL_CERT, o.cert.c_str());
    if (!o.key.empty()) mysql_optionsv(m, MYSQL_OPT_SSL_KEY, o.key.c_str());
    if (o.tls != ConnectOptions::Tls::kPreferred) mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
    my_bool verify = o.tls == ConnectOptions::Tls::kVerifyIdentity || o.tls == ConnectOptions::Tls::kVerifyCa;
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
  }
  unsigned long flags = CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS;
  bool cut = false;
  MYSQL* connected = interrupt != nullptr
                         ? ConnectStepByStep(m, o, flags, *interrupt, &cut)
                         : mysql_real_connect(m, o.host.c_str(), o.user.c_str(), o.password.c_str(),
                                              o.database.empty() ? nullptr : o.database.c_str(), o.port, nullptr, flags);
  if (cut) {
    mysql_close(m);
    return Status::Retryable(StatusCode::kIoError, "cannot connect to {}: interrupted", o.Describe());
  }
  if (connected == nullptr) {
    unsigned err = mysql_errno(m);
    std::string msg = mysql_error(m);
    mysql_close(m);
    // A server starting, stopping, hung (the handshake timed out) or full:
    // each may be gone on the next try.
    bool retryable = IsConnectionLost(err) || err == ER_CON_COUNT_ERROR;
    if (retryable) {
      return Status::Retryable(StatusCode::kIoError, "cannot connect to {}: {} (error {})", o.Describe(), msg, err);
    }
    return Status::Error(err == ER_ACCESS_DENIED_ERROR ? StatusCode::kInvalidArgument : StatusCode::kServerError,
                         "cannot connect to {}: {} (error {})", o.Describe(), msg, err);
  }
  if (o.tls != ConnectOptions::Tls::kDisabled && o.tls != ConnectOptions::Tls::kPreferred &&
      mysql_get_ssl_cipher(m) == nullptr) {
    mysql_close(m);
    return Status::Error(StatusCode::kIoError,
                         "cannot connect to {}: TLS is required but the server did not negotiate it "
                         "(is the server started with ssl-cert/ssl-key?)",
                         o.Describe());
  }
  std::unique_ptr<MysqlConnection> conn(new MysqlConnection(m, o));
  conn->SetInterrupter(interrupt);
  return conn;
}

MysqlConnection::~MysqlConnection() {
  if (interrupter_ != nullptr) interrupter_->Remove(this);
  if (mysql_) mysql_close(mysql_);
}

Status MysqlConnection::LastError(std::string_view what) {
  unsigned err = mysql_errno(mysql_);
  std::string msg = mysql_error(mysql_);
  if (IsConnectionLost(err)) {
    return Status::Retryable(StatusCode::kIoError, "{} on {}: {} (error {})", what, options_.Describe(), msg, err);
  }
  return Status::Error(StatusCode::kServerError, "{} on {}: {} (error {})", what, options_.Describe(), msg, err);
}

Status MysqlConnection::Reconnect() {
  // Cut by the interrupter while it waits for the server, too.
  ASSIGN_OR_RETURN(auto fresh, Connect(options_, interrupter_));
  auto swap = [&](bool interrupted) {
    if (interrupted) fresh->ShutdownSocket();
    std::swap(mysql_, fresh->mysql_);  // `fresh` now owns the dead session and closes it (leaving the interrupter first)
  };
  if (interrupter_ != nullptr) {
    interrupter_->Locked(swap);
  } else {
    swap(false);
  }
  return Status::Ok();
}

Result<std::vector<Row>> QueryWithRetry(const ConnectOptions& options, std::string_view sql,
                                        std::chrono::milliseconds budget) {
  auto deadline = std::chrono::steady_clock::now() + budget;
  auto backoff = std::chrono::milliseconds(100);
  while (true) {
    Status st;
    auto conn = MysqlConnection::Connect(options);
    if (conn.ok()) {
      auto rows = (*conn)->Query(sql);
      if (rows.ok()) return rows;
      st = rows.status();
    } else {
      st = conn.status();
    }
    if (!st.retryable() || std::chrono::steady_clock::now() + backoff > deadline) return st;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

Status MysqlConnection::Execute(std::string_view sql) {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0)
    return LastError(fmt::format("query \"{}\"", sql.substr(0, 200)));
  do {
    MYSQL_RES* res = mysql_store_result(mysql_);
    if (res) mysql_free_result(res);
    if (mysql_errno(mysql_) != 0) return LastError(fmt::format("query \"{}\"", sql.substr(0, 200)));
  } while (mysql_next_result(mysql_) == 0);
  if (mysql_errno(mysql_) != 0) return LastError(fmt::format("query \"{}\"", sql.substr(0, 200)));
  return Status::Ok();
}

Result<std::vector<Row>> MysqlConnection::Query(std::string_view sql) {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0)
    return LastError(fmt::format("query \"{}\"", sql.substr(0, 200)));
  MYSQL_RES* res = mysql_store_result(mysql_);
  if (res == nullptr) {
    if (mysql_errno(mysql_) != 0) return LastError(fmt::format("query \"{}\"", sql.substr(0, 200)));
    return std::vector<Row>{};
  }
  std::vector<Row> rows;
  unsigned n = mysql_num_fields(res);
  while (MYSQL_ROW r = mysql_fetch_row(res)) {
    unsigned long* lengths = mysql_fetch_lengths(res);
    Row row(n);
    for (unsigned i = 0; i < n; ++i) {
      if (r[i]) row[i] = std::string(r[i], lengths[i]);
    }
    rows.push_back(std::move(row));
  }
  mysql_free_result(res);
  while (mysql_next_result(mysql_) == 0) {
    MYSQL_RES* extra = mysql_store_result(mysql_);
    if (extra) mysql_free_result(extra);
  }
  return rows;
}

Status LogSessionAsRows(MysqlConnection& c) {
  ASSIGN_OR_RETURN(auto rows, c.Query("SELECT @@session.binlog_format, @@global.log_bin"));
  if (rows.empty() || rows[0].size() < 2 || rows[0][0].value_or("") != "STATEMENT" ||
      rows[0][1].value_or("0") != "1") {
    return Status::Ok();
  }
  Status st = c.Execute("SET SESSION binlog_format = 'ROW'");
  if (st.ok()) return st;
  return Status::Error(StatusCode::kServerError,
                       "{}: the server logs statements (binlog_format=STATEMENT), which cannot log the rows sluice "
                       "writes, and this user may not log its own session as rows ({}): grant it BINLOG ADMIN "
                       "(MariaDB) or SESSION_VARIABLES_ADMIN (MySQL), or set binlog_format=MIXED or ROW on the server",
                       c.options().Describe(), st.message());
}

Result<std::optional<std::string>> MysqlConnection::QueryValue(std::string_view sql) {
  ASSIGN_OR_RETURN(auto rows, Query(sql));
  if (rows.empty() || rows[0].empty()) return Status::Error(StatusCode::kNotFound, "query \"{}\" returned no row", sql);
  return rows[0][0];
}

std::string MysqlConnection::Escape(std::string_view s) {
  std::string out(s.size() * 2 + 1, '\0');
  unsigned long n = mysql_real_escape_string(mysql_, out.data(), s.data(), s.size());
  out.resize(n);
  return out;
}

std::string MysqlConnection::server_version() const { return mysql_get_server_info(mysql_); }

bool MysqlConnection::is_mariadb() const { return server_version().find("MariaDB") != std::string::npos; }

bool MysqlConnection::has_sequences() const {
  int major = 0, minor = 0;
  std::sscanf(server_version().c_str(), "%d.%d", &major, &minor);
  return is_mariadb() && (major > 10 || (major == 10 && minor >= 3));
}

}  // namespace sluice::mysql
