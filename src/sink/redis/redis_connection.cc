#include "sink/redis/redis_connection.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace sluice::sink::redis {
namespace {

using Clock = std::chrono::steady_clock;

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

RedisReply Copy(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::kString; break;
    case REDIS_REPLY_ARRAY: out.type = RedisReply::Type::kArray; break;
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::kInteger; break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::kStatus; break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::kError; break;
    default: out.type = RedisReply::Type::kNil; break;
  }
  if (r->str != nullptr) out.str.assign(r->str, r->len);
  out.integer = r->integer;
  out.elements.reserve(r->elements);
  for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Copy(r->element[i]));
  return out;
}

// A TCP connection to `e` for hiredis (blocking, TCP_NODELAY). Made here
// rather than by redisConnectWithTimeout, which waits out its whole timeout:
// a non-blocking connect per address, waited for in 100 ms slices so that
// `interrupt` ends the wait on a host that does not answer.
Result<int> ConnectSocket(const RedisEndpoint& e, std::chrono::milliseconds timeout, const Interrupter* interrupt) {
  auto fail = [&](std::string_view why) {
    return Status::Retryable(StatusCode::kIoError, "{}: connect: {}", e.Describe(), why);
  };
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(e.port);
  if (int rc = ::getaddrinfo(e.host.c_str(), port.c_str(), &hints, &found); rc != 0) return fail(gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  const auto deadline = Clock::now() + timeout;
  std::string why = "no address";
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (interrupt != nullptr && interrupt->interrupted()) return fail("interrupted");
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int err = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    while (err == EINPROGRESS) {
      if (interrupt != nullptr && interrupt->interrupted()) {
        ::close(fd);
        return fail("interrupted");
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        err = ETIMEDOUT;
        break;
      }
      pollfd p{fd, POLLOUT, 0};
      int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 100)));
      if (n < 0 && errno != EINTR) err = errno;
      if (n <= 0) continue;
      socklen_t len = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
    if (err == 0) {
      int flags = ::fcntl(fd, F_GETFL);
      int one = 1;
      if (flags >= 0 && ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 &&
          ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) {
        return fd;
      }
      err = errno;
    }
    why = err == ETIMEDOUT ? fmt::format("no answer within {} ms", timeout.count()) : std::strerror(err);
    ::close(fd);
  }
  return fail(why);
}

}  // namespace

Result<RedisEndpoint> RedisEndpoint::FromUrl(const Url& url) {
  RedisEndpoint e;
  e.host = url.host;
  if (url.port != 0) e.port = url.port;
  e.user = url.user;
  e.password = url.password;
  e.has_password = url.has_password;
  if (!url.path.empty()) {
    uint32_t db = 0;
    auto [p, ec] = std::from_chars(url.path.data(), url.path.data() + url.path.size(), db);
    if (ec != std::errc() || p != url.path.data() + url.path.size()) {
      return Status::Invalid("invalid URL {}: the path is a database number (redis://host:port/0), got \"{}\"",
                             url.ToRedactedString(), url.path);
    }
    e.db = db;
  }
  if (!e.user.empty() && !e.has_password) {
    return Status::Invalid("invalid URL {}: a user without a password (redis://user:password@host:port)",
                           url.ToRedactedString());
  }
  return e;
}

std::string RedisEndpoint::Describe() const {
  std::string host_text = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return fmt::format("redis {}:{}/{}", host_text, port, db);
}

std::string ClientName(std::string name) {
  for (char& c : name) {
    if (static_cast<unsigned char>(c) <= ' ') c = '_';
  }
  return name;
}

bool IsRetryableReplyError(std::string_view message) {
  static constexpr std::array<std::string_view, 9> kTransient = {
      "LOADING", "BUSY", "READONLY", "MISCONF", "OOM", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"};
  for (std::string_view p : kTransient) {
    if (message.starts_with(p) && (message.size() == p.size() || message[p.size()] == ' ')) return true;
  }
  return false;
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::Connect(const RedisEndpoint& endpoint,
                                                                  std::chrono::milliseconds timeout,
                                                                  Interrupter* interrupt) {
  // Connecting is bounded more tightly than commands: a dead host fails fast.
  ASSIGN_OR_RETURN(int fd, ConnectSocket(endpoint, std::min(timeout, std::chrono::milliseconds(5000)), interrupt));
  redisContext* c = redisConnectFd(fd);
  if (c == nullptr) {
    ::close(fd);
    return Status::Retryable(StatusCode::kIoError, "{}: cannot allocate a connection", endpoint.Describe());
  }
  std::unique_ptr<RedisConnection> conn(new RedisConnection(endpoint, c));
  // Before the first command: AUTH or SELECT on a server that hangs is cut
  // too, and an interrupt since the connect's last look shuts it down here.
  conn->interrupter_ = interrupt;
  if (interrupt != nullptr) interrupt->Add(conn.get());
  if (redisSetTimeout(c, ToTimeval(timeout)) != REDIS_OK) return conn->IoError("set timeout");
  redisEnableKeepAlive(c);
  if (endpoint.has_password) {
    std::vector<std::string> auth = {"AUTH"};
    if (!endpoint.user.empty()) auth.push_back(endpoint.user);
    auth.push_back(endpoint.password);
    ASSIGN_OR_RETURN(RedisReply r, conn->Command(auth));
    if (r.is_error()) {
      // Wrong credentials do not fix themselves; a server still loading does.
      if (IsRetryableReplyError(r.str)) return Status::Retryable(StatusCode::kServerError, "{}: AUTH: {}", endpoint.Describe(), r.str);
      return Status::Error(StatusCode::kServerError, "{}: AUTH: {}", endpoint.Describe(), r.str);
    }
  }
  if (endpoint.db != 0) {
    ASSIGN_OR_RETURN(RedisReply r, conn->Command({"SELECT", std::to_string(endpoint.db)}));
    if (r.is_error()) return Status::Error(StatusCode::kServerError, "{}: SELECT {}: {}", endpoint.Describe(), endpoint.db, r.str);
  }
  return conn;
}

RedisConnection::~RedisConnection() {
  // Leaves the interrupter first: the descriptor is not closed (and reused)
  // while it may still shut it down.
  if (interrupter_ != nullptr) interrupter_->Remove(this);
  if (c_ != nullptr) redisFree(c_);
}

void RedisConnection::ShutdownSocket() {
  // Only the traffic ends (a blocked read returns at once); redisFree closes.
  if (c_ != nullptr && c_->fd >= 0) ::shutdown(c_->fd, SHUT_RDWR);
}

Status RedisConnection::IoError(std::string_view what) {
  broken_ = true;
  pending_ = 0;
  std::string why = c_->err != 0 ? std::string(c_->errstr) : "unknown error";
  if (c_->err == REDIS_ERR_EOF) why = "the server closed the connection";
  if (interrupter_ != nullptr && interrupter_->interrupted()) why = "interrupted (the connection was cut)";
  return Status::Retryable(StatusCode::kIoError, "{}: {}: {}", endpoint_.Describe(), what, why);
}

void RedisConnection::Append(const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  if (redisAppendCommandArgv(c_, static_cast<int>(argv.size()), ptrs.data(), lens.data()) != REDIS_OK) {
    broken_ = true;  // out of memory in hiredis: Read reports it
  }
  ++pending_;
}

Result<RedisReply> RedisConnection::Read() {
  if (broken_) return IoError("read");
  void* raw = nullptr;
  if (redisGetReply(c_, &raw) != REDIS_OK || raw == nullptr) return IoError("read");
  --pending_;
  auto* r = static_cast<redisReply*>(raw);
  RedisReply out = Copy(r);
  freeReplyObject(r);
  return out;
}

Result<RedisReply> RedisConnection::Command(const std::vector<std::string>& argv) {
  Append(argv);
  // Replies of earlier queued commands come first.
  while (pending_ > 1) {
    ASSIGN_OR_RETURN(RedisReply ignored, Read());
    (void)ignored;
  }
  return Read();
}

Result<RedisReply> RedisConnection::Checked(const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(RedisReply r, Command(argv));
  if (!r.is_error()) return r;
  if (IsRetryableReplyError(r.str)) {
    return Status::Retryable(StatusCode::kServerError, "{}: {}: {}", endpoint_.Describe(), argv.empty() ? "" : argv[0], r.str);
  }
  return Status::Error(StatusCode::kServerError, "{}: {}: {}", endpoint_.Describe(), argv.empty() ? "" : argv[0], r.str);
}

Result<std::optional<std::vector<RedisClient>>> RedisConnection::Clients() {
  ASSIGN_OR_RETURN(RedisReply list, Command({"CLIENT", "LIST"}));
  if (list.is_error()) {
    if (IsRetryableReplyError(list.str)) {
      return Status::Retryable(StatusCode::kServerError, "{}: CLIENT LIST: {}", endpoint_.Describe(), list.str);
    }
    return std::optional<std::vector<RedisClient>>();
  }
  std::vector<RedisClient> clients;
  std::istringstream lines(list.str);
  for (std::string line; std::getline(lines, line);) {
    RedisClient client;
    std::istringstream fields(line);
    for (std::string f; fields >> f;) {
      if (f.starts_with("id=")) client.id = f.substr(3);
      if (f.starts_with("addr=")) client.addr = f.substr(5);
      if (f.starts_with("name=")) client.name = f.substr(5);
      if (f.starts_with("idle=")) client.idle_seconds = std::strtoull(f.c_str() + 5, nullptr, 10);
    }
    if (!client.id.empty()) clients.push_back(std::move(client));
  }
  return std::optional<std::vector<RedisClient>>(std::move(clients));
}

}  // namespace sluice::sink::redis
