#include "pipeline/http_api.h"

#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>
#include <optional>
#include <variant>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/position.h"

namespace sluice::pipeline {

namespace {

using Json = nlohmann::ordered_json;  // ordered: fields appear in the contract's order

constexpr const char* kJsonType = "application/json";
constexpr const char* kTextType = "text/plain; charset=utf-8";
constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

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
constexpr size_t kMaxBodyBytes = size_t{64} * 1024;  // the only body is {"position": "..."}

// Positions, error messages and names come from servers and users and need
// not be valid UTF-8; nlohmann's default dump throws on such bytes, so every
// dump replaces them with U+FFFD instead.
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

HttpResponse JsonResponse(int status, const Json& j) { return {status, kJsonType, Dump(j), {}}; }

HttpResponse ErrorResponse(int status, std::string_view message) {
  Json j;
  j["error"] = message;
  return JsonResponse(status, j);
}

HttpResponse NoPipeline(std::string_view name) {
  return ErrorResponse(404, fmt::format("no pipeline named \"{}\"", name));
}

HttpResponse StatusError(const Status& s) { return ErrorResponse(HttpStatusFor(s), s.message()); }

HttpResponse MethodNotAllowed(std::string_view method, std::string_view path, std::string_view allowed) {
  HttpResponse r = ErrorResponse(405, fmt::format("method {} not allowed on {}; use {}", method, path, allowed));
  r.headers.emplace_back("Allow", allowed == "GET" ? "GET, HEAD" : std::string(allowed));
  return r;
}

// "" means no error; null says so without a sentinel string.
Json ErrorOrNull(const std::string& e) { return e.empty() ? Json(nullptr) : Json(e); }

Json TargetJson(const TargetStatus& t) {
  Json j;
  j["name"] = t.name;
  j["state"] = PipelineStateName(t.state);
  j["applied_position"] = t.applied_position;
  j["delay_ms"] = t.delay_ms;
  j["rows_applied"] = t.rows_applied;
  j["rows_per_second"] = t.rows_per_second;  // NaN/Inf dump as null
  j["last_error"] = ErrorOrNull(t.last_error);
  return j;
}

Json StatusJson(const PipelineStatus& p) {
  Json j;
  j["name"] = p.name;
  j["state"] = PipelineStateName(p.state);
  j["source_position"] = p.source_position;
  j["applied_position"] = p.applied_position;
  j["delay_ms"] = p.delay_ms;
  j["rows_applied"] = p.rows_applied;
  j["last_error"] = ErrorOrNull(p.last_error);
  j["store_error"] = ErrorOrNull(p.store_error);
  Json targets = Json::array();
  for (const TargetStatus& t : p.targets) targets.push_back(TargetJson(t));
  j["targets"] = std::move(targets);
  if (p.has_snapshot) {
    Json snap;
    snap["phase"] = p.snapshot.phase;
    snap["start_position"] = p.snapshot.start_position;
    snap["rows_copied"] = p.snapshot.rows_copied;
    snap["error"] = ErrorOrNull(p.snapshot.error);
    Json tables = Json::array();
    for (const SnapshotTableProgress& t : p.snapshot.tables) {
      Json tj;
      tj["source"] = t.source;
      tj["target"] = t.target;
      tj["rows_copied"] = t.rows_copied;
      tj["rows_estimate"] = t.rows_estimate;
      tj["chunks_done"] = t.chunks_done;
      tj["chunks_total"] = t.chunks_total;
      tj["rows_per_second"] = t.rows_per_second;
      tj["eta_seconds"] = t.eta_seconds < 0 ? Json(nullptr) : Json(t.eta_seconds);
      tj["finished"] = t.finished;
      tables.push_back(std::move(tj));
    }
    snap["tables"] = std::move(tables);
    j["snapshot"] = std::move(snap);
  } else {
    j["snapshot"] = nullptr;
  }
  if (p.clustered) {
    j["owner"] = p.owner.empty() ? Json(nullptr) : Json(p.owner);
    j["epoch"] = p.epoch;
  }
  if (p.has_check) {
    const CheckStatus& c = p.check;
    Json cj;
    cj["state"] = c.state;
    cj["runs"] = c.runs;
    cj["last_started_ms"] = c.last_started_ms == 0 ? Json(nullptr) : Json(c.last_started_ms);
    cj["last_finished_ms"] = c.last_finished_ms == 0 ? Json(nullptr) : Json(c.last_finished_ms);
    cj["next_ms"] = c.next_ms;
    cj["last_duration_s"] = c.last_duration_s;
    cj["missing"] = c.missing;
    cj["extra"] = c.extra;
    cj["different"] = c.different;
    cj["in_flight"] = c.in_flight;
    cj["repaired_rows"] = c.repaired_rows;
    cj["remaining"] = c.remaining;
    cj["error"] = ErrorOrNull(c.error);
    j["check"] = std::move(cj);
  } else {
    j["check"] = nullptr;
  }
  return j;
}

Json DelayJson(const PipelineStatus& p) {
  Json j;
  j["name"] = p.name;
  j["delay_ms"] = p.delay_ms;
  Json targets = Json::array();
  for (const TargetStatus& t : p.targets) {
    Json tj;
    tj["name"] = t.name;
    tj["delay_ms"] = t.delay_ms;
    targets.push_back(std::move(tj));
  }
  j["targets"] = std::move(targets);
  return j;
}

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

// The JSON body of POST .../position: {"position": "..."}. Returns the
// position text or a 400 response naming what is wrong.
std::variant<std::string, HttpResponse> ParsePositionBody(std::string_view body) {
  constexpr std::string_view kExpected = R"(expected {"position": "GTID, FILE:POS, latest or earliest"})";
  if (body.empty()) return ErrorResponse(400, fmt::format("request body is empty; {}", kExpected));
  Json j;
  try {
    j = Json::parse(body);
  } catch (const Json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, ...";
    // the bracketed id means nothing to a user of the API.
    std::string_view what = e.what();
    if (size_t close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
    return ErrorResponse(400, fmt::format("malformed JSON body: {}", what));
  }
  if (!j.is_object()) {
    return ErrorResponse(400,
                         fmt::format("JSON body is {} {}; {}", j.is_array() ? "an" : "a", j.type_name(), kExpected));
  }
  auto it = j.find("position");
  if (it == j.end()) return ErrorResponse(400, fmt::format("JSON body has no \"position\"; {}", kExpected));
  if (!it->is_string()) {
    return ErrorResponse(400, fmt::format("\"position\" must be a string, not {} {}",
                                          it->is_array() || it->is_object() ? "an" : "a", it->type_name()));
  }
  std::string position = it->get<std::string>();
  if (position.empty()) return ErrorResponse(400, fmt::format("\"position\" is empty; {}", kExpected));
  // Rejecting a malformed position here gives the user the parser's precise
  // message with a 400, rather than whatever the runner makes of it.
  Result<StartPosition> parsed = StartPosition::Parse(position);
  if (!parsed.ok()) return ErrorResponse(400, parsed.status().message());
  return position;
}

// GET /healthz: 200 "ok" while no pipeline has failed; 200 "degraded: ..."
// naming the failed ones while some other pipeline still works (or was
// stopped on purpose); 503 "failed: ..." once every pipeline has failed, so
// that a liveness probe restarts a process that can no longer do anything.
HttpResponse Health(const std::vector<PipelineStatus>& pipelines) {
  std::string failed;
  size_t n_failed = 0;
  for (const PipelineStatus& p : pipelines) {
    if (p.state != PipelineState::kFailed) continue;
    ++n_failed;
    failed +=
        fmt::format("\npipeline {} failed: {}", p.name, p.last_error.empty() ? "(no error recorded)" : p.last_error);
  }
  if (n_failed == 0) return {200, kTextType, "ok", {}};
  if (n_failed == pipelines.size()) return {503, kTextType, "failed: every pipeline has failed" + failed, {}};
  return {200, kTextType, fmt::format("degraded: {} of {} pipelines failed", n_failed, pipelines.size()) + failed, {}};
}

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
      return 409;
    default:
      return status.retryable() ? 503 : 500;
  }
}

HttpApi::HttpApi(PipelineController& controller, MetricsRegistry& metrics)
    : controller_(controller), metrics_(metrics) {}

HttpApi::~HttpApi() { Stop(); }

HttpResponse HttpApi::Handle(std::string_view method, std::string_view target, std::string_view body) {
  try {
    return Route(method, target, body);
  } catch (const std::exception& e) {
    // A bug or an exhausted resource in a controller call or a metrics
    // callback: one failed request, never a dead server.
    spdlog::error("http: {} {}: {}", method, target, e.what());
    return ErrorResponse(500, fmt::format("internal error: {}", e.what()));
  } catch (...) {
    spdlog::error("http: {} {}: unknown exception", method, target);
    return ErrorResponse(500, "internal error");
  }
}

HttpResponse HttpApi::Route(std::string_view method, std::string_view target, std::string_view body) {
  std::string_view path = target;
  std::string_view query;
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  if (!path.starts_with('/')) {
    return ErrorResponse(400, fmt::format("malformed request target \"{}\": expected a path", target));
  }
  std::optional<std::vector<std::string>> segments = PathSegments(path);
  if (!segments) return ErrorResponse(400, fmt::format("malformed URL path \"{}\": bad percent escape", path));
  const std::vector<std::string>& s = *segments;
  const bool get = method == "GET" || method == "HEAD";  // httplib answers HEAD through GET routes
  const bool post = method == "POST";

  if (s.size() == 1 && s[0] == "healthz") {
    if (!get) return MethodNotAllowed(method, path, "GET");
    return Health(controller_.ListPipelines());
  }

  if (s.size() == 1 && s[0] == "metrics") {
    if (!get) return MethodNotAllowed(method, path, "GET");
    return {200, kMetricsType, metrics_.RenderPrometheus(), {}};
  }

  if (s.size() == 2 && s[0] == "api" && s[1] == "pipelines") {
    if (!get) return MethodNotAllowed(method, path, "GET");
    Json all = Json::array();
    for (const PipelineStatus& p : controller_.ListPipelines()) all.push_back(StatusJson(p));
    return JsonResponse(200, all);
  }

  if (s.size() == 4 && s[0] == "api" && s[1] == "pipelines") {
    const std::string& name = s[2];
    const std::string& action = s[3];
    const bool read = action == "status" || action == "delay";
    const bool write = action == "stop" || action == "start" || action == "position";
    if (read || write) {
      if (read && !get) return MethodNotAllowed(method, path, "GET");
      if (write && !post) return MethodNotAllowed(method, path, "POST");
      // Every action checks that the pipeline exists first, so that an
      // unknown name always gets the same 404, whatever the controller's own
      // NotFound message would say.
      Result<PipelineStatus> before = controller_.GetPipeline(name);
      if (!before.ok()) {
        return before.status().code() == StatusCode::kNotFound ? NoPipeline(name) : StatusError(before.status());
      }
      if (action == "status") return JsonResponse(200, StatusJson(*before));
      if (action == "delay") return JsonResponse(200, DelayJson(*before));

      Status done;
      if (action == "stop") {
        done = controller_.StopPipeline(name);
      } else if (action == "start") {
        done = controller_.StartPipeline(name);
      } else {
        std::variant<std::string, HttpResponse> position = ParsePositionBody(body);
        if (auto* bad = std::get_if<HttpResponse>(&position)) return std::move(*bad);
        const std::string& text = std::get<std::string>(position);
        done = controller_.SetPosition(name, text);
        if (done.ok()) spdlog::info("http: pipeline \"{}\": start position set to {}", name, text);
      }
      if (!done.ok()) return StatusError(done);
      // The answer is the status after the change, so a script sees at once
      // whether the pipeline went to "stopped" or is still stopping.
      Result<PipelineStatus> after = controller_.GetPipeline(name);
      if (!after.ok()) {
        return after.status().code() == StatusCode::kNotFound ? NoPipeline(name) : StatusError(after.status());
      }
      return JsonResponse(200, StatusJson(*after));
    }
  }

  // The seed's (Otter's) calls: /api/pipeline/status and /api/pipeline/delay,
  // with ?id=NAME for one pipeline, without for all of them.
  if (s.size() == 3 && s[0] == "api" && s[1] == "pipeline" && (s[2] == "status" || s[2] == "delay")) {
    if (!get) return MethodNotAllowed(method, path, "GET");
    const bool delay = s[2] == "delay";
    bool bad_query = false;
    std::optional<std::string> id = QueryParam(query, "id", bad_query);
    if (bad_query) return ErrorResponse(400, "malformed query string: bad percent escape");
    if (!id) {
      Json all = Json::array();
      for (const PipelineStatus& p : controller_.ListPipelines()) {
        all.push_back(delay ? DelayJson(p) : StatusJson(p));
      }
      return JsonResponse(200, all);
    }
    if (id->empty()) return ErrorResponse(400, "query parameter \"id\" is empty; expected ?id=PIPELINE_NAME");
    Result<PipelineStatus> p = controller_.GetPipeline(*id);
    if (!p.ok()) return p.status().code() == StatusCode::kNotFound ? NoPipeline(*id) : StatusError(p.status());
    return JsonResponse(200, delay ? DelayJson(*p) : StatusJson(*p));
  }

  if (extra_routes_) {
    if (std::optional<HttpResponse> r = extra_routes_(method, s, body)) return std::move(*r);
  }
  return ErrorResponse(404, fmt::format("no route for {} {}", method, path));
}

Status HttpApi::Start(const std::string& listen) {
  if (server_) return Status::Invalid("http: already started on {}", listen_);
  ASSIGN_OR_RETURN(ListenAddress addr, ParseListen(listen));
  listen_ = listen;

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

  auto server = std::make_unique<httplib::Server>();
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
  server->set_payload_max_length(kMaxBodyBytes);

  // All routing is ours (Handle): httplib's regex routes cannot tell a wrong
  // method (405) from an unknown path (404), and they would match on the
  // already-decoded path where an encoded '/' in a name is lost.
  auto serve = [this](const httplib::Request& req, httplib::Response& res) {
    HttpResponse r = Handle(req.method, req.target, req.body);
    res.status = r.status;
    for (auto& [k, v] : r.headers) res.set_header(k, v);
    res.set_header("Content-Type", r.content_type);
    res.body = std::move(r.body);  // the metrics page can be large: no copy
  };
  // Methods that may carry a body read it themselves: httplib would wait
  // for the connection to close (and answer 400 at the read timeout) when a
  // request has neither Content-Length nor Transfer-Encoding, which by RFC
  // 9112 section 6.3 means an empty body, as `curl -X POST URL` sends.
  auto serve_with_body = [this](const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& content_reader) {
    std::string body;
    if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
      bool too_large = false;
      bool read = content_reader([&](const char* data, size_t len) {
        if (body.size() + len > kMaxBodyBytes) {
          too_large = true;
          return false;
        }
        body.append(data, len);
        return true;
      });
      too_large |= res.status == 413;  // httplib's own check against set_payload_max_length
      if (!read || too_large) {
        HttpResponse r = ErrorResponse(too_large ? 413 : 400,
                                       too_large ? "request body too large" : "request body could not be read");
        res.status = r.status;
        res.set_header("Connection", "close");
        res.set_header("Content-Type", r.content_type);
        res.body = std::move(r.body);
        return;
      }
    }
    HttpResponse r = Handle(req.method, req.target, body);
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
    Json j;
    j["error"] = ReasonText(res.status);
    res.set_content(Dump(j), kJsonType);
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
  spdlog::info("http: listening on {}:{}", addr.host, port);
  return Status::Ok();
}

void HttpApi::Stop() {
  if (!thread_.joinable()) return;
  // Exactly one stop() per running server: a second call while the pool
  // drains would trip httplib's assertion that the socket is still open.
  if (server_->is_running()) server_->stop();
  thread_.join();
  port_ = 0;
}

void RegisterStatusMetrics(MetricsRegistry& metrics, const PipelineController& controller) {
  static constexpr PipelineState kStates[] = {PipelineState::kStarting, PipelineState::kRunning,
                                              PipelineState::kRetrying, PipelineState::kStopped,
                                              PipelineState::kFailed, PipelineState::kSnapshotting,
                                              PipelineState::kPaused, PipelineState::kFenced};
  metrics.AddGaugeCollector("sluice_pipeline_state",
                            "Pipeline state: 1 for the state the pipeline is in, 0 for the others.",
                            {"pipeline", "state"}, [&controller] {
                              std::vector<GaugeSample> out;
                              for (const PipelineStatus& p : controller.ListPipelines()) {
                                for (PipelineState s : kStates) {
                                  out.push_back({{p.name, PipelineStateName(s)}, p.state == s ? 1.0 : 0.0});
                                }
                              }
                              return out;
                            });
  // Snapshot progress per pipeline and source table, while `snapshot: initial` copies (and after).
  auto snapshot_gauge = [&metrics, &controller](const char* name, const char* help,
                                                std::function<double(const SnapshotTableProgress&)> value) {
    metrics.AddGaugeCollector(name, help, {"pipeline", "table"}, [&controller, value] {
      std::vector<GaugeSample> out;
      for (const PipelineStatus& p : controller.ListPipelines()) {
        if (!p.has_snapshot) continue;
        for (const SnapshotTableProgress& t : p.snapshot.tables) out.push_back({{p.name, t.source}, value(t)});
      }
      return out;
    });
  };
  snapshot_gauge("sluice_snapshot_rows_copied", "Rows a snapshot copied so far, per source table.",
                 [](const SnapshotTableProgress& t) { return static_cast<double>(t.rows_copied); });
  snapshot_gauge("sluice_snapshot_rows_estimate", "Rows a snapshot expects to copy (table statistics), per source table.",
                 [](const SnapshotTableProgress& t) { return static_cast<double>(t.rows_estimate); });
  snapshot_gauge("sluice_snapshot_chunks_done", "Snapshot chunks copied, per source table.",
                 [](const SnapshotTableProgress& t) { return static_cast<double>(t.chunks_done); });
  snapshot_gauge("sluice_snapshot_chunks_total", "Snapshot chunks planned, per source table.",
                 [](const SnapshotTableProgress& t) { return static_cast<double>(t.chunks_total); });
  snapshot_gauge("sluice_snapshot_rows_per_second", "Snapshot copy rate, per source table.",
                 [](const SnapshotTableProgress& t) { return t.rows_per_second; });
  snapshot_gauge("sluice_snapshot_eta_seconds", "Estimated seconds until a table's snapshot is done (-1: unknown).",
                 [](const SnapshotTableProgress& t) { return t.eta_seconds; });
  // Periodic consistency checks (`check: {every, repair}`).
  metrics.AddGaugeCollector("sluice_check_differences",
                            "Rows that differ between source and target, by kind, found by the last periodic check.",
                            {"pipeline", "kind"}, [&controller] {
                              std::vector<GaugeSample> out;
                              for (const PipelineStatus& p : controller.ListPipelines()) {
                                if (!p.has_check || p.check.runs == 0) continue;
                                out.push_back({{p.name, "missing"}, static_cast<double>(p.check.missing)});
                                out.push_back({{p.name, "extra"}, static_cast<double>(p.check.extra)});
                                out.push_back({{p.name, "different"}, static_cast<double>(p.check.different)});
                              }
                              return out;
                            });
  auto check_gauge = [&metrics, &controller](const char* name, const char* help,
                                             std::function<double(const CheckStatus&)> value, bool counter = false) {
    auto add = counter ? &MetricsRegistry::AddCounterCollector : &MetricsRegistry::AddGaugeCollector;
    (metrics.*add)(name, help, {"pipeline"}, [&controller, value] {
      std::vector<GaugeSample> out;
      for (const PipelineStatus& p : controller.ListPipelines()) {
        if (p.has_check && p.check.runs > 0) out.push_back({{p.name}, value(p.check)});
      }
      return out;
    });
  };
  check_gauge(
      "sluice_check_runs_total", "Periodic consistency checks finished since start.",
      [](const CheckStatus& c) { return static_cast<double>(c.runs); }, /*counter=*/true);
  check_gauge("sluice_check_last_run_timestamp_seconds", "When the last periodic consistency check finished (Unix time).",
              [](const CheckStatus& c) { return static_cast<double>(c.last_finished_ms) / 1000.0; });
  check_gauge("sluice_check_duration_seconds", "How long the last periodic consistency check took.",
              [](const CheckStatus& c) { return c.last_duration_s; });
  check_gauge("sluice_check_repaired_rows", "Target rows the last periodic check's repair wrote.",
              [](const CheckStatus& c) { return static_cast<double>(c.repaired_rows); });
  check_gauge("sluice_check_failed", "1 when the last periodic consistency check failed or could not check a table.",
              [](const CheckStatus& c) { return c.state == "failed" ? 1.0 : 0.0; });
  metrics.AddGaugeCollector(
      "sluice_pipeline_delay_seconds",
      "Replication delay of the pipeline's least advanced target: now minus the source commit time of its last "
      "applied change.",
      {"pipeline"}, [&controller] {
        std::vector<GaugeSample> out;
        for (const PipelineStatus& p : controller.ListPipelines()) {
          out.push_back({{p.name}, static_cast<double>(p.delay_ms) / 1000.0});
        }
        return out;
      });
  metrics.AddGaugeCollector(
      "sluice_target_delay_seconds",
      "Replication delay per target: now minus the source commit time of the last change applied there.",
      {"pipeline", "target"}, [&controller] {
        std::vector<GaugeSample> out;
        for (const PipelineStatus& p : controller.ListPipelines()) {
          for (const TargetStatus& t : p.targets) {
            out.push_back({{p.name, t.name}, static_cast<double>(t.delay_ms) / 1000.0});
          }
        }
        return out;
      });
}

}  // namespace sluice::pipeline
