#pragma once
// The settings of every PostgreSQL session that writes rows (the sink's
// partitions and control connection, the snapshot/repair chunk target).
//
// sluice takes PostgreSQL's replica role (session_replication_role =
// replica) where its user may, as PostgreSQL's own logical replication
// apply does: the target's foreign keys and ordinary triggers then do not
// act on its writes. They would otherwise: sluice writes a source
// transaction's rows over parallel connections and grouped by table (a
// child row can come before its parent's), and the rows a source's triggers
// and foreign key actions wrote arrive as rows already. A trigger meant to
// fire for replicated rows is marked `ENABLE ALWAYS TRIGGER`, as for
// PostgreSQL's replication. Without the privilege (PostgreSQL 15: `GRANT
// SET ON PARAMETER session_replication_role TO user`; superusers have it)
// the session goes on without the role.

#include <string>
#include <vector>

#include "client/postgres/connection.h"
#include "core/status.h"

namespace sluice::sink::postgres {

// Sets UTC and tries the replica role: true when taken, false when the
// server refused it for want of the privilege.
Result<bool> PrepareWriteSession(sluice::postgres::PgConnection& c);

// The target's foreign keys and enabled ordinary triggers outside the
// system schemas and `_sluice`, as "foreign key NAME on SCHEMA.TABLE" /
// "trigger NAME on SCHEMA.TABLE" (at most `limit`): what acts on sluice's
// writes when the role was refused.
Result<std::vector<std::string>> ForeignKeysAndTriggers(sluice::postgres::PgConnection& c, int limit = 5);

// What lets sluice take the role: "GRANT SET ON PARAMETER ... TO user".
std::string ReplicaRoleGrant(const std::string& user);

// SQLSTATE foreign_key_violation.
inline constexpr const char* kForeignKeyViolation = "23503";

}  // namespace sluice::sink::postgres
