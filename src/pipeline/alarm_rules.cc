#include "pipeline/alarm_rules.h"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace sluice::pipeline {
namespace {

constexpr PipelineState kStates[] = {PipelineState::kStarting, PipelineState::kRunning, PipelineState::kRetrying,
                                     PipelineState::kStopped,  PipelineState::kFailed,  PipelineState::kSnapshotting,
                                     PipelineState::kPaused,   PipelineState::kFenced};

constexpr std::string_view kGrammar =
    "expected \"delay_ms > N\" (or >=, <, <=), \"state == NAME\", \"stalled\", \"check_differences\" or "
    "\"node_down\"";

// Splits "delay_ms>=5000" and "delay_ms >= 5000" alike into words,
// operators and numbers.
std::vector<std::string> Tokens(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  while (i < text.size()) {
    char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    size_t start = i;
    if (is_word(c)) {
      while (i < text.size() && is_word(text[i])) ++i;
    } else if (c == '<' || c == '>' || c == '=' || c == '!') {
      while (i < text.size() && (text[i] == '<' || text[i] == '>' || text[i] == '=' || text[i] == '!')) ++i;
    } else {
      ++i;
    }
    out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

std::string StateNames() {
  std::string out;
  for (PipelineState s : kStates) {
    if (!out.empty()) out += ", ";
    out += PipelineStateName(s);
  }
  return out;
}

}  // namespace

bool AlarmCondition::DelayMatches(int64_t delay_ms) const {
  switch (op) {
    case AlarmComparison::kGreater:
      return delay_ms > threshold_ms;
    case AlarmComparison::kGreaterEqual:
      return delay_ms >= threshold_ms;
    case AlarmComparison::kLess:
      return delay_ms < threshold_ms;
    case AlarmComparison::kLessEqual:
      return delay_ms <= threshold_ms;
  }
  return false;
}

std::string AlarmCondition::ToString() const {
  switch (kind) {
    case AlarmKind::kDelay: {
      static constexpr const char* kOps[] = {">", ">=", "<", "<="};
      return fmt::format("delay_ms {} {}", kOps[static_cast<int>(op)], threshold_ms);
    }
    case AlarmKind::kState:
      return fmt::format("state == {}", PipelineStateName(state));
    case AlarmKind::kStalled:
      return "stalled";
    case AlarmKind::kCheckDifferences:
      return "check_differences";
    case AlarmKind::kNodeDown:
      return "node_down";
  }
  return "";
}

Result<AlarmCondition> ParseAlarmCondition(std::string_view text) {
  std::vector<std::string> t = Tokens(text);
  AlarmCondition c;
  if (t.empty()) return Status::Invalid("empty condition; {}", kGrammar);
  if (t.size() == 1) {
    if (t[0] == "stalled")
      c.kind = AlarmKind::kStalled;
    else if (t[0] == "check_differences")
      c.kind = AlarmKind::kCheckDifferences;
    else if (t[0] == "node_down")
      c.kind = AlarmKind::kNodeDown;
    else
      return Status::Invalid("unknown condition \"{}\"; {}", t[0], kGrammar);
    return c;
  }
  if (t[0] == "delay_ms") {
    if (t.size() != 3) return Status::Invalid("\"delay_ms\" takes one comparison with a number; {}", kGrammar);
    c.kind = AlarmKind::kDelay;
    if (t[1] == ">")
      c.op = AlarmComparison::kGreater;
    else if (t[1] == ">=")
      c.op = AlarmComparison::kGreaterEqual;
    else if (t[1] == "<")
      c.op = AlarmComparison::kLess;
    else if (t[1] == "<=")
      c.op = AlarmComparison::kLessEqual;
    else
      return Status::Invalid("unknown comparison \"{}\" after delay_ms (use >, >=, < or <=)", t[1]);
    const std::string& n = t[2];
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), c.threshold_ms);
    if (ec != std::errc() || end != n.data() + n.size() || c.threshold_ms < 0) {
      return Status::Invalid("\"{}\" is not a number of milliseconds (e.g. delay_ms > 5000)", n);
    }
    return c;
  }
  if (t[0] == "state") {
    if (t.size() != 3 || t[1] != "==") {
      return Status::Invalid("\"state\" is compared with ==, e.g. state == failed");
    }
    for (PipelineState s : kStates) {
      if (t[2] == PipelineStateName(s)) {
        c.kind = AlarmKind::kState;
        c.state = s;
        return c;
      }
    }
    return Status::Invalid("unknown state \"{}\" (states: {})", t[2], StateNames());
  }
  return Status::Invalid("unknown condition \"{}\"; {}", std::string(text), kGrammar);
}

}  // namespace sluice::pipeline
