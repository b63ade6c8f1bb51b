#pragma once
// Fencing on a Redis target (design §10). Redis has no transaction a paused
// owner could hold open, but a pipeline of MULTI/EXECs in flight:
//
//   `_sluice:fence:<pipeline>`  the highest epoch that took over (a string)
//   client names               every connection writing for an epoch is
//                              named `sluice-fence:e<epoch>:<pipeline>`
//
// A connection checks the fence once, after naming itself, before it
// writes (JoinFence). A new owner raises the fence (WATCH/MULTI, never
// lowering it) and then kills the connections named with a lower epoch
// (RaiseFence): one connected before the kill is killed, with whatever it
// had queued; one connected after it finds the fence raised. Every
// MULTI/EXEC also WATCHes the fence key, so an EXEC armed before the raise
// aborts (FencedExec tells why).

#include <string>

#include "core/status.h"
#include "sink/redis/redis_connection.h"
#include "sink/sink.h"

namespace sluice::sink::redis {

std::string FenceKey(const std::string& pipeline);
// Names the connection for options.epoch and checks the fence: kFenced when
// a higher epoch raised it.
Status JoinFence(RedisConnection& conn, const SinkOptions& options);
// The new owner's step, after JoinFence on `conn`.
Status RaiseFence(RedisConnection& conn, const SinkOptions& options);
// The error for an EXEC that watched the fence key and was aborted.
Status FencedExec(RedisConnection& conn, const SinkOptions& options);

}  // namespace sluice::sink::redis
