#include "server/auth/login_throttle.h"

#include <gtest/gtest.h>

namespace sluice::server {
namespace {

using namespace std::chrono_literals;

TEST(LoginThrottleTest, BacksOffAfterFreeFailuresAndDoubles) {
  std::chrono::steady_clock::time_point now{};
  LoginThrottle t(3, [&] { return now; });
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(t.RetryAfterSeconds("user:a"), 0);
    t.Failed("user:a");
  }
  EXPECT_EQ(t.RetryAfterSeconds("user:a"), 0);  // three free failures
  t.Failed("user:a");
  EXPECT_EQ(t.RetryAfterSeconds("user:a"), 1);
  EXPECT_EQ(t.RetryAfterSeconds("user:b"), 0);  // per key
  now += 1s;
  EXPECT_EQ(t.RetryAfterSeconds("user:a"), 0);
  t.Failed("user:a");
  EXPECT_EQ(t.RetryAfterSeconds("user:a"), 2);
  now += 2s;
  t.Failed("user:a");
  EXPECT_EQ(t.RetryAfterSeconds("user:a"), 4);
  for (int i = 0; i < 30; ++i) t.Failed("user:a");
  EXPECT_EQ(t.RetryAfterSeconds("user:a"), 15 * 60);  // capped
  t.Succeeded("user:a");
  EXPECT_EQ(t.RetryAfterSeconds("user:a"), 0);
}

}  // namespace
}  // namespace sluice::server
