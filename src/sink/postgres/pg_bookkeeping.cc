#include "sink/postgres/pg_bookkeeping.h"

#include <string>

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

}  // namespace sluice::sink::postgres
