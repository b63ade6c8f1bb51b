// AlarmEngine against a real webhook receiver on loopback (cpp-httplib):
// the body of each notification, one per transition, failed deliveries
// retried in order on the next tick and counted, Basic credentials from the
// URL that never show in what the engine prints, GET /api/alarms' body.
#include "server/alarms/alarm_engine.h"

#include "server/alarms/webhook_receiver.h"
#include "server/config_secrets.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <mutex>
#include <thread>

namespace sluice::server::alarms {
namespace {

using pipeline::PipelineState;
using pipeline::PipelineStatus;

class Pipelines : public pipeline::PipelineController {
 public:
  void Set(PipelineState state, const std::string& error = "") {
    std::lock_guard lock(mu_);
    p_.name = "p";
    p_.state = state;
    p_.last_error = error;
    p_.targets = {pipeline::TargetStatus{"dst", state, "binlog.000001:4", 0, 0, 0, error}};
  }
  std::vector<PipelineStatus> ListPipelines() const override {
    std::lock_guard lock(mu_);
    return {p_};
  }
  Result<PipelineStatus> GetPipeline(const std::string&) const override { return ListPipelines()[0]; }
  Status StopPipeline(const std::string&) override { return Status::Ok(); }
  Status StartPipeline(const std::string&) override { return Status::Ok(); }
  Status SetPosition(const std::string&, const std::string&) override { return Status::Ok(); }

 private:
  mutable std::mutex mu_;
  PipelineStatus p_;
};

using sluice::testing::WebhookReceiver;

double Sample(const std::string& page, const std::string& line_start) {
  size_t at = page.find("\n" + line_start + " ");
  if (at == std::string::npos) return -1;
  size_t value = at + 1 + line_start.size() + 1;
  return std::stod(page.substr(value, page.find('\n', value) - value));
}

TEST(AlarmEngine, NotifiesOncePerTransitionAndRetriesFailedDeliveriesInOrder) {
  WebhookReceiver receiver;
  Pipelines pipelines;
  pipelines.Set(PipelineState::kRunning);
  pipeline::MetricsRegistry registry;
  pipeline::AlarmsConfig config;
  config.webhook = pipeline::AlarmWebhook{receiver.Url("hook", "s3cr3t-pw"), 0, 2000};
  config.rules.push_back({"broken", *pipeline::ParseAlarmCondition("state == failed"), 0});
  auto engine = AlarmEngine::Create(config, pipelines, registry);
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  AlarmEngine& e = **engine;

  e.Tick();
  EXPECT_TRUE(receiver.Bodies().empty());
  pipelines.Set(PipelineState::kFailed, "target dst: Data too long");
  e.Tick();
  auto bodies = receiver.Bodies();
  ASSERT_EQ(bodies.size(), 1u);
  const nlohmann::json& b = bodies[0];
  std::vector<std::string> keys;
  for (const auto& [k, v] : b.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"message", "pipeline", "rule", "since", "state", "target", "value"}));
  EXPECT_EQ(b["rule"], "broken");
  EXPECT_EQ(b["pipeline"], "p");
  EXPECT_TRUE(b["target"].is_null());
  EXPECT_EQ(b["state"], "firing");
  EXPECT_EQ(b["value"], "failed");
  EXPECT_EQ(b["message"], "pipeline p is failed: target dst: Data too long");
  EXPECT_EQ(receiver.Authorizations().back(), "Basic aG9vazpzM2NyM3QtcHc=");  // hook:s3cr3t-pw
  e.Tick();
  e.Tick();
  EXPECT_EQ(receiver.Bodies().size(), 1u) << "one notification per transition";

  // The receiver fails: the resolution waits, each attempt counted.
  receiver.Fail(true);
  pipelines.Set(PipelineState::kRunning);
  e.Tick();
  e.Tick();
  std::string page = registry.RenderPrometheus();
  EXPECT_EQ(Sample(page, "sluice_alarm_webhook_failures_total"), 2) << page;
  EXPECT_EQ(Sample(page, R"(sluice_alarm_firing{rule="broken",pipeline="p",target="",node=""})"), 0) << page;
  // And it fails again meanwhile: both notifications go out, in order, once.
  pipelines.Set(PipelineState::kFailed, "again");
  e.Tick();
  receiver.Fail(false);
  e.Tick();
  e.Tick();
  bodies = receiver.Bodies();
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_EQ(bodies[1]["state"], "resolved");
  EXPECT_EQ(bodies[2]["state"], "firing");
  EXPECT_EQ(bodies[2]["message"], "pipeline p is failed: again");
  page = registry.RenderPrometheus();
  EXPECT_EQ(Sample(page, R"(sluice_alarm_notifications_total{rule="broken",state="firing"})"), 2) << page;
  EXPECT_EQ(Sample(page, R"(sluice_alarm_notifications_total{rule="broken",state="resolved"})"), 1) << page;
  EXPECT_EQ(Sample(page, R"(sluice_alarm_firing{rule="broken",pipeline="p",target="",node=""})"), 1) << page;
  EXPECT_EQ(page.find("s3cr3t"), std::string::npos);

  auto api = nlohmann::ordered_json::parse(e.ApiJson());
  EXPECT_EQ(api["rules"].dump(), R"([{"name":"broken","when":"state == failed","for_s":0.0}])");
  ASSERT_EQ(api["alarms"].size(), 1u);
  EXPECT_EQ(api["alarms"][0]["state"], "firing");
  EXPECT_EQ(api.dump().find("s3cr3t"), std::string::npos);
}

TEST(AlarmEngine, WebhookErrorsNameOnlySchemeHostAndPort) {
  auto sender = WebhookSender::Create({"https://u:topsecret@127.0.0.1:1/hooks/T000/B000/tokenpart?key=abc", 0, 1000});
  ASSERT_TRUE(sender.ok()) << sender.status().message();
  EXPECT_EQ((*sender)->Endpoint(), "https://127.0.0.1:1");
  Status st = (*sender)->Send("{}");
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.retryable());
  for (const char* secret : {"topsecret", "tokenpart", "abc", "T000"}) {
    EXPECT_EQ(st.message().find(secret), std::string::npos) << st.message();
  }
  auto plain = WebhookSender::Create({"http://[::1]/x", 0, 1000});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->Endpoint(), "http://[::1]:80");
}

// https: the server's certificate is verified against the system's trust
// store (OpenSSL's default paths, which SSL_CERT_FILE overrides): refused
// for a self-signed one, delivered once that certificate is trusted.
TEST(AlarmEngine, HttpsWebhookVerifiesTheServerCertificate) {
  const std::string dir = ::testing::TempDir() + "/alarm-https-" + std::to_string(::getpid());
  ASSERT_EQ(std::system(("mkdir -p " + dir).c_str()), 0);
  const std::string cert = dir + "/hook.pem", key = dir + "/hook.key";
  ASSERT_EQ(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key + " -out " + cert +
                         " -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 > " + dir +
                         "/openssl.log 2>&1")
                            .c_str()),
            0);
  httplib::SSLServer server(cert.c_str(), key.c_str());
  std::atomic<int> received{0};
  server.Post("/hook", [&](const httplib::Request&, httplib::Response& res) {
    ++received;
    res.status = 204;
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server.is_running() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();

  auto sender = WebhookSender::Create({fmt::format("https://127.0.0.1:{}/hook", port), 0, 5000});
  ASSERT_TRUE(sender.ok());
  const char* before = std::getenv("SSL_CERT_FILE");
  std::string saved = before ? before : "";
  ::unsetenv("SSL_CERT_FILE");
  Status untrusted = (*sender)->Send("{}");
  EXPECT_FALSE(untrusted.ok());
  EXPECT_EQ(received.load(), 0) << untrusted.message();
  ::setenv("SSL_CERT_FILE", cert.c_str(), 1);
  Status trusted = (*sender)->Send("{}");
  EXPECT_TRUE(trusted.ok()) << trusted.message();
  EXPECT_EQ(received.load(), 1);
  if (before) {
    ::setenv("SSL_CERT_FILE", saved.c_str(), 1);
  } else {
    ::unsetenv("SSL_CERT_FILE");
  }
  server.stop();
  serving.join();
}

// The configuration view (GET /api/config) masks the webhook URL's password.
TEST(AlarmConfigSecrets, WebhookPasswordIsMaskedInTheConfigurationView) {
  std::string masked =
      MaskConfigSecrets("alarms:\n  webhook: {url: \"https://hook:pw-8812@alerts.example/hooks/sluice\"}\n");
  EXPECT_EQ(masked.find("pw-8812"), std::string::npos) << masked;
  EXPECT_NE(masked.find("hook:********@alerts.example"), std::string::npos) << masked;
}

}  // namespace
}  // namespace sluice::server::alarms
