#pragma once
// One process at a time on a MySQL/MariaDB target (sink/process_owner.h),
// outside cluster mode:
//
//   `_sluice`.`owners` (pipeline, target, token, who, since): the process
//                      applying the pipeline there
//   named lock `sluice/TOKEN`: held by a session of each live process (a
//                      server ends it with the session, also behind a pooling
//                      proxy, where a connection id may outlive its client)
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

#include <optional>
#include <string>

#include "client/mysql/connection.h"
#include "core/status.h"
#include "sink/sink.h"

namespace sluice::sink::mysql {

// Creates `_sluice`.`owners` when missing.
Status EnsureOwnersTable(sluice::mysql::MysqlConnection& c);

// Makes `c`'s session the pipeline's owner on this target, for this
// process. True when another process owned it before (gone now): what that
// one applied is in the checkpoint rows, ahead of what this process knows.
Result<bool> TakeOwnership(sluice::mysql::MysqlConnection& c, const SinkOptions& options);

// A SELECT of the owner's token, in share mode, for a write transaction's
// first round trip ("BEGIN; <this>; ...").
std::string OwnerCheckSql(const SinkOptions& options);

// The token that SELECT read (nullopt: no row): a retryable error unless
// it is this process's.
Status CheckOwner(const std::optional<std::string>& token, const SinkOptions& options);

}  // namespace sluice::sink::mysql
