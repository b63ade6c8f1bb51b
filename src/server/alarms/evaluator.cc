#include "server/alarms/evaluator.h"

#include <ctime>
#include <set>

#include <fmt/format.h>

namespace sluice::server::alarms {

using pipeline::AlarmKind;
using pipeline::AlarmRule;
using pipeline::PipelineState;
using pipeline::PipelineStateName;
using pipeline::PipelineStatus;
using pipeline::TargetStatus;

std::string Rfc3339(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, unix_ms % 1000);
}

AlarmJson AlarmNotice::ToJson() const {
  AlarmJson j;
  j["rule"] = rule;
  j["pipeline"] = pipeline.empty() ? AlarmJson(nullptr) : AlarmJson(pipeline);
  j["target"] = target.empty() ? AlarmJson(nullptr) : AlarmJson(target);
  if (!node.empty()) j["node"] = node;
  j["state"] = firing ? "firing" : "resolved";
  j["value"] = value;
  j["since"] = Rfc3339(since_ms);
  j["message"] = message;
  return j;
}

AlarmEvaluator::AlarmEvaluator(std::vector<AlarmRule> rules, uint64_t repeat_every_ms, uint64_t keep_resolved_ms)
    : rules_(std::move(rules)), repeat_every_ms_(repeat_every_ms), keep_resolved_ms_(keep_resolved_ms) {}

std::vector<AlarmEvaluator::Observation> AlarmEvaluator::Observe(const AlarmRule& rule, const PipelineStatus& p,
                                                                 int64_t now_ms) {
  std::vector<Observation> out;
  switch (rule.when.kind) {
    case AlarmKind::kDelay:
      for (const TargetStatus& t : p.targets) {
        Observation o{t.name, rule.when.DelayMatches(t.delay_ms), t.delay_ms, ""};
        o.message =
            fmt::format("pipeline {} target {}: delay {} ms ({})", p.name, t.name, t.delay_ms, rule.when.ToString());
        out.push_back(std::move(o));
      }
      break;
    case AlarmKind::kState: {
      Observation o{"", p.state == rule.when.state, PipelineStateName(p.state), ""};
      o.message = fmt::format("pipeline {} is {}", p.name, PipelineStateName(p.state));
      if (!p.last_error.empty()) o.message += ": " + p.last_error;
      out.push_back(std::move(o));
      break;
    }
    case AlarmKind::kStalled:
      // Stalled: the position stood still for `for:` and the target is at
      // least that far behind the source. Idle and caught up, heartbeats keep
      // the delay small; moving slowly, the position moves. A stopped or
      // snapshotting pipeline stands still on purpose.
      for (const TargetStatus& t : p.targets) {
        Standing& s = standing_[{p.name, t.name}];
        if (s.since_ms == 0 || s.position != t.applied_position) s = {t.applied_position, now_ms};
        int64_t still_ms = now_ms - s.since_ms;
        const auto need = static_cast<int64_t>(rule.for_ms);
        bool deliberate = p.state == PipelineState::kStopped || p.state == PipelineState::kSnapshotting;
        Observation o{t.name, !deliberate && still_ms >= need && t.delay_ms >= need, still_ms / 1000, ""};
        o.message = fmt::format("pipeline {} target {}: applied position {} has not moved for {} s, {} ms behind",
                                p.name, t.name, t.applied_position.empty() ? "(none)" : t.applied_position,
                                still_ms / 1000, t.delay_ms);
        out.push_back(std::move(o));
      }
      break;
    case AlarmKind::kCheckDifferences: {
      const auto& c = p.check;
      bool found = p.has_check && c.runs > 0 && (c.state == "differences" || c.remaining > 0);
      uint64_t n = c.state == "repaired" ? c.remaining : c.missing + c.extra + c.different;
      Observation o{"", found, n, ""};
      o.message = fmt::format("pipeline {}: the last check found {} missing, {} extra, {} different row(s){}", p.name,
                              c.missing, c.extra, c.different,
                              c.state == "repaired" ? fmt::format(", {} left after repair", c.remaining) : "");
      out.push_back(std::move(o));
      break;
    }
    case AlarmKind::kNodeDown:
      break;  // the cluster manager's rule; a pipeline status knows no nodes
  }
  return out;
}

void AlarmEvaluator::SetRules(std::vector<AlarmRule> rules, uint64_t repeat_every_ms) {
  rules_ = std::move(rules);
  repeat_every_ms_ = repeat_every_ms;
}

AlarmNotice AlarmEvaluator::Notice(const Key& key, const Alarm& a, bool firing, bool repeat) const {
  return AlarmNotice{std::get<0>(key), std::get<1>(key), std::get<2>(key), firing, a.value,
                     a.since_ms,       a.message,        repeat,           std::get<3>(key)};
}

void AlarmEvaluator::ObserveNodes(const std::map<std::string, bool>& live, int64_t now_ms, std::set<Key>& seen,
                                  std::vector<AlarmNotice>& out) {
  for (auto it = known_nodes_.begin(); it != known_nodes_.end();) {
    // Drained, then gone: retired on purpose, no alarm.
    it = !live.contains(it->first) && it->second ? known_nodes_.erase(it) : std::next(it);
  }
  for (const AlarmRule& rule : rules_) {
    if (rule.when.kind != AlarmKind::kNodeDown) continue;
    for (const auto& [id, draining] : known_nodes_) {
      const bool down = !live.contains(id);
      Observation o{"", down, id,
                    down ? fmt::format("node {} has left the cluster (its ZooKeeper session ended)", id)
                         : fmt::format("node {} is back in the cluster", id)};
      Key key{rule.name, "", "", id};
      seen.insert(key);
      Step(rule, key, o, now_ms, out);
    }
  }
  for (const auto& [id, draining] : live) known_nodes_[id] = draining;
}

void AlarmEvaluator::Step(const AlarmRule& rule, const Key& key, const Observation& o, int64_t now_ms,
                          std::vector<AlarmNotice>& out) {
  auto it = alarms_.find(key);
  if (!o.holds) {
    if (it == alarms_.end()) return;
    Alarm& a = it->second;
    if (a.phase == Phase::kPending) {
      alarms_.erase(it);
    } else if (a.phase == Phase::kFiring) {
      a.phase = Phase::kResolved;
      a.since_ms = now_ms;
      a.value = o.value;
      a.message = o.message;
      out.push_back(Notice(key, a, /*firing=*/false, /*repeat=*/false));
    }
    return;
  }
  if (it == alarms_.end() || it->second.phase == Phase::kResolved) {
    Alarm fresh;
    fresh.since_ms = now_ms;
    it = alarms_.insert_or_assign(key, std::move(fresh)).first;
  }
  Alarm& a = it->second;
  a.value = o.value;
  a.message = o.message;
  // `stalled` measures its own `for:` (how long the position stood still).
  const uint64_t wait_ms = rule.when.kind == AlarmKind::kStalled ? 0 : rule.for_ms;
  if (a.phase == Phase::kPending) {
    if (now_ms - a.since_ms < static_cast<int64_t>(wait_ms)) return;
    a.phase = Phase::kFiring;
    a.last_sent_ms = now_ms;
    out.push_back(Notice(key, a, /*firing=*/true, /*repeat=*/false));
    return;
  }
  if (repeat_every_ms_ > 0 && now_ms - a.last_sent_ms >= static_cast<int64_t>(repeat_every_ms_)) {
    a.last_sent_ms = now_ms;
    out.push_back(Notice(key, a, /*firing=*/true, /*repeat=*/true));
  }
}

std::vector<AlarmNotice> AlarmEvaluator::Evaluate(const AlarmInputs& inputs, int64_t now_ms) {
  std::vector<AlarmNotice> out;
  std::set<Key> seen;
  std::set<std::pair<std::string, std::string>> targets;
  for (const PipelineStatus& p : inputs.pipelines) {
    for (const TargetStatus& t : p.targets) targets.insert({p.name, t.name});
  }
  for (const AlarmRule& rule : rules_) {
    for (const PipelineStatus& p : inputs.pipelines) {
      for (const Observation& o : Observe(rule, p, now_ms)) {
        Key key{rule.name, p.name, o.target, ""};
        seen.insert(key);
        Step(rule, key, o, now_ms, out);
      }
    }
  }
  if (inputs.nodes) ObserveNodes(*inputs.nodes, now_ms, seen, out);
  // What could not be looked at this tick stays as it was.
  const auto unseen_now = [&](const Key& key) {
    const bool node_alarm = !std::get<3>(key).empty();
    return node_alarm ? !inputs.nodes.has_value() : inputs.unknown_pipelines.contains(std::get<1>(key));
  };
  std::set<std::string> rule_names;
  for (const AlarmRule& rule : rules_) rule_names.insert(rule.name);
  // Alarms of pipelines or targets that are gone (a reload removed them), or
  // of rules that are gone, resolve; resolved ones are forgotten after a while.
  for (auto it = alarms_.begin(); it != alarms_.end();) {
    Alarm& a = it->second;
    const Key& key = it->first;
    const bool rule_gone = !rule_names.contains(std::get<0>(key));
    if (!seen.contains(key) && a.phase != Phase::kResolved && (rule_gone || !unseen_now(key))) {
      if (a.phase == Phase::kFiring) {
        a.phase = Phase::kResolved;
        a.since_ms = now_ms;
        if (rule_gone) {
          a.message = fmt::format("rule {} was removed from the configuration", std::get<0>(key));
        } else {
          a.message = fmt::format("pipeline {}{} no longer exists", std::get<1>(key),
                                  std::get<2>(key).empty() ? "" : " target " + std::get<2>(key));
        }
        out.push_back(Notice(key, a, /*firing=*/false, /*repeat=*/false));
      } else {
        it = alarms_.erase(it);
        continue;
      }
    }
    if (a.phase == Phase::kResolved && now_ms - a.since_ms >= static_cast<int64_t>(keep_resolved_ms_)) {
      it = alarms_.erase(it);
      continue;
    }
    ++it;
  }
  for (auto it = standing_.begin(); it != standing_.end();) {
    const bool keep = targets.contains(it->first) || inputs.unknown_pipelines.contains(it->first.first);
    it = keep ? std::next(it) : standing_.erase(it);
  }
  return out;
}

std::vector<AlarmView> AlarmEvaluator::Alarms() const {
  std::vector<AlarmView> out;
  for (const auto& [key, a] : alarms_) {
    if (a.phase == Phase::kPending) continue;
    out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key),
                   a.phase == Phase::kFiring ? "firing" : "resolved", a.value, a.since_ms, a.message,
                   std::get<3>(key)});
  }
  return out;
}

}  // namespace sluice::server::alarms
