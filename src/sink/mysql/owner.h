#pragma once
// One process at a time on a MySQL/MariaDB target (sink/process_owner.h),
// outside cluster mode:
//
//   `_sluice`.`owners` (pipeline, target, token, who, since): the process
//                      applying the pipeline there
//   named lock `sluice/TOKEN`: held by a session of each live process (a
//                      server ends it with the session, also behind a pooling
//                      proxy, where a connection id may outlive its client),
//                      kept busy by OwnerLockKeeper while the process lives
//   `_sluice`.`owner_sessions` (token, connection_id, booted): the sessions
//                      an owner writes through, to end when it is taken over
//
// TakeOwnership runs on Open and every reconnect, on the loader's control
// session: a row naming another process whose lock is held makes it a
// retryable error naming that process and session; otherwise the row
// becomes this process's, read FOR UPDATE (so it waits for the write
// transactions a former owner still has open). Every write transaction
// reads the row in share mode first, in BEGIN's round trip (OwnerCheckSql),
// and stops before writing anything when it names another process
// (CheckOwner): a former owner whose session was lost commits nothing after
// its successor took over.
//
// A host that dies (or freezes) without closing its connections leaves its
// sessions, lock included, on the server until TCP keepalive ends them,
// which takes hours. The lock's session is pinged every few seconds while
// the process lives, so one idle for takeover_after (SinkOptions) means
// the process is gone or frozen: TakeOwnership then ends it and the
// sessions the former owner registered (rolling back what they held open)
// and takes over. A frozen owner that wakes finds its sessions gone and
// another owner alive, and waits.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/mysql/connection.h"
#include "core/interrupter.h"
#include "core/status.h"
#include "core/ticker.h"
#include "sink/sink.h"

namespace sluice::sink::mysql {

// Holds this process's named lock on a target through a session of its
// own and keeps that session busy (a trivial statement every `interval`),
// so that its idle time in the server's PROCESSLIST tells a waiting process
// whether this one lives. Threading: a thread of its own pings; Hold() may
// be called from any thread. Lifetime: the lock goes with the keeper (its
// session closes), unless another keeper of this process holds it.
class OwnerLockKeeper {
 public:
  OwnerLockKeeper(sluice::mysql::ConnectOptions connect, std::chrono::milliseconds interval, Interrupter* interrupt);
  OwnerLockKeeper(const OwnerLockKeeper&) = delete;
  OwnerLockKeeper& operator=(const OwnerLockKeeper&) = delete;

  // Makes sure a session of this process holds the lock, connecting when
  // needed; a retryable error when the target cannot be reached.
  Status Hold();

 private:
  const sluice::mysql::ConnectOptions connect_;
  Interrupter* const interrupt_;
  std::mutex mu_;  // guards conn_
  std::unique_ptr<sluice::mysql::MysqlConnection> conn_;
  Ticker pings_;  // last: stops before the rest goes
};

// Creates `_sluice`.`owners` and `_sluice`.`owner_sessions` when missing.
Status EnsureOwnersTable(sluice::mysql::MysqlConnection& c);

// Makes this process the pipeline's owner on this target (its lock held by
// `keeper`'s session, the work done on `c`). True when another process
// owned it before (gone now, or ended here for being idle past
// takeover_after): what that one applied is in the checkpoint rows, ahead
// of what this process knows.
Result<bool> TakeOwnership(sluice::mysql::MysqlConnection& c, OwnerLockKeeper& keeper, const SinkOptions& options);

// Records the sessions this process (the owner) writes through, so that a
// successor can end them (with their open transactions) if this process
// freezes. Forgets this process's sessions the server no longer has.
Status RegisterOwnerSessions(sluice::mysql::MysqlConnection& c,
                             const std::vector<sluice::mysql::MysqlConnection*>& sessions);

// A SELECT of the owner's token, in share mode, for a write transaction's
// first round trip ("BEGIN; <this>; ...").
std::string OwnerCheckSql(const SinkOptions& options);

// The token that SELECT read (nullopt: no row): a retryable error unless
// it is this process's.
Status CheckOwner(const std::optional<std::string>& token, const SinkOptions& options);

}  // namespace sluice::sink::mysql
