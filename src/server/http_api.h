#pragma once
// The HTTP status API of `sluice run` (design §6, a contract: paths and field
// names are only ever extended, never renamed).
//
//   GET  /healthz                          text/plain: 200 "ok" while no pipeline has failed; 200
//                                          "degraded: N of M pipelines failed" and a line per failed
//                                          pipeline while some other still works; 503 "failed: every
//                                          pipeline has failed" with those lines once all have
//   GET  /metrics                          Prometheus text format 0.0.4
//   GET  /api/pipelines                    [status, ...]
//   GET  /api/pipelines/NAME/status        status
//   GET  /api/pipelines/NAME/delay         {"name","delay_ms","targets":[{"name","delay_ms"}]}
//   POST /api/pipelines/NAME/stop          200 + status after the stop (POSTs need no body, nor a
//                                          Content-Length: none means empty, as RFC 9112 says)
//   POST /api/pipelines/NAME/start         200 + status after the start
//   POST /api/pipelines/NAME/position      body {"position":"..."}; 200 + status
//   POST /api/pipelines/NAME/check         a consistency check now, in the background (status "check");
//                                          200 + status; 409 when the pipeline does not run or a check
//                                          is under way
//   POST /api/pipelines/NAME/repair        the same, repairing what differs
//   POST /api/pipelines/NAME/snapshot      a snapshot of every selected table alongside the stream
//                                          (status "snapshot"); 200 + status; 409 as for check
//   GET  /api/pipeline/status[?id=NAME]    the seed's (Otter's) alias: all, or one
//   GET  /api/pipeline/delay[?id=NAME]     the seed's alias: all, or one
//   GET  /api/alarms                       {"rules":[...],"alarms":[...]} (server/alarms/alarm_engine.h);
//                                          both lists empty without `alarms:`
//
// status = {"name","state","source_position","applied_position","delay_ms",
//           "rows_applied","last_error","targets":[{"name","state",
//           "applied_position","delay_ms","rows_applied","rows_per_second",
//           "last_error"}],"events":[{"time_ms","target","what","message"}]};
//           last_error is null when there is none; events are the last 50 state
//           changes (pipeline or target, "target" null for the pipeline), checks
//           and snapshots, newest first.
//
// Errors are JSON {"error":"..."}: 404 for an unknown route or pipeline
// (`no pipeline named "x"`), 405 (with Allow) for a known route and the wrong
// method, 400 for a malformed URL, query or body, and for controller errors
// the mapping of HttpStatusFor(). NAME is percent-decoded (one path segment,
// so a name holding '/' is sent as %2F). HEAD is served wherever GET is.
//
// Ownership and threading: the `run` command owns one HttpApi next to the
// controller and registry it serves, both of which must outlive it. Start()
// binds, then requests are served on the server's own threads (an accept
// thread and a worker pool of 32) which call the controller and render the
// registry concurrently; both are thread-safe by contract. Stop() (also run
// by the destructor) returns once no request is in progress: within about
// the 1 s keep-alive idle timeout plus the 2 s read timeout at worst, well
// under that when no client holds a connection open.

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

#include "core/status.h"
#include "pipeline/controller.h"
#include "server/http_server.h"
#include "pipeline/metrics.h"

namespace sluice::server {

using pipeline::MetricsRegistry;
using pipeline::PipelineController;


class HttpApi {
 public:
  HttpApi(PipelineController& controller, MetricsRegistry& metrics);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Binds `listen` ("127.0.0.1:8700", "[::1]:8700", "0.0.0.0:0" for an
  // ephemeral port, ":8700" for every interface) and starts serving. Returns
  // once the socket is listening, so a client may connect immediately.
  // Errors: kInvalidArgument for a malformed address, kIoError when it cannot
  // listen ("http: cannot listen on 127.0.0.1:8700: address in use"). Call
  // at most once.
  Status Start(const std::string& listen);
  // Stops accepting, waits for requests in progress, joins the threads.
  // Idempotent; safe when Start() was never called or failed.
  void Stop();
  // Routes of the embedding command (e.g. `sluice node`'s /api/node), tried
  // after the built-in ones: given the method, the decoded path segments and
  // the body, an answer, or nullopt for "not mine" (then 404). Set before
  // Start(); called on server threads, so it must be thread-safe.
  using ExtraRoutes = std::function<std::optional<HttpResponse>(
      std::string_view method, const std::vector<std::string>& segments, std::string_view body)>;
  void SetExtraRoutes(ExtraRoutes routes) { extra_routes_ = std::move(routes); }
  // Before Start: the body of GET /api/alarms (thread-safe).
  void SetAlarmsView(std::function<std::string()> view) { alarms_view_ = std::move(view); }

  // Before Start: access control and audit in front of every route
  // (server/auth/access_gate.h), and HTTPS (`http_tls:`).
  void SetGate(HttpGate gate) { server_.SetGate(std::move(gate)); }
  void SetTls(HttpTls tls) { server_.SetTls(std::move(tls)); }

  // The bound port (the real one when Start was given port 0); 0 before Start.
  uint16_t port() const { return server_.port(); }

  // Answers one request: `target` is the raw request target (path and
  // query, still percent-encoded), `method` upper case. Thread-safe; the
  // server threads call it, and tests may call it without a socket. Never
  // throws: an unexpected exception becomes a 500.
  HttpResponse Handle(std::string_view method, std::string_view target, std::string_view body);

 private:
  HttpResponse Route(std::string_view method, std::string_view target, std::string_view body);

  PipelineController& controller_;
  MetricsRegistry& metrics_;
  ExtraRoutes extra_routes_;
  std::function<std::string()> alarms_view_;
  HttpServer server_;
};

// Registers gauges computed from the controller at scrape time, for what only
// the controller knows. Opt-in, because the runner may export these itself:
//   sluice_pipeline_state{pipeline,state}          1 for the current state, 0 for the others
//   sluice_pipeline_delay_seconds{pipeline}        the largest target delay
//   sluice_target_delay_seconds{pipeline,target}   per target
// `controller` must outlive the registry's scrapes.
void RegisterStatusMetrics(MetricsRegistry& metrics, const PipelineController& controller);

}  // namespace sluice::server
