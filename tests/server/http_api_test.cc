#include "server/http_api.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice::pipeline {
namespace {

using server::HttpApi;
using server::HttpResponse;
using server::HttpStatusFor;
using server::RegisterStatusMetrics;

using Json = nlohmann::ordered_json;

// A test double of sluice's own PipelineController interface: pipelines held
// in memory, with the state rules the real runner follows (the position of a
// running pipeline cannot move) and a switch to make the next call fail.
class FakeController : public PipelineController {
 public:
  FakeController() {
    PipelineStatus orders;
    orders.name = "orders";
    orders.state = PipelineState::kRunning;
    orders.source_position = "0-1-120";
    orders.applied_position = "0-1-100";
    orders.delay_ms = 850;
    orders.rows_applied = 3000;
    TargetStatus search{"search", PipelineState::kRunning, "0-1-110", 400, 2000, 125.5, ""};
    TargetStatus report{"report", PipelineState::kRetrying, "0-1-100", 850, 1000, 0, "report: read-only"};
    orders.targets = {search, report};
    orders.has_snapshot = true;
    orders.snapshot.phase = "copying";
    orders.snapshot.start_position = "binlog.000001:4";
    orders.snapshot.rows_copied = 1500;
    orders.snapshot.tables.push_back(SnapshotTableProgress{"shop.orders", "search.orders", 1500, 6000, 3, 12, 500.0,
                                                           9.0, false});
    orders.has_check = true;
    orders.check.state = "differences";
    orders.check.runs = 2;
    orders.check.last_finished_ms = 1732450000000;
    orders.check.missing = 3;
    orders.check.extra = 1;
    orders.check.different = 2;
    pipelines_.push_back(orders);

    PipelineStatus odd;  // a name that needs URL encoding
    odd.name = "a b/订单";
    odd.state = PipelineState::kStopped;
    odd.last_error = "bad \xff byte";  // not UTF-8: must not break the JSON
    pipelines_.push_back(odd);
  }

  std::vector<PipelineStatus> ListPipelines() const override {
    std::lock_guard lock(mu_);
    return pipelines_;
  }
  Result<PipelineStatus> GetPipeline(const std::string& name) const override {
    std::lock_guard lock(mu_);
    if (read_error_) return *read_error_;
    for (const PipelineStatus& p : pipelines_) {
      if (p.name == name) return p;
    }
    // Deliberately not the API's wording: the API must use its own.
    return Status::Error(StatusCode::kNotFound, "controller: unknown {}", name);
  }
  Status StopPipeline(const std::string& name) override {
    std::lock_guard lock(mu_);
    if (auto e = TakeWriteError()) return *e;
    Find(name).state = PipelineState::kStopped;
    return Status::Ok();
  }
  Status StartPipeline(const std::string& name) override {
    std::lock_guard lock(mu_);
    if (auto e = TakeWriteError()) return *e;
    Find(name).state = PipelineState::kRunning;
    return Status::Ok();
  }
  Status SetPosition(const std::string& name, const std::string& position) override {
    std::lock_guard lock(mu_);
    if (auto e = TakeWriteError()) return *e;
    PipelineStatus& p = Find(name);
    if (p.state == PipelineState::kRunning) {
      return Status::Error(StatusCode::kNotSupported, "pipeline \"{}\" is running; stop it before moving its position",
                           name);
    }
    p.source_position = position;
    ++positions_set;
    return Status::Ok();
  }

  void FailNextWrite(Status s) {
    std::lock_guard lock(mu_);
    write_error_ = std::move(s);
  }
  void FailReads(std::optional<Status> s) {
    std::lock_guard lock(mu_);
    read_error_ = std::move(s);
  }

  int positions_set = 0;

 private:
  std::optional<Status> TakeWriteError() {
    std::optional<Status> e = std::move(write_error_);
    write_error_.reset();
    return e;
  }
  PipelineStatus& Find(const std::string& name) {
    for (PipelineStatus& p : pipelines_) {
      if (p.name == name) return p;
    }
    throw std::logic_error("the API called a write for an unknown pipeline: " + name);
  }

  mutable std::mutex mu_;
  std::vector<PipelineStatus> pipelines_;
  std::optional<Status> write_error_;
  std::optional<Status> read_error_;
};

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rows_ = &metrics_.AddCounter("sluice_rows", "Rows applied.", {"pipeline"}).WithLabelValues({"orders"});
    rows_->Inc(7);
    ASSERT_TRUE(api_.Start("127.0.0.1:0").ok());
    ASSERT_NE(api_.port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", api_.port());
    client_->set_connection_timeout(2, 0);
    client_->set_read_timeout(5, 0);
  }

  static Json ParseJson(const httplib::Result& res) {
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    return Json::parse(res->body);
  }
  static std::string ErrorOf(const httplib::Result& res) { return ParseJson(res).at("error").get<std::string>(); }
  static std::vector<std::string> Keys(const Json& j) {
    std::vector<std::string> out;
    for (auto it = j.begin(); it != j.end(); ++it) out.push_back(it.key());
    return out;
  }

  FakeController controller_;
  MetricsRegistry metrics_;
  Counter* rows_ = nullptr;
  HttpApi api_{controller_, metrics_};
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpApiTest, Healthz) {
  auto res = client_->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; charset=utf-8");

  auto head = client_->Head("/healthz");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());

  auto post = client_->Post("/healthz", "", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  EXPECT_EQ(ErrorOf(post), "method POST not allowed on /healthz; use GET");
}

TEST_F(HttpApiTest, Metrics) {
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(res->body,
            "# HELP sluice_rows_total Rows applied.\n"
            "# TYPE sluice_rows_total counter\n"
            "sluice_rows_total{pipeline=\"orders\"} 7\n");
  rows_->Inc();
  EXPECT_NE(client_->Get("/metrics")->body.find("sluice_rows_total{pipeline=\"orders\"} 8\n"), std::string::npos);
  EXPECT_EQ(client_->Delete("/metrics")->status, 405);
}

TEST_F(HttpApiTest, ListPipelinesFollowsTheContract) {
  auto res = client_->Get("/api/pipelines");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  Json all = ParseJson(res);
  ASSERT_TRUE(all.is_array());
  ASSERT_EQ(all.size(), 2u);
  const Json& p = all[0];
  // Contract fields in the contract's order, then the extension.
  EXPECT_EQ(Keys(p), (std::vector<std::string>{"name", "state", "source_position", "applied_position", "delay_ms",
                                               "rows_applied", "last_error", "store_error", "targets", "conflicts",
                                               "snapshot", "check", "events"}));
  EXPECT_EQ(p["snapshot"]["phase"], "copying");
  EXPECT_EQ(p["snapshot"]["tables"][0]["source"], "shop.orders");
  EXPECT_EQ(p["snapshot"]["tables"][0]["rows_copied"], 1500);
  EXPECT_EQ(p["snapshot"]["tables"][0]["rows_estimate"], 6000);
  EXPECT_EQ(p["snapshot"]["tables"][0]["chunks_total"], 12);
  EXPECT_EQ(p["snapshot"]["tables"][0]["rows_per_second"], 500.0);
  EXPECT_EQ(p["snapshot"]["tables"][0]["eta_seconds"], 9.0);
  EXPECT_EQ(p["check"]["state"], "differences");
  EXPECT_EQ(p["check"]["missing"], 3);
  EXPECT_EQ(p["check"]["last_finished_ms"], 1732450000000);
  EXPECT_TRUE(all[1]["snapshot"].is_null());
  EXPECT_TRUE(all[1]["check"].is_null());
  EXPECT_EQ(p["name"], "orders");
  EXPECT_EQ(p["state"], "running");
  EXPECT_EQ(p["source_position"], "0-1-120");
  EXPECT_EQ(p["applied_position"], "0-1-100");
  EXPECT_EQ(p["delay_ms"], 850);
  EXPECT_EQ(p["rows_applied"], 3000);
  EXPECT_TRUE(p["last_error"].is_null());
  ASSERT_EQ(p["targets"].size(), 2u);
  const Json& report = p["targets"][1];
  EXPECT_EQ(Keys(report), (std::vector<std::string>{"name", "state", "applied_position", "applied_gtid", "delay_ms",
                                                    "rows_applied", "rows_per_second", "last_error", "tables"}));
  EXPECT_EQ(report["name"], "report");
  EXPECT_EQ(report["state"], "retrying");
  EXPECT_EQ(report["last_error"], "report: read-only");
  EXPECT_EQ(p["targets"][0]["rows_per_second"], 125.5);
  // Invalid UTF-8 from a server message is replaced, not a failed response.
  EXPECT_EQ(all[1]["last_error"], "bad \xEF\xBF\xBD byte");

  EXPECT_EQ(client_->Post("/api/pipelines", "", "application/json")->status, 405);
  EXPECT_EQ(client_->Get("/api/pipelines/")->status, 200);  // a trailing slash is the same resource
}

TEST_F(HttpApiTest, StatusAndDelayOfOnePipeline) {
  auto res = client_->Get("/api/pipelines/orders/status");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  Json p = ParseJson(res);
  EXPECT_EQ(p["name"], "orders");
  EXPECT_EQ(p["delay_ms"], 850);
  EXPECT_EQ(p, ParseJson(client_->Get("/api/pipelines"))[0]);

  auto delay = client_->Get("/api/pipelines/orders/delay");
  ASSERT_TRUE(delay);
  ASSERT_EQ(delay->status, 200);
  EXPECT_EQ(
      ParseJson(delay).dump(),
      R"({"name":"orders","delay_ms":850,"targets":[{"name":"search","delay_ms":400},{"name":"report","delay_ms":850}]})");

  auto post = client_->Post("/api/pipelines/orders/status", "", "text/plain");
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
}

TEST_F(HttpApiTest, NamesArePercentDecoded) {
  // "a b/订单": the space, the slash and the UTF-8 bytes all encoded; the
  // slash stays inside its segment.
  auto res = client_->Get("/api/pipelines/a%20b%2F%E8%AE%A2%E5%8D%95/status");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(ParseJson(res)["name"], "a b/订单");
  EXPECT_EQ(ParseJson(res)["state"], "stopped");
  // In a query string '+' is a space too (sent as is: the client would
  // encode it as %2B).
  client_->set_url_encode(false);
  auto alias = client_->Get("/api/pipeline/delay?id=a+b%2F%E8%AE%A2%E5%8D%95");
  ASSERT_EQ(alias->status, 200) << alias->body;
  EXPECT_EQ(ParseJson(alias)["name"], "a b/订单");
}

TEST_F(HttpApiTest, UnknownPipelineIs404) {
  for (const char* path : {"/api/pipelines/nope/status", "/api/pipelines/nope/delay"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(res->body, R"({"error":"no pipeline named \"nope\""})") << path;
  }
  for (const char* path : {"/api/pipelines/nope/stop", "/api/pipelines/nope/start", "/api/pipelines/nope/position"}) {
    auto res = client_->Post(path, R"({"position":"latest"})", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(ErrorOf(res), "no pipeline named \"nope\"") << path;
  }
  auto alias = client_->Get("/api/pipeline/status?id=nope");
  EXPECT_EQ(alias->status, 404);
  EXPECT_EQ(ErrorOf(alias), "no pipeline named \"nope\"");
  // A quote in the name is escaped in the JSON, not breaking it.
  auto quoted = client_->Get("/api/pipelines/x%22y/status");
  EXPECT_EQ(quoted->status, 404);
  EXPECT_EQ(ErrorOf(quoted), "no pipeline named \"x\"y\"");
}

TEST_F(HttpApiTest, StopAndStart) {
  auto stop = client_->Post("/api/pipelines/orders/stop", "", "application/json");
  ASSERT_TRUE(stop);
  ASSERT_EQ(stop->status, 200) << stop->body;
  EXPECT_EQ(ParseJson(stop)["state"], "stopped");
  EXPECT_EQ(ParseJson(client_->Get("/api/pipelines/orders/status"))["state"], "stopped");

  auto start = client_->Post("/api/pipelines/orders/start", "", "application/json");
  ASSERT_EQ(start->status, 200) << start->body;
  EXPECT_EQ(ParseJson(start)["state"], "running");
  EXPECT_EQ(Keys(ParseJson(start)).front(), "name");

  auto get = client_->Get("/api/pipelines/orders/stop");
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  EXPECT_EQ(ErrorOf(get), "method GET not allowed on /api/pipelines/orders/stop; use POST");
  EXPECT_EQ(client_->Put("/api/pipelines/orders/start", "", "text/plain")->status, 405);
}

TEST_F(HttpApiTest, SetPosition) {
  const std::string path = "/api/pipelines/orders/position";
  // Running: the controller refuses, the API says 409 with its message.
  auto running = client_->Post(path, R"({"position":"0-1-50"})", "application/json");
  ASSERT_TRUE(running);
  EXPECT_EQ(running->status, 409);
  EXPECT_EQ(ErrorOf(running), "pipeline \"orders\" is running; stop it before moving its position");

  ASSERT_EQ(client_->Post("/api/pipelines/orders/stop", "", "text/plain")->status, 200);
  auto ok = client_->Post(path, R"({"position":"binlog.000003:4"})", "application/json");
  ASSERT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(ParseJson(ok)["source_position"], "binlog.000003:4");
  EXPECT_EQ(controller_.positions_set, 1);

  struct Bad {
    const char* body;
    const char* error_starts;
  };
  for (const Bad& bad : {
           Bad{"", "request body is empty; expected {\"position\""},
           Bad{"{\"position\":", "malformed JSON body: parse error at line 1, column 13"},
           Bad{"not json", "malformed JSON body: parse error at line 1, column 2"},
           Bad{"[\"0-1-5\"]", "JSON body is an array; expected {\"position\""},
           Bad{"\"0-1-5\"", "JSON body is a string; expected"},
           Bad{"{\"pos\":\"0-1-5\"}", "JSON body has no \"position\"; expected"},
           Bad{"{\"position\":42}", "\"position\" must be a string, not a number"},
           Bad{"{\"position\":\"\"}", "\"position\" is empty"},
           Bad{"{\"position\":\"garbage\"}", "invalid start position \"garbage\""},
           Bad{"{\"position\":\"binlog.000003:x\"}", "invalid binlog position \"binlog.000003:x\""},
       }) {
    auto res = client_->Post(path, bad.body, "application/json");
    ASSERT_TRUE(res) << bad.body;
    EXPECT_EQ(res->status, 400) << bad.body;
    std::string error = ErrorOf(res);
    EXPECT_EQ(error.rfind(bad.error_starts, 0), 0u) << bad.body << " -> " << error;
  }
  EXPECT_EQ(controller_.positions_set, 1);  // none of the bad ones reached the controller
  EXPECT_EQ(client_->Get(path)->status, 405);
}

TEST_F(HttpApiTest, ControllerErrorsMapToStatusCodes) {
  controller_.FailNextWrite(Status::Error(StatusCode::kIoError, "store: disk full"));
  auto res = client_->Post("/api/pipelines/orders/stop", "", "text/plain");
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(ErrorOf(res), "store: disk full");

  controller_.FailNextWrite(Status::Retryable(StatusCode::kIoError, "store: locked"));
  res = client_->Post("/api/pipelines/orders/start", "", "text/plain");
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(ErrorOf(res), "store: locked");

  controller_.FailNextWrite(Status::Invalid("position is beyond the source's binlogs"));
  res = client_->Post("/api/pipelines/orders/stop", "", "text/plain");
  EXPECT_EQ(res->status, 400);

  controller_.FailReads(Status::Error(StatusCode::kServerError, "runner: not ready"));
  res = client_->Get("/api/pipelines/orders/status");
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(ErrorOf(res), "runner: not ready");
  controller_.FailReads(std::nullopt);

  EXPECT_EQ(HttpStatusFor(Status::Ok()), 200);
  EXPECT_EQ(HttpStatusFor(Status::Error(StatusCode::kNotFound, "x")), 404);
  EXPECT_EQ(HttpStatusFor(Status::Error(StatusCode::kCancelled, "x")), 409);
  EXPECT_EQ(HttpStatusFor(Status::Error(StatusCode::kCorruption, "x")), 500);
}

TEST_F(HttpApiTest, SeedAliases) {
  auto all = client_->Get("/api/pipeline/status");
  ASSERT_TRUE(all);
  ASSERT_EQ(all->status, 200);
  EXPECT_EQ(ParseJson(all), ParseJson(client_->Get("/api/pipelines")));

  auto one = client_->Get("/api/pipeline/status?id=orders");
  ASSERT_EQ(one->status, 200);
  EXPECT_EQ(ParseJson(one), ParseJson(client_->Get("/api/pipelines/orders/status")));

  auto delay = client_->Get("/api/pipeline/delay?id=orders");
  ASSERT_EQ(delay->status, 200);
  EXPECT_EQ(ParseJson(delay), ParseJson(client_->Get("/api/pipelines/orders/delay")));

  auto delays = client_->Get("/api/pipeline/delay?other=1");
  ASSERT_EQ(delays->status, 200);
  Json d = ParseJson(delays);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0]["delay_ms"], 850);

  auto empty = client_->Get("/api/pipeline/status?id=");
  EXPECT_EQ(empty->status, 400);
  EXPECT_EQ(ErrorOf(empty), "query parameter \"id\" is empty; expected ?id=PIPELINE_NAME");
  EXPECT_EQ(client_->Post("/api/pipeline/status?id=orders", "", "text/plain")->status, 405);
}

TEST_F(HttpApiTest, BadRequests) {
  auto unknown = client_->Get("/api/nothing");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(ErrorOf(unknown), "no route for GET /api/nothing");
  EXPECT_EQ(client_->Get("/api/pipelines/orders/bogus")->status, 404);
  EXPECT_EQ(client_->Get("/api/pipelines/orders/status/extra")->status, 404);
  EXPECT_EQ(client_->Delete("/api/pipelines/orders")->status, 404);
  EXPECT_EQ(client_->Options("/api/pipelines")->status, 405);

  // Send malformed escapes as they are (the client would otherwise encode).
  client_->set_url_encode(false);
  auto bad_path = client_->Get("/api/pipelines/%zz/status");
  EXPECT_EQ(bad_path->status, 400);
  EXPECT_EQ(ErrorOf(bad_path), "malformed URL path \"/api/pipelines/%zz/status\": bad percent escape");
  EXPECT_EQ(client_->Get("/api/pipelines/abc%2/status")->status, 400);
  auto bad_query = client_->Get("/api/pipeline/status?id=%G0");
  EXPECT_EQ(bad_query->status, 400);
  EXPECT_EQ(ErrorOf(bad_query), "malformed query string: bad percent escape");

  // A body over the limit: refused by the server with the API's JSON shape.
  auto huge = client_->Post("/api/pipelines/orders/position", std::string(size_t{100} * 1024, ' '), "application/json");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  EXPECT_EQ(ErrorOf(huge), "request body too large");

  // Still serving after all of that.
  EXPECT_EQ(client_->Get("/healthz")->status, 200);
}

TEST_F(HttpApiTest, HandleWithoutSocket) {
  HttpResponse r = api_.Handle("GET", "/api/pipelines/orders/delay?ignored=1", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(api_.Handle("GET", "*", "").status, 400);
  EXPECT_EQ(api_.Handle("GET", "", "").status, 400);
  EXPECT_EQ(api_.Handle("GET", "/", "").content_type, "text/html; charset=utf-8");  // the console
  EXPECT_EQ(api_.Handle("GET", "//", "").status, 404);
  EXPECT_EQ(api_.Handle("GET", "/api/pipelines//status", "").status, 404);
  EXPECT_EQ(api_.Handle("BREW", "/healthz", "").status, 405);

  // A controller that throws costs one request a 500, not the server.
  class Throwing : public FakeController {
    std::vector<PipelineStatus> ListPipelines() const override { throw std::runtime_error("boom"); }
  } throwing;
  HttpApi other(throwing, metrics_);
  HttpResponse boom = other.Handle("GET", "/api/pipelines", "");
  EXPECT_EQ(boom.status, 500);
  EXPECT_EQ(boom.body, R"({"error":"internal error: boom"})");
}

TEST(HttpApiStatusMetrics, ComputedFromTheControllerAtScrapeTime) {
  FakeController controller;
  MetricsRegistry metrics;
  RegisterStatusMetrics(metrics, controller);
  std::string page = metrics.RenderPrometheus();
  for (const char* line : {
           "# TYPE sluice_pipeline_delay_seconds gauge\n",
           "sluice_pipeline_delay_seconds{pipeline=\"orders\"} 0.85\n",
           "sluice_pipeline_delay_seconds{pipeline=\"a b/订单\"} 0\n",
           "# TYPE sluice_pipeline_state gauge\n",
           "sluice_pipeline_state{pipeline=\"orders\",state=\"running\"} 1\n",
           "sluice_pipeline_state{pipeline=\"orders\",state=\"stopped\"} 0\n",
           "sluice_pipeline_state{pipeline=\"a b/订单\",state=\"stopped\"} 1\n",
           "sluice_target_delay_seconds{pipeline=\"orders\",target=\"report\"} 0.85\n",
           "sluice_target_delay_seconds{pipeline=\"orders\",target=\"search\"} 0.4\n",
           "sluice_snapshot_rows_copied{pipeline=\"orders\",table=\"shop.orders\"} 1500\n",
           "sluice_snapshot_chunks_total{pipeline=\"orders\",table=\"shop.orders\"} 12\n",
           "sluice_snapshot_eta_seconds{pipeline=\"orders\",table=\"shop.orders\"} 9\n",
           "sluice_check_differences{pipeline=\"orders\",kind=\"missing\"} 3\n",
           "sluice_check_differences{pipeline=\"orders\",kind=\"different\"} 2\n",
           "sluice_check_runs_total{pipeline=\"orders\"} 2\n",
           "sluice_check_last_run_timestamp_seconds{pipeline=\"orders\"} 1732450000\n",
       }) {
    EXPECT_NE(page.find(line), std::string::npos) << line << "\nin:\n" << page;
  }
  ASSERT_TRUE(controller.StopPipeline("orders").ok());
  EXPECT_NE(metrics.RenderPrometheus().find("sluice_pipeline_state{pipeline=\"orders\",state=\"stopped\"} 1\n"),
            std::string::npos);
}

TEST(HttpApiStart, ErrorsAreClear) {
  FakeController controller;
  MetricsRegistry metrics;
  HttpApi first(controller, metrics);
  ASSERT_TRUE(first.Start("127.0.0.1:0").ok());
  const std::string taken = "127.0.0.1:" + std::to_string(first.port());

  HttpApi second(controller, metrics);
  Status st = second.Start(taken);
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_EQ(st.message(), "http: cannot listen on " + taken + ": address in use");
  EXPECT_EQ(second.port(), 0);
  second.Stop();  // harmless after a failed Start

  EXPECT_EQ(first.Start("127.0.0.1:0").code(), StatusCode::kInvalidArgument);  // only once

  for (const char* bad :
       {"8700", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:65536", "::1:8700", "[::1]8700", "127.0.0.1:-1"}) {
    HttpApi api(controller, metrics);
    Status s = api.Start(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("http: invalid listen address"), std::string::npos) << s.message();
  }
  HttpApi unresolvable(controller, metrics);
  Status s = unresolvable.Start("no-such-host.invalid:8700");
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(s.message().rfind("http: cannot listen on no-such-host.invalid:8700: cannot resolve", 0), 0u)
      << s.message();
}

TEST(HttpApiStart, StopIsPrompt) {
  FakeController controller;
  MetricsRegistry metrics;
  using Clock = std::chrono::steady_clock;
  {
    // No client: Stop returns at once.
    HttpApi api(controller, metrics);
    ASSERT_TRUE(api.Start("127.0.0.1:0").ok());
    auto t0 = Clock::now();
    api.Stop();
    EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(500));
    api.Stop();  // idempotent
  }
  {
    // A client holding a kept-alive connection open: bounded by the 1 s
    // keep-alive idle timeout.
    HttpApi api(controller, metrics);
    ASSERT_TRUE(api.Start("127.0.0.1:0").ok());
    const uint16_t port = api.port();
    httplib::Client client("127.0.0.1", port);
    client.set_keep_alive(true);
    ASSERT_EQ(client.Get("/healthz")->status, 200);
    auto t0 = Clock::now();
    api.Stop();
    EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(2500));
    httplib::Client after("127.0.0.1", port);
    after.set_connection_timeout(1, 0);
    EXPECT_FALSE(after.Get("/healthz")) << "still serving after Stop";
  }
  for (const char* sent : {"", "GET /healthz HTTP/1.1\r\n"}) {
    // A raw connection that sends nothing, or half a request, and waits:
    // bounded by the keep-alive idle and read timeouts.
    HttpApi api(controller, metrics);
    ASSERT_TRUE(api.Start("127.0.0.1:0").ok());
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(api.port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::send(fd, sent, std::strlen(sent), 0), static_cast<ssize_t>(std::strlen(sent)));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let a worker pick it up
    auto t0 = Clock::now();
    api.Stop();
    auto took = Clock::now() - t0;
    EXPECT_LT(took, std::chrono::milliseconds(3500)) << "sent \"" << sent << "\"";
    ::close(fd);
  }
  {
    // Destructor stops; also right after Start (no lost stop).
    HttpApi api(controller, metrics);
    ASSERT_TRUE(api.Start("127.0.0.1:0").ok());
  }
}

// GET /api/alarms: the alarm engine's body, or empty lists without `alarms:`.
TEST(HttpApiAlarms, ServedFromTheEngineViewOrEmpty) {
  FakeController controller;
  MetricsRegistry metrics;
  HttpApi api(controller, metrics);
  HttpResponse none = api.Handle("GET", "/api/alarms", "");
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(none.content_type, "application/json");
  EXPECT_EQ(none.body, R"({"rules":[],"alarms":[]})");
  api.SetAlarmsView([] { return std::string(R"({"rules":[{"name":"broken"}],"alarms":[]})"); });
  EXPECT_EQ(api.Handle("GET", "/api/alarms", "").body, R"({"rules":[{"name":"broken"}],"alarms":[]})");
  EXPECT_EQ(api.Handle("POST", "/api/alarms", "").status, 405);
}

}  // namespace
}  // namespace sluice::pipeline
