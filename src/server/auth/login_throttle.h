#pragma once
// Throttles failed logins (design §11) per key: "user:NAME" and
// "addr:IP". A key may fail `free_failures` times in a row; each further
// failure blocks it for a backoff that doubles (1 s, 2 s, 4 s, ... up to
// 15 min). A success clears the key; a key unused for an hour is forgotten.
// While blocked, every attempt is refused (429) without checking the
// password, right or wrong: guessing gains nothing by hammering.
//
// Thread-safe. The clock is injected so that tests need no sleeps.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace sluice::server {

class LoginThrottle {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit LoginThrottle(uint32_t free_failures, Clock clock = std::chrono::steady_clock::now)
      : free_failures_(free_failures), clock_(std::move(clock)) {}

  // 0 when `key` may try now, else the seconds until it may (at least 1).
  int64_t RetryAfterSeconds(const std::string& key);
  void Failed(const std::string& key);
  void Succeeded(const std::string& key);

 private:
  struct Entry {
    uint32_t failures = 0;
    std::chrono::steady_clock::time_point blocked_until{};
    std::chrono::steady_clock::time_point last{};
  };
  void ForgetOld(std::chrono::steady_clock::time_point now);  // under mu_

  const uint32_t free_failures_;
  const Clock clock_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // under mu_
};

}  // namespace sluice::server
