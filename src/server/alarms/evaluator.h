#pragma once
// AlarmEvaluator: the pure part of the alarms (design §11). Given the rules
// and, at each tick, a snapshot of every pipeline's status and the time, it
// moves each alarm (rule, pipeline, target) through
//
//   inactive -> pending (the condition holds, `for:` not over yet)
//            -> firing  (held for `for:`; a "firing" notification)
//            -> resolved (no longer holds; a "resolved" notification)
//
// and says which notifications are due: one per transition, and a repeat of
// "firing" at most every `repeat_every` while it still fires. A pending
// alarm whose condition stops holding goes back to inactive silently. An
// alarm whose pipeline (or target) disappears resolves; one whose pipeline's
// status could not be read this tick (a cluster node that did not answer)
// stays as it was.
//
// `node_down` (the cluster manager's rule) watches the nodes it has seen
// alive: one that is gone from the live nodes holds the condition until it
// returns. A node last seen draining left on purpose and is forgotten; while
// the nodes cannot be read, node alarms stay as they were.
//
// No clock, no thread, no I/O: the engine (alarm_engine.h) calls Evaluate
// once a second from its thread; tests call it with any times they like.
// Not thread-safe: the caller serialises calls.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/alarm_rules.h"
#include "pipeline/controller.h"

namespace sluice::server::alarms {

using AlarmJson = nlohmann::ordered_json;

// What the rules look at in one tick.
struct AlarmInputs {
  std::vector<pipeline::PipelineStatus> pipelines;
  // Pipelines whose status is unknown now: their alarms are left as they are.
  std::set<std::string> unknown_pipelines;
  // The cluster's live nodes (id -> draining); none where there is no
  // cluster or it could not be read.
  std::optional<std::map<std::string, bool>> nodes;
};

// One webhook body, design §11: {"rule","pipeline","target","state","value","since","message"},
// and "node" for a node's alarm (whose pipeline and target are null).
struct AlarmNotice {
  std::string rule;
  std::string pipeline;  // "" for a node's alarm (sent as null)
  std::string target;    // "" for a rule evaluated per pipeline (sent as null)
  bool firing = true;    // else resolved
  AlarmJson value;       // delay_ms, the state name, seconds stalled, differences
  int64_t since_ms = 0;  // firing: when the condition began to hold; resolved: when it stopped
  std::string message;
  bool repeat = false;  // a reminder of an alarm that already fired
  std::string node;     // node_down: the node's id

  AlarmJson ToJson() const;
};

// An alarm as GET /api/alarms shows it: firing, or resolved recently.
struct AlarmView {
  std::string rule, pipeline, target;
  std::string state;  // "firing" | "resolved"
  AlarmJson value;
  int64_t since_ms = 0;
  std::string message;
  std::string node;  // node_down: the node's id
};

class AlarmEvaluator {
 public:
  // `repeat_every_ms` 0: no repeats. Resolved alarms stay listed for
  // `keep_resolved_ms`.
  AlarmEvaluator(std::vector<pipeline::AlarmRule> rules, uint64_t repeat_every_ms,
                 uint64_t keep_resolved_ms = 3'600'000);

  // One tick at wall-clock time `now_ms`; returns the notifications due, in
  // the order they happened.
  std::vector<AlarmNotice> Evaluate(const AlarmInputs& inputs, int64_t now_ms);
  std::vector<AlarmNotice> Evaluate(const std::vector<pipeline::PipelineStatus>& pipelines, int64_t now_ms) {
    return Evaluate(AlarmInputs{pipelines, {}, std::nullopt}, now_ms);
  }

  std::vector<AlarmView> Alarms() const;
  const std::vector<pipeline::AlarmRule>& rules() const { return rules_; }
  // New rules (a reloaded configuration): alarms of rules that keep their
  // name carry on; those of rules that are gone resolve at the next tick.
  void SetRules(std::vector<pipeline::AlarmRule> rules, uint64_t repeat_every_ms);

 private:
  using Key = std::tuple<std::string, std::string, std::string, std::string>;  // rule, pipeline, target, node
  enum class Phase : uint8_t { kPending, kFiring, kResolved };
  struct Alarm {
    Phase phase = Phase::kPending;
    int64_t since_ms = 0;      // pending/firing: when the condition began to hold; resolved: when it stopped
    int64_t last_sent_ms = 0;  // the last firing notification (first or repeat)
    AlarmJson value;
    std::string message;
  };
  // What a rule sees on one pipeline or target this tick.
  struct Observation {
    std::string target;
    bool holds = false;
    AlarmJson value;
    std::string message;
  };
  std::vector<Observation> Observe(const pipeline::AlarmRule& rule, const pipeline::PipelineStatus& p, int64_t now_ms);
  // node_down over the nodes seen so far; then remembers `live`.
  void ObserveNodes(const std::map<std::string, bool>& live, int64_t now_ms, std::set<Key>& seen,
                    std::vector<AlarmNotice>& out);
  void Step(const pipeline::AlarmRule& rule, const Key& key, const Observation& o, int64_t now_ms,
            std::vector<AlarmNotice>& out);
  AlarmNotice Notice(const Key& key, const Alarm& a, bool firing, bool repeat) const;

  std::vector<pipeline::AlarmRule> rules_;
  uint64_t repeat_every_ms_;
  uint64_t keep_resolved_ms_;
  std::map<Key, Alarm> alarms_;
  // For `stalled`: each target's applied position at the last tick, and
  // since when it has stood there.
  struct Standing {
    std::string position;
    int64_t since_ms = 0;
  };
  std::map<std::pair<std::string, std::string>, Standing> standing_;
  // Every node seen alive and not retired (id -> draining when last seen).
  std::map<std::string, bool> known_nodes_;
};

// "2026-12-04T12:34:56.789Z".
std::string Rfc3339(int64_t unix_ms);

}  // namespace sluice::server::alarms
