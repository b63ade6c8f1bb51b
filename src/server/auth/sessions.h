#pragma once
// Console sessions (design §11): `POST /api/login` makes one; the browser
// holds its id in an HttpOnly, SameSite=Strict cookie. Ids and CSRF tokens
// are 256 and 128 random bits from libsodium's CSPRNG. A session ends at
// logout or `ttl` after login (no sliding renewal: a stolen cookie is worth
// at most that long). Kept in memory: a restart logs everybody out.
//
// Thread-safe; the clock is injected for tests.

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "server/auth/roles.h"

namespace sluice::server {

struct Session {
  std::string id;
  std::string csrf;  // sent back in X-Sluice-CSRF with every mutation
  std::string user;
  Role role = Role::kNone;
  std::chrono::steady_clock::time_point expires;
};

class SessionStore {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit SessionStore(std::chrono::seconds ttl, Clock clock = std::chrono::steady_clock::now)
      : ttl_(ttl), clock_(std::move(clock)) {}

  Session Create(const std::string& user, Role role);
  // The live session with this id; nullopt when unknown or expired.
  std::optional<Session> Find(const std::string& id);
  void Remove(const std::string& id);
  std::chrono::seconds ttl() const { return ttl_; }

 private:
  const std::chrono::seconds ttl_;
  const Clock clock_;
  std::mutex mu_;
  // Keyed by the SHA-256 of the id: a lookup's timing says nothing about ids.
  std::map<std::string, Session> sessions_;  // under mu_
};

}  // namespace sluice::server
