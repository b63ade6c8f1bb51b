#include "server/alarms/auto_recovery.h"

#include <algorithm>
#include <set>

namespace sluice::server::alarms {

using pipeline::PipelineState;

std::vector<AutoRecovery::Attempt> AutoRecovery::Due(const std::vector<pipeline::PipelineStatus>& pipelines,
                                                     int64_t now_ms) {
  std::vector<Attempt> out;
  std::set<std::string> present;
  for (const pipeline::PipelineStatus& p : pipelines) {
    present.insert(p.name);
    Track& t = tracks_[p.name];
    if (p.state != PipelineState::kFailed) {
      if (t.failed || t.healthy_since_ms == 0) t.healthy_since_ms = now_ms;
      t.failed = false;
      if (t.attempts > 0 && now_ms - t.healthy_since_ms >= static_cast<int64_t>(config_.healthy_after_ms)) {
        t.attempts = 0;
        t.backoff_ms = 0;
      }
      continue;
    }
    if (!t.failed) {
      // Failed (again): the wait starts now, longer after every attempt
      // that did not last.
      t.failed = true;
      t.failed_since_ms = now_ms;
      t.backoff_ms = t.attempts == 0 ? config_.initial_backoff_ms
                                     : std::min(config_.max_backoff_ms, std::max<uint64_t>(t.backoff_ms, 1) * 2);
    }
    if (now_ms - t.failed_since_ms < static_cast<int64_t>(t.backoff_ms)) continue;
    ++t.attempts;
    out.push_back({p.name, t.attempts, t.backoff_ms, p.last_error});
    // Until the restarted pipeline is seen again, count it failed anew.
    t.failed = false;
    t.healthy_since_ms = now_ms;
  }
  for (auto it = tracks_.begin(); it != tracks_.end();) {
    it = present.contains(it->first) ? std::next(it) : tracks_.erase(it);
  }
  return out;
}

}  // namespace sluice::server::alarms
