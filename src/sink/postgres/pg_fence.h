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
// With epoch 0 none of this runs.

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
// "SELECT _sluice.check_fence(...)": the statement a write transaction
// starts with (after BEGIN).
std::string CheckFenceSql(const SinkOptions& options);
// `st` from a statement on `conn`: kFenced when check_fence refused it.
Status FencedOr(sluice::postgres::PgConnection& conn, const SinkOptions& options, Status st);

}  // namespace sluice::sink::postgres
