// `alarms:` (design section 11): the `when:` grammar and the errors a bad
// section gets, each naming file:line:key.
#include <gtest/gtest.h>

#include <string>

#include "pipeline/config.h"

namespace sluice::pipeline {
namespace {

// The alarms section starts on line 8.
std::string Yaml(const std::string& alarms, const std::string& cluster = "") {
  return R"(http: 127.0.0.1:8700
sources:
  main: {url: "mysql://repl@127.0.0.1:3306"}
targets:
  t: {url: "mysql://app@127.0.0.1:3307"}
pipelines:
  - {name: p, source: main, targets: [t], tables: [{match: "shop.*"}]}
alarms:
)" + alarms +
         cluster;
}

std::string Error(const std::string& yaml) {
  auto c = ParseConfig(yaml, "/etc/sluice/s.yaml");
  return c.ok() ? "" : c.status().message();
}

TEST(AlarmCondition, Grammar) {
  struct Case {
    const char* text;
    const char* canonical;
  } cases[] = {
      {"delay_ms > 5000", "delay_ms > 5000"},
      {"delay_ms>=10", "delay_ms >= 10"},
      {" delay_ms <  7 ", "delay_ms < 7"},
      {"delay_ms <= 0", "delay_ms <= 0"},
      {"state == failed", "state == failed"},
      {"state==retrying", "state == retrying"},
      {"stalled", "stalled"},
      {"check_differences", "check_differences"},
      {"node_down", "node_down"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseAlarmCondition(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status().message();
    EXPECT_EQ(parsed->ToString(), c.canonical);
  }
  for (const char* bad : {"", "delay_ms", "delay_ms > ", "delay_ms > x", "delay_ms > -5", "delay_ms = 5",
                          "delay_ms > 5 and 6", "state = failed", "state == broken", "lag > 5", "stalled now"}) {
    EXPECT_FALSE(ParseAlarmCondition(bad).ok()) << bad;
  }
  auto d = ParseAlarmCondition("delay_ms >= 100");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->DelayMatches(100));
  EXPECT_FALSE(d->DelayMatches(99));
}

TEST(AlarmsConfig, ParsesTheDesignExample) {
  auto c = ParseConfig(
      Yaml(R"(  webhook: {url: "https://u:pw@hooks.example:9000/hooks/sluice?k=1", repeat_every: 10m, timeout: 3s}
  rules:
    - {name: lagging, when: "delay_ms > 5000", for: 30s}
    - {name: broken,  when: "state == failed"}
    - {name: stuck, when: stalled, for: 5m}
  auto_recover: true
)"),
      "s.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->alarms && c->alarms->webhook);
  EXPECT_EQ(c->alarms->webhook->repeat_every_ms, 600'000u);
  EXPECT_EQ(c->alarms->webhook->timeout_ms, 3000u);
  ASSERT_EQ(c->alarms->rules.size(), 3u);
  EXPECT_EQ(c->alarms->rules[0].for_ms, 30'000u);
  EXPECT_EQ(c->alarms->rules[1].for_ms, 0u);
  EXPECT_EQ(c->alarms->rules[1].when.kind, AlarmKind::kState);
  EXPECT_TRUE(c->alarms->auto_recover.enabled);
  EXPECT_EQ(c->alarms->auto_recover.initial_backoff_ms, 1000u);

  auto custom =
      ParseConfig(Yaml("  auto_recover: {initial_backoff: 2s, max_backoff: 1m, healthy_after: 30s}\n"), "s.yaml");
  ASSERT_TRUE(custom.ok()) << custom.status().message();
  EXPECT_EQ(custom->alarms->auto_recover.max_backoff_ms, 60'000u);
  EXPECT_TRUE(custom->alarms->auto_recover.enabled);
}

TEST(AlarmsConfig, ErrorsNameFileLineAndKey) {
  struct Case {
    std::string alarms;
    std::string starts;    // the message's beginning
    std::string contains;  // and something it explains
  } cases[] = {
      {"  rules: [{name: a, when: \"delay_ms >> 5\"}]\n", "/etc/sluice/s.yaml:9:27: alarms.rules[0].when: ", ">>"},
      {"  rules: [{name: a, when: \"state == broken\"}]\n",
       "/etc/sluice/s.yaml:9:27: alarms.rules[0].when: ", "retrying"},
      {"  rules: [{name: a, when: \"delay_ms > 5\", for: 5 parsecs}]\n",
       "/etc/sluice/s.yaml:9:48: alarms.rules[0].for: ", "duration"},
      {"  rules:\n    - {name: a, when: stalled, for: 1m}\n    - {name: a, when: stalled, for: 1m}\n",
       "/etc/sluice/s.yaml:11:14: alarms.rules[1].name: ", "first at /etc/sluice/s.yaml:10:14"},
      {"  rules: [{name: a, when: stalled}]\n", "/etc/sluice/s.yaml:9:11: alarms.rules[0].for: ", "stalled"},
      {"  rules: [{name: a, when: node_down}]\n", "/etc/sluice/s.yaml:9:27: alarms.rules[0].when: ", "cluster"},
      {"  rules: [{name: a, wen: stalled}]\n", "/etc/sluice/s.yaml:9:21: alarms.rules[0].wen: ", "when"},
      {"  webhook: {url: \"ftp://u:hunter2@h/x\"}\n", "/etc/sluice/s.yaml:9:18: alarms.webhook.url: ", "http"},
      {"  webhook: {url: \"http://h/x\", repeat_every: soon}\n",
       "/etc/sluice/s.yaml:9:46: alarms.webhook.repeat_every: ", "duration"},
      {"  auto_recover: maybe\n", "/etc/sluice/s.yaml:9:17: alarms.auto_recover: ", "true or false"},
  };
  for (const Case& c : cases) {
    std::string e = Error(Yaml(c.alarms));
    EXPECT_EQ(e.rfind(c.starts, 0), 0u) << c.alarms << " -> " << e;
    EXPECT_NE(e.find(c.contains), std::string::npos) << c.alarms << " -> " << e;
    EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace sluice::pipeline
