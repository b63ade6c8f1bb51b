#include "server/http_api.h"

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
#include "server/console/console_assets.h"
#include "server/status_json.h"

namespace sluice::server {

using pipeline::PipelineStateName;
using pipeline::PipelineStatus;
using pipeline::TargetStatus;
using pipeline::SnapshotTableProgress;
using pipeline::CheckStatus;
using pipeline::PipelineState;
using pipeline::GaugeSample;

namespace {

using Json = nlohmann::ordered_json;  // ordered: fields appear in the contract's order

constexpr const char* kJsonType = "application/json";
constexpr const char* kTextType = "text/plain; charset=utf-8";
constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";


HttpResponse NoPipeline(std::string_view name) {
  return JsonError(404, fmt::format("no pipeline named \"{}\"", name));
}

HttpResponse StatusError(const Status& s) { return JsonError(HttpStatusFor(s), s.message()); }


// The JSON body of POST .../position: {"position": "..."}. Returns the
// position text or a 400 response naming what is wrong.
std::variant<std::string, HttpResponse> ParsePositionBody(std::string_view body) {
  constexpr std::string_view kExpected = R"(expected {"position": "GTID, FILE:POS, latest or earliest"})";
  if (body.empty()) return JsonError(400, fmt::format("request body is empty; {}", kExpected));
  Json j;
  try {
    j = Json::parse(body);
  } catch (const Json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, ...";
    // the bracketed id means nothing to a user of the API.
    std::string_view what = e.what();
    if (size_t close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
    return JsonError(400, fmt::format("malformed JSON body: {}", what));
  }
  if (!j.is_object()) {
    return JsonError(400,
                         fmt::format("JSON body is {} {}; {}", j.is_array() ? "an" : "a", j.type_name(), kExpected));
  }
  auto it = j.find("position");
  if (it == j.end()) return JsonError(400, fmt::format("JSON body has no \"position\"; {}", kExpected));
  if (!it->is_string()) {
    return JsonError(400, fmt::format("\"position\" must be a string, not {} {}",
                                          it->is_array() || it->is_object() ? "an" : "a", it->type_name()));
  }
  std::string position = it->get<std::string>();
  if (position.empty()) return JsonError(400, fmt::format("\"position\" is empty; {}", kExpected));
  // Rejecting a malformed position here gives the user the parser's precise
  // message with a 400, rather than whatever the runner makes of it.
  Result<StartPosition> parsed = StartPosition::Parse(position);
  if (!parsed.ok()) return JsonError(400, parsed.status().message());
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

}  // namespace

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
    return JsonError(500, fmt::format("internal error: {}", e.what()));
  } catch (...) {
    spdlog::error("http: {} {}: unknown exception", method, target);
    return JsonError(500, "internal error");
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
    return JsonError(400, fmt::format("malformed request target \"{}\": expected a path", target));
  }
  std::optional<std::vector<std::string>> segments = PathSegments(path);
  if (!segments) return JsonError(400, fmt::format("malformed URL path \"{}\": bad percent escape", path));
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
    for (const PipelineStatus& p : controller_.ListPipelines()) all.push_back(PipelineStatusJson(p));
    return JsonResponse(200, all);
  }

  if (s.size() == 4 && s[0] == "api" && s[1] == "pipelines") {
    const std::string& name = s[2];
    const std::string& action = s[3];
    const bool read = action == "status" || action == "delay";
    const bool write = action == "stop" || action == "start" || action == "position" || action == "check" ||
                       action == "repair" || action == "snapshot";
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
      if (action == "status") return JsonResponse(200, PipelineStatusJson(*before));
      if (action == "delay") return JsonResponse(200, PipelineDelayJson(*before));

      Status done;
      if (action == "stop") {
        done = controller_.StopPipeline(name);
      } else if (action == "start") {
        done = controller_.StartPipeline(name);
      } else if (action == "check" || action == "repair") {
        done = controller_.RunCheck(name, action == "repair");
      } else if (action == "snapshot") {
        done = controller_.RunSnapshot(name);
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
      return JsonResponse(200, PipelineStatusJson(*after));
    }
  }

  // The seed's (Otter's) calls: /api/pipeline/status and /api/pipeline/delay,
  // with ?id=NAME for one pipeline, without for all of them.
  if (s.size() == 3 && s[0] == "api" && s[1] == "pipeline" && (s[2] == "status" || s[2] == "delay")) {
    if (!get) return MethodNotAllowed(method, path, "GET");
    const bool delay = s[2] == "delay";
    bool bad_query = false;
    std::optional<std::string> id = QueryParam(query, "id", bad_query);
    if (bad_query) return JsonError(400, "malformed query string: bad percent escape");
    if (!id) {
      Json all = Json::array();
      for (const PipelineStatus& p : controller_.ListPipelines()) {
        all.push_back(delay ? PipelineDelayJson(p) : PipelineStatusJson(p));
      }
      return JsonResponse(200, all);
    }
    if (id->empty()) return JsonError(400, "query parameter \"id\" is empty; expected ?id=PIPELINE_NAME");
    Result<PipelineStatus> p = controller_.GetPipeline(*id);
    if (!p.ok()) return p.status().code() == StatusCode::kNotFound ? NoPipeline(*id) : StatusError(p.status());
    return JsonResponse(200, delay ? PipelineDelayJson(*p) : PipelineStatusJson(*p));
  }

  // Alarms (design §11): the engine renders them; without `alarms:` none.
  if (s.size() == 2 && s[0] == "api" && s[1] == "alarms") {
    if (!get) return MethodNotAllowed(method, path, "GET");
    return {200, kJsonType, alarms_view_ ? alarms_view_() : R"({"rules":[],"alarms":[]})", {}};
  }

  if (extra_routes_) {
    if (std::optional<HttpResponse> r = extra_routes_(method, s, body)) return std::move(*r);
  }
  if (get) {
    if (std::optional<HttpResponse> page = ServeConsole(path)) return std::move(*page);
  }
  return JsonError(404, fmt::format("no route for {} {}", method, path));
}

Status HttpApi::Start(const std::string& listen) {
  return server_.Start(listen, [this](std::string_view method, std::string_view target, std::string_view body) {
    return Handle(method, target, body);
  });
}

void HttpApi::Stop() { server_.Stop(); }

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

}  // namespace sluice::server
