#include "sink/redis/redis_owner.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>
#include <vector>

#include "sink/process_owner.h"

namespace sluice::sink::redis {
namespace {

constexpr auto kKeeperTimeout = std::chrono::seconds(10);

// Keepers alive in this process per target: the last one lets go.
std::mutex keepers_mu;
std::map<std::string, int>& Keepers() {
  static std::map<std::string, int> keepers;
  return keepers;
}

std::string ConnectionName(const std::string& token, const SinkOptions& options) {
  return ClientName(fmt::format("sluice-owner:{}:{}:{}", token, options.pipeline, options.target));
}

// The connections named `name`; nullopt when this user may not list them.
Result<std::optional<std::vector<RedisClient>>> ClientsNamed(RedisConnection& c, const std::string& name) {
  ASSIGN_OR_RETURN(auto clients, c.Clients());
  if (clients) std::erase_if(*clients, [&](const RedisClient& client) { return client.name != name; });
  return clients;
}

// Closes a gone or frozen owner's connections, with whatever they had queued.
Status CloseConnections(RedisConnection& c, const std::vector<RedisClient>& clients, const std::string& who,
                        const SinkOptions& options) {
  for (const RedisClient& client : clients) {
    ASSIGN_OR_RETURN(RedisReply r, c.Command({"CLIENT", "KILL", "ID", client.id}));
    if (!r.is_error() || r.str.find("No such client") != std::string::npos) continue;
    return Status::Retryable(StatusCode::kServerError,
                             "pipeline {} target {}: closing connection {} of a sluice process that is gone or frozen "
                             "({}) before taking over: CLIENT KILL: {} (the target's user needs CLIENT KILL)",
                             options.pipeline, options.target, client.id, who, r.str);
  }
  return Status::Ok();
}

std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

}  // namespace

std::string OwnerKey(const std::string& pipeline, const std::string& target) {
  return fmt::format("_sluice:owner:{}:{}", pipeline, target);
}

Result<bool> NameOwnerConnection(RedisConnection& c, const SinkOptions& options) {
  ASSIGN_OR_RETURN(RedisReply r, c.Command({"CLIENT", "SETNAME", ConnectionName(ProcessToken(), options)}));
  if (!r.is_error()) return true;
  if (IsRetryableReplyError(r.str)) {
    return Status::Retryable(StatusCode::kServerError, "{}: CLIENT SETNAME: {}", c.endpoint().Describe(), r.str);
  }
  return false;  // NOPERM, or the command renamed away
}

OwnerKeeper::OwnerKeeper(RedisEndpoint endpoint, SinkOptions options)
    : endpoint_(std::move(endpoint)),
      options_(std::move(options)),
      users_key_(fmt::format("{} {}", endpoint_.Describe(), OwnerKey(options_.pipeline, options_.target))),
      pings_(OwnerPingInterval(options_.takeover_after_ms), [this] {
        if (Status st = Hold(); !st.ok()) {
          spdlog::debug("pipeline {} target {}: owner connection: {}", options_.pipeline, options_.target,
                        st.message());
        }
      }) {
  std::lock_guard lock(keepers_mu);
  ++Keepers()[users_key_];
}

Status OwnerKeeper::Hold() {
  std::lock_guard lock(mu_);
  if (!conn_ || conn_->broken()) {
    conn_.reset();
    auto c = RedisConnection::Connect(endpoint_, kKeeperTimeout, options_.interrupt);
    if (!c.ok()) return c.status();
    RETURN_IF_ERROR(NameOwnerConnection(**c, options_).status());
    conn_ = std::move(c).value();
  }
  return conn_->Checked({"PING"}).status();
}

Result<bool> TakeOwnership(RedisConnection& c, bool named, OwnerKeeper& keeper, const SinkOptions& options) {
  // This process's life on the server: the keeper's named connection.
  RETURN_IF_ERROR(keeper.Hold());
  const std::string key = OwnerKey(options.pipeline, options.target);
  const std::string& mine = ProcessToken();
  for (int attempt = 0;; ++attempt) {
    RETURN_IF_ERROR(c.Checked({"WATCH", key}).status());
    ASSIGN_OR_RETURN(RedisReply seen, c.Checked({"HMGET", key, "token", "who", "host", "pid", "since", "named"}));
    auto field = [&](size_t i) {
      return i < seen.elements.size() && seen.elements[i].type == RedisReply::Type::kString ? seen.elements[i].str
                                                                                            : std::string();
    };
    const std::string token = field(0), who = field(1).empty() ? "?" : field(1);
    if (token == mine) {
      (void)c.Checked({"UNWATCH"});
      return false;
    }
    const std::string name = ConnectionName(token, options);
    const bool owner_named = field(5) == "1";
    std::optional<std::vector<RedisClient>> former;  // its connections, when they can be listed
    std::string gone;                           // why the owner on record counts as gone
    if (!token.empty() && owner_named) {
      ASSIGN_OR_RETURN(former, ClientsNamed(c, name));
      if (former && former->empty()) {
        gone = "its connections to the target are gone";
      } else if (former) {
        uint64_t idle = former->front().idle_seconds;
        for (const RedisClient& client : *former) idle = std::min(idle, client.idle_seconds);
        if (options.takeover_after_ms > 0 && idle * 1000 >= options.takeover_after_ms) {
          gone =
              fmt::format("its connections have been idle for {} s, past takeover_after: a host gone or frozen", idle);
        }
      }
    }
    if (!token.empty() && gone.empty() && GoneFromThisHost(field(2), field(3))) {
      gone = "its process on this host no longer runs";
    }
    if (!token.empty() && gone.empty()) {
      (void)c.Checked({"UNWATCH"});
      std::string seen_as, then;
      if (former) {
        seen_as = fmt::format("connection {} from {}", former->front().id, former->front().addr);
        then = options.takeover_after_ms > 0
                   ? fmt::format(
                         ", or once its connections have been idle for takeover_after ({} s: a host gone or "
                         "frozen)",
                         options.takeover_after_ms / 1000.0)
                   : fmt::format(
                         ". With takeover_after: never, a host gone without closing its connections leaves "
                         "them until Redis drops them (timeout, tcp-keepalive): CLIENT KILL ID {} ends one",
                         former->front().id);
      } else {
        seen_as = owner_named ? "CLIENT LIST is not allowed to this user"
                              : "its connections carry no name: CLIENT SETNAME is not allowed to its user";
        then =
            fmt::format(". Whether it lives cannot be told: once it is gone, DEL {} on the target ends the wait", key);
      }
      return Status::Retryable(StatusCode::kAborted,
                               "pipeline {} target {}: another sluice process ({}, {}, since {}) applies this "
                               "pipeline to this target; this one waits for it to stop, then takes over (two would "
                               "apply every change twice){}",
                               options.pipeline, options.target, who, seen_as, field(4), then);
    }
    // A frozen owner's connections first: what they had queued goes with them.
    if (former) RETURN_IF_ERROR(CloseConnections(c, *former, who, options));
    c.Append({"MULTI"});
    c.Append({"DEL", key});
    c.Append({"HSET", key, "token", mine, "who", ProcessDescription(), "host", ProcessHost(), "pid",
              std::to_string(::getpid()), "since", UtcNow(), "named", named ? "1" : "0"});
    c.Append({"EXEC"});
    RedisReply exec;
    for (int i = 0; i < 4; ++i) {
      ASSIGN_OR_RETURN(exec, c.Read());
      if (exec.is_error()) {
        Status st = Status::Error(StatusCode::kServerError, "pipeline {} target {}: recording the owner in {}: {}",
                                  options.pipeline, options.target, key, exec.str);
        return IsRetryableReplyError(exec.str) ? Status::Retryable(st.code(), "{}", st.message()) : st;
      }
    }
    if (exec.type != RedisReply::Type::kArray) {  // the record changed since it was read: look again
      if (attempt >= 100) {
        return Status::Retryable(StatusCode::kAborted, "pipeline {} target {}: {} keeps changing", options.pipeline,
                                 options.target, key);
      }
      continue;
    }
    if (token.empty()) return false;
    // One the former owner opened since the look above.
    if (former) {
      ASSIGN_OR_RETURN(auto opened, ClientsNamed(c, name));
      if (opened) RETURN_IF_ERROR(CloseConnections(c, *opened, who, options));
    }
    spdlog::info("pipeline {} target {}: taking over from a sluice process that is gone ({}: {})", options.pipeline,
                 options.target, who, gone);
    return true;
  }
}

Status LostOwnership(RedisConnection& c, const SinkOptions& options) {
  auto token = c.Checked({"HGET", OwnerKey(options.pipeline, options.target), "token"});
  if (!token.ok()) return token.status();
  bool gone = token->type != RedisReply::Type::kString;
  if (!gone && token->str == ProcessToken()) {
    // Recorded again by another sink of this process (the record had gone): still this process's.
    return Status::Retryable(StatusCode::kAborted, "pipeline {} target {}: the owner record {} changed meanwhile",
                             options.pipeline, options.target, OwnerKey(options.pipeline, options.target));
  }
  return Status::Retryable(StatusCode::kAborted,
                           "pipeline {} target {}: {}; nothing more is written until this process owns it again",
                           options.pipeline, options.target,
                           gone ? fmt::format("the record of who applies this pipeline here ({}) is gone",
                                              OwnerKey(options.pipeline, options.target))
                                : "another sluice process took this target over");
}

namespace {

// The owner key goes when it names this process.
void LetGo(RedisConnection& c, const SinkOptions& options) {
  const std::string key = OwnerKey(options.pipeline, options.target);
  if (!c.Checked({"WATCH", key}).ok()) return;
  auto token = c.Checked({"HGET", key, "token"});
  if (!token.ok() || token->str != ProcessToken()) {
    (void)c.Checked({"UNWATCH"});
    return;
  }
  c.Append({"MULTI"});
  c.Append({"DEL", key});
  c.Append({"EXEC"});
  for (int i = 0; i < 3; ++i) {
    if (!c.Read().ok()) return;
  }
}

}  // namespace

OwnerKeeper::~OwnerKeeper() {
  {
    std::lock_guard lock(keepers_mu);
    if (--Keepers()[users_key_] > 0) return;
    Keepers().erase(users_key_);
  }
  std::lock_guard lock(mu_);
  if (conn_ && !conn_->broken()) LetGo(*conn_, options_);
}

}  // namespace sluice::sink::redis
