// A retry failing the same way for hours warns once, then every 5 minutes;
// a new message, or the same one after a quiet minute, warns at once.
#include "pipeline/repeated_warning.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::pipeline {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TEST(RepeatedWarningTest, WarnsEachRetryForAMinuteThenEveryFiveMinutes) {
  RepeatedWarning w;
  const auto t0 = RepeatedWarning::Clock::time_point() + minutes(60);
  RepeatedWarning::Clock::duration lasted;
  EXPECT_TRUE(w.ShouldWarn("another sluice process owns it", t0, &lasted));
  EXPECT_EQ(lasted, RepeatedWarning::Clock::duration::zero());
  std::vector<RepeatedWarning::Clock::duration> warned;
  for (auto t = t0 + seconds(10); t <= t0 + minutes(30); t += seconds(10)) {
    if (w.ShouldWarn("another sluice process owns it", t, &lasted)) warned.push_back(lasted);
  }
  // 10, 20, ... 50 s; then 5:50, 10:50, ... 25:50.
  ASSERT_EQ(warned.size(), 10u);
  EXPECT_EQ(warned[4], seconds(50));
  EXPECT_EQ(warned[5], minutes(5) + seconds(50));
  EXPECT_EQ(warned[9], minutes(25) + seconds(50));
}

TEST(RepeatedWarningTest, ANewMessageOrOneBackAfterAQuietMinuteWarnsAtOnce) {
  RepeatedWarning w;
  const auto t0 = RepeatedWarning::Clock::time_point() + minutes(60);
  RepeatedWarning::Clock::duration lasted;
  EXPECT_TRUE(w.ShouldWarn("connection refused", t0, &lasted));
  for (auto t = t0 + seconds(10); t <= t0 + minutes(2); t += seconds(10)) {
    (void)w.ShouldWarn("connection refused", t, &lasted);
  }
  EXPECT_FALSE(w.ShouldWarn("connection refused", t0 + minutes(2) + seconds(10), &lasted));
  EXPECT_EQ(lasted, minutes(2) + seconds(10));
  EXPECT_TRUE(w.ShouldWarn("read-only", t0 + minutes(2) + seconds(20), &lasted)) << "a new message";
  EXPECT_EQ(lasted, RepeatedWarning::Clock::duration::zero());
  for (auto t = t0 + minutes(2) + seconds(30); t <= t0 + minutes(4); t += seconds(10)) {
    (void)w.ShouldWarn("read-only", t, &lasted);
  }
  EXPECT_FALSE(w.ShouldWarn("read-only", t0 + minutes(4) + seconds(10), &lasted));
  // The retries got through for a while; the same failure later is news.
  EXPECT_TRUE(w.ShouldWarn("read-only", t0 + minutes(6), &lasted));
  EXPECT_EQ(lasted, RepeatedWarning::Clock::duration::zero());
}

}  // namespace
}  // namespace sluice::pipeline
