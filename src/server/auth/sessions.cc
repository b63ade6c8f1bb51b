#include "server/auth/sessions.h"

#include "server/crypto.h"

namespace sluice::server {

namespace {
constexpr size_t kMaxSessions = 10000;
}

Session SessionStore::Create(const std::string& user, Role role) {
  Session s{RandomHex(32), RandomHex(16), user, role, clock_() + ttl_};
  std::lock_guard lock(mu_);
  auto now = clock_();
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.expires <= now; });
  if (sessions_.size() >= kMaxSessions) {
    // Logins faster than sessions expire: drop the one closest to its end.
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.expires < oldest->second.expires) oldest = it;
    }
    sessions_.erase(oldest);
  }
  sessions_[Sha256Hex(s.id)] = s;
  return s;
}

std::optional<Session> SessionStore::Find(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(Sha256Hex(id));
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires <= clock_()) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void SessionStore::Remove(const std::string& id) {
  std::lock_guard lock(mu_);
  sessions_.erase(Sha256Hex(id));
}

}  // namespace sluice::server
