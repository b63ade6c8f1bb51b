#include "sink/redis/redis_sink.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "core/json_writer.h"
#include "core/sync_point.h"
#include "format/encoders.h"
#include "sink/checkpoint_rows.h"
#include "sink/redis/redis_chunk_target.h"
#include "sink/redis/redis_fence.h"
#include "sink/skip_log.h"

namespace sluice::sink::redis {
namespace {

// Every command waits at most this long for Redis: a hung server is then a
// retryable error naming it, not a pipeline that says "running" while
// nothing moves.
constexpr std::chrono::seconds kCommandTimeout{30};
constexpr size_t kScanCount = 1000;

enum class DdlKind { kOther, kDropTable, kTruncateTable, kDropDatabase };

// The words a statement starts with, upper-cased, comments skipped.
std::vector<std::string> LeadingWords(std::string_view q, size_t n) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < q.size() && words.size() < n) {
    unsigned char c = static_cast<unsigned char>(q[i]);
    if (std::isspace(c)) {
      ++i;
    } else if (q.compare(i, 2, "/*") == 0) {
      size_t end = q.find("*/", i + 2);
      i = end == std::string_view::npos ? q.size() : end + 2;
    } else if (q.compare(i, 2, "--") == 0 || c == '#') {
      size_t end = q.find('\n', i);
      i = end == std::string_view::npos ? q.size() : end + 1;
    } else if (std::isalpha(c)) {
      std::string w;
      while (i < q.size() && (std::isalnum(static_cast<unsigned char>(q[i])) || q[i] == '_')) {
        w += static_cast<char>(std::toupper(static_cast<unsigned char>(q[i++])));
      }
      words.push_back(std::move(w));
    } else {
      break;
    }
  }
  return words;
}

DdlKind ClassifyDdl(std::string_view query) {
  std::vector<std::string> w = LeadingWords(query, 3);
  if (w.empty()) return DdlKind::kOther;
  if (w[0] == "TRUNCATE") return DdlKind::kTruncateTable;
  if (w[0] != "DROP" || w.size() < 2) return DdlKind::kOther;
  if (w[1] == "TABLE" || (w[1] == "TEMPORARY" && w.size() > 2 && w[2] == "TABLE")) return DdlKind::kDropTable;
  if (w[1] == "DATABASE" || w[1] == "SCHEMA") return DdlKind::kDropDatabase;
  return DdlKind::kOther;
}

}  // namespace

std::string RedisSink::CheckpointKey(const std::string& pipeline, const std::string& target) {
  return fmt::format("_sluice:checkpoint:{}:{}", pipeline, target);
}

Result<std::string> RedisSink::TakeOverRenamedTarget(RedisConnection& c, const std::string& pipeline,
                                                     const std::string& target,
                                                     const std::vector<std::string>& former) {
  if (former.empty()) return std::string();
  std::vector<std::string> names{target};
  names.insert(names.end(), former.begin(), former.end());
  std::vector<std::string> present;
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(RedisReply r, c.Checked({"EXISTS", CheckpointKey(pipeline, name)}));
    if (r.integer > 0) present.push_back(name);
  }
  ASSIGN_OR_RETURN(const std::string old,
                   RenamedFrom(present, pipeline, target, former,
                               fmt::format("DEL {}", CheckpointKey(pipeline, "NAME"))));
  if (old.empty()) return old;
  // A plan of its own (a copy begun under the new name): that copy goes on, nothing is taken over.
  ASSIGN_OR_RETURN(RedisReply own_plan, c.Checked({"EXISTS", RedisChunkTarget::PlanKey(pipeline, target)}));
  if (own_plan.integer > 0) return std::string();
  ASSIGN_OR_RETURN(RedisReply old_plan, c.Checked({"EXISTS", RedisChunkTarget::PlanKey(pipeline, old)}));
  std::vector<std::vector<std::string>> commands{
      {"MULTI"}, {"RENAMENX", CheckpointKey(pipeline, old), CheckpointKey(pipeline, target)}};
  if (old_plan.integer > 0) {
    commands.push_back(
        {"RENAME", RedisChunkTarget::PlanKey(pipeline, old), RedisChunkTarget::PlanKey(pipeline, target)});
  }
  commands.push_back({"EXEC"});
  for (const auto& argv : commands) c.Append(argv);
  RedisReply exec;
  for (size_t i = 0; i < commands.size(); ++i) {
    ASSIGN_OR_RETURN(exec, c.Read());
    if (exec.is_error()) {
      return Status::Error(StatusCode::kServerError, "target {}: taking over the checkpoint of target {}: {}", target,
                           old, exec.str);
    }
  }
  // EXEC's answers: RENAMENX's 0 means the new name's key appeared meanwhile.
  if (exec.elements.empty() || exec.elements[0].integer == 0) return std::string();
  LogTakenOver(pipeline, target, old);
  return old;
}

Result<std::unique_ptr<RedisSink>> RedisSink::Open(const SinkOptions& options) {
  auto fail = [&](const Status& st) {
    return Status::Invalid("pipeline {} target {}: {}", options.pipeline, options.target, st.message());
  };
  auto endpoint = RedisEndpoint::FromUrl(options.url);
  if (!endpoint.ok()) return fail(endpoint.status());
  auto builder = CommandBuilder::Make(options.mode, options.key, options.pipeline);
  if (!builder.ok()) return fail(builder.status());
  std::unique_ptr<RedisSink> sink(new RedisSink(options, std::move(endpoint).value(), std::move(builder).value()));
  sink->checkpoint_key_ = CheckpointKey(options.pipeline, options.target);
  sink->fence_key_ = FenceKey(options.pipeline);
  sink->guard_key_ = options.epoch > 0 ? sink->fence_key_ : OwnerKey(options.pipeline, options.target);
  RETURN_IF_ERROR(sink->EnsureConnected());
  sink->WarnIfRedisEvicts();
  if (options.epoch > 0) {
    // The checkpoint again once the former owners' connections are closed:
    // a transaction of theirs may have landed until then.
    RETURN_IF_ERROR(RaiseFence(*sink->conn_, options));
    RETURN_IF_ERROR(sink->ReadCheckpoint());
  }
  return sink;
}

void RedisSink::WarnIfRedisEvicts() {
  // CONFIG may be renamed away (managed Redis): then nothing is said.
  auto limit = conn_->Command({"CONFIG", "GET", "maxmemory"});
  auto policy = conn_->Command({"CONFIG", "GET", "maxmemory-policy"});
  if (!limit.ok() || !policy.ok() || limit->elements.size() < 2 || policy->elements.size() < 2) return;
  const std::string& bytes = limit->elements[1].str;
  const std::string& name = policy->elements[1].str;
  if (bytes == "0" || !name.starts_with("allkeys")) return;
  spdlog::warn("pipeline {} target {}: {} evicts any key when full (maxmemory {}, maxmemory-policy {}): rows sluice "
               "wrote can vanish, and with its checkpoint {} the next start takes the target as a new one; use "
               "noeviction or a volatile-* policy (sluice's keys have no expiry)",
               options_.pipeline, options_.target, endpoint_.Describe(), bytes, name, checkpoint_key_);
}

Status RedisSink::EnsureConnected() {
  if (conn_ && !conn_->broken()) return Status::Ok();
  conn_.reset();
  auto c = RedisConnection::Connect(endpoint_, kCommandTimeout, options_.interrupt);
  if (!c.ok()) return c.status().WithContext(fmt::format("pipeline {} target {}", options_.pipeline, options_.target));
  conn_ = std::move(c).value();
  Status st;
  if (options_.epoch > 0) {
    st = JoinFence(*conn_, options_);
  } else {
    if (!owner_keeper_) owner_keeper_ = std::make_unique<OwnerKeeper>(endpoint_, options_);
    auto named = NameOwnerConnection(*conn_, options_);
    auto took_over =
        named.ok() ? TakeOwnership(*conn_, *named, *owner_keeper_, options_) : Result<bool>(named.status());
    if (!took_over.ok()) {
      st = took_over.status();
    } else if (*took_over && connected_once_) {
      // The target went on without this process: a new start takes it from
      // where the other one got to (what this one holds may be behind it).
      st = Status::Error(StatusCode::kTargetRewound,
                         "pipeline {} target {}: another sluice process applied this pipeline here meanwhile; "
                         "starting again from where it got to",
                         options_.pipeline, options_.target);
    }
  }
  if (st.ok() && !takeover_checked_) {
    st = TakeOverRenamedTarget(*conn_, options_.pipeline, options_.target, options_.former_targets).status();
    takeover_checked_ = st.ok();
  }
  if (st.ok()) st = ReadCheckpoint();
  if (!st.ok()) {
    conn_.reset();
    return st;
  }
  connected_once_ = true;
  return st;
}

Result<RedisReply> RedisSink::Exec(const std::vector<Command>& commands, const std::string& context) {
  conn_->Append({"WATCH", guard_key_});
  conn_->Append({"MULTI"});
  for (const Command& c : commands) conn_->Append(c);
  conn_->Append({"EXEC"});
  std::string error;
  RedisReply exec;
  for (size_t i = 0; i < commands.size() + 3; ++i) {
    ASSIGN_OR_RETURN(RedisReply r, conn_->Read());
    if (r.is_error() && error.empty()) error = r.str;
    if (i == commands.size() + 2) exec = std::move(r);
  }
  if (error.empty() && exec.type == RedisReply::Type::kNil) return GuardLost();
  for (const RedisReply& e : exec.elements) {
    if (e.is_error() && error.empty()) error = e.str;
  }
  if (error.empty()) return exec;
  std::string msg = fmt::format("{}: {}", context, error);
  return IsRetryableReplyError(error) ? Status::Retryable(StatusCode::kServerError, "{}", msg)
                                      : Status::Error(StatusCode::kServerError, "{}", msg);
}

Status RedisSink::GuardLost() {
  if (options_.epoch > 0) return FencedExec(*conn_, options_);
  Status st = LostOwnership(*conn_, options_);
  conn_.reset();
  return st;
}

Status RedisSink::Reconnect() {
  conn_.reset();
  return EnsureConnected();
}

Status RedisSink::ReadCheckpoint() {
  auto r = conn_->Checked({"HGETALL", checkpoint_key_});
  if (!r.ok()) {
    return r.status().WithContext(
        fmt::format("pipeline {} target {}: reading the checkpoint {}", options_.pipeline, options_.target, checkpoint_key_));
  }
  Checkpoint cp;
  for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
    const std::string& field = r->elements[i].str;
    const std::string& value = r->elements[i + 1].str;
    if (field == "position") {
      if (!StreamPos::Parse(value, &cp.global)) {
        return Status::Corruption("pipeline {} target {}: checkpoint {}: bad position \"{}\"", options_.pipeline,
                                  options_.target, checkpoint_key_, value);
      }
    } else if (field == "resume_position") {
      cp.resume_position = value;
    } else if (field == "gtid_state") {
      cp.gtid_state = value;
    }
  }
  // Behind what was committed to it: Redis came back from an older snapshot
  // (an RDB file saved before its crash). Gone: restarted without
  // persistence, or flushed, and most likely the rows with it. Either way the
  // pipeline starts again from what Redis holds (a Redis holding nothing is
  // a new target: copied again with `snapshot: initial`). Kept, so that
  // every later call says so.
  std::map<int, StreamPos> now;
  if (!cp.global.empty()) now[kCheckpointRow] = cp.global;
  if (Status kept = committed_.Check(now, options_.target); !kept.ok()) {
    if (!cp.global.empty()) return kept;
    return Status::Error(kept.code(), "{} (the key {} is gone from {}: restarted without persistence, flushed, or "
                         "deleted)", kept.message(), checkpoint_key_, endpoint_.Describe());
  }
  if (!cp.global.empty()) committed_.Note(kCheckpointRow, cp.global);  // recorded there when read
  checkpoint_ = std::move(cp);
  return Status::Ok();
}

Command RedisSink::CheckpointCommand(const BatchEnd& end) const {
  return {"HSET",          checkpoint_key_,      "position",   end.pos.ToString(),
          "resume_position", end.resume_position, "gtid_state", end.gtid_state};
}

Command RedisSink::TouchCommand() const {
  return {"HSET", checkpoint_key_, "gtid_state", checkpoint_.gtid_state};
}

void RedisSink::NoteCheckpoint(const BatchEnd& end) {
  committed_.Note(kCheckpointRow, end.pos);
  checkpoint_.global = end.pos;
  checkpoint_.resume_position = end.resume_position;
  checkpoint_.gtid_state = end.gtid_state;
}

Status RedisSink::AdvanceCheckpoint(const BatchEnd& end) {
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) return Status::Ok();
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(Exec({CheckpointCommand(end)}, fmt::format("pipeline {} target {}: recording position {}",
                                                             options_.pipeline, options_.target, end.pos.ToString()))
                      .status());
  NoteCheckpoint(end);
  return Status::Ok();
}

Status RedisSink::ResetCheckpoint() {
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(
      Exec({{"DEL", checkpoint_key_}}, fmt::format("pipeline {} target {}", options_.pipeline, options_.target))
          .status());
  checkpoint_ = Checkpoint{};
  committed_.Clear();
  return Status::Ok();
}

std::string RedisSink::Where(const SinkChange& ch, const std::string& key) const {
  return fmt::format("pipeline {} target {}: table `{}`.`{}` (from {}) key \"{}\" @ {}", options_.pipeline,
                     options_.target, ch.table->db, ch.table->table, ch.table->source, key, ch.pos.ToString());
}

Status RedisSink::Reject(const SinkChange& ch, const std::string& key, const std::string& what, const Status& error) {
  std::string msg = fmt::format("{}: {}{}{}", Where(ch, key), what, what.empty() ? "" : ": ", error.message());
  if (!options_.skip_rejected) return Status::Error(error.code(), "{}", msg);
  if (!options_.skip_log.empty()) {
    std::string line = SkipRecord(options_.pipeline, options_.target, ch, key, error.message());
    // Durable before the checkpoint passes the change: never dropped without its record.
    Status written = AppendDurably(options_.skip_log, line);
    if (!written.ok()) return Status::Error(StatusCode::kIoError, "{}; not skipped: {}", written.message(), msg);
  }
  spdlog::warn("skipped (on_error: skip): {}", msg);
  return Status::Ok();
}

Status RedisSink::ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) {
  RETURN_IF_ERROR(EnsureConnected());
  const Checkpoint before = checkpoint_;
  std::vector<Txn> txns;
  uint64_t skipped = 0, written = 0;
  std::string key;
  for (size_t i = 0; i < changes.size(); ++i) {
    const SinkChange& ch = changes[i];
    if (!before.global.empty() && ch.pos <= before.global) continue;  // applied before a restart
    if (txns.empty() || txns.back().last.txn_offset != ch.pos.txn_offset || txns.back().last.file != ch.pos.file) {
      txns.emplace_back();
      txns.back().start = ch.pos;
    }
    Txn& t = txns.back();
    t.last = ch.pos;
    const size_t first_command = t.commands.size();
    Status built = builder_.Build(ch, t.commands, &key);
    if (!built.ok()) {
      Status rejected = Reject(ch, key, "", built);
      if (rejected.ok()) {
        ++skipped;
        continue;
      }
      // on_error: stop: the transactions before this one's go in, then the pipeline stops.
      txns.pop_back();
      size_t failed = txns.size();
      uint64_t ignored = 0;
      Status sent = Send(txns, nullptr, changes, &failed, &ignored);
      if (!sent.ok() && (sent.retryable() || sent.code() == StatusCode::kFenced)) return sent;
      return RecordBefore(txns, failed, before, sent.ok() ? rejected : sent);
    }
    for (size_t c = first_command; c < t.commands.size(); ++c) {
      t.change_of.push_back(i);
      t.keys.push_back(key);
    }
    ++written;
  }
  size_t failed = txns.size();
  uint64_t rejected = 0;
  Status st = Send(txns, &end, changes, &failed, &rejected);
  if (!st.ok()) {
    if (st.retryable() || st.code() == StatusCode::kFenced) return st;
    return RecordBefore(txns, failed, before, st);
  }
  NoteCheckpoint(end);
  rows_applied_ += written - rejected;
  rows_skipped_ += skipped + rejected;
  return Status::Ok();
}

Status RedisSink::Send(std::vector<Txn>& txns, const BatchEnd* end, const std::vector<SinkChange>& changes,
                       size_t* failed, uint64_t* skipped) {
  *failed = txns.size();
  SLUICE_SYNC_POINT("redis.batch.send");  // a test freezes the owner here, its batch not yet sent
  // Every transaction but the last is confirmed first, so that the
  // checkpoint, which travels with the last one, never passes a
  // transaction Redis refused.
  const size_t n = txns.size();
  const size_t split = n == 0 ? 0 : n - 1;
  const Command checkpoint = end ? CheckpointCommand(*end) : Command{};
  for (int phase = 0; phase < 2; ++phase) {
    const size_t from = phase == 0 ? 0 : split, to = phase == 0 ? split : n;
    const bool with_checkpoint = phase == 1 && end != nullptr;
    // Which transactions go out (empty ones, whose changes were all skipped, do not).
    auto carries_checkpoint = [&](size_t k) { return with_checkpoint && k + 1 == to; };
    auto sent = [&](size_t k) { return !txns[k].commands.empty() || carries_checkpoint(k); };
    for (size_t k = from; k < to; ++k) {
      if (!sent(k)) continue;
      conn_->Append({"WATCH", guard_key_});
      conn_->Append({"MULTI"});
      for (const Command& c : txns[k].commands) conn_->Append(c);
      // Every transaction writes the checkpoint key (the others rewrite a
      // recorded field as it is): a snapshot chunk WATCHing that key
      // (redis_chunk_target.h) then sees each stream write.
      conn_->Append(carries_checkpoint(k) ? checkpoint : TouchCommand());
      conn_->Append({"EXEC"});
    }
    const bool lone_checkpoint = with_checkpoint && from == to;  // nothing to apply: the position alone
    if (lone_checkpoint) conn_->Append(checkpoint);

    Status first_failure;
    bool guard_lost = false;  // an EXEC watching guard_key_ was aborted
    auto fail = [&](size_t k, Status st) {
      if (*failed == txns.size()) {
        *failed = k;
        first_failure = std::move(st);
      }
    };
    for (size_t k = from; k < to; ++k) {
      if (!sent(k)) continue;
      Txn& t = txns[k];
      ASSIGN_OR_RETURN(RedisReply watch, conn_->Read());
      (void)watch;  // an error here shows again as MULTI's or EXEC's
      ASSIGN_OR_RETURN(RedisReply multi, conn_->Read());
      std::string queue_error;  // a command refused before EXEC: the whole transaction is not applied
      size_t queue_error_at = 0;
      const size_t queued = t.commands.size() + 1;  // + the checkpoint (or its touch)
      for (size_t c = 0; c < queued; ++c) {
        ASSIGN_OR_RETURN(RedisReply r, conn_->Read());
        if (r.is_error() && queue_error.empty()) {
          queue_error = r.str;
          queue_error_at = c;
        }
      }
      ASSIGN_OR_RETURN(RedisReply exec, conn_->Read());
      if (*failed != txns.size()) continue;  // stopping before an earlier transaction: the rest is replayed
      if (exec.type == RedisReply::Type::kNil && !multi.is_error() && queue_error.empty()) {
        guard_lost = true;
        fail(k, Status::Error(StatusCode::kFenced, "fenced"));
        continue;
      }
      if (multi.is_error() || !queue_error.empty() || exec.type != RedisReply::Type::kArray) {
        std::string why = multi.is_error() ? multi.str : !queue_error.empty() ? queue_error : exec.str;
        bool transient = IsRetryableReplyError(why);
        if (queue_error_at < t.commands.size() && !t.commands.empty()) {
          const size_t c = std::min(queue_error_at, t.commands.size() - 1);
          std::string msg = fmt::format("{}: {}: {} (the transaction was not applied)", Where(changes[t.change_of[c]], t.keys[c]),
                                        t.commands[c][0], why);
          fail(k, transient ? Status::Retryable(StatusCode::kServerError, "{}", msg)
                            : Status::Error(StatusCode::kServerError, "{}", msg));
        } else {
          std::string msg = fmt::format("pipeline {} target {}: recording position {} in {}: {}", options_.pipeline,
                                        options_.target, end ? end->pos.ToString() : "", checkpoint_key_, why);
          fail(k, transient ? Status::Retryable(StatusCode::kServerError, "{}", msg)
                            : Status::Error(StatusCode::kServerError, "{}", msg));
        }
        continue;
      }
      // EXEC ran every command; one Redis refused (WRONGTYPE) left the others applied.
      for (size_t c = 0; c < exec.elements.size(); ++c) {
        const RedisReply& r = exec.elements[c];
        if (!r.is_error()) continue;
        if (c >= t.commands.size()) {
          fail(k, Status::Error(StatusCode::kServerError, "pipeline {} target {}: recording position in {}: {}",
                                options_.pipeline, options_.target, checkpoint_key_, r.str));
          break;
        }
        Status error = IsRetryableReplyError(r.str) ? Status::Retryable(StatusCode::kServerError, "{}", r.str)
                                                    : Status::Error(StatusCode::kServerError, "{}", r.str);
        if (error.retryable()) {
          fail(k, error.WithContext(fmt::format("{}: {}", Where(changes[t.change_of[c]], t.keys[c]), t.commands[c][0])));
          break;
        }
        // The change's other commands may have run: on_error: skip logs the change once.
        if (c > 0 && t.change_of[c - 1] == t.change_of[c] && exec.elements[c - 1].is_error()) continue;
        Status rejected = Reject(changes[t.change_of[c]], t.keys[c], t.commands[c][0], error);
        if (!rejected.ok()) {
          fail(k, rejected);
          break;
        }
        ++*skipped;
      }
    }
    if (lone_checkpoint) {
      ASSIGN_OR_RETURN(RedisReply r, conn_->Read());
      if (r.is_error()) {
        std::string msg = fmt::format("pipeline {} target {}: recording position {} in {}: {}", options_.pipeline,
                                      options_.target, end->pos.ToString(), checkpoint_key_, r.str);
        return IsRetryableReplyError(r.str) ? Status::Retryable(StatusCode::kServerError, "{}", msg)
                                            : Status::Error(StatusCode::kServerError, "{}", msg);
      }
    }
    if (guard_lost) return GuardLost();
    if (*failed != txns.size()) return first_failure;
  }
  return Status::Ok();
}

Status RedisSink::RecordBefore(const std::vector<Txn>& txns, size_t k, const Checkpoint& before, const Status& why) {
  BatchEnd at;
  if (k == 0 || txns.empty()) {
    at = {before.global, before.resume_position, before.gtid_state};
  } else {
    // The failed transaction's start is a boundary at or before everything not applied.
    const StreamPos& next = txns[std::min(k, txns.size() - 1)].start;
    at = {txns[k - 1].last, k < txns.size() ? next.ResumePoint() : before.resume_position,
          before.gtid_state};
  }
  if (at.pos.empty()) {
    auto r = Exec({{"DEL", checkpoint_key_}}, "DEL " + checkpoint_key_);
    if (!r.ok()) return why.WithSuffix(fmt::format("(and the checkpoint could not be reset: {})", r.status().message()));
    checkpoint_ = Checkpoint{};
    return why;
  }
  auto r = Exec({CheckpointCommand(at)}, "HSET " + checkpoint_key_);
  if (!r.ok()) {
    return why.WithSuffix(fmt::format("(and the checkpoint could not be set back to {}: {})", at.pos.ToString(),
                                      r.status().message()));
  }
  NoteCheckpoint(at);
  return why;
}

Result<uint64_t> RedisSink::WriteMatching(const std::string& pattern, const std::string& what,
                                          const std::function<void(const std::string& key, std::vector<Command>&)>& make) {
  uint64_t changed = 0;
  std::string cursor = "0";
  do {
    ASSIGN_OR_RETURN(RedisReply r, conn_->Checked({"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(kScanCount)}));
    if (r.elements.size() != 2) {
      return Status::Error(StatusCode::kServerError, "{}: SCAN: unexpected reply", endpoint_.Describe());
    }
    cursor = r.elements[0].str;
    std::vector<Command> commands;
    for (const RedisReply& k : r.elements[1].elements) {
      if (k.str.starts_with("_sluice:")) continue;  // sluice's own checkpoints are never a table's keys
      make(k.str, commands);
    }
    if (!commands.empty()) {
      // With a write of the checkpoint key, like every stream write: a
      // snapshot chunk copied meanwhile is then written again, not put back
      // over this change.
      commands.push_back(TouchCommand());
      ASSIGN_OR_RETURN(RedisReply exec, Exec(commands, fmt::format("{}: {}", endpoint_.Describe(), what)));
      commands.pop_back();
      for (size_t i = 0; i < commands.size() && i < exec.elements.size(); ++i) {
        changed += static_cast<uint64_t>(exec.elements[i].integer);
      }
    }
  } while (cursor != "0");
  return changed;
}

Result<uint64_t> RedisSink::DeleteMatching(const std::string& pattern) {
  return WriteMatching(pattern, "UNLINK", [](const std::string& key, std::vector<Command>& out) {
    if (out.empty()) out.push_back({"UNLINK"});
    out[0].push_back(key);
  });
}

Status RedisSink::FillAddedColumns(const DdlChange& ddl, const std::string& where) {
  Command fields;  // field, value, ...
  auto add = [&](const std::string& name, const Value& v) {
    fields.push_back(name);
    AppendFieldText(fields.emplace_back(), v);
  };
  // A NULL leaves the field absent.
  if (ddl.table) {  // a PostgreSQL source's table, in its new shape
    for (uint32_t i : ddl.added) {
      const auto& missing = ddl.table->column_meta(i).pg_missing;
      if (missing && !missing->value.is_null()) add(ddl.table->columns[i], missing->value);
    }
  }
  for (const DdlChange::AddedColumn& c : ddl.added_columns) {  // a MySQL/MariaDB source's ALTER TABLE
    if (c.existing && !c.existing->value.is_null()) {
      add(c.name, c.existing->value);
    } else if (c.existing_value) {
      spdlog::warn("{}: `{}`.`{}` gained column `{}` with default \"{}\", which the keys already there lack until "
                   "their row changes (`sluice check --repair` completes them): {}",
                   where, ddl.target_db, ddl.target_table, c.name, *c.existing_value, ddl.query.substr(0, 200));
    }
  }
  if (fields.empty()) return Status::Ok();
  const std::string& db = ddl.table ? ddl.table->db : ddl.target_db;
  const std::string& table = ddl.table ? ddl.table->table : ddl.target_table;
  const KeyTemplate& keys = builder_.keys();
  if (builder_.mode() != Mode::kHash || !keys.has_db() || !keys.has_table()) {
    // string mode: a JSON value cannot be completed in place; a key template
    // without ${db} and ${table} cannot tell this table's keys from others'.
    spdlog::warn("{}: `{}`.`{}` gained columns with a default; the values already there lack them until their row "
                 "changes (mode {}, key template \"{}\"): {}",
                 where, db, table, builder_.mode() == Mode::kHash ? "hash" : "string", keys.text(),
                 ddl.query.substr(0, 200));
    return Status::Ok();
  }
  // The hashes there are are the rows older than the columns: they read the
  // default on the source. HSETNX: a replay after a crash sets nothing twice.
  std::string pattern = keys.MatchPattern(db, table);
  auto set = WriteMatching(pattern, "HSETNX", [&](const std::string& key, std::vector<Command>& out) {
    for (size_t f = 0; f < fields.size(); f += 2) out.push_back({"HSETNX", key, fields[f], fields[f + 1]});
  });
  if (!set.ok()) return set.status().WithContext(fmt::format("{}: filling added columns into keys {}", where, pattern));
  spdlog::info("{}: set {} fields of added columns in keys matching {}: {}", where, *set, pattern,
               ddl.query.substr(0, 200));
  return Status::Ok();
}

Status RedisSink::ApplyDdl(const DdlChange& ddl, const BatchEnd& end) {
  if (!checkpoint_.global.empty() && end.pos <= checkpoint_.global) return Status::Ok();  // replayed
  RETURN_IF_ERROR(EnsureConnected());
  const DdlKind kind = ClassifyDdl(ddl.query);
  const std::string where = fmt::format("pipeline {} target {}: DDL @ {}", options_.pipeline, options_.target,
                                        ddl.pos.ToString());
  const bool drops_table = (kind == DdlKind::kDropTable || kind == DdlKind::kTruncateTable) && !ddl.target_table.empty();
  const bool drops_db = kind == DdlKind::kDropDatabase && !ddl.target_db.empty();
  const KeyTemplate& keys = builder_.keys();
  if (builder_.mode() == Mode::kStream) {
    if (drops_table) {
      // Consumers of the stream learn that the table's rows went without row events.
      std::string pos = fmt::format("{}:{}", ddl.pos.file, ddl.pos.txn_offset);
      RETURN_IF_ERROR(
          Exec({builder_.StreamDdl(ddl.target_db, ddl.target_table, ddl.query, ddl.ts_ms, pos), CheckpointCommand(end)},
               fmt::format("{}: table `{}`.`{}`: XADD to {}", where, ddl.target_db, ddl.target_table,
                           keys.ExpandTable(ddl.target_db, ddl.target_table)))
              .status());
      NoteCheckpoint(end);
      return Status::Ok();
    }
    spdlog::debug("{}: ignored by the redis target (mode stream): {}", where, ddl.query.substr(0, 200));
    return AdvanceCheckpoint(end);
  }
  if (ddl.table || !ddl.added_columns.empty()) {
    RETURN_IF_ERROR(FillAddedColumns(ddl, where));
    return AdvanceCheckpoint(end);
  }
  if (drops_table || drops_db) {
    // Without ${table} (or ${db}) in the template, one table's keys cannot be
    // told from another's: they stay.
    if ((drops_table && !keys.has_table()) || !keys.has_db()) {
      spdlog::warn("{}: the key template \"{}\" cannot tell this table's keys from others': they stay: {}", where,
                   keys.text(), ddl.query.substr(0, 200));
    } else {
      std::string pattern = keys.MatchPattern(ddl.target_db, drops_table ? ddl.target_table : "");
      auto deleted = DeleteMatching(pattern);
      if (!deleted.ok()) return deleted.status().WithContext(fmt::format("{}: deleting keys {}", where, pattern));
      spdlog::info("{}: deleted {} keys matching {}: {}", where, *deleted, pattern, ddl.query.substr(0, 200));
    }
  } else {
    spdlog::debug("{}: ignored by the redis target: {}", where, ddl.query.substr(0, 200));
  }
  return AdvanceCheckpoint(end);
}

}  // namespace sluice::sink::redis
