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
//
// The backend recorded in the row is an OwnerKeeper's, which runs a
// trivial statement every few seconds while the process lives: a recorded
// backend idle for takeover_after (SinkOptions) belongs to a process gone
// or frozen with its connections open (which the server would keep for
// hours). TakeOwnership then terminates it and the backends that process
// registered in _sluice.owner_sessions (token, pid, backend_start), rolling
// back what they held open, and takes over.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/postgres/connection.h"
#include "core/interrupter.h"
#include "core/status.h"
#include "core/ticker.h"
#include "sink/sink.h"

namespace sluice::sink::postgres {

// Creates the tables and the function above when missing.
Status EnsureFenceTables(sluice::postgres::PgConnection& conn);
// Records the session's backend as one that writes for options.epoch.
Status RegisterSession(sluice::postgres::PgConnection& conn, const SinkOptions& options);
// The new owner's step: terminates the backends of lower epochs, raises the
// fence; kFenced when a higher epoch raised it already. Own session.
Status RaiseFence(const sluice::postgres::ConnectOptions& connect, const SinkOptions& options);
// The backend that stands for this process's life in a pipeline's owner
// row: a session of its own, kept busy (a statement every `interval`).
// Threading: a thread of its own pings; Hold() may be called from any
// thread. A new session (the old one lost) is written into the owner row
// when this process owns it.
class OwnerKeeper {
 public:
  OwnerKeeper(sluice::postgres::ConnectOptions connect, std::chrono::milliseconds interval, Interrupter* interrupt,
              SinkOptions options);
  OwnerKeeper(const OwnerKeeper&) = delete;
  OwnerKeeper& operator=(const OwnerKeeper&) = delete;

  struct Backend {
    std::string pid, backend_start;
  };
  // The keeper's backend, connecting when needed (a retryable error when
  // the target cannot be reached).
  Result<Backend> Hold();

 private:
  const sluice::postgres::ConnectOptions connect_;
  Interrupter* const interrupt_;
  const SinkOptions options_;
  std::mutex mu_;  // guards conn_ and backend_
  std::unique_ptr<sluice::postgres::PgConnection> conn_;
  Backend backend_;
  Ticker pings_;  // last: stops before the rest goes
};

// Creates _sluice.owners, _sluice.owner_sessions and check_owner when
// missing.
Status EnsureOwnerTables(sluice::postgres::PgConnection& conn);
// Makes this process the pipeline's owner on this target (the row naming
// `keeper`'s backend; the work done on `conn`): a retryable error naming
// the other process while its backend lives and is not idle past
// takeover_after; true when another process owned it before (gone now, or
// ended here: what it applied is in the checkpoint rows, ahead of what this
// process knows).
Result<bool> TakeOwnership(sluice::postgres::PgConnection& conn, OwnerKeeper& keeper, const SinkOptions& options);
// Records the backends this process (the owner) writes through, so that a
// successor can end them if this process freezes; forgets its backends
// that are gone.
Status RegisterOwnerSessions(sluice::postgres::PgConnection& conn, const std::vector<int>& pids);
// "SELECT _sluice.check_fence(...)" (or, with epoch 0, check_owner): the
// statement a write transaction starts with (after BEGIN).
std::string CheckFenceSql(const SinkOptions& options);
// `st` from a statement on `conn`: kFenced when check_fence refused it, a
// retryable error when check_owner did.
Status FencedOr(sluice::postgres::PgConnection& conn, const SinkOptions& options, Status st);

}  // namespace sluice::sink::postgres
