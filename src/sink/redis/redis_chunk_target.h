#pragma once
// RedisChunkTarget: a snapshot writes a Redis target through it
// (sink/chunk_target.h), beside a pipeline that may stream into the same keys.
//
// Why WATCH: a chunk read from the source at time T must not overwrite a
// change the stream applied after T. BeginChunk WATCHes the pipeline's
// checkpoint hash `_sluice:checkpoint:<pipeline>:<target>`, and only then is
// the chunk read; the RedisSink writes that hash in every MULTI/EXEC it
// sends (the position with a batch's last transaction; the others set its
// recorded `gtid_state` again, unchanged, which WATCH counts as a write; so
// do the deletions of DROP/TRUNCATE TABLE). Write and MarkChunkDone collect the chunk's commands;
// Commit sends them in one MULTI/EXEC. If the stream wrote anything after
// the WATCH, Redis refuses the EXEC (nothing of the chunk is applied) and
// Commit returns a retryable error: the snapshot reads the chunk again and
// writes it anew. Otherwise every stream write after the EXEC comes after
// the read in source order too. Redis runs one command at a time, so a
// chunk and a stream batch never interleave.
//
// Modes (redis_commands.h): hash and string rows are replaced whole (DEL +
// HSET, SET); tables without a key are refused there, as the sink refuses
// them. A stream is a log: a snapshot appends each copied row as an entry
// with op "read" (and an empty pos), and a keyless table is not truncated.
//
// The plan: the hash `_sluice:snapshot:<pipeline>:<target>`, one field per
// chunk, "<table>\n<shard>\n<chunk>" -> {"after","upto","done","rows"}; the
// done mark goes in the chunk's own MULTI/EXEC, so a chunk is recorded done
// exactly when its rows are there.
//
// Positions: EnsureStartPosition writes the checkpoint hash the way the
// sink does (position, resume_position, gtid_state) when it has no
// position, atomically (a script), so the pipeline streams from the
// snapshot's start; the sink reads it on Open. Whole rows need no catch-up
// horizon.
//
// One object per job thread; every wait is bounded (the connection's timeout).

#include <memory>
#include <string>
#include <vector>

#include "sink/chunk_target.h"
#include "sink/redis/redis_commands.h"
#include "sink/redis/redis_connection.h"
#include "sink/sink.h"

namespace sluice::sink::redis {

class RedisChunkTarget : public ChunkTarget {
 public:
  static Result<std::unique_ptr<RedisChunkTarget>> Open(const SinkOptions& options);

  // The hash holding a pipeline target's snapshot plans.
  static std::string PlanKey(const std::string& pipeline, const std::string& target);

  Status EnsureTables() override { return Status::Ok(); }
  Status EnsureTable(const TargetTable& t, const std::string& mysql_create_sql) override;
  Result<std::string> EnsureStartPosition(const std::string& pipeline, const std::string& target,
                                          const std::string& resume_position) override;
  Status RaiseCatchUpHorizon(const std::string&, const std::string&, const std::string&) override {
    return Status::Ok();
  }
  Status TakeOverRenamedTarget(const std::string& pipeline, const std::string& target,
                               const std::vector<std::string>& former) override;
  Result<std::string> AppliedPosition(const std::string& pipeline, const std::string& target) override;

  Status BeginChunk(const std::string& pipeline, const std::string& target) override;
  Status Write(const std::vector<SinkChange>& changes) override;
  Status Truncate(const TargetTable& table) override;
  Status MarkChunkDone(const ChunkRecord& chunk, uint64_t rows) override;
  // A retryable kAborted error when the stream wrote since BeginChunk.
  Status Commit() override;
  void Rollback() override;

  Result<std::vector<ChunkRecord>> LoadPlan(const std::string& pipeline, const std::string& target,
                                            const std::string& table, const std::string& shard) override;
  Result<bool> HasUnfinishedPlan(const std::string& pipeline, const std::string& target,
                                 const std::vector<std::string>& shards) override;
  Status SavePlan(const std::vector<ChunkRecord>& plan) override;
  Status DropPlan(const std::string& pipeline, const std::string& target, const std::string& table,
                  const std::string& shard) override;

 private:
  RedisChunkTarget(SinkOptions options, RedisEndpoint endpoint, CommandBuilder builder)
      : options_(std::move(options)), endpoint_(std::move(endpoint)), builder_(std::move(builder)) {}
  Status EnsureConnected();
  Result<RedisReply> Checked(const Command& argv);
  // Every field of the plan hash (field, value).
  Result<std::vector<std::pair<std::string, std::string>>> PlanFields(const std::string& pipeline,
                                                                      const std::string& target);
  Status Reject(const SinkChange& c, const std::string& key, const Status& error);

  SinkOptions options_;
  RedisEndpoint endpoint_;
  CommandBuilder builder_;
  std::unique_ptr<RedisConnection> conn_;
  bool watching_ = false;
  // The chunk's commands, sent by Commit; per command, the change it comes
  // from (-1: the done mark) and the key it writes.
  std::vector<Command> pending_;
  std::vector<const SinkChange*> pending_change_;
  std::vector<std::string> pending_key_;
};

}  // namespace sluice::sink::redis
