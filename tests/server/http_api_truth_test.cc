// The HTTP API tells the truth and stays responsive (issue 9): /healthz
// reflects failed pipelines, POST actions work without a body, and clients
// that connect and send nothing do not hold up other requests. The running
// `sluice run` counterparts are in operations_itest.cc.

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/http_api.h"

namespace sluice::pipeline {
namespace {

using server::HttpApi;
using server::HttpResponse;
using server::HttpStatusFor;
using server::RegisterStatusMetrics;

using Clock = std::chrono::steady_clock;

// Pipelines in memory whose states a test sets.
class StatesController : public PipelineController {
 public:
  void Set(std::vector<PipelineStatus> p) {
    std::lock_guard lock(mu_);
    pipelines_ = std::move(p);
  }
  std::vector<PipelineStatus> ListPipelines() const override {
    std::lock_guard lock(mu_);
    return pipelines_;
  }
  Result<PipelineStatus> GetPipeline(const std::string& name) const override {
    std::lock_guard lock(mu_);
    for (const PipelineStatus& p : pipelines_) {
      if (p.name == name) return p;
    }
    return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\"", name);
  }
  Status StopPipeline(const std::string& name) override {
    std::lock_guard lock(mu_);
    ++stops;
    for (PipelineStatus& p : pipelines_) {
      if (p.name == name) p.state = PipelineState::kStopped;
    }
    return Status::Ok();
  }
  Status StartPipeline(const std::string&) override { return Status::Ok(); }
  Status SetPosition(const std::string&, const std::string&) override { return Status::Ok(); }
  int stops = 0;

 private:
  mutable std::mutex mu_;
  std::vector<PipelineStatus> pipelines_;
};

PipelineStatus Pipe(const std::string& name, PipelineState state, const std::string& error = "") {
  PipelineStatus p;
  p.name = name;
  p.state = state;
  p.last_error = error;
  return p;
}

// Connects to 127.0.0.1:port; -1 on failure.
int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends a raw request and returns everything the server answers until it
// closes (the request asks it to).
std::string RawExchange(uint16_t port, const std::string& request) {
  int fd = Connect(port);
  if (fd < 0) return "";
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)!::send(fd, request.data(), request.size(), 0);
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

class HttpTruthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(api_.Start("127.0.0.1:0").ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", api_.port());
    client_->set_connection_timeout(2, 0);
    client_->set_read_timeout(10, 0);
  }
  StatesController controller_;
  MetricsRegistry metrics_;
  HttpApi api_{controller_, metrics_};
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpTruthTest, HealthzIs503WhenEveryPipelineHasFailed) {
  controller_.Set({Pipe("a", PipelineState::kFailed, "target t1: Data too long for column 'note' at row 1"),
                   Pipe("b", PipelineState::kFailed, "source s: binlog purged")});
  auto res = client_->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_NE(res->body.find("every pipeline has failed"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("pipeline a failed: target t1: Data too long"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("pipeline b failed: source s: binlog purged"), std::string::npos) << res->body;
}

TEST_F(HttpTruthTest, HealthzIsDegradedWhenSomeFailed) {
  controller_.Set({Pipe("a", PipelineState::kFailed, "boom"), Pipe("b", PipelineState::kRunning)});
  auto res = client_->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "degraded: 1 of 2 pipelines failed\npipeline a failed: boom");

  // Stopped on purpose is not a failure; retrying is not (yet) either.
  controller_.Set({Pipe("a", PipelineState::kStopped), Pipe("b", PipelineState::kRetrying)});
  res = client_->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok");
}

TEST_F(HttpTruthTest, PostStopWithoutAnyBodyOrLength) {
  controller_.Set({Pipe("p", PipelineState::kRunning)});
  // What `curl -X POST URL` sends: no Content-Length, no body.
  std::string answer =
      RawExchange(api_.port(), "POST /api/pipelines/p/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200")) << answer;
  EXPECT_EQ(controller_.stops, 1);
  EXPECT_NE(answer.find("\"state\":\"stopped\""), std::string::npos) << answer;
}

TEST_F(HttpTruthTest, HalfOpenClientsDoNotDelayHealthz) {
  controller_.Set({Pipe("p", PipelineState::kRunning)});
  // Ten clients that connect and send nothing (a port scanner, a stuck
  // load balancer probe), then one that asks.
  std::vector<int> idle;
  for (int i = 0; i < 10; ++i) {
    int fd = Connect(api_.port());
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the server take them all
  auto t0 = Clock::now();
  auto res = client_->Get("/healthz");
  auto took = Clock::now() - t0;
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_LT(took, std::chrono::milliseconds(500))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  for (int fd : idle) ::close(fd);
}

}  // namespace
}  // namespace sluice::pipeline
