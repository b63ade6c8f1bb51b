#pragma once
// Whether two connections reach the very same MySQL/MariaDB server: a target
// configured as its own source (by mistake, or to copy tables into another
// database of the same server) must be known, since what sluice writes
// there comes back in the source's binlog.

#include "client/mysql/connection.h"
#include "core/status.h"

namespace sluice::mysql {

// True when `a` and `b` are sessions of one server: a named lock `a` takes
// (a random name) is seen taken from `b`. Addresses, ports, host names and
// server ids cannot tell (a proxy, a tunnel, containers that look alike);
// a lock is the server's own state. `a` holds the lock only meanwhile.
Result<bool> SameServer(MysqlConnection& a, MysqlConnection& b);

}  // namespace sluice::mysql
