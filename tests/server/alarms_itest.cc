// Alarms through a real `sluice run` between private MariaDB servers
// (design §11): a webhook receiver on loopback gets "firing" when the target
// is cut off (the pipeline retries, the delay grows) and "resolved" once it
// is back; /metrics and GET /api/alarms show the alarm; with auto_recover a
// failed pipeline is started again, counted, and runs once its cause is
// fixed. The webhook URL's password never shows in the log or the API.

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "cli/run_command.h"
#include "harness/tcp_forwarder.h"
#include "pipeline/fault_fixture.h"
#include "server/alarms/webhook_receiver.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

constexpr const char* kHookPassword = "hook-pw-5521";

std::string LastState(const std::vector<Json>& notices) {
  return notices.empty() ? "" : notices.back().value("state", "");
}

class AlarmsTest : public FaultTest {
 protected:
  void StartWith(const std::string& target_url, const std::string& alarms, PipelineOptions o = {}) {
    http_port_ = FreePort();
    WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), target_url, o) + alarms);
    StartSluice();
    ASSERT_TRUE(sluice_->WaitStarted()) << sluice_->Log();
  }
  std::string Metrics() { return HttpGet(http_port_, "/metrics").body; }

  std::string HookUrl() const { return receiver_.Url("hook", kHookPassword); }

  WebhookReceiver receiver_;
};

TEST_F(AlarmsTest, CutOffTargetFiresAndResolvesThroughTheWebhook) {
  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  auto forwarder = TcpForwarder::Start({dst_->port()});
  ASSERT_TRUE(forwarder.ok()) << forwarder.status().message();
  const std::string target =
      fmt::format("mysql://root@127.0.0.1:{}?read_timeout=2&write_timeout=2", (*forwarder)->ports()[0]);
  ASSERT_NO_FATAL_FAILURE(StartWith(target, fmt::format(R"(alarms:
  webhook: {{url: "{}", repeat_every: 1h, timeout: 5s}}
  rules:
    - {{name: retrying, when: "state == retrying", for: 2s}}
    - {{name: lagging, when: "delay_ms > 3000", for: 1s}}
)",
                                                        HookUrl())));
  ASSERT_TRUE(Transactions(*src_, 1, 5).ok());
  ASSERT_TRUE(ConvergesExactly(5));
  ASSERT_TRUE(WaitForState("p", "running", seconds(10)));
  EXPECT_TRUE(receiver_.Of("retrying").empty());

  (*forwarder)->Freeze();
  ASSERT_TRUE(Transactions(*src_, 6, 5).ok());
  ASSERT_TRUE(WaitForState("p", "retrying", seconds(30)));
  ASSERT_TRUE(WaitUntil([&] { return LastState(receiver_.Of("retrying")) == "firing"; }, seconds(30)))
      << sluice_->Log();
  Json fired = receiver_.Of("retrying").back();
  EXPECT_EQ(fired["pipeline"], "p");
  EXPECT_TRUE(fired["target"].is_null()) << fired.dump();
  EXPECT_EQ(fired["value"], "retrying");
  EXPECT_TRUE(fired["since"].is_string() && fired["since"].get<std::string>().ends_with("Z")) << fired.dump();
  EXPECT_NE(fired.value("message", "").find("pipeline p is retrying"), std::string::npos) << fired.dump();
  EXPECT_EQ(fired.size(), 7u) << fired.dump();
  // The delay rule fires per target.
  ASSERT_TRUE(WaitUntil([&] { return LastState(receiver_.Of("lagging")) == "firing"; }, seconds(30)));
  EXPECT_EQ(receiver_.Of("lagging").back()["target"], "dst");
  EXPECT_GT(receiver_.Of("lagging").back()["value"].get<int64_t>(), 3000);

  std::string page = Metrics();
  EXPECT_EQ(MetricValue(page, "sluice_alarm_firing", {"rule=\"retrying\"", "pipeline=\"p\"", "target=\"\""}), 1)
      << page;
  EXPECT_EQ(MetricValue(page, "sluice_alarm_firing", {"rule=\"lagging\"", "target=\"dst\""}), 1) << page;
  // The page with the alarm families passes promtool's lint.
  std::string file = (dir_ / "metrics.txt").string();
  std::ofstream(file) << page;
  std::string lint = (dir_ / "promtool.out").string();
  int rc = std::system(("promtool check metrics < " + file + " > " + lint + " 2>&1").c_str());
  EXPECT_TRUE(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << ReadWhole(lint) << "\npage:\n" << page;
  EXPECT_EQ(ReadWhole(lint), "") << page;
  HttpReply api = HttpGet(http_port_, "/api/alarms");
  ASSERT_EQ(api.status, 200);
  Json alarms = Json::parse(api.body);
  ASSERT_EQ(alarms["rules"].size(), 2u) << api.body;
  EXPECT_EQ(alarms["rules"][0]["when"], "state == retrying");
  EXPECT_EQ(alarms["rules"][0]["for_s"], 2.0);
  bool listed = false;
  for (const Json& a : alarms["alarms"]) listed |= a["rule"] == "retrying" && a["state"] == "firing";
  EXPECT_TRUE(listed) << api.body;

  (*forwarder)->Thaw();
  EXPECT_TRUE(ConvergesExactly(10));
  ASSERT_TRUE(WaitUntil([&] { return LastState(receiver_.Of("retrying")) == "resolved"; }, seconds(30)))
      << sluice_->Log();
  ASSERT_TRUE(WaitUntil([&] { return LastState(receiver_.Of("lagging")) == "resolved"; }, seconds(30)));
  // One firing and one resolution each (repeat_every is an hour).
  EXPECT_EQ(receiver_.Of("retrying").size(), 2u);
  EXPECT_EQ(receiver_.Of("lagging").size(), 2u);
  page = Metrics();
  EXPECT_EQ(MetricValue(page, "sluice_alarm_firing", {"rule=\"retrying\"", "pipeline=\"p\""}), 0) << page;
  EXPECT_EQ(MetricValue(page, "sluice_alarm_notifications_total", {"rule=\"retrying\"", "state=\"resolved\""}), 1)
      << page;
  for (const std::string& a : receiver_.Authorizations()) EXPECT_EQ(a.rfind("Basic ", 0), 0u) << a;
  EXPECT_EQ(sluice_->FullLog().find(kHookPassword), std::string::npos);
  EXPECT_EQ(HttpGet(http_port_, "/api/alarms").body.find(kHookPassword), std::string::npos);
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

TEST_F(AlarmsTest, AutoRecoverStartsAFailedPipelineAgain) {
  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  ASSERT_TRUE(
      src_->Execute("CREATE DATABASE shop; CREATE TABLE shop.customers (id INT PRIMARY KEY, code VARCHAR(20))").ok());
  ASSERT_TRUE(
      dst_->Execute("CREATE DATABASE crm; CREATE TABLE crm.clients (id INT PRIMARY KEY, code VARCHAR(3))").ok());
  PipelineOptions o;
  o.start = BinlogEnd(*src_);
  o.tables = "      - match: \"shop.customers\"\n        to: \"crm.clients\"\n";
  ASSERT_NO_FATAL_FAILURE(StartWith(dst_->Url(),
                                    fmt::format(R"(alarms:
  webhook: {{url: "{}"}}
  rules:
    - {{name: broken, when: "state == failed"}}
  auto_recover: {{initial_backoff: 1s, max_backoff: 2s, healthy_after: 1m}}
)",
                                                HookUrl()),
                                    o));
  // A row the target rejects: the pipeline fails, and fails again after each restart.
  ASSERT_TRUE(src_->Execute("INSERT INTO shop.customers VALUES (1, 'ab'), (2, 'toolong')").ok());
  ASSERT_TRUE(WaitUntil([&] { return !receiver_.Of("broken").empty(); }, seconds(30))) << sluice_->Log();
  Json fired = receiver_.Of("broken").front();
  EXPECT_EQ(fired["state"], "firing");
  EXPECT_EQ(fired["value"], "failed");
  EXPECT_NE(fired.value("message", "").find("Data too long"), std::string::npos) << fired.dump();
  ASSERT_TRUE(WaitUntil(
      [&] { return MetricValue(Metrics(), "sluice_pipeline_auto_recoveries_total", {"pipeline=\"p\""}) >= 2; },
      seconds(30)))
      << Metrics() << sluice_->Log();
  EXPECT_NE(sluice_->FullLog().find("auto_recover: starting it again"), std::string::npos);

  // The cause fixed, the next attempt sticks: the pipeline runs and catches up.
  ASSERT_TRUE(dst_->Execute("ALTER TABLE crm.clients MODIFY code VARCHAR(20)").ok());
  EXPECT_TRUE(Converges(*src_, "SELECT id, code FROM shop.customers ORDER BY id", *dst_,
                        "SELECT id, code FROM crm.clients ORDER BY id", seconds(30)));
  EXPECT_TRUE(WaitForState("p", "running", seconds(10)));
  ASSERT_TRUE(WaitUntil([&] { return LastState(receiver_.Of("broken")) == "resolved"; }, seconds(30)));
  EXPECT_EQ(MetricValue(Metrics(), "sluice_alarm_firing", {"rule=\"broken\"", "pipeline=\"p\""}), 0);
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

// SIGHUP applies a changed alarms: section: a file without alarms gains a
// rule and a webhook, and the next stop through the API fires it.
TEST_F(AlarmsTest, SighupReloadAddsRules) {
  src_ = StartServer(1);
  dst_ = StartServer(2);
  ASSERT_TRUE(src_ && dst_);
  ASSERT_TRUE(src_->Execute(kSchema).ok());
  ASSERT_NO_FATAL_FAILURE(StartWith(dst_->Url(), ""));
  ASSERT_TRUE(WaitForState("p", "running", seconds(30)));
  Json none = Json::parse(HttpGet(http_port_, "/api/alarms").body, nullptr, false);
  EXPECT_EQ(none.dump(), R"({"alarms":[],"rules":[]})");

  WriteConfig(FaultConfig(dir_, http_port_, src_->Url(), dst_->Url(), {}) + fmt::format(R"(alarms:
  webhook: {{url: "{}"}}
  rules:
    - {{name: halted, when: "state == stopped"}}
)",
                                                                                        HookUrl()));
  sluice_->Hangup();
  ASSERT_TRUE(WaitUntil(
      [&] {
        Json j = Json::parse(HttpGet(http_port_, "/api/alarms").body, nullptr, false);
        return j.is_object() && j["rules"].is_array() && j["rules"].size() == 1;
      },
      seconds(20)))
      << sluice_->Log();
  EXPECT_TRUE(receiver_.Of("halted").empty());
  ASSERT_EQ(HttpPost(http_port_, "/api/pipelines/p/stop").status, 200);
  ASSERT_TRUE(WaitUntil([&] { return LastState(receiver_.Of("halted")) == "firing"; }, seconds(30)))
      << sluice_->Log();
  EXPECT_EQ(receiver_.Of("halted").back()["pipeline"], "p");
  EXPECT_EQ(sluice_->Stop(), 0) << sluice_->Log();
}

}  // namespace
}  // namespace sluice::testing
