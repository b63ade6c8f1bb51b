#include "server/auth/login_throttle.h"

#include <algorithm>

namespace sluice::server {

namespace {
constexpr auto kMaxBackoff = std::chrono::minutes(15);
constexpr auto kForgetAfter = std::chrono::hours(1);
constexpr size_t kMaxEntries = 100000;  // bounds memory under a spray of user names or addresses
}  // namespace

int64_t LoginThrottle::RetryAfterSeconds(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  auto now = clock_();
  if (now >= it->second.blocked_until) return 0;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(it->second.blocked_until - now).count();
  return std::max<int64_t>(1, (left + 999) / 1000);
}

void LoginThrottle::Failed(const std::string& key) {
  std::lock_guard lock(mu_);
  auto now = clock_();
  if (entries_.size() >= kMaxEntries) ForgetOld(now);
  Entry& e = entries_[key];
  ++e.failures;
  e.last = now;
  if (e.failures > free_failures_) {
    uint32_t doublings = std::min<uint32_t>(e.failures - free_failures_ - 1, 20);
    auto backoff = std::min<std::chrono::steady_clock::duration>(std::chrono::seconds(1) * (int64_t{1} << doublings),
                                                                 kMaxBackoff);
    e.blocked_until = now + backoff;
  }
}

void LoginThrottle::Succeeded(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

void LoginThrottle::ForgetOld(std::chrono::steady_clock::time_point now) {
  std::erase_if(entries_, [&](const auto& kv) { return now - kv.second.last > kForgetAfter; });
  // Still full (a flood within the hour): drop everything not blocked now.
  if (entries_.size() >= kMaxEntries) {
    std::erase_if(entries_, [&](const auto& kv) { return kv.second.blocked_until <= now; });
  }
}

}  // namespace sluice::server
