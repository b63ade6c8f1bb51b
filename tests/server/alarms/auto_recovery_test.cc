// AutoRecovery with a fake clock: initial backoff, doubling to the cap,
// reset after staying healthy, stopped pipelines left alone.
#include "server/alarms/auto_recovery.h"

#include <gtest/gtest.h>

namespace sluice::server::alarms {
namespace {

using pipeline::PipelineState;

std::vector<pipeline::PipelineStatus> One(PipelineState s) {
  pipeline::PipelineStatus p;
  p.name = "p";
  p.state = s;
  return {p};
}

// The times (ms after 0) at which attempts happen while the pipeline keeps
// failing right after each start (seen failed on the tick after it).
std::vector<int64_t> Attempts(AutoRecovery& r, int64_t from, int64_t to) {
  std::vector<int64_t> at;
  bool just_started = false;
  for (int64_t t = from; t <= to; t += 1000) {
    auto due = r.Due(One(just_started ? PipelineState::kStarting : PipelineState::kFailed), t);
    just_started = !due.empty();
    if (!due.empty()) at.push_back(t);
  }
  return at;
}

TEST(AutoRecovery, BackoffDoublesToTheCap) {
  pipeline::AutoRecoverConfig c{true, 1000, 8000, 60'000};
  AutoRecovery r(c);
  // Failed at 0: attempt at 1 s; then it fails again each time: waits 2, 4, 8, 8 s.
  EXPECT_EQ(Attempts(r, 0, 40'000), (std::vector<int64_t>{1000, 5000, 11'000, 21'000, 31'000}));
}

TEST(AutoRecovery, HealthyForLongEnoughStartsOver) {
  pipeline::AutoRecoverConfig c{true, 1000, 300'000, 60'000};
  AutoRecovery r(c);
  EXPECT_EQ(Attempts(r, 0, 5000), (std::vector<int64_t>{1000, 5000}));
  // Healthy for 30 s: not long enough, the next wait is 4 s.
  for (int64_t t = 6000; t <= 36'000; t += 1000) EXPECT_TRUE(r.Due(One(PipelineState::kRunning), t).empty());
  EXPECT_TRUE(r.Due(One(PipelineState::kFailed), 37'000).empty());
  EXPECT_TRUE(r.Due(One(PipelineState::kFailed), 40'000).empty());
  auto due = r.Due(One(PipelineState::kFailed), 41'000);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].number, 3u);
  EXPECT_EQ(due[0].waited_ms, 4000u);
  // Healthy for a minute: back to 1 s and attempt 1.
  for (int64_t t = 42'000; t <= 110'000; t += 1000) r.Due(One(PipelineState::kRunning), t);
  EXPECT_TRUE(r.Due(One(PipelineState::kFailed), 111'000).empty());
  due = r.Due(One(PipelineState::kFailed), 112'000);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].number, 1u);
}

TEST(AutoRecovery, StoppedPipelinesAreLeftAlone) {
  AutoRecovery r(pipeline::AutoRecoverConfig{true, 1000, 8000, 60'000});
  for (int64_t t = 0; t < 100'000; t += 1000) EXPECT_TRUE(r.Due(One(PipelineState::kStopped), t).empty());
}

}  // namespace
}  // namespace sluice::server::alarms
