#include "source/postgres/pg_slot.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <set>
#include <utility>

#include "source/postgres/pgoutput_decoder.h"

namespace sluice::postgres {
namespace {

std::string QualifiedName(const std::string& schema, const std::string& table) {
  return QuoteIdent(schema) + "." + QuoteIdent(table);
}

}  // namespace

Status EnsurePublication(PgConnection& c, const std::string& name, const std::vector<std::string>& patterns,
                         const std::string& describe) {
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
    std::string sql = "CREATE PUBLICATION " + QuoteIdent(name) + " FOR TABLE ";
    for (size_t i = 0; i < matched.size(); ++i) {
      if (i) sql += ", ";
      sql += QualifiedName(matched[i].first, matched[i].second);
    }
    Status st = c.Execute(sql);
    if (!st.ok()) {
      return st.WithContext(fmt::format("{}: create publication \"{}\"", describe, name))
          .WithSuffix("(the user must own the tables, or create the publication beforehand and name it with "
                      "publication=)");
    }
    spdlog::info("{}: created publication \"{}\" for {} tables", describe, name, matched.size());
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
  for (const auto& t : matched) {
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
