#pragma once
// The `alarms:` section of a configuration (design §11): what a rule's
// `when:` says, and the webhook and auto-recovery settings. Pure values and
// the parser of `when:` expressions; pipeline/config.cc reads the YAML and
// reports errors with file:line:key, the alarm engine (server/alarms/)
// evaluates the rules.
//
// `when:` grammar (whitespace between tokens is free):
//   delay_ms OP N        OP one of > >= < <=, N a non-negative integer (ms);
//                        evaluated per target of each pipeline
//   state == NAME        NAME a pipeline state (running, retrying, failed,
//                        stopped, starting, snapshotting, paused, fenced);
//                        evaluated per pipeline
//   stalled              per target: its applied position has not moved for
//                        `for:` while the pipeline's source position differs
//                        from it (read but not applied), and the pipeline is
//                        neither stopped nor snapshotting; needs `for:`
//   check_differences    per pipeline: the last periodic check found
//                        differences (state "differences"), or its repair
//                        left some (remaining > 0)
//   node_down            the cluster manager's: a node was lost; accepted only
//                        in a file with `cluster:`

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "pipeline/controller.h"

namespace sluice::pipeline {

enum class AlarmKind : uint8_t { kDelay, kState, kStalled, kCheckDifferences, kNodeDown };
enum class AlarmComparison : uint8_t { kGreater, kGreaterEqual, kLess, kLessEqual };

struct AlarmCondition {
  AlarmKind kind = AlarmKind::kDelay;
  AlarmComparison op = AlarmComparison::kGreater;  // kDelay
  int64_t threshold_ms = 0;                        // kDelay
  PipelineState state = PipelineState::kFailed;    // kState

  // Whether `delay_ms` satisfies a kDelay condition.
  bool DelayMatches(int64_t delay_ms) const;
  // The canonical text ("delay_ms > 5000", "state == failed", "stalled").
  std::string ToString() const;
};

// Parses a `when:` expression. InvalidArgument with a message that says what
// was expected (no file or key: the config loader adds those).
Result<AlarmCondition> ParseAlarmCondition(std::string_view text);

struct AlarmRule {
  std::string name;
  AlarmCondition when;
  uint64_t for_ms = 0;  // the condition must hold this long before the alarm fires; 0: at once
};

// `webhook: {url, repeat_every, timeout}`. The URL may hold credentials
// (user:password@, a token in the path or query): it is never logged or
// shown; messages name only scheme://host:port.
struct AlarmWebhook {
  std::string url;
  uint64_t repeat_every_ms = 0;  // 0: a firing alarm is sent once
  uint64_t timeout_ms = 5000;
};

// `auto_recover: true` or `{initial_backoff, max_backoff, healthy_after}`:
// a failed pipeline is started again, after initial_backoff, doubling up to
// max_backoff between attempts; the backoff starts over once the pipeline
// has stayed out of `failed` for healthy_after.
struct AutoRecoverConfig {
  bool enabled = false;
  uint64_t initial_backoff_ms = 1000;
  uint64_t max_backoff_ms = 300'000;
  uint64_t healthy_after_ms = 60'000;
};

struct AlarmsConfig {
  std::optional<AlarmWebhook> webhook;  // none: alarms are shown (API, /metrics) but not sent
  std::vector<AlarmRule> rules;
  AutoRecoverConfig auto_recover;
};

}  // namespace sluice::pipeline
