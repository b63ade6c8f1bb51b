#pragma once
// Fencing on a PostgreSQL target (design §10), as on MySQL
// (sink/mysql/fence.h):
//
//   _sluice.fences    (pipeline, epoch): the highest epoch that took over
//   _sluice.sessions  (pipeline, pid, backend_start, epoch): the backends
//                     that write for an epoch, registered on connect
//                     ((pid, backend_start) names one backend for good)
//   _sluice.check_fence(pipeline, epoch): locks the fence row FOR SHARE and
//                     raises SQLSTATE SL001 when it is above the epoch
//
// Every write transaction calls check_fence first, in the same round trip
// as its rows. A new owner terminates the backends of lower epochs
// (pg_terminate_backend, which rolls back what they held open) and raises
// the fence FOR UPDATE, which waits for every transaction that checked it.
// With epoch 0 none of this runs; one process at a time is kept instead
// (sink/process_owner.h, as on MySQL: sink/mysql/owner.h):
//
//   _sluice.owners    (pipeline, target, token, pid, backend_start, who,
//                     since): the process applying the pipeline there
//   _sluice.check_owner(pipeline, target, token): locks that row FOR SHARE
//                     and raises SQLSTATE SL002 unless it names the token
//
// TakeOwnership on open and every reconnect, check_owner first in every
// write transaction (CheckFenceSql gives it when the epoch is 0).

#include <string>

#include "client/postgres/connection.h"
#include "core/status.h"
#include "sink/sink.h"

namespace sluice::sink::postgres {

// Creates the tables and the function above when missing.
Status EnsureFenceTables(sluice::postgres::PgConnection& conn);
// Records the session's backend as one that writes for options.epoch.
Status RegisterSession(sluice::postgres::PgConnection& conn, const SinkOptions& options);
// The new owner's step: terminates the backends of lower epochs, raises the
// fence; kFenced when a higher epoch raised it already. Own session.
Status RaiseFence(const sluice::postgres::ConnectOptions& connect, const SinkOptions& options);
// Creates _sluice.owners and check_owner when missing.
Status EnsureOwnerTables(sluice::postgres::PgConnection& conn);
// Makes `conn`'s backend the pipeline's owner on this target for this
// process: a retryable error naming the other process while its backend
// lives; true when another process owned it before (gone now: what it
// applied is in the checkpoint rows, ahead of what this process knows).
Result<bool> TakeOwnership(sluice::postgres::PgConnection& conn, const SinkOptions& options);
// "SELECT _sluice.check_fence(...)" (or, with epoch 0, check_owner): the
// statement a write transaction starts with (after BEGIN).
std::string CheckFenceSql(const SinkOptions& options);
// `st` from a statement on `conn`: kFenced when check_fence refused it, a
// retryable error when check_owner did.
Status FencedOr(sluice::postgres::PgConnection& conn, const SinkOptions& options, Status st);

}  // namespace sluice::sink::postgres
