#pragma once
// Where a MariaDB GTID position lies in a server's binlog: the FILE:OFFSET
// right after the transactions it names, in this server's own coordinates.
// A GTID start (the config's `start:`, the position API) is turned into one
// so that it is recorded in the targets' checkpoints like any file position;
// and after a source failover (a replica promoted, whose binlog holds the
// same GTIDs at other offsets) the GTID the targets applied names the place
// to go on from on the new server.

#include <optional>

#include "client/mysql/connection.h"
#include "core/position.h"
#include "core/status.h"

namespace sluice::mysql {

// Scans the server's binlog files, newest first, for the one that begins at
// or before `gtids` (its GTID_LIST), then that file for the end of the last
// transaction `gtids` names. NotFound when the binlog does not hold it (purged,
// or never this server's) or passes over it (a GTID the server does not have).
// `interrupt` (may be null) cuts its connections (an owner stopping).
Result<BinlogFilePos> FindMariadbGtidPosition(const ConnectOptions& connect, const MariadbGtidList& gtids,
                                              Interrupter* interrupt = nullptr);

// Whether the server's binlog at `pos` is at `gtids` (BINLOG_GTID_POS):
// false when it is elsewhere or the file is not this server's.
Result<bool> BinlogPositionIsAt(MysqlConnection& conn, const BinlogFilePos& pos, const MariadbGtidList& gtids);

// The server's GTID state at `pos` (BINLOG_GTID_POS: every domain, as of the
// transactions before it); nullopt when its binlog has no event boundary
// there (no such file, past its end, inside an event).
Result<std::optional<MariadbGtidList>> BinlogGtidStateAt(MysqlConnection& conn, const BinlogFilePos& pos);

// Whether a position's GTID state on the server (`server`) is the state a
// checkpoint recorded there (`recorded`): every domain the checkpoint names
// at the same GTID (a checkpoint may lack domains it saw no transaction of).
bool GtidStateAgrees(const MariadbGtidList& server, const MariadbGtidList& recorded);

}  // namespace sluice::mysql
