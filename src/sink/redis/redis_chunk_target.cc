#include "sink/redis/redis_chunk_target.h"
#include "core/resume_position.h"
#include "sink/redis/redis_fence.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/position.h"
#include "sink/redis/redis_sink.h"
#include "sink/skip_log.h"

namespace sluice::sink::redis {
namespace {

constexpr std::chrono::seconds kCommandTimeout{30};

// Records the start position unless the checkpoint has one; returns the
// resume position in effect. One script, so no stream batch slips between
// the test and the write.
constexpr const char* kEnsureStartScript = R"lua(
if redis.call('HEXISTS', KEYS[1], 'position') == 0 then
  redis.call('HSET', KEYS[1], 'position', ARGV[1], 'resume_position', ARGV[2], 'gtid_state', '')
end
return redis.call('HGET', KEYS[1], 'resume_position')
)lua";

std::string PlanPrefix(const std::string& table, const std::string& shard) {
  return table + "\n" + ShardKey(shard) + "\n";
}

std::string PlanField(const ChunkRecord& c) { return PlanPrefix(c.table, c.shard) + std::to_string(c.chunk); }

std::string PlanValue(const ChunkRecord& c) {
  nlohmann::json v = {{"after", c.after}, {"upto", c.upto}, {"done", c.done}, {"rows", c.rows}};
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status ReplyError(const std::string& what, const std::string& error) {
  return IsRetryableReplyError(error) ? Status::Retryable(StatusCode::kServerError, "{}: {}", what, error)
                                      : Status::Error(StatusCode::kServerError, "{}: {}", what, error);
}

}  // namespace

std::string RedisChunkTarget::PlanKey(const std::string& pipeline, const std::string& target) {
  return fmt::format("_sluice:snapshot:{}:{}", pipeline, target);
}

Result<std::unique_ptr<RedisChunkTarget>> RedisChunkTarget::Open(const SinkOptions& options) {
  auto fail = [&](const Status& st) {
    return Status::Invalid("pipeline {} target {}: {}", options.pipeline, options.target, st.message());
  };
  auto endpoint = RedisEndpoint::FromUrl(options.url);
  if (!endpoint.ok()) return fail(endpoint.status());
  auto builder = CommandBuilder::Make(options.mode, options.key, options.pipeline);
  if (!builder.ok()) return fail(builder.status());
  std::unique_ptr<RedisChunkTarget> t(
      new RedisChunkTarget(options, std::move(endpoint).value(), std::move(builder).value()));
  RETURN_IF_ERROR(t->EnsureConnected());
  return t;
}

Status RedisChunkTarget::EnsureConnected() {
  if (conn_ && !conn_->broken()) return Status::Ok();
  conn_.reset();
  watching_ = false;
  auto c = RedisConnection::Connect(endpoint_, kCommandTimeout, options_.interrupt);
  if (!c.ok()) return c.status().WithContext(fmt::format("pipeline {} target {}", options_.pipeline, options_.target));
  conn_ = std::move(c).value();
  // Cluster mode: a connection of a former owner is closed by its successor,
  // and one opened later finds the fence raised (redis_fence.h).
  if (options_.epoch > 0) {
    Status st = JoinFence(*conn_, options_);
    if (!st.ok()) conn_.reset();
    return st;
  }
  return Status::Ok();
}

Result<RedisReply> RedisChunkTarget::Checked(const Command& argv) {
  RETURN_IF_ERROR(EnsureConnected());
  auto r = conn_->Checked(argv);
  if (!r.ok()) {
    return r.status().WithContext(
        fmt::format("pipeline {} target {}: {} {}", options_.pipeline, options_.target, argv[0],
                    argv.size() > 1 ? argv[1] : ""));
  }
  return r;
}

Status RedisChunkTarget::EnsureTable(const TargetTable& t, const std::string&) {
  if (builder_.mode() == Mode::kStream || t.has_key()) return Status::Ok();
  return Status::Error(StatusCode::kNotSupported,
                       "pipeline {} target {}: table {} has no primary key (nor a NOT NULL unique key): mode {} keys "
                       "each row by it (use mode stream for tables without a key)",
                       options_.pipeline, options_.target, t.source,
                       builder_.mode() == Mode::kHash ? "hash" : "string");
}

Result<std::string> RedisChunkTarget::EnsureStartPosition(const std::string& pipeline, const std::string& target,
                                                          const std::string& resume_position) {
  ASSIGN_OR_RETURN(StreamPos pos, StreamPosAtResume(resume_position));
  ASSIGN_OR_RETURN(RedisReply r, Checked({"EVAL", kEnsureStartScript, "1", RedisSink::CheckpointKey(pipeline, target),
                                          pos.ToString(), resume_position}));
  return r.type == RedisReply::Type::kString ? r.str : std::string();
}

Status RedisChunkTarget::TakeOverRenamedTarget(const std::string& pipeline, const std::string& target,
                                               const std::vector<std::string>& former) {
  RETURN_IF_ERROR(EnsureConnected());
  return RedisSink::TakeOverRenamedTarget(*conn_, pipeline, target, former).status();
}

Result<std::string> RedisChunkTarget::AppliedPosition(const std::string& pipeline, const std::string& target) {
  ASSIGN_OR_RETURN(RedisReply r, Checked({"HGET", RedisSink::CheckpointKey(pipeline, target), "resume_position"}));
  return r.type == RedisReply::Type::kString ? r.str : std::string();
}

Status RedisChunkTarget::BeginChunk(const std::string& pipeline, const std::string& target) {
  Rollback();
  RETURN_IF_ERROR(Checked({"WATCH", RedisSink::CheckpointKey(pipeline, target)}).status());
  watching_ = true;
  return Status::Ok();
}

Status RedisChunkTarget::Reject(const SinkChange& c, const std::string& key, const Status& error) {
  std::string msg = fmt::format("pipeline {} target {}: table `{}`.`{}` (from {}) key \"{}\" (snapshot): {}",
                                options_.pipeline, options_.target, c.table->db, c.table->table, c.table->source, key,
                                error.message());
  if (!options_.skip_rejected) return Status::Error(error.code(), "{}", msg);
  if (!options_.skip_log.empty()) {
    std::string line = SkipRecord(options_.pipeline, options_.target, c, key, error.message());
    Status written = AppendDurably(options_.skip_log, line);
    if (!written.ok()) return Status::Error(StatusCode::kIoError, "{}; not skipped: {}", written.message(), msg);
  }
  spdlog::warn("skipped (on_error: skip): {}", msg);
  return Status::Ok();
}

Status RedisChunkTarget::Write(const std::vector<SinkChange>& changes) {
  std::string key;
  for (const SinkChange& c : changes) {
    const size_t first = pending_.size();
    Status built = builder_.Build(c, pending_, &key);
    if (!built.ok()) {
      RETURN_IF_ERROR(Reject(c, key, built));
      continue;
    }
    for (size_t i = first; i < pending_.size(); ++i) {
      pending_change_.push_back(&c);
      pending_key_.push_back(key);
    }
  }
  return Status::Ok();
}

Status RedisChunkTarget::Truncate(const TargetTable& table) {
  // A stream is a log: the copy appends read entries, nothing is removed.
  // Other modes refuse keyless tables (EnsureTable).
  if (builder_.mode() == Mode::kStream) return Status::Ok();
  return EnsureTable(table, "");
}

Status RedisChunkTarget::MarkChunkDone(const ChunkRecord& chunk, uint64_t rows) {
  ChunkRecord done = chunk;
  done.done = true;
  done.rows = rows;
  pending_.push_back({"HSET", PlanKey(chunk.pipeline, chunk.target), PlanField(done), PlanValue(done)});
  pending_change_.push_back(nullptr);
  pending_key_.push_back(pending_.back()[1]);
  return Status::Ok();
}

Status RedisChunkTarget::Commit() {
  if (!watching_) {
    return Status::Error(StatusCode::kInvalidArgument, "pipeline {} target {}: Commit without BeginChunk", options_.pipeline,
                         options_.target);
  }
  RETURN_IF_ERROR(EnsureConnected());
  std::vector<Command> commands = std::move(pending_);
  std::vector<const SinkChange*> change_of = std::move(pending_change_);
  std::vector<std::string> key_of = std::move(pending_key_);
  pending_.clear();
  pending_change_.clear();
  pending_key_.clear();
  watching_ = false;  // EXEC ends the WATCH, whatever its outcome
  conn_->Append({"MULTI"});
  for (const Command& c : commands) conn_->Append(c);
  conn_->Append({"EXEC"});
  const std::string where = fmt::format("pipeline {} target {}", options_.pipeline, options_.target);
  ASSIGN_OR_RETURN(RedisReply multi, conn_->Read());
  std::string queue_error;
  size_t queue_error_at = 0;
  for (size_t i = 0; i < commands.size(); ++i) {
    ASSIGN_OR_RETURN(RedisReply r, conn_->Read());
    if (r.is_error() && queue_error.empty()) {
      queue_error = r.str;
      queue_error_at = i;
    }
  }
  ASSIGN_OR_RETURN(RedisReply exec, conn_->Read());
  if (multi.is_error()) return ReplyError(where + ": MULTI", multi.str);
  if (!queue_error.empty()) {
    return ReplyError(fmt::format("{}: {} {} (the chunk was not applied)", where, commands[queue_error_at][0],
                                  key_of[queue_error_at]),
                      queue_error);
  }
  if (exec.type == RedisReply::Type::kNil) {
    // The WATCHed checkpoint changed: the stream wrote after the chunk was read.
    return Status::Retryable(StatusCode::kAborted,
                             "{}: a stream batch was written while the chunk was copied; copying it again", where);
  }
  if (exec.is_error()) return ReplyError(where + ": EXEC", exec.str);
  // EXEC ran every command; one Redis refused (WRONGTYPE) left the others applied.
  for (size_t i = 0; i < exec.elements.size() && i < commands.size(); ++i) {
    const RedisReply& r = exec.elements[i];
    if (!r.is_error()) continue;
    Status error = ReplyError(fmt::format("{}: {}", commands[i][0], key_of[i]), r.str);
    if (error.retryable() || change_of[i] == nullptr) return error.WithContext(where);
    if (i > 0 && change_of[i - 1] == change_of[i] && exec.elements[i - 1].is_error()) continue;  // logged once
    RETURN_IF_ERROR(Reject(*change_of[i], key_of[i], error));
  }
  return Status::Ok();
}

void RedisChunkTarget::Rollback() {
  pending_.clear();
  pending_change_.clear();
  pending_key_.clear();
  if (!watching_) return;
  watching_ = false;
  if (conn_ && !conn_->broken()) (void)conn_->Command({"UNWATCH"});
}

Result<std::vector<std::pair<std::string, std::string>>> RedisChunkTarget::PlanFields(const std::string& pipeline,
                                                                                      const std::string& target) {
  ASSIGN_OR_RETURN(RedisReply r, Checked({"HGETALL", PlanKey(pipeline, target)}));
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) out.emplace_back(r.elements[i].str, r.elements[i + 1].str);
  return out;
}

Result<std::vector<ChunkRecord>> RedisChunkTarget::LoadPlan(const std::string& pipeline, const std::string& target,
                                                            const std::string& table, const std::string& shard) {
  ASSIGN_OR_RETURN(auto fields, PlanFields(pipeline, target));
  const std::string prefix = PlanPrefix(table, shard);
  std::vector<ChunkRecord> plan;
  for (const auto& [field, value] : fields) {
    if (!field.starts_with(prefix)) continue;
    nlohmann::json v = nlohmann::json::parse(value, nullptr, false);
    if (!v.is_object()) {
      return Status::Corruption("pipeline {} target {}: {}: bad plan record {}", pipeline, target,
                                PlanKey(pipeline, target), value);
    }
    ChunkRecord c;
    c.pipeline = pipeline;
    c.target = target;
    c.table = table;
    c.shard = shard;
    c.chunk = static_cast<uint32_t>(std::stoul(field.substr(prefix.size())));
    c.after = v.value("after", "");
    c.upto = v.value("upto", "");
    c.done = v.value("done", false);
    c.rows = v.value("rows", uint64_t{0});
    plan.push_back(std::move(c));
  }
  std::sort(plan.begin(), plan.end(), [](const ChunkRecord& a, const ChunkRecord& b) { return a.chunk < b.chunk; });
  return plan;
}

Result<bool> RedisChunkTarget::HasUnfinishedPlan(const std::string& pipeline, const std::string& target,
                                                 const std::vector<std::string>& shards) {
  if (shards.empty()) return false;
  ASSIGN_OR_RETURN(auto fields, PlanFields(pipeline, target));
  for (const auto& [field, value] : fields) {
    // "<table>\n<shard>\n<chunk>"
    size_t a = field.find('\n');
    size_t b = field.rfind('\n');
    if (a == std::string::npos || b == a) continue;
    std::string shard = field.substr(a + 1, b - a - 1);
    bool wanted = std::any_of(shards.begin(), shards.end(), [&](const std::string& s) { return ShardKey(s) == shard; });
    if (!wanted) continue;
    nlohmann::json v = nlohmann::json::parse(value, nullptr, false);
    if (v.is_object() && !v.value("done", false)) return true;
  }
  return false;
}

Status RedisChunkTarget::SavePlan(const std::vector<ChunkRecord>& plan) {
  if (plan.empty()) return Status::Ok();
  const ChunkRecord& first = plan.front();
  RETURN_IF_ERROR(DropPlan(first.pipeline, first.target, first.table, first.shard));
  const std::string key = PlanKey(first.pipeline, first.target);
  for (size_t begin = 0; begin < plan.size(); begin += 500) {
    Command hset = {"HSET", key};
    for (size_t i = begin; i < std::min(plan.size(), begin + 500); ++i) {
      hset.push_back(PlanField(plan[i]));
      hset.push_back(PlanValue(plan[i]));
    }
    RETURN_IF_ERROR(Checked(hset).status());
  }
  return Status::Ok();
}

Status RedisChunkTarget::DropPlan(const std::string& pipeline, const std::string& target, const std::string& table,
                                  const std::string& shard) {
  ASSIGN_OR_RETURN(auto fields, PlanFields(pipeline, target));
  const std::string prefix = PlanPrefix(table, shard);
  Command hdel = {"HDEL", PlanKey(pipeline, target)};
  for (const auto& [field, value] : fields) {
    if (field.starts_with(prefix)) hdel.push_back(field);
  }
  if (hdel.size() == 2) return Status::Ok();
  return Checked(hdel).status();
}

}  // namespace sluice::sink::redis
