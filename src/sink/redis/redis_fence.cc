#include "sink/redis/redis_fence.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "sink/fence.h"

namespace sluice::sink::redis {
namespace {

constexpr std::string_view kNamePrefix = "sluice-fence:e";

Result<uint64_t> ReadFence(RedisConnection& conn, const std::string& key) {
  ASSIGN_OR_RETURN(RedisReply r, conn.Checked({"GET", key}));
  return r.type == RedisReply::Type::kString ? std::strtoull(r.str.c_str(), nullptr, 10) : 0;
}

}  // namespace

std::string FenceKey(const std::string& pipeline) { return "_sluice:fence:" + pipeline; }

Status JoinFence(RedisConnection& conn, const SinkOptions& options) {
  RETURN_IF_ERROR(conn.Checked({"CLIENT", "SETNAME",
                                fmt::format("{}{}:{}", kNamePrefix, options.epoch, ClientName(options.pipeline))})
                      .status());
  ASSIGN_OR_RETURN(uint64_t fence, ReadFence(conn, FenceKey(options.pipeline)));
  if (fence > options.epoch) return FencedError(options, fence, "the key " + FenceKey(options.pipeline));
  return Status::Ok();
}

Status RaiseFence(RedisConnection& conn, const SinkOptions& options) {
  const std::string key = FenceKey(options.pipeline);
  for (int attempt = 0;; ++attempt) {
    RETURN_IF_ERROR(conn.Checked({"WATCH", key}).status());
    ASSIGN_OR_RETURN(uint64_t fence, ReadFence(conn, key));
    if (fence > options.epoch) {
      (void)conn.Checked({"UNWATCH"});
      return FencedError(options, fence, "the key " + key);
    }
    conn.Append({"MULTI"});
    conn.Append({"SET", key, std::to_string(options.epoch)});
    conn.Append({"EXEC"});
    RedisReply exec;
    for (int i = 0; i < 3; ++i) {
      ASSIGN_OR_RETURN(RedisReply r, conn.Read());
      if (r.is_error()) return Status::Error(StatusCode::kServerError, "raising {}: {}", key, r.str);
      exec = std::move(r);
    }
    if (exec.type == RedisReply::Type::kArray) break;
    // Another owner raised it meanwhile: look again.
    if (attempt >= 100) return Status::Retryable(StatusCode::kAborted, "raising {}: it keeps changing", key);
  }
  // Connections of former owners: killed, with whatever they had queued.
  ASSIGN_OR_RETURN(auto clients, conn.Clients());
  if (!clients) {
    return Status::Error(StatusCode::kServerError, "{}: CLIENT LIST is not allowed to this user (fencing needs it)",
                         conn.endpoint().Describe());
  }
  const std::string suffix = ":" + ClientName(options.pipeline);
  for (const RedisClient& client : *clients) {
    const std::string& name = client.name;
    if (!name.starts_with(kNamePrefix) || !name.ends_with(suffix)) continue;
    std::string epoch = name.substr(kNamePrefix.size(), name.size() - kNamePrefix.size() - suffix.size());
    if (epoch.empty() || epoch.find_first_not_of("0123456789") != std::string::npos) continue;
    if (std::strtoull(epoch.c_str(), nullptr, 10) >= options.epoch) continue;
    auto killed = conn.Command({"CLIENT", "KILL", "ID", client.id});
    if (!killed.ok()) return killed.status();
    spdlog::info("pipeline {} target {}: closed connection {} of epoch {} (epoch {} takes over)", options.pipeline,
                 options.target, client.id, epoch, options.epoch);
  }
  return Status::Ok();
}

Status FencedExec(RedisConnection& conn, const SinkOptions& options) {
  auto fence = ReadFence(conn, FenceKey(options.pipeline));
  return FencedError(options, fence.ok() ? *fence : 0, "the key " + FenceKey(options.pipeline));
}

}  // namespace sluice::sink::redis
