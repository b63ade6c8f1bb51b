#pragma once
// One sluice process at a time applies a pipeline to a Redis target outside
// cluster mode (sink/process_owner.h says why: in hash and string modes a
// lagging second process puts older values back over newer ones, in stream
// mode every entry comes twice).
//
//   `_sluice:owner:<pipeline>:<target>`  hash: token, who, host, pid, since
//   client name `sluice-owner:<token>:<pipeline>:<target>`
//
// The owner's connections to the target carry that name, and its keeper
// pings on one of them every OwnerPingInterval, so CLIENT LIST tells a live
// owner (a connection of that name, idle less than takeover_after) from one
// that is gone (no such connection: stopped or killed) or frozen (a host
// gone without closing its connections, a paused process: idle longer).
// Without CLIENT SETNAME for the owner, or CLIENT LIST for the waiting
// process (a restricted ACL user), an owner is known gone only when it ran
// on this host under a pid that runs no longer (a restart after a crash),
// or when its record is deleted by hand. A waiting process takes over from
// a gone or frozen owner: it closes the owner's connections (CLIENT KILL;
// without it, it waits) and records itself, and the former owner,
// reconnecting, finds another alive and waits. Every
// MULTI/EXEC of the sink WATCHes the owner key, which only a takeover or a
// let-go writes, so an EXEC armed before a takeover aborts; one armed in
// the moment between the record and the kill lands before the new owner
// reads the checkpoint, as if the former owner had been killed then.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "core/status.h"
#include "core/ticker.h"
#include "sink/redis/redis_connection.h"
#include "sink/sink.h"

namespace sluice::sink::redis {

std::string OwnerKey(const std::string& pipeline, const std::string& target);

// Names `c` as a connection of this process's ownership of the target:
// false when this user may not name connections.
Result<bool> NameOwnerConnection(RedisConnection& c, const SinkOptions& options);

// This process's named connection, pinged every OwnerPingInterval. The
// last keeper of this process for a target lets go of it when destroyed
// (a clean stop): a waiting process then takes over at once. (A pipeline's
// catch-up stream has a sink, and so a keeper, of its own beside the
// main one.) Thread-safe: its own thread pings, TakeOwnership calls Hold
// from the sink's thread.
class OwnerKeeper {
 public:
  OwnerKeeper(RedisEndpoint endpoint, SinkOptions options);
  ~OwnerKeeper();
  OwnerKeeper(const OwnerKeeper&) = delete;
  OwnerKeeper& operator=(const OwnerKeeper&) = delete;

  // Connects (named) when not connected, and pings.
  Status Hold();

 private:
  const RedisEndpoint endpoint_;
  const SinkOptions options_;
  const std::string users_key_;  // the target's owner key on this server, for the count of keepers
  std::mutex mu_;                // guards conn_
  std::unique_ptr<RedisConnection> conn_;
  Ticker pings_;  // last: stops before the rest goes
};

// Takes the target for this process on `c` (the sink's connection, named
// already when `named`) unless another live process owns it: then a
// retryable error naming it, which the target shows as `retrying`. True
// when it took over from another process: the target went on without this
// one.
Result<bool> TakeOwnership(RedisConnection& c, bool named, OwnerKeeper& keeper, const SinkOptions& options);

// The error for an EXEC that WATCHed the owner key and was aborted: who owns
// the target now (retryable: the process waits for its turn).
Status LostOwnership(RedisConnection& c, const SinkOptions& options);

}  // namespace sluice::sink::redis
