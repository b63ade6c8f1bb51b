#pragma once
// Fencing on a MySQL/MariaDB target (design §10): a former owner of a
// pipeline, paused or cut off, must never commit after its successor
// started, not even a transaction it held open all along.
//
//   `_sluice`.`fences`   (pipeline, epoch): the highest epoch that took over
//   `_sluice`.`sessions` (pipeline, connection_id, epoch, booted): every
//                        session that writes for an epoch, registered when
//                        it connects (`booted` tells sessions of an earlier
//                        server run apart: thread ids restart then)
//
// Every write transaction reads the fence row in share mode first and
// fails with kFenced when it is above its epoch (CheckFence). A new owner
// raises the fence on open (RaiseFence): it locks the row for update, which
// waits for every transaction holding the share lock, so a transaction of
// the former owner either committed before the raise or fails after it.
// A paused former owner may hold such a transaction open forever, so its
// sessions are killed first (KILL CONNECTION), which rolls it back.
// With epoch 0 (single process) none of this runs.

#include <cstdint>
#include <string>

#include "client/mysql/connection.h"
#include "core/status.h"
#include "sink/sink.h"

namespace sluice::sink::mysql {

// The target's errors, classified like applying's: down, read-only, lock
// conflicts are retryable.
Status ClassifyTargetError(sluice::mysql::MysqlConnection& c, const Status& st);

// The server's boot time, in seconds since the epoch by its own clock: a
// session id recorded under another boot time may belong to anyone now.
Result<int64_t> ServerBootedAt(sluice::mysql::MysqlConnection& c);

// Creates `_sluice`.`fences` and `_sluice`.`sessions` when missing.
Status EnsureFenceTables(sluice::mysql::MysqlConnection& c);
// Records `c`'s session as one that writes for options.epoch.
Status RegisterSession(sluice::mysql::MysqlConnection& c, const SinkOptions& options);
// The new owner's step (options.epoch > 0): kills the sessions registered
// with a lower epoch and raises the fence to options.epoch; kFenced when a
// higher epoch raised it already. Uses a session of its own.
Status RaiseFence(const sluice::mysql::ConnectOptions& connect, const SinkOptions& options);
// First in a write transaction on `c`: locks the fence row in share mode;
// kFenced when it is above options.epoch (or gone).
Status CheckFence(sluice::mysql::MysqlConnection& c, const SinkOptions& options);

}  // namespace sluice::sink::mysql
