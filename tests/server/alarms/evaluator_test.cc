// AlarmEvaluator with a fake clock: for:, repeat_every, resolve, one
// notification per transition, per-target delay, stalled, check_differences
// and state rules.
#include "server/alarms/evaluator.h"

#include <gtest/gtest.h>

namespace sluice::server::alarms {
namespace {

using pipeline::AlarmRule;
using pipeline::PipelineState;
using pipeline::PipelineStatus;
using pipeline::TargetStatus;

constexpr int64_t kT0 = 1'780'000'000'000;  // a wall-clock ms; ticks are added to it

AlarmRule Rule(const std::string& name, const std::string& when, uint64_t for_ms = 0) {
  auto c = pipeline::ParseAlarmCondition(when);
  EXPECT_TRUE(c.ok()) << when;
  return AlarmRule{name, *c, for_ms};
}

PipelineStatus Pipeline(const std::string& name, std::vector<std::pair<std::string, int64_t>> delays,
                        PipelineState state = PipelineState::kRunning) {
  PipelineStatus p;
  p.name = name;
  p.state = state;
  for (auto& [t, d] : delays) {
    TargetStatus ts;
    ts.name = t;
    ts.delay_ms = d;
    ts.applied_position = "binlog.000001:100";
    p.targets.push_back(ts);
  }
  return p;
}

std::string Describe(const std::vector<AlarmNotice>& notices) {
  std::string out;
  for (const AlarmNotice& n : notices) {
    out += n.rule + "/" + n.pipeline + "/" + (n.node.empty() ? n.target : "node " + n.node) + ":" +
           (n.firing ? "firing" : "resolved") +
           (n.repeat ? "(repeat)" : "") + ";";
  }
  return out;
}

TEST(AlarmEvaluator, DelayPerTargetWaitsForThenFiresOnceAndResolves) {
  AlarmEvaluator ev({Rule("lagging", "delay_ms > 5000", 30'000)}, /*repeat_every_ms=*/0);
  auto slow = [](int64_t d) { return std::vector{Pipeline("p", {{"fast", 10}, {"slow", d}})}; };
  EXPECT_EQ(Describe(ev.Evaluate(slow(6000), kT0)), "");           // pending
  EXPECT_EQ(Describe(ev.Evaluate(slow(7000), kT0 + 29'000)), "");  // still pending
  EXPECT_TRUE(ev.Alarms().empty()) << "pending alarms are not listed";
  auto fired = ev.Evaluate(slow(9000), kT0 + 30'000);
  ASSERT_EQ(Describe(fired), "lagging/p/slow:firing;");
  EXPECT_EQ(fired[0].since_ms, kT0) << "since: when the condition began to hold";
  EXPECT_EQ(fired[0].value, 9000);
  auto body = fired[0].ToJson();
  EXPECT_EQ(body.dump(),
            R"js({"rule":"lagging","pipeline":"p","target":"slow","state":"firing","value":9000,"since":")js" +
                Rfc3339(kT0) + R"js(","message":"pipeline p target slow: delay 9000 ms (delay_ms > 5000)"})js");
  // Still firing, no repeat_every: nothing more.
  for (int i = 1; i < 20; ++i) EXPECT_EQ(Describe(ev.Evaluate(slow(9000), kT0 + 30'000 + i * 60'000)), "");
  ASSERT_EQ(ev.Alarms().size(), 1u);
  EXPECT_EQ(ev.Alarms()[0].state, "firing");
  auto resolved = ev.Evaluate(slow(100), kT0 + 2'000'000);
  ASSERT_EQ(Describe(resolved), "lagging/p/slow:resolved;");
  EXPECT_EQ(resolved[0].since_ms, kT0 + 2'000'000);
  EXPECT_EQ(Describe(ev.Evaluate(slow(100), kT0 + 2'001'000)), "") << "one notification per transition";
  ASSERT_EQ(ev.Alarms().size(), 1u);
  EXPECT_EQ(ev.Alarms()[0].state, "resolved");
  // Forgotten an hour after it resolved.
  ev.Evaluate(slow(100), kT0 + 2'000'000 + 3'600'000);
  EXPECT_TRUE(ev.Alarms().empty());
}

TEST(AlarmEvaluator, PendingThatStopsHoldingIsSilentAndStartsOver) {
  AlarmEvaluator ev({Rule("lagging", "delay_ms >= 5000", 10'000)}, 0);
  EXPECT_EQ(Describe(ev.Evaluate({Pipeline("p", {{"t", 5000}})}, kT0)), "");
  EXPECT_EQ(Describe(ev.Evaluate({Pipeline("p", {{"t", 4999}})}, kT0 + 5000)), "");
  EXPECT_EQ(Describe(ev.Evaluate({Pipeline("p", {{"t", 6000}})}, kT0 + 9000)), "");
  EXPECT_EQ(Describe(ev.Evaluate({Pipeline("p", {{"t", 6000}})}, kT0 + 12'000)), "") << "the wait started over at 9 s";
  EXPECT_EQ(Describe(ev.Evaluate({Pipeline("p", {{"t", 6000}})}, kT0 + 19'000)), "lagging/p/t:firing;");
}

TEST(AlarmEvaluator, RepeatEveryWhileFiring) {
  AlarmEvaluator ev({Rule("broken", "state == failed")}, /*repeat_every_ms=*/600'000);
  std::vector failed{Pipeline("p", {{"t", 0}}, PipelineState::kFailed)};
  failed[0].last_error = "target t: Data too long";
  auto first = ev.Evaluate(failed, kT0);
  ASSERT_EQ(Describe(first), "broken/p/:firing;") << "state rules are per pipeline";
  EXPECT_EQ(first[0].value, "failed");
  EXPECT_EQ(first[0].message, "pipeline p is failed: target t: Data too long");
  EXPECT_TRUE(first[0].ToJson()["target"].is_null());
  EXPECT_EQ(Describe(ev.Evaluate(failed, kT0 + 599'000)), "");
  EXPECT_EQ(Describe(ev.Evaluate(failed, kT0 + 600'000)), "broken/p/:firing(repeat);");
  EXPECT_EQ(Describe(ev.Evaluate(failed, kT0 + 601'000)), "");
  EXPECT_EQ(Describe(ev.Evaluate(failed, kT0 + 1'200'000)), "broken/p/:firing(repeat);");
  EXPECT_EQ(Describe(ev.Evaluate({Pipeline("p", {{"t", 0}})}, kT0 + 1'300'000)), "broken/p/:resolved;");
  // Fires again as a new alarm when it fails again.
  auto again = ev.Evaluate(failed, kT0 + 1'400'000);
  ASSERT_EQ(Describe(again), "broken/p/:firing;");
  EXPECT_EQ(again[0].since_ms, kT0 + 1'400'000);
}

TEST(AlarmEvaluator, RetryingLongerThanFor) {
  AlarmEvaluator ev({Rule("retrying", "state == retrying", 60'000)}, 0);
  std::vector retrying{Pipeline("p", {{"t", 0}}, PipelineState::kRetrying)};
  EXPECT_EQ(Describe(ev.Evaluate(retrying, kT0)), "");
  EXPECT_EQ(Describe(ev.Evaluate(retrying, kT0 + 59'999)), "");
  EXPECT_EQ(Describe(ev.Evaluate(retrying, kT0 + 60'000)), "retrying/p/:firing;");
}

TEST(AlarmEvaluator, StalledNeedsAStillPositionAndADelayAsLongAsFor) {
  AlarmEvaluator ev({Rule("stuck", "stalled", 60'000)}, 0);
  auto at = [](const std::string& pos, int64_t delay, PipelineState s = PipelineState::kRunning) {
    PipelineStatus p = Pipeline("p", {{"t", delay}}, s);
    p.targets[0].applied_position = pos;
    return std::vector{p};
  };
  // Idle and caught up for long: the position stands, but heartbeats keep the delay small.
  EXPECT_EQ(Describe(ev.Evaluate(at("A", 300), kT0)), "");
  EXPECT_EQ(Describe(ev.Evaluate(at("A", 800), kT0 + 3'600'000)), "");
  // Moving slowly: a large delay, but the position moves.
  EXPECT_EQ(Describe(ev.Evaluate(at("B", 90'000), kT0 + 3'700'000)), "");
  EXPECT_EQ(Describe(ev.Evaluate(at("C", 90'000), kT0 + 3'730'000)), "");
  EXPECT_EQ(Describe(ev.Evaluate(at("C", 119'000), kT0 + 3'789'000)), "") << "still for 59 s only";
  auto fired = ev.Evaluate(at("C", 120'000), kT0 + 3'790'000);
  ASSERT_EQ(Describe(fired), "stuck/p/t:firing;");
  EXPECT_EQ(fired[0].value, 60);
  EXPECT_EQ(Describe(ev.Evaluate(at("D", 1000), kT0 + 3'791'000)), "stuck/p/t:resolved;");
  // A stopped pipeline stands still on purpose.
  ev.Evaluate(at("E", 0, PipelineState::kStopped), kT0 + 4'000'000);
  EXPECT_EQ(Describe(ev.Evaluate(at("E", 900'000, PipelineState::kStopped), kT0 + 5'000'000)), "");
}

TEST(AlarmEvaluator, CheckDifferences) {
  AlarmEvaluator ev({Rule("diff", "check_differences")}, 0);
  PipelineStatus p = Pipeline("p", {{"t", 0}});
  EXPECT_EQ(Describe(ev.Evaluate({p}, kT0)), "") << "no checks configured";
  p.has_check = true;
  p.check.runs = 1;
  p.check.state = "consistent";
  EXPECT_EQ(Describe(ev.Evaluate({p}, kT0 + 1000)), "");
  p.check.state = "differences";
  p.check.missing = 2;
  p.check.different = 1;
  auto fired = ev.Evaluate({p}, kT0 + 2000);
  ASSERT_EQ(Describe(fired), "diff/p/:firing;");
  EXPECT_EQ(fired[0].value, 3);
  p.check.state = "repaired";
  p.check.remaining = 0;
  EXPECT_EQ(Describe(ev.Evaluate({p}, kT0 + 3000)), "diff/p/:resolved;");
  p.check.remaining = 1;
  EXPECT_EQ(Describe(ev.Evaluate({p}, kT0 + 4000)), "diff/p/:firing;") << "a repair that left differences";
}

TEST(AlarmEvaluator, AlarmOfARemovedPipelineResolves) {
  AlarmEvaluator ev({Rule("lagging", "delay_ms > 5")}, 0);
  EXPECT_EQ(Describe(ev.Evaluate({Pipeline("p", {{"t", 10}}), Pipeline("q", {{"t", 10}})}, kT0)),
            "lagging/p/t:firing;lagging/q/t:firing;");
  auto gone = ev.Evaluate({Pipeline("q", {{"t", 10}})}, kT0 + 1000);
  ASSERT_EQ(Describe(gone), "lagging/p/t:resolved;");
  EXPECT_NE(gone[0].message.find("no longer exists"), std::string::npos);
}

AlarmInputs Nodes(std::map<std::string, bool> live) { return AlarmInputs{{}, {}, std::move(live)}; }

TEST(AlarmEvaluator, NodeDownFiresForANodeSeenThenLostAndResolvesWhenItReturns) {
  AlarmEvaluator ev({Rule("node_lost", "node_down", 10'000)}, 0);
  EXPECT_EQ(Describe(ev.Evaluate(Nodes({{"n1", false}, {"n2", false}}), kT0)), "") << "all there";
  EXPECT_EQ(Describe(ev.Evaluate(Nodes({{"n1", false}}), kT0 + 1000)), "") << "n2 pending for 10 s";
  EXPECT_EQ(Describe(ev.Evaluate(AlarmInputs{}, kT0 + 20'000)), "")
      << "the nodes could not be read: nothing changes, n1 is not taken for lost";
  auto fired = ev.Evaluate(Nodes({{"n1", false}}), kT0 + 11'000);
  ASSERT_EQ(Describe(fired), "node_lost//node n2:firing;");
  EXPECT_EQ(fired[0].value, "n2");
  EXPECT_EQ(fired[0].since_ms, kT0 + 1000);
  EXPECT_NE(fired[0].message.find("node n2 has left the cluster"), std::string::npos) << fired[0].message;
  auto body = fired[0].ToJson();
  EXPECT_TRUE(body["pipeline"].is_null());
  EXPECT_TRUE(body["target"].is_null());
  EXPECT_EQ(body["node"], "n2");
  EXPECT_EQ(Describe(ev.Evaluate(AlarmInputs{}, kT0 + 12'000)), "") << "unreadable: still firing, no resolve";
  ASSERT_EQ(ev.Alarms().size(), 1u);
  EXPECT_EQ(ev.Alarms()[0].state, "firing");
  EXPECT_EQ(ev.Alarms()[0].node, "n2");
  auto back = ev.Evaluate(Nodes({{"n1", false}, {"n2", false}}), kT0 + 13'000);
  ASSERT_EQ(Describe(back), "node_lost//node n2:resolved;");
  EXPECT_NE(back[0].message.find("back"), std::string::npos) << back[0].message;
}

TEST(AlarmEvaluator, NodeDownIgnoresANodeDrainedBeforeItLeftAndNodesNeverSeen) {
  AlarmEvaluator ev({Rule("node_lost", "node_down")}, 0);
  EXPECT_EQ(Describe(ev.Evaluate(Nodes({{"n1", false}, {"n2", true}}), kT0)), "");
  EXPECT_EQ(Describe(ev.Evaluate(Nodes({{"n1", false}}), kT0 + 1000)), "") << "n2 was drained: retired on purpose";
  EXPECT_EQ(Describe(ev.Evaluate(Nodes({{"n1", false}, {"n3", false}}), kT0 + 2000)), "") << "n3 is new";
  EXPECT_EQ(Describe(ev.Evaluate(Nodes({{"n3", false}}), kT0 + 3000)), "node_lost//node n1:firing;");
}

TEST(AlarmEvaluator, AlarmsOfAPipelineWhoseStatusIsUnknownStayAsTheyWere) {
  AlarmEvaluator ev({Rule("lagging", "delay_ms > 5")}, 0);
  EXPECT_EQ(Describe(ev.Evaluate({Pipeline("p", {{"t", 10}})}, kT0)), "lagging/p/t:firing;");
  EXPECT_EQ(Describe(ev.Evaluate(AlarmInputs{{}, {"p"}, std::nullopt}, kT0 + 1000)), "")
      << "its owner did not answer: not resolved as if gone";
  ASSERT_EQ(ev.Alarms().size(), 1u);
  EXPECT_EQ(ev.Alarms()[0].state, "firing");
  EXPECT_EQ(Describe(ev.Evaluate({Pipeline("p", {{"t", 1}})}, kT0 + 2000)), "lagging/p/t:resolved;");
}

TEST(AlarmEvaluator, NewRulesKeepTheAlarmsOfRulesThatStayAndResolveTheOthers) {
  AlarmEvaluator ev({Rule("lagging", "delay_ms > 5"), Rule("very", "delay_ms > 8")}, 0);
  EXPECT_EQ(Describe(ev.Evaluate({Pipeline("p", {{"t", 10}})}, kT0)), "lagging/p/t:firing;very/p/t:firing;");
  ev.SetRules({Rule("lagging", "delay_ms > 5")}, 0);
  auto next = ev.Evaluate({Pipeline("p", {{"t", 10}})}, kT0 + 1000);
  ASSERT_EQ(Describe(next), "very/p/t:resolved;") << "lagging carries on without a second firing";
  EXPECT_NE(next[0].message.find("rule very was removed"), std::string::npos) << next[0].message;
}

TEST(AlarmEvaluator, Rfc3339) {
  EXPECT_EQ(Rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(Rfc3339(1'764'851'696'789), "2025-12-04T12:34:56.789Z");
}

}  // namespace
}  // namespace sluice::server::alarms
