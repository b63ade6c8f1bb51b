#pragma once
// RepeatedWarning: a retry that fails the same way again and again (a
// standby waiting for days for the process that owns its target, a target
// down overnight, retried every 10 s) is warned about at each retry for its
// first minute (a short outage shows whole in the log), then logged at
// debug while it repeats, and warned about again every kRemindEvery with
// how long it has lasted. A message that changes, or comes back after a
// quiet minute (the retries had got through), starts over.
// Not thread-safe: one per target thread.

#include <chrono>
#include <string>

namespace sluice::pipeline {

class RepeatedWarning {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kRemindEvery = std::chrono::minutes(5);
  static constexpr auto kQuietGap = std::chrono::minutes(1);
  static constexpr auto kWarnEachFor = std::chrono::minutes(1);

  // Whether `message`, failing at `now`, goes to the log at warn level;
  // `*lasted` is how long the same message has been repeating.
  bool ShouldWarn(const std::string& message, Clock::time_point now, Clock::duration* lasted) {
    const bool same = message == last_ && now - last_seen_ < kQuietGap;
    last_seen_ = now;
    if (!same) {
      last_ = message;
      first_ = last_warned_ = now;
      *lasted = Clock::duration::zero();
      return true;
    }
    *lasted = now - first_;
    if (*lasted >= kWarnEachFor && now - last_warned_ < kRemindEvery) return false;
    last_warned_ = now;
    return true;
  }

 private:
  std::string last_;
  Clock::time_point first_, last_seen_, last_warned_;
};

}  // namespace sluice::pipeline
