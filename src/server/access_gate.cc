#include "server/access_gate.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "server/audit/audit_query.h"
#include "server/auth/password.h"
#include "server/crypto.h"

namespace sluice::server {

namespace {

using Json = nlohmann::ordered_json;
using server::HttpRequest;
using server::HttpResponse;
using server::JsonError;

constexpr auto kBasicCacheTtl = std::chrono::seconds(60);
constexpr size_t kMaxBasicCache = 1000;

bool IsRead(std::string_view method) { return method == "GET" || method == "HEAD" || method == "OPTIONS"; }

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

// The value of cookie `name` in a Cookie header, "" when absent.
std::string CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view item = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name) return std::string(item.substr(eq + 1));
  }
  return "";
}

// "https://host:port" -> "host:port"; "" when not an origin.
std::string_view OriginHost(std::string_view origin) {
  size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos) return {};
  return origin.substr(scheme + 3);
}

// A browser's cross-site request carries an Origin naming the other site.
bool CrossOrigin(const HttpRequest& r) {
  std::string_view origin = r.Header("origin");
  if (origin.empty()) return false;
  return OriginHost(origin) != r.Header("host");
}

std::string FirstError(const HttpResponse& r) {
  Json j = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  return "";
}

const std::vector<pipeline::AuthToken> kNoTokens;

// The configured user named `name`; null when there is none (or no auth).
const pipeline::AuthUser* FindUser(const pipeline::AuthConfig* auth, std::string_view name) {
  if (auth == nullptr) return nullptr;
  for (const pipeline::AuthUser& u : auth->users) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

}  // namespace

AccessGate::AccessGate(Options options)
    : options_(std::move(options)),
      user_throttle_(options_.free_failures_per_user, options_.clock),
      address_throttle_(options_.free_failures_per_address, options_.clock),
      sessions_(options_.session_ttl, options_.clock),
      cache_salt_(RandomHex(32)) {
  SetAuth(options_.auth);
}

void AccessGate::SetAuth(std::optional<pipeline::AuthConfig> auth) {
  std::shared_ptr<const pipeline::AuthConfig> next =
      auth ? std::make_shared<const pipeline::AuthConfig>(std::move(*auth)) : nullptr;
  std::string dummy;
  if (next && !next->users.empty()) {
    std::lock_guard lock(auth_mu_);
    dummy = dummy_hash_;
  }
  if (next && !next->users.empty() && dummy.empty()) {
    Result<std::string> made = HashPassword(RandomHex(16));
    if (made.ok()) dummy = *made;
  }
  {
    std::lock_guard lock(auth_mu_);
    auth_ = std::move(next);
    if (!dummy.empty()) dummy_hash_ = dummy;
  }
  // A cached Basic check may name a user or role that is gone.
  std::lock_guard lock(cache_mu_);
  basic_cache_.clear();
}

std::shared_ptr<const pipeline::AuthConfig> AccessGate::Auth() const {
  std::lock_guard lock(auth_mu_);
  return auth_;
}

std::string AccessGate::CookieName(bool tls) const {
  // The __Host- prefix makes browsers insist on Secure, Path=/ and no Domain.
  return tls ? "__Host-sluice_session" : "sluice_session";
}

void AccessGate::Audit(AuditRecord record) {
  if (options_.audit == nullptr) return;
  Status st = options_.audit->Append(record);
  if (!st.ok()) spdlog::error("{} (action {} by {})", st.message(), record.action, record.who);
}

std::variant<AccessGate::Identity, AccessGate::Refusal> AccessGate::CheckPassword(const std::string& user,
                                                                                    const std::string& password,
                                                                                    const std::string& address) {
  const std::string user_key = "user:" + user, address_key = "addr:" + address;
  int64_t wait = std::max(user_throttle_.RetryAfterSeconds(user_key), address_throttle_.RetryAfterSeconds(address_key));
  if (wait > 0) {
    return Refusal{429, fmt::format("too many failed logins; try again in {} s", wait), user, wait};
  }
  const std::string cache_key = Sha256Hex(cache_salt_ + user + '\0' + password);
  auto now = options_.clock();
  {
    std::lock_guard lock(cache_mu_);
    auto it = basic_cache_.find(cache_key);
    if (it != basic_cache_.end() && it->second.second > now) return it->second.first;
  }
  std::shared_ptr<const pipeline::AuthConfig> auth = Auth();
  const pipeline::AuthUser* found = FindUser(auth.get(), user);
  std::string dummy;
  {
    std::lock_guard lock(auth_mu_);
    dummy = dummy_hash_;
  }
  bool ok;
  {
    hashing_.acquire();
    ok = VerifyPassword(found ? found->password_hash : dummy, password) && found != nullptr;
    hashing_.release();
  }
  if (!ok) {
    user_throttle_.Failed(user_key);
    address_throttle_.Failed(address_key);
    return Refusal{401, "wrong user name or password", user};
  }
  user_throttle_.Succeeded(user_key);
  address_throttle_.Succeeded(address_key);
  Identity id{user, ParseRole(found->role).value_or(Role::kNone)};
  std::lock_guard lock(cache_mu_);
  if (basic_cache_.size() >= kMaxBasicCache) basic_cache_.clear();
  basic_cache_[cache_key] = {id, now + kBasicCacheTtl};
  return id;
}

std::variant<AccessGate::Identity, AccessGate::Refusal> AccessGate::Authenticate(const HttpRequest& r) {
  const std::string address(r.remote_addr);
  std::string_view authorization = r.Header("authorization");
  if (authorization.starts_with("Basic ") || authorization.starts_with("basic ")) {
    std::optional<std::string> decoded = Base64Decode(authorization.substr(6));
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) return Refusal{401, "malformed Basic credentials"};
    return CheckPassword(decoded->substr(0, colon), decoded->substr(colon + 1), address);
  }
  if (authorization.starts_with("Bearer ") || authorization.starts_with("bearer ")) {
    const std::string address_key = "addr:" + address;
    if (int64_t wait = address_throttle_.RetryAfterSeconds(address_key); wait > 0) {
      return Refusal{429, fmt::format("too many failed logins; try again in {} s", wait), "", wait};
    }
    std::string_view token = authorization.substr(7);
    std::shared_ptr<const pipeline::AuthConfig> auth = Auth();
    const pipeline::AuthToken* found = nullptr;
    for (const pipeline::AuthToken& t : auth ? auth->tokens : kNoTokens) {
      if (SecretEquals(t.token, token)) found = &t;  // every token compared: no early exit
    }
    if (found == nullptr) {
      address_throttle_.Failed(address_key);
      return Refusal{401, "unknown token"};
    }
    return Identity{found->name, ParseRole(found->role).value_or(Role::kNone)};
  }
  if (!authorization.empty()) return Refusal{401, "unsupported Authorization scheme; use Basic or Bearer"};
  std::string cookie = CookieValue(r.Header("cookie"), CookieName(r.tls));
  if (!cookie.empty()) {
    std::optional<Session> s = sessions_.Find(cookie);
    if (!s) return Refusal{401, "session expired or unknown; log in again"};
    // The user as the configuration lists it now: removed, the session ends.
    std::shared_ptr<const pipeline::AuthConfig> auth = Auth();
    const pipeline::AuthUser* user = FindUser(auth.get(), s->user);
    if (user == nullptr) {
      sessions_.Remove(s->id);
      return Refusal{401, "session ended: the user is no longer configured", s->user};
    }
    return Identity{s->user, ParseRole(user->role).value_or(Role::kNone), true, s->id, s->csrf};
  }
  return Refusal{401, "authentication required: HTTP Basic, a bearer token or a session (POST /api/login)"};
}

HttpResponse AccessGate::Refuse(const HttpRequest& r, const std::vector<std::string>& segments,
                                const Refusal& refusal) {
  Audit({refusal.who, refusal.role == Role::kNone ? "" : RoleName(refusal.role), AuditAction(r.method, segments),
         AuditObject(segments), nullptr, nullptr,
         fmt::format("refused: {} {}", refusal.status, refusal.message)});
  HttpResponse res = JsonError(refusal.status, refusal.message);
  // The console's requests (X-Requested-With) get no Basic challenge: a
  // browser would answer it with its own password dialog (or, headless,
  // hold the request) instead of letting the console show its login page.
  if (refusal.status == 401 && r.Header("cookie").empty() && r.Header("x-requested-with").empty()) {
    res.headers.emplace_back("WWW-Authenticate", "Basic realm=\"sluice\", charset=\"UTF-8\"");
  }
  if (refusal.retry_after > 0) res.headers.emplace_back("Retry-After", std::to_string(refusal.retry_after));
  return res;
}

HttpResponse AccessGate::Login(const HttpRequest& r) {
  const std::vector<std::string> segments{"api", "login"};
  if (CrossOrigin(r)) {
    Audit({"", "", "login", "", nullptr, nullptr, "refused: 403 cross-origin login"});
    return JsonError(403, "cross-origin login refused");
  }
  Json body = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("user") || !body["user"].is_string() || !body.contains("password") ||
      !body["password"].is_string()) {
    return JsonError(400, R"(expected {"user": "...", "password": "..."})");
  }
  const std::string user = body["user"].get<std::string>();
  auto checked = CheckPassword(user, body["password"].get<std::string>(), std::string(r.remote_addr));
  if (auto* refusal = std::get_if<Refusal>(&checked)) {
    Audit({user, "", "login", "user/" + user, nullptr, nullptr,
           fmt::format("failed: {} {}", refusal->status, refusal->message)});
    HttpResponse res = JsonError(refusal->status, refusal->message);
    if (refusal->retry_after > 0) res.headers.emplace_back("Retry-After", std::to_string(refusal->retry_after));
    return res;
  }
  const Identity& id = std::get<Identity>(checked);
  Session s = sessions_.Create(id.who, id.role);
  Audit({id.who, RoleName(id.role), "login", "user/" + id.who, nullptr, nullptr, "ok"});
  Json out;
  out["user"] = s.user;
  out["role"] = RoleName(s.role);
  out["csrf_token"] = s.csrf;
  out["expires_in_s"] = sessions_.ttl().count();
  HttpResponse res{200, "application/json", out.dump(), {}};
  res.headers.emplace_back(
      "Set-Cookie", fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", CookieName(r.tls), s.id,
                                sessions_.ttl().count(), r.tls ? "; Secure" : ""));
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

HttpResponse AccessGate::Logout(const HttpRequest& r, const Identity& id) {
  if (id.session) sessions_.Remove(id.session_id);
  Audit({id.who, RoleName(id.role), "logout", "user/" + id.who, nullptr, nullptr, "ok"});
  HttpResponse res{200, "application/json", R"({"logged_out":true})", {}};
  res.headers.emplace_back("Set-Cookie", fmt::format("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
                                                     CookieName(r.tls), r.tls ? "; Secure" : ""));
  return res;
}

HttpResponse AccessGate::Handle(const HttpRequest& r, const server::HttpHandler& next) {
  std::string_view path = PathOf(r.target);
  std::optional<std::vector<std::string>> parsed =
      path.starts_with('/') ? server::PathSegments(path) : std::nullopt;
  if (!parsed) return next(r.method, r.target, r.body);  // the API answers 400 for a malformed target
  const std::vector<std::string>& s = *parsed;
  const bool login = s.size() == 2 && s[0] == "api" && s[1] == "login";
  const bool logout = s.size() == 2 && s[0] == "api" && s[1] == "logout";
  const bool auth = Auth() != nullptr;
  if ((login || logout) && r.method != "POST") {
    HttpResponse res = JsonError(405, fmt::format("method {} not allowed on {}; use POST", r.method, path));
    res.headers.emplace_back("Allow", "POST");
    return res;
  }
  if (login) {
    if (!auth) return JsonError(404, "no auth: section in the configuration: there is nothing to log in to");
    return Login(r);
  }

  Identity id{"anonymous", Role::kAdmin};
  if (auth && !IsPublicRoute(r.method, s)) {
    auto authenticated = Authenticate(r);
    if (auto* refusal = std::get_if<Refusal>(&authenticated)) return Refuse(r, s, *refusal);
    id = std::get<Identity>(authenticated);
    if (id.session && !IsRead(r.method)) {
      std::string_view csrf = r.Header("x-sluice-csrf");
      if (csrf.empty() || !SecretEquals(csrf, id.csrf) || CrossOrigin(r)) {
        return Refuse(r, s, {403, "missing or wrong X-Sluice-CSRF header (the csrf_token from POST /api/login)",
                             id.who, 0, id.role});
      }
    }
    Role needed = logout ? Role::kViewer : RequiredRole(r.method, s);
    if (id.role < needed) {
      return Refuse(r, s, {403, fmt::format("{} {} needs role {}; {} has role {}", r.method, path, RoleName(needed),
                                            id.who, RoleName(id.role)),
                           id.who, 0, id.role});
    }
  }
  if (logout) {
    if (!auth) return JsonError(404, "no auth: section in the configuration: there is nothing to log out of");
    return Logout(r, id);
  }
  const bool get = r.method == "GET" || r.method == "HEAD";
  if (get && s.size() == 2 && s[0] == "api" && s[1] == "whoami") {
    Json j;
    j["user"] = id.who;
    j["role"] = RoleName(id.role);
    j["mode"] = options_.mode;
    return {200, "application/json", j.dump(), {}};
  }
  if (get && s.size() == 2 && s[0] == "api" && s[1] == "audit") return AuditLines(r.target);
  if (IsRead(r.method)) return next(r.method, r.target, r.body);  // reads that succeed are not audited

  const std::string object = AuditObject(s);
  const bool describe = options_.audit && options_.describe && !object.empty();
  Json before = describe ? options_.describe(object) : Json(nullptr);
  HttpResponse res = next(r.method, r.target, r.body);
  Json after = describe ? options_.describe(object) : Json(nullptr);
  std::string result = res.status < 300 ? "ok" : fmt::format("failed: {} {}", res.status, FirstError(res));
  Audit({id.who, auth ? RoleName(id.role) : "", AuditAction(r.method, s), object, std::move(before),
         std::move(after), std::move(result)});
  return res;
}

HttpResponse AccessGate::AuditLines(std::string_view target) {
  if (options_.audit == nullptr) return JsonError(404, "no audit: section in the configuration: the audit trail is off");
  const size_t q = target.find('?');
  const std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  bool bad = false;
  AuditQuery aq;
  aq.who = QueryParam(query, "who", bad).value_or("");
  aq.action = QueryParam(query, "action", bad).value_or("");
  aq.object = QueryParam(query, "object", bad).value_or("");
  std::optional<std::string> limit = QueryParam(query, "limit", bad);
  if (bad) return JsonError(400, "malformed query string: bad percent escape");
  if (limit) {
    size_t n = 0;
    auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
    if (limit->empty() || ec != std::errc() || end != limit->data() + limit->size() || n == 0) {
      return JsonError(400, fmt::format("limit: \"{}\" is not a positive number", *limit));
    }
    aq.limit = n;
  }
  Result<Json> lines = QueryAudit(options_.audit->dir(), aq);
  if (!lines.ok()) return JsonError(500, lines.status().message());
  return {200, "application/json", lines->dump(), {}};
}

AccessGate::Describe DescribePipelines(pipeline::PipelineController& controller) {
  return [&controller](const std::string& object) -> Json {
    if (!object.starts_with("pipeline/")) return nullptr;
    Result<pipeline::PipelineStatus> p = controller.GetPipeline(object.substr(9));
    if (!p.ok()) return nullptr;
    Json j;
    j["state"] = pipeline::PipelineStateName(p->state);
    j["source_position"] = p->source_position;
    j["applied_position"] = p->applied_position;
    return j;
  };
}

}  // namespace sluice::server
