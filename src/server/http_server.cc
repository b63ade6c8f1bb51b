#include "server/http_server.h"

#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace sluice::server {

namespace {

// Server tuning. httplib gives each connection a worker until it closes or
// idles out, and a client that connects and sends nothing holds its worker
// for the keep-alive idle timeout (a half-sent request: the read timeout).
// The pool is therefore sized for the connections that may be open at once
// (operators, Prometheus, probes, and a few stuck clients), not for the
// request rate: idle workers cost a stack each. The timeouts also bound how
// long Stop() can wait for such a client: httplib checks for shutdown only
// between requests on a kept-alive connection.
constexpr size_t kWorkerThreads = 32;
constexpr time_t kKeepAliveIdleSeconds = 1;
constexpr time_t kReadTimeoutSeconds = 2;
constexpr time_t kWriteTimeoutSeconds = 5;

const char* ReasonText(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 404:
      return "not found";
    case 405:
      return "method not allowed";
    case 413:
      return "request body too large";
    case 414:
      return "request target too long";
    case 416:
      return "range not satisfiable";
    case 500:
      return "internal error";
    default:
      return "request failed";
  }
}

std::string ErrnoText(int err) {
  switch (err) {
    case 0:
      return "bind failed";
    case EADDRINUSE:
      return "address in use";
    case EACCES:
      return "permission denied";
    case EADDRNOTAVAIL:
      return "address not available on this host";
    default:
      return std::strerror(err);
  }
}

struct ListenAddress {
  std::string host;
  int port = 0;
};

Result<ListenAddress> ParseListen(std::string_view listen) {
  auto invalid = [&] {
    return Status::Invalid(
        "http: invalid listen address \"{}\": expected HOST:PORT (127.0.0.1:8700, [::1]:8700, :8700)", listen);
  };
  ListenAddress a;
  std::string_view port;
  if (listen.starts_with('[')) {
    size_t close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return invalid();
    }
    a.host = std::string(listen.substr(1, close - 1));
    port = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) return invalid();
    a.host = std::string(listen.substr(0, colon));
    if (a.host.find(':') != std::string::npos) {
      return invalid();
    }  // IPv6 needs brackets
    port = listen.substr(colon + 1);
  }
  if (a.host.empty()) a.host = "0.0.0.0";
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || a.port < 0 || a.port > 65535) {
    return invalid();
  }
  return a;
}

}  // namespace

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding; '+' is a space only in query strings (the
// form-encoding convention), a literal '+' in paths. nullopt for a '%' not
// followed by two hex digits.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = HexDigit(s[i + 1]);
      int lo = HexDigit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

// The value of the first `key` parameter; nullopt when absent. Sets `bad`
// when the query cannot be decoded.
std::optional<std::string> QueryParam(std::string_view query, std::string_view key, bool& bad) {
  bad = false;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::optional<std::string> k = PercentDecode(item.substr(0, eq), true);
    std::optional<std::string> v =
        PercentDecode(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1), true);
    if (!k || !v) {
      bad = true;
      return std::nullopt;
    }
    if (*k == key) return v;
  }
  return std::nullopt;
}

// Splits "/a/b%2Fc/" into {"a", "b/c"}: each segment decoded on its own, so
// an encoded slash stays inside its segment; one trailing slash is ignored.
std::optional<std::vector<std::string>> PathSegments(std::string_view path) {
  std::vector<std::string> out;
  std::string_view rest = path.substr(1);
  while (true) {
    size_t slash = rest.find('/');
    std::optional<std::string> seg = PercentDecode(rest.substr(0, slash), false);
    if (!seg) return std::nullopt;
    out.push_back(std::move(*seg));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (out.size() > 1 && out.back().empty()) out.pop_back();
  return out;
}

HttpResponse JsonResponse(int status, const nlohmann::ordered_json& j) {
  return {status, "application/json", j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace), {}};
}

HttpResponse MethodNotAllowed(std::string_view method, std::string_view path, std::string_view allowed) {
  HttpResponse r = JsonError(405, fmt::format("method {} not allowed on {}; use {}", method, path, allowed));
  r.headers.emplace_back("Allow", allowed == "GET" ? "GET, HEAD" : std::string(allowed));
  return r;
}

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kNotSupported:
    case StatusCode::kCancelled:
    case StatusCode::kAborted:
      return 409;
    default:
      return status.retryable() ? 503 : 500;
  }
}

HttpResponse JsonError(int status, std::string_view message) {
  nlohmann::json j;
  j["error"] = message;
  // Messages carry names and server errors that need not be valid UTF-8.
  return {status, "application/json", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

HttpServer::HttpServer() = default;

HttpServer::~HttpServer() { Stop(); }

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

namespace {

HttpRequest MakeRequest(const httplib::Request& req, std::string_view body, bool tls) {
  HttpRequest r;
  r.method = req.method;
  r.target = req.target;
  r.body = body;
  r.remote_addr = req.remote_addr;
  r.tls = tls;
  r.headers.reserve(req.headers.size());
  for (const auto& [k, v] : req.headers) {
    std::string lower(k);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(std::move(lower), v);
  }
  return r;
}

}  // namespace

HttpResponse HttpServer::Answer(const HttpRequest& request) {
  std::string_view method = request.method, target = request.target;
  try {
    if (gate_) return gate_(request, handler_);
    return handler_(method, target, request.body);
  } catch (const std::exception& e) {
    spdlog::error("http: {} {}: {}", method, target, e.what());
    return JsonError(500, fmt::format("internal error: {}", e.what()));
  } catch (...) {
    spdlog::error("http: {} {}: unknown exception", method, target);
    return JsonError(500, "internal error");
  }
}

Status HttpServer::Start(const std::string& listen, HttpHandler handler, size_t max_body_bytes) {
  if (server_) return Status::Invalid("http: already started on {}", listen_);
  ASSIGN_OR_RETURN(ListenAddress addr, ParseListen(listen));
  listen_ = listen;
  handler_ = std::move(handler);
  max_body_bytes_ = max_body_bytes;

  // Resolve first: httplib reports every failure as the same -1, and a
  // resolver error needs its own message.
  {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(addr.host.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
      return Status::Error(StatusCode::kIoError, "http: cannot listen on {}: cannot resolve \"{}\": {}", listen,
                           addr.host, ::gai_strerror(rc));
    }
    ::freeaddrinfo(res);
  }

  std::unique_ptr<httplib::Server> server;
  if (tls_) {
    auto ssl = std::make_unique<httplib::SSLServer>(tls_->cert.c_str(), tls_->key.c_str());
    if (!ssl->is_valid()) {
      return Status::Invalid(
          "http_tls: cannot serve HTTPS on {}: the certificate {} or the key {} cannot be loaded, or they do not "
          "match",
          listen, tls_->cert, tls_->key);
    }
    server = std::move(ssl);
  } else {
    server = std::make_unique<httplib::Server>();
  }
  const bool tls = tls_.has_value();
  // httplib's default socket options set SO_REUSEPORT, which would let a
  // second sluice bind the same port and silently share it; SO_REUSEADDR
  // alone allows a quick restart (TIME_WAIT) but not two listeners.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  server->set_keep_alive_timeout(kKeepAliveIdleSeconds);
  server->set_read_timeout(kReadTimeoutSeconds, 0);
  server->set_write_timeout(kWriteTimeoutSeconds, 0);
  server->set_payload_max_length(max_body_bytes_);

  // All routing is ours (Handle): httplib's regex routes cannot tell a wrong
  // method (405) from an unknown path (404), and they would match on the
  // already-decoded path where an encoded '/' in a name is lost.
  auto serve = [this, tls](const httplib::Request& req, httplib::Response& res) {
    HttpResponse r = Answer(MakeRequest(req, req.body, tls));
    res.status = r.status;
    for (auto& [k, v] : r.headers) res.set_header(k, v);
    res.set_header("Content-Type", r.content_type);
    res.body = std::move(r.body);  // the metrics page can be large: no copy
  };
  // Methods that may carry a body read it themselves: httplib would wait
  // for the connection to close (and answer 400 at the read timeout) when a
  // request has neither Content-Length nor Transfer-Encoding, which by RFC
  // 9112 section 6.3 means an empty body, as `curl -X POST URL` sends.
  auto serve_with_body = [this, tls](const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& content_reader) {
    std::string body;
    if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
      bool too_large = false;
      bool read = content_reader([&](const char* data, size_t len) {
        if (body.size() + len > max_body_bytes_) {
          too_large = true;
          return false;
        }
        body.append(data, len);
        return true;
      });
      too_large |= res.status == 413;  // httplib's own check against set_payload_max_length
      if (!read || too_large) {
        HttpResponse r = JsonError(too_large ? 413 : 400,
                                    too_large ? "request body too large" : "request body could not be read");
        res.status = r.status;
        res.set_header("Connection", "close");
        res.set_header("Content-Type", r.content_type);
        res.body = std::move(r.body);
        return;
      }
    }
    HttpResponse r = Answer(MakeRequest(req, body, tls));
    res.status = r.status;
    for (auto& [k, v] : r.headers) res.set_header(k, v);
    res.set_header("Content-Type", r.content_type);
    res.body = std::move(r.body);
  };
  server->Get(".*", serve);
  server->Post(".*", serve_with_body);
  server->Put(".*", serve_with_body);
  server->Delete(".*", serve_with_body);
  server->Patch(".*", serve_with_body);
  server->Options(".*", serve);
  // Errors httplib produces itself (unparsable request, body too large,
  // target too long) come with an empty body; give them the API's JSON shape.
  server->set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    res.set_content(JsonError(res.status, ReasonText(res.status)).body, "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  // One line per request. Never the body (a position is harmless, but the
  // rule is simpler than the exceptions); the raw target cannot hold a
  // newline, so one request stays one line.
  server->set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("http: {} {} -> {} ({} bytes) from {}", req.method, req.target, res.status, res.body.size(),
                  req.remote_addr);
  });

  errno = 0;
  int port = addr.port == 0 ? server->bind_to_any_port(addr.host)
                            : (server->bind_to_port(addr.host, addr.port) ? addr.port : -1);
  if (port <= 0) {
    // httplib closes the socket after a failed bind, which leaves errno as
    // bind(2) or listen(2) set it.
    int err = errno;
    return Status::Error(StatusCode::kIoError, "http: cannot listen on {}: {}", listen, ErrnoText(err));
  }
  port_ = static_cast<uint16_t>(port);
  server_ = std::move(server);
  listen_returned_ = false;
  thread_ = std::thread([this] {
    bool ok = server_->listen_after_bind();
    if (!ok) spdlog::error("http: the server on {} stopped accepting connections", listen_);
    listen_returned_ = true;
  });
  // httplib's stop() only acts once the accept loop has marked itself
  // running; wait for that so that a Stop() right after Start() cannot be
  // lost (and leave the join waiting forever).
  while (!server_->is_running() && !listen_returned_) std::this_thread::sleep_for(std::chrono::microseconds(100));
  spdlog::info("http: listening on {}:{}{}", addr.host, port, tls ? " (HTTPS)" : "");
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  // Exactly one stop() per running server: a second call while the pool
  // drains would trip httplib's assertion that the socket is still open.
  if (server_->is_running()) server_->stop();
  thread_.join();
  port_ = 0;
}

}  // namespace sluice::server
