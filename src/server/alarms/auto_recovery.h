#pragma once
// AutoRecovery: which failed pipelines to start again, and when
// (`alarms: {auto_recover: true}`, design §11). Pure: the engine gives it
// each tick's statuses and the time, and starts what it names.
//
// A pipeline seen `failed` is started again `initial_backoff` after it was
// first seen failed; each further attempt that ends in `failed` again doubles
// the wait, up to `max_backoff`. Once a pipeline has stayed out of `failed`
// for `healthy_after`, its backoff starts over. A stopped pipeline (the
// operator's choice) is never started. Not thread-safe: one caller.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pipeline/alarm_rules.h"
#include "pipeline/controller.h"

namespace sluice::server::alarms {

class AutoRecovery {
 public:
  explicit AutoRecovery(pipeline::AutoRecoverConfig config) : config_(config) {}

  struct Attempt {
    std::string pipeline;
    uint32_t number = 0;     // 1 for the first attempt since the pipeline was last healthy
    uint64_t waited_ms = 0;  // the backoff that preceded it
    std::string last_error;
  };
  // The pipelines to start now.
  std::vector<Attempt> Due(const std::vector<pipeline::PipelineStatus>& pipelines, int64_t now_ms);

 private:
  struct Track {
    bool failed = false;
    int64_t failed_since_ms = 0;   // when it was seen failed (again)
    int64_t healthy_since_ms = 0;  // when it was seen out of failed
    uint64_t backoff_ms = 0;       // the wait before the next attempt; 0: initial
    uint32_t attempts = 0;         // since it was last healthy for healthy_after
  };
  pipeline::AutoRecoverConfig config_;
  std::map<std::string, Track> tracks_;
};

}  // namespace sluice::server::alarms
