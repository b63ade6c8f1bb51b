#pragma once
// Access control and audit in front of an HTTP API (design §11): the gate
// of server::HttpServer for `sluice run` (and the manager, same rules).
//
// With `auth:` every request needs credentials, except /healthz, the login
// page, the console's static assets and POST /api/login (roles.h):
//   - HTTP Basic (a user and password of auth.users),
//   - `Authorization: Bearer TOKEN` (auth.tokens),
//   - the session cookie from `POST /api/login {"user","password"}`
//     (answer {"user","role","csrf_token","expires_in_s"}; cookie HttpOnly,
//     SameSite=Strict, Path=/, and Secure with the __Host- prefix over
//     HTTPS). Mutations with a cookie must send `X-Sluice-CSRF: csrf_token`
//     (a cross-site page cannot read it) and, when the browser sends Origin,
//     come from the same origin; Basic and bearer need neither (a browser
//     never adds them to a cross-site request on its own... except cached
//     Basic credentials, which is why the console uses the cookie).
//   `POST /api/logout` ends the cookie's session.
// The gate also answers, for any authenticated role:
//   GET /api/whoami   {"user","role","mode"} (without auth: "anonymous", "admin")
//   GET /api/audit?who=&action=&object=&limit=   the trail, newest first (audit/audit_query.h);
//                     404 without `audit:`
// 401 without or with wrong credentials (with WWW-Authenticate: Basic);
// 403 for a role too low or a failed CSRF check; 429 (Retry-After) while
// the user name or the client address is throttled (login_throttle.h).
//
// Audit (with `audit:`): every request that is not a successful read is
// one line: mutations (with the object's state before and after, when the
// `describe` callback knows the object), logins ok or failed, logouts and
// every refused request. Without `auth:` mutations are still audited, by
// "anonymous".
//
// Threading: Handle runs on the server's worker threads concurrently; the
// gate's state (sessions, throttles, the Basic cache) is locked inside.
// The gate must outlive the server it is set on.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/config.h"
#include "pipeline/controller.h"
#include "server/http_server.h"
#include "server/audit/audit_log.h"
#include "server/auth/login_throttle.h"
#include "server/auth/roles.h"
#include "server/auth/sessions.h"

namespace sluice::server {

class AccessGate {
 public:
  // The state of an object ("pipeline/orders") for the audit's before and
  // after; null when unknown.
  using Describe = std::function<nlohmann::ordered_json(const std::string& object)>;
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  struct Options {
    std::optional<pipeline::AuthConfig> auth;  // none: no access control
    AuditLog* audit = nullptr;                 // none: no audit trail
    Describe describe;
    std::string mode = "run";  // what /api/whoami says serves: "run" | "manager" | "node"
    std::chrono::seconds session_ttl = std::chrono::hours(8);
    uint32_t free_failures_per_user = 5;
    uint32_t free_failures_per_address = 20;
    Clock clock = std::chrono::steady_clock::now;
  };
  explicit AccessGate(Options options);

  server::HttpResponse Handle(const server::HttpRequest& request, const server::HttpHandler& next);
  // Replaces the users and tokens (a new configuration revision): requests
  // from then on are checked against `auth`; sessions of users no longer
  // listed end, and a session's role follows its user's. Turning access
  // control on or off is not done here (the listen address decides that).
  void SetAuth(std::optional<pipeline::AuthConfig> auth);
  bool HasAuth() const { return Auth() != nullptr; }

  // For HttpServer::SetGate / HttpApi::SetGate.
  server::HttpGate AsGate() {
    return [this](const server::HttpRequest& r, const server::HttpHandler& next) { return Handle(r, next); };
  }

 private:
  struct Identity {
    std::string who;
    Role role = Role::kNone;
    bool session = false;  // by cookie: mutations need the CSRF header
    std::string session_id;
    std::string csrf;
  };
  struct Refusal {
    int status;
    std::string message;
    std::string who;  // the attempted user, when known
    int64_t retry_after = 0;
    Role role = Role::kNone;  // the caller's, when it authenticated (a 403)
  };

  std::variant<Identity, Refusal> Authenticate(const server::HttpRequest& request);
  std::variant<Identity, Refusal> CheckPassword(const std::string& user, const std::string& password,
                                                const std::string& address);
  server::HttpResponse Login(const server::HttpRequest& request);
  server::HttpResponse Logout(const server::HttpRequest& request, const Identity& id);
  server::HttpResponse Refuse(const server::HttpRequest& request, const std::vector<std::string>& segments,
                                const Refusal& refusal);
  void Audit(AuditRecord record);
  server::HttpResponse AuditLines(std::string_view target);
  std::shared_ptr<const pipeline::AuthConfig> Auth() const;
  std::string CookieName(bool tls) const;

  Options options_;  // options_.auth is the initial auth_
  mutable std::mutex auth_mu_;
  std::shared_ptr<const pipeline::AuthConfig> auth_;  // under auth_mu_; null: no access control
  LoginThrottle user_throttle_;
  LoginThrottle address_throttle_;
  SessionStore sessions_;
  std::string dummy_hash_;  // verified against for unknown users, so that timing does not tell who exists
  // Basic credentials verified recently: argon2id costs 64 MiB and ~0.1 s,
  // too much for every request of a script. Keyed by a salted SHA-256 of
  // user and password (the salt is random per process), value the expiry.
  std::string cache_salt_;
  std::mutex cache_mu_;
  std::unordered_map<std::string, std::pair<Identity, std::chrono::steady_clock::time_point>> basic_cache_;
  // At most this many argon2id verifications at once (memory: 64 MiB each).
  std::counting_semaphore<4> hashing_{4};
};

// A Describe for `sluice run`'s pipelines: "pipeline/NAME" ->
// {"state","source_position","applied_position"}. `controller` must outlive it.
AccessGate::Describe DescribePipelines(pipeline::PipelineController& controller);

}  // namespace sluice::server
