#include "sink/postgres/pg_bookkeeping.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "sink/checkpoint_rows.h"

namespace sluice::sink::postgres {
namespace {

// Two sessions creating the same schema or table at once: one wins, the
// other sees a duplicate; the second try finds it there.
Status CreateOnce(sluice::postgres::PgConnection& conn, const std::string& sql) {
  Status st = conn.Execute(sql);
  const std::string& state = conn.last_sqlstate();
  if (!st.ok() && !st.retryable() && (state == "23505" || state == "42P06" || state == "42P07")) {
    st = conn.Execute(sql);
  }
  return st;
}

}  // namespace

Status EnsureCheckpointTable(sluice::postgres::PgConnection& conn) {
  return CreateOnce(conn,
                    "CREATE SCHEMA IF NOT EXISTS _sluice; "
                    "CREATE TABLE IF NOT EXISTS _sluice.checkpoints ("
                    "  pipeline text NOT NULL, target text NOT NULL, part integer NOT NULL,"
                    "  position text NOT NULL, resume_position text NOT NULL, gtid_state text NOT NULL,"
                    // The owner's epoch in cluster mode (fencing): 0 for a single process.
                    "  epoch bigint NOT NULL DEFAULT 0,"
                    "  updated_at timestamptz NOT NULL DEFAULT now(),"
                    "  PRIMARY KEY (pipeline, target, part)); "
                    // Where keyless tables were read by their last copy
                    // (ChunkTarget::RecordKeylessCopy).
                    "CREATE TABLE IF NOT EXISTS _sluice.keyless_copies ("
                    "  pipeline text NOT NULL, target text NOT NULL, tbl text NOT NULL,"
                    "  position text NOT NULL, read_at text NOT NULL,"
                    "  updated_at timestamptz NOT NULL DEFAULT now(),"
                    "  PRIMARY KEY (pipeline, target, tbl))");
}

Status EnsurePendingRetypesTable(sluice::postgres::PgConnection& conn) {
  return CreateOnce(conn,
                    "CREATE SCHEMA IF NOT EXISTS _sluice; "
                    "CREATE TABLE IF NOT EXISTS _sluice.pending_retypes ("
                    "  pipeline text NOT NULL, target text NOT NULL, tbl text NOT NULL,"
                    "  PRIMARY KEY (pipeline, target, tbl))");
}

Status EnsureSnapshotChunksTable(sluice::postgres::PgConnection& conn) {
  return CreateOnce(conn,
                    "CREATE SCHEMA IF NOT EXISTS _sluice; "
                    "CREATE TABLE IF NOT EXISTS _sluice.snapshot_chunks ("
                    "  pipeline text NOT NULL, target text NOT NULL, tbl text NOT NULL, shard text NOT NULL,"
                    "  chunk integer NOT NULL, after_key text NOT NULL, upto_key text NOT NULL,"
                    "  done boolean NOT NULL DEFAULT false, rows_copied bigint NOT NULL DEFAULT 0,"
                    "  PRIMARY KEY (pipeline, target, tbl, shard, chunk))");
}

Result<std::string> TakeOverRenamedTarget(sluice::postgres::PgConnection& conn, const std::string& pipeline,
                                          const std::string& target, const std::vector<std::string>& former) {
  using sluice::postgres::QuoteLiteral;
  if (former.empty()) return std::string();
  auto names = conn.Query(
      fmt::format("SELECT DISTINCT target FROM _sluice.checkpoints WHERE pipeline = {}", QuoteLiteral(pipeline)));
  if (!names.ok()) {
    // Nothing ever written here: no `_sluice` tables.
    if (conn.last_sqlstate() == "42P01" || conn.last_sqlstate() == "3F000") return std::string();
    return names.status();
  }
  std::vector<std::string> present;
  for (const auto& r : *names) present.push_back(r[0].value_or(""));
  ASSIGN_OR_RETURN(const std::string old,
                   RenamedFrom(present, pipeline, target, former,
                               fmt::format("DELETE FROM _sluice.checkpoints WHERE pipeline = {} AND target = 'NAME'",
                                           QuoteLiteral(pipeline))));
  if (old.empty()) return old;
  ASSIGN_OR_RETURN(auto tables, conn.Query("SELECT relname FROM pg_class WHERE relnamespace = "
                                           "to_regnamespace('_sluice') AND relkind = 'r' AND relname IN "
                                           "('snapshot_chunks', 'keyless_copies', 'pending_retypes')"));
  std::vector<std::string> renamed;
  for (const auto& r : tables) renamed.push_back(r[0].value_or(""));
  if (std::find(renamed.begin(), renamed.end(), "snapshot_chunks") != renamed.end()) {
    // A plan of its own (a copy begun under the new name): that copy goes on, nothing is taken over.
    ASSIGN_OR_RETURN(auto plan, conn.Query(fmt::format("SELECT 1 FROM _sluice.snapshot_chunks WHERE pipeline = {} "
                                                       "AND target = {} LIMIT 1",
                                                       QuoteLiteral(pipeline), QuoteLiteral(target))));
    if (!plan.empty()) return std::string();
  }
  // One transaction (statements of one simple query are one); the count says whether it was still there.
  std::string sql = fmt::format(
      "WITH moved AS (UPDATE _sluice.checkpoints SET target = {0} WHERE pipeline = {1} AND target = {2} "
      "RETURNING 1) SELECT count(*) FROM moved",
      QuoteLiteral(target), QuoteLiteral(pipeline), QuoteLiteral(old));
  for (const std::string& table : renamed) {
    sql = fmt::format("UPDATE _sluice.{} SET target = {} WHERE pipeline = {} AND target = {}; ", table,
                      QuoteLiteral(target), QuoteLiteral(pipeline), QuoteLiteral(old)) +
          sql;
  }
  auto moved = conn.Query(sql);
  if (!moved.ok()) {
    return moved.status().WithContext(fmt::format("target {}: taking over the checkpoint of target {}", target, old));
  }
  if (moved->empty() || (*moved)[0][0].value_or("0") == "0") return std::string();  // taken over meanwhile
  LogTakenOver(pipeline, target, old);
  return old;
}

}  // namespace sluice::sink::postgres
