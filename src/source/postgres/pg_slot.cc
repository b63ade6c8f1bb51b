#include "source/postgres/pg_slot.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <utility>

#include "source/postgres/pgoutput_decoder.h"

namespace sluice::postgres {
namespace {

std::string QualifiedName(const std::string& schema, const std::string& table) {
  return QuoteIdent(schema) + "." + QuoteIdent(table);
}

}  // namespace

namespace {

// The schemas of `patterns` when each is "schema.*" with a literal schema;
// empty otherwise.
std::vector<std::string> WholeSchemas(const std::vector<std::string>& patterns) {
  std::vector<std::string> schemas;
  for (const std::string& p : patterns) {
    if (p.size() < 3 || p.compare(p.size() - 2, 2, ".*") != 0) return {};
    std::string schema = p.substr(0, p.size() - 2);
    if (schema.find_first_of("*?[]\\.") != std::string::npos) return {};
    if (std::find(schemas.begin(), schemas.end(), schema) == schemas.end()) schemas.push_back(schema);
  }
  return schemas;
}

// Refuses to publish tables that a publication of updates and deletes
// would break on the source: no primary key and REPLICA IDENTITY DEFAULT, or
// NOTHING. PostgreSQL then fails every UPDATE and DELETE of the table ("cannot
// update table ... because it does not have a replica identity and publishes
// updates"): the application's writes, not sluice's.
Status RefuseTablesWithoutReplicaIdentity(PgConnection& c, const std::set<std::pair<std::string, std::string>>& tables,
                                          const std::string& publication, const std::string& describe) {
  if (tables.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(auto rows, c.Query("SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN "
                                      "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', "
                                      "'p') AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS "
                                      "(SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND "
                                      "i.indisprimary))) ORDER BY 1, 2"));
  std::vector<std::string> keyless, statements;
  for (const auto& r : rows) {
    if (!r[0] || !r[1] || !tables.count({*r[0], *r[1]})) continue;
    keyless.push_back(QualifiedName(*r[0], *r[1]));
    statements.push_back("ALTER TABLE " + keyless.back() + " REPLICA IDENTITY FULL;");
  }
  if (keyless.empty()) return Status::Ok();
  std::string list, fix;
  for (size_t i = 0; i < keyless.size(); ++i) {
    list += (i ? ", " : "") + keyless[i];
    fix += (i ? " " : "") + statements[i];
  }
  return Status::Invalid(
      "{}: {} {} {} no primary key and no replica identity: in publication \"{}\", every UPDATE and DELETE of {} "
      "would fail on the source (\"cannot update table ... because it does not have a replica identity\"). Give "
      "{} a primary key, or run {} (updates and deletes then log the whole old row, which sluice matches rows by), "
      "or leave {} out of the pipeline's tables",
      describe, keyless.size() == 1 ? "table" : "tables", list, keyless.size() == 1 ? "has" : "have", publication,
      keyless.size() == 1 ? "it" : "them", keyless.size() == 1 ? "it" : "each", fix,
      keyless.size() == 1 ? "it" : "them");
}

}  // namespace

Status EnsurePublication(PgConnection& c, const std::string& name, const std::vector<std::string>& patterns,
                         const std::string& describe, const std::vector<std::string>& rule_patterns, bool ours,
                         std::vector<std::string>* added) {
  ASSIGN_OR_RETURN(auto tables, c.Query("SELECT schemaname, tablename FROM pg_catalog.pg_tables WHERE "
                                        "schemaname NOT IN ('pg_catalog', 'information_schema') "
                                        "ORDER BY 1, 2"));
  std::vector<std::pair<std::string, std::string>> matched;
  for (const auto& r : tables) {
    if (r[0] && r[1] && MatchesTables(patterns, *r[0], *r[1])) matched.emplace_back(*r[0], *r[1]);
  }
  ASSIGN_OR_RETURN(auto pubs, c.Query("SELECT puballtables FROM pg_catalog.pg_publication WHERE pubname = " +
                                      QuoteLiteral(name)));
  if (pubs.empty()) {
    if (matched.empty()) {
      std::string list;
      for (const auto& p : patterns) list += (list.empty() ? "" : ", ") + p;
      return Status::Invalid("{}: no table matches {} to publish (publication \"{}\" does not exist yet)", describe,
                             list.empty() ? std::string("(all tables)") : list, name);
    }
    std::set<std::pair<std::string, std::string>> to_publish(matched.begin(), matched.end());
    std::vector<std::string> schemas = WholeSchemas(rule_patterns);
    for (const auto& r : tables) {
      // FOR TABLES IN SCHEMA publishes every table there.
      if (r[0] && r[1] && std::find(schemas.begin(), schemas.end(), *r[0]) != schemas.end()) {
        to_publish.emplace(*r[0], *r[1]);
      }
    }
    RETURN_IF_ERROR(RefuseTablesWithoutReplicaIdentity(c, to_publish, name, describe));
    std::string sql = "CREATE PUBLICATION " + QuoteIdent(name) + " FOR TABLE ";
    for (size_t i = 0; i < matched.size(); ++i) {
      if (i) sql += ", ";
      sql += QualifiedName(matched[i].first, matched[i].second);
    }
    Status st = Status::Error(StatusCode::kNotSupported, "not tried");
    if (!schemas.empty() && c.server_version() >= 150000) {
      // Only a superuser may (PostgreSQL 15-16): others get FOR TABLE.
      std::string by_schema = "CREATE PUBLICATION " + QuoteIdent(name) + " FOR TABLES IN SCHEMA ";
      for (size_t i = 0; i < schemas.size(); ++i) by_schema += (i ? ", " : "") + QuoteIdent(schemas[i]);
      st = c.Execute(by_schema);
      if (st.ok()) {
        sql = by_schema;
      } else if (c.last_sqlstate() != "42501") {
        return st.WithContext(fmt::format("{}: create publication \"{}\"", describe, name));
      } else {
        spdlog::info("{}: publication \"{}\" FOR TABLES IN SCHEMA needs a superuser; FOR TABLE the tables there "
                     "now (tables created later are not published until added)",
                     describe, name);
      }
    }
    if (!st.ok()) st = c.Execute(sql);
    if (!st.ok()) {
      return st.WithContext(fmt::format("{}: create publication \"{}\"", describe, name))
          .WithSuffix("(the user must own the tables, or create the publication beforehand and name it with "
                      "publication=)");
    }
    spdlog::info("{}: created publication \"{}\": {}", describe, name, sql.substr(sql.find(" FOR ") + 1));
    return Status::Ok();
  }
  if (pubs[0][0] && *pubs[0][0] == "t") return Status::Ok();  // FOR ALL TABLES
  if (patterns.empty()) return Status::Ok();                   // the publication decides
  ASSIGN_OR_RETURN(auto published, c.Query("SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables "
                                           "WHERE pubname = " + QuoteLiteral(name)));
  std::set<std::pair<std::string, std::string>> in;
  for (const auto& r : published) {
    if (r[0] && r[1]) in.emplace(*r[0], *r[1]);
  }
  if (ours) {
    std::set<std::pair<std::string, std::string>> to_add;
    for (const auto& t : matched) {
      if (!in.count(t)) to_add.insert(t);
    }
    RETURN_IF_ERROR(RefuseTablesWithoutReplicaIdentity(c, to_add, name, describe));
  }
  for (const auto& t : matched) {
    if (!in.count(t) && ours) {
      Status st = c.Execute("ALTER PUBLICATION " + QuoteIdent(name) + " ADD TABLE " + QualifiedName(t.first, t.second));
      if (!st.ok()) return st.WithContext(fmt::format("{}: add table {} to publication \"{}\"", describe,
                                                      QualifiedName(t.first, t.second), name));
      if (added != nullptr) {
        added->push_back(t.first + "." + t.second);
        continue;
      }
      spdlog::warn("{}: table {} added to publication \"{}\": rows written to it before now were not streamed; copy "
                   "them with `sluice snapshot` (safe to repeat)",
                   describe, QualifiedName(t.first, t.second), name);
      continue;
    }
    if (!in.count(t)) {
      return Status::Invalid("{}: table {} matches the tables to read but is not in publication \"{}\": run ALTER "
                             "PUBLICATION {} ADD TABLE {} (or narrow the table patterns)",
                             describe, QualifiedName(t.first, t.second), name, QuoteIdent(name),
                             QualifiedName(t.first, t.second));
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<ExportedSlot>> ExportedSlot::Create(ConnectOptions options, const std::string& slot) {
  std::unique_ptr<ExportedSlot> s(new ExportedSlot());
  options.replication = "database";
  ASSIGN_OR_RETURN(s->conn_, ReplicationStream::Connect(options));
  auto rows = s->conn_->sql().Query("CREATE_REPLICATION_SLOT " + QuoteIdent(slot) +
                                    " LOGICAL pgoutput (SNAPSHOT 'export')");
  if (!rows.ok()) {
    return rows.status().WithContext(fmt::format("create replication slot \"{}\"", slot))
        .WithSuffix("(the user needs the REPLICATION attribute, and the server wal_level=logical)");
  }
  // slot_name, consistent_point, snapshot_name, output_plugin
  if (rows->empty() || rows->at(0).size() < 3 || !(*rows)[0][1] || !(*rows)[0][2]) {
    return Status::Invalid("create replication slot \"{}\": the server exported no snapshot", slot);
  }
  ASSIGN_OR_RETURN(s->consistent_point_, Lsn::Parse(*(*rows)[0][1]));
  s->snapshot_name_ = *(*rows)[0][2];
  spdlog::info("postgres {}: created replication slot \"{}\" at {} with snapshot {}", options.Describe(), slot,
               s->consistent_point_.ToString(), s->snapshot_name_);
  return s;
}

ExportedSlot::~ExportedSlot() = default;

}  // namespace sluice::postgres
