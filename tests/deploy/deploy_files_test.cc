// deploy/: the Grafana dashboard and the Prometheus alert rules name only
// metrics sluice exports (every name in every query is a sample name of a
// registry set up as `sluice run` sets it up), and promtool accepts the
// rules file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "pipeline/metrics.h"
#include "pipeline/pipeline.h"
#include "server/alarms/alarm_engine.h"
#include "server/http_api.h"

namespace sluice {
namespace {

const std::string kDeploy = std::string(SLUICE_SOURCE_DIR) + "/../deploy";

// A controller with no pipelines: the families are registered all the same.
class NoPipelines : public pipeline::PipelineController {
 public:
  std::vector<pipeline::PipelineStatus> ListPipelines() const override { return {}; }
  Result<pipeline::PipelineStatus> GetPipeline(const std::string& name) const override {
    return Status::Error(StatusCode::kNotFound, "no pipeline named \"{}\"", name);
  }
  Status StopPipeline(const std::string&) override { return Status::Ok(); }
  Status StartPipeline(const std::string&) override { return Status::Ok(); }
  Status SetPosition(const std::string&, const std::string&) override { return Status::Ok(); }
};

std::set<std::string> MetricNamesIn(const std::string& query) {
  static const std::regex kName("sluice_[a-zA-Z0-9_:]*");
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(query.begin(), query.end(), kName); it != std::sregex_iterator(); ++it) {
    out.insert(it->str());
  }
  return out;
}

// Every "expr" (and templating "query"/"definition") string in the dashboard.
void DashboardQueries(const nlohmann::json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if ((key == "expr" || key == "definition" || key == "query") && value.is_string()) out.push_back(value);
      DashboardQueries(value, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) DashboardQueries(v, out);
  }
}

std::set<std::string> ExportedNames() {
  pipeline::MetricsRegistry registry;
  pipeline::PipelineMetrics metrics(registry);
  NoPipelines controller;
  server::RegisterStatusMetrics(registry, controller);
  pipeline::AlarmsConfig alarms;
  alarms.webhook = pipeline::AlarmWebhook{"http://127.0.0.1:9/hook", 0, 1000};
  auto engine = server::alarms::AlarmEngine::Create(alarms, controller, registry);
  EXPECT_TRUE(engine.ok());
  auto names = registry.SampleNames();
  return {names.begin(), names.end()};
}

TEST(DeployFiles, EveryMetricTheyUseIsExported) {
  const std::set<std::string> exported = ExportedNames();
  ASSERT_TRUE(exported.contains("sluice_target_delay_seconds"));
  ASSERT_TRUE(exported.contains("sluice_alarm_firing"));

  std::vector<std::string> queries;
  YAML::Node rules = YAML::LoadFile(kDeploy + "/prometheus/sluice-alerts.yml");
  for (const auto& group : rules["groups"]) {
    for (const auto& rule : group["rules"]) queries.push_back(rule["expr"].as<std::string>());
  }
  std::ifstream in(kDeploy + "/grafana/sluice-dashboard.json");
  ASSERT_TRUE(in) << kDeploy;
  nlohmann::json dashboard = nlohmann::json::parse(in);
  DashboardQueries(dashboard, queries);
  ASSERT_GT(queries.size(), 15u);

  std::set<std::string> used;
  for (const std::string& q : queries) {
    for (const std::string& name : MetricNamesIn(q)) {
      used.insert(name);
      EXPECT_TRUE(exported.contains(name)) << name << " (in: " << q << ") is not a metric sluice exports";
    }
  }
  for (const char* name : {"sluice_target_delay_seconds", "sluice_pipeline_state", "sluice_rows_total",
                           "sluice_errors_total", "sluice_alarm_firing"}) {
    EXPECT_TRUE(used.contains(name)) << name << " is used by neither file";
  }
}

TEST(DeployFiles, PromtoolAcceptsTheAlertRules) {
  std::string out = ::testing::TempDir() + "/promtool-rules.out";
  int rc =
      std::system(("promtool check rules " + kDeploy + "/prometheus/sluice-alerts.yml > " + out + " 2>&1").c_str());
  std::ifstream f(out);
  std::stringstream text;
  text << f.rdbuf();
  EXPECT_EQ(rc, 0) << text.str();
  EXPECT_NE(text.str().find("SUCCESS"), std::string::npos) << text.str();
}

}  // namespace
}  // namespace sluice
