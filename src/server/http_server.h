#pragma once
// The HTTP server under sluice's APIs: `sluice run`'s (http_api.h) and the
// cluster manager's (cluster/manager_api.h). It owns the sockets and threads
// (cpp-httplib) and hands every request to one handler, which does all the
// routing: httplib's regex routes cannot tell a wrong method (405) from an
// unknown path (404), and they match on the decoded path, where an encoded
// '/' in a name is lost.
//
// Threading: Start() binds, then requests are served on the server's own
// threads (an accept thread and a worker pool of 32) which call the handler
// concurrently. Stop() (also run by the destructor) returns once no request
// is in progress: within about the 1 s keep-alive idle timeout plus the 2 s
// read timeout at worst.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace httplib {
class Server;  // kept out of this header: cpp-httplib drags in sockets and OpenSSL
}

namespace sluice::server {

// A response, independent of the HTTP library.
struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type (e.g. Allow)
};

// Answers one request: `target` is the raw request target (path and query,
// still percent-encoded), `method` upper case, HEAD served as GET would be.
using HttpHandler =
    std::function<HttpResponse(std::string_view method, std::string_view target, std::string_view body)>;

// One request as a gate (below) sees it: the handler's arguments plus what
// access control needs.
struct HttpRequest {
  std::string_view method;
  std::string_view target;
  std::string_view body;
  std::string_view remote_addr;  // the peer's IP address
  bool tls = false;              // arrived over HTTPS
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  // The first header named `lower_name`, "" when absent.
  std::string_view Header(std::string_view lower_name) const;
};

// Runs before the handler on every request (access control and audit,
// server/auth/access_gate.h): answers itself, or calls `next`.
using HttpGate = std::function<HttpResponse(const HttpRequest& request, const HttpHandler& next)>;

// HTTPS: PEM files of the certificate (chain) and its private key.
struct HttpTls {
  std::string cert;
  std::string key;
};

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `listen` ("127.0.0.1:8700", "[::1]:8700", "0.0.0.0:0" for an
  // ephemeral port, ":8700" for every interface) and starts serving. Returns
  // once the socket is listening. Errors: kInvalidArgument for a malformed
  // address, kIoError when it cannot listen ("http: cannot listen on
  // 127.0.0.1:8700: address in use"). Call at most once. A body larger than
  // `max_body_bytes` gets 413. An exception from the handler becomes a 500.
  Status Start(const std::string& listen, HttpHandler handler, size_t max_body_bytes = size_t{64} * 1024);
  // Stops accepting, waits for requests in progress, joins the threads.
  // Idempotent; safe when Start() was never called or failed.
  void Stop();
  // The bound port (the real one when Start was given port 0); 0 before Start.
  uint16_t port() const { return port_.load(); }
  // Before Start: every request passes `gate` first.
  void SetGate(HttpGate gate) { gate_ = std::move(gate); }
  // Before Start: serve HTTPS only (OpenSSL, through cpp-httplib). Start then
  // fails with kInvalidArgument naming http_tls when the files do not load.
  void SetTls(HttpTls tls) { tls_ = std::move(tls); }

 private:
  HttpResponse Answer(const HttpRequest& request);

  HttpHandler handler_;
  HttpGate gate_;
  std::optional<HttpTls> tls_;
  size_t max_body_bytes_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> listen_returned_{false};
  std::string listen_;  // as given to Start, for messages
};

// The HTTP status for an error of the API's backend (controller, manager):
//   kInvalidArgument                      -> 400 (bad input, e.g. a position the pipeline rejects)
//   kNotFound                             -> 404
//   kNotSupported, kCancelled, kAborted   -> 409 (valid request the current state forbids, e.g.
//                                                 moving a running pipeline's position, or a
//                                                 conflicting change: try again)
//   any other retryable error             -> 503 (try again: the store or a server is unavailable)
//   anything else                         -> 500
int HttpStatusFor(const Status& status);

// {"error": message} with `status`.
HttpResponse JsonError(int status, std::string_view message);
// `j` as application/json with `status`. Positions, error messages and
// names come from servers and users and need not be valid UTF-8: such bytes
// become U+FFFD (nlohmann's default dump would throw).
HttpResponse JsonResponse(int status, const nlohmann::ordered_json& j);
// 405 naming the method, the path and what it allows, with an Allow header
// (GET allows HEAD too).
HttpResponse MethodNotAllowed(std::string_view method, std::string_view path, std::string_view allowed);

// Splits "/a/b%2Fc/" into {"a", "b/c"}: each segment percent-decoded on its
// own, so an encoded slash stays inside its segment; one trailing slash is
// ignored. nullopt for a bad percent escape.
std::optional<std::vector<std::string>> PathSegments(std::string_view path);

// The value of the first `key` parameter of a query string; nullopt when
// absent. Sets `bad` when the query cannot be decoded.
std::optional<std::string> QueryParam(std::string_view query, std::string_view key, bool& bad);

}  // namespace sluice::server
