#pragma once
// RedisSink: the target for redis://host:port[/db] (design section 9). It
// writes each row as a hash (mode hash, the default), a JSON string (mode
// string), or appends each change to a per-table stream (mode stream); see
// redis_commands.h for the commands and redis_keys.h for keys and values.
//
// Delivery: each source transaction of a batch goes in one MULTI/EXEC, all
// pipelined over one connection (Redis runs commands one at a time, so
// `parallel` does not apply). The batch end is recorded in the hash
// `_sluice:checkpoint:<pipeline>:<target>` inside the MULTI/EXEC of the
// batch's last transaction (its other transactions are sent and confirmed
// first), and read on Open: changes at or before it are skipped. The other
// transactions rewrite the hash's recorded `gtid_state` as it is, so that
// every MULTI/EXEC modifies the key a snapshot chunk WATCHes
// (redis_chunk_target.h). A crash
// mid-batch replays at most that batch: hashes and strings converge to the
// same state (a replay rewrites the same values), a stream may get the
// replayed entries again (their `pos` field tells a consumer). At least once
// by contract; hash and string are in effect exactly once.
//
// Errors: the server down, loading, read-only or out of memory is
// retryable; a command Redis rejects (WRONGTYPE: a key another writer holds
// with another type) names pipeline, target, table, key and position and
// follows on_error. DDL: ignored, except DROP TABLE, TRUNCATE TABLE and
// DROP DATABASE, which delete the table's (database's) keys in hash and
// string modes (SCAN for the key template's pattern) and append an "op":"ddl"
// entry to the table's stream in stream mode.
//
// Fencing (cluster mode, epoch > 0): redis_fence.h. Outside cluster mode one
// process at a time owns the target: redis_owner.h. Either way every
// MULTI/EXEC WATCHes the key that a new owner writes (guard_key_).
//
// Owned and called by one pipeline target thread.

#include <memory>
#include <functional>
#include <string>
#include <vector>

#include "sink/checkpoint_rows.h"
#include "sink/redis/redis_commands.h"
#include "sink/redis/redis_connection.h"
#include "sink/redis/redis_owner.h"
#include "sink/sink.h"

namespace sluice::sink::redis {

class RedisSink : public Sink {
 public:
  static Result<std::unique_ptr<RedisSink>> Open(const SinkOptions& options);

  Status ApplyBatch(const std::vector<SinkChange>& changes, const BatchEnd& end) override;
  Status AdvanceCheckpoint(const BatchEnd& end) override;
  Status ResetCheckpoint() override;
  Status ApplyDdl(const DdlChange& ddl, const BatchEnd& end) override;
  // Redis has no tables.
  Result<std::vector<std::string>> TargetColumns(const std::string&, const std::string&) override {
    return std::vector<std::string>{};
  }
  Status Reconnect() override;
  bool fenced() const override { return options_.epoch > 0; }

  // The hash holding this pipeline's position on the target.
  static std::string CheckpointKey(const std::string& pipeline, const std::string& target);
  // A target renamed in the configuration takes over the checkpoint and
  // snapshot plan keys of its old name (one of `former`, SinkOptions::
  // former_targets; sink/checkpoint_rows.h's RenamedFrom decides), renamed
  // in one MULTI/EXEC. Returns the name taken over, "" when none.
  static Result<std::string> TakeOverRenamedTarget(RedisConnection& c, const std::string& pipeline,
                                                   const std::string& target, const std::vector<std::string>& former);

 private:
  // The commands of one source transaction (or of the part of it in this batch).
  struct Txn {
    std::vector<Command> commands;
    std::vector<size_t> change_of;  // per command, the index of its change in the batch
    std::vector<std::string> keys;  // per command, the key it writes
    StreamPos last;                 // its last change
    StreamPos start;                // its first change
  };
  RedisSink(SinkOptions options, RedisEndpoint endpoint, CommandBuilder builder)
      : options_(std::move(options)), endpoint_(std::move(endpoint)), builder_(std::move(builder)) {}

  Status EnsureConnected();
  // `commands` in one MULTI/EXEC WATCHing guard_key_: EXEC's replies, or the
  // first error (a reply error with `context`; GuardLost when aborted).
  Result<RedisReply> Exec(const std::vector<Command>& commands, const std::string& context);
  // The error for an aborted EXEC that WATCHed guard_key_: fenced (cluster
  // mode), or another process owns the target (the connection is dropped,
  // so that the next one takes the ownership again or waits).
  Status GuardLost();
  Status ReadCheckpoint();
  // A warning when Redis may evict any key (a maxmemory allkeys-* policy).
  void WarnIfRedisEvicts();
  Command CheckpointCommand(const BatchEnd& end) const;
  // The write to the checkpoint key of a transaction that does not carry the
  // checkpoint: its `gtid_state` set to the recorded value again, which
  // changes nothing but counts as a modification for WATCH.
  Command TouchCommand() const;
  void NoteCheckpoint(const BatchEnd& end);
  // Sends `txns` (the last one with `end`'s checkpoint when given) and reads
  // every reply. *failed: the index of the first transaction Redis rejected
  // a command of (txns.size() when none did); its status is returned.
  Status Send(std::vector<Txn>& txns, const BatchEnd* end, const std::vector<SinkChange>& changes, size_t* failed,
              uint64_t* skipped);
  // The error for a change Redis (or the builder) rejected; on_error: skip
  // logs it to the skip log and returns Ok.
  Status Reject(const SinkChange& change, const std::string& key, const std::string& what, const Status& error);
  // on_error: stop after txns[0..k) applied: records the end of txns[k-1]
  // (or restores the checkpoint the batch began with when k == 0).
  Status RecordBefore(const std::vector<Txn>& txns, size_t k, const Checkpoint& before, const Status& why);
  // For every key matching `pattern` (SCAN), the commands `make` adds,
  // run in MULTI/EXEC per SCAN page; the sum of their integer replies.
  Result<uint64_t> WriteMatching(const std::string& pattern, const std::string& what,
                                 const std::function<void(const std::string& key, std::vector<Command>&)>& make);
  // Deletes every key matching `pattern` (SCAN + UNLINK).
  Result<uint64_t> DeleteMatching(const std::string& pattern);
  // Hash mode: the columns a source table gained with a default (a
  // PostgreSQL source's DdlChange::table, a MySQL/MariaDB ALTER's
  // added_columns): set in the table's hashes (HSETNX), which are rows
  // older than the columns. Other modes: a warning.
  Status FillAddedColumns(const DdlChange& ddl, const std::string& where);
  std::string Where(const SinkChange& change, const std::string& key) const;

  SinkOptions options_;
  RedisEndpoint endpoint_;
  CommandBuilder builder_;
  std::string checkpoint_key_;
  // The position last recorded under checkpoint_key_: found behind it after a
  // reconnect, Redis lost writes it had acknowledged (ReadCheckpoint).
  static constexpr int kCheckpointRow = -1;
  CommittedRows committed_;
  bool takeover_checked_ = false;  // TakeOverRenamedTarget ran on a connection
  std::string fence_key_;  // with an epoch: WATCHed by every MULTI/EXEC (redis_fence.h)
  std::string guard_key_;  // fence_key_ with an epoch, else the owner key (redis_owner.h)
  bool connected_once_ = false;                // a takeover on a later connect rewinds the pipeline
  std::unique_ptr<OwnerKeeper> owner_keeper_;  // epoch 0
  std::unique_ptr<RedisConnection> conn_;
};

}  // namespace sluice::sink::redis
