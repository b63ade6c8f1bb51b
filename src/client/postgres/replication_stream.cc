#include "client/postgres/replication_stream.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <cstring>

namespace sluice::postgres {
namespace {

// libpq's messages span lines ("server closed the connection
// unexpectedly\n\tThis probably means..."): one line, for logs and errors.
std::string Trimmed(const char* msg) {
  std::string s;
  bool space = false;
  for (const char* p = msg ? msg : ""; *p; ++p) {
    if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
      space = true;
      continue;
    }
    if (space && !s.empty()) s += ' ';
    space = false;
    s += *p;
  }
  return s;
}

}  // namespace

Result<std::unique_ptr<ReplicationStream>> ReplicationStream::Connect(ConnectOptions options) {
  options.replication = "database";
  ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(options));
  return std::unique_ptr<ReplicationStream>(new ReplicationStream(std::move(conn)));
}

ReplicationStream::~ReplicationStream() { Release(); }

void ReplicationStream::Release() {
  if (buffer_) PQfreemem(buffer_);
  buffer_ = nullptr;
}

Status ReplicationStream::Failed(std::string_view what) {
  const ConnectOptions& o = conn_->options();
  return Status::Retryable(StatusCode::kIoError, "postgres {}:{}: replication stream: {}: {}", o.host, o.port, what,
                           Trimmed(PQerrorMessage(conn_->raw())));
}

Status ReplicationStream::StartLogical(std::string_view slot, std::string_view lsn, std::string_view plugin_options) {
  std::string cmd = "START_REPLICATION SLOT " + QuoteIdent(slot) + " LOGICAL " + std::string(lsn);
  if (!plugin_options.empty()) cmd += " (" + std::string(plugin_options) + ")";
  pg_conn* c = conn_->raw();
  if (!PQsendQuery(c, cmd.c_str())) return Failed("START_REPLICATION");
  while (PQflush(c) == 1) {
    pollfd p{PQsocket(c), POLLOUT, 0};
    ::poll(&p, 1, 1000);
  }
  // The answer is CopyBoth, or an error (no such slot, a bad publication).
  while (true) {
    while (PQisBusy(c)) {
      pollfd p{PQsocket(c), POLLIN, 0};
      int n = ::poll(&p, 1, 30000);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Failed(n == 0 ? "no answer to START_REPLICATION within 30 s" : std::strerror(errno));
      if (PQconsumeInput(c) == 0) return Failed("read");
    }
    PGresult* res = PQgetResult(c);
    if (res == nullptr) return Failed("START_REPLICATION ended without an answer");
    ExecStatusType s = PQresultStatus(res);
    if (s == PGRES_COPY_BOTH) {
      PQclear(res);
      return Status::Ok();
    }
    std::string msg = Trimmed(PQresultErrorMessage(res));
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    std::string sqlstate = state ? state : "";
    PQclear(res);
    while ((res = PQgetResult(c)) != nullptr) PQclear(res);
    if (sqlstate.empty() || IsRetryableSqlState(sqlstate)) return Failed("START_REPLICATION");
    return Status::Error(StatusCode::kServerError, "{} (SQLSTATE {})", msg, sqlstate);
  }
}

Status ReplicationStream::Ended() {
  pg_conn* c = conn_->raw();
  Status st = Status::Retryable(StatusCode::kIoError, "postgres {}:{}: the server ended the replication stream",
                                conn_->options().host, conn_->options().port);
  PGresult* res;
  while ((res = PQgetResult(c)) != nullptr) {
    if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
      const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
      std::string sqlstate = state ? state : "";
      std::string msg = Trimmed(PQresultErrorMessage(res));
      if (sqlstate.empty() || IsRetryableSqlState(sqlstate)) {
        st = Status::Retryable(StatusCode::kIoError, "postgres {}:{}: replication stream: {}", conn_->options().host,
                               conn_->options().port, msg);
      } else {
        st = Status::Error(StatusCode::kServerError, "{} (SQLSTATE {})", msg, sqlstate);
      }
    }
    PQclear(res);
    if (PQstatus(c) != CONNECTION_OK) break;
  }
  return st;
}

Result<std::optional<std::string_view>> ReplicationStream::Read(std::chrono::milliseconds timeout) {
  Release();
  pg_conn* c = conn_->raw();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int n = PQgetCopyData(c, &buffer_, /*async=*/1);
    if (n > 0) return std::optional<std::string_view>(std::string_view(buffer_, static_cast<size_t>(n)));
    if (n == -1) return Ended();
    if (n == -2) return Failed("read");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<std::string_view>();
    pollfd p{PQsocket(c), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Failed(std::strerror(errno));
    if (r > 0 && PQconsumeInput(c) == 0) return Failed("read");
  }
}

Status ReplicationStream::Send(std::string_view copy_data) {
  pg_conn* c = conn_->raw();
  int r;
  while ((r = PQputCopyData(c, copy_data.data(), static_cast<int>(copy_data.size()))) == 0) {
    pollfd p{PQsocket(c), POLLOUT, 0};
    ::poll(&p, 1, 1000);
  }
  if (r < 0) return Failed("send");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((r = PQflush(c)) == 1) {
    if (std::chrono::steady_clock::now() > deadline) return Failed("send timed out");
    pollfd p{PQsocket(c), POLLOUT | POLLIN, 0};
    ::poll(&p, 1, 1000);
    if ((p.revents & POLLIN) && PQconsumeInput(c) == 0) return Failed("read");
  }
  if (r < 0) return Failed("send");
  return Status::Ok();
}

}  // namespace sluice::postgres
