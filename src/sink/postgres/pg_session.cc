#include "sink/postgres/pg_session.h"

#include <fmt/format.h>

namespace sluice::sink::postgres {

using sluice::postgres::PgConnection;
using sluice::postgres::QuoteIdent;

Result<bool> PrepareWriteSession(PgConnection& c) {
  RETURN_IF_ERROR(c.Execute("SET TIME ZONE 'UTC'"));
  Status role = c.Execute("SET session_replication_role = replica");
  if (role.ok()) return true;
  if (c.last_sqlstate() == "42501") return false;  // insufficient_privilege
  return role;
}

Result<std::vector<std::string>> ForeignKeysAndTriggers(PgConnection& c, int limit) {
  constexpr const char* kOwnSchemas = "('pg_catalog', 'information_schema', 'pg_toast', '_sluice')";
  ASSIGN_OR_RETURN(auto rows,
                   c.Query(fmt::format(
                       "(SELECT 'foreign key ' || quote_ident(k.conname) || ' on ' || quote_ident(n.nspname) || '.' || "
                       "quote_ident(t.relname) FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN "
                       "pg_namespace n ON n.oid = t.relnamespace WHERE k.contype = 'f' AND n.nspname NOT IN {0} "
                       "ORDER BY 1 LIMIT {1}) UNION ALL "
                       "(SELECT 'trigger ' || quote_ident(g.tgname) || ' on ' || quote_ident(n.nspname) || '.' || "
                       "quote_ident(t.relname) FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid JOIN "
                       "pg_namespace n ON n.oid = t.relnamespace WHERE NOT g.tgisinternal AND g.tgenabled <> 'D' AND "
                       "n.nspname NOT IN {0} ORDER BY 1 LIMIT {1})",
                       kOwnSchemas, limit)));
  std::vector<std::string> found;
  for (const auto& row : rows) {
    if (static_cast<int>(found.size()) < limit && !row.empty() && row[0]) found.push_back(*row[0]);
  }
  return found;
}

std::string ReplicaRoleGrant(const std::string& user) {
  return fmt::format("GRANT SET ON PARAMETER session_replication_role TO {}", QuoteIdent(user));
}

}  // namespace sluice::sink::postgres
